//! `hm tail ID`: the raw output — the scrollback (or from an offset) up to
//! now, and with `-f` live until the session ends. It ends quietly when
//! its reader goes away (`hm tail -f X | head -1`, also while the session
//! is quiet), and with an error when the connection is lost before the
//! session's end (its supervisor killed).

use std::io::Write;

use anyhow::anyhow;
use clap::Args;
use heimdall_client::{ExitRecord, GapCause, OutputItem, RecordedOutput};

use super::bounded::StopNotes;
use super::common::{answer, connection_lost, exit_recorded, follow, open, runtime, Follow};
use super::stdout_gone::{broken_pipe, stdout_gone};
use super::Common;
use crate::paths::SessionPaths;

/// Arguments of `hm tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Session id
    pub id: String,
    /// Follow: keep printing output until the session ends
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Start at this output offset (see `hm status --json`'s output_offset)
    #[arg(long, value_name = "OFFSET")]
    pub from: Option<u64>,
}

/// `hm tail`.
pub fn run(common: &Common, args: TailArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let rt = runtime()?;
    let subscribe = |paths: SessionPaths| async move {
        let c = open(&paths, "hm tail").await?;
        let (stop_at, scrollback) = c
            .hello()
            .map(|h| (h.output_offset, h.scrollback_offset))
            .ok_or_else(|| {
                anyhow!(
                    "hm tail needs a newer supervisor (this one speaks heimdall 1.0's protocol)"
                )
            })?;
        let from = args.from.unwrap_or(scrollback);
        if !args.follow && from >= stop_at {
            return Ok(None);
        }
        let stream = answer(&paths, c.output(from)).await?;
        Ok(Some((stop_at, stream)))
    };
    let (paths, (stop_at, mut stream)) = match follow(&cfg, &args.id, &rt, subscribe)? {
        Follow::Live(paths, Some(live)) => (paths, live),
        Follow::Live(_, None) => return Ok(0),
        Follow::Ended(rec) => return print_recorded(&rec, args.from),
    };
    rt.block_on(async {
        let mut out = std::io::stdout().lock();
        let gone = stdout_gone();
        tokio::pin!(gone);
        let mut notes = StopNotes::new(&paths);
        loop {
            let item = tokio::select! {
                item = notes.over(stream.next()) => item,
                _ = &mut gone => return Err(broken_pipe()),
            };
            let Some(item) = item else {
                // The stream ended without the session's EXIT.
                out.flush()?;
                if exit_recorded(&paths).is_none() {
                    return Err(connection_lost(&paths));
                }
                break;
            };
            match item {
                OutputItem::Data { offset, bytes } => {
                    let take = if args.follow {
                        bytes.len()
                    } else {
                        (stop_at.saturating_sub(offset) as usize).min(bytes.len())
                    };
                    out.write_all(&bytes[..take])?;
                    if args.follow {
                        // What arrived, at once: a prompt (a partial line)
                        // must not wait in the line buffer for its newline,
                        // nor a stdout that fails go unnoticed meanwhile.
                        out.flush()?;
                    }
                    if !args.follow && offset + bytes.len() as u64 >= stop_at {
                        break;
                    }
                }
                OutputItem::Gap { from, to, cause } => {
                    let why = match cause {
                        GapCause::Evicted => "are no longer kept",
                        GapCause::Lagged | GapCause::Consumer => {
                            "were missed (this reader fell behind)"
                        }
                    };
                    super::say(&format!(
                        "hm: {} bytes {why}; continuing at offset {to}",
                        to - from
                    ));
                    if !args.follow && to >= stop_at {
                        break;
                    }
                }
                OutputItem::Exit { .. } => break,
            }
        }
        out.flush()?;
        Ok(0)
    })
}

/// After the end: the exit record's tail, from `from` when asked.
fn print_recorded(rec: &ExitRecord, from: Option<u64>) -> anyhow::Result<i32> {
    let bytes = match from.map(|f| rec.output_from(f)) {
        None => rec.tail_bytes(),
        Some(RecordedOutput::Bytes {
            missed,
            resume,
            bytes,
        }) => {
            if missed > 0 {
                super::say(&format!(
                    "hm: {missed} bytes are no longer kept; continuing at offset {resume}"
                ));
            }
            bytes
        }
        Some(RecordedOutput::Unknown) => {
            return Err(anyhow!(
                "session {} has ended and its exit record cannot say where offset {} is \
                 (an older hm wrote it); \
                 `hm tail {}` prints the output it kept",
                rec.id,
                from.unwrap_or_default(),
                rec.id
            ))
        }
    };
    std::io::stdout().write_all(bytes)?;
    Ok(0)
}
