//! The client library driving ten sessions at once, with calls cancelled
//! part-way (a timeout, a `select!` that drops the call, a future polled
//! once and dropped) and the connection used again after each: answers
//! stay matched to their requests, nothing of the streams is lost, and a
//! session that ends in the middle of a call ends the call.

mod common;

use std::future::Future;
use std::time::Duration;

use common::{Env, DEADLINE};
use futures_util::FutureExt;
use heimdall_client::{
    Client, ClientBuilder, ClientError, ErrorCode, Launcher, OutputItem, RegexSource,
    ScreenRequest, SignalSpec, SignalTarget, StartOptions, WaitCondition, WaitResult,
};

const SESSIONS: usize = 10;
const ROUNDS: usize = 6;
const ROWS: u16 = 60;

/// Start `command` as session `id` and connect to it.
async fn launch(launcher: &Launcher, id: &str, command: &[&str]) -> Client {
    let started = launcher
        .start(&StartOptions {
            id: Some(id.into()),
            command: command.iter().map(Into::into).collect(),
            rows: Some(ROWS),
            ..StartOptions::default()
        })
        .await
        .expect("start");
    started
        .connect(ClientBuilder::new().name(id).deadline(DEADLINE))
        .await
        .expect("connect")
}

/// Drop `call` part-way, in one of three ways chosen by `how`.
async fn cancel<F: Future>(how: usize, call: F) {
    match how % 3 {
        // Polled once, then dropped: its frame is queued, its answer not in.
        0 => drop(call.now_or_never()),
        // A deadline that passes while it waits.
        1 => drop(tokio::time::timeout(Duration::from_micros(200), call).await),
        // Another branch of a select wins.
        _ => {
            tokio::select! {
                _ = call => {}
                () = tokio::task::yield_now() => {}
            }
        }
    }
}

/// Start one call of kind `kind` (answers that a later call of another
/// kind could be given by mistake: a redraw, SIGURG, a scrollback) and
/// drop it part-way.
async fn cancelled_call(c: &Client, kind: usize, how: usize, tag: &str) {
    let redraw = ScreenRequest {
        redraw: true,
        scrollback_lines: 5,
        ..ScreenRequest::default()
    };
    let never = WaitCondition::Regex {
        pattern: format!("never-{tag}"),
        source: RegexSource::Output,
    };
    match kind % 8 {
        0 => cancel(how, c.screen(redraw)).await,
        1 => {
            let urg = SignalSpec::Name("URG".into());
            cancel(how, c.signal(urg, SignalTarget::Group)).await
        }
        2 => cancel(how, c.wait(never, Some(60_000))).await,
        3 => cancel(how, c.wait(never, None)).await,
        4 => cancel(how, c.status()).await,
        5 => cancel(how, c.refresh()).await,
        6 => cancel(how, c.explain()).await,
        _ => cancel(how, c.submit(&format!(": cancelled-{tag}"), Some(3000))).await,
    }
}

/// Calls of every kind on `c` at once, each checked against its own
/// request: the marker printed this round on the screen, SIGWINCH, a screen
/// without redraw or scrollback, the session's own id.
async fn probe(c: &Client, id: &str, mark: &str) {
    // A SUBMIT, not INPUT: a cancelled SUBMIT may still be typing its
    // line (SUBMITs take turns; INPUT would land inside that line).
    let echo = format!("echo {mark}");
    c.submit(&echo, Some(5000))
        .await
        .expect("submit the marker");
    let line = format!(": probed-{mark}");
    let (screen, signal, regex, status, hello, explain, submit) = tokio::join!(
        c.screen(ScreenRequest::default()),
        c.signal(SignalSpec::Name("WINCH".into()), SignalTarget::Group),
        c.wait(
            WaitCondition::Regex {
                pattern: format!("(?m)^{mark}$"),
                source: RegexSource::Screen,
            },
            Some(30_000),
        ),
        c.input_taken(),
        c.refresh(),
        c.explain(),
        c.submit(&line, Some(3000)),
    );
    let screen = screen.expect("screen");
    assert_eq!(
        screen.lines.len(),
        usize::from(ROWS),
        "{id}: a screen's lines"
    );
    assert!(screen.redraw.is_none(), "{id}: a redraw not asked for");
    assert!(
        screen.scrollback.is_none(),
        "{id}: scrollback not asked for"
    );
    assert_eq!(signal.expect("signal").signal, "SIGWINCH", "{id}");
    match regex.expect("regex wait") {
        WaitResult::Regex { matched, .. } => assert_eq!(matched, mark, "{id}"),
        other => panic!("{id}: the wait for {mark} got {other:?}"),
    }
    assert!(status.expect("status").alive, "{id}");
    assert_eq!(hello.expect("hello").session.id, id);
    assert!(explain.expect("explain")["state"].is_string(), "{id}");
    submit.expect("submit");
}

/// Read `output` to its end: every byte from `from` on without a gap,
/// then EXIT; the text and the exit code.
async fn read_to_exit(output: &mut heimdall_client::OutputStream, from: u64) -> (String, i32) {
    let mut text = Vec::new();
    let mut next = from;
    loop {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(OutputItem::Data { offset, bytes })) => {
                assert_eq!(offset, next, "output without a gap");
                next += bytes.len() as u64;
                text.extend_from_slice(&bytes);
            }
            Ok(Some(OutputItem::Exit { code })) => {
                return (String::from_utf8_lossy(&text).into_owned(), code)
            }
            other => panic!("output at {next}: {other:?}"),
        }
    }
}

/// One session driven through rounds of cancelled calls, each followed by
/// a probe, then killed while calls are in flight.
async fn drive(launcher: Launcher, n: usize) {
    let id = format!("s{n}");
    let c = launch(&launcher, &id, &["sh"]).await;
    let from = c.hello().expect("hello").output_offset;
    let mut output = c.output(from).await.expect("output");
    for r in 0..ROUNDS {
        let tag = format!("{n}-{r}");
        for kind in 0..8 {
            cancelled_call(&c, kind + r, kind + n, &tag).await;
        }
        probe(&c, &id, &format!("mark-{tag}")).await;
    }
    // Killed with calls in flight: each ends with the session's end.
    let never = WaitCondition::Regex {
        pattern: "never".into(),
        source: RegexSource::Screen,
    };
    let in_flight = tokio::spawn({
        let c = c.clone();
        async move {
            tokio::join!(
                c.wait(never, None),
                c.wait(WaitCondition::Exit, None),
                c.submit(": at-the-end", Some(20_000)),
            )
        }
    });
    c.kill().await.expect("kill");
    let (regex, exit, submit) = tokio::time::timeout(DEADLINE, in_flight)
        .await
        .unwrap_or_else(|_| panic!("{id}: calls in flight at the kill hang"))
        .expect("task");
    let code = tokio::time::timeout(DEADLINE, c.closed())
        .await
        .unwrap_or_else(|_| panic!("{id}: the connection stays open"))
        .unwrap_or_else(|| panic!("{id}: the exit code is not known"));
    match regex {
        Ok(WaitResult::EndedFirst { code: c, .. })
        | Err(ClientError::SessionEnded { code: Some(c) }) => {
            assert_eq!(c, code, "{id}")
        }
        other => panic!("{id}: a regex wait in flight at the end got {other:?}"),
    }
    match exit {
        Ok(WaitResult::Exited { code: c, .. })
        | Err(ClientError::SessionEnded { code: Some(c) }) => {
            assert_eq!(c, code, "{id}")
        }
        other => panic!("{id}: an exit wait in flight at the end got {other:?}"),
    }
    match submit {
        Ok(_)
        | Err(ClientError::SessionEnded { code: Some(_) })
        | Err(ClientError::Server {
            code: ErrorCode::Dead,
            ..
        }) => {}
        other => panic!("{id}: a submit in flight at the end got {other:?}"),
    }
    let (text, exit_code) = read_to_exit(&mut output, from).await;
    assert_eq!(exit_code, code, "{id}");
    // Every marker, in order, once on its own line.
    let mut at = 0;
    for r in 0..ROUNDS {
        let line = format!("\nmark-{n}-{r}\r");
        let found = text[at..]
            .find(&line)
            .unwrap_or_else(|| panic!("{id}: {line:?} missing from the output after {at}"));
        at += found + line.len();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sessions_with_cancelled_calls_keep_every_answer_matched() {
    let env = Env::new();
    let drivers: Vec<_> = (0..SESSIONS)
        .map(|n| tokio::spawn(drive(env.launcher(), n)))
        .collect();
    for d in drivers {
        tokio::time::timeout(DEADLINE * 4, d)
            .await
            .expect("a session's driver hangs")
            .expect("driver");
    }
}

/// One call of kind `kind` on `c`; `Err` only for an answer that is
/// wrong for a session that may have ended with `code` meanwhile.
async fn call_near_the_end(c: &Client, kind: usize, code: i32) -> Result<(), String> {
    let ended = |e: &ClientError| match e {
        ClientError::SessionEnded { code: Some(c) } => *c == code,
        ClientError::Server {
            code: ErrorCode::Dead,
            ..
        } => true,
        _ => false,
    };
    let check = |r: Result<(), ClientError>| match r {
        Ok(()) => Ok(()),
        Err(e) if ended(&e) => Ok(()),
        Err(e) => Err(format!("{e:?}")),
    };
    let wait = |w: Result<WaitResult, ClientError>| match w {
        Ok(WaitResult::EndedFirst { code: c, .. } | WaitResult::Exited { code: c, .. })
            if c == code =>
        {
            Ok(())
        }
        Ok(WaitResult::Idle { .. }) => Ok(()),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => check(Err(e)),
    };
    match kind % 10 {
        0 => check(c.screen(ScreenRequest::default()).await.map(drop)),
        1 => check(c.status().await.map(drop)),
        2 => check(c.input_taken().await.map(drop)),
        3 => check(c.refresh().await.map(drop)),
        4 => check(c.explain().await.map(drop)),
        5 => check(
            c.signal(SignalSpec::Name("URG".into()), SignalTarget::Group)
                .await
                .map(drop),
        ),
        6 => check(c.submit(": late", Some(2000)).await.map(drop)),
        7 => wait(c.wait(WaitCondition::Idle { idle_ms: 60_000 }, None).await),
        8 => wait(c.wait(WaitCondition::Exit, None).await),
        _ => check(c.type_steps([&b":"[..]], Duration::ZERO).await.map(drop)),
    }
}

/// Calls of every kind, many at once, while the program exits: each ends
/// with an answer, the session's end with its code or ERROR `dead`, within
/// the deadline; never a hang, never an error that hides the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_of_every_kind_when_the_session_ends_get_its_end() {
    let env = Env::new();
    let c = launch(&env.launcher(), "ends", &["sh", "-c", "read x; exit 7"]).await;
    let mut calls = Vec::new();
    for i in 0..40 {
        let call = c.clone();
        calls.push(tokio::spawn(async move {
            let r = call_near_the_end(&call, i, 7).await;
            (i, r)
        }));
        if i == 20 {
            c.input(&b"x\n"[..]).await.expect("input");
        }
    }
    for call in calls {
        let (i, r) = tokio::time::timeout(DEADLINE, call)
            .await
            .expect("a call hangs at the end")
            .expect("task");
        r.unwrap_or_else(|e| panic!("call {i} (kind {}) got {e}", i % 10));
    }
    assert_eq!(
        tokio::time::timeout(DEADLINE, c.closed()).await,
        Ok(Some(7))
    );
    // And after the end, every kind at once.
    for i in 0..10 {
        let r = tokio::time::timeout(DEADLINE, call_near_the_end(&c, i, 7))
            .await
            .expect("a call after the end hangs");
        r.unwrap_or_else(|e| panic!("kind {i} after the end got {e}"));
    }
}
