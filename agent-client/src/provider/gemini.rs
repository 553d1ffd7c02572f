//! Google Gemini `streamGenerateContent?alt=sse`: `contents` of `parts`;
//! function calls arrive as whole `functionCall` parts without ids, and
//! their `thoughtSignature` must be echoed back verbatim in later requests;
//! roles must alternate.

use serde_json::{json, Value};

use super::{
    chunk_error, count, finished, next_event, parse_data, push_turn, ProviderError,
    ProviderSettings, Request, Response, SseStream, TextSink,
};
use crate::conversation::{Message, ToolCall, Usage};

/// The JSON body of a streaming request.
pub(super) fn request_body(s: &ProviderSettings, req: &Request<'_>) -> Value {
    // Gemini refuses roles that do not alternate: a run of one role's
    // messages is one content.
    let mut contents: Vec<Value> = Vec::new();
    let mut push = |role: &str, parts: Vec<Value>| push_turn(&mut contents, role, "parts", parts);
    for m in req.messages {
        match m {
            Message::User { content } => push("user", vec![json!({"text": content})]),
            Message::Assistant {
                content,
                tool_calls,
                signature,
            } => {
                let mut parts = Vec::new();
                if !content.is_empty() || signature.is_some() {
                    let mut part = json!({"text": content});
                    if let Some(sig) = signature {
                        part["thoughtSignature"] = sig.clone().into();
                    }
                    parts.push(part);
                }
                for c in tool_calls {
                    let args = if c.arguments.is_object() {
                        c.arguments.clone()
                    } else {
                        json!({})
                    };
                    let mut part = json!({"functionCall": {"name": c.name, "args": args}});
                    if let Some(sig) = &c.signature {
                        part["thoughtSignature"] = sig.clone().into();
                    }
                    parts.push(part);
                }
                push("model", parts);
            }
            Message::Tool { results } => {
                let parts: Vec<Value> = results
                    .iter()
                    .map(|r| {
                        let key = if r.is_error { "error" } else { "content" };
                        json!({"functionResponse": {"name": r.name, "response": {key: r.content}}})
                    })
                    .collect();
                push("user", parts);
            }
        }
    }
    let mut body = json!({
        "systemInstruction": {"parts": [{"text": req.system}]},
        "contents": contents,
    });
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut decl = json!({"name": t.name, "description": t.description});
                // Gemini refuses an OBJECT schema without properties: a tool
                // that takes no arguments declares no parameters.
                let has_properties = t.parameters["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty());
                if has_properties {
                    decl["parameters"] = t.parameters.clone();
                }
                decl
            })
            .collect();
        body["tools"] = json!([{"functionDeclarations": decls}]);
    }
    if let Some(n) = s.max_tokens {
        body["generationConfig"] = json!({"maxOutputTokens": n});
    }
    body
}

/// Read the chunks of one answer.
pub(super) async fn read_stream(
    mut events: SseStream,
    on_text: TextSink<'_>,
) -> Result<Response, ProviderError> {
    let mut out = Response::default();
    while let Some(ev) = next_event(&mut events).await? {
        if ev.data.trim().is_empty() {
            continue;
        }
        let chunk = parse_data(&ev)?;
        if let Some(err) = chunk_error(&chunk) {
            return Err(err);
        }
        if let Some(u) = chunk.get("usageMetadata") {
            // Cumulative: the last chunk's counts are the answer's.
            out.usage = Usage {
                input_tokens: count(u, "/promptTokenCount"),
                output_tokens: count(u, "/candidatesTokenCount") + count(u, "/thoughtsTokenCount"),
            };
        }
        let Some(candidate) = chunk.pointer("/candidates/0") else {
            continue;
        };
        if let Some(r) = candidate.get("finishReason").and_then(Value::as_str) {
            out.finish_reason = Some(r.to_string());
        }
        let parts = candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for part in parts {
            let signature = part
                .get("thoughtSignature")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(fc) = part.get("functionCall") {
                let name = fc
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let id = fc
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("gemini_call_{}", out.tool_calls.len()));
                out.tool_calls.push(ToolCall {
                    id,
                    name,
                    arguments: fc.get("args").cloned().unwrap_or_else(|| json!({})),
                    signature,
                });
                continue;
            }
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(text) = part.get("text").and_then(Value::as_str) {
                if !text.is_empty() {
                    on_text(text);
                    out.text.push_str(text);
                }
            }
            if signature.is_some() {
                out.signature = signature;
            }
        }
    }
    finished(out.finish_reason.is_some(), "a finishReason")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::ToolSpec;
    use crate::provider::{ProviderKind, RetryPolicy};
    use std::time::Duration;

    #[test]
    fn tools_without_arguments_declare_no_parameters() {
        let s = ProviderSettings {
            kind: ProviderKind::Gemini,
            model: "m".into(),
            base_url: String::new(),
            api_key: None,
            api_key_env: "TEST_KEY".into(),
            max_tokens: Some(10),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        };
        let tools = [
            ToolSpec {
                name: "none".into(),
                description: "d".into(),
                parameters: json!({"type": "object", "properties": {}, "required": []}),
            },
            ToolSpec {
                name: "some".into(),
                description: "d".into(),
                parameters: json!({"type": "object", "properties": {"x": {"type": "string"}}}),
            },
        ];
        let body = request_body(
            &s,
            &Request {
                system: "s",
                messages: &[],
                tools: &tools,
            },
        );
        let decls = &body["tools"][0]["functionDeclarations"];
        assert!(decls[0].get("parameters").is_none());
        assert_eq!(decls[1]["parameters"]["properties"]["x"]["type"], "string");
        assert_eq!(body["generationConfig"]["maxOutputTokens"], 10);
    }
}
