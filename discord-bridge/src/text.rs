//! Text for Discord: secret-scrubbed, cut to the 2,000-character message
//! limit (or attached as a file when larger), screens in code blocks with
//! ANSI colours (```ansi) where they fit.
//!
//! Every function here that produces text to post scrubs it first, with
//! the agent's scrubber (one implementation).

use heimdall_agent::scrub::{scrub, scrub_rows_below, Cursor};

use crate::sessions::Screen;

/// Discord's limit on a message's content, in characters.
pub const MESSAGE_LIMIT: usize = 2000;

/// Scrub secrets out of text about to be posted.
pub fn clean(text: &str) -> String {
    scrub(text).into_owned()
}

/// Split text into messages of at most `limit` characters, at line ends
/// where possible (scrubbed first).
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let text = clean(text);
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for line in text.split_inclusive('\n') {
        let len = line.chars().count();
        if cur_len + len <= limit {
            cur.push_str(line);
            cur_len += len;
            continue;
        }
        if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if len <= limit {
            cur.push_str(line);
            cur_len = len;
            continue;
        }
        // A line longer than a message: cut it by characters.
        let chars: Vec<char> = line.chars().collect();
        for piece in chars.chunks(limit) {
            let piece: String = piece.iter().collect();
            if piece.chars().count() == limit {
                out.push(piece);
            } else {
                cur_len = piece.chars().count();
                cur = piece;
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Make text safe inside a code block: a fence in it would end the block.
fn defuse_fences(body: &str) -> String {
    body.replace("```", "`\u{200b}``")
}

/// A code block (`lang` may be empty).
pub fn code_block(body: &str, lang: &str) -> String {
    format!("```{lang}\n{}\n```", defuse_fences(body))
}

/// What to post for a long piece of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Post {
    /// One message.
    Message(String),
    /// Too long for a message: a short message and the whole text as a file.
    File {
        /// The message that goes with the file.
        message: String,
        /// The file's name.
        name: String,
        /// The file's content.
        content: String,
    },
}

/// `heading` and `body` in a code block as one message when they fit, else
/// the heading (and the body's last lines that fit) with the whole body
/// attached as `file_name` (scrubbed).
pub fn code_post(heading: &str, body: &str, file_name: &str) -> Post {
    let heading = clean(heading);
    let body = clean(body);
    let whole = format!("{heading}\n{}", code_block(&body, ""));
    if whole.chars().count() <= MESSAGE_LIMIT {
        return Post::Message(whole);
    }
    let note = format!("{heading}\n(full text attached; the end:)");
    let room = MESSAGE_LIMIT - note.chars().count() - 10;
    let tail = tail_lines(&body, room);
    Post::File {
        message: format!("{note}\n{}", code_block(&tail, "")),
        name: file_name.to_string(),
        content: body,
    }
}

/// The last lines of `text` that fit in `room` characters (the last line
/// cut from the left if even it does not fit).
pub fn tail_lines(text: &str, room: usize) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0;
    for line in text.lines().rev() {
        let len = line.chars().count() + 1;
        if used + len > room {
            if kept.is_empty() {
                let chars: Vec<char> = line.chars().collect();
                let start = chars.len().saturating_sub(room);
                return chars[start..].iter().collect();
            }
            break;
        }
        used += len;
        kept.push(line);
    }
    kept.reverse();
    kept.join("\n")
}

/// SGR parameters Discord's ```ansi blocks render: reset, bold, underline,
/// the 8 foreground and 8 background colours.
fn discord_sgr(params: &str) -> Vec<u16> {
    let nums: Vec<u16> = params
        .split(';')
        .map(|p| {
            if p.is_empty() {
                0
            } else {
                p.parse().unwrap_or(u16::MAX)
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let n = nums[i];
        match n {
            0 | 1 | 4 | 30..=37 | 40..=47 => out.push(n),
            90..=97 => out.push(n - 60),
            100..=107 => out.push(n - 60),
            39 | 49 | 22 | 24 => out.push(0),
            // 256-colour and true-colour forms: skip their arguments.
            38 | 48 => {
                i += match nums.get(i + 1) {
                    Some(5) => 2,
                    Some(2) => 4,
                    _ => 0,
                };
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Rewrite a line with ANSI escapes (as `hm screen --ansi` gives it) into
/// what Discord's ```ansi renders: SGR limited to reset, bold, underline and
/// the basic colours; cursor-right moves become spaces; every other escape
/// and control character is dropped.
pub fn discord_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            if !c.is_control() {
                out.push(c);
            }
            continue;
        }
        match chars.peek() {
            Some('[') => {}
            Some(']') => {
                // OSC: up to BEL or ST (ESC \).
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
                continue;
            }
            _ => {
                // ESC, intermediates (0x20-0x2f), one final character.
                for c in chars.by_ref() {
                    if !('\x20'..='\x2f').contains(&c) {
                        break;
                    }
                }
                continue;
            }
        }
        chars.next();
        let mut params = String::new();
        let mut fin = None;
        for c in chars.by_ref() {
            if ('\x40'..='\x7e').contains(&c) {
                fin = Some(c);
                break;
            }
            params.push(c);
        }
        match fin {
            Some('m') => {
                let keep = discord_sgr(&params);
                if !keep.is_empty() {
                    let p: Vec<String> = keep.iter().map(u16::to_string).collect();
                    out.push_str(&format!("\x1b[{}m", p.join(";")));
                }
            }
            Some('C') => {
                let n: usize = params.parse().unwrap_or(1).min(500);
                out.push_str(&" ".repeat(n));
            }
            _ => {}
        }
    }
    out
}

/// Lines without trailing blank ones.
fn trimmed(lines: &[String]) -> &[String] {
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    &lines[..end]
}

/// A screen's rows scrubbed as the lines they show (a secret the terminal
/// wrapped across rows is found), read from their start in the rows above
/// the screen (a secret whose first rows scrolled off is found too); a
/// secret the program is still writing at the cursor is masked.
pub fn scrubbed_rows(screen: &Screen) -> Vec<String> {
    let rows: Vec<&String> = screen.above.iter().chain(&screen.text).collect();
    let cursor = screen.cursor.map(|(row, col)| Cursor {
        row: screen.above.len() + usize::from(row),
        col: col.into(),
    });
    scrub_rows_below(&rows, screen.above.len(), screen.cols.into(), cursor)
}

/// Text without the SGR escapes [`discord_ansi`] keeps.
fn without_sgr(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match rest.find('m') {
            Some(end) => rest = &rest[end + 1..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// A screen as one message of at most `limit` characters: the heading, then
/// the screen in a ```ansi block when `colours` are wanted, the coloured
/// form fits, shows the same text as the plain one and has no secret in it,
/// else a plain block, else the plain block's last lines that fit. Rows are
/// scrubbed as the lines they show, so a secret the terminal wrapped across
/// rows is found.
pub fn screen_message(heading: &str, screen: &Screen, colours: bool, limit: usize) -> String {
    let heading = clean(heading);
    let rows = scrubbed_rows(screen);
    let text = trimmed(&screen.text);
    let plain: Vec<&str> = text.iter().map(|l| l.trim_end()).collect();
    let scrubbed: Vec<&str> = trimmed(&rows).iter().map(|l| l.trim_end()).collect();
    let has_secret = scrubbed != plain;
    let scrubbed = clean(&scrubbed.join("\n"));
    if colours && !has_secret {
        let lines: Vec<String> = trimmed(&screen.ansi)
            .iter()
            .map(|l| discord_ansi(l))
            .collect();
        // The coloured form is asked for apart from the text: the screen
        // may have changed in between (and shown a secret).
        let same = lines.len() == plain.len()
            && lines
                .iter()
                .zip(&plain)
                .all(|(a, p)| without_sgr(a).trim_end() == *p);
        let body = lines.join("\n");
        // Colours are only worth it when there are some.
        if same && body.contains('\x1b') {
            let msg = format!("{heading}\n{}", code_block(&body, "ansi"));
            if msg.chars().count() <= limit {
                return msg;
            }
        }
    }
    let msg = format!("{heading}\n{}", code_block(&scrubbed, ""));
    if msg.chars().count() <= limit {
        return msg;
    }
    let note = format!("{heading} (top lines cut)");
    let room = limit.saturating_sub(note.chars().count() + 10);
    format!("{note}\n{}", code_block(&tail_lines(&scrubbed, room), ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    /// A screen 80 columns wide.
    fn screen(text: &[String], ansi: &[String]) -> Screen {
        Screen {
            text: text.to_vec(),
            ansi: ansi.to_vec(),
            cols: 80,
            above: Vec::new(),
            output_offset: 0,
            cursor: None,
        }
    }

    #[test]
    fn split_respects_the_limit_and_keeps_everything() {
        let text: String = (0..500).map(|i| format!("line {i}\n")).collect();
        let parts = split(&text, MESSAGE_LIMIT);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.chars().count() <= MESSAGE_LIMIT));
        assert_eq!(parts.concat(), text);
        // Lines are not cut when they fit.
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        // One huge line, multi-byte characters.
        let long = "é".repeat(4500);
        let parts = split(&long, MESSAGE_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= MESSAGE_LIMIT));
        assert_eq!(parts.concat(), long);
        assert!(split("", MESSAGE_LIMIT).is_empty());
    }

    #[test]
    fn everything_posted_is_scrubbed() {
        let text = format!("export GITHUB_TOKEN={SECRET}\n");
        assert!(!split(&text, MESSAGE_LIMIT).concat().contains(SECRET));
        let Post::Message(m) = code_post("screen", &text, "s.txt") else {
            panic!("short text is one message")
        };
        assert!(!m.contains(SECRET) && m.contains("REDACTED"), "{m}");
        let lines = vec![format!("$ echo {SECRET}"), SECRET.to_string()];
        let ansi = vec![format!("\x1b[31m$ echo {SECRET}"), SECRET.to_string()];
        let m = screen_message("`s1`", &screen(&lines, &ansi), true, MESSAGE_LIMIT);
        assert!(!m.contains(SECRET) && !m.contains("```ansi"), "{m}");
    }

    #[test]
    fn a_secret_wrapped_across_rows_is_scrubbed() {
        // The token starts at column 72 of 80: the terminal wraps it.
        let first = format!("{} {}", "0".repeat(70), &SECRET[..9]);
        let lines = vec![first, SECRET[9..].to_string(), "$".to_string()];
        let m = screen_message("`s1`", &screen(&lines, &lines), true, MESSAGE_LIMIT);
        assert!(
            !m.contains(&SECRET[..8]) && !m.contains(&SECRET[9..]),
            "{m}"
        );
        assert!(m.contains("[REDACTED"), "{m}");
    }

    #[test]
    fn a_private_key_on_the_screen_is_scrubbed_whole() {
        let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
        let lines: Vec<String> = [
            "$ cat id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            body,
            body,
            "-----END OPENSSH PRIVATE KEY-----",
            "$",
        ]
        .map(String::from)
        .to_vec();
        let m = screen_message("`s1`", &screen(&lines, &lines), true, MESSAGE_LIMIT);
        assert!(!m.contains(body), "{m}");
        assert!(
            m.contains("$ cat id_ed25519") && m.ends_with("\n$\n```"),
            "{m}"
        );
    }

    #[test]
    fn colours_of_another_screen_than_the_text_are_not_posted() {
        // The coloured form was asked for after the text; the screen had
        // changed and shows a secret in one colour per piece.
        let text = vec!["$ ls".to_string()];
        let ansi = vec![format!(
            "$ ls\x1b[31m{}\x1b[32m{}",
            &SECRET[..10],
            &SECRET[10..]
        )];
        let m = screen_message("`s1`", &screen(&text, &ansi), true, MESSAGE_LIMIT);
        assert!(!m.contains(&SECRET[10..]), "{m}");
        assert_eq!(m, "`s1`\n```\n$ ls\n```");
    }

    #[test]
    fn long_text_becomes_a_file() {
        let body: String = (0..400).map(|i| format!("output line {i}\n")).collect();
        match code_post("**s1**", &body, "s1.txt") {
            Post::File {
                message,
                name,
                content,
            } => {
                assert!(message.chars().count() <= MESSAGE_LIMIT);
                assert!(message.contains("output line 399"), "{message}");
                assert_eq!(name, "s1.txt");
                assert_eq!(content, body);
            }
            Post::Message(_) => panic!("too long for a message"),
        }
    }

    #[test]
    fn fences_cannot_break_out_of_a_block() {
        let b = code_block("a```b", "");
        assert_eq!(b.matches("```").count(), 2, "{b}");
    }

    #[test]
    fn ansi_is_cut_to_what_discord_renders() {
        assert_eq!(discord_ansi("\x1b[1;31mred\x1b[m"), "\x1b[1;31mred\x1b[0m");
        assert_eq!(discord_ansi("\x1b[91mx"), "\x1b[31mx");
        assert_eq!(discord_ansi("\x1b[38;5;200;1mx"), "\x1b[1mx");
        assert_eq!(discord_ansi("\x1b[38;2;1;2;3mx"), "x");
        assert_eq!(discord_ansi("a\x1b[3Cb"), "a   b");
        assert_eq!(discord_ansi("a\x1b[?25lb\x07\x1b]0;title\x07c"), "abc");
        assert_eq!(discord_ansi("\x1b]2;t\x1b\\d\x1b(Be"), "de");
        // Truncated escape at the end: no panic, nothing kept.
        assert_eq!(discord_ansi("a\x1b["), "a");
    }

    #[test]
    fn screens_fit_one_message() {
        let text: Vec<String> = vec!["$ ls".into(), "file".into(), "".into(), "".into()];
        let ansi: Vec<String> = vec!["\x1b[32m$\x1b[m ls".into(), "file".into()];
        let m = screen_message("`s1` idle", &screen(&text, &ansi), true, MESSAGE_LIMIT);
        assert!(m.starts_with("`s1` idle\n```ansi\n"), "{m}");
        assert!(m.ends_with("file\n```"), "{m}");
        let m = screen_message("`s1`", &screen(&text, &ansi), false, MESSAGE_LIMIT);
        assert_eq!(m, "`s1`\n```\n$ ls\nfile\n```");
        // A full 80x40 screen does not fit: the bottom lines are kept.
        let big: Vec<String> = (0..40).map(|i| format!("{i:<79}x")).collect();
        let m = screen_message("`s1`", &screen(&big, &big), false, MESSAGE_LIMIT);
        assert!(m.chars().count() <= MESSAGE_LIMIT);
        assert!(m.contains("39 ") && !m.contains("\n0 "), "{m}");
        assert!(m.contains("top lines cut"));
    }

    #[test]
    fn tail_of_one_long_line() {
        assert_eq!(tail_lines("abcdef", 3), "def");
        assert_eq!(tail_lines("a\nb\nc", 4), "b\nc");
    }
}
