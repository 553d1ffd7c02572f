//! `hm wait ID`: block until a condition holds, on the server side.
//! Exit codes: 0 on a match, 124 on timeout (as `timeout(1)`), 1 if the
//! session exited first; `--exit` exits with the child's code.

use clap::{ArgGroup, Args};
use heimdall_protocol::{RegexSource, State, WaitCondition};

use super::common::{ask_session, connect, print_json, runtime};
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
    /// No output for MS milliseconds
    #[arg(long, value_name = "MS")]
    pub idle: Option<u64>,
    /// A regular expression appears on the screen (or, with --output, in new output)
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
    /// Match --regex against output written from now on instead of the screen
    #[arg(long, requires = "regex")]
    pub output: bool,
    /// The classifier enters this state (idle, active, thinking, streaming, tool_use, waiting, dead)
    #[arg(long, value_name = "STATE")]
    pub state: Option<State>,
    /// The program exits; hm wait exits with its code
    #[arg(long)]
    pub exit: bool,
    /// Give up after MS milliseconds (exit code 124)
    #[arg(long, value_name = "MS")]
    pub timeout: Option<u64>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
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
    let ended = |rec: ExitRecord| {
        if args.json {
            print_json(
                &serde_json::json!({"ok": args.exit, "until": "exit", "code": rec.code, "exited": true}),
            )?;
        }
        Ok(if args.exit { rec.code } else { 1 })
    };
    let ask = |paths: &SessionPaths| {
        runtime()?.block_on(async {
            let (mut c, _) = connect(paths, "hm wait").await?;
            let r = c.wait(condition.clone(), args.timeout).await?;
            if args.json {
                print_json(&r)?;
            }
            let ok = r["ok"].as_bool() == Some(true);
            Ok(match (ok, r["error"].as_str()) {
                (true, _) if args.exit => r["code"].as_i64().unwrap_or(0) as i32,
                (true, _) => {
                    if !args.json {
                        if let Some(m) = r["match"].as_str() {
                            outln!("{m}");
                        }
                    }
                    0
                }
                (false, Some("timeout")) => {
                    if !args.json {
                        eprintln!("hm: timed out waiting on session {:?}", paths.id);
                    }
                    TIMEOUT_EXIT
                }
                (false, _) => {
                    if !args.json {
                        eprintln!(
                            "hm: session {:?} exited (code {}) before the condition held",
                            paths.id, r["code"]
                        );
                    }
                    1
                }
            })
        })
    };
    ask_session(&cfg, &args.id, ask, ended)
}
