//! Who sets the terminal's size: the latest RESIZE wins (tmux's
//! `window-size latest`), and every connection's last RESIZE is remembered,
//! so that when the connection whose size is in force goes, the session
//! takes the size of the most recent remaining connection that sent one.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Session;
use crate::sync::lock;

/// The connections that sent a RESIZE, each with the size it last asked
/// for, the most recent last (its size is the one in force).
#[derive(Debug, Default)]
pub(super) struct SizeRequests {
    recent: Vec<(u64, (u16, u16))>,
}

impl SizeRequests {
    /// Connection `conn` asked for `size`: it is now the most recent.
    fn asked(&mut self, conn: u64, size: (u16, u16)) {
        self.recent.retain(|(c, _)| *c != conn);
        self.recent.push((conn, size));
    }

    /// Connection `conn` is gone. Returns the size to go back to when its
    /// size was the one in force and another connection asked for one.
    fn gone(&mut self, conn: u64) -> Option<(u16, u16)> {
        let was_latest = self.recent.last().is_some_and(|(c, _)| *c == conn);
        self.recent.retain(|(c, _)| *c != conn);
        if was_latest {
            self.recent.last().map(|(_, size)| *size)
        } else {
            None
        }
    }
}

/// One connection's say in the terminal's size; its size is forgotten
/// (and the size in force given back, if it was its) when dropped.
pub struct SizeClaim {
    session: Arc<Session>,
    conn: u64,
}

impl Session {
    /// A claim for a new connection, which sizes the terminal with
    /// [`SizeClaim::resize`].
    pub fn size_claim(self: &Arc<Self>) -> SizeClaim {
        SizeClaim {
            session: self.clone(),
            conn: self.next_connection.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl SizeClaim {
    /// Set the terminal size on this connection's behalf (the kernel sends
    /// SIGWINCH to the foreground process group when it changes).
    pub fn resize(&self, cols: u16, rows: u16) -> std::io::Result<()> {
        let mut requests = lock(&self.session.size_requests);
        self.session.set_size(cols, rows)?;
        requests.asked(self.conn, (cols, rows));
        Ok(())
    }
}

impl Drop for SizeClaim {
    fn drop(&mut self) {
        let mut requests = lock(&self.session.size_requests);
        let Some((cols, rows)) = requests.gone(self.conn) else {
            return;
        };
        if self.session.exit_status().is_some() {
            return;
        }
        if let Err(e) = self.session.set_size(cols, rows) {
            tracing::debug!("cannot give the terminal back its {cols}x{rows}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SizeRequests;

    #[test]
    fn the_latest_wins_and_its_leaving_restores_the_most_recent_remaining() {
        let mut r = SizeRequests::default();
        r.asked(1, (60, 19));
        r.asked(2, (120, 39));
        r.asked(3, (80, 23));
        r.asked(2, (100, 30));
        // 1 and 3 are not in force: nothing changes when they go.
        assert_eq!(r.gone(3), None);
        // 2 is in force: back to 1, the most recent remaining.
        assert_eq!(r.gone(2), Some((60, 19)));
        // The last one leaving leaves the size as it is.
        assert_eq!(r.gone(1), None);
        // A connection that never asked changes nothing.
        assert_eq!(r.gone(9), None);
    }
}
