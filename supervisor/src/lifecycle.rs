//! Ending a session: signals to the process tree, kill escalation, exit
//! codes, and the guardian that cleans up when the supervisor itself is
//! killed.
//!
//! "The tree" is the child's process group, every descendant of the
//! supervisor (it is a child subreaper, so grandchildren that double-fork
//! out of the group are re-parented to it and still found), and every
//! process whose environment carries this supervisor's tree marker
//! ([`TREE_VAR`], a random token per supervisor instance, set for the
//! child): that is how the guardian still finds processes that left the
//! group after the supervisor is gone. Another supervisor (and its tree) is
//! never part of it, even when it was started from inside the session.
//!
//! Finding the tree scans `/proc`; escalation does it on a blocking thread,
//! never on the runtime's thread.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::exit_record::ExitRecord;

/// How long a killed session may take to end, or one whose program has
/// exited to finish (end the processes it left), for a client whose
/// configured grace is `kill_grace_ms` (the supervisor's own may differ: a
/// generous bound).
pub fn kill_bound(kill_grace_ms: u64) -> Duration {
    Duration::from_millis(kill_grace_ms.max(5000)) + Duration::from_secs(10)
}

/// After SIGTERM, how long before SIGHUP is sent as well.
const HANGUP_AFTER: Duration = Duration::from_millis(250);
/// How often escalation looks whether anything of the tree is left.
const POLL: Duration = Duration::from_millis(50);
/// How long to wait for the tree to go after SIGKILL.
const AFTER_KILL: Duration = Duration::from_secs(1);

/// The environment variable carrying the tree marker into the child.
pub const TREE_VAR: &str = "HEIMDALL_TREE";
/// The process name (`comm`) of a supervisor: never part of another's tree.
const SUPERVISOR_NAME: &[u8] = b"hm-supervisor";
/// The process name of a supervisor's guardian (also its argv\[0\]).
const GUARDIAN_NAME_STR: &str = "hm-guardian";
/// [`GUARDIAN_NAME_STR`] as bytes, as `/proc/PID/stat` shows it.
const GUARDIAN_NAME: &[u8] = GUARDIAN_NAME_STR.as_bytes();

/// This supervisor's tree marker, `HEIMDALL_TREE=<token>`.
static MARKER: OnceLock<Vec<u8>> = OnceLock::new();

/// Name this process a supervisor and draw its tree token; returns the
/// token to put in the child's environment as [`TREE_VAR`].
pub fn become_supervisor() -> String {
    set_name(SUPERVISOR_NAME);
    let token = MARKER
        .get_or_init(|| {
            let mut bytes = [0u8; 16];
            // SAFETY: getrandom(2) fills the buffer it is given.
            let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
            if n != bytes.len() as isize {
                // No entropy source: pid and time are unique enough per instance.
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                bytes[..4].copy_from_slice(&std::process::id().to_be_bytes());
                bytes[4..].copy_from_slice(&t.to_be_bytes()[4..]);
            }
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("{TREE_VAR}={hex}").into_bytes()
        })
        .clone();
    String::from_utf8_lossy(&token[TREE_VAR.len() + 1..]).into_owned()
}

fn set_name(name: &[u8]) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

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
    /// Send `sig` to the child, or to its group and the rest of the tree.
    pub fn signal(&self, sig: Signal) -> Result<(), Errno> {
        if !self.group {
            return kill(self.child, sig);
        }
        let group = kill(Pid::from_raw(-self.child.as_raw()), sig);
        for pid in self.tree() {
            let _ = kill(pid, sig);
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

    /// The processes of the tree besides the group (see the module doc).
    fn tree(&self) -> Vec<Pid> {
        let spare: Vec<Pid> = self.spare.into_iter().collect();
        tree(Some(Pid::this()), self.child, &spare)
            .into_iter()
            .map(|s| Pid::from_raw(s.pid))
            .collect()
    }

    /// Whether any process of the target is left.
    pub fn any_alive(&self) -> bool {
        if !self.group {
            return kill(self.child, None).is_ok() && !is_zombie(self.child);
        }
        let spare: Vec<Pid> = self.spare.into_iter().collect();
        tree(Some(Pid::this()), self.child, &spare)
            .iter()
            .any(|s| !s.is_zombie())
    }

    /// SIGTERM; SIGHUP too after a moment for what ignores SIGTERM (an
    /// interactive shell does, and hangs up on SIGHUP like on a closed
    /// terminal); SIGKILL after `grace` if anything is left. Returns once
    /// nothing is left (or shortly after SIGKILL). Runs on a blocking
    /// thread: looking for the tree scans `/proc`.
    pub async fn terminate(&self, grace: Duration) {
        let me = *self;
        let _ = tokio::task::spawn_blocking(move || me.terminate_blocking(grace)).await;
    }

    fn terminate_blocking(&self, grace: Duration) {
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
            std::thread::sleep(POLL);
        }
        tracing::info!("grace period over; sending SIGKILL");
        let end = Instant::now() + AFTER_KILL;
        while Instant::now() < end {
            let _ = self.signal(Signal::SIGKILL);
            if !self.any_alive() {
                return;
            }
            std::thread::sleep(POLL);
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

/// One line of `/proc/PID/stat`, the part the tree needs.
struct ProcStat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    state: u8,
    /// A supervisor or a guardian (by process name).
    heimdall: bool,
}

impl ProcStat {
    fn is_zombie(&self) -> bool {
        self.state == b'Z' || self.state == b'X'
    }
}

fn read_stat(pid: i32) -> Option<ProcStat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything.
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let name = text.get(open + 1..close)?;
    let rest = std::str::from_utf8(text.get(close + 2..)?).ok()?;
    let mut f = rest.split(' ');
    let state = f.next()?.bytes().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        pgrp,
        state,
        heimdall: name == SUPERVISOR_NAME || name == GUARDIAN_NAME,
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
    read_stat(pid.as_raw()).is_none_or(|s| s.is_zombie())
}

/// Whether `pid`'s environment holds this supervisor's tree marker.
fn has_marker(pid: i32, marker: &[u8]) -> bool {
    // Another user's process: not readable, and not ours anyway.
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|&b| b == 0).any(|kv| kv == marker))
        .unwrap_or(false)
}

/// The tree of the supervisor `root` (None: it is gone) and the child
/// `child`: its group, `root`'s descendants, and whatever carries the
/// marker; never this process, `spare`, another supervisor or guardian, nor
/// anything below another supervisor (unless in the group or marked: a
/// supervisor started inside another session is re-parented to it).
fn tree(root: Option<Pid>, child: Pid, spare: &[Pid]) -> Vec<ProcStat> {
    let stats = all_stats();
    let me = Pid::this().as_raw();
    let children_of = |parents: &[i32]| -> Vec<i32> {
        stats
            .iter()
            .filter(|s| parents.contains(&s.ppid))
            .map(|s| s.pid)
            .collect()
    };
    let marker = MARKER.get();
    // This process, `spare`, the child's group and what carries the marker.
    let owned = |s: &ProcStat| {
        s.pid == me
            || spare.contains(&Pid::from_raw(s.pid))
            || s.pgrp == child.as_raw()
            || marker.is_some_and(|m| has_marker(s.pid, m))
    };
    // Other supervisors and everything below them are never ours — except
    // what is ours by the marks above: a supervisor started from inside
    // another session is re-parented to that session's supervisor (a
    // subreaper), and so are its child and, once it is gone, its orphans.
    let mut foreign: Vec<i32> = stats
        .iter()
        .filter(|s| s.heimdall && s.pid != me && !spare.contains(&Pid::from_raw(s.pid)))
        .map(|s| s.pid)
        .collect();
    let mut next = foreign.clone();
    while !next.is_empty() {
        next = stats
            .iter()
            .filter(|s| next.contains(&s.ppid) && !foreign.contains(&s.pid) && !owned(s))
            .map(|s| s.pid)
            .collect();
        foreign.extend_from_slice(&next);
    }
    let mut mine: Vec<i32> = Vec::new();
    if let Some(root) = root {
        let mut next = vec![root.as_raw()];
        while !next.is_empty() {
            next = children_of(&next);
            next.retain(|p| !foreign.contains(p) && !mine.contains(p));
            mine.extend_from_slice(&next);
        }
    }
    stats
        .into_iter()
        .filter(|s| {
            s.pid != me
                && !spare.contains(&Pid::from_raw(s.pid))
                && !foreign.contains(&s.pid)
                && (mine.contains(&s.pid)
                    || s.pgrp == child.as_raw()
                    || marker.is_some_and(|m| has_marker(s.pid, m)))
        })
        .collect()
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
/// tree.
pub struct Lifeline(OwnedFd);

impl Lifeline {
    /// Tell the guardian the exit record to leave in `socket_dir` should
    /// this supervisor die: `record` as far as it is known at the start
    /// (the guardian fills in how and when the session ended). Sent once,
    /// as one JSON line, before [`Lifeline::release`].
    pub fn brief(&self, socket_dir: &Path, record: &ExitRecord) {
        let brief = Brief {
            socket_dir: socket_dir.to_path_buf(),
            record: record.clone(),
        };
        let Ok(mut line) = serde_json::to_vec(&brief) else {
            tracing::warn!("cannot brief the guardian: the socket directory is not UTF-8");
            return;
        };
        line.push(b'\n');
        if line.len() > MAX_BRIEF {
            tracing::warn!("not briefing the guardian: the command line is too long");
            return;
        }
        let mut rest = &line[..];
        while !rest.is_empty() {
            match nix::unistd::write(&self.0, rest) {
                Ok(n) => rest = &rest[n..],
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::warn!("cannot brief the guardian: {e}");
                    return;
                }
            }
        }
    }

    /// The session ended cleanly: tell the guardian to exit quietly.
    pub fn release(self) {
        let _ = nix::unistd::write(&self.0, RELEASE);
    }
}

/// The byte that releases the guardian (never the first of a [`Brief`]
/// line, which is JSON).
const RELEASE: &[u8] = b"x";
/// The longest brief sent to a guardian (it keeps it while it waits).
const MAX_BRIEF: usize = 64 << 10;

/// What a guardian needs to leave an exit record for its supervisor.
#[derive(Serialize, Deserialize)]
struct Brief {
    /// The session's socket directory (absolute).
    socket_dir: PathBuf,
    /// The record, but for how and when the session ended.
    record: ExitRecord,
}

/// The first argument that starts `hm` as a guardian (see [`guardian_main`]).
pub const GUARDIAN_ARG: &str = "__hm-guardian";

/// Fork the guardian: a tiny process that waits on a pipe and, if the
/// supervisor dies without releasing it, sends SIGHUP, SIGTERM and SIGCONT
/// to the tree (the child's group and every process with the tree marker)
/// and SIGKILL to what is left after `grace`.
///
/// The forked process re-executes `hm` (`/proc/self/exe`) as
/// [`guardian_main`], so it holds none of the supervisor's memory: a
/// process that only waits costs a few hundred KiB instead of a
/// copy-on-write share of the supervisor's heap. If the exec fails it
/// waits in the forked process itself.
///
/// Must be called while the process has one thread, after
/// [`become_supervisor`]. Returns the guardian's pid and the lifeline.
pub fn spawn_guardian(child: Pid, grace: Duration) -> Result<(Pid, Lifeline), Errno> {
    use std::ffi::CString;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let token = MARKER
        .get()
        .map(|m| String::from_utf8_lossy(&m[TREE_VAR.len() + 1..]).into_owned())
        .unwrap_or_default();
    // Everything the exec needs is allocated before the fork.
    let argv: Vec<CString> = [
        GUARDIAN_NAME_STR.to_string(),
        GUARDIAN_ARG.to_string(),
        r.as_raw_fd().to_string(),
        child.as_raw().to_string(),
        grace.as_millis().to_string(),
        token,
    ]
    .into_iter()
    .filter_map(|a| CString::new(a).ok())
    .collect();
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    // SAFETY: single-threaded here; the guardian only makes plain syscalls
    // until it execs or the supervisor is gone.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            set_name(GUARDIAN_NAME);
            // Closing inherited fds (the pty, the pidfile lock, the
            // lifeline's write end) so the guardian holds nothing but its pipe.
            crate::spawn::close_fds_from(0, Some(r.as_raw_fd()));
            // SAFETY: fcntl and execv on valid descriptors and
            // NUL-terminated strings built before the fork; the pipe stays
            // open across the exec, nothing else does.
            unsafe {
                libc::fcntl(r.as_raw_fd(), libc::F_SETFD, 0);
                libc::execv(c"/proc/self/exe".as_ptr(), argv_ptrs.as_ptr());
            }
            guard(&r, child, grace);
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child: guardian } => Ok((guardian, Lifeline(w))),
    }
}

/// Wait on the lifeline's read end, keeping the supervisor's [`Brief`];
/// if the supervisor dies without releasing it (end of file), end the tree
/// and leave the exit record the brief describes.
fn guard(lifeline: &impl std::os::fd::AsFd, child: Pid, grace: Duration) {
    // SAFETY: setting signal dispositions.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGTERM, libc::SIGQUIT] {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let mut got: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(lifeline.as_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            Ok(0) | Err(_) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                let brief_end = got.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
                if got[brief_end..].starts_with(RELEASE) {
                    return;
                }
            }
        }
    }
    let signal = sweep(child, grace);
    let brief = got
        .split(|&b| b == b'\n')
        .next()
        .and_then(|line| serde_json::from_slice::<Brief>(line).ok());
    if let Some(brief) = brief {
        leave_record(brief, signal);
    }
}

/// Write the exit record of a supervisor that died, unless the id is
/// someone else's by now: with the pidfile's lock held (as a starting
/// supervisor takes it, and then removes a stale record), and only where
/// no record is (one there is the supervisor's own, written before it
/// died, or a newer session's).
fn leave_record(brief: Brief, signal: Signal) {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = crate::paths::SocketDir::open(&brief.socket_dir) else {
        return;
    };
    let Ok(paths) = dir.session(&brief.record.id) else {
        return;
    };
    let deadline = Instant::now() + LOCK_WAIT;
    // The pidfile may be removed under us (by `hm ls`): open it again.
    let (file, created) = loop {
        let created = std::fs::symlink_metadata(&paths.pid).is_err();
        let Ok(file) = heimdall_client::open_pidfile(&paths.pid) else {
            return;
        };
        // SAFETY: flock on a descriptor we own; the lock goes with the file.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            if Instant::now() >= deadline {
                // A live supervisor has the id now.
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let same = match (file.metadata(), std::fs::symlink_metadata(&paths.pid)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        if same {
            break (file, created);
        }
        if Instant::now() >= deadline {
            return;
        }
    };
    if std::fs::symlink_metadata(&paths.exit).is_err() {
        let mut record = brief.record;
        record.code = 128 + signal as i32;
        record.signal = Some(signal as i32);
        record.ended_at = crate::exit_record::rfc3339_micros(std::time::SystemTime::now());
        record.supervisor_died = true;
        let _ = record.write(&paths.exit);
    }
    if created {
        let _ = std::fs::remove_file(&paths.pid);
    }
    drop(file);
}

/// How long the guardian waits for a pidfile lock held for a moment (by
/// `hm ls`) before it takes the id as taken by a new supervisor.
const LOCK_WAIT: Duration = Duration::from_millis(300);

/// `hm __hm-guardian FD CHILD GRACE_MS TOKEN`, the guardian that
/// [`spawn_guardian`] executes: `Some(exit code)` when this process was
/// started as one, `None` otherwise (an ordinary `hm` command line). Runs
/// before anything else in `main`: no runtime, no configuration, a single
/// thread that waits.
pub fn guardian_main() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != GUARDIAN_ARG {
        return None;
    }
    set_name(GUARDIAN_NAME);
    let mut num = |max: i64| -> Option<i64> {
        let v: i64 = args.next()?.to_str()?.parse().ok()?;
        (0..=max).contains(&v).then_some(v)
    };
    let parsed = (|| Some((num(i32::MAX as i64)?, num(i32::MAX as i64)?, num(i64::MAX)?)))();
    let token = args.next().and_then(|t| t.into_string().ok());
    let (Some((fd, child, grace_ms)), Some(token)) = (parsed, token) else {
        eprintln!("hm: {GUARDIAN_ARG} is internal to hm (usage: FD CHILD GRACE_MS TOKEN)");
        return Some(2);
    };
    // SAFETY: fstat on a descriptor number into a zeroed stat buffer.
    let is_pipe = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd as i32, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFIFO
    };
    if !is_pipe || child < 2 {
        eprintln!("hm: {GUARDIAN_ARG} is internal to hm (no lifeline pipe)");
        return Some(2);
    }
    if !token.is_empty() {
        let _ = MARKER.set(format!("{TREE_VAR}={token}").into_bytes());
    }
    // SAFETY: the supervisor passed this pipe's read end for this process alone.
    let lifeline = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    guard(
        &lifeline,
        Pid::from_raw(child as i32),
        Duration::from_millis(grace_ms as u64),
    );
    Some(0)
}

/// The guardian's work once the supervisor is gone: end its tree. Returns
/// the signal that ended the program as far as the guardian can tell (its
/// status went with the supervisor): SIGKILL when it outlived the grace
/// period, else SIGHUP, the hang-up its terminal gave it when the
/// supervisor died and the first signal the guardian sends.
fn sweep(child: Pid, grace: Duration) -> Signal {
    let group = Pid::from_raw(-child.as_raw());
    let signal_all = |sigs: &[Signal]| {
        let members = tree(None, child, &[]);
        for &sig in sigs {
            let _ = kill(group, sig);
            for s in &members {
                let _ = kill(Pid::from_raw(s.pid), sig);
            }
        }
        members.iter().any(|s| !s.is_zombie())
    };
    let deadline = Instant::now() + grace;
    let stop = [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGCONT];
    // Repeated: what the tree starts meanwhile is told too.
    while signal_all(&stop) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    let child_left = kill(child, None).is_ok() && !is_zombie(child);
    let deadline = Instant::now() + AFTER_KILL;
    while signal_all(&[Signal::SIGKILL]) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    if child_left {
        Signal::SIGKILL
    } else {
        Signal::SIGHUP
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
