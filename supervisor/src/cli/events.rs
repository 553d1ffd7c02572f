//! `hm events ID`: the session's events, one JSON object per line, until it ends.

use std::io::Write;

use clap::Args;
use heimdall_protocol::ServerMessage;

use super::common::{connect, live_session, runtime};
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
        let (mut c, _) = connect(&paths, "hm events").await?;
        c.events().await?;
        let mut out = std::io::stdout().lock();
        while let Some(msg) = c.recv().await? {
            if let ServerMessage::Event(e) = msg {
                writeln!(out, "{}", serde_json::to_string(&e)?)?;
                out.flush()?;
            }
        }
        Ok(0)
    })
}
