//! A Ctrl-C typed at the terminal of a program that starts sessions (the
//! agent, which handles it by cancelling its turn) is a SIGINT to the
//! terminal's whole foreground process group. It must not cut a session's
//! `hm start` in half: the session it was starting runs on, so the start
//! must finish and say so, or the session is nobody's and outlives the
//! agent. A test binary of its own: it makes itself a process group and
//! signals it.

mod common;

use std::time::Duration;

use common::sessions::{hm, tools_with, unique, Sessions};
use common::DEADLINE;
use heimdall_agent::tools::ToolSet;
use heimdall_client::{Launcher, SocketDir};
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ctrl_c_at_the_terminal_does_not_cut_a_start_in_half() {
    use std::os::unix::fs::PermissionsExt;
    // A foreground job of its own, handling SIGINT as hm-agent does.
    let me = nix::unistd::Pid::from_raw(0);
    nix::unistd::setpgid(me, me).expect("a process group of its own");
    let mut sigint = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let group = nix::unistd::getpgrp();

    let sessions = Sessions::new();
    let id = unique("agent-ctrl-c");
    let wrap = tempfile::tempdir().unwrap();
    // `hm`, but once the session is up, and before the start has said so,
    // the Ctrl-C: SIGINT to the foreground process group.
    let script = wrap.path().join("hm");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n'{hm}' \"$@\" > '{out}' &\n\
             while [ ! -S '{sock}' ]; do sleep 0.01; done\n\
             kill -s INT -- -{group}\nwait\ncat '{out}'\n",
            hm = hm().display(),
            out = wrap.path().join("out").display(),
            sock = sessions.path().join(format!("{id}.sock")).display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let launcher = Launcher::new().hm(&script).socket_dir(sessions.path());
    let tools = tools_with(launcher, &sessions, 2);
    let args = json!({"command": "sleep 600", "id": id});
    let out = tokio::time::timeout(
        DEADLINE,
        tools
            .call("session_start", &args, DEADLINE)
            .expect("a session tool"),
    )
    .await
    .expect("the start answered in time");
    tokio::time::timeout(DEADLINE, sigint.recv())
        .await
        .expect("the Ctrl-C was sent");
    assert!(!out.is_error, "{}", out.text);
    assert!(
        out.text.contains(&format!("started session {id}")),
        "{}",
        out.text
    );
    let ended = tools.cleanup(Duration::from_secs(15)).await;
    assert_eq!(ended, [id.as_str()], "the agent's end did not end it");
    let running = SocketDir::new(sessions.path()).running().expect("list");
    assert!(running.is_empty(), "left running: {running:?}");
}
