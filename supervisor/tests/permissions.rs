//! The socket directory is checked on every use, session files are never
//! written through symlinks, and clients talk only to sockets of their own
//! user (issue #8 item 16).

mod common;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::process::Output;

use common::{poll, Env, DEADLINE};
use heimdall_client::{ClientBuilder, ClientError, DiscoveryError, SocketDir};

const NOBODY: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn private_dir(path: &Path) {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .expect("socket dir");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `hm ARGS` fails with exit code 1 and a message naming the directory
/// and `words`.
fn refused(env: &Env, args: &[&str], words: &[&str]) {
    let out = env.run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "hm {args:?}: {out:?}");
    let dir = env.sockets().display().to_string();
    assert!(err.contains(&dir), "hm {args:?} names the dir: {err}");
    for w in words {
        assert!(err.contains(w), "hm {args:?} says {w:?}: {err}");
    }
}

#[test]
fn a_socket_dir_open_to_others_is_refused_by_every_command() {
    let env = Env::new();
    env.start("mine", &[], &["sleep", "100"]);
    chmod(&env.sockets(), 0o755);
    let words = ["0755", "group or others", "chmod 700"];
    for args in [
        &["status", "mine"][..],
        &["ls"],
        &["screen", "mine"],
        &["send", "mine", "x"],
        &["wait", "mine", "--exit", "--timeout", "100"],
        &["kill", "mine"],
        &["clean"],
        &["start", "--id", "other", "--", "sleep", "100"],
        &["run", "--detach", "--id", "other", "--", "true"],
    ] {
        refused(&env, args, &words);
    }
    assert!(
        !env.sockets().join("other.pid").exists(),
        "no session was started in the open directory"
    );
    // Made private again, everything works, and nothing was killed.
    chmod(&env.sockets(), 0o700);
    assert_eq!(env.status_json("mine")["alive"], true);
    env.ok(&["kill", "mine"]);
}

#[test]
fn a_socket_dir_of_another_user_is_refused() {
    if nix::unistd::geteuid().as_raw() != 0 {
        // Only root can give a directory to another user.
        eprintln!("SKIPPED: needs root to chown the socket dir to nobody");
        return;
    }
    let env = Env::new();
    private_dir(&env.sockets());
    std::os::unix::fs::chown(env.sockets(), Some(NOBODY), Some(NOBODY)).expect("chown");
    let words = ["owned by uid 65534, not by you (uid 0)", "0700"];
    refused(&env, &["ls"], &words);
    refused(&env, &["start", "--id", "x", "--", "sleep", "100"], &words);
    assert!(!env.sockets().join("x.pid").exists());
}

/// A file outside the socket directory that symlinks point at.
fn precious(env: &Env, name: &str) -> std::path::PathBuf {
    let p = env.dir.path().join(name);
    std::fs::write(&p, "precious\n").expect("write target");
    p
}

fn untouched(p: &Path) {
    assert_eq!(
        std::fs::read_to_string(p).expect("target"),
        "precious\n",
        "{} was written through a symlink",
        p.display()
    );
}

#[test]
fn a_symlinked_pidfile_or_log_stops_the_start_and_its_target_is_untouched() {
    let env = Env::new();
    private_dir(&env.sockets());
    for ext in ["pid", "log"] {
        let target = precious(&env, &format!("target-{ext}"));
        let id = format!("link-{ext}");
        let link = env.sockets().join(format!("{id}.{ext}"));
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let out = env.run(&["start", "--id", &id, "--", "sleep", "100"]);
        assert_eq!(out.status.code(), Some(1), "{ext}: {out:?}");
        let err = stderr(&out);
        assert!(err.contains(&format!("{id}.{ext}")), "{ext}: {err}");
        assert!(err.contains("symbolic link"), "{ext}: {err}");
        untouched(&target);
        assert!(!env.sock(&id).exists(), "{ext}: no session runs");
        assert!(
            std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
            "{ext}: the link itself is left for the user to look at"
        );
    }
}

#[test]
fn the_exit_record_is_not_written_through_symlinks() {
    let env = Env::new();
    env.start("ends", &[], &["sleep", "100"]);
    let tmp_target = precious(&env, "target-tmp");
    let exit_target = precious(&env, "target-exit");
    let tmp = env.sockets().join("ends.exit.tmp");
    let exit = env.sockets().join("ends.exit");
    std::os::unix::fs::symlink(&tmp_target, &tmp).expect("symlink");
    std::os::unix::fs::symlink(&exit_target, &exit).expect("symlink");
    env.ok(&["kill", "ends"]);
    env.wait_gone("ends");
    untouched(&tmp_target);
    untouched(&exit_target);
    let meta = std::fs::symlink_metadata(&exit).expect("exit record");
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(env.status_json("ends")["code"], 143);
}

#[test]
fn the_client_library_refuses_an_unsafe_socket_dir_and_another_users_socket() {
    let env = Env::new();
    env.start("lib", &[], &["sleep", "100"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = SocketDir::new(env.sockets());
    chmod(&env.sockets(), 0o750);
    rt.block_on(async {
        let unsafe_mode = |e: &heimdall_client::UnsafeDir| {
            assert_eq!(e.mode, 0o750, "{e}");
            assert_eq!(e.path, env.sockets(), "{e}");
            assert!(e.to_string().contains("chmod 700"), "{e}");
        };
        match dir.find("lib") {
            Err(DiscoveryError::UnsafeDir(e)) => unsafe_mode(&e),
            other => panic!("find: {other:?}"),
        }
        match dir.list() {
            Err(DiscoveryError::UnsafeDir(e)) => unsafe_mode(&e),
            other => panic!("list: {other:?}"),
        }
        match dir.connect("lib", ClientBuilder::new()).await {
            Err(DiscoveryError::UnsafeDir(e)) => unsafe_mode(&e),
            other => panic!("connect: {:?}", other.map(|_| ())),
        }
        // Also a caller that names the socket itself.
        match ClientBuilder::new().connect(env.sock("lib")).await {
            Err(ClientError::UnsafeDir(e)) => unsafe_mode(&e),
            other => panic!("connect by path: {:?}", other.map(|_| ())),
        }
        chmod(&env.sockets(), 0o700);
        let client = dir
            .connect("lib", ClientBuilder::new())
            .await
            .expect("a private dir is fine");
        assert!(client.status().await.expect("status").alive);
        drop(client);
    });
    if nix::unistd::geteuid().as_raw() == 0 {
        // A socket another user owns is not talked to, by the library or hm.
        std::os::unix::fs::chown(env.sock("lib"), Some(NOBODY), None).expect("chown");
        rt.block_on(async {
            match ClientBuilder::new().connect(env.sock("lib")).await {
                Err(ClientError::NotOwner { owner, .. }) => assert_eq!(owner, NOBODY),
                other => panic!("connect: {:?}", other.map(|_| ())),
            }
        });
        for args in [&["status", "lib"][..], &["screen", "lib"]] {
            let out = env.run(args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
            assert!(
                stderr(&out).contains("belongs to another user (uid 65534)"),
                "{args:?}: {}",
                stderr(&out)
            );
        }
        std::os::unix::fs::chown(env.sock("lib"), Some(0), None).expect("chown back");
    } else {
        eprintln!("SKIPPED (part): needs root to give the socket to another user");
    }
    env.ok(&["kill", "lib"]);
    poll("the session to end", DEADLINE, || {
        (!env.sock("lib").exists()).then_some(())
    });
}
