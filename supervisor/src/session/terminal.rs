//! What clients do to the child's terminal: input (written by
//! [`crate::input::PtyInput`]), its size, and signals to its foreground job.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use bytes::Bytes;
use heimdall_protocol::{Event, SignalTarget};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::{ExitStatus, Session};
use crate::sync::lock;

/// How long refused input waits for the child's exit to say how it ended.
const EXIT_SEEN_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Input that cannot reach the program: it has exited (with this status,
/// when already known) or its terminal is closed.
#[derive(Debug)]
pub struct InputRefused(pub Option<ExitStatus>);

impl std::fmt::Display for InputRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some((code, _)) => write!(f, "the session has ended (exit code {code})"),
            None => write!(
                f,
                "the session is ending (its program's terminal is closed)"
            ),
        }?;
        write!(f, "; the input was not typed")
    }
}

impl Session {
    /// The pty master (for asking the terminal about its foreground process).
    pub fn master_fd(&self) -> std::os::fd::RawFd {
        self.master.as_raw_fd()
    }

    /// Bytes typed into the terminal that the program has not read yet
    /// (in canonical mode, those of complete lines), or `None` when the
    /// terminal cannot tell. Asked of the terminal's program side, opened
    /// for the question (`TIOCGPTPEER`) and closed at once.
    pub fn unread_input(&self) -> Option<usize> {
        // SAFETY: TIOCGPTPEER on the pty master returns a new fd for its
        // other side (owned from here) or -1.
        let fd = unsafe {
            libc::ioctl(
                self.master.as_raw_fd(),
                libc::TIOCGPTPEER,
                libc::O_RDONLY | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return None;
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let peer = unsafe { OwnedFd::from_raw_fd(fd) };
        // Bytes just written to the master reach the line discipline later,
        // from a kernel worker: FIONREAD does not count them meanwhile (a
        // line whose Enter is on its way looks read). Polling the program
        // side waits for that worker when no input is ready yet.
        let mut pfd = libc::pollfd {
            fd: peer.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut pfd, 1, 0) };
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through a valid pointer.
        let rc = unsafe { libc::ioctl(peer.as_raw_fd(), libc::FIONREAD, &mut n) };
        (rc == 0).then(|| usize::try_from(n).unwrap_or(0))
    }

    /// Whether the terminal itself echoes the Enter that ends a line
    /// (canonical mode with `ECHO` or `ECHONL`): that newline is the
    /// terminal's doing, not the program's.
    pub fn echoes_enter(&self) -> bool {
        use nix::sys::termios::LocalFlags as L;
        nix::sys::termios::tcgetattr(self.master.get_ref()).is_ok_and(|t| {
            t.local_flags.contains(L::ICANON) && t.local_flags.intersects(L::ECHO | L::ECHONL)
        })
    }

    /// Write bytes to the child's terminal, completely and in order. Waits
    /// only while much input is queued (the child reads slowly). Refused
    /// once the child is gone (or its terminal is closed): the input cannot
    /// reach the program.
    pub async fn input(&self, bytes: Bytes) -> Result<(), InputRefused> {
        if self.exit_status().is_none() {
            crate::classify::waiting::watch::on_input(self);
            self.echo_poll.input();
            if self.input.send(bytes).await {
                return Ok(());
            }
        }
        Err(InputRefused(self.exit_status_soon().await))
    }

    /// The child's exit status, waited for [`EXIT_SEEN_WITHIN`] when not
    /// known yet: its terminal closes as it exits, and the exit is seen a
    /// moment later (a program that closed its terminal and runs on has
    /// none).
    async fn exit_status_soon(&self) -> Option<ExitStatus> {
        let mut exit = self.exit.subscribe();
        let seen = exit.wait_for(Option::is_some);
        let status = match tokio::time::timeout(EXIT_SEEN_WITHIN, seen).await {
            Ok(Ok(status)) => *status,
            _ => None,
        };
        status
    }

    /// The task that polls for the reaction to input (see
    /// [`crate::echo_poll`]).
    pub async fn echo_poller(self: std::sync::Arc<Self>) {
        self.echo_poll.run().await
    }

    /// The task that writes queued input.
    pub fn input_writer(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.input.clone().run()
    }

    /// Set the terminal size (the kernel sends SIGWINCH to the foreground
    /// process group when it changes). Clients size it through their
    /// [`super::SizeClaim`].
    pub(super) fn set_size(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a valid winsize from the pointer.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(mut st) = self.screen() {
            st.model.resize(cols, rows);
        }
        let changed = {
            let mut size = lock(&self.size);
            std::mem::replace(&mut *size, (cols, rows)) != (cols, rows)
        };
        if changed {
            self.emit_event(Event::Resize { cols, rows });
        }
        Ok(())
    }

    /// Send a signal to the terminal's foreground process group (what
    /// Ctrl-C reaches) or to the child's process group. Returns the process
    /// group (or, with `kill_process_group = false`, the process) signalled.
    pub fn signal(&self, sig: Signal, target: SignalTarget) -> Result<i32, Errno> {
        if target == SignalTarget::Foreground {
            // SAFETY: tcgetpgrp on the pty master, an fd this session owns.
            let pgrp = unsafe { libc::tcgetpgrp(self.master.as_raw_fd()) };
            if pgrp > 0 {
                return nix::sys::signal::killpg(Pid::from_raw(pgrp), sig).map(|()| pgrp);
            }
            // No foreground group (the child has not yet, or no longer,
            // a controlling terminal): its own group is the next best thing.
        }
        self.target.signal_group(sig).map(|()| self.pid().as_raw())
    }
}
