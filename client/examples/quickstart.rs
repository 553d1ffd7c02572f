//! Start a shell in a session, submit a line, wait until it is idle, print
//! the screen, end the session.
//!
//! `cargo run -p heimdall-client --example quickstart` (needs `hm` beside
//! the example or on PATH; HEIMDALL_SOCKET_DIR is honoured).

use heimdall_client::{ClientBuilder, Launcher, ScreenRequest, StartOptions, WaitCondition};

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Launcher::new()
        .start(&StartOptions {
            command: vec!["sh".into()],
            ..StartOptions::default()
        })
        .await?;
    let client = started
        .connect(ClientBuilder::new().name("quickstart"))
        .await?;
    client.submit("echo hello from $((6*7))", None).await?;
    client
        .wait(WaitCondition::Idle { idle_ms: 300 }, Some(10_000))
        .await?;
    let screen = client.screen(ScreenRequest::default()).await?;
    for line in screen.lines.iter().filter(|l| !l.is_empty()) {
        println!("{line}");
    }
    client.kill().await?;
    let code = client.closed().await;
    println!("session {} ended (code {code:?})", started.id);
    Ok(())
}
