//! OpenAI chat completions (and compatible servers): `messages` with
//! `tool_calls`, streamed as `data:` chunks whose tool-call arguments
//! arrive as string deltas keyed by index (a delta naming another call's
//! id begins that call: Ollama gives every call index 0), ending with
//! `data: [DONE]`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{
    chunk_error, count, finished, next_event, parse_arguments, parse_data, ProviderError,
    ProviderSettings, Request, Response, SseStream, TextSink,
};
use crate::conversation::{Message, ToolCall, Usage};

/// The JSON body of a streaming request.
pub(super) fn request_body(s: &ProviderSettings, req: &Request<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": req.system})];
    for m in req.messages {
        match m {
            Message::User { content } => messages.push(json!({"role": "user", "content": content})),
            Message::Assistant {
                content,
                tool_calls,
                ..
            } => {
                let mut msg = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            json!({
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": arguments_text(&c.arguments)},
                            })
                        })
                        .collect();
                }
                messages.push(msg);
            }
            Message::Tool { results } => {
                for r in results {
                    messages.push(json!({
                        "role": "tool",
                        "tool_call_id": r.call_id,
                        "content": r.content,
                    }));
                }
            }
        }
    }
    let mut body = json!({
        "model": s.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                })
            })
            .collect();
    }
    if let Some(n) = s.max_tokens {
        body["max_tokens"] = n.into();
    }
    body
}

/// Arguments as OpenAI wants them: a JSON text.
fn arguments_text(args: &Value) -> String {
    match args {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

/// Tool calls one answer may hold at most.
const MAX_CALLS: usize = 1024;

/// A tool call being assembled from deltas.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Read the chunks of one answer.
pub(super) async fn read_stream(
    mut events: SseStream,
    on_text: TextSink<'_>,
) -> Result<Response, ProviderError> {
    let mut out = Response::default();
    // In the order they began; where each stream index's latest is.
    let mut calls: Vec<PartialCall> = Vec::new();
    let mut by_index: HashMap<u64, usize> = HashMap::new();
    let mut done = false;
    while let Some(ev) = next_event(&mut events).await? {
        if ev.data.trim() == "[DONE]" {
            done = true;
            break;
        }
        if ev.data.trim().is_empty() {
            continue;
        }
        let chunk = parse_data(&ev)?;
        if let Some(err) = chunk_error(&chunk) {
            return Err(err);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.usage = Usage {
                input_tokens: count(usage, "/prompt_tokens"),
                output_tokens: count(usage, "/completion_tokens"),
            };
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            out.finish_reason = Some(reason.to_string());
        }
        let Some(delta) = choice.get("delta") else {
            continue;
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                on_text(text);
                out.text.push_str(text);
            }
        }
        for tc in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = tc.get("index").and_then(Value::as_u64).unwrap_or(0);
            let id = tc
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty());
            // A delta continues the call of its index, unless it names
            // another id: Ollama gives every call of an answer index 0.
            let at = match by_index.get(&index) {
                Some(&at) if id.is_none_or(|id| calls[at].id.is_empty() || calls[at].id == id) => {
                    at
                }
                _ => {
                    if calls.len() >= MAX_CALLS {
                        return Err(ProviderError::Decode(format!(
                            "more than {MAX_CALLS} tool calls in one answer"
                        )));
                    }
                    calls.push(PartialCall::default());
                    by_index.insert(index, calls.len() - 1);
                    calls.len() - 1
                }
            };
            let call = &mut calls[at];
            if let Some(id) = id {
                call.id = id.to_string();
            }
            if let Some(name) = tc.pointer("/function/name").and_then(Value::as_str) {
                call.name.push_str(name);
            }
            if let Some(args) = tc.pointer("/function/arguments").and_then(Value::as_str) {
                call.arguments.push_str(args);
            }
        }
    }
    // Some compatible servers end with the finish reason and no [DONE].
    finished(
        done || out.finish_reason.is_some(),
        "[DONE] or a finish_reason",
    )?;
    out.tool_calls = calls
        .into_iter()
        .enumerate()
        .filter(|(_, c)| !c.name.is_empty())
        .map(|(i, c)| ToolCall {
            id: if c.id.is_empty() {
                format!("call_{i}")
            } else {
                c.id
            },
            name: c.name,
            arguments: parse_arguments(&c.arguments),
            signature: None,
        })
        .collect();
    Ok(out)
}
