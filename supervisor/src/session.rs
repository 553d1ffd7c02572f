//! One supervised session: the shared state every task and connection sees,
//! and the tasks that move bytes between the pty and the clients.
//!
//! - the **pump** reads the pty (paced by [`Output::wait_for_room`]), feeds
//!   the classifier and appends to the output ring;
//! - the **input writer** ([`PtyInput`]) writes INPUT to the pty completely and in order;
//! - the **classifier timer** wakes at the classifier's next deadline;
//! - the **reaper** collects exit statuses (SIGCHLD).

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use heimdall_protocol::{Event, HelloResp, SessionInfo, SignalTarget, State, StatusResp};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch, Notify};

use crate::classify::Tracker;
use crate::config::Config;
use crate::input::PtyInput;
use crate::lifecycle::{exit_code, Target};
use crate::output::{Output, OutputConfig};
use crate::screen::{ScreenModel, REPLAY_TAIL, SKIP_OVER};
use crate::sync::lock;

/// Pty reads go into blocks of this size; one batch of reads fills at most one.
const READ_BLOCK: usize = crate::output::MAX_CHUNK;
/// A read needs at least this much room, else a new block is started.
const MIN_READ: usize = 4096;
/// A read this large means the pty buffer was full: a flood is under way.
const FULL_READ: usize = 4095;
/// During a flood, subscribers are woken once this much has been gathered…
const FLOOD_BATCH: usize = 64 * 1024;
/// …or this long after the first byte they have not been told about.
const FLOOD_DELAY: Duration = Duration::from_millis(2);
/// After the child exits, the pty is drained until it is quiet this long…
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// …or at most this long (a grandchild may hold the pty and keep writing).
const DRAIN_MAX: Duration = Duration::from_secs(1);
/// Events kept for EVENTS listeners that fall behind.
const EVENT_BACKLOG: usize = 1024;

/// How the child ended: exit code (128+N for signal N) and the signal.
pub type ExitStatus = (i32, Option<i32>);

/// The screen model and how far into the output it has parsed.
pub struct ScreenState {
    /// The emulator.
    pub model: ScreenModel,
    /// Output offset parsed up to.
    pub parsed: u64,
    /// When output was last parsed.
    synced_at: Instant,
}

/// Extension requests and behaviours this supervisor serves (HELLO_RESP).
const FEATURES: &[&str] = &[
    "subscribe_from",
    "events",
    "signal",
    "lagged",
    "screen",
    "submit",
    "wait",
    "explain",
    "report",
];

/// How long parsing may lag behind a flood.
const SCREEN_LAG: Duration = Duration::from_millis(50);

/// The state shared by a session's tasks and connections.
pub struct Session {
    /// The session id.
    pub id: String,
    /// The command and arguments.
    pub command: Vec<String>,
    /// The child's working directory.
    pub cwd: String,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// Monotonic start.
    pub started: Instant,
    /// Who gets signals.
    pub target: Target,
    /// The configuration in force.
    pub config: Config,
    /// The output stream.
    pub output: Arc<Output>,
    tracker: Mutex<Tracker>,
    screen: Option<Mutex<ScreenState>>,
    screen_due: Notify,
    screen_now: AtomicBool,
    size: Mutex<(u16, u16)>,
    events: broadcast::Sender<Event>,
    input: Arc<PtyInput>,
    master: Arc<AsyncFd<OwnedFd>>,
    exit: watch::Sender<Option<ExitStatus>>,
    ended: watch::Sender<bool>,
    killing: AtomicBool,
    kick: Notify,
    /// The waiting detector's state (see [`crate::classify::waiting::watch`]).
    pub waiting: crate::classify::waiting::watch::Cell,
}

impl Session {
    /// A session around a started child whose pty master is `master`.
    pub fn new(
        id: String,
        command: Vec<String>,
        cwd: String,
        child: Pid,
        spare: Option<Pid>,
        master: OwnedFd,
        config: Config,
    ) -> std::io::Result<Arc<Session>> {
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        // SAFETY: the OwnedFd stays open, and is the same fd, for as long as
        // the AsyncFd that owns it lives.
        let master = Arc::new(unsafe { AsyncFd::register(master) }.map_err(|e| e.into_parts().1)?);
        let input = Arc::new(PtyInput::new(master.clone()));
        let now = Instant::now();
        let output = Output::new(OutputConfig {
            scrollback: config.scrollback_bytes,
            live_window: config.live_window_bytes,
            stall_timeout: Duration::from_millis(config.stall_timeout_ms),
        });
        let session = Session {
            id,
            command,
            cwd,
            started_at: SystemTime::now(),
            started: now,
            target: Target {
                child,
                group: config.kill_process_group,
                spare,
            },
            tracker: Mutex::new(Tracker::new(
                config.classifier,
                config.classifier_params,
                now,
            )),
            size: Mutex::new((config.cols, config.rows)),
            screen: config.screen_model.then(|| {
                Mutex::new(ScreenState {
                    model: ScreenModel::new(
                        config.cols,
                        config.rows,
                        config.screen_scrollback_lines,
                    ),
                    parsed: 0,
                    synced_at: now,
                })
            }),
            screen_due: Notify::new(),
            screen_now: AtomicBool::new(false),
            output,
            events: broadcast::Sender::new(EVENT_BACKLOG),
            input,
            master,
            exit: watch::Sender::new(None),
            ended: watch::Sender::new(false),
            killing: AtomicBool::new(false),
            kick: Notify::new(),
            waiting: Default::default(),
            config,
        };
        Ok(Arc::new(session))
    }

    /// The child's pid.
    pub fn pid(&self) -> Pid {
        self.target.child
    }

    /// The child's exit, once it happened.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// A receiver that sees the child's exit.
    pub fn watch_exit(&self) -> watch::Receiver<Option<ExitStatus>> {
        self.exit.subscribe()
    }

    /// A receiver that turns `true` when the session is over and
    /// connections should finish.
    pub fn watch_ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// Events for an EVENTS listener.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Send an event to EVENTS listeners.
    pub fn emit_event(&self, event: Event) {
        self.emit(event);
    }

    /// Set (or lift) the state that wins over the classifier's (waiting,
    /// a program's report), announcing the change.
    pub fn set_overlay(&self, overlay: Option<State>, reason: &str) {
        let change = lock(&self.tracker).set_overlay(Instant::now(), overlay, reason);
        if let Some(c) = change {
            self.emit_state(c);
        }
    }

    /// The state, and the classifier's own state beneath any overlay.
    pub fn states(&self) -> (State, State) {
        let t = lock(&self.tracker);
        (t.state(), t.classifier_state())
    }

    /// The classifier's name.
    pub fn classifier_name(&self) -> &'static str {
        lock(&self.tracker).name()
    }

    /// The pty master (for asking the terminal about its foreground process).
    pub fn master_fd(&self) -> std::os::fd::RawFd {
        self.master.as_raw_fd()
    }

    /// Time since the child last wrote output.
    pub fn idle_for(&self) -> Duration {
        lock(&self.tracker).idle_for(Instant::now())
    }

    /// The current classifier state.
    pub fn state(&self) -> State {
        lock(&self.tracker).state()
    }

    /// The 15-byte status of heimdall 1.0.
    pub fn status(&self) -> StatusResp {
        let now = Instant::now();
        let t = lock(&self.tracker);
        let ms = |d: Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        StatusResp {
            pid: self.pid().as_raw() as u32,
            idle_ms: ms(t.idle_for(now)),
            alive: self.exit_status().is_none(),
            state: t.state(),
            state_ms: ms(t.state_for(now)),
        }
    }

    /// The answer to HELLO.
    pub fn hello(&self) -> HelloResp {
        let (cols, rows) = *lock(&self.size);
        HelloResp {
            protocol: heimdall_protocol::PROTOCOL_VERSION,
            server: "hm".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            features: FEATURES
                .iter()
                .copied()
                .filter(|f| self.screen.is_some() || !matches!(*f, "screen" | "submit"))
                .map(String::from)
                .collect(),
            session: SessionInfo {
                id: self.id.clone(),
                pid: self.pid().as_raw() as u32,
                pgid: self.pid().as_raw() as u32,
                supervisor_pid: std::process::id(),
                command: self.command.clone(),
                cwd: self.cwd.clone(),
                started_at: crate::exit_record::rfc3339(self.started_at),
                cols,
                rows,
                classifier: lock(&self.tracker).name().to_string(),
            },
            output_offset: self.output.end(),
            scrollback_offset: self.output.replay_start(),
        }
    }

    /// Write bytes to the child's terminal, completely and in order. Waits
    /// only while much input is queued (the child reads slowly); dropped
    /// once the child is gone.
    pub async fn input(&self, bytes: Bytes) {
        if self.exit_status().is_none() {
            crate::classify::waiting::watch::on_input(self);
            self.input.send(bytes).await;
        }
    }

    /// The task that writes queued input.
    pub fn input_writer(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.input.clone().run()
    }

    /// Set the terminal size (the kernel sends SIGWINCH to the foreground
    /// process group when it changes).
    pub fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize from the pointer.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(mut st) = self.screen() {
            st.model.resize(cols, rows);
        }
        let changed = {
            let mut size = lock(&self.size);
            std::mem::replace(&mut *size, (cols, rows)) != (cols, rows)
        };
        if changed {
            self.emit(Event::Resize { cols, rows });
        }
        Ok(())
    }

    /// Send a signal to the terminal's foreground process group (what
    /// Ctrl-C reaches) or to the child's process group. Returns the process
    /// group (or, with `kill_process_group = false`, the process) signalled.
    pub fn signal(&self, sig: Signal, target: SignalTarget) -> Result<i32, Errno> {
        if target == SignalTarget::Foreground {
            // SAFETY: tcgetpgrp on the pty master, an fd this session owns.
            let pgrp = unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) };
            if pgrp > 0 {
                return nix::sys::signal::killpg(Pid::from_raw(pgrp), sig).map(|()| pgrp);
            }
            // No foreground group (the child has not yet, or no longer,
            // a controlling terminal): its own group is the next best thing.
        }
        self.target.signal_group(sig).map(|()| self.pid().as_raw())
    }

    /// Whether someone asked for the session to be killed.
    pub fn is_killed(&self) -> bool {
        self.killing.load(Ordering::Acquire)
    }

    /// Kill the session: SIGTERM to the tree, SIGKILL after the grace period.
    /// Only the first call acts.
    pub fn kill(self: &Arc<Self>) {
        if self.killing.swap(true, Ordering::AcqRel) || self.exit_status().is_some() {
            return;
        }
        tracing::info!("killing the session");
        let me = self.clone();
        tokio::spawn(async move {
            me.target
                .terminate(Duration::from_millis(me.config.kill_grace_ms))
                .await;
        });
    }

    /// Feed a chunk to the classifier and the ring; wake subscribers unless
    /// `gather` (a flood is under way and more is coming).
    fn on_output(&self, chunk: Bytes, gather: bool) {
        let now = Instant::now();
        let (change, kick) = {
            let mut t = lock(&self.tracker);
            let before = t.next_deadline();
            let change = t.on_output(now, chunk.len());
            let after = t.next_deadline();
            let kick = match (before, after) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(b), Some(a)) => a < b,
            };
            (change, kick)
        };
        self.output.append(chunk);
        if !gather || self.output.unwoken() >= FLOOD_BATCH {
            self.output.wake();
        }
        if let Some(screen) = &self.screen {
            // Output after a pause is parsed at once; a stream of output at
            // most every SCREEN_LAG (see `crate::screen`).
            // Either way the parse runs in the syncer task, after the
            // subscribers woken above have written this output.
            let recent = now.saturating_duration_since(lock(screen).synced_at) < SCREEN_LAG;
            if !gather && !recent {
                self.screen_now.store(true, Ordering::Release);
            }
            self.screen_due.notify_one();
        }
        if kick || change.is_some() {
            self.kick.notify_one();
        }
        if let Some(c) = change {
            self.emit_state(c);
        }
    }

    /// The screen model, brought up to date with the output (see
    /// [`crate::screen`] for how floods are skipped). `None` when the screen
    /// model is turned off.
    pub fn screen(&self) -> Option<MutexGuard<'_, ScreenState>> {
        let mut st = lock(self.screen.as_ref()?);
        let end = self.output.end();
        if st.parsed < end {
            let mut from = st.parsed;
            if end - from > SKIP_OVER as u64 {
                from = end - REPLAY_TAIL as u64;
            }
            let (_, slices) = self.output.slices_from(from);
            let mut bells = 0;
            let mut title = None;
            for s in &slices {
                let n = st.model.feed(s);
                bells += n.bells;
                title = n.title.or(title);
            }
            st.parsed = end;
            st.synced_at = Instant::now();
            if let Some(title) = title {
                self.emit(Event::Title { title });
            }
            for _ in 0..bells.min(16) {
                self.emit(Event::Bell);
            }
        }
        Some(st)
    }

    /// The visible screen as text lines, if there is a screen model.
    pub fn screen_lines(&self) -> Option<Vec<String>> {
        self.screen().map(|st| st.model.lines())
    }

    /// Parse output: at once after a pause, during a stream at most
    /// [`SCREEN_LAG`] after the previous parse.
    pub async fn screen_syncer(self: Arc<Self>) {
        let Some(screen) = &self.screen else { return };
        loop {
            self.screen_due.notified().await;
            if !self.screen_now.swap(false, Ordering::AcqRel) {
                let at = lock(screen).synced_at + SCREEN_LAG;
                tokio::time::sleep_until(at.into()).await;
            }
            drop(self.screen());
        }
    }

    fn emit_state(&self, c: crate::classify::Change) {
        let classifier = lock(&self.tracker).name().to_string();
        self.emit(Event::State {
            old: c.old.into(),
            new: c.new.into(),
            classifier,
            reason: c.reason,
        });
    }

    /// Run the pump until the pty closes, or the child has exited and the
    /// pty has been drained.
    pub async fn pump(&self) {
        let mut buf = BytesMut::with_capacity(READ_BLOCK);
        let mut exit = self.exit.subscribe();
        let mut exited_at: Option<Instant> = None;
        let mut last_data = Instant::now();
        // When the first byte subscribers have not been woken for arrived.
        let mut gathering: Option<Instant> = None;
        loop {
            let paced_from = Instant::now();
            self.output.wait_for_room().await;
            if let Some(at) = exited_at.as_mut() {
                // Time a slow subscriber held the pump back does not count
                // as draining: what the pty still holds is read afterwards.
                *at += paced_from.elapsed();
            }
            if self.output.unwoken() == 0 {
                gathering = None;
            }
            let wake_at = gathering.map(|t| t + FLOOD_DELAY);
            let ready = match exited_at {
                Some(at) => {
                    let until = (last_data.max(at) + DRAIN_QUIET).min(at + DRAIN_MAX);
                    tokio::select! {
                        r = self.master.readable() => r,
                        _ = tokio::time::sleep_until(until.into()) => break,
                    }
                }
                None => tokio::select! {
                    r = self.master.readable() => r,
                    _ = exit.wait_for(Option::is_some) => {
                        exited_at = Some(Instant::now());
                        continue;
                    }
                    _ = async { tokio::time::sleep_until(wake_at.unwrap_or_else(Instant::now).into()).await }, if wake_at.is_some() => {
                        self.output.wake();
                        gathering = None;
                        continue;
                    }
                },
            };
            let Ok(mut guard) = ready else { break };
            let fd = self.master.as_raw_fd();
            let mut eof = false;
            let mut last_read = 0usize;
            loop {
                if buf.capacity() - buf.len() < MIN_READ || buf.len() >= READ_BLOCK {
                    if !buf.is_empty() {
                        break;
                    }
                    buf.reserve(READ_BLOCK);
                }
                let room = READ_BLOCK - buf.len();
                let spare = buf.spare_capacity_mut();
                let room = room.min(spare.len());
                let spare = &mut spare[..room];
                // SAFETY: reading into the buffer's spare capacity; only the
                // bytes read are marked initialised.
                let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
                if n > 0 {
                    // SAFETY: the kernel initialised `n` bytes.
                    unsafe { buf.set_len(buf.len() + n as usize) };
                    last_read = n as usize;
                    if last_read < FULL_READ.min(room) {
                        // A short read drained the pty. Readiness is edge-
                        // triggered and the reactor has not run since the
                        // read, so new data raises a new edge: skip the
                        // EAGAIN read (it costs a syscall per keystroke).
                        // A full read means a flood: read on, the child is
                        // refilling the pty meanwhile.
                        guard.clear_ready();
                        break;
                    }
                    continue;
                }
                if n == 0 {
                    eof = true;
                    break;
                }
                match Errno::last() {
                    Errno::EAGAIN => {
                        guard.clear_ready();
                        break;
                    }
                    Errno::EINTR => continue,
                    // EIO: every slave fd is closed.
                    _ => {
                        eof = true;
                        break;
                    }
                }
            }
            if !buf.is_empty() {
                last_data = Instant::now();
                // A full read means the child is writing faster than this:
                // gather more before waking every subscriber.
                let flood = last_read >= FULL_READ && !eof && exited_at.is_none();
                self.on_output(buf.split().freeze(), flood);
                if flood {
                    gathering.get_or_insert(last_data);
                }
            }
            if eof {
                break;
            }
        }
        self.output.wake();
    }

    /// Wake at the classifier's deadlines (idle after silence, debounce).
    pub async fn classifier_timer(self: Arc<Self>) {
        loop {
            let notified = self.kick.notified();
            let deadline = lock(&self.tracker).next_deadline();
            match deadline {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(d.into()) => {}
                        _ = notified => continue,
                    }
                }
                None => {
                    notified.await;
                    continue;
                }
            }
            let change = lock(&self.tracker).poll(Instant::now());
            if let Some(c) = change {
                self.emit_state(c);
            }
        }
    }

    /// Reap children on SIGCHLD; record the child's exit status.
    pub async fn reaper(self: Arc<Self>) {
        let mut sigchld = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot watch SIGCHLD: {e}");
                return;
            }
        };
        loop {
            // Reap first: the child may have exited before the handler existed.
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(status) => {
                        if status.pid() == Some(self.pid()) {
                            if let Some(code) = exit_code(status) {
                                tracing::info!(code = code.0, "child exited");
                                self.exit.send_replace(Some(code));
                            }
                        }
                    }
                }
            }
            if sigchld.recv().await.is_none() {
                return;
            }
        }
    }

    /// After the pump ended: wait for the child's status, mark the state
    /// dead, announce the exit and close the output stream.
    pub async fn finish(&self) -> ExitStatus {
        let mut exit = self.exit.subscribe();
        let status = match exit.wait_for(Option::is_some).await {
            Ok(s) => (*s).unwrap_or((1, None)),
            Err(_) => (1, None),
        };
        drop(self.screen());
        let change = lock(&self.tracker).dead(Instant::now());
        if let Some(c) = change {
            self.emit_state(c);
        }
        self.input.close();
        self.emit(Event::Exit {
            code: status.0,
            signal: status.1,
        });
        self.output.close();
        status
    }

    /// Tell connections the session is over.
    pub fn end(&self) {
        self.ended.send_replace(true);
    }
}
