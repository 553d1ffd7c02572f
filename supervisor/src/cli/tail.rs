//! `hm tail ID`: the raw output — the scrollback (or from an offset) up to
//! now, and with `-f` live until the session ends.

use std::io::Write;

use clap::Args;
use heimdall_protocol::{Event, ServerMessage};

use super::common::{connect, find, runtime, socket_dir, Found};
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
        let (mut c, hello) = connect(&paths, "hm tail").await?;
        let stop_at = hello.output_offset;
        let mut pos = args.from.unwrap_or(hello.scrollback_offset);
        c.subscribe_from(pos).await?;
        let mut out = std::io::stdout().lock();
        if !args.follow && pos >= stop_at {
            return Ok(0);
        }
        while let Some(msg) = c.recv().await? {
            match msg {
                ServerMessage::Output(b) => {
                    let take = if args.follow {
                        b.len()
                    } else {
                        (stop_at.saturating_sub(pos) as usize).min(b.len())
                    };
                    out.write_all(&b[..take])?;
                    pos += b.len() as u64;
                    if !args.follow && pos >= stop_at {
                        break;
                    }
                }
                ServerMessage::Event(Event::Skipped { missed_bytes, offset })
                | ServerMessage::Event(Event::Lagged { missed_bytes, offset }) => {
                    eprintln!("hm: {missed_bytes} bytes are no longer kept; continuing at offset {offset}");
                    pos = offset;
                }
                ServerMessage::Exit { .. } => break,
                _ => {}
            }
        }
        out.flush()?;
        Ok(0)
    })
}
