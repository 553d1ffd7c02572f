//! The interactive `hm-agent` in a real pty, as a person uses it: a prompt
//! starts a session and waits on it for long; Ctrl-C cancels that turn
//! cleanly, the session keeps running, the REPL answers the next prompt, and
//! nothing secret typed at the prompt lands in the history file; a hangup
//! (the terminal closed) ends the sessions the agent started.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sessions::{calls, hm, tool_result, unique, Sessions};
use common::{text_reply, FakeServer};
use serde_json::json;

/// Long enough for anything on a loaded 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// `hm-agent` on a pty: everything it writes is kept; a cursor-position
/// query (which line editors send) is answered as a terminal would.
struct Repl {
    master: std::fs::File,
    seen: Arc<Mutex<Vec<u8>>>,
    child: Child,
}

impl Repl {
    fn spawn(mut cmd: std::process::Command) -> Repl {
        let size = nix::pty::Winsize {
            ws_row: 40,
            ws_col: 160,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec: a new
        // session whose controlling terminal is the pty, so that Ctrl-C
        // typed on it is a SIGINT to hm-agent, as in a real terminal.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(fd, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn hm-agent in a pty");
        drop(cmd);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let mut answerer = master.try_clone().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EIO once every holder of the slave has gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let chunk = &buf[..n];
                if chunk.windows(4).any(|w| w == b"\x1b[6n") {
                    let _ = answerer.write_all(b"\x1b[1;1R");
                }
                kept.lock().unwrap().extend_from_slice(chunk);
            }
        });
        Repl {
            master,
            seen,
            child,
        }
    }

    /// `hm-agent` talking to `server`, its files under `home`, its
    /// sessions in `sessions`.
    fn start(home: &Path, server: &FakeServer, sessions: &Sessions) -> Repl {
        let config = write_config(home, server);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hm-agent"));
        cmd.arg("--config")
            .arg(&config)
            .env("HM_AGENT_TEST_KEY", "local-key")
            .env("HOME", home)
            .env("HEIMDALL_SOCKET_DIR", sessions.path())
            .env("TERM", "xterm-256color")
            .current_dir(home);
        Repl::spawn(cmd)
    }

    fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Wait until `needle` appears at or after byte `from` of the
    /// transcript; returns the offset just past it.
    async fn wait_for(&self, needle: &str, from: usize) -> usize {
        let end = Instant::now() + PATIENCE;
        loop {
            {
                let seen = self.seen.lock().unwrap();
                let tail = &seen[from.min(seen.len())..];
                if let Some(i) = tail
                    .windows(needle.len())
                    .position(|w| w == needle.as_bytes())
                {
                    return from + i + needle.len();
                }
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {needle:?}; the terminal shows:\n{}",
                self.transcript()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn type_text(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Wait for hm-agent to exit; its exit code.
    async fn exit_code(&mut self) -> Option<i32> {
        let end = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < end,
                "hm-agent did not exit; the terminal shows:\n{}",
                self.transcript()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config for hm-agent talking to `server`, its files under `dir`.
fn write_config(dir: &Path, server: &FakeServer) -> std::path::PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let config = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"local-model\"\nbase_url = \"{}/v1\"\n\
         work_dir = \"{}\"\ndata_dir = \"{}\"\napi_key_env = \"HM_AGENT_TEST_KEY\"\nmax_retries = 0\n",
        server.url(),
        work.display(),
        dir.join("data").display(),
    );
    let path = dir.join("heimdall.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_a_turn_in_a_long_wait_and_the_repl_and_the_session_go_on() {
    hm(); // hm-agent runs the `hm` beside it: make sure it is built.
    let sessions = Sessions::new();
    let id = unique("agent-repl");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "sleep 600", "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "never-printed-[0-9]{9}", "timeout_secs": 600}),
        )]),
        text_reply("still here"),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut repl = Repl::start(home.path(), &server, &sessions);

    let at = repl.wait_for("you> ", 0).await;
    repl.type_text("start a sleeper and wait for it; token=s3cret-typed-value\r");
    // The turn is inside the long wait once its tool line is shown and the
    // session exists.
    let at = repl.wait_for("→ session_wait", at).await;
    assert!(sessions.live(&id), "session_start returned once it ran");
    repl.type_text("\x03");
    let at = repl.wait_for("[cancelled]", at).await;
    let at = repl.wait_for("you> ", at).await;
    assert!(
        sessions.live(&id),
        "cancelling the turn left the session running"
    );

    // The REPL goes on: the next prompt is answered, and the model sees a
    // consistent conversation with the cancelled call answered.
    repl.type_text("are you there?\r");
    let at = repl.wait_for("still here", at).await;
    repl.wait_for("you> ", at).await;
    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        3,
        "{:#?}",
        reqs.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let cancelled = tool_result(&reqs[2].body, "call_session_wait_0");
    assert!(
        cancelled.contains("cancelled by the user") && cancelled.contains("still running"),
        "{cancelled}"
    );
    let messages = reqs[2].body["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["content"], "are you there?");
    assert!(sessions.live(&id), "the session still runs");

    // Leaving ends the sessions the agent started (no --keep-sessions) and
    // says so.
    repl.type_text("/quit\r");
    assert_eq!(repl.exit_code().await, Some(0), "{}", repl.transcript());
    repl.wait_for(&format!("[sessions ended: {id}]"), 0).await;
    assert!(!sessions.live(&id));
    let history = std::fs::read_to_string(home.path().join("data").join("history")).unwrap();
    assert!(history.contains("are you there?"), "{history}");
    assert!(!history.contains("s3cret-typed-value"), "{history}");
}

/// The terminal closing (SIGHUP) while the REPL waits at its prompt: it
/// leaves as on Ctrl-D, ending the sessions the agent started and keeping
/// the history of what was typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hangup_at_the_prompt_ends_the_agents_sessions_and_keeps_the_history() {
    hm(); // hm-agent runs the `hm` beside it: make sure it is built.
    let sessions = Sessions::new();
    let id = unique("agent-hup");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "sleep 600", "id": id}))]),
        text_reply("it runs"),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut repl = Repl::start(home.path(), &server, &sessions);

    let at = repl.wait_for("you> ", 0).await;
    repl.type_text("start a sleeper\r");
    let at = repl.wait_for("it runs", at).await;
    repl.wait_for("you> ", at).await;
    assert!(sessions.live(&id));

    let pid = nix::unistd::Pid::from_raw(repl.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert_eq!(
        repl.exit_code().await,
        Some(129),
        "exit 128 + SIGHUP; the terminal shows:\n{}",
        repl.transcript()
    );
    repl.wait_for(&format!("[sessions ended: {id}]"), 0).await;
    assert!(!sessions.live(&id), "the agent's session was ended");
    let history = std::fs::read_to_string(home.path().join("data").join("history")).unwrap();
    assert!(history.contains("start a sleeper"), "{history}");
}
