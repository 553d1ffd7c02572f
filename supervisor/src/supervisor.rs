//! Running a supervisor in this process: take the pidfile, start the child,
//! fork the guardian, start the async runtime, serve clients until the child
//! has exited, leave the exit record, remove the socket and pidfile (the
//! log stays, as heimdall 1.0's does, until `hm clean`).
//!
//! Everything that forks happens before the runtime (and its threads) exist.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use heimdall_client::exit_record::RECORDED_SCROLLBACK;
use heimdall_protocol::ScreenFormat;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::exit_record::{rfc3339_micros, rfc3339_millis, ExitRecord, TAIL_BYTES};
use crate::lifecycle::{become_subreaper, become_supervisor, spawn_guardian, TREE_VAR};
use crate::log_file::{CappedLog, LOG_CAP_BYTES};
use crate::paths::{PidFile, SessionPaths, SocketDir};
use crate::session::{ExitStatus, Session};
use crate::spawn::{spawn, SpawnSpec};
use heimdall_client::config::SOCKET_DIR_VAR;

/// The longest connections are served after the child exits: a client
/// still reading its output keeps the supervisor up until it has read EXIT,
/// at most this long (one that stops reading is closed sooner, see
/// [`crate::connection::FLUSH_GRACE`]). A client that holds the output
/// (SUBSCRIBE's `hold`) is not bound by it: it is served until it has read
/// EXIT or has gone, as a pipe's writer waits for its reader.
/// docs/protocol.md states this bound.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// What to supervise.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The session id.
    pub id: String,
    /// The command and its arguments, passed to the program as they are
    /// (bytes, not necessarily UTF-8); records show [`Launch::command_text`].
    pub command: Vec<OsString>,
    /// The child's working directory (absolute).
    pub cwd: PathBuf,
    /// Configuration with command-line flags applied.
    pub config: Config,
    /// Read the pty only once a client has subscribed, and keep the ended
    /// session up until one has (each at most [`HOLD_TIMEOUT`]), so the
    /// attach of `hm run` sees all of the output, even of a command that
    /// exits at once.
    pub hold_for_client: bool,
}

impl Launch {
    /// The command as text for status, `hm ls` and the exit record (which
    /// are JSON): an argument that is not UTF-8 shows U+FFFD for its bad
    /// bytes.
    pub fn command_text(&self) -> Vec<String> {
        self.command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }
}

/// How long a held session waits for its first subscriber, before the
/// output is read and after the child exited.
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to report that the supervisor is ready (or why it failed).
pub enum Ready {
    /// In the foreground: failures go to stderr.
    Foreground,
    /// Started by `hm start`: one line on this pipe, `ok` or `error CODE MESSAGE`.
    Pipe(OwnedFd),
}

impl Ready {
    fn report(&mut self, line: &str) {
        if let Ready::Pipe(fd) = self {
            let _ = nix::unistd::write(&*fd, format!("{line}\n").as_bytes());
        }
    }

    fn ok(mut self) {
        self.report("ok");
    }

    /// Report a failure to start: exit code `code`, `kind` the stable
    /// error code `hm start --json` prints (`already_running`, …).
    fn fail(mut self, code: i32, kind: &str, message: &str) -> i32 {
        match &self {
            Ready::Foreground => crate::cli::say(&format!("hm: {message}")),
            Ready::Pipe(_) => self.report(&format!(
                "error {code} {kind} {}",
                message.replace('\n', " ")
            )),
        }
        code
    }
}

fn child_env(launch: &Launch, tree_token: &str) -> Vec<(OsString, OsString)> {
    let cfg = &launch.config;
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k != cfg.session_env_var.as_str() && k != TREE_VAR && k != SOCKET_DIR_VAR)
        .collect();
    if !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm-256color".into()));
    }
    env.push((cfg.session_env_var.clone().into(), launch.id.clone().into()));
    env.push((TREE_VAR.into(), tree_token.into()));
    // `hm report` and a nested `hm start` in the session use its socket
    // directory, whichever flag or config file chose it. Absolute: the
    // program may run in another directory (`--workdir`).
    let dir = std::path::absolute(&cfg.socket_dir).unwrap_or_else(|_| cfg.socket_dir.clone());
    env.push((SOCKET_DIR_VAR.into(), dir.into()));
    for var in &cfg.env {
        env.retain(|(k, _)| k != var.name.as_str());
        env.push((var.name.clone().into(), var.value.clone().into()));
    }
    env
}

/// Log to `log` (the configured file or `<id>.log`, as heimdall 1.0 does),
/// and also to stderr for a supervisor in the foreground.
fn init_logging(config: &Config, log: CappedLog, foreground: bool) {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    use tracing_subscriber::EnvFilter;
    // Both were checked when the configuration was read.
    let directive = config.log_filter.as_deref().unwrap_or(&config.log_level);
    let filter = EnvFilter::try_new(directive).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    if foreground {
        let writer = std::sync::Mutex::new(log).and(std::io::stderr);
        let _ = builder.with_writer(writer).try_init();
    } else {
        let _ = builder.with_writer(std::sync::Mutex::new(log)).try_init();
    }
}

/// Run a supervisor until its child exits; returns the exit code for this
/// process (the child's code, or 128+N for signal N).
pub fn run(launch: Launch, ready: Ready) -> i32 {
    let foreground = matches!(ready, Ready::Foreground);
    if let Ready::Pipe(fd) = &ready {
        // A daemon keeps nothing of its caller but the ready pipe.
        crate::spawn::close_fds_from(3, Some(fd.as_raw_fd()));
    }
    // Until the runtime watches them, termination signals wait (the child
    // gets an empty mask before exec).
    let _ = termination_signals().thread_block();
    let dir = match SocketDir::create(&launch.config.socket_dir) {
        Ok(d) => d,
        Err(e) => return ready.fail(1, "socket_dir", &e.to_string()),
    };
    let paths = match dir.session(&launch.id) {
        Ok(p) => p,
        Err(e) => return ready.fail(1, "invalid_id", &e.to_string()),
    };
    let finishing = crate::lifecycle::kill_bound(launch.config.kill_grace_ms);
    let mut pidfile = match PidFile::acquire(&paths, finishing) {
        Ok(p) => p,
        Err(e @ crate::paths::PathError::AlreadyRunning { .. }) => {
            return ready.fail(1, "already_running", &e.to_string())
        }
        Err(e) => return ready.fail(1, "failed", &e.to_string()),
    };
    // We hold the lock: anything else with this id is stale.
    let _ = std::fs::remove_file(&paths.sock);
    let _ = std::fs::remove_file(&paths.exit);
    // Opened before the child starts, so that a log that cannot be opened
    // (a symlink where it should be) stops the start with the reason.
    let log_path = launch.config.log_file.as_ref().unwrap_or(&paths.log);
    let log_is_new = std::fs::symlink_metadata(log_path).is_err();
    let log = match CappedLog::open(log_path, LOG_CAP_BYTES) {
        Ok(l) => l,
        Err(e) => {
            pidfile.remove();
            let msg = format!("cannot open log file {}: {e}", log_path.display());
            return ready.fail(1, "log_file", &msg);
        }
    };

    become_subreaper();
    let tree_token = become_supervisor();
    let spec = SpawnSpec {
        argv: launch.command.clone(),
        cwd: launch.cwd.clone(),
        env: child_env(&launch, &tree_token),
        cols: launch.config.cols,
        rows: launch.config.rows,
    };
    let child = match spawn(&spec) {
        Ok(c) => c,
        Err(e) => {
            pidfile.remove();
            // A session that never ran leaves no files behind.
            if log_is_new {
                let _ = std::fs::remove_file(log_path);
            }
            let kind = match e.exit_code() {
                127 => "command_not_found",
                126 => "not_executable",
                _ => "spawn_failed",
            };
            return ready.fail(e.exit_code(), kind, &e.to_string());
        }
    };
    let grace = Duration::from_millis(launch.config.kill_grace_ms);
    let guardian = if launch.config.kill_process_group {
        spawn_guardian(child.pid, grace).ok()
    } else {
        None
    };
    let (guardian_pid, lifeline) = match guardian {
        Some((p, l)) => (Some(p), Some(l)),
        None => (None, None),
    };
    init_logging(&launch.config, log, foreground);
    let command = launch.command_text();
    tracing::info!(id = %launch.id, pid = child.pid.as_raw(), ?command, "session started");

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = nix::sys::signal::kill(child.pid, nix::sys::signal::Signal::SIGKILL);
            pidfile.remove();
            return ready.fail(1, "failed", &format!("cannot start the runtime: {e}"));
        }
    };
    let cwd = launch.cwd.to_string_lossy().into_owned();
    let code = runtime.block_on(async {
        let session = match Session::new(
            launch.id.clone(),
            command,
            cwd,
            child.pid,
            guardian_pid,
            child.master,
            launch.config.clone(),
        ) {
            Ok(s) => s,
            Err(e) => {
                let _ = nix::sys::signal::kill(child.pid, nix::sys::signal::Signal::SIGKILL);
                return Err(ready.fail(1, "failed", &format!("cannot watch the pty: {e}")));
            }
        };
        if let Some(l) = &lifeline {
            // What the guardian records should this process die.
            let dir = std::path::absolute(dir.path()).unwrap_or_else(|_| dir.path().into());
            l.brief(&dir, &death_record(&session));
        }
        let listener = match crate::server::bind(&paths.sock) {
            Ok(l) => l,
            Err(e) => {
                let _ = session.target.signal(nix::sys::signal::Signal::SIGKILL);
                let msg = format!("cannot listen on {}: {e}", paths.sock.display());
                return Err(ready.fail(1, "failed", &msg));
            }
        };
        // Only now: pids in the pidfile of a live supervisor say that it
        // listens (a client that finds its socket gone then says so).
        let _ = pidfile.write(std::process::id() as i32, child.pid.as_raw());
        ready.ok();
        Ok(serve(session, listener, &paths, launch.hold_for_client).await)
    });
    let code = match code {
        Ok((code, _signal)) => code,
        Err(code) => code,
    };
    drop(runtime);
    let _ = std::fs::remove_file(&paths.sock);
    pidfile.remove();
    if let Some(l) = lifeline {
        l.release();
    }
    code
}

async fn serve(
    session: Arc<Session>,
    listener: tokio::net::UnixListener,
    paths: &SessionPaths,
    hold_for_client: bool,
) -> ExitStatus {
    let connections = TaskTracker::new();
    let accept = tokio::spawn(crate::server::accept_loop(
        session.clone(),
        listener,
        connections.clone(),
    ));
    let signals = watch_signals(session.clone());
    let _ = termination_signals().thread_unblock();
    let helpers = [
        tokio::spawn(session.input_writer()),
        tokio::spawn(session.clone().classifier_timer()),
        tokio::spawn(session.clone().reaper()),
        tokio::spawn(session.clone().screen_syncer()),
        tokio::spawn(crate::classify::waiting::watch::run(session.clone())),
        tokio::spawn(signals),
        tokio::spawn(session.clone().echo_poller()),
    ];
    if hold_for_client {
        // `hm run` reads the output from its first byte (into a pipe it
        // must lose none): the pty waits for its subscription.
        let mut exit = session.watch_exit();
        tokio::select! {
            _ = session.output.first_subscriber() => {}
            // What it wrote fits in the pty's buffer and the ring.
            _ = exit.wait_for(Option::is_some) => {}
            _ = tokio::time::sleep(HOLD_TIMEOUT) => {}
        }
    }
    session.pump().await;
    let status = session.finish().await;
    // (A session killed on purpose is not held.)
    if hold_for_client && !session.is_killed() {
        let _ = tokio::time::timeout(HOLD_TIMEOUT, session.output.first_subscriber()).await;
    }
    tracing::info!(code = status.0, "session ended");
    let cleanup = session.target.group.then(|| {
        let target = session.target;
        let grace = Duration::from_millis(session.config.kill_grace_ms);
        tokio::spawn(async move { target.terminate(grace).await })
    });
    let (tail_offset, tail) = session.output.tail(TAIL_BYTES);
    let output_tail = String::from_utf8_lossy(&tail).into_owned();
    let output_tail_bytes = (output_tail.as_bytes() != tail).then_some(tail);
    let record = ExitRecord {
        id: session.id.clone(),
        command: session.command.clone(),
        cwd: session.cwd.clone(),
        pid: session.pid().as_raw() as u32,
        code: status.0,
        signal: status.1,
        started_at: rfc3339_millis(session.started_at),
        ended_at: rfc3339_micros(session.exited_at().unwrap_or_else(SystemTime::now)),
        output_tail,
        output_tail_bytes,
        output_tail_offset: Some(tail_offset),
        output_offset: Some(session.output.end()),
        screen: session.screen_lines(),
        final_screen: session
            .screen_snapshot(ScreenFormat::Text, RECORDED_SCROLLBACK)
            .map(Box::new),
        final_screen_ansi: session
            .screen_snapshot(ScreenFormat::Ansi, RECORDED_SCROLLBACK)
            .map(Box::new),
        supervisor_died: false,
    };
    if let Err(e) = record.write(&paths.exit) {
        tracing::warn!("cannot write the exit record {}: {e}", paths.exit.display());
    }
    session.end();
    accept.abort();
    connections.close();
    if tokio::time::timeout(FLUSH_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        session.close_unheld();
        connections.wait().await;
    }
    if let Some(c) = cleanup {
        let _ = c.await;
    }
    for h in helpers {
        h.abort();
    }
    status
}

/// The exit record of `session` as far as it is known at its start: what
/// the guardian completes and writes if this supervisor dies
/// ([`crate::lifecycle::Lifeline::brief`]).
fn death_record(session: &Session) -> ExitRecord {
    ExitRecord {
        id: session.id.clone(),
        command: session.command.clone(),
        cwd: session.cwd.clone(),
        pid: session.pid().as_raw() as u32,
        code: 0,
        signal: None,
        started_at: rfc3339_millis(session.started_at),
        ended_at: String::new(),
        output_tail: String::new(),
        output_tail_bytes: None,
        output_tail_offset: None,
        output_offset: None,
        screen: None,
        final_screen: None,
        final_screen_ansi: None,
        supervisor_died: true,
    }
}

fn termination_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for sig in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT] {
        set.add(sig);
    }
    set
}

/// Register for SIGTERM, SIGHUP and SIGINT now; the returned future kills
/// the session when one arrives.
fn watch_signals(session: Arc<Session>) -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut streams = Vec::new();
    for k in [
        SignalKind::terminate(),
        SignalKind::hangup(),
        SignalKind::interrupt(),
    ] {
        match signal(k) {
            Ok(s) => streams.push(s),
            Err(e) => tracing::warn!("cannot watch signal {k:?}: {e}"),
        }
    }
    async move {
        if streams.is_empty() {
            return;
        }
        loop {
            let any =
                futures_util::future::select_all(streams.iter_mut().map(|s| Box::pin(s.recv())));
            let _ = any.await;
            tracing::info!("supervisor signalled; ending the session");
            session.kill();
        }
    }
}
