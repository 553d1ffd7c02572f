//! `hm signal ID SIG`: send a signal to the session's foreground job (what
//! Ctrl-C reaches), or with `--group` to the child's process group.

use clap::Args;
use heimdall_client::{SignalSpec, SignalTarget};
use serde_json::json;

use super::common::{answer, live_session, open, or_exited, print_json, runtime};
use super::Common;

/// Arguments of `hm signal`.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// Session id
    pub id: String,
    /// Signal name (INT, TERM, HUP, WINCH, USR1…) or number
    pub signal: String,
    /// Signal the child's process group instead of the terminal's
    /// foreground process group
    #[arg(long)]
    pub group: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `hm signal`.
pub fn run(common: &Common, args: SignalArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    runtime()?
        .block_on(async {
            let c = open(&paths, "hm signal").await?;
            let spec = match args.signal.parse::<i32>() {
                Ok(n) => SignalSpec::Number(n),
                Err(_) => SignalSpec::Name(args.signal.clone()),
            };
            let target = if args.group {
                SignalTarget::Group
            } else {
                SignalTarget::Foreground
            };
            let r = answer(&paths, c.signal(spec, target)).await?;
            if args.json {
                print_json(&json!({
                    "ok": true,
                    "signal": r.signal,
                    "target": r.target,
                    "pgid": r.pgid,
                }))?;
            }
            Ok(0)
        })
        .map_err(|e| or_exited(&paths, e))
}
