//! # heimdall-client
//!
//! The client library for heimdall sessions, used by `hm`'s own commands,
//! `hm-agent`, `hm-discord` and any Rust program that drives sessions. It
//! has no pty, no terminal emulator and no command-line parser in it.
//!
//! - **[`Client`]**: one connection to a session. A task owns the byte
//!   stream; `Client` is `Clone`, and any number of calls from any number
//!   of tasks may be in flight at once, each awaiting its own answer
//!   (matched by request id). Every call has a deadline (the builder's
//!   default or [`Client::with_deadline`]); a call's future may be dropped
//!   at any point without disturbing other calls or the streams (a dropped
//!   [`Client::wait`] is cancelled on the server, so it does not hold one
//!   of the connection's 64 places for WAITs and SUBMITs). A broken
//!   connection fails calls at once, not at their deadlines: when the
//!   server closes it (a session that ends mid-call) or a write fails (the
//!   peer is gone), every call in flight and every later one fails with
//!   [`ClientError::SessionEnded`] and the exit code when the session's
//!   exit is known, else [`ClientError::ConnectionClosed`] (a
//!   [`Client::wait`] answers from the session's exit record instead, as
//!   `hm wait` does for an ended session); the streams
//!   end at the server's end of stream, after what it sent before. Answers are typed ([`Status`], [`SubmitResult`], [`WaitResult`],
//!   [`ScreenResp`], [`Event`], [`ErrorCode`]) and every enum a newer server
//!   could extend has an `Unknown` variant.
//! - **Streams**: [`Client::output`] and [`Client::events`] return bounded
//!   streams. A consumer that falls behind never holds up the connection;
//!   it is told exactly what it missed ([`OutputItem::Gap`] with output
//!   offsets, [`EventItem::Missed`] with a count). An output stream may
//!   instead hold the program for its consumer ([`Client::output_paced`]
//!   with [`Pacing::Hold`]: nothing lost, as a pipe holds its writer).
//! - **heimdall 1.0**: a 1.0 supervisor is recognised at connect time
//!   (HELLO and STATUS are sent together; 1.0 answers only STATUS).
//!   STATUS, output, INPUT, RESIZE and KILL work; the rest returns
//!   [`ClientError::Unsupported`] ("needs a newer supervisor").
//! - **Any byte stream**: [`ClientBuilder::over`] and
//!   [`ClientBuilder::over_command`] speak the protocol over a spawned
//!   command's stdio, such as `ssh host hm proxy ID`. Such a link has
//!   no session files unless given ([`ClientBuilder::session_files`]):
//!   when it closes, the session's end is not known, and
//!   [`Client::type_steps`] says the connection closed rather than count
//!   the steps typed.
//! - **Discovery** ([`SocketDir`]): the socket directory resolved as `hm`
//!   does ([`resolve_socket_dir`]), sessions listed as live, exited (with
//!   the code from the exit record) or stale, pidfiles of both formats.
//! - **Starting sessions** ([`Launcher`]): runs `hm start --json` and
//!   returns once the session accepts connections, with typed errors.
//! - **Configuration** ([`ConfigFile`]): one `heimdall.toml` for all of
//!   Heimdall's programs; each parses its own part.
//!
//! ## Example
//!
//! Start a shell, submit a line, wait until it is idle and read the screen
//! (this is `examples/quickstart.rs`):
//!
//! ```no_run
//! use heimdall_client::{ClientBuilder, Launcher, ScreenRequest, StartOptions, WaitCondition};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let started = Launcher::new()
//!     .start(&StartOptions {
//!         command: vec!["sh".into()],
//!         ..StartOptions::default()
//!     })
//!     .await?;
//! let client = started.connect(ClientBuilder::new().name("quickstart")).await?;
//! client.submit("echo hello from $((6*7))", None).await?;
//! client.wait(WaitCondition::Idle { idle_ms: 300 }, Some(10_000)).await?;
//! let screen = client.screen(ScreenRequest::default()).await?;
//! for line in screen.lines.iter().filter(|l| !l.is_empty()) {
//!     println!("{line}");
//! }
//! client.kill().await?;
//! client.closed().await;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod connection;
pub mod discovery;
pub mod error;
pub mod exit_record;
pub mod nearest;
pub mod private_dir;
mod regular_file;
pub mod screen_regex;
pub mod start;
pub mod stream;
mod sync;
pub mod types;

pub use config::{resolve_socket_dir, ConfigError, ConfigFile, ConfigOrigin};
pub use connection::{Client, ClientBuilder, DEFAULT_DEADLINE};
pub use discovery::{
    open_pidfile, parse_pidfile, validate_id, DiscoveryError, Liveness, PidInfo, SessionEntry,
    SessionFiles, SocketDir,
};
pub use error::{ClientError, ErrorCode};
pub use exit_record::{ExitRecord, RecordedOutput};
pub use heimdall_protocol::message::{Waiting, WaitingKind};
pub use heimdall_protocol::{
    Event, HelloResp, RegexSource, ReportRequest, ScreenFormat, ScreenRequest, ScreenResp,
    SessionInfo, SessionState, SignalSpec, SignalTarget, State, WaitCondition, WaitingOption,
};
pub use private_dir::UnsafeDir;
pub use start::{Launcher, StartError, StartOptions, Started};
pub use stream::{EventItem, EventStream, GapCause, OutputItem, OutputStream, Pacing};
pub use types::{SignalResult, Status, SubmitResult, WaitResult};
