//! The sending side of a connection: whole frames out, with every partial
//! socket write and every byte the peer reads from its socket counted as
//! progress, and a bound on the answers a peer has not read.
//!
//! Progress is what tells a slow reader from a stalled one. A frame may take
//! seconds to deliver over a slow link (an attach over SSH at 2 Mbit/s), so
//! counting only completed frames would call a steady reader stalled. While
//! a write waits for room, the socket's send queue (`SIOCOUTQ`, the bytes
//! the peer has not read yet) is looked at regularly: when it shrank, the
//! peer read something.
//!
//! A connection that is cut off (stalled at the end of the session, or
//! reading none of its answers) is told why first when it said HELLO: the
//! socket's buffer is widened just enough to finish the frame being written
//! and add an EVENT `lagged` or an ERROR `not_reading` (best effort: the
//! kernel caps the buffer at `net.core.wmem_max`).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use heimdall_protocol::{ErrorBody, Event, ServerMessage};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::output::Subscription;

/// After the session ended, every connection is served at least this long;
/// after that, one whose peer has read nothing for the stall timeout is
/// closed (the supervisor waits at most [`crate::supervisor`]'s maximum),
/// unless its output stream holds the child (SUBSCRIBE's `hold`).
pub const FLUSH_GRACE: Duration = Duration::from_secs(3);

/// Bytes of answers (SCREEN_RESP, STATUS_RESP…) a connection may have
/// waiting to be written before it reads no more requests. A peer that
/// asks and does not read the answers cannot grow the supervisor beyond
/// this (plus the one answer being written).
pub const MAX_UNREAD: usize = 1 << 20;

/// Room made in a socket that is cut off for the rest of the frame being
/// written (an OUTPUT frame is at most 128 KiB) and the notice.
const FAREWELL_ROOM: libc::c_int = 256 * 1024;

/// `net.core.wmem_max`: the largest send buffer setsockopt grants.
fn wmem_max() -> libc::c_int {
    static MAX: OnceLock<libc::c_int> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(212_992)
    })
}

fn set_sndbuf(fd: RawFd, size: libc::c_int) {
    // SAFETY: setsockopt with a valid int on an open socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn sndbuf(fd: RawFd) -> libc::c_int {
    let mut size: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a valid int on an open socket.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&mut size as *mut libc::c_int).cast(),
            &mut len,
        );
    }
    size
}

/// One `writev` on a non-blocking socket: the bytes written, `None` when
/// nothing could be.
fn write_now(fd: RawFd, bufs: &[IoSlice<'_>]) -> Option<usize> {
    let n = bufs.len().min(libc::UIO_MAXIOV as usize) as libc::c_int;
    // SAFETY: IoSlice is ABI-compatible with iovec; `n` of them are valid.
    let rc = unsafe { libc::writev(fd, bufs.as_ptr().cast(), n) };
    usize::try_from(rc).ok()
}

/// Longest interval between two looks at the send queue while blocked.
const PEEK_MAX: Duration = Duration::from_millis(100);

/// Bytes written to the socket that the peer has not read yet.
fn unread_bytes(fd: RawFd) -> Option<i32> {
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int through a valid pointer.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    (rc == 0).then_some(n)
}

/// What the reader and the writer of a connection share: the answers not
/// yet written and when the peer last made progress.
pub struct Backlog {
    unread: AtomicUsize,
    progress_ms: AtomicU64,
    epoch: Instant,
    written: Notify,
}

impl Backlog {
    /// An empty backlog.
    pub fn new() -> Backlog {
        Backlog {
            unread: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            written: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn progressed(&self) {
        self.progress_ms.store(self.now_ms(), Ordering::Release);
    }

    /// Whether the peer has made no progress for `stall`.
    pub fn stalled(&self, stall: Duration) -> bool {
        let last = self.progress_ms.load(Ordering::Acquire);
        self.now_ms() >= last + stall.as_millis() as u64
    }

    /// The bytes of answers queued and not yet written.
    pub fn unread(&self) -> usize {
        self.unread.load(Ordering::Acquire)
    }

    /// Count an answer of `len` bytes queued for the writer.
    pub fn queued(&self, len: usize) {
        self.unread.fetch_add(len, Ordering::AcqRel);
    }

    /// An answer of `len` bytes was written.
    pub fn written(&self, len: usize) {
        self.unread.fetch_sub(len, Ordering::AcqRel);
        self.written.notify_waiters();
    }

    /// Wait until an answer of `len` bytes fits in [`MAX_UNREAD`] (one
    /// always fits when nothing is queued). `false` when the peer made no
    /// progress for `stall` meanwhile: it has stopped reading.
    pub async fn room_for(&self, len: usize, stall: Duration) -> bool {
        let since = self.now_ms();
        let stall = stall.as_millis() as u64;
        loop {
            let written = self.written.notified();
            let unread = self.unread.load(Ordering::Acquire);
            if unread == 0 || unread + len <= MAX_UNREAD {
                return true;
            }
            let last = since.max(self.progress_ms.load(Ordering::Acquire));
            let now = self.now_ms();
            if now >= last + stall {
                return false;
            }
            let _ = tokio::time::timeout(Duration::from_millis(last + stall - now), written).await;
        }
    }
}

/// The error a write ends with when the peer stopped reading after the end.
fn gave_up() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the client stopped reading after the session ended",
    )
}

/// The error a write ends with when the connection is cut off for not
/// reading its answers.
fn cut_off() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the client reads none of its answers",
    )
}

/// A connection's write half.
pub struct Sink {
    wr: OwnedWriteHalf,
    backlog: Arc<Backlog>,
    ended: watch::Receiver<bool>,
    ended_at: Option<Instant>,
    stall: Duration,
    last_progress: Instant,
    hello: Arc<AtomicBool>,
    cut: CancellationToken,
}

impl Sink {
    /// Frames to `wr`; `ended` turns true when the session is over,
    /// `hello` when the client said HELLO; cancelling `cut` makes a blocked
    /// write give up (the client reads none of its answers).
    pub fn new(
        wr: OwnedWriteHalf,
        backlog: Arc<Backlog>,
        ended: watch::Receiver<bool>,
        stall: Duration,
        hello: Arc<AtomicBool>,
        cut: CancellationToken,
    ) -> Sink {
        Sink {
            wr,
            backlog,
            ended,
            ended_at: None,
            stall,
            last_progress: Instant::now(),
            hello,
            cut,
        }
    }

    /// The answers not yet written.
    pub fn backlog(&self) -> &Backlog {
        &self.backlog
    }

    /// Write all of `bufs`. Any progress of the peer counts as `sub`'s
    /// progress; for an OUTPUT frame of `sub`'s bytes, `output` is the
    /// frame header's length and every byte written after it advances `sub`.
    pub async fn send(
        &mut self,
        mut bufs: &mut [IoSlice<'_>],
        mut sub: Option<&mut Subscription>,
        mut output: Option<usize>,
    ) -> std::io::Result<()> {
        while !bufs.is_empty() {
            match self.wr.try_write_vectored(bufs) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.wrote(n, sub.as_deref_mut(), &mut output);
                    IoSlice::advance_slices(&mut bufs, n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Err(e) = self.wait_for_room(sub.as_deref_mut()).await {
                        self.farewell(bufs, sub, output, &e);
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Count `n` bytes written as progress (see [`Sink::send`]).
    fn wrote(&mut self, n: usize, sub: Option<&mut Subscription>, output: &mut Option<usize>) {
        self.last_progress = Instant::now();
        self.backlog.progressed();
        match (sub, output.as_mut()) {
            (Some(s), Some(header)) if n > *header => {
                s.advance(n - *header);
                *header = 0;
            }
            (Some(s), Some(header)) => {
                *header -= n;
                s.touch();
            }
            (Some(s), None) => s.touch(),
            (None, _) => {}
        }
    }

    /// The connection is being cut off (`why`): a client that said HELLO
    /// gets the rest of the frame being written and then an EVENT `lagged`
    /// (the session ended and it stopped reading: what it missed of the
    /// output) or an ERROR `not_reading`, in room made for them in the
    /// socket's buffer. Best effort, never waits.
    fn farewell(
        &mut self,
        mut bufs: &mut [IoSlice<'_>],
        mut sub: Option<&mut Subscription>,
        mut output: Option<usize>,
        why: &std::io::Error,
    ) {
        let not_reading = why.kind() == std::io::ErrorKind::ConnectionAborted;
        if !self.hello.load(Ordering::Acquire) || (!not_reading && sub.is_none()) {
            return;
        }
        let fd = self.wr.as_ref().as_raw_fd();
        set_sndbuf(fd, ((sndbuf(fd) + FAREWELL_ROOM) / 2).min(wmem_max()));
        // Written past tokio, whose readiness still says "full".
        while !bufs.is_empty() {
            match write_now(fd, bufs) {
                Some(n) if n > 0 => {
                    self.wrote(n, sub.as_deref_mut(), &mut output);
                    IoSlice::advance_slices(&mut bufs, n);
                }
                // No room after all: the frame stays cut, nothing more fits.
                _ => return,
            }
        }
        let last = match sub {
            Some(s) if !not_reading => {
                // What it did not get of the output, counted after this frame.
                let end = s.stream_end();
                ServerMessage::Event(Event::Lagged {
                    missed_bytes: end - s.position(),
                    offset: end,
                })
            }
            _ => {
                let msg = format!(
                    "closing: the client read none of its answers for {} ms ({} bytes of them waiting to be sent)",
                    self.stall.as_millis(),
                    self.backlog.unread()
                );
                ServerMessage::Error(ErrorBody::new("not_reading", msg, None))
            }
        };
        if let Ok(buf) = super::encode(last.to_frame()) {
            let _ = write_now(fd, &[IoSlice::new(&buf)]);
        }
    }

    /// Wait until the socket takes more, watching the peer read meanwhile.
    async fn wait_for_room(&mut self, mut sub: Option<&mut Subscription>) -> std::io::Result<()> {
        let fd = self.wr.as_ref().as_raw_fd();
        let peek = (self.stall / 4).clamp(Duration::from_millis(10), PEEK_MAX);
        let mut unread = unread_bytes(fd);
        loop {
            tokio::select! {
                r = self.wr.writable() => return r,
                _ = tokio::time::sleep(peek) => {}
                _ = self.cut.cancelled() => return Err(cut_off()),
            }
            let now_unread = unread_bytes(fd);
            if let (Some(now), Some(before)) = (now_unread, unread) {
                if now < before {
                    self.last_progress = Instant::now();
                    self.backlog.progressed();
                    if let Some(s) = sub.as_deref_mut() {
                        s.touch();
                    }
                }
            }
            unread = now_unread;
            // A holding subscriber is waited for however long it takes.
            let holds = sub.as_deref().is_some_and(Subscription::holds);
            if *self.ended.borrow() && !holds {
                let now = Instant::now();
                let ended_at = *self.ended_at.get_or_insert(now);
                if now >= ended_at + FLUSH_GRACE && now >= self.last_progress + self.stall {
                    return Err(gave_up());
                }
            }
        }
    }
}
