//! `hm proxy ID` (issue #9 item 5): the client library over the command
//! `hm --socket-dir DIR proxy ID` drives a real session as over its socket,
//! and the proxy exits when the session ends or its client is gone (a
//! client that only ends its input gets its answers first). A call
//! over it after the session or the proxy is gone fails at once.

mod common;

use std::io::Read;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{poll, Env, DEADLINE};
use heimdall_client::{
    Client, ClientBuilder, ClientError, OutputItem, RegexSource, ScreenRequest, WaitCondition,
    WaitResult, DEFAULT_DEADLINE,
};

/// A spawned `hm proxy`, killed and reaped however the test ends.
struct Proxy(Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proxy {
    /// `hm proxy ID` with piped stdin and stdout.
    fn spawn(env: &Env, id: &str) -> Proxy {
        let child = env
            .hm()
            .args(["proxy", id])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hm proxy");
        Proxy(child)
    }

    /// The first byte the proxy relays (the server's mode byte), read with
    /// a deadline; the rest of its stdout stays open in the reading thread.
    fn first_byte(&mut self) -> u8 {
        let mut out: ChildStdout = self.0.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 1];
            let _ = tx.send(out.read_exact(&mut b).map(|_| b[0]));
            // Keep reading (and discarding) so the proxy never blocks on us.
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        rx.recv_timeout(DEADLINE)
            .expect("the proxy relayed nothing")
            .expect("read the mode byte")
    }

    /// SUBSCRIBE through the proxy (the session streams output to this
    /// connection until it ends) and read the mode byte with the deadline;
    /// the proxy's stdin and stdout, both still open.
    fn subscribe(&mut self) -> (ChildStdin, ChildStdout) {
        let mut stdin = self.0.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, &[0x02, 0, 0, 0, 0]).expect("write SUBSCRIBE");
        let mut out = self.0.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut mode = [0u8; 1];
            let _ = tx.send(out.read_exact(&mut mode).map(|_| (mode[0], out)));
        });
        let (mode, out) = rx
            .recv_timeout(DEADLINE)
            .expect("the proxy relayed nothing")
            .expect("read the mode byte");
        assert_eq!(mode, heimdall_protocol::MODE_BINARY);
        (stdin, out)
    }

    /// Wait (with the deadline) for the proxy to exit by itself; its status.
    fn exits(&mut self, why: &str) -> std::process::ExitStatus {
        poll(why, DEADLINE, || self.0.try_wait().expect("try_wait"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_over_hm_proxy_drives_a_session() {
    let env = Env::new();
    env.launch("px", &["sh"]).await;
    let mut cmd = tokio::process::Command::from(env.hm());
    cmd.arg("--socket-dir")
        .arg(env.sockets())
        .args(["proxy", "px"])
        .stderr(Stdio::null());
    let client = ClientBuilder::new()
        .name("proxy-test")
        .deadline(DEADLINE)
        .over_command(cmd)
        .await
        .expect("connect over hm proxy");
    assert!(client.hello().is_some(), "HELLO answered through the proxy");

    let status = client.status().await.expect("status");
    assert!(status.alive);
    assert!(status.pid > 0);

    let submitted = client
        .submit("echo proxied-$((6*7))", Some(10_000))
        .await
        .expect("submit");
    assert!(submitted.accepted, "{submitted:?}");
    let found = client
        .wait(
            WaitCondition::Regex {
                pattern: "proxied-42".into(),
                source: RegexSource::Screen,
            },
            Some(30_000),
        )
        .await
        .expect("wait");
    assert!(
        matches!(&found, WaitResult::Regex { matched, .. } if matched == "proxied-42"),
        "{found:?}"
    );

    let screen = client
        .screen(ScreenRequest::default())
        .await
        .expect("screen");
    assert!(
        screen.lines.iter().any(|l| l.trim_end() == "proxied-42"),
        "{:?}",
        screen.lines
    );

    client.kill().await.expect("kill");
    tokio::time::timeout(DEADLINE, client.closed())
        .await
        .expect("the connection ends with the session");
    env.wait_gone("px");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_exits_when_the_session_ends() {
    let env = Env::new();
    env.launch("ends", &["sh"]).await;
    let mut proxy = Proxy::spawn(&env, "ends");
    // Connected: the server's mode byte came through unchanged.
    assert_eq!(proxy.first_byte(), heimdall_protocol::MODE_BINARY);
    env.ok(&["kill", "ends"]);
    // Its stdin is still open: only the session's end can stop it.
    let status = proxy.exits("the proxy to exit after the session ended");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_exits_when_its_stdin_closes() {
    let env = Env::new();
    env.launch("stays", &["sh"]).await;
    let mut proxy = Proxy::spawn(&env, "stays");
    assert_eq!(proxy.first_byte(), heimdall_protocol::MODE_BINARY);
    drop(proxy.0.stdin.take());
    let status = proxy.exits("the proxy to exit after its stdin closed");
    assert!(status.success(), "{status:?}");
    // The session is untouched.
    assert_eq!(env.status_json("stays")["alive"], true);
}

/// A client that sends its requests and ends its input (`ssh host hm proxy
/// ID < requests`) gets the answers, as a client on the socket that shuts
/// its sending side does: then the proxy ends with the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_ends_its_input_still_gets_its_answers() {
    let env = Env::new();
    env.launch("asks", &["sh"]).await;
    for _ in 0..5 {
        let mut proxy = Proxy::spawn(&env, "asks");
        let mut stdin = proxy.0.stdin.take().expect("stdin");
        // STATUS, then the end of the input.
        std::io::Write::write_all(&mut stdin, &[0x03, 0, 0, 0, 0]).expect("write STATUS");
        drop(stdin);
        let mut out = proxy.0.stdout.take().expect("stdout");
        let read = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = out.read_to_end(&mut all);
            all
        });
        let status = proxy.exits("the proxy to exit after the answer");
        assert!(status.success(), "{status:?}");
        let all = read.join().expect("reader");
        // The mode byte, then STATUS_RESP (15 bytes).
        assert_eq!(all.len(), 1 + 5 + 15, "{all:?}");
        assert_eq!(
            (all[0], all[1]),
            (heimdall_protocol::MODE_BINARY, 0x82),
            "{all:?}"
        );
    }
}

/// A client gone entirely (its input ended, its output closed) while its
/// subscription to a quiet session waits for output: the proxy exits at
/// once, it does not wait for output to fail on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_exits_when_its_client_is_gone_from_a_quiet_stream() {
    let env = Env::new();
    env.launch("quiet", &["sh"]).await;
    let mut proxy = Proxy::spawn(&env, "quiet");
    let (stdin, out) = proxy.subscribe();
    // Then the client goes.
    drop((stdin, out));
    let status = proxy.exits("the proxy to exit after its client went");
    assert!(status.success(), "{status:?}");
    assert_eq!(env.status_json("quiet")["alive"], true);
}

/// A client whose output side is gone while its input stays open (an ssh
/// client that closed its reading end, a `| head -c 1` reader): the proxy
/// exits at once, from a quiet session too, with nothing to write that
/// would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_exits_when_its_stdout_closes_with_stdin_open() {
    let env = Env::new();
    env.launch("deaf", &["sh"]).await;
    let mut proxy = Proxy::spawn(&env, "deaf");
    let (stdin, out) = proxy.subscribe();
    drop(out);
    let status = proxy.exits("the proxy to exit after its stdout closed");
    assert!(status.success(), "{status:?}");
    drop(stdin);
    assert_eq!(env.status_json("deaf")["alive"], true);
}

#[test]
fn a_proxy_to_an_unknown_session_says_so() {
    let env = Env::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(env.sockets())
        .expect("socket dir");
    let out = env.run(&["proxy", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("No session found: nope"), "{err}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// A client built by `builder` over `hm proxy ID` and the proxy's pid,
/// for killing it under the client (over_command reaps it).
async fn proxied_killable(env: &Env, id: &str, builder: ClientBuilder) -> (Client, i32) {
    let pidfile = env
        .dir
        .path()
        .join(format!("proxy-{}.pid", unique_suffix()));
    let pidfile = pidfile.to_str().expect("utf-8 path");
    let client = proxied_by(
        env,
        id,
        &["sh", "-c", "echo $$ >\"$0\"; exec \"$@\"", pidfile],
        builder,
    )
    .await;
    let pid = std::fs::read_to_string(pidfile)
        .expect("proxy pid")
        .trim()
        .parse()
        .expect("a pid");
    (client, pid)
}

/// A number not given before in this process.
fn unique_suffix() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// SIGKILL to a proxy spawned by [`proxied_killable`].
fn kill_proxy(pid: i32) {
    // SAFETY: kill(2) of the proxy this test spawned (over_command reaps it).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

/// A client with the default deadline (10 s) over `hm proxy ID`, run by
/// the command `wrapper` (e.g. `sh -c ...`) when not empty.
async fn proxied(env: &Env, id: &str, wrapper: &[&str]) -> Client {
    proxied_by(env, id, wrapper, ClientBuilder::new()).await
}

/// [`proxied`] with the client built by `builder`.
async fn proxied_by(env: &Env, id: &str, wrapper: &[&str], builder: ClientBuilder) -> Client {
    let (program, args) = wrapper.split_first().unwrap_or((&"env", &[]));
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .arg(common::hm_bin())
        .arg("--socket-dir")
        .arg(env.sockets())
        .args(["proxy", id])
        .stderr(Stdio::null());
    assert!(DEFAULT_DEADLINE >= Duration::from_secs(5));
    builder
        .name("proxy-test")
        .over_command(cmd)
        .await
        .expect("connect over hm proxy")
}

/// A session killed from elsewhere: a call over the proxy after that fails
/// at once with the session's end and its code, and the output stream
/// ends with EXIT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_over_hm_proxy_after_its_session_is_killed_fails_at_once() {
    let env = Env::new();
    env.launch("killed", &["sh"]).await;
    let client = proxied(&env, "killed", &[]).await;
    let mut output = client.output(0).await.expect("output");
    env.ok(&["kill", "killed"]);
    env.wait_gone("killed");
    let start = Instant::now();
    let screen = client.screen(ScreenRequest::default()).await;
    let elapsed = start.elapsed();
    assert!(
        matches!(screen, Err(ClientError::SessionEnded { code: Some(_) })),
        "{screen:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let ended = tokio::time::timeout(DEADLINE, async {
        let mut last = None;
        while let Some(item) = output.next().await {
            last = Some(item);
        }
        last
    })
    .await
    .expect("the output stream ends");
    assert!(matches!(ended, Some(OutputItem::Exit { .. })), "{ended:?}");
}

/// The proxy killed under the client (the link is gone, the session is
/// not): calls fail at once saying the connection closed — not that the
/// session ended — and the streams end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_after_the_proxy_is_killed_fails_at_once() {
    let env = Env::new();
    env.launch("stays", &["sh"]).await;
    let (client, pid) = proxied_killable(&env, "stays", ClientBuilder::new()).await;
    let mut events = client.events().await.expect("events");
    kill_proxy(pid);
    let start = Instant::now();
    let status = client.status().await;
    let input = client.input(&b"echo lost\n"[..]).await;
    let elapsed = start.elapsed();
    assert!(
        matches!(status, Err(ClientError::ConnectionClosed)),
        "{status:?}"
    );
    assert!(
        matches!(input, Err(ClientError::ConnectionClosed)),
        "{input:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    let end =
        tokio::time::timeout(DEADLINE, async { while events.next().await.is_some() {} }).await;
    assert!(end.is_ok(), "the event stream ends");
    assert_eq!(env.status_json("stays")["alive"], true);
}

/// Steps typed over `hm proxy` whose link breaks between two steps (the
/// proxy killed in the gap) while the session runs: an error saying the
/// connection closed, not "1 of 2 typed" as if the steps had ended the
/// session — without the session's files (nothing tells) and with them
/// (its supervisor still holds it and wrote no exit record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_cut_off_by_a_dropped_proxy_are_an_error() {
    let env = Env::new();
    env.launch("cut", &["sh"]).await;
    let files = heimdall_client::SocketDir::new(env.sockets())
        .files("cut")
        .expect("files");
    for (n, builder) in [
        ClientBuilder::new(),
        ClientBuilder::new().session_files(files),
    ]
    .into_iter()
    .enumerate()
    {
        let (client, pid) = proxied_killable(&env, "cut", builder).await;
        // The gap is long enough to see the first step and kill the proxy.
        let steps = [
            format!("echo first-$((100+{n}))\n"),
            format!("echo second-{n}\n"),
        ];
        let typing =
            tokio::spawn(async move { client.type_steps(steps, Duration::from_secs(8)).await });
        let first = format!("first-{}", 100 + n);
        tokio::task::block_in_place(|| env.wait_screen("cut", &first));
        kill_proxy(pid);
        let typed = tokio::time::timeout(DEADLINE, typing)
            .await
            .expect("type_steps ends")
            .expect("the task");
        assert!(
            matches!(typed, Err(ClientError::ConnectionClosed)),
            "{n}: {typed:?}"
        );
        let second = format!("second-{n}");
        assert!(
            !env.screen_lines("cut").iter().any(|l| l.contains(&second)),
            "the second step was typed after all: the test raced"
        );
    }
    assert_eq!(env.status_json("cut")["alive"], true);
}
