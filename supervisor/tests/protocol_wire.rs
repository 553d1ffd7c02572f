//! The protocol as docs/protocol.md describes it, spoken from raw bytes
//! (as a client in another language would): requests written together in
//! one write are handled in order, with what the document promises.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{Env, Raw};

/// The bytes of one frame.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// EVENTS streams events "from then on": a RESIZE written right behind it
/// (in the same write) gives its `resize` event. (The event stream used to
/// start only when the connection's writer got to it, after the RESIZE
/// had been applied: its event was lost every time.)
#[test]
fn events_then_a_resize_in_one_write_gives_the_resize_event() {
    let env = Env::new();
    env.start("ev", &["--cols", "80", "--rows", "24"], &["sleep", "100"]);
    for cols in [50u16, 51, 52] {
        let mut c = Raw::connect(&env.sock("ev"));
        c.hello();
        let mut bytes = frame(0x09, &[]);
        bytes.extend(frame(0x04, &[&cols.to_be_bytes()[..], &[0, 20]].concat()));
        bytes.extend(frame(0x03, &[]));
        c.s.write_all(&bytes).expect("write");
        // The STATUS answer, then the event (answers go first).
        c.set_timeout(Duration::from_secs(10));
        let mut seen = Vec::new();
        loop {
            let (k, p) = c.recv().expect("the connection stays open");
            if k == 0x86 {
                let e: serde_json::Value = serde_json::from_slice(&p).expect("event json");
                if e["type"] == "resize" {
                    assert_eq!(
                        (e["cols"].as_u64(), e["rows"].as_u64()),
                        (Some(cols.into()), Some(20))
                    );
                    break;
                }
            }
            seen.push(k);
            assert!(seen.len() < 20, "no resize event, only frames {seen:02x?}");
        }
    }
}

/// The ERROR `malformed` of a payload that is not a JSON object carries no
/// `id` (a JSON array's first number used to be taken for one, so a
/// client with request 7 in flight would take the error for its own);
/// an object's unsigned integer `id` is repeated.
#[test]
fn a_malformed_request_repeats_only_an_objects_id() {
    let env = Env::new();
    env.start("ids", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("ids"));
    c.hello();
    for (payload, id) in [
        (&b"[7]"[..], None),
        (br#"[7, {"id": 8}]"#, None),
        (br#"{"id": 9, "format": "html"}"#, Some(9)),
        (br#"{"id": -1}"#, None),
    ] {
        c.send(0x07, payload);
        let (k, p) = c.recv().expect("an answer");
        assert_eq!(k, 0x8F, "ERROR for {:?}", String::from_utf8_lossy(payload));
        let e: serde_json::Value = serde_json::from_slice(&p).expect("error json");
        assert_eq!(e["error"], "malformed");
        assert_eq!(e["id"].as_u64(), id, "{e}");
    }
}

/// A client that asks and never reads is cut off once 64 small answers
/// wait beyond its socket's buffer, long before 1 MiB of them: its last
/// frame is ERROR `not_reading`, whose message says how many bytes waited
/// (it used to say 1 MiB, whatever waited).
#[test]
fn a_client_cut_off_for_not_reading_is_told_what_waited() {
    let env = Env::new();
    env.start("deaf", &[], &["sleep", "1000"]);
    let mut c = Raw::connect(&env.sock("deaf"));
    c.hello();
    let screen = frame(0x07, &[]);
    let mut sent = 0;
    while c.s.write_all(&screen).is_ok() {
        sent += 1;
        assert!(sent < 1_000_000, "the connection was never cut off");
    }
    let (mut answers, mut bytes, mut last) = (0, 0, None);
    while let Some((kind, payload)) = c.recv() {
        if kind == 0x85 {
            answers += 1;
            bytes += 5 + payload.len();
        }
        last = Some((kind, payload));
    }
    let (kind, payload) = last.expect("frames before the close");
    assert_eq!(kind, 0x8F, "ERROR last, after {answers} answers");
    let v: serde_json::Value = serde_json::from_slice(&payload).expect("error json");
    assert_eq!(v["error"], "not_reading", "{v}");
    let message = v["message"].as_str().expect("message");
    let waited: usize = message
        .split_once('(')
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {message:?}"));
    assert!(
        bytes + waited < 1 << 20,
        "{answers} answers ({bytes} bytes) read; {message}"
    );
    assert!(waited > 0, "{message}");
}

/// SUBSCRIBE_FROM an offset older than `scrollback_offset` whose bytes are
/// still kept (the live window) replays them, without EVENT `skipped`
/// (protocol.md said `skipped` came for any offset before the scrollback).
#[test]
fn subscribe_from_before_the_scrollback_replays_what_is_kept() {
    let env = Env::new();
    env.start(
        "back",
        &["--scrollback-bytes", "1024"],
        &["sh", "-c", "seq 1 2000; exec sleep 100"],
    );
    let mut watcher = Raw::connect(&env.sock("back"));
    watcher.hello();
    watcher.send(0x0A, &0u64.to_be_bytes());
    watcher.read_output_until("the last number", |t| t.contains("\n2000\r\n"));
    let mut c = Raw::connect(&env.sock("back"));
    let hello = c.hello();
    let scrollback = hello["scrollback_offset"]
        .as_u64()
        .expect("scrollback_offset");
    assert!(
        scrollback > 0,
        "the output is longer than the scrollback: {hello}"
    );
    c.send(0x0A, &0u64.to_be_bytes());
    let (kind, payload) = c.recv().expect("the replay");
    assert_eq!(
        kind,
        0x81,
        "OUTPUT first, no event: {:?}",
        String::from_utf8_lossy(&payload)
    );
    assert!(payload.starts_with(b"1\r\n2\r\n"), "from offset 0");
}

/// Any JSON object is a HELLO: one whose fields have other types (a
/// Python client's `2.0`) is answered, not ignored (its client used to
/// wait for a HELLO_RESP that never came).
#[test]
fn a_hello_with_fields_of_other_types_is_answered() {
    let env = Env::new();
    env.start("hi", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("hi"));
    c.send(0x06, br#"{"client": 5, "protocol": 2.0, "viewer": "yes"}"#);
    c.set_timeout(Duration::from_secs(10));
    let (kind, payload) = c.recv().expect("an answer");
    assert_eq!(kind, 0x84, "{:?}", String::from_utf8_lossy(&payload));
    let hello: serde_json::Value = serde_json::from_slice(&payload).expect("json");
    assert_eq!(hello["protocol"], 2);
    assert!(hello.get("viewers").is_none(), "not a viewer: {hello}");
}
