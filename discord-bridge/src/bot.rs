//! The bot: serenity's gateway client and event handler, the slash
//! commands, buttons and messages, each checked against the access model
//! and written to the audit log.
//!
//! Gateway intents: `GUILD_MESSAGES` (messages typed in watch threads and
//! agent channels) and `MESSAGE_CONTENT` (a privileged intent, needed to
//! read those messages' text; enable it in the Developer Portal). Slash
//! commands and buttons arrive as interactions, which need no intent.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serenity::all::{
    async_trait, ChannelId, ChannelType, Client, ClientBuilder, CommandDataOptionValue,
    CommandInteraction, CommandOptionType, ComponentInteraction, Context, CreateAllowedMentions,
    CreateAttachment, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    CreateThread, EditInteractionResponse, Event, EventHandler, GatewayIntents, GuildId, Http,
    HttpBuilder, Interaction, Message, RawEventHandler, Ready, ResumedEvent, UserId,
};

use crate::access::{Access, Action, Requester};
use crate::audit::{AuditLog, Entry};
use crate::chat::{AgentHub, Job};
use crate::config::DiscordConfig;
use crate::deliver;
use crate::order::Order;
use crate::places::{Place, Places};
use crate::resume::resume;
use crate::sessions::Sessions;
use crate::starters::Starters;
use crate::text::{clean, code_post, screen_message, scrubbed_rows, split, Post, MESSAGE_LIMIT};
use crate::told::Told;
use crate::watch::{self, error_status, parse_answer_id, WatchSpec, Watches};

mod catchup;

/// The gateway intents the bot asks for (see the module documentation).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
}

/// Everything the handlers share.
pub struct Bridge {
    cfg: DiscordConfig,
    access: Access,
    audit: AuditLog,
    sessions: Sessions,
    watches: Arc<Watches>,
    /// The channels asked of Discord (are they our ended watch threads?).
    places: Places,
    /// Messages handled in the order they were posted, per channel.
    order: Order,
    agent: Option<Arc<AgentHub>>,
    /// Who started each session from Discord.
    starters: Starters,
    /// Who was told of a refusal in which channel, lately.
    told: Told,
    /// The bot's own user id, from READY (no cache needed).
    bot_id: OnceLock<UserId>,
    /// The kept watches have been taken up (at the first READY).
    resumed: AtomicBool,
    /// Where the running watches are kept for a restart.
    kept_dir: Option<PathBuf>,
}

impl Bridge {
    /// The bridge state.
    pub fn new(
        cfg: DiscordConfig,
        audit: AuditLog,
        sessions: Sessions,
        agent: Option<AgentHub>,
    ) -> Bridge {
        Bridge {
            access: Access::new(&cfg),
            cfg,
            audit,
            sessions,
            watches: Arc::new(Watches::default()),
            places: Places::default(),
            order: Order::default(),
            agent: agent.map(Arc::new),
            starters: Starters::default(),
            told: Told::default(),
            bot_id: OnceLock::new(),
            resumed: AtomicBool::new(false),
            kept_dir: None,
        }
    }

    /// Keep the running watches in a file of the directory `dir`, and
    /// take up those kept there once connected (see [`crate::kept`]).
    pub fn keep_watches_in(mut self, dir: PathBuf) -> Bridge {
        self.kept_dir = Some(dir);
        self
    }

    /// The access model (for the start-up log).
    pub fn access(&self) -> &Access {
        &self.access
    }
}

/// How long one REST request may take before it is given up (and tried
/// again where that is safe): without a limit, a connection that died
/// silently held a post, or a watch's live screen, for ever.
pub const REST_TIMEOUT: Duration = Duration::from_secs(20);

/// Build the serenity client: REST through `rest_proxy` (with serenity's
/// rate limiter off) when it is set; each request within [`REST_TIMEOUT`].
pub async fn client(bridge: Bridge, token: &str) -> serenity::Result<Client> {
    let rest = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REST_TIMEOUT)
        .build()?;
    let mut http = HttpBuilder::new(token).client(rest);
    if let Some(proxy) = &bridge.cfg.rest_proxy {
        http = http.proxy(proxy.clone()).ratelimiter_disabled(true);
    }
    let bridge = Arc::new(bridge);
    ClientBuilder::new_with_http(http.build(), intents())
        .event_handler(Handler { bridge })
        .raw_event_handler(Unparsed)
        .await
}

/// Logs gateway events serenity could not read (they never reach the
/// handler, so they would otherwise vanish).
struct Unparsed;

#[async_trait]
impl RawEventHandler for Unparsed {
    async fn raw_event(&self, _ctx: Context, ev: Event) {
        if let Event::Unknown(u) = ev {
            tracing::warn!("unparsed gateway event {}: {}", u.kind, u.value);
        }
    }
}

struct Handler {
    bridge: Arc<Bridge>,
}

/// The slash commands.
pub fn commands() -> Vec<CreateCommand> {
    let id = |required: bool| {
        CreateCommandOption::new(CommandOptionType::String, "id", "Session id")
            .required(required)
            .set_autocomplete(true)
    };
    let text = |name: &str, what: &str| {
        CreateCommandOption::new(CommandOptionType::String, name, what).required(true)
    };
    vec![
        CreateCommand::new("run")
            .description("Start a command in a new supervised session")
            .add_option(text("command", "The command line (run with sh -c)"))
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "id", "Session id to use")
                    .required(false),
            )
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "cwd", "Working directory")
                    .required(false),
            ),
        CreateCommand::new("ls").description("List sessions"),
        CreateCommand::new("status")
            .description("A session's state")
            .add_option(id(true)),
        CreateCommand::new("screen")
            .description("A session's screen")
            .add_option(id(true)),
        CreateCommand::new("send")
            .description("Type a line into a session (Enter included)")
            .add_option(id(true))
            .add_option(text("text", "The line")),
        CreateCommand::new("keys")
            .description("Send named keys to a session (C-c Enter Up Tab Esc F5 …)")
            .add_option(id(true))
            .add_option(text("keys", "Key names separated by spaces")),
        CreateCommand::new("interrupt")
            .description("Ctrl-C: SIGINT to the foreground job of the session's terminal")
            .add_option(id(true)),
        CreateCommand::new("kill")
            .description("End a session and its whole process tree")
            .add_option(id(true)),
        CreateCommand::new("watch")
            .description("Watch a session in a thread: live screen, prompts, exit")
            .add_option(id(true)),
        CreateCommand::new("unwatch")
            .description("Stop watching a session")
            .add_option(id(true)),
        CreateCommand::new("ask")
            .description("Ask the agent")
            .add_option(text("prompt", "What to ask")),
    ]
}

fn action_of(name: &str) -> Option<Action> {
    Some(match name {
        "run" => Action::Run,
        "ls" => Action::List,
        "status" => Action::Status,
        "screen" => Action::Screen,
        "send" => Action::Send,
        "keys" => Action::Keys,
        "interrupt" => Action::Interrupt,
        "kill" => Action::Kill,
        "watch" => Action::Watch,
        "unwatch" => Action::Unwatch,
        "ask" => Action::Agent,
        _ => return None,
    })
}

fn option<'a>(cmd: &'a CommandInteraction, name: &str) -> Option<&'a str> {
    cmd.data
        .options
        .iter()
        .find(|o| o.name == name)
        .and_then(|o| match &o.value {
            CommandDataOptionValue::String(s) => Some(s.as_str()),
            _ => None,
        })
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// What a command answers.
enum Reply {
    /// Plain text (split if long).
    Text(String),
    /// A block of program text (attached as a file if long).
    Code { heading: String, body: String },
    /// One ready message (a screen).
    Raw(String),
}

impl Reply {
    fn summary(&self) -> String {
        let s = match self {
            Reply::Text(t) | Reply::Raw(t) => t.as_str(),
            Reply::Code { heading, .. } => heading.as_str(),
        };
        s.lines().next().unwrap_or("").to_string()
    }
}

impl Bridge {
    fn requester(
        &self,
        user: UserId,
        roles: Vec<u64>,
        guild: Option<GuildId>,
        channel: ChannelId,
    ) -> Requester {
        Requester {
            user: user.get(),
            roles,
            guild: guild.map(GuildId::get),
            channel: channel.get(),
        }
    }

    /// What `channel` (of `guild`) is: one of our watch threads (the
    /// watch running or ended) or another channel. Discord is asked only
    /// about an unknown channel that may be a thread of a listed channel.
    async fn place(&self, http: &Http, guild: Option<u64>, channel: u64) -> Place {
        let agent_channel = self.cfg.agent_channels.iter().any(|c| c.0 == channel);
        let bot = self
            .bot_id
            .get()
            .copied()
            .filter(|_| !agent_channel && self.access.may_be_thread(guild, channel));
        self.places.of(http, bot, &self.watches, channel).await
    }

    /// The parent channel when `channel` is one of our watch threads (it
    /// counts as its parent for access).
    async fn parent_of(&self, http: &Http, guild: Option<u64>, channel: u64) -> Option<u64> {
        match self.place(http, guild, channel).await {
            Place::WatchThread { parent, .. } => Some(parent),
            Place::Other => None,
        }
    }

    fn record(
        &self,
        who: &Requester,
        user_name: &str,
        action: Action,
        session: Option<&str>,
        allowed: bool,
        detail: String,
    ) {
        self.audit.record(Entry {
            time: String::new(),
            user: who.user.to_string(),
            user_name: user_name.to_string(),
            action: action.name().to_string(),
            session: session.map(String::from),
            guild: who.guild.map(|g| g.to_string()),
            channel: who.channel.to_string(),
            allowed,
            detail,
        });
    }

    async fn run_command(
        &self,
        ctx: &Context,
        cmd: &CommandInteraction,
        action: Action,
        id: Option<&str>,
    ) -> Result<Reply, String> {
        let need_id = || id.ok_or_else(|| "give a session id".to_string());
        match action {
            Action::List => Ok(Reply::Code {
                heading: "Sessions".into(),
                body: self.sessions.list().await,
            }),
            Action::Status => self.sessions.status(need_id()?).await.map(Reply::Text),
            Action::Screen => {
                let id = need_id()?;
                let s = self.sessions.screen(id).await?;
                let msg = screen_message(&format!("`{id}`"), &s, true, MESSAGE_LIMIT);
                if msg.contains("(top lines cut)") {
                    Ok(Reply::Code {
                        heading: format!("`{id}`"),
                        body: scrubbed_rows(&s).join("\n"),
                    })
                } else {
                    Ok(Reply::Raw(msg))
                }
            }
            Action::Run => {
                let command = option(cmd, "command").unwrap_or("");
                let (started, supervisor) =
                    self.sessions.start(command, id, option(cmd, "cwd")).await?;
                let running = self.sessions.running_ids("");
                self.starters
                    .started(&started, supervisor, cmd.user.id, &running);
                Ok(Reply::Text(format!(
                    "started `{started}`: {command}\n(/watch {started} to follow it in a thread)"
                )))
            }
            Action::Send => {
                let text = option(cmd, "text").unwrap_or("");
                self.sessions
                    .submit(need_id()?, text)
                    .await
                    .map(Reply::Text)
            }
            Action::Keys => {
                let keys = option(cmd, "keys").unwrap_or("");
                self.sessions.keys(need_id()?, keys).await.map(Reply::Text)
            }
            Action::Interrupt => self.sessions.interrupt(need_id()?).await.map(Reply::Text),
            Action::Kill => self.sessions.kill(need_id()?).await.map(Reply::Text),
            Action::Watch => self.watch(ctx, cmd, need_id()?).await.map(Reply::Text),
            Action::Unwatch => {
                let id = need_id()?;
                Ok(Reply::Text(if self.watches.stop(id) {
                    format!("stopped watching `{id}`")
                } else {
                    format!("`{id}` is not being watched")
                }))
            }
            Action::Agent => {
                let prompt = option(cmd, "prompt").unwrap_or("");
                self.ask(ctx, cmd.channel_id, prompt, &cmd.user.name)
                    .map(Reply::Text)
            }
            Action::Answer => Err("not a command".into()),
        }
    }

    fn ask(
        &self,
        ctx: &Context,
        channel: ChannelId,
        prompt: &str,
        user_name: &str,
    ) -> Result<String, String> {
        let Some(hub) = &self.agent else {
            return Err("the agent is not configured".into());
        };
        if prompt.trim().is_empty() {
            return Err("say something".into());
        }
        let ahead = hub.submit(
            &ctx.http,
            channel,
            Job {
                prompt: prompt.to_string(),
                user_name: user_name.to_string(),
            },
        );
        Ok(if ahead == 0 {
            format!("asked the agent: {prompt}")
        } else {
            format!("queued for the agent ({ahead} turn(s) ahead in this channel): {prompt}")
        })
    }

    async fn watch(
        &self,
        ctx: &Context,
        cmd: &CommandInteraction,
        id: &str,
    ) -> Result<String, String> {
        // Held until the watch has started: a /watch of it meanwhile is told.
        let mut claimed = self.watches.claim(id);
        if let Err(Some(t)) = claimed {
            // A thread someone deleted watches nothing: its watch ends.
            let gone = t
                .to_channel(&ctx.http)
                .await
                .is_err_and(|e| matches!(error_status(&e), Some((404, watch::UNKNOWN_CHANNEL))));
            if gone {
                self.watches.thread_gone(id, t);
                claimed = self.watches.claim(id);
            }
        }
        let _claim = match claimed {
            Ok(claim) => claim,
            Err(Some(t)) => return Ok(format!("`{id}` is already watched in <#{t}>")),
            Err(None) => {
                return Ok(format!(
                    "`{id}` is already watched (its thread is being opened)"
                ))
            }
        };
        // Make sure it exists before opening a thread for it; who started
        // it, if it is the session started from Discord under this id.
        let starter = self
            .sessions
            .connect(id)
            .await?
            .hello()
            .and_then(|h| self.starters.of(id, h.session.supervisor_pid));
        // Inside a watch thread, the new thread goes to its parent channel.
        let parent = self
            .parent_of(
                &ctx.http,
                cmd.guild_id.map(GuildId::get),
                cmd.channel_id.get(),
            )
            .await
            .map(ChannelId::new)
            .unwrap_or(cmd.channel_id);
        let thread = deliver::again_if_limited("creating a watch thread", || {
            parent.create_thread(
                &ctx.http,
                CreateThread::new(format!("hm {id}")).kind(ChannelType::PublicThread),
            )
        })
        .await
        .map_err(|e| format!("cannot create a thread: {e}"))?;
        watch::start(
            &self.watches,
            WatchSpec {
                http: ctx.http.clone(),
                sessions: self.sessions.clone(),
                session: id.to_string(),
                thread: thread.id,
                parent,
                starter,
            },
        );
        Ok(format!("watching `{id}` in <#{}>", thread.id))
    }

    async fn on_command(&self, ctx: &Context, cmd: CommandInteraction) {
        let Some(action) = action_of(&cmd.data.name) else {
            return;
        };
        let roles = member_roles(cmd.member.as_deref().map(|m| &m.roles[..]));
        let who = self.requester(cmd.user.id, roles, cmd.guild_id, cmd.channel_id);
        let id = option(&cmd, "id");
        let parent = self.parent_of(&ctx.http, who.guild, who.channel).await;
        if let Err(refusal) = self.access.check(&who, parent, action) {
            self.record(&who, &cmd.user.name, action, id, false, refusal.to_string());
            let msg = CreateInteractionResponseMessage::new()
                .content(format!("refused: {refusal}"))
                .ephemeral(true);
            let what = format!("refusing /{}", cmd.data.name);
            let refused = deliver::again(&what, || {
                cmd.create_response(&ctx.http, CreateInteractionResponse::Message(msg.clone()))
            });
            if let Err(e) = refused.await {
                tracing::warn!("cannot answer /{}: {e}", cmd.data.name);
            }
            return;
        }
        // Acknowledge within Discord's 3 seconds; the answer follows.
        let what = format!("acknowledging /{}", cmd.data.name);
        if let Err(e) = deliver::again(&what, || cmd.defer(&ctx.http)).await {
            tracing::warn!("cannot defer /{}: {e}", cmd.data.name);
        }
        let detail_input = match action {
            Action::Run => option(&cmd, "command"),
            Action::Send => option(&cmd, "text"),
            Action::Keys => option(&cmd, "keys"),
            Action::Agent => option(&cmd, "prompt"),
            _ => None,
        };
        let result = self.run_command(ctx, &cmd, action, id).await;
        let (reply, detail) = match result {
            Ok(r) => {
                let s = r.summary();
                (r, s)
            }
            Err(e) => (Reply::Text(format!("failed: {e}")), format!("failed: {e}")),
        };
        let session = match (action, &reply) {
            (Action::Run, Reply::Text(t)) if t.starts_with("started `") => {
                t.split('`').nth(1).map(String::from)
            }
            _ => id.map(String::from),
        };
        let detail = match detail_input {
            Some(input) => format!("{input} → {detail}"),
            None => detail,
        };
        self.record(
            &who,
            &cmd.user.name,
            action,
            session.as_deref(),
            true,
            detail,
        );
        respond(ctx, &cmd, reply).await;
    }

    async fn on_autocomplete(&self, ctx: &Context, cmd: CommandInteraction) {
        let roles = member_roles(cmd.member.as_deref().map(|m| &m.roles[..]));
        let who = self.requester(cmd.user.id, roles, cmd.guild_id, cmd.channel_id);
        let typed = cmd
            .data
            .autocomplete()
            .map(|a| a.value.to_string())
            .unwrap_or_default();
        // Only those who may look learn the session ids.
        let parent = self.parent_of(&ctx.http, who.guild, who.channel).await;
        let ids = match self.access.check(&who, parent, Action::List) {
            Ok(_) => self.sessions.running_ids(&typed),
            Err(_) => Vec::new(),
        };
        let mut resp = CreateAutocompleteResponse::new();
        for id in ids.into_iter().take(25) {
            resp = resp.add_string_choice(id.clone(), id);
        }
        if let Err(e) = cmd
            .create_response(&ctx.http, CreateInteractionResponse::Autocomplete(resp))
            .await
        {
            tracing::debug!("autocomplete answer failed: {e}");
        }
    }

    async fn on_button(&self, ctx: &Context, press: ComponentInteraction) {
        let Some((generation, index, session)) = parse_answer_id(&press.data.custom_id) else {
            return;
        };
        let roles = member_roles(press.member.as_ref().map(|m| &m.roles[..]));
        let who = self.requester(press.user.id, roles, press.guild_id, press.channel_id);
        // Checked against whoever pressed, not whom the prompt was for.
        let parent = self.parent_of(&ctx.http, who.guild, who.channel).await;
        let refuse = |text: String| {
            CreateInteractionResponseMessage::new()
                .content(text)
                .ephemeral(true)
        };
        if let Err(refusal) = self.access.check(&who, parent, Action::Answer) {
            self.record(
                &who,
                &press.user.name,
                Action::Answer,
                Some(session),
                false,
                refusal.to_string(),
            );
            answer_press(ctx, &press, refuse(format!("refused: {refusal}"))).await;
            return;
        }
        let Some(option) = self.watches.take_option(session, generation, index) else {
            self.record(
                &who,
                &press.user.name,
                Action::Answer,
                Some(session),
                true,
                "the prompt is gone".into(),
            );
            answer_press(
                ctx,
                &press,
                refuse("that prompt is no longer waiting".into()),
            )
            .await;
            return;
        };
        if let Err(e) =
            deliver::again("acknowledging a button press", || press.defer(&ctx.http)).await
        {
            tracing::warn!("cannot defer a button press: {e}");
        }
        let outcome = self.sessions.answer(session, &option.keys).await;
        let label = clean(&option.label);
        let detail = match &outcome {
            Ok(typed) if *typed < option.keys.len() => format!(
                "answered {label:?} (the session ended after {typed} of its {} key steps)",
                option.keys.len()
            ),
            Ok(_) => format!("answered {label:?}"),
            Err(e) => format!("answering {label:?} failed: {e}"),
        };
        self.record(
            &who,
            &press.user.name,
            Action::Answer,
            Some(session),
            true,
            detail.clone(),
        );
        let content = format!(
            "{}\n→ <@{}> {detail}",
            clean(&press.message.content),
            press.user.id
        );
        let content: String = content.chars().take(MESSAGE_LIMIT).collect();
        let edit = EditInteractionResponse::new()
            .content(content)
            .components(Vec::new())
            .allowed_mentions(CreateAllowedMentions::new());
        let answered = deliver::again("updating the prompt message", || {
            press.edit_response(&ctx.http, edit.clone())
        });
        if let Err(e) = answered.await {
            tracing::warn!("cannot update the prompt message: {e}");
        }
    }

    async fn on_message(&self, ctx: &Context, msg: Message) {
        let roles = member_roles(msg.member.as_deref().map(|m| &m.roles[..]));
        self.on_message_of(ctx, msg, roles).await;
    }

    /// A message from a member with `roles`.
    async fn on_message_of(&self, ctx: &Context, msg: Message, roles: Vec<u64>) {
        if msg.author.bot || msg.content.trim().is_empty() {
            return;
        }
        // Lines typed one after the other are typed in that order, once
        // (a line read back after a lost gateway session may also come as
        // an event). What the bot says back is posted after the turn: a
        // rate limit on the post does not hold the lines typed next.
        let reply = {
            let _turn = self.order.turn(msg.channel_id.get(), msg.id.get()).await;
            if !self.watches.first_sight(msg.channel_id.get(), msg.id.get()) {
                return;
            }
            self.handle_message(ctx, &msg, roles).await
        };
        if let Some(text) = reply {
            say(ctx, msg.channel_id, &text).await;
        }
    }

    /// A message in its turn: what to say back, if anything.
    async fn handle_message(
        &self,
        ctx: &Context,
        msg: &Message,
        roles: Vec<u64>,
    ) -> Option<String> {
        let who = self.requester(msg.author.id, roles, msg.guild_id, msg.channel_id);
        let place = self.place(&ctx.http, who.guild, who.channel).await;
        if let Place::WatchThread { session, parent } = place {
            // A line typed in a watch thread goes to the session (operators
            // only; checked before anything about the session is said).
            if let Err(refusal) = self.access.check(&who, Some(parent), Action::Send) {
                self.record(
                    &who,
                    &msg.author.name,
                    Action::Send,
                    session.as_deref(),
                    false,
                    refusal.to_string(),
                );
                return self
                    .told
                    .first(who.user, who.channel)
                    .then(|| format!("refused: {refusal}"));
            }
            let session = match session {
                Some(s) if self.watches.thread_of(&s) == Some(msg.channel_id) => s,
                // A thread whose watch ended (/unwatch, exit) types nothing.
                ended => {
                    let note = match ended {
                        Some(s) => format!("`{s}` is no longer watched here (/watch {s})"),
                        None => "the watch of this thread has ended".into(),
                    };
                    return Some(note);
                }
            };
            let r = self.sessions.submit(&session, &msg.content).await;
            let detail = match &r {
                Ok(s) => format!("{} → {s}", msg.content),
                Err(e) => format!("{} → failed: {e}", msg.content),
            };
            self.record(
                &who,
                &msg.author.name,
                Action::Send,
                Some(&session),
                true,
                detail,
            );
            return r.err();
        }
        let me = self.bot_id.get().copied();
        let mentioned = me.is_some_and(|me| msg.mentions.iter().any(|u| u.id == me));
        let agent_channel = self
            .cfg
            .agent_channels
            .iter()
            .any(|c| c.0 == msg.channel_id.get());
        if !(agent_channel || mentioned) {
            return None;
        }
        let prompt = match me {
            Some(me) => msg
                .content
                .replace(&format!("<@{me}>"), "")
                .replace(&format!("<@!{me}>"), ""),
            None => msg.content.clone(),
        };
        let prompt = prompt.trim();
        if let Err(refusal) = self.access.check(&who, None, Action::Agent) {
            self.record(
                &who,
                &msg.author.name,
                Action::Agent,
                None,
                false,
                refusal.to_string(),
            );
            // Strangers in an agent channel are answered only when they
            // addressed the bot directly.
            let tell = mentioned && self.told.first(who.user, who.channel);
            return tell.then(|| format!("refused: {refusal}"));
        }
        let r = self.ask(ctx, msg.channel_id, prompt, &msg.author.name);
        let detail = match &r {
            Ok(s) => s.clone(),
            Err(e) => format!("failed: {e}"),
        };
        self.record(&who, &msg.author.name, Action::Agent, None, true, detail);
        match r {
            Ok(note) if note.starts_with("queued") => Some(note),
            Ok(_) => None,
            Err(e) => Some(e),
        }
    }
}

fn member_roles(roles: Option<&[serenity::all::RoleId]>) -> Vec<u64> {
    roles
        .map(|r| r.iter().map(|r| r.get()).collect())
        .unwrap_or_default()
}

/// Answer a button press with a message at once (a refusal, a prompt gone).
async fn answer_press(
    ctx: &Context,
    press: &ComponentInteraction,
    message: CreateInteractionResponseMessage,
) {
    let answered = deliver::again("answering a button press", || {
        press.create_response(
            &ctx.http,
            CreateInteractionResponse::Message(message.clone()),
        )
    });
    if let Err(e) = answered.await {
        tracing::warn!("cannot answer a button press: {e}");
    }
}

async fn say(ctx: &Context, channel: ChannelId, text: &str) {
    for part in split(text, MESSAGE_LIMIT) {
        let m = serenity::all::CreateMessage::new()
            .content(part)
            .allowed_mentions(CreateAllowedMentions::new());
        if let Err(e) = deliver::send_message(&ctx.http, channel, m).await {
            tracing::warn!("cannot post in {channel}: {e}");
        }
    }
}

/// Send a command's answer: the first message edits the deferred
/// response, the rest are follow-ups; long program text goes as a file.
async fn respond(ctx: &Context, cmd: &CommandInteraction, reply: Reply) {
    let (first, rest, file) = match reply {
        Reply::Raw(m) => (m, Vec::new(), None),
        Reply::Text(t) => {
            let mut parts = split(&t, MESSAGE_LIMIT).into_iter();
            (parts.next().unwrap_or_default(), parts.collect(), None)
        }
        Reply::Code { heading, body } => {
            let name = format!("{}.txt", cmd.data.name);
            match code_post(&heading, &body, &name) {
                Post::Message(m) => (m, Vec::new(), None),
                Post::File {
                    message,
                    name,
                    content,
                } => (message, Vec::new(), Some((name, content))),
            }
        }
    };
    let mut edit = EditInteractionResponse::new()
        .content(first)
        .allowed_mentions(CreateAllowedMentions::new());
    if let Some((name, content)) = file {
        edit = edit.new_attachment(CreateAttachment::bytes(content.into_bytes(), name));
    }
    let what = format!("answering /{}", cmd.data.name);
    if let Err(e) = deliver::again(&what, || cmd.edit_response(&ctx.http, edit.clone())).await {
        tracing::warn!("cannot answer /{}: {e}", cmd.data.name);
    }
    for part in rest {
        let f = CreateInteractionResponseFollowup::new()
            .content(part)
            .allowed_mentions(CreateAllowedMentions::new());
        let followed = deliver::again_if_limited("following up a command", || {
            cmd.create_followup(&ctx.http, f.clone())
        });
        if let Err(e) = followed.await {
            tracing::warn!("cannot follow up /{}: {e}", cmd.data.name);
        }
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.bridge.bot_id.set(ready.user.id);
        if !self.bridge.resumed.swap(true, Ordering::SeqCst) {
            if let Some(dir) = &self.bridge.kept_dir {
                let file = dir.join(format!("watches-{}.json", ready.user.id));
                self.bridge.watches.kept().open(file);
            }
            resume(&self.bridge.watches, &self.bridge.sessions, &ctx.http);
        } else {
            // A new gateway session: what was typed in the watch threads
            // while there was none is not delivered again.
            let (bridge, ctx) = (self.bridge.clone(), ctx.clone());
            tokio::spawn(async move { bridge.catch_up(&ctx).await });
        }
        tracing::info!(
            "connected to Discord as {} ({}), {} guild(s)",
            ready.user.name,
            ready.user.id,
            ready.guilds.len()
        );
        for g in &self.bridge.cfg.guilds {
            let registered = deliver::again("registering the slash commands", || {
                GuildId::new(g.0).set_commands(&ctx.http, commands())
            });
            match registered.await {
                Ok(c) => tracing::info!("registered {} slash commands in guild {g}", c.len()),
                Err(e) => tracing::error!("cannot register slash commands in guild {g}: {e}"),
            }
        }
    }

    async fn resume(&self, _ctx: Context, _ev: ResumedEvent) {
        tracing::info!("gateway session resumed");
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let bridge = self.bridge.clone();
        match interaction {
            Interaction::Command(cmd) => bridge.on_command(&ctx, cmd).await,
            Interaction::Autocomplete(cmd) => bridge.on_autocomplete(&ctx, cmd).await,
            Interaction::Component(press) => bridge.on_button(&ctx, press).await,
            _ => {}
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        self.bridge.on_message(&ctx, msg).await;
    }
}
