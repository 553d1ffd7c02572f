//! The client library (heimdall-client) against the real `hm`: concurrent
//! requests over one connection, cancellation, streams with lag, discovery
//! and starting sessions.

mod common;

use std::time::Duration;

use common::{Env, DEADLINE};
use heimdall_client::{
    Client, ClientBuilder, ClientError, EventItem, Launcher, Liveness, OutputItem, RegexSource,
    ScreenRequest, SignalSpec, SignalTarget, SocketDir, StartError, StartOptions, Started,
    WaitCondition, WaitResult,
};

/// Start a session through the library and connect to it at once
/// (ready on return: no retry).
async fn start_with(env: &Env, id: &str, command: &[&str], b: ClientBuilder) -> (Started, Client) {
    let started = env.launch(id, command).await;
    let client = started
        .connect(b.deadline(DEADLINE))
        .await
        .expect("connect");
    (started, client)
}

async fn start(env: &Env, id: &str, command: &[&str]) -> (Started, Client) {
    start_with(env, id, command, ClientBuilder::new().name("test")).await
}

/// Start a session as `opts` say and connect to it.
async fn start_opts(env: &Env, opts: StartOptions) -> Client {
    let started = env.launcher().start(&opts).await.expect("start");
    started
        .connect(ClientBuilder::new().deadline(DEADLINE))
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_mixed_requests_from_ten_tasks_get_their_own_answers() {
    let env = Env::new();
    // Tall enough that the tags stay on the screen under every submitted line.
    let client = start_opts(
        &env,
        StartOptions {
            id: Some("many".into()),
            command: [
                "sh",
                "-c",
                "for i in 0 1 2 3 4 5 6 7 8 9; do echo tag-$i; done; exec sh",
            ]
            .map(Into::into)
            .to_vec(),
            rows: Some(100),
            ..StartOptions::default()
        },
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..10u64 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let tag = format!("tag-{i}");
            let line = format!(": submitted-{i}");
            let (screen, idle, regex, submit, signal) = tokio::join!(
                c.screen(ScreenRequest::default()),
                c.wait(WaitCondition::Idle { idle_ms: 100 + i }, Some(30_000)),
                c.wait(
                    WaitCondition::Regex {
                        pattern: format!("{tag}$"),
                        source: RegexSource::Screen,
                    },
                    Some(30_000)
                ),
                c.submit(&line, Some(2000)),
                c.signal(
                    SignalSpec::Name(["WINCH", "URG", "CHLD"][i as usize % 3].into()),
                    SignalTarget::Group
                ),
            );
            let screen = screen.expect("screen");
            assert!(!screen.lines.is_empty());
            match idle.expect("idle wait") {
                WaitResult::Idle { idle_ms, .. } => assert!(idle_ms >= 100 + i, "{idle_ms}"),
                other => panic!("task {i}: the idle wait got {other:?}"),
            }
            match regex.expect("regex wait") {
                WaitResult::Regex { matched, .. } => assert_eq!(matched, tag),
                other => panic!("task {i}: the regex wait got {other:?}"),
            }
            submit.expect("submit");
            let want = ["SIGWINCH", "SIGURG", "SIGCHLD"][i as usize % 3];
            assert_eq!(signal.expect("signal").signal, want, "task {i}");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_wait_loses_nothing_of_the_stream_and_the_next_signal_gets_its_own_result() {
    let env = Env::new();
    let (_, client) = start(
        &env,
        "cancel",
        &[
            "sh",
            "-c",
            "stty -echo; read x; seq 1 20000; echo all-done; sleep 100",
        ],
    )
    .await;
    let from = client.refresh().await.expect("hello").output_offset;
    let mut output = client.output(from).await.expect("subscribe");
    // A WAIT that will be answered after its caller has gone.
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        client.wait(
            WaitCondition::Regex {
                pattern: "all-done".into(),
                source: RegexSource::Output,
            },
            None,
        ),
    )
    .await;
    assert!(dropped.is_err(), "the wait was cut short");
    client.input(&b"go\n"[..]).await.expect("input");
    let signal = client
        .signal(SignalSpec::Name("WINCH".into()), SignalTarget::Group)
        .await
        .expect("signal");
    assert_eq!(signal.signal, "SIGWINCH");
    // About 110 KB: far below the stream's 8 MiB bound, so a consumer
    // descheduled for a while still gets every byte.
    let mut text = Vec::new();
    let mut next = from;
    let read = tokio::time::timeout(DEADLINE, async {
        while !String::from_utf8_lossy(&text).contains("all-done") {
            match output.next().await.expect("the stream goes on") {
                OutputItem::Data { offset, bytes } => {
                    assert_eq!(offset, next, "contiguous offsets");
                    next += bytes.len() as u64;
                    text.extend_from_slice(&bytes);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the output arrived");
    let text = String::from_utf8_lossy(&text).replace("\r\n", "\n");
    let expected: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert!(text.contains(&expected), "every line, in order");
    // And the connection still answers.
    assert!(client.status().await.expect("status").alive);
}

/// WAITs whose callers gave up do not hold the connection's slots for
/// long requests: each dropped call is cancelled on the server (CANCEL),
/// so after many more than the server's 64 slots, waits and submits on
/// the same connection are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_waits_free_their_server_slots() {
    let env = Env::new();
    let (_, client) = start(&env, "dropped", &["sh"]).await;
    for _ in 0..100 {
        let gave_up = tokio::time::timeout(
            Duration::from_millis(5),
            client.wait(
                WaitCondition::Regex {
                    pattern: "never-here".into(),
                    source: RegexSource::Screen,
                },
                None,
            ),
        )
        .await;
        assert!(gave_up.is_err(), "the wait answered: {gave_up:?}");
    }
    let submitted = client
        .submit("echo served-$((6*7))", None)
        .await
        .expect("submit after the dropped waits");
    assert!(submitted.accepted);
    let waited = client
        .wait(
            WaitCondition::Regex {
                pattern: "served-42".into(),
                source: RegexSource::Screen,
            },
            Some(20_000),
        )
        .await
        .expect("wait after the dropped waits");
    assert!(matches!(waited, WaitResult::Regex { .. }), "{waited:?}");
    // And the connection still answers.
    assert!(client.status().await.expect("status").alive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_event_consumer_is_told_what_it_missed_and_requests_are_served() {
    let env = Env::new();
    let (_, client) = start_with(
        &env,
        "ev",
        &["sleep", "100"],
        ClientBuilder::new().event_bound(4),
    )
    .await;
    let mut events = client.events().await.expect("events");
    // The server has subscribed this connection to events once it answers
    // a later request.
    client.status().await.expect("status");
    const RESIZES: u16 = 50;
    for n in 0..RESIZES {
        client.resize(100 + n, 30).await.expect("resize");
    }
    // Requests are served while nobody reads the events. Two round trips:
    // the server writes every event emitted before the first STATUS ahead
    // of the second answer.
    assert!(client.status().await.expect("status").alive);
    assert!(client.status().await.expect("status").alive);
    let mut resized = 0u64;
    let mut missed = 0u64;
    let counted = tokio::time::timeout(DEADLINE, async {
        while resized + missed < RESIZES as u64 {
            match events.next().await.expect("events go on") {
                EventItem::Event(heimdall_client::Event::Resize { .. }) => resized += 1,
                EventItem::Event(_) => {}
                EventItem::Missed { count } => missed += count,
            }
        }
    })
    .await;
    assert!(counted.is_ok(), "{resized} events and {missed} missed");
    assert!(missed > 0, "the consumer was told it missed events");
    assert!(resized <= 4, "at most the bound was kept: {resized}");
    assert_eq!(resized + missed, RESIZES as u64, "exactly what it missed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_when_the_session_ends_says_so_with_the_code() {
    let env = Env::new();
    let (_, client) = start(&env, "ends", &["sh", "-c", "read x; exit 7"]).await;
    let c = client.clone();
    let waiting = tokio::spawn(async move {
        c.wait(
            WaitCondition::Regex {
                pattern: "never".into(),
                source: RegexSource::Output,
            },
            None,
        )
        .await
    });
    client.input(&b"x\n"[..]).await.expect("input");
    match tokio::time::timeout(DEADLINE, waiting).await {
        Ok(Ok(Ok(WaitResult::EndedFirst { code, signal }))) => {
            assert_eq!((code, signal), (7, None))
        }
        Ok(Ok(Err(ClientError::SessionEnded { code }))) => assert_eq!(code, Some(7)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        tokio::time::timeout(DEADLINE, client.closed()).await,
        Ok(Some(7))
    );
    match client.status().await {
        Err(ClientError::SessionEnded { code }) => assert_eq!(code, Some(7)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_live_and_exited_sessions() {
    let env = Env::new();
    let (started, client) = start(&env, "disc", &["sleep", "100"]).await;
    let dir = SocketDir::new(env.sockets());
    let live = dir.find("disc").expect("find");
    match live.liveness {
        Liveness::Live(Some(p)) => {
            assert_eq!(Some(p.child), started.pid);
            assert_eq!(Some(p.supervisor), started.supervisor_pid);
        }
        other => panic!("{other:?}"),
    }
    client.kill().await.expect("kill");
    assert_eq!(
        tokio::time::timeout(DEADLINE, client.closed()).await,
        Ok(Some(143))
    );
    env.wait_gone("disc");
    let all = dir.list().expect("list");
    assert_eq!(all.len(), 1);
    match &all[0].liveness {
        Liveness::Exited(rec) => assert_eq!(rec.code, 143),
        other => panic!("{other:?}"),
    }
    match dir.connect("disc", ClientBuilder::new()).await {
        Err(heimdall_client::DiscoveryError::Exited(rec)) => assert_eq!(rec.code, 143),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        dir.find("nope"),
        Err(heimdall_client::DiscoveryError::NotFound { .. })
    ));
}

/// Connecting to a session whose supervisor is stopped (SIGSTOP) through
/// its files is `ClientError::Stopped` with the pid at once, not a
/// timeout at the deadline; continued, it connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_stopped_supervisor_says_so_at_once() {
    let env = Env::new();
    let (started, client) = start(&env, "stp", &["sleep", "100"]).await;
    let sup = started.supervisor_pid.expect("supervisor pid");
    // SAFETY: plain kill(2).
    assert_eq!(unsafe { libc::kill(sup, libc::SIGSTOP) }, 0);
    common::poll("the supervisor to stop", DEADLINE, || {
        std::fs::read_to_string(format!("/proc/{sup}/stat"))
            .ok()
            .filter(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('T'))
            })
    });
    let dir = SocketDir::new(env.sockets());
    let began = std::time::Instant::now();
    let got = dir
        .connect(
            "stp",
            ClientBuilder::new().deadline(Duration::from_secs(20)),
        )
        .await;
    let took = began.elapsed();
    match got {
        Err(heimdall_client::DiscoveryError::Client(ClientError::Stopped { pid })) => {
            assert_eq!(pid, sup)
        }
        other => panic!("{:?}", other.map(|_| "connected")),
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // SAFETY: plain kill(2).
    assert_eq!(unsafe { libc::kill(sup, libc::SIGCONT) }, 0);
    let again = dir
        .connect("stp", ClientBuilder::new().deadline(DEADLINE))
        .await
        .expect("connect once continued");
    again.kill().await.expect("kill");
    let _ = tokio::time::timeout(DEADLINE, client.closed()).await;
    env.wait_gone("stp");
}

/// A command that ends before the library connects: `Started::connect`
/// says the session ended, with its exit code, and `SocketDir::connect`
/// gives its exit record, never a connect error (refused, reset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_quick_command_gives_its_end_not_a_connect_error() {
    let env = Env::new();
    let dir = SocketDir::new(env.sockets());
    let mut ended_first = 0;
    for (i, (command, code)) in [
        (&["echo", "hi-quick"][..], 0),
        (&["true"][..], 0),
        (&["sh", "-c", "echo x; exit 2"][..], 2),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("quick{i}");
        let started = env.launch(&id, command).await;
        match started
            .connect(ClientBuilder::new().deadline(DEADLINE))
            .await
        {
            Ok(client) => {
                assert_eq!(
                    tokio::time::timeout(DEADLINE, client.closed()).await,
                    Ok(Some(code))
                )
            }
            Err(ClientError::SessionEnded { code: Some(c) }) => {
                ended_first += 1;
                assert_eq!(c, code, "{command:?}");
                let rec = dir
                    .files(&id)
                    .expect("files")
                    .exit_record()
                    .expect("record");
                assert_eq!(rec.code, code);
            }
            Err(e) => panic!("{command:?}: {e}"),
        }
        match dir.connect(&id, ClientBuilder::new()).await {
            Err(heimdall_client::DiscoveryError::Exited(rec)) => {
                assert_eq!(rec.code, code);
                if command[0] == "echo" {
                    assert!(rec.output_tail.contains("hi-quick"), "{rec:?}");
                }
            }
            Ok(client) => {
                assert_eq!(
                    tokio::time::timeout(DEADLINE, client.closed()).await,
                    Ok(Some(code))
                )
            }
            Err(e) => panic!("{command:?}: {e}"),
        }
    }
    assert!(ended_first > 0, "every quick command was caught running");
}

/// A command argument that is not UTF-8 reaches the program byte for byte,
/// as it does through `hm start` (the library took only strings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_argument_that_is_not_utf8_reaches_the_program() {
    use std::os::unix::ffi::OsStringExt;
    let env = Env::new();
    let script = "printf %s \"$1\" | od -An -tx1; exec sleep 100";
    let client = start_opts(
        &env,
        StartOptions {
            id: Some("bytes".into()),
            command: vec![
                "sh".into(),
                "-c".into(),
                script.into(),
                "sh".into(),
                std::ffi::OsString::from_vec(b"\xffa\xfe".to_vec()),
            ],
            ..StartOptions::default()
        },
    )
    .await;
    let found = client
        .wait(
            WaitCondition::Regex {
                pattern: "ff +61 +fe".into(),
                source: RegexSource::Screen,
            },
            Some(30_000),
        )
        .await;
    assert!(matches!(found, Ok(WaitResult::Regex { .. })), "{found:?}");
    client.kill().await.expect("kill");
    tokio::time::timeout(DEADLINE, client.closed())
        .await
        .expect("the session ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_reports_typed_errors() {
    let env = Env::new();
    let l = env.launcher();
    let opts = |id: &str, cmd: &str| StartOptions {
        id: Some(id.into()),
        command: vec![cmd.into(), "100".into()],
        ..StartOptions::default()
    };
    match l.start(&opts("nocmd", "/nonexistent/program")).await {
        Err(StartError::CommandNotFound { message }) => {
            assert!(message.contains("not found"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    l.start(&opts("twice", "sleep")).await.expect("first start");
    match l.start(&opts("twice", "sleep")).await {
        Err(StartError::AlreadyRunning { id, .. }) => assert_eq!(id, "twice"),
        other => panic!("{other:?}"),
    }
    match Launcher::new()
        .hm("/nonexistent/hm")
        .start(&opts("x", "sleep"))
        .await
    {
        Err(StartError::HmNotFound { tried }) => assert_eq!(tried.len(), 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_output_stream_reports_its_gap_and_keeps_the_connection_going() {
    let env = Env::new();
    let (_, client) = start_with(
        &env,
        "flood",
        &[
            "sh",
            "-c",
            "read x; head -c 2000000 /dev/zero | tr '\\0' x; echo; echo flood-end; sleep 100",
        ],
        ClientBuilder::new().output_bound(64 * 1024),
    )
    .await;
    let from = client.refresh().await.expect("hello").output_offset;
    let mut output = client.output(from).await.expect("subscribe");
    client.input(&b"go\n"[..]).await.expect("input");
    // Nobody reads the stream while the flood passes.
    let r = client
        .wait(
            WaitCondition::Regex {
                pattern: "flood-end".into(),
                source: RegexSource::Output,
            },
            Some(60_000),
        )
        .await
        .expect("wait");
    assert!(matches!(r, WaitResult::Regex { .. }), "{r:?}");
    let end = client.refresh().await.expect("hello").output_offset;
    // Everything up to `end` is accounted for, as data or as gaps.
    let consumer_gap = common::drain_output(&mut output, from, end).await;
    assert!(consumer_gap > 0, "the unread stream reported its own gap");
}

/// A program that reads exactly `n` bytes in raw mode into `file`, after
/// saying `ready` (so nothing is typed while the terminal is still cooked).
fn byte_counter(n: usize, file: &std::path::Path) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "stty raw -echo; echo ready; head -c {n} > '{}'",
            file.display()
        ),
    ]
}

/// Wait for the session to exit with code 0.
async fn exits_with_0(client: &Client) {
    match client.wait(WaitCondition::Exit, Some(30_000)).await {
        Ok(WaitResult::Exited { code: 0, .. })
        | Err(ClientError::SessionEnded { code: Some(0) }) => {}
        other => panic!("{other:?}"),
    }
}

/// Letters, so no byte means anything to the terminal.
fn letters(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// INPUT over the 1 MiB frame limit: the library splits it into frames
/// (it typed nothing and timed out), so the program gets every byte in
/// order; `hm send` likewise; SUBMIT that large fails at once, clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_of_any_size_arrives_whole_and_an_oversized_submit_fails_at_once() {
    let env = Env::new();
    let n = 3 << 20;
    let file = env.dir.path().join("lib.out");
    let command = byte_counter(n, &file);
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let (_, client) = start(&env, "big", &command).await;
    let ready = WaitCondition::Regex {
        pattern: "ready".into(),
        source: RegexSource::Screen,
    };
    let w = client
        .wait(ready.clone(), Some(20_000))
        .await
        .expect("wait");
    assert!(matches!(w, WaitResult::Regex { .. }), "{w:?}");
    let sent = letters(n);
    client.input(sent.clone()).await.expect("input");
    exits_with_0(&client).await;
    let got = std::fs::read(&file).expect("output file");
    assert_eq!(got.len(), n, "bytes received");
    assert!(got == sent, "the bytes arrived changed or out of order");

    // `hm send` with more than 1 MiB of text (arguments of 100 000 bytes:
    // one argument may not exceed 128 KiB).
    let words: Vec<String> = (0..12)
        .map(|_| String::from_utf8(letters(100_000)).expect("ascii"))
        .collect();
    let text = words.join(" ");
    let file = env.dir.path().join("cli.out");
    let command = byte_counter(text.len(), &file);
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let (_, client) = start(&env, "bigcli", &command).await;
    let w = client.wait(ready, Some(20_000)).await.expect("wait");
    assert!(matches!(w, WaitResult::Regex { .. }), "{w:?}");
    let mut args = vec!["send".to_string(), "bigcli".into()];
    args.extend(words);
    let out = env.hm().args(&args).output().expect("hm send");
    assert!(
        out.status.success(),
        "hm send: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exits_with_0(&client).await;
    assert!(std::fs::read(&file).expect("output file") == text.as_bytes());

    // SUBMIT cannot be split: over the limit it is refused before sending.
    let (_, client) = start(&env, "sub", &["cat"]).await;
    let began = std::time::Instant::now();
    let big = String::from_utf8(letters(2 << 20)).expect("ascii");
    match client.submit(&big, None).await {
        Err(e @ ClientError::TooLarge { .. }) => {
            assert!(e.to_string().contains("limit"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    // And the connection still works.
    client
        .status()
        .await
        .expect("status after a refused SUBMIT");
}

/// Input typed after the program exited is an error that carries the exit
/// code, on a connection made before the exit, whatever moment of the
/// supervisor's ending it comes at: just after another connection's WAIT
/// saw the exit, just after this connection's own WAIT did (the supervisor
/// may then stop reading this connection before it reads the input, and
/// close it without a word about the input), once the exit record is
/// written, and once the supervisor is gone. Rounds repeat each moment: the
/// supervisor's ending races the input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_after_the_program_exited_is_refused_with_the_code_at_every_moment_of_the_ending() {
    let env = Env::new();
    for round in 0..16 {
        let id = format!("late{round}");
        let (started, client) = start(&env, &id, &["sh", "-c", "read x; exit 5"]).await;
        let other = started
            .connect(ClientBuilder::new().deadline(DEADLINE))
            .await
            .expect("connect");
        let c = if round % 4 == 1 { &client } else { &other };
        let (exited, typed) = tokio::join!(c.wait(WaitCondition::Exit, None), async {
            other.input(&b"go\n"[..]).await
        });
        typed.expect("the line that ends the program");
        assert!(
            matches!(exited, Ok(WaitResult::Exited { code: 5, .. })),
            "round {round}: {exited:?}"
        );
        match round % 4 {
            2 => {
                let record = env.sockets().join(format!("{id}.exit"));
                common::poll("the exit record", DEADLINE, || {
                    record.exists().then_some(())
                });
            }
            3 => env.wait_gone(&id),
            _ => {}
        }
        match client.type_steps([&b"late"[..]], Duration::ZERO).await {
            Err(ClientError::Server {
                code: heimdall_client::ErrorCode::Dead,
                message,
            }) => assert!(message.contains("exit code 5"), "round {round}: {message}"),
            Err(ClientError::SessionEnded { code: Some(5) }) => {}
            other => panic!("round {round}: late input gave {other:?}"),
        }
    }
}

/// A WAIT the supervisor cannot answer because the session ended (closed
/// unread as it was ending, or asked after the end) answers from the exit
/// record, not with the connection's end: the exit for an exit wait, a
/// screen regex matched on the final screen, else ended first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_the_end_left_unanswered_answers_from_the_exit_record() {
    let env = Env::new();
    let (_, client) = start(
        &env,
        "waitend",
        &["sh", "-c", "echo drawn-before-the-end; read x; exit 5"],
    )
    .await;
    client.input(&b"go\n"[..]).await.expect("input");
    assert_eq!(
        tokio::time::timeout(DEADLINE, client.closed()).await,
        Ok(Some(5))
    );
    let exit = client.wait(WaitCondition::Exit, None).await;
    assert!(
        matches!(
            exit,
            Ok(WaitResult::Exited {
                code: 5,
                signal: None
            })
        ),
        "{exit:?}"
    );
    let drawn = WaitCondition::Regex {
        pattern: "drawn-before-the-end".into(),
        source: RegexSource::Screen,
    };
    match client.wait(drawn, Some(1_000)).await {
        Ok(WaitResult::Regex { matched, .. }) => assert_eq!(matched, "drawn-before-the-end"),
        other => panic!("{other:?}"),
    }
    let idle = client.wait(WaitCondition::Idle { idle_ms: 10 }, None).await;
    assert!(
        matches!(
            idle,
            Ok(WaitResult::EndedFirst {
                code: 5,
                signal: None
            })
        ),
        "{idle:?}"
    );
}

/// A start whose caller gives up (a timeout around it, a `select!`, a
/// future polled once and dropped) leaves nothing running: the session
/// `hm start` goes on to start is ended, since nobody was told of it (and
/// without an id nobody could find it among others). It ran on unowned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_given_up_on_leaves_nothing_running() {
    use futures_util::FutureExt;
    let env = Env::new();
    let launcher = env.launcher();
    let opts = |id: Option<&str>| StartOptions {
        id: id.map(String::from),
        command: vec!["sleep".into(), "600".into()],
        ..StartOptions::default()
    };
    let mut kept = Vec::new();
    assert!(launcher.start(&opts(None)).now_or_never().is_none());
    for (n, ms) in [0u64, 1, 5, 20, 60, 150].into_iter().enumerate() {
        let id = format!("cut{n}");
        let named = opts(Some(&id));
        let unnamed = opts(None);
        let cut = Duration::from_millis(ms);
        let (a, b) = tokio::join!(
            tokio::time::timeout(cut, launcher.start(&named)),
            tokio::time::timeout(cut, launcher.start(&unnamed)),
        );
        // One that finished in time is the caller's, to end itself.
        kept.extend(
            [a, b]
                .into_iter()
                .filter_map(Result::ok)
                .map(|s| s.expect("start")),
        );
    }
    for s in &kept {
        env.ok(&["kill", &s.id]);
    }
    // Thirteen starts, each run to its end: thirteen sessions, all ended
    // (a session still starting is not live yet: only exit records count).
    let dir = SocketDir::new(env.sockets());
    common::poll("every session started, and ended", DEADLINE, || {
        let sessions = dir.list().expect("list");
        let ended = sessions
            .iter()
            .filter(|e| matches!(e.liveness, Liveness::Exited(_)))
            .count();
        (ended == 13).then_some(())
    });
}

/// A size the protocol refuses (a zero, over 1000 columns or 500 rows) is
/// an error from [`Client::resize`], nothing sent; it returned `Ok` while
/// the supervisor refused it with an ERROR the library dropped, so the
/// caller believed the session resized. A size in range still resizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_the_protocol_refuses_is_an_error_not_a_silent_no() {
    let env = Env::new();
    let (_started, c) = start(&env, "rs", &["sleep", "600"]).await;
    for (cols, rows) in [
        (0, 24),
        (80, 0),
        (1001, 24),
        (80, 501),
        (u16::MAX, u16::MAX),
    ] {
        match c.resize(cols, rows).await {
            Err(e @ ClientError::InvalidSize { .. }) => {
                let said = e.to_string();
                assert!(said.contains(&format!("{cols}x{rows}")), "{said}");
            }
            other => panic!("resize({cols}, {rows}) gave {other:?}"),
        }
    }
    c.resize(1000, 500).await.expect("the largest size");
    let hello = c.refresh().await.expect("hello");
    assert_eq!((hello.session.cols, hello.session.rows), (1000, 500));
    c.kill().await.expect("kill");
}

/// A session whose supervisor runs but whose socket was deleted is said to
/// be so when connecting, at once and with the supervisor's pid, as `hm`
/// says it (`socket_gone`): the library looked for an exit record for 5 s
/// and then said only "No such file or directory".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_socket_is_gone_is_said_to_be_at_once() {
    let env = Env::new();
    let started = env.launch("gone", &["sleep", "600"]).await;
    let sup = started.supervisor_pid.expect("the supervisor's pid");
    std::fs::remove_file(&started.socket).expect("remove the socket");
    let began = std::time::Instant::now();
    match SocketDir::new(env.sockets())
        .connect("gone", ClientBuilder::new())
        .await
    {
        Err(heimdall_client::DiscoveryError::Client(ClientError::SocketGone { pid, .. })) => {
            assert_eq!(pid, sup)
        }
        other => panic!("{:?}", other.map(drop)),
    }
    match started.connect(ClientBuilder::new()).await {
        Err(e @ ClientError::SocketGone { .. }) => {
            let said = e.to_string();
            assert!(said.contains(&format!("pid {sup}")), "{said}");
            assert!(said.contains("gone.sock is gone"), "{said}");
        }
        other => panic!("{:?}", other.map(drop)),
    }
    let took = began.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    env.ok(&["kill", "gone"]);
}

/// A start whose runtime shuts down before the answer (a runtime made for
/// one call and dropped at a timeout, a program's runtime shut down while
/// it starts a session) leaves nothing running too: the runtime's tasks are
/// dropped with it, and a start that ran in one of them left `hm start` to
/// go on and its session to run on, unowned.
#[test]
fn a_start_whose_runtime_shuts_down_leaves_nothing_running() {
    let env = Env::new();
    let launcher = env.launcher();
    let mut cut = Vec::new();
    for (n, ms) in [1u64, 10, 40].into_iter().enumerate() {
        let id = format!("rt{n}");
        let opts = StartOptions {
            id: Some(id.clone()),
            command: vec!["sleep".into(), "600".into()],
            ..StartOptions::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let r = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(ms), launcher.start(&opts)).await
        });
        drop(rt);
        match r {
            // In time: the caller's, to end itself.
            Ok(started) => {
                env.ok(&["kill", &started.expect("start").id]);
            }
            Err(_) => cut.push(id),
        }
    }
    assert!(!cut.is_empty(), "every start finished within 40 ms");
    let dir = SocketDir::new(env.sockets());
    common::poll("every start cut off ended", DEADLINE, || {
        let sessions = dir.list().expect("list");
        cut.iter()
            .all(|id| {
                sessions
                    .iter()
                    .any(|e| &e.files.id == id && matches!(e.liveness, Liveness::Exited(_)))
            })
            .then_some(())
    });
}
