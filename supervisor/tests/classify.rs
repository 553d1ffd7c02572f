//! Classifiers as clients see them: STATUS state bytes and `state` EVENTs.

mod common;

use common::{Env, Raw};

/// Read EVENT frames until one satisfies `pred`; returns it.
fn next_event(c: &mut Raw, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    loop {
        let (k, p) = c.recv().expect("event stream closed");
        if k != 0x86 {
            continue;
        }
        let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
        if pred(&e) {
            return e;
        }
    }
}

/// An EVENTS subscription that is in place when this returns: requests on
/// one connection are handled in order, so once the STATUS sent after
/// EVENTS is answered, every later state change reaches this connection.
fn events(env: &Env, id: &str) -> Raw {
    let mut c = Raw::connect(&env.sock(id));
    c.hello();
    c.send(0x09, &[]);
    c.send(0x03, &[]);
    while c.recv().expect("STATUS_RESP after EVENTS").0 != 0x82 {}
    c
}

fn is_state(e: &serde_json::Value, new: &str) -> bool {
    e["type"] == "state" && e["new"] == new
}

#[test]
fn simple_is_active_while_output_flows_then_idle() {
    let env = Env::new();
    // No prompt: a shell prompt would make the session `waiting`.
    env.start("s", &["--idle-threshold-ms", "300"], &["env", "PS1=", "sh"]);
    let mut ctl = Raw::connect(&env.sock("s"));
    // Let the prompt's output settle first.
    common::poll("idle", common::DEADLINE, || {
        (ctl.status().3 == 0x00).then_some(())
    });
    let mut ev = events(&env, "s");
    ctl.send(0x01, b"echo hi\n");
    let e = next_event(&mut ev, |e| is_state(e, "active"));
    assert_eq!(e["classifier"], "simple");
    let e = next_event(&mut ev, |e| is_state(e, "idle"));
    assert!(e["reason"].as_str().unwrap().contains("300 ms"), "{e}");
    let (_, idle_ms, alive, state, state_ms) = ctl.status();
    assert!(alive);
    assert_eq!(state, 0x00);
    assert!(idle_ms >= 300, "{idle_ms}");
    assert!(state_ms < idle_ms);
    // The child exits: state dead, then the exit event.
    ctl.send(0x01, b"exit 4\n");
    next_event(&mut ev, |e| is_state(e, "dead"));
    let e = next_event(&mut ev, |e| e["type"] == "exit");
    assert_eq!(e["code"], 4);
}

#[test]
fn claude_reports_tool_use_for_a_large_burst() {
    let env = Env::new();
    env.start(
        "c",
        &[
            "--classifier",
            "claude",
            "--idle-threshold-ms",
            "800",
            "--debounce-ms",
            "50",
        ],
        &[
            "sh",
            "-c",
            "stty -echo; read x; head -c 20000 /dev/zero | tr '\\0' x; read y",
        ],
    );
    let mut ev = events(&env, "c");
    let mut ctl = Raw::connect(&env.sock("c"));
    ctl.send(0x01, b"go\n");
    let e = next_event(&mut ev, |e| e["type"] == "state" && e["new"] != "idle");
    assert_eq!(e["new"], "tool_use", "{e}");
    assert_eq!(e["classifier"], "claude");
    assert_eq!(ctl.status().3, 0x03, "STATUS says tool use");
    next_event(&mut ev, |e| is_state(e, "idle"));
}

#[test]
fn none_is_always_idle() {
    let env = Env::new();
    env.start("n", &["--classifier", "none"], &["sh"]);
    let mut ctl = Raw::connect(&env.sock("n"));
    ctl.send(0x02, &[]);
    ctl.send(0x01, b"echo out-$((2+2))\n");
    ctl.read_output_until("output", |t| t.contains("out-4"));
    assert_eq!(ctl.status().3, 0x00);
}

#[test]
fn config_table_and_flag_override() {
    let env = Env::new();
    let cfg = env.config(
        "c.toml",
        "[classifier.claude]\nidle_threshold_ms = 9000\ndebounce_ms = 10\n",
    );
    let cfg = cfg.as_str();
    // A parameter flag without --classifier keeps the configured classifier.
    let out = env.ok(&[
        "--config",
        cfg,
        "start",
        "--id",
        "t",
        "--idle-threshold-ms",
        "200",
        "--",
        "env",
        "PS1=",
        "sh",
    ]);
    assert_eq!(out.trim(), "t");
    let hello = Raw::connect(&env.sock("t")).hello();
    assert_eq!(hello["session"]["classifier"], "claude");
    let mut ctl = Raw::connect(&env.sock("t"));
    // The shell's start-up output settles first, so the echo below is what
    // leaves idle (a state that never changes sends no event).
    common::poll("idle", common::DEADLINE, || {
        (ctl.status().3 == 0x00).then_some(())
    });
    let mut ev = events(&env, "t");
    ctl.send(0x01, b"echo x\n");
    next_event(&mut ev, |e| e["type"] == "state" && e["new"] != "idle");
    // Idle after 200 ms, not 9 s.
    let t = std::time::Instant::now();
    next_event(&mut ev, |e| is_state(e, "idle"));
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
}
