//! A supervisor that stops answering after a command connected: one that
//! is stopped (SIGSTOP, a debugger) or hung answers nothing. A command
//! bounded by its `--timeout` (`hm wait`, `hm submit`) ends then ([`within`]:
//! the supervisor answers a request that timed out itself, just after the
//! command's own clock says so, and the call's own deadline, the timeout
//! plus the usual 5 s, is not the command's `--timeout`); one that waits
//! for the session as long as it takes looks whether it is stopped
//! ([`unless_stopped`]).

use std::future::Future;
use std::time::{Duration, Instant};

use super::unreachable::Stopped;
use crate::paths::SessionPaths;

/// How long past the timeout a supervisor that is not stopped has to give
/// its own answer (on a loaded machine it may come late).
pub const PAST_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a supervisor that is late is looked at again, whether it is
/// stopped.
const LOOK_AGAIN: Duration = Duration::from_millis(50);

/// A supervisor that had not answered by the time a command's `--timeout`
/// allowed it ([`within`]).
#[derive(Debug)]
pub enum Overdue {
    /// It is stopped, so it answers nothing until it is continued.
    Stopped(Stopped),
    /// It runs but gave no answer within [`PAST_TIMEOUT`] after the timeout.
    Silent,
}

impl Overdue {
    /// What happened, for people, after "timed out …: ".
    pub fn why(&self) -> String {
        match self {
            Overdue::Stopped(s) => s.to_string(),
            Overdue::Silent => format!(
                "its supervisor gave no answer, not even {}s after the timeout",
                PAST_TIMEOUT.as_secs()
            ),
        }
    }
}

/// `work` (connecting to the session of `paths` and asking it) until
/// `limit`, the end of the command's `--timeout` (`None`: none, or one
/// too far to count); past it, a supervisor that is stopped is
/// [`Overdue::Stopped`] at once, and one that runs gets [`PAST_TIMEOUT`]
/// for its answer.
pub async fn within<T>(
    paths: &SessionPaths,
    limit: Option<Instant>,
    work: impl Future<Output = T>,
) -> Result<T, Overdue> {
    tokio::pin!(work);
    let Some(limit) = limit else {
        return Ok(work.await);
    };
    if let Ok(answer) = tokio::time::timeout_at(limit.into(), &mut work).await {
        return Ok(answer);
    }
    let give_up = Instant::now() + PAST_TIMEOUT;
    loop {
        if let Err(stopped) = super::unreachable::refuse_stopped(paths) {
            return Err(Overdue::Stopped(stopped));
        }
        let now = Instant::now();
        if now >= give_up {
            return Err(Overdue::Silent);
        }
        let next = give_up.min(now + LOOK_AGAIN);
        if let Ok(answer) = tokio::time::timeout_at(next.into(), &mut work).await {
            return Ok(answer);
        }
    }
}

/// `work` (a call to the session of `paths`) until it ends, or its
/// supervisor is found stopped (looked at every [`LOOK_AGAIN`]): for a
/// command that waits on the session as long as it takes (`hm kill` for
/// its end), but not for one that answers nothing.
pub async fn unless_stopped<T>(
    paths: &SessionPaths,
    work: impl Future<Output = T>,
) -> Result<T, Stopped> {
    tokio::pin!(work);
    loop {
        if let Ok(answer) = tokio::time::timeout(LOOK_AGAIN, &mut work).await {
            return Ok(answer);
        }
        super::unreachable::refuse_stopped(paths)?;
    }
}

/// How often a command that waits as long as it takes looks whether the
/// supervisor is stopped.
const LOOK_SLOWLY: Duration = Duration::from_millis(500);

/// For a command that waits on a session as long as it takes, with no
/// timeout (`hm wait`, `hm tail -f`, `hm events`): says on stderr when the
/// supervisor is found stopped (it waits on: the supervisor may be
/// continued), and when it runs again.
pub struct StopNotes<'a> {
    paths: &'a SessionPaths,
    /// The pid of the supervisor said to be stopped, until it runs again.
    stopped: Option<i32>,
}

impl<'a> StopNotes<'a> {
    /// Notes on the supervisor of `paths`.
    pub fn new(paths: &'a SessionPaths) -> Self {
        StopNotes {
            paths,
            stopped: None,
        }
    }

    /// `work`, saying meanwhile when the supervisor stops or runs again.
    pub async fn over<T>(&mut self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            if let Ok(answer) = tokio::time::timeout(LOOK_SLOWLY, &mut work).await {
                return answer;
            }
            match (super::unreachable::refuse_stopped(self.paths), self.stopped) {
                (Err(stopped), None) => {
                    super::say(&format!("hm: {stopped}; waiting on"));
                    self.stopped = Some(stopped.pid);
                }
                (Ok(()), Some(pid)) => {
                    super::say(&format!(
                        "hm: session {:?}: its supervisor (pid {pid}) runs again",
                        self.paths.id
                    ));
                    self.stopped = None;
                }
                _ => {}
            }
        }
    }
}

/// The end of a `--timeout` of `ms` milliseconds from `began` (`None` when
/// there is none, or it is too far to count).
pub fn limit(began: Instant, ms: Option<u64>) -> Option<Instant> {
    began.checked_add(Duration::from_millis(ms?))
}
