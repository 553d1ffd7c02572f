//! `hm clean`: remove exit records and orphaned logs older than
//! `--older-than`, and the stale socket and pidfile of supervisors that are
//! gone. A dry run unless `--force`; never touches a live session's files.
//! Ends, as heimdall 1.0 does, with "Cleaned N log file(s)." or
//! "Nothing to clean"; after "Nothing to clean" (and a dry run's summary) a
//! line says how many exit records `--older-than` kept.

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
        return report(&args, &[], &[], &[], 0);
    }
    let dir = socket_dir(&cfg)?;
    let old = |p: &std::path::Path| age(p).is_some_and(|a| a >= args.older_than);
    let mut targets: Vec<PathBuf> = Vec::new();
    let mut stale: Vec<PathBuf> = Vec::new();
    let mut kept = 0;
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
        if paths.exit.exists() && !old(&paths.exit) && owned_by_me(&paths.exit) {
            kept += 1;
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
    report(&args, &targets, &removed, &failed, kept)
}

/// `d` as `--older-than` is usually written: `7d`, `24h`, `30m`, `90s`.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        _ if s % 86400 == 0 && s > 86400 => format!("{}d", s / 86400),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// Why exit records are not listed: they are younger than `--older-than`.
fn kept_note(args: &CleanArgs, kept: usize) -> std::io::Result<()> {
    if kept > 0 {
        outln!(
            "({kept} exit record(s) younger than {} kept; --older-than to change)",
            short_duration(args.older_than)
        );
    }
    Ok(())
}

fn is_log(p: &Path) -> bool {
    p.extension().is_some_and(|e| e == "log")
}

fn report(
    args: &CleanArgs,
    targets: &[PathBuf],
    removed: &[PathBuf],
    failed: &[(PathBuf, String)],
    kept: usize,
) -> anyhow::Result<i32> {
    if args.json {
        print_json(&json!({
            "dry_run": !args.force,
            "files": targets,
            "removed": removed,
            "kept_exit_records": kept,
            "failed": failed.iter().map(|(p, e)| json!({"path": p, "error": e})).collect::<Vec<_>>(),
        }))?;
    } else if targets.is_empty() && failed.is_empty() {
        outln!("Nothing to clean");
        kept_note(args, kept)?;
    } else if args.force {
        for p in removed {
            outln!("removed {}", p.display());
        }
        for (p, e) in failed {
            super::say(&format!("hm: cannot remove {}: {e}", p.display()));
        }
        let logs = removed.iter().filter(|p| is_log(p)).count();
        outln!("Cleaned {logs} log file(s).");
    } else {
        for p in targets {
            outln!("would remove {}", p.display());
        }
        let logs = targets.iter().filter(|p| is_log(p)).count();
        outln!("Would clean {logs} log file(s) (dry run: add --force to delete).");
        kept_note(args, kept)?;
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}
