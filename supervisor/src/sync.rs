//! Locking shared state.

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, also after a panic elsewhere poisoned it: every value kept
/// behind these mutexes stays consistent between statements (a panic cannot
/// leave it half-updated in a way readers care about), so keep serving.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
