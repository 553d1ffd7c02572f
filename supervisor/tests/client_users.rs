//! The client library used as programs use it (hm-agent, hm-discord):
//! streams opened at any offset, connections dropped and reopened, hostile
//! sessions — against the real `hm`.

mod common;

use std::time::Duration;

use common::{Env, DEADLINE};
use heimdall_client::{
    Client, ClientBuilder, ClientError, Event, EventItem, OutputItem, RegexSource, ScreenRequest,
    WaitCondition,
};

/// Start `command` as session `id` through the library and connect.
async fn start(env: &Env, id: &str, command: &[&str]) -> Client {
    env.launch(id, command)
        .await
        .connect(ClientBuilder::new().name("user").deadline(DEADLINE))
        .await
        .expect("connect")
}

/// The first data of `output`: its offset and bytes.
async fn first_data(output: &mut heimdall_client::OutputStream) -> (u64, Vec<u8>) {
    loop {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(OutputItem::Data { offset, bytes })) => return (offset, bytes.to_vec()),
            Ok(Some(OutputItem::Gap { .. })) => {}
            other => panic!("no output: {other:?}"),
        }
    }
}

/// A stream asked for from an offset the session has not reached (an
/// offset remembered from an earlier session of the same id, a typo, the
/// largest offset there is) starts at the session's end, as the protocol
/// says, and its items carry the offsets of the bytes they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_asked_for_beyond_the_end_numbers_its_bytes_right() {
    let env = Env::new();
    let c = start(
        &env,
        "future",
        &["sh", "-c", "while read x; do echo got-$x; done"],
    )
    .await;
    for (n, ahead) in [1_000_000, u64::MAX].into_iter().enumerate() {
        // A connection of its own for each stream (one stream each).
        let c = ClientBuilder::new()
            .deadline(DEADLINE)
            .connect(env.sock("future"))
            .await
            .expect("connect");
        let end = c.refresh().await.expect("hello").output_offset;
        let from = end.saturating_add(ahead);
        let mut output = c.output(from).await.expect("output");
        c.input(format!("{n}\n").into_bytes()).await.expect("input");
        let (offset, bytes) = first_data(&mut output).await;
        assert_eq!(
            (
                offset,
                String::from_utf8_lossy(&bytes).starts_with(&n.to_string())
            ),
            (end, true),
            "asked for {from}: the first byte written after it was asked for is at {end}"
        );
        // The connection still answers; the program's answer is written
        // before the next stream is asked for.
        let answered = WaitCondition::Regex {
            pattern: format!("(?m)^got-{n}$"),
            source: RegexSource::Screen,
        };
        c.wait(answered, Some(20_000)).await.expect("wait");
    }
    drop(c);
}

/// Calls of every kind in flight, an output and an event stream open, when
/// the supervisor is SIGKILLed: each call fails soon with the lost
/// connection (not a hang, not the guardian's account taken for the
/// program's exit), the streams end, `closed()` says the exit is unknown,
/// and the session's files then say that its supervisor died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sigkilled_mid_call_fails_every_call_soon() {
    let env = Env::new();
    let started = env.launch("victim", &["sh"]).await;
    let c = started
        .connect(ClientBuilder::new().deadline(DEADLINE))
        .await
        .expect("connect");
    let mut output = c.output_replay().await.expect("output");
    let mut events = c.events().await.expect("events");
    let never = WaitCondition::Regex {
        pattern: "never-shown".into(),
        source: RegexSource::Screen,
    };
    let calls = tokio::spawn({
        let c = c.clone();
        async move {
            let (exit, regex, submit, screens) = tokio::join!(
                c.wait(WaitCondition::Exit, None),
                c.wait(never, None),
                c.submit("sleep 60", Some(60_000)),
                async {
                    // Asked at every moment until the connection goes.
                    loop {
                        if let Err(e) = c.screen(ScreenRequest::default()).await {
                            return e;
                        }
                    }
                },
            );
            (exit.map(drop), regex.map(drop), submit.map(drop), screens)
        }
    });
    // The calls are in flight.
    c.status().await.expect("status");
    let sup = started.supervisor_pid.expect("supervisor pid");
    let killed_at = std::time::Instant::now();
    // SAFETY: kill(2) on a pid we started.
    assert_eq!(unsafe { libc::kill(sup, libc::SIGKILL) }, 0);
    let (exit, regex, submit, screens) = tokio::time::timeout(DEADLINE, calls)
        .await
        .expect("calls in flight hang after the supervisor died")
        .expect("task");
    for (what, r) in [
        ("exit wait", exit),
        ("regex wait", regex),
        ("submit", submit),
    ] {
        assert!(
            matches!(r, Err(ClientError::ConnectionClosed)),
            "{what}: {r:?}"
        );
    }
    assert!(
        matches!(screens, ClientError::ConnectionClosed),
        "{screens:?}"
    );
    assert!(
        killed_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed_at.elapsed()
    );
    // The streams end without an exit; the connection's end has no code.
    loop {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(OutputItem::Exit { code })) => panic!("an exit {code} nobody saw"),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("the output stream does not end"),
        }
    }
    while let Some(item) = tokio::time::timeout(DEADLINE, events.next())
        .await
        .expect("the event stream does not end")
    {
        assert!(
            !matches!(item, EventItem::Event(Event::Exit { .. })),
            "{item:?}"
        );
    }
    assert_eq!(c.closed().await, None);
    assert!(matches!(
        c.status().await,
        Err(ClientError::ConnectionClosed)
    ));
    // The guardian's record says the supervisor died.
    let rec = common::poll("the guardian's record", DEADLINE, || {
        started.files().exit_record().ok()
    });
    assert!(rec.supervisor_died, "{rec:?}");
}

/// The socket directory removed under a live session (a `rm -rf` of a
/// temporary directory): the connection made before goes on (calls,
/// streams, the kill, the exit code by EXIT); a new connection fails with
/// an error that names the socket, at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_dir_removed_under_a_session_costs_only_new_connections() {
    let env = Env::new();
    let c = start(&env, "gone", &["sh"]).await;
    let mut output = c.output_replay().await.expect("output");
    std::fs::remove_dir_all(env.sockets()).expect("remove the socket dir");
    assert!(c.status().await.expect("status").alive);
    c.submit("echo still-here", Some(5_000))
        .await
        .expect("submit");
    let started = std::time::Instant::now();
    match ClientBuilder::new()
        .deadline(DEADLINE)
        .connect(env.sock("gone"))
        .await
    {
        Err(ClientError::Connect { path, .. }) => assert_eq!(path, env.sock("gone")),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    c.input(&b"exit 4\n"[..]).await.expect("input");
    loop {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(OutputItem::Exit { code })) => {
                assert_eq!(code, 4);
                break;
            }
            Ok(Some(_)) => {}
            other => panic!("no exit: {other:?}"),
        }
    }
    assert_eq!(
        tokio::time::timeout(DEADLINE, c.closed()).await,
        Ok(Some(4))
    );
}

/// Asked at every moment what the session shows while it ends: each screen
/// is the program's or a clear end (ERROR `dead` with the exit code, or the
/// session's end with it), the final screen is in the exit record, and a
/// screen WAIT after the end answers from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_asked_for_as_the_session_ends_is_its_own_or_a_clear_end() {
    let env = Env::new();
    let started = env
        .launch("ending", &["sh", "-c", "echo final-words; read x; exit 3"])
        .await;
    let c = started
        .connect(ClientBuilder::new().deadline(DEADLINE))
        .await
        .expect("connect");
    let shown = WaitCondition::Regex {
        pattern: "final-words".into(),
        source: RegexSource::Screen,
    };
    c.wait(shown.clone(), Some(20_000)).await.expect("shown");
    let askers: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                loop {
                    match c.screen(ScreenRequest::default()).await {
                        Ok(s) => assert!(s.lines.iter().any(|l| l == "final-words"), "{s:?}"),
                        Err(e) => return e,
                    }
                }
            })
        })
        .collect();
    c.input(&b"x\n"[..]).await.expect("input");
    for a in askers {
        let e = tokio::time::timeout(DEADLINE, a)
            .await
            .expect("a screen call hangs at the end")
            .expect("task");
        match &e {
            ClientError::Server {
                code: heimdall_client::ErrorCode::Dead,
                message,
            } => assert!(message.contains("code 3"), "{message}"),
            ClientError::SessionEnded { code: Some(3) } => {}
            other => panic!("{other:?}"),
        }
    }
    let rec = started
        .files()
        .exit_record_within(DEADLINE)
        .expect("the exit record");
    let last = rec.final_screen.expect("the final screen");
    assert!(last.lines.iter().any(|l| l == "final-words"), "{last:?}");
    assert_eq!(
        tokio::time::timeout(DEADLINE, c.closed()).await,
        Ok(Some(3))
    );
    match c.wait(shown, Some(1_000)).await {
        Ok(heimdall_client::WaitResult::Regex { matched, .. }) => {
            assert_eq!(matched, "final-words")
        }
        other => panic!("{other:?}"),
    }
}

/// A connection to `started` whose output stream, from now on, holds the
/// program (bounded at `bound` bytes), and another connection, which has
/// typed the line the program waits for; the offset the stream starts at.
async fn held(
    started: &heimdall_client::Started,
    bound: usize,
) -> (Client, heimdall_client::OutputStream, Client, u64) {
    let holder = started
        .connect(ClientBuilder::new().deadline(DEADLINE).output_bound(bound))
        .await
        .expect("connect");
    let from = holder.refresh().await.expect("hello").output_offset;
    let stream = holder
        .output_paced(from, heimdall_client::Pacing::Hold)
        .await
        .expect("held stream");
    assert!(stream.holds());
    let other = started
        .connect(ClientBuilder::new().deadline(DEADLINE))
        .await
        .expect("connect");
    other.input(&b"go\n"[..]).await.expect("input");
    (holder, stream, other, from)
}

/// A stream that holds the program and is never read: the program waits
/// (that is the point), while another client is served as ever, and a
/// kill from it ends the session, whose supervisor then goes although the
/// holder still reads nothing. Dropping the holder's stream lets its
/// connection read on to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_never_reads_holds_the_program_and_nobody_else() {
    let env = Env::new();
    let started = env
        .launch(
            "held",
            &[
                "sh",
                "-c",
                "read x; head -c 4000000 /dev/zero | tr '\\0' x; echo; echo flood-done; sleep 100",
            ],
        )
        .await;
    let (holder, stream, other, _) = held(&started, 64 * 1024).await;
    // The program is held: its output stops short of the end.
    let flood_done = WaitCondition::Regex {
        pattern: "flood-done".into(),
        source: RegexSource::Output,
    };
    let r = other.wait(flood_done, Some(3_000)).await.expect("wait");
    assert_eq!(r, heimdall_client::WaitResult::TimedOut);
    // The other client is served at once meanwhile.
    let at = std::time::Instant::now();
    for _ in 0..20 {
        other
            .screen(ScreenRequest::default())
            .await
            .expect("screen");
        assert!(other.status().await.expect("status").alive);
    }
    assert!(at.elapsed() < Duration::from_secs(5), "{:?}", at.elapsed());
    other.kill().await.expect("kill");
    assert!(
        tokio::time::timeout(DEADLINE, other.closed()).await.is_ok(),
        "the other client's connection stays open"
    );
    let files = started.files();
    common::poll("the supervisor goes", DEADLINE, || {
        (!files.is_live()).then_some(())
    });
    drop(stream);
    assert!(
        tokio::time::timeout(DEADLINE, holder.closed())
            .await
            .is_ok(),
        "the holder's connection stays open"
    );
}

/// A byte stream that moves one byte per read or write, as a slow link
/// (a proxy, ssh) may cut frames anywhere.
struct Trickle<T>(T);

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Trickle<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let mut one = [0u8; 1];
        let mut small = tokio::io::ReadBuf::new(&mut one);
        let r = std::pin::Pin::new(&mut self.0).poll_read(cx, &mut small);
        if r.is_ready() {
            buf.put_slice(small.filled());
        }
        r
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Trickle<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(1);
        std::pin::Pin::new(&mut self.0).poll_write(cx, &buf[..n])
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Concurrent calls of every kind over `hm proxy` through a link that
/// moves a byte at a time each way: every answer is read whole and reaches
/// its own call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_a_link_that_moves_a_byte_at_a_time_get_their_own_answers() {
    let env = Env::new();
    let script = "for i in 0 1 2 3 4 5 6 7 8 9; do echo tag-$i; done; exec sh";
    env.launch("trickle", &["sh", "-c", script]).await;
    let mut proxy = tokio::process::Command::new(common::hm_bin());
    proxy
        .arg("--socket-dir")
        .arg(env.sockets())
        .args(["proxy", "trickle"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = proxy.spawn().expect("hm proxy");
    let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
        panic!("no stdio");
    };
    let c = ClientBuilder::new()
        .deadline(DEADLINE)
        .over(Trickle(from), Trickle(to))
        .await
        .expect("connect over the trickle");
    let tasks: Vec<_> = (0..10u64)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                let tag = format!("tag-{i}");
                let (screen, regex, signal, status, hello) = tokio::join!(
                    c.screen(ScreenRequest {
                        redraw: i % 2 == 1,
                        ..ScreenRequest::default()
                    }),
                    c.wait(
                        WaitCondition::Regex {
                            pattern: format!("{tag}$"),
                            source: RegexSource::Screen,
                        },
                        Some(30_000)
                    ),
                    c.signal(
                        heimdall_client::SignalSpec::Name(
                            ["WINCH", "URG", "CHLD"][i as usize % 3].into()
                        ),
                        heimdall_client::SignalTarget::Group
                    ),
                    c.status(),
                    c.refresh(),
                );
                let screen = screen.expect("screen");
                assert_eq!(screen.redraw.is_some(), i % 2 == 1, "task {i}");
                match regex.expect("regex wait") {
                    heimdall_client::WaitResult::Regex { matched, .. } => assert_eq!(matched, tag),
                    other => panic!("task {i}: {other:?}"),
                }
                let want = ["SIGWINCH", "SIGURG", "SIGCHLD"][i as usize % 3];
                assert_eq!(signal.expect("signal").signal, want, "task {i}");
                assert!(status.expect("status").alive);
                assert_eq!(hello.expect("hello").session.id, "trickle");
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(DEADLINE, t)
            .await
            .expect("a task hangs")
            .expect("task");
    }
    drop(c);
    let _ = tokio::time::timeout(DEADLINE, child.wait()).await;
}

/// What a program asking at every moment (connect, status, screen) is
/// told of sessions that end meanwhile: the live answers, then the end,
/// with its code, every time: never a bare connection error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asked_at_every_moment_a_session_that_ends_says_how() {
    use heimdall_client::{DiscoveryError, SocketDir};
    let env = Env::new();
    for n in 0..5 {
        let script = format!("read x; exit {}", 10 + n);
        env.launch(&format!("e{n}"), &["sh", "-c", &script]).await;
    }
    let askers: Vec<_> = (0..5)
        .map(|n| {
            let dir = SocketDir::new(env.sockets());
            let id = format!("e{n}");
            let code = 10 + n;
            tokio::spawn(async move {
                let mut live = 0;
                loop {
                    let b = ClientBuilder::new().deadline(DEADLINE);
                    let c = match dir.connect(&id, b).await {
                        Ok(c) => c,
                        Err(DiscoveryError::Exited(rec)) => {
                            assert_eq!(rec.code, code, "{id}");
                            return live;
                        }
                        Err(e) => panic!("{id}: connect after {live} answers: {e:?}"),
                    };
                    if live == 3 {
                        c.input(&b"x\n"[..]).await.expect("input");
                    }
                    let ended = |e: &ClientError| match e {
                        ClientError::SessionEnded { code: Some(c) } => *c == code,
                        ClientError::Server {
                            code: heimdall_client::ErrorCode::Dead,
                            message,
                        } => message.contains(&format!("code {code}")),
                        _ => false,
                    };
                    match c.status().await {
                        Ok(_) => live += 1,
                        Err(e) if ended(&e) => {}
                        Err(e) => panic!("{id}: status after {live} answers: {e:?}"),
                    }
                    match c.screen(ScreenRequest::default()).await {
                        Ok(_) => {}
                        Err(e) if ended(&e) => {}
                        Err(e) => panic!("{id}: screen after {live} answers: {e:?}"),
                    }
                }
            })
        })
        .collect();
    for a in askers {
        let live = tokio::time::timeout(DEADLINE, a)
            .await
            .expect("an asker never learns of the end")
            .expect("asker");
        assert!(live > 3, "{live}");
    }
}

/// A replay asked for on a connection made long before replays the
/// scrollback as it is now: it started from the scrollback as it was when
/// the connection was made, a gap of what is no longer kept and more
/// output than the scrollback holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_asked_for_late_is_the_scrollback_of_now() {
    let env = Env::new();
    let c = start(
        &env,
        "late",
        &[
            "sh",
            "-c",
            "read x; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo flood-done; exec sleep 100",
        ],
    )
    .await;
    c.input(&b"go\n"[..]).await.expect("input");
    let done = WaitCondition::Regex {
        pattern: "flood-done".into(),
        source: RegexSource::Output,
    };
    c.wait(done, Some(30_000)).await.expect("the flood");
    let now = c.refresh().await.expect("hello");
    let mut output = c.output_replay().await.expect("replay");
    match tokio::time::timeout(DEADLINE, output.next()).await {
        Ok(Some(OutputItem::Data { offset, .. })) => {
            assert_eq!(
                offset, now.scrollback_offset,
                "the replay starts at the scrollback"
            )
        }
        other => panic!("the replay starts with {other:?}"),
    }
}

/// A stream that holds the program, read slowly through a small bound:
/// every byte arrives, in order and without a gap, then EXIT; the program
/// is paced by its reader, and another client is served at once
/// meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_holder_gets_every_byte_and_nobody_else_waits() {
    let env = Env::new();
    let started = env
        .launch("slowhold", &["sh", "-c", "read x; seq 1 200000; exit 6"])
        .await;
    let (_holder, mut stream, other, from) = held(&started, 16 * 1024).await;
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        let mut next = from;
        loop {
            match tokio::time::timeout(DEADLINE, stream.next()).await {
                Ok(Some(OutputItem::Data { offset, bytes })) => {
                    assert_eq!(offset, next, "no gap");
                    next += bytes.len() as u64;
                    text.extend_from_slice(&bytes);
                    // Slowly: a pause now and then.
                    if text.len() % 7 == 0 {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                Ok(Some(OutputItem::Exit { code })) => return (text, code),
                other => panic!("at {next}: {other:?}"),
            }
        }
    });
    // Served at once while the holder paces the program.
    let mut slowest = Duration::ZERO;
    while !reader.is_finished() {
        let at = std::time::Instant::now();
        match other.status().await {
            Ok(_) => slowest = slowest.max(at.elapsed()),
            Err(ClientError::SessionEnded { code: Some(6) }) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    let (text, code) = tokio::time::timeout(DEADLINE, reader)
        .await
        .expect("the holder never reaches the end")
        .expect("reader");
    assert_eq!(code, 6);
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    let text = String::from_utf8_lossy(&text);
    let numbers: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.parse::<u32>().is_ok())
        .collect();
    assert_eq!(numbers.len(), 200_000, "every line");
    assert_eq!(numbers.first(), Some(&"1"));
    assert_eq!(numbers.last(), Some(&"200000"));
}

/// Sessions listed while others start: each live one listed is connected
/// to and answers at once, also one listed as it starts (its pidfile
/// locked, its socket not there yet), which waited 5 s for an exit record
/// and then failed with 'No such file or directory'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_listed_while_others_start_answer_at_once() {
    use heimdall_client::{Liveness, SocketDir};
    let env = Env::new();
    let launcher = env.launcher();
    let starts: Vec<_> = (0..20)
        .map(|n| {
            let launcher = launcher.clone();
            tokio::spawn(async move {
                launcher
                    .start(&heimdall_client::StartOptions {
                        id: Some(format!("s{n}")),
                        command: vec!["sleep".into(), "60".into()],
                        ..Default::default()
                    })
                    .await
                    .expect("start")
            })
        })
        .collect();
    let dir = SocketDir::new(env.sockets());
    let mut slowest = Duration::ZERO;
    let mut answered = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    while answered.len() < 20 {
        for entry in dir.list().expect("list") {
            if !matches!(entry.liveness, Liveness::Live(_)) {
                continue;
            }
            let id = entry.files.id.clone();
            let at = std::time::Instant::now();
            let r = dir
                .connect(&id, ClientBuilder::new().deadline(DEADLINE))
                .await;
            slowest = slowest.max(at.elapsed());
            match r {
                Ok(c) => {
                    c.status().await.expect("status");
                    answered.insert(id);
                }
                Err(e) => failures.push(format!("{id}: {e}")),
            }
        }
    }
    for s in starts {
        s.await.expect("start task");
    }
    assert!(failures.is_empty(), "{failures:?}");
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
}

/// Many connections to one session at once (a bot asking for every
/// user at the same moment): every one is made and answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_connections_at_once_are_all_made() {
    let env = Env::new();
    env.launch("crowd", &["sleep", "60"]).await;
    let dir = heimdall_client::SocketDir::new(env.sockets());
    let tasks: Vec<_> = (0..400)
        .map(|_| {
            let dir = dir.clone();
            tokio::spawn(async move {
                let c = dir
                    .connect("crowd", ClientBuilder::new().deadline(DEADLINE))
                    .await?;
                c.status().await.map(drop).map_err(Into::into)
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        let r: Result<(), heimdall_client::DiscoveryError> = t.await.expect("task");
        if let Err(e) = r {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        failures.first()
    );
}
