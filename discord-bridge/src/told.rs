//! Refusals posted in a channel, told once: a user refused again and again
//! in one channel (a stranger typing line after line in a watch thread, or
//! mentioning the bot) is told once per [`QUIET`], not once per message.
//! Each would be a post in that channel, spending the bot's rate limit
//! there, which the session's notices need. Every refusal is audited all
//! the same; refused commands and buttons are answered each time (Discord
//! wants an answer to each, and it is not a post in the channel).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lock;

/// How long a user refused in a channel is not told so again there.
pub const QUIET: Duration = Duration::from_secs(10 * 60);

/// When each user was last told of a refusal in each channel (within
/// [`QUIET`]; older ones are forgotten).
#[derive(Debug, Default)]
pub struct Told {
    last: Mutex<HashMap<(u64, u64), Instant>>,
}

impl Told {
    /// Whether `user`, refused in `channel`, is to be told so now (and
    /// then not again there for [`QUIET`]).
    pub fn first(&self, user: u64, channel: u64) -> bool {
        let now = Instant::now();
        let mut last = lock(&self.last);
        last.retain(|_, at| now.duration_since(*at) < QUIET);
        match last.entry((user, channel)) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_told_once_per_channel() {
        let told = Told::default();
        assert!(told.first(1, 10));
        assert!(!told.first(1, 10));
        assert!(told.first(1, 20));
        assert!(told.first(2, 10));
        assert!(!told.first(2, 10));
    }

    #[test]
    fn a_refusal_long_ago_is_forgotten() {
        let told = Told::default();
        let long_ago = Instant::now()
            .checked_sub(QUIET)
            .expect("a clock past QUIET");
        lock(&told.last).insert((1, 10), long_ago);
        assert!(told.first(1, 10));
        assert_eq!(lock(&told.last).len(), 1);
    }
}
