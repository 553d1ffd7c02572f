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
use crate::tools::sessions::unfinished_note;

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

/// A stored conversation opened to continue it ([`Conversation::resume`]).
#[derive(Debug)]
pub struct Resumed {
    /// The file, appended to from here on.
    pub conversation: Conversation,
    /// Its messages.
    pub messages: Vec<Message>,
    /// The last line of the file, cut short and dropped from it: the agent
    /// was killed (or the disk filled) as it wrote it.
    pub torn: Option<TornLine>,
}

/// A last line of a conversation file cut short, dropped on resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornLine {
    /// Its 1-based line number.
    pub line: usize,
    /// The file's offset of its first byte (the file's length once dropped).
    pub at: u64,
    /// Its length in bytes.
    pub bytes: usize,
}

impl std::fmt::Display for TornLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "its last line (line {}, {} bytes) was cut short as it was written (the agent \
             killed, or the disk full) and is dropped; the conversation goes on from the \
             line before",
            self.line, self.bytes
        )
    }
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

    /// Open a stored conversation to continue it. Tool calls it ends with
    /// that never got their results are answered as interrupted (in the
    /// file too). A last line cut short (the agent killed as it wrote it)
    /// is dropped from the file and said in [`Resumed::torn`]; a line
    /// that cannot be read before it is an error.
    pub fn resume(data_dir: &Path, id: &str) -> Result<Resumed, StoreError> {
        if !valid_id(id) {
            return Err(StoreError::Unknown(id.to_string()));
        }
        let path = dir(data_dir).join(format!("{id}.jsonl"));
        if !path.is_file() {
            return Err(StoreError::Unknown(id.to_string()));
        }
        let stored = read(&path)?;
        let mut messages: Vec<Message> = stored
            .lines
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
        // What follows starts on a line of its own.
        match &stored.end {
            End::Whole => {}
            End::Unterminated => (&file).write_all(b"\n").map_err(io_err(&path))?,
            End::Torn(torn) => file.set_len(torn.at).map_err(io_err(&path))?,
        }
        let mut conversation = Conversation {
            id: id.to_string(),
            path,
            file,
        };
        if let Some(results) = unanswered(&messages) {
            conversation.append(&results)?;
            messages.push(results);
        }
        Ok(Resumed {
            conversation,
            messages,
            torn: match stored.end {
                End::Torn(torn) => Some(torn),
                _ => None,
            },
        })
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
                        &format!(
                            "interrupted: hm-agent stopped before this call finished; any \
                             session it was working on may still be running{}",
                            unfinished_note(&c.name)
                        ),
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

/// The lines of a conversation file, and how it ends.
struct Stored {
    lines: Vec<Line>,
    end: End,
}

/// How a conversation file ends.
enum End {
    /// With a whole line and its line break.
    Whole,
    /// With a whole line without its line break.
    Unterminated,
    /// With a line cut short (no line break, and not a whole line).
    Torn(TornLine),
}

fn read(path: &Path) -> Result<Stored, StoreError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = BufReader::new(file);
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    // The line's number, and the offset of its first byte.
    let (mut n, mut at) = (0, 0);
    loop {
        buf.clear();
        let len = reader.read_until(b'\n', &mut buf).map_err(io_err(path))?;
        if len == 0 {
            return Ok(Stored {
                lines,
                end: End::Whole,
            });
        }
        n += 1;
        let terminated = buf.ends_with(b"\n");
        if !buf.trim_ascii().is_empty() {
            match serde_json::from_slice(&buf) {
                Ok(line) => lines.push(line),
                Err(_) if !terminated => {
                    let torn = TornLine {
                        line: n,
                        at,
                        bytes: len,
                    };
                    return Ok(Stored {
                        lines,
                        end: End::Torn(torn),
                    });
                }
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        line: n,
                        message: e.to_string(),
                    })
                }
            }
        }
        if !terminated {
            return Ok(Stored {
                lines,
                end: End::Unterminated,
            });
        }
        at += len as u64;
    }
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
        let Ok(Stored { lines, .. }) = read(&path) else {
            continue;
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Message {
        Message::User {
            content: text.into(),
        }
    }

    /// A last line written whole but for its line break is kept, and what
    /// is appended next starts on a line of its own.
    #[test]
    fn a_whole_last_line_without_its_line_break_is_kept() {
        let data = tempfile::tempdir().unwrap();
        let mut conv = Conversation::create(data.path(), "openai", "m").unwrap();
        conv.append(&user("first")).unwrap();
        let id = conv.id().to_string();
        let path = conv.path.clone();
        drop(conv);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.trim_end_matches('\n')).unwrap();

        let resumed = Conversation::resume(data.path(), &id).unwrap();
        assert_eq!(resumed.torn, None);
        assert_eq!(resumed.messages.len(), 1);
        let mut conv = resumed.conversation;
        conv.append(&user("second")).unwrap();
        let resumed = Conversation::resume(data.path(), &id).unwrap();
        let said: Vec<_> = resumed
            .messages
            .iter()
            .map(|m| match m {
                Message::User { content } => content.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(said, ["first", "second"]);
    }
}
