# Shared by the benchmark scripts (sourced, from the repository's root).

# The wemu binary (WEMU overrides) and the CPU benchmark guest.
wemu="${WEMU:-target/release/wemu}"
guest="target/guests/riscv64gc-unknown-none-elf/release/bench"

# Build wemu (release; not when WEMU names a binary) and the guests, unless
# BENCH_SKIP_BUILD=1 (the just recipes build first and set it).
bench_build() {
    [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]] || return 0
    echo "== building wemu (release) and the guests" >&2
    [[ -n "${WEMU:-}" ]] || cargo build --release -p wemu >&2
    cargo build --release --manifest-path tests/guests/Cargo.toml \
        --target riscv64gc-unknown-none-elf --target-dir target/guests >&2
}
