//! `hm start`: start a supervisor in the background (its own session,
//! detached from the terminal) and return once its socket accepts
//! connections, printing the session id.

use std::hash::{BuildHasher, Hasher};
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use super::{Common, SessionFlags};
use crate::paths::{validate_id, SocketDir};
use crate::supervisor::{Launch, Ready};

/// Arguments of `hm start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub session: SessionFlags,
    /// Print the session as JSON
    #[arg(long)]
    pub json: bool,
}

/// A short id that no file in `dir` uses yet.
fn generate_id(dir: &std::path::Path) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        let mut n = h.finish();
        let id: String = (0..6)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect();
        let taken = ["sock", "pid", "exit", "log"]
            .iter()
            .any(|ext| dir.join(format!("{id}.{ext}")).exists());
        if !taken {
            return id;
        }
    }
}

/// Build what a supervisor needs from the command line of `hm verb`.
pub(super) fn launch(common: &Common, flags: &SessionFlags, verb: &str) -> anyhow::Result<Launch> {
    let command = flags.command.clone();
    let mut config = common.load()?;
    flags.apply(&mut config)?;
    if command.is_empty() || command[0].is_empty() {
        return Err(super::common::Coded {
            code: "usage".into(),
            message: format!(
                "the command is empty: give a program to run (usage: hm {verb} [FLAGS] -- COMMAND [ARGS...])"
            ),
            exit: 2,
        }
        .into());
    }
    let id = match &flags.id {
        Some(id) => {
            validate_id(id)?;
            id.clone()
        }
        None => generate_id(&config.socket_dir),
    };
    let cwd = match &flags.workdir {
        Some(d) => std::path::absolute(crate::config::expand_tilde(d))
            .with_context(|| format!("working directory {}", d.display()))?,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    Ok(Launch {
        id,
        command,
        cwd,
        config,
        hold_for_client: false,
    })
}

fn redirect_stdio_to_null() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        use std::os::fd::AsRawFd;
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard fds.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Why a background supervisor did not start.
#[derive(Debug)]
pub(super) struct Failure {
    /// The stable error code (`already_running`, `command_not_found`, …).
    pub kind: String,
    /// What went wrong, for people.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The outcome of starting a background supervisor.
pub(super) enum Started {
    /// The socket accepts connections.
    Ready,
    /// It failed: the exit code to use and why.
    Failed(i32, Failure),
}

/// Start a supervisor in the background and wait until it is ready.
/// Must be called before any runtime or thread exists.
pub(super) fn spawn_background(launch: Launch) -> anyhow::Result<Started> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: the CLI is single-threaded here (no runtime has been started).
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            // SAFETY: still single-threaded.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    redirect_stdio_to_null();
                    let code = crate::supervisor::run(launch, Ready::Pipe(w));
                    std::process::exit(code);
                }
                Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
                Err(e) => {
                    let _ = nix::unistd::write(&w, format!("error 1 fork: {e}\n").as_bytes());
                    unsafe { libc::_exit(1) }
                }
            }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let _ = waitpid(child, None);
            let mut line = String::new();
            let mut reader = std::io::BufReader::new(std::fs::File::from(r));
            let _ = reader.read_line(&mut line);
            let line = line.trim_end();
            if line == "ok" {
                return Ok(Started::Ready);
            }
            // "error <exit code> <kind> <message>"
            if let Some(rest) = line.strip_prefix("error ") {
                let mut parts = rest.splitn(3, ' ');
                let code = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
                let kind = parts.next().unwrap_or("failed").to_string();
                let message = parts.next().unwrap_or_default().to_string();
                return Ok(Started::Failed(code, Failure { kind, message }));
            }
            Ok(Started::Failed(
                1,
                Failure {
                    kind: "failed".into(),
                    message: "the supervisor exited before it was ready (see its log file)".into(),
                },
            ))
        }
    }
}

/// `hm start`.
pub fn run(common: &Common, args: StartArgs) -> anyhow::Result<i32> {
    let launch = launch(common, &args.session, "start")?;
    let id = launch.id.clone();
    let dir: PathBuf = launch.config.socket_dir.clone();
    match spawn_background(launch)? {
        Started::Failed(exit, f) => Err(super::common::Coded {
            code: f.kind,
            message: f.message,
            exit,
        }
        .into()),
        Started::Ready => {
            if args.json {
                let paths = SocketDir::open(&dir)?.session(&id)?;
                let pids = paths.read_pids();
                super::common::print_json(&serde_json::json!({
                    "id": id,
                    "socket": paths.sock,
                    "pid": pids.map(|p| p.child),
                    "supervisor_pid": pids.map(|p| p.supervisor),
                }))?;
            } else {
                outln!("{id}");
            }
            Ok(0)
        }
    }
}
