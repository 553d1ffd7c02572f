//! The session tools: the agent's hands. Every command the agent runs is a
//! supervised session (started with `hm start` through the client library),
//! so a human can `hm attach` to it. The agent never touches ptys or pids.
//!
//! The agent keeps at most `cap` live sessions of its own; starting one more
//! reaps the oldest idle one. The sessions it started are killed by
//! [`SessionTools::cleanup`] unless the front end is told to keep them.

mod read;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt;
use heimdall_client::{
    validate_id, Client, ClientBuilder, ClientError, DiscoveryError, ErrorCode, Event, EventItem,
    ExitRecord, Launcher, Liveness, RegexSource, ScreenRequest, ScreenResp, SignalSpec,
    SignalTarget, SocketDir, StartOptions, State, WaitCondition, WaitResult,
};
use heimdall_protocol::WaitingOption;
use serde_json::{json, Value};
use tokio::sync::{watch, Mutex};

use super::ended_session::{self, screen_text, CONTEXT_ROWS};
use super::session_slots::{Slot, Starting};
use super::waiting_prompt::shown_prompt;
use super::{
    choice_arg, given, opt_bool_arg, opt_choice_arg, opt_str_arg, opt_str_list_arg, opt_u64_arg,
    str_arg, ToolOutput, ToolSet,
};
use crate::conversation::ToolSpec;
use crate::scrub::Cursor;
use read::ReadPoint;

/// Silence after which a session counts as idle for reaping, whatever the
/// classifier says (its own idle threshold may be longer).
const REAP_IDLE_MS: u64 = 1000;

/// Kept back from the tool limit so a cut wait answers before the limit.
const WAIT_MARGIN: Duration = Duration::from_secs(2);

/// A session the agent started.
#[derive(Debug, Clone)]
struct Owned {
    id: String,
    last_used: Instant,
}

/// What a session last said it waits for (its `waiting` event).
#[derive(Debug, Clone)]
struct Prompt {
    prompt: String,
    options: Vec<WaitingOption>,
}

/// A connection to a session, with a task following its events.
struct Connected {
    client: Client,
    waiting: watch::Receiver<Option<Prompt>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[derive(Default)]
struct Shared {
    owned: Vec<Owned>,
    clients: HashMap<String, Connected>,
    /// Where the model's reads of each session have got to; a read holds
    /// its session's while it reads.
    reads: HashMap<String, Arc<Mutex<ReadPoint>>>,
}

/// The pause between the key steps of an answer: TUIs built on ink ignore
/// an arrow key and Enter that arrive in one read (docs/protocol.md).
const STEP_GAP: Duration = Duration::from_millis(300);

/// How long an answer waits for the event task to catch up with a
/// `waiting` event the connection has already received (the WAIT or STATUS
/// answer that says "waiting" can reach the caller first on a busy machine).
const PROMPT_CATCH_UP: Duration = Duration::from_secs(5);

/// The session tools; cheap to clone (one shared state).
#[derive(Clone)]
pub struct SessionTools {
    launcher: Launcher,
    dir: SocketDir,
    cap: usize,
    work_dir: PathBuf,
    state: Arc<Mutex<Shared>>,
    /// The places under the cap held by starts in progress: concurrent
    /// starts cannot all see room, and do not wait for each other.
    starting: Starting,
    /// Held by a start that must reap an idle session to make room (one
    /// at a time, so two do not reap for one place).
    reaping: Arc<Mutex<()>>,
}

type ToolResult = Result<ToolOutput, String>;

/// How long [`SessionTools::cleanup`] waits for starts in progress.
const START_WAIT: Duration = Duration::from_secs(30);

fn client_error(id: &str, e: ClientError) -> String {
    match e {
        ClientError::SessionEnded { code } => format!(
            "session {id} has ended{}",
            code.map(|c| format!(" (exit code {c})"))
                .unwrap_or_default()
        ),
        other => format!("session {id}: {other}"),
    }
}

/// The argv of a command line: split on blanks when it is a plain command,
/// else run by `sh -c`.
fn argv(command: &str) -> Vec<String> {
    let shell = command
        .chars()
        .any(|c| "|&;<>()$`\\\"'*?[]#~=%{}!\n".contains(c));
    if shell {
        vec!["sh".into(), "-c".into(), command.into()]
    } else {
        command.split_whitespace().map(str::to_string).collect()
    }
}

impl SessionTools {
    /// Session tools starting sessions with `launcher` in socket directory
    /// `socket_dir` (the launcher should use the same one), at most `cap`
    /// live sessions of the agent's own, started in `work_dir` by default.
    pub fn new(launcher: Launcher, socket_dir: PathBuf, cap: usize, work_dir: PathBuf) -> Self {
        SessionTools {
            launcher,
            dir: SocketDir::new(socket_dir),
            cap: cap.max(1),
            work_dir,
            state: Arc::new(Mutex::new(Shared::default())),
            starting: Starting::default(),
            reaping: Arc::new(Mutex::new(())),
        }
    }

    /// The ids of the sessions the agent started that a supervisor still
    /// holds (their program may have exited, the supervisor finishing).
    pub async fn owned_live(&self) -> Vec<String> {
        let ids = self.owned().await;
        ids.into_iter().filter(|id| self.is_live(id)).collect()
    }

    /// The ids of the sessions the agent started whose program still runs
    /// (not those whose program has exited, their supervisor finishing).
    pub async fn owned_running(&self) -> Vec<String> {
        let mut running = Vec::new();
        for id in self.owned_live().await {
            if !self.program_ended(&id).await {
                running.push(id);
            }
        }
        running
    }

    /// Whether the program of session `id` has exited: its supervisor says
    /// so, or the session has ended.
    async fn program_ended(&self, id: &str) -> bool {
        let status = match self.client(id).await {
            Ok(c) => c.status().await.ok(),
            Err(_) => None,
        };
        match status {
            Some(s) => !s.alive,
            None => self.has_ended(id),
        }
    }

    /// The ids of every session the agent started, oldest first.
    async fn owned(&self) -> Vec<String> {
        let st = self.state.lock().await;
        st.owned.iter().map(|o| o.id.clone()).collect()
    }

    /// What a wait for `condition` on session `id`, which has ended,
    /// answers: from its exit record (waited for a few seconds while its
    /// supervisor finishes; a screen regex is matched on the final screen);
    /// `why` when there is none. A record its guardian left for a supervisor
    /// that died is no answer, as for `hm wait` and the client library
    /// ([`ExitRecord::told_by_supervisor`]): the connection was lost.
    async fn ended(
        &self,
        id: &str,
        condition: &WaitCondition,
        why: String,
    ) -> Result<WaitResult, String> {
        let rec = self.record(id).await.ok_or(why)?;
        let lost = format!(
            "lost the connection to session {id} before it ended; the program ended with {}",
            ended_session::exit_phrase(&rec)
        );
        rec.told_by_supervisor()
            .map(|r| r.wait_answer(condition))
            .ok_or(lost)
    }

    /// The exit record of session `id`, waited for a few seconds while its
    /// supervisor finishes; `None` when there is none (or none is coming).
    async fn record(&self, id: &str) -> Option<ExitRecord> {
        let files = self.dir.files(id).ok()?;
        tokio::task::spawn_blocking(move || files.exit_record_within(Duration::from_secs(5)))
            .await
            .ok()
            .flatten()
    }

    /// The exit record of session `id`, for a question to it that failed
    /// with `why`, when the failure is that it has ended (before the call
    /// or during it); else `why`.
    async fn after_end(&self, id: &str, why: String) -> Result<ExitRecord, String> {
        if !self.has_ended(id) {
            return Err(why);
        }
        self.record(id).await.ok_or(why)
    }

    /// Whether session `id` has ended: no supervisor holds it, or the one
    /// that does has written its exit record (removed when a session starts).
    fn has_ended(&self, id: &str) -> bool {
        !self.is_live(id) || self.dir.files(id).is_ok_and(|f| f.exit.exists())
    }

    fn is_live(&self, id: &str) -> bool {
        self.dir
            .find(id)
            .is_ok_and(|e| matches!(e.liveness, Liveness::Live(_)))
    }

    /// Kill every session the agent started whose program still runs
    /// (once the starts in progress have counted theirs, waiting up to
    /// 30 s), all at once, and wait (up to `grace`) for each to end. Returns the ids killed (not
    /// those that had ended by themselves, their supervisor still there).
    pub async fn cleanup(&self, grace: Duration) -> Vec<String> {
        // Starts still in progress (their calls cancelled) first count
        // their sessions.
        let deadline = tokio::time::Instant::now() + START_WAIT;
        loop {
            let given_back = self.starting.given_back();
            if self.starting.held() == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, given_back).await.is_err() {
                break;
            }
        }
        // All at once: a program that ignores SIGTERM takes hm's kill grace
        // to end, and the agent may itself be given little time to leave.
        let ids = self.owned_running().await;
        let kills = ids.into_iter().map(|id| async move {
            let killed = self.kill(&id, grace).await.is_ok();
            killed.then_some(id)
        });
        join_all(kills).await.into_iter().flatten().collect()
    }

    /// A connection to session `id` (cached).
    async fn client(&self, id: &str) -> Result<Client, String> {
        self.connect(id).await.map_err(|e| e.to_string())
    }

    /// A connection to session `id` (cached); a session that has ended is
    /// [`DiscoveryError::Exited`] with its exit record.
    async fn connect(&self, id: &str) -> Result<Client, DiscoveryError> {
        validate_id(id)?;
        {
            let mut st = self.state.lock().await;
            if let Some(o) = st.owned.iter_mut().find(|o| o.id == id) {
                o.last_used = Instant::now();
            }
            if let Some(c) = st.clients.get(id) {
                return Ok(c.client.clone());
            }
        }
        // Connected without the lock: the calls of a turn (to other
        // sessions, or starts) do not wait for this one.
        let client = self
            .dir
            .connect(id, ClientBuilder::new().name("hm-agent"))
            .await?;
        // Follow the session's events to know what it waits for.
        let (seen, waiting) = watch::channel(None);
        let events = client.events().await;
        let screens = client.clone();
        let watcher = tokio::spawn(async move {
            let Ok(mut events) = events else { return };
            while let Some(item) = events.next().await {
                match item {
                    EventItem::Event(Event::Waiting(w)) => {
                        let (prompt, options) = shown_prompt(&screens, &w.prompt, w.options).await;
                        seen.send_replace(Some(Prompt { prompt, options }));
                    }
                    EventItem::Event(Event::State { new, .. }) if new.name() != "waiting" => {
                        seen.send_replace(None);
                    }
                    EventItem::Event(Event::Exit { .. }) => {
                        seen.send_replace(None);
                    }
                    _ => {}
                }
            }
        });
        let connected = Connected {
            client: client.clone(),
            waiting,
            watcher,
        };
        let mut st = self.state.lock().await;
        // A call that connected meanwhile is followed already: its
        // connection is kept, this one dropped.
        if let Some(c) = st.clients.get(id) {
            return Ok(c.client.clone());
        }
        st.clients.insert(id.to_string(), connected);
        Ok(client)
    }

    /// What session `id` waits for, as its last `waiting` event said.
    async fn prompt(&self, id: &str) -> Option<Prompt> {
        let st = self.state.lock().await;
        st.clients.get(id).and_then(|c| c.waiting.borrow().clone())
    }

    /// What session `id` waits for, given that it is in the `waiting`
    /// state: its `waiting` event precedes the state change, so it has
    /// arrived on the connection and the event task will have it shortly.
    async fn prompt_of_waiting(&self, id: &str) -> Option<Prompt> {
        let mut rx = {
            let st = self.state.lock().await;
            st.clients.get(id)?.waiting.clone()
        };
        let prompt = match tokio::time::timeout(PROMPT_CATCH_UP, rx.wait_for(Option::is_some)).await
        {
            Ok(Ok(p)) => p.clone(),
            _ => None,
        };
        prompt
    }

    /// Forget a cached connection (after the session ended).
    async fn forget(&self, id: &str) {
        self.state.lock().await.clients.remove(id);
    }

    /// Run `f` with the session's connection; a connection to a session
    /// that has ended is dropped from the cache.
    async fn with_client<T, F, Fut>(&self, id: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let c = self.client(id).await?;
        match f(c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if matches!(
                    e,
                    ClientError::SessionEnded { .. }
                        | ClientError::ConnectionClosed
                        | ClientError::Io(_)
                        | ClientError::Server {
                            code: ErrorCode::Dead,
                            ..
                        }
                ) {
                    self.forget(id).await;
                }
                Err(client_error(id, e))
            }
        }
    }

    async fn kill(&self, id: &str, grace: Duration) -> Result<Option<i32>, String> {
        let c = self.client(id).await?;
        c.kill().await.map_err(|e| client_error(id, e))?;
        // Ended once the connection closes and the supervisor has let go of
        // the session's files.
        let code = tokio::time::timeout(grace, async {
            let code = c.closed().await;
            while self.is_live(id) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            code
        })
        .await;
        // Still one the agent started, read on from where its reads got to,
        // as a session whose program exited.
        self.forget(id).await;
        match code {
            Ok(code) => Ok(code),
            Err(_) => Err(format!(
                "asked session {id} to end; it had not ended after {} s",
                grace.as_secs()
            )),
        }
    }

    /// A place under the cap for a new session, and the ids of the sessions
    /// reaped to make it: when there is none, the oldest idle session the
    /// agent started is killed; an error when none is idle and no start in
    /// progress may give a place back. Starts take places at once; only
    /// those that must reap take turns.
    async fn take_slot(&self) -> Result<(Slot, Vec<String>), String> {
        let mut reaped = Vec::new();
        loop {
            if let Some(slot) = self.free_slot().await {
                return Ok((slot, reaped));
            }
            let _one = self.reaping.lock().await;
            let given_back = self.starting.given_back();
            if let Some(slot) = self.free_slot().await {
                return Ok((slot, reaped));
            }
            match self.reap_idle().await? {
                Some(id) => reaped.push(id),
                // The starts in progress fill the cap: one may fail, and a
                // session started may be idle by the time it is counted.
                None => given_back.await,
            }
        }
    }

    /// A place under the cap, if there is one now.
    async fn free_slot(&self) -> Option<Slot> {
        // Under the lock that adds sessions: a place given back by a start
        // whose session is counted (which is live) is not counted twice.
        let st = self.state.lock().await;
        let live = st.owned.iter().filter(|o| self.is_live(&o.id)).count();
        self.starting.take(live, self.cap)
    }

    /// Kill the oldest idle session the agent started, to make room under
    /// the cap. Returns the id reaped; `None` when none is idle but starts
    /// in progress hold places; an error when none is idle.
    async fn reap_idle(&self) -> Result<Option<String>, String> {
        let live = self.owned_live().await;
        let mut by_age: Vec<Owned> = {
            let st = self.state.lock().await;
            st.owned
                .iter()
                .filter(|o| live.contains(&o.id))
                .cloned()
                .collect()
        };
        by_age.sort_by_key(|o| o.last_used);
        for o in by_age {
            let Ok(c) = self.client(&o.id).await else {
                continue;
            };
            let idle = c.status().await.is_ok_and(|s| {
                !s.alive
                    || matches!(s.state.name(), "idle" | "waiting")
                    || u64::from(s.idle_ms) >= REAP_IDLE_MS
            });
            if idle {
                self.kill(&o.id, Duration::from_secs(10)).await?;
                return Ok(Some(o.id));
            }
        }
        if self.starting.held() > 0 {
            return Ok(None);
        }
        Err(format!(
            "the agent already runs {} sessions (max_sessions) and none is idle; \
             kill one with session_kill first",
            live.len()
        ))
    }

    async fn start(&self, args: &Value) -> ToolResult {
        let command = str_arg(args, "command")?;
        let argv = argv(command);
        if argv.is_empty() {
            return Err("`command` is empty".into());
        }
        // Plain commands print no colours for the model to wade through;
        // interactive programs (TUIs) keep their terminal as it is.
        let interactive = opt_bool_arg(args, "interactive")? == Some(true);
        let env = if interactive {
            Vec::new()
        } else {
            vec![("NO_COLOR".to_string(), "1".to_string())]
        };
        let id = opt_str_arg(args, "id")?.map(str::to_string);
        if let Some(id) = &id {
            validate_id(id).map_err(|e| e.to_string())?;
        }
        let cwd = match opt_str_arg(args, "cwd")? {
            Some(d) => self.work_dir.join(d),
            None => self.work_dir.clone(),
        };
        // A place under the cap, held until the new session is counted (the
        // tool calls of a turn run concurrently).
        let (slot, reaped) = self.take_slot().await?;
        // A task of its own: a call cancelled while `hm start` runs (Ctrl-C,
        // SIGTERM) still counts the session it starts among the agent's,
        // and [`SessionTools::cleanup`] waits for it.
        let launch = tokio::spawn({
            let (launcher, state) = (self.launcher.clone(), self.state.clone());
            let opts = StartOptions {
                id,
                command: argv.into_iter().map(Into::into).collect(),
                cwd: Some(cwd),
                env,
                ..StartOptions::default()
            };
            async move {
                let started = launcher.start(&opts).await.map_err(|e| e.to_string())?;
                let mut st = state.lock().await;
                // An id of a session that ended may be given again: this
                // one is new (owned once, read from its first byte).
                st.owned.retain(|o| o.id != started.id);
                st.reads.remove(&started.id);
                st.owned.push(Owned {
                    id: started.id.clone(),
                    last_used: Instant::now(),
                });
                drop(slot);
                Ok::<_, String>(started)
            }
        });
        let started = launch
            .await
            .map_err(|e| format!("the start failed: {e}"))??;
        let pid = started
            .pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        let reaped = match reaped.as_slice() {
            [] => String::new(),
            [r] => format!("\n(session {r} was idle and was killed to stay within max_sessions)"),
            rs => format!(
                "\n(sessions {} were idle and were killed to stay within max_sessions)",
                rs.join(", ")
            ),
        };
        // Connect now, so its events (what it waits for) are followed from
        // the start. A quick command may have run to its end already.
        match self.connect(&started.id).await {
            Ok(_) => Ok(ToolOutput::ok(format!(
                "started session {id} running `{command}`{pid}; a human can watch it with \
                 `hm attach {id}`{reaped}",
                id = started.id
            ))),
            Err(DiscoveryError::Exited(rec)) => {
                let exited = format!(
                    "started session {} running `{command}`{pid}; the program already exited \
                     with {}",
                    started.id,
                    ended_session::exit_phrase(&rec),
                );
                let screen = ended_session::final_screen_text(&rec, usize::MAX);
                Ok(if screen.is_empty() {
                    ToolOutput::ok(format!("{exited}; its screen was empty{reaped}"))
                } else {
                    ToolOutput::untrusted(format!("{exited}; its final screen{reaped}"), screen)
                })
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn list(&self) -> ToolResult {
        let owned = self.owned().await;
        let mut lines = Vec::new();
        for e in self.dir.list().map_err(|e| e.to_string())? {
            let how = match &e.liveness {
                Liveness::Live(_) => match self.exit_while_held(&e.files.id).await {
                    Some(how) => format!("exited ({how})"),
                    None => "running".to_string(),
                },
                Liveness::Exited(rec) => format!("exited ({})", ended_session::exit_phrase(rec)),
                Liveness::Stale => "stale".to_string(),
            };
            let mine = if owned.contains(&e.files.id) {
                ", started by you"
            } else {
                ""
            };
            lines.push(format!("{}: {how}{mine}", e.files.id));
        }
        if lines.is_empty() {
            return Ok(ToolOutput::ok("no sessions"));
        }
        Ok(ToolOutput::ok(lines.join("\n")))
    }

    /// How the program of session `id`, which a supervisor holds, ended
    /// (its supervisor finishing): from its exit record once written, else
    /// as the supervisor tells (a WAIT for the exit answers at once);
    /// `None` while it runs, or when that cannot be learnt (a stopped
    /// supervisor is not asked: it would answer nothing).
    async fn exit_while_held(&self, id: &str) -> Option<String> {
        let files = self.dir.files(id).ok()?;
        if let Ok(rec) = files.exit_record() {
            return Some(ended_session::exit_phrase(&rec));
        }
        if files.stopped_supervisor().is_some() {
            return None;
        }
        let c = match self.connect(id).await {
            Ok(c) => c,
            Err(DiscoveryError::Exited(rec)) => return Some(ended_session::exit_phrase(&rec)),
            Err(_) => return None,
        };
        if c.status().await.ok()?.alive {
            return None;
        }
        Some(match c.wait(WaitCondition::Exit, Some(10_000)).await {
            Ok(WaitResult::Exited { code, signal }) => ended_session::code_phrase(code, signal),
            _ => "exit code not known".to_string(),
        })
    }

    /// A session's status; after its end, from its exit record.
    async fn status(&self, id: &str) -> ToolResult {
        match self.live_status(id).await {
            Err(why) => Ok(ended_session::status(&self.after_end(id, why).await?)),
            ok => ok,
        }
    }

    /// The status of session `id` as it is now: STATUS for the state and a
    /// fresh HELLO for the output offset and the terminal size (the one
    /// cached when the agent connected lags behind).
    async fn live_status(&self, id: &str) -> ToolResult {
        let (st, hello) = self
            .with_client(id, |c| async move {
                if c.is_legacy() {
                    return Ok((c.status().await?, None));
                }
                // Pipelined on the one connection, answered in order.
                let (st, hello) = tokio::try_join!(c.status(), c.refresh())?;
                Ok((st, Some(hello)))
            })
            .await?;
        if !st.alive {
            return self.exited_status(id).await;
        }
        let mut v = json!({
            "id": id,
            "alive": st.alive,
            "state": st.state.name(),
            "state_ms": st.state_ms,
            "idle_ms": st.idle_ms,
            "pid": st.pid,
        });
        // Waiting: its prompt is read off the screen as its `waiting`
        // event came, which this status may have overtaken.
        let prompt = if st.state.name() == "waiting" {
            self.prompt_of_waiting(id).await
        } else {
            self.prompt(id).await
        };
        if let Some(p) = prompt {
            let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
            v["waiting_for"] = json!({"prompt": p.prompt, "options": labels});
        }
        if let Some(h) = hello {
            v["command"] = json!(h.session.command);
            v["cwd"] = json!(h.session.cwd);
            v["output_offset"] = json!(h.output_offset);
            v["cols"] = json!(h.session.cols);
            v["rows"] = json!(h.session.rows);
        }
        Ok(ToolOutput::ok(v.to_string()))
    }

    /// The status of session `id`, whose program has exited, its
    /// supervisor finishing: as after the end, from the exit record once it
    /// is written, else from the exit the supervisor gives (a WAIT for it
    /// answers at once).
    async fn exited_status(&self, id: &str) -> ToolResult {
        if let Some(rec) = self.dir.files(id).ok().and_then(|f| f.exit_record().ok()) {
            return Ok(ended_session::status(&rec));
        }
        let (exit, hello) = self
            .with_client(id, |c| async move {
                let exit = c.wait(WaitCondition::Exit, Some(10_000)).await?;
                Ok((exit, c.refresh().await?))
            })
            .await?;
        match exit {
            WaitResult::Exited { code, signal } => {
                Ok(ended_session::status_before_record(&hello, code, signal))
            }
            other => Err(format!(
                "session {id} answered {other:?} to a wait for its exit"
            )),
        }
    }

    /// A session's screen; after its end, its final screen from its exit
    /// record.
    async fn screen(&self, id: &str, args: &Value) -> ToolResult {
        let asked = opt_u64_arg(args, "scrollback_lines")?.unwrap_or(0);
        // Refused rather than cut: the model would take the lines it got
        // for all it asked for.
        let scrollback = usize::try_from(asked)
            .ok()
            .filter(|&n| n <= MAX_SCROLLBACK)
            .ok_or_else(|| {
                format!(
                    "`scrollback_lines` is at most {MAX_SCROLLBACK}, not {asked}: read older \
                     output with session_read (`offset` 0 reads from the oldest output kept, \
                     `max_bytes` bounds each piece)"
                )
            })?;
        match self.live_screen(id, scrollback).await {
            Err(why) => Ok(ended_session::screen(
                &self.after_end(id, why).await?,
                scrollback,
            )),
            ok => ok,
        }
    }

    /// Session `id`'s screen and its text with up to `scrollback` lines
    /// above it, scrubbed (the rows above those shown are read to scrub the
    /// top lines whole).
    async fn scrubbed_screen(
        &self,
        id: &str,
        scrollback: usize,
    ) -> Result<(ScreenResp, String), String> {
        let req = ScreenRequest {
            scrollback_lines: scrollback + CONTEXT_ROWS,
            ..ScreenRequest::default()
        };
        let s = self
            .with_client(id, |c| async move { c.screen(req).await })
            .await?;
        let above = s.scrollback.as_deref().unwrap_or_default();
        let rows: Vec<&String> = above.iter().chain(&s.lines).collect();
        let cursor = Cursor {
            row: above.len() + usize::from(s.cursor.row),
            col: s.cursor.col.into(),
        };
        let shown = above.len().saturating_sub(scrollback);
        let body = screen_text(&rows, shown, s.cols, Some(cursor));
        Ok((s, body))
    }

    /// Row `row` (0 = top) of session `id`'s screen as it is now, scrubbed;
    /// `None` when the screen cannot be read or the row no longer holds
    /// (the first line of) `matched`.
    async fn row_now(&self, id: &str, row: u64, matched: &str) -> Option<String> {
        let (_, body) = self.scrubbed_screen(id, 0).await.ok()?;
        let line = body.lines().nth(usize::try_from(row).ok()?)?;
        line.contains(matched.lines().next().unwrap_or_default())
            .then(|| line.to_string())
    }

    async fn live_screen(&self, id: &str, scrollback: usize) -> ToolResult {
        let (s, body) = self.scrubbed_screen(id, scrollback).await?;
        Ok(ToolOutput::untrusted(
            format!(
                "screen of session {id}, {}x{}, cursor at row {} col {}{}",
                s.cols,
                s.rows,
                s.cursor.row,
                s.cursor.col,
                if s.title.is_empty() {
                    String::new()
                } else {
                    format!(", title {:?}", s.title)
                }
            ),
            body,
        ))
    }

    async fn send(&self, id: &str, args: &Value) -> ToolResult {
        let mut bytes = opt_str_arg(args, "text")?.unwrap_or("").as_bytes().to_vec();
        let keys = opt_str_list_arg(args, "keys")?.unwrap_or_default();
        if !keys.is_empty() {
            let c = self.client(id).await?;
            let app_cursor = c
                .screen(ScreenRequest::default())
                .await
                .map(|s| s.application_cursor)
                .unwrap_or(false);
            // A mistyped key name is an error for the model, not text typed.
            bytes.extend(
                heimdall_protocol::keys::keys_to_bytes(&keys, app_cursor)
                    .map_err(|e| e.to_string())?,
            );
        }
        if bytes.is_empty() {
            return Err("give `text` and/or `keys`".into());
        }
        let n = bytes.len();
        self.with_client(id, |c| async move {
            c.type_steps([bytes], Duration::ZERO).await
        })
        .await?;
        Ok(ToolOutput::ok(format!("sent {n} bytes to session {id}")))
    }

    async fn submit(&self, id: &str, args: &Value, limit: Duration) -> ToolResult {
        let text = str_arg(args, "text")?.to_string();
        let asked = Duration::from_millis(opt_u64_arg(args, "timeout_ms")?.unwrap_or(SUBMIT_MS));
        let (timeout, cut) = within_limit(asked, limit);
        let ms = Some(timeout.as_millis() as u64);
        let (r, full_screen) = self
            .with_client(id, |c| async move {
                let r = c.submit(&text, ms).await?;
                // A full-screen program, as editors are (a shell's paste
                // is a line typed).
                let full_screen = r.bracketed_paste
                    && !r.exited
                    && c.screen(ScreenRequest::default())
                        .await
                        .is_ok_and(|s| s.alternate_screen);
                Ok((r, full_screen))
            })
            .await?;
        // An editor takes a paste as text to insert, even in its command
        // mode: the model must know, or it pastes commands of several lines.
        let paste = if full_screen {
            "\n(the text went in as one bracketed paste, as this full-screen program asked for text of \
             several lines: an editor such as vim inserts a paste as text, even in its command mode; \
             submit an editor's commands, like `:wq`, one line at a time: a single line is typed)"
        } else {
            ""
        };
        let said = if r.exited {
            format!(
                "typed the line into session {id}, and then its program exited (whether it read \
                 the line first cannot be known): session_status tells how it ended"
            )
        } else if r.accepted {
            format!("submitted to session {id}; the program reacted")
        } else if !r.read {
            format!(
                "typed the line into session {id}, but its program has not read it yet \
                 (busy, or not reading input); it stays typed and is read when the program \
                 next reads: do not send it again"
            )
        } else {
            format!(
                "typed the line into session {id}, but the program showed no reaction yet; \
                 look at its screen before sending it again"
            )
        };
        // The reaction came in time when there was one.
        let cut = if r.accepted || r.exited { "" } else { &cut };
        Ok(ToolOutput::ok(format!("{said}{cut}{paste}")))
    }

    async fn wait(&self, id: &str, args: &Value, limit: Duration) -> ToolResult {
        let until = choice_arg(args, "until", &UNTIL)?;
        // An argument of another kind of wait says the model meant that
        // wait: running the one named would answer another question. One
        // that says nothing (empty, or that wait's default, as models that
        // fill in every field send) is let pass.
        let misplaced: Vec<String> = ONE_WAIT_ARGS
            .iter()
            .filter(|(arg, wait)| {
                *wait != until && given(args, arg).is_some_and(|v| says_something(arg, v))
            })
            .map(|(arg, wait)| format!("`{arg}` is for until {wait:?}"))
            .collect();
        if !misplaced.is_empty() {
            return Err(format!(
                "{}, not for a wait until {until:?}: refused rather than ignored, as the call \
                 may mean another wait than the one it names; drop {} or change `until`",
                misplaced.join(", "),
                if misplaced.len() == 1 { "it" } else { "them" }
            ));
        }
        let condition = match until {
            "idle" => WaitCondition::Idle {
                idle_ms: opt_u64_arg(args, "idle_ms")?.unwrap_or(IDLE_MS),
            },
            "regex" => WaitCondition::Regex {
                pattern: str_arg(args, "pattern")?.to_string(),
                source: match opt_choice_arg(args, "source", &SOURCES)? {
                    Some("output") => RegexSource::Output,
                    _ => RegexSource::Screen,
                },
            },
            "state" => {
                let name = str_arg(args, "state")?;
                WaitCondition::State {
                    state: name.parse::<State>().map_err(|_| {
                        format!(
                            "`state` must be one of {}, not {name:?}",
                            state_names().join(", ")
                        )
                    })?,
                }
            }
            // "exit", the one value of UNTIL left.
            _ => WaitCondition::Exit,
        };
        let asked = Duration::from_secs(opt_u64_arg(args, "timeout_secs")?.unwrap_or(30));
        let (timeout, cut) = within_limit(asked, limit);
        let ms = timeout.as_millis() as u64;
        let asked_for = condition.clone();
        let asked = self
            .with_client(id, |c| async move {
                match c.wait(asked_for, Some(ms)).await {
                    // Ended before or while asked: its exit record says how.
                    Err(ClientError::SessionEnded { .. } | ClientError::ConnectionClosed) => {
                        Ok(None)
                    }
                    r => r.map(Some),
                }
            })
            .await;
        let r = match asked {
            Ok(Some(r)) => r,
            Ok(None) => {
                self.forget(id).await;
                let why = format!(
                    "lost the connection to session {id} before it answered (its supervisor \
                     went away?)"
                );
                self.ended(id, &condition, why).await?
            }
            // No supervisor to ask any more (gone before the connect), or
            // one that is letting go of a session that has ended.
            Err(e) if self.has_ended(id) => self.ended(id, &condition, e).await?,
            Err(e) => return Err(e),
        };
        let text = match r {
            WaitResult::Idle { idle_ms, state } => {
                format!("session {id} is idle ({idle_ms} ms without output, state {state})")
            }
            WaitResult::State { state } => format!("session {id} is now {state}"),
            WaitResult::Regex {
                matched,
                line: Some(row),
                ..
            } => {
                // The row shows what matched: the output waited for, or
                // the command line that asked for it.
                let said = format!(
                    "matched {matched:?} on screen row {row} of session {id} (rows count from 0 \
                     at the top)"
                );
                return Ok(match self.row_now(id, row, &matched).await {
                    Some(text) => ToolOutput::untrusted(
                        format!("{said}; the row as the screen shows it now"),
                        text,
                    ),
                    None => ToolOutput::ok(said),
                });
            }
            WaitResult::Regex { matched, .. } => format!("matched {matched:?}"),
            WaitResult::Exited { code, .. } => format!("session {id} exited with code {code}"),
            WaitResult::TimedOut => format!(
                "not yet: the condition did not hold within {} s; the session is still running{cut}{}",
                timeout.as_secs(),
                match condition {
                    WaitCondition::Regex { source: RegexSource::Screen, .. } => SCREEN_LINES,
                    WaitCondition::Regex { source: RegexSource::Output, .. } => NEW_OUTPUT,
                    _ => "",
                }
            ),
            WaitResult::EndedFirst { code, .. } => {
                format!("session {id} exited (code {code}) before the condition held")
            }
            WaitResult::Unknown(v) => format!("the session answered {v}"),
        };
        Ok(ToolOutput::ok(text))
    }

    async fn signal(&self, id: &str, args: &Value) -> ToolResult {
        let name = str_arg(args, "signal")?;
        let spec = name
            .parse::<i32>()
            .map(SignalSpec::Number)
            .unwrap_or_else(|_| SignalSpec::Name(name.to_string()));
        let r = self
            .with_client(id, |c| async move {
                c.signal(spec, SignalTarget::Foreground).await
            })
            .await?;
        Ok(ToolOutput::ok(format!("sent {} to session {id}", r.signal)))
    }

    async fn answer(&self, id: &str, args: &Value) -> ToolResult {
        let wanted = str_arg(args, "option")?;
        let c = self.client(id).await?;
        let mut known = self.prompt(id).await;
        let mut state = String::new();
        if known.is_none() {
            state = c
                .status()
                .await
                .map(|s| s.state.name().to_string())
                .unwrap_or_default();
            if state == "waiting" {
                known = self.prompt_of_waiting(id).await;
            }
        }
        let Some(p) = known else {
            return Err(if state == "waiting" {
                format!(
                    "session {id} waits for input, but its choices are not known (it began \
                     waiting before hm-agent connected); read its screen and use session_send"
                )
            } else {
                format!("session {id} is not waiting for a choice (state {state})")
            });
        };
        // A prompt without options (a password, a name) takes a line.
        if p.options.is_empty() {
            return Err(format!(
                "session {id} waits for text to be typed at {:?}, not for a choice: type it \
                 with session_submit",
                p.prompt
            ));
        }
        let labels: Vec<&str> = p.options.iter().map(|o| o.label.as_str()).collect();
        let lower = wanted.to_lowercase();
        let exact = p.options.iter().find(|o| o.label.to_lowercase() == lower);
        let partial: Vec<&WaitingOption> = p
            .options
            .iter()
            .filter(|o| o.label.to_lowercase().contains(&lower))
            .collect();
        let option = match (exact, partial.as_slice()) {
            (Some(o), _) => o,
            (None, [o]) => *o,
            _ => {
                return Err(format!(
                    "{wanted:?} is not one of the choices of {:?}: {labels:?}",
                    p.prompt
                ))
            }
        };
        let steps: Vec<Vec<u8>> = option.keys.iter().map(|k| k.clone().into_bytes()).collect();
        let total = steps.len();
        let typed = self
            .with_client(id, |c| async move { c.type_steps(steps, STEP_GAP).await })
            .await?;
        let mut text = format!(
            "answered {:?} to {:?} in session {id}",
            option.label, p.prompt
        );
        if typed < total {
            text.push_str(&format!(
                "; the session ended after {typed} of its {total} key steps (the rest were not typed)"
            ));
        }
        Ok(ToolOutput::ok(text))
    }

    async fn dispatch(&self, name: &str, args: &Value, limit: Duration) -> ToolResult {
        if name == "session_start" {
            return self.start(args).await;
        }
        if name == "session_list" {
            return self.list().await;
        }
        let id = str_arg(args, "id")?;
        match name {
            "session_status" => self.status(id).await,
            "session_screen" => self.screen(id, args).await,
            "session_read" => self.read(id, args).await,
            "session_send" => self.send(id, args).await,
            "session_submit" => self.submit(id, args, limit).await,
            "session_wait" => self.wait(id, args, limit).await,
            "session_signal" => self.signal(id, args).await,
            "session_answer" => self.answer(id, args).await,
            "session_kill" => {
                let code = self.kill(id, Duration::from_secs(10)).await?;
                Ok(ToolOutput::ok(format!(
                    "session {id} ended{}",
                    code.map(|c| format!(" with code {c}")).unwrap_or_default()
                )))
            }
            _ => Err(format!("there is no tool named {name:?}")),
        }
    }
}

/// What a call to session tool `name` that did not finish (cancelled, or
/// cut short when the agent stopped) may have done all the same, for the
/// model to hear before it makes the call again: appended to the result
/// that says it did not finish.
pub fn unfinished_note(name: &str) -> &'static str {
    match name {
        "session_send" | "session_submit" | "session_answer" => {
            "; its input may have been typed already (all or part of it): look at the session's \
             screen before typing it again"
        }
        "session_start" => "; the session may have started: session_list shows those you started",
        _ => "",
    }
}

/// A wait of `asked` within a call's time `limit`: cut to the limit less
/// [`WAIT_MARGIN`] (at least 1 s), with the words that say so when it was.
fn within_limit(asked: Duration, limit: Duration) -> (Duration, String) {
    let most = limit
        .saturating_sub(WAIT_MARGIN)
        .max(Duration::from_secs(1));
    if asked <= most {
        return (asked, String::new());
    }
    let cut = format!(
        " (the wait was cut to {} s, the tool time limit)",
        most.as_secs()
    );
    (most, cut)
}

/// The most lines above the screen session_screen gives.
const MAX_SCROLLBACK: usize = 1000;

/// session_submit's default `timeout_ms`.
const SUBMIT_MS: u64 = 5000;

/// The values of session_wait's `until`.
const UNTIL: [&str; 4] = ["idle", "regex", "state", "exit"];

/// The arguments of session_wait that one kind of wait uses, with it.
const ONE_WAIT_ARGS: [(&str, &str); 4] = [
    ("idle_ms", "idle"),
    ("pattern", "regex"),
    ("source", "regex"),
    ("state", "state"),
];

/// Whether `value`, given for session_wait's argument `arg` of another
/// kind of wait, asks for something: not empty, not that argument's default.
fn says_something(arg: &str, value: &Value) -> bool {
    match (arg, value) {
        (_, Value::String(s)) if s.trim().is_empty() => false,
        ("source", Value::String(s)) => s != SOURCES[0],
        ("idle_ms", v) => {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                != Some(IDLE_MS)
        }
        _ => true,
    }
}

/// What a screen regex that timed out is told: a pattern that ends in a
/// blank (a prompt's) never matches the screen's text.
const SCREEN_LINES: &str = " (the screen is matched as text whose lines have no trailing blanks: \
     a prompt such as Python's `>>> ` reads `>>>`, so a pattern ending in a blank never matches it)";

/// What an output regex that timed out is told: output written before the
/// wait began (after a submit in the same turn) is not matched.
const NEW_OUTPUT: &str = " (only output written after the wait began is matched: what the \
     program wrote before it is on its screen and in session_read, or wait on the screen)";

/// session_wait's default `idle_ms`.
const IDLE_MS: u64 = 500;

/// The values of session_wait's `source` (the first is the default).
const SOURCES: [&str; 2] = ["screen", "output"];

/// The names of the states session_wait's `state` may name.
fn state_names() -> Vec<&'static str> {
    State::ALL.into_iter().map(State::name).collect()
}

const NAMES: [&str; 11] = [
    "session_start",
    "session_list",
    "session_status",
    "session_screen",
    "session_read",
    "session_send",
    "session_submit",
    "session_wait",
    "session_signal",
    "session_answer",
    "session_kill",
];

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters: json!({"type": "object", "properties": properties, "required": required}),
    }
}

fn id_param() -> Value {
    json!({"type": "string", "description": "The session id"})
}

impl ToolSet for SessionTools {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![
            spec(
                "session_start",
                "Start a command in a new supervised terminal session (a human can attach to it). \
                 Returns the session id. Non-interactive commands get NO_COLOR=1. The calls of one \
                 turn run concurrently, but those naming one session id (its start included) run \
                 one after another, in the order given: start, type, wait and read in one turn.",
                json!({
                    "command": {"type": "string", "description": "The command line, e.g. `bash` or `cargo test`"},
                    "id": {"type": "string", "description": "A session id (letters, digits, . _ -); generated when omitted"},
                    "cwd": {"type": "string", "description": "Working directory, relative to the work directory"},
                    "interactive": {"type": "boolean", "description": "true for full-screen programs (editors, TUIs): keeps colours"},
                }),
                &["command"],
            ),
            spec("session_list", "List sessions: running, exited, and which you started.", json!({}), &[]),
            spec(
                "session_status",
                "A session's state (idle, active, thinking, streaming, tool_use, waiting, dead), idle time, pid, command, cwd, \
                 output_offset (bytes written so far) and terminal size (cols, rows), all as of the call; \
                 once it has ended: exited, with its exit code, signal and when.",
                json!({"id": id_param()}),
                &["id"],
            ),
            spec(
                "session_screen",
                "The session's current screen as text; once it has ended, its final screen. Secrets are redacted; [REDACTED:unfinished] hides a word at the cursor that looks like the start of one until the program has finished writing it.",
                json!({"id": id_param(), "scrollback_lines": {"type": "integer", "maximum": MAX_SCROLLBACK, "description": format!("Lines above the screen to include (default 0, at most {MAX_SCROLLBACK}; older output: session_read)")}}),
                &["id"],
            ),
            spec(
                "session_read",
                "New output since an offset (default: since your last read), as the terminal shows it at the session's size: lines redrawn with carriage returns or cursor moves once, in their last state; lines that scrolled off kept; wrapped lines whole; colours dropped; a word not yet finished at the end comes with the next read. Returns the next offset. Once the session has ended: what its exit record keeps (the last 4 KiB of output).",
                json!({
                    "id": id_param(),
                    "offset": {"type": "integer", "description": "Output offset to read from"},
                    "max_bytes": {"type": "integer", "description": "Read at most this many bytes from the offset (its first ones), to read long output in pieces: a long result is cut to its head and tail"},
                }),
                &["id"],
            ),
            spec(
                "session_send",
                "Type text and/or named keys (Enter, Tab, Esc, Up, C-c, F5, ...) into the session, without waiting.",
                json!({
                    "id": id_param(),
                    "text": {"type": "string", "description": "Literal text"},
                    "keys": {"type": "array", "items": {"type": "string"}, "description": "Key names or single characters, sent after the text; an unknown name is an error and nothing is sent"},
                }),
                &["id"],
            ),
            spec(
                "session_submit",
                "Type a line and press Enter, and report whether the program reacted. A single line is typed as a person types it (so `:wq` works in vim); text of several lines goes in as one bracketed paste where the program asked for it, which an editor inserts as text.",
                json!({"id": id_param(), "text": {"type": "string", "description": "The line, without newline"}, "timeout_ms": {"type": "integer", "description": "How long to wait for the program to read the line and react, in milliseconds (default 5000; cut to the tool time limit)"}}),
                &["id", "text"],
            ),
            spec(
                "session_wait",
                "Wait until the session is idle, shows a regex, reaches a state, or exits. \
                 An argument for another kind of wait than `until` names is refused \
                 (unless null, empty or its default). The calls naming one session in one turn \
                 run one after another, in the order given: a wait listed before the call that \
                 types what it waits for waits out its whole timeout before that call runs.",
                json!({
                    "id": id_param(),
                    "until": {"type": "string", "enum": UNTIL},
                    "idle_ms": {"type": "integer", "description": "For idle: the silence required (default 500)"},
                    "pattern": {"type": "string", "description": "For regex: the pattern (Rust regex; the screen's lines have no trailing blanks: Python's prompt `>>> ` reads `>>>`)"},
                    "source": {"type": "string", "enum": SOURCES, "description": "For regex: match the screen (default) or the output written after the wait begins"},
                    "state": {"type": "string", "enum": state_names(), "description": "For state: the state to reach"},
                    "timeout_secs": {"type": "integer", "description": "Give up after this long in seconds (default 30)"},
                }),
                &["id", "until"],
            ),
            spec(
                "session_signal",
                "Send a signal (INT, TERM, HUP, ...) to the session's foreground job.",
                json!({"id": id_param(), "signal": {"type": "string", "description": "A signal name (INT, TERM, HUP, ...) or number"}}),
                &["id", "signal"],
            ),
            spec(
                "session_answer",
                "Answer a session that waits for a choice (a yes/no question, a menu) by the \
                 label of the option; session_status shows the prompt and the labels. A prompt \
                 without choices (a password, a name) takes a line: use session_submit.",
                json!({"id": id_param(), "option": {"type": "string", "description": "The option's label, e.g. yes"}}),
                &["id", "option"],
            ),
            spec(
                "session_kill",
                "End a session and its whole process tree.",
                json!({"id": id_param()}),
                &["id"],
            ),
        ]
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>> {
        if !NAMES.contains(&name) {
            return None;
        }
        Some(
            self.dispatch(name, args, limit)
                .map(|r| r.unwrap_or_else(ToolOutput::error))
                .boxed(),
        )
    }

    /// The calls naming one session (its start included) run in order.
    fn lane(&self, _name: &str, args: &Value) -> Option<String> {
        args.get("id")
            .and_then(Value::as_str)
            .map(|id| format!("session {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::argv;

    #[test]
    fn plain_commands_are_split_and_shell_lines_go_to_sh() {
        assert_eq!(argv("bash"), ["bash"]);
        assert_eq!(argv("cargo  test -p x"), ["cargo", "test", "-p", "x"]);
        assert_eq!(argv("make && ls"), ["sh", "-c", "make && ls"]);
        assert_eq!(argv("echo $HOME"), ["sh", "-c", "echo $HOME"]);
    }
}
