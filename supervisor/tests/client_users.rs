//! The client library used as programs use it (hm-agent, hm-discord):
//! streams opened at any offset, connections dropped and reopened, hostile
//! sessions — against the real `hm`.

mod common;

use common::{Env, DEADLINE};
use heimdall_client::{Client, ClientBuilder, OutputItem};

/// Start `command` as session `id` through the library and connect.
async fn start(env: &Env, id: &str, command: &[&str]) -> Client {
    env.launch(id, command)
        .await
        .connect(ClientBuilder::new().name("user").deadline(DEADLINE))
        .await
        .expect("connect")
}

/// The first data of `output`: its offset and bytes.
async fn first_data(output: &mut heimdall_client::OutputStream) -> (u64, Vec<u8>) {
    loop {
        match tokio::time::timeout(DEADLINE, output.next()).await {
            Ok(Some(OutputItem::Data { offset, bytes })) => return (offset, bytes.to_vec()),
            Ok(Some(OutputItem::Gap { .. })) => {}
            other => panic!("no output: {other:?}"),
        }
    }
}

/// A stream asked for from an offset the session has not reached (an
/// offset remembered from an earlier session of the same id, a typo, the
/// largest offset there is) starts at the session's end, as the protocol
/// says, and its items carry the offsets of the bytes they hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_asked_for_beyond_the_end_numbers_its_bytes_right() {
    let env = Env::new();
    let c = start(
        &env,
        "future",
        &["sh", "-c", "while read x; do echo got-$x; done"],
    )
    .await;
    for (n, ahead) in [1_000_000, u64::MAX].into_iter().enumerate() {
        // A connection of its own for each stream (one stream each).
        let c = ClientBuilder::new()
            .deadline(DEADLINE)
            .connect(env.sock("future"))
            .await
            .expect("connect");
        let end = c.refresh().await.expect("hello").output_offset;
        let from = end.saturating_add(ahead);
        let mut output = c.output(from).await.expect("output");
        c.input(format!("{n}\n").into_bytes()).await.expect("input");
        let (offset, bytes) = first_data(&mut output).await;
        assert_eq!(
            (
                offset,
                String::from_utf8_lossy(&bytes).starts_with(&n.to_string())
            ),
            (end, true),
            "asked for {from}: the first byte written after it was asked for is at {end}"
        );
        // The connection still answers.
        c.status().await.expect("status");
    }
    drop(c);
}
