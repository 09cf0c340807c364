// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid selftests: normal IOASIDs, mappings, pinning and accounting,
 * checked through DMA by mock devices whose IOMMU walks its page tables.
 */
#include "../kselftest_harness.h"
#include "ioasid_utils.h"

#define BUF_SIZE (4 * SZ_2M)

/* Context with no device */
FIXTURE(ioasid_ctx) {
	int fd;
	uint32_t ioasid;
	void *buf;
};

FIXTURE_SETUP(ioasid_ctx)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(ioasid_ctx)
{
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

TEST_F(ioasid_ctx, info_unbound)
{
	struct ioasid_info info;

	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_EQ(0, info.out_flags);
	ASSERT_EQ(PAGE_SZ, info.out_pgsize_bitmap);
}

TEST_F(ioasid_ctx, create_destroy)
{
	uint32_t a, b;

	ASSERT_EQ(0, ioasid_create(self->fd, &a));
	ASSERT_EQ(0, ioasid_create(self->fd, &b));
	ASSERT_NE(a, b);
	ASSERT_NE(self->ioasid, a);
	ASSERT_EQ(0, ioasid_destroy(self->fd, a));
	ASSERT_EQ(ENOENT, ioasid_destroy(self->fd, a));
	/* The id is not reused while b lives, and b is untouched */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, b, self->buf, PAGE_SZ, 0));
	ASSERT_EQ(0, ioasid_destroy(self->fd, b));
	ASSERT_EQ(ENOENT, ioasid_map_fixed(self->fd, b, self->buf, PAGE_SZ,
					   0));
}

TEST_F(ioasid_ctx, destroy_with_mappings)
{
	long before = locked_pages();

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      BUF_SIZE, 0));
	ASSERT_EQ(before + BUF_SIZE / PAGE_SZ, locked_pages());
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	ASSERT_EQ(before, locked_pages());
}

TEST_F(ioasid_ctx, map_overlap)
{
	uint64_t iova = SZ_2M;
	long before;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_2M, SZ_2M));
	before = locked_pages();
	/* Overlapping the first page, the last page, and all of it */
	ASSERT_EQ(EEXIST, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   SZ_2M, PAGE_SZ));
	ASSERT_EQ(EEXIST, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   PAGE_SZ, 2 * SZ_2M - PAGE_SZ));
	ASSERT_EQ(EEXIST, ioasid_map(self->fd, self->ioasid, self->buf,
				     4 * SZ_2M, &iova, MAP_FIXED_RW));
	/* Failed maps left nothing pinned */
	ASSERT_EQ(before, locked_pages());
	/* Adjacent on both sides is fine */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, SZ_2M - PAGE_SZ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 2 * SZ_2M));
}

TEST_F(ioasid_ctx, map_chosen_iova)
{
	uint64_t a, b, c;

	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf, SZ_2M,
				&a, MAP_RW));
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf, PAGE_SZ,
				&b, MAP_RW));
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf, SZ_2M,
				&c, MAP_RW));
	/* Disjoint, page aligned */
	ASSERT_EQ(0, (a | b | c) % PAGE_SZ);
	ASSERT_TRUE(b + PAGE_SZ <= a || b >= a + SZ_2M);
	ASSERT_TRUE(c + SZ_2M <= a || c >= a + SZ_2M);
	ASSERT_TRUE(c + SZ_2M <= b || c >= b + PAGE_SZ);
	/* Each range is mapped exactly */
	ASSERT_EQ(EEXIST, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   PAGE_SZ, b));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, a, SZ_2M, NULL));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, b, PAGE_SZ, NULL));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, c, SZ_2M, NULL));
}

TEST_F(ioasid_ctx, unmap_ranges)
{
	uint64_t unmapped;
	long before = locked_pages();

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_2M, 0));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M, PAGE_SZ, 4 * SZ_2M));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + 2 * SZ_2M, PAGE_SZ,
				      8 * SZ_2M));
	ASSERT_EQ(before + SZ_2M / PAGE_SZ + 2, locked_pages());
	/* Cutting a page off the front of a mapping unpins just that page */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(before + SZ_2M / PAGE_SZ + 1, locked_pages());
	ASSERT_EQ(ENOENT, ioasid_unmap(self->fd, self->ioasid, 0, PAGE_SZ,
				       NULL));
	/* A range over the rest of one, a hole and another unmaps both */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, 5 * SZ_2M,
				  &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	ASSERT_EQ(before + 1, locked_pages());
	/* Nothing left there */
	ASSERT_EQ(ENOENT, ioasid_unmap(self->fd, self->ioasid, 0, 5 * SZ_2M,
				       NULL));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(before, locked_pages());
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
}

TEST_F(ioasid_ctx, memlock_limit)
{
	const unsigned long limit = 64;
	long base;

	ASSERT_EQ(0, drop_cap_ipc_lock());
	base = locked_pages();
	ASSERT_LE(0, base);
	ASSERT_EQ(0, set_memlock_pages(base + limit));

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      (limit - 1) * PAGE_SZ, 0));
	ASSERT_EQ(base + limit - 1, locked_pages());
	/* Two more pages go over: refused, nothing pinned or charged */
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + SZ_2M, 2 * PAGE_SZ,
					   SZ_2M));
	ASSERT_EQ(base + limit - 1, locked_pages());
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M, PAGE_SZ, SZ_2M));
	ASSERT_EQ(base + limit, locked_pages());
	/* Memory pinned already costs nothing more */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      2 * PAGE_SZ, 2 * SZ_2M));
	ASSERT_EQ(base + limit, locked_pages());
	/* Unmapping returns the charge */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, SZ_2M, PAGE_SZ,
				  NULL));
	ASSERT_EQ(base + limit - 1, locked_pages());
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M, PAGE_SZ, SZ_2M));
	/* And so does closing the context with mappings alive */
	close(self->fd);
	ASSERT_EQ(base, locked_pages());
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      limit * PAGE_SZ, 0));
}

TEST_F(ioasid_ctx, map_bad_memory)
{
	long before = locked_pages();
	void *hole;

	/* Unmapped user memory: nothing may stay pinned or charged */
	hole = alloc_buf(4 * PAGE_SZ);
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(0, munmap(hole + 2 * PAGE_SZ, 2 * PAGE_SZ));
	ASSERT_EQ(EFAULT, ioasid_map_fixed(self->fd, self->ioasid, hole,
					   4 * PAGE_SZ, 0));
	ASSERT_EQ(before, locked_pages());
	/* Kernel addresses */
	ASSERT_EQ(EFAULT, ioasid_map_fixed(self->fd, self->ioasid,
					   (void *)0xffff888000000000UL,
					   PAGE_SZ, 0));
	ASSERT_EQ(before, locked_pages());
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	munmap(hole, 2 * PAGE_SZ);
}

/* Every ioctl with bad sizes: too small, bigger with a non-zero tail */
TEST_F(ioasid_ctx, bad_sizes)
{
	static const unsigned long cmds[] = {
		IOASID_DESTROY, IOASID_GET_INFO, IOASID_CREATE, IOASID_MAP,
		IOASID_UNMAP, IOASID_COPY, IOASID_IOVA_RANGES, IOASID_OPTION,
		IOASID_TEST,
	};
	struct {
		struct ioasid_map map;
		uint64_t tail;
	} big = {};
	unsigned int i;
	uint32_t size;

	for (i = 0; i != ARRAY_SIZE(cmds); i++) {
		size = 0;
		ASSERT_EQ(EINVAL, ioasid_call(self->fd, cmds[i], &size));
		size = 4;
		ASSERT_EQ(EINVAL, ioasid_call(self->fd, cmds[i], &size));
		ASSERT_EQ(EFAULT, ioasid_call(self->fd, cmds[i], NULL));
	}

	/* A larger struct from newer userspace: fine if the tail is 0 */
	big.map.size = sizeof(big);
	big.map.flags = MAP_FIXED_RW;
	big.map.ioasid = self->ioasid;
	big.map.user_va = (uintptr_t)self->buf;
	big.map.length = PAGE_SZ;
	big.tail = 1;
	ASSERT_EQ(E2BIG, ioasid_call(self->fd, IOASID_MAP, &big));
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	big.tail = 0;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_MAP, &big));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));

	/* Older userspace without the optional iova_alignment */
	big.map.size = offsetof(struct ioasid_map, iova) + sizeof(__u64);
	big.map.iova_alignment = 1;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_MAP, &big));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));

	/* Short of the last mandatory field */
	big.map.size = offsetof(struct ioasid_map, iova) + sizeof(__u64) - 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &big));
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);

	/* Unknown ioctl numbers in and beyond the range */
	ASSERT_EQ(ENOTTY, ioasid_call(self->fd, _IO(IOASID_TYPE, 0x20),
				      &big));
	ASSERT_EQ(ENOTTY, ioasid_call(self->fd, _IO(IOASID_TYPE, 0x80),
				      &big));
	ASSERT_EQ(ENOTTY, ioasid_call(self->fd, _IOW(IOASID_TYPE,
						     IOASID_CMD_MAP, int),
				      &big));
}

TEST_F(ioasid_ctx, bad_flags_reserved_ids)
{
	struct ioasid_destroy destroy = { .size = sizeof(destroy) };
	struct ioasid_create create = { .size = sizeof(create) };
	struct ioasid_info info = { .size = sizeof(info) };
	struct ioasid_map map = {
		.size = sizeof(map),
		.flags = MAP_FIXED_RW,
		.ioasid = self->ioasid,
		.user_va = (uintptr_t)self->buf,
		.length = PAGE_SZ,
	};
	struct ioasid_unmap unmap = {
		.size = sizeof(unmap),
		.ioasid = self->ioasid,
		.length = PAGE_SZ,
	};
	uint32_t mock_id;

	destroy.flags = 1 << 31;
	destroy.id = self->ioasid;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_DESTROY, &destroy));
	create.flags = 1 << 31;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_CREATE, &create));
	info.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_GET_INFO, &info));

	map.flags = MAP_FIXED_RW | (1 << 31);
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_MAP, &map));
	map.flags = IOASID_MAP_FIXED_IOVA;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	/* A file descriptor without IOASID_MAP_FILE */
	map.flags = MAP_FIXED_RW;
	map.fd = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	map.fd = 0;
	/* An alignment with a fixed IOVA */
	map.iova_alignment = SZ_2M;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	map.iova_alignment = 0;
	map.flags = MAP_RW;
	map.iova = PAGE_SZ;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	map.flags = MAP_FIXED_RW;
	map.ioasid = self->ioasid + 100;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_MAP, &map));
	map.ioasid = 0;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_MAP, &map));
	/* An id of another object type is not an IOASID */
	ASSERT_EQ(0, mock_create(self->fd, 0, &mock_id));
	map.ioasid = mock_id;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_MAP, &map));
	ASSERT_EQ(ENOENT, ioasid_destroy(self->fd, mock_id));
	unmap.ioasid = mock_id;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_UNMAP, &unmap));

	unmap.ioasid = self->ioasid;
	unmap.flags = 1 << 31;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_UNMAP, &unmap));
	unmap.flags = 0;
	unmap.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_UNMAP, &unmap));
	unmap.__reserved = 0;
	unmap.flags = IOASID_UNMAP_ALL;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_UNMAP, &unmap));
	unmap.length = 0;
	unmap.iova = PAGE_SZ;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_UNMAP, &unmap));

	/* Nothing got mapped by any of it */
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
}

TEST_F(ioasid_ctx, bad_ranges)
{
	long before = locked_pages();
	uint64_t iova;

	/* Unaligned IOVA, length and address */
	ASSERT_EQ(EINVAL, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   PAGE_SZ, 512));
	ASSERT_EQ(EINVAL, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   PAGE_SZ + 1, 0));
	ASSERT_EQ(EINVAL, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + 8, PAGE_SZ, 0));
	ASSERT_EQ(EINVAL, ioasid_map(self->fd, self->ioasid, self->buf, 100,
				     &iova, MAP_RW));
	/* Empty */
	ASSERT_EQ(EINVAL, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   0, 0));
	/* Wrapping around the end of the IOVA space or of memory */
	ASSERT_EQ(EOVERFLOW, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf, 2 * PAGE_SZ,
					      -PAGE_SZ));
	ASSERT_EQ(EOVERFLOW, ioasid_map_fixed(self->fd, self->ioasid,
					      (void *)-PAGE_SZ, 2 * PAGE_SZ,
					      0));
	ASSERT_EQ(EOVERFLOW, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf, -PAGE_SZ,
					      2 * PAGE_SZ));
	ASSERT_EQ(before, locked_pages());

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	ASSERT_EQ(EINVAL, ioasid_unmap(self->fd, self->ioasid, 0, 100, NULL));
	ASSERT_EQ(EINVAL, ioasid_unmap(self->fd, self->ioasid, 1, PAGE_SZ,
				       NULL));
	ASSERT_EQ(EINVAL, ioasid_unmap(self->fd, self->ioasid, 0, 0, NULL));
	ASSERT_EQ(EOVERFLOW, ioasid_unmap(self->fd, self->ioasid, 2 * PAGE_SZ,
					  -PAGE_SZ, NULL));
	ASSERT_EQ(PAGE_SZ / PAGE_SZ + before, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, -PAGE_SZ, NULL));
	ASSERT_EQ(before, locked_pages());
}

TEST_F(ioasid_ctx, mock_bad_input)
{
	struct ioasid_test_cmd cmd = {};
	uint32_t mock_id, dev_id;
	char byte;

	ASSERT_EQ(EINVAL, mock_create(self->fd, IOASID_TEST_NUM_INSTANCES,
				      &mock_id));
	ASSERT_EQ(EOPNOTSUPP, ioasid_test(self->fd, 0, 0, &cmd));
	ASSERT_EQ(EOPNOTSUPP, ioasid_test(self->fd, 1000, 0, &cmd));
	ASSERT_EQ(ENOENT, mock_bind(self->fd, 1000, &dev_id));
	ASSERT_EQ(ENOENT, mock_bind(self->fd, self->ioasid, &dev_id));

	ASSERT_EQ(0, mock_create(self->fd, 0, &mock_id));
	/* Not bound yet */
	ASSERT_EQ(ENODEV, mock_attach(self->fd, mock_id, self->ioasid));
	ASSERT_EQ(ENODEV, mock_detach(self->fd, mock_id));
	ASSERT_EQ(ENODEV, mock_unbind(self->fd, mock_id));
	ASSERT_EQ(0, mock_bind(self->fd, mock_id, &dev_id));
	ASSERT_EQ(EBUSY, mock_bind(self->fd, mock_id, &dev_id));
	/* A device is no IOASID, and is not destroyed from userspace */
	ASSERT_EQ(ENOENT, mock_attach(self->fd, mock_id, dev_id));
	ASSERT_EQ(ENOENT, ioasid_destroy(self->fd, dev_id));
	ASSERT_EQ(ENOENT, mock_attach(self->fd, mock_id, 1000));

	/* DMA arguments */
	ASSERT_EQ(EINVAL, mock_dma(self->fd, mock_id, 0, &byte, 0, false,
				   NULL));
	ASSERT_EQ(EINVAL, mock_dma(self->fd, mock_id, 0, self->buf,
				   IOASID_TEST_DMA_MAX + 1, false, NULL));
	ASSERT_EQ(EOVERFLOW, mock_dma(self->fd, mock_id, -1UL, self->buf, 2,
				      false, NULL));
	cmd.dma.flags = 1 << 31;
	cmd.dma.length = 1;
	cmd.dma.uptr = (uintptr_t)&byte;
	ASSERT_EQ(EOPNOTSUPP, ioasid_test(self->fd, IOASID_TEST_DMA, mock_id,
					  &cmd));

	ASSERT_EQ(0, mock_destroy(self->fd, mock_id));
	ASSERT_EQ(ENOENT, mock_destroy(self->fd, mock_id));
	ASSERT_EQ(ENOENT, mock_bind(self->fd, mock_id, &dev_id));
}

/*
 * A context with a mock device bound to it. The variants attach the device
 * before or after the test maps, which is the difference between MAP
 * updating a live domain and attach filling a new one from the mappings.
 */
FIXTURE(ioasid_dev) {
	int fd;
	uint32_t ioasid;
	uint32_t mock_id;
	uint32_t dev_id;
	void *buf;
};

FIXTURE_VARIANT(ioasid_dev) {
	bool attach_late;
};

FIXTURE_VARIANT_ADD(ioasid_dev, attach_first) {
	.attach_late = false,
};

FIXTURE_VARIANT_ADD(ioasid_dev, attach_after_map) {
	.attach_late = true,
};

FIXTURE_SETUP(ioasid_dev)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, mock_create(self->fd, 0, &self->mock_id));
	ASSERT_EQ(0, mock_bind(self->fd, self->mock_id, &self->dev_id));
	if (!variant->attach_late)
		ASSERT_EQ(0, mock_attach(self->fd, self->mock_id,
					 self->ioasid));
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(ioasid_dev)
{
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

/* Attach now if the variant attaches after mapping */
#define attach_late()                                                    \
	do {                                                             \
		if (variant->attach_late)                                \
			ASSERT_EQ(0, mock_attach(self->fd, self->mock_id, \
						 self->ioasid));         \
	} while (0)

TEST_F(ioasid_dev, info_bound)
{
	struct ioasid_info info;

	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_EQ(IOASID_INFO_IOMMU_BOUND,
		  info.out_flags & IOASID_INFO_IOMMU_BOUND);
	/* The mock IOMMU: 4K, 2M, 1G pages over a 48-bit IOVA space */
	ASSERT_EQ(PAGE_SZ | SZ_2M | (1UL << 30), info.out_pgsize_bitmap);
	ASSERT_EQ(0, info.out_aperture_start);
	ASSERT_EQ((1UL << 48) - 1, info.out_aperture_last);
}

TEST_F(ioasid_dev, dma_read_write)
{
	unsigned char *out = malloc(SZ_2M), *in = malloc(SZ_2M);
	struct dma_result res;
	uint64_t iova = 16 * SZ_2M;

	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	fill_pattern(self->buf, BUF_SIZE, 1);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      BUF_SIZE, iova));
	attach_late();

	/* The device reads what the user wrote, at the right offsets */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, iova + 3 * SZ_2M + 100,
			      in, 1 << 20, false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(1 << 20, res.done);
	ASSERT_EQ(0, memcmp(in, self->buf + 3 * SZ_2M + 100, 1 << 20));

	/* And the user sees what the device wrote, across pages */
	fill_pattern(out, SZ_2M, 77);
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, iova + PAGE_SZ - 10,
			      out, 8192, true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(out, self->buf + PAGE_SZ - 10, 8192));
	/* Bytes around it are untouched */
	fill_pattern(in, SZ_2M, 1);
	ASSERT_EQ(in[PAGE_SZ - 11], ((unsigned char *)self->buf)[PAGE_SZ - 11]);
	ASSERT_EQ(in[PAGE_SZ - 10 + 8192],
		  ((unsigned char *)self->buf)[PAGE_SZ - 10 + 8192]);

	/* Past the end of the mapping the IOMMU faults, mid transfer */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id,
			      iova + BUF_SIZE - 100, in, 200, false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT, res.fault);
	ASSERT_EQ(100, res.done);
	ASSERT_EQ(iova + BUF_SIZE, res.fault_iova);
	free(out);
	free(in);
}

TEST_F(ioasid_dev, dma_chosen_iova)
{
	unsigned char in[64];
	struct dma_result res;
	uint64_t iova;

	fill_pattern(self->buf, BUF_SIZE, 9);
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf + PAGE_SZ,
				3 * PAGE_SZ, &iova, MAP_RW));
	attach_late();
	ASSERT_EQ(0, iova % PAGE_SZ);
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, iova + 2 * PAGE_SZ,
			      in, sizeof(in), false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(in, self->buf + 3 * PAGE_SZ, sizeof(in)));
}

TEST_F(ioasid_dev, dma_permissions)
{
	unsigned char data[16], orig[16];
	struct dma_result res;
	uint64_t ro = 0, wo = SZ_2M;

	fill_pattern(self->buf, BUF_SIZE, 3);
	memcpy(orig, self->buf, sizeof(orig));
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf, PAGE_SZ,
				&ro, IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf + SZ_2M,
				PAGE_SZ, &wo,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_WRITE));
	attach_late();

	/* Read-only: reads work, writes fault and change nothing */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, ro, data, sizeof(data),
			      false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(data, orig, sizeof(data)));
	memset(data, 0xee, sizeof(data));
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, ro, data, sizeof(data),
			      true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_PERMISSION, res.fault);
	ASSERT_EQ(0, res.done);
	ASSERT_EQ(ro, res.fault_iova);
	ASSERT_EQ(0, memcmp(self->buf, orig, sizeof(orig)));

	/* Write-only: writes work, reads fault */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, wo, data, sizeof(data),
			      true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(self->buf + SZ_2M, data, sizeof(data)));
	ASSERT_EQ(IOASID_TEST_FAULT_PERMISSION,
		  mock_probe(self->fd, self->mock_id, wo, false));
}

TEST_F(ioasid_dev, unmap_faults)
{
	uint64_t unmapped;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_2M, 0));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, SZ_2M));
	attach_late();
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, SZ_2M - 1, false));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, SZ_2M, true));

	/* A refused unmap leaves the translation alone */
	ASSERT_EQ(EINVAL, ioasid_unmap(self->fd, self->ioasid, 0, 100,
				       NULL));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));

	/* Cutting the first page leaves the rest translated */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, PAGE_SZ - 1, false));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, PAGE_SZ, false));

	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, SZ_2M,
				  &unmapped));
	ASSERT_EQ(SZ_2M - PAGE_SZ, unmapped);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, 0, false));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, SZ_2M - 1, true));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, SZ_2M, false));

	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, SZ_2M, false));

	/* Mapping again works */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));
}

TEST_F(ioasid_dev, failed_map_changes_nothing)
{
	uint64_t iova = SZ_2M;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, iova));
	attach_late();
	/* Overlap: the old translation stays, the hole stays a hole */
	ASSERT_EQ(EEXIST, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + PAGE_SZ, 2 * PAGE_SZ,
					   iova - PAGE_SZ));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, iova - PAGE_SZ, false));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, iova, false));
	/* Outside the IOMMU's 48-bit aperture */
	iova = 1UL << 48;
	ASSERT_EQ(ERANGE, ioasid_map(self->fd, self->ioasid, self->buf,
				     PAGE_SZ, &iova, MAP_FIXED_RW));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock_id, iova - PAGE_SZ, false));
}

TEST_F(ioasid_dev, detach_blocks)
{
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	attach_late();
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));
	/* In use: cannot be destroyed */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));

	ASSERT_EQ(0, mock_detach(self->fd, self->mock_id));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, self->mock_id, 0, false));
	/* Detaching twice is harmless */
	ASSERT_EQ(0, mock_detach(self->fd, self->mock_id));
	/* Mappings survive, and attaching again fills a new domain */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock_id, self->ioasid));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));
	ASSERT_EQ(0, mock_detach(self->fd, self->mock_id));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
}

TEST_F(ioasid_dev, unbind_blocks)
{
	uint32_t dev_id;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	attach_late();
	ASSERT_EQ(0, mock_unbind(self->fd, self->mock_id));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, self->mock_id, 0, false));
	/* Unbinding detached: the IOASID is free to go */
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	/* And the device can be bound again */
	ASSERT_EQ(0, mock_bind(self->fd, self->mock_id, &dev_id));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, self->mock_id, 0, false));
}

TEST_F(ioasid_dev, replace)
{
	unsigned char a[8], b[8], in[8];
	struct dma_result res;
	uint32_t other;

	fill_pattern(self->buf, BUF_SIZE, 5);
	memcpy(a, self->buf, sizeof(a));
	memcpy(b, self->buf + SZ_2M, sizeof(b));
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf + SZ_2M,
				      PAGE_SZ, 0));
	attach_late();
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, 0, in, sizeof(in),
			      false, &res));
	ASSERT_EQ(0, memcmp(in, a, sizeof(a)));

	/* Same IOVA, other IOASID: now translated by the other one */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock_id, other));
	ASSERT_EQ(0, mock_dma(self->fd, self->mock_id, 0, in, sizeof(in),
			      false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(in, b, sizeof(b)));
	/* The old one is no longer in use */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, other));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	/* Attaching to the current IOASID again changes nothing */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock_id, other));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));
	/* A failed replace keeps the current translation */
	ASSERT_EQ(ENOENT, mock_attach(self->fd, self->mock_id, self->ioasid));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, 0, false));
}

TEST_F(ioasid_dev, two_devices)
{
	uint32_t mock2, dev2;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	attach_late();
	ASSERT_EQ(0, mock_create(self->fd, 0, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, &dev2));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, mock2, 0, false));
	ASSERT_EQ(0, mock_attach(self->fd, mock2, self->ioasid));
	/* Both translate through the IOASID; a new map reaches both */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, SZ_2M));
	ASSERT_EQ(0, mock_probe(self->fd, mock2, SZ_2M, false));
	ASSERT_EQ(0, mock_probe(self->fd, self->mock_id, SZ_2M, false));
	/* Detaching one leaves the other working */
	ASSERT_EQ(0, mock_detach(self->fd, self->mock_id));
	ASSERT_EQ(0, mock_probe(self->fd, mock2, 0, false));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, self->mock_id, 0, false));
	/* Destroying a mock device detaches and unbinds it */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));
	ASSERT_EQ(0, mock_destroy(self->fd, mock2));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
}

/* Close with everything alive; the rig's kmemleak scan checks for leaks */
TEST_F(ioasid_dev, close_releases_everything)
{
	long before = locked_pages();
	uint32_t other, mock2;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      BUF_SIZE, 0));
	attach_late();
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf, SZ_2M, 0));
	ASSERT_EQ(0, mock_create(self->fd, 0, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, NULL));
	ASSERT_EQ(0, mock_attach(self->fd, mock2, other));
	/* The second IOASID maps memory the first one pinned already */
	ASSERT_EQ(before + BUF_SIZE / PAGE_SZ, locked_pages());

	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(before, locked_pages());
}

TEST_HARNESS_MAIN
