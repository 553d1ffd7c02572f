//! The agent loop: conversation and tool schemas go to the model, the tool
//! calls it asks for run (the calls of one turn concurrently, those in one
//! lane, such as one session's, in order), their results go back, until it
//! answers or the iteration limit is reached.

use futures_util::stream::{self, select_all};
use futures_util::{FutureExt, StreamExt};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::conversation::{Message, ToolCall, ToolResult, ToolSpec, Usage};
use crate::provider::{Provider, ProviderError, Request};
use crate::safe_output::prepare;
use crate::scrub::{scrub, scrub_json};
use crate::store::{Conversation, StoreError};
use crate::tools::sessions::unfinished_note;
use crate::tools::{ToolOutput, Toolbox};

/// Something that happened during a turn, for the front end.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// A piece of the model's answer, as it streams in.
    Text {
        /// The text.
        text: String,
    },
    /// The model called a tool (arguments scrubbed).
    ToolCall {
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// Its arguments.
        arguments: serde_json::Value,
    },
    /// A tool answered (the text the model sees).
    ToolResult {
        /// The call's id.
        id: String,
        /// The tool.
        name: String,
        /// Whether it failed.
        is_error: bool,
        /// What the model sees.
        content: String,
    },
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// The model answered (the full text of its last message).
    Answer(String),
    /// The model still wanted tools after the iteration limit.
    IterationLimit(u32),
    /// The turn was cancelled; the conversation stays consistent.
    Cancelled,
}

/// Why a turn failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model request failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The conversation could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Limits of the loop.
#[derive(Debug, Clone, Copy)]
pub struct LoopLimits {
    /// Model requests per turn.
    pub max_iterations: u32,
    /// Characters of one tool result the model sees.
    pub truncation: usize,
}

/// An agent: a model, its tools and a conversation.
pub struct Agent {
    provider: Provider,
    tools: Toolbox,
    specs: Vec<ToolSpec>,
    system: String,
    messages: Vec<Message>,
    store: Option<Conversation>,
    limits: LoopLimits,
    usage: Usage,
}

impl Agent {
    /// An agent with an empty (or resumed) conversation.
    pub fn new(
        provider: Provider,
        tools: Toolbox,
        system: String,
        limits: LoopLimits,
        history: Vec<Message>,
        store: Option<Conversation>,
    ) -> Agent {
        let specs = tools.specs();
        Agent {
            provider,
            tools,
            specs,
            system,
            messages: history,
            store,
            limits,
            usage: Usage::default(),
        }
    }

    /// Token usage of this process's requests so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// The conversation so far.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The stored conversation's id, if it is stored.
    pub fn conversation_id(&self) -> Option<&str> {
        self.store.as_ref().map(Conversation::id)
    }

    fn push(&mut self, message: Message) -> Result<(), StoreError> {
        if let Some(store) = &mut self.store {
            store.append(&message)?;
        }
        self.messages.push(message);
        Ok(())
    }

    /// Run one user turn (the prompt scrubbed of secrets first). Events go
    /// to `on_event` as they happen;
    /// `cancel` stops the turn at once (running tool calls are dropped,
    /// which leaves sessions running; those that had finished keep their
    /// results).
    pub async fn turn(
        &mut self,
        prompt: &str,
        cancel: &CancellationToken,
        on_event: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<TurnEnd, AgentError> {
        // A secret typed in the prompt reaches neither the model nor the
        // stored conversation.
        self.push(Message::User {
            content: scrub(prompt).into_owned(),
        })?;
        for _ in 0..self.limits.max_iterations {
            let request = Request {
                system: &self.system,
                messages: &self.messages,
                tools: &self.specs,
            };
            let mut on_text = |t: &str| {
                on_event(AgentEvent::Text {
                    text: t.to_string(),
                })
            };
            let response = tokio::select! {
                r = self.provider.complete(&request, &mut on_text) => r?,
                _ = cancel.cancelled() => return Ok(TurnEnd::Cancelled),
            };
            self.usage.add(response.usage);
            let calls = response.tool_calls;
            self.push(Message::Assistant {
                content: response.text.clone(),
                tool_calls: calls.clone(),
                signature: response.signature,
            })?;
            if calls.is_empty() {
                return Ok(TurnEnd::Answer(response.text));
            }
            for c in &calls {
                on_event(AgentEvent::ToolCall {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    arguments: scrub_json(&c.arguments),
                });
            }
            let outs = self.run_calls(&calls, cancel).await;
            let results: Vec<ToolResult> = calls
                .iter()
                .zip(outs)
                .map(|(c, out)| match out {
                    Some(out) => ToolResult {
                        call_id: c.id.clone(),
                        name: c.name.clone(),
                        content: prepare(
                            &out.text,
                            self.limits.truncation,
                            out.untrusted_source.as_deref(),
                        ),
                        is_error: out.is_error,
                    },
                    None => cancelled_result(c),
                })
                .collect();
            for r in &results {
                on_event(AgentEvent::ToolResult {
                    id: r.call_id.clone(),
                    name: r.name.clone(),
                    is_error: r.is_error,
                    content: r.content.clone(),
                });
            }
            self.push(Message::Tool { results })?;
            if cancel.is_cancelled() {
                return Ok(TurnEnd::Cancelled);
            }
        }
        Ok(TurnEnd::IterationLimit(self.limits.max_iterations))
    }

    /// Run `calls`: those in one lane ([`Toolbox::lane`]: one session,
    /// the files) one after another in their order, the lanes and the
    /// calls in none concurrently. Each one's output in their order,
    /// `None` for those not finished when `cancel` fired (dropped, which
    /// leaves sessions running); those that had finished keep their output.
    async fn run_calls(
        &self,
        calls: &[ToolCall],
        cancel: &CancellationToken,
    ) -> Vec<Option<ToolOutput>> {
        let mut lanes: Vec<(Option<String>, Vec<usize>)> = Vec::new();
        for (i, c) in calls.iter().enumerate() {
            let lane = self.tools.lane(c);
            match lanes.iter_mut().find(|(l, _)| lane.is_some() && *l == lane) {
                Some((_, members)) => members.push(i),
                None => lanes.push((lane, vec![i])),
            }
        }
        let mut running = select_all(lanes.into_iter().map(|(_, members)| {
            stream::iter(members)
                .then(move |i| self.tools.run(&calls[i]).map(move |out| (i, out)))
                .boxed()
        }));
        let mut outs = vec![None; calls.len()];
        loop {
            tokio::select! {
                next = running.next() => match next {
                    Some((i, out)) => outs[i] = Some(out),
                    None => break,
                },
                _ = cancel.cancelled() => break,
            }
        }
        outs
    }
}

/// The result recorded for a call the user cancelled.
fn cancelled_result(call: &ToolCall) -> ToolResult {
    ToolResult::unfinished(
        call,
        &format!(
            "cancelled by the user before it finished; any session it was working on is still \
             running{}",
            unfinished_note(&call.name)
        ),
    )
}
