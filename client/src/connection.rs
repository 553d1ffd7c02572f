//! One connection to a session: a task owns the byte stream; calls from any
//! number of tasks send requests with ids and await their own answers.
//!
//! Answers are matched by the `id` the server echoes (SCREEN, SIGNAL,
//! SUBMIT, WAIT) or, for the two requests that carry none (HELLO, STATUS),
//! by order: the server answers each kind in the order it was asked. A
//! call's future may be dropped at any point: its frame is either wholly
//! queued or not at all, and its late answer is discarded; nothing that
//! belongs to another call or to the streams is lost.
//!
//! A broken connection fails calls at once, not at their deadlines. The
//! server's end of stream (or a read error) ends everything: the calls in
//! flight, the calls after, and the streams. A failed write (the peer
//! closed: EPIPE, ECONNRESET, a proxy's stdin gone) makes every later call
//! fail at once; the calls in flight get the answers the server sent before
//! closing for [`WRITE_FAILURE_GRACE`], then fail too; the streams keep
//! what the server still sends until its end of stream. The error is
//! [`ClientError::SessionEnded`] when the session's exit is known (EXIT, or
//! the exit record), else [`ClientError::ConnectionClosed`].

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use heimdall_protocol::frame::{client, server};
use heimdall_protocol::{
    CancelRequest, ClientMessage, ErrorBody, Event, ExplainRequest, Frame, FrameCodec, Hello,
    HelloResp, ReportRequest, ScreenRequest, ScreenResp, SignalRequest, SignalSpec, SignalTarget,
    SubmitRequest, SubscribeOptions, WaitCondition, WaitRequest, MAX_PAYLOAD, MODE_BINARY,
    PROTOCOL_VERSION,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::discovery::SessionFiles;
use crate::error::ClientError;
use crate::exit_record::ExitRecord;
use crate::private_dir::{check_private_dir, current_uid};
use crate::stream::{
    EventSender, EventStream, GapCause, OutputSender, OutputStream, Pacing, DEFAULT_EVENT_BOUND,
    DEFAULT_OUTPUT_BOUND,
};
use crate::types::{SignalResult, Status, SubmitResult, WaitResult};

/// Largest server frame accepted (screen answers with long scrollback can
/// exceed the 1 MiB client-frame limit).
pub const MAX_SERVER_PAYLOAD: usize = 16 << 20;

/// Default deadline of a call.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// Frames queued for the writer task (callers wait for room).
const WRITE_QUEUE: usize = 64;
/// INPUT frames of one [`Client::input`] queued together (at most the
/// writer's queue, so a batch always fits).
pub const INPUT_BATCH: usize = 16;

/// After a failed write, how long the calls in flight wait for answers the
/// server sent before it closed (they are already on their way: the end of
/// stream behind them usually ends the calls sooner).
pub const WRITE_FAILURE_GRACE: Duration = Duration::from_millis(250);

/// How long [`Client::type_steps`] looks for the exit record of a session
/// whose connection closed while its supervisor still holds it (a
/// supervisor writes the record before it closes its connections, and lets
/// go of the session soon after).
pub const ENDING_WAIT: Duration = Duration::from_secs(2);

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// What answered a request.
enum Reply {
    Hello(Box<HelloResp>),
    Status(Status),
    Screen(Box<ScreenResp>),
    Result(Value),
}

type Waiter = oneshot::Sender<Result<Reply, ClientError>>;

#[derive(Default)]
struct Pending {
    /// Requests answered by id: their frame type and waiter.
    by_id: BTreeMap<u64, (u8, Waiter)>,
    hello: VecDeque<Waiter>,
    status: VecDeque<Waiter>,
    output: Option<OutputSender>,
    events: Option<EventSender>,
    /// The session's exit code: from EXIT (or the EXIT event), a WAIT that
    /// saw the exit, or the exit record once it was found there.
    exit_code: Option<i32>,
    /// Set when the connection is over: the exit code if known.
    ended: Option<Option<i32>>,
    /// A write failed: nothing more can be sent.
    unwritable: bool,
    /// The ERROR of an INPUT that could not reach the program, until
    /// [`Client::input_taken`] reports it.
    refused_input: Option<ErrorBody>,
}

struct Inner {
    pending: Mutex<Pending>,
    /// The session's files: its exit record is read (outside the lock)
    /// for the exit code when the connection breaks without an EXIT frame.
    files: Option<SessionFiles>,
    next_id: AtomicU64,
    hello: Option<HelloResp>,
    ended: watch::Receiver<Option<Option<i32>>>,
    output_bound: usize,
    event_bound: usize,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        crate::sync::lock(&self.pending)
    }

    /// The session's exit record (with its files) when its supervisor
    /// wrote it ([`ExitRecord::told_by_supervisor`]).
    fn server_record(&self) -> Option<ExitRecord> {
        let files = self.files.as_ref()?;
        ExitRecord::read(&files.exit).ok()?.told_by_supervisor()
    }

    /// The session's exit code, when known: from EXIT, else from the exit
    /// record. The record (large: it holds the final screens) is read
    /// without holding the lock, and only until it is found.
    fn known_code(&self) -> Option<i32> {
        if let Some(code) = self.lock().exit_code {
            return Some(code);
        }
        let code = self.server_record()?.code;
        // An EXIT read meanwhile wins: it is what the server said.
        Some(*self.lock().exit_code.get_or_insert(code))
    }

    /// Why no call can be made any more, if the connection is broken.
    fn broken(&self) -> Option<ClientError> {
        let (ended, unwritable) = {
            let p = self.lock();
            (p.ended, p.unwritable)
        };
        match ended {
            Some(code) => Some(closed(code)),
            None if unwritable => Some(closed(self.known_code())),
            None => None,
        }
    }
}

impl Pending {
    /// Whether no call can be made any more ([`Inner::broken`] says why).
    fn is_broken(&self) -> bool {
        self.ended.is_some() || self.unwritable
    }

    /// Fail every call waiting for an answer: the connection is broken.
    fn fail_calls(&mut self, code: Option<i32>) {
        let waiters = std::mem::take(&mut self.by_id)
            .into_values()
            .map(|(_, w)| w)
            .chain(self.hello.drain(..))
            .chain(self.status.drain(..))
            .collect::<Vec<_>>();
        for w in waiters {
            let _ = w.send(Err(closed(code)));
        }
    }
}

/// The error of a call on a broken connection: the session's end when its
/// exit is known, else the connection's.
fn closed(code: Option<i32>) -> ClientError {
    match code {
        Some(code) => ClientError::SessionEnded { code: Some(code) },
        None => ClientError::ConnectionClosed,
    }
}

/// What is known of a session's end once its connection closed
/// ([`Client::ending`]).
enum Ending {
    /// Its exit code came; its exit record is not read yet.
    Known,
    /// Its exit record was read: the supervisor's account (`None` when
    /// there is none: its supervisor is gone without one, or a guardian
    /// wrote the record).
    Read(Option<Box<ExitRecord>>),
}

/// The exit code, when `record` shows that its program exited before `t`.
fn exited_before(record: &ExitRecord, t: SystemTime) -> Option<i32> {
    (record.ended_by()? <= t).then_some(record.code)
}

/// What [`Client::type_steps`] returns for a step that came after the
/// program's exit (`code`): the steps typed before it, or, for the first,
/// the refusal the supervisor gives such input.
fn not_typed(typed: usize, code: i32) -> Result<usize, ClientError> {
    if typed > 0 {
        return Ok(typed);
    }
    Err(ClientError::Server {
        code: crate::ErrorCode::Dead,
        message: format!("the session has ended (exit code {code}); the input was not typed"),
    })
}

/// How to connect: client name, default deadline, stream bounds.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    name: String,
    deadline: Duration,
    output_bound: usize,
    event_bound: usize,
    files: Option<SessionFiles>,
    viewer: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            name: "heimdall-client".to_string(),
            deadline: DEFAULT_DEADLINE,
            output_bound: DEFAULT_OUTPUT_BOUND,
            event_bound: DEFAULT_EVENT_BOUND,
            files: None,
            viewer: false,
        }
    }
}

impl ClientBuilder {
    /// A builder with the defaults.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The client name sent in HELLO (for the supervisor's log).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The default deadline of every call (and of connecting);
    /// `Duration::MAX` for none.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// How many bytes an [`OutputStream`] holds for a consumer that falls behind.
    pub fn output_bound(mut self, bytes: usize) -> Self {
        self.output_bound = bytes.max(1);
        self
    }

    /// How many events an [`EventStream`] holds for a consumer that falls
    /// behind (and at most [`crate::stream::EVENT_BYTES_BOUND`] bytes of them,
    /// or one larger event alone).
    pub fn event_bound(mut self, events: usize) -> Self {
        self.event_bound = events.max(1);
        self
    }

    /// The files of the session connected to (on this machine): its exit
    /// record gives the exit code when the connection ends without an EXIT
    /// frame, and its pidfile says whether its supervisor is gone (see
    /// [`Client::type_steps`]). [`crate::SocketDir::connect`] and
    /// [`crate::Started::connect`] give them; a connection over a proxy
    /// has none unless given.
    pub fn session_files(mut self, files: SessionFiles) -> Self {
        self.files = Some(files);
        self
    }

    /// Say in HELLO that this client shows the session's output on its
    /// terminal (as `hm attach` does): while connected, the session lists
    /// the terminal among its viewers ([`HelloResp::viewers`]).
    pub fn viewer(mut self, viewer: bool) -> Self {
        self.viewer = viewer;
        self
    }

    /// Connect to a session's Unix socket. Its directory must be private
    /// to the current user ([`ClientError::UnsafeDir`] otherwise), and the
    /// socket and the process serving it must belong to the current user
    /// ([`ClientError::NotOwner`] otherwise): nothing is sent to anyone else.
    /// A supervisor known to be stopped (with [`ClientBuilder::session_files`])
    /// is [`ClientError::Stopped`] at once.
    pub async fn connect(self, socket: impl AsRef<Path>) -> Result<Client, ClientError> {
        let path = socket.as_ref();
        check_dir(path)?;
        check_owner(path)?;
        self.refuse_stopped()?;
        let connect = tokio::net::UnixStream::connect(path);
        let stream = match tokio::time::timeout(self.deadline, connect).await {
            Err(_) => {
                return Err(self
                    .refuse_stopped()
                    .err()
                    .unwrap_or(ClientError::Timeout(self.deadline)))
            }
            Ok(r) => r.map_err(|source| ClientError::Connect {
                path: path.to_path_buf(),
                source,
            })?,
        };
        // The socket file could have been replaced since it was looked at:
        // the server's own credentials are what counts.
        let server = stream.peer_cred()?.uid();
        if server != current_uid() {
            return Err(ClientError::NotOwner {
                path: path.to_path_buf(),
                owner: server,
            });
        }
        let (r, w) = stream.into_split();
        self.over(r, w).await
    }

    /// [`ClientError::Stopped`] when the session's files show its supervisor
    /// stopped.
    fn refuse_stopped(&self) -> Result<(), ClientError> {
        match self
            .files
            .as_ref()
            .and_then(SessionFiles::stopped_supervisor)
        {
            Some(pid) => Err(ClientError::Stopped { pid }),
            None => Ok(()),
        }
    }

    /// Speak the protocol over any byte stream (for example the stdio of
    /// `ssh host hm proxy ID`).
    pub async fn over(
        self,
        reader: impl AsyncRead + Send + Unpin + 'static,
        writer: impl AsyncWrite + Send + Unpin + 'static,
    ) -> Result<Client, ClientError> {
        self.start(Box::new(reader), Box::new(writer), None).await
    }

    /// Run `command` (e.g. `hm proxy ID`, or `ssh host hm proxy ID`) and
    /// speak the protocol over its stdin and stdout. The command is killed
    /// when the connection ends.
    pub async fn over_command(
        self,
        mut command: tokio::process::Command,
    ) -> Result<Client, ClientError> {
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let (Some(w), Some(r)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(ClientError::Protocol("the command has no stdio".into()));
        };
        self.start(Box::new(r), Box::new(w), Some(child)).await
    }

    async fn start(
        self,
        mut reader: Reader,
        writer: Writer,
        child: Option<tokio::process::Child>,
    ) -> Result<Client, ClientError> {
        let mut frames_in = FramedRead::new(
            std::mem::replace(&mut reader, Box::new(tokio::io::empty())),
            FrameCodec::with_max_payload(MAX_SERVER_PAYLOAD),
        );
        let mut frames_out = FramedWrite::new(writer, FrameCodec::new());
        let hello = tokio::time::timeout(
            self.deadline,
            handshake(&mut frames_in, &mut frames_out, &self.name, self.viewer),
        )
        .await
        .map_err(|_| {
            // Stopped while connecting: say that rather than "no answer".
            self.refuse_stopped()
                .err()
                .unwrap_or(ClientError::Timeout(self.deadline))
        })??;
        let (tx, rx) = mpsc::channel::<Frame>(WRITE_QUEUE);
        let (ended_tx, ended_rx) = watch::channel(None);
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            files: self.files,
            next_id: AtomicU64::new(1),
            hello,
            ended: ended_rx,
            output_bound: self.output_bound,
            event_bound: self.event_bound,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(write_frames(inner.clone(), frames_out, rx, stop_tx));
        tokio::spawn(read_frames(
            inner.clone(),
            frames_in,
            stop_rx,
            ended_tx,
            child,
        ));
        Ok(Client {
            inner,
            writer: tx,
            deadline: self.deadline,
        })
    }
}

/// Refuse a socket whose directory is not private to us (see
/// [`crate::private_dir`]).
fn check_dir(socket: &Path) -> Result<(), ClientError> {
    let dir = match socket.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let meta = std::fs::metadata(dir).map_err(|source| ClientError::Connect {
        path: socket.to_path_buf(),
        source,
    })?;
    Ok(check_private_dir(dir, &meta)?)
}

/// Refuse a socket that another user owns (it could be anyone's server).
fn check_owner(path: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| ClientError::Connect {
        path: path.to_path_buf(),
        source,
    })?;
    let me = current_uid();
    if meta.uid() != me {
        return Err(ClientError::NotOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
        });
    }
    Ok(())
}

/// Read the mode byte, then send HELLO and STATUS together: a supervisor of
/// this protocol answers HELLO first; heimdall 1.0 ignores HELLO and answers
/// STATUS. Returns the HELLO answer, or `None` for a 1.0 server.
async fn handshake(
    frames_in: &mut FramedRead<Reader, FrameCodec>,
    frames_out: &mut FramedWrite<Writer, FrameCodec>,
    name: &str,
    viewer: bool,
) -> Result<Option<HelloResp>, ClientError> {
    let mode = match frames_in.get_mut().read_u8().await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(ClientError::ConnectionClosed)
        }
        Err(e) => return Err(e.into()),
    };
    if mode != MODE_BINARY {
        return Err(ClientError::BadMode(mode));
    }
    let hello = ClientMessage::Hello(Hello {
        client: Some(name.to_string()),
        protocol: Some(PROTOCOL_VERSION),
        viewer,
    });
    frames_out.feed(hello.to_frame()).await?;
    frames_out.send(ClientMessage::Status.to_frame()).await?;
    let mut answer = None;
    loop {
        let Some(frame) = frames_in.next().await.transpose()? else {
            return Err(ClientError::ConnectionClosed);
        };
        match frame.kind {
            server::HELLO_RESP => {
                let h: HelloResp = serde_json::from_slice(&frame.payload)
                    .map_err(|e| ClientError::Protocol(format!("HELLO_RESP: {e}")))?;
                answer = Some(h);
            }
            server::STATUS_RESP => return Ok(answer),
            server::ERROR if answer.is_none() => {
                let e: ErrorBody = serde_json::from_slice(&frame.payload)
                    .map_err(|e| ClientError::Protocol(format!("ERROR: {e}")))?;
                return Err(e.into());
            }
            _ => {}
        }
    }
}

/// Write queued frames until every handle and stream is gone, then end the
/// reader too.
///
/// A write that fails (the peer closed its end: a session that has just
/// ended) does not end the reader: what the server sent before it closed —
/// the last output, EXIT, answers — is still to be read, and the reader
/// ends at the server's end of stream. It makes every later call fail at
/// once, and the calls in flight after [`WRITE_FAILURE_GRACE`] unless their
/// answers come first. Frames queued after the failure are dropped.
async fn write_frames(
    inner: Arc<Inner>,
    mut out: FramedWrite<Writer, FrameCodec>,
    mut rx: mpsc::Receiver<Frame>,
    stop: oneshot::Sender<()>,
) {
    if write_all(&mut out, &mut rx).await.is_err() {
        inner.lock().unwritable = true;
        // Our end closes too (a proxy's stdin: it goes).
        drop(out);
        let grace = tokio::time::sleep(WRITE_FAILURE_GRACE);
        tokio::pin!(grace);
        let mut in_flight = true;
        loop {
            tokio::select! {
                () = &mut grace, if in_flight => {
                    in_flight = false;
                    let code = inner.known_code();
                    let mut p = inner.lock();
                    let code = p.exit_code.or(code);
                    p.fail_calls(code);
                }
                frame = rx.recv() => if frame.is_none() { break },
            }
        }
    }
    let _ = stop.send(());
}

/// Write queued frames until every handle and stream is gone (`Ok`) or a
/// write fails.
async fn write_all(
    out: &mut FramedWrite<Writer, FrameCodec>,
    rx: &mut mpsc::Receiver<Frame>,
) -> Result<(), heimdall_protocol::CodecError> {
    while let Some(frame) = rx.recv().await {
        out.feed(frame).await?;
        // Send what is queued together, then flush.
        while let Ok(more) = rx.try_recv() {
            out.feed(more).await?;
        }
        out.flush().await?;
    }
    Ok(())
}

async fn read_frames(
    inner: Arc<Inner>,
    mut frames: FramedRead<Reader, FrameCodec>,
    mut stop: oneshot::Receiver<()>,
    ended: watch::Sender<Option<Option<i32>>>,
    _child: Option<tokio::process::Child>,
) {
    loop {
        // A full output stream that holds the program: read nothing more
        // until its consumer makes room (the supervisor holds the program).
        let room = inner.lock().output.as_ref().and_then(OutputSender::room);
        if let Some(room) = room {
            tokio::select! {
                _ = room => continue,
                _ = &mut stop => break,
            }
        }
        let next = tokio::select! {
            f = frames.next() => f,
            _ = &mut stop => None,
        };
        let Some(Ok(frame)) = next else { break };
        dispatch(&mut inner.lock(), frame);
    }
    let code = inner.known_code();
    {
        let mut p = inner.lock();
        p.ended = Some(code);
        p.fail_calls(code);
        p.output = None;
        p.events = None;
    }
    let _ = ended.send(Some(code));
}

fn json(frame: &Frame) -> Option<Value> {
    serde_json::from_slice::<Value>(&frame.payload)
        .ok()
        .filter(Value::is_object)
}

/// Route one server frame to its waiter or stream.
fn dispatch(p: &mut Pending, frame: Frame) {
    match frame.kind {
        server::OUTPUT => {
            if let Some(o) = p.output.as_mut() {
                o.data(frame.payload);
            }
        }
        // An answer that cannot be read fails its own call (the others
        // and the connection go on).
        server::STATUS_RESP => {
            if let Some(w) = p.status.pop_front() {
                let status = Status::decode(&frame.payload).ok_or_else(|| {
                    let len = frame.payload.len();
                    ClientError::Protocol(format!("STATUS_RESP of {len} bytes, not 15"))
                });
                let _ = w.send(status.map(Reply::Status));
            }
        }
        server::HELLO_RESP => {
            if let Some(w) = p.hello.pop_front() {
                let hello = serde_json::from_slice::<HelloResp>(&frame.payload)
                    .map_err(|e| ClientError::Protocol(format!("HELLO_RESP: {e}")));
                let _ = w.send(hello.map(|h| Reply::Hello(Box::new(h))));
            }
        }
        server::EXIT => {
            if let Ok(b) = <[u8; 4]>::try_from(frame.payload.get(..4).unwrap_or_default()) {
                let code = i32::from_be_bytes(b);
                p.exit_code = Some(code);
                if let Some(o) = p.output.as_ref() {
                    o.exit(code);
                }
            }
        }
        server::SCREEN_RESP => match serde_json::from_slice::<ScreenResp>(&frame.payload) {
            Ok(s) => {
                if let Some(w) = take_by_id(p, s.id, client::SCREEN) {
                    let _ = w.send(Ok(Reply::Screen(Box::new(s))));
                }
            }
            Err(e) => {
                let id = heimdall_protocol::message::request_id(&frame.payload);
                if let Some(w) = take_by_id(p, id, client::SCREEN) {
                    let _ = w.send(Err(ClientError::Protocol(format!("SCREEN_RESP: {e}"))));
                }
            }
        },
        server::RESULT => {
            if let Some(mut v) = json(&frame) {
                // The id is the connection's business, not the answer's.
                let id = v
                    .as_object_mut()
                    .and_then(|o| o.remove("id"))
                    .and_then(|id| id.as_u64());
                let w = [
                    client::WAIT,
                    client::SUBMIT,
                    client::SIGNAL,
                    client::EXPLAIN,
                    client::REPORT,
                ]
                .into_iter()
                .find_map(|kind| take_by_id(p, id, kind));
                if let Some(w) = w {
                    let _ = w.send(Ok(Reply::Result(v)));
                }
            }
        }
        server::ERROR => {
            if let Ok(e) = serde_json::from_slice::<ErrorBody>(&frame.payload) {
                let w = match e.request {
                    Some(client::INPUT) => {
                        p.refused_input = Some(e);
                        return;
                    }
                    Some(client::HELLO) => p.hello.pop_front(),
                    Some(client::STATUS) => p.status.pop_front(),
                    Some(kind) => take_by_id(p, e.id, kind),
                    None => e.id.and_then(|id| p.by_id.remove(&id).map(|(_, w)| w)),
                };
                if let Some(w) = w {
                    let _ = w.send(Err(e.into()));
                }
            }
        }
        server::EVENT => {
            if let Some(v) = json(&frame) {
                event(p, v, frame.payload.len());
            }
        }
        _ => {}
    }
}

/// Route EVENT `v`, a frame of `size` bytes.
fn event(p: &mut Pending, v: Value, size: usize) {
    let offset = v["offset"].as_u64();
    let gap = match v["type"].as_str() {
        Some("lagged") => Some(GapCause::Lagged),
        Some("skipped") => Some(GapCause::Evicted),
        _ => None,
    };
    if let (Some(cause), Some(offset), Some(o)) = (gap, offset, p.output.as_mut()) {
        o.gap(offset, cause);
        return;
    }
    if v["type"] == "events_lagged" {
        if let (Some(n), Some(s)) = (v["missed_events"].as_u64(), p.events.as_ref()) {
            s.missed(n);
        }
        return;
    }
    let e = serde_json::from_value(v.clone()).unwrap_or(Event::Unknown(v));
    if let Event::Exit { code, .. } = e {
        p.exit_code = Some(code);
    }
    if let Some(s) = p.events.as_ref() {
        s.event(e, size);
    }
}

/// The waiter of request `id` (of frame type `kind`); without an id, the
/// oldest request of that type.
fn take_by_id(p: &mut Pending, id: Option<u64>, kind: u8) -> Option<Waiter> {
    let key = match id {
        Some(id) => p.by_id.get(&id).filter(|(k, _)| *k == kind).map(|_| id)?,
        None => *p.by_id.iter().find(|(_, (k, _))| *k == kind)?.0,
    };
    p.by_id.remove(&key).map(|(_, w)| w)
}

/// Removes a dropped call's waiter, so a late answer finds nobody. A WAIT
/// dropped before its answer is cancelled on a server that can
/// (feature `cancel`), so that it does not hold one of the connection's
/// slots for long requests until it ends by itself (or never).
struct Registered<'a> {
    inner: &'a Inner,
    id: Option<u64>,
    /// Where to send CANCEL, for a cancellable request.
    cancel: Option<&'a mpsc::Sender<Frame>>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let unanswered = self.inner.lock().by_id.remove(&id).is_some();
        let Some(writer) = self.cancel.filter(|_| unanswered) else {
            return;
        };
        let frame = ClientMessage::Cancel(CancelRequest { id }).to_frame();
        // Never blocks: with the writer's queue full it is sent from a task.
        if let Err(mpsc::error::TrySendError::Full(frame)) = writer.try_send(frame) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let writer = writer.clone();
                rt.spawn(async move {
                    let _ = writer.send(frame).await;
                });
            }
        }
    }
}

/// How a request is answered.
enum Slot {
    Id(u8),
    Hello,
    Status,
}

/// A connection to one session. Cheap to clone; every clone shares the
/// connection, and calls from any number of tasks may be in flight at once.
/// The connection closes when every clone and every stream is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The writer task's queue; it also keeps the connection open.
    writer: mpsc::Sender<Frame>,
    deadline: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.inner.hello.as_ref().map(|h| &h.session.id))
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Client {
    /// Connect to a session's socket with the default options.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Client, ClientError> {
        ClientBuilder::new().connect(socket).await
    }

    /// A handle on the same connection whose calls have deadline `d`.
    pub fn with_deadline(&self, d: Duration) -> Client {
        Client {
            inner: self.inner.clone(),
            writer: self.writer.clone(),
            deadline: d,
        }
    }

    /// The session as the server described it on connect, or `None` for a
    /// heimdall 1.0 server (which has no HELLO).
    pub fn hello(&self) -> Option<&HelloResp> {
        self.inner.hello.as_ref()
    }

    /// Whether the server is heimdall 1.0 (STATUS, SUBSCRIBE, INPUT, RESIZE
    /// and KILL only).
    pub fn is_legacy(&self) -> bool {
        self.inner.hello.is_none()
    }

    /// Whether the server lists `name` in its HELLO features.
    fn has_feature(&self, name: &str) -> bool {
        self.hello()
            .is_some_and(|h| h.features.iter().any(|f| f == name))
    }

    fn need_v2(&self, what: &'static str) -> Result<(), ClientError> {
        if self.is_legacy() {
            Err(ClientError::Unsupported(what))
        } else {
            Ok(())
        }
    }

    /// Why calls fail, when the connection is broken.
    fn broken(&self) -> Result<(), ClientError> {
        match self.inner.broken() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The error of a call that had no answer within `d`:
    /// [`ClientError::Stopped`] when the session's files show its
    /// supervisor stopped (it answers nothing until it is continued), else
    /// [`ClientError::Timeout`].
    fn timed_out(&self, d: Duration) -> ClientError {
        match self
            .inner
            .files
            .as_ref()
            .and_then(SessionFiles::stopped_supervisor)
        {
            Some(pid) => ClientError::Stopped { pid },
            None => ClientError::Timeout(d),
        }
    }

    /// The error of a call whose connection has gone from under it.
    fn ended_error(&self) -> ClientError {
        self.inner
            .broken()
            .unwrap_or_else(|| closed(self.inner.known_code()))
    }

    /// Room for one frame in the writer's queue, unless the connection is
    /// broken (checked again when the frame is queued).
    async fn reserve(&self) -> Result<mpsc::Permit<'_, Frame>, ClientError> {
        self.broken()?;
        self.writer.reserve().await.map_err(|_| self.ended_error())
    }

    /// Queue one frame that has no answer: the whole frame or nothing,
    /// whatever happens to the caller.
    async fn queue(&self, frame: Frame) -> Result<(), ClientError> {
        let permit = self.reserve().await?;
        self.broken()?;
        permit.send(frame);
        Ok(())
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn call(
        &self,
        make: impl FnOnce(Option<u64>) -> ClientMessage,
        slot: fn(u8) -> Slot,
        deadline: Option<Duration>,
    ) -> Result<Reply, ClientError> {
        let work = async {
            let (tx, rx) = oneshot::channel();
            // Ids are taken and registered under the pending lock, so the
            // registration and the frame carry the same id.
            let permit = self.reserve().await?;
            let registered = {
                let mut p = self.inner.lock();
                if p.is_broken() {
                    drop(p);
                    return Err(self.ended_error());
                }
                let id = self.next_id();
                let msg = make(Some(id));
                let kind = msg.kind();
                let frame = msg.to_frame();
                if frame.payload.len() > MAX_PAYLOAD {
                    return Err(ClientError::TooLarge {
                        kind,
                        len: frame.payload.len(),
                    });
                }
                let cancel =
                    (kind == client::WAIT && self.has_feature("cancel")).then_some(&self.writer);
                let id = match slot(kind) {
                    Slot::Hello => {
                        p.hello.push_back(tx);
                        None
                    }
                    Slot::Status => {
                        p.status.push_back(tx);
                        None
                    }
                    Slot::Id(kind) => {
                        p.by_id.insert(id, (kind, tx));
                        Some(id)
                    }
                };
                permit.send(frame);
                Registered {
                    inner: &self.inner,
                    id,
                    cancel,
                }
            };
            let answer = rx.await.map_err(|_| self.ended_error())?;
            drop(registered);
            answer
        };
        match deadline {
            Some(d) => tokio::time::timeout(d, work)
                .await
                .map_err(|_| self.timed_out(d))?,
            None => work.await,
        }
    }

    /// Send a frame that has no answer.
    async fn send(&self, msg: ClientMessage) -> Result<(), ClientError> {
        tokio::time::timeout(self.deadline, self.queue(msg.to_frame()))
            .await
            .map_err(|_| self.timed_out(self.deadline))?
    }

    /// The session's status (works with heimdall 1.0).
    pub async fn status(&self) -> Result<Status, ClientError> {
        match self
            .call(
                |_| ClientMessage::Status,
                |_| Slot::Status,
                Some(self.deadline),
            )
            .await?
        {
            Reply::Status(s) => Ok(s),
            _ => Err(ClientError::Protocol("unexpected answer to STATUS".into())),
        }
    }

    /// A fresh HELLO: the session's description and current output offsets.
    pub async fn refresh(&self) -> Result<HelloResp, ClientError> {
        self.need_v2("HELLO")?;
        let hello = |_| {
            // (A viewer stays one for as long as the connection lasts.)
            ClientMessage::Hello(Hello {
                client: None,
                protocol: Some(PROTOCOL_VERSION),
                viewer: false,
            })
        };
        match self
            .call(hello, |_| Slot::Hello, Some(self.deadline))
            .await?
        {
            Reply::Hello(h) => Ok(*h),
            _ => Err(ClientError::Protocol("unexpected answer to HELLO".into())),
        }
    }

    /// The rendered screen. Once the program has exited, the supervisor
    /// answers [`ClientError::Server`] with [`crate::ErrorCode::Dead`] (the
    /// message has the exit code), and once the connection has closed the
    /// call is [`ClientError::SessionEnded`]: the final screen is then in
    /// the session's exit record ([`ExitRecord::final_screen`]; the
    /// supervisor writes the record as it ends:
    /// [`crate::SessionFiles::exit_record_within`] waits for it).
    pub async fn screen(&self, mut req: ScreenRequest) -> Result<ScreenResp, ClientError> {
        self.need_v2("SCREEN")?;
        let make = move |id| {
            req.id = id;
            ClientMessage::Screen(req)
        };
        match self.call(make, Slot::Id, Some(self.deadline)).await? {
            Reply::Screen(s) => Ok(*s),
            _ => Err(ClientError::Protocol("unexpected answer to SCREEN".into())),
        }
    }

    async fn result(
        &self,
        make: impl FnOnce(Option<u64>) -> ClientMessage,
        deadline: Option<Duration>,
    ) -> Result<Value, ClientError> {
        match self.call(make, Slot::Id, deadline).await? {
            Reply::Result(v) => Ok(v),
            _ => Err(ClientError::Protocol("unexpected answer".into())),
        }
    }

    /// Send a signal (by name, `"INT"`, or number) to the terminal's
    /// foreground job ([`SignalTarget::Foreground`], what Ctrl-C reaches)
    /// or the child's process group.
    pub async fn signal(
        &self,
        signal: SignalSpec,
        target: SignalTarget,
    ) -> Result<SignalResult, ClientError> {
        self.need_v2("SIGNAL")?;
        let make = |id| ClientMessage::Signal(SignalRequest { id, signal, target });
        let v = self.result(make, Some(self.deadline)).await?;
        Ok(SignalResult {
            signal: v["signal"].as_str().unwrap_or_default().to_string(),
            target: serde_json::from_value(v["target"].clone()).unwrap_or(target),
            pgid: v["pgid"].as_i64().and_then(|p| i32::try_from(p).ok()),
        })
    }

    /// Why the session is in its state: the state, what decided it (the
    /// classifier, a waiting rule or the program's own report), the screen
    /// lines the waiting rules looked at and, when waiting, the options. The
    /// document is described in `docs/states.md`.
    pub async fn explain(&self) -> Result<Value, ClientError> {
        self.need_v2("EXPLAIN")?;
        let make = |id| ClientMessage::Explain(ExplainRequest { id });
        self.result(make, Some(self.deadline)).await
    }

    /// Report the program's own state (for a program inside the session:
    /// waiting with its question and answers, active or idle).
    pub async fn report(&self, mut report: ReportRequest) -> Result<(), ClientError> {
        self.need_v2("REPORT")?;
        let make = move |id| {
            report.id = id;
            ClientMessage::Report(report)
        };
        self.result(make, Some(self.deadline)).await.map(drop)
    }

    /// Type `text` as a line (bracketed paste when the program wants it,
    /// then Enter) and report whether the program read the line and reacted within
    /// `timeout_ms` (the server's default when `None`).
    pub async fn submit(
        &self,
        text: &str,
        timeout_ms: Option<u64>,
    ) -> Result<SubmitResult, ClientError> {
        self.need_v2("SUBMIT")?;
        let text = text.to_string();
        let make = |id| {
            ClientMessage::Submit(SubmitRequest {
                id,
                text,
                timeout_ms,
            })
        };
        // The server's own timeout plus its settling time fit in the margin.
        let deadline = self
            .deadline
            .saturating_add(Duration::from_millis(timeout_ms.unwrap_or(10_000)));
        let v = self.result(make, Some(deadline)).await?;
        Ok(SubmitResult {
            accepted: v["accepted"].as_bool() == Some(true),
            read: v["read"].as_bool() != Some(false),
            exited: v["exited"].as_bool() == Some(true),
            bracketed_paste: v["bracketed_paste"].as_bool() == Some(true),
            echoed: v["echoed"].as_bool() == Some(true),
            output_offset: v["output_offset"].as_u64().unwrap_or_default(),
        })
    }

    /// Wait on the server for `condition`, at most `timeout_ms` (then
    /// [`WaitResult::TimedOut`]); without a timeout the call has no deadline.
    /// Dropping the call's future before its answer cancels the WAIT on a
    /// server that offers `cancel` (CANCEL, docs/protocol.md).
    ///
    /// A session that ends before the supervisor answers (or has ended
    /// already) answers from its exit record, as an ended session does for
    /// `hm wait` ([`ExitRecord::wait_answer`]: the exit for an exit wait, a
    /// screen regex matched on the final screen, else
    /// [`WaitResult::EndedFirst`]). A supervisor that is ending closes its
    /// connections without reading what is still on its way, so a WAIT
    /// sent just before the program exits may never be read. Without the
    /// session's files ([`ClientBuilder::session_files`]) this is
    /// [`ClientError::SessionEnded`].
    pub async fn wait(
        &self,
        condition: WaitCondition,
        timeout_ms: Option<u64>,
    ) -> Result<WaitResult, ClientError> {
        self.need_v2("WAIT")?;
        let make = |id| {
            ClientMessage::Wait(WaitRequest {
                id,
                condition: condition.clone(),
                timeout_ms,
            })
        };
        let deadline = timeout_ms.map(|t| self.deadline.saturating_add(Duration::from_millis(t)));
        let result = match self.result(make, deadline).await {
            Ok(v) => WaitResult::from_json(v),
            Err(ClientError::SessionEnded { code: Some(code) }) => self
                .ended_answer(&condition, code)
                .ok_or(ClientError::SessionEnded { code: Some(code) })?,
            Err(e) => return Err(e),
        };
        if let WaitResult::Exited { code, .. } | WaitResult::EndedFirst { code, .. } = result {
            // Known from now on, as from EXIT (input has nowhere to go).
            self.inner.lock().exit_code.get_or_insert(code);
        }
        Ok(result)
    }

    /// Type raw bytes into the session's terminal. `Ok` means the bytes are
    /// queued on this connection, behind everything sent before them; the
    /// supervisor writes them to the pty in order. [`Client::input_taken`]
    /// confirms the supervisor took them; [`Client::type_steps`] types and
    /// confirms in one call.
    ///
    /// Any length works: bytes over the protocol's frame limit
    /// ([`MAX_PAYLOAD`]) go as several INPUT frames, queued together and in
    /// order (up to [`INPUT_BATCH`] frames at a time; between batches other
    /// calls on this connection may queue frames, and a call that fails at a
    /// later batch has sent the batches before it).
    pub async fn input(&self, bytes: impl Into<Bytes>) -> Result<(), ClientError> {
        let bytes: Bytes = bytes.into();
        if bytes.len() <= MAX_PAYLOAD {
            return self.send(ClientMessage::Input(bytes)).await;
        }
        let mut chunks = (0..bytes.len())
            .step_by(MAX_PAYLOAD)
            .map(|at| bytes.slice(at..bytes.len().min(at + MAX_PAYLOAD)))
            .peekable();
        while chunks.peek().is_some() {
            let batch: Vec<Bytes> = chunks.by_ref().take(INPUT_BATCH).collect();
            let permits = tokio::time::timeout(self.deadline, async {
                self.broken()?;
                self.writer
                    .reserve_many(batch.len())
                    .await
                    .map_err(|_| self.ended_error())
            })
            .await
            .map_err(|_| self.timed_out(self.deadline))??;
            self.broken()?;
            for (permit, chunk) in permits.zip(batch) {
                permit.send(ClientMessage::Input(chunk).to_frame());
            }
        }
        Ok(())
    }

    /// Wait until the supervisor has handled every [`Client::input`] sent
    /// on this connection so far (a STATUS round trip: requests are handled
    /// in order) and check that it could reach the program. Returns the
    /// status, or [`ClientError::Server`] with [`crate::ErrorCode::Dead`] when
    /// input sent since the last check came after the program had exited:
    /// that input was not typed (the message has the exit code when known).
    /// [`ClientError::SessionEnded`] (or [`ClientError::ConnectionClosed`])
    /// means the session ended (or the connection broke) before answering.
    /// A supervisor without `input_errors` in its features (heimdall 1.0)
    /// never refuses input.
    pub async fn input_taken(&self) -> Result<Status, ClientError> {
        let status = self.status().await;
        if let Some(e) = self.inner.lock().refused_input.take() {
            return Err(e.into());
        }
        status
    }

    /// Type `steps` one after the other, `gap` apart, each confirmed with
    /// [`Client::input_taken`] before the next is sent (TUIs ignore an
    /// arrow and Enter that arrive in one read). Returns how many steps were
    /// typed: fewer than given when the steps typed ended the program (a
    /// `y` to a one-key prompt) and the rest had nowhere to go, which is not
    /// an error. A step counts as typed only if it could have reached the
    /// program: a session that ends while a step is confirmed was ended by
    /// it unless the program had exited before the step was sent, as this
    /// connection knew (EXIT, an EXIT event, a WAIT that saw the exit, the
    /// exit record) or as the exit record's `ended_at` shows (a supervisor
    /// ending may close the connection without reading the step). The first
    /// step's refusal is the error: [`ClientError::Server`] with
    /// [`crate::ErrorCode::Dead`] when the program had already exited (the
    /// message has the exit code), [`ClientError::SessionEnded`] or
    /// [`ClientError::ConnectionClosed`] when the session is gone.
    ///
    /// A connection that closes is the session's end only when that is
    /// known: its exit code came (EXIT, or the exit record), or, with the
    /// session's files ([`ClientBuilder::session_files`]), its exit record
    /// appears within [`ENDING_WAIT`] or its supervisor is gone. Otherwise
    /// the link broke with the session perhaps still running (a proxy that
    /// went away): [`ClientError::ConnectionClosed`], whatever was typed
    /// before. Over a proxy without the session's files, a step that ends
    /// the session cannot be told from a broken link, and is that error;
    /// and a step sent after the program exited, before this connection
    /// learnt of it, that the supervisor closed the connection without
    /// reading, cannot be told from one that ended it, and counts as typed.
    pub async fn type_steps<B: Into<Bytes>>(
        &self,
        steps: impl IntoIterator<Item = B>,
        gap: Duration,
    ) -> Result<usize, ClientError> {
        let mut typed = 0;
        for step in steps {
            if typed > 0 {
                tokio::time::sleep(gap).await;
            }
            // The exit known already: the step has nowhere to go.
            if let Some(code) = self.inner.lock().exit_code {
                return not_typed(typed, code);
            }
            let sent_at = SystemTime::now();
            match self.input(step).await {
                Ok(()) => {}
                Err(ClientError::SessionEnded { .. }) if typed > 0 => return Ok(typed),
                Err(ClientError::ConnectionClosed) if typed > 0 && self.has_ended().await => {
                    return Ok(typed)
                }
                Err(e) => return Err(e),
            }
            let ended = match self.input_taken().await {
                Ok(_) => None,
                Err(ClientError::SessionEnded { .. }) => Some(Ending::Known),
                Err(ClientError::ConnectionClosed) => match self.ending().await {
                    Some(ending) => Some(ending),
                    None => return Err(ClientError::ConnectionClosed),
                },
                Err(ClientError::Server {
                    code: crate::ErrorCode::Dead,
                    ..
                }) if typed > 0 => return Ok(typed),
                Err(e) => return Err(e),
            };
            // A session that ended meanwhile was ended by this step (a
            // program that exits on the line it read), unless its record
            // says the program had exited before the step was sent.
            if let Some(ending) = ended {
                let record = match ending {
                    Ending::Known => self.inner.server_record().map(Box::new),
                    Ending::Read(record) => record,
                };
                if let Some(code) = record.and_then(|r| exited_before(&r, sent_at)) {
                    return not_typed(typed, code);
                }
            }
            typed += 1;
        }
        Ok(typed)
    }

    /// What a WAIT for `condition` answers once the session has ended with
    /// `code`: the answer from its exit record, when it has the record of
    /// that end.
    fn ended_answer(&self, condition: &WaitCondition, code: i32) -> Option<WaitResult> {
        let record = self.inner.server_record()?;
        (record.code == code).then(|| record.wait_answer(condition))
    }

    /// Whether the session is known to have ended, its connection being
    /// closed (see [`Client::ending`]).
    async fn has_ended(&self) -> bool {
        self.ending().await.is_some()
    }

    /// What is known of the session's end, its connection being closed:
    /// its exit code came, or (with its files) its exit record appears
    /// within [`ENDING_WAIT`] or its supervisor is gone; `None` when its
    /// end is not known. The record is read once, and kept.
    async fn ending(&self) -> Option<Ending> {
        if self.inner.lock().exit_code.is_some() {
            return Some(Ending::Known);
        }
        let files = self.inner.files.clone()?;
        let record =
            tokio::task::spawn_blocking(move || match files.exit_record_within(ENDING_WAIT) {
                Some(record) => Some(Some(record)),
                None => (!files.is_live()).then_some(None),
            })
            .await
            .ok()??;
        let record = record
            .and_then(ExitRecord::told_by_supervisor)
            .map(Box::new);
        if let Some(r) = &record {
            // Known from now on, as from EXIT.
            self.inner.lock().exit_code.get_or_insert(r.code);
        }
        Some(Ending::Read(record))
    }

    /// Resize the session's terminal: 1 to
    /// [`heimdall_protocol::message::MAX_COLS`] columns and 1 to
    /// [`heimdall_protocol::message::MAX_ROWS`] rows, else
    /// [`ClientError::InvalidSize`] (the supervisor refuses such a size).
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), ClientError> {
        use heimdall_protocol::message::{MAX_COLS, MAX_ROWS};
        if !(1..=MAX_COLS).contains(&cols) || !(1..=MAX_ROWS).contains(&rows) {
            return Err(ClientError::InvalidSize { cols, rows });
        }
        self.send(ClientMessage::Resize { cols, rows }).await
    }

    /// Kill the session (SIGTERM to its tree, SIGKILL after the grace).
    /// [`Client::closed`] tells when it has ended.
    pub async fn kill(&self) -> Result<(), ClientError> {
        self.send(ClientMessage::Kill).await
    }

    /// Wait until the connection ends; the exit code when known.
    pub async fn closed(&self) -> Option<i32> {
        let mut rx = self.inner.ended.clone();
        let code = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.flatten(),
            Err(_) => None,
        };
        code
    }

    /// Queue a request that opens a stream, installing the stream's
    /// sender in the same step (so no frame of it can be missed).
    async fn open_stream(
        &self,
        msg: ClientMessage,
        install: impl FnOnce(&mut Pending) -> Result<(), ClientError>,
    ) -> Result<(), ClientError> {
        let permit = tokio::time::timeout(self.deadline, self.reserve())
            .await
            .map_err(|_| self.timed_out(self.deadline))??;
        let mut p = self.inner.lock();
        if p.is_broken() {
            drop(p);
            return Err(self.ended_error());
        }
        install(&mut p)?;
        permit.send(msg.to_frame());
        Ok(())
    }

    /// Stream output from offset `from` (the replay of what is still kept,
    /// then live output). Output no longer kept is an [`OutputItem::Gap`]
    /// up to the oldest byte kept; an offset beyond the session's end
    /// starts at the end, the first item's offset saying where (the
    /// supervisor says where with EVENT `skipped`; one that does not, as
    /// older ones do not, leaves the bytes numbered from `from`). With a heimdall 1.0 server `from` is ignored: the
    /// scrollback is replayed and offsets count from its first byte. One
    /// output stream per connection.
    ///
    /// [`OutputItem::Gap`]: crate::OutputItem::Gap
    pub async fn output(&self, from: u64) -> Result<OutputStream, ClientError> {
        self.output_paced(from, Pacing::BestEffort).await
    }

    /// [`Client::output`], paced as asked: with [`Pacing::Hold`] the
    /// program waits for this stream's consumer however long it takes
    /// (when the supervisor offers `hold`; [`OutputStream::holds`] says).
    pub async fn output_paced(
        &self,
        from: u64,
        pacing: Pacing,
    ) -> Result<OutputStream, ClientError> {
        let legacy = self.is_legacy();
        let hold = pacing == Pacing::Hold && self.has_feature("hold");
        let (mut stream, sender) =
            OutputStream::new(self.inner.output_bound, if legacy { 0 } else { from }, hold);
        let msg = if legacy {
            ClientMessage::Subscribe(SubscribeOptions::default())
        } else {
            ClientMessage::SubscribeFrom {
                offset: from,
                options: SubscribeOptions { hold },
            }
        };
        self.open_stream(msg, |p| match p.output {
            Some(_) => Err(ClientError::AlreadyStreaming("output")),
            None => {
                p.output = Some(sender);
                Ok(())
            }
        })
        .await?;
        stream.keep_alive(Box::new(self.writer.clone()));
        Ok(stream)
    }

    /// Stream the scrollback (the last `scrollback_bytes` of output, as of
    /// this call: a HELLO asks where it starts now), then live output.
    pub async fn output_replay(&self) -> Result<OutputStream, ClientError> {
        self.output_replay_paced(Pacing::BestEffort).await
    }

    /// [`Client::output_replay`], paced as asked (see [`Client::output_paced`]).
    pub async fn output_replay_paced(&self, pacing: Pacing) -> Result<OutputStream, ClientError> {
        // (A heimdall 1.0 server replays its scrollback whatever the offset.)
        let from = if self.is_legacy() {
            0
        } else {
            self.refresh().await?.scrollback_offset
        };
        self.output_paced(from, pacing).await
    }

    /// Stream the session's events from now on. One event stream per
    /// connection.
    pub async fn events(&self) -> Result<EventStream, ClientError> {
        self.need_v2("EVENTS")?;
        let (mut stream, sender) = EventStream::new(self.inner.event_bound);
        self.open_stream(ClientMessage::Events, |p| match p.events {
            Some(_) => Err(ClientError::AlreadyStreaming("event")),
            None => {
                p.events = Some(sender);
                Ok(())
            }
        })
        .await?;
        stream.keep_alive(Box::new(self.writer.clone()));
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::OutputItem;
    use heimdall_protocol::{ServerMessage, State, StatusResp};
    use tokio::io::{AsyncWriteExt, DuplexStream};

    /// A heimdall 1.0 server's side of a connection: sends the mode byte
    /// and answers the handshake's STATUS (1.0 ignores HELLO).
    async fn one_zero_handshake<W, R>(
        out: &mut FramedWrite<W, FrameCodec>,
        input: &mut FramedRead<R, FrameCodec>,
    ) where
        W: AsyncWrite + Unpin,
        R: AsyncRead + Unpin,
    {
        out.get_mut().write_all(&[MODE_BINARY]).await.unwrap();
        while let Some(Ok(f)) = input.next().await {
            if f.kind == client::STATUS {
                break;
            }
        }
        let status = StatusResp {
            pid: 1,
            idle_ms: 0,
            alive: true,
            state: State::Idle,
            state_ms: 0,
        };
        out.send(ServerMessage::Status(status).to_frame())
            .await
            .unwrap();
    }

    /// A client over `client`'s reader and writer, whose server has
    /// answered the handshake on `server` as heimdall 1.0 does; the
    /// server's writer and reader.
    async fn one_zero_client_over<CR, CW, SR, SW>(
        client: (CR, CW),
        server: (SR, SW),
    ) -> (
        Client,
        FramedWrite<SW, FrameCodec>,
        FramedRead<SR, FrameCodec>,
    )
    where
        CR: AsyncRead + Send + Unpin + 'static,
        CW: AsyncWrite + Send + Unpin + 'static,
        SR: AsyncRead + Unpin,
        SW: AsyncWrite + Unpin,
    {
        let mut out = FramedWrite::new(server.1, FrameCodec::new());
        let mut input = FramedRead::new(server.0, FrameCodec::new());
        let (client, ()) = tokio::join!(
            ClientBuilder::new().over(client.0, client.1),
            one_zero_handshake(&mut out, &mut input),
        );
        (client.unwrap(), out, input)
    }

    /// A client connected to a heimdall 1.0 server's side of a connection.
    async fn one_zero_client() -> (
        Client,
        FramedWrite<DuplexStream, FrameCodec>,
        FramedRead<DuplexStream, FrameCodec>,
    ) {
        let (to_client, server_out) = tokio::io::duplex(1 << 16);
        let (from_client, server_in) = tokio::io::duplex(1 << 16);
        one_zero_client_over((to_client, from_client), (server_in, server_out)).await
    }

    /// Asking a heimdall 1.0 server to hold sends 1.0's SUBSCRIBE, empty,
    /// and the stream says it does not hold (the server paces it as ever).
    #[tokio::test]
    async fn hold_is_not_asked_of_a_one_zero_server() {
        let (client, _out, mut input) = one_zero_client().await;
        let output = client.output_paced(0, Pacing::Hold).await.unwrap();
        assert!(!output.holds());
        let frame = input.next().await.unwrap().unwrap();
        assert_eq!(frame.kind, client::SUBSCRIBE);
        assert!(frame.payload.is_empty());
    }

    /// A session that ends closes its socket: the client's next write
    /// fails, but the last output and the EXIT the server sent before
    /// closing still reach the output stream and `closed()`. (The failed
    /// write used to stop the reader with them unread.)
    #[tokio::test(start_paused = true)]
    async fn a_failed_write_loses_nothing_the_server_already_sent() {
        let (client, mut out, input) = one_zero_client().await;
        let mut output = client.output(0).await.unwrap();
        // The server stops reading: every write of the client fails.
        drop(input);
        client.input(&b"typed as it ended"[..]).await.unwrap();
        // Paused time advances only once every task is idle: the writer
        // has met the failure by then.
        tokio::time::sleep(Duration::from_secs(1)).await;
        // (These fail only if the client has stopped reading: the
        // assertions below say so.)
        let _ = out
            .send(ServerMessage::Output(Bytes::from_static(b"bye")).to_frame())
            .await;
        let _ = out.send(ServerMessage::Exit { code: 3 }.to_frame()).await;
        drop(out);
        assert_eq!(
            output.next().await,
            Some(OutputItem::Data {
                offset: 0,
                bytes: Bytes::from_static(b"bye")
            })
        );
        assert_eq!(output.next().await, Some(OutputItem::Exit { code: 3 }));
        assert_eq!(output.next().await, None);
        assert_eq!(client.closed().await, Some(3));
    }

    /// A client over one end of a socket pair whose other end has answered
    /// the handshake as heimdall 1.0 does: that other end, its writer and
    /// its reader.
    async fn one_zero_client_over_socket() -> (
        Client,
        std::os::unix::net::UnixStream,
        FramedWrite<tokio::net::unix::OwnedWriteHalf, FrameCodec>,
        FramedRead<tokio::net::unix::OwnedReadHalf, FrameCodec>,
    ) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let server = theirs.try_clone().unwrap();
        let [ours, theirs] = [ours, theirs].map(|s| {
            s.set_nonblocking(true).unwrap();
            tokio::net::UnixStream::from_std(s).unwrap().into_split()
        });
        let (client, out, input) = one_zero_client_over(ours, theirs).await;
        (client, server, out, input)
    }

    /// A peer that stops reading but keeps its end open and says nothing
    /// more: the client's next write fails; the call in flight (its
    /// STATUS reached the server) fails after the grace, the calls and the
    /// input after it at once — all of them waited for the whole deadline,
    /// 10 s — with the connection's error (the exit is not known). The
    /// output stream ends with the server's end of stream.
    #[tokio::test]
    async fn a_failed_write_fails_every_call_at_once() {
        let (client, server, out, mut input) = one_zero_client_over_socket().await;
        assert!(DEFAULT_DEADLINE >= Duration::from_secs(5));
        let mut output = client.output(0).await.unwrap();
        let c = client.clone();
        let in_flight = tokio::spawn(async move { c.status().await });
        // The STATUS has reached the server (which does not answer it).
        while input.next().await.unwrap().unwrap().kind != client::STATUS {}
        server.shutdown(std::net::Shutdown::Read).unwrap();
        let start = std::time::Instant::now();
        // Queued before the failure is known, or refused after.
        let first = client.input(&b"lost"[..]).await;
        assert!(matches!(first, Ok(()) | Err(ClientError::ConnectionClosed)));
        let in_flight = in_flight.await.unwrap();
        assert!(
            matches!(in_flight, Err(ClientError::ConnectionClosed)),
            "{in_flight:?}"
        );
        let later = client.status().await;
        assert!(
            matches!(later, Err(ClientError::ConnectionClosed)),
            "{later:?}"
        );
        let input = client.input(&b"more"[..]).await;
        assert!(
            matches!(input, Err(ClientError::ConnectionClosed)),
            "{input:?}"
        );
        let elapsed = start.elapsed();
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        // The server's end of stream ends the output stream.
        drop((out, server));
        let end = tokio::time::timeout(Duration::from_secs(2), output.next()).await;
        assert_eq!(end, Ok(None));
        assert_eq!(client.closed().await, None);
    }

    /// Once the session's EXIT has come, a call after a failed write says
    /// the session ended, with its code.
    #[tokio::test]
    async fn a_failed_write_after_exit_says_the_session_ended() {
        let (client, server, mut out, _) = one_zero_client_over_socket().await;
        let mut output = client.output(0).await.unwrap();
        out.send(ServerMessage::Exit { code: 5 }.to_frame())
            .await
            .unwrap();
        assert_eq!(output.next().await, Some(OutputItem::Exit { code: 5 }));
        server.shutdown(std::net::Shutdown::Read).unwrap();
        let start = std::time::Instant::now();
        // Its own write fails: it gets the session's end after the grace.
        let status = client.status().await;
        assert!(
            matches!(status, Err(ClientError::SessionEnded { code: Some(5) })),
            "{status:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
