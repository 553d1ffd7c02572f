//! The command line's manners (issue #8 items 19, 20, 21, 27, and input that
//! ends the session): mistyped key names, closed pipes, errors printed once,
//! `hm clean` explaining itself, `hm send` succeeding when its input ends
//! the program and failing when its input comes after the program exited.

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::{poll, Env, Piped, Raw, DEADLINE};

/// Item 20: with `--keys`, an unknown key name is a usage error (exit 2)
/// that lists the valid names, and nothing at all is typed — not even the
/// valid keys before it.
#[test]
fn item20_unknown_key_name_is_an_error_and_types_nothing() {
    let env = Env::new();
    env.start("keys", &[], &["cat"]);
    env.ok(&["send", "keys", "before"]);
    env.wait_screen("keys", "before");
    for args in [
        &["send", "keys", "--keys", "Entr"][..],
        &["send", "keys", "--keys", "x", "Entr", "Enter"][..],
        &["send", "keys", "--keys", "--gap", "0", "Tab", "hello"][..],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "hm {args:?}: {stderr}");
        assert!(
            stderr.contains("unknown key name") && stderr.contains("Enter Tab"),
            "hm {args:?} names the valid keys: {stderr}"
        );
    }
    // Input is taken in order: "after" lands right behind "before" only if
    // nothing was typed in between.
    env.ok(&["send", "keys", "after"]);
    env.wait_screen("keys", "beforeafter");
    let screen = env.ok(&["screen", "keys"]);
    assert!(!screen.contains("Entr"), "{screen}");
    // Single characters and names still work.
    env.ok(&["send", "keys", "--keys", "--gap", "0", "!", "Enter"]);
    env.wait_screen("keys", "^beforeafter!$");
}

/// Item 19: output into a closed pipe ends `hm` quietly: no panic, no
/// "Broken pipe" message, exit 0. The pipe's read end is closed before `hm`
/// starts, so every write fails (no race with a reader).
#[test]
fn item19_closed_stdout_never_panics() {
    let env = Env::new();
    env.start("bp", &[], &["sh", "-c", "seq 1 200; exec cat"]);
    env.wait_screen("bp", "^200$");
    let cases: [&[&str]; 8] = [
        &["completions", "bash"],
        &["man"],
        &["ls"],
        &["ls", "--json"],
        &["status", "bp"],
        &["status", "bp", "--json"],
        &["screen", "bp"],
        &["screen", "bp", "--json"],
    ];
    for args in cases {
        for _ in 0..10 {
            let (reader, writer) = std::io::pipe().expect("pipe");
            drop(reader);
            let out = env
                .hm()
                .args(args)
                .stdout(writer)
                .stderr(Stdio::piped())
                .output()
                .expect("run hm");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
                "hm {args:?} into a closed pipe: {stderr}"
            );
            assert_eq!(out.status.code(), Some(0), "hm {args:?}: {stderr}");
        }
    }
}

/// A stderr that takes nothing (`2>/dev/full`) costs a command its message,
/// not its exit code: what went wrong was said with `eprintln!`, which
/// panicked there (exit 101).
#[test]
fn full_stderr_keeps_the_exit_code() {
    let env = Env::new();
    env.start("fe", &[], &["sleep", "300"]);
    let cases: [(&[&str], i32); 4] = [
        (&["wait", "fe", "--regex", "never", "--timeout", "100"], 124),
        (&["status", "no-such-session"], 1),
        (&["send", "fe", "--keys", "NoSuchKey"], 2),
        // The supervisor's own refusal, in the foreground.
        (&["run", "--detach", "--id", "fe", "--", "true"], 1),
    ];
    for (args, code) in cases {
        let out = env
            .hm()
            .args(args)
            .stdout(Stdio::null())
            .stderr(common::dev_full())
            .output()
            .expect("run hm");
        assert_eq!(out.status.code(), Some(code), "hm {args:?}");
    }
    // The refusal of an argument that is not UTF-8 too.
    use std::os::unix::ffi::OsStrExt as _;
    let out = env
        .hm()
        .arg("kill")
        .arg(std::ffi::OsStr::from_bytes(b"\xff"))
        .stdout(Stdio::null())
        .stderr(common::dev_full())
        .output()
        .expect("run hm");
    assert_eq!(out.status.code(), Some(2), "hm kill \\xff");
}

/// A stdout that takes no more (a full disk, `/dev/full`) is an error that
/// is said on stderr, also with `--json` and for `hm events`, whose errors
/// would otherwise go to that same stdout; exit 1.
#[test]
fn full_stdout_is_reported_on_stderr() {
    let env = Env::new();
    // An event every second (output, then idle after 100 ms) for `hm events`
    // to fail writing.
    env.start(
        "full",
        &["--idle-threshold-ms", "100"],
        &["sh", "-c", "while :; do echo x; sleep 1; done"],
    );
    let cases: [&[&str]; 7] = [
        &["ls"],
        &["ls", "--json"],
        &["status", "full", "--json"],
        &["screen", "full", "--json"],
        &["explain", "full", "--json"],
        &["events", "full"],
        &["kill", "full", "--json"],
    ];
    for args in cases {
        let out = env
            .hm()
            .args(args)
            .stdout(common::dev_full())
            .stderr(Stdio::piped())
            .output()
            .expect("run hm");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}: {stderr}");
        assert_eq!(
            stderr, "hm: No space left on device (os error 28)\n",
            "hm {args:?}"
        );
    }
}

/// Control characters in a command line or a working directory are shown
/// escaped by `hm ls` and `hm status` (a terminal would obey them: clear the
/// screen, retitle the window, split a row), for running and exited
/// sessions; `--json` keeps them exact.
#[test]
fn control_characters_are_shown_escaped() {
    let env = Env::new();
    let cwd = env.dir.path().join("d\x1bx");
    std::fs::create_dir(&cwd).unwrap();
    let script = "read x # \x1b[2J\x1b]2;pwned\x07";
    env.start(
        "esc",
        &["--workdir", cwd.to_str().unwrap()],
        &["sh", "-c", script],
    );
    env.start("nl", &[], &["sh", "-c", "exit 0", "a\nb"]);
    env.wait_gone("nl");
    let shown = r"sh -c $'read x # \e[2J\e]2;pwned\a'";
    for args in [&["ls", "--all"][..], &["status", "esc"], &["status", "nl"]] {
        let out = env.ok(args);
        assert!(
            !out.contains(|c: char| c.is_control() && c != '\n'),
            "hm {args:?}: {out:?}"
        );
        if args[0] == "ls" {
            assert_eq!(out.lines().count(), 3, "one row each: {out}");
        }
        assert!(
            out.contains(shown) || out.contains(r"sh -c 'exit 0' $'a\nb'"),
            "hm {args:?}: {out}"
        );
    }
    assert!(env.ok(&["status", "esc"]).contains(r"d\ex"));
    let v = env.status_json("esc");
    assert_eq!(v["command"], serde_json::json!(["sh", "-c", script]));
    assert_eq!(v["cwd"], cwd.to_str().unwrap());
    env.ok(&["send", "esc", "\n"]);
    env.wait_gone("esc");
    let out = env.ok(&["status", "esc"]);
    assert!(out.contains(shown) && out.contains(r"d\ex"), "{out:?}");
}

/// A FIFO in place of an exit record or a pidfile does not make `hm ls` or
/// `hm status` hang (the open would block until a writer came): it is
/// refused as not a regular file.
#[test]
fn fifo_in_the_socket_dir_does_not_block() {
    let env = Env::new();
    env.start("ok", &[], &["sleep", "600"]);
    for name in ["g10.exit", "g11.pid"] {
        let path = std::ffi::CString::new(
            env.sockets()
                .join(name)
                .into_os_string()
                .into_encoded_bytes(),
        )
        .unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    }
    for args in [
        &["ls", "--all"][..],
        &["ls", "--all", "--json"],
        &["status", "g10"],
        &["status", "g11"],
        &["wait", "g10", "--exit"],
    ] {
        let mut child = env
            .hm()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hm");
        let done = std::time::Instant::now() + DEADLINE;
        while child.try_wait().expect("try_wait").is_none() && std::time::Instant::now() < done {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let finished = child.try_wait().expect("try_wait").is_some();
        let _ = child.kill();
        let out = child.wait_with_output().expect("reap hm");
        assert!(finished, "hm {args:?} hangs on a FIFO");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if args[0] == "ls" {
            assert!(out.status.success(), "hm {args:?}: {stderr}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
        } else if args[1] == "g10" {
            assert_eq!(out.status.code(), Some(1), "hm {args:?}");
            assert!(
                stderr.contains("not a regular file"),
                "hm {args:?}: {stderr}"
            );
        }
    }
}

/// Bad values are refused with what a good one looks like: terminal sizes
/// outside 1..=1000 x 1..=500, unknown log levels, `--env` without `=` or
/// setting `HEIMDALL_TREE` (the guardian's token: `--env` replaced it, and a
/// process that left the group then outlived a SIGKILLed supervisor) and an
/// empty command are usage errors (exit 2), the same in the configuration
/// file are config errors; a server error names its protocol code, not a
/// Rust type.
#[test]
fn bad_values_are_refused_with_the_valid_ones() {
    let env = Env::new();
    for (args, says) in [
        (&["--cols", "0"][..], "0 is not in 1..=1000"),
        (&["--cols", "5000"], "5000 is not in 1..=1000"),
        (&["--rows", "5000"], "5000 is not in 1..=500"),
        (&["--log-level", "bogus"], "error, warn, info, debug, trace"),
        (&["--env", "FOO"], "\"FOO\" is not NAME=VALUE"),
        (
            &["--env", "HEIMDALL_TREE=mine"],
            "HEIMDALL_TREE is the supervisor's own",
        ),
    ] {
        let mut all = vec!["start"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "true"]);
        let out = env.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "hm {all:?}: {stderr}");
        assert!(stderr.contains(says), "hm {all:?}: {stderr}");
    }
    for verb in ["start", "run"] {
        let out = env.run(&[verb, "--", ""]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("the command is empty"), "{stderr}");
        assert!(stderr.contains(&format!("usage: hm {verb} ")), "{stderr}");
    }
    for (text, says) in [
        ("cols = 0", "cols = 0 is outside 1..=1000"),
        ("rows = 501", "rows = 501 is outside 1..=500"),
        (
            "log_level = \"bogus\"",
            "is not one of error, warn, info, debug, trace",
        ),
        (
            "[[env]]\nname = \"HEIMDALL_TREE\"\nvalue = \"x\"",
            "HEIMDALL_TREE is the supervisor's own",
        ),
        (
            "detach_key = true",
            "detach_key: expected a control key (\"ctrl-]\", \"C-\\\\\", \"^A\"), a byte (0x1C, 28) or \"none\"",
        ),
    ] {
        let config = env.config("bad.toml", text);
        let out = env.run(&["start", "--config", &config, "--", "true"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
    env.start("re", &[], &["sleep", "600"]);
    let out = env.run(&["wait", "re", "--regex", "("]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.trim_end().ends_with("(invalid_regex)"), "{stderr}");
}

/// Item 27: an error is printed once, its cause not repeated.
#[test]
fn item27_config_error_is_printed_once() {
    let env = Env::new();
    let out = env.run(&["ls", "--config", "/nonexistent.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    assert!(stderr.contains("/nonexistent.toml"), "{stderr}");
}

/// Input that ends the program is a success: `hm send` exits 0 and says
/// nothing alarming when the line (or the key) it typed made the session
/// end — for a line (`read x`), and for keys sent one by one when the first
/// ends the program (`y` to a one-key prompt, then an Enter with nowhere to
/// go).
#[test]
fn input_that_ends_the_session_is_a_success() {
    let env = Env::new();
    let exit_tail = |id: &str| {
        env.wait_gone(id);
        let path = env.sockets().join(format!("{id}.exit"));
        let rec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("exit record"))
                .expect("exit record json");
        rec["output_tail"].as_str().unwrap_or_default().to_string()
    };
    let check = |args: &[&str]| {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert_eq!(out.status.code(), Some(0), "hm {args:?}: {stderr}");
        for alarm in ["error", "broken pipe", "failed", "cannot"] {
            assert!(!stderr.contains(alarm), "hm {args:?}: {stderr}");
        }
    };

    env.start(
        "line",
        &[],
        &["sh", "-c", "printf ready; read x; echo got-$x"],
    );
    env.wait_screen("line", "ready");
    check(&["send", "line", "abc\r"]);
    assert!(exit_tail("line").contains("got-abc"));

    // The gap is far longer than the supervisor takes to end after its
    // child: the Enter comes after the session is gone.
    env.start(
        "key",
        &[],
        &[
            "sh",
            "-c",
            "stty -icanon; printf ready; head -c 1 >/dev/null; echo got-key",
        ],
    );
    env.wait_screen("key", "ready");
    check(&["send", "key", "--keys", "--gap", "3000", "y", "Enter"]);
    assert!(exit_tail("key").contains("got-key"));
}

/// Input that cannot reach the program is an error: after the child has
/// exited, and before the supervisor ends (here held by a subscriber that
/// reads nothing: the rest of the output waits for it), INPUT gets ERROR
/// `dead` with the exit code (to a client that said HELLO; a heimdall 1.0
/// client gets nothing), and `hm send` exits 1 saying the session ended and
/// the input was not typed.
#[test]
fn input_after_the_program_exited_is_an_error() {
    let env = Env::new();
    let config = env.config(
        "held.toml",
        "live_window_bytes = 4096\nstall_timeout_ms = 600000\n",
    );
    env.start(
        "held",
        &["--config", &config],
        &["sh", "-c", "echo READY; read x; exec yes flood"],
    );
    let mut stuck = Raw::connect(&env.sock("held"));
    stuck.send(0x02, &[]); // SUBSCRIBE, then never read again
    stuck.read_output_until("the program to start", |t| t.contains("READY"));
    let mut c = Raw::connect(&env.sock("held"));
    c.hello();
    c.send(0x01, b"go\r");
    // `yes` writes without end: once it has begun, a second without output
    // means the flood waits for the subscriber that does not read. Not
    // before: the silence since READY says nothing, and a child killed
    // before its flood leaves nothing to hold the session, which then ends
    // and closes this connection.
    env.wait_screen("held", "flood");
    poll(
        "the flood to wait for the stuck subscriber",
        DEADLINE,
        || {
            let (_, silent_ms, ..) = c.status();
            (silent_ms >= 1000).then_some(())
        },
    );
    let (_, child) = env.pids("held");
    // SAFETY: kill(2) on the session's child.
    assert_eq!(unsafe { libc::kill(child, libc::SIGKILL) }, 0);
    poll("the program to exit", DEADLINE, || {
        (!c.status().2).then_some(())
    });

    c.send(0x01, b"too late\r");
    c.send(0x03, &[]);
    let (kind, payload) = c.recv().expect("an answer to INPUT");
    assert_eq!(kind, 0x8F, "ERROR, not {payload:?}");
    let e: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(e["error"], "dead", "{e}");
    assert_eq!(e["request"], 0x01, "{e}");
    let msg = e["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("exit code 137") && msg.contains("not typed"),
        "{e}"
    );
    assert_eq!(c.recv().expect("STATUS_RESP").0, 0x82);

    let mut one_zero = Raw::connect(&env.sock("held"));
    one_zero.send(0x01, b"too late\r");
    assert!(!one_zero.status().2, "a 1.0 client gets no ERROR");

    for args in [
        &["send", "held", "too late"][..],
        &["send", "held", "--keys", "y", "Enter"][..],
    ] {
        let out = env.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "hm {args:?}: {stderr}");
        assert!(
            stderr.contains("ended (exit code 137)") && stderr.contains("not typed"),
            "hm {args:?}: {stderr}"
        );
        assert!(!stderr.contains("(dead)"), "hm {args:?}: {stderr}");
    }
    // The stuck subscriber goes: the session ends.
    drop(stuck);
    env.wait_gone("held");
}

/// An argument that is not UTF-8 never makes `hm` panic (it did, exit 101
/// with a backtrace, whenever the command line was refused): where text is
/// needed it is a usage error, exit 2, also with `--json`, that shows the
/// argument and says where any bytes go.
#[test]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    env.start("cat", &[], &["cat"]);
    let bad = std::ffi::OsStr::from_bytes(b"\xff");
    let cases: [&[&std::ffi::OsStr]; 4] = [
        &["status".as_ref(), bad],
        &["status".as_ref(), bad, "--json".as_ref()],
        &["send".as_ref(), "cat".as_ref(), bad],
        &["kill".as_ref(), bad, "--json".as_ref()],
    ];
    for args in cases {
        let out = env.hm().args(args).output().expect("run hm");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "hm {args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(2), "hm {args:?}: {stderr}");
        // Which argument, and where any bytes go (clap said only "invalid
        // UTF-8 was detected in one or more arguments").
        let said = match args.contains(&"--json".as_ref()) {
            true => {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error json");
                assert_eq!(v["error"], "usage", "{v}");
                v["message"].as_str().unwrap_or_default().to_string()
            }
            false => stderr.into_owned(),
        };
        assert!(
            said.contains(r#"the argument "\xff" is not UTF-8, and this one takes text"#)
                && said.contains("hm send --stdin, take any bytes"),
            "hm {args:?}: {said}"
        );
    }
}

/// A command's arguments that are not UTF-8 reach the program as the bytes
/// they are (`hm start` refused them); status and the exit record, which
/// are JSON, show U+FFFD for the bad bytes.
#[test]
fn a_commands_arguments_that_are_not_utf8_reach_the_program() {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let file = env.dir.path().join("arg");
    let out = env
        .hm()
        .args(["start", "--id", "caf", "--", "sh", "-c"])
        .arg("printf %s \"$1\" > \"$0\"; sleep 60")
        .arg(&file)
        .arg(std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .output()
        .expect("run hm start");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = poll("the program to write its argument", DEADLINE, || {
        std::fs::read(&file).ok().filter(|b| !b.is_empty())
    });
    assert_eq!(got, b"caf\xe9");
    let v = env.status_json("caf");
    assert_eq!(v["command"][4], "caf\u{FFFD}", "{v}");
    env.ok(&["kill", "caf"]);
    let v = env.status_json("caf");
    assert_eq!(v["command"][4], "caf\u{FFFD}", "{v}");
}

/// `hm report --help` does not show `--id` as required (it defaults from
/// `HEIMDALL_SESSION_ID`, as it says), and without either `hm report`
/// is a usage error that says what to give.
#[test]
fn report_id_comes_from_the_environment_and_help_says_so() {
    let env = Env::new();
    let help = env.ok(&["report", "--help"]);
    let usage = help
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("a usage line: {help}"));
    assert!(!usage.contains("--id"), "{usage}");
    assert!(help.contains("[env: HEIMDALL_SESSION_ID"), "{help}");
    let out = env.run(&["report", "active"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--id ID") && stderr.contains("HEIMDALL_SESSION_ID"),
        "{stderr}"
    );
    // The variable names the session as --id would.
    let out = env
        .hm()
        .args(["report", "active"])
        .env("HEIMDALL_SESSION_ID", "nosuch")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nosuch"), "{stderr}");
    // A session started with another `session_env_var` has only that
    // variable: hm report inside it reads the same configuration.
    let conf = env.dir.path().join("config").join("heimdall");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("heimdall.toml"),
        "session_env_var = \"MY_SESSION\"\n",
    )
    .unwrap();
    let hm = common::hm_bin();
    let script = "\"$0\" report waiting --prompt from-inside; sleep 600";
    let out = env
        .hm()
        .args(["start", "--id", "rep", "--", "sh", "-c", script])
        .arg(&hm)
        .env_remove("HEIMDALL_SESSION_ID")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["wait", "rep", "--state", "waiting", "--timeout", "30000"]);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["explain", "rep", "--json"])).expect("explain json");
    assert_eq!(v["waiting"]["prompt"], "from-inside", "{v}");
    let out = env.hm().args(["report", "active"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its MY_SESSION names it"), "{stderr}");
}

/// An option that only means something with another (`hm wait --output`
/// with `--regex`, `hm send --gap` with `--keys`, `hm report --prompt`,
/// `--kind` and `--option` with `waiting`) was silently dropped when a
/// rival came instead: `hm wait X --output --exit` waited for the exit, `hm
/// wait X --output --idle 10` answered on silence, `hm send X --stdin --gap
/// 5` typed stdin, `hm report active --prompt Q` reported active — each
/// exit 0 as if the option had been taken. So were `hm start` flags the session's other
/// settings leave without effect: `--debounce-ms` with a classifier other
/// than claude (the default simple one too), `--idle-threshold-ms` with the
/// none classifier, `--screen-scrollback-lines` with the screen model off.
/// Now each is a usage error (exit 2: nothing waited for, typed, reported
/// or started) that names both.
#[test]
fn an_option_without_the_one_it_needs_is_a_usage_error() {
    let env = Env::new();
    env.start("cat", &[], &["cat"]);
    let start = |flags: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec!["start", "--id", "lf"];
        args.extend_from_slice(flags);
        args.extend(["--", "cat"]);
        args
    };
    let config = env.config("off.toml", "screen_model = false\nclassifier = \"none\"\n");
    let config = config.as_str();
    let cases: Vec<(Vec<&str>, [&str; 2])> = vec![
        (start(&["--debounce-ms", "50"]), ["--debounce-ms", "simple"]),
        (
            start(&["--classifier", "simple", "--debounce-ms", "50"]),
            ["--debounce-ms", "simple"],
        ),
        (
            start(&["--classifier", "none", "--debounce-ms", "50"]),
            ["--debounce-ms", "none"],
        ),
        (
            start(&["--classifier", "none", "--idle-threshold-ms", "50"]),
            ["--idle-threshold-ms", "none"],
        ),
        (
            start(&["--screen-model=false", "--screen-scrollback-lines", "5"]),
            ["--screen-scrollback-lines", "--screen-model=false"],
        ),
        (
            [
                &["--config", config][..],
                &start(&["--idle-threshold-ms", "50"]),
            ]
            .concat(),
            ["--idle-threshold-ms", "none"],
        ),
        (
            [
                &["--config", config][..],
                &start(&["--screen-scrollback-lines", "5"]),
            ]
            .concat(),
            ["--screen-scrollback-lines", "screen_model = false"],
        ),
        (
            vec!["wait", "cat", "--output", "--exit"],
            ["--output", "--exit"],
        ),
        (
            vec!["wait", "cat", "--exit", "--output"],
            ["--output", "--exit"],
        ),
        (
            vec!["wait", "cat", "--output", "--idle", "10"],
            ["--output", "--idle"],
        ),
        (
            vec!["wait", "cat", "--output", "--state", "idle"],
            ["--output", "--state"],
        ),
        (
            vec!["send", "cat", "--stdin", "--gap", "5"],
            ["--stdin", "--gap"],
        ),
        (
            vec!["send", "cat", "--gap", "0", "--stdin"],
            ["--stdin", "--gap"],
        ),
        (
            vec!["report", "active", "--id", "cat", "--prompt", "Q?"],
            ["--prompt", "active"],
        ),
        (
            vec!["report", "idle", "--id", "cat", "--kind", "menu"],
            ["--kind", "idle"],
        ),
        (
            vec!["report", "active", "--id", "cat", "--option", "yes=y"],
            ["--option", "active"],
        ),
    ];
    for (mut args, both) in cases {
        // A wait that is not refused answers within its timeout; stdin
        // holds text that a send that is not refused would type.
        if args[0] == "wait" {
            args.extend(["--timeout", "2000"]);
        }
        let mut hm = Piped::spawn(&env, &args, Stdio::piped());
        if let Some(mut stdin) = hm.0.stdin.take() {
            // A refused hm may be gone before it reads (EPIPE).
            let _ = stdin.write_all(b"typed\n");
        }
        let (code, stderr) = hm.exit(&format!("hm {args:?}"));
        assert_eq!(code, Some(2), "hm {args:?}: {stderr}");
        assert!(
            both.iter().all(|o| stderr.contains(o)),
            "hm {args:?} names {both:?}: {stderr}"
        );
    }
    let status = env.status_json("cat");
    assert_eq!(status["output_offset"], 0, "nothing typed: {status}");
    let explain: serde_json::Value =
        serde_json::from_str(&env.ok(&["explain", "cat", "--json"])).expect("explain json");
    assert_ne!(explain["source"], "report", "nothing reported: {explain}");
    assert!(
        !env.run(&["status", "lf"]).status.success(),
        "no session lf started"
    );
}
