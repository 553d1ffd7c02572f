//! `hm explain ID`: the session's state, what decided it (classifier, rule
//! or the program's report), the lines the waiting rules looked at and, when
//! waiting, the parsed options.

use clap::Args;

use super::common::{answer, live_session, open, or_exited, print_json, runtime};
use super::Common;

/// Arguments of `hm explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Session id
    pub id: String,
    /// Print the answer as JSON
    #[arg(long)]
    pub json: bool,
}

/// `hm explain`.
pub fn run(common: &Common, args: ExplainArgs) -> anyhow::Result<i32> {
    let (_, paths) = live_session(common, &args.id)?;
    let v = runtime()?
        .block_on(async {
            let c = open(&paths, "hm explain").await?;
            answer(&paths, c.explain()).await
        })
        .map_err(|e| or_exited(&paths, e))?;
    if args.json {
        print_json(&v)?;
        return Ok(0);
    }
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
    outln!("state:      {}", s(&v["state"]));
    outln!(
        "source:     {}{}",
        s(&v["source"]),
        v["rule"]
            .as_str()
            .map(|r| format!(" (rule {r})"))
            .unwrap_or_default()
    );
    outln!(
        "classifier: {} ({})",
        s(&v["classifier"]),
        s(&v["classifier_state"])
    );
    let look = &v["last_look"];
    outln!("last look:  {}", s(&look["verdict"]));
    if let Some(a) = look["activity"].as_str() {
        outln!("program:    {a}");
    }
    if let Some(lines) = look["window"]["lines"].as_array() {
        let first = look["window"]["first_row"].as_u64().unwrap_or(0);
        let cursor = look["window"]["cursor"][0].as_u64();
        outln!("lines looked at:");
        for (i, l) in lines.iter().enumerate() {
            let row = first + i as u64;
            let mark = if Some(row) == cursor { '>' } else { ' ' };
            outln!("  {mark}{row:>3} {}", l.as_str().unwrap_or_default());
        }
    }
    let w = &v["waiting"];
    if w.is_object() {
        outln!("waiting:    {} — {}", s(&w["kind"]), s(&w["prompt"]));
        let selected = w["selected"].as_u64();
        for (i, o) in w["options"].as_array().into_iter().flatten().enumerate() {
            let mark = if Some(i as u64) == selected {
                '❯'
            } else {
                ' '
            };
            outln!("  {mark} {:<24} keys {}", s(&o["label"]), o["keys"]);
        }
    }
    Ok(0)
}
