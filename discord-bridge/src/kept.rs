//! The running watches, kept in a file (`watches-<bot user id>.json` in
//! the bridge's data directory: two bots on one machine keep theirs apart)
//! so that hm-discord, restarted while they run (a crash, an upgrade, a
//! reboot of its host), takes them up again in their threads
//! ([`crate::resume`]); without it, a watched session's prompts and exit
//! went unsaid after a restart.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use crate::lock;

/// A watch as kept in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// The session's id.
    pub session: String,
    /// When the session started: with its id, which session it is (an
    /// ended session's id may be taken again).
    pub started_at: String,
    /// The watch thread.
    pub thread: u64,
    /// The thread's channel.
    pub parent: u64,
    /// Who started the session from Discord, if anyone.
    pub starter: Option<u64>,
}

/// The kept watches (in memory only until a file is opened).
#[derive(Debug, Default)]
pub struct KeptWatches {
    path: OnceLock<PathBuf>,
    kept: Mutex<Vec<Kept>>,
}

impl KeptWatches {
    /// Keep the watches in `path` from now on (the first path given only),
    /// with those kept there before (none when it does not exist; a file
    /// that cannot be read is logged and replaced).
    pub fn open(&self, path: PathBuf) {
        if self.path.set(path.clone()).is_err() {
            return;
        }
        let loaded: Vec<Kept> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("ignoring {}: {e}", path.display());
                Vec::new()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", path.display());
                Vec::new()
            }
        };
        let mut kept = lock(&self.kept);
        let now = std::mem::take(&mut *kept);
        kept.extend(
            loaded
                .into_iter()
                .filter(|k| !now.iter().any(|n| n.session == k.session)),
        );
        kept.extend(now);
        self.save(&kept);
    }

    /// The watches kept now.
    pub fn all(&self) -> Vec<Kept> {
        lock(&self.kept).clone()
    }

    /// Keep `watch` (in place of one of its session).
    pub fn keep(&self, watch: Kept) {
        let mut kept = lock(&self.kept);
        kept.retain(|k| k.session != watch.session);
        kept.push(watch);
        self.save(&kept);
    }

    /// The watch of `session` in `thread` has ended.
    pub fn end(&self, session: &str, thread: u64) {
        let mut kept = lock(&self.kept);
        let before = kept.len();
        kept.retain(|k| !(k.session == session && k.thread == thread));
        if kept.len() != before {
            self.save(&kept);
        }
    }

    /// Write the file whole (a new file renamed over the old one).
    fn save(&self, kept: &[Kept]) {
        let Some(path) = self.path.get() else {
            return;
        };
        let written = serde_json::to_vec_pretty(kept)
            .map_err(std::io::Error::other)
            .and_then(|json| {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let new = path.with_extension("json.new");
                std::fs::write(&new, json)?;
                std::fs::rename(&new, path)
            });
        if let Err(e) = written {
            tracing::warn!("cannot keep the watches in {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(session: &str, thread: u64) -> Kept {
        Kept {
            session: session.into(),
            started_at: "2026-12-05T03:00:00Z".into(),
            thread,
            parent: 1,
            starter: Some(7),
        }
    }

    #[test]
    fn watches_are_kept_across_loads_and_ended_ones_dropped() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("discord/watches-7.json");
        let load = |path: &PathBuf| {
            let k = KeptWatches::default();
            k.open(path.clone());
            k.all()
        };
        let k = KeptWatches::default();
        // Before the file is opened: in memory, then saved with it.
        k.keep(kept("a", 10));
        k.open(path.clone());
        k.keep(kept("b", 20));
        k.keep(kept("a", 30));
        k.end("b", 99);
        assert_eq!(load(&path), [kept("b", 20), kept("a", 30)]);
        k.end("b", 20);
        assert_eq!(load(&path), [kept("a", 30)]);
        std::fs::write(&path, "not json").expect("written");
        assert!(load(&path).is_empty());
    }
}
