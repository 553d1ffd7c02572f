//! A secret a program is still writing: its first part, on a screen at the
//! cursor or at the end of an output stream, is too short for the
//! patterns, so it is masked (or kept back) until it is finished.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// Where a terminal's cursor is, among the rows given to
/// [`scrub_rows`](super::scrub_rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Its row: an index into the rows.
    pub row: usize,
    /// Its column, 0 = left (the width itself once the last column is
    /// written, before the line wraps).
    pub col: usize,
}

/// The shortest word a program may still be writing that has the look of
/// a secret's beginning without a known prefix.
pub const UNFINISHED_MIN: usize = 8;
/// The longest (longer, it is no token).
pub const UNFINISHED_MAX: usize = 512;

/// How many bytes at the end of `text` are a secret a program may still be
/// writing: a run of token characters (what keys and tokens are made of)
/// not yet ended by a space, a line end or anything else, that has the
/// look of a secret's beginning: from a known secret prefix in it (`ghp_`,
/// `sk-`, `AKIA`… at the start of a word, as in `T=ghp_0123`) to its end,
/// else the whole run when it is [`UNFINISHED_MIN`] characters or longer
/// and mixed as random keys are (letters with digits, or a lower-case
/// letter before an upper-case one; `Loading...`, `--release`
/// or `/usr/local/share` being written are words, not secrets).
/// At most [`UNFINISHED_MAX`]; 0 when there is none. Its first part alone
/// is too short for the patterns, so it is kept back (an output stream's
/// end) or masked (at a screen's cursor) until it is finished.
pub fn unfinished_secret(text: &[u8]) -> usize {
    let run = text
        .iter()
        .rev()
        .take_while(|b| token_char(char::from(**b)))
        .count();
    if run > UNFINISHED_MAX {
        return 0;
    }
    // The run is ASCII.
    let word = String::from_utf8_lossy(&text[text.len() - run..]);
    match secret_prefix().find(&word) {
        Some(m) => run - m.start(),
        None if run >= UNFINISHED_MIN && mixed(&word) => run,
        None => 0,
    }
}

/// Whether a word is mixed as random keys are and words seldom are:
/// letters with digits (`abcd1234`), or a lower-case letter followed by an
/// upper-case one (`aBcDeFgH`; `Loading`, `README` are not).
fn mixed(word: &str) -> bool {
    let letters = word.chars().any(|c| c.is_ascii_alphabetic());
    let digits = word.chars().any(|c| c.is_ascii_digit());
    let upper_after_lower = word
        .find(|c: char| c.is_ascii_lowercase())
        .is_some_and(|i| word[i..].chars().any(|c| c.is_ascii_uppercase()));
    (letters && digits) || upper_after_lower
}

/// Whether `c` is one of the characters keys and tokens are made of.
fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-.+/=".contains(c)
}

/// The beginnings of the secrets the rules know by a prefix.
fn secret_prefix() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    CELL.get_or_init(|| {
        // A constant checked by the tests below.
        #[allow(clippy::expect_used)]
        Regex::new(
            r"\b(?:gh[pousr]_|github_pat_|sk-|[sr]k_live_|[sr]k_test_|whsec_|glpat-|npm_|xox[abposre]-|xapp-|GOCSPX-|AIza|eyJ|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)",
        )
        .expect("the prefix pattern compiles")
    })
}

/// The line the terminal `rows` show (a line and the rows it wrapped to),
/// with the secret the program is still writing at the cursor masked: the
/// cursor at column `col` of the row `row` of them. `None` when there is
/// none (or the cursor is on none of these rows).
pub(super) fn mask_at_cursor<S: AsRef<str>>(rows: &[S], row: usize, col: usize) -> Option<String> {
    let before: usize = rows
        .get(..row)?
        .iter()
        .map(|r| r.as_ref().chars().count())
        .sum();
    let at = before + char_at_column(rows.get(row)?.as_ref(), col)?;
    let line: String = rows.iter().map(AsRef::as_ref).collect();
    mask_unfinished(&line, at)
}

/// The index of the character at column `col` of a terminal row (wide
/// characters take two columns); `None` when the column is past the row's
/// text (the cursor after blanks, which the row does not keep).
fn char_at_column(row: &str, col: usize) -> Option<usize> {
    let mut cells = 0;
    for (i, c) in row.chars().enumerate() {
        if cells >= col {
            return Some(i);
        }
        cells += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
    }
    (cells == col).then(|| row.chars().count())
}

/// `line` with the secret a program is still writing at its character
/// `at` (the cursor) masked: the [`unfinished_secret`] that ends there,
/// with the token characters after it (left from an earlier text the
/// program writes over). `None` when there is none, or when the rules find
/// a secret in that word already (they redact it by its kind).
fn mask_unfinished(line: &str, at: usize) -> Option<String> {
    let at = line.char_indices().nth(at).map_or(line.len(), |(i, _)| i);
    let start = at - unfinished_secret(&line.as_bytes()[..at]);
    if start == at {
        return None;
    }
    let end = line[at..]
        .find(|c| !token_char(c))
        .map_or(line.len(), |n| at + n);
    if matches!(super::scrub(&line[start..end]), Cow::Owned(_)) {
        return None;
    }
    Some(format!(
        "{}[REDACTED:unfinished]{}",
        &line[..start],
        &line[end..]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_word_that_looks_like_a_secrets_beginning_is_unfinished() {
        use super::unfinished_secret as unfinished;
        // From a known prefix on, however short.
        assert_eq!(unfinished(b"export T=ghp_q7W"), "ghp_q7W".len());
        assert_eq!(unfinished(b"key sk-"), 3);
        assert_eq!(unfinished(b"id AKIAIOSF"), 8);
        // Without one, from 8 token characters to 512, mixed as keys are.
        assert_eq!(unfinished(b"$ echo abcd1234"), 8);
        assert_eq!(unfinished(b"$ echo aBcDeFgH"), 8);
        assert_eq!(unfinished(b"$ echo 12345678"), 0);
        assert_eq!(unfinished(b"$ echo Loading..."), 0);
        assert_eq!(unfinished("x".repeat(513).as_bytes()), 0);
        // Ordinary words: ended, short, or a prefix inside a word.
        for text in [
            "user@host:~$",
            "user@host:~$ ",
            "$ ls -la",
            "$ git",
            "ghp_q7Wq7Wq7W ",
            "$ xghp_1",
            "",
        ] {
            assert_eq!(unfinished(text.as_bytes()), 0, "{text:?}");
        }
    }

    #[test]
    fn a_secret_still_being_written_at_the_cursor_is_masked() {
        use super::super::scrub_rows;
        use super::Cursor;
        let at = |row, col| Some(Cursor { row, col });
        let rows = ["$ printf ...", "export T=ghp_q7Wq7Wq7Wq7Wq7W"];
        assert_eq!(
            scrub_rows(&rows, 80, at(1, 28)),
            ["$ printf ...", "export T=[REDACTED:unfinished]"]
        );
        // Finished: the cursor moved on (a new line, or after a space the
        // row does not keep), or no cursor (nothing tells).
        for cursor in [at(2, 0), at(1, 29), at(0, 12), None] {
            assert_eq!(scrub_rows(&rows, 80, cursor), rows, "{cursor:?}");
        }
        // Whole at the cursor, it is redacted by its kind.
        let whole = ["T=ghp_abcdefghijklmnopqrstuvwxyz0123456789"];
        assert_eq!(
            scrub_rows(&whole, 80, at(0, 42)),
            ["T=[REDACTED:github-token]"]
        );
        // Wrapped: masked from its start in the row before the cursor's.
        let first = format!("{} ghp_q7Wq7", "0".repeat(30));
        let wrapped = [first.as_str(), "Wq7Wq7W"];
        let out = scrub_rows(&wrapped, 40, at(1, 7));
        assert!(!out.concat().contains("q7W"), "{out:?}");
        assert_eq!(
            out.concat(),
            format!("{} [REDACTED:unfinished]", "0".repeat(30))
        );
        // Columns are cells: a wide character takes two.
        let wide = ["日本 abcd1234"];
        assert_eq!(
            scrub_rows(&wide, 80, at(0, 13)),
            ["日本 [REDACTED:unfinished]"]
        );
        assert_eq!(scrub_rows(&wide, 80, at(0, 11)), wide);
    }

    #[test]
    fn ordinary_words_at_the_cursor_are_not_masked() {
        use super::super::scrub_rows;
        use super::Cursor;
        for (row, col) in [
            // A prompt, the cursor after it (or after its space).
            ("user@host:~$", 12),
            ("user@host:~$", 13),
            ("[me@box src]$", 14),
            // A short word being typed, a command and its options.
            ("user@host:~$ ls", 15),
            ("user@host:~$ git commit -m", 26),
            ("Continue? [y/N]", 15),
            // Long words that are no token: a status line being written,
            // an option or a path being typed.
            ("Loading...", 10),
            ("Compiling heimdall-supervisor", 29),
            ("user@host:~$ cargo build --release", 34),
            ("user@host:~$ cd /usr/local/share/heimdall", 41),
            ("README.md", 9),
        ] {
            let rows = [row];
            assert_eq!(
                scrub_rows(&rows, 80, Some(Cursor { row: 0, col })),
                rows,
                "{row:?}"
            );
        }
    }
}
