//! Conversations persisted as JSONL under the data dir, one file per
//! conversation (`conversations/<id>.jsonl`): a `meta` line, then one line
//! per message. Resumable by id, listable.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::conversation::{Message, ToolCall, ToolResult};
use crate::scrub::{scrub, scrub_json};

/// One line of a conversation file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Meta {
        id: String,
        created: String,
        provider: String,
        model: String,
    },
    Message {
        message: Message,
    },
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// No conversation has this id (or the id is not a valid one).
    #[error("no conversation {0:?} (hm-agent list shows them)")]
    Unknown(String),
    /// A line of the file is not valid.
    #[error("{path} line {line}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        message: String,
    },
}

/// A summary of a stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The id (for `--resume`).
    pub id: String,
    /// When it was started (RFC 3339).
    pub created: String,
    /// The model it talked to.
    pub model: String,
    /// Messages stored.
    pub messages: usize,
    /// The start of the first user message.
    pub first_prompt: String,
}

/// An open conversation file, appended to as the conversation goes on.
#[derive(Debug)]
pub struct Conversation {
    id: String,
    path: PathBuf,
    file: File,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("conversations")
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Conversation {
    /// Start a new conversation file.
    pub fn create(
        data_dir: &Path,
        provider: &str,
        model: &str,
    ) -> Result<Conversation, StoreError> {
        let d = dir(data_dir);
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
        let created = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let stamp: String = created.chars().filter(char::is_ascii_digit).collect();
        let id = format!("{stamp}-{:04x}", fastrand::u16(..));
        let path = d.join(format!("{id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut conv = Conversation { id, path, file };
        conv.write(&Line::Meta {
            id: conv.id.clone(),
            created,
            provider: provider.to_string(),
            model: model.to_string(),
        })?;
        Ok(conv)
    }

    /// Open a stored conversation to continue it; returns its messages.
    /// Tool calls it ends with that never got their results are answered
    /// as interrupted (in the file too).
    pub fn resume(data_dir: &Path, id: &str) -> Result<(Conversation, Vec<Message>), StoreError> {
        if !valid_id(id) {
            return Err(StoreError::Unknown(id.to_string()));
        }
        let path = dir(data_dir).join(format!("{id}.jsonl"));
        if !path.is_file() {
            return Err(StoreError::Unknown(id.to_string()));
        }
        let mut messages: Vec<Message> = read(&path)?
            .into_iter()
            .filter_map(|l| match l {
                Line::Message { message } => Some(message),
                Line::Meta { .. } => None,
            })
            .collect();
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut conv = Conversation {
            id: id.to_string(),
            path,
            file,
        };
        if let Some(results) = unanswered(&messages) {
            conv.append(&results)?;
            messages.push(results);
        }
        Ok((conv, messages))
    }

    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Append one message, scrubbed of secrets (the file is a log: what
    /// the user typed, the model wrote and the tools answered never lands
    /// on disk with a key in it).
    pub fn append(&mut self, message: &Message) -> Result<(), StoreError> {
        self.write(&Line::Message {
            message: scrubbed(message),
        })
    }

    fn write(&mut self, line: &Line) -> Result<(), StoreError> {
        let mut text = serde_json::to_string(line).map_err(|e| StoreError::Io {
            path: self.path.clone(),
            source: io::Error::other(e),
        })?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(io_err(&self.path))
    }
}

/// The results of the tool calls a stored conversation ends with, which
/// never got theirs (the agent was stopped while they ran: SIGKILL, a
/// crash): answered as interrupted, since providers refuse tool calls
/// without results.
fn unanswered(messages: &[Message]) -> Option<Message> {
    match messages.last()? {
        Message::Assistant { tool_calls, .. } if !tool_calls.is_empty() => Some(Message::Tool {
            results: tool_calls
                .iter()
                .map(|c| {
                    ToolResult::unfinished(
                        c,
                        "interrupted: hm-agent stopped before this call finished; any session \
                         it was working on may still be running",
                    )
                })
                .collect(),
        }),
        _ => None,
    }
}

/// A copy of `message` with secrets scrubbed from its text and tool
/// arguments (signatures are opaque tokens the provider needs verbatim).
fn scrubbed(message: &Message) -> Message {
    match message {
        Message::User { content } => Message::User {
            content: scrub(content).into_owned(),
        },
        Message::Assistant {
            content,
            tool_calls,
            signature,
        } => Message::Assistant {
            content: scrub(content).into_owned(),
            tool_calls: tool_calls
                .iter()
                .map(|c| ToolCall {
                    arguments: scrub_json(&c.arguments),
                    ..c.clone()
                })
                .collect(),
            signature: signature.clone(),
        },
        Message::Tool { results } => Message::Tool {
            results: results
                .iter()
                .map(|r| ToolResult {
                    content: scrub(&r.content).into_owned(),
                    ..r.clone()
                })
                .collect(),
        },
    }
}

fn read(path: &Path) -> Result<Vec<Line>, StoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut lines = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        if line.trim().is_empty() {
            continue;
        }
        lines.push(
            serde_json::from_str(&line).map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                line: n + 1,
                message: e.to_string(),
            })?,
        );
    }
    Ok(lines)
}

/// The stored conversations, oldest first.
pub fn list(data_dir: &Path) -> Result<Vec<Summary>, StoreError> {
    let d = dir(data_dir);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&d)(e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let Ok(lines) = read(&path) else { continue };
        let mut summary = Summary {
            id: String::new(),
            created: String::new(),
            model: String::new(),
            messages: 0,
            first_prompt: String::new(),
        };
        for line in lines {
            match line {
                Line::Meta {
                    id, created, model, ..
                } => {
                    summary.id = id;
                    summary.created = created;
                    summary.model = model;
                }
                Line::Message { message } => {
                    summary.messages += 1;
                    if let (Message::User { content }, true) =
                        (&message, summary.first_prompt.is_empty())
                    {
                        summary.first_prompt = content.chars().take(60).collect();
                    }
                }
            }
        }
        if !summary.id.is_empty() {
            out.push(summary);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
