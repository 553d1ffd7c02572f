//! `hm report STATE`: a program inside a session reports its own state
//! (waiting, with the question and its answers; active; idle). The session
//! is the one in `HEIMDALL_SESSION_ID`, which every child has. A report wins
//! over the screen rules until the screen changes or the next report;
//! docs/states.md shows Claude Code hooks that call it.

use clap::Args;
use heimdall_client::{ReportRequest, State, WaitingKind, WaitingOption};

use super::common::{answer, live_session, open, or_exited, runtime, Coded};
use super::Common;

/// Arguments of `hm report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// waiting, active or idle
    #[arg(value_parser = ["waiting", "active", "idle"])]
    pub state: String,
    /// Session id (inside a session, `HEIMDALL_SESSION_ID` — or the
    /// configured `session_env_var` — gives it)
    #[arg(long, env = "HEIMDALL_SESSION_ID")]
    pub id: Option<String>,
    /// Only with waiting: the question
    #[arg(long)]
    pub prompt: Option<String>,
    /// Only with waiting: shell, yes_no, menu, text, password, pager, confirm
    /// [default: menu with options, else text]
    #[arg(long)]
    pub kind: Option<String>,
    /// Only with waiting: an answer, LABEL=KEYS (KEYS with \r, \n, \t, \e escapes;
    /// repeat for each answer)
    #[arg(long = "option", value_name = "LABEL=KEYS")]
    pub options: Vec<String>,
}

/// `\r`, `\n`, `\t`, `\e` and `\\` in `s` replaced by the characters.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('e') => out.push('\x1b'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A usage error for an option that only a `waiting` report carries,
/// given with another state (which would drop it), naming both.
fn waiting_only(args: &ReportArgs, state: State) -> Result<(), Coded> {
    if state == State::Waiting {
        return Ok(());
    }
    let given = [
        ("--prompt", args.prompt.is_some()),
        ("--kind", args.kind.is_some()),
        ("--option", !args.options.is_empty()),
    ];
    match given.into_iter().find(|(_, given)| *given) {
        None => Ok(()),
        Some((name, _)) => Err(Coded {
            code: "usage".into(),
            message: format!(
                "the argument '{name}' cannot be used with '{}': only a waiting report \
                 carries --prompt, --kind and --option",
                args.state
            ),
            exit: 2,
        }),
    }
}

/// `hm report`.
pub fn run(common: &Common, args: ReportArgs) -> anyhow::Result<i32> {
    let state: State = args.state.parse()?;
    waiting_only(&args, state)?;
    let kind = match &args.kind {
        Some(k) => Some(
            serde_json::from_value::<WaitingKind>(serde_json::json!(k))
                .map_err(|_| anyhow::anyhow!("unknown kind {k:?} (expected shell, yes_no, menu, text, password, pager or confirm)"))?,
        ),
        None => None,
    };
    let options = args
        .options
        .iter()
        .map(|o| {
            let (label, keys) = o
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--option {o:?}: expected LABEL=KEYS"))?;
            Ok(WaitingOption {
                label: label.to_string(),
                keys: vec![unescape(keys)],
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let id = match args.id {
        Some(id) => id,
        // A session names itself in the variable the configuration says
        // (`session_env_var`); clap has looked at the default one.
        None => {
            let var = common.load()?.session_env_var;
            std::env::var(&var).map_err(|_| Coded {
                code: "usage".into(),
                message: format!(
                    "which session? give --id ID, or run hm report inside a session \
                     (its {var} names it)"
                ),
                exit: 2,
            })?
        }
    };
    let (_, paths) = live_session(common, &id)?;
    runtime()?
        .block_on(async {
            let c = open(&paths, "hm report").await?;
            let req = ReportRequest {
                id: None,
                state,
                prompt: args.prompt.unwrap_or_default(),
                kind,
                options,
            };
            answer(&paths, c.report(req)).await?;
            Ok(0)
        })
        .map_err(|e| or_exited(&paths, e))
}
