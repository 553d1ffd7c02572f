//! The client against servers written here from the wire format: a newer
//! server (unknown state byte, unknown events) and a heimdall 1.0 server.
//! Also discovery of hand-made session files.

use std::os::fd::AsRawFd;
use std::time::Duration;

use heimdall_client::{
    ClientBuilder, ClientError, Event, EventItem, Liveness, OutputItem, PidInfo, ScreenRequest,
    SessionState, SocketDir, State,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const DEADLINE: Duration = Duration::from_secs(30);

async fn frame(s: &mut UnixStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 5];
    s.read_exact(&mut h).await.ok()?;
    let mut p = vec![0u8; u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize];
    s.read_exact(&mut p).await.ok()?;
    Some((h[0], p))
}

async fn send(s: &mut UnixStream, kind: u8, payload: &[u8]) {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    s.write_all(&f).await.expect("write");
}

fn status(state: u8) -> [u8; 15] {
    let mut p = [0u8; 15];
    p[3] = 42; // pid
    p[8] = 1; // alive
    p[9] = state;
    p
}

/// Serve one connection with `answer` (frame type, payload → reply frames).
async fn serve(
    dir: &tempfile::TempDir,
    answer: impl Fn(u8, &[u8]) -> Vec<(u8, Vec<u8>)> + Send + 'static,
) -> std::path::PathBuf {
    let path = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        s.write_all(&[0]).await.expect("mode byte");
        while let Some((kind, p)) = frame(&mut s).await {
            for (k, reply) in answer(kind, &p) {
                if k == 0 {
                    return; // close
                }
                send(&mut s, k, &reply).await;
            }
        }
    });
    path
}

/// A client of the fake server at `path`.
async fn connect(path: &std::path::Path) -> heimdall_client::Client {
    ClientBuilder::new()
        .deadline(DEADLINE)
        .connect(path)
        .await
        .expect("connect")
}

/// A socket directory as hm makes them: private (mode 0700), else the
/// library refuses it.
fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    dir
}

const HELLO_RESP: &str = r#"{"protocol":2,"server":"hm","version":"9.9","features":[],
 "session":{"id":"f","pid":42,"pgid":42,"supervisor_pid":41,"command":["x"],"cwd":"/",
 "started_at":"2026-01-01T00:00:00Z","cols":80,"rows":24,"classifier":"future"},
 "output_offset":0,"scrollback_offset":0}"#;

#[tokio::test]
async fn a_newer_servers_state_and_events_are_unknown_not_errors() {
    let dir = private_tempdir();
    let path = serve(&dir, |kind, _| match kind {
        0x06 => vec![(0x84, HELLO_RESP.as_bytes().to_vec())],
        0x03 => vec![(0x82, status(0x42).to_vec())],
        0x09 => vec![
            (0x86, br#"{"type":"from_the_future","x":1}"#.to_vec()),
            (
                0x86,
                br#"{"type":"state","old":"idle","new":"pondering","classifier":"future"}"#
                    .to_vec(),
            ),
            (0x86, br#"{"type":"title","title":"t"}"#.to_vec()),
        ],
        _ => vec![],
    })
    .await;
    let client = connect(&path).await;
    assert!(!client.is_legacy());
    let st = client.status().await.expect("status");
    assert_eq!(st.state, SessionState::Unknown("0x42".into()));
    assert!(st.alive);
    let mut events = client.events().await.expect("events");
    match events.next().await {
        Some(EventItem::Event(Event::Unknown(payload))) => {
            assert_eq!(payload["type"], "from_the_future");
            assert_eq!(payload["x"], 1);
        }
        other => panic!("{other:?}"),
    }
    match events.next().await {
        Some(EventItem::Event(Event::State { old, new, .. })) => {
            assert_eq!(old, SessionState::Known(State::Idle));
            assert_eq!(new, SessionState::Unknown("pondering".into()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events.next().await,
        Some(EventItem::Event(Event::Title { title: "t".into() }))
    );
}

#[tokio::test]
async fn a_one_zero_server_is_recognised_at_once_and_serves_what_it_can() {
    let dir = private_tempdir();
    // heimdall 1.0: no HELLO (ignored), STATUS, SUBSCRIBE, KILL.
    let path = serve(&dir, |kind, _| match kind {
        0x03 => vec![(0x82, status(0x00).to_vec())],
        0x02 => vec![(0x81, b"replayed".to_vec())],
        0x05 => vec![(0x83, 3i32.to_be_bytes().to_vec()), (0, vec![])],
        _ => vec![],
    })
    .await;
    let started = std::time::Instant::now();
    // A short deadline: recognising 1.0 takes one round trip, not a timeout.
    let client = ClientBuilder::new()
        .deadline(Duration::from_secs(20))
        .connect(&path)
        .await
        .expect("connect");
    assert!(client.is_legacy());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        client.status().await.expect("status").state,
        SessionState::Known(State::Idle)
    );
    match client.screen(ScreenRequest::default()).await {
        Err(e @ ClientError::Unsupported(_)) => {
            assert!(e.to_string().contains("needs a newer supervisor"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        client.events().await,
        Err(ClientError::Unsupported(_))
    ));
    let mut out = client.output(0).await.expect("subscribe");
    assert_eq!(
        out.next().await,
        Some(OutputItem::Data {
            offset: 0,
            bytes: bytes_of("replayed")
        })
    );
    client.kill().await.expect("kill");
    assert_eq!(out.next().await, Some(OutputItem::Exit { code: 3 }));
    assert_eq!(client.closed().await, Some(3));
}

fn bytes_of(s: &'static str) -> bytes::Bytes {
    bytes::Bytes::from_static(s.as_bytes())
}

#[test]
fn discovery_of_live_stale_and_one_zero_pidfiles() {
    let dir = private_tempdir();
    let sd = SocketDir::new(dir.path());
    // A live session with heimdall 1.0's pidfile: two lines, held locked.
    let pid = dir.path().join("old.pid");
    std::fs::write(&pid, "123\n456\n").expect("write");
    let held = std::fs::File::open(&pid).expect("open");
    // SAFETY: flock on an fd we own.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    // A stale one: files left by a supervisor that is gone.
    std::fs::write(dir.path().join("gone.pid"), "999 1000\n").expect("write");
    std::fs::write(dir.path().join("gone.sock"), "").expect("write");
    let list = sd.list().expect("list");
    let ids: Vec<_> = list.iter().map(|e| e.files.id.as_str()).collect();
    assert_eq!(ids, ["gone", "old"]);
    assert_eq!(list[0].liveness, Liveness::Stale);
    assert_eq!(
        list[1].liveness,
        Liveness::Live(Some(PidInfo {
            supervisor: 123,
            child: 456
        }))
    );
    assert_eq!(sd.running().expect("running"), ["old"]);
    assert_eq!(list[0].files.remove_stale().len(), 2);
    assert!(sd.list().expect("list").iter().all(|e| e.files.id == "old"));
}

/// A socket that belongs to another user is refused before anything is
/// said to it (it could be anyone's server): a typed `NotOwner` error.
#[tokio::test]
async fn a_socket_of_another_user_is_refused_before_connecting() {
    let dir = private_tempdir();
    let path = dir.path().join("theirs.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let (target, owner) = if me == 0 {
        // As root: give the socket to "nobody".
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
        (path.clone(), 65534)
    } else {
        // Otherwise a path root owns stands for another user's socket.
        (std::path::PathBuf::from("/"), 0)
    };
    match ClientBuilder::new()
        .deadline(DEADLINE)
        .connect(&target)
        .await
    {
        Err(ClientError::NotOwner { path, owner: o }) => {
            assert_eq!(path, target);
            assert_eq!(o, owner);
        }
        other => panic!("{other:?}"),
    }
    // Refused before connecting: nothing is waiting to be accepted.
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock)
    );
}

/// Counts the opens of one file of a directory (inotify `IN_OPEN`; closes
/// are watched too, or the kernel merges an open with the one before it).
struct OpenCounter {
    fd: std::os::fd::OwnedFd,
    name: std::ffi::OsString,
}

impl OpenCounter {
    fn watch(dir: &std::path::Path, name: &str) -> OpenCounter {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: inotify_init1 makes a new fd, owned from here on.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(raw >= 0, "inotify_init1");
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("path");
        // SAFETY: a valid inotify fd and a NUL-terminated path.
        let wd =
            unsafe { libc::inotify_add_watch(raw, path.as_ptr(), libc::IN_OPEN | libc::IN_CLOSE) };
        assert!(wd >= 0, "inotify_add_watch");
        OpenCounter {
            fd,
            name: name.into(),
        }
    }

    /// The opens of the file since the last count.
    fn count(&self) -> usize {
        use std::os::unix::ffi::OsStrExt;
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut opens = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: reading into a buffer we own, of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return opens;
            }
            let mut at = 0;
            while at + header <= n as usize {
                let field = |i: usize| {
                    u32::from_ne_bytes(buf[at + i..at + i + 4].try_into().expect("field"))
                };
                let (mask, len) = (field(4), field(12) as usize);
                let name = &buf[at + header..at + header + len];
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(len)];
                if mask & libc::IN_OPEN != 0 && name == self.name.as_bytes() {
                    opens += 1;
                }
                at += header + len;
            }
        }
    }
}

/// `type_steps` reads a session's exit record once to tell whether a step
/// came after the program's exit, also when the connection closed before
/// the record was written (the record is large: it holds the final
/// screens; it used to be read once to learn that the session ended and
/// again for when).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_steps_reads_the_exit_record_once() {
    let dir = private_tempdir();
    // heimdall 1.0: STATUS only; the connection closes at the third (the
    // handshake's, the first step's, the second step's).
    let statuses = std::sync::atomic::AtomicUsize::new(0);
    let path = serve(&dir, move |kind, _| match kind {
        0x03 if statuses.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 2 => {
            vec![(0, vec![])]
        }
        0x03 => vec![(0x82, status(0x00).to_vec())],
        _ => vec![],
    })
    .await;
    let files = heimdall_client::SessionFiles::beside("fake", path.clone());
    // Its supervisor holds the session while the record is on its way.
    std::fs::write(&files.pid, "41\n42\n").expect("pidfile");
    let held = std::fs::File::open(&files.pid).expect("open");
    // SAFETY: flock on an fd we own.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let client = ClientBuilder::new()
        .deadline(DEADLINE)
        .session_files(files.clone())
        .connect(&path)
        .await
        .expect("connect");
    let opens = OpenCounter::watch(dir.path(), "fake.exit");
    let c = client.clone();
    let typing = tokio::spawn(async move {
        c.type_steps([&b"a"[..], &b"b"[..]], Duration::from_millis(1))
            .await
    });
    assert_eq!(
        tokio::time::timeout(DEADLINE, client.closed()).await,
        Ok(None)
    );
    // The record comes after the connection closed: the program had exited
    // long before the second step.
    let record = r#"{"id":"fake","command":["x"],"cwd":"/","pid":42,"code":3,"signal":null,
      "started_at":"2026-01-01T00:00:00.000Z","ended_at":"2026-01-01T00:00:01.000000Z",
      "output_tail":""}"#;
    let tmp = dir.path().join("record.tmp");
    std::fs::write(&tmp, record).expect("record");
    std::fs::rename(&tmp, &files.exit).expect("rename");
    let typed = tokio::time::timeout(DEADLINE, typing)
        .await
        .expect("type_steps ends")
        .expect("task");
    assert!(matches!(typed, Ok(1)), "{typed:?}");
    assert_eq!(opens.count(), 1, "opens of the exit record");
}

/// An answer the library cannot read fails its own call at once with a
/// protocol error, and the connection serves the next call: a SCREEN_RESP
/// that is not a screen used to leave its call waiting for the deadline
/// (then `Timeout`), a short STATUS_RESP to fail it as `ConnectionClosed`.
#[tokio::test]
async fn an_unreadable_answer_is_a_protocol_error_of_its_call() {
    let dir = private_tempdir();
    let statuses = std::sync::atomic::AtomicUsize::new(0);
    let path = serve(&dir, move |kind, payload| match kind {
        0x06 => vec![(0x84, HELLO_RESP.as_bytes().to_vec())],
        // The handshake's STATUS is answered, the next is cut short.
        0x03 if statuses.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 => {
            vec![(0x82, vec![0, 0, 0])]
        }
        0x03 => vec![(0x82, status(0x00).to_vec())],
        0x07 => {
            let req: serde_json::Value = serde_json::from_slice(payload).expect("screen json");
            let answer = serde_json::json!({"id": req["id"], "lines": "not lines"});
            vec![(0x85, answer.to_string().into_bytes())]
        }
        _ => vec![],
    })
    .await;
    let client = connect(&path).await;
    let started = std::time::Instant::now();
    match client.screen(ScreenRequest::default()).await {
        Err(ClientError::Protocol(why)) => assert!(why.contains("SCREEN_RESP"), "{why}"),
        other => panic!("{other:?}"),
    }
    match client.status().await {
        Err(ClientError::Protocol(why)) => assert!(why.contains("STATUS_RESP"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < DEADLINE / 2, "{:?}", started.elapsed());
    assert!(client.status().await.expect("the next status").alive);
}

/// A deadline of `Duration::MAX` (never give up) works for every call:
/// SUBMIT and WAIT add the server's own timeout to it, which overflowed and
/// panicked in the caller's task.
#[tokio::test]
async fn the_longest_deadline_there_is_panics_nothing() {
    let dir = private_tempdir();
    let path = serve(&dir, |kind, payload| {
        let id = serde_json::from_slice::<serde_json::Value>(payload)
            .map(|v| v["id"].clone())
            .unwrap_or_default();
        match kind {
            0x06 => vec![(0x84, HELLO_RESP.as_bytes().to_vec())],
            0x03 => vec![(0x82, status(0x00).to_vec())],
            0x0B => {
                let r = serde_json::json!({"ok": true, "accepted": true, "read": true, "id": id});
                vec![(0x87, r.to_string().into_bytes())]
            }
            0x0C => {
                let r = serde_json::json!({"ok": true, "until": "exit", "code": 0, "waited_ms": 1, "id": id});
                vec![(0x87, r.to_string().into_bytes())]
            }
            _ => vec![],
        }
    })
    .await;
    let client = connect(&path).await.with_deadline(Duration::MAX);
    let submitted = client.submit("x", Some(1000)).await.expect("submit");
    assert!(submitted.accepted);
    client
        .submit("x", None)
        .await
        .expect("submit, the server's timeout");
    let waited = client
        .wait(heimdall_client::WaitCondition::Exit, Some(1000))
        .await
        .expect("wait");
    assert!(
        matches!(waited, heimdall_client::WaitResult::Exited { code: 0, .. }),
        "{waited:?}"
    );
}
