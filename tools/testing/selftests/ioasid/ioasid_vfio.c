// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid selftests of vfio device fds: the cdev fd of a mock device
 * bound to an ioasid context with VFIO_DEVICE_BIND_IOASID_FD, attached by
 * RID and by PASID, replaced, detached, closed in every order, and each of
 * the five new ioctls fed bad input.
 *
 * What counts is what the device does: the mock IOMMU translates its DMA
 * by walking the page tables attached to (device, PASID). Every call that
 * fails must leave that DMA exactly as it was.
 */
#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"

/* Every IOASID of the tests maps its page here, clear of reserved regions */
#define IOVA		(16 * SZ_2M)
/* IOASIDs a test starts with: IOASID i maps page i of the buffer at IOVA */
#define NR_SPACES	4
#define BUF_SIZE	(NR_SPACES * PAGE_SZ)
/* "DMA is blocked", where the index of an IOASID is expected */
#define BLK		(-1)
/* Bytes a DMA check reads at IOVA; DMA writes of the tests go after them */
#define DATA_LEN	64
#define WRITE_OFF	(2 * DATA_LEN)
/* The region of a mock vfio device: REGION_SIZE bytes of REGION_BYTE */
#define REGION_SIZE	64
#define REGION_BYTE	0xa5
/* An id that no object of the tests has */
#define NO_ID		0x7ffffff0U
/* First PASID that mock IOMMU instances 0 and 1 do not support */
enum { PASID_LIMIT = 1U << IOASID_TEST_PASID_BITS };
/* Lets iommufd bind devices whose MSIs are not isolated, as mock ones */
#define IOMMUFD_UNSAFE_MSI \
	"/sys/module/iommufd/parameters/allow_unsafe_interrupts"

/* In context @fd, IOASID i maps page i of @buf, filled with its own data */
static int spaces_create(int fd, unsigned char *buf, uint32_t *ioasid)
{
	unsigned int i;
	int rc;

	for (i = 0; i != NR_SPACES; i++) {
		fill_pattern(buf + i * PAGE_SZ, PAGE_SZ, 37 * (i + 1));
		rc = ioasid_create(fd, &ioasid[i]);
		if (rc)
			return rc;
		rc = ioasid_map_fixed(fd, ioasid[i], buf + i * PAGE_SZ,
				      PAGE_SZ, IOVA);
		if (rc)
			return rc;
	}
	return 0;
}

/* A new mock vfio device behind IOMMU @instance, made by @fd: its open fd */
static int vfio_new(int fd, uint32_t instance, uint32_t *mock_id,
		    uint32_t *index)
{
	if (mock_create_vfio(fd, instance, mock_id, index))
		return -1;
	return vfio_open_index(*index);
}

/* DMA of @mock_id tagged with @pasid reads @expect at @iova */
static void check_read(struct __test_metadata *_metadata, int fd,
		       uint32_t mock_id, uint32_t pasid, uint64_t iova,
		       const void *expect)
{
	unsigned char got[DATA_LEN];
	struct dma_result res;

	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mock_dma_pasid(fd, mock_id, pasid, iova, got,
				    sizeof(got), false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
		TH_LOG("PASID %u faults at %#llx", pasid,
		       (unsigned long long)res.fault_iova);
	ASSERT_EQ(sizeof(got), res.done);
	ASSERT_EQ(0, memcmp(got, expect, sizeof(got)))
		TH_LOG("PASID %u reads the wrong data at %#llx", pasid,
		       (unsigned long long)iova);
}

/* DMA of @mock_id tagged with @pasid faults at @iova for @fault */
static void check_fault(struct __test_metadata *_metadata, int fd,
			uint32_t mock_id, uint32_t pasid, uint64_t iova,
			uint32_t fault)
{
	unsigned char got[DATA_LEN];
	struct dma_result res;

	ASSERT_EQ(0, mock_dma_pasid(fd, mock_id, pasid, iova, got,
				    sizeof(got), false, &res));
	ASSERT_EQ(fault, res.fault)
		TH_LOG("PASID %u at %#llx: fault %u", pasid,
		       (unsigned long long)iova, res.fault);
	ASSERT_EQ(0, res.done);
}

/* DMA tagged with @pasid reads page @space of @buf at IOVA, or is BLK */
static void check_pasid(struct __test_metadata *_metadata, int fd,
			uint32_t mock_id, uint32_t pasid,
			const unsigned char *buf, int space)
{
	if (space == BLK)
		check_fault(_metadata, fd, mock_id, pasid, IOVA,
			    IOASID_TEST_FAULT_BLOCKED);
	else
		check_read(_metadata, fd, mock_id, pasid, IOVA,
			   buf + space * PAGE_SZ);
}

/*
 * The RID and PASIDs 1 and 2 of @mock_id translate IOVA by IOASID @rid,
 * @pasid1 and @pasid2 (the page of @buf it maps there), or are blocked
 * (BLK); PASID 3 is blocked.
 */
static void check_dma(struct __test_metadata *_metadata, int fd,
		      uint32_t mock_id, const unsigned char *buf, int rid,
		      int pasid1, int pasid2)
{
	check_pasid(_metadata, fd, mock_id, 0, buf, rid);
	check_pasid(_metadata, fd, mock_id, 1, buf, pasid1);
	check_pasid(_metadata, fd, mock_id, 2, buf, pasid2);
	check_pasid(_metadata, fd, mock_id, 3, buf, BLK);
}

#define CHECK_DMA(rid, pasid1, pasid2)                                  \
	check_dma(_metadata, self->fd, self->mock_id, self->buf, rid,   \
		  pasid1, pasid2)

/* A DMA write tagged with @pasid at IOVA + WRITE_OFF lands in page @space */
static void check_write(struct __test_metadata *_metadata, int fd,
			uint32_t mock_id, uint32_t pasid, unsigned char *buf,
			int space)
{
	unsigned char *dst = buf + space * PAGE_SZ + WRITE_OFF;
	unsigned char data[DATA_LEN];
	struct dma_result res;
	unsigned int i;

	/* Bytes the page does not hold yet */
	for (i = 0; i != sizeof(data); i++)
		data[i] = ~dst[i];
	ASSERT_EQ(0, mock_dma_pasid(fd, mock_id, pasid, IOVA + WRITE_OFF,
				    data, sizeof(data), true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(sizeof(data), res.done);
	ASSERT_EQ(0, memcmp(dst, data, sizeof(data)))
		TH_LOG("PASID %u wrote elsewhere than IOASID %d's page",
		       pasid, space);
}

/* Bound: vfio grants device access, the region reads the mock's bytes */
static void check_region(struct __test_metadata *_metadata, int vfio_fd)
{
	unsigned char region[2 * REGION_SIZE];
	unsigned int i;

	memset(region, 0, sizeof(region));
	ASSERT_EQ(REGION_SIZE, pread(vfio_fd, region, sizeof(region), 0));
	for (i = 0; i != REGION_SIZE; i++)
		ASSERT_EQ(REGION_BYTE, region[i]);
}

/* Not bound: vfio refuses device access and the attach ioctls */
static void check_unbound(struct __test_metadata *_metadata, int vfio_fd)
{
	unsigned char byte;

	ASSERT_EQ(-1, pread(vfio_fd, &byte, 1, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(EINVAL, vfio_detach_ioasid(vfio_fd));
}

/* No device was ever bound to context @fd: it has no IOMMU yet */
static void check_no_iommu(struct __test_metadata *_metadata, int fd)
{
	struct ioasid_info info;

	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(0, info.out_flags & IOASID_INFO_IOMMU_BOUND);
	ASSERT_EQ(0, info.out_max_pasid_bits);
}

/* Room for any of the five structs and a tail the kernel does not know */
union vfio_arg {
	struct vfio_device_bind_ioasid_fd bind;
	struct vfio_device_attach_ioasid attach;
	/* Every struct starts with argsz and flags, as this one */
	struct vfio_device_detach_ioasid head;
	struct vfio_device_attach_ioasid_pasid attach_pasid;
	struct vfio_device_detach_ioasid_pasid detach_pasid;
	uint8_t bytes[32];
};

/*
 * A valid call of one of the ioctls, and the DMA of the device once it
 * succeeded: the IOASIDs translating the RID and PASIDs 1 and 2, or BLK
 */
struct vfio_call {
	const char *name;
	unsigned long cmd;
	/* Size of its struct, whose fields are all mandatory */
	uint32_t size;
	/* Offset of its __reserved, 0 for none */
	uint32_t reserved;
	union vfio_arg arg;
	int rid, pasid1, pasid2;
};

/* A copy of @c's struct with argsz set and a zero tail */
static union vfio_arg call_arg(const struct vfio_call *c)
{
	union vfio_arg arg;

	memset(&arg, 0, sizeof(arg));
	memcpy(&arg, &c->arg, c->size);
	arg.head.argsz = c->size;
	return arg;
}

/*
 * A context with NR_SPACES IOASIDs and the open, unbound vfio fd of a mock
 * device. The variants bind it to the context that created the mock device
 * or to another one (DMA is always done through the creator), and put it
 * behind either of the two compatible mock IOMMU instances.
 */
FIXTURE(vfio) {
	int fd;
	int bind_fd;
	uint32_t ioasid[NR_SPACES];
	uint32_t mock_id;
	uint32_t vfio_index;
	int vfio_fd;
	unsigned char *buf;
};

FIXTURE_VARIANT(vfio) {
	bool other_ctx;
	uint32_t instance;
};

FIXTURE_VARIANT_ADD(vfio, iommu0) {
	.instance = 0,
};

FIXTURE_VARIANT_ADD(vfio, iommu0_other_ctx) {
	.other_ctx = true,
	.instance = 0,
};

FIXTURE_VARIANT_ADD(vfio, iommu1) {
	.instance = 1,
};

FIXTURE_SETUP(vfio)
{
	self->vfio_fd = -1;
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	self->bind_fd = variant->other_ctx ? ioasid_open() : self->fd;
	ASSERT_LE(0, self->bind_fd);
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	ASSERT_EQ(0, spaces_create(self->bind_fd, self->buf, self->ioasid));
	ASSERT_EQ(0, mock_create_vfio(self->fd, variant->instance,
				      &self->mock_id, &self->vfio_index))
		TH_LOG("no mock vfio device: needs VFIO=y, VFIO_DEVICE_CDEV");
	self->vfio_fd = vfio_open_index(self->vfio_index);
	ASSERT_LE(0, self->vfio_fd);
}

FIXTURE_TEARDOWN(vfio)
{
	if (self->vfio_fd >= 0)
		close(self->vfio_fd);
	if (self->bind_fd != self->fd)
		close(self->bind_fd);
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

/*
 * Each malformed form of call @c on @vfio_fd fails, and the DMA of @mock_id
 * stays @rid, @pasid1, @pasid2 as check_dma() sees it
 */
static void check_bad_forms(struct __test_metadata *_metadata, int vfio_fd,
			    int fd, uint32_t mock_id, const unsigned char *buf,
			    const struct vfio_call *c, int rid, int pasid1,
			    int pasid2)
{
	const uint32_t short_sizes[] = { 0, 4, c->size - 1 };
	const uint32_t tail_bytes[] = { c->size, c->size + 7 };
	const uint32_t flags[] = { 1, 1U << 31 };
	union vfio_arg arg;
	unsigned int i;

	/* Shorter than the last mandatory field */
	for (i = 0; i != ARRAY_SIZE(short_sizes); i++) {
		arg = call_arg(c);
		arg.head.argsz = short_sizes[i];
		ASSERT_EQ(EINVAL, ioasid_call(vfio_fd, c->cmd, &arg))
			TH_LOG("%s with argsz %u", c->name, short_sizes[i]);
		check_dma(_metadata, fd, mock_id, buf, rid, pasid1, pasid2);
	}
	/* Longer, with something the kernel does not know in the tail */
	for (i = 0; i != ARRAY_SIZE(tail_bytes); i++) {
		arg = call_arg(c);
		arg.head.argsz = c->size + 8;
		arg.bytes[tail_bytes[i]] = 1;
		ASSERT_EQ(E2BIG, ioasid_call(vfio_fd, c->cmd, &arg))
			TH_LOG("%s with byte %u set", c->name, tail_bytes[i]);
		check_dma(_metadata, fd, mock_id, buf, rid, pasid1, pasid2);
	}
	for (i = 0; i != ARRAY_SIZE(flags); i++) {
		arg = call_arg(c);
		arg.head.flags = flags[i];
		ASSERT_EQ(EOPNOTSUPP, ioasid_call(vfio_fd, c->cmd, &arg))
			TH_LOG("%s with flags %#x", c->name, flags[i]);
		check_dma(_metadata, fd, mock_id, buf, rid, pasid1, pasid2);
	}
	if (c->reserved) {
		arg = call_arg(c);
		arg.bytes[c->reserved + 3] = 0x80;
		ASSERT_EQ(EINVAL, ioasid_call(vfio_fd, c->cmd, &arg))
			TH_LOG("%s with __reserved set", c->name);
		check_dma(_metadata, fd, mock_id, buf, rid, pasid1, pasid2);
	}
	ASSERT_EQ(EFAULT, ioasid_call(vfio_fd, c->cmd, NULL))
		TH_LOG("%s without a struct", c->name);
	check_dma(_metadata, fd, mock_id, buf, rid, pasid1, pasid2);
}

#define CHECK_BAD_FORMS(c, rid, pasid1, pasid2)                          \
	check_bad_forms(_metadata, self->vfio_fd, self->fd, self->mock_id, \
			self->buf, c, rid, pasid1, pasid2)

TEST_F(vfio, unbound)
{
	struct vfio_device_attach_iommufd_pt attach_pt = {
		.argsz = sizeof(attach_pt),
		.pt_id = self->ioasid[0],
	};
	struct vfio_device_detach_iommufd_pt detach_pt = {
		.argsz = sizeof(detach_pt),
	};
	struct ioasid_info info;
	uint32_t dev_id;
	unsigned int i;

	/* Opened is not bound: no device access, DMA blocked */
	CHECK_DMA(BLK, BLK, BLK);
	check_unbound(_metadata, self->vfio_fd);
	/* Every attach ioctl waits for the bind */
	ASSERT_EQ(EINVAL, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(EINVAL, vfio_detach_ioasid(self->vfio_fd));
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
						   self->ioasid[1]));
	ASSERT_EQ(EINVAL, vfio_detach_ioasid_pasid(self->vfio_fd, 1));
	ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd,
				      VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				      &attach_pt));
	ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd,
				      VFIO_DEVICE_DETACH_IOMMUFD_PT,
				      &detach_pt));
	CHECK_DMA(BLK, BLK, BLK);
	check_no_iommu(_metadata, self->bind_fd);

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, &dev_id));
	check_region(_metadata, self->vfio_fd);
	/* Bound is not attached: still blocked */
	CHECK_DMA(BLK, BLK, BLK);
	/* The device selected the context's IOMMU */
	ASSERT_EQ(0, ioasid_get_info(self->bind_fd, &info));
	ASSERT_EQ(IOASID_INFO_IOMMU_BOUND,
		  info.out_flags & IOASID_INFO_IOMMU_BOUND);
	ASSERT_EQ(IOASID_TEST_PASID_BITS, info.out_max_pasid_bits);
	ASSERT_EQ(PAGE_SZ | SZ_2M | (1UL << 30), info.out_pgsize_bitmap);
	/* Its id is an object of the context, and no IOASID */
	ASSERT_NE(0, dev_id);
	for (i = 0; i != NR_SPACES; i++)
		ASSERT_NE(self->ioasid[i], dev_id);
	ASSERT_EQ(ENOENT, ioasid_destroy(self->bind_fd, dev_id));
	ASSERT_EQ(ENOENT, vfio_attach_ioasid(self->vfio_fd, dev_id));
	CHECK_DMA(BLK, BLK, BLK);
}

TEST_F(vfio, attach_detach)
{
	uint64_t unmapped;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	/* Detaching what is not attached does nothing */
	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, BLK);

	/* The device reads what the user mapped, and writes to it */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	CHECK_DMA(0, BLK, BLK);
	check_write(_metadata, self->fd, self->mock_id, 0, self->buf, 0);
	check_fault(_metadata, self->fd, self->mock_id, 0, IOVA + PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	/* Attaching to the current IOASID again changes nothing */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	CHECK_DMA(0, BLK, BLK);

	/* MAP and UNMAP reach the attached device */
	ASSERT_EQ(0, ioasid_map_fixed(self->bind_fd, self->ioasid[0],
				      self->buf + 3 * PAGE_SZ, PAGE_SZ,
				      IOVA + PAGE_SZ));
	check_read(_metadata, self->fd, self->mock_id, 0, IOVA + PAGE_SZ,
		   self->buf + 3 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap(self->bind_fd, self->ioasid[0],
				  IOVA + PAGE_SZ, PAGE_SZ, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	check_fault(_metadata, self->fd, self->mock_id, 0, IOVA + PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	CHECK_DMA(0, BLK, BLK);

	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, BLK);
	/* Detached is still bound */
	check_region(_metadata, self->vfio_fd);

	/* Attaching again fills a new domain from the mappings */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	CHECK_DMA(0, BLK, BLK);
	check_write(_metadata, self->fd, self->mock_id, 0, self->buf, 0);
}

TEST_F(vfio, replace)
{
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	CHECK_DMA(0, BLK, BLK);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[0]));
	CHECK_DMA(0, BLK, BLK);

	/* Same IOVA, another IOASID: translated by that one now */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[1]));
	CHECK_DMA(1, BLK, BLK);
	check_write(_metadata, self->fd, self->mock_id, 0, self->buf, 1);
	/* The old IOASID is no longer in use, the new one is */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[1]));
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[0]));
	CHECK_DMA(1, BLK, BLK);

	/* A failed replace keeps the current translation */
	ASSERT_EQ(ENOENT, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	CHECK_DMA(1, BLK, BLK);

	/* Back and forth */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[2]));
	CHECK_DMA(2, BLK, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[1]));
	CHECK_DMA(1, BLK, BLK);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[2]));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[1]));
	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, BLK);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[1]));
}

TEST_F(vfio, close_and_rebind)
{
	unsigned int i;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 2,
					      self->ioasid[2]));
	CHECK_DMA(0, 1, 2);
	for (i = 0; i != 3; i++)
		ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd,
						self->ioasid[i]));
	CHECK_DMA(0, 1, 2);

	/* Closing the fd unbinds: everything blocked, nothing in use */
	close(self->vfio_fd);
	self->vfio_fd = -1;
	CHECK_DMA(BLK, BLK, BLK);
	for (i = 0; i != 3; i++)
		ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[i]));

	/* The device binds again, through a new fd */
	self->vfio_fd = vfio_open_index(self->vfio_index);
	ASSERT_LE(0, self->vfio_fd);
	check_unbound(_metadata, self->vfio_fd);
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	check_region(_metadata, self->vfio_fd);
	CHECK_DMA(BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[3]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[3]));
	CHECK_DMA(3, 3, BLK);
}

TEST_F(vfio, bind_twice)
{
	uint32_t other_ioasid[NR_SPACES];
	int other, fd2;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	other = ioasid_open();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, spaces_create(other, self->buf, other_ioasid));

	/* An fd binds once */
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(self->vfio_fd, other, NULL));
	/* An fd that is no context is refused before that */
	ASSERT_EQ(EBADF, vfio_bind_ioasid(self->vfio_fd, -1, NULL));
	CHECK_DMA(0, BLK, BLK);
	check_region(_metadata, self->vfio_fd);
	check_no_iommu(_metadata, other);

	/* Nor does a second fd of the device while the first is bound */
	fd2 = vfio_open_index(self->vfio_index);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(fd2, self->bind_fd, NULL));
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(fd2, other, NULL));
	check_unbound(_metadata, fd2);
	ASSERT_EQ(EINVAL, vfio_attach_ioasid(fd2, self->ioasid[1]));
	CHECK_DMA(0, BLK, BLK);
	check_no_iommu(_metadata, other);

	/* Once the first one is closed, it binds, to any context */
	close(self->vfio_fd);
	self->vfio_fd = fd2;
	CHECK_DMA(BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, other, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, other_ioasid[3]));
	CHECK_DMA(3, BLK, BLK);
	/* The vfio fd keeps that context alive */
	close(other);
	CHECK_DMA(3, BLK, BLK);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[0]));
}

TEST_F(vfio, bind_bad_input)
{
	struct vfio_call bind = {
		.name = "BIND_IOASID_FD",
		.cmd = VFIO_DEVICE_BIND_IOASID_FD,
		.size = sizeof(struct vfio_device_bind_ioasid_fd),
		.arg.bind = {
			.ioasid_fd = self->bind_fd,
			/* Output only: ignored */
			.out_dev_id = NO_ID,
		},
	};
	struct vfio_device_bind_ioasid_fd *ro;
	int bad_fds[7], pipe_fds[2];
	union vfio_arg arg;
	unsigned int i;

	CHECK_BAD_FORMS(&bind, BLK, BLK, BLK);
	check_unbound(_metadata, self->vfio_fd);
	check_no_iommu(_metadata, self->bind_fd);

	/* Descriptors that are no open /dev/ioasid */
	ASSERT_EQ(0, pipe(pipe_fds));
	bad_fds[0] = -1;
	bad_fds[1] = pipe_fds[0];
	bad_fds[2] = pipe_fds[1];
	bad_fds[3] = open("/dev/null", O_RDWR | O_CLOEXEC);
	bad_fds[4] = open("/dev/ioasid", O_PATH | O_CLOEXEC);
	bad_fds[5] = self->vfio_fd;
	bad_fds[6] = dup(self->vfio_fd);
	ASSERT_LE(0, bad_fds[3]);
	ASSERT_LE(0, bad_fds[4]);
	ASSERT_LE(0, bad_fds[6]);
	close(bad_fds[6]);
	for (i = 0; i != ARRAY_SIZE(bad_fds); i++) {
		ASSERT_EQ(EBADF, vfio_bind_ioasid(self->vfio_fd, bad_fds[i],
						  NULL))
			TH_LOG("bad fd %u", i);
		check_unbound(_metadata, self->vfio_fd);
		CHECK_DMA(BLK, BLK, BLK);
		check_no_iommu(_metadata, self->bind_fd);
	}
	for (i = 0; i != 5; i++)
		if (bad_fds[i] >= 0)
			close(bad_fds[i]);

	/* The device id cannot be returned: the bind is undone */
	ro = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	arg = call_arg(&bind);
	memcpy(ro, &arg.bind, sizeof(*ro));
	ASSERT_EQ(0, mprotect(ro, PAGE_SZ, PROT_READ));
	ASSERT_EQ(EFAULT, ioasid_call(self->vfio_fd,
				      VFIO_DEVICE_BIND_IOASID_FD, ro));
	munmap(ro, PAGE_SZ);
	check_unbound(_metadata, self->vfio_fd);
	CHECK_DMA(BLK, BLK, BLK);

	/* A longer struct with a zero tail binds */
	arg = call_arg(&bind);
	arg.head.argsz = bind.size + 8;
	ASSERT_EQ(0, ioasid_call(self->vfio_fd, VFIO_DEVICE_BIND_IOASID_FD,
				 &arg));
	ASSERT_NE(NO_ID, arg.bind.out_dev_id);
	ASSERT_NE(0, arg.bind.out_dev_id);
	ASSERT_EQ(ENOENT, ioasid_destroy(self->bind_fd, arg.bind.out_dev_id));
	check_region(_metadata, self->vfio_fd);
	CHECK_DMA(BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[2]));
	CHECK_DMA(2, BLK, BLK);
}

TEST_F(vfio, attach_bad_input)
{
	struct vfio_call calls[] = {
		{
			.name = "ATTACH_IOASID",
			.cmd = VFIO_DEVICE_ATTACH_IOASID,
			.size = sizeof(struct vfio_device_attach_ioasid),
			.reserved = offsetof(struct vfio_device_attach_ioasid,
					     __reserved),
			.arg.attach.ioasid = self->ioasid[3],
			.rid = 3, .pasid1 = 1, .pasid2 = BLK,
		},
		{
			.name = "ATTACH_IOASID_PASID",
			.cmd = VFIO_DEVICE_ATTACH_IOASID_PASID,
			.size = sizeof(struct vfio_device_attach_ioasid_pasid),
			.arg.attach_pasid = {
				.pasid = 2,
				.ioasid = self->ioasid[2],
			},
			.rid = 3, .pasid1 = 1, .pasid2 = 2,
		},
		{
			.name = "DETACH_IOASID_PASID",
			.cmd = VFIO_DEVICE_DETACH_IOASID_PASID,
			.size = sizeof(struct vfio_device_detach_ioasid_pasid),
			.reserved =
				offsetof(struct vfio_device_detach_ioasid_pasid,
					 __reserved),
			.arg.detach_pasid.pasid = 1,
			.rid = 3, .pasid1 = BLK, .pasid2 = 2,
		},
		{
			.name = "DETACH_IOASID",
			.cmd = VFIO_DEVICE_DETACH_IOASID,
			.size = sizeof(struct vfio_device_detach_ioasid),
			.rid = BLK, .pasid1 = BLK, .pasid2 = 2,
		},
	};
	uint32_t bad_ids[5];
	union vfio_arg arg;
	uint32_t dev_id;
	unsigned int i;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, &dev_id));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));
	CHECK_DMA(0, 1, BLK);

	/* Each call would change the DMA; broken, none does */
	for (i = 0; i != ARRAY_SIZE(calls); i++)
		CHECK_BAD_FORMS(&calls[i], 0, 1, BLK);

	/* A longer struct with a zero tail works, from newer userspace */
	for (i = 0; i != ARRAY_SIZE(calls); i++) {
		arg = call_arg(&calls[i]);
		arg.head.argsz = calls[i].size + 8;
		ASSERT_EQ(0, ioasid_call(self->vfio_fd, calls[i].cmd, &arg))
			TH_LOG("%s", calls[i].name);
		CHECK_DMA(calls[i].rid, calls[i].pasid1, calls[i].pasid2);
	}

	/* Ids that name no IOASID of the context */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(self->vfio_fd, 2));
	CHECK_DMA(0, 1, BLK);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[3]));
	bad_ids[0] = 0;
	bad_ids[1] = NO_ID;
	bad_ids[2] = dev_id;
	bad_ids[3] = self->ioasid[3];
	/* The mock device is an object of the context too, in this variant */
	bad_ids[4] = variant->other_ctx ? NO_ID + 1 : self->mock_id;
	for (i = 0; i != ARRAY_SIZE(bad_ids); i++) {
		ASSERT_EQ(ENOENT, vfio_attach_ioasid(self->vfio_fd,
						     bad_ids[i]))
			TH_LOG("id %u", bad_ids[i]);
		CHECK_DMA(0, 1, BLK);
		ASSERT_EQ(ENOENT, vfio_attach_ioasid_pasid(self->vfio_fd, 2,
							   bad_ids[i]))
			TH_LOG("id %u", bad_ids[i]);
		CHECK_DMA(0, 1, BLK);
	}
	/* PASIDs that are not attached */
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->vfio_fd, 2));
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->vfio_fd, 0));
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->vfio_fd,
						   PASID_LIMIT));
	CHECK_DMA(0, 1, BLK);
}

TEST_F(vfio, pasid_attach)
{
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));
	CHECK_DMA(0, 1, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 2,
					      self->ioasid[2]));
	/* Same IOVA, and each PASID reads its own IOASID's memory */
	CHECK_DMA(0, 1, 2);
	check_write(_metadata, self->fd, self->mock_id, 2, self->buf, 2);
	check_write(_metadata, self->fd, self->mock_id, 0, self->buf, 0);
	check_fault(_metadata, self->fd, self->mock_id, PASID_LIMIT - 1,
		    IOVA, IOASID_TEST_FAULT_BLOCKED);

	/* An attached PASID must be detached first */
	ASSERT_EQ(EBUSY, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
						  self->ioasid[3]));
	ASSERT_EQ(EBUSY, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
						  self->ioasid[1]));
	CHECK_DMA(0, 1, 2);
	/* What a PASID is attached to is in use */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[1]));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[2]));
	CHECK_DMA(0, 1, 2);

	ASSERT_EQ(0, vfio_detach_ioasid_pasid(self->vfio_fd, 1));
	CHECK_DMA(0, BLK, 2);
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->vfio_fd, 1));
	CHECK_DMA(0, BLK, 2);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[1]));

	/* The last PASID of the width works */
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, PASID_LIMIT - 1,
					      self->ioasid[3]));
	check_pasid(_metadata, self->fd, self->mock_id, PASID_LIMIT - 1,
		    self->buf, 3);
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(self->vfio_fd,
					      PASID_LIMIT - 1));
	check_fault(_metadata, self->fd, self->mock_id, PASID_LIMIT - 1,
		    IOVA, IOASID_TEST_FAULT_BLOCKED);

	/* Detaching the RID leaves the PASIDs alone */
	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, 2);
	/* The RID and a PASID on one IOASID; either one can leave */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[2]));
	CHECK_DMA(2, BLK, 2);
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(self->vfio_fd, 2));
	CHECK_DMA(2, BLK, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 2,
					      self->ioasid[2]));
	ASSERT_EQ(0, vfio_detach_ioasid(self->vfio_fd));
	CHECK_DMA(BLK, BLK, 2);
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, self->ioasid[0]));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->bind_fd, self->ioasid[2]));
}

TEST_F(vfio, pasid_bad_input)
{
	struct ioasid_info info;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, ioasid_get_info(self->bind_fd, &info));
	ASSERT_EQ(IOASID_TEST_PASID_BITS, info.out_max_pasid_bits);
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));
	CHECK_DMA(0, 1, BLK);

	/* PASID 0 is the RID's */
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, 0,
						   self->ioasid[2]));
	CHECK_DMA(0, 1, BLK);
	/* Beyond the width GET_INFO reports */
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, PASID_LIMIT,
						   self->ioasid[2]));
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, UINT32_MAX,
						   self->ioasid[2]));
	CHECK_DMA(0, 1, BLK);
	/* The PASID is checked before the IOASID */
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, 0, NO_ID));
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(self->vfio_fd, PASID_LIMIT,
						   NO_ID));
	ASSERT_EQ(ENOENT, vfio_attach_ioasid_pasid(self->vfio_fd, 2, NO_ID));
	CHECK_DMA(0, 1, BLK);
	/* Detaching a PASID that was refused */
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(self->vfio_fd,
						   PASID_LIMIT));
	CHECK_DMA(0, 1, BLK);
}

/* A reserved region of the device bars RID DMA only */
TEST_F(vfio, reserved_region)
{
	uint64_t resv = variant->instance == 1 ? IOASID_TEST_RESV_START_1 :
						 IOASID_TEST_RESV_START_0;
	uint32_t over;

	ASSERT_EQ(0, ioasid_create(self->bind_fd, &over));
	ASSERT_EQ(0, ioasid_map_fixed(self->bind_fd, over,
				      self->buf + 3 * PAGE_SZ, PAGE_SZ,
				      resv + PAGE_SZ));
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));

	ASSERT_EQ(EADDRINUSE, vfio_attach_ioasid(self->vfio_fd, over));
	CHECK_DMA(0, BLK, BLK);
	/* The refused attach left nothing in use */
	ASSERT_EQ(0, ioasid_destroy(self->bind_fd, over));
	ASSERT_EQ(0, ioasid_create(self->bind_fd, &over));
	ASSERT_EQ(0, ioasid_map_fixed(self->bind_fd, over,
				      self->buf + 3 * PAGE_SZ, PAGE_SZ,
				      resv + PAGE_SZ));

	/* PASID DMA is not subject to it */
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1, over));
	check_read(_metadata, self->fd, self->mock_id, 1, resv + PAGE_SZ,
		   self->buf + 3 * PAGE_SZ);
	check_pasid(_metadata, self->fd, self->mock_id, 0, self->buf, 0);
	/* And while a PASID is there, the RID still cannot come */
	ASSERT_EQ(EADDRINUSE, vfio_attach_ioasid(self->vfio_fd, over));
	check_pasid(_metadata, self->fd, self->mock_id, 0, self->buf, 0);
	check_read(_metadata, self->fd, self->mock_id, 1, resv + PAGE_SZ,
		   self->buf + 3 * PAGE_SZ);
}

TEST_F(vfio, iommufd_ioctls_refused)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach_pt = {
		.argsz = sizeof(attach_pt),
		.pt_id = self->ioasid[3],
	};
	struct vfio_device_detach_iommufd_pt detach_pt = {
		.argsz = sizeof(detach_pt),
	};
	int iommufd;

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
					      self->ioasid[1]));

	/* Bound once, to ioasid */
	bind.iommufd = self->bind_fd;
	ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd, VFIO_DEVICE_BIND_IOMMUFD,
				      &bind));
	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd >= 0) {
		bind.iommufd = iommufd;
		ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd,
					      VFIO_DEVICE_BIND_IOMMUFD,
					      &bind));
		close(iommufd);
	}
	CHECK_DMA(0, 1, BLK);
	/* No iommufd_device behind the fd: refused before the driver */
	ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd,
				      VFIO_DEVICE_ATTACH_IOMMUFD_PT,
				      &attach_pt));
	CHECK_DMA(0, 1, BLK);
	ASSERT_EQ(EINVAL, ioasid_call(self->vfio_fd,
				      VFIO_DEVICE_DETACH_IOMMUFD_PT,
				      &detach_pt));
	CHECK_DMA(0, 1, BLK);
	check_region(_metadata, self->vfio_fd);
	/* The ioasid binding is intact */
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[3]));
	CHECK_DMA(3, 1, BLK);
}

/* A device is used through its group or its cdev, never both */
TEST_F(vfio, group_open_blocks_bind)
{
	int group;

	group = vfio_group_open(self->vfio_index);
	ASSERT_LE(0, group)
		TH_LOG("vfio group of vfio%u: %s", self->vfio_index,
		       strerror(errno));
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	check_unbound(_metadata, self->vfio_fd);
	CHECK_DMA(BLK, BLK, BLK);
	check_no_iommu(_metadata, self->bind_fd);
	close(group);

	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd, self->ioasid[0]));
	ASSERT_EQ(-1, vfio_group_open(self->vfio_index));
	ASSERT_EQ(EBUSY, errno);
	CHECK_DMA(0, BLK, BLK);

	close(self->vfio_fd);
	self->vfio_fd = -1;
	group = vfio_group_open(self->vfio_index);
	ASSERT_LE(0, group);
	close(group);
}

/*
 * A vfio fd bound and attached as the variant says, then the fds closed in
 * the order of the variant: 'v' the vfio fd, 'b' the context it is bound
 * to, 'm' the context that created the mock device (the same as 'b' but
 * with other_ctx). After each close: what the device does (while the
 * mock's context is open to ask), what the vfio fd can still do, what is
 * in use, and what memory stays charged.
 */
FIXTURE(vfio_close) {
	int fd;
	int bind_fd;
	int vfio_fd;
	uint32_t ioasid[NR_SPACES];
	uint32_t mock_id;
	unsigned char *buf;
	long base;
	bool destroyed;
};

FIXTURE_VARIANT(vfio_close) {
	bool other_ctx;
	bool rid;
	bool pasids;
	const char *order;
};

FIXTURE_VARIANT_ADD(vfio_close, vfio_first) {
	.rid = true,
	.order = "vb",
};

FIXTURE_VARIANT_ADD(vfio_close, ioasid_first) {
	.rid = true,
	.order = "bv",
};

FIXTURE_VARIANT_ADD(vfio_close, vfio_first_pasids) {
	.rid = true,
	.pasids = true,
	.order = "vb",
};

FIXTURE_VARIANT_ADD(vfio_close, ioasid_first_pasids) {
	.rid = true,
	.pasids = true,
	.order = "bv",
};

FIXTURE_VARIANT_ADD(vfio_close, ioasid_first_pasids_only) {
	.pasids = true,
	.order = "bv",
};

FIXTURE_VARIANT_ADD(vfio_close, ioasid_first_unattached) {
	.order = "bv",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_vbm) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "vbm",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_vmb) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "vmb",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_bvm) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "bvm",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_bmv) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "bmv",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_mvb) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "mvb",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_mbv) {
	.other_ctx = true,
	.rid = true,
	.pasids = true,
	.order = "mbv",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_bvm_rid_only) {
	.other_ctx = true,
	.rid = true,
	.order = "bvm",
};

FIXTURE_VARIANT_ADD(vfio_close, two_ctx_bvm_pasids_only) {
	.other_ctx = true,
	.pasids = true,
	.order = "bvm",
};

FIXTURE_SETUP(vfio_close)
{
	uint32_t index;

	self->vfio_fd = -1;
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	self->bind_fd = variant->other_ctx ? ioasid_open() : self->fd;
	ASSERT_LE(0, self->bind_fd);
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	self->base = locked_pages();
	ASSERT_LE(0, self->base);
	ASSERT_EQ(0, spaces_create(self->bind_fd, self->buf, self->ioasid));
	ASSERT_EQ(self->base + NR_SPACES, locked_pages());

	self->vfio_fd = vfio_new(self->fd, 0, &self->mock_id, &index);
	ASSERT_LE(0, self->vfio_fd);
	ASSERT_EQ(0, vfio_bind_ioasid(self->vfio_fd, self->bind_fd, NULL));
	if (variant->rid)
		ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd,
						self->ioasid[0]));
	if (variant->pasids) {
		ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 1,
						      self->ioasid[1]));
		ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 2,
						      self->ioasid[2]));
	}
}

FIXTURE_TEARDOWN(vfio_close)
{
	if (self->vfio_fd >= 0)
		close(self->vfio_fd);
	if (self->bind_fd >= 0 && self->bind_fd != self->fd)
		close(self->bind_fd);
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

TEST_F(vfio_close, in_order)
{
	const char *c = variant->order;
	bool bound, pinned;
	int rid, pasid1, pasid2;
	unsigned int i;
	int rc;

	/* Check, then close the next fd, until all are closed */
	for (;;) {
		bound = self->vfio_fd >= 0;
		rid = bound && variant->rid ? 0 : BLK;
		pasid1 = bound && variant->pasids ? 1 : BLK;
		pasid2 = bound && variant->pasids ? 2 : BLK;
		pinned = (bound || self->bind_fd >= 0) && !self->destroyed;

		/* The context and the memory it pinned live while an fd does */
		ASSERT_EQ(self->base + (pinned ? NR_SPACES : 0), locked_pages())
			TH_LOG("after closing \"%.*s\"",
			       (int)(c - variant->order), variant->order);

		/* While bound, the device translates through the context */
		if (self->fd >= 0) {
			CHECK_DMA(rid, pasid1, pasid2);
			if (rid != BLK)
				check_write(_metadata, self->fd, self->mock_id,
					    0, self->buf, 0);
			if (pasid2 != BLK)
				check_write(_metadata, self->fd, self->mock_id,
					    2, self->buf, 2);
		}

		if (bound) {
			check_region(_metadata, self->vfio_fd);
			/* Its ids resolve, even with the context's fd closed */
			ASSERT_EQ(0, vfio_attach_ioasid_pasid(self->vfio_fd, 3,
							      self->ioasid[3]));
			if (self->fd >= 0)
				check_read(_metadata, self->fd, self->mock_id,
					   3, IOVA, self->buf + 3 * PAGE_SZ);
			ASSERT_EQ(0, vfio_detach_ioasid_pasid(self->vfio_fd,
							      3));
			ASSERT_EQ(0, vfio_attach_ioasid(self->vfio_fd,
							self->ioasid[3]));
			if (self->fd >= 0)
				check_pasid(_metadata, self->fd, self->mock_id,
					    0, self->buf, 3);
			if (variant->rid)
				rc = vfio_attach_ioasid(self->vfio_fd,
							self->ioasid[0]);
			else
				rc = vfio_detach_ioasid(self->vfio_fd);
			ASSERT_EQ(0, rc);
			if (self->fd >= 0)
				CHECK_DMA(rid, pasid1, pasid2);
		}

		if (self->bind_fd >= 0 && bound) {
			/* What the device is attached to is in use */
			if (variant->rid)
				ASSERT_EQ(EBUSY,
					  ioasid_destroy(self->bind_fd,
							 self->ioasid[0]));
			for (i = 1; variant->pasids && i != 3; i++)
				ASSERT_EQ(EBUSY,
					  ioasid_destroy(self->bind_fd,
							 self->ioasid[i]));
		} else if (self->bind_fd >= 0 && !self->destroyed) {
			/* Closing the vfio fd detached it from everything */
			for (i = 0; i != NR_SPACES; i++)
				ASSERT_EQ(0, ioasid_destroy(self->bind_fd,
							    self->ioasid[i]));
			self->destroyed = true;
			ASSERT_EQ(self->base, locked_pages());
		}

		if (!*c)
			break;
		switch (*c++) {
		case 'v':
			close(self->vfio_fd);
			self->vfio_fd = -1;
			break;
		case 'b':
			close(self->bind_fd);
			if (self->fd == self->bind_fd)
				self->fd = -1;
			self->bind_fd = -1;
			break;
		case 'm':
			close(self->fd);
			self->fd = -1;
			break;
		}
	}
	ASSERT_EQ(-1, self->vfio_fd);
	ASSERT_EQ(-1, self->bind_fd);
	ASSERT_EQ(-1, self->fd);
	/* Nothing stays pinned or charged */
	ASSERT_EQ(self->base, locked_pages());
}

/* The first device selects the context's IOMMU; another kind gets EXDEV */
TEST(iommu_mismatch)
{
	uint32_t ioasid[NR_SPACES], other_ioasid[NR_SPACES];
	uint32_t mock0, mock2, mock0b, index;
	struct ioasid_info info;
	int fd, other, v0, v2, v0b;
	unsigned char *buf;

	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	other = ioasid_open();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, spaces_create(fd, buf, ioasid));
	ASSERT_EQ(0, spaces_create(other, buf, other_ioasid));
	v0 = vfio_new(fd, 0, &mock0, &index);
	ASSERT_LE(0, v0);
	v2 = vfio_new(fd, 2, &mock2, &index);
	ASSERT_LE(0, v2);

	ASSERT_EQ(0, vfio_bind_ioasid(v0, fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(v0, ioasid[0]));
	check_dma(_metadata, fd, mock0, buf, 0, BLK, BLK);

	/* Instance 2 is another kind of IOMMU: refused, left unbound */
	ASSERT_EQ(EXDEV, vfio_bind_ioasid(v2, fd, NULL));
	check_unbound(_metadata, v2);
	ASSERT_EQ(EINVAL, vfio_attach_ioasid(v2, ioasid[1]));
	check_dma(_metadata, fd, mock2, buf, BLK, BLK, BLK);
	check_dma(_metadata, fd, mock0, buf, 0, BLK, BLK);
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(IOASID_TEST_PASID_BITS, info.out_max_pasid_bits);

	/* It binds to a context of its own, which gets its IOMMU's caps */
	ASSERT_EQ(0, vfio_bind_ioasid(v2, other, NULL));
	ASSERT_EQ(0, ioasid_get_info(other, &info));
	ASSERT_EQ(IOASID_INFO_IOMMU_BOUND,
		  info.out_flags & IOASID_INFO_IOMMU_BOUND);
	ASSERT_EQ(0, info.out_max_pasid_bits);
	ASSERT_EQ(PAGE_SZ, info.out_pgsize_bitmap);
	check_dma(_metadata, fd, mock2, buf, BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_attach_ioasid(v2, other_ioasid[1]));
	check_dma(_metadata, fd, mock2, buf, 1, BLK, BLK);
	/* That IOMMU has no PASID support */
	ASSERT_EQ(EOPNOTSUPP, vfio_attach_ioasid_pasid(v2, 1,
						       other_ioasid[2]));
	ASSERT_EQ(EOPNOTSUPP, vfio_attach_ioasid_pasid(v2, 0,
						       other_ioasid[2]));
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(v2, 1));
	check_dma(_metadata, fd, mock2, buf, 1, BLK, BLK);

	/* And the other way round */
	v0b = vfio_new(fd, 0, &mock0b, &index);
	ASSERT_LE(0, v0b);
	ASSERT_EQ(EXDEV, vfio_bind_ioasid(v0b, other, NULL));
	check_unbound(_metadata, v0b);
	check_dma(_metadata, fd, mock0b, buf, BLK, BLK, BLK);
	check_dma(_metadata, fd, mock2, buf, 1, BLK, BLK);
	ASSERT_EQ(0, vfio_bind_ioasid(v0b, fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(v0b, 1, ioasid[2]));
	check_dma(_metadata, fd, mock0b, buf, BLK, 2, BLK);

	close(v0b);
	close(v2);
	close(v0);
	close(other);
	close(fd);
	munmap(buf, BUF_SIZE);
}

/* Compatible IOMMUs that cannot share a domain: one IOASID, two domains */
TEST(two_iommu_instances)
{
	uint32_t ioasid[NR_SPACES], mock0, mock1, dev0, dev1, index;
	struct ioasid_info info;
	uint64_t unmapped;
	unsigned char *buf;
	int fd, v0, v1;

	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, spaces_create(fd, buf, ioasid));
	v0 = vfio_new(fd, 0, &mock0, &index);
	ASSERT_LE(0, v0);
	v1 = vfio_new(fd, 1, &mock1, &index);
	ASSERT_LE(0, v1);

	ASSERT_EQ(0, vfio_bind_ioasid(v0, fd, &dev0));
	ASSERT_EQ(0, vfio_bind_ioasid(v1, fd, &dev1));
	ASSERT_NE(dev0, dev1);
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(IOASID_TEST_PASID_BITS, info.out_max_pasid_bits);
	ASSERT_EQ(0, vfio_attach_ioasid(v0, ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid(v1, ioasid[0]));
	check_dma(_metadata, fd, mock0, buf, 0, BLK, BLK);
	check_dma(_metadata, fd, mock1, buf, 0, BLK, BLK);

	/* What one writes, the other reads */
	check_write(_metadata, fd, mock1, 0, buf, 0);
	check_read(_metadata, fd, mock0, 0, IOVA + WRITE_OFF, buf + WRITE_OFF);
	/* MAP and UNMAP reach both domains */
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid[0], buf + 3 * PAGE_SZ,
				      PAGE_SZ, IOVA + PAGE_SZ));
	check_read(_metadata, fd, mock0, 0, IOVA + PAGE_SZ,
		   buf + 3 * PAGE_SZ);
	check_read(_metadata, fd, mock1, 0, IOVA + PAGE_SZ,
		   buf + 3 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid[0], IOVA + PAGE_SZ, PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	check_fault(_metadata, fd, mock0, 0, IOVA + PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	check_fault(_metadata, fd, mock1, 0, IOVA + PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);

	/* PASIDs of both on the same IOASID */
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(v1, 1, ioasid[0]));
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(v0, 1, ioasid[0]));
	check_dma(_metadata, fd, mock0, buf, 0, 0, BLK);
	check_dma(_metadata, fd, mock1, buf, 0, 0, BLK);

	/* Moving one leaves the other where it is */
	ASSERT_EQ(0, vfio_attach_ioasid(v0, ioasid[1]));
	check_dma(_metadata, fd, mock0, buf, 1, 0, BLK);
	check_dma(_metadata, fd, mock1, buf, 0, 0, BLK);
	ASSERT_EQ(0, vfio_detach_ioasid(v1));
	check_dma(_metadata, fd, mock1, buf, BLK, 0, BLK);
	check_dma(_metadata, fd, mock0, buf, 1, 0, BLK);
	ASSERT_EQ(EBUSY, ioasid_destroy(fd, ioasid[0]));
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(v0, 1));
	ASSERT_EQ(EBUSY, ioasid_destroy(fd, ioasid[0]));
	check_dma(_metadata, fd, mock1, buf, BLK, 0, BLK);
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(v1, 1));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid[0]));
	check_dma(_metadata, fd, mock0, buf, 1, BLK, BLK);

	close(v1);
	close(v0);
	close(fd);
	munmap(buf, BUF_SIZE);
}

/* A device bound by a driver (the test op) is not handed to vfio too */
TEST(mock_bind_ownership)
{
	uint32_t ioasid_a[NR_SPACES], ioasid_b[NR_SPACES];
	uint32_t mock_id, index;
	unsigned char *buf;
	int a, b, v;

	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	a = ioasid_open();
	ASSERT_LE(0, a);
	b = ioasid_open();
	ASSERT_LE(0, b);
	ASSERT_EQ(0, spaces_create(a, buf, ioasid_a));
	ASSERT_EQ(0, spaces_create(b, buf, ioasid_b));
	v = vfio_new(a, 0, &mock_id, &index);
	ASSERT_LE(0, v);

	/* Owned by context a: another context cannot have it */
	ASSERT_EQ(0, mock_bind(a, mock_id, NULL));
	ASSERT_EQ(EPERM, vfio_bind_ioasid(v, b, NULL));
	check_unbound(_metadata, v);
	check_no_iommu(_metadata, b);
	/* And a has it bound already */
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(v, a, NULL));
	check_unbound(_metadata, v);
	check_dma(_metadata, a, mock_id, buf, BLK, BLK, BLK);
	ASSERT_EQ(0, mock_attach(a, mock_id, ioasid_a[0]));
	ASSERT_EQ(EPERM, vfio_bind_ioasid(v, b, NULL));
	ASSERT_EQ(EBUSY, vfio_bind_ioasid(v, a, NULL));
	check_unbound(_metadata, v);
	check_dma(_metadata, a, mock_id, buf, 0, BLK, BLK);

	/* Once let go, vfio can bind it to b, and a cannot take it back */
	ASSERT_EQ(0, mock_unbind(a, mock_id));
	check_dma(_metadata, a, mock_id, buf, BLK, BLK, BLK);
	ASSERT_EQ(0, vfio_bind_ioasid(v, b, NULL));
	ASSERT_EQ(EPERM, mock_bind(a, mock_id, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(v, ioasid_b[1]));
	ASSERT_EQ(EPERM, mock_bind(a, mock_id, NULL));
	check_dma(_metadata, a, mock_id, buf, 1, BLK, BLK);

	/* Closing the vfio fd hands it back */
	close(v);
	check_dma(_metadata, a, mock_id, buf, BLK, BLK, BLK);
	ASSERT_EQ(0, mock_bind(a, mock_id, NULL));
	ASSERT_EQ(0, mock_unbind(a, mock_id));

	/* Bound through vfio to a itself: the test op finds it bound */
	v = vfio_open_index(index);
	ASSERT_LE(0, v);
	ASSERT_EQ(0, vfio_bind_ioasid(v, a, NULL));
	ASSERT_EQ(EBUSY, mock_bind(a, mock_id, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(v, ioasid_a[2]));
	ASSERT_EQ(EBUSY, mock_bind(a, mock_id, NULL));
	check_dma(_metadata, a, mock_id, buf, 2, BLK, BLK);

	close(v);
	close(b);
	close(a);
	munmap(buf, BUF_SIZE);
}

/* A vfio fd bound to iommufd takes no ioasid ioctl, and vice versa */
TEST(iommufd_bound_fd)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	uint32_t ioasid[NR_SPACES], mock_id, index;
	int fd, iommufd, v, param, rc;
	unsigned char *buf;
	char old = 'N';

	iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (iommufd < 0)
		SKIP(return, "no /dev/iommu");
	param = open(IOMMUFD_UNSAFE_MSI, O_RDWR | O_CLOEXEC);
	if (param < 0)
		SKIP(return, "no %s", IOMMUFD_UNSAFE_MSI);
	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, spaces_create(fd, buf, ioasid));
	v = vfio_new(fd, 0, &mock_id, &index);
	ASSERT_LE(0, v);

	/* Mock devices have no isolated MSI: allowed just for the bind */
	ASSERT_EQ(1, pread(param, &old, 1, 0));
	ASSERT_EQ(1, pwrite(param, "Y", 1, 0));
	bind.iommufd = iommufd;
	rc = ioasid_call(v, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	ASSERT_EQ(1, pwrite(param, &old, 1, 0));
	close(param);
	ASSERT_EQ(0, rc);
	check_region(_metadata, v);

	ASSERT_EQ(EBUSY, vfio_bind_ioasid(v, fd, NULL));
	ASSERT_EQ(EINVAL, vfio_attach_ioasid(v, ioasid[0]));
	ASSERT_EQ(EINVAL, vfio_detach_ioasid(v));
	ASSERT_EQ(EINVAL, vfio_attach_ioasid_pasid(v, 1, ioasid[1]));
	ASSERT_EQ(EINVAL, vfio_detach_ioasid_pasid(v, 1));
	check_dma(_metadata, fd, mock_id, buf, BLK, BLK, BLK);
	/* iommufd owns its DMA */
	ASSERT_EQ(EPERM, mock_bind(fd, mock_id, NULL));
	check_no_iommu(_metadata, fd);

	close(v);
	ASSERT_EQ(0, mock_bind(fd, mock_id, NULL));
	ASSERT_EQ(0, mock_attach(fd, mock_id, ioasid[3]));
	check_dma(_metadata, fd, mock_id, buf, 3, BLK, BLK);
	close(iommufd);
	close(fd);
	munmap(buf, BUF_SIZE);
}

/* PASID attach through the test ops, as a driver other than vfio would */
TEST(mock_pasid_ops)
{
	uint32_t ioasid[NR_SPACES], ioasid2, mock_id, mock2;
	unsigned char *buf;
	int fd, fd2;

	buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, buf);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, spaces_create(fd, buf, ioasid));
	ASSERT_EQ(0, mock_create(fd, 0, &mock_id));
	ASSERT_EQ(ENODEV, mock_attach_pasid(fd, mock_id, 1, ioasid[1]));
	ASSERT_EQ(ENODEV, mock_detach_pasid(fd, mock_id, 1));
	ASSERT_EQ(0, mock_bind(fd, mock_id, NULL));
	ASSERT_EQ(0, mock_attach(fd, mock_id, ioasid[0]));
	ASSERT_EQ(0, mock_attach_pasid(fd, mock_id, 1, ioasid[1]));
	ASSERT_EQ(0, mock_attach_pasid(fd, mock_id, 2, ioasid[2]));
	check_dma(_metadata, fd, mock_id, buf, 0, 1, 2);
	check_write(_metadata, fd, mock_id, 1, buf, 1);

	ASSERT_EQ(EBUSY, mock_attach_pasid(fd, mock_id, 1, ioasid[3]));
	ASSERT_EQ(EINVAL, mock_attach_pasid(fd, mock_id, 0, ioasid[3]));
	ASSERT_EQ(EINVAL, mock_attach_pasid(fd, mock_id, PASID_LIMIT,
					    ioasid[3]));
	ASSERT_EQ(ENOENT, mock_attach_pasid(fd, mock_id, 3, NO_ID));
	ASSERT_EQ(EBUSY, ioasid_destroy(fd, ioasid[1]));
	check_dma(_metadata, fd, mock_id, buf, 0, 1, 2);

	ASSERT_EQ(0, mock_detach_pasid(fd, mock_id, 1));
	check_dma(_metadata, fd, mock_id, buf, 0, BLK, 2);
	ASSERT_EQ(ENOENT, mock_detach_pasid(fd, mock_id, 1));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid[1]));
	check_dma(_metadata, fd, mock_id, buf, 0, BLK, 2);

	/* Unbinding releases the PASIDs with the RID */
	ASSERT_EQ(0, mock_unbind(fd, mock_id));
	check_dma(_metadata, fd, mock_id, buf, BLK, BLK, BLK);
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid[0]));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid[2]));
	/* Bound again, and closed with a PASID attached */
	ASSERT_EQ(0, mock_bind(fd, mock_id, NULL));
	ASSERT_EQ(0, mock_attach_pasid(fd, mock_id, 1, ioasid[3]));
	check_dma(_metadata, fd, mock_id, buf, BLK, 3, BLK);

	/* An IOMMU without PASID support */
	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioasid_create(fd2, &ioasid2));
	ASSERT_EQ(0, mock_create(fd2, 2, &mock2));
	ASSERT_EQ(0, mock_bind(fd2, mock2, NULL));
	ASSERT_EQ(EOPNOTSUPP, mock_attach_pasid(fd2, mock2, 1, ioasid2));
	check_fault(_metadata, fd2, mock2, 1, IOVA,
		    IOASID_TEST_FAULT_BLOCKED);

	close(fd2);
	close(fd);
	munmap(buf, BUF_SIZE);
}

TEST_HARNESS_MAIN
