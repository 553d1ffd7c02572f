# Heimdall recipes. Plain cargo works too; these are shortcuts.

# Formatting, lints and the test suite, as CI runs them.
check:
    .ci/run

# All tests.
test:
    cargo test --workspace

# The supervisor benchmark (HM_BENCH_MIB=64 for a quicker run).
bench:
    cargo bench -p heimdall-supervisor

# Build and run a session attached to this terminal: just run bash
run *CMD:
    cargo run --release -p heimdall-supervisor -- run -- {{CMD}}

# Fuzz one target (frame_codec, message, keys, connection); needs nightly and cargo-fuzz.
fuzz TARGET *ARGS:
    cd fuzz && cargo +nightly fuzz run {{TARGET}} -- {{ARGS}}
