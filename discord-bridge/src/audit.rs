//! The audit log: every action (who, what, which session, allowed or
//! refused) appended as one JSON object per line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// The Discord user id.
    pub user: String,
    /// The user's name as Discord sent it.
    pub user_name: String,
    /// The action (`run`, `kill`, `answer`, …).
    pub action: String,
    /// The session it was about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The guild, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
    /// The channel (or thread).
    pub channel: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Why it was refused, or what was done (scrubbed, short).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Errors opening the log.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the audit log {}: {source}", path.display())]
pub struct AuditError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// The log, shared by every task of the bot.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// The longest `detail` kept (characters).
const DETAIL_MAX: usize = 300;

impl AuditLog {
    /// Open (create, mode 0600; its directory 0700 when created) for appending.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let err = |source| AuditError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry (`time` is filled in, `detail` scrubbed and cut).
    /// A failed write is logged, never fatal.
    pub fn record(&self, mut entry: Entry) {
        entry.time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let detail = heimdall_agent::scrub::scrub(&entry.detail);
        entry.detail = if detail.chars().count() > DETAIL_MAX {
            let cut: String = detail.chars().take(DETAIL_MAX).collect();
            format!("{cut}…")
        } else {
            detail.into_owned()
        };
        let mut line = match serde_json::to_string(&entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("audit entry not serialisable: {e}");
                return;
            }
        };
        line.push('\n');
        let mut file = crate::lock(&self.file);
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|_| file.flush()) {
            tracing::error!("cannot write the audit log {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, allowed: bool, detail: &str) -> Entry {
        Entry {
            time: String::new(),
            user: "42".into(),
            user_name: "ada".into(),
            action: action.into(),
            session: Some("s1".into()),
            guild: Some("10".into()),
            channel: "20".into(),
            allowed,
            detail: detail.into(),
        }
    }

    #[test]
    fn entries_are_json_lines_scrubbed_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        log.record(entry("run", true, "bash"));
        log.record(entry(
            "send",
            false,
            "token=ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ));
        log.record(entry("send", true, &"x".repeat(1000)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["action"], "run");
        assert_eq!(lines[0]["allowed"], true);
        assert_eq!(lines[0]["session"], "s1");
        assert_eq!(lines[0]["user"], "42");
        assert!(lines[0]["time"].as_str().unwrap().starts_with("20"));
        assert_eq!(lines[1]["allowed"], false);
        assert!(!text.contains("ghp_abcdef"), "{text}");
        assert!(lines[2]["detail"].as_str().unwrap().chars().count() <= DETAIL_MAX + 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Reopening appends.
        drop(log);
        AuditLog::open(&path).unwrap().record(entry("ls", true, ""));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
    }
}
