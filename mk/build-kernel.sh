#!/bin/sh
# build-kernel.sh: build the minimal kernel of kernel.config with an image
# built in (CONFIG_INITRAMFS_SOURCE). Called by mk/kernel.mk; every setting
# comes from the environment so that make variables override them.
#
#   mk/build-kernel.sh build             tinyconfig + kernel.config -> KERNEL_IMAGE
#                                        (+ kernel-signed.config, then sbsign, with a key)
#   mk/build-kernel.sh config            only the checked .config, in KERNEL_OBJ: no
#                                        compiling; exits 1 listing the fragment's
#                                        options that did not survive the merge
#   mk/build-kernel.sh smoke-image OUT [MARKER]
#                                        a busybox test image (no Go /init needed)
#   mk/build-kernel.sh smoke-boot KERNEL [poweroff|reboot]
#                                        boot it in QEMU, check mounts and the exit
#
# Environment (defaults in brackets, relative to the repository):
#   KERNEL_TARBALL    kernel source tarball [the newest /usr/src/linux-source-*.tar.xz,
#                     by version: what Debian's linux-source package installs]
#   KERNEL_DIR        work directory [build/kernel]
#   KERNEL_SRC        kernel source tree [KERNEL_DIR/linux-source-VERSION, unpacked
#                     from KERNEL_TARBALL on first use]
#   KERNEL_OBJ        kbuild output directory, reused between builds [KERNEL_DIR/obj]
#   KERNEL_CONFIG     the fragment [kernel.config]
#   KERNEL_INITRAMFS  the image to embed: a cpio archive, raw or gzip/zstd/xz/lz4 [build/demo.cpio.gz]
#   KERNEL_IMAGE      where the bzImage goes [build/bzImage]
#   KERNEL_JOBS       parallel jobs [nproc]
#   KERNEL_SIGNING_KEY, KERNEL_SIGNING_CERT
#                     a private key and its X.509 certificate, both PEM [unset]:
#                     the kernel is built with KERNEL_SIGNED_CONFIG too and the
#                     certificate as its only trusted key (CONFIG_SYSTEM_TRUSTED_KEYS),
#                     so that its kexec_file_load accepts only kernels signed with
#                     the key; KERNEL_IMAGE is the bzImage signed with sbsign
#   KERNEL_SIGNED_CONFIG  the signing fragment [kernel-signed.config]
#   KERNEL_CMDLINE    a command line built into the kernel, which then ignores the
#                     one given by the boot loader or by kexec (CONFIG_CMDLINE,
#                     CONFIG_CMDLINE_OVERRIDE) [unset: none built in]
#   BUSYBOX           the static busybox of smoke-image [Debian's, which scripts/deps.sh
#                     unpacks under build/debian: `go run ./tools/facts busybox`]
#   GO                the go command that asks tools/facts [go]
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
# Debian's linux-source depends on the current linux-source-X.Y, which
# installs /usr/src/linux-source-X.Y.tar.xz: take the newest one there.
if [ -z "${KERNEL_TARBALL:-}" ]; then
	KERNEL_TARBALL=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n 1)
fi
: "${KERNEL_DIR:=$root/build/kernel}"
# An empty KERNEL_SRC means the default tree, which may be unpacked; a tree
# named by the user is used as it is.
if [ -z "${KERNEL_SRC:-}" ]; then
	tree=$(basename "${KERNEL_TARBALL:-linux-source}")
	KERNEL_SRC=$KERNEL_DIR/${tree%.tar.*}
	kernel_src_default=yes
else
	kernel_src_default=no
fi
: "${KERNEL_OBJ:=$KERNEL_DIR/obj}"
: "${KERNEL_CONFIG:=$root/kernel.config}"
: "${KERNEL_INITRAMFS:=$root/build/demo.cpio.gz}"
: "${KERNEL_IMAGE:=$root/build/bzImage}"
: "${KERNEL_JOBS:=$(nproc)}"
: "${KERNEL_SIGNED_CONFIG:=$root/kernel-signed.config}"
: "${KERNEL_SIGNING_KEY:=}"
: "${KERNEL_SIGNING_CERT:=}"
: "${KERNEL_CMDLINE:=}"

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

# abs PATH: PATH made absolute against the current directory, because kbuild
# runs in KERNEL_SRC and reads CONFIG_INITRAMFS_SOURCE relative to it.
abs() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

# check_tools: the kernel build needs these; say what to install rather than
# failing in the middle of kbuild.
check_tools() {
	missing=
	for t in make gcc flex bison bc xz; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	# kbuild compiles its host tools (fixdep, conf) against libc's headers.
	[ -f /usr/include/stdio.h ] || missing="$missing stdio.h(libc6-dev)"
	[ -f /usr/include/libelf.h ] || missing="$missing libelf.h(libelf-dev)"
	[ -f /usr/include/openssl/opensslv.h ] || missing="$missing openssl/opensslv.h(libssl-dev)"
	[ -z "$missing" ] || die "missing build tools:$missing; run scripts/deps.sh kernel (Debian: apt-get install make gcc libc6-dev flex bison bc libelf-dev libssl-dev xz-utils)"
}

# unpack_source: unpack KERNEL_TARBALL into KERNEL_SRC once. A partial unpack
# never looks finished: the tree is moved into place only when tar succeeded.
unpack_source() {
	[ -f "$KERNEL_SRC/Makefile" ] && return 0
	[ "$kernel_src_default" = yes ] || die "KERNEL_SRC=$KERNEL_SRC is not a kernel source tree (no Makefile)"
	[ -e "$KERNEL_SRC" ] && die "$KERNEL_SRC exists but has no Makefile: remove it or set KERNEL_SRC"
	[ -n "$KERNEL_TARBALL" ] || die "no kernel source: no /usr/src/linux-source-*.tar.xz (Debian: apt-get install linux-source, or scripts/deps.sh kernel) and KERNEL_SRC=$KERNEL_SRC is not a kernel tree"
	[ -f "$KERNEL_TARBALL" ] || die "no kernel source: KERNEL_TARBALL=$KERNEL_TARBALL not found and KERNEL_SRC=$KERNEL_SRC is not a kernel tree"
	echo "build-kernel: unpacking $KERNEL_TARBALL into $KERNEL_SRC"
	mkdir -p "$(dirname "$KERNEL_SRC")"
	tmp=$(mktemp -d "$(dirname "$KERNEL_SRC")/.unpack.XXXXXX")
	tar -C "$tmp" -xf "$KERNEL_TARBALL" || { rm -rf "$tmp"; die "unpack $KERNEL_TARBALL failed"; }
	set -- "$tmp"/*
	[ $# -eq 1 ] && [ -f "$1/Makefile" ] || { rm -rf "$tmp"; die "$KERNEL_TARBALL: expected one top directory with a Makefile"; }
	mv "$1" "$KERNEL_SRC"
	rmdir "$tmp"
}

kmake() {
	make -s -C "$KERNEL_SRC" O="$KERNEL_OBJ" ARCH=x86_64 "$@"
}

# stage_initramfs: copy KERNEL_INITRAMFS into KERNEL_OBJ under a name that
# tells kbuild its format (usr/Makefile: *.cpio is compressed as configured,
# *.cpio.<ext> is embedded as is), and only when its content changed: kbuild
# rebuilds the embedded image when the file is newer than its last copy, so a
# replaced image with an old mtime would otherwise be missed.
stage_initramfs() {
	src=$1
	[ -f "$src" ] || die "initramfs $src not found: build it first (make image, or bin/mkinitramfs build) or set KERNEL_INITRAMFS"
	magic=$(od -An -tx1 -N6 "$src" | tr -d ' \n')
	case $magic in
	303730373031* | 303730373032*) ext=cpio ;; # "070701"/"070702": newc
	1f8b*) ext=cpio.gz ;;
	28b52ffd*) ext=cpio.zst ;;
	fd377a585a00*) ext=cpio.xz ;;
	02214c18*) ext=cpio.lz4 ;; # lz4 legacy frame, what the kernel decodes
	*) die "initramfs $src: not a newc cpio archive, raw or gzip/zstd/xz/lz4 (magic $magic)" ;;
	esac
	staged=$KERNEL_OBJ/slashinit-initramfs.$ext
	for f in "$KERNEL_OBJ"/slashinit-initramfs.*; do
		[ "$f" = "$staged" ] || rm -f "$f"
	done
	if ! cmp -s "$src" "$staged"; then
		cp "$src" "$staged.tmp"
		mv "$staged.tmp" "$staged"
	fi
}

# fragments: the configuration fragments of this build, one per line: the
# fragment, the signing one when there is a key, and the settings this
# script generates (generate_fragment). prepare refuses a space or a line
# break in their paths, so that the list splits into words.
fragments() {
	printf '%s\n' "$KERNEL_CONFIG"
	[ "$signing" = no ] || printf '%s\n' "$KERNEL_SIGNED_CONFIG"
	printf '%s\n' "$generated"
}

# generate_fragment: the options whose values come from the environment,
# written to $generated and checked like the fragments.
generate_fragment() {
	{
		echo "# set by mk/build-kernel.sh from KERNEL_INITRAMFS"
		printf 'CONFIG_INITRAMFS_SOURCE="%s"\n' "$staged"
		if [ "$signing" = yes ]; then
			echo "# from KERNEL_SIGNING_CERT: the certificate kexec_file_load trusts"
			printf 'CONFIG_SYSTEM_TRUSTED_KEYS="%s"\n' "$trusted"
		fi
		if [ -n "$KERNEL_CMDLINE" ]; then
			echo "# from KERNEL_CMDLINE: built in, and the boot loader's or kexec's ignored"
			echo "CONFIG_CMDLINE_BOOL=y"
			printf 'CONFIG_CMDLINE="%s"\n' "$KERNEL_CMDLINE"
			echo "CONFIG_CMDLINE_OVERRIDE=y"
		fi
	} >"$generated.tmp"
	if cmp -s "$generated.tmp" "$generated"; then
		rm -f "$generated.tmp"
	else
		mv "$generated.tmp" "$generated"
	fi
}

# configure: tinyconfig, then the fragments merged on top of it, then
# allnoconfig with that merge as KCONFIG_ALLCONFIG (what
# `merge_config.sh -n` does, without writing into KERNEL_SRC): every option
# the fragment makes visible (IPv6 under INET, VGA console under VT, PS/2
# mouse under INPUT...) is answered "no" instead of taking its default, so
# the kernel has what kernel.config asks for and nothing else. The previous
# .config keeps its mtime when nothing changed, so kbuild does not re-run
# syncconfig.
configure() {
	cfg=$KERNEL_OBJ/.config
	generate_fragment
	# Regenerating is a few seconds of CPU (slow on a busy machine): skip it
	# when the inputs and the .config it produced are the same as last time.
	stamp=$KERNEL_OBJ/.slashinit-config-stamp
	inputs=$(config_inputs)
	if [ -f "$cfg" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$inputs $(sha256sum <"$cfg")" ]; then
		return 0
	fi
	prev=$KERNEL_OBJ/.config.slashinit-prev
	merged=$KERNEL_OBJ/slashinit-merged.config
	rm -f "$prev"
	[ -f "$cfg" ] && cp -p "$cfg" "$prev"
	kmake tinyconfig >"$KERNEL_OBJ/tinyconfig.log" 2>&1 ||
		die "make tinyconfig in $KERNEL_OBJ failed: see $KERNEL_OBJ/tinyconfig.log"
	# merge_config.sh leaves its temporary files in the current directory.
	# shellcheck disable=SC2046 # one word per fragment: prepare refuses spaces
	(cd "$KERNEL_OBJ" && KCONFIG_CONFIG=$merged "$KERNEL_SRC/scripts/kconfig/merge_config.sh" -m "$cfg" $(fragments)) \
		>"$KERNEL_OBJ/merge_config.log" 2>&1 ||
		die "merge_config.sh $(fragments | tr '\n' ' ')failed: see $KERNEL_OBJ/merge_config.log"
	kmake KCONFIG_ALLCONFIG="$merged" allnoconfig >"$KERNEL_OBJ/allnoconfig.log" 2>&1 ||
		die "make allnoconfig with $merged failed: see $KERNEL_OBJ/allnoconfig.log"
	check_config "$cfg"
	if [ -f "$prev" ] && cmp -s "$cfg" "$prev"; then
		touch -r "$prev" "$cfg"
	fi
	rm -f "$prev"
	echo "$inputs $(sha256sum <"$cfg")" >"$stamp"
}

# config_inputs: what the .config is made from: the fragments' settings (the
# lines merge_config.sh reads: a change to their comments is not a new
# config), the kernel tree and this script.
config_inputs() {
	{
		fragments | while IFS= read -r f; do
			echo "$f"
			grep -E '^CONFIG_|^# CONFIG_[A-Za-z0-9_]+ is not set' "$f" || true
		done
		cat "$0"
		echo "$KERNEL_SRC"
		cat "$KERNEL_SRC/Makefile" "$KERNEL_SRC/kernel/configs/tiny.config" "$KERNEL_SRC/kernel/configs/tiny-base.config"
	} | sha256sum
}

# check_config CONFIG: every CONFIG_X=value and "# CONFIG_X is not set" line
# of every fragment must be in the final .config; an option whose dependency
# is missing is silently dropped by Kconfig, so list them, by fragment, and
# fail.
check_config() {
	failed=no
	for f in $(fragments); do
		bad=$(missing_options "$1" "$f")
		[ -z "$bad" ] && continue
		failed=yes
		echo "build-kernel: these options of $f did not survive the merge into $1:$bad" >&2
	done
	[ "$failed" = no ] && return 0
	echo "build-kernel: a dependency is missing (add it to the fragment) or the option does not exist in this kernel;" >&2
	echo "build-kernel: see its \"Depends on\" with: make -C $KERNEL_SRC O=$KERNEL_OBJ ARCH=x86_64 menuconfig, then / and the name" >&2
	exit 1
}

# missing_options CONFIG FRAGMENT: the lines of FRAGMENT that CONFIG lacks,
# each on a line of its own with the option's final state.
missing_options() {
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$1" || printf '\n  %s  (final: %s)' "$line" "$(option_state "$1" "${line%%=*}")"
			;;
		"# CONFIG_"*" is not set")
			name=${line#\# }
			name=${name%% *}
			if grep -q "^$name=" "$1"; then
				printf '\n  %s  (final: %s)' "$line" "$(option_state "$1" "$name")"
			fi
			;;
		esac
	done <"$2"
}

option_state() {
	grep -E "^$2=|^# $2 is not set" "$1" || echo "absent"
}

# check_signing: the key pair and the command line, refused with the reason
# before anything is built. That the key is the certificate's is checked
# after signing, by sbverify: the key may ask for its passphrase.
check_signing() {
	signing=no
	if [ -n "$KERNEL_SIGNING_KEY$KERNEL_SIGNING_CERT" ]; then
		[ -n "$KERNEL_SIGNING_KEY" ] && [ -n "$KERNEL_SIGNING_CERT" ] ||
			die "KERNEL_SIGNING_KEY and KERNEL_SIGNING_CERT go together (got key '$KERNEL_SIGNING_KEY', certificate '$KERNEL_SIGNING_CERT')"
		signing=yes
		KERNEL_SIGNING_KEY=$(abs "$KERNEL_SIGNING_KEY")
		KERNEL_SIGNING_CERT=$(abs "$KERNEL_SIGNING_CERT")
		KERNEL_SIGNED_CONFIG=$(abs "$KERNEL_SIGNED_CONFIG")
		for t in sbsign sbverify openssl; do
			command -v "$t" >/dev/null 2>&1 || die "$t not found: a signed kernel needs sbsigntool and openssl (scripts/deps.sh kernel)"
		done
		[ -f "$KERNEL_SIGNED_CONFIG" ] || die "signing fragment $KERNEL_SIGNED_CONFIG not found"
		[ -r "$KERNEL_SIGNING_KEY" ] || die "KERNEL_SIGNING_KEY=$KERNEL_SIGNING_KEY: not readable"
		openssl x509 -in "$KERNEL_SIGNING_CERT" -noout 2>/dev/null ||
			die "KERNEL_SIGNING_CERT=$KERNEL_SIGNING_CERT: not a PEM X.509 certificate (openssl x509 cannot read it)"
	fi
	case $KERNEL_CMDLINE in
	*'"'* | *\\* | *'
'*) die "KERNEL_CMDLINE has a double quote, a backslash or a line break: Kconfig strings cannot carry them as given" ;;
	esac
	# COMMAND_LINE_SIZE on x86 is 2048, with the NUL.
	[ "${#KERNEL_CMDLINE}" -le 2047 ] || die "KERNEL_CMDLINE is ${#KERNEL_CMDLINE} bytes, the kernel takes at most 2047"
}

# stage_cert: the certificate, copied into KERNEL_OBJ under a fixed name
# only when its content changed (as stage_initramfs does for the image): the
# .config names the copy, and kbuild rebuilds the certificate list when it
# is newer.
stage_cert() {
	trusted=$KERNEL_OBJ/slashinit-trusted-keys.pem
	[ "$signing" = yes ] || return 0
	if ! cmp -s "$KERNEL_SIGNING_CERT" "$trusted"; then
		cp "$KERNEL_SIGNING_CERT" "$trusted.tmp"
		mv "$trusted.tmp" "$trusted"
	fi
}

# prepare: everything up to a checked .config in KERNEL_OBJ.
prepare() {
	KERNEL_DIR=$(abs "$KERNEL_DIR")
	KERNEL_INITRAMFS=$(abs "$KERNEL_INITRAMFS")
	KERNEL_IMAGE=$(abs "$KERNEL_IMAGE")
	KERNEL_CONFIG=$(abs "$KERNEL_CONFIG")
	KERNEL_SRC=$(abs "$KERNEL_SRC")
	KERNEL_OBJ=$(abs "$KERNEL_OBJ")
	[ -f "$KERNEL_CONFIG" ] || die "config fragment $KERNEL_CONFIG not found"
	check_signing
	case $KERNEL_CONFIG$KERNEL_SIGNED_CONFIG$KERNEL_OBJ in
	*'
'* | *' '*) die "a fragment or KERNEL_OBJ has a space or a line break in its path: $KERNEL_CONFIG $KERNEL_SIGNED_CONFIG $KERNEL_OBJ" ;;
	esac
	generated=$KERNEL_OBJ/slashinit-build.config
	mkdir -p "$KERNEL_DIR" "$KERNEL_OBJ"
	# One build at a time per output directory (make -j may start two).
	exec 9>"$KERNEL_OBJ/.slashinit-lock"
	flock 9
	unpack_source
	# The tools after the settings and the source: a mistake in those is
	# said first, on a machine with or without the kernel's build tools.
	check_tools
	stage_initramfs "$KERNEL_INITRAMFS"
	stage_cert
	configure
}

build() {
	prepare
	echo "build-kernel: building bzImage in $KERNEL_OBJ (-j$KERNEL_JOBS), embedding $KERNEL_INITRAMFS"
	kmake -j"$KERNEL_JOBS" bzImage
	# kbuild decides on timestamps; prove the image we staged is the one inside.
	if [ "${staged##*.}" = cpio ] && ! grep -qx CONFIG_INITRAMFS_COMPRESSION_NONE=y "$KERNEL_OBJ/.config"; then
		: # compressed by kbuild: nothing byte-comparable
	elif ! cmp -s "$staged" "$KERNEL_OBJ/usr/initramfs_inc_data"; then
		die "$KERNEL_OBJ/usr/initramfs_inc_data differs from $staged: kbuild did not pick up the new image"
	fi
	mkdir -p "$(dirname "$KERNEL_IMAGE")"
	bzimage=$KERNEL_OBJ/arch/x86/boot/bzImage
	if [ "$signing" = yes ]; then
		# The same proof for the certificate: the one built in is ours.
		certs=$KERNEL_OBJ/certs/x509_certificate_list
		[ "$(openssl x509 -in "$trusted" -outform DER | sha256sum)" = "$(sha256sum <"$certs")" ] ||
			die "$certs is not $KERNEL_SIGNING_CERT: kbuild did not pick up the new certificate"
		sbsign --key "$KERNEL_SIGNING_KEY" --cert "$KERNEL_SIGNING_CERT" --output "$KERNEL_IMAGE.tmp" "$bzimage" ||
			die "sbsign $bzimage failed"
		# A key that is not the certificate's makes a kernel that
		# refuses its own updates: check before it is used.
		sbverify --cert "$KERNEL_SIGNING_CERT" "$KERNEL_IMAGE.tmp" >/dev/null ||
			die "sbverify: $KERNEL_IMAGE.tmp does not verify with $KERNEL_SIGNING_CERT: is KERNEL_SIGNING_KEY=$KERNEL_SIGNING_KEY its key?"
	else
		cp "$bzimage" "$KERNEL_IMAGE.tmp"
	fi
	mv "$KERNEL_IMAGE.tmp" "$KERNEL_IMAGE"
	echo "build-kernel: $KERNEL_IMAGE: $(wc -c <"$KERNEL_IMAGE") bytes, embedded image $(wc -c <"$staged") bytes$(
		[ "$signing" = no ] || echo ", signed with $KERNEL_SIGNING_CERT (unsigned: $bzimage, $(wc -c <"$bzimage") bytes)")$(
		[ -z "$KERNEL_CMDLINE" ] || echo ", command line built in: $KERNEL_CMDLINE")"
}

# smoke_image OUT [MARKER]: a cpio (newc) with Debian's static busybox and an
# /init script that mounts what slashinit's /init mounts, prints MARKER and the
# result of each step, and powers off. It lets the kernel be tested before the
# Go /init and mkinitramfs exist. The archive is written by the kernel's own
# gen_init_cpio, so /dev/console is a device node without needing mknod.
smoke_image() {
	out=$(abs "$1")
	marker=${2:-slashinit-smoke}
	# internal/facts is the one home of where Debian's busybox is; it
	# prints why when scripts/deps.sh has not unpacked it.
	busybox=${BUSYBOX:-}
	if [ -z "$busybox" ]; then
		busybox=$(cd "$root" && "${GO:-go}" run ./tools/facts busybox) ||
			die "no busybox: run scripts/deps.sh (it unpacks Debian's busybox-static under build/debian), or set BUSYBOX=path"
	fi
	[ -x "$busybox" ] || die "$busybox not found: run scripts/deps.sh (it unpacks Debian's busybox-static under build/debian), or set BUSYBOX=path"
	# A dynamically linked busybox would need its libc in the image.
	if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q 'program interpreter'; then
		die "$busybox is dynamically linked: want Debian's busybox-static (scripts/deps.sh unpacks it under build/debian)"
	fi
	check_tools
	KERNEL_DIR=$(abs "$KERNEL_DIR")
	KERNEL_SRC=$(abs "$KERNEL_SRC")
	mkdir -p "$KERNEL_DIR"
	unpack_source
	work=$(mktemp -d "$KERNEL_DIR/.smoke.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	gcc -O2 -o "$work/gen_init_cpio" "$KERNEL_SRC/usr/gen_init_cpio.c"
	cat >"$work/init" <<EOF
#!/bin/busybox sh
# Smoke-test /init for the minimal kernel (mk/build-kernel.sh smoke-image).
/bin/busybox --install -s /bin
export PATH=/bin
echo "SMOKE marker=$marker pid=\$\$"
step() {
	if "\$@"; then echo "SMOKE ok: \$*"; else echo "SMOKE FAIL(\$?): \$*"; fi
}
step mount -t proc -o nosuid,nodev,noexec proc /proc
step mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
step mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
step mount -t devtmpfs -o nosuid,noexec devtmpfs /dev
mkdir -p /dev/pts /dev/shm
step mount -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=000 devpts /dev/pts
step mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
step mount -t tmpfs -o nosuid,nodev,mode=1777,size=1m tmpfs /dev/shm
step sh -c 'echo on > /proc/sys/kernel/printk_devkmsg'
step sh -c 'echo "<6>smoke: hello from kmsg" > /dev/kmsg'
echo "SMOKE cmdline: \$(cat /proc/cmdline)"
echo "SMOKE mounts:"
cat /proc/mounts
echo "SMOKE run-init: \$(dmesg | grep 'Run /init')"
echo "SMOKE warnings:"
dmesg | grep -iE 'warn|error|fail|unable' || echo "(none)"
echo "SMOKE uptime: \$(cat /proc/uptime)"
if [ -e /proc/sys/kernel/kexec_load_disabled ]; then echo "SMOKE kexec: present"; fi
case " \$(cat /proc/cmdline) " in
*" smoke=reboot "*) echo "SMOKE reboot"; reboot -f ;;
*" smoke=shell "*) exec sh ;;
esac
echo "SMOKE poweroff"
poweroff -f
EOF
	cat >"$work/list" <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /bin 0755 0 0
file /bin/busybox $busybox 0755 0 0
file /init $work/init 0755 0 0
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
dir /root 0700 0 0
EOF
	mkdir -p "$(dirname "$out")"
	"$work/gen_init_cpio" "$work/list" >"$out.tmp"
	mv "$out.tmp" "$out"
	echo "build-kernel: $out: $(wc -c <"$out") bytes, marker $marker"
}

# smoke_boot KERNEL [SMOKE_MODE]: boot KERNEL (built with a smoke image) in
# QEMU with no -initrd and check the console: the marker line, every mount,
# and QEMU exiting on its own through poweroff (or reboot with -no-reboot).
smoke_boot() {
	kernel=$(abs "$1")
	mode=${2:-poweroff}
	[ -f "$kernel" ] || die "$kernel not found"
	command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (Debian: apt-get install qemu-system-x86)"
	log=$kernel.console
	set -- qemu-system-x86_64 -accel tcg -m 256 -display none -serial stdio -monitor none \
		-no-reboot -kernel "$kernel" -append "console=ttyS0 panic=-1 smoke=$mode"
	echo "build-kernel: $*"
	start=$(date +%s.%N)
	rc=0
	timeout 180 "$@" </dev/null >"$log" 2>&1 || rc=$?
	end=$(date +%s.%N)
	tr -d '\r' <"$log" | grep -E '^SMOKE|Run /init|reboot:|Kernel panic' || true
	wall=$(echo "$end - $start" | bc)
	[ "$rc" -eq 0 ] || die "qemu exited with status $rc (124: timeout); console in $log"
	grep -q '^SMOKE marker=' "$log" || die "/init did not run; console in $log"
	! grep -q '^SMOKE FAIL' "$log" || die "a step failed; console in $log"
	case $mode in
	poweroff) want='reboot: Power down' ;;
	reboot) want='reboot: Restarting system' ;;
	*) want= ;;
	esac
	[ -z "$want" ] || grep -q "$want" "$log" || die "no \"$want\" on the console; $log"
	echo "build-kernel: smoke boot ($mode) of $kernel passed in ${wall}s of wall time; console in $log"
}

case ${1:-build} in
build) build ;;
config) prepare && echo "build-kernel: $KERNEL_OBJ/.config is checked" ;;
smoke-boot)
	[ $# -ge 2 ] || die "usage: $0 smoke-boot KERNEL [poweroff|reboot]"
	smoke_boot "$2" "${3:-}"
	;;
smoke-image)
	[ $# -ge 2 ] || die "usage: $0 smoke-image OUT [MARKER]"
	smoke_image "$2" "${3:-}"
	;;
*) die "unknown command $1 (build, config, smoke-image OUT [MARKER], smoke-boot KERNEL [MODE])" ;;
esac
