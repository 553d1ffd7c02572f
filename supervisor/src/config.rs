//! Configuration: validation of the supervisor's part of `heimdall.toml`
//! and the settings a supervisor runs with after command-line flags are
//! applied.
//!
//! Finding and splitting the file is [`heimdall_client::ConfigFile`]'s job
//! (the waterfall, which keys the top level holds, the `[agent]` and
//! `[discord]` tables of the other programs, the keys a `./heimdall.toml`
//! may not set); this module validates the values of the top-level keys,
//! which are `hm`'s, and the keys inside its own tables.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::classify::{ClassifierKind, ClassifierParams};

/// Default scrollback kept for replay (heimdall 1.0's default).
pub const DEFAULT_SCROLLBACK_BYTES: usize = 65536;
/// Default live window: how far a paced subscriber may fall behind.
pub const DEFAULT_LIVE_WINDOW_BYTES: usize = 1 << 20;
/// Default time without progress after which a subscriber stops pacing the child.
pub const DEFAULT_STALL_TIMEOUT_MS: u64 = 500;
/// Default grace between SIGTERM and SIGKILL.
pub const DEFAULT_KILL_GRACE_MS: u64 = 5000;
/// Default detach key: Ctrl-\ (0x1C).
pub const DEFAULT_DETACH_KEY: u8 = 0x1C;
/// Default name of the environment variable carrying the session id.
pub const DEFAULT_SESSION_ENV_VAR: &str = "HEIMDALL_SESSION_ID";

pub use heimdall_client::config::{expand_tilde, home_dir, ConfigError};
use heimdall_client::{ConfigFile, ConfigOrigin};

/// One `[[env]]` table: a variable set in the child's environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Variable value.
    pub value: String,
}

impl EnvVar {
    /// A variable from `NAME=VALUE` (as `hm start --env` takes it).
    pub fn parse(text: &str) -> Result<EnvVar, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
        let var = EnvVar {
            name: name.to_string(),
            value: value.to_string(),
        };
        var.check()?;
        Ok(var)
    }

    /// Whether the name and value can be put in an environment.
    fn check(&self) -> Result<(), String> {
        if self.name.is_empty() || self.name.contains('=') || self.name.contains('\0') {
            return Err(format!("{:?} is not a valid variable name", self.name));
        }
        if self.name == crate::lifecycle::TREE_VAR {
            return Err(format!(
                "{} is the supervisor's own: its guardian finds the session's processes by it, so it cannot be set",
                self.name
            ));
        }
        if self.value.contains('\0') {
            return Err(format!("the value of {} contains a NUL byte", self.name));
        }
        Ok(())
    }
}

/// `detach_key` as a number (`0x1C`) or a string (`"C-\\"`, `"ctrl-]"`,
/// `"none"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a control key (\"ctrl-]\", \"C-\\\\\", \"^A\"), a byte (0x1C, 28) or \"none\""
)]
enum DetachKeySpec {
    Byte(u8),
    Name(String),
}

/// The configuration file, as written. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    socket_dir: Option<PathBuf>,
    scrollback_bytes: Option<usize>,
    session_env_var: Option<String>,
    kill_process_group: Option<bool>,
    log_file: Option<PathBuf>,
    log_level: Option<toml::Value>,
    log_filter: Option<String>,
    detach_key: Option<DetachKeySpec>,
    classifier: Option<toml::Value>,
    #[serde(default)]
    env: Vec<EnvVar>,
    kill_grace_ms: Option<u64>,
    live_window_bytes: Option<usize>,
    stall_timeout_ms: Option<u64>,
    echo_poll_us: Option<u64>,
    allow_root: Option<bool>,
    cols: Option<toml::Value>,
    rows: Option<toml::Value>,
    screen_model: Option<bool>,
    screen_scrollback_lines: Option<usize>,
    status_bar: Option<bool>,
    waiting_rules: Option<PathBuf>,
}

/// Configuration after the file is read and validated (before CLI flags).
#[derive(Debug, Clone)]
pub struct Config {
    /// Where sessions' sockets and files live.
    pub socket_dir: PathBuf,
    /// Scrollback bytes kept for replay.
    pub scrollback_bytes: usize,
    /// Name of the env var carrying the session id.
    pub session_env_var: String,
    /// Whether signals go to the whole process group.
    pub kill_process_group: bool,
    /// Supervisor log file (default `<socket_dir>/<id>.log`).
    pub log_file: Option<PathBuf>,
    /// Log level (`error`, `warn`, `info`, `debug`, `trace`).
    pub log_level: String,
    /// A `tracing` filter directive that overrides `log_level` (a
    /// `--log-level` on the command line clears the file's filter).
    pub log_filter: Option<String>,
    /// The attach client's detach key (`None`: none, `detach_key =
    /// "none"`).
    pub detach_key: Option<u8>,
    /// Which classifier, with its parameters.
    pub classifier: ClassifierKind,
    /// Parameters of the classifier.
    pub classifier_params: ClassifierParams,
    /// Extra variables for the child.
    pub env: Vec<EnvVar>,
    /// Grace between SIGTERM and SIGKILL.
    pub kill_grace_ms: u64,
    /// Live window: how far a paced subscriber may fall behind.
    pub live_window_bytes: usize,
    /// Time without progress before a subscriber stops pacing the child.
    pub stall_timeout_ms: u64,
    /// How long the supervisor polls for the reaction to input instead of
    /// sleeping (see [`crate::echo_poll`]); 0 turns polling off.
    pub echo_poll_us: u64,
    /// Whether root may connect to a session of another user.
    pub allow_root: bool,
    /// Default terminal columns.
    pub cols: u16,
    /// Default terminal rows.
    pub rows: u16,
    /// Whether to keep a live screen model.
    pub screen_model: bool,
    /// Lines scrolled off the top the screen model keeps.
    pub screen_scrollback_lines: usize,
    /// Whether `hm attach` shows the status bar.
    pub status_bar: bool,
    /// The user's waiting rules file, if one is named.
    pub waiting_rules_file: Option<PathBuf>,
    /// The waiting rules: the user's (read when the config is loaded), then
    /// the built-in ones.
    pub waiting_rules: std::sync::Arc<crate::classify::waiting::Rules>,
    /// The file this came from, if any.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            socket_dir: heimdall_client::config::default_socket_dir(),
            scrollback_bytes: DEFAULT_SCROLLBACK_BYTES,
            session_env_var: DEFAULT_SESSION_ENV_VAR.to_string(),
            kill_process_group: true,
            log_file: None,
            log_level: "info".to_string(),
            log_filter: None,
            detach_key: Some(DEFAULT_DETACH_KEY),
            classifier: ClassifierKind::Simple,
            classifier_params: ClassifierParams::default(),
            env: Vec::new(),
            kill_grace_ms: DEFAULT_KILL_GRACE_MS,
            live_window_bytes: DEFAULT_LIVE_WINDOW_BYTES,
            stall_timeout_ms: DEFAULT_STALL_TIMEOUT_MS,
            echo_poll_us: DEFAULT_ECHO_POLL_US,
            allow_root: false,
            cols: 80,
            rows: 24,
            screen_model: true,
            screen_scrollback_lines: 1000,
            status_bar: true,
            waiting_rules_file: None,
            waiting_rules: crate::classify::waiting::Rules::builtin(),
            source: None,
        }
    }
}

/// Default of `echo_poll_us`.
pub const DEFAULT_ECHO_POLL_US: u64 = 200;

/// An `echo_poll_us` checked against its maximum.
pub fn echo_poll_in_range(v: u64) -> Result<u64, String> {
    let max = crate::echo_poll::MAX_WINDOW.as_micros() as u64;
    if v <= max {
        Ok(v)
    } else {
        Err(format!("echo_poll_us = {v} is above the {max} µs maximum"))
    }
}

/// The levels of `log_level` and `--log-level`.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// A terminal size from the configuration file: a whole number in
/// 1..=`max`; else what is wrong, naming the key and the valid values.
fn size_in_range(key: &str, v: &toml::Value, max: u16) -> Result<u16, String> {
    match v.as_integer() {
        Some(n) if (1..=i64::from(max)).contains(&n) => Ok(n as u16),
        Some(_) => Err(format!("{key} = {v} is outside 1..={max}")),
        None => Err(format!("{key} = {v} is not a whole number in 1..={max}")),
    }
}

/// `log_level` from the configuration file: one of [`LOG_LEVELS`]; else
/// what is wrong, naming the key and the valid values.
fn log_level(v: &toml::Value) -> Result<String, String> {
    match v.as_str() {
        Some(level) if LOG_LEVELS.contains(&level) => Ok(level.to_string()),
        _ => Err(format!(
            "log_level = {v} is not one of {}",
            LOG_LEVELS.join(", ")
        )),
    }
}

/// A `tracing` filter (`log_filter`, `--log-filter`), checked when it is
/// read: a typo is refused there instead of being dropped for `log_level`
/// when the log starts. What is wrong when it is not one.
pub fn check_log_filter(filter: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(|_| filter.to_string())
        .map_err(|e| e.to_string())
}

/// A detach key as `detach_key` and `--detach-key` give it: the byte
/// that detaches, or `None` (`none`: no key detaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachKey(pub Option<u8>);

/// The forms a detach key takes, for messages.
const DETACH_KEY_FORMS: &str =
    "expected a control key (ctrl-], C-\\, ^A), a byte (0x1C, 28) or none";

/// A detach key byte that a key press sends alone, else why not: ESC
/// begins what every arrow, function and Alt key sends (each would
/// detach), Enter, Tab and Backspace send Ctrl-M, Ctrl-I and Ctrl-?, and
/// a byte over 0x7F is part of a character in UTF-8 input.
fn key_of_its_own(b: u8, s: &str) -> Result<u8, String> {
    let why = match b {
        0x1b => "ESC begins what arrow, function and Alt keys send",
        b'\r' => "it is what Enter sends",
        b'\t' => "it is what Tab sends",
        0x7f => "it is what Backspace sends",
        0x80.. => "a byte over 0x7F is part of a character in UTF-8 input",
        _ => return Ok(b),
    };
    Err(format!(
        "detach key {s}: not a key of its own ({why}); choose another: ctrl-], C-\\, ^A, ..."
    ))
}

/// Parse a detach key: `C-x` / `ctrl-x` / `Ctrl+x` / `^X`, a number, or
/// `none`; else what is wrong, naming the accepted forms.
pub fn parse_detach_key(s: &str) -> Result<DetachKey, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    if lower == "none" {
        return Ok(DetachKey(None));
    }
    let key = ["ctrl-", "ctrl+", "c-", "^"]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| &t[p.len()..]));
    if let Some(k) = key {
        let mut chars = k.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let up = c.to_ascii_uppercase();
            if ('@'..='_').contains(&up) {
                return key_of_its_own(up as u8 - b'@', &format!("{s:?}"))
                    .map(|b| DetachKey(Some(b)));
            }
            if c == '?' {
                return key_of_its_own(0x7f, &format!("{s:?}")).map(|b| DetachKey(Some(b)));
            }
        }
        return Err(format!(
            "detach key {s:?}: no control character for {k:?}; {DETACH_KEY_FORMS}"
        ));
    }
    let parsed = if let Some(hex) = lower.strip_prefix("0x") {
        u8::from_str_radix(hex, 16)
    } else {
        lower.parse::<u8>()
    };
    let b = parsed.map_err(|_| format!("detach key {s:?}: {DETACH_KEY_FORMS}"))?;
    key_of_its_own(b, &format!("{s:?}")).map(|b| DetachKey(Some(b)))
}

impl Config {
    /// Load configuration following the waterfall; the socket directory
    /// is `socket_dir_flag`, `HEIMDALL_SOCKET_DIR`, the file's, or the default.
    pub fn load(
        explicit: Option<&Path>,
        socket_dir_flag: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let file = ConfigFile::load(explicit)?;
        let path = file.path.clone();
        let mut cfg = Config::from_file(&file).map_err(|message| ConfigError::Invalid {
            path: path.clone().unwrap_or_default(),
            message,
        })?;
        if let Some(rules) = &cfg.waiting_rules_file {
            // A relative path is relative to the config file.
            let rules = match path.as_deref().and_then(Path::parent) {
                Some(dir) if rules.is_relative() => dir.join(rules),
                _ => rules.clone(),
            };
            let compiled =
                crate::classify::waiting::Rules::with_user_file(&rules).map_err(|e| {
                    ConfigError::Invalid {
                        path: path.clone().unwrap_or_default(),
                        message: e.to_string(),
                    }
                })?;
            cfg.waiting_rules = std::sync::Arc::new(compiled);
            cfg.waiting_rules_file = Some(rules);
        }
        cfg.socket_dir = heimdall_client::resolve_socket_dir(socket_dir_flag, &file);
        cfg.source = path;
        Ok(cfg)
    }

    /// Parse and validate the text of the user's configuration file.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        Config::from_file(&ConfigFile::parse(text, ConfigOrigin::User)?)
    }

    /// Validate the supervisor's part of a configuration file.
    pub fn from_file(file: &ConfigFile) -> Result<Config, String> {
        let file: FileConfig =
            heimdall_client::config::from_table(file.supervisor().clone(), None)?;
        let mut cfg = Config::default();
        if let Some(d) = file.socket_dir {
            cfg.socket_dir = expand_tilde(&d);
        }
        if let Some(v) = file.scrollback_bytes {
            cfg.scrollback_bytes = v;
        }
        if let Some(v) = file.session_env_var {
            if v.is_empty() || v.contains('=') || v.contains('\0') {
                return Err(format!(
                    "session_env_var {v:?} is not a valid variable name"
                ));
            }
            cfg.session_env_var = v;
        }
        if let Some(v) = file.kill_process_group {
            cfg.kill_process_group = v;
        }
        cfg.log_file = file.log_file.map(|p| expand_tilde(&p));
        if let Some(v) = file.log_level {
            cfg.log_level = log_level(&v)?;
        }
        if let Some(f) = file.log_filter {
            check_log_filter(&f)
                .map_err(|e| format!("log_filter = {:?} is not a tracing filter: {e}", f))?;
            cfg.log_filter = Some(f);
        }
        if let Some(k) = file.detach_key {
            cfg.detach_key = match k {
                DetachKeySpec::Byte(b) => Some(key_of_its_own(b, &format!("0x{b:02X}"))?),
                DetachKeySpec::Name(s) => parse_detach_key(&s)?.0,
            };
        }
        if let Some(c) = file.classifier {
            let (kind, params) = crate::classify::parse_config(&c)?;
            cfg.classifier = kind;
            cfg.classifier_params = params;
        }
        for e in &file.env {
            e.check().map_err(|why| format!("[[env]]: {why}"))?;
        }
        cfg.env = file.env;
        if let Some(v) = file.kill_grace_ms {
            cfg.kill_grace_ms = v;
        }
        if let Some(v) = file.live_window_bytes {
            if v < 4096 {
                return Err(format!(
                    "live_window_bytes = {v} is below the 4096-byte minimum"
                ));
            }
            cfg.live_window_bytes = v;
        }
        if let Some(v) = file.stall_timeout_ms {
            cfg.stall_timeout_ms = v;
        }
        if let Some(v) = file.echo_poll_us {
            cfg.echo_poll_us = echo_poll_in_range(v)?;
        }
        if let Some(v) = file.allow_root {
            cfg.allow_root = v;
        }
        if let Some(v) = file.cols {
            cfg.cols = size_in_range("cols", &v, heimdall_protocol::message::MAX_COLS)?;
        }
        if let Some(v) = file.rows {
            cfg.rows = size_in_range("rows", &v, heimdall_protocol::message::MAX_ROWS)?;
        }
        if let Some(v) = file.screen_model {
            cfg.screen_model = v;
        }
        if let Some(v) = file.screen_scrollback_lines {
            cfg.screen_scrollback_lines = v;
        }
        if let Some(v) = file.status_bar {
            cfg.status_bar = v;
        }
        cfg.waiting_rules_file = file.waiting_rules.map(|p| expand_tilde(&p));
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_client::config::{SECTIONS, SUPERVISOR_KEYS};

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_toml("scrollback_bytes = 10\nsocket_dri = \"/x\"\n").unwrap_err();
        assert!(e.contains("socket_dri"), "{e}");
        let e = Config::from_toml("[classifier.claude]\nidle_treshold_ms = 5\n").unwrap_err();
        assert!(e.contains("idle_treshold_ms"), "{e}");
        let e = Config::from_toml("[[env]]\nname = \"A\"\nvalue = \"b\"\nvalu = 1\n").unwrap_err();
        assert!(e.contains("valu"), "{e}");
    }

    #[test]
    fn heimdall_1_keys() {
        let c = Config::from_toml(
            r#"
socket_dir = "/tmp/hm-test"
scrollback_bytes = 1024
session_env_var = "MY_SESSION"
kill_process_group = false
log_level = "debug"
detach_key = 0x1D
classifier = "claude"

[[env]]
name = "FOO"
value = "bar"
"#,
        )
        .unwrap();
        assert_eq!(c.socket_dir, PathBuf::from("/tmp/hm-test"));
        assert_eq!(c.scrollback_bytes, 1024);
        assert_eq!(c.session_env_var, "MY_SESSION");
        assert!(!c.kill_process_group);
        assert_eq!(c.detach_key, Some(0x1D));
        assert_eq!(c.classifier, ClassifierKind::Claude);
        assert_eq!(c.env.len(), 1);
    }

    /// A parameter the named classifier has no use for (`simple` never
    /// debounces, `none` is always idle) was taken and silently dropped.
    #[test]
    fn a_classifier_parameter_without_use_is_refused() {
        for (toml, field) in [
            ("[classifier.simple]\ndebounce_ms = 50\n", "debounce_ms"),
            (
                "[classifier.none]\nidle_threshold_ms = 50\n",
                "idle_threshold_ms",
            ),
            ("[classifier.none]\ndebounce_ms = 50\n", "debounce_ms"),
        ] {
            let e = Config::from_toml(toml).unwrap_err();
            assert!(e.contains(field), "{toml}: {e}");
        }
        assert!(Config::from_toml("[classifier.simple]\nidle_threshold_ms = 50\n").is_ok());
    }

    #[test]
    fn classifier_table_form() {
        let c =
            Config::from_toml("[classifier.claude]\nidle_threshold_ms = 1500\ndebounce_ms = 50\n")
                .unwrap();
        assert_eq!(c.classifier, ClassifierKind::Claude);
        assert_eq!(c.classifier_params.idle_threshold_ms, 1500);
        assert_eq!(c.classifier_params.debounce_ms, 50);
        assert!(Config::from_toml("classifier = \"smart\"").is_err());
    }

    #[test]
    fn the_example_file_is_valid_and_documents_every_key() {
        let text = include_str!("../../heimdall.example.toml");
        let c = Config::from_toml(text).unwrap();
        assert_eq!(c.scrollback_bytes, DEFAULT_SCROLLBACK_BYTES);
        assert_eq!(c.detach_key, Some(DEFAULT_DETACH_KEY));
        // Every key of the file format appears in the example.
        let keys = SUPERVISOR_KEYS.iter().chain(&SECTIONS).copied();
        for key in keys.chain(["[[env]]", "idle_threshold_ms", "debounce_ms"]) {
            assert!(text.contains(key), "heimdall.example.toml lacks {key}");
        }
    }

    /// The top-level keys the client library lets through are the keys
    /// this module reads.
    #[test]
    fn the_client_knows_every_key_of_hm() {
        // serde names every field when it refuses an unknown one.
        let probe = toml::from_str("\"?\" = 0").unwrap();
        let e = heimdall_client::config::from_table::<FileConfig>(probe, None).unwrap_err();
        let (_, fields) = e.split_once("expected one of ").expect(&e);
        let fields: Vec<&str> = fields.split(", ").map(|f| f.trim_matches('`')).collect();
        assert_eq!(fields, SUPERVISOR_KEYS);
    }

    #[test]
    fn detach_key_names() {
        let key = |s| parse_detach_key(s).map(|k| k.0);
        assert_eq!(key("C-\\"), Ok(Some(0x1C)));
        assert_eq!(key("ctrl-]"), Ok(Some(0x1D)));
        assert_eq!(key("^A"), Ok(Some(0x01)));
        assert_eq!(key("0x1c"), Ok(Some(0x1C)));
        assert_eq!(key("None"), Ok(None));
        for bad in ["C-ab", "ctrl-é", "nothing"] {
            let e = key(bad).unwrap_err();
            assert!(e.contains("ctrl-], C-\\, ^A") && e.contains("none"), "{e}");
        }
        let c = Config::from_toml("detach_key = \"none\"\n").unwrap();
        assert_eq!(c.detach_key, None);
    }
}
