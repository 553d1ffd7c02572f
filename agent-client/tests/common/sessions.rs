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
