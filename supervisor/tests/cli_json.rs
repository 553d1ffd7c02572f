//! The command line for scripts (issue #8): JSON output and JSON errors
//! (item 23), options after the text (item 13), the two meanings of idle
//! (item 22), manual pages (item 26). Every test runs the real `hm`.

mod common;

use serde_json::{json, Value};
use std::time::Duration;

use common::{keys, poll, Env, DEADLINE};

/// `hm ARGS`: (exit code, stdout parsed as JSON, stderr).
fn json_of(env: &Env, args: &[&str]) -> (Option<i32>, Value, String) {
    let out = env.run(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("hm {args:?}: stdout is not one JSON document ({e}): {stdout}"));
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Item 23: wait, submit, signal and screen answer with no `"id"` (a
/// protocol detail, and it was `null`).
#[test]
fn item23_results_carry_no_request_id() {
    let env = Env::new();
    env.start("r", &[], &["sh"]);
    env.wait_screen("r", r"[#$] ?$");
    let (code, v, _) = json_of(&env, &["submit", "r", "echo sub-$((6*7))", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["accepted"], true, "{v}");
    assert!(v.get("id").is_none(), "{v}");
    let (code, v, _) = json_of(
        &env,
        &[
            "wait",
            "r",
            "--regex",
            "^sub-42",
            "--json",
            "--timeout",
            "20000",
        ],
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["match"], "sub-42", "{v}");
    assert!(v.get("id").is_none(), "{v}");
    let (code, v, _) = json_of(&env, &["signal", "r", "WINCH", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["signal"], "SIGWINCH", "{v}");
    assert!(v.get("id").is_none(), "{v}");
    // The screen too (it printed the SCREEN request's `"id": 1`, which reads
    // as a session id beside `hm status --json`'s).
    let (code, v, _) = json_of(&env, &["screen", "r", "--json"]);
    assert_eq!(code, Some(0), "{v}");
    assert!(v["lines"].as_array().is_some_and(|l| !l.is_empty()), "{v}");
    assert!(v.get("id").is_none(), "{v}");
}

/// Item 23: with --json a failure is one JSON object on stdout
/// (`ok: false`, a stable `error` code, a `message`), nothing on stderr,
/// and the exit code it has without --json.
#[test]
fn item23_errors_are_json_objects_on_stdout() {
    let env = Env::new();
    let check = |args: &[&str], exit: i32, code: &str| {
        let (got, v, stderr) = json_of(&env, args);
        assert_eq!(got, Some(exit), "hm {args:?}: {v}");
        assert_eq!(v["ok"], false, "hm {args:?}: {v}");
        assert_eq!(v["error"], code, "hm {args:?}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(stderr.is_empty(), "hm {args:?}: {stderr}");
        v
    };
    let v = check(&["status", "nosuch", "--json"], 1, "no_session");
    assert!(v["message"].as_str().unwrap().contains("nosuch"), "{v}");
    check(
        &["wait", "nosuch", "--idle", "10", "--json"],
        1,
        "no_session",
    );
    check(
        &["ls", "--json", "--config", "/nonexistent.toml"],
        1,
        "config",
    );
    // A usage error, before the command line is understood.
    check(&["wait", "x", "--json"], 2, "usage");
    // One that names what is missing on lines of its own says it too (it
    // said only "the following required arguments were not provided:").
    let v = check(&["status", "--json"], 2, "usage");
    assert_eq!(
        v["message"], "the following required arguments were not provided: <ID>",
        "{v}"
    );
    // Starting: the codes the client library's typed errors rest on.
    check(
        &[
            "start",
            "--json",
            "--id",
            "nocmd",
            "--",
            "/nonexistent/program",
        ],
        127,
        "command_not_found",
    );
    env.start("dup", &[], &["sleep", "100"]);
    check(
        &["start", "--json", "--id", "dup", "--", "sleep", "100"],
        1,
        "already_running",
    );
    // A session that has ended cannot be signalled.
    env.start("gone", &[], &["true"]);
    env.wait_gone("gone");
    check(&["signal", "gone", "INT", "--json"], 1, "exited");
    // Without --json: the text on stderr, as before.
    let out = env.run(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("No session found: nosuch"));
}

/// Item 23: `ls --json` has `cwd` like `status --json`, for running and
/// exited sessions; `hm ls` labels the time column: "up …" while running,
/// "ended … ago" once exited.
#[test]
fn item23_ls_has_cwd_and_labels_the_time_of_exited_sessions() {
    let env = Env::new();
    let work = env.dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let work_s = work.to_str().unwrap();
    env.start("live", &["--workdir", work_s], &["sleep", "100"]);
    env.start("done", &["--workdir", work_s], &["true"]);
    env.wait_gone("done");
    let ls: Value = serde_json::from_str(&env.ok(&["ls", "--json", "--all"])).unwrap();
    let rows = ls.as_array().expect("an array");
    assert_eq!(rows.len(), 2, "{ls}");
    for r in rows {
        assert_eq!(r["cwd"], work_s, "{r}");
    }
    assert_eq!(env.status_json("live")["cwd"], work_s);
    let text = env.ok(&["ls", "--all"]);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("TIME"), "{text}");
    assert!(!header.contains("UPTIME"), "{text}");
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no row {id}: {text}"))
            .to_string()
    };
    assert!(row("live").contains(" up "), "{text}");
    let done = row("done");
    assert!(done.contains("exited (0)"), "{text}");
    assert!(done.contains(" ended ") && done.contains(" ago"), "{text}");
    // `hm status` shows when it ended to the second; `--json` to the µs.
    let status = env.ok(&["status", "done"]);
    let ended = status
        .lines()
        .find_map(|l| l.strip_prefix("ended    "))
        .unwrap_or_else(|| panic!("no ended line: {status}"));
    assert_eq!(ended.len(), "2026-12-03T17:50:12Z".len(), "{status}");
    assert!(ended.ends_with('Z') && !ended.contains('.'), "{status}");
    let json = env.status_json("done");
    let micros = json["ended_at"].as_str().unwrap();
    assert_eq!(micros.len(), "2026-12-03T17:50:12.123456Z".len(), "{json}");
    assert!(
        micros.starts_with(ended.trim_end_matches('Z')),
        "{json} {status}"
    );
}

/// `hm ls` lists the running sessions and `--all` the exited ones too (as
/// `docker ps -a`); `--watch --json` prints the list, then a line for each
/// session that starts, exits (once, even without `--all`) or goes.
#[test]
fn ls_lists_running_sessions_all_adds_the_exited_and_watch_tells_each_change() {
    let env = Env::new();
    env.start("live", &[], &["sleep", "100"]);
    env.start("done", &[], &["true"]);
    env.wait_gone("done");
    let ids = |args: &[&str]| -> Vec<String> {
        let v: Value = serde_json::from_str(&env.ok(args)).unwrap();
        v.as_array()
            .expect("an array")
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&["ls", "--json"]), ["live"]);
    assert_eq!(ids(&["ls", "--json", "--all"]), ["done", "live"]);
    assert!(!env.ok(&["ls"]).contains("done"));

    let mut watch = env
        .hm()
        .args(["ls", "--watch", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = watch.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The next line about session `id` (the live session's state may change
    // meanwhile).
    let next = |id: &str| -> Value {
        loop {
            let line = rx
                .recv_timeout(DEADLINE)
                .unwrap_or_else(|_| panic!("no line about {id}"));
            let v: Value = serde_json::from_str(&line).expect("a JSON object per line");
            assert_ne!(v["id"], "done", "an exited session is not listed: {v}");
            if v["id"] == id {
                return v;
            }
        }
    };
    assert_eq!(next("live")["alive"], true);
    let go = env.dir.path().join("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 4",
        go.display()
    );
    env.start("new", &[], &["sh", "-c", &script]);
    let started = next("new");
    assert_eq!(started["alive"], true, "{started}");
    std::fs::write(&go, "").unwrap();
    let ended = next("new");
    assert_eq!(
        (&ended["state"], &ended["code"]),
        (&Value::from("exited"), &Value::from(4)),
        "{ended}"
    );
    env.ok(&["clean", "--force", "--older-than", "0s"]);
    assert_eq!(next("new")["state"], "gone");
    watch.kill().unwrap();
    watch.wait().unwrap();
    reader.join().unwrap();
}

/// A session whose exit record cannot be read (cut short by a crash, an
/// empty file) and that no supervisor holds has ended: `hm ls` does not
/// list it as running, `--all` lists it as exited saying why its end is
/// not known. It was listed, also without `--all`, as a live supervisor
/// that did not answer (`"alive": true`, `unreachable`) until `hm clean`.
#[test]
fn an_unreadable_exit_record_is_an_ended_session_not_a_live_one() {
    let env = Env::new();
    env.start("live", &[], &["sleep", "100"]);
    for (id, text) in [("empty", ""), ("cut", "{\n  \"id\": \"cut\",\n  \"co")] {
        std::fs::write(env.sockets().join(format!("{id}.exit")), text).unwrap();
    }
    let (code, v, _) = json_of(&env, &["ls", "--json"]);
    assert_eq!(code, Some(0));
    let ids: Vec<&str> = v
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["live"], "{v}");
    let table = env.ok(&["ls"]);
    assert!(
        !table.contains("cut") && !table.contains("empty"),
        "{table}"
    );
    let (_, all, _) = json_of(&env, &["ls", "--all", "--json"]);
    for id in ["cut", "empty"] {
        let row = all
            .as_array()
            .expect("an array")
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed with --all: {all}"));
        assert_eq!(row["alive"], false, "{row}");
        assert_eq!(row["state"], "exited", "{row}");
        assert_eq!(row["code"], Value::Null, "{row}");
        let error = row["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("{id}.exit")), "{row}");
    }
    env.ok(&["kill", "live"]);
}

/// Item 13: options after the text are options; text that starts with `-`
/// goes after `--`.
#[test]
fn item13_options_after_the_text_are_options() {
    let env = Env::new();
    env.start("cat", &[], &["cat"]);
    let dir = env.sockets();
    let dir = dir.to_str().unwrap();
    // The environment names another directory: only the option finds the session.
    let elsewhere = env.dir.path().join("elsewhere");
    let send = |args: &[&str]| {
        let out = env
            .hm()
            .env("HEIMDALL_SOCKET_DIR", &elsewhere)
            .args(args)
            .output()
            .expect("run hm");
        assert!(
            out.status.success(),
            "hm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    send(&["send", "cat", "abc", "--socket-dir", dir]);
    send(&["send", "cat", "--keys", "Enter", "--socket-dir", dir]);
    send(&["send", "cat", "--socket-dir", dir, "--", "-v", "--json"]);
    send(&["send", "cat", "--keys", "Enter", "--socket-dir", dir]);
    // cat echoes each line once as typed (the terminal) and once as read.
    let lines = poll("the typed lines", DEADLINE, || {
        let lines = env.screen_lines("cat");
        let full: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
        (full.len() >= 4).then_some(full)
    });
    assert_eq!(lines, ["abc", "abc", "-v --json", "-v --json"], "{lines:?}");
    // A line that starts with `-` for submit, after `--`.
    let out = env
        .hm()
        .args(["submit", "cat", "--json", "--", "-n"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    poll("the submitted line", DEADLINE, || {
        (env.screen_lines("cat")
            .iter()
            .filter(|l| *l == "-n")
            .count()
            == 2)
            .then_some(())
    });
}

/// Item 22: time since the last output (`silent_ms`, "silent") and time in
/// the current state (`state_ms`, "state … for") are named apart; `idle_ms`
/// meant either.
#[test]
fn item22_silence_and_time_in_state_are_named_apart() {
    let env = Env::new();
    env.start("q", &[], &["sh", "-c", "echo hi; exec sleep 100"]);
    let (code, v, _) = json_of(
        &env,
        &["wait", "q", "--idle", "300", "--json", "--timeout", "20000"],
    );
    assert_eq!(code, Some(0), "{v}");
    assert!(v["silent_ms"].as_u64().is_some_and(|ms| ms >= 300), "{v}");
    assert!(v.get("idle_ms").is_none(), "{v}");
    let st = env.status_json("q");
    assert!(st["silent_ms"].as_u64().is_some_and(|ms| ms >= 300), "{st}");
    assert!(st["state_ms"].as_u64().is_some(), "{st}");
    assert!(st.get("idle_ms").is_none(), "{st}");
    let ls: Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert!(ls[0]["silent_ms"].as_u64().is_some(), "{ls}");
    let text = env.ok(&["status", "q"]);
    assert!(text.contains("\nstatus   running, state "), "{text}");
    assert!(text.contains("\nsilent   "), "{text}");
    assert!(text.contains("(since the last output)"), "{text}");
}

/// Item 26: a manual page per subcommand; NAME reads "hm - Supervise…"
/// (not "hm - hm: …"); every page a page refers to is one `hm man` makes.
#[test]
fn item26_a_man_page_per_subcommand_and_no_reference_to_a_missing_page() {
    let env = Env::new();
    let main = env.ok(&["man"]);
    let name = main
        .lines()
        .skip_while(|l| *l != ".SH NAME")
        .nth(1)
        .expect("a NAME section");
    assert!(name.starts_with("hm \\- Supervise"), "{name}");
    let pages = env.dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    env.ok(&["man", "--dir", pages.to_str().unwrap()]);
    let written: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(written.contains(&"hm.1".to_string()), "{written:?}");
    // Every reference, in hm(1) as printed and in every page written.
    let mut texts = vec![main.clone()];
    for f in &written {
        texts.push(std::fs::read_to_string(pages.join(f)).unwrap());
    }
    let mut referred = 0;
    for text in &texts {
        for (i, _) in text.match_indices("(1)") {
            let start = text[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '\\'))
                .map_or(0, |s| s + 1);
            let page = text[start..i].replace("\\-", "-");
            // `hm-SUBCOMMAND(1)` is the placeholder the text uses for them all.
            if page.starts_with("hm-") && page != "hm-SUBCOMMAND" {
                referred += 1;
                assert!(
                    written.contains(&format!("{page}.1")),
                    "{page}(1) is referred to but not written: {written:?}"
                );
            }
        }
    }
    assert!(
        referred >= 15,
        "hm(1) lists the subcommands' pages ({referred})"
    );
    assert!(!written.iter().any(|f| f == "hm-help.1"), "{written:?}");
    // A subcommand's page has its own options, and `hm man SUB` prints it.
    let wait = std::fs::read_to_string(pages.join("hm-wait.1")).unwrap();
    assert!(wait.contains("\\fB\\-\\-timeout\\fR"), "{wait}");
    assert!(wait.contains("\\fB\\-\\-socket\\-dir\\fR"), "{wait}");
    assert_eq!(env.ok(&["man", "wait"]), wait);
    assert_eq!(env.run(&["man", "nosuch"]).status.code(), Some(2));
}

/// `hm wait` on a session that exited before the condition held says so the
/// same way whether it was waiting when the program exited or asked after:
/// one line on stderr (exit 1), or with `--json` the `exited` error with its
/// `code`, `signal` and `message`. `--exit` answers with the exit code; a
/// timeout has its `message` too.
#[test]
fn wait_on_an_exited_session_says_so_every_time() {
    let env = Env::new();
    env.start("k7", &[], &["sh", "-c", "read x; exit 3"]);
    env.wait_screen("k7", "^$");
    let (code, v, _) = json_of(
        &env,
        &["wait", "k7", "--regex", "never", "--timeout", "1", "--json"],
    );
    assert_eq!(code, Some(124));
    assert_eq!(
        v,
        serde_json::json!({"ok": false, "error": "timeout",
            "message": "timed out waiting on session \"k7\""})
    );
    let live = env
        .hm()
        .args(["wait", "k7", "--idle", "600000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hm wait");
    env.ok(&["send", "k7", "go\n"]);
    let out = live.wait_with_output().expect("hm wait");
    let said = "hm: session \"k7\" exited (code 3) before the condition held\n";
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), said);
    env.wait_gone("k7");
    for condition in [
        &["--regex", "never"][..],
        &["--state", "idle"],
        &["--idle", "10"],
        &["--regex", "never", "--output"],
    ] {
        let mut args = vec!["wait", "k7"];
        args.extend_from_slice(condition);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), said, "hm {args:?}");
        assert!(out.stdout.is_empty(), "hm {args:?}");
        args.push("--json");
        let (code, v, stderr) = json_of(&env, &args);
        assert_eq!((code, stderr.as_str()), (Some(1), ""), "hm {args:?}");
        assert_eq!(
            v,
            serde_json::json!({"ok": false, "error": "exited", "code": 3, "signal": null,
                "message": "session \"k7\" exited (code 3) before the condition held"}),
            "hm {args:?}"
        );
    }
    let (code, v, _) = json_of(&env, &["wait", "k7", "--exit", "--json"]);
    assert_eq!(code, Some(3));
    assert_eq!(
        v,
        serde_json::json!({"ok": true, "until": "exit", "code": 3, "signal": null})
    );

    env.start("k9", &[], &["sleep", "600"]);
    env.ok(&["kill", "k9"]);
    env.wait_gone("k9");
    let (code, v, _) = json_of(&env, &["wait", "k9", "--regex", "never", "--json"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        (v["code"].as_i64(), v["signal"].as_i64()),
        (Some(143), Some(15)),
        "{v}"
    );
    assert_eq!(
        v["message"],
        "session \"k9\" exited (killed by signal 15, code 143) before the condition held"
    );
}

/// `hm wait --state dead` holds once the program has exited: it answers the
/// same while the supervisor still runs and from the exit record after it
/// has gone (it used to say "exited before the condition held" then, exit 1).
#[test]
fn wait_for_the_dead_state_holds_after_the_end_too() {
    let env = Env::new();
    env.start("dd", &[], &["sh", "-c", "read x; exit 3"]);
    env.wait_screen("dd", "^$");
    let live = env
        .hm()
        .args(["wait", "dd", "--state", "dead", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn hm wait");
    env.ok(&["send", "dd", "go\n"]);
    let out = live.wait_with_output().expect("hm wait");
    let want = serde_json::json!({"ok": true, "until": "state", "state": "dead"});
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((out.status.code(), &v), (Some(0), &want));
    env.wait_gone("dd");
    let (code, v, stderr) = json_of(&env, &["wait", "dd", "--state", "dead", "--json"]);
    assert_eq!((code, &v, stderr.as_str()), (Some(0), &want, ""));
    let out = env.run(&["wait", "dd", "--state", "dead"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// `started_at` is kept to the millisecond, so `uptime_ms` (and `hm ls`'s
/// `up 300ms`) are true: to the second, a session started at 10:00:00.900
/// read 10:00:00 and was up to a second older than it was (a session started
/// later could show a longer uptime than one started before it).
#[test]
fn started_at_and_uptime_are_exact_to_the_millisecond() {
    let env = Env::new();
    let ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis()
    };
    let before = ms(std::time::SystemTime::now());
    env.start("up", &[], &["sleep", "600"]);
    let v = env.status_json("up");
    let started = v["started_at"].as_str().expect("started_at");
    let started = ms(humantime::parse_rfc3339(started).expect("RFC 3339"));
    assert!(started >= before, "started_at {v} is before hm start ran");
    let rows: Value = serde_json::from_str(&env.ok(&["ls", "--json"])).expect("ls json");
    let uptime = rows[0]["uptime_ms"].as_u64().expect("uptime_ms");
    let since_before = ms(std::time::SystemTime::now()) - before;
    assert!(
        u128::from(uptime) <= since_before,
        "uptime {uptime} ms, but hm start ran {since_before} ms ago: {rows}"
    );
    env.ok(&["kill", "up"]);
    env.wait_gone("up");
    let v = env.status_json("up");
    let recorded = v["started_at"].as_str().expect("started_at");
    assert_eq!(
        ms(humantime::parse_rfc3339(recorded).expect("RFC 3339")),
        started,
        "{v}"
    );
}

/// `hm kill A B C` (what `xargs hm kill` runs) kills every session named,
/// side by side: two sessions that hold out for the whole grace period take
/// one grace period, not two. An unknown id among them is said as alone
/// and makes the exit code 1; the others are killed all the same. With
/// `--json` the answers are one array, in the order given, an unknown id's
/// with `ok: false`.
#[test]
fn kill_takes_several_ids_at_once() {
    let env = Env::new();
    let config = env.config("grace.toml", "kill_grace_ms = 8000\n");
    let stubborn = "trap '' TERM HUP; echo ready; while :; do sleep 1; done";
    for id in ["s1", "s2"] {
        env.start(id, &["--config", &config], &["sh", "-c", stubborn]);
        env.wait_screen(id, "ready");
    }
    let began = std::time::Instant::now();
    let out = env.run(&["kill", "s1", "nope", "s2", "s1"]);
    let took = began.elapsed();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    for id in ["s1", "s2"] {
        assert_eq!(
            stdout
                .matches(&format!("Kill signal sent to session {id}\n"))
                .count(),
            1,
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("killed {id} (killed by signal 9")),
            "{stdout}"
        );
    }
    assert!(stderr.starts_with("No session found: nope"), "{stderr}");
    // One after the other would be at least 16 s.
    assert!(took < Duration::from_secs(15), "took {took:?}");

    env.start("j1", &[], &["sleep", "600"]);
    env.start("j2", &[], &["sleep", "600"]);
    let (code, v, stderr) = json_of(&env, &["kill", "--json", "j1", "nope", "j2"]);
    assert_eq!(code, Some(1), "{v} {stderr}");
    let answers = v.as_array().expect("an array");
    let ids: Vec<_> = answers.iter().map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, [Some("j1"), Some("nope"), Some("j2")], "{v}");
    for a in [&answers[0], &answers[2]] {
        assert_eq!(
            (&a["ok"], &a["killed"], &a["code"]),
            (&json!(true), &json!(true), &json!(143)),
            "{v}"
        );
    }
    assert_eq!(
        (&answers[1]["ok"], &answers[1]["error"]),
        (&json!(false), &json!("no_session")),
        "{v}"
    );
    // Several ids, the same twice: still an array (of one answer), not the
    // lone object of `hm kill --json ID` that a script reading arrays
    // cannot take.
    env.start("j3", &[], &["sleep", "600"]);
    let (code, v, stderr) = json_of(&env, &["kill", "--json", "j3", "j3"]);
    assert_eq!(code, Some(0), "{v} {stderr}");
    let answers = v.as_array().expect("an array");
    assert_eq!((answers.len(), &answers[0]["id"]), (1, &json!("j3")), "{v}");
    let out = env.run(&["ls"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "No active sessions"
    );
}

/// `xargs hm kill | head -1`: a stdout whose reader has gone does not stop
/// the kills. Each kill was only queued when `hm kill` said so, and the
/// failed write returned before the request went out: no session was
/// killed, and hm kill still exited 0.
#[test]
fn kill_goes_on_when_stdout_is_closed() {
    let env = Env::new();
    for id in ["p1", "p2", "p3"] {
        env.start(id, &[], &["sleep", "600"]);
    }
    for ids in [&["p1"][..], &["p2", "p3"]] {
        let mut kill = common::Piped::spawn(
            &env,
            &[&["kill"], ids].concat(),
            std::process::Stdio::null(),
        );
        // The pipe's reader goes before hm writes a word.
        drop(kill.0.stdout.take());
        let (code, stderr) = kill.exit("hm kill");
        assert_eq!(code, Some(0), "{stderr}");
        for id in ids {
            // hm kill returns once the session has ended.
            let v = env.status_json(id);
            assert_eq!(v["alive"], json!(false), "{id}: {v}");
        }
    }
}

/// `hm status --json` and `hm ls --json` say the same of a session in the
/// same fields: of a live one what its supervisor tells (status more of
/// it), of an ended one its exit record.
#[test]
fn status_and_ls_say_the_same_of_a_session() {
    let env = Env::new();
    env.start("live", &[], &["sleep", "600"]);
    let st = env.status_json("live");
    let ls: Value = serde_json::from_str(&env.ok(&["ls", "--json"])).expect("ls json");
    let row = &ls[0];
    let shared = [
        "alive",
        "command",
        "cwd",
        "id",
        "pid",
        "silent_ms",
        "started_at",
        "state",
        "state_ms",
        "uptime_ms",
    ];
    assert_eq!(keys(row), shared, "{row}");
    let mut more = [
        &shared[..],
        &[
            "classifier",
            "cols",
            "output_offset",
            "rows",
            "supervisor_pid",
        ],
    ]
    .concat();
    more.sort_unstable();
    assert_eq!(keys(&st), more, "{st}");
    for key in ["alive", "command", "cwd", "id", "pid", "started_at"] {
        assert_eq!(row[key], st[key], "{key}: {row} {st}");
    }

    env.start("ended", &[], &["sh", "-c", "exit 4"]);
    env.wait_gone("ended");
    let st = env.status_json("ended");
    let ls: Value = serde_json::from_str(&env.ok(&["ls", "--all", "--json"])).expect("ls json");
    let rows = ls.as_array().expect("an array");
    let row = rows.iter().find(|r| r["id"] == "ended").expect("listed");
    assert_eq!(row, &st);
    let ended = [
        "alive",
        "code",
        "command",
        "cwd",
        "ended_at",
        "id",
        "pid",
        "signal",
        "started_at",
        "state",
        "supervisor_died",
    ];
    assert_eq!(keys(&st), ended, "{st}");
    assert_eq!((&st["code"], &st["state"]), (&json!(4), &json!("exited")));
}
