//! A fake Discord on loopback — **test support only** (not published, never used by a shipped
//! binary) — for the bridge's end-to-end tests: the REST API and the gateway websocket, speaking
//! Discord API v10 as serenity 0.12.5 parses it.
//!
//! - REST at [`FakeDiscord::rest_url`]: give it to serenity as
//!   `HttpBuilder::new(TOKEN).proxy(url).ratelimiter_disabled(true)` (serenity reroutes REST to
//!   a proxy only with its ratelimiter off). Every request is recorded ([`RecordedRequest`]) and
//!   answered with complete objects or Discord's errors (unknown channel, empty message, content
//!   over 2,000 characters, an interaction acknowledged twice, …); unknown routes get a 404 with
//!   Discord's JSON error shape and [`Route::Unknown`], so a test can assert there were none.
//!   [`FakeDiscord::script`] makes the next requests of a route answer 429 (with or without
//!   rate-limit headers) or any error, cut the connection ([`Reply::CutOff`]), never answer
//!   ([`Reply::Silence`]), or do so after
//!   the route did its work ([`Reply::DoneThen`]: a 504 once the message was stored);
//!   [`FakeDiscord::rate_limit`] closes a route, or all of them, for a while (429s with the
//!   time left, as Discord answers until its `retry_after` has passed). A
//!   message created with a `nonce` and `enforce_nonce: true` is created once: the same nonce
//!   within five minutes gives back the first message, as on Discord.
//! - The gateway at the URL `GET /gateway` returns: HELLO, IDENTIFY → READY (guilds unavailable)
//!   → GUILD_CREATE with complete guilds, heartbeat ACKs, RESUME with replay of what the bot
//!   missed → RESUMED. [`FakeDiscord::close_gateway`], [`FakeDiscord::request_reconnect`] and
//!   [`FakeDiscord::invalidate_session`] end a connection or session; [`GatewayStats`] counts identifies and resumes.
//! - Test-facing events: [`FakeDiscord::slash_command`], [`FakeDiscord::autocomplete`],
//!   [`FakeDiscord::button_press`], [`FakeDiscord::modal_submit`], [`FakeDiscord::user_message`]; threads the bot starts emit
//!   THREAD_CREATE, its messages MESSAGE_CREATE and its edits MESSAGE_UPDATE, as on Discord.
//!   [`FakeDiscord::archive_thread`] archives a thread as Discord does after its inactivity
//!   period: edits and reactions in it are refused (50083), a message sent in it unarchives it
//!   (THREAD_UPDATE) unless it is locked. [`FakeDiscord::delete_thread`] deletes one.
//!   Intents are honoured: no MESSAGE_CREATE without `GUILD_MESSAGES`, and without
//!   `MESSAGE_CONTENT` users' messages arrive with empty content unless they mention the bot.
//!
//! The world is fixed (see [`ids`]): two guilds, their channels and roles, the bot with the
//! permissions in [`ids::BOT_PERMISSIONS`]. The token is [`ids::TOKEN`]; anything else is refused
//! (401 on REST, close 4004 on the gateway).
//!
//! # Example: how a bridge test uses it
//!
//! ```no_run
//! use std::time::Duration;
//! use fake_discord::{ids, Actor, CommandOption, FakeDiscord, Route};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let discord = FakeDiscord::start().await?;
//! // Start the bridge with DISCORD_TOKEN=ids::TOKEN and `rest_proxy = discord.rest_url()`.
//! let wait = Duration::from_secs(30);
//! discord.wait_ready(wait).await?;
//! discord.wait_for_command("run", wait).await?;
//! let operator = Actor::new(42, "olga").with_roles(&[ids::ROLE_OPERATOR]);
//! let sent = discord.slash_command(
//!     ids::CHANNEL_GENERAL,
//!     &operator,
//!     "run",
//!     vec![CommandOption::string("command", "bash")],
//! )?;
//! let callback = discord
//!     .wait_for_request(
//!         |r| r.route == Route::InteractionCallback && r.segment(1) == Some(sent.id.to_string().as_str()),
//!         wait,
//!     )
//!     .await?;
//! assert_eq!(callback.body.as_ref().unwrap()["type"], 5); // deferred
//! let followup = discord
//!     .wait_for_request(|r| r.route == Route::CreateFollowup, wait)
//!     .await?;
//! assert!(followup.content().unwrap().contains("started"));
//! assert!(discord.requests().iter().all(|r| r.route != Route::Unknown));
//! # Ok(())
//! # }
//! ```

#![recursion_limit = "256"] // serde_json::json! of a whole guild object nests deeply

mod events;
mod gateway;
pub mod ids;
mod model;
mod record;
mod rest;
mod state;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use events::{CommandOption, SentInteraction};
pub use gateway::GatewayStats;
pub use model::Actor;
pub use record::{RecordedFile, RecordedRequest, Reply, Route};

use state::Shared;

/// What went wrong in a test-facing call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding or serving the loopback listeners failed.
    #[error("fake discord: cannot listen on loopback: {0}")]
    Io(#[from] std::io::Error),
    /// Nothing happened that the wait asked for.
    #[error("fake discord: timed out after {timeout:?} waiting for {what}; seen: {seen}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The wait's length.
        timeout: Duration,
        /// A summary of what the fake saw (requests or gateway counters).
        seen: String,
    },
    /// The channel is not in the fake's world.
    #[error("fake discord: unknown channel {0}")]
    UnknownChannel(u64),
    /// The thread is archived and a moderator locked it: no message can be sent in it.
    #[error("fake discord: thread {0} is archived and locked")]
    LockedThread(u64),
    /// The message is not in the fake's world.
    #[error("fake discord: unknown message {0}")]
    UnknownMessage(u64),
    /// The bot has not registered a command of that name (wait for it with
    /// [`FakeDiscord::wait_for_command`]).
    #[error(
        "fake discord: the bot has not registered the command /{0} (yet); wait_for_command first"
    )]
    UnregisteredCommand(String),
    /// The bot did not answer that interaction with a modal.
    #[error("fake discord: the bot showed no modal in answer to interaction {0}")]
    NoModal(u64),
    /// The modal has no text input with that custom id.
    #[error("fake discord: the modal has no text input with custom_id {0:?}")]
    NoSuchInput(String),
    /// The message has no button with that custom id.
    #[error("fake discord: message {message} has no button with custom_id {custom_id:?}")]
    NoSuchButton {
        /// The message.
        message: u64,
        /// The custom id asked for.
        custom_id: String,
    },
}

/// A running fake Discord: a REST server and a gateway on loopback, stopped when dropped.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    rest_url: String,
    gateway_url: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl FakeDiscord {
    /// Start the REST server and the gateway on ephemeral loopback ports.
    pub async fn start() -> Result<Self, Error> {
        let rest = TcpListener::bind("127.0.0.1:0").await?;
        let gateway = TcpListener::bind("127.0.0.1:0").await?;
        let rest_url = format!("http://{}", rest.local_addr()?);
        let gateway_url = format!("ws://{}", gateway.local_addr()?);
        let shared = Arc::new(Shared::new(gateway_url.clone()));
        let router = rest::router(Arc::clone(&shared));
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(rest, router).await;
            }),
            tokio::spawn(gateway::serve(gateway, Arc::clone(&shared))),
        ];
        Ok(Self {
            shared,
            rest_url,
            gateway_url,
            tasks,
        })
    }

    /// The REST base URL (`http://127.0.0.1:P`) to give serenity as its proxy.
    pub fn rest_url(&self) -> &str {
        &self.rest_url
    }

    /// The gateway URL (`ws://127.0.0.1:G`) that `GET /gateway` returns.
    pub fn gateway_url(&self) -> &str {
        &self.gateway_url
    }

    /// Every REST request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The first request (already received or arriving before `timeout`) that matches.
    pub async fn wait_for_request(
        &self,
        matches: impl Fn(&RecordedRequest) -> bool,
        timeout: Duration,
    ) -> Result<RecordedRequest, Error> {
        self.wait_until(timeout, "a matching request", |state| {
            state.requests.iter().find(|r| matches(r)).cloned()
        })
        .await
    }

    /// Wait until the bot has registered a command named `name` (globally or in a guild).
    pub async fn wait_for_command(&self, name: &str, timeout: Duration) -> Result<Value, Error> {
        self.wait_until(
            timeout,
            &format!("command /{name} to be registered"),
            |state| {
                state
                    .world
                    .commands
                    .values()
                    .find(|c| c["name"] == name)
                    .cloned()
            },
        )
        .await
    }

    /// The commands the bot has registered (global and guild ones), as Discord returned them.
    pub fn commands(&self) -> Vec<Value> {
        self.shared
            .lock()
            .world
            .commands
            .values()
            .cloned()
            .collect()
    }

    /// Make the next `times` requests of `route` answer `reply` instead of what the route does.
    pub fn script(&self, route: Route, times: usize, reply: Reply) {
        if times > 0 {
            self.shared.lock().scripts.push(record::Script {
                route,
                remaining: times,
                reply,
            });
        }
    }

    /// Rate-limit `route` (with `None`, every route but the interaction callbacks and
    /// webhooks, as Discord's global limit) for `retry_after` from now: until then each of its
    /// requests is answered 429 with the time left in `retry_after`, as Discord does.
    pub fn rate_limit(&self, route: Option<Route>, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        self.shared.lock().limits.push((route, until.into_std()));
    }

    /// The gateway's counters now.
    pub fn gateway_stats(&self) -> GatewayStats {
        self.shared.lock().gateway.stats.clone()
    }

    /// Wait until the gateway's counters satisfy `condition`; the counters then.
    pub async fn wait_gateway(
        &self,
        condition: impl Fn(&GatewayStats) -> bool,
        timeout: Duration,
    ) -> Result<GatewayStats, Error> {
        self.wait_until(timeout, "a gateway condition", |state| {
            Some(state.gateway.stats.clone()).filter(|s| condition(s))
        })
        .await
    }

    /// Wait until the bot is identified (or resumed) on an open gateway connection, so events
    /// reach it.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<GatewayStats, Error> {
        self.wait_gateway(|s| s.established, timeout).await
    }

    /// Every dispatch (op 0) the gateway sent or queued for the bot, across sessions, in order:
    /// `{"op": 0, "s": N, "t": "EVENT_NAME", "d": {…}}`.
    pub fn dispatched(&self) -> Vec<Value> {
        self.shared.lock().gateway.dispatched.clone()
    }

    /// Close the gateway connection with this close code (4000 lets the bot resume); false if
    /// no connection was open.
    pub fn close_gateway(&self, code: u16) -> bool {
        let closed = self.shared.lock().gateway.close(code);
        self.shared.changed();
        closed
    }

    /// Send op 7 (Reconnect): the bot should reconnect and resume; false if no connection was
    /// open.
    pub fn request_reconnect(&self) -> bool {
        let sent = self.shared.lock().gateway.request_reconnect();
        self.shared.changed();
        sent
    }

    /// Send op 9 (invalid session, `d: false`): the session is gone and the bot must IDENTIFY
    /// again (serenity waits a few seconds first); false if no connection was open. What
    /// happens until then (a user's message) is lost to the bot, as on Discord: it reaches
    /// the bot only through REST (listing the channel's messages).
    pub fn invalidate_session(&self) -> bool {
        let sent = self.shared.lock().gateway.invalidate_session();
        self.shared.changed();
        sent
    }

    /// Dispatch an arbitrary gateway event (escape hatch for events this crate does not build).
    pub fn dispatch(&self, event: &str, data: Value) {
        self.shared.lock().gateway.dispatch(event, data);
        self.shared.changed();
    }

    /// A user runs the bot's slash command `/name` with `options` in a channel or thread.
    pub fn slash_command(
        &self,
        channel_id: u64,
        actor: &Actor,
        name: &str,
        options: Vec<CommandOption>,
    ) -> Result<SentInteraction, Error> {
        self.event(|state| events::command(state, false, channel_id, actor, name, options))
    }

    /// A user types into an option of `/name` (mark it with [`CommandOption::focused`]).
    pub fn autocomplete(
        &self,
        channel_id: u64,
        actor: &Actor,
        name: &str,
        options: Vec<CommandOption>,
    ) -> Result<SentInteraction, Error> {
        self.event(|state| events::command(state, true, channel_id, actor, name, options))
    }

    /// A user presses the button `custom_id` on a message the bot posted.
    pub fn button_press(
        &self,
        message_id: u64,
        actor: &Actor,
        custom_id: &str,
    ) -> Result<SentInteraction, Error> {
        self.event(|state| events::button(state, message_id, actor, custom_id))
    }

    /// A user submits the modal the bot showed in answer to `shown_by` (callback type 9), with
    /// `(input custom_id, value)` pairs; inputs not named are submitted empty.
    pub fn modal_submit(
        &self,
        shown_by: &SentInteraction,
        actor: &Actor,
        values: &[(&str, &str)],
    ) -> Result<SentInteraction, Error> {
        self.event(|state| events::modal_submit(state, shown_by.id, actor, values))
    }

    /// A user posts `content` in a channel or thread; the message's id.
    pub fn user_message(
        &self,
        channel_id: u64,
        actor: &Actor,
        content: &str,
    ) -> Result<u64, Error> {
        self.event(|state| events::user_message(state, channel_id, actor, content))
    }

    /// A message as the fake stores it now (REST shape; edits applied).
    pub fn message(&self, id: u64) -> Option<Value> {
        self.shared.lock().world.messages.get(&id).cloned()
    }

    /// The messages of a channel or thread, oldest first.
    pub fn messages_in(&self, channel_id: u64) -> Vec<Value> {
        let channel = channel_id.to_string();
        self.shared
            .lock()
            .world
            .messages
            .values()
            .filter(|m| m["channel_id"] == channel.as_str())
            .cloned()
            .collect()
    }

    /// A channel or thread as the fake stores it now.
    pub fn channel(&self, id: u64) -> Option<Value> {
        self.shared.lock().world.channels.get(&id).cloned()
    }

    /// Archive a thread, as Discord does once it has been inactive for its
    /// `auto_archive_duration` (or a moderator does): THREAD_UPDATE; from then on edits and
    /// reactions in it are refused (50083) and a message sent in it unarchives it.
    pub fn archive_thread(&self, thread_id: u64) -> Result<(), Error> {
        self.event(|state| {
            let thread = state
                .world
                .channels
                .get_mut(&thread_id)
                .filter(|c| model::is_thread(c))
                .ok_or(Error::UnknownChannel(thread_id))?;
            model::set_archived(thread, true);
            let event = thread.clone();
            state.gateway.dispatch("THREAD_UPDATE", event);
            Ok(())
        })
    }

    /// Delete a thread, as a moderator does: it and its messages are gone (REST answers
    /// 10003 Unknown Channel), THREAD_DELETE is dispatched.
    pub fn delete_thread(&self, thread_id: u64) -> Result<(), Error> {
        self.event(|state| {
            let thread = state
                .world
                .channels
                .get(&thread_id)
                .filter(|c| model::is_thread(c))
                .cloned()
                .ok_or(Error::UnknownChannel(thread_id))?;
            state.world.channels.remove(&thread_id);
            let id = thread_id.to_string();
            state
                .world
                .messages
                .retain(|_, m| m["channel_id"] != id.as_str());
            let event = serde_json::json!({
                "id": thread["id"], "guild_id": thread["guild_id"],
                "parent_id": thread["parent_id"], "type": thread["type"],
            });
            state.gateway.dispatch("THREAD_DELETE", event);
            Ok(())
        })
    }

    /// The threads started under a channel, oldest first.
    pub fn threads_of(&self, parent_id: u64) -> Vec<Value> {
        let parent = parent_id.to_string();
        self.shared
            .lock()
            .world
            .channels
            .values()
            .filter(|c| model::is_thread(c) && c["parent_id"] == parent.as_str())
            .cloned()
            .collect()
    }

    fn event<T>(
        &self,
        make: impl FnOnce(&mut state::State) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let result = make(&mut self.shared.lock());
        self.shared.changed();
        result
    }

    async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&state::State) -> Option<T>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        let mut changes = self.shared.subscribe();
        loop {
            if let Some(found) = check(&self.shared.lock()) {
                return Ok(found);
            }
            let changed = tokio::time::timeout_at(deadline, changes.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                if let Some(found) = check(&self.shared.lock()) {
                    return Ok(found);
                }
                return Err(Error::Timeout {
                    what: what.to_owned(),
                    timeout,
                    seen: self.summary(),
                });
            }
        }
    }

    /// What the fake saw, for timeout messages.
    fn summary(&self) -> String {
        let state = self.shared.lock();
        let requests: Vec<String> = state
            .requests
            .iter()
            .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
            .collect();
        format!(
            "gateway {:?}; requests [{}]",
            state.gateway.stats,
            requests.join(", ")
        )
    }
}
