//! `hm`: see the crate documentation of `heimdall_supervisor`.

fn main() {
    // A supervisor's guardian re-executes `hm`; it needs nothing else.
    if let Some(code) = heimdall_supervisor::lifecycle::guardian_main() {
        std::process::exit(code);
    }
    std::process::exit(heimdall_supervisor::cli::main());
}
