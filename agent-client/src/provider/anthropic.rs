//! Anthropic Messages: `anthropic-version` header, required `max_tokens`,
//! content blocks (`text`, `tool_use`, `tool_result`), streamed as typed
//! events whose tool arguments arrive as `input_json_delta` fragments.

use serde_json::{json, Value};

use super::{
    chunk_error, count, finished, next_event, parse_arguments, parse_data, push_turn,
    ProviderError, ProviderSettings, Request, Response, SseStream, TextSink,
    DEFAULT_ANTHROPIC_MAX_TOKENS,
};
use crate::conversation::{Message, ToolCall};

/// The API version sent in the `anthropic-version` header.
pub(super) const API_VERSION: &str = "2023-06-01";

/// The JSON body of a streaming request.
pub(super) fn request_body(s: &ProviderSettings, req: &Request<'_>) -> Value {
    // Consecutive messages of one role are merged: tool results and the
    // next user text both belong to a `user` turn.
    let mut messages: Vec<Value> = Vec::new();
    let mut push =
        |role: &str, blocks: Vec<Value>| push_turn(&mut messages, role, "content", blocks);
    for m in req.messages {
        match m {
            Message::User { content } => {
                push("user", vec![json!({"type": "text", "text": content})])
            }
            Message::Assistant {
                content,
                tool_calls,
                ..
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({"type": "text", "text": content}));
                }
                for c in tool_calls {
                    let input = if c.arguments.is_object() {
                        c.arguments.clone()
                    } else {
                        json!({})
                    };
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                push("assistant", blocks);
            }
            Message::Tool { results } => push(
                "user",
                results
                    .iter()
                    .map(|r| {
                        json!({
                            "type": "tool_result",
                            "tool_use_id": r.call_id,
                            "content": r.content,
                            "is_error": r.is_error,
                        })
                    })
                    .collect(),
            ),
        }
    }
    let mut body = json!({
        "model": s.model,
        "max_tokens": s.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
        "system": req.system,
        "messages": messages,
        "stream": true,
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    body
}

/// A content block being assembled.
enum Block {
    Text,
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Read the events of one answer.
pub(super) async fn read_stream(
    mut events: SseStream,
    on_text: TextSink<'_>,
) -> Result<Response, ProviderError> {
    let mut out = Response::default();
    let mut blocks: Vec<(u64, Block)> = Vec::new();
    let mut stopped = false;
    while let Some(ev) = next_event(&mut events).await? {
        if ev.data.trim().is_empty() {
            continue;
        }
        let data = parse_data(&ev)?;
        let ty = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(ev.event.as_str());
        match ty {
            "message_start" => {
                out.usage.input_tokens = count(&data, "/message/usage/input_tokens");
                out.usage.output_tokens = count(&data, "/message/usage/output_tokens");
            }
            "content_block_start" => {
                let index = count(&data, "/index");
                let cb = &data["content_block"];
                let block = match cb.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = cb.get("text").and_then(Value::as_str) {
                            if !t.is_empty() {
                                on_text(t);
                                out.text.push_str(t);
                            }
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::ToolUse {
                        id: str_at(cb, "/id"),
                        name: str_at(cb, "/name"),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                blocks.push((index, block));
            }
            "content_block_delta" => {
                let index = count(&data, "/index");
                let block = blocks.iter_mut().find(|(i, _)| *i == index).map(|(_, b)| b);
                match (data.pointer("/delta/type").and_then(Value::as_str), block) {
                    (Some("text_delta"), Some(Block::Text)) => {
                        let t = str_at(&data, "/delta/text");
                        on_text(&t);
                        out.text.push_str(&t);
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => {
                        json.push_str(&str_at(&data, "/delta/partial_json"));
                    }
                    (_, None) => {
                        return Err(ProviderError::Decode(format!(
                            "delta for unknown content block {index}"
                        )))
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(r) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.finish_reason = Some(r.to_string());
                }
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    out.usage.output_tokens = n;
                }
            }
            "message_stop" => {
                stopped = true;
                break;
            }
            "error" => {
                return Err(
                    chunk_error(&data).unwrap_or_else(|| ProviderError::Stream(data.to_string()))
                )
            }
            _ => {}
        }
    }
    finished(stopped, "message_stop")?;
    out.tool_calls = blocks
        .into_iter()
        .filter_map(|(_, b)| match b {
            Block::ToolUse { id, name, json } => Some(ToolCall {
                id,
                name,
                arguments: parse_arguments(&json),
                signature: None,
            }),
            Block::Text | Block::Other => None,
        })
        .collect();
    Ok(out)
}

fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
