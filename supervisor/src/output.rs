//! The output ring: every byte the child writes gets an offset, the ring
//! keeps the newest `max(scrollback, live window)` bytes, and each
//! subscriber is an offset into it plus a wake-up.
//!
//! Replay and live output are the same read, so the seam between them has no
//! gap and no duplicate. Nothing is copied per subscriber: reads hand out
//! shared [`Bytes`] slices of the ring.
//!
//! **Pacing.** Before the pty is read, [`Output::wait_for_room`] checks the
//! slowest subscriber that still paces the child; while it is a full live
//! window behind, the pty is not read, so the child blocks in `write()` as on
//! a slow terminal. A subscriber that makes no progress for the stall
//! timeout is *cut loose*: it no longer paces the child and, if it falls out
//! of the ring, its next read reports a [`Read::Gap`] with the exact number of
//! bytes it missed. It paces the child again once it has caught up.
//! A *holding* subscriber (SUBSCRIBE's `hold`: `hm run` into a pipe) is
//! never cut loose: the child waits for it however long it takes, as a
//! program writing into a pipe waits for the pipe's reader, until
//! [`Output::release_holds`] (the session is being killed): from then on
//! holders are ordinary subscribers, cut loose at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::skim::Skim;
use crate::sync::lock;
use bytes::Bytes;
use tokio::sync::{watch, Notify};

/// Sizes and timeouts of the output flow.
#[derive(Debug, Clone, Copy)]
pub struct OutputConfig {
    /// Bytes replayed to a new SUBSCRIBE.
    pub scrollback: usize,
    /// How far a pacing subscriber may fall behind before the child is paused.
    pub live_window: usize,
    /// Time without progress after which a subscriber is cut loose.
    pub stall_timeout: Duration,
}

/// Largest chunk [`Output::push`] is given. The ring keeps this much beyond
/// the live window, so a subscriber that paces the child (less than a live
/// window behind when a chunk is read) never loses a byte to eviction.
pub const MAX_CHUNK: usize = 64 * 1024;

impl OutputConfig {
    /// Bytes the ring keeps.
    pub fn capacity(&self) -> usize {
        self.scrollback.max(self.live_window + MAX_CHUNK)
    }
}

struct Ring {
    /// Chunks in order, each with the offset of its first byte.
    chunks: VecDeque<(u64, Bytes)>,
    /// Offset of the oldest byte kept.
    start: u64,
    /// Offset of the next byte to be written.
    end: u64,
    closed: bool,
    /// What the bytes evicted before the screen model parsed them did
    /// (see [`Output::unparsed`]), and the offset it has read up to; `None`
    /// without a screen model.
    skim: Option<(Evicted, u64)>,
}

/// Bytes evicted before the screen model parsed them.
enum Evicted {
    /// Waiting for where the model's parser is ([`Output::skim_from`]): the
    /// bytes so far.
    Kept(Vec<Bytes>),
    /// Read from there.
    Skimmed(Skim),
}

impl Ring {
    /// Everything kept from offset `from` (see [`Output::slices_from`]).
    fn slices_from(&self, from: u64) -> (u64, Vec<Bytes>) {
        let r = self;
        let from = from.max(r.start).min(r.end);
        let first = r
            .chunks
            .partition_point(|(off, c)| off + c.len() as u64 <= from);
        let slices = r
            .chunks
            .range(first..)
            .map(|(off, c)| c.slice(from.saturating_sub(*off) as usize..))
            .collect();
        (from, slices)
    }

    /// The first byte of the last `scrollback` bytes still kept.
    fn replay_start(&self, scrollback: usize) -> u64 {
        self.end.saturating_sub(scrollback as u64).max(self.start)
    }
}

struct SubState {
    pos: AtomicU64,
    /// Milliseconds since [`Output::epoch`] of the last progress.
    last_progress: AtomicU64,
    loose: AtomicBool,
    /// Never cut loose: the child waits for it however long it takes.
    hold: bool,
}

/// The session's output stream.
pub struct Output {
    ring: Mutex<Ring>,
    end: AtomicU64,
    config: OutputConfig,
    changed: watch::Sender<()>,
    unwoken: std::sync::atomic::AtomicUsize,
    progress: Notify,
    subs: Mutex<Vec<Arc<SubState>>>,
    /// Turns true with the first subscription.
    subscribed: watch::Sender<bool>,
    /// Set by [`Output::release_holds`]: no subscriber holds the child.
    released: AtomicBool,
    epoch: Instant,
}

/// The result of reading a subscription.
#[derive(Debug)]
pub enum Read {
    /// Bytes at the subscriber's position (one or more slices).
    Data(Vec<Bytes>),
    /// The subscriber's position fell out of the ring. Its position has moved
    /// to `resume`; `missed` bytes were skipped.
    Gap {
        /// Bytes skipped.
        missed: u64,
        /// The new position.
        resume: u64,
    },
    /// Nothing new yet.
    Pending,
    /// The stream has ended and everything was read.
    Closed,
}

impl Output {
    /// An empty stream.
    pub fn new(config: OutputConfig) -> Arc<Output> {
        Arc::new(Output {
            ring: Mutex::new(Ring {
                chunks: VecDeque::new(),
                start: 0,
                end: 0,
                closed: false,
                skim: None,
            }),
            end: AtomicU64::new(0),
            config,
            changed: watch::Sender::new(()),
            unwoken: std::sync::atomic::AtomicUsize::new(0),
            progress: Notify::new(),
            subs: Mutex::new(Vec::new()),
            subscribed: watch::Sender::new(false),
            released: AtomicBool::new(false),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Offset of the next byte (bytes written so far).
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Time without progress after which a subscriber is stalled.
    pub fn stall_timeout(&self) -> Duration {
        self.config.stall_timeout
    }

    /// Offset of the oldest byte kept.
    pub fn start(&self) -> u64 {
        lock(&self.ring).start
    }

    /// Append a chunk of output (at most [`MAX_CHUNK`] bytes) and wake the
    /// subscribers.
    pub fn push(&self, chunk: Bytes) {
        self.append(chunk);
        self.wake();
    }

    /// Wake the subscribers for everything appended so far.
    pub fn wake(&self) {
        self.unwoken.store(0, Ordering::Release);
        self.changed.send_replace(());
    }

    /// Bytes appended since the subscribers were last woken.
    pub fn unwoken(&self) -> usize {
        self.unwoken.load(Ordering::Acquire)
    }

    /// Append a chunk of output (at most [`MAX_CHUNK`] bytes) without waking
    /// the subscribers yet: during a flood the pump gathers several pty reads
    /// so that each subscriber is woken (and written to) once per batch.
    pub fn append(&self, chunk: Bytes) {
        debug_assert!(chunk.len() <= MAX_CHUNK);
        let len = chunk.len();
        if len == 0 {
            return;
        }
        let cap = self.config.capacity() as u64;
        {
            let mut r = lock(&self.ring);
            let r = &mut *r;
            let at = r.end;
            r.end += chunk.len() as u64;
            r.chunks.push_back((at, chunk));
            while let Some((off, front)) = r.chunks.front() {
                let after = r.end - off - front.len() as u64;
                if after < cap {
                    break;
                }
                r.start = off + front.len() as u64;
                if let Some((evicted, read)) = &mut r.skim {
                    if *read < r.start {
                        let part = front.slice(read.saturating_sub(*off) as usize..);
                        match evicted {
                            Evicted::Kept(parts) => parts.push(part),
                            Evicted::Skimmed(skim) => skim.read(&part),
                        }
                        *read = r.start;
                    }
                }
                r.chunks.pop_front();
            }
            self.end.store(r.end, Ordering::Release);
        }
        self.unwoken.fetch_add(len, Ordering::AcqRel);
    }

    /// Mark the end of the stream (the pty closed).
    pub fn close(&self) {
        lock(&self.ring).closed = true;
        self.wake();
    }

    /// Whether the stream has ended.
    pub fn is_closed(&self) -> bool {
        lock(&self.ring).closed
    }

    /// The last `n` bytes kept (fewer if the ring holds less), from a
    /// character's start (a UTF-8 sequence cut at the front is left out),
    /// with the offset of their first byte.
    pub fn tail(&self, n: usize) -> (u64, Vec<u8>) {
        let from = self.end().saturating_sub(n as u64);
        let (from, slices) = self.slices_from(from);
        let bytes = slices.concat();
        let cut = bytes
            .iter()
            .take(3)
            .take_while(|b| (0x80..0xC0).contains(*b))
            .count();
        (from + cut as u64, bytes[cut..].to_vec())
    }

    /// Everything kept from offset `from` (or from the oldest byte kept, if
    /// `from` was evicted) to the end: the offset actually used and the slices.
    pub fn slices_from(&self, from: u64) -> (u64, Vec<Bytes>) {
        lock(&self.ring).slices_from(from)
    }

    /// Keep track of what bytes evicted before the screen model parsed
    /// them did (see [`Output::unparsed`]).
    pub fn skim_evicted(&self) {
        let mut r = lock(&self.ring);
        let end = r.end;
        r.skim = Some((Evicted::Skimmed(Skim::default()), end));
    }

    /// For the screen model, which has parsed up to `parsed` and parses
    /// what is returned: what the bytes from `parsed` that were evicted
    /// did, the offset of the oldest byte kept from `parsed` on, and the
    /// slices from there to the end. The bytes after the end that are
    /// evicted are kept until [`Output::skim_from`] tells where the model's
    /// parser is at the end, then read.
    pub fn unparsed(&self, parsed: u64) -> (Skim, u64, Vec<Bytes>) {
        let mut r = lock(&self.ring);
        let (from, slices) = r.slices_from(parsed);
        let end = from + slices.iter().map(|s| s.len() as u64).sum::<u64>();
        let skim = match r.skim.replace((Evicted::Kept(Vec::new()), end)) {
            Some((Evicted::Skimmed(skim), _)) => skim,
            Some((Evicted::Kept(parts), _)) => {
                // Not told where the parser was: from a known state.
                let mut skim = Skim::default();
                parts.iter().for_each(|p| skim.read(p));
                skim
            }
            None => {
                r.skim = None;
                Skim::default()
            }
        };
        (skim, from, slices)
    }

    /// The screen model's parser is where `skim` starts, at the end of
    /// what [`Output::unparsed`] returned: the bytes evicted since are read
    /// from there.
    pub fn skim_from(&self, mut skim: Skim) {
        let mut r = lock(&self.ring);
        if let Some((evicted, _)) = &mut r.skim {
            if let Evicted::Kept(parts) = evicted {
                parts.iter().for_each(|p| skim.read(p));
            }
            *evicted = Evicted::Skimmed(skim);
        }
    }

    /// A receiver that wakes whenever output is appended (and subscribers
    /// are woken) or the stream ends.
    pub fn watch(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// Where a SUBSCRIBE starts replaying: the scrollback's first byte.
    pub fn replay_start(&self) -> u64 {
        lock(&self.ring).replay_start(self.config.scrollback)
    }

    /// Start a subscription at `from`, or at the scrollback start when `None`;
    /// one that `hold`s is never cut loose. Returns the subscription and,
    /// when `from` is older than the ring, the number of bytes skipped.
    pub fn subscribe(self: &Arc<Self>, from: Option<u64>, hold: bool) -> (Subscription, u64) {
        let (pos, skipped) = {
            let r = lock(&self.ring);
            match from {
                None => (r.replay_start(self.config.scrollback), 0),
                Some(o) if o < r.start => (r.start, r.start - o),
                Some(o) => (o.min(r.end), 0),
            }
        };
        let state = Arc::new(SubState {
            pos: AtomicU64::new(pos),
            last_progress: AtomicU64::new(self.now_ms()),
            loose: AtomicBool::new(false),
            hold,
        });
        lock(&self.subs).push(state.clone());
        self.subscribed.send_replace(true);
        let mut changed = self.changed.subscribe();
        changed.mark_changed();
        (
            Subscription {
                output: self.clone(),
                state,
                changed,
            },
            skipped,
        )
    }

    /// The session is being killed: holding subscribers no longer hold the
    /// child back. They are cut loose at once (caught up, they pace it
    /// again as any subscriber does), and their connections are served
    /// after the end only as long as any other's.
    pub fn release_holds(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        for sub in lock(&self.subs).iter().filter(|s| s.hold) {
            sub.loose.store(true, Ordering::Release);
        }
        self.progress.notify_one();
    }

    /// Whether `sub` holds the child back however long it takes.
    fn holding(&self, sub: &SubState) -> bool {
        sub.hold && !self.released.load(Ordering::Acquire)
    }

    /// Resolves once any client has subscribed (at once if one already has).
    pub async fn first_subscriber(&self) {
        let mut rx = self.subscribed.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// The slowest subscriber that paces the child, if any.
    fn laggard(&self) -> Option<Arc<SubState>> {
        lock(&self.subs)
            .iter()
            .filter(|s| !s.loose.load(Ordering::Acquire))
            .min_by_key(|s| s.pos.load(Ordering::Acquire))
            .cloned()
    }

    /// Whether the slowest pacing subscriber is less than a live window
    /// behind (whether the pty may be read now).
    pub fn has_room(&self) -> bool {
        self.laggard().is_none_or(|sub| self.room_for(&sub))
    }

    fn room_for(&self, sub: &SubState) -> bool {
        self.end() - sub.pos.load(Ordering::Acquire) < self.config.live_window as u64
    }

    /// Wait until the slowest pacing subscriber is less than a live window
    /// behind, cutting loose any that makes no progress for the stall timeout
    /// (except a holding one, which is waited for however long it takes).
    pub async fn wait_for_room(&self) {
        let mut woken = false;
        let stall = self.config.stall_timeout.as_millis() as u64;
        let mut blocked_since: Option<u64> = None;
        loop {
            let notified = self.progress.notified();
            let end = self.end();
            let Some(sub) = self.laggard() else { return };
            if self.room_for(&sub) {
                return;
            }
            if !woken {
                // Subscribers cannot catch up on bytes they were not told about.
                woken = true;
                self.wake();
                continue;
            }
            if self.holding(&sub) {
                // Its stall clock is not the others': theirs starts when
                // one of them is the slowest.
                blocked_since = None;
                notified.await;
                continue;
            }
            let now = self.now_ms();
            let since = *blocked_since.get_or_insert(now);
            let last = since.max(sub.last_progress.load(Ordering::Acquire));
            if now >= last + stall {
                sub.loose.store(true, Ordering::Release);
                tracing::debug!(
                    behind = end - sub.pos.load(Ordering::Acquire),
                    "subscriber stalled; no longer pacing the child"
                );
                continue;
            }
            let wait = Duration::from_millis(last + stall - now);
            let _ = tokio::time::timeout(wait, notified).await;
        }
    }
}

/// One subscriber's position in the output stream.
pub struct Subscription {
    output: Arc<Output>,
    state: Arc<SubState>,
    changed: watch::Receiver<()>,
}

impl Subscription {
    /// Whether the child waits for this subscriber however long it takes.
    pub fn holds(&self) -> bool {
        self.output.holding(&self.state)
    }

    /// The offset of the next byte this subscriber will read.
    pub fn position(&self) -> u64 {
        self.state.pos.load(Ordering::Acquire)
    }

    /// The offset of the next byte the child will write (the end of the
    /// stream so far).
    pub fn stream_end(&self) -> u64 {
        self.output.end()
    }

    /// Read up to `max` bytes at the current position (without consuming
    /// them; call [`Subscription::advance`] once they are delivered).
    pub fn read(&mut self, max: usize) -> Read {
        self.changed.borrow_and_update();
        let pos = self.position();
        let r = lock(&self.output.ring);
        if pos < r.start {
            let resume = r.start;
            drop(r);
            self.state.pos.store(resume, Ordering::Release);
            return Read::Gap {
                missed: resume - pos,
                resume,
            };
        }
        if pos >= r.end {
            return if r.closed {
                Read::Closed
            } else {
                Read::Pending
            };
        }
        let first = r
            .chunks
            .partition_point(|(off, c)| off + c.len() as u64 <= pos);
        let mut out = Vec::new();
        let mut total = 0usize;
        for (off, c) in r.chunks.range(first..) {
            if total >= max {
                break;
            }
            let skip = pos.saturating_sub(*off) as usize;
            let take = (c.len() - skip).min(max - total);
            out.push(c.slice(skip..skip + take));
            total += take;
        }
        Read::Data(out)
    }

    /// Mark `n` bytes as delivered.
    pub fn advance(&mut self, n: usize) {
        let pos = self.state.pos.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        self.state
            .last_progress
            .store(self.output.now_ms(), Ordering::Release);
        if self.state.loose.load(Ordering::Acquire)
            && self.output.end().saturating_sub(pos) <= self.output.config.live_window as u64 / 2
        {
            self.state.loose.store(false, Ordering::Release);
        }
        self.output.progress.notify_one();
    }

    /// Record progress without delivering bytes: the client read some of
    /// what was already written to its socket.
    pub fn touch(&self) {
        self.state
            .last_progress
            .store(self.output.now_ms(), Ordering::Release);
    }

    /// Wait until there may be something new to read.
    pub async fn changed(&mut self) {
        if self.changed.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.output.subs).retain(|s| !Arc::ptr_eq(s, &self.state));
        self.output.progress.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(scrollback: usize, window: usize) -> Arc<Output> {
        Output::new(OutputConfig {
            scrollback,
            live_window: window,
            stall_timeout: Duration::from_millis(50),
        })
    }

    fn collect(r: Read) -> Vec<u8> {
        match r {
            Read::Data(v) => v.iter().flat_map(|b| b.iter().copied()).collect(),
            other => panic!("expected data, got {other:?}"),
        }
    }

    #[test]
    fn replay_then_live_has_no_seam() {
        let o = out(8, 8);
        o.push(Bytes::from_static(b"0123456789"));
        let (mut s, skipped) = o.subscribe(None, false);
        assert_eq!(skipped, 0);
        let got = collect(s.read(100));
        assert_eq!(got, b"23456789");
        s.advance(got.len());
        assert!(matches!(s.read(100), Read::Pending));
        o.push(Bytes::from_static(b"ab"));
        assert_eq!(collect(s.read(100)), b"ab");
    }

    #[test]
    fn eviction_reports_exact_gap() {
        let o = out(4, 4);
        let (mut s, _) = o.subscribe(None, false);
        for _ in 0..5 {
            o.push(Bytes::from(vec![b'x'; 30_000]));
        }
        assert!(o.start() > 0, "the ring evicted");
        match s.read(100) {
            Read::Gap { missed, resume } => {
                assert_eq!(resume, o.start());
                assert_eq!(missed, o.start());
            }
            other => panic!("{other:?}"),
        }
        let rest = collect(s.read(usize::MAX));
        assert_eq!(rest.len() as u64, o.end() - o.start());
    }

    #[test]
    fn subscribe_from_old_offset_skips() {
        let o = out(4, 4);
        for _ in 0..4 {
            o.push(Bytes::from(vec![b'a'; 30_000]));
        }
        let (_s, skipped) = o.subscribe(Some(0), false);
        assert!(skipped > 0);
        assert_eq!(skipped, o.start());
    }

    /// The tail starts at a character: half of one at the front is left out.
    #[test]
    fn tail_starts_at_a_character() {
        let o = out(100, 100);
        o.push(Bytes::from("world é".as_bytes()));
        assert_eq!(o.tail(1), (8, Vec::new()));
        assert_eq!(o.tail(3), (5, " é".as_bytes().to_vec()));
    }

    #[test]
    fn tail_and_limits() {
        let o = out(100, 100);
        o.push(Bytes::from_static(b"hello "));
        o.push(Bytes::from_static(b"world"));
        assert_eq!(o.tail(7), (4, b"o world".to_vec()));
        let (mut s, _) = o.subscribe(None, false);
        assert_eq!(collect(s.read(3)), b"hel");
        s.advance(3);
        assert_eq!(collect(s.read(100)), b"lo world");
        s.advance(8);
        o.close();
        assert!(matches!(s.read(100), Read::Closed));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stalled_subscriber_is_cut_loose() {
        let o = out(4, 8);
        let (s, _) = o.subscribe(None, false);
        o.push(Bytes::from(vec![0u8; 16]));
        assert!(!s.state.loose.load(Ordering::Acquire));
        let t = Instant::now();
        o.wait_for_room().await;
        assert!(t.elapsed() >= Duration::from_millis(45));
        assert!(s.state.loose.load(Ordering::Acquire));
    }

    /// A holding subscriber is never cut loose: the pump waits for its
    /// progress, and a stalled ordinary one is cut loose meanwhile only
    /// once it is the slowest.
    #[tokio::test(flavor = "current_thread")]
    async fn holding_subscriber_is_waited_for() {
        let o = out(4, 8);
        let (mut held, _) = o.subscribe(None, true);
        let (plain, _) = o.subscribe(None, false);
        o.push(Bytes::from(vec![0u8; 16]));
        let waited = tokio::time::timeout(Duration::from_millis(300), o.wait_for_room()).await;
        assert!(waited.is_err(), "the pump went on without the holder");
        assert!(!held.state.loose.load(Ordering::Acquire));
        held.advance(16);
        o.wait_for_room().await;
        assert!(plain.state.loose.load(Ordering::Acquire));
        assert!(!held.state.loose.load(Ordering::Acquire));
    }
}
