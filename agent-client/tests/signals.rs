//! `hm-agent` stopped by a signal rather than by Ctrl-C or Ctrl-D: SIGTERM
//! (a service manager, `kill`) during a headless run cancels the turn and
//! still ends the sessions the agent started, as a normal exit does; a
//! conversation cut by SIGKILL during a tool call can be resumed.

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::sessions::{calls, hm, unique, Sessions};
use common::{poll, FakeServer, DEADLINE};
use serde_json::json;
use tokio::io::AsyncReadExt;

/// A home for `hm-agent` talking to `server`: its config (work and data
/// directories beside it) and how to run it there with `args`.
struct Home {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Home {
    fn new(server: &FakeServer) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let config = dir.path().join("heimdall.toml");
        std::fs::write(
            &config,
            format!(
                "[agent]\nprovider = \"openai\"\nmodel = \"local-model\"\nbase_url = \"{}/v1\"\n\
                 work_dir = \"{}\"\ndata_dir = \"{}\"\nmax_retries = 0\n",
                server.url(),
                work.display(),
                dir.path().join("data").display(),
            ),
        )
        .unwrap();
        Home { dir, config }
    }

    /// Where its conversations are stored.
    fn conversations(&self) -> std::path::PathBuf {
        self.dir.path().join("data").join("conversations")
    }

    /// `hm-agent ARGS` with its sessions in `sessions`, stderr piped.
    fn agent(&self, sessions: &Sessions, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hm-agent"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("HOME", self.dir.path())
            .env("HEIMDALL_SOCKET_DIR", sessions.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

/// `hm-agent run` in `home` starting session `id` and waiting for it to
/// exit, as the model asks: the agent, its stderr as it will have been
/// written, once the turn is in its long wait (the session runs and the
/// model has been asked twice).
async fn run_until_waiting(
    home: &Home,
    sessions: &Sessions,
    server: &FakeServer,
    id: &str,
) -> (tokio::process::Child, tokio::task::JoinHandle<String>) {
    let mut child = home
        .agent(sessions, &["run", "start a program and wait for it"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    poll(&format!("the agent's start of {id}"), async || {
        (sessions.live(id) && server.requests().len() >= 2).then_some(())
    })
    .await;
    (child, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_run_cancels_the_turn_and_ends_the_agents_sessions() {
    hm(); // hm-agent runs the `hm` beside it: make sure it is built.
    let sessions = Sessions::new();
    let id = unique("agent-term");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "sleep 600", "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 600}),
        )]),
    ])
    .await;
    let home = Home::new(&server);
    let (mut child, log) = run_until_waiting(&home, &sessions, &server, &id).await;
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();

    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("hm-agent left after SIGTERM")
        .unwrap();
    let log = log.await.unwrap();
    assert_eq!(
        status.code(),
        Some(143),
        "exit 128 + SIGTERM; stderr:\n{log}"
    );
    assert!(log.contains("stopped by SIGTERM"), "{log}");
    assert!(log.contains(&format!("[sessions ended: {id}]")), "{log}");
    assert!(!sessions.live(&id), "the agent's session was ended");
}

/// How `hm-agent` left after `signal` twice: once while its turn waits,
/// again once its cleanup has asked a session whose program ignores
/// SIGTERM and SIGHUP to end (hm kills it `kill_grace_ms` later).
struct Twice {
    code: Option<i32>,
    /// From the second signal to the agent's exit.
    took: std::time::Duration,
    log: String,
    id: String,
}

async fn signal_twice(signal: nix::sys::signal::Signal, kill_grace_ms: u64) -> Twice {
    hm();
    let sessions = Sessions::new();
    let id = unique("agent-twice");
    let marks = tempfile::tempdir().unwrap();
    let termed = marks.path().join("termed");
    let command = format!(
        "trap 'touch {}' TERM; trap '' HUP; while :; do sleep 0.1; done",
        termed.display()
    );
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": command, "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 600}),
        )]),
    ])
    .await;
    let home = Home::new(&server);
    let mut config = std::fs::read_to_string(&home.config).unwrap();
    config.insert_str(0, &format!("kill_grace_ms = {kill_grace_ms}\n"));
    std::fs::write(&home.config, config).unwrap();
    let (mut child, log) = run_until_waiting(&home, &sessions, &server, &id).await;
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
    // The cleanup has asked the session to end once its program has had
    // SIGTERM.
    poll(&format!("the cleanup's end of {id}"), async || {
        termed.exists().then_some(())
    })
    .await;
    let second = Instant::now();
    nix::sys::signal::kill(pid, signal).unwrap();
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("hm-agent left")
        .unwrap();
    let took = second.elapsed();
    if sessions.live(&id) {
        // Left to hm's SIGKILL, past the test: end it now.
        let killed = std::process::Command::new(hm())
            .arg("--socket-dir")
            .arg(sessions.path())
            .args(["signal", "--group", &id, "KILL"])
            .output()
            .unwrap();
        assert!(killed.status.success(), "{killed:?}");
    }
    Twice {
        code: status.code(),
        took,
        log: log.await.unwrap(),
        id,
    }
}

/// A second SIGTERM, or Ctrl-C after the Ctrl-C that cancelled the turn,
/// ends `hm-agent` at once: its cleanup waits (10 s) for a session whose
/// program ignores SIGTERM (the session's kill grace is long), and both
/// were ignored meanwhile (SIGINT too: once the turn has listened for
/// Ctrl-C, it no longer ends the process by itself).
async fn a_second_signal_ends_a_slow_cleanup_at_once(signal: nix::sys::signal::Signal, code: i32) {
    let twice = signal_twice(signal, 600_000).await;
    let log = &twice.log;
    assert!(
        twice.took < std::time::Duration::from_secs(5),
        "hm-agent took {:?} after the second signal (the cleanup waits 10 s); stderr:\n{log}",
        twice.took
    );
    assert_eq!(twice.code, Some(code), "stderr:\n{log}");
    assert!(log.contains("while stopping: leaving now"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_ends_a_slow_cleanup_at_once() {
    a_second_signal_ends_a_slow_cleanup_at_once(nix::sys::signal::Signal::SIGTERM, 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_ends_a_slow_cleanup_at_once() {
    a_second_signal_ends_a_slow_cleanup_at_once(nix::sys::signal::Signal::SIGINT, 130).await;
}

/// A second SIGHUP does not cut the cleanup short: a closing terminal may
/// send two (the kernel's to the foreground job, the shell's to its
/// jobs), and the sessions are still ended, as after one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sighup_lets_the_cleanup_end_the_sessions() {
    let twice = signal_twice(nix::sys::signal::Signal::SIGHUP, 1_000).await;
    let log = &twice.log;
    assert_eq!(twice.code, Some(129), "stderr:\n{log}");
    assert!(
        log.contains(&format!("[sessions ended: {}]", twice.id)),
        "{log}"
    );
}

/// `hm-agent` SIGKILLed (the OOM killer, a power cut's equivalent) while
/// a tool call runs leaves a conversation whose last message asks for
/// tools without their results; resumed, the call is answered as
/// interrupted, so the provider (which refuses tool calls without results)
/// takes the conversation and the model knows the call did not finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_cut_by_sigkill_during_a_tool_call_can_be_resumed() {
    hm();
    let sessions = Sessions::new();
    let id = unique("agent-killed");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "sleep 600", "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 600}),
        )]),
        common::text_reply("resumed"),
    ])
    .await;
    let home = Home::new(&server);
    let mut child = home
        .agent(&sessions, &["run", "start a sleeper and wait for it"])
        .spawn()
        .unwrap();
    // The wait is stored (the call runs) once the file names it.
    let stored = |dir: &std::path::Path| -> Option<std::path::PathBuf> {
        let file = std::fs::read_dir(dir).ok()?.next()?.ok()?.path();
        let text = std::fs::read_to_string(&file).ok()?;
        text.contains("call_session_wait_0").then_some(file)
    };
    let file = poll("the agent's session_wait", async || {
        stored(&home.conversations())
    })
    .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let conversation = file.file_stem().unwrap().to_string_lossy().into_owned();
    let resumed = tokio::time::timeout(
        DEADLINE,
        home.agent(&sessions, &["--resume", &conversation, "run", "and now?"])
            .output(),
    )
    .await
    .expect("the resumed run ended")
    .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3, "{stderr}");
    let msgs = reqs[2].body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "user"
        ]
    );
    assert_eq!(msgs[5]["tool_call_id"], "call_session_wait_0");
    let answer = msgs[5]["content"].as_str().unwrap();
    assert!(answer.contains("interrupted"), "{answer}");
    // The repair is stored: resumed again, the file reads the same.
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches("\"call_session_wait_0\"").count(), 2, "{text}");
}
