//! `hm send ID TEXT…`: type text (or, with `--keys`, named keys) into a session.

use clap::Args;
use heimdall_protocol::keys::keys_to_bytes;
use heimdall_protocol::ScreenRequest;

use super::common::{answer, connect, live_session, runtime};
use super::Common;

/// Arguments of `hm send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Session id
    pub id: String,
    /// Treat each argument as a key name (Enter, Tab, Esc, Up, C-c, M-x, F1…);
    /// arguments that name no key are typed as text
    #[arg(long)]
    pub keys: bool,
    /// Text to type (joined by spaces; no Enter is added — use `hm submit`
    /// or `--keys … Enter`)
    #[arg(required = true, allow_hyphen_values = true, value_name = "TEXT")]
    pub text: Vec<String>,
}

/// `hm send`.
pub fn run(common: &Common, args: SendArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    runtime()?.block_on(async {
        let (mut c, _) = connect(&paths, "hm send").await?;
        let bytes = if args.keys {
            // Cursor keys follow the program's application-cursor mode.
            let app = match c.screen(ScreenRequest::default()).await {
                Ok(s) => s.application_cursor,
                Err(_) => false,
            };
            keys_to_bytes(&args.text, app)
        } else {
            args.text.join(" ").into_bytes()
        };
        c.input(bytes).await?;
        // A status round trip: the supervisor has taken the input (written
        // to the pty or queued for it, in order; it writes all of it).
        answer(&paths, c.status()).await?;
        Ok(0)
    })
}
