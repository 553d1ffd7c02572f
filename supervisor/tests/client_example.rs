//! The client library's example (client/examples/quickstart.rs) runs
//! against the real `hm`. Alone in its test binary: it sets the process
//! environment the example reads.

mod common;

#[path = "../../client/examples/quickstart.rs"]
mod quickstart;

#[test]
fn the_quickstart_example_runs() {
    let env = common::Env::new();
    let bin_dir = common::hm_bin().parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    // SAFETY: this test binary has one test and no other thread reads the
    // environment while it is changed.
    unsafe {
        std::env::set_var("PATH", path);
        std::env::set_var("HEIMDALL_SOCKET_DIR", env.sockets());
        std::env::set_var("XDG_CONFIG_HOME", env.dir.path().join("config"));
    }
    quickstart::main().expect("the example runs");
    let dir = heimdall_client::SocketDir::new(env.sockets());
    common::poll("the example's session to end", common::DEADLINE, || {
        let list = dir.list().expect("list");
        (list.len() == 1 && matches!(list[0].liveness, heimdall_client::Liveness::Exited(_)))
            .then_some(())
    });
}
