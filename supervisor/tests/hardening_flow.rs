//! Regression tests for issue #8's output, connection and protocol items:
//! each test names the item it covers. They run the real `hm`, with raw
//! socket clients written from the wire format alone.

mod common;

use std::time::Duration;

use common::{Env, Raw};
use serde_json::Value;

/// Read frames until one of type `kind` whose JSON satisfies `pred`.
fn recv_json(c: &mut Raw, what: &str, kind: u8, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let (k, p) = c
            .recv()
            .unwrap_or_else(|| panic!("connection closed waiting for {what}"));
        if k == kind {
            let v: Value = serde_json::from_slice(&p).expect("json frame");
            if pred(&v) {
                return v;
            }
        }
    }
}

/// Item 12: named keys never panic on non-ASCII (`hm send --keys ID 日本`).
#[test]
fn item12_non_ascii_key_names_do_not_panic() {
    let env = Env::new();
    env.start("keys", &[], &["cat"]);
    for args in [
        &["send", "--keys", "keys", "日本"][..],
        &["send", "--keys", "keys", "C-日"][..],
        &["send", "--keys", "keys", "M-日本", "é"][..],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && out.status.code() != Some(101),
            "hm {args:?} panicked: {stderr}"
        );
    }
    // The session is unharmed and still takes input.
    env.ok(&["send", "keys", "still-here"]);
    env.wait_screen("keys", "still-here");
}

/// Item 14: an events-backlog overflow is its own event (`events_lagged`
/// with `missed_events`), not an output `lagged` with a count of events.
#[test]
fn item14_event_backlog_overflow_has_its_own_event() {
    let env = Env::new();
    env.start("ev", &[], &["sleep", "1000"]);
    let mut listener = Raw::connect(&env.sock("ev"));
    listener.hello();
    listener.send(0x09, &[]);
    // Make sure EVENTS is registered before the burst: a round trip.
    listener.send(0x07, br#"{"id": 1}"#);
    recv_json(&mut listener, "SCREEN_RESP", 0x85, |v| v["id"] == 1);
    // Thousands of resizes, each an event, while the listener reads nothing:
    // its socket buffer fills and its event backlog overflows.
    let mut ctl = Raw::connect(&env.sock("ev"));
    for i in 1..=6000u16 {
        let cols = 80 + (i % 2);
        let mut p = cols.to_be_bytes().to_vec();
        p.extend_from_slice(&24u16.to_be_bytes());
        ctl.send(0x04, &p);
    }
    // Requests are handled in order: once STATUS is answered, every resize
    // (and its event) has happened.
    ctl.status();
    let mut resizes = 0u64;
    let mut missed = 0u64;
    listener.set_timeout(Duration::from_secs(10));
    loop {
        let mut h = [0u8; 5];
        match std::io::Read::read_exact(&mut listener.s, &mut h) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("read: {e}"),
        }
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let mut p = vec![0u8; len];
        std::io::Read::read_exact(&mut listener.s, &mut p).expect("payload");
        if h[0] != 0x86 {
            continue;
        }
        let v: Value = serde_json::from_slice(&p).unwrap();
        match v["type"].as_str() {
            Some("resize") => resizes += 1,
            Some("events_lagged") => {
                let n = v["missed_events"].as_u64().expect("missed_events");
                assert!(n > 0, "{v}");
                missed += n;
            }
            Some("lagged") => panic!("an event gap reported as an output lag: {v}"),
            _ => {}
        }
        if resizes + missed >= 6000 {
            break;
        }
    }
    assert!(
        missed > 0,
        "the backlog overflowed ({resizes} resizes read)"
    );
    assert_eq!(resizes + missed, 6000, "events read + missed = events sent");
}

/// Item 28: a `malformed` ERROR repeats the request's id.
#[test]
fn item28_malformed_errors_echo_the_request_id() {
    let env = Env::new();
    env.start("ids", &[], &["sleep", "1000"]);
    let mut c = Raw::connect(&env.sock("ids"));
    c.hello();
    let cases: [(u8, &[u8]); 6] = [
        (0x0C, br#"{"id": 11}"#),
        (0x0B, br#"{"id": 12}"#),
        (0x0C, br#"{"id": 13, "until": "soon"}"#),
        (0x0C, br#"{"id": 14, "until": "state", "state": "sleepy"}"#),
        (0x0C, br#"{"id": 15, "until": "idle", "idle_ms": "x"}"#),
        (0x07, br#"{"id": 16, "format": "html"}"#),
    ];
    for (kind, payload) in cases {
        c.send(kind, payload);
    }
    let mut seen = Vec::new();
    for _ in 0..cases.len() {
        let v = recv_json(&mut c, "ERROR", 0x8F, |_| true);
        assert_eq!(v["error"], "malformed", "{v}");
        seen.push(v["id"].as_u64().unwrap_or_else(|| panic!("no id in {v}")));
    }
    assert_eq!(seen, [11, 12, 13, 14, 15, 16]);
    // Without an id there is none to repeat, and the connection still works.
    c.send(0x0C, br#"{"until": "soon"}"#);
    let v = recv_json(&mut c, "ERROR", 0x8F, |_| true);
    assert!(v.get("id").is_none() || v["id"].is_null(), "{v}");
    let (_, _, alive, _, _) = c.status();
    assert!(alive);
}
