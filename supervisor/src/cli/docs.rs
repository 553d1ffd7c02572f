//! `hm completions SHELL` and `hm man`: shell completions and a man page,
//! generated from the command-line definition so they never drift from it.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, ValueEnum};

use super::Cli;

/// Shells completions are generated for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    /// Bash
    Bash,
    /// Zsh
    Zsh,
    /// Fish
    Fish,
    /// Elvish
    Elvish,
    /// PowerShell
    Powershell,
}

/// Arguments of `hm completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: Shell,
}

/// `hm completions SHELL`: print the completion script.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<i32> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    // Into a buffer first: `generate` panics when the write fails (a
    // closed pipe, `hm completions bash | head -1`); `write_all` returns it.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "hm", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(0)
}

/// Arguments of `hm man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print the page of this subcommand, hm-SUBCOMMAND(1), instead of hm(1)
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Option<String>,
    /// Write every page (hm.1 and hm-SUBCOMMAND.1 for each subcommand) into DIR
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `hm`'s command definition as the pages describe it: no `help`
/// subcommand (the pages are the help), so no page refers to an hm-help(1).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `hm man`: print hm(1) or one subcommand's page (roff), or write them all.
pub fn man(args: ManArgs) -> anyhow::Result<i32> {
    let cmd = command();
    if let Some(dir) = args.dir {
        clap_mangen::generate_to(cmd, &dir)
            .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        return Ok(0);
    }
    let page = match args.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(&name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                super::say(&format!(
                    "hm: no subcommand {name:?} (one of: {})",
                    names.join(", ")
                ));
                return Ok(2);
            }
        },
    };
    // Into a buffer first: a closed pipe is an error returned, not a panic.
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    std::io::stdout().write_all(&roff)?;
    Ok(0)
}
