//! One heimdall.toml for every program: hm accepts the other programs'
//! tables, names unknown keys of its own part, and refuses security-weakening
//! keys from a ./heimdall.toml in the working directory.

mod common;

use common::Env;

#[test]
fn a_shared_file_with_agent_and_discord_tables_is_accepted() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "scrollback_bytes = 4096\n[agent]\nmodel = \"x\"\n[discord]\nchannel = 1\n",
    )
    .unwrap();
    let out = env.run(&["ls"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_key_of_hms_part_is_named() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "scrollback_byte = 1\n",
    )
    .unwrap();
    let out = env.run(&["ls"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scrollback_byte"), "{err}");
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
    let cfg = env.dir.path().join("own.toml");
    std::fs::write(
        &cfg,
        "[[env]]\nname = \"FROM_CONFIG\"\nvalue = \"c\"\n[[env]]\nname = \"BOTH\"\nvalue = \"config\"\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
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
