//! Who started each session from Discord (mentioned in its watch's
//! notifications). A session is known by its id and its supervisor's pid:
//! a later session that reuses an ended one's id is not taken for it. The
//! sessions that no longer run are forgotten at each start, so the map
//! holds no more than the running sessions, however long the bridge runs.

use std::collections::HashMap;
use std::sync::Mutex;

use serenity::all::UserId;

use crate::lock;

/// Who started which session.
#[derive(Debug, Default)]
pub struct Starters {
    by_session: Mutex<HashMap<String, (i32, UserId)>>,
}

impl Starters {
    /// `user` started session `id`, whose supervisor is `supervisor_pid`
    /// (unknown: nobody is remembered for it); `running` are the ids of the
    /// sessions that run now (the others are forgotten).
    pub fn started(&self, id: &str, supervisor_pid: Option<i32>, user: UserId, running: &[String]) {
        let mut by = lock(&self.by_session);
        by.retain(|session, _| running.contains(session));
        match supervisor_pid {
            Some(pid) => by.insert(id.to_string(), (pid, user)),
            None => by.remove(id),
        };
    }

    /// Who started session `id` whose supervisor is `supervisor_pid`, if
    /// it was started from Discord.
    pub fn of(&self, id: &str, supervisor_pid: u32) -> Option<UserId> {
        lock(&self.by_session)
            .get(id)
            .filter(|(pid, _)| u32::try_from(*pid).is_ok_and(|p| p == supervisor_pid))
            .map(|(_, user)| *user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_known_by_its_supervisor_and_ended_ones_are_forgotten() {
        let s = Starters::default();
        let (olga, vic) = (UserId::new(1), UserId::new(2));
        s.started("a", Some(100), olga, &["a".into()]);
        assert_eq!(s.of("a", 100), Some(olga));
        // The same id, another session.
        assert_eq!(s.of("a", 200), None);
        s.started("b", Some(300), vic, &["b".into()]);
        assert_eq!(s.of("a", 100), None, "a no longer runs");
        assert_eq!(s.of("b", 300), Some(vic));
        s.started("b", None, olga, &["b".into()]);
        assert_eq!(s.of("b", 300), None);
        assert!(lock(&s.by_session).is_empty());
    }
}
