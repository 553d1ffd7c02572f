//! The terminals that show a session's output: each connection whose
//! HELLO said `viewer` (`hm attach`), by the process session id of its
//! client, for as long as it lasts. HELLO_RESP lists them, so an attach
//! can see that the session it would show already shows its own terminal
//! (an attach loop).

use std::sync::Arc;

use super::Session;
use crate::sync::lock;

/// One connection counted among the session's viewers; uncounted when dropped.
pub struct Viewer {
    session: Arc<Session>,
    sid: u32,
}

impl Session {
    /// Count a connection whose client is process `peer` among the
    /// viewers, by its process session id; `None` when that cannot be
    /// read (the client is gone).
    pub fn viewer(self: &Arc<Self>, peer: i32) -> Option<Viewer> {
        let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(peer))).ok()?;
        let sid = u32::try_from(sid.as_raw()).ok()?;
        lock(&self.viewers).push(sid);
        Some(Viewer {
            session: self.clone(),
            sid,
        })
    }

    /// The process session ids of the viewers' clients (one per viewer).
    pub fn viewer_sids(&self) -> Vec<u32> {
        lock(&self.viewers).clone()
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let mut viewers = lock(&self.session.viewers);
        if let Some(at) = viewers.iter().position(|&s| s == self.sid) {
            viewers.swap_remove(at);
        }
    }
}
