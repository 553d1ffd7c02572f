//! Output and event streams: bounded queues between the connection task
//! and a consumer. The connection task never waits for a consumer: when a
//! stream is full, what does not fit is dropped and the consumer is told
//! exactly what it missed, in order, when it catches up. The exception is
//! an output stream that holds the program ([`Pacing::Hold`]): nothing is
//! dropped, and while it is full the connection reads nothing more.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use heimdall_protocol::Event;

/// Default bound of an output stream: bytes queued for its consumer.
pub const DEFAULT_OUTPUT_BOUND: usize = 8 << 20;
/// Default bound of an event stream: events queued for its consumer.
pub const DEFAULT_EVENT_BOUND: usize = 1024;
/// The most bytes of events (counted by their frames' payloads) an event
/// stream holds for its consumer, however many events its bound allows: a
/// program can set a title of a megabyte, and a server send events of up
/// to 16 MiB. A larger event is held when it is the only one (a consumer
/// that keeps up gets every event).
pub const EVENT_BYTES_BOUND: usize = 8 << 20;

/// What an item costs in its queue: units of the queue's bound, and bytes.
#[derive(Clone, Copy)]
struct Cost {
    units: usize,
    bytes: usize,
}

/// The cost of a marker (a gap, the exit, a loss count): none, so it is
/// always queued.
const MARKER: Cost = Cost { units: 0, bytes: 0 };

enum Entry<T, L> {
    Item(T, Cost),
    Loss(L),
}

struct State<T, L> {
    entries: VecDeque<Entry<T, L>>,
    used: usize,
    bytes: usize,
    closed: bool,
    consumer_gone: bool,
}

/// A bounded queue whose producer never waits: an item that does not fit
/// becomes (or extends) a loss marker in its place.
struct Queue<T, L> {
    state: Mutex<State<T, L>>,
    notify: Notify,
    /// Woken when the consumer takes an item or goes.
    taken: Notify,
    bound: usize,
    /// The most bytes held (for a queue whose bound counts items).
    byte_bound: usize,
    /// Never lose: take every item (one may overshoot the bound); the
    /// producer waits for [`Queue::room`] before the next.
    hold: bool,
}

impl<T, L> Queue<T, L> {
    fn new(bound: usize, byte_bound: usize, hold: bool) -> Arc<Queue<T, L>> {
        Arc::new(Queue {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                used: 0,
                bytes: 0,
                closed: false,
                consumer_gone: false,
            }),
            notify: Notify::new(),
            taken: Notify::new(),
            bound,
            byte_bound,
            hold,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T, L>> {
        crate::sync::lock(&self.state)
    }

    /// Queue `item` costing `cost`; if it does not fit, `lose` either
    /// extends the last loss marker (returns `None`) or makes a new one.
    /// An item that costs no units (a marker) always fits.
    fn push(&self, item: T, cost: Cost, lose: impl FnOnce(Option<&mut L>) -> Option<L>) {
        let mut st = self.lock();
        if st.consumer_gone || st.closed {
            return;
        }
        // (An empty queue takes an item of any size in bytes.)
        let fits = st.used + cost.units <= self.bound
            && (st.bytes == 0 || st.bytes + cost.bytes <= self.byte_bound);
        if cost.units == 0 || fits || self.hold {
            st.used += cost.units;
            st.bytes += cost.bytes;
            st.entries.push_back(Entry::Item(item, cost));
        } else {
            let last = match st.entries.back_mut() {
                Some(Entry::Loss(l)) => Some(l),
                _ => None,
            };
            if let Some(new) = lose(last) {
                st.entries.push_back(Entry::Loss(new));
            }
        }
        drop(st);
        self.notify.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    fn consumer_gone(&self) {
        let mut st = self.lock();
        st.consumer_gone = true;
        st.entries.clear();
        st.used = 0;
        st.bytes = 0;
        drop(st);
        self.taken.notify_waiters();
    }

    /// Resolves once the queue is below its bound (or nobody consumes it).
    async fn room(&self) {
        loop {
            let taken = self.taken.notified();
            {
                let st = self.lock();
                if st.used < self.bound || st.consumer_gone || st.closed {
                    return;
                }
            }
            taken.await;
        }
    }

    async fn next(&self) -> Option<Entry<T, L>> {
        loop {
            {
                let mut st = self.lock();
                if let Some(e) = st.entries.pop_front() {
                    if let Entry::Item(_, cost) = &e {
                        st.used -= cost.units;
                        st.bytes -= cost.bytes;
                    }
                    drop(st);
                    self.taken.notify_waiters();
                    return Some(e);
                }
                if st.closed {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }
}

/// Why an output stream has a gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapCause {
    /// This stream's consumer fell behind the stream's bound.
    Consumer,
    /// The supervisor cut this connection loose (it fell behind the live
    /// window; `lagged`).
    Lagged,
    /// The requested output is no longer kept by the supervisor (`skipped`).
    Evicted,
}

/// How an output stream is paced when its consumer is slower than the
/// program writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pacing {
    /// The program is never held back for long: a consumer that falls
    /// behind (the stream's bound, or the supervisor's stall timeout) gets
    /// [`OutputItem::Gap`] for what it missed.
    #[default]
    BestEffort,
    /// The program waits for this stream's consumer however long it takes,
    /// as a program writing into a pipe waits for its reader: no gap, and
    /// after the program ends the supervisor waits for the consumer to read
    /// the rest and EXIT. While the stream is full (its bound) the
    /// connection reads nothing, so answers to calls on the same connection
    /// wait for the consumer too: don't await them in the task that
    /// consumes the stream. Needs a supervisor with the `hold` feature;
    /// with another the stream is [`Pacing::BestEffort`]
    /// ([`OutputStream::holds`] says which).
    Hold,
}

/// One item of an [`OutputStream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputItem {
    /// Output bytes starting at output offset `offset`.
    Data {
        /// The offset of the first byte.
        offset: u64,
        /// The bytes.
        bytes: Bytes,
    },
    /// The bytes `from..to` were not delivered.
    Gap {
        /// First missing offset.
        from: u64,
        /// Where the stream continues.
        to: u64,
        /// Why.
        cause: GapCause,
    },
    /// The child exited with this code; the stream ends.
    Exit {
        /// The exit code (128+N when killed by signal N).
        code: i32,
    },
}

/// The producer side of an output stream, kept by the connection task.
pub(crate) struct OutputSender {
    queue: Arc<Queue<OutputItem, OutputItem>>,
    /// The offset of the next byte the server will send.
    pub(crate) next: u64,
}

impl OutputSender {
    /// For a stream that holds the program and is full: resolves when its
    /// consumer has made room (the connection reads nothing meanwhile).
    pub(crate) fn room(&self) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let queue = self.queue.clone();
        let full = queue.hold && queue.lock().used >= queue.bound;
        if !full {
            return None;
        }
        Some(async move { queue.room().await })
    }

    pub(crate) fn data(&mut self, bytes: Bytes) {
        let offset = self.next;
        let len = bytes.len();
        // (The server's offsets, not ours: no overflow whatever it says.)
        self.next = self.next.saturating_add(len as u64);
        let to = self.next;
        let cost = Cost {
            units: len,
            bytes: len,
        };
        self.queue.push(
            OutputItem::Data { offset, bytes },
            cost,
            |last| match last {
                Some(OutputItem::Gap { to: end, .. }) => {
                    *end = to;
                    None
                }
                _ => Some(OutputItem::Gap {
                    from: offset,
                    to,
                    cause: GapCause::Consumer,
                }),
            },
        );
    }

    /// The server's stream goes on at `to`: a gap when that is ahead,
    /// else (a stream asked for beyond the end, which starts at the end)
    /// its bytes are numbered from `to` on.
    pub(crate) fn gap(&mut self, to: u64, cause: GapCause) {
        let from = self.next;
        self.next = to;
        if to > from {
            self.queue
                .push(OutputItem::Gap { from, to, cause }, MARKER, |_| None);
        }
    }

    pub(crate) fn exit(&self, code: i32) {
        self.queue.push(OutputItem::Exit { code }, MARKER, |_| None);
    }
}

impl Drop for OutputSender {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// Live output of a session, in order, with explicit gaps.
///
/// Bounded in bytes (see [`crate::ClientBuilder::output_bound`]): a consumer
/// that falls further behind gets [`OutputItem::Gap`] with
/// [`GapCause::Consumer`] for exactly the bytes it missed; the connection
/// and other calls are never held up — unless the stream holds the program
/// ([`Pacing::Hold`]). Dropping the stream stops delivery.
///
/// Every item carries output offsets, so a client that paints the screen
/// model (a terminal, as `hm attach` does) can line the stream up with its
/// pictures: paint a [`crate::Client::screen`] answer asked for with
/// `redraw`, open the stream at its `output_offset` (no gap, no overlap);
/// after a gap, ask for a new picture and keep this stream, showing nothing
/// until the picture comes and then only the bytes at or past its
/// `output_offset` (bytes already on their way would otherwise land on top
/// of it). A picture older than what the stream has shown is asked for again.
pub struct OutputStream {
    /// Keeps the connection open while the stream is read.
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    queue: Arc<Queue<OutputItem, OutputItem>>,
}

impl OutputStream {
    pub(crate) fn new(bound: usize, start: u64, hold: bool) -> (OutputStream, OutputSender) {
        let queue = Queue::new(bound, bound, hold);
        (
            OutputStream {
                _keep: None,
                queue: queue.clone(),
            },
            OutputSender { queue, next: start },
        )
    }

    /// The next item, or `None` when the connection has ended.
    pub async fn next(&mut self) -> Option<OutputItem> {
        self.queue.next().await.map(|e| match e {
            Entry::Item(i, _) | Entry::Loss(i) => i,
        })
    }

    /// Whether the program waits for this stream's consumer
    /// ([`Pacing::Hold`], granted by the supervisor).
    pub fn holds(&self) -> bool {
        self.queue.hold
    }
}

impl OutputStream {
    pub(crate) fn keep_alive(&mut self, token: Box<dyn std::any::Any + Send + Sync>) {
        self._keep = Some(token);
    }
}

impl Drop for OutputStream {
    fn drop(&mut self) {
        self.queue.consumer_gone();
    }
}

/// One item of an [`EventStream`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventItem {
    /// An event.
    Event(Event),
    /// This many events were dropped here: the consumer fell behind the
    /// stream's bound, or the connection fell behind the server's backlog.
    Missed {
        /// How many.
        count: u64,
    },
}

/// The producer side of an event stream.
pub(crate) struct EventSender {
    queue: Arc<Queue<EventItem, EventItem>>,
}

impl EventSender {
    /// Queue event `e`, which came in a frame of `size` bytes.
    pub(crate) fn event(&self, e: Event, size: usize) {
        let cost = Cost {
            units: 1,
            bytes: size,
        };
        self.queue
            .push(EventItem::Event(e), cost, |last| match last {
                Some(EventItem::Missed { count }) => {
                    *count += 1;
                    None
                }
                _ => Some(EventItem::Missed { count: 1 }),
            });
    }
}

impl EventSender {
    /// The server dropped `count` events for this connection.
    pub(crate) fn missed(&self, count: u64) {
        self.queue
            .push(EventItem::Missed { count }, MARKER, |_| None);
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// The session's events, in order, with explicit losses.
///
/// Bounded in events ([`crate::ClientBuilder::event_bound`]) and in bytes
/// ([`EVENT_BYTES_BOUND`]): a consumer that falls further behind gets
/// [`EventItem::Missed`] with the exact count; the connection is never held
/// up. Dropping the stream stops delivery.
pub struct EventStream {
    /// Keeps the connection open while the stream is read.
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    queue: Arc<Queue<EventItem, EventItem>>,
}

impl EventStream {
    pub(crate) fn new(bound: usize) -> (EventStream, EventSender) {
        let queue = Queue::new(bound, EVENT_BYTES_BOUND, false);
        (
            EventStream {
                _keep: None,
                queue: queue.clone(),
            },
            EventSender { queue },
        )
    }

    /// The next item, or `None` when the connection has ended.
    pub async fn next(&mut self) -> Option<EventItem> {
        self.queue.next().await.map(|e| match e {
            Entry::Item(i, _) | Entry::Loss(i) => i,
        })
    }
}

impl EventStream {
    pub(crate) fn keep_alive(&mut self, token: Box<dyn std::any::Any + Send + Sync>) {
        self._keep = Some(token);
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.queue.consumer_gone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_output_stream_reports_the_exact_gap() {
        let (mut s, mut tx) = OutputStream::new(10, 100, false);
        tx.data(Bytes::from_static(b"0123456789"));
        tx.data(Bytes::from_static(b"abc"));
        tx.data(Bytes::from_static(b"def"));
        tx.exit(0);
        drop(tx);
        assert!(matches!(
            s.next().await,
            Some(OutputItem::Data { offset: 100, .. })
        ));
        assert_eq!(
            s.next().await,
            Some(OutputItem::Gap {
                from: 110,
                to: 116,
                cause: GapCause::Consumer
            })
        );
        assert_eq!(s.next().await, Some(OutputItem::Exit { code: 0 }));
        assert_eq!(s.next().await, None);
    }

    /// A holding stream loses nothing: it takes every frame, and says when
    /// it is full until its consumer has made room.
    #[tokio::test]
    async fn a_holding_output_stream_loses_nothing() {
        let (mut s, mut tx) = OutputStream::new(10, 0, true);
        assert!(s.holds());
        assert!(tx.room().is_none());
        tx.data(Bytes::from_static(b"0123456789"));
        tx.data(Bytes::from_static(b"abc"));
        let room = tx.room().expect("full");
        assert!(matches!(
            s.next().await,
            Some(OutputItem::Data { offset: 0, .. })
        ));
        room.await;
        assert!(tx.room().is_none());
        assert_eq!(
            s.next().await,
            Some(OutputItem::Data {
                offset: 10,
                bytes: Bytes::from_static(b"abc")
            })
        );
    }

    #[tokio::test]
    async fn a_full_event_stream_counts_what_it_dropped() {
        let (mut s, tx) = EventStream::new(1);
        for _ in 0..4 {
            tx.event(Event::Bell, 15);
        }
        drop(tx);
        assert_eq!(s.next().await, Some(EventItem::Event(Event::Bell)));
        assert_eq!(s.next().await, Some(EventItem::Missed { count: 3 }));
        assert_eq!(s.next().await, None);
    }

    /// Events are held up to a bound in bytes too, whatever their count.
    #[tokio::test]
    async fn a_full_event_stream_is_bounded_in_bytes() {
        let (mut s, tx) = EventStream::new(DEFAULT_EVENT_BOUND);
        for _ in 0..4 {
            tx.event(Event::Bell, EVENT_BYTES_BOUND / 2);
        }
        drop(tx);
        assert_eq!(s.next().await, Some(EventItem::Event(Event::Bell)));
        assert_eq!(s.next().await, Some(EventItem::Event(Event::Bell)));
        assert_eq!(s.next().await, Some(EventItem::Missed { count: 2 }));
        assert_eq!(s.next().await, None);
    }

    /// An event larger than the bound in bytes reaches a consumer that
    /// keeps up (it was always lost), and it alone is held.
    #[tokio::test]
    async fn an_event_larger_than_the_byte_bound_reaches_a_consumer_that_keeps_up() {
        let (mut s, tx) = EventStream::new(DEFAULT_EVENT_BOUND);
        let title = Event::Title { title: "t".into() };
        tx.event(title.clone(), EVENT_BYTES_BOUND + 1);
        assert_eq!(s.next().await, Some(EventItem::Event(title.clone())));
        tx.event(title.clone(), EVENT_BYTES_BOUND * 2);
        tx.event(Event::Bell, 15);
        drop(tx);
        assert_eq!(s.next().await, Some(EventItem::Event(title)));
        assert_eq!(s.next().await, Some(EventItem::Missed { count: 1 }));
        assert_eq!(s.next().await, None);
    }
}
