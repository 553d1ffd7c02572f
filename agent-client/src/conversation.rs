//! The provider-neutral conversation: what the agent and the model said,
//! and the tool calls and their results. Providers translate it to and
//! from their wire formats; the store writes it as JSONL.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id (providers without ids, such as Gemini, get one made up).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments, a JSON object.
    pub arguments: Value,
    /// Gemini's `thoughtSignature` of the part, echoed back verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What a tool answered to one call, as the model will see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The id of the call answered.
    pub call_id: String,
    /// The tool's name (Gemini matches results by name).
    pub name: String,
    /// The (scrubbed, truncated, wrapped) text.
    pub content: String,
    /// Whether the call failed.
    #[serde(default)]
    pub is_error: bool,
}

impl ToolResult {
    /// The result recorded for `call`, which did not finish: `why`.
    pub fn unfinished(call: &ToolCall, why: &str) -> ToolResult {
        ToolResult {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: why.into(),
            is_error: true,
        }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    /// The user's words.
    User {
        /// The text.
        content: String,
    },
    /// The model's answer: text and/or tool calls.
    Assistant {
        /// The text (may be empty when the model only calls tools).
        content: String,
        /// The tool calls of this turn.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        /// Gemini's `thoughtSignature` on the text part, echoed back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The results of the previous assistant message's tool calls.
    Tool {
        /// One result per call, in the calls' order.
        results: Vec<ToolResult>,
    },
}

/// A tool as the model is told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// A JSON schema of the arguments (an object schema).
    pub parameters: Value,
}

/// Token counts, as the provider reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read by the model (prompt).
    pub input_tokens: u64,
    /// Tokens written by the model.
    pub output_tokens: u64,
}

impl Usage {
    /// Add another count to this one.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}
