//! Secret scrubbing: API keys, tokens, private keys and `password=`-style
//! assignments are replaced by `[REDACTED:<kind>]` before any text reaches
//! a model or a log. Public so every front end (the Discord bridge too)
//! scrubs the same way.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;
use unicode_width::UnicodeWidthChar;

mod unfinished;

use unfinished::mask_at_cursor;
pub use unfinished::{unfinished_secret, Cursor, UNFINISHED_MAX, UNFINISHED_MIN};

/// One kind of secret and how to find it.
struct Rule {
    kind: &'static str,
    pattern: &'static str,
    /// Capture groups kept verbatim around the redaction: group 1 before
    /// it (for assignments: the name and the `=`), group 3, if the pattern
    /// has one, after it (the `@` and host after a URL's password).
    keep_prefix_groups: bool,
}

/// The rules, most specific first (an Anthropic key is also `sk-…`).
const RULES: &[Rule] = &[
    Rule {
        kind: "private-key",
        pattern: r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "anthropic-key",
        pattern: r"sk-ant-[A-Za-z0-9_\-]{20,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "openai-key",
        pattern: r"\bsk-[A-Za-z0-9_\-]{20,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "stripe-key",
        pattern: r"\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,})",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "gitlab-token",
        pattern: r"\bgl(?:pat|dt|ptt|rt|soat|cbt)-[A-Za-z0-9_\-]{20,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "npm-token",
        pattern: r"\bnpm_[A-Za-z0-9]{36}\b",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "huggingface-token",
        pattern: r"\bhf_[A-Za-z0-9]{30,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "sendgrid-key",
        pattern: r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "google-oauth-secret",
        pattern: r"\bGOCSPX-[A-Za-z0-9_\-]{20,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "github-token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "aws-access-key-id",
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "aws-secret-key",
        pattern: r#"(?i)(aws_?secret_?(?:access_?)?key["']?\s*[=:]\s*["']?)[A-Za-z0-9/+=]{40}"#,
        keep_prefix_groups: true,
    },
    Rule {
        kind: "slack-token",
        pattern: r"\b(?:xox[abposre]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,})",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "google-api-key",
        pattern: r"\bAIza[0-9A-Za-z_\-]{35}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "jwt",
        pattern: r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "discord-token",
        pattern: r"\b[A-Za-z0-9]{24,28}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,}",
        keep_prefix_groups: false,
    },
    Rule {
        kind: "discord-webhook",
        pattern: r"(?i)(\bdiscord(?:app)?\.com/api/(?:v[0-9]+/)?webhooks/[0-9]+/)[A-Za-z0-9_\-]{20,}",
        keep_prefix_groups: true,
    },
    Rule {
        kind: "url-password",
        pattern: r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:/?#@]+:)([^\s/?#@]+)(@)",
        keep_prefix_groups: true,
    },
    Rule {
        kind: "basic-auth",
        pattern: r#"(?i)(authorization["']?\s*[:=]\s*["']?basic\s+)[A-Za-z0-9+/]{8,}={0,2}"#,
        keep_prefix_groups: true,
    },
    Rule {
        kind: "bearer-token",
        pattern: r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{16,}",
        keep_prefix_groups: true,
    },
    Rule {
        kind: "assignment",
        // The value on the name's line: the line after a `Password:`
        // prompt (not echoed) is the program's answer, not the password.
        pattern: r#"(?i)(\b[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|account[_\-]?key|private[_\-]?key|credentials?)["']?[ \t]*[=:][ \t]*)("[^"\n]+"|'[^'\n]+'|[^\s"',;&]+)"#,
        keep_prefix_groups: true,
    },
];

fn compiled() -> &'static [(Regex, &'static Rule)] {
    static CELL: OnceLock<Vec<(Regex, &'static Rule)>> = OnceLock::new();
    CELL.get_or_init(|| {
        RULES
            .iter()
            .map(|r| {
                // The patterns are constants checked by the tests below.
                #[allow(clippy::expect_used)]
                let re = Regex::new(r.pattern).expect("secret pattern compiles");
                (re, r)
            })
            .collect()
    })
}

/// Replace every secret found in `text` by `[REDACTED:<kind>]`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    scrub_with(text, false)
}

/// [`scrub`]; with `keep_lines`, a secret that spans lines (a private key)
/// leaves its line breaks after its redaction, so the text keeps its
/// number of lines.
fn scrub_with(text: &str, keep_lines: bool) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (re, rule) in compiled() {
        if !re.is_match(&out) {
            continue;
        }
        let replaced = if rule.keep_prefix_groups {
            re.replace_all(&out, |c: &regex::Captures<'_>| {
                let prefix = c.get(1).map_or("", |m| m.as_str());
                if c.get(2)
                    .is_some_and(|v| v.as_str().starts_with("[REDACTED"))
                {
                    return c[0].to_string();
                }
                let suffix = c.get(3).map_or("", |m| m.as_str());
                format!("{prefix}[REDACTED:{}]{suffix}", rule.kind)
            })
            .into_owned()
        } else {
            re.replace_all(&out, |c: &regex::Captures<'_>| {
                let breaks = if keep_lines {
                    c[0].matches('\n').count()
                } else {
                    0
                };
                format!("[REDACTED:{}]{}", rule.kind, "\n".repeat(breaks))
            })
            .into_owned()
        };
        out = Cow::Owned(replaced);
    }
    out
}

/// Scrub the rows of a terminal screen `cols` cells wide. A line longer
/// than the width fills its rows to the last column (wide characters take
/// two) and goes on in the next, so rows are scrubbed joined into the lines they show: a secret the
/// terminal wrapped across rows is found too, where scrubbing row by row
/// would let its pieces through. Rows come back as they were unless their
/// line held a secret: such a line, scrubbed, is cut again into as many
/// rows, `cols` columns each but the last, which takes the rest (so the
/// rows before the secret and every other line keep their places). The
/// lines are scrubbed together, so a private key shown over several lines
/// is redacted whole: its first line shows the redaction, the others are
/// left blank.
///
/// With the `cursor`, a secret the program is still writing is masked too
/// (see [`unfinished_secret`]): the word that ends at the cursor, on its
/// row or wrapped from the rows before, when it has the look of a secret's
/// beginning, shows as `[REDACTED:unfinished]` until it is finished (the
/// cursor moved away or a character that ends it followed); its first part
/// alone is too short for the patterns.
pub fn scrub_rows<S: AsRef<str>>(rows: &[S], cols: usize, cursor: Option<Cursor>) -> Vec<String> {
    // Columns, not characters: a wide character (CJK, most emoji) takes two.
    let fills = |row: &str| cols > 0 && width(row) >= cols;
    // The lines the rows show: (first row, last row, text, text to scrub).
    let mut lines: Vec<(usize, usize, String, String)> = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        while end + 1 < rows.len() && fills(rows[end].as_ref()) {
            end += 1;
        }
        let line: String = rows[start..=end].iter().map(AsRef::as_ref).collect();
        let masked = cursor
            .and_then(|c| mask_at_cursor(&rows[start..=end], c.row.checked_sub(start)?, c.col))
            .unwrap_or_else(|| line.clone());
        lines.push((start, end, line, masked));
        start = end + 1;
    }
    // Scrubbed together, so a secret of several lines (a private key) is
    // found whole; each line keeps its place.
    let text = lines
        .iter()
        .map(|(_, _, _, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let clean = scrub_with(&text, true);
    let mut cleaned: Vec<&str> = clean.split('\n').collect();
    if cleaned.len() != lines.len() {
        // A row with a line break of its own: line by line, then.
        cleaned = Vec::new();
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, (start, end, line, masked)) in lines.iter().enumerate() {
        let alone;
        let clean = match cleaned.get(i) {
            Some(c) => *c,
            None => {
                alone = scrub(masked);
                &alone
            }
        };
        let group = &rows[*start..=*end];
        if clean == line {
            out.extend(group.iter().map(|r| r.as_ref().to_string()));
        } else {
            let mut rest: &str = clean;
            for _ in 1..group.len() {
                let cut = fitting(rest, cols);
                out.push(rest[..cut].to_string());
                rest = &rest[cut..];
            }
            out.push(rest.to_string());
        }
    }
    out
}

/// `piece`, text read off a terminal screen (a waiting prompt, an option's
/// label), as it may be shown: when it is on a row whose line holds a
/// secret (perhaps only the rest of it, wrapped from the row above and too
/// short for the patterns alone), that row as `scrubbed` (the rows through
/// [`scrub_rows`]) has it; else `piece` scrubbed.
pub fn scrub_piece<S: AsRef<str>>(rows: &[S], scrubbed: &[String], piece: &str) -> String {
    let wanted = piece.trim();
    let tainted = rows.iter().zip(scrubbed).rev().find(|(raw, clean)| {
        let raw = raw.as_ref();
        raw != clean.as_str() && !wanted.is_empty() && raw.contains(wanted)
    });
    match tainted {
        Some((_, clean)) => clean.trim().to_string(),
        None => scrub(piece).into_owned(),
    }
}

/// The columns `text` takes on a terminal.
fn width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The length in bytes of the start of `text` that fits in `cols` columns.
fn fitting(text: &str, cols: usize) -> usize {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > cols {
            return i;
        }
    }
    text.len()
}

/// [`scrub_rows`] of the rows of `rows` from `shown` on, those before
/// (rows that scrolled off above them) read only so that a line at their
/// top is scrubbed from its start: a secret whose first rows are above is
/// found too. Returns the rows from `shown` on.
pub fn scrub_rows_below<S: AsRef<str>>(
    rows: &[S],
    shown: usize,
    cols: usize,
    cursor: Option<Cursor>,
) -> Vec<String> {
    let mut out = scrub_rows(rows, cols, cursor);
    out.drain(..shown.min(out.len()));
    out
}

/// Every string in a JSON value scrubbed (tool arguments, for display and
/// logs).
pub fn scrub_json(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(scrub(s).into_owned()),
        Value::Array(a) => a.iter().map(scrub_json).collect(),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| (k.clone(), scrub_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::scrub;

    fn scrubbed(s: &str) -> String {
        scrub(s).into_owned()
    }

    #[test]
    fn every_listed_shape_is_redacted() {
        let cases = [
            ("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", "openai-key"),
            ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "anthropic-key"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github-token"),
            ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github-token"),
            ("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id"),
            ("xoxb-1234567890-abcdefghij", "slack-token"),
            ("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234", "google-api-key"),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
            ),
            (
                "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456",
                "discord-token",
            ),
            ("sk_live_51HxAbCdEfGhIjKlMnOpQrStUv", "stripe-key"),
            ("rk_test_51HxAbCdEfGhIjKlMnOpQrStUv", "stripe-key"),
            ("whsec_AbCdEfGhIjKlMnOpQrStUvWxYz01", "stripe-key"),
            ("glpat-AbCdEfGhIjKlMnOpQrSt", "gitlab-token"),
            ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "npm-token"),
            ("hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567", "huggingface-token"),
            (
                "xapp-1-A0123456789-0123456789012-abcdef0123456789",
                "slack-token",
            ),
            (
                "SG.AbCdEfGhIjKlMnOpQrStUv.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg",
                "sendgrid-key",
            ),
            ("GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01", "google-oauth-secret"),
        ];
        for (secret, kind) in cases {
            let out = scrubbed(&format!("before {secret} after"));
            assert_eq!(out, format!("before [REDACTED:{kind}] after"), "{secret}");
        }
    }

    #[test]
    fn aws_secret_and_assignments_keep_the_name() {
        assert_eq!(
            scrubbed("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "aws_secret_access_key = [REDACTED:aws-secret-key]"
        );
        assert_eq!(
            scrubbed("DB_PASSWORD=hunter2 next"),
            "DB_PASSWORD=[REDACTED:assignment] next"
        );
        assert_eq!(
            scrubbed(r#"{"token": "abc def"}"#),
            r#"{"token": [REDACTED:assignment]}"#
        );
        // A prompt's answer is on its line: the next line is not taken
        // for it.
        assert_eq!(
            scrubbed("Password: \nSorry, try again.\npassword\n= x"),
            "Password: \nSorry, try again.\npassword\n= x"
        );
        assert_eq!(
            scrubbed("password:\thunter2"),
            "password:\t[REDACTED:assignment]"
        );
        assert_eq!(
            scrubbed("Authorization: Bearer abcdefghijklmnop1234"),
            "Authorization: Bearer [REDACTED:bearer-token]"
        );
    }

    #[test]
    fn credentials_in_urls_and_headers_keep_what_is_around_them() {
        assert_eq!(
            scrubbed("DATABASE_URL=postgres://app:Sup3r-S3cret@db.internal:5432/app"),
            "DATABASE_URL=postgres://app:[REDACTED:url-password]@db.internal:5432/app"
        );
        assert_eq!(
            scrubbed("git clone https://oauth2:glo-x1y2@gitlab.example.com/g/r.git"),
            "git clone https://oauth2:[REDACTED:url-password]@gitlab.example.com/g/r.git"
        );
        assert_eq!(
            scrubbed("Authorization: Basic dXNlcjpodW50ZXIy"),
            "Authorization: Basic [REDACTED:basic-auth]"
        );
        assert_eq!(
            scrubbed(
                "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz_01"
            ),
            "https://discord.com/api/webhooks/123456789012345678/[REDACTED:discord-webhook]"
        );
        assert_eq!(
            scrubbed("AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4cXV1eA==;EndpointSuffix=x"),
            "AccountName=acct;AccountKey=[REDACTED:assignment];EndpointSuffix=x"
        );
        // No password, or no credentials at all: untouched.
        for text in [
            "http://localhost:8080/path",
            "ssh://git@github.com/o/r",
            "Basic authentication is enabled",
        ] {
            assert_eq!(scrubbed(text), text);
        }
    }

    #[test]
    fn pem_blocks_are_redacted_whole() {
        let pem = "x\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\nBBBB\n-----END OPENSSH PRIVATE KEY-----\ny";
        assert_eq!(scrubbed(pem), "x\n[REDACTED:private-key]\ny");
        let pgp = "x\n-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGX\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\ny";
        assert_eq!(scrubbed(pgp), "x\n[REDACTED:private-key]\ny");
    }

    #[test]
    fn a_secret_wrapped_across_screen_rows_is_found() {
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let first = format!("{} {}", "0".repeat(30), &token[..9]);
        let rows = [first.as_str(), &token[9..], "", "next line"];
        assert_eq!(first.chars().count(), 40);
        let out = super::scrub_rows(&rows, 40, None);
        let text = out.join("\n");
        assert!(!text.contains("abcdefg"), "{text}");
        assert!(!text.contains("0123456789"), "{text}");
        assert_eq!(
            out,
            [
                format!("{} [REDACTED", "0".repeat(30)),
                ":github-token]".to_string(),
                String::new(),
                "next line".to_string()
            ]
        );
        // Rows without a secret come back unchanged, full ones included.
        let plain = ["x".repeat(40), "y".repeat(40), "z".into()];
        assert_eq!(super::scrub_rows(&plain, 40, None), plain);
    }

    #[test]
    fn a_secret_wrapped_after_wide_characters_is_found() {
        // 15 CJK characters take 30 of the 40 columns: the row is full with
        // 25 characters, and the token goes on in the next row.
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let wide = "密".repeat(15);
        let first = format!("{wide} {}", &token[..9]);
        let rows = [first.as_str(), &token[9..], "next line"];
        let out = super::scrub_rows(&rows, 40, None);
        let text = out.join("\n");
        assert!(!text.contains(&token[..9]), "{text}");
        assert!(!text.contains(&token[9..]), "{text}");
        // Cut again by columns: the first row fills its 40, no more.
        assert_eq!(
            out,
            [
                format!("{wide} [REDACTED"),
                ":github-token]".to_string(),
                "next line".to_string()
            ]
        );
    }

    #[test]
    fn a_piece_of_a_line_with_a_secret_is_shown_as_the_scrubbed_row() {
        // The token wraps: the second row, a prompt, holds only its rest.
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        let rows = [
            format!("{} {}", "0".repeat(70), &token[..9]),
            format!("{}? [y/N] ", &token[9..]),
        ];
        let scrubbed = super::scrub_rows(&rows, 80, None);
        let shown = super::scrub_piece(&rows, &scrubbed, &rows[1]);
        assert!(!shown.contains(&token[20..]), "{shown}");
        assert!(shown.ends_with("? [y/N]"), "{shown}");
        // Elsewhere, the piece itself, scrubbed.
        let other = super::scrub_piece(&rows, &scrubbed, "Continue? [y/N]");
        assert_eq!(other, "Continue? [y/N]");
        let own = format!("token {token}");
        assert!(!super::scrub_piece(&rows, &scrubbed, &own).contains(token));
    }

    #[test]
    fn a_private_key_over_screen_rows_is_redacted_whole() {
        let body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz";
        let rows = [
            "$ cat key",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            body,
            body,
            "-----END OPENSSH PRIVATE KEY-----",
            "$",
        ];
        assert_eq!(
            super::scrub_rows(&rows, 80, None),
            ["$ cat key", "[REDACTED:private-key]", "", "", "", "$"]
        );
        // Its rows wrapped (a terminal 40 wide): still whole, in place.
        let narrow: Vec<&str> = rows
            .iter()
            .flat_map(|r| {
                let cut = r.len().min(40);
                [&r[..cut], &r[cut..]].into_iter().filter(|p| !p.is_empty())
            })
            .collect();
        let out = super::scrub_rows(&narrow, 40, None);
        assert_eq!(out.len(), narrow.len());
        assert!(!out.join("\n").contains(&body[..20]), "{out:?}");
        assert!(!out.join("\n").contains(&body[40..]), "{out:?}");
        assert_eq!(out.last().map(String::as_str), Some("$"));
    }

    #[test]
    fn ordinary_text_is_untouched() {
        let text = "max_tokens = 4096\ninput_tokens: 12\nls -la /tmp && echo skeleton-key";
        assert!(matches!(super::scrub(text), std::borrow::Cow::Borrowed(_)));
    }
}
