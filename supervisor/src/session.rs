//! One supervised session: the state every task and connection shares,
//! and the answers to HELLO and STATUS. Its jobs live in one module each:
//!
//! - [`pump`]: reads the pty into the output ring (paced by
//!   [`Output::wait_for_room`]), feeding the classifier and the screen model;
//! - [`terminal`]: input to the pty (written completely and in order by
//!   [`PtyInput`]), its size, signals to its foreground job;
//! - [`screen_feed`]: keeps the screen model parsed up to the output;
//! - [`state`]: the classifier's state, overlays and its deadline timer;
//! - [`window_size`]: who sets the terminal's size, and whose size comes
//!   back when that connection goes;
//! - [`ending`]: kill, the reaper (SIGCHLD), the finish after the pump.

mod ending;
mod pump;
mod screen_feed;
mod state;
mod terminal;
mod viewers;
mod window_size;

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use heimdall_protocol::{Event, HelloResp, SessionInfo, StatusResp};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{broadcast, watch, Notify};

use crate::classify::Tracker;
use crate::config::Config;
use crate::input::PtyInput;
use crate::lifecycle::Target;
use crate::output::{Output, OutputConfig};
use crate::sync::lock;

pub use screen_feed::ScreenState;
pub use terminal::InputRefused;
pub use viewers::Viewer;
pub use window_size::SizeClaim;

/// Events kept for EVENTS listeners that fall behind.
const EVENT_BACKLOG: usize = 1024;

/// How the child ended: exit code (128+N for signal N) and the signal.
pub type ExitStatus = (i32, Option<i32>);

/// Extension requests and behaviours this supervisor serves (HELLO_RESP).
const FEATURES: &[&str] = &[
    "subscribe_from",
    "events",
    "signal",
    "lagged",
    "hold",
    "screen",
    "submit",
    "wait",
    "explain",
    "report",
    "input_errors",
    "cancel",
];

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
    size_requests: Mutex<window_size::SizeRequests>,
    /// The process session ids of the viewers' clients (see `viewers`).
    viewers: Mutex<Vec<u32>>,
    next_connection: AtomicU64,
    events: broadcast::Sender<Event>,
    input: Arc<PtyInput>,
    /// The pty master, watched for writability only (the pump reads
    /// through a registration of its own).
    master: Arc<AsyncFd<OwnedFd>>,
    exit: watch::Sender<Option<ExitStatus>>,
    /// When the reaper saw the child's exit (the exit record's `ended_at`).
    exited_at: std::sync::OnceLock<SystemTime>,
    ended: watch::Sender<bool>,
    /// Cancelled when connections have been served for the longest time
    /// after the end: all but the holding ones close.
    overtime: tokio_util::sync::CancellationToken,
    killing: AtomicBool,
    kick: Notify,
    /// The waiting detector's state (see [`crate::classify::waiting::watch`]).
    pub waiting: crate::classify::waiting::watch::Cell,
    /// Held by the SUBMIT typing now: one SUBMIT at a time types its text,
    /// its Enter and waits for the reaction, so lines never interleave.
    pub submit_turn: tokio::sync::Mutex<()>,
    /// When to poll for the reaction to input rather than sleep.
    echo_poll: crate::echo_poll::EchoPoll,
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
        // Only writability: the pump reads through a registration of its
        // own, which it drops while a thread reads a flood (see `pump`).
        // SAFETY: the OwnedFd stays open, and is the same fd, for as long as
        // the AsyncFd that owns it lives.
        let master = Arc::new(
            unsafe { AsyncFd::register_with_interest(master, Interest::WRITABLE) }
                .map_err(|e| e.into_parts().1)?,
        );
        let input = Arc::new(PtyInput::new(master.clone()));
        let now = Instant::now();
        let output = Output::new(OutputConfig {
            scrollback: config.scrollback_bytes,
            live_window: config.live_window_bytes,
            stall_timeout: Duration::from_millis(config.stall_timeout_ms),
        });
        if config.screen_model {
            // What the screen model skips is read as it leaves the ring.
            output.skim_evicted();
        }
        let session = Session {
            id,
            command,
            cwd,
            started_at: SystemTime::now(),
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
            size_requests: Mutex::default(),
            viewers: Mutex::default(),
            next_connection: AtomicU64::new(0),
            screen: config.screen_model.then(|| {
                Mutex::new(ScreenState::new(
                    config.cols,
                    config.rows,
                    config.screen_scrollback_lines,
                    now,
                ))
            }),
            screen_due: Notify::new(),
            screen_now: AtomicBool::new(false),
            output,
            events: broadcast::Sender::new(EVENT_BACKLOG),
            input,
            master,
            exit: watch::Sender::new(None),
            exited_at: std::sync::OnceLock::new(),
            ended: watch::Sender::new(false),
            overtime: Default::default(),
            killing: AtomicBool::new(false),
            kick: Notify::new(),
            waiting: Default::default(),
            submit_turn: tokio::sync::Mutex::new(()),
            echo_poll: crate::echo_poll::EchoPoll::new(Duration::from_micros(config.echo_poll_us)),
            config,
        };
        Ok(Arc::new(session))
    }

    /// The child's pid.
    pub fn pid(&self) -> Pid {
        self.target.child
    }

    /// Events for an EVENTS listener.
    pub fn subscribe_events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Send an event to EVENTS listeners.
    pub fn emit_event(&self, event: Event) {
        let _ = self.events.send(event);
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
                started_at: crate::exit_record::rfc3339_millis(self.started_at),
                cols,
                rows,
                classifier: lock(&self.tracker).name().to_string(),
            },
            output_offset: self.output.end(),
            scrollback_offset: self.output.replay_start(),
            viewers: self.viewer_sids(),
        }
    }
}
