// SPDX-License-Identifier: GPL-2.0-only
/*
 * DPDK's testpmd as Debian ships it (dpdk-dev, 22.11), unmodified, on
 * vfio's own type1 container and on /dev/ioasid's container shim, in one
 * boot. It runs from the host's root over virtio-9p, under chroot, like
 * the L2 QEMU of ioasid_qemu.
 *
 * The rig gives the VM two virtio-net devices (iommu_platform=on, so behind
 * the emulated VT-d) at 00:10.0 and 00:11.0, wired to each other by a
 * socket inside QEMU. Both go to vfio-pci, each in an iommu_group of its
 * own, and testpmd drives them with its net_virtio PMD: it opens
 * /dev/vfio/vfio, sets both groups to the container, asks for type1 v1
 * (VFIO_TYPE1_IOMMU, which DPDK prefers) and maps its memory with
 * VFIO_IOMMU_MAP_DMA. "start tx_first" sends a burst on each port, and io
 * forwarding sends back whatever a port receives through the other one.
 * Frames received on both ports prove DMA both ways on both devices:
 * reads of the TX rings and buffers, writes of the RX buffers and used
 * rings, through the mappings DPDK made.
 *
 * For the shim, /dev/vfio/vfio in testpmd's mount namespace is /dev/ioasid;
 * which container testpmd holds is checked by device number while it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"
#include "edu.h"
#include "qemu_l2.h"

#define TESTPMD		"/usr/bin/dpdk-testpmd"
#define NR_PORTS	2
/* testpmd's memory, "-m 64" */
#define TESTPMD_PAGES	((64UL << 20) / PAGE_SZ)

/* Where the rig puts the two virtio-net devices wired to each other */
#define NIC0		"0000:00:10.0"
#define NIC1		"0000:00:11.0"
static const char * const nic_bdf[NR_PORTS] = { NIC0, NIC1 };

/* A testpmd running in interactive mode, its stdin and stdout piped */
struct testpmd {
	pid_t pid;
	FILE *in;
	int out;
};

/*
 * Start testpmd on both NICs with 64 MiB of ordinary (not huge) pages, in
 * interactive mode; with @shim, on /dev/ioasid as its vfio container
 */
static int testpmd_start(struct testpmd *t, bool shim)
{
	static const char * const argv[] = {
		TESTPMD, "--no-huge", "-m", "64", "-a", NIC0, "-a", NIC1, "--",
		"-i", "--forward-mode=io", "--total-num-mbufs=2048", NULL,
	};
	int fds[2], rc;

	rc = host_spawn(TESTPMD, argv, NULL,
			shim ? HOST_NS_SHIM : HOST_NS_SAME, &t->pid, fds);
	if (rc)
		return rc;
	t->in = fdopen(fds[0], "w");
	t->out = fds[1];
	return t->in ? 0 : ENOMEM;
}

/*
 * Read testpmd's output into @buf (NUL-terminated) until @want shows up
 * in it or @ms milliseconds passed; true if it did
 */
static bool testpmd_wait(struct testpmd *t, char *buf, size_t size,
			 size_t *len, const char *want, unsigned int ms)
{
	uint64_t end = edu_now_ms() + ms;

	fcntl(t->out, F_SETFL, O_NONBLOCK);
	for (;;) {
		ssize_t n;

		buf[*len] = 0;
		if (strstr(buf, want))
			return true;
		if (edu_now_ms() > end || *len + 1 >= size)
			return false;
		n = read(t->out, buf + *len, size - 1 - *len);
		if (!n)
			return false;
		if (n > 0)
			*len += n;
		else
			usleep(50 * 1000);
	}
}

static void testpmd_cmd(struct testpmd *t, const char *cmd)
{
	fprintf(t->in, "%s\n", cmd);
	fflush(t->in);
}

/* End testpmd, as its "quit" would not if it hung; give its status */
static int testpmd_stop(struct testpmd *t)
{
	int status = -1;

	if (t->pid <= 0)
		return status;
	if (t->in)
		fclose(t->in);
	t->in = NULL;
	kill(-t->pid, SIGKILL);
	waitpid(t->pid, &status, 0);
	close(t->out);
	t->pid = 0;
	return status;
}

/* RX-packets of port @port in testpmd's forward statistics, or -1 */
static long rx_packets(const char *buf, unsigned int port)
{
	char head[64];
	const char *p;

	snprintf(head, sizeof(head), "Forward statistics for port %u", port);
	p = strstr(buf, head);
	if (!p)
		return -1;
	p = strstr(p, "RX-packets:");
	return p ? strtol(p + strlen("RX-packets:"), NULL, 10) : -1;
}

FIXTURE(dpdk) {
	struct testpmd t;
	char drv[NR_PORTS][64];	/* Their drivers before the test */
	long pins;
	char out[65536];
};

FIXTURE_VARIANT(dpdk) {
	bool shim;
};

/* vfio's own container, /dev/vfio/vfio with type1: the control */
FIXTURE_VARIANT_ADD(dpdk, type1) {
	.shim = false,
};

/* The same testpmd, whose /dev/vfio/vfio is /dev/ioasid */
FIXTURE_VARIANT_ADD(dpdk, shim) {
	.shim = true,
};

FIXTURE_SETUP(dpdk)
{
	char path[PATH_MAX];
	unsigned int i;
	int rc = hostroot();

	for (i = 0; i < NR_PORTS; i++)
		self->drv[i][0] = 0;
	if (rc)
		SKIP(return, "no host root over virtio-9p: %s", strerror(rc));
	if (host_access(TESTPMD))
		SKIP(return, "no %s on the host: Debian's dpdk-dev", TESTPMD);
	if (access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no vfio container: CONFIG_VFIO_CONTAINER");
	if (!variant->shim && vfio_container_is_ioasid())
		SKIP(return, "/dev/vfio/vfio is /dev/ioasid's: no type1");
	for (i = 0; i < NR_PORTS; i++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s",
			 nic_bdf[i]);
		if (access(path, F_OK))
			SKIP(return, "no virtio-net device at %s", nic_bdf[i]);
	}
	for (i = 0; i < NR_PORTS; i++) {
		ASSERT_EQ(0, edu_driver(nic_bdf[i], self->drv[i],
					sizeof(self->drv[i])));
		ASSERT_EQ(0, edu_bind_vfio_pci(nic_bdf[i]));
	}
	signal(SIGPIPE, SIG_IGN);
	self->pins = foll_pins();
	ASSERT_NE(LONG_MIN, self->pins);
}

FIXTURE_TEARDOWN(dpdk)
{
	char path[PATH_MAX];
	unsigned int i;

	testpmd_stop(&self->t);
	/* Give the devices back to the driver they had, virtio-pci */
	for (i = 0; i < NR_PORTS; i++) {
		if (!self->drv[i][0] || !strcmp(self->drv[i], "vfio-pci"))
			continue;
		edu_unbind_vfio_pci(nic_bdf[i]);
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind",
			 self->drv[i]);
		edu_sysfs_write(path, nic_bdf[i]);
	}
}

/*
 * testpmd forwards frames between the two devices: both ports receive,
 * on the container the variant names, with DPDK's v1 type. Once it is
 * gone, nothing it pinned stays pinned.
 */
TEST_F_TIMEOUT(dpdk, forwards_frames, 120)
{
	size_t len = 0;
	long rx, pinned;
	unsigned int i;

	ASSERT_EQ(0, testpmd_start(&self->t, variant->shim));
	if (!testpmd_wait(&self->t, self->out, sizeof(self->out), &len,
			  "testpmd> ", 60000))
		TH_LOG("testpmd said:\n%s", self->out);
	ASSERT_NE(NULL, strstr(self->out, "testpmd> "));
	/* DPDK picks type1 v1, which the shim must honour too */
	ASSERT_NE(NULL, strstr(self->out, "Using IOMMU type 1 (Type 1)"));
	ASSERT_EQ(variant->shim, pid_holds_node(self->t.pid, "/dev/ioasid"));
	ASSERT_EQ(!variant->shim,
		  pid_holds_node(self->t.pid, "/dev/vfio/vfio"));
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned by testpmd", pinned);
	/* Its memory (-m), mapped for both devices, pinned once */
	ASSERT_LE(TESTPMD_PAGES, pinned);
	ASSERT_GT(2 * TESTPMD_PAGES, pinned);

	/* testpmd's statistics come through stdio, flushed as it exits */
	testpmd_cmd(&self->t, "start tx_first");
	sleep(5);
	testpmd_cmd(&self->t, "stop");
	testpmd_cmd(&self->t, "quit");
	if (!testpmd_wait(&self->t, self->out, sizeof(self->out), &len,
			  "Bye...", 60000))
		TH_LOG("testpmd said:\n%s", self->out);
	for (i = 0; i < NR_PORTS; i++) {
		rx = rx_packets(self->out, i);
		TH_LOG("port %u (%s): %ld frames received", i, nic_bdf[i], rx);
		if (rx <= 0)
			TH_LOG("testpmd said:\n%s", self->out);
		ASSERT_LT(0, rx);
	}
	testpmd_stop(&self->t);
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

TEST_HARNESS_MAIN
