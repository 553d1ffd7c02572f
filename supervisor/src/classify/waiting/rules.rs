//! Waiting rules as data: the TOML format, its validation and compilation.
//!
//! The built-in rules ship inside the binary (`rules.toml` beside this
//! file); a user file named by `waiting_rules` in `heimdall.toml` is read
//! when a session starts and its rules are tried first. docs/states.md
//! documents the format.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use heimdall_protocol::message::{WaitingKind, WaitingOption};
use regex::Regex;
use serde::Deserialize;

/// The built-in rules file.
const BUILTIN: &str = include_str!("rules.toml");
/// Largest compiled pattern.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rules file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// One `[[rule]]` table, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    kind: WaitingKind,
    cursor_line: Option<String>,
    window: Option<String>,
    not_window: Option<String>,
    alternate_screen: Option<bool>,
    #[serde(default)]
    cursor_at_end: bool,
    #[serde(default)]
    last_row: bool,
    #[serde(default)]
    input: InputCheck,
    #[serde(default)]
    options: Vec<OptionSpec>,
    extract: Option<Extract>,
    keys: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    prompt: Option<PromptFrom>,
}

/// A fixed option in a rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionSpec {
    label: String,
    #[serde(deserialize_with = "heimdall_protocol::message::deserialize_steps")]
    keys: Vec<String>,
}

/// What the program must be doing for a rule to hold (read from `/proc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputCheck {
    /// Nothing: the screen alone decides.
    #[default]
    Any,
    /// The foreground process sleeps in read(2) on the terminal or in a
    /// poll/select call (TUIs).
    Waiting,
    /// The foreground process sleeps in read(2) on the terminal.
    Read,
}

/// How a rule finds its options on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extract {
    /// `1. Yes` / `2) No` lines; `{key}` is the number.
    Numbered,
    /// A list with a pointer (`❯`, `»`, `>`) on the selected line; keys are
    /// arrow presses then Enter, each a step of its own.
    Arrow,
    /// Letters in brackets on the cursor line (`[y,n,q,a,d,e,?]`), from the
    /// `letters` group of `cursor_line`; `{key}` is the letter.
    Letters,
}

/// Where the prompt text comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFrom {
    /// The cursor's line.
    #[default]
    CursorLine,
    /// The nearest non-empty line above the options.
    AboveOptions,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's name (in events and `hm explain`).
    pub name: String,
    /// What the program waits for.
    pub kind: WaitingKind,
    /// Must match the cursor's line.
    pub cursor_line: Option<Regex>,
    /// Must match the lines around the cursor.
    pub window: Option<Regex>,
    /// Must not match the lines around the cursor.
    pub not_window: Option<Regex>,
    /// The alternate screen must be (or not be) active.
    pub alternate_screen: Option<bool>,
    /// The cursor must sit at or after the end of its line's text.
    pub cursor_at_end: bool,
    /// The cursor must be on the screen's last row.
    pub last_row: bool,
    /// What the foreground process must be doing.
    pub input: InputCheck,
    /// Fixed options.
    pub options: Vec<WaitingOption>,
    /// Options found on the screen.
    pub extract: Option<Extract>,
    /// Key template for extracted options (`{key}` is replaced).
    pub keys: String,
    /// Labels of extracted keys (letters).
    pub labels: BTreeMap<String, String>,
    /// Where the prompt text comes from.
    pub prompt: PromptFrom,
    /// Which file the rule came from (`built-in` or a path).
    pub origin: String,
}

/// An ordered list of rules: the first that matches decides.
#[derive(Debug, Default)]
pub struct Rules {
    /// The rules, in the order they are tried.
    pub rules: Vec<Rule>,
}

/// A rules file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("waiting rules {origin}: {message}")]
pub struct RulesError {
    /// The file.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

fn compile(pattern: &Option<String>, what: &str, rule: &str) -> Result<Option<Regex>, String> {
    pattern
        .as_deref()
        .map(|p| {
            regex::RegexBuilder::new(p)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| format!("rule {rule:?}: {what} does not compile: {e}"))
        })
        .transpose()
}

impl Rule {
    fn compile(spec: RuleSpec, origin: &str) -> Result<Rule, String> {
        let name = spec.name.clone();
        if spec.cursor_line.is_none() && spec.window.is_none() {
            return Err(format!(
                "rule {name:?} needs a pattern: cursor_line or window"
            ));
        }
        let cursor_line = compile(&spec.cursor_line, "cursor_line", &name)?;
        if spec.extract == Some(Extract::Letters)
            && !cursor_line
                .as_ref()
                .is_some_and(|r| r.capture_names().any(|n| n == Some("letters")))
        {
            return Err(format!(
                "rule {name:?}: extract = \"letters\" needs a cursor_line with a (?P<letters>…) group"
            ));
        }
        if spec.extract.is_some() && !spec.options.is_empty() {
            return Err(format!(
                "rule {name:?}: give either options or extract, not both"
            ));
        }
        Ok(Rule {
            window: compile(&spec.window, "window", &name)?,
            not_window: compile(&spec.not_window, "not_window", &name)?,
            cursor_line,
            kind: spec.kind,
            alternate_screen: spec.alternate_screen,
            cursor_at_end: spec.cursor_at_end,
            last_row: spec.last_row,
            input: spec.input,
            options: spec
                .options
                .into_iter()
                .map(|o| WaitingOption {
                    label: o.label,
                    keys: o.keys,
                })
                .collect(),
            extract: spec.extract,
            keys: spec.keys.unwrap_or_else(|| "{key}".to_string()),
            labels: spec.labels,
            prompt: spec.prompt.unwrap_or_default(),
            origin: origin.to_string(),
            name,
        })
    }
}

impl Rules {
    /// Parse and compile a rules file's text.
    pub fn parse(text: &str, origin: &str) -> Result<Rules, RulesError> {
        let err = |message: String| RulesError {
            origin: origin.to_string(),
            message,
        };
        let file: RulesFile = toml::from_str(text).map_err(|e| err(e.message().to_string()))?;
        let rules = file
            .rule
            .into_iter()
            .map(|spec| Rule::compile(spec, origin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok(Rules { rules })
    }

    /// The built-in rules, compiled once.
    pub fn builtin() -> Arc<Rules> {
        static BUILT: OnceLock<Arc<Rules>> = OnceLock::new();
        BUILT
            .get_or_init(|| {
                // The built-in file is tested to compile (tests below).
                Arc::new(Rules::parse(BUILTIN, "built-in").unwrap_or_default())
            })
            .clone()
    }

    /// The user's rules from `path` first, then the built-in ones.
    pub fn with_user_file(path: &Path) -> Result<Rules, RulesError> {
        let origin = path.display().to_string();
        let text = heimdall_client::config::read_config_text(path).map_err(|e| RulesError {
            origin: origin.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let mut rules = Rules::parse(&text, &origin)?;
        rules.rules.extend(Rules::builtin().rules.iter().cloned());
        Ok(rules)
    }
}
