// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid selftests of nested and delegated IOASIDs.
 *
 * The tests play a guest: its RAM is a buffer mapped into a nesting parent
 * at GPA_BASE, and they write the guest's stage-1 tables and PASID table
 * into that RAM in the mock IOMMU's formats, as a guest driver would. The
 * mock IOMMU walks the whole path for every DMA: (device, PASID), the
 * guest's PASID table, its stage-1 table, the parent, host memory. Each
 * walk is read through the parent, and the result is cached in an IOTLB
 * that only IOASID_INVALIDATE (or a change of the parent) empties.
 */
#include "../kselftest_harness.h"
#include "ioasid_vfio_utils.h"

/* Guest RAM: RAM_PAGES pages at GPA_BASE in the parent */
#define GPA_BASE	0x100000ULL
#define RAM_PAGES	48
#define RAM_SIZE	(RAM_PAGES * PAGE_SZ)
/* IOVAs the guest maps through its stage 1 */
#define IOVA		0x7f000000ULL
#define IOVA2		0x12345000ULL
/* Bytes a DMA check moves */
#define DATA_LEN	64
/* An id that no object of the tests has */
#define NO_ID		0x7ffffff0U
/* PASID table width the delegated tests give the guest */
#define PT_BITS		4
/* Both mock formats */
#define MOCK_FORMATS	((1ULL << IOASID_FORMAT_MOCK_S1) | \
			 (1ULL << IOASID_FORMAT_MOCK_PASID_TABLE))

#define S1_RW		(IOASID_MOCK_S1_READ | IOASID_MOCK_S1_WRITE)

/* The guest's memory and a bump allocator of its pages */
struct guest {
	unsigned char *ram;
	unsigned int next;
};

static uint64_t *guest_ptr(struct guest *g, uint64_t gpa)
{
	return (uint64_t *)(g->ram + (gpa - GPA_BASE));
}

/* A zeroed guest page; returns its GPA */
static uint64_t guest_alloc(struct guest *g)
{
	uint64_t gpa = GPA_BASE + g->next * PAGE_SZ;

	if (g->next == RAM_PAGES)
		abort();
	g->next++;
	memset(guest_ptr(g, gpa), 0, PAGE_SZ);
	return gpa;
}

/* A guest page filled with data of its own; returns its GPA */
static uint64_t guest_data(struct guest *g, unsigned int seed)
{
	uint64_t gpa = guest_alloc(g);

	fill_pattern(guest_ptr(g, gpa), PAGE_SZ, seed);
	return gpa;
}

/* The entry of the last-level table of @root that translates @iova */
static uint64_t *s1_leaf(struct guest *g, uint64_t root, uint64_t iova,
			 uint64_t *table_gpa)
{
	uint64_t table = root, *pte = NULL;
	int level;

	for (level = IOASID_MOCK_S1_LEVELS - 1; level >= 0; level--) {
		pte = guest_ptr(g, table) + ((iova >> (12 + 9 * level)) & 511);
		if (!level)
			break;
		if (!(*pte & IOASID_MOCK_S1_PRESENT))
			*pte = guest_alloc(g) | IOASID_MOCK_S1_PRESENT;
		table = *pte & IOASID_MOCK_S1_ADDR;
	}
	if (table_gpa)
		*table_gpa = table;
	return pte;
}

/* Map @iova to @gpa in the guest's stage-1 table at @root */
static void s1_map(struct guest *g, uint64_t root, uint64_t iova, uint64_t gpa,
		   uint64_t perm)
{
	*s1_leaf(g, root, iova, NULL) = gpa | perm | IOASID_MOCK_S1_PRESENT;
}

/* A mock invalidation request for [iova, iova + length) */
static struct ioasid_mock_invalidate inv_range(uint64_t iova, uint64_t length)
{
	return (struct ioasid_mock_invalidate){ .iova = iova,
						 .length = length };
}

static int invalidate(int fd, uint32_t id, struct ioasid_mock_invalidate inv,
		      uint32_t format)
{
	uint32_t done;
	int rc;

	rc = ioasid_invalidate(fd, id, format, &inv, sizeof(inv), 1, &done);
	return rc ? rc : (done == 1 ? 0 : -1);
}

/* DMA of @mock tagged with @pasid reads guest page @gpa at @iova */
static void check_read(struct __test_metadata *_metadata, int fd,
		       uint32_t mock, uint32_t pasid, uint64_t iova,
		       struct guest *g, uint64_t gpa, bool hit)
{
	unsigned char got[DATA_LEN];
	struct dma_result res;

	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mock_dma_pasid(fd, mock, pasid, iova, got, sizeof(got),
				    false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
		TH_LOG("PASID %u at %#llx: fault %u at stage %u, GPA %#llx",
		       pasid, (unsigned long long)iova, res.fault, res.stage,
		       (unsigned long long)res.fault_gpa);
	ASSERT_EQ(sizeof(got), res.done);
	ASSERT_EQ(0, memcmp(got, (unsigned char *)guest_ptr(g, gpa) +
			    (iova & (PAGE_SZ - 1)), sizeof(got)))
		TH_LOG("PASID %u reads the wrong page at %#llx", pasid,
		       (unsigned long long)iova);
	ASSERT_EQ(hit, res.iotlb_hit);
}

/* DMA of @mock tagged with @pasid faults at @iova as said */
static void check_fault(struct __test_metadata *_metadata, int fd,
			uint32_t mock, uint32_t pasid, uint64_t iova,
			bool write, uint32_t fault, uint32_t stage,
			uint64_t gpa)
{
	unsigned char buf[DATA_LEN] = {};
	struct dma_result res;

	ASSERT_EQ(0, mock_dma_pasid(fd, mock, pasid, iova, buf, sizeof(buf),
				    write, &res));
	ASSERT_EQ(fault, res.fault)
		TH_LOG("PASID %u at %#llx: fault %u at stage %u", pasid,
		       (unsigned long long)iova, res.fault, res.stage);
	ASSERT_EQ(stage, res.stage);
	ASSERT_EQ(iova, res.fault_iova);
	ASSERT_EQ(gpa, res.fault_gpa);
	ASSERT_EQ(0, res.done);
}

/*
 * A context with a nesting parent holding the guest's RAM, one mock device
 * of IOMMU instance 0 bound, and a nested IOASID of the mock format whose
 * stage-1 root page is allocated but not yet given to the kernel.
 */
FIXTURE(nested) {
	int fd;
	uint32_t parent;
	uint32_t mock;
	uint32_t nested;
	uint64_t root;
	struct guest g;
};

FIXTURE_SETUP(nested)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create_parent(self->fd, &self->parent));
	self->g.ram = alloc_buf(RAM_SIZE);
	ASSERT_NE(NULL, self->g.ram);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent, self->g.ram,
				      RAM_SIZE, GPA_BASE));
	ASSERT_EQ(0, mock_create(self->fd, 0, &self->mock));
	ASSERT_EQ(0, mock_bind(self->fd, self->mock, NULL));
	self->root = guest_alloc(&self->g);
	ASSERT_EQ(0, ioasid_create_nested(self->fd, self->parent,
					  IOASID_FORMAT_MOCK_S1,
					  &self->nested));
}

FIXTURE_TEARDOWN(nested)
{
	close(self->fd);
	munmap(self->g.ram, RAM_SIZE);
}

TEST_F(nested, info_reports_formats)
{
	struct ioasid_info info;

	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_TRUE(info.out_flags & IOASID_INFO_NESTING);
	ASSERT_EQ(MOCK_FORMATS, info.out_formats);
}

/* Data moves through both stages, in both directions, across pages */
TEST_F(nested, two_stage_read_write)
{
	uint64_t a = guest_data(&self->g, 1), b = guest_data(&self->g, 2);
	unsigned char buf[2 * DATA_LEN], *page;
	struct dma_result res;
	unsigned int i;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	s1_map(&self->g, self->root, IOVA + PAGE_SZ, b, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));

	check_read(_metadata, self->fd, self->mock, 0, IOVA + 0x80, &self->g,
		   a, false);
	check_read(_metadata, self->fd, self->mock, 0, IOVA + 0x80, &self->g,
		   a, true);
	check_read(_metadata, self->fd, self->mock, 0, IOVA + PAGE_SZ,
		   &self->g, b, false);

	/* A write lands in the guest page stage 1 names, across the edge */
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = 0xc0 ^ i;
	ASSERT_EQ(0, mock_dma(self->fd, self->mock, IOVA + PAGE_SZ - DATA_LEN,
			      buf, sizeof(buf), true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(sizeof(buf), res.done);
	ASSERT_EQ(PAGE_SZ, res.pgsize);
	page = (unsigned char *)guest_ptr(&self->g, a);
	ASSERT_EQ(0, memcmp(page + PAGE_SZ - DATA_LEN, buf, DATA_LEN));
	page = (unsigned char *)guest_ptr(&self->g, b);
	ASSERT_EQ(0, memcmp(page, buf + DATA_LEN, DATA_LEN));

	/* The GPA itself is no IOVA of the guest's table */
	check_fault(_metadata, self->fd, self->mock, 0, a, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_1, 0);
}

TEST_F(nested, faults_name_their_stage)
{
	uint64_t a = guest_data(&self->g, 3), ro_gpa = GPA_BASE + RAM_SIZE;
	uint64_t hole = GPA_BASE + 2 * RAM_SIZE, saved, *top;
	unsigned char buf[8];
	struct dma_result res;
	void *ro;

	/* A page the host maps read-only, right after the RAM */
	ro = alloc_buf(PAGE_SZ);
	ASSERT_NE(NULL, ro);
	ASSERT_EQ(0, ioasid_map(self->fd, self->parent, ro, PAGE_SZ, &ro_gpa,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));

	s1_map(&self->g, self->root, IOVA, a, IOASID_MOCK_S1_READ);
	s1_map(&self->g, self->root, IOVA2, ro_gpa, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));

	check_fault(_metadata, self->fd, self->mock, 0, IOVA + PAGE_SZ, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_1, 0);
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, true,
		    IOASID_TEST_FAULT_PERMISSION, IOASID_TEST_STAGE_1, 0);
	check_fault(_metadata, self->fd, self->mock, 0,
		    1ULL << IOASID_MOCK_S1_IOVA_BITS, false,
		    IOASID_TEST_FAULT_RANGE, IOASID_TEST_STAGE_1, 0);
	/* Stage 1 allows the write, the host's stage 2 does not */
	check_fault(_metadata, self->fd, self->mock, 0, IOVA2 + 8, true,
		    IOASID_TEST_FAULT_PERMISSION, IOASID_TEST_STAGE_2,
		    ro_gpa + 8);
	/* Nor once a read cached the translation */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock, IOVA2, buf, sizeof(buf),
			      false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	check_fault(_metadata, self->fd, self->mock, 0, IOVA2 + 8, true,
		    IOASID_TEST_FAULT_PERMISSION, IOASID_TEST_STAGE_2,
		    ro_gpa + 8);
	ASSERT_EQ(0, mock_dma(self->fd, self->mock, IOVA2, buf, sizeof(buf),
			      false, &res));
	ASSERT_TRUE(res.iotlb_hit);

	/* A stage-1 table outside the parent faults where it is read */
	top = guest_ptr(&self->g, self->root) + ((IOVA >> 30) & 511);
	saved = *top;
	*top = hole | IOASID_MOCK_S1_PRESENT;
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2,
		    hole + ((IOVA >> 21) & 511) * 8);
	*top = saved;
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	munmap(ro, PAGE_SZ);
}

/* The IOTLB keeps a stale translation until the guest invalidates it */
TEST_F(nested, stage1_change_needs_invalidation)
{
	uint64_t a = guest_data(&self->g, 4), b = guest_data(&self->g, 5);

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);

	s1_map(&self->g, self->root, IOVA, b, S1_RW);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   true);
	/* Invalidating another page leaves it */
	ASSERT_EQ(0, invalidate(self->fd, self->nested,
				inv_range(IOVA + PAGE_SZ, PAGE_SZ),
				IOASID_FORMAT_MOCK_S1));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   true);
	ASSERT_EQ(0, invalidate(self->fd, self->nested, inv_range(IOVA, 1),
				IOASID_FORMAT_MOCK_S1));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);

	/* Unmapped in stage 1: DMA goes on until the invalidation */
	*s1_leaf(&self->g, self->root, IOVA, NULL) = 0;
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   true);
	ASSERT_EQ(0, invalidate(self->fd, self->nested,
				(struct ioasid_mock_invalidate){
					.flags = IOASID_MOCK_INV_ALL },
				IOASID_FORMAT_MOCK_S1));
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_1, 0);
}

/* The host unmapping guest memory takes effect at once, at stage 2 */
TEST_F(nested, stage2_unmap_faults_at_stage2)
{
	uint64_t a = guest_data(&self->g, 6), b = guest_data(&self->g, 7);
	uint64_t unmapped, table, *pte;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	s1_map(&self->g, self->root, IOVA + PAGE_SZ, b, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);

	/* Cached or not, the translation of an unmapped GPA is gone */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent, a, PAGE_SZ,
				  &unmapped));
	check_fault(_metadata, self->fd, self->mock, 0, IOVA + 8, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2, a + 8);
	check_read(_metadata, self->fd, self->mock, 0, IOVA + PAGE_SZ,
		   &self->g, b, false);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent,
				      guest_ptr(&self->g, a), PAGE_SZ, a));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);

	/* So is a guest table the IOMMU has to read */
	pte = s1_leaf(&self->g, self->root, IOVA, &table);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent, table, PAGE_SZ,
				  &unmapped));
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2,
		    table + ((IOVA >> 12) & 511) * 8);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent,
				      guest_ptr(&self->g, table), PAGE_SZ,
				      table));
	ASSERT_EQ(a | S1_RW | IOASID_MOCK_S1_PRESENT, *pte);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
}

/* Requests run in order; the first bad one stops the rest */
TEST_F(nested, invalidate_reports_progress)
{
	uint64_t a = guest_data(&self->g, 8), b = guest_data(&self->g, 9);
	uint64_t c = guest_data(&self->g, 10);
	struct ioasid_mock_invalidate reqs[4] = {
		inv_range(IOVA, PAGE_SZ),
		inv_range(IOVA + PAGE_SZ, PAGE_SZ),
		{ .flags = 1U << 7 },
		{ .flags = IOASID_MOCK_INV_ALL },
	};
	uint32_t done;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	s1_map(&self->g, self->root, IOVA + PAGE_SZ, a, S1_RW);
	s1_map(&self->g, self->root, IOVA2, b, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	check_read(_metadata, self->fd, self->mock, 0, IOVA + PAGE_SZ,
		   &self->g, a, false);
	check_read(_metadata, self->fd, self->mock, 0, IOVA2, &self->g, b,
		   false);
	s1_map(&self->g, self->root, IOVA, c, S1_RW);
	s1_map(&self->g, self->root, IOVA + PAGE_SZ, c, S1_RW);
	s1_map(&self->g, self->root, IOVA2, c, S1_RW);

	ASSERT_EQ(EOPNOTSUPP, ioasid_invalidate(self->fd, self->nested,
						IOASID_FORMAT_MOCK_S1, reqs,
						sizeof(reqs[0]), 4, &done));
	ASSERT_EQ(2, done);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, c,
		   false);
	check_read(_metadata, self->fd, self->mock, 0, IOVA + PAGE_SZ,
		   &self->g, c, false);
	/* The INV_ALL after the bad request was not carried out */
	check_read(_metadata, self->fd, self->mock, 0, IOVA2, &self->g, b,
		   true);
	ASSERT_EQ(0, ioasid_invalidate(self->fd, self->nested,
				       IOASID_FORMAT_MOCK_S1, &reqs[3],
				       sizeof(reqs[0]), 1, &done));
	ASSERT_EQ(1, done);
	check_read(_metadata, self->fd, self->mock, 0, IOVA2, &self->g, c,
		   false);
}

TEST_F(nested, invalidate_bad_input)
{
	uint64_t a = guest_data(&self->g, 11), b = guest_data(&self->g, 12);
	struct ioasid_mock_invalidate bad[] = {
		{ .length = 0, .iova = IOVA },
		{ .iova = ~0ULL - 10, .length = 12 },
		{ .flags = IOASID_MOCK_INV_ALL, .iova = IOVA },
		{ .flags = IOASID_MOCK_INV_ALL, .length = PAGE_SZ },
		{ .pasid = 1, .iova = IOVA, .length = PAGE_SZ },
	};
	struct {
		struct ioasid_mock_invalidate inv;
		uint64_t tail;
	} longer = { .inv = inv_range(IOVA, PAGE_SZ), .tail = 1 };
	struct ioasid_invalidate cmd = {
		.size = sizeof(cmd),
		.ioasid = self->nested,
		.format = IOASID_FORMAT_MOCK_S1,
		.entry_len = sizeof(bad[0]),
		.entry_num = 1,
		.entries_uptr = (uintptr_t)&bad[0],
	};
	uint32_t done, i;

	/* Nothing attached: nothing cached, nothing looked at */
	ASSERT_EQ(0, ioasid_invalidate(self->fd, self->nested,
				       IOASID_FORMAT_MOCK_S1, bad,
				       sizeof(bad[0]), 5, &done));
	ASSERT_EQ(5, done);

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	s1_map(&self->g, self->root, IOVA, b, S1_RW);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
						    IOASID_FORMAT_MOCK_S1,
						    &bad[i], sizeof(bad[0]),
						    1, &done))
			TH_LOG("request %u", i);
		ASSERT_EQ(0, done);
	}
	/*
	 * Entry sizes: shorter or longer than the driver's struct (which it
	 * refuses even with a zero tail), zero, above a page
	 */
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &longer, 8,
					    1, &done));
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &longer,
					    sizeof(longer), 1, &done));
	longer.tail = 0;
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &longer,
					    sizeof(longer), 1, &done));
	/* Refused before any request is read: entry_num stays as it was */
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &longer, 0,
					    3, &done));
	ASSERT_EQ(3, done);
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &longer,
					    PAGE_SZ + 1, 3, &done));
	ASSERT_EQ(3, done);
	/* Wrong IOASID, format, flags, pointer */
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->parent,
					    IOASID_FORMAT_MOCK_S1, &longer.inv,
					    sizeof(longer.inv), 3, &done));
	ASSERT_EQ(3, done);
	ASSERT_EQ(ENOENT, ioasid_invalidate(self->fd, NO_ID,
					    IOASID_FORMAT_MOCK_S1, &longer.inv,
					    sizeof(longer.inv), 3, &done));
	ASSERT_EQ(3, done);
	ASSERT_EQ(EINVAL, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_PASID_TABLE,
					    &longer.inv, sizeof(longer.inv), 3,
					    &done));
	ASSERT_EQ(3, done);
	ASSERT_EQ(EFAULT, ioasid_invalidate(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, NULL,
					    sizeof(longer.inv), 1, &done));
	cmd.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_INVALIDATE, &cmd));
	cmd.flags = 0;
	cmd.size = offsetof(struct ioasid_invalidate, entries_uptr);
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_INVALIDATE, &cmd));

	/* None of it invalidated anything; a good request does */
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   true);
	ASSERT_EQ(0, ioasid_invalidate(self->fd, self->nested,
				       IOASID_FORMAT_MOCK_S1, &longer.inv,
				       sizeof(longer.inv), 1, &done));
	ASSERT_EQ(1, done);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);
}

TEST_F(nested, create_bad_input)
{
	struct ioasid_create_nested cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = self->parent,
		.format = IOASID_FORMAT_MOCK_S1,
	};
	struct ioasid_create create = { .size = sizeof(create), .flags = 2 };
	uint32_t normal, id, dev_id, mock2;

	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_CREATE, &create));
	ASSERT_EQ(0, ioasid_create(self->fd, &normal));
	ASSERT_EQ(0, mock_create(self->fd, 1, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, &dev_id));

	/* Parents of the wrong kind */
	ASSERT_EQ(EINVAL, ioasid_create_nested(self->fd, normal,
					       IOASID_FORMAT_MOCK_S1, &id));
	ASSERT_EQ(EINVAL, ioasid_create_nested(self->fd, self->nested,
					       IOASID_FORMAT_MOCK_S1, &id));
	ASSERT_EQ(ENOENT, ioasid_create_nested(self->fd, dev_id,
					       IOASID_FORMAT_MOCK_S1, &id));
	ASSERT_EQ(ENOENT, ioasid_create_nested(self->fd, NO_ID,
					       IOASID_FORMAT_MOCK_S1, &id));
	/* Formats: unknown, delegated, not this IOMMU's */
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(self->fd, self->parent, 61,
						   &id));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(self->fd, self->parent,
						   ~0U, &id));
	ASSERT_EQ(EINVAL, ioasid_create_nested(self->fd, self->parent,
					       IOASID_FORMAT_MOCK_PASID_TABLE,
					       &id));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(self->fd, self->parent,
						   IOASID_FORMAT_VTD_S1, &id));
	/* The struct itself */
	cmd.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_CREATE_NESTED,
					  &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_CREATE_NESTED, &cmd));
	cmd.__reserved = 0;
	cmd.size = offsetof(struct ioasid_create_nested, out_ioasid);
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_CREATE_NESTED, &cmd));
	cmd.size = PAGE_SZ + 8;
	ASSERT_EQ(E2BIG, ioasid_call(self->fd, IOASID_CREATE_NESTED, &cmd));

	/* None of it made an object: the next id is the next one free */
	ASSERT_EQ(0, ioasid_create_nested(self->fd, self->parent,
					  IOASID_FORMAT_MOCK_S1, &id));
	ASSERT_EQ(dev_id + 1, id);
}

TEST_F(nested, set_tables_bad_input)
{
	uint64_t a = guest_data(&self->g, 13), b = guest_data(&self->g, 14);
	uint64_t root2 = guest_alloc(&self->g);
	struct {
		struct ioasid_mock_s1 s1;
		uint64_t tail;
	} longer = { .s1 = { .root_gpa = self->root } };
	struct ioasid_mock_s1 s1 = { .root_gpa = self->root };
	struct ioasid_set_nested_page_tables cmd = {
		.size = sizeof(cmd),
		.ioasid = self->nested,
		.format = IOASID_FORMAT_MOCK_S1,
		.data_len = sizeof(s1),
		.data_uptr = (uintptr_t)&s1,
	};
	uint32_t normal;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	s1_map(&self->g, root2, IOVA, b, S1_RW);
	ASSERT_EQ(0, ioasid_create(self->fd, &normal));

	/* Attaching before the tables are set changes nothing */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->parent));
	ASSERT_EQ(EINVAL, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, a, &self->g, a, false);

	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_PASID_TABLE,
					    &s1, sizeof(s1)));
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, normal,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, self->parent,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	ASSERT_EQ(ENOENT, ioasid_set_tables(self->fd, NO_ID,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1, 8));
	longer.tail = 1;
	ASSERT_EQ(E2BIG, ioasid_set_tables(self->fd, self->nested,
					   IOASID_FORMAT_MOCK_S1, &longer,
					   sizeof(longer)));
	ASSERT_EQ(E2BIG, ioasid_set_tables(self->fd, self->nested,
					   IOASID_FORMAT_MOCK_S1, &longer,
					   PAGE_SZ + 1));
	ASSERT_EQ(EFAULT, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, NULL,
					    sizeof(s1)));
	/* Malformed data: flags, alignment */
	s1.flags = 1;
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	s1.flags = 0;
	s1.root_gpa = self->root + 8;
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	/* Tables outside what the parent maps */
	s1.root_gpa = GPA_BASE + RAM_SIZE;
	ASSERT_EQ(ERANGE, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	s1.root_gpa = GPA_BASE - PAGE_SZ;
	ASSERT_EQ(ERANGE, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	s1.root_gpa = ~0ULL & ~(PAGE_SZ - 1);
	ASSERT_EQ(ERANGE, ioasid_set_tables(self->fd, self->nested,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	cmd.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd,
					  IOASID_SET_NESTED_PAGE_TABLES, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_SET_NESTED_PAGE_TABLES,
				      &cmd));

	/* None of it set tables: attaching still fails, the RID still works */
	ASSERT_EQ(EINVAL, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, a, &self->g, a, false);

	/* A longer struct with a zero tail is fine */
	longer.tail = 0;
	ASSERT_EQ(0, ioasid_set_tables(self->fd, self->nested,
				       IOASID_FORMAT_MOCK_S1, &longer,
				       sizeof(longer)));
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, root2));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);

	/* Not while a device uses the tables: it keeps them */
	ASSERT_EQ(EBUSY, ioasid_set_mock_s1(self->fd, self->nested,
					    self->root));
	ASSERT_EQ(0, invalidate(self->fd, self->nested,
				(struct ioasid_mock_invalidate){
					.flags = IOASID_MOCK_INV_ALL },
				IOASID_FORMAT_MOCK_S1));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);
	ASSERT_EQ(0, mock_detach(self->fd, self->mock));
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
}

TEST_F(nested, destroy_while_busy)
{
	uint64_t a = guest_data(&self->g, 15);
	uint32_t normal;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));

	/* A parent with a child, a child with a device */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->parent));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->nested));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->parent));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);

	/* Moved back to a normal IOASID, the child can go, then the parent */
	ASSERT_EQ(0, ioasid_create(self->fd, &normal));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, normal));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->parent));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->nested));
	ASSERT_EQ(ENOENT, ioasid_destroy(self->fd, self->nested));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->parent));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, IOVA, false));
}

/*
 * The reserved region of the fixture's device (instance 0) is off limits in
 * the parent, one range among the usable ones
 */
static void resv_kept(struct __test_metadata *_metadata, int fd,
		      uint32_t parent, struct guest *g)
{
	struct ioasid_iova_range ranges[4];
	uint32_t num = 4;

	ASSERT_EQ(EADDRINUSE, ioasid_map_fixed(fd, parent, g->ram, PAGE_SZ,
					       IOASID_TEST_RESV_START_0));
	ASSERT_EQ(0, ioasid_iova_ranges(fd, parent, ranges, &num));
	ASSERT_EQ(2, num);
	ASSERT_EQ(IOASID_TEST_RESV_START_0 - 1, ranges[0].last);
	ASSERT_EQ(IOASID_TEST_RESV_START_0 + IOASID_TEST_RESV_SIZE,
		  ranges[1].start);
}

/* Attachments move between normal, nested and delegated in one step */
TEST_F(nested, replace_between_kinds)
{
	uint64_t a = guest_data(&self->g, 16), b = guest_data(&self->g, 17);
	uint64_t pt = guest_alloc(&self->g), root2 = guest_alloc(&self->g);
	uint32_t delegated;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	s1_map(&self->g, root2, IOVA, b, S1_RW);
	guest_ptr(&self->g, pt)[0] = root2 | IOASID_MOCK_S1_PRESENT;
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, ioasid_create_mock_delegated(self->fd, self->parent, pt,
						  PT_BITS, &delegated));

	/* Normal: the IOVA is the GPA */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->parent));
	check_read(_metadata, self->fd, self->mock, 0, b, &self->g, b, false);
	resv_kept(_metadata, self->fd, self->parent, &self->g);
	/* Nested: the guest's table */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	check_fault(_metadata, self->fd, self->mock, 0, b, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_1, 0);
	resv_kept(_metadata, self->fd, self->parent, &self->g);
	/* Delegated: the table the guest's PASID table names for PASID 0 */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, delegated));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);
	resv_kept(_metadata, self->fd, self->parent, &self->g);
	/* And back */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->parent));
	check_read(_metadata, self->fd, self->mock, 0, a, &self->g, a, false);
	resv_kept(_metadata, self->fd, self->parent, &self->g);
	ASSERT_EQ(0, ioasid_destroy(self->fd, delegated));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->nested));

	/* Once the device leaves the parent, its region is usable again */
	ASSERT_EQ(0, mock_detach(self->fd, self->mock));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent, self->g.ram,
				      PAGE_SZ, IOASID_TEST_RESV_START_0));
}

/* Devices of two IOMMU instances get a nested domain each */
TEST_F(nested, two_instances)
{
	uint64_t a = guest_data(&self->g, 18), b = guest_data(&self->g, 19);
	uint32_t mock2;

	ASSERT_EQ(0, mock_create(self->fd, 1, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, NULL));
	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	ASSERT_EQ(0, mock_attach(self->fd, mock2, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	check_read(_metadata, self->fd, mock2, 0, IOVA, &self->g, a, false);

	/* Both cache; one invalidation reaches both */
	s1_map(&self->g, self->root, IOVA, b, S1_RW);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   true);
	check_read(_metadata, self->fd, mock2, 0, IOVA, &self->g, a, true);
	ASSERT_EQ(0, invalidate(self->fd, self->nested, inv_range(IOVA, 4096),
				IOASID_FORMAT_MOCK_S1));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, b,
		   false);
	check_read(_metadata, self->fd, mock2, 0, IOVA, &self->g, b, false);

	/* Each parent domain flushes its own children when the host unmaps */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent, b, PAGE_SZ, NULL));
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2, b);
	check_fault(_metadata, self->fd, mock2, 0, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2, b);
}

/* An IOMMU that cannot nest refuses nesting parents and nested formats */
TEST(non_nesting_iommu)
{
	struct ioasid_info info;
	uint32_t parent, nested, mock;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create_parent(fd, &parent));
	/* Before any device is bound, the format is only checked to exist */
	ASSERT_EQ(0, ioasid_create_nested(fd, parent, IOASID_FORMAT_MOCK_S1,
					  &nested));
	ASSERT_EQ(0, mock_create(fd, 2, &mock));
	ASSERT_EQ(0, mock_bind(fd, mock, NULL));
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_FALSE(info.out_flags & IOASID_INFO_NESTING);
	ASSERT_EQ(0, info.out_formats);

	ASSERT_EQ(EOPNOTSUPP, mock_attach(fd, mock, parent));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_nested(fd, parent,
						   IOASID_FORMAT_MOCK_S1,
						   &nested));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_parent(fd, &parent));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED, mock_probe(fd, mock, 0, false));
	close(fd);
}

/*
 * The delegated tests: the guest's PASID table at @pt routes PASID 1 to
 * stage-1 table @t1 and PASID 2 to @t2, which map IOVA to pages @a and @b.
 */
struct routes {
	uint64_t pt, t1, t2, a, b;
};

static void routes_init(struct guest *g, struct routes *r)
{
	r->pt = guest_alloc(g);
	r->t1 = guest_alloc(g);
	r->t2 = guest_alloc(g);
	r->a = guest_data(g, 20);
	r->b = guest_data(g, 21);
	s1_map(g, r->t1, IOVA, r->a, S1_RW);
	s1_map(g, r->t2, IOVA, r->b, S1_RW);
	guest_ptr(g, r->pt)[1] = r->t1 | IOASID_MOCK_S1_PRESENT;
	guest_ptr(g, r->pt)[2] = r->t2 | IOASID_MOCK_S1_PRESENT;
}

/* A RID on a delegated IOASID: the guest routes every PASID */
TEST_F(nested, delegated_routes_pasids)
{
	struct ioasid_mock_invalidate inv = {
		.flags = IOASID_MOCK_INV_ALL | IOASID_MOCK_INV_PASID,
	};
	struct routes r;
	uint32_t del;

	routes_init(&self->g, &r);
	ASSERT_EQ(0, ioasid_create_mock_delegated(self->fd, self->parent,
						  r.pt, PT_BITS, &del));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, del));

	check_read(_metadata, self->fd, self->mock, 1, IOVA, &self->g, r.a,
		   false);
	check_read(_metadata, self->fd, self->mock, 2, IOVA, &self->g, r.b,
		   false);
	/* The PASIDs are the guest's: the host cannot attach one */
	ASSERT_EQ(EBUSY, mock_attach_pasid(self->fd, self->mock, 2,
					   self->parent));
	check_read(_metadata, self->fd, self->mock, 2, IOVA, &self->g, r.b,
		   true);
	/* No entry, no DMA: for PASID 3, beyond the table, or without one */
	check_fault(_metadata, self->fd, self->mock, 3, IOVA, false,
		    IOASID_TEST_FAULT_PASID, IOASID_TEST_STAGE_1, 0);
	check_fault(_metadata, self->fd, self->mock, 1U << PT_BITS, IOVA,
		    false, IOASID_TEST_FAULT_PASID, IOASID_TEST_STAGE_1, 0);
	check_fault(_metadata, self->fd, self->mock, 0, IOVA, false,
		    IOASID_TEST_FAULT_PASID, IOASID_TEST_STAGE_1, 0);

	/* Nothing was cached for PASID 0: a new entry works at once */
	guest_ptr(&self->g, r.pt)[0] = r.t2 | IOASID_MOCK_S1_PRESENT;
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, r.b,
		   false);

	/* Rerouting PASID 2 needs an invalidation of PASID 2, not of 1 */
	guest_ptr(&self->g, r.pt)[2] = r.t1 | IOASID_MOCK_S1_PRESENT;
	check_read(_metadata, self->fd, self->mock, 2, IOVA, &self->g, r.b,
		   true);
	inv.pasid = 1;
	ASSERT_EQ(0, invalidate(self->fd, del, inv,
				IOASID_FORMAT_MOCK_PASID_TABLE));
	check_read(_metadata, self->fd, self->mock, 2, IOVA, &self->g, r.b,
		   true);
	inv.pasid = 2;
	ASSERT_EQ(0, invalidate(self->fd, del, inv,
				IOASID_FORMAT_MOCK_PASID_TABLE));
	check_read(_metadata, self->fd, self->mock, 2, IOVA, &self->g, r.a,
		   false);
	/* PASID 0 kept its cached translation */
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, r.b,
		   true);

	/* The PASID table is read through the parent too */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent, r.pt, PAGE_SZ,
				  NULL));
	check_fault(_metadata, self->fd, self->mock, 1, IOVA, false,
		    IOASID_TEST_FAULT_NOT_PRESENT, IOASID_TEST_STAGE_2,
		    r.pt + 8);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, del));
}

/* A PASID attached to a delegated IOASID: the guest's entry for it */
TEST_F(nested, delegated_pasid_attach)
{
	struct routes r;
	uint32_t del;

	routes_init(&self->g, &r);
	guest_ptr(&self->g, r.pt)[5] = r.t2 | IOASID_MOCK_S1_PRESENT;
	ASSERT_EQ(0, ioasid_create_mock_delegated(self->fd, self->parent,
						  r.pt, PT_BITS, &del));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->parent));
	ASSERT_EQ(0, mock_attach_pasid(self->fd, self->mock, 5, del));

	check_read(_metadata, self->fd, self->mock, 5, IOVA, &self->g, r.b,
		   false);
	/* Other PASIDs are not the guest's: the RID is on a normal IOASID */
	check_fault(_metadata, self->fd, self->mock, 1, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED, IOASID_TEST_STAGE_NONE, 0);
	check_read(_metadata, self->fd, self->mock, 0, r.a, &self->g, r.a,
		   false);
	ASSERT_EQ(EBUSY, mock_attach_pasid(self->fd, self->mock, 5, del));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, del));

	/* A nested IOASID on a PASID translates with its one table */
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, r.t1));
	ASSERT_EQ(0, mock_attach_pasid(self->fd, self->mock, 6,
				       self->nested));
	check_read(_metadata, self->fd, self->mock, 6, IOVA, &self->g, r.a,
		   false);

	ASSERT_EQ(0, mock_detach_pasid(self->fd, self->mock, 5));
	check_fault(_metadata, self->fd, self->mock, 5, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED, IOASID_TEST_STAGE_NONE, 0);
	ASSERT_EQ(0, ioasid_destroy(self->fd, del));
}

TEST_F(nested, delegated_bad_input)
{
	struct ioasid_mock_pasid_table pt = {
		.table_gpa = guest_alloc(&self->g),
		.pasid_bits = PT_BITS,
	};
	struct ioasid_create_delegated cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = self->parent,
		.format = IOASID_FORMAT_MOCK_PASID_TABLE,
		.data_len = sizeof(pt),
		.data_uptr = (uintptr_t)&pt,
	};
	uint32_t id, normal;

	ASSERT_EQ(0, ioasid_create(self->fd, &normal));
	ASSERT_EQ(EINVAL, ioasid_create_mock_delegated(self->fd, normal,
						       pt.table_gpa, PT_BITS,
						       &id));
	ASSERT_EQ(EINVAL, ioasid_create_mock_delegated(self->fd, self->nested,
						       pt.table_gpa, PT_BITS,
						       &id));
	ASSERT_EQ(ENOENT, ioasid_create_mock_delegated(self->fd, NO_ID,
						       pt.table_gpa, PT_BITS,
						       &id));
	ASSERT_EQ(EINVAL, ioasid_create_mock_delegated(self->fd, self->parent,
						       pt.table_gpa, 0, &id));
	ASSERT_EQ(EINVAL, ioasid_create_mock_delegated(self->fd, self->parent,
						       pt.table_gpa,
						       IOASID_TEST_PASID_BITS +
						       1, &id));
	ASSERT_EQ(EINVAL, ioasid_create_mock_delegated(self->fd, self->parent,
						       pt.table_gpa + 64,
						       PT_BITS, &id));
	/* The table must lie in what the parent maps */
	ASSERT_EQ(ERANGE, ioasid_create_mock_delegated(self->fd, self->parent,
						       GPA_BASE + RAM_SIZE,
						       PT_BITS, &id));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent, pt.table_gpa,
				  PAGE_SZ, NULL));
	ASSERT_EQ(ERANGE, ioasid_create_mock_delegated(self->fd, self->parent,
						       pt.table_gpa, PT_BITS,
						       &id));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent,
				      guest_ptr(&self->g, pt.table_gpa),
				      PAGE_SZ, pt.table_gpa));
	ASSERT_EQ(EINVAL, ioasid_create_delegated(self->fd, self->parent,
						  IOASID_FORMAT_MOCK_S1, &pt,
						  sizeof(pt), &id));
	ASSERT_EQ(EOPNOTSUPP, ioasid_create_delegated(self->fd, self->parent,
						      61, &pt, sizeof(pt),
						      &id));
	ASSERT_EQ(EINVAL, ioasid_create_delegated(self->fd, self->parent,
						  IOASID_FORMAT_MOCK_PASID_TABLE,
						  &pt, 8, &id));
	ASSERT_EQ(EFAULT, ioasid_create_delegated(self->fd, self->parent,
						  IOASID_FORMAT_MOCK_PASID_TABLE,
						  NULL, sizeof(pt), &id));
	cmd.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_CREATE_DELEGATED,
					  &cmd));
	cmd.flags = 0;
	cmd.size = offsetof(struct ioasid_create_delegated, data_uptr);
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_CREATE_DELEGATED, &cmd));

	/* A delegated IOASID's routing is the guest's: no tables to set */
	ASSERT_EQ(0, ioasid_create_mock_delegated(self->fd, self->parent,
						  pt.table_gpa, PT_BITS, &id));
	ASSERT_EQ(EINVAL, ioasid_set_tables(self->fd, id,
					    IOASID_FORMAT_MOCK_PASID_TABLE,
					    &pt, sizeof(pt)));
	/* Only the one made: the ids say so */
	ASSERT_EQ(normal + 1, id);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->parent));
}

/* The same through a vfio device fd, as a VMM does it */
TEST_F(nested, vfio_device)
{
	uint32_t mock, index, del;
	struct routes r;
	int vfio;

	routes_init(&self->g, &r);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, r.t1));
	ASSERT_EQ(0, ioasid_create_mock_delegated(self->fd, self->parent,
						  r.pt, PT_BITS, &del));
	ASSERT_EQ(0, mock_create_vfio(self->fd, 0, &mock, &index));
	vfio = vfio_open_index(index);
	ASSERT_LE(0, vfio);
	ASSERT_EQ(0, vfio_bind_ioasid(vfio, self->fd, NULL));

	ASSERT_EQ(0, vfio_attach_ioasid(vfio, self->parent));
	check_read(_metadata, self->fd, mock, 0, r.b, &self->g, r.b, false);
	ASSERT_EQ(0, vfio_attach_ioasid(vfio, self->nested));
	check_read(_metadata, self->fd, mock, 0, IOVA, &self->g, r.a, false);
	ASSERT_EQ(0, vfio_attach_ioasid_pasid(vfio, 2, del));
	check_read(_metadata, self->fd, mock, 2, IOVA, &self->g, r.b, false);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, del));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->nested));

	/*
	 * The guest owns every PASID of a RID on a delegated IOASID: not
	 * while a PASID is attached on its own, nor the other way round
	 */
	ASSERT_EQ(EBUSY, vfio_attach_ioasid(vfio, del));
	check_read(_metadata, self->fd, mock, 0, IOVA, &self->g, r.a, true);
	ASSERT_EQ(0, vfio_detach_ioasid_pasid(vfio, 2));
	check_fault(_metadata, self->fd, mock, 2, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED, IOASID_TEST_STAGE_NONE, 0);

	/* Replace the RID's nested IOASID by the delegated one */
	ASSERT_EQ(0, vfio_attach_ioasid(vfio, del));
	check_read(_metadata, self->fd, mock, 1, IOVA, &self->g, r.a, false);
	check_read(_metadata, self->fd, mock, 2, IOVA, &self->g, r.b, false);
	ASSERT_EQ(EBUSY, vfio_attach_ioasid_pasid(vfio, 3, self->parent));
	ASSERT_EQ(ENOENT, vfio_detach_ioasid_pasid(vfio, 3));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->nested));

	/* Closing the device fd releases everything */
	close(vfio);
	ASSERT_EQ(0, ioasid_destroy(self->fd, del));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->parent));
}

/* Ioctls of normal IOASIDs refuse nested ones, and the other way round */
TEST_F(nested, wrong_kind_ids)
{
	uint64_t iova = GPA_BASE + RAM_SIZE, unmapped;
	struct ioasid_iova_range range;
	uint32_t num = 1, dev_id = self->mock + 1;
	struct ioasid_mock_invalidate inv = { .flags = IOASID_MOCK_INV_ALL };
	struct ioasid_mock_s1 s1 = { .root_gpa = self->root };
	uint32_t done;

	ASSERT_EQ(EINVAL, ioasid_map_fixed(self->fd, self->nested, self->g.ram,
					   PAGE_SZ, iova));
	ASSERT_EQ(EINVAL, ioasid_unmap(self->fd, self->nested, GPA_BASE,
				       PAGE_SZ, &unmapped));
	ASSERT_EQ(EINVAL, ioasid_copy(self->fd, self->nested, self->parent,
				      GPA_BASE, PAGE_SZ, &iova,
				      IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(EINVAL, ioasid_copy(self->fd, self->parent, self->nested,
				      GPA_BASE, PAGE_SZ, &iova,
				      IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(EINVAL, ioasid_iova_ranges(self->fd, self->nested, &range,
					     &num));
	/* A device id is no IOASID at all */
	ASSERT_EQ(ENOENT, ioasid_set_tables(self->fd, dev_id,
					    IOASID_FORMAT_MOCK_S1, &s1,
					    sizeof(s1)));
	ASSERT_EQ(ENOENT, ioasid_invalidate(self->fd, dev_id,
					    IOASID_FORMAT_MOCK_S1, &inv,
					    sizeof(inv), 1, &done));
	ASSERT_EQ(ENOENT, ioasid_map_fixed(self->fd, dev_id, self->g.ram,
					   PAGE_SZ, iova));
	ASSERT_EQ(ENOENT, ioasid_destroy(self->fd, dev_id));

	/* The parent's mappings are as they were */
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->parent, &unmapped));
	ASSERT_EQ(RAM_SIZE, unmapped);
}

/* A PASID attachment counts as a user of the tables too */
TEST_F(nested, pasid_attachments)
{
	uint64_t a = guest_data(&self->g, 22);

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	/* No tables yet: no attach, by RID or by PASID */
	ASSERT_EQ(EINVAL, mock_attach_pasid(self->fd, self->mock, 1,
					    self->nested));
	check_fault(_metadata, self->fd, self->mock, 1, IOVA, false,
		    IOASID_TEST_FAULT_BLOCKED, IOASID_TEST_STAGE_NONE, 0);

	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach_pasid(self->fd, self->mock, 1, self->nested));
	check_read(_metadata, self->fd, self->mock, 1, IOVA, &self->g, a,
		   false);
	ASSERT_EQ(EBUSY, ioasid_set_mock_s1(self->fd, self->nested,
					    self->root));
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->nested));
	ASSERT_EQ(0, mock_detach_pasid(self->fd, self->mock, 1));
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
}

/* The device's reserved region applies to the parent's GPAs */
TEST_F(nested, attach_checks_parent_reserved)
{
	uint64_t a = guest_data(&self->g, 23);
	struct ioasid_iova_range ranges[2];
	uint32_t normal, num = 2;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, ioasid_create(self->fd, &normal));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, normal, self->g.ram, PAGE_SZ,
				      IOVA));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, normal));

	/* Guest RAM over the device's MSI window: refused, nothing changed */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent, self->g.ram,
				      PAGE_SZ, IOASID_TEST_RESV_START_0));
	ASSERT_EQ(EADDRINUSE, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g,
		   GPA_BASE, false);
	ASSERT_EQ(0, ioasid_iova_ranges(self->fd, self->parent, ranges, &num));
	ASSERT_EQ(1, num);

	ASSERT_EQ(0, ioasid_unmap(self->fd, self->parent,
				  IOASID_TEST_RESV_START_0, PAGE_SZ, NULL));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	ASSERT_EQ(EADDRINUSE, ioasid_map_fixed(self->fd, self->parent,
					       self->g.ram, PAGE_SZ,
					       IOASID_TEST_RESV_START_0));
}

/* Moving between nested IOASIDs of two parents moves the reserved range */
TEST_F(nested, replace_across_parents)
{
	uint64_t a = guest_data(&self->g, 24);
	uint32_t parent2, nested2;

	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, ioasid_create_parent(self->fd, &parent2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, parent2, self->g.ram,
				      RAM_SIZE, GPA_BASE));
	ASSERT_EQ(0, ioasid_create_nested(self->fd, parent2,
					  IOASID_FORMAT_MOCK_S1, &nested2));
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, nested2, self->root));

	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	resv_kept(_metadata, self->fd, self->parent, &self->g);
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, nested2));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);
	resv_kept(_metadata, self->fd, parent2, &self->g);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->parent, self->g.ram,
				      PAGE_SZ, IOASID_TEST_RESV_START_0));
	/* The first parent holds RAM there now: the device cannot go back */
	ASSERT_EQ(EADDRINUSE, mock_attach(self->fd, self->mock, self->nested));
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   true);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, parent2));
}

/* A failure filling a new parent domain leaves everything as it was */
TEST_F(nested, attach_fails_cleanly)
{
	uint64_t a = guest_data(&self->g, 25);
	struct ioasid_iova_range ranges[4];
	uint32_t mock2, num = 4;

	ASSERT_EQ(0, mock_create(self->fd, 1, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, NULL));
	s1_map(&self->g, self->root, IOVA, a, S1_RW);
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));

	/* Instance 1 needs a parent domain of its own, filled with the RAM */
	ASSERT_EQ(0, mock_fail_map(self->fd, 0));
	ASSERT_EQ(ENOMEM, mock_attach(self->fd, mock2, self->nested));
	ASSERT_EQ(0, mock_fail_map(self->fd, -1));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(self->fd, mock2, IOVA, false));
	/* Only instance 0's reserved region is in the parent */
	ASSERT_EQ(0, ioasid_iova_ranges(self->fd, self->parent, ranges, &num));
	ASSERT_EQ(2, num);
	check_read(_metadata, self->fd, self->mock, 0, IOVA, &self->g, a,
		   false);

	ASSERT_EQ(0, mock_attach(self->fd, mock2, self->nested));
	check_read(_metadata, self->fd, mock2, 0, IOVA, &self->g, a, false);
	num = 4;
	ASSERT_EQ(0, ioasid_iova_ranges(self->fd, self->parent, ranges, &num));
	ASSERT_EQ(3, num);
}

/* What the hardware behind each device is, for the VMM's vIOMMU */
TEST_F(nested, hw_info)
{
	struct ioasid_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = self->mock + 1,
	};
	uint32_t buf[4], len, type, mock2, dev2;
	uint64_t formats;
	int fd2;

	memset(buf, 0xff, sizeof(buf));
	len = sizeof(buf);
	ASSERT_EQ(0, ioasid_get_hw_info(self->fd, self->mock + 1, buf, &len,
					&type, &formats));
	ASSERT_EQ(IOASID_TEST_HW_INFO_TYPE, type);
	ASSERT_EQ(sizeof(uint32_t), len);
	ASSERT_EQ(IOASID_TEST_PASID_BITS, buf[0]);
	/* The room past the data is zeroed */
	ASSERT_EQ(0, buf[1] | buf[2] | buf[3]);
	ASSERT_EQ(MOCK_FORMATS, formats);

	/* A short buffer gets what fits, and the size it needs */
	memset(buf, 0xff, sizeof(buf));
	len = 2;
	ASSERT_EQ(0, ioasid_get_hw_info(self->fd, self->mock + 1, buf, &len,
					&type, &formats));
	ASSERT_EQ(sizeof(uint32_t), len);
	ASSERT_EQ(0xffff0000U | IOASID_TEST_PASID_BITS, buf[0]);

	/* Instance 2, in another context: nothing to report, no nesting */
	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, mock_create(fd2, 2, &mock2));
	ASSERT_EQ(0, mock_bind(fd2, mock2, &dev2));
	memset(buf, 0xff, sizeof(buf));
	len = sizeof(buf);
	ASSERT_EQ(0, ioasid_get_hw_info(fd2, dev2, buf, &len, &type,
					&formats));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_NONE, type);
	ASSERT_EQ(0, len);
	ASSERT_EQ(0, buf[0] | buf[1] | buf[2] | buf[3]);
	ASSERT_EQ(0, formats);
	close(fd2);

	/* Bad input */
	len = sizeof(buf);
	ASSERT_EQ(ENOENT, ioasid_get_hw_info(self->fd, NO_ID, buf, &len, &type,
					     &formats));
	ASSERT_EQ(ENOENT, ioasid_get_hw_info(self->fd, self->mock, buf, &len,
					     &type, &formats));
	ASSERT_EQ(EINVAL, ioasid_get_hw_info(self->fd, self->parent, buf, &len,
					     &type, &formats));
	ASSERT_EQ(EINVAL, ioasid_get_hw_info(self->fd, self->nested, buf, &len,
					     &type, &formats));
	ASSERT_EQ(EFAULT, ioasid_get_hw_info(self->fd, self->mock + 1, NULL,
					     &len, &type, &formats));
	cmd.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_GET_HW_INFO, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_GET_HW_INFO, &cmd));
	cmd.__reserved = 0;
	cmd.size = offsetof(struct ioasid_hw_info, out_formats);
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_GET_HW_INFO, &cmd));
}

/*
 * With a nested domain per IOMMU instance, a request failing in one of
 * them makes the count: later domains get only the requests before it.
 */
TEST_F(nested, invalidate_across_domains)
{
	uint64_t a = guest_data(&self->g, 26), b = guest_data(&self->g, 27);
	uint64_t c = guest_data(&self->g, 28);
	uint64_t iova[3] = { IOVA, IOVA + PAGE_SZ, IOVA2 };
	struct ioasid_mock_invalidate reqs[3];
	uint32_t mock2, done;
	unsigned int i;

	ASSERT_EQ(0, mock_create(self->fd, 1, &mock2));
	ASSERT_EQ(0, mock_bind(self->fd, mock2, NULL));
	for (i = 0; i < 3; i++) {
		s1_map(&self->g, self->root, iova[i], a, S1_RW);
		reqs[i] = inv_range(iova[i], PAGE_SZ);
	}
	ASSERT_EQ(0, ioasid_set_mock_s1(self->fd, self->nested, self->root));
	/* The instance-0 domain first, then the instance-1 one */
	ASSERT_EQ(0, mock_attach(self->fd, self->mock, self->nested));
	ASSERT_EQ(0, mock_attach(self->fd, mock2, self->nested));
	for (i = 0; i < 3; i++) {
		check_read(_metadata, self->fd, self->mock, 0, iova[i],
			   &self->g, a, false);
		check_read(_metadata, self->fd, mock2, 0, iova[i], &self->g,
			   a, false);
		s1_map(&self->g, self->root, iova[i], b, S1_RW);
	}

	/* The second domain fails its second request: one done */
	ASSERT_EQ(0, mock_fail_invalidate(self->fd, 4));
	ASSERT_EQ(EIO, ioasid_invalidate(self->fd, self->nested,
					 IOASID_FORMAT_MOCK_S1, reqs,
					 sizeof(reqs[0]), 3, &done));
	ASSERT_EQ(0, mock_fail_invalidate(self->fd, -1));
	ASSERT_EQ(1, done);
	for (i = 0; i < 3; i++)
		check_read(_metadata, self->fd, self->mock, 0, iova[i],
			   &self->g, b, false);
	check_read(_metadata, self->fd, mock2, 0, iova[0], &self->g, b,
		   false);
	check_read(_metadata, self->fd, mock2, 0, iova[1], &self->g, a, true);
	check_read(_metadata, self->fd, mock2, 0, iova[2], &self->g, a, true);

	/* The first fails its second: the second domain gets only one */
	for (i = 0; i < 3; i++)
		s1_map(&self->g, self->root, iova[i], c, S1_RW);
	ASSERT_EQ(0, mock_fail_invalidate(self->fd, 1));
	ASSERT_EQ(EIO, ioasid_invalidate(self->fd, self->nested,
					 IOASID_FORMAT_MOCK_S1, reqs,
					 sizeof(reqs[0]), 3, &done));
	ASSERT_EQ(0, mock_fail_invalidate(self->fd, -1));
	ASSERT_EQ(1, done);
	check_read(_metadata, self->fd, self->mock, 0, iova[0], &self->g, c,
		   false);
	check_read(_metadata, self->fd, self->mock, 0, iova[1], &self->g, b,
		   true);
	check_read(_metadata, self->fd, mock2, 0, iova[0], &self->g, c,
		   false);
	check_read(_metadata, self->fd, mock2, 0, iova[1], &self->g, a, true);

	/* Passed again, the rest is done everywhere */
	ASSERT_EQ(0, ioasid_invalidate(self->fd, self->nested,
				       IOASID_FORMAT_MOCK_S1, &reqs[1],
				       sizeof(reqs[0]), 2, &done));
	ASSERT_EQ(2, done);
	for (i = 1; i < 3; i++) {
		check_read(_metadata, self->fd, self->mock, 0, iova[i],
			   &self->g, c, false);
		check_read(_metadata, self->fd, mock2, 0, iova[i], &self->g,
			   c, false);
	}
}

TEST_HARNESS_MAIN
