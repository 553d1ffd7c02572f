//! `hm send ID TEXT…`: type text (or, with `--keys`, named keys; with
//! `--stdin`, what comes on stdin) into a session.

use std::io::Read as _;

use anyhow::Context as _;
use clap::Args;
use heimdall_client::{Client, ClientBuilder, ClientError, ScreenRequest};
use heimdall_protocol::keys::{keys_to_bytes, UnknownKey};
use tokio::sync::mpsc;

use super::common::{answer, live_session, open, or_exited, runtime, ANSWER_TIMEOUT};
use super::Common;
use crate::paths::SessionPaths;

/// Arguments of `hm send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Session id
    pub id: String,
    /// Treat each argument as a key name (Enter, Tab, Esc, Up, C-c, M-x, F1…)
    /// or a single character; any other argument is an error (exit 2) and
    /// nothing is typed
    #[arg(long)]
    pub keys: bool,
    /// With --keys: milliseconds between keys, each key sent as its own
    /// write (TUIs built on ink ignore an arrow and Enter in one read);
    /// 0 sends all keys in one write
    // Not with --stdin either: clap lets a requirement go when an argument
    // that conflicts with it (--stdin) is there.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 300,
        requires = "keys",
        conflicts_with = "stdin"
    )]
    pub gap: u64,
    /// Type what comes on stdin instead of TEXT (`some-cmd | hm send ID
    /// --stdin`): byte for byte, any bytes and any size (no argument-length
    /// limit; it goes in frames of at most 1 MiB, each confirmed), as it
    /// arrives, until stdin ends (or the session does: exit 1). Nothing is
    /// added: the newlines it holds are typed as they are
    #[arg(long, conflicts_with_all = ["keys", "text"])]
    pub stdin: bool,
    /// Text to type (joined by spaces; no Enter is added — use `hm submit`
    /// or `--keys … Enter`). Options may come after it; text that starts
    /// with `-` goes after `--` (`hm send ID -- -v`). A lone `-` is typed
    /// as a dash, never read as stdin (that is `--stdin`)
    #[arg(required_unless_present = "stdin", value_name = "TEXT")]
    pub text: Vec<String>,
}

/// `hm send`.
pub fn run(common: &Common, args: SendArgs) -> anyhow::Result<i32> {
    // Every key name is checked before anything is typed: a mistyped name
    // is a usage error (exit 2, as clap's), not text for the program.
    if args.keys {
        if let Err(e) = keys_to_bytes(&args.text, false) {
            super::say(&format!("hm: {e}"));
            return Ok(2);
        }
    }
    let (_, paths) = live_session(common, &args.id)?;
    runtime()?.block_on(async {
        // A session that ends as we connect has exited, as it would have
        // a moment later; typing stdin that stopped part-way says how far
        // it got instead.
        let c = open(&paths, "hm send")
            .await
            .map_err(|e| or_exited(&paths, e))?;
        if args.stdin {
            return type_stdin(&c, &paths).await;
        }
        let steps = if args.keys {
            // Cursor keys follow the program's application-cursor mode.
            let app = match c.screen(ScreenRequest::default()).await {
                Ok(s) => s.application_cursor,
                Err(_) => false,
            };
            if args.gap == 0 {
                vec![keys_to_bytes(&args.text, app)?]
            } else {
                args.text
                    .iter()
                    .map(|k| keys_to_bytes(std::slice::from_ref(k), app))
                    .collect::<Result<_, UnknownKey>>()?
            }
        } else {
            vec![args.text.join(" ").into_bytes()]
        };
        let total = steps.len();
        let gap = std::time::Duration::from_millis(args.gap);
        // Each step is confirmed: the supervisor has taken it (written it
        // to the pty or queued it, in order; it writes all of it while the
        // child runs), or refused it because the child was gone.
        match type_patiently(&c, &paths, steps, gap).await {
            Ok(typed) if typed < total => {
                // The keys already sent ended the program (`y` to a
                // one-key prompt): they did their job; the rest had
                // nowhere to go.
                super::say(&format!(
                    "hm: session {:?} ended after {typed} of {total} keys; the rest were not typed",
                    args.id
                ));
            }
            Ok(_) => {}
            // After a program that has exited: "session "ID": the session
            // has ended (exit code N); the input was not typed", exit 1.
            Err(e) => return answer(&paths, std::future::ready(Err(e))).await,
        }
        Ok(0)
    })
}

/// Type `steps` into the session as [`Client::type_steps`] does, `gap`
/// apart, each confirmed before the next; how many were typed.
///
/// A program that reads slowly, or not yet, holds its input back: the
/// supervisor takes [`crate::input::MAX_QUEUED`] bytes ahead of it (from
/// any client), then confirms a step only as the program reads. That is
/// waited for however long it takes, as a pipe's writer waits, while the
/// supervisor answers on a connection of its own; one that answers nothing
/// there either (stopped, hung) is the error. A session that ends is the
/// answer at once.
async fn type_patiently(
    c: &Client,
    paths: &SessionPaths,
    steps: impl IntoIterator<Item = Vec<u8>>,
    gap: std::time::Duration,
) -> Result<usize, ClientError> {
    let patient = c.with_deadline(std::time::Duration::MAX);
    tokio::select! {
        result = patient.type_steps(steps, gap) => result,
        e = unanswered(paths) => Err(e),
    }
}

/// Type stdin into the session as it comes, each read (at most one frame)
/// confirmed before the next ([`type_patiently`]: however long the program
/// takes to read), until stdin ends. When the session ends before stdin
/// does — also while stdin is quiet — it says so at once, with how many
/// bytes were typed.
async fn type_stdin(c: &Client, paths: &SessionPaths) -> anyhow::Result<i32> {
    let mut chunks = read_stdin();
    let mut typed = 0usize;
    loop {
        let chunk = tokio::select! {
            biased;
            chunk = chunks.recv() => chunk,
            code = c.closed() => {
                return Err(ended_early(paths, typed, ClientError::SessionEnded { code }));
            }
        };
        let Some(chunk) = chunk else {
            return Ok(0);
        };
        let chunk = chunk.context("cannot read stdin")?;
        let len = chunk.len();
        if let Err(e) = type_patiently(c, paths, [chunk], std::time::Duration::ZERO).await {
            return Err(ended_early(paths, typed, e));
        }
        typed += len;
    }
}

/// Returns once the session's supervisor, alive, answers no STATUS on a
/// connection of its own within [`ANSWER_TIMEOUT`]: the error. Asks every
/// [`ANSWER_TIMEOUT`]; never returns once the session has ended (its end is
/// the typing's answer).
async fn unanswered(paths: &SessionPaths) -> ClientError {
    loop {
        tokio::time::sleep(ANSWER_TIMEOUT).await;
        let asked = async {
            ClientBuilder::new()
                .name("hm send")
                .deadline(ANSWER_TIMEOUT)
                .session_files(paths.clone())
                .connect(&paths.sock)
                .await?
                .status()
                .await
        };
        if let Err(e) = asked.await {
            if paths.is_live() {
                return e;
            }
            return std::future::pending().await;
        }
    }
}

/// The error of typing stdin that stopped at `e`, `typed` bytes in.
fn ended_early(paths: &SessionPaths, typed: usize, e: ClientError) -> anyhow::Error {
    let e = anyhow::Error::new(e).context(format!("session {:?}", paths.id));
    match typed {
        0 => e,
        _ => e.context(format!("{typed} bytes from stdin were typed, the rest not")),
    }
}

/// Stdin, read on a thread of its own (a read cannot be given up; the
/// process exits past it), as it comes in pieces of at most one frame.
fn read_stdin() -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(1);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; heimdall_protocol::MAX_PAYLOAD];
        loop {
            let piece = match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = piece.is_err();
            if tx.blocking_send(piece).is_err() || failed {
                return;
            }
        }
    });
    rx
}
