//! `session_read`: a session's new output as the terminal shows it. Reads
//! tile the output (each says the byte range it covers, and what of it is
//! missing: what the supervisor no longer keeps, reaching back to the
//! oldest byte it does), and the terminal's state where one read ends
//! carries into the next (a character set chosen holds), reset where the
//! output has a gap, whose line in the text keeps the text on either side
//! apart; an escape sequence a read's end would cut is left to the next.

use std::time::Duration;

use heimdall_client::{validate_id, ClientBuilder, GapCause, OutputItem};
use serde_json::Value;

use super::{client_error, SessionTools, ToolResult};
use crate::scrub::unfinished_secret;
use crate::tools::terminal_text::{self, Carry};
use crate::tools::{ended_session, opt_u64_arg, ToolOutput};

/// Bytes of new output `session_read` returns at most (the newest kept).
const MAX_READ_BYTES: u64 = 1 << 20;

/// How long a read waits for the output it asked for.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the model's reads of a session have got to: the offset the next
/// read starts from, and where the output up to there left the terminal
/// (the character sets chosen, the line the cursor is on), which a read
/// that goes on from it starts with.
#[derive(Debug, Clone, Default)]
pub(super) struct ReadPoint {
    offset: u64,
    terminal: Carry,
}

impl SessionTools {
    /// New output of a session from an offset (default: where the last
    /// read ended); after its end, what its exit record keeps of it.
    pub(super) async fn read(&self, id: &str, args: &Value) -> ToolResult {
        let asked = opt_u64_arg(args, "offset")?;
        let most = match opt_u64_arg(args, "max_bytes")? {
            Some(0) => return Err("`max_bytes` must be at least 1".into()),
            most => most.map(|n| n.min(MAX_READ_BYTES)),
        };
        validate_id(id).map_err(|e| e.to_string())?;
        // One read of a session at a time: each goes on from where the
        // one before it ended (two at once showed the same output, and
        // the one that finished last set where the next went on from).
        let point = self
            .state
            .lock()
            .await
            .reads
            .entry(id.into())
            .or_default()
            .clone();
        let mut point = point.lock().await;
        let asked = asked.unwrap_or(point.offset);
        // The terminal's state is known where the last read ended; a read
        // from elsewhere starts on a fresh terminal.
        let mut terminal = if asked == point.offset {
            point.terminal.clone()
        } else {
            Carry::default()
        };
        let (out, end) = match self.live_read(id, asked, most, &mut terminal).await {
            Ok(read) => read,
            Err(why) => {
                let rec = self.after_end(id, why).await?;
                ended_session::read(&rec, asked, most, &mut terminal)
            }
        };
        *point = ReadPoint {
            offset: end,
            terminal,
        };
        Ok(out)
    }

    /// The output of live session `id` from `asked` to its end as of the
    /// call (its first `most` bytes when given, else its last
    /// [`MAX_READ_BYTES`]), shown on a terminal in state `terminal` at
    /// `asked` (left in its state at the end), and the offset the next
    /// read starts from.
    async fn live_read(
        &self,
        id: &str,
        asked: u64,
        most: Option<u64>,
        terminal: &mut Carry,
    ) -> Result<(ToolOutput, u64), String> {
        let c = self.client(id).await?;
        let hello = match c.refresh().await {
            Ok(h) => h,
            Err(e) => {
                self.forget(id).await;
                return Err(client_error(id, e));
            }
        };
        let written = hello.output_offset;
        // The read covers `asked..end`; the supervisor says what of it is
        // no longer kept (a gap where the stream starts).
        let from = asked.min(written);
        let end = most.map_or(written, |most| written.min(from.saturating_add(most)));
        // Whether the read stops short of what was written, at `max_bytes`.
        let short = end < written;
        let mut sub_from = from;
        // The bytes read, in runs separated by the gaps between them.
        let mut runs = vec![Vec::new()];
        let mut gaps = Vec::new();
        let mut notes: Vec<String> = ended_session::past_end(asked, written)
            .into_iter()
            .collect();
        if end - from > MAX_READ_BYTES {
            sub_from = end - MAX_READ_BYTES;
            gaps.push(format!(
                "bytes {from}..{sub_from} skipped: only the last {MAX_READ_BYTES} bytes are read"
            ));
            runs.push(Vec::new());
        }
        let mut exited = false;
        // Where the read has got to: the bytes it shows and the ranges it
        // reports missed tile `from..at`. A gap may end past `end` (the
        // program wrote more than the session keeps between the look at
        // the end and the subscription): the read then covers it.
        let mut at = sub_from;
        if sub_from < end {
            // A connection of its own: one output stream per connection.
            let reader = self
                .dir
                .connect(id, ClientBuilder::new().name("hm-agent-read"))
                .await
                .map_err(|e| e.to_string())?;
            let mut stream = reader
                .output(sub_from)
                .await
                .map_err(|e| client_error(id, e))?;
            // Whether the stream was cut before `end` (the session ending
            // as it was read): the exit record has the output then.
            let collect = async {
                while let Some(item) = stream.next().await {
                    match item {
                        OutputItem::Data { offset, bytes } => {
                            let take = (end.saturating_sub(offset) as usize).min(bytes.len());
                            if let Some(run) = runs.last_mut() {
                                run.extend_from_slice(&bytes[..take]);
                            }
                            at = offset + take as u64;
                        }
                        OutputItem::Gap { from: f, to, cause } => {
                            let why = match cause {
                                GapCause::Evicted => "are no longer kept by the session",
                                GapCause::Lagged | GapCause::Consumer => {
                                    "were missed (the program wrote faster than they were read)"
                                }
                            };
                            gaps.push(format!("bytes {f}..{to} {why}"));
                            runs.push(Vec::new());
                            at = to;
                        }
                        OutputItem::Exit { code } => {
                            notes.push(format!("the program exited with code {code}"));
                            exited = true;
                            return false;
                        }
                    }
                    if at >= end {
                        return false;
                    }
                }
                true
            };
            match tokio::time::timeout(READ_TIMEOUT, collect).await {
                Err(_) => notes.push(format!(
                    "reading stopped after {} s at byte {at}",
                    READ_TIMEOUT.as_secs()
                )),
                Ok(true) => {
                    self.forget(id).await;
                    return Err(format!(
                        "session {id}: the connection ended before the output was read"
                    ));
                }
                Ok(false) => {}
            }
        }
        // What the program is still writing is kept for the next read
        // (not what a gap follows: its rest is lost): an escape sequence,
        // which the next read's terminal would show the rest of as text;
        // and a token (its first half came, the rest will), which the next
        // read then gets whole: the scrubber knows a secret only whole.
        let (mut sequence, mut word, mut character) = (0, 0, 0);
        if let Some(last) = runs.last_mut().filter(|_| !exited) {
            // A character cut by `max_bytes` comes whole with the next read.
            if short {
                character = terminal_text::unfinished_character(last);
                last.truncate(last.len() - character);
            }
            sequence = terminal_text::unfinished_sequence(last);
            last.truncate(last.len() - sequence);
            word = unfinished_secret(last);
            last.truncate(last.len() - word);
        }
        let end = at - (sequence + word + character) as u64;
        if sequence > 0 {
            notes.push(format!(
                "the last {sequence} bytes, an escape sequence the program has not finished, \
                 come with the next read"
            ));
        }
        if word > 0 {
            notes.push(format!(
                "the last {word} bytes, a word the program has not finished, come with the next read"
            ));
        }
        // A gap may have carried the read past what was written.
        if short && !exited && written > end {
            notes.push(format!(
                "{} more bytes were written after this read's end: read on from the next offset",
                written - end
            ));
        }
        let (cols, rows) = (hello.session.cols, hello.session.rows);
        let carried = terminal.has_line();
        let text = terminal_text::render_runs(&runs, &gaps, terminal, cols, rows);
        let mut source = format!("output of session {id}, bytes {from}..{end}; next offset {end}");
        for n in gaps.iter().chain(&notes) {
            source.push_str("; ");
            source.push_str(n);
        }
        if !text.is_empty() {
            source.push_str(&terminal_text::text_notes(carried, !gaps.is_empty()));
        }
        if text.is_empty() {
            return Ok((ToolOutput::ok(format!("no new output ({source})")), end));
        }
        Ok((ToolOutput::untrusted(source, text), end))
    }
}
