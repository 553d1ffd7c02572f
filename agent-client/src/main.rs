//! hm-agent: `hm-agent run "prompt"` (headless), `hm-agent` (interactive
//! REPL with history), `hm-agent list` (stored conversations).

// The options' doc comments are their --help texts, which name the
// configuration's tables in brackets (`[agent] model`), not links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use heimdall_agent::agent::{Agent, AgentEvent, TurnEnd};
use heimdall_agent::config::{self, AgentConfig, Loaded};
use heimdall_agent::provider::ProviderKind;
use heimdall_agent::scrub::scrub;
use heimdall_agent::setup::Parts;
use heimdall_agent::store::{self, Conversation};
use heimdall_agent::tools::sessions::SessionTools;
use heimdall_client::resolve_socket_dir;
use rustyline::error::ReadlineError;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// `eprintln!` that does not panic when the terminal is gone (EIO after a
/// hangup, EPIPE): the agent must still reach the end of `run` and end its
/// sessions.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that does not panic on a closed stdout (see [`note!`]).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[derive(Parser, Debug)]
#[command(
    name = "hm-agent",
    version,
    about = "An LLM agent whose hands are supervised heimdall sessions"
)]
struct Cli {
    /// Configuration file (default: ./heimdall.toml, then ~/.config/heimdall/heimdall.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Continue a stored conversation (ids: `hm-agent list`).
    #[arg(long, global = true, value_name = "ID")]
    resume: Option<String>,
    /// Print events as JSON lines on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Override [agent] provider: openai, anthropic or gemini.
    #[arg(long, global = true)]
    provider: Option<String>,
    /// Override [agent] model.
    #[arg(long, global = true)]
    model: Option<String>,
    /// Override [agent] base_url.
    #[arg(long, global = true)]
    base_url: Option<String>,
    /// Override [agent] work_dir.
    #[arg(long, global = true)]
    work_dir: Option<PathBuf>,
    /// Leave the sessions the agent started running when it exits.
    #[arg(long, global = true)]
    keep_sessions: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one prompt headless: the answer on stdout, tool calls on stderr.
    Run {
        /// The prompt (words are joined with spaces).
        #[arg(required = true, num_args = 1..)]
        prompt: Vec<String>,
    },
    /// List stored conversations.
    List,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hm-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            note!("hm-agent: {e:#}");
            ExitCode::FAILURE
        }
    };
    // The REPL's line editor may still block in its thread after a hangup.
    runtime.shutdown_background();
    code
}

/// SIGTERM or SIGHUP (the terminal closed): the running turn is cancelled,
/// the REPL leaves, and the agent's sessions are ended (or kept) as on a
/// normal exit. A SIGTERM after one ends the agent at once, wherever it
/// is (a cleanup waiting for a session that does not end, a turn slow to
/// cancel); a SIGHUP after one does not: a closing terminal may send two
/// (the kernel's to its foreground job, and its shell's to its jobs), and
/// a service manager may send one right after SIGTERM.
#[derive(Clone)]
struct Stop {
    token: CancellationToken,
    /// The signal that stopped the agent, once one has.
    by: Arc<OnceLock<(&'static str, u8)>>,
}

impl Stop {
    fn listen() -> Result<Stop> {
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
        let stop = Stop {
            token: CancellationToken::new(),
            by: Arc::new(OnceLock::new()),
        };
        let (token, by) = (stop.token.clone(), stop.by.clone());
        tokio::spawn(async move {
            loop {
                let signal = tokio::select! {
                    _ = term.recv() => ("SIGTERM", 15),
                    _ = hup.recv() => ("SIGHUP", 1),
                };
                if by.set(signal).is_err() && signal.0 == "SIGTERM" {
                    leave_now(signal);
                }
                token.cancel();
            }
        });
        Ok(stop)
    }

    /// The exit code of a process stopped by the signal (128 + its number).
    fn exit_code(&self) -> Option<ExitCode> {
        self.by.get().map(|(_, n)| ExitCode::from(128 + n))
    }

    fn name(&self) -> &'static str {
        self.by.get().map_or("a signal", |(name, _)| name)
    }
}

/// End the agent at once, told to by `signal` while it stops: the
/// sessions it was ending may still be ending (their supervisors end them).
fn leave_now((name, number): (&'static str, u8)) -> ! {
    note!(
        "hm-agent: {name} while stopping: leaving now (sessions being ended may still be ending)"
    );
    std::process::exit(128 + i32::from(number))
}

/// Run `cleanup` (ending the agent's sessions), unless Ctrl-C comes
/// meanwhile: the agent then leaves at once. Once a turn has listened for
/// Ctrl-C, SIGINT no longer ends the process by itself, and a cleanup
/// waiting for a session that ignores SIGTERM ignored every Ctrl-C.
async fn unless_ctrl_c<T>(cleanup: impl std::future::Future<Output = T>) -> T {
    tokio::select! {
        done = cleanup => done,
        Ok(()) = tokio::signal::ctrl_c() => leave_now(("SIGINT", 2)),
    }
}

fn load_config(cli: &Cli) -> Result<Loaded> {
    let mut loaded = config::load(cli.config.as_deref())?;
    let cfg = &mut loaded.agent;
    if let Some(p) = &cli.provider {
        cfg.provider = toml::Value::String(p.clone())
            .try_into::<ProviderKind>()
            .map_err(|_| anyhow::anyhow!("unknown provider {p:?}: openai, anthropic or gemini"))?;
    }
    if let Some(m) = &cli.model {
        cfg.model = Some(m.clone());
    }
    if let Some(u) = &cli.base_url {
        cfg.base_url = Some(u.clone());
    }
    if let Some(w) = &cli.work_dir {
        cfg.work_dir = w.clone();
    }
    Ok(loaded)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let stop = Stop::listen()?;
    let loaded = load_config(&cli)?;
    let cfg = &loaded.agent;
    if let Some(Command::List) = cli.command {
        for s in store::list(&cfg.data_path())? {
            say!(
                "{}  {}  {:>3} messages  {}  {}",
                s.id,
                s.created,
                s.messages,
                s.model,
                s.first_prompt
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (mut agent, sessions) = build_agent(&loaded, cli.resume.as_deref())?;
    let code = match cli.command {
        Some(Command::Run { prompt }) => {
            run_once(&mut agent, &prompt.join(" "), cli.json, &stop).await
        }
        _ => repl(&mut agent, &sessions, cfg, cli.json, &stop).await,
    };
    let ids = if cli.keep_sessions {
        sessions.owned_running().await
    } else {
        unless_ctrl_c(sessions.cleanup(Duration::from_secs(10))).await
    };
    if !ids.is_empty() {
        let what = if cli.keep_sessions {
            "kept running (hm attach ID)"
        } else {
            "ended"
        };
        if cli.json {
            print_json(&json!({"type": "sessions", "status": what, "ids": ids}));
        } else {
            note!("[sessions {what}: {}]", ids.join(", "));
        }
    }
    match stop.exit_code() {
        Some(by_signal) => Ok(by_signal),
        None => code,
    }
}

fn build_agent(loaded: &Loaded, resume: Option<&str>) -> Result<(Agent, SessionTools)> {
    let cfg = &loaded.agent;
    let settings = cfg.provider_settings();
    let socket_dir = resolve_socket_dir(None, &loaded.file);
    let parts = Parts::new(cfg, socket_dir, loaded.file.path.as_deref())?;
    let data = cfg.data_path();
    let (store, history) = match resume {
        Some(id) => {
            let resumed = Conversation::resume(&data, id)?;
            if let Some(torn) = resumed.torn {
                note!("hm-agent: conversation {id}: {torn}");
            }
            (resumed.conversation, resumed.messages)
        }
        None => (
            Conversation::create(&data, &format!("{:?}", settings.kind), &settings.model)?,
            Vec::new(),
        ),
    };
    let sessions = parts.sessions.clone();
    Ok((parts.into_agent(cfg, history, store), sessions))
}

/// Prints events: text verbatim on stdout, tool lines on stderr; or JSON
/// lines on stdout.
struct Printer {
    json: bool,
    /// Whether the text printed last left its line open (no line break
    /// at its end).
    open_line: AtomicBool,
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer {
            json,
            open_line: AtomicBool::new(false),
        }
    }

    /// End the line the text printed last left open, if it did.
    fn end_line(&self) {
        if self.open_line.swap(false, Ordering::Relaxed) {
            say!();
        }
    }

    fn event(&self, ev: AgentEvent) {
        if self.json {
            print_json(&serde_json::to_value(&ev).unwrap_or_default());
            return;
        }
        match ev {
            AgentEvent::Text { text } => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                self.open_line
                    .store(!text.ends_with('\n'), Ordering::Relaxed);
            }
            AgentEvent::ToolCall {
                name, arguments, ..
            } => {
                note!("→ {name} {arguments}");
            }
            AgentEvent::ToolResult {
                name,
                is_error,
                content,
                ..
            } => {
                let first = content.lines().next().unwrap_or("");
                let first: String = first.chars().take(100).collect();
                let mark = if is_error { "✗" } else { "←" };
                note!("{mark} {name}: {} chars: {first}", content.chars().count());
            }
        }
    }
}

fn print_json(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// One turn, printed as it happens; Ctrl-C (or a stopping signal) cancels it.
async fn turn(
    agent: &mut Agent,
    prompt: &str,
    printer: &Printer,
    stop: &Stop,
) -> Result<TurnEnd, heimdall_agent::agent::AgentError> {
    let cancel = stop.token.child_token();
    let token = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
    let outcome = agent
        .turn(prompt, &cancel, &mut |ev| printer.event(ev))
        .await;
    watcher.abort();
    outcome
}

async fn run_once(agent: &mut Agent, prompt: &str, json: bool, stop: &Stop) -> Result<ExitCode> {
    let printer = Printer::new(json);
    let outcome = turn(agent, prompt, &printer, stop).await;
    let usage = agent.usage();
    let id = agent.conversation_id().unwrap_or_default().to_string();
    let (code, status, error) = match &outcome {
        Ok(TurnEnd::Answer(_)) => (ExitCode::SUCCESS, "answered", None),
        Ok(TurnEnd::IterationLimit(n)) => (
            ExitCode::from(2),
            "iteration_limit",
            Some(format!("stopped after {n} model requests (max_iterations)")),
        ),
        Ok(TurnEnd::Cancelled) if stop.token.is_cancelled() => (
            stop.exit_code().unwrap_or(ExitCode::from(130)),
            "stopped",
            Some(format!("stopped by {}", stop.name())),
        ),
        Ok(TurnEnd::Cancelled) => (ExitCode::from(130), "cancelled", None),
        Err(e) => (ExitCode::FAILURE, "error", Some(e.to_string())),
    };
    if json {
        print_json(&json!({
            "type": "done",
            "status": status,
            "error": error,
            "conversation": id,
            "usage": usage,
        }));
    } else {
        // Whatever ended the turn, the text printed ends its line: an
        // error below, or the shell's prompt, starts on its own.
        printer.end_line();
        if let Some(e) = &error {
            note!("hm-agent: {e}");
        }
        note!(
            "[conversation {id}; tokens in {} out {}]",
            usage.input_tokens,
            usage.output_tokens
        );
    }
    Ok(code)
}

async fn repl(
    agent: &mut Agent,
    sessions: &SessionTools,
    cfg: &AgentConfig,
    json: bool,
    stop: &Stop,
) -> Result<ExitCode> {
    let printer = Printer::new(json);
    let history = cfg.data_path().join("history");
    let mut editor = rustyline::DefaultEditor::new().context("line editor")?;
    let _ = editor.load_history(&history);
    note!(
        "hm-agent {} — conversation {}; Ctrl-C cancels a turn, Ctrl-D or /quit leaves, /usage shows tokens, /sessions the agent's sessions",
        env!("CARGO_PKG_VERSION"),
        agent.conversation_id().unwrap_or_default()
    );
    loop {
        let reading = tokio::task::spawn_blocking(move || {
            let line = editor.readline("you> ");
            (editor, line)
        });
        // A hangup while the editor waits for a line: leave without it (the
        // history is saved after each line).
        let (returned, line) = tokio::select! {
            read = reading => read.context("line editor task")?,
            _ = stop.token.cancelled() => break,
        };
        editor = returned;
        let line = match line {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading a line"),
        };
        let prompt = line.trim();
        if prompt.is_empty() {
            continue;
        }
        // The history file is a log too: no secret goes into it.
        let _ = editor.add_history_entry(scrub(prompt).as_ref());
        save_history(&mut editor, &history);
        match prompt {
            "/quit" | "/exit" => break,
            "/sessions" => {
                let ids = sessions.owned_running().await;
                note!("sessions started here and running: {}", ids.join(", "));
                continue;
            }
            "/usage" => {
                let u = agent.usage();
                note!("tokens in {} out {}", u.input_tokens, u.output_tokens);
                continue;
            }
            _ => {}
        }
        match turn(agent, prompt, &printer, stop).await {
            Ok(TurnEnd::Answer(_)) => say!(),
            Ok(TurnEnd::IterationLimit(n)) => {
                note!("\n[stopped after {n} model requests (max_iterations)]")
            }
            Ok(TurnEnd::Cancelled) if stop.token.is_cancelled() => {
                note!("\n[stopped by {}]", stop.name());
                break;
            }
            Ok(TurnEnd::Cancelled) => note!("\n[cancelled]"),
            Err(e) => note!("\nhm-agent: {e}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the REPL's history file (its directory made if need be).
fn save_history(editor: &mut rustyline::DefaultEditor, history: &Path) {
    if let Some(parent) = history.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = editor.save_history(history);
}
