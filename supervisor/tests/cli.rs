//! The command line: heimdall 1.0 compatibility of `hm run --detach`,
//! `hm start` readiness and failures, queries, config waterfall, errors.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{hm_bin, poll, Env, Raw, DEADLINE};

#[test]
fn start_returns_only_when_ready() {
    let env = Env::new();
    for i in 0..10 {
        let id = format!("r{i}");
        env.start(&id, &[], &["sleep", "100"]);
        // No retry: the socket must accept at once.
        let st = env.status_json(&id);
        assert_eq!(st["alive"], true);
    }
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls.as_array().unwrap().len(), 10);
}

#[test]
fn start_fails_cleanly_for_a_missing_command_or_bad_cwd() {
    let env = Env::new();
    let out = env.run(&["start", "--id", "nope", "--", "no-such-command-hm-test"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command not found"), "{err}");
    let out = env.run(&[
        "start",
        "--id",
        "nope",
        "--cwd",
        "/no/such/dir",
        "--",
        "true",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir"));
    let plain = env.dir.path().join("plain.txt");
    std::fs::write(&plain, "not a program").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["start", "--id", "nope", "--", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "not executable");
    let left: Vec<_> = std::fs::read_dir(env.sockets())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "no files left behind: {left:?}");
}

#[test]
fn run_detach_stays_in_the_foreground() {
    let env = Env::new();
    let mut fg = env.spawn(&[
        "run",
        "--detach",
        "--id",
        "fg",
        "--",
        "sh",
        "-c",
        "read x; exit 3",
    ]);
    poll("the session", DEADLINE, || {
        env.sock("fg").exists().then_some(())
    });
    let (sup, _) = env.pids("fg");
    assert_eq!(
        sup,
        fg.id() as i32,
        "the supervisor is the foreground process itself"
    );
    assert!(fg.try_wait().unwrap().is_none());
    let mut c = Raw::connect(&env.sock("fg"));
    c.send(0x01, b"go\n");
    assert_eq!(fg.wait().unwrap().code(), Some(3));
}

#[test]
fn second_start_with_a_live_id_fails() {
    let env = Env::new();
    env.start("dup", &[], &["sleep", "100"]);
    let out = env.run(&["start", "--id", "dup", "--", "sleep", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
    let out = env.run(&["run", "--detach", "--id", "dup", "--", "sleep", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already running"));
}

#[test]
fn generated_ids_and_json() {
    let env = Env::new();
    let out = env.ok(&["start", "--json", "--", "sleep", "100"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(id.len() >= 4);
    assert!(v["pid"].as_i64().unwrap() > 0);
    let st = env.status_json(id);
    assert_eq!(st["pid"], v["pid"]);
    assert_eq!(st["command"][0], "sleep");
}

#[test]
fn permissions_of_socket_dir_and_socket() {
    let env = Env::new();
    env.start("perm", &[], &["sleep", "100"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.sockets()), 0o700);
    assert_eq!(mode(&env.sock("perm")), 0o600);
    assert_eq!(mode(&env.sockets().join("perm.pid")), 0o600);
}

#[test]
fn errors_say_what_to_do() {
    let env = Env::new();
    let out = env.run(&["status", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("No session found: x\n"), "{err}");
    assert!(err.contains("does not exist"), "socket dir missing: {err}");
    env.start("alpha", &[], &["sleep", "100"]);
    env.start("beta", &[], &["sleep", "100"]);
    let err = String::from_utf8_lossy(&env.run(&["status", "gamma"]).stderr).into_owned();
    assert!(
        err.starts_with("No session found: gamma\n") && err.contains("alpha, beta"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&env.run(&["kill", "gamma"]).stderr).into_owned();
    assert!(err.contains("running: alpha, beta"), "{err}");
    let out = env.run(&["status", "../etc"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid session id"));
    let out = env.run(&["bogus"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    let v = env.ok(&["--version"]);
    assert!(v.starts_with("hm "), "{v}");
}

#[test]
fn config_waterfall_env_and_unknown_keys() {
    let env = Env::new();
    // ./heimdall.toml (the test's working directory) is found by default;
    // [[env]] may come only from the user's own file (or --config).
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "session_env_var = \"MY_ID\"\n",
    )
    .unwrap();
    let user = env.dir.path().join("config/heimdall");
    std::fs::create_dir_all(&user).unwrap();
    let env_file = user.join("heimdall.toml");
    std::fs::write(
        &env_file,
        "session_env_var = \"MY_ID\"\n[[env]]\nname = \"FOO\"\nvalue = \"bar baz\"\n",
    )
    .unwrap();
    let out = env.run(&[
        "run",
        "--detach",
        "--id",
        "local",
        "--",
        "sh",
        "-c",
        "echo \"[$MY_ID|$FOO]\"",
    ]);
    assert!(out.status.success());
    let local = std::fs::read_to_string(env.sockets().join("local.exit")).unwrap();
    assert!(
        local.contains("[local|]"),
        "only ./heimdall.toml is read: {local}"
    );
    std::fs::rename(
        env.dir.path().join("heimdall.toml"),
        env.dir.path().join("was-local.toml"),
    )
    .unwrap();
    let out = env.run(&[
        "run",
        "--detach",
        "--id",
        "envs",
        "--",
        "sh",
        "-c",
        "echo \"[$MY_ID|$FOO]\"",
    ]);
    assert!(out.status.success());
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.sockets().join("envs.exit")).unwrap())
            .unwrap();
    assert!(
        st["output_tail"]
            .as_str()
            .unwrap()
            .contains("[envs|bar baz]"),
        "{st}"
    );
    // --config wins over ./heimdall.toml; unknown keys are named.
    let bad = env.config("bad.toml", "scrollback_bytes = 1\nsocket_dri = \"/x\"\n");
    let out = env.run(&["--config", &bad, "ls"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("socket_dri"), "{err}");
    // --socket-dir and --config work after any subcommand too.
    let other = env.dir.path().join("other");
    let out = env.run(&["ls", "--socket-dir", other.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No active sessions"));
    // The default session env var when no config says otherwise.
    std::fs::remove_file(&env_file).unwrap();
    env.ok(&[
        "run",
        "--detach",
        "--id",
        "dflt",
        "--",
        "sh",
        "-c",
        "echo \"<$HEIMDALL_SESSION_ID>\"",
    ]);
    let st = std::fs::read_to_string(env.sockets().join("dflt.exit")).unwrap();
    assert!(st.contains("<dflt>"), "{st}");
}

#[test]
fn clean_is_a_dry_run_unless_forced_and_spares_live_sessions() {
    let env = Env::new();
    env.ok(&["run", "--detach", "--id", "old", "--", "true"]);
    env.start("live", &[], &["sleep", "100"]);
    let out = env.ok(&["clean"]);
    // Item 21 (issue #8): the 1.0 line, then why the exit record stayed.
    assert_eq!(
        out, "Nothing to clean\n(1 exit record(s) younger than 24h kept; --older-than to change)\n",
        "younger than 24h"
    );
    let out = env.ok(&["clean", "--older-than", "1h", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kept_exit_records"], 1, "{out}");
    let out = env.ok(&["clean", "--older-than", "0s"]);
    assert!(
        out.contains("would remove") && out.contains("old.exit"),
        "{out}"
    );
    assert!(
        env.sockets().join("old.exit").exists(),
        "a dry run deletes nothing"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["clean", "--older-than", "0s", "--force", "--json"]))
            .unwrap();
    assert_eq!(v["dry_run"], false);
    assert!(!env.sockets().join("old.exit").exists());
    assert!(env.sock("live").exists(), "live sessions are never touched");
    assert!(env.sockets().join("live.log").exists());
    let mut c = Raw::connect(&env.sock("live"));
    assert!(c.status().2);
}

#[test]
fn kill_process_group_false_signals_only_the_child() {
    let env = Env::new();
    env.start(
        "solo",
        &["--kill-process-group=false"],
        // The background process ignores the terminal's hangup, so only a
        // signal sent to the group could end it.
        &[
            "sh",
            "-c",
            "(trap '' HUP; exec sleep 1000) & echo $! > bg.pid; wait",
        ],
    );
    let p = env.dir.path().join("bg.pid");
    let bg: i32 = poll("bg pid", DEADLINE, || {
        std::fs::read_to_string(&p).ok()?.trim().parse().ok()
    });
    env.ok(&["kill", "solo"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(common::alive(bg), "the background process was left alone");
    // SAFETY: kill(2), cleaning up.
    unsafe { libc::kill(bg, libc::SIGKILL) };
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.ok(&["completions", shell]);
        for sub in ["attach", "submit", "wait", "screen"] {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let man = env.ok(&["man"]);
    assert!(man.contains(".TH hm 1"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("attach"));
    assert_eq!(env.run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn hm_run_without_a_terminal_streams_output_and_returns_the_code() {
    let env = Env::new();
    let out = env
        .hm()
        .args([
            "run",
            "--id",
            "ci",
            "--",
            "sh",
            "-c",
            "echo built-$((40+2)); exit 4",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("built-42"), "{stdout:?}");
    assert!(
        !stdout.contains('\x1b'),
        "no terminal control codes without a terminal: {stdout:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("[session ci exited with code 4]"));
}

/// A line typed into a program that does not read it is not accepted: the
/// terminal's own echo of the Enter, or output the program writes anyway,
/// is not the program taking the line. A program that reads it and answers
/// has accepted it.
#[test]
fn submit_to_a_program_that_does_not_read_is_not_accepted() {
    let env = Env::new();
    let submit = |id: &str| {
        let out = env.run(&["submit", id, "hello", "--timeout", "1000", "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
        (out.status.code(), v)
    };
    // Writes a tick every 50 ms and never reads its input.
    env.start(
        "ticks",
        &[],
        &["sh", "-c", "while :; do echo tick; sleep 0.05; done"],
    );
    env.wait_screen("ticks", "tick");
    let (code, v) = submit("ticks");
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["accepted"], false, "{v}");
    assert_eq!(v["read"], false, "{v}");
    // Only the terminal echoes what is typed.
    env.start("sleeps", &[], &["sleep", "100"]);
    let out = env.run(&["submit", "sleeps", "hello", "--timeout", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has not read the line"), "{err}");
    // cat reads the line and writes it back.
    env.start("cat", &[], &["cat"]);
    let (code, v) = submit("cat");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["accepted"], true, "{v}");
    assert_eq!(v["read"], true, "{v}");
    assert_eq!(v["exited"], false, "{v}");
}

/// A SUBMIT whose program exits before any other reaction says so
/// (`exited`): the exit counts as the reaction, but whether the program
/// read the line cannot be known, so a program that ends on its own as the
/// line comes is not taken for one that ran it unawares. It answered
/// accepted and read, nothing more.
#[test]
fn submit_answered_by_the_programs_exit_says_it_exited() {
    let env = Env::new();
    // Ends on its own, never reading: the line comes while it sleeps.
    env.start("ends", &[], &["sh", "-c", "sleep 1; exit 3"]);
    let out = env.run(&["submit", "ends", "hello", "--timeout", "10000", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
    assert_eq!(v["exited"], true, "{v}");
    assert_eq!(v["accepted"], true, "{v}");
    // A person is told on stderr; the exit code stays 0 (`exit` to a shell
    // is a line the program took).
    env.start("quits", &[], &["sh", "-c", "read x; exit 4"]);
    let out = env.run(&["submit", "quits", "bye", "--timeout", "10000"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("ended after the line was typed"), "{err}");
}

/// The Enter reaches the terminal's line discipline a moment after it is
/// written: a line is not taken for read meanwhile, also when the session's
/// state changes at the Enter (here: the program reports itself waiting
/// over and over, and input ends that). Fresh sessions, as the first unread
/// line makes every later one look unread.
#[test]
fn submit_is_not_read_while_its_enter_is_on_its_way() {
    let env = Env::new();
    let hm = hm_bin();
    let script = format!(
        "while :; do {} report waiting; sleep 0.01; done",
        hm.display()
    );
    for i in 0..8 {
        let id = format!("reports{i}");
        env.start(&id, &[], &["sh", "-c", &script]);
        env.ok(&["wait", &id, "--state", "waiting", "--timeout", "20000"]);
        let out = env.run(&["submit", &id, "x", "--timeout", "300", "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
        assert_eq!(v["read"], false, "{id}: {v}");
        assert_eq!(v["accepted"], false, "{id}: {v}");
        env.ok(&["kill", &id]);
    }
}

/// A program that reads the line and reacts by changing its state, without
/// output, has accepted it, and SUBMIT says so at once, not at its timeout.
#[test]
fn submit_sees_a_reaction_that_is_only_a_change_of_state() {
    let env = Env::new();
    let hm = hm_bin();
    let hm = hm.display();
    let script = format!("stty -echo; {hm} report waiting; read l; {hm} report active; sleep 100");
    env.start("quiet", &[], &["sh", "-c", &script]);
    env.ok(&["wait", "quiet", "--state", "waiting", "--timeout", "20000"]);
    let started = std::time::Instant::now();
    let out = env.run(&["submit", "quiet", "x", "--timeout", "30000", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
    assert_eq!(v["read"], true, "{v}");
    assert_eq!(v["accepted"], true, "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the change of state was seen only at the timeout ({:?})",
        started.elapsed()
    );
}

/// A program that reads the line and then shows nothing has not reacted,
/// whether or not its terminal echoes: the terminal's echo of the Enter is
/// not the program's reaction.
#[test]
fn submit_read_without_a_reaction_is_not_accepted_also_when_echoed() {
    let env = Env::new();
    for (id, mode) in [("echoes", "echo"), ("silent", "-echo")] {
        let script = format!("stty {mode}; echo ready; read l; sleep 100");
        env.start(id, &[], &["sh", "-c", &script]);
        env.wait_screen(id, "ready");
        let out = env.run(&["submit", id, "hello", "--timeout", "1000", "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
        assert_eq!(out.status.code(), Some(1), "{id}: {v}");
        assert_eq!(v["read"], true, "{id}: {v}");
        assert_eq!(v["accepted"], false, "{id}: {v}");
    }
}

/// Going `idle` after a quiet spell is the classifier's reading of silence,
/// not the program's reaction: a SUBMIT whose timeout outlasts the idle
/// threshold still finds a program that read the line and showed nothing
/// not to have accepted it (that change of state was taken for a reaction).
#[test]
fn submit_read_without_a_reaction_is_not_accepted_when_the_session_goes_idle_meanwhile() {
    let env = Env::new();
    let script = "echo ready; read l; sleep 100";
    env.start(
        "quiet",
        &["--idle-threshold-ms", "200"],
        &["sh", "-c", script],
    );
    env.wait_screen("quiet", "ready");
    let out = env.run(&["submit", "quiet", "hello", "--timeout", "2000", "--json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("hm submit --json prints JSON");
    assert_eq!(v["read"], true, "{v}");
    assert_eq!(v["accepted"], false, "{v}");
    assert_eq!(out.status.code(), Some(1), "{v}");
    env.ok(&["wait", "quiet", "--state", "idle", "--timeout", "0"]);
}

/// SUBMITs to one session from several connections at once take turns:
/// each line is typed, entered and confirmed before the next is typed, so
/// each runs as its own command (they were typed into one line). Each
/// command leaves its line in a file: the screen cannot tell, since a turn
/// ends with the program's reaction (here readline's newline), not with the
/// command, and the terminal's echo of the next line, typed ahead while
/// the last command runs, may land amid that command's output.
#[test]
fn concurrent_submits_to_one_session_run_as_separate_lines() {
    let env = Env::new();
    let ran = env.dir.path().join("ran");
    env.start("cs", &[], &["bash", "--norc", "--noprofile"]);
    env.ok(&["wait", "cs", "--state", "waiting", "--timeout", "20000"]);
    let n = 6;
    let submits: Vec<_> = (1..=n)
        .map(|i| {
            let line = format!("echo L{i} >> {}", ran.display());
            env.hm()
                .args(["submit", "cs", &line, "--json"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn hm submit")
        })
        .collect();
    for (i, child) in submits.into_iter().enumerate() {
        let out = child.wait_with_output().expect("hm submit");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "submit {}: {stdout}", i + 1);
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("submit json");
        assert_eq!(v["accepted"], true, "submit {}: {v}", i + 1);
    }
    let want: Vec<String> = (1..=n).map(|i| format!("L{i}")).collect();
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(&ran).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        if lines == want {
            break;
        }
        assert!(
            std::time::Instant::now() < end && lines.len() < n,
            "the commands did not each write their own line:\n{text}\nscreen:\n{}",
            env.screen_lines("cs").join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `hm kill` of a session whose socket is gone signals its supervisor (the
/// pidfile lock shows it alive and names its pid), which ends the whole
/// tree; the id is free again afterwards.
#[test]
fn kill_without_the_socket_signals_the_supervisor_and_ends_the_tree() {
    let env = Env::new();
    env.start("r", &[], &["sleep", "200"]);
    let (sup, child) = env.pids("r");
    std::fs::remove_file(env.sock("r")).expect("remove the socket");
    let out = env.run(&["kill", "r", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hm kill: {stderr}");
    assert!(
        stderr.contains(&format!("sent SIGTERM to its supervisor (pid {sup})")),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kill json");
    assert_eq!(v["signalled_supervisor"], sup, "{v}");
    assert_eq!(v["signal"], 15, "{v}");
    poll("the supervisor and child to go", DEADLINE, || {
        (!common::alive(sup) && !common::alive(child)).then_some(())
    });
    env.start("r", &[], &["true"]);
}

/// A session whose socket was deleted under its live supervisor: every
/// command that would talk to it says so at once (the supervisor's pid, the
/// socket gone, `hm kill ID` ends it; `--json`: `socket_gone`) instead of
/// "cannot connect" after 5 s of retrying; `hm ls` lists it as such and
/// leaves its pidfile; `hm kill` still ends it.
#[test]
fn a_session_whose_socket_is_gone_is_said_to_be_by_every_command() {
    let env = Env::new();
    env.start("g", &[], &["sleep", "200"]);
    let (sup, child) = env.pids("g");
    std::fs::remove_file(env.sock("g")).expect("remove the socket");
    let said = format!("its supervisor (pid {sup}) is running but its socket");
    for args in [
        &["status", "g"][..],
        &["screen", "g"],
        &["send", "g", "x"],
        &["wait", "g", "--exit"],
        &["wait", "g", "--idle", "100"],
        &["attach", "--read-only", "g"],
        &["tail", "g"],
        &["tail", "-f", "g"],
        &["explain", "g"],
        &["signal", "g", "INT"],
        &["submit", "g", "x"],
        &["proxy", "g"],
    ] {
        let began = std::time::Instant::now();
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}: {stderr}");
        assert!(stderr.contains(&said), "hm {args:?}: {stderr}");
        assert!(stderr.contains("is gone"), "hm {args:?}: {stderr}");
        assert!(
            stderr.contains("`hm kill g` ends it"),
            "hm {args:?}: {stderr}"
        );
        // Not the 5 s of retrying a supervisor that is starting.
        let took = began.elapsed();
        assert!(took < Duration::from_secs(4), "hm {args:?} took {took:?}");
    }
    for args in [
        &["status", "g", "--json"][..],
        &["screen", "g", "--json"],
        &["wait", "g", "--exit", "--json"],
        &["events", "g"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error json");
        assert_eq!(v["error"], "socket_gone", "hm {args:?}: {v}");
        assert!(v["message"].as_str().unwrap().contains(&said), "{v}");
    }
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls[0]["state"], "socket_gone", "{ls}");
    assert_eq!(ls[0]["alive"], true, "{ls}");
    assert_eq!(ls[0]["pid"], child, "{ls}");
    assert_eq!(ls[0]["supervisor_pid"], sup, "{ls}");
    let out = env.run(&["ls"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("g ") && l.contains("socket_gone")),
        "{table}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&said));
    assert!(
        env.sockets().join("g.pid").exists(),
        "hm ls removed the pidfile"
    );
    env.ok(&["kill", "g"]);
    poll("the supervisor and child to go", DEADLINE, || {
        (!common::alive(sup) && !common::alive(child)).then_some(())
    });
}

/// A stopped supervisor (SIGSTOP) accepts connections and answers nothing:
/// every command says so at once, with the pid and what to do, instead of
/// "no answer within 5s" (`hm wait --timeout` said "timed out"); `hm ls`
/// lists it as `stopped` without waiting; `hm kill` still ends it
/// (SIGTERM, SIGCONT).
#[test]
fn a_stopped_supervisor_is_said_to_be_at_once() {
    let env = Env::new();
    env.start("st", &[], &["sleep", "200"]);
    let (sup, child) = env.pids("st");
    let stop = |sig| {
        let rc = unsafe { libc::kill(sup, sig) };
        assert_eq!(rc, 0, "signal {sig} to the supervisor");
    };
    stop(libc::SIGSTOP);
    poll("the supervisor to stop", DEADLINE, || {
        std::fs::read_to_string(format!("/proc/{sup}/stat"))
            .ok()
            .filter(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('T'))
            })
    });
    let said = format!("its supervisor (pid {sup}) is stopped");
    for args in [
        &["status", "st"][..],
        &["screen", "st"],
        &["send", "st", "x"],
        &["wait", "st", "--exit"],
        &["wait", "st", "--exit", "--timeout", "1000"],
        &["attach", "--read-only", "st"],
        &["tail", "st"],
        &["signal", "st", "INT"],
        &["proxy", "st"],
    ] {
        let began = std::time::Instant::now();
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}: {stderr}");
        assert!(stderr.contains(&said), "hm {args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "`kill -CONT {sup}` resumes it, `hm kill st` ends it"
            )),
            "hm {args:?}: {stderr}"
        );
        // Not the 5 s of waiting for an answer.
        let took = began.elapsed();
        assert!(took < Duration::from_secs(4), "hm {args:?} took {took:?}");
    }
    let out = env.run(&["status", "st", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error json");
    assert_eq!(v["error"], "stopped", "{v}");
    let began = std::time::Instant::now();
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert!(began.elapsed() < Duration::from_secs(4), "hm ls waited");
    assert_eq!(ls[0]["state"], "stopped", "{ls}");
    assert_eq!(ls[0]["pid"], child, "{ls}");
    assert_eq!(ls[0]["supervisor_pid"], sup, "{ls}");
    let out = env.run(&["ls"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("stopped"));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&said));
    // Continued, it answers again.
    stop(libc::SIGCONT);
    let status = env.ok(&["status", "st", "--json"]);
    assert!(status.contains("\"alive\": true"), "{status}");
    stop(libc::SIGSTOP);
    env.ok(&["kill", "st"]);
    poll("the supervisor and child to go", DEADLINE, || {
        (!common::alive(sup) && !common::alive(child)).then_some(())
    });
}

/// The sockets process `pid` has open (a supervisor: its listening
/// socket, and one per connection it accepted).
fn sockets_of(pid: i32) -> std::collections::HashSet<std::path::PathBuf> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait until supervisor `sup` has accepted a connection it did not have
/// `before`.
fn accepted(sup: i32, before: &std::collections::HashSet<std::path::PathBuf>) {
    poll("hm to connect", DEADLINE, || {
        (!sockets_of(sup).is_subset(before)).then_some(())
    });
}

/// A supervisor stopped (SIGSTOP) after `hm wait --timeout MS` or `hm
/// submit --timeout MS` connected answers nothing: the timeout bounds the
/// whole command, which says the supervisor is stopped (`hm wait`: exit
/// 124, `timeout`; `hm submit`: exit 1, `stopped`). They waited for the
/// call's own deadline, 5 s past the timeout, and exited 1 with "no answer
/// from the session within 7s".
#[test]
fn a_supervisor_stopped_mid_command_is_bounded_by_the_timeout() {
    let env = Env::new();
    env.start("ms", &[], &["sleep", "200"]);
    let (sup, _) = env.pids("ms");
    let signal = |sig| {
        let rc = unsafe { libc::kill(sup, sig) };
        assert_eq!(rc, 0, "signal {sig} to the supervisor");
    };
    let said = format!("its supervisor (pid {sup}) is stopped");
    for (args, exit, error, bound) in [
        (
            &[
                "wait",
                "ms",
                "--regex",
                "NEVER",
                "--timeout",
                "2000",
                "--json",
            ][..],
            124,
            "timeout",
            Duration::from_millis(5000),
        ),
        (
            &["submit", "ms", "x", "--timeout", "2000", "--json"],
            1,
            "stopped",
            Duration::from_millis(5500),
        ),
    ] {
        let before = sockets_of(sup);
        let began = std::time::Instant::now();
        let mut hm = common::Piped::spawn(&env, args, std::process::Stdio::null());
        accepted(sup, &before);
        signal(libc::SIGSTOP);
        let (code, stderr) = hm.exit("hm to give up");
        let took = began.elapsed();
        signal(libc::SIGCONT);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut hm.0.stdout.take().unwrap(), &mut out).unwrap();
        assert_eq!(code, Some(exit), "hm {args:?}: {out}{stderr}");
        assert!(stderr.is_empty(), "hm {args:?}: {stderr}");
        let v: serde_json::Value = serde_json::from_str(&out).expect("error json");
        assert_eq!(v["error"], error, "hm {args:?}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(&said),
            "hm {args:?}: {v}"
        );
        assert!(took < bound, "hm {args:?} took {took:?}");
    }
}

/// A supervisor stopped (SIGSTOP) while `hm kill` waits for the session
/// to end (its program ignores SIGTERM: the grace period) is signalled as
/// one found stopped when connecting is (SIGTERM, SIGCONT), and the
/// session ends; `hm kill` waited 15 s and failed with the session left
/// running, stopped.
#[test]
fn a_supervisor_stopped_while_hm_kill_waits_is_ended() {
    let env = Env::new();
    let config = env.config("grace.toml", "kill_grace_ms = 1000\n");
    env.start(
        "kt",
        &["--config", &config],
        &["sh", "-c", "trap '' TERM; echo ready; sleep 200"],
    );
    env.wait_screen("kt", "ready");
    let (sup, child) = env.pids("kt");
    let began = std::time::Instant::now();
    let mut hm = common::Piped::spawn(&env, &["kill", "kt"], std::process::Stdio::null());
    let mut said = std::io::BufReader::new(hm.0.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut said, &mut line).unwrap();
    assert_eq!(line, "Kill signal sent to session kt\n");
    let rc = unsafe { libc::kill(sup, libc::SIGSTOP) };
    assert_eq!(rc, 0, "SIGSTOP to the supervisor");
    let (code, stderr) = hm.exit("hm kill to end");
    let took = began.elapsed();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "its supervisor is stopped; sent SIGTERM to its supervisor (pid {sup})"
        )),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "hm kill took {took:?}");
    poll("the supervisor and child to go", DEADLINE, || {
        (!common::alive(sup) && !common::alive(child)).then_some(())
    });
}

/// `hm wait` without a timeout, `hm tail -f` and `hm events` wait on a
/// session as long as it takes, also while its supervisor is stopped
/// (SIGSTOP) after they connected, but say so on stderr, and that it runs
/// again once continued; they said nothing.
#[test]
fn waiting_on_a_stopped_supervisor_says_so() {
    let env = Env::new();
    env.start("sn", &[], &["sleep", "200"]);
    let (sup, _) = env.pids("sn");
    let signal = |sig| {
        let rc = unsafe { libc::kill(sup, sig) };
        assert_eq!(rc, 0, "signal {sig} to the supervisor");
    };
    let stopped = format!("its supervisor (pid {sup}) is stopped, so it answers nothing");
    let again = format!("its supervisor (pid {sup}) runs again");
    let said = |log: &std::path::Path, what: &str| {
        std::fs::read_to_string(log).is_ok_and(|t| t.contains(what))
    };
    let cmds = [
        &["wait", "sn", "--exit"][..],
        &["tail", "-f", "sn"],
        &["events", "sn"],
    ];
    let mut running = Vec::new();
    for (i, args) in cmds.iter().enumerate() {
        let log = env.dir.path().join(format!("err{i}"));
        // Stopped before hm is through its handshake, the supervisor is
        // an error ('stopped', exit 1, as when connecting): then again.
        let hm = loop {
            let before = sockets_of(sup);
            let mut hm = common::Piped(
                env.hm()
                    .args(*args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .unwrap(),
            );
            accepted(sup, &before);
            signal(libc::SIGSTOP);
            let waits = poll(&format!("hm {args:?} to say so"), DEADLINE, || {
                if said(&log, &stopped) && said(&log, "ends it; waiting on") {
                    Some(true)
                } else {
                    hm.0.try_wait().unwrap().map(|_| false)
                }
            });
            signal(libc::SIGCONT);
            if waits {
                break hm;
            }
        };
        poll(
            &format!("hm {args:?} to say it runs again"),
            DEADLINE,
            || said(&log, &again).then_some(()),
        );
        running.push((hm, log));
    }
    env.ok(&["kill", "sn"]);
    for ((mut hm, log), (args, code)) in running.into_iter().zip(cmds.iter().zip([143, 0, 0])) {
        let (exit, _) = hm.exit("hm to end with the session");
        let err = std::fs::read_to_string(&log).unwrap();
        assert_eq!(exit, Some(code), "hm {args:?}: {err}");
    }
}

/// Once a session's program has exited (`hm wait --exit` answered), its id
/// can be started again at once: while the supervisor still ends the
/// processes the program left (they ignore SIGTERM: the grace period),
/// `hm start` waits for it to finish. It refused: "session \"r\" is
/// already running", with `hm status` saying it had exited.
#[test]
fn an_id_is_started_again_while_its_ended_session_finishes() {
    let env = Env::new();
    let config = env.config("grace.toml", "kill_grace_ms = 3000\n");
    env.start(
        "r",
        &["--config", &config],
        &[
            "sh",
            "-c",
            "trap '' TERM HUP; (trap '' TERM HUP; sleep 300) & exit 0",
        ],
    );
    env.ok(&["wait", "r", "--exit"]);
    let (old, _) = env.pids("r");
    assert!(common::alive(old), "the supervisor had already finished");
    env.start("r", &[], &["sh", "-c", "echo second; sleep 100"]);
    env.wait_screen("r", "second");
    assert!(!common::alive(old), "the old supervisor is still there");
    env.ok(&["kill", "r"]);
}

/// `hm tail ID --from N` after the session ended starts at offset N, as
/// while it runs (it printed the whole recorded tail); an offset older
/// than the record keeps says how much is not kept; output that is not
/// UTF-8 comes back as it was (it was an error, and `hm tail` without
/// `--from` printed U+FFFD for its bytes); a record that cannot
/// say where N is (an older hm wrote it) is an error saying so.
#[test]
fn tail_from_an_offset_after_the_end() {
    let env = Env::new();
    env.start("fin", &[], &["sh", "-c", "echo line1; echo line2"]);
    env.wait_gone("fin");
    assert_eq!(env.ok(&["tail", "fin", "--from", "7"]), "line2\r\n");
    assert_eq!(
        env.ok(&["tail", "fin", "--from", "0"]),
        "line1\r\nline2\r\n"
    );
    assert_eq!(env.ok(&["tail", "fin", "--from", "14"]), "");
    assert_eq!(env.ok(&["tail", "fin", "--from", "99"]), "");
    assert_eq!(env.ok(&["tail", "fin"]), "line1\r\nline2\r\n");

    // More than the record keeps (4 KiB): an old offset resumes at its start.
    env.start("long", &[], &["sh", "-c", "seq 1 2000"]);
    env.wait_gone("long");
    let out = env.run(&["tail", "long", "--from", "0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(text.ends_with("1999\r\n2000\r\n"), "{text}");
    let total = (1..=2000).map(|i| format!("{i}\r\n").len()).sum::<usize>();
    let missed = total - text.len();
    assert!(
        err.contains(&format!(
            "{missed} bytes are no longer kept; continuing at offset {missed}"
        )),
        "{err}"
    );

    // Output that is not UTF-8 comes back byte for byte, from any offset.
    env.start("bin", &[], &["sh", "-c", r"printf 'ab\377cd\nline2\n'"]);
    env.wait_gone("bin");
    let raw = |args: &[&str]| {
        let out = env.run(args);
        assert!(
            out.status.success(),
            "hm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(raw(&["tail", "bin"]), b"ab\xffcd\r\nline2\r\n");
    assert_eq!(raw(&["tail", "bin", "--from", "2"]), b"\xffcd\r\nline2\r\n");
    assert_eq!(raw(&["tail", "bin", "--from", "7"]), b"line2\r\n");

    // A record without offsets, as older versions wrote.
    let exit = env.sockets().join("fin.exit");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exit).expect("exit record")).unwrap();
    let obj = rec.as_object_mut().unwrap();
    obj.remove("output_offset");
    obj.remove("output_tail_offset");
    std::fs::write(&exit, serde_json::to_vec(&rec).unwrap()).unwrap();
    let out = env.run(&["tail", "fin", "--from", "7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot say where offset 7 is"), "{err}");
    assert_eq!(env.ok(&["tail", "fin"]), "line1\r\nline2\r\n");
}
