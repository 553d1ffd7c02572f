//! Sessions for the agent's tests: the workspace's `hm`, a private socket
//! directory whose sessions are killed when the test ends, and the scripted
//! model replies that drive the session tools.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use heimdall_client::{Liveness, SocketDir};
use serde_json::{json, Value};

use super::{data_events, Reply};

/// The `hm` binary of this workspace, built once (a no-op when current).
pub fn hm() -> &'static Path {
    static HM: OnceLock<PathBuf> = OnceLock::new();
    HM.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test> → target/<profile>/hm
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let mut cmd = std::process::Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", "heimdall-supervisor", "--bin", "hm"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo build runs");
        assert!(status.success(), "building hm failed");
        let hm = profile_dir.join("hm");
        assert!(hm.is_file(), "no hm at {}", hm.display());
        hm
    })
}

/// Kills every session left in the socket directory when a test ends,
/// panics included.
pub struct Sessions {
    dir: tempfile::TempDir,
}

impl Sessions {
    pub fn new() -> Sessions {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // A socket directory must be private, as hm makes them.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        Sessions { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn live(&self, id: &str) -> bool {
        SocketDir::new(self.path())
            .find(id)
            .is_ok_and(|e| matches!(e.liveness, Liveness::Live(_)))
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        for id in SocketDir::new(self.path()).running().unwrap_or_default() {
            let _ = std::process::Command::new(hm())
                .arg("--socket-dir")
                .arg(self.path())
                .args(["kill", &id])
                .output();
        }
    }
}

/// Wait until no supervisor holds session `id` any more (only its exit
/// record is left).
pub async fn until_supervisor_gone(sessions: &Sessions, id: &str) {
    let files = SocketDir::new(sessions.path()).files(id).expect("files");
    super::poll(&format!("the end of {id}'s supervisor"), async || {
        (!files.sock.exists() && !files.pid.exists()).then_some(())
    })
    .await;
}

/// The session tools of `launcher`, in `sessions`, starting at most `cap`
/// sessions in the temporary directory.
pub fn tools_with(
    launcher: heimdall_client::Launcher,
    sessions: &Sessions,
    cap: usize,
) -> heimdall_agent::tools::sessions::SessionTools {
    heimdall_agent::tools::sessions::SessionTools::new(
        launcher,
        sessions.path().to_path_buf(),
        cap,
        std::env::temp_dir(),
    )
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

pub fn calls(calls: &[(&str, Value)]) -> Reply {
    let deltas: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(i, (name, args))| {
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":i,"id":format!("call_{name}_{i}"),
                "type":"function","function":{"name":name,"arguments":args.to_string()}}]}}]})
        })
        .collect();
    Reply::Sse(data_events(&deltas) + "data: [DONE]\n\n")
}

/// The content of the latest tool result answering `call_id` in a request
/// (the scripted ids repeat across rounds).
pub fn tool_result<'a>(body: &'a Value, call_id: &str) -> &'a str {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "tool" && m["tool_call_id"] == call_id)
        .and_then(|m| m["content"].as_str())
        .unwrap_or_else(|| panic!("no result for {call_id}"))
}

/// The tool `name` as a request offered it to the model (OpenAI format).
pub fn offered_tool<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} not offered"))
}

/// A session whose program has exited while its supervisor still serves:
/// a subscriber that reads nothing holds the rest of a flood's output. The
/// session ends once this is dropped (or 120 s after the exit).
pub struct ExitedButServed {
    _stuck: std::os::unix::net::UnixStream,
}

/// A config for `hm` under which a session whose program has exited stays
/// served while a subscriber reads nothing (see [`hold_after_exit`]); kept
/// in the returned directory.
pub fn held_config() -> (tempfile::TempDir, PathBuf) {
    hm_config("live_window_bytes = 4096\nstall_timeout_ms = 600000\n")
}

/// A config file for `hm` holding `toml`, kept in the returned directory.
pub fn hm_config(toml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hm.toml");
    std::fs::write(&config, toml).unwrap();
    (dir, config)
}

/// The command a session passed to [`hold_after_exit`] must run.
pub const HELD_COMMAND: [&str; 3] = ["sh", "-c", "read x; exec yes flood"];

/// Start session `id` in socket directory `dir` with `hm`, flood its
/// output past a subscriber that reads nothing, SIGKILL the program (exit
/// code 137) and wait until the supervisor says it has exited.
pub async fn exited_but_served(hm: &Path, dir: &Path, id: &str) -> ExitedButServed {
    let (_config_dir, config) = held_config();
    heimdall_client::Launcher::new()
        .hm(hm)
        .socket_dir(dir)
        .config(&config)
        .start(&heimdall_client::StartOptions {
            id: Some(id.to_string()),
            command: HELD_COMMAND.map(Into::into).to_vec(),
            ..Default::default()
        })
        .await
        .expect("hm start");
    hold_after_exit(dir, id).await
}

/// Session `id` in socket directory `dir`, started with [`held_config`]
/// running [`HELD_COMMAND`]: flood its output past a subscriber that reads
/// nothing, SIGKILL the program (exit code 137) and wait until the
/// supervisor says it has exited.
pub async fn hold_after_exit(dir: &Path, id: &str) -> ExitedButServed {
    use std::io::Write;
    use std::time::{Duration, Instant};

    // SUBSCRIBE, then the line that starts the flood, on one connection
    // (handled in order); its answers are never read.
    let mut stuck = std::os::unix::net::UnixStream::connect(dir.join(format!("{id}.sock")))
        .expect("connect the stuck subscriber");
    stuck
        .write_all(&[0x02, 0, 0, 0, 0, 0x01, 0, 0, 0, 3, b'g', b'o', b'\r'])
        .unwrap();
    let client = SocketDir::new(dir)
        .connect(id, heimdall_client::ClientBuilder::new())
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(60);
    let poll = || async {
        assert!(Instant::now() < deadline, "session {id} did not get there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // `yes` writes without end: a second without output means the flood
    // waits for the stuck subscriber.
    while client.status().await.expect("status").idle_ms < 1000 {
        poll().await;
    }
    let pid = client.status().await.expect("status").pid;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    while client.status().await.expect("status").alive {
        poll().await;
    }
    ExitedButServed { _stuck: stuck }
}
