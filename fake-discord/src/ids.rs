//! The fixed world every fake starts with, and fresh snowflakes and timestamps.
//!
//! Two guilds: [`GUILD`] ("Heimdall Test", where the bot is meant to work) with the channels
//! [`CHANNEL_GENERAL`] and [`CHANNEL_OPS`] under [`CATEGORY`], and [`OTHER_GUILD`] ("Elsewhere")
//! with [`CHANNEL_ELSEWHERE`], for "outside the allowed guilds" tests. Roles in [`GUILD`]:
//! `@everyone` (its id is the guild id), [`ROLE_OPERATOR`], [`ROLE_VIEWER`] and the bot's managed
//! role [`ROLE_BOT`]. Users are whatever a test names in an [`Actor`](crate::Actor); the bot's
//! user id equals its application id, as for every application created since 2020.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The bot's application id (also the bot user's id).
pub const APPLICATION: u64 = 1_300_000_000_000_000_100;
/// The bot user's id (equal to [`APPLICATION`]).
pub const BOT_USER: u64 = APPLICATION;
/// The bot user's name.
pub const BOT_NAME: &str = "heimdall-test-bot";
/// The token the fake expects in IDENTIFY and the `Authorization: Bot …` header.
pub const TOKEN: &str = "fake-discord-token.Hm.d2l0aG91dC1tZWFuaW5n";

/// The guild the bot is meant to work in.
pub const GUILD: u64 = 1_300_000_000_000_000_001;
/// The owner of [`GUILD`] (a member with no roles; not the bot).
pub const OWNER: u64 = 1_300_000_000_000_000_002;
/// The category channel holding the text channels of [`GUILD`].
pub const CATEGORY: u64 = 1_300_000_000_000_000_009;
/// A text channel in [`GUILD`].
pub const CHANNEL_GENERAL: u64 = 1_300_000_000_000_000_010;
/// A second text channel in [`GUILD`].
pub const CHANNEL_OPS: u64 = 1_300_000_000_000_000_011;
/// The `@everyone` role of [`GUILD`] (its id is the guild's id, as on Discord).
pub const ROLE_EVERYONE: u64 = GUILD;
/// A plain role named "operators" in [`GUILD`].
pub const ROLE_OPERATOR: u64 = 1_300_000_000_000_000_020;
/// A plain role named "viewers" in [`GUILD`].
pub const ROLE_VIEWER: u64 = 1_300_000_000_000_000_021;
/// The bot's managed role in [`GUILD`] (carries [`BOT_PERMISSIONS`]).
pub const ROLE_BOT: u64 = 1_300_000_000_000_000_022;

/// A second guild the bot is in, outside what a bridge would allow.
pub const OTHER_GUILD: u64 = 1_300_000_000_000_000_501;
/// The text channel of [`OTHER_GUILD`].
pub const CHANNEL_ELSEWHERE: u64 = 1_300_000_000_000_000_510;

/// Permissions of `@everyone` in both guilds: view channel, send messages, embed links, attach
/// files, read message history, add reactions, use application commands, send messages in
/// threads, create public threads.
pub const EVERYONE_PERMISSIONS: u64 = VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
    | CREATE_PUBLIC_THREADS;

/// Permissions of the bot's role: everything `@everyone` has plus manage messages, manage
/// threads and create private threads (what a bridge that opens and tends threads needs).
pub const BOT_PERMISSIONS: u64 =
    EVERYONE_PERMISSIONS | MANAGE_MESSAGES | MANAGE_THREADS | CREATE_PRIVATE_THREADS;

const ADD_REACTIONS: u64 = 1 << 6;
const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;
const MANAGE_MESSAGES: u64 = 1 << 13;
const EMBED_LINKS: u64 = 1 << 14;
const ATTACH_FILES: u64 = 1 << 15;
const READ_MESSAGE_HISTORY: u64 = 1 << 16;
const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
const MANAGE_THREADS: u64 = 1 << 34;
const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;

/// Milliseconds of the Discord epoch (2015-01-01T00:00:00Z) since the Unix epoch.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

static INCREMENT: AtomicU64 = AtomicU64::new(0);

/// A fresh snowflake for now: unique within the process, increasing, and decodable to the
/// current time as Discord's are.
pub(crate) fn snowflake() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64;
    let increment = INCREMENT.fetch_add(1, Ordering::Relaxed) & 0xfff;
    (now.saturating_sub(DISCORD_EPOCH_MS) << 22) | (1 << 17) | increment
}

/// The current time as Discord writes timestamps (ISO 8601 with milliseconds, UTC).
pub(crate) fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// A fresh opaque token (interaction tokens, session ids).
pub(crate) fn token(prefix: &str) -> String {
    format!("{prefix}{:x}{:08x}", snowflake(), fastrand::u32(..))
}
