//! One heimdall.toml for every program: hm accepts the other programs'
//! tables, names unknown keys of its own part, and refuses security-weakening
//! keys from a ./heimdall.toml in the working directory.

mod common;
#[path = "../../client/tests/shared/config_file.rs"]
mod shared;

use common::Env;
use shared::Part;

#[test]
fn an_unknown_top_level_key_is_refused_naming_the_file_the_key_and_a_hint() {
    shared::refuses_unknown_top_level_keys(&common::hm_bin(), &["ls"]);
}

#[test]
fn every_programs_part_is_accepted_and_only_hms_keys_are_checked() {
    shared::checks_only_the_parts_it_reads(&common::hm_bin(), &["ls"], &[Part::TopLevel]);
}

/// A `./heimdall.toml` in the working directory is checked as a named one.
#[test]
fn an_unknown_key_of_a_local_file_is_named() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "scrollback_byte = 1\n",
    )
    .unwrap();
    let out = env.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid config heimdall.toml: unknown top-level key `scrollback_byte` (did you mean `scrollback_bytes`?)"), "{err}");
}

#[test]
fn a_local_file_may_not_set_security_weakening_keys() {
    let env = Env::new();
    for (i, text) in [
        "allow_root = true\n",
        "socket_dir = \"/tmp\"\n",
        "log_file = \"/tmp/x.log\"\n",
        "[[env]]\nname = \"LD_PRELOAD\"\nvalue = \"/tmp/x.so\"\n",
    ]
    .into_iter()
    .enumerate()
    {
        let local = env.dir.path().join("heimdall.toml");
        std::fs::write(&local, text).unwrap();
        let out = env.run(&["ls"]);
        assert!(!out.status.success(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("working directory"), "{text}: {err}");
        // The same file named with --config is the user's choice.
        let named = env.dir.path().join(format!("mine-{i}.toml"));
        std::fs::write(&named, text.replace("/tmp\"", "/tmp/hm-config-test\"")).unwrap();
        std::fs::remove_file(&local).unwrap();
        let out = env.run(&["--config", named.to_str().unwrap(), "ls"]);
        assert!(
            out.status.success(),
            "{text}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn start_env_sets_variables_over_the_config_env() {
    let env = Env::new();
    let cfg = env.config(
        "own.toml",
        "[[env]]\nname = \"FROM_CONFIG\"\nvalue = \"c\"\n[[env]]\nname = \"BOTH\"\nvalue = \"config\"\n",
    );
    let cfg = cfg.as_str();
    env.start(
        "envs",
        &[
            "--config",
            cfg,
            "--env",
            "BOTH=flag=with=equals",
            "--env",
            "NO_COLOR=1",
        ],
        &[
            "sh",
            "-c",
            "echo \"vars:$FROM_CONFIG:$BOTH:$NO_COLOR:\"; sleep 100",
        ],
    );
    env.wait_screen("envs", "vars:c:flag=with=equals:1:");
    // The command is the user's own, not wrapped in `env`.
    assert_eq!(env.status_json("envs")["command"][0], "sh");
    env.ok(&["kill", "envs"]);
    for bad in ["NOEQUALS", "=value"] {
        let out = env.run(&["start", "--env", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--env"), "{bad}: {err}");
    }
}

/// A bad `cols`, `rows` or `log_level` in the file is a configuration error
/// like any other in the file (`config`, exit 1; `usage`, exit 2, is the
/// command line's), and its message names the file, the key and the valid
/// values, whatever the value's type.
#[test]
fn a_bad_size_or_log_level_in_the_file_names_the_file_the_key_and_the_valid_values() {
    let env = Env::new();
    let file = env.dir.path().join("heimdall.toml");
    const LEVELS: &str = "is not one of error, warn, info, debug, trace";
    for (text, key, valid) in [
        ("cols = 0\n", "cols = 0 is outside", "1..=1000"),
        ("cols = 70000\n", "cols = 70000 is outside", "1..=1000"),
        (
            "cols = \"wide\"\n",
            "cols = \"wide\" is not a whole number",
            "1..=1000",
        ),
        ("rows = -3\n", "rows = -3 is outside", "1..=500"),
        (
            "rows = 2.5\n",
            "rows = 2.5 is not a whole number",
            "1..=500",
        ),
        ("log_level = \"loud\"\n", "log_level = \"loud\"", LEVELS),
        ("log_level = 3\n", "log_level = 3", LEVELS),
    ] {
        std::fs::write(&file, text).unwrap();
        for args in [&["ls"][..], &["start", "--", "true"]] {
            refused_saying(&env, args, text, &["heimdall.toml", key, valid]);
        }
        refused_as_json(&env, &["ls", "--json"], text, key);
    }
}

/// `hm ARGS` with the bad config `text` exits 1, its message holding each
/// of `says`.
fn refused_saying(env: &Env, args: &[&str], text: &str, says: &[&str]) {
    let out = env.run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text} hm {args:?}: {err}");
    for s in says {
        assert!(err.contains(s), "{text}: {err}");
    }
}

/// `hm ARGS` (with `--json`) with the bad config `text` prints the `config`
/// error, its message holding `key`.
fn refused_as_json(env: &Env, args: &[&str], text: &str, key: &str) {
    let out = env.run(args);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["error"], "config", "{text}: {v}");
    assert!(v["message"].as_str().unwrap().contains(key), "{text}: {v}");
}

/// A value of the wrong type for any key names the file, the key (its path
/// inside an `[[env]]` table) and the type the key takes, in words.
#[test]
fn a_value_of_the_wrong_type_names_the_file_the_key_and_the_expected_type() {
    let env = Env::new();
    // Named with --config: a ./heimdall.toml may not set env or log_file.
    const WHOLE: &str = "expected a whole number, 0 or more";
    for (text, key, expected) in [
        ("kill_grace_ms = -1\n", "kill_grace_ms: ", WHOLE),
        ("stall_timeout_ms = \"x\"\n", "stall_timeout_ms: ", WHOLE),
        ("scrollback_bytes = 1.5\n", "scrollback_bytes: ", WHOLE),
        ("echo_poll_us = true\n", "echo_poll_us: ", WHOLE),
        (
            "kill_process_group = \"yes\"\n",
            "kill_process_group: ",
            "expected true or false",
        ),
        (
            "session_env_var = 3\n",
            "session_env_var: ",
            "expected a string",
        ),
        ("log_file = 3\n", "log_file: ", "expected a path (a string)"),
        (
            "[[env]]\nname = \"A\"\nvalue = 1\n",
            "env[0].value: ",
            "expected a string",
        ),
        ("env = 1\n", "env: ", "expected an array"),
        (
            "detach_key = true\n",
            "detach_key: ",
            "expected a control key (\"ctrl-]\", \"C-\\\\\", \"^A\"), a byte (0x1C, 28) or \"none\"",
        ),
        (
            "\nscrollback_bytes = 99999999999999999999\n",
            "line 2, `scrollback_bytes = 99999999999999999999`: ",
            "integer",
        ),
    ] {
        let config = env.config("named.toml", text);
        let says = ["invalid config ", &config, key, expected];
        refused_saying(&env, &["ls", "--config", &config], text, &says);
        refused_as_json(&env, &["ls", "--json", "--config", &config], text, key);
    }
}

/// `hm` with neither `HEIMDALL_SOCKET_DIR` nor a usable default directory:
/// only a flag or a config file names `env`'s socket directory.
fn hm_without_socket_dir_env(env: &Env) -> std::process::Command {
    let mut c = env.hm();
    c.env_remove("HEIMDALL_SOCKET_DIR")
        .env("HOME", env.dir.path().join("home"));
    c
}

/// The program in session `id` reports waiting and starts a nested session
/// `{id}-nested`, both with a bare `hm`: they must find `env`'s directory.
fn check_the_session_uses_its_own_socket_dir(
    env: &Env,
    start: &mut std::process::Command,
    id: &str,
) {
    let hm = common::hm_bin();
    let nested = format!("{id}-nested");
    let script = format!(
        "\"$0\" report waiting --prompt 'Pick?' && read a && \"$0\" start --id {nested} -- sleep 60; sleep 60"
    );
    let out = start
        .args(["start", "--id", id, "--", "sh", "-c", &script])
        .arg(&hm)
        .output()
        .expect("run hm start");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.ok(&["wait", id, "--state", "waiting", "--timeout", "30000"]);
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["explain", id, "--json"])).expect("explain json");
    assert_eq!(v["source"], "report", "{v}");
    assert_eq!(v["waiting"]["prompt"], "Pick?", "{v}");
    env.ok(&["send", id, "\r"]);
    let sock = env.sock(&nested);
    common::poll(
        "the nested session next to its parent",
        common::DEADLINE,
        || sock.exists().then_some(()),
    );
    assert!(
        !env.dir.path().join("home").exists(),
        "the default directory was used"
    );
}

/// A session started with `--socket-dir` gives its program that directory
/// (`HEIMDALL_SOCKET_DIR`): `hm report` and a nested `hm start` inside it
/// use it, not the default.
#[test]
fn a_session_started_with_socket_dir_passes_it_to_its_program() {
    let env = Env::new();
    let mut start = hm_without_socket_dir_env(&env);
    start.arg("--socket-dir").arg(env.sockets());
    check_the_session_uses_its_own_socket_dir(&env, &mut start, "flag");
}

/// As with `--socket-dir`, when the directory comes from `--config`.
#[test]
fn a_session_started_with_a_config_socket_dir_passes_it_to_its_program() {
    let env = Env::new();
    let config = env.config("other.toml", &format!("socket_dir = {:?}\n", env.sockets()));
    let mut start = hm_without_socket_dir_env(&env);
    start.arg("--config").arg(&config);
    check_the_session_uses_its_own_socket_dir(&env, &mut start, "conf");
}

/// `log_filter` is checked when the file is read, `--log-filter` when the
/// command line is (a filter `tracing` cannot read was dropped for the log
/// level when the log started, silently), `--log-level` on the command
/// line beats the file's filter (the filter won, silently), and
/// `--log-filter` beats `--log-level` when both are given, as in heimdall 1.0.
#[test]
fn the_log_filter_is_checked_and_the_command_lines_level_beats_the_files() {
    let env = Env::new();
    let file = env.dir.path().join("heimdall.toml");
    let text = "log_filter = \"heimdall_supervisor=loud\"\n";
    std::fs::write(&file, text).unwrap();
    refused_saying(
        &env,
        &["start", "--", "true"],
        text,
        &[
            "heimdall.toml",
            "log_filter = \"heimdall_supervisor=loud\" is not a tracing filter",
        ],
    );
    std::fs::remove_file(&file).unwrap();
    let out = env.run(&[
        "start",
        "--log-filter",
        "heimdall_supervisor=loud",
        "--",
        "true",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--log-filter"), "{err}");

    std::fs::write(&file, "log_filter = \"info\"\n").unwrap();
    env.start("filtered", &[], &["sleep", "600"]);
    env.start("leveled", &["--log-level", "error"], &["sleep", "600"]);
    // heimdall 1.0's flags: --log-filter overrides --log-level, both given
    // (a 1.0 command line such as a service's; refused with exit 2 for a while).
    env.start(
        "both",
        &["--log-level", "error", "--log-filter", "info"],
        &["sleep", "600"],
    );
    for id in ["filtered", "leveled", "both"] {
        env.ok(&["kill", id]);
        env.wait_gone(id);
    }
    let log = |id: &str| {
        std::fs::read_to_string(env.sockets().join(format!("{id}.log"))).unwrap_or_default()
    };
    for id in ["filtered", "both"] {
        assert!(log(id).contains("session started"), "{id}: {}", log(id));
    }
    assert!(!log("leveled").contains("INFO"), "{}", log("leveled"));
}

/// A path that is no configuration file — an endless device, a file far
/// larger than any configuration — is refused at once, read no further
/// than a bound, as the waiting rules file named in one is.
#[test]
fn an_endless_or_huge_config_file_is_refused_at_once() {
    let env = Env::new();
    let huge = env.dir.path().join("huge.toml");
    std::fs::write(&huge, "# a comment\n".repeat(200_000)).unwrap();
    let huge = huge.to_str().unwrap();
    let rules_in = env.dir.path().join("rules.toml");
    std::fs::write(&rules_in, "waiting_rules = \"/dev/zero\"\n").unwrap();
    let rules_in = rules_in.to_str().unwrap();
    for (config, says) in [
        ("/dev/zero", "/dev/zero"),
        (huge, "huge.toml"),
        (rules_in, "/dev/zero"),
    ] {
        let (code, err) = common::Piped::spawn(
            &env,
            &["--config", config, "ls"],
            std::process::Stdio::null(),
        )
        .exit("hm to refuse the config");
        assert_eq!(code, Some(1), "{config}: {err}");
        assert!(
            err.contains(says) && err.contains("1024 KiB"),
            "{config}: {err}"
        );
    }
}
