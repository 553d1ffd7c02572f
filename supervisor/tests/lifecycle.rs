//! Killing sessions and their whole process tree, exit codes, exit records,
//! and what happens when the supervisor itself is signalled or killed.

mod common;

use std::time::Duration;

use common::{alive, poll, Env, Raw, DEADLINE};

/// Read `n` pids the child wrote to files in the test dir.
fn read_pids(env: &Env, names: &[&str]) -> Vec<i32> {
    names
        .iter()
        .map(|n| {
            let p = env.dir.path().join(n);
            poll(&format!("pid file {n}"), DEADLINE, || {
                std::fs::read_to_string(&p).ok()?.trim().parse::<i32>().ok()
            })
        })
        .collect()
}

#[test]
fn kill_takes_the_whole_tree_including_double_forked_grandchildren() {
    let env = Env::new();
    // A background child, a double-forked grandchild (re-parented, still in
    // the group), and one that left the group with setsid.
    let script = "sleep 1000 & echo $! > a.pid; (sleep 1001 & echo $! > b.pid); setsid sleep 1002 & echo $! > c.pid; wait";
    env.start("tree", &["--kill-grace-ms", "2000"], &["sh", "-c", script]);
    let (_, child) = env.pids("tree");
    let pids = read_pids(&env, &["a.pid", "b.pid", "c.pid"]);
    for p in &pids {
        assert!(alive(*p), "{p} runs before the kill");
    }
    let out = env.ok(&["kill", "tree"]);
    assert!(out.contains("killed tree"), "{out}");
    for p in pids.iter().chain([&child]) {
        poll(&format!("process {p} to be gone"), DEADLINE, || {
            (!alive(*p)).then_some(())
        });
    }
    env.wait_gone("tree");
}

#[test]
fn exit_codes_zero_seven_and_signal() {
    let env = Env::new();
    for (id, script, code) in [("zero", "exit 0", 0), ("seven", "echo bye; exit 7", 7)] {
        let out = env.run(&["run", "--detach", "--id", id, "--", "sh", "-c", script]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "hm run --detach exits with the child's code"
        );
        let st = env.status_json(id);
        assert_eq!(st["code"], code);
        assert_eq!(st["alive"], false);
    }
    // Killed by SIGTERM: 128 + 15, in the foreground supervisor's code too.
    let mut fg = env.spawn(&["run", "--detach", "--id", "term", "--", "sleep", "100"]);
    poll("the session", DEADLINE, || {
        env.sock("term").exists().then_some(())
    });
    env.ok(&["kill", "term"]);
    assert_eq!(fg.wait().unwrap().code(), Some(143));
    let st = env.status_json("term");
    assert_eq!(st["code"], 143);
    assert_eq!(st["signal"], 15);
}

#[test]
fn status_answers_after_the_supervisor_is_gone() {
    let env = Env::new();
    env.start("gone", &[], &["sh", "-c", "echo the-end; exit 7"]);
    env.wait_gone("gone");
    let out = env.ok(&["status", "gone"]);
    assert!(out.contains("exited (code 7)"), "{out}");
    let rec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.sockets().join("gone.exit")).unwrap())
            .unwrap();
    assert_eq!(rec["code"], 7);
    assert!(rec["output_tail"].as_str().unwrap().contains("the-end"));
    assert!(rec["ended_at"].as_str().unwrap().ends_with('Z'));
    // `hm ls` lists running sessions; `--all` the ended ones too.
    assert_eq!(env.ok(&["ls"]), "No active sessions\n");
    let ls = env.ok(&["ls", "--all"]);
    assert!(ls.contains("exited (7)"), "{ls}");
    // Until hm clean removes it.
    env.ok(&["clean", "--older-than", "0s", "--force"]);
    assert!(!env.sockets().join("gone.exit").exists());
    assert!(!env.run(&["status", "gone"]).status.success());
}

#[test]
fn supervisor_sigterm_kills_the_group_and_exits_with_the_childs_code() {
    let env = Env::new();
    let mut fg = env.spawn(&[
        "run",
        "--detach",
        "--id",
        "st",
        "--",
        "sh",
        "-c",
        "sleep 1000 & echo $! > bg.pid; wait",
    ]);
    let bg = read_pids(&env, &["bg.pid"])[0];
    // SAFETY: kill(2).
    unsafe { libc::kill(fg.id() as i32, libc::SIGTERM) };
    let code = fg.wait().unwrap().code();
    assert_eq!(code, Some(143), "sh killed by SIGTERM");
    poll("the background sleep to be gone", DEADLINE, || {
        (!alive(bg)).then_some(())
    });
}

#[test]
fn sigkilled_supervisor_leaves_no_tree_and_stale_files_are_taken_over() {
    let env = Env::new();
    env.start(
        "k9",
        &["--kill-grace-ms", "1000"],
        &[
            "sh",
            "-c",
            "trap '' HUP; sleep 1000 & echo $! > bg.pid; wait",
        ],
    );
    let (sup, child) = env.pids("k9");
    let bg = read_pids(&env, &["bg.pid"])[0];
    // SAFETY: kill(2).
    unsafe { libc::kill(sup, libc::SIGKILL) };
    for p in [child, bg] {
        poll(&format!("{p} to be gone"), DEADLINE, || {
            (!alive(p)).then_some(())
        });
    }
    // The dead supervisor's socket and pidfile are stale; a new session takes the id.
    assert!(env.sock("k9").exists());
    env.start("k9", &[], &["sleep", "100"]);
    let mut c = Raw::connect(&env.sock("k9"));
    assert!(c.status().2);
}

/// `hm status ID --json` of an exited session, once it says so.
fn exited_status(env: &Env, id: &str) -> serde_json::Value {
    poll(&format!("{id} to be shown exited"), DEADLINE, || {
        let out = env.run(&["status", id, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["state"] == "exited").then_some(v)
    })
}

/// A session whose supervisor was SIGKILLed still says how it ended: its
/// guardian leaves the exit record (a program that hangs up with its
/// terminal: signal 1; one that ignores SIGHUP and SIGTERM: SIGKILL after
/// the grace period), `hm ls --all` lists it as exited, `hm wait --exit`
/// answers, saying the supervisor died (it answered as for a program that
/// ended by itself), and the id starts again at once as a new, live
/// session.
#[test]
fn a_sigkilled_supervisor_still_leaves_an_exit_record() {
    let env = Env::new();
    env.start("hup", &[], &["sleep", "600"]);
    env.start(
        "stubborn",
        &["--kill-grace-ms", "500"],
        &["sh", "-c", "trap '' HUP TERM; echo armed; exec sleep 600"],
    );
    let mut children = Vec::new();
    // Killed only once it ignores them.
    env.wait_screen("stubborn", "^armed");
    for (id, signal) in [("hup", 1), ("stubborn", 9)] {
        let (sup, child) = env.pids(id);
        children.push(child);
        // SAFETY: kill(2) on the supervisor this test started.
        unsafe { libc::kill(sup, libc::SIGKILL) };
        let v = exited_status(&env, id);
        assert_eq!(v["signal"], signal, "{v}");
        assert_eq!(v["code"], 128 + signal, "{v}");
        assert_eq!(v["pid"], child, "{v}");
        assert_eq!(v["supervisor_died"], true, "{v}");
        assert_eq!(v["command"][0], if signal == 1 { "sleep" } else { "sh" });
        poll(&format!("{id}'s child to be gone"), DEADLINE, || {
            (!alive(child)).then_some(())
        });
        let text = env.ok(&["status", id]);
        assert!(
            text.contains(&format!("killed by signal {signal}, code {}", 128 + signal))
                && text.contains("its supervisor died"),
            "{text}"
        );
        let ls: serde_json::Value =
            serde_json::from_str(&env.ok(&["ls", "--all", "--json"])).unwrap();
        let row = ls
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is listed: {ls}"));
        assert_eq!(row["state"], "exited", "{row}");
        assert_eq!(row["code"], 128 + signal, "{row}");
        let out = env.run(&["wait", id, "--exit", "--json"]);
        let w: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(w["until"], "exit", "{w}");
        assert_eq!(w["code"], 128 + signal, "{w}");
        // Not an end of its own: the program was ended by the guardian.
        assert_eq!(w["supervisor_died"], true, "{w}");
        assert_eq!(out.status.code(), Some(128 + signal));
        let out = env.run(&["wait", id, "--exit"]);
        assert_eq!(out.status.code(), Some(128 + signal));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "killed by signal {signal}, code {}; its supervisor died",
                128 + signal
            )),
            "{err}"
        );
    }
    // The id starts again at once, and the new session is not shown the
    // old record.
    env.start("hup", &[], &["sleep", "600"]);
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["status", "hup", "--json"])).unwrap();
    assert_eq!(v["alive"], true, "{v}");
    assert_ne!(v["pid"], children[0], "{v}");
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    assert!(
        ls.as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "hup" && r["alive"] == true),
        "{ls}"
    );
    env.ok(&["kill", "hup"]);
}

/// The id of a session whose supervisor was SIGKILLed starts again at
/// once, while the old guardian still waits out the grace period of a
/// program that ignores SIGTERM and SIGHUP: the new session is the one
/// shown, listed once and waited on; the old program is ended all the
/// same, and the guardian's account of it never overwrites the new
/// session's.
#[test]
fn an_id_restarted_while_the_old_guardian_sweeps_is_the_new_session() {
    let env = Env::new();
    env.start(
        "again",
        &["--kill-grace-ms", "2000"],
        &["sh", "-c", "trap '' HUP TERM; echo armed; exec sleep 600"],
    );
    env.wait_screen("again", "^armed");
    let (sup, old_child) = env.pids("again");
    // SAFETY: kill(2) on the supervisor this test started.
    unsafe { libc::kill(sup, libc::SIGKILL) };
    env.start("again", &[], &["sleep", "600"]);
    let (_, new_child) = env.pids("again");
    assert_ne!(new_child, old_child);
    // The guardian ends the old program after its grace period.
    poll("the old program to be ended", DEADLINE, || {
        (!alive(old_child)).then_some(())
    });
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["status", "again", "--json"])).unwrap();
    assert_eq!(v["alive"], true, "{v}");
    assert_eq!(v["pid"], new_child, "{v}");
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--all", "--json"])).unwrap();
    let rows: Vec<_> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == "again")
        .collect();
    assert_eq!(rows.len(), 1, "{ls}");
    assert_eq!(rows[0]["alive"], true, "{ls}");
    // Waiting for the exit waits for the new program, not the old one's
    // account.
    let out = env.run(&["wait", "again", "--exit", "--timeout", "500"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    env.ok(&["kill", "again"]);
    let v = exited_status(&env, "again");
    assert_eq!(v["pid"], new_child, "{v}");
    assert_eq!(v["supervisor_died"], false, "{v}");
    assert_eq!(v["command"][0], "sleep", "{v}");
}

#[test]
fn ls_removes_stale_files_of_a_dead_supervisor() {
    let env = Env::new();
    env.start("stale", &[], &["sleep", "100"]);
    let (sup, _) = env.pids("stale");
    // SAFETY: kill(2).
    unsafe { libc::kill(sup, libc::SIGKILL) };
    poll("the supervisor to die", DEADLINE, || {
        (!alive(sup)).then_some(())
    });
    // Age the pidfile past the start-up grace.
    let pid = env.sockets().join("stale.pid");
    let old = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&pid)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = env.ok(&["ls"]);
    assert!(!out.contains("stale"), "{out}");
    assert!(!pid.exists() && !env.sock("stale").exists());
}

/// A program that ends (or is killed) with typed input it never read: the
/// input still queued in the supervisor is dropped, the session ends and
/// its exit is recorded (the pty's closed side used to make the input
/// writer spin forever on EAGAIN, starving the supervisor).
#[test]
fn a_program_that_ends_with_unread_input_still_ends_the_session() {
    let env = Env::new();
    // Ends by itself, in cooked mode (the line discipline holds 4 KiB).
    env.start("ends", &[], &["sh", "-c", "sleep 1; exit 6"]);
    let lines: String = (1..=20_000).map(|i| format!("{i}\n")).collect();
    env.ok(&["send", "ends", &lines]);
    let out = env.run(&["wait", "ends", "--exit", "--timeout", "30000"]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    env.wait_gone("ends");
    let st = env.status_json("ends");
    assert_eq!(
        (st["alive"].as_bool(), st["code"].as_i64()),
        (Some(false), Some(6)),
        "{st}"
    );

    // Killed, with half a megabyte waiting.
    env.start("killed", &[], &["sh", "-c", "stty raw -echo; sleep 100"]);
    let a = "a".repeat(100_000);
    env.ok(&["send", "killed", &a, &a, &a, &a, &a]);
    let out = env.run(&["kill", "killed"]);
    assert!(out.status.success(), "{out:?}");
    env.wait_gone("killed");
    assert_eq!(env.status_json("killed")["alive"], false);
}
