//! `hm kill ID`: SIGTERM to the session's whole process tree, SIGKILL after
//! the grace period; confirms with heimdall 1.0's "Kill signal sent to
//! session ID", then returns once the session has ended, saying how. A
//! live supervisor whose socket cannot be reached (gone, refusing, or no
//! answer) gets SIGTERM instead, which ends the session the same way.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Args;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::json;

use super::common::{exit_phrase, exited_meanwhile, live_session, open, print_json, runtime};
use super::unreachable::{unreachable_supervisor, Unreachable};
use super::Common;
use crate::exit_record::ExitRecord;
use crate::paths::SessionPaths;

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
    let signalled = runtime()?.block_on(async {
        let c = match open(&paths, "hm kill").await {
            Ok(c) => c,
            Err(e) => {
                // Ending as we connect: it has exited, as the next look says.
                if let Some(ended) = exited_meanwhile(&paths, &e) {
                    return Err(ended);
                }
                match unreachable_supervisor(&paths, &e) {
                    Some(u) => return signal_supervisor(&paths, e, u, args.json, bound).await,
                    None => return Err(e),
                }
            }
        };
        c.kill().await?;
        if !args.json {
            outln!("Kill signal sent to session {}", paths.id);
        }
        // The supervisor closes every connection when the session has ended.
        let ended = tokio::time::timeout(bound, c.closed()).await;
        if ended.is_err() {
            return Err(not_ended(&paths, bound));
        }
        anyhow::Ok(None)
    })?;
    let rec = ExitRecord::read(&paths.exit).ok();
    if args.json {
        let mut v = json!({
            "id": paths.id,
            "killed": true,
            "code": rec.as_ref().map(|r| r.code),
            "signal": rec.as_ref().and_then(|r| r.signal),
        });
        if let Some(pid) = signalled {
            v["signalled_supervisor"] = json!(pid);
        }
        print_json(&v)?;
    } else {
        match rec {
            Some(r) => outln!("killed {} ({})", paths.id, exit_phrase(&r)),
            None => outln!("killed {}", paths.id),
        }
    }
    Ok(0)
}

fn not_ended(paths: &SessionPaths, bound: Duration) -> anyhow::Error {
    anyhow!(
        "session {:?} did not end within {}s of the kill",
        paths.id,
        bound.as_secs()
    )
}

/// Kill a session whose socket cannot be reached through its supervisor's
/// pid: SIGTERM (which ends the session as KILL does: the tree gets SIGTERM,
/// SIGKILL after the grace period), and SIGCONT in case it is stopped;
/// waits until the pidfile lock is released. Returns the pid signalled.
async fn signal_supervisor(
    paths: &SessionPaths,
    error: anyhow::Error,
    Unreachable { pid, why }: Unreachable,
    json: bool,
    bound: Duration,
) -> anyhow::Result<Option<i32>> {
    let target = Pid::from_raw(pid);
    signal::kill(target, Signal::SIGTERM)
        .with_context(|| format!("{error:#}; and sending SIGTERM to its supervisor (pid {pid})"))?;
    let _ = signal::kill(target, Signal::SIGCONT);
    eprintln!(
        "hm: session {:?}: {why}; sent SIGTERM to its supervisor (pid {pid}) instead",
        paths.id
    );
    if !json {
        outln!("Kill signal sent to session {}", paths.id);
    }
    let deadline = Instant::now() + bound;
    while paths.is_live() {
        if Instant::now() >= deadline {
            return Err(not_ended(paths, bound));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Some(pid))
}
