//! One `heimdall.toml` for all of Heimdall's programs.
//!
//! The supervisor's keys stay at the top level, exactly as in heimdall 1.0
//! (a 1.0 file stays valid); `[agent]` and `[discord]` are the tables of
//! `hm-agent` and `hm-discord`. Each program validates only its own part
//! (and names unknown keys in it): `hm` the top level, the others their
//! table through [`ConfigFile::section`].
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

/// The tables that belong to other programs than `hm`.
pub const SECTIONS: [&str; 2] = ["agent", "discord"];

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
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
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

    /// Split a file's text into its parts; `origin` decides which keys are allowed.
    pub fn parse(text: &str, origin: ConfigOrigin) -> Result<ConfigFile, String> {
        let mut supervisor: toml::Table =
            toml::from_str(text).map_err(|e| e.message().to_string())?;
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
        v.clone()
            .try_into()
            .map(Some)
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: self.path.clone().unwrap_or_default(),
                message: format!("[{name}]: {}", e.message()),
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
