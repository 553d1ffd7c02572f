//! Typed client and server messages and their JSON payloads.
//!
//! [`ClientMessage`] and [`ServerMessage`] convert to and from [`Frame`]s.
//! The hot path (INPUT, OUTPUT) carries raw bytes; metadata frames carry
//! UTF-8 JSON objects so that a client in any language can speak them.
//! Requests that carry JSON may include an `"id"`, which the server echoes
//! in the RESULT or ERROR that answers them.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::frame::{client, server, Frame};
use crate::state::{SessionState, State};

/// Why a frame could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame type is not one this side knows.
    #[error("unknown frame type 0x{0:02x}")]
    UnknownType(u8),
    /// The frame type is known but its payload is not valid for it.
    #[error("malformed {name} frame: {reason}")]
    Malformed {
        /// The frame type byte.
        kind: u8,
        /// The frame's name.
        name: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl DecodeError {
    /// The frame type this error is about.
    pub fn kind(&self) -> u8 {
        match self {
            DecodeError::UnknownType(k) => *k,
            DecodeError::Malformed { kind, .. } => *kind,
        }
    }
}

fn malformed(kind: u8, reason: impl Into<String>) -> DecodeError {
    DecodeError::Malformed {
        kind,
        name: frame_name(kind),
        reason: reason.into(),
    }
}

/// The protocol name of a frame type, or `"UNKNOWN"`.
pub fn frame_name(kind: u8) -> &'static str {
    match kind {
        client::INPUT => "INPUT",
        client::SUBSCRIBE => "SUBSCRIBE",
        client::STATUS => "STATUS",
        client::RESIZE => "RESIZE",
        client::KILL => "KILL",
        client::HELLO => "HELLO",
        client::SCREEN => "SCREEN",
        client::SIGNAL => "SIGNAL",
        client::EVENTS => "EVENTS",
        client::SUBSCRIBE_FROM => "SUBSCRIBE_FROM",
        client::SUBMIT => "SUBMIT",
        client::WAIT => "WAIT",
        client::EXPLAIN => "EXPLAIN",
        client::REPORT => "REPORT",
        client::CANCEL => "CANCEL",
        server::OUTPUT => "OUTPUT",
        server::STATUS_RESP => "STATUS_RESP",
        server::EXIT => "EXIT",
        server::HELLO_RESP => "HELLO_RESP",
        server::SCREEN_RESP => "SCREEN_RESP",
        server::EVENT => "EVENT",
        server::RESULT => "RESULT",
        server::ERROR => "ERROR",
        _ => "UNKNOWN",
    }
}

fn json_payload<T: Serialize>(value: &T) -> Bytes {
    // Serialising these plain structs cannot fail (no non-string map keys).
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
}

fn parse_json<T: DeserializeOwned + Default>(kind: u8, payload: &[u8]) -> Result<T, DecodeError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json_required(kind, payload)
}

fn parse_json_required<T: DeserializeOwned>(kind: u8, payload: &[u8]) -> Result<T, DecodeError> {
    let text =
        std::str::from_utf8(payload).map_err(|e| malformed(kind, format!("invalid UTF-8: {e}")))?;
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| malformed(kind, format!("invalid JSON: {e}")))?;
    if !value.is_object() {
        return Err(malformed(kind, "the payload must be a JSON object"));
    }
    drop_nulls(&mut value);
    serde_json::from_value(value).map_err(|e| malformed(kind, e.to_string()))
}

/// Remove every member whose value is `null` from the objects in `value`
/// (at any depth): a field given as `null` counts as absent, as languages
/// whose "no value" serialises as `null` (JavaScript's `undefined` made
/// `null`, Python's `None`) send it.
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The `"id"` of a JSON request payload, if it has one, even when the rest
/// of the payload is not valid for its type: an ERROR `malformed` repeats
/// it so that a client with several requests in flight knows which failed.
pub fn request_id(payload: &[u8]) -> Option<u64> {
    // A JSON object only: a struct would also take an array's first
    // element for the id (`[7]`).
    let value = serde_json::from_slice::<serde_json::Value>(payload).ok()?;
    value.as_object()?.get("id")?.as_u64()
}

/// Widest terminal a RESIZE may ask for.
pub const MAX_COLS: u16 = 1000;
/// Tallest terminal a RESIZE may ask for.
pub const MAX_ROWS: u16 = 500;

// ---------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------

/// Payload of HELLO. Every field is optional; an empty payload is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// A free-form client name, for logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The protocol version the client speaks (2 for this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u32>,
    /// The client shows the session's output on its terminal (`hm
    /// attach`): the server counts that terminal among the session's
    /// [`HelloResp::viewers`] while the connection lasts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub viewer: bool,
}

impl Hello {
    /// HELLO's payload: any JSON object (or nothing) is a HELLO, and a
    /// field of the wrong type (`"protocol": 2.0`, `"viewer": "yes"`) is
    /// taken as absent: the server never refuses a HELLO, and a client
    /// whose HELLO it ignored would wait for HELLO_RESP forever.
    fn lenient(payload: &[u8]) -> Result<Hello, DecodeError> {
        let object: serde_json::Map<String, serde_json::Value> =
            parse_json(client::HELLO, payload)?;
        Ok(Hello {
            client: object
                .get("client")
                .and_then(|c| c.as_str())
                .map(String::from),
            protocol: object
                .get("protocol")
                .and_then(|v| v.as_u64())
                .and_then(|v| u32::try_from(v).ok()),
            viewer: object.get("viewer").and_then(|v| v.as_bool()) == Some(true),
        })
    }
}

/// How SCREEN renders lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenFormat {
    /// Plain text, trailing blanks trimmed.
    #[default]
    Text,
    /// Text with ANSI SGR escapes for colours and attributes.
    Ansi,
}

/// Payload of SCREEN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Text or ANSI lines.
    #[serde(default)]
    pub format: ScreenFormat,
    /// How many lines scrolled off the top to include (0 = none).
    #[serde(default)]
    pub scrollback_lines: usize,
    /// Also return `redraw`: the escape sequences that paint this screen on
    /// a terminal (used by attaching clients).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redraw: bool,
}

/// A signal given by name (`"INT"`, `"SIGTERM"`) or number (`15`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SignalSpec {
    /// A signal number.
    Number(i32),
    /// A signal name, with or without the `SIG` prefix, any case.
    Name(String),
}

/// Which processes a SIGNAL reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalTarget {
    /// The terminal's foreground process group (`tcgetpgrp` of the pty):
    /// what Ctrl-C in the terminal reaches, e.g. the job a shell runs.
    #[default]
    Foreground,
    /// The child's process group (the child alone when the session's
    /// `kill_process_group = false`).
    Group,
}

/// Payload of SIGNAL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The signal to send.
    pub signal: SignalSpec,
    /// Who gets it (default: the terminal's foreground process group).
    #[serde(default)]
    pub target: SignalTarget,
}

/// Payload of SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The text to type (without the final Enter).
    pub text: String,
    /// How long to wait for the program to accept the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Where a WAIT regex is matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegexSource {
    /// The rendered screen (text lines joined by `\n`).
    #[default]
    Screen,
    /// Output the child wrote after the request arrived.
    Output,
}

/// The condition of a WAIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "until", rename_all = "snake_case")]
pub enum WaitCondition {
    /// No output for `idle_ms` milliseconds.
    Idle {
        /// The required silence.
        #[serde(default = "default_idle_ms")]
        idle_ms: u64,
    },
    /// A regular expression matches the screen or new output.
    Regex {
        /// The pattern (Rust `regex` syntax).
        pattern: String,
        /// What to match against.
        #[serde(default)]
        source: RegexSource,
    },
    /// The classifier enters this state.
    State {
        /// The state to wait for.
        state: State,
    },
    /// The child exits.
    Exit,
}

fn default_idle_ms() -> u64 {
    500
}

/// Payload of WAIT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// What to wait for.
    #[serde(flatten)]
    pub condition: WaitCondition,
    /// Give up after this long (answers `{"ok": false, "error": "timeout"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Payload of EXPLAIN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplainRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// Payload of CANCEL: the id of a WAIT the client no longer waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// The WAIT's id.
    pub id: u64,
}

/// Payload of REPORT: a program's own account of its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// Echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// `waiting`, `active` or `idle`.
    pub state: State,
    /// For `waiting`: the question.
    #[serde(default)]
    pub prompt: String,
    /// For `waiting`: what kind of input (default `text`, `menu` with options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WaitingKind>,
    /// For `waiting`: the answers.
    #[serde(default)]
    pub options: Vec<WaitingOption>,
}

/// Options of SUBSCRIBE and SUBSCRIBE_FROM (version 2): a JSON object, the
/// whole payload of SUBSCRIBE or after SUBSCRIBE_FROM's offset. The default
/// options are sent as no bytes at all, so SUBSCRIBE stays heimdall 1.0's
/// frame; a server that knows no options ignores them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeOptions {
    /// Hold the child back for this subscriber however long it takes: it is
    /// never cut loose (no `lagged`), and the supervisor waits for it to read
    /// EXIT after the child ends. Granted by servers that list the `hold`
    /// feature, to clients that said HELLO.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hold: bool,
}

impl SubscribeOptions {
    /// Options read from `payload`; anything that is not a JSON object of
    /// them (an empty payload, heimdall 1.0's ignored bytes) means the
    /// defaults.
    fn lenient(payload: &[u8]) -> SubscribeOptions {
        serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .filter(serde_json::Value::is_object)
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }

    fn payload(&self) -> Bytes {
        if *self == SubscribeOptions::default() {
            Bytes::new()
        } else {
            json_payload(self)
        }
    }
}

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Raw bytes for the child's terminal.
    Input(Bytes),
    /// Replay the scrollback, then stream live output.
    Subscribe(SubscribeOptions),
    /// Ask for a STATUS_RESP.
    Status,
    /// Resize the terminal.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// Kill the session (SIGTERM, then SIGKILL after a grace period).
    Kill,
    /// Opt into the protocol extensions.
    Hello(Hello),
    /// Ask for the rendered screen.
    Screen(ScreenRequest),
    /// Send a signal to the child's process group.
    Signal(SignalRequest),
    /// Receive EVENT frames from now on.
    Events,
    /// Replay output from an offset, then stream live output.
    SubscribeFrom {
        /// The output offset to start at.
        offset: u64,
        /// How the stream is paced.
        options: SubscribeOptions,
    },
    /// Type a line as a human would and confirm it was taken.
    Submit(SubmitRequest),
    /// Wait for a condition on the server side.
    Wait(WaitRequest),
    /// Explain the current state.
    Explain(ExplainRequest),
    /// Report the program's own state.
    Report(ReportRequest),
    /// End a WAIT the client gave up on.
    Cancel(CancelRequest),
}

impl ClientMessage {
    /// The frame type of this message.
    pub fn kind(&self) -> u8 {
        match self {
            ClientMessage::Input(_) => client::INPUT,
            ClientMessage::Subscribe(_) => client::SUBSCRIBE,
            ClientMessage::Status => client::STATUS,
            ClientMessage::Resize { .. } => client::RESIZE,
            ClientMessage::Kill => client::KILL,
            ClientMessage::Hello(_) => client::HELLO,
            ClientMessage::Screen(_) => client::SCREEN,
            ClientMessage::Signal(_) => client::SIGNAL,
            ClientMessage::Events => client::EVENTS,
            ClientMessage::SubscribeFrom { .. } => client::SUBSCRIBE_FROM,
            ClientMessage::Submit(_) => client::SUBMIT,
            ClientMessage::Wait(_) => client::WAIT,
            ClientMessage::Explain(_) => client::EXPLAIN,
            ClientMessage::Report(_) => client::REPORT,
            ClientMessage::Cancel(_) => client::CANCEL,
        }
    }

    /// Encode this message as a frame.
    pub fn to_frame(&self) -> Frame {
        let kind = self.kind();
        let payload = match self {
            ClientMessage::Input(b) => b.clone(),
            ClientMessage::Subscribe(o) => o.payload(),
            ClientMessage::Status | ClientMessage::Kill | ClientMessage::Events => Bytes::new(),
            ClientMessage::Resize { cols, rows } => {
                let mut b = BytesMut::with_capacity(4);
                b.put_u16(*cols);
                b.put_u16(*rows);
                b.freeze()
            }
            ClientMessage::Hello(h) => json_payload(h),
            ClientMessage::Screen(r) => json_payload(r),
            ClientMessage::Signal(r) => json_payload(r),
            ClientMessage::SubscribeFrom { offset, options } => {
                let mut b = BytesMut::from(&offset.to_be_bytes()[..]);
                b.extend_from_slice(&options.payload());
                b.freeze()
            }
            ClientMessage::Submit(r) => json_payload(r),
            ClientMessage::Wait(r) => json_payload(r),
            ClientMessage::Explain(r) => json_payload(r),
            ClientMessage::Report(r) => json_payload(r),
            ClientMessage::Cancel(r) => json_payload(r),
        };
        Frame { kind, payload }
    }

    /// Decode a frame sent by a client.
    ///
    /// STATUS, EVENTS and KILL ignore any payload, as heimdall 1.0 does;
    /// SUBSCRIBE reads [`SubscribeOptions`] from a payload that is one and
    /// ignores any other. RESIZE needs at least four bytes and non-zero sizes.
    pub fn from_frame(frame: &Frame) -> Result<ClientMessage, DecodeError> {
        let p = &frame.payload[..];
        let kind = frame.kind;
        Ok(match kind {
            client::INPUT => ClientMessage::Input(frame.payload.clone()),
            client::SUBSCRIBE => ClientMessage::Subscribe(SubscribeOptions::lenient(p)),
            client::STATUS => ClientMessage::Status,
            client::KILL => ClientMessage::Kill,
            client::EVENTS => ClientMessage::Events,
            client::RESIZE => {
                if p.len() < 4 {
                    return Err(malformed(kind, format!("needs 4 bytes, got {}", p.len())));
                }
                let mut b = p;
                let cols = b.get_u16();
                let rows = b.get_u16();
                if cols == 0 || rows == 0 {
                    return Err(malformed(kind, format!("size {cols}x{rows} has a zero")));
                }
                if cols > MAX_COLS || rows > MAX_ROWS {
                    return Err(malformed(
                        kind,
                        format!("size {cols}x{rows} is larger than {MAX_COLS}x{MAX_ROWS}"),
                    ));
                }
                ClientMessage::Resize { cols, rows }
            }
            client::HELLO => ClientMessage::Hello(Hello::lenient(p)?),
            client::SCREEN => ClientMessage::Screen(parse_json(kind, p)?),
            client::SIGNAL => ClientMessage::Signal(parse_json_required(kind, p)?),
            client::SUBSCRIBE_FROM => {
                if p.len() < 8 {
                    return Err(malformed(kind, format!("needs 8 bytes, got {}", p.len())));
                }
                let mut b = p;
                ClientMessage::SubscribeFrom {
                    offset: b.get_u64(),
                    options: SubscribeOptions::lenient(b),
                }
            }
            client::SUBMIT => ClientMessage::Submit(parse_json_required(kind, p)?),
            client::WAIT => ClientMessage::Wait(parse_json_required(kind, p)?),
            client::EXPLAIN => ClientMessage::Explain(parse_json(kind, p)?),
            client::REPORT => ClientMessage::Report(parse_json_required(kind, p)?),
            client::CANCEL => ClientMessage::Cancel(parse_json_required(kind, p)?),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

// ---------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------

/// The 15-byte STATUS_RESP of heimdall 1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusResp {
    /// The child's pid.
    pub pid: u32,
    /// Milliseconds since the child last wrote output.
    pub idle_ms: u32,
    /// Whether the child is still running.
    pub alive: bool,
    /// The classifier state.
    pub state: State,
    /// Milliseconds spent in the current state.
    pub state_ms: u32,
}

impl StatusResp {
    /// The wire length of a STATUS_RESP payload.
    pub const LEN: usize = 15;

    fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(Self::LEN);
        b.put_u32(self.pid);
        b.put_u32(self.idle_ms);
        b.put_u8(u8::from(self.alive));
        b.put_u8(self.state.to_byte());
        b.put_u32(self.state_ms);
        b.put_u8(0);
        b.freeze()
    }

    fn decode(p: &[u8]) -> Result<StatusResp, DecodeError> {
        let kind = server::STATUS_RESP;
        if p.len() < Self::LEN {
            return Err(malformed(kind, format!("needs 15 bytes, got {}", p.len())));
        }
        let mut b = p;
        let pid = b.get_u32();
        let idle_ms = b.get_u32();
        let alive = b.get_u8() != 0;
        let sb = b.get_u8();
        let state = State::from_byte(sb)
            .ok_or_else(|| malformed(kind, format!("unknown state byte 0x{sb:02x}")))?;
        let state_ms = b.get_u32();
        Ok(StatusResp {
            pid,
            idle_ms,
            alive,
            state,
            state_ms,
        })
    }
}

/// The session described in HELLO_RESP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// The child's pid.
    pub pid: u32,
    /// The child's process group.
    pub pgid: u32,
    /// The supervisor's pid.
    pub supervisor_pid: u32,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// The child's working directory.
    pub cwd: String,
    /// When the session started (RFC 3339, UTC).
    pub started_at: String,
    /// Terminal columns.
    pub cols: u16,
    /// Terminal rows.
    pub rows: u16,
    /// The classifier's name.
    pub classifier: String,
}

/// Payload of HELLO_RESP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResp {
    /// The protocol version the server speaks (2).
    pub protocol: u32,
    /// The server's name (`"hm"`).
    pub server: String,
    /// The server's version.
    pub version: String,
    /// Extension features the server answers.
    pub features: Vec<String>,
    /// The session.
    pub session: SessionInfo,
    /// Bytes the child has written so far (the next output byte's offset).
    pub output_offset: u64,
    /// Where SUBSCRIBE's replay starts (the scrollback's first byte).
    /// SUBSCRIBE_FROM may reach somewhat older bytes while they are kept.
    pub scrollback_offset: u64,
    /// The terminals that show the session's output now (connections
    /// that said `viewer` in HELLO): the process session id (`getsid`) of
    /// each one's client, which is the child pid of the session whose
    /// terminal it runs in, if any. `hm attach` refuses attach loops with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub viewers: Vec<u32>,
}

/// The cursor position in SCREEN_RESP (0-based).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Row, 0 = top.
    pub row: u16,
    /// Column, 0 = left.
    pub col: u16,
    /// Whether the program shows the cursor.
    pub visible: bool,
}

/// Payload of SCREEN_RESP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenResp {
    /// Echo of the request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The visible lines, top to bottom.
    pub lines: Vec<String>,
    /// The cursor.
    pub cursor: Cursor,
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// Whether the alternate screen is active.
    pub alternate_screen: bool,
    /// The window title (OSC 0/2), empty if none.
    pub title: String,
    /// Whether the program enabled bracketed paste.
    #[serde(default)]
    pub bracketed_paste: bool,
    /// Whether the program enabled application cursor keys.
    #[serde(default)]
    pub application_cursor: bool,
    /// Lines scrolled off the top, oldest first, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrollback: Option<Vec<String>>,
    /// The output offset this screen reflects: SUBSCRIBE_FROM it to
    /// continue with live output, without gap or overlap.
    #[serde(default)]
    pub output_offset: u64,
    /// Escape sequences that paint this screen (modes, contents, cursor) on
    /// a terminal, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redraw: Option<String>,
}

/// One choice of a program waiting for input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingOption {
    /// What the choice says.
    pub label: String,
    /// The keys that pick it, as steps: each step is written on its own,
    /// a short gap after the previous one (TUIs built on ink ignore an
    /// arrow key and Enter that arrive in one read). A single string is
    /// accepted as one step.
    #[serde(deserialize_with = "deserialize_steps")]
    pub keys: Vec<String>,
}

/// Key steps as a list of strings, or a single string as one step.
pub fn deserialize_steps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Steps {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Steps::deserialize(d)? {
        Steps::One(s) => vec![s],
        Steps::Many(v) => v,
    })
}

/// What a program waiting for input waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitingKind {
    /// A command prompt: a shell, a REPL.
    Shell,
    /// A yes/no question.
    YesNo,
    /// A choice among listed options (numbered, lettered or arrow-key).
    Menu,
    /// A free-text answer.
    Text,
    /// A secret: nothing typed is echoed, and it is never logged.
    Password,
    /// A pager showing a page (space: next, q: quit).
    Pager,
    /// A single key to go on ("Press Enter to continue").
    Confirm,
}

impl WaitingKind {
    /// The kind's name in JSON and rule files.
    pub fn name(self) -> &'static str {
        match self {
            WaitingKind::Shell => "shell",
            WaitingKind::YesNo => "yes_no",
            WaitingKind::Menu => "menu",
            WaitingKind::Text => "text",
            WaitingKind::Password => "password",
            WaitingKind::Pager => "pager",
            WaitingKind::Confirm => "confirm",
        }
    }
}

/// What a session waits for: the payload of the `waiting` EVENT and part of
/// the EXPLAIN answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The question or prompt text.
    pub prompt: String,
    /// What kind of input.
    pub kind: WaitingKind,
    /// The choices offered (empty for free input).
    #[serde(default)]
    pub options: Vec<WaitingOption>,
    /// For arrow-key menus: the index of the option the pointer is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<usize>,
    /// The rule that recognised it (`"report"` for a self-report).
    #[serde(default)]
    pub rule: String,
    /// `"screen"` (a screen rule) or `"report"` (the program said so).
    #[serde(default)]
    pub source: String,
}

/// Payload of EVENT, tagged by `"type"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The classifier state changed.
    State {
        /// The previous state.
        old: SessionState,
        /// The new state.
        new: SessionState,
        /// The classifier that decided.
        classifier: String,
        /// Why (which rule or measurement).
        #[serde(default)]
        reason: String,
    },
    /// The program waits for input.
    Waiting(Waiting),
    /// The window title changed.
    Title {
        /// The new title.
        title: String,
    },
    /// The program rang the bell.
    Bell,
    /// The terminal was resized.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The child exited.
    Exit {
        /// The exit code (128+N when killed by signal N).
        code: i32,
        /// The signal that killed it, if any.
        #[serde(default)]
        signal: Option<i32>,
    },
    /// This client fell behind in its output stream and missed output.
    Lagged {
        /// How many bytes were skipped.
        missed_bytes: u64,
        /// The output offset where the stream resumes.
        offset: u64,
    },
    /// This client fell behind in its event stream (more than the backlog
    /// of events) and missed events; its output stream is not affected.
    EventsLagged {
        /// How many events were skipped.
        missed_events: u64,
    },
    /// SUBSCRIBE_FROM's stream starts elsewhere than asked: the output
    /// asked for is no longer kept, or (`missed_bytes` 0) the offset asked
    /// for is beyond the end.
    Skipped {
        /// How many bytes are gone (0 for an offset beyond the end).
        missed_bytes: u64,
        /// The output offset where replay starts.
        offset: u64,
    },
    /// An event this side does not know or cannot read (a newer server's
    /// type or field values): the JSON object as sent.
    #[serde(untagged)]
    Unknown(serde_json::Value),
}

/// Payload of ERROR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable error code, such as `unknown_type` or `invalid_signal`.
    pub error: String,
    /// A sentence for people.
    pub message: String,
    /// The frame type of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<u8>,
    /// Echo of the request's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

impl ErrorBody {
    /// An error with `code` and `message` answering a request of type `request`.
    pub fn new(code: &str, message: impl Into<String>, request: Option<u8>) -> ErrorBody {
        ErrorBody {
            error: code.to_string(),
            message: message.into(),
            request,
            id: None,
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.error)
    }
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// Raw output bytes.
    Output(Bytes),
    /// Answer to STATUS.
    Status(StatusResp),
    /// The child exited with this code.
    Exit {
        /// The exit code (128+N for signal N).
        code: i32,
    },
    /// Answer to HELLO.
    Hello(Box<HelloResp>),
    /// Answer to SCREEN.
    Screen(Box<ScreenResp>),
    /// An event.
    Event(Event),
    /// Answer to SIGNAL, SUBMIT or WAIT: a JSON object with `"ok"`.
    Result(serde_json::Value),
    /// A request failed.
    Error(ErrorBody),
}

impl ServerMessage {
    /// The frame type of this message.
    pub fn kind(&self) -> u8 {
        match self {
            ServerMessage::Output(_) => server::OUTPUT,
            ServerMessage::Status(_) => server::STATUS_RESP,
            ServerMessage::Exit { .. } => server::EXIT,
            ServerMessage::Hello(_) => server::HELLO_RESP,
            ServerMessage::Screen(_) => server::SCREEN_RESP,
            ServerMessage::Event(_) => server::EVENT,
            ServerMessage::Result(_) => server::RESULT,
            ServerMessage::Error(_) => server::ERROR,
        }
    }

    /// Encode this message as a frame.
    pub fn to_frame(&self) -> Frame {
        let kind = self.kind();
        let payload = match self {
            ServerMessage::Output(b) => b.clone(),
            ServerMessage::Status(s) => s.encode(),
            ServerMessage::Exit { code } => Bytes::copy_from_slice(&code.to_be_bytes()),
            ServerMessage::Hello(h) => json_payload(h),
            ServerMessage::Screen(s) => json_payload(s),
            ServerMessage::Event(e) => json_payload(e),
            ServerMessage::Result(v) => json_payload(v),
            ServerMessage::Error(e) => json_payload(e),
        };
        Frame { kind, payload }
    }

    /// Decode a frame sent by the server.
    pub fn from_frame(frame: &Frame) -> Result<ServerMessage, DecodeError> {
        let p = &frame.payload[..];
        let kind = frame.kind;
        Ok(match kind {
            server::OUTPUT => ServerMessage::Output(frame.payload.clone()),
            server::STATUS_RESP => ServerMessage::Status(StatusResp::decode(p)?),
            server::EXIT => {
                if p.len() < 4 {
                    return Err(malformed(kind, format!("needs 4 bytes, got {}", p.len())));
                }
                let mut b = p;
                ServerMessage::Exit { code: b.get_i32() }
            }
            server::HELLO_RESP => ServerMessage::Hello(Box::new(parse_json_required(kind, p)?)),
            server::SCREEN_RESP => ServerMessage::Screen(Box::new(parse_json_required(kind, p)?)),
            server::EVENT => ServerMessage::Event(parse_json_required(kind, p)?),
            server::RESULT => ServerMessage::Result(parse_json_required(kind, p)?),
            server::ERROR => ServerMessage::Error(parse_json_required(kind, p)?),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any JSON object is a HELLO; fields of the wrong type count as absent.
    #[test]
    fn a_hello_with_fields_of_the_wrong_type_is_a_hello() {
        let hello = |p: &[u8]| ClientMessage::from_frame(&Frame::new(client::HELLO, p.to_vec()));
        let h = hello(br#"{"protocol": 2.0, "client": 5, "viewer": "yes", "x": [1]}"#);
        assert_eq!(h, Ok(ClientMessage::Hello(Hello::default())));
        let h = hello(br#"{"protocol": 2, "client": "py", "viewer": true}"#);
        let want = Hello {
            client: Some("py".into()),
            protocol: Some(2),
            viewer: true,
        };
        assert_eq!(h, Ok(ClientMessage::Hello(want)));
        assert_eq!(hello(b""), Ok(ClientMessage::Hello(Hello::default())));
        assert!(hello(b"[]").is_err());
        assert!(hello(b"\xff").is_err());
    }

    /// A field given as `null` is as absent: defaults hold, at any depth.
    #[test]
    fn a_null_field_counts_as_absent() {
        let msg = |kind: u8, p: &[u8]| ClientMessage::from_frame(&Frame::new(kind, p.to_vec()));
        let screen = msg(
            client::SCREEN,
            br#"{"id": 3, "format": null, "scrollback_lines": null, "redraw": null}"#,
        );
        let want = ScreenRequest {
            id: Some(3),
            ..ScreenRequest::default()
        };
        assert_eq!(screen, Ok(ClientMessage::Screen(want)));
        assert_eq!(
            msg(
                client::WAIT,
                br#"{"until": "exit", "timeout_ms": null, "id": null}"#
            ),
            msg(client::WAIT, br#"{"until": "exit"}"#)
        );
        assert!(msg(client::WAIT, br#"{"until": "exit"}"#).is_ok());
        // A required field given as null is still missing.
        assert!(msg(client::WAIT, br#"{"until": null}"#).is_err());
        assert!(msg(client::CANCEL, br#"{"id": null}"#).is_err());
    }

    #[test]
    fn request_id_survives_a_malformed_payload() {
        assert_eq!(request_id(br#"{"id": 7, "until": "bogus"}"#), Some(7));
        assert_eq!(request_id(br#"{"id": 9, "idle_ms": "x"}"#), Some(9));
        assert_eq!(request_id(br#"{"until": "idle"}"#), None);
        assert_eq!(request_id(br#"{"id": "x"}"#), None);
        assert_eq!(request_id(b"not json"), None);
        // Not an object: no id, whatever its first element.
        assert_eq!(request_id(b"[7]"), None);
        assert_eq!(request_id(br#"[7, "until"]"#), None);
    }

    #[test]
    fn status_resp_is_fifteen_bytes() {
        let s = StatusResp {
            pid: 42,
            idle_ms: 7,
            alive: true,
            state: State::ToolUse,
            state_ms: 9,
        };
        let f = ServerMessage::Status(s).to_frame();
        assert_eq!(f.payload.len(), 15);
        assert_eq!(
            &f.payload[..],
            &[0, 0, 0, 42, 0, 0, 0, 7, 1, 3, 0, 0, 0, 9, 0]
        );
        assert_eq!(
            ServerMessage::from_frame(&f).unwrap(),
            ServerMessage::Status(s)
        );
    }

    #[test]
    fn spurious_payloads_on_status_and_kill_are_ignored() {
        for kind in [client::STATUS, client::KILL, client::SUBSCRIBE] {
            let m = ClientMessage::from_frame(&Frame::new(kind, &b"junk"[..])).unwrap();
            assert_eq!(m.kind(), kind);
        }
    }

    /// The default SUBSCRIBE is heimdall 1.0's frame (empty); `hold` rides in
    /// a JSON payload a 1.0 server ignores, and after SUBSCRIBE_FROM's
    /// offset, where an older server ignores extra bytes.
    #[test]
    fn subscribe_options_on_the_wire() {
        let plain = ClientMessage::Subscribe(SubscribeOptions::default()).to_frame();
        assert!(plain.payload.is_empty());
        let hold = SubscribeOptions { hold: true };
        let f = ClientMessage::Subscribe(hold).to_frame();
        assert_eq!(&f.payload[..], br#"{"hold":true}"#);
        assert_eq!(
            ClientMessage::from_frame(&f).unwrap(),
            ClientMessage::Subscribe(hold)
        );
        let f = ClientMessage::SubscribeFrom {
            offset: 7,
            options: hold,
        }
        .to_frame();
        assert_eq!(&f.payload[..8], &7u64.to_be_bytes());
        assert_eq!(&f.payload[8..], br#"{"hold":true}"#);
        let plain = Frame::new(
            client::SUBSCRIBE_FROM,
            Bytes::copy_from_slice(&7u64.to_be_bytes()),
        );
        assert_eq!(
            ClientMessage::from_frame(&plain).unwrap(),
            ClientMessage::SubscribeFrom {
                offset: 7,
                options: SubscribeOptions::default()
            }
        );
        for junk in [&b"junk"[..], br#"{"hold":"yes"}"#, b"[true]"] {
            let f = Frame::new(client::SUBSCRIBE, junk);
            assert_eq!(
                ClientMessage::from_frame(&f).unwrap(),
                ClientMessage::Subscribe(SubscribeOptions::default())
            );
        }
    }

    #[test]
    fn wait_request_json_shape() {
        let w: WaitRequest =
            serde_json::from_str(r#"{"until": "idle", "idle_ms": 250, "timeout_ms": 1000}"#)
                .unwrap();
        assert_eq!(w.condition, WaitCondition::Idle { idle_ms: 250 });
        assert_eq!(w.timeout_ms, Some(1000));
        let w: WaitRequest =
            serde_json::from_str(r#"{"until": "state", "state": "waiting"}"#).unwrap();
        assert_eq!(
            w.condition,
            WaitCondition::State {
                state: State::Waiting
            }
        );
    }

    #[test]
    fn unknown_event_types_decode_as_unknown() {
        let f = Frame::new(
            server::EVENT,
            &br#"{"type": "from_the_future", "x": 1}"#[..],
        );
        assert_eq!(
            ServerMessage::from_frame(&f).unwrap(),
            ServerMessage::Event(Event::Unknown(
                serde_json::json!({"type": "from_the_future", "x": 1})
            ))
        );
        // A known type with a value this side does not know is unknown too.
        let f = Frame::new(
            server::EVENT,
            &br#"{"type": "waiting", "prompt": "?", "kind": "telepathy"}"#[..],
        );
        assert!(matches!(
            ServerMessage::from_frame(&f).unwrap(),
            ServerMessage::Event(Event::Unknown(_))
        ));
        // A new state name is not: it is a state change to an unknown state.
        let f = Frame::new(
            server::EVENT,
            &br#"{"type": "state", "old": "idle", "new": "pondering", "classifier": "x"}"#[..],
        );
        assert!(matches!(
            ServerMessage::from_frame(&f).unwrap(),
            ServerMessage::Event(Event::State { new: SessionState::Unknown(n), .. }) if n == "pondering"
        ));
    }

    #[test]
    fn non_json_hello_is_malformed() {
        let e = ClientMessage::from_frame(&Frame::new(client::HELLO, &b"\xff\x00"[..]));
        assert!(matches!(e, Err(DecodeError::Malformed { kind: 0x06, .. })));
        let ok = ClientMessage::from_frame(&Frame::empty(client::HELLO)).unwrap();
        assert_eq!(ok, ClientMessage::Hello(Hello::default()));
    }
}
