//! The output flow: gap-free seam between replay and live output, every byte
//! to subscribers that keep up, stalled subscribers cut loose with bounded
//! memory, and INPUT written completely to a slow reader.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{rss_kib, Env, Raw, DEADLINE};

/// Parse `\r\n`-separated numbers, dropping the first (possibly partial) line
/// and the last (possibly unterminated) one.
fn numbers(text: &str) -> Vec<u64> {
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    lines.pop();
    lines
        .into_iter()
        .skip(1)
        .filter_map(|l| l.parse().ok())
        .collect()
}

fn assert_contiguous(ns: &[u64]) {
    assert!(ns.len() > 1000, "too few lines: {}", ns.len());
    for w in ns.windows(2) {
        assert_eq!(
            w[1],
            w[0] + 1,
            "gap or duplicate between {} and {}",
            w[0],
            w[1]
        );
    }
}

const COUNTER: &str = "import sys\ni = 0\nwhile True:\n    sys.stdout.write(''.join('%d\\n' % n for n in range(i, i + 500)))\n    sys.stdout.flush()\n    i += 500\n";

#[test]
fn replay_and_live_join_without_gap_under_a_fast_writer() {
    let env = Env::new();
    env.start(
        "seam",
        &["--scrollback-bytes", "65536"],
        &["python3", "-c", COUNTER],
    );
    // Let the writer get well past the scrollback size first.
    let mut probe = Raw::connect(&env.sock("seam"));
    common::poll("output beyond the scrollback", DEADLINE, || {
        (probe.hello()["output_offset"].as_u64().unwrap_or(0) > 300_000).then_some(())
    });
    // SUBSCRIBE (1.0) and SUBSCRIBE_FROM (offset) mid-stream.
    let mut a = Raw::connect(&env.sock("seam"));
    a.send(0x02, &[]);
    let mut b = Raw::connect(&env.sock("seam"));
    let off = b.hello()["output_offset"].as_u64().unwrap();
    b.send(0x0A, &off.to_be_bytes());
    let readers: Vec<_> = [a, b]
        .into_iter()
        .map(|mut c| {
            std::thread::spawn(move || {
                let text = c.read_output_until("2 MB of numbers", |t| t.len() > 2_000_000);
                assert_contiguous(&numbers(&text));
            })
        })
        .collect();
    for r in readers {
        r.join().unwrap();
    }
}

/// A child that waits for a newline, then writes `n` bytes with output
/// post-processing off (so bytes written = bytes read from the pty).
fn flood_cmd(n: u64) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("stty raw -echo; head -c 1 >/dev/null; head -c {n} /dev/zero; sleep 0.2"),
    ]
}

fn drain_output(c: &mut Raw) -> (u64, Option<i32>, u64) {
    let (mut bytes, mut missed) = (0u64, 0u64);
    loop {
        match c.recv() {
            Some((0x81, p)) => bytes += p.len() as u64,
            Some((0x83, p)) => {
                return (
                    bytes,
                    Some(i32::from_be_bytes([p[0], p[1], p[2], p[3]])),
                    missed,
                )
            }
            Some((0x86, p)) => {
                let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
                if e["type"] == "lagged" {
                    missed += e["missed_bytes"].as_u64().unwrap();
                }
            }
            Some(_) => {}
            None => return (bytes, None, missed),
        }
    }
}

#[test]
fn stalled_subscribers_do_not_hold_the_child_and_others_get_every_byte() {
    const N: u64 = 96 << 20;
    let env = Env::new();
    let cmd = flood_cmd(N);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    // Stalled after 5 s without progress (not the default 0.5 s): a fast
    // reader paused that long by a loaded machine would be cut loose too,
    // and bytes it misses then would say nothing about the ring.
    let config = env.config("stall.toml", "stall_timeout_ms = 5000\n");
    let config = config.as_str();
    env.start(
        "flood",
        &["--config", config, "--scrollback-bytes", "65536"],
        &cmd,
    );
    let (sup, shell) = env.pids("flood");
    // Stalled: a 1.0 subscriber and a HELLO subscriber that never read.
    let mut stalled_old = Raw::connect(&env.sock("flood"));
    stalled_old.send(0x02, &[]);
    let mut stalled_new = Raw::connect(&env.sock("flood"));
    stalled_new.hello();
    stalled_new.send(0x02, &[]);
    // Two subscribers that keep up.
    let mut fast = Raw::connect(&env.sock("flood"));
    fast.hello();
    fast.send(0x02, &[]);
    let mut fast_old = Raw::connect(&env.sock("flood"));
    fast_old.send(0x02, &[]);
    let fast_old_thread = std::thread::spawn(move || drain_output(&mut fast_old));
    // Go, once the terminal is raw (the key is not echoed).
    common::wait_for_child_running(shell, &["head", "-c", "1"]);
    let mut ctl = Raw::connect(&env.sock("flood"));
    ctl.send(0x01, b"\n");
    let started = Instant::now();
    let peak = std::thread::spawn(move || {
        let mut peak = 0;
        while common::alive(sup) {
            peak = peak.max(rss_kib(sup).0);
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let (bytes, code, missed) = drain_output(&mut fast);
    assert_eq!(
        (bytes, missed),
        (N, 0),
        "the fast HELLO subscriber got every byte (bytes, missed; after {:?})",
        started.elapsed()
    );
    assert_eq!(code, Some(0));
    let (bytes_old, code_old, _) = fast_old_thread.join().unwrap();
    assert_eq!(bytes_old, N, "the fast 1.0 subscriber got every byte");
    assert_eq!(code_old, Some(0));
    assert!(started.elapsed() < Duration::from_secs(60));

    // The stalled HELLO client: told exactly what it missed, stream continues.
    let (got, code, missed) = drain_output(&mut stalled_new);
    assert!(missed > 0, "lagged events report the missed bytes");
    assert_eq!(got + missed, N, "received + missed = written");
    assert_eq!(code, Some(0));
    // The stalled 1.0 client: disconnected, never fed a hole (a prefix, no EXIT).
    let (got_old, code_old, _) = drain_output(&mut stalled_old);
    assert!(got_old < N);
    assert_eq!(code_old, None, "a lagging 1.0 client is disconnected");

    let peak_kib = peak.join().unwrap();
    eprintln!("supervisor peak RSS during the flood: {peak_kib} KiB");
    assert!(peak_kib < 40 * 1024, "RSS stayed bounded: {peak_kib} KiB");
}

#[test]
fn one_mebibyte_input_reaches_a_slow_reader_intact() {
    const N: usize = 1 << 20;
    let env = Env::new();
    let reader = format!(
        "import hashlib, os, sys, time, tty\ntty.setraw(0)\nh = hashlib.sha256()\nn = 0\nwhile n < {N}:\n    b = os.read(0, 4096)\n    h.update(b)\n    n += len(b)\n    time.sleep(0.001)\nos.write(1, ('DONE %d %s\\r\\n' % (n, h.hexdigest())).encode())\ntime.sleep(0.5)\n"
    );
    env.start("in", &[], &["python3", "-c", &reader]);
    let payload: Vec<u8> = (0..N).map(|i| (i * 7 + i / 4096) as u8).collect();
    let expected = {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&payload)?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let mut sub = Raw::connect(&env.sock("in"));
    sub.send(0x02, &[]);
    // Wait for the reader to have set raw mode (its first read is pending).
    std::thread::sleep(Duration::from_millis(300));
    let mut writer = Raw::connect(&env.sock("in"));
    writer.send(0x01, &payload);
    // Meanwhile other clients are served at once.
    let t = Instant::now();
    let mut other = Raw::connect(&env.sock("in"));
    assert!(other.status().2);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "STATUS waited {:?}",
        t.elapsed()
    );
    let text = sub.read_output_until("the digest", |t| t.contains("DONE") && t.ends_with("\r\n"));
    assert!(
        text.contains(&format!("DONE {N} {expected}")),
        "got {text:?}"
    );
    drop(writer);
    let mut buf = Vec::new();
    let _ = other.s.read_to_end(&mut buf);
}

/// Output after a flood, and in the moments a flood is ending, still
/// reaches the subscribers: the pty, read on the flood's own thread, goes
/// back to the runtime, round after round.
#[test]
fn keystrokes_after_floods_are_answered() {
    const ROUNDS: usize = 5;
    let script = format!(
        "import sys\nfor r in range({ROUNDS}):\n    sys.stdout.write('x' * 3000000 + '\\nREADY %d\\n' % r)\n    sys.stdout.flush()\n    line = sys.stdin.readline()\n    sys.stdout.write('GOT ' + line)\n    sys.stdout.flush()\n"
    );
    let env = Env::new();
    env.start("after", &[], &["python3", "-c", &script]);
    let mut c = Raw::connect(&env.sock("after"));
    c.hello();
    c.send(0x02, &[]);
    let mut input = Raw::connect(&env.sock("after"));
    for r in 0..ROUNDS {
        c.read_output_until(&format!("READY {r}"), |t| {
            t.contains(&format!("READY {r}\r\n"))
        });
        input.send(0x01, format!("ping {r}\n").as_bytes());
        c.read_output_until(&format!("GOT ping {r}"), |t| {
            t.contains(&format!("GOT ping {r}"))
        });
    }
}

/// An answer whose last pty read is a full one (here each key is answered
/// with exactly the 4095 bytes one read of the pty takes) looks like the
/// start of a flood: it is gathered, not told at once. The subscribers must
/// still be told of it, within the gathering delay, when nothing follows:
/// for keys typed back to back (the flood's thread keeps the pty, and some
/// answer fills its read block) and for keys typed with pauses (each answer
/// starts in the runtime and the pty moves to the flood's thread).
#[test]
fn an_answer_that_ends_on_a_full_read_is_told() {
    let script = "import os, tty\ntty.setraw(0)\nos.write(1, b'READY')\nwhile True:\n    c = os.read(0, 1)\n    os.write(1, b'y' * 4094 + c)\n";
    let env = Env::new();
    env.start("full", &[], &["python3", "-c", script]);
    let mut c = Raw::connect(&env.sock("full"));
    c.hello();
    c.send(0x02, &[]);
    c.read_output_until("READY", |t| t.contains("READY"));
    let mut input = Raw::connect(&env.sock("full"));
    // 40 keys back to back, then 10 after a pause longer than a flood's
    // quiet time (the pause is the typist's, not a wait for the session).
    for r in 0..50 {
        if r >= 40 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let key = char::from(b'a' + (r % 26) as u8);
        let started = Instant::now();
        input.send(0x01, key.to_string().as_bytes());
        c.read_output_until(&format!("the answer to key {r} ({key:?})"), |t| {
            t.len() >= 4095 && t.ends_with(key)
        });
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "key {r}: the answer took {:?}",
            started.elapsed()
        );
    }
}

/// A terminal query is answered however the pty's reads cut it: when its
/// `ESC` ends one chunk of output and the rest starts the next (a read
/// block or a pty read ends inside it, or the program wrote it in two
/// pieces), at the end of a large answer or of a short one. (The program
/// would otherwise wait for an answer that never comes.)
#[test]
fn a_query_cut_between_two_reads_is_answered() {
    let script = r#"
import os, select, time, tty
tty.setraw(0)
os.write(1, b"READY")
os.read(0, 1)
for filler in (10, 70000):
    for q in (b"\x1b[6n", b"\x1b[?6n"):
        for cut in range(1, len(q)):
            os.write(1, b"y" * filler + q[:cut])
            time.sleep(0.01)
            os.write(1, q[cut:])
            got = b""
            while not got.endswith(b"R"):
                r, _, _ = select.select([0], [], [], 1)
                if not r:
                    break
                got += os.read(0, 64)
            verdict = b"answered" if got.endswith(b"R") else b"unanswered"
            os.write(1, b"<%d %r:%s>" % (filler, q[:cut], verdict))
os.write(1, b"DONE")
select.select([0], [], [], 100)
"#;
    let env = Env::new();
    env.start("cut", &[], &["python3", "-c", script]);
    let mut c = Raw::connect(&env.sock("cut"));
    c.hello();
    c.send(0x02, &[]);
    c.read_output_until("READY", |t| t.contains("READY"));
    c.send(0x01, b"g");
    let text = c.read_output_until("every query's verdict", |t| t.contains("DONE"));
    let unanswered: Vec<&str> = text
        .split('<')
        .filter_map(|v| v.split_once(":unanswered>"))
        .map(|(n, _)| n)
        .collect();
    assert!(
        unanswered.is_empty(),
        "queries cut after these bytes went unanswered: {unanswered:?}"
    );
}
