//! `hm ls`: the running sessions in the socket directory; with `--all`
//! also the ones that exited (from their exit records, until `hm clean`);
//! with `--watch` a line for every change after the list.
//! As in heimdall 1.0 it removes the socket and pidfile of a supervisor that
//! is gone, at once (the pidfile lock tells a live supervisor from a dead
//! one), and prints "No active sessions" when there is none.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use super::common::{
    ask_session, command_line, describe, human_duration, open, runtime, since_rfc3339, socket_dir,
    NoSession,
};
use super::session_json;
use super::stdout_gone::{broken_pipe, StdoutWatch};
use super::unreachable::{SocketGone, Stopped};
use super::Common;
use crate::paths::SessionPaths;

/// Arguments of `hm ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print a JSON array (with --watch: one JSON object per line)
    #[arg(long)]
    pub json: bool,
    /// Also list the sessions that have exited (kept until `hm clean`)
    #[arg(short, long)]
    pub all: bool,
    /// Keep watching: after the list, a line for every session that starts,
    /// changes state, exits or goes, until interrupted (looks every 500 ms)
    #[arg(long)]
    pub watch: bool,
}

/// How often `hm ls --watch` looks at the sessions.
const WATCH_EVERY: Duration = Duration::from_millis(500);

async fn live_row(paths: &SessionPaths) -> anyhow::Result<Value> {
    let c = open(paths, "hm ls").await?;
    let st = c
        .status()
        .await
        .with_context(|| format!("session {:?}", paths.id))?;
    let mut row = session_json::live(&paths.id, &st, c.hello());
    if c.hello().is_none() {
        // A heimdall 1.0 supervisor tells no command.
        row.insert("command".into(), json!([]));
    }
    Ok(Value::Object(row))
}

/// A live supervisor that did not answer in time (`unreachable`), whose
/// socket is gone (`socket_gone`) or that is stopped (`stopped`); `hm kill`
/// ends the last two.
fn unreachable_row(paths: &SessionPaths, e: &anyhow::Error) -> Value {
    let (state, supervisor) = e
        .chain()
        .find_map(|c| {
            if let Some(g) = c.downcast_ref::<SocketGone>() {
                return Some(("socket_gone", Some(g.pid)));
            }
            c.downcast_ref::<Stopped>()
                .map(|s| ("stopped", Some(s.pid)))
        })
        .unwrap_or(("unreachable", None));
    json!({
        "id": paths.id,
        "alive": true,
        "pid": paths.read_pids().map(|p| p.child),
        "supervisor_pid": supervisor,
        "state": state,
        "error": describe(e),
    })
}

/// A session that no supervisor holds whose exit record cannot be read
/// (cut short by a crash, say): it ended, how is not known.
fn unreadable_row(paths: &SessionPaths, e: &anyhow::Error) -> Value {
    json!({
        "id": paths.id,
        "alive": false,
        "pid": null,
        "state": "exited",
        "code": null,
        "signal": null,
        "error": describe(e),
    })
}

/// `hm ls`.
pub fn run(common: &Common, args: LsArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let rows: Vec<Value> = rows(&cfg)?
        .into_iter()
        .filter(|r| args.all || running(r))
        .collect();
    if args.watch {
        return watch(&cfg, &args, rows);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(0);
    }
    if rows.is_empty() {
        outln!("No active sessions");
        return Ok(0);
    }
    let table: Vec<[String; 5]> = rows.iter().map(table_row).collect();
    let widths = widths(&table);
    for r in std::iter::once(&header()).chain(&table) {
        print_row(r, &widths)?;
    }
    // What the state means and what to do about it.
    for r in rows
        .iter()
        .filter(|r| r["state"] == "socket_gone" || r["state"] == "stopped")
    {
        super::say(&format!("hm: {}", r["error"].as_str().unwrap_or_default()));
    }
    Ok(0)
}

/// Every session in the socket directory, running or exited (none while
/// the directory does not exist); stale files of dead supervisors removed.
fn rows(cfg: &crate::config::Config) -> anyhow::Result<Vec<Value>> {
    let dir = match socket_dir(cfg) {
        Ok(d) => d,
        // No directory yet: no sessions.
        Err(_) if !cfg.socket_dir.exists() => return Ok(Vec::new()),
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
            cfg,
            &id,
            |p| runtime()?.block_on(live_row(p)),
            |rec| Ok(session_json::exited(&rec)),
        );
        match row {
            Ok(row) => rows.push(row),
            // Only a log file is left: not a session.
            Err(e) if e.downcast_ref::<NoSession>().is_some() => {}
            Err(e) if paths.is_live() => rows.push(unreachable_row(&paths, &e)),
            // No supervisor holds it: it ended, its record unreadable.
            Err(e) => rows.push(unreadable_row(&paths, &e)),
        }
    }
    Ok(rows)
}

/// Whether a row is a session still running (or a live supervisor that did
/// not answer).
fn running(row: &Value) -> bool {
    row["alive"].as_bool() == Some(true)
}

/// What `--watch` reports a change of: everything but the clocks.
fn watched(row: &Value) -> Value {
    let mut r = row.clone();
    if let Some(o) = r.as_object_mut() {
        for clock in ["state_ms", "silent_ms", "uptime_ms", "error"] {
            o.remove(clock);
        }
    }
    r
}

/// `hm ls --watch`: the list, then a line for every session that appears,
/// changes state, exits (shown once even without `--all`) or goes (state
/// `gone`); ends only when interrupted or when stdout's reader goes (also
/// while nothing changes).
fn watch(cfg: &crate::config::Config, args: &LsArgs, first: Vec<Value>) -> anyhow::Result<i32> {
    let mut widths = widths(&[]);
    if args.json {
        for r in &first {
            outln!("{}", serde_json::to_string(r)?);
        }
    } else {
        let table: Vec<[String; 5]> = first.iter().map(table_row).collect();
        widths = self::widths(&table);
        for r in std::iter::once(&header()).chain(&table) {
            print_row(r, &widths)?;
        }
    }
    // What each shown session looked like last time.
    let mut shown: std::collections::BTreeMap<String, Value> = first
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), watched(r)))
        .collect();
    // Nothing may change for long: the reader's going must end it meanwhile.
    let stdout = StdoutWatch::new();
    loop {
        if stdout.sleep(WATCH_EVERY) {
            return Err(broken_pipe());
        }
        let now = rows(cfg)?;
        let mut changed: Vec<Value> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in now {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            seen.insert(id.clone());
            let before = shown.get(&id);
            // An exit is news once; an exited session is listed only with --all.
            let visible = args.all || running(&r) || before.is_some_and(running);
            if !visible || before == Some(&watched(&r)) {
                if !visible {
                    shown.remove(&id);
                }
                continue;
            }
            shown.insert(id, watched(&r));
            changed.push(r);
        }
        let gone: Vec<String> = shown
            .keys()
            .filter(|id| !seen.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            shown.remove(&id);
            changed.push(json!({ "id": id, "alive": false, "state": "gone" }));
        }
        for r in &changed {
            if args.json {
                outln!("{}", serde_json::to_string(r)?);
            } else {
                let row = table_row(r);
                for (w, cell) in widths.iter_mut().zip(&row) {
                    *w = (*w).max(cell.chars().count());
                }
                print_row(&row, &widths)?;
            }
        }
    }
}

/// The table's header. TIME: "up 5m02s" while running, "ended 3s ago"
/// once exited.
fn header() -> [String; 5] {
    ["ID", "PID", "STATE", "TIME", "COMMAND"].map(String::from)
}

/// A session's row in the table.
fn table_row(r: &Value) -> [String; 5] {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let pid = r["pid"]
        .as_u64()
        .map(|p| p.to_string())
        .unwrap_or("-".into());
    let (state, time) = if running(r) {
        let up = r["uptime_ms"]
            .as_u64()
            .map(|ms| format!("up {}", human_duration(Duration::from_millis(ms))))
            .unwrap_or("-".into());
        (s("state"), up)
    } else if r["state"] == "gone" {
        (s("state"), "-".into())
    } else {
        let ago = since_rfc3339(&s("ended_at"))
            .map(|d| format!("ended {} ago", human_duration(d)))
            .unwrap_or("-".into());
        let how = match (r["code"].as_i64(), r["signal"].as_str()) {
            (Some(code), _) => format!("exited ({code})"),
            (None, Some(sig)) => format!("exited ({sig})"),
            (None, None) => "exited".to_string(),
        };
        (how, ago)
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
}

/// The widths of the first four columns: the widest cell or header.
fn widths(table: &[[String; 5]]) -> [usize; 4] {
    let header = header();
    let mut w = [0; 4];
    for r in table.iter().chain(std::iter::once(&header)) {
        for (wi, cell) in w.iter_mut().zip(r.iter()) {
            *wi = (*wi).max(cell.chars().count());
        }
    }
    w
}

fn print_row(r: &[String; 5], w: &[usize; 4]) -> anyhow::Result<()> {
    outln!(
        "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        w0 = w[0],
        w1 = w[1],
        w2 = w[2],
        w3 = w[3]
    );
    Ok(())
}
