//! What the subcommands share: finding sessions, connecting, formatting.

use std::time::Duration;

use anyhow::{anyhow, Context};
use heimdall_client::{ClientError, ErrorCode};

use super::unreachable::{SocketGone, Stopped};
use crate::config::Config;
use crate::exit_record::ExitRecord;
use crate::paths::{PathError, SessionPaths, SocketDir};

/// How long a query waits for a supervisor to answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// An error chain as one line: `what failed: why: root cause`. A cause
/// whose text the message before it already shows (errors that print
/// their `source`, such as "cannot read config F: No such file…") is not
/// repeated.
pub fn describe(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// A single-threaded runtime for a client command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A session as found on disk.
pub enum Found {
    /// A supervisor holds it.
    Live(SessionPaths),
    /// It ended; its exit record remains.
    Exited(ExitRecord),
}

/// Ids of live sessions in `dir`.
pub fn live_ids(dir: &SocketDir) -> Vec<String> {
    dir.ids()
        .into_iter()
        .filter(|id| dir.session(id).map(|p| p.is_live()).unwrap_or(false))
        .collect()
}

/// A session id that names no session. Printed as heimdall 1.0 does,
/// `No session found: ID` (scripts match on it), then what we know on the
/// next line.
#[derive(Debug, thiserror::Error)]
#[error("No session found: {id}\n{detail}")]
pub struct NoSession {
    /// The id asked for.
    pub id: String,
    /// Where we looked and what exists.
    pub detail: String,
}

/// The error for a session that does not exist, listing what does.
pub fn no_such(dir: &SocketDir, id: &str) -> anyhow::Error {
    let live = live_ids(dir);
    let what = if live.is_empty() {
        "no session is running".to_string()
    } else {
        format!("running: {}", live.join(", "))
    };
    NoSession {
        id: id.to_string(),
        detail: format!("(in {}; {what})", dir.path().display()),
    }
    .into()
}

/// A failure with a stable error code (what `--json` prints as `error`)
/// and the exit code to end with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    /// The stable error code (`already_running`, `exited`, …).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The exit code.
    pub exit: i32,
}

/// The exit code an error calls for: a [`Coded`] error's own, else 1.
pub fn coded_exit(e: &anyhow::Error) -> i32 {
    e.chain()
        .find_map(|c| c.downcast_ref::<Coded>())
        .map_or(1, |c| c.exit)
}

/// The stable code of an error, for `--json` (the list is in the README).
pub fn error_code(e: &anyhow::Error) -> String {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code.clone();
        }
        if cause.downcast_ref::<NoSession>().is_some() {
            return "no_session".into();
        }
        if cause.downcast_ref::<SocketGone>().is_some() {
            return "socket_gone".into();
        }
        if cause.downcast_ref::<Stopped>().is_some() {
            return "stopped".into();
        }
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return match c {
                ClientError::Connect { .. } | ClientError::Io(_) => "unreachable",
                ClientError::NotOwner { .. } => "not_owner",
                ClientError::UnsafeDir(_) => "socket_dir",
                ClientError::BadMode(_) | ClientError::Protocol(_) => "protocol",
                ClientError::Server { code, .. } => code.name(),
                ClientError::SessionEnded { .. } => "session_ended",
                ClientError::ConnectionClosed => "connection_closed",
                ClientError::Timeout(_) => "timeout",
                ClientError::Stopped { .. } => "stopped",
                ClientError::SocketGone { .. } => "socket_gone",
                ClientError::Unsupported(_) => "unsupported",
                ClientError::AlreadyStreaming(_) | ClientError::InvalidSize { .. } => "failed",
                ClientError::TooLarge { .. } => "too_large",
            }
            .into();
        }
        if cause
            .downcast_ref::<heimdall_client::ConfigError>()
            .is_some()
        {
            return "config".into();
        }
        if let Some(p) = cause.downcast_ref::<PathError>() {
            return match p {
                PathError::AlreadyRunning { .. } => "already_running",
                PathError::InvalidId(_) => "invalid_id",
                _ => "socket_dir",
            }
            .into();
        }
    }
    "failed".into()
}

/// Open the socket directory of `cfg` for a query.
pub fn socket_dir(cfg: &Config) -> anyhow::Result<SocketDir> {
    Ok(SocketDir::open(&cfg.socket_dir)?)
}

/// Find session `id`. An exit record means the session has ended, even
/// while its supervisor still finishes (sends the last output, ends the
/// rest of the tree): from then on the record is the answer.
pub fn find(dir: &SocketDir, id: &str) -> anyhow::Result<Found> {
    let paths = dir.session(id)?;
    match ExitRecord::read(&paths.exit) {
        Ok(rec) => Ok(Found::Exited(rec)),
        Err(_) if paths.is_live() => Ok(Found::Live(paths)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(no_such(dir, id)),
        Err(e) => Err(anyhow!("cannot read {}: {e}", paths.exit.display())),
    }
}

/// The exit record of a session whose connection ended without its EXIT,
/// waited for a little (a session that exits at once may close before its
/// EXIT is read); `None`: the connection was lost while the session ran
/// (its supervisor was killed, say), also when its guardian has left a
/// record of that ([`ExitRecord::told_by_supervisor`]): whether that
/// record is there yet is a race.
pub fn exit_recorded(paths: &SessionPaths) -> Option<ExitRecord> {
    paths
        .exit_record_within(Duration::from_secs(2))?
        .told_by_supervisor()
}

/// The error of a stream (`hm tail -f`, `hm events`) that ended without
/// the session's end: its connection was lost (`connection_closed` in
/// `--json`).
pub fn connection_lost(paths: &SessionPaths) -> anyhow::Error {
    anyhow::Error::new(ClientError::ConnectionClosed).context(format!(
        "lost the connection to session {:?} before it ended (its supervisor went away?)",
        paths.id
    ))
}

/// How often [`ask_session`] looks again at a session that is starting or ending.
const RETRY: Duration = Duration::from_millis(20);

/// Whether `e` comes from a supervisor that is not listening (yet or any
/// more) or that closed the connection.
fn dropped(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind;
    e.chain().any(|c| match c.downcast_ref::<ClientError>() {
        Some(ClientError::Connect { source, .. }) => matches!(
            source.kind(),
            ErrorKind::ConnectionRefused | ErrorKind::NotFound | ErrorKind::ConnectionReset
        ),
        Some(ClientError::ConnectionClosed | ClientError::Io(_)) => true,
        _ => false,
    })
}

/// Whether `e` comes from a supervisor that is starting or ending: not
/// listening yet or any more, closing connections, or done with its child.
fn transient(e: &anyhow::Error) -> bool {
    dropped(e)
        || e.chain().any(|c| match c.downcast_ref::<ClientError>() {
            Some(ClientError::SessionEnded { .. }) => true,
            Some(ClientError::Server { code, .. }) => *code == ErrorCode::Dead,
            _ => false,
        })
}

/// For `e`, the error of a command acting on the live session of `paths`
/// (`hm send`, `hm kill`, …): the [`exited`] error when the session ended
/// meanwhile, its supervisor, done with its program, refusing or dropping
/// the connection; `None` when `e` is something else.
pub fn exited_meanwhile(paths: &SessionPaths, e: &anyhow::Error) -> Option<anyhow::Error> {
    if !dropped(e) {
        return None;
    }
    let rec = paths.exit_record_within(Duration::from_secs(2))?;
    Some(exited(&paths.id, &rec))
}

/// Answer a query about session `id` at any moment: `ask` the live
/// supervisor, or answer from the exit record with `ended` once the session
/// has ended. A supervisor that is starting or ending may refuse or drop the
/// connection for a moment: then look again until the exit record appears
/// or the supervisor answers (for at most [`ANSWER_TIMEOUT`]).
pub fn ask_session<T>(
    cfg: &Config,
    id: &str,
    mut ask: impl FnMut(&SessionPaths) -> anyhow::Result<T>,
    ended: impl FnOnce(ExitRecord) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let deadline = std::time::Instant::now() + ANSWER_TIMEOUT;
    loop {
        let paths = match find_session(cfg, id)? {
            Found::Exited(rec) => return ended(rec),
            Found::Live(p) => p,
        };
        match ask(&paths) {
            Err(e) if transient(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(RETRY)
            }
            answer => return answer,
        }
    }
}

/// Where a command that follows a session (`hm tail`, `hm events`) starts.
pub enum Follow<S> {
    /// The session runs: the stream `S` from the supervisor of these files.
    Live(SessionPaths, S),
    /// It has ended: its exit record.
    Ended(ExitRecord),
}

/// Open the stream of session `id` with `subscribe` on `rt`, or find that
/// it has ended; a supervisor that is ending and drops the connection
/// while it is opened is asked again, then its exit record read, as
/// [`ask_session`] does.
pub fn follow<S, F>(
    cfg: &Config,
    id: &str,
    rt: &tokio::runtime::Runtime,
    subscribe: impl Fn(SessionPaths) -> F,
) -> anyhow::Result<Follow<S>>
where
    F: std::future::Future<Output = anyhow::Result<S>>,
{
    ask_session(
        cfg,
        id,
        |paths| {
            Ok(Follow::Live(
                paths.clone(),
                rt.block_on(subscribe(paths.clone()))?,
            ))
        },
        |rec| Ok(Follow::Ended(rec)),
    )
}

/// Find session `id` in the socket directory of `cfg`; a directory that does
/// not exist yet holds no session.
pub fn find_session(cfg: &Config, id: &str) -> anyhow::Result<Found> {
    match SocketDir::open(&cfg.socket_dir) {
        Ok(dir) => find(&dir, id),
        Err(e @ PathError::NoSocketDir(_)) => Err(NoSession {
            id: id.to_string(),
            detail: format!("({e})"),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// Find a session that must be running.
fn find_live(cfg: &Config, id: &str) -> anyhow::Result<SessionPaths> {
    match find_session(cfg, id)? {
        Found::Live(p) => Ok(p),
        Found::Exited(rec) => Err(exited(id, &rec)),
    }
}

/// `e`, the error of a command acting on the live session of `paths`, or
/// the [`exited`] error when the session ended meanwhile
/// ([`exited_meanwhile`]).
pub fn or_exited(paths: &SessionPaths, e: anyhow::Error) -> anyhow::Error {
    exited_meanwhile(paths, &e).unwrap_or(e)
}

/// The error of a command that needs session `id` running when it has
/// ended as `rec` says (`exited`, exit 1).
fn exited(id: &str, rec: &ExitRecord) -> anyhow::Error {
    Coded {
        code: "exited".into(),
        message: format!(
            "session {id:?} has exited ({}); `hm status {id}` shows how it ended",
            exit_phrase(rec)
        ),
        exit: 1,
    }
    .into()
}

/// "code 0" / "killed by signal 15 (code 143)".
pub fn exit_phrase(rec: &ExitRecord) -> String {
    let phrase = match rec.signal {
        Some(sig) => format!("killed by signal {sig}, code {}", rec.code),
        None => format!("code {}", rec.code),
    };
    if rec.supervisor_died {
        format!("{phrase}; its supervisor died")
    } else {
        phrase
    }
}

/// The configuration and the files of live session `id`.
pub fn live_session(common: &super::Common, id: &str) -> anyhow::Result<(Config, SessionPaths)> {
    let cfg = common.load()?;
    let paths = find_live(&cfg, id)?;
    Ok((cfg, paths))
}

/// Connect to a live session through the client library; a heimdall 1.0
/// supervisor is recognised at once (its `hello()` is `None`), and one whose
/// socket is gone or that is stopped is said to be ([`SocketGone`],
/// [`Stopped`]), the latter without waiting. Every call
/// on the client has [`ANSWER_TIMEOUT`] as its deadline unless it says
/// otherwise.
pub async fn open(paths: &SessionPaths, client: &str) -> anyhow::Result<heimdall_client::Client> {
    connect(paths, heimdall_client::ClientBuilder::new().name(client)).await
}

/// [`open`] with the client built from `builder` (its name, stream bounds).
pub async fn connect(
    paths: &SessionPaths,
    builder: heimdall_client::ClientBuilder,
) -> anyhow::Result<heimdall_client::Client> {
    builder
        .deadline(ANSWER_TIMEOUT)
        .session_files(paths.clone())
        .connect(&paths.sock)
        .await
        .with_context(|| format!("session {:?}", paths.id))
        .map_err(|e| super::unreachable::connect_error(paths, e))
}

/// A call's answer, its error naming the session; a supervisor found
/// stopped when the call went unanswered is [`Stopped`], as when
/// connecting.
pub async fn answer<T>(
    paths: &SessionPaths,
    fut: impl std::future::Future<Output = Result<T, ClientError>>,
) -> anyhow::Result<T> {
    fut.await.map_err(|e| match e {
        ClientError::Stopped { pid } => Stopped {
            id: paths.id.clone(),
            pid,
        }
        .into(),
        e => anyhow::Error::new(e).context(format!("session {:?}", paths.id)),
    })
}

/// A short human duration: `850ms`, `12s`, `3m12s`, `2h05m`, `3d04h`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// Time since an RFC 3339 timestamp, if it parses.
pub fn since_rfc3339(ts: &str) -> Option<Duration> {
    let t = humantime::parse_rfc3339(ts).ok()?;
    std::time::SystemTime::now().duration_since(t).ok()
}

/// Print one JSON document (an error when stdout is closed).
pub fn print_json(v: &serde_json::Value) -> std::io::Result<()> {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into())
    );
    Ok(())
}

/// A command line for display, each argument shell-quoted as needed: one
/// with control characters as `$'...'` with them escaped (`\e`, `\n`,
/// `\a`, `\x01`), so a terminal shows them instead of obeying them.
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.contains(char::is_control) {
                format!(
                    "$'{}'",
                    escape_controls(&a.replace('\\', "\\\\").replace('\'', "\\'"))
                )
            } else if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$\\`".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a terminal with its control characters written as escapes
/// (`\e`, `\n`, `\t`, `\r`, `\a`, `\x7f`, `\u0085`): a path or a title from
/// a program must not move the cursor or retitle the window.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            c if c.is_control() && u32::from(c) < 0x80 => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}
