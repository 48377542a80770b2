#!/usr/bin/env bash
# CPU benchmark: run each CPU-bound guest on QEMU, on wemu's interpreter and
# on wemu's JIT, alternating, check that all three print the same thing and
# that the guest's own checks passed, and report the best wall time and the
# best CPU time (user + system) of each and their ratios. The guests: `bench` (four integer kernels) and
# `coremark` (EEMBC's CoreMark, `coremark-bench`: its list, matrix and
# state CRCs validated). See docs/performance.md ("Interpreter speed",
# "CoreMark").
#
# Usage: tests/bench/cpu.sh [RUNS] [GUEST...]
#   RUNS: default 3; the best run of each counts. GUEST: bench, coremark
#   (default: both).
# Environment: WEMU (wemu binary; default: build target/release/wemu),
#              QEMU (default: qemu-system-riscv64, installed with apt-get if
#              missing), BENCH_SKIP_BUILD=1 to use existing binaries as-is.
set -euo pipefail

runs="${1:-3}"
shift || true
which=("$@")
[[ ${#which[@]} -gt 0 ]] || which=(bench coremark)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
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
bench_build

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Floating-point arithmetic without depending on bc.
calc() { awk "BEGIN { print $1 }"; }

# Wall time and CPU time (user + system, every thread and child) of one
# command in seconds, "WALL CPU" (stdout to $2, stderr to $3). Bash's own
# `time`: no /usr/bin/time needed.
timed() {
    local out="$1" err="$2"
    shift 2
    local TIMEFORMAT='%R %U %S' t real user sys
    t=$({ time "$@" >"$out" 2>"$err" </dev/null; } 2>&1)
    read -r real user sys <<<"$t"
    echo "$real $(calc "$user + $sys")"
}

# The smaller of a best-so-far value (maybe empty) and a new one.
least() {
    if [[ -z "$1" ]] || [[ $(calc "$2 < $1") == 1 ]]; then echo "$2"; else echo "$1"; fi
}

# Whether OUTPUT (a file) is a complete, self-checked run of guest NAME.
finished() {
    local name="$1" out="$2"
    case "$name" in
    bench) grep -q '^bench done' "$out" ;;
    coremark)
        # CoreMark prints this only when its CRCs are the known ones for
        # the standard seeds (and the port exits 1 otherwise).
        grep -q '^Correct operation validated\.' "$out" &&
            for l in seedcrc '\[0\]crclist' '\[0\]crcmatrix' '\[0\]crcstate' '\[0\]crcfinal'; do
                grep -q "^$l " "$out" || return 1
            done
        ;;
    *) return 1 ;;
    esac
}

# Run guest NAME (file GUEST) RUNS times on each engine, alternating; each
# wemu output must equal QEMU's and be complete.
bench_guest() {
    local name="$1" guest="$2"
    local best_qemu="" best_interp="" best_jit="" stats_interp="" stats_jit="" i tq ti tj e si sj insns
    local cq ci cj cpu_qemu="" cpu_interp="" cpu_jit=""
    echo "== $name" >&2
    for i in $(seq 1 "$runs"); do
        read -r tq cq < <(timed "$tmp/qemu.out" "$tmp/qemu.err" \
            timeout 600 "$qemu" -M virt -bios none -nographic -kernel "$guest")
        read -r ti ci < <(timed "$tmp/interp.out" "$tmp/interp.err" \
            timeout 600 "$wemu" run -M virt --stats --accel interp --kernel "$guest")
        read -r tj cj < <(timed "$tmp/jit.out" "$tmp/jit.err" \
            timeout 600 "$wemu" run -M virt --stats --accel jit --kernel "$guest")
        for e in interp jit; do
            if ! cmp -s "$tmp/qemu.out" "$tmp/$e.out"; then
                echo "$name: outputs differ (qemu vs wemu --accel $e):" >&2
                diff "$tmp/qemu.out" "$tmp/$e.out" >&2 || true
                cat "$tmp/$e.err" >&2
                exit 1
            fi
        done
        # Equal to QEMU's, so one check covers all three.
        finished "$name" "$tmp/jit.out" || { echo "$name: guest did not finish or failed its checks" >&2; cat "$tmp/jit.out" "$tmp/jit.err" >&2; exit 1; }
        si=$(grep 'wemu: stats:' "$tmp/interp.err" | head -1)
        sj=$(grep 'wemu: stats:' "$tmp/jit.err" | grep -v peak | tr '\n' ' ')
        printf 'run %d (wall / CPU): qemu %.3f / %.3f s, wemu --accel interp %.3f / %.3f s, wemu --accel jit %.3f / %.3f s\n' \
            "$i" "$tq" "$cq" "$ti" "$ci" "$tj" "$cj" >&2
        cpu_qemu=$(least "$cpu_qemu" "$cq")
        cpu_interp=$(least "$cpu_interp" "$ci")
        cpu_jit=$(least "$cpu_jit" "$cj")
        if [[ -z "$best_qemu" ]] || [[ $(calc "$tq < $best_qemu") == 1 ]]; then best_qemu=$tq; fi
        if [[ -z "$best_interp" ]] || [[ $(calc "$ti < $best_interp") == 1 ]]; then best_interp=$ti; stats_interp=$si; fi
        if [[ -z "$best_jit" ]] || [[ $(calc "$tj < $best_jit") == 1 ]]; then best_jit=$tj; stats_jit=$sj; fi
    done

    insns=$(sed -E 's/.*stats: ([0-9]+) instructions.*/\1/' <<<"$stats_interp")
    echo "== $name: guest output (identical on all three):"
    sed 's/^/  /' "$tmp/jit.out"
    printf 'instructions retired: %d\n' "$insns"
    printf 'qemu wall:             %.3f s (%.0f M guest insns/s)\n' "$best_qemu" "$(calc "$insns / $best_qemu / 1000000")"
    printf 'wemu --accel interp:   %.3f s (%.1f MIPS over the whole process)\n' "$best_interp" "$(calc "$insns / $best_interp / 1000000")"
    printf 'wemu --accel jit:      %.3f s (%.1f MIPS over the whole process)\n' "$best_jit" "$(calc "$insns / $best_jit / 1000000")"
    printf 'jit: %s\n' "$(sed -E 's/.*(stats: jit: [^w]*).*/\1/' <<<"$stats_jit")"
    printf 'ratio interp/qemu: %.2fx\n' "$(calc "$best_interp / $best_qemu")"
    printf 'ratio jit/qemu:    %.2fx\n' "$(calc "$best_jit / $best_qemu")"
    printf 'ratio interp/jit:  %.2fx (issue 13 target: >= 2x)\n' "$(calc "$best_interp / $best_jit")"
    printf 'CPU time (user + system, best): qemu %.3f s, interp %.3f s, jit %.3f s (the JIT compiles on a second thread)\n' \
        "$cpu_qemu" "$cpu_interp" "$cpu_jit"
    printf 'CPU ratio jit/qemu: %.2fx\n' "$(calc "$cpu_jit / $cpu_qemu")"
}

for name in "${which[@]}"; do
    case "$name" in
    bench) bench_guest bench "$guest" ;;
    coremark) bench_guest coremark "${guest%/*}/coremark-bench" ;;
    *) echo "unknown guest $name (bench, coremark)" >&2; exit 2 ;;
    esac
done
