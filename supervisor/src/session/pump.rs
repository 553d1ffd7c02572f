//! The pump: reads the pty into the output ring, paced by the slowest
//! subscriber ([`crate::output::Output::wait_for_room`]), gathering floods
//! before waking subscribers, and drains the pty after the child exits.
//! Each chunk read is also handed to the classifier and the screen model.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use nix::errno::Errno;

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
        let queries: Vec<Query> = terminal_queries::find(&chunk).map(|(_, _, q)| q).collect();
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
    pub async fn pump(&self) {
        let mut buf = BytesMut::with_capacity(READ_BLOCK);
        let mut exit = self.exit.subscribe();
        let mut exited_at: Option<Instant> = None;
        let mut last_data = Instant::now();
        // When the first byte subscribers have not been woken for arrived.
        let mut gathering: Option<Instant> = None;
        loop {
            let paced_from = Instant::now();
            self.output.wait_for_room().await;
            if let Some(at) = exited_at.as_mut() {
                // Time a slow subscriber held the pump back does not count
                // as draining: what the pty still holds is read afterwards.
                *at += paced_from.elapsed();
            }
            if self.output.unwoken() == 0 {
                gathering = None;
            }
            let wake_at = gathering.map(|t| t + FLOOD_DELAY);
            let ready = match exited_at {
                Some(at) => {
                    let until = (last_data.max(at) + DRAIN_QUIET).min(at + DRAIN_MAX);
                    tokio::select! {
                        r = self.master.readable() => r,
                        _ = tokio::time::sleep_until(until.into()) => break,
                    }
                }
                None => tokio::select! {
                    r = self.master.readable() => r,
                    _ = exit.wait_for(Option::is_some) => {
                        exited_at = Some(Instant::now());
                        continue;
                    }
                    _ = async { tokio::time::sleep_until(wake_at.unwrap_or_else(Instant::now).into()).await }, if wake_at.is_some() => {
                        self.output.wake();
                        gathering = None;
                        continue;
                    }
                },
            };
            let Ok(mut guard) = ready else { break };
            let fd = self.master.as_raw_fd();
            let mut eof = false;
            let mut last_read = 0usize;
            loop {
                if buf.capacity() - buf.len() < MIN_READ || buf.len() >= READ_BLOCK {
                    if !buf.is_empty() {
                        break;
                    }
                    buf.reserve(READ_BLOCK);
                }
                let room = READ_BLOCK - buf.len();
                let spare = buf.spare_capacity_mut();
                let room = room.min(spare.len());
                let spare = &mut spare[..room];
                // SAFETY: reading into the buffer's spare capacity; only the
                // bytes read are marked initialised.
                let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), spare.len()) };
                if n > 0 {
                    // SAFETY: the kernel initialised `n` bytes.
                    unsafe { buf.set_len(buf.len() + n as usize) };
                    last_read = n as usize;
                    if last_read < FULL_READ.min(room) {
                        // A short read drained the pty. Readiness is edge-
                        // triggered and the reactor has not run since the
                        // read, so new data raises a new edge: skip the
                        // EAGAIN read (it costs a syscall per keystroke).
                        // A full read means a flood: read on, the child is
                        // refilling the pty meanwhile.
                        guard.clear_ready();
                        break;
                    }
                    continue;
                }
                if n == 0 {
                    eof = true;
                    break;
                }
                match Errno::last() {
                    Errno::EAGAIN => {
                        guard.clear_ready();
                        break;
                    }
                    Errno::EINTR => continue,
                    // EIO: every slave fd is closed.
                    _ => {
                        eof = true;
                        break;
                    }
                }
            }
            if !buf.is_empty() {
                last_data = Instant::now();
                // A full read means the child is writing faster than this:
                // gather more before waking every subscriber.
                let flood = last_read >= FULL_READ && !eof && exited_at.is_none();
                self.on_output(buf.split().freeze(), flood);
                if flood {
                    gathering.get_or_insert(last_data);
                }
            }
            if eof {
                break;
            }
        }
        self.output.wake();
    }
}
