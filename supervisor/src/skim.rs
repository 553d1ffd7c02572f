//! A cheap reader of output the screen model skips (see [`crate::screen`]):
//! it steps from control byte to control byte (memchr; text is passed over
//! whole) and keeps only what a skip's tail needs from the skipped bytes —
//! whether they end inside an escape sequence or a string (an inline image,
//! a long title), the last title, and the sequences that set state not tied
//! to the cursor's place (the pen, modes, the scroll region, character
//! sets, a clear of the screen, a reset).

use memchr::{memchr, memchr2, memchr3};

use crate::scan::{self, BLOCK};
use kept::{Kept, Key, Pen};

mod kept;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;
/// Shift out and shift in: G1 or G0 in use.
const SO: u8 = 0x0e;
const SI: u8 = 0x0f;

/// Parameter bytes of a CSI kept at most (more are not state worth keeping).
const CSI_KEEP: usize = 64;

/// Where the parser is after the bytes read so far (what it collected is
/// in [`Skim::buf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC and the intermediates in `buf`.
    Esc,
    /// Inside a CSI, with its parameter and intermediate bytes in `buf`.
    Csi,
    /// Inside a string (OSC `]`, DCS `P`, APC `_`, PM `^`, SOS `X`): its
    /// kind, and whether `buf` is still read into (an OSC's whole while it
    /// may set the title; else `buf` is its opening: ESC, the kind, an
    /// OSC's number).
    Str(u8, bool),
}

/// What a stretch of output did that outlives it.
#[derive(Debug, Clone)]
pub struct Skim {
    state: State,
    /// What the sequence or string under way collected.
    buf: Vec<u8>,
    /// Bytes of the output since the unfinished sequence's ESC.
    open_len: usize,
    /// State-setting sequences, each kind of state once.
    kept: Kept,
    /// The last title set (the whole OSC).
    title: Option<Vec<u8>>,
    /// Keeps nothing, only where the parser is (see [`Skim::tracker`]).
    track_only: bool,
    /// Where, in the bytes being read, the SGRs read but not kept yet
    /// begin (see [`Skim::flush`]); `None` between reads.
    lazy: Option<usize>,
}

impl Default for Skim {
    fn default() -> Skim {
        Skim {
            state: State::Ground,
            buf: Vec::new(),
            open_len: 0,
            kept: Kept::default(),
            title: None,
            track_only: false,
            lazy: None,
        }
    }
}

/// Where parsing can resume in bytes read in the ground state.
#[derive(Debug, PartialEq, Eq)]
pub enum Resume {
    /// At this ESC starting an absolute cursor move (CUP/HVP): the move
    /// puts the cursor where the program meant it.
    CursorMove(usize),
    /// At this line feed or carriage return: the text that follows starts
    /// at column 0.
    LineStart(usize),
}

impl Skim {
    /// A skim that keeps nothing but where the parser is, for a reader of
    /// everything parsed to tell where a skim of what follows starts
    /// ([`Skim::continued`]).
    pub fn tracker() -> Skim {
        Skim {
            track_only: true,
            ..Skim::default()
        }
    }

    /// This skim keeping nothing from now on (see [`Skim::tracker`]).
    pub fn tracking(self) -> Skim {
        Skim {
            track_only: true,
            ..self
        }
    }

    /// A skim (keeping state) of what follows the bytes this one read:
    /// it starts where they left the parser.
    pub fn continued(&self) -> Skim {
        Skim {
            state: self.state,
            buf: self.buf.clone(),
            open_len: self.open_len,
            ..Skim::default()
        }
    }

    /// Read `bytes`, the output's next.
    pub fn read(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.state == State::Ground {
                i = self.blocks(bytes, i);
                if i == bytes.len() {
                    break;
                }
            }
            i = self.step(bytes, i, false).0;
        }
        self.flush(bytes, bytes.len());
    }

    /// Read `bytes` up to the first point, in the ground state, where
    /// parsing can resume (not read): `None` when there is none (all read).
    pub fn read_to_resume(&mut self, bytes: &[u8]) -> Option<Resume> {
        let mut i = 0;
        while i < bytes.len() {
            let (next, resume) = self.step(bytes, i, true);
            if let Some(Resume::CursorMove(at) | Resume::LineStart(at)) = resume {
                self.flush(bytes, at);
                return resume;
            }
            i = next;
        }
        self.flush(bytes, bytes.len());
        None
    }

    /// Read `bytes` until the ground state: how many were read, `None` when
    /// all of them are inside the sequence or string under way.
    pub fn read_to_ground(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while self.state != State::Ground {
            if i == bytes.len() {
                return None;
            }
            i = self.step(bytes, i, false).0;
        }
        Some(i)
    }

    /// The sequences that put a terminal in the state the bytes read left
    /// (but for one unfinished: see [`Skim::opening`]), in order.
    pub fn kept(&self) -> Vec<u8> {
        let mut out = self.kept.bytes().to_vec();
        if let Some(title) = &self.title {
            out.extend_from_slice(title);
        }
        out
    }

    /// The start of the sequence or string the bytes read end inside (empty
    /// when none), so that the bytes that follow are parsed as its rest;
    /// and how many bytes of the output it stands for.
    pub fn opening(&self) -> (Vec<u8>, usize) {
        let open = match self.state {
            State::Ground => return (Vec::new(), 0),
            State::Esc => [&[ESC][..], &self.buf].concat(),
            State::Csi => [&[ESC, b'['][..], &self.buf].concat(),
            State::Str(..) => self.buf.clone(),
        };
        (open, self.open_len)
    }

    /// One step from `at`: where the next begins, and (when `resume` is
    /// asked for) a resume point found at `at`.
    fn step(&mut self, bytes: &[u8], at: usize, resume: bool) -> (usize, Option<Resume>) {
        let rest = &bytes[at..];
        match self.state {
            State::Ground => {
                let found = if resume {
                    let line = memchr3(ESC, b'\r', b'\n', rest);
                    let shift = memchr2(SO, SI, &rest[..line.unwrap_or(rest.len())]);
                    shift.or(line)
                } else {
                    memchr3(ESC, SO, SI, rest)
                };
                let Some(k) = found else {
                    return (bytes.len(), None);
                };
                let b = rest[k];
                if resume && (b == b'\r' || b == b'\n') {
                    return (at + k + 1, Some(Resume::LineStart(at + k)));
                }
                if resume && b == ESC && is_cursor_move(&rest[k..]) {
                    return (at + k, Some(Resume::CursorMove(at + k)));
                }
                // A whole CSI (a colour flood's SGRs) in one step.
                if b == ESC && rest.get(k + 1) == Some(&b'[') {
                    let params = &rest[k + 2..];
                    let n = run(params, 0x20..=0x3f);
                    if let Some(&last) = params.get(n).filter(|b| (0x40..=0x7e).contains(*b)) {
                        match last {
                            // Kept at the next flush, from the last reset on.
                            b'm' if !self.track_only
                                && (self.lazy.is_none() || is_reset(&params[..n])) =>
                            {
                                self.lazy = Some(at + k);
                            }
                            b'h' | b'l' | b'J' | b'r' => {
                                self.flush(bytes, at + k);
                                self.csi_keep(&params[..n.min(CSI_KEEP)], last);
                            }
                            _ => {}
                        }
                        return (at + k + 2 + n + 1, None);
                    }
                }
                self.flush(bytes, at + k);
                self.control(b);
                (at + k + 1, None)
            }
            State::Esc => {
                let n = run(rest, 0x20..=0x2f);
                self.collect(&rest[..n]);
                let Some(&b) = rest.get(n) else {
                    return (bytes.len(), None);
                };
                self.open_len += 1;
                match b {
                    b'[' if self.buf.is_empty() => self.state = State::Csi,
                    b']' | b'P' | b'_' | b'^' | b'X' if self.buf.is_empty() => {
                        self.buf.extend_from_slice(&[ESC, b]);
                        self.state = State::Str(b, b == b']');
                    }
                    0x30..=0x7e => {
                        self.state = State::Ground;
                        self.esc_dispatch(b);
                    }
                    _ => return self.control_inside(at + n, b),
                }
                (at + n + 1, None)
            }
            State::Csi => {
                let n = run(rest, 0x20..=0x3f);
                self.collect(&rest[..n]);
                let Some(&b) = rest.get(n) else {
                    return (bytes.len(), None);
                };
                if !(0x40..=0x7e).contains(&b) {
                    return self.control_inside(at + n, b);
                }
                self.open_len += 1;
                self.state = State::Ground;
                self.csi_dispatch(b);
                (at + n + 1, None)
            }
            State::Str(kind, mut title) => {
                let end = if kind == b']' {
                    memchr3(BEL, ESC, CAN, rest)
                } else {
                    memchr2(ESC, CAN, rest)
                };
                let end = memchr(SUB, &rest[..end.unwrap_or(rest.len())]).or(end);
                let body = &rest[..end.unwrap_or(rest.len())];
                self.open_len += body.len();
                if title {
                    self.buf.extend_from_slice(body);
                    title = osc_title(&mut self.buf);
                }
                let Some(k) = end else {
                    self.state = State::Str(kind, title);
                    return (bytes.len(), None);
                };
                let b = rest[k];
                self.state = State::Ground;
                if title && b != CAN && b != SUB && self.buf.len() > 4 && !self.track_only {
                    let mut osc = std::mem::take(&mut self.buf);
                    osc.push(BEL);
                    self.title = Some(osc);
                }
                self.buf.clear();
                // ESC ends the string and begins a sequence (ST is ESC \):
                // read from ground.
                (at + k + usize::from(b != ESC), None)
            }
        }
    }

    /// From `at` in the ground state, read whole blocks of text and CSIs
    /// that keep nothing or an SGR (a colour flood: see [`crate::scan`]) as
    /// [`Skim::step`] does; where it is to go on: at a control byte the
    /// blocks leave to it, or where less than a block is left.
    fn blocks(&mut self, bytes: &[u8], mut at: usize) -> usize {
        while let Some(block) = bytes[at..].first_chunk::<BLOCK>() {
            let m = scan::classify(block);
            let (mut ctrl, param) = (m.esc | m.shift, m.param);
            if ctrl == 0 {
                // Text alone: on to the next control byte at memchr's pace
                // (a plain flood is one search per read).
                return memchr3(ESC, SO, SI, &bytes[at + BLOCK..])
                    .map_or(bytes.len(), |k| at + BLOCK + k);
            }
            while ctrl != 0 {
                let p = ctrl.trailing_zeros() as usize;
                // ESC [, its parameters and its final byte in the block.
                let from = p + 2;
                if block.get(p + 1) != Some(&b'[') || from >= BLOCK {
                    return at + p;
                }
                let end = from + (!param >> from).trailing_zeros() as usize;
                match block.get(end) {
                    Some(b'm') => {
                        if !self.track_only && (self.lazy.is_none() || is_reset(&block[from..end]))
                        {
                            self.lazy = Some(at + p);
                        }
                    }
                    Some(b'h' | b'l' | b'J' | b'r') | None => return at + p,
                    Some(0x40..=0x7e) => {}
                    Some(_) => return at + p,
                }
                // Nothing from the ESC to the final byte is a control byte.
                ctrl &= ctrl - 1;
            }
            at += BLOCK;
        }
        at
    }

    /// Keep the SGRs read but not kept yet, up to `end` of `bytes`: whole
    /// CSIs of the ground state read in one step, among text and CSIs that
    /// keep nothing (anything else keeps them first). A colour flood so
    /// costs a look at each SGR's parameters, and only those after the
    /// last reset are kept.
    fn flush(&mut self, bytes: &[u8], end: usize) {
        let Some(from) = self.lazy.take() else {
            return;
        };
        let bytes = &bytes[..end];
        let mut i = from;
        while let Some(k) = memchr(ESC, &bytes[i..]) {
            let at = i + k;
            i = at + 1;
            if bytes.get(at + 1) != Some(&b'[') {
                continue;
            }
            let params = &bytes[at + 2..];
            let n = run(params, 0x20..=0x3f);
            if params.get(n) == Some(&b'm') {
                self.csi_keep(&params[..n.min(CSI_KEEP)], b'm');
                i = at + 2 + n + 1;
            }
        }
    }

    /// Collect bytes of a sequence (at most [`CSI_KEEP`]).
    fn collect(&mut self, bytes: &[u8]) {
        self.open_len += bytes.len();
        let room = CSI_KEEP.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// A control byte `b` at `at` inside an escape sequence: ESC, CAN and
    /// SUB end it (an ESC is read again from ground, where it begins the
    /// next), others are carried out within it.
    fn control_inside(&mut self, at: usize, b: u8) -> (usize, Option<Resume>) {
        match b {
            ESC => {
                self.state = State::Ground;
                return (at, None);
            }
            CAN | SUB => self.state = State::Ground,
            SO | SI if !self.track_only => self.keep(Key::Shift, &[&[b]]),
            _ => self.open_len += 1,
        }
        (at + 1, None)
    }

    /// A control byte in the ground state.
    fn control(&mut self, b: u8) {
        match b {
            ESC => {
                self.open_len = 1;
                self.buf.clear();
                self.state = State::Esc;
            }
            SO | SI if !self.track_only => self.keep(Key::Shift, &[&[b]]),
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, b: u8) {
        let inter = std::mem::take(&mut self.buf);
        match (&inter[..], b) {
            // A full reset: nothing before it counts.
            ([], b'c') => {
                let (title, track_only) = (self.title.take(), self.track_only);
                *self = Skim {
                    title,
                    track_only,
                    ..Skim::default()
                };
                self.keep(Key::Switch, &[b"\x1bc"]);
            }
            ([], b'=' | b'>') => self.keep(Key::Keypad, &[&[ESC, b]]),
            ([g @ (b'(' | b')' | b'*' | b'+')], _) => self.keep(Key::Charset(*g), &[&[ESC, *g, b]]),
            _ => {}
        }
        self.buf = inter;
        self.buf.clear();
    }

    fn csi_dispatch(&mut self, last: u8) {
        let params = std::mem::take(&mut self.buf);
        self.csi_keep(&params, last);
        self.buf = params;
        self.buf.clear();
    }

    fn csi_keep(&mut self, params: &[u8], last: u8) {
        if self.track_only {
            return;
        }
        let private = params.first() == Some(&b'?');
        let plain = || {
            params
                .iter()
                .all(|b| b.is_ascii_digit() || matches!(b, b';' | b':'))
        };
        let keep = match last {
            b'm' => plain(),
            b'h' | b'l' => private || plain(),
            b'J' => params == b"2",
            b'r' => plain(),
            _ => false,
        };
        if !keep {
            return;
        }
        match last {
            b'm' => self.keep(Key::Sgr(pen_of(params)), &[&[ESC, b'['], params, b"m"]),
            b'J' => self.keep(Key::Clear, &[b"\x1b[2J"]),
            b'r' => self.keep(Key::Region, &[&[ESC, b'['], params, b"r"]),
            _ => {
                // Each mode on its own, replacing its last setting.
                let (prefix, numbers) = match params.strip_prefix(b"?") {
                    Some(numbers) => (&b"\x1b[?"[..], numbers),
                    None => (&b"\x1b["[..], params),
                };
                for field in numbers.split(|&b| b == b';') {
                    let Some(n) = std::str::from_utf8(field).ok().and_then(|f| f.parse().ok())
                    else {
                        continue;
                    };
                    let key = match (private, n) {
                        // Not held (see `feed_after_skip`).
                        (true, 2026) => continue,
                        (true, 3 | 6 | 47 | 1047 | 1048 | 1049) => Key::Switch,
                        _ => Key::Mode(private, n),
                    };
                    self.keep(key, &[prefix, field, &[last]]);
                }
            }
        }
    }

    /// Keep the sequence made of `parts`, which sets `key`.
    fn keep(&mut self, key: Key, parts: &[&[u8]]) {
        if !self.track_only {
            self.kept.push(key, parts);
        }
    }
}

/// What the SGR with `params` sets, as far as a later one can replace it.
fn pen_of(params: &[u8]) -> Pen {
    let colour = |base: &[u8]| {
        params.strip_prefix(base).is_some_and(|rest| {
            let fields = rest.iter().filter(|&&b| b == b';').count();
            matches!((rest.first(), fields), (Some(b'5'), 1) | (Some(b'2'), 3))
        })
    };
    match params {
        _ if is_reset(params) => Pen::Reset,
        [b'3' | b'9', b'0'..=b'9'] => Pen::Foreground,
        [b'4', b'0'..=b'9'] | [b'1', b'0', b'0'..=b'7'] => Pen::Background,
        _ if colour(b"38;") => Pen::Foreground,
        _ if colour(b"48;") => Pen::Background,
        _ => Pen::Other,
    }
}

/// Whether the SGR with `params` begins with a reset of the pen.
fn is_reset(params: &[u8]) -> bool {
    matches!(params, [] | [b';', ..] | [b'0'] | [b'0', b';', ..])
}

/// Whether the OSC whose bytes so far are `head` may set the title (OSC 0
/// or 2, or too short to tell); if not, `head` is cut to its number.
fn osc_title(head: &mut Vec<u8>) -> bool {
    let params = &head[2..];
    let title = [&b"0;"[..], b"2;"]
        .iter()
        .any(|p| params.starts_with(p) || p.starts_with(params));
    if !title {
        let number = params
            .iter()
            .position(|&b| b == b';')
            .map_or(params.len(), |n| n + 1);
        head.truncate(2 + number.min(16));
    }
    title
}

/// How many of the first bytes of `bytes` are in `range`.
fn run(bytes: &[u8], range: std::ops::RangeInclusive<u8>) -> usize {
    bytes
        .iter()
        .position(|b| !range.contains(b))
        .unwrap_or(bytes.len())
}

/// Whether `bytes` begins with an absolute cursor move (CSI row;col H/f).
fn is_cursor_move(bytes: &[u8]) -> bool {
    if bytes.first() != Some(&ESC) || bytes.get(1) != Some(&b'[') {
        return false;
    }
    let params = &bytes[2..];
    let n = params
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b';'));
    n.is_some_and(|n| matches!(params[n], b'H' | b'f'))
}

#[cfg(test)]
mod tests;
