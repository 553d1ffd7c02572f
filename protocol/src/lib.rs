//! # heimdall-protocol
//!
//! The wire protocol between a heimdall session supervisor (`hm`) and its
//! clients. This crate is the only place frames are encoded and decoded.
//! Programs drive sessions with the `heimdall-client` crate (built on this
//! one); the single-connection [`Client`] here is what `hm attach` streams
//! over until it moves onto that crate's streams.
//!
//! - [`frame`]: frame layout, type numbers, limits.
//! - [`codec`]: the `tokio_util` codec for frames.
//! - [`message`]: typed client and server messages and their JSON payloads.
//! - [`state`]: classifier states and their wire bytes.
//! - [`keys`]: named keys and the bytes terminals send for them.
//! - [`client`]: a single-connection client (used by `hm attach`).
//!
//! The protocol is described for implementers in other languages in
//! `docs/protocol.md` at the repository root.

#![warn(missing_docs)]

pub mod client;
pub mod codec;
pub mod frame;
pub mod keys;
pub mod message;
pub mod state;

pub use client::{Client, ClientError, ClientReader, ClientWriter};
pub use codec::{CodecError, FrameCodec};
pub use frame::{Frame, HEADER_LEN, MAX_PAYLOAD, MODE_BINARY, PROTOCOL_VERSION};
pub use message::{
    ClientMessage, Cursor, DecodeError, ErrorBody, Event, ExplainRequest, Hello, HelloResp,
    RegexSource, ReportRequest, ScreenFormat, ScreenRequest, ScreenResp, ServerMessage,
    SessionInfo, SignalRequest, SignalSpec, SignalTarget, StatusResp, SubmitRequest, WaitCondition,
    WaitRequest, WaitingOption,
};
pub use state::{SessionState, State};
