//! The agent in chat: one conversation per channel, persisted with the
//! agent's store and resumed after a restart (the channel → conversation
//! map is kept in the bridge's data dir); one turn per channel at a time,
//! later prompts queued with a visible note; tool calls shown as compact
//! lines as they happen, the final answer posted. Everything posted is
//! scrubbed and cut to Discord's limits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use heimdall_agent::agent::{Agent, AgentEvent, TurnEnd};
use heimdall_agent::config::Loaded;
use heimdall_agent::setup::Parts;
use heimdall_agent::store::Conversation;
use serenity::all::{ChannelId, CreateAllowedMentions, CreateMessage, Http};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::text::{clean, split, MESSAGE_LIMIT};
use crate::{deliver, lock};

/// One prompt for the agent.
#[derive(Debug, Clone)]
pub struct Job {
    /// What the user said.
    pub prompt: String,
    /// Who said it (display name, for the transcript).
    pub user_name: String,
}

struct ChannelQueue {
    tx: mpsc::UnboundedSender<Job>,
    /// Jobs sent and not finished (the running one included).
    pending: Arc<AtomicUsize>,
}

/// The agent front end of the bridge.
pub struct AgentHub {
    loaded: Loaded,
    socket_dir: PathBuf,
    map_path: PathBuf,
    map: Mutex<HashMap<String, String>>,
    queues: Mutex<HashMap<u64, ChannelQueue>>,
}

/// The longest tool-call line posted (characters).
const TOOL_LINE_MAX: usize = 180;

impl AgentHub {
    /// The hub: agent config from `loaded`, sessions under `socket_dir`,
    /// the channel map kept in `data_dir`.
    pub fn new(loaded: Loaded, socket_dir: PathBuf, data_dir: &Path) -> AgentHub {
        let map_path = data_dir.join("agent-channels.json");
        let map = std::fs::read_to_string(&map_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        AgentHub {
            loaded,
            socket_dir,
            map_path,
            map: Mutex::new(map),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Queue a prompt for the channel's conversation. Returns how many turns
    /// are ahead of it (0: it runs now).
    pub fn submit(self: &Arc<Self>, http: &Arc<Http>, channel: ChannelId, job: Job) -> usize {
        let mut queues = lock(&self.queues);
        let q = queues.entry(channel.get()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let pending = Arc::new(AtomicUsize::new(0));
            let hub = self.clone();
            let http = http.clone();
            let p = pending.clone();
            tokio::spawn(async move { hub.worker(http, channel, rx, p).await });
            ChannelQueue { tx, pending }
        });
        let ahead = q.pending.fetch_add(1, Ordering::SeqCst);
        if q.tx.send(job).is_err() {
            q.pending.fetch_sub(1, Ordering::SeqCst);
        }
        ahead
    }

    fn save_map(&self) {
        let text = serde_json::to_string_pretty(&*lock(&self.map)).unwrap_or_default();
        if let Some(dir) = self.map_path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&self.map_path, text) {
            tracing::warn!("cannot save {}: {e}", self.map_path.display());
        }
    }

    /// The channel's agent: its stored conversation resumed, or a new one.
    fn build(&self, channel: ChannelId) -> Result<Agent, String> {
        let cfg = &self.loaded.agent;
        let settings = cfg.provider_settings();
        let parts = Parts::new(
            cfg,
            self.socket_dir.clone(),
            self.loaded.file.path.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let data = cfg.data_path();
        let key = channel.get().to_string();
        let known = lock(&self.map).get(&key).cloned();
        let resumed = known.and_then(|id| match Conversation::resume(&data, &id) {
            Ok(r) => {
                if let Some(torn) = r.torn {
                    tracing::warn!("channel {channel}: conversation {id}: {torn}");
                }
                Some((r.conversation, r.messages))
            }
            Err(e) => {
                tracing::warn!("channel {channel}: cannot resume conversation {id}: {e}");
                None
            }
        });
        let (store, history) = match resumed {
            Some(r) => r,
            None => {
                let c =
                    Conversation::create(&data, &format!("{:?}", settings.kind), &settings.model)
                        .map_err(|e| e.to_string())?;
                lock(&self.map).insert(key, c.id().to_string());
                self.save_map();
                (c, Vec::new())
            }
        };
        Ok(parts.into_agent(cfg, history, store))
    }

    async fn worker(
        self: Arc<Self>,
        http: Arc<Http>,
        channel: ChannelId,
        mut rx: mpsc::UnboundedReceiver<Job>,
        pending: Arc<AtomicUsize>,
    ) {
        let mut agent: Option<Agent> = None;
        while let Some(job) = rx.recv().await {
            if agent.is_none() {
                match self.build(channel) {
                    Ok(a) => agent = Some(a),
                    Err(e) => {
                        post(&http, channel, &format!("the agent is not available: {e}")).await;
                    }
                }
            }
            if let Some(a) = agent.as_mut() {
                turn(a, &http, channel, &job).await;
            }
            pending.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A compact line for a tool call: the tool's name and its arguments,
/// scrubbed, then cut (a secret the cut went through would keep its first
/// part, too short to be found).
pub fn tool_line(name: &str, arguments: &serde_json::Value) -> String {
    let args = match arguments {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut line = clean(format!("🔧 `{name}` {args}").trim_end());
    if line.chars().count() > TOOL_LINE_MAX {
        line = line.chars().take(TOOL_LINE_MAX).collect::<String>() + "…";
    }
    line
}

async fn post(http: &Http, channel: ChannelId, text: &str) {
    for part in split(text, MESSAGE_LIMIT) {
        let msg = CreateMessage::new()
            .content(part)
            .allowed_mentions(CreateAllowedMentions::new());
        if let Err(e) = deliver::send_message(http, channel, msg).await {
            tracing::warn!("cannot post in channel {channel}: {e}");
        }
    }
}

async fn turn(agent: &mut Agent, http: &Arc<Http>, channel: ChannelId, job: &Job) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let poster = {
        let http = http.clone();
        tokio::spawn(async move {
            while let Some(line) = rx.recv().await {
                post(&http, channel, &line).await;
            }
        })
    };
    let mut on_event = move |ev: AgentEvent| {
        if let AgentEvent::ToolCall {
            name, arguments, ..
        } = ev
        {
            let _ = tx.send(tool_line(&name, &arguments));
        }
    };
    let prompt = format!("{} says: {}", job.user_name, job.prompt);
    let end = agent
        .turn(&prompt, &CancellationToken::new(), &mut on_event)
        .await;
    drop(on_event);
    let _ = poster.await;
    let text = match end {
        Ok(TurnEnd::Answer(a)) if a.trim().is_empty() => "(the agent gave no answer)".to_string(),
        Ok(TurnEnd::Answer(a)) => a,
        Ok(TurnEnd::IterationLimit(n)) => {
            format!("the agent stopped after {n} model requests without a final answer")
        }
        Ok(TurnEnd::Cancelled) => "the turn was cancelled".to_string(),
        Err(e) => format!("the agent failed: {e}"),
    };
    post(http, channel, &text).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_lines_are_compact_and_scrubbed() {
        let l = tool_line("session_list", &serde_json::json!({}));
        assert_eq!(l, "🔧 `session_list`");
        let l = tool_line(
            "session_submit",
            &serde_json::json!({"id": "s1", "text": "x".repeat(500)}),
        );
        assert!(
            l.chars().count() <= TOOL_LINE_MAX + 1 && l.ends_with('…'),
            "{l}"
        );
        let l = tool_line(
            "session_submit",
            &serde_json::json!({"text": "export T=ghp_abcdefghijklmnopqrstuvwxyz0123456789"}),
        );
        assert!(!l.contains("ghp_abc"), "{l}");
        // A token the cut goes through: scrubbed whole before the cut, its
        // first part alone being too short to be found.
        let head = "🔧 `session_submit` {\"text\":\"";
        let filler = "x".repeat(TOOL_LINE_MAX - 16 - head.chars().count());
        let l = tool_line(
            "session_submit",
            &serde_json::json!({"text": format!("{filler} ghp_abcdefghijklmnopqrstuvwxyz0123456789")}),
        );
        assert!(!l.contains("ghp_abcdefg"), "{l}");
    }
}
