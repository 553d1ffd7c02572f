//! heimdall 1.0 wire compatibility, checked with a client written from the
//! wire format alone (raw bytes over the socket, no crate code).

mod common;

use std::time::Duration;

use common::{alive, keys, one_zero_server, poll, Env, Raw, DEADLINE};

#[test]
fn raw_client_mode_status_subscribe_input_resize_kill_exit() {
    let env = Env::new();
    env.start("c", &["--cols", "80", "--rows", "24"], &["sh"]);
    let (_, child) = env.pids("c");
    let mut c = Raw::connect(&env.sock("c"));

    let (pid, _idle, alive, state, _state_ms) = c.status();
    assert_eq!(pid as i32, child, "STATUS pid is the child's pid");
    assert!(alive);
    assert!(
        state == 0x00 || state == 0x04,
        "idle or active, got {state}"
    );

    c.send(0x02, &[]); // SUBSCRIBE
    c.send(0x01, b"echo hel''lo-$((6*7))\n"); // INPUT
    c.read_output_until("the echo", |t| t.contains("hello-42"));

    c.send(0x04, &[0, 100, 0, 40]); // RESIZE 100x40
    c.send(0x01, b"stty size\n");
    c.read_output_until("the new size", |t| t.contains("40 100"));

    c.send(0x05, &[]); // KILL
    let code = loop {
        match c.recv() {
            Some((0x83, p)) => break i32::from_be_bytes([p[0], p[1], p[2], p[3]]),
            Some((0x81, _)) => continue,
            Some((k, _)) => panic!("unexpected frame 0x{k:02x} for a 1.0 client"),
            None => panic!("closed without EXIT"),
        }
    };
    // An interactive sh ignores SIGTERM and leaves on the SIGHUP that follows.
    assert!(code == 128 + 15 || code == 128 + 1, "exit code {code}");
    assert!(c.recv().is_none(), "the connection closes after EXIT");
    env.wait_gone("c");
}

#[test]
fn one_zero_client_gets_nothing_it_did_not_ask_for() {
    let env = Env::new();
    env.start("q", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("q"));
    // Unknown type, a HELLO that is not JSON, a WAIT without HELLO, a short RESIZE.
    c.send(0x42, b"whatever");
    c.send(0x06, b"\xff\xfenot json");
    c.send(0x0C, br#"{"until":"exit"}"#);
    c.send(0x04, &[1]);
    // STATUS with a spurious payload is honoured; its answer is the next frame.
    c.send(0x03, b"spurious");
    let (k, p) = c.recv().expect("status");
    assert_eq!(k, 0x82, "the next frame is STATUS_RESP");
    assert_eq!(p.len(), 15);
    // Nothing else arrives.
    c.set_timeout(Duration::from_millis(300));
    let mut byte = [0u8; 1];
    let r = std::io::Read::read(&mut c.s, &mut byte);
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no unsolicited frame, got {r:?}"
    );
    c.set_timeout(DEADLINE);
    // KILL with a spurious payload is honoured.
    c.send(0x05, b"spurious");
    env.wait_gone("q");
    let st = env.status_json("q");
    assert_eq!(st["code"], 143);
}

#[test]
fn hello_client_gets_errors_and_keeps_its_connection() {
    let env = Env::new();
    env.start("h", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("h"));
    let hello = c.hello();
    assert_eq!(hello["protocol"], 2);
    assert_eq!(hello["session"]["id"], "h");
    assert!(hello["output_offset"].is_u64());
    c.send(0x42, b"");
    let (k, p) = c.recv().expect("error");
    assert_eq!(k, 0x8F);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["error"], "unknown_type");
    assert_eq!(e["request"], 0x42);
    c.send(0x08, br#"{"signal": "NOPE"}"#);
    let (k, p) = c.recv().expect("error");
    assert_eq!(k, 0x8F);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["error"], "invalid_signal");
    let (_, _, alive, _, _) = c.status();
    assert!(alive, "the connection and the session are still there");
    // SIGNAL by name reaches the process group.
    c.send(0x08, br#"{"signal": "TERM"}"#);
    let (k, p) = c.recv().expect("result");
    assert_eq!(k, 0x87, "{}", String::from_utf8_lossy(&p));
    env.wait_gone("h");
    assert_eq!(env.status_json("h")["code"], 143);
}

#[test]
fn many_clients_share_one_session() {
    let env = Env::new();
    env.start("m", &[], &["sh"]);
    let mut clients: Vec<Raw> = (0..4).map(|_| Raw::connect(&env.sock("m"))).collect();
    for c in &mut clients {
        c.send(0x02, &[]);
    }
    clients[2].send(0x01, b"echo from-$((1+2))\n");
    for c in &mut clients {
        c.read_output_until("shared output", |t| t.contains("from-3"));
    }
    poll("status from every client", DEADLINE, || {
        clients.iter_mut().all(|c| c.status().2).then_some(())
    });
}

#[test]
fn a_listener_that_shuts_its_sending_side_keeps_receiving() {
    let env = Env::new();
    env.start(
        "half",
        &[],
        &["sh", "-c", "read x; echo got-$x; sleep 1.5; echo later"],
    );
    let mut listener = Raw::connect(&env.sock("half"));
    listener.send(0x02, &[]);
    listener.s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut typer = Raw::connect(&env.sock("half"));
    typer.send(0x01, b"it\n");
    listener.read_output_until("the output after the hang-up check", |t| {
        t.contains("later")
    });
    let code = loop {
        match listener.recv() {
            Some((0x83, p)) => break i32::from_be_bytes([p[0], p[1], p[2], p[3]]),
            Some(_) => continue,
            None => panic!("closed without EXIT"),
        }
    };
    assert_eq!(code, 0);
}

#[test]
fn subscribe_from_an_evicted_offset_reports_skipped_bytes() {
    let env = Env::new();
    env.start(
        "old",
        &["--scrollback-bytes", "4096"],
        &[
            "sh",
            "-c",
            "head -c 3000000 /dev/zero | tr '\\0' x; echo; echo END; sleep 100",
        ],
    );
    let mut probe = Raw::connect(&env.sock("old"));
    poll("the flood to be written", DEADLINE, || {
        (probe.hello()["output_offset"].as_u64().unwrap_or(0) > 3_000_000).then_some(())
    });
    let mut c = Raw::connect(&env.sock("old"));
    let hello = c.hello();
    let replay = hello["scrollback_offset"].as_u64().unwrap();
    assert!(
        replay > 3_000_000 - 4096 - 1000,
        "SUBSCRIBE replays the last 4 KiB"
    );
    c.send(0x0A, &0u64.to_be_bytes());
    let (k, p) = c.recv().expect("skipped event");
    assert_eq!(k, 0x86);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["type"], "skipped");
    let kept = e["offset"].as_u64().unwrap();
    assert!(kept > 0 && kept <= replay, "the oldest byte kept: {kept}");
    assert_eq!(e["missed_bytes"].as_u64(), Some(kept));
    c.read_output_until("the tail of the stream", |t| t.contains("END"));
}

#[test]
fn resize_delivers_sigwinch_to_the_program() {
    let env = Env::new();
    env.start(
        "winch",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo WINCH $(stty size)' WINCH; echo ready; while :; do sleep 0.05; done",
        ],
    );
    let mut c = Raw::connect(&env.sock("winch"));
    c.send(0x02, &[]);
    c.read_output_until("ready", |t| t.contains("ready"));
    c.send(0x04, &[0, 132, 0, 50]);
    c.read_output_until("the trap", |t| t.contains("WINCH 50 132"));
}

// ---- heimdall 1.0 parity of the session files and the CLI texts (issue 13) ----

/// The lines of a session's pidfile.
fn pidfile_lines(env: &Env, id: &str) -> Vec<String> {
    std::fs::read_to_string(env.sockets().join(format!("{id}.pid")))
        .expect("pidfile")
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn pidfile_has_the_supervisor_pid_then_the_child_pid_on_two_lines() {
    let env = Env::new();
    env.start("pf", &[], &["sleep", "100"]);
    let lines = pidfile_lines(&env, "pf");
    assert_eq!(lines.len(), 2, "two lines: {lines:?}");
    let sup: i32 = lines[0].parse().expect("supervisor pid");
    let child: i32 = lines[1].parse().expect("child pid");
    let hello = Raw::connect(&env.sock("pf")).hello();
    assert_eq!(hello["session"]["supervisor_pid"], sup, "line 1");
    let (pid, ..) = Raw::connect(&env.sock("pf")).status();
    assert_eq!(pid as i32, child, "line 2 is the child STATUS reports");
    assert!(alive(sup) && alive(child));
}

#[test]
fn a_one_line_pidfile_of_an_older_supervisor_is_read_too() {
    let env = Env::new();
    env.start("old1", &[], &["sleep", "100"]);
    let pidfile = env.sockets().join("old1.pid");
    let lines = pidfile_lines(&env, "old1");
    // The same file (the supervisor keeps its lock), in the older format.
    std::fs::write(&pidfile, format!("{} {}\n", lines[0], lines[1])).unwrap();
    let out = env.run(&["start", "--id", "old1", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("already running (supervisor pid {})", lines[0])),
        "{err}"
    );
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls[0]["id"], "old1");
    assert_eq!(ls[0]["alive"], true);
}

#[test]
fn the_supervisor_log_is_id_log_in_the_socket_dir_and_clean_removes_orphans_only() {
    let env = Env::new();
    env.start("bg", &[], &["sleep", "100"]);
    // The foreground supervisor (`hm run --detach`) logs there too.
    env.ok(&["run", "--detach", "--id", "fg", "--", "true"]);
    let log = |id: &str| env.sockets().join(format!("{id}.log"));
    for id in ["bg", "fg"] {
        poll(&format!("{id}.log to name the session"), DEADLINE, || {
            std::fs::read_to_string(log(id))
                .ok()
                .filter(|t| t.contains("session started") && t.contains(id))
        });
    }
    env.ok(&["kill", "bg"]);
    env.wait_gone("bg");
    assert!(log("bg").exists(), "the log outlives its session");
    env.start("live", &[], &["sleep", "100"]);
    let out = env.ok(&["clean", "--older-than", "0s", "--force"]);
    assert_eq!(
        out.lines().last(),
        Some("Cleaned 2 log file(s)."),
        "the two orphans: {out}"
    );
    assert!(!log("bg").exists() && !log("fg").exists());
    assert!(log("live").exists(), "a live session's log is kept");
    let out = env.ok(&["clean", "--older-than", "0s", "--force"]);
    assert_eq!(out, "Nothing to clean\n");
    assert!(Raw::connect(&env.sock("live")).status().2);
}

#[test]
fn ls_removes_a_dead_supervisors_socket_and_pidfile_at_once() {
    let env = Env::new();
    env.start("dead", &[], &["sleep", "100"]);
    let (sup, child) = env.pids("dead");
    // SAFETY: plain kill(2) calls on processes this test started.
    unsafe {
        libc::kill(sup, libc::SIGKILL);
    }
    poll("the supervisor to die", DEADLINE, || {
        (!alive(sup)).then_some(())
    });
    poll("the guardian to end the child", DEADLINE, || {
        (!alive(child)).then_some(())
    });
    // A pair just written (no age), as 1.0 would leave it: gone at once.
    let pidfile = env.sockets().join("dead.pid");
    std::fs::write(&pidfile, format!("{sup}\n{child}\n")).unwrap();
    assert!(env.sock("dead").exists());
    // And a pair of a supervisor that never was ours.
    drop(std::os::unix::net::UnixListener::bind(env.sock("ghost")).unwrap());
    std::fs::write(env.sockets().join("ghost.pid"), "999999\n999998\n").unwrap();
    env.start("alive", &[], &["sleep", "100"]);
    let out = env.ok(&["ls"]);
    assert!(out.contains("alive"), "{out}");
    for id in ["dead", "ghost"] {
        assert!(!env.sock(id).exists(), "{id}.sock removed");
        assert!(
            !env.sockets().join(format!("{id}.pid")).exists(),
            "{id}.pid removed"
        );
    }
    assert!(env.sock("alive").exists(), "a live session is kept");
    // The id is free again.
    env.start("dead", &[], &["sleep", "100"]);
}

#[test]
fn texts_scripts_match_on() {
    let env = Env::new();
    // No socket directory yet, then an empty one.
    assert_eq!(env.ok(&["ls"]), "No active sessions\n");
    assert_eq!(env.ok(&["clean"]), "Nothing to clean\n");
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(env.sockets())
        .unwrap();
    assert_eq!(env.ok(&["ls"]), "No active sessions\n");
    assert_eq!(env.ok(&["ls", "--json"]).trim(), "[]");
    for cmd in ["status", "kill"] {
        let out = env.run(&[cmd, "nope"]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.lines().next(),
            Some("No session found: nope"),
            "{cmd}: {err}"
        );
    }
    env.start("k", &[], &["sleep", "100"]);
    let out = env.ok(&["kill", "k"]);
    assert_eq!(
        out.lines().next(),
        Some("Kill signal sent to session k"),
        "{out}"
    );
    assert!(
        out.contains("killed k (killed by signal 15"),
        "detail: {out}"
    );
    // --json is unchanged: one JSON document.
    env.start("j", &[], &["sleep", "100"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["kill", "j", "--json"])).unwrap();
    assert_eq!(v["id"], "j");
    assert_eq!(v["killed"], true);
    assert_eq!(v["code"], 143);
}

// ---------------------------------------------------------------------------
// Our CLI against a heimdall 1.0 supervisor (issue 13): a minimal server
// written from the 1.0 wire format alone, which ignores HELLO as 1.0 does
// (`common::one_zero_server`).
// ---------------------------------------------------------------------------

#[test]
fn our_cli_talks_to_a_one_zero_supervisor() {
    let env = Env::new();
    let kills = one_zero_server(&env, "old");
    let out = env.run(&["status", "old", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["pid"], 4242);
    assert_eq!(st["state"], "idle");
    assert_eq!(st["alive"], true);
    // What STATUS tells, in the fields of a newer supervisor's.
    let told = ["alive", "id", "pid", "silent_ms", "state", "state_ms"];
    let mut status = [&told[..], &["protocol"]].concat();
    status.sort_unstable();
    assert_eq!(keys(&st), status, "{st}");
    assert_eq!(st["protocol"], 1);
    let text = env.ok(&["status", "old"]);
    assert!(text.contains("needs a newer supervisor"), "{text}");
    let ls: serde_json::Value = serde_json::from_slice(&env.run(&["ls", "--json"]).stdout).unwrap();
    assert_eq!(ls[0]["id"], "old");
    assert_eq!(ls[0]["state"], "idle", "{ls}");
    let mut listed = [&told[..], &["command"]].concat();
    listed.sort_unstable();
    assert_eq!(keys(&ls[0]), listed, "{ls}");
    assert_eq!(ls[0]["command"], serde_json::json!([]), "{ls}");
    let out = env.run(&["kill", "old"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(kills.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Issue #9: every query command speaks through the client library, which
/// recognises a heimdall 1.0 supervisor at once: what 1.0 cannot do is
/// refused at once with "needs a newer supervisor" (code `unsupported`
/// with --json), not after a timeout waiting for an answer 1.0 never sends.
#[test]
fn commands_that_need_extensions_say_so_at_once_to_a_one_zero_supervisor() {
    let env = Env::new();
    let _kills = one_zero_server(&env, "old");
    let started = std::time::Instant::now();
    for args in [
        &["screen", "old"][..],
        &["wait", "old", "--idle", "100"],
        &["submit", "old", "line"],
        &["signal", "old", "INT"],
        &["explain", "old"],
        &["tail", "old"],
        &["events", "old"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("needs a newer supervisor"),
            "hm {args:?}: {text}"
        );
    }
    let out = env.run(&["screen", "old", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert_eq!(v["error"], "unsupported", "{v}");
    // Seven refusals, each one round trip: far below one answer timeout (5 s) each.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // What 1.0 does serve still works: text and keys typed through INPUT.
    env.ok(&["send", "old", "text"]);
    env.ok(&["send", "old", "--keys", "Enter"]);
}

/// `hm attach` (what `hm run` attaches with) to a heimdall 1.0 supervisor,
/// into a pipe: no HELLO, no SCREEN, no events; the output is 1.0's
/// SUBSCRIBE replay and the exit code is its EXIT's.
#[test]
fn attach_streams_a_one_zero_supervisors_output_and_exit_code() {
    use std::process::Stdio;
    let env = Env::new();
    let _kills = one_zero_server(&env, "old");
    let mut child = env
        .hm()
        .args(["attach", "--read-only", "old"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Held open: a watcher without a terminal detaches at the end of stdin.
    let stdin = child.stdin.take();
    poll("hm attach to end", DEADLINE, || child.try_wait().unwrap());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(9), "{stdout}{stderr}");
    assert!(stdout.contains("one-zero output"), "{stdout}");
    assert!(
        stderr.contains("[session old exited with code 9]"),
        "{stderr}"
    );
}
