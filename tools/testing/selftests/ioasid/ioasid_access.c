// SPDX-License-Identifier: GPL-2.0-only
/*
 * The access API: a mock driver pins and copies an IOASID's memory by IOVA,
 * as emulated devices do. What it reads and writes is checked against the
 * user's own memory and against what a mock device behind the mock IOMMU
 * sees at the same IOVA; UNMAP must call the driver back and wait for it.
 * An emulated mock vfio device does the same through vfio_pin_pages() and
 * vfio_dma_rw() once its cdev fd is bound to the context.
 */
#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"
#include <pthread.h>

#define NPAGES(len)	((long)((len) / PAGE_SZ))
#define IOVA		0x100000ULL
#define IOVA2		0x400000ULL
#define BUF_LEN		(16 * PAGE_SZ)

static int mock_new_attached(int fd, uint32_t ioasid, uint32_t *mock_id)
{
	int rc = mock_create(fd, 0, mock_id);

	if (!rc)
		rc = mock_bind(fd, *mock_id, NULL);
	return rc ? rc : mock_attach(fd, *mock_id, ioasid);
}

/* A mock device reads @len bytes at @iova and finds @expect */
static void check_dma(struct __test_metadata *_metadata, int fd, uint32_t mock,
		      uint64_t iova, const void *expect, size_t len)
{
	struct dma_result res;
	void *got = malloc(len);

	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, mock_dma(fd, mock, iova, got, len, false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(len, res.done);
	ASSERT_EQ(0, memcmp(got, expect, len));
	free(got);
}

/* The access reads @len bytes at @iova and finds @expect */
static void check_rw(struct __test_metadata *_metadata, int fd, int afd,
		     uint64_t iova, const void *expect, size_t len)
{
	void *got = malloc(len);

	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, access_rw(fd, afd, iova, got, len, 0));
	ASSERT_EQ(0, memcmp(got, expect, len));
	free(got);
}

/* A context with one IOASID mapping BUF_LEN at IOVA, and an access to it */
FIXTURE(access) {
	int fd;
	int afd;
	uint32_t ioasid;
	unsigned char *buf;
	long base;
};

FIXTURE_SETUP(access)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	self->buf = alloc_buf(BUF_LEN);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_LEN, 3);
	self->base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      BUF_LEN, IOVA));
	ASSERT_EQ(0, access_create(self->fd, &self->afd));
	ASSERT_EQ(0, access_attach(self->fd, self->afd, self->ioasid));
}

FIXTURE_TEARDOWN(access)
{
	close(self->afd);
	close(self->fd);
	munmap(self->buf, BUF_LEN);
}

/* Pins are the pages the mapping pinned: no second pin, no charge */
TEST_F(access, pin_reads_the_mapped_pages)
{
	const uint64_t off = PAGE_SZ + 100, len = 3 * PAGE_SZ + 50;
	unsigned char got[4 * PAGE_SZ];
	long mapped = locked_pages();

	ASSERT_EQ(self->base + NPAGES(BUF_LEN), mapped);
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + off, len, got, 0));
	ASSERT_EQ(0, memcmp(got, self->buf + off, len));
	ASSERT_EQ(mapped, locked_pages());
	ASSERT_EQ(1, access_pins(self->fd, self->afd));

	/* The same range twice: two pins, each dropped on its own */
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + off, len, NULL, 0));
	ASSERT_EQ(0, access_unpin(self->fd, self->afd, IOVA + off, len));
	ASSERT_EQ(0, access_unpin(self->fd, self->afd, IOVA + off, len));
	ASSERT_EQ(ENOENT, access_unpin(self->fd, self->afd, IOVA + off, len));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));
	ASSERT_EQ(mapped, locked_pages());
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
}

/* Writing through pinned pages reaches the user and the devices */
TEST_F(access, pin_write_reaches_user_and_device)
{
	const uint64_t off = 5 * PAGE_SZ - 8, len = 2 * PAGE_SZ;
	unsigned char *data = malloc(len), *expect = malloc(BUF_LEN);
	uint32_t mock;

	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, expect);
	ASSERT_EQ(0, mock_new_attached(self->fd, self->ioasid, &mock));
	fill_pattern(data, len, 77);
	memcpy(expect, self->buf, BUF_LEN);
	memcpy(expect + off, data, len);

	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + off, len, data,
				IOASID_TEST_ACCESS_WRITE));
	ASSERT_EQ(0, memcmp(self->buf, expect, BUF_LEN));
	check_dma(_metadata, self->fd, mock, IOVA, expect, BUF_LEN);
	check_rw(_metadata, self->fd, self->afd, IOVA, expect, BUF_LEN);
	free(data);
	free(expect);
}

TEST_F(access, pin_bad_input)
{
	uint64_t iova = IOVA2, unmapped;
	unsigned char *ro, byte;
	uint32_t other;
	int fd2, afd2;

	/* Bad ranges and flags */
	ASSERT_EQ(EINVAL, access_pin(self->fd, self->afd, IOVA, 0, NULL, 0));
	ASSERT_EQ(EOVERFLOW, access_pin(self->fd, self->afd, -PAGE_SZ,
					2 * PAGE_SZ, NULL, 0));
	ASSERT_EQ(EOPNOTSUPP, access_pin(self->fd, self->afd, IOVA, PAGE_SZ,
					 NULL, 1 << 7));
	ASSERT_EQ(EINVAL, access_pin(self->fd, self->afd, IOVA,
				     IOASID_TEST_DMA_MAX + 1, NULL, 0));
	/* Nothing mapped, partly mapped (the last byte is not) */
	ASSERT_EQ(ENOENT, access_pin(self->fd, self->afd, IOVA2, PAGE_SZ,
				     NULL, 0));
	ASSERT_EQ(ENOENT, access_pin(self->fd, self->afd, IOVA, BUF_LEN + 1,
				     NULL, 0));
	ASSERT_EQ(ENOENT, access_pin(self->fd, self->afd, IOVA - 1, 2, NULL,
				     0));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));

	/* A read-only mapping cannot be pinned for writing */
	ro = alloc_buf(PAGE_SZ);
	ASSERT_NE(NULL, ro);
	memset(ro, 0x11, PAGE_SZ);
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, ro, PAGE_SZ, &iova,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(EPERM, access_pin(self->fd, self->afd, IOVA2, PAGE_SZ, NULL,
				    IOASID_TEST_ACCESS_WRITE));
	byte = 0x22;
	ASSERT_EQ(EPERM, access_rw(self->fd, self->afd, IOVA2 + 1, &byte, 1,
				   IOASID_TEST_ACCESS_WRITE));
	ASSERT_EQ(0x11, ro[1]);
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA2, PAGE_SZ, NULL, 0));
	ASSERT_EQ(0, access_unpin(self->fd, self->afd, IOVA2, PAGE_SZ));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));

	/* Nothing is left pinned: UNMAP calls nobody back */
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, &unmapped));
	ASSERT_EQ(BUF_LEN + PAGE_SZ, unmapped);
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(self->base, locked_pages());

	/* Not attached */
	ASSERT_EQ(0, access_detach(self->fd, self->afd));
	ASSERT_EQ(0, access_detach(self->fd, self->afd));
	ASSERT_EQ(ENODEV, access_pin(self->fd, self->afd, IOVA, PAGE_SZ, NULL,
				     0));
	ASSERT_EQ(ENODEV, access_rw(self->fd, self->afd, IOVA, &byte, 1, 0));

	/* Attach to what is not a normal IOASID of the context */
	ASSERT_EQ(ENOENT, access_attach(self->fd, self->afd, 12345));
	ASSERT_EQ(0, mock_create(self->fd, 0, &other));
	ASSERT_EQ(ENOENT, access_attach(self->fd, self->afd, other));
	/* A nested IOASID has no memory of its own: a bad request */
	ASSERT_EQ(0, mock_bind(self->fd, other, NULL));
	ASSERT_EQ(0, ioasid_create_parent(self->fd, &other));
	ASSERT_EQ(0, ioasid_create_nested(self->fd, other,
					  IOASID_FORMAT_MOCK_S1, &other));
	ASSERT_EQ(EINVAL, access_attach(self->fd, self->afd, other));
	ASSERT_EQ(EINVAL, access_mode(self->fd, self->afd,
				      IOASID_TEST_ACCESS_HOLD + 1));

	/* Not an access, no fd, another context's access */
	ASSERT_EQ(EINVAL, access_attach(self->fd, self->fd, self->ioasid));
	ASSERT_EQ(EBADF, access_attach(self->fd, 1000, self->ioasid));
	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, access_create(fd2, &afd2));
	ASSERT_EQ(EINVAL, access_attach(self->fd, afd2, self->ioasid));
	close(afd2);
	close(fd2);
	munmap(ro, PAGE_SZ);
}

/* UNMAP of a pinned range calls the driver, which unpins; UNMAP goes on */
TEST_F(access, unmap_calls_back_and_unpins)
{
	struct access_info info;
	uint64_t unmapped = 0;
	unsigned char byte;

	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + PAGE_SZ,
				2 * PAGE_SZ, NULL, IOASID_TEST_ACCESS_WRITE));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA, BUF_LEN,
				  &unmapped));
	ASSERT_EQ(BUF_LEN, unmapped);
	ASSERT_EQ(0, access_info(self->fd, self->afd, &info));
	ASSERT_EQ(1, info.unmaps);
	ASSERT_EQ(IOVA, info.unmap_iova);
	ASSERT_EQ(BUF_LEN, info.unmap_length);
	ASSERT_EQ(0, info.pins);
	/* The pages were pinned once and are unpinned once */
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(ENOENT, access_rw(self->fd, self->afd, IOVA, &byte, 1, 0));

	/* UNMAP_ALL names the whole IOVA space */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      BUF_LEN, IOVA));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA, 1, NULL, 0));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, &unmapped));
	ASSERT_EQ(BUF_LEN, unmapped);
	ASSERT_EQ(0, access_info(self->fd, self->afd, &info));
	ASSERT_EQ(2, info.unmaps);
	ASSERT_EQ(0, info.unmap_iova);
	ASSERT_EQ(UINT64_MAX, info.unmap_length);
	ASSERT_EQ(0, info.pins);
	ASSERT_EQ(self->base, locked_pages());
}

/* UNMAP and cuts beside the pins leave them alone */
TEST_F(access, unmap_elsewhere_keeps_pins)
{
	unsigned char got[PAGE_SZ];

	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + 4 * PAGE_SZ,
				PAGE_SZ, NULL, 0));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA + 8 * PAGE_SZ,
				  8 * PAGE_SZ, NULL));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA, 2 * PAGE_SZ,
				  NULL));
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(1, access_pins(self->fd, self->afd));
	ASSERT_EQ(self->base + 6, locked_pages());
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + 4 * PAGE_SZ,
				PAGE_SZ, got, 0));
	ASSERT_EQ(0, memcmp(got, self->buf + 4 * PAGE_SZ, PAGE_SZ));
	/* The page right after the pinned one goes without a callback */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA + 5 * PAGE_SZ,
				  PAGE_SZ, NULL));
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA + 4 * PAGE_SZ,
				  PAGE_SZ, NULL));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));
	ASSERT_EQ(self->base + 4, locked_pages());
}

/* A driver that unpins from a worker a little later is waited for */
TEST_F(access, unmap_waits_for_late_unpin)
{
	uint64_t unmapped = 0;

	ASSERT_EQ(0, access_mode(self->fd, self->afd,
				 IOASID_TEST_ACCESS_UNPIN_LATER));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA, BUF_LEN, NULL, 0));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA, BUF_LEN,
				  &unmapped));
	ASSERT_EQ(BUF_LEN, unmapped);
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));
	ASSERT_EQ(self->base, locked_pages());
}

/*
 * A driver that never lets go makes UNMAP and replace fail after a bounded
 * wait, with nothing changed; the warning is given once.
 */
TEST_F(access, held_pins_fail_unmap_and_replace)
{
	unsigned char *other = alloc_buf(PAGE_SZ);
	uint32_t mock, ioasid2;

	ASSERT_NE(NULL, other);
	ASSERT_EQ(0, mock_new_attached(self->fd, self->ioasid, &mock));
	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, ioasid2, other, PAGE_SZ,
				      IOVA));
	ASSERT_EQ(0, access_mode(self->fd, self->afd,
				 IOASID_TEST_ACCESS_HOLD));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + 3 * PAGE_SZ,
				PAGE_SZ, NULL, 0));

	printf("# rig: expect-warning: kept pages pinned past an unmap request\n");
	fflush(stdout);
	ASSERT_EQ(EBUSY, ioasid_unmap(self->fd, self->ioasid, IOVA, BUF_LEN,
				      NULL));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	check_dma(_metadata, self->fd, mock, IOVA, self->buf, BUF_LEN);
	check_rw(_metadata, self->fd, self->afd, IOVA, self->buf, BUF_LEN);
	ASSERT_EQ(self->base + NPAGES(BUF_LEN) + 1, locked_pages());

	/* Replacing keeps the old attachment */
	ASSERT_EQ(EBUSY, access_attach(self->fd, self->afd, ioasid2));
	ASSERT_EQ(2, access_unmaps(self->fd, self->afd));
	check_rw(_metadata, self->fd, self->afd, IOVA, self->buf, BUF_LEN);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));

	/* Once the driver lets go, both work */
	ASSERT_EQ(0, access_unpin(self->fd, self->afd, IOVA + 3 * PAGE_SZ,
				  PAGE_SZ));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA, PAGE_SZ,
				  NULL));
	ASSERT_EQ(0, access_attach(self->fd, self->afd, ioasid2));
	check_rw(_metadata, self->fd, self->afd, IOVA, other, PAGE_SZ);
	munmap(other, PAGE_SZ);
}

/* Replacing the IOASID drops the pins of the old one; copies follow */
TEST_F(access, replace_follows_the_new_ioasid)
{
	unsigned char *other = alloc_buf(BUF_LEN);
	struct access_info info;
	uint32_t ioasid2;

	ASSERT_NE(NULL, other);
	fill_pattern(other, BUF_LEN, 9);
	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, ioasid2, other, BUF_LEN,
				      IOVA));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA, PAGE_SZ, NULL, 0));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));

	ASSERT_EQ(0, access_attach(self->fd, self->afd, ioasid2));
	ASSERT_EQ(0, access_info(self->fd, self->afd, &info));
	ASSERT_EQ(1, info.unmaps);
	ASSERT_EQ(0, info.unmap_iova);
	ASSERT_EQ(UINT64_MAX, info.unmap_length);
	ASSERT_EQ(0, info.pins);
	check_rw(_metadata, self->fd, self->afd, IOVA, other, BUF_LEN);
	/* Attaching again to the same one changes nothing */
	ASSERT_EQ(0, access_attach(self->fd, self->afd, ioasid2));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));

	/* The old IOASID is free to go, the new one is in use */
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, ioasid2));
	ASSERT_EQ(0, access_detach(self->fd, self->afd));
	ASSERT_EQ(0, ioasid_destroy(self->fd, ioasid2));
	munmap(other, BUF_LEN);
}

/* A pinned range stays pinned for the access however COPY shares it */
TEST_F(access, copy_shares_pages_not_pins)
{
	uint32_t ioasid2;
	uint64_t dst = IOVA2;
	struct ioasid_copy cmd = {
		.size = sizeof(cmd),
		.flags = IOASID_MAP_FIXED_IOVA | MAP_RW,
		.src_iova = IOVA,
		.length = BUF_LEN,
	};

	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid2));
	cmd.src_ioasid = self->ioasid;
	cmd.dst_ioasid = ioasid2;
	cmd.dst_iova = dst;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_COPY, &cmd));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA, BUF_LEN, NULL, 0));
	/* The access is not attached to the copy: no callback */
	ASSERT_EQ(0, ioasid_unmap(self->fd, ioasid2, dst, BUF_LEN, NULL));
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(1, access_pins(self->fd, self->afd));
	ASSERT_EQ(self->base + NPAGES(BUF_LEN), locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA, BUF_LEN,
				  NULL));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(self->base, locked_pages());
}

/* Copies cross mappings of different memory, both ways, from a kthread too */
TEST_F(access, rw_crosses_mappings)
{
	const uint64_t off = PAGE_SZ + 100, len = 2 * PAGE_SZ;
	unsigned char *a = alloc_buf(2 * PAGE_SZ), *b = alloc_buf(2 * PAGE_SZ);
	unsigned char expect[4 * PAGE_SZ], got[2 * PAGE_SZ], data[len];
	const uint32_t flags[] = { 0, IOASID_TEST_ACCESS_KTHREAD };
	unsigned int i;
	uint32_t mock;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, mock_new_attached(self->fd, self->ioasid, &mock));
	for (i = 0; i != 2; i++) {
		fill_pattern(a, 2 * PAGE_SZ, 20 + i);
		fill_pattern(b, 2 * PAGE_SZ, 40 + i);
		memcpy(expect, a, 2 * PAGE_SZ);
		memcpy(expect + 2 * PAGE_SZ, b, 2 * PAGE_SZ);
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, a,
					      2 * PAGE_SZ, IOVA2));
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, b,
					      2 * PAGE_SZ,
					      IOVA2 + 2 * PAGE_SZ));

		memset(got, 0, sizeof(got));
		ASSERT_EQ(0, access_rw(self->fd, self->afd, IOVA2 + off, got,
				       len, flags[i]));
		ASSERT_EQ(0, memcmp(got, expect + off, len));

		fill_pattern(data, len, 99 + i);
		memcpy(expect + off, data, len);
		ASSERT_EQ(0, access_rw(self->fd, self->afd, IOVA2 + off, data,
				       len, flags[i] |
				       IOASID_TEST_ACCESS_WRITE));
		ASSERT_EQ(0, memcmp(a, expect, 2 * PAGE_SZ));
		ASSERT_EQ(0, memcmp(b, expect + 2 * PAGE_SZ, 2 * PAGE_SZ));
		check_dma(_metadata, self->fd, mock, IOVA2, expect,
			  4 * PAGE_SZ);

		/* Running into a hole: nothing is copied */
		ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid,
					  IOVA2 + 2 * PAGE_SZ, 2 * PAGE_SZ,
					  NULL));
		ASSERT_EQ(ENOENT, access_rw(self->fd, self->afd, IOVA2 + off,
					    data, len, flags[i] |
					    IOASID_TEST_ACCESS_WRITE));
		ASSERT_EQ(0, memcmp(a, expect, 2 * PAGE_SZ));
		ASSERT_EQ(ENOENT, access_rw(self->fd, self->afd, IOVA2 + off,
					    got, len, flags[i]));
		ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA2,
					  2 * PAGE_SZ, NULL));
	}

	ASSERT_EQ(EINVAL, access_rw(self->fd, self->afd, IOVA, got, 0, 0));
	ASSERT_EQ(EOVERFLOW, access_rw(self->fd, self->afd, -1ULL, got, 2, 0));
	ASSERT_EQ(EOPNOTSUPP, access_rw(self->fd, self->afd, IOVA, got, 1,
					1 << 5));
	ASSERT_EQ(EINVAL, access_rw(self->fd, self->afd, IOVA, got,
				    IOASID_TEST_DMA_MAX + 1, 0));
	ASSERT_EQ(0, access_unmaps(self->fd, self->afd));
	munmap(a, 2 * PAGE_SZ);
	munmap(b, 2 * PAGE_SZ);
}

/*
 * With two domains behind the IOASID (devices of two IOMMU instances), the
 * pinned pages are what both translate to, and an UNMAP through the pins
 * takes the range from both once the driver let go.
 */
TEST_F(access, pins_across_two_domains)
{
	const uint64_t off = 2 * PAGE_SZ + 512, len = PAGE_SZ;
	unsigned char data[PAGE_SZ];
	uint32_t mock[2];
	unsigned int i;

	for (i = 0; i != 2; i++) {
		ASSERT_EQ(0, mock_create(self->fd, i, &mock[i]));
		ASSERT_EQ(0, mock_bind(self->fd, mock[i], NULL));
		ASSERT_EQ(0, mock_attach(self->fd, mock[i], self->ioasid));
	}
	fill_pattern(data, len, 71);
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + off, len, data,
				IOASID_TEST_ACCESS_WRITE));
	for (i = 0; i != 2; i++)
		check_dma(_metadata, self->fd, mock[i], IOVA + off, data, len);

	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA + 2 * PAGE_SZ,
				  2 * PAGE_SZ, NULL));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));
	for (i = 0; i != 2; i++) {
		ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
			  mock_probe(self->fd, mock[i], IOVA + off, false));
		ASSERT_EQ(IOASID_TEST_FAULT_NONE,
			  mock_probe(self->fd, mock[i], IOVA, false));
	}
	ASSERT_EQ(0, memcmp(self->buf + off, data, len));
	ASSERT_EQ(self->base + NPAGES(BUF_LEN) - 2, locked_pages());
}

/* Bytes the mock driver's pins cover, or -1 */
static long access_pinned(int fd, int afd)
{
	struct access_info info;

	return access_info(fd, afd, &info) ? -1 : (long)info.pinned;
}

/*
 * A driver that mirrors every mapping (a vDPA parent fed one table) stays
 * in step through MAP, COPY into the IOASID, UNMAP cutting its pins, and
 * replacement; MAPs elsewhere do not concern it.
 */
TEST_F(access, mirror_follows_mappings)
{
	unsigned char *more = alloc_buf(4 * PAGE_SZ), got[PAGE_SZ];
	uint64_t dst = 0x800000ULL;
	uint32_t other;

	ASSERT_NE(NULL, more);
	fill_pattern(more, 4 * PAGE_SZ, 17);
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, more, 4 * PAGE_SZ,
				      IOVA));

	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_ACCESS_MIRROR,
				 self->afd, &(struct ioasid_test_cmd){}));
	ASSERT_EQ(BUF_LEN, access_pinned(self->fd, self->afd));

	/* A MAP is told of; one into another IOASID is not */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, more,
				      4 * PAGE_SZ, IOVA2));
	ASSERT_EQ(BUF_LEN + 4 * PAGE_SZ, access_pinned(self->fd, self->afd));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, more, PAGE_SZ, IOVA2));
	ASSERT_EQ(BUF_LEN + 4 * PAGE_SZ, access_pinned(self->fd, self->afd));

	/* A cut in the middle: what stays mapped stays pinned */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, IOVA + 4 * PAGE_SZ,
				  4 * PAGE_SZ, NULL));
	ASSERT_EQ(1, access_unmaps(self->fd, self->afd));
	ASSERT_EQ(BUF_LEN, access_pinned(self->fd, self->afd));
	ASSERT_EQ(0, access_pin(self->fd, self->afd, IOVA + 9 * PAGE_SZ,
				PAGE_SZ, got, 0));
	ASSERT_EQ(0, memcmp(got, self->buf + 9 * PAGE_SZ, PAGE_SZ));
	ASSERT_EQ(0, access_unpin(self->fd, self->afd, IOVA + 9 * PAGE_SZ,
				  PAGE_SZ));

	/* COPY into it is told of as a MAP */
	ASSERT_EQ(0, ioasid_copy(self->fd, self->ioasid, other, IOVA,
				 2 * PAGE_SZ, &dst, MAP_FIXED_RW));
	ASSERT_EQ(BUF_LEN + 2 * PAGE_SZ, access_pinned(self->fd, self->afd));
	/* Pins cost nothing: the buffer less the cut, and the 4 pages more */
	ASSERT_EQ(self->base + NPAGES(BUF_LEN), locked_pages());

	/* Replaced: the other IOASID's mappings are mirrored instead */
	ASSERT_EQ(0, access_attach(self->fd, self->afd, other));
	ASSERT_EQ(5 * PAGE_SZ, access_pinned(self->fd, self->afd));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, other, NULL));
	ASSERT_EQ(0, access_pinned(self->fd, self->afd));
	ASSERT_EQ(0, access_pins(self->fd, self->afd));
	munmap(more, 4 * PAGE_SZ);
}

/* Closing the context, the access or both in either order frees all */
TEST(close_in_any_order)
{
	unsigned char *buf = alloc_buf(BUF_LEN);
	long base = locked_pages();
	unsigned int order;
	uint32_t ioasid;
	int fd, afd;

	ASSERT_NE(NULL, buf);
	for (order = 0; order != 4; order++) {
		fd = ioasid_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ioasid_create(fd, &ioasid));
		ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, BUF_LEN, IOVA));
		ASSERT_EQ(0, access_create(fd, &afd));
		ASSERT_EQ(0, access_attach(fd, afd, ioasid));
		ASSERT_EQ(0, access_pin(fd, afd, IOVA, BUF_LEN, NULL, 0));
		/* Even pins a broken driver would keep are dropped */
		if (order & 2)
			ASSERT_EQ(0, access_mode(fd, afd,
						 IOASID_TEST_ACCESS_HOLD));
		if (order & 1) {
			close(fd);
			/* The access keeps the context and its memory */
			ASSERT_EQ(base + NPAGES(BUF_LEN), locked_pages());
			close(afd);
		} else {
			close(afd);
			ASSERT_EQ(base + NPAGES(BUF_LEN), locked_pages());
			close(fd);
		}
		ASSERT_EQ(base, locked_pages());
	}
	munmap(buf, BUF_LEN);
}

struct race {
	int fd;
	int afd;
	uint32_t ioasid;
	uint32_t ioasid2;
	unsigned char *buf;
	bool stop;
	unsigned long pins;
	unsigned long bad;
};

/* MAP and UNMAP the buffer page by page, and all of it */
static void *race_mapper(void *arg)
{
	struct race *r = arg;
	unsigned int i;

	for (i = 0; i != 300; i++) {
		uint64_t iova = IOVA + (i % 16) * PAGE_SZ;

		ioasid_map_fixed(r->fd, r->ioasid, r->buf + (i % 16) * PAGE_SZ,
				 PAGE_SZ, iova);
		if (i % 3 == 0)
			ioasid_unmap(r->fd, r->ioasid, iova, PAGE_SZ, NULL);
		if (i % 50 == 49)
			ioasid_unmap_all(r->fd, r->ioasid, NULL);
	}
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Pin, check and unpin whatever is mapped; copy; switch IOASIDs */
static void *race_pinner(void *arg)
{
	unsigned char got[2 * PAGE_SZ];
	struct race *r = arg;
	unsigned int i = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		uint64_t off = (i * 7 % 15) * PAGE_SZ;

		if (!access_pin(r->fd, r->afd, IOVA + off, 2 * PAGE_SZ, got,
				0)) {
			r->pins++;
			if (memcmp(got, r->buf + off, 2 * PAGE_SZ))
				r->bad++;
			/* Gone already if UNMAP called the driver back */
			access_unpin(r->fd, r->afd, IOVA + off, 2 * PAGE_SZ);
		}
		if (!access_rw(r->fd, r->afd, IOVA + off, got, PAGE_SZ, 0) &&
		    memcmp(got, r->buf + off, PAGE_SZ))
			r->bad++;
		if (i % 64 == 63) {
			access_attach(r->fd, r->afd, r->ioasid2);
			access_attach(r->fd, r->afd, r->ioasid);
		}
		i++;
	}
	return NULL;
}

/* UNMAP, MAP, pins, copies and replacement from two threads at once */
TEST(threads_race)
{
	pthread_t mapper, pinner;
	struct race r = {};
	long base = locked_pages();
	int mirror;

	r.fd = ioasid_open();
	ASSERT_LE(0, r.fd);
	r.buf = alloc_buf(BUF_LEN);
	ASSERT_NE(NULL, r.buf);
	fill_pattern(r.buf, BUF_LEN, 5);
	ASSERT_EQ(0, ioasid_create(r.fd, &r.ioasid));
	ASSERT_EQ(0, ioasid_create(r.fd, &r.ioasid2));
	ASSERT_EQ(0, access_create(r.fd, &r.afd));
	ASSERT_EQ(0, access_attach(r.fd, r.afd, r.ioasid));
	/* A second driver mirrors every mapping meanwhile */
	ASSERT_EQ(0, access_create(r.fd, &mirror));
	ASSERT_EQ(0, access_attach(r.fd, mirror, r.ioasid));
	ASSERT_EQ(0, ioasid_test(r.fd, IOASID_TEST_ACCESS_MIRROR, mirror,
				 &(struct ioasid_test_cmd){}));

	ASSERT_EQ(0, pthread_create(&pinner, NULL, race_pinner, &r));
	ASSERT_EQ(0, pthread_create(&mapper, NULL, race_mapper, &r));
	pthread_join(mapper, NULL);
	pthread_join(pinner, NULL);

	TH_LOG("%lu pins taken while racing", r.pins);
	ASSERT_EQ(0, r.bad);
	ASSERT_EQ(0, access_pins(r.fd, r.afd));
	ASSERT_EQ(0, ioasid_unmap_all(r.fd, r.ioasid, NULL));
	ASSERT_EQ(0, access_pins(r.fd, mirror));
	ASSERT_EQ(base, locked_pages());
	close(mirror);
	close(r.afd);
	close(r.fd);
	munmap(r.buf, BUF_LEN);
}

/* An emulated mock vfio device: its mock id, and its vfio fd */
static int emulated_new(int fd, uint32_t *mock_id)
{
	struct ioasid_test_cmd cmd = {
		.mock_create.flags = IOASID_TEST_MOCK_VFIO |
				     IOASID_TEST_MOCK_EMULATED,
	};
	int rc = ioasid_test(fd, IOASID_TEST_MOCK_CREATE, 0, &cmd);

	if (rc)
		return -1;
	*mock_id = cmd.mock_create.out_id;
	return vfio_open_index(cmd.mock_create.out_vfio);
}

/*
 * An mdev-like vfio device binds to the context, attaches, and its DMA
 * pins or copies the IOASID's memory; UNMAP of what it pinned calls its
 * dma_unmap(); replace, detach and close release everything.
 */
TEST(emulated_vfio)
{
	unsigned char *a = alloc_buf(BUF_LEN), *b = alloc_buf(BUF_LEN);
	unsigned char got[2 * PAGE_SZ], data[2 * PAGE_SZ];
	const uint32_t copy[] = { 0, IOASID_TEST_DMA_CPU_COPY };
	uint32_t ioasid_a, ioasid_b, mock, dev_id = ~0U;
	long base = locked_pages();
	int fd, vfd, i;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	fill_pattern(a, BUF_LEN, 11);
	fill_pattern(b, BUF_LEN, 12);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid_a));
	ASSERT_EQ(0, ioasid_create(fd, &ioasid_b));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid_a, a, BUF_LEN, IOVA));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid_b, b, BUF_LEN, IOVA));
	vfd = emulated_new(fd, &mock);
	ASSERT_LE(0, vfd);

	/* No IOMMU: it cannot be bound as a device, and cannot DMA yet */
	ASSERT_EQ(ENODEV, mock_bind(fd, mock, NULL));
	ASSERT_EQ(ENODEV, emulated_dma(fd, mock, IOVA, got, 1, 0));
	ASSERT_EQ(0, vfio_bind_ioasid(vfd, fd, &dev_id));
	ASSERT_EQ(0, dev_id);
	ASSERT_EQ(ENODEV, emulated_dma(fd, mock, IOVA, got, 1, 0));
	ASSERT_EQ(EOPNOTSUPP, vfio_attach_ioasid_pasid(vfd, 1, ioasid_a));
	ASSERT_EQ(ENOENT, vfio_attach_ioasid(vfd, 12345));
	ASSERT_EQ(EOPNOTSUPP, emulated_dma(fd, mock, IOVA, got, 1, 1 << 6));
	ASSERT_EQ(0, vfio_attach_ioasid(vfd, ioasid_a));

	for (i = 0; i != 2; i++) {
		/* Reads find the mapped memory, writes land in it */
		ASSERT_EQ(0, emulated_dma(fd, mock, IOVA + 100, got,
					  2 * PAGE_SZ, copy[i]));
		ASSERT_EQ(0, memcmp(got, a + 100, 2 * PAGE_SZ));
		fill_pattern(data, sizeof(data), 50 + i);
		ASSERT_EQ(0, emulated_dma(fd, mock, IOVA + 3 * PAGE_SZ + 7,
					  data, sizeof(data),
					  copy[i] | IOASID_TEST_DMA_WRITE));
		ASSERT_EQ(0, memcmp(a + 3 * PAGE_SZ + 7, data, sizeof(data)));
		/* Beyond the mapping nothing moves */
		ASSERT_EQ(ENOENT, emulated_dma(fd, mock,
					       IOVA + BUF_LEN - PAGE_SZ, got,
					       2 * PAGE_SZ, copy[i]));
	}
	ASSERT_EQ(base + 2 * NPAGES(BUF_LEN), locked_pages());

	/* UNMAP of pages it keeps pinned: vfio's dma_unmap() lets go */
	ASSERT_EQ(0, emulated_dma(fd, mock, IOVA, got, 4 * PAGE_SZ,
				  IOASID_TEST_DMA_KEEP_PINS));
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid_a, IOVA + PAGE_SZ, PAGE_SZ,
				  NULL));
	ASSERT_EQ(base + 2 * NPAGES(BUF_LEN) - 1, locked_pages());
	ASSERT_EQ(ENOENT, emulated_dma(fd, mock, IOVA, got, 2 * PAGE_SZ, 0));

	/* Replace: DMA follows; the IOASID in use cannot go */
	ASSERT_EQ(0, emulated_dma(fd, mock, IOVA, got, PAGE_SZ,
				  IOASID_TEST_DMA_KEEP_PINS));
	ASSERT_EQ(0, vfio_attach_ioasid(vfd, ioasid_b));
	ASSERT_EQ(0, emulated_dma(fd, mock, IOVA, got, 2 * PAGE_SZ, 0));
	ASSERT_EQ(0, memcmp(got, b, 2 * PAGE_SZ));
	ASSERT_EQ(EBUSY, ioasid_destroy(fd, ioasid_b));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid_a));
	ASSERT_EQ(base + NPAGES(BUF_LEN), locked_pages());

	/* Detach: no DMA; close with pins kept: everything goes */
	ASSERT_EQ(0, vfio_detach_ioasid(vfd));
	ASSERT_EQ(ENODEV, emulated_dma(fd, mock, IOVA, got, 1, 0));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid_b));
	ASSERT_EQ(0, ioasid_create(fd, &ioasid_a));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid_a, a, BUF_LEN, IOVA));
	ASSERT_EQ(0, vfio_attach_ioasid(vfd, ioasid_a));
	ASSERT_EQ(0, emulated_dma(fd, mock, IOVA, got, PAGE_SZ,
				  IOASID_TEST_DMA_KEEP_PINS));
	close(vfd);
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid_a));
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(a, BUF_LEN);
	munmap(b, BUF_LEN);
}

TEST_HARNESS_MAIN
