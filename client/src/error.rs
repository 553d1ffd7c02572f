//! The errors of the client library.

use std::path::PathBuf;
use std::time::Duration;

use heimdall_protocol::ErrorBody;

/// A server error code. Codes this library does not know keep their text in
/// [`ErrorCode::Unknown`], so a newer server never breaks an older client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request's frame type is not known to the server.
    UnknownType,
    /// The request's payload was not valid.
    Malformed,
    /// A frame was larger than the server accepts.
    TooLarge,
    /// The signal name or number is not valid.
    InvalidSignal,
    /// The WAIT regex does not compile.
    InvalidRegex,
    /// The session has exited.
    Dead,
    /// The session cannot do this (e.g. it runs without a screen model).
    Unsupported,
    /// Too many requests in flight on this connection, or other SUBMITs
    /// to the session typed for the whole of this SUBMIT's timeout.
    Busy,
    /// The server tried and failed.
    Failed,
    /// A code this library does not know.
    Unknown(String),
}

impl ErrorCode {
    /// The code of its wire name.
    pub fn from_name(name: &str) -> ErrorCode {
        match name {
            "unknown_type" => ErrorCode::UnknownType,
            "malformed" => ErrorCode::Malformed,
            "too_large" => ErrorCode::TooLarge,
            "invalid_signal" => ErrorCode::InvalidSignal,
            "invalid_regex" => ErrorCode::InvalidRegex,
            "dead" => ErrorCode::Dead,
            "unsupported" => ErrorCode::Unsupported,
            "busy" => ErrorCode::Busy,
            "failed" => ErrorCode::Failed,
            other => ErrorCode::Unknown(other.to_string()),
        }
    }

    /// The code's wire name (`malformed`, `dead`, …).
    pub fn name(&self) -> &str {
        match self {
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::InvalidSignal => "invalid_signal",
            ErrorCode::InvalidRegex => "invalid_regex",
            ErrorCode::Dead => "dead",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Busy => "busy",
            ErrorCode::Failed => "failed",
            ErrorCode::Unknown(name) => name,
        }
    }
}

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be connected.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The socket, or the process serving it, belongs to another user:
    /// refused before talking to it.
    #[error("{} belongs to another user (uid {owner}); refusing to talk to it", path.display())]
    NotOwner {
        /// The socket path.
        path: PathBuf,
        /// The socket's owner.
        owner: u32,
    },
    /// The socket's directory is not private to the current user.
    #[error(transparent)]
    UnsafeDir(#[from] crate::private_dir::UnsafeDir),
    /// The server's first byte was not the binary mode byte.
    #[error("unexpected mode byte 0x{0:02x} (expected 0x00)")]
    BadMode(u8),
    /// Reading, writing or spawning failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server sent something that is not the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server answered the request with ERROR. Shown as the server's
    /// sentence followed by the code (`… (invalid_regex)`), except for
    /// [`ErrorCode::Dead`], whose sentence already says that the session
    /// has exited (and with what code).
    #[error("{}", server_text(code, message))]
    Server {
        /// The error code.
        code: ErrorCode,
        /// The server's sentence for people.
        message: String,
    },
    /// The session ended: before the answer came, or before the call. The
    /// connection gives this error only when it knows the exit code (from
    /// EXIT or the exit record); else [`ClientError::ConnectionClosed`].
    #[error("the session ended{}", match code { Some(c) => format!(" (exit code {c})"), None => String::new() })]
    SessionEnded {
        /// The exit code.
        code: Option<i32>,
    },
    /// The connection broke (the server closed it, the byte stream ended,
    /// or a write failed) and the session's exit is not known: it may
    /// still run, for example behind a proxy whose link went down, or
    /// after its supervisor cut off a connection that fell behind.
    #[error("the connection to the session closed")]
    ConnectionClosed,
    /// No answer within the call's deadline.
    #[error("no answer from the session within {0:?}")]
    Timeout(Duration),
    /// The session's supervisor is stopped (SIGSTOP, a debugger), so it
    /// answers nothing until it is continued. Known only for a connection
    /// given the session's files ([`crate::ClientBuilder::session_files`]);
    /// said when connecting, at once or when the handshake goes unanswered,
    /// and for a call that goes unanswered until its deadline.
    #[error("the session's supervisor (pid {pid}) is stopped, so it answers nothing until it is continued")]
    Stopped {
        /// The supervisor's pid.
        pid: i32,
    },
    /// The session's supervisor runs (it holds the pidfile) but its socket
    /// was deleted, so no client can reach it; ending the supervisor (`hm
    /// kill`, SIGTERM to `pid`) ends the session.
    #[error("the session's supervisor (pid {pid}) is running but its socket {} is gone, so no client can reach it; `hm kill` ends it", path.display())]
    SocketGone {
        /// Where the socket was.
        path: PathBuf,
        /// The supervisor's pid.
        pid: i32,
    },
    /// The server is heimdall 1.0, which cannot do this.
    #[error("{0} needs a newer supervisor (this one speaks heimdall 1.0's protocol)")]
    Unsupported(&'static str),
    /// A request too large for one frame (over the protocol's 1 MiB
    /// payload limit): nothing was sent.
    #[error("the request (frame type 0x{kind:02x}) is {len} bytes, more than the protocol's {max}-byte limit; nothing was sent", max = heimdall_protocol::MAX_PAYLOAD)]
    TooLarge {
        /// The frame type byte.
        kind: u8,
        /// The payload's length.
        len: usize,
    },
    /// A terminal size the protocol does not take (a zero, or over
    /// [`heimdall_protocol::message::MAX_COLS`] columns or
    /// [`heimdall_protocol::message::MAX_ROWS`] rows): nothing was sent.
    #[error(
        "a terminal of {cols}x{rows} is not one the protocol takes (1 to {max_cols} columns, 1 to {max_rows} rows); nothing was sent",
        max_cols = heimdall_protocol::message::MAX_COLS,
        max_rows = heimdall_protocol::message::MAX_ROWS
    )]
    InvalidSize {
        /// The columns asked for.
        cols: u16,
        /// The rows asked for.
        rows: u16,
    },
    /// This connection already has an output (or event) stream.
    #[error("this connection already has an {0} stream")]
    AlreadyStreaming(&'static str),
}

/// How [`ClientError::Server`] shows: the sentence, and the code when the
/// sentence does not already say it.
fn server_text(code: &ErrorCode, message: &str) -> String {
    match code {
        ErrorCode::Dead => message.to_string(),
        other => format!("{message} ({})", other.name()),
    }
}

impl From<ErrorBody> for ClientError {
    fn from(e: ErrorBody) -> ClientError {
        ClientError::Server {
            code: ErrorCode::from_name(&e.error),
            message: e.message,
        }
    }
}

impl From<heimdall_protocol::CodecError> for ClientError {
    fn from(e: heimdall_protocol::CodecError) -> ClientError {
        match e {
            heimdall_protocol::CodecError::Io(io) => ClientError::Io(io),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_shows_its_code_unless_the_sentence_says_it() {
        let dead = ClientError::from(ErrorBody::new(
            "dead",
            "the session has ended (exit code 3); the input was not typed",
            None,
        ));
        assert_eq!(
            dead.to_string(),
            "the session has ended (exit code 3); the input was not typed"
        );
        let regex = ClientError::Server {
            code: ErrorCode::InvalidRegex,
            message: "bad regex".into(),
        };
        assert_eq!(regex.to_string(), "bad regex (invalid_regex)");
    }
}
