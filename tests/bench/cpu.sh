#!/usr/bin/env bash
# CPU benchmark: run the `bench` guest on QEMU and on wemu, check that both
# print the same thing, and report wall times, their ratio and wemu's MIPS.
# See docs/performance.md ("Interpreter speed").
#
# Usage: tests/bench/cpu.sh [RUNS]   (default 3; the best run of each counts)
# Environment: WEMU (wemu binary; default: build target/release/wemu),
#              QEMU (default: qemu-system-riscv64, installed with apt-get if
#              missing), BENCH_SKIP_BUILD=1 to use existing binaries as-is.
set -euo pipefail

runs="${1:-3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
guest_dir="target/guests/riscv64gc-unknown-none-elf/release"
guest="$guest_dir/bench"
wemu="${WEMU:-target/release/wemu}"
qemu="${QEMU:-qemu-system-riscv64}"

if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "== $qemu not found: installing qemu-system-misc" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "need root to install QEMU (or set QEMU=/path/to/qemu-system-riscv64)" >&2
        exit 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-system-misc
fi

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    echo "== building wemu (release) and the guests" >&2
    [[ -n "${WEMU:-}" ]] || cargo build --release -p wemu >&2
    cargo build --release --manifest-path tests/guests/Cargo.toml \
        --target riscv64gc-unknown-none-elf --target-dir target/guests >&2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Floating-point arithmetic without depending on bc.
calc() { awk "BEGIN { print $1 }"; }

# Wall time of one command in seconds (stdout to $2, stderr to $3).
timed() {
    local out="$1" err="$2"
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$out" 2>"$err" </dev/null
    t1=$(date +%s.%N)
    calc "$t1 - $t0"
}

best_qemu="" best_wemu="" best_stats=""
for i in $(seq 1 "$runs"); do
    tq=$(timed "$tmp/qemu.out" "$tmp/qemu.err" \
        timeout 600 "$qemu" -M virt -bios none -nographic -kernel "$guest")
    tw=$(timed "$tmp/wemu.out" "$tmp/wemu.err" \
        timeout 600 "$wemu" run -M virt --stats --kernel "$guest")
    if ! cmp -s "$tmp/qemu.out" "$tmp/wemu.out"; then
        echo "outputs differ (qemu vs wemu):" >&2
        diff "$tmp/qemu.out" "$tmp/wemu.out" >&2 || true
        cat "$tmp/wemu.err" >&2
        exit 1
    fi
    grep -q '^bench done' "$tmp/wemu.out" || { echo "guest did not finish" >&2; cat "$tmp/wemu.out" "$tmp/wemu.err" >&2; exit 1; }
    stats=$(grep 'wemu: stats:' "$tmp/wemu.err")
    printf 'run %d: qemu %.3f s, wemu %.3f s  (%s)\n' "$i" "$tq" "$tw" "${stats#wemu: stats: }" >&2
    if [[ -z "$best_qemu" ]] || [[ $(calc "$tq < $best_qemu") == 1 ]]; then best_qemu=$tq; fi
    if [[ -z "$best_wemu" ]] || [[ $(calc "$tw < $best_wemu") == 1 ]]; then best_wemu=$tw; best_stats=$stats; fi
done

insns=$(sed -E 's/.*stats: ([0-9]+) instructions.*/\1/' <<<"$best_stats")
echo "guest output (identical on both):"
sed 's/^/  /' "$tmp/wemu.out"
printf 'instructions retired: %d\n' "$insns"
printf 'qemu wall: %.3f s (%.0f M guest insns/s)\n' "$best_qemu" "$(calc "$insns / $best_qemu / 1000000")"
printf 'wemu wall: %.3f s (%.1f MIPS over the whole process)\n' "$best_wemu" "$(calc "$insns / $best_wemu / 1000000")"
printf 'wemu interpreter: %s\n' "${best_stats#wemu: stats: }"
printf 'ratio wemu/qemu: %.2fx (target: <= 8x)\n' "$(calc "$best_wemu / $best_qemu")"
