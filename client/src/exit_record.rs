//! The exit record `<id>.exit`: how a session ended, written by its
//! supervisor beside the socket and kept until `hm clean` removes it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use heimdall_protocol::{RegexSource, ScreenResp, State, WaitCondition};
use serde::{Deserialize, Serialize};

use crate::types::WaitResult;

/// Lines of scrollback an exit record keeps with the final screen.
pub const RECORDED_SCROLLBACK: usize = 200;

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The session id.
    pub id: String,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// The child's working directory.
    pub cwd: String,
    /// The child's pid.
    pub pid: u32,
    /// Exit code (128+N when killed by signal N).
    pub code: i32,
    /// The signal that killed the child, if any.
    pub signal: Option<i32>,
    /// When the session started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339): when the supervisor saw the program exit,
    /// to the microsecond (older supervisors wrote when the record was
    /// written, to the second).
    pub ended_at: String,
    /// The last 4 KiB of output (lossy UTF-8), from a character's start.
    pub output_tail: String,
    /// The same bytes as they were, when they are not UTF-8 (so
    /// `output_tail` changed them); absent otherwise and in records of
    /// older versions. [`ExitRecord::tail_bytes`] gives whichever is exact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail_bytes: Option<Vec<u8>>,
    /// The output offset of `output_tail`'s first byte (absent in records
    /// of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tail_offset: Option<u64>,
    /// The offset just past the last byte of output: how many bytes the
    /// program wrote (absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_offset: Option<u64>,
    /// The final screen as text lines, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<Vec<String>>,
    /// The final screen as SCREEN answered it (text, with up to
    /// [`RECORDED_SCROLLBACK`] lines of scrollback), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_screen: Option<Box<ScreenResp>>,
    /// The same with colours and attributes (ANSI), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_screen_ansi: Option<Box<ScreenResp>>,
    /// The supervisor died (was SIGKILLed, say) before the program ended:
    /// its guardian ended the tree and wrote this record, with no output
    /// or screen, and `code`/`signal` are the guardian's account (the
    /// program's own status went with its supervisor): 9 (137) when the
    /// program outlived the grace period and got SIGKILL, else 1 (129),
    /// the hang-up of its terminal. Absent (false) otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub supervisor_died: bool,
}

/// What an exit record's `output_tail` holds from a given output offset on
/// ([`ExitRecord::output_from`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordedOutput<'a> {
    /// The recorded output from the offset asked for, or from `resume` when
    /// that is older than the record keeps (`missed` bytes are not kept).
    Bytes {
        /// Bytes between the offset asked for and `resume`, not kept.
        missed: u64,
        /// The offset of `bytes`' first byte.
        resume: u64,
        /// The output from `resume` to the end.
        bytes: &'a [u8],
    },
    /// The record cannot say where an offset is: it has no offsets, or its
    /// tail is not the output's bytes (an older version wrote it: it kept
    /// output that was not UTF-8 only as lossy text).
    Unknown,
}

impl ExitRecord {
    /// This record when its supervisor wrote it: the end it would have told
    /// a connection. `None` for one a guardian left for a supervisor that
    /// died ([`ExitRecord::supervisor_died`]): a connection to that
    /// supervisor was lost, whether or not the record is there yet, and its
    /// code is the guardian's account, not the program's own exit.
    pub fn told_by_supervisor(self) -> Option<ExitRecord> {
        (!self.supervisor_died).then_some(self)
    }

    /// The last bytes of output as the program wrote them when the record
    /// has them ([`ExitRecord::output_tail_bytes`]), else `output_tail`.
    pub fn tail_bytes(&self) -> &[u8] {
        self.output_tail_bytes
            .as_deref()
            .unwrap_or(self.output_tail.as_bytes())
    }

    /// The recorded output from output offset `from` on.
    pub fn output_from(&self, from: u64) -> RecordedOutput<'_> {
        let (Some(start), Some(end)) = (self.output_tail_offset, self.output_offset) else {
            return RecordedOutput::Unknown;
        };
        let tail = self.tail_bytes();
        if end.checked_sub(start) != Some(tail.len() as u64) {
            return RecordedOutput::Unknown;
        }
        let resume = from.clamp(start, end);
        RecordedOutput::Bytes {
            missed: resume.saturating_sub(from),
            resume,
            bytes: &tail[(resume - start) as usize..],
        }
    }

    /// Write atomically (temp file + rename), mode 0600. Never through a
    /// symlink: the temporary file is created anew (`O_EXCL`, which does
    /// not follow one; a leftover is removed first, which removes a link
    /// itself, not its target), and the rename replaces whatever `path`
    /// names rather than writing into it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("exit.tmp");
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
            f.write_all(b"\n")?;
        }
        std::fs::rename(&tmp, path)
    }

    /// The latest moment the program may have exited at by `ended_at`
    /// (the time plus the unit it was truncated to), when it parses.
    pub fn ended_by(&self) -> Option<SystemTime> {
        let at = humantime::parse_rfc3339(&self.ended_at).ok()?;
        let digits = self
            .ended_at
            .split_once('.')
            .map_or(0, |(_, frac)| frac.trim_end_matches('Z').len());
        let unit = Duration::from_secs(1) / 10u32.checked_pow(digits.min(9) as u32)?;
        Some(at + unit)
    }

    /// The final screen as the text a screen WAIT matches: the visible
    /// lines joined by `\n`, trailing empty lines dropped; `None` when the
    /// record has no screen.
    pub fn final_screen_text(&self) -> Option<String> {
        let lines = match (&self.final_screen, &self.screen) {
            (Some(s), _) => &s.lines,
            (None, Some(lines)) => lines,
            (None, None) => return None,
        };
        let end = lines
            .iter()
            .rposition(|l| !l.trim_end().is_empty())
            .map_or(0, |i| i + 1);
        let lines: Vec<&str> = lines[..end].iter().map(|l| l.trim_end()).collect();
        Some(lines.join("\n"))
    }

    /// What a WAIT for `condition` answers once the session has ended, from
    /// this record: the exit for an exit wait, the `dead` state for a wait
    /// for that state, a match of a screen regex on the final screen (the
    /// program may have drawn it just before exiting), else [`WaitResult::EndedFirst`] (output written from now on cannot
    /// come any more).
    pub fn wait_answer(&self, condition: &WaitCondition) -> WaitResult {
        let (code, signal) = (self.code, self.signal);
        match condition {
            WaitCondition::Exit => return WaitResult::Exited { code, signal },
            // The state of an ended session, as the supervisor answers it.
            WaitCondition::State { state: State::Dead } => {
                return WaitResult::State {
                    state: State::Dead.into(),
                }
            }
            WaitCondition::Regex {
                pattern,
                source: RegexSource::Screen,
            } => {
                let re = crate::screen_regex::compile(pattern).ok();
                let text = self.final_screen_text();
                if let (Some(re), Some(text)) = (re, text) {
                    if let Some((m, line)) = crate::screen_regex::find_on_screen(&re, &text) {
                        return WaitResult::Regex {
                            matched: m.to_string(),
                            line: Some(line),
                            output_offset: None,
                        };
                    }
                }
            }
            _ => {}
        }
        WaitResult::EndedFirst { code, signal }
    }

    /// Read a record; anything but a regular file (a FIFO, a symlink) is
    /// refused without blocking.
    pub fn read(path: &Path) -> std::io::Result<ExitRecord> {
        let text = crate::regular_file::read_regular_file(path)?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }
}
