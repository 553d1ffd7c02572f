//! The waiting detector's evaluation matrix: real programs under `hm`, the
//! detected kind and options checked, the program answered with the
//! reported keys and what it does next verified; a program printing
//! prompt-like text for 10 s must never be reported as waiting. Prints the
//! matrix as a table.
//!
//! Each program is started behind `read go` so that the test's event
//! listener is in place before the prompt appears.

mod common;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Env, Raw, DEADLINE};
use serde_json::Value;

/// Gap between key steps (ink-style TUIs ignore an arrow and Enter in one read).
const STEP_GAP: Duration = Duration::from_millis(300);

/// An EVENTS listener on a session, with its frames read by a thread.
struct Listener {
    raw: Raw,
    events: mpsc::Receiver<Value>,
}

impl Listener {
    fn open(env: &Env, id: &str) -> Listener {
        let mut raw = Raw::connect(&env.sock(id));
        raw.hello();
        raw.send(0x09, &[]);
        let mut reader: UnixStream = raw.s.try_clone().expect("clone socket");
        reader.set_read_timeout(None).expect("blocking reads");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut h = [0u8; 5];
            if reader.read_exact(&mut h).is_err() {
                return;
            }
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            let mut p = vec![0u8; len];
            if reader.read_exact(&mut p).is_err() {
                return;
            }
            let v = match h[0] {
                0x86 => serde_json::from_slice::<Value>(&p).ok(),
                0x82 => Some(serde_json::json!({"type": "status_resp"})),
                _ => None,
            };
            if let Some(v) = v {
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        // The writer handles a connection's requests in order: once STATUS
        // is answered, the event subscription is in place.
        raw.send(0x03, &[]);
        loop {
            let v = rx.recv_timeout(DEADLINE).expect("STATUS_RESP after EVENTS");
            if v["type"] == "status_resp" {
                break;
            }
        }
        Listener { raw, events: rx }
    }

    /// Send key steps apart.
    fn send_steps(&mut self, steps: &[String]) {
        for (i, s) in steps.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(STEP_GAP);
            }
            self.raw.send(0x01, s.as_bytes());
        }
    }

    /// The next `waiting` event, or None after `deadline`.
    fn next_waiting(&self, deadline: Duration) -> Option<Value> {
        let end = Instant::now() + deadline;
        loop {
            let left = end.checked_duration_since(Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(v) if v["type"] == "waiting" => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

/// One row of the matrix.
struct Row {
    case: &'static str,
    detected: String,
    options_ok: bool,
    answered: bool,
    after_settle_ms: u128,
    false_waiting: usize,
}

fn labels(w: &Value) -> Vec<String> {
    w["options"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| o["label"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn keys_of(w: &Value, label: &str) -> Vec<String> {
    w["options"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["label"] == label))
        .and_then(|o| o["keys"].as_array())
        .map(|k| {
            k.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Start `cmd` behind `read go`, open the listener, let the program start.
fn launch(env: &Env, id: &str, cmd: &[&str]) -> (Listener, Instant) {
    let mut argv = vec!["sh", "-c", "read go; exec \"$@\"", "sh"];
    argv.extend_from_slice(cmd);
    env.start(id, &[], &argv);
    let mut l = Listener::open(env, id);
    l.raw.send(0x01, b"\r");
    (l, Instant::now())
}

/// Wait for the waiting event of `kind`; the row's detection columns.
fn detect(l: &Listener, env: &Env, id: &str, kind: &str) -> (Value, String) {
    let w = l.next_waiting(DEADLINE).unwrap_or_else(|| {
        panic!(
            "{id}: no waiting event; screen:\n{}",
            env.ok(&["screen", id])
        )
    });
    let detected = format!(
        "{} ({})",
        w["kind"].as_str().unwrap_or("?"),
        w["rule"].as_str().unwrap_or("?")
    );
    assert_eq!(w["kind"], kind, "{id}: {w}");
    (w, detected)
}

/// How a case is answered: typed text, or the keys of the option so labelled.
enum Answer<'a> {
    Text(&'a str),
    Option(&'a str),
}

/// One simple case: launch, detect `kind`, check the options, answer, and
/// wait for `expect` (a screen regex).
#[allow(clippy::too_many_arguments)]
fn case(
    env: &Env,
    rows: &mut Vec<Row>,
    name: &'static str,
    id: &str,
    cmd: &[&str],
    kind: &str,
    options_ok: impl Fn(&Value) -> bool,
    answer: Answer,
    expect: &str,
) {
    let (mut l, t) = launch(env, id, cmd);
    let (w, detected) = detect(&l, env, id, kind);
    let ms = t.elapsed().as_millis();
    let options_ok = options_ok(&w);
    let steps = match answer {
        Answer::Text(t) => vec![t.to_string()],
        Answer::Option(label) => keys_of(&w, label),
    };
    l.send_steps(&steps);
    env.wait_screen(id, expect);
    rows.push(Row {
        case: name,
        detected,
        options_ok,
        answered: true,
        after_settle_ms: ms,
        false_waiting: 0,
    });
}

fn venv_python() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("waiting-venv");
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("target tmp dir");
    let lock_path = dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path).expect("venv lock file");
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an open file; released when `lock` is dropped.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "cannot lock {}", lock_path.display());
    let python = dir.join("bin/python");
    let marker = dir.join(".installed");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let ok = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "cannot create a Python venv at {} (python3 -m venv)",
            dir.display()
        );
        let out = std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "questionary==2.1.1"])
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "cannot install questionary from PyPI into {} (the menu case needs it): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, b"").expect("venv marker");
    }
    drop(lock);
    python
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git")
        .status
        .success();
    assert!(ok, "git {args:?} failed");
}

#[test]
fn waiting_matrix() {
    let python = venv_python();
    let env = Env::new();
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut rows: Vec<Row> = Vec::new();

    // bash prompt.
    case(
        &env,
        &mut rows,
        "bash prompt",
        "bash",
        &["env", "PS1=hm$ ", "bash", "--norc", "--noprofile", "-i"],
        "shell",
        |w| labels(w).is_empty(),
        Answer::Text("echo done-$((6*7))\r"),
        "^done-42",
    );

    // python3 REPL: >>> then ...
    {
        let (mut l, t) = launch(&env, "py", &["env", "-u", "PYTHONSTARTUP", "python3", "-q"]);
        let (w, detected) = detect(&l, &env, "py", "shell");
        assert_eq!(w["rule"], "python_repl", "{w}");
        let ms = t.elapsed().as_millis();
        l.send_steps(&["def f():\r".to_string()]);
        let (w2, d2) = detect(&l, &env, "py", "shell");
        assert_eq!(w2["rule"], "python_continuation", "{w2}");
        l.send_steps(&["    return 7\r".to_string()]);
        let _ = detect(&l, &env, "py", "shell");
        l.send_steps(&["\r".to_string()]);
        let (w3, _) = detect(&l, &env, "py", "shell");
        assert_eq!(w3["rule"], "python_repl", "{w3}");
        l.send_steps(&["print(f()*6)\r".to_string()]);
        env.wait_screen("py", "^42$");
        rows.push(Row {
            case: "python3 >>> and ...",
            detected: format!("{detected}, {d2}"),
            options_ok: labels(&w).is_empty() && labels(&w2).is_empty(),
            answered: true,
            after_settle_ms: ms,
            false_waiting: 0,
        });
    }

    // rm -i
    {
        let file = work.join("victim.txt");
        std::fs::write(&file, b"x\n").unwrap();
        let (mut l, t) = launch(
            &env,
            "rm",
            &[
                "sh",
                "-c",
                "rm -i \"$0\"; echo rm-exit-$?; sleep 60",
                file.to_str().unwrap(),
            ],
        );
        let (w, detected) = detect(&l, &env, "rm", "yes_no");
        let ms = t.elapsed().as_millis();
        let options_ok = labels(&w) == ["yes", "no"];
        l.send_steps(&keys_of(&w, "yes"));
        env.wait_screen("rm", "rm-exit-0");
        rows.push(Row {
            case: "rm -i",
            detected,
            options_ok,
            answered: !file.exists(),
            after_settle_ms: ms,
            false_waiting: 0,
        });
    }

    // git add -p in a temp repo
    {
        let repo = work.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("a.txt"), b"one\n").unwrap();
        git(&repo, &["add", "a.txt"]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        std::fs::write(repo.join("a.txt"), b"one\ntwo\n").unwrap();
        let script = format!(
            "cd {} && GIT_PAGER=cat git add -p; echo add-exit-$?; git diff --cached --stat; sleep 60",
            repo.display()
        );
        let (mut l, t) = launch(&env, "gitp", &["sh", "-c", &script]);
        let (w, detected) = detect(&l, &env, "gitp", "menu");
        let ms = t.elapsed().as_millis();
        let ls = labels(&w);
        let options_ok = ls.iter().any(|x| x == "yes")
            && ls.iter().any(|x| x == "quit")
            && keys_of(&w, "yes") == ["y\r"];
        l.send_steps(&keys_of(&w, "yes"));
        env.wait_screen("gitp", "a.txt \\| 1 \\+");
        rows.push(Row {
            case: "git add -p",
            detected,
            options_ok,
            answered: true,
            after_settle_ms: ms,
            false_waiting: 0,
        });
    }

    // git commit with its editor replaced by a prompt
    {
        let repo = work.join("repo2");
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("b.txt"), b"b\n").unwrap();
        git(&repo, &["add", "b.txt"]);
        let editor = work.join("editor.sh");
        std::fs::write(
            &editor,
            "#!/bin/bash\nread -p 'Commit message: ' m\necho \"$m\" > \"$1\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!(
            "cd {} && GIT_EDITOR={} git -c user.name=t -c user.email=t@example.invalid commit -q; \
             echo commit-exit-$?; git log --format=%s; sleep 60",
            repo.display(),
            editor.display()
        );
        case(
            &env,
            &mut rows,
            "git commit, editor prompt",
            "gitc",
            &["sh", "-c", &script],
            "text",
            |w| {
                labels(w).is_empty()
                    && w["prompt"]
                        .as_str()
                        .is_some_and(|p| p.ends_with("Commit message:"))
            },
            Answer::Text("first words\r"),
            "^first words$",
        );
    }

    // read -p question
    case(
        &env,
        &mut rows,
        "read -p question",
        "readp",
        &[
            "bash",
            "-c",
            "read -p 'What is your name? ' n; echo \"hello $n\"; sleep 60",
        ],
        "text",
        |w| labels(w).is_empty() && w["prompt"] == "What is your name?",
        Answer::Text("bob\r"),
        "^hello bob",
    );

    // A real arrow-key menu from PyPI (questionary).
    {
        let script = "import questionary, time\n\
                      a = questionary.select('Pick a fruit:', choices=['Apple', 'Banana', 'Cherry']).ask()\n\
                      print('picked', a, flush=True)\n\
                      time.sleep(60)\n";
        let (mut l, t) = launch(&env, "menu", &[python.to_str().unwrap(), "-c", script]);
        let (w, detected) = detect(&l, &env, "menu", "menu");
        let ms = t.elapsed().as_millis();
        let options_ok = labels(&w) == ["Apple", "Banana", "Cherry"]
            && w["selected"] == 0
            && keys_of(&w, "Cherry").len() == 3;
        l.send_steps(&keys_of(&w, "Cherry"));
        env.wait_screen("menu", "picked Cherry");
        rows.push(Row {
            case: "questionary select",
            detected,
            options_ok,
            answered: true,
            after_settle_ms: ms,
            false_waiting: 0,
        });
    }

    // less on a long file
    {
        let file = work.join("long.txt");
        let text: String = (1..=500).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&file, text).unwrap();
        let script = format!("less {}; echo less-done; sleep 60", file.display());
        case(
            &env,
            &mut rows,
            "less",
            "less",
            &["env", "-u", "LESS", "sh", "-c", &script],
            "pager",
            |w| labels(w) == ["next page", "quit"],
            Answer::Option("quit"),
            "less-done",
        );
    }

    // read -s -p "Password:"
    case(
        &env,
        &mut rows,
        "read -s password",
        "pw",
        &[
            "bash",
            "-c",
            "read -s -p 'Password: ' p; echo; echo \"len ${#p}\"; sleep 60",
        ],
        "password",
        |w| labels(w).is_empty(),
        Answer::Text("hunter2\r"),
        "^len 7",
    );

    // Prompt-like text printed continuously for 10 s: never waiting.
    {
        let script = "end=$((SECONDS+10)); while [ $SECONDS -lt $end ]; do \
                      printf '\\r\\nContinue? [y/N] '; sleep 0.1; done; printf '\\r\\nprinter-done\\r\\n'; sleep 60";
        let (l, _) = launch(&env, "printer", &["bash", "-c", script]);
        env.wait_screen("printer", "Continue");
        let mut false_waiting = 0;
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            match l.events.recv_timeout(Duration::from_millis(200)) {
                Ok(v) if v["type"] == "waiting" => false_waiting += 1,
                Ok(v) if v["type"] == "state" && v["new"] == "waiting" => false_waiting += 1,
                _ => {}
            }
            let done = env
                .screen_lines("printer")
                .iter()
                .any(|x| x.contains("printer-done"));
            if done || Instant::now() > end {
                break;
            }
        }
        rows.push(Row {
            case: "printer, 10 s of [y/N]",
            detected: "-".into(),
            options_ok: true,
            answered: true,
            after_settle_ms: 0,
            false_waiting,
        });
    }

    println!();
    println!(
        "{:<24} {:<44} {:<8} {:<9} {:>10} {:>6}",
        "case", "detected", "options", "answered", "ms", "false"
    );
    for r in &rows {
        println!(
            "{:<24} {:<44} {:<8} {:<9} {:>10} {:>6}",
            r.case, r.detected, r.options_ok, r.answered, r.after_settle_ms, r.false_waiting
        );
    }
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| !r.options_ok || !r.answered || r.false_waiting > 0)
        .map(|r| r.case)
        .collect();
    assert!(bad.is_empty(), "matrix cases failed: {bad:?}");
    assert_eq!(rows.len(), 10);
}

/// A rule in the user's rules file (named in heimdall.toml) is used by a
/// new session without a rebuild.
#[test]
fn user_rule_file_is_picked_up() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("my-rules.toml"),
        r#"
[[rule]]
name = "rocket"
kind = "yes_no"
cursor_line = 'Launch the rocket \(go/abort\)$'
input = "read"
options = [{ label = "go", keys = "go\r" }, { label = "abort", keys = ["abort", "\r"] }]
"#,
    )
    .unwrap();
    std::fs::write(
        env.dir.path().join("heimdall.toml"),
        "waiting_rules = \"my-rules.toml\"\n",
    )
    .unwrap();
    let (mut l, _) = launch(
        &env,
        "rocket",
        &[
            "bash",
            "-c",
            "read -p 'Launch the rocket (go/abort) ' a; echo \"answer $a\"; sleep 60",
        ],
    );
    let (w, _) = detect(&l, &env, "rocket", "yes_no");
    assert_eq!(w["rule"], "rocket");
    assert_eq!(labels(&w), ["go", "abort"]);
    assert_eq!(keys_of(&w, "abort"), ["abort", "\r"]);
    l.send_steps(&keys_of(&w, "abort"));
    env.wait_screen("rocket", "^answer abort");
    // A rules file that does not compile stops `hm start` with the rule's name.
    std::fs::write(
        env.dir.path().join("my-rules.toml"),
        "[[rule]]\nname = \"broken\"\nkind = \"text\"\ncursor_line = '('\n",
    )
    .unwrap();
    let out = env.run(&["start", "--id", "x", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken"), "{err}");
}

/// A heimdall 1.0 client (no HELLO) sees a waiting session as idle.
#[test]
fn status_byte_is_idle_for_old_clients() {
    let env = Env::new();
    let (l, _) = launch(&env, "old", &["bash", "-c", "read -p 'Name? ' n; sleep 60"]);
    let _ = detect(&l, &env, "old", "text");
    let mut old = Raw::connect(&env.sock("old"));
    assert_eq!(old.status().3, 0x00, "0x05 hidden from a 1.0 client");
    let mut new = Raw::connect(&env.sock("old"));
    new.hello();
    assert_eq!(new.status().3, 0x05);
    let out = env.ok(&["wait", "old", "--state", "waiting", "--timeout", "20000"]);
    let _ = out;
}

/// `hm explain` names the rule, the lines looked at and the options.
#[test]
fn explain_names_the_rule_and_lines() {
    let env = Env::new();
    let (l, _) = launch(
        &env,
        "ex",
        &["bash", "-c", "read -p 'Overwrite it? [y/N] ' a; sleep 60"],
    );
    let _ = detect(&l, &env, "ex", "yes_no");
    let v: Value = serde_json::from_str(&env.ok(&["explain", "ex", "--json"])).unwrap();
    assert_eq!(v["state"], "waiting", "{v}");
    assert_eq!(v["source"], "rule", "{v}");
    assert_eq!(v["rule"], "yes_no", "{v}");
    assert_eq!(v["waiting"]["options"][0]["keys"][0], "y\r", "{v}");
    let lines = v["last_look"]["window"]["lines"].to_string();
    assert!(lines.contains("Overwrite it? [y/N]"), "{v}");
    let text = env.ok(&["explain", "ex"]);
    assert!(
        text.contains("rule yes_no") && text.contains("Overwrite it?"),
        "{text}"
    );
}

/// `hm report` from inside a session wins over the screen rules until the
/// screen changes; input lifts a reported waiting.
#[test]
fn report_from_inside_the_session() {
    let env = Env::new();
    let hm = common::hm_bin();
    let script =
        "\"$0\" report waiting --prompt 'Allow the edit?' --option 'yes=y\\r' --option 'no=n\\r'; \
                  read a; echo \"got $a\"; \"$0\" report active; sleep 60";
    env.start("rep", &[], &["bash", "-c", script, hm.to_str().unwrap()]);
    env.ok(&["wait", "rep", "--state", "waiting", "--timeout", "30000"]);
    let v: Value = serde_json::from_str(&env.ok(&["explain", "rep", "--json"])).unwrap();
    assert_eq!(v["source"], "report", "{v}");
    assert_eq!(v["waiting"]["prompt"], "Allow the edit?", "{v}");
    assert_eq!(v["waiting"]["kind"], "menu", "{v}");
    assert_eq!(v["waiting"]["options"][1]["keys"][0], "n\r", "{v}");
    env.ok(&["send", "rep", "y\r"]);
    env.wait_screen("rep", "^got y");
    env.ok(&["wait", "rep", "--state", "active", "--timeout", "30000"]);
    // Silence would make the classifier say idle; the report stands.
    std::thread::sleep(Duration::from_millis(1500));
    let v: Value = serde_json::from_str(&env.ok(&["explain", "rep", "--json"])).unwrap();
    assert_eq!(v["state"], "active", "{v}");
    assert_eq!(v["source"], "report", "{v}");
}

/// `hm send --keys` sends each key as its own write, a gap apart: an
/// arrow-key menu follows Down then Enter.
#[test]
fn send_keys_are_sent_apart() {
    let python = venv_python();
    let env = Env::new();
    let script = "import questionary, time\n\
                  a = questionary.select('Pick:', choices=['Apple', 'Banana', 'Cherry']).ask()\n\
                  print('picked', a, flush=True)\n\
                  time.sleep(60)\n";
    env.start("keys", &[], &[python.to_str().unwrap(), "-c", script]);
    env.ok(&["wait", "keys", "--state", "waiting", "--timeout", "30000"]);
    env.ok(&["send", "keys", "--keys", "Down", "Enter"]);
    env.wait_screen("keys", "picked Banana");
}

/// A client that subscribes to EVENTS while the session already waits gets
/// the `waiting` event at once, before anything else (the original was
/// sent before it listened), and can answer with its keys.
#[test]
fn late_listener_learns_the_waiting_prompt() {
    let env = Env::new();
    env.start(
        "late",
        &[],
        &[
            "sh",
            "-c",
            "printf \"Delete all? [y/N] \"; read a; echo \"answer=$a\"; sleep 30",
        ],
    );
    let mut probe = Raw::connect(&env.sock("late"));
    probe.hello();
    common::poll("state 0x05", DEADLINE, || {
        (probe.status().3 == 0x05).then_some(())
    });
    let mut l = Raw::connect(&env.sock("late"));
    l.hello();
    l.send(0x09, &[]);
    // STATUS after EVENTS: its answer comes after whatever EVENTS sent at once.
    l.send(0x03, &[]);
    let first = loop {
        let (k, p) = l.recv().expect("a frame after EVENTS");
        match k {
            0x86 => break serde_json::from_slice::<Value>(&p).expect("event json"),
            0x82 => panic!("STATUS_RESP came before any event: no waiting event at once"),
            _ => {}
        }
    };
    assert_eq!(first["type"], "waiting", "{first}");
    assert_eq!(first["kind"], "yes_no", "{first}");
    assert_eq!(first["rule"], "yes_no", "{first}");
    assert_eq!(first["source"], "screen", "{first}");
    assert!(
        first["prompt"]
            .as_str()
            .is_some_and(|p| p.contains("Delete all? [y/N]")),
        "{first}"
    );
    assert_eq!(labels(&first), ["yes", "no"], "{first}");
    let keys = keys_of(&first, "yes");
    assert_eq!(keys, ["y\r"], "{first}");
    for k in &keys {
        l.send(0x01, k.as_bytes());
    }
    env.wait_screen("late", "answer=y");
}
