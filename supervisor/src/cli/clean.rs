//! `hm clean`: remove exit records and orphaned logs older than
//! `--older-than`, and the stale socket and pidfile of supervisors that are
//! gone. A dry run unless `--force`; never touches a live session's files.
//! Ends, as heimdall 1.0 does, with "Cleaned N log file(s)." or
//! "Nothing to clean".

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Args;
use serde_json::json;

use super::common::{print_json, socket_dir};
use super::Common;
use crate::paths::owned_by_me;

/// Arguments of `hm clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Only files older than this (e.g. 30m, 24h, 7d)
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub older_than: Duration,
    /// Delete (without it, only list what would be deleted)
    #[arg(long)]
    pub force: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

fn age(path: &std::path::Path) -> Option<Duration> {
    let m = std::fs::symlink_metadata(path).ok()?.modified().ok()?;
    SystemTime::now().duration_since(m).ok()
}

/// `hm clean`.
pub fn run(common: &Common, args: CleanArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    if !cfg.socket_dir.exists() {
        return report(&args, &[], &[], &[]);
    }
    let dir = socket_dir(&cfg)?;
    let old = |p: &std::path::Path| age(p).is_some_and(|a| a >= args.older_than);
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut stale: Vec<PathBuf> = Vec::new();
    for id in dir.ids() {
        let Ok(paths) = dir.session(&id) else {
            continue;
        };
        if paths.is_live() {
            continue;
        }
        if args.force {
            // Under the pidfile lock, so never a starting supervisor's.
            stale.extend(paths.remove_stale());
        } else {
            targets.extend(
                [&paths.sock, &paths.pid]
                    .into_iter()
                    .filter(|p| p.exists())
                    .cloned(),
            );
        }
        targets.extend(
            [&paths.exit, &paths.log]
                .into_iter()
                .filter(|p| old(p))
                .cloned(),
        );
    }
    // Leftovers of interrupted exit-record writes.
    if let Ok(entries) = std::fs::read_dir(dir.path()) {
        for e in entries.flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with(".exit.tmp") && old(&p) {
                targets.push(p);
            }
        }
    }
    targets.retain(|p| owned_by_me(p));
    let mut removed = stale.clone();
    let mut failed = Vec::new();
    if args.force {
        for p in &targets {
            match std::fs::remove_file(p) {
                Ok(()) => removed.push(p.clone()),
                Err(e) => failed.push((p.clone(), e.to_string())),
            }
        }
        stale.extend(targets);
        targets = stale;
    }
    report(&args, &targets, &removed, &failed)
}

fn is_log(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "log")
}

fn report(
    args: &CleanArgs,
    targets: &[PathBuf],
    removed: &[PathBuf],
    failed: &[(PathBuf, String)],
) -> anyhow::Result<i32> {
    if args.json {
        print_json(&json!({
            "dry_run": !args.force,
            "files": targets,
            "removed": removed,
            "failed": failed.iter().map(|(p, e)| json!({"path": p, "error": e})).collect::<Vec<_>>(),
        }))?;
    } else if targets.is_empty() && failed.is_empty() {
        outln!("Nothing to clean");
    } else if args.force {
        for p in removed {
            outln!("removed {}", p.display());
        }
        for (p, e) in failed {
            eprintln!("hm: cannot remove {}: {e}", p.display());
        }
        let logs = removed.iter().filter(|p| is_log(p)).count();
        outln!("Cleaned {logs} log file(s).");
    } else {
        for p in targets {
            outln!("would remove {}", p.display());
        }
        let logs = targets.iter().filter(|p| is_log(p)).count();
        outln!("Would clean {logs} log file(s) (dry run: add --force to delete).");
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
