//! `hm attach ID`: this terminal becomes the session's terminal.
//!
//! Raw mode for the duration, always restored (detach, session exit,
//! SIGTERM/SIGHUP, a closed socket, an error, a panic); keystrokes pass
//! through; the detach key (default Ctrl-\) detaches; the terminal size is
//! sent on attach and on every SIGWINCH (the latest attach or resize wins).

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{anyhow, Context};
use bytes::Bytes;
use clap::Args;
use heimdall_protocol::{ClientWriter, ServerMessage};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::io::unix::AsyncFd;
use tokio::signal::unix::{signal, SignalKind};

use super::common::{connect, find_live, socket_dir};
use super::Common;

/// Arguments of `hm attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Session id
    pub id: String,
    /// Watch only: never send input (the detach key still detaches)
    #[arg(long)]
    pub read_only: bool,
}

/// Restores the terminal's mode and stdin's flags when dropped.
struct TerminalGuard {
    saved: Termios,
    flags: nix::fcntl::OFlag,
}

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

impl TerminalGuard {
    fn enter() -> anyhow::Result<TerminalGuard> {
        let fd = stdin_fd();
        let saved = termios::tcgetattr(fd).context("hm attach needs a terminal on stdin")?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).context("stdin flags")?,
        );
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSAFLUSH, &raw).context("cannot set raw mode")?;
        let guard = TerminalGuard { saved, flags };
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(flags | nix::fcntl::OFlag::O_NONBLOCK),
        )
        .context("stdin non-blocking")?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let fd = stdin_fd();
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(self.flags));
        let _ = termios::tcsetattr(fd, SetArg::TCSAFLUSH, &self.saved);
    }
}

/// The terminal size of stdout (or stdin), if it is a terminal.
pub fn terminal_size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize to the pointer.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some((ws.ws_col, ws.ws_row));
        }
    }
    None
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// How an attachment ended.
enum End {
    Detached,
    Exited(i32),
    Signalled,
    Closed,
}

async fn send_input(w: &mut ClientWriter, read_only: bool, bytes: &[u8]) -> anyhow::Result<()> {
    if !read_only && !bytes.is_empty() {
        w.input(Bytes::copy_from_slice(bytes)).await?;
    }
    Ok(())
}

/// Attach to `id` until detach or exit; returns the process exit code.
pub fn attach(common: &Common, id: &str, read_only: bool) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    let dir = socket_dir(&cfg)?;
    let paths = find_live(&dir, id)?;
    let detach_key = cfg.detach_key;
    let rt = super::common::runtime()?;
    let end = rt.block_on(async {
        let mut client = connect(&paths).await?;
        client.hello("hm attach").await?;
        let guard = TerminalGuard::enter()?;
        let result = run_attached(client, detach_key, read_only).await;
        drop(guard);
        result
    })?;
    let mut err = std::io::stderr();
    Ok(match end {
        End::Detached => {
            let _ = writeln!(
                err,
                "[detached from session {id}; reattach with: hm attach {id}]"
            );
            0
        }
        End::Exited(code) => {
            let _ = writeln!(err, "[session {id} exited with code {code}]");
            code
        }
        End::Signalled => {
            let _ = writeln!(err, "[hm attach was signalled; session {id} keeps running]");
            1
        }
        End::Closed => {
            let _ = writeln!(err, "[session {id} closed the connection]");
            1
        }
    })
}

async fn run_attached(
    client: heimdall_protocol::Client,
    detach_key: u8,
    read_only: bool,
) -> anyhow::Result<End> {
    let (mut reader, mut writer) = client.into_split();
    if let Some((cols, rows)) = terminal_size() {
        if !read_only {
            writer.resize(cols, rows).await?;
        }
    }
    writer
        .send(&heimdall_protocol::ClientMessage::Subscribe)
        .await?;
    let stdin: OwnedFd = stdin_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stdin")?;
    // SAFETY: the duplicated fd stays open and unchanged while the AsyncFd owns it.
    let stdin = unsafe { AsyncFd::register(stdin) }.map_err(|e| anyhow!(e.into_parts().1))?;
    let mut winch = signal(SignalKind::window_change())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = true;
    loop {
        tokio::select! {
            msg = reader.recv() => match msg? {
                Some(ServerMessage::Output(bytes)) => write_stdout(&bytes)?,
                Some(ServerMessage::Exit { code }) => return Ok(End::Exited(code)),
                Some(_) => {}
                None => return Ok(End::Closed),
            },
            ready = stdin.readable(), if stdin_open => {
                let mut guard = ready?;
                let fd = stdin.as_fd().as_raw_fd();
                // SAFETY: reading into a valid buffer.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        guard.clear_ready();
                        continue;
                    }
                    return Err(e.into());
                }
                if n == 0 {
                    // stdin closed: nothing more to type; keep watching.
                    stdin_open = false;
                    continue;
                }
                let data = &buf[..n as usize];
                if let Some(at) = data.iter().position(|b| *b == detach_key) {
                    send_input(&mut writer, read_only, &data[..at]).await?;
                    return Ok(End::Detached);
                }
                send_input(&mut writer, read_only, data).await?;
            },
            _ = winch.recv() => {
                if let (Some((cols, rows)), false) = (terminal_size(), read_only) {
                    writer.resize(cols, rows).await?;
                }
            },
            _ = term.recv() => return Ok(End::Signalled),
            _ = hup.recv() => return Ok(End::Signalled),
        }
    }
}

/// `hm attach`.
pub fn run(common: &Common, args: AttachArgs) -> anyhow::Result<i32> {
    attach(common, &args.id, args.read_only)
}
