# wemu's tasks. `just` itself comes from `cargo install just --locked`
# (the README's first command does that).

set shell := ["bash", "-euo", "pipefail", "-c"]

guests := "target/guests/riscv64gc-unknown-none-elf/release"

# Boot the default machine with the bundled guest.
default: run

# Rust targets the build needs (rust-toolchain.toml lists them; older
# rustups do not add them to an already installed toolchain).
targets:
    rustup target add wasm32-unknown-unknown riscv64gc-unknown-none-elf

# Everything the tests need: the targets, clang/lld for the C devices, QEMU
# (user mode and system), and the Linux boot tests' packages (dtc, OpenSBI,
# cross gcc, kernel source), and the JavaScript device's npm packages.
setup: targets setup-c setup-qemu-user setup-qemu-system setup-linux setup-js

# apt-get as the setup recipes run it: as root (sudo when not root), never
# asking questions, waiting up to 5 minutes for another apt-get or dpkg to
# release the dpkg lock. `update` is also retried (10 tries,
# WEMU_APT_RETRY_DELAY seconds apart, default 10): the lock on the package
# lists is not always covered by that timeout.
[private]
_apt +args:
    #!/usr/bin/env bash
    set -euo pipefail
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    tries=1; if [ "{{args}}" = update ]; then tries=10; fi
    for i in $(seq "$tries"); do
        if $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 {{args}}; then exit 0; fi
        if [ "$i" -lt "$tries" ]; then
            echo "apt-get {{args}} failed (another apt-get holding the lock?); retry $((i + 1))/$tries" >&2
            sleep "${WEMU_APT_RETRY_DELAY:-10}"
        fi
    done
    exit 1

# clang and lld with the wasm32 target: `cargo build` compiles the devices
# written in C (devices/crc32-dma) with them. Debian/Ubuntu packages `clang`
# and `lld`; uses sudo when not root. Another clang: WEMU_CLANG=PATH.
setup-c:
    #!/usr/bin/env bash
    set -euo pipefail
    have_clang=0
    for c in "${WEMU_CLANG:-clang}" clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        if command -v "$c" >/dev/null 2>&1; then have_clang=1; break; fi
    done
    if [ "$have_clang" = 1 ] && command -v wasm-ld >/dev/null 2>&1; then exit 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "clang/wasm-ld missing and no apt-get: install clang and lld (with the wasm32 target) yourself" >&2
        exit 1
    fi
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt update
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt install -y clang lld

# qemu-riscv64, the reference the cpu crate's differential tests
# (host/cpu/tests/differential.rs) compare the hart against. Debian/Ubuntu
# package `qemu-user`; uses sudo when not root.
setup-qemu-user:
    #!/usr/bin/env bash
    set -euo pipefail
    if command -v "${QEMU_RISCV64:-qemu-riscv64}" >/dev/null 2>&1; then exit 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "qemu-riscv64 missing and no apt-get: install QEMU's user-mode emulator (e.g. qemu-user) yourself" >&2
        exit 1
    fi
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt update
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt install -y qemu-user
    command -v qemu-riscv64 >/dev/null

# qemu-system-riscv64, the reference emulator the integration tests
# (tests/integration/parity.rs) and `just bench-cpu` compare wemu against.
# Debian/Ubuntu package `qemu-system-misc`; uses sudo when not root.
setup-qemu-system:
    #!/usr/bin/env bash
    set -euo pipefail
    if command -v "${QEMU_SYSTEM_RISCV64:-qemu-system-riscv64}" >/dev/null 2>&1; then exit 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "qemu-system-riscv64 missing and no apt-get: install QEMU (e.g. qemu-system-misc) yourself" >&2
        exit 1
    fi
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt update
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt install -y qemu-system-misc
    command -v qemu-system-riscv64 >/dev/null

# What the Linux boot tests need (tests/linux/build.sh): Debian's kernel
# source and riscv64 cross compiler, OpenSBI, dtc, and busybox's source
# package, for which a deb-src entry is derived from the system's own apt
# sources. Uses sudo when not root.
setup-linux:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "no apt-get: install a riscv64-linux-gnu cross gcc, Linux 6.1 source, OpenSBI, dtc and busybox source yourself" >&2
        exit 1
    fi
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    pkgs="linux-source-6.1 gcc-riscv64-linux-gnu libc6-dev-riscv64-cross opensbi device-tree-compiler make flex bison bc dpkg-dev e2fsprogs"
    missing=""
    for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    have_src=1; apt-cache showsrc busybox 2>/dev/null | grep -q '^Package:' || have_src=0
    if [ -z "$missing" ] && [ "$have_src" = 1 ]; then exit 0; fi
    if [ "$have_src" = 0 ]; then
        # Source entries mirroring the binary ones already configured.
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            case "$f" in *wemu-deb-src*) continue ;; esac
            sed -e 's/^Types: deb$/Types: deb-src/' "$f"
            echo
        done | $sudo tee /etc/apt/sources.list.d/wemu-deb-src.sources >/dev/null
        if [ -f /etc/apt/sources.list ]; then
            grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
                $sudo tee /etc/apt/sources.list.d/wemu-deb-src.list >/dev/null || true
        fi
    fi
    "{{just_executable()}}" --justfile "{{justfile()}}" _apt update
    if [ -n "$missing" ]; then "{{just_executable()}}" --justfile "{{justfile()}}" _apt install -y $missing; fi

# componentize-js is pinned by devices/doorbell-js/package-lock.json; Debian's
# nodejs/npm are installed with apt-get if node is missing.
# Node.js (20 or newer) and the npm packages that build the JavaScript device.
setup-js:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "node/npm missing and no apt-get: install Node.js 20 or newer yourself" >&2
            exit 1
        fi
        "{{just_executable()}}" --justfile "{{justfile()}}" _apt update
        "{{just_executable()}}" --justfile "{{justfile()}}" _apt install -y nodejs npm
    fi
    major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$major" -lt 20 ]; then
        echo "node $(node --version) is too old for componentize-js: install Node.js 20 or newer" >&2
        exit 1
    fi
    lock=devices/doorbell-js/package-lock.json
    stamp=devices/doorbell-js/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ]; then exit 0; fi
    npm ci --prefix devices/doorbell-js --no-audit --no-fund

# Load it with --device-path target/js-devices.
# Build the JavaScript device into target/js-devices/doorbell-js.wasm.
build-js: setup-js
    node devices/doorbell-js/build.mjs

# The kernel, initramfs and disk of the Linux boot tests (cached outside
# git; prints the directory).
linux: setup-linux
    tests/linux/build.sh

# Boot OpenSBI + Linux + busybox on virt with a shell on the console
# (`exit` powers off; Ctrl-A x quits). Extra arguments go to `wemu run`.
boot-linux *args: build linux
    #!/usr/bin/env bash
    set -euo pipefail
    L="$(tests/linux/build.sh)"
    disk="$(mktemp --suffix=.img)"; trap 'rm -f "$disk"' EXIT
    cp "$L/disk.img" "$disk"
    ./target/release/wemu run -M virt --kernel "$L/Image" --initrd "$L/initramfs.cpio" \
        --drive "file=$disk" --append "console=ttyS0" {{args}}

# Build wemu (host, every device component) and the bundled guest programs.
build: targets setup-c
    cargo build --release -p wemu
    cargo build --release --manifest-path tests/guests/Cargo.toml --target riscv64gc-unknown-none-elf --target-dir target/guests

# Install the `wemu` binary (with its built-in devices, machines and
# `new-device` templates) into ~/.cargo/bin, which rustup puts on the PATH.
# Extra arguments go to `cargo install` (e.g. `--root DIR`).
install *args: targets setup-c
    cargo install --path host/cli --locked {{args}}

# Package the device SDK crates (wemu-device-sdk, wemu-device-virtio) as they
# would be published, and build the packages natively and for wasm32.
package-sdk:
    cargo package -p wemu-device-sdk -p wemu-device-virtio --allow-dirty
    cargo package -p wemu-device-sdk -p wemu-device-virtio --allow-dirty --target wasm32-unknown-unknown

# Boot `virt` with the bundled hello program; prints its greeting.
run: build
    ./target/release/wemu run -M virt --kernel {{guests}}/hello

# Every test: unit tests of each crate (devices included, natively) and the
# integration tests that boot the guests and feed wemu bad input. Ends with
# "N passed, N failed, N skipped": a test that cannot run for want of a
# reference tool (QEMU, Node.js) says `SKIPPED: <test>: <why>` and is
# counted as skipped; under CI (CI=true) it fails instead
# (tests/support/reftool.rs). Exits non-zero if any test failed.
test: setup
    #!/usr/bin/env bash
    set -uo pipefail
    target="${CARGO_TARGET_DIR:-target}"
    mkdir -p "$target"
    skips="$(realpath "$target")/test-skips.txt"
    output="$target/test-output.txt"
    rm -f "$skips"
    WEMU_TEST_SKIP_LOG="$skips" cargo test --workspace --no-fail-fast 2>&1 | tee "$output"
    status=${PIPESTATUS[0]}
    tests/test-summary.sh "$output" "$skips"
    exit "$status"

# Formatting and lints, as CI checks them.
lint: check-aarch64
    cargo fmt --all --check
    cargo fmt --all --check --manifest-path tests/guests/Cargo.toml
    cargo clippy --workspace --all-targets -- -D warnings

# The hart and its JIT must build for aarch64 hosts too (Cranelift targets
# them; nothing here runs them).
check-aarch64:
    rustup target add aarch64-unknown-linux-gnu
    cargo check -p wemu-cpu --target aarch64-unknown-linux-gnu

# MMIO and instantiation benchmark, and the same for a Rust and a C device
# side by side (see docs/performance.md).
bench:
    cargo bench -p wemu --bench mmio
    cargo bench -p wemu --bench languages

# One worker and one per core, WEMU_BENCH_FUZZ_SECS per run (default 10).
# Fuzzing throughput: `wemu fuzz ns16550a` execs/s, device coverage on and off;
# then the long campaign of every shipped device, which must find nothing
# (WEMU_BENCH_FUZZ_CAMPAIGN_SECS per device, default 30).
bench-fuzz:
    cargo bench -p wemu --bench fuzz

# Drives the device as `wemu fuzz` does (docs/fuzzing.md); installs the
# nightly toolchain and cargo-fuzz if missing.
# libFuzzer + ASan on one device: just fuzz-device virtio-blk -max_total_time=60
fuzz-device device="ns16550a" *args="":
    #!/usr/bin/env bash
    set -euo pipefail
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    cd host/devfuzz && WEMU_FUZZ_DEVICE={{device}} cargo +nightly fuzz run device -- {{args}}

# Rust, C and JavaScript devices side by side (builds the JS device first).
bench-js: build-js
    cargo bench -p wemu --bench languages

# Installs QEMU with apt-get if missing; see docs/performance.md.
# CPU benchmark: `bench` and `coremark` (or those named) on QEMU, wemu interp and wemu jit; wall-time and CPU-time ratios.
bench-cpu runs="3" *guests="": setup
    tests/bench/cpu.sh {{runs}} {{guests}}

# Deterministic: the check for refactorings of the hot paths.
# Host instructions per guest instruction under callgrind (needs valgrind).
bench-callgrind which="all": build
    BENCH_SKIP_BUILD=1 tests/bench/callgrind.sh {{which}}

# Where the time goes under the JIT: perf cpu-clock samples of the CPU
# benchmark and of a Linux boot (when its kernel is cached), as shares of
# translated code, helpers, interpreter, machine loop, compiling and devices
# (needs perf; see docs/performance.md). SHARE_DETAIL=N lists leaf symbols.
bench-share: build
    BENCH_SKIP_BUILD=1 tests/bench/share.sh

# Linux boot benchmark: OpenSBI + Linux + busybox to init and to poweroff,
# on QEMU and on wemu (see docs/performance.md).
bench-linux runs="3": setup
    tests/bench/linux.sh {{runs}}
