//! `hm status ID`: one session's state, also after it exited.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use super::common::{
    ask_session, command_line, escape_controls, exit_phrase, human_duration, open, print_json,
    runtime, since_rfc3339,
};
use super::session_json;
use super::Common;

/// Arguments of `hm status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Session id
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// `hm status`.
pub fn run(common: &Common, args: StatusArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    ask_session(
        &cfg,
        &args.id,
        |paths| {
            runtime()?.block_on(async {
                let c = open(paths, "hm status").await?;
                let st = c
                    .status()
                    .await
                    .with_context(|| format!("session {:?}", paths.id))?;
                let Some(hello) = c.hello() else {
                    // A heimdall 1.0 supervisor: STATUS is all it tells.
                    if args.json {
                        let mut row = session_json::live(&paths.id, &st, None);
                        row.insert("protocol".into(), json!(1));
                        print_json(&Value::Object(row))?;
                    } else {
                        outln!("session  {}", paths.id);
                        outln!(
                            "status   {}, {}",
                            if st.alive { "running" } else { "exiting" },
                            st.state
                        );
                        outln!("pid      {}", st.pid);
                        outln!("(a heimdall 1.0 supervisor: more needs a newer supervisor)");
                    }
                    return Ok(0);
                };
                let s = &hello.session;
                let uptime = since_rfc3339(&s.started_at).unwrap_or_default();
                if args.json {
                    let mut row = session_json::live(&s.id, &st, Some(hello));
                    row.insert("supervisor_pid".into(), json!(s.supervisor_pid));
                    row.insert("classifier".into(), json!(s.classifier));
                    row.insert("cols".into(), json!(s.cols));
                    row.insert("rows".into(), json!(s.rows));
                    row.insert("output_offset".into(), json!(hello.output_offset));
                    print_json(&Value::Object(row))?;
                } else {
                    // Two durations: in the current state, and since the
                    // last output (not the same: the simple classifier
                    // says idle only after idle_threshold_ms of silence).
                    let state = if st.alive {
                        format!(
                            "running, state {} for {}",
                            st.state,
                            human_duration(Duration::from_millis(st.state_ms.into()))
                        )
                    } else {
                        "exiting".to_string()
                    };
                    outln!("session  {}", s.id);
                    outln!("status   {state}");
                    outln!(
                        "silent   {} (since the last output)",
                        human_duration(Duration::from_millis(st.idle_ms.into()))
                    );
                    outln!("pid      {} (supervisor {})", st.pid, s.supervisor_pid);
                    outln!("uptime   {}", human_duration(uptime));
                    outln!("command  {}", command_line(&s.command));
                    outln!("cwd      {}", escape_controls(&s.cwd));
                }
                Ok(0)
            })
        },
        |rec| {
            if args.json {
                print_json(&session_json::exited(&rec))?;
            } else {
                let ago = since_rfc3339(&rec.ended_at)
                    .map(|d| format!(" {} ago", human_duration(d)))
                    .unwrap_or_default();
                outln!("session  {}", rec.id);
                outln!("status   exited ({}){ago}", exit_phrase(&rec));
                outln!("pid      {}", rec.pid);
                // To the second for a person; `--json` keeps the microseconds.
                let ended = humantime::parse_rfc3339(&rec.ended_at)
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string())
                    .unwrap_or_else(|_| rec.ended_at.clone());
                outln!("ended    {}", escape_controls(&ended));
                outln!("command  {}", command_line(&rec.command));
                outln!("cwd      {}", escape_controls(&rec.cwd));
            }
            Ok(0)
        },
    )
}
