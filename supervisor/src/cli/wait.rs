//! `hm wait ID`: block until a condition holds, on the server side.
//! Exit codes: 0 on a match, 124 on timeout (as `timeout(1)`), 1 if the
//! session exited first; `--exit` exits with the child's code.

use std::time::Instant;

use clap::{ArgGroup, Args};
use heimdall_client::{RegexSource, State, WaitCondition, WaitResult};
use serde_json::{json, Value};

use super::bounded::{self, Overdue, StopNotes};
use super::common::{answer, ask_session, exit_phrase, open, print_json, runtime};
use super::Common;
use crate::exit_record::ExitRecord;
use crate::paths::SessionPaths;

/// Exit code of a wait that timed out.
pub const TIMEOUT_EXIT: i32 = 124;

/// Arguments of `hm wait`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("condition").required(true).args(["idle", "regex", "state", "exit"])))]
pub struct WaitArgs {
    /// Session id
    pub id: String,
    /// No output for MS milliseconds (silence; the classifier's `idle`
    /// state is `--state idle`)
    #[arg(long, value_name = "MS")]
    pub idle: Option<u64>,
    /// A regular expression appears on the screen (or, with --output, in new output)
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
    /// Match --regex against output written from now on instead of the screen
    // Not with the other conditions either: clap lets a requirement go when
    // an argument that conflicts with it (--idle, --state, --exit, through
    // the group) is there.
    #[arg(long, requires = "regex", conflicts_with_all = ["idle", "state", "exit"])]
    pub output: bool,
    /// The classifier enters this state (idle, active, thinking, streaming, tool_use, waiting, dead)
    #[arg(long, value_name = "STATE")]
    pub state: Option<State>,
    /// The program exits; hm wait exits with its code
    #[arg(long)]
    pub exit: bool,
    /// Give up when the condition has not held MS milliseconds after hm
    /// wait began (exit code 124); it is looked at once however small MS
    /// is (0: does it hold now?). A supervisor stopped meanwhile is said
    /// to be then; one that runs but does not answer, 2 s later
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// The JSON document `hm wait --json` prints for an answer from session `id`.
fn to_json(id: &str, r: &WaitResult) -> Value {
    match r {
        WaitResult::Idle { idle_ms, state } => {
            json!({"ok": true, "until": "idle", "silent_ms": idle_ms, "state": state.name()})
        }
        WaitResult::State { state } => json!({"ok": true, "until": "state", "state": state.name()}),
        WaitResult::Regex {
            matched,
            line,
            output_offset,
        } => {
            let mut v = json!({"ok": true, "until": "regex", "match": matched});
            if let Some(l) = line {
                v["line"] = json!(l);
            }
            if let Some(o) = output_offset {
                v["output_offset"] = json!(o);
            }
            v
        }
        WaitResult::Exited { code, signal } => {
            json!({"ok": true, "until": "exit", "code": code, "signal": signal})
        }
        WaitResult::TimedOut => {
            json!({"ok": false, "error": "timeout", "message": timed_out_message(id)})
        }
        WaitResult::EndedFirst { code, signal } => ended_first_json(id, *code, *signal),
        WaitResult::Unknown(v) => v.clone(),
    }
}

/// What `hm wait` says when its timeout passed.
fn timed_out_message(id: &str) -> String {
    format!("timed out waiting on session {id:?}")
}

/// Report that the timeout passed without an answer from the supervisor
/// of session `id` (`overdue` says why) and return the timeout's exit code.
fn report_overdue(id: &str, overdue: &Overdue, json: bool) -> anyhow::Result<i32> {
    let message = format!("{}: {}", timed_out_message(id), overdue.why());
    if json {
        print_json(&json!({"ok": false, "error": "timeout", "message": message}))?;
    } else {
        super::say(&format!("hm: {message}"));
    }
    Ok(TIMEOUT_EXIT)
}

/// What `hm wait` says when session `id` ended before the condition held.
fn ended_first_message(id: &str, code: i32, signal: Option<i32>) -> String {
    let how = match signal {
        Some(sig) => format!("killed by signal {sig}, code {code}"),
        None => format!("code {code}"),
    };
    format!("session {id:?} exited ({how}) before the condition held")
}

/// The `--json` error for a session that ended before the condition held.
fn ended_first_json(id: &str, code: i32, signal: Option<i32>) -> Value {
    json!({
        "ok": false,
        "error": "exited",
        "code": code,
        "signal": signal,
        "message": ended_first_message(id, code, signal),
    })
}

/// Report answer `r` of session `id` (as JSON on stdout with `json`) and
/// return `hm wait`'s exit code.
fn report(id: &str, r: WaitResult, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(&to_json(id, &r))?;
    }
    Ok(match r {
        WaitResult::Exited { code, .. } => code,
        WaitResult::Regex { matched, .. } => {
            if !json {
                outln!("{matched}");
            }
            0
        }
        WaitResult::Idle { .. } | WaitResult::State { .. } => 0,
        WaitResult::TimedOut => {
            if !json {
                super::say(&format!("hm: {}", timed_out_message(id)));
            }
            TIMEOUT_EXIT
        }
        WaitResult::EndedFirst { code, signal } => {
            if !json {
                super::say(&format!("hm: {}", ended_first_message(id, code, signal)));
            }
            1
        }
        WaitResult::Unknown(v) => {
            if !json {
                super::say(&format!("hm: session {id:?} answered {v}"));
            }
            i32::from(v["ok"].as_bool() != Some(true))
        }
    })
}

/// Report answer `r` from exit record `rec`, which the guardian of the
/// session's supervisor wrote (the supervisor died, SIGKILLed say: the
/// program did not end by itself), as [`report`] does, saying so:
/// `"supervisor_died": true` with `json`, a line on stderr without.
fn report_died(rec: &ExitRecord, r: WaitResult, json: bool) -> anyhow::Result<i32> {
    let id = &rec.id;
    if !matches!(r, WaitResult::Exited { .. } | WaitResult::EndedFirst { .. }) {
        return report(id, r, json);
    }
    if json {
        let mut v = to_json(id, &r);
        v["supervisor_died"] = json!(true);
        print_json(&v)?;
        return Ok(match r {
            WaitResult::Exited { code, .. } => code,
            _ => 1,
        });
    }
    eprintln!(
        "hm: session {id:?}: {} (its guardian ended the program)",
        exit_phrase(rec)
    );
    report(id, r, json)
}

/// `hm wait`.
pub fn run(common: &Common, args: WaitArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let condition = if let Some(ms) = args.idle {
        WaitCondition::Idle { idle_ms: ms }
    } else if let Some(re) = &args.regex {
        WaitCondition::Regex {
            pattern: re.clone(),
            source: if args.output {
                RegexSource::Output
            } else {
                RegexSource::Screen
            },
        }
    } else if let Some(s) = args.state {
        WaitCondition::State { state: s }
    } else {
        WaitCondition::Exit
    };
    // A session that already ended answers from its exit record, as it
    // would have answered live (a screen regex is matched on its final
    // screen).
    let ended = |rec: ExitRecord| {
        let r = rec.wait_answer(&condition);
        match rec.supervisor_died {
            true => report_died(&rec, r, args.json),
            false => report(&rec.id, r, args.json),
        }
    };
    let began = Instant::now();
    let ask = |paths: &SessionPaths| {
        runtime()?.block_on(async {
            // A supervisor stopped before hm wait connects is said at
            // once; the supervisor gets what is left of the timeout, and
            // looks at the condition once however little that is
            // (`--timeout 0`: does it hold now?). The timeout bounds the
            // whole command: one stopped or hung meanwhile answers nothing.
            let work = async {
                let c = open(paths, "hm wait").await?;
                let left = args.timeout.map(|ms| {
                    let spent = u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX);
                    ms.saturating_sub(spent)
                });
                let wait = c.wait(condition.clone(), left);
                match left {
                    Some(_) => answer(paths, wait).await,
                    None => answer(paths, StopNotes::new(paths).over(wait)).await,
                }
            };
            match bounded::within(paths, bounded::limit(began, args.timeout), work).await {
                Ok(r) => report(&paths.id, r?, args.json),
                Err(overdue) => report_overdue(&paths.id, &overdue, args.json),
            }
        })
    };
    ask_session(&cfg, &args.id, ask, ended)
}
