//! The listening socket: bind with mode 0600, accept, check the peer's
//! credentials, hand each connection to [`crate::connection`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio_util::task::TaskTracker;

use crate::session::Session;

/// Bind the session socket, readable and writable by its owner only.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    // SAFETY: umask only changes this process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above, restoring it.
    unsafe { libc::umask(old) };
    let listener = listener?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// Whether a peer with `uid` may connect to a supervisor running as `me`.
pub fn peer_allowed(uid: u32, me: u32, allow_root: bool) -> bool {
    uid == me || (allow_root && uid == 0)
}

/// Accept connections until the task is dropped.
pub async fn accept_loop(session: Arc<Session>, listener: UnixListener, tasks: TaskTracker) {
    let me = nix::unistd::geteuid().as_raw();
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of fds or a transient error: back off, keep serving.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if peer_allowed(cred.uid(), me, session.config.allow_root) => {}
            Ok(cred) => {
                tracing::warn!(uid = cred.uid(), pid = ?cred.pid(), "refused a connection from another user");
                continue;
            }
            Err(e) => {
                tracing::warn!("cannot read peer credentials ({e}); connection refused");
                continue;
            }
        }
        tasks.spawn(crate::connection::serve(session.clone(), stream));
    }
}
