//! `hm submit ID TEXT`: type a line as a person would (bracketed paste when
//! the program wants it, then Enter) and confirm the program took it.

use clap::Args;

use serde_json::json;

use super::common::{answer, live_session, open, print_json, runtime};
use super::Common;

/// Arguments of `hm submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Session id
    pub id: String,
    /// The line to submit (multi-line text goes in as one paste where the
    /// program supports it). Options may come after it; a line that starts
    /// with `-` goes after `--` (`hm submit ID -- -v`)
    pub text: String,
    /// How long to wait for the program to react to Enter
    #[arg(long, value_name = "MS", default_value_t = crate::requests::SUBMIT_TIMEOUT_MS)]
    pub timeout: u64,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `hm submit`: exit 0 when the program reacted, 1 when it did not.
pub fn run(common: &Common, args: SubmitArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    runtime()?.block_on(async {
        let c = open(&paths, "hm submit").await?;
        let r = answer(&paths, c.submit(&args.text, Some(args.timeout))).await?;
        let accepted = r.accepted;
        if args.json {
            print_json(&json!({
                "ok": true,
                "accepted": r.accepted,
                "bracketed_paste": r.bracketed_paste,
                "echoed": r.echoed,
                "output_offset": r.output_offset,
            }))?;
        } else if !accepted {
            eprintln!(
                "hm: session {:?} did not react to the line within {} ms",
                paths.id, args.timeout
            );
        }
        Ok(if accepted { 0 } else { 1 })
    })
}
