//! The shared `heimdall.toml` as every program must read it. Included
//! (`#[path]`) by the tests of `hm`, `hm-agent` and `hm-discord`, each
//! running its own binary on these files (a command that loads the file
//! and exits): an unknown top-level key stops
//! every program with the same message (the file, the key, a "did you mean"
//! or the known keys); every program accepts the others' parts without
//! checking them, and checks the keys of the parts it reads.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A part of the file: the top level (`hm`'s keys) or a program's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `hm`'s keys.
    TopLevel,
    /// `[agent]`, read by `hm-agent` and `hm-discord`.
    Agent,
    /// `[discord]`, read by `hm-discord`.
    Discord,
}

/// A file with every program's part, valid for each.
const EVERY_PART: &str = "scrollback_bytes = 4096\ncols = 100\n\
    [[env]]\nname = \"A\"\nvalue = \"b\"\n\
    [classifier.claude]\nidle_threshold_ms = 1500\n\
    [agent]\nmodel = \"m\"\nmax_iterations = 3\n\
    [discord]\nguilds = [\"1\"]\noperators = [2]\n";

/// Files with an unknown top-level key, and what the refusal says besides
/// the file's path.
const UNKNOWN_AT_TOP_LEVEL: [(&str, &[&str]); 6] = [
    (
        "socket_dri = \"/x\"\n",
        &[
            "unknown top-level key `socket_dri`",
            "did you mean `socket_dir`?",
        ],
    ),
    (
        "[agnet]\nmodel = \"m\"\n",
        &["unknown top-level table [agnet]", "did you mean [agent]?"],
    ),
    (
        "scrollback_bytes = 1\n[discrod]\nguilds = []\n",
        &[
            "unknown top-level table [discrod]",
            "did you mean [discord]?",
        ],
    ),
    (
        "socket_dri = \"/x\"\n[agnet]\nmodel = \"m\"\n",
        &["unknown top-level table [agnet] (did you mean [agent]?); \
             unknown top-level key `socket_dri` (did you mean `socket_dir`?)"],
    ),
    (
        "[[evn]]\nname = \"A\"\nvalue = \"b\"\n",
        &["unknown top-level table [[evn]]", "did you mean `env`?"],
    ),
    (
        "frobnicate = true\n",
        &[
            "unknown top-level key `frobnicate`",
            "known keys: socket_dir, scrollback_bytes,",
            "waiting_rules and the tables [agent], [discord]",
        ],
    ),
];

/// A key unknown to each part, with the key its refusal names.
const TYPO_IN: [(Part, &str, &str); 3] = [
    (
        Part::TopLevel,
        "[[env]]\nname = \"A\"\nvalue = \"b\"\nvalu = 1\n",
        "valu",
    ),
    (Part::Agent, "[agent]\nmodle = \"m\"\n", "modle"),
    (Part::Discord, "[discord]\nchannel = 1\n", "channel"),
];

/// `program ARGS` refuses a file with an unknown top-level key, exit 1,
/// saying so in the same words as every other program.
pub fn refuses_unknown_top_level_keys(program: &Path, args: &[&str]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("unknown-top-level.toml");
    for (text, says) in UNKNOWN_AT_TOP_LEVEL {
        std::fs::write(&file, text).expect("write the config");
        let prefix = format!("invalid config {}: ", file.display());
        let out = run(program, args, dir.path(), &file);
        refused(&out, text, &[&[prefix.as_str()][..], says].concat());
    }
}

/// `program ARGS` accepts a file with every program's part, checks the
/// keys of the parts it `reads` and leaves the others' unchecked.
pub fn checks_only_the_parts_it_reads(program: &Path, args: &[&str], reads: &[Part]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("every-part.toml");
    std::fs::write(&file, EVERY_PART).expect("write the config");
    accepted(&run(program, args, dir.path(), &file), EVERY_PART);
    for (part, text, key) in TYPO_IN {
        std::fs::write(&file, text).expect("write the config");
        let out = run(program, args, dir.path(), &file);
        if reads.contains(&part) {
            refused(&out, text, &[key]);
        } else {
            accepted(&out, text);
        }
    }
}

/// `program ARGS --config FILE` in `dir`, with its home, data, config and
/// socket directories under it.
fn run(program: &Path, args: &[&str], dir: &Path, config: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg("--config")
        .arg(config)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("HEIMDALL_SOCKET_DIR", dir.join("sockets"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run the program")
}

fn refused(out: &Output, text: &str, says: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}: {err}");
    for s in says {
        assert!(err.contains(s), "{text}: no {s:?} in {err}");
    }
}

fn accepted(out: &Output, text: &str) {
    assert!(
        out.status.success(),
        "{text}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
