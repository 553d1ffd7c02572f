//! Refusing an attach loop: `hm attach T` typed on the terminal of session
//! S while T's terminal already shows S, directly (`hm attach S` runs
//! inside T) or through other attached sessions. Each would show the
//! other's output, which would feed itself forever.
//!
//! Every supervisor lists the terminals attached to it (HELLO_RESP
//! `viewers`: the process session id of each attach, which is the child
//! pid of the session it runs in). From S, the sessions whose terminals
//! show S are followed back; reaching T means a loop. The attach asks after
//! it has connected to T as a viewer, so of two attaches closing a loop at
//! the same moment, at least one sees the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use heimdall_client::{ClientBuilder, Liveness, SocketDir};

/// How long one session of the chain may take to answer.
const ASK_DEADLINE: Duration = Duration::from_secs(2);

/// The sessions through which `target` already shows the terminal this
/// process runs on, when attaching to it would close a loop: `[S, …, T]`,
/// each shown on the next one's terminal. Only sessions of the socket
/// directory `dir` are seen.
pub async fn loop_through(dir: &Path, target: &str) -> Option<Vec<String>> {
    let me = u32::try_from(nix::unistd::getsid(None).ok()?.as_raw()).ok()?;
    let dir = SocketDir::new(dir);
    // The live sessions by child pid (the leader of each one's terminal).
    let by_child: BTreeMap<u32, String> = dir
        .list()
        .ok()?
        .into_iter()
        .filter_map(|e| match e.liveness {
            Liveness::Live(Some(pids)) => Some((u32::try_from(pids.child).ok()?, e.files.id)),
            _ => None,
        })
        .collect();
    let inside = by_child.get(&me)?.clone();
    // Who shows whom: walked back from this terminal's session.
    let mut shown_by: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = BTreeSet::from([inside.clone()]);
    let mut next = vec![inside.clone()];
    while let Some(id) = next.pop() {
        let Ok(client) = dir
            .connect(
                &id,
                ClientBuilder::new()
                    .name("hm attach")
                    .deadline(ASK_DEADLINE),
            )
            .await
        else {
            continue;
        };
        let viewers = client
            .hello()
            .map(|h| h.viewers.clone())
            .unwrap_or_default();
        for viewer in viewers.iter().filter_map(|sid| by_child.get(sid)) {
            if viewer == target {
                let mut chain = vec![target.to_string(), id.clone()];
                while let Some(shown) = shown_by.get(chain.last()?) {
                    chain.push(shown.clone());
                }
                chain.reverse();
                return Some(chain);
            }
            if seen.insert(viewer.clone()) {
                shown_by.insert(viewer.clone(), id.clone());
                next.push(viewer.clone());
            }
        }
    }
    None
}
