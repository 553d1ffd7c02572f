//! The regular expressions of a screen or output WAIT, shared by the
//! supervisor (which answers WAIT live) and the clients that answer it from
//! an exit record once the session has ended, so both match alike.

/// Largest compiled regex.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compile a WAIT's pattern: multi-line mode (`^`/`$` match at each line),
/// at most 1 MiB compiled.
pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .multi_line(true)
        .build()
}

/// The first match of `re` in screen text `text` (lines joined by `\n`)
/// and the line it starts on, from 0.
pub fn find_on_screen<'t>(re: &regex::Regex, text: &'t str) -> Option<(&'t str, u64)> {
    re.find(text)
        .map(|m| (m.as_str(), text[..m.start()].matches('\n').count() as u64))
}
