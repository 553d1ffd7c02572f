//! Output and event streams: bounded queues between the connection task
//! and a consumer. The connection task never waits for a consumer: when a
//! stream is full, what does not fit is dropped and the consumer is told
//! exactly what it missed, in order, when it catches up.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

use heimdall_protocol::Event;

/// Default bound of an output stream: bytes queued for its consumer.
pub const DEFAULT_OUTPUT_BOUND: usize = 8 << 20;
/// Default bound of an event stream: events queued for its consumer.
pub const DEFAULT_EVENT_BOUND: usize = 1024;

enum Entry<T, L> {
    Item(T, usize),
    Loss(L),
}

struct State<T, L> {
    entries: VecDeque<Entry<T, L>>,
    used: usize,
    closed: bool,
    consumer_gone: bool,
}

/// A bounded queue whose producer never waits: an item that does not fit
/// becomes (or extends) a loss marker in its place.
struct Queue<T, L> {
    state: Mutex<State<T, L>>,
    notify: Notify,
    bound: usize,
}

impl<T, L> Queue<T, L> {
    fn new(bound: usize) -> Arc<Queue<T, L>> {
        Arc::new(Queue {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                used: 0,
                closed: false,
                consumer_gone: false,
            }),
            notify: Notify::new(),
            bound,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T, L>> {
        crate::sync::lock(&self.state)
    }

    /// Queue `item` costing `cost`; if it does not fit, `lose` either
    /// extends the last loss marker (returns `None`) or makes a new one.
    fn push(&self, item: T, cost: usize, lose: impl FnOnce(Option<&mut L>) -> Option<L>) {
        let mut st = self.lock();
        if st.consumer_gone || st.closed {
            return;
        }
        if cost == 0 || st.used + cost <= self.bound {
            st.used += cost;
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
    }

    async fn next(&self) -> Option<Entry<T, L>> {
        loop {
            {
                let mut st = self.lock();
                if let Some(e) = st.entries.pop_front() {
                    if let Entry::Item(_, cost) = &e {
                        st.used -= cost;
                    }
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
    pub(crate) fn data(&mut self, bytes: Bytes) {
        let offset = self.next;
        let len = bytes.len();
        self.next += len as u64;
        let to = self.next;
        self.queue
            .push(OutputItem::Data { offset, bytes }, len, |last| match last {
                Some(OutputItem::Gap { to: end, .. }) => {
                    *end = to;
                    None
                }
                _ => Some(OutputItem::Gap {
                    from: offset,
                    to,
                    cause: GapCause::Consumer,
                }),
            });
    }

    pub(crate) fn gap(&mut self, to: u64, cause: GapCause) {
        let from = self.next;
        self.next = to;
        if to > from {
            self.queue
                .push(OutputItem::Gap { from, to, cause }, 0, |_| None);
        }
    }

    pub(crate) fn exit(&self, code: i32) {
        self.queue.push(OutputItem::Exit { code }, 0, |_| None);
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
/// and other calls are never held up. Dropping the stream stops delivery.
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
    pub(crate) fn new(bound: usize, start: u64) -> (OutputStream, OutputSender) {
        let queue = Queue::new(bound);
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
    pub(crate) fn event(&self, e: Event) {
        self.queue.push(EventItem::Event(e), 1, |last| match last {
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
        self.queue.push(EventItem::Missed { count }, 0, |_| None);
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// The session's events, in order, with explicit losses.
///
/// Bounded in events: a consumer that falls further behind gets
/// [`EventItem::Missed`] with the exact count; the connection is never held
/// up. Dropping the stream stops delivery.
pub struct EventStream {
    /// Keeps the connection open while the stream is read.
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
    queue: Arc<Queue<EventItem, EventItem>>,
}

impl EventStream {
    pub(crate) fn new(bound: usize) -> (EventStream, EventSender) {
        let queue = Queue::new(bound);
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
        let (mut s, mut tx) = OutputStream::new(10, 100);
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

    #[tokio::test]
    async fn a_full_event_stream_counts_what_it_dropped() {
        let (mut s, tx) = EventStream::new(1);
        for _ in 0..4 {
            tx.event(Event::Bell);
        }
        drop(tx);
        assert_eq!(s.next().await, Some(EventItem::Event(Event::Bell)));
        assert_eq!(s.next().await, Some(EventItem::Missed { count: 3 }));
        assert_eq!(s.next().await, None);
    }
}
