//! `hm`: see the crate documentation of `heimdall_supervisor`.

fn main() {
    std::process::exit(heimdall_supervisor::cli::main());
}
