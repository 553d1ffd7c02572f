//! The `[agent]` table of the shared `heimdall.toml`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use heimdall_client::config::{expand_tilde, home_dir};
use heimdall_client::ConfigFile;
use serde::Deserialize;

use crate::provider::{ProviderKind, ProviderSettings, RetryPolicy};
use crate::safe_output::DEFAULT_TRUNCATION;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or split.
    #[error(transparent)]
    File(#[from] heimdall_client::ConfigError),
    /// A value of the `[agent]` table is out of range.
    #[error("{path}: [agent]: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The configuration file with the agent's part parsed.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The `[agent]` table (defaults when absent).
    pub agent: AgentConfig,
    /// The whole file (the supervisor's part gives the socket directory).
    pub file: ConfigFile,
}

/// The agent's configuration; every key is optional in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// `openai` (any OpenAI-compatible server), `anthropic` or `gemini`.
    pub provider: ProviderKind,
    /// The model name (default: one per provider).
    pub model: Option<String>,
    /// API root; for `openai` it includes `/v1`.
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// Output token limit per request (Anthropic default 4096).
    pub max_tokens: Option<u32>,
    /// Model requests per user turn before the agent stops.
    pub max_iterations: u32,
    /// Characters of one tool result the model sees (head and tail kept).
    pub truncation: usize,
    /// The directory the file tools are confined to.
    pub work_dir: PathBuf,
    /// Live sessions the agent started that it keeps at once.
    pub max_sessions: usize,
    /// Limit of one tool call, in seconds.
    pub tool_timeout_secs: u64,
    /// Longest silence while reading a model's answer, in seconds.
    pub request_timeout_secs: u64,
    /// Retries of a failed model request (429, 5xx, connection errors).
    pub max_retries: u32,
    /// The system prompt file.
    pub identity: Option<PathBuf>,
    /// The folder of skill files (markdown).
    pub skills_dir: Option<PathBuf>,
    /// Where conversations are stored.
    pub data_dir: Option<PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            provider: ProviderKind::Openai,
            model: None,
            base_url: None,
            api_key_env: None,
            max_tokens: None,
            max_iterations: 20,
            truncation: DEFAULT_TRUNCATION,
            work_dir: PathBuf::from("."),
            max_sessions: 8,
            tool_timeout_secs: 300,
            request_timeout_secs: 120,
            max_retries: 4,
            identity: None,
            skills_dir: None,
            data_dir: None,
        }
    }
}

impl AgentConfig {
    /// Check the values' ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_iterations == 0 {
            return Err("max_iterations must be at least 1".into());
        }
        if self.truncation < 100 {
            return Err("truncation must be at least 100 characters".into());
        }
        if self.max_sessions == 0 {
            return Err("max_sessions must be at least 1".into());
        }
        if self.tool_timeout_secs == 0 {
            return Err("tool_timeout_secs must be at least 1".into());
        }
        Ok(())
    }

    /// The model in force.
    pub fn model(&self) -> String {
        self.model.clone().unwrap_or_else(|| {
            match self.provider {
                ProviderKind::Openai => "gpt-4.1-mini",
                ProviderKind::Anthropic => "claude-sonnet-4-5",
                ProviderKind::Gemini => "gemini-2.5-flash",
            }
            .to_string()
        })
    }

    /// The environment variable the key is read from.
    pub fn api_key_env(&self) -> String {
        self.api_key_env
            .clone()
            .unwrap_or_else(|| self.provider.default_api_key_env().to_string())
    }

    /// The provider settings, the key read from the environment.
    pub fn provider_settings(&self) -> ProviderSettings {
        let api_key_env = self.api_key_env();
        let api_key = std::env::var(&api_key_env).ok().filter(|k| !k.is_empty());
        ProviderSettings {
            kind: self.provider,
            model: self.model(),
            base_url: self
                .base_url
                .clone()
                .unwrap_or_else(|| self.provider.default_base_url().to_string()),
            api_key,
            api_key_env,
            max_tokens: self.max_tokens,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(self.request_timeout_secs.max(1)),
            retry: RetryPolicy {
                max_retries: self.max_retries,
                ..RetryPolicy::default()
            },
        }
    }

    /// The limit of one tool call.
    pub fn tool_timeout(&self) -> Duration {
        Duration::from_secs(self.tool_timeout_secs)
    }

    /// The identity file (default `<config>/heimdall/agent/identity.md`).
    pub fn identity_path(&self) -> PathBuf {
        self.identity
            .as_deref()
            .map(expand_tilde)
            .unwrap_or_else(|| config_home().join("heimdall/agent/identity.md"))
    }

    /// The skills folder (default `<config>/heimdall/agent/skills`).
    pub fn skills_path(&self) -> PathBuf {
        self.skills_dir
            .as_deref()
            .map(expand_tilde)
            .unwrap_or_else(|| config_home().join("heimdall/agent/skills"))
    }

    /// The conversation store (default `~/.local/share/heimdall/agent`).
    pub fn data_path(&self) -> PathBuf {
        self.data_dir
            .as_deref()
            .map(expand_tilde)
            .unwrap_or_else(|| data_home().join("heimdall/agent"))
    }

    /// The work directory, `~` expanded.
    pub fn work_path(&self) -> PathBuf {
        expand_tilde(&self.work_dir)
    }
}

/// Read the configuration file (the explicit one, else `./heimdall.toml`,
/// else `$XDG_CONFIG_HOME/heimdall/heimdall.toml`, as every Heimdall program
/// does) and parse its `[agent]` table. No file (or no table) gives the
/// defaults.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let file = ConfigFile::load(explicit)?;
    let agent: AgentConfig = file.section("agent")?.unwrap_or_default();
    agent.validate().map_err(|message| ConfigError::Invalid {
        path: file.path.clone().unwrap_or_default(),
        message,
    })?;
    Ok(Loaded { agent, file })
}

fn home() -> PathBuf {
    home_dir().unwrap_or_else(|| PathBuf::from("/"))
}

fn config_home() -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".config"))
}

fn data_home() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".local/share"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_client::ConfigOrigin;

    /// The `[agent]` table of a file's text, parsed and validated.
    fn parse(text: &str) -> Result<AgentConfig, String> {
        let file = ConfigFile::parse(text, ConfigOrigin::Explicit)?;
        let agent: AgentConfig = file
            .section("agent")
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        agent.validate()?;
        Ok(agent)
    }

    #[test]
    fn defaults_and_overrides() {
        let c = parse("").unwrap();
        assert_eq!(c.max_iterations, 20);
        assert_eq!(c.truncation, 12_000);
        assert_eq!(c.max_sessions, 8);
        assert_eq!(c.tool_timeout_secs, 300);
        let c = parse(
            "[agent]\nprovider = \"anthropic\"\nmodel = \"m\"\nmax_tokens = 100\nbase_url = \"http://127.0.0.1:1\"",
        )
        .unwrap();
        let s = c.provider_settings();
        assert_eq!(s.kind, ProviderKind::Anthropic);
        assert_eq!(s.model, "m");
        assert_eq!(s.max_tokens, Some(100));
        assert_eq!(s.base_url, "http://127.0.0.1:1");
    }

    #[test]
    fn the_example_file_documents_every_key() {
        let example = include_str!("../../heimdall.example.toml");
        let table = example
            .split_once("\n# [agent]\n")
            .map(|(_, rest)| rest)
            .expect("an [agent] section in heimdall.example.toml");
        // The section (up to the next separator line) is commented out;
        // uncommented it must parse with every key present.
        let text: String = table
            .lines()
            .take_while(|l| !l.starts_with("# ---"))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let c = parse(&format!("[agent]\n{text}")).unwrap();
        for key in [
            "provider",
            "model",
            "base_url",
            "api_key_env",
            "max_tokens",
            "max_iterations",
            "truncation",
            "work_dir",
            "max_sessions",
            "tool_timeout_secs",
            "request_timeout_secs",
            "max_retries",
            "identity",
            "skills_dir",
            "data_dir",
        ] {
            assert!(
                parsed.contains_key(key),
                "heimdall.example.toml lacks [agent] {key}"
            );
        }
        let d = AgentConfig::default();
        assert_eq!(c.max_iterations, d.max_iterations);
        assert_eq!(c.truncation, d.truncation);
        assert_eq!(c.max_sessions, d.max_sessions);
        assert_eq!(c.tool_timeout_secs, d.tool_timeout_secs);
        assert_eq!(c.max_retries, d.max_retries);
        assert_eq!(c.model(), d.model());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = parse("[agent]\nmodle = \"x\"").unwrap_err();
        assert!(e.contains("modle"), "{e}");
        let e = parse("[agent]\nprovider = \"cohere\"").unwrap_err();
        assert!(e.contains("cohere"), "{e}");
        assert!(parse("[agent]\nmax_iterations = 0").is_err());
    }
}
