//! The keys the top level of `heimdall.toml` holds: `hm`'s keys and the
//! other programs' tables. Every program refuses any other key there, in
//! the same words, before it checks the keys of its own part.

/// `hm`'s keys, at the top level of the file as in heimdall 1.0. `hm`
/// checks their values and the keys inside `[[env]]` and `[classifier.*]`.
pub const SUPERVISOR_KEYS: [&str; 21] = [
    "socket_dir",
    "scrollback_bytes",
    "session_env_var",
    "kill_process_group",
    "log_file",
    "log_level",
    "log_filter",
    "detach_key",
    "classifier",
    "env",
    "kill_grace_ms",
    "live_window_bytes",
    "stall_timeout_ms",
    "echo_poll_us",
    "allow_root",
    "cols",
    "rows",
    "screen_model",
    "screen_scrollback_lines",
    "status_bar",
    "waiting_rules",
];

/// The tables that belong to other programs than `hm`.
pub const SECTIONS: [&str; 2] = ["agent", "discord"];

/// Refuse every key of `top` (the whole file) that is neither one of
/// `hm`'s keys nor another program's table, so that one run names every
/// typo: each names the key as written (`key \`socket_dri\``, `table
/// [agnet]`) and the key meant, when one is close (`did you mean
/// \`socket_dir\`?`); when one is near none, the list of known keys ends the
/// message once.
pub(super) fn check(top: &toml::Table) -> Result<(), String> {
    let known = |k: &str| SUPERVISOR_KEYS.contains(&k) || SECTIONS.contains(&k);
    let unknown: Vec<_> = top.iter().filter(|(k, _)| !known(k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let mut lost = false;
    let named: Vec<String> = unknown
        .into_iter()
        .map(|(key, value)| {
            let what = match value {
                toml::Value::Table(_) => format!("table [{key}]"),
                toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table) => {
                    format!("table [[{key}]]")
                }
                _ => format!("key `{key}`"),
            };
            let known = SUPERVISOR_KEYS.iter().chain(&SECTIONS).copied();
            let hint = match crate::nearest::closest(key, known) {
                Some(meant) if SECTIONS.contains(&meant) => format!(" (did you mean [{meant}]?)"),
                Some(meant) => format!(" (did you mean `{meant}`?)"),
                None => {
                    lost = true;
                    String::new()
                }
            };
            format!("unknown top-level {what}{hint}")
        })
        .collect();
    let mut message = named.join("; ");
    if lost {
        message.push_str(&format!(
            "; known keys: {} and the tables {}",
            SUPERVISOR_KEYS.join(", "),
            SECTIONS.map(|s| format!("[{s}]")).join(", ")
        ));
    }
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        check(&toml::from_str(text).unwrap()).unwrap_err()
    }

    #[test]
    fn a_typo_is_answered_with_the_key_meant() {
        assert_eq!(
            refusal("socket_dri = 1"),
            "unknown top-level key `socket_dri` (did you mean `socket_dir`?)"
        );
        assert_eq!(
            refusal("[agnet]\nmodel = 1"),
            "unknown top-level table [agnet] (did you mean [agent]?)"
        );
        assert_eq!(
            refusal("[[evn]]\nname = 1"),
            "unknown top-level table [[evn]] (did you mean `env`?)"
        );
        assert_eq!(
            refusal("row = 1"),
            "unknown top-level key `row` (did you mean `rows`?)"
        );
    }

    #[test]
    fn a_key_near_none_is_answered_with_every_known_key() {
        let e = refusal("frobnicate = [1]");
        assert!(e.starts_with("unknown top-level key `frobnicate`; known keys: socket_dir, "));
        assert!(e.ends_with(", waiting_rules and the tables [agent], [discord]"));
    }

    #[test]
    fn every_unknown_key_is_named_at_once() {
        assert_eq!(
            refusal("row = 1\nsocket_dri = 2\nrows = 3\n[agnet]\nmodel = 1"),
            "unknown top-level table [agnet] (did you mean [agent]?); \
             unknown top-level key `row` (did you mean `rows`?); \
             unknown top-level key `socket_dri` (did you mean `socket_dir`?)"
        );
        let e = refusal("frobnicate = 1\nzork = 2\nrow = 3");
        assert!(
            e.starts_with(
                "unknown top-level key `frobnicate`; unknown top-level key `row` \
                 (did you mean `rows`?); unknown top-level key `zork`; known keys: socket_dir, "
            ),
            "{e}"
        );
        assert_eq!(e.matches("known keys").count(), 1, "{e}");
    }

    #[test]
    fn every_known_key_passes() {
        let top = SUPERVISOR_KEYS
            .iter()
            .chain(&SECTIONS)
            .map(|k| (k.to_string(), toml::Value::Integer(1)))
            .collect();
        assert_eq!(check(&top), Ok(()));
    }
}
