# wemu's tasks. `just` itself comes from `cargo install just --locked`
# (the README's first command does that).

set shell := ["bash", "-euo", "pipefail", "-c"]

guests := "target/guests/riscv64gc-unknown-none-elf/release"

# Boot the default machine with the bundled guest.
default: run

# Rust targets the build needs (rust-toolchain.toml lists them; older
# rustups do not add them to an already installed toolchain).
setup:
    rustup target add wasm32-unknown-unknown riscv64gc-unknown-none-elf

# Build wemu (host, every device component) and the bundled guest programs.
build: setup
    cargo build --release -p wemu
    cargo build --release --manifest-path tests/guests/Cargo.toml --target riscv64gc-unknown-none-elf --target-dir target/guests

# Boot `virt` with the bundled hello program; prints its greeting.
run: build
    ./target/release/wemu run -M virt --kernel {{guests}}/hello

# Every test: unit tests of each crate (devices included, natively) and the
# integration tests that boot the guests and feed wemu bad input.
test: setup
    cargo test --workspace

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo fmt --all --check --manifest-path tests/guests/Cargo.toml
    cargo clippy --workspace --all-targets -- -D warnings

# MMIO and instantiation benchmark (see docs/performance.md).
bench:
    cargo bench -p wemu --bench mmio

# CPU benchmark: the `bench` guest on QEMU and on wemu, wall-time ratio and
# wemu's MIPS (installs QEMU with apt-get if missing; see docs/performance.md).
bench-cpu runs="3": setup
    tests/bench/cpu.sh {{runs}}
