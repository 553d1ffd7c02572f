//! Noticing that stdout's reader has gone while nothing is being written
//! (`hm tail -f X | true` on a quiet session): a pipe's write end reports
//! POLLERR once its reader has closed, a socket or a hung-up terminal
//! POLLHUP. Without this, the command learnt it only at its next write,
//! which on a quiet session may never come (coreutils `tail -f` polls the
//! same way).

use std::future::Future;
use std::os::fd::BorrowedFd;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use tokio::sync::oneshot;

/// Resolves when stdout's reader is gone; never, for a stdout that cannot
/// tell (a regular file, /dev/null). The watch runs on a thread of its
/// own (poll(2) on fd 1 with no events asked: only the error conditions
/// wake it), which ends with the process.
pub fn stdout_gone() -> impl Future<Output = ()> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        // SAFETY: fd 1 stays open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(1) };
        loop {
            let mut p = [PollFd::new(fd, PollFlags::empty())];
            match nix::poll::poll(&mut p, PollTimeout::NONE) {
                Ok(n) if n > 0 => {
                    let gone = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
                    if p[0].revents().is_some_and(|r| r.intersects(gone)) {
                        let _ = tx.send(());
                        return;
                    }
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    });
    async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The error for a stdout whose reader is gone: what a write would have
/// failed with (quiet, see `cli::main`).
pub fn broken_pipe() -> anyhow::Error {
    std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()
}
