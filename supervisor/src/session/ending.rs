//! How a session ends: a kill on request, the reaper that records the
//! child's exit status, the finish after the pump (dead state, EXIT, the
//! output closed) and the word to connections that the session is over.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use heimdall_protocol::Event;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::sync::watch;

use super::{ExitStatus, Session};
use crate::lifecycle::exit_code;

impl Session {
    /// The child's exit, once it happened.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.exit.borrow()
    }

    /// When the child's exit was seen (reaped), once it was.
    pub fn exited_at(&self) -> Option<std::time::SystemTime> {
        self.exited_at.get().copied()
    }

    /// A receiver that sees the child's exit.
    pub fn watch_exit(&self) -> watch::Receiver<Option<ExitStatus>> {
        self.exit.subscribe()
    }

    /// A receiver that turns `true` when the session is over and
    /// connections should finish.
    pub fn watch_ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// Whether someone asked for the session to be killed.
    pub fn is_killed(&self) -> bool {
        self.killing.load(Ordering::Acquire)
    }

    /// Kill the session: SIGTERM to the tree, SIGKILL after the grace period.
    /// Only the first call acts.
    pub fn kill(self: &Arc<Self>) {
        // A session killed on purpose is not held: a reader that does not
        // read (`hm run | sleep`) no longer keeps it from ending, also when
        // the child has already exited.
        self.output.release_holds();
        if self.killing.swap(true, Ordering::AcqRel) || self.exit_status().is_some() {
            return;
        }
        tracing::info!("killing the session");
        let me = self.clone();
        tokio::spawn(async move {
            me.target
                .terminate(Duration::from_millis(me.config.kill_grace_ms))
                .await;
        });
    }

    /// Reap children on SIGCHLD; record the child's exit status.
    pub async fn reaper(self: Arc<Self>) {
        let mut sigchld = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot watch SIGCHLD: {e}");
                return;
            }
        };
        loop {
            // Reap first: the child may have exited before the handler existed.
            loop {
                match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(status) => {
                        if status.pid() == Some(self.pid()) {
                            if let Some(code) = exit_code(status) {
                                tracing::info!(code = code.0, "child exited");
                                // Before the exit is known: a client that
                                // learns of it finds the time in the record.
                                let _ = self.exited_at.set(std::time::SystemTime::now());
                                self.exit.send_replace(Some(code));
                            }
                        }
                    }
                }
            }
            if sigchld.recv().await.is_none() {
                return;
            }
        }
    }

    /// After the pump ended: wait for the child's status, mark the state
    /// dead, announce the exit and close the output stream.
    pub async fn finish(&self) -> ExitStatus {
        let mut exit = self.exit.subscribe();
        let status = match exit.wait_for(Option::is_some).await {
            Ok(s) => (*s).unwrap_or((1, None)),
            Err(_) => (1, None),
        };
        self.screen_at_end();
        self.classify_dead();
        self.input.close();
        self.emit_event(Event::Exit {
            code: status.0,
            signal: status.1,
        });
        self.output.close();
        status
    }

    /// Tell connections the session is over.
    pub fn end(&self) {
        self.ended.send_replace(true);
    }

    /// Connections have been served for the longest time after the end:
    /// close every one but those that hold the output (SUBSCRIBE's `hold`).
    pub fn close_unheld(&self) {
        self.overtime.cancel();
    }

    /// Resolves once [`Session::close_unheld`] was called.
    pub async fn overtime(&self) {
        self.overtime.cancelled().await;
    }
}
