//! # heimdall-protocol
//!
//! The wire protocol between a heimdall session supervisor (`hm`) and its
//! clients: the wire format only. This crate is the only place frames are
//! encoded and decoded; it holds no connection logic. Programs (and `hm`'s
//! own commands, `hm attach` included) talk to sessions through the
//! `heimdall-client` crate, built on this one.
//!
//! - [`frame`]: frame layout, type numbers, limits.
//! - [`codec`]: the `tokio_util` codec for frames.
//! - [`message`]: typed client and server messages and their JSON payloads.
//! - [`state`]: classifier states and their wire bytes.
//! - [`keys`]: named keys and the bytes terminals send for them.
//!
//! The protocol is described for implementers in other languages in
//! `docs/protocol.md` at the repository root.

#![warn(missing_docs)]

pub mod codec;
pub mod frame;
pub mod keys;
pub mod message;
pub mod state;

pub use codec::{CodecError, FrameCodec};
pub use frame::{Frame, HEADER_LEN, MAX_PAYLOAD, MODE_BINARY, PROTOCOL_VERSION};
pub use message::{
    CancelRequest, ClientMessage, Cursor, DecodeError, ErrorBody, Event, ExplainRequest, Hello,
    HelloResp, RegexSource, ReportRequest, ScreenFormat, ScreenRequest, ScreenResp, ServerMessage,
    SessionInfo, SignalRequest, SignalSpec, SignalTarget, StatusResp, SubmitRequest,
    SubscribeOptions, WaitCondition, WaitRequest, WaitingOption,
};
pub use state::{SessionState, State};
