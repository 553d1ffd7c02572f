//! The waiting-for-input detector: rules (data, see [`rules`]) applied to
//! the rendered screen once output has settled, confirmed by what the
//! foreground process is doing ([`probe`]).
//!
//! It never runs on the output path: the session's watcher task
//! ([`watch`]) calls it when the output has been quiet for a while, and
//! while the session is waiting, after each screen update, to see whether
//! the screen changed away from the prompt.

pub mod options;
pub mod probe;
pub mod rules;
pub mod watch;

use heimdall_protocol::message::Waiting;
use heimdall_protocol::ScreenResp;
use serde::Serialize;

pub use rules::{InputCheck, Rule, Rules, RulesError};

use self::probe::Activity;
use self::rules::{Extract, PromptFrom};

/// Lines above the cursor a rule looks at.
const ABOVE: usize = 15;
/// Lines below the cursor a rule looks at.
const BELOW: usize = 15;

/// The part of the screen the rules looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Screen row of the first line.
    pub first_row: usize,
    /// The lines, top to bottom (trailing empty lines dropped).
    pub lines: Vec<String>,
    /// The cursor (row, column), 0-based screen coordinates.
    pub cursor: (usize, usize),
}

impl Window {
    /// The lines around the cursor of a screen.
    pub fn of(screen: &ScreenResp) -> Window {
        let row = usize::from(screen.cursor.row).min(screen.lines.len().saturating_sub(1));
        let first = row.saturating_sub(ABOVE);
        let end = (row + BELOW + 1).min(screen.lines.len());
        let mut lines: Vec<String> = screen.lines[first..end].to_vec();
        while lines.len() > row - first + 1 && lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        Window {
            first_row: first,
            lines,
            cursor: (row, usize::from(screen.cursor.col)),
        }
    }

    fn cursor_line(&self) -> &str {
        self.lines
            .get(self.cursor.0 - self.first_row)
            .map_or("", String::as_str)
    }
}

/// A rule that matched the screen.
#[derive(Debug, Clone)]
pub struct Match {
    /// What the program waits for.
    pub waiting: Waiting,
    /// What the rule requires of the foreground process.
    pub input: InputCheck,
}

impl Match {
    /// Whether the foreground process's activity confirms the match.
    pub fn confirmed_by(&self, activity: &Activity) -> bool {
        match self.input {
            InputCheck::Any => true,
            InputCheck::Waiting => matches!(
                activity,
                Activity::Reading | Activity::Polling | Activity::Unknown(_)
            ),
            InputCheck::Read => matches!(activity, Activity::Reading | Activity::Unknown(_)),
        }
    }
}

impl Rule {
    /// Whether this rule matches the screen; what the program waits for if so.
    pub fn apply(&self, screen: &ScreenResp, window: &Window) -> Option<Match> {
        if self
            .alternate_screen
            .is_some_and(|a| a != screen.alternate_screen)
        {
            return None;
        }
        let line = window.cursor_line();
        let caps = match &self.cursor_line {
            Some(re) => Some(re.captures(line)?),
            None => None,
        };
        if self.cursor_at_end && window.cursor.1 < line.chars().count() {
            return None;
        }
        if self.last_row && window.cursor.0 + 1 != screen.lines.len() {
            return None;
        }
        let text = window.lines.join("\n");
        if self.window.as_ref().is_some_and(|re| !re.is_match(&text)) {
            return None;
        }
        if self
            .not_window
            .as_ref()
            .is_some_and(|re| re.is_match(&text))
        {
            return None;
        }
        let (options, selected, first_row) = match self.extract {
            None => (self.options.clone(), None, None),
            Some(Extract::Numbered) => {
                let f = options::numbered(&window.lines, &self.keys)?;
                (f.options, f.selected, Some(f.first_row))
            }
            Some(Extract::Arrow) => {
                let f = options::arrow(&window.lines, screen.application_cursor)?;
                (f.options, f.selected, Some(f.first_row))
            }
            Some(Extract::Letters) => {
                let letters = caps.as_ref()?.name("letters")?.as_str();
                let o = options::letters(letters, &self.keys, &self.labels);
                (o, None, None)
            }
        };
        let prompt = match (self.prompt, first_row) {
            (PromptFrom::AboveOptions, Some(first)) => window.lines[..first]
                .iter()
                .rev()
                .map(|l| options::unframed(l))
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_string(),
            _ => line.trim().to_string(),
        };
        Some(Match {
            waiting: Waiting {
                prompt,
                kind: self.kind,
                options,
                selected,
                rule: self.name.clone(),
                source: "screen".to_string(),
            },
            input: self.input,
        })
    }
}

impl Rules {
    /// The first rule that matches the screen.
    pub fn detect(&self, screen: &ScreenResp, window: &Window) -> Option<Match> {
        self.rules.iter().find_map(|r| r.apply(screen, window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heimdall_protocol::message::WaitingKind;
    use heimdall_protocol::Cursor;

    fn screen(text: &str, row: u16, col: u16) -> ScreenResp {
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        lines.resize(24, String::new());
        ScreenResp {
            lines,
            cursor: Cursor {
                row,
                col,
                visible: true,
            },
            cols: 80,
            rows: 24,
            ..ScreenResp::default()
        }
    }

    fn detect(text: &str, row: u16, col: u16) -> Option<Waiting> {
        let s = screen(text, row, col);
        Rules::builtin()
            .detect(&s, &Window::of(&s))
            .map(|m| m.waiting)
    }

    #[test]
    fn the_builtin_rules_compile() {
        let r = rules::Rules::parse(include_str!("rules.toml"), "built-in").unwrap();
        assert!(r.rules.len() >= 10);
    }

    #[test]
    fn prompts_and_questions() {
        let w = detect("bash-5.2$ ", 0, 10).unwrap();
        assert_eq!(
            (w.kind, w.rule.as_str()),
            (WaitingKind::Shell, "shell_prompt")
        );
        let w = detect("Python 3.11\n>>> ", 1, 4).unwrap();
        assert_eq!(w.rule, "python_repl");
        let w = detect("Do you want to continue? [Y/n] ", 0, 31).unwrap();
        assert_eq!(w.kind, WaitingKind::YesNo);
        assert_eq!(w.options[0].keys, vec!["y\r"]);
        let w = detect("Proceed (Y/n)? ", 0, 15).unwrap();
        assert_eq!((w.kind, w.rule.as_str()), (WaitingKind::YesNo, "yes_no"));
        let w = detect(
            "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
            0,
            70,
        );
        assert_eq!(w.unwrap().options[0].keys, vec!["yes\r"]);
        let w = detect("Press Enter to continue", 0, 23).unwrap();
        assert_eq!(w.kind, WaitingKind::Confirm);
        let w = detect("rm: remove regular file 'x'? ", 0, 29).unwrap();
        assert_eq!(w.kind, WaitingKind::YesNo);
        let w = detect("(1/1) Stage this hunk [y,n,q,a,d,e,?]? ", 0, 39).unwrap();
        assert_eq!(w.kind, WaitingKind::Menu);
        assert_eq!(w.options.len(), 7);
        let w = detect("[sudo] password for me: ", 0, 24).unwrap();
        assert_eq!(w.kind, WaitingKind::Password);
        assert!(w.options.is_empty());
        let w = detect("What is your name? ", 0, 19).unwrap();
        assert_eq!(w.kind, WaitingKind::Text);
    }

    #[test]
    fn not_a_prompt() {
        // The cursor on an empty line after output.
        assert!(detect("Continue? [y/N]\nContinue? [y/N]\n", 2, 0).is_none());
        // The cursor in the middle of a line.
        assert!(detect("Result: 42 and more", 0, 3).is_none());
    }

    #[test]
    fn user_rules_come_first() {
        let user = Rules::parse(
            "[[rule]]\nname = \"deploy\"\nkind = \"confirm\"\ncursor_line = '^Deploy\\?'\noptions = [{ label = \"go\", keys = [\"g\", \"\\r\"] }]\n",
            "test",
        )
        .unwrap();
        let s = screen("Deploy? ", 0, 8);
        let m = user.detect(&s, &Window::of(&s)).unwrap();
        assert_eq!(m.waiting.rule, "deploy");
        assert_eq!(m.waiting.options[0].keys, vec!["g", "\r"]);
        let bad = Rules::parse("[[rule]]\nname = \"x\"\nkind = \"shell\"\n", "test");
        assert!(bad.unwrap_err().to_string().contains("needs a pattern"));
        let bad = Rules::parse(
            "[[rule]]\nname = \"x\"\nkind = \"nope\"\ncursor_line = 'a'\n",
            "t",
        );
        assert!(bad.is_err());
    }
}
