#!/usr/bin/env bash
# Build the guest the Linux boot tests run: a small riscv64 kernel from
# Debian's linux-source-6.1 (tinyconfig + kernel.config), an initramfs with
# a static busybox (from Debian's source package) and ./init, and an ext2
# disk image holding hello.txt.
#
# Output (printed on the last line): a directory holding Image,
# initramfs.cpio and disk.img. It lives in the cache, outside git:
# ${WEMU_LINUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wemu/linux}/<key>, where
# <key> hashes this script and its inputs, so a change rebuilds and an
# unchanged tree costs nothing. `just setup-linux` installs the packages;
# without them it exits 3 and says what is missing on stdout (the tests
# then skip, or fail under CI).
#
# `build.sh --cached` builds nothing: it prints the directory if this tree's
# build is already in the cache, and exits 4 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${WEMU_LINUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wemu/linux}"
jobs="$(nproc)"
cross=riscv64-linux-gnu-

key="$(cat "$here/build.sh" "$here/kernel.config" "$here/init" "$here/initramfs.list" "$here/busybox.config" |
    sha256sum | cut -c1-16)"
out="$cache/$key"
if [ -f "$out/Image" ] && [ -f "$out/initramfs.cpio" ] && [ -f "$out/disk.img" ]; then
    echo "$out"
    exit 0
fi
if [ "${1:-}" = --cached ]; then
    echo "build.sh: no cached build in $out" >&2
    exit 4
fi

for tool in ${cross}gcc make flex bison bc mke2fs dpkg-source; do
    command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is missing: run 'just setup-linux'"; exit 3; }
done
tarball="$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1 || true)"
[ -n "$tarball" ] || { echo "build.sh: no /usr/src/linux-source-6.1.tar.*: run 'just setup-linux'"; exit 3; }

mkdir -p "$cache"
work="$cache/work"
mkdir -p "$work"

# --- kernel -----------------------------------------------------------------
src="$work/linux-source-6.1"
if [ ! -f "$src/Makefile" ]; then
    echo "build.sh: unpacking $(basename "$tarball")" >&2
    tar -C "$work" -xf "$tarball"
fi
# Build trees are keyed by their own config only: make is incremental.
kkey="$(sha256sum < "$here/kernel.config" | cut -c1-16)"
kbuild="$work/kernel-$kkey"
mkdir -p "$kbuild"
kmake() { make -C "$src" O="$kbuild" ARCH=riscv CROSS_COMPILE="$cross" -j"$jobs" "$@" >&2; }
kmake tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$kbuild" "$kbuild/.config" "$here/kernel.config" >&2
kmake olddefconfig
# Every line of the fragment must have survived olddefconfig (a typo or a
# missing dependency would silently drop it).
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    grep -qxF "$line" "$kbuild/.config" || { echo "build.sh: $line did not stick in .config" >&2; exit 1; }
done < "$here/kernel.config"
kmake Image
# A single-file target: kbuild refuses it mixed with others in one make.
kmake usr/gen_init_cpio

# --- busybox ----------------------------------------------------------------
bb="$work/busybox-src"
if [ ! -f "$bb/Makefile" ]; then
    echo "build.sh: fetching Debian's busybox source package" >&2
    rm -rf "$work/bbdl" && mkdir -p "$work/bbdl"
    (cd "$work/bbdl" && apt-get source --download-only busybox >&2)
    dsc="$(ls "$work"/bbdl/busybox_*.dsc | head -n1)"
    rm -rf "$bb" && dpkg-source --no-check -x "$dsc" "$bb" >&2
fi
bbkey="$(sha256sum < "$here/busybox.config" | cut -c1-16)"
bbbuild="$work/busybox-$bbkey"
mkdir -p "$bbbuild"
bmake() { make -C "$bb" O="$bbbuild" ARCH=riscv CROSS_COMPILE="$cross" -j"$jobs" "$@" >&2; }
bmake defconfig
# Static, and without the applets that need what a cross toolchain lacks.
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    name="${line%%=*}"
    sed -i "/^$name=/d; /^# $name is not set/d" "$bbbuild/.config"
    echo "$line" >> "$bbbuild/.config"
done < "$here/busybox.config"
{ yes "" || true; } | bmake oldconfig >/dev/null 2>&1
bmake busybox

# --- initramfs and disk -----------------------------------------------------
stage="$work/stage-$key"
rm -rf "$stage" && mkdir -p "$stage"
sed -e "s|@BUSYBOX@|$bbbuild/busybox|" -e "s|@INIT@|$here/init|" "$here/initramfs.list" > "$stage/list"
"$kbuild/usr/gen_init_cpio" "$stage/list" > "$stage/initramfs.cpio"

mkdir -p "$stage/disk"
echo "wemu-disk: hello from the virtio-blk disk" > "$stage/disk/hello.txt"
rm -f "$stage/disk.img"
mke2fs -q -t ext2 -d "$stage/disk" -L wemu "$stage/disk.img" 4M >&2

mkdir -p "$out.tmp"
cp "$kbuild/arch/riscv/boot/Image" "$stage/initramfs.cpio" "$stage/disk.img" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
