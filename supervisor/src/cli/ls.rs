//! `hm ls`: every session in the socket directory, running or exited.
//! As in heimdall 1.0 it removes the socket and pidfile of a supervisor that
//! is gone, at once (the pidfile lock tells a live supervisor from a dead
//! one), and prints "No active sessions" when there is none; sessions that ended keep showing from their exit record until
//! `hm clean`.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use super::common::{
    ask_session, command_line, human_duration, open, runtime, since_rfc3339, socket_dir, NoSession,
};
use super::Common;
use crate::exit_record::ExitRecord;
use crate::paths::SessionPaths;

/// Arguments of `hm ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
}

async fn live_row(paths: &SessionPaths) -> anyhow::Result<Value> {
    let c = open(paths, "hm ls").await?;
    let st = c
        .status()
        .await
        .with_context(|| format!("session {:?}", paths.id))?;
    let Some(hello) = c.hello() else {
        // A heimdall 1.0 supervisor answers STATUS only.
        return Ok(json!({
            "id": paths.id,
            "alive": st.alive,
            "pid": st.pid,
            "state": st.state.name(),
            "state_ms": st.state_ms,
            "silent_ms": st.idle_ms,
            "command": [],
        }));
    };
    Ok(json!({
        "id": paths.id,
        "alive": st.alive,
        "pid": st.pid,
        "state": st.state.name(),
        "state_ms": st.state_ms,
        "silent_ms": st.idle_ms,
        "started_at": hello.session.started_at,
        "uptime_ms": since_rfc3339(&hello.session.started_at).unwrap_or_default().as_millis() as u64,
        "command": hello.session.command,
        "cwd": hello.session.cwd,
    }))
}

/// A live supervisor that did not answer in time.
fn unreachable_row(paths: &SessionPaths, e: &anyhow::Error) -> Value {
    json!({
        "id": paths.id,
        "alive": true,
        "pid": paths.read_pids().map(|p| p.child),
        "state": "unreachable",
        "error": format!("{e:#}"),
    })
}

fn exited_row(rec: &ExitRecord) -> Value {
    json!({
        "id": rec.id,
        "alive": false,
        "pid": rec.pid,
        "state": "exited",
        "code": rec.code,
        "signal": rec.signal,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "command": rec.command,
        "cwd": rec.cwd,
    })
}

/// `hm ls`.
pub fn run(common: &Common, args: LsArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let dir = match socket_dir(&cfg) {
        Ok(d) => d,
        Err(_) if !cfg.socket_dir.exists() => {
            // No directory yet: no sessions.
            if args.json {
                outln!("[]");
            } else {
                outln!("No active sessions");
            }
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let mut rows: Vec<Value> = Vec::new();
    for id in dir.ids() {
        let Ok(paths) = dir.session(&id) else {
            continue;
        };
        if !paths.is_live() {
            // No grace period: only a dead supervisor's files are removed
            // (see `SessionPaths::remove_stale`).
            for removed in paths.remove_stale() {
                tracing::debug!("removed stale {}", removed.display());
            }
        }
        let row = ask_session(
            &cfg,
            &id,
            |p| runtime()?.block_on(live_row(p)),
            |rec| Ok(exited_row(&rec)),
        );
        match row {
            Ok(row) => rows.push(row),
            // Only a log file is left: not a session.
            Err(e) if e.downcast_ref::<NoSession>().is_some() => {}
            Err(e) => rows.push(unreachable_row(&paths, &e)),
        }
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        outln!("No active sessions");
        return Ok(0);
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let pid = r["pid"]
                .as_u64()
                .map(|p| p.to_string())
                .unwrap_or("-".into());
            let (state, time) = if r["alive"].as_bool() == Some(true) {
                let up = r["uptime_ms"]
                    .as_u64()
                    .map(|ms| format!("up {}", human_duration(Duration::from_millis(ms))))
                    .unwrap_or("-".into());
                (s("state"), up)
            } else {
                let ago = since_rfc3339(&s("ended_at"))
                    .map(|d| format!("ended {} ago", human_duration(d)))
                    .unwrap_or("-".into());
                (format!("exited ({})", r["code"]), ago)
            };
            let cmd: Vec<String> = r["command"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            [s("id"), pid, state, time, command_line(&cmd)]
        })
        .collect();
    // TIME: "up 5m02s" while running, "ended 3s ago" once exited.
    let header = ["ID", "PID", "STATE", "TIME", "COMMAND"].map(String::from);
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            table
                .iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in std::iter::once(&header).chain(&table) {
        outln!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    Ok(0)
}
