//! `hm screen ID`: the rendered screen (also the final screen of a session
//! that ended).

use clap::Args;
use heimdall_client::{ScreenFormat, ScreenRequest, ScreenResp};
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

/// Print a screen: its scrollback, then its lines (trailing blank lines
/// left out).
fn print_screen(s: &ScreenResp) -> std::io::Result<()> {
    if let Some(sb) = &s.scrollback {
        for l in sb {
            outln!("{l}");
        }
    }
    print_lines(&s.lines)
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
                let mut s = answer(paths, c.screen(req)).await?;
                // The request's id is a protocol detail (README: results
                // never carry it).
                s.id = None;
                if args.json {
                    print_json(&serde_json::to_value(&s)?)?;
                } else {
                    print_screen(&s)?;
                }
                Ok(0)
            })
        },
        |rec| {
            let recorded = if args.ansi {
                &rec.final_screen_ansi
            } else {
                &rec.final_screen
            };
            let Some(s) = recorded.as_deref() else {
                // A record without the whole screen (an older supervisor).
                let lines = rec.screen.clone().unwrap_or_default();
                if args.json {
                    print_json(&json!({
                        "lines": lines,
                        "exited": true,
                        "code": rec.code,
                        "signal": rec.signal,
                    }))?;
                } else {
                    print_lines(&lines)?;
                }
                return Ok(0);
            };
            // As SCREEN answers: the newest `--scrollback` lines kept.
            let mut s = s.clone();
            s.scrollback = match s.scrollback.take() {
                Some(mut sb) if args.scrollback > 0 => {
                    sb.drain(..sb.len().saturating_sub(args.scrollback));
                    Some(sb)
                }
                _ => None,
            };
            if args.json {
                let mut v = serde_json::to_value(&s)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("exited".into(), json!(true));
                    o.insert("code".into(), json!(rec.code));
                    o.insert("signal".into(), json!(rec.signal));
                }
                print_json(&v)?;
            } else {
                print_screen(&s)?;
            }
            Ok(0)
        },
    )
}
