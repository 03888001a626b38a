# slashinit: PID 1 for diskless servers, and the image builder.
#
#   make            bin/init and bin/mkinitramfs (static, stripped)
#   make image      the demo image build/demo.cpio.gz from configs/
#   make run        boot the demo image in QEMU, serial console on this terminal
#   make run-pxe    the same, booted from the network by QEMU's iPXE
#   make demo       the same boot, scripted, narrated, with a summary
#   make test       unit, namespace and QEMU end-to-end tests (what CI runs)
#   make test-kernel  build the minimal kernel and run its QEMU tests
#   make bench      benchmarks (not part of make test)
#   make release    a signed release of the demo for the update service, in build/release
#   make install DESTDIR=...   install /init as the reference C init does
#   make deps       install what is missing (Debian packages, runit for the image)

SHELL   := /bin/bash
GO      ?= go
BUILD   ?= build
DESTDIR ?=
# The build facts (link flags, runit binaries, where deps.sh unpacks Debian's
# kernel) live in internal/facts; tools/facts prints them for make.
FACT    = $(shell $(GO) run ./tools/facts $(1))
# The kernel QEMU boots: Debian's, fetched by deps.sh under $(BUILD)/debian
# (newest first), unless KERNEL=path is given.
KERNEL  ?= $(call FACT,kernel)
QEMU    ?= qemu-system-x86_64
# KVM where a KVM guest really boots, else TCG: on the development machines
# /dev/kvm is missing or hangs the guest (docs/troubleshooting.md).
ACCEL   ?= $(shell $(GO) run ./tools/kvmprobe)
COMPRESS ?= gzip
# The drivers of QEMU's e1000 NIC and i6300esb watchdog (facts.DemoModules), from the modules of the kernel booted
# (Debian's has it as a module) when they are there: deps.sh unpacks them
# with Debian's kernel; KERNEL=path with no modules gets an image without.
KVER    ?= $(patsubst vmlinuz-%,%,$(notdir $(KERNEL)))
MODDIR  ?= $(call FACT,moddir)
KMODS   ?= $(if $(wildcard $(MODDIR)/$(KVER)/modules.dep),$(foreach m,$(call FACT,demo-modules),-kmod $(m)) -kver $(KVER) -moddir $(MODDIR),$(warning \
	no $(MODDIR)/$(KVER): the image gets no NIC driver (run scripts/deps.sh, or set KMODS=)))
GOFLAGS_BUILD = $(call FACT,build-flags) -ldflags='$(call FACT,tool-ldflags)'
INIT_LDFLAGS  = $(call FACT,build-flags) -ldflags='$(call FACT,init-ldflags)'
RUNIT   = $(BUILD)/runit/usr/bin
# The static busybox configs/slashinit.list names ${BUSYBOX}: Debian's,
# fetched by deps.sh under $(BUILD)/debian, unless BUSYBOX=path is given.
BUSYBOX ?= $(call FACT,busybox)
RUNIT_BINS = $(call FACT,runit-binaries)
IMAGE   = $(BUILD)/demo.cpio.gz
# The demo's key pairs: throwaway ones that scripts/demo-keys.sh makes under
# KEYS, never committed; a fleet's are made and kept as
# docs/verified-updates.md says. The image trusts UPDATE_PUB as
# /etc/update.pub, so its update service applies only releases signed with
# the matching secret key (make release); UPDATE_PUB= builds an image whose
# update service takes releases unauthenticated, as before.
KEYS       ?= $(BUILD)/keys
UPDATE_PUB ?= $(KEYS)/update.pub
# What checks a release's signature in the image, and the key it checks
# with; -bin brings its libraries.
SIGNIFY    ?= $(call FACT,signify)

export CGO_ENABLED = 0

.PHONY: all deps image run run-pxe demo test test-unit test-e2e test-kernel bench install fuzz clean vet release

all: bin/init bin/mkinitramfs

bin/init: FORCE
	$(GO) build $(INIT_LDFLAGS) -o $@ ./init

bin/mkinitramfs: FORCE
	$(GO) build $(GOFLAGS_BUILD) -o $@ ./mkinitramfs

# The example system's own programs (facts.DemoPrograms: the syslog
# forwarder), linked like PID 1: they run as long as the server
# (facts.Resident), into the image as /usr/bin/NAME.
DEMO_PROGRAMS := $(call FACT,demo-programs)
DEMO_BINS     := $(foreach p,$(DEMO_PROGRAMS),bin/$(notdir $(p)))
$(DEMO_BINS): FORCE
	$(GO) build $(INIT_LDFLAGS) -o $@ $(filter %/$(notdir $@),$(DEMO_PROGRAMS))

FORCE:

deps:
	scripts/deps.sh base

$(RUNIT)/runsvdir:
	scripts/deps.sh base

image: $(IMAGE)

$(IMAGE): bin/init bin/mkinitramfs $(DEMO_BINS) $(RUNIT)/runsvdir $(UPDATE_PUB) $(shell find configs -type f)
	@mkdir -p $(BUILD)
	$(if $(UPDATE_PUB),printf 'file %s %s 0644 0 0\n' '$(call FACT,update-pub)' '$(abspath $(UPDATE_PUB))' >$(BUILD)/update-key.list)
	BUSYBOX='$(BUSYBOX)' bin/mkinitramfs build -o $@ -compress $(COMPRESS) -init bin/init \
		$(foreach b,$(RUNIT_BINS),-bin $(RUNIT)/$(b):/usr/bin/$(b)) $(foreach b,$(DEMO_BINS),-bin $(b):/usr/bin/$(notdir $(b))) \
		-bin $(SIGNIFY):$(call FACT,signify) $(KMODS) \
		configs/rootfs configs/slashinit.list $(if $(UPDATE_PUB),$(BUILD)/update-key.list)

# A release for the update service (configs/rootfs/etc/service/update/run),
# laid out for any HTTP server by scripts/publish-release.sh: the kernel
# (default the minimal kernel of make kernel, which carries its image), an
# optional initrd and command line, SHA256SUMS signed with RELEASE_KEY and
# checked with UPDATE_PUB. Serve RELEASE_DIR at the machines' UPDATE_URL.
RELEASE_KERNEL  ?= $(KERNEL_IMAGE)
RELEASE_INITRD  ?=
RELEASE_CMDLINE ?=
RELEASE_KEY     ?= $(KEYS)/update.sec
RELEASE_DIR     ?= $(BUILD)/release
release: $(RELEASE_KEY)
	scripts/publish-release.sh -k '$(RELEASE_KERNEL)' $(if $(RELEASE_INITRD),-i '$(RELEASE_INITRD)') \
		$(if $(RELEASE_CMDLINE),-c '$(RELEASE_CMDLINE)') -s '$(RELEASE_KEY)' $(if $(UPDATE_PUB),-p '$(UPDATE_PUB)') -o '$(RELEASE_DIR)'

# Quit QEMU with Ctrl-A X; `poweroff` in the guest shell also ends it.
run: deps image
	$(QEMU) -accel $(ACCEL) -m 1024 -display none -serial mon:stdio -no-reboot \
		-nic user,model=e1000 \
		-kernel $(KERNEL) -initrd $(IMAGE) \
		-append "console=ttyS0 loglevel=6 panic=-1"

# The same system booted from the network, as a diskless server boots: QEMU's
# iPXE ROM fetches the kernel and image from QEMU's TFTP server. No
# -no-reboot: `touch /reboot && reboot` goes back through the firmware and PXE.
run-pxe: deps image
	@mkdir -p $(BUILD)/pxe && cp $(KERNEL) $(BUILD)/pxe/vmlinuz && cp $(IMAGE) $(BUILD)/pxe/initrd.img
	printf '#!ipxe\nkernel vmlinuz console=ttyS0 loglevel=6 panic=-1\ninitrd initrd.img\nboot\n' > $(BUILD)/pxe/boot.ipxe
	$(QEMU) -accel $(ACCEL) -m 1024 -display none -serial mon:stdio -boot n -machine graphics=off \
		-nic user,model=e1000,tftp=$(BUILD)/pxe,bootfile=boot.ipxe

demo: deps
	$(GO) run ./tools/demo -kernel $(KERNEL)

# staticcheck is pinned by the tool line of go.mod (go get -tool
# honnef.co/go/tools/cmd/staticcheck@VERSION to move it); its checks are in
# staticcheck.conf.
vet:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

# The whole suite: the namespace tests need root, the end-to-end tests need
# QEMU and the runit binaries (deps installs them). A test that skips did not
# run, so the run fails unless ALLOW_SKIP names it: tools/testreport prints
# what go test prints, then each skip and its reason. The TestMinimalKernel
# tests (TestMinimalKernel, ...Netconsole, ...Signed, ...Watchdog) skip without the
# kernel make kernel builds: they run in make test-kernel. Raw events:
# build/test.json; the report: build/test.log.
ALLOW_SKIP ?= ^TestMinimalKernel
TESTREPORT = $(GO) run ./tools/testreport
test: deps vet all
	@mkdir -p $(BUILD)
	set -o pipefail; $(GO) test -count=1 -timeout 60m -json ./... | tee $(BUILD)/test.json \
		| $(TESTREPORT) -allow-skip '$(ALLOW_SKIP)' | tee $(BUILD)/test.log

test-unit: vet
	$(GO) test -count=1 -short ./...

test-e2e: deps all
	$(GO) test -count=1 -timeout 45m -v ./e2e/

# Boots every candidate PID 1 (ours, busybox init, tini, runit) in turn, 7
# rounds, under QEMU and natively in a PID namespace (root); docs/benchmarks.md.
# The kernel prerequisite installs the kernel source and builds the kbuild
# tree once: the update-minimal figure builds two minimal kernels in it.
# Raw samples: build/bench/results-DATE.tsv; table: build/bench/README-table.md.
bench: deps all kernel
	$(GO) run ./bench -n 7

fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$pkg || exit 1; \
		done; \
	done

install: bin/init
	install -D -m 0755 bin/init $(DESTDIR)/init

clean:
	rm -rf bin $(BUILD)

include mk/kernel.mk
