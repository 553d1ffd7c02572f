//! The keyboard's signals at `hm run` without a terminal (`hm run -- make
//! | tee log`): the terminal is not in raw mode, so Ctrl-C and Ctrl-\ reach
//! hm as SIGINT and SIGQUIT. The first of each kind goes to the program's
//! foreground job, as it would without hm, and hm run then ends with the
//! program's code; the next one of the same kind leaves it running in its
//! session. Any other attachment ends on them, the terminal restored.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// A signal the keyboard sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyboardSignal {
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-\.
    Quit,
}

impl KeyboardSignal {
    /// Its name for SIGNAL.
    pub fn name(self) -> &'static str {
        match self {
            KeyboardSignal::Interrupt => "INT",
            KeyboardSignal::Quit => "QUIT",
        }
    }
}

/// Receives the keyboard's signals and says which to pass on.
pub struct KeyboardSignals {
    int: Signal,
    quit: Signal,
    /// Which kinds still go to the program (the first of each).
    forward_int: bool,
    forward_quit: bool,
}

impl KeyboardSignals {
    /// Handle SIGINT and SIGQUIT from now on; `forward`: pass the first
    /// of each kind on to the program.
    pub fn new(forward: bool) -> std::io::Result<KeyboardSignals> {
        Ok(KeyboardSignals {
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            forward_int: forward,
            forward_quit: forward,
        })
    }

    /// The next keyboard signal, and whether it goes to the program (else
    /// the attachment ends).
    pub async fn recv(&mut self) -> (KeyboardSignal, bool) {
        let sig = tokio::select! {
            _ = self.int.recv() => KeyboardSignal::Interrupt,
            _ = self.quit.recv() => KeyboardSignal::Quit,
        };
        let forward = match sig {
            KeyboardSignal::Interrupt => &mut self.forward_int,
            KeyboardSignal::Quit => &mut self.forward_quit,
        };
        (sig, std::mem::take(forward))
    }
}
