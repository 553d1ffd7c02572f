//! The tools the model may call, grouped in sets, and the toolbox that
//! runs one call with a time limit.

mod ended_session;
pub mod files;
mod session_slots;
pub mod sessions;
pub mod skills;
mod terminal_text;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::conversation::{ToolCall, ToolSpec};

/// What one call produced, before it is made safe for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The text.
    pub text: String,
    /// Whether the call failed.
    pub is_error: bool,
    /// Set when the text is program output (a screen, a file): the source
    /// named in the untrusted-output wrapper.
    pub untrusted_source: Option<String>,
}

impl ToolOutput {
    /// A plain successful result.
    pub fn ok(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            is_error: false,
            untrusted_source: None,
        }
    }

    /// A failed call, with the reason for the model.
    pub fn error(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            is_error: true,
            untrusted_source: None,
        }
    }

    /// Program output from `source`, wrapped as untrusted data.
    pub fn untrusted(source: impl Into<String>, text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            is_error: false,
            untrusted_source: Some(source.into()),
        }
    }
}

/// A group of tools sharing state (the work dir, the sessions, ...).
pub trait ToolSet: Send + Sync {
    /// The tools of this set, as the model is told about them.
    fn specs(&self) -> Vec<ToolSpec>;

    /// Run `name` with `args`, or `None` if the tool is not in this set.
    /// `limit` is the call's time limit (tools that wait cut their waits to it).
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>>;
}

/// Every tool set on offer, and the time limit of one call.
pub struct Toolbox {
    sets: Vec<Box<dyn ToolSet>>,
    timeout: Duration,
}

impl Toolbox {
    /// A toolbox with a per-call time limit.
    pub fn new(timeout: Duration) -> Toolbox {
        Toolbox {
            sets: Vec::new(),
            timeout,
        }
    }

    /// Add a set of tools.
    pub fn add(&mut self, set: impl ToolSet + 'static) {
        self.sets.push(Box::new(set));
    }

    /// The specs of every tool.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.sets.iter().flat_map(|s| s.specs()).collect()
    }

    /// Run one call within the time limit. A call cut off by the limit is
    /// dropped; whatever it started (a session) keeps running, and the
    /// result says so.
    pub async fn run(&self, call: &ToolCall) -> ToolOutput {
        if !call.arguments.is_object() {
            return ToolOutput::error(format!(
                "the arguments of {} are not a JSON object: {}",
                call.name, call.arguments
            ));
        }
        let Some(fut) = self
            .sets
            .iter()
            .find_map(|s| s.call(&call.name, &call.arguments, self.timeout))
        else {
            return ToolOutput::error(format!("there is no tool named {:?}", call.name));
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(out) => out,
            Err(_) => ToolOutput::error(format!(
                "{} did not finish within the tool timeout of {} s and was stopped; \
                 any session it was working on is still running",
                call.name,
                self.timeout.as_secs()
            )),
        }
    }
}

/// A required string argument.
pub fn str_arg<'a>(args: &'a Value, key: &str) -> Result<&'a str, String> {
    args.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string argument `{key}`"))
}

/// An optional string argument.
pub fn opt_str_arg<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

/// An optional non-negative integer argument.
pub fn opt_u64_arg(args: &Value, key: &str) -> Option<u64> {
    args.get(key).and_then(Value::as_u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use serde_json::json;

    /// A tool that never finishes.
    struct Stuck;

    impl ToolSet for Stuck {
        fn specs(&self) -> Vec<ToolSpec> {
            Vec::new()
        }

        fn call<'a>(
            &'a self,
            name: &'a str,
            _args: &'a Value,
            _limit: Duration,
        ) -> Option<BoxFuture<'a, ToolOutput>> {
            (name == "stuck").then(|| futures_util::future::pending().boxed())
        }
    }

    #[tokio::test]
    async fn a_call_over_the_limit_is_stopped_and_says_the_session_runs_on() {
        let mut tools = Toolbox::new(Duration::from_millis(100));
        tools.add(Stuck);
        let call = |name: &str, arguments: Value| ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments,
            signature: None,
        };
        let out = tools.run(&call("stuck", json!({}))).await;
        assert!(out.is_error);
        assert!(out.text.contains("still running"), "{}", out.text);
        let out = tools.run(&call("nope", json!({}))).await;
        assert!(out.is_error && out.text.contains("no tool named"));
        let out = tools.run(&call("stuck", json!("not an object"))).await;
        assert!(out.is_error && out.text.contains("not a JSON object"));
    }
}
