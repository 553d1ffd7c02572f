//! heimdall 1.0 wire compatibility, checked with a client written from the
//! wire format alone (raw bytes over the socket, no crate code).

mod common;

use std::time::Duration;

use common::{poll, Env, Raw, DEADLINE};

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
