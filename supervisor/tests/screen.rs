//! The screen model and the agent-grade requests: SCREEN, SUBMIT, WAIT,
//! EVENTS (title, bell), the final screen in the exit record, and the CLI
//! commands over them.

mod common;

use std::time::{Duration, Instant};

use common::{poll, Env, Raw, DEADLINE};
use serde_json::json;

fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn screen_of_a_full_screen_program_is_rendered() {
    let env = Env::new();
    let file = env.dir.path().join("notes.txt");
    std::fs::write(&file, "first line of the file\nsecond line\n").unwrap();
    env.start_vim("vim", &["--cols", "60", "--rows", "12"], &file);
    env.wait_screen("vim", "second line");
    let text = env.ok(&["screen", "vim"]);
    assert!(!text.contains('\x1b'), "no escape codes: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "first line of the file");
    assert_eq!(lines[1], "second line");
    assert!(lines[2].starts_with('~'), "{text}");
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["screen", "vim", "--json"])).unwrap();
    assert_eq!(v["alternate_screen"], true);
    assert_eq!(v["cols"], 60);
    assert_eq!(v["rows"], 12);
    assert_eq!(v["lines"].as_array().unwrap().len(), 12);
    assert_eq!(v["cursor"]["row"], 0);
    let ansi = env.ok(&["screen", "vim", "--ansi"]);
    assert!(ansi.contains("first line of the file"));
    // A resize reaches the model and the program.
    let mut c = Raw::connect(&env.sock("vim"));
    c.send(0x04, &[0, 70, 0, 14]);
    poll("the resized screen", DEADLINE, || {
        let v: serde_json::Value =
            serde_json::from_str(&env.ok(&["screen", "vim", "--json"])).ok()?;
        (v["cols"] == 70 && v["rows"] == 14).then_some(())
    });
}

#[test]
fn title_and_bell_events_and_scrollback() {
    let env = Env::new();
    env.start(
        "tb",
        &["--rows", "5"],
        &[
            "sh",
            "-c",
            // Three titles in one write: each change is an event.
            "read x; printf '\\033]2;first\\007\\033]0;second\\007\\033]2;build: done\\007'; printf 'ding\\a\\n'; seq 1 20; sleep 100",
        ],
    );
    let mut ev = Raw::connect(&env.sock("tb"));
    ev.hello();
    ev.send(0x09, &[]);
    // Handled in order: once STATUS is answered, EVENTS is in place.
    ev.send(0x03, &[]);
    while ev.recv().expect("STATUS_RESP after EVENTS").0 != 0x82 {}
    let mut ctl = Raw::connect(&env.sock("tb"));
    ctl.send(0x01, b"go\n");
    let (mut titles, mut bell) = (Vec::new(), false);
    while titles.last().map(String::as_str) != Some("build: done") || !bell {
        let (k, p) = ev.recv().expect("events");
        if k != 0x86 {
            continue;
        }
        let e: serde_json::Value = serde_json::from_slice(&p).unwrap();
        match e["type"].as_str() {
            Some("title") => titles.push(e["title"].as_str().unwrap().to_string()),
            Some("bell") => bell = true,
            _ => {}
        }
    }
    assert_eq!(titles, ["first", "second", "build: done"]);

    env.wait_screen("tb", "^20$");
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["screen", "tb", "--json", "--scrollback", "10"])).unwrap();
    assert_eq!(v["title"], "build: done");
    let sb: Vec<&str> = v["scrollback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(sb.len(), 10);
    assert_eq!(sb.last(), Some(&"16"), "{sb:?}");
    ctl.send(0x04, &[0, 90, 0, 7]);
    loop {
        let (k, p) = ev.recv().expect("events");
        let e: serde_json::Value = if k == 0x86 {
            serde_json::from_slice(&p).unwrap()
        } else {
            continue;
        };
        if e["type"] == "resize" {
            assert_eq!(
                (e["cols"].as_u64(), e["rows"].as_u64()),
                (Some(90), Some(7))
            );
            break;
        }
    }
}

#[test]
fn submit_runs_a_line_exactly_once_in_bash_python_and_vim() {
    let env = Env::new();
    let count = env.dir.path().join("count");
    let c = count.to_str().unwrap();
    // bash (bracketed paste on by default in bash 5.1+).
    env.start("bash", &[], &["bash", "--norc", "--noprofile"]);
    env.wait_screen("bash", r"[#$] ?$");
    env.ok(&["submit", "bash", &format!("echo from-bash >> {c}")]);
    poll("bash to run the line", DEADLINE, || {
        (lines_of(&count).len() == 1).then_some(())
    });
    // python3's REPL.
    env.start("py", &[], &["python3", "-q"]);
    env.wait_screen("py", ">>> ?$");
    let out: serde_json::Value = serde_json::from_str(&env.ok(&[
        "submit",
        "py",
        &format!("open({c:?}, 'a').write('from-python\\n')"),
        "--json",
    ]))
    .unwrap();
    assert_eq!(out["accepted"], true);
    poll("python to run the line", DEADLINE, || {
        (lines_of(&count).len() == 2).then_some(())
    });
    // vim in insert mode: a full-screen program with bracketed paste takes
    // two lines as one paste; back in normal mode, a line is typed, as a
    // person types `:wq` (pasted, vim would insert it as text).
    let file = env.dir.path().join("vim.txt");
    env.start_vim("vim", &[], &file);
    env.wait_screen("vim", "^~");
    env.ok(&["send", "vim", "i"]);
    env.wait_screen("vim", "INSERT");
    let out: serde_json::Value =
        serde_json::from_str(&env.ok(&["submit", "vim", "hello\nfrom vim", "--json"])).unwrap();
    assert_eq!(out["accepted"], true);
    assert_eq!(out["bracketed_paste"], true, "vim asks for bracketed paste");
    env.ok(&["send", "vim", "--keys", "Esc"]);
    let out: serde_json::Value =
        serde_json::from_str(&env.ok(&["submit", "vim", ":wq", "--json"])).unwrap();
    assert_eq!(out["bracketed_paste"], false, "one line is typed");
    let done = env.run(&["wait", "vim", "--exit", "--timeout", "20000"]);
    assert_eq!(done.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "hello\nfrom vim\n\n"
    );
    // Each line ran exactly once.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines_of(&count), vec!["from-bash", "from-python"]);
}

#[test]
fn wait_regex_idle_exit_and_timeout() {
    let env = Env::new();
    env.start(
        "w",
        &[],
        &["sh", "-c", "read x; echo ready-$((1+1)); read y; exit 9"],
    );
    let mut ctl = Raw::connect(&env.sock("w"));
    // Timeout: exit code 124.
    let t = Instant::now();
    let out = env.run(&["wait", "w", "--regex", "never-appears", "--timeout", "300"]);
    assert_eq!(out.status.code(), Some(124));
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Regex on the screen and on new output, waited for concurrently.
    let screen = {
        let mut cmd = env.hm();
        cmd.args(["wait", "w", "--regex", r"ready-\d", "--timeout", "20000"]);
        std::thread::spawn(move || cmd.output().unwrap())
    };
    // The output regex on the same connection as the input: requests are
    // handled in order, so the WAIT is in place before the input arrives
    // (a separate `hm wait --output` may start after the output was written).
    ctl.hello();
    ctl.send(
        0x0C,
        br#"{"until": "regex", "source": "output", "pattern": "ready-2", "timeout_ms": 20000, "id": 1}"#,
    );
    // A classifier state, the same way: "go" makes the session active for
    // the idle threshold (3 s), which a loaded machine may let pass before a
    // later `hm wait --state active` is in place.
    ctl.send(
        0x0C,
        br#"{"until": "state", "state": "active", "timeout_ms": 20000, "id": 2}"#,
    );
    ctl.send(0x01, b"go\n");
    let s = screen.join().unwrap();
    assert!(s.status.success());
    assert_eq!(String::from_utf8_lossy(&s.stdout).trim(), "ready-2");
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 2 {
        let (k, p) = ctl.recv().expect("the WAITs' answers");
        if k == 0x87 {
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            answers.insert(v["id"].as_u64().unwrap(), v);
        }
    }
    assert_eq!(answers[&1]["ok"], true, "{}", answers[&1]);
    assert_eq!(answers[&1]["match"], "ready-2");
    assert_eq!(answers[&2]["ok"], true, "{}", answers[&2]);
    assert_eq!(answers[&2]["state"], "active");
    let bad = env.run(&["wait", "w", "--state", "sleepy"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown state is a usage error"
    );
    // Idle.
    let out = env.run(&["wait", "w", "--idle", "200", "--json", "--timeout", "20000"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["silent_ms"].as_u64().unwrap() >= 200, "{v}");
    assert!(v.get("id").is_none(), "{v}");
    // Exit: hm wait exits with the child's code, also after the session is gone.
    let waiter = {
        let mut cmd = env.hm();
        cmd.args(["wait", "w", "--exit", "--timeout", "20000"]);
        std::thread::spawn(move || cmd.output().unwrap())
    };
    std::thread::sleep(Duration::from_millis(200));
    ctl.send(0x01, b"bye\n");
    assert_eq!(waiter.join().unwrap().status.code(), Some(9));
    env.wait_gone("w");
    assert_eq!(env.run(&["wait", "w", "--exit"]).status.code(), Some(9));
}

/// `hm wait --timeout MS` looks at the condition at least once, however
/// short MS is: `--timeout 0` asks "does it hold now?". The time spent
/// connecting used to be cut by the timeout as well, so a condition that
/// held all along was answered 124 for `--timeout 0` every time, and for
/// `--timeout 10` whenever connecting took longer.
#[test]
fn a_short_wait_timeout_still_looks_once() {
    let env = Env::new();
    env.start("now", &[], &["sh", "-c", "echo here-now; exec sleep 600"]);
    env.wait_screen("now", "here-now");
    for ms in ["0", "1", "10"] {
        for _ in 0..5 {
            let out = env.run(&["wait", "now", "--regex", "here-now", "--timeout", ms]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "--timeout {ms}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), "here-now\n");
        }
    }
    let out = env.run(&["wait", "now", "--regex", "never-there", "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(124));
    let out = env.run(&["wait", "now", "--idle", "0", "--timeout", "0", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = env.run(&["wait", "now", "--exit", "--timeout", "0"]);
    assert_eq!(out.status.code(), Some(124));
    env.ok(&["kill", "now"]);
}

#[test]
fn several_waits_on_one_connection_answer_by_id() {
    let env = Env::new();
    env.start(
        "many",
        &[],
        &["sh", "-c", "read x; echo one; read y; echo two; sleep 100"],
    );
    let mut c = Raw::connect(&env.sock("many"));
    c.hello();
    c.send(
        0x0C,
        br#"{"id": 1, "until": "regex", "pattern": "two", "source": "output"}"#,
    );
    c.send(
        0x0C,
        br#"{"id": 2, "until": "regex", "pattern": "one", "source": "output"}"#,
    );
    c.send(0x0C, br#"{"id": 3, "until": "exit", "timeout_ms": 200}"#);
    c.send(0x01, b"a\n");
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let (k, p) = c.recv().expect("result");
        if k == 0x87 {
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            answers.push((v["id"].as_u64().unwrap(), v["ok"].as_bool().unwrap()));
        }
    }
    answers.sort();
    assert_eq!(
        answers,
        vec![(2, true), (3, false)],
        "one matched, exit timed out"
    );
    c.send(0x01, b"b\n");
    loop {
        let (k, p) = c.recv().expect("result");
        if k == 0x87 {
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            assert_eq!(
                (v["id"].as_u64(), v["match"].as_str()),
                (Some(1), Some("two"))
            );
            break;
        }
    }
    // And many connections at once.
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let mut cmd = env.hm();
            cmd.args(["wait", "many", "--idle", "100", "--timeout", "20000"]);
            std::thread::spawn(move || cmd.output().unwrap().status.code())
        })
        .collect();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(0));
    }
}

/// Every WAIT and SUBMIT in flight when the program exits is answered
/// before the connection closes: `exited` with the code for the conditions
/// that can no longer hold (a screen regex too, which looks at the screen
/// at most every few milliseconds), the code for an exit wait, and the
/// SUBMIT (typed into a program that never reads) as taken by the exit, or
/// refused as `dead` when the exit came before its text was typed.
#[test]
fn requests_in_flight_are_answered_when_the_program_exits() {
    let env = Env::new();
    env.start(
        "end",
        &[],
        &["sh", "-c", "trap 'exit 4' USR1; while :; do sleep 1; done"],
    );
    let mut c = Raw::connect(&env.sock("end"));
    c.hello();
    let requests: [(u8, &[u8]); 7] = [
        (0x0C, br#"{"id": 1, "until": "regex", "pattern": "absent"}"#),
        (
            0x0C,
            br#"{"id": 2, "until": "regex", "pattern": "absent", "source": "output"}"#,
        ),
        (0x0C, br#"{"id": 3, "until": "idle", "idle_ms": 600000}"#),
        (0x0C, br#"{"id": 4, "until": "state", "state": "thinking"}"#),
        (0x0C, br#"{"id": 5, "until": "exit"}"#),
        (
            0x0B,
            br#"{"id": 6, "text": "never read", "timeout_ms": 600000}"#,
        ),
        // Handled after the others: they are in flight when it ends the program.
        (0x08, br#"{"id": 7, "signal": "USR1", "target": "group"}"#),
    ];
    for (kind, payload) in requests {
        c.send(kind, payload);
    }
    let mut answers = std::collections::BTreeMap::new();
    while let Some((k, p)) = c.recv() {
        if k == 0x87 || k == 0x8F {
            let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
            let answer = (v["ok"].clone(), v["error"].clone(), v["code"].clone());
            answers.insert(v["id"].as_u64().unwrap(), answer);
        }
    }
    let submitted = answers.remove(&6);
    let taken = (
        json!(true),
        serde_json::Value::Null,
        serde_json::Value::Null,
    );
    let refused = (
        serde_json::Value::Null,
        json!("dead"),
        serde_json::Value::Null,
    );
    assert!(
        submitted == Some(taken) || submitted == Some(refused),
        "the SUBMIT's answer: {submitted:?}"
    );
    let exited = (json!(false), json!("exited"), json!(4));
    let expected = std::collections::BTreeMap::from([
        (1, exited.clone()),
        (2, exited.clone()),
        (3, exited.clone()),
        (4, exited),
        (5, (json!(true), serde_json::Value::Null, json!(4))),
        (
            7,
            (
                json!(true),
                serde_json::Value::Null,
                serde_json::Value::Null,
            ),
        ),
    ]);
    assert_eq!(answers, expected);
}

fn error_of(c: &mut Raw) -> serde_json::Value {
    loop {
        let (k, p) = c.recv().expect("answer");
        if k == 0x8F {
            return serde_json::from_slice(&p).unwrap();
        }
        assert_ne!(k, 0x87, "expected an error, got a result");
    }
}

#[test]
fn bad_requests_get_errors_and_the_connection_stays() {
    let env = Env::new();
    env.start("bad", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("bad"));
    c.hello();
    c.send(0x0C, br#"{"until": "regex", "pattern": "(unclosed"}"#);
    let e = error_of(&mut c);
    assert_eq!(e["error"], "invalid_regex");
    assert!(e["message"].as_str().unwrap().contains("(unclosed"));
    c.send(0x0C, br#"{"timeout_ms": 100}"#);
    let e = error_of(&mut c);
    assert_eq!(e["error"], "malformed");
    assert!(e["message"].as_str().unwrap().contains("until"), "{e}");
    c.send(0x0B, b"{\"text\": \"\xff\xfe\"}");
    let e = error_of(&mut c);
    assert_eq!(e["error"], "malformed");
    assert!(e["message"].as_str().unwrap().contains("UTF-8"), "{e}");
    c.send(0x08, br#"{"signal": 12345}"#);
    assert_eq!(error_of(&mut c)["error"], "invalid_signal");
    assert!(c.status().2, "still connected, still alive");
}

#[test]
fn final_screen_survives_the_session() {
    let env = Env::new();
    env.start(
        "fin",
        &["--rows", "6"],
        &[
            "sh",
            "-c",
            "printf 'last words\\nof the program\\n'; exit 3",
        ],
    );
    env.wait_gone("fin");
    let text = env.ok(&["screen", "fin"]);
    assert_eq!(text, "last words\nof the program\n");
    let out = env.ok(&["tail", "fin"]);
    assert!(out.contains("of the program"));
}

#[test]
fn send_keys_tail_signal_and_events() {
    let env = Env::new();
    env.start("k", &[], &["bash", "--norc", "--noprofile"]);
    env.wait_screen("k", r"[#$] ?$");
    env.ok(&["send", "k", "echo first"]);
    env.ok(&["send", "k", "--keys", "Enter"]);
    env.wait_screen("k", "^first$");
    // Up recalls the last command (cursor keys in the program's mode).
    env.ok(&["send", "k", "--keys", "Up", "Enter"]);
    poll("the recalled command", DEADLINE, || {
        (env.ok(&["screen", "k"]).matches("\nfirst").count() >= 2).then_some(())
    });
    // C-c interrupts a foreground command.
    env.ok(&["send", "k", "sleep 1000"]);
    env.ok(&["send", "k", "--keys", "Enter"]);
    std::thread::sleep(Duration::from_millis(200));
    env.ok(&["send", "k", "--keys", "C-c"]);
    env.ok(&["submit", "k", "echo after-$((3*3))"]);
    env.wait_screen("k", "^after-9$");
    // tail --from resumes exactly where an offset points.
    let off = env.status_json("k")["output_offset"].as_u64().unwrap();
    env.ok(&["submit", "k", "echo resumed-here"]);
    env.wait_screen("k", "^resumed-here$");
    let tail = env.ok(&["tail", "k", "--from", &off.to_string()]);
    assert!(
        tail.contains("resumed-here") && !tail.contains("after-9"),
        "{tail:?}"
    );
    // Events stream as JSON lines; a signal ends the session.
    let events = env
        .hm()
        .args(["events", "k"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    env.ok(&["signal", "k", "HUP"]);
    let out = events.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let exit = lines
        .iter()
        .find(|e| e["type"] == "exit")
        .expect("an exit event");
    assert_eq!(exit["code"], 129);
    let bad = env.run(&["signal", "gone-already", "TERM"]);
    assert!(!bad.status.success());
}

/// `python3 examples/python/heimdall_client.py SOCKET TEXT`.
fn python_example(socket: &std::path::Path, text: &str) -> std::process::Output {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/python/heimdall_client.py"
    );
    std::process::Command::new("python3")
        .arg(script)
        .arg(socket)
        .arg(text)
        .output()
        .unwrap()
}

/// The example script fails as a command does: exit 1 and one line on
/// stderr saying what went wrong, never a Python traceback.
fn assert_fails_in_one_line(out: &std::process::Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(says), "{err}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn python_example_client_speaks_the_protocol() {
    let env = Env::new();
    env.start("pyc", &[], &["bash", "--norc", "--noprofile"]);
    env.wait_screen("pyc", r"[#$] ?$");
    let out = python_example(&env.sock("pyc"), "echo from-python-client-$((2*21))");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["session"], "pyc");
    assert_eq!(v["protocol"], 2);
    assert_eq!(v["submit"]["accepted"], true);
    assert_eq!(v["idle"]["ok"], true);
    assert_eq!(v["status"]["alive"], true);
    let screen: Vec<&str> = v["screen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(screen.contains(&"from-python-client-42"), "{screen:?}");
}

/// A wrong socket path and a session that ends during the script's calls
/// are errors of one line naming the path or the exit code.
#[test]
fn python_example_client_says_why_it_failed() {
    let env = Env::new();
    let wrong = env.sock("nonesuch");
    let out = python_example(&wrong, "true");
    assert_fails_in_one_line(&out, wrong.to_str().unwrap());
    env.start("pye", &[], &["bash", "--norc", "--noprofile"]);
    env.wait_screen("pye", r"[#$] ?$");
    let out = python_example(&env.sock("pye"), "exit 3");
    assert_fails_in_one_line(&out, "ended");
}

/// The example checks what docs/protocol.md tells clients to check before
/// trusting a socket: that its directory is the user's alone (whoever can
/// write there can put their own socket in a session's place). It
/// connected to any socket it was given.
#[test]
fn python_example_client_refuses_a_socket_dir_open_to_others() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.start("pyd", &[], &["sleep", "100"]);
    let mode = |m| std::fs::set_permissions(env.sockets(), std::fs::Permissions::from_mode(m));
    mode(0o770).unwrap();
    let out = python_example(&env.sock("pyd"), "true");
    mode(0o700).unwrap();
    assert_fails_in_one_line(&out, "socket directory");
    // A file that is no socket, or a link to one, is refused before connecting.
    let file = env.sockets().join("file.sock");
    std::fs::write(&file, b"").unwrap();
    let link = env.sockets().join("link.sock");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for path in [file, link] {
        assert_fails_in_one_line(&python_example(&path, "true"), "not a socket");
    }
}

/// After the session ended, `hm screen` answers from the exit record the
/// way it answered live: colours with `--ansi`, `--scrollback N`, and the
/// same JSON (size, cursor, title…) plus how it ended.
#[test]
fn the_final_screen_answers_like_a_live_one() {
    let env = Env::new();
    env.start(
        "fin",
        &["--rows", "8"],
        &[
            "sh",
            "-c",
            "seq 1 30; printf '\\033]2;done\\007\\033[31mred\\033[0m\\n'; exit 2",
        ],
    );
    let out = env.run(&["wait", "fin", "--exit"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    env.wait_gone("fin");
    let ansi = env.ok(&["screen", "fin", "--ansi"]);
    assert!(ansi.contains("\x1b[31mred"), "{ansi:?}");
    let text = env.ok(&["screen", "fin", "--scrollback", "3"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["22", "23", "24", "25", "26", "27", "28", "29", "30", "red"],
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["screen", "fin", "--json"])).unwrap();
    assert_eq!(
        (v["cols"].as_u64(), v["rows"].as_u64()),
        (Some(80), Some(8)),
        "{v}"
    );
    assert_eq!(v["cursor"]["row"], 7, "{v}");
    assert_eq!(v["title"], "done", "{v}");
    assert_eq!(
        (v["exited"].as_bool(), v["code"].as_i64()),
        (Some(true), Some(2)),
        "{v}"
    );
    assert!(v.get("scrollback").is_none(), "only when asked for: {v}");
}

/// `hm screen --ansi` prints each line so that a terminal shows it as the
/// program drew it, whatever line comes before: attributes set on one line
/// (a background erased to the line's end, bold red) never reach the next.
#[test]
fn ansi_lines_reset_their_attributes() {
    let env = Env::new();
    let draw =
        r"printf '\033[44mBLUE\033[K\033[0m\r\nplain\r\n\033[1;31mRED\033[0m\r\nnormal'; sleep 60";
    env.start(
        "ansi",
        &["--cols", "20", "--rows", "4"],
        &["sh", "-c", draw],
    );
    env.wait_screen("ansi", "normal");
    let ansi = env.ok(&["screen", "ansi", "--ansi"]);
    let lines: Vec<&str> = ansi.lines().take(4).collect();
    // Each line printed alone from the pen the line before left.
    let mut term = vt100::Parser::new(
        std::num::NonZeroU16::new(4).unwrap(),
        std::num::NonZeroU16::new(20).unwrap(),
        0,
    );
    for (row, line) in lines.iter().enumerate() {
        term.process(format!("\x1b[{};1H{line}", row + 1).as_bytes());
    }
    let s = term.screen();
    let pen = |row, col| {
        let c = s.cell(row, col).unwrap();
        (
            c.contents().trim().to_string(),
            c.bgcolor(),
            c.fgcolor(),
            c.bold(),
        )
    };
    use vt100::Color::{Default, Idx};
    assert_eq!(pen(0, 0), ("B".into(), Idx(4), Default, false), "{ansi:?}");
    assert_eq!(pen(0, 19), ("".into(), Idx(4), Default, false), "{ansi:?}");
    assert_eq!(pen(1, 0), ("p".into(), Default, Default, false), "{ansi:?}");
    assert_eq!(pen(1, 10), ("".into(), Default, Default, false), "{ansi:?}");
    assert_eq!(pen(2, 0), ("R".into(), Default, Idx(1), true), "{ansi:?}");
    assert_eq!(pen(3, 0), ("n".into(), Default, Default, false), "{ansi:?}");
    env.ok(&["kill", "ansi"]);
    env.wait_gone("ansi");
}

/// U+FFFD, and invalid UTF-8 as one U+FFFD per maximal invalid
/// subsequence, read as on xterm in every form `hm screen` has, live and
/// after the end: text, `--ansi`, `--json`, the scrollback; a wait's regex
/// finds them. The screen model drew nothing for them (`a\u{fffd}b` read
/// `ab`, what followed a column to the left).
#[test]
fn replacement_characters_and_invalid_utf8_read_as_u_fffd() {
    let env = Env::new();
    let script = r"printf '\033[31ma\357\277\275b\377\033[0m|\n'; seq 1 3; \
                   printf 'ok \377\376 bad|\n'; read x";
    env.start("r", &["--cols", "20", "--rows", "3"], &["sh", "-c", script]);
    env.wait_screen("r", "^ok \u{fffd}{2} bad\\|$");
    let check = |when: &str| {
        let text = env.ok(&["screen", "r", "--scrollback", "10"]);
        assert!(
            text.starts_with("a\u{fffd}b\u{fffd}|\n1\n"),
            "{when}: {text:?}"
        );
        assert!(
            text.contains("\nok \u{fffd}\u{fffd} bad|\n"),
            "{when}: {text:?}"
        );
        let ansi = env.ok(&["screen", "r", "--ansi", "--scrollback", "10"]);
        assert!(
            ansi.starts_with("\x1b[31ma\u{fffd}b\u{fffd}\x1b[0m|\n"),
            "{when}: {ansi:?}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&env.ok(&["screen", "r", "--json", "--scrollback", "10"]))
                .unwrap();
        assert_eq!(v["scrollback"][0], "a\u{fffd}b\u{fffd}|", "{when}: {v}");
        assert!(
            v["lines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "ok \u{fffd}\u{fffd} bad|"),
            "{when}: {v}"
        );
        assert!(
            !v.to_string().contains(heimdall_term::STAND_IN),
            "{when}: {v}"
        );
    };
    check("live");
    env.ok(&["send", "r", "--keys", "enter"]);
    env.wait_gone("r");
    check("after the end");
}

/// Autowrap off, tab stops and a character inserted at the right margin
/// show as on xterm, live and after the end. vt100 wrapped text past the
/// last column with autowrap off, tabbed every 8 columns whatever the
/// stops, ignored CHT and CBT (`abc`), and inserted `X` before the wrap
/// (`X123`).
#[test]
fn autowrap_off_tab_stops_and_insert_at_the_margin_show_as_on_xterm() {
    let env = Env::new();
    let script = r"printf '\033[?7l%s\033[?7h\n' abcdefghijklmnopqrstuvwxy; \
                   printf 'a\033[2Ib\033[Zc\n'; \
                   printf '\033[3g\033[4G\033H\r\tX\n'; \
                   printf '\033[5;1H0123\033[4;1HABCDEFGHIJKLMNOPQRST\033[4hX\033[4l'; \
                   printf '\033[7;1Hdone\n'; read x";
    env.start("m", &["--cols", "20", "--rows", "9"], &["sh", "-c", script]);
    env.wait_screen("m", "^done$");
    let want = [
        "abcdefghijklmnopqrsy",
        "a               c",
        "   X",
        "ABCDEFGHIJKLMNOPQRST",
        "X0123",
        "",
        "done",
    ];
    let check = |when: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&env.ok(&["screen", "m", "--json"])).unwrap();
        let lines: Vec<&str> = v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(lines[..7], want, "{when}: {v}");
    };
    check("live");
    env.ok(&["send", "m", "--keys", "enter"]);
    env.wait_gone("m");
    check("after the end");
}

/// The final screen in the exit record says how far into the output it
/// was parsed: the end of the output, as a live SCREEN says it, also past
/// an escape sequence the program left unfinished (which can no longer
/// end, and which a live SCREEN's offset is before).
#[test]
fn the_final_screens_output_offset_is_the_end_of_the_output() {
    let env = Env::new();
    env.start("off", &[], &["sh", "-c", "printf 'abcdefg\\033[3'"]);
    let out = env.run(&["wait", "off", "--exit"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    env.wait_gone("off");
    for args in [
        &["screen", "off", "--json"][..],
        &["screen", "off", "--json", "--ansi"],
    ] {
        let v: serde_json::Value = serde_json::from_str(&env.ok(args)).unwrap();
        assert_eq!(v["lines"][0], "abcdefg", "{v}");
        assert_eq!(v["output_offset"], 10, "{args:?}: {v}");
    }
}

/// `hm wait --regex` on the screen of a program that printed the text and
/// exited at once matches its final screen, whether the supervisor still
/// answers or only the exit record is left; output written from now on
/// cannot come any more.
#[test]
fn a_screen_wait_matches_what_an_ended_program_left() {
    let env = Env::new();
    env.start("ready", &[], &["sh", "-c", "echo READY"]);
    let out = env.run(&["wait", "ready", "--regex", "READY", "--timeout", "20000"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "READY\n");
    env.wait_gone("ready");
    let out = env.run(&["wait", "ready", "--regex", "^READY$", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["match"].as_str(), v["line"].as_u64()),
        (Some("READY"), Some(0)),
        "{v}"
    );
    for never in [&["--regex", "NEVER"][..], &["--regex", "READY", "--output"]] {
        let out = env.run(&[&["wait", "ready"][..], never].concat());
        assert_eq!(out.status.code(), Some(1), "{never:?}: {out:?}");
    }
}

/// A program that redraws its screen inside synchronized updates (mode
/// 2026, as Ink-based and other modern TUIs do) is seen a whole frame at a
/// time: a SCREEN taken while a frame is half written shows the frame
/// before it, as a terminal does, never a cleared screen with some rows.
/// Here every frame is written a row at a time with pauses in between, so
/// that without the hold most snapshots land inside a frame.
#[test]
fn a_synchronized_update_is_seen_whole() {
    let env = Env::new();
    common::start_row_frames(&env, "frames");
    let (mut whole, mut frames) = (0, std::collections::BTreeSet::new());
    let snapshots = 60;
    for _ in 0..snapshots {
        let lines = env.screen_lines("frames");
        if let Some(frame) = common::whole_frame(&lines) {
            whole += 1;
            frames.insert(frame.to_string());
        }
    }
    // A frame held up by the loaded machine for longer than the hold is
    // shown unfinished, as a terminal would: a few may be.
    assert!(whole >= snapshots * 9 / 10, "{whole} of {snapshots} whole");
    assert!(frames.len() >= 2, "the frames went on: {frames:?}");
}

/// A synchronized update that never ends is shown after the hold's bound
/// (200 ms), as a terminal shows it, and a screen wait sees it then: the
/// wait looked again only when output came, so text written inside such an
/// update by a program that then fell quiet timed the wait out, while `hm
/// screen` showed it.
#[test]
fn a_screen_wait_sees_an_update_that_never_ends() {
    let env = Env::new();
    env.start(
        "open",
        &[],
        &[
            "sh",
            "-c",
            r"read go; printf 'before\n\033[?2026hinside-update'; exec sleep 600",
        ],
    );
    let mut wait = env.spawn(&[
        "wait",
        "open",
        "--regex",
        "inside-update",
        "--timeout",
        "10000",
    ]);
    env.ok(&["send", "open", "go\r"]);
    let began = Instant::now();
    let status = poll("hm wait", DEADLINE, || wait.try_wait().unwrap());
    assert_eq!(status.code(), Some(0), "after {:?}", began.elapsed());
    let lines = env.screen_lines("open");
    assert!(lines.iter().any(|l| l == "inside-update"), "{lines:?}");
}

/// A synchronized update the program left unfinished when it ended is in
/// its final screen, as on a terminal once the hold times out: the exit
/// record kept the screen from before the update (with `before` only), and
/// a screen wait answered that the program exited without `after`.
#[test]
fn an_update_left_unfinished_at_the_end_is_in_the_final_screen() {
    let env = Env::new();
    let script = r"printf 'before\r\n\033[?2026hafter'";
    env.start("end", &[], &["sh", "-c", script]);
    env.wait_gone("end");
    assert_eq!(env.ok(&["screen", "end"]), "before\nafter\n");
    let out = env.run(&["wait", "end", "--regex", "^after$"]);
    assert!(out.status.success(), "{out:?}");
}

/// Python that puts its terminal in raw mode and has `read_answer()`: what
/// the terminal answers to a cursor query, up to its `R` (10 s at most).
const READ_ANSWER: &str = r#"
import os, select, tty
tty.setraw(0)
def read_answer():
    answer = b""
    while not answer.endswith(b"R"):
        r, _, _ = select.select([0], [], [], 10)
        if not r:
            break
        answer += os.read(0, 64)
    return answer
"#;

/// A program that asks where the cursor is after writing up to the last
/// column gets that column, as xterm answers (the cursor stays on it until
/// the next character wraps): the answer said one past the right margin,
/// `ESC [ 1 ; 21 R` on a screen 20 wide (tmux 3.3a says so too).
#[test]
fn a_cursor_query_after_the_last_column_is_answered_with_it() {
    let body = r#"
os.write(1, b"0123456789" * 2 + b"\x1b[6n")
answer = read_answer()
os.write(1, b"\r\nanswer " + answer[1:] + b"\r\n")
select.select([0], [], [], 100)
"#;
    let script = [READ_ANSWER, body].concat();
    let env = Env::new();
    env.start("cpr", &["--cols", "20"], &["python3", "-c", &script]);
    env.wait_screen("cpr", "^answer ");
    assert_eq!(env.screen_lines("cpr")[1], "answer [1;20R");
    env.ok(&["kill", "cpr"]);
}

/// A program that asks where the cursor is inside a synchronized update
/// gets the place the update moved it to, as a terminal answers (it holds
/// back only what it shows): the answer came from the screen before the
/// update, `ESC [ 1 ; 1 R` for a cursor the update had put at row 5,
/// column 10, in either form of the query, also cut between two writes.
#[test]
fn a_cursor_query_inside_a_synchronized_update_is_answered_from_it() {
    let body = r#"
import time
got = []
for n, (q, cut) in enumerate([(b"\x1b[6n", 2), (b"\x1b[?6n", 3)]):
    os.write(1, b"\x1b[?2026h\x1b[2J\x1b[%d;10H" % (5 + n) + q[:cut])
    time.sleep(0.05)
    os.write(1, q[cut:])
    answer = read_answer()
    os.write(1, b"\x1b[?2026l")
    got.append(answer[1:].decode())
os.write(1, b"\x1b[H\x1b[2Janswers " + " ".join(got).encode() + b"\r\n")
select.select([0], [], [], 100)
"#;
    let script = [READ_ANSWER, body].concat();
    let env = Env::new();
    env.start("cpr", &[], &["python3", "-c", &script]);
    env.wait_screen("cpr", "^answers ");
    assert_eq!(env.screen_lines("cpr")[0], "answers [5;10R [?6;10R");
    env.ok(&["kill", "cpr"]);
}

/// The lines `hm screen` shows of `printf` with `format` in a session
/// `cols` wide and 3 rows high, once its screen has `end` (which `format`
/// ends with); the session is killed.
fn lines_of_printf(cols: &str, format: &str) -> Vec<String> {
    let env = Env::new();
    let script = format!("printf '{format}'; sleep 100");
    env.start(
        "p",
        &["--cols", cols, "--rows", "3"],
        &["sh", "-c", &script],
    );
    env.wait_screen("p", "end");
    let lines = env.screen_lines("p");
    env.ok(&["kill", "p"]);
    lines
}

/// A tab right after a character in the last column leaves the wrap
/// waiting, as xterm and tmux do (`cat` of a file whose line fills the
/// width before a tab): `hm screen` had the next character overwrite the
/// last column.
#[test]
fn a_tab_at_the_margin_keeps_the_wrap_waiting() {
    let lines = lines_of_printf("20", r"0123456789012345678 \tg\nend");
    assert_eq!(lines[..3], ["0123456789012345678", "g", "end"], "{lines:?}");
}

/// A tab inside an escape sequence goes to the tab stops the program set,
/// as on xterm and tmux (a control there is carried out, the sequence goes
/// on): `hm screen` tabbed every 8 columns there, `ab  y    z` for tmux's
/// `ab  z`.
#[test]
fn a_tab_inside_an_escape_sequence_goes_to_the_stops_set() {
    let lines = lines_of_printf(
        "30",
        r"\033[3g\033[4G\033H\033[12G\033H\rx\033[1\t;5Hy\rab\033[\tCz\nend",
    );
    assert_eq!(lines[..2], ["ab  z", "end"], "{lines:?}");
}

/// U+FE0F after a character in text presentation leaves it one column
/// wide, as tmux 3.3a and the program's `wcwidth` have it: `hm screen` put
/// what followed on the line a column right of where the program drew it
/// (its cursor at column 3 after `a❤️b`, tmux's at 3 after `a❤️`), and the
/// U+FE0F is still in the text.
#[test]
fn vs16_leaves_a_character_one_column_wide() {
    let env = Env::new();
    env.start(
        "vs16",
        &["--cols", "20", "--rows", "3"],
        &[
            "sh",
            "-c",
            r"printf 'a\342\235\244\357\270\217b\r\n\342\232\240\357\270\217\033[3Gx'; sleep 100",
        ],
    );
    env.wait_screen("vs16", "x");
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["screen", "vs16", "--json"])).unwrap();
    assert_eq!(v["lines"][0], "a\u{2764}\u{fe0f}b", "{v}");
    assert_eq!(v["lines"][1], "\u{26a0}\u{fe0f} x", "{v}");
    assert_eq!(
        (&v["cursor"]["row"], &v["cursor"]["col"]),
        (&json!(1), &json!(3))
    );
    let ansi = env.ok(&["screen", "vs16", "--ansi"]);
    assert!(ansi.starts_with("a\u{2764}\u{fe0f}b\n"), "{ansi:?}");
    env.ok(&["kill", "vs16"]);
}

/// A wide character that does not fit in the last column wraps, as on
/// xterm and tmux, and `hm screen` reads nothing in that column (the screen
/// model draws a pad there, for the row to be marked as wrapped: it reads
/// as nothing, also at the end of a line of blanks), live and after the
/// end, in text, `--ansi` and the scrollback.
#[test]
fn a_wide_character_wrapping_from_the_last_column_reads_as_on_tmux() {
    let env = Env::new();
    let script = r"printf 'abc\033[1;20H\346\227\245x\r\n'; seq 1 3; read x";
    env.start(
        "wide",
        &["--cols", "20", "--rows", "3"],
        &["sh", "-c", script],
    );
    env.wait_screen("wide", "^3$");
    let check = |when: &str| {
        let text = env.ok(&["screen", "wide", "--scrollback", "10"]);
        assert!(text.starts_with("abc\n\u{65e5}x\n1\n"), "{when}: {text:?}");
        let ansi = env.ok(&["screen", "wide", "--ansi", "--scrollback", "10"]);
        assert!(ansi.starts_with("abc\n\u{65e5}x\n1\n"), "{when}: {ansi:?}");
    };
    check("live");
    env.ok(&["send", "wide", "--keys", "enter"]);
    env.wait_gone("wide");
    check("after the end");
}

/// With autowrap off a wide character that does not fit in the last column
/// is not drawn, as on xterm and tmux 3.3a (`012345678x`): `hm screen` had
/// it in the last two columns over the `8`, and the `x` after it cut it in
/// half (`01234567 x`).
#[test]
fn a_wide_character_that_does_not_fit_with_autowrap_off_is_not_drawn() {
    let lines = lines_of_printf("10", r"\033[?7l012345678\346\227\245x\r\nend");
    assert_eq!(lines[..2], ["012345678x", "end"], "{lines:?}");
}

/// `CSI s` and `CSI u` save and restore the cursor, and the character sets
/// come back with a restored cursor, as on xterm and tmux 3.3a (`abXd`):
/// `hm screen` ignored `CSI s` and `CSI u` (`abcdX`) and drew boxes after a
/// restore to ASCII (`─── ───`).
#[test]
fn the_cursor_saved_and_restored_brings_back_the_character_sets() {
    let lines = lines_of_printf(
        "20",
        r"ab\033[scd\033[uX\r\n\0337\033(0qqq\0338\033[2;5Hqqq\r\n\033(Bend",
    );
    assert_eq!(lines[..3], ["abXd", "─── qqq", "end"], "{lines:?}");
}

/// IND (`ESC D`) and NEL (`ESC E`) move down a line, NEL to its start, as
/// on xterm and tmux 3.3a: `hm screen` read `abcdend`.
#[test]
fn index_and_next_line_move_down() {
    let lines = lines_of_printf("20", r"ab\033Dcd\033Eend");
    assert_eq!(lines[..3], ["ab", "  cd", "end"], "{lines:?}");
}

/// DECALN (`ESC # 8`, vttest's screen alignment test) fills the screen
/// with `E`s and puts the cursor home, as on xterm and tmux 3.3a:
/// `hm screen` showed it ignored.
#[test]
fn the_alignment_test_fills_the_screen_with_e() {
    let lines = lines_of_printf("5", r"ab\033#8x\033[3;1Hend");
    assert_eq!(lines[..3], ["xEEEE", "EEEEE", "endEE"], "{lines:?}");
}

/// `CSI ? 47 h`/`l` and `CSI ? 1047 h`/`l` switch screens with the cursor
/// where it is, as on xterm and tmux 3.3a: `hm screen` had the normal
/// screen's cursor back after 47 and ignored 1047, drawing the alternate
/// screen's text on the normal one (`ma-Aalt1047-B`).
#[test]
fn the_alternate_screens_without_a_saved_cursor_share_it() {
    let lines = lines_of_printf(
        "20",
        r"main\033[1;3H\033[?47halt\033[?47l-A\033[?1047halt1047\033[?1047l-B\r\nend",
    );
    assert_eq!(lines[..2], ["main -A       -B", "end"], "{lines:?}");
}

/// A wrap pending when a program switches to the alternate screen without
/// saving the cursor stays pending, as on xterm and tmux 3.3a: the next
/// character goes on the next line, not over the last column.
#[test]
fn a_wrap_pending_stays_pending_across_the_alternate_screens() {
    let lines = lines_of_printf("5", r"12345\033[?1047hx\r\nend");
    assert_eq!(lines[..3], ["", "x", "end"], "{lines:?}");
}

/// Text a program drew hidden (SGR 8, concealed: a password it shows
/// masked) is blank in every form `hm screen` has, live and after the end,
/// as a person at the terminal sees it: text, `--ansi` (its background
/// kept), `--json`, the scrollback; a wide character is a wide blank. The
/// screen model showed it in clear (to scripts, hm-agent and the Discord
/// relay too). `38;5;8` is a colour, not hidden.
#[test]
fn hidden_text_is_blank_in_every_form_of_the_screen() {
    let env = Env::new();
    let script = r"printf 'pw: \033[8msecret\033[0m|\n\033[38;5;8mgrey\033[0m \033[44;8m\346\227\245x\033[28my\033[0m|\n'; \
                   seq 1 3; printf 'ok \033[8mhidden\033[0m end|\n'; read x";
    env.start("h", &["--cols", "20", "--rows", "3"], &["sh", "-c", script]);
    env.wait_screen("h", r"^ok {8}end\|$");
    let check = |when: &str| {
        let text = env.ok(&["screen", "h", "--scrollback", "10"]);
        assert!(
            text.starts_with("pw:       |\ngrey \u{3000} y|\n1\n"),
            "{when}: {text:?}"
        );
        let ansi = env.ok(&["screen", "h", "--ansi", "--scrollback", "10"]);
        assert!(
            ansi.starts_with("pw:       |\n\x1b[90mgrey\x1b[0m \x1b[44m\u{3000} y\x1b[0m|\n"),
            "{when}: {ansi:?}"
        );
        let json = env.ok(&["screen", "h", "--json", "--scrollback", "10"]);
        for shown in [&text, &ansi, &json] {
            for hidden in ["secret", "hidden", "\u{65e5}"] {
                assert!(!shown.contains(hidden), "{when}: {shown:?}");
            }
        }
    };
    check("live");
    env.ok(&["send", "h", "--keys", "enter"]);
    env.wait_gone("h");
    check("after the end");
}

/// A double underline (SGR 21) and a curly one (`4:3`, an editor's mark on
/// a misspelt word) are underlined in `hm screen --ansi`, and `4:0` ends
/// one, as tmux 3.3a shows them (with their style): the screen model
/// ignored them.
#[test]
fn double_and_curly_underlines_show_underlined() {
    let env = Env::new();
    let script = r"printf 'a\033[21mb\033[24mc\033[4:3md\033[4:0me\n'; sleep 100";
    env.start("u", &["--cols", "20", "--rows", "3"], &["sh", "-c", script]);
    env.wait_screen("u", "^abcde$");
    let ansi = env.ok(&["screen", "u", "--ansi"]);
    assert!(
        ansi.starts_with("a\x1b[4mb\x1b[0mc\x1b[4md\x1b[0me\n"),
        "{ansi:?}"
    );
    env.ok(&["kill", "u"]);
}

/// Each mode of a private mode set takes effect, as on xterm and tmux
/// 3.3a (`CSI ? 1047 ; 1 h` switches screens with the cursor kept:
/// `hm screen` drew the alternate screen's text on the normal one,
/// `maalt-B`), and mode 1048 saves and restores the cursor as DECSC and
/// DECRC, as on xterm (`hm screen` ignored it: `abcdX`).
#[test]
fn each_private_mode_of_a_set_takes_effect_and_1048_saves_the_cursor() {
    let lines = lines_of_printf(
        "20",
        r"main\033[1;3H\033[?1047;1halt\033[?1;1047l-B\r\nab\033[?1048hcd\033[?1048lX\r\nend",
    );
    assert_eq!(lines[..3], ["main -B", "abXd", "end"], "{lines:?}");
}

/// REP (`CSI n b`, repeat the last character) in insert mode pushes the
/// line right and with autowrap off stays in the last column, as on xterm
/// and tmux 3.3a: `hm screen` drew over the line (`XXXXdef`) and past the
/// last column (`bbbbc` on the next line).
#[test]
fn rep_in_insert_mode_and_with_autowrap_off_shows_as_on_xterm() {
    let lines = lines_of_printf(
        "20",
        r"abcdef\r\033[4hX\033[3b\033[4l\r\n\033[?7l0123456789012345678b\033[5bc\r\nend",
    );
    assert_eq!(
        lines[..3],
        ["XXXXabcdef", "0123456789012345678c", "end"],
        "{lines:?}"
    );
}

/// A window title of 2 MB written at once: the screen model skips most of
/// such a flood and parses its tail, which began inside the title (the
/// ring no longer held its start), so the title was drawn as rows of `aaaa`
/// and stayed empty.
#[test]
fn a_title_longer_than_the_skipped_flood_is_the_title() {
    let env = Env::new();
    let flood = "import sys,time; sys.stdout.write('\\033]0;'+'a'*2000000+'\\007ready|'); \
                 sys.stdout.flush(); time.sleep(100)";
    env.start(
        "t",
        &["--cols", "40", "--rows", "4"],
        &["python3", "-c", flood],
    );
    env.wait_screen("t", r"^ready\|$");
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["screen", "t", "--json"])).unwrap();
    let title = v["title"].as_str().unwrap_or_default();
    assert_eq!(title.len(), 2_000_000, "{}", &title[..title.len().min(40)]);
    assert!(title.bytes().all(|b| b == b'a'));
    assert_eq!(v["lines"][0], "ready|", "{v}");
    assert!(!env.ok(&["screen", "t"]).contains("aaa"));
}

/// What a flood set in the part of it the screen model skips holds in the
/// tail it parses, as on a terminal that parsed every byte: the alternate
/// screen entered, hidden text (SGR 8) stays hidden, an inline image's data
/// (APC, megabytes of base64) begun there is not drawn as text.
#[test]
fn a_skipped_flood_keeps_its_modes_pen_and_strings() {
    let env = Env::new();
    let flood = "import sys,time; w=sys.stdout.write; w('shell|\\r\\n'+'x'*3000000); \
                 w('\\033[?1049h\\033[8m\\033_Gf=100;'+'QUFB'*600000+'\\033\\\\'); \
                 w('\\033[2;1Hsecret\\033[28m\\033[3;1Hshown|'); sys.stdout.flush(); time.sleep(100)";
    env.start(
        "f",
        &["--cols", "40", "--rows", "4"],
        &["python3", "-c", flood],
    );
    env.wait_screen("f", r"^shown\|$");
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["screen", "f", "--json"])).unwrap();
    assert_eq!(v["alternate_screen"], true, "{v}");
    assert_eq!(v["lines"], json!(["", "", "shown|", ""]), "{v}");
    let ansi = env.ok(&["screen", "f", "--ansi"]);
    for shown in [ansi.as_str(), &env.ok(&["screen", "f"])] {
        assert!(
            !shown.contains("secret") && !shown.contains("QUFB"),
            "{shown:?}"
        );
    }
}

/// A line made narrower and wider again reads whole, its colour kept, and
/// the cursor stays on its character, as on tmux 3.3a, which rewraps the
/// lines of the main screen and its scrollback on a resize: `hm screen`
/// had the line cut at the narrower width (`1,2,…,16,1`).
#[test]
fn a_line_made_narrower_and_wider_again_reads_whole() {
    let env = Env::new();
    let script = r"printf '\033[31m%s\033[m\nnext' $(seq -s, 1 40); read x";
    env.start(
        "rf",
        &["--cols", "100", "--rows", "6"],
        &["sh", "-c", script],
    );
    env.wait_screen("rf", "^next");
    let line = (1..=40)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut c = Raw::connect(&env.sock("rf"));
    for (cols, cursor_row) in [(40, 2), (100, 2)] {
        c.send(0x04, &[0, cols, 0, 6]);
        let v = poll("the resized screen", DEADLINE, || {
            let v: serde_json::Value =
                serde_json::from_str(&env.ok(&["screen", "rf", "--json"])).ok()?;
            (v["cols"] == cols).then_some(v)
        });
        assert_eq!(v["cursor"]["row"], cursor_row, "{v}");
        assert_eq!(v["cursor"]["col"], 4, "{v}");
    }
    let text = env.ok(&["screen", "rf", "--scrollback", "10"]);
    let want = format!("{}\n{}\nnext\n", &line[..100], &line[100..]);
    assert!(text.starts_with(&want), "{text:?}");
    let ansi = env.ok(&["screen", "rf", "--ansi"]);
    assert!(
        ansi.contains(&format!("\x1b[31m{}", &line[..100])),
        "{ansi:?}"
    );
}
