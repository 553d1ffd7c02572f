//! The supervisor's log file: `<socket_dir>/<id>.log` as heimdall 1.0 writes
//! it (or the configured `log_file`), kept after the session ends until
//! `hm clean`. Its size is capped: a write that would take it past
//! [`LOG_CAP_BYTES`] first empties it, so a session that logs for months
//! cannot fill the disk.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest a log file grows before it starts over.
pub const LOG_CAP_BYTES: u64 = 8 * 1024 * 1024;

/// An append-only log file that starts over when it reaches its cap.
pub struct CappedLog {
    file: File,
    len: u64,
    cap: u64,
}

impl CappedLog {
    /// Open (or create, mode 0600) `path` for appending, capped at `cap`
    /// bytes. Never through a symlink (`O_NOFOLLOW`): a link where the log
    /// should be is an error, and its target is left alone.
    pub fn open(path: &Path, cap: u64) -> std::io::Result<CappedLog> {
        let file = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(crate::paths::explain_symlink)?;
        let len = file.metadata()?.len();
        Ok(CappedLog { file, len, cap })
    }
}

impl Write for CappedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.len + buf.len() as u64 > self.cap && self.len > 0 {
            self.file.set_len(0)?;
            let note = format!("(log emptied on reaching {} bytes)\n", self.cap);
            self.file.write_all(note.as_bytes())?;
            self.len = note.len() as u64;
        }
        let n = self.file.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_over_at_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "old line\n").unwrap();
        let mut log = CappedLog::open(&path, 100).unwrap();
        log.write_all(b"appended\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "old line\nappended\n"
        );
        for _ in 0..20 {
            log.write_all(b"0123456789\n").unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= 100, "{len}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("(log emptied"), "{text}");
        assert!(text.ends_with("0123456789\n"), "{text}");
    }
}
