//! Places under the agent's session cap (`max_sessions`) held by starts in
//! progress: a start takes one at once, without waiting for the others, and
//! gives it back when its session is counted among the agent's, or when it
//! fails or is cancelled.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

#[derive(Default)]
struct Places {
    /// Places held by starts in progress.
    held: AtomicUsize,
    /// Told when a place is given back.
    given_back: Notify,
}

/// The places held by starts in progress; cheap to clone (one count).
#[derive(Clone, Default)]
pub struct Starting(Arc<Places>);

impl Starting {
    /// Take a place when `counted` sessions and the starts in progress are
    /// under `cap`. The count is taken and raised in one step, so two starts
    /// cannot both take the last place.
    pub fn take(&self, counted: usize, cap: usize) -> Option<Slot> {
        self.0
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (counted + held < cap).then_some(held + 1)
            })
            .ok()
            .map(|_| Slot(self.0.clone()))
    }

    /// How many places starts in progress hold.
    pub fn held(&self) -> usize {
        self.0.held.load(Ordering::SeqCst)
    }

    /// Resolves once a place is given back after this call (the future
    /// hears of it from its creation on, polled or not).
    pub fn given_back(&self) -> Notified<'_> {
        self.0.given_back.notified()
    }
}

/// A place taken with [`Starting::take`], given back when dropped.
pub struct Slot(Arc<Places>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::SeqCst);
        self.0.given_back.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::Starting;

    #[test]
    fn places_are_taken_up_to_the_cap_and_given_back_on_drop() {
        let starting = Starting::default();
        let a = starting.take(1, 3).expect("room for one more");
        let b = starting.take(1, 3).expect("room for the last");
        assert!(starting.take(1, 3).is_none());
        assert_eq!(starting.held(), 2);
        drop(a);
        assert!(starting.take(2, 3).is_none());
        let c = starting.take(1, 3).expect("the place given back");
        drop((b, c));
        assert_eq!(starting.held(), 0);
    }
}
