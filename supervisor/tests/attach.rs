//! The terminal client, driven from a pty this test owns: what a person at
//! a terminal would see, checked on the rendered outer screen.

mod common;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use common::{one_zero_server, poll, Env, Piped, DEADLINE};
use heimdall_term::{restore, Terminal, STAND_IN};
use nix::sys::termios::{tcgetattr, Termios};

/// `hm` running in a pty whose master this test reads and renders as
/// xterm does: on `vt100`, with what it gets wrong put right
/// (`heimdall_term`: DEC special graphics, U+FFFD, insert mode, tab stops...).
struct Term {
    /// The pty's modes before `hm` started in it.
    initial: Termios,
    master: std::fs::File,
    child: Child,
    screen: Terminal,
    /// Every byte the client wrote to the terminal.
    raw: Vec<u8>,
    cols: u16,
    rows: u16,
}

fn winsize(cols: u16, rows: u16) -> nix::pty::Winsize {
    nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Term {
    fn spawn(env: &Env, args: &[&str], cols: u16, rows: u16) -> Term {
        let mut cmd = env.hm();
        cmd.args(args);
        Term::spawn_command(cmd, cols, rows)
    }

    /// `cmd` (hm, or a shell to type hm into) in a new pty.
    fn spawn_command(mut cmd: std::process::Command, cols: u16, rows: u16) -> Term {
        let pty = nix::pty::openpty(Some(&winsize(cols, rows)), None).expect("openpty");
        // Only this test holds the master: closing it hangs the terminal up.
        nix::fcntl::fcntl(
            &pty.master,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .expect("FD_CLOEXEC");
        let initial = tcgetattr(&pty.master).expect("tcgetattr");
        let slave: OwnedFd = pty.slave;
        let fd = slave.as_raw_fd();
        cmd.env("TERM", "xterm-256color")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(fd, libc::TIOCSCTTY as _, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn hm in a pty");
        let master = std::fs::File::from(pty.master);
        nix::fcntl::fcntl(
            &master,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        Term {
            initial,
            master,
            child,
            screen: Terminal::new(rows, cols, 0),
            raw: Vec::new(),
            cols,
            rows,
        }
    }

    fn termios(&self) -> Termios {
        tcgetattr(&self.master).expect("tcgetattr")
    }

    /// Read whatever the client wrote so far.
    fn pump(&mut self) {
        let mut buf = [0u8; 65536];
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    self.screen.process(&buf[..n]);
                    self.raw.extend_from_slice(&buf[..n]);
                }
                Err(_) => return,
            }
        }
    }

    /// Read like a terminal that drains slowly (a slow SSH link): at most
    /// 1 KiB every 20 ms, for `time`.
    fn pump_slowly(&mut self, time: Duration) {
        let end = Instant::now() + time;
        let mut buf = [0u8; 1024];
        while Instant::now() < end {
            if let Ok(n) = self.master.read(&mut buf) {
                self.screen.process(&buf[..n]);
                self.raw.extend_from_slice(&buf[..n]);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rows_text(&self) -> Vec<String> {
        self.screen
            .screen()
            .rows(0, self.cols)
            .map(|r| restore(r.trim_end()).into_owned())
            .collect()
    }

    fn text(&self) -> String {
        self.rows_text().join("\n")
    }

    fn wait_for(&mut self, what: &str, pred: impl Fn(&Term) -> bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            self.pump();
            if pred(self) {
                return;
            }
            if Instant::now() > end {
                panic!(
                    "timed out waiting for {what}; the terminal shows:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_text(&mut self, needle: &str) {
        let n = needle.to_string();
        self.wait_for(&format!("{needle:?} on the terminal"), move |t| {
            t.text().contains(&n)
        });
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.master.write_all(bytes).unwrap();
    }

    fn resize(&mut self, cols: u16, rows: u16) {
        let ws = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ with a valid winsize; the kernel signals the client.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        self.cols = cols;
        self.rows = rows;
        self.screen.set_size(rows, cols);
    }

    /// Wait for the client to exit; returns its code.
    fn wait_exit(&mut self) -> Option<i32> {
        let end = Instant::now() + DEADLINE;
        loop {
            self.pump();
            if let Some(st) = self.child.try_wait().unwrap() {
                self.pump();
                return st.code();
            }
            assert!(
                Instant::now() < end,
                "hm attach did not exit; screen:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn bar(&self) -> String {
        self.rows_text().last().cloned().unwrap_or_default()
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn same_termios(a: &Termios, b: &Termios) -> bool {
    a.input_flags == b.input_flags
        && a.output_flags == b.output_flags
        && a.control_flags == b.control_flags
        && a.local_flags == b.local_flags
        && a.control_chars == b.control_chars
}

fn bash(env: &Env, id: &str) {
    env.start(id, &[], &["bash", "--norc", "--noprofile"]);
    env.wait_screen(id, r"[#$] ?$");
}

#[test]
fn types_into_bash_then_detaches_restoring_the_terminal() {
    let env = Env::new();
    bash(&env, "b");
    let mut t = Term::spawn(&env, &["attach", "b"], 80, 20);
    let before = t.initial.clone();
    t.wait_for("the status bar", |t| t.bar().contains("hm │ b │"));
    assert!(t.bar().contains("Ctrl-\\ detach"), "{}", t.bar());
    assert!(
        !same_termios(&before, &t.termios()),
        "raw mode while attached"
    );
    t.type_bytes(b"echo attached-$((6*7))\r");
    t.wait_text("attached-42");
    assert!(
        t.bar().contains("hm │ b │"),
        "the bar stays on the last row"
    );
    // A line and the detach key in one go: the line still reaches bash.
    t.type_bytes(b"echo with-detach-$((6*7))\r\x1c");
    assert_eq!(t.wait_exit(), Some(0));
    env.wait_screen("b", "^with-detach-42$");
    assert!(
        same_termios(&before, &t.termios()),
        "termios restored after detach"
    );
    let text = t.text();
    assert!(
        text.contains("[detached from session b; reattach with: hm attach b]"),
        "{text}"
    );
    assert!(
        !text.contains("hm │ b │"),
        "the bar is gone after detach:\n{text}"
    );
    // The session is still running.
    assert_eq!(env.status_json("b")["alive"], true);
}

/// A key typed into a quiet session shows on the terminal as soon as its
/// echo comes back, not a render period later: the status bar's view draws
/// the first output after a pause at once (a flood is still drawn at most
/// every 16 ms). The fastest of 20 keys counts, so that a loaded machine's
/// slow ones do not.
#[test]
fn a_key_typed_into_a_quiet_session_shows_at_once() {
    let env = Env::new();
    env.start("typed", &[], &["cat"]);
    let mut t = Term::spawn(&env, &["attach", "typed"], 80, 20);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ typed │"));
    let mut fastest = Duration::MAX;
    for key in b"QXZJVQXZJVQXZJVQXZJV" {
        t.pump();
        let seen = t.raw.len();
        let typed = Instant::now();
        t.type_bytes(&[*key]);
        while !t.raw[seen..].contains(key) {
            assert!(typed.elapsed() < DEADLINE, "{} never shown", *key as char);
            let mut fds = [nix::poll::PollFd::new(
                t.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).expect("poll");
            t.pump();
        }
        fastest = fastest.min(typed.elapsed());
        // Typing, not a flood: the next key comes after a pause.
        std::thread::sleep(Duration::from_millis(40));
    }
    assert!(
        fastest < Duration::from_millis(10),
        "the fastest key took {fastest:?} to show"
    );
}

/// A program that redraws its whole screen in colour (16 KiB) at each key,
/// in two writes 1 ms apart (as a program that flushes its output twice).
const REDRAW: &str = r#"
import os, time, tty
tty.setraw(0)
n = 0
print("ready", end="", flush=True)
while os.read(0, 1) != b"q":
    n += 1
    rows = [f"\x1b[{r + 1};1H" + "".join(f"\x1b[3{(r + k + n) % 8};4{k % 8}m{k % 10}" for k in range(79)) for r in range(22)]
    os.write(1, "".join(rows[:11]).encode())
    time.sleep(0.001)
    os.write(1, ("".join(rows[11:]) + f"\x1b[0m\x1b[23;1Hend {n:03}").encode())
"#;

/// A screen redrawn in pieces that come together reaches the terminal in
/// one render, not its first piece at once and the rest a render period
/// later: 20 redraws, each counted by the renders of more than 2 KiB the
/// terminal got for it (each render begins by hiding the cursor). Before,
/// 19 or 20 of them came in two renders; now none on a quiet machine, and
/// up to 9 with both cores kept busy (the second piece late past the wait
/// for it).
#[test]
fn a_screen_redrawn_in_pieces_is_rendered_whole() {
    let env = Env::new();
    env.start("redraw", &[], &["python3", "-c", REDRAW]);
    env.wait_screen("redraw", "ready");
    let mut t = Term::spawn(&env, &["attach", "redraw"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ redraw │"));
    let mut split = Vec::new();
    for n in 1..=20 {
        t.pump();
        let seen = t.raw.len();
        t.type_bytes(b"k");
        t.wait_text(&format!("end {n:03}"));
        let big: Vec<usize> = String::from_utf8_lossy(&t.raw[seen..])
            .split("\x1b[?25l")
            .map(str::len)
            .filter(|&len| len > 2048)
            .collect();
        if big.len() > 1 {
            split.push((n, big));
        }
        // A person's next key: after a pause longer than a render period.
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        split.len() < 15,
        "redraws rendered in pieces (redraw, sizes of its renders): {split:?}"
    );
}

#[test]
fn reattaching_to_vim_draws_its_screen_at_once() {
    let env = Env::new();
    let file = env.dir.path().join("poem.txt");
    std::fs::write(&file, "roses are red\nviolets are blue\n").unwrap();
    env.start_vim("vim", &["--cols", "60", "--rows", "15"], &file);
    env.wait_screen("vim", "violets");
    // The outer terminal is one row taller than the session: same program size.
    let mut t = Term::spawn(&env, &["attach", "vim"], 60, 16);
    t.wait_for("vim's screen", |t| t.text().contains("violets are blue"));
    let expected = env.screen_lines("vim");
    let expected_len = expected.len();
    t.wait_for("the outer screen to equal hm screen", move |t| {
        t.rows_text()[..expected_len] == expected[..]
    });
    assert!(t.bar().contains("hm │ vim │"));
    // Typing reaches vim.
    t.type_bytes(b"ihello ");
    t.wait_text("hello roses are red");
    t.type_bytes(b"\x1b:q!\r");
    let code = t.wait_exit();
    assert!(
        t.text().contains("[session vim exited with code 0]"),
        "{}",
        t.text()
    );
    assert_eq!(code, Some(0));
}

/// Attach to a 60x15 session running `script` (with the bar, then
/// without) once its screen shows `ready`, press Enter, and wait until the
/// terminal shows what `hm screen` shows once it has `done`; `check` looks
/// at that screen first.
fn attach_press_enter_and_compare(script: &str, ready: &str, done: &str, check: fn(&[String])) {
    attach_press_enter_and_compare_then(script, ready, done, check, |_| {});
}

/// [`attach_press_enter_and_compare`], then `then` looks at the terminal.
fn attach_press_enter_and_compare_then(
    script: &str,
    ready: &str,
    done: &str,
    check: fn(&[String]),
    then: fn(&Term),
) {
    for args in [&["attach", "s"][..], &["attach", "s", "--no-status-bar"]] {
        let env = Env::new();
        env.start(
            "s",
            &["--cols", "60", "--rows", "15"],
            &["sh", "-c", script],
        );
        env.wait_screen("s", ready);
        let rows = if args.len() == 2 { 16 } else { 15 };
        let mut t = Term::spawn(&env, args, 60, rows);
        t.wait_for("the session's screen", |t| t.text().contains(ready));
        t.type_bytes(b"\r");
        env.wait_screen("s", done);
        let expected = env.screen_lines("s");
        check(&expected);
        t.wait_for(&format!("{args:?}: the screen hm screen has"), move |t| {
            t.rows_text()[..expected.len()] == expected[..]
        });
        let stand_in = STAND_IN.to_string();
        assert!(
            !t.raw.windows(3).any(|w| w == stand_in.as_bytes()),
            "what stands in for U+FFFD in the screen model reached the terminal"
        );
        then(&t);
    }
}

/// Attached while the program is on the alternate screen (vim run from a
/// shell), the terminal gets the normal screen under it too: when the
/// program leaves it, the shell's lines are back, as `hm screen` has them
/// (the terminal showed a blank screen there).
#[test]
fn attached_under_the_alternate_screen_the_normal_one_comes_back() {
    let script = "seq 1 5 | sed s/^/main/; printf '\\033[?1049h\\033[HFULLSCREEN'; \
                  read x; printf '\\033[?1049l'; echo BACK; sleep 300";
    attach_press_enter_and_compare(script, "FULLSCREEN", "^BACK$", |screen| {
        assert_eq!(screen[2], "main3", "{screen:?}");
    });
}

/// A program that scrolls its lines inside a scroll region (a status line
/// kept below it, as apt's progress bar is) goes on doing so on a terminal
/// attached later, with the bar or without: the picture sets the region
/// (its lines scrolled over the status line).
#[test]
fn attaching_keeps_the_programs_scroll_region() {
    let script = "printf '\\033[1;10r\\033[15;1HSTATUS LINE\\033[10;1H'; \
                  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo early$i; done; \
                  read x; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo late$i; done; sleep 300";
    attach_press_enter_and_compare(script, "early12", "late12", |screen| {
        assert_eq!(screen[14], "STATUS LINE", "{screen:?}");
    });
}

/// Boxes drawn in the DEC special graphics set (ncurses on an xterm:
/// `ESC ( 0`, then `lqqk`) show as boxes on a terminal with the bar and in
/// `hm screen`, as on the terminal itself (they showed as letters).
#[test]
fn boxes_drawn_in_dec_graphics_show_as_boxes() {
    let env = Env::new();
    env.start(
        "box",
        &[],
        &[
            "sh",
            "-c",
            "printf '\\033(0lqqk\\033(B lqk\\n\\033)0\\016x\\017x\\n'; echo DRAWN; sleep 300",
        ],
    );
    env.wait_screen("box", "^DRAWN$");
    let want = ["┌──┐ lqk", "│x", "DRAWN"];
    assert_eq!(env.screen_lines("box")[..3], want);
    let mut t = Term::spawn(&env, &["attach", "box"], 80, 24);
    t.wait_for("the boxes", |t| t.rows_text()[..3] == want);
}

/// U+FFFD, and invalid UTF-8 as one U+FFFD per maximal invalid
/// subsequence, show in their columns as on xterm, on a terminal with the
/// bar or without, attached before they came or after; a character whose
/// bytes come in two writes shows whole. vt100 drew nothing for them:
/// `a\u{fffd}b` read `ab`, and what followed was a column to the left.
#[test]
fn replacement_characters_and_invalid_utf8_show_as_u_fffd() {
    let script = "printf 'a\\357\\277\\275b|\\nok \\377\\376 bad|\\ncut \\342'; sleep 1; \
                  printf '\\224\\200 end|\\n'; echo READY; read x; \
                  printf '\\357\\277\\275late\\377|\\n'; echo DONE; sleep 300";
    attach_press_enter_and_compare(script, "READY", "^DONE$", |screen| {
        let want = [
            "a\u{fffd}b|",
            "ok \u{fffd}\u{fffd} bad|",
            "cut ─ end|",
            "READY",
        ];
        assert_eq!(screen[..4], want, "{screen:?}");
        assert!(
            screen.iter().any(|l| l == "\u{fffd}late\u{fffd}|"),
            "{screen:?}"
        );
    });
}

/// Text written in insert mode (IRM, `CSI 4 h`) pushes the rest of the line
/// right, as on xterm, in `hm screen` and on a terminal attached while the
/// program has it on, with the bar or without (vt100 overwrote the line).
/// `CSI ? 4 h` is another mode.
#[test]
fn insert_mode_pushes_the_line_right() {
    let script = "printf 'abcdef\\r\\033[4hXY\\033[4l\\n'; printf 'ab\\r\\033[4h日\\033[4lc\\n'; \
                  printf 'abc\\r\\033[?4hX\\033[?4l\\n'; printf 'mode left on\\r\\033[4h'; read x; \
                  printf '\\033[4;1H>> \\033[4l\\033[6;1HDONE'; sleep 300";
    attach_press_enter_and_compare(script, "mode left on", "DONE", |screen| {
        let want = ["XYabcdef", "日cb", "Xbc", ">> mode left on"];
        assert_eq!(screen[..4], want, "{screen:?}");
    });
}

/// Text a program drew hidden (SGR 8: a password it shows masked) is
/// blank on a terminal attached afterwards, with the bar or without, as on
/// the program's own terminal, and what the program draws hidden after the
/// attach is too: the picture sets hidden where the program left it on.
/// The picture had the password in clear.
#[test]
fn hidden_text_stays_hidden_on_a_terminal_attached_later() {
    let script = "printf 'pw: \\033[8msecret\\033[0m|\\nnext: \\033[8m'; read x; \
                  printf 'typed\\033[0m|\\n'; echo DONE; sleep 300";
    let check = |screen: &[String]| {
        assert_eq!(screen[..4], ["pw:       |", "next:", "     |", "DONE"]);
    };
    attach_press_enter_and_compare_then(script, "next:", "^DONE$", check, |t| {
        let raw = String::from_utf8_lossy(&t.raw);
        assert!(!raw.contains("secret"), "{raw:?}");
    });
}

/// The cursor a program saved (DECSC, `ESC 7`) comes back where it was,
/// with the character set it was saved with, when the program restores it
/// (`ESC 8`) on a terminal attached afterwards, with the bar or without,
/// as on its own terminal: the picture did not give the terminal the
/// saved cursor, so `qqq` went elsewhere and as letters, not `───`.
#[test]
fn the_cursor_saved_before_attaching_comes_back_with_its_character_set() {
    let script = "printf 'ab\\033(0\\0337\\033(Bready'; read x; \
                  printf '\\0338qqq\\033(B|\\n'; echo DONE; sleep 300";
    attach_press_enter_and_compare(script, "ready", "^DONE$", |screen| {
        assert_eq!(screen[..2], ["ab───|y", "DONE"], "{screen:?}");
    });
}

/// A terminal drawn again in place (`--no-status-bar`, on a resize) while
/// the program has DEC special graphics in use, saved with the cursor,
/// shows the text in it as it is: the picture was drawn in the character
/// set the terminal had once its saved cursor was restored (by the
/// picture's leaving of the alternate screen), so `plain text` showed as
/// `⎻┌▒␋┼ ├␊│├`.
#[test]
fn a_picture_drawn_again_in_dec_graphics_shows_its_text() {
    let env = Env::new();
    let script = "printf 'plain text\\n\\033(0\\0337'; read x; echo DONE; sleep 300";
    env.start(
        "g",
        &["--cols", "40", "--rows", "10"],
        &["sh", "-c", script],
    );
    env.wait_screen("g", "plain text");
    let mut t = Term::spawn(&env, &["attach", "g", "--no-status-bar"], 40, 10);
    t.wait_for("the text", |t| t.rows_text()[0] == "plain text");
    let from = t.raw.len();
    t.resize(30, 10);
    session_size_is(&env, "g", 30, 10);
    t.wait_for("the picture drawn again", move |t| {
        String::from_utf8_lossy(&t.raw[from..]).contains("plain text")
    });
    assert_eq!(t.rows_text()[0], "plain text");
}

/// Tab stops a program set and autowrap it turned off hold on a terminal
/// attached afterwards, with the bar or without, as in `hm screen`: tabs
/// go to the stops set, CHT and CBT move by them, text past the last
/// column stays in it (vt100 tabbed every 8 columns, ignored CHT and CBT
/// and wrapped the text; the picture did not give the terminal the stops
/// or the mode).
#[test]
fn tab_stops_and_autowrap_off_hold_on_a_terminal_attached_later() {
    let script = "printf '\\033[3g\\033[5G\\033H\\033[9G\\033H\\033[?7l\\rready'; read x; \
                  printf '\\tA\\tB\\tC\\n'; printf '%070d\\n' 0; \
                  printf 'x\\033[2Iy\\033[Zz\\n'; echo DONE; sleep 300";
    attach_press_enter_and_compare(script, "ready", "^DONE$", |screen| {
        let want = [
            "ready".to_string(),
            format!("    A   B{}C", " ".repeat(50)),
            "0".repeat(60),
            "x       z".to_string(),
            "DONE".to_string(),
        ];
        assert_eq!(screen[..5], want, "{screen:?}");
    });
}

/// A line a character inserted at the right margin wrapped, and one a wide
/// character wrapped from the last column where nothing was drawn, reach a
/// terminal attached afterwards as lines wrapped, as on xterm and tmux (the
/// terminal keeps them whole for a copy or a reflow), with the bar or
/// without: the screen model did not mark the rows as wrapped, and the
/// picture put the rest of each line on the next row with a cursor move.
#[test]
fn lines_wrapped_at_the_margin_reach_the_terminal_wrapped() {
    let script = "printf '\\033[2;1H0123\\033[1;1H%060d\\033[4hX\\033[4l\\033[4;1H'; \
                  printf '%059d\\346\\227\\245x\\033[7;1Hready'; read x; echo DONE; sleep 300";
    let check = |screen: &[String]| {
        let want = [
            "0".repeat(60),
            "X0123".into(),
            "".into(),
            "0".repeat(59),
            "日x".into(),
        ];
        assert_eq!(screen[..5], want);
    };
    attach_press_enter_and_compare_then(script, "ready", "^DONE$", check, |t| {
        assert!(t.screen.screen().row_wrapped(0));
        assert!(t.screen.screen().row_wrapped(3));
    });
}

/// Setting a scroll region puts the cursor home, as on a VT100, xterm or
/// tmux, in `hm screen` and on a terminal with the bar (text written next
/// went to the region's top row instead).
#[test]
fn setting_a_scroll_region_puts_the_cursor_home() {
    let env = Env::new();
    let script = "printf '\\033[5;10rhome'; echo; echo DONE; sleep 300";
    env.start("home", &[], &["sh", "-c", script]);
    env.wait_screen("home", "DONE");
    let lines = env.screen_lines("home");
    assert_eq!(lines[..2], ["home", "DONE"], "{lines:?}");
    let mut t = Term::spawn(&env, &["attach", "home"], 80, 24);
    t.wait_for("the same on the terminal", move |t| {
        t.rows_text()[..2] == lines[..2]
    });
}

#[test]
fn resizing_the_terminal_resizes_the_session() {
    let env = Env::new();
    bash(&env, "rs");
    let mut t = Term::spawn(&env, &["attach", "rs"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ rs │"));
    t.type_bytes(b"stty size\r");
    t.wait_text("23 80");
    t.resize(100, 30);
    t.wait_for("the bar on the new last row", |t| {
        t.bar().contains("hm │ rs │")
    });
    t.type_bytes(b"clear; stty size\r");
    t.wait_text("29 100");
}

#[test]
fn session_exit_while_attached_prints_and_returns_the_code() {
    let env = Env::new();
    env.start("ex", &[], &["sh", "-c", "read x; exit 7"]);
    let mut t = Term::spawn(&env, &["attach", "ex", "--no-status-bar"], 80, 24);
    let before_attach = t.initial.clone();
    // Typed at once, while hm attach is still starting: type-ahead is never
    // lost (issue #8 item 8).
    t.type_bytes(b"bye\r");
    let code = t.wait_exit();
    assert_eq!(code, Some(7), "{}", t.text());
    assert!(
        t.text().contains("[session ex exited with code 7]"),
        "{}",
        t.text()
    );
    assert!(same_termios(&before_attach, &t.termios()));
    // Killed from elsewhere while attached: 128+N.
    env.start("kl", &[], &["sleep", "1000"]);
    let mut t = Term::spawn(&env, &["attach", "kl"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ kl │"));
    env.ok(&["kill", "kl"]);
    assert_eq!(t.wait_exit(), Some(143));
    assert!(
        t.text().contains("[session kl exited with code 143]"),
        "{}",
        t.text()
    );
}

#[test]
fn sigterm_to_the_client_restores_the_terminal_and_keeps_the_session() {
    let env = Env::new();
    bash(&env, "st");
    let mut t = Term::spawn(&env, &["attach", "st"], 80, 24);
    let before = t.initial.clone();
    t.wait_for("the status bar", |t| t.bar().contains("hm │ st │"));
    // SAFETY: kill(2).
    unsafe { libc::kill(t.child.id() as i32, libc::SIGTERM) };
    t.wait_exit();
    assert!(
        same_termios(&before, &t.termios()),
        "termios restored after SIGTERM"
    );
    assert_eq!(env.status_json("st")["alive"], true);
}

/// The processes whose parent is `parent`.
fn children(parent: u32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether the terminal reads keys as `hm attach` does: raw, Ctrl-C a byte
/// for the program, not SIGINT for hm (a shell's readline keeps ISIG).
fn raw_keys(t: &Term) -> bool {
    use nix::sys::termios::LocalFlags;
    !t.termios()
        .local_flags
        .intersects(LocalFlags::ISIG | LocalFlags::ICANON | LocalFlags::ECHO)
}

/// `hm attach` typed at a shell with job control, stopped (SIGTSTP, what
/// `kill -TSTP` or a suspend sends) then `fg`: the shell gets its
/// terminal back (its screen, not the bar), and `fg` gives the session its
/// terminal again (raw keys, its screen redrawn), as vim and less do.
#[test]
fn a_stopped_attach_hands_the_terminal_back_and_fg_takes_it_again() {
    let env = Env::new();
    bash(&env, "js");
    env.ok(&["send", "js", "echo in-the-session\r"]);
    env.wait_screen("js", "^in-the-session$");
    let mut shell = env.command("bash");
    shell
        .args(["--norc", "--noprofile", "-i"])
        .env("PS1", "outer$ ")
        .env("HISTFILE", "/dev/null");
    let mut t = Term::spawn_command(shell, 80, 20);
    t.wait_text("outer$");
    let hm = common::hm_bin();
    t.type_bytes(format!("'{}' attach js\r", hm.display()).as_bytes());
    t.wait_for("the status bar", |t| t.bar().contains("hm │ js │"));
    let attach = poll("hm attach under the shell", DEADLINE, || {
        children(t.child.id()).first().copied()
    });
    // SAFETY: kill(2).
    unsafe { libc::kill(attach, libc::SIGTSTP) };
    t.wait_text("Stopped");
    t.wait_text("outer$");
    let text = t.text();
    assert!(
        !text.contains("hm │ js │") && !text.contains("in-the-session"),
        "the shell's own screen while hm is stopped, not the session's:\n{text}"
    );
    let before_fg = t.raw.len();
    t.type_bytes(b"fg\r");
    t.wait_for("the session's screen again", |t| {
        t.bar().contains("hm │ js │")
            && t.text().contains("in-the-session")
            && !t.text().contains("Stopped")
    });
    t.wait_for("raw keys again", raw_keys);
    // Ctrl-C is the program's: it cancels bash's line in the session.
    t.type_bytes(b"echo lost");
    env.wait_screen("js", "echo lost$");
    t.type_bytes(b"\x03");
    env.wait_screen("js", r"echo lost\^C$");
    t.type_bytes(b"echo back-$((6*7))\r");
    t.wait_text("back-42");
    env.wait_screen("js", "^back-42$");
    // Taken once: the view took the terminal (and cleared it) twice, as
    // the stop ended and again for its SIGCONT.
    let takes = memchr::memmem::find_iter(&t.raw[before_fg..], b"\x1b[?1049h").count();
    assert_eq!(takes, 1, "the terminal taken once after fg");
    t.type_bytes(b"\x1c");
    t.wait_text("[detached from session js");
    t.type_bytes(b"exit\r");
    t.wait_exit();
}

/// The terminal closing (its window closed, an SSH connection dropped)
/// hangs it up: hm gets SIGHUP and SIGCONT together and detaches as on any
/// SIGHUP (exit 1, the session running on). It failed when it saw the
/// SIGCONT first: taking the terminal back failed on the hung-up terminal,
/// and saying so on it panicked (exit 101).
#[test]
fn a_terminal_that_hangs_up_detaches() {
    let env = Env::new();
    bash(&env, "hu");
    // Which of the two hm sees first is chance: a few times.
    for _ in 0..8 {
        let mut t = Term::spawn(&env, &["attach", "hu"], 80, 24);
        t.wait_for("the status bar", |t| t.bar().contains("hm │ hu │"));
        // Closing the pty's master hangs the terminal up.
        t.master = std::fs::File::open("/dev/null").expect("/dev/null");
        assert_eq!(t.wait_exit(), Some(1));
    }
    assert_eq!(env.status_json("hu")["alive"], true);
}

/// `hm run` whose stderr takes nothing (a full disk: `2>/dev/full`) still
/// runs the program and exits with its code: saying the session's generated
/// id there panicked (exit 101) before it attached.
#[test]
fn hm_run_with_a_full_stderr_returns_the_programs_code() {
    let env = Env::new();
    let out = env
        .hm()
        .args(["run", "--", "sh", "-c", "echo ran; exit 3"])
        .stdin(Stdio::null())
        .stderr(common::dev_full())
        .output()
        .expect("hm run");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\r\n");
}

#[test]
fn hm_run_starts_attaches_and_returns_the_childs_code() {
    let env = Env::new();
    let mut t = Term::spawn(
        &env,
        &[
            "run",
            "--id",
            "rn",
            "--",
            "sh",
            "-c",
            "echo started; read x; exit 3",
        ],
        80,
        24,
    );
    t.wait_text("started");
    t.type_bytes(b"\r");
    assert_eq!(t.wait_exit(), Some(3));
    assert!(t.text().contains("[session rn exited with code 3]"));
    // A generated id is printed.
    let mut t = Term::spawn(&env, &["run", "--", "sh", "-c", "read x"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains(" hm │ "));
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0));
    let text = t.text();
    let id = text
        .split("[session ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .expect("the generated id is printed")
        .to_string();
    assert!(
        text.contains(&format!("reattach with: hm attach {id}")),
        "{text}"
    );
    assert_eq!(env.status_json(&id)["alive"], true);
}

#[test]
fn several_terminals_see_the_same_output_and_can_all_type() {
    let env = Env::new();
    bash(&env, "multi");
    let mut a = Term::spawn(&env, &["attach", "multi"], 80, 24);
    let mut b = Term::spawn(&env, &["attach", "multi", "--no-status-bar"], 80, 24);
    let mut ro = Term::spawn(&env, &["attach", "multi", "--read-only"], 80, 24);
    a.wait_for("a's bar", |t| t.bar().contains("hm │ multi │"));
    std::thread::sleep(Duration::from_millis(300));
    a.type_bytes(b"echo from-a-$((1+1))\r");
    b.wait_text("from-a-2");
    b.type_bytes(b"echo from-b-$((2+2))\r");
    for t in [&mut a, &mut b, &mut ro] {
        t.wait_text("from-b-4");
    }
    ro.type_bytes(b"echo from-ro\r");
    std::thread::sleep(Duration::from_millis(500));
    a.pump();
    assert!(
        !a.text().contains("from-ro"),
        "a read-only client never types"
    );
    poll("all detached", DEADLINE, || {
        for t in [&mut a, &mut b, &mut ro] {
            t.type_bytes(&[0x1c]);
        }
        Some(())
    });
    for t in [&mut a, &mut b, &mut ro] {
        assert_eq!(t.wait_exit(), Some(0));
    }
}

/// Issue #8 item 9: a terminal whose client stops reading (stopped here,
/// as behind a link that stalls) while the program floods is cut loose;
/// when it reads again it is repainted from the screen model and shows
/// exactly the session's screen. It used to subscribe again after the
/// repaint, and the bytes of its old stream still on their way (hundreds of
/// KB of older lines) were drawn over the new picture, for good once the
/// program had gone quiet.
#[test]
fn a_terminal_that_falls_behind_is_repainted_not_left_with_a_hole() {
    let env = Env::new();
    env.start(
        "fl",
        &["--rows", "23"],
        &[
            "sh",
            "-c",
            // 2 MB of distinct full-width lines (cheap to emulate).
            "read x; seq -f %079.0f 1 25000; echo FLOOD-DONE; sleep 100",
        ],
    );
    let mut t = Term::spawn(&env, &["attach", "fl"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ fl │"));
    let client = t.child.id() as i32;
    // SAFETY: kill(2). The Term's drop kills the client even while stopped.
    unsafe { libc::kill(client, libc::SIGSTOP) };
    env.ok(&["send", "fl", "go\r"]);
    // The stopped client paces the flood for the stall timeout, then the
    // program runs to its end: twice what the ring keeps.
    env.wait_screen("fl", "^FLOOD-DONE$");
    // SAFETY: kill(2).
    unsafe { libc::kill(client, libc::SIGCONT) };
    let expected = env.screen_lines("fl");
    assert!(
        expected.iter().any(|l| l.ends_with("00025000")),
        "{expected:?}"
    );
    let n = expected.len();
    t.wait_for("the repainted screen to equal hm screen", move |t| {
        t.rows_text()[..n] == expected[..]
    });
    // Nothing stale arrives after it.
    std::thread::sleep(Duration::from_millis(500));
    t.pump();
    assert_eq!(
        t.rows_text()[..n],
        env.screen_lines("fl")[..],
        "{}",
        t.text()
    );
    assert!(t.bar().contains("hm │ fl │"), "{}", t.bar());
}

#[test]
fn a_command_that_exits_at_once_still_shows_its_output() {
    let env = Env::new();
    let mut t = Term::spawn(
        &env,
        &["run", "--", "sh", "-c", "echo quick-$((20+1)); exit 5"],
        80,
        24,
    );
    assert_eq!(t.wait_exit(), Some(5));
    let text = t.text();
    assert!(text.contains("quick-21"), "{text}");
    assert!(text.contains("exited with code 5"), "{text}");
}

/// `hm run` at a terminal starts the program at the terminal's size (the
/// rows above the bar): a quick command never got it, it printed for the
/// configured 80x24 and ended before attach resized it (`hm run -- ls`
/// laid out for 80 columns, `hm run -- stty size` said "24 80").
#[test]
fn hm_run_at_a_terminal_starts_the_program_at_its_size() {
    let env = Env::new();
    for (flags, expect) in [
        (&[][..], "size-29x100."),
        (&["--no-status-bar"][..], "size-30x100."),
    ] {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["--", "sh", "-c", "echo size-$(stty size | tr ' ' x)."]);
        let mut t = Term::spawn(&env, &args, 100, 30);
        assert_eq!(t.wait_exit(), Some(0));
        let text = t.text();
        assert!(text.contains(expect), "{flags:?}: {text}");
    }
}

/// A session that ends as attach connects (its supervisor, done with its
/// program, drops the connection before anything is painted): its end is
/// shown from its exit record, the final screen on a terminal (with or
/// without the bar) and the output on a pipe. Only its exit code was.
#[test]
fn a_session_that_ends_as_attach_connects_shows_its_end_from_its_record() {
    let env = Env::new();
    let record = common::ended_record(&env, "printf 'last words\\n'; exit 5");
    for (n, extra) in [&[][..], &["--no-status-bar"][..]].into_iter().enumerate() {
        let id = format!("ending{n}");
        common::ending_server(&env, &id, record.clone());
        let mut args = vec!["attach", id.as_str()];
        args.extend_from_slice(extra);
        let mut t = Term::spawn(&env, &args, 80, 24);
        assert_eq!(t.wait_exit(), Some(5), "{extra:?}: {}", t.text());
        let text = t.text();
        assert_eq!(text.matches("last words").count(), 1, "{extra:?}: {text}");
        assert!(
            text.contains(&format!("[session {id} exited with code 5]")),
            "{extra:?}: {text}"
        );
    }
    common::ending_server(&env, "ending-pipe", record);
    let out = env.run(&["attach", "--read-only", "ending-pipe"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "last words\r\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[session ending-pipe exited with code 5]"),
        "{out:?}"
    );
}

#[test]
fn a_lost_supervisor_restores_the_terminal() {
    let env = Env::new();
    env.start("lost", &[], &["sleep", "1000"]);
    let (sup, _) = env.pids("lost");
    let mut t = Term::spawn(&env, &["attach", "lost"], 80, 24);
    let before = t.initial.clone();
    t.wait_for("the status bar", |t| t.bar().contains("hm │ lost │"));
    // SAFETY: kill(2).
    unsafe { libc::kill(sup, libc::SIGKILL) };
    assert_eq!(t.wait_exit(), Some(1));
    assert!(same_termios(&before, &t.termios()), "termios restored");
    assert!(
        t.text().contains("[session lost closed the connection]"),
        "{}",
        t.text()
    );
}

/// Issue #8 item 7: a terminal that drains slowly during a flood (here read
/// at 50 KB/s) only slows `hm attach` down. It died with "Resource
/// temporarily unavailable": O_NONBLOCK set on stdin was shared with stdout.
/// With and without the status bar, the client lives on and ends with the
/// session's code.
#[test]
fn a_terminal_that_drains_slowly_never_kills_attach() {
    let env = Env::new();
    for (id, extra) in [("slow", &["--no-status-bar"][..]), ("slowbar", &[][..])] {
        env.start(
            id,
            &["--rows", "23"],
            &[
                "sh",
                "-c",
                "printf 'ready> '; read x; seq -f %079.0f 1 12500; echo FLOOD-DONE; read y; exit 3",
            ],
        );
        let mut args = vec!["attach", id];
        args.extend_from_slice(extra);
        let mut t = Term::spawn(&env, &args, 80, 24);
        t.wait_text("ready>");
        env.ok(&["send", id, "go\r"]);
        // Far more than the pty holds is written meanwhile.
        t.pump_slowly(Duration::from_secs(3));
        assert!(
            t.child.try_wait().unwrap().is_none(),
            "hm attach ({extra:?}) died while the terminal drained slowly:\n{}",
            t.text()
        );
        t.wait_text("FLOOD-DONE");
        t.type_bytes(b"\r");
        assert_eq!(t.wait_exit(), Some(3), "{extra:?}: {}", t.text());
        assert!(
            t.text()
                .contains(&format!("[session {id} exited with code 3]")),
            "{extra:?}: {}",
            t.text()
        );
    }
}

/// Issue #8 item 8, for `hm run`: keys typed while `hm run` starts (before
/// anything shows) and keys typed the instant the program's prompt appears
/// all reach the program.
#[test]
fn hm_run_keeps_keys_typed_while_it_starts() {
    let env = Env::new();
    let bash = ["--", "bash", "--norc", "--noprofile"];
    // Typed before hm run has even started the session.
    let mut args = vec!["run", "--id", "early"];
    args.extend_from_slice(&bash);
    let mut t = Term::spawn(&env, &args, 80, 24);
    t.type_bytes(b"echo early-$((40+2))\r");
    t.wait_text("early-42");
    t.type_bytes(b"exit 4\r");
    assert_eq!(t.wait_exit(), Some(4), "{}", t.text());
    // Typed the moment the prompt shows, a few times (the loss was a race).
    for round in 0..3 {
        let id = format!("prompt{round}");
        let mut args = vec!["run", "--id", &id];
        args.extend_from_slice(&bash);
        let mut t = Term::spawn(&env, &args, 80, 24);
        t.wait_for("bash's prompt", |t| {
            t.rows_text().iter().any(|l| l.ends_with(['$', '#']))
        });
        t.type_bytes(b"echo typed-$((6*7))\r");
        t.wait_text("typed-42");
        t.type_bytes(b"exit 5\r");
        assert_eq!(t.wait_exit(), Some(5), "round {round}: {}", t.text());
    }
}

/// Issue #8 item 25: `hm attach X </dev/null` streamed forever (EOF on
/// stdin was ignored). Without a terminal on stdin attaching is refused,
/// saying what to do instead; `--read-only` watches and detaches at EOF.
#[test]
fn attach_without_a_terminal_is_refused_unless_read_only() {
    let env = Env::new();
    bash(&env, "nt");
    let mut p = Piped::spawn(&env, &["attach", "nt"], Stdio::null());
    let (code, err) = p.exit("hm attach without a terminal to give up");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("needs a terminal on stdin"), "{err}");
    assert!(err.contains("hm attach --read-only nt"), "{err}");
    let mut p = Piped::spawn(&env, &["attach", "nt", "--read-only"], Stdio::null());
    let (code, err) = p.exit("a read-only attach at EOF to detach");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("[detached from session nt"), "{err}");
    assert_eq!(env.status_json("nt")["alive"], true);
}

/// Issue #8 item 25: a read-only watcher whose stdin is a pipe watches as
/// long as the pipe is open (nothing it carries is typed) and detaches
/// cleanly when it closes.
#[test]
fn read_only_attach_ends_at_eof() {
    use std::io::Write;
    let env = Env::new();
    bash(&env, "eof");
    let mut p = Piped::spawn(&env, &["attach", "eof", "--read-only"], Stdio::piped());
    let mut input = p.0.stdin.take().expect("stdin");
    input.write_all(b"echo typed-$((6*7))\r").unwrap();
    env.ok(&["send", "eof", "echo watched-$((5*5))\r"]);
    env.wait_screen("eof", "^watched-25$");
    assert!(
        p.0.try_wait().unwrap().is_none(),
        "still watching while stdin is open"
    );
    // What it watched reaches its stdout (read as it comes: the watcher
    // may still be connecting; EOF before then would leave nothing to see).
    let mut stdout = p.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    poll("the watcher to show the output", DEADLINE, || {
        out.extend(rx.try_iter().flatten());
        String::from_utf8_lossy(&out)
            .contains("watched-25")
            .then_some(())
    });
    drop(input);
    let (code, err) = p.exit("the read-only attach to detach at EOF");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("[detached from session eof"), "{err}");
    reader.join().expect("stdout reader");
    assert!(
        !env.screen_lines("eof")
            .iter()
            .any(|l| l.contains("typed-42")),
        "a read-only watcher never types"
    );
}

/// Issue #8 item 25: the status bar says when the terminal only watches.
#[test]
fn read_only_is_shown_in_the_status_bar() {
    let env = Env::new();
    bash(&env, "rob");
    let mut ro = Term::spawn(&env, &["attach", "rob", "--read-only"], 80, 24);
    ro.wait_for("the status bar", |t| t.bar().contains("hm │ rob │"));
    assert!(ro.bar().contains("read-only"), "{}", ro.bar());
    // Also after a resize redraws everything.
    ro.resize(70, 20);
    ro.wait_for("the bar on the new last row", |t| {
        t.bar().contains("hm │ rob │ read-only")
    });
    let mut rw = Term::spawn(&env, &["attach", "rob"], 80, 24);
    rw.wait_for("the status bar", |t| t.bar().contains("hm │ rob │"));
    assert!(!rw.bar().contains("read-only"), "{}", rw.bar());
}

/// A watcher's terminal keeps its mouse: nothing it clicks reaches the
/// program, and a terminal that reports the mouse selects no text (what a
/// watcher copies). The program's mouse reporting was turned on there too,
/// with the status bar and without it, also when the program turned it on
/// while watched; a terminal that types gets it.
#[test]
fn a_watchers_terminal_keeps_its_mouse() {
    let env = Env::new();
    let script =
        "printf '\\033[?1000;1006hready\\n'; read x; printf '\\033[?1003hmore\\n'; sleep 300";
    for (id, bar) in [("wb", true), ("wn", false)] {
        env.start(id, &[], &["sh", "-c", script]);
        env.wait_screen(id, "^ready$");
        let mut args = vec!["attach", id, "--read-only"];
        if !bar {
            args.push("--no-status-bar");
        }
        let mut t = Term::spawn(&env, &args, 80, 24);
        t.wait_text("ready");
        env.ok(&["send", id, "\r"]);
        t.wait_text("more");
        assert_eq!(
            t.screen.screen().mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "bar {bar}"
        );
        assert_eq!(env.status_json(id)["cols"], 80, "the session's size as is");
    }
    let mut typing = Term::spawn(&env, &["attach", "wn"], 80, 24);
    typing.wait_for("the program's mouse reporting", |t| {
        t.screen.screen().mouse_protocol_mode() == vt100::MouseProtocolMode::AnyMotion
    });
}

/// A watcher whose terminal is smaller than the session sees the part the
/// cursor is in, as tmux shows a larger window: a shell's prompt on the
/// session's last rows, and what is typed there. It saw the top rows only,
/// the prompt out of sight.
#[test]
fn a_smaller_watcher_sees_the_part_the_cursor_is_in() {
    let env = Env::new();
    bash(&env, "big");
    let mut rw = Term::spawn(&env, &["attach", "big"], 80, 24);
    rw.wait_for("the status bar", |t| t.bar().contains("hm │ big │"));
    rw.type_bytes(b"seq 1 40\r");
    env.wait_screen("big", "^40$");
    let mut ro = Term::spawn(&env, &["attach", "big", "--read-only"], 60, 12);
    ro.wait_for("the status bar", |t| t.bar().contains("hm │ big │"));
    rw.type_bytes(b"echo typed-at-the-prompt");
    ro.wait_text("typed-at-the-prompt");
    let rows = ro.rows_text();
    assert!(rows[9].ends_with("40"), "{rows:#?}");
    assert!(!ro.screen.screen().hide_cursor(), "{rows:#?}");
}

/// Attaching to a session whose program set its window title gives the
/// terminal that title, with the bar or without, as the program's own
/// output did for the terminal it was attached to when it set it.
#[test]
fn attaching_sets_the_programs_window_title() {
    let env = Env::new();
    env.start(
        "ttl",
        &[],
        &[
            "sh",
            "-c",
            "printf '\\033]2;the title\\007READY\\n'; sleep 300",
        ],
    );
    env.wait_screen("ttl", "^READY$");
    for args in [
        &["attach", "ttl"][..],
        &["attach", "ttl", "--no-status-bar"],
    ] {
        let mut t = Term::spawn(&env, args, 80, 24);
        t.wait_for("the program's title on the terminal", |t| {
            t.raw
                .windows(b"\x1b]2;the title\x07".len())
                .any(|w| w == b"\x1b]2;the title\x07")
        });
    }
}

/// What a program copies to the clipboard (OSC 52: vim's and neovim's
/// clipboard over SSH, tmux's `set-clipboard`) reaches the terminal with the
/// status bar as without it (the view dropped it: only the title and bells
/// went through).
#[test]
fn a_clipboard_copy_reaches_the_terminal() {
    let env = Env::new();
    bash(&env, "cb");
    for (args, data) in [
        (&["attach", "cb"][..], "aGVsbG8="),
        (&["attach", "cb", "--no-status-bar"], "d29ybGQ="),
    ] {
        let mut t = Term::spawn(&env, args, 80, 24);
        t.wait_text("bash-");
        env.ok(&["send", "cb", &format!("printf '\\033]52;c;{data}\\007'\r")]);
        let copy = format!("\x1b]52;c;{data}\x07");
        t.wait_for("the copy on the terminal", |t| {
            t.raw.windows(copy.len()).any(|w| w == copy.as_bytes())
        });
        t.type_bytes(b"\x1c");
        t.wait_exit();
    }
}

/// Wait until session `id` has the size `cols`x`rows`.
fn session_size_is(env: &Env, id: &str, cols: u16, rows: u16) {
    poll(&format!("{id} to be {cols}x{rows}"), DEADLINE, || {
        let s = env.status_json(id);
        (s["cols"] == cols && s["rows"] == rows).then_some(())
    })
}

/// A program with mouse reporting on in SGR encoding (1006, or the one it
/// is replaced by): at `f` it fills its screen with `line N`, then shows
/// what it reads (after its ESC) as `got ...`.
const MOUSE_KEYS: &str = r"import os, tty
tty.setraw(0)
os.write(1, b'\x1b[?1000h\x1b[?1006hready\r\n')
while True:
    b = os.read(0, 64)
    if b == b'f':
        os.write(1, b''.join(b'\r\nline %d' % i for i in range(60)))
    elif b:
        os.write(1, b'\r\ngot ' + b[1:])
";

/// A terminal smaller than the session shows the part around the cursor: a
/// click on its row 1 is a click on the session's row shown there, as in
/// tmux (it went to the program as row 1, on another line than the one
/// clicked); a click on its status bar is not the program's.
#[test]
fn a_click_on_a_smaller_terminal_reaches_the_cell_it_shows() {
    click_on_a_smaller_terminal("1006", |row| format!("\x1b[<0;3;{row}M").into_bytes());
}

/// The same in UTF-8 (1005) and urxvt (1015) encodings: their clicks went
/// to the program unmoved.
#[test]
fn a_click_in_utf8_or_urxvt_encoding_reaches_the_cell_it_shows() {
    click_on_a_smaller_terminal("1005", |row| {
        format!("\x1b[M #{}", char::from(32 + row as u8)).into_bytes()
    });
    click_on_a_smaller_terminal("1015", |row| format!("\x1b[32;3;{row}M").into_bytes());
}

/// [`MOUSE_KEYS`] in `encoding`, its screen larger than the terminal a
/// click (on column 3 of the row given) is typed at with `click`: on the
/// bar it goes nowhere, on `line 55` to the row the session has it on.
fn click_on_a_smaller_terminal(encoding: &str, click: fn(usize) -> Vec<u8>) {
    let env = Env::new();
    let program = MOUSE_KEYS.replace("1006", encoding);
    env.start("mo", &[], &["python3", "-c", &program]);
    env.wait_screen("mo", "ready");
    let mut small = Term::spawn(&env, &["attach", "mo"], 40, 10);
    small.wait_for("the status bar", |t| t.bar().contains("hm │ mo │"));
    session_size_is(&env, "mo", 40, 9);
    // The latest attach sizes the session.
    let mut large = Term::spawn(&env, &["attach", "mo"], 80, 24);
    large.wait_for("the status bar", |t| t.bar().contains("hm │ mo │"));
    session_size_is(&env, "mo", 80, 23);
    large.type_bytes(b"f");
    small.wait_text("line 59");
    let row = poll("line 55 on the smaller terminal", DEADLINE, || {
        small.pump();
        small.rows_text().iter().position(|l| l == "line 55")
    });
    let lines = env.screen_lines("mo");
    let session_row = lines.iter().position(|l| l == "line 55").expect("line 55") + 1;
    assert_ne!(
        row + 1,
        session_row,
        "a part of the session is shown: {lines:?}"
    );
    // On the bar, then on `line 55`.
    small.type_bytes(&[click(10), click(row + 1)].concat());
    env.wait_screen("mo", "^got ");
    let got: Vec<String> = env
        .screen_lines("mo")
        .into_iter()
        .filter(|l| l.starts_with("got "))
        .collect();
    let want = String::from_utf8_lossy(&click(session_row)[1..]).into_owned();
    assert_eq!(got, [format!("got {want}")], "{encoding}");
}

/// A terminal shrunk below three rows gives the program every row, as one
/// attached at that size does (a bar on the only row hid the program), and
/// gets the bar back when it grows again.
#[test]
fn a_terminal_shrunk_below_three_rows_drops_the_bar_until_it_grows() {
    let env = Env::new();
    bash(&env, "tiny");
    let size_is = |cols, rows| session_size_is(&env, "tiny", cols, rows);
    let mut t = Term::spawn(&env, &["attach", "tiny"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ tiny │"));
    size_is(80, 23);
    t.resize(80, 1);
    size_is(80, 1);
    t.type_bytes(b"# on the only row");
    t.wait_for("the program on the only row", |t| {
        t.rows_text()[0].contains("# on the only row")
    });
    t.resize(80, 2);
    size_is(80, 2);
    t.resize(80, 24);
    size_is(80, 23);
    t.wait_for("the bar back on the last row", |t| {
        t.bar().contains("hm │ tiny │")
    });
    drop(t);
    // Attached at two rows, it gets the bar once it grows.
    let mut t = Term::spawn(&env, &["attach", "tiny"], 80, 2);
    size_is(80, 2);
    t.resize(80, 10);
    size_is(80, 9);
    t.wait_for("the bar on the last row", |t| {
        t.bar().contains("hm │ tiny │")
    });
}

/// A line of `n` columns that names itself: `L3:` then `abcdefghij`
/// repeated.
fn long_line(i: usize, n: usize) -> String {
    let mut l = format!("L{i}:");
    while l.len() < n {
        l.push(char::from(b'a' + (l.len() % 10) as u8));
    }
    l
}

/// Whether a terminal shows each long line's first `width` columns on a
/// row of its own and nothing of the rest (which a wrap puts on the row
/// below).
fn shows_clipped(t: &Term, lines: &[String], width: usize) -> bool {
    let rows = t.rows_text();
    lines.iter().all(|l| {
        rows.iter().any(|r| r == &l[..width]) && !rows.iter().any(|r| r.starts_with(&l[width..]))
    })
}

/// Whether `t` shows each of `lines` whole, wrapped at `width`.
fn shows_wrapped(t: &Term, lines: &[String], width: usize) -> bool {
    let rows = t.rows_text();
    lines.iter().all(|l| {
        rows.windows(2)
            .any(|w| w[0] == l[..width] && w[1] == l[width..])
    })
}

/// Issue #8 item 24: a larger terminal attaches (the latest attach sets the
/// session's size); the smaller one, with or without the bar, shows the
/// part of each long line that fits, clipped, never wrapped into the rows
/// below. When the small terminal resizes, the session takes its size and
/// the larger one shows all of the smaller screen in its top-left: the
/// lines rewrapped at the new width, as tmux rewraps them.
#[test]
fn a_smaller_terminal_shows_long_lines_clipped_not_wrapped() {
    let env = Env::new();
    env.start(
        "big",
        &[],
        &[
            "sh",
            "-c",
            "read x; i=1; while [ $i -le 5 ]; do \
             printf 'L%d:' $i; \
             printf 'defghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc'; \
             echo; i=$((i+1)); done; echo ALL-PRINTED; sleep 100",
        ],
    );
    let lines: Vec<String> = (1..=5).map(|i| long_line(i, 93)).collect();
    let mut small = Term::spawn(&env, &["attach", "big"], 60, 20);
    small.wait_for("the small bar", |t| t.bar().contains("hm │ big │"));
    let mut plain = Term::spawn(
        &env,
        &["attach", "big", "--no-status-bar", "--read-only"],
        50,
        20,
    );
    let mut large = Term::spawn(&env, &["attach", "big"], 120, 40);
    large.wait_for("the large bar", |t| t.bar().contains("hm │ big │"));
    poll("the session to take the large size", DEADLINE, || {
        let s = env.status_json("big");
        (s["cols"] == 120 && s["rows"] == 39).then_some(())
    });
    env.ok(&["send", "big", "go\r"]);
    env.wait_screen("big", "^ALL-PRINTED$");
    assert!(
        env.screen_lines("big").contains(&lines[4]),
        "{:?}",
        env.screen_lines("big")
    );
    large.wait_for("the full lines", |t| {
        lines.iter().all(|l| t.rows_text().contains(l))
    });
    let l = lines.clone();
    small.wait_for("each line clipped to 60 columns", move |t| {
        shows_clipped(t, &l, 60)
    });
    assert!(small.bar().contains("hm │ big │"), "{}", small.text());
    let l = lines.clone();
    plain.wait_for(
        "each line clipped to 50 columns, without the bar",
        move |t| shows_clipped(t, &l, 50),
    );
    // The small terminal resizes: now it sets the session's size, and
    // gets the program's output as it is again. The lines are rewrapped at
    // 70 columns, taking more rows: the first two go into the scrollback,
    // as on tmux.
    small.resize(70, 20);
    poll("the session to take the small size", DEADLINE, || {
        let s = env.status_json("big");
        (s["cols"] == 70 && s["rows"] == 19).then_some(())
    });
    for t in [&mut small, &mut large] {
        let l = lines.clone();
        t.wait_for("each line wrapped at 70 columns", move |t| {
            shows_wrapped(t, &l[2..], 70)
        });
    }
    assert!(large.bar().contains("hm │ big │"), "{}", large.text());
    // The read-only terminal takes the session's size: its output as it is.
    plain.resize(70, 19);
    let l = lines.clone();
    plain.wait_for("each line wrapped at 70 columns", move |t| {
        shows_wrapped(t, &l[2..], 70)
    });
    env.ok(&["send", "big", "\r"]);
}

/// Issue #8 item 24: the latest terminal's size wins only while it is
/// attached. A small terminal attaches, a large one attaches (the session
/// takes its size), a read-only viewer attaches (it sizes nothing); when
/// the large one detaches, the program gets SIGWINCH and the small
/// terminal's size back, so the small terminal is no longer clipped.
#[test]
fn the_session_takes_back_the_smaller_size_when_the_larger_terminal_detaches() {
    let env = Env::new();
    env.start(
        "sizes",
        &[],
        &[
            "sh",
            "-c",
            "trap 'echo WINCH $(stty size)' WINCH; echo READY; while :; do sleep 0.1; done",
        ],
    );
    env.wait_screen("sizes", "^READY$");
    let size_is = |cols, rows| session_size_is(&env, "sizes", cols, rows);
    // How many times the program saw SIGWINCH with the terminal at `stty`.
    let winches = |stty: &str| {
        let line = format!("WINCH {stty}");
        env.screen_lines("sizes")
            .iter()
            .filter(|l| **l == line)
            .count()
    };
    let winched = |stty: &str, n: usize| {
        poll(&format!("SIGWINCH #{n} at {stty}"), DEADLINE, || {
            (winches(stty) >= n).then_some(())
        })
    };
    let mut small = Term::spawn(&env, &["attach", "sizes"], 60, 20);
    small.wait_for("the small bar", |t| t.bar().contains("hm │ sizes │"));
    size_is(60, 19);
    winched("19 60", 1);
    let mut large = Term::spawn(&env, &["attach", "sizes"], 120, 40);
    large.wait_for("the large bar", |t| t.bar().contains("hm │ sizes │"));
    size_is(120, 39);
    winched("39 120", 1);
    let mut viewer = Term::spawn(&env, &["attach", "sizes", "--read-only"], 100, 30);
    viewer.wait_for("the viewer's bar", |t| t.bar().contains("read-only"));
    assert_eq!(
        env.status_json("sizes")["cols"],
        120,
        "a viewer sizes nothing"
    );

    large.type_bytes(b"\x1c"); // the detach key
    assert_eq!(large.wait_exit(), Some(0), "{}", large.text());
    size_is(60, 19);
    winched("19 60", 2);
    // The small terminal shows the program's lines whole again.
    small.wait_for("the second SIGWINCH on the small terminal", |t| {
        t.rows_text().iter().filter(|r| *r == "WINCH 19 60").count() >= 2
    });
    assert_eq!(
        env.status_json("sizes")["cols"],
        60,
        "the viewer did not take over"
    );
    drop(viewer);
    drop(small);
}

/// A terminal attached to a heimdall 1.0 supervisor: it has no screen model
/// (SCREEN is refused at once as "needs a newer supervisor"), so the output
/// comes as 1.0's SUBSCRIBE replays it, and the exit code is its EXIT's.
#[test]
fn attaching_to_a_one_zero_supervisor_streams_its_output() {
    let env = Env::new();
    let _kills = one_zero_server(&env, "old");
    let mut t = Term::spawn(&env, &["attach", "old"], 80, 24);
    assert_eq!(t.wait_exit(), Some(9), "{}", t.text());
    let text = t.text();
    assert!(text.contains("one-zero output"), "{text}");
    assert!(text.contains("[session old exited with code 9]"), "{text}");
}

/// A terminal with the status bar grows: the session's screen (which takes
/// rows back from its scrollback) is what the terminal shows, not the old
/// picture padded with blank rows — bash does not redraw on SIGWINCH.
#[test]
fn a_terminal_that_grows_shows_the_sessions_screen() {
    let env = Env::new();
    bash(&env, "grow");
    let mut t = Term::spawn(&env, &["attach", "grow"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ grow │"));
    t.type_bytes(b"for i in $(seq 1 100); do echo row$i; done\r");
    t.wait_for("the last row", |t| {
        t.rows_text().iter().any(|r| r == "row100")
    });
    t.resize(80, 34);
    poll("the session to take the new size", DEADLINE, || {
        let s = env.status_json("grow");
        (s["rows"] == 33).then_some(())
    });
    let session: Vec<String> = env
        .screen_lines("grow")
        .iter()
        .map(|l| l.trim_end().to_string())
        .collect();
    assert!(!session[0].is_empty(), "{session:?}");
    let what = format!(
        "the session's screen above the bar:\n{}",
        session[..33].join("\n")
    );
    t.wait_for(&what, move |t| t.rows_text()[..33] == session[..33]);
    assert!(t.bar().contains("hm │ grow │"), "{}", t.text());
}

/// Wait for `re` on the screen of a session `hm run` is still starting
/// (`hm wait` fails while it does not exist yet).
fn wait_screen_of_a_starting_session(env: &Env, id: &str, re: &str) {
    poll(&format!("{re:?} on {id}'s screen"), DEADLINE, || {
        env.run(&["wait", id, "--regex", re, "--timeout", "1000"])
            .status
            .success()
            .then_some(())
    });
}

/// What `seq 1 N` writes through a terminal: each line ends in CR LF.
fn seq_through_a_pty(n: u32) -> Vec<u8> {
    (1..=n)
        .flat_map(|i| format!("{i}\r\n").into_bytes())
        .collect()
}

/// A config file with a short stall timeout (200 ms); its path.
fn short_stall_config(env: &Env) -> String {
    env.config("stall.toml", "stall_timeout_ms = 200\n")
}

/// `hm run` with a short stall timeout (200 ms) into a pipe nobody reads
/// yet, running `seq 1 N; exit 3`: hm run, its stdout, and what seq writes.
fn hm_run_seq_into_a_pipe(env: &Env, id: &str, n: u32) -> (Piped, ChildStdout, Vec<u8>) {
    let config = short_stall_config(env);
    let mut p = Piped::spawn(
        env,
        &[
            "run",
            "--config",
            &config,
            "--id",
            id,
            "--",
            "sh",
            "-c",
            "seq 1 \"$0\"; exit 3",
            &n.to_string(),
        ],
        Stdio::null(),
    );
    let out = p.0.stdout.take().expect("stdout");
    (p, out, seq_through_a_pty(n))
}

/// Read from `out` until `until` bytes are in `got`, stopping for `pause`
/// (longer than the stall timeout) every `every` bytes, from the first.
fn read_slowly(
    out: &mut impl Read,
    got: &mut Vec<u8>,
    until: usize,
    every: usize,
    pause: Duration,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut next_pause = got.len();
    while got.len() < until {
        if got.len() >= next_pause {
            // The reader is slow: this is what is tested, not a wait for
            // an event.
            std::thread::sleep(pause);
            next_pause += every;
        }
        let n = out.read(&mut buf).expect("read hm run's stdout");
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

/// `hm run -- cmd | slow-reader` loses nothing: the program waits for the
/// pipe's reader however long it takes, as it would writing into the pipe
/// itself (SUBSCRIBE's `hold`). The reader stops for longer than the stall
/// timeout again and again while the program writes (2.3 MB, more than
/// the live window and every buffer on the way), and once more after the
/// program has ended, for longer than the supervisor serves an ordinary
/// client that stopped reading (3 s + the stall timeout) — with about a
/// megabyte still waiting for it in the supervisor. Every byte arrives, in
/// order, and hm run ends with the program's code. (Before, the reader was
/// cut loose: ~200 k of 1 M lines arrived, the loss said on stderr.)
#[test]
fn hm_run_into_a_slow_pipe_loses_nothing() {
    let env = Env::new();
    let (mut p, mut out, expected) = hm_run_seq_into_a_pipe(&env, "slow", 300_000);
    let mut got = Vec::new();
    // Stop 1.2 MB before the end: the program can end (what it still has
    // to write fits in the live window and the buffers on the way).
    let before_end = expected.len() - 1_200_000;
    read_slowly(
        &mut out,
        &mut got,
        before_end,
        300_000,
        Duration::from_millis(500),
    );
    poll("the program to end", DEADLINE, || {
        (env.status_json("slow")["alive"] == false).then_some(())
    });
    // The reader stops again, longer than an ordinary client is served.
    std::thread::sleep(Duration::from_millis(4_000));
    out.read_to_end(&mut got).expect("read the rest");
    let (code, err) = p.exit("hm run to end");
    assert!(!err.contains("lost"), "{err}");
    assert_eq!(got.len(), expected.len(), "{err}");
    assert!(got == expected, "the output differs from seq's");
    assert_eq!(code, Some(3), "{err}");
}

/// A watcher never holds a session others may use: `hm attach --read-only
/// X | slow-reader` is cut loose like any client that stops reading (the
/// program runs on at its own pace), and stderr says how many bytes of
/// the output it lost.
#[test]
fn hm_attach_read_only_into_a_slow_pipe_says_what_it_lost() {
    let env = Env::new();
    let config = &short_stall_config(&env);
    // 15.8 MB: more than the watcher's client keeps for it (8 MiB).
    let last = "2000000";
    let script = "echo ready; read x; seq 1 \"$0\"; read y";
    env.start(
        "watched",
        &["--config", config],
        &["sh", "-c", script, last],
    );
    let mut p = Piped::spawn(&env, &["attach", "--read-only", "watched"], Stdio::piped());
    let mut out = p.0.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // It has subscribed once it shows the first line.
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = out.read(&mut buf).expect("read the watcher's stdout");
        assert!(n > 0, "the watcher ended");
        seen.extend_from_slice(&buf[..n]);
    }
    env.ok(&["send", "watched", "\r"]);
    // Nobody reads until the program has written everything.
    env.wait_screen("watched", &format!("^{last}$"));
    env.ok(&["send", "watched", "\r"]);
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).map(|_| rest.len())
    });
    let (code, err) = p.exit("the watcher to end with the session");
    let read = reader.join().expect("reader").expect("read stdout");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        read < 15_000_000,
        "the watcher got everything: {read} bytes"
    );
    assert!(err.contains("output lost"), "{read} bytes; stderr: {err}");
}

/// While `hm run | slow-reader` holds the program, another client
/// following the output (`hm tail -f`, an ordinary subscriber that reads
/// at once) gets every byte from where it started to the end, in order,
/// and ends with the session.
#[test]
fn other_subscribers_of_a_held_session_get_every_byte() {
    let env = Env::new();
    let (mut p, mut out, expected) = hm_run_seq_into_a_pipe(&env, "held", 500_000);
    let mut got = Vec::new();
    // A first look makes sure the session runs and is held.
    read_slowly(&mut out, &mut got, 1, 1, Duration::from_millis(500));
    let tail = env
        .hm()
        .args(["tail", "-f", "held"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hm tail");
    // Read at once, all along.
    let tail = std::thread::spawn(move || tail.wait_with_output());
    let pause = Duration::from_millis(500);
    read_slowly(&mut out, &mut got, expected.len(), 1_000_000, pause);
    out.read_to_end(&mut got).expect("read the rest");
    let tailed = tail.join().expect("hm tail thread").expect("hm tail");
    let (code, err) = p.exit("hm run to end");
    assert!(got == expected, "hm run's output differs from seq's: {err}");
    assert_eq!(code, Some(3), "{err}");
    let tail_err = String::from_utf8_lossy(&tailed.stderr);
    assert!(tailed.status.success(), "{tail_err}");
    assert!(tail_err.is_empty(), "{tail_err}");
    assert!(
        tailed.stdout.len() > 1_000_000,
        "hm tail started late: {} bytes",
        tailed.stdout.len()
    );
    assert!(
        expected.ends_with(&tailed.stdout),
        "hm tail's output is not the end of seq's ({} bytes)",
        tailed.stdout.len()
    );
}

/// `hm attach X` typed inside session X: the attach would read its own
/// output and type its own keys into the session forever. It is refused,
/// and the session's shell carries on.
#[test]
fn attaching_a_session_from_inside_itself_is_refused() {
    let env = Env::new();
    bash(&env, "me");
    let mut t = Term::spawn(&env, &["attach", "me"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ me │"));
    let hm = common::hm_bin();
    let cmd = format!("{} attach me; echo rc=$?\r", hm.display());
    t.type_bytes(cmd.as_bytes());
    t.wait_text("rc=2");
    assert!(t.text().contains("is session me's own"), "{}", t.text());
    t.type_bytes(b"echo still-$((2*4))\r");
    t.wait_text("still-8");
}

/// An attach loop: `hm attach y` runs inside session x, and inside y
/// (typed through it) `hm attach x` would show x in y and y in x, their
/// output feeding itself forever. It is refused, and y's shell carries on;
/// so is a longer loop (inside y `hm attach z`, inside z `hm attach x`),
/// while attaching z from y (no loop) is not.
#[test]
fn attach_loops_between_sessions_are_refused() {
    let env = Env::new();
    bash(&env, "x");
    bash(&env, "y");
    bash(&env, "z");
    let mut t = Term::spawn(&env, &["attach", "x"], 100, 30);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ x │"));
    let hm = common::hm_bin();
    // `hm attach ID` typed into the innermost shell (through the attaches);
    // once it shows, its status bar is on the screen of `inside`.
    let attach = |t: &mut Term, id: &str, inside: &str| {
        t.type_bytes(format!("{} attach {id}\r", hm.display()).as_bytes());
        env.wait_screen(inside, &format!("hm │ {id} │"));
    };
    // `hm attach x` typed there, refused: the screen of `inside` after it.
    let refused = |t: &mut Term, inside: &str| {
        t.type_bytes(format!("{} attach x; echo rc=$?\r", hm.display()).as_bytes());
        env.wait_screen(inside, "^rc=2");
        env.screen_lines(inside).join("\n")
    };
    attach(&mut t, "y", "x");
    let screen = refused(&mut t, "y");
    assert!(screen.contains("session x already shows"), "{screen}");
    t.type_bytes(b"echo still-$((2*4))\r");
    env.wait_screen("y", "^still-8");

    attach(&mut t, "z", "y");
    let screen = refused(&mut t, "z");
    assert!(screen.contains("(z → y → x:"), "{screen}");
}

/// `hm run -- make | tee log` and a keyboard signal (Ctrl-C: SIGINT,
/// Ctrl-\\: SIGQUIT), or a CI runner's SIGTERM or a closed terminal's
/// SIGHUP: it reaches the program (as without hm) and hm run ends with its
/// code; hm dying alone left the program running in the background,
/// without a word.
fn signal_on_hm_run_into_a_pipe_reaches_the_program(sig: nix::sys::signal::Signal, trap: &str) {
    let env = Env::new();
    let script =
        format!("trap 'echo got-{trap}; exit 7' {trap}; echo ready; while :; do sleep 0.1; done");
    let mut p = Piped::spawn(
        &env,
        &["run", "--id", "ci", "--", "sh", "-c", &script],
        Stdio::null(),
    );
    wait_screen_of_a_starting_session(&env, "ci", "^ready$");
    let pid = nix::unistd::Pid::from_raw(p.0.id() as i32);
    nix::sys::signal::kill(pid, sig).expect("signal hm run");
    let (code, err) = p.exit("hm run to end with the program");
    let mut out = String::new();
    p.0.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(code, Some(7), "{err}\n{out}");
    assert!(out.contains(&format!("got-{trap}")), "{out:?}");
}

#[test]
fn ctrl_c_on_hm_run_into_a_pipe_interrupts_the_program() {
    signal_on_hm_run_into_a_pipe_reaches_the_program(nix::sys::signal::Signal::SIGINT, "INT");
}

/// Ctrl-\\ at `hm run ... | cat`'s terminal (not raw: the pipe has it)
/// is SIGQUIT; it killed hm run at once and the program ran on.
#[test]
fn ctrl_backslash_on_hm_run_into_a_pipe_quits_the_program() {
    signal_on_hm_run_into_a_pipe_reaches_the_program(nix::sys::signal::Signal::SIGQUIT, "QUIT");
}

/// `timeout 60 hm run -- make | tee log` timing out: its SIGTERM went to
/// hm run alone ("[hm attach was signalled; session ci keeps running]")
/// and the program ran on. Now the program gets it.
#[test]
fn sigterm_on_hm_run_into_a_pipe_reaches_the_program() {
    signal_on_hm_run_into_a_pipe_reaches_the_program(nix::sys::signal::Signal::SIGTERM, "TERM");
}

/// SIGHUP (the terminal of `hm run -- make | tee log` closed) likewise.
#[test]
fn sighup_on_hm_run_into_a_pipe_reaches_the_program() {
    signal_on_hm_run_into_a_pipe_reaches_the_program(nix::sys::signal::Signal::SIGHUP, "HUP");
}

/// `hm run` without a terminal, SIGTERMed, its program not catching it:
/// the program dies of it and hm run exits 143, as the program would; a
/// program that catches it and runs on leaves hm run waiting, and a
/// second SIGTERM leaves it running in its session, said by the name of
/// the command the user ran.
#[test]
fn sigterm_on_hm_run_into_a_pipe_ends_with_the_programs_death() {
    let env = Env::new();
    let mut p = Piped::spawn(
        &env,
        &[
            "run",
            "--id",
            "die",
            "--",
            "sh",
            "-c",
            "echo ready; while :; do sleep 0.1; done",
        ],
        Stdio::null(),
    );
    wait_screen_of_a_starting_session(&env, "die", "^ready$");
    let hm = nix::unistd::Pid::from_raw(p.0.id() as i32);
    nix::sys::signal::kill(hm, nix::sys::signal::Signal::SIGTERM).expect("signal hm run");
    let (code, err) = p.exit("hm run to end with the program");
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("[session die exited with code 143]"), "{err}");
    env.wait_gone("die");

    let script = "trap 'echo got-TERM' TERM; echo ready; while :; do sleep 0.1; done";
    let mut p = Piped::spawn(
        &env,
        &["run", "--id", "stay", "--", "sh", "-c", script],
        Stdio::null(),
    );
    wait_screen_of_a_starting_session(&env, "stay", "^ready$");
    let hm = nix::unistd::Pid::from_raw(p.0.id() as i32);
    nix::sys::signal::kill(hm, nix::sys::signal::Signal::SIGTERM).expect("signal hm run");
    wait_screen_of_a_starting_session(&env, "stay", "^got-TERM$");
    assert_eq!(p.0.try_wait().expect("try_wait"), None, "hm run waits");
    nix::sys::signal::kill(hm, nix::sys::signal::Signal::SIGTERM).expect("signal hm run");
    let (code, err) = p.exit("hm run to leave at the second SIGTERM");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[hm run was signalled; session stay keeps running]"),
        "{err}"
    );
    assert_eq!(env.status_json("stay")["alive"], true);
}

/// How session `id` ended, from `hm status --json`: (code, signal).
fn ended_how(env: &Env, id: &str) -> (serde_json::Value, serde_json::Value) {
    env.wait_gone(id);
    let st = env.status_json(id);
    (st["code"].clone(), st["signal"].clone())
}

/// `hm run -- yes | head -1`: the reader went, `hm run` exited 0 and `yes`
/// ran on at 100 % CPU in its session, for ever. Now it is as with `yes |
/// head -1`: the program gets SIGPIPE and hm run exits 141. Also when the
/// reader goes while the program prints nothing, and when the program
/// ignores SIGPIPE (then its tree is killed as `hm kill` does).
#[test]
fn hm_run_into_a_pipe_whose_reader_goes_ends_its_session() {
    let env = Env::new();
    let mut p = Piped::spawn(&env, &["run", "--id", "yes", "--", "yes"], Stdio::null());
    let mut out = p.0.stdout.take().expect("stdout");
    let mut some = [0u8; 4096];
    out.read_exact(&mut some).expect("yes's output");
    drop(out);
    let (code, err) = p.exit("hm run to end with its reader");
    assert_eq!(code, Some(141), "{err}");
    assert_eq!(ended_how(&env, "yes"), (141.into(), 13.into()));

    // Quiet: the reader goes before any output.
    let mut p = Piped::spawn(
        &env,
        &["run", "--id", "quiet", "--", "sleep", "1000"],
        Stdio::null(),
    );
    drop(p.0.stdout.take());
    let (code, err) = p.exit("hm run to notice its reader is gone");
    assert_eq!(code, Some(141), "{err}");
    assert_eq!(ended_how(&env, "quiet"), (141.into(), 13.into()));

    // SIGPIPE ignored (and so by sleep too): killed.
    let script = "trap '' PIPE; echo ready; sleep 1000";
    let mut p = Piped::spawn(
        &env,
        &["run", "--id", "deaf", "--", "sh", "-c", script],
        Stdio::null(),
    );
    wait_screen_of_a_starting_session(&env, "deaf", "^ready$");
    drop(p.0.stdout.take());
    let (code, err) = p.exit("hm run to end the session");
    assert_eq!(code, Some(141), "{err}");
    assert_eq!(ended_how(&env, "deaf").1, 15, "SIGTERM, as hm kill sends");
}

/// `hm kill` of a session whose `hm run` pipe reader does not read (`hm run
/// -- flood | sleep`): the kill sent SIGTERM, the program died at once, and
/// hm kill hung until its bound (15 s) while the session stayed `exiting`
/// for as long as the reader did not read. A session killed on purpose is
/// not held: it ends at once, and hm run, once read, says how.
#[test]
fn hm_kill_ends_a_session_held_by_a_reader_that_does_not_read() {
    let env = Env::new();
    let mut p = Piped::spawn(
        &env,
        &[
            "run",
            "--id",
            "held",
            "--",
            "sh",
            "-c",
            "yes | head -c 5000000",
        ],
        Stdio::null(),
    );
    let mut out = p.0.stdout.take().expect("stdout");
    // More than the pipe and hm run take: the reader holds the program.
    poll("the program to fill the pipe", DEADLINE, || {
        let st = env.run(&["status", "held", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).ok()?;
        (v["output_offset"].as_u64()? > 1_000_000).then_some(())
    });
    let started = std::time::Instant::now();
    let kill = env.run(&["kill", "held"]);
    assert!(
        kill.status.success(),
        "hm kill failed after {:?}: {}",
        started.elapsed(),
        String::from_utf8_lossy(&kill.stderr)
    );
    assert_eq!(ended_how(&env, "held").1, 15, "SIGTERM, as hm kill sends");
    let mut got = Vec::new();
    out.read_to_end(&mut got).expect("read hm run's output");
    let (code, err) = p.exit("hm run to end");
    assert_eq!(code, Some(143), "{err}");
    assert!(err.contains("[session held exited with code 143]"), "{err}");
}

/// `hm run -- yes > /dev/full`: hm run exited 1 and yes ran on. Now the
/// session ends with it (yes alone would fail too) and stderr says why.
#[test]
fn hm_run_whose_output_cannot_be_written_ends_its_session() {
    let env = Env::new();
    let child = env
        .hm()
        .args(["run", "--id", "full", "--", "yes"])
        .stdin(Stdio::null())
        .stdout(common::dev_full())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hm");
    let mut p = Piped(child);
    let (code, err) = p.exit("hm run to end");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("[hm run: cannot write the output (No space left on device"),
        "{err}"
    );
    assert_eq!(ended_how(&env, "full").1, 15, "SIGTERM, as hm kill sends");
}

/// What a program turns on and the client must turn off when it leaves the
/// terminal, and how (the mode's set sequence, its reset).
const LEFT_ON_MODES: &[(&str, &str)] = &[
    // Cursor shape (DECSCUSR): a bar cursor stayed in the user's shell.
    ("\x1b[5 q", "\x1b[0 q"),
    ("\x1b[?1004h", "\x1b[?1004l"),
    ("\x1b[?2004h", "\x1b[?2004l"),
    ("\x1b[?1000h", "\x1b[?1000l"),
    ("\x1b[?1002h", "\x1b[?1002l"),
    ("\x1b[?1003h", "\x1b[?1003l"),
    ("\x1b[?1005h", "\x1b[?1005l"),
    ("\x1b[?1006h", "\x1b[?1006l"),
    ("\x1b[?1015h", "\x1b[?1015l"),
    ("\x1b[?1h", "\x1b[?1l"),
    ("\x1b[>4;2m", "\x1b[>4m"),
    ("\x1b[>1u", "\x1b[<u"),
    ("\x1b=", "\x1b>"),
    ("\x1b[?25l", "\x1b[?25h"),
    ("\x1b[?7l", "\x1b[?7h"),
    ("\x1b[4h", "\x1b[4l"),
    ("\x1b[2;5r", "\x1b[r"),
    ("\x1b[1;31m", "\x1b[0m"),
];

/// Whether every mode set in `LEFT_ON_MODES` is reset in what the client
/// wrote after `from`.
fn modes_reset(raw: &[u8], from: usize) -> Vec<&'static str> {
    let after = String::from_utf8_lossy(&raw[from.min(raw.len())..]).into_owned();
    // After the last time one was set.
    let last_set = LEFT_ON_MODES
        .iter()
        .filter_map(|(set, _)| after.rfind(set).map(|at| at + set.len()))
        .max()
        .unwrap_or(0);
    let after = &after[last_set..];
    LEFT_ON_MODES
        .iter()
        .filter(|(_, reset)| !after.contains(reset))
        .map(|(_, reset)| *reset)
        .collect()
}

/// A program that leaves modes on (a bar cursor, focus events, mouse
/// reporting, no autowrap, ...) and is detached from, or exits: the
/// user's terminal gets every one of them back as it was, as tmux does.
#[test]
fn modes_a_program_left_on_are_reset_on_detach_and_on_exit() {
    let env = Env::new();
    let set: String = LEFT_ON_MODES.iter().map(|(set, _)| *set).collect();
    let script = format!("printf '%s' '{set}'; echo modes-on; read x; printf '%s' '{set}'");
    env.start("md", &[], &["bash", "-c", &script]);
    env.wait_screen("md", "modes-on");
    for bar in [false, true] {
        let args: &[&str] = if bar {
            &["attach", "md"]
        } else {
            &["attach", "md", "--no-status-bar"]
        };
        let mut t = Term::spawn(&env, args, 80, 24);
        t.wait_text("modes-on");
        let from = t.raw.len();
        t.type_bytes(&[0x1c]);
        assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
        let left = modes_reset(&t.raw, from);
        assert!(left.is_empty(), "bar {bar}: not reset on detach: {left:?}");
    }
    let mut t = Term::spawn(&env, &["attach", "md", "--no-status-bar"], 80, 24);
    t.wait_text("modes-on");
    let from = t.raw.len();
    t.type_bytes(b"\r");
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let left = modes_reset(&t.raw, from);
    assert!(left.is_empty(), "not reset on exit: {left:?}");
}

/// Tab stops a program set (`tabs 4`) are the default ones again on the
/// user's terminal after detach, with the bar or without: the output as it
/// is (or a redraw giving the program's stops) set them on the terminal,
/// and the shell's tabs went on every 4 columns after hm left.
#[test]
fn tab_stops_a_program_set_are_the_default_ones_after_detach() {
    let env = Env::new();
    let stops: String = (1..20)
        .map(|i| format!("\\033[{}G\\033H", i * 4 + 1))
        .collect();
    let script = format!("printf '\\033[3g{stops}\\r'; echo tabs-set; sleep 300");
    env.start("tb", &[], &["bash", "-c", &script]);
    env.wait_screen("tb", "tabs-set");
    for args in [&["attach", "tb", "--no-status-bar"][..], &["attach", "tb"]] {
        let mut t = Term::spawn(&env, args, 80, 24);
        t.wait_text("tabs-set");
        t.type_bytes(&[0x1c]);
        assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
        t.screen.process(b"\r\n\tX\r\n");
        let rows = t.rows_text();
        assert!(
            rows.iter().any(|r| r == "        X"),
            "{args:?}: a tab after detach did not go to column 8: {rows:#?}"
        );
    }
}

/// `hm run --no-status-bar --id ID -- sh -c SCRIPT` at an 80x24 terminal.
fn run_sh_without_bar(env: &Env, id: &str, script: &str) -> Term {
    let args = [
        "run",
        "--no-status-bar",
        "--id",
        id,
        "--",
        "sh",
        "-c",
        script,
    ];
    Term::spawn(env, &args, 80, 24)
}

/// Leaving the terminal (exit or detach) without the bar leaves the
/// alternate screen only if the program's output is on it: `ESC[?1049l` on
/// the normal screen moves tmux's cursor to where the last `ESC[?1049h` of
/// that pane had saved it (a vim run long before), so `[session X exited
/// ...]` and the shell's prompt were written over the top rows.
#[test]
fn leaving_the_normal_screen_does_not_leave_the_alternate_one() {
    let env = Env::new();
    let script = "echo ready; read x; printf '\\033[?1049hin-alt\\n'; read x; printf '\\033[?1049l'; echo bye";
    let mut t = run_sh_without_bar(&env, "alt", script);
    t.wait_text("ready");
    t.type_bytes(b"\r");
    t.wait_text("in-alt");
    // Detached on the alternate screen: it is left.
    let from = t.raw.len();
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let tail = String::from_utf8_lossy(&t.raw[from..]).into_owned();
    assert!(
        tail.contains("\x1b[?1049l"),
        "alternate screen kept: {tail:?}"
    );
    let mut t = Term::spawn(&env, &["attach", "--no-status-bar", "alt"], 80, 24);
    t.wait_text("in-alt");
    t.type_bytes(b"\r");
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let raw = String::from_utf8_lossy(&t.raw).into_owned();
    let tail = &raw[raw.rfind("bye").unwrap_or(0)..];
    assert!(
        !tail.contains("\x1b[?1049l"),
        "normal screen left: {tail:?}"
    );
    assert!(tail.contains("exited with code 0"), "{tail:?}");
}

/// What hm says when it lets the terminal go starts a line of its own
/// without the bar too: after a program whose output ends mid-line it was
/// glued to it (`abc[session X exited with code 0]`), and so was
/// `[detached ...]` to a shell's prompt.
#[test]
fn what_hm_says_at_the_end_starts_a_line_without_the_bar() {
    let env = Env::new();
    let script = "printf abc; read x; printf 'def'";
    let mut t = run_sh_without_bar(&env, "mid", script);
    t.wait_text("abc");
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let rows = t.rows_text();
    assert!(rows.iter().any(|r| r == "abc"), "{rows:#?}");
    assert!(rows.iter().any(|r| r.starts_with("[detached")), "{rows:#?}");
    let mut t = Term::spawn(&env, &["attach", "--no-status-bar", "mid"], 80, 24);
    t.wait_text("abc");
    t.type_bytes(b"\r");
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let rows = t.rows_text();
    assert!(rows.iter().any(|r| r == "def"), "{rows:#?}");
    assert!(
        rows.iter().any(|r| r.starts_with("[session mid exited")),
        "{rows:#?}"
    );
}

/// Write `bytes` to the terminal as a paste: as fast as the terminal takes
/// them, reading what the client draws meanwhile. False if `deadline`
/// passed first.
fn paste(t: &mut Term, bytes: &[u8], deadline: Instant) -> bool {
    use std::io::Write;
    let mut rest = bytes;
    while !rest.is_empty() {
        match t.master.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                t.pump();
                if let Some(st) = t.child.try_wait().expect("try_wait") {
                    t.pump();
                    panic!(
                        "hm attach ended ({st}) with {} bytes of the paste left; it shows:\n{}",
                        rest.len(),
                        t.text()
                    );
                }
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("writing to the terminal: {e}"),
        }
    }
    true
}

/// A large paste into a program that is not reading yet: more than the
/// supervisor queues (4 MiB), so the input backs up into `hm attach`. It
/// used to send with a 5 s deadline and exit with an error. Now the paste
/// waits (as over ssh): the attachment stays up, the program's output keeps
/// being drawn, and when the program reads it gets every byte, in order.
#[test]
fn a_large_paste_into_a_program_not_reading_waits_and_arrives_whole() {
    const SIZE: usize = 6 << 20;
    let env = Env::new();
    // Printable bytes, no detach key, no newline: a checksum tells order.
    let data: Vec<u8> = (0..SIZE)
        .map(|i| b'a' + ((i * 7 + i / 997) % 26) as u8)
        .collect();
    let sum = {
        let out = std::process::Command::new("sh")
            .args(["-c", "cksum"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().expect("stdin").write_all(&data)?;
                c.wait_with_output()
            })
            .expect("cksum");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let script = format!(
        "stty raw -echo; printf 'not-reading\\r\\n'; \
         for i in 1 2 3 4 5 6 7 8; do sleep 1; printf 'tick-%s\\r\\n' $i; done; \
         head -c {SIZE} | cksum | sed 's/^/sum: /; s/$/\\r/'; read x"
    );
    env.start("pst", &[], &["sh", "-c", &script]);
    env.wait_screen("pst", "not-reading");
    let mut t = Term::spawn(&env, &["attach", "pst", "--no-status-bar"], 80, 24);
    t.wait_text("not-reading");
    let start = Instant::now();
    let all_in = paste(&mut t, &data, start + DEADLINE);
    assert!(all_in, "the paste was not taken within {DEADLINE:?}");
    // Output keeps being drawn while the paste waits, and the attachment
    // outlives the old 5 s deadline.
    t.wait_text("tick-8");
    assert!(start.elapsed() > Duration::from_secs(5));
    assert_eq!(t.child.try_wait().expect("try_wait"), None, "{}", t.text());
    let expected = format!("sum: {sum}");
    t.wait_text(&expected);
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
}

/// The detach key while a large paste is stuck behind a program that does
/// not read: the attachment ends at once (the paste waited with a 5 s
/// deadline and `hm attach` died with an error); the session runs on.
#[test]
fn the_detach_key_detaches_promptly_while_a_paste_waits() {
    let env = Env::new();
    env.start(
        "stk",
        &[],
        &[
            "sh",
            "-c",
            "stty raw -echo; printf 'not-reading\\r\\n'; sleep 1000",
        ],
    );
    env.wait_screen("stk", "not-reading");
    let mut t = Term::spawn(&env, &["attach", "stk", "--no-status-bar"], 80, 24);
    t.wait_text("not-reading");
    let data = vec![b'x'; 6 << 20];
    assert!(
        paste(&mut t, &data, Instant::now() + DEADLINE),
        "the paste was not taken within {DEADLINE:?}"
    );
    let pressed = Instant::now();
    // (The terminal may still be full of the paste.)
    assert!(paste(&mut t, &[0x1c], pressed + DEADLINE), "the detach key");
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    let took = pressed.elapsed();
    // (It waits for the keys before it only while they move: a quarter
    // second here, where the old 2 s bound was used up.)
    assert!(
        took < Duration::from_millis(1500),
        "detaching took {took:?}"
    );
    assert!(
        t.text().contains("[detached from session stk"),
        "{}",
        t.text()
    );
    assert_eq!(env.status_json("stk")["alive"], true);
}

/// A program asking its terminal where the cursor is (and what it is) gets
/// one answer, from the supervisor, with or without a terminal attached:
/// the attached terminal never sees the question (it would answer again),
/// also when the question comes in two pieces of output.
#[test]
fn terminal_queries_are_answered_once_attached_or_not() {
    let env = Env::new();
    let go = env.dir.path().join("go");
    let script = format!(
        r#"
import os, select, tty
tty.setraw(0)
def ask(q):
    os.write(1, q)
    got = b""
    while True:
        r, _, _ = select.select([0], [], [], 0.5)
        if not r:
            return got
        got += os.read(0, 64)
while not os.path.exists({go:?}):
    select.select([], [], [], 0.05)
os.remove({go:?})
def ask_in_two(first, rest):
    os.write(1, first)
    select.select([], [], [], 0.2)
    return ask(rest)
res = [ask(b"\x1b[3;5H\x1b[6n"), ask(b"\x1b[5n"), ask(b"\x1b[c"), ask_in_two(b"\x1b[4;7H\x1b[", b"6n")]
os.write(1, b"\x1b[10;1H" + repr(res).encode() + b"\r\n")
select.select([0], [], [], 100)
"#,
        go = go.to_str().unwrap()
    );
    let want = r"[b'\x1b[3;5R', b'\x1b[0n', b'\x1b[?1;2c', b'\x1b[4;7R']";
    // Nobody attached.
    env.start("alone", &[], &["python3", "-c", &script]);
    std::fs::write(&go, "").unwrap();
    env.wait_screen("alone", r"^\[b'");
    assert!(env.ok(&["screen", "alone"]).contains(want));
    // A terminal attached without the bar gets the output as it is, but
    // not the queries.
    env.start("watched", &[], &["python3", "-c", &script]);
    let mut t = Term::spawn(&env, &["attach", "watched", "--no-status-bar"], 80, 24);
    poll("the session to take the terminal's size", DEADLINE, || {
        (env.status_json("watched")["rows"] == 24).then_some(())
    });
    std::fs::write(&go, "").unwrap();
    t.wait_text("[b'");
    assert!(t.text().contains(want), "{}", t.text());
    assert!(
        !t.raw.windows(4).any(|w| w == b"\x1b[6n"),
        "the terminal saw the query"
    );
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0));
}

/// The erases of the screen below the cursor or whole (ED 0 or 2).
const ERASES: [&[u8]; 3] = [b"\x1b[J", b"\x1b[0J", b"\x1b[2J"];

/// Every line of the terminal's history and screen, top to bottom, from
/// the bytes the client wrote (a `cols`×`rows` terminal keeping its
/// history). As tmux does (`scroll-on-clear`), an erase of the
/// whole normal screen (ED 2, or ED 0 with the cursor at home) first
/// scrolls what it shows into the history.
fn history_and_screen(raw: &[u8], cols: u16, rows: u16) -> Vec<String> {
    let mut p = vt100::Parser::new(
        std::num::NonZeroU16::new(rows).unwrap(),
        std::num::NonZeroU16::new(cols).unwrap(),
        10_000,
    );
    let mut rest = raw;
    while let Some((at, erase)) = (0..rest.len()).find_map(|i| {
        ERASES
            .iter()
            .find(|e| rest[i..].starts_with(e))
            .map(|e| (i, *e))
    }) {
        p.process(&rest[..at]);
        let whole = erase == b"\x1b[2J" || p.screen().cursor_position() == (0, 0);
        if whole && !p.screen().alternate_screen() {
            let (row, col) = p.screen().cursor_position();
            let scroll = format!(
                "\x1b[{rows};1H{}\x1b[{};{}H",
                "\n".repeat(rows.into()),
                row + 1,
                col + 1
            );
            p.process(scroll.as_bytes());
        }
        p.process(erase);
        rest = &rest[at + erase.len()..];
    }
    p.process(rest);
    let screen = p.screen_mut();
    screen.set_scrollback(usize::MAX);
    let mut lines = Vec::new();
    for back in (1..=screen.scrollback()).rev() {
        screen.set_scrollback(back);
        lines.extend(
            screen
                .rows(0, cols)
                .next()
                .map(|r| r.trim_end().to_string()),
        );
    }
    screen.set_scrollback(0);
    lines.extend(screen.rows(0, cols).map(|r| r.trim_end().to_string()));
    lines
}

/// Without the status bar (read-only or not), a resize of the terminal
/// draws the session's screen again in place, as with the bar; it never
/// pushes the scrollback or the screen into the terminal's history again
/// (each resize showed the output already shown once more).
#[test]
fn a_resize_without_the_status_bar_never_shows_output_again() {
    // A read-only client draws again on every SIGWINCH, also one that
    // changes the pixel size only; the other has nothing to draw then.
    let again = [(90, 24), (80, 24), (80, 24), (90, 24), (80, 24)];
    let resized = [(90, 24), (80, 24), (90, 24), (80, 24)];
    for (args, sizes) in [
        (
            &["attach", "--read-only", "--no-status-bar", "p"][..],
            &again[..],
        ),
        (&["attach", "--no-status-bar", "p"], &resized),
    ] {
        let env = Env::new();
        env.start(
            "p",
            &[],
            &["sh", "-c", "seq 1 60 | sed s/^/line/; sleep 300"],
        );
        env.wait_screen("p", "line60");
        let mut t = Term::spawn(&env, args, 80, 24);
        t.wait_text("line60");
        let drawn = |t: &Term| t.raw.windows(6).filter(|w| w == b"line60").count();
        for &(cols, rows) in sizes {
            let before = drawn(&t);
            if (t.cols, t.rows) == (cols, rows) {
                // The same size (a pixel size changed): SIGWINCH all the same.
                let ws = nix::pty::Winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 1 + (before as u16 % 100),
                    ws_ypixel: 1,
                };
                // SAFETY: TIOCSWINSZ with a valid winsize.
                unsafe { libc::ioctl(t.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            } else {
                t.resize(cols, rows);
            }
            // The screen drawn again at the new size.
            t.wait_for("the screen drawn again", |t| drawn(t) > before);
        }
        t.wait_for("the session's screen", |t| {
            t.rows_text().iter().any(|r| r == "line60")
        });
        let lines = history_and_screen(&t.raw, 80, 24);
        for i in 1..=60 {
            let line = format!("line{i}");
            let n = lines.iter().filter(|l| **l == line).count();
            assert!(
                n <= 1,
                "hm {args:?}: {line} is {n} times in the terminal:\n{}",
                lines.join("\n")
            );
        }
        assert!(
            lines.contains(&"line60".to_string()),
            "{}",
            lines.join("\n")
        );
    }
}

/// A program that prints each byte it reads from its terminal (raw) in
/// hex, `got-1c`, and exits with code 5 at `q`.
const HEX_KEYS: &str = r"import os, tty
tty.setraw(0)
os.write(1, b'ready\r\n')
while True:
    b = os.read(0, 1)
    if not b or b == b'q':
        break
    os.write(1, ('got-%s\r\n' % b.hex()).encode())
raise SystemExit(5)
";

/// `hm run ... -- python3 HEX_KEYS` at a terminal, once the program is ready.
fn run_hex_keys(env: &Env, id: &str, options: &[&str]) -> Term {
    let mut args = vec!["run", "--id", id];
    args.extend_from_slice(options);
    args.extend_from_slice(&["--", "python3", "-c", HEX_KEYS]);
    let mut t = Term::spawn(env, &args, 80, 24);
    t.wait_text("ready");
    t
}

/// `--detach-key ctrl-]`: Ctrl-] detaches, and Ctrl-\ (the configured
/// key) is an ordinary key the program gets; the bar names Ctrl-].
#[test]
fn the_detach_key_option_detaches_on_its_key_and_passes_the_default_one_through() {
    let env = Env::new();
    let mut t = run_hex_keys(&env, "dk", &["--detach-key", "ctrl-]"]);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ dk │"));
    assert!(t.bar().contains("Ctrl-] detach"), "{}", t.bar());
    t.type_bytes(&[0x1c]);
    t.wait_text("got-1c");
    assert_eq!(t.child.try_wait().expect("try_wait"), None);
    t.type_bytes(&[0x1d]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    assert!(
        t.text().contains("[detached from session dk"),
        "{}",
        t.text()
    );
    assert!(!env.screen_lines("dk").join("\n").contains("got-1d"));
    assert_eq!(env.status_json("dk")["alive"], true);
}

/// `--detach-key none`: every key goes to the program (the bar says there
/// is no detach key); hm run ends with it.
#[test]
fn no_detach_key_sends_every_key_to_the_program() {
    let env = Env::new();
    let mut t = run_hex_keys(&env, "nk", &["--detach-key", "none"]);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ nk │"));
    assert!(t.bar().contains("no detach key"), "{}", t.bar());
    t.type_bytes(&[0x1c]);
    t.wait_text("got-1c");
    t.type_bytes(&[0x1d]);
    t.wait_text("got-1d");
    t.type_bytes(b"q");
    assert_eq!(t.wait_exit(), Some(5), "{}", t.text());
}

/// A bracketed paste (what a terminal sends when the program turned mode
/// 2004 on) holding the detach key's byte: pasted text, for the program;
/// it used to detach. The key typed after the paste detaches.
#[test]
fn the_detach_key_inside_a_bracketed_paste_goes_to_the_program() {
    let env = Env::new();
    let mut t = run_hex_keys(&env, "bp", &[]);
    t.type_bytes(b"\x1b[200~a\x1cb\x1b[201~");
    let pasted = "got-61 got-1c got-62 got-1b got-5b got-32 got-30 got-31 got-7e";
    poll("the paste to reach the program", DEADLINE, || {
        if let Some(st) = t.child.try_wait().expect("try_wait") {
            t.pump();
            panic!(
                "hm run ended ({st}) with the paste; it shows:\n{}",
                t.text()
            );
        }
        let screen = env.screen_lines("bp").join(" ");
        screen.contains(pasted).then_some(())
    });
    assert_eq!(t.child.try_wait().expect("try_wait"), None);
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
}

/// A paste start marker whose end never comes (a terminal that dropped
/// it, a program that typed the marker): once the input has been quiet for
/// a second the detach key detaches. It went to the program until an end
/// came, and the user was stuck.
#[test]
fn the_detach_key_detaches_after_a_paste_whose_end_never_came() {
    let env = Env::new();
    let mut t = run_hex_keys(&env, "pe", &[]);
    t.type_bytes(b"\x1b[200~a");
    poll("the paste to reach the program", DEADLINE, || {
        let screen = env.screen_lines("pe").join(" ");
        screen.contains("got-7e got-61").then_some(())
    });
    // The input quiet for longer than the bound (1 s).
    std::thread::sleep(Duration::from_millis(1500));
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    assert!(!env.screen_lines("pe").join(" ").contains("got-1c"));
}

/// The detach key as a terminal sends it once the program asked for
/// extended keys (vim asks for xterm's modifyOtherKeys, which reaches the
/// terminal through `--no-status-bar`; neovim for the kitty protocol):
/// Ctrl-\ as `ESC [27;5;92~` or `ESC [92;5u` detaches. It went to the
/// program, and only quitting it let the user detach.
#[test]
fn the_detach_key_in_an_extended_form_detaches() {
    let env = Env::new();
    for key in [&b"\x1b[27;5;92~"[..], b"\x1b[92;5u"] {
        let mut t = run_hex_keys(&env, "xk", &["--no-status-bar"]);
        t.type_bytes(key);
        assert_eq!(t.wait_exit(), Some(0), "{key:?}: {}", t.text());
        assert!(
            t.text().contains("[detached from session xk"),
            "{}",
            t.text()
        );
        assert!(!env.screen_lines("xk").join(" ").contains("got-1b"));
        env.ok(&["kill", "xk"]);
        env.wait_gone("xk");
    }
}

/// A printable detach key (`--detach-key 126`, `~`) detaches when typed,
/// not where it is a byte of what another key sends: PgUp (`ESC [5~`), a
/// paste's start marker (`ESC [200~`) and F1 (`ESC O P`) go to the program
/// whole. They detached at their `~` (a letter key at arrows and F1, a
/// digit at mouse reports).
#[test]
fn a_printable_detach_key_inside_a_key_sequence_goes_to_the_program() {
    let env = Env::new();
    let mut t = run_hex_keys(&env, "pk", &["--detach-key", "126"]);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ pk │"));
    t.type_bytes(b"\x1b[5~\x1b[200~a\x1b[201~\x1bOP");
    let got = "got-1b got-5b got-35 got-7e got-1b got-5b got-32 got-30 got-30 got-7e \
               got-61 got-1b got-5b got-32 got-30 got-31 got-7e got-1b got-4f got-50";
    poll("the keys to reach the program", DEADLINE, || {
        if let Some(st) = t.child.try_wait().expect("try_wait") {
            t.pump();
            panic!("hm run ended ({st}) on a key; it shows:\n{}", t.text());
        }
        let screen = env.screen_lines("pk").join(" ");
        screen.contains(got).then_some(())
    });
    t.type_bytes(b"~");
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    assert_eq!(env.status_json("pk")["alive"], true);
}

/// A detach key that is none of the accepted forms: a usage error (exit 2)
/// naming them, before anything is attached or started.
#[test]
fn a_bad_detach_key_is_a_usage_error_naming_the_forms() {
    let env = Env::new();
    for args in [
        &["attach", "--detach-key", "ctrl-é", "x"][..],
        &["run", "--detach-key", "ctrl-ab", "--", "true"],
        &["run", "--detach-key", "nothing", "--", "true"],
    ] {
        let out = env.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("'--detach-key <KEY>'"), "{args:?}: {err}");
        assert!(
            err.contains("expected a control key (ctrl-], C-\\, ^A), a byte (0x1C, 28) or none"),
            "{args:?}: {err}"
        );
    }
    assert!(std::fs::read_dir(env.sockets()).map_or(true, |d| d.count() == 0));
}

/// A detach key no key press sends alone is refused, as an option and in
/// the config: ESC (ctrl-[, 0x1B) begins what every arrow, function and
/// Alt key sends, so pressing Left detached; a byte over 0x7F is part of a
/// character in UTF-8 input, so `0xC3` detached on typing `é` while the
/// bar said `'Ã' detach`, and `255` (`'ÿ' detach`) never detached at all.
/// Enter, Tab and Backspace send Ctrl-M, Ctrl-I and Ctrl-? (0x7F): each
/// press of them detached.
#[test]
fn a_detach_key_no_key_sends_alone_is_refused() {
    let env = Env::new();
    for key in [
        "ctrl-[", "^[", "0x1b", "27", "0xc3", "255", "ctrl-m", "ctrl-i", "ctrl-?", "0x7f",
    ] {
        let out = env.run(&["attach", "--detach-key", key, "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains("'--detach-key <KEY>'"), "{key}: {err}");
        assert!(
            err.contains("not a key of its own") && err.contains("ctrl-], C-\\, ^A"),
            "{key}: {err}"
        );
    }
    for line in [
        "detach_key = 0x1B",
        "detach_key = 200",
        "detach_key = \"C-[\"",
    ] {
        let config = env.config("bad-key.toml", &format!("{line}\n"));
        let out = env.run(&["attach", "--config", &config, "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {err}");
        assert!(err.contains("not a key of its own"), "{line}: {err}");
    }
    // Every other byte is a key: Ctrl-C (a watcher's natural way out), NUL
    // (Ctrl-@, Ctrl-Space), Ctrl-H, a letter.
    for key in ["ctrl-c", "0x00", "ctrl-@", "ctrl-h", "113"] {
        let out = env.run(&["attach", "--detach-key", key, "x"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("No session found: x"), "{key}: {err}");
    }
}

/// Attached to session a, `hm attach --detach-key ctrl-] b` typed into
/// a's shell: Ctrl-] detaches from b, and the user is still attached to a,
/// at its shell.
#[test]
fn a_nested_attach_with_its_own_key_detaches_alone() {
    let env = Env::new();
    bash(&env, "a");
    bash(&env, "b");
    let mut t = Term::spawn(&env, &["attach", "a"], 100, 30);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ a │"));
    let hm = common::hm_bin();
    t.type_bytes(format!("{} attach --detach-key ctrl-] b\r", hm.display()).as_bytes());
    env.wait_screen("a", r"hm │ b │ .*Ctrl-\] detach");
    t.type_bytes(&[0x1d]);
    env.wait_screen(
        "a",
        r"^\[detached from session b; reattach with: hm attach b\]",
    );
    assert_eq!(t.child.try_wait().expect("try_wait"), None, "{}", t.text());
    t.wait_for("a's bar", |t| t.bar().contains("hm │ a │"));
    t.type_bytes(b"echo still-$((2*4))\r");
    env.wait_screen("a", "^still-8");
    assert_eq!(env.status_json("b")["alive"], true);
}

/// Attached to session a, `hm attach b` (or `hm run`) without
/// --detach-key: the inner attach keeps the configured key, and its bar
/// (and a line at its start) says that a's attach may take it first and
/// what to do. At 80 columns, the usual terminal, the bar's word on the key
/// is whole (it said `Ctrl-\ detach (unless a's attach takes it:
/// --detach-key)`, which ran past column 80 even with one-letter ids).
#[test]
fn a_nested_attach_without_its_own_key_says_how_to_give_it_one() {
    let env = Env::new();
    bash(&env, "a");
    bash(&env, "b");
    let mut t = Term::spawn(&env, &["attach", "a"], 80, 24);
    t.wait_for("the status bar", |t| t.bar().contains("hm │ a │"));
    assert!(t.bar().ends_with("Ctrl-\\ detach"), "{}", t.bar());
    let hm = common::hm_bin();
    let bar = r"Ctrl-\\ detach \(if a's attach lets it\)";
    t.type_bytes(format!("{} attach b\r", hm.display()).as_bytes());
    env.wait_screen("a", &format!("hm │ b │ .*{bar}$"));
    t.type_bytes(b"exit\r");
    env.wait_screen("a", r"^\[session b exited with code 0\]");
    // The line wraps at 80 columns.
    env.wait_screen(
        "a",
        r"^\[hm: inside session a: if a's attach has Ctrl-\\ too, it takes the key first;",
    );
    env.wait_screen("a", r"^ ?hm attach --detach-key ctrl-\] here\]$");
    t.type_bytes(format!("{} run --id c -- sh -c 'read x'\r", hm.display()).as_bytes());
    env.wait_screen("a", &format!("hm │ c │ .*{bar}"));
    t.type_bytes(b"\r");
    env.wait_screen("a", r"^\[session c exited with code 0\]");
    env.wait_screen("a", r"^ ?hm run --detach-key ctrl-\] here\]$");
}

/// A program that redraws its frame inside synchronized updates (mode
/// 2026), attached with the status bar: the view renders whole frames,
/// as the terminal the program believes it writes to would show them. It
/// rendered every 16 ms whatever had come, so most pictures it drew were
/// a cleared screen with some of the frame's rows.
#[test]
fn the_attach_view_renders_a_synchronized_update_whole() {
    let env = Env::new();
    common::start_row_frames(&env, "frames");
    let mut t = Term::spawn(&env, &["attach", "--read-only", "frames"], 40, 13);
    t.wait_for("a frame", |t| t.text().contains("row 11"));
    let (mut pictures, mut whole) = (0, 0);
    let mut last = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        t.pump();
        let rows: Vec<String> = t.rows_text().into_iter().take(12).collect();
        if rows != last {
            pictures += 1;
            whole += usize::from(common::whole_frame(&rows).is_some());
            last = rows;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    // A frame held up by the loaded machine for longer than the hold is
    // shown unfinished, as a terminal would: a few may be.
    assert!(pictures >= 10, "{pictures} pictures");
    assert!(whole >= pictures * 9 / 10, "{whole} of {pictures} whole");
}

/// Whether the screen model's redraw (what a picture begins with) was
/// written `n` times or more.
fn painted(t: &Term, n: usize) -> bool {
    let redraw = b"\x1b[?1049l\x1b[0m\x1b[4l";
    t.raw.windows(redraw.len()).filter(|w| w == redraw).count() >= n
}

/// A program that pauses in the middle of an escape sequence or a UTF-8
/// character, attached (or repainted) then: the picture ends before it and
/// the terminal gets it whole. The picture's offset was past it, and the
/// terminal got the rest alone (`1mred` as text, U+FFFD for `é`); a
/// repaint while the stream had brought its start asked again forever.
#[test]
fn a_sequence_the_program_has_not_finished_reaches_the_terminal_whole() {
    let env = Env::new();
    // (No echo: the Enter typed would land inside the sequence.)
    let script = r"stty -echo; printf 'before\033[3'; read x; printf '1mred\033[0m after \303'; read x; \
                   printf '\251t \033[3'; read x; printf '2mgreen\033[0m end'; read x";
    env.start("half", &[], &["sh", "-c", script]);
    env.wait_screen("half", "^before$");
    // Attached without the bar at the first pause.
    let mut t = Term::spawn(&env, &["attach", "--no-status-bar", "half"], 80, 24);
    t.wait_text("before");
    t.type_bytes(b"\r");
    t.wait_text("after");
    assert!(t.text().contains("beforered after"), "{}", t.text());
    // A repaint at the second pause (a new size), the start of `é` streamed.
    let pictures = 1;
    t.resize(70, 20);
    session_size_is(&env, "half", 70, 20);
    t.wait_for("a repaint at the new size", |t| painted(t, pictures + 1));
    t.type_bytes(b"\r");
    t.wait_text("ét");
    assert!(t.text().contains("after ét"), "{}", t.text());
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
    // Attached with the bar (a view) at the third pause.
    let mut t = Term::spawn(&env, &["attach", "half"], 80, 24);
    t.wait_text("ét");
    t.type_bytes(b"\r");
    t.wait_text("end");
    let text = t.text();
    assert!(text.contains("beforered after ét green end"), "{text}");
    t.type_bytes(&[0x1c]);
    assert_eq!(t.wait_exit(), Some(0), "{}", t.text());
}
