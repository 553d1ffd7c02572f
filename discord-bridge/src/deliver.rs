//! Posting a message that must not be lost (a session's exit, a prompt
//! waiting for someone, the agent's answer, a command's answer) nor posted
//! twice: a 429, a 502/503/504, or a connection that broke before the
//! answer came, is tried again after a back-off (1 s, doubling to a minute,
//! as the live screen waits) before the failure is given up on. A 429 says
//! Discord did nothing, and how long its limit lasts (`retry_after`) is not
//! known here — serenity with its rate limiter off, as with `rest_proxy`,
//! does not pass it on —, so 429s are tried again for as long as they come,
//! up to [`RATE_LIMIT_PATIENCE`]. Every try of one message carries the
//! same nonce with `enforce_nonce`, so when Discord stored the message and
//! only its answer was lost (a 504 from its edge, a cut connection), the
//! next try gets that message back instead of posting a second one.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use serenity::all::{ChannelId, CreateMessage, Http, Message, Nonce};

use crate::watch::{error_status, next_backoff};

/// Attempts at one message that failed otherwise than with a 429 (the
/// waits between them add up to 31 s, well within the minutes Discord
/// keeps a nonce).
const ATTEMPTS: u32 = 6;

/// How long 429s are tried again: Discord's longest limit, the ban of an
/// address that made too many invalid requests, lasts an hour.
pub const RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(60 * 60);

/// A fresh nonce for one message (Discord allows 25 characters).
pub(crate) fn nonce() -> Nonce {
    Nonce::String(format!("hm{:016x}", fastrand::u64(..)))
}

/// `message` with `nonce`, enforced: Discord gives back the message it
/// created with that nonce in the last minutes instead of a new one.
pub(crate) fn once(message: CreateMessage, nonce: Nonce) -> CreateMessage {
    message.nonce(nonce).enforce_nonce(true)
}

/// Whether Discord refused a request for a rate limit (429).
pub(crate) fn is_rate_limit(e: &serenity::Error) -> bool {
    matches!(error_status(e), Some((429, _)))
}

/// Whether a failed request may be tried again: rate limited, Discord
/// unavailable, or no answer (the request may have been done; the nonce
/// makes a second try safe).
fn worth_again(e: &serenity::Error) -> bool {
    match e {
        serenity::Error::Http(serenity::http::HttpError::Request(e)) => !e.is_builder(),
        _ => matches!(error_status(e), Some((429 | 502 | 503 | 504, _))),
    }
}

/// Post `message` in `channel`, again after a rate limit, an unavailable
/// Discord or a lost answer; once.
pub async fn send_message(
    http: &Http,
    channel: ChannelId,
    message: CreateMessage,
) -> serenity::Result<Message> {
    let message = once(message, nonce());
    again(&format!("posting in {channel}"), || {
        channel.send_message(http, message.clone())
    })
    .await
}

/// Run `request` (one that may be made twice: an edit, or a post with a
/// nonce), again after a rate limit (for as long as it lasts), an
/// unavailable Discord or a lost answer (up to six times); `what` names it
/// in the log.
pub async fn again<T, F, R>(what: &str, request: R) -> serenity::Result<T>
where
    R: FnMut() -> F,
    F: Future<Output = serenity::Result<T>>,
{
    again_if(worth_again, what, request).await
}

/// Run `request` (one that must not be made twice: it has no nonce),
/// again only after a 429, which says Discord did not do it, for as long
/// as the limit lasts.
pub async fn again_if_limited<T, F, R>(what: &str, request: R) -> serenity::Result<T>
where
    R: FnMut() -> F,
    F: Future<Output = serenity::Result<T>>,
{
    again_if(is_rate_limit, what, request).await
}

async fn again_if<T, F, R>(
    worth_again: impl Fn(&serenity::Error) -> bool,
    what: &str,
    mut request: R,
) -> serenity::Result<T>
where
    R: FnMut() -> F,
    F: Future<Output = serenity::Result<T>>,
{
    let since = Instant::now();
    let mut backoff = Duration::ZERO;
    let mut attempt = 1;
    loop {
        let e = match request().await {
            Ok(done) => return Ok(done),
            Err(e) => e,
        };
        if !worth_again(&e) {
            return Err(e);
        }
        if is_rate_limit(&e) {
            if since.elapsed() >= RATE_LIMIT_PATIENCE {
                return Err(e);
            }
        } else if attempt >= ATTEMPTS {
            return Err(e);
        } else {
            attempt += 1;
        }
        backoff = next_backoff(backoff);
        tracing::warn!("{what}: {e}; trying again in {backoff:?}");
        tokio::time::sleep(backoff).await;
    }
}
