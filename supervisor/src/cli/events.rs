//! `hm events ID`: the session's events, one JSON object per line, until it
//! ends. It ends quietly when its reader goes away (also while the session
//! is quiet), and with an error when the connection is lost before the
//! session's end (its supervisor killed).

use std::io::Write;

use clap::Args;
use heimdall_client::{Event, EventItem};
use serde_json::json;

use super::common::{answer, connection_lost, exit_recorded, live_session, open, runtime};
use super::stdout_gone::{broken_pipe, stdout_gone};
use super::Common;

/// Arguments of `hm events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Session id
    pub id: String,
}

/// `hm events`.
pub fn run(common: &Common, args: EventsArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    runtime()?.block_on(async {
        let c = open(&paths, "hm events").await?;
        let mut events = answer(&paths, c.events()).await?;
        drop(c);
        let mut out = std::io::stdout().lock();
        let gone = stdout_gone();
        tokio::pin!(gone);
        let mut exited = false;
        loop {
            let item = tokio::select! {
                item = events.next() => item,
                _ = &mut gone => return Err(broken_pipe()),
            };
            let Some(item) = item else { break };
            let line = match item {
                EventItem::Event(e) => {
                    exited |= matches!(e, Event::Exit { .. });
                    serde_json::to_string(&e)?
                }
                EventItem::Missed { count } => {
                    json!({"type": "events_lagged", "missed_events": count}).to_string()
                }
            };
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        if !exited && exit_recorded(&paths).is_none() {
            return Err(connection_lost(&paths));
        }
        Ok(0)
    })
}
