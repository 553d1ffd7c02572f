//! Regression tests for issue #8's output, connection and protocol items:
//! each test names the item it covers. They run the real `hm`, with raw
//! socket clients written from the wire format alone.

mod common;

use std::time::Duration;

use common::{poll, Env, Raw, DEADLINE};
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

/// Item 23: a reply carries `id` only when its request had one — never
/// `"id": null` (RESULTs of SIGNAL, SUBMIT, WAIT, EXPLAIN, REPORT; SCREEN_RESP;
/// ERRORs).
#[test]
fn item23_replies_to_requests_without_id_carry_no_id() {
    let env = Env::new();
    env.start("noid", &[], &["cat"]);
    let mut c = Raw::connect(&env.sock("noid"));
    c.hello();
    let requests: [(u8, &[u8], u8); 8] = [
        (0x08, br#"{"signal": "WINCH"}"#, 0x87),
        (0x20, br#"{}"#, 0x87),
        (0x21, br#"{"state": "active"}"#, 0x87),
        (0x0C, br#"{"until": "idle", "idle_ms": 1}"#, 0x87),
        (0x0B, br#"{"text": "typed", "timeout_ms": 1}"#, 0x87),
        (0x07, br#"{}"#, 0x85),
        (0x0C, br#"{"until": "regex", "pattern": "("}"#, 0x8F),
        (0x08, br#"{"signal": "NOSUCH"}"#, 0x8F),
    ];
    for (kind, payload, answer) in requests {
        c.send(kind, payload);
        let v = recv_json(&mut c, "the answer", answer, |_| true);
        assert!(
            v.get("id").is_none(),
            "request 0x{kind:02x} {}: {v}",
            String::from_utf8_lossy(payload)
        );
    }
    // With an id, each repeats it.
    for (i, (kind, payload, answer)) in requests.iter().enumerate() {
        let mut v: Value = serde_json::from_slice(payload).expect("json");
        v["id"] = (100 + i).into();
        c.send(*kind, v.to_string().as_bytes());
        let v = recv_json(&mut c, "the answer", *answer, |_| true);
        assert_eq!(v["id"], 100 + i, "request 0x{kind:02x}: {v}");
    }
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
    assert!(v.get("id").is_none(), "{v}");
    let (_, _, alive, _, _) = c.status();
    assert!(alive);
}

/// Processes in session `sid` whose command line is exactly `argv`.
fn procs_in_session(sid: i32, argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // state ppid pgrp session
        let session: Option<i32> = rest.split_whitespace().nth(3).and_then(|s| s.parse().ok());
        if session != Some(sid) || !common::alive(pid) {
            continue;
        }
        if std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .as_deref()
            == Some(&want[..])
        {
            found.push(pid);
        }
    }
    found
}

/// Item 10: `hm signal ID INT` reaches the terminal's foreground job (what
/// Ctrl-C reaches), not just the shell's process group; `--group` (and
/// `"target": "group"`) still signal the child's group.
#[test]
fn item10_signal_reaches_the_foreground_job() {
    let env = Env::new();
    env.start("fg", &[], &["bash", "--norc", "--noprofile", "-i"]);
    let (_, shell) = env.pids("fg");
    let mut c = Raw::connect(&env.sock("fg"));
    c.hello();
    c.send(0x01, b"sleep 77\r");
    let sleeper = poll("the foreground sleep", DEADLINE, || {
        procs_in_session(shell, &["sleep", "77"]).first().copied()
    });
    // The shell put the job in its own process group, in the foreground.
    let out = env.ok(&["signal", "fg", "INT", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("signal json");
    assert_eq!(v["target"], "foreground", "{v}");
    assert_ne!(v["pgid"].as_i64(), Some(shell as i64), "{v}");
    poll("the job to be interrupted", DEADLINE, || {
        (!common::alive(sleeper)).then_some(())
    });
    assert!(
        common::alive(shell),
        "the interactive shell survives Ctrl-C"
    );
    env.ok(&["send", "fg", "echo back-at-$((40+2))\r"]);
    env.wait_screen("fg", "^back-at-42");

    // The child's own group on request.
    c.send(0x08, br#"{"signal": "WINCH", "target": "group", "id": 3}"#);
    let v = recv_json(&mut c, "RESULT", 0x87, |v| v["id"] == 3);
    assert_eq!(v["target"], "group", "{v}");
    assert_eq!(v["pgid"].as_i64(), Some(shell as i64), "{v}");
    let out = env.ok(&["signal", "fg", "WINCH", "--group", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("signal json");
    assert_eq!(v["pgid"].as_i64(), Some(shell as i64), "{v}");
}

/// Item 33: a SUBMIT whose client closes its connection at once still types
/// the whole line and its Enter.
#[test]
fn item33_submit_completes_after_the_client_hangs_up() {
    let env = Env::new();
    env.start("sub", &[], &["bash", "--norc", "--noprofile", "-i"]);
    let mut c = Raw::connect(&env.sock("sub"));
    c.hello();
    // Wait for the prompt so the line goes to the shell's line editor.
    c.send(
        0x0C,
        br#"{"until": "regex", "pattern": "[$#] ?$", "timeout_ms": 20000, "id": 1}"#,
    );
    let v = recv_json(&mut c, "the prompt", 0x87, |v| v["id"] == 1);
    assert_eq!(v["ok"], true, "{v}");
    c.send(0x0B, br#"{"text": "echo submitted-$((6*7))", "id": 2}"#);
    drop(c);
    env.wait_screen("sub", "^submitted-42");
}

/// `hm start` with a config file holding `toml`.
fn start_with_config(env: &Env, id: &str, toml: &str, extra: &[&str], cmd: &[&str]) {
    let path = env.config(&format!("{id}.toml"), toml);
    let mut args = vec!["--config", path.as_str()];
    args.extend_from_slice(extra);
    env.start(id, &args, cmd);
}

/// A child that waits for a newline, then writes `n` bytes (no output
/// post-processing, so bytes written = bytes read from the pty) and exits.
fn flood(n: u64) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("stty raw -echo; head -c 1 >/dev/null; head -c {n} /dev/zero; sleep 0.2"),
    ]
}

/// Type the key that starts [`flood`]'s output in session `id`, once its
/// terminal is raw (the key is not echoed).
fn go(env: &Env, id: &str, c: &mut Raw) {
    let (_, shell) = env.pids(id);
    common::wait_for_child_running(shell, &["head", "-c", "1"]);
    c.send(0x01, b"\n");
}

/// What a paced reader saw.
#[derive(Debug, Default)]
struct Seen {
    output: u64,
    lagged: u64,
    exit: Option<i32>,
    closed: bool,
}

/// Read frames from `c` at no more than `rate` bytes per second, in small
/// pieces at a steady pace (a slow link), until `stop(seen)` or EOF.
fn read_paced(c: &mut Raw, rate: u64, stop: impl Fn(&Seen) -> bool) -> Seen {
    use std::io::Read;
    let start = std::time::Instant::now();
    let mut buf: Vec<u8> = Vec::new();
    let mut taken = 0u64;
    let mut seen = Seen::default();
    let mut piece = vec![0u8; 4096];
    loop {
        // Parse whole frames.
        while buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + len {
                break;
            }
            let payload = &buf[5..5 + len];
            match buf[0] {
                0x81 => seen.output += len as u64,
                0x83 => {
                    seen.exit = Some(i32::from_be_bytes([
                        payload[0], payload[1], payload[2], payload[3],
                    ]))
                }
                0x86 => {
                    let v: Value = serde_json::from_slice(payload).expect("event json");
                    if v["type"] == "lagged" {
                        seen.lagged += v["missed_bytes"].as_u64().unwrap_or(1).max(1);
                    }
                }
                _ => {}
            }
            buf.drain(..5 + len);
        }
        if stop(&seen) {
            return seen;
        }
        let allowed = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if allowed <= taken {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let want = ((allowed - taken) as usize).min(piece.len());
        match c.s.read(&mut piece[..want]) {
            Ok(0) => {
                seen.closed = true;
                return seen;
            }
            Ok(n) => {
                taken += n as u64;
                buf.extend_from_slice(&piece[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                seen.closed = true;
                return seen;
            }
            Err(e) => panic!("read: {e} after {seen:?}"),
        }
    }
}

/// Item 3: a subscriber that reads steadily but slowly (a slow link) makes
/// progress with every partial write and every byte it reads, so it is
/// never cut loose, even when one OUTPUT frame takes longer than the stall
/// timeout to deliver. (Progress was counted per completed frame of up to
/// 128 KiB: at 50 KB/s a frame takes 2.6 s, more than the 2.5 s stall
/// timeout here, and the reader was cut loose and missed output.)
#[test]
fn item3_a_steady_slow_reader_is_never_cut_loose() {
    let env = Env::new();
    let cmd = flood(8_000_000);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    start_with_config(
        &env,
        "slow",
        "live_window_bytes = 65536\nstall_timeout_ms = 2500\n",
        &["--scrollback-bytes", "65536"],
        &cmd,
    );
    let mut c = Raw::connect(&env.sock("slow"));
    c.hello();
    c.send(0x02, &[]);
    go(&env, "slow", &mut c);
    // 50 KB/s in 500-byte steps: 700 KB take 14 s, the session writes 8 MB
    // meanwhile if it may (it may not: the reader paces it).
    let seen = read_paced(&mut c, 50_000, |s| s.output >= 700_000 || s.lagged > 0);
    assert_eq!(seen.lagged, 0, "a steady reader was cut loose: {seen:?}");
    assert!(!seen.closed, "{seen:?}");
    assert!(seen.output >= 700_000, "{seen:?}");
}

/// Item 2: after the child exits, a subscriber still reading (here 2 MB
/// behind, at 400 KB/s) gets all the output and EXIT: the supervisor keeps
/// serving it (it used to close every connection 3 s after the exit).
#[test]
fn item2_a_reader_catching_up_after_the_exit_gets_everything_and_exit() {
    const N: u64 = 3_000_000;
    let env = Env::new();
    let cmd = flood(N);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    start_with_config(
        &env,
        "late",
        "live_window_bytes = 2097152\nstall_timeout_ms = 3000\n",
        &["--scrollback-bytes", "65536"],
        &cmd,
    );
    let mut c = Raw::connect(&env.sock("late"));
    c.hello();
    // From offset 0: every byte of the flood.
    c.send(0x0A, &0u64.to_be_bytes());
    go(&env, "late", &mut c);
    let seen = read_paced(&mut c, 400_000, |s| s.exit.is_some());
    assert_eq!(seen.lagged, 0, "{seen:?}");
    assert_eq!(seen.output, N, "every byte: {seen:?}");
    assert_eq!(seen.exit, Some(0), "EXIT after the output: {seen:?}");
}

/// Item 2: a subscriber that stops reading while the session ends is cut
/// loose (after the 3 s grace and the stall timeout), and a HELLO client is
/// told first: the frame being written is finished, then an EVENT `lagged`
/// with exactly the bytes it did not get and the end of the output. The
/// client reads nothing until the supervisor has gone, so how fast this
/// test runs does not matter.
#[test]
fn item2_a_stalled_subscriber_gets_lagged_before_it_is_cut_loose() {
    const N: u64 = 8_000_000;
    let env = Env::new();
    let cmd = flood(N);
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    start_with_config(&env, "stalled", "stall_timeout_ms = 500\n", &[], &cmd);
    let (sup, _) = env.pids("stalled");
    let mut c = Raw::connect(&env.sock("stalled"));
    c.hello();
    c.send(0x0A, &0u64.to_be_bytes());
    go(&env, "stalled", &mut c);
    poll("the supervisor to end", DEADLINE * 2, || {
        (!common::alive(sup)).then_some(())
    });
    let (mut output, mut last) = (0u64, None);
    while let Some((kind, payload)) = c.recv() {
        match kind {
            0x81 => output += payload.len() as u64,
            0x86 => last = Some(serde_json::from_slice::<Value>(&payload).expect("event json")),
            0x83 => panic!("a stalled client got EXIT after {output} bytes"),
            _ => {}
        }
    }
    let lagged = last.expect("an EVENT before the close");
    assert_eq!(lagged["type"], "lagged", "{lagged}");
    let missed = lagged["missed_bytes"].as_u64().expect("missed_bytes");
    let offset = lagged["offset"].as_u64().expect("offset");
    assert!(missed > 0, "{lagged}");
    assert_eq!(output + missed, offset, "missed_bytes is exact: {lagged}");
    // The flood, plus the newline's echo when it came before `stty -echo`.
    assert!((N..=N + 2).contains(&offset), "offset is the end: {lagged}");
}

/// Item 31: a HELLO client cut off for reading none of its answers gets an
/// ERROR `not_reading` after the answers already in its socket.
#[test]
fn item31_a_hello_client_cut_off_gets_not_reading_first() {
    use std::io::Write;
    let env = Env::new();
    start_with_config(
        &env,
        "deaf",
        "stall_timeout_ms = 500\n",
        &[],
        &["sleep", "1000"],
    );
    let mut c = Raw::connect(&env.sock("deaf"));
    c.hello();
    c.s.set_write_timeout(Some(DEADLINE)).unwrap();
    let req = br#"{"scrollback_lines": 0}"#;
    let mut frame = vec![0x07];
    frame.extend_from_slice(&(req.len() as u32).to_be_bytes());
    frame.extend_from_slice(req);
    // Ask, never read, until the supervisor hangs up.
    let mut sent = 0;
    let kind = loop {
        if let Err(e) = c.s.write_all(&frame) {
            break e.kind();
        }
        sent += 1;
        assert!(sent < 1_000_000, "the connection was never cut off");
    };
    assert!(
        matches!(
            kind,
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "cut off (got {kind:?})"
    );
    let (mut answers, mut last) = (0, None);
    while let Some((kind, payload)) = c.recv() {
        if kind == 0x85 {
            answers += 1;
        }
        last = Some((kind, payload));
    }
    let (kind, payload) = last.expect("frames before the close");
    assert_eq!(
        kind, 0x8F,
        "the last frame is an ERROR ({answers} answers before)"
    );
    let v: Value = serde_json::from_slice(&payload).expect("error json");
    assert_eq!(v["error"], "not_reading", "{v}");
    assert!(answers > 0);
    // The session itself is unharmed.
    let mut c = Raw::connect(&env.sock("deaf"));
    assert!(c.status().2);
}

/// Item 31: a connection that asks for large answers and never reads them
/// cannot grow the supervisor: its unread answers are bounded, then it is
/// cut off.
#[test]
fn item31_unread_answers_are_bounded_and_the_connection_cut() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    const CONNS: usize = 8;
    let env = Env::new();
    // 1000 lines of 190 columns in the screen's scrollback: each SCREEN
    // answer with scrollback is about 200 KB.
    env.start(
        "big",
        &["--cols", "200", "--rows", "50"],
        &[
            "sh",
            "-c",
            "yes \"$(printf '%0190d' 7)\" | head -n 1300; echo filled; sleep 1000",
        ],
    );
    env.wait_screen("big", "^filled");
    let (sup, _) = env.pids("big");
    let before = common::rss_kib(sup).0;
    let greedy: Vec<_> = (0..CONNS)
        .map(|_| {
            let mut c = Raw::connect(&env.sock("big"));
            c.hello();
            let small: libc::c_int = 4096;
            // SAFETY: setsockopt with a valid int on an open socket.
            unsafe {
                libc::setsockopt(
                    c.s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&small as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            c.s.set_write_timeout(Some(DEADLINE)).unwrap();
            std::thread::spawn(move || {
                let req = br#"{"scrollback_lines": 1000}"#;
                let mut frame = vec![0x07];
                frame.extend_from_slice(&(req.len() as u32).to_be_bytes());
                frame.extend_from_slice(req);
                // Ask, never read, until the supervisor hangs up.
                for _ in 0..100_000 {
                    if let Err(e) = c.s.write_all(&frame) {
                        return e.kind();
                    }
                }
                std::io::ErrorKind::Other
            })
        })
        .collect();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let peak = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                peak = peak.max(common::rss_kib(sup).0);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(common::rss_kib(sup).0)
        })
    };
    for g in greedy {
        let kind = g.join().unwrap();
        assert!(
            matches!(
                kind,
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "the connection was cut off (got {kind:?})"
        );
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let peak = peak.join().unwrap();
    eprintln!("supervisor RSS {before} KiB before, peak {peak} KiB");
    assert!(
        peak < before + 48 * 1024,
        "RSS stayed bounded: {before} KiB before, peak {peak} KiB"
    );
    // The session itself is unharmed.
    let mut c = Raw::connect(&env.sock("big"));
    assert!(c.status().2);
}

/// Item 11: an output-regex WAIT matches the decoded, escape-stripped
/// stream even when a UTF-8 character or an escape sequence is split
/// between two reads of the pty.
#[test]
fn item11_output_regex_sees_split_characters_and_escapes_whole() {
    let env = Env::new();
    env.start(
        "re",
        &[],
        &[
            "sh",
            "-c",
            "read x; printf 'caf\\303'; sleep 0.3; printf '\\251 DONE\\n'; \
             read y; printf '\\033[1'; sleep 0.3; printf 'mBOLD\\n'; printf 'END-MARK\\n'; \
             sleep 1000",
        ],
    );
    let mut c = Raw::connect(&env.sock("re"));
    c.hello();
    c.send(
        0x0C,
        r#"{"until": "regex", "source": "output", "pattern": "café DONE", "timeout_ms": 20000, "id": 1}"#.as_bytes(),
    );
    // WAIT is registered before the input: requests are handled in order.
    c.send(0x01, b"\n");
    let v = recv_json(&mut c, "the first WAIT", 0x87, |v| v["id"] == 1);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["match"], "café DONE", "{v}");
    c.send(
        0x0C,
        br#"{"until": "regex", "source": "output", "pattern": "mBOLD|END-MARK", "timeout_ms": 20000, "id": 2}"#,
    );
    c.send(0x01, b"\n");
    let v = recv_json(&mut c, "the second WAIT", 0x87, |v| v["id"] == 2);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        v["match"], "END-MARK",
        "ESC[1 + mBOLD is bold BOLD, not text: {v}"
    );
}
