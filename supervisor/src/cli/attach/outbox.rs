//! What `hm attach` sends while attached — the keys typed (and pasted) and
//! the terminal's size — on a task of its own, so that a program that does
//! not read its input never stops the attachment.
//!
//! The supervisor queues input for a program that does not read (up to
//! 4 MiB), then stops reading this connection until the program reads:
//! INPUT waits, and so does everything sent after it on the connection.
//! Nothing here has a deadline: a paste waits until the program reads, as
//! over ssh, and arrives whole and in order. Meanwhile output keeps being
//! drawn and the keyboard keeps being read (so the detach key works), up to
//! [`MAX_PENDING`] bytes waiting here; past that the terminal holds the
//! rest of the paste.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use heimdall_client::{Client, ClientError};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

/// Bytes waiting to be sent before the keyboard is not read any more.
pub const MAX_PENDING: usize = 64 << 20;

/// How long a detach waits at most for what was typed before the detach
/// key to reach the session.
const SETTLE: Duration = Duration::from_secs(2);

/// How long a detach waits for the keys before it to move on: input stuck
/// behind a program that does not read (a paste) is left behind, and what
/// of it is still here is dropped.
const GRACE: Duration = Duration::from_millis(250);

/// Bytes queued here and not yet handed to the connection.
#[derive(Default)]
struct Pending {
    bytes: AtomicUsize,
    /// Wakes those waiting for room or for the outbox to empty.
    changed: Notify,
}

impl Pending {
    /// Wait until `done` holds for the number of bytes pending.
    async fn until(&self, done: impl Fn(usize) -> bool) {
        loop {
            let changed = self.changed.notified();
            if done(self.bytes.load(Ordering::Acquire)) {
                return;
            }
            changed.await;
        }
    }
}

/// The sending side, used by the attach loop; it never waits on the
/// session.
pub struct Outbox {
    input: mpsc::UnboundedSender<Bytes>,
    size: watch::Sender<Option<(u16, u16)>>,
    pending: Arc<Pending>,
}

/// The task that delivers; it ends with an error only if the connection
/// failed (not when the session ended: the output stream says how).
pub struct Delivery(Option<JoinHandle<Result<(), ClientError>>>);

impl Outbox {
    /// Start delivering on `client`'s connection.
    pub fn start(client: Client) -> (Outbox, Delivery) {
        let (input, rx) = mpsc::unbounded_channel();
        let (size, size_rx) = watch::channel(None);
        let pending = Arc::new(Pending::default());
        let task = tokio::spawn(deliver(client, rx, size_rx, pending.clone()));
        (
            Outbox {
                input,
                size,
                pending,
            },
            Delivery(Some(task)),
        )
    }

    /// Type `bytes` into the session, after everything before them.
    pub fn input(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.pending.bytes.fetch_add(bytes.len(), Ordering::AcqRel);
        // Once delivery has ended (the session ended) there is no one to
        // type to.
        let _ = self.input.send(Bytes::copy_from_slice(bytes));
    }

    /// Give the session this size (the latest one wins).
    pub fn resize(&self, cols: u16, rows: u16) {
        self.size.send_replace(Some((cols, rows)));
    }

    /// Wait until there is room for more input.
    pub async fn room(&self) {
        self.pending.until(|n| n < MAX_PENDING).await
    }

    /// Before a detach: let what was typed reach the session — handed to
    /// the connection, then a round trip — for at most [`SETTLE`], and only
    /// while it moves; at once when nothing is on its way.
    pub async fn settle(&self, client: &Client) {
        if self.pending.bytes.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = tokio::time::timeout(SETTLE, async {
            loop {
                let before = self.pending.bytes.load(Ordering::Acquire);
                if before == 0 {
                    break;
                }
                let moved = self.pending.until(|n| n < before);
                if tokio::time::timeout(GRACE, moved).await.is_err() {
                    return;
                }
            }
            let _ = client.status().await;
        })
        .await;
    }
}

impl Delivery {
    /// Resolves only if delivery failed (never after the session ended).
    pub async fn failed(&mut self) -> anyhow::Error {
        if let Some(task) = self.0.as_mut() {
            let result = task.await;
            self.0 = None;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return e.into(),
                Err(e) => return anyhow::anyhow!("sending to the session failed: {e}"),
            }
        }
        std::future::pending().await
    }
}

/// Send each chunk and size, waiting as long as the session needs (a call
/// that timed out sent nothing: it is made again). Ends when the attach
/// loop is done or the session has ended.
async fn deliver(
    client: Client,
    mut input: mpsc::UnboundedReceiver<Bytes>,
    mut size: watch::Receiver<Option<(u16, u16)>>,
    pending: Arc<Pending>,
) -> Result<(), ClientError> {
    loop {
        tokio::select! {
            biased;
            Ok(()) = size.changed() => {
                let latest = *size.borrow_and_update();
                if let Some((cols, rows)) = latest {
                    if !patiently(|| client.resize(cols, rows)).await? {
                        return Ok(());
                    }
                }
            }
            chunk = input.recv() => {
                let Some(chunk) = chunk else { return Ok(()) };
                let n = chunk.len();
                if !patiently(|| client.input(chunk.clone())).await? {
                    return Ok(());
                }
                pending.bytes.fetch_sub(n, Ordering::AcqRel);
                pending.changed.notify_waiters();
            }
        }
    }
}

/// Make the call until it is not stuck behind input the program has not
/// read: whether it went through (false: the session has ended).
async fn patiently<F, Fut>(call: F) -> Result<bool, ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ClientError>>,
{
    loop {
        match call().await {
            Ok(()) => return Ok(true),
            Err(ClientError::Timeout(_)) => {}
            Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        }
    }
}
