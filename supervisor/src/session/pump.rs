//! The pump: reads the pty into the output ring, paced by the slowest
//! subscriber ([`crate::output::Output::wait_for_room`]), gathering floods
//! before waking subscribers, and drains the pty after the child exits.
//! Each chunk read is also handed to the classifier and the screen model.
//!
//! **Floods are read on a thread of their own.** Interactive output is read
//! in the runtime, on the one thread that also writes to the clients, so a
//! keystroke's answer crosses no thread. Once a read comes back full (the
//! program writes faster than it is read), the pump hands the pty to a
//! blocking thread and takes it out of the runtime's poll set: the thread
//! reads on while the runtime writes the last batch to the subscribers
//! (the pty holds only ~4 KiB for its reader, so a program stalls whenever
//! its reader is busy elsewhere), and the runtime is not woken for each of
//! the pty's pieces, only once per batch. The pty goes back to the runtime
//! after [`FLOOD_QUIET`] without output, or when the child exits.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nix::errno::Errno;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::Session;
use crate::terminal_queries::{self, Query};

/// Pty reads go into blocks of this size; one batch of reads fills at most one.
const READ_BLOCK: usize = crate::output::MAX_CHUNK;
/// A read needs at least this much room, else a new block is started.
const MIN_READ: usize = 4096;
/// A read this large means the pty buffer was full: a flood is under way.
const FULL_READ: usize = 4095;
/// During a flood, subscribers are woken once this much has been gathered…
const FLOOD_BATCH: usize = 64 * 1024;
/// …or this long after the first byte they have not been told about.
const FLOOD_DELAY: Duration = Duration::from_millis(2);
/// A flood read on its own thread ends once the pty is quiet this long.
const FLOOD_QUIET: Duration = Duration::from_millis(5);
/// After the child exits, the pty is drained until it is quiet this long…
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// …or at most this long (a grandchild may hold the pty and keep writing).
const DRAIN_MAX: Duration = Duration::from_secs(1);

impl Session {
    /// Feed a chunk to the classifier and the ring; wake subscribers unless
    /// `gather` (a flood is under way and more is coming).
    fn on_output(&self, chunk: Bytes, gather: bool) {
        if !gather {
            self.echo_poll.output();
        }
        let now = Instant::now();
        let classified = self.classify_output(now, chunk.len());
        let mut queries = self.query_across_seam(&chunk);
        queries.extend(terminal_queries::find(&chunk).map(|(_, _, q)| q));
        self.output.append(chunk);
        if !gather || self.output.unwoken() >= FLOOD_BATCH {
            self.output.wake();
        }
        self.screen_output_arrived(now, gather);
        self.announce(classified);
        if !queries.is_empty() {
            self.answer_queries(&queries);
        }
    }

    /// A query cut between the output so far and `chunk` (the pty's reads
    /// may end anywhere, also after a query's `ESC`), found by looking at
    /// the last bytes of the ring when `chunk` may start a query's rest.
    fn query_across_seam(&self, chunk: &[u8]) -> Vec<Query> {
        if !chunk
            .first()
            .is_some_and(|&b| terminal_queries::continues_a_query(b))
        {
            return Vec::new();
        }
        let end = self.output.end();
        let (_, slices) = self
            .output
            .slices_from(end.saturating_sub(terminal_queries::LONGEST as u64 - 1));
        terminal_queries::across(&slices.concat(), chunk)
    }

    /// Answer the program's terminal queries as its terminal would (the
    /// cursor from the screen model, parsed up to here).
    fn answer_queries(&self, queries: &[Query]) {
        let cursor = self.screen().map(|st| st.model.cursor());
        for q in queries {
            if let Some(answer) = q.answer(cursor) {
                self.input.answer(Bytes::from(answer));
            }
        }
    }

    /// Run the pump until the pty closes, or the child has exited and the
    /// pty has been drained.
    ///
    /// The pump reads the pty in the runtime (one thread: no wake-up of
    /// another thread on the keystroke path) until a flood starts; a flood
    /// is read on a thread of its own ([`Session::read_flood`]), with the
    /// pty out of the runtime's poll set meanwhile, so that reading the pty
    /// overlaps writing to the subscribers and the runtime is not woken for
    /// every piece the pty hands out.
    pub async fn pump(self: &Arc<Self>) {
        let mut reader = match self.pty_reader() {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(error = %e, "cannot watch the pty for output");
                self.output.close();
                return;
            }
        };
        let mut buf = BytesMut::with_capacity(READ_BLOCK);
        let mut exit = self.exit.subscribe();
        let mut exited_at: Option<Instant> = None;
        let mut last_data = Instant::now();
        while let Some(pty) = reader.as_ref() {
            let paced_from = Instant::now();
            self.output.wait_for_room().await;
            if let Some(at) = exited_at.as_mut() {
                // Time a slow subscriber held the pump back does not count
                // as draining: what the pty still holds is read afterwards.
                *at += paced_from.elapsed();
            }
            let ready = match exited_at {
                Some(at) => {
                    let until = (last_data.max(at) + DRAIN_QUIET).min(at + DRAIN_MAX);
                    tokio::select! {
                        r = pty.readable() => r,
                        _ = tokio::time::sleep_until(until.into()) => break,
                    }
                }
                None => tokio::select! {
                    r = pty.readable() => r,
                    _ = exit.wait_for(Option::is_some) => {
                        exited_at = Some(Instant::now());
                        continue;
                    }
                },
            };
            let Ok(mut guard) = ready else { break };
            let turn = read_turn(pty.as_raw_fd(), &mut buf);
            if turn.drained {
                // Readiness is edge-triggered and the reactor has not run
                // since the read, so new data raises a new edge.
                guard.clear_ready();
            }
            if !buf.is_empty() {
                last_data = Instant::now();
                // A full read means the child is writing faster than this:
                // the flood's thread gathers more before waking every
                // subscriber (for this read too).
                let flood = turn.last_read >= FULL_READ && !turn.eof && exited_at.is_none();
                self.on_output(buf.split().freeze(), flood);
                if flood {
                    if let Some(pty) = reader.take() {
                        // Out of the runtime's poll set while the thread reads.
                        let pty = pty.into_inner();
                        match self.read_flood_on_thread(&pty, last_data).await {
                            FloodEnd::Eof => break,
                            FloodEnd::Exited => exited_at = Some(Instant::now()),
                            FloodEnd::Quiet => {}
                        }
                        last_data = Instant::now();
                        reader = match register_reader(pty) {
                            Ok(r) => Some(r),
                            Err(e) => {
                                tracing::error!(error = %e, "cannot watch the pty for output");
                                None
                            }
                        };
                    }
                }
            }
            if turn.eof {
                break;
            }
        }
        self.output.wake();
    }

    /// The pump's own registration of the pty for reading (a duplicate of
    /// the master, which the runtime watches only for writability).
    fn pty_reader(&self) -> std::io::Result<AsyncFd<OwnedFd>> {
        register_reader(self.master.get_ref().try_clone()?)
    }

    /// Read a flood from `pty` on a blocking thread until it ends; the
    /// subscribers have not been told of the output since `untold`.
    async fn read_flood_on_thread(self: &Arc<Self>, pty: &OwnedFd, untold: Instant) -> FloodEnd {
        let session = self.clone();
        let runtime = tokio::runtime::Handle::current();
        // The pump keeps `pty` open until the thread is done with it.
        let fd = pty.as_raw_fd();
        let end =
            tokio::task::spawn_blocking(move || session.read_flood(fd, &runtime, untold)).await;
        end.unwrap_or_else(|e| {
            tracing::error!(error = %e, "the flood reader failed");
            self.output.wake();
            FloodEnd::Quiet
        })
    }

    /// Read the pty `fd`, blocked in `ppoll(2)` between pieces, paced by the
    /// slowest subscriber as the pump is and gathering (the subscribers are
    /// woken once [`FLOOD_BATCH`] has been gathered or [`FLOOD_DELAY`]
    /// after the first byte they have not been told about),
    /// until the pty is quiet for [`FLOOD_QUIET`], the child exits (the pump
    /// drains what is left) or the pty closes. The subscribers have not been
    /// told of the output since `untold` (the pump gathered it).
    fn read_flood(&self, fd: RawFd, runtime: &tokio::runtime::Handle, untold: Instant) -> FloodEnd {
        let mut buf = BytesMut::with_capacity(READ_BLOCK);
        // When the first byte the subscribers have not been told of arrived
        // (read but not handed on, or handed on without waking them): they
        // are told at the latest FLOOD_DELAY after it. Reads are gathered
        // into blocks as the pump's reads are: the pty gives ~4 KiB a read, and
        // each chunk handed on costs the classifier, the ring and every
        // subscriber's write a turn.
        let mut gathering: Option<Instant> = Some(untold);
        loop {
            if !self.output.has_room() {
                runtime.block_on(self.output.wait_for_room());
            }
            if self.exit.borrow().is_some() {
                self.hand_on(&mut buf, false);
                return FloodEnd::Exited;
            }
            let wait = match gathering {
                Some(t) => (t + FLOOD_DELAY).saturating_duration_since(Instant::now()),
                None => FLOOD_QUIET,
            };
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let timeout = libc::timespec {
                tv_sec: 0,
                tv_nsec: wait.as_nanos() as libc::c_long,
            };
            // SAFETY: one valid pollfd and a valid timeout; no signal mask.
            let rc = unsafe { libc::ppoll(&mut pfd, 1, &timeout, std::ptr::null()) };
            if rc == 0 || gathering.is_some_and(|t| t.elapsed() >= FLOOD_DELAY) {
                if gathering.take().is_some() {
                    self.hand_on(&mut buf, false);
                    continue;
                }
                return FloodEnd::Quiet;
            }
            if rc < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                self.hand_on(&mut buf, false);
                return FloodEnd::Quiet;
            }
            let turn = read_turn(fd, &mut buf);
            if turn.eof {
                self.hand_on(&mut buf, false);
                return FloodEnd::Eof;
            }
            if turn.last_read < FULL_READ {
                // As in the pump: a short read is not a flood's, so what
                // was read is told at once (it may answer a keystroke).
                self.hand_on(&mut buf, false);
                gathering = None;
            } else {
                // A full read: more is coming. The subscribers are told
                // once FLOOD_BATCH has been gathered, at the latest
                // FLOOD_DELAY after the first byte they have not been
                // told of (whether it waits in `buf` or in the ring).
                gathering.get_or_insert_with(Instant::now);
                if block_full(&buf) {
                    self.hand_on(&mut buf, true);
                    if self.output.unwoken() == 0 {
                        gathering = None;
                    }
                }
            }
        }
    }

    /// Hand what `buf` gathered to the classifier and the ring, and wake
    /// the subscribers unless `gather` (more is coming).
    fn hand_on(&self, buf: &mut BytesMut, gather: bool) {
        if !buf.is_empty() {
            self.on_output(buf.split().freeze(), gather);
        } else if !gather {
            self.output.wake();
        }
    }
}

/// Watch `pty` for reading in the runtime.
fn register_reader(pty: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the OwnedFd stays open, and is the same fd, for as long as the
    // AsyncFd that owns it lives.
    unsafe { AsyncFd::register_with_interest(pty, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// How a flood read on its thread ended.
enum FloodEnd {
    /// Nothing came for [`FLOOD_QUIET`].
    Quiet,
    /// The child exited.
    Exited,
    /// The pty closed.
    Eof,
}

/// What one turn of reading the pty found.
struct Turn {
    /// Bytes of the last successful read.
    last_read: usize,
    /// The pty closed (every slave fd is closed).
    eof: bool,
    /// The pty had nothing more (a short read or `EAGAIN`).
    drained: bool,
}

/// Whether `buf` has no room for another read in its block.
fn block_full(buf: &BytesMut) -> bool {
    buf.capacity() - buf.len() < MIN_READ || buf.len() + MIN_READ > READ_BLOCK
}

/// Read the pty (non-blocking) into `buf` until it has nothing more, the
/// block is full, or it closes.
fn read_turn(fd: RawFd, buf: &mut BytesMut) -> Turn {
    let mut turn = Turn {
        last_read: 0,
        eof: false,
        drained: false,
    };
    loop {
        if block_full(buf) {
            if !buf.is_empty() {
                return turn;
            }
            buf.reserve(READ_BLOCK);
        }
        let room = READ_BLOCK - buf.len();
        let spare = buf.spare_capacity_mut();
        let room = room.min(spare.len());
        let spare = &mut spare[..room];
        // SAFETY: reading into the buffer's spare capacity; only the bytes
        // read are marked initialised.
        let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
        if n > 0 {
            // SAFETY: the kernel initialised `n` bytes.
            unsafe { buf.set_len(buf.len() + n as usize) };
            turn.last_read = n as usize;
            if turn.last_read < FULL_READ.min(room) {
                // A short read drained the pty: skip the EAGAIN read (it
                // costs a syscall per keystroke). A full read means a
                // flood: read on, the child is refilling the pty meanwhile.
                turn.drained = true;
                return turn;
            }
            continue;
        }
        if n == 0 {
            turn.eof = true;
            return turn;
        }
        match Errno::last() {
            Errno::EAGAIN => {
                turn.drained = true;
                return turn;
            }
            Errno::EINTR => continue,
            // EIO: every slave fd is closed.
            _ => {
                turn.eof = true;
                return turn;
            }
        }
    }
}
