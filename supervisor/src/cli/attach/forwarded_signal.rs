//! The signals `hm run` without a terminal passes on to its program (`hm
//! run -- make | tee log`, CI): there `hm run` stands for the program, as
//! if it ran in the pipeline itself. The terminal is not in raw mode, so
//! Ctrl-C and Ctrl-\ reach hm as SIGINT and SIGQUIT; a CI runner's timeout
//! or a closed terminal sends SIGTERM or SIGHUP. The first of each kind
//! goes to the program's foreground job, as it would without hm, and hm
//! run then ends with the program's code (143 when SIGTERM killed it); the
//! next one of the same kind leaves it running in its session. Any other
//! attachment (`hm attach`, `hm run` at a terminal) ends on them, the
//! terminal restored, and the session keeps running.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// A signal that is passed on to the program (or ends the attachment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGQUIT (Ctrl-\).
    Quit,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl Forwarded {
    /// Its name for SIGNAL.
    pub fn name(self) -> &'static str {
        match self {
            Forwarded::Interrupt => "INT",
            Forwarded::Quit => "QUIT",
            Forwarded::Terminate => "TERM",
            Forwarded::Hangup => "HUP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Receives the signals and says which to pass on.
pub struct ForwardedSignals {
    int: Signal,
    quit: Signal,
    term: Signal,
    hup: Signal,
    /// Which kinds still go to the program (the first of each), by
    /// [`Forwarded::index`].
    forward: [bool; 4],
}

impl ForwardedSignals {
    /// Handle SIGINT, SIGQUIT, SIGTERM and SIGHUP from now on; `forward`:
    /// pass the first of each kind on to the program.
    pub fn new(forward: bool) -> std::io::Result<ForwardedSignals> {
        Ok(ForwardedSignals {
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            forward: [forward; 4],
        })
    }

    /// The next signal, and whether it goes to the program (else the
    /// attachment ends).
    pub async fn recv(&mut self) -> (Forwarded, bool) {
        let sig = tokio::select! {
            _ = self.int.recv() => Forwarded::Interrupt,
            _ = self.quit.recv() => Forwarded::Quit,
            _ = self.term.recv() => Forwarded::Terminate,
            _ = self.hup.recv() => Forwarded::Hangup,
        };
        (sig, std::mem::take(&mut self.forward[sig.index()]))
    }
}
