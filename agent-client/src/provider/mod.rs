//! LLM providers, each speaking its real wire format with streaming (SSE)
//! and tool calling: OpenAI-compatible chat completions, Anthropic Messages
//! and Google Gemini. One HTTP client, one retry policy.

mod anthropic;
mod gemini;
mod openai;
mod retry;

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use crate::conversation::{Message, ToolCall, ToolSpec, Usage};
pub use retry::RetryPolicy;

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI chat completions, and every server compatible with it
    /// (Ollama, vLLM, llama.cpp server, LM Studio).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini (generativelanguage API).
    Gemini,
}

impl ProviderKind {
    /// The public endpoint used when no `base_url` is configured.
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::Openai => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com",
        }
    }

    /// The environment variable holding the key when `api_key_env` is not set.
    pub fn default_api_key_env(self) -> &'static str {
        match self {
            ProviderKind::Openai => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
            ProviderKind::Gemini => "GEMINI_API_KEY",
        }
    }

    /// Whether the provider refuses requests without a key (local
    /// OpenAI-compatible servers usually need none).
    pub fn requires_key(self) -> bool {
        !matches!(self, ProviderKind::Openai)
    }
}

/// Everything needed to talk to one model.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The wire format.
    pub kind: ProviderKind,
    /// The model name.
    pub model: String,
    /// API root (for `openai` it includes `/v1`).
    pub base_url: String,
    /// The API key, if any.
    pub api_key: Option<String>,
    /// The environment variable the key was read from (for messages).
    pub api_key_env: String,
    /// Output token limit (always sent to Anthropic, which requires it).
    pub max_tokens: Option<u32>,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
    /// Retries on 429 / 5xx / connection errors.
    pub retry: RetryPolicy,
}

/// The default output token limit for Anthropic, which requires one.
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 4096;

/// One request: the conversation so far and the tools on offer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The system prompt.
    pub system: &'a str,
    /// The conversation.
    pub messages: &'a [Message],
    /// The tools the model may call.
    pub tools: &'a [ToolSpec],
}

/// The model's complete answer to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// The text (already streamed through the callback).
    pub text: String,
    /// Gemini's signature of the text part, to echo back.
    pub signature: Option<String>,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Tokens used by this request.
    pub usage: Usage,
    /// The provider's reason for stopping, as it named it.
    pub finish_reason: Option<String>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 401 / 403: the key is missing, wrong or lacks permission. Not retried.
    #[error("the provider refused the API key (HTTP {status}): {message} — check the key in the environment variable named by api_key_env")]
    Auth {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// 404: wrong model name or base URL. Not retried.
    #[error("not found (HTTP 404) at {url}: {message} — check `model` and `base_url`")]
    NotFound {
        /// The URL requested (without key).
        url: String,
        /// The provider's message.
        message: String,
    },
    /// Another status that retrying will not fix.
    #[error("the provider answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// Retried as configured and still failing.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The response stream broke or carried an error event.
    #[error("response stream: {0}")]
    Stream(String),
    /// The answer stopped before the provider said it was complete: the
    /// connection closed mid-answer, or the stream ended without its final
    /// event. Retried when none of it had been streamed yet.
    #[error("the answer was cut off: {0}; the part received is not kept")]
    Cut(String),
    /// The provider said in the stream that it is overloaded or failed
    /// (what a 529, a 5xx or a 429 says). Retried when none of the answer
    /// had been streamed yet.
    #[error("the provider failed mid-answer: {0}")]
    Busy(String),
    /// The provider sent something that is not its documented format.
    #[error("unexpected response from the provider: {0}")]
    Decode(String),
    /// The settings cannot work (e.g. no key for a provider that needs one).
    #[error("{0}")]
    Config(String),
}

/// A stream of server-sent events of one response.
type SseStream =
    Pin<Box<dyn Stream<Item = Result<Event, EventStreamError<reqwest::Error>>> + Send>>;

/// Receives the text of the answer as it streams in.
pub type TextSink<'a> = &'a mut (dyn FnMut(&str) + Send);

/// A model behind one provider.
#[derive(Debug, Clone)]
pub struct Provider {
    http: reqwest::Client,
    settings: ProviderSettings,
}

impl Provider {
    /// A provider with its own HTTP client (rustls).
    pub fn new(settings: ProviderSettings) -> Result<Provider, ProviderError> {
        if settings.kind.requires_key() && settings.api_key.is_none() {
            return Err(ProviderError::Config(format!(
                "provider {:?} needs an API key: set the environment variable {} (or name another with api_key_env)",
                settings.kind, settings.api_key_env
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .user_agent(concat!("hm-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("HTTP client: {e}")))?;
        Ok(Provider { http, settings })
    }

    /// The settings in force.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// Send one request and stream the answer: text pieces go to `on_text`
    /// as they arrive; the whole answer (with tool calls) is returned.
    pub async fn complete(
        &self,
        req: &Request<'_>,
        on_text: TextSink<'_>,
    ) -> Result<Response, ProviderError> {
        let s = &self.settings;
        let base = s.base_url.trim_end_matches('/');
        let (url, body) = match s.kind {
            ProviderKind::Openai => (
                format!("{base}/chat/completions"),
                openai::request_body(s, req),
            ),
            ProviderKind::Anthropic => (
                format!("{base}/v1/messages"),
                anthropic::request_body(s, req),
            ),
            ProviderKind::Gemini => (
                format!(
                    "{base}/v1beta/models/{}:streamGenerateContent?alt=sse",
                    s.model
                ),
                gemini::request_body(s, req),
            ),
        };
        let body = serde_json::to_vec(&body).map_err(|e| ProviderError::Decode(e.to_string()))?;
        let mut attempt = 0;
        loop {
            let response = retry::send(&s.retry, &mut attempt, &url, || {
                self.build(&url, body.clone())
            })
            .await?;
            let events = match event_stream(response).await {
                Err(ProviderError::Cut(why)) => {
                    let why = format!("answer cut off: {why}");
                    retry::pause(&s.retry, &mut attempt, why, None).await?;
                    continue;
                }
                other => other?,
            };
            let mut streamed = false;
            let read = {
                let mut sink = |t: &str| {
                    streamed = true;
                    on_text(t);
                };
                match s.kind {
                    ProviderKind::Openai => openai::read_stream(events, &mut sink).await,
                    ProviderKind::Anthropic => anthropic::read_stream(events, &mut sink).await,
                    ProviderKind::Gemini => gemini::read_stream(events, &mut sink).await,
                }
            };
            // Nothing of it reached the caller: ask again, as after a
            // connection error or a 5xx.
            let why = match read {
                Err(ProviderError::Cut(why)) if !streamed => format!("answer cut off: {why}"),
                Err(ProviderError::Busy(why)) if !streamed => format!("provider busy: {why}"),
                other => return other,
            };
            retry::pause(&s.retry, &mut attempt, why, None).await?;
        }
    }

    fn build(&self, url: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
        let s = &self.settings;
        let mut rb = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(body);
        let key = s.api_key.as_deref();
        match s.kind {
            ProviderKind::Openai => {
                if let Some(k) = key {
                    rb = rb.bearer_auth(k);
                }
            }
            ProviderKind::Anthropic => {
                rb = rb.header("anthropic-version", anthropic::API_VERSION);
                if let Some(k) = key {
                    rb = rb.header("x-api-key", k);
                }
            }
            ProviderKind::Gemini => {
                if let Some(k) = key {
                    rb = rb.header("x-goog-api-key", k);
                }
            }
        }
        rb
    }
}

/// The events of a successful response. A JSON body where the stream
/// should be (a proxy's or server's error answered with 200) is an error
/// carrying its message, not an empty answer; an HTML page (a proxy's or
/// captive portal's) is an error showing its start, not a stream cut off
/// before its first event (which would be asked again). A JSON type is
/// told by the body: OpenAI, Anthropic and Gemini label their streams
/// `text/event-stream`, but some servers that speak their formats (and
/// proxies before them) label a stream `application/json`, and a stream
/// cannot be taken for JSON (its first character is never `{` or `[`).
async fn event_stream(response: reqwest::Response) -> Result<SseStream, ProviderError> {
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| ct.trim_start().to_ascii_lowercase())
        .unwrap_or_default();
    let mut body = response.bytes_stream();
    let mut head = Vec::new();
    let what = if content_type.starts_with("application/json") {
        // Up to the body's first character.
        let first = loop {
            if let Some(&b) = head.iter().find(|b: &&u8| !b.is_ascii_whitespace()) {
                break Some(b);
            }
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk.map_err(cut)?),
                None => break None,
            }
        };
        if first.is_some_and(|b| b != b'{' && b != b'[') {
            let head = futures_util::stream::once(async { Ok(head.into()) });
            return Ok(Box::pin(head.chain(body).eventsource()));
        }
        "JSON"
    } else if content_type.starts_with("text/html") {
        "text/html"
    } else {
        return Ok(Box::pin(body.eventsource()));
    };
    // What came of it, up to a break.
    while let Some(Ok(chunk)) = body.next().await {
        head.extend_from_slice(&chunk);
    }
    Err(ProviderError::Decode(format!(
        "{what} instead of an event stream: {}",
        error_message(&String::from_utf8_lossy(&head))
    )))
}

/// A response's body broken off.
fn cut(e: reqwest::Error) -> ProviderError {
    ProviderError::Cut(format!("the connection broke: {e}"))
}

/// The next event of a stream, transport and parse errors mapped.
async fn next_event(events: &mut SseStream) -> Result<Option<Event>, ProviderError> {
    match events.next().await {
        None => Ok(None),
        Some(Ok(ev)) => Ok(Some(ev)),
        Some(Err(EventStreamError::Transport(e))) => Err(cut(e)),
        Some(Err(e)) => Err(ProviderError::Stream(e.to_string())),
    }
}

/// The error of a stream that ended before the provider's final event
/// (`what`), unless it came.
fn finished(came: bool, what: &str) -> Result<(), ProviderError> {
    if came {
        Ok(())
    } else {
        Err(ProviderError::Cut(format!(
            "the stream ended before {what}"
        )))
    }
}

/// Add a turn of `role` whose `items` go under `key` (`content` blocks,
/// `parts`) to `turns`, merged into the last turn when it has the same
/// role: providers that want roles to alternate (Anthropic, Gemini) take a
/// run of turns of one role (tool results and the next prompt, a prompt
/// left without an answer and the next) as one. No items, no turn.
fn push_turn(turns: &mut Vec<Value>, role: &str, key: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut().filter(|t| t["role"] == role) {
        if let Some(held) = last[key].as_array_mut() {
            held.extend(items);
            return;
        }
    }
    let mut turn = serde_json::Map::new();
    turn.insert("role".into(), role.into());
    turn.insert(key.into(), items.into());
    turns.push(Value::Object(turn));
}

/// Parse one event's JSON data.
fn parse_data(ev: &Event) -> Result<Value, ProviderError> {
    serde_json::from_str(&ev.data)
        .map_err(|e| ProviderError::Decode(format!("{e} in event data {:?}", ev.data)))
}

/// The `error` object a provider put in a stream chunk, if any: one that
/// says the provider is overloaded or failed is [`ProviderError::Busy`].
fn chunk_error(chunk: &Value) -> Option<ProviderError> {
    let err = chunk.get("error")?;
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| err.to_string());
    Some(if transient(err) {
        ProviderError::Busy(message)
    } else {
        ProviderError::Stream(message)
    })
}

/// Whether an error object says what a 529, a 5xx or a 429 says: its `type`
/// (Anthropic, OpenAI), `status` or `code` (Gemini).
fn transient(err: &Value) -> bool {
    let kind = ["type", "status"]
        .iter()
        .find_map(|k| err.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    let code = err.get("code").and_then(Value::as_u64).unwrap_or_default();
    matches!(
        kind,
        "overloaded_error"
            | "api_error"
            | "rate_limit_error"
            | "server_error"
            | "UNAVAILABLE"
            | "RESOURCE_EXHAUSTED"
            | "INTERNAL"
    ) || code == 429
        || (500..600).contains(&code)
}

/// Tool-call arguments accumulated as text, parsed once complete. Text that
/// is not a JSON object is kept as a string so the tool layer can say so.
fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return Value::Object(Default::default());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

/// The human-readable message of a provider error body (all three put it
/// at `error.message`), else the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(500).collect())
}

/// A u64 at a JSON pointer, 0 if absent.
fn count(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}
