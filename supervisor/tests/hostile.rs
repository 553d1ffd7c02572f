//! Hostile or broken clients cost only their own connection.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{poll, Env, Raw, DEADLINE};

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn still_serving(env: &Env, id: &str) {
    let mut c = Raw::connect(&env.sock(id));
    assert!(c.status().2, "the session still answers and is alive");
}

#[test]
fn garbage_bytes_cost_only_that_connection() {
    let env = Env::new();
    env.start("g", &[], &["sleep", "100"]);
    let mut watcher = Raw::connect(&env.sock("g"));
    watcher.send(0x02, &[]);
    let mut seed: u64 = 0x9E3779B97F4A7C15;
    for round in 0..50 {
        let mut s = UnixStream::connect(env.sock("g")).unwrap();
        let junk: Vec<u8> = (0..(round * 97 + 13))
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = s.write_all(&junk);
    }
    still_serving(&env, "g");
    assert!(
        watcher.status().2,
        "an unrelated client keeps its connection"
    );
}

#[test]
fn oversized_length_closes_that_connection_with_an_error_for_hello_clients() {
    let env = Env::new();
    env.start("big", &[], &["sleep", "100"]);
    // A 1.0 client: closed, nothing sent.
    let mut old = Raw::connect(&env.sock("big"));
    old.s.write_all(&[0x01, 0x00, 0x10, 0x00, 0x01]).unwrap();
    assert!(old.recv().is_none(), "closed without a frame");
    // A HELLO client: ERROR too_large, then closed.
    let mut new = Raw::connect(&env.sock("big"));
    new.hello();
    new.s.write_all(&[0x01, 0x7F, 0xFF, 0xFF, 0xFF]).unwrap();
    let (k, p) = new.recv().expect("error frame");
    assert_eq!(k, 0x8F);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["error"], "too_large");
    assert!(new.recv().is_none());
    still_serving(&env, "big");
}

#[test]
fn half_frame_then_silence_blocks_nobody() {
    let env = Env::new();
    env.start("half", &[], &["sh"]);
    let mut half = Raw::connect(&env.sock("half"));
    half.s.write_all(&[0x01, 0x00, 0x00]).unwrap();
    let mut half2 = Raw::connect(&env.sock("half"));
    half2
        .s
        .write_all(&[0x01, 0x00, 0x00, 0x10, 0x00, b'x'])
        .unwrap();
    let mut c = Raw::connect(&env.sock("half"));
    c.send(0x02, &[]);
    c.send(0x01, b"echo still-$((40+2))\n");
    c.read_output_until("echo", |t| t.contains("still-42"));
    drop(half);
    drop(half2);
}

#[test]
fn a_thousand_connections_opened_and_dropped() {
    let env = Env::new();
    env.start("many", &[], &["sleep", "100"]);
    let (sup, _) = env.pids("many");
    let before = fd_count(sup);
    for i in 0..1000 {
        let mut s = UnixStream::connect(env.sock("many")).unwrap();
        match i % 3 {
            0 => {}
            1 => {
                let mut b = [0u8; 1];
                s.set_read_timeout(Some(DEADLINE)).unwrap();
                s.read_exact(&mut b).unwrap();
            }
            _ => {
                let _ = s.write_all(&[0x02, 0, 0, 0, 0, 0x03, 0, 0, 0, 0]);
            }
        }
    }
    still_serving(&env, "many");
    let mut last = 0;
    let released = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll("connections to be released", DEADLINE, || {
            last = fd_count(sup);
            (last <= before + 2).then_some(())
        })
    }));
    if released.is_err() {
        let fds: Vec<String> = std::fs::read_dir(format!("/proc/{sup}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            .collect();
        panic!("fds before {before}, now {last}: {fds:?}");
    }
}

#[test]
fn unknown_types_keep_the_connection() {
    let env = Env::new();
    env.start("u", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("u"));
    c.hello();
    for t in [0x0Du8, 0x40, 0x7F, 0x81, 0xFF] {
        c.send(t, b"payload");
        let (k, p) = c.recv().expect("error");
        assert_eq!(k, 0x8F);
        let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(e["error"], "unknown_type");
    }
    // Malformed extension payloads get ERROR malformed.
    c.send(0x0A, &[1, 2]);
    let (k, _) = c.recv().expect("error");
    assert_eq!(k, 0x8F);
    c.set_timeout(Duration::from_secs(10));
    assert!(c.status().2);
}

#[test]
fn absurd_sizes_and_request_floods_are_refused() {
    let env = Env::new();
    env.start("huge", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("huge"));
    c.hello();
    c.send(0x04, &[0xFF, 0xFF, 0xFF, 0xFF]);
    let (k, p) = c.recv().expect("error");
    assert_eq!(k, 0x8F);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["error"], "malformed");
    for _ in 0..70 {
        c.send(0x0C, br#"{"until": "exit"}"#);
    }
    let (k, p) = c.recv().expect("busy");
    assert_eq!(k, 0x8F);
    let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
    assert_eq!(e["error"], "busy");
    still_serving(&env, "huge");
}
