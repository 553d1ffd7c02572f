//! `hm kill ID...`: SIGTERM to the session's whole process tree, SIGKILL
//! after the grace period; confirms with heimdall 1.0's "Kill signal sent
//! to session ID", then returns once the session has ended, saying how. A
//! live supervisor whose socket cannot be reached (gone, refusing, or no
//! answer) gets SIGTERM instead, which ends the session the same way.
//! Several ids (`hm ls --json | jq -r '.[].id' | xargs hm kill`) are killed
//! at once, each answered as alone (`--json`: an array of the answers, an
//! error's with `ok: false`); the exit code is the first failure's, 0 when
//! all were killed.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Args;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde_json::json;

use super::bounded::unless_stopped;
use super::common::{
    coded_exit, describe, error_code, exit_phrase, exited_meanwhile, live_session, open,
    print_json, runtime,
};
use super::unreachable::{unreachable_supervisor, Unreachable};
use super::Common;
use crate::exit_record::ExitRecord;
use crate::lifecycle::kill_bound;
use crate::paths::SessionPaths;

/// Arguments of `hm kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Session ids (one or more; killed at once)
    #[arg(required = true, num_args = 1..)]
    pub ids: Vec<String>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Sessions `hm kill` ends side by side (each has a thread and a runtime
/// of its own).
const KILLS_AT_ONCE: usize = 64;

/// `hm kill`.
pub fn run(common: &Common, args: KillArgs) -> anyhow::Result<i32> {
    let mut ids = args.ids;
    // One id answers as heimdall 1.0 did (one object with --json); several
    // with an array, also when they name the same session.
    let several = ids.len() > 1;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    if let ([id], false) = (&ids[..], several) {
        let killed = kill(common, id, args.json)?;
        if args.json {
            print_json(&killed)?;
        }
        return Ok(0);
    }
    // Each on its own thread: the sessions' grace periods run side by side,
    // [`KILLS_AT_ONCE`] at a time (xargs may pass thousands of ids).
    let results: Vec<anyhow::Result<serde_json::Value>> = ids
        .chunks(KILLS_AT_ONCE)
        .flat_map(|batch| {
            std::thread::scope(|s| {
                let kills: Vec<_> = batch
                    .iter()
                    .map(|id| s.spawn(move || kill(common, id, args.json)))
                    .collect();
                kills
                    .into_iter()
                    .map(|k| {
                        k.join()
                            .unwrap_or_else(|_| Err(anyhow!("hm kill panicked")))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut exit = 0;
    let mut answers = Vec::new();
    for (id, result) in ids.iter().zip(results) {
        match result {
            Ok(killed) => answers.push(killed),
            Err(e) => {
                let code = match args.json {
                    true => {
                        answers.push(json!({
                            "id": id,
                            "ok": false,
                            "error": error_code(&e),
                            "message": describe(&e).replace('\n', " "),
                        }));
                        coded_exit(&e)
                    }
                    false => super::report_error(&e, false),
                };
                if exit == 0 {
                    exit = code;
                }
            }
        }
    }
    if args.json {
        print_json(&json!(answers))?;
    }
    Ok(exit)
}

/// What `hm kill` says on stdout. A stdout that takes no more (`xargs hm
/// kill | head -1`) must not stop the kill: when the first line is printed
/// the request is only queued, not yet written to the socket, and the
/// session's end is still to be awaited. The first failure is kept and
/// returned once the session has ended.
#[derive(Default)]
struct Out(Option<std::io::Error>);

impl Out {
    /// Print one line, unless a line before it failed.
    fn line(&mut self, line: std::fmt::Arguments) {
        use std::io::Write as _;
        if self.0.is_none() {
            self.0 = writeln!(std::io::stdout(), "{line}").err();
        }
    }

    /// The first failure, if any.
    fn done(self) -> std::io::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Kill one session; says so on stdout unless `json`, and returns what
/// `--json` prints.
fn kill(common: &Common, id: &str, json: bool) -> anyhow::Result<serde_json::Value> {
    let (cfg, paths) = live_session(common, id)?;
    let bound = kill_bound(cfg.kill_grace_ms);
    let mut out = Out::default();
    let signalled = runtime()?.block_on(async {
        let c = match open(&paths, "hm kill").await {
            Ok(c) => c,
            Err(e) => {
                // Ending as we connect: it has exited, as the next look says.
                if let Some(ended) = exited_meanwhile(&paths, &e) {
                    return Err(ended);
                }
                match unreachable_supervisor(&paths, &e) {
                    Some(u) => {
                        return signal_supervisor(&paths, e, u, json, bound, &mut out, true).await
                    }
                    None => return Err(e),
                }
            }
        };
        // A supervisor stopped meanwhile (before it read the KILL, or
        // while the tree takes its grace period to end) is signalled as
        // one found stopped when connecting is.
        c.kill().await?;
        if !json {
            out.line(format_args!("Kill signal sent to session {}", paths.id));
        }
        // The supervisor closes every connection when the session has ended.
        let stopped = match tokio::time::timeout(bound, unless_stopped(&paths, c.closed())).await {
            Err(_) => return Err(not_ended(&paths, bound)),
            Ok(Ok(_)) => return Ok(None),
            Ok(Err(stopped)) => stopped,
        };
        let u = Unreachable {
            pid: stopped.pid,
            why: "its supervisor is stopped".into(),
        };
        signal_supervisor(&paths, stopped.into(), u, json, bound, &mut out, false).await
    })?;
    let rec = ExitRecord::read(&paths.exit).ok();
    if !json {
        match &rec {
            Some(r) => out.line(format_args!("killed {} ({})", paths.id, exit_phrase(r))),
            None => out.line(format_args!("killed {}", paths.id)),
        }
    }
    out.done()?;
    let mut v = json!({
        "id": paths.id,
        "ok": true,
        "killed": true,
        "code": rec.as_ref().map(|r| r.code),
        "signal": rec.as_ref().and_then(|r| r.signal),
    });
    if let Some(pid) = signalled {
        v["signalled_supervisor"] = json!(pid);
    }
    Ok(v)
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
/// waits until the pidfile lock is released. Says "Kill signal sent"
/// when `say` (it was not said already). Returns the pid signalled.
async fn signal_supervisor(
    paths: &SessionPaths,
    error: anyhow::Error,
    Unreachable { pid, why }: Unreachable,
    json: bool,
    bound: Duration,
    out: &mut Out,
    say: bool,
) -> anyhow::Result<Option<i32>> {
    let target = Pid::from_raw(pid);
    signal::kill(target, Signal::SIGTERM)
        .with_context(|| format!("{error:#}; and sending SIGTERM to its supervisor (pid {pid})"))?;
    let _ = signal::kill(target, Signal::SIGCONT);
    super::say(&format!(
        "hm: session {:?}: {why}; sent SIGTERM to its supervisor (pid {pid}) instead",
        paths.id
    ));
    if say && !json {
        out.line(format_args!("Kill signal sent to session {}", paths.id));
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
