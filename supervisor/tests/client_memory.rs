//! Memory stays bounded while 100 MB pass an output stream nobody reads.
//! Alone in its test binary so that no other test's allocations disturb
//! the reading of this process's RSS.

mod common;

use common::{rss_kib, Env, DEADLINE};
use heimdall_client::ClientBuilder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_while_100_mb_pass_an_unread_output_stream() {
    let env = Env::new();
    let started = env
        .launch(
            "flood",
            &[
                "sh",
                "-c",
                "read x; head -c 100000000 /dev/zero | tr '\\0' x; sleep 100",
            ],
        )
        .await;
    const BOUND: usize = 1 << 20;
    let client = started
        .connect(ClientBuilder::new().output_bound(BOUND).deadline(DEADLINE))
        .await
        .expect("connect");
    let from = client.refresh().await.expect("hello").output_offset;
    let mut output = client.output(from).await.expect("subscribe");
    let me = std::process::id() as i32;
    let (before, _) = rss_kib(me);
    client.input(&b"go\n"[..]).await.expect("input");
    // Poll the offset (a regex WAIT would make the server scan 100 MB).
    let flood_end = from + 100_000_000;
    let polled = tokio::time::timeout(std::time::Duration::from_secs(300), async {
        while client.refresh().await.expect("hello").output_offset < flood_end {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(polled.is_ok(), "100 MB passed within 300 s");
    let (after, peak) = rss_kib(me);
    println!("client RSS: {before} KiB before, {after} KiB after, peak {peak} KiB");
    // The stream holds at most BOUND bytes; allow for allocator slack and
    // the runtime, never the 100 MB that passed.
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let end = client.refresh().await.expect("hello").output_offset;
    let consumer_gap = common::drain_output(&mut output, from, end).await;
    assert!(consumer_gap > 90_000_000, "missed {consumer_gap} bytes");
}
