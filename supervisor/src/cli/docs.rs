//! `hm completions SHELL` and `hm man`: shell completions and a man page,
//! generated from the command-line definition so they never drift from it.

use std::io::Write as _;

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

/// `hm man`: print the man page (roff).
pub fn man() -> anyhow::Result<i32> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(0)
}
