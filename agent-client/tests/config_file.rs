//! hm-agent reads the shared heimdall.toml as every program does: an
//! unknown top-level key stops it, the other programs' parts are accepted
//! unchecked, and the keys of `[agent]` are checked.

#[path = "../../client/tests/shared/config_file.rs"]
mod shared;

use std::path::Path;

use shared::Part;

/// `hm-agent list`: loads the file, lists no conversation, exits.
const LIST: (&str, &[&str]) = (env!("CARGO_BIN_EXE_hm-agent"), &["list"]);

#[test]
fn an_unknown_top_level_key_stops_it_naming_the_file_the_key_and_a_hint() {
    shared::refuses_unknown_top_level_keys(Path::new(LIST.0), LIST.1);
}

#[test]
fn it_accepts_every_programs_part_and_checks_only_agent() {
    shared::checks_only_the_parts_it_reads(Path::new(LIST.0), LIST.1, &[Part::Agent]);
}
