//! The client against a hostile or broken server on a Unix socket: one
//! that sends garbage, oversized frames, frames a byte at a time, never
//! answers, closes mid-frame or sends offsets no session has. Every call
//! ends with an answer or an error within its deadline; nothing panics.

use std::time::{Duration, Instant};

use heimdall_client::{Client, ClientBuilder, ClientError, OutputItem};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// The deadline of the clients here: short, each hostile case is a wait.
const DEADLINE: Duration = Duration::from_secs(3);

/// Status answer: alive, idle.
const STATUS: [u8; 15] = [0, 0, 0, 42, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];

const HELLO_RESP: &str = r#"{"protocol":2,"server":"hm","version":"9.9","features":[],
 "session":{"id":"f","pid":42,"pgid":42,"supervisor_pid":41,"command":["x"],"cwd":"/",
 "started_at":"2026-01-01T00:00:00Z","cols":80,"rows":24,"classifier":"simple"},
 "output_offset":0,"scrollback_offset":0}"#;

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Read one client frame: its type.
async fn read_frame(s: &mut UnixStream) -> Option<u8> {
    let mut h = [0u8; 5];
    s.read_exact(&mut h).await.ok()?;
    let mut p = vec![0u8; u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize];
    s.read_exact(&mut p).await.ok()?;
    Some(h[0])
}

/// The mode byte, then the answers to the handshake (HELLO, STATUS).
async fn handshake(s: &mut UnixStream) {
    s.write_all(&[0]).await.expect("mode byte");
    while let Some(kind) = read_frame(s).await {
        if kind == 0x03 {
            break;
        }
    }
    let mut answer = frame(0x84, HELLO_RESP.as_bytes());
    answer.extend(frame(0x82, &STATUS));
    s.write_all(&answer).await.expect("handshake");
}

/// A private socket directory and a server on it that runs `script` on
/// its one connection.
async fn serve<F, Fut>(script: F) -> (tempfile::TempDir, std::path::PathBuf)
where
    F: FnOnce(UnixStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let path = dir.path().join("hostile.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            script(s).await;
        }
    });
    (dir, path)
}

async fn connect(path: &std::path::Path) -> Result<Client, ClientError> {
    ClientBuilder::new().deadline(DEADLINE).connect(path).await
}

/// Offsets no session has (a `lagged` to the last offset there is, then
/// output) are taken as they come: the connection goes on. The library's
/// reader task panicked on the overflow, and every call after it waited
/// for its deadline, a stream for ever.
#[tokio::test]
async fn offsets_at_the_end_of_the_range_panic_nothing() {
    let (_dir, path) = serve(|mut s| async move {
        handshake(&mut s).await;
        while let Some(kind) = read_frame(&mut s).await {
            let answer = match kind {
                0x0A => {
                    let lagged = format!(
                        r#"{{"type":"lagged","missed_bytes":1,"offset":{}}}"#,
                        u64::MAX - 1
                    );
                    let mut a = frame(0x86, lagged.as_bytes());
                    a.extend(frame(0x81, b"past the end"));
                    a
                }
                0x03 => frame(0x82, &STATUS),
                _ => continue,
            };
            s.write_all(&answer).await.expect("answer");
        }
    })
    .await;
    let client = connect(&path).await.expect("connect");
    let mut output = client.output(0).await.expect("output");
    let mut items = Vec::new();
    while items.len() < 2 {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(item)) => items.push(item),
            other => panic!("the stream stopped after {items:?}: {other:?}"),
        }
    }
    assert!(
        matches!(items[1], OutputItem::Data { offset, .. } if offset == u64::MAX - 1),
        "{items:?}"
    );
    client.status().await.expect("the connection goes on");
}

/// A handshake and answers sent a byte at a time are read whole.
#[tokio::test]
async fn frames_a_byte_at_a_time_are_read_whole() {
    let (_dir, path) = serve(|mut s| async move {
        let mut bytes = vec![0u8];
        bytes.extend(frame(0x84, HELLO_RESP.as_bytes()));
        bytes.extend(frame(0x82, &STATUS));
        // The handshake's frames, then one STATUS answer.
        let mut reads = 0;
        for (i, b) in bytes.iter().enumerate() {
            if i == 1 {
                while reads < 2 {
                    read_frame(&mut s).await.expect("handshake frame");
                    reads += 1;
                }
            }
            s.write_all(&[*b]).await.expect("byte");
            s.flush().await.expect("flush");
            tokio::task::yield_now().await;
        }
        if read_frame(&mut s).await == Some(0x03) {
            for b in frame(0x82, &STATUS) {
                s.write_all(&[b]).await.expect("byte");
                tokio::task::yield_now().await;
            }
        }
        // Stay open until the client goes.
        let _ = read_frame(&mut s).await;
    })
    .await;
    let client = connect(&path).await.expect("connect");
    assert_eq!(client.hello().expect("hello").session.id, "f");
    assert!(client.status().await.expect("status").alive);
}

/// A server that accepts and says nothing, or sends the mode byte and
/// never answers the handshake: the connect fails at its deadline.
#[tokio::test]
async fn a_server_that_never_answers_fails_the_connect_at_its_deadline() {
    for mode_byte in [false, true] {
        let (_dir, path) = serve(move |mut s| async move {
            if mode_byte {
                s.write_all(&[0]).await.expect("mode byte");
            }
            // Read everything, answer nothing.
            let mut sink = [0u8; 4096];
            while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        let started = Instant::now();
        match tokio::time::timeout(DEADLINE * 3, connect(&path)).await {
            Ok(Err(ClientError::Timeout(_))) => {}
            other => panic!("mode byte {mode_byte}: {other:?}"),
        }
        assert!(started.elapsed() >= DEADLINE);
    }
}

/// A connection that sends frames too large to take (a length over the
/// library's 16 MiB), garbage for a mode byte, or closes in the middle
/// of a frame: the call in flight ends at once with an error, later calls
/// too, and `closed()` returns; no 4 GiB buffer is allocated on the say
/// of a length.
#[tokio::test]
async fn garbage_oversized_and_cut_frames_end_the_calls_at_once() {
    let cases: [(&str, Vec<u8>); 4] = [
        ("oversized", {
            let mut f = vec![0x82];
            f.extend_from_slice(&u32::MAX.to_be_bytes());
            f
        }),
        ("cut short", frame(0x82, &STATUS)[..9].to_vec()),
        ("cut header", vec![0x82, 0, 0]),
        (
            "garbage",
            b"\xff\xfe garbage, not frames \x00\x00\x00\x00".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let (_dir, path) = serve(move |mut s| async move {
            handshake(&mut s).await;
            if read_frame(&mut s).await == Some(0x03) {
                let _ = s.write_all(&bytes).await;
            }
            // Close (for the oversized frame and garbage: hold the
            // connection open; the client must end it by itself).
            if what == "oversized" || what == "garbage" {
                let _ = read_frame(&mut s).await;
            }
        })
        .await;
        let client = connect(&path).await.expect("connect");
        let started = Instant::now();
        let r = client.status().await;
        assert!(
            matches!(
                r,
                Err(ClientError::ConnectionClosed | ClientError::Protocol(_))
            ),
            "{what}: {r:?}"
        );
        assert!(
            started.elapsed() < DEADLINE,
            "{what}: {:?}",
            started.elapsed()
        );
        let later = client.status().await;
        assert!(
            matches!(later, Err(ClientError::ConnectionClosed)),
            "{what}: {later:?}"
        );
        assert_eq!(
            tokio::time::timeout(DEADLINE, client.closed()).await,
            Ok(None),
            "{what}"
        );
    }
}

/// A mode byte that is not binary framing is refused by name.
#[tokio::test]
async fn a_wrong_mode_byte_is_refused() {
    let (_dir, path) = serve(|mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        let _ = read_frame(&mut s).await;
    })
    .await;
    match connect(&path).await {
        Err(ClientError::BadMode(b'H')) => {}
        other => panic!("{other:?}"),
    }
}

/// A proxy command that never speaks, speaks garbage or exits at once:
/// `over_command` fails (deadline, wrong mode byte, closed) and the
/// command does not outlive the failure, nor stays a zombie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_command_that_fails_the_handshake_is_ended() {
    for (what, script) in [
        ("silent", "exec sleep 100"),
        ("garbage", "echo garbage; exec sleep 100"),
        ("exits", "exit 0"),
    ] {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.args(["-c", script]);
        let err = ClientBuilder::new()
            .deadline(Duration::from_secs(1))
            .over_command(cmd)
            .await
            .expect_err(what);
        assert!(
            matches!(
                err,
                ClientError::Timeout(_) | ClientError::BadMode(_) | ClientError::ConnectionClosed
            ),
            "{what}: {err:?}"
        );
    }
    // No child of ours is left, running or unreaped.
    let started = Instant::now();
    loop {
        let mut all = String::new();
        for task in std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .flatten()
        {
            all += &std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        }
        if all.trim().is_empty() {
            break;
        }
        assert!(started.elapsed() < DEADLINE * 5, "children left: {all}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Large events (a title of a megabyte, which a program can set) sent to
/// an event stream nobody reads are held up to a bound in bytes, not only
/// in events: 1,024 events of up to 16 MiB each were kept, gigabytes.
#[tokio::test]
async fn large_events_nobody_reads_are_bounded_in_bytes() {
    const EVENTS: usize = 100;
    const TITLE: usize = 1 << 20;
    let (_dir, path) = serve(|mut s| async move {
        handshake(&mut s).await;
        while let Some(kind) = read_frame(&mut s).await {
            match kind {
                0x09 => {
                    let body = "t".repeat(TITLE);
                    for n in 0..EVENTS {
                        let e = format!(r#"{{"type":"title","title":"{n}{body}"}}"#);
                        s.write_all(&frame(0x86, e.as_bytes()))
                            .await
                            .expect("event");
                    }
                }
                0x03 => s.write_all(&frame(0x82, &STATUS)).await.expect("status"),
                _ => {}
            }
        }
    })
    .await;
    let client = connect(&path).await.expect("connect");
    let before = rss_kib();
    let mut events = client.events().await.expect("events");
    // Answered after every event was read.
    let slow = client.with_deadline(DEADLINE * 20);
    slow.status().await.expect("status");
    let grown = rss_kib().saturating_sub(before);
    assert!(
        grown < 40 << 10,
        "{grown} KiB held for {EVENTS} events of {TITLE} bytes nobody read"
    );
    // The consumer is told what it missed.
    let mut seen = 0;
    let mut missed = 0;
    while seen + missed < EVENTS as u64 {
        match events.next().await.expect("the stream goes on") {
            heimdall_client::EventItem::Event(_) => seen += 1,
            heimdall_client::EventItem::Missed { count } => missed += count,
        }
    }
    assert!(missed > 0 && seen > 0, "seen {seen}, missed {missed}");
}
