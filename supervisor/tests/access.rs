//! Only the socket's owner may connect (SO_PEERCRED), root only when allowed.
//!
//! Needs two users: the test runs as root and starts `hm` as `nobody`, then
//! connects as root — a peer whose uid differs from the supervisor's.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{hm_bin, poll, Env, DEADLINE};

const NOBODY: u32 = 65534;

fn skip(reason: &str) {
    eprintln!("SKIPPED: {reason}");
}

/// Start `hm` as nobody with `extra` global args; returns the socket path.
fn start_as_nobody(env: &Env, id: &str, extra: &[&str]) -> std::path::PathBuf {
    let out = Command::new(hm_bin())
        .args(extra)
        .args(["start", "--id", id, "--", "sleep", "100"])
        .env("HEIMDALL_SOCKET_DIR", env.sockets())
        .env("HOME", "/tmp")
        .env_remove("XDG_CONFIG_HOME")
        .current_dir("/tmp")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("run hm as nobody");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.sock(id)
}

/// Whether the supervisor accepts us: it writes the mode byte to accepted peers only.
fn accepted(sock: &std::path::Path) -> bool {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(1))
}

#[test]
fn connections_from_another_uid_are_refused() {
    if nix::unistd::geteuid().as_raw() != 0 {
        return skip("needs root to run hm as another user");
    }
    let env = Env::new();
    // Let nobody reach its socket dir inside our private temp dir.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::create_dir(env.sockets()).unwrap();
    std::os::unix::fs::chown(env.sockets(), Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(env.sockets(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let probe = Command::new(hm_bin())
        .arg("--version")
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        return skip("nobody cannot execute the hm binary here");
    }

    let sock = start_as_nobody(&env, "theirs", &[]);
    assert!(!accepted(&sock), "root is refused by default");

    let cfg = env.config("allow.toml", "allow_root = true\n");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sock = start_as_nobody(&env, "rootok", &["--config", &cfg]);
    poll("root to be accepted", DEADLINE, || {
        accepted(&sock).then_some(())
    });
}
