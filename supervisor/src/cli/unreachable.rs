//! A live supervisor that cannot be reached: its socket was deleted under
//! it, it is stopped, or connecting failed or went unanswered. `hm kill`
//! signals such a supervisor instead; every other command says what is the
//! matter ([`SocketGone`], [`Stopped`]) instead of "cannot connect" or "no
//! answer".

use std::path::PathBuf;

use heimdall_client::ClientError;

use crate::paths::SessionPaths;

/// The session's supervisor holds its pidfile (it is running) but its
/// socket is gone, so no client can reach it; `hm kill ID` ends it (through
/// the supervisor's pid). `--json` code: `socket_gone`.
#[derive(Debug, thiserror::Error)]
#[error(
    "session {id:?}: its supervisor (pid {pid}) is running but its socket {} is gone, \
     so no client can reach it; `hm kill {id}` ends it",
    sock.display()
)]
pub struct SocketGone {
    /// The session id.
    pub id: String,
    /// The supervisor's pid.
    pub pid: i32,
    /// Where its socket was.
    pub sock: PathBuf,
}

/// The session's supervisor is stopped (SIGSTOP, a debugger), so it
/// answers nothing until it is continued; said at once rather than after
/// a timeout. `--json` code: `stopped`.
#[derive(Debug, thiserror::Error)]
#[error(
    "session {id:?}: its supervisor (pid {pid}) is stopped, so it answers nothing; \
     `kill -CONT {pid}` resumes it, `hm kill {id}` ends it"
)]
pub struct Stopped {
    /// The session id.
    pub id: String,
    /// The supervisor's pid.
    pub pid: i32,
}

/// [`Stopped`] when the live supervisor of `paths` is stopped now.
pub fn refuse_stopped(paths: &SessionPaths) -> Result<(), Stopped> {
    match paths.stopped_supervisor() {
        Some(pid) => Err(Stopped {
            id: paths.id.clone(),
            pid,
        }),
        None => Ok(()),
    }
}

/// A live supervisor that connecting to failed.
#[derive(Debug)]
pub struct Unreachable {
    /// The supervisor's pid (the pidfile lock shows it alive).
    pub pid: i32,
    /// Why it cannot be reached, for people.
    pub why: String,
}

/// The supervisor of `paths`, when `e` (from connecting to it) failed
/// because it cannot be reached (its socket is gone or refuses, or it never
/// answered), not because talking to it is refused, and the pidfile lock
/// shows it alive.
pub fn unreachable_supervisor(paths: &SessionPaths, e: &anyhow::Error) -> Option<Unreachable> {
    let why = e.chain().find_map(|c| {
        if let Some(gone) = c.downcast_ref::<SocketGone>() {
            return Some(format!("its socket {} is gone", gone.sock.display()));
        }
        if c.downcast_ref::<Stopped>().is_some() {
            return Some("its supervisor is stopped".to_string());
        }
        match c.downcast_ref::<ClientError>() {
            Some(ce @ (ClientError::Connect { .. } | ClientError::Timeout(_))) => {
                Some(ce.to_string())
            }
            _ => None,
        }
    })?;
    let pid = paths.read_pids()?.supervisor;
    (pid > 1 && paths.is_live()).then_some(Unreachable { pid, why })
}

/// `e`, the error of connecting to the session of `paths`, as what
/// happened when that is known: [`Stopped`] when its supervisor is stopped
/// (the client library found it, [`ClientError::Stopped`]); [`SocketGone`] when the socket does not exist, the session has not
/// ended (a supervisor writes the exit record before it removes its socket)
/// and its supervisor is alive. A supervisor records its pid only once it
/// listens, so one that is starting is not taken for one whose socket is
/// gone.
pub fn connect_error(paths: &SessionPaths, e: anyhow::Error) -> anyhow::Error {
    let stopped = e
        .chain()
        .find_map(|c| match c.downcast_ref::<ClientError>() {
            Some(ClientError::Stopped { pid }) => Some(*pid),
            _ => None,
        });
    if let Some(pid) = stopped {
        return Stopped {
            id: paths.id.clone(),
            pid,
        }
        .into();
    }
    match paths.socket_gone() {
        Some(pid) if unreachable_supervisor(paths, &e).is_some() => SocketGone {
            id: paths.id.clone(),
            pid,
            sock: paths.sock.clone(),
        }
        .into(),
        _ => e,
    }
}
