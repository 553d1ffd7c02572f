//! hm-discord end to end: the real `hm-discord` binary against a fake
//! Discord on loopback (REST through `rest_proxy`, the gateway it returns),
//! driving real sessions of the real `hm`.

// The agent's fake LLM provider (one implementation, shared with its tests).
#[path = "../../agent-client/tests/common/mod.rs"]
mod llm;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use fake_discord::{ids, Actor, CommandOption, FakeDiscord, Reply, Route, SentInteraction};
use heimdall_client::{Liveness, SocketDir};
use serde_json::Value;
use tokio::time::Instant;

/// Generous: the machine is loaded.
const WAIT: Duration = Duration::from_secs(60);

const OPERATOR_ID: u64 = 1_400_000_000_000_000_001;
const VIEWER_ID: u64 = 1_400_000_000_000_000_002;
const STRANGER_ID: u64 = 1_400_000_000_000_000_003;

/// A secret as a program would print it (the scrubber's GitHub token shape).
const SECRET: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

fn operator() -> Actor {
    Actor::new(OPERATOR_ID, "olga")
}

fn viewer() -> Actor {
    Actor::new(VIEWER_ID, "vic").with_roles(&[ids::ROLE_VIEWER])
}

fn stranger() -> Actor {
    Actor::new(STRANGER_ID, "eve")
}

/// The `hm` binary of this workspace, built once (a no-op when current);
/// `hm-discord` finds it beside itself.
fn hm() -> &'static Path {
    static HM: OnceLock<PathBuf> = OnceLock::new();
    HM.get_or_init(|| {
        let bridge = PathBuf::from(env!("CARGO_BIN_EXE_hm-discord"));
        let profile_dir = bridge.parent().unwrap().to_path_buf();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", "heimdall-supervisor", "--bin", "hm"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo build runs");
        assert!(status.success(), "building hm failed");
        let hm = profile_dir.join("hm");
        assert!(hm.is_file(), "no hm at {}", hm.display());
        hm
    })
}

/// A running hm-discord with its own socket dir, data dir and config;
/// killed (and its sessions ended) when dropped, panics included.
struct Bridge {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for id in SocketDir::new(self.sockets()).running().unwrap_or_default() {
            let _ = Command::new(hm())
                .arg("--socket-dir")
                .arg(self.sockets())
                .args(["kill", &id])
                .output();
        }
    }
}

impl Bridge {
    async fn start(discord: &FakeDiscord) -> Bridge {
        Bridge::start_with(discord, "").await
    }

    /// Started with `extra` appended to its config file.
    async fn start_with(discord: &FakeDiscord, extra: &str) -> Bridge {
        hm();
        let dir = tempfile::tempdir().unwrap();
        let sockets = dir.path().join("s");
        std::fs::create_dir_all(&sockets).unwrap();
        // Private, as hm makes it: hm refuses a socket directory open to others.
        std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o700)).unwrap();
        let config = dir.path().join("heimdall.toml");
        std::fs::write(
            &config,
            format!(
                "[discord]\nguilds = [\"{}\"]\nchannels = [{}]\noperators = [\"{OPERATOR_ID}\"]\n\
                 operator_roles = [\"{}\"]\nviewer_roles = [{}]\naudit_log = {:?}\nrest_proxy = {:?}\n",
                ids::GUILD,
                ids::CHANNEL_GENERAL,
                ids::ROLE_OPERATOR,
                ids::ROLE_VIEWER,
                dir.path().join("audit.jsonl"),
                discord.rest_url(),
            ) + extra,
        )
        .unwrap();
        let child = Bridge::spawn(dir.path());
        let bridge = Bridge { child, dir };
        discord.wait_ready(WAIT).await.expect("the bot connects");
        discord
            .wait_for_command("unwatch", WAIT)
            .await
            .expect("the bot registers its commands");
        bridge
    }

    /// hm-discord with the config, socket dir and data dir in `dir`, its
    /// log appended to `dir`/bridge.log.
    fn spawn(dir: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("bridge.log"))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_hm-discord"))
            .arg("--config")
            .arg(dir.join("heimdall.toml"))
            .env("DISCORD_TOKEN", ids::TOKEN)
            .env("HEIMDALL_SOCKET_DIR", dir.join("s"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("HM_DISCORD_LOG", "info,serenity=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("hm-discord starts")
    }

    /// Kill hm-discord, as a crash would (its sessions run on), do
    /// `meanwhile`, and start it again with the same config and directories.
    async fn restart(&mut self, discord: &FakeDiscord, meanwhile: impl FnOnce(&Bridge)) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let identified = discord.gateway_stats().identifies;
        meanwhile(self);
        self.child = Bridge::spawn(self.dir.path());
        discord
            .wait_gateway(|s| s.identifies > identified && s.established, WAIT)
            .await
            .expect("the bot connects again");
    }

    /// Started with the agent on `model` (OpenAI format), its channel
    /// `CHANNEL_OPS`; also the agent's work dir, to keep while it runs.
    async fn start_with_agent(
        discord: &FakeDiscord,
        model: &llm::FakeServer,
    ) -> (Bridge, tempfile::TempDir) {
        let work = tempfile::tempdir().unwrap();
        let bridge = Bridge::start_with(
            discord,
            &format!(
                "agent_channels = [\"{}\"]\n[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\n\
                 api_key_env = \"HM_DISCORD_TEST_NO_KEY\"\nwork_dir = {:?}\n",
                ids::CHANNEL_OPS,
                model.url(),
                work.path(),
            ),
        )
        .await;
        (bridge, work)
    }

    fn sockets(&self) -> PathBuf {
        self.dir.path().join("s")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bridge.log")).unwrap_or_default()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }

    fn live(&self, id: &str) -> bool {
        SocketDir::new(self.sockets())
            .find(id)
            .is_ok_and(|e| matches!(e.liveness, Liveness::Live(_)))
    }

    /// Every gateway event reached the handler: none was unreadable.
    fn assert_no_unparsed_events(&self) {
        let log = self.log();
        assert!(!log.contains("unparsed gateway event"), "{log}");
    }
}

/// The text the bot answered an interaction with: its deferred response's
/// edit, or an immediate (ephemeral) message. Returns (content, ephemeral).
async fn answer(discord: &FakeDiscord, sent: &SentInteraction) -> (String, bool) {
    let r = discord
        .wait_for_request(
            |r| {
                r.path.contains(&sent.token)
                    && (r.route == Route::EditOriginal
                        || (r.route == Route::InteractionCallback
                            && r.body.as_ref().is_some_and(|b| b["type"] == 4)))
            },
            WAIT,
        )
        .await
        .expect("the bot answers the interaction");
    let ephemeral = r
        .body
        .as_ref()
        .is_some_and(|b| b["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0);
    (r.content().unwrap_or_default().to_string(), ephemeral)
}

async fn command(
    discord: &FakeDiscord,
    channel: u64,
    who: &Actor,
    name: &str,
    options: &[(&str, &str)],
) -> (String, bool) {
    let options = options
        .iter()
        .map(|(k, v)| CommandOption::string(k, v))
        .collect();
    let sent = discord
        .slash_command(channel, who, name, options)
        .expect("the fake sends the command");
    answer(discord, &sent).await
}

/// The fake model's streamed reply (OpenAI format): one tool call.
fn tool_call(name: &str, arguments: &str) -> llm::Reply {
    let call = serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
        "id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}]}}]});
    llm::Reply::Sse(llm::data_events(&[call]) + "data: [DONE]\n\n")
}

/// The fake model's streamed reply (OpenAI format): a final answer.
fn final_answer(text: &str) -> llm::Reply {
    let answer = serde_json::json!({"choices": [{"index": 0, "delta": {"content": text},
        "finish_reason": "stop"}]});
    llm::Reply::Sse(llm::data_events(&[answer]) + "data: [DONE]\n\n")
}

/// A command as the operator in the general channel.
async fn operator_command(
    discord: &FakeDiscord,
    name: &str,
    options: &[(&str, &str)],
) -> (String, bool) {
    command(discord, ids::CHANNEL_GENERAL, &operator(), name, options).await
}

/// Poll with a deadline until `f` gives something.
async fn until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    until_within(WAIT, what, f).await
}

/// Poll until `f` gives something, for at most `wait`.
async fn until_within<T>(wait: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every text the bot sent to the fake (message contents, edits, answers,
/// attached files).
fn everything_posted(discord: &FakeDiscord) -> String {
    let mut all = String::new();
    for r in discord.requests() {
        if let Some(b) = &r.body {
            all.push_str(&b.to_string());
        }
        for f in &r.files {
            all.push_str(&String::from_utf8_lossy(&f.data));
        }
    }
    all
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

/// /screen as the operator, again until `shown` accepts the answer; that
/// answer.
async fn screen_until(
    discord: &FakeDiscord,
    id: &str,
    what: &str,
    shown: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let (screen, _) = operator_command(discord, "screen", &[("id", id)]).await;
        if shown(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "the screen never showed {what}: {screen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// /send as the operator (a line, Enter included).
async fn send(discord: &FakeDiscord, id: &str, line: &str) {
    let (text, _) = operator_command(discord, "send", &[("id", id), ("text", line)]).await;
    assert!(
        text.contains("submitted") || text.contains("typed"),
        "{text}"
    );
}

/// /watch as the operator in the general channel: the watch thread (from
/// the answer's `<#thread>`) and its live screen message.
async fn watch(discord: &FakeDiscord, id: &str) -> (u64, u64) {
    let (text, _) = operator_command(discord, "watch", &[("id", id)]).await;
    assert!(text.contains("watching"), "{text}");
    let thread: u64 = text
        .split("<#")
        .nth(1)
        .and_then(|t| t.split('>').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no thread in {text:?}"));
    // The live screen message: the first message of the thread with a code block.
    let live = until("the live screen message", || {
        discord
            .messages_in(thread)
            .iter()
            .find(|m| m["content"].as_str().is_some_and(|c| c.contains("```")))
            .map(id_of)
    })
    .await;
    (thread, live)
}

/// /run as the operator; the session's id.
async fn run(discord: &FakeDiscord, id: &str, command_line: &str) {
    let (text, _) =
        operator_command(discord, "run", &[("command", command_line), ("id", id)]).await;
    assert!(text.contains(&format!("started `{id}`")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_runs_bash_and_screen_shows_it() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("sh");
    run(&discord, &id, "bash --norc --noprofile").await;
    assert!(bridge.live(&id));
    send(&discord, &id, "echo hello-$((6*7))").await;
    let last = screen_until(&discord, &id, "hello-42", |s| s.contains("hello-42")).await;
    assert!(last.contains("```"), "a code block: {last}");
    // /interrupt reaches the foreground job: the shell gets its prompt back.
    // It prints once it is the terminal's foreground job (bash hands the
    // terminal over before the exec): a SIGINT before that would reach
    // bash alone, and the sleep would run on.
    send(
        &discord,
        &id,
        "sh -c 'echo asleep-$((2+2)); exec sleep 600'",
    )
    .await;
    screen_until(&discord, &id, "asleep-4", |s| s.contains("asleep-4")).await;
    let (text, _) = operator_command(&discord, "interrupt", &[("id", &id)]).await;
    assert!(text.contains("SIGINT"), "{text}");
    send(&discord, &id, "echo back-$((1+1))").await;
    screen_until(&discord, &id, "back-2 (the shell back)", |s| {
        s.contains("back-2")
    })
    .await;
    let (ls, _) = operator_command(&discord, "ls", &[]).await;
    assert!(ls.contains(&id), "{ls}");
    let (status, _) = operator_command(&discord, "status", &[("id", &id)]).await;
    assert!(status.contains("bash"), "{status}");
    // Session ids autocomplete (for those who may look).
    let sent = discord
        .autocomplete(
            ids::CHANNEL_GENERAL,
            &operator(),
            "screen",
            vec![CommandOption::string("id", "sh-").focused()],
        )
        .unwrap();
    let r = discord
        .wait_for_request(
            |r| r.path.contains(&sent.token) && r.route == Route::InteractionCallback,
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(r.body.as_ref().unwrap()["type"], 8);
    assert!(r.body.as_ref().unwrap().to_string().contains(&id));
    let (killed, _) = operator_command(&discord, "kill", &[("id", &id)]).await;
    assert!(killed.contains("ended"), "{killed}");
    until("the session to be gone", || {
        (!bridge.live(&id)).then_some(())
    })
    .await;
    bridge.assert_no_unparsed_events();
    assert!(discord.requests().iter().all(|r| r.route != Route::Unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_look_strangers_are_refused_and_everything_is_audited() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("sleep");
    run(&discord, &id, "sleep 600").await;

    let (text, ephemeral) = command(
        &discord,
        ids::CHANNEL_GENERAL,
        &viewer(),
        "kill",
        &[("id", &id)],
    )
    .await;
    assert!(text.contains("refused") && ephemeral, "{text}");
    assert!(
        bridge.live(&id),
        "a viewer's /kill left the session running"
    );
    let (text, _) = command(
        &discord,
        ids::CHANNEL_GENERAL,
        &viewer(),
        "status",
        &[("id", &id)],
    )
    .await;
    assert!(text.contains(&id) && !text.contains("refused"), "{text}");

    for (name, opts) in [
        ("ls", vec![]),
        ("status", vec![("id", id.as_str())]),
        ("screen", vec![("id", id.as_str())]),
        ("kill", vec![("id", id.as_str())]),
        ("run", vec![("command", "true")]),
        ("ask", vec![("prompt", "hi")]),
    ] {
        let (text, ephemeral) =
            command(&discord, ids::CHANNEL_GENERAL, &stranger(), name, &opts).await;
        assert!(text.contains("refused") && ephemeral, "/{name}: {text}");
    }
    // The operator, but in a channel the bot does not act in.
    let (text, _) = command(
        &discord,
        ids::CHANNEL_OPS,
        &operator(),
        "kill",
        &[("id", &id)],
    )
    .await;
    assert!(text.contains("refused"), "{text}");
    assert!(bridge.live(&id));

    let audit = bridge.audit();
    let has = |user: u64, action: &str, allowed: bool| {
        audit.iter().any(|e| {
            e["user"] == id_value(user) && e["action"] == action && e["allowed"] == allowed
        })
    };
    assert!(has(OPERATOR_ID, "run", true), "{audit:#?}");
    assert!(has(VIEWER_ID, "kill", false));
    assert!(has(VIEWER_ID, "status", true));
    for action in ["ls", "status", "screen", "kill", "run", "agent"] {
        assert!(
            has(STRANGER_ID, action, false),
            "stranger {action}: {audit:#?}"
        );
    }
    assert!(audit.iter().any(|e| e["user"] == id_value(OPERATOR_ID)
        && e["action"] == "kill"
        && e["allowed"] == false));
    assert!(audit.iter().any(|e| e["session"] == id.as_str()));
    bridge.assert_no_unparsed_events();
}

/// Where among `channel`'s messages the first one showing `needle` is.
fn posted(discord: &FakeDiscord, channel: u64, needle: &str) -> Option<usize> {
    discord
        .messages_in(channel)
        .iter()
        .position(|m| m["content"].as_str().is_some_and(|c| c.contains(needle)))
}

/// Lines typed in `thread` after its watch of `id` ended, one after the
/// other, until the bot has asked Discord what the thread is: it keeps only
/// running watches, so it no longer knows the thread of an ended one. Each
/// line is answered with the note that `id` is no longer watched there.
async fn typed_until_the_thread_is_looked_up(discord: &FakeDiscord, thread: u64, id: &str) {
    let note = format!("`{id}` is no longer watched here (/watch {id})");
    let notes = || {
        discord
            .messages_in(thread)
            .iter()
            .filter(|m| m["content"] == note.as_str())
            .count()
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let before = notes();
        discord
            .user_message(thread, &operator(), "echo into-an-ended-watch")
            .unwrap();
        until("the note in the ended watch's thread", || {
            (notes() > before).then_some(())
        })
        .await;
        if looked_up(discord, thread) > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bot never asked Discord about the thread of an ended watch"
        );
    }
}

/// How many times the bot asked Discord what `channel` is.
fn looked_up(discord: &FakeDiscord, channel: u64) -> usize {
    discord
        .requests()
        .iter()
        .filter(|r| r.route == Route::GetChannel && r.segment(1) == Some(&channel.to_string()))
        .count()
}

/// The latest content of a message.
/// The first message of `channel` that says `text` and has a button
/// labelled `label`: the message and the button's custom id.
fn button(discord: &FakeDiscord, channel: u64, text: &str, label: &str) -> Option<(u64, String)> {
    discord.messages_in(channel).iter().find_map(|m| {
        m["content"].as_str()?.contains(text).then_some(())?;
        let button = m["components"]
            .as_array()?
            .iter()
            .filter_map(|row| row["components"].as_array())
            .flatten()
            .find(|b| b["label"] == label)?;
        Some((id_of(m), button["custom_id"].as_str()?.to_string()))
    })
}

fn content(discord: &FakeDiscord, id: u64) -> String {
    discord
        .message(id)
        .and_then(|m| m["content"].as_str().map(String::from))
        .unwrap_or_default()
}

/// A Discord id as JSON carries it (a string).
fn id_value(id: u64) -> Value {
    Value::String(id.to_string())
}

fn id_of(v: &Value) -> u64 {
    v["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_thread_live_screen_prompt_buttons_typed_lines_and_exit() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("w");
    run(&discord, &id, "bash --norc --noprofile").await;
    let (thread, live) = watch(&discord, &id).await;
    assert_eq!(
        discord.threads_of(ids::CHANNEL_GENERAL).first().map(id_of),
        Some(thread)
    );

    // An operator's line in the thread reaches the program; the live message shows it.
    discord
        .user_message(thread, &operator(), "echo typed-$((2+3))")
        .unwrap();
    until("typed-5 on the live screen", || {
        content(&discord, live).contains("typed-5").then_some(())
    })
    .await;
    // A viewer's line does not.
    discord
        .user_message(thread, &viewer(), "echo viewer-$((1+1))")
        .unwrap();
    until("the viewer's refusal", || {
        posted(&discord, thread, "refused")
    })
    .await;

    // A 429 on the next edit: the bot waits, then edits the same message
    // with the latest screen.
    discord.script(
        Route::EditMessage,
        1,
        Reply::RateLimited {
            retry_after: Duration::from_millis(1000),
            global: false,
        },
    );
    discord
        .user_message(thread, &operator(), "echo after-429-$((3*3))")
        .unwrap();
    until("after-429-9 on the live screen", || {
        content(&discord, live)
            .contains("after-429-9")
            .then_some(())
    })
    .await;
    let edits: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::EditMessage)
        .collect();
    let limited = edits
        .iter()
        .position(|r| r.status == 429)
        .expect("the scripted 429 was hit");
    let retry = &edits[limited + 1..].first().expect("an edit after the 429");
    assert_eq!(
        retry.path, edits[limited].path,
        "the same message is edited"
    );
    let waited = retry.at - edits[limited].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
    assert!(
        edits
            .iter()
            .all(|r| r.segment(3) == Some(live.to_string().as_str())),
        "one live message is edited"
    );

    // A secret the program prints is scrubbed in what is posted (the typed
    // line splits it, so only the program's output has it whole).
    discord
        .user_message(
            thread,
            &operator(),
            "echo ghp_abcdefghij''klmnopqrstuvwxyz0123456789",
        )
        .unwrap();
    until("the redacted secret on the live screen", || {
        content(&discord, live).contains("REDACTED").then_some(())
    })
    .await;
    assert!(!everything_posted(&discord).contains(SECRET));

    // A waiting prompt: buttons from its options; a viewer's press is
    // refused, the operator's sends the keys.
    discord
        .user_message(
            thread,
            &operator(),
            "read -p 'Continue? [y/N] ' a; echo answer=$a",
        )
        .unwrap();
    let (note, custom_id) = until("the waiting notification with buttons", || {
        button(&discord, thread, "", "yes")
    })
    .await;
    assert!(content(&discord, note).contains(&format!("<@{OPERATOR_ID}>")));
    let press = discord.button_press(note, &viewer(), &custom_id).unwrap();
    let (text, ephemeral) = answer(&discord, &press).await;
    assert!(text.contains("refused") && ephemeral, "{text}");
    let press = discord.button_press(note, &operator(), &custom_id).unwrap();
    discord
        .wait_for_request(|r| r.path.contains(&press.token), WAIT)
        .await
        .unwrap();
    until("answer=y on the live screen", || {
        content(&discord, live).contains("answer=y").then_some(())
    })
    .await;

    // Exit: the final screen and the exit code.
    discord.user_message(thread, &operator(), "exit 3").unwrap();
    until("exit code 3", || posted(&discord, thread, "exit code 3")).await;
    // A line typed after the exit is answered (from what Discord says of
    // the thread: the ended watch is forgotten), asking once.
    typed_until_the_thread_is_looked_up(&discord, thread, &id).await;
    typed_until_the_thread_is_looked_up(&discord, thread, &id).await;
    assert_eq!(looked_up(&discord, thread), 1);

    let audit = bridge.audit();
    let has = |user: u64, action: &str, allowed: bool| {
        audit.iter().any(|e| {
            e["user"] == id_value(user)
                && e["action"] == action
                && e["allowed"] == allowed
                && e["session"] == id.as_str()
        })
    };
    assert!(has(OPERATOR_ID, "watch", true));
    assert!(has(OPERATOR_ID, "send", true));
    assert!(has(VIEWER_ID, "send", false));
    assert!(has(VIEWER_ID, "answer", false));
    assert!(has(OPERATOR_ID, "answer", true));
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_resumes_after_the_gateway_closes() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    assert!(discord.close_gateway(4000));
    discord
        .wait_gateway(|s| s.resumes >= 1 && s.established, WAIT)
        .await
        .expect("the bot resumes");
    assert_eq!(
        discord.gateway_stats().identifies,
        1,
        "resumed, not re-identified"
    );
    let (text, _) = operator_command(&discord, "ls", &[]).await;
    assert!(text.contains("No active sessions"), "{text}");
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_answers_in_its_channel_showing_tool_calls() {
    let model = llm::FakeServer::start(vec![
        tool_call("session_list", "{}"),
        final_answer(&format!("Nothing runs. {SECRET}")),
    ])
    .await;
    let discord = FakeDiscord::start().await.unwrap();
    let (bridge, _work) = Bridge::start_with_agent(&discord, &model).await;
    // A stranger in the agent channel is not heard.
    discord
        .user_message(ids::CHANNEL_OPS, &stranger(), "what runs?")
        .unwrap();
    discord
        .user_message(ids::CHANNEL_OPS, &operator(), "what runs?")
        .unwrap();
    until("the agent's answer", || {
        posted(&discord, ids::CHANNEL_OPS, "Nothing runs.")
    })
    .await;
    let posted: Vec<String> = discord
        .messages_in(ids::CHANNEL_OPS)
        .iter()
        .filter(|m| m["author"]["id"] == id_value(ids::BOT_USER))
        .filter_map(|m| m["content"].as_str().map(String::from))
        .collect();
    let tool = posted
        .iter()
        .position(|c| c.contains("session_list"))
        .expect("the tool call is shown");
    let answer = posted
        .iter()
        .position(|c| c.contains("Nothing runs."))
        .unwrap();
    assert!(tool < answer, "{posted:?}");
    assert!(!everything_posted(&discord).contains(SECRET));
    assert_eq!(model.requests().len(), 2, "one turn: two model requests");
    // The stranger's prompt never reached the model.
    let prompts = model.requests()[0].raw_body.clone();
    assert!(prompts.contains("olga says: what runs?"), "{prompts}");
    assert_eq!(prompts.matches("what runs?").count(), 1, "{prompts}");
    // The channel's conversation is stored for a restart.
    let map = std::fs::read_to_string(
        bridge
            .dir
            .path()
            .join("data/heimdall/discord/agent-channels.json"),
    )
    .expect("the channel map is saved");
    assert!(map.contains(&ids::CHANNEL_OPS.to_string()), "{map}");
    let audit = bridge.audit();
    assert!(audit.iter().any(|e| e["user"] == id_value(STRANGER_ID)
        && e["action"] == "agent"
        && e["allowed"] == false));
    assert!(audit.iter().any(|e| e["user"] == id_value(OPERATOR_ID)
        && e["action"] == "agent"
        && e["allowed"] == true));
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_live_message_replaces_one_discord_no_longer_lets_edit() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("fresh");
    run(&discord, &id, "bash --norc --noprofile").await;
    let (thread, first) = watch(&discord, &id).await;
    discord.script(
        Route::EditMessage,
        1,
        Reply::Error {
            status: 400,
            code: 30046,
            message: "Maximum number of edits to messages older than 1 hour reached.".into(),
        },
    );
    discord
        .user_message(thread, &operator(), "echo fresh-$((4+4))")
        .unwrap();
    let second = until("a fresh live message showing fresh-8", || {
        discord
            .messages_in(thread)
            .iter()
            .find(|m| {
                id_of(m) != first && m["content"].as_str().is_some_and(|c| c.contains("fresh-8"))
            })
            .map(id_of)
    })
    .await;
    discord
        .user_message(thread, &operator(), "echo later-$((5+5))")
        .unwrap();
    until("later-10 edited into the fresh message", || {
        content(&discord, second).contains("later-10").then_some(())
    })
    .await;
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_sends_named_keys_and_a_viewers_keys_are_refused() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    // Not "keys": the id shows in the heading, and "keys-21…" (a pid of 21…)
    // would count as a run of the line.
    let id = unique("named");
    run(&discord, &id, "bash --norc --noprofile").await;
    // The typed line never shows the output's text: only a run does.
    send(&discord, &id, "echo keys-$((20+1))").await;
    screen_until(&discord, &id, "keys-21 once", |s| {
        s.matches("keys-21").count() == 1
    })
    .await;

    let keys = |who: Actor, names: &'static str| {
        let discord = &discord;
        let id = id.clone();
        async move {
            command(
                discord,
                ids::CHANNEL_GENERAL,
                &who,
                "keys",
                &[("id", &id), ("keys", names)],
            )
            .await
        }
    };
    let (text, ephemeral) = keys(viewer(), "Up Enter").await;
    assert!(text.contains("refused") && ephemeral, "{text}");
    // A mistyped name sends nothing (not even the keys before it).
    let (text, _) = keys(operator(), "Up Entr").await;
    assert!(text.contains("failed") && text.contains("Entr"), "{text}");
    // Input is ordered: had either reached bash, keys-21 would show twice
    // before done-2 does.
    send(&discord, &id, "echo done-$((1+1))").await;
    let screen = screen_until(&discord, &id, "done-2", |s| s.contains("done-2")).await;
    assert_eq!(screen.matches("keys-21").count(), 1, "{screen}");

    // Up Up Enter: bash's history, two back, run again.
    let (text, ephemeral) = keys(operator(), "Up Up Enter").await;
    assert_eq!(text, format!("sent Up Up Enter to {id}"));
    assert!(!ephemeral);
    let screen = screen_until(&discord, &id, "keys-21 twice", |s| {
        s.matches("keys-21").count() == 2
    })
    .await;
    assert_eq!(screen.matches("done-2").count(), 1, "{screen}");

    let audit = bridge.audit();
    let keys_entry = |user: u64, allowed: bool| {
        audit
            .iter()
            .filter(|e| {
                e["user"] == id_value(user)
                    && e["action"] == "keys"
                    && e["allowed"] == allowed
                    && e["session"] == id.as_str()
            })
            .count()
    };
    assert_eq!(keys_entry(VIEWER_ID, false), 1, "{audit:#?}");
    assert_eq!(keys_entry(OPERATOR_ID, true), 2, "{audit:#?}");
    assert!(audit.iter().any(|e| e["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("Up Up Enter → sent"))));
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwatch_stops_the_live_screen_of_the_thread() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("unw");
    run(&discord, &id, "bash --norc --noprofile").await;
    let (thread, live) = watch(&discord, &id).await;
    send(&discord, &id, "echo before-$((2*4))").await;
    until("before-8 on the live screen", || {
        content(&discord, live).contains("before-8").then_some(())
    })
    .await;

    let (text, _) = operator_command(&discord, "unwatch", &[("id", &id)]).await;
    assert_eq!(text, format!("stopped watching `{id}`"));
    let said = until("the thread's last word", || {
        discord
            .messages_in(thread)
            .iter()
            .find(|m| m["content"] == format!("stopped watching `{id}`"))
            .map(id_of)
    })
    .await;
    let stopped_at = discord.requests().len();

    // The screen changes; a second watch shows the change twice over (its
    // first screen, then an edit), long after the first watch would have.
    send(&discord, &id, "echo after-$((6*6))").await;
    let (thread2, live2) = watch(&discord, &id).await;
    assert_ne!(thread2, thread, "a new thread");
    until("after-36 on the new live screen", || {
        content(&discord, live2).contains("after-36").then_some(())
    })
    .await;
    send(&discord, &id, "echo later-$((5*5))").await;
    until("later-25 on the new live screen", || {
        content(&discord, live2).contains("later-25").then_some(())
    })
    .await;

    let old = content(&discord, live);
    assert!(
        old.contains("before-8") && !old.contains("after-36"),
        "the old live message changed after /unwatch: {old}"
    );
    let into_old_thread: Vec<_> = discord.requests()[stopped_at..]
        .iter()
        .filter(|r| r.segment(1) == Some(thread.to_string().as_str()))
        .map(|r| format!("{:?} {}", r.route, r.path))
        .collect();
    assert!(
        into_old_thread.is_empty(),
        "requests to the old thread after /unwatch: {into_old_thread:?}"
    );
    assert_eq!(
        discord.messages_in(thread).last().map(id_of),
        Some(said),
        "nothing posted in the old thread after its last word"
    );

    // A line typed in the old thread no longer reaches the session: the
    // bot says so there, and a later line is the only one that runs.
    discord
        .user_message(thread, &operator(), "echo stale-$((3+4))")
        .unwrap();
    until("the note in the old thread", || {
        posted(&discord, thread, "no longer watched")
    })
    .await;
    typed_until_the_thread_is_looked_up(&discord, thread, &id).await;
    send(&discord, &id, "echo fresh-$((4+5))").await;
    let screen = screen_until(&discord, &id, "fresh-9", |s| s.contains("fresh-9")).await;
    assert!(!screen.contains("stale-7"), "{screen}");

    // Unwatching twice: the second says so.
    let (text, _) = operator_command(&discord, "unwatch", &[("id", &id)]).await;
    assert_eq!(text, format!("stopped watching `{id}`"));
    let (text, _) = operator_command(&discord, "unwatch", &[("id", &id)]).await;
    assert_eq!(text, format!("`{id}` is not being watched"));
    assert!(bridge
        .audit()
        .iter()
        .any(|e| e["action"] == "unwatch" && e["allowed"] == true && e["session"] == id.as_str()));
    bridge.assert_no_unparsed_events();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_during_a_turn_is_queued_with_a_note_and_answered_after_it() {
    let gate = unique("gate");
    // The first turn waits on a session the test ends; its answer, then
    // the second turn's.
    let wait_args = serde_json::json!({"id": gate, "until": "exit", "timeout_secs": 240});
    let model = llm::FakeServer::start(vec![
        tool_call("session_wait", &wait_args.to_string()),
        final_answer("First answer."),
        final_answer("Second answer."),
    ])
    .await;
    let discord = FakeDiscord::start().await.unwrap();
    let (bridge, _work) = Bridge::start_with_agent(&discord, &model).await;
    run(&discord, &gate, "sleep 600").await;
    let posted = |needle: &'static str| {
        let discord = &discord;
        move || posted(discord, ids::CHANNEL_OPS, needle)
    };
    discord
        .user_message(ids::CHANNEL_OPS, &operator(), "wait for the gate")
        .unwrap();
    let tool = until("the first turn's session_wait", posted("session_wait")).await;
    discord
        .user_message(ids::CHANNEL_OPS, &operator(), "and then?")
        .unwrap();
    let note = until(
        "the queued note",
        posted("queued for the agent (1 turn(s) ahead in this channel): and then?"),
    )
    .await;
    assert_eq!(
        model.requests().len(),
        1,
        "the second prompt waits for the first turn"
    );
    assert!(posted("answer.")().is_none(), "no answer yet");

    let (killed, _) = operator_command(&discord, "kill", &[("id", &gate)]).await;
    assert!(killed.contains("ended"), "{killed}");
    let second = until("the second answer", posted("Second answer.")).await;
    let first = posted("First answer.")().expect("the first answer");
    assert!(tool < note && note < first && first < second);

    let requests = model.requests();
    assert_eq!(requests.len(), 3, "two turns: three model requests");
    assert!(
        requests[1].raw_body.contains("exited"),
        "the wait ended with the session: {}",
        requests[1].raw_body
    );
    assert!(!requests[1].raw_body.contains("and then?"));
    // The second turn continues the channel's conversation.
    let last = &requests[2].raw_body;
    assert!(
        last.contains("olga says: and then?")
            && last.contains("olga says: wait for the gate")
            && last.contains("First answer."),
        "{last}"
    );
    // The note was posted once; the bot answered nothing else in between.
    let notes = discord
        .messages_in(ids::CHANNEL_OPS)
        .iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("queued"))
        })
        .count();
    assert_eq!(notes, 1);
    bridge.assert_no_unparsed_events();
}

/// /keys to a session whose program has exited (its supervisor still
/// serving) is an error naming the exit code, not "sent"; keys that end
/// the program are a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_to_a_program_that_has_exited_are_an_error() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("ended");
    let held = llm::sessions::exited_but_served(hm(), &bridge.sockets(), &id).await;
    let (text, _) = operator_command(&discord, "keys", &[("id", &id), ("keys", "y Enter")]).await;
    assert!(
        text.contains("failed")
            && text.contains("has ended (exit code 137)")
            && text.contains("not typed")
            && !text.contains("(dead)"),
        "{text}"
    );
    assert!(bridge.audit().iter().any(|e| e["action"] == "keys"
        && e["session"] == id.as_str()
        && e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("exit code 137"))));
    drop(held);

    let ends = unique("ends");
    run(&discord, &ends, "read x; exit 3").await;
    let (text, _) = operator_command(&discord, "keys", &[("id", &ends), ("keys", "y Enter")]).await;
    assert_eq!(text, format!("sent y Enter to {ends}"));
    until("the session to end", || (!bridge.live(&ends)).then_some(())).await;
    bridge.assert_no_unparsed_events();
}

/// A piece of the token `ghp_` + `a1B2c3D4e5` three times + `zyxwvu` that
/// `text` shows, if any (the pieces the terminal's wrapping can make).
fn leaked(text: &str) -> Option<&'static str> {
    ["ghp_a1B2", "D4e5a1B2", "3D4e5zyx"]
        .into_iter()
        .find(|piece| text.contains(piece))
}

/// A secret the program prints near the right edge, so that the terminal
/// wraps it across two rows, is scrubbed whole in /screen, on the live
/// screen and on the final screen: no piece of it is posted. Also after
/// wide characters (CJK take two columns each: the row is full with fewer
/// characters than columns).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_wrapped_across_screen_rows_is_scrubbed_everywhere() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    // Then ghp_ + 30 + 6 characters. The command line itself holds none of
    // the pieces checked below (the repetition makes them).
    let token = "$(printf 'a1B2c3D4e5%.0s' 1 2 3)zyxwvu";
    for (before, redacted) in [
        // 70 zeros and a blank: the token starts at column 72 of 80.
        ("'%070d ghp_%s\\n' 0", "0 [REDACTED"),
        // 30 CJK characters (60 columns) and a blank: at column 61.
        (
            "'%s ghp_%s\\n' \"$(printf '密%.0s' $(seq 30))\"",
            "密 [REDACTED",
        ),
    ] {
        let id = unique("wrap");
        run(
            &discord,
            &id,
            &format!("printf {before} {token}; echo shown-$((6*7)); sleep 600"),
        )
        .await;
        let screen = screen_until(&discord, &id, "shown-42", |s| s.contains("shown-42")).await;
        assert_eq!(leaked(&screen), None, "{screen}");
        assert!(screen.contains(redacted), "{screen}");

        let (thread, live) = watch(&discord, &id).await;
        let shown = content(&discord, live);
        assert_eq!(leaked(&shown), None, "{shown}");
        assert!(shown.contains(redacted), "{shown}");

        let (killed, _) = operator_command(&discord, "kill", &[("id", &id)]).await;
        assert!(killed.contains("ended"), "{killed}");
        until("the exit in the thread", || {
            posted(&discord, thread, "exit code 143")
        })
        .await;
        let last = content(&discord, live);
        assert!(last.contains("exited"), "the final screen: {last}");
        assert!(last.contains(redacted), "{last}");
        assert_eq!(leaked(&everything_posted(&discord)), None);
    }
    drop(bridge);
}

/// Discord answering 429 to the messages that matter most (the notice that
/// a watched session exited, mentioning who started it; the agent's answer)
/// delays them, it does not lose them: each is posted once the limit
/// passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_notices_and_answers_are_posted_after_the_limit() {
    let model = llm::FakeServer::start(vec![final_answer("All quiet here.")]).await;
    let discord = FakeDiscord::start().await.unwrap();
    let (bridge, _work) = Bridge::start_with_agent(&discord, &model).await;
    let id = unique("limited");
    run(&discord, &id, "read line; exit 5").await;
    let (thread, live) = watch(&discord, &id).await;
    let limited = Reply::RateLimited {
        retry_after: Duration::from_millis(300),
        global: false,
    };

    // The next two new messages anywhere are refused with a 429: the exit
    // notice is the next one.
    discord.script(Route::CreateMessage, 2, limited.clone());
    // The line ends the program: how /send words that is not the point here.
    operator_command(&discord, "send", &[("id", &id), ("text", "bye")]).await;
    until("the exit notice after the 429s", || {
        posted(&discord, thread, "exit code 5")
    })
    .await;
    assert!(content(&discord, live).contains("exited"));

    discord.script(Route::CreateMessage, 2, limited);
    discord
        .user_message(ids::CHANNEL_OPS, &operator(), "anything running?")
        .unwrap();
    until("the agent's answer after the 429s", || {
        posted(&discord, ids::CHANNEL_OPS, "All quiet here.")
    })
    .await;
    let refused = discord
        .requests()
        .iter()
        .filter(|r| r.route == Route::CreateMessage && r.status == 429)
        .count();
    assert_eq!(refused, 4, "every scripted 429 was met");
    bridge.assert_no_unparsed_events();
}

/// A screen too big for a message goes out as a file: a secret the
/// terminal wrapped across rows is scrubbed whole in the file too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_secret_is_scrubbed_in_a_screen_sent_as_a_file() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("bigwrap");
    run(&discord, &id, "bash --norc --noprofile").await;
    // A terminal of 120x40 (someone attached with a big one): its full
    // screen does not fit in a message.
    let client = SocketDir::new(bridge.sockets())
        .connect(&id, heimdall_client::ClientBuilder::new())
        .await
        .unwrap();
    client.resize(120, 40).await.unwrap();
    // 110 zeros and a blank: the token starts at column 112 of 120.
    send(
        &discord,
        &id,
        "for i in $(seq 36); do printf '%0120d\\n' $i; done; printf '%0110d ghp_%s\\n' 0 $(printf 'a1B2c3D4e5%.0s' 1 2 3)zyxwvu",
    )
    .await;
    let screen = screen_until(&discord, &id, "the file of the whole screen", |s| {
        s.contains("full text attached")
    })
    .await;
    assert!(screen.contains("REDACTED"), "{screen}");
    let posted = everything_posted(&discord);
    assert!(posted.contains("[REDACTED"));
    for piece in ["ghp_a1B2", "D4e5a1B2", "3D4e5zyx"] {
        assert!(!posted.contains(piece), "{piece} posted");
    }
}

/// A watched program that prints a lot, fast, and exits at once: the live
/// message is edited no faster than Discord allows (one edit per 1.2 s),
/// and its last edit, the final screen, shows the end of the output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_that_ends_at_once_keeps_the_pace_and_shows_its_end() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("flood");
    run(
        &discord,
        &id,
        "read go; seq 1 200000; echo the-end-$((6*7)); exit 7",
    )
    .await;
    let (thread, live) = watch(&discord, &id).await;
    operator_command(&discord, "send", &[("id", &id), ("text", "go")]).await;
    until("the exit in the thread", || {
        posted(&discord, thread, "exit code 7")
    })
    .await;
    let last = content(&discord, live);
    assert!(
        last.contains("exited") && last.contains("the-end-42"),
        "the final screen lost the end: {last}"
    );
    let edits: Vec<_> = discord
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::EditMessage && r.segment(3) == Some(&live.to_string()))
        .collect();
    for pair in edits.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(1150),
            "two edits {gap:?} apart"
        );
    }
    bridge.assert_no_unparsed_events();
}

/// Someone on no list (default deny) is refused every command, button and
/// typed line, and learns nothing: no screen, no session id (autocomplete
/// offers none), nothing typed, nothing ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_is_refused_everything_and_learns_nothing() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("hidden");
    run(
        &discord,
        &id,
        "echo private-$((6*7)); read -p 'Continue? [y/N] ' a; echo answer=$a; sleep 600",
    )
    .await;
    let (thread, _live) = watch(&discord, &id).await;
    let custom_id = until("the waiting notification with buttons", || {
        discord.messages_in(thread).iter().find_map(|m| {
            let b = m["components"][0]["components"][0]["custom_id"].as_str()?;
            Some((id_of(m), b.to_string()))
        })
    })
    .await;
    let before = discord.requests().len();

    for (name, opts) in [
        ("ls", vec![]),
        ("status", vec![("id", id.as_str())]),
        ("screen", vec![("id", id.as_str())]),
        ("send", vec![("id", id.as_str()), ("text", "y")]),
        ("keys", vec![("id", id.as_str()), ("keys", "y Enter")]),
        ("interrupt", vec![("id", id.as_str())]),
        ("kill", vec![("id", id.as_str())]),
        ("watch", vec![("id", id.as_str())]),
        ("unwatch", vec![("id", id.as_str())]),
        ("run", vec![("command", "true")]),
        ("ask", vec![("prompt", "hi")]),
    ] {
        for channel in [ids::CHANNEL_GENERAL, thread] {
            let (text, ephemeral) = command(&discord, channel, &stranger(), name, &opts).await;
            assert!(
                text.starts_with("refused") && ephemeral,
                "/{name} in {channel}: {text}"
            );
        }
    }
    let sent = discord
        .autocomplete(
            ids::CHANNEL_GENERAL,
            &stranger(),
            "screen",
            vec![CommandOption::string("id", "").focused()],
        )
        .unwrap();
    let r = discord
        .wait_for_request(
            |r| r.path.contains(&sent.token) && r.route == Route::InteractionCallback,
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(
        r.body.as_ref().unwrap()["data"]["choices"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{:?}",
        r.body
    );
    let press = discord
        .button_press(custom_id.0, &stranger(), &custom_id.1)
        .unwrap();
    let (text, ephemeral) = answer(&discord, &press).await;
    assert!(text.starts_with("refused") && ephemeral, "{text}");
    discord.user_message(thread, &stranger(), "y").unwrap();
    // Posted in the thread (the slash commands' refusals there are
    // ephemeral answers).
    until("the refusal of the stranger's line", || {
        (create_requests(&discord, thread, "refused") == 1).then_some(())
    })
    .await;

    // Nothing reached the session, it runs on, one thread, one watch.
    let screen = screen_until(&discord, &id, "the prompt", |s| s.contains("Continue?")).await;
    assert!(!screen.contains("answer="), "{screen}");
    assert!(bridge.live(&id));
    assert_eq!(discord.threads_of(ids::CHANNEL_GENERAL).len(), 1);
    // Nothing the bot sent after the stranger came in showed the screen
    // or the session's id, but to the operator's own /screen above.
    let leaked: Vec<String> = discord.requests()[before..]
        .iter()
        .filter(|r| {
            r.body.as_ref().is_some_and(|b| {
                let b = b.to_string();
                (b.contains(&id) || b.contains("private-42")) && !b.contains("Continue?")
            })
        })
        .map(|r| format!("{:?} {:?}", r.route, r.body))
        .collect();
    assert!(leaked.is_empty(), "{leaked:#?}");
    let refused = bridge
        .audit()
        .iter()
        .filter(|e| e["user"] == id_value(STRANGER_ID) && e["allowed"] == false)
        .count();
    assert_eq!(refused, 11 * 2 + 2, "{:#?}", bridge.audit());
    bridge.assert_no_unparsed_events();
}

/// A secret the terminal wrapped across two rows, the first of which has
/// scrolled off the top: the row left at the top holds the rest of it, and
/// that rest is scrubbed too (in /screen, on the live screen, on the final
/// screen), the line being read from its start in the scrollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_secret_whose_start_scrolled_off_is_scrubbed() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("scrolled");
    // Two rows of the token line, 22 more lines, and the line break after
    // the last: the first row of the token line scrolls off a screen of 24.
    run(
        &discord,
        &id,
        "printf '%070d ghp_%s\\n' 0 $(printf 'a1B2c3D4e5%.0s' 1 2 3)zyxwvu; seq 21; echo shown-$((6*7)); sleep 600",
    )
    .await;
    let screen = screen_until(&discord, &id, "shown-42", |s| s.contains("shown-42")).await;
    assert!(
        !screen.contains("0000000000"),
        "the token line's first row scrolled off: {screen}"
    );
    assert_eq!(leaked(&screen), None, "{screen}");

    let (thread, live) = watch(&discord, &id).await;
    let shown = content(&discord, live);
    assert_eq!(leaked(&shown), None, "{shown}");
    let (killed, _) = operator_command(&discord, "kill", &[("id", &id)]).await;
    assert!(killed.contains("ended"), "{killed}");
    until("the exit in the thread", || {
        posted(&discord, thread, "exit code 143")
    })
    .await;
    assert_eq!(leaked(&everything_posted(&discord)), None);
    drop(bridge);
}

/// `hm screen` of session `id` (on this machine, not through Discord),
/// again until it shows `text`.
async fn until_on_screen(bridge: &Bridge, id: &str, text: &str) {
    until(&format!("{text} on the screen of {id}"), || {
        let out = Command::new(hm())
            .arg("--socket-dir")
            .arg(bridge.sockets())
            .args(["screen", id])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains(text)
            .then_some(())
    })
    .await;
}

/// A token the program is in the middle of writing (its first part on the
/// screen, the rest to come) is not posted in part: /screen and the live
/// watch mask the word at the cursor that looks like a secret's beginning
/// until it is finished, then the whole token is redacted (the first part
/// alone, too short for the scrubber's pattern, was posted in clear).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_still_being_written_is_not_posted_in_part() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("halftoken");
    let go = bridge.dir.path().join("go");
    // ghp_ and 15 characters; once `go` exists, 21 more and the line end.
    let command = format!(
        "printf 'export T=gh%s_%s' p $(printf 'q7W%.0s' 1 2 3 4 5); \
         while [ ! -e {go:?} ]; do sleep 0.05; done; \
         printf '%s\\n' $(printf 'Z9x%.0s' 1 2 3 4 5 6 7); echo done-$((6*7)); sleep 600"
    );
    run(&discord, &id, &command).await;
    let leaked = |text: &str| {
        ["q7Wq7Wq7", "Z9xZ9xZ9"]
            .into_iter()
            .find(|piece| text.contains(piece))
    };
    until_on_screen(&bridge, &id, "q7Wq7Wq7Wq7Wq7W").await;
    let (screen, _) = operator_command(&discord, "screen", &[("id", &id)]).await;
    assert!(
        screen.contains("export T=[REDACTED:unfinished]"),
        "{screen}"
    );
    assert_eq!(leaked(&screen), None, "the first part was posted: {screen}");
    let (_, live) = watch(&discord, &id).await;
    let shown = content(&discord, live);
    assert_eq!(leaked(&shown), None, "the first part was posted: {shown}");

    std::fs::write(&go, "").unwrap();
    let screen = screen_until(&discord, &id, "done-42", |s| s.contains("done-42")).await;
    assert!(
        screen.contains("export T=[REDACTED:github-token]"),
        "{screen}"
    );
    until("the live screen's end", || {
        content(&discord, live).contains("done-42").then_some(())
    })
    .await;
    assert_eq!(leaked(&everything_posted(&discord)), None);
    drop(bridge);
}

/// SIGTERM, as a service manager stops the bridge, closes the gateway and
/// exits 0 as Ctrl-C does (it died of the signal, the bot showing online
/// until Discord's heartbeat timed out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_bridge_as_ctrl_c_does() {
    let discord = FakeDiscord::start().await.unwrap();
    let mut bridge = Bridge::start(&discord).await;
    let sent = Command::new("kill")
        .args(["-TERM", &bridge.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = bridge.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM: {}",
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{status:?}: {}", bridge.log());
    assert!(
        bridge.log().contains("stopping (SIGTERM)"),
        "{}",
        bridge.log()
    );
}

/// How many messages the bot asked to create in `channel` whose content has
/// `needle` (tries included).
fn create_requests(discord: &FakeDiscord, channel: u64, needle: &str) -> usize {
    discord
        .requests()
        .iter()
        .filter(|r| {
            r.route == Route::CreateMessage
                && r.segment(1) == Some(channel.to_string().as_str())
                && r.content().is_some_and(|c| c.contains(needle))
        })
        .count()
}

/// How many messages of `channel` have `needle`.
fn messages_with(discord: &FakeDiscord, channel: u64, needle: &str) -> usize {
    discord
        .messages_in(channel)
        .iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.contains(needle)))
        .count()
}

/// A message whose answer Discord lost is posted once: not twice when it
/// was stored before the answer was lost (a 504, a connection cut; the try
/// again carries the same nonce with `enforce_nonce`, and Discord gives the
/// first message back), and not never when the connection broke before it
/// was stored (tried again). Both for the live screen and the exit notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_answer_was_lost_is_posted_once() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let timeout_after_storing = Reply::DoneThen(Box::new(Reply::Error {
        status: 504,
        code: 0,
        message: "Gateway Timeout".into(),
    }));
    let cut_after_storing = Reply::DoneThen(Box::new(Reply::CutOff));
    for (exit, live_reply, notice_reply) in [
        (3, timeout_after_storing.clone(), timeout_after_storing),
        (4, cut_after_storing, Reply::CutOff),
    ] {
        let id = unique("lost");
        run(&discord, &id, &format!("read line; exit {exit}")).await;
        // The live screen's first post: its answer is lost.
        discord.script(Route::CreateMessage, 1, live_reply);
        let (thread, live) = watch(&discord, &id).await;
        until("the live screen's post tried again", || {
            (create_requests(&discord, thread, "```") >= 2).then_some(())
        })
        .await;
        assert_eq!(
            messages_with(&discord, thread, "```"),
            1,
            "one live screen: {:#?}",
            discord.messages_in(thread)
        );
        // The exit notice: its answer is lost too.
        discord.script(Route::CreateMessage, 1, notice_reply);
        let notice = format!("exit code {exit}");
        operator_command(&discord, "send", &[("id", &id), ("text", "bye")]).await;
        until("the exit notice tried again", || {
            (create_requests(&discord, thread, &notice) >= 2).then_some(())
        })
        .await;
        assert_eq!(
            messages_with(&discord, thread, &notice),
            1,
            "one exit notice: {:#?}",
            discord.messages_in(thread)
        );
        until("the final screen in the live message", || {
            content(&discord, live).contains("exited").then_some(())
        })
        .await;
        assert_eq!(messages_with(&discord, thread, "```"), 1);
    }
    bridge.assert_no_unparsed_events();
}

/// A stranger's line in a watch thread whose watch has ended is refused as
/// in a running one: not answered with the session's id and how to watch
/// it again (that note is for those who may), and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_in_an_ended_watch_thread_is_refused_and_told_nothing() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("ended");
    run(&discord, &id, "sleep 600").await;
    let (thread, _live) = watch(&discord, &id).await;
    let (text, _) = operator_command(&discord, "unwatch", &[("id", &id)]).await;
    assert!(text.contains("stopped watching"), "{text}");
    until("the watch's end in the thread", || {
        posted(&discord, thread, "stopped watching")
    })
    .await;
    let before = discord.requests().len();
    discord.user_message(thread, &stranger(), "y").unwrap();
    until("the refusal of the stranger's line", || {
        posted(&discord, thread, "refused")
    })
    .await;
    let told: Vec<String> = discord.requests()[before..]
        .iter()
        .filter(|r| r.route == Route::CreateMessage)
        .filter_map(|r| r.content().map(String::from))
        .collect();
    assert!(
        told.iter()
            .all(|t| !t.contains(&id) && !t.contains("watch")),
        "{told:#?}"
    );
    let refused = bridge
        .audit()
        .iter()
        .filter(|e| e["user"] == id_value(STRANGER_ID) && e["allowed"] == false)
        .count();
    assert_eq!(refused, 1, "{:#?}", bridge.audit());
    // Those who may are still told.
    discord.user_message(thread, &operator(), "y").unwrap();
    until("the note to the operator", || {
        posted(&discord, thread, "is no longer watched here")
    })
    .await;
    assert!(bridge.live(&id));
    bridge.assert_no_unparsed_events();
}

/// Discord failing the acknowledgement of a command (a 429) or the edit
/// that carries its answer (a 503, a 429) delays the answer, it does not
/// lose it (the deferred response would say "thinking…" until the
/// interaction expired, or Discord that the bot did not answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_answer_discord_could_not_take_is_sent_again() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let unavailable = Reply::Error {
        status: 503,
        code: 0,
        message: "Service Unavailable".into(),
    };
    discord.script(Route::InteractionCallback, 1, Reply::BareRateLimit);
    discord.script(Route::EditOriginal, 1, unavailable);
    discord.script(Route::EditOriginal, 1, Reply::BareRateLimit);
    let sent = discord
        .slash_command(ids::CHANNEL_GENERAL, &operator(), "ls", vec![])
        .unwrap();
    let answer = discord
        .wait_for_request(
            |r| r.path.contains(&sent.token) && r.route == Route::EditOriginal && r.status == 200,
            WAIT,
        )
        .await
        .expect("the answer, after the 429s and the 503");
    assert!(
        answer.content().is_some_and(|c| c.contains("Sessions")),
        "{:?}",
        answer.body
    );
    bridge.assert_no_unparsed_events();
}

/// A question whose line wraps a secret across rows: the prompt the
/// supervisor reads is the cursor's row, which holds only the rest of the
/// token (too short for the scrubber's patterns alone). The waiting notice
/// posts it scrubbed as the screen shows it: no piece of the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_prompt_that_wraps_a_secret_is_posted_scrubbed() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("askwrap");
    // 70 zeros and a blank, then the token from column 71 of 80: the
    // cursor's row starts with its 27 last characters.
    run(
        &discord,
        &id,
        "printf '%070d ghp_%s? [y/N] ' 0 $(printf 'a1B2c3D4e5%.0s' 1 2 3)zyxwvu; read a; echo got-$a; sleep 600",
    )
    .await;
    let (thread, _live) = watch(&discord, &id).await;
    let notice = until("the waiting notice", || {
        discord.messages_in(thread).into_iter().find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("waiting for input"))
        })
    })
    .await;
    let text = notice["content"].as_str().unwrap_or_default();
    assert_eq!(leaked(text), None, "{text}");
    assert!(text.contains("[y/N]"), "{text}");
    assert_eq!(leaked(&everything_posted(&discord)), None);
    bridge.assert_no_unparsed_events();
}

/// The gateway dropping while a watch runs (closed with 4000, then the
/// session invalidated with op 9): lines typed in the thread meanwhile
/// reach the program once the bot is back (replayed on RESUME; after the
/// new READY of a new session, which Discord does not tell of them, read
/// back from the thread, also one of an operator by role), and the live
/// screen goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_goes_on_across_gateway_drops() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("drops");
    run(&discord, &id, "while read l; do echo got-$l-$((6*7)); done").await;
    let (thread, live) = watch(&discord, &id).await;

    assert!(discord.close_gateway(4000));
    discord.user_message(thread, &operator(), "one").unwrap();
    discord
        .wait_gateway(|s| s.resumes >= 1 && s.established, WAIT)
        .await
        .expect("the bot resumes");
    until("the line typed while the gateway was down", || {
        content(&discord, live).contains("got-one-42").then_some(())
    })
    .await;

    assert!(discord.invalidate_session());
    discord.user_message(thread, &operator(), "two").unwrap();
    let by_role = Actor::new(1_400_000_000_000_000_004, "rob").with_roles(&[ids::ROLE_OPERATOR]);
    discord.user_message(thread, &by_role, "three").unwrap();
    discord
        .wait_gateway(|s| s.identifies >= 2 && s.established, WAIT)
        .await
        .expect("the bot identifies again");
    until("the lines typed while the session was invalid", || {
        let shown = content(&discord, live);
        (shown.contains("got-two-42") && shown.contains("got-three-42")).then_some(())
    })
    .await;
    // Each once, in order.
    let shown = content(&discord, live);
    assert_eq!(shown.matches("got-two-42").count(), 1, "{shown}");
    assert!(
        shown.find("got-two-42") < shown.find("got-three-42"),
        "{shown}"
    );
    let (text, _) = operator_command(&discord, "status", &[("id", &id)]).await;
    assert!(text.contains(&id), "{text}");
    let threads = discord.threads_of(ids::CHANNEL_GENERAL).len();
    assert_eq!(threads, 1, "one watch thread");
    bridge.assert_no_unparsed_events();
}

/// Lines typed in a watch thread while the bot's gateway session was
/// invalid after more than one page of Discord's message list (100) are
/// read back page after page and typed into the session, each once, in
/// order; beyond the read-back bound (1,000 messages) the thread says that
/// lines were not typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_typed_while_the_session_was_invalid_are_read_back_page_after_page() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("pages");
    let typed = bridge.dir.path().join("typed");
    run(&discord, &id, &format!("cat > {}", typed.display())).await;
    let (thread, _live) = watch(&discord, &id).await;
    // Messages of the bot's (not typed; posted while the gateway session
    // is live, so that the session is lost only once they are all in: the
    // bot identifies again a few seconds after) fill the first pages.
    let bot = Actor::new(ids::BOT_USER, "hm");
    let invalid_while = |messages: usize, lines: &[&str]| {
        for n in 0..messages {
            discord
                .user_message(thread, &bot, &format!("note {n}"))
                .unwrap();
        }
        assert!(discord.invalidate_session());
        for line in lines {
            discord.user_message(thread, &operator(), line).unwrap();
        }
    };
    invalid_while(120, &["one", "two", "three"]);
    discord
        .wait_gateway(|s| s.identifies >= 2 && s.established, WAIT)
        .await
        .expect("the bot identifies again");
    let wanted = "one\ntwo\nthree\n";
    until("the lines after the first page typed", || {
        let got = std::fs::read_to_string(&typed).unwrap_or_default();
        (got.len() >= wanted.len()).then_some(())
    })
    .await;
    assert_eq!(std::fs::read_to_string(&typed).unwrap(), wanted);

    invalid_while(1000, &["four"]);
    discord
        .wait_gateway(|s| s.identifies >= 3 && s.established, WAIT)
        .await
        .expect("the bot identifies again");
    until("the note that lines were not typed", || {
        posted(&discord, thread, "were not typed")
    })
    .await;
    assert_eq!(std::fs::read_to_string(&typed).unwrap(), wanted);
    bridge.assert_no_unparsed_events();
}

/// Commands with bad arguments are answered with what is wrong, and
/// nothing is started, typed or watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_with_bad_arguments_say_what_is_wrong() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("args");
    run(&discord, &id, "sleep 600").await;
    // Command, options, and what the answer must say.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        ("run", vec![("command", "true"), ("id", "no/such id")], "id"),
        (
            "run",
            vec![("command", "true"), ("id", &id)],
            "already running",
        ),
        (
            "run",
            vec![("command", "true"), ("cwd", "/no/such/dir")],
            "/no/such/dir",
        ),
        ("run", vec![("command", "   ")], "give a command"),
        ("status", vec![("id", "../../etc")], "id"),
        (
            "status",
            vec![("id", "nobody-runs-this")],
            "nobody-runs-this",
        ),
        (
            "screen",
            vec![("id", "nobody-runs-this")],
            "nobody-runs-this",
        ),
        (
            "send",
            vec![("id", "nobody-runs-this"), ("text", "x")],
            "nobody-runs-this",
        ),
        (
            "keys",
            vec![("id", &id), ("keys", "C-c NoSuchKey")],
            "NoSuchKey",
        ),
        ("keys", vec![("id", &id), ("keys", "  ")], "give key names"),
        (
            "watch",
            vec![("id", "nobody-runs-this")],
            "nobody-runs-this",
        ),
        ("kill", vec![("id", "nobody-runs-this")], "nobody-runs-this"),
        (
            "unwatch",
            vec![("id", "nobody-runs-this")],
            "not being watched",
        ),
    ];
    for (name, options, says) in cases {
        let (text, _) = operator_command(&discord, name, &options).await;
        assert!(
            text.contains(says),
            "/{name} {options:?}: {text:?} does not say {says:?}"
        );
    }
    assert!(discord.threads_of(ids::CHANNEL_GENERAL).is_empty());
    assert_eq!(
        SocketDir::new(bridge.sockets()).running().unwrap(),
        vec![id.clone()]
    );
    bridge.assert_no_unparsed_events();
}

/// Many sessions at once: a dozen /run sent together all start, /ls lists
/// every one (as a file once the list is too long for a message), several
/// watches run side by side, and each says how its session ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sessions_at_once() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let ids: Vec<String> = (0..12).map(|i| unique(&format!("many{i:02}"))).collect();
    let sent: Vec<SentInteraction> = ids
        .iter()
        .map(|id| {
            let command = format!("echo ready-{id}; read l; exit 9");
            let options = vec![
                CommandOption::string("command", &command),
                CommandOption::string("id", id),
            ];
            discord
                .slash_command(ids::CHANNEL_GENERAL, &operator(), "run", options)
                .unwrap()
        })
        .collect();
    for (id, sent) in ids.iter().zip(&sent) {
        let (text, _) = answer(&discord, sent).await;
        assert!(text.contains(&format!("started `{id}`")), "{text}");
    }
    let (list, _) = operator_command(&discord, "ls", &[]).await;
    let listed = discord
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.route == Route::EditOriginal && r.content() == Some(list.as_str()))
        .map(|r| {
            r.files
                .iter()
                .map(|f| String::from_utf8_lossy(&f.data).into_owned())
                .collect::<String>()
        })
        .unwrap_or_default();
    for id in &ids {
        assert!(
            list.contains(id.as_str()) || listed.contains(id.as_str()),
            "{id} not in /ls: {list}\n{listed}"
        );
    }
    let watched: Vec<(u64, &String)> = {
        let mut w = Vec::new();
        for id in ids.iter().take(4) {
            w.push((watch(&discord, id).await.0, id));
        }
        w
    };
    for id in &ids {
        send(&discord, id, "bye").await;
    }
    for (thread, id) in &watched {
        until("each watch's exit notice", || {
            posted(&discord, *thread, &format!("`{id}` exited: exit code 9"))
        })
        .await;
    }
    until("every session to end", || {
        ids.iter().all(|id| !bridge.live(id)).then_some(())
    })
    .await;
    assert_eq!(discord.threads_of(ids::CHANNEL_GENERAL).len(), 4);
    bridge.assert_no_unparsed_events();
}

/// A 429 on the watch thread's creation delays /watch, it does not fail
/// it (a 429 means Discord did not create it, so trying again makes one
/// thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_watch_thread_is_created_after_the_limit() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("thread429");
    run(&discord, &id, "sleep 600").await;
    discord.script(
        Route::StartThread,
        1,
        Reply::RateLimited {
            retry_after: Duration::from_millis(300),
            global: true,
        },
    );
    watch(&discord, &id).await;
    assert_eq!(discord.threads_of(ids::CHANNEL_GENERAL).len(), 1);
    bridge.assert_no_unparsed_events();
}

/// Discord's rate limits as it keeps them, 429s until their `retry_after`
/// has passed: a limit on new messages delays the live screen's first post
/// (one live message all the same); under the global limit a command is
/// still answered (interaction routes are spared), and the exit notice and
/// the final screen come once it has passed, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_as_discord_keeps_them() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("limits");
    run(&discord, &id, "read l; exit 6").await;
    discord.rate_limit(Some(Route::CreateMessage), Duration::from_millis(2500));
    let (thread, live) = watch(&discord, &id).await;
    assert_eq!(messages_with(&discord, thread, "```"), 1);

    discord.rate_limit(None, Duration::from_secs(3));
    let (status, _) = operator_command(&discord, "status", &[("id", &id)]).await;
    assert!(status.contains(&id), "{status}");
    send(&discord, &id, "bye").await;
    until("the exit notice after the limit", || {
        posted(&discord, thread, "exit code 6")
    })
    .await;
    until("the final screen after the limit", || {
        content(&discord, live).contains("exited").then_some(())
    })
    .await;
    assert_eq!(messages_with(&discord, thread, "exit code 6"), 1);
    assert_eq!(messages_with(&discord, thread, "```"), 1);
    let refused = discord
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(refused >= 3, "the limits were met: {refused} 429s");
    bridge.assert_no_unparsed_events();
}

/// Two /watch of one session at once (a double submit, two operators)
/// open one thread: the second is told where it is watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watches_of_one_session_at_once_open_one_thread() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("twice");
    run(&discord, &id, "sleep 600").await;
    let sent: Vec<SentInteraction> = (0..2)
        .map(|_| {
            let options = vec![CommandOption::string("id", &id)];
            discord
                .slash_command(ids::CHANNEL_GENERAL, &operator(), "watch", options)
                .unwrap()
        })
        .collect();
    let mut answers = Vec::new();
    for s in &sent {
        answers.push(answer(&discord, s).await.0);
    }
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.contains("already watched"))
            .count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        discord.threads_of(ids::CHANNEL_GENERAL).len(),
        1,
        "{answers:?}"
    );
    bridge.assert_no_unparsed_events();
}

/// A prompt's button pressed twice at once (a double click) answers it
/// once: the second press is told the prompt is no longer waiting, and
/// types nothing into the question that comes next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_press_answers_a_prompt_once() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("double");
    run(
        &discord,
        &id,
        "read -p 'First? [y/N] ' a; read -p 'Second? [y/N] ' b; echo a=$a b=$b; sleep 600",
    )
    .await;
    let (thread, _live) = watch(&discord, &id).await;
    let (note, yes) = until("the first question's buttons", || {
        button(&discord, thread, "First?", "yes")
    })
    .await;
    let presses = [
        discord.button_press(note, &operator(), &yes).unwrap(),
        discord.button_press(note, &operator(), &yes).unwrap(),
    ];
    let mut answers = Vec::new();
    for p in &presses {
        answers.push(answer(&discord, p).await.0);
    }
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.contains("no longer waiting"))
            .count(),
        1,
        "{answers:?}"
    );
    screen_until(&discord, &id, "the second question", |s| {
        s.contains("Second?")
    })
    .await;
    send(&discord, &id, "n").await;
    screen_until(&discord, &id, "both answers", |s| s.contains("a=y b=")).await;
    let (screen, _) = operator_command(&discord, "screen", &[("id", &id)]).await;
    assert!(screen.contains("a=y b=n"), "{screen}");
    bridge.assert_no_unparsed_events();
}

/// Lines typed in a watch thread one right after the other reach the
/// program in the order they were typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_typed_fast_in_a_thread_arrive_in_order() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("order");
    run(&discord, &id, "while read l; do echo got-$l; done").await;
    let (thread, _live) = watch(&discord, &id).await;
    for i in 1..=8 {
        discord
            .user_message(thread, &operator(), &format!("line{i}"))
            .unwrap();
    }
    let screen = screen_until(&discord, &id, "the eight lines", |s| {
        (1..=8).all(|i| s.contains(&format!("got-line{i}")))
    })
    .await;
    let got: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.strip_prefix("got-"))
        .collect();
    let typed: Vec<String> = (1..=8).map(|i| format!("line{i}")).collect();
    assert_eq!(got, typed, "{screen}");
    bridge.assert_no_unparsed_events();
}

/// A request Discord never answers (a connection that died silently) is
/// given up after a while and tried again: the exit notice comes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_discord_never_answers_is_tried_again() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("silent");
    run(&discord, &id, "read l; exit 8").await;
    let (thread, _live) = watch(&discord, &id).await;
    discord.script(Route::CreateMessage, 1, Reply::Silence);
    send(&discord, &id, "bye").await;
    until("the exit notice after the unanswered try", || {
        posted(&discord, thread, "exit code 8")
    })
    .await;
    assert_eq!(create_requests(&discord, thread, "exit code 8"), 2);
    assert_eq!(messages_with(&discord, thread, "exit code 8"), 1);
    bridge.assert_no_unparsed_events();
}

/// A watched session whose supervisor is killed (SIGKILL: no exit event
/// on the connection) still ends its watch with the final notice: the
/// exit code its guardian recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_the_supervisor_is_killed() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("sigkill");
    run(&discord, &id, "sleep 600").await;
    let (thread, _live) = watch(&discord, &id).await;
    let supervisor = match SocketDir::new(bridge.sockets()).find(&id).unwrap().liveness {
        Liveness::Live(Some(pids)) => pids.supervisor,
        other => panic!("not running: {other:?}"),
    };
    let killed = Command::new("kill")
        .args(["-KILL", &supervisor.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    until("the exit notice", || {
        posted(&discord, thread, "exited: exit code")
    })
    .await;
    let notice = discord.messages_in(thread).into_iter().find(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.contains("exited: exit code"))
    });
    let text = notice.map(|m| m["content"].to_string()).unwrap_or_default();
    assert!(!text.contains("unknown"), "{text}");
    bridge.assert_no_unparsed_events();
}

/// Discord refusing the bot's intents (close 4014: Message Content is not
/// enabled for it) or its token (4004) stops hm-discord with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_intents_or_token_stop_the_bridge_saying_what_to_do() {
    for (code, says) in [(4014, "Message Content"), (4004, "DISCORD_TOKEN")] {
        let discord = FakeDiscord::start().await.unwrap();
        let mut bridge = Bridge::start(&discord).await;
        assert!(discord.close_gateway(code));
        let deadline = std::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = bridge.child.try_wait().expect("wait") {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "{}", bridge.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(status.code(), Some(1), "{}", bridge.log());
        assert!(bridge.log().contains(says), "{code}: {}", bridge.log());
    }
}

/// Who ran a session from Discord is mentioned in its watch's
/// notifications; a later session that reuses its id (started from a
/// terminal) mentions nobody: the first one's starter is not taken for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_session_id_does_not_mention_the_first_starter() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("reused");
    run(&discord, &id, "exit 0").await;
    until("the first session's end", || {
        (!bridge.live(&id)).then_some(())
    })
    .await;
    let started = Command::new(hm())
        .arg("--socket-dir")
        .arg(bridge.sockets())
        .args(["start", "--id", &id, "--"])
        .args(["sh", "-c", "read -p 'Go on? [y/N] ' a; sleep 600"])
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    let (thread, _live) = watch(&discord, &id).await;
    let (note, _yes) = until("the waiting notification", || {
        button(&discord, thread, "Go on?", "yes")
    })
    .await;
    let text = content(&discord, note);
    assert!(!text.contains(&format!("<@{OPERATOR_ID}>")), "{text}");
    bridge.assert_no_unparsed_events();
}

/// A watch thread Discord archived (inactive for its auto-archive time, as
/// after a suspended laptop's night, or archived by a moderator): the live
/// message can no longer be edited there (50083), so the screen that
/// follows is posted as a fresh live message, which unarchives the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_after_discord_archived_the_watch_thread_is_shown() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("archived");
    run(&discord, &id, "read l; echo woke-$((6*7)); sleep 600").await;
    let (thread, _live) = watch(&discord, &id).await;
    discord.archive_thread(thread).unwrap();
    send(&discord, &id, "go").await;
    until("woke-42 in the thread", || {
        posted(&discord, thread, "woke-42")
    })
    .await;
    let archived = discord.channel(thread).unwrap()["thread_metadata"]["archived"].clone();
    assert_eq!(archived, false);
    bridge.assert_no_unparsed_events();
}

/// A watch thread a moderator archived and locked refuses the fresh live
/// message too (50083: a message no longer unarchives it): it is tried
/// again less and less often, as any other failure, not every 1.2 s for as
/// long as the session prints (a request each time, spent from the bot's
/// rate limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_thread_is_not_posted_to_again_and_again() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("locked");
    let ticks =
        "read l; for i in $(seq 40); do echo tick-$i; sleep 0.5; done; echo tick''ed; sleep 600";
    run(&discord, &id, ticks).await;
    let (thread, _live) = watch(&discord, &id).await;
    discord.archive_thread(thread).unwrap();
    // Locked: every message in the thread is refused.
    discord.script(
        Route::CreateMessage,
        10_000,
        Reply::Error {
            status: 400,
            code: 50083,
            message: "Thread is archived".into(),
        },
    );
    let before = discord.requests().len();
    send(&discord, &id, "go").await;
    // The program's own 20 s of output are the window.
    let waited = Command::new(hm())
        .arg("--socket-dir")
        .arg(bridge.sockets())
        .args(["wait", &id, "--regex", "ticked", "--timeout", "120000"])
        .output()
        .unwrap();
    assert!(waited.status.success(), "{waited:?}");
    let path = format!("/channels/{thread}/messages");
    let posts = discord.requests()[before..]
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count();
    // Backing off from 1.2 s doubling: 7 tries in 20 s at the most (at
    // 1.2 s each, 16).
    assert!(posts <= 8, "{posts} posts to the locked thread in 20 s");
    bridge.assert_no_unparsed_events();
}

/// A rate limit that outlasts a message's six tries (31 s) delays the
/// final screen and the exit notice, it does not lose them: through a REST
/// proxy serenity passes on no `retry_after`, so the bridge cannot know
/// how long the limit lasts, and a 429 (which says nothing was done) is
/// tried again as long as it lasts, an hour at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_rate_limit_delays_the_exit_notice_without_losing_it() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("longlimit");
    run(&discord, &id, "read l; echo last-$((6*7)); exit 4").await;
    let (thread, live) = watch(&discord, &id).await;
    discord.rate_limit(None, Duration::from_secs(40));
    send(&discord, &id, "bye").await;
    until_within(WAIT * 3, "the exit notice after the limit", || {
        posted(&discord, thread, "exit code 4")
    })
    .await;
    let last = content(&discord, live);
    assert!(
        last.contains("exited") && last.contains("last-42"),
        "{last}"
    );
    assert_eq!(messages_with(&discord, thread, "exit code 4"), 1);
    bridge.assert_no_unparsed_events();
}

/// A stranger who types line after line in a watch thread (or mentions the
/// bot in a channel, again and again) is told once that they are refused,
/// not once per line: each refusal would be a post in the thread, spending
/// the bot's rate limit there, which the session's notices need. Every line
/// is audited all the same. Their lines in another channel cost no more than
/// one look-up of that channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_typing_again_and_again_is_told_once() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("spam");
    run(&discord, &id, "while read l; do echo got-$l; done").await;
    let (thread, live) = watch(&discord, &id).await;
    let mention = format!("<@{}> hi", ids::APPLICATION);
    for i in 0..6 {
        discord
            .user_message(thread, &stranger(), &format!("spam{i}"))
            .unwrap();
        discord
            .user_message(ids::CHANNEL_OPS, &stranger(), &mention)
            .unwrap();
    }
    until("every line audited", || {
        let refused = bridge
            .audit()
            .iter()
            .filter(|e| e["user"] == id_value(STRANGER_ID) && e["allowed"] == false)
            .count();
        (refused == 12).then_some(())
    })
    .await;
    // The operator's line comes after the stranger's: once it shows, their
    // answers have been posted.
    discord.user_message(thread, &operator(), "ham").unwrap();
    until("got-ham on the live screen", || {
        content(&discord, live).contains("got-ham").then_some(())
    })
    .await;
    for channel in [thread, ids::CHANNEL_OPS] {
        until("the refusal", || {
            (create_requests(&discord, channel, "refused") > 0).then_some(())
        })
        .await;
        assert_eq!(create_requests(&discord, channel, "refused"), 1);
    }
    assert!(looked_up(&discord, ids::CHANNEL_OPS) <= 1);
    bridge.assert_no_unparsed_events();
}

/// Secrets in the shapes programs print them, beyond API keys: a
/// password in a URL, a PGP private key block, Stripe, GitLab, npm, Hugging
/// Face, Slack app, SendGrid and Google OAuth secrets, HTTP basic
/// credentials, an Azure account key, a Discord webhook's token. None of
/// them reaches Discord.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_many_shapes_are_scrubbed() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let secrets = [
        "Sup3rS3cretPw",
        "lQOYBGXpgpBodyLineOne",
        "sk_live_51HxAbCdEfGhIjKlMnOpQrStUv",
        "glpat-AbCdEfGhIjKlMnOpQrSt",
        "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
        "xapp-1-A0123456789-0123456789012-abcdef0123456789",
        "dXNlcjpodW50ZXIy",
        "Zm9vYmFyYmF6cXV4cXV1eA==",
        "AbCdEfGhIjKlMnOpQrStUvWxYz_0123456789-abcdefghij",
        "GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01",
        "SG.AbCdEfGhIjKlMnOpQrStUv.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg",
    ];
    let printed = [
        format!("DATABASE_URL=postgres://app:{}@db.internal:5432/app", secrets[0]),
        "-----BEGIN PGP PRIVATE KEY BLOCK-----".into(),
        secrets[1].into(),
        "=abcd".into(),
        "-----END PGP PRIVATE KEY BLOCK-----".into(),
        format!("stripe {}", secrets[2]),
        format!("gitlab {}", secrets[3]),
        format!("//registry.npmjs.org/:_authToken {}", secrets[4]),
        format!("hugging face {}", secrets[5]),
        format!("slack app {}", secrets[6]),
        format!("Authorization: Basic {}", secrets[7]),
        format!(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={};EndpointSuffix=core.windows.net",
            secrets[8]
        ),
        format!(
            "https://discord.com/api/webhooks/123456789012345678/{}",
            secrets[9]
        ),
        format!("client {}", secrets[10]),
        format!("sendgrid {}", secrets[11]),
        "all-printed".into(),
    ];
    let file = bridge.dir.path().join("secrets.txt");
    std::fs::write(&file, printed.join("\n") + "\n").unwrap();
    let id = unique("shapes");
    run(&discord, &id, &format!("cat {}; sleep 600", file.display())).await;
    let screen = screen_until(&discord, &id, "every line", |s| s.contains("all-printed")).await;
    let posted = everything_posted(&discord);
    // Neither end of any (a line the terminal wrapped shows only a part).
    let leaked: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| posted.contains(&s[..10]) || posted.contains(&s[s.len() - 10..]))
        .collect();
    assert!(leaked.is_empty(), "{leaked:#?}\n{screen}");
    bridge.assert_no_unparsed_events();
}

/// hm-discord restarted (killed, as a crash would) while watched sessions
/// run: the new one watches them again in their threads — a fresh live
/// screen, their prompts mentioning who started them, their exit — and
/// says in the thread of one that ended meanwhile how it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bridge_watches_again_in_the_same_threads() {
    let discord = FakeDiscord::start().await.unwrap();
    let mut bridge = Bridge::start(&discord).await;
    let id = unique("kept");
    run(&discord, &id, "read go; read -p 'Again? [y/N] ' a; exit 9").await;
    let gone = unique("gone");
    run(&discord, &gone, "read l; exit 5").await;
    let (thread, _live) = watch(&discord, &id).await;
    let (gone_thread, _) = watch(&discord, &gone).await;
    bridge
        .restart(&discord, |b| {
            let ended = Command::new(hm())
                .arg("--socket-dir")
                .arg(b.sockets())
                .args(["submit", &gone, "bye"])
                .output()
                .unwrap();
            assert!(ended.status.success() || !b.live(&gone), "{ended:?}");
        })
        .await;
    until("the end of the session that ended meanwhile", || {
        posted(&discord, gone_thread, "exit code 5")
    })
    .await;
    send(&discord, &id, "go").await;
    let (note, _yes) = until("the prompt in the same thread", || {
        button(&discord, thread, "Again?", "yes")
    })
    .await;
    assert!(content(&discord, note).contains(&format!("<@{OPERATOR_ID}>")));
    send(&discord, &id, "y").await;
    until("the exit in the same thread", || {
        posted(&discord, thread, "exit code 9")
    })
    .await;
    assert_eq!(discord.threads_of(ids::CHANNEL_GENERAL).len(), 2);
    bridge.assert_no_unparsed_events();
}

/// Sends SIGCONT to a stopped process when dropped (the test's end or a
/// panic), so that it can be ended.
struct Continue(i32);

impl Drop for Continue {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

/// A watched session whose supervisor does not answer when hm-discord
/// restarts (stopped) still runs: its watch is kept and taken up once it
/// answers, not reported as exited and dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bridge_waits_for_a_session_that_does_not_answer() {
    let discord = FakeDiscord::start().await.unwrap();
    let mut bridge = Bridge::start(&discord).await;
    let id = unique("stopped");
    run(&discord, &id, "while read l; do echo got-$l-$((6*7)); done").await;
    let (thread, _live) = watch(&discord, &id).await;
    let mut stopped = None;
    bridge
        .restart(&discord, |b| {
            let pid = SocketDir::new(b.sockets())
                .files(&id)
                .unwrap()
                .read_pids()
                .unwrap()
                .supervisor;
            let status = Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            stopped = Some(Continue(pid));
        })
        .await;
    until("the bridge finding the session does not answer", || {
        bridge.log().contains("does not answer").then_some(())
    })
    .await;
    drop(stopped);
    until("the watch taken up again", || {
        posted(&discord, thread, &format!("watching `{id}` here again"))
    })
    .await;
    send(&discord, &id, "on").await;
    until("the session's output in its thread", || {
        discord
            .messages_in(thread)
            .iter()
            .any(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("got-on-42"))
            })
            .then_some(())
    })
    .await;
    let all = everything_posted(&discord);
    assert!(!all.contains("exited while"), "{all}");
    bridge.assert_no_unparsed_events();
}

/// A watch thread someone deleted ends its watch: when the session prints,
/// the live screen's edit is answered Unknown Channel and the watch ends
/// (no longer tried, nor kept for a restart); /watch of a session whose
/// thread is gone opens a new thread, not "already watched" in the
/// deleted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_watch_thread_ends_its_watch() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let kept = bridge.dir.path().join(format!(
        "data/heimdall/discord/watches-{}.json",
        ids::BOT_USER
    ));
    let kept_has = |id: &str| {
        std::fs::read_to_string(&kept)
            .unwrap_or_default()
            .contains(id)
    };
    let printing = unique("printing");
    run(&discord, &printing, "while read l; do echo got-$l; done").await;
    let (thread, _) = watch(&discord, &printing).await;
    until("the watch kept", || kept_has(&printing).then_some(())).await;
    discord.delete_thread(thread).unwrap();
    send(&discord, &printing, "x").await;
    until("the watch's end", || (!kept_has(&printing)).then_some(())).await;

    let quiet = unique("quiet");
    run(&discord, &quiet, "while read l; do echo got-$l; done").await;
    let (thread, _) = watch(&discord, &quiet).await;
    discord.delete_thread(thread).unwrap();
    let (again, live) = watch(&discord, &quiet).await;
    assert_ne!(again, thread);
    send(&discord, &quiet, "y").await;
    until("got-y in the new thread", || {
        content(&discord, live).contains("got-y").then_some(())
    })
    .await;
    bridge.assert_no_unparsed_events();
}

/// A prompt's button from an earlier watch of the session (before an
/// /unwatch and a new /watch, or before hm-discord restarted) answers
/// nothing: each prompt's buttons are its own, so an old "yes" does not
/// answer the question the session asks now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_of_an_earlier_watch_answers_nothing() {
    let discord = FakeDiscord::start().await.unwrap();
    let bridge = Bridge::start(&discord).await;
    let id = unique("stale");
    run(
        &discord,
        &id,
        "read -p 'First? [y/N] ' a; read -p 'Second? [y/N] ' b; echo a=$a b=$b; sleep 600",
    )
    .await;
    let (first_thread, _) = watch(&discord, &id).await;
    let (old_note, old_yes) = until("the first question's buttons", || {
        button(&discord, first_thread, "First?", "yes")
    })
    .await;
    send(&discord, &id, "n").await;
    until("the second question", || {
        button(&discord, first_thread, "Second?", "yes")
    })
    .await;
    let (text, _) = operator_command(&discord, "unwatch", &[("id", &id)]).await;
    assert!(text.contains("stopped watching"), "{text}");
    until("the watch's end", || {
        posted(&discord, first_thread, "stopped watching")
    })
    .await;
    let (second_thread, _) = watch(&discord, &id).await;
    until("the second question in the new thread", || {
        button(&discord, second_thread, "Second?", "yes")
    })
    .await;
    let press = discord
        .button_press(old_note, &operator(), &old_yes)
        .unwrap();
    let (text, _) = answer(&discord, &press).await;
    assert!(text.contains("no longer waiting"), "{text}");
    send(&discord, &id, "n").await;
    let screen = screen_until(&discord, &id, "both answers", |s| s.contains("a=n b=")).await;
    assert!(screen.contains("a=n b=n"), "{screen}");
    bridge.assert_no_unparsed_events();
}
