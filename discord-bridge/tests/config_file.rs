//! hm-discord reads the shared heimdall.toml as every program does: an
//! unknown top-level key stops it, hm's part is accepted unchecked, and the
//! keys of `[discord]` and `[agent]` (for the agent in chat) are checked.

#[path = "../../client/tests/shared/config_file.rs"]
mod shared;

use std::path::Path;

use shared::Part;

/// `hm-discord --check`: loads the file, prints who may do what, exits
/// without connecting to Discord.
const CHECK: (&str, &[&str]) = (env!("CARGO_BIN_EXE_hm-discord"), &["--check"]);

#[test]
fn an_unknown_top_level_key_stops_it_naming_the_file_the_key_and_a_hint() {
    shared::refuses_unknown_top_level_keys(Path::new(CHECK.0), CHECK.1);
}

#[test]
fn it_accepts_every_programs_part_and_checks_only_discord_and_agent() {
    let reads = [Part::Discord, Part::Agent];
    shared::checks_only_the_parts_it_reads(Path::new(CHECK.0), CHECK.1, &reads);
}
