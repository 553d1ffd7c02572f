//! `hm tail ID`: the raw output — the scrollback (or from an offset) up to
//! now, and with `-f` live until the session ends.

use std::io::Write;

use anyhow::anyhow;
use clap::Args;
use heimdall_client::{GapCause, OutputItem};

use super::common::{answer, find, open, runtime, socket_dir, Found};
use super::Common;

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
    let dir = socket_dir(&cfg)?;
    let paths = match find(&dir, &args.id)? {
        Found::Live(p) => p,
        Found::Exited(rec) => {
            std::io::stdout().write_all(rec.output_tail.as_bytes())?;
            return Ok(0);
        }
    };
    runtime()?.block_on(async {
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
            return Ok(0);
        }
        let mut stream = answer(&paths, c.output(from)).await?;
        drop(c);
        let mut out = std::io::stdout().lock();
        while let Some(item) = stream.next().await {
            match item {
                OutputItem::Data { offset, bytes } => {
                    let take = if args.follow {
                        bytes.len()
                    } else {
                        (stop_at.saturating_sub(offset) as usize).min(bytes.len())
                    };
                    out.write_all(&bytes[..take])?;
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
                    eprintln!("hm: {} bytes {why}; continuing at offset {to}", to - from);
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
