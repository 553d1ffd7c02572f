//! heimdall-discord: the Discord bridge behind `hm-discord`.
//!
//! Allowed users start, watch, type into and kill heimdall sessions from
//! Discord, get notified when a session waits for input or exits, and talk
//! to the agent. Sessions are reached only through the client library
//! (`heimdall-client`); the agent is `heimdall-agent`'s library.
//!
//! - [`config`]: the `[discord]` table of `heimdall.toml`.
//! - [`access`]: who may do what, where (default deny).
//! - [`audit`]: the JSONL audit log of every action.
//! - [`sessions`]: the sessions, through the client library.
//! - [`text`]: scrubbed text cut to Discord's limits, screens as code blocks.

pub mod access;
pub mod audit;
pub mod config;
pub mod sessions;
pub mod text;
