//! What the session tools answer about a session that has ended, from its
//! exit record (as `hm status`, `hm screen` and `hm tail --from` do): how
//! it ended, its final screen, and the output the record keeps (its last
//! 4 KiB).

use heimdall_client::{ExitRecord, HelloResp, RecordedOutput};
use serde_json::json;

use super::terminal_text::{self, Carry};
use super::ToolOutput;
use crate::scrub::{scrub_rows_below, unfinished_secret, Cursor};

/// How many rows above the rows shown of a screen are read with them, to
/// scrub the lines at their top from their start.
pub const CONTEXT_ROWS: usize = 100;

/// The screen rows of a terminal `cols` wide from `shown` on as one text:
/// scrubbed as the lines they show (a secret wrapped across rows is found,
/// also one that starts in the rows before `shown`, which are read only
/// for that; a secret the program was still writing at the `cursor` is
/// masked), trailing blanks and blank lines at the end dropped.
pub fn screen_text(rows: &[&String], shown: usize, cols: u16, cursor: Option<Cursor>) -> String {
    let mut text = String::new();
    for l in scrub_rows_below(rows, shown, cols.into(), cursor) {
        text.push_str(l.trim_end());
        text.push('\n');
    }
    text.trim_end_matches('\n').to_string()
}

/// How the program ended: its code, and the signal that killed it; for a
/// record a guardian left ([`ExitRecord::supervisor_died`]), that these
/// are the guardian's account (as `hm status` says).
pub fn exit_phrase(rec: &ExitRecord) -> String {
    let phrase = code_phrase(rec.code, rec.signal);
    if rec.supervisor_died {
        format!(
            "{phrase}, given by its guardian: its supervisor died first (its output and \
             final screen were not recorded)"
        )
    } else {
        phrase
    }
}

/// An exit code, and the signal that killed the program.
pub fn code_phrase(code: i32, signal: Option<i32>) -> String {
    match signal {
        Some(s) => format!("exit code {code} (killed by signal {s})"),
        None => format!("exit code {code}"),
    }
}

/// The terminal size the session had at its end, when the record knows it.
fn size(rec: &ExitRecord) -> (u16, u16) {
    rec.final_screen
        .as_ref()
        .map_or(terminal_text::DEFAULT_SIZE, |s| (s.cols, s.rows))
}

/// What an ended session left on its terminal: the final screen with up
/// to `scrollback` lines of the scrollback the record keeps, else the last
/// output as lines.
pub fn final_screen_text(rec: &ExitRecord, scrollback: usize) -> String {
    match (&rec.final_screen, &rec.screen) {
        (Some(s), _) => {
            let kept = s.scrollback.as_deref().unwrap_or_default();
            let above = kept.len().min(scrollback);
            let read = kept.len().min(above.saturating_add(CONTEXT_ROWS));
            let rows: Vec<&String> = kept[kept.len() - read..].iter().chain(&s.lines).collect();
            let cursor = Cursor {
                row: read + usize::from(s.cursor.row),
                col: s.cursor.col.into(),
            };
            screen_text(&rows, read - above, s.cols, Some(cursor))
        }
        (None, Some(lines)) => screen_text(&lines.iter().collect::<Vec<_>>(), 0, size(rec).0, None),
        (None, None) => {
            let (cols, rows) = size(rec);
            terminal_text::render(rec.tail_bytes(), &mut Carry::default(), cols, rows)
        }
    }
}

/// `session_status` of an ended session.
pub fn status(rec: &ExitRecord) -> ToolOutput {
    let v = json!({
        "id": rec.id,
        "alive": false,
        "state": "exited",
        "exited": format!("the program exited with {} at {}", exit_phrase(rec), rec.ended_at),
        "code": rec.code,
        "signal": rec.signal,
        "started_at": rec.started_at,
        "ended_at": rec.ended_at,
        "pid": rec.pid,
        "command": rec.command,
        "cwd": rec.cwd,
        "output_offset": rec.output_offset,
        "supervisor_died": rec.supervisor_died,
    });
    ToolOutput::ok(v.to_string())
}

/// `session_status` of a session whose program has exited while its
/// supervisor still finishes (reads the last output from the terminal;
/// its exit record is not written yet): as after the end, from the exit
/// `code` and `signal` the supervisor gives and its `hello`, without the
/// time of the end.
pub fn status_before_record(hello: &HelloResp, code: i32, signal: Option<i32>) -> ToolOutput {
    let s = &hello.session;
    let v = json!({
        "id": s.id,
        "alive": false,
        "state": "exited",
        "exited": format!(
            "the program exited with {}; its supervisor is finishing",
            code_phrase(code, signal)
        ),
        "code": code,
        "signal": signal,
        "started_at": s.started_at,
        "pid": s.pid,
        "command": s.command,
        "cwd": s.cwd,
        "output_offset": hello.output_offset,
        "supervisor_died": false,
    });
    ToolOutput::ok(v.to_string())
}

/// `session_screen` of an ended session: its final screen, with up to
/// `scrollback` lines above it.
pub fn screen(rec: &ExitRecord, scrollback: usize) -> ToolOutput {
    let id = &rec.id;
    let ended = format!("it exited with {} at {}", exit_phrase(rec), rec.ended_at);
    let body = final_screen_text(rec, scrollback);
    let source = match &rec.final_screen {
        Some(s) => format!(
            "final screen of session {id} ({ended}), {}x{}{}",
            s.cols,
            s.rows,
            if s.title.is_empty() {
                String::new()
            } else {
                format!(", title {:?}", s.title)
            }
        ),
        None => format!("final screen of session {id} ({ended}), rebuilt from its last output"),
    };
    if body.is_empty() {
        return ToolOutput::ok(format!("the {source} was empty"));
    }
    ToolOutput::untrusted(source, body)
}

/// `session_read` of an ended session from output offset `asked` (its
/// first `most` bytes when given), shown on a terminal in state `terminal`
/// at `asked` (left in its state at the end; afresh when the record does
/// not reach back to `asked`), and the offset after what it shows (the
/// next offset to read from).
pub fn read(
    rec: &ExitRecord,
    asked: u64,
    most: Option<u64>,
    terminal: &mut Carry,
) -> (ToolOutput, u64) {
    let id = &rec.id;
    let ended = format!("the program exited with {}", exit_phrase(rec));
    let (cols, rows) = size(rec);
    let (mut bytes, from, mut end, gap, note) = match rec.output_from(asked) {
        RecordedOutput::Bytes {
            missed,
            resume,
            bytes,
        } => {
            let end = resume + bytes.len() as u64;
            let gap = (missed > 0).then(|| {
                format!(
                    "bytes {asked}..{resume} are no longer kept (the session has ended and \
                     its exit record keeps only its last output)"
                )
            });
            (bytes, asked.min(resume), end, gap, None)
        }
        RecordedOutput::Unknown => {
            let tail = rec.tail_bytes();
            let end = rec.output_offset.unwrap_or(tail.len() as u64);
            let note = if rec.supervisor_died {
                "its supervisor died before recording its output".to_string()
            } else {
                format!(
                    "the exit record cannot say where offset {asked} is (an older hm wrote \
                     it): this is the last output it kept"
                )
            };
            let from = end.saturating_sub(tail.len() as u64);
            (tail, from, end, None, Some(note))
        }
    };
    let past = past_end(asked, end);
    // A read cut at `most` ends where a character, an escape sequence or
    // a word that may be a secret is whole: its rest comes with the next.
    let mut more = None;
    if let Some(most) = most.and_then(|m| usize::try_from(m).ok()) {
        if bytes.len() > most {
            let mut piece = &bytes[..most];
            piece = &piece[..piece.len() - terminal_text::unfinished_character(piece)];
            piece = &piece[..piece.len() - terminal_text::unfinished_sequence(piece)];
            piece = &piece[..piece.len() - unfinished_secret(piece)];
            let left = bytes.len() - piece.len();
            end -= left as u64;
            bytes = piece;
            more = Some(format!(
                "{left} more bytes are kept after this read's end: read on from the next offset"
            ));
        }
    }
    // A read from elsewhere than the output's end (an offset past it, or
    // in a record that cannot say where it is) starts on a fresh terminal.
    if gap.is_none() && from != asked {
        *terminal = Carry::default();
    }
    let carried = terminal.has_line();
    let text = match &gap {
        Some(gap) => terminal_text::render_runs(
            &[&[][..], bytes],
            std::slice::from_ref(gap),
            terminal,
            cols,
            rows,
        ),
        None => terminal_text::render(bytes, terminal, cols, rows),
    };
    let mut source = format!(
        "output of session {id}, which has ended ({ended}), bytes {from}..{end}, \
         from its exit record; next offset {end}"
    );
    for n in past.iter().chain(&gap).chain(&note).chain(&more) {
        source.push_str("; ");
        source.push_str(n);
    }
    if !text.is_empty() {
        source.push_str(&terminal_text::text_notes(carried, gap.is_some()));
    }
    let out = if text.is_empty() {
        let none = if rec.supervisor_died {
            "no output recorded"
        } else {
            "no new output"
        };
        ToolOutput::ok(format!("{none} ({source})"))
    } else {
        ToolOutput::untrusted(source, text)
    };
    (out, end)
}

/// What a read from `asked` says when that is past `end`, the end of the
/// output: it reads from the end instead.
pub fn past_end(asked: u64, end: u64) -> Option<String> {
    (asked > end).then(|| {
        format!(
            "offset {asked} is past the end of the output ({end} bytes written): read from {end}"
        )
    })
}
