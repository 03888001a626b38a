# mk/kernel.mk: the minimal kernel of kernel.config, with an image built in.
#
# Included by the top-level Makefile; also works alone:
#   make -f mk/kernel.mk kernel
#
# Targets:
#   kernel             tinyconfig + kernel.config (allnoconfig merge), then bzImage with
#                      KERNEL_INITRAMFS embedded -> KERNEL_IMAGE (incremental); with
#                      SIGNING_KEY and SIGNING_CERT, + kernel-signed.config, built in
#                      KERNEL_SIGNED_OBJ, and KERNEL_IMAGE signed with sbsign
#   keys               throwaway key pairs for the demo and the tests in KEYS
#                      (scripts/demo-keys.sh; never committed)
#   kernel-smoke       a busybox-only image embedded in build/kernel-smoke, booted in
#                      QEMU: mounts, poweroff (checks the kernel without our /init)
#   test-kernel        kernel, then its QEMU tests (go test ./e2e -run '^TestMinimalKernel',
#                      or KERNEL_TESTRUN), then the figures they measured (KERNEL_FIGURES)
#   kernel-clean       remove the kbuild output and the kernels (keeps the source)
#
# Variables (override on the command line, e.g. make kernel KERNEL_INITRAMFS=x.cpio):
#   KERNEL_SRC         kernel source tree; empty: the tarball of Debian's linux-source
#                      (KERNEL_TARBALL, default the newest /usr/src/linux-source-*.tar.xz,
#                      found when the script runs) unpacked once under KERNEL_DIR
#   KERNEL_INITRAMFS   image to embed: a newc cpio, raw or gzip/zstd/xz/lz4
#   KERNEL_IMAGE       output bzImage
#   KERNEL_JOBS        parallel jobs (default: nproc)
#   KERNEL_TESTRUN     the tests test-kernel runs, a go test -run pattern (default: every
#                      TestMinimalKernel*; e.g. ^TestMinimalKernelWatchdog$ for one)
#   SIGNING_KEY, SIGNING_CERT
#                      a PEM private key and its X.509 certificate: the kernel trusts
#                      only the certificate, and its kexec_file_load refuses any kernel
#                      not signed with the key (make keys makes a throwaway pair:
#                      SIGNING_KEY=build/keys/kernel.key SIGNING_CERT=build/keys/kernel.crt)
#   KERNEL_CMDLINE     a command line built into the kernel, which then ignores the boot
#                      loader's and kexec's (no double quote, backslash or single quote)
#   KERNEL_SIGNED_OBJ  the kbuild output directory of signed builds, so that switching
#                      between a signed and an unsigned build does not rebuild everything
# The work is done by mk/build-kernel.sh, which documents the details.

# Paths are relative to the repository, wherever make was started from.
KERNEL_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

# Empty: mk/build-kernel.sh finds it, after deps.sh has installed it.
KERNEL_TARBALL   ?=
KERNEL_DIR       ?= $(KERNEL_ROOT)/build/kernel
KERNEL_SRC       ?=
KERNEL_OBJ       ?= $(KERNEL_DIR)/obj
KERNEL_CONFIG    ?= $(KERNEL_ROOT)/kernel.config
# The including Makefile's demo image (IMAGE) when there is one, and `make
# kernel` builds it first (through IMAGE's rule); alone, or with another
# KERNEL_INITRAMFS, the file must already exist.
KERNEL_INITRAMFS ?= $(if $(IMAGE),$(abspath $(IMAGE)),$(KERNEL_ROOT)/build/demo.cpio.gz)
KERNEL_IMAGE     ?= $(KERNEL_ROOT)/build/bzImage
KERNEL_JOBS      ?= $(shell nproc)
# The static busybox of the smoke image: Debian's, fetched by deps.sh under
# build/debian (internal/facts says where).
KERNEL_BUSYBOX   ?= $(shell cd '$(KERNEL_ROOT)' && $(or $(GO),go) run ./tools/facts busybox)
KERNEL_SIGNED_OBJ    ?= $(KERNEL_DIR)/obj-signed
KERNEL_SIGNED_CONFIG ?= $(KERNEL_ROOT)/kernel-signed.config
SIGNING_KEY      ?=
SIGNING_CERT     ?=
KERNEL_CMDLINE   ?=
# The including Makefile's KEYS when there is one.
KEYS             ?= $(KERNEL_ROOT)/build/keys

# Included: keep the including Makefile's default goal (the first target it
# defines), instead of making `kernel` the default.
ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
KERNEL_SAVED_GOAL := $(.DEFAULT_GOAL)
endif

# The settings, for the script and for the tests that build kernels with it.
KERNEL_ENV = KERNEL_TARBALL='$(KERNEL_TARBALL)' KERNEL_DIR='$(KERNEL_DIR)' \
	KERNEL_SRC='$(KERNEL_SRC)' KERNEL_OBJ='$(KERNEL_OBJ)' KERNEL_CONFIG='$(KERNEL_CONFIG)' \
	KERNEL_JOBS='$(KERNEL_JOBS)' KERNEL_SIGNED_OBJ='$(KERNEL_SIGNED_OBJ)' \
	KERNEL_SIGNED_CONFIG='$(KERNEL_SIGNED_CONFIG)'
KERNEL_BUILD = $(KERNEL_ENV) $(KERNEL_ROOT)/mk/build-kernel.sh

.PHONY: kernel kernel-smoke kernel-clean test-kernel keys

keys: $(KEYS)/kernel.key $(KEYS)/update.pub

$(KEYS)/kernel.key $(KEYS)/kernel.crt $(KEYS)/update.sec $(KEYS)/update.pub &:
	$(KERNEL_ROOT)/scripts/demo-keys.sh '$(KEYS)'

# deps.sh installs the kernel source and build tools when run as root, and
# otherwise says what to install.
# A signing key pair under KEYS is made when missing (make keys).
kernel: $(if $(IMAGE),$(if $(filter $(abspath $(IMAGE)),$(abspath $(KERNEL_INITRAMFS))),$(IMAGE))) \
		$(filter $(KEYS)/%,$(SIGNING_KEY) $(SIGNING_CERT))
	$(KERNEL_ROOT)/scripts/deps.sh kernel
	KERNEL_INITRAMFS='$(KERNEL_INITRAMFS)' KERNEL_IMAGE='$(KERNEL_IMAGE)' $(KERNEL_ENV) \
		KERNEL_SIGNING_KEY='$(SIGNING_KEY)' KERNEL_SIGNING_CERT='$(SIGNING_CERT)' KERNEL_CMDLINE='$(KERNEL_CMDLINE)' \
		$(if $(SIGNING_KEY)$(SIGNING_CERT),KERNEL_OBJ='$(KERNEL_SIGNED_OBJ)') $(KERNEL_ROOT)/mk/build-kernel.sh build

# The QEMU tests of the minimal kernel (e2e/kernel_test.go and the other
# TestMinimalKernel* of e2e/, KERNEL_TESTRUN narrows them): MINIMAL_KERNEL
# is the kernel just built; the tests build their own variants with
# mk/build-kernel.sh in the same build directory. deps.sh all: without
# QEMU or runit the tests would only skip, and tools/testreport fails the
# run on any skip. KERNEL_TESTFLAGS=-v shows each step and the consoles.
# The tests also measure the figures of the README's kernel section (sizes,
# boot time to /etc/boot against Debian's kernel with the same image as
# -initrd) into KERNEL_FIGURES, printed at the end. KERNEL_TESTRUN narrows
# the run to some of the tests (a go test -run pattern; $$ for a $ on make's
# command line); a pattern that matches no test fails the run.
KERNEL_TESTFLAGS ?=
KERNEL_TESTRUN   ?= ^TestMinimalKernel
KERNEL_FIGURES   ?= $(KERNEL_ROOT)/build/kernel-figures.txt
test-kernel: kernel
	$(KERNEL_ROOT)/scripts/deps.sh all
	rm -f '$(KERNEL_FIGURES)'
	set -o pipefail; $(KERNEL_ENV) MINIMAL_KERNEL='$(abspath $(KERNEL_IMAGE))' \
		MINIMAL_INITRAMFS='$(abspath $(KERNEL_INITRAMFS))' KERNEL_FIGURES='$(KERNEL_FIGURES)' \
		$(or $(GO),go) test -count=1 -timeout 40m -json $(KERNEL_TESTFLAGS) -run '$(KERNEL_TESTRUN)' ./e2e/ \
		| $(or $(GO),go) run ./tools/testreport -require-tests $(filter -v,$(KERNEL_TESTFLAGS))
	@if [ -s '$(KERNEL_FIGURES)' ]; then echo "test-kernel: figures ($(KERNEL_FIGURES)):"; cat '$(KERNEL_FIGURES)'; \
	else echo "test-kernel: no figures: the tests run ($(KERNEL_TESTRUN)) measure none"; fi

# deps.sh all: the kernel source, and QEMU and busybox for the smoke image.
kernel-smoke:
	$(KERNEL_ROOT)/scripts/deps.sh all
	BUSYBOX='$(KERNEL_BUSYBOX)' $(KERNEL_BUILD) smoke-image $(KERNEL_DIR)/smoke.cpio
	KERNEL_INITRAMFS='$(KERNEL_DIR)/smoke.cpio' KERNEL_IMAGE='$(KERNEL_ROOT)/build/kernel-smoke' \
		$(KERNEL_BUILD) build
	$(KERNEL_BUILD) smoke-boot $(KERNEL_ROOT)/build/kernel-smoke poweroff

kernel-clean:
	rm -rf '$(KERNEL_OBJ)' '$(KERNEL_SIGNED_OBJ)' '$(KERNEL_IMAGE)' '$(KERNEL_ROOT)/build/kernel-smoke' \
		'$(KERNEL_ROOT)/build/kernel-smoke.console' '$(KERNEL_DIR)/smoke.cpio'

ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := $(KERNEL_SAVED_GOAL)
endif
