// SPDX-License-Identifier: GPL-2.0-only
/*
 * Real VFIO clients in the test VM: the host's root filesystem is shared
 * read-only over virtio-9p (mount tag "hostroot"), and its programs run
 * from it under chroot, libraries and firmware included.
 *
 * The host's QEMU runs as an L2 that never starts a CPU (-S), driven over
 * the qtest protocol on its stdin and stdout, with the edu device passed
 * through with vfio-pci. The script programs edu's BAR, has it DMA a
 * pattern from L2 RAM into its buffer and back to another L2 address, and
 * reads that address: the bytes match only if edu's DMA went through the
 * emulated VT-d tables that QEMU set up through vfio. Pins are counted
 * across the VM (FOLL_PIN in /proc/vmstat): all of L2 RAM while QEMU runs,
 * once for two devices, none after it quits or is killed.
 *
 * Three stacks in one boot: QEMU 7.2 as Debian ships it on vfio's own
 * type1 container, and QEMU 10.0.2 built by the rig from Debian's source
 * with qemu/patches (the path of its binary in /etc/rig-qemu) on iommufd
 * and on /dev/ioasid. The last fixture checks the messages of QEMU's
 * /dev/ioasid backend when it cannot start.
 */
#define EDU_LOG_PREFIX "# edu: "

#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"
#include "edu.h"
#include "qemu_l2.h"

/* edu in L2: at L2_SLOT and up, BAR 0 at EDU_L2_BAR and up */
#define EDU_L2_BAR	0xfe000000ULL
#define EDU_L2_BAR_SIZE	0x100000ULL
/* L2 RAM, all of it mapped for DMA by QEMU */
#define L2_RAM_MB	128
#define L2_RAM_PAGES	(L2_RAM_MB * 256L)
/* Pinned at least: all of it but the legacy windows below 1 MiB */
#define L2_PINNED_MIN	(L2_RAM_PAGES - 256)
#define L2_SRC		0x100000ULL
#define L2_DST		0x200000ULL
/* Past the L2's 128 MiB of RAM, below edu's 28-bit DMA mask */
#define L2_HOLE		0xa000000ULL
#define DMA_LEN		1024
/* A qtest answer: "OK 0x" and two digits a byte of DMA_LEN fit in it */
#define QT_LINE		L2_QT_LINE

/* Config space of edu number @i in L2, by the 0xcf8/0xcfc mechanism */
static uint32_t cfg_addr(unsigned int i, unsigned int reg)
{
	return 0x80000000u | ((L2_SLOT + i) << 11) | reg;
}

/* BAR 0 of edu number @i in L2 */
static uint64_t l2_bar(unsigned int i)
{
	return EDU_L2_BAR + i * EDU_L2_BAR_SIZE;
}

/* Run one DMA of edu number @i and wait for it; 0, or -1 on a timeout */
static int edu_l2_dma_by(struct l2 *q, unsigned int i, uint64_t src,
			 uint64_t dst, uint64_t cmd)
{
	unsigned long long bar = l2_bar(i);
	uint64_t t0 = edu_now_ms(), v;

	if (qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_SRC,
	       (unsigned long long)src) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_DST,
	       (unsigned long long)dst) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%x", bar + EDU_REG_DMA_COUNT,
	       DMA_LEN) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_CMD,
	       (unsigned long long)(cmd | EDU_DMA_CMD_START)))
		return -1;
	/* The outer QEMU runs edu's DMA on a timer: poll, no clock_step */
	do {
		if (qt_val(q, &v, "readl 0x%llx", bar + EDU_REG_DMA_CMD))
			return -1;
		if (!(v & EDU_DMA_CMD_START))
			return 0;
		usleep(1000);
	} while (edu_now_ms() - t0 < EDU_DMA_TIMEOUT_MS);
	return -1;
}

static int edu_l2_dma(struct l2 *q, uint64_t src, uint64_t dst, uint64_t cmd)
{
	return edu_l2_dma_by(q, 0, src, dst, cmd);
}

/* QEMU's charge of locked memory (VmLck), in pages; -1 if unknown */
static long l2_locked_pages(struct l2 *q)
{
	char path[64];
	long kb;

	snprintf(path, sizeof(path), "/proc/%d/status", q->pid);
	kb = proc_field(path, "VmLck");
	return kb < 0 ? -1 : kb / (long)(PAGE_SZ / 1024);
}

static void hex(char *dst, const unsigned char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(dst + 2 * i, "%02x", src[i]);
}

FIXTURE(qemu) {
	struct l2 q;
	char bdf[2][32];	/* edu, and the other function of its slot */
	bool sib_was_vfio;	/* The other one on vfio-pci before the test */
	char qemu[256];
	long pins;		/* Pages pinned before QEMU started */
};

FIXTURE_VARIANT(qemu) {
	const char *backend;	/* -object of vfio-pci, NULL: container */
	bool shim;		/* The container is /dev/ioasid's shim */
};

/* QEMU 7.2 as Debian ships it: /dev/vfio/vfio and the group */
FIXTURE_VARIANT_ADD(qemu, type1) {
	.backend = NULL,
};

/*
 * The same unmodified QEMU 7.2, whose /dev/vfio/vfio is /dev/ioasid: vfio's
 * group on the container shim
 */
FIXTURE_VARIANT_ADD(qemu, shim) {
	.backend = NULL,
	.shim = true,
};

/* QEMU 10.0.2's -object iommufd: /dev/iommu and the device's cdev */
FIXTURE_VARIANT_ADD(qemu, iommufd) {
	.backend = "iommufd",
};

/* The rig's QEMU 10.0.2 with qemu/patches: /dev/ioasid and the cdev */
FIXTURE_VARIANT_ADD(qemu, ioasid) {
	.backend = "ioasid",
};

FIXTURE_SETUP(qemu)
{
	char drv[64];
	int rc = hostroot();

	self->sib_was_vfio = true;
	if (rc)
		SKIP(return, "no host root over virtio-9p: %s", strerror(rc));
	if (edu_find(self->bdf[0], sizeof(self->bdf[0])))
		SKIP(return, "no edu device");
	if (!variant->backend && access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no vfio container: CONFIG_VFIO_CONTAINER");
	if (!variant->backend && !variant->shim && vfio_container_is_ioasid())
		SKIP(return, "/dev/vfio/vfio is /dev/ioasid's: no type1");
	self->q.shim = variant->shim;
	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf[0]));
	ASSERT_EQ(0, edu_scan(self->bdf[1], sizeof(self->bdf[1]),
			      self->bdf[0]));
	ASSERT_EQ(0, edu_driver(self->bdf[1], drv, sizeof(drv)));
	self->sib_was_vfio = !strcmp(drv, "vfio-pci");
	/* A QEMU that quit early fails the next command, not the test */
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->qemu, sizeof(self->qemu), "%s", QEMU);
	if (variant->backend) {
		if (rig_qemu(self->qemu, sizeof(self->qemu) - sizeof(HOST)))
			SKIP(return, "no QEMU 10 from the rig (%s)", RIG_QEMU);
		ASSERT_EQ(0, host_access(self->qemu));
	}
	self->pins = foll_pins();
	ASSERT_NE(LONG_MIN, self->pins);
}

FIXTURE_TEARDOWN(qemu)
{
	l2_stop(&self->q);
	if (!self->sib_was_vfio)
		edu_unbind_vfio_pci(self->bdf[1]);
}

/* Set up edu number @i in the running L2: its BAR and bus mastering on */
static void l2_edu_init(struct __test_metadata *_metadata, struct l2 *q,
			unsigned int i)
{
	uint64_t v;
	int rc;

	/* The first answer comes once QEMU has mapped its RAM via vfio */
	rc = qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0));
	if (rc && !system("cat " HOST "/tmp/qemu.log >&2"))
		TH_LOG("QEMU's stderr above");
	ASSERT_EQ(0, rc);
	ASSERT_EQ(0, qt_val(q, &v, "inl 0xcfc"));
	ASSERT_EQ((EDU_DEVICE << 16) | EDU_VENDOR, v);
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0x10)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcfc 0x%llx",
			(unsigned long long)l2_bar(i)));
	/* Memory space and bus mastering */
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0x04)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outw 0xcfc 0x6"));
	ASSERT_EQ(0, qt(q, NULL, 0, "writel 0x%llx 0x12345678",
			(unsigned long long)l2_bar(i) + EDU_REG_ALIVE));
	ASSERT_EQ(0, qt_val(q, &v, "readl 0x%llx",
			    (unsigned long long)l2_bar(i) + EDU_REG_ALIVE));
	ASSERT_EQ((uint32_t)~0x12345678u, v);
}

/*
 * Start the L2 with the first @n edu functions passed through, set up. On
 * vfio's container, QEMU must hold the container the test meant: the shim
 * (/dev/ioasid) or vfio's own, not the other.
 */
static void l2_edu_up(struct __test_metadata *_metadata, struct l2 *q,
		      const char *qemu, char (*bdfs)[32], unsigned int n,
		      const char *backend)
{
	unsigned int i;

	ASSERT_EQ(0, l2_start(q, qemu, bdfs, n, backend, L2_RAM_MB));
	for (i = 0; i < n; i++)
		l2_edu_init(_metadata, q, i);
	if (!backend) {
		ASSERT_EQ(q->shim, pid_holds_node(q->pid, "/dev/ioasid"));
		ASSERT_EQ(!q->shim, pid_holds_node(q->pid, "/dev/vfio/vfio"));
	}
}

/*
 * edu number @i copies a fresh pattern from L2 RAM at L2_SRC to its buffer
 * and back to L2 RAM at L2_DST, where it must be found
 */
static void l2_round_trip(struct __test_metadata *_metadata, struct l2 *q,
			  unsigned int i)
{
	char buf[QT_LINE], want[QT_LINE];
	unsigned char pattern[DMA_LEN];

	fill_pattern(pattern, sizeof(pattern), getpid() + i);
	hex(buf, pattern, sizeof(pattern));
	ASSERT_EQ(0, qt(q, NULL, 0, "write 0x%llx 0x%x 0x%s", L2_SRC,
			DMA_LEN, buf));
	ASSERT_EQ(0, edu_l2_dma_by(q, i, L2_SRC, EDU_BUF, 0));
	ASSERT_EQ(0, edu_l2_dma_by(q, i, EDU_BUF, L2_DST,
				   EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, qt(q, buf, sizeof(buf), "read 0x%llx 0x%x", L2_DST,
			DMA_LEN));
	want[0] = '0';
	want[1] = 'x';
	hex(want + 2, pattern, sizeof(pattern));
	ASSERT_EQ(0, strcmp(buf, want));
}

/*
 * An L2 starts in a few seconds under TCG, QEMU's binary read over 9p the
 * first time: more than the harness's default 30 s must be allowed
 */
#define L2_TIMEOUT	120

/*
 * edu, passed through to the L2, copies L2 RAM to L2 RAM by DMA. What the
 * backend did to get there, from QEMU's trace, is in the log: the demo.
 */
TEST_F_TIMEOUT(qemu, edu_dma_round_trip, L2_TIMEOUT)
{
	char trace[32], line[256];
	long pinned;
	FILE *f;

	if (variant->backend) {
		snprintf(trace, sizeof(trace), "%s_*", variant->backend);
		self->q.trace = trace;
	}
	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	l2_round_trip(_metadata, &self->q, 0);
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned; QEMU's trace:", pinned);
	ASSERT_LE(L2_PINNED_MIN, pinned);
	f = fopen(HOST "/tmp/qemu.log", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		TH_LOG("%s", line);
	}
	fclose(f);
}

/*
 * The L2's VT-d, driven as a guest driver would in legacy mode: a root
 * table, the context entry of edu (bus 0, slot L2_SLOT) with domain 1 and
 * 3-level second-level tables (39-bit addresses: QEMU 10 refuses a vIOMMU
 * wider than the VM's VT-d), all in L2 RAM above what the other tests use.
 * VT_PT maps VT_PAGES pages at VT_IOVA and up, below edu's 28-bit DMA mask.
 */
#define VTD_REG_BASE	0xfed90000ULL	/* q35 */
#define VTD_REG_ECAP	0x10
#define VTD_REG_GCMD	0x18
#define VTD_REG_GSTS	0x1c
#define VTD_REG_RTADDR	0x20
#define VTD_REG_CCMD	0x28
#define VTD_GCMD_TE	0x80000000u
#define VTD_GCMD_SRTP	0x40000000u
#define VTD_CCMD_ICC	0x8000000000000000ULL	/* bit 63 */
#define VTD_CCMD_GLOBAL	0x2000000000000000ULL	/* CIRG 1, bits 62:61 */
#define VTD_IOTLB_IVT	0x8000000000000000ULL	/* bit 63 */
#define VTD_IOTLB_GLOBAL 0x1000000000000000ULL	/* IIRG 1, bits 61:60 */
#define VTD_RW		3ULL		/* read and write, any level */
#define VTD_AW_39	1ULL		/* 3-level tables */
#define VT_ROOT		0x400000ULL
#define VT_CTX		0x401000ULL
#define VT_PDPT		0x403000ULL
#define VT_PD		0x404000ULL
#define VT_PT		0x405000ULL
#define VT_IOVA		0x8000000ULL	/* PD entry 64 */
/* L2 RAM the IOVAs map, a page each, in a scattered order */
#define VT_RAM		0x1000000ULL
#define VT_NPAGES	256
/* The entries of VT_PT: VT_NPAGES pages, and the first once more */
#define VT_PAGES	(VT_NPAGES + 1)

static uint64_t vt_iova(unsigned int i)
{
	return VT_IOVA + i * PAGE_SZ;
}

/* L2 RAM that IOVA number @i maps: odd steps through VT_NPAGES pages */
static uint64_t vt_gpa(unsigned int i)
{
	return VT_RAM + (i * 7 % VT_NPAGES) * PAGE_SZ;
}

/* Poll the register at @reg, 64-bit if @wide, until @mask is @want there */
static int vtd_wait(struct l2 *q, unsigned int reg, uint64_t mask,
		    uint64_t want, bool wide)
{
	uint64_t t0 = edu_now_ms(), v;

	do {
		if (qt_val(q, &v, "read%c 0x%llx", wide ? 'q' : 'l',
			   VTD_REG_BASE + reg))
			return -1;
		if ((v & mask) == want)
			return 0;
		usleep(1000);
	} while (edu_now_ms() - t0 < 5000);
	return -1;
}

/*
 * A global invalidation of the IOTLB, at the register ECAP says: with
 * caching mode, QEMU then walks the tables and maps and unmaps for the
 * devices what changed
 */
static int vtd_flush(struct l2 *q)
{
	uint64_t ecap, reg;

	if (qt_val(q, &ecap, "readq 0x%llx", VTD_REG_BASE + VTD_REG_ECAP))
		return -1;
	reg = ((ecap >> 8) & 0x3ff) * 16 + 8;
	if (qt(q, NULL, 0, "writeq 0x%llx 0x%llx", VTD_REG_BASE + reg,
	       VTD_IOTLB_IVT | VTD_IOTLB_GLOBAL))
		return -1;
	return vtd_wait(q, reg, VTD_IOTLB_IVT, 0, true);
}

/* Write the tables, mapping every IOVA, and turn translation on */
static int vtd_enable(struct l2 *q)
{
	unsigned int i;
	int rc = 0;

	rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx", VT_ROOT, VT_CTX | 1);
	rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx", VT_CTX + L2_SLOT * 8 * 16,
		 VT_PDPT | 1);
	rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx",
		 VT_CTX + L2_SLOT * 8 * 16 + 8, VTD_AW_39 | (1 << 8));
	rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx", VT_PDPT, VT_PD | VTD_RW);
	rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx",
		 VT_PD + (VT_IOVA >> 21) * 8, VT_PT | VTD_RW);
	for (i = 0; i < VT_PAGES; i++)
		rc |= qt(q, NULL, 0, "writeq 0x%llx 0x%llx", VT_PT + i * 8,
			 (unsigned long long)(vt_gpa(i % VT_NPAGES) | VTD_RW));
	if (rc)
		return -1;

	if (qt(q, NULL, 0, "writeq 0x%llx 0x%llx",
	       VTD_REG_BASE + VTD_REG_RTADDR, VT_ROOT) ||
	    qt(q, NULL, 0, "writel 0x%llx 0x%x", VTD_REG_BASE + VTD_REG_GCMD,
	       VTD_GCMD_SRTP) ||
	    vtd_wait(q, VTD_REG_GSTS, VTD_GCMD_SRTP, VTD_GCMD_SRTP, false) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx",
	       VTD_REG_BASE + VTD_REG_CCMD, VTD_CCMD_ICC | VTD_CCMD_GLOBAL) ||
	    vtd_wait(q, VTD_REG_CCMD, VTD_CCMD_ICC, 0, true) ||
	    vtd_flush(q) ||
	    qt(q, NULL, 0, "writel 0x%llx 0x%x", VTD_REG_BASE + VTD_REG_GCMD,
	       VTD_GCMD_TE))
		return -1;
	return vtd_wait(q, VTD_REG_GSTS, VTD_GCMD_TE, VTD_GCMD_TE, false);
}

/*
 * edu copies a fresh pattern from the L2 RAM that IOVA number @from maps,
 * by DMA at that IOVA, to its buffer, then to IOVA number @to, whose L2
 * RAM must then hold it
 */
static void vt_round_trip(struct __test_metadata *_metadata, struct l2 *q,
			  unsigned int from, unsigned int to)
{
	char buf[QT_LINE], want[QT_LINE];
	unsigned char pattern[DMA_LEN];

	fill_pattern(pattern, sizeof(pattern), getpid() + from * 1000 + to);
	hex(buf, pattern, sizeof(pattern));
	ASSERT_EQ(0, qt(q, NULL, 0, "write 0x%llx 0x%x 0x%s",
			(unsigned long long)vt_gpa(from), DMA_LEN, buf));
	ASSERT_EQ(0, edu_l2_dma(q, vt_iova(from), EDU_BUF, 0));
	ASSERT_EQ(0, edu_l2_dma(q, EDU_BUF, vt_iova(to), EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, qt(q, buf, sizeof(buf), "read 0x%llx 0x%x",
			(unsigned long long)vt_gpa(to), DMA_LEN));
	want[0] = '0';
	want[1] = 'x';
	hex(want + 2, pattern, sizeof(pattern));
	ASSERT_EQ(0, strcmp(buf, want));
}

/*
 * With a VT-d in the L2, QEMU maps for edu what the L2 maps in it, as it
 * does for a guest with a virtual IOMMU: one MAP per 4 KiB page, here 256
 * pages scattered over L2 RAM, the first of them at a second IOVA too.
 * edu's DMA finds each where the L2's tables say. /dev/ioasid pins a page
 * mapped twice once, the other stacks twice. When the L2 unmaps half of
 * them, the first page stays pinned and reachable at its second IOVA.
 */
TEST_F_TIMEOUT(qemu, viommu_page_by_page, L2_TIMEOUT)
{
	bool once = variant->shim ||
		    (variant->backend && !strcmp(variant->backend, "ioasid"));
	struct l2 *q = &self->q;
	long want, pinned;
	uint64_t t0;
	unsigned int i;

	q->viommu = true;
	l2_edu_up(_metadata, q, self->qemu, self->bdf, 1, variant->backend);
	t0 = edu_now_ms();
	ASSERT_EQ(0, vtd_enable(q));
	want = VT_NPAGES + !once;
	pinned = pins_settle(self->pins + want) - self->pins;
	TH_LOG("%d IOVAs mapped page by page: %ld pages pinned, %llu ms",
	       VT_PAGES, pinned, (unsigned long long)(edu_now_ms() - t0));
	ASSERT_EQ(want, pinned);
	vt_round_trip(_metadata, q, 3, 100);
	vt_round_trip(_metadata, q, VT_NPAGES, 5);
	vt_round_trip(_metadata, q, 200, 0);

	/* The L2 unmaps the first half, the first page among them */
	for (i = 0; i < VT_NPAGES / 2; i++)
		ASSERT_EQ(0, qt(q, NULL, 0, "writeq 0x%llx 0",
				VT_PT + i * 8));
	ASSERT_EQ(0, vtd_flush(q));
	want = VT_NPAGES / 2 + 1;
	ASSERT_EQ(want, pins_settle(self->pins + want) - self->pins);
	vt_round_trip(_metadata, q, VT_NPAGES, VT_NPAGES - 1);
	vt_round_trip(_metadata, q, VT_NPAGES / 2, VT_NPAGES);

	l2_stop_sig(q, SIGTERM);
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/*
 * A DMA to an L2 address that is no RAM, which QEMU therefore never
 * mapped, is stopped by VT-d: the guest kernel logs the fault of edu at
 * that address
 */
TEST_F_TIMEOUT(qemu, dma_outside_l2_ram_faults, L2_TIMEOUT)
{
	struct l2 *q = &self->q;
	char line[256];
	int kmsg;

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_l2_dma(q, EDU_BUF, L2_HOLE, EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, L2_HOLE, 3000, line,
					 sizeof(line)));
	TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, self->bdf[0] + 5));
	close(kmsg);
}

/*
 * All of L2 RAM is pinned while QEMU runs, and nothing is once it has
 * quit: on SIGTERM, as a management stack stops a VM, it exits cleanly
 */
TEST_F_TIMEOUT(qemu, quit_unpins_all, L2_TIMEOUT)
{
	long pinned;
	int status;

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned while QEMU runs", pinned);
	ASSERT_LE(L2_PINNED_MIN, pinned);
	l2_round_trip(_metadata, &self->q, 0);

	status = l2_stop_sig(&self->q, SIGTERM);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/* Killed with no chance to clean up, QEMU leaves nothing pinned either */
TEST_F_TIMEOUT(qemu, sigkill_unpins_all, L2_TIMEOUT)
{
	int status;

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	ASSERT_LE(L2_PINNED_MIN, foll_pins() - self->pins);

	status = l2_stop_sig(&self->q, SIGKILL);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/*
 * Both edu functions in one QEMU: each DMAs through the address space QEMU
 * set up, and guest RAM is pinned once for the two, not once per device,
 * and charged once: to QEMU's VmLck by type1 and by /dev/ioasid's default
 * accounting (iommufd charges the user, which no file shows). Having both
 * functions, QEMU resets them, which they need for lack of FLR, with a bus
 * reset at machine reset: through vfio-pci's cdev path on iommufd and
 * /dev/ioasid (the rig's QEMU, whose trace tells).
 */
TEST_F_TIMEOUT(qemu, two_devices_share_mappings, L2_TIMEOUT)
{
	bool reset = false;
	long pinned, locked;
	char line[256];
	FILE *f;

	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf[1]));
	if (variant->backend)
		self->q.trace = "vfio_pci_hot_reset*";
	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 2,
		  variant->backend);
	if (variant->backend) {
		f = fopen(HOST "/tmp/qemu.log", "r");
		ASSERT_NE(NULL, f);
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = 0;
			TH_LOG("%s", line);
			reset |= strstr(line, "vfio_pci_hot_reset_result") &&
				 strstr(line, "hot reset: Success");
		}
		fclose(f);
		ASSERT_TRUE(reset);
	}
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned for two devices", pinned);
	ASSERT_LE(L2_PINNED_MIN, pinned);
	ASSERT_GT(L2_RAM_PAGES * 3 / 2, pinned);
	locked = l2_locked_pages(&self->q);
	TH_LOG("%ld pages charged to QEMU's VmLck", locked);
	if (!variant->backend || !strcmp(variant->backend, "ioasid")) {
		ASSERT_LE(L2_PINNED_MIN, locked);
		ASSERT_GT(L2_RAM_PAGES * 3 / 2, locked);
	}
	l2_round_trip(_metadata, &self->q, 0);
	l2_round_trip(_metadata, &self->q, 1);
	l2_stop(&self->q);
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/*
 * What only QEMU's /dev/ioasid backend does: map file-backed RAM by file,
 * and its errors, where QEMU refuses to start with a clear message, pins
 * nothing and leaves the kernel quiet (the rig's scan of the guest's
 * dmesg checks that part).
 */
FIXTURE(qemu_ioasid) {
	struct l2 q;
	char bdf[1][32];
	char qemu[256];
	long pins;
};

FIXTURE_SETUP(qemu_ioasid)
{
	int rc = hostroot();

	if (rc)
		SKIP(return, "no host root over virtio-9p: %s", strerror(rc));
	if (edu_find(self->bdf[0], sizeof(self->bdf[0])))
		SKIP(return, "no edu device");
	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf[0]));
	signal(SIGPIPE, SIG_IGN);
	if (rig_qemu(self->qemu, sizeof(self->qemu) - sizeof(HOST)))
		SKIP(return, "no QEMU 10 from the rig (%s)", RIG_QEMU);
	ASSERT_EQ(0, host_access(self->qemu));
	self->pins = foll_pins();
	ASSERT_NE(LONG_MIN, self->pins);
}

FIXTURE_TEARDOWN(qemu_ioasid)
{
	l2_stop(&self->q);
}

/* QEMU must fail to start, exit with 1 and say @what on stderr */
static void l2_refused(struct __test_metadata *_metadata, struct l2 *q,
		       const char *qemu, char (*bdf)[32], const char *what)
{
	char line[512];
	bool said = false;
	int status;
	FILE *f;

	ASSERT_EQ(0, l2_start(q, qemu, bdf, 1, "ioasid", L2_RAM_MB));
	ASSERT_NE(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(0, 0)));
	status = l2_stop_sig(q, SIGKILL);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(1, WEXITSTATUS(status));
	f = fopen(HOST "/tmp/qemu.log", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		TH_LOG("QEMU: %s", line);
		said |= !!strstr(line, what);
	}
	fclose(f);
	ASSERT_TRUE(said);
}

/*
 * Guest RAM in a shared memfd, as vhost-user and CPR need it: QEMU maps it
 * by file and offset (IOASID_MAP_FILE), and edu's DMA reaches it
 */
TEST_F_TIMEOUT(qemu_ioasid, memfd_ram_maps_by_file, L2_TIMEOUT)
{
	char line[256], want[64];
	bool by_file = false;
	FILE *f;

	self->q.memfd = true;
	self->q.trace = "ioasid_backend_map";
	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1, "ioasid");
	l2_round_trip(_metadata, &self->q, 0);
	ASSERT_LE(L2_PINNED_MIN, foll_pins() - self->pins);

	/* The RAM above 1 MiB, all of it by file, without an error */
	snprintf(want, sizeof(want), "flags=0x%x iova=0x100000 ",
		 IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ | IOASID_MAP_WRITE |
		 IOASID_MAP_FILE);
	f = fopen(HOST "/tmp/qemu.log", "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		TH_LOG("%s", line);
		by_file |= strstr(line, want) && strstr(line, "(0)");
	}
	fclose(f);
	ASSERT_TRUE(by_file);
	l2_stop(&self->q);
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/* ioasid= names an object the command line does not create */
TEST_F_TIMEOUT(qemu_ioasid, missing_object, L2_TIMEOUT)
{
	self->q.no_object = true;
	l2_refused(_metadata, &self->q, self->qemu, self->bdf,
		   "'be0' not found");
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/* A kernel without /dev/ioasid */
TEST_F_TIMEOUT(qemu_ioasid, no_dev_ioasid, L2_TIMEOUT)
{
	self->q.no_node = true;
	l2_refused(_metadata, &self->q, self->qemu, self->bdf,
		   "/dev/ioasid: No such file or directory");
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/*
 * The device is bound to another context already: QEMU cannot have it,
 * and the binding it could not take works on
 */
TEST_F_TIMEOUT(qemu_ioasid, device_bound_elsewhere, L2_TIMEOUT)
{
	struct edu_dev edu;
	uint32_t ioasid;
	int fd;

	ASSERT_EQ(0, edu_prepare(&edu));
	ASSERT_EQ(0, edu_open(&edu));
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, edu_start(&edu, fd));

	l2_refused(_metadata, &self->q, self->qemu, self->bdf, "in use");
	ASSERT_EQ(self->pins, pins_settle(self->pins));

	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, edu_attach(&edu, ioasid));
	ASSERT_EQ(0, edu_check_alive(edu.bar));
	edu_close(&edu);
	close(fd);
}

TEST_HARNESS_MAIN
