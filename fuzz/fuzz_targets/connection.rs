//! A supervisor connection fed arbitrary bytes, in process: the bytes are
//! written to one end of a socketpair whose other end is served by
//! `heimdall_supervisor::connection::serve`, exactly as the supervisor
//! serves an accepted client. Nothing a client sends may panic anything,
//! and the connection must end once its client hangs up.
//!
//! The session is real but has no program: its pty's other side is drained
//! by a thread (so INPUT and SUBMIT never block), its output ring holds a
//! fixed screenful (so SUBSCRIBE, SUBSCRIBE_FROM and SCREEN have something
//! to serve), and the process that SIGNAL and KILL reach is a `sleep` in its
//! own process group that dies with the fuzzer. The runtime's clock is
//! paused, so WAIT/SUBMIT timeouts and the hang-up checks pass instantly
//! once everything is idle.
#![no_main]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use heimdall_supervisor::config::Config;
use heimdall_supervisor::connection::serve;
use heimdall_supervisor::session::Session;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;

/// How long (virtual time) the client reads after the server went quiet.
const QUIET: Duration = Duration::from_secs(5);
/// How long (virtual time) the connection may take to end after the hang-up.
const END_BOUND: Duration = Duration::from_secs(60);
/// The most the client reads per input (bounds a runaway stream).
const READ_CAP: usize = 16 << 20;

/// What the screen and the scrollback hold: text, colours, a title, cursor moves.
const SCREEN: &[u8] = b"\x1b]0;fuzz\x07\x1b[1;31mred\x1b[0m plain\r\n$ echo hello\r\nhello\r\n\x1b[2;5Hmoved\x1b[?1h\x1b[?2004h\r\n> ";

struct Harness {
    rt: Runtime,
    session: Arc<Session>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        // libFuzzer's C main does not ignore SIGPIPE as a Rust main (and so
        // `hm`) does: a write to a client that hung up must be an EPIPE
        // error, not the end of the process.
        // SAFETY: setting a signal disposition, before any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let mut tio = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
        nix::sys::termios::cfmakeraw(&mut tio);
        nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &tio)
            .expect("tcsetattr");
        let mut slave = std::fs::File::from(pty.slave);
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while slave.read(&mut buf).is_ok_and(|n| n > 0) {}
        });
        let mut target = std::process::Command::new("sleep");
        target.arg("1000000").process_group(0);
        // SAFETY: prctl only, between fork and exec.
        unsafe {
            target.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = target.spawn().expect("spawn sleep");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        // Never reaped: once signalled dead it stays a zombie, so the
        // session sees the same process group in every run.
        std::mem::forget(child);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let config = Config {
            kill_grace_ms: 100,
            ..Config::default()
        };
        let session = rt.block_on(async {
            let s = Session::new(
                "fuzz".into(),
                vec!["sleep".into(), "1000000".into()],
                "/".into(),
                pid,
                None,
                pty.master,
                config,
            )
            .expect("session");
            tokio::spawn(s.input_writer());
            s
        });
        session.output.append(Bytes::from_static(SCREEN));
        session.output.wake();
        Harness { rt, session }
    })
}

fuzz_target!(|data: &[u8]| {
    let h = harness();
    h.rt.block_on(async {
        let (server_end, client_end) = UnixStream::pair().expect("socketpair");
        let served = tokio::spawn(serve(h.session.clone(), server_end));
        let (mut rd, mut wr) = client_end.into_split();
        let write = async {
            let _ = wr.write_all(data).await;
            let _ = wr.shutdown().await;
        };
        let read = async {
            let mut buf = vec![0u8; 65536];
            let mut total = 0;
            while total < READ_CAP {
                match tokio::time::timeout(QUIET, rd.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => total += n,
                    _ => break,
                }
            }
        };
        tokio::join!(write, read);
        drop((rd, wr));
        tokio::time::timeout(END_BOUND, served)
            .await
            .expect("the connection ends once its client hung up")
            .expect("the connection task");
    });
});
