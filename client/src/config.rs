//! One `heimdall.toml` for all of Heimdall's programs.
//!
//! The supervisor's keys stay at the top level, exactly as in heimdall 1.0
//! (a 1.0 file stays valid); `[agent]` and `[discord]` are the tables of
//! `hm-agent` and `hm-discord`. Each program validates only its own part
//! (and names unknown keys in it): `hm` the top level, the others their
//! table through [`ConfigFile::section`]. Which keys the top level holds is
//! known here ([`SUPERVISOR_KEYS`], [`SECTIONS`]), so every program refuses
//! an unknown one, in the same words, when it loads the file.
//!
//! Waterfall: `--config PATH` > `./heimdall.toml` >
//! `$XDG_CONFIG_HOME/heimdall/heimdall.toml` (default
//! `~/.config/heimdall/heimdall.toml`) > built-in defaults. Only the first
//! file found is read. A `./heimdall.toml` found in the working directory
//! (say, inside a cloned repository) may not set the keys that weaken
//! security ([`LOCAL_FORBIDDEN`]): those are read only from the user's own
//! file or a file named with `--config`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

mod top_level;

pub use top_level::{SECTIONS, SUPERVISOR_KEYS};

/// Keys a `./heimdall.toml` in the working directory may not set.
pub const LOCAL_FORBIDDEN: [&str; 4] = ["allow_root", "env", "socket_dir", "log_file"];

/// Errors reading configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid configuration.
    #[error("invalid config {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the key).
        message: String,
    },
}

/// Where the configuration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// Named with `--config`.
    Explicit,
    /// `./heimdall.toml` in the working directory.
    Local,
    /// The user's own file under `$XDG_CONFIG_HOME`.
    User,
    /// No file: built-in defaults.
    Defaults,
}

/// The configuration file, split into its programs' parts.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Where it came from.
    pub origin: ConfigOrigin,
    supervisor: toml::Table,
    sections: toml::Table,
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            path: None,
            origin: ConfigOrigin::Defaults,
            supervisor: toml::Table::new(),
            sections: toml::Table::new(),
        }
    }
}

/// The most a configuration file may hold: far more than any real one, and
/// a bound on what a mistaken path (`/dev/zero`, a log file) costs.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The text of a configuration file (also a pipe, as `--config <(...)`
/// gives): an error for one that is not UTF-8 or holds more than
/// [`MAX_CONFIG_BYTES`], read no further than that.
pub fn read_config_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it holds more than {} KiB, more than a configuration file does",
                MAX_CONFIG_BYTES / 1024
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

impl ConfigFile {
    /// Load following the waterfall.
    pub fn load(explicit: Option<&Path>) -> Result<ConfigFile, ConfigError> {
        let (path, origin) = match explicit {
            Some(p) => (p.to_path_buf(), ConfigOrigin::Explicit),
            None => match discover() {
                Some(found) => found,
                None => return Ok(ConfigFile::default()),
            },
        };
        let text = read_config_text(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        ConfigFile::parse(&text, origin)
            .map_err(|message| ConfigError::Invalid {
                path: path.clone(),
                message,
            })
            .map(|mut c| {
                c.path = Some(path);
                c
            })
    }

    /// Split a file's text into its parts, refusing a top-level key that is
    /// neither `hm`'s nor another program's table; `origin` decides which
    /// of `hm`'s keys are allowed.
    pub fn parse(text: &str, origin: ConfigOrigin) -> Result<ConfigFile, String> {
        let mut supervisor: toml::Table = toml::from_str(text).map_err(|e| at_line(text, &e))?;
        top_level::check(&supervisor)?;
        let mut sections = toml::Table::new();
        for name in SECTIONS {
            if let Some(v) = supervisor.remove(name) {
                if !v.is_table() {
                    return Err(format!("[{name}] must be a table"));
                }
                sections.insert(name.to_string(), v);
            }
        }
        if origin == ConfigOrigin::Local {
            if let Some(key) = LOCAL_FORBIDDEN
                .iter()
                .find(|k| supervisor.contains_key(**k))
            {
                return Err(format!(
                    "`{key}` may not be set by a heimdall.toml in the working directory \
                     (it weakens security); set it in ~/.config/heimdall/heimdall.toml \
                     or a file named with --config"
                ));
            }
        }
        Ok(ConfigFile {
            path: None,
            origin,
            supervisor,
            sections,
        })
    }

    /// The supervisor's part: every top-level key except the other programs' tables.
    pub fn supervisor(&self) -> &toml::Table {
        &self.supervisor
    }

    /// Parse a program's table (`agent`, `discord`) as `T`; `None` when the
    /// file has none. Use `#[serde(deny_unknown_fields)]` on `T` so unknown
    /// keys are named.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ConfigError> {
        let Some(v) = self.sections.get(name) else {
            return Ok(None);
        };
        let table = v.as_table().cloned().unwrap_or_default();
        from_table(table, Some(name))
            .map(Some)
            .map_err(|message| ConfigError::Invalid {
                path: self.path.clone().unwrap_or_default(),
                message,
            })
    }

    /// The `socket_dir` key, `~` expanded.
    pub fn socket_dir(&self) -> Option<PathBuf> {
        self.supervisor
            .get("socket_dir")
            .and_then(|v| v.as_str())
            .map(|s| expand_tilde(Path::new(s)))
    }
}

/// Deserialize a table of the file (the top level, or the table named
/// `section`) as `T`. What is wrong names the key by its path
/// (`kill_grace_ms`, `env[0].value`, `[agent] model`) and says what it takes
/// in words (`expected a whole number from 0 to 255`): toml's own errors,
/// from an already parsed table, have neither the key nor a position.
pub fn from_table<T: DeserializeOwned>(
    table: toml::Table,
    section: Option<&str>,
) -> Result<T, String> {
    serde_path_to_error::deserialize(table).map_err(|e| {
        let message = expected_in_words(e.inner().message());
        // An empty path (".") is the table's own error: an unknown key,
        // which the message names.
        let key = Some(e.path().to_string()).filter(|p| p != ".");
        match (section, key) {
            (None, None) => message,
            (None, Some(key)) => format!("{key}: {message}"),
            (Some(s), None) => format!("[{s}]: {message}"),
            (Some(s), Some(key)) => format!("[{s}] {key}: {message}"),
        }
    })
}

/// A syntax error of the file with the line it is on (`line 3, \`cols =
/// 1e99\`: ...`): toml's one-line message has no position.
fn at_line(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let content = text.lines().nth(line - 1).unwrap_or_default().trim();
    format!("line {line}, `{content}`: {}", e.message())
}

/// serde's message with the Rust type it expected (`expected u8`) said
/// for people (`expected a whole number from 0 to 255`).
fn expected_in_words(message: &str) -> String {
    let Some((before, expected)) = message.rsplit_once("expected ") else {
        return message.to_string();
    };
    let range = |min: i128, max: i128| format!("a whole number from {min} to {max}");
    let words = match expected {
        "u8" => range(0, u8::MAX.into()),
        "u16" => range(0, u16::MAX.into()),
        "u32" => range(0, u32::MAX.into()),
        // Beyond what a TOML integer holds.
        "u64" | "usize" => "a whole number, 0 or more".to_string(),
        "i8" => range(i8::MIN.into(), i8::MAX.into()),
        "i16" => range(i16::MIN.into(), i16::MAX.into()),
        "i32" => range(i32::MIN.into(), i32::MAX.into()),
        "i64" => range(i64::MIN.into(), i64::MAX.into()),
        "a boolean" => "true or false".to_string(),
        "path string" => "a path (a string)".to_string(),
        "a sequence" => "an array".to_string(),
        t if t.starts_with("struct ") || t == "a map" => "a table".to_string(),
        _ => return message.to_string(),
    };
    format!("{before}expected {words}")
}

fn discover() -> Option<(PathBuf, ConfigOrigin)> {
    let local = PathBuf::from("heimdall.toml");
    if local.is_file() {
        return Some((local, ConfigOrigin::Local));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".config")))?;
    let user = base.join("heimdall/heimdall.toml");
    user.is_file().then_some((user, ConfigOrigin::User))
}

/// The environment variable that names the socket directory; `hm` sets it
/// in every session's program to that session's directory.
pub const SOCKET_DIR_VAR: &str = "HEIMDALL_SOCKET_DIR";

/// The socket directory, resolved as `hm` does: the flag, then
/// `HEIMDALL_SOCKET_DIR`, then the config file's `socket_dir`, then
/// `~/.local/share/heimdall/sessions`.
pub fn resolve_socket_dir(flag: Option<&Path>, config: &ConfigFile) -> PathBuf {
    if let Some(d) = flag {
        return expand_tilde(d);
    }
    if let Some(d) = std::env::var_os(SOCKET_DIR_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    config.socket_dir().unwrap_or_else(default_socket_dir)
}

/// The user's home directory, from `$HOME` or the password database.
pub fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    passwd_home()
}

fn passwd_home() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: getpwuid_r writes into pwd and buf (of the given length) only.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::geteuid(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut out,
        );
        if rc != 0 || out.is_null() || pwd.pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr(pwd.pw_dir);
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes())))
    }
}

/// `~/.local/share/heimdall/sessions`.
pub fn default_socket_dir() -> PathBuf {
    home_dir()
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(".local/share/heimdall/sessions")
}

/// Expand a leading `~/` to the home directory.
pub fn expand_tilde(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => home_dir()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| p.to_path_buf()),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Agent {
        model: String,
    }

    #[test]
    fn other_programs_tables_are_kept_for_them() {
        let c = ConfigFile::parse(
            "scrollback_bytes = 10\n[agent]\nmodel = \"m\"\n[discord]\ntoken_file = \"t\"\n",
            ConfigOrigin::User,
        )
        .unwrap();
        assert!(c.supervisor().contains_key("scrollback_bytes"));
        assert!(!c.supervisor().contains_key("agent"));
        let a: Agent = c.section("agent").unwrap().unwrap();
        assert_eq!(a.model, "m");
        let bad = ConfigFile::parse("[agent]\nmodle = \"m\"\n", ConfigOrigin::User).unwrap();
        let e = bad.section::<Agent>("agent").unwrap_err().to_string();
        assert!(e.contains("modle") && e.contains("[agent]"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_key_and_the_type_in_words() {
        #[derive(Debug, serde::Deserialize)]
        struct Top {
            #[allow(dead_code)]
            n: Option<u64>,
            #[allow(dead_code)]
            list: Option<Vec<Agent>>,
        }
        let e = from_table::<Top>(toml::from_str("n = -1").unwrap(), None).unwrap_err();
        assert_eq!(
            e,
            "n: invalid value: integer `-1`, expected a whole number, 0 or more"
        );
        let text = "[[list]]\nmodel = \"m\"\n[[list]]\nmodel = 2\n";
        let e = from_table::<Top>(toml::from_str(text).unwrap(), None).unwrap_err();
        assert!(e.starts_with("list[1].model: "), "{e}");
        assert!(e.ends_with("expected a string"), "{e}");
        let file = ConfigFile::parse("[agent]\nmodel = true\n", ConfigOrigin::User).unwrap();
        let e = file.section::<Agent>("agent").unwrap_err().to_string();
        assert!(
            e.contains("[agent] model: invalid type: boolean `true`"),
            "{e}"
        );
    }

    #[test]
    fn a_local_file_may_not_weaken_security() {
        for key in [
            "allow_root = true",
            "socket_dir = \"/tmp/x\"",
            "log_file = \"/tmp/l\"",
            "[[env]]\nname = \"A\"\nvalue = \"b\"",
        ] {
            let e = ConfigFile::parse(key, ConfigOrigin::Local).unwrap_err();
            assert!(e.contains("working directory"), "{key}: {e}");
            assert!(ConfigFile::parse(key, ConfigOrigin::User).is_ok());
            assert!(ConfigFile::parse(key, ConfigOrigin::Explicit).is_ok());
        }
        assert!(ConfigFile::parse("scrollback_bytes = 1", ConfigOrigin::Local).is_ok());
    }
}
