//! An async client for one session's socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), heimdall_protocol::ClientError> {
//! use heimdall_protocol::{Client, ServerMessage};
//! let mut client = Client::connect("/run/user/1000/heimdall/build.sock").await?;
//! let hello = client.hello("my-tool").await?;
//! println!("{} has written {} bytes", hello.session.id, hello.output_offset);
//! client.subscribe().await?;
//! while let Some(msg) = client.recv().await? {
//!     match msg {
//!         ServerMessage::Output(bytes) => print!("{}", String::from_utf8_lossy(&bytes)),
//!         ServerMessage::Exit { code } => { println!("exited {code}"); break; }
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Request methods ([`Client::status`], [`Client::hello`], …) wait for their
//! answer; frames that arrive meanwhile (output, events) are kept in order
//! and returned by later [`Client::recv`] calls.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::codec::{CodecError, FrameCodec};
use crate::frame::{client, MODE_BINARY, PROTOCOL_VERSION};
use crate::message::{
    ClientMessage, DecodeError, ErrorBody, ExplainRequest, Hello, HelloResp, ReportRequest,
    ScreenRequest, ScreenResp, ServerMessage, SignalRequest, SignalSpec, SignalTarget, StatusResp,
    SubmitRequest, WaitCondition, WaitRequest,
};

/// Largest server frame the client accepts (screen answers with long
/// scrollback can exceed the 1 MiB client-frame limit).
pub const MAX_SERVER_PAYLOAD: usize = 16 << 20;

/// Errors of the client.
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
        /// The server's uid.
        owner: u32,
    },
    /// The server's first byte was not the binary mode byte.
    #[error("unexpected mode byte 0x{0:02x} (expected 0x00)")]
    BadMode(u8),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A frame could not be framed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A frame could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The server answered a request with ERROR.
    #[error("server error: {0}")]
    Server(ErrorBody),
    /// The connection closed before the answer arrived.
    #[error("connection closed by the session")]
    Closed,
}

/// The receiving half of a connection.
pub struct ClientReader {
    framed: FramedRead<OwnedReadHalf, FrameCodec>,
    pending: VecDeque<ServerMessage>,
}

/// The sending half of a connection.
pub struct ClientWriter {
    framed: FramedWrite<OwnedWriteHalf, FrameCodec>,
}

/// A connection to one session.
pub struct Client {
    reader: ClientReader,
    writer: ClientWriter,
}

impl ClientReader {
    /// The next message, or `None` when the server closed the connection.
    /// Frames of types this client does not know are skipped.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        if let Some(m) = self.pending.pop_front() {
            return Ok(Some(m));
        }
        loop {
            let Some(frame) = self.framed.next().await.transpose()? else {
                return Ok(None);
            };
            match ServerMessage::from_frame(&frame) {
                Ok(m) => return Ok(Some(m)),
                Err(DecodeError::UnknownType(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Wait for the answer to a request of type `request`: the first message
    /// `pick` accepts, or an ERROR about `request`. Other messages are kept
    /// for [`ClientReader::recv`].
    async fn answer<T>(
        &mut self,
        request: u8,
        mut pick: impl FnMut(ServerMessage) -> Result<T, ServerMessage>,
    ) -> Result<T, ClientError> {
        let mut skipped = VecDeque::new();
        let result = loop {
            let Some(frame) = self.framed.next().await.transpose()? else {
                break Err(ClientError::Closed);
            };
            let msg = match ServerMessage::from_frame(&frame) {
                Ok(m) => m,
                Err(DecodeError::UnknownType(_)) => continue,
                Err(e) => break Err(e.into()),
            };
            if let ServerMessage::Error(e) = &msg {
                if e.request == Some(request) {
                    break Err(ClientError::Server(e.clone()));
                }
            }
            match pick(msg) {
                Ok(v) => break Ok(v),
                Err(other) => skipped.push_back(other),
            }
        };
        self.pending.extend(skipped);
        result
    }
}

impl ClientWriter {
    /// Send one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        self.framed.send(msg.to_frame()).await?;
        Ok(())
    }

    /// Send raw bytes to the child's terminal.
    pub async fn input(&mut self, bytes: impl Into<Bytes>) -> Result<(), ClientError> {
        self.send(&ClientMessage::Input(bytes.into())).await
    }

    /// Resize the session's terminal.
    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<(), ClientError> {
        self.send(&ClientMessage::Resize { cols, rows }).await
    }
}

impl Client {
    /// Connect to a session's socket and read the mode byte. The socket
    /// file and the process serving it must be the current user's (owner,
    /// then peer credentials), else [`ClientError::NotOwner`] and nothing
    /// is sent.
    pub async fn connect(path: impl AsRef<Path>) -> Result<Client, ClientError> {
        use std::os::unix::fs::MetadataExt;
        let path = path.as_ref();
        // SAFETY: geteuid cannot fail.
        let me = unsafe { libc::geteuid() };
        let not_owner = |owner| ClientError::NotOwner {
            path: path.to_path_buf(),
            owner,
        };
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.uid() != me {
                return Err(not_owner(meta.uid()));
            }
        }
        let mut stream =
            UnixStream::connect(path)
                .await
                .map_err(|source| ClientError::Connect {
                    path: path.to_path_buf(),
                    source,
                })?;
        let server = stream.peer_cred()?.uid();
        if server != me {
            return Err(not_owner(server));
        }
        let mode = match stream.read_u8().await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(ClientError::Closed)
            }
            Err(e) => return Err(e.into()),
        };
        if mode != MODE_BINARY {
            return Err(ClientError::BadMode(mode));
        }
        let (r, w) = stream.into_split();
        Ok(Client {
            reader: ClientReader {
                framed: FramedRead::new(r, FrameCodec::with_max_payload(MAX_SERVER_PAYLOAD)),
                pending: VecDeque::new(),
            },
            writer: ClientWriter {
                framed: FramedWrite::new(w, FrameCodec::new()),
            },
        })
    }

    /// Split into halves that can be used from two tasks.
    pub fn into_split(self) -> (ClientReader, ClientWriter) {
        (self.reader, self.writer)
    }

    /// Send one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        self.writer.send(msg).await
    }

    /// The next message, or `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        self.reader.recv().await
    }

    /// Say HELLO (opting into the extensions) and return the session info.
    pub async fn hello(&mut self, client_name: &str) -> Result<HelloResp, ClientError> {
        self.send(&ClientMessage::Hello(Hello {
            client: Some(client_name.to_string()),
            protocol: Some(PROTOCOL_VERSION),
        }))
        .await?;
        self.reader
            .answer(client::HELLO, |m| match m {
                ServerMessage::Hello(h) => Ok(*h),
                other => Err(other),
            })
            .await
    }

    /// Ask for the session's status.
    pub async fn status(&mut self) -> Result<StatusResp, ClientError> {
        self.send(&ClientMessage::Status).await?;
        self.reader
            .answer(client::STATUS, |m| match m {
                ServerMessage::Status(s) => Ok(s),
                other => Err(other),
            })
            .await
    }

    /// Replay the scrollback, then stream live output (read with [`Client::recv`]).
    pub async fn subscribe(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Subscribe).await
    }

    /// Replay output from `offset`, then stream live output.
    pub async fn subscribe_from(&mut self, offset: u64) -> Result<(), ClientError> {
        self.send(&ClientMessage::SubscribeFrom { offset }).await
    }

    /// Receive EVENT frames from now on.
    pub async fn events(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Events).await
    }

    /// Send raw bytes to the child's terminal.
    pub async fn input(&mut self, bytes: impl Into<Bytes>) -> Result<(), ClientError> {
        self.writer.input(bytes).await
    }

    /// Resize the session's terminal.
    pub async fn resize(&mut self, cols: u16, rows: u16) -> Result<(), ClientError> {
        self.writer.resize(cols, rows).await
    }

    /// Kill the session (SIGTERM to the group, SIGKILL after the grace period).
    pub async fn kill(&mut self) -> Result<(), ClientError> {
        self.send(&ClientMessage::Kill).await
    }

    /// Read the rendered screen.
    pub async fn screen(&mut self, req: ScreenRequest) -> Result<ScreenResp, ClientError> {
        self.send(&ClientMessage::Screen(req)).await?;
        self.reader
            .answer(client::SCREEN, |m| match m {
                ServerMessage::Screen(s) => Ok(*s),
                other => Err(other),
            })
            .await
    }

    /// Send a signal to the terminal's foreground process group or the
    /// child's process group.
    pub async fn signal(
        &mut self,
        signal: SignalSpec,
        target: SignalTarget,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(&ClientMessage::Signal(SignalRequest {
            id: None,
            signal,
            target,
        }))
        .await?;
        self.result(client::SIGNAL).await
    }

    /// Type `text` as a line and confirm the program took it.
    pub async fn submit(
        &mut self,
        text: &str,
        timeout_ms: Option<u64>,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(&ClientMessage::Submit(SubmitRequest {
            id: None,
            text: text.to_string(),
            timeout_ms,
        }))
        .await?;
        self.result(client::SUBMIT).await
    }

    /// Wait on the server side for `condition`.
    pub async fn wait(
        &mut self,
        condition: WaitCondition,
        timeout_ms: Option<u64>,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(&ClientMessage::Wait(WaitRequest {
            id: None,
            condition,
            timeout_ms,
        }))
        .await?;
        self.result(client::WAIT).await
    }

    /// The session's state, where it comes from and the lines looked at.
    pub async fn explain(&mut self) -> Result<serde_json::Value, ClientError> {
        self.send(&ClientMessage::Explain(ExplainRequest::default()))
            .await?;
        self.result(client::EXPLAIN).await
    }

    /// Report the program's own state (from inside the session).
    pub async fn report(
        &mut self,
        report: ReportRequest,
    ) -> Result<serde_json::Value, ClientError> {
        self.send(&ClientMessage::Report(report)).await?;
        self.result(client::REPORT).await
    }

    async fn result(&mut self, request: u8) -> Result<serde_json::Value, ClientError> {
        self.reader
            .answer(request, |m| match m {
                ServerMessage::Result(v) => Ok(v),
                other => Err(other),
            })
            .await
    }
}
