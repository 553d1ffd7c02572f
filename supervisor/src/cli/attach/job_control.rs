//! Job control of `hm attach` (and `hm run` at a terminal) itself, as vim
//! and less do it: on SIGTSTP (`kill -TSTP`, a shell's job control; Ctrl-Z
//! is a key for the program in raw mode) the terminal is handed back as on
//! detach and hm stops, so the shell gets its own screen and modes; once
//! continued (`fg`, SIGCONT, also after a SIGSTOP, which cannot be caught)
//! hm takes the terminal again: raw mode, the view, the session's screen.

use nix::sys::signal::{raise, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal as Sig};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// What job control asks of the attachment.
pub enum Job {
    /// Hand the terminal back, then [`stop`].
    Stop,
    /// Continued: take the terminal again (what it shows and its modes are
    /// the shell's now).
    Continued,
}

/// Receives SIGTSTP and SIGCONT.
pub struct JobSignals {
    stop: Signal,
    cont: Signal,
}

impl JobSignals {
    /// Handle SIGTSTP and SIGCONT from now on.
    pub fn new() -> std::io::Result<JobSignals> {
        Ok(JobSignals {
            stop: signal(SignalKind::from_raw(libc::SIGTSTP))?,
            cont: signal(SignalKind::from_raw(libc::SIGCONT))?,
        })
    }

    /// The next request.
    pub async fn recv(&mut self) -> Job {
        tokio::select! {
            _ = self.stop.recv() => Job::Stop,
            _ = self.cont.recv() => Job::Continued,
        }
    }
}

/// Stop this process as SIGTSTP's default action does (the shell reports
/// it `Stopped`); returns once it is continued, or at once in an orphaned
/// process group, where the kernel discards that stop (nothing could
/// continue it). The SIGCONT that continues it is discarded too (its
/// default action, in place meanwhile, ignores it): the caller takes the
/// terminal back as this returns, and a [`Job::Continued`] for the same
/// continue drew the screen a second time. A later continue (after a
/// SIGSTOP) is one again.
pub fn stop() {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: the default actions for the stop and the continue, then the
    // handlers tokio installed put back exactly as they were.
    let cont = unsafe { sigaction(Sig::SIGCONT, &default) };
    // SAFETY: as above.
    match unsafe { sigaction(Sig::SIGTSTP, &default) } {
        Ok(handler) => {
            let _ = raise(Sig::SIGTSTP);
            // SAFETY: as above.
            let _ = unsafe { sigaction(Sig::SIGTSTP, &handler) };
        }
        Err(_) => {
            let _ = raise(Sig::SIGSTOP);
        }
    }
    if let Ok(handler) = cont {
        // SAFETY: as above.
        let _ = unsafe { sigaction(Sig::SIGCONT, &handler) };
    }
}
