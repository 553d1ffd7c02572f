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
//! - [`told`]: refusals posted in a channel, told once.
//! - [`text`]: scrubbed text cut to Discord's limits, screens as code blocks.
//! - [`sessions`]: the sessions, through the client library.
//! - [`starters`]: who started each session from Discord.
//! - [`watch`]: a thread per watched session with a live screen message.
//! - [`kept`]: the running watches, kept in a file for a restart.
//! - [`resume`]: the kept watches taken up again after a restart.
//! - [`deliver`]: posting that waits out rate limits instead of losing messages.
//! - [`places`]: which channel is one of the bridge's watch threads.
//! - [`order`]: a channel's messages handled in the order they were posted.
//! - [`chat`]: the agent in chat, one conversation per channel.
//! - [`bot`]: serenity's client, the slash commands and event handlers.

pub mod access;
pub mod audit;
pub mod bot;
pub mod chat;
pub mod config;
pub mod deliver;
pub mod kept;
pub mod order;
pub mod places;
pub mod resume;
pub mod sessions;
pub mod starters;
pub mod text;
pub mod told;
pub mod watch;

/// Lock a mutex, also after a panic elsewhere poisoned it (the data is
/// plain maps that stay consistent).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
