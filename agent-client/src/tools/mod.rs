//! The tools the model may call, grouped in sets, and the toolbox that
//! runs one call with a time limit.

mod argument_names;
mod ended_session;
pub mod files;
mod session_slots;
pub mod sessions;
pub mod skills;
mod terminal_text;
pub mod waiting_prompt;

use std::time::Duration;

use futures_util::future::BoxFuture;
use heimdall_client::nearest::closest;
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
    /// The tools of this set, as the model is told about them. Each
    /// spec's `parameters.properties` must name every argument its tool
    /// takes: [`Toolbox::run`] refuses a call naming any other before
    /// [`ToolSet::call`] sees it, and a call to a tool no spec names.
    fn specs(&self) -> Vec<ToolSpec>;

    /// Run `name` with `args`, or `None` if the tool is not in this set.
    /// `limit` is the call's time limit (tools that wait cut their waits to it).
    fn call<'a>(
        &'a self,
        name: &'a str,
        args: &'a Value,
        limit: Duration,
    ) -> Option<BoxFuture<'a, ToolOutput>>;

    /// The lane of a call to `name` with `args`: the calls of one turn in
    /// the same lane run one after another, in the order the model gave
    /// them (a session started, then typed into); a call in no lane (the
    /// default) runs beside the others. Lanes of different sets must differ.
    fn lane(&self, _name: &str, _args: &Value) -> Option<String> {
        None
    }
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

    /// The lane of `call` ([`ToolSet::lane`]), if its tool has one.
    pub fn lane(&self, call: &ToolCall) -> Option<String> {
        self.sets
            .iter()
            .find(|s| s.specs().iter().any(|spec| spec.name == call.name))
            .and_then(|s| s.lane(&call.name, &call.arguments))
    }

    /// Run one call within the time limit. A call to a tool not offered
    /// (answered with the one meant when close, and those offered),
    /// or with arguments that are not an object or name one the tool does
    /// not take, is refused before it runs. A call cut off by the limit is
    /// dropped; whatever it started (a session) keeps running, and the
    /// result says so.
    pub async fn run(&self, call: &ToolCall) -> ToolOutput {
        let Some(args) = call.arguments.as_object() else {
            return ToolOutput::error(format!(
                "the arguments of {} are not a JSON object: {}",
                call.name, call.arguments
            ));
        };
        let specs = self.specs();
        let no_tool = || {
            let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
            let meant = closest(&call.name.to_lowercase(), names.iter().copied())
                .map(|m| format!(" (did you mean `{m}`?)"))
                .unwrap_or_default();
            ToolOutput::error(format!(
                "there is no tool named {:?}{meant}; the tools are: {}",
                call.name,
                names.join(", ")
            ))
        };
        let Some(spec) = specs.iter().find(|s| s.name == call.name) else {
            return no_tool();
        };
        if let Err(e) = argument_names::check(spec, args) {
            return ToolOutput::error(e);
        }
        let Some(fut) = self
            .sets
            .iter()
            .find_map(|s| s.call(&call.name, &call.arguments, self.timeout))
        else {
            return no_tool();
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
    opt_str_arg(args, key)?.ok_or_else(|| format!("missing string argument `{key}`"))
}

/// An argument given, `null` counting as not given.
fn given<'a>(args: &'a Value, key: &str) -> Option<&'a Value> {
    args.get(key).filter(|v| !v.is_null())
}

/// An optional string argument; one of another type is an error (never
/// taken as not given).
pub fn opt_str_arg<'a>(args: &'a Value, key: &str) -> Result<Option<&'a str>, String> {
    match given(args, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{key}` must be a string, not {other}")),
    }
}

/// An optional non-negative integer argument; a number written as a string
/// (`"30"`, as models often send) or as a whole float (`30.0`) is read as
/// that number, anything else is an error.
pub fn opt_u64_arg(args: &Value, key: &str) -> Result<Option<u64>, String> {
    let Some(v) = given(args, key) else {
        return Ok(None);
    };
    let whole = |f: f64| (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64);
    v.as_u64()
        .or_else(|| v.as_f64().and_then(whole))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .map(Some)
        .ok_or_else(|| format!("`{key}` must be a non-negative integer, not {v}"))
}

/// An optional argument that must be one of `allowed`; anything else
/// (another string, another type) is an error listing them.
pub fn opt_choice_arg(
    args: &Value,
    key: &str,
    allowed: &[&'static str],
) -> Result<Option<&'static str>, String> {
    let Some(v) = given(args, key) else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| v.as_str() == Some(**a))
        .map(|a| Some(*a))
        .ok_or_else(|| format!("`{key}` must be one of {}, not {v}", allowed.join(", ")))
}

/// A required argument that must be one of `allowed`.
pub fn choice_arg(
    args: &Value,
    key: &str,
    allowed: &[&'static str],
) -> Result<&'static str, String> {
    opt_choice_arg(args, key, allowed)?
        .ok_or_else(|| format!("missing argument `{key}` (one of {})", allowed.join(", ")))
}

/// An optional array-of-strings argument; a value of another type, or an
/// array holding anything but strings, is an error (no item is dropped).
pub fn opt_str_list_arg<'a>(args: &'a Value, key: &str) -> Result<Option<Vec<&'a str>>, String> {
    let Some(v) = given(args, key) else {
        return Ok(None);
    };
    let wrong = || format!("`{key}` must be an array of strings, not {v}");
    v.as_array()
        .ok_or_else(wrong)?
        .iter()
        .map(|item| item.as_str().ok_or_else(wrong))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// An optional boolean argument (`"true"` and `"false"` as strings too).
pub fn opt_bool_arg(args: &Value, key: &str) -> Result<Option<bool>, String> {
    match given(args, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(other) => Err(format!("`{key}` must be true or false, not {other}")),
    }
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
            vec![ToolSpec {
                name: "stuck".into(),
                description: "Never finishes.".into(),
                parameters: json!({"type": "object", "properties": {}}),
            }]
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

    /// A call to a tool not offered (a guess, a typo) is answered with the
    /// tool meant when one is close and the names of those offered, so the
    /// model's next call can be right.
    #[tokio::test]
    async fn a_call_to_a_tool_not_offered_names_those_offered() {
        let mut tools = Toolbox::new(Duration::from_millis(100));
        tools.add(Stuck);
        let call = |name: &str| ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: json!({}),
            signature: None,
        };
        let out = tools.run(&call("stuk")).await;
        assert!(out.is_error);
        assert_eq!(
            out.text,
            "there is no tool named \"stuk\" (did you mean `stuck`?); the tools are: stuck"
        );
        let out = tools.run(&call("bash")).await;
        assert_eq!(
            out.text,
            "there is no tool named \"bash\"; the tools are: stuck"
        );
    }

    #[test]
    fn arguments_are_read_as_meant_or_refused_naming_the_argument() {
        let args = json!({
            "n": 30, "s": "30", "f": 30.0, "neg": -5, "half": 2.5, "word": "soon",
            "yes": true, "yes_s": "true", "maybe": "maybe", "null": null,
            "keys": ["Enter", "C-c"], "mixed": ["Enter", 5], "one": "Enter",
        });
        assert_eq!(opt_u64_arg(&args, "n"), Ok(Some(30)));
        assert_eq!(opt_u64_arg(&args, "s"), Ok(Some(30)));
        assert_eq!(opt_u64_arg(&args, "f"), Ok(Some(30)));
        assert_eq!(opt_u64_arg(&args, "absent"), Ok(None));
        assert_eq!(opt_u64_arg(&args, "null"), Ok(None));
        for key in ["neg", "half", "word", "yes", "keys"] {
            let e = opt_u64_arg(&args, key).unwrap_err();
            assert!(
                e.starts_with(&format!("`{key}` must be a non-negative integer")),
                "{e}"
            );
        }
        assert_eq!(opt_bool_arg(&args, "yes"), Ok(Some(true)));
        assert_eq!(opt_bool_arg(&args, "yes_s"), Ok(Some(true)));
        assert!(opt_bool_arg(&args, "maybe")
            .unwrap_err()
            .contains("`maybe` must be true or false"));
        assert_eq!(opt_str_arg(&args, "word"), Ok(Some("soon")));
        assert!(opt_str_arg(&args, "n")
            .unwrap_err()
            .contains("`n` must be a string"));
        assert!(str_arg(&args, "absent")
            .unwrap_err()
            .contains("missing string argument `absent`"));
        assert_eq!(
            opt_str_list_arg(&args, "keys"),
            Ok(Some(vec!["Enter", "C-c"]))
        );
        for key in ["mixed", "one"] {
            let e = opt_str_list_arg(&args, key).unwrap_err();
            assert!(
                e.contains(&format!("`{key}` must be an array of strings")),
                "{e}"
            );
        }
        let allowed = ["screen", "output"];
        assert_eq!(opt_choice_arg(&args, "absent", &allowed), Ok(None));
        let e = opt_choice_arg(&args, "word", &allowed).unwrap_err();
        assert!(e.contains("`word` must be one of screen, output"), "{e}");
        let e = choice_arg(&args, "absent", &allowed).unwrap_err();
        assert!(
            e.contains("missing argument `absent` (one of screen, output)"),
            "{e}"
        );
    }
}
