//! Noticing that stdout's reader has gone while nothing is being written
//! (`hm tail -f X | true` on a quiet session): a pipe's write end reports
//! POLLERR once its reader has closed, a socket or a hung-up terminal
//! POLLHUP. Without this, the command learnt it only at its next write,
//! which on a quiet session may never come (coreutils `tail -f` polls the
//! same way).

use std::future::Future;
use std::os::fd::BorrowedFd;
use std::sync::mpsc;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use tokio::sync::oneshot;

/// Resolves when stdout's reader is gone; never, for a stdout that cannot
/// tell (a regular file, /dev/null).
pub fn stdout_gone() -> impl Future<Output = ()> {
    let (tx, rx) = oneshot::channel();
    on_stdout_gone(move || {
        let _ = tx.send(());
    });
    async move {
        if rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// For a loop that sleeps between looks (`hm ls --watch`): its sleep ends
/// early when stdout's reader goes.
pub struct StdoutWatch(mpsc::Receiver<()>);

impl StdoutWatch {
    /// Start watching stdout.
    pub fn new() -> StdoutWatch {
        let (tx, rx) = mpsc::channel();
        on_stdout_gone(move || {
            let _ = tx.send(());
        });
        StdoutWatch(rx)
    }

    /// Sleep for `d`; `true` (at once) when stdout's reader is gone.
    pub fn sleep(&self, d: Duration) -> bool {
        match self.0.recv_timeout(d) {
            Ok(()) => true,
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            // The watch could not tell.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(d);
                false
            }
        }
    }
}

/// Call `gone` when stdout's reader is gone; drop it, uncalled, for a
/// stdout that cannot tell. The watch runs on a thread of its own (poll(2)
/// on fd 1 with no events asked: only the error conditions wake it), which
/// ends with the process.
pub fn on_stdout_gone(gone: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        // SAFETY: fd 1 stays open for the life of the process.
        let fd = unsafe { BorrowedFd::borrow_raw(1) };
        loop {
            let mut p = [PollFd::new(fd, PollFlags::empty())];
            match nix::poll::poll(&mut p, PollTimeout::NONE) {
                Ok(n) if n > 0 => {
                    let hup = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
                    if p[0].revents().is_some_and(|r| r.intersects(hup)) {
                        gone();
                        return;
                    }
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    });
}

/// The error for a stdout whose reader is gone: what a write would have
/// failed with (quiet, see `cli::main`).
pub fn broken_pipe() -> anyhow::Error {
    std::io::Error::from(std::io::ErrorKind::BrokenPipe).into()
}
