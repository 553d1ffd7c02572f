//! `hm proxy ID`: relay this process's stdin and stdout to the session's
//! socket, byte for byte (the server's mode byte included), so that
//! `ssh host hm proxy ID` gives any client a session on another machine
//! through OpenSSH's authentication. Exits 0 when the session closes the
//! connection or nothing reads its stdout any more; a client that only ends its input
//! still gets its answers, as on the socket.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use anyhow::Context;
use clap::Args;

use super::common::live_session;
use super::stdout_gone::on_stdout_gone;
use super::unreachable::{connect_error, refuse_stopped};
use super::Common;

/// Arguments of `hm proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Session id
    pub id: String,
}

/// Bytes relayed per read.
const CHUNK: usize = 64 * 1024;

/// `hm proxy`.
pub fn run(common: &Common, args: ProxyArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    refuse_stopped(&paths)?;
    let sock = UnixStream::connect(&paths.sock)
        .map_err(|source| heimdall_client::ClientError::Connect {
            path: paths.sock.clone(),
            source,
        })
        .with_context(|| format!("cannot reach session {:?}", paths.id))
        .map_err(|e| connect_error(&paths, e))?;
    let to_session = sock.try_clone().context("cannot share the socket")?;
    // stdin → session. When stdin ends, the client has sent all it will:
    // say so as a client on the socket would (its sending side shut), so
    // the answers to what it sent still come (then the session closes the
    // connection, unless it streams output or events).
    std::thread::spawn(move || {
        let _ = relay(&mut std::io::stdin().lock(), &to_session);
        let _ = to_session.shutdown(Shutdown::Write);
    });
    // Once nobody reads stdout (the client is gone, whether or not its
    // input ended), shut the socket both ways: that ends the relay below,
    // and the process, also when the session has nothing to write.
    let from_session = sock.try_clone().context("cannot share the socket")?;
    on_stdout_gone(move || {
        let _ = from_session.shutdown(Shutdown::Both);
    });
    // session → stdout, until the session closes the connection (it ended)
    // or stdout is closed. Neither is an error worth a message.
    match relay(&mut &sock, &mut std::io::stdout().lock()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context(format!("relaying session {:?}", paths.id)))
        }
        _ => Ok(0),
    }
}

/// Copy `from` to `to` until `from` ends, flushing after every read so that
/// no answer waits in a buffer. A reset connection counts as its end.
fn relay(from: &mut impl Read, mut to: impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
