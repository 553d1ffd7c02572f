//! One client connection: read its requests, write its frames.
//!
//! Each connection has a reader (requests in) and a writer (frames out). The
//! writer owns everything that goes to the socket: answers queued by the
//! reader, the output subscription and the event stream, so a client that
//! stops reading only ever blocks its own writer.
//!
//! Heimdall 1.0 clients (no HELLO) never receive a frame they did not ask
//! for: their unknown, malformed or extension frames are ignored. Clients
//! that said HELLO get an ERROR for every request that fails.

use std::collections::HashMap;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use heimdall_protocol::frame::{client, server};
use heimdall_protocol::{
    message::{frame_name, Waiting},
    ClientMessage, CodecError, DecodeError, ErrorBody, Event, Frame, FrameCodec, ServerMessage,
    HEADER_LEN, MODE_BINARY,
};
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::{Encoder, FramedRead};
use tokio_util::sync::CancellationToken;

mod sink;

use sink::{Backlog, Sink};
pub use sink::{FLUSH_GRACE, MAX_UNREAD};

use crate::lifecycle::parse_signal;
use crate::output::{Read, Subscription};
use crate::session::{Session, SizeClaim, Viewer};

/// Largest OUTPUT payload sent in one frame.
const MAX_OUTPUT_FRAME: usize = 128 * 1024;
/// Answers queued for the writer.
const CONTROL_QUEUE: usize = 64;

/// What the reader asks the writer to do.
enum Command {
    /// Send this frame.
    Frame(Frame),
    /// Start (or restart) the output stream, at the scrollback or an offset;
    /// `true`: holding the child back however long it takes.
    Subscribe(Option<u64>, bool),
    /// Start the event stream: the events from when the reader handled
    /// EVENTS on (so the events of the requests after it are in it), and
    /// what the session waits for then.
    Events(broadcast::Receiver<Event>, Option<Waiting>),
    /// Close the connection after what is queued.
    Close,
}

/// How often a connection whose peer shut down its sending side is checked
/// for a full hang-up while nothing is written to it.
const HANGUP_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a connection being cut off may take to write its last words.
const CUT_OFF_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the peer has closed the connection entirely (not just its
/// sending side, which a client that only listens may do).
fn peer_gone(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd, no waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// Serve one accepted, authorised connection until it closes or the session ends.
pub async fn serve(session: Arc<Session>, stream: UnixStream) {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    // The client's process, for counting its terminal among the viewers.
    let peer = stream.peer_cred().ok().and_then(|c| c.pid());
    let (rd, mut wr) = stream.into_split();
    if wr.write_all(&[MODE_BINARY]).await.is_err() {
        return;
    }
    let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
    let hello = Arc::new(AtomicBool::new(false));
    // Ends this connection's SUBMIT and WAIT tasks when it closes.
    let cancel = CancellationToken::new();
    let _cancel_on_close = cancel.clone().drop_guard();
    let backlog = Arc::new(Backlog::new());
    let stall = session.output.stall_timeout();
    let cut = CancellationToken::new();
    let out = Sink::new(
        wr,
        backlog.clone(),
        session.watch_ended(),
        stall,
        hello.clone(),
        cut.clone(),
    );
    // Dropped when the connection ends, whichever way: the size it asked
    // for goes with it.
    let size = session.size_claim();
    // Whether its output stream holds the child (SUBSCRIBE's `hold`).
    let holds = Arc::new(AtomicBool::new(false));
    let closed_in_overtime = {
        let (session, holds) = (session.clone(), holds.clone());
        async move {
            session.overtime().await;
            if holds.load(Ordering::Acquire) && !session.is_killed() {
                // Served until it has read EXIT or has gone (a killed
                // session holds nobody back).
                std::future::pending::<()>().await;
            }
        }
    };
    let writer = write_frames(session.clone(), out, rx, hello.clone(), holds);
    let reader = read_requests(session, &size, peer, rd, tx, hello, cancel, backlog);
    tokio::select! {
        _ = closed_in_overtime => tracing::debug!("served for the longest time after the end; closing"),
        _ = serve_until_done(writer, reader, fd, cut) => {}
    }
}

/// Run a connection's writer and reader until it is done.
async fn serve_until_done(
    writer: impl std::future::Future<Output = std::io::Result<()>>,
    reader: impl std::future::Future<Output = Stopped>,
    fd: std::os::fd::RawFd,
    cut: CancellationToken,
) {
    tokio::pin!(writer);
    tokio::select! {
        _ = &mut writer => {}
        stopped = reader => {
            if stopped == Stopped::NotReading {
                // Its answers pile up unread: cut it off, telling it why
                // when it said HELLO (its blocked write gives up and adds
                // an ERROR in room made for it; see `Sink`).
                tracing::debug!("client reads none of its answers; closing");
                cut.cancel();
                let _ = tokio::time::timeout(CUT_OFF_WAIT, &mut writer).await;
                return;
            }
            // The peer sent EOF. If it hung up entirely there is no one to
            // write to; if it only shut its sending side, keep streaming.
            loop {
                if peer_gone(fd) {
                    return;
                }
                tokio::select! {
                    _ = &mut writer => return,
                    _ = tokio::time::sleep(HANGUP_CHECK) => {}
                }
            }
        }
    }
}

fn screen_answer(session: &Session, req: &heimdall_protocol::ScreenRequest) -> Frame {
    if session.exit_status().is_some() {
        let code = session.exit_status().map_or(0, |s| s.0);
        let msg = format!(
            "the session has exited (code {code}); its final screen is in the exit record (hm screen {})",
            session.id
        );
        return error_frame("dead", msg, client::SCREEN, req.id);
    }
    match session.screen() {
        Some(mut st) => {
            let mut resp = st.snapshot(req.format, req.scrollback_lines);
            resp.id = req.id;
            if req.redraw {
                resp.redraw = Some(String::from_utf8_lossy(&st.model.redraw()).into_owned());
            }
            ServerMessage::Screen(Box::new(resp)).to_frame()
        }
        None => error_frame(
            "unsupported",
            "this session runs without a screen model (screen_model = false)",
            client::SCREEN,
            req.id,
        ),
    }
}

/// A RESULT answering a request: it repeats the request's `id` when the
/// request had one, and carries no `id` at all when it had none.
fn result_frame(mut v: serde_json::Value, id: Option<u64>) -> Frame {
    if let (Some(id), Some(o)) = (id, v.as_object_mut()) {
        o.insert("id".into(), id.into());
    }
    ServerMessage::Result(v).to_frame()
}

fn error_frame(code: &str, message: impl Into<String>, request: u8, id: Option<u64>) -> Frame {
    let mut body = ErrorBody::new(code, message, Some(request));
    body.id = id;
    ServerMessage::Error(body).to_frame()
}

/// SUBMITs and WAITs one connection may have in flight.
const MAX_IN_FLIGHT: usize = 64;

/// Take one of the connection's [`MAX_IN_FLIGHT`] slots for a long request;
/// false when there is none left.
fn reserve(in_flight: &std::sync::atomic::AtomicUsize) -> bool {
    if in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    true
}

/// The WAITs of one connection that a CANCEL can end, by request id.
/// Whoever takes a WAIT out of it frees the WAIT's slot: the WAIT when it
/// ends, or the CANCEL, which ends it without an answer.
type Cancellable = Arc<std::sync::Mutex<HashMap<u64, CancellationToken>>>;

/// Wait for a long request (with a slot [`reserve`]d) in its own task; its
/// answer goes to the writer. Waiting ends when the connection closes, or,
/// for a request registered under its id in `cancellable` (an id not
/// already in flight), when a CANCEL of that id comes.
fn spawn_answer(
    tx: &mpsc::Sender<Command>,
    backlog: &Arc<Backlog>,
    cancel: &CancellationToken,
    in_flight: &Arc<std::sync::atomic::AtomicUsize>,
    cancellable: Option<(&Cancellable, u64)>,
    work: impl std::future::Future<Output = Frame> + Send + 'static,
) {
    let tx = tx.clone();
    let backlog = backlog.clone();
    let in_flight = in_flight.clone();
    let this = cancel.child_token();
    let registered = cancellable.and_then(|(map, id)| match crate::sync::lock(map).entry(id) {
        std::collections::hash_map::Entry::Occupied(_) => None,
        std::collections::hash_map::Entry::Vacant(v) => {
            v.insert(this.clone());
            Some((map.clone(), id))
        }
    });
    tokio::spawn(async move {
        tokio::select! {
            frame = work => {
                let cancelled = registered
                    .as_ref()
                    .is_some_and(|(map, id)| crate::sync::lock(map).remove(id).is_none());
                if !cancelled {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    let _ = tx.send(answer(&backlog, frame)).await;
                }
            }
            // The connection closed, or a CANCEL freed the slot.
            _ = this.cancelled() => {}
        }
    });
}

fn busy(request: u8, id: Option<u64>) -> Command {
    Command::Frame(error_frame(
        "busy",
        format!("this connection already has {MAX_IN_FLIGHT} SUBMIT/WAIT requests in flight"),
        request,
        id,
    ))
}

/// Why the reader stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stopped {
    /// The peer closed its sending side, the session ended, or the writer
    /// is gone.
    Done,
    /// The peer asks and does not read the answers: [`MAX_UNREAD`] bytes of
    /// them wait and it read nothing for the stall timeout.
    NotReading,
}

/// An answer for the writer, counted in the connection's backlog.
fn answer(backlog: &Backlog, frame: Frame) -> Command {
    backlog.queued(HEADER_LEN + frame.payload.len());
    Command::Frame(frame)
}

#[allow(clippy::too_many_arguments)]
async fn read_requests(
    session: Arc<Session>,
    size: &SizeClaim,
    peer: Option<i32>,
    rd: OwnedReadHalf,
    tx: mpsc::Sender<Command>,
    hello: Arc<AtomicBool>,
    cancel: CancellationToken,
    backlog: Arc<Backlog>,
) -> Stopped {
    let mut frames = FramedRead::new(rd, FrameCodec::new());
    let mut ended = session.watch_ended();
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cancellable = Cancellable::default();
    let stall = session.output.stall_timeout();
    // Counted among the viewers from a HELLO that says so until the end.
    let mut viewer: Option<Viewer> = None;
    // Whether EVENTS came (a second one changes nothing).
    let mut events = false;
    loop {
        let next = tokio::select! {
            f = frames.next() => f,
            _ = ended.wait_for(|e| *e) => return Stopped::Done,
        };
        let frame = match next {
            None => return Stopped::Done,
            Some(Ok(f)) => f,
            Some(Err(CodecError::TooLarge { kind, len, max })) => {
                if hello.load(Ordering::Acquire) {
                    let msg = format!(
                        "{} frame declares {len} bytes, more than the {max}-byte limit; closing",
                        frame_name(kind)
                    );
                    let f = error_frame("too_large", msg, kind, None);
                    let _ = tx.send(answer(&backlog, f)).await;
                }
                let _ = tx.send(Command::Close).await;
                return Stopped::Done;
            }
            Some(Err(CodecError::Io(_))) => return Stopped::Done,
        };
        let said_hello = hello.load(Ordering::Acquire);
        let msg = match ClientMessage::from_frame(&frame) {
            Ok(m) => m,
            Err(e) => {
                if said_hello {
                    let code = match e {
                        DecodeError::UnknownType(_) => "unknown_type",
                        DecodeError::Malformed { .. } => "malformed",
                    };
                    let id = heimdall_protocol::message::request_id(&frame.payload);
                    let f = error_frame(code, e.to_string(), e.kind(), id);
                    if tx.send(answer(&backlog, f)).await.is_err() {
                        return Stopped::Done;
                    }
                }
                continue;
            }
        };
        // Extensions exist only for clients that said HELLO.
        if frame.kind >= client::HELLO && !said_hello && !matches!(msg, ClientMessage::Hello(_)) {
            continue;
        }
        let cmd = match msg {
            ClientMessage::Input(bytes) => match session.input(bytes).await {
                Ok(()) => continue,
                Err(refused) if said_hello => {
                    Command::Frame(error_frame("dead", refused.to_string(), frame.kind, None))
                }
                Err(_) => continue,
            },
            // (`hold` is an extension: a 1.0 client's payload is ignored.)
            ClientMessage::Subscribe(o) => Command::Subscribe(None, o.hold && said_hello),
            ClientMessage::SubscribeFrom { offset, options } => {
                Command::Subscribe(Some(offset), options.hold)
            }
            ClientMessage::Status => {
                let mut status = session.status();
                if !said_hello && status.state == heimdall_protocol::State::Waiting {
                    // heimdall 1.0 clients know no 0x05.
                    status.state = heimdall_protocol::State::Idle;
                }
                Command::Frame(ServerMessage::Status(status).to_frame())
            }
            ClientMessage::Resize { cols, rows } => match size.resize(cols, rows) {
                Ok(()) => continue,
                Err(e) if said_hello => {
                    Command::Frame(error_frame("failed", e.to_string(), frame.kind, None))
                }
                Err(_) => continue,
            },
            ClientMessage::Kill => {
                session.kill();
                continue;
            }
            ClientMessage::Hello(h) => {
                tracing::debug!(client = ?h.client, "hello");
                hello.store(true, Ordering::Release);
                if h.viewer && viewer.is_none() {
                    viewer = peer.and_then(|p| session.viewer(p));
                }
                Command::Frame(ServerMessage::Hello(Box::new(session.hello())).to_frame())
            }
            ClientMessage::Events if events => continue,
            ClientMessage::Events => {
                events = true;
                // Subscribed here, not when the writer gets to it: the
                // events of the requests read after EVENTS are in it.
                let (rx, waiting) = crate::classify::waiting::watch::subscribe_events(&session);
                Command::Events(rx, waiting)
            }
            ClientMessage::Signal(req) => {
                let answer = parse_signal(&req.signal).and_then(|sig| {
                    session
                        .signal(sig, req.target)
                        .map(|pgid| (sig, pgid))
                        .map_err(|e| ("failed", format!("cannot send {sig}: {e}")))
                });
                Command::Frame(match answer {
                    Ok((sig, pgid)) => result_frame(
                        serde_json::json!({
                            "ok": true,
                            "signal": sig.as_str(),
                            "target": req.target,
                            "pgid": pgid,
                        }),
                        req.id,
                    ),
                    Err((code, msg)) => error_frame(code, msg, frame.kind, req.id),
                })
            }
            ClientMessage::Screen(req) => Command::Frame(screen_answer(&session, &req)),
            ClientMessage::Submit(req) => {
                let id = req.id;
                if !reserve(&in_flight) {
                    busy(frame.kind, id)
                } else {
                    // Typing runs in a task of its own that the connection
                    // closing does not cancel: once started, the text and
                    // its Enter are both typed, never half a line.
                    let typing = tokio::spawn(crate::requests::submit(session.clone(), req));
                    spawn_answer(&tx, &backlog, &cancel, &in_flight, None, async move {
                        match typing.await {
                            Ok(Ok(v)) => result_frame(v, id),
                            Ok(Err((code, msg))) => error_frame(code, msg, client::SUBMIT, id),
                            Err(e) => error_frame("failed", e.to_string(), client::SUBMIT, id),
                        }
                    });
                    continue;
                }
            }
            ClientMessage::Explain(req) => {
                let v = crate::classify::waiting::watch::explain(&session);
                Command::Frame(result_frame(v, req.id))
            }
            ClientMessage::Report(req) => {
                let id = req.id;
                Command::Frame(
                    match crate::classify::waiting::watch::report(&session, req) {
                        Ok(()) => result_frame(serde_json::json!({"ok": true}), id),
                        Err(msg) => error_frame("malformed", msg, frame.kind, id),
                    },
                )
            }
            ClientMessage::Wait(req) => {
                if let Err((code, msg)) = crate::requests::validate(&session, &req) {
                    Command::Frame(error_frame(code, msg, frame.kind, req.id))
                } else if !reserve(&in_flight) {
                    busy(frame.kind, req.id)
                } else {
                    let s = session.clone();
                    let id = req.id;
                    let cancellable = id.map(|id| (&cancellable, id));
                    spawn_answer(
                        &tx,
                        &backlog,
                        &cancel,
                        &in_flight,
                        cancellable,
                        async move { result_frame(crate::requests::wait(s, req).await, id) },
                    );
                    continue;
                }
            }
            ClientMessage::Cancel(req) => {
                if let Some(wait) = crate::sync::lock(&cancellable).remove(&req.id) {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    wait.cancel();
                }
                continue;
            }
        };
        let cmd = match cmd {
            Command::Frame(f) => {
                if !backlog.room_for(HEADER_LEN + f.payload.len(), stall).await {
                    return Stopped::NotReading;
                }
                answer(&backlog, f)
            }
            other => other,
        };
        // A queue that stays full while the peer reads nothing is the same
        // as a full backlog (many small answers fill it first).
        let permit = loop {
            match tokio::time::timeout(stall, tx.reserve()).await {
                Ok(Ok(permit)) => break permit,
                Ok(Err(_)) => return Stopped::Done,
                Err(_) if backlog.stalled(stall) => return Stopped::NotReading,
                Err(_) => {}
            }
        };
        permit.send(cmd);
    }
}

/// The frame's bytes.
fn encode(frame: Frame) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(HEADER_LEN + frame.payload.len());
    FrameCodec::with_max_payload(usize::MAX)
        .encode(frame, &mut buf)
        .map_err(std::io::Error::other)?;
    Ok(buf)
}

async fn write_frame(
    out: &mut Sink,
    frame: Frame,
    sub: Option<&mut Subscription>,
) -> std::io::Result<()> {
    let buf = encode(frame)?;
    out.send(&mut [IoSlice::new(&buf)], sub, None).await
}

async fn write_output(
    out: &mut Sink,
    sub: &mut Subscription,
    slices: &[Bytes],
) -> std::io::Result<()> {
    let len: usize = slices.iter().map(Bytes::len).sum();
    let header = heimdall_protocol::frame::header(server::OUTPUT, len as u32);
    let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(slices.len() + 1);
    iov.push(IoSlice::new(&header));
    iov.extend(slices.iter().map(|s| IoSlice::new(s)));
    out.send(&mut iov, Some(sub), Some(header.len())).await
}

fn event_frame(e: Event) -> Frame {
    ServerMessage::Event(e).to_frame()
}

/// What woke the writer.
enum Wake {
    Command(Option<Command>),
    Event(Result<Event, broadcast::error::RecvError>),
    Other,
}

/// The writer's streams.
struct Streams {
    sub: Option<Subscription>,
    events: Option<broadcast::Receiver<Event>>,
    /// Set while `sub` holds the child.
    holds: Arc<AtomicBool>,
}

/// Apply one command; `false` means close the connection.
async fn apply(
    cmd: Command,
    out: &mut Sink,
    session: &Session,
    hello: &AtomicBool,
    st: &mut Streams,
) -> std::io::Result<bool> {
    match cmd {
        Command::Frame(f) => {
            let len = HEADER_LEN + f.payload.len();
            let written = write_frame(out, f, st.sub.as_mut()).await;
            out.backlog().written(len);
            written?
        }
        Command::Subscribe(from, hold) => {
            let (mut s, skipped) = session.output.subscribe(from, hold);
            st.holds.store(hold, Ordering::Release);
            // Also an offset beyond the end, which starts at the end: the
            // client numbers the bytes from where the stream starts.
            let elsewhere = from.is_some_and(|f| f != s.position());
            if elsewhere && hello.load(Ordering::Acquire) {
                let e = Event::Skipped {
                    missed_bytes: skipped,
                    offset: s.position(),
                };
                write_frame(out, event_frame(e), Some(&mut s)).await?;
            }
            st.sub = Some(s);
        }
        Command::Events(events, waiting) => {
            st.events = Some(events);
            if let Some(w) = waiting {
                // A listener that comes while the session waits learns
                // for what before any later event.
                write_frame(out, event_frame(Event::Waiting(w)), st.sub.as_mut()).await?;
            }
        }
        Command::Close => return Ok(false),
    }
    Ok(true)
}

async fn write_event(
    out: &mut Sink,
    st: &mut Streams,
    e: Result<Event, broadcast::error::RecvError>,
) -> std::io::Result<()> {
    match e {
        Ok(e) => write_frame(out, event_frame(e), st.sub.as_mut()).await,
        Err(broadcast::error::RecvError::Lagged(n)) => {
            let e = Event::EventsLagged { missed_events: n };
            write_frame(out, event_frame(e), st.sub.as_mut()).await
        }
        Err(broadcast::error::RecvError::Closed) => {
            st.events = None;
            Ok(())
        }
    }
}

async fn write_frames(
    session: Arc<Session>,
    mut out: Sink,
    mut rx: mpsc::Receiver<Command>,
    hello: Arc<AtomicBool>,
    holds: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut st = Streams {
        sub: None,
        events: None,
        holds,
    };
    let mut ended = session.watch_ended();
    let mut rx_open = true;
    loop {
        // Answers first: they are small and a client may be waiting on one.
        while rx_open {
            match rx.try_recv() {
                Ok(cmd) => {
                    if !apply(cmd, &mut out, &session, &hello, &mut st).await? {
                        return Ok(());
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => rx_open = false,
            }
        }
        while let Some(ev) = st.events.as_mut() {
            let e = match ev.try_recv() {
                Ok(e) => Ok(e),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    Err(broadcast::error::RecvError::Closed)
                }
                Err(broadcast::error::TryRecvError::Empty) => break,
            };
            write_event(&mut out, &mut st, e).await?;
        }
        if let Some(s) = st.sub.as_mut() {
            match s.read(MAX_OUTPUT_FRAME) {
                Read::Data(slices) => {
                    write_output(&mut out, s, &slices).await?;
                    continue;
                }
                Read::Gap { missed, resume } => {
                    if !hello.load(Ordering::Acquire) {
                        // Never feed a 1.0 client a stream with a hole in it.
                        tracing::debug!(missed, "1.0 subscriber fell behind; disconnecting");
                        return Ok(());
                    }
                    let e = Event::Lagged {
                        missed_bytes: missed,
                        offset: resume,
                    };
                    write_frame(&mut out, event_frame(e), Some(s)).await?;
                    continue;
                }
                Read::Closed => {
                    let code = session.exit_status().map_or(0, |s| s.0);
                    write_frame(&mut out, ServerMessage::Exit { code }.to_frame(), Some(s)).await?;
                    st.sub = None;
                }
                Read::Pending => {}
            }
        }
        let is_ended = *ended.borrow();
        // After the end, once the output stream is done: the answers of the
        // requests in flight come first (they come at once now that the
        // session has ended; each holds a sender of `rx` until it is sent).
        if is_ended && st.sub.is_none() && !rx_open {
            return Ok(());
        }
        if !rx_open && st.sub.is_none() && st.events.is_none() {
            return Ok(());
        }
        let wake = {
            let Streams { sub, events, .. } = &mut st;
            tokio::select! {
                cmd = rx.recv(), if rx_open => Wake::Command(cmd),
                _ = async { if let Some(s) = sub.as_mut() { s.changed().await } }, if sub.is_some() => Wake::Other,
                e = async {
                    match events.as_mut() {
                        Some(ev) => ev.recv().await,
                        None => std::future::pending().await,
                    }
                }, if events.is_some() => Wake::Event(e),
                _ = ended.changed(), if !is_ended => Wake::Other,
            }
        };
        match wake {
            Wake::Command(Some(cmd)) => {
                if !apply(cmd, &mut out, &session, &hello, &mut st).await? {
                    return Ok(());
                }
            }
            Wake::Command(None) => rx_open = false,
            Wake::Event(e) => write_event(&mut out, &mut st, e).await?,
            Wake::Other => {}
        }
    }
}
