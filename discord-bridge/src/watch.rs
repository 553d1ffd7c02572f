//! Watching a session: a thread per session with one live screen message,
//! edited when the screen changes, no faster than Discord allows.
//!
//! - Changes are coalesced: output only marks the screen dirty; the screen
//!   is read and the message edited at most once per [`MIN_EDIT_INTERVAL`],
//!   so the edit that goes out always shows the latest screen.
//! - On a 429 the watcher backs off: serenity with its own rate limiter
//!   off (as with `rest_proxy`) returns a bare 429 whose `Retry-After` it
//!   does not pass on, so the wait starts at 1 s and doubles on repeats up
//!   to 60 s (with the rate limiter on, serenity itself waits the
//!   `Retry-After` and re-sends). The same message is edited once the wait
//!   is over.
//! - A fresh live message is posted with a nonce (`enforce_nonce`) that its
//!   tries share: when Discord stored it but the answer was lost (a 504, a
//!   cut connection), the next try gets it back instead of a second one,
//!   and it is edited to the latest screen.
//! - Discord refuses edits to messages older than an hour past a limit
//!   (30046): the watcher posts a fresh live message before that
//!   ([`FRESH_AFTER`]), or at once if the error comes anyway.
//! - Discord archives a thread inactive for its auto-archive time (a day)
//!   and then refuses edits in it (50083). A fresh live message every
//!   [`FRESH_AFTER`] of output keeps the thread active, and one that comes
//!   after a quiet time is a fresh message anyway; a thread archived all
//!   the same (a moderator, a suspended machine whose clock did not count
//!   the night) gets a fresh live message at once: sending one unarchives
//!   it, unless a moderator locked the thread, which refuses that message
//!   too; it is then tried again less and less often (up to a minute
//!   apart), as after any failure.
//! - When the session waits for input (or already waits when the watch
//!   starts), a notification mentions whoever started it, with buttons built
//!   from the prompt's options; on exit, the final screen and "exit code N".

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use heimdall_agent::tools::waiting_prompt::shown_prompt;
use heimdall_client::{Client, Event, EventItem, State};
use heimdall_protocol::WaitingOption;
use serenity::all::{
    ButtonStyle, ChannelId, CreateActionRow, CreateAllowedMentions, CreateButton, CreateMessage,
    EditMessage, Http, MessageId, Nonce, UserId,
};
use tokio::sync::watch as signal;
use tokio::time::Instant;

use crate::kept::{Kept, KeptWatches};
use crate::sessions::{screen_of, Screen, Sessions};
use crate::text::{clean, code_block, screen_message, MESSAGE_LIMIT};
use crate::{deliver, lock};

/// The shortest time between two edits of the live message.
pub const MIN_EDIT_INTERVAL: Duration = Duration::from_millis(1200);

/// The first wait after a 429 whose `Retry-After` cannot be read.
pub const BACKOFF_START: Duration = Duration::from_secs(1);

/// The longest wait after repeated 429s.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Age at which the live message is replaced by a fresh one.
pub const FRESH_AFTER: Duration = Duration::from_secs(50 * 60);

/// How long a watch whose supervisor died waits for the exit record its
/// guardian writes (after the program's tree has ended, SIGKILL after the
/// 5 s grace at most).
pub(crate) const RECORD_WAIT: Duration = Duration::from_secs(10);

/// Discord's error code for too many edits of an old message.
const TOO_MANY_EDITS: isize = 30046;

/// Discord's error code for an edit in an archived thread.
const ARCHIVED_THREAD: isize = 50083;

/// Discord's error code for a channel (a thread) that does not exist.
pub(crate) const UNKNOWN_CHANNEL: isize = 10003;

/// The prefix of answer buttons' custom ids: `hma:<generation>:<index>:<session>`.
pub const ANSWER_PREFIX: &str = "hma:";

/// Waiting rules that recognise a program at its command prompt (a shell,
/// a REPL): that is the program's ordinary rest, not a question, so no
/// notification is posted (the live screen shows it).
const QUIET_RULES: [&str; 3] = ["shell_prompt", "python_repl", "python_continuation"];

/// A waiting prompt and its choices, as the watch last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Unique to the prompt, also across watches of the session and runs of
    /// the bridge, so a button of any other prompt is refused.
    pub generation: u64,
    /// The prompt text.
    pub text: String,
    /// The choices.
    pub options: Vec<WaitingOption>,
}

/// A running watch.
#[derive(Debug)]
struct Entry {
    thread: ChannelId,
    stop: signal::Sender<bool>,
}

/// The running watches of the bridge: session → thread, thread → session,
/// and the current prompt of each watched session.
#[derive(Debug, Default)]
pub struct Watches {
    by_session: Mutex<HashMap<String, Entry>>,
    /// Sessions whose watch is being set up (its thread not made yet).
    opening: Mutex<HashSet<String>>,
    threads: Mutex<HashMap<u64, (String, u64)>>,
    prompts: Mutex<HashMap<String, Prompt>>,
    /// The running watches as kept for a restart.
    kept: KeptWatches,
    /// The generation of the last prompt.
    last_generation: AtomicU64,
    /// The messages seen in each running watch's thread.
    lines: Mutex<HashMap<u64, Lines>>,
}

/// The messages seen in a watch thread: the newest, and those handled
/// lately (a line read back after a gateway session was lost may also
/// have come as an event).
#[derive(Debug)]
struct Lines {
    newest: u64,
    handled: VecDeque<u64>,
}

/// How many handled messages a watch thread remembers.
const HANDLED: usize = 256;

/// A Discord id (snowflake) of the present moment.
fn snowflake_now() -> u64 {
    const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    ms.saturating_sub(DISCORD_EPOCH_MS) << 22
}

/// A session claimed for a new watch ([`Watches::claim`]); let go when
/// dropped, once the watch has started (or could not).
#[derive(Debug)]
pub struct Claim {
    watches: Arc<Watches>,
    session: String,
}

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.watches.opening).remove(&self.session);
    }
}

impl Watches {
    /// The watches kept for a restart.
    pub fn kept(&self) -> &KeptWatches {
        &self.kept
    }

    /// Claim `session` for a new watch, so that two /watch at once open
    /// one thread: `Err` with the thread that watches it, or `Err(None)`
    /// while another watch of it is being set up.
    pub fn claim(self: &Arc<Self>, session: &str) -> Result<Claim, Option<ChannelId>> {
        let by = lock(&self.by_session);
        if let Some(e) = by.get(session) {
            return Err(Some(e.thread));
        }
        if !lock(&self.opening).insert(session.to_string()) {
            return Err(None);
        }
        Ok(Claim {
            watches: self.clone(),
            session: session.to_string(),
        })
    }

    /// The thread watching `session`, if any.
    pub fn thread_of(&self, session: &str) -> Option<ChannelId> {
        lock(&self.by_session).get(session).map(|e| e.thread)
    }

    /// The session a thread watches and the thread's parent channel.
    pub fn session_of(&self, thread: u64) -> Option<(String, u64)> {
        lock(&self.threads).get(&thread).cloned()
    }

    /// Whether message `id` of `channel` is to be handled: false when it
    /// was handled already (a line of a watch thread read back after a
    /// lost gateway session, and also delivered); it counts as handled now.
    pub fn first_sight(&self, channel: u64, id: u64) -> bool {
        let mut lines = lock(&self.lines);
        let Some(l) = lines.get_mut(&channel) else {
            return true;
        };
        if l.handled.contains(&id) {
            return false;
        }
        l.handled.push_back(id);
        if l.handled.len() > HANDLED {
            l.handled.pop_front();
        }
        l.newest = l.newest.max(id);
        true
    }

    /// The running watches' threads, each with the newest message seen
    /// there (or the watch's start).
    pub fn newest_lines(&self) -> Vec<(u64, u64)> {
        lock(&self.lines)
            .iter()
            .map(|(thread, l)| (*thread, l.newest))
            .collect()
    }

    /// The thread of the watch of `session` is gone (deleted): the watch
    /// ends now, so that a new one of the session may start at once.
    pub fn thread_gone(&self, session: &str, thread: ChannelId) {
        let mut by = lock(&self.by_session);
        if by.get(session).is_some_and(|e| e.thread == thread) {
            if let Some(e) = by.remove(session) {
                let _ = e.stop.send(true);
            }
        }
        lock(&self.threads).remove(&thread.get());
        lock(&self.lines).remove(&thread.get());
        self.kept.end(session, thread.get());
    }

    /// Stop watching; false if it was not watched.
    pub fn stop(&self, session: &str) -> bool {
        match lock(&self.by_session).remove(session) {
            Some(e) => {
                let _ = e.stop.send(true);
                true
            }
            None => false,
        }
    }

    /// A prompt generation never given before, also by an earlier watch
    /// or an earlier run of the bridge: the microseconds since the epoch,
    /// or one more than the last one given.
    fn next_generation(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2));
        let next = |last: u64| now.max(last.saturating_add(1));
        let last = self
            .last_generation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(next(last)))
            .unwrap_or_else(|last| last);
        next(last)
    }

    fn set_prompt(&self, session: &str, text: String, options: Vec<WaitingOption>) -> Prompt {
        let mut prompts = lock(&self.prompts);
        let generation = self.next_generation();
        let p = Prompt {
            generation,
            text,
            options,
        };
        prompts.insert(session.to_string(), p.clone());
        p
    }

    /// Take option `index` of the prompt `generation` of `session` to
    /// answer it: the prompt is answered then, so a second press (a double
    /// click) gets nothing and types nothing into what comes next.
    pub fn take_option(
        &self,
        session: &str,
        generation: u64,
        index: usize,
    ) -> Option<WaitingOption> {
        let mut prompts = lock(&self.prompts);
        let p = prompts
            .get_mut(session)
            .filter(|p| p.generation == generation)?;
        let option = p.options.get(index).cloned()?;
        p.options.clear();
        p.text.clear();
        Some(option)
    }

    fn clear_prompt(&self, session: &str) {
        if let Some(p) = lock(&self.prompts).get_mut(session) {
            p.options.clear();
            p.text.clear();
        }
    }

    /// A watch has ended: its thread is no longer one of the running
    /// watches' (a line typed there later is told so through
    /// [`crate::places`]); its session's prompt is dropped unless a newer
    /// watch of it runs.
    fn forget(&self, session: &str, thread: ChannelId) {
        let mut by = lock(&self.by_session);
        if by.get(session).is_some_and(|e| e.thread == thread) {
            by.remove(session);
        }
        lock(&self.threads).remove(&thread.get());
        lock(&self.lines).remove(&thread.get());
        self.kept.end(session, thread.get());
        if !by.contains_key(session) {
            lock(&self.prompts).remove(session);
        }
    }
}

/// Parse an answer button's custom id: (generation, option index, session).
pub fn parse_answer_id(custom_id: &str) -> Option<(u64, usize, &str)> {
    let rest = custom_id.strip_prefix(ANSWER_PREFIX)?;
    let mut parts = rest.splitn(3, ':');
    let generation = parts.next()?.parse().ok()?;
    let index = parts.next()?.parse().ok()?;
    let session = parts.next().filter(|s| !s.is_empty())?;
    Some((generation, index, session))
}

/// Buttons for a prompt's options (at most 25: 5 rows of 5).
pub fn answer_buttons(session: &str, prompt: &Prompt) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = prompt
        .options
        .iter()
        .take(25)
        .enumerate()
        .map(|(i, o)| {
            let mut label: String = clean(&o.label).chars().take(80).collect();
            if label.trim().is_empty() {
                label = format!("option {}", i + 1);
            }
            CreateButton::new(format!(
                "{ANSWER_PREFIX}{}:{i}:{session}",
                prompt.generation
            ))
            .label(label)
            .style(ButtonStyle::Secondary)
        })
        .collect();
    buttons
        .chunks(5)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

/// The mention of `starter` that starts a notification, and the mentions
/// it allows (none without a starter).
pub(crate) fn mention(starter: Option<UserId>) -> (String, CreateAllowedMentions) {
    match starter {
        Some(u) => (
            format!("<@{u}> "),
            CreateAllowedMentions::new().users(vec![u]),
        ),
        None => (String::new(), CreateAllowedMentions::new()),
    }
}

/// What a watch needs.
pub struct WatchSpec {
    /// The REST client.
    pub http: Arc<Http>,
    /// The sessions.
    pub sessions: Sessions,
    /// The session watched.
    pub session: String,
    /// The thread to post in.
    pub thread: ChannelId,
    /// The channel the thread belongs to.
    pub parent: ChannelId,
    /// Who started the session from Discord, if anyone (mentioned in
    /// notifications).
    pub starter: Option<UserId>,
}

/// Start watching: registers the thread and spawns the watcher task.
pub fn start(watches: &Arc<Watches>, spec: WatchSpec) {
    let (tx, rx) = signal::channel(false);
    lock(&watches.by_session).insert(
        spec.session.clone(),
        Entry {
            thread: spec.thread,
            stop: tx,
        },
    );
    lock(&watches.threads).insert(spec.thread.get(), (spec.session.clone(), spec.parent.get()));
    lock(&watches.lines).insert(
        spec.thread.get(),
        Lines {
            newest: snowflake_now(),
            handled: VecDeque::new(),
        },
    );
    let watches = watches.clone();
    tokio::spawn(async move {
        let session = spec.session.clone();
        let thread = spec.thread;
        Watcher::new(spec, watches.clone()).run(rx).await;
        watches.forget(&session, thread);
    });
}

/// The one live screen message and its pacing.
struct LiveMessage {
    http: Arc<Http>,
    channel: ChannelId,
    message: Option<(MessageId, Instant)>,
    /// The nonce of a fresh message not posted yet: its tries carry the
    /// same, so one whose answer was lost is not posted twice.
    nonce: Option<Nonce>,
    shown: String,
    next_at: Instant,
    backoff: Duration,
    /// The last try was refused for a rate limit (429).
    limited: bool,
}

/// How an edit went.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    /// Posted or edited, or nothing to change.
    Done,
    /// Not shown; try again at `next_at` with the latest screen.
    Later,
    /// The thread is gone (deleted): nothing can be shown there.
    Gone,
}

impl LiveMessage {
    fn new(http: Arc<Http>, channel: ChannelId) -> LiveMessage {
        LiveMessage {
            http,
            channel,
            message: None,
            nonce: None,
            shown: String::new(),
            next_at: Instant::now(),
            backoff: Duration::ZERO,
            limited: false,
        }
    }

    async fn show(&mut self, content: String) -> Shown {
        if content == self.shown {
            return Shown::Done;
        }
        let fresh = self
            .message
            .is_none_or(|(_, posted)| posted.elapsed() >= FRESH_AFTER);
        let result = match self.message {
            Some((id, _)) if !fresh => self
                .channel
                .edit_message(&self.http, id, EditMessage::new().content(&content))
                .await
                .map(|_| None),
            _ => {
                let nonce = self.nonce.get_or_insert_with(deliver::nonce).clone();
                let message = CreateMessage::new()
                    .content(&content)
                    .allowed_mentions(CreateAllowedMentions::new());
                self.channel
                    .send_message(&self.http, deliver::once(message, nonce))
                    .await
                    .map(|m| Some((m.id, m.content)))
            }
        };
        self.limited = result.as_ref().is_err_and(deliver::is_rate_limit);
        if result
            .as_ref()
            .is_err_and(|e| matches!(error_status(e), Some((404, UNKNOWN_CHANNEL))))
        {
            return Shown::Gone;
        }
        match result {
            Ok(posted) => {
                self.backoff = Duration::ZERO;
                self.next_at = Instant::now() + MIN_EDIT_INTERVAL;
                let Some((id, shows)) = posted else {
                    self.shown = content;
                    return Shown::Done;
                };
                self.message = Some((id, Instant::now()));
                self.nonce = None;
                // A try whose answer was lost posted it: Discord gave back
                // that message, with the screen of then.
                let done = shows == content;
                self.shown = shows;
                if done {
                    Shown::Done
                } else {
                    Shown::Later
                }
            }
            Err(e) => {
                match error_status(&e) {
                    Some((429, _)) => {
                        self.backoff = next_backoff(self.backoff);
                        tracing::warn!(
                            "rate limited (429) editing the live screen of thread {}; next try in {:?}",
                            self.channel,
                            self.backoff
                        );
                    }
                    // An edit refused: a fresh message next. (A fresh
                    // one refused, in a thread a moderator locked, is
                    // tried again as any failure is.)
                    Some((_, TOO_MANY_EDITS | ARCHIVED_THREAD)) if !fresh => {
                        self.message = None;
                        self.backoff = MIN_EDIT_INTERVAL;
                    }
                    _ => {
                        tracing::warn!("cannot update the live screen in {}: {e}", self.channel);
                        self.backoff = next_backoff(self.backoff);
                    }
                }
                self.next_at = Instant::now() + self.backoff;
                Shown::Later
            }
        }
    }
}

/// The wait after one more failure: 1 s, doubling, at most 60 s.
pub fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).clamp(BACKOFF_START, BACKOFF_MAX)
}

/// The HTTP status and Discord error code of a failed request.
pub fn error_status(e: &serenity::Error) -> Option<(u16, isize)> {
    match e {
        serenity::Error::Http(serenity::http::HttpError::UnsuccessfulRequest(r)) => {
            Some((r.status_code.as_u16(), r.error.code))
        }
        _ => None,
    }
}

struct Watcher {
    spec: WatchSpec,
    watches: Arc<Watches>,
    live: LiveMessage,
    last: Option<Screen>,
}

impl Watcher {
    fn new(spec: WatchSpec, watches: Arc<Watches>) -> Watcher {
        let live = LiveMessage::new(spec.http.clone(), spec.thread);
        Watcher {
            spec,
            watches,
            live,
            last: None,
        }
    }

    async fn post(&self, message: CreateMessage) {
        if let Err(e) = deliver::send_message(&self.spec.http, self.spec.thread, message).await {
            tracing::warn!("cannot post in thread {}: {e}", self.spec.thread);
        }
    }

    async fn say(&self, text: &str) {
        self.post(
            CreateMessage::new()
                .content(clean(text))
                .allowed_mentions(CreateAllowedMentions::new()),
        )
        .await;
    }

    fn heading(&self, state: &str) -> String {
        format!("`{}` · {state}", self.spec.session)
    }

    async fn render(&mut self, client: &Client) -> Option<String> {
        let screen = screen_of(client).await.ok()?;
        let state = client
            .status()
            .await
            .map(|s| s.state.name().to_string())
            .unwrap_or_default();
        let msg = screen_message(&self.heading(&state), &screen, true, MESSAGE_LIMIT);
        self.last = Some(screen);
        Some(msg)
    }

    fn mention(&self) -> (String, CreateAllowedMentions) {
        mention(self.spec.starter)
    }

    async fn notify_waiting(&self, prompt: &Prompt) {
        let (who, mentions) = self.mention();
        let mut text = format!(
            "{who}`{}` is waiting for input:\n{}",
            self.spec.session,
            code_block(&clean(prompt.text.trim()), "")
        );
        text.push_str(if prompt.options.is_empty() {
            "\nReply in this thread to type a line."
        } else {
            "\nPick an answer, or reply in this thread to type a line."
        });
        let text: String = text.chars().take(MESSAGE_LIMIT).collect();
        self.post(
            CreateMessage::new()
                .content(text)
                .allowed_mentions(mentions)
                .components(answer_buttons(&self.spec.session, prompt)),
        )
        .await;
    }

    async fn run(mut self, mut stop: signal::Receiver<bool>) {
        let id = self.spec.session.clone();
        let client = match self.spec.sessions.connect(&id).await {
            Ok(c) => c,
            Err(e) => {
                self.say(&format!("cannot watch {id}: {e}")).await;
                return;
            }
        };
        if let Some(h) = client.hello() {
            self.watches.kept.keep(Kept {
                session: id.clone(),
                started_at: h.session.started_at.clone(),
                thread: self.spec.thread.get(),
                parent: self.spec.parent.get(),
                starter: self.spec.starter.map(UserId::get),
            });
        }
        // Output only wakes the watcher up: from the current offset on.
        let from = client.hello().map_or(0, |h| h.output_offset);
        let (mut events, mut output) = match (client.events().await, client.output(from).await) {
            (Ok(ev), Ok(out)) => (ev, out),
            (Err(e), _) | (_, Err(e)) => {
                self.say(&format!("cannot watch {id}: {e}")).await;
                return;
            }
        };
        let mut dirty = true;
        let mut output_open = true;
        let exit_code = loop {
            let at = self.live.next_at;
            tokio::select! {
                _ = stop.changed() => {
                    self.say(&format!("stopped watching `{id}`")).await;
                    return;
                }
                item = output.next(), if output_open => match item {
                    Some(_) => dirty = true,
                    None => output_open = false,
                },
                ev = events.next() => match ev {
                    Some(EventItem::Event(Event::Waiting(w))) => {
                        let (text, options) = shown_prompt(&client, &w.prompt, w.options).await;
                        let p = self.watches.set_prompt(&id, text, options);
                        if !QUIET_RULES.contains(&w.rule.as_str()) {
                            self.notify_waiting(&p).await;
                        }
                        dirty = true;
                    }
                    Some(EventItem::Event(Event::State { old, new, .. })) => {
                        let waiting = heimdall_client::SessionState::Known(State::Waiting);
                        if old == waiting && new != waiting {
                            self.watches.clear_prompt(&id);
                        }
                        dirty = true;
                    }
                    Some(EventItem::Event(Event::Exit { code, .. })) => break Some(code),
                    Some(_) => {}
                    None => break client.closed().await,
                },
                _ = tokio::time::sleep_until(at), if dirty => {
                    dirty = false;
                    if let Some(content) = self.render(&client).await {
                        match self.live.show(content).await {
                            Shown::Done => {}
                            Shown::Later => dirty = true,
                            Shown::Gone => {
                                tracing::info!("the thread {} of `{id}` is gone: its watch ends", self.spec.thread);
                                return;
                            }
                        }
                    }
                }
            }
        };
        self.finish(&client, exit_code).await;
    }

    /// The final screen and the exit code.
    async fn finish(&mut self, client: &Client, code: Option<i32>) {
        let id = self.spec.session.clone();
        let code = match code {
            Some(c) => Some(c),
            None => match client.closed().await {
                Some(c) => Some(c),
                // No exit from the supervisor (it died): its guardian
                // records how the program ended.
                None => {
                    self.spec
                        .sessions
                        .recorded_exit(&id, None, RECORD_WAIT)
                        .await
                }
            },
        };
        // The supervisor still answers after the exit, with every byte of
        // the output on the screen; once it has closed the connection, its
        // exit record has the final screen. The last screen shown may be
        // older than the end of the output.
        let final_screen = match screen_of(client).await {
            Ok(screen) => Some(screen),
            Err(_) => self
                .spec
                .sessions
                .final_screen(&id)
                .or_else(|| self.last.clone()),
        };
        if let Some(screen) = final_screen {
            let content = screen_message(&self.heading("exited"), &screen, false, MESSAGE_LIMIT);
            // Wait out back-offs so the final screen is not lost to a few
            // failures, nor to a rate limit while it lasts (as messages are).
            let since = Instant::now();
            let mut failures = 0;
            loop {
                tokio::time::sleep_until(self.live.next_at).await;
                match self.live.show(content.clone()).await {
                    Shown::Done => break,
                    Shown::Gone => return,
                    Shown::Later => {}
                }
                if self.live.limited {
                    if since.elapsed() >= deliver::RATE_LIMIT_PATIENCE {
                        break;
                    }
                } else {
                    failures += 1;
                    if failures >= 4 {
                        break;
                    }
                }
            }
        }
        let (who, mentions) = self.mention();
        let code = code.map_or_else(|| "unknown".to_string(), |c| c.to_string());
        self.post(
            CreateMessage::new()
                .content(format!("{who}`{id}` exited: exit code {code}"))
                .allowed_mentions(mentions),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Register a watch of `session` in `thread` as [`start`] does (without
    /// its task).
    fn register(w: &Watches, session: &str, thread: u64) {
        let (stop, _) = signal::channel(false);
        lock(&w.by_session).insert(
            session.into(),
            Entry {
                thread: ChannelId::new(thread),
                stop,
            },
        );
        lock(&w.threads).insert(thread, (session.into(), 1));
        w.set_prompt(session, "Go? [y/N]".into(), Vec::new());
    }

    #[test]
    fn an_ended_watch_is_forgotten() {
        let w = Watches::default();
        register(&w, "a", 10);
        register(&w, "b", 20);
        w.forget("a", ChannelId::new(10));
        assert_eq!(w.session_of(10), None);
        assert_eq!(w.thread_of("a"), None);
        assert!(!lock(&w.prompts).contains_key("a"));
        assert_eq!(w.session_of(20), Some(("b".into(), 1)));
        // /unwatch, then a new watch of the same session before the old
        // watcher has ended: the new one stays.
        assert!(w.stop("b"));
        register(&w, "b", 30);
        w.forget("b", ChannelId::new(20));
        assert_eq!(w.session_of(20), None);
        assert_eq!(w.session_of(30), Some(("b".into(), 1)));
        assert_eq!(w.thread_of("b"), Some(ChannelId::new(30)));
        assert!(lock(&w.prompts).contains_key("b"));
        w.forget("b", ChannelId::new(30));
        assert!(lock(&w.threads).is_empty() && lock(&w.by_session).is_empty());
        assert!(lock(&w.prompts).is_empty());
    }

    #[test]
    fn a_line_of_a_watch_thread_is_handled_once() {
        let w = Watches::default();
        register(&w, "a", 10);
        lock(&w.lines).insert(
            10,
            Lines {
                newest: 100,
                handled: VecDeque::new(),
            },
        );
        assert!(w.first_sight(10, 105));
        assert!(!w.first_sight(10, 105), "read back and delivered: once");
        assert!(w.first_sight(10, 103));
        assert_eq!(w.newest_lines(), [(10, 105)]);
        // Other channels are not watch threads: every message counts.
        assert!(w.first_sight(20, 1) && w.first_sight(20, 1));
        w.forget("a", ChannelId::new(10));
        assert!(w.newest_lines().is_empty());
    }

    #[test]
    fn a_session_is_claimed_for_one_watch_at_a_time() {
        let w = Arc::new(Watches::default());
        let claim = w.claim("a").expect("free");
        assert!(matches!(w.claim("a"), Err(None)));
        assert!(w.claim("b").is_ok());
        register(&w, "a", 10);
        drop(claim);
        assert!(matches!(w.claim("a"), Err(Some(t)) if t == ChannelId::new(10)));
        w.forget("a", ChannelId::new(10));
        assert!(w.claim("a").is_ok());
    }

    #[test]
    fn backoff_starts_at_one_second_and_doubles_to_a_minute() {
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..9 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn answer_ids_round_trip_and_junk_is_refused() {
        let p = Prompt {
            generation: 7,
            text: "Continue? [y/N]".into(),
            options: (0..7)
                .map(|i| WaitingOption {
                    label: format!("choice {i}"),
                    keys: vec![format!("{i}\r")],
                })
                .collect(),
        };
        let rows = answer_buttons("my-session.1", &p);
        assert_eq!(rows.len(), 2);
        let id = format!("{ANSWER_PREFIX}7:3:my-session.1");
        assert_eq!(parse_answer_id(&id), Some((7, 3, "my-session.1")));
        for junk in [
            "hma:",
            "hma:x:1:s",
            "hma:1:y:s",
            "hma:1:2:",
            "other:1:2:s",
            "",
        ] {
            assert_eq!(parse_answer_id(junk), None, "{junk}");
        }
    }

    #[test]
    fn an_option_is_taken_once() {
        let w = Watches::default();
        let yes = WaitingOption {
            label: "yes".into(),
            keys: vec!["y\r".into()],
        };
        let p = w.set_prompt("s", "Go? [y/N]".into(), vec![yes.clone()]);
        assert_eq!(w.take_option("s", p.generation + 1, 0), None);
        assert_eq!(w.take_option("s", p.generation, 1), None);
        assert_eq!(w.take_option("s", p.generation, 0), Some(yes));
        assert_eq!(w.take_option("s", p.generation, 0), None);
    }

    #[test]
    fn a_new_prompt_has_a_new_generation() {
        let w = Watches::default();
        let a = w.set_prompt("s", "a?".into(), vec![]);
        let b = w.set_prompt("s", "b?".into(), vec![]);
        assert!(b.generation > a.generation);
        w.clear_prompt("s");
        assert!(lock(&w.prompts)["s"].options.is_empty());
    }
}
