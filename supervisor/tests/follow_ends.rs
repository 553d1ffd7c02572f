//! How the commands that follow a session (`hm tail -f`, `hm events`) end
//! when it is not the session that ends: their reader goes away while the
//! session is quiet, or the connection is lost (the supervisor killed).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use common::{Env, Piped};

/// `hm tail -f X | true` and `hm events X | true` on a session that prints
/// nothing: they waited for its next output to learn that nobody reads
/// (coreutils `tail -f file | true` ends at once). Now they end quietly,
/// as on any closed stdout.
#[test]
fn following_a_quiet_session_ends_when_the_reader_goes() {
    let env = Env::new();
    env.start("quiet", &[], &["sleep", "1000"]);
    for args in [&["tail", "-f", "quiet"][..], &["events", "quiet"][..]] {
        let mut f = Piped::spawn(&env, args, Stdio::null());
        drop(f.0.stdout.take());
        let (code, err) = f.exit(&format!("hm {args:?} to notice its reader is gone"));
        assert_eq!(code, Some(0), "hm {args:?}: {err}");
        assert!(err.is_empty(), "hm {args:?}: {err:?}");
    }
    assert_eq!(env.status_json("quiet")["alive"], true);
}

/// The supervisor SIGKILLed while `hm tail -f` and `hm events` follow its
/// session: they exited 0 without a word, as if the session had ended.
/// Now they fail and say the connection was lost (on stderr; `hm events`,
/// a stream of JSON lines, says it in one more line, its error object).
#[test]
fn following_a_session_whose_supervisor_is_killed_fails_saying_so() {
    let env = Env::new();
    env.start(
        "lost",
        &[],
        &[
            "sh",
            "-c",
            "while :; do printf 'tick\\a\\n'; sleep 0.2; done",
        ],
    );
    let mut followers = Vec::new();
    for args in [&["tail", "-f", "lost"][..], &["events", "lost"][..]] {
        let mut f = Piped::spawn(&env, args, Stdio::null());
        // A first line: it follows.
        let mut out = BufReader::new(f.0.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read a line");
        assert!(!line.is_empty(), "hm {args:?} printed nothing");
        // Keep reading, so the pipe never fills.
        let rest = std::thread::spawn(move || {
            let mut rest = String::new();
            out.read_to_string(&mut rest).expect("read stdout");
            rest
        });
        followers.push((args, f, rest));
    }
    let (sup, _) = env.pids("lost");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the supervisor");
    for (args, mut f, out) in followers {
        let (code, err) = f.exit(&format!("hm {args:?} to end with its connection"));
        let out = out.join().expect("reader");
        assert_eq!(code, Some(1), "hm {args:?}: {err}");
        let said = if args[0] == "events" {
            let last = out.lines().last().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(last).expect("a JSON line");
            assert_eq!(v["error"], "connection_closed", "{last}");
            v["message"].as_str().unwrap_or_default().to_string()
        } else {
            err
        };
        assert!(
            said.contains("lost the connection to session \"lost\""),
            "hm {args:?}: {said:?}"
        );
    }
}

/// `hm tail -f` writes what arrives at once, a partial line too (a prompt
/// that waits for input): it stayed in hm's line buffer, so a reader never
/// saw the prompt and a stdout that takes no more (`/dev/full`) was not
/// found out while the session stayed quiet. Now the reader gets the
/// prompt, and `/dev/full` fails at once (exit 1, saying so on stderr).
#[test]
fn tail_f_writes_a_partial_line_at_once() {
    let env = Env::new();
    env.start(
        "p",
        &[],
        &["sh", "-c", "printf 'prompt> '; exec sleep 1000"],
    );
    env.wait_screen("p", "prompt>");
    let mut f = Piped::spawn(&env, &["tail", "-f", "p"], Stdio::null());
    let mut stdout = f.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let n = stdout.read(&mut buf).unwrap_or(0);
        let _ = tx.send(buf[..n].to_vec());
    });
    let got = rx
        .recv_timeout(common::DEADLINE)
        .expect("hm tail -f wrote nothing of the partial line");
    assert_eq!(got, b"prompt> ");
    drop(f);
    let child = env
        .hm()
        .args(["tail", "-f", "p"])
        .stdout(common::dev_full())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hm");
    let (code, err) = Piped(child).exit("hm tail -f > /dev/full to fail");
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err, "hm: No space left on device (os error 28)\n");
    assert_eq!(env.status_json("p")["alive"], true);
}

/// `hm ls --watch | head -1` while nothing changes: it ran on until the
/// next change, however long. Now it ends as `hm tail -f` does when its
/// reader goes, quietly.
#[test]
fn ls_watch_ends_when_the_reader_goes_while_nothing_changes() {
    let env = Env::new();
    env.start("still", &[], &["sleep", "1000"]);
    for args in [&["ls", "--watch"][..], &["ls", "--watch", "--json"][..]] {
        let mut w = Piped::spawn(&env, args, Stdio::null());
        let mut out = BufReader::new(w.0.stdout.take().expect("stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("the first line");
        drop(out);
        let (code, err) = w.exit(&format!("hm {args:?} to notice its reader is gone"));
        assert_eq!(code, Some(0), "hm {args:?}: {err}");
        assert!(err.is_empty(), "hm {args:?}: {err:?}");
    }
}

/// `hm events X` on a session that has already ended: it exited 1 with the
/// `exited` error object, while the same command started a moment earlier
/// printed the `exit` event and exited 0 (and `hm tail -f X` prints the end
/// of the output and exits 0 either way). Now it prints the `exit` event
/// from the exit record, as the live stream would have ended, and exits 0.
#[test]
fn events_of_an_ended_session_end_with_its_exit_event() {
    let env = Env::new();
    env.start("done", &[], &["sh", "-c", "read x; exit 5"]);
    env.wait_screen("done", "^$");
    let mut live = Piped::spawn(&env, &["events", "done"], Stdio::null());
    // Following: its first event (the state after the input) comes once it
    // listens; send until the input is seen.
    let mut out = BufReader::new(live.0.stdout.take().expect("stdout"));
    env.ok(&["send", "done", "go\n"]);
    let mut lines = String::new();
    out.read_to_string(&mut lines).expect("read stdout");
    let (code, err) = live.exit("hm events to end with the session");
    assert_eq!(code, Some(0), "{err}");
    let last = lines.lines().last().unwrap_or_default().to_string();
    let exit: serde_json::Value = serde_json::from_str(&last).expect("a JSON line");
    assert_eq!(
        exit,
        serde_json::json!({"type": "exit", "code": 5, "signal": null})
    );
    env.wait_gone("done");
    let out = env.run(&["events", "done"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{last}\n"));
    assert!(out.stderr.is_empty(), "{out:?}");
}

/// `hm tail -f`, `hm tail` and `hm events` that connected just as the
/// session ended (its supervisor, done with its program, dropped the
/// connection) failed with exit 1 and "Connection reset by peer", "Broken
/// pipe" or "Connection refused" (`hm events`: an `unreachable` error
/// object), where a moment later they print the end from the exit record
/// and exit 0 — about one in six of them when ten scripts race `hm kill`.
/// Now they look again, as `hm status` and `hm wait` do, and answer from
/// the record.
#[test]
fn following_a_session_that_ends_as_it_connects_answers_from_its_record() {
    let env = Env::new();
    let record = common::ended_record(&env, "printf 'last words\\n'; exit 5");
    for (n, args) in [&["tail", "-f"][..], &["tail"][..], &["events"][..]]
        .into_iter()
        .enumerate()
    {
        let id = format!("ending{n}");
        common::ending_server(&env, &id, record.clone());
        let mut full = args.to_vec();
        full.push(&id);
        let out = env.run(&full);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "hm {full:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = if args[0] == "events" {
            "{\"type\":\"exit\",\"code\":5,\"signal\":null}\n"
        } else {
            "last words\r\n"
        };
        assert_eq!(stdout, expected, "hm {full:?}");
        assert!(out.stderr.is_empty(), "hm {full:?}: {out:?}");
    }
}
