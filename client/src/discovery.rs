//! Finding sessions: the socket directory, each session's files, whether
//! its supervisor lives (it holds a `flock` on `<id>.pid` for its whole
//! life), and how it ended (`<id>.exit`).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::connection::{Client, ClientBuilder};
use crate::error::ClientError;
use crate::exit_record::ExitRecord;
use crate::private_dir::{check_private_dir, UnsafeDir};

/// Longest Unix socket path (`sun_path` is 108 bytes including the NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Errors of discovery.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The id has characters that cannot be used in a file name.
    #[error("invalid session id {0:?}: use 1-64 characters from A-Z a-z 0-9 . _ - (not starting with '.' or '-')")]
    InvalidId(String),
    /// The socket path would be too long for a Unix socket.
    #[error("socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH}-byte limit of Unix sockets; use a shorter socket directory or id", path.display())]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// No session of that id, running or ended.
    #[error("no session {id:?} in {}; {}", dir.display(), if running.is_empty() { "no session is running".to_string() } else { format!("running: {}", running.join(", ")) })]
    NotFound {
        /// The id asked for.
        id: String,
        /// The socket directory.
        dir: PathBuf,
        /// Ids of the sessions that are running.
        running: Vec<String>,
    },
    /// The session has ended.
    #[error("session {:?} has exited (code {})", .0.id, .0.code)]
    Exited(Box<ExitRecord>),
    /// The exit record could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The socket directory is not private to the current user.
    #[error(transparent)]
    UnsafeDir(#[from] UnsafeDir),
    /// Connecting failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Check a session id.
pub fn validate_id(id: &str) -> Result<(), DiscoveryError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(DiscoveryError::InvalidId(id.to_string()))
    }
}

/// The pids a pidfile records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidInfo {
    /// The supervisor's pid.
    pub supervisor: i32,
    /// The child's pid (0 when not recorded yet).
    pub child: i32,
}

/// Read a pidfile's text: heimdall 1.0's two lines (supervisor pid, child
/// pid) or one line `SUPERVISOR CHILD`.
pub fn parse_pidfile(text: &str) -> Option<PidInfo> {
    let mut it = text.split_whitespace().map(|s| s.parse::<i32>().ok());
    Some(PidInfo {
        supervisor: it.next()??,
        child: it.next().flatten().unwrap_or(0),
    })
}

/// The socket directory.
#[derive(Debug, Clone)]
pub struct SocketDir {
    path: PathBuf,
}

/// The files of one session.
#[derive(Debug, Clone)]
pub struct SessionFiles {
    /// The session id.
    pub id: String,
    /// `<id>.sock`.
    pub sock: PathBuf,
    /// `<id>.pid`.
    pub pid: PathBuf,
    /// `<id>.log`.
    pub log: PathBuf,
    /// `<id>.exit`.
    pub exit: PathBuf,
}

/// Whether a session runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// A supervisor holds it (its pids are not known yet while it starts).
    Live(Option<PidInfo>),
    /// It ended; its exit record says how.
    Exited(Box<ExitRecord>),
    /// Its supervisor is gone without an exit record (killed): its socket
    /// or pidfile remain.
    Stale,
}

/// A session found in the socket directory.
#[derive(Debug, Clone)]
pub struct SessionEntry {
    /// Its files.
    pub files: SessionFiles,
    /// Whether it runs.
    pub liveness: Liveness,
}

impl SocketDir {
    /// The socket directory at `path` (it need not exist).
    pub fn new(path: impl Into<PathBuf>) -> SocketDir {
        SocketDir { path: path.into() }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files of session `id`.
    pub fn files(&self, id: &str) -> Result<SessionFiles, DiscoveryError> {
        validate_id(id)?;
        let f = SessionFiles::beside(id, self.path.join(format!("{id}.sock")));
        let len = f.sock.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(DiscoveryError::SocketPathTooLong { path: f.sock, len });
        }
        Ok(f)
    }

    /// Check that the directory is private: owned by the current user and
    /// closed to group and others ([`DiscoveryError::UnsafeDir`] names the
    /// owner and mode and says what to do). A directory that does not exist
    /// holds nothing to trust and passes. [`SocketDir::find`],
    /// [`SocketDir::list`], [`SocketDir::running`] and
    /// [`SocketDir::connect`] check it on every call.
    pub fn check(&self) -> Result<(), DiscoveryError> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => Ok(check_private_dir(&self.path, &meta)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DiscoveryError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Ids that have any file here (socket, pidfile, exit record or log),
    /// sorted. This reads the directory without [`SocketDir::check`]ing it.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (stem, ext) = name.rsplit_once('.')?;
                matches!(ext, "sock" | "pid" | "exit" | "log")
                    .then(|| stem.to_string())
                    .filter(|s| validate_id(s).is_ok())
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Every session here: live, exited or stale (sorted by id; a missing
    /// directory has none). Ids with only a log file are left out.
    pub fn list(&self) -> Result<Vec<SessionEntry>, DiscoveryError> {
        self.check()?;
        Ok(self
            .ids()
            .iter()
            .filter_map(|id| self.files(id).ok())
            .filter_map(|files| {
                let liveness = files.liveness()?;
                Some(SessionEntry { files, liveness })
            })
            .collect())
    }

    /// Ids of the sessions that run.
    pub fn running(&self) -> Result<Vec<String>, DiscoveryError> {
        self.check()?;
        Ok(self.live_ids())
    }

    fn live_ids(&self) -> Vec<String> {
        self.ids()
            .into_iter()
            .filter(|id| self.files(id).is_ok_and(|f| f.is_live()))
            .collect()
    }

    /// Session `id`, or [`DiscoveryError::NotFound`] naming the running ones.
    pub fn find(&self, id: &str) -> Result<SessionEntry, DiscoveryError> {
        self.check()?;
        let files = self.files(id)?;
        if files.is_live() {
            let pids = files.read_pids();
            return Ok(SessionEntry {
                files,
                liveness: Liveness::Live(pids),
            });
        }
        match ExitRecord::read(&files.exit) {
            Ok(rec) => Ok(SessionEntry {
                files,
                liveness: Liveness::Exited(Box::new(rec)),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(id)),
            Err(source) => Err(DiscoveryError::Io {
                path: files.exit,
                source,
            }),
        }
    }

    /// The error for a session that does not exist, naming the running ones.
    pub fn not_found(&self, id: &str) -> DiscoveryError {
        DiscoveryError::NotFound {
            id: id.to_string(),
            dir: self.path.clone(),
            running: self.live_ids(),
        }
    }

    /// Connect to running session `id`, with its files
    /// ([`ClientBuilder::session_files`]: its exit record gives the exit
    /// code if the session ends mid-call). A session that has ended, even
    /// one that ends while it is being connected to (a quick command),
    /// gives [`DiscoveryError::Exited`] with its exit record; one that is
    /// starting (listed [`Liveness::Live`] without pids) is connected to
    /// once it listens.
    pub async fn connect(
        &self,
        id: &str,
        builder: ClientBuilder,
    ) -> Result<Client, DiscoveryError> {
        let entry = self.find(id)?;
        match entry.liveness {
            Liveness::Exited(rec) => Err(DiscoveryError::Exited(rec)),
            _ => entry.files.connect(builder).await.map_err(|e| match e {
                (_, Some(rec)) => DiscoveryError::Exited(Box::new(rec)),
                (e, None) => DiscoveryError::Client(e),
            }),
        }
    }
}

/// How long a connection that failed as a session ended waits for its
/// exit record (the supervisor writes it before it lets go of the session).
const ENDING_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a failed connection can mean that the session ended while it
/// was being connected to (its socket refused, reset or closed).
/// Whether process `pid` is stopped by a signal or at a tracer's stop
/// (state `T` or `t` in `/proc/PID/stat`).
fn is_stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may
    // itself hold any character.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "T" || state == "t")
}

fn may_have_ended(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Connect { .. }
            | ClientError::Io(_)
            | ClientError::ConnectionClosed
            | ClientError::SessionEnded { .. }
    )
}

impl SessionFiles {
    /// The files of session `id` whose socket is `sock` (`<id>.sock`):
    /// the others beside it.
    pub fn beside(id: &str, sock: PathBuf) -> SessionFiles {
        SessionFiles {
            id: id.to_string(),
            pid: sock.with_extension("pid"),
            log: sock.with_extension("log"),
            exit: sock.with_extension("exit"),
            sock,
        }
    }

    /// Whether a supervisor holds this session's pidfile lock.
    pub fn is_live(&self) -> bool {
        // A pidfile is a regular file: never through a symlink, and a FIFO
        // in its place must not block.
        let Ok(file) = crate::regular_file::open_regular_file(&self.pid) else {
            return false;
        };
        // SAFETY: flock on an fd we own; the probe lock goes with the file.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
    }

    /// The pid of this session's supervisor when it is alive and stopped
    /// (by SIGSTOP, or at a debugger's stop): it answers nothing until it
    /// is continued.
    pub fn stopped_supervisor(&self) -> Option<i32> {
        let pid = self.read_pids()?.supervisor;
        (pid > 1 && is_stopped(pid) && self.is_live()).then_some(pid)
    }

    /// The pid of this session's supervisor when it runs but its socket is
    /// gone (deleted under it): no socket, no exit record (a supervisor
    /// writes it before it removes its socket; looked at in that order),
    /// and a pid in the pidfile of a live supervisor (one records its pid
    /// only once it listens, so one that is starting is not taken for it).
    pub fn socket_gone(&self) -> Option<i32> {
        let missing = |p: &Path| {
            std::fs::symlink_metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        };
        if !missing(&self.sock) || !missing(&self.exit) {
            return None;
        }
        let pid = self.read_pids()?.supervisor;
        (pid > 1 && self.is_live()).then_some(pid)
    }

    /// The pids recorded in the pidfile, if it is a readable regular file.
    pub fn read_pids(&self) -> Option<PidInfo> {
        let bytes = crate::regular_file::read_regular_file(&self.pid).ok()?;
        parse_pidfile(std::str::from_utf8(&bytes).ok()?)
    }

    /// The exit record, if the session ended.
    pub fn exit_record(&self) -> std::io::Result<ExitRecord> {
        ExitRecord::read(&self.exit)
    }

    /// The exit record of a session that has ended or is ending: looked for
    /// until `within` has passed (a supervisor writes it once the child's
    /// output is drained, before it lets go of the pidfile), and no longer
    /// once no supervisor holds the session. `None`: no record is coming
    /// (its supervisor was killed, say). Blocks the calling thread.
    pub fn exit_record_within(&self, within: std::time::Duration) -> Option<ExitRecord> {
        let deadline = std::time::Instant::now() + within;
        loop {
            // Read after looking at the lock: a record written before the
            // lock was let go is seen.
            let live = self.is_live();
            if let Ok(rec) = self.exit_record() {
                return Some(rec);
            }
            if !live || std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Whether this session's supervisor, starting, listens within
    /// `within` (it writes its pids once it does); `false` once no
    /// supervisor holds the session. Blocks the calling thread.
    fn listening_within(&self, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            if self.read_pids().is_some() {
                return true;
            }
            if !self.is_live() || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Connect to this session's socket. When that fails because the
    /// session ended meanwhile (a command that ran to its end at once), the
    /// error comes with the session's exit record.
    /// A supervisor that is starting (it holds its pidfile, but has not
    /// yet written its pids: it writes them once it listens) is connected
    /// to once it listens.
    pub(crate) async fn connect(
        &self,
        builder: ClientBuilder,
    ) -> Result<Client, (ClientError, Option<ExitRecord>)> {
        let builder = builder.session_files(self.clone());
        // Looked at before connecting: a pidfile filled meanwhile is a
        // supervisor that has started listening since.
        let starting = self.is_live() && self.read_pids().is_none();
        let mut connected = builder.clone().connect(&self.sock).await;
        if starting && connected.as_ref().is_err_and(may_have_ended) {
            let files = self.clone();
            let listening =
                tokio::task::spawn_blocking(move || files.listening_within(ENDING_GRACE))
                    .await
                    .unwrap_or(false);
            if listening {
                connected = builder.connect(&self.sock).await;
            }
        }
        match connected {
            Ok(c) => Ok(c),
            Err(e) if may_have_ended(&e) => {
                if let Some(pid) = self.socket_gone() {
                    let path = self.sock.clone();
                    return Err((ClientError::SocketGone { path, pid }, None));
                }
                let files = self.clone();
                let rec =
                    tokio::task::spawn_blocking(move || files.exit_record_within(ENDING_GRACE))
                        .await
                        .ok()
                        .flatten();
                Err((e, rec))
            }
            Err(e) => Err((e, None)),
        }
    }

    /// Whether the session runs, ended or was left stale; `None` when it
    /// has none of those files.
    pub fn liveness(&self) -> Option<Liveness> {
        if self.is_live() {
            return Some(Liveness::Live(self.read_pids()));
        }
        if let Ok(rec) = self.exit_record() {
            return Some(Liveness::Exited(Box::new(rec)));
        }
        (self.sock.exists() || self.pid.exists()).then_some(Liveness::Stale)
    }

    /// Remove the socket and pidfile if no supervisor holds the pidfile
    /// (whatever their age). Returns the paths removed; nothing when the
    /// session is live.
    pub fn remove_stale(&self) -> Vec<PathBuf> {
        if !self.sock.exists() && !self.pid.exists() {
            return Vec::new();
        }
        // Hold the pidfile's exclusive lock while removing, so that a
        // supervisor starting under this id either holds it first (and we
        // see it live) or finds its path replaced and starts over.
        let Ok(file) = open_pidfile(&self.pid) else {
            return Vec::new();
        };
        // SAFETY: flock on an fd we own; the lock goes with the file.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Vec::new();
        }
        let mut removed = Vec::new();
        let sock_existed = self.sock.exists();
        if std::fs::remove_file(&self.sock).is_ok() && sock_existed {
            removed.push(self.sock.clone());
        }
        if std::fs::remove_file(&self.pid).is_ok() {
            removed.push(self.pid.clone());
        }
        removed
    }
}

/// Open a session's pidfile for its lock, creating it (mode 0600) if
/// missing and never through a symlink (`O_NOFOLLOW`; `O_EXCL` cannot be
/// used, since a stale pidfile is taken over). Supervisors lock it for
/// their whole life; [`SessionFiles::remove_stale`] locks it while it
/// removes a dead session's files.
pub fn open_pidfile(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfiles_of_both_formats() {
        let two = PidInfo {
            supervisor: 12,
            child: 34,
        };
        assert_eq!(parse_pidfile("12\n34\n"), Some(two));
        assert_eq!(parse_pidfile("12 34\n"), Some(two));
        assert_eq!(parse_pidfile("12\n").map(|p| p.child), Some(0));
        assert_eq!(parse_pidfile("x\n1\n"), None);
        assert_eq!(parse_pidfile(""), None);
    }

    #[test]
    fn ids() {
        for ok in ["a", "build-1", "x.y_z", "A9"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }
}
