//! `hm attach ID`: this terminal becomes the session's terminal.
//!
//! Raw mode for the duration, always restored (detach, session exit,
//! SIGTERM/SIGHUP, a closed socket, an error, a panic); keystrokes pass
//! through; the detach key (default Ctrl-\) detaches; the terminal size is
//! sent on attach and on every SIGWINCH (the latest attach or resize wins;
//! its size goes when it detaches). A stop (SIGTSTP) hands the terminal
//! back until hm is continued, which takes it again ([`job_control`]).
//! Without a terminal on stdin it refuses, unless read-only, which then
//! watches until stdin ends (`hm run` streams until the program ends).
//!
//! `hm run` without a terminal (stdin or stdout not one: a pipe, CI)
//! stands for the program: SIGINT, SIGQUIT, SIGTERM and SIGHUP go to it
//! ([`forwarded_signal`]) and it exits with the program's code; when its
//! stdout's reader goes the program gets SIGPIPE and the session is ended,
//! and hm run exits 141 ([`Attached::end_session`]). `hm attach` (which
//! did not start the session) and `hm run` at a terminal detach on those
//! signals, the session running on.
//!
//! On attach the session's screen model paints the picture at once (modes,
//! contents, cursor), then live output continues from exactly the offset
//! that picture reflects. With the status bar (the default) the program gets
//! one row less and [`view::View`] renders its screen above the bar. When
//! another terminal gives the session another size (a `resize` event), a
//! new picture says which; a terminal of another size is drawn by the view,
//! clipped, and without the bar one of the session's size gets the output
//! as it is again.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Args;
use futures_util::StreamExt;
use heimdall_client::{
    Client, ClientError, Event, EventItem, EventStream, OutputItem, OutputStream, Pacing,
    ScreenFormat, ScreenRequest, ScreenResp, SignalSpec, SignalTarget,
};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

use super::common::{connect, exit_recorded, live_session, Coded};
use super::stdout_gone::stdout_gone;
use super::{say, Common};
use crate::config::{Config, DetachKey};
use crate::frame_hold::{FrameHold, END};

mod alt_screen;
mod attach_loop;
mod detach;
mod extended_keys;
mod forwarded_signal;
mod job_control;
mod modes;
mod mouse;
mod outbox;
mod recorded;
mod stream;
mod view;

use forwarded_signal::ForwardedSignals;
use job_control::{Job, JobSignals};
use outbox::Outbox;
use recorded::Shown;
use stream::{Snapshot, Stream};

/// Arguments of `hm attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Session id
    pub id: String,
    /// Watch only: never send input or resize the session (the detach key still detaches;
    /// without a terminal on stdin, the end of stdin detaches)
    #[arg(long)]
    pub read_only: bool,
    /// No status bar: the program's output goes to the terminal as it is
    #[arg(long)]
    pub no_status_bar: bool,
    #[command(flatten)]
    pub detach_key: DetachKeyArg,
}

/// `--detach-key`, of `hm attach` and `hm run`.
#[derive(Debug, Args)]
pub struct DetachKeyArg {
    /// The key that detaches, over the config's detach_key: ctrl-], C-\, ^A, a byte (0x1D,
    /// 29), or none (no key detaches). Inside a session attached with the same key, give
    /// this one another: the outer attach takes its key first
    #[arg(long, value_name = "KEY", value_parser = crate::config::parse_detach_key)]
    pub detach_key: Option<DetachKey>,
}

/// How to attach.
#[derive(Debug, Clone, Copy)]
pub struct AttachOptions {
    /// Never send input or resizes.
    pub read_only: bool,
    /// Show the status bar (None: as configured).
    pub status_bar: Option<bool>,
    /// Without a terminal on stdin, stream the output until the session
    /// ends (`hm run` in a script or CI). Otherwise attaching needs a
    /// terminal on stdin, or `read_only`, which then ends at EOF on stdin.
    pub stream_without_terminal: bool,
    /// The detach key given on the command line (None: as configured).
    pub detach_key: Option<DetachKey>,
}

/// Restores the terminal's mode when dropped.
struct TerminalGuard {
    saved: Termios,
}

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<TerminalGuard> {
        let saved =
            termios::tcgetattr(stdin_fd()).context("hm attach needs a terminal on stdin")?;
        let guard = TerminalGuard { saved };
        guard.raw()?;
        Ok(guard)
    }

    /// Raw mode (again, once continued after a stop: the shell had the
    /// terminal meanwhile).
    fn raw(&self) -> anyhow::Result<()> {
        let mut raw = self.saved.clone();
        termios::cfmakeraw(&mut raw);
        // TCSANOW, not TCSAFLUSH: keys typed while hm starts are the user's
        // type-ahead and go to the session (a flush lost them).
        termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw).context("cannot set raw mode")
    }

    /// The mode as it was before hm.
    fn restore(&self) {
        // After the output is written; what the user types meanwhile is
        // kept for the shell (TCSADRAIN does not discard input).
        let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        self.restore();
    }
}

/// The terminal on stdin, opened anew for reading without blocking.
///
/// Never stdin's own file description: stdin, stdout and stderr of a
/// terminal usually share one, and O_NONBLOCK set on it made writes to a
/// terminal that drains slowly (SSH during a flood) fail with EAGAIN
/// (issue #8 item 7). A file description of our own carries the flag alone.
fn open_terminal_input() -> anyhow::Result<OwnedFd> {
    let path = nix::unistd::ttyname(stdin_fd()).context("cannot name the terminal on stdin")?;
    let fd = nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_RDONLY
            | nix::fcntl::OFlag::O_NOCTTY
            | nix::fcntl::OFlag::O_NONBLOCK
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    Ok(fd)
}

/// The terminal size of stdout (or stdin), if it is a terminal.
pub fn terminal_size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize to the pointer.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some((ws.ws_col, ws.ws_row));
        }
    }
    None
}

/// The size an attach from this process gives the program, with the status
/// bar as `status_bar` says (None: as configured): the terminal's part above
/// the bar. None without a terminal on stdin and stdout (nothing is resized
/// then).
pub fn program_size_here(status_bar: Option<bool>, cfg: &Config) -> Option<(u16, u16)> {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return None;
    }
    let (cols, rows) = terminal_size()?;
    let bar = view::shows_bar(status_bar.unwrap_or(cfg.status_bar), rows);
    Some(view::program_area(cols, rows, bar))
}

/// Write all of `bytes` to stdout, waiting for a terminal that drains
/// slowly (also when someone else left it non-blocking: EAGAIN waits for
/// room, it is not an error).
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    // Past std's buffer (whatever it holds goes first), straight to fd 1.
    std::io::stdout().lock().flush()?;
    // SAFETY: fd 1 stays open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(1) };
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut p = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLOUT)];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::NONE);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Resolves when stdin (not a terminal, so read on a thread of its own:
/// /dev/null or a regular file cannot be polled) ends: EOF, a read error,
/// or the detach key. What it carries is not typed anywhere.
fn stdin_end(detach_key: Option<u8>) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut keys = detach::Scanner::new(detach_key);
        loop {
            match nix::unistd::read(stdin_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) if keys.find(&buf[..n], Instant::now()).is_some() => break,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => {
                    // Left non-blocking by someone else: wait for more.
                    let mut p = [nix::poll::PollFd::new(
                        stdin_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::NONE);
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(());
    });
    rx
}

/// How an attachment ended.
enum End {
    Detached,
    Exited(i32),
    Signalled,
    Closed,
    /// `hm run`'s stdout failed (its reader went: EPIPE) and the session
    /// was ended.
    OutputFailed(std::io::Error),
}

/// Input or a resize for a session that has just ended fails while the
/// rest of its output and its EXIT may still be on their way: such a
/// failure is not the outcome — the output stream says how the session
/// ended.
fn unless_gone(r: Result<(), ClientError>) -> anyhow::Result<()> {
    match r {
        Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => Ok(()),
        r => Ok(r?),
    }
}

/// The session's connection ended (the session ended, or its supervisor
/// went away).
fn connection_lost(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ClientError>(),
            Some(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed)
        )
    })
}

/// A call on its way, awaited beside the output (whose consumer its answer
/// may wait for, see [`Pacing::Hold`]).
type Call<T> = Pin<Box<dyn Future<Output = Result<T, ClientError>>>>;

/// A SCREEN call on its way (the repaint asked for).
type Repaint = Call<ScreenResp>;

/// The next output item; never, without an output stream.
async fn next_output(output: &mut Option<OutputStream>) -> Option<OutputItem> {
    match output {
        Some(o) => o.next().await,
        None => std::future::pending().await,
    }
}

/// The next event item (`None` when the stream ends); never, without an
/// event stream.
async fn next_event(events: &mut Option<EventStream>) -> Option<EventItem> {
    match events {
        Some(e) => e.next().await,
        None => std::future::pending().await,
    }
}

/// The call's answer; never, without one on its way.
async fn answered<T>(call: &mut Option<Call<T>>) -> Result<T, ClientError> {
    match call {
        Some(r) => r.await,
        None => std::future::pending().await,
    }
}

/// Whether this process runs on the terminal of the session whose child is
/// `child_pid` (the child leads the terminal's process session; a session
/// started inside it has its own).
fn inside_session(child_pid: u32) -> bool {
    nix::unistd::getsid(None).is_ok_and(|sid| i64::from(sid.as_raw()) == i64::from(child_pid))
}

/// Attach to `id` until detach or exit; returns the process exit code.
pub fn attach(common: &Common, id: &str, opts: AttachOptions) -> anyhow::Result<i32> {
    let (cfg, paths) = live_session(common, id)?;
    let detach_key = opts.detach_key.map_or(cfg.detach_key, |k| k.0);
    // Inside a session (its variable says which) with the key not given
    // here: the keys come through that session's attach, which may take
    // this key first (the bar and a line at the start say so).
    let outer = std::env::var(&cfg.session_env_var)
        .ok()
        .filter(|v| !v.is_empty() && opts.detach_key.is_none() && detach_key.is_some());
    // For messages: the command the user ran.
    let command = if opts.stream_without_terminal {
        "hm run"
    } else {
        "hm attach"
    };
    let stdin_is_terminal = std::io::stdin().is_terminal();
    if !stdin_is_terminal && !opts.read_only && !opts.stream_without_terminal {
        // Nothing could be typed and nothing would end it (issue #8 item 25).
        return Err(Coded {
            code: "usage".into(),
            message: format!(
                "hm attach needs a terminal on stdin; to watch without one: \
                 hm attach --read-only {id} (it detaches at the end of stdin)"
            ),
            exit: 2,
        }
        .into());
    }
    // A watcher without a terminal detaches when its input ends.
    let detach_at_eof = !stdin_is_terminal && !opts.stream_without_terminal;
    let status_bar = opts.status_bar.unwrap_or(cfg.status_bar);
    let rt = super::common::runtime()?;
    // Without a terminal (a script, CI) output streams as is and input
    // is not read; the exit code is still the child's.
    let interactive = stdin_is_terminal && std::io::stdout().is_terminal();
    // `hm run -- make | less`: the pipe is the program's output; the
    // program waits for its reader however long it takes, as it would
    // writing into the pipe itself ([`Pacing::Hold`]), and nothing is lost.
    // A watcher (`hm attach --read-only X | tee log`) never holds a session
    // others may use.
    let hold = opts.stream_without_terminal && !interactive;
    // What the terminal shows of the session when attach lets it go.
    let mut shown = if interactive {
        Shown::Nothing
    } else {
        Shown::OutputTo(0)
    };
    let end = rt.block_on(async {
        // A viewer: its terminal is listed while attached (attach loops).
        let builder = heimdall_client::ClientBuilder::new()
            .name("hm attach")
            .viewer(true);
        let client = if hold {
            // What waits in this process for the pipe: like a pipe's
            // buffer, small; the rest waits in the supervisor.
            connect(&paths, builder.output_bound(PIPE_BUFFER)).await?
        } else {
            connect(&paths, builder).await?
        };
        if client
            .hello()
            .is_some_and(|h| inside_session(h.session.pid))
        {
            // It would read its own output and type its own keys into the
            // session, round and round.
            return Err(Coded {
                code: "usage".into(),
                message: format!(
                    "this terminal is session {id}'s own: attaching to it from inside \
                     would feed it its own output; detach first, or attach from another terminal"
                ),
                exit: 2,
            }
            .into());
        }
        let dir = paths.sock.parent().unwrap_or(std::path::Path::new("."));
        if let Some(chain) = attach_loop::loop_through(dir, id).await {
            return Err(Coded {
                code: "usage".into(),
                message: format!(
                    "session {id} already shows this terminal ({}: each session is shown \
                     on the next one's terminal); attaching to it from here would feed their \
                     output to each other forever; detach there first, or attach from another \
                     terminal",
                    chain.join(" → ")
                ),
                exit: 2,
            }
            .into());
        }
        if let (true, Some(outer), Some(key)) = (interactive, &outer, detach_key) {
            say(&detach::nested_hint(key, outer, command));
        }
        let guard = if interactive {
            Some(TerminalGuard::enter()?)
        } else {
            None
        };
        let mut attached = Attached {
            id: id.to_string(),
            // (A heimdall 1.0 supervisor does not say when it started.)
            started: client
                .hello()
                .and_then(|h| super::common::since_rfc3339(&h.session.started_at))
                .map(|up| Instant::now() - up)
                .unwrap_or_else(Instant::now),
            state: "active".to_string(),
            detach_key,
            keys: detach::Scanner::new(detach_key),
            outer,
            read_only: opts.read_only || !interactive,
            interactive,
            view: None,
            frames: FrameHold::default(),
            status_bar: false,
            rendered_at: None,
            session_size: None,
            resized_to: None,
            history: true,
            painted: false,
            repaint_again: false,
            stream: Stream::new(),
            queries: Default::default(),
            alt_screen: Default::default(),
            at_line_start: true,
            repaints: true,
            pipe_run: opts.stream_without_terminal && !interactive,
            kill_bound: crate::lifecycle::kill_bound(cfg.kill_grace_ms),
            hold,
            keep_mouse: (opts.read_only && interactive).then(Default::default),
        };
        let stdin_end = detach_at_eof.then(|| stdin_end(detach_key));
        let result = attached
            .run(client, status_bar && interactive, stdin_end, guard.as_ref())
            .await;
        shown = attached.shown();
        if interactive {
            let _ = write_stdout(&attached.hand_back());
            // The program ended: leave its last screen on the terminal, as if
            // it had run there (`hm run -- make` shows make's last lines).
            if let (Ok(End::Exited(_)), Some(v)) = (&result, &attached.view) {
                let _ = write_stdout(&v.final_lines());
            }
        }
        drop(guard);
        result
    });
    // The connection ended without EXIT: the session ended as we
    // connected (before anything was painted, even), or its supervisor went
    // away (killed, say). Its exit record tells how it ended, and shows
    // what the terminal has not shown of its end.
    let recorded = match &end {
        Ok(End::Closed) => exit_recorded(&paths),
        Err(e) if connection_lost(e) => exit_recorded(&paths),
        _ => None,
    };
    let end = match (end, recorded) {
        (_, Some(rec)) => {
            let _ = write_stdout(&shown.completed_by(&rec));
            End::Exited(rec.code)
        }
        (Err(e), None) if connection_lost(&e) => End::Closed,
        (end, None) => end?,
    };
    let mut err = std::io::stderr();
    Ok(match end {
        End::Detached => {
            let _ = writeln!(
                err,
                "[detached from session {id}; reattach with: hm attach {id}]"
            );
            0
        }
        End::Exited(code) => {
            let _ = writeln!(err, "[session {id} exited with code {code}]");
            code
        }
        End::Signalled => {
            let _ = writeln!(err, "[{command} was signalled; session {id} keeps running]");
            1
        }
        // As a program that wrote into a closed pipe: killed by SIGPIPE,
        // without a word.
        End::OutputFailed(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 128 + libc::SIGPIPE,
        End::OutputFailed(e) => {
            let _ = writeln!(
                err,
                "[{command}: cannot write the output ({e}); session {id} ended]"
            );
            1
        }
        End::Closed => {
            let _ = writeln!(err, "[session {id} closed the connection]");
            1
        }
    })
}

/// Output `hm run` keeps for a pipe that holds the program (see
/// [`Attached::hold`]).
const PIPE_BUFFER: usize = 256 * 1024;

/// How long a program whose `hm run` lost its reader has to end of the
/// SIGPIPE (a program that ignores it, or a shell whose job it killed)
/// before the session is killed.
const SIGPIPE_GRACE: Duration = Duration::from_millis(500);

/// Time between renders while output streams in.
const RENDER_EVERY: Duration = Duration::from_millis(16);

/// Output after a pause this small (a key's echo, a line edited) is
/// rendered at once.
const RENDER_AT_ONCE: usize = 256;

/// Larger output after a pause (a screen redrawn, which the pty hands over
/// in pieces and the supervisor gathers for up to 2 ms) is rendered this
/// long after it arrives, so that its rest is rendered with it.
const RENDER_SETTLE: Duration = Duration::from_millis(4);

struct Attached {
    id: String,
    started: Instant,
    state: String,
    /// The detach key in force (None: none).
    detach_key: Option<u8>,
    /// Finds it in what the terminal sends.
    keys: detach::Scanner,
    /// The session this runs inside, when the key in force was not given
    /// on the command line (see [`detach::bar_text`]).
    outer: Option<String>,
    read_only: bool,
    interactive: bool,
    /// The rendered view: with the status bar, or while the session's size
    /// is not this terminal's (else, without the bar, output passes through).
    view: Option<view::View>,
    /// Holds a synchronized update back from the view until it ends, as
    /// the terminal holds it when the output passes through: the view
    /// renders whole frames.
    frames: FrameHold,
    /// The status bar is wanted: the view is kept for it (it shows the bar
    /// on a terminal of three rows or more).
    status_bar: bool,
    /// When the view was last rendered.
    rendered_at: Option<Instant>,
    /// The session's terminal size, as last painted or resized by us.
    session_size: Option<(u16, u16)>,
    /// The size the latest `resize` event said (`None` after missed
    /// events or our own resize, until the event comes).
    resized_to: Option<(u16, u16)>,
    /// Whether the picture asked for last goes into the terminal's history
    /// first, without a view (its scrollback lines, then the screen pushed
    /// up): the first one, and one after lost output; not one for a new
    /// size, which would show again what the terminal has shown (as with a
    /// view, the screen is drawn again in place).
    history: bool,
    /// Whether the session was drawn on the terminal's own screen (a
    /// picture, or output as it is), not only on a view's.
    painted: bool,
    /// The session's size may have changed while a repaint was on its way:
    /// ask again when it arrives, unless it shows the size `resized_to` says.
    repaint_again: bool,
    stream: Stream,
    /// Takes the program's terminal queries out of the output passed
    /// through to the terminal (the supervisor answers them), also one cut
    /// between two frames.
    queries: crate::terminal_queries::Stripper,
    /// Whether the output passed as it is left the terminal on the
    /// alternate screen.
    alt_screen: alt_screen::AltScreen,
    /// Whether the output passed as it is left the cursor at the start of
    /// a line (else what hm says at the end starts one of its own).
    at_line_start: bool,
    /// Whether the session can repaint (it has a screen model and runs).
    repaints: bool,
    /// `hm run` without a terminal (`hm run -- make | tee log`, CI): it
    /// stands for the program. The first SIGINT, SIGQUIT, SIGTERM and
    /// SIGHUP go to the program, as they would without hm (see
    /// [`forwarded_signal`]); when its stdout's reader goes (or stdout
    /// fails) the session is ended (see [`Attached::end_session`]).
    pipe_run: bool,
    /// How long the session may take to end once killed.
    kill_bound: Duration,
    /// `hm run` without a terminal: the program waits for this reader
    /// however long it takes, as it would writing into the pipe itself
    /// ([`Pacing::Hold`]); nothing is lost.
    hold: bool,
    /// A watcher's terminal (`--read-only`) never reports the mouse.
    keep_mouse: Option<mouse::KeepMouse>,
}

/// `out` as it goes to the terminal: on a watcher's, without the program's
/// mouse reporting ([`mouse::KeepMouse`]).
fn watched<'a>(keep: &mut Option<mouse::KeepMouse>, out: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    match keep {
        Some(k) => k.filter(out),
        None => std::borrow::Cow::Borrowed(out),
    }
}

impl Attached {
    fn bar(&self) -> view::BarInfo {
        view::BarInfo {
            id: self.id.clone(),
            state: self.state.clone(),
            read_only: self.read_only,
            uptime: self.started.elapsed(),
            detach: detach::bar_text(self.detach_key, self.outer.as_deref()),
        }
    }

    /// Bytes that hand the terminal back (on detach, at the end, on a
    /// stop): every mode off, the alternate screen left, and a line of its
    /// own for what hm or the shell says next.
    fn hand_back(&self) -> Vec<u8> {
        let alternate = self.view.is_some() || self.alt_screen.on();
        let cols = terminal_size().map_or(80, |(cols, _)| cols);
        let mut out = modes::leave(alternate, cols);
        if !alternate && !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    /// What the terminal shows of the session once attach lets it go: a
    /// pipe, the output up to where it stands; a terminal, what was drawn
    /// on its own screen (a view's picture goes with the alternate screen
    /// it is drawn on).
    fn shown(&self) -> Shown {
        if !self.interactive {
            Shown::OutputTo(self.stream.position())
        } else if self.painted && self.view.is_none() {
            Shown::Screen
        } else {
            Shown::Nothing
        }
    }

    /// Ask for a picture of the session's screen to paint; with `history`,
    /// without a view, one that goes into the terminal's history first
    /// (see [`Attached::history`]).
    fn repaint(&mut self, client: &Client, history: bool) -> Repaint {
        self.history = history;
        let req = ScreenRequest {
            id: None,
            format: ScreenFormat::Ansi,
            // Without the bar, a line-mode program's recent lines go to the
            // terminal's own scrollback first.
            scrollback_lines: if history && self.view.is_none() {
                terminal_size().map_or(24, |s| s.1 as usize)
            } else {
                0
            },
            redraw: true,
        };
        let client = client.clone();
        Box::pin(async move { client.screen(req).await })
    }

    async fn run(
        &mut self,
        client: Client,
        status_bar: bool,
        mut stdin_end: Option<oneshot::Receiver<()>>,
        terminal: Option<&TerminalGuard>,
    ) -> anyhow::Result<End> {
        let (cols, rows) = terminal_size().unwrap_or((80, 24));
        let mut events = None;
        if status_bar {
            // Also on a terminal too small for the bar: it comes when the
            // terminal grows.
            let v = view::View::new(cols, rows, true);
            write_stdout(&v.enter())?;
            self.view = Some(v);
            self.status_bar = true;
        }
        if self.interactive {
            // State changes for the bar, resizes by other terminals (a
            // heimdall 1.0 supervisor has no events).
            events = match client.events().await {
                Ok(s) => Some(s),
                Err(ClientError::Unsupported(_)) => None,
                Err(e) => return Err(e.into()),
            };
        }
        if !self.read_only {
            let (pc, pr) = self
                .view
                .as_ref()
                .map_or(view::program_area(cols, rows, false), |v| v.program_size());
            unless_gone(client.resize(pc, pr).await)?;
            self.session_size = Some((pc, pr));
        }
        let mut output = None;
        let mut repaint = None;
        // Keyboard signals forwarded to the program, on their way.
        let mut signalling = futures_util::stream::FuturesUnordered::<Call<()>>::new();
        if self.interactive {
            repaint = Some(self.repaint(&client, true));
        } else {
            // A pipe gets the output as it is, never a repaint.
            self.repaints = false;
            self.stream.subscribed_unpainted();
            let pacing = if self.hold {
                Pacing::Hold
            } else {
                Pacing::BestEffort
            };
            match client.output_replay_paced(pacing).await {
                Ok(o) => output = Some(o),
                Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => {
                    return Ok(End::Closed)
                }
                Err(e) => return Err(e.into()),
            }
        }
        let stdin = if self.interactive {
            let fd = open_terminal_input()?;
            // SAFETY: the fd stays open and unchanged while the AsyncFd owns it.
            Some(unsafe { AsyncFd::register(fd) }.map_err(|e| anyhow!(e.into_parts().1))?)
        } else {
            None
        };
        // Input and resizes from here on: never waiting on the session.
        let (outbox, mut delivery) = Outbox::start(client.clone());
        let mut winch = signal(SignalKind::window_change())?;
        let mut signals = ForwardedSignals::new(self.pipe_run)?;
        // (Without a terminal to hand back, a stop is the default one.)
        let mut jobs = terminal.map(|_| JobSignals::new()).transpose()?;
        // `hm run -- yes | head -1`: the reader may go while the program
        // prints nothing.
        let mut reader_gone: Pin<Box<dyn Future<Output = ()>>> = if self.pipe_run {
            Box::pin(stdout_gone())
        } else {
            Box::pin(std::future::pending())
        };
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut buf = vec![0u8; 16 * 1024];
        let mut stdin_open = self.interactive;
        let mut render_at: Option<Instant> = None;
        loop {
            let render_due = render_at.unwrap_or_else(Instant::now);
            // (Just past the deadline: the update is let through after it.)
            let hold_due = self.frames.deadline().map(|d| d + Duration::from_millis(1));
            tokio::select! {
                item = next_output(&mut output) => match item {
                    Some(OutputItem::Data { offset, bytes }) => {
                        let shown = self.stream.output(offset, &bytes);
                        match self.show(shown, &mut render_at) {
                            Ok(()) => {}
                            Err(e) if self.pipe_run => {
                                return self.end_session(&client, &mut output, e).await
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                    Some(OutputItem::Gap { from, to, .. }) => {
                        // Cut loose, fallen behind, or started past evicted
                        // output: repaint from the screen model rather than
                        // show a hole.
                        self.stream.moved(to);
                        self.queries.reset();
                        self.frames.reset();
                        if !self.interactive {
                            // A pipe that does not hold (`hm attach
                            // --read-only X | tee log`, or a supervisor
                            // without `hold`) cannot be repainted: say
                            // what is missing.
                            say(&format!(
                                "[hm: {} bytes of session {}'s output lost: this reader fell behind]",
                                to.saturating_sub(from),
                                self.id
                            ));
                        }
                        if self.repaints && self.stream.want_repaint() {
                            repaint = Some(self.repaint(&client, true));
                        }
                    }
                    Some(OutputItem::Exit { code }) => {
                        // An update the program left unfinished is shown.
                        if let (Some(v), Some(_)) = (self.view.as_mut(), self.frames.deadline()) {
                            v.feed(&self.frames.pass(END, Instant::now()));
                        }
                        self.render_now()?;
                        return Ok(End::Exited(code));
                    }
                    None => return Ok(End::Closed),
                },
                answer = answered(&mut repaint) => {
                    repaint = None;
                    // This picture may predate a resize: paint it
                    // meanwhile, then ask for a newer one.
                    let again = std::mem::take(&mut self.repaint_again);
                    let mut painted = None;
                    // Whether to open the output stream: from an offset,
                    // or (`Some(None)`) with the scrollback replay.
                    let open_at = match answer {
                        Ok(resp) => match self.stream.snapshot(resp.output_offset) {
                            Snapshot::Stale => {
                                if repaint.is_none() {
                                    repaint = Some(self.repaint(&client, self.history));
                                }
                                None
                            }
                            Snapshot::Paint { from, ahead, again } => {
                                if ahead || !again.is_empty() {
                                    // What the stripper holds is in the
                                    // picture, or shown again after it.
                                    self.queries.reset();
                                }
                                self.paint(&resp)?;
                                self.show(&again, &mut render_at)?;
                                painted = Some((resp.cols, resp.rows));
                                from.map(Some)
                            }
                        },
                        // No screen model (heimdall 1.0, `screen_model =
                        // false`) or it has just ended: no repaints; the
                        // stream as it comes.
                        Err(ClientError::Server { .. } | ClientError::Unsupported(_)) => {
                            self.repaints = false;
                            if self.stream.is_subscribed() {
                                self.stream.repaint_refused();
                                None
                            } else {
                                self.stream.subscribed_unpainted();
                                Some(None)
                            }
                        }
                        Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) if output.is_none() => {
                            return Ok(End::Closed)
                        }
                        // The output stream tells how it ended.
                        Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => None,
                        // Stuck behind input the program does not read
                        // yet (the supervisor reads a connection in
                        // order): ask again.
                        Err(ClientError::Timeout(_)) => {
                            repaint = Some(self.repaint(&client, self.history));
                            None
                        }
                        Err(e) => return Err(e.into()),
                    };
                    if let Some(from) = open_at {
                        let opened = match from {
                            Some(offset) => client.output(offset).await,
                            None => client.output_replay().await,
                        };
                        match opened {
                            Ok(o) => output = Some(o),
                            Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => return Ok(End::Closed),
                            Err(e) => return Err(e.into()),
                        }
                    }
                    if again && (painted.is_none() || painted != self.resized_to) {
                        self.repaint_at_new_size(&client, &mut repaint);
                    }
                },
                item = next_event(&mut events) => match item {
                    Some(EventItem::Event(Event::State { new, .. })) => {
                        self.state = new.to_string();
                        self.draw_bar()?;
                    }
                    Some(EventItem::Event(Event::Resize { cols, rows })) => {
                        // Another terminal resized the session (or ours did
                        // and this is the echo): a picture at the new size.
                        // One on its way may have been taken before the
                        // resize (our RESIZE goes through the outbox, after
                        // the input before it; the SCREEN does not).
                        self.resized_to = Some((cols, rows));
                        if self.session_size != Some((cols, rows)) || repaint.is_some() {
                            self.repaint_at_new_size(&client, &mut repaint);
                        }
                    }
                    // A resize may be among the missed events.
                    Some(EventItem::Missed { .. }) => {
                        self.resized_to = None;
                        self.repaint_at_new_size(&client, &mut repaint);
                    }
                    Some(_) => {}
                    None => events = None,
                },
                (ready, fd) = async {
                    match &stdin {
                        Some(s) => {
                            outbox.room().await;
                            (s.readable().await, s.as_fd().as_raw_fd())
                        }
                        None => std::future::pending().await,
                    }
                }, if stdin_open => {
                    let mut guard = ready?;
                    // SAFETY: reading into a valid buffer.
                    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n < 0 {
                        let e = std::io::Error::last_os_error();
                        if e.kind() == std::io::ErrorKind::WouldBlock {
                            guard.clear_ready();
                            continue;
                        }
                        return Err(e.into());
                    }
                    if n == 0 {
                        // stdin closed: nothing more to type; keep watching.
                        stdin_open = false;
                        continue;
                    }
                    let data = &buf[..n as usize];
                    // Mouse reports point at the terminal's cells, which
                    // the view may show other cells of the session in.
                    let typed = |keys| match &self.view {
                        Some(v) => v.mouse_to_session(keys),
                        None => std::borrow::Cow::Borrowed(keys),
                    };
                    if let Some(at) = self.keys.find(data, Instant::now()) {
                        if !self.read_only {
                            outbox.input(&typed(&data[..at]));
                            // What was typed before the key reaches the
                            // session before we go (a lone detach key with
                            // nothing on its way leaves at once, even from
                            // a session that does not answer).
                            outbox.settle(&client).await;
                        }
                        return Ok(End::Detached);
                    }
                    if !self.read_only {
                        outbox.input(&typed(data));
                    }
                },
                _ = winch.recv() => {
                    self.retake_terminal(&client, &outbox, &mut repaint, &mut render_at, false)?;
                },
                job = async {
                    match jobs.as_mut() {
                        Some(j) => j.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let (Job::Stop, Some(terminal)) = (job, terminal) {
                        write_stdout(&self.hand_back())?;
                        terminal.restore();
                        job_control::stop();
                    }
                    // Continued (also after a SIGSTOP): the shell had the
                    // terminal, and its size may have changed meanwhile
                    // (a stopped process gets no SIGWINCH).
                    if let Some(terminal) = terminal {
                        terminal.raw()?;
                    }
                    self.retake_terminal(&client, &outbox, &mut repaint, &mut render_at, true)?;
                },
                _ = tokio::time::sleep_until(render_due.into()), if render_at.is_some() => {
                    render_at = None;
                    self.render_now()?;
                },
                // An update held too long is shown unfinished.
                _ = tokio::time::sleep_until(hold_due.unwrap_or_else(Instant::now).into()), if hold_due.is_some() => {
                    let stale = self.frames.release_stale(Instant::now());
                    if let (Some(v), Some(bytes)) = (self.view.as_mut(), stale) {
                        v.feed(&bytes);
                        render_at.get_or_insert_with(Instant::now);
                    }
                },
                _ = async {
                    match stdin_end.as_mut() {
                        Some(end) => {
                            let _ = end.await;
                        }
                        None => std::future::pending().await,
                    }
                } => return Ok(End::Detached),
                e = delivery.failed() => return Err(e),
                _ = clock.tick() => self.draw_bar()?,
                _ = &mut reader_gone => {
                    let gone = std::io::ErrorKind::BrokenPipe.into();
                    return self.end_session(&client, &mut output, gone).await;
                }
                (sig, forward) = signals.recv() => {
                    if !forward {
                        return Ok(End::Signalled);
                    }
                    let client = client.clone();
                    signalling.push(Box::pin(async move {
                        let spec = SignalSpec::Name(sig.name().into());
                        client.signal(spec, SignalTarget::Foreground).await.map(drop)
                    }));
                }
                Some(answer) = signalling.next(), if !signalling.is_empty() => {
                    match answer {
                        // The output stream says how the program ends (a
                        // late answer waits behind output a slow reader
                        // has not taken yet; the signal was sent).
                        Ok(()) | Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed | ClientError::Timeout(_)) => {}
                        // A heimdall 1.0 supervisor cannot signal.
                        Err(ClientError::Unsupported(_)) => return Ok(End::Signalled),
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// `hm run`'s stdout failed: the program can no longer write where it
    /// was told to, so it ends, as it would writing there itself. On EPIPE
    /// (its reader went: `hm run -- yes | head -1`) the program gets
    /// SIGPIPE, as from a real pipe; whatever of the session is still
    /// there after [`SIGPIPE_GRACE`] (or at once, on another error such as
    /// ENOSPC) is ended the way `hm kill` does. Output still coming is
    /// read and dropped (a held session waits for its reader).
    async fn end_session(
        &self,
        client: &Client,
        output: &mut Option<OutputStream>,
        failed: std::io::Error,
    ) -> anyhow::Result<End> {
        let ended = async {
            match output {
                Some(o) => {
                    while let Some(item) = o.next().await {
                        if matches!(item, OutputItem::Exit { .. }) {
                            break;
                        }
                    }
                }
                None => drop(client.closed().await),
            }
        };
        tokio::pin!(ended);
        let grace = if failed.kind() == std::io::ErrorKind::BrokenPipe {
            let pipe = client.signal(SignalSpec::Name("PIPE".into()), SignalTarget::Foreground);
            tokio::select! {
                // (A session that has just ended cannot be signalled.)
                _ = pipe => {}
                _ = &mut ended => return Ok(End::OutputFailed(failed)),
            }
            SIGPIPE_GRACE
        } else {
            Duration::ZERO
        };
        if tokio::time::timeout(grace, &mut ended).await.is_err() {
            unless_gone(client.kill().await)?;
            if tokio::time::timeout(self.kill_bound, &mut ended)
                .await
                .is_err()
            {
                return Err(anyhow!(
                    "session {} did not end within {}s of the kill",
                    self.id,
                    self.kill_bound.as_secs()
                ));
            }
        }
        Ok(End::OutputFailed(failed))
    }

    /// The terminal's size may have changed (SIGWINCH), or with `redrawn`
    /// the terminal is ours again after a stop: the view takes it over
    /// again at its size, the session is resized to it (unless read-only),
    /// and a picture of the session is asked for where the terminal's
    /// screen needs one.
    fn retake_terminal(
        &mut self,
        client: &Client,
        outbox: &Outbox,
        repaint: &mut Option<Repaint>,
        render_at: &mut Option<Instant>,
        redrawn: bool,
    ) -> std::io::Result<()> {
        let Some((cols, rows)) = terminal_size() else {
            return Ok(());
        };
        let follow = !self.read_only;
        let program = match self.view.as_mut() {
            Some(v) => {
                v.resize(cols, rows, follow);
                write_stdout(&v.enter())?;
                *render_at = Some(Instant::now());
                v.program_size()
            }
            None => view::program_area(cols, rows, false),
        };
        if follow {
            // Its `resize` event says when the session has taken the size.
            outbox.resize(program.0, program.1);
            self.resized_to = None;
        }
        if redrawn || self.view.is_some() || self.read_only || repaint.is_some() {
            // The sizes may now match or differ (or a picture of the old
            // size is on its way); a view's emulator, resized, is not the
            // session's screen (which takes rows back from its scrollback,
            // and a shell does not redraw); the terminal's own screen shows
            // what the shell wrote while hm was stopped.
            self.repaint_at_new_size(client, repaint);
        }
        Ok(())
    }

    /// The session's size may have changed: ask for a picture (of the
    /// session's screen at its size, which says what that size is), or for
    /// another one after the one on its way.
    fn repaint_at_new_size(&mut self, client: &Client, repaint: &mut Option<Repaint>) {
        if !self.repaints {
            return;
        }
        self.stream.want_repaint();
        if repaint.is_some() {
            self.repaint_again = true;
        } else {
            *repaint = Some(self.repaint(client, false));
        }
    }

    /// Paint a snapshot of the session's screen (and its window title).
    /// Without the bar, a terminal of the session's size gets the program's
    /// output as it is; a terminal of another size gets a view that clips.
    fn paint(&mut self, resp: &ScreenResp) -> std::io::Result<()> {
        // The title the program set is not in the picture: a terminal that
        // attaches after it was set gets it here.
        if !resp.title.is_empty() {
            write_stdout(&view::set_title(resp.title.as_bytes()))?;
        }
        let redraw = resp.redraw.as_deref().unwrap_or_default();
        let size = (resp.cols, resp.rows);
        self.session_size = Some(size);
        if !self.status_bar {
            let (cols, rows) = terminal_size().unwrap_or(size);
            let fits = size == (cols, rows);
            match self.view.as_ref() {
                Some(_) if fits => {
                    // Back to the output as it is.
                    write_stdout(&modes::leave(true, cols))?;
                    self.view = None;
                }
                None if !fits => {
                    let v = view::View::new(cols, rows, false);
                    write_stdout(&v.enter())?;
                    self.view = Some(v);
                }
                _ => {}
            }
        }
        // The picture is the screen before any update under way.
        self.frames.reset();
        match self.view.as_mut() {
            Some(v) => {
                v.reset(redraw.as_bytes(), size);
                self.render_now()
            }
            None => {
                let mut out = Vec::new();
                if self.history {
                    if !resp.alternate_screen {
                        for line in resp.scrollback.iter().flatten() {
                            out.extend_from_slice(line.as_bytes());
                            out.extend_from_slice(b"\x1b[0m\r\n");
                        }
                    }
                    // Push them (and what the terminal showed) into its
                    // history: the redraw clears the rows in place.
                    out.extend(
                        std::iter::repeat_n(b"\r\n".as_slice(), resp.rows as usize).flatten(),
                    );
                }
                out.extend_from_slice(redraw.as_bytes());
                self.alt_screen.set(resp.alternate_screen);
                self.at_line_start = resp.cursor.col == 0;
                self.painted = true;
                write_stdout(&watched(&mut self.keep_mouse, &out))
            }
        }
    }

    /// Show output the stream brought: on the view (a synchronized update
    /// once it ends; a small piece after a pause rendered at once, else by
    /// `render_at`), or on the terminal as it is.
    fn show(&mut self, shown: &[u8], render_at: &mut Option<Instant>) -> std::io::Result<()> {
        match self.view.as_mut() {
            _ if shown.is_empty() => {}
            Some(v) => {
                let now = Instant::now();
                let passed = self.frames.pass(shown, now);
                if passed.is_empty() {
                    return Ok(());
                }
                v.feed(&passed);
                if render_at.is_some() {
                    return Ok(());
                }
                // A key's echo after a pause at once (not even waiting for
                // the timer's next millisecond); a redraw once its rest is
                // in; a stream of output a render period after the last.
                let next = self.rendered_at.map(|at| at + RENDER_EVERY);
                let paused = next.is_none_or(|next| next <= now);
                if paused && passed.len() <= RENDER_AT_ONCE {
                    self.render_now()?;
                } else {
                    *render_at = Some((now + RENDER_SETTLE).max(next.unwrap_or(now)));
                }
            }
            None => {
                // The supervisor answers the program's terminal queries: a
                // terminal must not answer again.
                if self.interactive {
                    self.alt_screen.feed(shown);
                    self.at_line_start = shown.ends_with(b"\n");
                    let out = self.queries.strip(shown);
                    write_stdout(&watched(&mut self.keep_mouse, &out))?;
                } else {
                    write_stdout(shown)?;
                }
                self.painted = true;
            }
        }
        Ok(())
    }

    fn render_now(&mut self) -> std::io::Result<()> {
        let bar = self.bar();
        if let Some(v) = self.view.as_mut() {
            write_stdout(&watched(&mut self.keep_mouse, &v.render(&bar)))?;
            self.rendered_at = Some(Instant::now());
        }
        Ok(())
    }

    fn draw_bar(&self) -> std::io::Result<()> {
        if let Some(v) = &self.view {
            write_stdout(&v.render_bar(&self.bar()))?;
        }
        Ok(())
    }
}

/// `hm attach`.
pub fn run(common: &Common, args: AttachArgs) -> anyhow::Result<i32> {
    let opts = AttachOptions {
        read_only: args.read_only,
        status_bar: args.no_status_bar.then_some(false),
        stream_without_terminal: false,
        detach_key: args.detach_key.detach_key,
    };
    attach(common, &args.id, opts)
}
