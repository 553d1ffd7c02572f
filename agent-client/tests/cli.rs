//! `hm-agent` as a user runs it, against a fake OpenAI-compatible server:
//! streamed answer verbatim on stdout, tool calls on stderr, `--json`
//! events, exit codes, conversations listed and resumed, an answer cut off
//! mid-text.

mod common;

use std::path::Path;
use std::process::Output;

use common::{data_events, FakeServer, Reply, DEADLINE};
use serde_json::{json, Value};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(base_url: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(work.join("notes.txt"), "some notes").unwrap();
        std::fs::write(
            dir.path().join("identity.md"),
            "You are the CLI test agent.",
        )
        .unwrap();
        let config = format!(
            "[agent]\nprovider = \"openai\"\nmodel = \"local-model\"\nbase_url = \"{base_url}/v1\"\n\
             work_dir = \"{work}\"\ndata_dir = \"{data}\"\nidentity = \"{identity}\"\n\
             skills_dir = \"{skills}\"\napi_key_env = \"HM_AGENT_TEST_KEY\"\nmax_retries = 0\n",
            work = work.display(),
            data = dir.path().join("data").display(),
            identity = dir.path().join("identity.md").display(),
            skills = dir.path().join("skills").display(),
        );
        std::fs::write(dir.path().join("heimdall.toml"), config).unwrap();
        Setup { dir }
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("heimdall.toml")
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hm-agent"));
        cmd.arg("--config")
            .arg(self.config())
            .args(args)
            .env("HM_AGENT_TEST_KEY", "local-key")
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        tokio::time::timeout(DEADLINE, cmd.output())
            .await
            .expect("hm-agent finished in time")
            .expect("hm-agent ran")
    }
}

fn tool_then_answer(answer: &str) -> Vec<Reply> {
    let call = data_events(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"list_dir","arguments":"{\"pa"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\":\".\"}"}}]},"finish_reason":"tool_calls"}]}),
    ]) + "data: [DONE]\n\n";
    let half = answer.len() / 2;
    let split = (half..answer.len())
        .find(|i| answer.is_char_boundary(*i))
        .unwrap_or(answer.len());
    let text = data_events(&[
        json!({"choices":[{"index":0,"delta":{"content":&answer[..split]}}]}),
        json!({"choices":[{"index":0,"delta":{"content":&answer[split..]},"finish_reason":"stop"}]}),
    ]) + "data: [DONE]\n\n";
    vec![Reply::Sse(call), Reply::Sse(text)]
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn conversation_ids(data: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(data.join("conversations"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn run_prints_the_answer_verbatim_and_tool_calls_on_stderr() {
    let answer = "There is one file: notes.txt — «fine» ✓";
    let server = FakeServer::start(tool_then_answer(answer)).await;
    let setup = Setup::new(&server.url());
    let out = setup.run(&["run", "what", "is", "here?"]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stderr: {stderr}");
    assert_eq!(stdout, format!("{answer}\n"));
    assert!(stderr.contains("→ list_dir {\"path\":\".\"}"), "{stderr}");
    assert!(stderr.contains("← list_dir"), "{stderr}");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer local-key"));
    let system = reqs[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are the CLI test agent."),
        "{system}"
    );
    assert_eq!(reqs[0].body["messages"][1]["content"], "what is here?");
    let tool = &reqs[1].body["messages"][3];
    assert_eq!(tool["role"], "tool");
    let listing = tool["content"].as_str().unwrap();
    assert!(listing.contains("notes.txt"), "{listing}");
    assert!(listing.contains("<untrusted-program-output>"), "{listing}");

    // The conversation is stored, listed, and resumable.
    let ids = conversation_ids(&setup.dir.path().join("data"));
    assert_eq!(ids.len(), 1);
    let listed = setup.run(&["list"]).await;
    assert!(listed.status.success());
    let listed = text(&listed.stdout);
    assert!(
        listed.contains(&ids[0]) && listed.contains("what is here?"),
        "{listed}"
    );
}

#[tokio::test]
async fn resume_sends_the_stored_conversation_back() {
    let mut replies = tool_then_answer("first answer");
    replies.extend(tool_then_answer("second answer"));
    let server = FakeServer::start(replies).await;
    let setup = Setup::new(&server.url());
    let first = setup.run(&["run", "first question"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let id = conversation_ids(&setup.dir.path().join("data")).remove(0);

    let second = setup
        .run(&["--resume", &id, "run", "second question"])
        .await;
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout), "second answer\n");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    let msgs = reqs[2].body["messages"].as_array().unwrap();
    let said: Vec<(&str, &str)> = msgs
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap_or(""),
                m["content"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(said[1], ("user", "first question"));
    assert_eq!(said[2].0, "assistant");
    assert_eq!(msgs[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(said[3].0, "tool");
    assert_eq!(said[4], ("assistant", "first answer"));
    assert_eq!(said[5], ("user", "second question"));
    // Still one conversation, now with both turns.
    assert_eq!(conversation_ids(&setup.dir.path().join("data")), vec![id]);

    let bad = setup.run(&["--resume", "../etc/passwd", "run", "x"]).await;
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("no conversation"));
}

/// A conversation file whose last line was cut short (hm-agent killed as
/// it wrote it) resumes without that line, saying so on stderr; the file
/// is repaired (every line whole, the new turn after the old ones). A file
/// with a bad line before its last is refused, and left as it is.
#[tokio::test]
async fn resume_drops_a_last_line_cut_short_and_refuses_a_bad_one_before_it() {
    let mut replies = tool_then_answer("first answer");
    replies.push(common::text_reply("second answer"));
    let server = FakeServer::start(replies).await;
    let setup = Setup::new(&server.url());
    let first = setup.run(&["run", "first question"]).await;
    assert!(first.status.success(), "{}", text(&first.stderr));
    let data = setup.dir.path().join("data");
    let id = conversation_ids(&data).remove(0);
    let file = data.join("conversations").join(format!("{id}.jsonl"));
    let whole = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = whole.lines().collect();
    assert_eq!(lines.len(), 5, "{whole}");
    // The first half of one more message, as a SIGKILL mid-write leaves it.
    let last = lines[4];
    let torn = &last[..last.len() / 2];
    std::fs::write(&file, format!("{whole}{torn}")).unwrap();

    let listed = setup.run(&["list"]).await;
    assert!(
        text(&listed.stdout).contains(&id),
        "{}",
        text(&listed.stdout)
    );
    let second = setup
        .run(&["--resume", &id, "run", "second question"])
        .await;
    let stderr = text(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert_eq!(text(&second.stdout), "second answer\n");
    assert!(
        stderr.contains(&format!(
            "conversation {id}: its last line (line 6, {} bytes) was cut short",
            torn.len()
        )),
        "{stderr}"
    );
    let reqs = server.requests();
    let sent: Vec<&str> = reqs[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        sent,
        ["system", "user", "assistant", "tool", "assistant", "user"]
    );
    let repaired = std::fs::read_to_string(&file).unwrap();
    assert!(repaired.starts_with(&whole), "{repaired}");
    let after: Vec<Value> = repaired[whole.len()..]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(after.len(), 2, "{repaired}");
    assert_eq!(after[0]["message"]["content"], "second question");

    // A bad line that is not the last is no torn write: refused.
    let corrupt = format!(
        "{}\n{{\"type\": \"mess\n{}",
        lines[..2].join("\n"),
        lines[2..].join("\n") + "\n"
    );
    let bad = data.join("conversations").join("20261205-bad0.jsonl");
    std::fs::write(&bad, &corrupt).unwrap();
    let refused = setup
        .run(&["--resume", "20261205-bad0", "run", "third question"])
        .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("line 3"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), corrupt);
}

#[tokio::test]
async fn json_events_and_a_clear_auth_error() {
    let server = FakeServer::start(tool_then_answer("json answer")).await;
    let setup = Setup::new(&server.url());
    let out = setup.run(&["--json", "run", "hello"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"tool_call"));
    assert_eq!(events[0]["name"], "list_dir");
    assert!(kinds.contains(&"tool_result"));
    let answer: String = events
        .iter()
        .filter(|e| e["type"] == "text")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(answer, "json answer");
    let done = events.last().unwrap();
    assert_eq!(done["type"], "done");
    assert_eq!(done["status"], "answered");

    let denied = FakeServer::start(vec![Reply::Status {
        code: 401,
        headers: Vec::new(),
        body: r#"{"error":{"message":"Invalid API key"}}"#.into(),
    }])
    .await;
    let setup = Setup::new(&denied.url());
    let out = setup.run(&["run", "hello"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("refused the API key (HTTP 401): Invalid API key"),
        "{stderr}"
    );
    assert_eq!(denied.requests().len(), 1);
}

#[tokio::test]
async fn secrets_in_the_prompt_reach_neither_the_model_nor_the_store() {
    let typed = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let written = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
    let server = FakeServer::start(tool_then_answer(&format!("noted {written} for later"))).await;
    let setup = Setup::new(&server.url());
    let out = setup
        .run(&["run", "push with", typed, "and DB_PASSWORD=hunter2"])
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(!r.raw_body.contains(typed), "{}", r.raw_body);
        assert!(!r.raw_body.contains("hunter2"), "{}", r.raw_body);
    }
    assert_eq!(
        reqs[0].body["messages"][1]["content"],
        "push with [REDACTED:github-token] and DB_PASSWORD=[REDACTED:assignment]"
    );
    // The stored conversation (a log on disk) has none of them either, not
    // even the one the model wrote.
    let data = setup.dir.path().join("data");
    let id = conversation_ids(&data).remove(0);
    let stored =
        std::fs::read_to_string(data.join("conversations").join(format!("{id}.jsonl"))).unwrap();
    for secret in [typed, "hunter2", written] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
    assert!(stored.contains("[REDACTED:github-token]"), "{stored}");
    assert!(
        stored.contains("noted [REDACTED:openai-key] for later"),
        "{stored}"
    );
}

/// An answer cut off after some of its text was printed: the text stays on
/// stdout ended by a line break, so the error on stderr and the shell's
/// prompt start on a line of their own at a terminal; the exit is 1.
#[tokio::test]
async fn an_answer_cut_off_mid_text_ends_its_line() {
    let partial = data_events(&[
        json!({"choices":[{"index":0,"delta":{"content":"Here is the plan: first I will"}}]}),
    ]);
    let server = FakeServer::start(vec![Reply::Dropped(partial)]).await;
    let setup = Setup::new(&server.url());
    let out = setup.run(&["run", "plan it"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Here is the plan: first I will\n");
    assert!(
        text(&out.stderr).contains("the answer was cut off"),
        "{}",
        text(&out.stderr)
    );
}
