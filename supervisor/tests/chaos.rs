//! Chaos, sized for CI: a session keeps every line in order while hostile
//! clients (separate processes) connect, send random frames and are
//! SIGKILLed in the middle of a frame; SIGKILL of the child and of a
//! supervisor; a hundred sessions started at once.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{alive, poll, Env, Raw, DEADLINE};

/// Lines the writer writes at least.
const LINES: u32 = 20_000;
/// Hostile clients that come and die while it writes, at least.
const HOSTILES: u32 = 20;

/// A hostile client: connects, maybe says HELLO, sends random frames (never
/// KILL or SIGNAL, which would end the writer on purpose), starts one more
/// frame and stops in its middle, then waits to be SIGKILLed.
const HOSTILE: &str = r#"
import random, socket, struct, sys, time
r = random.Random(int(sys.argv[2]))
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.recv(1)
def frame(t, p):
    s.sendall(struct.pack('>BI', t, len(p)) + p)
if r.random() < 0.5:
    frame(0x06, b'{"client":"chaos","protocol":2}')
kinds = [0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x09, 0x0A, 0x0B, 0x0C, 0x42, 0x7F, 0x83]
for _ in range(r.randint(0, 30)):
    n = r.choice([0, 1, 4, 8, r.randint(0, 400)])
    frame(r.choice(kinds), bytes(r.getrandbits(8) for _ in range(n)))
n = r.randint(2, 3000)
s.sendall(struct.pack('>BI', r.choice(kinds), n) + bytes(r.randint(0, n - 1)))
time.sleep(1000)
"#;

/// Kills and reaps a child process on drop (also when the test panics).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python3() -> Command {
    let probe = Command::new("python3").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "the chaos test needs python3 for its hostile clients"
    );
    Command::new("python3")
}

/// Spawn hostile clients one after another and SIGKILL each after a short,
/// varying while, until `stop`; `ran` counts them.
fn hostile_clients(sock: std::path::PathBuf, stop: Arc<AtomicBool>, ran: Arc<AtomicU32>) {
    let mut n = 0u32;
    while !stop.load(Ordering::Acquire) {
        let child = python3()
            .args([
                "-c",
                HOSTILE,
                sock.to_str().expect("utf-8 path"),
                &n.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn python3");
        let child = Reaped(child);
        std::thread::sleep(Duration::from_millis(30 + u64::from(n % 7) * 25));
        drop(child); // SIGKILL, most often in the middle of its last frame
        n += 1;
        ran.store(n, Ordering::Release);
    }
}

#[test]
fn every_line_arrives_in_order_while_hostile_clients_come_and_die_then_the_child_is_sigkilled() {
    let env = Env::new();
    // The verifying subscriber paces the writer however slowly this test runs.
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "stall_timeout_ms = 600000\n",
    )
    .unwrap();
    // Raw and silent, so random INPUT is neither echoed nor a signal; the
    // writer starts on "go" and then only writes, until the test says stop.
    let script = "stty raw -echo; echo READY; read go; i=0; \
                  while [ ! -e stop ]; do i=$((i+1)); echo line-$i; done; \
                  echo DONE; exec sleep 1000";
    env.start("chaos", &[], &["sh", "-c", script]);
    let mut sub = Raw::connect(&env.sock("chaos"));
    sub.send(0x02, &[]); // SUBSCRIBE
    sub.read_output_until("the writer to be ready", |t| t.contains("READY\n"));
    Raw::connect(&env.sock("chaos")).send(0x01, b"go\n");

    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicU32::new(0));
    let hostiles = {
        let (sock, stop, ran) = (env.sock("chaos"), stop.clone(), ran.clone());
        std::thread::spawn(move || hostile_clients(sock, stop, ran))
    };
    let stop_file = env.dir.path().join("stop");
    let mut pending = Vec::new();
    let mut next = 1u32;
    let mut exit_code = None;
    'read: loop {
        let (kind, payload) = sub.recv().expect("the subscriber keeps its connection");
        match kind {
            0x81 => pending.extend_from_slice(&payload),
            0x82 => continue,
            0x83 => {
                exit_code = Some(i32::from_be_bytes(payload[..4].try_into().unwrap()));
                break 'read;
            }
            k => panic!("unexpected frame 0x{k:02x} for a 1.0 client"),
        }
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            if line == "DONE" && stop_file.exists() {
                break 'read;
            }
            assert_eq!(line, format!("line-{next}"), "line {next} in order");
            next += 1;
        }
        if next > LINES && ran.load(Ordering::Acquire) >= HOSTILES && !stop_file.exists() {
            std::fs::write(&stop_file, "").unwrap();
        }
    }
    stop.store(true, Ordering::Release);
    hostiles.join().expect("hostile client thread");
    assert!(exit_code.is_none(), "the writer ended early: {exit_code:?}");

    // SIGKILL of the child: EXIT 137 to subscribers, and the exit record.
    let (_, child) = env.pids("chaos");
    // SAFETY: kill(2) on the session's child.
    unsafe { libc::kill(child, libc::SIGKILL) };
    let code = loop {
        match sub.recv() {
            Some((0x83, p)) => break i32::from_be_bytes(p[..4].try_into().unwrap()),
            Some(_) => continue,
            None => panic!("closed without EXIT"),
        }
    };
    assert_eq!(code, 137);
    env.wait_gone("chaos");
    let st = env.status_json("chaos");
    assert_eq!(st["code"], 137);
    assert_eq!(st["signal"], 9);
}

/// Pids written by the session's script into the test dir.
fn read_pid_files(env: &Env, names: &[&str]) -> Vec<i32> {
    poll("the pid files", DEADLINE, || {
        names
            .iter()
            .map(|n| {
                std::fs::read_to_string(env.dir.path().join(n))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            })
            .collect::<Option<Vec<i32>>>()
    })
}

#[test]
fn a_sigkilled_supervisor_leaves_nothing_of_its_tree_and_its_id_starts_again() {
    let env = Env::new();
    // A child in the group, a double-forked grandchild, one that left the
    // group with setsid, and one that ignores SIGTERM and SIGHUP.
    let script = "sleep 1000 & echo $! > a.pid; (sleep 1001 & echo $! > b.pid); \
                  setsid sleep 1002 & echo $! > c.pid; \
                  (trap '' TERM HUP; exec sleep 1003) & echo $! > d.pid; wait";
    env.start("tree", &["--kill-grace-ms", "1000"], &["sh", "-c", script]);
    let (sup, child) = env.pids("tree");
    let names = ["a.pid", "b.pid", "c.pid", "d.pid"];
    let tree = read_pid_files(&env, &names);
    // SAFETY: kill(2) on the supervisor this test started.
    unsafe { libc::kill(sup, libc::SIGKILL) };
    let who = names.iter().copied().chain(["child", "supervisor"]);
    for (name, p) in who.zip(tree.iter().chain([&child, &sup])) {
        poll(&format!("{name} ({p}) to be gone"), DEADLINE, || {
            (!alive(*p)).then_some(())
        });
    }
    // The id starts again at once, over the dead supervisor's files, and is listed.
    env.start("tree", &[], &["sleep", "1000"]);
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    let row = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "tree")
        .unwrap_or_else(|| panic!("tree is listed: {ls}"));
    assert_eq!(row["alive"], true);
    assert_ne!(row["pid"], child, "a new child");
    env.ok(&["kill", "tree"]);
}

#[test]
fn a_hundred_sessions_started_at_once_are_listed_killed_and_leave_nothing() {
    const N: usize = 100;
    let env = Env::new();
    let ids: Vec<String> = (0..N).map(|i| format!("many{i:03}")).collect();
    let starts: Vec<Reaped> = ids
        .iter()
        .map(|id| {
            Reaped(
                env.hm()
                    .args(["start", "--id", id, "--", "sleep", "1000"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn hm start"),
            )
        })
        .collect();
    for (id, mut s) in ids.iter().zip(starts) {
        let out = s.0.wait().expect("hm start");
        let mut err = String::new();
        if let Some(mut e) = s.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert!(out.success(), "hm start {id}: {out:?} {err}");
    }
    let pids: Vec<(i32, i32)> = ids.iter().map(|id| env.pids(id)).collect();
    let ls: serde_json::Value = serde_json::from_str(&env.ok(&["ls", "--json"])).unwrap();
    let listed: BTreeSet<String> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["alive"] == true)
        .filter_map(|r| r["id"].as_str().map(String::from))
        .collect();
    assert_eq!(listed, ids.iter().cloned().collect(), "all listed alive");

    let kills: Vec<Reaped> = ids
        .iter()
        .map(|id| {
            Reaped(
                env.hm()
                    .args(["kill", id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn hm kill"),
            )
        })
        .collect();
    for (id, mut k) in ids.iter().zip(kills) {
        assert!(k.0.wait().expect("hm kill").success(), "hm kill {id}");
    }
    for (sup, child) in pids {
        for p in [sup, child] {
            poll(&format!("process {p} to be gone"), DEADLINE, || {
                (!alive(p)).then_some(())
            });
        }
    }
    let left: Vec<String> = std::fs::read_dir(env.sockets())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sock") || n.ends_with(".pid"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(
        env.ok(&["ls", "--all"]).lines().count(),
        N + 1,
        "header + N exited rows"
    );
}
