//! session_read against the real `hm`, over many reads: consecutive reads
//! of a flood tile its output (each says the exact byte range it covers,
//! and every byte is shown once or reported missed once), and what a read
//! sets up in the terminal (a character set) holds in the next one.

mod common;

use std::time::Duration;

use common::sessions::{hm, hm_config, tools_with, unique, until_supervisor_gone, Sessions};
use heimdall_agent::tools::sessions::SessionTools;
use heimdall_agent::tools::{ToolOutput, ToolSet};
use heimdall_client::Launcher;
use regex::Regex;
use serde_json::json;

/// The session tools of `sessions`, starting sessions with the `hm`
/// configuration `config` when given.
fn session_tools(sessions: &Sessions, config: Option<&std::path::Path>) -> SessionTools {
    let mut launcher = Launcher::new().hm(hm()).socket_dir(sessions.path());
    if let Some(config) = config {
        launcher = launcher.config(config);
    }
    tools_with(launcher, sessions, 4)
}

/// The config of a session that keeps little: a 4096-byte scrollback and
/// live window (the ring holds 64 KiB more), kept in the returned directory.
fn small_ring() -> (tempfile::TempDir, std::path::PathBuf) {
    hm_config("scrollback_bytes = 4096\nlive_window_bytes = 4096\n")
}

async fn call(tools: &SessionTools, name: &str, args: serde_json::Value) -> ToolOutput {
    let limit = Duration::from_secs(60);
    tokio::time::timeout(
        limit + Duration::from_secs(30),
        tools.call(name, &args, limit).expect("a session tool"),
    )
    .await
    .expect("the tool answered in time")
}

/// What one read said of itself.
#[derive(Debug)]
struct Read {
    /// The range it says it covers (`bytes A..B`).
    from: u64,
    to: u64,
    /// Its `next offset`.
    next: u64,
    /// The ranges it says were skipped, missed or are no longer kept.
    missing: Vec<(u64, u64)>,
    /// The text shown ("" when none).
    text: String,
    /// Everything it said, for messages.
    said: String,
}

fn parse(out: &ToolOutput) -> Read {
    assert!(!out.is_error, "{}", out.text);
    let (head, text) = match &out.untrusted_source {
        Some(source) => (source.clone(), out.text.clone()),
        None => (out.text.clone(), String::new()),
    };
    let range = Regex::new(r"bytes (\d+)\.\.(\d+)[^;]*; next offset (\d+)").unwrap();
    let c = range
        .captures(&head)
        .unwrap_or_else(|| panic!("no range in {head:?}"));
    let n = |i: usize| c[i].parse::<u64>().unwrap();
    let missing = Regex::new(r"bytes (\d+)\.\.(\d+) (are no longer kept|skipped|were missed)")
        .unwrap()
        .captures_iter(&head)
        .map(|m| (m[1].parse().unwrap(), m[2].parse().unwrap()))
        .collect();
    Read {
        from: n(1),
        to: n(2),
        next: n(3),
        missing,
        text,
        said: format!("{head}\n{}", out.text),
    }
}

/// The flood: lines of ten digits, line `n` holding `n` at output offset
/// `LINE * n` (the terminal writes `\r\n` for the program's `\n`).
const FLOOD: &str = "python3 -c 'import sys, itertools; w = sys.stdout.buffer.write; \
     [w(b\"\".join(b\"%010d\\n\" % n for n in range(k * 1000, k * 1000 + 1000))) \
     for k in itertools.count()]'";
const LINE: u64 = 12;

/// Check `read`, which follows a read that ended at `prev`: it covers
/// `prev..next` exactly, what it says is missing lies in that range, in
/// order, and what it shows is the flood's lines of the rest (with the
/// line the read before it ended on, when that did not end in a gap: its
/// first line goes on from there). Returns whether it was shown in one
/// piece.
fn check(prev: u64, prev_cut: bool, read: &Read) -> bool {
    let said = &read.said;
    assert!(
        read.from >= prev && read.from <= read.to && read.next == read.to,
        "after offset {prev}: {said}"
    );
    // Shown: the ranges between what is missing, from `prev` to the end.
    let mut at = prev;
    let mut shown = Vec::new();
    for &(a, b) in &read.missing {
        assert!(a >= at && b > a && b <= read.to, "after {prev}: {said}");
        if a > at {
            shown.push((at, a));
        }
        at = b;
    }
    if read.to > at {
        shown.push((at, read.to));
    }
    assert!(
        shown.first().is_none_or(|s| s.0 >= read.from),
        "bytes before the range it covers are shown: {said}"
    );
    let shown_bytes: u64 = shown.iter().map(|(a, b)| b - a).sum();
    if read.text.is_empty() {
        assert_eq!(shown_bytes, 0, "no text for bytes it says it shows: {said}");
        return false;
    }
    // Each piece of text between two gaps' lines shows exactly the flood's
    // lines in its bytes: a line a gap cut is not joined with another.
    let pieces = pieces(&read.text);
    assert_eq!(pieces.len(), read.missing.len() + 1, "gaps' lines: {said}");
    let mut at = prev;
    for (i, piece) in pieces.iter().enumerate() {
        let cut = read.missing.get(i);
        let (a, b) = (at, cut.map_or(read.to, |m| m.0));
        let complete = lines(piece);
        // A line whose digits came whole before a gap reads whole.
        let last = if cut.is_some() {
            (b + 2) / LINE
        } else {
            b / LINE
        };
        let first = if i == 0 && !prev_cut {
            a / LINE
        } else {
            a.div_ceil(LINE)
        };
        let want: Vec<u64> = (first..last.max(first)).collect();
        assert_eq!(
            complete, want,
            "the lines shown are not those of bytes {a}..{b}: {said}"
        );
        at = cut.map_or(at, |m| m.1);
    }
    shown.len() == 1
}

/// The numbers of the flood's lines (ten digits) in `text`, as also
/// `seq -f %010g` writes them (line `n` at offset `LINE * (n - 1)`).
fn lines(text: &str) -> Vec<u64> {
    text.split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .filter(|l| l.len() == 10)
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// The text of a read cut at its gaps' lines (`[… bytes A..B … …]`).
fn pieces(text: &str) -> Vec<String> {
    let gap = Regex::new(r"^\[… bytes \d+\.\.\d+ .* …\]$").unwrap();
    let mut pieces = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if gap.is_match(line.trim_end_matches('\n')) {
            pieces.push(String::new());
        } else if let Some(piece) = pieces.last_mut() {
            piece.push_str(line);
        }
    }
    pieces
}

/// Reads of a flood, back to back, tile its output: a read says the
/// exact range it covers; what it does not show is reported missing once,
/// inside that range, and the next read starts where it ended. The ring
/// is small, so the flood overtakes a read between its look at the
/// output's end and its subscription (a read once said "no new output"
/// with a missed range past its own end, which the next read reported
/// again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_a_flood_tile_its_output() {
    let sessions = Sessions::new();
    let (_config_dir, config) = small_ring();
    let tools = session_tools(&sessions, Some(&config));
    let id = unique("agent-flood-reads");
    start(&tools, &id, FLOOD).await;
    let mut prev = 0;
    let mut prev_cut = false;
    let mut past_end = 0;
    let mut whole = 0;
    for _ in 0..400 {
        let read = parse(&call(&tools, "session_read", json!({"id": id})).await);
        whole += usize::from(check(prev, prev_cut, &read));
        prev_cut = read.missing.iter().any(|&(_, b)| b == read.to);
        past_end += usize::from(prev_cut);
        prev = read.next;
    }
    eprintln!("reads ending in a missed range: {past_end}, shown in one piece: {whole}");
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// Wait until session `id` shows a line matching `pattern`.
async fn wait_for(tools: &SessionTools, id: &str, pattern: &str) {
    let wait = json!({"id": id, "until": "regex", "pattern": pattern, "timeout_secs": 30});
    let waited = call(tools, "session_wait", wait).await;
    assert!(!waited.is_error, "{}", waited.text);
}

/// Where a subscriber asking for output from `offset` of session `id` is
/// told its stream starts: the oldest byte the supervisor keeps, when
/// `offset` is older.
async fn oldest_kept(sessions: &Sessions, id: &str, offset: u64) -> u64 {
    let client = heimdall_client::SocketDir::new(sessions.path())
        .connect(id, heimdall_client::ClientBuilder::new())
        .await
        .expect("connect");
    let mut stream = client.output(offset).await.expect("subscribe");
    match stream.next().await {
        Some(heimdall_client::OutputItem::Gap { from, to, .. }) if from == offset => to,
        Some(heimdall_client::OutputItem::Data { offset: o, .. }) if o == offset => offset,
        other => panic!("the stream from {offset} began with {other:?}"),
    }
}

/// A read says bytes are no longer kept only of those the supervisor no
/// longer holds, and shows the rest from the oldest byte it holds. The
/// supervisor keeps more than the scrollback (the live window besides):
/// reads started at the scrollback's start and said the bytes before it
/// were no longer kept (24000 bytes written, a 4096-byte scrollback: the
/// first read said bytes 0..19904 were lost, and showed none of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_says_lost_only_what_the_supervisor_no_longer_keeps() {
    let sessions = Sessions::new();
    let (_config_dir, config) = small_ring();
    let tools = session_tools(&sessions, Some(&config));
    let id = unique("agent-kept");
    let command = "stty -echo; seq -f %010g 1 2000; read x; seq -f %010g 2001 80000; exec cat";
    start(&tools, &id, command).await;
    wait_for(&tools, &id, "^0000002000$").await;
    let first = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(
        (first.from, first.to, &first.missing[..]),
        (0, 2000 * LINE, &[][..]),
        "{}",
        first.said
    );
    assert_eq!(
        lines(&first.text),
        (1..=2000).collect::<Vec<_>>(),
        "{}",
        first.said
    );

    enter(&tools, &id).await;
    wait_for(&tools, &id, "^0000080000$").await;
    let second = parse(&call(&tools, "session_read", json!({"id": id})).await);
    let oldest = oldest_kept(&sessions, &id, first.next).await;
    assert!(
        oldest > first.next,
        "the flood is all kept: {}",
        second.said
    );
    assert_eq!(
        (second.from, second.to, &second.missing[..]),
        (first.next, 80_000 * LINE, &[(first.next, oldest)][..]),
        "{}",
        second.said
    );
    let from_line = oldest.div_ceil(LINE) + 1;
    assert_eq!(
        lines(&second.text),
        (from_line..=80_000).collect::<Vec<_>>(),
        "{}",
        second.said
    );
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// A character cut by bytes no longer kept shows as U+FFFD (it was
/// dropped), and what comes after the gap is shown apart from what came
/// before it, below the gap's line: here the first read ends with the
/// first two bytes of `─`, and a flood larger than the session keeps
/// follows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_character_cut_by_a_gap_shows_as_a_replacement_character() {
    let sessions = Sessions::new();
    let (_config_dir, config) = small_ring();
    let tools = session_tools(&sessions, Some(&config));
    let id = unique("agent-cut-char");
    let command = r"stty -echo; printf 'top\n\342\224'; read x; seq -f %010g 1 80000; exec cat";
    start_and_read_top(&tools, &id, command).await;
    enter(&tools, &id).await;
    wait_for(&tools, &id, "^0000080000$").await;
    let second = parse(&call(&tools, "session_read", json!({"id": id})).await);
    let oldest = oldest_kept(&sessions, &id, 7).await;
    let head = format!("\u{fffd}\n[… bytes 7..{oldest} are no longer kept by the session …]\n");
    assert!(second.text.starts_with(&head), "{}", second.said);
    assert!(second.text.ends_with("\n0000080000\n"), "{}", second.said);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// A read goes on from the line the last one ended on: a command typed
/// at a shell's prompt reads after the prompt. bash shows a pasted line,
/// then draws it again after the prompt, moving right from the line's
/// start: the read after the one that showed the prompt drew both on a
/// blank line and read `echo helloecho hello`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_typed_at_a_prompt_reads_after_the_prompt() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-prompt");
    let command = "PS1='ready> ' exec bash --norc --noprofile -i";
    start(&tools, &id, command).await;
    wait_for(&tools, &id, "^ready>").await;
    let first = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(first.text, "ready>", "{}", first.said);
    let text = json!({"id": id, "text": "echo hello"});
    let submitted = call(&tools, "session_submit", text).await;
    assert!(!submitted.is_error, "{}", submitted.text);
    wait_for(&tools, &id, "^hello$").await;
    let second = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert!(
        second.text.starts_with("ready> echo hello\nhello\n"),
        "{}",
        second.said
    );
    assert!(second
        .said
        .contains("its first line goes on from the line the last read ended on"));
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// Two reads of a session at once tile its output as one after the other
/// do: both showed the same output, and where the next read went on from
/// was set by the one that finished last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reads_at_once_read_one_after_the_other() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-race");
    start(&tools, &id, "seq -f %010g 1 20; exec cat").await;
    wait_for(&tools, &id, "^0000000020$").await;
    let read = json!({"id": id});
    let (a, b) = tokio::join!(
        call(&tools, "session_read", read.clone()),
        call(&tools, "session_read", read.clone())
    );
    let (a, b) = (parse(&a), parse(&b));
    let (first, second) = if a.from == 0 { (a, b) } else { (b, a) };
    assert_eq!(
        (first.from, first.to, second.from, second.to),
        (0, 20 * LINE, 20 * LINE, 20 * LINE),
        "{}\n{}",
        first.said,
        second.said
    );
    assert_eq!(lines(&first.text), (1..=20).collect::<Vec<_>>());
    assert_eq!(second.text, "", "{}", second.said);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// Start `command` as session `id`, which writes `top`, a line break and
/// no more text, and waits for a line; read that.
async fn start_and_read_top(tools: &SessionTools, id: &str, command: &str) {
    start(tools, id, command).await;
    wait_for(tools, id, "^top$").await;
    let first = parse(&call(tools, "session_read", json!({"id": id})).await);
    assert_eq!(first.text, "top\n", "{}", first.said);
}

/// Start `command` as session `id`.
async fn start(tools: &SessionTools, id: &str, command: &str) {
    let started = call(
        tools,
        "session_start",
        json!({"command": command, "id": id}),
    )
    .await;
    assert!(!started.is_error, "{}", started.text);
}

/// Type Enter into session `id`.
async fn enter(tools: &SessionTools, id: &str) {
    let sent = call(tools, "session_send", json!({"id": id, "text": "\r"})).await;
    assert!(!sent.is_error, "{}", sent.text);
}

/// Type Enter into session `id`, wait for its `done` and read.
async fn enter_and_read_after_done(tools: &SessionTools, id: &str) -> Read {
    enter(tools, id).await;
    wait_for(tools, id, "done").await;
    parse(&call(tools, "session_read", json!({"id": id})).await)
}

/// What one read sets up in the terminal holds in the next: a character
/// set chosen (DEC special graphics, as ncurses does for its boxes) at the
/// end of one read draws the next read's lines as boxes, not letters. A
/// read that does not go on from the last (from an offset of the model's
/// choosing, or after output no longer kept) starts on a fresh terminal,
/// as one that starts there shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_character_set_chosen_in_one_read_holds_in_the_next() {
    let sessions = Sessions::new();
    let (_config_dir, config) = small_ring();
    let tools = session_tools(&sessions, Some(&config));
    let id = unique("agent-charset-reads");
    // The second part ends in DEC special graphics; the third starts with
    // more than the session keeps.
    let command = r"stty -echo; printf 'top\n\033(0'; read x; printf 'lqqk\033(B done\n\033(0'; \
                    read x; seq 1 40000; printf 'lqqk\033(B gone\n'; exec cat";
    start_and_read_top(&tools, &id, command).await;
    enter(&tools, &id).await;
    wait_for(&tools, &id, "done").await;
    let second = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(second.text, "┌──┐ done\n", "{}", second.said);
    let again = json!({"id": id, "offset": second.from});
    let again = parse(&call(&tools, "session_read", again).await);
    assert_eq!(again.text, "lqqk done\n", "{}", again.said);

    enter(&tools, &id).await;
    wait_for(&tools, &id, "gone").await;
    let third = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert!(
        third.text.ends_with("\n40000\nlqqk gone\n")
            && third.missing.first().is_some_and(|m| m.0 == again.next),
        "{}",
        third.said
    );
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// The terminal's state carries into a read the exit record answers,
/// once the session has ended and its supervisor is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_character_set_chosen_before_the_end_holds_in_the_exit_records_read() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-charset-end");
    let command = r"stty -echo; printf 'top\n\033(0'; read x; printf 'lqqk\033(B done\n'";
    start_and_read_top(&tools, &id, command).await;

    enter(&tools, &id).await;
    until_supervisor_gone(&sessions, &id).await;
    let second = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert!(
        second.said.contains("from its exit record"),
        "{}",
        second.said
    );
    assert_eq!(second.text, "┌──┐ done\n", "{}", second.said);
}

/// A read that ends inside an escape sequence (the program wrote the rest
/// later, as a flood cut anywhere does) leaves it whole for the next read:
/// the next read shows the text after it, not the sequence's last bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_cut_between_two_reads_acts_whole() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-cut-sequence");
    let command =
        r"stty -echo; printf 'top\n\033[3'; read x; printf '1mred\033[0m done\n'; exec cat";
    start_and_read_top(&tools, &id, command).await;
    let second = enter_and_read_after_done(&tools, &id).await;
    assert_eq!(second.text, "red done\n", "{}", second.said);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// A read that ends inside a string longer than is held for the next read
/// (an OSC 52 clipboard copy of 8000 bytes) leaves the next read inside
/// it: the next read shows the text after the string, not its last bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_string_cut_between_two_reads_shows_nothing_of_its_rest() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-cut-string");
    let command = r"stty -echo; printf 'top\n\033]52;c;'; head -c 5000 /dev/zero | tr '\0' A; read x; head -c 3000 /dev/zero | tr '\0' B; printf '\007 done\n'; exec cat";
    start(&tools, &id, command).await;
    // The first read comes once the whole of the string so far is written
    // ("top\r\n", its 7-byte start, the 5000 `A`s).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = call(&tools, "session_status", json!({"id": id})).await;
        let status: serde_json::Value = serde_json::from_str(&status.text).expect("status JSON");
        if status["output_offset"].as_u64() >= Some(5012) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(
        (first.to, first.text.as_str()),
        (5012, "top\n"),
        "{}",
        first.said
    );
    let second = enter_and_read_after_done(&tools, &id).await;
    assert_eq!(second.text, " done\n", "{}", second.said);
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// A session started again under an id that ended is read from its start:
/// the reads of the session that had the id before went on from where
/// they got to, so the new one's first bytes (here all of them) were
/// skipped without a word ("no new output") and the old terminal's state
/// (a character set) applied to them. It is the agent's once: the cleanup
/// named it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_again_under_an_ended_id_is_read_from_its_start() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("agent-again");
    let first = format!(r"printf 'top\n\033(0{}\n'", "x".repeat(200));
    start(&tools, &id, &first).await;
    until_supervisor_gone(&sessions, &id).await;
    let read = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(read.next, 210, "{}", read.said);
    start(&tools, &id, "printf 'again lqqk\\n'; exec cat").await;
    wait_for(&tools, &id, "^again").await;
    let read = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!(
        (read.from, read.text.as_str()),
        (0, "again lqqk\n"),
        "{}",
        read.said
    );
    assert_eq!(tools.cleanup(Duration::from_secs(15)).await, [id.as_str()]);
}

/// `max_bytes` bounds a read of a session that has ended too (from its
/// exit record): the read says how much more is kept, stops short of a
/// character it would cut, and the next read goes on from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_sessions_output_is_read_in_pieces() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("read-ended-pieces");
    start(&tools, &id, "printf 'aaaa\\nb€b\\ncccc\\n'").await;
    until_supervisor_gone(&sessions, &id).await;
    // "aaaa\r\nb" and the first byte of "€".
    let first = parse(&call(&tools, "session_read", json!({"id": id, "max_bytes": 8})).await);
    assert_eq!((first.from, first.next), (0, 7), "{}", first.said);
    assert_eq!(first.text, "aaaa\nb", "{}", first.said);
    assert!(
        first.said.contains("12 more bytes are kept"),
        "{}",
        first.said
    );
    let rest = parse(&call(&tools, "session_read", json!({"id": id})).await);
    assert_eq!((rest.from, rest.next), (7, 19), "{}", rest.said);
    assert_eq!(rest.text, "b€b\ncccc\n", "{}", rest.said);
}

/// A read from an offset past the end of the output says so (the model
/// asked for output that is not there), of a running session and of one
/// that has ended, and reads from the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_past_the_end_says_so() {
    let sessions = Sessions::new();
    let tools = session_tools(&sessions, None);
    let id = unique("read-past-end");
    start(&tools, &id, "printf 'abc\\n'; exec cat").await;
    wait_for(&tools, &id, "abc").await;
    let out = call(&tools, "session_read", json!({"id": id, "offset": 1000})).await;
    let read = parse(&out);
    assert_eq!((read.from, read.next), (5, 5), "{}", read.said);
    assert!(
        read.said
            .contains("offset 1000 is past the end of the output (5 bytes written): read from 5"),
        "{}",
        read.said
    );
    let killed = call(&tools, "session_kill", json!({"id": id})).await;
    assert!(!killed.is_error, "{}", killed.text);
    until_supervisor_gone(&sessions, &id).await;
    let read = parse(&call(&tools, "session_read", json!({"id": id, "offset": 1000})).await);
    assert!(
        read.said
            .contains("offset 1000 is past the end of the output (5 bytes written)"),
        "{}",
        read.said
    );
}
