//! Shared test helpers: a private socket directory per test, the real `hm`
//! binary, a raw-bytes heimdall 1.0 client, and polling with deadlines.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Generous deadline for anything on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The `hm` binary under test.
pub fn hm_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hm"))
}

/// Poll `f` until it returns `Some`, or panic after `deadline`.
pub fn poll<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A private socket directory; kills every session left in it on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("hmt")
            .tempdir_in("/tmp")
            .expect("tempdir");
        Env { dir }
    }

    /// A config file `name` in the test's directory holding `toml`: its
    /// path (for `--config`).
    pub fn config(&self, name: &str, toml: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, toml).expect("write config");
        path.to_str().expect("utf-8 path").to_string()
    }

    pub fn sockets(&self) -> PathBuf {
        self.dir.path().join("s")
    }

    /// `hm` with this environment's socket dir and no user config.
    pub fn hm(&self) -> Command {
        self.command(hm_bin())
    }

    /// `program` with the environment `hm` gets (so an `hm` it runs
    /// finds this environment's sessions).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("HEIMDALL_SOCKET_DIR", self.sockets())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            // Programs under test (vim) behave as in a real terminal
            // whatever TERM the test runner has (CI may have none or "dumb").
            .env("TERM", "xterm-256color")
            .env_remove("HEIMDALL_SESSION_ID")
            .current_dir(self.dir.path());
        c
    }

    /// Run `hm ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.hm().args(args).output().expect("run hm")
    }

    /// Run `hm ARGS`, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hm {args:?} failed ({:?}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `hm start --id ID [extra] -- CMD...`.
    pub fn start(&self, id: &str, extra: &[&str], cmd: &[&str]) {
        let mut args = vec!["start", "--id", id];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(cmd);
        let out = self.ok(&args);
        assert_eq!(out.trim(), id);
    }

    /// A client-library launcher for this environment: this `hm`, this
    /// socket directory, an empty config.
    pub fn launcher(&self) -> heimdall_client::Launcher {
        let config = self.dir.path().join("empty.toml");
        std::fs::write(&config, "").expect("write config");
        heimdall_client::Launcher::new()
            .hm(hm_bin())
            .socket_dir(self.sockets())
            .config(config)
    }

    /// Start `command` as session `id` through the client library.
    pub async fn launch(&self, id: &str, command: &[&str]) -> heimdall_client::Started {
        self.launcher()
            .start(&heimdall_client::StartOptions {
                id: Some(id.to_string()),
                command: command.iter().map(Into::into).collect(),
                ..Default::default()
            })
            .await
            .expect("start")
    }

    pub fn sock(&self, id: &str) -> PathBuf {
        self.sockets().join(format!("{id}.sock"))
    }

    /// (supervisor pid, child pid) from the pidfile.
    pub fn pids(&self, id: &str) -> (i32, i32) {
        let text =
            std::fs::read_to_string(self.sockets().join(format!("{id}.pid"))).expect("pidfile");
        let mut it = text.split_whitespace().map(|s| s.parse::<i32>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }

    pub fn status_json(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", id, "--json"])).expect("status json")
    }

    /// Start vim (no vimrc, no viminfo, no swap file) editing `file`.
    pub fn start_vim(&self, id: &str, extra: &[&str], file: &Path) {
        let file = file.to_str().expect("utf-8 path");
        self.start(
            id,
            extra,
            &["vim", "-u", "NONE", "-N", "-i", "NONE", "-n", file],
        );
    }

    /// `hm wait ID --regex RE` on the screen; panics with the screen if it times out.
    pub fn wait_screen(&self, id: &str, re: &str) {
        let out = self.run(&["wait", id, "--regex", re, "--timeout", "60000"]);
        assert!(
            out.status.success(),
            "waiting for {re:?}: {:?}\nscreen:\n{}",
            out.status,
            self.ok(&["screen", id])
        );
    }

    /// The session's visible lines, from `hm screen --json`.
    pub fn screen_lines(&self, id: &str) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["screen", id, "--json"])).expect("screen json");
        v["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Spawn `hm ARGS` (stderr discarded), e.g. a foreground `hm run --detach`.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.hm()
            .args(args)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn hm")
    }

    /// Wait until the session's supervisor is gone (socket removed).
    pub fn wait_gone(&self, id: &str) {
        let sock = self.sock(id);
        let pid = self.sockets().join(format!("{id}.pid"));
        poll("the session to end", DEADLINE, || {
            (!sock.exists() && !pid.exists()).then_some(())
        });
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.sockets()) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("pid") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let pids: Vec<i32> = text
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            if let [sup, child] = pids[..] {
                // SAFETY: plain kill(2) calls.
                unsafe {
                    if child > 0 {
                        libc::kill(-child, libc::SIGKILL);
                    }
                    if sup > 0 {
                        libc::kill(sup, libc::SIGKILL);
                    }
                }
            }
        }
    }
}

/// `hm` with piped stdio, killed and reaped if a test fails while it runs.
pub struct Piped(pub std::process::Child);

impl Piped {
    pub fn spawn(env: &Env, args: &[&str], stdin: std::process::Stdio) -> Piped {
        let child = env
            .hm()
            .args(args)
            .stdin(stdin)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn hm");
        Piped(child)
    }

    /// Wait (with the test deadline) for the exit; the code and stderr.
    pub fn exit(&mut self, what: &str) -> (Option<i32>, String) {
        let status = poll(what, DEADLINE, || self.0.try_wait().unwrap());
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        (status.code(), err)
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `/dev/full` for a stdout that takes no more (a full disk).
pub fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full")
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some(Some('Z')) | Some(Some('X')))
        }
        Err(_) => false,
    }
}

/// Resident set size of a process in KiB (VmRSS, VmHWM).
pub fn rss_kib(pid: i32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (kib_field(&s, "VmRSS:"), kib_field(&s, "VmHWM:"))
}

/// The value of a `Name:  N kB` line of a `/proc` file's text (0 when missing).
pub fn kib_field(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The children of process `pid` (of all its threads).
fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The guardian of supervisor `sup`: its child named `hm-guardian`, once
/// it exists.
pub fn guardian_of(sup: i32) -> Option<i32> {
    children(sup).into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "hm-guardian")
    })
}

/// Wait until process `pid` (a session's shell) has a child running
/// exactly `argv`: the steps of its script before that one have run. In
/// `stty raw -echo; head -c 1 >/dev/null; …` the terminal is raw once
/// `head -c 1` runs, so the key that starts the script is not echoed (sent
/// earlier, on a loaded machine, it was: two bytes of `\r\n` more output).
pub fn wait_for_child_running(pid: i32, argv: &[&str]) {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    poll(&format!("process {pid} to run {argv:?}"), DEADLINE, || {
        children(pid)
            .into_iter()
            .any(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want))
            .then_some(())
    });
}

/// A heimdall 1.0 client written from the wire format alone: raw bytes.
pub struct Raw {
    pub s: UnixStream,
}

impl Raw {
    /// Connect and read the mode byte.
    pub fn connect(path: &Path) -> Raw {
        let mut s = UnixStream::connect(path).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut mode = [0xAAu8];
        s.read_exact(&mut mode).expect("mode byte");
        assert_eq!(mode[0], 0x00, "mode byte");
        Raw { s }
    }

    pub fn send(&mut self, kind: u8, payload: &[u8]) {
        let mut f = vec![kind];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        self.s.write_all(&f).expect("send frame");
    }

    /// The next frame, or None on EOF.
    pub fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 5];
        match self.s.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("recv: no frame came within the socket's read timeout")
            }
            Err(e) => panic!("recv: {e}"),
        }
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let mut p = vec![0u8; len];
        self.s.read_exact(&mut p).expect("frame payload");
        Some((h[0], p))
    }

    pub fn set_timeout(&mut self, d: Duration) {
        self.s.set_read_timeout(Some(d)).unwrap();
    }

    /// STATUS → (pid, idle_ms, alive, state, state_ms).
    pub fn status(&mut self) -> (u32, u32, bool, u8, u32) {
        self.send(0x03, &[]);
        loop {
            let (k, p) = self.recv().expect("status answer");
            if k == 0x82 {
                assert_eq!(p.len(), 15, "STATUS_RESP is 15 bytes");
                let u = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
                return (u(0), u(4), p[8] != 0, p[9], u(10));
            }
            assert_eq!(
                k, 0x81,
                "only OUTPUT may come before STATUS_RESP, got 0x{k:02x}"
            );
        }
    }

    /// HELLO; returns the HELLO_RESP JSON.
    pub fn hello(&mut self) -> serde_json::Value {
        self.send(0x06, br#"{"client":"test","protocol":2}"#);
        loop {
            let (k, p) = self.recv().expect("hello answer");
            if k == 0x84 {
                return serde_json::from_slice(&p).expect("hello json");
            }
        }
    }

    /// Read OUTPUT until `pred(all output so far)` holds; returns the output.
    pub fn read_output_until(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut acc = Vec::new();
        let end = Instant::now() + DEADLINE;
        loop {
            let text = String::from_utf8_lossy(&acc).into_owned();
            if pred(&text) {
                return text;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; got {text:?}"
            );
            match self.recv() {
                Some((0x81, p)) => acc.extend_from_slice(&p),
                Some(_) => {}
                None => panic!("connection closed waiting for {what}; got {text:?}"),
            }
        }
    }
}

/// Read an output stream from offset `from` up to `end`, checking that
/// every byte is accounted for in order (as data or a gap); the bytes of
/// the gaps the stream's own consumer caused.
pub async fn drain_output(output: &mut heimdall_client::OutputStream, from: u64, end: u64) -> u64 {
    use heimdall_client::{GapCause, OutputItem};
    let mut next = from;
    let mut consumer_gap = 0;
    let read = tokio::time::timeout(DEADLINE, async {
        while next < end {
            match output.next().await.expect("the stream goes on") {
                OutputItem::Data { offset, bytes } => {
                    assert_eq!(offset, next, "contiguous offsets");
                    next += bytes.len() as u64;
                }
                OutputItem::Gap { from, to, cause } => {
                    assert_eq!(from, next, "a gap starts where the data stopped");
                    if cause == GapCause::Consumer {
                        consumer_gap += to - from;
                    }
                    next = to;
                }
                OutputItem::Exit { .. } => panic!("no exit yet"),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stream reached {end}, at {next}");
    consumer_gap
}

/// Session `id`'s pidfile, two lines as heimdall 1.0 writes it, held with
/// `flock` as a live supervisor holds it (while the file returned is
/// open), in a private socket directory. The pids are a stand-in process's
/// (`sleep`, returned), in its own group: the test environment kills what
/// pidfiles name when it is dropped.
pub fn held_pidfile(env: &Env, id: &str) -> (std::fs::File, std::process::Child) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = env.sockets();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let stand_in = std::process::Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = dir.join(format!("{id}.pid"));
    std::fs::write(&pid, format!("{0}\n{0}\n", stand_in.id())).unwrap();
    let held = std::fs::File::open(&pid).unwrap();
    // SAFETY: flock on an fd we own.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    (held, stand_in)
}

/// A stand-in for a supervisor that ends while clients connect: session
/// `id`'s pidfile is held as a live supervisor holds it and its socket
/// listens, but every connection is dropped at once, unanswered, after the
/// exit record `record` (a real one, given this id) has been written, as a
/// supervisor does when its program exits.
pub fn ending_server(env: &Env, id: &str, mut record: serde_json::Value) {
    record["id"] = serde_json::json!(id);
    let dir = env.sockets();
    let (held, stand_in) = held_pidfile(env, id);
    let listener = std::os::unix::net::UnixListener::bind(dir.join(format!("{id}.sock")))
        .expect("bind the socket");
    let exit = dir.join(format!("{id}.exit"));
    let tmp = dir.join(format!(".{id}.exit.tmp"));
    std::thread::spawn(move || {
        let _held = held;
        let _stand_in = stand_in;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { break };
            if !exit.exists() {
                std::fs::write(&tmp, record.to_string()).expect("write the record");
                std::fs::rename(&tmp, &exit).expect("rename the record");
            }
            drop(conn);
        }
    });
}

/// The exit record of a real session that ran `sh -c SCRIPT` to its end.
pub fn ended_record(env: &Env, script: &str) -> serde_json::Value {
    env.start("model", &[], &["sh", "-c", script]);
    env.wait_gone("model");
    let text = std::fs::read_to_string(env.sockets().join("model.exit")).expect("exit record");
    serde_json::from_str(&text).expect("record json")
}

/// A heimdall 1.0 supervisor stand-in for session `id`, written from the
/// 1.0 wire format alone: a socket that answers STATUS, SUBSCRIBE (the line
/// `one-zero output`, then EXIT 9, then closes) and KILL (EXIT 143, then
/// closes), ignores every other frame type as 1.0 does, and a two-line
/// pidfile held with `flock` as a live supervisor holds it. Returns how
/// many KILLs it got.
pub fn one_zero_server(env: &Env, id: &str) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let dir = env.sockets();
    let (held, stand_in) = held_pidfile(env, id);
    let listener = std::os::unix::net::UnixListener::bind(dir.join(format!("{id}.sock"))).unwrap();
    let kills = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let k = kills.clone();
    std::thread::spawn(move || {
        let _held = held;
        let _stand_in = stand_in;
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let k = k.clone();
            std::thread::spawn(move || {
                let _ = s.write_all(&[0x00]);
                let mut head = [0u8; 5];
                while s.read_exact(&mut head).is_ok() {
                    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                    let mut payload = vec![0u8; len];
                    if s.read_exact(&mut payload).is_err() {
                        return;
                    }
                    match head[0] {
                        0x03 => {
                            // STATUS_RESP: pid 4242, idle 7 ms, alive, idle, 9 ms.
                            let mut f = vec![0x82, 0, 0, 0, 15];
                            f.extend_from_slice(&[
                                0, 0, 0x10, 0x92, 0, 0, 0, 7, 1, 0, 0, 0, 0, 9, 0,
                            ]);
                            let _ = s.write_all(&f);
                        }
                        0x02 => {
                            let line = b"one-zero output\r\n";
                            let mut f = vec![0x81, 0, 0, 0, line.len() as u8];
                            f.extend_from_slice(line);
                            f.extend_from_slice(&[0x83, 0, 0, 0, 4, 0, 0, 0, 9]);
                            let _ = s.write_all(&f);
                            return;
                        }
                        0x05 => {
                            k.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let _ = s.write_all(&[0x83, 0, 0, 0, 4, 0, 0, 0, 143]);
                            return;
                        }
                        // 1.0 ignores frame types it does not know (HELLO…).
                        _ => {}
                    }
                }
            });
        }
    });
    kills
}

/// Start session `id` (40x12) running a program that redraws its frame
/// inside synchronized updates (mode 2026), a row at a time with pauses in
/// between (`F000001 row 0` ... `F000001 row 11`), as Ink-based and other
/// modern TUIs redraw; returns once the second frame is on the screen.
pub fn start_row_frames(env: &Env, id: &str) {
    let script = r#"
import os, time
n = 0
while True:
    n += 1
    os.write(1, b"\x1b[?2026h\x1b[2J")
    for r in range(12):
        os.write(1, b"\x1b[%d;1HF%06d row %d" % (r + 1, n, r))
        time.sleep(0.002)
    os.write(1, b"\x1b[?2026l")
    time.sleep(0.01)
"#;
    env.start(
        id,
        &["--cols", "40", "--rows", "12"],
        &["python3", "-c", script],
    );
    env.wait_screen(id, "F000002 row 11");
}

/// The frame number (`F000042`) of a screen of [`start_row_frames`] when
/// it shows one whole frame.
pub fn whole_frame(lines: &[String]) -> Option<&str> {
    let first = lines.first()?.get(..7).filter(|f| f.starts_with('F'))?;
    lines[..12.min(lines.len())]
        .iter()
        .all(|l| l.get(..7) == Some(first))
        .then_some(first)
}
