//! `hm run`: with `--detach`, heimdall 1.0's headless supervisor in the
//! foreground (for systemd, CI, anything that manages the lifecycle),
//! exiting with the child's code.

use clap::Args;

use super::{Common, SessionFlags};
use crate::supervisor::Ready;

/// Arguments of `hm run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run the supervisor headless in the foreground and exit with the child's code
    #[arg(long)]
    pub detach: bool,
    #[command(flatten)]
    pub session: SessionFlags,
    /// The command to run and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

/// `hm run`.
pub fn run(common: &Common, args: RunArgs) -> anyhow::Result<i32> {
    let launch = super::start::launch(common, &args.session, args.command)?;
    if args.detach {
        return Ok(crate::supervisor::run(launch, Ready::Foreground));
    }
    anyhow::bail!("attaching is not available yet; use `hm run --detach` or `hm start`")
}
