//! Taking up the kept watches ([`crate::kept`]) once hm-discord has
//! connected after it started: a session still running is watched again
//! in its thread, which says so (one that does not answer, its supervisor
//! stopped say, is waited for while it runs); for one that ended meanwhile
//! the thread says how it ended, mentioning who started it.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ChannelId, CreateAllowedMentions, CreateMessage, Http, UserId};

use crate::kept::Kept;
use crate::sessions::Sessions;
use crate::watch::{self, mention, WatchSpec, Watches, RECORD_WAIT};
use crate::{deliver, text::clean};

/// Take up every kept watch, each in a task of its own.
pub fn resume(watches: &Arc<Watches>, sessions: &Sessions, http: &Arc<Http>) {
    for kept in watches.kept().all() {
        tokio::spawn(resume_one(
            watches.clone(),
            sessions.clone(),
            http.clone(),
            kept,
        ));
    }
}

/// How long after a kept session did not answer it is asked again at
/// first; each time it does not, twice as long, up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait before asking a kept session that does not answer again.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Whether the kept watch's session still runs (the same one: started
/// when the kept one was). One that cannot be connected to while its
/// supervisor still holds it (stopped, or too busy to answer) still runs:
/// it is asked again, less and less often, until it answers or ends.
async fn still_runs(sessions: &Sessions, kept: &Kept) -> bool {
    let id = &kept.session;
    let mut pause = FIRST_RETRY;
    loop {
        match sessions.connect(id).await {
            Ok(c) => {
                return c
                    .hello()
                    .is_some_and(|h| h.session.started_at == kept.started_at)
            }
            Err(e) if sessions.is_live(id) => {
                tracing::info!(
                    "`{id}` does not answer ({e}); asking again in {} s",
                    pause.as_secs()
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_RETRY);
            }
            Err(_) => return false,
        }
    }
}

async fn resume_one(watches: Arc<Watches>, sessions: Sessions, http: Arc<Http>, kept: Kept) {
    let (Some(thread), Some(parent)) = (
        NonZeroU64::new(kept.thread).map(ChannelId::from),
        NonZeroU64::new(kept.parent).map(ChannelId::from),
    ) else {
        watches.kept().end(&kept.session, kept.thread);
        return;
    };
    // Watched already: a /watch came first, and its watch is kept instead.
    let Ok(_claim) = watches.claim(&kept.session) else {
        return;
    };
    let starter = NonZeroU64::new(kept.starter.unwrap_or(0)).map(UserId::from);
    let same = still_runs(&sessions, &kept).await;
    let id = kept.session;
    let (text, mentions) = if same {
        let text = format!("hm-discord restarted: watching `{id}` here again");
        (text, CreateAllowedMentions::new())
    } else {
        let code = sessions
            .recorded_exit(&id, Some(&kept.started_at), RECORD_WAIT)
            .await
            .map_or_else(|| "unknown".to_string(), |c| c.to_string());
        let (who, mentions) = mention(starter);
        let text = format!("{who}`{id}` exited while hm-discord was not running: exit code {code}");
        (text, mentions)
    };
    let message = CreateMessage::new()
        .content(clean(&text))
        .allowed_mentions(mentions);
    if let Err(e) = deliver::send_message(&http, thread, message).await {
        tracing::warn!("cannot post in thread {thread}: {e}");
    }
    if same {
        watch::start(
            &watches,
            WatchSpec {
                http,
                sessions,
                session: id,
                thread,
                parent,
                starter,
            },
        );
    } else {
        watches.kept().end(&id, kept.thread);
    }
}
