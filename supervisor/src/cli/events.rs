//! `hm events ID`: the session's events, one JSON object per line, until it ends.

use std::io::Write;

use clap::Args;
use heimdall_client::EventItem;
use serde_json::json;

use super::common::{answer, live_session, open, runtime};
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
        while let Some(item) = events.next().await {
            let line = match item {
                EventItem::Event(e) => serde_json::to_string(&e)?,
                EventItem::Missed { count } => {
                    json!({"type": "events_lagged", "missed_events": count}).to_string()
                }
            };
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        Ok(0)
    })
}
