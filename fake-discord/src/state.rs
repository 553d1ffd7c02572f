//! The state shared by the REST server, the gateway and the test-facing handle.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;

use crate::gateway::GatewayState;
use crate::model::World;
use crate::record::{RecordedRequest, Route, Script};

/// Everything behind one lock (never held across an await), plus a change counter waiters
/// watch.
pub(crate) struct Shared {
    state: Mutex<State>,
    version: watch::Sender<u64>,
}

pub(crate) struct State {
    pub world: World,
    pub requests: Vec<RecordedRequest>,
    pub scripts: Vec<Script>,
    /// Rate limits in force: a route's (`Some`) or the global one (`None`), until when.
    pub limits: Vec<(Option<Route>, Instant)>,
    pub gateway: GatewayState,
}

impl Shared {
    pub fn new(gateway_url: String) -> Self {
        Self {
            state: Mutex::new(State {
                world: World::new(),
                requests: Vec::new(),
                scripts: Vec::new(),
                limits: Vec::new(),
                gateway: GatewayState::new(gateway_url),
            }),
            version: watch::channel(0).0,
        }
    }

    /// The state; a panic elsewhere while holding it does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wake everyone waiting for a change.
    pub fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// A receiver that sees every later [`changed`](Self::changed).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
