// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid with real DMA: QEMU's edu device, bound to vfio-pci and
 * through its cdev to an ioasid context, copies user memory mapped in an
 * IOASID to its own buffer and back through the emulated VT-d. Data must
 * arrive at mapped IOVAs; DMA at an unmapped IOVA, or by a detached device,
 * must be blocked, and the guest kernel then logs a DMAR fault, which the
 * tests check for. A test announces each fault it provokes with
 * "# rig: expect-dmar-faults: 1" first, so that the rig's dmesg scan
 * accepts it.
 *
 * Without an edu device, outside the rig's VM, every test skips.
 */
#define EDU_LOG_PREFIX "# edu: "

#include <poll.h>
#include <sys/eventfd.h>

#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"
#include "edu.h"

/* Two user buffers of two pages each, below edu's 256 MiB DMA reach */
#define MAP_SIZE (2 * PAGE_SZ)
#define IOVA_A 0x1000000ULL
#define IOVA_B 0x2000000ULL
/* Right past A's mapping: never mapped */
#define IOVA_HOLE (IOVA_A + MAP_SIZE)
/* A round trip's size: edu offset + size stays below 4096 */
#define XFER 2048
#define FAULT_LOG_MS 3000

/*
 * Where vfio-pci puts config space in the device fd. Before bind no access
 * gets that far, so the exact offset does not matter there.
 */
#define VFIO_PCI_CONFIG_OFFSET ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)

/*
 * edu opened but not bound, a context with one IOASID, and two buffers
 * for it: A holds a pattern, B is zero.
 */
FIXTURE(edu) {
	struct edu_dev edu;
	int fd;
	uint32_t ioasid;
	unsigned char *a;
	unsigned char *b;
};

/*
 * A context with IOASID @ioasid, buffers @a (with a pattern) and @b (zero)
 * for it, and @edu opened but not bound
 */
static void edu_ctx_setup(struct __test_metadata *_metadata,
			  struct edu_dev *edu, int *fd, uint32_t *ioasid,
			  unsigned char **a, unsigned char **b)
{
	*fd = ioasid_open();
	ASSERT_LE(0, *fd);
	ASSERT_EQ(0, ioasid_create(*fd, ioasid));
	*a = alloc_buf(MAP_SIZE);
	ASSERT_NE(NULL, *a);
	*b = alloc_buf(MAP_SIZE);
	ASSERT_NE(NULL, *b);
	fill_pattern(*a, MAP_SIZE, 1);
	ASSERT_EQ(0, edu_open(edu));
}

FIXTURE_SETUP(edu)
{
	int rc;

	self->fd = -1;
	self->edu.fd = -1;
	rc = edu_prepare(&self->edu);
	if (rc == ENODEV)
		SKIP(return,
		     "no edu PCI device (%04x:%04x): run in the rig's VM",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, rc);
	edu_ctx_setup(_metadata, &self->edu, &self->fd, &self->ioasid,
		      &self->a, &self->b);
}

FIXTURE_TEARDOWN(edu)
{
	/* edu stays bound to vfio-pci for whoever comes next */
	edu_close(&self->edu);
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->a, MAP_SIZE);
	munmap(self->b, MAP_SIZE);
}

/* Bind edu to the context, map A and B, attach: ready for DMA */
#define edu_up()							\
	do {								\
		ASSERT_EQ(0, edu_start(&self->edu, self->fd));		\
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,	\
					      self->a, MAP_SIZE, IOVA_A)); \
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,	\
					      self->b, MAP_SIZE, IOVA_B)); \
		ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));	\
	} while (0)

static bool is_zero(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i != len; i++)
		if (buf[i])
			return false;
	return true;
}

/* Before bind the device fd gives no access at all; after it, it does */
TEST_F(edu, access_needs_bind)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t vendor = 0;
	void *bar;

	ASSERT_EQ(EINVAL, ioasid_call(self->edu.fd,
				      VFIO_DEVICE_GET_REGION_INFO, &info));
	ASSERT_EQ(-1, pread(self->edu.fd, &vendor, sizeof(vendor),
			    VFIO_PCI_CONFIG_OFFSET + PCI_VENDOR_ID));
	ASSERT_EQ(EINVAL, errno);
	bar = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->edu.fd, 0);
	ASSERT_EQ(MAP_FAILED, bar);
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(EINVAL, vfio_attach_ioasid(self->edu.fd, self->ioasid));

	ASSERT_EQ(0, edu_bind(&self->edu, self->fd));
	ASSERT_EQ(0, ioasid_call(self->edu.fd, VFIO_DEVICE_GET_REGION_INFO,
				 &info));
	ASSERT_EQ(sizeof(vendor), pread(self->edu.fd, &vendor, sizeof(vendor),
					info.offset + PCI_VENDOR_ID));
	ASSERT_EQ(EDU_VENDOR, le16toh(vendor));
	/* One fd binds once */
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(self->edu.fd, self->fd, NULL));
}

/* The context reports VT-d's capabilities, and edu's reserved regions */
TEST_F(edu, info_and_ranges)
{
	struct ioasid_iova_range ranges[16];
	uint32_t num = 16, i, found = 0;
	struct ioasid_info info;

	ASSERT_EQ(0, edu_start(&self->edu, self->fd));
	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_EQ(IOASID_INFO_IOMMU_BOUND | IOASID_INFO_CACHE_COHERENT,
		  info.out_flags & (IOASID_INFO_IOMMU_BOUND |
				    IOASID_INFO_CACHE_COHERENT));
	ASSERT_NE(0, info.out_pgsize_bitmap & PAGE_SZ);
	/* QEMU's VT-d has 2 MiB pages, known before any domain is attached */
	ASSERT_NE(0, info.out_pgsize_bitmap & SZ_2M);
	ASSERT_EQ(0, info.out_aperture_start);
	ASSERT_LE(EDU_DMA_MASK, info.out_aperture_last);
	TH_LOG("page sizes 0x%llx, aperture up to 0x%llx, %u PASID bits",
	       (unsigned long long)info.out_pgsize_bitmap,
	       (unsigned long long)info.out_aperture_last,
	       info.out_max_pasid_bits);

	ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));
	ASSERT_EQ(0, ioasid_iova_ranges(self->fd, self->ioasid, ranges, &num));
	ASSERT_LT(0, num);
	for (i = 0; i < num; i++) {
		ASSERT_LE(ranges[i].start, ranges[i].last);
		ASSERT_LE(ranges[i].last, info.out_aperture_last);
		/* x86's interrupt window is reserved behind VT-d */
		ASSERT_TRUE(ranges[i].last < 0xfee00000ULL ||
			    ranges[i].start > 0xfeefffffULL);
		if (ranges[i].start <= IOVA_A &&
		    ranges[i].last >= IOVA_B + MAP_SIZE - 1)
			found++;
	}
	ASSERT_EQ(1, found);
}

/* What the user wrote at A comes out at B, byte for byte, across pages */
TEST_F(edu, dma_round_trip)
{
	unsigned char *want = calloc(1, MAP_SIZE);
	void *bar;

	ASSERT_NE(NULL, want);
	edu_up();
	bar = self->edu.bar;

	/* First page of A to the middle of B's first page */
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B + 512, 0, XFER));
	memcpy(want + 512, self->a, XFER);
	ASSERT_EQ(0, memcmp(want, self->b, MAP_SIZE));

	/* Second page of A, through another part of edu's buffer */
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A + PAGE_SZ + 100,
				    IOVA_B + PAGE_SZ + 1000, XFER, 1000));
	memcpy(want + PAGE_SZ + 1000, self->a + PAGE_SZ + 100, 1000);
	ASSERT_EQ(0, memcmp(want, self->b, MAP_SIZE));

	/* Across the page boundaries of both: four pages, four translations */
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A + PAGE_SZ - 100,
				    IOVA_B + PAGE_SZ - 50, 100, 300));
	memcpy(want + PAGE_SZ - 50, self->a + PAGE_SZ - 100, 300);
	ASSERT_EQ(0, memcmp(want, self->b, MAP_SIZE));

	/* The device only read A */
	fill_pattern(want, MAP_SIZE, 1);
	ASSERT_EQ(0, memcmp(want, self->a, MAP_SIZE));
	ASSERT_EQ(0, edu_check_alive(bar));
	free(want);
}

/* Where the hugetlb memory of fill_uses_large_pages goes: 2 MiB aligned */
#define IOVA_HUGE 0x4000000ULL
#define HUGE_SIZE (16 * SZ_2M)

/*
 * Memory mapped before the device attaches lands in the domain the ATTACH
 * creates and fills. That domain has VT-d's 2 MiB pages from the start: 32
 * MiB of hugetlb memory takes no leaf page table, where 4 KiB pages would
 * take 16 of them (64 KiB). Seen in the VM's IOMMU page-table memory, then
 * through edu's DMA from the first and the last huge page.
 */
TEST_F(edu, fill_uses_large_pages)
{
	unsigned char *huge = alloc_hugetlb(HUGE_SIZE);
	long before, after;
	void *bar;

	if (!huge)
		SKIP(return, "no 2 MiB hugetlb pages to have");
	fill_pattern(huge, HUGE_SIZE, 5);
	ASSERT_EQ(0, edu_start(&self->edu, self->fd));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, huge, HUGE_SIZE,
				      IOVA_HUGE));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->b,
				      MAP_SIZE, IOVA_B));
	before = iommu_pt_kib();
	ASSERT_LE(0, before);
	ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));
	after = iommu_pt_kib();
	ASSERT_LE(0, after);
	TH_LOG("the filled domain's page tables: %ld KiB", after - before);
	/* The upper levels and B's leaf table: a handful of pages */
	ASSERT_LT(0, after - before);
	ASSERT_GT(64, after - before);

	bar = self->edu.bar;
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_HUGE + 100, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(huge + 100, self->b, XFER));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_HUGE + HUGE_SIZE - XFER, IOVA_B,
				    0, XFER));
	ASSERT_EQ(0, memcmp(huge + HUGE_SIZE - XFER, self->b, XFER));
	ASSERT_EQ(0, munmap(huge, HUGE_SIZE));
}

/* A write to an unmapped IOVA is blocked, logged, and harms nothing */
TEST_F(edu, dma_to_unmapped_iova_faults)
{
	unsigned char *want = malloc(MAP_SIZE);
	char line[512];
	void *bar;
	int kmsg;

	ASSERT_NE(NULL, want);
	edu_up();
	bar = self->edu.bar;
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	/* edu's buffer holds A's pattern */
	ASSERT_EQ(0, edu_dma(bar, IOVA_A, EDU_BUF, XFER, false));

	/* QEMU's edu completes a transfer the IOMMU blocked */
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_HOLE, EDU_FAULT_COUNT, true));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, IOVA_HOLE, FAULT_LOG_MS,
					 line, sizeof(line)));
	TH_LOG("blocked as expected: %s", line);
	close(kmsg);

	/* Nothing landed in mapped memory */
	ASSERT_TRUE(is_zero(self->b, MAP_SIZE));
	fill_pattern(want, MAP_SIZE, 1);
	ASSERT_EQ(0, memcmp(want, self->a, MAP_SIZE));

	/* And the device still works, through the same translation */
	ASSERT_EQ(0, edu_check_alive(bar));
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, XFER, true));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	ASSERT_TRUE(is_zero(self->b + XFER, MAP_SIZE - XFER));
	free(want);
}

/* Attaching to another IOASID switches the device to its memory */
TEST_F(edu, replace)
{
	unsigned char *c = alloc_buf(MAP_SIZE);
	uint32_t second;
	void *bar;

	ASSERT_NE(NULL, c);
	fill_pattern(c, MAP_SIZE, 2);
	edu_up();
	bar = self->edu.bar;
	/* Other memory at the same IOVA A, the same B */
	ASSERT_EQ(0, ioasid_create(self->fd, &second));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, second, c, MAP_SIZE, IOVA_A));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, second, self->b, MAP_SIZE,
				      IOVA_B));

	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));

	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, edu_attach(&self->edu, second));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, second));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(c, self->b, XFER));

	/* And back */
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));
	ASSERT_EQ(0, ioasid_destroy(self->fd, second));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	munmap(c, MAP_SIZE);
}

/* A detached device cannot DMA, even to mapped memory */
TEST_F(edu, detach_blocks)
{
	char line[512];
	void *bar;
	int kmsg;

	edu_up();
	bar = self->edu.bar;
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	ASSERT_EQ(0, edu_dma(bar, IOVA_A, EDU_BUF, XFER, false));

	ASSERT_EQ(0, edu_detach(&self->edu));
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, EDU_FAULT_COUNT, true));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, IOVA_B, FAULT_LOG_MS,
					 line, sizeof(line)));
	TH_LOG("blocked as expected: %s", line);
	close(kmsg);
	ASSERT_TRUE(is_zero(self->b, MAP_SIZE));
	/* Detaching a detached device changes nothing */
	ASSERT_EQ(0, edu_detach(&self->edu));

	/* Attached again, the same write goes through */
	ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, XFER, true));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

/* Unmapping a page while attached cuts the device off from it at once */
TEST_F(edu, unmap_blocks)
{
	uint64_t unmapped;
	char line[512];
	void *bar;
	int kmsg;

	edu_up();
	bar = self->edu.bar;
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));

	/* New data in A, then its first page is unmapped */
	fill_pattern(self->a, MAP_SIZE, 3);
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA_A, PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);

	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_dma(bar, IOVA_A, EDU_BUF, EDU_FAULT_COUNT, false));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, false, IOVA_A, FAULT_LOG_MS,
					 line, sizeof(line)));
	TH_LOG("blocked as expected: %s", line);
	close(kmsg);
	/* What edu holds now is not the new data */
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, EDU_FAULT_COUNT, true));
	TH_LOG("edu read %02x %02x %02x %02x instead of %02x %02x %02x %02x",
	       self->b[0], self->b[1], self->b[2], self->b[3],
	       self->a[0], self->a[1], self->a[2], self->a[3]);
	ASSERT_NE(0, memcmp(self->a, self->b, EDU_FAULT_COUNT));

	/* A's second page is still mapped */
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A + PAGE_SZ, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a + PAGE_SZ, self->b, XFER));

	/* Mapped again, the first page gives the new data */
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->a, PAGE_SZ,
				      IOVA_A));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

/* Closing the device fd unbinds it: it binds again, to any context */
/*
 * edu has no PASID capability (and QEMU 7.2's VT-d runs in legacy mode):
 * a PASID attach is refused cleanly and the RID's translation stays.
 */
TEST_F(edu, pasid_refused)
{
	struct ioasid_info info;

	edu_up();
	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_EQ(0, info.out_max_pasid_bits);
	ASSERT_EQ(EOPNOTSUPP, vfio_attach_ioasid_pasid(self->edu.fd, 1,
						       self->ioasid));
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->edu.fd, 1));
	/* The RID still translates */
	ASSERT_EQ(0, edu_dma(self->edu.bar, IOVA_A, EDU_BUF, 64, false));
	ASSERT_EQ(0, edu_dma(self->edu.bar, EDU_BUF, IOVA_B, 64, true));
	ASSERT_EQ(0, memcmp(self->a, self->b, 64));
}

/*
 * QEMU 7.2's VT-d cannot nest: the context and the device's hardware
 * information say so, a nesting parent is refused at attach (and at
 * creation once VT-d is bound), and the VT-d stage-1 format at creation.
 * The RID's translation stays.
 */
TEST_F(edu, nesting_refused)
{
	struct iommu_hw_info_vtd vtd;
	struct ioasid_hw_info hw = {
		.size = sizeof(hw),
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	struct ioasid_info info;
	uint32_t parent, nested;

	/* Before a device is bound, any IOASID may be a nesting parent */
	ASSERT_EQ(0, ioasid_create_parent(self->fd, &parent));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, parent, self->a, MAP_SIZE,
				      IOVA_A));
	edu_up();
	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_FALSE(info.out_flags & IOASID_INFO_NESTING);
	ASSERT_EQ(0, info.out_formats);

	/* The unit's registers, as the VMM's vIOMMU would read them */
	hw.dev_id = self->edu.dev_id;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_GET_HW_INFO, &hw));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_INTEL_VTD, hw.out_data_type);
	ASSERT_EQ(sizeof(vtd), hw.data_len);
	ASSERT_NE(0, vtd.cap_reg);
	/* ECAP.NEST, bit 26: the reason for all of the below */
	ASSERT_FALSE(vtd.ecap_reg & (1ULL << 26));
	ASSERT_EQ(0, hw.out_formats);

	ASSERT_EQ(EOPNOTSUPP, edu_attach(&self->edu, parent));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(self->fd, parent,
						   IOASID_FORMAT_VTD_S1,
						   &nested));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(self->fd, parent,
						   IOASID_FORMAT_MOCK_S1,
						   &nested));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_parent(self->fd, &nested));
	ASSERT_EQ(0, ioasid_destroy(self->fd, parent));

	ASSERT_EQ(0, edu_dma(self->edu.bar, IOVA_A, EDU_BUF, 64, false));
	ASSERT_EQ(0, edu_dma(self->edu.bar, EDU_BUF, IOVA_B, 64, true));
	ASSERT_EQ(0, memcmp(self->a, self->b, 64));
}

TEST_F(edu, rebind)
{
	struct edu_dev other = self->edu;
	uint32_t ioasid2;
	int fd2;

	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, edu_bind(&self->edu, self->fd));

	/* A cdev device opens once: a second fd of it cannot bind */
	other.fd = -1;
	other.bar = NULL;
	ASSERT_EQ(0, edu_open(&other));
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(other.fd, fd2, NULL));

	/* Once the bound fd is closed it can, to another context */
	edu_close(&self->edu);
	ASSERT_EQ(0, edu_start(&other, fd2));
	ASSERT_EQ(0, ioasid_create(fd2, &ioasid2));
	ASSERT_EQ(0, ioasid_map_fixed(fd2, ioasid2, self->a, MAP_SIZE,
				      IOVA_A));
	ASSERT_EQ(0, ioasid_map_fixed(fd2, ioasid2, self->b, MAP_SIZE,
				      IOVA_B));
	ASSERT_EQ(0, edu_attach(&other, ioasid2));
	ASSERT_EQ(0, edu_round_trip(other.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	edu_close(&other);
	close(fd2);

	/* And reopened, back to the first context */
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, edu_open(&self->edu));
	edu_up();
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_B, IOVA_A, 0, XFER));
	ASSERT_TRUE(is_zero(self->a, XFER));
}

/* Closing /dev/ioasid before the device fd releases everything too */
TEST_F(edu, close_ioasid_first)
{
	edu_up();
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));

	close(self->fd);
	edu_close(&self->edu);

	/* The device and the memory are free for a new context */
	memset(self->b, 0, MAP_SIZE);
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, edu_open(&self->edu));
	edu_up();
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

/*
 * Hot reset, as a VMM resets a device without FLR when its VM resets:
 * edu has no reset of its own, so vfio-pci resets the secondary bus of the
 * root port the rig puts it behind, with a second edu function beside it.
 * Both functions are in one iommu_group, and one bus reset reaches both:
 * vfio-pci allows it only when the caller owns both.
 */
FIXTURE(edu_reset) {
	struct edu_dev edu;
	struct edu_dev sib;	/* The other function */
	bool sib_was_vfio;	/* Bound to vfio-pci before the test */
	uint64_t cfg;		/* Where config space is in the device fd */
	int fd;
	uint32_t ioasid;
	unsigned char *a;
	unsigned char *b;
};

FIXTURE_SETUP(edu_reset)
{
	char drv[64];
	int rc;

	self->fd = -1;
	self->edu.fd = -1;
	self->sib.fd = -1;
	self->sib_was_vfio = true;
	rc = edu_prepare(&self->edu);
	if (rc == ENODEV)
		SKIP(return,
		     "no edu PCI device (%04x:%04x): run in the rig's VM",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, rc);
	/* The rig's VM has two: a test without the second cannot pass */
	ASSERT_EQ(0, edu_scan(self->sib.bdf, sizeof(self->sib.bdf),
			      self->edu.bdf));
	ASSERT_EQ(0, edu_driver(self->sib.bdf, drv, sizeof(drv)));
	self->sib_was_vfio = !strcmp(drv, "vfio-pci");

	edu_ctx_setup(_metadata, &self->edu, &self->fd, &self->ioasid,
		      &self->a, &self->b);
	ASSERT_EQ(0, edu_start(&self->edu, self->fd));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->a,
				      MAP_SIZE, IOVA_A));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->b,
				      MAP_SIZE, IOVA_B));
	ASSERT_EQ(0, edu_attach(&self->edu, self->ioasid));
	self->cfg = edu_config_offset(&self->edu);
	ASSERT_NE(0, self->cfg);
}

FIXTURE_TEARDOWN(edu_reset)
{
	if (self->edu.bar)
		edu_write32(self->edu.bar, EDU_REG_IRQ_ACK, ~0u);
	edu_close(&self->edu);
	edu_close(&self->sib);
	/*
	 * Leave the second function as found: on vfio-pci, a bus reset at
	 * every close of the first would slow down all the other tests
	 */
	if (self->sib_was_vfio)
		edu_bind_vfio_pci(self->sib.bdf);
	else
		edu_unbind_vfio_pci(self->sib.bdf);
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->a, MAP_SIZE);
	munmap(self->b, MAP_SIZE);
}

/* VFIO_DEVICE_GET_PCI_HOT_RESET_INFO into @info with room for @max */
static int reset_info(int dev_fd, struct vfio_pci_hot_reset_info *info,
		      uint32_t max)
{
	info->argsz = sizeof(*info) + max * sizeof(info->devices[0]);
	info->flags = 0;
	info->count = 0;
	return ioasid_call(dev_fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
}

/* The zero-length form of the cdev user: devices proven by the context */
static int hot_reset(int dev_fd)
{
	struct vfio_pci_hot_reset reset = { .argsz = sizeof(reset) };

	return ioasid_call(dev_fd, VFIO_DEVICE_PCI_HOT_RESET, &reset);
}

/* The devid reported for @bdf, or -2 when @info lacks it */
static int64_t reset_devid(struct vfio_pci_hot_reset_info *info,
			   const char *bdf)
{
	unsigned int seg, bus, dev, fn, i;

	if (sscanf(bdf, "%x:%x:%x.%x", &seg, &bus, &dev, &fn) != 4)
		return -2;
	for (i = 0; i < info->count; i++) {
		struct vfio_pci_dependent_device *d = &info->devices[i];

		if (d->segment == seg && d->bus == bus &&
		    d->devfn == ((dev << 3) | fn))
			return (int32_t)d->devid;
	}
	return -2;
}

/* Is INTx up in PCI_STATUS of @edu, as the device reports it? */
static int edu_intx_up(struct edu_dev *edu, uint64_t cfg, bool *up)
{
	uint16_t status = 0;
	int rc;

	rc = edu_config16(edu, cfg, PCI_STATUS, &status, false);
	*up = !rc && (status & PCI_STATUS_INTERRUPT);
	return rc;
}

/*
 * Raise edu's INTx with an eventfd on it, as a VMM would have it: vfio-pci
 * signals the eventfd and masks the line, which stays up in PCI_STATUS
 * until the device is reset or the cause acked.
 */
static int edu_raise_intx(struct edu_dev *edu, int *efd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	struct pollfd pfd;
	int rc;

	*efd = eventfd(0, EFD_CLOEXEC);
	if (*efd < 0)
		return errno;
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_INTX_IRQ_INDEX;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, efd, sizeof(int32_t));
	rc = ioasid_call(edu->fd, VFIO_DEVICE_SET_IRQS, set);
	if (rc)
		return rc;
	edu_write32(edu->bar, EDU_REG_IRQ_RAISE, 1);
	pfd.fd = *efd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, EDU_DMA_TIMEOUT_MS) != 1)
		return edu_fail(ETIMEDOUT, "no INTx from edu in %d ms",
				EDU_DMA_TIMEOUT_MS);
	return 0;
}

/*
 * The context's devices are reported by their ids in it; one of its group
 * that no fd has bound is owned all the same; one the context cannot own
 * makes the reset impossible, and the flags say so.
 */
TEST_F(edu_reset, info)
{
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devices[8];
	} r;

	/* Asked without room, the count comes back */
	ASSERT_EQ(ENOSPC, reset_info(self->edu.fd, &r.hdr, 0));
	ASSERT_EQ(2, r.hdr.count);
	r.hdr.argsz = offsetof(struct vfio_pci_hot_reset_info, count);
	ASSERT_EQ(EINVAL, ioasid_call(self->edu.fd,
				      VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
				      &r.hdr));

	/* The second function has no driver: not the context's to reset */
	ASSERT_EQ(0, edu_unbind_vfio_pci(self->sib.bdf));
	ASSERT_EQ(0, reset_info(self->edu.fd, &r.hdr, 8));
	ASSERT_EQ(2, r.hdr.count);
	ASSERT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID, r.hdr.flags);
	ASSERT_EQ(self->edu.dev_id, reset_devid(&r.hdr, self->edu.bdf));
	ASSERT_EQ(VFIO_PCI_DEVID_NOT_OWNED, reset_devid(&r.hdr, self->sib.bdf));

	/* On vfio-pci, unopened: the context owns its group, hence it */
	ASSERT_EQ(0, edu_bind_vfio_pci(self->sib.bdf));
	ASSERT_EQ(0, reset_info(self->edu.fd, &r.hdr, 8));
	ASSERT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID |
		  VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED, r.hdr.flags);
	ASSERT_EQ(self->edu.dev_id, reset_devid(&r.hdr, self->edu.bdf));
	ASSERT_EQ(VFIO_PCI_DEVID_OWNED, reset_devid(&r.hdr, self->sib.bdf));

	/* Bound to the context too, by its id, seen from either function */
	ASSERT_EQ(0, edu_cdev_index(self->sib.bdf, &self->sib.index));
	ASSERT_EQ(0, edu_open(&self->sib));
	ASSERT_EQ(0, edu_bind(&self->sib, self->fd));
	ASSERT_NE(self->edu.dev_id, self->sib.dev_id);
	ASSERT_EQ(0, reset_info(self->sib.fd, &r.hdr, 8));
	ASSERT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID |
		  VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED, r.hdr.flags);
	ASSERT_EQ(self->edu.dev_id, reset_devid(&r.hdr, self->edu.bdf));
	ASSERT_EQ(self->sib.dev_id, reset_devid(&r.hdr, self->sib.bdf));
}

/*
 * The reset reaches the device: the INTx it holds up drops, though edu
 * itself still has the cause pending. Its attachment survives, so DMA
 * goes on through the same IOASID.
 */
TEST_F(edu_reset, resets_device)
{
	bool up;
	int efd;

	ASSERT_EQ(0, edu_bind_vfio_pci(self->sib.bdf));
	ASSERT_EQ(0, edu_raise_intx(&self->edu, &efd));
	ASSERT_EQ(0, edu_intx_up(&self->edu, self->cfg, &up));
	ASSERT_TRUE(up);

	ASSERT_EQ(0, hot_reset(self->edu.fd));
	ASSERT_EQ(0, edu_intx_up(&self->edu, self->cfg, &up));
	ASSERT_FALSE(up);
	ASSERT_EQ(1, edu_read32(self->edu.bar, EDU_REG_IRQ_STATUS));

	/* The state vfio-pci restored lets the device work on */
	ASSERT_EQ(0, edu_check_alive(self->edu.bar));
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));

	/*
	 * From the second function, bound to the same context, as well: edu
	 * raises INTx again (vfio-pci keeps the line masked after its first
	 * interrupt, but PCI_STATUS shows it) and that reset drops it too
	 */
	edu_write32(self->edu.bar, EDU_REG_IRQ_RAISE, 1);
	ASSERT_EQ(0, edu_intx_up(&self->edu, self->cfg, &up));
	ASSERT_TRUE(up);
	ASSERT_EQ(0, edu_cdev_index(self->sib.bdf, &self->sib.index));
	ASSERT_EQ(0, edu_open(&self->sib));
	ASSERT_EQ(0, edu_bind(&self->sib, self->fd));
	ASSERT_EQ(0, hot_reset(self->sib.fd));
	ASSERT_EQ(0, edu_intx_up(&self->edu, self->cfg, &up));
	ASSERT_FALSE(up);
	close(efd);
	memset(self->b, 0, MAP_SIZE);
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

/*
 * A reset that is refused, or asked wrongly, leaves the device alone. The
 * refusal here is for a device of the bus that is on no driver; one the
 * caller's context does not own cannot be set up in the rig: the two edu
 * functions share an iommu_group (edu has no ACS), whose DMA, once one of
 * them is bound, belongs to that context alone.
 */
TEST_F(edu_reset, refused)
{
	struct vfio_pci_hot_reset reset = { .argsz = sizeof(reset) };
	bool up;
	int efd;

	ASSERT_EQ(0, edu_unbind_vfio_pci(self->sib.bdf));
	ASSERT_EQ(0, edu_raise_intx(&self->edu, &efd));

	/* The second function is no one's: the bus cannot be reset */
	ASSERT_EQ(EINVAL, hot_reset(self->edu.fd));

	ASSERT_EQ(0, edu_bind_vfio_pci(self->sib.bdf));
	/* Group fds are for devices opened through their group */
	reset.count = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->edu.fd, VFIO_DEVICE_PCI_HOT_RESET,
				      &reset));
	reset.count = 0;
	reset.flags = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->edu.fd, VFIO_DEVICE_PCI_HOT_RESET,
				      &reset));
	reset.flags = 0;
	reset.argsz = offsetof(struct vfio_pci_hot_reset, count);
	ASSERT_EQ(EINVAL, ioasid_call(self->edu.fd, VFIO_DEVICE_PCI_HOT_RESET,
				      &reset));

	/* Through none of them did the device see a reset */
	ASSERT_EQ(0, edu_intx_up(&self->edu, self->cfg, &up));
	ASSERT_TRUE(up);
	close(efd);
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

TEST_HARNESS_MAIN
