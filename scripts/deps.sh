#!/bin/sh
# deps.sh: installs what building and testing slashinit needs, and fetches the
# runit binaries for the demo image without installing runit system-wide.
#
#   scripts/deps.sh [base|kernel|all]    (default: base)
#
# base:   QEMU, Debian's kernel and busybox-static and runit (fetched with
#         apt-get download and unpacked under build/, not installed),
#         GNU cpio and the compressors the tests check images with, tini,
#         pxelinux for the classic PXE test, gcc and libc6-dev for the ELF
#         resolver's tests (they build small dynamic programs and libraries),
#         rsyslog for the syslog tests (they start their own rsyslogd on the
#         loopback address with a configuration of their own), dnsmasq-base
#         for the forwarder's name lookup test (its own dnsmasq on the
#         loopback address; the package starts no service),
#         signify-openbsd (the demo image verifies releases with it; the
#         publishing script signs them) and openssl (scripts/demo-keys.sh).
# kernel: what `make kernel` needs: the kernel source (Debian's linux-source,
#         which pulls in the current linux-source-X.Y) and what
#         mk/build-kernel.sh and kbuild run: make, gcc with libc's headers
#         (kbuild's host tools), flex, bison, bc, libelf headers (objtool),
#         OpenSSL headers (sign-file, extract-cert: not built for kernel.config,
#         but for a copy of it with signed modules or trusted keys), xz (to
#         unpack the tarball); for a kernel that enforces signed kexec
#         (kernel-signed.config), openssl (the throwaway key, the check of the
#         certificate) and sbsigntool (sbsign, sbverify, sbattach).
#
# As root on Debian or Ubuntu it runs apt-get; otherwise it prints the exact
# command to run and exits 1 when something is missing.
set -eu

group=${1:-base}
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}

base_pkgs="qemu-system-x86 kmod cpio gzip zstd xz-utils lz4 tini pxelinux syslinux-common gcc libc6-dev rsyslog dnsmasq-base signify-openbsd openssl"
kernel_pkgs="linux-source flex bison bc libelf-dev libssl-dev make gcc libc6-dev xz-utils openssl sbsigntool"

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

# fetch DIR PKG...: apt-get download the packages and unpack them, without
# installing anything, into $build/DIR (the .debs stay in $build/DIR.dl).
fetch() {
	dir=$1
	shift
	rm -rf "$build/$dir.dl" "$build/$dir"
	mkdir -p "$build/$dir.dl"
	download() { (cd "$build/$dir.dl" && apt-get download "$@" >/dev/null 2>&1); }
	# A fresh machine may have no package lists yet: update once and retry.
	if ! download "$@"; then
		[ "$(id -u)" = 0 ] && apt-get update -qq && download "$@" || {
			echo "deps.sh: 'apt-get download $*' failed; run 'apt-get update' as root first" >&2
			exit 1
		}
	fi
	for deb in "$build/$dir.dl"/*.deb; do
		dpkg-deb -x "$deb" "$build/$dir"
	done
	echo "deps.sh: $* unpacked in $build/$dir"
}

# depends PKG PATTERN: the first package PKG depends on whose name matches
# the grep pattern (a metapackage's real package).
depends() {
	apt-cache depends "$1" 2>/dev/null | sed -n 's/^ *Depends: //p' | grep -m 1 "$2" || true
}

# The kernel the QEMU tests and the demo boot, its modules (-kmod), and
# busybox-static for the test images: fetched and unpacked under
# $build/debian, never installed into the host's /boot or /bin. The kernel
# package's version is resolved through its metapackage (Debian's
# linux-image-amd64, or Ubuntu's linux-image-generic, whose modules are a
# package of their own).
if [ "$group" != kernel ] && [ -z "$(ls "$build"/debian/boot/vmlinuz-* 2>/dev/null)" ]; then
	meta=linux-image-amd64
	apt-cache show "$meta" >/dev/null 2>&1 || meta=linux-image-generic
	image=$(depends "$meta" '^linux-image-[0-9]')
	if [ -z "$image" ]; then
		[ "$(id -u)" = 0 ] && apt-get update -qq
		image=$(depends "$meta" '^linux-image-[0-9]')
	fi
	[ -n "$image" ] || {
		echo "deps.sh: no kernel package: neither linux-image-amd64 (Debian) nor linux-image-generic (Ubuntu) is known to apt; run 'apt-get update', or set KERNEL=path" >&2
		exit 1
	}
	modules=$(depends "$image" '^linux-modules-[0-9]')
	fetch debian "$image" $modules busybox-static
	# The package leaves modules.dep and the other indexes to its postinst,
	# which runs depmod: run it on the unpacked tree (mkinitramfs -kmod
	# reads them).
	for m in "$build"/debian/lib/modules/*/; do
		depmod -b "$build/debian" "$(basename "$m")"
	done
fi

# runit for the demo image: Debian's binaries are dynamically linked, and
# `mkinitramfs build -bin` brings their loader and libc along.
if [ "$group" != kernel ] && [ ! -x "$build/runit/usr/bin/runsvdir" ]; then
	fetch runit runit
fi
