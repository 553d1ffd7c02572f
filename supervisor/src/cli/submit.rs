//! `hm submit ID TEXT`: type a line as a person would (several lines as a
//! bracketed paste when the program wants it, then Enter) and confirm the
//! program took it.

use std::io::Read as _;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use heimdall_client::ClientError;
use heimdall_protocol::MAX_PAYLOAD;
use serde_json::json;

use super::bounded::{self, Overdue};
use super::common::{answer, live_session, open, or_exited, print_json, runtime, Coded};
use super::Common;

/// Arguments of `hm submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Session id
    pub id: String,
    /// The line to submit (typed; multi-line text goes in as one paste where
    /// the program supports it; newlines at its end are dropped, the Enter
    /// ends it). Options may come after it; a line that starts with `-`
    /// goes after `--` (`hm submit ID -- -v`). A lone `-` is submitted as a
    /// dash, never read as stdin (that is `--stdin`)
    #[arg(required_unless_present = "stdin", value_name = "TEXT")]
    pub text: Option<String>,
    /// Take the line from stdin instead of TEXT (`some-cmd | hm submit ID
    /// --stdin`), read to its end: UTF-8 text, treated as TEXT is. A SUBMIT
    /// carries the line in one request of at most 1 MiB: a longer one is
    /// refused before anything is typed (exit 1; --json: too_large); type
    /// it with `hm send ID --stdin`, then `hm send ID --keys Enter`
    #[arg(long, conflicts_with = "text")]
    pub stdin: bool,
    /// How long to wait for the program to read the line and react to it
    /// (the whole command takes at most this, the 1.5 s typing may take to
    /// settle and, for a supervisor that runs but does not answer, 2 s)
    #[arg(long, value_name = "MS", default_value_t = crate::requests::SUBMIT_TIMEOUT_MS)]
    pub timeout: u64,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

/// `hm submit`: exit 0 when the program read the line and reacted, 1 when
/// it did not.
pub fn run(common: &Common, args: SubmitArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    let text = match args.text {
        Some(text) => text,
        None => stdin_line(&args.id)?,
    };
    let began = Instant::now();
    runtime()?.block_on(async {
        // The timeout bounds the whole command (the supervisor's answer
        // may come up to the time typing settles after it): a supervisor
        // stopped or hung meanwhile answers nothing.
        let work = async {
            let c = open(&paths, "hm submit").await?;
            match c.submit(&text, Some(args.timeout)).await {
                Err(ClientError::TooLarge { .. }) => {
                    Err(too_large(&args.id, &text.len().to_string()).into())
                }
                r => answer(&paths, std::future::ready(r)).await,
            }
        };
        let limit = bounded::limit(began, Some(args.timeout))
            .and_then(|l| l.checked_add(crate::requests::SETTLE_MAX));
        let r = match bounded::within(&paths, limit, work).await {
            Ok(r) => r?,
            Err(overdue) => return Err(unanswered(&args.id, args.timeout, &overdue).into()),
        };
        let accepted = r.accepted;
        if args.json {
            print_json(&json!({
                "ok": true,
                "accepted": r.accepted,
                "read": r.read,
                "exited": r.exited,
                "bracketed_paste": r.bracketed_paste,
                "echoed": r.echoed,
                "output_offset": r.output_offset,
            }))?;
        } else if r.exited {
            super::say(&format!(
                "hm: session {:?} ended after the line was typed (whether its program read it first cannot be known)",
                paths.id
            ));
        } else if !r.read {
            super::say(&format!(
                "hm: session {:?} has not read the line within {} ms (its program is busy or not reading input); it stays typed",
                paths.id, args.timeout
            ));
        } else if !accepted {
            super::say(&format!(
                "hm: session {:?} did not react to the line within {} ms",
                paths.id, args.timeout
            ));
        }
        Ok(if accepted { 0 } else { 1 })
    })
    .map_err(|e| or_exited(&paths, e))
}

/// The line on stdin, read to its end but no further than the request's
/// limit: a longer one is refused without reading the rest.
fn stdin_line(id: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_PAYLOAD as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read stdin")?;
    if bytes.len() > MAX_PAYLOAD {
        return Err(too_large(id, &format!("over {MAX_PAYLOAD}")).into());
    }
    String::from_utf8(bytes).map_err(|e| {
        Coded {
            code: "failed".into(),
            message: format!(
                "stdin is not UTF-8 text (an invalid byte at offset {}): hm submit types a line of text; \
                 nothing was typed (hm send {id} --stdin types any bytes)",
                e.utf8_error().valid_up_to()
            ),
            exit: 1,
        }
        .into()
    })
}

/// A SUBMIT to session `id` with a timeout of `ms` that its supervisor
/// did not answer in time (`overdue` says why).
fn unanswered(id: &str, ms: u64, overdue: &Overdue) -> Coded {
    Coded {
        code: match overdue {
            Overdue::Stopped(_) => "stopped",
            Overdue::Silent => "timeout",
        }
        .into(),
        message: format!(
            "session {id:?} gave no answer within the timeout ({ms} ms): {}; whether the line was typed is not known",
            overdue.why()
        ),
        exit: 1,
    }
}

/// A line too long for one SUBMIT (`len` says its length in bytes).
fn too_large(id: &str, len: &str) -> Coded {
    Coded {
        code: "too_large".into(),
        message: format!(
            "the line is {len} bytes: a SUBMIT carries it in one request of at most \
             1 MiB ({MAX_PAYLOAD} bytes, with its encoding); nothing was typed. \
             Type longer text with `hm send {id} --stdin`, then `hm send {id} --keys Enter`"
        ),
        exit: 1,
    }
}
