#!/usr/bin/env bash
# Linux boot benchmark: the same OpenSBI (Debian's fw_dynamic), kernel,
# initramfs and disk (tests/linux/build.sh) on QEMU's virt and on wemu's;
# wall time from start to init's first line and to poweroff, and their
# ratio. See docs/performance.md ("Linux boot").
#
# Usage: tests/bench/linux.sh [RUNS]   (default 3; the best run of each counts)
# Environment: WEMU (default: build target/release/wemu), QEMU (default:
#              qemu-system-riscv64), BENCH_SKIP_BUILD=1.
set -euo pipefail

runs="${1:-3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
wemu="${WEMU:-target/release/wemu}"
qemu="${QEMU:-qemu-system-riscv64}"
command -v "$qemu" >/dev/null || { echo "$qemu not found: run 'just setup'" >&2; exit 1; }
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 && -z "${WEMU:-}" ]]; then
    cargo build --release -p wemu >&2
fi
linux="$(tests/linux/build.sh)"
fw="$(ls /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin)"
append="console=ttyS0 wemu.poweroff"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
calc() { awk "BEGIN { print $1 }"; }

# Run a command; print "<seconds to init's first line> <seconds to exit>".
# Each line is stamped as it arrives, so the first figure does not wait
# for the end of the run.
stamp() {
    local t0 line now first="" log="$1"
    shift
    t0=$(date +%s.%N)
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$log"
        if [[ -z "$first" && "$line" == *"wemu-init: userspace is up"* ]]; then
            now=$(date +%s.%N)
            first=$(calc "$now - $t0")
        fi
    done < <("$@" </dev/null 2>&1)
    now=$(date +%s.%N)
    grep -q "wemu-init: powering off" "$log" || { echo "no poweroff in $log:" >&2; tail -20 "$log" >&2; exit 1; }
    echo "${first:-nan} $(calc "$now - $t0")"
}

best() { # best of a list of "a b" pairs, by the second field
    sort -g -k2 | head -n1
}

: >"$tmp/q.all"
: >"$tmp/w.all"
: >"$tmp/j.all"
for i in $(seq 1 "$runs"); do
    cp "$linux/disk.img" "$tmp/disk.img"
    : >"$tmp/q.log"
    stamp "$tmp/q.log" timeout 300 "$qemu" -M virt -nographic -bios "$fw" -kernel "$linux/Image" \
        -initrd "$linux/initramfs.cpio" -append "$append" \
        -drive "file=$tmp/disk.img,format=raw,if=none,id=d0,readonly=on" \
        -device virtio-blk-device,drive=d0 >>"$tmp/q.all"
    : >"$tmp/w.log"
    stamp "$tmp/w.log" timeout 300 "$wemu" run -M virt --accel interp --kernel "$linux/Image" \
        --initrd "$linux/initramfs.cpio" --append "$append" \
        --drive "file=$tmp/disk.img,readonly=on" >>"$tmp/w.all"
    : >"$tmp/j.log"
    stamp "$tmp/j.log" timeout 300 "$wemu" run -M virt --accel jit --kernel "$linux/Image" \
        --initrd "$linux/initramfs.cpio" --append "$append" \
        --drive "file=$tmp/disk.img,readonly=on" >>"$tmp/j.all"
done
read -r q_init q_all < <(best <"$tmp/q.all")
read -r w_init w_all < <(best <"$tmp/w.all")
read -r j_init j_all < <(best <"$tmp/j.all")
echo "Linux boot (best of $runs), seconds:"
printf '  %-28s %8s %8s\n' "" "to init" "to poweroff"
printf '  %-28s %8.3f %8.3f\n' "qemu-system-riscv64 (TCG)" "$q_init" "$q_all"
printf '  %-28s %8.3f %8.3f\n' "wemu --accel interp" "$w_init" "$w_all"
printf '  %-28s %8.3f %8.3f\n' "wemu --accel jit" "$j_init" "$j_all"
printf '  %-28s %7.1fx %7.1fx\n' "ratio interp / qemu" "$(calc "$w_init / $q_init")" "$(calc "$w_all / $q_all")"
printf '  %-28s %7.1fx %7.1fx\n' "ratio jit / qemu" "$(calc "$j_init / $q_init")" "$(calc "$j_all / $q_all")"
