//! `hm kill ID`: SIGTERM to the session's whole process tree, SIGKILL after
//! the grace period; confirms with heimdall 1.0's "Kill signal sent to
//! session ID", then returns once the session has ended, saying how.

use std::time::Duration;

use anyhow::anyhow;
use clap::Args;
use serde_json::json;

use super::common::{exit_phrase, live_session, open, print_json, runtime};
use super::Common;
use crate::exit_record::ExitRecord;

/// Arguments of `hm kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Session id
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// How long a killed session may take to end, for a client whose
/// configured grace is `kill_grace_ms` (the supervisor's own may differ:
/// a generous bound).
pub fn kill_bound(kill_grace_ms: u64) -> Duration {
    Duration::from_millis(kill_grace_ms.max(5000)) + Duration::from_secs(10)
}

/// `hm kill`.
pub fn run(common: &Common, args: KillArgs) -> anyhow::Result<i32> {
    let (cfg, paths) = live_session(common, &args.id)?;
    let bound = kill_bound(cfg.kill_grace_ms);
    runtime()?.block_on(async {
        let c = open(&paths, "hm kill").await?;
        c.kill().await?;
        if !args.json {
            outln!("Kill signal sent to session {}", paths.id);
        }
        // The supervisor closes every connection when the session has ended.
        let ended = tokio::time::timeout(bound, c.closed()).await;
        if ended.is_err() {
            return Err(anyhow!(
                "session {:?} did not end within {}s of the kill",
                paths.id,
                bound.as_secs()
            ));
        }
        anyhow::Ok(())
    })?;
    let rec = ExitRecord::read(&paths.exit).ok();
    if args.json {
        print_json(&json!({
            "id": paths.id,
            "killed": true,
            "code": rec.as_ref().map(|r| r.code),
            "signal": rec.as_ref().and_then(|r| r.signal),
        }))?;
    } else {
        match rec {
            Some(r) => outln!("killed {} ({})", paths.id, exit_phrase(&r)),
            None => outln!("killed {}", paths.id),
        }
    }
    Ok(0)
}
