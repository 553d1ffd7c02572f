//! Options found on the screen: numbered menus, arrow-key lists, letters in
//! brackets.

use std::sync::OnceLock;

use heimdall_protocol::message::WaitingOption;
use regex::Regex;

/// Extracted options: the options, the selected one, and the row of the first.
pub struct Found {
    /// The options in screen order.
    pub options: Vec<WaitingOption>,
    /// The option the pointer is on.
    pub selected: Option<usize>,
    /// The window row of the first option.
    pub first_row: usize,
}

/// Characters that frame dialogs (box borders), stripped from line edges.
const FRAME: &[char] = &['│', '┃', '║', '|'];

/// A line with dialog frame characters and blanks removed from its edges.
pub fn unframed(line: &str) -> &str {
    line.trim().trim_matches(FRAME).trim()
}

fn constant(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a constant pattern compiles (tested)")
}

fn numbered_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"^(?P<ptr>[❯›»▸▶➤→>*]\s*)?(?P<n>\d{1,2})[.)]\s+(?P<label>\S.*?)$"))
}

fn pointer_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| constant(r"^(?P<indent>\s*)[❯›»▸▶➤→>]\s+(?P<label>\S.*?)\s*$"))
}

/// The template's `{key}` replaced by `key`.
pub fn keys_for(template: &str, key: &str) -> Vec<String> {
    vec![template.replace("{key}", key)]
}

/// `1. Yes` / `2) No` lines (optionally behind a pointer, optionally in a
/// dialog frame): the last run numbered 1, 2, 3… with at least two options.
pub fn numbered(lines: &[String], template: &str) -> Option<Found> {
    let mut best: Option<Found> = None;
    let mut run: Option<Found> = None;
    for (row, line) in lines.iter().enumerate() {
        let Some(c) = numbered_re().captures(unframed(line)) else {
            continue;
        };
        let n: usize = c["n"].parse().ok()?;
        let option = WaitingOption {
            label: c["label"].trim().to_string(),
            keys: keys_for(template, &n.to_string()),
        };
        let pointed = c.name("ptr").is_some();
        match run.as_mut() {
            Some(r) if n == r.options.len() + 1 => {
                if pointed {
                    r.selected = Some(r.options.len());
                }
                r.options.push(option);
            }
            _ => {
                if let Some(r) = run.take().filter(|r| r.options.len() >= 2) {
                    best = Some(r);
                }
                if n == 1 {
                    run = Some(Found {
                        selected: pointed.then_some(0),
                        options: vec![option],
                        first_row: row,
                    });
                }
            }
        }
    }
    run.filter(|r| r.options.len() >= 2).or(best)
}

/// A list with a pointer on the selected line and the other options
/// aligned with its label. Each option's keys are arrow presses from the
/// selected line, then Enter, every key a step of its own.
pub fn arrow(lines: &[String], application_cursor: bool) -> Option<Found> {
    let (prow, caps) = lines
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, l)| pointer_re().captures(l).map(|c| (i, c)))?;
    let col = lines[prow][..caps.name("label")?.start()].chars().count();
    let sibling = |l: &str| {
        let indent = l.chars().take_while(|c| *c == ' ').count();
        indent == col && l.chars().nth(col).is_some_and(|c| !c.is_whitespace())
    };
    let mut first = prow;
    while first > 0 && sibling(&lines[first - 1]) {
        first -= 1;
    }
    let mut last = prow;
    while last + 1 < lines.len() && sibling(&lines[last + 1]) {
        last += 1;
    }
    if last == first {
        return None;
    }
    let (up, down) = if application_cursor {
        ("\x1bOA", "\x1bOB")
    } else {
        ("\x1b[A", "\x1b[B")
    };
    let selected = prow - first;
    let options = (first..=last)
        .enumerate()
        .map(|(i, row)| {
            let label = if row == prow {
                caps["label"].to_string()
            } else {
                lines[row].trim().to_string()
            };
            let key = if i > selected { down } else { up };
            let mut keys = vec![key.to_string(); i.abs_diff(selected)];
            keys.push("\r".to_string());
            WaitingOption { label, keys }
        })
        .collect();
    Some(Found {
        options,
        selected: Some(selected),
        first_row: first,
    })
}

/// Letters such as `y,n,q,a,d,e,?`: one option per letter, labelled from
/// `labels` where it names the letter.
pub fn letters(
    letters: &str,
    template: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Vec<WaitingOption> {
    letters
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| WaitingOption {
            label: labels.get(l).cloned().unwrap_or_else(|| l.to_string()),
            keys: keys_for(template, l),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn numbered_menu_in_a_frame_with_a_pointer() {
        let l = lines(
            "│ Do you want to proceed?      │\n│ ❯ 1. Yes                     │\n│   2. No, and tell me what    │\n",
        );
        let f = numbered(&l, "{key}").unwrap();
        assert_eq!(f.options.len(), 2);
        assert_eq!(f.options[0].label, "Yes");
        assert_eq!(f.options[1].keys, vec!["2"]);
        assert_eq!(f.selected, Some(0));
        assert_eq!(f.first_row, 1);
    }

    #[test]
    fn arrow_list_keys_are_steps() {
        let l = lines("? Pick a fruit: (Use arrow keys)\n   Apple\n » Banana\n   Cherry\n");
        let f = arrow(&l, false).unwrap();
        let labels: Vec<_> = f.options.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["Apple", "Banana", "Cherry"]);
        assert_eq!(f.selected, Some(1));
        assert_eq!(f.options[0].keys, vec!["\x1b[A", "\r"]);
        assert_eq!(f.options[1].keys, vec!["\r"]);
        assert_eq!(f.options[2].keys, vec!["\x1b[B", "\r"]);
    }

    #[test]
    fn letters_with_labels() {
        let labels = [("y".to_string(), "yes".to_string())].into();
        let o = letters("y,n,?", "{key}\r", &labels);
        assert_eq!(o.len(), 3);
        assert_eq!(o[0].label, "yes");
        assert_eq!(o[2].keys, vec!["?\r"]);
    }
}
