//! `read_file`, `write_file` and `list_dir`, confined to a work directory:
//! every path is resolved (`..` and symbolic links included) and refused if
//! it leads outside.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};

use super::{opt_str_arg, opt_u64_arg, str_arg, ToolOutput, ToolSet};
use crate::conversation::ToolSpec;

/// Bytes of a file read at most: a larger file's first and last halves of
/// it (the model sees a truncated view anyway).
const MAX_READ_BYTES: u64 = 4 << 20;

/// The file tools over one work directory.
#[derive(Debug, Clone)]
pub struct FileTools {
    root: PathBuf,
}

impl FileTools {
    /// File tools confined to `work_dir` (which must exist).
    pub fn new(work_dir: &Path) -> io::Result<FileTools> {
        Ok(FileTools {
            root: work_dir.canonicalize()?,
        })
    }

    /// The (canonical) work directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolve `path` (relative to the work dir, or absolute inside it) to
    /// a path inside the work dir, or say why not.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        let given = Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        let mut norm = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    norm.pop();
                }
                Component::CurDir => {}
                other => norm.push(other),
            }
        }
        let outside = || {
            format!(
                "{path:?} is outside the work directory {}",
                self.root.display()
            )
        };
        if !norm.starts_with(&self.root) {
            return Err(outside());
        }
        // Resolve the longest existing prefix through any symbolic links;
        // the rest does not exist yet, so it holds no links.
        let mut existing = norm.as_path();
        let mut rest = Vec::new();
        while existing.symlink_metadata().is_err() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return Err(outside()),
            }
        }
        let real = existing
            .canonicalize()
            .map_err(|e| format!("{path:?}: {e} (a dangling symbolic link?)"))?;
        if !real.starts_with(&self.root) {
            return Err(format!(
                "{path:?} leads outside the work directory {} through a symbolic link",
                self.root.display()
            ));
        }
        Ok(rest.into_iter().rev().fold(real, |p, name| p.join(name)))
    }

    async fn read_file(&self, args: &Value) -> Result<ToolOutput, String> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = str_arg(args, "path")?;
        let real = self.resolve(path)?;
        let failed = |e: io::Error| format!("{path}: {e}");
        let meta = tokio::fs::metadata(&real).await.map_err(failed)?;
        regular(&meta, path)?;
        let mut file = tokio::fs::File::open(&real).await.map_err(failed)?;
        let start = opt_u64_arg(args, "start_line")?;
        let most = opt_u64_arg(args, "max_lines")?;
        if start == Some(0) {
            return Err("`start_line` counts from 1".into());
        }
        if start.is_some() || most.is_some() {
            let lines = Lines {
                start: start.unwrap_or(1),
                most: most.unwrap_or(u64::MAX),
            };
            return lines.read(file, path).await.map_err(failed);
        }
        let size = meta.len();
        if size <= MAX_READ_BYTES {
            let mut bytes = Vec::new();
            file.take(MAX_READ_BYTES)
                .read_to_end(&mut bytes)
                .await
                .map_err(failed)?;
            return Ok(ToolOutput::untrusted(
                format!("file {path}"),
                String::from_utf8_lossy(&bytes),
            ));
        }
        // Too large to read whole: its head and its tail, as long output
        // is shown, the tail being the file's own.
        let half = MAX_READ_BYTES / 2;
        let mut head = Vec::new();
        (&mut file)
            .take(half)
            .read_to_end(&mut head)
            .await
            .map_err(failed)?;
        file.seek(io::SeekFrom::Start(size - half))
            .await
            .map_err(failed)?;
        let mut tail = Vec::new();
        file.take(half)
            .read_to_end(&mut tail)
            .await
            .map_err(failed)?;
        Ok(ToolOutput::untrusted(
            format!(
                "file {path}, {size} bytes: its first and last {half} bytes; bytes {half}..{} \
                 not read",
                size - half
            ),
            format!(
                "{}\n[… bytes {half}..{} not read …]\n{}",
                String::from_utf8_lossy(&head),
                size - half,
                String::from_utf8_lossy(&tail)
            ),
        ))
    }
}

/// The lines of a file `read_file` reads when given a range.
struct Lines {
    /// The first, counted from 1.
    start: u64,
    /// How many at most.
    most: u64,
}

impl Lines {
    /// Read them from `file` (named `path`), and count all its lines: the
    /// result says which lines it holds of how many, and where to read on.
    /// No more than [`MAX_READ_BYTES`] of them are kept.
    async fn read(&self, file: tokio::fs::File, path: &str) -> io::Result<ToolOutput> {
        use tokio::io::AsyncBufReadExt;
        let mut reader = tokio::io::BufReader::new(file);
        let (mut text, mut line, mut total, mut last) = (Vec::new(), Vec::new(), 0u64, 0u64);
        // Set once a line does not fit: the lines kept run unbroken.
        let mut full = false;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).await? == 0 {
                break;
            }
            total += 1;
            let wanted = total >= self.start && total - self.start < self.most;
            full |= wanted && text.len() + line.len() > MAX_READ_BYTES as usize;
            if wanted && !full {
                text.extend_from_slice(&line);
                last = total;
            }
        }
        if last == 0 {
            return Ok(ToolOutput::ok(format!(
                "file {path} has {total} lines: none from line {}",
                self.start
            )));
        }
        let mut source = format!("file {path}, lines {}..={last} of {total}", self.start);
        if last < total {
            source.push_str(&format!("; read on from line {}", last + 1));
        }
        Ok(ToolOutput::untrusted(
            source,
            String::from_utf8_lossy(&text),
        ))
    }
}

impl FileTools {
    async fn write_file(&self, args: &Value) -> Result<ToolOutput, String> {
        let path = str_arg(args, "path")?;
        let content = str_arg(args, "content")?;
        let real = self.resolve(path)?;
        match tokio::fs::metadata(&real).await {
            Ok(meta) => regular(&meta, path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{path}: {e}")),
        }
        if let Some(parent) = real.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("{path}: {e}"))?;
        }
        tokio::fs::write(&real, content)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        Ok(ToolOutput::ok(format!(
            "wrote {} bytes to {path}",
            content.len()
        )))
    }

    async fn list_dir(&self, args: &Value) -> Result<ToolOutput, String> {
        let path = opt_str_arg(args, "path")?.unwrap_or(".");
        let real = self.resolve(path)?;
        let mut dir = tokio::fs::read_dir(&real)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(|e| format!("{path}: {e}"))? {
            let mut name = entry.file_name().to_string_lossy().into_owned();
            match entry.file_type().await {
                Ok(t) if t.is_dir() => name.push('/'),
                Ok(t) if t.is_symlink() => name.push('@'),
                _ => {}
            }
            entries.push(name);
        }
        entries.sort();
        Ok(ToolOutput::untrusted(
            format!("directory listing of {path}"),
            entries.join("\n"),
        ))
    }
}

/// Refuse what is not a regular file: a named pipe or a device would hold
/// the call until the tool time limit (or for ever).
fn regular(meta: &std::fs::Metadata, path: &str) -> Result<(), String> {
    if meta.is_file() {
        return Ok(());
    }
    Err(if meta.is_dir() {
        format!("{path} is a directory (list it with list_dir)")
    } else {
        format!("{path} is not a regular file")
    })
}

fn path_param(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

impl ToolSet for FileTools {
    fn specs(&self) -> Vec<ToolSpec> {
        let rel = "Path relative to the work directory";
        vec![
            ToolSpec {
                name: "read_file".into(),
                description: "Read a text file inside the work directory (one over 4 MiB: its first and last 2 MiB), or a range of its lines: a long result is cut to its head and tail, so read a long file in pieces of lines.".into(),
                parameters: json!({"type": "object", "properties": {
                    "path": path_param(rel),
                    "start_line": {"type": "integer", "description": "The first line to read, counted from 1"},
                    "max_lines": {"type": "integer", "description": "How many lines to read at most (the result says how many the file has)"},
                }, "required": ["path"]}),
            },
            ToolSpec {
                name: "write_file".into(),
                description: "Write (create or replace) a text file inside the work directory; missing folders are created.".into(),
                parameters: json!({"type": "object", "properties": {
                    "path": path_param(rel),
                    "content": {"type": "string", "description": "The whole new content"},
                }, "required": ["path", "content"]}),
            },
            ToolSpec {
                name: "list_dir".into(),
                description: "List a folder inside the work directory (folders end in /, symbolic links in @).".into(),
                parameters: json!({"type": "object", "properties": {"path": path_param("Folder relative to the work directory (default: the work directory)")}}),
            },
        ]
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        _limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>> {
        let fut = match name {
            "read_file" => self.read_file(args).boxed(),
            "write_file" => self.write_file(args).boxed(),
            "list_dir" => self.list_dir(args).boxed(),
            _ => return None,
        };
        Some(fut.map(|r| r.unwrap_or_else(ToolOutput::error)).boxed())
    }

    /// File calls run in order: a file written, then read or listed.
    fn lane(&self, _name: &str, _args: &Value) -> Option<String> {
        Some("files".into())
    }
}
