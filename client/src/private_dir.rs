//! The socket directory must be private: owned by the current user and
//! closed to group and others. Whoever can write to it can put a socket of
//! their own where a client expects a session (and read everything typed
//! into it), or a symlink where the supervisor writes its pidfile, log or
//! exit record. So every program checks it on every use, not only when it
//! is created.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A socket directory that another user could tamper with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnsafeDir {
    /// The directory.
    pub path: PathBuf,
    /// Its owner's uid.
    pub owner: u32,
    /// Its permission bits.
    pub mode: u32,
    /// The current user's uid.
    pub me: u32,
}

impl UnsafeDir {
    fn describe(&self) -> String {
        let dir = self.path.display();
        if self.owner != self.me {
            format!(
                "socket directory {dir} is owned by uid {}, not by you (uid {}), mode {:04o}: \
                 refusing to use it; use a directory of your own (--socket-dir or \
                 HEIMDALL_SOCKET_DIR), which hm creates with mode 0700",
                self.owner, self.me, self.mode
            )
        } else {
            format!(
                "socket directory {dir} is open to group or others (owner uid {}, mode {:04o}): \
                 refusing to use it; make it private with `chmod 700 {dir}`",
                self.owner, self.mode
            )
        }
    }
}

/// The current user's uid (the effective one, which owns what we create).
pub fn current_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether a directory with this `owner` and `mode` is private to user `me`.
pub fn judge(path: &Path, owner: u32, mode: u32, me: u32) -> Result<(), UnsafeDir> {
    let mode = mode & 0o7777;
    if owner == me && mode & 0o077 == 0 {
        return Ok(());
    }
    Err(UnsafeDir {
        path: path.to_path_buf(),
        owner,
        mode,
        me,
    })
}

/// Check the metadata of the directory at `path` (as `std::fs::metadata`
/// reads it, following a symlink to the directory itself).
pub fn check_private_dir(path: &Path, meta: &std::fs::Metadata) -> Result<(), UnsafeDir> {
    judge(path, meta.uid(), meta.mode(), current_uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_private_directory_of_ours_passes() {
        let p = Path::new("/d");
        assert!(judge(p, 1000, 0o40700, 1000).is_ok());
        assert!(judge(p, 1000, 0o700, 1000).is_ok());
        for mode in [0o755, 0o750, 0o710, 0o701, 0o711, 0o777, 0o1777] {
            let e = judge(p, 1000, mode, 1000).unwrap_err();
            let text = e.to_string();
            assert!(text.contains("/d"), "{text}");
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
            assert!(text.contains("chmod 700 /d"), "{text}");
        }
        let e = judge(p, 0, 0o700, 1000).unwrap_err().to_string();
        assert!(e.contains("owned by uid 0, not by you (uid 1000)"), "{e}");
        assert!(e.contains("0700"), "{e}");
        assert!(e.contains("--socket-dir"), "{e}");
    }
}
