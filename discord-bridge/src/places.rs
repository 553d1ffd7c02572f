//! What a channel is to the bridge: one of its watch threads (the watch
//! running or ended) or any other channel.
//!
//! [`Watches`] knows only the threads of running watches: an ended watch is
//! forgotten, so memory does not grow with every session the bot ever
//! watched. A channel it does not know is asked of Discord once — a thread
//! the bot owns is one of its watch threads, named `hm <session>` — and the
//! answer is kept in a cache of at most [`REMEMBERED`] channels.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serenity::all::{Channel, ChannelId, ChannelType, Http, UserId};

use crate::lock;
use crate::watch::Watches;

/// How many channels the cache of asked-about channels keeps.
pub const REMEMBERED: usize = 1024;

/// What a channel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// One of the bridge's watch threads.
    WatchThread {
        /// The session it watches or watched (`None` when the thread was
        /// renamed and its name no longer says).
        session: Option<String>,
        /// The channel the thread belongs to.
        parent: u64,
    },
    /// Any other channel.
    Other,
}

/// The places asked of Discord, the oldest forgotten first.
#[derive(Debug)]
struct Recent {
    places: HashMap<u64, Place>,
    order: VecDeque<u64>,
    cap: usize,
}

impl Recent {
    fn new(cap: usize) -> Recent {
        Recent {
            places: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    fn get(&self, channel: u64) -> Option<Place> {
        self.places.get(&channel).cloned()
    }

    fn insert(&mut self, channel: u64, place: Place) {
        if self.places.insert(channel, place).is_none() {
            self.order.push_back(channel);
        }
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.places.remove(&old);
            }
        }
    }
}

/// The channels the bridge has asked Discord about.
#[derive(Debug)]
pub struct Places {
    known: Mutex<Recent>,
}

impl Default for Places {
    fn default() -> Places {
        Places {
            known: Mutex::new(Recent::new(REMEMBERED)),
        }
    }
}

impl Places {
    /// What `channel` is: a thread of a running watch (from `watches`), or
    /// else what Discord says of it (asked once; `bot` is the bot's own
    /// user, the owner of its threads). Without an answer (before READY,
    /// or when Discord cannot be asked) it is [`Place::Other`], and asked
    /// again next time.
    pub async fn of(
        &self,
        http: &Http,
        bot: Option<UserId>,
        watches: &Watches,
        channel: u64,
    ) -> Place {
        if let Some((session, parent)) = watches.session_of(channel) {
            return Place::WatchThread {
                session: Some(session),
                parent,
            };
        }
        if let Some(place) = lock(&self.known).get(channel) {
            return place;
        }
        let Some(bot) = bot else {
            return Place::Other;
        };
        match ChannelId::new(channel).to_channel(http).await {
            Ok(c) => {
                let place = place_of(&c, bot);
                lock(&self.known).insert(channel, place.clone());
                place
            }
            Err(e) => {
                tracing::debug!("cannot ask Discord about channel {channel}: {e}");
                Place::Other
            }
        }
    }
}

/// What a channel as Discord describes it is: a thread the bot owns is one
/// of its watch threads.
fn place_of(channel: &Channel, bot: UserId) -> Place {
    let Channel::Guild(c) = channel else {
        return Place::Other;
    };
    let thread = matches!(
        c.kind,
        ChannelType::PublicThread | ChannelType::PrivateThread
    );
    match c.parent_id {
        Some(parent) if thread && c.owner_id == Some(bot) => Place::WatchThread {
            session: c
                .name
                .strip_prefix("hm ")
                .filter(|id| heimdall_client::validate_id(id).is_ok())
                .map(String::from),
            parent: parent.get(),
        },
        _ => Place::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(kind: u8, owner: u64, name: &str) -> Channel {
        serde_json::from_value(serde_json::json!({
            "id": "900", "type": kind, "guild_id": "1", "parent_id": "800",
            "owner_id": owner.to_string(), "name": name,
        }))
        .expect("a channel")
    }

    #[test]
    fn a_thread_the_bot_owns_is_a_watch_thread() {
        let bot = UserId::new(7);
        assert_eq!(
            place_of(&channel(11, 7, "hm build-1"), bot),
            Place::WatchThread {
                session: Some("build-1".into()),
                parent: 800
            }
        );
        // Renamed: still ours, the session unknown.
        assert_eq!(
            place_of(&channel(11, 7, "my thread"), bot),
            Place::WatchThread {
                session: None,
                parent: 800
            }
        );
        assert_eq!(place_of(&channel(11, 8, "hm build-1"), bot), Place::Other);
        assert_eq!(place_of(&channel(0, 7, "hm build-1"), bot), Place::Other);
    }

    #[test]
    fn the_cache_forgets_the_oldest_channels() {
        let mut r = Recent::new(3);
        for c in 1..=5 {
            r.insert(c, Place::Other);
        }
        r.insert(5, Place::Other);
        assert_eq!(r.places.len(), 3);
        assert_eq!(r.order.len(), 3);
        assert_eq!(r.get(2), None);
        assert_eq!(r.get(3), Some(Place::Other));
    }
}
