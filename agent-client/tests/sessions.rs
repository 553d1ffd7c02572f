//! The session tools against the real `hm`: a scripted model starts bash,
//! submits a line, waits for idle and reads the screen and the output; the
//! cap reaps the oldest idle session; a wait longer than the tool limit is
//! cut to it and leaves the session running; a scripted model answers a
//! `waiting` prompt by its label; arguments of the wrong type or name are
//! refused, never ignored.

mod common;

use std::time::Duration;

use common::sessions::{
    calls, exited_but_served, held_config, hm, hold_after_exit, offered_tool, tool_result,
    tools_with, unique, until_supervisor_gone, Sessions, HELD_COMMAND,
};
use common::{poll, text_reply, FakeServer, DEADLINE};
use heimdall_agent::agent::{Agent, LoopLimits, TurnEnd};
use heimdall_agent::conversation::ToolCall;
use heimdall_agent::provider::{Provider, ProviderKind, ProviderSettings, RetryPolicy};
use heimdall_agent::tools::sessions::SessionTools;
use heimdall_agent::tools::{ToolOutput, ToolSet, Toolbox};
use heimdall_client::{ClientBuilder, Launcher, ScreenRequest, SocketDir};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The session tools of `sessions`, starting at most `cap` sessions.
fn session_tools(sessions: &Sessions, cap: usize) -> SessionTools {
    tools_with(
        Launcher::new().hm(hm()).socket_dir(sessions.path()),
        sessions,
        cap,
    )
}

/// An agent whose model is the fake `server` (OpenAI format) and whose
/// tools are `tools`.
fn scripted_agent(server: &FakeServer, tools: &SessionTools) -> Agent {
    scripted_agent_within(server, tools, Duration::from_secs(60))
}

/// [`scripted_agent`] whose tool calls have the time `limit`.
fn scripted_agent_within(server: &FakeServer, tools: &SessionTools, limit: Duration) -> Agent {
    let mut toolbox = Toolbox::new(limit);
    toolbox.add(tools.clone());
    let settings = ProviderSettings {
        kind: ProviderKind::Openai,
        model: "m".into(),
        base_url: format!("{}/v1", server.url()),
        api_key: None,
        api_key_env: "TEST_KEY".into(),
        max_tokens: None,
        connect_timeout: Duration::from_secs(5),
        read_timeout: DEADLINE,
        retry: RetryPolicy::default(),
    };
    Agent::new(
        Provider::new(settings).unwrap(),
        toolbox,
        "test".into(),
        LoopLimits {
            max_iterations: 10,
            truncation: 12_000,
        },
        Vec::new(),
        None,
    )
}

/// One turn of `agent` on `prompt`, finished within `limit` and
/// successful or the test fails.
async fn run_turn(agent: &mut Agent, prompt: &str, limit: Duration) -> TurnEnd {
    tokio::time::timeout(
        limit,
        agent.turn(prompt, &CancellationToken::new(), &mut |_| {}),
    )
    .await
    .expect("the turn finished in time")
    .expect("the turn succeeded")
}

/// The model's first rounds in a bash session `id`: start it, submit
/// `line` and wait for `pattern` on its screen.
fn bash_line(id: &str, line: &str, pattern: &str) -> Vec<common::Reply> {
    vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[("session_submit", json!({"id": id, "text": line}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": pattern, "timeout_secs": 40}),
        )]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_model_drives_bash_through_a_session() {
    let sessions = Sessions::new();
    let id = unique("agent-bash");
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[(
            "session_submit",
            json!({"id": id, "text": "echo hi $NO_COLOR"}),
        )]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "idle", "idle_ms": 300, "timeout_secs": 20}),
        )]),
        // Idle can come before a slow echo under load: the line itself is
        // awaited too before the screen is read.
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^hi 1$", "timeout_secs": 20}),
        )]),
        calls(&[
            ("session_screen", json!({"id": id})),
            ("session_read", json!({"id": id})),
        ]),
        text_reply("bash said hi"),
    ])
    .await;
    let tools_handle = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools_handle);
    let end = run_turn(&mut agent, "say hi in bash", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("bash said hi".into()));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 6);
    let started = tool_result(&reqs[1].body, "call_session_start_0");
    assert!(started.contains(&format!("hm attach {id}")), "{started}");
    let submitted = tool_result(&reqs[2].body, "call_session_submit_0");
    assert!(submitted.contains("submitted"), "{submitted}");
    let waited = tool_result(&reqs[3].body, "call_session_wait_0");
    assert!(waited.contains("is idle"), "{waited}");
    let screen = tool_result(&reqs[5].body, "call_session_screen_0");
    assert!(screen.contains("<untrusted-program-output>"), "{screen}");
    // NO_COLOR=1 reached bash: the echo printed "hi 1".
    assert!(screen.lines().any(|l| l.trim() == "hi 1"), "{screen}");
    let read = tool_result(&reqs[5].body, "call_session_read_1");
    assert!(read.contains("hi 1"), "{read}");
    assert!(!read.contains('\u{1b}'), "ANSI stripped: {read:?}");

    // The session is supervised: anyone can find it; cleanup ends it.
    assert!(sessions.live(&id));
    let ended = tools_handle.cleanup(Duration::from_secs(15)).await;
    assert_eq!(ended, [id.as_str()]);
    assert!(!sessions.live(&id));
}

/// A model that starts a session and types into it in one turn, as models
/// do: the calls naming one session run in the order given (the start
/// first, the lines in their order, the screen last), while another
/// session's calls run beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_one_session_in_one_turn_run_in_order() {
    let sessions = Sessions::new();
    let (a, b) = (unique("agent-order-a"), unique("agent-order-b"));
    let mut turn = Vec::new();
    for id in [&a, &b] {
        turn.extend([
            (
                "session_start",
                json!({"command": "bash --norc --noprofile", "id": id}),
            ),
            (
                "session_submit",
                json!({"id": id, "text": "echo one-$((0+1))"}),
            ),
            (
                "session_send",
                json!({"id": id, "text": "echo two-$((1+1))\r"}),
            ),
            (
                "session_wait",
                json!({"id": id, "until": "regex", "pattern": "(?m)^two-2$", "timeout_secs": 20}),
            ),
            ("session_screen", json!({"id": id})),
        ]);
    }
    // Interleaved, as a model may list them: a's and b's calls alternate.
    let order = [0, 5, 1, 6, 2, 7, 3, 8, 4, 9];
    let turn: Vec<(&str, Value)> = order.iter().map(|&i| turn[i].clone()).collect();
    let server = FakeServer::start(vec![calls(&turn), text_reply("both ran")]).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "two shells", Duration::from_secs(90)).await;
    assert_eq!(end, TurnEnd::Answer("both ran".into()));
    let reqs = server.requests();
    let body = &reqs[1].body;
    for (i, (name, _)) in turn.iter().enumerate() {
        let text = tool_result(body, &format!("call_{name}_{i}"));
        assert!(!text.contains("no session"), "{name}: {text}");
        if *name == "session_screen" {
            let one = text.find("\none-1\n").expect(text);
            let two = text.find("\ntwo-2\n").expect(text);
            assert!(one < two, "{text}");
        }
    }
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A model reads a long build's output in pieces, as each tool result is
/// cut to its head and tail past the truncation limit: `max_bytes` bounds a
/// read, which says where the next piece starts and how much is left, so
/// every line reaches the model whole (before, a read took everything, the
/// middle was cut from the result and the next read went on past it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_output_is_read_in_pieces_none_cut() {
    let sessions = Sessions::new();
    let id = unique("agent-pieces");
    let read = || calls(&[("session_read", json!({"id": id, "max_bytes": 8000}))]);
    let mut script = bash_line(
        &id,
        "for i in $(seq 1 2000); do echo line $i; done; sleep 1; echo done",
        "(?m)^done$",
    );
    script.extend([
        read(),
        read(),
        read(),
        read(),
        read(),
        text_reply("read it all"),
    ]);
    let server = FakeServer::start(script).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "build", Duration::from_secs(120)).await;
    assert_eq!(end, TurnEnd::Answer("read it all".into()));
    let reqs = server.requests();
    let waited = tool_result(&reqs[3].body, "call_session_wait_0");
    assert!(waited.contains("matched"), "{waited}");
    let mut seen = std::collections::BTreeSet::new();
    for req in &reqs[4..9] {
        let text = tool_result(&req.body, "call_session_read_0");
        assert!(!text.contains("characters cut"), "{text}");
        seen.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("line ")?.parse::<u32>().ok()),
        );
    }
    // The last read found nothing new: the whole output was read.
    let last = tool_result(&reqs[8].body, "call_session_read_0");
    let range = regex::Regex::new(r"bytes (\d+)\.\.(\d+)").unwrap();
    let c = range.captures(last).expect(last);
    assert_eq!(c[1], c[2], "{last}");
    let missing: Vec<u32> = (1..=2000).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "lines never read: {missing:?}");
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A model that submits an editor command (vim's `:wq`, after `git
/// commit` opened vim) has it typed, as a person types it, and vim ends
/// with the text saved; several lines submitted go in as one bracketed
/// paste, and the model is told that an editor inserts a paste as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_submitted_to_vim_is_typed_and_several_go_in_as_a_paste() {
    let sessions = Sessions::new();
    let id = unique("agent-vim");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("MSG");
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": format!("vim -u NONE -i NONE {}", file.display()), "id": id, "interactive": true}),
        )]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^~", "timeout_secs": 20}),
        )]),
        calls(&[("session_send", json!({"id": id, "text": "ifirst", "keys": ["Enter", "Esc"]}))]),
        calls(&[("session_submit", json!({"id": id, "text": "a\nb"}))]),
        calls(&[("session_submit", json!({"id": id, "text": ":wq"}))]),
        calls(&[("session_wait", json!({"id": id, "until": "exit", "timeout_secs": 20}))]),
        text_reply("saved"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "commit", Duration::from_secs(90)).await;
    assert_eq!(end, TurnEnd::Answer("saved".into()));
    let reqs = server.requests();
    let waited = tool_result(&reqs[2].body, "call_session_wait_0");
    assert!(waited.contains("matched"), "{waited}");
    let pasted = tool_result(&reqs[4].body, "call_session_submit_0");
    assert!(
        pasted.contains("bracketed paste") && pasted.contains("one line at a time"),
        "{pasted}"
    );
    let typed = tool_result(&reqs[5].body, "call_session_submit_0");
    assert!(!typed.contains("paste"), "{typed}");
    let exited = tool_result(&reqs[6].body, "call_session_wait_0");
    assert!(exited.contains("exited with code 0"), "{exited}");
    // vim's normal mode inserted the paste as text.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "first\na\nb\n");
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A submit that waits for a reaction longer than the tool limit is cut to
/// the limit, as a wait is, so the model learns the line was typed and not
/// read (before, the toolbox stopped the call and said only that it did not
/// finish). A line submitted to a shell gets no word about editors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_longer_than_the_tool_limit_is_cut_to_it() {
    let sessions = Sessions::new();
    let id = unique("agent-submit-cut");
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[("session_submit", json!({"id": id, "text": "sleep 1000"}))]),
        calls(&[(
            "session_submit",
            json!({"id": id, "text": "echo hi", "timeout_ms": 600000}),
        )]),
        text_reply("typed"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent_within(&server, &tools, Duration::from_secs(6));
    let end = run_turn(&mut agent, "sleep", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("typed".into()));
    let reqs = server.requests();
    let first = tool_result(&reqs[2].body, "call_session_submit_0");
    assert!(!first.contains("vim"), "{first}");
    let cut = tool_result(&reqs[3].body, "call_session_submit_0");
    assert!(
        cut.contains("has not read it yet") && cut.contains("cut to 4 s"),
        "{cut}"
    );
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A model waits for Python's prompt as it is written, `>>> ` with its
/// blank: the screen's lines have none at their end, so the wait times out,
/// and the result says why; the pattern without it then matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_wait_that_times_out_says_lines_have_no_trailing_blanks() {
    let sessions = Sessions::new();
    let id = unique("agent-py");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "python3 -q", "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^>>>$", "timeout_secs": 20}),
        )]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^>>> $", "timeout_secs": 1}),
        )]),
        text_reply("waited"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "python", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("waited".into()));
    let reqs = server.requests();
    let matched = tool_result(&reqs[2].body, "call_session_wait_0");
    assert!(matched.contains("matched"), "{matched}");
    let not_yet = tool_result(&reqs[3].body, "call_session_wait_0");
    assert!(
        not_yet.contains("not yet") && not_yet.contains("no trailing blanks"),
        "{not_yet}"
    );
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A session the model killed is still one it started, as one that exited
/// is: session_list says so, and its reads go on from where they got to
/// (before, the kill forgot it: the list no longer said it was the model's,
/// and the next read showed its output again from the start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_session_stays_the_models_own() {
    let sessions = Sessions::new();
    let id = unique("agent-killed");
    let mut script = bash_line(&id, "echo one-$((0+1))", "(?m)^one-1$");
    script.extend([
        calls(&[("session_read", json!({"id": id}))]),
        calls(&[("session_kill", json!({"id": id}))]),
        calls(&[
            ("session_list", json!({})),
            ("session_read", json!({"id": id})),
        ]),
        text_reply("killed"),
    ]);
    let server = FakeServer::start(script).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "kill", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("killed".into()));
    let reqs = server.requests();
    let first = tool_result(&reqs[4].body, "call_session_read_0");
    assert!(first.contains("one-1"), "{first}");
    let listed = tool_result(&reqs[6].body, "call_session_list_0");
    assert!(
        listed.contains(&format!("{id}: exited")) && listed.contains("started by you"),
        "{listed}"
    );
    let after = tool_result(&reqs[6].body, "call_session_read_1");
    assert!(!after.contains("one-1"), "read again: {after}");
}

async fn call(tools: &SessionTools, name: &str, args: Value, limit: Duration) -> (bool, String) {
    let out = call_out(tools, name, args, limit).await;
    (out.is_error, out.text)
}

/// The whole output of a call, in time or the test fails.
async fn call_out(tools: &SessionTools, name: &str, args: Value, limit: Duration) -> ToolOutput {
    tokio::time::timeout(
        limit + Duration::from_secs(30),
        tools.call(name, &args, limit).expect("a session tool"),
    )
    .await
    .expect("the tool answered in time")
}

/// Start `command` as session `id`; the start must succeed. What it
/// answered.
async fn start(tools: &SessionTools, id: &str, command: &str) -> String {
    let args = json!({"command": command, "id": id});
    let (err, text) = call(tools, "session_start", args, Duration::from_secs(30)).await;
    assert!(!err, "{text}");
    text
}

/// session_wait until `pattern` is on session `id`'s screen (20 s).
async fn wait_for_text(tools: &SessionTools, id: &str, pattern: &str) {
    let (err, text) = call_full(
        tools,
        "session_wait",
        json!({"id": id, "until": "regex", "pattern": pattern, "timeout_secs": 20}),
    )
    .await;
    assert!(!err && text.starts_with("matched"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_reaps_the_oldest_idle_session_and_long_waits_are_cut() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 1);
    let limit = Duration::from_secs(4);
    let (a, b) = (unique("agent-a"), unique("agent-b"));
    let (err, text) = call(
        &tools,
        "session_start",
        json!({"command": "bash --norc --noprofile", "id": a}),
        limit,
    )
    .await;
    assert!(!err, "{text}");
    let (err, text) = call(
        &tools,
        "session_wait",
        json!({"id": a, "until": "idle", "idle_ms": 200, "timeout_secs": 20}),
        Duration::from_secs(30),
    )
    .await;
    assert!(!err && text.contains("is idle"), "{text}");

    // A wait longer than the tool limit is cut to it; the session runs on.
    let (err, text) = call(
        &tools,
        "session_wait",
        json!({"id": a, "until": "regex", "pattern": "never-printed-[0-9]{9}", "timeout_secs": 600}),
        limit,
    )
    .await;
    assert!(!err, "{text}");
    assert!(
        text.contains("still running") && text.contains("cut to 2 s"),
        "{text}"
    );
    assert!(sessions.live(&a));

    // One more session than the cap: the idle one is reaped.
    let text = start(&tools, &b, "bash --norc --noprofile").await;
    assert!(
        text.contains(&format!("session {a} was idle and was killed")),
        "{text}"
    );
    assert!(!sessions.live(&a));
    assert!(sessions.live(&b));
    let (err, text) = call(&tools, "session_list", json!({}), limit).await;
    assert!(!err);
    assert!(
        text.contains(&format!("{b}: running, started by you")),
        "{text}"
    );

    let (err, text) = call(
        &tools,
        "session_kill",
        json!({"id": b}),
        Duration::from_secs(30),
    )
    .await;
    assert!(!err, "{text}");
    assert!(!sessions.live(&b));
    let (err, text) = call(&tools, "session_status", json!({"id": "../escape"}), limit).await;
    assert!(err, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_is_set_in_the_environment_of_plain_commands_only() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    let limit = Duration::from_secs(30);
    let command = "echo \"nc=[$NO_COLOR]\"; sleep 60";
    for (interactive, seen) in [(false, r"nc=\[1\]"), (true, r"nc=\[\]")] {
        let id = unique(if interactive {
            "agent-tui"
        } else {
            "agent-plain"
        });
        let (err, text) = call(
            &tools,
            "session_start",
            json!({"command": command, "id": id, "interactive": interactive}),
            limit,
        )
        .await;
        assert!(!err, "{text}");
        let (err, text) = call_full(
            &tools,
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": seen, "timeout_secs": 20}),
        )
        .await;
        assert!(!err && text.starts_with("matched"), "{interactive}: {text}");
        // The variable came through the session's environment (hm start
        // --env), not as an `env` prefix on the command people see.
        let client = SocketDir::new(sessions.path())
            .connect(&id, ClientBuilder::new())
            .await
            .expect("connect");
        let hello = client.hello().expect("a current supervisor");
        assert_eq!(
            hello.session.command,
            ["sh", "-c", command],
            "{interactive}"
        );
    }
    tools.cleanup(Duration::from_secs(15)).await;
}

/// `hm-agent run PROMPT` with the fake `server` as its model, the
/// sessions in `sessions` and its home in `home` (its configuration in
/// `home`/config), keeping its sessions at its end when `keep`.
fn agent_run(
    server: &FakeServer,
    sessions: &Sessions,
    home: &std::path::Path,
    keep: bool,
    prompt: &str,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hm-agent"));
    cmd.args(["--provider", "openai", "--base-url"])
        .arg(format!("{}/v1", server.url()))
        .arg("--work-dir")
        .arg(home);
    if keep {
        cmd.arg("--keep-sessions");
    }
    cmd.args(["run", prompt])
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("HEIMDALL_SOCKET_DIR", sessions.path())
        .env_remove("OPENAI_API_KEY")
        .current_dir(home)
        .kill_on_drop(true);
    cmd
}

/// `hm-agent run` with a scripted model that starts a session; returns
/// whether the session still runs after hm-agent exited.
async fn run_agent_starting_a_session(sessions: &Sessions, keep: bool) -> bool {
    hm();
    let id = unique("agent-cli");
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": "sleep 60", "id": id}))]),
        text_reply("started"),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = agent_run(&server, sessions, home.path(), keep, "start a sleeper");
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("hm-agent finished in time")
        .expect("hm-agent ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    assert!(stderr.contains("→ session_start"), "{stderr}");
    let word = if keep { "kept running" } else { "ended" };
    assert!(stderr.contains(&format!("[sessions {word}")), "{stderr}");
    assert!(stderr.contains(&id), "{stderr}");
    sessions.live(&id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hm_agent_run_ends_its_sessions_unless_told_to_keep_them() {
    let sessions = Sessions::new();
    assert!(!run_agent_starting_a_session(&sessions, false).await);
    assert!(run_agent_starting_a_session(&sessions, true).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_prompt_is_answered_by_label() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    let limit = Duration::from_secs(30);
    let id = unique("agent-ask");
    start(
        &tools,
        &id,
        "sh -c 'printf \"Deploy now? [y/N] \"; read a; echo \"answer=$a\"; sleep 30'",
    )
    .await;
    // The state may be `waiting` a moment before the event with the
    // question reaches the agent's event follower: poll with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (err, text) = call(&tools, "session_status", json!({"id": id}), limit).await;
        assert!(!err, "{text}");
        let status: Value = serde_json::from_str(&text).unwrap();
        let asked = status["waiting_for"]["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("Deploy now?"));
        // The waiting event comes just before the state change.
        if asked && status["state"] == "waiting" {
            assert_eq!(
                status["waiting_for"]["options"],
                json!(["yes", "no"]),
                "{text}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the question never showed as waiting: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (err, text) = call(
        &tools,
        "session_answer",
        json!({"id": id, "option": "maybe"}),
        limit,
    )
    .await;
    assert!(err && text.contains("\"yes\""), "{text}");
    let (err, text) = call(
        &tools,
        "session_answer",
        json!({"id": id, "option": "Yes"}),
        limit,
    )
    .await;
    assert!(!err, "{text}");
    wait_for_text(&tools, &id, "answer=y").await;
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// A question whose line wraps a token across rows: the prompt the
/// supervisor reads is the cursor's row, which holds only the token's rest
/// (too short for the scrubber's patterns alone). session_status gives it
/// scrubbed as the screen shows it, none of the token in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_prompt_that_wraps_a_secret_is_shown_scrubbed() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    let limit = Duration::from_secs(30);
    let id = unique("agent-askwrap");
    // 70 zeros and a blank, then the token from column 71 of 80; the
    // command line holds none of the pieces checked (the repetition makes
    // them).
    let command = "sh -c 'printf \"%070d ghp_%s? [y/N] \" 0 $(printf a1B2c3D4e5%.0s 1 2 3)zyxwvu; read a; sleep 30'";
    start(&tools, &id, command).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (err, text) = call(&tools, "session_status", json!({"id": id}), limit).await;
        assert!(!err, "{text}");
        let status: Value = serde_json::from_str(&text).unwrap();
        if status["waiting_for"]["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("[y/N]"))
        {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the question never showed as waiting: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for piece in ["ghp_a1B2", "D4e5a1B2", "3D4e5zyx"] {
        assert!(!status.contains(piece), "{piece} in {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_model_answers_a_waiting_prompt_by_label() {
    let sessions = Sessions::new();
    let id = unique("agent-model-ask");
    let command = "sh -c 'printf \"Delete all? [y/N] \"; read a; echo \"answer=$a\"; sleep 30'";
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": command, "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "state", "state": "waiting", "timeout_secs": 30}),
        )]),
        // The `waiting` event precedes the state change, so the agent knows
        // the choices by the time the wait returns.
        calls(&[("session_answer", json!({"id": id, "option": "yes"}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "answer=y", "timeout_secs": 30}),
        )]),
        text_reply("answered yes"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "answer yes", Duration::from_secs(120)).await;
    assert_eq!(end, TurnEnd::Answer("answered yes".into()));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    let started = tool_result(&reqs[1].body, "call_session_start_0");
    assert!(
        started.contains(&format!("started session {id}")),
        "{started}"
    );
    let waited = tool_result(&reqs[2].body, "call_session_wait_0");
    assert_eq!(waited, format!("session {id} is now waiting"));
    let answered = tool_result(&reqs[3].body, "call_session_answer_0");
    assert!(
        answered.starts_with("answered \"yes\" to ") && answered.contains("Delete all?"),
        "{answered}"
    );
    let matched = tool_result(&reqs[4].body, "call_session_wait_0");
    assert!(matched.contains("matched \"answer=y\""), "{matched}");

    // The program itself read the key the label stands for.
    let (err, screen) = call(
        &tools,
        "session_screen",
        json!({"id": id}),
        Duration::from_secs(30),
    )
    .await;
    assert!(!err, "{screen}");
    assert!(screen.lines().any(|l| l.trim() == "answer=y"), "{screen}");
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
    assert!(!sessions.live(&id));
}

/// Input that cannot reach the program is a tool error: session_send to a
/// session whose program has exited (its supervisor still serving) tells
/// the model the session ended, with the exit code, and that nothing was
/// typed. Input that itself ends the program is still a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_to_a_program_that_has_exited_is_a_tool_error() {
    let sessions = Sessions::new();
    let id = unique("agent-ended");
    let held = exited_but_served(hm(), sessions.path(), &id).await;
    let server = FakeServer::start(vec![
        calls(&[("session_send", json!({"id": id, "text": "too late\r"}))]),
        text_reply("it ended"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "type into it", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("it ended".into()));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let sent = tool_result(&reqs[1].body, "call_session_send_0");
    assert!(
        sent.contains(&format!("session {id}"))
            && sent.contains("has ended (exit code 137)")
            && sent.contains("not typed")
            && !sent.contains("(dead)"),
        "{sent}"
    );
    let limit = Duration::from_secs(30);
    let (err, text) = call(
        &tools,
        "session_send",
        json!({"id": id, "keys": ["Enter"]}),
        limit,
    )
    .await;
    assert!(err && text.contains("exit code 137"), "{text}");
    drop(held);

    // A line the program exits on was typed: a success.
    let ends = unique("agent-ends");
    start(&tools, &ends, "sh -c 'read x; exit 3'").await;
    let (err, text) = call(
        &tools,
        "session_send",
        json!({"id": ends, "text": "bye\r"}),
        limit,
    )
    .await;
    assert!(!err && text.starts_with("sent 4 bytes"), "{text}");
    let (err, text) = call(
        &tools,
        "session_wait",
        json!({"id": ends, "until": "exit", "timeout_secs": 20}),
        limit,
    )
    .await;
    assert!(!err && text.contains("code 3"), "{text}");
}

/// Input after a session_wait saw the program exit is a tool error with
/// the exit code, in the next turn as in the same: the supervisor, ending,
/// may close the agent's connection without reading the input, which was
/// then reported as "sent 4 bytes" (2 of 4 tries; here a round of 12
/// failed in 1 of 2 runs). Rounds repeat the race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_after_a_wait_saw_the_exit_is_a_tool_error_with_the_code() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    for round in 0..12 {
        let id = unique("agent-late");
        start(&tools, &id, "sh -c 'sleep 0.5; exit 5'").await;
        let server = FakeServer::start(vec![
            calls(&[("session_wait", json!({"id": id, "until": "exit"}))]),
            text_reply("it exited"),
            calls(&[("session_send", json!({"id": id, "text": "late"}))]),
            text_reply("done"),
        ])
        .await;
        let mut agent = scripted_agent(&server, &tools);
        for prompt in ["wait for it", "type late"] {
            run_turn(&mut agent, prompt, Duration::from_secs(60)).await;
        }
        let reqs = server.requests();
        assert_eq!(reqs.len(), 4);
        let waited = tool_result(&reqs[1].body, "call_session_wait_0");
        assert!(waited.contains("code 5"), "round {round}: {waited}");
        let sent = tool_result(&reqs[3].body, "call_session_send_0");
        assert!(
            sent.contains("code 5") && !sent.contains("sent "),
            "round {round}: {sent}"
        );
    }
}

/// A command that ends before the agent connects is started all the same:
/// session_start succeeds and says that the program already exited, with
/// its exit code and what it printed (from the exit record), instead of a
/// connect error for a command that ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_ends_at_once_is_a_successful_start_with_its_exit() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    let limit = Duration::from_secs(30);
    let mut already = 0;
    for (command, code, printed) in [
        ("echo hi-there", 0, Some("hi-there")),
        ("true", 0, None),
        ("sh -c \"echo x-out; exit 2\"", 2, Some("x-out")),
    ] {
        let id = unique("agent-quick");
        let args = json!({"command": command, "id": id});
        let out = tools
            .call("session_start", &args, limit)
            .expect("a session tool")
            .await;
        // What the model reads: the source line, then the program's output.
        let text = format!("{}\n{}", out.untrusted_source.unwrap_or_default(), out.text);
        assert!(!out.is_error, "{command}: {text}");
        assert!(text.contains(&format!("started session {id}")), "{text}");
        // Either it was caught running, or it had already exited and the
        // answer says so with its code and output.
        if text.contains("already exited") {
            already += 1;
            assert!(
                text.contains(&format!("exit code {code}")),
                "{command}: {text}"
            );
            if let Some(p) = printed {
                assert!(text.contains(p), "{command}: {text}");
            }
        }
        let (err, text) = call(
            &tools,
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 20}),
            limit,
        )
        .await;
        assert!(
            !err && text.contains(&format!("code {code}")),
            "{command}: {text}"
        );
    }
    // Commands this quick end before the agent connects.
    assert!(already > 0, "every quick command was caught running");
}

/// What session_read gives of a new session running `command` (named
/// `name`-…), once `pattern` is on its screen; the session is cleaned up.
async fn read_of(command: &str, name: &str, pattern: &str) -> String {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 8);
    let limit = Duration::from_secs(30);
    let id = unique(name);
    start(&tools, &id, command).await;
    wait_for_text(&tools, &id, pattern).await;
    let (err, text) = call(&tools, "session_read", json!({"id": id}), limit).await;
    assert!(!err, "{text}");
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
    text
}

/// session_read gives the lines as the terminal shows them: a line that a
/// shell redraws over itself (carriage return, cursor forward over the
/// prompt, the line again, as bash does after a paste) reads once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_read_shows_a_redrawn_line_once() {
    let command =
        r"printf '$ echo redrawn\r\033[C\033[Cecho redrawn\n\033[31mred\033[0mrawn\n'; exec cat";
    let text = read_of(command, "agent-redraw", "(?m)^redrawn").await;
    assert_eq!(text, "$ echo redrawn\nredrawn\n", "{text:?}");
}

/// session_read plays the output on a terminal of the session's size:
/// lines a program redraws after moving the cursor up (a multi-line
/// progress display) read once, in their last state, and a line longer
/// than the terminal is wide reads whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_read_shows_lines_redrawn_after_a_cursor_up_once() {
    let long = "x".repeat(200);
    let command = format!(
        r"printf '{long}\npull a: 0%%\npull b: 0%%\n\033[2Apull a: done\npull b: done\n'; exec cat"
    );
    let text = read_of(&command, "agent-cursor-up", "(?m)^pull b: done").await;
    assert_eq!(
        text,
        format!("{long}\npull a: done\npull b: done\n"),
        "{text:?}"
    );
}

/// session_wait for text on the screen of a program that printed it and
/// exited at once matches the final screen, whether the supervisor still
/// answers or only the exit record is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_wait_matches_what_an_ended_program_left() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let limit = Duration::from_secs(30);
    let id = unique("agent-ready");
    start(&tools, &id, "echo READY").await;
    let wait = json!({"id": id, "until": "regex", "pattern": "^READY$", "timeout_secs": 20});
    let (err, text) = call_full(&tools, "session_wait", wait.clone()).await;
    assert!(!err && text.starts_with("matched \"READY\""), "{text}");
    until_supervisor_gone(&sessions, &id).await;
    let (err, text) = call_full(&tools, "session_wait", wait).await;
    assert!(!err && text.starts_with("matched \"READY\""), "{text}");
    let never = json!({"id": id, "until": "regex", "pattern": "NEVER", "timeout_secs": 20});
    let (err, text) = call(&tools, "session_wait", never, limit).await;
    assert!(!err && text.contains("before the condition held"), "{text}");
}

/// What the model reads of a call: the untrusted source line, then the text.
async fn call_full(tools: &SessionTools, name: &str, args: Value) -> (bool, String) {
    let out = call_out(tools, name, args, Duration::from_secs(30)).await;
    let text = match out.untrusted_source {
        Some(source) => format!("{source}\n{}", out.text),
        None => out.text,
    };
    (out.is_error, text)
}

/// Once a session has ended and its supervisor is gone, session_status,
/// session_screen and session_read answer from its exit record: how it
/// ended, its final screen, and the output the record keeps (its last
/// 4 KiB; older output is said to be no longer kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_screen_and_read_answer_from_the_exit_record_after_the_end() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-ended");
    start(&tools, &id, "bash --norc --noprofile").await;
    // More than the record keeps, then a last line, then the end.
    let line = "head -c 6000 /dev/zero | tr '\\0' x; echo; echo last-$((6*7)); exit 3\r";
    let (err, text) = call_full(&tools, "session_send", json!({"id": id, "text": line})).await;
    assert!(!err, "{text}");
    let exit = json!({"id": id, "until": "exit", "timeout_secs": 20});
    let (err, text) = call_full(&tools, "session_wait", exit).await;
    assert!(!err && text.contains("code 3"), "{text}");
    until_supervisor_gone(&sessions, &id).await;

    let (err, text) = call_full(&tools, "session_status", json!({"id": id})).await;
    assert!(!err, "{text}");
    assert!(
        text.contains("\"state\":\"exited\"") && text.contains("exited with exit code 3 at"),
        "{text}"
    );
    let (err, text) = call_full(&tools, "session_screen", json!({"id": id})).await;
    assert!(!err, "{text}");
    assert!(text.contains("final screen of session"), "{text}");
    assert!(text.lines().any(|l| l.trim() == "last-42"), "{text}");
    let (err, text) = call_full(&tools, "session_read", json!({"id": id, "offset": 0})).await;
    assert!(!err, "{text}");
    assert!(text.contains("no longer kept"), "{text}");
    assert!(text.lines().any(|l| l.trim() == "last-42"), "{text}");
    // Read again from where that read ended: nothing new comes.
    let (err, text) = call_full(&tools, "session_read", json!({"id": id})).await;
    assert!(!err && text.contains("no new output"), "{text}");
}

/// The tool calls of a turn run concurrently: starts made at once still
/// keep within max_sessions (each either reaps an idle session or is
/// refused), and every session that is running is one the agent owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_keep_within_the_cap() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 2);
    let ids: Vec<String> = (0..6).map(|i| unique(&format!("agent-cap{i}"))).collect();
    let starts = ids.iter().map(|id| {
        let tools = tools.clone();
        let args = json!({"command": "cat", "id": id});
        async move { call(&tools, "session_start", args, Duration::from_secs(60)).await }
    });
    let answers = futures_util::future::join_all(starts).await;
    let mut started = 0;
    for (err, text) in &answers {
        if *err {
            assert!(text.contains("max_sessions"), "{text}");
        } else {
            assert!(text.contains("started session"), "{text}");
            started += 1;
        }
    }
    assert!(started >= 2, "{answers:?}");
    let running = SocketDir::new(sessions.path()).running().expect("list");
    assert!(running.len() <= 2, "{running:?} run; answers {answers:?}");
    assert_eq!(tools.owned_live().await.len(), running.len());
}

/// Session tools starting sessions in `sessions` with [`held_config`]
/// (kept in the directory returned), at most 4.
fn held_session_tools(sessions: &Sessions) -> (tempfile::TempDir, SessionTools) {
    let (config_dir, config) = held_config();
    (config_dir, configured_tools(sessions, &config, 4))
}

/// Session tools starting at most `cap` sessions in `sessions` with `hm`'s
/// config file `config`.
fn configured_tools(sessions: &Sessions, config: &std::path::Path, cap: usize) -> SessionTools {
    let launcher = Launcher::new()
        .hm(hm())
        .socket_dir(sessions.path())
        .config(config);
    tools_with(launcher, sessions, cap)
}

/// A gate a start waits at (a FIFO its `hm` reads a line from), opened
/// when dropped, so no start is left waiting.
struct Gate(std::path::PathBuf);

impl Gate {
    /// Let the start waiting at the gate go on (it may not be reading yet:
    /// tried for a while).
    fn open(&self) {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < until {
            let fifo = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.0);
            if let Ok(mut f) = fifo {
                let _ = f.write_all(b"go\n");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// Session tools (cap 2) whose `hm` makes a start of session `slow` wait
/// at a gate first: the gate, the file that says a start has come to it,
/// the tools, and the directory the gate lives in (kept while they run).
fn gated_tools(
    sessions: &Sessions,
    slow: &str,
) -> (Gate, std::path::PathBuf, SessionTools, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let wrap = tempfile::tempdir().unwrap();
    let (fifo, entered) = (wrap.path().join("gate"), wrap.path().join("entered"));
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let gate = Gate(fifo.clone());
    // `hm`, but a start of the slow session first waits at the gate.
    let script = wrap.path().join("hm");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$*\" in *{slow}*) : > '{}'; read x < '{}';; esac\nexec '{}' \"$@\"\n",
            entered.display(),
            fifo.display(),
            hm().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let launcher = Launcher::new().hm(&script).socket_dir(sessions.path());
    let tools = tools_with(launcher, sessions, 2);
    (gate, entered, tools, wrap)
}

/// Wait until a start has come to the gate (`entered` exists).
async fn until_entered(entered: &std::path::Path) {
    poll("the slow start", async || entered.exists().then_some(())).await;
}

/// Starts in one turn do not take turns: a start held up (its `hm start`
/// waits at a gate) does not hold up another, which answers meanwhile;
/// the held one goes on once the gate opens. Both were counted under the
/// cap (2) all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_start_does_not_hold_up_another() {
    let sessions = Sessions::new();
    let (slow, quick) = (unique("agent-slow"), unique("agent-quick"));
    let (gate, entered, tools, _wrap) = gated_tools(&sessions, &slow);
    let limit = Duration::from_secs(30);
    let held = tokio::spawn({
        let (tools, slow) = (tools.clone(), slow.clone());
        async move {
            let args = json!({"command": "cat", "id": slow});
            call(&tools, "session_start", args, limit).await
        }
    });
    until_entered(&entered).await;
    let args = json!({"command": "cat", "id": quick});
    let quick_start = tokio::time::timeout(
        Duration::from_secs(20),
        call(&tools, "session_start", args, limit),
    )
    .await;
    let waited = !held.is_finished();
    // Both starts end before anything is asserted: no session outlives
    // the test.
    gate.open();
    let (err, text) = held.await.expect("the slow start");
    assert!(!err, "{text}");
    let (err, text) = quick_start.expect("the quick start answered while the slow one waited");
    assert!(!err, "{text}");
    assert!(waited, "the slow start did not wait at the gate");
    let mut running = SocketDir::new(sessions.path()).running().expect("list");
    running.sort();
    let mut both = [slow, quick];
    both.sort();
    assert_eq!(running, both);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await.len(), 2);
}

/// A start cancelled while `hm start` runs (Ctrl-C, SIGTERM, a turn cut
/// off) still counts its session among the agent's once it is up, and the
/// agent's end waits for it: the session is ended with the others, not
/// left running unknown to the agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_cancelled_midway_is_still_the_agents_session() {
    let sessions = Sessions::new();
    let slow = unique("agent-cancelled");
    let (gate, entered, tools, _wrap) = gated_tools(&sessions, &slow);
    let args = json!({"command": "cat", "id": slow});
    let call = tokio::time::timeout(
        DEADLINE,
        tools
            .call("session_start", &args, DEADLINE)
            .expect("a session tool"),
    );
    tokio::select! {
        _ = call => panic!("the start answered before the gate opened"),
        _ = until_entered(&entered) => {}
    }
    // The call is dropped (cancelled); the start goes on once the gate opens.
    gate.open();
    let ended = tools.cleanup(Duration::from_secs(15)).await;
    assert_eq!(ended, [slow.as_str()], "the agent's end did not end it");
    let running = SocketDir::new(sessions.path()).running().expect("list");
    assert!(running.is_empty(), "left running: {running:?}");
}

/// At the end the agent's sessions are ended all at once, not one after
/// the other: programs that ignore SIGTERM and SIGHUP each take hm's kill
/// grace to end, and a service manager's stop (docker's 10 s) must not
/// SIGKILL the agent with most of its sessions still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_ends_the_sessions_at_once() {
    const GRACE_MS: u64 = 2000;
    const STUBBORN: usize = 5;
    let sessions = Sessions::new();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("grace.toml");
    std::fs::write(&config, format!("kill_grace_ms = {GRACE_MS}\n")).unwrap();
    let tools = configured_tools(&sessions, &config, STUBBORN);
    let mut ids: Vec<String> = (0..STUBBORN).map(|_| unique("agent-stubborn")).collect();
    for id in &ids {
        start(
            &tools,
            id,
            "trap '' TERM HUP; echo trapped; while :; do sleep 1; done",
        )
        .await;
        wait_for_text(&tools, id, "trapped").await;
    }
    let started = std::time::Instant::now();
    let mut ended = tools.cleanup(Duration::from_secs(30)).await;
    let took = started.elapsed();
    ended.sort();
    ids.sort();
    assert_eq!(ended, ids);
    assert!(ids.iter().all(|id| !sessions.live(id)));
    // One after the other they take STUBBORN graces; at once, about one.
    assert!(
        took < Duration::from_millis(GRACE_MS * (STUBBORN as u64 - 1)),
        "cleanup took {took:?}"
    );
}

/// At the end the agent kills only the sessions whose program still runs:
/// one whose program has exited by itself, its supervisor still finishing,
/// is not among those it says it ended (asked to end then, it did at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_lists_only_the_sessions_it_ended() {
    let sessions = Sessions::new();
    let (_config_dir, tools) = held_session_tools(&sessions);
    let (running, exited) = (unique("agent-running"), unique("agent-exited"));
    start(&tools, &running, "cat").await;
    start(&tools, &exited, HELD_COMMAND[2]).await;
    let held = hold_after_exit(sessions.path(), &exited).await;
    assert!(sessions.live(&exited));
    // Cleanup ends the sessions in the order they started: once the running
    // one is gone, the exited one's supervisor is let go to finish.
    let cleanup = tokio::spawn({
        let tools = tools.clone();
        async move { tools.cleanup(Duration::from_secs(15)).await }
    });
    let end = format!("the end of {running}");
    poll(&end, async || (!sessions.live(&running)).then_some(())).await;
    drop(held);
    assert_eq!(cleanup.await.expect("cleanup"), [running.as_str()]);
}

/// A session whose supervisor was SIGKILLed did not end by itself: the
/// record its guardian leaves (`supervisor_died`, 129 for the hang-up of
/// its terminal, or 137) is not taken for the program's own exit, as `hm wait` and
/// the client library do not take it: a wait says the connection was lost,
/// before the record is there and after, and session_status and
/// session_list say that the supervisor died.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_supervisor_is_not_taken_for_the_programs_exit() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let limit = Duration::from_secs(30);
    let id = unique("agent-sigkilled");
    start(&tools, &id, "sleep 600").await;
    let files = SocketDir::new(sessions.path()).files(&id).expect("files");
    let pids = files.read_pids().expect("the pidfile");
    let exit = json!({"id": id, "until": "exit", "timeout_secs": 25});
    let in_flight = tokio::spawn({
        let (tools, exit) = (tools.clone(), exit.clone());
        async move { call(&tools, "session_wait", exit, limit).await }
    });
    // SAFETY: kill(2) on the supervisor this test started.
    unsafe { libc::kill(pids.supervisor, libc::SIGKILL) };
    let (err, text) = in_flight.await.expect("the wait");
    assert!(
        err && text.contains("lost the connection") && !text.contains("exited with"),
        "{text}"
    );
    let rec = poll("a record from the guardian", async || {
        files.exit_record().ok().filter(|rec| rec.supervisor_died)
    })
    .await;
    // The hang-up's 129, or 137 when the program was slow to go (a loaded
    // machine): the guardian's account either way.
    let account = format!(
        "exit code {} (killed by signal {}), given by its guardian",
        rec.code,
        rec.signal.unwrap_or_default()
    );
    let (err, text) = call(&tools, "session_wait", exit, limit).await;
    assert!(
        err && text.contains("lost the connection")
            && text.contains(&account)
            && text.contains("supervisor died"),
        "{text}"
    );
    let (err, text) = call(&tools, "session_status", json!({"id": id}), limit).await;
    assert!(
        !err && text.contains("\"supervisor_died\":true") && text.contains("supervisor died"),
        "{text}"
    );
    let (err, text) = call(&tools, "session_list", json!({}), limit).await;
    assert!(!err && text.contains("supervisor died"), "{text}");
    // Its output was never recorded: a read says so, not that there was
    // none new, nor that an older hm wrote the record.
    let (err, text) = call(&tools, "session_read", json!({"id": id}), limit).await;
    assert!(
        !err && text.starts_with("no output recorded")
            && text.contains("its supervisor died before recording its output")
            && !text.contains("older hm"),
        "{text}"
    );
}

/// Whether session `id` in `sessions` is between its program's exit and
/// its supervisor's end: a supervisor holds it, and has not written its
/// exit record.
fn exited_not_ended(sessions: &Sessions, id: &str) -> bool {
    let files = SocketDir::new(sessions.path()).files(id).expect("files");
    sessions.live(id) && !files.exit.exists()
}

/// Between the program's exit and its supervisor's end (held long here: a
/// subscriber that reads nothing holds the rest of a flood), session_status
/// answers as after the end (exited, with the exit code; it said `dead`,
/// without the code), and the session is not among those whose program
/// runs (the `--keep-sessions` listing, `/sessions`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_exited_before_its_supervisor_ended_has_exited() {
    let sessions = Sessions::new();
    let (_config_dir, tools) = held_session_tools(&sessions);
    let limit = Duration::from_secs(30);
    let (running, exited) = (unique("agent-runs"), unique("agent-exited"));
    start(&tools, &running, "cat").await;
    start(&tools, &exited, HELD_COMMAND[2]).await;
    let held = hold_after_exit(sessions.path(), &exited).await;
    assert!(exited_not_ended(&sessions, &exited));
    let (err, text) = call(&tools, "session_status", json!({"id": exited}), limit).await;
    let status: Value = serde_json::from_str(&text).expect("JSON");
    assert!(!err, "{text}");
    assert_eq!(status["alive"], false, "{text}");
    assert_eq!(status["state"], "exited", "{text}");
    assert_eq!(status["code"], 137, "{text}");
    assert_eq!(status["signal"], 9, "{text}");
    assert_eq!(tools.owned_running().await, [running.as_str()]);
    assert!(
        exited_not_ended(&sessions, &exited),
        "the supervisor ended meanwhile: not the moment tested"
    );
    drop(held);
    until_supervisor_gone(&sessions, &exited).await;
    let (err, text) = call(&tools, "session_status", json!({"id": exited}), limit).await;
    let after: Value = serde_json::from_str(&text).expect("JSON");
    assert!(!err, "{text}");
    for key in ["alive", "state", "code", "signal", "pid", "command", "cwd"] {
        assert_eq!(after[key], status[key], "{key}: {text}");
    }
    assert_eq!(
        tools.cleanup(Duration::from_secs(15)).await,
        [running.as_str()]
    );
}

/// `hm-agent --keep-sessions` says it kept running only the sessions whose
/// program runs: not one whose program has exited, its supervisor still
/// finishing (it was listed as kept running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_sessions_does_not_list_a_program_that_has_exited() {
    let sessions = Sessions::new();
    hm();
    let (running, exited) = (unique("agent-kept"), unique("agent-done"));
    let server = FakeServer::start(vec![
        calls(&[
            ("session_start", json!({"command": "cat", "id": running})),
            (
                "session_start",
                json!({"command": HELD_COMMAND[2], "id": exited}),
            ),
        ]),
        calls(&[(
            "session_wait",
            json!({"id": exited, "until": "exit", "timeout_secs": 50}),
        )]),
        text_reply("done"),
    ])
    .await;
    let home = tempfile::tempdir().unwrap();
    // The sessions it starts are held after their exit (hm reads the
    // shared heimdall.toml).
    let (_config_dir, config) = held_config();
    let config_dir = home.path().join("config/heimdall");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::copy(&config, config_dir.join("heimdall.toml")).unwrap();
    let agent = agent_run(&server, &sessions, home.path(), true, "start two")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hm-agent runs");
    // The agent waits for the program's exit, which this brings about.
    let dir = SocketDir::new(sessions.path());
    poll(&format!("the start of {exited}"), async || {
        dir.connect(&exited, ClientBuilder::new()).await.ok()
    })
    .await;
    let held = hold_after_exit(sessions.path(), &exited).await;
    let out = tokio::time::timeout(Duration::from_secs(60), agent.wait_with_output())
        .await
        .expect("hm-agent finished in time")
        .expect("hm-agent ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        exited_not_ended(&sessions, &exited),
        "the supervisor ended meanwhile: not the moment tested; {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "[sessions kept running (hm attach ID): {running}]"
        )),
        "{stderr}"
    );
    drop(held);
}

/// What session_status reports is current at the time of the call, not
/// what the session said when the agent connected: a model that asks twice
/// sees the output offset grow by what the program wrote in between, and
/// the terminal size a newly attached terminal set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_status_reports_the_current_output_offset_and_size() {
    let sessions = Sessions::new();
    let id = unique("agent-offset");
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[("session_status", json!({"id": id}))]),
        text_reply("started"),
        calls(&[("session_status", json!({"id": id}))]),
        text_reply("it grew"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let status_of = |reqs: &[common::Recorded], i: usize| -> Value {
        let text = tool_result(&reqs[i].body, "call_session_status_0");
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    let end = run_turn(&mut agent, "start bash", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("started".into()));
    let before = status_of(&server.requests(), 2);
    let first = before["output_offset"]
        .as_u64()
        .unwrap_or_else(|| panic!("no output_offset: {before}"));

    // The program writes 3000 bytes and more; a terminal of another size
    // attaches (and stays, so its size stays).
    let written = 3000;
    let (err, text) = call(
        &tools,
        "session_submit",
        json!({"id": id, "text": format!("printf 'x%.0s' {{1..{written}}}; echo; echo MARK-$((40+2))")}),
        Duration::from_secs(30),
    )
    .await;
    assert!(!err, "{text}");
    let viewer = SocketDir::new(sessions.path())
        .connect(&id, ClientBuilder::new().name("test-terminal"))
        .await
        .expect("connect");
    viewer.resize(100, 30).await.expect("resize");
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let out = call_out(
            &tools,
            "session_screen",
            json!({"id": id}),
            Duration::from_secs(30),
        )
        .await;
        assert!(!out.is_error, "{}", out.text);
        let sized = out
            .untrusted_source
            .as_deref()
            .is_some_and(|s| s.contains("100x30"));
        if sized && out.text.lines().any(|l| l.trim() == "MARK-42") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the output or the size never showed: {:?} {}",
            out.untrusted_source,
            out.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let end = run_turn(&mut agent, "how far has it got?", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("it grew".into()));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    let after = status_of(&reqs, 4);
    let second = after["output_offset"]
        .as_u64()
        .unwrap_or_else(|| panic!("no output_offset: {after}"));
    assert!(
        second >= first + written,
        "the offset went from {first} to {second} after {written} bytes were written: {after}"
    );
    // Not past what the session has written.
    let now = viewer.refresh().await.expect("hello").output_offset;
    assert!(second <= now, "{second} > {now}");
    assert_eq!(
        (after["cols"].as_u64(), after["rows"].as_u64()),
        (Some(100), Some(30)),
        "{after}"
    );
    drop(viewer);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// The token the screen tests print.
const WRAPPED_TOKEN: &str = "ghp_A1b2C3d4E5A1b2C3d4E5A1b2C3d4E5zyxwvu";

/// The screen the model sees of a session named `name`-… that prints
/// [`WRAPPED_TOKEN`] from column 72 of 80 (the terminal wraps it), then
/// `lines` lines and `done-42`: live, then after a kill the final one.
/// Each is checked to hold no 8 characters of the token.
async fn screens_of_a_wrapped_token(name: &str, lines: u32) -> (String, String) {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique(name);
    let token = WRAPPED_TOKEN;
    let command =
        format!("printf '%070d {token}\\n' 0; seq {lines}; echo done-$((6*7)); sleep 600");
    start(&tools, &id, &command).await;
    wait_for_text(&tools, &id, "done-42").await;
    let leaks = |text: &str| {
        (0..token.len() - 8)
            .map(|i| &token[i..i + 8])
            .find(|piece| text.contains(piece))
            .map(str::to_string)
    };
    let (live, last) = live_and_final_screens(&tools, &sessions, &id).await;
    assert!(live.contains("done-42"), "{live}");
    for screen in [&live, &last] {
        assert_eq!(leaks(screen), None, "{screen}");
    }
    (live, last)
}

/// The screen of session `id` as it reaches the model (prepared as the
/// agent prepares a tool's output): live, then after a kill the final one.
async fn live_and_final_screens(
    tools: &SessionTools,
    sessions: &Sessions,
    id: &str,
) -> (String, String) {
    let seen = |out: ToolOutput| {
        assert!(!out.is_error, "{}", out.text);
        heimdall_agent::safe_output::prepare(&out.text, 12_000, out.untrusted_source.as_deref())
    };
    let args = json!({"id": id});
    let live = seen(call_out(tools, "session_screen", args.clone(), DEADLINE).await);
    let (err, text) = call(tools, "session_kill", args.clone(), DEADLINE).await;
    assert!(!err, "{text}");
    until_supervisor_gone(sessions, id).await;
    let last = seen(call_out(tools, "session_screen", args, DEADLINE).await);
    assert!(last.contains("final screen of session"), "{last}");
    (live, last)
}

/// A secret the terminal wrapped across two rows reaches the model
/// scrubbed, from the live screen and from the final screen alike: the
/// scrubber sees the line the rows show, not two pieces of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_wrapped_across_screen_rows_is_scrubbed() {
    let (live, last) = screens_of_a_wrapped_token("agent-wrap", 0).await;
    assert!(live.contains("[REDACTED"), "{live}");
    assert!(last.contains("[REDACTED"), "{last}");
}

/// A secret the terminal wrapped across two rows, the first of which has
/// scrolled off the top, reaches the model scrubbed from the screen (live
/// and final): the row at the top holds the rest of it, read from the
/// line's start above the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_secret_whose_start_scrolled_off_is_scrubbed() {
    // The token line's two rows, 22 more lines and the line break after
    // the last: its first row scrolls off a screen of 24.
    let (live, _) = screens_of_a_wrapped_token("agent-scrolled", 21).await;
    assert!(!live.contains("0000000000"), "scrolled off: {live}");
}

/// A secret in the window title a program set (shells put the running
/// command there) reaches the model scrubbed from the screen's heading,
/// live and final: the title is the program's output too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_the_window_title_is_scrubbed() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-title");
    let token = WRAPPED_TOKEN;
    let command = format!("printf '\\033]0;export GH={token}\\007titled\\n'; sleep 600");
    start(&tools, &id, &command).await;
    wait_for_text(&tools, &id, "titled").await;
    let (live, last) = live_and_final_screens(&tools, &sessions, &id).await;
    for screen in [live, last] {
        assert!(screen.contains("title \"export GH=[REDACTED"), "{screen}");
        assert!(!screen.contains(&token[4..20]), "{screen}");
    }
}

/// Arguments of the wrong type, as models send them: a number given as a
/// string is read as the number (a wait of "1" second is one second, not
/// the default 30), anything else of the wrong type, and a value outside
/// those a tool takes (a regex `source`, a `state`, `keys` that are not
/// strings), is a tool error naming the argument, never silently replaced
/// by its default or dropped; nothing is typed into the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_of_the_wrong_type_are_read_or_refused_never_ignored() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-args");
    start(&tools, &id, "sleep 600").await;

    let started = std::time::Instant::now();
    let (err, text) = call(
        &tools,
        "session_wait",
        json!({"id": id, "until": "regex", "pattern": "never-[0-9]{9}", "timeout_secs": "1"}),
        Duration::from_secs(60),
    )
    .await;
    assert!(!err && text.contains("within 1 s"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited {:?}",
        started.elapsed()
    );

    let refused = [
        (
            "session_wait",
            json!({"id": id, "until": "idle", "timeout_secs": "soon"}),
            "`timeout_secs` must be a non-negative integer",
        ),
        (
            "session_screen",
            json!({"id": id, "scrollback_lines": -5}),
            "`scrollback_lines` must be a non-negative integer",
        ),
        (
            "session_start",
            json!({"command": 5}),
            "`command` must be a string",
        ),
        (
            "session_start",
            json!({"command": "true", "interactive": "maybe"}),
            "`interactive` must be true or false",
        ),
        (
            "session_send",
            json!({"id": id, "text": ["a", "b"]}),
            "`text` must be a string",
        ),
        (
            "session_send",
            json!({"id": id, "keys": "Enter"}),
            "`keys` must be an array of strings",
        ),
        (
            "session_send",
            json!({"id": id, "text": "x", "keys": ["Enter", 13]}),
            "`keys` must be an array of strings",
        ),
        (
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "x", "source": "scren"}),
            "`source` must be one of screen, output",
        ),
        (
            "session_wait",
            json!({"id": id, "until": "state", "state": "finished"}),
            "`state` must be one of idle,",
        ),
        (
            "session_wait",
            json!({"id": id, "until": "quiet"}),
            "`until` must be one of idle, regex, state, exit",
        ),
    ];
    for (tool, args, says) in refused {
        let (err, text) = call(&tools, tool, args.clone(), DEADLINE).await;
        assert!(err && text.contains(says), "{tool} {args}: {text}");
    }
    assert!(sessions.live(&id), "no refused call touched the session");
    // Nothing was typed: the terminal would have echoed it.
    let (err, status) = call(&tools, "session_status", json!({"id": id}), DEADLINE).await;
    assert!(!err && status.contains(r#""output_offset":0"#), "{status}");
}

/// One call through the toolbox, as the agent makes it, in time or the
/// test fails.
async fn run_call(toolbox: &Toolbox, name: &str, arguments: Value) -> ToolOutput {
    let call = ToolCall {
        id: "call".into(),
        name: name.into(),
        arguments,
        signature: None,
    };
    tokio::time::timeout(DEADLINE + Duration::from_secs(30), toolbox.run(&call))
        .await
        .expect("the tool answered in time")
}

/// An argument name a tool does not take (a typo, a guess), as models send
/// them, is refused before anything runs: the error names it, the argument
/// meant when one is close, and every argument the tool takes. A wait given
/// `timeout` for `timeout_secs` used to run for the default 30 s; a send
/// given `txt` for `text` used to fail for want of text, not say why. An
/// argument of another kind of wait (`pattern` on an idle wait) is refused
/// too, naming the wait it is for: the model meant another wait than the one
/// it asked for. Null counts as not given, as for every argument.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argument_names_a_tool_does_not_take_are_refused_never_ignored() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let mut toolbox = Toolbox::new(Duration::from_secs(60));
    toolbox.add(tools.clone());
    let id = unique("agent-argnames");
    start(&tools, &id, "sleep 600").await;

    let started = std::time::Instant::now();
    let wait = json!({"id": id, "until": "regex", "pattern": "never-[0-9]{9}", "timeout": 1});
    let out = run_call(&toolbox, "session_wait", wait).await;
    assert!(out.is_error, "{}", out.text);
    assert!(
        out.text
            .contains("`timeout` (did you mean `timeout_secs`?)"),
        "{}",
        out.text
    );
    assert!(
        out.text
            .contains("id, idle_ms, pattern, source, state, timeout_secs, until"),
        "{}",
        out.text
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited {:?}",
        started.elapsed()
    );

    let refused = [
        (
            "session_send",
            json!({"id": id, "txt": "hello", "Keys": ["Enter"]}),
            vec![
                "`txt` (did you mean `text`?)",
                "`Keys` (did you mean `keys`?)",
                "id, keys, text",
            ],
        ),
        (
            "session_start",
            json!({"command": "sleep 600", "working_directory": "/"}),
            vec!["`working_directory`", "command, cwd, id, interactive"],
        ),
        (
            "session_list",
            json!({"all": true}),
            vec!["session_list has no argument `all`; it takes none"],
        ),
        (
            "session_wait",
            json!({"id": id, "until": "idle", "pattern": "x"}),
            vec!["`pattern` is for until \"regex\""],
        ),
        (
            "session_wait",
            json!({"id": id, "until": "exit", "state": "idle", "idle_ms": 100}),
            vec![
                "`state` is for until \"state\"",
                "`idle_ms` is for until \"idle\"",
            ],
        ),
    ];
    for (tool, args, says) in refused {
        let out = run_call(&toolbox, tool, args.clone()).await;
        assert!(out.is_error, "{tool} {args}: {}", out.text);
        for s in says {
            assert!(out.text.contains(s), "{tool} {args}: {}", out.text);
        }
    }
    // Nothing was started, nothing typed (the terminal would have echoed it).
    let list = run_call(&toolbox, "session_list", json!({})).await;
    assert_eq!(list.text, format!("{id}: running, started by you"));
    let status = run_call(&toolbox, "session_status", json!({"id": id})).await;
    assert!(
        !status.is_error && status.text.contains(r#""output_offset":0"#),
        "{}",
        status.text
    );

    // What a mode does not use may be given as null, empty or its default
    // (models that fill in every field send these).
    let idle = json!({"id": id, "until": "idle", "pattern": null, "state": "",
        "source": "screen", "idle_ms": 100, "timeout_secs": 10});
    let out = run_call(&toolbox, "session_wait", idle).await;
    assert!(
        !out.is_error && out.text.contains("is idle"),
        "{}",
        out.text
    );
    let exit = json!({"id": id, "until": "exit", "pattern": "", "idle_ms": 500,
        "source": "screen", "timeout_secs": 1});
    let out = run_call(&toolbox, "session_wait", exit).await;
    assert!(!out.text.contains("refused"), "{}", out.text);
}

/// A submitted line whose program exits before any other reaction is told
/// as such (the model is not told its line was taken when the program only
/// ended as it came).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_answered_by_the_exit_says_the_program_exited() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-submit-exit");
    start(&tools, &id, "sleep 1; exit 3").await;
    let (err, text) = call(
        &tools,
        "session_submit",
        json!({"id": id, "text": "hello", "timeout_ms": 10000}),
        Duration::from_secs(60),
    )
    .await;
    assert!(!err && text.contains("then its program exited"), "{text}");
}

/// A token the program writes in two pieces, with a read between them,
/// reaches the model scrubbed: the read keeps the unfinished word for the
/// next one, which gets it whole (each half leaked, too short for the
/// scrubber on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_written_in_two_pieces_is_read_whole_and_scrubbed() {
    use heimdall_agent::scrub::scrub;
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-halves");
    start(
        &tools,
        &id,
        "stty -echo; printf 'key ghp_A1b2C3d4E5A1b2'; read x; \
         printf 'C3d4E5A1b2C3d4E5zyxwvu\\n'; sleep 600",
    )
    .await;
    let first_half = json!({"id": id, "until": "regex", "pattern": "ghp_A1b2", "timeout_secs": 20});
    let (err, text) = call_full(&tools, "session_wait", first_half).await;
    assert!(!err, "{text}");
    let (err, first) = call_full(&tools, "session_read", json!({"id": id})).await;
    assert!(!err, "{first}");
    let first = scrub(&first).into_owned();
    assert!(first.contains("key"), "{first}");
    assert!(
        !first.contains("A1b2C3d4"),
        "the first half leaked: {first}"
    );

    let (err, text) = call_full(&tools, "session_send", json!({"id": id, "text": "\r"})).await;
    assert!(!err, "{text}");
    let rest = json!({"id": id, "until": "regex", "pattern": "zyxwvu", "timeout_secs": 20});
    let (err, text) = call_full(&tools, "session_wait", rest).await;
    assert!(!err, "{text}");
    let (err, second) = call_full(&tools, "session_read", json!({"id": id})).await;
    assert!(!err, "{second}");
    let second = scrub(&second).into_owned();
    assert!(second.contains("[REDACTED:github-token]"), "{second}");
    assert!(
        !second.contains("zyxwvu"),
        "the second half leaked: {second}"
    );
}

/// Poll session `id`'s screen through the client library (not the tools)
/// until it shows `text`.
async fn until_on_screen(sessions: &Sessions, id: &str, text: &str) {
    let dir = SocketDir::new(sessions.path());
    poll(&format!("{text} on the screen of {id}"), async || {
        let c = dir.connect(id, ClientBuilder::new()).await.ok()?;
        let s = c.screen(ScreenRequest::default()).await.ok()?;
        s.lines.iter().any(|l| l.contains(text)).then_some(())
    })
    .await;
}

/// A token the program is in the middle of writing (its first part on the
/// screen, the rest to come) does not reach the model in part:
/// session_screen masks the word at the cursor that looks like a secret's
/// beginning until it is finished, then the whole token is redacted (the
/// first part alone, too short for the scrubber's pattern, reached the
/// model in clear).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_still_being_written_does_not_reach_the_model_in_part() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, 4);
    let id = unique("agent-halftoken");
    let signals = tempfile::tempdir().unwrap();
    let go = signals.path().join("go");
    // ghp_ and 15 characters; once `go` exists, 21 more and the line end.
    let command = format!(
        "printf 'export T=gh%s_%s' p $(printf 'q7W%.0s' 1 2 3 4 5); \
         while [ ! -e {go:?} ]; do sleep 0.05; done; \
         printf '%s\\n' $(printf 'Z9x%.0s' 1 2 3 4 5 6 7); echo done-$((6*7)); sleep 600"
    );
    start(&tools, &id, &command).await;
    until_on_screen(&sessions, &id, "q7Wq7Wq7Wq7Wq7W").await;
    let server = FakeServer::start(vec![
        calls(&[("session_screen", json!({"id": id}))]),
        text_reply("a part"),
        calls(&[("session_screen", json!({"id": id}))]),
        text_reply("the whole"),
    ])
    .await;
    let mut agent = scripted_agent(&server, &tools);
    for (prompt, answer) in [("look", "a part"), ("look again", "the whole")] {
        if answer == "the whole" {
            std::fs::write(&go, "").unwrap();
            until_on_screen(&sessions, &id, "done-42").await;
        }
        let end = run_turn(&mut agent, prompt, Duration::from_secs(60)).await;
        assert_eq!(end, TurnEnd::Answer(answer.into()));
    }

    let leaked = |text: &str| {
        ["q7Wq7Wq7", "Z9xZ9xZ9"]
            .into_iter()
            .find(|p| text.contains(p))
    };
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    let part = tool_result(&reqs[1].body, "call_session_screen_0");
    assert!(part.contains("export T=[REDACTED:unfinished]"), "{part}");
    assert_eq!(
        leaked(part),
        None,
        "the first part reached the model: {part}"
    );
    let whole = tool_result(&reqs[3].body, "call_session_screen_0");
    assert!(
        whole.contains("export T=[REDACTED:github-token]") && whole.contains("done-42"),
        "{whole}"
    );
    let all: String = reqs.iter().map(|r| r.body.to_string()).collect();
    assert_eq!(leaked(&all), None);
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A model asking session_screen for more scrollback than it gives (1000
/// lines) is told so, and where older output is read, rather than given
/// the last 1000 lines as though they were all it asked for (the cap was
/// silent, and the schema did not carry it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_scrollback_than_a_screen_gives_is_refused_saying_where_to_read() {
    let sessions = Sessions::new();
    let id = unique("agent-scrollback");
    let mut script = bash_line(&id, "seq 1 1500", "(?m)^1500$");
    script.extend([
        calls(&[(
            "session_screen",
            json!({"id": id, "scrollback_lines": 5000}),
        )]),
        calls(&[(
            "session_screen",
            json!({"id": id, "scrollback_lines": 1000}),
        )]),
        text_reply("looked"),
    ]);
    let server = FakeServer::start(script).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "count", Duration::from_secs(90)).await;
    assert_eq!(end, TurnEnd::Answer("looked".into()));
    let reqs = server.requests();
    let screen = offered_tool(&reqs[0].body, "session_screen");
    let lines = &screen["function"]["parameters"]["properties"]["scrollback_lines"];
    assert_eq!(lines["maximum"], 1000, "{lines}");
    let refused = tool_result(&reqs[4].body, "call_session_screen_0");
    assert!(
        refused.contains("`scrollback_lines` is at most 1000, not 5000")
            && refused.contains("session_read"),
        "{refused}"
    );
    assert!(!refused.contains("<untrusted-program-output>"), "{refused}");
    let screen = tool_result(&reqs[5].body, "call_session_screen_0");
    assert!(screen.contains("\n1500\n"), "{screen}");
    tools.cleanup(Duration::from_secs(15)).await;
}

/// session_list says a session whose program has exited has exited, with
/// its exit code, also while its supervisor still finishes (held here by a
/// subscriber that reads nothing, as for up to 120 s): it said `running`,
/// after session_status and a wait had told the model it exited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_list_says_a_program_that_exited_has_exited() {
    let sessions = Sessions::new();
    let (_config_dir, tools) = held_session_tools(&sessions);
    let (running, exited) = (unique("agent-list-runs"), unique("agent-list-exited"));
    let server = FakeServer::start(vec![
        calls(&[
            ("session_start", json!({"command": "cat", "id": running})),
            (
                "session_start",
                json!({"command": HELD_COMMAND[2], "id": exited}),
            ),
        ]),
        text_reply("started"),
        calls(&[
            (
                "session_wait",
                json!({"id": exited, "until": "exit", "timeout_secs": 20}),
            ),
            ("session_list", json!({})),
        ]),
        text_reply("listed"),
    ])
    .await;
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "start two", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("started".into()));
    let held = hold_after_exit(sessions.path(), &exited).await;
    let end = run_turn(&mut agent, "list them", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("listed".into()));
    assert!(
        exited_not_ended(&sessions, &exited),
        "the supervisor ended meanwhile: not the moment tested"
    );
    let reqs = server.requests();
    let waited = tool_result(&reqs[3].body, "call_session_wait_0");
    assert!(waited.contains("exited with code 137"), "{waited}");
    let list = tool_result(&reqs[3].body, "call_session_list_1");
    assert!(
        list.contains(&format!("{running}: running, started by you")),
        "{list}"
    );
    assert!(
        list.contains(&format!(
            "{exited}: exited (exit code 137 (killed by signal 9)), started by you"
        )),
        "{list}"
    );
    drop(held);
    assert_eq!(
        tools.cleanup(Duration::from_secs(15)).await,
        [running.as_str()]
    );
}

/// The calls naming one session in one turn run one after another, in the
/// order given, and the model is told so: a wait listed before the line
/// that makes its text appear waits out its own timeout, then the line is
/// typed (no deadlock), and a wait after the line sees it. The tool
/// descriptions said the calls of a turn run concurrently, not that those
/// of one session take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_before_the_line_it_waits_for_times_out_then_the_line_runs() {
    let sessions = Sessions::new();
    let id = unique("agent-lane");
    let wait = |secs: u64| {
        (
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^marker-2$", "timeout_secs": secs}),
        )
    };
    let server = FakeServer::start(vec![
        calls(&[
            (
                "session_start",
                json!({"command": "bash --norc --noprofile", "id": id}),
            ),
            wait(2),
            (
                "session_submit",
                json!({"id": id, "text": "echo marker-$((1+1))"}),
            ),
            wait(20),
        ]),
        text_reply("in order"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "marker", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("in order".into()));
    let reqs = server.requests();
    let first = tool_result(&reqs[1].body, "call_session_wait_1");
    assert!(first.contains("not yet"), "{first}");
    let typed = tool_result(&reqs[1].body, "call_session_submit_2");
    assert!(typed.contains("submitted"), "{typed}");
    let second = tool_result(&reqs[1].body, "call_session_wait_3");
    assert!(second.contains("matched \"marker-2\""), "{second}");
    for name in ["session_start", "session_wait"] {
        let text = &offered_tool(&reqs[0].body, name)["function"]["description"];
        assert!(
            text.as_str()
                .is_some_and(|t| t.contains("one after another, in the order given")),
            "{name}: {text}"
        );
    }
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A screen wait that matched says which row it matched on and shows that
/// row as the screen has it, so a model whose pattern matched the command
/// line it typed (`finished` in `sleep 2; echo finished`), not the output
/// it waits for, can tell: the answer was `matched "finished" on the line
/// 0`, which reads as though the output had come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_match_shows_the_row_it_matched_on() {
    let sessions = Sessions::new();
    let id = unique("agent-row");
    let mut script = bash_line(&id, "sleep 2; echo finished", "finished");
    script.extend([
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "(?m)^finished$", "timeout_secs": 20}),
        )]),
        text_reply("finished"),
    ]);
    let server = FakeServer::start(script).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "finish", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("finished".into()));
    let reqs = server.requests();
    let typed = tool_result(&reqs[3].body, "call_session_wait_0");
    assert!(
        typed.contains(&format!(
            "matched \"finished\" on screen row 0 of session {id} (rows count from 0 at the top)"
        )) && typed.contains("<untrusted-program-output>\n")
            && typed.contains("# sleep 2; echo finished\n</untrusted-program-output>"),
        "{typed}"
    );
    let output = tool_result(&reqs[4].body, "call_session_wait_0");
    assert!(
        output.contains(&format!(
            "matched \"finished\" on screen row 1 of session {id} "
        )) && output.contains("<untrusted-program-output>\nfinished\n</untrusted-program-output>"),
        "{output}"
    );
    tools.cleanup(Duration::from_secs(15)).await;
}

/// The line a program prints after a password prompt reads whole: the
/// scrubber took the first word of the next line for the password typed
/// at `Password:` (which the terminal does not echo), so a model read
/// `[REDACTED:assignment] try again.` and could not tell the password was
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_after_a_password_prompt_is_not_taken_for_the_password() {
    let sessions = Sessions::new();
    let id = unique("agent-refused");
    let command =
        "python3 -c \"import getpass; getpass.getpass('Password: '); print('Sorry, try again.')\"";
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": command, "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "state", "state": "waiting", "timeout_secs": 30}),
        )]),
        calls(&[("session_submit", json!({"id": id, "text": "swordfish"}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 30}),
        )]),
        calls(&[
            ("session_read", json!({"id": id})),
            ("session_screen", json!({"id": id})),
        ]),
        text_reply("refused"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "log in", Duration::from_secs(120)).await;
    assert_eq!(end, TurnEnd::Answer("refused".into()));
    let reqs = server.requests();
    let exited = tool_result(&reqs[4].body, "call_session_wait_0");
    assert!(exited.contains("exited with code 0"), "{exited}");
    for call in ["call_session_read_0", "call_session_screen_1"] {
        let text = tool_result(&reqs[5].body, call);
        assert!(
            text.contains("Password:\nSorry, try again.\n"),
            "{call}: {text}"
        );
    }
}

/// A model that answers a password prompt with session_answer, as though
/// the password were a choice, is told the session waits for typed text
/// and to type it with session_submit (it was told the text `is not one
/// of the choices of "Password:": []`); nothing is typed by the refusal,
/// and the line submitted then reaches the program.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_a_prompt_without_choices_says_to_type_the_text() {
    let sessions = Sessions::new();
    let id = unique("agent-password");
    let command = "python3 -c \"import getpass; print('got', len(getpass.getpass('Password: ')))\"";
    let server = FakeServer::start(vec![
        calls(&[("session_start", json!({"command": command, "id": id}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "state", "state": "waiting", "timeout_secs": 30}),
        )]),
        calls(&[("session_answer", json!({"id": id, "option": "swordfish"}))]),
        calls(&[("session_submit", json!({"id": id, "text": "swordfish"}))]),
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "exit", "timeout_secs": 30}),
        )]),
        calls(&[("session_read", json!({"id": id}))]),
        text_reply("logged in"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "log in", Duration::from_secs(120)).await;
    assert_eq!(end, TurnEnd::Answer("logged in".into()));
    let reqs = server.requests();
    let waited = tool_result(&reqs[2].body, "call_session_wait_0");
    assert_eq!(waited, format!("session {id} is now waiting"));
    let refused = tool_result(&reqs[3].body, "call_session_answer_0");
    assert_eq!(
        refused,
        format!(
            "session {id} waits for text to be typed at \"Password:\", not for a choice: \
             type it with session_submit"
        )
    );
    let exited = tool_result(&reqs[5].body, "call_session_wait_0");
    assert!(exited.contains("exited with code 0"), "{exited}");
    // One password, the one submitted: 9 characters.
    let read = tool_result(&reqs[6].body, "call_session_read_0");
    assert!(read.contains("\ngot 9\n"), "{read}");
}

/// Key names as models write them — `ctrl-c`, `Ctrl+A`, `^E`, `alt-d` —
/// are the keys they name (each was refused as an unknown key name, and
/// the refusal told the model to "type text without --keys", an option of
/// `hm send` it does not have).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_keys_are_read_as_models_write_them() {
    let sessions = Sessions::new();
    let id = unique("agent-keys");
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[
            ("session_send", json!({"id": id, "text": "XX echo two", "keys": ["ctrl+a", "alt-d", "Delete", "^E", "Enter"]})),
            ("session_send", json!({"id": id, "keys": ["Ctrl-Alt-Delete"]})),
            (
                "session_wait",
                json!({"id": id, "until": "regex", "pattern": "(?m)^two$", "timeout_secs": 20}),
            ),
            ("session_submit", json!({"id": id, "text": "sleep 600"})),
            ("session_send", json!({"id": id, "keys": ["ctrl-c"]})),
            // The terminal flushes what was typed ahead of a Ctrl-C it has
            // not yet handled: the next line waits for its echo.
            (
                "session_wait",
                json!({"id": id, "until": "regex", "pattern": r"\^C", "timeout_secs": 20}),
            ),
            ("session_submit", json!({"id": id, "text": "echo after-$((1+1))"})),
            (
                "session_wait",
                json!({"id": id, "until": "regex", "pattern": "(?m)^after-2$", "timeout_secs": 20}),
            ),
        ]),
        text_reply("keys"),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "keys", Duration::from_secs(90)).await;
    assert_eq!(end, TurnEnd::Answer("keys".into()));
    let reqs = server.requests();
    let body = &reqs[2].body;
    let edited = tool_result(body, "call_session_send_0");
    assert!(edited.starts_with("sent "), "{edited}");
    let unknown = tool_result(body, "call_session_send_1");
    assert!(
        unknown.contains("unknown key name \"Ctrl-Alt-Delete\"")
            && !unknown.contains("--keys")
            && unknown.contains("plain text is sent as text"),
        "{unknown}"
    );
    // C-a went to the line's start, M-d cut `XX`, C-e went to its end.
    let two = tool_result(body, "call_session_wait_2");
    assert!(two.contains("matched \"two\""), "{two}");
    let interrupted = tool_result(body, "call_session_send_4");
    assert!(interrupted.starts_with("sent 1 bytes"), "{interrupted}");
    let echoed = tool_result(body, "call_session_wait_5");
    assert!(echoed.contains("matched \"^C\""), "{echoed}");
    let after = tool_result(body, "call_session_wait_7");
    assert!(after.contains("matched \"after-2\""), "{after}");
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A turn cancelled (Ctrl-C) while a session_submit waits for the
/// program's reaction: the line is typed already (the terminal shows it,
/// the busy program reads it later), so the call's answer says its input
/// may have gone in and to look before typing it again; it said only
/// "cancelled by the user", and a model that typed the line again ran it
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_cancelled_mid_call_says_its_line_may_be_typed() {
    let sessions = Sessions::new();
    let id = unique("agent-cancel-submit");
    let line = "echo marker-$((2+2))";
    let server = FakeServer::start(vec![
        calls(&[(
            "session_start",
            json!({"command": "bash --norc --noprofile", "id": id}),
        )]),
        calls(&[("session_submit", json!({"id": id, "text": "sleep 600"}))]),
        text_reply("sleeping"),
        calls(&[(
            "session_submit",
            json!({"id": id, "text": line, "timeout_ms": 50000}),
        )]),
    ])
    .await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "sleep", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("sleeping".into()));
    let cancel = CancellationToken::new();
    let mut on_event = |_| {};
    let turn = agent.turn("echo a marker", &cancel, &mut on_event);
    let typed = async {
        // The terminal echoes the line while `sleep` runs: the submit has
        // typed it and waits for a reaction that cannot come yet.
        let dir = SocketDir::new(sessions.path());
        let client = dir
            .connect(&id, ClientBuilder::new())
            .await
            .expect("connect");
        poll("the line typed", async || {
            let s = client.screen(ScreenRequest::default()).await.ok()?;
            s.lines.iter().any(|l| l.contains(line)).then_some(())
        })
        .await;
        cancel.cancel();
    };
    let (end, ()) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(turn, typed) })
            .await
            .expect("the cancelled turn ended in time");
    assert_eq!(end.expect("the turn ran"), TurnEnd::Cancelled);
    let Some(heimdall_agent::conversation::Message::Tool { results }) = agent.messages().last()
    else {
        panic!(
            "the cancelled call is answered: {:?}",
            agent.messages().last()
        );
    };
    let answer = &results[0].content;
    assert!(
        answer.contains("cancelled by the user")
            && answer.contains("may have been typed")
            && answer.contains("look at the session's screen before typing it again"),
        "{answer}"
    );
    assert!(sessions.live(&id), "the session runs on");
    tools.cleanup(Duration::from_secs(15)).await;
}

/// session_status right after the wait that saw the session start waiting,
/// in the same turn, shows what it waits for: the `waiting` event comes
/// before the state change, but the agent reads the prompt's rows off the
/// screen first, and the status could be answered before that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_after_a_wait_for_waiting_shows_the_prompt() {
    let sessions = Sessions::new();
    let mut turn = Vec::new();
    let ids: Vec<String> = (0..4).map(|i| unique(&format!("agent-ask-{i}"))).collect();
    for id in &ids {
        let command = "sh -c 'printf \"Delete all? [y/N] \"; read a; sleep 30'";
        turn.push(("session_start", json!({"command": command, "id": id})));
        turn.push((
            "session_wait",
            json!({"id": id, "until": "state", "state": "waiting", "timeout_secs": 30}),
        ));
        turn.push(("session_status", json!({"id": id})));
    }
    let server = FakeServer::start(vec![calls(&turn), text_reply("asked")]).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "ask", Duration::from_secs(90)).await;
    assert_eq!(end, TurnEnd::Answer("asked".into()));
    let reqs = server.requests();
    for (i, id) in ids.iter().enumerate() {
        let waited = tool_result(&reqs[1].body, &format!("call_session_wait_{}", 3 * i + 1));
        assert_eq!(waited, format!("session {id} is now waiting"));
        let status = tool_result(&reqs[1].body, &format!("call_session_status_{}", 3 * i + 2));
        let status: Value = serde_json::from_str(status).expect("JSON");
        assert_eq!(
            status["waiting_for"]["options"],
            json!(["yes", "no"]),
            "{status}"
        );
    }
    tools.cleanup(Duration::from_secs(15)).await;
}

/// A wait on new output for text the program wrote before the wait began
/// (between the submit and the wait, in one turn) never matches, and the
/// answer says why and where the text may be: it said only "not yet", and
/// the model took the command for one still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_wait_that_times_out_says_earlier_output_is_not_matched() {
    let sessions = Sessions::new();
    let id = unique("agent-output-wait");
    let mut script = bash_line(&id, "echo ready-$((1+2))", "(?m)^ready-3$");
    script.extend([
        calls(&[(
            "session_wait",
            json!({"id": id, "until": "regex", "pattern": "ready-3", "source": "output", "timeout_secs": 2}),
        )]),
        text_reply("waited"),
    ]);
    let server = FakeServer::start(script).await;
    let tools = session_tools(&sessions, 8);
    let mut agent = scripted_agent(&server, &tools);
    let end = run_turn(&mut agent, "ready", Duration::from_secs(60)).await;
    assert_eq!(end, TurnEnd::Answer("waited".into()));
    let reqs = server.requests();
    let not_yet = tool_result(&reqs[4].body, "call_session_wait_0");
    assert!(
        not_yet.contains("not yet")
            && not_yet.contains("only output written after the wait began is matched")
            && not_yet.contains("session_read"),
        "{not_yet}"
    );
    assert!(!not_yet.contains("trailing blanks"), "{not_yet}");
    tools.cleanup(Duration::from_secs(15)).await;
}
