//! The socket directory and each session's files in it:
//! `<id>.sock` (0600), `<id>.pid` (supervisor pid on the first line, child
//! pid on the second, as heimdall 1.0 writes it; held with `flock` while the
//! supervisor lives), `<id>.log` (the supervisor log, kept until `hm clean`
//! like heimdall 1.0's), and `<id>.exit` (the exit record, kept after the
//! session ends until `hm clean`).
//!
//! Pidfiles are only ever removed by whoever holds their exclusive lock, and
//! [`PidFile::acquire`] checks after locking that the path still names the
//! file it locked: so `hm ls` can remove a dead supervisor's files at once,
//! without a grace period, and never a starting supervisor's.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

pub use heimdall_client::discovery::{
    parse_pidfile, PidInfo, SessionFiles as SessionPaths, MAX_SOCKET_PATH,
};

/// Errors about the socket directory and session files.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The id has characters that cannot be used in a file name.
    #[error("invalid session id {0:?}: use 1-64 characters from A-Z a-z 0-9 . _ - (not starting with '.' or '-')")]
    InvalidId(String),
    /// The socket directory does not exist.
    #[error("socket directory {} does not exist (no session has been started there; start one with `hm start -- CMD`)", .0.display())]
    NoSocketDir(PathBuf),
    /// The socket directory could not be created or checked.
    #[error("socket directory {}: {source}", path.display())]
    SocketDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The socket directory is not private to the current user.
    #[error(transparent)]
    UnsafeDir(#[from] heimdall_client::UnsafeDir),
    /// The socket path would be too long for a Unix socket.
    #[error("socket path {} is {len} bytes, longer than the {MAX_SOCKET_PATH}-byte limit of Unix sockets; use a shorter --socket-dir or id", path.display())]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
    /// Another supervisor holds this id.
    #[error("session {id:?} is already running (supervisor pid {pid})")]
    AlreadyRunning {
        /// The id.
        id: String,
        /// The live supervisor's pid, if readable.
        pid: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Check a session id.
pub fn validate_id(id: &str) -> Result<(), PathError> {
    heimdall_client::validate_id(id).map_err(PathError::from)
}

impl From<heimdall_client::DiscoveryError> for PathError {
    fn from(e: heimdall_client::DiscoveryError) -> PathError {
        use heimdall_client::DiscoveryError as D;
        match e {
            D::InvalidId(id) => PathError::InvalidId(id),
            D::SocketPathTooLong { path, len } => PathError::SocketPathTooLong { path, len },
            D::UnsafeDir(u) => PathError::UnsafeDir(u),
            other => PathError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}

/// The socket directory: private to the current user (owned by it, mode
/// 0700), which [`SocketDir::create`] and [`SocketDir::open`] check on every
/// use, not only when they create it.
#[derive(Debug, Clone)]
pub struct SocketDir {
    path: PathBuf,
}

impl SocketDir {
    /// The directory at `path`, created with mode 0700 if missing.
    pub fn create(path: &Path) -> Result<SocketDir, PathError> {
        let err = |source| PathError::SocketDir {
            path: path.to_path_buf(),
            source,
        };
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(err)?;
            // The leaf is created 0700 whatever the umask.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        let meta = std::fs::metadata(path).map_err(err)?;
        if !meta.is_dir() {
            return Err(err(std::io::Error::other("not a directory")));
        }
        heimdall_client::private_dir::check_private_dir(path, &meta)?;
        Ok(SocketDir {
            path: path.to_path_buf(),
        })
    }

    /// The existing directory at `path` (for queries: never creates it).
    pub fn open(path: &Path) -> Result<SocketDir, PathError> {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                heimdall_client::private_dir::check_private_dir(path, &m)?;
                Ok(SocketDir {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => Err(PathError::SocketDir {
                path: path.to_path_buf(),
                source: std::io::Error::other("not a directory"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(PathError::NoSocketDir(path.to_path_buf()))
            }
            Err(source) => Err(PathError::SocketDir {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files of session `id`.
    pub fn session(&self, id: &str) -> Result<SessionPaths, PathError> {
        Ok(heimdall_client::SocketDir::new(&self.path).files(id)?)
    }

    /// Ids that have any file here (socket, pidfile, exit record or log), sorted.
    pub fn ids(&self) -> Vec<String> {
        heimdall_client::SocketDir::new(&self.path).ids()
    }
}

/// Open a pidfile for locking (see [`heimdall_client::open_pidfile`]),
/// with a clear message when a symlink stands in its place.
fn open_pidfile(path: &Path) -> std::io::Result<File> {
    heimdall_client::open_pidfile(path).map_err(explain_symlink)
}

/// The error of opening a session file with `O_NOFOLLOW` where a symlink
/// stands, said plainly (the system's "Too many levels of symbolic links").
pub fn explain_symlink(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        std::io::Error::other(
            "is a symbolic link; hm never writes through one (remove it if you did not put it there)",
        )
    } else {
        e
    }
}

/// Whether `file` is still the file at `path` (not unlinked or replaced).
fn still_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// How long [`PidFile::acquire`] waits for a held pidfile lock.
struct Deadline {
    /// For a lock held a moment (`hm ls` probes it).
    busy: Instant,
    /// For the supervisor of a session that has ended to finish.
    finishing: Instant,
}

impl Deadline {
    /// Whether to wait on for the lock of `paths`.
    fn wait_on(&self, paths: &SessionPaths) -> bool {
        let now = Instant::now();
        now < self.busy || (now < self.finishing && std::fs::symlink_metadata(&paths.exit).is_ok())
    }
}

/// The pidfile, locked for the supervisor's lifetime.
pub struct PidFile {
    lock: Flock<File>,
    path: PathBuf,
}

impl PidFile {
    /// Create (or take over a stale) pidfile and lock it. Fails with
    /// [`PathError::AlreadyRunning`] when a live supervisor holds it.
    ///
    /// A supervisor that ends unlinks its pidfile while it still holds the
    /// lock, so a lock taken on a file opened before that unlink is a lock
    /// on a file nobody can see: after locking, the file must still be the
    /// one the path names, else open it again.
    ///
    /// A session that has ended (its exit record is there) while its
    /// supervisor still holds the lock is finishing: ending the processes
    /// its program left (the kill grace period), or waiting for a reader
    /// to take its last output. The id is waited for, at most `finishing`,
    /// so that `hm wait --exit ID; hm start --id ID …` starts it again.
    pub fn acquire(paths: &SessionPaths, finishing: Duration) -> Result<PidFile, PathError> {
        let io = |source| PathError::Io {
            path: paths.pid.clone(),
            source,
        };
        // A concurrent `hm ls` may hold a probe lock for a moment.
        let began = Instant::now();
        let deadline = Deadline {
            busy: began + Duration::from_millis(300),
            finishing: began + finishing,
        };
        for _ in 0..100 {
            let file = open_pidfile(&paths.pid).map_err(io)?;
            let lock = Self::lock(file, paths, &deadline)?;
            // Whoever removed the path held the lock before us: start over.
            if still_at(&lock, &paths.pid) {
                // A dead supervisor's pids are no one's: until ours are
                // written (once it listens) the file names no pid.
                lock.set_len(0).map_err(io)?;
                return Ok(PidFile {
                    lock,
                    path: paths.pid.clone(),
                });
            }
        }
        Err(io(std::io::Error::other(
            "the pidfile keeps being replaced",
        )))
    }

    fn lock(
        mut file: File,
        paths: &SessionPaths,
        deadline: &Deadline,
    ) -> Result<Flock<File>, PathError> {
        let io = |source| PathError::Io {
            path: paths.pid.clone(),
            source,
        };
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(lock),
                Err((f, nix::errno::Errno::EWOULDBLOCK)) if deadline.wait_on(paths) => {
                    file = f;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((mut f, nix::errno::Errno::EWOULDBLOCK)) => {
                    let mut text = String::new();
                    let _ = f.read_to_string(&mut text);
                    return Err(PathError::AlreadyRunning {
                        id: paths.id.clone(),
                        pid: parse_pidfile(&text)
                            .map(|p| p.supervisor.to_string())
                            .unwrap_or_else(|| "?".to_string()),
                    });
                }
                Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
            }
        }
    }

    /// Record the supervisor's and the child's pids, one per line as
    /// heimdall 1.0 does.
    pub fn write(&mut self, supervisor: i32, child: i32) -> std::io::Result<()> {
        let f: &mut File = &mut self.lock;
        f.set_len(0)?;
        f.rewind()?;
        write!(f, "{supervisor}\n{child}\n")?;
        f.sync_data()
    }

    /// Remove the file (the lock goes with the handle).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether `path`'s owner is the current user (for files we may delete).
pub fn owned_by_me(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.uid() == nix::unistd::geteuid().as_raw())
        .unwrap_or(false)
}
