//! A session whose connection ended without EXIT (it ended as attach
//! connected, before anything was painted, or its supervisor closed the
//! connection): its exit record says how it ended, and what the terminal
//! has not shown of its end comes from the record too, so that `hm run --
//! sh -c 'echo quick; exit 5'` shows `quick` however the timing falls.

use heimdall_client::{ExitRecord, RecordedOutput};

/// What the terminal shows of the session once attach has let it go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Nothing: no picture was painted on the terminal's own screen (none
    /// at all, or the view's, gone with the alternate screen it is drawn
    /// on).
    Nothing,
    /// A picture and the output after it, on the terminal's own screen.
    Screen,
    /// The output as it is, up to this offset (a pipe).
    OutputTo(u64),
}

impl Shown {
    /// The bytes that show the session's end from `rec`: the rest of the
    /// output for a pipe, the final screen for a terminal that shows
    /// nothing of the session; nothing for a terminal that shows a picture
    /// (it would show again what is there).
    pub fn completed_by(self, rec: &ExitRecord) -> Vec<u8> {
        match self {
            Shown::Screen => Vec::new(),
            Shown::OutputTo(offset) => match rec.output_from(offset) {
                RecordedOutput::Bytes { bytes, .. } => bytes.to_vec(),
                // Where the tail starts is not known: all of it only when
                // none was shown.
                RecordedOutput::Unknown if offset == 0 => rec.tail_bytes().to_vec(),
                RecordedOutput::Unknown => Vec::new(),
            },
            Shown::Nothing => final_screen(rec).unwrap_or_else(|| rec.tail_bytes().to_vec()),
        }
    }
}

/// The record's final screen as lines for the terminal (trailing blank
/// lines left out), as the view leaves its last screen: with its colours
/// when the record has them.
fn final_screen(rec: &ExitRecord) -> Option<Vec<u8>> {
    let text = rec.final_screen_text()?;
    let keep = if text.is_empty() {
        0
    } else {
        text.lines().count()
    };
    let lines = match &rec.final_screen_ansi {
        Some(s) => s.lines.iter().map(String::as_str).collect::<Vec<_>>(),
        None => text.lines().collect(),
    };
    let mut out = Vec::new();
    for line in lines.into_iter().take(keep) {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\x1b[0m\r\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tail: &str, screen: Option<Vec<&str>>) -> ExitRecord {
        let end = tail.len() as u64;
        let mut v = serde_json::json!({
            "id": "r", "command": ["sh"], "cwd": "/", "pid": 1, "code": 5,
            "started_at": "2026-01-01T00:00:00.000Z",
            "ended_at": "2026-01-01T00:00:01.000000Z",
            "output_tail": tail, "output_tail_offset": 0, "output_offset": end,
        });
        if let Some(lines) = screen {
            let s = serde_json::json!({
                "lines": lines, "cursor": {"row": 1, "col": 0, "visible": true},
                "cols": 80, "rows": lines.len(), "alternate_screen": false, "title": "",
                "bracketed_paste": false, "application_cursor": false, "output_offset": end,
            });
            v["final_screen"] = s.clone();
            v["final_screen_ansi"] = s;
        }
        serde_json::from_value(v).unwrap_or_else(|e| panic!("record: {e}"))
    }

    #[test]
    fn a_pipe_gets_the_output_it_has_not_had() {
        let rec = record("quick\r\nbye\r\n", None);
        assert_eq!(Shown::OutputTo(0).completed_by(&rec), b"quick\r\nbye\r\n");
        assert_eq!(Shown::OutputTo(7).completed_by(&rec), b"bye\r\n");
        assert_eq!(Shown::OutputTo(12).completed_by(&rec), b"");
    }

    #[test]
    fn a_terminal_that_shows_nothing_gets_the_final_screen() {
        let rec = record("quick\r\n", Some(vec!["quick", "", ""]));
        assert_eq!(
            Shown::Nothing.completed_by(&rec),
            b"quick\x1b[0m\r\n",
            "trailing blank lines left out"
        );
        assert_eq!(
            Shown::Nothing.completed_by(&record("quick\r\n", None)),
            b"quick\r\n",
            "without a screen: the output tail"
        );
    }

    #[test]
    fn a_terminal_that_shows_a_picture_gets_nothing_again() {
        let rec = record("quick\r\n", Some(vec!["quick"]));
        assert_eq!(Shown::Screen.completed_by(&rec), b"");
    }
}
