//! Locking shared state.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, also after a panic elsewhere poisoned it: the pending-request
/// tables and stream queues behind these mutexes stay consistent between
/// statements, so a panic cannot leave them half-updated.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
