// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid as a vfio container: every open /dev/ioasid file answers the
 * container ioctls of vfio's type1 IOMMU driver, and VFIO_GROUP_SET_CONTAINER
 * takes it, so that unmodified vfio users run on /dev/ioasid.
 *
 * What counts is what devices do. Mock vfio devices, opened through their
 * vfio group, do DMA that the mock IOMMU translates by walking the page
 * tables the container filled: a mapped IOVA reads the right page, an
 * unmapped one faults. In the rig's VM, QEMU's edu device does real DMA
 * through the emulated VT-d, on vfio's own type1 container (/dev/vfio/vfio)
 * as a control and on /dev/ioasid with each type1 version. A refused call
 * must leave that DMA, and the memory the process has locked (VmLck),
 * exactly as they were.
 */
#define EDU_LOG_PREFIX "# edu: "

#include <pthread.h>

#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"
#include "edu.h"

/*
 * The mock tests map pages of their buffer from here on, clear of every
 * reserved region: page i of the buffer at IOVA_PAGE(i) unless told
 */
#define IOVA		(16 * SZ_2M)
#define IOVA_PAGE(i)	(IOVA + (uint64_t)(i) * PAGE_SZ)
#define NR_PAGES	16
#define BUF_SIZE	(NR_PAGES * PAGE_SZ)
#define BUF_PAGE(buf, i) ((buf) + (size_t)(i) * PAGE_SZ)
/* "No page of the buffer is mapped", for check_map() */
#define NONE_MAPPED	"................"
/* Bytes a DMA write check writes */
#define DATA_LEN	64
/* The region of a mock vfio device: REGION_SIZE bytes of REGION_BYTE */
#define REGION_SIZE	64
#define REGION_BYTE	0xa5
/* What VFIO_IOMMU_GET_INFO must not write, past the argsz it is given */
#define UNTOUCHED	0x5a
/* Each struct's size up to its last mandatory field, the least vfio takes */
#define INFO_MINSZ \
	(offsetof(struct vfio_iommu_type1_info, iova_pgsizes) + sizeof(__u64))
#define MAP_MINSZ \
	(offsetof(struct vfio_iommu_type1_dma_map, size) + sizeof(__u64))
#define UNMAP_MINSZ \
	(offsetof(struct vfio_iommu_type1_dma_unmap, size) + sizeof(__u64))
/* A vfio ioctl number that means nothing */
#define VFIO_UNKNOWN	_IO(VFIO_TYPE, VFIO_BASE + 60)

/* --- Container ioctls: 0 or the errno, unless said otherwise --- */

/* VFIO_CHECK_EXTENSION: the container's answer, or -errno */
static int vfio_check_extension(int fd, unsigned long ext)
{
	int rc = ioctl(fd, VFIO_CHECK_EXTENSION, ext);

	return rc < 0 ? -errno : rc;
}

static int vfio_unmap_all(int fd, uint64_t *unmapped)
{
	return vfio_unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, unmapped);
}

/* Room for VFIO_IOMMU_GET_INFO and its capabilities */
union info_buf {
	struct vfio_iommu_type1_info info;
	unsigned char bytes[2048];
};

/*
 * VFIO_IOMMU_GET_INFO into @u with argsz @argsz: the struct is zero up to
 * @argsz, and every byte after it UNTOUCHED
 */
static int vfio_get_info(int fd, union info_buf *u, uint32_t argsz)
{
	memset(u, UNTOUCHED, sizeof(*u));
	memset(u, 0, argsz < sizeof(*u) ? argsz : sizeof(*u));
	u->info.argsz = argsz;
	return ioasid_call(fd, VFIO_IOMMU_GET_INFO, u);
}

/* No byte of @u from @from on was written */
static bool info_untouched(const union info_buf *u, size_t from)
{
	size_t i;

	for (i = from; i < sizeof(*u); i++)
		if (u->bytes[i] != UNTOUCHED)
			return false;
	return true;
}

/* Capability @id of the answer in @u, NULL when it has none */
static const struct vfio_info_cap_header *info_cap(const union info_buf *u,
						   uint16_t id)
{
	const struct vfio_info_cap_header *hdr;
	uint32_t off = u->info.cap_offset;
	unsigned int hops;

	for (hops = 0; off && hops != 16; hops++) {
		if (off < sizeof(u->info) || off > sizeof(*u) - sizeof(*hdr))
			return NULL;
		hdr = (const void *)(u->bytes + off);
		if (hdr->id == id)
			return hdr;
		off = hdr->next;
	}
	return NULL;
}

/*
 * The usable IOVA ranges of container @fd, from VFIO_IOMMU_GET_INFO, into
 * @ranges (room for @max): their number, or -1
 */
static int container_ranges(int fd, struct vfio_iova_range *ranges,
			    uint32_t max)
{
	const struct vfio_iommu_type1_info_cap_iova_range *cap;
	union info_buf u;

	if (vfio_get_info(fd, &u, sizeof(u)))
		return -1;
	cap = (const void *)info_cap(&u, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	if (!cap || cap->nr_iovas > max ||
	    (const unsigned char *)&cap->iova_ranges[cap->nr_iovas] >
	    u.bytes + sizeof(u))
		return -1;
	memcpy(ranges, cap->iova_ranges, cap->nr_iovas * sizeof(*ranges));
	return cap->nr_iovas;
}

/* Does a range of @ranges hold a byte of [@first, @last]? */
static bool ranges_hit(const struct vfio_iova_range *ranges, int nr,
		       uint64_t first, uint64_t last)
{
	int i;

	for (i = 0; i < nr; i++)
		if (ranges[i].start <= last && ranges[i].end >= first)
			return true;
	return false;
}

/* --- How every vfio user starts --- */

/*
 * Put @group in container @fd, set IOMMU @type, and open device @name of
 * the group into *@dev: how every vfio user starts
 */
static int container_up(int fd, int group, unsigned long type,
			const char *name, int *dev)
{
	int rc;

	rc = group_set_container(group, fd);
	if (rc)
		return rc;
	rc = vfio_set_iommu(fd, type);
	if (rc)
		return rc;
	return group_device_fd(group, name, dev);
}

/* A new emulated mock vfio device, behind no IOMMU, made by context @mfd */
static int mock_create_emulated(int mfd, uint32_t *mock, uint32_t *index)
{
	struct ioasid_test_cmd cmd = {
		.mock_create.flags = IOASID_TEST_MOCK_VFIO |
				     IOASID_TEST_MOCK_EMULATED,
	};
	int rc = ioasid_test(mfd, IOASID_TEST_MOCK_CREATE, 0, &cmd);

	if (!rc) {
		*mock = cmd.mock_create.out_id;
		*index = cmd.mock_create.out_vfio;
	}
	return rc;
}

/* --- What a mock device does --- */

/* DMA of @mock (made by @mfd) at @iova reads the page at @expect */
static void check_page(struct __test_metadata *_metadata, int mfd,
		       uint32_t mock, uint64_t iova, const unsigned char *expect)
{
	unsigned char got[PAGE_SZ];
	struct dma_result res;

	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mock_dma(mfd, mock, iova, got, sizeof(got), false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
		TH_LOG("DMA at %#llx faults (reason %u)",
		       (unsigned long long)iova, res.fault);
	ASSERT_EQ(sizeof(got), res.done);
	ASSERT_EQ(0, memcmp(got, expect, sizeof(got)))
		TH_LOG("DMA at %#llx reads another page",
		       (unsigned long long)iova);
}

/* A DMA read (or @write) of @mock at @iova faults for @fault */
static void check_fault(struct __test_metadata *_metadata, int mfd,
			uint32_t mock, uint64_t iova, bool write,
			uint32_t fault)
{
	unsigned char data[DATA_LEN];
	struct dma_result res;

	memset(data, 0x3c, sizeof(data));
	ASSERT_EQ(0, mock_dma(mfd, mock, iova, data, sizeof(data), write,
			      &res));
	ASSERT_EQ(fault, res.fault)
		TH_LOG("DMA %s at %#llx: fault %u, not %u",
		       write ? "write" : "read", (unsigned long long)iova,
		       res.fault, fault);
	ASSERT_EQ(0, res.done);
}

/* A DMA write of @mock at @iova lands at @dst */
static void check_write(struct __test_metadata *_metadata, int mfd,
			uint32_t mock, uint64_t iova, unsigned char *dst)
{
	unsigned char data[DATA_LEN];
	struct dma_result res;
	unsigned int i;

	/* Bytes the memory does not hold yet */
	for (i = 0; i != sizeof(data); i++)
		data[i] = ~dst[i];
	ASSERT_EQ(0, mock_dma(mfd, mock, iova, data, sizeof(data), true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
		TH_LOG("DMA write at %#llx faults (reason %u)",
		       (unsigned long long)iova, res.fault);
	ASSERT_EQ(sizeof(data), res.done);
	ASSERT_EQ(0, memcmp(dst, data, sizeof(data)))
		TH_LOG("DMA write at %#llx landed elsewhere",
		       (unsigned long long)iova);
}

/*
 * DMA of @mock at IOVA_PAGE(i) reads page i of @buf where @map has an 'x',
 * and finds nothing mapped where it has a '.'
 */
static void check_map(struct __test_metadata *_metadata, int mfd,
		      uint32_t mock, const unsigned char *buf, const char *map)
{
	unsigned int i;

	for (i = 0; map[i]; i++) {
		if (map[i] == 'x')
			check_page(_metadata, mfd, mock, IOVA_PAGE(i),
				   BUF_PAGE(buf, i));
		else
			check_fault(_metadata, mfd, mock, IOVA_PAGE(i), false,
				    IOASID_TEST_FAULT_NOT_PRESENT);
	}
}

/* The pages a map string of check_map() maps */
static long map_pages(const char *map)
{
	long n = 0;

	for (; *map; map++)
		n += *map == 'x';
	return n;
}

/* The device fd is the device's: its region reads the mock's bytes */
static void check_device_fd(struct __test_metadata *_metadata, int dev)
{
	unsigned char region[2 * REGION_SIZE];
	unsigned int i;

	memset(region, 0, sizeof(region));
	ASSERT_EQ(REGION_SIZE, pread(dev, region, sizeof(region), 0));
	for (i = 0; i != REGION_SIZE; i++)
		ASSERT_EQ(REGION_BYTE, region[i]);
}

/*
 * A container (a /dev/ioasid fd) and a mock vfio device behind mock IOMMU
 * instance 0 with its group open; the device is made by another context,
 * which does its DMA. The variants set the container up as type1v2 or as
 * type1 (v1).
 */
FIXTURE(compat) {
	int mfd;		/* Context of the mock devices */
	int fd;			/* The container */
	uint32_t mock;
	uint32_t index;
	char name[64];
	int group;
	int dev;
	unsigned char *buf;	/* NR_PAGES pages, each its own bytes */
	long base;		/* Pages locked before the test */
};

FIXTURE_VARIANT(compat) {
	unsigned long type;
};

FIXTURE_VARIANT_ADD(compat, type1v2) {
	.type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_VARIANT_ADD(compat, type1) {
	.type = VFIO_TYPE1_IOMMU,
};

FIXTURE_SETUP(compat)
{
	self->group = -1;
	self->dev = -1;
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_SIZE, 1);
	self->base = locked_pages();
	ASSERT_LE(0, self->base);
	self->mfd = ioasid_open();
	ASSERT_LE(0, self->mfd);
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	self->group = mock_group_new(self->mfd, 0, &self->mock, &self->index,
				     self->name, sizeof(self->name));
	ASSERT_LE(0, self->group)
		TH_LOG("no mock vfio device in a group: VFIO_GROUP=y?");
}

FIXTURE_TEARDOWN(compat)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->group >= 0)
		close(self->group);
	if (self->fd >= 0)
		close(self->fd);
	close(self->mfd);
	munmap(self->buf, BUF_SIZE);
}

/* The group in the container, the variant's type set, the device open */
#define COMPAT_UP()							\
	ASSERT_EQ(0, container_up(self->fd, self->group, variant->type,	\
				  self->name, &self->dev))

#define CHECK_MAP(map) \
	check_map(_metadata, self->mfd, self->mock, self->buf, map)
#define CHECK_PAGE(iova, page) \
	check_page(_metadata, self->mfd, self->mock, iova, \
		   BUF_PAGE(self->buf, page))
#define CHECK_FAULT(iova, write, fault) \
	check_fault(_metadata, self->mfd, self->mock, iova, write, fault)
/* Exactly @pages more pages are locked than before the test */
#define CHECK_CHARGE(pages) ASSERT_EQ(self->base + (pages), locked_pages())

/* The extensions a container reports, whatever its state */
static const struct {
	unsigned long ext;
	int val;
} extensions[] = {
	{ VFIO_TYPE1_IOMMU, 1 },
	{ VFIO_TYPE1v2_IOMMU, 1 },
	{ VFIO_UNMAP_ALL, 1 },
	{ VFIO_TYPE1_NESTING_IOMMU, 0 },
	{ VFIO_UPDATE_VADDR, 0 },
	{ VFIO_NOIOMMU_IOMMU, 0 },
	{ VFIO_SPAPR_TCE_IOMMU, 0 },
	{ VFIO_SPAPR_TCE_v2_IOMMU, 0 },
	{ VFIO_EEH, 0 },
	{ 12345, 0 },
};

static void check_extensions(struct __test_metadata *_metadata, int fd)
{
	unsigned int i;

	ASSERT_EQ(VFIO_API_VERSION, ioctl(fd, VFIO_GET_API_VERSION));
	for (i = 0; i != ARRAY_SIZE(extensions); i++)
		ASSERT_EQ(extensions[i].val,
			  vfio_check_extension(fd, extensions[i].ext))
			TH_LOG("VFIO_CHECK_EXTENSION(%lu)", extensions[i].ext);
}

/*
 * Before a group is in it and its IOMMU type set, the container answers
 * what needs no IOMMU (the API version, the extensions) and refuses the
 * rest with EINVAL; the device cannot be opened and does no DMA. Once set
 * up, the device finds nothing of what the refused MAP_DMAs asked for.
 */
TEST_F(compat, before_set_iommu)
{
	struct dma_result res;
	unsigned char byte;
	union info_buf u;

	check_extensions(_metadata, self->fd);
	ASSERT_EQ(0, vfio_check_extension(self->fd, VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(EINVAL, vfio_get_info(self->fd, &u, sizeof(u)));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, BUF_SIZE,
				       DMA_RW));
	ASSERT_EQ(EINVAL, vfio_unmap_dma(self->fd, IOVA, BUF_SIZE, 0, NULL));
	ASSERT_EQ(EINVAL, vfio_unmap_all(self->fd, NULL));
	ASSERT_EQ(ENOTTY, ioasid_call(self->fd, VFIO_UNKNOWN, NULL));
	ASSERT_EQ(EINVAL, group_device_fd(self->group, self->name, &self->dev));
	CHECK_CHARGE(0);

	/* A group alone gives no IOMMU yet */
	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	check_extensions(_metadata, self->fd);
	ASSERT_EQ(0, vfio_check_extension(self->fd, VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(EINVAL, vfio_get_info(self->fd, &u, sizeof(u)));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, BUF_SIZE,
				       DMA_RW));
	ASSERT_EQ(EINVAL, vfio_unmap_dma(self->fd, IOVA, BUF_SIZE, 0, NULL));
	ASSERT_EQ(EINVAL, group_device_fd(self->group, self->name, &self->dev));
	/* Never opened, the device is bound to nothing: its DMA is blocked */
	ASSERT_EQ(0, mock_dma(self->mfd, self->mock, IOVA, &byte, 1, false,
			      &res));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED, res.fault);
	ASSERT_EQ(0, res.done);
	CHECK_CHARGE(0);

	ASSERT_EQ(0, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(0, group_device_fd(self->group, self->name, &self->dev));
	check_device_fd(_metadata, self->dev);
	CHECK_MAP(NONE_MAPPED);
	CHECK_CHARGE(0);
}

/*
 * VFIO_SET_IOMMU takes either type1 version, once. Another type is
 * refused with ENODEV and leaves the container unset, as it was; with a
 * type set, the container still reports the same extensions (and no cache
 * coherency, which the mock IOMMU cannot enforce), refuses dirty tracking
 * and unknown ioctls.
 */
TEST_F(compat, set_iommu)
{
	const unsigned long bad_types[] = {
		0, VFIO_SPAPR_TCE_IOMMU, VFIO_TYPE1_NESTING_IOMMU,
		VFIO_SPAPR_TCE_v2_IOMMU, VFIO_NOIOMMU_IOMMU, 12345,
	};
	struct vfio_iommu_type1_dirty_bitmap dirty = {
		.argsz = sizeof(dirty),
	};
	unsigned int i;

	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	for (i = 0; i != ARRAY_SIZE(bad_types); i++) {
		ASSERT_EQ(ENODEV, vfio_set_iommu(self->fd, bad_types[i]))
			TH_LOG("VFIO_SET_IOMMU(%lu)", bad_types[i]);
		ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA,
					       PAGE_SZ, DMA_RW));
		ASSERT_EQ(EINVAL, group_device_fd(self->group, self->name,
						  &self->dev));
	}
	CHECK_CHARGE(0);

	ASSERT_EQ(0, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, VFIO_TYPE1_IOMMU));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, VFIO_TYPE1v2_IOMMU));
	check_extensions(_metadata, self->fd);
	/* The mock IOMMU never enforces coherency: type1 would say 0 too */
	ASSERT_EQ(0, vfio_check_extension(self->fd, VFIO_DMA_CC_IOMMU));
	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, VFIO_IOMMU_DIRTY_PAGES,
					  &dirty));
	dirty.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, VFIO_IOMMU_DIRTY_PAGES,
					  &dirty));
	ASSERT_EQ(ENOTTY, ioasid_call(self->fd, VFIO_UNKNOWN, NULL));

	/* The container works, with the type first set */
	ASSERT_EQ(0, group_device_fd(self->group, self->name, &self->dev));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	CHECK_MAP("xx..............");
	CHECK_CHARGE(2);
}

/*
 * The group side is vfio's: VFIO_GROUP_SET_CONTAINER takes a /dev/ioasid
 * fd once and VFIO_GROUP_GET_STATUS says so; a second container, or the
 * same again, is refused. Unset, the group goes into another container,
 * whose mappings the device then reaches.
 */
TEST_F(compat, group_status)
{
	uint32_t flags;
	int fd2;

	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, group_flags(self->group, &flags));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE, flags);
	ASSERT_EQ(EINVAL, group_unset_container(self->group));

	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	ASSERT_EQ(0, group_flags(self->group, &flags));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		  flags);
	ASSERT_EQ(EINVAL, group_set_container(self->group, self->fd));
	ASSERT_EQ(EINVAL, group_set_container(self->group, fd2));
	ASSERT_EQ(0, group_flags(self->group, &flags));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		  flags);
	/* fd2 got no group: it has no IOMMU to set */
	ASSERT_EQ(EINVAL, vfio_set_iommu(fd2, variant->type));

	ASSERT_EQ(0, group_unset_container(self->group));
	ASSERT_EQ(0, group_flags(self->group, &flags));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE, flags);
	ASSERT_EQ(EINVAL, group_unset_container(self->group));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, variant->type));

	ASSERT_EQ(0, container_up(fd2, self->group, variant->type, self->name,
				  &self->dev));
	ASSERT_EQ(0, vfio_map_dma(fd2, BUF_PAGE(self->buf, 3), IOVA, PAGE_SZ,
				  DMA_RW));
	CHECK_PAGE(IOVA, 3);
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA_PAGE(1),
				       PAGE_SZ, DMA_RW));
	CHECK_FAULT(IOVA_PAGE(1), false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_CHARGE(1);
	close(self->dev);
	self->dev = -1;
	ASSERT_EQ(0, group_unset_container(self->group));
	CHECK_CHARGE(0);
	close(fd2);
}

/*
 * MAP_DMA with READ and WRITE: the device reads each page of the memory at
 * its IOVA, and its writes land in it; with READ alone its writes fault,
 * with WRITE alone its reads. Nothing around the mappings translates.
 * Each page is charged once, until UNMAP_DMA, which writes back the size
 * it unmapped.
 */
TEST_F(compat, map_translate)
{
	uint64_t unmapped = 0;

	COMPAT_UP();
	check_device_fd(_metadata, self->dev);
	CHECK_MAP(NONE_MAPPED);

	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 4 * PAGE_SZ,
				  DMA_RW));
	CHECK_MAP("xxxx............");
	CHECK_CHARGE(4);
	check_write(_metadata, self->mfd, self->mock, IOVA_PAGE(2) + 100,
		    BUF_PAGE(self->buf, 2) + 100);
	CHECK_MAP("xxxx............");

	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 6),
				  IOVA_PAGE(6), PAGE_SZ,
				  VFIO_DMA_MAP_FLAG_READ));
	CHECK_PAGE(IOVA_PAGE(6), 6);
	CHECK_FAULT(IOVA_PAGE(6), true, IOASID_TEST_FAULT_PERMISSION);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 8),
				  IOVA_PAGE(8), PAGE_SZ,
				  VFIO_DMA_MAP_FLAG_WRITE));
	check_write(_metadata, self->mfd, self->mock, IOVA_PAGE(8),
		    BUF_PAGE(self->buf, 8));
	CHECK_FAULT(IOVA_PAGE(8), false, IOASID_TEST_FAULT_PERMISSION);
	CHECK_FAULT(IOVA_PAGE(7), false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_FAULT(IOVA_PAGE(9), true, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_CHARGE(6);

	ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA, 4 * PAGE_SZ, 0, &unmapped));
	ASSERT_EQ(4 * PAGE_SZ, unmapped);
	CHECK_MAP("....");
	CHECK_PAGE(IOVA_PAGE(6), 6);
	CHECK_CHARGE(2);
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA_PAGE(6), 3 * PAGE_SZ, 0,
				    &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	CHECK_FAULT(IOVA_PAGE(6), false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_FAULT(IOVA_PAGE(8), true, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_CHARGE(0);
}

/* The answer in @u has the flags, and the page sizes of @type */
static void check_info(struct __test_metadata *_metadata,
		       const union info_buf *u, unsigned long type)
{
	const uint32_t flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;

	ASSERT_EQ(flags, u->info.flags & flags);
	ASSERT_NE(0, u->info.iova_pgsizes & PAGE_SZ);
	/* v1 maps no huge IOMMU page: any page-aligned UNMAP_DMA can cut */
	if (type == VFIO_TYPE1_IOMMU)
		ASSERT_EQ(PAGE_SZ, u->info.iova_pgsizes);
}

/*
 * VFIO_IOMMU_GET_INFO: the page sizes, and the usable IOVA ranges and the
 * room for more mappings as capabilities (and no migration capability,
 * as dirty tracking is refused). A short argsz is raised to the
 * size needed, and nothing is written past the argsz given. The ranges are
 * what MAP_DMA takes: their first and last pages map and translate, the
 * pages just outside them are refused, and the devices' reserved region
 * is in none.
 */
TEST_F(compat, get_info)
{
	const uint32_t minsz = INFO_MINSZ;
	const struct vfio_iommu_type1_info_cap_iova_range *iovas = NULL;
	const struct vfio_iommu_type1_info_dma_avail *avail = NULL;
	const struct vfio_info_cap_header *hdr = NULL;
	const struct vfio_iova_range *r;
	uint32_t needed, off, i;
	uint32_t short_sizes[2];
	union info_buf u;
	uint64_t last;

	COMPAT_UP();
	ASSERT_EQ(EINVAL, vfio_get_info(self->fd, &u, 0));
	ASSERT_EQ(EINVAL, vfio_get_info(self->fd, &u, minsz - 1));

	/* Room for the page sizes only */
	ASSERT_EQ(0, vfio_get_info(self->fd, &u, minsz));
	check_info(_metadata, &u, variant->type);
	needed = u.info.argsz;
	ASSERT_LT(sizeof(u.info), needed);
	ASSERT_GE(sizeof(u), needed);
	ASSERT_TRUE(info_untouched(&u, minsz));

	/* Room for the struct, not for its capabilities: none given */
	short_sizes[0] = sizeof(u.info);
	short_sizes[1] = needed - 1;
	for (i = 0; i != ARRAY_SIZE(short_sizes); i++) {
		ASSERT_EQ(0, vfio_get_info(self->fd, &u, short_sizes[i]));
		check_info(_metadata, &u, variant->type);
		ASSERT_EQ(needed, u.info.argsz);
		ASSERT_EQ(0, u.info.cap_offset);
		/* Nothing written past the struct: zero as passed, then untouched */
		for (off = sizeof(u.info); off < short_sizes[i]; off++)
			ASSERT_EQ(0, u.bytes[off]);
		ASSERT_TRUE(info_untouched(&u, short_sizes[i]));
	}

	/* Exactly the room needed: the capabilities right after the struct */
	ASSERT_EQ(0, vfio_get_info(self->fd, &u, needed));
	check_info(_metadata, &u, variant->type);
	ASSERT_EQ(sizeof(u.info), u.info.cap_offset);
	ASSERT_TRUE(info_untouched(&u, needed));
	for (off = u.info.cap_offset, i = 0; off; off = hdr->next, i++) {
		ASSERT_GT(16, i);
		ASSERT_LE(sizeof(u.info), off);
		ASSERT_GE(needed, off + sizeof(*hdr));
		hdr = (const void *)(u.bytes + off);
		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			ASSERT_EQ(NULL, iovas);
			ASSERT_EQ(1, hdr->version);
			iovas = (const void *)hdr;
		} else if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			ASSERT_EQ(NULL, avail);
			ASSERT_EQ(1, hdr->version);
			ASSERT_GE(needed, off + sizeof(*avail));
			avail = (const void *)hdr;
		}
	}
	ASSERT_NE(NULL, avail);
	/* No limit of the container's own */
	ASSERT_EQ(UINT32_MAX, avail->avail);
	/*
	 * No dirty tracking: no migration capability either, which would tell
	 * QEMU to start VFIO_IOMMU_DIRTY_PAGES
	 */
	ASSERT_EQ(NULL, info_cap(&u, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION));
	ASSERT_NE(NULL, iovas);
	ASSERT_LT(0, iovas->nr_iovas);
	ASSERT_GE((uintptr_t)u.bytes + needed,
		  (uintptr_t)&iovas->iova_ranges[iovas->nr_iovas]);

	for (i = 0; i != iovas->nr_iovas; i++) {
		r = &iovas->iova_ranges[i];
		TH_LOG("IOVA range %#llx-%#llx", (unsigned long long)r->start,
		       (unsigned long long)r->end);
		ASSERT_LE(r->start, r->end);
		ASSERT_EQ(0, r->start % PAGE_SZ);
		ASSERT_EQ(0, (r->end + 1) % PAGE_SZ);
		if (i)
			ASSERT_LT(iovas->iova_ranges[i - 1].end, r->start);
	}
	/* The reserved region of instance 0's devices is usable by none */
	ASSERT_FALSE(ranges_hit(iovas->iova_ranges, iovas->nr_iovas,
				IOASID_TEST_RESV_START_0,
				IOASID_TEST_RESV_START_0 +
				IOASID_TEST_RESV_SIZE - 1));

	/* MAP_DMA takes the first and last page of each, and nothing else */
	for (i = 0; i != iovas->nr_iovas; i++) {
		r = &iovas->iova_ranges[i];
		last = r->end + 1 - PAGE_SZ;
		ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, r->start,
					  PAGE_SZ, DMA_RW));
		CHECK_PAGE(r->start, 0);
		if (last != r->start) {
			ASSERT_EQ(0, vfio_map_dma(self->fd,
						  BUF_PAGE(self->buf, 1),
						  last, PAGE_SZ, DMA_RW));
			CHECK_PAGE(last, 1);
		}
		ASSERT_EQ(0, vfio_unmap_all(self->fd, NULL));
		if (r->start && (!i || iovas->iova_ranges[i - 1].end !=
				 r->start - 1))
			ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf,
						       r->start - PAGE_SZ,
						       PAGE_SZ, DMA_RW))
				TH_LOG("page before %#llx",
				       (unsigned long long)r->start);
		if (r->end != UINT64_MAX &&
		    (i + 1 == iovas->nr_iovas ||
		     iovas->iova_ranges[i + 1].start != r->end + 1))
			ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf,
						       r->end + 1, PAGE_SZ,
						       DMA_RW))
				TH_LOG("page after %#llx",
				       (unsigned long long)r->end);
	}
	CHECK_CHARGE(0);
}

/* A MAP_DMA that must fail; @probe, if not 0, must stay unmapped */
struct bad_map {
	const char *what;
	uint32_t argsz;
	uint32_t flags;
	uint64_t vaddr;
	uint64_t iova;
	uint64_t size;
	int err;
	uint64_t probe;
};

/*
 * MAP_DMA of bad input fails with the errno of its fault, and changes
 * nothing: the mapping there translates as before, nothing new is mapped,
 * nothing more is charged. Each call has one fault only.
 */
TEST_F(compat, map_bad_input)
{
	const uint32_t argsz = sizeof(struct vfio_iommu_type1_dma_map);
	const uint32_t short_argsz = MAP_MINSZ - 1;
	const uint64_t sz = 2 * PAGE_SZ, iova = IOVA_PAGE(4);
	const uint64_t va = (uintptr_t)BUF_PAGE(self->buf, 4);
	const uint64_t kernel = 0xffff888000000000ULL;
	const uint64_t top = -PAGE_SZ, far = 1ULL << 63;
	/* Memory whose last two pages go before the calls */
	unsigned char *mem = alloc_buf(4 * PAGE_SZ);
	const uint64_t hole = (uintptr_t)mem + 2 * PAGE_SZ;
	const struct bad_map bad[] = {
		{ "argsz 0", 0, DMA_RW, va, iova, sz, EINVAL, iova },
		{ "argsz short", short_argsz, DMA_RW, va, iova, sz, EINVAL,
		  iova },
		{ "unknown flag", argsz, DMA_RW | 1 << 3, va, iova, sz, EINVAL,
		  iova },
		{ "flag 31", argsz, DMA_RW | 1U << 31, va, iova, sz, EINVAL,
		  iova },
		{ "VADDR", argsz, DMA_RW | VFIO_DMA_MAP_FLAG_VADDR, va, iova,
		  sz, EOPNOTSUPP, iova },
		{ "neither READ nor WRITE", argsz, 0, va, iova, sz, EINVAL,
		  iova },
		{ "size 0", argsz, DMA_RW, va, iova, 0, EINVAL, iova },
		{ "IOVA in a page", argsz, DMA_RW, va, iova + 2048, sz, EINVAL,
		  iova },
		{ "vaddr in a page", argsz, DMA_RW, va + 2048, iova, sz, EINVAL,
		  iova },
		{ "size in pages and a half", argsz, DMA_RW, va, iova,
		  sz + 2048, EINVAL, iova },
		{ "IOVA wraps", argsz, DMA_RW, va, top, sz, EINVAL, 0 },
		{ "vaddr wraps", argsz, DMA_RW, top, iova, sz, EINVAL, iova },
		{ "reserved IOVA", argsz, DMA_RW, va, IOASID_TEST_RESV_START_0,
		  sz, EINVAL, IOASID_TEST_RESV_START_0 },
		{ "IOVA beyond the ranges", argsz, DMA_RW, va, far, sz, EINVAL,
		  0 },
		{ "the same IOVA", argsz, DMA_RW, va, IOVA, sz, EEXIST, 0 },
		{ "its first page", argsz, DMA_RW, va, IOVA - PAGE_SZ, sz,
		  EEXIST, IOVA - PAGE_SZ },
		{ "its last page", argsz, DMA_RW, va, IOVA + PAGE_SZ, sz,
		  EEXIST, IOVA + sz },
		{ "all of it", argsz, DMA_RW, va, IOVA - PAGE_SZ, 2 * sz,
		  EEXIST, IOVA + sz },
		{ "inside it", argsz, DMA_RW, va, IOVA + PAGE_SZ, PAGE_SZ,
		  EEXIST, 0 },
		{ "no memory", argsz, DMA_RW, hole, iova, sz, EFAULT, iova },
		{ "memory that ends early", argsz, DMA_RW, (uintptr_t)mem, iova,
		  4 * PAGE_SZ, EFAULT, iova },
		{ "kernel memory", argsz, DMA_RW, kernel, iova, sz, EFAULT,
		  iova },
	};
	struct vfio_iommu_type1_dma_map cmd;
	struct vfio_iova_range ranges[16];
	unsigned int i;
	int nr;

	ASSERT_NE(NULL, mem);
	memset(mem, 1, 4 * PAGE_SZ);
	ASSERT_EQ(0, munmap(mem + 2 * PAGE_SZ, 2 * PAGE_SZ));
	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, sz, DMA_RW));
	nr = container_ranges(self->fd, ranges, ARRAY_SIZE(ranges));
	ASSERT_LT(0, nr);
	ASSERT_FALSE(ranges_hit(ranges, nr, far, far + sz - 1));

	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.argsz = bad[i].argsz;
		cmd.flags = bad[i].flags;
		cmd.vaddr = bad[i].vaddr;
		cmd.iova = bad[i].iova;
		cmd.size = bad[i].size;
		ASSERT_EQ(bad[i].err, ioasid_call(self->fd, VFIO_IOMMU_MAP_DMA,
						  &cmd))
			TH_LOG("MAP_DMA: %s", bad[i].what);
		CHECK_MAP("xx..............");
		if (bad[i].probe)
			CHECK_FAULT(bad[i].probe, false,
				    IOASID_TEST_FAULT_NOT_PRESENT);
		CHECK_CHARGE(2);
	}
	munmap(mem, 2 * PAGE_SZ);
}

/*
 * Past RLIMIT_MEMLOCK, without CAP_IPC_LOCK, MAP_DMA fails with ENOMEM and
 * maps and charges nothing. Memory pinned already costs nothing more: it
 * maps again at another IOVA even at the limit. UNMAP_DMA gives back the
 * charge of what no mapping uses any more.
 */
TEST_F(compat, map_memlock)
{
	const unsigned long limit = 8;
	uint64_t unmapped;

	COMPAT_UP();
	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, set_memlock_pages(self->base + limit));

	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA,
				  (limit - 1) * PAGE_SZ, DMA_RW));
	CHECK_CHARGE(limit - 1);
	ASSERT_EQ(ENOMEM, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 8),
				       IOVA_PAGE(8), 2 * PAGE_SZ, DMA_RW));
	CHECK_MAP("xxxxxxx.........");
	CHECK_CHARGE(limit - 1);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 7),
				  IOVA_PAGE(7), PAGE_SZ, DMA_RW));
	CHECK_MAP("xxxxxxxx........");
	CHECK_CHARGE(limit);

	/* At the limit: the same memory again maps, new memory does not */
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA + SZ_2M,
				  (limit - 1) * PAGE_SZ, DMA_RW));
	CHECK_PAGE(IOVA + SZ_2M + 3 * PAGE_SZ, 3);
	CHECK_CHARGE(limit);
	ASSERT_EQ(ENOMEM, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 8),
				       IOVA_PAGE(8), PAGE_SZ, DMA_RW));
	CHECK_MAP("xxxxxxxx........");
	CHECK_CHARGE(limit);

	/* The memory stays charged while a mapping uses it */
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA + SZ_2M,
				    (limit - 1) * PAGE_SZ, 0, &unmapped));
	ASSERT_EQ((limit - 1) * PAGE_SZ, unmapped);
	CHECK_CHARGE(limit);
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA_PAGE(7), PAGE_SZ, 0,
				    &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	CHECK_CHARGE(limit - 1);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 8),
				  IOVA_PAGE(8), PAGE_SZ, DMA_RW));
	CHECK_MAP("xxxxxxx.x.......");
	CHECK_CHARGE(limit);
}

/*
 * The same memory mapped at two IOVAs, and part of it at a third, is
 * pinned and charged once (type1 charges it at each); the device reaches
 * the same pages through each IOVA. The charge stays while any mapping
 * uses the memory. UNMAP ALL unmaps what is left and writes back its total
 * size.
 */
TEST_F(compat, pin_once)
{
	const uint64_t a = IOVA, b = IOVA + SZ_2M, c = IOVA + 2 * SZ_2M;
	uint64_t unmapped;
	unsigned int i;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, a, 4 * PAGE_SZ,
				  DMA_RW));
	CHECK_CHARGE(4);
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, b, 4 * PAGE_SZ,
				  DMA_RW));
	CHECK_CHARGE(4);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 1), c,
				  2 * PAGE_SZ, DMA_RW));
	CHECK_CHARGE(4);

	/* What the device writes through one, it reads through the others */
	check_write(_metadata, self->mfd, self->mock, b + PAGE_SZ + 8,
		    BUF_PAGE(self->buf, 1) + 8);
	for (i = 0; i != 4; i++) {
		CHECK_PAGE(a + i * PAGE_SZ, i);
		CHECK_PAGE(b + i * PAGE_SZ, i);
	}
	CHECK_PAGE(c, 1);
	CHECK_PAGE(c + PAGE_SZ, 2);

	ASSERT_EQ(0, vfio_unmap_dma(self->fd, a, 4 * PAGE_SZ, 0, &unmapped));
	ASSERT_EQ(4 * PAGE_SZ, unmapped);
	CHECK_FAULT(a, false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_PAGE(b, 0);
	CHECK_PAGE(c, 1);
	CHECK_CHARGE(4);

	unmapped = 0;
	ASSERT_EQ(0, vfio_unmap_all(self->fd, &unmapped));
	ASSERT_EQ(6 * PAGE_SZ, unmapped);
	CHECK_FAULT(b, false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_FAULT(c + PAGE_SZ, false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_CHARGE(0);
	ASSERT_EQ(0, vfio_unmap_all(self->fd, &unmapped));
	ASSERT_EQ(0, unmapped);
}

/*
 * UNMAP_DMA of bad input fails with the errno of its fault and unmaps
 * nothing; but for its fault, each call would unmap the mapping.
 */
TEST_F(compat, unmap_bad_input)
{
	const uint32_t argsz = sizeof(struct vfio_iommu_type1_dma_unmap);
	const uint64_t sz = 2 * PAGE_SZ;
	const struct {
		const char *what;
		uint32_t argsz;
		uint32_t flags;
		uint64_t iova;
		uint64_t size;
		int err;
	} bad[] = {
		{ "argsz 0", 0, 0, IOVA, sz, EINVAL },
		{ "argsz short", UNMAP_MINSZ - 1, 0, IOVA, sz, EINVAL },
		{ "unknown flag", argsz, 1 << 3, IOVA, sz, EINVAL },
		{ "flag 31", argsz, 1U << 31, IOVA, sz, EINVAL },
		{ "VADDR", argsz, VFIO_DMA_UNMAP_FLAG_VADDR, IOVA, sz,
		  EOPNOTSUPP },
		{ "ALL with an IOVA", argsz, VFIO_DMA_UNMAP_FLAG_ALL, IOVA, 0,
		  EINVAL },
		{ "ALL with a size", argsz, VFIO_DMA_UNMAP_FLAG_ALL, 0, sz,
		  EINVAL },
		{ "size 0", argsz, 0, IOVA, 0, EINVAL },
		{ "IOVA in a page", argsz, 0, IOVA + 2048, sz, EINVAL },
		{ "size in pages and a half", argsz, 0, IOVA, sz + 2048,
		  EINVAL },
	};
	union {
		struct vfio_iommu_type1_dma_unmap unmap;
		unsigned char bytes[sizeof(struct vfio_iommu_type1_dma_unmap) +
				    sizeof(struct vfio_bitmap)];
	} arg;
	struct vfio_bitmap bitmap = { .pgsize = PAGE_SZ, .size = 8 };
	uint64_t bits = 0;
	unsigned int i;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, sz, DMA_RW));
	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		memset(&arg, 0, sizeof(arg));
		arg.unmap.argsz = bad[i].argsz;
		arg.unmap.flags = bad[i].flags;
		arg.unmap.iova = bad[i].iova;
		arg.unmap.size = bad[i].size;
		ASSERT_EQ(bad[i].err, ioasid_call(self->fd,
						  VFIO_IOMMU_UNMAP_DMA, &arg))
			TH_LOG("UNMAP_DMA: %s", bad[i].what);
		CHECK_MAP("xx..............");
		CHECK_CHARGE(2);
	}

	/* Dirty tracking, asked right as type1 would have it */
	bitmap.data = (void *)&bits;
	memset(&arg, 0, sizeof(arg));
	arg.unmap.argsz = sizeof(arg);
	arg.unmap.flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	arg.unmap.iova = IOVA;
	arg.unmap.size = sz;
	memcpy(arg.bytes + sizeof(arg.unmap), &bitmap, sizeof(bitmap));
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, VFIO_IOMMU_UNMAP_DMA,
					  &arg));
	CHECK_MAP("xx..............");
	CHECK_CHARGE(2);
}

/*
 * UNMAP_DMA over mappings of 3, 2, 1 and 4 pages with holes between them,
 * by ranges that miss them, cover them, or cut into them. v2 unmaps whole
 * mappings only: a range that bisects one is refused and unmaps nothing.
 * v1 unmaps exactly the range, whatever it cuts. Either way the size
 * written back is what was mapped in the range, the device finds exactly
 * the rest, and only the rest is charged.
 */
TEST_F(compat, unmap_ranges)
{
	static const struct {
		unsigned int first;
		unsigned int n;
		bool bisects;		/* Cuts into a mapping: v2 refuses */
	} calls[] = {
		{ 14, 2, false },	/* Nothing there */
		{ 1, 1, true },		/* The middle of the first */
		{ 2, 3, true },		/* The end of the first, start of 2nd */
		{ 0, 2, true },		/* The start of the first */
		{ 5, 3, true },		/* The end of the second */
		{ 3, 6, false },	/* The second and third, whole */
		{ 11, 1, true },	/* Inside the fourth */
		{ 9, 7, false },	/* The fourth, whole */
		{ 0, 3, false },	/* The first, whole */
	};
	bool v1 = variant->type == VFIO_TYPE1_IOMMU;
	char map[] = "xxx.xx..x.xxxx..";
	unsigned int i, j, first, last;
	uint64_t unmapped, want;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 3 * PAGE_SZ,
				  DMA_RW));
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 4),
				  IOVA_PAGE(4), 2 * PAGE_SZ, DMA_RW));
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 8),
				  IOVA_PAGE(8), PAGE_SZ, DMA_RW));
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 10),
				  IOVA_PAGE(10), 4 * PAGE_SZ, DMA_RW));
	CHECK_MAP(map);
	CHECK_CHARGE(map_pages(map));

	for (i = 0; i != ARRAY_SIZE(calls); i++) {
		first = calls[i].first;
		last = first + calls[i].n - 1;
		if (!v1 && calls[i].bisects) {
			ASSERT_EQ(EINVAL, vfio_unmap_dma(self->fd,
							 IOVA_PAGE(first),
							 calls[i].n * PAGE_SZ,
							 0, NULL))
				TH_LOG("pages %u-%u of %s", first, last, map);
		} else {
			want = 0;
			for (j = first; j <= last; j++) {
				want += map[j] == 'x' ? PAGE_SZ : 0;
				map[j] = '.';
			}
			unmapped = ~0ULL;
			ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA_PAGE(first),
						    calls[i].n * PAGE_SZ, 0,
						    &unmapped))
				TH_LOG("pages %u-%u", first, last);
			ASSERT_EQ(want, unmapped)
				TH_LOG("pages %u-%u", first, last);
		}
		CHECK_MAP(map);
		CHECK_CHARGE(map_pages(map));
	}
	ASSERT_STREQ(NONE_MAPPED, map);
}

/*
 * Memory in a transparent huge page, mapped 2 MiB aligned: in v1 the IOMMU
 * maps it with pages of 4 KiB, so that any page of it can be unmapped and
 * the rest works on. v2 may map a 2 MiB page; it refuses the cut anyway.
 */
TEST_F(compat, huge_backing)
{
	bool v1 = variant->type == VFIO_TYPE1_IOMMU;
	const unsigned int npages = SZ_2M / PAGE_SZ;
	unsigned char *raw, *huge;
	struct dma_result res;
	uint64_t unmapped;
	unsigned char byte;
	unsigned int i;

	raw = mmap(NULL, 2 * SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	huge = (unsigned char *)(((uintptr_t)raw + SZ_2M - 1) & ~(SZ_2M - 1));
	if (madvise(huge, SZ_2M, MADV_HUGEPAGE)) {
		munmap(raw, 2 * SZ_2M);
		SKIP(return, "no THP");
	}
	fill_pattern(huge, SZ_2M, 9);
	if (thp_bytes(huge) < (long)SZ_2M) {
		munmap(raw, 2 * SZ_2M);
		SKIP(return, "no THP page to be had");
	}
	/* The pattern repeats every 256 pages: number them */
	for (i = 0; i != npages; i++)
		memcpy(BUF_PAGE(huge, i), &i, sizeof(i));

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, huge, IOVA, SZ_2M, DMA_RW));
	CHECK_CHARGE(npages);
	ASSERT_EQ(0, mock_dma(self->mfd, self->mock, IOVA, &byte, 1, false,
			      &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	TH_LOG("translated by an IOMMU page of %llu KiB",
	       (unsigned long long)res.pgsize / 1024);

	if (v1) {
		ASSERT_EQ(PAGE_SZ, res.pgsize);
		ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA_PAGE(5), PAGE_SZ, 0,
					    &unmapped));
		ASSERT_EQ(PAGE_SZ, unmapped);
		CHECK_FAULT(IOVA_PAGE(5), false,
			    IOASID_TEST_FAULT_NOT_PRESENT);
		CHECK_CHARGE(npages - 1);
	} else {
		/* v2 keeps large IOMMU pages, so it cannot cut one */
		ASSERT_EQ(SZ_2M, res.pgsize);
		ASSERT_EQ(EINVAL, vfio_unmap_dma(self->fd, IOVA_PAGE(5),
						 PAGE_SZ, 0, NULL));
		check_page(_metadata, self->mfd, self->mock, IOVA_PAGE(5),
			   BUF_PAGE(huge, 5));
		CHECK_CHARGE(npages);
	}
	for (i = 0; i != npages; i++)
		if (!v1 || i != 5)
			check_page(_metadata, self->mfd, self->mock,
				   IOVA_PAGE(i), BUF_PAGE(huge, i));

	ASSERT_EQ(0, vfio_unmap_all(self->fd, &unmapped));
	ASSERT_EQ(SZ_2M - (v1 ? PAGE_SZ : 0), unmapped);
	CHECK_FAULT(IOVA, false, IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_CHARGE(0);
	munmap(raw, 2 * SZ_2M);
}

/*
 * Groups in one container share its mappings: a group that joins once the
 * IOMMU is set finds them, one MAP_DMA reaches both devices (what one
 * writes the other reads), one UNMAP_DMA takes it from both. A group that
 * leaves is blocked; the other keeps the mappings.
 */
TEST_F(compat, two_groups)
{
	uint32_t mock2, index2;
	int group2, dev2 = -1;
	uint64_t unmapped;
	char name2[64];

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	group2 = mock_group_new(self->mfd, 0, &mock2, &index2, name2,
				sizeof(name2));
	ASSERT_LE(0, group2);
	ASSERT_EQ(0, group_set_container(group2, self->fd));
	ASSERT_EQ(0, group_device_fd(group2, name2, &dev2));
	check_device_fd(_metadata, dev2);
	check_map(_metadata, self->mfd, mock2, self->buf, "xx..............");

	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 4),
				  IOVA_PAGE(4), PAGE_SZ, DMA_RW));
	CHECK_MAP("xx..x...........");
	check_map(_metadata, self->mfd, mock2, self->buf, "xx..x...........");
	check_write(_metadata, self->mfd, mock2, IOVA_PAGE(4) + 64,
		    BUF_PAGE(self->buf, 4) + 64);
	CHECK_PAGE(IOVA_PAGE(4), 4);
	CHECK_CHARGE(3);

	ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA, 2 * PAGE_SZ, 0, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	CHECK_MAP("....x...........");
	check_map(_metadata, self->mfd, mock2, self->buf, "....x...........");
	CHECK_CHARGE(1);

	ASSERT_EQ(EBUSY, group_unset_container(group2));
	close(dev2);
	ASSERT_EQ(0, group_unset_container(group2));
	check_fault(_metadata, self->mfd, mock2, IOVA_PAGE(4), false,
		    IOASID_TEST_FAULT_BLOCKED);
	CHECK_MAP("....x...........");
	CHECK_CHARGE(1);
	close(group2);
	CHECK_MAP("....x...........");
}

/*
 * A group behind a second, compatible IOMMU instance joins the container:
 * its device translates the mappings there and each new one, and its
 * reserved region, which the first group's devices could map, is no
 * longer in the IOVA ranges nor taken by MAP_DMA.
 */
TEST_F(compat, two_iommu_instances)
{
	const uint64_t resv = IOASID_TEST_RESV_START_1;
	struct vfio_iova_range ranges[16];
	uint32_t mock1, index1;
	int group1, dev1 = -1;
	uint64_t unmapped;
	char name1[64];
	int nr;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	nr = container_ranges(self->fd, ranges, ARRAY_SIZE(ranges));
	ASSERT_LT(0, nr);
	ASSERT_TRUE(ranges_hit(ranges, nr, resv, resv));
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 3), resv,
				  PAGE_SZ, DMA_RW));
	CHECK_PAGE(resv, 3);

	/* As type1: a group whose reserved region is mapped cannot join */
	group1 = mock_group_new(self->mfd, 1, &mock1, &index1, name1,
				sizeof(name1));
	ASSERT_LE(0, group1);
	ASSERT_EQ(EINVAL, group_set_container(group1, self->fd));
	CHECK_PAGE(resv, 3);
	ASSERT_EQ(0, vfio_unmap_dma(self->fd, resv, PAGE_SZ, 0, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);

	/* Its region is reserved as it joins, before its device is open */
	ASSERT_EQ(0, group_set_container(group1, self->fd));
	nr = container_ranges(self->fd, ranges, ARRAY_SIZE(ranges));
	ASSERT_LT(0, nr);
	ASSERT_FALSE(ranges_hit(ranges, nr, resv,
				resv + IOASID_TEST_RESV_SIZE - 1));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 3), resv,
				       PAGE_SZ, DMA_RW));
	ASSERT_EQ(0, group_device_fd(group1, name1, &dev1));
	check_map(_metadata, self->mfd, mock1, self->buf, "xx..............");
	CHECK_FAULT(resv, false, IOASID_TEST_FAULT_NOT_PRESENT);

	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 4),
				  IOVA_PAGE(4), PAGE_SZ, DMA_RW));
	check_map(_metadata, self->mfd, mock1, self->buf, "xx..x...........");
	check_write(_metadata, self->mfd, mock1, IOVA_PAGE(4),
		    BUF_PAGE(self->buf, 4));
	CHECK_MAP("xx..x...........");
	ASSERT_EQ(0, vfio_unmap_all(self->fd, &unmapped));
	ASSERT_EQ(3 * PAGE_SZ, unmapped);
	CHECK_MAP(NONE_MAPPED);
	check_map(_metadata, self->mfd, mock1, self->buf, NONE_MAPPED);
	CHECK_CHARGE(0);
	close(dev1);
	close(group1);

	/* Its region left with the group: mappable again */
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 3), resv,
				  PAGE_SZ, DMA_RW));
	CHECK_PAGE(resv, 3);
}

/*
 * A group whose device is behind another kind of IOMMU than the container's
 * cannot join (EXDEV), neither before the container's IOMMU type is set
 * nor after. The container, its mappings and its group are as they were;
 * the refused group is in no container, and joins one of its own.
 */
TEST_F(compat, iommu_mismatch)
{
	uint32_t mock2, index2, flags;
	int group2, fd2, dev2 = -1;
	char name2[64];

	group2 = mock_group_new(self->mfd, 2, &mock2, &index2, name2,
				sizeof(name2));
	ASSERT_LE(0, group2);
	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	ASSERT_EQ(EXDEV, group_set_container(group2, self->fd));
	ASSERT_EQ(0, group_flags(group2, &flags));
	ASSERT_EQ(0, flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	ASSERT_EQ(EINVAL, group_device_fd(group2, name2, &dev2));

	ASSERT_EQ(0, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(0, group_device_fd(self->group, self->name, &self->dev));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	CHECK_MAP("xx..............");
	check_fault(_metadata, self->mfd, mock2, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED);

	ASSERT_EQ(EXDEV, group_set_container(group2, self->fd));
	ASSERT_EQ(0, group_flags(group2, &flags));
	ASSERT_EQ(0, flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	ASSERT_EQ(EINVAL, group_device_fd(group2, name2, &dev2));
	check_fault(_metadata, self->mfd, mock2, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED);
	CHECK_MAP("xx..............");
	CHECK_CHARGE(2);

	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, container_up(fd2, group2, variant->type, name2, &dev2));
	ASSERT_EQ(0, vfio_map_dma(fd2, BUF_PAGE(self->buf, 5), IOVA, PAGE_SZ,
				  DMA_RW));
	check_page(_metadata, self->mfd, mock2, IOVA, BUF_PAGE(self->buf, 5));
	CHECK_MAP("xx..............");
	CHECK_CHARGE(3);
	close(dev2);
	close(group2);
	close(fd2);
	CHECK_CHARGE(2);
}

/*
 * VFIO_GROUP_UNSET_CONTAINER waits for the group's device fds to be closed
 * (EBUSY, and nothing changes). The last group out takes the container
 * back to its unset state: the mappings are gone, and their charge, the
 * device is blocked, and the container refuses what needs an IOMMU until a
 * group is set and SET_IOMMU done again, which works, with either type.
 */
TEST_F(compat, unset_container)
{
	unsigned long other = variant->type == VFIO_TYPE1_IOMMU ?
			      VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
	union info_buf u;
	uint32_t flags;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 4 * PAGE_SZ,
				  DMA_RW));
	ASSERT_EQ(EBUSY, group_unset_container(self->group));
	CHECK_MAP("xxxx............");
	CHECK_CHARGE(4);
	/*
	 * A closed device is unbound and its DMA blocked, unlike type1's,
	 * whose group stays attached; the mappings stay, and translate again
	 * for the device opened anew
	 */
	close(self->dev);
	self->dev = -1;
	CHECK_FAULT(IOVA, false, IOASID_TEST_FAULT_BLOCKED);
	CHECK_CHARGE(4);
	ASSERT_EQ(0, group_device_fd(self->group, self->name, &self->dev));
	CHECK_MAP("xxxx............");
	close(self->dev);
	self->dev = -1;

	ASSERT_EQ(0, group_unset_container(self->group));
	CHECK_FAULT(IOVA, false, IOASID_TEST_FAULT_BLOCKED);
	CHECK_FAULT(IOVA_PAGE(3), true, IOASID_TEST_FAULT_BLOCKED);
	CHECK_CHARGE(0);
	ASSERT_EQ(0, group_flags(self->group, &flags));
	ASSERT_EQ(0, flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	ASSERT_EQ(0, vfio_check_extension(self->fd, VFIO_DMA_CC_IOMMU));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ,
				       DMA_RW));
	ASSERT_EQ(EINVAL, vfio_unmap_dma(self->fd, IOVA, PAGE_SZ, 0, NULL));
	ASSERT_EQ(EINVAL, vfio_unmap_all(self->fd, NULL));
	ASSERT_EQ(EINVAL, vfio_get_info(self->fd, &u, sizeof(u)));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(EINVAL, group_unset_container(self->group));
	ASSERT_EQ(EINVAL, group_device_fd(self->group, self->name, &self->dev));

	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ,
				       DMA_RW));
	ASSERT_EQ(0, vfio_set_iommu(self->fd, other));
	ASSERT_EQ(0, group_device_fd(self->group, self->name, &self->dev));
	CHECK_MAP(NONE_MAPPED);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 1), IOVA_PAGE(1),
				  PAGE_SZ, DMA_RW));
	CHECK_MAP(".x..............");
	CHECK_CHARGE(1);
}

/*
 * The IOASID holding the container's mappings is an object of the context,
 * but the container's: no IOASID_DESTROY on the container fd takes it, or
 * anything else, away while the container is set
 */
TEST_F(compat, container_ioasid_stays)
{
	unsigned int busy = 0;
	uint32_t id;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	for (id = 0; id < 16; id++) {
		int rc = ioasid_destroy(self->fd, id);

		ASSERT_NE(0, rc);
		busy += rc == EBUSY;
	}
	ASSERT_EQ(1, busy);
	CHECK_MAP("xx..............");
	CHECK_CHARGE(2);
	ASSERT_EQ(0, vfio_map_dma(self->fd, BUF_PAGE(self->buf, 2),
				  IOVA_PAGE(2), PAGE_SZ, DMA_RW));
	CHECK_MAP("xxx.............");
}

/*
 * The group's last device goes away (its driver unbound, the device
 * unplugged) while the group is set: the group leaves the container as it
 * would leave vfio's, which is then unset and empty, and the group's file
 * can still be closed
 */
TEST_F(compat, device_removed_while_set)
{
	uint32_t flags;
	int i;

	ASSERT_EQ(0, group_set_container(self->group, self->fd));
	ASSERT_EQ(0, vfio_set_iommu(self->fd, variant->type));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	CHECK_CHARGE(2);

	/* The vfio device is unregistered by a worker: wait for it */
	ASSERT_EQ(0, mock_destroy(self->mfd, self->mock));
	for (i = 0; i < 100 && locked_pages() != self->base; i++)
		usleep(50 * 1000);
	CHECK_CHARGE(0);
	ASSERT_NE(0, group_flags(self->group, &flags));
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ,
				       DMA_RW));
	ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd, variant->type));
	close(self->group);
	self->group = -1;

	/* The container takes a new group as a fresh one */
	self->group = mock_group_new(self->mfd, 0, &self->mock, &self->index,
				     self->name, sizeof(self->name));
	ASSERT_LE(0, self->group);
	COMPAT_UP();
	CHECK_MAP(NONE_MAPPED);
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ, DMA_RW));
	CHECK_MAP("x...............");
	CHECK_CHARGE(1);
}

/*
 * The container fd is an ioasid context too: a device bound to it through
 * its cdev translates through an IOASID of its own, apart from the
 * container's mappings at the same IOVA, which UNMAP ALL leaves it.
 */
TEST_F(compat, cdev_on_container_fd)
{
	uint32_t mock2, index2, ioasid;
	uint64_t unmapped;
	int vfd;

	COMPAT_UP();
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 2 * PAGE_SZ,
				  DMA_RW));
	ASSERT_EQ(0, mock_create_vfio(self->mfd, 0, &mock2, &index2));
	vfd = vfio_open_index(index2);
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, vfio_bind_ioasid(vfd, self->fd, NULL));
	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, ioasid, BUF_PAGE(self->buf, 5),
				      2 * PAGE_SZ, IOVA));
	ASSERT_EQ(0, vfio_attach_ioasid(vfd, ioasid));

	check_page(_metadata, self->mfd, mock2, IOVA, BUF_PAGE(self->buf, 5));
	check_page(_metadata, self->mfd, mock2, IOVA_PAGE(1),
		   BUF_PAGE(self->buf, 6));
	CHECK_MAP("xx..............");
	CHECK_CHARGE(4);

	ASSERT_EQ(0, vfio_unmap_all(self->fd, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	CHECK_MAP(NONE_MAPPED);
	check_page(_metadata, self->mfd, mock2, IOVA, BUF_PAGE(self->buf, 5));
	CHECK_CHARGE(2);
	close(vfd);
}

/* The threads test: two mappers on pages of their own, one GET_INFO */
#define RACE_PAGES	4
#define RACE_OPS	100
#define RACE_REFUSALS	10
#define RACE_WAIT_MS	60000

struct race;

/* One thread of the race, and what it saw */
struct racer {
	struct race *race;
	unsigned int first;	/* First of its RACE_PAGES pages */
	unsigned long ops;	/* Calls that did their work */
	unsigned long refused;	/* EINVAL once the container is unset */
	unsigned long bad;	/* Anything else */
	int bad_rc;		/* The last errno of those, -1 for bad DMA */
};

struct race {
	int fd;
	int mfd;
	uint32_t mock;
	const unsigned char *buf;
	int closing;		/* The group is being closed */
	int stop;
	struct racer racers[3];
};

static bool race_closing(struct race *r)
{
	return __atomic_load_n(&r->closing, __ATOMIC_SEQ_CST);
}

/* A call failed with @rc: EINVAL once the group is being closed, or bad */
static void racer_failed(struct racer *w, int rc)
{
	if (rc == EINVAL && race_closing(w->race)) {
		__atomic_add_fetch(&w->refused, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&w->bad, 1, __ATOMIC_RELAXED);
	w->bad_rc = rc;
}

/*
 * Does the device read page @page of the buffer at its IOVA? 0 yes, 1 it
 * faults, -1 it reads something else
 */
static int race_dma(struct race *r, unsigned int page)
{
	unsigned char got[PAGE_SZ];
	struct dma_result res;

	if (mock_dma(r->mfd, r->mock, IOVA_PAGE(page), got, sizeof(got), false,
		     &res))
		return -1;
	if (res.fault != IOASID_TEST_FAULT_NONE)
		return 1;
	return memcmp(got, BUF_PAGE(r->buf, page), sizeof(got)) ? -1 : 0;
}

/* MAP_DMA a page of its own, check the device reads it, UNMAP_DMA it */
static void *race_mapper(void *arg)
{
	struct racer *w = arg;
	struct race *r = w->race;
	uint64_t unmapped;
	unsigned int i, page;
	int rc;

	for (i = 0; !__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST); i++) {
		page = w->first + i % RACE_PAGES;
		rc = vfio_map_dma(r->fd, BUF_PAGE(r->buf, page),
				  IOVA_PAGE(page), PAGE_SZ, DMA_RW);
		if (rc) {
			racer_failed(w, rc);
			continue;
		}
		rc = race_dma(r, page);
		if (rc < 0 || (rc > 0 && !race_closing(r)))
			racer_failed(w, -1);
		unmapped = 0;
		rc = vfio_unmap_dma(r->fd, IOVA_PAGE(page), PAGE_SZ, 0,
				    &unmapped);
		if (rc)
			racer_failed(w, rc);
		else if (unmapped != PAGE_SZ)
			racer_failed(w, -1);
		else
			__atomic_add_fetch(&w->ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* VFIO_IOMMU_GET_INFO, whose answer must stay whole */
static void *race_info(void *arg)
{
	struct racer *w = arg;
	struct race *r = w->race;
	union info_buf u;
	int rc;

	while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
		rc = vfio_get_info(r->fd, &u, sizeof(u));
		if (rc)
			racer_failed(w, rc);
		else if (!(u.info.iova_pgsizes & PAGE_SZ) ||
			 u.info.cap_offset != sizeof(u.info) ||
			 !info_cap(&u, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE))
			racer_failed(w, -1);
		else
			__atomic_add_fetch(&w->ops, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Wait until every racer made @n calls work, or refused (@refused) */
static void race_wait(struct race *r, unsigned long n, bool refused)
{
	uint64_t end = edu_now_ms() + RACE_WAIT_MS;
	unsigned long done;
	unsigned int i;

	while (edu_now_ms() < end) {
		for (i = 0; i != ARRAY_SIZE(r->racers); i++) {
			done = __atomic_load_n(refused ? &r->racers[i].refused :
					       &r->racers[i].ops,
					       __ATOMIC_RELAXED);
			if (done < n)
				break;
		}
		if (i == ARRAY_SIZE(r->racers))
			return;
		usleep(1000);
	}
}

/*
 * Two threads MAP_DMA and UNMAP_DMA pages of their own in one container,
 * checking that the device reads each, while a third asks GET_INFO; then
 * the main thread closes the group, and with it the container's last
 * group goes. Every call works until then, and fails with EINVAL after;
 * nothing stays mapped or charged.
 */
TEST_F_TIMEOUT(compat, threads, 180)
{
	void *(*fns[])(void *) = { race_mapper, race_mapper, race_info };
	struct race r = {
		.fd = self->fd,
		.mfd = self->mfd,
		.mock = self->mock,
		.buf = self->buf,
	};
	pthread_t threads[ARRAY_SIZE(fns)];
	struct racer *w;
	unsigned int i;

	COMPAT_UP();
	for (i = 0; i != ARRAY_SIZE(fns); i++) {
		r.racers[i].race = &r;
		r.racers[i].first = i * RACE_PAGES;
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, fns[i],
					    &r.racers[i]));
	}
	race_wait(&r, RACE_OPS, false);

	__atomic_store_n(&r.closing, 1, __ATOMIC_SEQ_CST);
	/* The device fd holds the group: it goes with the second close */
	close(self->group);
	self->group = -1;
	close(self->dev);
	self->dev = -1;
	race_wait(&r, RACE_REFUSALS, true);
	__atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i != ARRAY_SIZE(fns); i++)
		pthread_join(threads[i], NULL);

	for (i = 0; i != ARRAY_SIZE(fns); i++) {
		w = &r.racers[i];
		TH_LOG("thread %u: %lu calls worked, %lu refused", i, w->ops,
		       w->refused);
		ASSERT_EQ(0, w->bad)
			TH_LOG("thread %u: %lu went wrong, last %d", i, w->bad,
			       w->bad_rc);
		ASSERT_LE(RACE_OPS, w->ops);
		ASSERT_LE(RACE_REFUSALS, w->refused);
	}
	CHECK_CHARGE(0);
	for (i = 0; i != 2 * RACE_PAGES; i++)
		CHECK_FAULT(IOVA_PAGE(i), false, IOASID_TEST_FAULT_BLOCKED);
	ASSERT_EQ(EINVAL, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ,
				       DMA_RW));
}

/*
 * The container, a group and a device fd set up with four pages mapped,
 * then the three fds closed in the order of the variant: 'c' the
 * container, 'g' the group, 'd' the device. The group stays in the
 * container while its fd or the device fd is open: the mappings work on
 * (through the container fd, while open), and stay charged. Once both are
 * closed the container is unset, the device blocked, nothing charged.
 */
FIXTURE(compat_close) {
	int mfd;
	int fd;
	int group;
	int dev;
	uint32_t mock;
	uint32_t index;
	char name[64];
	unsigned char *buf;
	long base;
};

FIXTURE_VARIANT(compat_close) {
	const char *order;
};

FIXTURE_VARIANT_ADD(compat_close, cgd) {
	.order = "cgd",
};

FIXTURE_VARIANT_ADD(compat_close, cdg) {
	.order = "cdg",
};

FIXTURE_VARIANT_ADD(compat_close, gcd) {
	.order = "gcd",
};

FIXTURE_VARIANT_ADD(compat_close, gdc) {
	.order = "gdc",
};

FIXTURE_VARIANT_ADD(compat_close, dcg) {
	.order = "dcg",
};

FIXTURE_VARIANT_ADD(compat_close, dgc) {
	.order = "dgc",
};

FIXTURE_SETUP(compat_close)
{
	self->group = -1;
	self->dev = -1;
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_SIZE, 2);
	self->base = locked_pages();
	self->mfd = ioasid_open();
	ASSERT_LE(0, self->mfd);
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	self->group = mock_group_new(self->mfd, 0, &self->mock, &self->index,
				     self->name, sizeof(self->name));
	ASSERT_LE(0, self->group);
	ASSERT_EQ(0, container_up(self->fd, self->group, VFIO_TYPE1v2_IOMMU,
				  self->name, &self->dev));
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, 4 * PAGE_SZ,
				  DMA_RW));
}

FIXTURE_TEARDOWN(compat_close)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->group >= 0)
		close(self->group);
	if (self->fd >= 0)
		close(self->fd);
	close(self->mfd);
	munmap(self->buf, BUF_SIZE);
}

TEST_F(compat_close, in_order)
{
	const char *c = variant->order;
	uint64_t unmapped;
	bool held;

	for (;;) {
		/* An open device holds its group, and the group its container */
		held = self->group >= 0 || self->dev >= 0;
		if (self->dev >= 0)
			CHECK_MAP("xxxx............");
		else
			CHECK_FAULT(IOVA, false, IOASID_TEST_FAULT_BLOCKED);
		ASSERT_EQ(self->base + (held ? 4 : 0), locked_pages())
			TH_LOG("after closing \"%.*s\"",
			       (int)(c - variant->order), variant->order);
		if (self->fd >= 0 && held) {
			ASSERT_EQ(0, vfio_map_dma(self->fd,
						  BUF_PAGE(self->buf, 8),
						  IOVA_PAGE(8), PAGE_SZ,
						  DMA_RW));
			if (self->dev >= 0)
				CHECK_PAGE(IOVA_PAGE(8), 8);
			ASSERT_EQ(0, vfio_unmap_dma(self->fd, IOVA_PAGE(8),
						    PAGE_SZ, 0, &unmapped));
			ASSERT_EQ(PAGE_SZ, unmapped);
		} else if (self->fd >= 0) {
			ASSERT_EQ(EINVAL, vfio_map_dma(self->fd,
						       BUF_PAGE(self->buf, 8),
						       IOVA_PAGE(8), PAGE_SZ,
						       DMA_RW));
			ASSERT_EQ(EINVAL, vfio_set_iommu(self->fd,
							 VFIO_TYPE1v2_IOMMU));
		}
		if (self->dev >= 0)
			check_device_fd(_metadata, self->dev);

		if (!*c)
			break;
		switch (*c++) {
		case 'c':
			close(self->fd);
			self->fd = -1;
			break;
		case 'g':
			close(self->group);
			self->group = -1;
			break;
		case 'd':
			close(self->dev);
			self->dev = -1;
			break;
		}
	}

	/* Nothing holds on to the group: it goes into a new container */
	self->group = group_of_index(self->index, self->name,
				     sizeof(self->name));
	ASSERT_LE(0, self->group);
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, container_up(self->fd, self->group, VFIO_TYPE1_IOMMU,
				  self->name, &self->dev));
	CHECK_MAP(NONE_MAPPED);
	ASSERT_EQ(0, vfio_map_dma(self->fd, self->buf, IOVA, PAGE_SZ, DMA_RW));
	CHECK_MAP("x...............");
	ASSERT_EQ(self->base + 1, locked_pages());
}

/*
 * An emulated (mdev-like) vfio device in a group of its own: its DMA goes
 * through vfio_pin_pages() or vfio_dma_rw() to the container's mappings,
 * nowhere else; an UNMAP_DMA of pages it keeps pinned has vfio call its
 * dma_unmap() to let go first.
 */
TEST(emulated_group)
{
	unsigned char got[2 * PAGE_SZ], data[DATA_LEN];
	int mfd, fd, group, dev = -1;
	uint32_t mock, index;
	uint64_t unmapped;
	unsigned char *buf;
	char name[64];
	long base;

	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, BUF_SIZE, 3);
	base = locked_pages();
	mfd = ioasid_open();
	ASSERT_LE(0, mfd);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mock_create_emulated(mfd, &mock, &index));
	group = group_of_index(index, name, sizeof(name));
	ASSERT_LE(0, group);
	ASSERT_EQ(0, container_up(fd, group, VFIO_TYPE1v2_IOMMU, name, &dev));
	ASSERT_EQ(0, vfio_map_dma(fd, buf, IOVA, 4 * PAGE_SZ, DMA_RW));

	ASSERT_EQ(0, emulated_dma(mfd, mock, IOVA + 100, got, sizeof(got), 0));
	ASSERT_EQ(0, memcmp(got, buf + 100, sizeof(got)));
	ASSERT_EQ(0, emulated_dma(mfd, mock, IOVA_PAGE(3), got, PAGE_SZ,
				  IOASID_TEST_DMA_CPU_COPY));
	ASSERT_EQ(0, memcmp(got, BUF_PAGE(buf, 3), PAGE_SZ));
	fill_pattern(data, sizeof(data), 77);
	ASSERT_EQ(0, emulated_dma(mfd, mock, IOVA_PAGE(2) + 5, data,
				  sizeof(data), IOASID_TEST_DMA_WRITE));
	ASSERT_EQ(0, memcmp(BUF_PAGE(buf, 2) + 5, data, sizeof(data)));
	/* Beyond the mapping nothing moves */
	ASSERT_EQ(ENOENT, emulated_dma(mfd, mock, IOVA_PAGE(4), got, PAGE_SZ,
				       0));
	ASSERT_EQ(ENOENT, emulated_dma(mfd, mock, IOVA_PAGE(3), got,
				       2 * PAGE_SZ, 0));

	ASSERT_EQ(0, emulated_dma(mfd, mock, IOVA, got, 2 * PAGE_SZ,
				  IOASID_TEST_DMA_KEEP_PINS));
	ASSERT_EQ(0, vfio_unmap_dma(fd, IOVA, 4 * PAGE_SZ, 0, &unmapped));
	ASSERT_EQ(4 * PAGE_SZ, unmapped);
	ASSERT_EQ(ENOENT, emulated_dma(mfd, mock, IOVA, got, PAGE_SZ, 0));
	ASSERT_EQ(base, locked_pages());

	close(dev);
	close(group);
	close(fd);
	close(mfd);
	munmap(buf, BUF_SIZE);
}

/*
 * --- QEMU's edu device, through its vfio group ---
 *
 * Without an edu device, outside the rig's VM, these tests skip.
 */

/* Buffers A and B of two pages each, below edu's 256 MiB DMA reach */
#define EDU_MAP		(2 * PAGE_SZ)
#define IOVA_A		0x1000000ULL
#define IOVA_B		0x2000000ULL
#define IOVA_C		0x3000000ULL
/* A round trip's size: edu offset + size stays below 4096 */
#define XFER		2048
#define FAULT_LOG_MS	3000

/*
 * edu opened through its group, which is in a container of the variant's
 * kind with the variant's IOMMU type: vfio's own type1 container as the
 * control, and /dev/ioasid with type1v2 and with type1 (v1). A holds a
 * pattern, B is zero; neither is mapped yet.
 */
FIXTURE(edu_compat) {
	struct edu_dev edu;
	char group_path[64];
	int container;
	int group;
	unsigned char *a;
	unsigned char *b;
	long base;
};

FIXTURE_VARIANT(edu_compat) {
	const char *container;
	unsigned long type;
	/* Memory mapped twice is charged twice */
	bool charge_per_map;
	/* What mapping a device's BAR (peer-to-peer DMA) gives */
	int bar_map_errno;
};

FIXTURE_VARIANT_ADD(edu_compat, vfio_type1v2) {
	.container = "/dev/vfio/vfio",
	.type = VFIO_TYPE1v2_IOMMU,
	.charge_per_map = true,
};

FIXTURE_VARIANT_ADD(edu_compat, ioasid_type1v2) {
	.container = "/dev/ioasid",
	.type = VFIO_TYPE1v2_IOMMU,
	.bar_map_errno = EFAULT,
};

FIXTURE_VARIANT_ADD(edu_compat, ioasid_type1) {
	.container = "/dev/ioasid",
	.type = VFIO_TYPE1_IOMMU,
	.bar_map_errno = EFAULT,
};

/* Open edu's group, put it in a new container, open edu: ready for DMA */
#define EDU_GROUP_UP()							\
	do {								\
		uint32_t __flags;					\
									\
		self->group = open(self->group_path, O_RDWR | O_CLOEXEC); \
		ASSERT_LE(0, self->group)				\
			TH_LOG("open %s: %s", self->group_path,		\
			       strerror(errno));			\
		ASSERT_EQ(0, group_flags(self->group, &__flags));	\
		ASSERT_TRUE(__flags & VFIO_GROUP_FLAGS_VIABLE)		\
			TH_LOG("a device of edu's group is on a driver"); \
		self->container = open(variant->container,		\
				       O_RDWR | O_CLOEXEC);		\
		ASSERT_LE(0, self->container);				\
		ASSERT_EQ(0, container_up(self->container, self->group, \
					  variant->type, self->edu.bdf,	\
					  &self->edu.fd));		\
		ASSERT_EQ(0, edu_enable_dma(&self->edu));		\
		ASSERT_EQ(0, edu_map_bar(&self->edu));			\
		ASSERT_EQ(0, edu_check_alive(self->edu.bar));		\
	} while (0)

FIXTURE_SETUP(edu_compat)
{
	char path[PATH_MAX], group[32];
	int rc;

	self->container = -1;
	self->group = -1;
	self->edu.fd = -1;
	rc = edu_prepare(&self->edu);
	if (rc == ENODEV)
		SKIP(return,
		     "no edu PCI device (%04x:%04x): run in the rig's VM",
		     EDU_VENDOR, EDU_DEVICE);
	ASSERT_EQ(0, rc);
	if (access(variant->container, F_OK))
		SKIP(return, "no %s", variant->container);
	if (variant->charge_per_map && vfio_container_is_ioasid())
		SKIP(return, "/dev/vfio/vfio is /dev/ioasid's: no type1");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 self->edu.bdf);
	ASSERT_EQ(0, vfio_link_name(path, group, sizeof(group)))
		TH_LOG("edu has no iommu_group (intel_iommu=on?)");
	snprintf(self->group_path, sizeof(self->group_path), "/dev/vfio/%s",
		 group);
	self->a = alloc_buf(EDU_MAP);
	ASSERT_NE(NULL, self->a);
	self->b = alloc_buf(EDU_MAP);
	ASSERT_NE(NULL, self->b);
	fill_pattern(self->a, EDU_MAP, 1);
	self->base = locked_pages();
	EDU_GROUP_UP();
}

FIXTURE_TEARDOWN(edu_compat)
{
	/* edu stays bound to vfio-pci for whoever comes next */
	edu_close(&self->edu);
	if (self->group >= 0)
		close(self->group);
	if (self->container >= 0)
		close(self->container);
	munmap(self->a, EDU_MAP);
	munmap(self->b, EDU_MAP);
}

/* Map A at IOVA_A and B at IOVA_B */
#define EDU_MAP_AB()							\
	do {								\
		ASSERT_EQ(0, vfio_map_dma(self->container, self->a,	\
					  IOVA_A, EDU_MAP, DMA_RW));	\
		ASSERT_EQ(0, vfio_map_dma(self->container, self->b,	\
					  IOVA_B, EDU_MAP, DMA_RW));	\
	} while (0)

/* What the user wrote at A comes out at B, byte for byte, across pages */
TEST_F(edu_compat, round_trip)
{
	unsigned char want[EDU_MAP];
	void *bar = self->edu.bar;
	union info_buf u;

	ASSERT_EQ(0, vfio_get_info(self->container, &u, sizeof(u)));
	ASSERT_NE(0, u.info.iova_pgsizes & PAGE_SZ);
	/* VT-d's 2 MiB pages, which v2 maps with as type1 does */
	if (variant->type == VFIO_TYPE1v2_IOMMU)
		ASSERT_NE(0, u.info.iova_pgsizes & SZ_2M);
	EDU_MAP_AB();
	CHECK_CHARGE(4);

	memset(want, 0, sizeof(want));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B + 512, 0, XFER));
	memcpy(want + 512, self->a, XFER);
	ASSERT_EQ(0, memcmp(want, self->b, EDU_MAP));
	/* Across the page boundaries of both: four pages, four translations */
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A + PAGE_SZ - 100,
				    IOVA_B + PAGE_SZ - 50, 100, 300));
	memcpy(want + PAGE_SZ - 50, self->a + PAGE_SZ - 100, 300);
	ASSERT_EQ(0, memcmp(want, self->b, EDU_MAP));
	/* The device only read A */
	fill_pattern(want, EDU_MAP, 1);
	ASSERT_EQ(0, memcmp(want, self->a, EDU_MAP));
	ASSERT_EQ(0, edu_check_alive(bar));
}

/*
 * UNMAP_DMA cuts edu off at once: its write to the unmapped IOVA is
 * blocked (and logged), the memory untouched; mapped again, the write
 * lands. Half of a mapping: type1v2 refuses to unmap it, and so does
 * /dev/ioasid in v2, the mapping works on; in v1 /dev/ioasid unmaps just
 * that page, whose read is blocked while the other page is read.
 */
TEST_F_TIMEOUT(edu_compat, unmap_blocks, 90)
{
	unsigned char zero[EDU_MAP];
	void *bar = self->edu.bar;
	uint64_t unmapped;
	char line[512];
	int kmsg;

	memset(zero, 0, sizeof(zero));
	EDU_MAP_AB();
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	memset(self->b, 0, EDU_MAP);

	ASSERT_EQ(0, vfio_unmap_dma(self->container, IOVA_B, EDU_MAP, 0,
				    &unmapped));
	ASSERT_EQ(EDU_MAP, unmapped);
	CHECK_CHARGE(2);
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, EDU_FAULT_COUNT, true));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, IOVA_B, FAULT_LOG_MS,
					 line, sizeof(line)));
	TH_LOG("blocked as expected: %s", line);
	ASSERT_EQ(0, memcmp(zero, self->b, EDU_MAP));

	ASSERT_EQ(0, vfio_map_dma(self->container, self->b, IOVA_B, EDU_MAP,
				  DMA_RW));
	CHECK_CHARGE(4);
	ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, XFER, true));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	memset(self->b, 0, EDU_MAP);

	if (variant->type == VFIO_TYPE1v2_IOMMU) {
		ASSERT_EQ(EINVAL, vfio_unmap_dma(self->container, IOVA_A,
						 PAGE_SZ, 0, NULL));
		CHECK_CHARGE(4);
		ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_B, 0, XFER));
		ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	} else {
		ASSERT_EQ(0, vfio_unmap_dma(self->container, IOVA_A, PAGE_SZ,
					    0, &unmapped));
		ASSERT_EQ(PAGE_SZ, unmapped);
		CHECK_CHARGE(3);
		/* edu's buffer gets A's second page, then A's first is cut */
		ASSERT_EQ(0, edu_dma(bar, IOVA_A + PAGE_SZ, EDU_BUF, XFER,
				     false));
		edu_expect_dmar_fault();
		ASSERT_EQ(0, edu_dma(bar, IOVA_A, EDU_BUF, EDU_FAULT_COUNT,
				     false));
		ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, false, IOVA_A,
						 FAULT_LOG_MS, line,
						 sizeof(line)));
		TH_LOG("blocked as expected: %s", line);
		ASSERT_EQ(0, edu_dma(bar, EDU_BUF, IOVA_B, XFER, true));
		ASSERT_NE(0, memcmp(self->a, self->b, EDU_FAULT_COUNT));
		ASSERT_EQ(0, memcmp(self->a + PAGE_SZ + EDU_FAULT_COUNT,
				    self->b + EDU_FAULT_COUNT,
				    XFER - EDU_FAULT_COUNT));
	}
	close(kmsg);
	ASSERT_EQ(0, edu_check_alive(bar));
}

/*
 * edu's BAR, as vfio maps it for userspace, is no memory with pages to
 * pin: type1 maps it for peer-to-peer DMA, uncharged; the shim refuses it
 * with EFAULT and maps nothing, as iommufd does
 */
TEST_F(edu_compat, bar_map)
{
	uint64_t unmapped;

	ASSERT_EQ(variant->bar_map_errno,
		  vfio_map_dma(self->container, self->edu.bar, IOVA_C,
			       PAGE_SZ, DMA_RW));
	CHECK_CHARGE(0);
	ASSERT_EQ(0, vfio_unmap_all(self->container, &unmapped));
	ASSERT_EQ(variant->bar_map_errno ? 0 : PAGE_SZ, unmapped);
	/* The container maps memory as before */
	EDU_MAP_AB();
	CHECK_CHARGE(4);
}

/*
 * A mapped at two IOVAs: type1 charges it twice, /dev/ioasid once. edu
 * reaches the same memory through both, and through the second alone
 * once the first is unmapped.
 */
TEST_F(edu_compat, map_twice)
{
	const long twice = variant->charge_per_map ? 2 : 0;
	void *bar = self->edu.bar;
	uint64_t unmapped;

	ASSERT_EQ(0, vfio_map_dma(self->container, self->a, IOVA_A, EDU_MAP,
				  DMA_RW));
	CHECK_CHARGE(2);
	ASSERT_EQ(0, vfio_map_dma(self->container, self->a, IOVA_C, EDU_MAP,
				  DMA_RW));
	CHECK_CHARGE(2 + twice);

	/* A's first page, read at one IOVA, written to its second at the other */
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_A, IOVA_C + PAGE_SZ, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->a + PAGE_SZ, XFER));

	ASSERT_EQ(0, vfio_unmap_dma(self->container, IOVA_A, EDU_MAP, 0,
				    &unmapped));
	ASSERT_EQ(EDU_MAP, unmapped);
	CHECK_CHARGE(2);
	fill_pattern(self->a + PAGE_SZ, PAGE_SZ, 7);
	ASSERT_EQ(0, edu_round_trip(bar, IOVA_C + PAGE_SZ + 1024, IOVA_C, 0,
				    1000));
	ASSERT_EQ(0, memcmp(self->a, self->a + PAGE_SZ + 1024, 1000));
	ASSERT_EQ(0, vfio_unmap_dma(self->container, IOVA_C, EDU_MAP, 0,
				    &unmapped));
	ASSERT_EQ(EDU_MAP, unmapped);
	CHECK_CHARGE(0);
}

/*
 * The group keeps its container: with the container's fd closed first,
 * edu still reaches the mappings, still charged. Once the device and the
 * group are closed too, nothing is, and the group goes into a new
 * container.
 */
TEST_F(edu_compat, close_container_first)
{
	EDU_MAP_AB();
	close(self->container);
	self->container = -1;
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
	CHECK_CHARGE(4);

	edu_close(&self->edu);
	close(self->group);
	self->group = -1;
	CHECK_CHARGE(0);

	memset(self->b, 0, EDU_MAP);
	EDU_GROUP_UP();
	EDU_MAP_AB();
	ASSERT_EQ(0, edu_round_trip(self->edu.bar, IOVA_A, IOVA_B, 0, XFER));
	ASSERT_EQ(0, memcmp(self->a, self->b, XFER));
}

TEST_HARNESS_MAIN
