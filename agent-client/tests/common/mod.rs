//! A fake LLM provider on loopback: a tiny HTTP/1.1 server that answers
//! each request with the next scripted reply (SSE bodies are sent in small
//! HTTP chunks cut at awkward byte boundaries, through UTF-8 characters
//! too) and records every request for the test to inspect.

#![allow(dead_code)]

pub mod sessions;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST /v1/chat/completions` etc.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (Null if it is not JSON).
    pub body: Value,
    /// The body as text.
    pub raw_body: String,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with an SSE body.
    Sse(String),
    /// 200 with the start of an SSE body, then the connection closes
    /// mid-response (no final chunk).
    Dropped(String),
    /// Another status with headers and a body (of type JSON unless the
    /// headers say otherwise).
    Status {
        /// HTTP status.
        code: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: String,
    },
}

/// The running fake server.
pub struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeServer {
    /// Start serving `replies` in order (a request beyond them gets 500).
    pub async fn start(replies: Vec<Reply>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let recorded = recorded.clone();
                let queue = queue.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, recorded, queue).await;
                });
            }
        });
        FakeServer {
            addr,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` (append `/v1` for the OpenAI format).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    queue: Arc<Mutex<VecDeque<Reply>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    recorded.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
    });
    let reply = queue.lock().unwrap().pop_front();
    match reply {
        Some(Reply::Sse(body)) => {
            send_sse(&mut stream, &body).await?;
            stream.write_all(b"0\r\n\r\n").await?;
        }
        Some(Reply::Dropped(body)) => send_sse(&mut stream, &body).await?,
        Some(Reply::Status {
            code,
            headers,
            body,
        }) => {
            let mut text = format!(
                "HTTP/1.1 {code} Scripted\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            // JSON unless the script names another type.
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                text.push_str("content-type: application/json\r\n");
            }
            for (n, v) in headers {
                text.push_str(&format!("{n}: {v}\r\n"));
            }
            text.push_str("\r\n");
            text.push_str(&body);
            stream.write_all(text.as_bytes()).await?;
        }
        None => {
            let body = r#"{"error":{"message":"the fake server has no more scripted replies"}}"#;
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 500 Unscripted\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await?;
        }
    }
    stream.flush().await?;
    stream.shutdown().await
}

/// The head of a 200 SSE answer and `body` in chunks, without the final
/// chunk.
async fn send_sse(stream: &mut TcpStream, body: &str) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
              transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await?;
    // Awkward boundaries: pieces of 1, 2, 3, ... 7 bytes, cycling,
    // so field names, "\n\n" separators and UTF-8 sequences split.
    let bytes = body.as_bytes();
    let mut at = 0;
    let mut size = 1;
    while at < bytes.len() {
        let end = (at + size).min(bytes.len());
        let piece = &bytes[at..end];
        stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await?;
        stream.write_all(piece).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await?;
        at = end;
        size = size % 7 + 1;
    }
    Ok(())
}

/// SSE text of `data:` events (OpenAI, Gemini).
pub fn data_events(chunks: &[Value]) -> String {
    chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
}

/// A final text answer (OpenAI format): `text`, then the end of the turn.
pub fn text_reply(text: &str) -> Reply {
    Reply::Sse(
        data_events(&[
            serde_json::json!({"choices":[{"index":0,"delta":{"content":text},"finish_reason":"stop"}]}),
        ]) + "data: [DONE]\n\n",
    )
}

/// SSE text of named events (Anthropic).
pub fn named_events(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

/// A generous deadline for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Ask `f` every 20 ms until it gives `Some`, within [`DEADLINE`] or the
/// test fails saying it waited for `what`.
pub async fn poll<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "{what} did not come within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
