#!/usr/bin/env bash
# Where the time goes under the JIT: sample `wemu run --accel jit` with perf
# (cpu-clock, user space, with call chains) and attribute every sample to
# translated code, the helpers translated code calls, the interpreter, the
# machine's run loop, Cranelift compiling, or the devices. Two workloads: the
# CPU benchmark guest (the one `just bench-cpu` runs) and, when the cached
# kernel of the Linux boot tests is present, a Linux boot to poweroff.
# See docs/performance.md ("Where the time goes under the JIT").
#
# How a sample is attributed (perf script --no-inline, leaf frame first):
#   translated  the leaf is in a JIT region, named from /tmp/perf-PID.map
#               (`--perf-map` writes wemu-guest-0xPC; Cranelift's JIT module
#               adds .LfnN under perf, the trampoline among them)
#   outside     no frame of the run (Machine::run, JIT, Cranelift, the hart):
#               start-up (building the machine, loading components), exit,
#               other threads
#   devices     a wasmtime frame: a device call, whoever made it
#   helpers     a JIT frame below the leaf, or wemu_cpu::jit::call (load,
#               store, general, div): what translated code calls
#   compile     Cranelift, regalloc2, region forming and translating
#   interpreter / machine loop: the wemu frame nearest the leaf: the hart
#               (wemu_cpu, not its jit module) is the interpreter; the JIT's
#               lookup and entry (wemu_cpu::jit) and Machine::run with what
#               it calls (events, interrupts) are the loop
#   unwalked    nothing of the above: unnamed code (the devices' compiled
#               wasm has no perf map) or a chain perf could not walk
# Chains are unwound with DWARF (the release build keeps no frame pointers:
# `--call-graph fp` would break at every Rust frame; this needs no rebuild).
# perf has no unwind information for JIT code, so a chain stops at the first
# JIT frame: a helper's chain ends in the region that called it, which is
# all the helpers rule needs. Cranelift's frames are large, so a compiling
# sample's chain often stops inside Cranelift before reaching wemu's frames
# (16 KiB of stack per sample); the only Cranelift during the run is the
# JIT's, because a warm-up run first fills wasmtime's component cache.
#
# Usage: tests/bench/share.sh
# Environment: WEMU (default: build target/release/wemu), PERF (default:
#              perf), SHARE_FREQ (samples/s, default 1000), SHARE_DETAIL=N
#              to list the N commonest leaf symbols of each category,
#              BENCH_SKIP_BUILD=1 to use existing binaries as-is.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
perf="${PERF:-perf}"
freq="${SHARE_FREQ:-1000}"

fail() { echo "share.sh: $*" >&2; exit 1; }

command -v "$perf" >/dev/null 2>&1 ||
    fail "perf not found: install it (Debian: apt-get install linux-perf; Ubuntu: linux-tools-generic) or set PERF=/path/to/perf"
bench_build

tmp="$(mktemp -d)"
maps=()
cleanup() {
    rm -rf "$tmp"
    # The perf maps of the runs below (perf reads them from /tmp).
    for m in "${maps[@]}"; do rm -f "$m"; done
}
trap cleanup EXIT

# perf must be allowed to sample a process of ours in user space with call
# chains; try it on a short command first, so a refusal is said plainly.
if ! "$perf" record -q -e cpu-clock:u -F "$freq" --call-graph dwarf -o "$tmp/probe.data" -- true \
    >"$tmp/probe.out" 2>&1; then
    cat "$tmp/probe.out" >&2
    fail "perf record refused (kernel.perf_event_paranoid is $(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo unknown)).
  User-space sampling of one's own processes needs kernel.perf_event_paranoid <= 2:
  'sysctl kernel.perf_event_paranoid=2' as root. In a container, perf_event_open
  must also be allowed (seccomp profile, or CAP_PERFMON)."
fi

# The attribution described at the top; prints "category count" lines.
classify() {
    awk '
    function jit(s) { return s ~ /^wemu-guest-0x[0-9a-f]+$/ || s ~ /^\.Lfn[0-9]+$/ }
    function sample(   i, s, c, run, below, helper, wasm, comp, cpu, ours, complete) {
        if (n == 0) return
        run = 0; below = 0; helper = 0; wasm = 0; comp = 0; cpu = 0; ours = 0
        for (i = 1; i <= n; i++) {
            s = sym[i]
            if (i > 1 && jit(s)) below = 1
            if (s ~ /^wemu_cpu::jit::call::/) helper = 1
            if (s ~ /Machine>::run$/) run = 1
            if (s ~ /wasmtime/) wasm = 1
            if (s ~ /^<?cranelift_|regalloc2::|^wemu_cpu::jit::(region|translate)::/) comp = 1
            if (s ~ /^<?wemu_cpu::/) cpu = 1
            if (s ~ /^<?wemu(_[a-z]+)?::/ || s == "main") ours = 1
        }
        complete = sym[n] ~ /^(_start|clone3?|start_thread)$/
        if (jit(sym[1])) c = "translated"
        else if (!(run || below || comp || cpu)) c = (complete || ours) ? "outside" : "unwalked"
        else if (wasm) c = "devices"
        else if (below || helper) c = "helpers"
        else if (comp) c = "compile"
        else {
            # The frame nearest the leaf that is ours decides.
            c = "loop"
            for (i = 1; i <= n; i++) {
                s = sym[i]
                if (s ~ /^wemu_cpu::jit::/) break
                if (s ~ /^<?wemu_cpu::/) { c = "interp"; break }
                if (s ~ /Machine>::run$/) break
            }
        }
        count[c]++
        total++
        leaf[c "\t" sym[1]]++
        n = 0
    }
    /^[^ \t]/ || /^ *[0-9]+ *$/ { sample(); next }   # a sample header (pid)
    /^[ \t]*$/ { next }
    {
        line = $0
        sub(/^[ \t]*[0-9a-f]+ /, "", line)
        sym[++n] = line
    }
    END {
        sample()
        for (c in count) print c, count[c]
        print "total", total + 0
        # The leaf symbols of each category, for SHARE_DETAIL.
        for (k in leaf) print "leaf\t" k "\t" leaf[k] > detail
    }' detail="$1"
}

# profile NAME CHECK -- COMMAND...: run COMMAND under perf, check its stdout
# holds CHECK, and write NAME.share (category counts) and NAME.stats
# (wemu's JIT stats line).
profile() {
    local name="$1" check="$2"
    shift 3
    # Warm-up: loads the machine's components, so wasmtime's compile cache
    # holds them and compiles nothing during the profile (without
    # --perf-map: a map nobody reads would be left in /tmp).
    local a warm=()
    for a in "$@"; do [[ "$a" == --perf-map ]] || warm+=("$a"); done
    "${warm[@]}" --max-insns 1000 >/dev/null 2>&1 || true
    echo "== $name: perf record -e cpu-clock:u -F $freq --call-graph dwarf -- $*" >&2
    if ! "$perf" record -q -e cpu-clock:u -F "$freq" --call-graph dwarf,16384 -o "$tmp/$name.data" -- "$@" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"; then
        tail -20 "$tmp/$name.err" >&2
        fail "$name: wemu or perf failed (above)"
    fi
    grep -q "$check" "$tmp/$name.out" ||
        { tail -20 "$tmp/$name.out" "$tmp/$name.err" >&2; fail "$name: no '$check' in the guest's output"; }
    grep 'wemu: stats: jit:' "$tmp/$name.err" >"$tmp/$name.stats" ||
        fail "$name: no JIT stats line (--accel jit --stats) in wemu's stderr"
    "$perf" script -i "$tmp/$name.data" --no-inline -F pid,ip,sym >"$tmp/$name.script" 2>"$tmp/$name.script.err" ||
        { cat "$tmp/$name.script.err" >&2; fail "$name: perf script failed"; }
    # Lost samples or chunks make the shares wrong: say so.
    if grep -qi 'lost' "$tmp/$name.script.err"; then
        grep -i 'lost' "$tmp/$name.script.err" >&2
        echo "share.sh: $name: perf lost samples; try a lower SHARE_FREQ" >&2
    fi
    local pid
    pid="$(awk '/^ *[0-9]+ *$/ { print $1; exit }' "$tmp/$name.script")"
    [[ -n "$pid" ]] && maps+=("/tmp/perf-$pid.map")
    classify "$tmp/$name.leaves" <"$tmp/$name.script" >"$tmp/$name.share"
    local total translated
    total="$(awk '$1 == "total" { print $2 }' "$tmp/$name.share")"
    translated="$(awk '$1 == "translated" { print $2 }' "$tmp/$name.share")"
    if [[ "${total:-0}" -lt 100 ]]; then
        fail "$name: perf recorded only ${total:-0} samples: sampling does not work here (cpu-clock:u at $freq Hz)"
    fi
    grep -q ' wemu-guest-0x' "/tmp/perf-$pid.map" 2>/dev/null ||
        fail "$name: /tmp/perf-$pid.map lists no region: perf cannot name translated code"
    # The CPU benchmark spends most of its time in translated code; none
    # means the samples were not matched to the map.
    if [[ "$name" == cpu && "${translated:-0}" -eq 0 ]]; then
        fail "$name: no sample fell in a named JIT region (/tmp/perf-$pid.map)"
    fi
}

profile cpu '^bench done' -- "$wemu" run -M virt --accel jit --perf-map --stats --kernel "$guest"
cases=(cpu)
titles=("cpu bench")

linux="$(tests/linux/build.sh --cached 2>/dev/null)" || linux=""
if [[ -n "$linux" ]]; then
    cp "$linux/disk.img" "$tmp/disk.img"
    profile linux 'wemu-init: powering off' -- "$wemu" run -M virt --accel jit --perf-map --stats \
        --kernel "$linux/Image" --initrd "$linux/initramfs.cpio" --append "console=ttyS0 wemu.poweroff" \
        --drive "file=$tmp/disk.img,readonly=on"
    cases+=(linux)
    titles+=("linux boot")
else
    skipped="SKIPPED the Linux boot: no cached kernel (tests/linux/build.sh --cached found none; 'just linux' builds it)"
    echo "share.sh: $skipped" >&2
fi

share() { # share CASE CATEGORY -> percentage of the case's samples
    awk -v c="$2" '$1 == "total" { t = $2 } $1 == c { n = $2 } END { printf "%.1f", t ? 100 * n / t : 0 }' "$tmp/$1.share"
}

echo "Share of user-space CPU time under --accel jit (perf cpu-clock samples at $freq Hz):"
printf '  %-58s' ""
for t in "${titles[@]}"; do printf ' %11s' "$t"; done
echo
rows=(
    "translated:translated code (JIT regions)"
    "helpers:helpers called from translated code (and below)"
    "interp:interpreter"
    "loop:machine loop (run loop, events, JIT lookup and entry)"
    "compile:compiling (Cranelift, region forming)"
    "devices:devices (wasmtime)"
    "outside:outside the run (start-up, exit, other threads)"
    "unwalked:not attributed (chain perf could not walk)"
)
for row in "${rows[@]}"; do
    printf '  %-58s' "${row#*:}"
    for c in "${cases[@]}"; do printf ' %10s%%' "$(share "$c" "${row%%:*}")"; done
    echo
done
printf '  %-58s' "samples"
for c in "${cases[@]}"; do printf ' %11s' "$(awk '$1 == "total" { print $2 }' "$tmp/$c.share")"; done
echo
for i in "${!cases[@]}"; do
    printf '%s: %s\n' "${titles[$i]}" "$(sed -E 's/^wemu: stats: //' "$tmp/${cases[$i]}.stats")"
done
[[ -z "${skipped:-}" ]] || echo "$skipped"
if [[ "${SHARE_DETAIL:-0}" -gt 0 ]]; then
    for i in "${!cases[@]}"; do
        echo "${titles[$i]}: commonest leaf symbols of each category (samples):"
        for row in "${rows[@]}"; do
            c="${row%%:*}"
            awk -F '\t' -v c="$c" '$2 == c { print $4 "\t" $3 }' "$tmp/${cases[$i]}.leaves" |
                sort -rn | awk -F '\t' -v c="$c" -v most="$SHARE_DETAIL" \
                    'NR <= most { printf "  %-10s %6d  %s\n", c, $1, substr($2, 1, 110) }'
        done
    done
fi
