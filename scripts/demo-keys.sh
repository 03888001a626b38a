#!/bin/sh
# demo-keys.sh: throwaway key pairs for the demo and the tests, made without
# a passphrase and kept under build/ (never committed). A fleet's keys are
# made the same way on the operator's machine, with a passphrase, and kept
# off the boot network: docs/verified-updates.md.
#
#   scripts/demo-keys.sh DIR
#
# writes, each only when it is missing:
#   DIR/kernel.key, DIR/kernel.crt   an RSA key and its self-signed X.509
#                                    certificate, for the signed kernel
#                                    (make kernel SIGNING_KEY=... SIGNING_CERT=...)
#   DIR/update.sec, DIR/update.pub   a signify key pair for releases: the image
#                                    carries update.pub as /etc/update.pub,
#                                    scripts/publish-release.sh signs with update.sec
set -eu

die() {
	echo "demo-keys: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 DIR"
dir=$1
for t in openssl signify-openbsd; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (Debian: apt-get install openssl signify-openbsd, or scripts/deps.sh base)"
done
mkdir -p "$dir"
chmod 0700 "$dir"

if [ ! -f "$dir/kernel.key" ] || [ ! -f "$dir/kernel.crt" ]; then
	rm -f "$dir/kernel.key" "$dir/kernel.crt"
	# RSA and SHA-256: what kernel-signed.config's kernel verifies
	# (CRYPTO_RSA, CRYPTO_SHA256). The key is written before its
	# certificate, so a missing certificate means an unfinished pair.
	openssl req -new -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
		-subj "/CN=slashinit throwaway kernel signing key ($(basename "$dir"))/" \
		-keyout "$dir/kernel.key.tmp" -out "$dir/kernel.crt.tmp" 2>"$dir/openssl.log" ||
		die "openssl req failed: $(cat "$dir/openssl.log")"
	rm -f "$dir/openssl.log"
	mv "$dir/kernel.key.tmp" "$dir/kernel.key"
	mv "$dir/kernel.crt.tmp" "$dir/kernel.crt"
	echo "demo-keys: $dir/kernel.key, $dir/kernel.crt"
fi

if [ ! -f "$dir/update.sec" ] || [ ! -f "$dir/update.pub" ]; then
	rm -f "$dir/update.sec" "$dir/update.pub"
	signify-openbsd -G -n -c "slashinit throwaway release key ($(basename "$dir"))" \
		-p "$dir/update.pub" -s "$dir/update.sec"
	echo "demo-keys: $dir/update.sec, $dir/update.pub"
fi
