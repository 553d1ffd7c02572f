//! What `hm ls --json` and `hm status --json` say of a session, in the
//! same fields: a live one from its supervisor's STATUS answer and HELLO,
//! an ended one from its exit record.

use heimdall_client::{HelloResp, Status};
use serde_json::{json, Map, Value};

use super::common::since_rfc3339;
use crate::exit_record::ExitRecord;

/// Live session `id` as its supervisor's STATUS answer `st` and its HELLO
/// tell it (a heimdall 1.0 supervisor has no HELLO: only STATUS is told).
pub fn live(id: &str, st: &Status, hello: Option<&HelloResp>) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), json!(id));
    row.insert("alive".into(), json!(st.alive));
    row.insert("pid".into(), json!(st.pid));
    row.insert("state".into(), json!(st.state.name()));
    row.insert("state_ms".into(), json!(st.state_ms));
    row.insert("silent_ms".into(), json!(st.idle_ms));
    if let Some(hello) = hello {
        let s = &hello.session;
        let uptime = since_rfc3339(&s.started_at).unwrap_or_default();
        row.insert("started_at".into(), json!(s.started_at));
        row.insert("uptime_ms".into(), json!(uptime.as_millis() as u64));
        row.insert("command".into(), json!(s.command));
        row.insert("cwd".into(), json!(s.cwd));
    }
    row
}

/// An ended session as its exit record `rec` tells it.
pub fn exited(rec: &ExitRecord) -> Value {
    json!({
        "id": rec.id,
        "alive": false,
        "pid": rec.pid,
        "state": "exited",
        "code": rec.code,
        "signal": rec.signal,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "command": rec.command,
        "cwd": rec.cwd,
        "supervisor_died": rec.supervisor_died,
    })
}
