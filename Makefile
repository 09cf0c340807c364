# SPDX-License-Identifier: GPL-2.0-only
#
# /dev/ioasid: entry points. Everything big (the 6.12 tree, the build, ccache)
# lives in $(IOASID_CACHE), by default ~/.cache/ioasid.
#
#   make run               boot the patched kernel in QEMU, run the
#                          passthrough demo (edu behind VT-d), power off
#   make run CMD='...'     run one command in the guest, pass its status back
#   make shell             boot to an interactive shell
#   make check             host checks + every selftest in the VM
#   make build             only build kernel and selftests
#   make bench             benchmark ioasid against vfio type1 and iommufd
#   make profile           the same under perf: where each stack's MAPs and
#                          UNMAPs spend their time (BENCH_ARGS='--rows ...')

RIG := $(CURDIR)/rig/rig.sh

.PHONY: run shell check build deps bench profile
run:
	@$(RIG) run

shell:
	@$(RIG) shell

check:
	@$(RIG) check

build:
	@$(RIG) build

deps:
	@$(RIG) deps

bench:
	@$(RIG) bench

profile:
	@$(RIG) profile
