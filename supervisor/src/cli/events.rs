//! `hm events ID`: the session's events, one JSON object per line, until it
//! ends, the `exit` event last (a session that has already ended: that event
//! alone, from its exit record). It ends quietly when its reader goes away
//! (also while the session is quiet), and with an error when the connection
//! is lost before the session's end (its supervisor killed).

use std::io::Write;

use clap::Args;
use heimdall_client::{Event, EventItem, ExitRecord};
use serde_json::json;

use super::bounded::StopNotes;
use super::common::{answer, connection_lost, exit_recorded, follow, open, runtime, Follow};
use super::stdout_gone::{broken_pipe, stdout_gone};
use super::Common;
use crate::paths::SessionPaths;

/// Arguments of `hm events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Session id
    pub id: String,
}

/// `hm events`.
pub fn run(common: &Common, args: EventsArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let rt = runtime()?;
    let subscribe = |paths: SessionPaths| async move {
        let c = open(&paths, "hm events").await?;
        answer(&paths, c.events()).await
    };
    let (paths, mut events) = match follow(&cfg, &args.id, &rt, subscribe)? {
        Follow::Live(paths, events) => (paths, events),
        Follow::Ended(rec) => {
            print_exit(&mut std::io::stdout().lock(), &rec)?;
            return Ok(0);
        }
    };
    rt.block_on(async {
        let mut out = std::io::stdout().lock();
        let gone = stdout_gone();
        tokio::pin!(gone);
        let mut exited = false;
        let mut notes = StopNotes::new(&paths);
        loop {
            let item = tokio::select! {
                item = notes.over(events.next()) => item,
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
        if !exited {
            // The connection closed without the event (the session ended
            // as it connected): the record has it.
            let rec = exit_recorded(&paths).ok_or_else(|| connection_lost(&paths))?;
            print_exit(&mut out, &rec)?;
        }
        Ok(0)
    })
}

/// Print the `exit` event of the session recorded in `rec`.
fn print_exit(out: &mut impl Write, rec: &ExitRecord) -> anyhow::Result<()> {
    let exit = Event::Exit {
        code: rec.code,
        signal: rec.signal,
    };
    writeln!(out, "{}", serde_json::to_string(&exit)?)?;
    out.flush()?;
    Ok(())
}
