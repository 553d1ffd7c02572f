//! Starting the child: a new pty, `fork`, and in the child `setsid`, the pty
//! as controlling terminal and stdio, the working directory, default signal
//! dispositions, the environment, `exec`.
//!
//! Runs before any thread or async runtime exists. A close-on-exec pipe
//! carries an `exec` failure (with its stage and errno) back to the parent,
//! so a missing command or a bad working directory is reported as such
//! instead of as a session that exits at once.

use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::pty::{openpty, Winsize};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};

/// What to run and how.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The command and its arguments (`argv[0]` is looked up in `PATH`),
    /// as bytes: they need not be UTF-8.
    pub argv: Vec<OsString>,
    /// The working directory.
    pub cwd: PathBuf,
    /// The complete environment of the child.
    pub env: Vec<(OsString, OsString)>,
    /// Terminal columns.
    pub cols: u16,
    /// Terminal rows.
    pub rows: u16,
}

/// A started child.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid (also its process group and session id).
    pub pid: Pid,
    /// The pty master.
    pub master: OwnedFd,
}

/// Why the child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// Nothing to run.
    #[error("no command given")]
    NoCommand,
    /// An argument or variable holds a NUL byte.
    #[error("argument or environment variable contains a NUL byte")]
    Nul,
    /// The working directory is unusable.
    #[error("cannot use working directory {}: {errno}", path.display())]
    Cwd {
        /// The directory.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
    /// `exec` failed: not found, not executable…
    #[error("cannot run {command:?}: {}", describe_exec(*.errno))]
    Exec {
        /// The command.
        command: String,
        /// Why.
        errno: Errno,
    },
    /// The pty or the fork failed.
    #[error("{what}: {errno}")]
    System {
        /// Which call.
        what: &'static str,
        /// Why.
        errno: Errno,
    },
}

fn describe_exec(errno: Errno) -> String {
    match errno {
        Errno::ENOENT => "command not found".to_string(),
        Errno::EACCES => "permission denied (not executable?)".to_string(),
        Errno::ENOEXEC => "not an executable format".to_string(),
        other => other.to_string(),
    }
}

impl SpawnError {
    /// The exit code a shell would use for this failure (127 not found,
    /// 126 not executable, 1 otherwise).
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec {
                errno: Errno::ENOENT,
                ..
            } => 127,
            SpawnError::Exec { .. } => 126,
            _ => 1,
        }
    }
}

const STAGE_CWD: u8 = 1;
const STAGE_EXEC: u8 = 2;
const STAGE_SETUP: u8 = 3;

fn cstring(b: &[u8]) -> Result<CString, SpawnError> {
    CString::new(b).map_err(|_| SpawnError::Nul)
}

fn set_cloexec(fd: &OwnedFd) -> Result<(), SpawnError> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .map(drop)
        .map_err(|errno| SpawnError::System {
            what: "fcntl",
            errno,
        })
}

/// Close every file descriptor from `first` up, except `keep`. A caller's
/// descriptors must not live on in a daemon: `x=$(hm start … 3>&1)` would
/// wait for the session's whole life. Async-signal-safe (used after fork).
pub fn close_fds_from(first: RawFd, keep: Option<RawFd>) {
    let ranges = match keep {
        Some(k) if k >= first => [(first, k - 1), (k + 1, RawFd::MAX)],
        _ => [(first, RawFd::MAX), (1, 0)],
    };
    for (lo, hi) in ranges {
        if lo > hi {
            continue;
        }
        // SAFETY: close_range(2) on a range of descriptors this process owns.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, lo as u32, hi as u32, 0u32) };
        if rc < 0 {
            // Kernels before 5.9: close one by one up to a sane bound.
            for fd in lo..hi.min(FALLBACK_MAX_FD) {
                // SAFETY: closing a descriptor number; EBADF is harmless.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// The highest descriptor closed one by one when close_range(2) is missing.
const FALLBACK_MAX_FD: RawFd = 65536;

/// Start the child in a new pty. Must be called while the process has one thread.
pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let command = spec
        .argv
        .first()
        .ok_or(SpawnError::NoCommand)?
        .to_string_lossy()
        .into_owned();
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect::<Result<_, _>>()?;
    let cwd = cstring(spec.cwd.as_os_str().as_bytes())?;
    match std::fs::metadata(&spec.cwd) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SpawnError::Cwd {
                path: spec.cwd.clone(),
                errno: Errno::ENOTDIR,
            })
        }
        Err(e) => {
            return Err(SpawnError::Cwd {
                path: spec.cwd.clone(),
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)),
            })
        }
    }

    let ws = Winsize {
        ws_row: spec.rows.max(1),
        ws_col: spec.cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).map_err(|errno| SpawnError::System {
        what: "openpty",
        errno,
    })?;
    set_cloexec(&pty.master)?;
    set_cloexec(&pty.slave)?;
    let (err_r, err_w) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| SpawnError::System {
            what: "pipe",
            errno,
        })?;

    // SAFETY: the process is single-threaded here (no runtime yet), and the
    // child only makes async-signal-safe calls before exec or _exit.
    match unsafe { fork() }.map_err(|errno| SpawnError::System {
        what: "fork",
        errno,
    })? {
        ForkResult::Child => {
            let (stage, errno) = child_exec(&pty.slave, &cwd, &argv, &envp);
            let msg = [stage, 0, 0, 0, 0];
            let mut buf = msg;
            buf[1..5].copy_from_slice(&(errno as i32).to_be_bytes());
            // SAFETY: write and _exit are async-signal-safe.
            unsafe {
                libc::write(err_w.as_raw_fd(), buf.as_ptr().cast(), buf.len());
                libc::_exit(127);
            }
        }
        ForkResult::Parent { child } => {
            drop(pty.slave);
            drop(err_w);
            let mut buf = [0u8; 5];
            let mut got = 0;
            while got < buf.len() {
                match nix::unistd::read(&err_r, &mut buf[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(Errno::EINTR) => continue,
                    Err(_) => break,
                }
            }
            if got == 0 {
                return Ok(Spawned {
                    pid: child,
                    master: pty.master,
                });
            }
            let _ = waitpid(child, None);
            let errno = Errno::from_raw(i32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]));
            Err(match buf[0] {
                STAGE_CWD => SpawnError::Cwd {
                    path: spec.cwd.clone(),
                    errno,
                },
                STAGE_EXEC => SpawnError::Exec { command, errno },
                _ => SpawnError::System {
                    what: "child setup",
                    errno,
                },
            })
        }
    }
}

/// In the forked child: set up and exec. Returns only on failure.
fn child_exec(slave: &OwnedFd, cwd: &CString, argv: &[CString], envp: &[CString]) -> (u8, Errno) {
    let fd = slave.as_raw_fd();
    // SAFETY: plain syscalls on valid fds and pointers, async-signal-safe.
    unsafe {
        if libc::setsid() < 0 {
            return (STAGE_SETUP, Errno::last());
        }
        if libc::ioctl(fd, libc::TIOCSCTTY as _, 0) < 0 {
            return (STAGE_SETUP, Errno::last());
        }
        for target in 0..3 {
            if libc::dup2(fd, target) < 0 {
                return (STAGE_SETUP, Errno::last());
            }
        }
        if libc::chdir(cwd.as_ptr()) < 0 {
            return (STAGE_CWD, Errno::last());
        }
        // Default dispositions and an empty mask: Rust ignores SIGPIPE, and
        // ignored signals would survive exec.
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // Nothing but stdio survives exec: descriptors the supervisor
        // inherited are marked close-on-exec (the error pipe already is, and
        // must stay open until exec).
        let all = libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if all < 0 {
            for fd in 3..FALLBACK_MAX_FD {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    let e = match nix::unistd::execvpe(&argv[0], argv, envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    (STAGE_EXEC, e)
}
