//! Posting a message that must not be lost (a session's exit, a prompt
//! waiting for someone, the agent's answer): a 429, or a 502/503/504 that
//! says Discord did not take it, is tried again after a back-off (1 s,
//! doubling, as the live screen waits) before the failure is given up on.

use std::time::Duration;

use serenity::all::{ChannelId, CreateMessage, Http, Message};

use crate::watch::{error_status, next_backoff};

/// Attempts at one message (the waits between them add up to 31 s).
const ATTEMPTS: u32 = 6;

/// Post `message` in `channel`, again after a rate limit or an unavailable
/// Discord.
pub async fn send_message(
    http: &Http,
    channel: ChannelId,
    message: CreateMessage,
) -> serenity::Result<Message> {
    let mut backoff = Duration::ZERO;
    let mut attempt = 1;
    loop {
        let e = match channel.send_message(http, message.clone()).await {
            Ok(posted) => return Ok(posted),
            Err(e) => e,
        };
        let again = matches!(error_status(&e), Some((429 | 502 | 503 | 504, _)));
        if !again || attempt >= ATTEMPTS {
            return Err(e);
        }
        backoff = next_backoff(backoff);
        tracing::warn!("cannot post in {channel} yet ({e}); trying again in {backoff:?}");
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}
