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
    let fds: Vec<i32> = open_fds(child).into_iter().map(|(fd, _)| fd).collect();
    assert_eq!(fds, vec![0, 1, 2], "the child holds only stdio");
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
