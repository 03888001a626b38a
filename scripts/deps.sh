#!/bin/sh
# deps.sh: installs what building and testing slashinit needs, and fetches the
# runit binaries for the demo image without installing runit system-wide.
#
#   scripts/deps.sh [base|kernel|all]    (default: base)
#
# base:   QEMU, Debian's kernel, busybox-static, runit (unpacked under build/),
#         GNU cpio and the compressors the tests check images with, tini,
#         pxelinux for the classic PXE test, gcc and libc6-dev for the ELF
#         resolver's tests (they build small dynamic programs and libraries).
# kernel: what `make kernel` needs: the kernel source (Debian's linux-source,
#         which pulls in the current linux-source-X.Y) and what
#         scripts/build-kernel.sh and kbuild run: make, gcc with libc's headers
#         (kbuild's host tools), flex, bison, bc, libelf headers (objtool),
#         OpenSSL headers (sign-file, extract-cert: not built for kernel.config,
#         but for a copy of it with signed modules or trusted keys), xz (to
#         unpack the tarball).
#
# As root on Debian or Ubuntu it runs apt-get; otherwise it prints the exact
# command to run and exits 1 when something is missing.
set -eu

group=${1:-base}
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}

base_pkgs="qemu-system-x86 linux-image-amd64 busybox-static cpio gzip zstd xz-utils lz4 tini pxelinux syslinux-common gcc libc6-dev"
kernel_pkgs="linux-source flex bison bc libelf-dev libssl-dev make gcc libc6-dev xz-utils"

case $group in
base) pkgs=$base_pkgs ;;
kernel) pkgs=$kernel_pkgs ;;
all) pkgs="$base_pkgs $kernel_pkgs" ;;
*) echo "deps.sh: unknown group '$group' (base, kernel or all)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "deps.sh: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086 # word splitting of the package list is intended
		apt-get install -y -qq --no-install-recommends $missing
	else
		echo "deps.sh: missing Debian packages:$missing" >&2
		echo "deps.sh: run as root: apt-get install -y$missing" >&2
		exit 1
	fi
fi

# runit for the demo image: Debian's binaries are dynamically linked, and
# `mkinitramfs build -bin` brings their loader and libc along. Unpacking the
# .deb keeps the host untouched (installing runit is not needed).
if [ "$group" != kernel ] && [ ! -x "$build/runit/usr/bin/runsvdir" ]; then
	mkdir -p "$build/runit.dl"
	download() { (cd "$build/runit.dl" && rm -f runit_*.deb && apt-get download runit >/dev/null 2>&1); }
	# A fresh machine may have no package lists yet: update once and retry.
	if ! download; then
		[ "$(id -u)" = 0 ] && apt-get update -qq && download || {
			echo "deps.sh: 'apt-get download runit' failed; run 'apt-get update' as root first" >&2
			exit 1
		}
	fi
	rm -rf "$build/runit"
	dpkg-deb -x "$build"/runit.dl/runit_*.deb "$build/runit"
	echo "deps.sh: runit unpacked in $build/runit"
fi
