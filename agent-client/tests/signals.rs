//! `hm-agent` stopped by a signal rather than by Ctrl-C or Ctrl-D: SIGTERM
//! (a service manager, `kill`) during a headless run cancels the turn and
//! still ends the sessions the agent started, as a normal exit does.

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::sessions::{calls, hm, unique, Sessions};
use common::{FakeServer, DEADLINE};
use serde_json::json;
use tokio::io::AsyncReadExt;

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
    let home = tempfile::tempdir().unwrap();
    let work = home.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let config = home.path().join("heimdall.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nprovider = \"openai\"\nmodel = \"local-model\"\nbase_url = \"{}/v1\"\n\
             work_dir = \"{}\"\ndata_dir = \"{}\"\nmax_retries = 0\n",
            server.url(),
            work.display(),
            home.path().join("data").display(),
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_hm-agent"))
        .arg("--config")
        .arg(&config)
        .args(["run", "start a sleeper and wait for it"])
        .env("HOME", home.path())
        .env("HEIMDALL_SOCKET_DIR", sessions.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });

    // The turn is in its long wait once the session runs and the model
    // has been asked twice.
    let end = Instant::now() + DEADLINE;
    while !(sessions.live(&id) && server.requests().len() >= 2) {
        assert!(Instant::now() < end, "the agent did not start {id}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
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
