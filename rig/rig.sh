#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The /dev/ioasid build and VM test rig.
#
#   rig.sh deps        install the Debian packages the rig needs
#   rig.sh build       unpack 6.12, overlay this repo, apply patches/, build
#                      both kernels and the selftests
#   rig.sh run         build, boot and run the passthrough demo (or $CMD)
#   rig.sh shell       build, boot to a shell
#   rig.sh check       build, host checks, boot and run every selftest
#   rig.sh bench       build, boot and run the full benchmark (real VT-d
#                      rows for vfio type1, iommufd and ioasid; mock rows)
#   rig.sh profile     build, boot and run the VT-d benchmark under perf
#                      ($BENCH_ARGS, by default the scale row once): where
#                      the kernel spends each stack's MAPs and UNMAPs
#   rig.sh qemu        fetch and build QEMU 10.0.2 with qemu/patches/
#                      (build does it too; see rig/qemu.sh)
#
# Everything big lives in a cache outside the checkout:
#   $IOASID_CACHE (default ~/.cache/ioasid)/<kernel version>/{src,build,...}
# The test kernel (lockdep, kmemleak, KASAN, ...) is built in build/, the
# benchmark kernel (no debug options, rig/bench.config) in build-bench/.
#   $IOASID_CACHE/qemu-<version>/{src,build,...}
#   $IOASID_CACHE/ccache
set -eu -o pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${IOASID_CACHE:-$HOME/.cache/ioasid}
TARBALL=/usr/src/linux-source-6.12.tar.xz
JOBS=$(($(nproc) + 1))
BOOT_TIMEOUT=${IOASID_BOOT_TIMEOUT:-1500}

PACKAGES="linux-source-6.12 qemu-system-x86 busybox-static gcc make libc6-dev
	ccache sparse flex bison bc libelf-dev libssl-dev cpio gzip xz-utils
	perl python3 patch libglib2.0-dev libpixman-1-dev ninja-build
	python3-venv python3-distlib libfdt-dev pkg-config zlib1g-dev curl
	dpdk-dev librte-net-virtio23"

# Directories of this repo that mirror kernel paths and are copied into the
# kernel tree.
OVERLAY_DIRS="drivers include Documentation tools samples"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'rig: %s\n' "$*" >&2; exit 1; }

deps() {
	local missing=() p
	for p in $PACKAGES; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages; as root run: apt-get install -y ${missing[*]}"
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" |
		grep -E '^(Setting up|E:)' || true
	for p in "${missing[@]}"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
			grep -q 'ok installed' || die "could not install $p"
	done
}

kernel_key() {
	dpkg-query -W -f '${Version}' linux-source-6.12 | tr '~:' '__'
}

setup_paths() {
	KEY=$(kernel_key)
	K=$CACHE/$KEY
	SRC=$K/src
	ORIG=$K/orig
	B=$K/build
	BB=$K/build-bench
	OUT=$K/out
	export CCACHE_DIR=$CACHE/ccache
	export CCACHE_BASEDIR=$K
	mkdir -p "$K" "$ORIG" "$B" "$BB" "$OUT" "$CCACHE_DIR"
}

unpack() {
	[ -f "$SRC/Makefile" ] && return 0
	say "unpacking $TARBALL into $SRC (one time, ~1 min)"
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xf "$TARBALL" -C "$SRC.tmp" --strip-components=1
	mv "$SRC.tmp" "$SRC"
}

# Files this repo puts into the kernel tree, relative to the tree.
overlay_files() {
	(cd "$REPO" && git ls-files -co --exclude-standard -- $OVERLAY_DIRS)
}

patched_files() {
	sed -n 's|^+++ b/||p' "$REPO"/patches/*.patch | sort -u
}

# Bring the tree to pristine 6.12 + overlay + patches, rewriting only the
# files whose content changes so that make rebuilds only what changed.
overlay() {
	local stage list prev f
	stage=$(mktemp -d)
	prev=$K/touched.list
	touch "$prev"
	list=$(
		{ cat "$prev"; overlay_files; patched_files; } | sort -u
	)

	for f in $list; do
		mkdir -p "$stage/$(dirname "$f")"
		if [ -f "$ORIG/$f" ]; then
			cp -p "$ORIG/$f" "$stage/$f"
		elif [ -f "$SRC/$f" ] && ! grep -qxF "$f" "$prev"; then
			# Never touched by us: this is the pristine file
			mkdir -p "$ORIG/$(dirname "$f")"
			cp -p "$SRC/$f" "$ORIG/$f"
			cp -p "$SRC/$f" "$stage/$f"
		fi
	done
	for f in $(overlay_files); do
		cp "$REPO/$f" "$stage/$f"
	done
	for p in "$REPO"/patches/*.patch; do
		patch -s -p1 -d "$stage" --no-backup-if-mismatch < "$p" ||
			die "patch $(basename "$p") does not apply"
	done
	for f in $list; do
		if [ -f "$stage/$f" ]; then
			if ! cmp -s "$stage/$f" "$SRC/$f"; then
				mkdir -p "$SRC/$(dirname "$f")"
				cp "$stage/$f" "$SRC/$f"
			fi
		else
			rm -f "$SRC/$f"
		fi
	done
	{ overlay_files; patched_files; } | sort -u > "$prev"
	rm -rf "$stage"
}

# Config fragments of the test kernel and of the benchmark kernel
config_fragments() {
	echo "$REPO/rig/vm.config" "$SRC/tools/testing/selftests/ioasid/config"
}

bench_fragments() {
	echo "$REPO/rig/vm.config" "$REPO/rig/bench.config"
}

# make in the kernel tree, building in $KB (the test kernel's by default)
kmake() {
	make -C "$SRC" O="${KB:-$B}" ARCH=x86_64 CC="ccache gcc" \
		HOSTCC="ccache gcc" -j"$JOBS" "$@"
}

# configure DIR FRAGMENT...: tinyconfig + the fragments, built in DIR
configure() {
	local dir=$1 stamp sum
	shift
	sum=$(cat "$@" "$REPO"/patches/*.patch \
		"$REPO"/drivers/ioasid/Kconfig | sha256sum | cut -d' ' -f1)
	stamp=$dir/.rig-config-stamp
	if [ -f "$dir/.config" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
		return 0
	fi
	say "configuring $dir: tinyconfig + $(for f; do printf '%s ' "$(basename "$f")"; done)"
	KB=$dir kmake -s tinyconfig >/dev/null
	"$SRC"/scripts/kconfig/merge_config.sh -m -O "$dir" "$dir/.config" \
		"$@" >/dev/null
	KB=$dir kmake -s olddefconfig
	verify_config "$dir/.config" "$@"
	echo "$sum" > "$stamp"
}

# verify_config CONFIG FRAGMENT...: olddefconfig silently drops options
# whose dependencies are not met; the last fragment setting one wins
verify_config() {
	local config=$1 line opt val bad=0
	shift
	while read -r line; do
		opt=${line%%=*}
		val=${line#*=}
		if [ "$val" = n ]; then
			grep -q "^$opt=" "$config" && {
				echo "config: $opt should be unset" >&2; bad=1; }
		else
			grep -qx "$opt=$val" "$config" || {
				echo "config: $opt=$val did not stick" >&2; bad=1; }
		fi
	done < <(cat "$@" | grep '^CONFIG_.*=' | tac | awk -F= '!seen[$1]++')
	[ $bad -eq 0 ] || die "kernel config is missing requested options"
}

# build_kernel DIR WHAT: bzImage (and uapi headers) in DIR
build_kernel() {
	local dir=$1 what=$2 log=$OUT/build-$(basename "$1").log start=$SECONDS
	say "building the $what kernel in $dir (cold ~10 min, warm ~1 min)"
	if ! KB=$dir kmake bzImage headers 2>&1 | tee "$log" |
		awk '/^  CC / { if (++n % 250 == 0) printf "    %d files compiled\n", n; fflush() }'; then
		tail -40 "$log"
		die "kernel build failed, see $log"
	fi
	grep -q 'error:' "$log" && { tail -40 "$log"; die "kernel build failed"; }
	say "$what kernel built in $((SECONDS - start)) s"
}

build_selftests() {
	say "building selftests (static)"
	mkdir -p "$OUT/selftests"
	make -s -C "$SRC/tools/testing/selftests/ioasid" \
		OUTPUT="$OUT/selftests" KHDR_INCLUDES="-isystem $B/usr/include" \
		CC=gcc >/dev/null || die "selftest build failed"
	gcc -Wall -Wno-unused-function -O2 -static -isystem "$B/usr/include" \
		-o "$OUT/selftests/ioasid_demo" \
		"$SRC/samples/ioasid/ioasid_demo.c" || die "demo build failed"
}

build_initramfs() {
	local mode=$1 cmd=${2:-} root=$OUT/initramfs f
	say "packing the initramfs"
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,usr/bin,usr/lib/ioasid}
	cp /bin/busybox "$root/bin/busybox"
	cp "$REPO/rig/init" "$root/init"
	chmod +x "$root/init"
	for f in "$OUT"/selftests/*; do
		[ -x "$f" ] && [ -f "$f" ] && cp "$f" "$root/usr/bin/"
	done
	cp "$REPO/rig/tests.list" "$root/usr/lib/ioasid/tests.list"
	echo "$mode" > "$root/etc/rig-mode"
	# The QEMU the VM runs from the host's root, next to Debian's
	echo "$QEMU_BIN" > "$root/etc/rig-qemu"
	printf '%s\n' "$cmd" > "$root/etc/rig-cmd"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) \
		> "$OUT/initramfs.cpio.gz"
}

# The kernel qemu_cmd boots: the test kernel unless set to the bench one.
# edu sits behind a root port, as two functions of one slot: vfio-pci can
# hot reset them by resetting the port's secondary bus (it cannot reset a
# device on the root bus), and the pair, one iommu_group and one reset
# domain, is what ownership of a reset is checked on.
# A virtio-net device without a peer is for vp_vdpa; the two at 00:10.0 and
# 00:11.0, wired to each other by a socket inside QEMU, for DPDK's testpmd,
# which forwards frames between them (ioasid_dpdk).
KERNEL_DIR=
qemu_cmd() {
	echo qemu-system-x86_64 \
		-machine q35,kernel-irqchip=split -accel tcg -cpu max \
		-m 2G -smp 2 -no-reboot -display none \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device pcie-root-port,id=rp0,chassis=1 \
		-device edu,bus=rp0,addr=0.0,multifunction=on \
		-device edu,bus=rp0,addr=0.1 \
		-device virtio-net-pci,iommu_platform=on,disable-legacy=on \
		-netdev socket,id=nic0,listen=127.0.0.1:15555 \
		-device virtio-net-pci,netdev=nic0,iommu_platform=on,disable-legacy=on,addr=10.0 \
		-netdev socket,id=nic1,connect=127.0.0.1:15555 \
		-device virtio-net-pci,netdev=nic1,iommu_platform=on,disable-legacy=on,addr=11.0 \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-kernel "${KERNEL_DIR:-$B}/arch/x86/boot/bzImage" \
		-initrd "$OUT/initramfs.cpio.gz"
}

CMDLINE="console=ttyS0 intel_iommu=on iommu=nopt panic=-1 oops=panic"
# iommufd's selftest mock IOMMU (CONFIG_IOMMUFD_TEST) has no fwnode, so
# in 6.12 its devices are probed by whichever real IOMMU registered first:
# with VT-d on, iommufd's mock devices cannot be created. The mock rows of
# the benchmark boot with VT-d off; both mocks then work side by side.
MOCK_BENCH_CMDLINE="console=ttyS0 intel_iommu=off panic=-1 oops=panic"

build_all() {
	deps
	setup_paths
	unpack
	overlay
	configure "$B" $(config_fragments)
	build_kernel "$B" test
	build_selftests
	qemu_build
}

build_bench_kernel() {
	configure "$BB" $(bench_fragments)
	build_kernel "$BB" benchmark
}

# boot_cmd CMD CMDLINE LOG: boot $KERNEL_DIR's kernel, run CMD in the guest
# with its output in LOG; returns the guest's exit status
boot_cmd() {
	local cmd=$1 cmdline=$2 log=$3 rc=0
	build_initramfs cmd "$cmd"
	rm -f "$log"
	timeout "$BOOT_TIMEOUT" $(qemu_cmd) -monitor none \
		-serial file:"${log%.log}-console.log" -serial file:"$log" \
		-append "$cmdline quiet" </dev/null || rc=$?
	[ $rc -eq 0 ] || return $rc
	rc=$(tr -d '\r' < "$log" | sed -n 's/^@@EXIT \([0-9]*\).*/\1/p')
	return "${rc:-1}"
}

do_run() {
	local cmd=${1:-} cmdline=${2:-$CMDLINE} rc
	build_all
	# RIG_KERNEL=bench boots the benchmark kernel instead
	if [ "${RIG_KERNEL:-}" = bench ]; then
		build_bench_kernel
		KERNEL_DIR=$BB
	fi
	if [ -n "$cmd" ]; then
		build_initramfs cmd "$cmd"
		say "booting; running in the guest: $cmd"
		rm -f "$OUT/cmd.log"
		timeout "$BOOT_TIMEOUT" $(qemu_cmd) -monitor none \
			-serial file:"$OUT/console.log" \
			-serial file:"$OUT/cmd.log" \
			-append "$cmdline quiet" </dev/null ||
			die "VM failed or timed out, see $OUT/console.log"
		sed '/^@@EXIT /d' "$OUT/cmd.log"
		rc=$(sed -n 's/^@@EXIT \([0-9]*\).*/\1/p' "$OUT/cmd.log")
		[ -n "$rc" ] || die "no exit status from the guest"
		exit "$rc"
	fi
}

do_shell() {
	build_all
	build_initramfs shell
	say "booting to a shell; 'poweroff' (or Ctrl-A x) leaves"
	$(qemu_cmd) -serial mon:stdio -serial null -append "$CMDLINE"
}

# --- make check -------------------------------------------------------

PASS=0
FAIL=0
SKIP=0
result() { # ok|fail|skip name [detail]
	case $1 in
	ok) PASS=$((PASS + 1)); echo "ok - $2" ;;
	skip) SKIP=$((SKIP + 1)); echo "ok - $2 # SKIP ${3:-}" ;;
	*) FAIL=$((FAIL + 1)); echo "not ok - $2${3:+: $3}" ;;
	esac
}

our_sources() {
	(cd "$REPO" && git ls-files -co --exclude-standard -- \
		drivers/ioasid include tools/testing/selftests/ioasid samples |
		grep -E '\.[ch]$')
}

host_checks() {
	local out f n
	say "host checks: checkpatch --strict, W=1, sparse"

	out=$(cd "$SRC" && for f in $(our_sources); do
		./scripts/checkpatch.pl --strict --terse --no-summary \
			--show-types -f "$f"
	done 2>&1) || true
	[ -z "$out" ] && result ok "checkpatch --strict (sources)" ||
		{ echo "$out"; result fail "checkpatch --strict (sources)"; }

	out=$(cd "$SRC" && ./scripts/checkpatch.pl --strict --terse \
		--no-summary --show-types "$REPO"/patches/*.patch 2>&1) || true
	[ -z "$out" ] && result ok "checkpatch --strict (patches)" ||
		{ echo "$out"; result fail "checkpatch --strict (patches)"; }

	# W=1 and sparse (C=2 checks every file, built or not)
	out=$(kmake W=1 C=2 drivers/ioasid/ 2>&1 |
		grep -E '(warning|error):' |
		grep -E 'drivers/ioasid/|linux/ioasid\.h' || true)
	[ -z "$out" ] && result ok "W=1 + sparse on drivers/ioasid" ||
		{ echo "$out"; result fail "W=1 + sparse on drivers/ioasid"; }
}

# Drop from a kernel log the warnings (cut here ... end trace) that a test
# announced with "# rig: expect-warning: <text of the warning>", one each
drop_expected_warnings() {
	local log=$1
	sed -n 's/\r$//; s/^# rig: expect-warning: //p' "$OUT/tap.log" |
	awk -v logf="$log" '
		{ want[n++] = $0 }
		END {
			while ((getline line < logf) > 0) {
				if (line ~ /-+\[ cut here \]-+/) {
					block = line "\n"; inblock = 1; continue
				}
				if (!inblock) { print line; continue }
				block = block line "\n"
				if (line !~ /---\[ end trace/)
					continue
				inblock = 0; hit = -1
				for (i = 0; i < n; i++)
					if (want[i] != "" && index(block, want[i]))
						{ hit = i; break }
				if (hit >= 0) { want[hit] = ""; dropped++ }
				else printf "%s", block
			}
			if (inblock) printf "%s", block
			print "rig-expected-warnings-dropped " dropped + 0
		}'
}

# Scan the guest's kernel log for anything that must never happen
scan_dmesg() {
	local log=$1 bad expected seen clean
	clean=$(drop_expected_warnings "$log")
	seen=$(echo "$clean" | sed -n 's/^rig-expected-warnings-dropped //p')
	expected=$(grep -c '^# rig: expect-warning: ' "$OUT/tap.log" || true)
	[ "$seen" -eq "$expected" ] &&
		result ok "guest warnings tests asked for: $seen seen, $expected expected" ||
		result fail "guest warnings tests asked for" "$seen seen, $expected expected"
	bad=$(echo "$clean" | grep -aE 'WARNING:|BUG:|BUG |Oops|general protection|Kernel panic|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|KASAN|UBSAN|kmemleak: [0-9]+ new suspected|unreferenced object|INFO: task .* blocked|rcu_.*stall|Call Trace:' || true)
	[ -z "$bad" ] && result ok "guest dmesg: no warning, BUG, lockdep splat or leak" ||
		{ echo "$bad" | head -40; result fail "guest dmesg clean"; }

	# DMA faults are only allowed where a test announced them
	expected=$(sed -n 's/^# rig: expect-dmar-faults: \([0-9]*\).*/\1/p' \
		"$OUT/tap.log" | awk '{ s += $1 } END { print s + 0 }')
	seen=$(grep -ac 'DMAR: \[DMA ' "$log" || true)
	[ "$seen" -le "$expected" ] &&
		result ok "guest DMAR faults: $seen seen, $expected expected" ||
		result fail "guest DMAR faults" "$seen seen, $expected expected"
}

# The benchmark's short form: the benchmark kernel with VT-d on, vfio
# type1, iommufd and ioasid through the edu device's VT-d domain. Its
# figures are for the log; only a benchmark that cannot run fails.
bench_short() {
	local start=$SECONDS
	say "benchmark, short form (type1, iommufd, ioasid on VT-d; not a test)"
	BENCH_RESULT=ok
	KERNEL_DIR=$BB boot_cmd \
		"ioasid_bench_vtd --short && ioasid_bench_qemu --short" "$CMDLINE" \
		"$OUT/bench.log" || BENCH_RESULT=fail
	tr -d '\r' < "$OUT/bench.log" | sed '/^@@EXIT /d; s/^/    /'
	say "benchmark ran for $((SECONDS - start)) s"
}

# make bench: the whole benchmark on the benchmark kernel, in two boots:
# the real-driver rows with VT-d on, then the mock-vs-mock rows with VT-d
# off (see MOCK_BENCH_CMDLINE)
do_bench() {
	local rc=0
	build_all
	build_bench_kernel
	say "benchmark on VT-d: vfio type1, iommufd, ioasid"
	KERNEL_DIR=$BB boot_cmd \
		"ioasid_bench_vtd ${BENCH_ARGS:-} && ioasid_bench_qemu ${QEMU_BENCH_ARGS:-}" \
		"$CMDLINE" \
		"$OUT/bench.log" || rc=$?
	tr -d '\r' < "$OUT/bench.log" | sed '/^@@EXIT /d'
	say "benchmark on the mock IOMMUs: iommufd's mock vs ioasid's mock"
	KERNEL_DIR=$BB boot_cmd "ioasid_bench ${MOCK_BENCH_ARGS:-}" \
		"$MOCK_BENCH_CMDLINE" "$OUT/bench-mock.log" || rc=$?
	tr -d '\r' < "$OUT/bench-mock.log" | sed '/^@@EXIT /d'
	return $rc
}

# The VT-d benchmark under the host's perf, sampling the whole VM; the
# samples of each stack's operations summed up by rig/profile.py. For
# finding where time goes; the figures to quote are the benchmark's own.
# --no-counts: no repetition runs with ftrace's hooks, whose trampolines
# would take a share of every stack's samples.
do_profile() {
	local args=${BENCH_ARGS:---rows scale --backings 4k --reps 1} rc=0
	command -v perf >/dev/null ||
		die "no perf on the host to run in the VM (Debian: linux-perf)"
	case "$args" in
	*[!-a-zA-Z0-9\ ,.]*) die "BENCH_ARGS: options and values only" ;;
	esac
	# The guest reaches rig/profile.py at the same path in the host's root,
	# but for /tmp, where it mounts a tmpfs
	case "$REPO" in
	*[!-a-zA-Z0-9/._+]* | /tmp | /tmp/*)
		die "make profile: run it from a checkout outside /tmp whose" \
			"path has no special character" ;;
	esac
	build_all
	build_bench_kernel
	say "benchmark on VT-d under perf: ioasid_bench_vtd $args"
	KERNEL_DIR=$BB boot_cmd \
		"$(sed -e "s|@ARGS@|$args --no-counts|" -e "s|@REPO@|$REPO|" \
			"$REPO/rig/profile.sh")" \
		"$CMDLINE" "$OUT/profile.log" || rc=$?
	tr -d '\r' < "$OUT/profile.log" | sed '/^@@EXIT /d'
	return $rc
}

# Parse the kselftest TAP of every test program run in the guest
parse_tap() {
	local tap=$1 name rc plan count line
	while read -r line; do
		case "$line" in
		"@@BEGIN "*)
			name=${line#@@BEGIN }; plan=""; count=0 ;;
		"1.."*)
			[ -n "${name:-}" ] && plan=${line#1..} ;;
		"ok "*"# SKIP"*)
			count=$((count + 1)); result skip "$name: ${line#ok }" ;;
		"ok "*)
			count=$((count + 1)); result ok "$name: ${line#ok }" ;;
		"not ok "*)
			count=$((count + 1)); result fail "$name: ${line#not ok }" ;;
		"@@END "*)
			rc=${line##* }
			if [ -z "$plan" ]; then
				result fail "$name" "no TAP plan"
			elif [ "$count" -ne "$plan" ]; then
				result fail "$name" "$count of $plan tests reported"
			elif [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
				result fail "$name" "exit status $rc"
			fi
			name="" ;;
		esac
	done < <(tr -d '\r' < "$tap")
	[ -z "${name:-}" ] || result fail "$name" "did not finish"
	grep -q '^@@DONE' "$tap" || result fail "guest test run" "did not complete"
}

do_check() {
	local start=$SECONDS rc=0
	deps
	setup_paths
	unpack
	overlay
	configure "$B" $(config_fragments)
	configure "$BB" $(bench_fragments)
	host_checks
	build_kernel "$B" test
	build_bench_kernel
	build_selftests
	qemu_build
	build_initramfs check
	say "booting the test VM (timeout ${BOOT_TIMEOUT}s)"
	local vm_start=$SECONDS
	rm -f "$OUT/console.log" "$OUT/tap.log"
	touch "$OUT/tap.log"
	timeout "$BOOT_TIMEOUT" $(qemu_cmd) -monitor none \
		-serial file:"$OUT/console.log" -serial file:"$OUT/tap.log" \
		-append "$CMDLINE" </dev/null &
	local qpid=$!
	tail -n +1 --pid=$qpid -f "$OUT/tap.log" | tr -d '\r' |
		grep -E --line-buffered '^(ok|not ok|@@BEGIN|#  RUN|# SKIP|# rig: .* ran for)' |
		sed -u 's/^/    guest: /' || true
	wait $qpid || rc=$?
	say "test VM ran for $((SECONDS - vm_start)) s"
	if [ $rc -eq 124 ]; then
		tail -30 "$OUT/console.log"
		result fail "VM boot" "timed out after ${BOOT_TIMEOUT}s"
	elif [ $rc -ne 0 ]; then
		tail -30 "$OUT/console.log"
		result fail "VM boot" "qemu exited with $rc"
	fi
	bench_short
	say "results"
	parse_tap "$OUT/tap.log"
	scan_dmesg "$OUT/console.log"
	result "$BENCH_RESULT" "benchmark runs (figures above)"
	say "make check took $((SECONDS - start)) s; logs in $OUT"
	echo "$PASS passed, $FAIL failed, $SKIP skipped"
	[ $FAIL -eq 0 ]
}

# shellcheck source=rig/qemu.sh
. "$REPO/rig/qemu.sh"

case "${1:-}" in
deps) deps ;;
qemu) deps; qemu_build ;;
build) build_all; build_bench_kernel ;;
run) do_run "${CMD:-ioasid_demo}" ;;
shell) do_shell ;;
bench) do_bench ;;
profile) do_profile ;;
check) do_check ;;
*) die "usage: [CMD=...] rig.sh deps|build|run|shell|check|bench|profile|qemu" ;;
esac
