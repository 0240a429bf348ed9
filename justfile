# Research Desk tasks. `just --list` shows them.

# Run the embedded demo: private database, demo identity provider, sample data.
demo:
    cargo run --release --bin desk -- demo

# The whole test suite (needs PostgreSQL; see README).
test:
    cargo test --workspace

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Load benchmark of a release build on 100,000 tickets (writes docs/performance.md figures).
bench:
    bash scripts/bench.sh

# Collaboration benchmark: a 100,000-activity timeline, POST comment, 100 MB upload/download.
bench-collab:
    bash scripts/bench_collab.sh
