//! Ending a session: signals to the process tree, kill escalation, exit
//! codes, and the guardian that cleans up when the supervisor itself is
//! killed.
//!
//! "The tree" is the child's process group plus every descendant of the
//! supervisor (the supervisor is a child subreaper, so grandchildren that
//! double-fork out of the group are re-parented to it and still found).

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// After SIGTERM, how long before SIGHUP is sent as well.
const HANGUP_AFTER: Duration = Duration::from_millis(250);

/// Who gets a session's signals.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The child (its pid is also its process group id).
    pub child: Pid,
    /// Whether signals go to the whole process group and descendants.
    pub group: bool,
    /// Processes never to signal (the guardian).
    pub spare: Option<Pid>,
}

impl Target {
    /// Send `sig` to the child, or to its group and every descendant of the supervisor.
    pub fn signal(&self, sig: Signal) -> Result<(), Errno> {
        if !self.group {
            return kill(self.child, sig);
        }
        let group = kill(Pid::from_raw(-self.child.as_raw()), sig);
        for pid in descendants(Pid::this()) {
            if Some(pid) != self.spare {
                let _ = kill(pid, sig);
            }
        }
        match group {
            Err(Errno::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Send `sig` to the child's process group only (or the child alone
    /// when signals do not go to the group).
    pub fn signal_group(&self, sig: Signal) -> Result<(), Errno> {
        if self.group {
            kill(Pid::from_raw(-self.child.as_raw()), sig)
        } else {
            kill(self.child, sig)
        }
    }

    /// Whether any process of the target is left.
    pub fn any_alive(&self) -> bool {
        if !self.group {
            return kill(self.child, None).is_ok() && !is_zombie(self.child);
        }
        let group = kill(Pid::from_raw(-self.child.as_raw()), None).is_ok()
            && group_members(self.child).iter().any(|p| !is_zombie(*p));
        group
            || descendants(Pid::this())
                .into_iter()
                .any(|p| Some(p) != self.spare && !is_zombie(p))
    }

    /// SIGTERM; SIGHUP too after a moment for what ignores SIGTERM (an
    /// interactive shell does, and hangs up on SIGHUP like on a closed
    /// terminal); SIGKILL after `grace` if anything is left. Returns once
    /// nothing is left (or shortly after SIGKILL).
    pub async fn terminate(&self, grace: Duration) {
        let _ = self.signal(Signal::SIGTERM);
        if self.group {
            let _ = self.signal(Signal::SIGCONT);
        }
        let start = Instant::now();
        let hangup_at = start + HANGUP_AFTER.min(grace / 2);
        let mut hung_up = false;
        while start.elapsed() < grace {
            if !self.any_alive() {
                return;
            }
            if !hung_up && Instant::now() >= hangup_at {
                hung_up = true;
                let _ = self.signal(Signal::SIGHUP);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::info!("grace period over; sending SIGKILL");
        let _ = self.signal(Signal::SIGKILL);
        for _ in 0..50 {
            if !self.any_alive() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Exit code of a wait status: the code, or 128+N for signal N.
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<(i32, Option<i32>)> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => Some((code, None)),
        WaitStatus::Signaled(_, sig, _) => Some((128 + sig as i32, Some(sig as i32))),
        _ => None,
    }
}

struct ProcStat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    state: u8,
}

fn read_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything.
    let rest = &text[text.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.bytes().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        pgrp,
        state,
    })
}

fn all_stats() -> Vec<ProcStat> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

fn is_zombie(pid: Pid) -> bool {
    read_stat(pid.as_raw()).is_none_or(|s| s.state == b'Z' || s.state == b'X')
}

fn group_members(pgid: Pid) -> Vec<Pid> {
    all_stats()
        .into_iter()
        .filter(|s| s.pgrp == pgid.as_raw())
        .map(|s| Pid::from_raw(s.pid))
        .collect()
}

/// Every descendant of `root` (children, grandchildren, …).
pub fn descendants(root: Pid) -> Vec<Pid> {
    let stats = all_stats();
    let mut found = vec![root.as_raw()];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(stats.iter().filter(|s| s.ppid == parent).map(|s| s.pid));
        i += 1;
    }
    found.remove(0);
    found.into_iter().map(Pid::from_raw).collect()
}

/// Make the supervisor a child subreaper: orphaned descendants of the child
/// are re-parented to it, so they can be found and killed.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// The write end of the guardian's lifeline. Dropping it without
/// [`Lifeline::release`] (the supervisor died) makes the guardian kill the
/// process group.
pub struct Lifeline(OwnedFd);

impl Lifeline {
    /// The session ended cleanly: tell the guardian to exit quietly.
    pub fn release(self) {
        let _ = nix::unistd::write(&self.0, b"x");
    }
}

/// Fork the guardian: a tiny process that waits on a pipe and, if the
/// supervisor dies without releasing it, sends SIGHUP and SIGTERM to the
/// child's process group and SIGKILL after `grace`.
///
/// Must be called while the process has one thread. Returns the guardian's
/// pid and the lifeline.
pub fn spawn_guardian(child: Pid, grace: Duration) -> Result<(Pid, Lifeline), Errno> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: single-threaded here; the guardian only makes plain syscalls.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            // Closing inherited fds (the pty, the pidfile lock, the
            // lifeline's write end) so the guardian holds nothing but its pipe.
            crate::spawn::close_fds_from(0, Some(r.as_raw_fd()));
            // SAFETY: setting signal dispositions.
            unsafe {
                for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM, libc::SIGQUIT] {
                    libc::signal(sig, libc::SIG_IGN);
                }
            }
            let mut buf = [0u8; 1];
            let n = loop {
                match nix::unistd::read(&r, &mut buf) {
                    Err(Errno::EINTR) => continue,
                    other => break other.unwrap_or(0),
                }
            };
            if n == 0 {
                let group = Pid::from_raw(-child.as_raw());
                let _ = kill(group, Signal::SIGHUP);
                let _ = kill(group, Signal::SIGTERM);
                let _ = kill(group, Signal::SIGCONT);
                let deadline = Instant::now() + grace;
                while Instant::now() < deadline && kill(group, None).is_ok() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = kill(group, Signal::SIGKILL);
            }
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child: guardian } => Ok((guardian, Lifeline(w))),
    }
}

/// Parse a signal given by name (`INT`, `sigterm`) or number (`15`, `"9"`).
/// On failure returns the error code `invalid_signal` and a message.
pub fn parse_signal(
    spec: &heimdall_protocol::SignalSpec,
) -> Result<Signal, (&'static str, String)> {
    use heimdall_protocol::SignalSpec;
    let bad = |what: String| {
        (
            "invalid_signal",
            format!("unknown signal {what} (use a name such as INT, TERM, HUP, WINCH, USR1, or a number)"),
        )
    };
    match spec {
        SignalSpec::Number(n) => Signal::try_from(*n).map_err(|_| bad(n.to_string())),
        SignalSpec::Name(s) => {
            let t = s.trim();
            if let Ok(n) = t.parse::<i32>() {
                return Signal::try_from(n).map_err(|_| bad(n.to_string()));
            }
            let up = t.to_ascii_uppercase();
            let name = if up.starts_with("SIG") {
                up
            } else {
                format!("SIG{up}")
            };
            name.parse::<Signal>().map_err(|_| bad(format!("{s:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_protocol::SignalSpec;

    #[test]
    fn signal_names_and_numbers() {
        let p = |s: SignalSpec| parse_signal(&s).map_err(|e| e.1);
        assert_eq!(p(SignalSpec::Name("int".into())), Ok(Signal::SIGINT));
        assert_eq!(p(SignalSpec::Name("SIGTERM".into())), Ok(Signal::SIGTERM));
        assert_eq!(p(SignalSpec::Name("9".into())), Ok(Signal::SIGKILL));
        assert_eq!(p(SignalSpec::Number(28)), Ok(Signal::SIGWINCH));
        assert!(p(SignalSpec::Name("NOPE".into())).is_err());
        assert!(p(SignalSpec::Number(999)).is_err());
    }
}
