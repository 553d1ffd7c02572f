//! The `hm` command line: argument definitions and dispatch. One module per
//! subcommand; [`common`] holds what they share.

/// `println!` for the subcommands' output: a write error (stdout is a
/// closed pipe, `hm ls | head -1`) is returned with `?` from the enclosing
/// function instead of panicking, and [`main`] exits quietly on it.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

mod attach;
mod bounded;
mod clean;
mod common;
mod docs;
mod events;
mod explain;
mod kill;
mod ls;
mod proxy;
mod report;
mod run;
mod screen;
mod send;
mod session_json;
mod signal;
mod start;
mod status;
mod stdout_gone;
mod submit;
mod tail;
mod unreachable;
mod wait;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// Supervise programs in pseudo-terminals; watch and drive them from
/// terminals, scripts and agents.
#[derive(Debug, Parser)]
#[command(
    name = "hm",
    version,
    propagate_version = true,
    after_long_help = "Each subcommand has a manual page of its own, hm-SUBCOMMAND(1): \
        `hm man SUBCOMMAND` prints one, `hm man --dir DIR` writes them all."
)]
pub struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Directory of session sockets [env: HEIMDALL_SOCKET_DIR]
    /// [default: ~/.local/share/heimdall/sessions]
    #[arg(long, global = true, value_name = "DIR")]
    pub socket_dir: Option<PathBuf>,
    /// Configuration file [default: ./heimdall.toml, then
    /// ~/.config/heimdall/heimdall.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Common {
    /// Load the configuration waterfall and apply `--socket-dir`.
    pub fn load(&self) -> anyhow::Result<Config> {
        Ok(Config::load(
            self.config.as_deref(),
            self.socket_dir.as_deref(),
        )?)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command in a new session and attach to it. With --detach: a
    /// headless supervisor in the foreground that exits with the child's
    /// code (heimdall 1.0).
    Run(run::RunArgs),
    /// Start a command in a new background session; prints its id once ready.
    Start(start::StartArgs),
    /// Attach this terminal to a session (detach with the detach key, Ctrl-\ by default).
    Attach(attach::AttachArgs),
    /// Show one session's status (also after it exited).
    Status(status::StatusArgs),
    /// List the running sessions (--all: the exited ones too; --watch: then every change).
    Ls(ls::LsArgs),
    /// Kill sessions' whole process trees (SIGTERM, then SIGKILL); several ids at once
    Kill(kill::KillArgs),
    /// Remove exit records, orphaned logs and stale files (dry run unless --force).
    Clean(clean::CleanArgs),
    /// Print the rendered screen (the final screen after the session ended).
    Screen(screen::ScreenArgs),
    /// Type text, or named keys with --keys, into a session.
    Send(send::SendArgs),
    /// Submit a line (bracketed paste when wanted, then Enter) and confirm it was taken.
    Submit(submit::SubmitArgs),
    /// Print the raw output: scrollback or from an offset; -f follows.
    Tail(tail::TailArgs),
    /// Wait for idle, a regex, a state or the exit (124 on timeout).
    Wait(wait::WaitArgs),
    /// Send a signal to the session's foreground job (as Ctrl-C does), or its process group.
    Signal(signal::SignalArgs),
    /// Stream the session's events as JSON lines.
    Events(events::EventsArgs),
    /// Relay stdin/stdout to a session's socket (`ssh host hm proxy ID` reaches another machine).
    Proxy(proxy::ProxyArgs),
    /// Show the state, what decided it, the lines looked at and, when waiting, the options.
    Explain(explain::ExplainArgs),
    /// From inside a session: report the program's own state (waiting, active, idle).
    Report(report::ReportArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff): hm man > hm.1; hm man SUBCOMMAND; hm man --dir DIR writes every page
    Man(docs::ManArgs),
}

/// Flags shared by `hm run` and `hm start` (heimdall 1.0's supervisor
/// flags), and the command itself.
#[derive(Debug, Clone, Args)]
pub struct SessionFlags {
    /// Session id (generated when not given)
    #[arg(long)]
    pub id: Option<String>,
    /// Working directory of the command
    #[arg(long, visible_alias = "cwd", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Terminal columns (1 to 1000)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=heimdall_protocol::message::MAX_COLS as i64))]
    pub cols: Option<u16>,
    /// Terminal rows (1 to 500)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=heimdall_protocol::message::MAX_ROWS as i64))]
    pub rows: Option<u16>,
    /// Supervisor log file [default: SOCKET_DIR/ID.log; also stderr with --detach]
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Log level
    #[arg(long, value_name = "LEVEL", value_parser = crate::config::LOG_LEVELS)]
    pub log_level: Option<String>,
    /// Log filter (tracing directives); overrides --log-level, as in
    /// heimdall 1.0
    #[arg(
        long,
        value_name = "FILTER",
        value_parser = crate::config::check_log_filter
    )]
    pub log_filter: Option<String>,
    /// Scrollback bytes kept for replay
    #[arg(long, value_name = "BYTES")]
    pub scrollback_bytes: Option<usize>,
    /// State classifier
    #[arg(long, value_parser = ["simple", "claude", "none"])]
    pub classifier: Option<String>,
    /// Silence after which the session is idle (not with the none
    /// classifier: always idle)
    #[arg(long, value_name = "MS")]
    pub idle_threshold_ms: Option<u64>,
    /// How long a new busy state must hold before it is reported (only
    /// the claude classifier debounces)
    #[arg(long, value_name = "MS")]
    pub debounce_ms: Option<u64>,
    /// Send signals to the whole process group
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub kill_process_group: Option<bool>,
    /// Environment variable that carries the session id
    #[arg(long, value_name = "NAME")]
    pub session_env_var: Option<String>,
    /// Grace between SIGTERM and SIGKILL when killing
    #[arg(long, value_name = "MS")]
    pub kill_grace_ms: Option<u64>,
    /// Keep a live screen model (for hm screen, submit, screen waits, redraws)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub screen_model: Option<bool>,
    /// Lines scrolled off the top that the screen model keeps (not with
    /// the screen model off)
    #[arg(long, value_name = "LINES")]
    pub screen_scrollback_lines: Option<usize>,
    /// How long to poll for the reaction to input instead of sleeping (0: off)
    #[arg(long, value_name = "MICROSECONDS", value_parser = |v: &str| -> Result<u64, String> {
        crate::config::echo_poll_in_range(v.parse().map_err(|e| format!("{e}"))?)
    })]
    pub echo_poll_us: Option<u64>,
    /// Set a variable in the command's environment (repeatable; after the
    /// config's [[env]])
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = crate::config::EnvVar::parse)]
    pub env: Vec<crate::config::EnvVar>,
    /// The command to run and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<std::ffi::OsString>,
}

impl SessionFlags {
    /// Apply the flags over the configuration.
    pub fn apply(&self, cfg: &mut Config) -> anyhow::Result<()> {
        if let Some(v) = self.cols {
            cfg.cols = v;
        }
        if let Some(v) = self.rows {
            cfg.rows = v;
        }
        if let Some(v) = &self.log_file {
            cfg.log_file = Some(std::path::absolute(v)?);
        }
        if let Some(v) = &self.log_level {
            // The command line's level beats the file's filter too.
            cfg.log_level = v.clone();
            cfg.log_filter = None;
        }
        // After the level: with both flags, the filter rules (heimdall 1.0).
        if let Some(v) = &self.log_filter {
            cfg.log_filter = Some(v.clone());
        }
        if let Some(v) = self.scrollback_bytes {
            cfg.scrollback_bytes = v;
        }
        if let Some(v) = &self.classifier {
            cfg.classifier =
                crate::classify::ClassifierKind::from_name(v).map_err(anyhow::Error::msg)?;
        }
        if let Some(v) = self.idle_threshold_ms {
            cfg.classifier_params.idle_threshold_ms = v;
        }
        if let Some(v) = self.debounce_ms {
            cfg.classifier_params.debounce_ms = v;
        }
        if let Some(v) = self.kill_process_group {
            cfg.kill_process_group = v;
        }
        if let Some(v) = &self.session_env_var {
            if v.is_empty() || v.contains('=') {
                anyhow::bail!("--session-env-var {v:?} is not a valid variable name");
            }
            cfg.session_env_var = v.clone();
        }
        if let Some(v) = self.kill_grace_ms {
            cfg.kill_grace_ms = v;
        }
        if let Some(v) = self.screen_model {
            cfg.screen_model = v;
        }
        if let Some(v) = self.screen_scrollback_lines {
            cfg.screen_scrollback_lines = v;
        }
        if let Some(v) = self.echo_poll_us {
            cfg.echo_poll_us = v;
        }
        cfg.env.extend(self.env.iter().cloned());
        Ok(self.refuse_unused(cfg)?)
    }

    /// A usage error, naming both, for a flag that the session's settings
    /// (these flags over the configuration) would leave without effect.
    fn refuse_unused(&self, cfg: &Config) -> Result<(), common::Coded> {
        let params = [
            (
                "--idle-threshold-ms",
                "idle_threshold_ms",
                self.idle_threshold_ms,
            ),
            ("--debounce-ms", "debounce_ms", self.debounce_ms),
        ];
        let unused = params
            .iter()
            .find(|(_, param, v)| v.is_some() && !cfg.classifier.params().contains(param))
            .map(|(flag, ..)| {
                (
                    *flag,
                    format!(
                        "classifier '{}' (--classifier, or classifier in the config): it takes {}",
                        cfg.classifier.name(),
                        cfg.classifier.expected_params()
                    ),
                )
            })
            .or_else(|| {
                (self.screen_scrollback_lines.is_some() && !cfg.screen_model).then(|| {
                    (
                        "--screen-scrollback-lines",
                        "the screen model off (--screen-model=false, or screen_model = false in \
                         the config): no screen model, no scrollback"
                            .to_string(),
                    )
                })
            });
        match unused {
            None => Ok(()),
            Some((flag, other)) => Err(common::Coded {
                code: "usage".into(),
                message: format!("the argument '{flag}' cannot be used with {other}"),
                exit: 2,
            }),
        }
    }
}

impl Command {
    /// Whether the command was asked for JSON output (its errors are then
    /// JSON too).
    fn json(&self) -> bool {
        match self {
            Command::Start(a) => a.json,
            Command::Status(a) => a.json,
            Command::Ls(a) => a.json,
            Command::Kill(a) => a.json,
            Command::Clean(a) => a.json,
            Command::Screen(a) => a.json,
            Command::Submit(a) => a.json,
            Command::Wait(a) => a.json,
            Command::Signal(a) => a.json,
            Command::Explain(a) => a.json,
            // A stream of JSON lines: its error is one more line.
            Command::Events(_) => true,
            _ => false,
        }
    }
}

/// Whether `--json` is among the options (before a `--`): for usage errors,
/// which come before the command line is understood.
fn json_in_args() -> bool {
    // Any argument may be bytes that are not UTF-8 (clap says so).
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// What clap says of command line error `e`; for an argument that is not
/// UTF-8 (clap: "invalid UTF-8 was detected in one or more arguments"),
/// which one it is, its bad bytes as `\xNN`, and where any bytes go.
fn usage_text(e: &clap::Error) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let text = e.to_string();
    if e.kind() != clap::error::ErrorKind::InvalidUtf8 {
        return text;
    }
    let Some(bad) = std::env::args_os().skip(1).find(|a| a.to_str().is_none()) else {
        return text;
    };
    let mut shown = String::new();
    for chunk in bad.as_bytes().utf8_chunks() {
        shown.extend(chunk.valid().escape_debug());
        for b in chunk.invalid() {
            shown.push_str(&format!("\\x{b:02x}"));
        }
    }
    text.replacen(
        "invalid UTF-8 was detected in one or more arguments",
        &format!(
            "the argument \"{shown}\" is not UTF-8, and this one takes text \
             (the command after `--` of hm start and hm run, and hm send --stdin, take any bytes)"
        ),
        1,
    )
}

/// Print an error the way `--json` asks: one JSON object on stdout,
/// `{"ok": false, "error": CODE, "message": TEXT}`. When stdout takes no
/// more (a full disk) the message goes to stderr instead, so the failure is
/// not silent; a closed pipe stays quiet.
fn print_json_error(code: &str, message: &str) {
    use std::io::Write as _;
    let v = serde_json::json!({"ok": false, "error": code, "message": message});
    match writeln!(std::io::stdout(), "{v}").and_then(|()| std::io::stdout().flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => say(&format!("hm: {message}")),
        _ => {}
    }
}

/// Parse the command line and run it; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && json_in_args() => {
            // The error's first paragraph, on one line: it may go on in
            // indented lines (the missing arguments, the subcommands).
            let text = usage_text(&e);
            let message = text
                .lines()
                .map(str::trim)
                .skip_while(|l| l.is_empty())
                .take_while(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            print_json_error("usage", message.trim_start_matches("error: "));
            return e.exit_code();
        }
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "{}", usage_text(&e));
            return e.exit_code();
        }
        Err(e) => e.exit(),
    };
    let json = cli.command.json();
    let result = match cli.command {
        Command::Run(a) => run::run(&cli.common, a),
        Command::Start(a) => start::run(&cli.common, a),
        Command::Attach(a) => attach::run(&cli.common, a),
        Command::Status(a) => status::run(&cli.common, a),
        Command::Ls(a) => ls::run(&cli.common, a),
        Command::Kill(a) => kill::run(&cli.common, a),
        Command::Clean(a) => clean::run(&cli.common, a),
        Command::Screen(a) => screen::run(&cli.common, a),
        Command::Send(a) => send::run(&cli.common, a),
        Command::Submit(a) => submit::run(&cli.common, a),
        Command::Tail(a) => tail::run(&cli.common, a),
        Command::Wait(a) => wait::run(&cli.common, a),
        Command::Signal(a) => signal::run(&cli.common, a),
        Command::Events(a) => events::run(&cli.common, a),
        Command::Proxy(a) => proxy::run(&cli.common, a),
        Command::Explain(a) => explain::run(&cli.common, a),
        Command::Report(a) => report::run(&cli.common, a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e, json),
    }
}

/// Say what went wrong as `main` does (`--json`: one JSON object on
/// stdout; heimdall 1.0's text for an unknown session; `hm: ...` on stderr
/// otherwise) and return the exit code it calls for. A closed stdout
/// (`hm man | head`) is not worth a message: 0.
fn report_error(e: &anyhow::Error, json: bool) -> i32 {
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return 0;
    }
    let exit = common::coded_exit(e);
    if json {
        print_json_error(
            &common::error_code(e),
            &common::describe(e).replace('\n', " "),
        );
    } else if e.downcast_ref::<common::NoSession>().is_some() {
        // heimdall 1.0's exact text, without our prefix.
        say(&e.to_string());
    } else {
        say(&format!("hm: {}", common::describe(e)));
    }
    exit
}

/// A line on stderr, if it takes it: a terminal that hung up (`hm attach`
/// whose window closed) or a full disk must not turn an error or a note
/// into a panic (exit 101 instead of the error's or the program's code).
pub(crate) fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}
