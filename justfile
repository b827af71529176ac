# Shortcuts over cargo; every recipe is one plain command you can run without `just`.

# Run the thumbnail demo on port 4566.
demo:
    cargo run --release -p slcl -- up examples/thumbnail

# Run the whole test suite.
test:
    cargo test --workspace

# Lints as CI runs them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Side-by-side benchmark against moto_server.
bench:
    cargo build --release -p slcl -p slcl-fixtures
    python3 benches/compare.py
