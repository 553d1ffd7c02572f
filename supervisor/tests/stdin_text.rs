//! `hm send ID --stdin` and `hm submit ID --stdin`: text of any size from a
//! pipe (more than one argument may hold), checked with cksum on the
//! program's side; a `-` as TEXT stays a dash. `hm send` of any kind waits
//! for a program that reads late, as a pipe's writer does.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use common::{Env, Piped};

/// A program that reads `n` bytes from a raw terminal (every byte passes
/// unchanged), writes their cksum to `out`, then says `done`.
fn cksum_of(n: usize, out: &Path) -> String {
    format!(
        "stty raw -echo -iexten; echo ready; head -c {n} | cksum > '{}'; echo done; sleep 600",
        out.display()
    )
}

/// The cksum line of `bytes`, from the system's cksum.
fn cksum(env: &Env, bytes: &[u8]) -> String {
    let file = env.dir.path().join("expected");
    std::fs::write(&file, bytes).expect("write");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("cksum < '{}'", file.display()))
        .output()
        .expect("cksum");
    String::from_utf8(out.stdout).expect("cksum output")
}

/// `hm ARGS` with `input` written to its stdin through a pipe (from a
/// thread: hm may stop reading early); its exit code, stdout and stderr.
fn with_stdin(env: &Env, args: &[&str], input: Vec<u8>) -> (Option<i32>, String, String) {
    let mut hm = Piped::spawn(env, args, Stdio::piped());
    let mut stdin = hm.0.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        // A pipe that hm closed early is its answer, not a failure here.
        let _ = stdin.write_all(&input);
    });
    let (code, err) = hm.exit(&format!("hm {args:?}"));
    let mut out = String::new();
    if let Some(mut o) = hm.0.stdout.take() {
        std::io::Read::read_to_string(&mut o, &mut out).expect("stdout");
    }
    writer.join().expect("writer");
    (code, out, err)
}

/// Bytes of every value, in an order that repeats only after 251 bytes,
/// so a lost, doubled or moved frame changes the cksum.
fn all_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

#[test]
fn send_stdin_types_megabytes_whole_and_a_dash_stays_text() {
    let env = Env::new();
    let n = (3 << 20) + 4321;
    let out = env.dir.path().join("big.out");
    env.start("big", &[], &["sh", "-c", &cksum_of(n, &out)]);
    env.wait_screen("big", "ready");
    let data = all_bytes(n);
    let (code, _, err) = with_stdin(&env, &["send", "big", "--stdin"], data.clone());
    assert_eq!(code, Some(0), "hm send --stdin: {err}");
    env.wait_screen("big", "done");
    let got = std::fs::read_to_string(&out).expect("the program's cksum");
    assert_eq!(got, cksum(&env, &data), "the bytes arrived changed");

    // `-` is text: `hm send ID -` and `hm send ID -- -` each type a dash.
    let out = env.dir.path().join("dash.out");
    env.start("dash", &[], &["sh", "-c", &cksum_of(2, &out)]);
    env.wait_screen("dash", "ready");
    env.ok(&["send", "dash", "-"]);
    env.ok(&["send", "dash", "--", "-"]);
    env.wait_screen("dash", "done");
    let got = std::fs::read_to_string(&out).expect("the program's cksum");
    assert_eq!(got, cksum(&env, b"--"));

    // --stdin takes the place of TEXT and of key names: usage errors.
    for args in [
        &["send", "dash", "--stdin", "x"][..],
        &["send", "dash", "--stdin", "--keys", "Enter"],
        &["submit", "dash", "--stdin", "x"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "hm {args:?}");
    }
}

#[test]
fn submit_stdin_takes_a_line_up_to_the_limit_and_refuses_a_larger_one_at_once() {
    let env = Env::new();
    // 700 000 bytes: lines of letters, each ending in a newline as `echo`
    // writes them. The program gets them joined by CR (Enter), then the
    // Enter of the submit in place of the last newline.
    let line: Vec<u8> = (0..7000)
        .flat_map(|i| {
            let mut l: Vec<u8> = (0..99).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            l.push(b'\n');
            l
        })
        .collect();
    let typed: Vec<u8> = line
        .iter()
        .map(|&b| if b == b'\n' { b'\r' } else { b })
        .collect();
    let out = env.dir.path().join("line.out");
    env.start("sub", &[], &["sh", "-c", &cksum_of(typed.len(), &out)]);
    env.wait_screen("sub", "ready");

    // Over SUBMIT's 1 MiB: refused before anything is typed, at once
    // (stdin is not read to its end), saying what to do instead.
    for size in [1 << 20, 3 << 20] {
        let began = std::time::Instant::now();
        let big = vec![b'x'; size];
        let (code, _, err) = with_stdin(&env, &["submit", "sub", "--stdin"], big.clone());
        assert_eq!(code, Some(1), "{size}: {err}");
        assert!(err.contains("1 MiB"), "{size}: {err}");
        assert!(err.contains("hm send sub --stdin"), "{size}: {err}");
        assert!(err.contains("nothing was typed"), "{size}: {err}");
        assert!(began.elapsed() < std::time::Duration::from_secs(10));
        let args = ["submit", "sub", "--stdin", "--json"];
        let (code, json, _) = with_stdin(&env, &args, big);
        assert_eq!(code, Some(1), "{size}: {json}");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["error"], "too_large", "{v}");
    }

    let (code, json, err) = with_stdin(&env, &["submit", "sub", "--stdin", "--json"], line);
    assert_eq!(code, Some(0), "hm submit --stdin: {json} {err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["accepted"], true, "{v}");
    env.wait_screen("sub", "done");
    let got = std::fs::read_to_string(&out).expect("the program's cksum");
    // The last newline is not typed: the Enter after the text is its CR.
    assert_eq!(got, cksum(&env, &typed));
}

/// `hm send ID --stdin` whose session ends while stdin is open and quiet
/// (a producer that pauses, `tail -f` into it) says so at once: it waited
/// for stdin's next piece before it looked.
#[test]
fn send_stdin_ends_when_the_session_ends_while_stdin_is_quiet() {
    let env = Env::new();
    env.start(
        "q",
        &[],
        &[
            "sh",
            "-c",
            "stty raw -echo; echo ready; head -c 5; echo; sleep 600",
        ],
    );
    env.wait_screen("q", "ready");
    let mut hm = Piped::spawn(&env, &["send", "q", "--stdin"], Stdio::piped());
    let mut stdin = hm.0.stdin.take().expect("stdin");
    stdin.write_all(b"hello").expect("write stdin");
    env.wait_screen("q", "hello");
    env.ok(&["kill", "q"]);
    // stdin stays open: only the session's end can end hm.
    let (code, err) = hm.exit("hm send --stdin after the session ended");
    drop(stdin);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the session ended"), "{err}");
    assert!(err.contains("5 bytes from stdin were typed"), "{err}");
}

/// `hm send ID --stdin` into a program that reads nothing for a while (it
/// is busy, or reads slowly): the supervisor takes 4 MiB ahead of the
/// program, then takes more as the program reads, and hm waits for it as a
/// pipe's writer does. It gave up once a frame had waited 5 s ("no answer
/// from the session within 5s", exit 1) with the session alive and the
/// program about to read.
#[test]
fn send_stdin_waits_for_a_program_that_reads_late() {
    let env = Env::new();
    let n = 6 << 20;
    let out = env.dir.path().join("late.out");
    let gate = env.dir.path().join("gate");
    let program = format!(
        "stty raw -echo -iexten; echo ready; while [ ! -e '{}' ]; do sleep 0.1; done; \
         head -c {n} | cksum > '{}'; echo done; sleep 600",
        gate.display(),
        out.display()
    );
    env.start("late", &[], &["sh", "-c", &program]);
    env.wait_screen("late", "ready");
    let data = all_bytes(n);
    let mut hm = Piped::spawn(&env, &["send", "late", "--stdin"], Stdio::piped());
    let mut stdin = hm.0.stdin.take().expect("stdin");
    let input = data.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Well past the 5 s a request may wait for its answer, hm still waits.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while std::time::Instant::now() < until {
        if let Some(status) = hm.0.try_wait().expect("try_wait") {
            let (_, err) = hm.exit("hm send --stdin");
            panic!(
                "hm send --stdin gave up while the program was not reading yet: {status}: {err}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::fs::write(&gate, b"").expect("open the gate");
    let (code, err) = hm.exit("hm send --stdin");
    writer.join().expect("writer");
    assert_eq!(code, Some(0), "hm send --stdin: {err}");
    env.wait_screen("late", "done");
    let got = std::fs::read_to_string(&out).expect("the program's cksum");
    assert_eq!(got, cksum(&env, &data), "the bytes arrived changed");
}

/// A program that reads nothing until the file `gate` exists, then runs
/// `then`.
fn gated(gate: &Path, then: &str) -> String {
    format!(
        "stty raw -echo -iexten; echo ready; while [ ! -e '{}' ]; do sleep 0.1; done; {then}",
        gate.display()
    )
}

/// What [`fill_input_queue`] types: one byte less than the supervisor's
/// input queue holds before it makes a typist wait, then one frame more.
const FILLING: [usize; 2] = [
    heimdall_supervisor::input::MAX_QUEUED - 1,
    heimdall_protocol::MAX_PAYLOAD,
];

/// Fill the input queue of session `id`, whose program reads nothing yet,
/// with `a`s, so that the supervisor takes no more input for now. From
/// files, so that hm types whole frames: the last (taken: less than the
/// limit was queued) passes the limit by far more than the pty holds.
fn fill_input_queue(env: &Env, id: &str) {
    for (i, n) in FILLING.into_iter().enumerate() {
        let file = env.dir.path().join(format!("{id}.fill{i}"));
        std::fs::write(&file, vec![b'a'; n]).expect("write the filling");
        let stdin = std::fs::File::open(&file).expect("open the filling");
        let mut hm = Piped::spawn(env, &["send", id, "--stdin"], stdin.into());
        let (code, err) = hm.exit("hm send --stdin filling the input queue");
        assert_eq!(code, Some(0), "hm send --stdin: {err}");
    }
}

/// `hm send ID TEXT` and `hm send ID --keys …` behind an input queue that
/// is full (4 MiB another client typed, the program not reading yet) wait
/// for the program as `--stdin` does; they gave up once their input had
/// waited 5 s ("no answer from the session within 5s", exit 1) with the
/// session alive and the program about to read. A session that ends while
/// they wait is their answer at once, with its exit code.
#[test]
fn send_text_and_keys_wait_behind_a_full_input_queue() {
    let env = Env::new();
    let gate = env.dir.path().join("gate");
    let out = env.dir.path().join("full.out");
    let n: usize = FILLING.iter().sum();
    let then = format!(
        "head -c {} > '{}'; echo done; sleep 600",
        n + "helloXY".len(),
        out.display()
    );
    env.start("full", &[], &["sh", "-c", &gated(&gate, &then)]);
    let end_gate = env.dir.path().join("end-gate");
    env.start("ends", &[], &["sh", "-c", &gated(&end_gate, "exit 7")]);
    env.wait_screen("full", "ready");
    env.wait_screen("ends", "ready");
    fill_input_queue(&env, "full");
    fill_input_queue(&env, "ends");

    let mut text = Piped::spawn(&env, &["send", "full", "hello"], Stdio::null());
    let args = ["send", "full", "--keys", "X", "Y"];
    let mut keys = Piped::spawn(&env, &args, Stdio::null());
    let mut ends = Piped::spawn(&env, &["send", "ends", "hello"], Stdio::null());
    // Well past the 5 s a request may wait for its answer, they still wait.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while std::time::Instant::now() < until {
        for (hm, what) in [
            (&mut text, "TEXT"),
            (&mut keys, "--keys"),
            (&mut ends, "TEXT"),
        ] {
            if let Some(status) = hm.0.try_wait().expect("try_wait") {
                let (_, err) = hm.exit("hm send");
                panic!("hm send {what} gave up behind a full input queue: {status}: {err}");
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // The session ends with the input still queued: that is the answer.
    std::fs::write(&end_gate, b"").expect("open the gate");
    let (code, err) = ends.exit("hm send into a session that ended");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exit code 7"), "{err}");
    assert!(!err.contains("no answer"), "{err}");

    std::fs::write(&gate, b"").expect("open the gate");
    let (code, err) = text.exit("hm send TEXT");
    assert_eq!(code, Some(0), "hm send TEXT: {err}");
    let (code, err) = keys.exit("hm send --keys");
    assert_eq!(code, Some(0), "hm send --keys: {err}");
    env.wait_screen("full", "done");
    let got = std::fs::read(&out).expect("what the program read");
    assert_eq!(got.len(), n + "helloXY".len());
    let (filling, rest) = got.split_at(n);
    assert!(
        filling.iter().all(|&b| b == b'a'),
        "the filling arrived changed"
    );
    // The two commands waited side by side: either's input may come first.
    let rest = String::from_utf8_lossy(rest);
    assert_eq!(rest.replacen("hello", "", 1), "XY", "{rest}");
}
