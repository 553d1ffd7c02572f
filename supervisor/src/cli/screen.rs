//! `hm screen ID`: the rendered screen (also the final screen of a session
//! that ended).

use clap::Args;
use heimdall_client::{ScreenFormat, ScreenRequest};
use serde_json::json;

use super::common::{answer, ask_session, open, print_json, runtime};
use super::Common;

/// Arguments of `hm screen`.
#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Session id
    pub id: String,
    /// Keep colours and attributes (ANSI escapes)
    #[arg(long)]
    pub ansi: bool,
    /// Also print up to N lines scrolled off the top
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub scrollback: usize,
    /// Print JSON (lines, cursor, size, alternate screen, title…)
    #[arg(long)]
    pub json: bool,
}

fn print_lines(lines: &[String]) -> std::io::Result<()> {
    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    for l in &lines[..end] {
        outln!("{l}");
    }
    Ok(())
}

/// `hm screen`.
pub fn run(common: &Common, args: ScreenArgs) -> anyhow::Result<i32> {
    let cfg = common.load()?;
    ask_session(
        &cfg,
        &args.id,
        |paths| {
            runtime()?.block_on(async {
                let c = open(paths, "hm screen").await?;
                let req = ScreenRequest {
                    id: None,
                    format: if args.ansi {
                        ScreenFormat::Ansi
                    } else {
                        ScreenFormat::Text
                    },
                    scrollback_lines: args.scrollback,
                    redraw: false,
                };
                let s = answer(paths, c.screen(req)).await?;
                if args.json {
                    print_json(&serde_json::to_value(&s)?)?;
                } else {
                    if let Some(sb) = &s.scrollback {
                        for l in sb {
                            outln!("{l}");
                        }
                    }
                    print_lines(&s.lines)?;
                    if args.ansi {
                        out!("\x1b[0m");
                    }
                }
                Ok(0)
            })
        },
        |rec| {
            let lines = rec.screen.clone().unwrap_or_default();
            if args.json {
                print_json(&json!({
                    "lines": lines,
                    "exited": true,
                    "code": rec.code,
                }))?;
            } else {
                print_lines(&lines)?;
            }
            Ok(0)
        },
    )
}
