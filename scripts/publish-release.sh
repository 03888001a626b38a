#!/bin/sh
# publish-release.sh: lay out a signed release for the update service
# (configs/rootfs/etc/service/update/run) in a directory any HTTP server
# serves, the one the machines' UPDATE_URL names.
#
#   scripts/publish-release.sh -k KERNEL [-i INITRD] [-c CMDLINE] -s SECKEY [-p PUBKEY] -o DIR
#
#   -k KERNEL   the kernel to boot next (a bzImage; signed with sbsign when
#               the machines run a kernel that enforces signatures)
#   -i INITRD   its initramfs; without, the release has none (a kernel with
#               its image built in needs none)
#   -c CMDLINE  its command line; without, the machines keep their running one
#   -s SECKEY   the signify-openbsd secret key that signs SHA256SUMS; the
#               machines' image carries its public key as /etc/update.pub
#   -p PUBKEY   check the release with this public key before publishing it
#               (signify-openbsd -C): proves SECKEY is the key the image trusts
#   -o DIR      where the release goes; created when missing
#
# DIR then holds kernel, kernel.initrd, kernel.cmdline (those given),
# SHA256SUMS (sha256sum --tag's format, which signify-openbsd -C reads) and
# SHA256SUMS.sig (its signature with the list embedded: signify-openbsd -S
# -e). Everything is written beside DIR's files under a temporary name and
# renamed into place, the release's files first, then SHA256SUMS.sig and
# SHA256SUMS, one right after the other: a machine that polls between the
# two renames refuses the release once and takes it at its next poll. Files
# of an earlier release that this one does not have are removed last.
set -eu

die() {
	echo "publish-release: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 -k KERNEL [-i INITRD] [-c CMDLINE] -s SECKEY [-p PUBKEY] -o DIR" >&2
	exit 2
}

kernel= initrd= cmdline= has_cmdline=no seckey= pubkey= out=
while getopts k:i:c:s:p:o: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	c) cmdline=$OPTARG has_cmdline=yes ;;
	s) seckey=$OPTARG ;;
	p) pubkey=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "unexpected argument '$1'"
[ -n "$kernel" ] || die "no kernel: -k KERNEL is required"
[ -n "$seckey" ] || die "no signing key: -s SECKEY is required (signify-openbsd -G makes one: docs/verified-updates.md)"
[ -n "$out" ] || die "no output directory: -o DIR is required"

for t in signify-openbsd sha256sum; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (Debian: apt-get install signify-openbsd coreutils)"
done
# A release the machines would only refuse is not published.
[ -f "$kernel" ] && [ -s "$kernel" ] || die "kernel $kernel: not a non-empty file"
[ -z "$initrd" ] || { [ -f "$initrd" ] && [ -s "$initrd" ]; } || die "initrd $initrd: not a non-empty file"
[ -r "$seckey" ] || die "signing key $seckey: not readable"
if [ -n "$pubkey" ]; then
	[ -r "$pubkey" ] || die "public key $pubkey: not readable"
	pubkey=$(cd "$(dirname "$pubkey")" && pwd)/$(basename "$pubkey")
fi
case $cmdline in
*'
'*) die "the command line has a line break: the kernel takes one line" ;;
esac

mkdir -p "$out"
stage=$(mktemp -d "$out/.publish.XXXXXX")
trap 'rm -rf "$stage"' EXIT
names=kernel
cp "$kernel" "$stage/kernel"
if [ -n "$initrd" ]; then
	cp "$initrd" "$stage/kernel.initrd"
	names="$names kernel.initrd"
fi
if [ "$has_cmdline" = yes ]; then
	printf '%s\n' "$cmdline" >"$stage/kernel.cmdline"
	names="$names kernel.cmdline"
fi
# shellcheck disable=SC2086 # the names are words
(cd "$stage" && sha256sum --tag $names >SHA256SUMS) || die "sha256sum in $stage failed"
signify-openbsd -S -e -s "$seckey" -m "$stage/SHA256SUMS" -x "$stage/SHA256SUMS.sig" ||
	die "signify-openbsd -S with $seckey failed"
if [ -n "$pubkey" ]; then
	err=$(cd "$stage" && signify-openbsd -C -q -p "$pubkey" -x SHA256SUMS.sig 2>&1) ||
		die "the release does not verify with $pubkey (signify-openbsd -C: $err): is $seckey its secret key?"
fi

for f in $names SHA256SUMS.sig SHA256SUMS; do
	mv -f "$stage/$f" "$out/$f"
done
for f in kernel.initrd kernel.cmdline; do
	case " $names " in
	*" $f "*) ;;
	*) rm -f "$out/$f" ;;
	esac
done
release=$(sha256sum <"$out/SHA256SUMS" | cut -c1-16)
echo "publish-release: release $release in $out: $names, SHA256SUMS, SHA256SUMS.sig"
