# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=sh
# The guest's part of rig.sh profile, run by /init as its command with
# @ARGS@ (the benchmark's arguments) and @REPO@ (this checkout, as the host
# sees it) filled in. perf and python3 are the host's, run from its root
# over virtio-9p under chroot, as the QEMU of the L2 tests is; the kernel
# symbols come from /proc/kallsyms.
set -e
rc=0
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,cache=loose,ro hostroot /host
for d in proc sys dev; do
	mount -o rbind "/$d" "/host/$d"
done
mount -t tmpfs tmpfs /host/tmp
cp /usr/bin/ioasid_bench_vtd /host/tmp/
echo 0 > /proc/sys/kernel/kptr_restrict
# Every CPU, call chains, 4 kHz of the CPU clock, which TCG has; no
# build-id cache, which would go to the read-only host root. A benchmark
# that fails still gets its samples summed up, and its status passed on.
chroot /host perf record -q -N -a -g -e cpu-clock -F 4000 \
	-o /tmp/perf.data /tmp/ioasid_bench_vtd @ARGS@ || rc=$?
chroot /host sh -c 'perf script -i /tmp/perf.data -F comm,tid,time,ip,sym \
	2>/dev/null | python3 @REPO@/rig/profile.py'
exit $rc
