//! A real serenity 0.12.5 client against the fake: every gateway payload and REST answer must
//! parse (an `Event::Unknown` fails the test), interactions are answered, messages and threads
//! arrive, and the shard resumes after the fake closes the connection.

use std::sync::Arc;
use std::time::Duration;

use fake_discord::{ids, Actor, CommandOption, FakeDiscord, Reply, Route};
use serde_json::{json, Value};
use serenity::all::{
    ActionRowComponent, ButtonStyle, ChannelId, ChannelType, Command, CommandDataOptionValue,
    CommandOptionType, CreateActionRow, CreateAttachment, CreateAutocompleteResponse, CreateButton,
    CreateCommand, CreateCommandOption, CreateInputText, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateMessage, CreateModal, CreateThread,
    EditInteractionResponse, EditMessage, GatewayIntents, GetMessages, GuildId, InputTextStyle,
    Nonce, ReactionType, RoleId, UserId,
};
use serenity::client::{ClientBuilder, Context, RawEventHandler};
use serenity::http::{Http, HttpBuilder};
use serenity::model::event::Event;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(60);

/// Forwards every event; the test fails on the first `Event::Unknown`.
struct Forward(mpsc::UnboundedSender<(Context, Event)>);

#[serenity::async_trait]
impl RawEventHandler for Forward {
    async fn raw_event(&self, ctx: Context, event: Event) {
        let _ = self.0.send((ctx, event));
    }
}

/// A serenity client connected to the fake, and its events.
struct Bot {
    http: Arc<Http>,
    events: mpsc::UnboundedReceiver<(Context, Event)>,
    backlog: Vec<(Context, Event)>,
    client: JoinHandle<()>,
}

impl Drop for Bot {
    fn drop(&mut self) {
        self.client.abort();
    }
}

fn http(discord: &FakeDiscord) -> Http {
    HttpBuilder::new(ids::TOKEN)
        .proxy(discord.rest_url())
        .ratelimiter_disabled(true)
        .build()
}

async fn bot(discord: &FakeDiscord) -> Bot {
    let intents =
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    bot_with(discord, intents).await
}

async fn bot_with(discord: &FakeDiscord, intents: GatewayIntents) -> Bot {
    let (tx, events) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http(discord), intents)
        .raw_event_handler(Forward(tx))
        .await
        .expect("client builds");
    let http = Arc::clone(&client.http);
    let client = tokio::spawn(async move {
        client.start().await.expect("client runs");
    });
    Bot {
        http,
        events,
        backlog: Vec::new(),
        client,
    }
}

/// A bot connected to the fake once its first guild has arrived, and the
/// context to make requests with.
async fn bot_in_guild(discord: &FakeDiscord) -> (Bot, Context) {
    let mut bot = bot(discord).await;
    discord.wait_ready(WAIT).await.expect("bot identified");
    let (ctx, _) = bot
        .next("GUILD_CREATE", |e| {
            matches!(e, Event::GuildCreate(_)).then_some(())
        })
        .await;
    (bot, ctx)
}

/// A public thread of the general channel named `name`, and a first
/// message the bot posted in it.
async fn thread_with_a_message(
    ctx: &Context,
    name: &str,
) -> (serenity::all::GuildChannel, serenity::all::Message) {
    let thread = ChannelId::new(ids::CHANNEL_GENERAL)
        .create_thread(ctx, CreateThread::new(name).kind(ChannelType::PublicThread))
        .await
        .expect("thread");
    let message = thread
        .id
        .send_message(ctx, CreateMessage::new().content("first"))
        .await
        .expect("message");
    (thread, message)
}

/// Why serenity could not parse an event the fake sent.
fn parse_error(kind: &str, value: &Value) -> String {
    use serenity::model::prelude::*;
    let value = value.clone();
    let result = match kind {
        "READY" => serde_json::from_value::<Ready>(value).map(drop),
        "GUILD_CREATE" => serde_json::from_value::<Guild>(value).map(drop),
        "INTERACTION_CREATE" => serde_json::from_value::<Interaction>(value).map(drop),
        "MESSAGE_CREATE" => serde_json::from_value::<Message>(value).map(drop),
        "MESSAGE_UPDATE" => serde_json::from_value::<MessageUpdateEvent>(value).map(drop),
        "THREAD_CREATE" | "THREAD_UPDATE" => {
            serde_json::from_value::<GuildChannel>(value).map(drop)
        }
        "THREAD_DELETE" => serde_json::from_value::<PartialGuildChannel>(value).map(drop),
        _ => return format!("no parser known for {kind}"),
    };
    match result {
        Ok(()) => "parses alone".to_owned(),
        Err(e) => e.to_string(),
    }
}

impl Bot {
    /// The first event `pick` accepts, among those not taken yet (serenity hands events to
    /// handlers on separate tasks, so they may arrive out of order); fails on an unparsable
    /// event.
    async fn next<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> (Context, T) {
        if let Some(found) = self.backlog.iter().position(|(_, e)| pick(e).is_some()) {
            let (ctx, event) = self.backlog.remove(found);
            let value = pick(&event).expect("picked before");
            return (ctx, value);
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (ctx, event) = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("client stopped");
            if let Event::Unknown(unknown) = &event {
                panic!(
                    "serenity could not parse {}: {}\n{}",
                    unknown.kind,
                    parse_error(&unknown.kind, &unknown.value),
                    unknown.value
                );
            }
            match pick(&event) {
                Some(found) => return (ctx, found),
                None => self.backlog.push((ctx, event)),
            }
        }
    }
}

/// Every dispatch the fake sent parses into serenity's type for it.
fn assert_all_dispatches_parse(discord: &FakeDiscord) {
    for payload in discord.dispatched() {
        let kind = payload["t"].as_str().unwrap_or_default();
        if matches!(kind, "RESUMED" | "MESSAGE_DELETE") {
            continue;
        }
        let outcome = parse_error(kind, &payload["d"]);
        assert_eq!(outcome, "parses alone", "{kind}: {}", payload["d"]);
    }
}

/// Wait until serenity has processed READY (it learns the application id from it).
async fn ready(bot: &mut Bot) {
    bot.next("READY", |e| matches!(e, Event::Ready(_)).then_some(()))
        .await;
}

async fn register_commands(http: &Http) {
    let run = CreateCommand::new("run")
        .description("Start a session")
        .add_option(
            CreateCommandOption::new(CommandOptionType::String, "command", "What to run")
                .required(true),
        )
        .add_option(
            CreateCommandOption::new(CommandOptionType::String, "id", "Session id")
                .set_autocomplete(true),
        );
    let global = Command::set_global_commands(http, vec![run.clone()])
        .await
        .expect("global commands");
    assert_eq!(global[0].name, "run");
    let guild = GuildId::new(ids::GUILD)
        .set_commands(
            http,
            vec![CreateCommand::new("ls").description("List sessions")],
        )
        .await
        .expect("guild commands");
    assert_eq!(guild[0].guild_id, Some(GuildId::new(ids::GUILD)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_and_guilds_parse_and_rest_objects_are_complete() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let mut bot = bot(&discord).await;
    let (_, ready) = bot
        .next("READY", |e| match e {
            Event::Ready(r) => Some(r.ready.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ready.user.id, UserId::new(ids::BOT_USER));
    assert_eq!(ready.guilds.len(), 2);
    let (ctx, guild) = bot
        .next("GUILD_CREATE", |e| match e {
            Event::GuildCreate(g) if g.guild.id == ids::GUILD => Some(g.guild.clone()),
            _ => None,
        })
        .await;
    assert_eq!(guild.roles.len(), 4);
    assert!(guild
        .channels
        .contains_key(&ChannelId::new(ids::CHANNEL_GENERAL)));
    let me = guild
        .members
        .get(&UserId::new(ids::BOT_USER))
        .expect("bot is a member");
    assert_eq!(me.roles, vec![RoleId::new(ids::ROLE_BOT)]);

    let http = &bot.http;
    assert_eq!(http.get_current_user().await.expect("me").id, ids::BOT_USER);
    let app = http
        .get_current_application_info()
        .await
        .expect("application");
    assert_eq!(app.id, ids::APPLICATION);
    let channel = http
        .get_channel(ChannelId::new(ids::CHANNEL_OPS))
        .await
        .expect("channel");
    assert_eq!(channel.id(), ids::CHANNEL_OPS);
    let roles = http
        .get_guild_roles(GuildId::new(ids::GUILD))
        .await
        .expect("roles");
    assert_eq!(roles.len(), 4);
    let member = http
        .get_member(GuildId::new(ids::GUILD), UserId::new(ids::BOT_USER))
        .await
        .expect("member");
    assert_eq!(member.roles, vec![RoleId::new(ids::ROLE_BOT)]);
    let partial = http
        .get_guild(GuildId::new(ids::GUILD))
        .await
        .expect("guild");
    assert_eq!(partial.name, "Heimdall Test");
    let channels = http
        .get_channels(GuildId::new(ids::GUILD))
        .await
        .expect("channels");
    assert_eq!(channels.len(), 3);
    register_commands(http).await;

    // With the cache on, serenity checks the bot's permissions from GUILD_CREATE first.
    let posted = ChannelId::new(ids::CHANNEL_GENERAL)
        .send_message(&ctx, CreateMessage::new().content("hello"))
        .await
        .expect("message sent");
    let err = http
        .get_channel(ChannelId::new(1))
        .await
        .expect_err("unknown channel");
    assert!(err.to_string().contains("Unknown Channel"), "{err}");
    let unknown = discord
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Unknown)
        .count();
    assert_eq!(unknown, 0);
    assert_eq!(
        discord.message(posted.id.get()).unwrap()["content"],
        "hello"
    );
    assert_all_dispatches_parse(&discord);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_are_delivered_and_answered() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let mut bot = bot(&discord).await;
    ready(&mut bot).await;
    register_commands(&bot.http).await;
    let olga = Actor::new(4242, "olga").with_roles(&[ids::ROLE_OPERATOR]);

    // Slash command: defer, then a followup with a button.
    let sent = discord
        .slash_command(
            ids::CHANNEL_GENERAL,
            &olga,
            "run",
            vec![CommandOption::string("command", "bash -l")],
        )
        .expect("command sent");
    let (ctx, command) = bot
        .next("the /run interaction", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().command(),
            _ => None,
        })
        .await;
    assert_eq!(command.id.get(), sent.id);
    assert_eq!(command.data.name, "run");
    assert_eq!(
        command.data.options[0].value,
        CommandDataOptionValue::String("bash -l".to_owned())
    );
    assert_eq!(command.user.id, 4242);
    let member = command.member.as_ref().expect("member");
    assert_eq!(member.roles, vec![RoleId::new(ids::ROLE_OPERATOR)]);
    assert_eq!(command.guild_id, Some(GuildId::new(ids::GUILD)));
    command.defer(&ctx).await.expect("deferred");
    let followup = command
        .create_followup(
            &ctx,
            CreateInteractionResponseFollowup::new()
                .content("started `bash -l`")
                .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
                    "keys:Enter",
                )
                .label("Enter")
                .style(ButtonStyle::Primary)])]),
        )
        .await
        .expect("followup");
    // The first followup after a defer becomes the original response.
    let original = command.get_response(&ctx).await.expect("original");
    assert_eq!(original.id, followup.id);
    assert_eq!(original.content, "started `bash -l`");
    let edited = command
        .edit_response(&ctx, EditInteractionResponse::new().content("running"))
        .await
        .expect("edit original");
    assert_eq!(edited.content, "running");
    let again = command.defer(&ctx).await.expect_err("second ack refused");
    assert!(
        again.to_string().contains("already been acknowledged"),
        "{again}"
    );

    // Autocomplete.
    discord
        .autocomplete(
            ids::CHANNEL_GENERAL,
            &olga,
            "run",
            vec![
                CommandOption::string("command", "x"),
                CommandOption::string("id", "ba").focused(),
            ],
        )
        .expect("autocomplete sent");
    let (ctx, auto) = bot
        .next("the autocomplete", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().autocomplete(),
            _ => None,
        })
        .await;
    assert_eq!(auto.data.autocomplete().expect("focused").value, "ba");
    auto.create_response(
        &ctx,
        CreateInteractionResponse::Autocomplete(
            CreateAutocompleteResponse::new().add_string_choice("bash-1", "bash-1"),
        ),
    )
    .await
    .expect("autocomplete answered");

    // Button press on the followup: acknowledge, then update the message.
    let viewer = Actor::new(777, "vic").with_roles(&[ids::ROLE_VIEWER]);
    discord
        .button_press(followup.id.get(), &viewer, "keys:Enter")
        .expect("button pressed");
    let (ctx, press) = bot
        .next("the button press", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().message_component(),
            _ => None,
        })
        .await;
    assert_eq!(press.data.custom_id, "keys:Enter");
    assert_eq!(press.message.id, followup.id);
    assert_eq!(press.user.id, 777);
    press
        .create_response(&ctx, CreateInteractionResponse::Acknowledge)
        .await
        .expect("acknowledged");
    press
        .edit_response(&ctx, EditInteractionResponse::new().content("sent Enter"))
        .await
        .expect("edited the button's message");
    assert_eq!(
        discord.message(followup.id.get()).unwrap()["content"],
        "sent Enter"
    );

    // A button answered with a modal, and the modal submitted.
    let shown_by = discord
        .button_press(followup.id.get(), &olga, "keys:Enter")
        .expect("button pressed");
    let (ctx, press) = bot
        .next("the second button press", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().message_component(),
            _ => None,
        })
        .await;
    press
        .create_response(
            &ctx,
            CreateInteractionResponse::Modal(
                CreateModal::new("reply:bash-1", "Reply to bash-1").components(vec![
                    CreateActionRow::InputText(CreateInputText::new(
                        InputTextStyle::Short,
                        "Text",
                        "text",
                    )),
                ]),
            ),
        )
        .await
        .expect("modal shown");
    discord
        .modal_submit(&shown_by, &olga, &[("text", "yes")])
        .expect("modal submitted");
    let (ctx, submit) = bot
        .next("the modal submit", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().modal_submit(),
            _ => None,
        })
        .await;
    assert_eq!(submit.data.custom_id, "reply:bash-1");
    let ActionRowComponent::InputText(input) = &submit.data.components[0].components[0] else {
        panic!("not a text input: {:?}", submit.data.components);
    };
    assert_eq!(input.value.as_deref(), Some("yes"));
    assert_eq!(submit.message.as_ref().map(|m| m.id), Some(followup.id));
    submit
        .create_response(&ctx, CreateInteractionResponse::Acknowledge)
        .await
        .expect("modal submit acknowledged");

    let callbacks: Vec<u64> = discord
        .requests()
        .iter()
        .filter(|r| r.route == Route::InteractionCallback && r.status == 204)
        .map(|r| r.body.as_ref().unwrap()["type"].as_u64().unwrap())
        .collect();
    assert_eq!(callbacks, vec![5, 8, 6, 9, 6]);
    assert!(discord.requests().iter().all(|r| r.route != Route::Unknown));
    assert_all_dispatches_parse(&discord);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_threads_files_and_scripted_rate_limits() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let (mut bot, ctx) = bot_in_guild(&discord).await;

    let thread = ChannelId::new(ids::CHANNEL_GENERAL)
        .create_thread(
            &ctx,
            CreateThread::new("session bash-1").kind(ChannelType::PublicThread),
        )
        .await
        .expect("thread");
    assert_eq!(thread.parent_id, Some(ChannelId::new(ids::CHANNEL_GENERAL)));
    let (_, created) = bot
        .next("THREAD_CREATE", |e| match e {
            Event::ThreadCreate(t) => Some(t.thread.id),
            _ => None,
        })
        .await;
    assert_eq!(created, thread.id);

    let screen = thread
        .id
        .send_message(
            &ctx,
            CreateMessage::new()
                .content("```\n$ \n```")
                .add_file(CreateAttachment::bytes(vec![b'x'; 3000], "screen.txt")),
        )
        .await
        .expect("message with a file");
    assert_eq!(screen.attachments[0].filename, "screen.txt");
    assert_eq!(screen.attachments[0].size, 3000);
    let upload = discord
        .wait_for_request(
            |r| r.route == Route::CreateMessage && !r.files.is_empty(),
            WAIT,
        )
        .await
        .expect("upload recorded");
    assert_eq!(upload.files[0].filename, "screen.txt");
    assert_eq!(upload.files[0].data.len(), 3000);
    assert_eq!(upload.content(), Some("```\n$ \n```"));

    // Listing messages and reacting.
    let listed = thread
        .id
        .messages(&ctx, GetMessages::new().limit(10))
        .await
        .expect("messages listed");
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![screen.id]
    );
    ctx.http
        .create_reaction(
            thread.id,
            screen.id,
            &ReactionType::Unicode("✅".to_owned()),
        )
        .await
        .expect("reaction added");

    // A scripted 429 on edits, then the edit goes through.
    discord.script(
        Route::EditMessage,
        1,
        Reply::RateLimited {
            retry_after: Duration::from_millis(1500),
            global: false,
        },
    );
    discord.script(Route::EditMessage, 1, Reply::BareRateLimit);
    let edit = || EditMessage::new().content("```\n$ ls\n```");
    for _ in 0..2 {
        let limited = thread
            .id
            .edit_message(&ctx, screen.id, edit())
            .await
            .expect_err("rate limited");
        assert!(limited.to_string().contains("429") || format!("{limited:?}").contains("429"));
    }
    let edited = thread
        .id
        .edit_message(&ctx, screen.id, edit())
        .await
        .expect("edit after the 429s");
    assert_eq!(edited.content, "```\n$ ls\n```");
    let statuses: Vec<u16> = discord
        .requests()
        .iter()
        .filter(|r| r.route == Route::EditMessage)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 200]);

    // Too long a message is refused as Discord does (sent raw: serenity's builder checks the
    // length itself).
    let long = ctx
        .http
        .send_message(thread.id, vec![], &json!({ "content": "y".repeat(2001) }))
        .await
        .expect_err("too long");
    assert!(format!("{long:?}").contains("50035"), "{long:?}");

    // A user's message in the thread reaches the bot, with content and member roles.
    let olga = Actor::new(4242, "olga").with_roles(&[ids::ROLE_OPERATOR]);
    let id = discord
        .user_message(thread.id.get(), &olga, "echo hi")
        .expect("message sent");
    let (_, message) = bot
        .next("the user's message", |e| match e {
            Event::MessageCreate(m) if m.message.id == id => Some(m.message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(message.content, "echo hi");
    assert_eq!(message.channel_id, thread.id);
    assert_eq!(message.guild_id, Some(GuildId::new(ids::GUILD)));
    assert_eq!(
        message.member.as_ref().expect("member").roles,
        vec![RoleId::new(ids::ROLE_OPERATOR)]
    );
    assert!(discord.requests().iter().all(|r| r.route != Route::Unknown));
    assert_all_dispatches_parse(&discord);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shard_resumes_after_the_fake_closes_the_connection() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let mut bot = bot(&discord).await;
    discord.wait_ready(WAIT).await.expect("bot identified");
    ready(&mut bot).await;
    register_commands(&bot.http).await;

    assert!(discord.close_gateway(4000));
    // Sent while the bot is away: replayed on resume.
    let olga = Actor::new(4242, "olga");
    let missed = discord
        .user_message(ids::CHANNEL_GENERAL, &olga, "while you were away")
        .expect("message sent");
    let stats = discord
        .wait_gateway(|s| s.resumes == 1 && s.established, WAIT)
        .await
        .expect("resumed");
    assert_eq!(stats.identifies, 1);
    // The missed events are replayed (before RESUMED, as Discord does).
    let (_, replayed) = bot
        .next("the missed message", |e| match e {
            Event::MessageCreate(m) if m.message.id == missed => Some(m.message.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(replayed, "while you were away");
    bot.next("RESUMED", |e| matches!(e, Event::Resumed(_)).then_some(()))
        .await;

    // Op 7 (reconnect) works the same way.
    assert!(discord.request_reconnect());
    discord
        .wait_gateway(|s| s.resumes == 2 && s.established, WAIT)
        .await
        .expect("resumed again");
    let sent = discord
        .slash_command(ids::CHANNEL_OPS, &olga, "ls", vec![])
        .expect("command sent");
    let (ctx, command) = bot
        .next("/ls after the resume", |e| match e {
            Event::InteractionCreate(i) => i.interaction.clone().command(),
            _ => None,
        })
        .await;
    assert_eq!(command.id.get(), sent.id);
    command
        .create_response(
            &ctx,
            CreateInteractionResponse::Message(
                serenity::all::CreateInteractionResponseMessage::new()
                    .content("no sessions")
                    .ephemeral(true),
            ),
        )
        .await
        .expect("answered");
    let answer = discord
        .wait_for_request(|r| r.route == Route::InteractionCallback, WAIT)
        .await
        .expect("callback recorded");
    assert_eq!(answer.body.unwrap()["data"]["flags"], json!(64));
    assert_eq!(discord.gateway_stats().identifies, 1);

    // Op 9 (invalid session): the bot identifies again (serenity waits a few seconds).
    assert!(discord.invalidate_session());
    discord
        .wait_gateway(|s| s.identifies == 2 && s.established, WAIT)
        .await
        .expect("identified again");
    // The first READY was taken by `ready` above; this one is the new session's.
    bot.next("the second READY", |e| {
        matches!(e, Event::Ready(_)).then_some(())
    })
    .await;
    assert_all_dispatches_parse(&discord);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_content_needs_the_intent() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let mut bot = bot_with(
        &discord,
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES,
    )
    .await;
    ready(&mut bot).await;
    let olga = Actor::new(4242, "olga");
    let plain = discord
        .user_message(ids::CHANNEL_GENERAL, &olga, "ls -l")
        .expect("message sent");
    let mention = discord
        .user_message(
            ids::CHANNEL_GENERAL,
            &olga,
            &format!("<@{}> what runs?", ids::BOT_USER),
        )
        .expect("message sent");
    let (_, content) = bot
        .next("the plain message", |e| match e {
            Event::MessageCreate(m) if m.message.id == plain => Some(m.message.content.clone()),
            _ => None,
        })
        .await;
    assert_eq!(content, "", "no MESSAGE_CONTENT intent, no content");
    let (_, content) = bot
        .next("the mention", |e| match e {
            Event::MessageCreate(m) if m.message.id == mention => Some(m.message.content.clone()),
            _ => None,
        })
        .await;
    assert!(content.ends_with("what runs?"), "{content}");
    assert_eq!(
        discord.gateway_stats().intents,
        Some((GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES).bits())
    );
}

/// A create whose answer is lost (a 504 after the message was stored, a connection cut after
/// the request went through) and then retried with the same nonce and `enforce_nonce` gives
/// back the first message, as Discord does; without `enforce_nonce`, or with another nonce, it
/// is a second message. A cut before the request was done stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_with_an_enforced_nonce_returns_the_first_message() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let http = http(&discord);
    let channel = ChannelId::new(ids::CHANNEL_GENERAL);
    let create = |nonce: &str, enforce: bool| {
        CreateMessage::new()
            .content(format!("notice {nonce}"))
            .nonce(Nonce::String(nonce.to_owned()))
            .enforce_nonce(enforce)
    };
    let gateway_timeout = Reply::Error {
        status: 504,
        code: 0,
        message: "Gateway Timeout".to_owned(),
    };

    discord.script(
        Route::CreateMessage,
        1,
        Reply::DoneThen(Box::new(gateway_timeout.clone())),
    );
    let lost = channel
        .send_message(&http, create("n-1", true))
        .await
        .expect_err("the 504");
    assert!(format!("{lost:?}").contains("504"), "{lost:?}");
    let again = channel
        .send_message(&http, create("n-1", true))
        .await
        .expect("the retry");
    assert!(
        matches!(&again.nonce, Some(Nonce::String(n)) if n == "n-1"),
        "{:?}",
        again.nonce
    );
    assert_eq!(discord.messages_in(ids::CHANNEL_GENERAL).len(), 1);
    assert_eq!(
        again.id.get().to_string(),
        discord.messages_in(ids::CHANNEL_GENERAL)[0]["id"]
    );

    // The connection cut after the request was done: the same.
    discord.script(
        Route::CreateMessage,
        1,
        Reply::DoneThen(Box::new(Reply::CutOff)),
    );
    let cut = channel
        .send_message(&http, create("n-2", true))
        .await
        .expect_err("the cut");
    assert!(
        matches!(
            cut,
            serenity::Error::Http(serenity::http::HttpError::Request(_))
        ),
        "{cut:?}"
    );
    let second = channel
        .send_message(&http, create("n-2", true))
        .await
        .expect("the retry");
    assert_eq!(discord.messages_in(ids::CHANNEL_GENERAL).len(), 2);
    assert_ne!(second.id, again.id);

    // Cut before it was done: nothing stored; the retry creates it.
    discord.script(Route::CreateMessage, 1, Reply::CutOff);
    channel
        .send_message(&http, create("n-3", true))
        .await
        .expect_err("the cut");
    assert_eq!(discord.messages_in(ids::CHANNEL_GENERAL).len(), 2);
    channel
        .send_message(&http, create("n-3", true))
        .await
        .expect("the retry");
    assert_eq!(discord.messages_in(ids::CHANNEL_GENERAL).len(), 3);

    // Without enforce_nonce the nonce is only echoed: a retry is a duplicate.
    discord.script(
        Route::CreateMessage,
        1,
        Reply::DoneThen(Box::new(gateway_timeout)),
    );
    for _ in 0..2 {
        let _ = channel.send_message(&http, create("n-4", false)).await;
    }
    let n4 = discord
        .messages_in(ids::CHANNEL_GENERAL)
        .iter()
        .filter(|m| m["content"] == "notice n-4")
        .count();
    assert_eq!(n4, 2);

    // A nonce over 25 characters is refused.
    let long = channel
        .send_message(&http, create(&"x".repeat(26), true))
        .await
        .expect_err("too long a nonce");
    assert!(format!("{long:?}").contains("50035"), "{long:?}");
    assert_all_dispatches_parse(&discord);
}

/// A rate limit holds until its `retry_after` has passed, each 429 saying the time left; the
/// global one spares no route but the interaction ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_until_its_retry_after_has_passed() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let http = http(&discord);
    let channel = ChannelId::new(ids::CHANNEL_GENERAL);
    let limit = Duration::from_millis(800);
    for route in [Some(Route::CreateMessage), None] {
        let start = tokio::time::Instant::now();
        discord.rate_limit(route, limit);
        let mut refused = 0;
        loop {
            match channel
                .send_message(&http, CreateMessage::new().content("hi"))
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    assert!(format!("{e:?}").contains("429"), "{e:?}");
                    refused += 1;
                }
            }
            assert!(start.elapsed() < WAIT, "still limited");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(refused >= 2, "{refused}");
        assert!(start.elapsed() >= limit, "{:?}", start.elapsed());
        let last = discord
            .requests()
            .into_iter()
            .rfind(|r| r.status == 429)
            .expect("a 429");
        assert!(last.route == Route::CreateMessage);
    }
    // A route limit is the route's alone.
    discord.rate_limit(Some(Route::CreateMessage), Duration::from_secs(30));
    channel
        .to_channel(&http)
        .await
        .expect("another route answers");
    assert!(discord.requests().iter().all(|r| r.route != Route::Unknown));
}

/// An archived thread (Discord archives one inactive for its `auto_archive_duration`): the
/// THREAD_UPDATE parses, an edit there is refused with 50083, a message sent there unarchives
/// it (THREAD_UPDATE) and the edit then goes through; a locked one refuses messages too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_thread_refuses_edits_until_a_message_unarchives_it() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let (mut bot, ctx) = bot_in_guild(&discord).await;
    let (thread, live) = thread_with_a_message(&ctx, "hm quiet").await;

    discord.archive_thread(thread.id.get()).expect("a thread");
    let archived = |e: &Event| match e {
        Event::ThreadUpdate(t) if t.thread.id == thread.id => {
            t.thread.thread_metadata.map(|m| m.archived)
        }
        _ => None,
    };
    let (_, now) = bot.next("THREAD_UPDATE (archived)", archived).await;
    assert!(now);
    let refused = thread
        .id
        .edit_message(&ctx, live.id, EditMessage::new().content("second"))
        .await
        .expect_err("no edits in an archived thread");
    assert!(format!("{refused:?}").contains("50083"), "{refused:?}");

    thread
        .id
        .send_message(&ctx, CreateMessage::new().content("again"))
        .await
        .expect("a message unarchives it");
    let (_, now) = bot.next("THREAD_UPDATE (unarchived)", archived).await;
    assert!(!now);
    thread
        .id
        .edit_message(&ctx, live.id, EditMessage::new().content("second"))
        .await
        .expect("edits once unarchived");

    // Locked by a moderator: nothing is sent there.
    ctx.http
        .edit_thread(thread.id, &json!({ "locked": true }), None)
        .await
        .expect("locked");
    discord.archive_thread(thread.id.get()).expect("a thread");
    let refused = thread
        .id
        .send_message(&ctx, CreateMessage::new().content("locked"))
        .await
        .expect_err("no messages in a locked archived thread");
    assert!(format!("{refused:?}").contains("50083"), "{refused:?}");
    let olga = Actor::new(4242, "olga");
    assert!(discord.user_message(thread.id.get(), &olga, "hi").is_err());
    assert_all_dispatches_parse(&discord);
}

/// A thread a moderator deleted: THREAD_DELETE parses, and posting or editing there is
/// answered 404 Unknown Channel (10003).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_thread_is_an_unknown_channel() {
    let discord = FakeDiscord::start().await.expect("fake starts");
    let (mut bot, ctx) = bot_in_guild(&discord).await;
    let (thread, live) = thread_with_a_message(&ctx, "hm deleted").await;
    discord.delete_thread(thread.id.get()).expect("a thread");
    bot.next("THREAD_DELETE", |e| {
        matches!(e, Event::ThreadDelete(t) if t.thread.id == thread.id).then_some(())
    })
    .await;
    let edit = thread
        .id
        .edit_message(&ctx, live.id, EditMessage::new().content("second"))
        .await
        .expect_err("the thread is gone");
    let post = thread
        .id
        .send_message(&ctx, CreateMessage::new().content("again"))
        .await
        .expect_err("the thread is gone");
    for e in [edit, post] {
        assert!(format!("{e:?}").contains("10003"), "{e:?}");
    }
    assert!(discord.channel(thread.id.get()).is_none());
    assert_all_dispatches_parse(&discord);
}
