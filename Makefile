# SPDX-License-Identifier: GPL-2.0-only
#
# /dev/ioasid: entry points. Everything big (the 6.12 tree, the build, ccache)
# lives in $(IOASID_CACHE), by default ~/.cache/ioasid.
#
#   make run               boot the patched kernel in QEMU to a shell
#   make run CMD='...'     run one command in the guest, pass its status back
#   make check             host checks + every selftest in the VM
#   make build             only build kernel and selftests
#   make bench             benchmark ioasid against iommufd in one boot

RIG := $(CURDIR)/rig/rig.sh

.PHONY: run check build deps bench
run:
	@$(RIG) run

check:
	@$(RIG) check

build:
	@$(RIG) build

deps:
	@$(RIG) deps

bench:
	@$(RIG) bench
