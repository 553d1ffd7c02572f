//! # heimdall-supervisor
//!
//! The `hm` binary's library: a session supervisor that runs one program in
//! a pseudo-terminal, owns its process tree, keeps its output in a ring with
//! offsets, classifies what it is doing and serves clients on a Unix socket
//! with the protocol of [`heimdall_protocol`]; plus the command-line clients.
//!
//! Module map (one concern each):
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | argument parsing and one file per subcommand |
//! | [`config`] | the configuration waterfall and validation |
//! | [`paths`] | the socket directory, session files, the pidfile lock |
//! | [`spawn`] | pty, fork, exec of the child |
//! | [`supervisor`] | running a supervisor: setup, serve, tear down |
//! | [`session`] | shared session state; one submodule per job: pump, terminal, screen feed, state, ending |
//! | [`input`] | writing INPUT to the pty, queued when it is full |
//! | [`output`] | the output ring, subscriptions, pacing |
//! | [`requests`] | SUBMIT and WAIT |
//! | [`screen`] | the live screen model (VT emulator over the output) |
//! | [`skim`] | what output the screen model skips did to the terminal's state |
//! | [`scan`] | where the escapes in 64 bytes of output are, at once |
//! | [`terminal_queries`] | the queries a program asks its terminal, answered by the supervisor |
//! | [`frame_hold`] | synchronized updates held back from the screen model until they end |
//! | [`marker`] | finding an escape sequence cut between two pieces of a stream |
//! | [`server`] | the listening socket and peer credentials |
//! | [`connection`] | one client's requests and frames |
//! | [`lifecycle`] | signals, kill escalation, guardian, exit codes |
//! | [`exit_record`] | the `<id>.exit` record |
//! | [`log_file`] | the supervisor's size-capped `<id>.log` |
//! | [`classify`] | state classifiers |

// The module docs map the private modules too, for those who work on
// them (`cargo doc --document-private-items`).
#![allow(rustdoc::private_intra_doc_links)]

pub mod ansi_line;
pub mod classify;
pub mod cli;
pub mod config;
pub mod connection;
pub mod echo_poll;
pub mod exit_record;
pub mod frame_hold;
pub mod input;
pub mod lifecycle;
pub mod log_file;
pub mod marker;
pub mod output;
pub mod paths;
pub mod requests;
pub mod scan;
pub mod screen;
pub mod server;
pub mod session;
pub mod skim;
pub mod spawn;
pub mod supervisor;
pub mod sync;
pub mod terminal_queries;
