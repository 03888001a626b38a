#!/bin/sh
# Compare mkinitramfs with the classic shell pipelines on one large tree:
#
#   find . | cpio -o -H newc | gzip -6      vs  mkinitramfs build -compress gzip -level 6
#   find . | cpio -o -H newc | zstd -3      vs  mkinitramfs build -compress zstd -level 3
#
# Usage: mkinitramfs/bench/compare.sh [TREE] [RUNS]
# TREE defaults to /usr/lib/modules/$(uname -r) (else the first kernel
# there, else the Go toolchain's GOROOT); RUNS (default 3) runs of each
# command, alternating, report the median wall time. The page cache is
# warmed first so that every command reads from memory. The plain
# mkinitramfs rows write with -o FILE (temporary file, fsync, rename: the
# fsync waits for the disk), the -stdout rows with -o - into the same kind
# of file as the pipelines (no fsync). Prints a Markdown table. Needs: go,
# cpio, gzip, zstd. Not part of the tests.
set -eu

tree=${1:-}
runs=${2:-3}
if [ -z "$tree" ]; then
	tree=/usr/lib/modules/$(uname -r)
	[ -d "$tree" ] || tree=$(ls -d /usr/lib/modules/*/ 2>/dev/null | head -n 1)
	[ -n "$tree" ] && [ -d "$tree" ] || tree=$(go env GOROOT)
fi
tree=$(cd "$tree" && pwd)
for tool in go cpio gzip zstd; do
	command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 1; }
done

here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$here" && go build -o "$work/mkinitramfs" ./mkinitramfs)
mk=$work/mkinitramfs

# Warm the page cache.
find "$tree" -type f -exec cat {} + >/dev/null

now() { date +%s.%N; }

# run NAME COMMAND: time one run, record "NAME seconds bytes".
run() {
	name=$1
	shift
	start=$(now)
	sh -c "$*"
	end=$(now)
	size=$(wc -c <"$work/out")
	awk -v n="$name" -v s="$start" -v e="$end" -v b="$size" 'BEGIN { printf "%s %.2f %s\n", n, e - s, b }' >>"$work/results"
	rm -f "$work/out"
}

i=0
while [ "$i" -lt "$runs" ]; do
	run pipe-gzip "cd '$tree' && find . | cpio -o -H newc --quiet | gzip -6 >'$work/out'"
	run mk-gzip "'$mk' build -force -compress gzip -level 6 -o '$work/out' '$tree' 2>/dev/null"
	run mk-gzip-stdout "'$mk' build -force -compress gzip -level 6 -o - '$tree' 2>/dev/null >'$work/out'"
	run pipe-zstd "cd '$tree' && find . | cpio -o -H newc --quiet | zstd -3 -q >'$work/out'"
	run mk-zstd "'$mk' build -force -compress zstd -level 3 -o '$work/out' '$tree' 2>/dev/null"
	run mk-zstd-stdout "'$mk' build -force -compress zstd -level 3 -o - '$tree' 2>/dev/null >'$work/out'"
	i=$((i + 1))
done

files=$(find "$tree" | wc -l)
bytes=$(du -sb "$tree" | cut -f1)
echo "Tree: $tree ($files entries, $bytes bytes), $(nproc) CPUs, median of $runs runs"
echo
echo "| command | wall time (s) | output (bytes) |"
echo "|---|---:|---:|"
label() {
	case $1 in
	pipe-gzip) echo '`find . \| cpio -o -H newc \| gzip -6`' ;;
	mk-gzip) echo '`mkinitramfs build -compress gzip -level 6 -o FILE`' ;;
	mk-gzip-stdout) echo '`mkinitramfs build -compress gzip -level 6 -o - >FILE`' ;;
	pipe-zstd) echo '`find . \| cpio -o -H newc \| zstd -3`' ;;
	mk-zstd) echo '`mkinitramfs build -compress zstd -level 3 -o FILE`' ;;
	mk-zstd-stdout) echo '`mkinitramfs build -compress zstd -level 3 -o - >FILE`' ;;
	esac
}
for name in pipe-gzip mk-gzip mk-gzip-stdout pipe-zstd mk-zstd mk-zstd-stdout; do
	t=$(awk -v n="$name" '$1 == n { print $2 }' "$work/results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	s=$(awk -v n="$name" '$1 == n { print $3 }' "$work/results" | head -n 1)
	echo "| $(label "$name") | $t | $s |"
done
