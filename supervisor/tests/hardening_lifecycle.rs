//! Process safety under real use (issue #8): a caller's descriptors, ids
//! restarted at once, nested sessions, queries while a session ends, and the
//! guardian's sweep after the supervisor is SIGKILLed.

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::{alive, poll, Env, DEADLINE};

/// The descriptors a process has open, with what they point to.
fn open_fds(pid: i32) -> Vec<(i32, String)> {
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

/// Item 6: `x=$(hm start --id s -- sleep 100 3>&1)` returns at once: the
/// supervisor and the child keep none of the caller's descriptors.
#[test]
fn start_returns_at_once_when_the_caller_passes_extra_fds() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors owned from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let pipe = format!(
        "pipe:[{}]",
        std::fs::metadata(format!("/proc/self/fd/{}", r.as_raw_fd()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("pipe inode")
    );
    let w_raw = w.as_raw_fd();
    let mut cmd = env.hm();
    cmd.args(["start", "--id", "s", "--", "sleep", "100"]);
    // SAFETY: dup2 is async-signal-safe; fd 3 of `hm start` is the pipe,
    // as in `x=$(hm start … 3>&1)`.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(w_raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run hm start");
    assert!(out.status.success(), "{out:?}");
    drop(w);
    // EOF on the pipe: nobody holds its write end any more.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = std::io::Read::read_to_end(&mut std::fs::File::from(r), &mut buf);
        let _ = tx.send(r.map(|_| buf));
    });
    let got = rx.recv_timeout(DEADLINE);
    let (sup, child) = env.pids("s");
    for (who, pid) in [("supervisor", sup), ("child", child)] {
        let held: Vec<_> = open_fds(pid)
            .into_iter()
            .filter(|(_, t)| *t == pipe)
            .collect();
        assert!(
            held.is_empty(),
            "the {who} holds the caller's pipe: {held:?}"
        );
    }
    assert!(got.is_ok(), "the caller's pipe never reached EOF");
    // (sleep opens locale files for a moment while it starts.)
    poll("the child to hold only stdio", DEADLINE, || {
        let fds: Vec<i32> = open_fds(child).into_iter().map(|(fd, _)| fd).collect();
        (fds == [0, 1, 2]).then_some(())
    });
    assert!(alive(sup) && alive(child), "the session still runs");
    assert!(env.run(&["kill", "s"]).status.success());
}

/// Item 4: `hm start --id X` while `hm kill X` is ending the old
/// supervisor, two starts at a time, many rounds: a start either fails (the
/// id is still held) or gives a session that is visible and answers, and
/// never do two starts both get the id.
#[test]
fn restart_right_after_kill_is_never_invisible_nor_doubled() {
    let env = Env::new();
    env.start("x", &[], &["sleep", "1000"]);
    for round in 0..6 {
        let (old_sup, _) = env.pids("x");
        let mut kill = env.spawn(&["kill", "x"]);
        let end = Instant::now() + DEADLINE;
        let winners = loop {
            let starts: Vec<_> = (0..2)
                .map(|_| {
                    env.hm()
                        .args(["start", "--id", "x", "--", "sleep", "1000"])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("spawn hm start")
                })
                .collect();
            let mut winners = 0;
            for start in starts {
                let out = start.wait_with_output().expect("hm start");
                if out.status.success() {
                    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "x");
                    winners += 1;
                } else {
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(err.contains("already running"), "round {round}: {err}");
                }
            }
            if winners > 0 {
                break winners;
            }
            assert!(Instant::now() < end, "round {round}: the id never freed");
        };
        assert_eq!(winners, 1, "round {round}: two supervisors got one id");
        assert!(kill.wait().expect("hm kill").success(), "round {round}");
        poll("the old supervisor to exit", DEADLINE, || {
            (!alive(old_sup)).then_some(())
        });
        // The new session is visible and answers after the old one is gone.
        let st = env.status_json("x");
        assert_eq!(st["alive"], true, "round {round}: {st}");
        let (sup, child) = env.pids("x");
        assert_ne!(sup, old_sup);
        assert!(alive(sup) && alive(child));
        assert_eq!(st["supervisor_pid"], sup, "round {round}");
    }
    assert!(env.run(&["kill", "x"]).status.success());
    env.wait_gone("x");
}

/// The pid the session's script wrote to `name` in the test directory.
fn pid_file(env: &Env, name: &str) -> i32 {
    poll(name, DEADLINE, || {
        std::fs::read_to_string(env.dir.path().join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

/// `hm start --id ID [extra] -- sh -c SCRIPT` with `$HM` naming the binary
/// under test (for sessions started from inside a session).
fn start_sh(env: &Env, id: &str, extra: &[&str], script: &str) {
    let mut args = vec!["start", "--id", id];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let out = env
        .hm()
        .env("HM", common::hm_bin())
        .args(&args)
        .output()
        .expect("run hm start");
    assert!(out.status.success(), "hm start {id}: {out:?}");
}

/// Wait until session `id` answers `hm status` as running; its pids.
fn wait_running(env: &Env, id: &str) -> (i32, i32) {
    poll(&format!("session {id} to run"), DEADLINE, || {
        let out = env.run(&["status", id, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["alive"] == true).then_some(())
    });
    env.pids(id)
}

/// Item 1: a session started from inside another (`hm start` in its shell)
/// survives the outer session's end, whether the outer child exits or the
/// outer session is killed.
#[test]
fn ending_a_session_spares_sessions_started_inside_it() {
    let env = Env::new();
    // The outer child starts `inner` and exits: the outer session ends.
    start_sh(
        &env,
        "outer",
        &[],
        r#""$HM" start --id inner -- sleep 1000 >/dev/null"#,
    );
    // Killed: the outer child starts `inner2` and stays.
    start_sh(
        &env,
        "outer2",
        &["--kill-grace-ms", "2000"],
        r#""$HM" start --id inner2 -- sleep 1000 >/dev/null; sleep 1000"#,
    );
    let inner = wait_running(&env, "inner");
    let inner2 = wait_running(&env, "inner2");
    env.wait_gone("outer");
    assert!(env.run(&["kill", "outer2"]).status.success());
    env.wait_gone("outer2");
    for (id, (sup, child)) in [("inner", inner), ("inner2", inner2)] {
        assert!(alive(sup), "{id}'s supervisor was killed");
        assert!(alive(child), "{id}'s child was killed");
        assert_eq!(env.status_json(id)["alive"], true, "{id}");
    }
    assert_eq!(env.status_json("outer")["code"], 0);
    for id in ["inner", "inner2"] {
        assert!(env.run(&["kill", id]).status.success());
    }
}

/// A session started from inside another ends on `hm kill` like any other,
/// also when its program ignores SIGTERM and SIGHUP (SIGKILL after the
/// grace): its supervisor, re-parented to the outer one (a subreaper),
/// still counts its own child as its own; the outer session lives on.
#[test]
fn killing_a_session_started_inside_another_ends_it() {
    let env = Env::new();
    start_sh(
        &env,
        "outer",
        &[],
        r#""$HM" start --id inner --kill-grace-ms 1000 -- sh -c "trap '' TERM HUP; sleep 1000" >/dev/null; sleep 1000"#,
    );
    let (inner_sup, inner_child) = wait_running(&env, "inner");
    let (outer_sup, outer_child) = env.pids("outer");
    assert!(env.run(&["kill", "inner"]).status.success());
    env.wait_gone("inner");
    assert!(!alive(inner_child), "inner's child survived the kill");
    // It removes its files, then exits.
    poll("inner's supervisor to exit", DEADLINE, || {
        (!alive(inner_sup)).then_some(())
    });
    assert!(
        alive(outer_sup) && alive(outer_child),
        "the outer session was hit"
    );
    assert!(env.run(&["kill", "outer"]).status.success());
    env.wait_gone("outer");
}

/// Item 30: after the supervisor is SIGKILLed, the guardian ends a
/// descendant that left the process group (`setsid sleep 1000 &`) — and
/// nothing else: a session with the same id in another socket directory,
/// and one started with the same id during the sweep, survive.
#[test]
fn guardian_ends_descendants_that_left_the_group_and_only_those() {
    let env = Env::new();
    let other = Env::new();
    other.start("same", &[], &["sleep", "1000"]);
    let (other_sup, other_child) = other.pids("same");
    // The tree ignores SIGTERM and SIGHUP: the sweep lasts the whole grace.
    env.start(
        "same",
        &["--kill-grace-ms", "3000"],
        &[
            "sh",
            "-c",
            "trap '' TERM HUP; setsid sleep 1000 & echo $! > left.pid; wait",
        ],
    );
    let (sup, child) = env.pids("same");
    let left = pid_file(&env, "left.pid");
    // SAFETY: kill(2).
    unsafe { libc::kill(sup, libc::SIGKILL) };
    poll("the supervisor to die", DEADLINE, || {
        (!alive(sup)).then_some(())
    });
    // A new session takes the id while the old tree is being swept.
    env.start("same", &[], &["sleep", "1000"]);
    let (new_sup, new_child) = env.pids("same");
    for p in [left, child] {
        poll(
            &format!("process {p} of the killed session to end"),
            DEADLINE,
            || (!alive(p)).then_some(()),
        );
    }
    for (what, p) in [
        ("other dir's supervisor", other_sup),
        ("other dir's child", other_child),
        ("restarted supervisor", new_sup),
        ("restarted child", new_child),
    ] {
        assert!(alive(p), "the guardian killed the {what}");
    }
    assert_eq!(other.status_json("same")["alive"], true);
    assert_eq!(env.status_json("same")["alive"], true);
}

/// CPU time (clock ticks) a process's threads used: (main thread, the others).
fn thread_ticks(pid: i32) -> (u64, u64) {
    let ticks = |stat: &str| -> u64 {
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        // After the name: state is field 3; utime and stime are 14 and 15.
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
            + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
    };
    let (mut main, mut others) = (0, 0);
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let tid: i32 = e
            .file_name()
            .to_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let t = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| ticks(&s))
            .unwrap_or(0);
        if tid == pid {
            main += t;
        } else {
            others += t;
        }
    }
    (main, others)
}

/// Item 18: while a kill waits out its grace period, looking for what is
/// left of the tree (a `/proc` scan every 20 ms) happens off the runtime's
/// thread, which stays free for output and clients.
#[test]
fn kill_in_progress_scans_proc_off_the_runtime_thread() {
    let env = Env::new();
    env.start(
        "slow",
        &["--kill-grace-ms", "6000"],
        &["sh", "-c", "trap '' TERM HUP; while :; do sleep 1; done"],
    );
    let (sup, _) = env.pids("slow");
    let mut kill = env.spawn(&["kill", "slow"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = thread_ticks(sup);
    // Status answers while the kill is in progress.
    let mut c = common::Raw::connect(&env.sock("slow"));
    assert!(c.status().2, "the child still runs during the grace period");
    std::thread::sleep(std::time::Duration::from_secs(3));
    let after = thread_ticks(sup);
    let main = after.0 - before.0;
    let others = after.1 - before.1;
    eprintln!("main thread {main} ticks, other threads {others} ticks");
    assert!(kill.wait().expect("hm kill").success());
    assert!(
        main <= 2 + others / 2,
        "the runtime thread did the scanning: {main} ticks vs {others} on other threads"
    );
}

/// `hm ARGS` must succeed; its stdout and stderr on failure.
fn answers(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hm {args:?} failed: {text}");
    assert!(!text.contains("unreachable"), "hm {args:?}: {text}");
    text
}

/// Item 5: right after the child exits, `hm screen`, `hm status`, `hm ls`
/// and `hm wait --exit` answer (from the supervisor while it still has the
/// answer, else from the exit record), never "connection reset".
#[test]
fn queries_answer_right_after_the_child_exits() {
    let env = Env::new();
    for round in 0..5 {
        let id = format!("q{round}");
        env.start(
            &id,
            &[],
            &["sh", "-c", "echo hello-$((6*7)); sleep 0.2; exit 3"],
        );
        let out = env.run(&["wait", &id, "--exit"]);
        assert_eq!(out.status.code(), Some(3), "round {round}: {out:?}");
        let screen = answers(&env, &["screen", &id]);
        assert!(screen.contains("hello-42"), "round {round}: {screen}");
        let st = answers(&env, &["status", &id, "--json"]);
        let st: serde_json::Value = serde_json::from_str(&st).expect("status json");
        assert_eq!(st["alive"], false, "round {round}: {st}");
        answers(&env, &["ls", "--all"]);
        let out = env.run(&["wait", &id, "--exit"]);
        assert_eq!(out.status.code(), Some(3), "round {round}: {out:?}");
    }
}

/// Item 5: while a background job that ignores SIGTERM keeps the ended
/// session's teardown busy for the grace period, and after it, every query
/// answers how the session ended.
#[test]
fn queries_answer_while_the_ended_session_drains_its_tree() {
    let env = Env::new();
    env.start(
        "drain",
        &["--kill-grace-ms", "3000"],
        &[
            "sh",
            "-c",
            "sh -c 'trap \"\" TERM HUP; echo $$ > bg.tmp; mv bg.tmp bg.pid; exec sleep 1000' & \
             while [ ! -s bg.pid ]; do sleep 0.05; done; echo bye; exit 5",
        ],
    );
    let bg = pid_file(&env, "bg.pid");
    let out = env.run(&["wait", "drain", "--exit"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    // Ask again and again until the background job is gone and the
    // supervisor has left, then once more.
    let sock = env.sock("drain");
    let mut rounds = 0;
    loop {
        let gone = !alive(bg) && !sock.exists();
        let st = answers(&env, &["status", "drain", "--json"]);
        let st: serde_json::Value = serde_json::from_str(&st).expect("status json");
        assert_eq!(st["alive"], false, "{st}");
        answers(&env, &["screen", "drain"]);
        let ls = answers(&env, &["ls", "--json", "--all"]);
        assert!(ls.contains("\"drain\""), "{ls}");
        let out = env.run(&["wait", "drain", "--exit"]);
        assert_eq!(out.status.code(), Some(5), "{out:?}");
        rounds += 1;
        if gone {
            break;
        }
        assert!(rounds < 1000, "the session never finished its teardown");
    }
    assert!(rounds > 1, "the teardown was never observed");
    assert_eq!(env.status_json("drain")["code"], 5);
}

/// Item 32: the guardian is a process that only waits: `hm` re-executed as
/// `__hm-guardian` (not a fork that keeps a copy of the supervisor's heap),
/// one thread, a small anonymous memory.
#[test]
fn the_guardian_is_a_small_single_threaded_process_of_its_own() {
    let env = Env::new();
    env.start("g", &[], &["sleep", "1000"]);
    let (sup, _) = env.pids("g");
    let guardian = poll("the guardian to exist", DEADLINE, || {
        common::guardian_of(sup)
    });
    // It is named before it executes hm again, and its command line reads
    // empty while the exec is under way: wait for the exec.
    let cmdline =
        || std::fs::read_to_string(format!("/proc/{guardian}/cmdline")).unwrap_or_default();
    poll("hm re-executed as the guardian", DEADLINE, || {
        cmdline()
            .split('\0')
            .any(|a| a == "__hm-guardian")
            .then_some(())
    });
    let status = std::fs::read_to_string(format!("/proc/{guardian}/status")).expect("status");
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["Threads:", "1"])),
        "one thread: {status}"
    );
    let rollup = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup")
    };
    let anon = common::kib_field(&rollup(guardian), "Anonymous:");
    let sup_anon = common::kib_field(&rollup(sup), "Anonymous:");
    // Measured: 836 KiB in a debug build (the supervisor: 2,600 KiB); a
    // forked guardian maps all of the supervisor's heap.
    assert!(
        anon < 1536 && anon < sup_anon,
        "guardian anonymous memory {anon} KiB (supervisor {sup_anon} KiB)"
    );
    assert!(env.run(&["kill", "g"]).status.success());
    env.wait_gone("g");
}

/// The supervisor's CPU time (clock ticks, all threads) over `span`.
fn cpu_ticks_over(sup: i32, span: std::time::Duration) -> u64 {
    let (m0, o0) = thread_ticks(sup);
    std::thread::sleep(span);
    let (m1, o1) = thread_ticks(sup);
    (m1 + o1) - (m0 + o0)
}

/// Polling for the answer to input (`echo_poll_us`) is bounded: it stops
/// when the input has been answered, and output that keeps coming long
/// after the input (here a line every millisecond, each a short read that
/// would restart a poll of the 10 ms window) does not keep the supervisor
/// polling.
#[test]
fn polling_for_the_answer_to_input_stops_by_itself() {
    let env = Env::new();
    let over = env.run(&["start", "--echo-poll-us=10001", "--", "cat"]);
    assert_eq!(over.status.code(), Some(2), "{over:?}");
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("10000 µs maximum"),
        "{over:?}"
    );
    // Window at its maximum, so that polling that never ends shows.
    env.start("echo", &["--echo-poll-us=10000"], &["cat"]);
    let (sup, _) = env.pids("echo");
    for i in 0..20 {
        env.ok(&["send", "echo", &format!("key{i}")]);
    }
    env.wait_screen("echo", "key19");
    let quiet = cpu_ticks_over(sup, std::time::Duration::from_secs(2));
    assert!(
        quiet <= 10,
        "an idle supervisor used {quiet} ticks in 2 s after input"
    );
    env.ok(&["kill", "echo"]);

    let trickle = "import os, sys, time\n\
        sys.stdin.readline()\n\
        while True:\n    os.write(1, b'.\\n')\n    time.sleep(0.001)\n";
    env.start(
        "trickle",
        &["--echo-poll-us=10000"],
        &["python3", "-c", trickle],
    );
    let (sup, _) = env.pids("trickle");
    env.ok(&["send", "trickle", "--keys", "g", "o", "Enter", "--gap", "0"]);
    env.wait_screen("trickle", r"\.");
    // Polling on would take most of a CPU (134 ticks in 2 s, measured on a
    // loaded machine); reading the trickle about 17 (a debug build).
    let busy = cpu_ticks_over(sup, std::time::Duration::from_secs(2));
    assert!(
        busy < 60,
        "the supervisor used {busy} ticks in 2 s of output after one input"
    );
    env.ok(&["kill", "trickle"]);
    env.wait_gone("echo");
    env.wait_gone("trickle");
}

/// `hm send`, `hm submit`, `hm signal`, `hm explain` and `hm kill` that
/// found the session running, then connected as its supervisor, done with
/// its program, dropped the connection, failed with "Broken pipe (os error
/// 32)" or "Connection reset by peer" (`--json`: `unreachable`), or `hm
/// kill` sent SIGTERM to that supervisor "instead", where a moment later
/// they say the session has exited and how. Now they say so then too.
#[test]
fn commands_on_a_session_that_ends_as_they_connect_say_it_exited() {
    let env = Env::new();
    let record = common::ended_record(&env, "exit 5");
    let commands: [&[&str]; 5] = [
        &["send", "ID", "hi"],
        &["submit", "ID", "hi"],
        &["signal", "ID", "INT"],
        &["explain", "ID"],
        &["kill", "ID"],
    ];
    for (n, args) in commands.into_iter().enumerate() {
        // `hm send` has no --json.
        let jsons: &[bool] = if args[0] == "send" {
            &[false]
        } else {
            &[false, true]
        };
        for &json in jsons {
            let id = format!("ending{n}{}", if json { "j" } else { "" });
            common::ending_server(&env, &id, record.clone());
            let mut full: Vec<&str> = args
                .iter()
                .map(|a| if *a == "ID" { id.as_str() } else { a })
                .collect();
            if json {
                full.push("--json");
            }
            let out = env.run(&full);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(1), "hm {full:?}: {text}");
            if json {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("hm {full:?}: {e}: {text}"));
                assert_eq!(v["error"], "exited", "hm {full:?}: {text}");
            } else {
                assert!(
                    text.contains(&format!("session \"{id}\" has exited (code 5)")),
                    "hm {full:?}: {text}"
                );
            }
        }
    }
}
