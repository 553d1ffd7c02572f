//! The file tools stay inside the work directory: `..`, absolute paths and
//! symbolic links that lead out are refused, for reads and writes alike; an
//! argument name a file tool does not take is refused before it runs; a
//! named pipe is not read; a file too large to read whole shows its head
//! and its own tail; a long file is read in ranges of lines.

use std::os::unix::fs::symlink;
use std::time::Duration;

use heimdall_agent::conversation::ToolCall;
use heimdall_agent::tools::files::FileTools;
use heimdall_agent::tools::{ToolSet, Toolbox};
use serde_json::json;

async fn call(tools: &FileTools, name: &str, args: serde_json::Value) -> (bool, String) {
    let out = tools
        .call(name, &args, Duration::from_secs(10))
        .expect("a file tool")
        .await;
    (out.is_error, out.text)
}

#[tokio::test]
async fn paths_that_escape_the_work_dir_are_refused() {
    let top = tempfile::tempdir().unwrap();
    let work = top.path().join("work");
    let outside = top.path().join("outside");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside data").unwrap();
    std::fs::write(work.join("sub/inside.txt"), "inside data").unwrap();
    symlink(&outside, work.join("link")).unwrap();
    symlink(outside.join("secret.txt"), work.join("file-link")).unwrap();
    symlink(work.join("sub"), work.join("inner-link")).unwrap();
    let tools = FileTools::new(&work).unwrap();

    for path in [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "link/secret.txt",
        "file-link",
        "/etc/passwd",
    ] {
        let (is_error, text) = call(&tools, "read_file", json!({"path": path})).await;
        assert!(is_error, "{path} was read: {text}");
        assert!(
            text.contains("outside the work directory"),
            "{path}: {text}"
        );
        assert!(!text.contains("outside data"));
    }
    for path in ["link/new.txt", "../escape.txt", "link/deeper/new.txt"] {
        let (is_error, text) =
            call(&tools, "write_file", json!({"path": path, "content": "x"})).await;
        assert!(is_error, "{path} was written: {text}");
    }
    assert!(!outside.join("new.txt").exists());
    assert!(!outside.join("deeper").exists());
    assert!(!top.path().join("escape.txt").exists());
    let (is_error, _) = call(&tools, "list_dir", json!({"path": "link"})).await;
    assert!(is_error);

    // What stays inside works, links inside included.
    let (is_error, text) = call(
        &tools,
        "read_file",
        json!({"path": "inner-link/inside.txt"}),
    )
    .await;
    assert!(!is_error, "{text}");
    assert_eq!(text, "inside data");
    let abs = work.join("sub/inside.txt");
    let (is_error, _) = call(&tools, "read_file", json!({"path": abs.to_str().unwrap()})).await;
    assert!(!is_error);
    let (is_error, text) = call(
        &tools,
        "write_file",
        json!({"path": "new/dir/../file.txt", "content": "written"}),
    )
    .await;
    assert!(!is_error, "{text}");
    assert_eq!(
        std::fs::read_to_string(work.join("new/file.txt")).unwrap(),
        "written"
    );
    let (is_error, text) = call(&tools, "list_dir", json!({})).await;
    assert!(!is_error);
    assert_eq!(text, "file-link@\ninner-link@\nlink@\nnew/\nsub/");
}

/// An argument name a file tool does not take is refused before anything
/// is done, naming it and the arguments the tool takes: `list_dir` given
/// `dir` used to list the work directory, `write_file` given `append` used
/// to replace the file.
#[tokio::test]
async fn argument_names_a_file_tool_does_not_take_are_refused() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("sub")).unwrap();
    std::fs::write(work.path().join("log.txt"), "first\n").unwrap();
    let mut toolbox = Toolbox::new(Duration::from_secs(10));
    toolbox.add(FileTools::new(work.path()).unwrap());
    let toolbox = &toolbox;
    let run = |name: &str, arguments: serde_json::Value| {
        let call = ToolCall {
            id: "call".into(),
            name: name.into(),
            arguments,
            signature: None,
        };
        async move { toolbox.run(&call).await }
    };

    let out = run("list_dir", json!({"dir": "sub"})).await;
    assert!(out.is_error, "{}", out.text);
    assert!(
        out.text
            .contains("list_dir has no argument `dir`; it takes: path"),
        "{}",
        out.text
    );
    let out = run(
        "write_file",
        json!({"path": "log.txt", "content": "second\n", "append": true}),
    )
    .await;
    assert!(out.is_error, "{}", out.text);
    assert!(
        out.text.contains("`append`") && out.text.contains("it takes: content, path"),
        "{}",
        out.text
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("log.txt")).unwrap(),
        "first\n"
    );
    let out = run("read_file", json!({"pth": "log.txt"})).await;
    assert!(
        out.is_error && out.text.contains("`pth` (did you mean `path`?)"),
        "{}",
        out.text
    );
}

/// A file larger than `read_file` reads is read at its head and its tail
/// (the model sees both, as of long output) and the result says how large
/// it is and which bytes were left out: its tail is not taken from the
/// middle of the file without a word.
#[tokio::test]
async fn a_file_too_large_to_read_whole_shows_its_head_and_its_real_tail() {
    let work = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!("line {i}\n"));
        i += 1;
    }
    text.push_str("the last line\n");
    std::fs::write(work.path().join("big.log"), &text).unwrap();
    let tools = FileTools::new(work.path()).unwrap();
    let out = tools
        .call(
            "read_file",
            &json!({"path": "big.log"}),
            Duration::from_secs(10),
        )
        .expect("a file tool")
        .await;
    assert!(!out.is_error, "{}", out.text);
    assert!(
        out.text.starts_with("line 0\nline 1\n"),
        "{}",
        &out.text[..100]
    );
    assert!(out.text.ends_with("the last line\n"));
    let source = out.untrusted_source.expect("file content is untrusted");
    assert!(
        source.contains(&format!("{} bytes", text.len())) && source.contains("not read"),
        "{source}"
    );
}

/// `read_file` or `write_file` of something that is not a regular file (a
/// named pipe no one reads or writes) is refused at once instead of waiting
/// for the tool time limit.
#[tokio::test]
async fn reading_or_writing_a_named_pipe_is_refused_at_once() {
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let tools = FileTools::new(work.path()).unwrap();
    let (is_error, text) = tokio::time::timeout(
        Duration::from_secs(20),
        call(&tools, "read_file", json!({"path": "pipe"})),
    )
    .await
    .expect("read_file answered before the time limit");
    assert!(is_error, "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    let (is_error, text) = tokio::time::timeout(
        Duration::from_secs(20),
        call(
            &tools,
            "write_file",
            json!({"path": "pipe", "content": "x"}),
        ),
    )
    .await
    .expect("write_file answered before the time limit");
    assert!(is_error, "{text}");
    assert!(text.contains("not a regular file"), "{text}");
}

/// A long file is read in pieces of lines (each result is cut to its head
/// and tail past the truncation limit, so a whole read of a long file
/// hides its middle): a range says which lines it holds of how many and
/// where to read on; a range past the end says how many lines there are.
#[tokio::test]
async fn a_long_file_is_read_in_ranges_of_lines() {
    let work = tempfile::tempdir().unwrap();
    let text: String = (1..=3000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(work.path().join("src.rs"), &text).unwrap();
    let mut toolbox = Toolbox::new(Duration::from_secs(10));
    toolbox.add(FileTools::new(work.path()).unwrap());
    let run = |arguments: serde_json::Value| {
        let call = ToolCall {
            id: "call".into(),
            name: "read_file".into(),
            arguments,
            signature: None,
        };
        let toolbox = &toolbox;
        async move { toolbox.run(&call).await }
    };
    let out = run(json!({"path": "src.rs", "start_line": 1000, "max_lines": 500})).await;
    assert!(!out.is_error, "{}", out.text);
    let expected: String = (1000..1500).map(|i| format!("line {i}\n")).collect();
    assert_eq!(out.text, expected);
    assert_eq!(
        out.untrusted_source.as_deref(),
        Some("file src.rs, lines 1000..=1499 of 3000; read on from line 1500")
    );
    let out = run(json!({"path": "src.rs", "start_line": 2990})).await;
    assert_eq!(
        out.untrusted_source.as_deref(),
        Some("file src.rs, lines 2990..=3000 of 3000"),
        "{}",
        out.text
    );
    let out = run(json!({"path": "src.rs", "start_line": 4000})).await;
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(out.text, "file src.rs has 3000 lines: none from line 4000");
    let out = run(json!({"path": "src.rs", "start_line": 0})).await;
    assert!(
        out.is_error && out.text.contains("counts from 1"),
        "{}",
        out.text
    );
}
