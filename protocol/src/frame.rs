//! Frame layout, frame type numbers and limits.
//!
//! Every frame on the wire is `[type: u8][length: u32 big-endian][payload]`.
//! Client frame types live in `0x01..=0x7F`, server frame types in
//! `0x80..=0xFF`. On connect the server first writes a single mode byte,
//! [`MODE_BINARY`], before any frame.

use bytes::Bytes;

/// The protocol version spoken by this crate (heimdall 1.0 is version 1).
pub const PROTOCOL_VERSION: u32 = 2;

/// The raw mode byte the server writes once on connect: binary framing.
pub const MODE_BINARY: u8 = 0x00;

/// Size of a frame header: one type byte and a big-endian `u32` length.
pub const HEADER_LEN: usize = 5;

/// Largest payload a client frame may carry (1 MiB). A larger declared
/// length is a protocol error: the connection is closed because the length
/// cannot be trusted to skip the frame.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Client → server frame types.
pub mod client {
    /// Raw bytes for the child's terminal (1.0).
    pub const INPUT: u8 = 0x01;
    /// Replay the scrollback, then stream live output (1.0).
    pub const SUBSCRIBE: u8 = 0x02;
    /// Ask for a 15-byte STATUS_RESP (1.0).
    pub const STATUS: u8 = 0x03;
    /// `cols u16 BE, rows u16 BE` (1.0).
    pub const RESIZE: u8 = 0x04;
    /// SIGTERM the process group, SIGKILL after a grace period (1.0).
    pub const KILL: u8 = 0x05;
    /// JSON `{"client": "...", "protocol": 2}`; opts into extensions.
    pub const HELLO: u8 = 0x06;
    /// JSON `{"format": "text"|"ansi", "scrollback_lines": N}`.
    pub const SCREEN: u8 = 0x07;
    /// JSON `{"signal": "INT"}` (name or number).
    pub const SIGNAL: u8 = 0x08;
    /// Empty; EVENT frames follow from then on.
    pub const EVENTS: u8 = 0x09;
    /// `offset u64 BE`; replay from that output offset, then live.
    pub const SUBSCRIBE_FROM: u8 = 0x0A;
    /// JSON `{"text": "...", "timeout_ms": N}`.
    pub const SUBMIT: u8 = 0x0B;
    /// JSON wait condition.
    pub const WAIT: u8 = 0x0C;
    /// JSON `{}`: the state, where it comes from, the lines looked at.
    pub const EXPLAIN: u8 = 0x20;
    /// JSON `{"state": "waiting", "prompt": ..., "options": [...]}`: the
    /// program reports its own state.
    pub const REPORT: u8 = 0x21;
    /// JSON `{"id": N}`: the client gave up on its WAIT `N`; the server
    /// ends it without an answer (feature `cancel`).
    pub const CANCEL: u8 = 0x22;
}

/// Server → client frame types.
pub mod server {
    /// Raw pty output bytes (1.0).
    pub const OUTPUT: u8 = 0x81;
    /// 15-byte status answer (1.0).
    pub const STATUS_RESP: u8 = 0x82;
    /// `code i32 BE`: the child exited (1.0).
    pub const EXIT: u8 = 0x83;
    /// JSON answer to HELLO.
    pub const HELLO_RESP: u8 = 0x84;
    /// JSON answer to SCREEN.
    pub const SCREEN_RESP: u8 = 0x85;
    /// JSON event.
    pub const EVENT: u8 = 0x86;
    /// JSON answer to SIGNAL / SUBMIT / WAIT.
    pub const RESULT: u8 = 0x87;
    /// JSON error `{"error": code, "message": ..., "request": type}`.
    pub const ERROR: u8 = 0x8F;
}

/// One frame: a type byte and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame type (see [`client`] and [`server`]).
    pub kind: u8,
    /// The payload, at most [`MAX_PAYLOAD`] bytes for client frames.
    pub payload: Bytes,
}

impl Frame {
    /// A frame of `kind` carrying `payload`.
    pub fn new(kind: u8, payload: impl Into<Bytes>) -> Self {
        Frame {
            kind,
            payload: payload.into(),
        }
    }

    /// A frame of `kind` with an empty payload.
    pub fn empty(kind: u8) -> Self {
        Frame {
            kind,
            payload: Bytes::new(),
        }
    }
}

/// The 5-byte header of a frame of `kind` with a payload of `len` bytes.
///
/// Used by writers that send the payload separately (vectored writes of
/// output slices) instead of copying it into an encoder buffer.
pub fn header(kind: u8, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [kind, l[0], l[1], l[2], l[3]]
}
