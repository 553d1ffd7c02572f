//! The agent loop against a fake provider on loopback speaking each real
//! wire format: streamed text, tool-call argument deltas, two tool calls in
//! one turn (in different lanes) run concurrently, secrets scrubbed before they reach the
//! server, retries honouring Retry-After / RetryInfo, a clear 401, answers
//! cut off mid-stream reported (or asked again when nothing had come).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{data_events, named_events, text_reply, FakeServer, Reply, DEADLINE};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use heimdall_agent::agent::{Agent, AgentEvent, LoopLimits, TurnEnd};
use heimdall_agent::conversation::ToolSpec;
use heimdall_agent::provider::{
    Provider, ProviderError, ProviderKind, ProviderSettings, RetryPolicy,
};
use heimdall_agent::tools::{ToolOutput, ToolSet, Toolbox};
use serde_json::{json, Value};
use tokio::sync::Barrier;
use tokio_util::sync::CancellationToken;

/// A fake secret of the GitHub token shape.
const FAKE_SECRET: &str = "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake0000";

/// A tool whose calls prove they overlap: each waits at a barrier for the
/// other (up to a deadline) and reports whether it met it.
struct Probe {
    barrier: Barrier,
    met: AtomicUsize,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe {
            barrier: Barrier::new(2),
            met: AtomicUsize::new(0),
        })
    }
}

struct ProbeTools(Arc<Probe>);

impl ToolSet for ProbeTools {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "probe".into(),
            description: "test probe".into(),
            parameters: json!({"type": "object", "properties": {"label": {"type": "string"}}}),
        }]
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        _limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>> {
        (name == "probe").then(|| {
            async move {
                let label = args["label"].as_str().unwrap_or("?").to_string();
                let met = tokio::time::timeout(DEADLINE, self.0.barrier.wait())
                    .await
                    .is_ok();
                if met {
                    self.0.met.fetch_add(1, Ordering::SeqCst);
                }
                let how = if met { "overlapped" } else { "ran alone" };
                ToolOutput::ok(format!("probe {label} {how}; env GITHUB={FAKE_SECRET}"))
            }
            .boxed()
        })
    }

    /// Probes of different labels are in different lanes: they still meet.
    fn lane(&self, _name: &str, args: &Value) -> Option<String> {
        args["label"].as_str().map(str::to_string)
    }
}

fn settings(kind: ProviderKind, base_url: String, model: &str) -> ProviderSettings {
    ProviderSettings {
        kind,
        model: model.into(),
        base_url,
        api_key: Some("test-key".into()),
        api_key_env: "TEST_KEY".into(),
        max_tokens: None,
        connect_timeout: Duration::from_secs(5),
        read_timeout: DEADLINE,
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
        },
    }
}

fn agent_with_probe(settings: ProviderSettings, probe: Arc<Probe>) -> Agent {
    let mut tools = Toolbox::new(DEADLINE * 2);
    tools.add(ProbeTools(probe));
    agent_with(settings, tools)
}

/// An agent of `settings` with `tools` and an empty conversation.
fn agent_with(settings: ProviderSettings, tools: Toolbox) -> Agent {
    Agent::new(
        Provider::new(settings).unwrap(),
        tools,
        "You are a test.".into(),
        LoopLimits {
            max_iterations: 5,
            truncation: 12_000,
        },
        Vec::new(),
        None,
    )
}

/// Run one turn; returns how it ended and the streamed text.
async fn turn(agent: &mut Agent, prompt: &str) -> (TurnEnd, String, Vec<AgentEvent>) {
    let mut events = Vec::new();
    let end = tokio::time::timeout(
        DEADLINE * 3,
        agent.turn(prompt, &CancellationToken::new(), &mut |e| events.push(e)),
    )
    .await
    .expect("turn finished in time")
    .expect("turn succeeded");
    let text = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    (end, text, events)
}

const ANSWER: &str = "Both probes ran: ünïcödé ✓";

fn assert_probes_overlapped(probe: &Probe, events: &[AgentEvent]) {
    assert_eq!(
        probe.met.load(Ordering::SeqCst),
        2,
        "both calls met at the barrier"
    );
    let calls: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolCall { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["probe", "probe"]);
}

/// The secret never reaches the server, its redaction does.
fn assert_scrubbed(body: &str) {
    assert!(!body.contains("FAKEfake"), "secret leaked: {body}");
    assert!(body.contains("[REDACTED:github-token]"), "{body}");
    assert!(body.contains("untrusted") || body.contains("overlapped"));
}

#[tokio::test]
async fn openai_tool_calls_by_index_run_concurrently_and_results_are_scrubbed() {
    let first = data_events(&[
        json!({"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me check. "}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"probe","arguments":""}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"la"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"probe","arguments":"{\"label\":"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"bel\":\"A\"}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":" \"B\"}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        json!({"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}),
    ]) + "data: [DONE]\n\n";
    let second = data_events(&[
        json!({"choices":[{"index":0,"delta":{"content":"Both probes ran: ünïc"}}]}),
        json!({"choices":[{"index":0,"delta":{"content":"ödé ✓"},"finish_reason":"stop"}]}),
        json!({"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":7}}),
    ]) + "data: [DONE]\n\n";
    let server = FakeServer::start(vec![Reply::Sse(first), Reply::Sse(second)]).await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(
            ProviderKind::Openai,
            format!("{}/v1", server.url()),
            "gpt-test",
        ),
        probe.clone(),
    );
    let (end, text, events) = turn(&mut agent, "probe twice").await;
    assert_eq!(end, TurnEnd::Answer(ANSWER.into()));
    assert_eq!(text, format!("Let me check. {ANSWER}"));
    assert_probes_overlapped(&probe, &events);
    assert_eq!(agent.usage().input_tokens, 30);
    assert_eq!(agent.usage().output_tokens, 12);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer test-key"));
    assert_eq!(reqs[0].body["model"], "gpt-test");
    assert_eq!(reqs[0].body["stream"], true);
    assert_eq!(reqs[0].body["tools"][0]["function"]["name"], "probe");
    assert_eq!(reqs[0].body["messages"][0]["role"], "system");
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let calls = msgs[2]["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["id"], "call_a");
    let args: Value =
        serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"label": "B"}));
    assert_eq!(msgs[3]["role"], "tool");
    assert_eq!(msgs[3]["tool_call_id"], "call_a");
    assert!(msgs[3]["content"]
        .as_str()
        .unwrap()
        .contains("probe A overlapped"));
    assert_eq!(msgs[4]["tool_call_id"], "call_b");
    assert_scrubbed(&reqs[1].raw_body);
}

/// Ollama's OpenAI-compatible stream gives every tool call of an answer
/// `index` 0, each whole in its own chunk with its own id: they are two
/// calls, not one whose name and arguments are the two run together.
#[tokio::test]
async fn tool_calls_that_reuse_index_0_with_their_own_ids_are_separate_calls() {
    let first = data_events(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_x1","type":"function","function":{"name":"probe","arguments":"{\"label\":\"A\"}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_x2","type":"function","function":{"name":"probe","arguments":"{\"label\":\"B\"}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
    ]) + "data: [DONE]\n\n";
    let server = FakeServer::start(vec![Reply::Sse(first), text_reply(ANSWER)]).await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(ProviderKind::Openai, format!("{}/v1", server.url()), "m"),
        probe.clone(),
    );
    let (end, _, events) = turn(&mut agent, "probe twice").await;
    assert_eq!(end, TurnEnd::Answer(ANSWER.into()));
    assert_probes_overlapped(&probe, &events);
    let reqs = server.requests();
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    let ids: Vec<&Value> = msgs[2]["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!("call_x1"), &json!("call_x2")]);
    assert!(msgs[3]["content"].as_str().unwrap().contains("probe A"));
    assert!(msgs[4]["content"].as_str().unwrap().contains("probe B"));
}
#[tokio::test]
async fn anthropic_input_json_deltas_and_headers() {
    let first = named_events(&[
        (
            "message_start",
            json!({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":12,"output_tokens":1}}}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        ("ping", json!({"type":"ping"})),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking. "}}),
        ),
        (
            "content_block_stop",
            json!({"type":"content_block_stop","index":0}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_a","name":"probe","input":{}}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"label\": \"A"}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"}"}}),
        ),
        (
            "content_block_stop",
            json!({"type":"content_block_stop","index":1}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_b","name":"probe","input":{}}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"label\":\"B\"}"}}),
        ),
        (
            "content_block_stop",
            json!({"type":"content_block_stop","index":2}),
        ),
        (
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}}),
        ),
        ("message_stop", json!({"type":"message_stop"})),
    ]);
    let mut second_events = anthropic_text_start(50, ANSWER);
    second_events.extend([
        (
            "content_block_stop",
            json!({"type":"content_block_stop","index":0}),
        ),
        (
            "message_delta",
            json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}),
        ),
        ("message_stop", json!({"type":"message_stop"})),
    ]);
    let second = named_events(&second_events);
    let server = FakeServer::start(vec![Reply::Sse(first), Reply::Sse(second)]).await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(ProviderKind::Anthropic, server.url(), "claude-test"),
        probe.clone(),
    );
    let (end, text, events) = turn(&mut agent, "probe twice").await;
    assert_eq!(end, TurnEnd::Answer(ANSWER.into()));
    assert_eq!(text, format!("Checking. {ANSWER}"));
    assert_probes_overlapped(&probe, &events);
    assert_eq!(agent.usage().input_tokens, 62);
    assert_eq!(agent.usage().output_tokens, 39);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(reqs[0].header("x-api-key"), Some("test-key"));
    assert_eq!(reqs[0].body["max_tokens"], 4096);
    assert_eq!(reqs[0].body["system"], "You are a test.");
    assert_eq!(reqs[0].body["tools"][0]["input_schema"]["type"], "object");
    let msgs = reqs[1].body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[1]["role"], "assistant");
    assert_eq!(msgs[1]["content"][1]["type"], "tool_use");
    assert_eq!(msgs[1]["content"][1]["input"], json!({"label": "A"}));
    assert_eq!(msgs[1]["content"][2]["id"], "toolu_b");
    assert_eq!(msgs[2]["role"], "user");
    assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
    assert_eq!(msgs[2]["content"][0]["tool_use_id"], "toolu_a");
    assert_scrubbed(&reqs[1].raw_body);
}

#[tokio::test]
async fn gemini_function_calls_echo_thought_signatures_and_retry_info_is_honoured() {
    let quota = json!({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED",
        "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.4s"}]}});
    let first = data_events(&[
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Checking. "}]}}]}),
        json!({"candidates":[{"content":{"role":"model","parts":[
            {"functionCall":{"name":"probe","args":{"label":"A"}},"thoughtSignature":"c2lnbmF0dXJlLUE="},
            {"functionCall":{"name":"probe","args":{"label":"B"}}}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3}}),
    ]);
    let second = data_events(&[
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Both probes ran: "}]}}]}),
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":"ünïcödé ✓"}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":6}}),
    ]);
    let server = FakeServer::start(vec![
        Reply::Status {
            code: 429,
            headers: Vec::new(),
            body: quota.to_string(),
        },
        Reply::Sse(first),
        Reply::Sse(second),
    ])
    .await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(ProviderKind::Gemini, server.url(), "gemini-test"),
        probe.clone(),
    );
    let started = Instant::now();
    let (end, text, events) = turn(&mut agent, "probe twice").await;
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "RetryInfo delay honoured"
    );
    assert_eq!(end, TurnEnd::Answer(ANSWER.into()));
    assert_eq!(text, format!("Checking. {ANSWER}"));
    assert_probes_overlapped(&probe, &events);
    assert_eq!(agent.usage().input_tokens, 37);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs[0].path,
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    );
    assert_eq!(reqs[0].header("x-goog-api-key"), Some("test-key"));
    assert_eq!(
        reqs[0].body["systemInstruction"]["parts"][0]["text"],
        "You are a test."
    );
    assert_eq!(
        reqs[0].body["tools"][0]["functionDeclarations"][0]["name"],
        "probe"
    );
    let contents = reqs[2].body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3);
    assert_eq!(contents[1]["role"], "model");
    let parts = contents[1]["parts"].as_array().unwrap();
    assert_eq!(parts[0]["text"], "Checking. ");
    assert_eq!(parts[1]["functionCall"]["args"], json!({"label": "A"}));
    assert_eq!(parts[1]["thoughtSignature"], "c2lnbmF0dXJlLUE=");
    assert!(parts[2].get("thoughtSignature").is_none());
    let responses = contents[2]["parts"].as_array().unwrap();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0]["functionResponse"]["name"], "probe");
    assert_scrubbed(&reqs[2].raw_body);
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_retried_after_the_delay() {
    let server = FakeServer::start(vec![
        Reply::Status {
            code: 429,
            headers: vec![("retry-after".into(), "1".into())],
            body: r#"{"error":{"message":"Rate limit reached"}}"#.into(),
        },
        text_reply("after the wait"),
    ])
    .await;
    let started = Instant::now();
    let (response, _) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    let response = response.unwrap();
    let waited = started.elapsed();
    assert_eq!(response.text, "after the wait");
    assert_eq!(server.requests().len(), 2);
    // The policy's own backoff is 25–50 ms: only Retry-After explains this.
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
}

#[tokio::test]
async fn unauthorized_is_a_clear_error_without_retry() {
    let server = FakeServer::start(vec![
        Reply::Status {
            code: 401,
            headers: Vec::new(),
            body: r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#
                .into(),
        },
        text_reply("must not be reached"),
    ])
    .await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(ProviderKind::Openai, format!("{}/v1", server.url()), "m"),
        probe,
    );
    let err = agent
        .turn("hi", &CancellationToken::new(), &mut |_| {})
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            heimdall_agent::agent::AgentError::Provider(ProviderError::Auth { status: 401, .. })
        ),
        "{err:?}"
    );
    assert!(message.contains("Incorrect API key provided"), "{message}");
    assert!(message.contains("api_key_env"), "{message}");
    assert_eq!(server.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn unknown_model_is_a_clear_not_found_error() {
    let server = FakeServer::start(vec![Reply::Status {
        code: 404,
        headers: Vec::new(),
        body:
            r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-nope"}}"#
                .into(),
    }])
    .await;
    let provider = Provider::new(settings(
        ProviderKind::Anthropic,
        server.url(),
        "claude-nope",
    ))
    .unwrap();
    let err = ask_provider(&provider).await.0.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("model: claude-nope"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port nobody listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = settings(
        ProviderKind::Openai,
        format!("http://127.0.0.1:{port}/v1"),
        "m",
    );
    s.retry.max_retries = 2;
    let err = ask_provider(&Provider::new(s).unwrap())
        .await
        .0
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::RetriesExhausted { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn cancelling_a_turn_during_a_tool_call_keeps_the_conversation_valid() {
    let first = data_events(&[
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_lone","type":"function","function":{"name":"probe","arguments":"{\"label\":\"lone\"}"}}]},"finish_reason":"tool_calls"}]}),
    ]) + "data: [DONE]\n\n";
    let server = FakeServer::start(vec![Reply::Sse(first)]).await;
    let probe = Probe::new();
    let mut agent = agent_with_probe(
        settings(ProviderKind::Openai, format!("{}/v1", server.url()), "m"),
        probe.clone(),
    );
    // The lone probe waits at its barrier for a partner that never comes;
    // the turn is cancelled as soon as the call is announced.
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let end = tokio::time::timeout(
        DEADLINE,
        agent.turn("probe once", &cancel, &mut |e| {
            if matches!(e, AgentEvent::ToolCall { .. }) {
                cancel.cancel();
            }
        }),
    )
    .await
    .expect("the cancelled turn returned in time")
    .unwrap();
    assert_eq!(end, TurnEnd::Cancelled);
    assert!(
        started.elapsed() < DEADLINE / 2,
        "cancel did not wait for the tool"
    );
    assert_eq!(probe.met.load(Ordering::SeqCst), 0);
    match agent.messages().last() {
        Some(heimdall_agent::conversation::Message::Tool { results }) => {
            assert_eq!(results[0].call_id, "call_lone");
            assert!(results[0].content.contains("cancelled"), "{results:?}");
        }
        other => panic!("the last message is not the tool results: {other:?}"),
    }
}

/// Gemini refuses contents whose roles do not alternate. A turn that
/// failed before the model answered (a refused request) and a turn
/// cancelled in its tool calls leave two user turns in a row (the failed
/// prompt and the next; the cancelled results and the next prompt): the
/// request sends each such run as one `user` content, its parts in order.
#[tokio::test]
async fn gemini_gets_alternating_roles_after_a_failed_and_a_cancelled_turn() {
    let call = data_events(&[json!({"candidates":[{"content":{"role":"model","parts":[
        {"functionCall":{"name":"probe","args":{"label":"lone"}}}]},"finishReason":"STOP"}]})]);
    let answer = data_events(&[json!({"candidates":[{"content":{"role":"model","parts":[
        {"text":"fine"}]},"finishReason":"STOP"}]})]);
    let server = FakeServer::start(vec![
        Reply::Status {
            code: 400,
            headers: Vec::new(),
            body: json!({"error":{"message":"bad request"}}).to_string(),
        },
        Reply::Sse(call),
        Reply::Sse(answer),
    ])
    .await;
    let mut agent = agent_with_probe(
        settings(ProviderKind::Gemini, server.url(), "gemini-test"),
        Probe::new(),
    );
    let failed = agent
        .turn("first", &CancellationToken::new(), &mut |_| {})
        .await;
    assert!(failed.is_err(), "{failed:?}");
    // The lone probe waits for a partner: cancelled once announced.
    let cancel = CancellationToken::new();
    let end = agent
        .turn("second", &cancel, &mut |e| {
            if matches!(e, AgentEvent::ToolCall { .. }) {
                cancel.cancel();
            }
        })
        .await
        .unwrap();
    assert_eq!(end, TurnEnd::Cancelled);
    let (end, _, _) = turn(&mut agent, "third").await;
    assert_eq!(end, TurnEnd::Answer("fine".into()));

    let reqs = server.requests();
    let roles = |i: usize| -> Vec<String> {
        reqs[i].body["contents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["role"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(roles(1), ["user"]);
    assert_eq!(roles(2), ["user", "model", "user"]);
    let contents = &reqs[2].body["contents"];
    assert_eq!(contents[0]["parts"][0]["text"], "first");
    assert_eq!(contents[0]["parts"][1]["text"], "second");
    assert!(contents[2]["parts"][0].get("functionResponse").is_some());
    assert_eq!(contents[2]["parts"][1]["text"], "third");
}

/// Two tools: `quick` answers at once; `stuck` waits until `quick` has
/// answered, then cancels the turn (as Ctrl-C would) and never finishes.
struct QuickAndStuck {
    quick_done: tokio::sync::Notify,
    cancel: CancellationToken,
}

impl ToolSet for QuickAndStuck {
    fn specs(&self) -> Vec<ToolSpec> {
        ["quick", "stuck"]
            .map(|name| ToolSpec {
                name: name.into(),
                description: "test tool".into(),
                parameters: json!({"type": "object", "properties": {}}),
            })
            .to_vec()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        _args: &'a Value,
        _limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>> {
        match name {
            "quick" => Some(
                async move {
                    self.quick_done.notify_one();
                    ToolOutput::ok("started session build-7")
                }
                .boxed(),
            ),
            "stuck" => Some(
                async move {
                    self.quick_done.notified().await;
                    self.cancel.cancel();
                    futures_util::future::pending().await
                }
                .boxed(),
            ),
            _ => None,
        }
    }
}

/// A turn cancelled while some of its tool calls run keeps the results of
/// those that had finished (a session started, its id): only the calls in
/// flight are answered "cancelled".
#[tokio::test]
async fn a_cancelled_turn_keeps_the_results_of_the_calls_that_finished() {
    let first = data_events(&[json!({"choices":[{"index":0,"delta":{"tool_calls":[
        {"index":0,"id":"call_stuck","type":"function","function":{"name":"stuck","arguments":"{}"}},
        {"index":1,"id":"call_quick","type":"function","function":{"name":"quick","arguments":"{}"}},
    ]},"finish_reason":"tool_calls"}]})])
        + "data: [DONE]\n\n";
    let server = FakeServer::start(vec![Reply::Sse(first)]).await;
    let cancel = CancellationToken::new();
    let mut toolbox = Toolbox::new(DEADLINE * 2);
    toolbox.add(QuickAndStuck {
        quick_done: tokio::sync::Notify::new(),
        cancel: cancel.clone(),
    });
    let mut agent = agent_with(
        settings(ProviderKind::Openai, format!("{}/v1", server.url()), "m"),
        toolbox,
    );
    let mut results = Vec::new();
    let end = tokio::time::timeout(
        DEADLINE,
        agent.turn("start a build", &cancel, &mut |e| {
            if let AgentEvent::ToolResult { id, content, .. } = e {
                results.push((id, content));
            }
        }),
    )
    .await
    .expect("the cancelled turn returned in time")
    .unwrap();
    assert_eq!(end, TurnEnd::Cancelled);
    let stored = match agent.messages().last() {
        Some(heimdall_agent::conversation::Message::Tool { results }) => results.clone(),
        other => panic!("the last message is not the tool results: {other:?}"),
    };
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].call_id, "call_stuck");
    assert!(stored[0].content.contains("cancelled"), "{stored:?}");
    assert_eq!(stored[1].call_id, "call_quick");
    assert_eq!(stored[1].content, "started session build-7");
    assert!(!stored[1].is_error);
    assert_eq!(
        results,
        stored
            .iter()
            .map(|r| (r.call_id.clone(), r.content.clone()))
            .collect::<Vec<_>>()
    );
}

/// The Anthropic events that open an answer of `text` (no end).
fn anthropic_text_start(input_tokens: u64, text: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "message_start",
            json!({"type":"message_start","message":{"usage":{"input_tokens":input_tokens,"output_tokens":1}}}),
        ),
        (
            "content_block_start",
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
        ),
        (
            "content_block_delta",
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}}),
        ),
    ]
}

/// One request for "hi" without tools; its result and the text streamed.
async fn ask(
    kind: ProviderKind,
    url: String,
) -> (
    Result<heimdall_agent::provider::Response, ProviderError>,
    String,
) {
    ask_provider(&Provider::new(settings(kind, url, "m")).unwrap()).await
}

/// [`ask`] `provider`.
async fn ask_provider(
    provider: &Provider,
) -> (
    Result<heimdall_agent::provider::Response, ProviderError>,
    String,
) {
    let messages = [heimdall_agent::conversation::Message::User {
        content: "hi".into(),
    }];
    let request = heimdall_agent::provider::Request {
        system: "s",
        messages: &messages,
        tools: &[],
    };
    let mut streamed = String::new();
    // Beyond every attempt's read timeout (DEADLINE, up to 4 attempts), so
    // that a stuck read ends as the provider's own timeout (retried, or an
    // error naming what it waited for), never as this deadline.
    let result = tokio::time::timeout(
        DEADLINE * 5,
        provider.complete(&request, &mut |t| streamed.push_str(t)),
    )
    .await
    .expect("the request finished in time");
    (result, streamed)
}

/// An answer whose stream stops before the provider's final event (the
/// connection closed cleanly or broke) is an error saying it was cut off,
/// in each wire format; its part was shown, so it is not asked again.
#[tokio::test]
async fn an_answer_cut_off_mid_stream_is_an_error_not_a_short_answer() {
    let openai_part =
        data_events(&[json!({"choices":[{"index":0,"delta":{"content":"The answer is: part"}}]})]);
    let anthropic_part = named_events(&anthropic_text_start(3, "The answer is: part"));
    let gemini_part = data_events(&[
        json!({"candidates":[{"content":{"role":"model","parts":[{"text":"The answer is: part"}]}}]}),
    ]);
    let cases = [
        (ProviderKind::Openai, "/v1", Reply::Sse(openai_part.clone())),
        (ProviderKind::Openai, "/v1", Reply::Dropped(openai_part)),
        (ProviderKind::Anthropic, "", Reply::Sse(anthropic_part)),
        (ProviderKind::Gemini, "", Reply::Sse(gemini_part)),
    ];
    for (kind, root, reply) in cases {
        let what = format!("{kind:?} {reply:?}");
        let server = FakeServer::start(vec![reply, text_reply("must not be asked")]).await;
        let (result, streamed) = ask(kind, format!("{}{root}", server.url())).await;
        let err = result.expect_err(&what);
        assert!(matches!(err, ProviderError::Cut(_)), "{what}: {err:?}");
        assert!(err.to_string().contains("cut off"), "{what}: {err}");
        assert_eq!(streamed, "The answer is: part", "{what}");
        assert_eq!(server.requests().len(), 1, "{what}: asked again");
    }
}

/// A stream that ends before any of the answer came (the server closed the
/// connection after its headers) is asked again, like a connection error.
#[tokio::test]
async fn a_stream_cut_before_any_answer_is_retried() {
    let server = FakeServer::start(vec![
        Reply::Sse(String::new()),
        Reply::Dropped(": keep-alive\n\n".into()),
        text_reply("second time lucky"),
    ])
    .await;
    let (result, streamed) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    assert_eq!(result.unwrap().text, "second time lucky");
    assert_eq!(streamed, "second time lucky");
    assert_eq!(server.requests().len(), 3);
}

/// A provider that is overloaded may say so in the stream of a 200
/// (Anthropic's `overloaded_error` event, an OpenAI `server_error` chunk):
/// before any of the answer came, that is retried as a 529 or 500 is; an
/// error of another kind is not.
#[tokio::test]
async fn an_overloaded_error_in_the_stream_before_the_answer_is_retried() {
    let overloaded = named_events(&[
        (
            "message_start",
            json!({"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}),
        ),
        (
            "error",
            json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
        ),
    ]);
    let mut answer = anthropic_text_start(3, "calm again");
    answer.push(("message_stop", json!({"type":"message_stop"})));
    let server = FakeServer::start(vec![
        Reply::Sse(overloaded),
        Reply::Sse(named_events(&answer)),
    ])
    .await;
    let (result, streamed) = ask(ProviderKind::Anthropic, server.url()).await;
    assert_eq!(result.unwrap().text, "calm again");
    assert_eq!(streamed, "calm again");
    assert_eq!(server.requests().len(), 2);

    let busy = data_events(&[
        json!({"error":{"message":"The server had an error","type":"server_error"}}),
    ]);
    let refused =
        data_events(&[json!({"error":{"message":"bad schema","type":"invalid_request_error"}})]);
    let server = FakeServer::start(vec![
        Reply::Sse(busy),
        Reply::Sse(refused),
        text_reply("never asked"),
    ])
    .await;
    let (result, _) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("bad schema"), "{err}");
    assert_eq!(server.requests().len(), 2);
}
/// A JSON error answered with 200 where the event stream should be (some
/// proxies and servers do) is an error carrying its message, not an empty
/// answer.
#[tokio::test]
async fn json_in_place_of_the_event_stream_is_a_clear_error() {
    let server = FakeServer::start(vec![Reply::Status {
        code: 200,
        headers: Vec::new(),
        body: r#"{"error":{"message":"model overloaded, try later"}}"#.into(),
    }])
    .await;
    let (result, _) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("model overloaded, try later"),
        "{err}"
    );
}

/// An event stream labelled JSON (some servers speaking OpenAI's format,
/// and proxies before them, label their streams so) is read as the stream
/// it is: it was an error quoting the stream's first events.
#[tokio::test]
async fn an_event_stream_labelled_json_is_read_as_a_stream() {
    let Reply::Sse(stream) = text_reply("labelled wrong") else {
        unreachable!("text_reply is an event stream")
    };
    let server = FakeServer::start(vec![Reply::Status {
        code: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!("\n{stream}"),
    }])
    .await;
    let (result, streamed) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(streamed, "labelled wrong");
}

/// An HTML page answered with 200 where the event stream should be (a
/// captive portal, a proxy's error page) is an error saying what came, at
/// once: not an answer "cut off" before any of it came, asked again.
#[tokio::test]
async fn html_in_place_of_the_event_stream_is_a_clear_error_not_retried() {
    let server = FakeServer::start(vec![Reply::Status {
        code: 200,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: "<html><head><title>Sign in to the hotel wifi</title></head><body></body></html>"
            .into(),
    }])
    .await;
    let (result, _) = ask(ProviderKind::Openai, format!("{}/v1", server.url())).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("text/html") && err.contains("Sign in to the hotel wifi"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1, "asked again: {err}");
}
