//! The messages of a channel handled one at a time, in the order they were
//! posted. serenity runs each event's handler in a task of its own, and
//! tasks spawned one after the other may start in any order (the runtime
//! runs the newest first), so lines typed fast in a watch thread reached
//! the program shuffled. A handler takes its turn by its message's id
//! (Discord's ids grow with time): it gives the handlers of earlier
//! messages [`SETTLE`] to start, then waits until every earlier one it
//! knows of is done.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::lock;

/// How long a handler leaves the handlers of earlier messages to start
/// (they were spawned before it, so they start at once but on a machine
/// that is very busy).
pub const SETTLE: Duration = Duration::from_millis(200);

/// The messages being handled, by channel.
#[derive(Debug)]
pub struct Order {
    channels: Mutex<HashMap<u64, BTreeSet<u64>>>,
    done: watch::Sender<u64>,
}

impl Default for Order {
    fn default() -> Order {
        Order {
            channels: Mutex::new(HashMap::new()),
            done: watch::channel(0).0,
        }
    }
}

/// A message's turn in its channel: the next message's handler goes on
/// once this is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    order: &'a Order,
    channel: u64,
    message: u64,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut channels = lock(&self.order.channels);
        if let Some(pending) = channels.get_mut(&self.channel) {
            pending.remove(&self.message);
            if pending.is_empty() {
                channels.remove(&self.channel);
            }
        }
        drop(channels);
        self.order.done.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Order {
    /// Wait for the turn of `message` in `channel`: after the earlier
    /// messages of the channel whose handlers have started.
    pub async fn turn(&self, channel: u64, message: u64) -> Turn<'_> {
        lock(&self.channels)
            .entry(channel)
            .or_default()
            .insert(message);
        let turn = Turn {
            order: self,
            channel,
            message,
        };
        tokio::time::sleep(SETTLE).await;
        let mut done = self.done.subscribe();
        loop {
            let first = lock(&self.channels)
                .get(&channel)
                .and_then(|pending| pending.first().copied());
            if first.is_none_or(|first| first >= message) || done.changed().await.is_err() {
                return turn;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn messages_are_handled_in_the_order_of_their_ids() {
        let order = Arc::new(Order::default());
        let handled = Arc::new(Mutex::new(Vec::new()));
        // Started newest first, as the runtime may.
        let tasks: Vec<_> = (1..=5u64)
            .rev()
            .map(|id| {
                let (order, handled) = (order.clone(), handled.clone());
                tokio::spawn(async move {
                    let _turn = order.turn(7, id).await;
                    tokio::task::yield_now().await;
                    lock(&handled).push(id);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("the handler ends");
        }
        assert_eq!(*lock(&handled), [1, 2, 3, 4, 5]);
        assert!(lock(&order.channels).is_empty());
    }
}
