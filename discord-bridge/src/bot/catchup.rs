//! The lines typed in watch threads while the bot had no gateway session
//! (the old one invalidated, a new one identified): Discord does not
//! deliver them again, so they are read back from each running watch's
//! thread (those after the newest message seen there) and handled as if
//! they had come, in order, once (up to [`MAX_PAGES`] pages of them; the
//! thread says when there were more). Only lines typed in the last
//! [`MAX_AGE`]: an older one (a long outage) may answer a question the
//! program no longer asks, so it is not typed, and the thread says so.

use std::collections::HashMap;
use std::time::Duration;

use serenity::all::{
    ChannelId, Context, GetMessages, GuildId, Message, MessageId, Timestamp, UserId,
};

use super::{say, Bridge};

/// How old a line read back may be and still be typed.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// Whether a line sent at `sent` is recent enough at `now` to be typed.
fn recent(sent: Timestamp, now: Timestamp) -> bool {
    let age = now.unix_timestamp().saturating_sub(sent.unix_timestamp());
    u64::try_from(age).map_or(true, |age| age <= MAX_AGE.as_secs())
}

impl Bridge {
    /// Read back and handle the lines of every running watch's thread
    /// after the newest one seen.
    pub(super) async fn catch_up(&self, ctx: &Context) {
        for (thread, newest) in self.watches.newest_lines() {
            let (Some(thread), Some(after)) = (
                std::num::NonZeroU64::new(thread).map(ChannelId::from),
                std::num::NonZeroU64::new(newest).map(MessageId::from),
            ) else {
                continue;
            };
            let (mut missed, unread) = read_back(ctx, thread, after).await;
            if unread {
                let note = format!(
                    "More messages were posted here while hm-discord was disconnected from \
                     Discord than it reads back ({}): the lines typed after those were not \
                     typed into the session",
                    MAX_PAGES * usize::from(PAGE)
                );
                say(ctx, thread, &note).await;
            }
            missed.retain(|m| !m.author.bot);
            let now = Timestamp::now();
            let before = missed.len();
            missed.retain(|m| recent(m.timestamp, now));
            if missed.len() < before {
                let note = format!(
                    "{} line(s) typed here while hm-discord was disconnected from Discord \
                     for more than {} minutes were not typed into the session",
                    before - missed.len(),
                    MAX_AGE.as_secs() / 60
                );
                say(ctx, thread, &note).await;
            }
            if missed.is_empty() {
                continue;
            }
            missed.sort_by_key(|m| m.id);
            // Messages read through REST say neither their guild nor the
            // author's roles.
            let guild = match thread.to_channel(&ctx.http).await {
                Ok(c) => c.guild().map(|g| g.guild_id),
                Err(e) => {
                    tracing::warn!("cannot ask Discord about thread {thread}: {e}");
                    continue;
                }
            };
            let mut roles: HashMap<UserId, Vec<u64>> = HashMap::new();
            for mut msg in missed {
                msg.guild_id = guild;
                let author = msg.author.id;
                let of = match roles.get(&author) {
                    Some(of) => of.clone(),
                    None => {
                        let of = member_roles(ctx, guild, author).await;
                        roles.insert(author, of.clone());
                        of
                    }
                };
                self.on_message_of(ctx, msg, of).await;
            }
        }
    }
}

/// How many messages one read-back request asks for (Discord's most).
const PAGE: u8 = 100;

/// How many pages of messages are read back from one thread at most.
const MAX_PAGES: usize = 10;

/// The messages of `thread` after `after`, oldest first, up to
/// [`MAX_PAGES`] pages of [`PAGE`] each (Discord gives those right after
/// the message named, so each page asks after the last one's newest);
/// and whether some were left unread (more than that, or Discord could
/// not give them all).
async fn read_back(ctx: &Context, thread: ChannelId, mut after: MessageId) -> (Vec<Message>, bool) {
    let mut all = Vec::new();
    for page in 0..=MAX_PAGES {
        let asked = if page == MAX_PAGES { 1 } else { PAGE };
        let listed = thread
            .messages(&ctx.http, GetMessages::new().after(after).limit(asked))
            .await;
        let mut got = match listed {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("cannot read back the lines of thread {thread}: {e}");
                return (all, true);
            }
        };
        if page == MAX_PAGES {
            return (all, !got.is_empty());
        }
        let full = got.len() >= usize::from(PAGE);
        got.sort_by_key(|m| m.id);
        if let Some(last) = got.last() {
            after = last.id;
        }
        all.extend(got);
        if !full {
            break;
        }
    }
    (all, false)
}

/// The roles of `user` in `guild` (none when Discord cannot say).
async fn member_roles(ctx: &Context, guild: Option<GuildId>, user: UserId) -> Vec<u64> {
    let Some(guild) = guild else {
        return Vec::new();
    };
    match guild.member(&ctx.http, user).await {
        Ok(m) => m.roles.iter().map(|r| r.get()).collect(),
        Err(e) => {
            tracing::warn!("cannot ask Discord about member {user}: {e}");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_lines_are_typed() {
        let at = |secs| Timestamp::from_unix_timestamp(secs).expect("a time");
        let now = at(1_800_000_000);
        assert!(recent(at(1_800_000_000 - 10), now));
        assert!(recent(at(1_800_000_000 - 300), now));
        assert!(!recent(at(1_800_000_000 - 301), now));
        // Ahead of this machine's clock: recent.
        assert!(recent(at(1_800_000_005), now));
    }
}
