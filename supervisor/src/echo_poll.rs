//! Polling for the reaction to input: after a client's input, and while the
//! program answers it, the supervisor's thread keeps polling for a short
//! window instead of going to sleep.
//!
//! A keystroke's round trip is a chain of wake-ups: client → supervisor →
//! program → supervisor → client. Where waking a sleeping thread is
//! expensive — a virtual machine whose idle CPUs halt at once, so that every
//! wake-up is an exit to the host — the supervisor's two links cost more
//! than the program's work. A thread that is still polling when the answer
//! (or the client's next key) arrives needs no wake-up: echo through `hm`
//! then costs little more than echo on the raw pty (see
//! `docs/benchmarks.md`).
//!
//! The cost is bounded: polling lasts [`EchoPoll`]'s window after each input
//! and after each output that follows input by less than [`ANSWER_WINDOW`],
//! so an input buys at most `ANSWER_WINDOW` plus the window of polling. An
//! idle session, or one writing output nobody typed for, never polls; nor
//! does a flood (its reads are not answers: the pump reports only short
//! reads). While it polls, the thread yields its CPU to any other runnable
//! thread at every turn.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Output this soon after an input counts as its answer, and keeps the
/// supervisor polling.
pub const ANSWER_WINDOW: Duration = Duration::from_millis(10);

/// Largest polling window the configuration accepts (`echo_poll_us`).
pub const MAX_WINDOW: Duration = Duration::from_millis(10);

/// When to poll, shared by the session's input, its pump and the polling
/// task ([`EchoPoll::run`]).
pub struct EchoPoll {
    epoch: Instant,
    /// Nanoseconds since `epoch` of the last input.
    input_at: AtomicU64,
    /// Nanoseconds since `epoch` until which to poll.
    until: AtomicU64,
    window: u64,
    wake: Notify,
}

impl EchoPoll {
    /// Poll for `window` after input and its answers; a zero window turns
    /// polling off.
    pub fn new(window: Duration) -> EchoPoll {
        EchoPoll {
            epoch: Instant::now(),
            input_at: AtomicU64::new(0),
            until: AtomicU64::new(0),
            window: window.min(MAX_WINDOW).as_nanos() as u64,
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn poll_until(&self, deadline: u64) {
        self.until.fetch_max(deadline, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Input was written to the program: poll for its answer.
    #[inline]
    pub fn input(&self) {
        if self.window == 0 {
            return;
        }
        let now = self.now();
        self.input_at.store(now, Ordering::Relaxed);
        self.poll_until(now + self.window);
    }

    /// A short read of output (not a flood): if it answers recent input,
    /// poll on for the next part of the answer or the client's next key.
    #[inline]
    pub fn output(&self) {
        if self.window == 0 {
            return;
        }
        let now = self.now();
        let input_at = self.input_at.load(Ordering::Relaxed);
        if input_at != 0 && now.saturating_sub(input_at) < ANSWER_WINDOW.as_nanos() as u64 {
            self.poll_until(now + self.window);
        }
    }

    /// The polling task: sleeps until there is something to poll for, then
    /// keeps the runtime's thread polling its sockets and the pty (each
    /// turn of [`tokio::task::yield_now`] has the runtime check for events
    /// without sleeping) until the deadline passes.
    pub async fn run(&self) {
        if self.window == 0 {
            return;
        }
        loop {
            self.wake.notified().await;
            while self.now() < self.until.load(Ordering::Relaxed) {
                // Other threads ready to run on this CPU (the program,
                // the tty's work items) go first.
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
                tokio::task::yield_now().await;
            }
        }
    }
}
