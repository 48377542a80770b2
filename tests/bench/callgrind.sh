#!/usr/bin/env bash
# Host instructions per guest instruction under callgrind: deterministic,
# unlike wall time on a shared machine, so a refactoring can be checked to
# within a percent (docs/performance.md, "Counting host instructions").
#
# Two workloads:
#   cpu   the `bench` guest, first 50,000,000 instructions (the CRC-32 kernel)
#   mmio  a raw loop reading the UART's line status register (LSR) and
#         branching back: one device call per two guest instructions
# For each: inclusive instructions of `Machine::run` with N instructions,
# minus the same with 1,000 (start-up), divided by N - 1,000.
#
# Usage: tests/bench/callgrind.sh [cpu|mmio|all]   (default all)
# Environment: WEMU (wemu binary; default: build target/release/wemu),
#              BENCH_SKIP_BUILD=1 to use existing binaries as-is.
set -euo pipefail

which="${1:-all}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh

command -v valgrind >/dev/null 2>&1 || { echo "valgrind is needed (Debian package valgrind)" >&2; exit 1; }
bench_build

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# lui t0, 0x10000; 1: lbu t1, 5(t0); j 1b
printf '\xb7\x02\x00\x10\x03\xc3\x52\x00\xf5\xbf' > "$tmp/mmio.bin"

# Inclusive instruction count of Machine::run for `wemu run ARGS`.
run_count() {
    local out="$tmp/cg.out"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$wemu" run "$@" >/dev/null 2>&1 || true
    callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$tmp/annotated" 2>/dev/null || true
    # Machine::run, inclusive: the first line naming it from run.rs (the
    # hart's loop is inlined into it).
    awk '/machine\/run\.rs:.*Machine>::run( |$)/ { gsub(",", "", $1); print $1; exit }' "$tmp/annotated"
}

per_insn() {
    local name="$1" n="$2"; shift 2
    local full base
    full="$(run_count --max-insns "$n" "$@")"
    base="$(run_count --max-insns 1000 "$@")"
    if [[ -z "$full" || -z "$base" ]]; then
        echo "$name: could not read Machine::run from callgrind's output" >&2
        exit 1
    fi
    awk -v f="$full" -v b="$base" -v n="$n" -v name="$name" \
        'BEGIN { printf "%-5s %.2f host instructions per guest instruction (%d guest instructions)\n", name, (f - b) / (n - 1000), n }'
}

# The interpreter's hot paths (`--accel interp`: the JIT, the default,
# would measure translated code and Cranelift instead), then the
# interpreter as it runs under the JIT with nothing hot yet (its counting
# of taken jumps), then the JIT.
if [[ "$which" == cpu || "$which" == all ]]; then
    per_insn cpu 50000000 -M virt --accel interp --kernel "$guest"
fi
if [[ "$which" == mmio || "$which" == all ]]; then
    per_insn mmio 400000 -M virt --accel interp --bios none --kernel "$tmp/mmio.bin"
fi
if [[ "$which" == count || "$which" == all ]]; then
    per_insn count 50000000 -M virt --accel jit --jit-sync --jit-threshold 4000000000 --kernel "$guest"
fi
if [[ "$which" == jit || "$which" == all ]]; then
    per_insn jit 50000000 -M virt --accel jit --jit-sync --kernel "$guest"
fi
