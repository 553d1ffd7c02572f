//! Input to the child's terminal: every INPUT is written completely and in
//! order, however slowly the child reads, without blocking other clients.
//!
//! When nothing is queued the bytes are written at once from the caller (no
//! task hop on the keystroke path); what the pty does not take is queued and
//! written by [`PtyInput::run`] as the pty drains. A caller waits only while
//! more than [`MAX_QUEUED`] bytes are queued.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use bytes::{Buf, Bytes};
use nix::errno::Errno;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

/// Bytes queued for the pty before callers wait.
pub const MAX_QUEUED: usize = 4 << 20;

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    closed: bool,
    /// How many times the queue was dropped for a pty that hung up.
    hangups: u64,
}

/// The write side of the pty.
pub struct PtyInput {
    master: Arc<AsyncFd<OwnedFd>>,
    queue: Mutex<Queue>,
    /// Wakes the writer: something was queued.
    queued: Notify,
    /// Wakes callers: the queue shrank.
    drained: Notify,
}

enum Wrote {
    All,
    Some(usize),
    Blocked,
    Failed,
}

impl PtyInput {
    /// Input for the pty `master`.
    pub fn new(master: Arc<AsyncFd<OwnedFd>>) -> PtyInput {
        PtyInput {
            master,
            queue: Mutex::new(Queue::default()),
            queued: Notify::new(),
            drained: Notify::new(),
        }
    }

    fn write_now(&self, data: &[u8]) -> Wrote {
        loop {
            // SAFETY: writing from a valid buffer to the pty master.
            let n =
                unsafe { libc::write(self.master.as_raw_fd(), data.as_ptr().cast(), data.len()) };
            if n >= 0 {
                let n = n as usize;
                return if n == data.len() {
                    Wrote::All
                } else {
                    Wrote::Some(n)
                };
            }
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::EAGAIN => return Wrote::Blocked,
                e => {
                    tracing::debug!("pty write failed: {e}; input dropped");
                    return Wrote::Failed;
                }
            }
        }
    }

    /// Write `data` at once when nothing is queued before it, and queue
    /// what the pty did not take for [`PtyInput::run`]. False when the pty
    /// refused it (its other side is closed).
    fn write_or_queue(&self, mut q: std::sync::MutexGuard<'_, Queue>, mut data: Bytes) -> bool {
        if q.chunks.is_empty() {
            match self.write_now(&data) {
                Wrote::All => return true,
                Wrote::Failed => return false,
                Wrote::Some(n) => data.advance(n),
                Wrote::Blocked => {}
            }
        }
        q.bytes += data.len();
        q.chunks.push_back(data);
        drop(q);
        self.queued.notify_one();
        true
    }

    /// Write `data` to the pty, after anything queued before it. False when
    /// it cannot reach the program: input is closed (the child is gone),
    /// the pty refused it (its other side is closed), or it waited for room
    /// while the input queued before it was dropped, the pty having hung up
    /// (it would have been dropped in turn).
    pub async fn send(&self, data: Bytes) -> bool {
        let mut hangups = None;
        loop {
            let drained = self.drained.notified();
            {
                let q = lock(&self.queue);
                if q.closed || *hangups.get_or_insert(q.hangups) != q.hangups {
                    return false;
                }
                if q.chunks.is_empty() || q.bytes < MAX_QUEUED {
                    return self.write_or_queue(q, data);
                }
            }
            drained.await;
        }
    }

    /// Write a terminal's answer to a query of the program (a few bytes),
    /// after anything queued before it, without waiting: the pump that
    /// answers must never wait for the program to read.
    pub fn answer(&self, data: Bytes) {
        let q = lock(&self.queue);
        if !q.closed {
            self.write_or_queue(q, data);
        }
    }

    /// Stop accepting input (the child is gone); queued bytes are dropped.
    pub fn close(&self) {
        let mut q = lock(&self.queue);
        q.closed = true;
        q.chunks.clear();
        q.bytes = 0;
        drop(q);
        self.drained.notify_waiters();
    }

    /// Drop the input queued for a pty nobody reads any more.
    fn drop_queued(&self) {
        let mut q = lock(&self.queue);
        tracing::debug!(bytes = q.bytes, "the pty hung up; queued input dropped");
        q.chunks.clear();
        q.bytes = 0;
        q.hangups += 1;
        drop(q);
        self.drained.notify_waiters();
    }

    /// Write queued input as the pty takes it. Runs until the pty fails.
    pub async fn run(self: Arc<Self>) {
        loop {
            let queued = self.queued.notified();
            let blocked = {
                let mut q = lock(&self.queue);
                let mut blocked = false;
                while let Some(front) = q.chunks.front_mut() {
                    match self.write_now(front) {
                        Wrote::All => {
                            let n = front.len();
                            q.chunks.pop_front();
                            q.bytes -= n;
                        }
                        Wrote::Some(n) => {
                            front.advance(n);
                            q.bytes -= n;
                        }
                        Wrote::Blocked => {
                            blocked = true;
                            break;
                        }
                        Wrote::Failed => {
                            q.chunks.clear();
                            q.bytes = 0;
                            break;
                        }
                    }
                }
                blocked
            };
            self.drained.notify_waiters();
            if !blocked {
                queued.await;
                continue;
            }
            let hung_up = match self.master.writable().await {
                // Every process has closed the program's side of the pty:
                // nothing will read this input, and the pty stays "ready"
                // while writes fail with EAGAIN — drop it rather than retry.
                Ok(guard) if guard.ready().is_write_closed() => true,
                Ok(mut guard) => {
                    guard.clear_ready();
                    false
                }
                Err(_) => return,
            };
            if hung_up {
                self.drop_queued();
                queued.await;
            }
        }
    }
}
