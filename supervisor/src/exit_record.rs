//! The exit record `<id>.exit`: how a session ended, kept beside the socket
//! after the supervisor is gone so `hm status` and `hm ls` can still answer,
//! until `hm clean` removes it. The record's format lives in the client
//! library, which reads it for every program.

pub use heimdall_client::ExitRecord;

/// Bytes of final output kept in the record.
pub const TAIL_BYTES: usize = 4096;

/// RFC 3339 time of a [`std::time::SystemTime`], to the microsecond (the
/// exit record's `ended_at`: clients compare it with when they typed).
pub fn rfc3339_micros(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// RFC 3339 time of a [`std::time::SystemTime`], to the millisecond (a
/// session's `started_at`: `uptime_ms` is computed from it).
pub fn rfc3339_millis(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
