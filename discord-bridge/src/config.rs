//! The `[discord]` table of `heimdall.toml`.
//!
//! These key names are the contract documented in `heimdall.example.toml`.
//! Discord ids (snowflakes) may be written as strings or integers; an
//! unknown key is an error that names it. The bot token is never read from
//! the file: `token_env` names the environment variable that holds it.

use std::path::{Path, PathBuf};

use heimdall_client::{config::home_dir, ConfigError, ConfigFile};
use serde::{Deserialize, Deserializer};

/// A Discord id (a snowflake), written in the file as a string or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub u64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) if n > 0 => Ok(Id(n as u64)),
            Raw::Int(n) => Err(serde::de::Error::custom(format!(
                "{n} is not a Discord id (ids are positive)"
            ))),
            Raw::Text(s) => s
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Id)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("{s:?} is not a Discord id (digits only)"))
                }),
        }
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The `[discord]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The environment variable that holds the bot token.
    pub token_env: String,
    /// Guilds (servers) where the bot acts. Empty: none (default deny).
    pub guilds: Vec<Id>,
    /// Channels of those guilds where the bot acts. Empty: every channel of
    /// the allowed guilds.
    pub channels: Vec<Id>,
    /// Users who may run, type, kill and use the agent.
    pub operators: Vec<Id>,
    /// Users who may list, look at screens and watch.
    pub viewers: Vec<Id>,
    /// Roles whose members are operators.
    pub operator_roles: Vec<Id>,
    /// Roles whose members are viewers.
    pub viewer_roles: Vec<Id>,
    /// Channels where plain messages go to the agent.
    pub agent_channels: Vec<Id>,
    /// The audit log (JSONL); default `~/.local/share/heimdall/discord/audit.jsonl`.
    pub audit_log: Option<PathBuf>,
    /// Send REST requests through this proxy (nirn-proxy, twilight-http-proxy,
    /// …); serenity's own rate limiter is then off, the proxy does that job.
    pub rest_proxy: Option<String>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token_env: "DISCORD_TOKEN".into(),
            guilds: Vec::new(),
            channels: Vec::new(),
            operators: Vec::new(),
            viewers: Vec::new(),
            operator_roles: Vec::new(),
            viewer_roles: Vec::new(),
            agent_channels: Vec::new(),
            audit_log: None,
            rest_proxy: None,
        }
    }
}

impl DiscordConfig {
    /// Parse and check the `[discord]` table of a loaded file (defaults when
    /// it has none).
    pub fn from_file(file: &ConfigFile) -> Result<DiscordConfig, ConfigError> {
        let cfg: DiscordConfig = file.section("discord")?.unwrap_or_default();
        cfg.validate().map_err(|message| ConfigError::Invalid {
            path: file.path.clone().unwrap_or_default(),
            message: format!("[discord]: {message}"),
        })?;
        Ok(cfg)
    }

    /// Checks serde cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.token_env.trim().is_empty() {
            return Err("token_env must name an environment variable".into());
        }
        if let Some(p) = &self.rest_proxy {
            if !(p.starts_with("http://") || p.starts_with("https://")) {
                return Err(format!(
                    "rest_proxy {p:?} must be an http:// or https:// URL"
                ));
            }
        }
        Ok(())
    }

    /// The audit log's path, `~` expanded.
    pub fn audit_path(&self) -> PathBuf {
        self.audit_log
            .as_deref()
            .map(heimdall_client::config::expand_tilde)
            .unwrap_or_else(|| data_dir().join("audit.jsonl"))
    }

    /// The bot token from the environment (never from the file).
    pub fn token(&self) -> Result<String, String> {
        match std::env::var(&self.token_env) {
            Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
            _ => Err(format!(
                "no bot token: set the environment variable {} (the token is never read from the config file)",
                self.token_env
            )),
        }
    }
}

/// Where hm-discord keeps its own files (channel conversations, default
/// audit log): `$XDG_DATA_HOME/heimdall/discord`, default
/// `~/.local/share/heimdall/discord`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            home_dir()
                .unwrap_or_else(|| Path::new("/").to_path_buf())
                .join(".local/share")
        })
        .join("heimdall/discord")
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_client::ConfigOrigin;

    fn parse(text: &str) -> Result<DiscordConfig, String> {
        let file = ConfigFile::parse(text, ConfigOrigin::Explicit)?;
        DiscordConfig::from_file(&file).map_err(|e| e.to_string())
    }

    #[test]
    fn ids_as_strings_or_integers() {
        let c = parse(
            "[discord]\nguilds = [\"123456789012345678\", 42]\noperators = [7]\n\
             operator_roles = [\" 99 \"]\nrest_proxy = \"http://127.0.0.1:9\"",
        )
        .unwrap();
        assert_eq!(c.guilds, vec![Id(123456789012345678), Id(42)]);
        assert_eq!(c.operators, vec![Id(7)]);
        assert_eq!(c.operator_roles, vec![Id(99)]);
        assert_eq!(c.rest_proxy.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(c.token_env, "DISCORD_TOKEN");
    }

    #[test]
    fn bad_ids_and_unknown_keys_are_named() {
        let e = parse("[discord]\nguilds = [\"12a\"]").unwrap_err();
        assert!(e.contains("12a"), "{e}");
        let e = parse("[discord]\nviewers = [-3]").unwrap_err();
        assert!(e.contains("-3"), "{e}");
        let e = parse("[discord]\noperater = [1]").unwrap_err();
        assert!(e.contains("operater") && e.contains("[discord]"), "{e}");
        let e = parse("[discord]\nrest_proxy = \"127.0.0.1:9\"").unwrap_err();
        assert!(e.contains("rest_proxy"), "{e}");
        let e = parse("[discord]\ntoken_env = \"\"").unwrap_err();
        assert!(e.contains("token_env"), "{e}");
    }

    #[test]
    fn no_table_is_default_deny() {
        let c = parse("scrollback_bytes = 100").unwrap();
        assert_eq!(c, DiscordConfig::default());
        assert!(c.guilds.is_empty() && c.operators.is_empty());
    }

    #[test]
    fn the_token_comes_from_the_named_variable() {
        let c = DiscordConfig {
            token_env: "HM_DISCORD_TEST_TOKEN_UNSET_VAR".into(),
            ..DiscordConfig::default()
        };
        let e = c.token().unwrap_err();
        assert!(e.contains("HM_DISCORD_TEST_TOKEN_UNSET_VAR"), "{e}");
    }

    #[test]
    fn the_example_file_documents_every_key() {
        let example = include_str!("../../heimdall.example.toml");
        let table = example
            .split_once("\n# [discord]\n")
            .map(|(_, rest)| rest)
            .expect("a [discord] section in heimdall.example.toml");
        let text: String = table
            .lines()
            .take_while(|l| !l.starts_with("# ---"))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let c = parse(&format!("[discord]\n{text}")).unwrap();
        assert!(!c.guilds.is_empty() && !c.operators.is_empty());
        for key in [
            "token_env",
            "guilds",
            "channels",
            "operators",
            "viewers",
            "operator_roles",
            "viewer_roles",
            "agent_channels",
            "audit_log",
            "rest_proxy",
        ] {
            assert!(
                parsed.contains_key(key),
                "heimdall.example.toml lacks [discord] {key}"
            );
        }
    }
}
