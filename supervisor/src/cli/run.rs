//! `hm run`: start a session in the background (its own session, so closing
//! the terminal does not end it) and attach to it. Without a terminal it
//! stands for the program in the pipeline: signals go to the program, a
//! reader that goes ends the session (see `attach`). With `--detach`, heimdall
//! 1.0's headless supervisor in the foreground (for systemd, CI, anything
//! that manages the lifecycle), exiting with the child's code.

use clap::Args;
use heimdall_protocol::message::{MAX_COLS, MAX_ROWS};

use super::{Common, SessionFlags};
use crate::supervisor::Ready;

/// Arguments of `hm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the supervisor headless in the foreground and exit with the child's code
    #[arg(long, conflicts_with = "detach_key")]
    pub detach: bool,
    /// Attach without the status bar
    #[arg(long, conflicts_with = "detach")]
    pub no_status_bar: bool,
    #[command(flatten)]
    pub detach_key: super::attach::DetachKeyArg,
    #[command(flatten)]
    pub session: SessionFlags,
}

/// `hm run`.
pub fn run(common: &Common, args: RunArgs) -> anyhow::Result<i32> {
    let mut launch = super::start::launch(common, &args.session, "run")?;
    if args.detach {
        return Ok(crate::supervisor::run(launch, Ready::Foreground));
    }
    // At a terminal the program starts at the size attach gives it, not
    // the configured one: a quick command ends before attach could resize
    // it (`hm run -- ls` laid out for 80 columns). --cols and --rows win.
    let status_bar = args.no_status_bar.then_some(false);
    if let Some((cols, rows)) = super::attach::program_size_here(status_bar, &launch.config) {
        if args.session.cols.is_none() {
            launch.config.cols = cols.min(MAX_COLS);
        }
        if args.session.rows.is_none() {
            launch.config.rows = rows.min(MAX_ROWS);
        }
    }
    let generated = args.session.id.is_none();
    // The attach below must see the session even if the command exits at once.
    launch.hold_for_client = true;
    let id = launch.id.clone();
    match super::start::spawn_background(launch)? {
        super::start::Started::Failed(code, msg) => {
            super::say(&format!("hm: {msg}"));
            Ok(code)
        }
        super::start::Started::Ready => {
            if generated {
                super::say(&format!("[session {id}]"));
            }
            let opts = super::attach::AttachOptions {
                read_only: false,
                status_bar,
                // `hm run -- make` in CI: the output until make ends.
                stream_without_terminal: true,
                detach_key: args.detach_key.detach_key,
            };
            super::attach::attach(common, &id, opts)
        }
    }
}
