// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid selftests of normal IOASIDs in full: UNMAP that cuts
 * mappings (through large IOMMU pages too), IOVA alignment and reserved
 * regions, COPY, MAP of a memfd, memory pinned once however often it is
 * mapped, the accounting modes, IOASIDs with a domain per mock IOMMU
 * instance, the IOTLB syncs MAP and UNMAP cost, and map failures injected
 * into the mock IOMMU.
 *
 * Everything is judged by what devices see (the mock IOMMU walks its page
 * tables for every DMA) and by what the kernel charges (VmLck and VmPin of
 * /proc/self/status), never by what /dev/ioasid says about itself.
 */
#include "../kselftest_harness.h"
#include "ioasid_utils.h"

#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/wait.h>

#define SZ_1M		(SZ_2M / 2)
#define SZ_1G		(512 * SZ_2M)
#define BUF_SIZE	(4 * SZ_2M)
#define NPAGES(len)	((long)((len) / PAGE_SZ))

/* The mock IOMMU translates 48 bits of IOVA */
#define APERTURE_LAST	((1ULL << 48) - 1)
#define RESV0		IOASID_TEST_RESV_START_0
#define RESV1		IOASID_TEST_RESV_START_1
/* IOVAs that no test of the dev fixture maps: clear of reserved ranges */
#define CLEAR		0x100000000ULL
#define RESV_SIZE	IOASID_TEST_RESV_SIZE

/* What devices read lands here; one DMA moves at most this much */
static unsigned char dma_buf[IOASID_TEST_DMA_MAX];
static const unsigned char zero_page[PAGE_SZ];

/* Usable IOVA ranges in the situations the tests create */
static const struct ioasid_iova_range ranges_unbound[] = {
	{ .start = 0, .last = UINT64_MAX },
};

static const struct ioasid_iova_range ranges_bound[] = {
	{ .start = 0, .last = APERTURE_LAST },
};

static const struct ioasid_iova_range ranges_inst0[] = {
	{ .start = 0, .last = RESV0 - 1 },
	{ .start = RESV0 + RESV_SIZE, .last = APERTURE_LAST },
};

static const struct ioasid_iova_range ranges_inst1[] = {
	{ .start = 0, .last = RESV1 - 1 },
	{ .start = RESV1 + RESV_SIZE, .last = APERTURE_LAST },
};

static const struct ioasid_iova_range ranges_inst01[] = {
	{ .start = 0, .last = RESV1 - 1 },
	{ .start = RESV1 + RESV_SIZE, .last = RESV0 - 1 },
	{ .start = RESV0 + RESV_SIZE, .last = APERTURE_LAST },
};

/* A mock device behind IOMMU @instance, bound to the context */
static int mock_new(int fd, uint32_t instance, uint32_t *mock_id)
{
	int rc = mock_create(fd, instance, mock_id);

	return rc ? rc : mock_bind(fd, *mock_id, NULL);
}

/* The same, and attached to @ioasid */
static int mock_new_attached(int fd, uint32_t instance, uint32_t ioasid,
			     uint32_t *mock_id)
{
	int rc = mock_new(fd, instance, mock_id);

	return rc ? rc : mock_attach(fd, *mock_id, ioasid);
}

/* COPY to an IOVA of the kernel's choice aligned to @align */
static int ioasid_copy_aligned(int fd, uint32_t dst, uint32_t src,
			       uint64_t src_iova, uint64_t length,
			       uint64_t align, uint64_t *dst_iova)
{
	struct ioasid_copy cmd = {
		.size = sizeof(cmd),
		.flags = MAP_RW,
		.dst_ioasid = dst,
		.src_ioasid = src,
		.src_iova = src_iova,
		.length = length,
		.iova_alignment = align,
	};
	int rc = ioasid_call(fd, IOASID_COPY, &cmd);

	if (!rc)
		*dst_iova = cmd.dst_iova;
	return rc;
}

/* Every device of @mocks reads @expect at @iova, without a fault */
static void check_data(struct __test_metadata *_metadata, int fd,
		       const uint32_t *mocks, unsigned int nmocks,
		       uint64_t iova, const void *expect, size_t len)
{
	struct dma_result res;
	size_t done, chunk;
	unsigned int i;

	for (i = 0; i != nmocks; i++) {
		for (done = 0; done < len; done += chunk) {
			chunk = len - done;
			if (chunk > sizeof(dma_buf))
				chunk = sizeof(dma_buf);
			ASSERT_EQ(0, mock_dma(fd, mocks[i], iova + done,
					      dma_buf, chunk, false, &res));
			ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
				TH_LOG("mock %u faults at %#llx", mocks[i],
				       (unsigned long long)res.fault_iova);
			ASSERT_EQ(chunk, res.done);
			ASSERT_EQ(0, memcmp(dma_buf,
					    (const char *)expect + done, chunk))
				TH_LOG("mock %u reads wrong data in %#llx+%#zx",
				       mocks[i],
				       (unsigned long long)(iova + done),
				       chunk);
		}
	}
}

/* Every device of @mocks faults for @reason reading at @iova */
static void check_fault(struct __test_metadata *_metadata, int fd,
			const uint32_t *mocks, unsigned int nmocks,
			uint64_t iova, uint32_t reason)
{
	unsigned int i;

	for (i = 0; i != nmocks; i++) {
		ASSERT_EQ(reason, mock_probe(fd, mocks[i], iova, false))
			TH_LOG("mock %u at %#llx", mocks[i],
			       (unsigned long long)iova);
	}
}

/*
 * No device of @mocks translates [@iova, @iova + @len): every page of a
 * short range is probed, of a long one the first, the last and every 32nd.
 */
static void check_unmapped(struct __test_metadata *_metadata, int fd,
			   const uint32_t *mocks, unsigned int nmocks,
			   uint64_t iova, uint64_t len)
{
	uint64_t npages = len / PAGE_SZ, step = npages <= 64 ? 1 : 32, p;

	for (p = 0; p < npages; p += step)
		check_fault(_metadata, fd, mocks, nmocks, iova + p * PAGE_SZ,
			    IOASID_TEST_FAULT_NOT_PRESENT);
	check_fault(_metadata, fd, mocks, nmocks, iova + len - PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);
}

/*
 * Which of the @npages pages at @iova device @mock translates, into
 * @mapped; the data of every page it reads must be that of @expect.
 */
static void scan_pages(struct __test_metadata *_metadata, int fd,
		       uint32_t mock, uint64_t iova,
		       const unsigned char *expect, unsigned int npages,
		       bool *mapped)
{
	unsigned int p = 0, n, i;
	struct dma_result res;

	while (p < npages) {
		n = npages - p;
		if (n > NPAGES(sizeof(dma_buf)))
			n = NPAGES(sizeof(dma_buf));
		ASSERT_EQ(0, mock_dma(fd, mock, iova + p * PAGE_SZ, dma_buf,
				      n * PAGE_SZ, false, &res));
		ASSERT_EQ(0, res.done % PAGE_SZ);
		ASSERT_EQ(0, memcmp(dma_buf, expect + p * PAGE_SZ, res.done))
			TH_LOG("mock %u reads wrong data in %#llx+%#llx", mock,
			       (unsigned long long)(iova + p * PAGE_SZ),
			       (unsigned long long)res.done);
		for (i = 0; i != res.done / PAGE_SZ; i++)
			mapped[p++] = true;
		if (res.fault == IOASID_TEST_FAULT_NONE)
			continue;
		ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT, res.fault);
		ASSERT_EQ(iova + p * PAGE_SZ, res.fault_iova);
		mapped[p++] = false;
	}
}

/* Size of the IOMMU page translating @iova for @mock, 0 if none does */
static uint64_t dma_pgsize(int fd, uint32_t mock, uint64_t iova)
{
	struct dma_result res;
	unsigned char byte;

	if (mock_dma(fd, mock, iova, &byte, 1, false, &res))
		return ~0ULL;
	return res.pgsize;
}

/* Device @mock writes all of @data at @iova */
static void dma_write(struct __test_metadata *_metadata, int fd,
		      uint32_t mock, uint64_t iova, void *data, size_t len)
{
	struct dma_result res;

	ASSERT_EQ(0, mock_dma(fd, mock, iova, data, len, true, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(len, res.done);
}

/* IOTLB syncs of the mock paging domains since the previous call */
static int mock_iotlb_syncs(int fd, uint64_t *syncs, uint64_t *map_syncs)
{
	struct ioasid_test_cmd cmd = {};
	int rc = ioasid_test(fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd);

	if (!rc) {
		*syncs = cmd.iotlb_syncs.out_count;
		*map_syncs = cmd.iotlb_syncs.out_map_count;
	}
	return rc;
}

/* Frames read back from the mock's paging domains since the previous look */
static uint64_t mock_reads(struct __test_metadata *_metadata, int fd)
{
	struct ioasid_test_cmd cmd = {};

	EXPECT_EQ(0, ioasid_test(fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	return cmd.iotlb_syncs.out_reads;
}

/*
 * Since the previous look, the mock IOMMU synced its IOTLBs @syncs times
 * after unmaps (iotlb_sync) and @map_syncs times after maps
 * (iotlb_sync_map)
 */
static void check_syncs(struct __test_metadata *_metadata, int fd,
			uint64_t syncs, uint64_t map_syncs)
{
	uint64_t got, got_map;

	ASSERT_EQ(0, mock_iotlb_syncs(fd, &got, &got_map));
	ASSERT_EQ(syncs, got);
	ASSERT_EQ(map_syncs, got_map);
}

/*
 * As check_syncs(), with no frame read back, and the last flush of
 * something unmapped beginning at @last_flush
 */
static void check_flushes(struct __test_metadata *_metadata, int fd,
			  uint64_t syncs, uint64_t map_syncs,
			  uint64_t last_flush)
{
	struct ioasid_test_cmd cmd = {};

	ASSERT_EQ(0, ioasid_test(fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	ASSERT_EQ(syncs, cmd.iotlb_syncs.out_count);
	ASSERT_EQ(map_syncs, cmd.iotlb_syncs.out_map_count);
	ASSERT_EQ(0, cmd.iotlb_syncs.out_reads);
	ASSERT_EQ(last_flush, cmd.iotlb_syncs.out_last_flush);
}

/* IOASID_IOVA_RANGES of @ioasid reports exactly @want, @n of them */
static void check_ranges(struct __test_metadata *_metadata, int fd,
			 uint32_t ioasid,
			 const struct ioasid_iova_range *want, uint32_t n)
{
	struct ioasid_iova_range got[8];
	uint32_t num = ARRAY_SIZE(got), i;

	memset(got, 0xa5, sizeof(got));
	ASSERT_EQ(0, ioasid_iova_ranges(fd, ioasid, got, &num));
	ASSERT_EQ(n, num);
	for (i = 0; i != n; i++) {
		ASSERT_EQ(want[i].start, got[i].start)
			TH_LOG("range %u", i);
		ASSERT_EQ(want[i].last, got[i].last)
			TH_LOG("range %u", i);
	}
	/* Nothing written past them */
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, got[n].start);
}

/* @len bytes of anonymous memory at a 2 MiB aligned address, or NULL */
static void *alloc_aligned(size_t len)
{
	size_t raw_len = len + SZ_2M;
	uintptr_t raw, start;
	void *p;

	p = mmap(NULL, raw_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	raw = (uintptr_t)p;
	start = (raw + SZ_2M - 1) & ~(SZ_2M - 1);
	if (start != raw)
		munmap(p, start - raw);
	munmap((void *)(start + len), raw + raw_len - start - len);
	/* Small pages unless the caller asks for THP: see alloc_buf() */
	madvise((void *)start, len, MADV_NOHUGEPAGE);
	return (void *)start;
}

/*
 * Physically contiguous runs of the pages of the @len bytes at @buf, all
 * present, from /proc/self/pagemap; -1 if it hides the frame numbers, as
 * it does without CAP_SYS_ADMIN.
 */
static long phys_runs(const void *buf, size_t len)
{
	const size_t n = len / PAGE_SZ;
	uint64_t *ents, pfn, prev = 0;
	long runs = 0;
	size_t i;
	int fd;

	ents = calloc(n, sizeof(*ents));
	if (!ents)
		return -1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, ents, n * sizeof(*ents),
			    (uintptr_t)buf / PAGE_SZ * sizeof(*ents)) !=
		      (ssize_t)(n * sizeof(*ents)))
		runs = -1;
	for (i = 0; i != n && runs >= 0; i++) {
		/* Bits 0-54: the frame number, 0 if hidden */
		pfn = ents[i] & ((1ULL << 55) - 1);
		if (!pfn)
			runs = -1;
		else if (!i || pfn != prev + 1)
			runs++;
		prev = pfn;
	}
	if (fd >= 0)
		close(fd);
	free(ents);
	return runs;
}

/*
 * Nearly every page of the @len bytes at @buf is a physical run of its
 * own, so that a MAP of them takes a map call per page; if pagemap hides
 * frame numbers, that cannot be told.
 */
static void check_scattered(struct __test_metadata *_metadata,
			    const void *buf, size_t len)
{
	long runs = phys_runs(buf, len);

	if (runs < 0) {
		TH_LOG("pagemap hides frame numbers: contiguity unknown");
		return;
	}
	ASSERT_LE(NPAGES(len) * 3 / 4, runs)
		TH_LOG("%ld pages in only %ld physical runs", NPAGES(len),
		       runs);
}

/* What the memory of a test is made of */
enum backing {
	BACKING_SMALL,		/* 4 KiB pages, THP off */
	BACKING_SCATTERED,	/* The same, faulted in scattered */
	BACKING_THP,		/* Transparent 2 MiB pages */
	BACKING_HUGETLB,	/* 2 MiB hugetlb pages */
};

/*
 * @len bytes, a multiple of 2 MiB, at a 2 MiB aligned address, backed as
 * asked and filled with a pattern; NULL if that backing is not to be had.
 * The pattern repeats every 256 pages (1 MiB), so each page starts with
 * its offset too: a page translated to one a multiple of 1 MiB away, as
 * from the wrong 2 MiB chunk, reads other data.
 */
static unsigned char *alloc_backed(enum backing backing, size_t len)
{
	unsigned char *buf;
	uint64_t off;

	if (backing == BACKING_HUGETLB) {
		buf = alloc_hugetlb(len);
		if (!buf)
			return NULL;
	} else {
		buf = alloc_aligned(len);
		if (!buf)
			return NULL;
		if (backing != BACKING_THP) {
			/* Fails harmlessly without THP in the kernel */
			madvise(buf, len, MADV_NOHUGEPAGE);
		} else if (madvise(buf, len, MADV_HUGEPAGE)) {
			munmap(buf, len);
			return NULL;
		}
	}
	if (backing == BACKING_SCATTERED)
		fault_scattered(buf, len);
	fill_pattern(buf, len, 1);
	for (off = 0; off < len; off += PAGE_SZ)
		memcpy(buf + off, &off, sizeof(off));
	if (backing == BACKING_THP && thp_bytes(buf) < (long)len) {
		munmap(buf, len);
		return NULL;
	}
	return buf;
}

/* As alloc_backed(), in 2 MiB pages: hugetlb, or else THP; or NULL */
static unsigned char *alloc_large(size_t len)
{
	unsigned char *buf = alloc_backed(BACKING_HUGETLB, len);

	return buf ?: alloc_backed(BACKING_THP, len);
}

/*
 * UNMAP that cuts mappings. Four 2 MiB chunks of one buffer are mapped at
 * 2 MiB aligned IOVAs with 2 MiB holes between them, so that with THP or
 * hugetlb memory each chunk could be one large IOMMU page; the IOASID is
 * created with a max_pgsize of 4 KiB then, so that it can be cut anywhere.
 * A model of which pages are mapped predicts out_length, VmLck and what
 * every device sees.
 */
#define SPLIT_BASE	(64 * SZ_1M)
#define SPLIT_CHUNKS	4
#define SPLIT_SIZE	(SPLIT_CHUNKS * SZ_2M)
#define SPLIT_PAGES	NPAGES(SPLIT_SIZE)
#define CHUNK_PAGES	NPAGES(SZ_2M)

static uint64_t chunk_iova(unsigned int c)
{
	return SPLIT_BASE + c * 2 * SZ_2M;
}

/* IOVA of page @p of the buffer */
static uint64_t split_iova(unsigned int p)
{
	return chunk_iova(p / CHUNK_PAGES) + (p % CHUNK_PAGES) * PAGE_SZ;
}

/* What the split tests and their helpers share */
struct split_ctx {
	int fd;
	uint32_t ioasid;
	uint32_t mocks[2];
	unsigned int nmocks;
	unsigned char *buf;
	long base;
	bool mapped[SPLIT_PAGES];
	/* Times cuts_check_all() ran */
	unsigned int full_checks;
};

FIXTURE(split) {
	struct split_ctx s;
};

FIXTURE_VARIANT(split) {
	enum backing backing;
	/* The IOASID's max_pgsize */
	uint64_t max_pgsize;
	/* A device of instance 1 too, so the IOASID has two domains */
	bool two_iommus;
	/* Attach after mapping: the domains are filled from the mappings */
	bool attach_late;
};

/*
 * Both IOMMU instances, attached after the mappings (domains filled from
 * them), for small pages and for hugetlb pages an IOASID max_pgsize of
 * 4 KiB cuts up; THP goes the same way. The other combinations cost time
 * (under KASAN and TCG, 17 s a variant) without covering more.
 */
FIXTURE_VARIANT_ADD(split, small_two_late) {
	.backing = BACKING_SMALL,
	.two_iommus = true,
	.attach_late = true,
};

FIXTURE_VARIANT_ADD(split, hugetlb_two_late) {
	.backing = BACKING_HUGETLB,
	.max_pgsize = PAGE_SZ,
	.two_iommus = true,
	.attach_late = true,
};

/* Map every chunk whole */
static void split_map_all(struct __test_metadata *_metadata,
			  struct split_ctx *s)
{
	unsigned int c, p;

	for (c = 0; c != SPLIT_CHUNKS; c++) {
		ASSERT_EQ(0, ioasid_map_fixed(s->fd, s->ioasid,
					      s->buf + c * SZ_2M, SZ_2M,
					      chunk_iova(c)));
	}
	for (p = 0; p != SPLIT_PAGES; p++)
		s->mapped[p] = true;
}

/*
 * Every device translates the pages the model has mapped to the right
 * memory and faults on the others, on the holes and before the first chunk;
 * VmLck holds exactly the mapped pages.
 */
static void split_check(struct __test_metadata *_metadata,
			struct split_ctx *s)
{
	unsigned int p, q, c;
	long mapped = 0;

	for (p = 0; p < SPLIT_PAGES; p = q) {
		/* A run of pages in the same state, inside one chunk */
		q = p + 1;
		while (q < SPLIT_PAGES && q % CHUNK_PAGES &&
		       s->mapped[q] == s->mapped[p])
			q++;
		if (s->mapped[p]) {
			check_data(_metadata, s->fd, s->mocks,
				   s->nmocks, split_iova(p),
				   s->buf + p * PAGE_SZ, (q - p) * PAGE_SZ);
			mapped += q - p;
		} else {
			check_unmapped(_metadata, s->fd, s->mocks,
				       s->nmocks, split_iova(p),
				       (q - p) * PAGE_SZ);
		}
	}
	for (c = 0; c != SPLIT_CHUNKS; c++)
		check_unmapped(_metadata, s->fd, s->mocks, s->nmocks,
			       chunk_iova(c) + SZ_2M, SZ_2M);
	check_unmapped(_metadata, s->fd, s->mocks, s->nmocks,
		       SPLIT_BASE - PAGE_SZ, PAGE_SZ);
	ASSERT_EQ(s->base + mapped, locked_pages());
}

/* UNMAP [iova, iova + len) and check the outcome against the model */
static void split_unmap(struct __test_metadata *_metadata,
			struct split_ctx *s, uint64_t iova,
			uint64_t len)
{
	uint64_t expect = 0, unmapped;
	unsigned int p;

	for (p = 0; p != SPLIT_PAGES; p++) {
		if (split_iova(p) < iova || split_iova(p) - iova >= len ||
		    !s->mapped[p])
			continue;
		s->mapped[p] = false;
		expect += PAGE_SZ;
	}
	if (expect) {
		ASSERT_EQ(0, ioasid_unmap(s->fd, s->ioasid, iova, len,
					  &unmapped));
		ASSERT_EQ(expect, unmapped);
	} else {
		ASSERT_EQ(ENOENT, ioasid_unmap(s->fd, s->ioasid, iova,
					       len, &unmapped));
	}
	split_check(_metadata, s);
}

FIXTURE_SETUP(split)
{
	struct split_ctx *s = &self->s;
	unsigned int i;

	s->fd = ioasid_open();
	ASSERT_LE(0, s->fd);
	ASSERT_EQ(0, ioasid_create_max_pgsize(s->fd, variant->max_pgsize,
					      &s->ioasid));
	s->nmocks = variant->two_iommus ? 2 : 1;
	for (i = 0; i != s->nmocks; i++) {
		ASSERT_EQ(0, mock_new(s->fd, i, &s->mocks[i]));
		if (!variant->attach_late) {
			ASSERT_EQ(0, mock_attach(s->fd, s->mocks[i],
						 s->ioasid));
		}
	}

	s->buf = alloc_backed(variant->backing, SPLIT_SIZE);
	if (!s->buf && variant->backing != BACKING_SMALL)
		SKIP(return, "no %s memory to test with",
		     variant->backing == BACKING_THP ? "THP" : "hugetlb");
	ASSERT_NE(NULL, s->buf);
	s->base = locked_pages();
	ASSERT_LE(0, s->base);

	split_map_all(_metadata, s);
	if (variant->attach_late) {
		for (i = 0; i != s->nmocks; i++) {
			ASSERT_EQ(0, mock_attach(s->fd, s->mocks[i],
						 s->ioasid));
		}
	}
	split_check(_metadata, s);
}

FIXTURE_TEARDOWN(split)
{
	struct split_ctx *s = &self->s;

	mock_fail_map(s->fd, -1);
	close(s->fd);
	munmap(s->buf, SPLIT_SIZE);
}

TEST_F(split, unmap_head)
{
	struct split_ctx *s = &self->s;

	split_unmap(_metadata, s, chunk_iova(0), PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(1), 16 * PAGE_SZ);
	/* At the new start of a mapping cut before */
	split_unmap(_metadata, s, chunk_iova(0) + PAGE_SZ, PAGE_SZ);
	/* From the hole before a mapping into it */
	split_unmap(_metadata, s, chunk_iova(2) - SZ_1M, SZ_1M + PAGE_SZ);
}

TEST_F(split, unmap_middle)
{
	struct split_ctx *s = &self->s;

	split_unmap(_metadata, s, chunk_iova(1) + SZ_1M, PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(2) + 5 * PAGE_SZ,
		    3 * PAGE_SZ);
	/* Next to an earlier cut, then across it */
	split_unmap(_metadata, s, chunk_iova(1) + SZ_1M + PAGE_SZ,
		    PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(1) + SZ_1M - 2 * PAGE_SZ,
		    8 * PAGE_SZ);
	/* A larger piece that leaves one page on either side */
	split_unmap(_metadata, s, chunk_iova(3) + PAGE_SZ,
		    SZ_2M - 2 * PAGE_SZ);
}

TEST_F(split, unmap_tail)
{
	struct split_ctx *s = &self->s;

	split_unmap(_metadata, s, chunk_iova(3) + SZ_2M - PAGE_SZ, PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(0) + SZ_2M - 16 * PAGE_SZ,
		    16 * PAGE_SZ);
	/* From inside a mapping on into the hole after it */
	split_unmap(_metadata, s, chunk_iova(2) + SZ_2M - 4 * PAGE_SZ,
		    SZ_1M);
}

TEST_F(split, unmap_across_mappings)
{
	struct split_ctx *s = &self->s;

	/* Half of the first, the holes and two whole ones, half the last */
	split_unmap(_metadata, s, chunk_iova(0) + SZ_1M,
		    chunk_iova(3) - chunk_iova(0));
	ASSERT_EQ(s->base + NPAGES(SZ_2M), locked_pages());
	/* Then the two halves left, with the holes between */
	split_unmap(_metadata, s, chunk_iova(0),
		    chunk_iova(3) + SZ_2M - chunk_iova(0));
	ASSERT_EQ(s->base, locked_pages());
}

TEST_F(split, unmap_nothing_mapped)
{
	struct split_ctx *s = &self->s;

	/* Between, before and after the mappings */
	split_unmap(_metadata, s, chunk_iova(0) + SZ_2M, SZ_2M);
	split_unmap(_metadata, s, 0, SPLIT_BASE);
	split_unmap(_metadata, s, chunk_iova(3) + SZ_2M, SZ_1G);
	/* A hole cut before, whole and in part */
	split_unmap(_metadata, s, chunk_iova(1) + 8 * PAGE_SZ,
		    4 * PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(1) + 8 * PAGE_SZ,
		    4 * PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(1) + 9 * PAGE_SZ, PAGE_SZ);
}

TEST_F(split, unmap_all_after_split)
{
	struct split_ctx *s = &self->s;
	uint64_t unmapped;
	unsigned int c, p;

	for (c = 0; c != SPLIT_CHUNKS; c++)
		split_unmap(_metadata, s, chunk_iova(c) + SZ_1M, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(s->fd, s->ioasid, &unmapped));
	ASSERT_EQ(SPLIT_SIZE - SPLIT_CHUNKS * PAGE_SZ, unmapped);
	for (p = 0; p != SPLIT_PAGES; p++)
		s->mapped[p] = false;
	split_check(_metadata, s);
	ASSERT_EQ(s->base, locked_pages());
	ASSERT_IOASID_EMPTY(s->fd, s->ioasid);
}

TEST_F(split, remap_split_hole)
{
	struct split_ctx *s = &self->s;
	const unsigned int first = CHUNK_PAGES + 100;
	const uint64_t hole = split_iova(first);
	unsigned int p;

	split_unmap(_metadata, s, hole, 3 * PAGE_SZ);
	/* The hole is free: the same memory goes back into it */
	ASSERT_EQ(0, ioasid_map_fixed(s->fd, s->ioasid,
				      s->buf + first * PAGE_SZ,
				      3 * PAGE_SZ, hole));
	for (p = first; p != first + 3; p++)
		s->mapped[p] = true;
	split_check(_metadata, s);
	/* Not a page more on either side */
	ASSERT_EQ(EEXIST, ioasid_map_fixed(s->fd, s->ioasid,
					   s->buf, 4 * PAGE_SZ,
					   hole - PAGE_SZ));
	ASSERT_EQ(EEXIST, ioasid_map_fixed(s->fd, s->ioasid,
					   s->buf, PAGE_SZ,
					   hole + 3 * PAGE_SZ));
	split_check(_metadata, s);
	/* Three mappings now, gone in one UNMAP */
	split_unmap(_metadata, s, chunk_iova(1), SZ_2M);
}

TEST_F(split, unmap_split_pieces)
{
	struct split_ctx *s = &self->s;
	const uint64_t cut = chunk_iova(2) + SZ_1M;

	split_unmap(_metadata, s, cut, 2 * PAGE_SZ);
	/* Each side is a mapping of its own now, unmapped exactly */
	split_unmap(_metadata, s, chunk_iova(2), SZ_1M);
	split_unmap(_metadata, s, cut + 2 * PAGE_SZ,
		    SZ_1M - 2 * PAGE_SZ);
	split_unmap(_metadata, s, chunk_iova(2), SZ_2M);
}

/*
 * With a max_pgsize of 4 KiB, THP and hugetlb memory is mapped with 4 KiB
 * IOMMU pages only, which is what lets the tests here cut anywhere.
 */
TEST_F(split, max_pgsize_honoured)
{
	struct split_ctx *s = &self->s;
	unsigned int c, i;
	uint64_t off;

	for (c = 0; c != SPLIT_CHUNKS; c++)
		for (i = 0; i != s->nmocks; i++)
			for (off = 0; off < SZ_2M; off += 64 * PAGE_SZ)
				ASSERT_EQ(PAGE_SZ,
					  dma_pgsize(s->fd, s->mocks[i],
						     chunk_iova(c) + off));
}

/*
 * Large IOMMU pages, and UNMAP's refusal to cut through them. Four 2 MiB
 * hugetlb (or THP) pages mapped as one mapping at a 2 MiB aligned IOVA, in
 * an IOASID without max_pgsize, through one or two IOMMU instances: every
 * device sees 2 MiB pages.
 */
#define LARGE_IOVA	(128 * SZ_1M)
#define LARGE_SIZE	(4 * SZ_2M)

FIXTURE(large) {
	struct split_ctx s;
};

FIXTURE_VARIANT(large) {
	enum backing backing;
	bool two_iommus;
};

FIXTURE_VARIANT_ADD(large, thp) {
	.backing = BACKING_THP,
};

FIXTURE_VARIANT_ADD(large, hugetlb_two) {
	.backing = BACKING_HUGETLB,
	.two_iommus = true,
};

FIXTURE_SETUP(large)
{
	struct split_ctx *s = &self->s;
	unsigned int i;

	s->fd = ioasid_open();
	ASSERT_LE(0, s->fd);
	ASSERT_EQ(0, ioasid_create(s->fd, &s->ioasid));
	s->nmocks = variant->two_iommus ? 2 : 1;
	for (i = 0; i != s->nmocks; i++)
		ASSERT_EQ(0, mock_new_attached(s->fd, i, s->ioasid,
					       &s->mocks[i]));
	s->buf = alloc_backed(variant->backing, LARGE_SIZE);
	if (!s->buf)
		SKIP(return, "no %s memory to test with",
		     variant->backing == BACKING_THP ? "THP" : "hugetlb");
	s->base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(s->fd, s->ioasid, s->buf, LARGE_SIZE,
				      LARGE_IOVA));
	for (i = 0; i != s->nmocks; i++)
		ASSERT_EQ(SZ_2M, dma_pgsize(s->fd, s->mocks[i],
					    LARGE_IOVA + SZ_2M + PAGE_SZ));
}

FIXTURE_TEARDOWN(large)
{
	close(self->s.fd);
	if (self->s.buf)
		munmap(self->s.buf, LARGE_SIZE);
}

/* Every device reads [off, off + len) of the mapping from the buffer */
static void large_check(struct __test_metadata *_metadata,
			struct split_ctx *s, uint64_t off, uint64_t len)
{
	check_data(_metadata, s->fd, s->mocks, s->nmocks, LARGE_IOVA + off,
		   s->buf + off, len);
}

/* A cut inside a large page is refused, and nothing changes */
TEST_F(large, cut_inside_refused)
{
	struct split_ctx *s = &self->s;
	const uint64_t cuts[][2] = {
		{ SZ_2M + SZ_1M, PAGE_SZ },		/* in the middle */
		{ SZ_2M, PAGE_SZ },			/* at its start */
		{ 2 * SZ_2M - PAGE_SZ, PAGE_SZ },	/* at its end */
		{ SZ_1M, SZ_2M },			/* across two */
		{ 0, SZ_2M + PAGE_SZ },			/* one and a bit */
		{ SZ_2M + PAGE_SZ, LARGE_SIZE },	/* out past the end */
	};
	uint64_t unmapped = 0;
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(cuts); i++) {
		ASSERT_EQ(EXDEV, ioasid_unmap(s->fd, s->ioasid,
					      LARGE_IOVA + cuts[i][0],
					      cuts[i][1], &unmapped))
			TH_LOG("cut %u", i);
		ASSERT_EQ(0, unmapped);
		large_check(_metadata, s, 0, LARGE_SIZE);
		ASSERT_EQ(s->base + NPAGES(LARGE_SIZE), locked_pages());
	}
	ASSERT_EQ(0, ioasid_unmap_all(s->fd, s->ioasid, &unmapped));
	ASSERT_EQ(LARGE_SIZE, unmapped);
	ASSERT_EQ(s->base, locked_pages());
}

/*
 * virtio-mem: 2 MiB blocks come and go at 2 MiB boundaries of one
 * mapping. The blocks next to a cut keep their large pages, and DMA to
 * them never stops.
 */
TEST_F(large, cut_blocks_at_boundaries)
{
	struct split_ctx *s = &self->s;
	uint64_t unmapped;
	unsigned int i;

	ASSERT_EQ(0, ioasid_unmap(s->fd, s->ioasid, LARGE_IOVA + SZ_2M,
				  SZ_2M, &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	check_unmapped(_metadata, s->fd, s->mocks, s->nmocks,
		       LARGE_IOVA + SZ_2M, SZ_2M);
	large_check(_metadata, s, 0, SZ_2M);
	large_check(_metadata, s, 2 * SZ_2M, 2 * SZ_2M);
	for (i = 0; i != s->nmocks; i++) {
		ASSERT_EQ(SZ_2M, dma_pgsize(s->fd, s->mocks[i], LARGE_IOVA));
		ASSERT_EQ(SZ_2M, dma_pgsize(s->fd, s->mocks[i],
					    LARGE_IOVA + 2 * SZ_2M));
	}
	ASSERT_EQ(s->base + NPAGES(3 * SZ_2M), locked_pages());

	/* The block goes back, then two at once leave from the end */
	ASSERT_EQ(0, ioasid_map_fixed(s->fd, s->ioasid, s->buf + SZ_2M,
				      SZ_2M, LARGE_IOVA + SZ_2M));
	large_check(_metadata, s, 0, LARGE_SIZE);
	ASSERT_EQ(0, ioasid_unmap(s->fd, s->ioasid, LARGE_IOVA + 2 * SZ_2M,
				  2 * SZ_2M, &unmapped));
	ASSERT_EQ(2 * SZ_2M, unmapped);
	large_check(_metadata, s, 0, 2 * SZ_2M);
	ASSERT_EQ(s->base + NPAGES(2 * SZ_2M), locked_pages());
}

/* The refusal holds for every domain: a late one is filled alike */
TEST_F(large, late_domain_refuses_alike)
{
	struct split_ctx *s = &self->s;
	uint32_t late;

	ASSERT_EQ(0, mock_new_attached(s->fd, 1, s->ioasid, &late));
	ASSERT_EQ(SZ_2M, dma_pgsize(s->fd, late, LARGE_IOVA));
	ASSERT_EQ(EXDEV, ioasid_unmap(s->fd, s->ioasid,
				      LARGE_IOVA + SZ_1M, PAGE_SZ, NULL));
	check_data(_metadata, s->fd, &late, 1, LARGE_IOVA, s->buf,
		   LARGE_SIZE);
}

TEST(max_pgsize_bad)
{
	const uint64_t bad[] = { 1, PAGE_SZ / 2, PAGE_SZ + 1, 3 * PAGE_SZ,
				 1ULL << 63 | PAGE_SZ };
	struct ioasid_create cmd = { .size = sizeof(cmd) };
	unsigned int i;
	uint32_t id;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	for (i = 0; i != ARRAY_SIZE(bad); i++)
		ASSERT_EQ(EINVAL, ioasid_create_max_pgsize(fd, bad[i], &id));
	cmd.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(fd, IOASID_CREATE, &cmd));
	/* Nothing was created: the first id is still free */
	ASSERT_EQ(0, ioasid_create_max_pgsize(fd, 1ULL << 30, &id));
	ASSERT_EQ(1, id);
	close(fd);
}

/* A context with an instance 0 device attached to its IOASID */
FIXTURE(dev) {
	int fd;
	uint32_t ioasid;
	uint32_t mock;
	unsigned char *buf;
	long base;
};

FIXTURE_SETUP(dev)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, mock_new_attached(self->fd, 0, self->ioasid,
				       &self->mock));
	self->buf = alloc_aligned(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_SIZE, 3);
	self->base = locked_pages();
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

/*
 * IOASID_TEST_IOMMU_FLOOR maps, reads back and unmaps its pages in the
 * IOASID's domain, with one sync after the maps and one flush after the
 * unmaps, and leaves the range empty and the mappings around it alone.
 * Bad requests change nothing.
 */
TEST_F(dev, iommu_floor)
{
	uint64_t ns[3], iova = SZ_1M;
	struct ioasid_test_cmd cmd = {};
	const uint32_t n = 300;
	uint32_t bare;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, iova - PAGE_SZ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + PAGE_SZ, PAGE_SZ,
				      iova + n * PAGE_SZ));
	ASSERT_EQ(0, ioasid_create(self->fd, &bare));
	/* Zero the mock's counters */
	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	cmd = (struct ioasid_test_cmd){ .floor = { .iova = iova, .npages = 1,
						   .__reserved = 1 } };

	ASSERT_EQ(ENODEV, iommu_floor(self->fd, bare, iova, n, NULL));
	ASSERT_EQ(ENOENT, iommu_floor(self->fd, self->ioasid + 100, iova, n,
				      NULL));
	ASSERT_EQ(ENOENT, iommu_floor(self->fd, self->mock, iova, n, NULL));
	/* Sizes and alignment, where the range would be clear otherwise */
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid, CLEAR, 0, NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid, CLEAR,
				      SZ_1M + 1, NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid, CLEAR + 1, 1,
				      NULL));
	/* Over either mapping, past the aperture, wrapping around */
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid, iova - PAGE_SZ,
				      n, NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid, iova, n + 1,
				      NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid,
				      APERTURE_LAST + 1, 1, NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid,
				      RESV0 - PAGE_SZ, 2, NULL));
	ASSERT_EQ(EINVAL, iommu_floor(self->fd, self->ioasid,
				      -(uint64_t)PAGE_SZ, 2, NULL));
	ASSERT_EQ(EINVAL, ioasid_test(self->fd, IOASID_TEST_IOMMU_FLOOR,
				      self->ioasid, &cmd));
	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	ASSERT_EQ(0, cmd.iotlb_syncs.out_count);
	ASSERT_EQ(0, cmd.iotlb_syncs.out_map_count);
	ASSERT_EQ(0, cmd.iotlb_syncs.out_reads);

	/*
	 * The IOMMU fails half way: what was mapped goes, with one flush, and
	 * one more of the IOMMU core's undoing the failed call
	 */
	ASSERT_EQ(0, mock_fail_map(self->fd, n / 2));
	ASSERT_EQ(ENOMEM, iommu_floor(self->fd, self->ioasid, iova, n, NULL));
	ASSERT_EQ(0, mock_fail_map(self->fd, -1));
	check_syncs(_metadata, self->fd, 1 + 1, 0);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE,
		  mock_probe(self->fd, self->mock, iova - PAGE_SZ, false));

	ASSERT_EQ(0, iommu_floor(self->fd, self->ioasid, iova, n, ns));
	TH_LOG("%u pages: map %llu ns, read back %llu ns, unmap %llu ns", n,
	       (unsigned long long)ns[0], (unsigned long long)ns[1],
	       (unsigned long long)ns[2]);
	ASSERT_LT(0, ns[0]);
	ASSERT_LT(0, ns[1]);
	ASSERT_LT(0, ns[2]);
	/* One flush, one sync, every frame read back */
	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	ASSERT_EQ(1, cmd.iotlb_syncs.out_count);
	ASSERT_EQ(1, cmd.iotlb_syncs.out_map_count);
	ASSERT_EQ(n, cmd.iotlb_syncs.out_reads);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova + (n - 1) * PAGE_SZ,
			     false));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE,
		  mock_probe(self->fd, self->mock, iova - PAGE_SZ, false));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE,
		  mock_probe(self->fd, self->mock, iova + n * PAGE_SZ, false));
	/* The range is free for a MAP */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, iova));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE,
		  mock_probe(self->fd, self->mock, iova, false));
}

/*
 * IOASID_TEST_OP_FLOOR maps each page with an IOTLB sync of its own and
 * unmaps it with a flush of its own, uncharges what it charged and leaves
 * the range empty and the mappings around it alone, in the order the
 * pages were mapped or scattered. Bad requests change nothing; memory it
 * cannot pin or charge stops it, with what it did undone.
 */
TEST_F(dev, op_floor)
{
	/*
	 * Scattered, pages go by a stride of about 5/8 of their number made
	 * coprime with it: 41 for 64, 27 for 40 and 7 for 15 (26 and 6 are
	 * not), 1 for 3 or 1. A stride that is not coprime would unmap some
	 * pages twice and others never. The last page unmapped, whose flush
	 * the mock saw last, tells the order.
	 */
	static const struct {
		uint32_t npages, step;
	} scattered[] = { { 64, 41 }, { 40, 27 }, { 15, 7 }, { 3, 1 },
			  { 1, 1 } };
	struct ioasid_test_cmd cmd = {};
	unsigned char *va = self->buf + 2 * PAGE_SZ, *half;
	uint64_t ns[2], iova = SZ_1M;
	uint32_t bare, i, k, last;
	const uint32_t n = 64;
	long pins;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, iova - PAGE_SZ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + PAGE_SZ, PAGE_SZ,
				      iova + n * PAGE_SZ));
	self->base = locked_pages();
	ASSERT_EQ(0, ioasid_create(self->fd, &bare));
	/* A page, then one that cannot be pinned */
	half = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, half);
	memset(half, 1, PAGE_SZ);
	ASSERT_EQ(0, mprotect(half + PAGE_SZ, PAGE_SZ, PROT_NONE));
	/* Zero the mock's counters */
	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));

	ASSERT_EQ(EOPNOTSUPP, op_floor_flags(self->fd, self->ioasid, iova, va,
					     1, 1U << 1, NULL));
	ASSERT_EQ(EOPNOTSUPP, op_floor_flags(self->fd, self->ioasid, iova, va,
					     1, ~0U, NULL));
	ASSERT_EQ(EINVAL, op_floor_flags(self->fd, self->ioasid, iova - PAGE_SZ,
					 va, n, IOASID_TEST_OP_FLOOR_SCATTER,
					 NULL));
	ASSERT_EQ(ENODEV, op_floor(self->fd, bare, iova, va, n, NULL));
	ASSERT_EQ(ENOENT, op_floor(self->fd, self->ioasid + 100, iova, va, n,
				   NULL));
	ASSERT_EQ(ENOENT, op_floor(self->fd, self->mock, iova, va, n, NULL));
	/* Sizes and alignment, where the range would be clear otherwise */
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, CLEAR, va, 0, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, CLEAR, va,
				   (1 << 16) + 1, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, CLEAR + 1, va, 1,
				   NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, CLEAR, va + 1, 1,
				   NULL));
	/* Over either mapping, past the aperture, wrapping around */
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, iova - PAGE_SZ, va,
				   n, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, iova, va, n + 1,
				   NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, APERTURE_LAST + 1,
				   va, 1, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, RESV0 - PAGE_SZ, va,
				   2, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, -(uint64_t)PAGE_SZ,
				   va, 2, NULL));
	ASSERT_EQ(EINVAL, op_floor(self->fd, self->ioasid, iova,
				   (void *)-(uintptr_t)PAGE_SZ, 2, NULL));
	ASSERT_EQ(0, ioasid_test(self->fd, IOASID_TEST_IOTLB_SYNCS, 0, &cmd));
	ASSERT_EQ(0, cmd.iotlb_syncs.out_count);
	ASSERT_EQ(0, cmd.iotlb_syncs.out_map_count);
	ASSERT_EQ(self->base, locked_pages());

	pins = foll_pins();
	ASSERT_NE(LONG_MIN, pins);
	ASSERT_EQ(0, op_floor(self->fd, self->ioasid, iova, va, n, ns));
	/* Every page pinned was unpinned */
	ASSERT_EQ(pins, foll_pins());
	TH_LOG("%u one-page ops: MAPs %llu ns, UNMAPs %llu ns", n,
	       (unsigned long long)ns[0], (unsigned long long)ns[1]);
	ASSERT_LT(0, ns[0]);
	ASSERT_LT(0, ns[1]);
	/*
	 * A sync per page mapped and a flush per page unmapped, no reads; the
	 * last page mapped went last
	 */
	check_flushes(_metadata, self->fd, n, n, iova + (n - 1) * PAGE_SZ);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova + (n - 1) * PAGE_SZ,
			     false));
	check_data(_metadata, self->fd, &self->mock, 1, iova - PAGE_SZ,
		   self->buf, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, iova + n * PAGE_SZ,
		   self->buf + PAGE_SZ, PAGE_SZ);

	/*
	 * Scattered: every page unmapped once, each with its own flush, the
	 * last one (k - 1) * step pages in, modulo k
	 */
	for (i = 0; i < ARRAY_SIZE(scattered); i++) {
		k = scattered[i].npages;
		last = (k - 1) * scattered[i].step % k;
		ASSERT_EQ(0, op_floor_flags(self->fd, self->ioasid, iova, va, k,
					    IOASID_TEST_OP_FLOOR_SCATTER, ns));
		ASSERT_LT(0, ns[1]);
		check_flushes(_metadata, self->fd, k, k, iova + last * PAGE_SZ);
		ASSERT_EQ(pins, foll_pins());
		ASSERT_EQ(self->base, locked_pages());
		for (; k; k--)
			ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
				  mock_probe(self->fd, self->mock,
					     iova + (k - 1) * PAGE_SZ, false));
	}
	check_data(_metadata, self->fd, &self->mock, 1, iova - PAGE_SZ,
		   self->buf, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, iova + n * PAGE_SZ,
		   self->buf + PAGE_SZ, PAGE_SZ);

	/* The first page mapped, the second not pinned: all undone */
	ASSERT_EQ(EFAULT, op_floor(self->fd, self->ioasid, iova, half, 2,
				   NULL));
	check_syncs(_metadata, self->fd, 1, 1);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(pins, foll_pins());
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));

	/*
	 * The IOMMU fails to map half way: the same, with one more flush of
	 * the IOMMU core's undoing the failed call
	 */
	ASSERT_EQ(0, mock_fail_map(self->fd, n / 2));
	ASSERT_EQ(ENOMEM, op_floor(self->fd, self->ioasid, iova, va, n, NULL));
	ASSERT_EQ(0, mock_fail_map(self->fd, -1));
	check_syncs(_metadata, self->fd, n / 2 + 1, n / 2);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(pins, foll_pins());
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));

	/*
	 * Scattered, the undoing goes by the stride of the 32 pages mapped,
	 * 21: the last of them undone is 31 * 21 % 32 = 11 pages in
	 */
	ASSERT_EQ(0, mock_fail_map(self->fd, n / 2));
	ASSERT_EQ(ENOMEM, op_floor_flags(self->fd, self->ioasid, iova, va, n,
					 IOASID_TEST_OP_FLOOR_SCATTER, NULL));
	ASSERT_EQ(0, mock_fail_map(self->fd, -1));
	check_flushes(_metadata, self->fd, n / 2 + 1, n / 2,
		      iova + 11 * PAGE_SZ);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(pins, foll_pins());
	for (k = 0; k < n; k++)
		ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
			  mock_probe(self->fd, self->mock, iova + k * PAGE_SZ,
				     false));

	/* Past RLIMIT_MEMLOCK half way: the same */
	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, set_memlock_pages(self->base + n / 2));
	ASSERT_EQ(ENOMEM, op_floor(self->fd, self->ioasid, iova, va, n, NULL));
	check_syncs(_metadata, self->fd, n / 2, n / 2);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(pins, foll_pins());
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(self->fd, self->mock, iova, false));

	/* The range is free for a MAP */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, va, PAGE_SZ,
				      iova));
	check_data(_metadata, self->fd, &self->mock, 1, iova, va, PAGE_SZ);
	munmap(half, 2 * PAGE_SZ);
}

/*
 * Finding mappings among many: each page of the buffer mapped on its own
 * at the same page of [MANY_IOVA, + BUF_SIZE) or not, half of them, in a
 * random order, so that the lookups walk a deep tree of many shapes. Then,
 * at random places, MAPs of 1 to 4 pages fail with EEXIST exactly when the
 * model has a page of theirs mapped (and map, then unmap, otherwise); MAPs
 * of 1 to 4 pages at an IOVA the kernel chooses land at the lowest free
 * range of the model (the aperture starts at MANY_IOVA, 0); and UNMAPs of
 * 1 to 8 pages remove exactly the pages the model has there, or fail with
 * ENOENT. The device translates each page as the model says, and exactly
 * the model's pages stay pinned.
 */
#define MANY_IOVA	0
#define MANY_PAGES	NPAGES(BUF_SIZE)
#define MANY_PROBES	512
#define MANY_SEED	20261203u

/* The first of the lowest @n pages in a row that the model has free */
static unsigned int many_lowest_free(const bool *model, unsigned int n)
{
	unsigned int p, run = 0;

	for (p = 0; p != MANY_PAGES; p++) {
		run = model[p] ? 0 : run + 1;
		if (run == n)
			return p + 1 - n;
	}
	/* Past the model's pages, where nothing is mapped */
	return MANY_PAGES - run;
}

/* Pages of [first, first + n) the model has mapped */
static unsigned int many_held(const bool *model, unsigned int first,
			      unsigned int n)
{
	unsigned int held = 0, p;

	for (p = first; p != first + n; p++)
		held += model[p];
	return held;
}

/* The device translates every page as @model says, and pins match */
static void many_check(struct __test_metadata *_metadata, int fd,
		       uint32_t mock, const unsigned char *buf,
		       const bool *model, long base)
{
	bool got[MANY_PAGES];
	unsigned int p;

	scan_pages(_metadata, fd, mock, MANY_IOVA, buf, MANY_PAGES, got);
	for (p = 0; p != MANY_PAGES; p++)
		ASSERT_EQ(model[p], got[p])
			TH_LOG("page %u", p);
	ASSERT_EQ(base + many_held(model, 0, MANY_PAGES), locked_pages());
}

TEST_F(dev, lookup_many_areas)
{
	static unsigned int order[MANY_PAGES];
	static bool model[MANY_PAGES];
	unsigned int seed = MANY_SEED, i, j, p, n, held;
	unsigned char *buf = self->buf;
	uint64_t iova, unmapped;
	int rc;

	for (i = 0; i != MANY_PAGES; i++)
		order[i] = i;
	for (i = MANY_PAGES - 1; i; i--) {
		j = rand_r(&seed) % (i + 1);
		p = order[i];
		order[i] = order[j];
		order[j] = p;
	}
	memset(model, 0, sizeof(model));
	for (i = 0; i != MANY_PAGES; i++) {
		p = order[i];
		if (rand_r(&seed) % 2)
			continue;
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      buf + p * PAGE_SZ, PAGE_SZ,
					      MANY_IOVA + p * PAGE_SZ));
		model[p] = true;
	}
	many_check(_metadata, self->fd, self->mock, buf, model, self->base);

	for (i = 0; i != MANY_PROBES; i++) {
		n = 1 + rand_r(&seed) % 4;
		p = rand_r(&seed) % (MANY_PAGES - n + 1);
		iova = MANY_IOVA + p * PAGE_SZ;
		rc = ioasid_map_fixed(self->fd, self->ioasid,
				      buf + p * PAGE_SZ, n * PAGE_SZ, iova);
		if (many_held(model, p, n)) {
			ASSERT_EQ(EEXIST, rc)
				TH_LOG("MAP of %u pages at page %u", n, p);
			continue;
		}
		ASSERT_EQ(0, rc)
			TH_LOG("MAP of %u pages at page %u", n, p);
		ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova,
					  n * PAGE_SZ, &unmapped));
		ASSERT_EQ(n * PAGE_SZ, unmapped);
	}
	many_check(_metadata, self->fd, self->mock, buf, model, self->base);

	for (i = 0; i != MANY_PROBES / 4; i++) {
		n = 1 + rand_r(&seed) % 4;
		p = many_lowest_free(model, n);
		ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid, buf,
						n * PAGE_SZ, PAGE_SZ, &iova));
		ASSERT_EQ(MANY_IOVA + p * PAGE_SZ, iova)
			TH_LOG("MAP of %u pages", n);
		ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova,
					  n * PAGE_SZ, &unmapped));
		ASSERT_EQ(n * PAGE_SZ, unmapped);
	}

	for (i = 0; i != MANY_PROBES; i++) {
		n = 1 + rand_r(&seed) % 8;
		p = rand_r(&seed) % (MANY_PAGES - n + 1);
		iova = MANY_IOVA + p * PAGE_SZ;
		held = many_held(model, p, n);
		unmapped = 0;
		rc = ioasid_unmap(self->fd, self->ioasid, iova, n * PAGE_SZ,
				  &unmapped);
		ASSERT_EQ(held ? 0 : ENOENT, rc)
			TH_LOG("UNMAP of %u pages at page %u", n, p);
		ASSERT_EQ(held * PAGE_SZ, unmapped)
			TH_LOG("UNMAP of %u pages at page %u", n, p);
		memset(model + p, 0, n * sizeof(*model));
	}
	many_check(_metadata, self->fd, self->mock, buf, model, self->base);
}

TEST_F(dev, map_aligned_iova)
{
	unsigned char *buf = self->buf;
	uint64_t iova;

	/* IOVA 0 is taken, so the alignment decides where the next go */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, buf, PAGE_SZ,
				      0));
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + PAGE_SZ, PAGE_SZ, SZ_1M, &iova));
	ASSERT_EQ(SZ_1M, iova);
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + 2 * PAGE_SZ, PAGE_SZ, SZ_2M,
					&iova));
	ASSERT_EQ(SZ_2M, iova);
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + 3 * PAGE_SZ, PAGE_SZ, SZ_1M,
					&iova));
	ASSERT_EQ(3 * SZ_1M, iova);
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + SZ_2M, SZ_2M, SZ_2M, &iova));
	ASSERT_EQ(2 * SZ_2M, iova);
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + 4 * PAGE_SZ, PAGE_SZ, PAGE_SZ,
					&iova));
	ASSERT_EQ(PAGE_SZ, iova);
	/* Up to the end of the aperture, and no further */
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					buf + 5 * PAGE_SZ, PAGE_SZ,
					1ULL << 47, &iova));
	ASSERT_EQ(1ULL << 47, iova);
	ASSERT_EQ(ENOSPC, ioasid_map_aligned(self->fd, self->ioasid,
					     buf + 6 * PAGE_SZ, PAGE_SZ,
					     1ULL << 48, &iova));
	ASSERT_EQ(ENOSPC, ioasid_map_aligned(self->fd, self->ioasid,
					     buf + 6 * PAGE_SZ, PAGE_SZ,
					     1ULL << 63, &iova));

	/* The device finds each where the kernel said it put it */
	check_data(_metadata, self->fd, &self->mock, 1, SZ_1M,
		   buf + PAGE_SZ, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, SZ_2M,
		   buf + 2 * PAGE_SZ, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, 3 * SZ_1M,
		   buf + 3 * PAGE_SZ, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, 2 * SZ_2M,
		   buf + SZ_2M, SZ_2M);
	check_data(_metadata, self->fd, &self->mock, 1, PAGE_SZ,
		   buf + 4 * PAGE_SZ, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, 1ULL << 47,
		   buf + 5 * PAGE_SZ, PAGE_SZ);
}

TEST_F(dev, map_default_alignment)
{
	uint64_t iova;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	/* Memory only 4 KiB aligned cannot use large pages anyway */
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf + PAGE_SZ,
				SZ_2M, &iova, MAP_RW));
	ASSERT_EQ(PAGE_SZ, iova);
	/* 2 MiB aligned memory gets a 2 MiB aligned IOVA */
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf + SZ_2M,
				SZ_2M, &iova, MAP_RW));
	ASSERT_EQ(2 * SZ_2M, iova);
	/* Unless the mapping is smaller than a large page */
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid,
				self->buf + 2 * SZ_2M, 4 * PAGE_SZ, &iova,
				MAP_RW));
	ASSERT_EQ(SZ_2M + PAGE_SZ, iova);

	check_data(_metadata, self->fd, &self->mock, 1, PAGE_SZ,
		   self->buf + PAGE_SZ, SZ_2M);
	check_data(_metadata, self->fd, &self->mock, 1, 2 * SZ_2M,
		   self->buf + SZ_2M, SZ_2M);
	check_data(_metadata, self->fd, &self->mock, 1, SZ_2M + PAGE_SZ,
		   self->buf + 2 * SZ_2M, 4 * PAGE_SZ);
}

TEST_F(dev, map_aligned_bad)
{
	static const uint64_t bad[] = {
		1, 2, 512, PAGE_SZ / 2, 3 * PAGE_SZ, PAGE_SZ + 1,
		SZ_2M - PAGE_SZ, (1ULL << 63) + PAGE_SZ, UINT64_MAX,
	};
	struct ioasid_map map = {
		.size = sizeof(map),
		.flags = MAP_FIXED_RW,
		.ioasid = self->ioasid,
		.user_va = (uintptr_t)self->buf,
		.length = PAGE_SZ,
		.iova = SZ_2M,
	};
	uint64_t iova;
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(EINVAL, ioasid_map_aligned(self->fd, self->ioasid,
						     self->buf, PAGE_SZ,
						     bad[i], &iova))
			TH_LOG("alignment %#llx", (unsigned long long)bad[i]);
	}
	/* No alignment goes with a fixed IOVA, not even a fitting one */
	map.iova_alignment = PAGE_SZ;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	map.iova_alignment = SZ_2M;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));

	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	ASSERT_EQ(self->base, locked_pages());
	check_fault(_metadata, self->fd, &self->mock, 1, SZ_2M,
		    IOASID_TEST_FAULT_NOT_PRESENT);
}

TEST_F(dev, iova_ranges_room)
{
	struct ioasid_iova_range r[2];
	uint32_t num, other;

	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst0, 2);

	/* Room for one: it is filled, the count is the real one */
	memset(r, 0xa5, sizeof(r));
	num = 1;
	ASSERT_EQ(EMSGSIZE, ioasid_iova_ranges(self->fd, self->ioasid, r,
					       &num));
	ASSERT_EQ(2, num);
	ASSERT_EQ(0, r[0].start);
	ASSERT_EQ(RESV0 - 1, r[0].last);
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, r[1].start);
	/* No room: just the count */
	num = 0;
	ASSERT_EQ(EMSGSIZE, ioasid_iova_ranges(self->fd, self->ioasid, NULL,
					       &num));
	ASSERT_EQ(2, num);
	num = 2;
	ASSERT_EQ(0, ioasid_iova_ranges(self->fd, self->ioasid, r, &num));
	ASSERT_EQ(2, num);

	/* Another IOASID of the context, with no device: the aperture */
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	check_ranges(_metadata, self->fd, other, ranges_bound, 1);
}

TEST_F(dev, map_into_reserved)
{
	static const struct {
		uint64_t iova, len;
	} bad[] = {
		{ RESV0, PAGE_SZ },
		{ RESV0 + RESV_SIZE - PAGE_SZ, PAGE_SZ },
		{ RESV0 - PAGE_SZ, 2 * PAGE_SZ },
		{ RESV0 + RESV_SIZE - PAGE_SZ, 2 * PAGE_SZ },
		{ RESV0 - SZ_1M, 4 * SZ_1M },
	};
	uint32_t other;
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		ASSERT_EQ(EADDRINUSE,
			  ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   bad[i].len, bad[i].iova))
			TH_LOG("%#llx+%#llx", (unsigned long long)bad[i].iova,
			       (unsigned long long)bad[i].len);
	}
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	/* COPY is held to the same */
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf, BUF_SIZE,
				      0));
	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		uint64_t iova = bad[i].iova;

		ASSERT_EQ(EADDRINUSE,
			  ioasid_copy(self->fd, self->ioasid, other, 0,
				      bad[i].len, &iova, MAP_FIXED_RW))
			TH_LOG("copy #%u", i);
	}
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);

	/* Right next to the window, on both sides, is fine */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, RESV0 - PAGE_SZ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + PAGE_SZ, PAGE_SZ,
				      RESV0 + RESV_SIZE));
	check_data(_metadata, self->fd, &self->mock, 1, RESV0 - PAGE_SZ,
		   self->buf, PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, RESV0 + RESV_SIZE,
		   self->buf + PAGE_SZ, PAGE_SZ);
	check_unmapped(_metadata, self->fd, &self->mock, 1, RESV0, RESV_SIZE);
}

/* The allocator must step over the window even when all below is taken */
TEST_F_TIMEOUT(dev, chosen_iova_skips_reserved, 120)
{
	uint64_t iova;

	/* One page at every 2 MiB aligned IOVA below the window */
	for (iova = 0; iova < RESV0; iova += SZ_2M) {
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf, PAGE_SZ, iova));
	}
	/* The same page each time: charged once */
	ASSERT_EQ(self->base + 1, locked_pages());

	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					self->buf + PAGE_SZ, PAGE_SZ, SZ_2M,
					&iova));
	ASSERT_EQ(RESV0 + SZ_2M, iova);
	check_data(_metadata, self->fd, &self->mock, 1, iova,
		   self->buf + PAGE_SZ, PAGE_SZ);
	/* The alignment the kernel picks for 2 MiB of 2 MiB aligned memory */
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf + SZ_2M,
				SZ_2M, &iova, MAP_RW));
	ASSERT_EQ(RESV0 + 2 * SZ_2M, iova);
	check_data(_metadata, self->fd, &self->mock, 1, iova,
		   self->buf + SZ_2M, SZ_2M);
	check_unmapped(_metadata, self->fd, &self->mock, 1, RESV0, RESV_SIZE);
}

TEST_F(dev, attach_refused_over_mapping)
{
	const uint64_t in_resv1 = RESV1;
	uint32_t m1, m2, other;

	/* Only devices of instance 1 reserve this window */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, in_resv1));
	ASSERT_EQ(0, mock_new(self->fd, 1, &m1));
	ASSERT_EQ(EADDRINUSE, mock_attach(self->fd, m1, self->ioasid));
	/* The refused device stays blocked, the other one works on */
	check_fault(_metadata, self->fd, &m1, 1, in_resv1,
		    IOASID_TEST_FAULT_BLOCKED);
	check_fault(_metadata, self->fd, &m1, 1, 0, IOASID_TEST_FAULT_BLOCKED);
	check_data(_metadata, self->fd, &self->mock, 1, in_resv1, self->buf,
		   PAGE_SZ);
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst0, 2);

	/* With the mapping out of the way it attaches */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, in_resv1, PAGE_SZ,
				  NULL));
	ASSERT_EQ(0, mock_attach(self->fd, m1, self->ioasid));
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst01, 3);
	check_fault(_metadata, self->fd, &m1, 1, in_resv1,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	ASSERT_EQ(EADDRINUSE, ioasid_map_fixed(self->fd, self->ioasid,
					       self->buf, PAGE_SZ, in_resv1));

	/* An IOASID mapped in the window before any device attached */
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf, PAGE_SZ,
				      RESV0));
	ASSERT_EQ(0, mock_new(self->fd, 0, &m2));
	ASSERT_EQ(EADDRINUSE, mock_attach(self->fd, m2, other));
	check_fault(_metadata, self->fd, &m2, 1, RESV0,
		    IOASID_TEST_FAULT_BLOCKED);
	check_ranges(_metadata, self->fd, other, ranges_bound, 1);
	ASSERT_EQ(self->base + 1, locked_pages());
}

TEST_F(dev, replace_refused_keeps_old)
{
	uint32_t m1, other;

	ASSERT_EQ(0, mock_new_attached(self->fd, 1, self->ioasid, &m1));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, SZ_1M));
	/* The same IOVA elsewhere, plus a page in instance 1's window */
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf + SZ_1M,
				      PAGE_SZ, SZ_1M));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf + SZ_1M,
				      PAGE_SZ, RESV1));

	ASSERT_EQ(EADDRINUSE, mock_attach(self->fd, m1, other));
	/* Still translated by the first IOASID, windows unchanged */
	check_data(_metadata, self->fd, &m1, 1, SZ_1M, self->buf, PAGE_SZ);
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst01, 3);
	check_ranges(_metadata, self->fd, other, ranges_bound, 1);

	ASSERT_EQ(0, ioasid_unmap(self->fd, other, RESV1, PAGE_SZ, NULL));
	ASSERT_EQ(0, mock_attach(self->fd, m1, other));
	check_data(_metadata, self->fd, &m1, 1, SZ_1M, self->buf + SZ_1M,
		   PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, SZ_1M, self->buf,
		   PAGE_SZ);
	/* The window moved along with the device */
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst0, 2);
	check_ranges(_metadata, self->fd, other, ranges_inst1, 2);
}

TEST_F(dev, map_memfd)
{
	unsigned char out[256], in[256];
	uint64_t iova;
	int mfd;

	mfd = memfd_create("ioasid", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, SZ_2M));
	ASSERT_EQ(SZ_2M, pwrite(mfd, self->buf, SZ_2M, 0));

	/* The file is never mapped into the process */
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, 0, SZ_2M,
				     &iova, MAP_RW));
	ASSERT_EQ(self->base + NPAGES(SZ_2M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf,
		   SZ_2M);
	check_fault(_metadata, self->fd, &self->mock, 1, iova + SZ_2M,
		    IOASID_TEST_FAULT_NOT_PRESENT);

	/* What the device writes is in the file, across a page boundary */
	fill_pattern(out, sizeof(out), 99);
	dma_write(_metadata, self->fd, self->mock, iova + PAGE_SZ - 100, out,
		  sizeof(out));
	ASSERT_EQ(sizeof(in), pread(mfd, in, sizeof(in), PAGE_SZ - 100));
	ASSERT_EQ(0, memcmp(in, out, sizeof(out)));

	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
	close(mfd);
}

TEST_F(dev, map_memfd_offset)
{
	const uint64_t off = SZ_1M + 3 * PAGE_SZ, len = 16 * PAGE_SZ;
	uint64_t iova = 16 * SZ_1M;
	int mfd;

	mfd = memfd_create("ioasid", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 2 * SZ_2M));
	ASSERT_EQ(SZ_2M, pwrite(mfd, self->buf, SZ_2M, 0));

	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, off, len,
				     &iova, MAP_FIXED_RW));
	ASSERT_EQ(16 * SZ_1M, iova);
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf + off,
		   len);
	check_fault(_metadata, self->fd, &self->mock, 1, iova + len,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	check_fault(_metadata, self->fd, &self->mock, 1, iova - PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);

	/* Never written, up to the file's very end: zeroes */
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd,
				     2 * SZ_2M - PAGE_SZ, PAGE_SZ, &iova,
				     MAP_RW));
	check_data(_metadata, self->fd, &self->mock, 1, iova, zero_page,
		   PAGE_SZ);
	ASSERT_EQ(self->base + NPAGES(len) + 1, locked_pages());
	close(mfd);
}

TEST_F(dev, map_memfd_hugetlb)
{
	const uint64_t len = 2 * SZ_2M;
	unsigned char out[64], in[64];
	uint64_t iova, second, unmapped;
	void *p;
	int mfd;

	if (meminfo_val("Hugepagesize") != (long)(SZ_2M / 1024))
		SKIP(return, "default huge pages are not 2 MiB");
	reserve_hugepages(2);
	mfd = memfd_create("ioasid-huge", MFD_HUGETLB);
	if (mfd < 0)
		SKIP(return, "no hugetlb memfd: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(mfd, len));
	/* hugetlbfs has no write(): fill it through a mapping */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		SKIP(return, "no free hugetlb pages");
	fill_pattern(p, len, 21);
	memcpy(self->buf, p, len);
	ASSERT_EQ(0, munmap(p, len));

	/* Of the file alone, at an IOVA that allows 2 MiB IOMMU pages */
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, 0, len,
				     &iova, MAP_RW));
	ASSERT_EQ(0, iova % SZ_2M);
	ASSERT_EQ(SZ_2M, dma_pgsize(self->fd, self->mock, iova));
	ASSERT_EQ(SZ_2M, dma_pgsize(self->fd, self->mock, iova + SZ_2M));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf, len);

	fill_pattern(out, sizeof(out), 5);
	dma_write(_metadata, self->fd, self->mock, iova + SZ_2M + 100, out,
		  sizeof(out));
	ASSERT_EQ(sizeof(in), pread(mfd, in, sizeof(in), SZ_2M + 100));
	ASSERT_EQ(0, memcmp(in, out, sizeof(out)));
	memcpy(self->buf + SZ_2M + 100, out, sizeof(out));

	/* A page cut out of a 2 MiB IOMMU page is refused, nothing changes */
	ASSERT_EQ(EXDEV, ioasid_unmap(self->fd, self->ioasid,
				      iova + 7 * PAGE_SZ, PAGE_SZ, &unmapped));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf, len);

	/* Part of a huge page the context holds pinned: no new charge */
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd,
				     SZ_2M + PAGE_SZ, 2 * PAGE_SZ, &second,
				     MAP_RW));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, second,
		   self->buf + SZ_2M + PAGE_SZ, 2 * PAGE_SZ);

	/* The first 2 MiB page goes whole; the rest stays */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova, SZ_2M,
				  &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	check_fault(_metadata, self->fd, &self->mock, 1, iova,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	check_data(_metadata, self->fd, &self->mock, 1, iova + SZ_2M,
		   self->buf + SZ_2M, SZ_2M);
	ASSERT_EQ(self->base + NPAGES(SZ_2M), locked_pages());

	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, &unmapped));
	ASSERT_EQ(SZ_2M + 2 * PAGE_SZ, unmapped);
	ASSERT_EQ(self->base, locked_pages());
	close(mfd);
}

TEST_F(dev, map_file_bad)
{
	struct ioasid_map map = {
		.size = sizeof(map),
		.flags = MAP_FIXED_RW,
		.ioasid = self->ioasid,
		.user_va = (uintptr_t)self->buf,
		.length = PAGE_SZ,
	};
	int mfd, pfd[2], status, null, closed;
	unsigned int i;
	uint64_t iova;

	mfd = memfd_create("ioasid", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, SZ_1M));
	ASSERT_EQ(0, pipe(pfd));
	status = open("/proc/self/status", O_RDONLY);
	ASSERT_LE(0, status);
	null = open("/dev/null", O_RDWR);
	ASSERT_LE(0, null);
	closed = dup(mfd);
	ASSERT_LE(0, closed);
	close(closed);

	/* Files that are not shmem or hugetlbfs, and no files at all */
	{
		const int bad[] = {
			status, null, pfd[0], pfd[1], self->fd, -1, closed,
		};

		for (i = 0; i != ARRAY_SIZE(bad); i++) {
			ASSERT_EQ(EBADF, ioasid_map_file(self->fd,
							 self->ioasid, bad[i],
							 0, PAGE_SZ, &iova,
							 MAP_RW))
				TH_LOG("fd #%u", i);
		}
	}

	/* Beyond the end of the file */
	ASSERT_EQ(EINVAL, ioasid_map_file(self->fd, self->ioasid, mfd, 0,
					  SZ_2M, &iova, MAP_RW));
	ASSERT_EQ(EINVAL, ioasid_map_file(self->fd, self->ioasid, mfd, SZ_1M,
					  PAGE_SZ, &iova, MAP_RW));
	ASSERT_EQ(EINVAL, ioasid_map_file(self->fd, self->ioasid, mfd,
					  SZ_1M - PAGE_SZ, 2 * PAGE_SZ, &iova,
					  MAP_RW));
	/* Unaligned, or wrapping */
	ASSERT_EQ(EINVAL, ioasid_map_file(self->fd, self->ioasid, mfd, 100,
					  PAGE_SZ, &iova, MAP_RW));
	ASSERT_EQ(EINVAL, ioasid_map_file(self->fd, self->ioasid, mfd,
					  PAGE_SZ / 2, PAGE_SZ, &iova,
					  MAP_RW));
	ASSERT_EQ(EOVERFLOW, ioasid_map_file(self->fd, self->ioasid, mfd,
					     -PAGE_SZ, 2 * PAGE_SZ, &iova,
					     MAP_RW));
	/* A file descriptor without IOASID_MAP_FILE */
	map.fd = mfd;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));
	map.fd = -1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_MAP, &map));

	/* None of it pinned or mapped anything */
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	check_fault(_metadata, self->fd, &self->mock, 1, 0,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	close(mfd);
	close(pfd[0]);
	close(pfd[1]);
	close(status);
	close(null);
}

/*
 * Devices may only write a file the caller could write: as with mmap(2),
 * a read-only descriptor gives EACCES and a write-sealed memfd EPERM.
 */
TEST_F(dev, map_file_write_needs_writable_file)
{
	const uint64_t len = 16 * PAGE_SZ;
	char path[64];
	uint64_t iova;
	int mfd, rofd;

	mfd = memfd_create("ioasid", MFD_ALLOW_SEALING);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, len));
	ASSERT_EQ(len, pwrite(mfd, self->buf, len, 0));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	rofd = open(path, O_RDONLY);
	ASSERT_LE(0, rofd);

	/* Read-only descriptor: reading is fine, writing is not */
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, rofd, 0, len,
				     &iova, IOASID_MAP_READ));
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf, len);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(EACCES, ioasid_map_file(self->fd, self->ioasid, rofd, 0,
					  len, &iova, MAP_RW));
	ASSERT_EQ(EACCES, ioasid_map_file(self->fd, self->ioasid, rofd, 0,
					  len, &iova, IOASID_MAP_WRITE));
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);

	/* Sealed against writes: the same for a writable descriptor */
	ASSERT_EQ(0, fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE));
	ASSERT_EQ(EPERM, ioasid_map_file(self->fd, self->ioasid, mfd, 0, len,
					 &iova, MAP_RW));
	ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	ASSERT_EQ(self->base, locked_pages());
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, 0, len,
				     &iova, IOASID_MAP_READ));
	check_data(_metadata, self->fd, &self->mock, 1, iova, self->buf, len);
	close(rofd);
	close(mfd);
}

TEST_F(dev, pin_once_two_iovas)
{
	const uint64_t len = SZ_1M;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf, len,
				      0));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf, len,
				      16 * SZ_1M));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 0, self->buf, len);
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M, self->buf,
		   len);

	/* The other mapping keeps the pages pinned */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, len, NULL));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M, self->buf,
		   len);
	check_fault(_metadata, self->fd, &self->mock, 1, 0,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 16 * SZ_1M, len,
				  NULL));
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(dev, pin_once_two_ioasids)
{
	const uint64_t len = SZ_1M;
	uint32_t other, m2;

	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, mock_new_attached(self->fd, 0, other, &m2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf, len,
				      0));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, other, self->buf, len,
				      SZ_2M));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 0, self->buf, len);
	check_data(_metadata, self->fd, &m2, 1, SZ_2M, self->buf, len);

	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &m2, 1, SZ_2M, self->buf, len);
	/* The last user going, with the IOASID, unpins */
	ASSERT_EQ(0, mock_detach(self->fd, m2));
	ASSERT_EQ(0, ioasid_destroy(self->fd, other));
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(dev, pin_once_subrange)
{
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_2M, 0));
	ASSERT_EQ(self->base + NPAGES(SZ_2M), locked_pages());
	/* Parts of memory mapped already cost nothing */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + 16 * PAGE_SZ, 32 * PAGE_SZ,
				      16 * SZ_1M));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M - PAGE_SZ, PAGE_SZ,
				      32 * SZ_1M));
	ASSERT_EQ(self->base + NPAGES(SZ_2M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M,
		   self->buf + 16 * PAGE_SZ, 32 * PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, 32 * SZ_1M,
		   self->buf + SZ_2M - PAGE_SZ, PAGE_SZ);

	/* Without the big mapping only what the small ones use stays */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, SZ_2M, NULL));
	ASSERT_EQ(self->base + 32 + 1, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M,
		   self->buf + 16 * PAGE_SZ, 32 * PAGE_SZ);
	check_data(_metadata, self->fd, &self->mock, 1, 32 * SZ_1M,
		   self->buf + SZ_2M - PAGE_SZ, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(dev, pin_once_other_memory)
{
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_1M, 0));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	/* Other memory is charged */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M, SZ_1M, SZ_2M));
	ASSERT_EQ(self->base + 2 * NPAGES(SZ_1M), locked_pages());
	/* Unless mapped already */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_2M, SZ_1M, 2 * SZ_2M));
	ASSERT_EQ(self->base + 2 * NPAGES(SZ_1M), locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, SZ_1M, NULL));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, SZ_2M,
		   self->buf + SZ_2M, SZ_1M);
}

TEST_F(dev, pin_once_read_only_shares)
{
	const uint64_t len = SZ_1M;
	unsigned char byte = 0x77;
	struct dma_result res;
	uint64_t ro = 16 * SZ_1M;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf, len,
				      0));
	/* Memory pinned for writing serves a read-only mapping too */
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, self->buf, len, &ro,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, ro, self->buf, len);
	/* Which stays read-only */
	ASSERT_EQ(0, mock_dma(self->fd, self->mock, ro, &byte, 1, true,
			      &res));
	ASSERT_EQ(IOASID_TEST_FAULT_PERMISSION, res.fault);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, len, NULL));
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, ro, self->buf, len);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, ro, len, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(dev, pin_once_memfd)
{
	uint64_t a, b;
	int mfd;

	mfd = memfd_create("ioasid", 0);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, SZ_1M));
	ASSERT_EQ(SZ_1M, pwrite(mfd, self->buf, SZ_1M, 0));
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, 0, SZ_1M,
				     &a, MAP_RW));
	ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd, SZ_1M / 2,
				     SZ_1M / 2, &b, MAP_RW));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, b,
		   self->buf + SZ_1M / 2, SZ_1M / 2);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, a, SZ_1M, NULL));
	ASSERT_EQ(self->base + NPAGES(SZ_1M / 2), locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, b, SZ_1M / 2, NULL));
	ASSERT_EQ(self->base, locked_pages());
	close(mfd);
}

/*
 * Memory only partly pinned before is pinned and charged again in full:
 * sharing needs one earlier MAP that holds the whole range. Each MAP's
 * charge goes with its own pins.
 */
TEST_F(dev, pin_once_partial_overlap)
{
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_1M, 0));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_1M / 2, SZ_1M,
				      16 * SZ_1M));
	ASSERT_EQ(self->base + NPAGES(2 * SZ_1M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M,
		   self->buf + SZ_1M / 2, SZ_1M);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 0, SZ_1M, NULL));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, 16 * SZ_1M,
		   self->buf + SZ_1M / 2, SZ_1M);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

/*
 * Pages mapped one by one, as a VMM with a virtual IOMMU maps them, are
 * pinned once too: each is shared by a second MAP of it however many the
 * context holds, and stays pinned until its last mapping goes. 2048 of them
 * take the context's table of one-page pins through seven sizes up, and
 * three back down as they go, where what is left must still be found.
 */
TEST_F(dev, pin_once_single_pages)
{
	const uint64_t a = 64 * SZ_1M, b = 128 * SZ_1M;
	const long n = NPAGES(BUF_SIZE);
	long i, j;

	/* In an order unlike the memory's, odd steps through all of it */
	for (i = 0; i < n; i++) {
		j = i * 7 % n;
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf + j * PAGE_SZ, PAGE_SZ,
					      a + j * PAGE_SZ));
	}
	ASSERT_EQ(self->base + n, locked_pages());
	for (i = n - 1; i >= 0; i--)
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf + i * PAGE_SZ, PAGE_SZ,
					      b + i * PAGE_SZ));
	ASSERT_EQ(self->base + n, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, a, self->buf,
		   BUF_SIZE);
	check_data(_metadata, self->fd, &self->mock, 1, b, self->buf,
		   BUF_SIZE);

	/* A page mapped twice stays pinned while either mapping is there */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, a, BUF_SIZE, NULL));
	ASSERT_EQ(self->base + n, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, b, self->buf,
		   BUF_SIZE);
	check_fault(_metadata, self->fd, &self->mock, 1, a,
		    IOASID_TEST_FAULT_NOT_PRESENT);
	/* 64 left: 2048 buckets halve to 1024, 512 and 256 */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, b,
				  BUF_SIZE / 32 * 31, NULL));
	ASSERT_EQ(self->base + n / 32, locked_pages());

	/* What is left is still found: mapping it again costs nothing */
	for (i = n / 32 * 31; i < n; i++)
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf + i * PAGE_SZ, PAGE_SZ,
					      a + i * PAGE_SZ));
	ASSERT_EQ(self->base + n / 32, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, a + BUF_SIZE / 32 * 31,
		   self->buf + BUF_SIZE / 32 * 31, BUF_SIZE / 32);
	/* A page unpinned meanwhile is pinned again */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, a));
	ASSERT_EQ(self->base + n / 32 + 1, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, a, self->buf, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

/*
 * Which pinned run a one-page MAP shares when several hold its page: the
 * one that starts lowest, and of those that start at the same place the
 * one pinned first, whether they hold one page or more. Which one it was
 * shows in what an UNMAP of another mapping of it then unpins.
 */
TEST_F(dev, pin_once_single_page_order)
{
	unsigned char *p = self->buf + SZ_1M;
	const uint64_t one = 0, two = SZ_1M, again = 2 * SZ_1M;
	uint64_t iova;
	int i;

	/* P alone, then P - 1 and P: that run starts lower, it is shared */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      one));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p - PAGE_SZ,
				      2 * PAGE_SZ, two));
	ASSERT_EQ(self->base + 3, locked_pages());
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      again));
	ASSERT_EQ(self->base + 3, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, two, 2 * PAGE_SZ,
				  NULL));
	ASSERT_EQ(self->base + 2, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, again, p, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());

	/* P alone, then P and P + 1: both start at P, the first is shared */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      one));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, 2 * PAGE_SZ,
				      two));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      again));
	ASSERT_EQ(self->base + 3, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, two, 2 * PAGE_SZ,
				  NULL));
	ASSERT_EQ(self->base + 1, locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());

	/*
	 * P and P + 1 read-only, then P alone for writing, which cannot share
	 * it: a read-only MAP of P shares the first again
	 */
	iova = two;
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, p, 2 * PAGE_SZ, &iova,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      one));
	ASSERT_EQ(self->base + 3, locked_pages());
	iova = again;
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, p, PAGE_SZ, &iova,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(self->base + 3, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, one, PAGE_SZ, NULL));
	ASSERT_EQ(self->base + 2, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, again, p, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());

	/*
	 * P read-only, then P alone for writing, which cannot share it: two
	 * runs of one page at the same place. 1024 other pages mapped and
	 * unmapped take the table of one-page runs through resizes up and
	 * down, which keep the two in order: a read-only MAP of P shares the
	 * first
	 */
	iova = one;
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, p, PAGE_SZ, &iova,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, p, PAGE_SZ,
				      two));
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf + BUF_SIZE / 2 +
					      i * PAGE_SZ, PAGE_SZ,
					      CLEAR + i * PAGE_SZ));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, CLEAR,
				  1024 * PAGE_SZ, NULL));
	ASSERT_EQ(self->base + 2, locked_pages());
	iova = again;
	ASSERT_EQ(0, ioasid_map(self->fd, self->ioasid, p, PAGE_SZ, &iova,
				IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(self->base + 2, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, one, PAGE_SZ, NULL));
	ASSERT_EQ(self->base + 2, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, two, PAGE_SZ, NULL));
	ASSERT_EQ(self->base + 1, locked_pages());
	check_data(_metadata, self->fd, &self->mock, 1, again, p, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

/*
 * One-page runs at the same offset of two files are two runs: each is
 * charged, and a MAP of either shares its own
 */
TEST_F(dev, pin_once_single_page_files)
{
	uint64_t iova[4];
	int mfd[2], i;

	for (i = 0; i < 2; i++) {
		mfd[i] = memfd_create("ioasid", 0);
		ASSERT_LE(0, mfd[i]);
		ASSERT_EQ(0, ftruncate(mfd[i], PAGE_SZ));
		ASSERT_EQ(PAGE_SZ, pwrite(mfd[i], self->buf + i * PAGE_SZ,
					  PAGE_SZ, 0));
		ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd[i],
					     0, PAGE_SZ, &iova[i], MAP_RW));
	}
	ASSERT_EQ(self->base + 2, locked_pages());
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, ioasid_map_file(self->fd, self->ioasid, mfd[i],
					     0, PAGE_SZ, &iova[2 + i],
					     MAP_RW));
	ASSERT_EQ(self->base + 2, locked_pages());
	/* The first mapping of each gone, the second still finds its data */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova[0], PAGE_SZ,
				  NULL));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova[1], PAGE_SZ,
				  NULL));
	ASSERT_EQ(self->base + 2, locked_pages());
	for (i = 0; i < 2; i++)
		check_data(_metadata, self->fd, &self->mock, 1, iova[2 + i],
			   self->buf + i * PAGE_SZ, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
	close(mfd[0]);
	close(mfd[1]);
}

/* Sizes of the new ioctls: short of the last mandatory field, longer */
TEST_F(dev, new_ioctls_bad_sizes)
{
	struct {
		struct ioasid_copy cmd;
		uint64_t tail;
	} copy = {
		.cmd = {
			.flags = MAP_FIXED_RW,
			.src_ioasid = self->ioasid,
			.length = PAGE_SZ,
			.dst_iova = SZ_1M,
		},
	};
	struct {
		struct ioasid_iova_ranges cmd;
		uint64_t tail;
	} ranges = {
		.cmd = { .ioasid = self->ioasid, .num_ranges = 4 },
	};
	struct {
		struct ioasid_option cmd;
		uint64_t tail;
	} option = {
		.cmd = {
			.option = IOASID_OPTION_ACCOUNT,
			.val = IOASID_ACCOUNT_MM_PINNED,
		},
	};
	struct ioasid_iova_range r[4];
	uint64_t unmapped, val;
	uint32_t other;

	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	copy.cmd.dst_ioasid = other;

	/* COPY: dst_iova is the last mandatory field, iova_alignment next */
	copy.cmd.size = offsetof(struct ioasid_copy, iova_alignment) - 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &copy));
	copy.cmd.size = 8;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &copy));
	copy.cmd.size = sizeof(copy);
	copy.tail = 1;
	ASSERT_EQ(E2BIG, ioasid_call(self->fd, IOASID_COPY, &copy));
	ASSERT_IOASID_EMPTY(self->fd, other);
	ASSERT_EQ(self->base + 1, locked_pages());
	/* Longer with a zero tail, and without the optional alignment */
	copy.tail = 0;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_COPY, &copy));
	copy.cmd.size = offsetof(struct ioasid_copy, iova_alignment);
	copy.cmd.dst_iova = SZ_2M;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_COPY, &copy));
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, other, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);

	/* IOVA_RANGES: out_iova_alignment is the last mandatory field */
	memset(r, 0xa5, sizeof(r));
	ranges.cmd.ranges = (uintptr_t)r;
	ranges.cmd.size = sizeof(ranges.cmd) - 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ranges.cmd.size = offsetof(struct ioasid_iova_ranges,
				   out_iova_alignment);
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ranges.cmd.size = sizeof(ranges);
	ranges.tail = 1;
	ASSERT_EQ(E2BIG, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ASSERT_EQ(4, ranges.cmd.num_ranges);
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, r[0].start);
	ranges.tail = 0;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ASSERT_EQ(2, ranges.cmd.num_ranges);
	ASSERT_EQ(PAGE_SZ, ranges.cmd.out_iova_alignment);
	ASSERT_EQ(0, r[0].start);

	/* OPTION: val is the last mandatory field */
	option.cmd.size = sizeof(option.cmd) - 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_OPTION, &option));
	option.cmd.size = sizeof(option);
	option.tail = 1;
	ASSERT_EQ(E2BIG, ioasid_call(self->fd, IOASID_OPTION, &option));
	ASSERT_EQ(0, ioasid_get_option(self->fd, IOASID_OPTION_ACCOUNT,
				       &val));
	ASSERT_EQ(IOASID_ACCOUNT_MM_LOCKED, val);
	option.tail = 0;
	ASSERT_EQ(0, ioasid_call(self->fd, IOASID_OPTION, &option));
	ASSERT_EQ(0, ioasid_get_option(self->fd, IOASID_OPTION_ACCOUNT,
				       &val));
	ASSERT_EQ(IOASID_ACCOUNT_MM_PINNED, val);
}

/* Flags, reserved fields and ids of the new ioctls and fields */
TEST_F(dev, new_ioctls_bad_fields)
{
	struct ioasid_iova_ranges ranges = {
		.size = sizeof(ranges),
		.ioasid = self->ioasid,
		.num_ranges = 4,
	};
	struct ioasid_info info = { .size = sizeof(info) };
	struct ioasid_iova_range r[4];
	void *ro;

	memset(r, 0xa5, sizeof(r));
	ranges.ranges = (uintptr_t)r;
	ranges.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_IOVA_RANGES,
					  &ranges));
	ranges.flags = 1U << 31;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_IOVA_RANGES,
					  &ranges));
	ranges.flags = 0;
	ranges.ioasid = self->ioasid + 100;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ranges.ioasid = self->mock;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ASSERT_EQ(0xa5a5a5a5a5a5a5a5ULL, r[0].start);
	/* Room claimed, none given, or none writable */
	ranges.ioasid = self->ioasid;
	ranges.ranges = 0;
	ASSERT_EQ(EFAULT, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	ro = mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	ranges.ranges = (uintptr_t)ro;
	ASSERT_EQ(EFAULT, ioasid_call(self->fd, IOASID_IOVA_RANGES, &ranges));
	munmap(ro, PAGE_SZ);

	/* GET_INFO's new reserved field */
	info.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_GET_INFO, &info));
}

/*
 * COPY from IOASID a to IOASID b, each with a device of instance 0, and in
 * the two_iommus variant one of instance 1 as well (two domains each).
 */
FIXTURE(copy) {
	int fd;
	uint32_t a, b;
	uint32_t mocks_a[2], mocks_b[2];
	unsigned int nmocks;
	unsigned char *buf;
	long base;
};

FIXTURE_VARIANT(copy) {
	bool two_iommus;
};

FIXTURE_VARIANT_ADD(copy, one_iommu) {
	.two_iommus = false,
};

FIXTURE_VARIANT_ADD(copy, two_iommus) {
	.two_iommus = true,
};

FIXTURE_SETUP(copy)
{
	unsigned int i;

	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->a));
	ASSERT_EQ(0, ioasid_create(self->fd, &self->b));
	self->nmocks = variant->two_iommus ? 2 : 1;
	for (i = 0; i != self->nmocks; i++) {
		ASSERT_EQ(0, mock_new_attached(self->fd, i, self->a,
					       &self->mocks_a[i]));
		ASSERT_EQ(0, mock_new_attached(self->fd, i, self->b,
					       &self->mocks_b[i]));
	}
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_SIZE, 5);
	self->base = locked_pages();
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(copy)
{
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

#define COPY_SRC	(16 * SZ_1M)
#define COPY_DST	(32 * SZ_1M)

TEST_F(copy, reads_source)
{
	unsigned char out[128];
	uint64_t dst;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf, SZ_1M,
				      COPY_SRC));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());

	/* Part of it, at an IOVA of the kernel's choice */
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a,
				 COPY_SRC + 16 * PAGE_SZ, 64 * PAGE_SZ, &dst,
				 MAP_RW));
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, dst,
		   self->buf + 16 * PAGE_SZ, 64 * PAGE_SZ);
	check_fault(_metadata, self->fd, self->mocks_b, self->nmocks,
		    dst + 64 * PAGE_SZ, IOASID_TEST_FAULT_NOT_PRESENT);

	/* Devices of b write the memory that a maps */
	fill_pattern(out, sizeof(out), 42);
	dma_write(_metadata, self->fd, self->mocks_b[0], dst + 100, out,
		  sizeof(out));
	ASSERT_EQ(0, memcmp(self->buf + 16 * PAGE_SZ + 100, out,
			    sizeof(out)));
	check_data(_metadata, self->fd, self->mocks_a, self->nmocks,
		   COPY_SRC + 16 * PAGE_SZ + 100, out, sizeof(out));

	/* And at a fixed IOVA */
	dst = COPY_DST;
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a, COPY_SRC, SZ_1M,
				 &dst, MAP_FIXED_RW));
	ASSERT_EQ(COPY_DST, dst);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, COPY_DST,
		   self->buf, SZ_1M);
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
}

TEST_F(copy, outlives_source)
{
	uint64_t dst = COPY_DST, unmapped;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf, SZ_1M,
				      COPY_SRC));
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a, COPY_SRC, SZ_1M,
				 &dst, MAP_FIXED_RW));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->a, COPY_SRC, SZ_1M,
				  &unmapped));
	ASSERT_EQ(SZ_1M, unmapped);
	/* b holds the pages now */
	ASSERT_EQ(self->base + NPAGES(SZ_1M), locked_pages());
	check_unmapped(_metadata, self->fd, self->mocks_a, self->nmocks,
		       COPY_SRC, SZ_1M);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, COPY_DST,
		   self->buf, SZ_1M);

	/* Cutting the copy releases exactly what was cut */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->b, COPY_DST + 10 * PAGE_SZ,
				  2 * PAGE_SZ, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	ASSERT_EQ(self->base + NPAGES(SZ_1M) - 2, locked_pages());
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, COPY_DST,
		   self->buf, 10 * PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST + 10 * PAGE_SZ, 2 * PAGE_SZ);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks,
		   COPY_DST + 12 * PAGE_SZ, self->buf + 12 * PAGE_SZ,
		   SZ_1M - 12 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->b, &unmapped));
	ASSERT_EQ(SZ_1M - 2 * PAGE_SZ, unmapped);
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(copy, within_one_ioasid)
{
	uint64_t dst = COPY_SRC + 8 * PAGE_SZ;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf,
				      16 * PAGE_SZ, COPY_SRC));
	/* Not over its own source */
	ASSERT_EQ(EEXIST, ioasid_copy(self->fd, self->a, self->a, COPY_SRC,
				      16 * PAGE_SZ, &dst, MAP_FIXED_RW));
	dst = COPY_DST;
	ASSERT_EQ(0, ioasid_copy(self->fd, self->a, self->a, COPY_SRC,
				 16 * PAGE_SZ, &dst, MAP_FIXED_RW));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->a, COPY_SRC, 16 * PAGE_SZ,
				  NULL));
	check_data(_metadata, self->fd, self->mocks_a, self->nmocks, COPY_DST,
		   self->buf, 16 * PAGE_SZ);
	ASSERT_EQ(self->base + 16, locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->a, NULL));
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(copy, across_two_source_mappings)
{
	const uint64_t half = SZ_1M / 2;
	uint64_t dst = COPY_DST, unmapped;

	/* Two adjacent mappings of unrelated memory */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf, SZ_1M,
				      COPY_SRC));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf + 4 * SZ_1M,
				      SZ_1M, COPY_SRC + SZ_1M));
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a, COPY_SRC + half,
				 SZ_1M, &dst, MAP_FIXED_RW));
	ASSERT_EQ(self->base + 2 * NPAGES(SZ_1M), locked_pages());
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, COPY_DST,
		   self->buf + half, half);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks,
		   COPY_DST + half, self->buf + 4 * SZ_1M, half);
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST + SZ_1M, PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST - PAGE_SZ, PAGE_SZ);

	/* Cut across the seam of the copy */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->b,
				  COPY_DST + half - 2 * PAGE_SZ, 4 * PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(4 * PAGE_SZ, unmapped);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, COPY_DST,
		   self->buf + half, half - 2 * PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST + half - 2 * PAGE_SZ, 4 * PAGE_SZ);
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks,
		   COPY_DST + half + 2 * PAGE_SZ,
		   self->buf + 4 * SZ_1M + 2 * PAGE_SZ, half - 2 * PAGE_SZ);

	/* Without the source, b keeps what it still maps pinned */
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->a, &unmapped));
	ASSERT_EQ(2 * SZ_1M, unmapped);
	ASSERT_EQ(self->base + NPAGES(SZ_1M) - 4, locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->b, &unmapped));
	ASSERT_EQ(SZ_1M - 4 * PAGE_SZ, unmapped);
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(copy, source_with_hole)
{
	static const struct {
		uint64_t src, len;
	} bad[] = {
		{ COPY_SRC, 64 * PAGE_SZ },			/* across */
		{ COPY_SRC + 16 * PAGE_SZ, 16 * PAGE_SZ },	/* in it */
		{ COPY_SRC + 8 * PAGE_SZ, 32 * PAGE_SZ },	/* into it */
		{ COPY_SRC + 40 * PAGE_SZ, 16 * PAGE_SZ },	/* past */
		{ COPY_SRC - PAGE_SZ, 2 * PAGE_SZ },		/* before */
	};
	uint64_t dst;
	unsigned int i;

	/* [0, 16) and [32, 48) pages mapped: a hole between */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf,
				      16 * PAGE_SZ, COPY_SRC));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a,
				      self->buf + 32 * PAGE_SZ, 16 * PAGE_SZ,
				      COPY_SRC + 32 * PAGE_SZ));
	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		dst = COPY_DST;
		ASSERT_EQ(ENOENT, ioasid_copy(self->fd, self->b, self->a,
					      bad[i].src, bad[i].len, &dst,
					      MAP_FIXED_RW))
			TH_LOG("copy #%u", i);
	}
	/* Nothing copied from an IOASID with nothing in it */
	ASSERT_EQ(ENOENT, ioasid_copy(self->fd, self->a, self->b, COPY_SRC,
				      PAGE_SZ, &dst, MAP_RW));
	ASSERT_IOASID_EMPTY(self->fd, self->b);
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST, 64 * PAGE_SZ);
	ASSERT_EQ(self->base + 32, locked_pages());

	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a,
				 COPY_SRC + 32 * PAGE_SZ, 16 * PAGE_SZ, &dst,
				 MAP_RW));
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, dst,
		   self->buf + 32 * PAGE_SZ, 16 * PAGE_SZ);
}

TEST_F(copy, write_needs_writable_source)
{
	unsigned char byte = 0x11;
	uint64_t src = COPY_SRC, dst;
	struct dma_result res;
	unsigned int i;

	/* Pinned for reading only */
	ASSERT_EQ(0, ioasid_map(self->fd, self->a, self->buf, 16 * PAGE_SZ,
				&src, IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ));
	ASSERT_EQ(EPERM, ioasid_copy(self->fd, self->b, self->a, COPY_SRC,
				     16 * PAGE_SZ, &dst, MAP_RW));
	ASSERT_EQ(EPERM, ioasid_copy(self->fd, self->b, self->a, COPY_SRC,
				     16 * PAGE_SZ, &dst, IOASID_MAP_WRITE));
	ASSERT_IOASID_EMPTY(self->fd, self->b);
	ASSERT_EQ(self->base + 16, locked_pages());
	/* A read-only copy is fine, and stays read-only */
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a, COPY_SRC,
				 16 * PAGE_SZ, &dst, IOASID_MAP_READ));
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, dst,
		   self->buf, 16 * PAGE_SZ);
	for (i = 0; i != self->nmocks; i++) {
		ASSERT_EQ(0, mock_dma(self->fd, self->mocks_b[i], dst, &byte,
				      1, true, &res));
		ASSERT_EQ(IOASID_TEST_FAULT_PERMISSION, res.fault);
	}

	/* Writable memory copied read-only is read-only in the copy */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf + SZ_1M,
				      PAGE_SZ, COPY_DST));
	ASSERT_EQ(0, ioasid_copy(self->fd, self->b, self->a, COPY_DST,
				 PAGE_SZ, &dst, IOASID_MAP_READ));
	for (i = 0; i != self->nmocks; i++) {
		ASSERT_EQ(0, mock_dma(self->fd, self->mocks_b[i], dst, &byte,
				      1, true, &res));
		ASSERT_EQ(IOASID_TEST_FAULT_PERMISSION, res.fault);
	}
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, dst,
		   self->buf + SZ_1M, PAGE_SZ);
}

TEST_F(copy, bad_input)
{
	struct ioasid_copy cmd = {
		.size = sizeof(cmd),
		.flags = MAP_FIXED_RW,
		.dst_ioasid = self->b,
		.src_ioasid = self->a,
		.src_iova = COPY_SRC,
		.length = 16 * PAGE_SZ,
		.dst_iova = COPY_DST,
	};
	static const uint32_t bad_flags[] = {
		MAP_FIXED_RW | IOASID_MAP_FILE, MAP_FIXED_RW | (1U << 4),
		MAP_FIXED_RW | (1U << 31),
	};
	uint64_t unmapped, dst;
	unsigned int i;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->a, self->buf,
				      16 * PAGE_SZ, COPY_SRC));
	/* Something in b to collide with */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->b, self->buf + SZ_1M,
				      PAGE_SZ, COPY_DST + SZ_1M));

	for (i = 0; i != ARRAY_SIZE(bad_flags); i++) {
		cmd.flags = bad_flags[i];
		ASSERT_EQ(EOPNOTSUPP, ioasid_call(self->fd, IOASID_COPY, &cmd))
			TH_LOG("flags %#x", bad_flags[i]);
	}
	cmd.flags = IOASID_MAP_FIXED_IOVA;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.flags = MAP_FIXED_RW;

	/* Ids that are no IOASIDs */
	cmd.src_ioasid = self->a + 100;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.src_ioasid = self->mocks_a[0];
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.src_ioasid = 0;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.src_ioasid = self->a;
	cmd.dst_ioasid = self->b + 100;
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_ioasid = self->mocks_b[0];
	ASSERT_EQ(ENOENT, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_ioasid = self->b;

	/* Lengths and addresses */
	cmd.length = 0;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.length = 100;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.length = 16 * PAGE_SZ;
	cmd.src_iova = COPY_SRC + 8;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.src_iova = -PAGE_SZ;
	ASSERT_EQ(EOVERFLOW, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.src_iova = COPY_SRC;
	cmd.dst_iova = COPY_DST + 8;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_iova = 1ULL << 48;
	ASSERT_EQ(ERANGE, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_iova = COPY_DST + SZ_1M - PAGE_SZ;
	ASSERT_EQ(EEXIST, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_iova = RESV0 - PAGE_SZ;
	ASSERT_EQ(EADDRINUSE, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.dst_iova = COPY_DST;

	/* Alignments */
	cmd.iova_alignment = SZ_1M;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.flags = MAP_RW;
	cmd.dst_iova = 0;
	cmd.iova_alignment = 3 * PAGE_SZ;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	cmd.iova_alignment = PAGE_SZ / 2;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));
	/* A chosen IOVA with a fixed one given */
	cmd.iova_alignment = 0;
	cmd.dst_iova = COPY_DST;
	ASSERT_EQ(EINVAL, ioasid_call(self->fd, IOASID_COPY, &cmd));

	/* None of it did anything */
	ASSERT_EQ(self->base + 16 + 1, locked_pages());
	check_unmapped(_metadata, self->fd, self->mocks_b, self->nmocks,
		       COPY_DST, 16 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->b, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);

	/* And an aligned copy works */
	ASSERT_EQ(0, ioasid_copy_aligned(self->fd, self->b, self->a, COPY_SRC,
					 16 * PAGE_SZ, 8 * SZ_1M, &dst));
	ASSERT_EQ(0, dst % (8 * SZ_1M));
	check_data(_metadata, self->fd, self->mocks_b, self->nmocks, dst,
		   self->buf, 16 * PAGE_SZ);
}

/*
 * One IOASID with a device of instance 0 and one of instance 1: they
 * cannot share a domain, so the IOASID has two that must always agree.
 * Map failures are injected here too.
 */
FIXTURE(two_dom) {
	int fd;
	uint32_t ioasid;
	uint32_t mocks[2];
	unsigned char *buf;
	long base;
};

FIXTURE_SETUP(two_dom)
{
	unsigned int i;

	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	for (i = 0; i != 2; i++) {
		ASSERT_EQ(0, mock_new_attached(self->fd, i, self->ioasid,
					       &self->mocks[i]));
	}
	/* Small pages: more map calls for failures to hit */
	self->buf = alloc_backed(BACKING_SMALL, BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	self->base = locked_pages();
	ASSERT_LE(0, self->base);
}

FIXTURE_TEARDOWN(two_dom)
{
	mock_fail_map(self->fd, -1);
	close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

TEST_F(two_dom, same_translations)
{
	const uint64_t x = 16 * SZ_1M, y = 48 * SZ_1M;
	uint64_t dst = y, unmapped;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_1M, x));
	check_data(_metadata, self->fd, self->mocks, 2, x, self->buf, SZ_1M);
	check_unmapped(_metadata, self->fd, self->mocks, 2, x + SZ_1M,
		       PAGE_SZ);

	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, x + 64 * PAGE_SZ,
				  2 * PAGE_SZ, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	check_data(_metadata, self->fd, self->mocks, 2, x, self->buf,
		   64 * PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks, 2, x + 64 * PAGE_SZ,
		       2 * PAGE_SZ);
	check_data(_metadata, self->fd, self->mocks, 2, x + 66 * PAGE_SZ,
		   self->buf + 66 * PAGE_SZ, SZ_1M - 66 * PAGE_SZ);

	/* A copy across the cut has a hole; one beside it does not */
	ASSERT_EQ(ENOENT, ioasid_copy(self->fd, self->ioasid, self->ioasid, x,
				      SZ_1M, &dst, MAP_FIXED_RW));
	ASSERT_EQ(0, ioasid_copy(self->fd, self->ioasid, self->ioasid,
				 x + 66 * PAGE_SZ, 32 * PAGE_SZ, &dst,
				 MAP_FIXED_RW));
	check_data(_metadata, self->fd, self->mocks, 2, y,
		   self->buf + 66 * PAGE_SZ, 32 * PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks, 2, y + 32 * PAGE_SZ,
		       PAGE_SZ);

	/* One UNMAP over the source and the copy */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, x, y, &unmapped));
	ASSERT_EQ(SZ_1M - 2 * PAGE_SZ + 32 * PAGE_SZ, unmapped);
	check_unmapped(_metadata, self->fd, self->mocks, 2, x, SZ_1M);
	check_unmapped(_metadata, self->fd, self->mocks, 2, y, 32 * PAGE_SZ);
	ASSERT_EQ(self->base, locked_pages());
}

TEST_F(two_dom, late_domain_filled_from_mappings)
{
	const uint64_t x = 16 * SZ_1M, y = 48 * SZ_1M;
	uint64_t dst = y;
	bool got[2][NPAGES(SZ_1M)];
	unsigned int p;

	/* Instance 1's domain goes with its only device */
	ASSERT_EQ(0, mock_detach(self->fd, self->mocks[1]));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      SZ_1M, x));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, x + 64 * PAGE_SZ,
				  2 * PAGE_SZ, NULL));
	ASSERT_EQ(0, ioasid_copy(self->fd, self->ioasid, self->ioasid,
				 x + 128 * PAGE_SZ, 32 * PAGE_SZ, &dst,
				 MAP_FIXED_RW));
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, x + 130 * PAGE_SZ,
				  PAGE_SZ, NULL));

	/* A new domain for it, filled from the mappings: same view */
	ASSERT_EQ(0, mock_attach(self->fd, self->mocks[1], self->ioasid));
	for (p = 0; p != 2; p++)
		scan_pages(_metadata, self->fd, self->mocks[p], x, self->buf,
			   NPAGES(SZ_1M), got[p]);
	for (p = 0; p != NPAGES(SZ_1M); p++) {
		ASSERT_EQ(p != 64 && p != 65 && p != 130, got[0][p])
			TH_LOG("page %u", p);
		ASSERT_EQ(got[0][p], got[1][p])
			TH_LOG("page %u", p);
	}
	check_data(_metadata, self->fd, self->mocks, 2, y,
		   self->buf + 128 * PAGE_SZ, 32 * PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks, 2, y + 32 * PAGE_SZ,
		       PAGE_SZ);
}

TEST_F(two_dom, chosen_iova_skips_reserved)
{
	uint64_t iova;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      PAGE_SZ, 0));
	/* 1 GiB is instance 1's window: the next one is 2 GiB */
	ASSERT_EQ(0, ioasid_copy_aligned(self->fd, self->ioasid, self->ioasid,
					 0, PAGE_SZ, SZ_1G, &iova));
	ASSERT_EQ(2 * SZ_1G, iova);
	ASSERT_EQ(0, ioasid_map_aligned(self->fd, self->ioasid,
					self->buf + PAGE_SZ, PAGE_SZ, SZ_1G,
					&iova));
	ASSERT_EQ(3 * SZ_1G, iova);
	check_data(_metadata, self->fd, self->mocks, 2, 2 * SZ_1G, self->buf,
		   PAGE_SZ);
	check_data(_metadata, self->fd, self->mocks, 2, 3 * SZ_1G,
		   self->buf + PAGE_SZ, PAGE_SZ);
	check_unmapped(_metadata, self->fd, self->mocks, 2, RESV1, RESV_SIZE);
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst01, 3);
}

/*
 * @npages pages of address space all backed by the same shmem page: no two
 * neighbours are physically contiguous, so each takes an IOMMU map call of
 * its own.
 */
static unsigned char *alloc_aliased(unsigned int npages)
{
	unsigned char *va;
	unsigned int i;
	void *p;
	int mfd;

	mfd = memfd_create("ioasid-alias", 0);
	if (mfd < 0)
		return NULL;
	va = NULL;
	if (ftruncate(mfd, PAGE_SZ))
		goto out_close;
	p = mmap(NULL, npages * PAGE_SZ, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		goto out_close;
	va = p;
	for (i = 0; i != npages; i++) {
		p = mmap(va + i * PAGE_SZ, PAGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, mfd, 0);
		if (p == MAP_FAILED) {
			munmap(va, npages * PAGE_SZ);
			va = NULL;
			goto out_close;
		}
	}
	fill_pattern(va, PAGE_SZ, 9);
out_close:
	close(mfd);
	return va;
}

/*
 * A MAP whose k-th IOMMU map call fails, for every k until none does: the
 * MAP fails and leaves nothing mapped in either domain and nothing pinned.
 * Each page is a map call, so failures hit the middle of each domain too.
 */
TEST_F(two_dom, map_fails_cleanly)
{
	const uint64_t len = 16 * PAGE_SZ, iova = 16 * SZ_1M;
	unsigned char *buf = alloc_aliased(NPAGES(len));
	int k, rc;

	ASSERT_NE(NULL, buf);
	for (k = 0;; k++) {
		ASSERT_GT(128, k)
			TH_LOG("the MAP never succeeded");
		ASSERT_EQ(0, mock_fail_map(self->fd, k));
		rc = ioasid_map_fixed(self->fd, self->ioasid, buf, len, iova);
		ASSERT_EQ(0, mock_fail_map(self->fd, -1));
		if (!rc)
			break;
		ASSERT_EQ(ENOMEM, rc)
			TH_LOG("map call %d failing", k);
		check_unmapped(_metadata, self->fd, self->mocks, 2, iova, len);
		ASSERT_EQ(self->base, locked_pages());
		ASSERT_IOASID_EMPTY(self->fd, self->ioasid);
	}
	/* Sixteen pages in each of two domains */
	ASSERT_LE(2 * NPAGES(len), k);
	check_data(_metadata, self->fd, self->mocks, 2, iova, buf, len);
	ASSERT_EQ(self->base + NPAGES(len), locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	ASSERT_EQ(self->base, locked_pages());
	munmap(buf, len);
}

/* The same for a COPY of three source mappings into the IOASID itself */
TEST_F(two_dom, copy_fails_cleanly)
{
	const uint64_t src = 16 * SZ_1M, dst = 32 * SZ_1M;
	uint64_t iova, unmapped;
	unsigned int i;
	int k, rc;

	for (i = 0; i != 3; i++) {
		ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
					      self->buf + i * SZ_1M,
					      4 * PAGE_SZ,
					      src + i * 4 * PAGE_SZ));
	}
	for (k = 0;; k++) {
		ASSERT_GT(64, k)
			TH_LOG("the COPY never succeeded");
		iova = dst;
		ASSERT_EQ(0, mock_fail_map(self->fd, k));
		rc = ioasid_copy(self->fd, self->ioasid, self->ioasid, src,
				 12 * PAGE_SZ, &iova, MAP_FIXED_RW);
		ASSERT_EQ(0, mock_fail_map(self->fd, -1));
		if (!rc)
			break;
		ASSERT_EQ(ENOMEM, rc)
			TH_LOG("map call %d failing", k);
		check_unmapped(_metadata, self->fd, self->mocks, 2, dst,
			       12 * PAGE_SZ);
		for (i = 0; i != 3; i++)
			check_data(_metadata, self->fd, self->mocks, 2,
				   src + i * 4 * PAGE_SZ,
				   self->buf + i * SZ_1M, 4 * PAGE_SZ);
		ASSERT_EQ(self->base + 12, locked_pages());
		ASSERT_EQ(ENOENT, ioasid_unmap(self->fd, self->ioasid, dst,
					       12 * PAGE_SZ, NULL));
	}
	/* Three mappings in each of two domains */
	ASSERT_LE(6, k);
	for (i = 0; i != 3; i++)
		check_data(_metadata, self->fd, self->mocks, 2,
			   dst + i * 4 * PAGE_SZ, self->buf + i * SZ_1M,
			   4 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, dst, 12 * PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(12 * PAGE_SZ, unmapped);
	ASSERT_EQ(self->base + 12, locked_pages());
}

/* Mappings for the attach tests: four of them, one with a cut in it */
static void map_four(struct __test_metadata *_metadata, int fd,
		     uint32_t ioasid, unsigned char *buf)
{
	unsigned int i;

	for (i = 0; i != 4; i++) {
		ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + i * SZ_1M,
					      8 * PAGE_SZ,
					      16 * SZ_1M + i * SZ_1M));
	}
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, 16 * SZ_1M + 3 * PAGE_SZ,
				  PAGE_SZ, NULL));
}

/* The devices of @mocks see what map_four() mapped */
static void check_four(struct __test_metadata *_metadata, int fd,
		       const unsigned char *buf, const uint32_t *mocks,
		       unsigned int nmocks)
{
	unsigned int i;

	check_data(_metadata, fd, mocks, nmocks, 16 * SZ_1M, buf,
		   3 * PAGE_SZ);
	check_unmapped(_metadata, fd, mocks, nmocks, 16 * SZ_1M + 3 * PAGE_SZ,
		       PAGE_SZ);
	check_data(_metadata, fd, mocks, nmocks, 16 * SZ_1M + 4 * PAGE_SZ,
		   buf + 4 * PAGE_SZ, 4 * PAGE_SZ);
	for (i = 1; i != 4; i++)
		check_data(_metadata, fd, mocks, nmocks,
			   16 * SZ_1M + i * SZ_1M, buf + i * SZ_1M,
			   8 * PAGE_SZ);
}

/*
 * Attaching instance 1's device builds its domain from the mappings; when
 * a map call fails on the way the attach fails, the device stays blocked
 * and the IOASID as it was.
 */
TEST_F(two_dom, attach_fails_cleanly)
{
	int k, rc;

	ASSERT_EQ(0, mock_detach(self->fd, self->mocks[1]));
	map_four(_metadata, self->fd, self->ioasid, self->buf);
	for (k = 0;; k++) {
		ASSERT_GT(64, k)
			TH_LOG("the attach never succeeded");
		ASSERT_EQ(0, mock_fail_map(self->fd, k));
		rc = mock_attach(self->fd, self->mocks[1], self->ioasid);
		ASSERT_EQ(0, mock_fail_map(self->fd, -1));
		if (!rc)
			break;
		ASSERT_EQ(ENOMEM, rc)
			TH_LOG("map call %d failing", k);
		check_fault(_metadata, self->fd, &self->mocks[1], 1,
			    16 * SZ_1M, IOASID_TEST_FAULT_BLOCKED);
		check_four(_metadata, self->fd, self->buf, self->mocks, 1);
		check_ranges(_metadata, self->fd, self->ioasid, ranges_inst0,
			     2);
	}
	/* Five runs of pages at least */
	ASSERT_LE(5, k);
	check_four(_metadata, self->fd, self->buf, self->mocks, 2);
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst01, 3);
}

/* The same when the device moves over from another IOASID */
TEST_F(two_dom, replace_fails_keeps_old)
{
	uint32_t other;
	int k, rc;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + 6 * SZ_1M, PAGE_SZ,
				      16 * SZ_1M));
	ASSERT_EQ(0, ioasid_create(self->fd, &other));
	map_four(_metadata, self->fd, other, self->buf);
	for (k = 0;; k++) {
		ASSERT_GT(64, k)
			TH_LOG("the attach never succeeded");
		ASSERT_EQ(0, mock_fail_map(self->fd, k));
		rc = mock_attach(self->fd, self->mocks[1], other);
		ASSERT_EQ(0, mock_fail_map(self->fd, -1));
		if (!rc)
			break;
		ASSERT_EQ(ENOMEM, rc)
			TH_LOG("map call %d failing", k);
		/* Still on the first IOASID, which is untouched */
		check_data(_metadata, self->fd, self->mocks, 2, 16 * SZ_1M,
			   self->buf + 6 * SZ_1M, PAGE_SZ);
		check_unmapped(_metadata, self->fd, self->mocks, 2,
			       17 * SZ_1M, PAGE_SZ);
		check_ranges(_metadata, self->fd, self->ioasid, ranges_inst01,
			     3);
	}
	ASSERT_LE(5, k);
	check_four(_metadata, self->fd, self->buf, &self->mocks[1], 1);
	check_data(_metadata, self->fd, self->mocks, 1, 16 * SZ_1M,
		   self->buf + 6 * SZ_1M, PAGE_SZ);
	check_ranges(_metadata, self->fd, self->ioasid, ranges_inst0, 2);
	check_ranges(_metadata, self->fd, other, ranges_inst1, 2);
}

/* Accounting, in each mode */
FIXTURE(account) {
	int fd;
	uint32_t ioasid;
	unsigned char *buf;
	long locked;
	long pinned;
};

FIXTURE_VARIANT(account) {
	uint32_t mode;
};

FIXTURE_VARIANT_ADD(account, mm_locked) {
	.mode = IOASID_ACCOUNT_MM_LOCKED,
};

FIXTURE_VARIANT_ADD(account, user) {
	.mode = IOASID_ACCOUNT_USER,
};

FIXTURE_VARIANT_ADD(account, mm_pinned) {
	.mode = IOASID_ACCOUNT_MM_PINNED,
};

FIXTURE_SETUP(account)
{
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, ioasid_set_option(self->fd, IOASID_OPTION_ACCOUNT,
				       variant->mode));
	self->buf = alloc_buf(BUF_SIZE);
	ASSERT_NE(NULL, self->buf);
	fill_pattern(self->buf, BUF_SIZE, 7);
	self->locked = locked_pages();
	self->pinned = pinned_pages();
	ASSERT_LE(0, self->locked);
	ASSERT_LE(0, self->pinned);
}

FIXTURE_TEARDOWN(account)
{
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->buf, BUF_SIZE);
}

/*
 * @n pages are charged where @mode says, on top of @locked VmLck and
 * @pinned VmPin pages, and nothing anywhere else
 */
static void check_charged(struct __test_metadata *_metadata, uint32_t mode,
			  long locked, long pinned, long n)
{
	ASSERT_EQ(locked + (mode == IOASID_ACCOUNT_MM_LOCKED ? n : 0),
		  locked_pages());
	ASSERT_EQ(pinned + (mode == IOASID_ACCOUNT_MM_PINNED ? n : 0),
		  pinned_pages());
}

/* PF_SUPERPRIV of include/linux/sched.h: the task used a capability */
#define TASK_USED_PRIVILEGE	0x100

/*
 * Has this process used a capability it holds since it was forked (its
 * flags, field 9 of /proc/self/stat, after the command name)? -1 if they
 * cannot be read
 */
static int used_privilege(void)
{
	unsigned long flags;
	char stat[1024], *p;
	ssize_t n;
	int fd;

	fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	stat[n] = 0;
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return -1;
	return !!(flags & TASK_USED_PRIVILEGE);
}

TEST_F(account, mode_reported)
{
	struct ioasid_info info;
	uint64_t val = ~0ULL;

	ASSERT_EQ(0, ioasid_get_option(self->fd, IOASID_OPTION_ACCOUNT,
				       &val));
	ASSERT_EQ(variant->mode, val);
	ASSERT_EQ(0, ioasid_get_info(self->fd, &info));
	ASSERT_EQ(variant->mode, info.out_account);
}

TEST_F(account, charges_exactly)
{
	const uint32_t mode = variant->mode;

	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      64 * PAGE_SZ, 0));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + SZ_1M, 3 * PAGE_SZ, SZ_1M));
	check_charged(_metadata, mode, self->locked, self->pinned, 67);
	/* The same memory again costs nothing */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      64 * PAGE_SZ, SZ_2M));
	check_charged(_metadata, mode, self->locked, self->pinned, 67);
	/* A hole in both mappings of it gives the hole back */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 16 * PAGE_SZ,
				  8 * PAGE_SZ, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 67);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid,
				  SZ_2M + 16 * PAGE_SZ, 8 * PAGE_SZ, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 59);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 0);

	/* So does closing the context with mappings alive */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      64 * PAGE_SZ, 0));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	close(self->fd);
	self->fd = -1;
	check_charged(_metadata, mode, self->locked, self->pinned, 0);
}

/*
 * Map pages one by one until RLIMIT_MEMLOCK refuses: how many fit. The
 * context is left empty again.
 */
static long memlock_room(struct __test_metadata *_metadata, int fd,
			 uint32_t ioasid, unsigned char *buf, long max)
{
	long room;
	int rc = 0;

	for (room = 0; room <= max; room++) {
		rc = ioasid_map_fixed(fd, ioasid, buf + room * PAGE_SZ,
				      PAGE_SZ, room * PAGE_SZ);
		if (rc)
			break;
	}
	ASSERT_EQ(ENOMEM, rc);
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, NULL));
	return room;
}

TEST_F(account, limit_enforced)
{
	const uint32_t mode = variant->mode;
	long base, room;

	/* Root has CAP_IPC_LOCK, which lifts the limit */
	ASSERT_EQ(0, drop_cap_ipc_lock());

	/* What the mode's counter holds already; the user's is invisible */
	base = mode == IOASID_ACCOUNT_MM_LOCKED ? self->locked :
	       mode == IOASID_ACCOUNT_MM_PINNED ? self->pinned : 0;
	ASSERT_EQ(0, set_memlock_pages(base + 64));
	room = memlock_room(_metadata, self->fd, self->ioasid, self->buf,
			    64);
	/* Only the user's counter may hold pages this test cannot see */
	ASSERT_EQ(64, mode == IOASID_ACCOUNT_USER ? 64 : room);
	if (!room)
		SKIP(return, "the user has 64 pages locked already");
	base += 64 - room;
	ASSERT_EQ(0, set_memlock_pages(base + 64));
	check_charged(_metadata, mode, self->locked, self->pinned, 0);

	/* 64 pages fit, the 65th does not, and the refusal costs nothing */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      64 * PAGE_SZ, 0));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + 64 * PAGE_SZ, PAGE_SZ,
					   SZ_1M));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);

	/* One page given back makes room for exactly one */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, 10 * PAGE_SZ,
				  PAGE_SZ, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 63);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + 64 * PAGE_SZ, PAGE_SZ,
				      SZ_1M));
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + 65 * PAGE_SZ, PAGE_SZ,
					   SZ_1M + PAGE_SZ));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	/* Memory pinned already is free even at the limit */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      10 * PAGE_SZ, SZ_2M));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);

	/* A refused MAP of many pages charges none of them */
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 0);
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
					   65 * PAGE_SZ, 0));
	check_charged(_metadata, mode, self->locked, self->pinned, 0);
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      64 * PAGE_SZ, 0));

	/* Closing the context gives all of it back */
	close(self->fd);
	self->fd = ioasid_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioasid_create(self->fd, &self->ioasid));
	ASSERT_EQ(0, ioasid_set_option(self->fd, IOASID_OPTION_ACCOUNT,
				       mode));
	ASSERT_EQ(64, memlock_room(_metadata, self->fd, self->ioasid,
				   self->buf, 64));
}

/*
 * CAP_IPC_LOCK lifts RLIMIT_MEMLOCK in every mode: with it, a MAP far past
 * the limit is charged in full; without it, not one page more fits. The
 * capability is asked for only when the limit is in the way, so a MAP well
 * under it uses no privilege; but in mm_locked mode, whose charge is
 * account_locked_vm()'s, which always asks.
 */
TEST_F(account, limit_lifted_by_cap)
{
	const uint32_t mode = variant->mode;

	/* Lowering the limit takes no privilege; 4 GiB is far from it */
	ASSERT_EQ(0, set_memlock_pages(1UL << 20));
	ASSERT_EQ(0, used_privilege());
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid, self->buf,
				      4 * PAGE_SZ, 0));
	check_charged(_metadata, mode, self->locked, self->pinned, 4);
	ASSERT_EQ(mode == IOASID_ACCOUNT_MM_LOCKED, used_privilege());

	ASSERT_EQ(0, set_memlock_pages(8));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      self->buf + 4 * PAGE_SZ, 60 * PAGE_SZ,
				      4 * PAGE_SZ));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	ASSERT_EQ(1, used_privilege());

	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(self->fd, self->ioasid,
					   self->buf + 64 * PAGE_SZ, PAGE_SZ,
					   SZ_1M));
	check_charged(_metadata, mode, self->locked, self->pinned, 64);
	ASSERT_EQ(0, ioasid_unmap_all(self->fd, self->ioasid, NULL));
	check_charged(_metadata, mode, self->locked, self->pinned, 0);
}

TEST(account_default_mm_locked)
{
	struct ioasid_info info;
	uint64_t val = ~0ULL;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_get_option(fd, IOASID_OPTION_ACCOUNT, &val));
	ASSERT_EQ(IOASID_ACCOUNT_MM_LOCKED, val);
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(IOASID_ACCOUNT_MM_LOCKED, info.out_account);
	close(fd);
}

/* Memory stays charged where it was when the mode changes */
TEST(account_mode_sticks_to_pins)
{
	unsigned char *buf = alloc_buf(SZ_1M);
	long locked, pinned;
	uint32_t ioasid;
	int fd;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, SZ_1M, 2);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	locked = locked_pages();
	pinned = pinned_pages();

	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, 64 * PAGE_SZ, 0));
	ASSERT_EQ(0, ioasid_set_option(fd, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_MM_PINNED));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 128 * PAGE_SZ,
				      32 * PAGE_SZ, SZ_1M));
	ASSERT_EQ(locked + 64, locked_pages());
	ASSERT_EQ(pinned + 32, pinned_pages());

	ASSERT_EQ(0, ioasid_set_option(fd, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_USER));
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, 0, 64 * PAGE_SZ, NULL));
	ASSERT_EQ(locked, locked_pages());
	ASSERT_EQ(pinned + 32, pinned_pages());
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, SZ_1M + 8 * PAGE_SZ,
				  8 * PAGE_SZ, NULL));
	ASSERT_EQ(pinned + 24, pinned_pages());
	close(fd);
	ASSERT_EQ(locked, locked_pages());
	ASSERT_EQ(pinned, pinned_pages());
}

/*
 * The uAPI: memory the context holds pinned already is shared, not charged
 * again, and memory pinned before a mode change stays charged as it was.
 * So mapping it again after the change charges nothing in the new mode.
 */
TEST(account_change_shares_pinned)
{
	unsigned char *buf = alloc_buf(SZ_1M);
	long locked, pinned;
	uint32_t ioasid;
	int fd;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, SZ_1M, 2);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	locked = locked_pages();
	pinned = pinned_pages();

	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, 64 * PAGE_SZ, 0));
	ASSERT_EQ(0, ioasid_set_option(fd, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_MM_PINNED));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, 64 * PAGE_SZ, SZ_1M));
	ASSERT_EQ(locked + 64, locked_pages());
	ASSERT_EQ(pinned, pinned_pages());
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, 0, 64 * PAGE_SZ, NULL));
	ASSERT_EQ(locked + 64, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, SZ_1M, 64 * PAGE_SZ, NULL));
	ASSERT_EQ(locked, locked_pages());
	ASSERT_EQ(pinned, pinned_pages());
	close(fd);
}

/* IOASID_ACCOUNT_USER charges the user: all its contexts share a limit */
TEST(account_user_shared_by_contexts)
{
	unsigned char *buf = alloc_buf(SZ_1M);
	uint32_t id1, id2;
	long room, locked;
	int fd1, fd2, rc = 0;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, SZ_1M, 4);
	fd1 = ioasid_open();
	fd2 = ioasid_open();
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioasid_create(fd1, &id1));
	ASSERT_EQ(0, ioasid_create(fd2, &id2));
	ASSERT_EQ(0, ioasid_set_option(fd1, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_USER));
	ASSERT_EQ(0, ioasid_set_option(fd2, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_USER));
	ASSERT_EQ(0, drop_cap_ipc_lock());
	ASSERT_EQ(0, set_memlock_pages(64));

	/* Fill the user's room from the first context */
	for (room = 0; room <= 64; room++) {
		rc = ioasid_map_fixed(fd1, id1, buf + room * PAGE_SZ,
				      PAGE_SZ, room * PAGE_SZ);
		if (rc)
			break;
	}
	ASSERT_EQ(ENOMEM, rc);
	if (!room)
		SKIP(return, "the user has 64 pages locked already");

	/* None left for the second */
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(fd2, id2, buf + 128 * PAGE_SZ,
					   PAGE_SZ, 0));
	/* It is the user's limit, not the process's: VmLck has room */
	locked = locked_pages();
	ASSERT_EQ(0, ioasid_set_option(fd2, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_MM_LOCKED));
	ASSERT_EQ(0, ioasid_map_fixed(fd2, id2, buf + 128 * PAGE_SZ, PAGE_SZ,
				      0));
	ASSERT_EQ(locked + 1, locked_pages());

	/* Room made by one context is room for the other */
	ASSERT_EQ(0, ioasid_set_option(fd2, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_USER));
	ASSERT_EQ(0, ioasid_unmap(fd1, id1, 0, PAGE_SZ, NULL));
	ASSERT_EQ(0, ioasid_map_fixed(fd2, id2, buf + 129 * PAGE_SZ, PAGE_SZ,
				      PAGE_SZ));
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(fd2, id2, buf + 130 * PAGE_SZ,
					   PAGE_SZ, 2 * PAGE_SZ));
	close(fd1);
	ASSERT_EQ(0, ioasid_map_fixed(fd2, id2, buf + 130 * PAGE_SZ, PAGE_SZ,
				      2 * PAGE_SZ));
	close(fd2);
}

TEST(option_bad_input)
{
	static const uint32_t bad_options[] = { 0, 2, 3, 1U << 31, ~0U };
	static const uint64_t bad_values[] = {
		3, 4, 1ULL << 32, (1ULL << 32) | IOASID_ACCOUNT_USER, ~0ULL,
	};
	struct ioasid_option cmd = {
		.size = sizeof(cmd),
		.option = IOASID_OPTION_ACCOUNT,
		.val = IOASID_ACCOUNT_MM_PINNED,
	};
	struct ioasid_info info;
	uint64_t val;
	unsigned int i;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_set_option(fd, IOASID_OPTION_ACCOUNT,
				       IOASID_ACCOUNT_USER));
	for (i = 0; i != ARRAY_SIZE(bad_options); i++) {
		ASSERT_EQ(EOPNOTSUPP,
			  ioasid_set_option(fd, bad_options[i],
					    IOASID_ACCOUNT_MM_PINNED));
		ASSERT_EQ(EOPNOTSUPP,
			  ioasid_get_option(fd, bad_options[i], &val));
	}
	for (i = 0; i != ARRAY_SIZE(bad_values); i++) {
		ASSERT_EQ(EINVAL, ioasid_set_option(fd, IOASID_OPTION_ACCOUNT,
						    bad_values[i]))
			TH_LOG("value %#llx",
			       (unsigned long long)bad_values[i]);
	}

	cmd.flags = 1U << 1;
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(fd, IOASID_OPTION, &cmd));
	cmd.flags = IOASID_OPTION_GET | (1U << 31);
	ASSERT_EQ(EOPNOTSUPP, ioasid_call(fd, IOASID_OPTION, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	ASSERT_EQ(EINVAL, ioasid_call(fd, IOASID_OPTION, &cmd));
	cmd.flags = IOASID_OPTION_GET;
	ASSERT_EQ(EINVAL, ioasid_call(fd, IOASID_OPTION, &cmd));

	/* None of it changed the mode */
	ASSERT_EQ(0, ioasid_get_option(fd, IOASID_OPTION_ACCOUNT, &val));
	ASSERT_EQ(IOASID_ACCOUNT_USER, val);
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(IOASID_ACCOUNT_USER, info.out_account);
	close(fd);
}

TEST(iova_ranges_follow_devices)
{
	uint32_t ioasid, m0, m1;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	/* No IOMMU yet: the whole 64-bit space */
	check_ranges(_metadata, fd, ioasid, ranges_unbound, 1);
	/* Bound: the IOMMU's aperture; windows come with attaching */
	ASSERT_EQ(0, mock_new(fd, 0, &m0));
	check_ranges(_metadata, fd, ioasid, ranges_bound, 1);
	ASSERT_EQ(0, mock_attach(fd, m0, ioasid));
	check_ranges(_metadata, fd, ioasid, ranges_inst0, 2);
	ASSERT_EQ(0, mock_new_attached(fd, 1, ioasid, &m1));
	check_ranges(_metadata, fd, ioasid, ranges_inst01, 3);
	/* And go with detaching, or with the device */
	ASSERT_EQ(0, mock_detach(fd, m1));
	check_ranges(_metadata, fd, ioasid, ranges_inst0, 2);
	ASSERT_EQ(0, mock_attach(fd, m1, ioasid));
	ASSERT_EQ(0, mock_destroy(fd, m0));
	check_ranges(_metadata, fd, ioasid, ranges_inst1, 2);
	/* With no device bound, no IOMMU limits the space any more */
	ASSERT_EQ(0, mock_unbind(fd, m1));
	check_ranges(_metadata, fd, ioasid, ranges_unbound, 1);
	close(fd);
}

TEST(attach_refused_outside_aperture)
{
	unsigned char *buf = alloc_buf(PAGE_SZ);
	uint32_t ioasid, m0;
	int fd = ioasid_open();

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	/* No IOMMU yet, so any IOVA goes */
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, 1ULL << 48));
	ASSERT_EQ(0, mock_new(fd, 0, &m0));
	/* The mock IOMMU cannot reach it */
	ASSERT_EQ(ERANGE, mock_attach(fd, m0, ioasid));
	check_fault(_metadata, fd, &m0, 1, 0, IOASID_TEST_FAULT_BLOCKED);
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, 1ULL << 48, PAGE_SZ, NULL));
	ASSERT_EQ(0, mock_attach(fd, m0, ioasid));
	check_fault(_metadata, fd, &m0, 1, 0, IOASID_TEST_FAULT_NOT_PRESENT);
	close(fd);
}

/* The last page of the 64-bit IOVA space, before an IOMMU limits it */
TEST(copy_at_top_of_iova_space)
{
	unsigned char *buf = alloc_buf(PAGE_SZ);
	uint64_t top = -PAGE_SZ, dst = top, unmapped;
	uint32_t a, b;
	long base;
	int fd = ioasid_open();

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &a));
	ASSERT_EQ(0, ioasid_create(fd, &b));
	base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(fd, a, buf, PAGE_SZ, top));
	ASSERT_EQ(0, ioasid_copy(fd, b, a, top, PAGE_SZ, &dst, MAP_FIXED_RW));
	ASSERT_EQ(base + 1, locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(fd, a, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(base + 1, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(fd, b, top, PAGE_SZ, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(base, locked_pages());
	close(fd);
}

/*
 * One mapping whose memory is 4 KiB pages around one 2 MiB THP page, so
 * that the IOMMU maps it with both page sizes. A cut from the middle of
 * the large page into the small ones is refused, changing nothing; one
 * from the end of the large page into the small ones must leave exactly
 * the rest mapped: every page of the cut faults, every other page reads
 * its own data, on both sides of the cut, and VmLck holds exactly the
 * pages left.
 */
TEST(cut_across_page_sizes)
{
	const uint64_t iova = 64 * SZ_2M, len = 4 * SZ_2M;
	const uint64_t cut = 2 * SZ_2M, cut_len = 3 * SZ_1M;
	uint64_t unmapped, off;
	uint32_t ioasid, mock;
	unsigned char *buf;
	long base;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &mock));
	buf = alloc_aligned(len);
	ASSERT_NE(NULL, buf);
	/* [2M, 4M) one THP page; the rest 4 KiB pages, faulted scattered */
	ASSERT_EQ(0, madvise(buf, SZ_2M, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, madvise(buf + 2 * SZ_2M, 2 * SZ_2M, MADV_NOHUGEPAGE));
	if (madvise(buf + SZ_2M, SZ_2M, MADV_HUGEPAGE))
		SKIP(return, "no THP");
	memset(buf + SZ_2M, 1, SZ_2M);
	if (thp_bytes(buf + SZ_2M) < (long)SZ_2M)
		SKIP(return, "no THP page to be had");
	/* The large page, present already, stays one */
	fault_scattered(buf, len);
	fill_pattern(buf, len, 7);
	base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, iova));
	ASSERT_EQ(SZ_2M, dma_pgsize(fd, mock, iova + SZ_2M));
	ASSERT_EQ(PAGE_SZ, dma_pgsize(fd, mock, iova + 5 * SZ_1M));

	ASSERT_EQ(EXDEV, ioasid_unmap(fd, ioasid, iova + SZ_2M + SZ_1M,
				      cut_len, &unmapped));
	ASSERT_EQ(SZ_2M, dma_pgsize(fd, mock, iova + SZ_2M));
	ASSERT_EQ(base + (long)(len / PAGE_SZ), locked_pages());

	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, iova + cut, cut_len,
				  &unmapped));
	ASSERT_EQ(cut_len, unmapped);
	for (off = 0; off < len; off += PAGE_SZ) {
		struct dma_result res;
		unsigned char byte;

		ASSERT_EQ(0, mock_dma(fd, mock, iova + off, &byte, 1, false,
				      &res));
		if (off >= cut && off < cut + cut_len) {
			ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT, res.fault)
				TH_LOG("page at +%#llx still mapped",
				       (unsigned long long)off);
		} else {
			ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault)
				TH_LOG("page at +%#llx lost",
				       (unsigned long long)off);
			ASSERT_EQ(buf[off], byte);
		}
	}
	ASSERT_EQ(base + (long)((len - cut_len) / PAGE_SZ), locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, &unmapped));
	ASSERT_EQ(len - cut_len, unmapped);
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(buf, len);
}

TEST(incompatible_iommu)
{
	unsigned char *buf = alloc_buf(SZ_1M);
	uint32_t ioasid, id2, m0, m1, m2, other;
	struct ioasid_info info;
	uint64_t iova;
	int fd, fd2;

	ASSERT_NE(NULL, buf);
	fill_pattern(buf, SZ_1M, 8);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));

	ASSERT_EQ(0, mock_create(fd, 2, &m2));
	ASSERT_EQ(EXDEV, mock_bind(fd, m2, NULL));
	/* Left unbound, not half bound */
	ASSERT_EQ(EXDEV, mock_bind(fd, m2, NULL));
	ASSERT_EQ(ENODEV, mock_attach(fd, m2, ioasid));
	ASSERT_EQ(ENODEV, mock_unbind(fd, m2));
	check_fault(_metadata, fd, &m2, 1, 0, IOASID_TEST_FAULT_BLOCKED);
	/* The context kept its IOMMU, which instance 1 is compatible with */
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(PAGE_SZ | SZ_2M | SZ_1G, info.out_pgsize_bitmap);
	ASSERT_EQ(0, mock_new_attached(fd, 1, ioasid, &m1));
	ASSERT_EQ(0, mock_destroy(fd, m2));

	/* A context of its own takes instance 2, then refuses instance 0 */
	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, ioasid_create(fd2, &id2));
	ASSERT_EQ(0, mock_new_attached(fd2, 2, id2, &m2));
	ASSERT_EQ(0, ioasid_get_info(fd2, &info));
	ASSERT_EQ(PAGE_SZ, info.out_pgsize_bitmap);
	ASSERT_EQ(0, ioasid_map(fd2, id2, buf, SZ_1M, &iova, MAP_RW));
	check_data(_metadata, fd2, &m2, 1, iova, buf, SZ_1M);
	ASSERT_EQ(0, mock_create(fd2, 0, &other));
	ASSERT_EQ(EXDEV, mock_bind(fd2, other, NULL));
	check_fault(_metadata, fd2, &other, 1, iova,
		    IOASID_TEST_FAULT_BLOCKED);
	close(fd2);
	close(fd);
}

/*
 * UNMAP must be aligned to the smallest page of every domain, not only of
 * the context's first IOMMU: instance 3 has no page below 2 MiB. A 4 KiB
 * UNMAP the instance 0 domain could do, the instance 3 domain could not,
 * and unpinning memory that one domain still maps would hand it to the
 * device after it is freed.
 */
TEST(unmap_aligned_for_every_domain)
{
	const uint64_t iova = 256 * SZ_1M, len = 2 * SZ_2M;
	uint32_t ioasid, m0, m3;
	uint64_t unmapped = 0;
	unsigned char *buf;
	long base;
	int fd;

	buf = alloc_large(len);
	if (!buf)
		SKIP(return, "no 2 MiB pages to test with");
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	ASSERT_EQ(0, mock_new_attached(fd, 3, ioasid, &m3));
	base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, iova));
	check_data(_metadata, fd, &m3, 1, iova, buf, len);

	ASSERT_EQ(EINVAL, ioasid_unmap(fd, ioasid, iova + PAGE_SZ, PAGE_SZ,
				       &unmapped));
	ASSERT_EQ(EINVAL, ioasid_unmap(fd, ioasid, iova, SZ_2M + PAGE_SZ,
				       &unmapped));
	ASSERT_EQ(0, unmapped);
	check_data(_metadata, fd, &m0, 1, iova, buf, len);
	check_data(_metadata, fd, &m3, 1, iova, buf, len);
	ASSERT_EQ(base + NPAGES(len), locked_pages());

	/* 2 MiB it can do */
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, iova + SZ_2M, SZ_2M,
				  &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	check_data(_metadata, fd, &m3, 1, iova, buf, SZ_2M);
	check_unmapped(_metadata, fd, &m3, 1, iova + SZ_2M, SZ_2M);

	/*
	 * Without the instance 3 device, 4 KiB alignment is enough again, but
	 * the instance 0 domain maps the memory with a 2 MiB page too
	 */
	ASSERT_EQ(0, mock_destroy(fd, m3));
	ASSERT_EQ(EXDEV, ioasid_unmap(fd, ioasid, iova, PAGE_SZ, &unmapped));
	check_data(_metadata, fd, &m0, 1, iova, buf, SZ_2M);
	close(fd);
	munmap(buf, len);
}

/*
 * A context whose IOMMU has no page below 2 MiB (instance 3): GET_INFO
 * reports its page sizes, and MAP and UNMAP take multiples of 2 MiB only,
 * in IOVA, length and user address, refusing anything else with nothing
 * mapped, pinned or unmapped. The context's IOMMU is its first: a second
 * context that starts with instance 0 reports 4 KiB pages whatever comes
 * after.
 */
TEST(context_without_small_pages)
{
	const uint64_t iova = 256 * SZ_1M, len = 2 * SZ_2M;
	struct ioasid_info info;
	uint32_t ioasid, m0, m3;
	uint64_t got, unmapped = 0;
	unsigned char *buf;
	long base;
	int fd;

	buf = alloc_large(len);
	if (!buf)
		SKIP(return, "no 2 MiB pages to test with");
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 3, ioasid, &m3));
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(SZ_2M | SZ_1G, info.out_pgsize_bitmap);
	base = locked_pages();

	/* Less than 2 MiB in IOVA, length or address: refused */
	ASSERT_EQ(EINVAL, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, iova));
	ASSERT_EQ(EINVAL, ioasid_map_fixed(fd, ioasid, buf, len,
					   iova + PAGE_SZ));
	ASSERT_EQ(EINVAL, ioasid_map_fixed(fd, ioasid, buf + PAGE_SZ, SZ_2M,
					   iova));
	ASSERT_EQ(EINVAL, ioasid_map(fd, ioasid, buf, SZ_2M + PAGE_SZ, &got,
				     MAP_RW));
	ASSERT_EQ(EINVAL, ioasid_map(fd, ioasid, buf + PAGE_SZ, SZ_2M, &got,
				     MAP_RW));
	ASSERT_EQ(base, locked_pages());
	check_unmapped(_metadata, fd, &m3, 1, iova, len);

	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, iova));
	check_data(_metadata, fd, &m3, 1, iova, buf, len);
	ASSERT_EQ(SZ_2M, dma_pgsize(fd, m3, iova + SZ_2M + PAGE_SZ));
	ASSERT_EQ(0, ioasid_map(fd, ioasid, buf, SZ_2M, &got, MAP_RW));
	ASSERT_EQ(0, got % SZ_2M);
	check_data(_metadata, fd, &m3, 1, got, buf, SZ_2M);
	ASSERT_EQ(base + NPAGES(len), locked_pages());

	ASSERT_EQ(EINVAL, ioasid_unmap(fd, ioasid, iova, PAGE_SZ, &unmapped));
	ASSERT_EQ(EINVAL, ioasid_unmap(fd, ioasid, iova + PAGE_SZ, SZ_2M,
				       &unmapped));
	ASSERT_EQ(0, unmapped);
	check_data(_metadata, fd, &m3, 1, iova, buf, len);
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, iova, SZ_2M, &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	check_unmapped(_metadata, fd, &m3, 1, iova, SZ_2M);
	check_data(_metadata, fd, &m3, 1, iova + SZ_2M, buf + SZ_2M, SZ_2M);
	close(fd);

	/* Instance 0 first: its page sizes, with instance 3 attached too */
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	ASSERT_EQ(0, mock_new_attached(fd, 3, ioasid, &m3));
	ASSERT_EQ(0, ioasid_get_info(fd, &info));
	ASSERT_EQ(PAGE_SZ | SZ_2M | SZ_1G, info.out_pgsize_bitmap);
	close(fd);
	munmap(buf, len);
}

/* IOVA_RANGES reports the alignment of the most demanding domain */
TEST(iova_alignment_of_every_domain)
{
	struct ioasid_iova_ranges cmd = { .size = sizeof(cmd) };
	uint32_t m0, m3;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &cmd.ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, cmd.ioasid, &m0));
	ASSERT_EQ(EMSGSIZE, ioasid_call(fd, IOASID_IOVA_RANGES, &cmd));
	ASSERT_EQ(PAGE_SZ, cmd.out_iova_alignment);
	ASSERT_EQ(0, mock_new_attached(fd, 3, cmd.ioasid, &m3));
	cmd.num_ranges = 0;
	ASSERT_EQ(EMSGSIZE, ioasid_call(fd, IOASID_IOVA_RANGES, &cmd));
	ASSERT_EQ(SZ_2M, cmd.out_iova_alignment);
	ASSERT_EQ(0, mock_detach(fd, m3));
	cmd.num_ranges = 0;
	ASSERT_EQ(EMSGSIZE, ioasid_call(fd, IOASID_IOVA_RANGES, &cmd));
	ASSERT_EQ(PAGE_SZ, cmd.out_iova_alignment);
	close(fd);
}

/*
 * Reserved regions of every type (instance 3): a plain reserved region and
 * a software MSI window are off limits, and the MSI window gets the paging
 * domain the cookie MSIs need; a relaxable direct mapping is not reserved.
 */
TEST(reserved_region_types)
{
	const struct ioasid_iova_range want[] = {
		{ .start = 0, .last = IOASID_TEST_SW_MSI_START - 1 },
		{ .start = IOASID_TEST_SW_MSI_START + RESV_SIZE,
		  .last = RESV1 - 1 },
		{ .start = RESV1 + RESV_SIZE, .last = RESV0 - 1 },
		{ .start = RESV0 + RESV_SIZE, .last = APERTURE_LAST },
	};
	uint32_t ioasid, m0, m3, nested_parent, m3b;
	struct dma_result res;
	unsigned char *buf;
	unsigned char byte;
	uint64_t iova;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	ASSERT_EQ(0, mock_dma(fd, m0, 0, &byte, 1, false, &res));
	ASSERT_FALSE(res.msi_cookie);

	ASSERT_EQ(0, mock_new_attached(fd, 3, ioasid, &m3));
	check_ranges(_metadata, fd, ioasid, want, ARRAY_SIZE(want));
	ASSERT_EQ(0, mock_dma(fd, m3, 0, &byte, 1, false, &res));
	ASSERT_TRUE(res.msi_cookie);
	/* Instance 0's domain is another one, and needs none */
	ASSERT_EQ(0, mock_dma(fd, m0, 0, &byte, 1, false, &res));
	ASSERT_FALSE(res.msi_cookie);

	buf = alloc_backed(BACKING_HUGETLB, SZ_2M);
	if (!buf)
		buf = alloc_backed(BACKING_THP, SZ_2M);
	if (buf) {
		/* The MSI window is reserved; the relaxable region is not */
		ASSERT_EQ(EADDRINUSE,
			  ioasid_map_fixed(fd, ioasid, buf, SZ_2M,
					   IOASID_TEST_SW_MSI_START));
		ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, SZ_2M,
					      IOASID_TEST_RELAXABLE_START));
		check_data(_metadata, fd, &m3, 1,
			   IOASID_TEST_RELAXABLE_START, buf, SZ_2M);
		iova = IOASID_TEST_RELAXABLE_START;
		ASSERT_EQ(0, ioasid_unmap(fd, ioasid, iova, SZ_2M, NULL));
		munmap(buf, SZ_2M);
	}

	/* A nesting parent's domain gets the cookie too, for stage 2 */
	ASSERT_EQ(0, ioasid_create_parent(fd, &nested_parent));
	ASSERT_EQ(0, mock_new_attached(fd, 3, nested_parent, &m3b));
	ASSERT_EQ(0, mock_dma(fd, m3b, 0, &byte, 1, false, &res));
	ASSERT_TRUE(res.msi_cookie);
	close(fd);
}

/*
 * The same as a race: F_SEAL_WRITE and a writable MAP_FILE started at the
 * same moment never both succeed, or DMA could write a sealed memfd.
 */
struct seal_race {
	pthread_barrier_t go;
	int fd, mfd;
	uint32_t ioasid;
	int map_rc, seal_rc;
};

static void *seal_race_map(void *arg)
{
	struct seal_race *r = arg;
	uint64_t iova;

	pthread_barrier_wait(&r->go);
	r->map_rc = ioasid_map_file(r->fd, r->ioasid, r->mfd, 0, 16 * PAGE_SZ,
				    &iova, MAP_RW);
	return NULL;
}

TEST(memfd_seal_races_writable_pin)
{
	struct seal_race r = {};
	unsigned int i, both = 0, maps = 0, seals = 0;
	pthread_t thread;
	uint32_t m0;

	r.fd = ioasid_open();
	ASSERT_LE(0, r.fd);
	ASSERT_EQ(0, ioasid_create(r.fd, &r.ioasid));
	ASSERT_EQ(0, mock_new_attached(r.fd, 0, r.ioasid, &m0));
	ASSERT_EQ(0, pthread_barrier_init(&r.go, NULL, 2));
	for (i = 0; i != 300; i++) {
		r.mfd = memfd_create("ioasid-race", MFD_ALLOW_SEALING);
		ASSERT_LE(0, r.mfd);
		ASSERT_EQ(0, ftruncate(r.mfd, 16 * PAGE_SZ));
		ASSERT_EQ(0, pthread_create(&thread, NULL, seal_race_map, &r));
		pthread_barrier_wait(&r.go);
		r.seal_rc = fcntl(r.mfd, F_ADD_SEALS, F_SEAL_WRITE);
		ASSERT_EQ(0, pthread_join(thread, NULL));
		maps += !r.map_rc;
		seals += !r.seal_rc;
		both += !r.map_rc && !r.seal_rc;
		ASSERT_EQ(0, ioasid_unmap_all(r.fd, r.ioasid, NULL));
		close(r.mfd);
	}
	TH_LOG("%u rounds: %u maps and %u seals went through", i, maps,
	       seals);
	ASSERT_EQ(0, both);
	pthread_barrier_destroy(&r.go);
	close(r.fd);
}

/*
 * An IOMMU driver that unmaps less than asked (a bug) must never have the
 * memory unpinned under it: UNMAP warns once, leaves the mapping in the
 * IOASID, and its memory pinned and charged until the IOASID is destroyed,
 * when no domain can hold it any more.
 */
TEST(unmap_left_mapped_keeps_pages)
{
	const uint64_t iova = 32 * SZ_1M, len = 4 * PAGE_SZ;
	uint64_t unmapped = ~0ULL;
	uint32_t ioasid, m0, m1;
	unsigned char *buf;
	long base;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	ASSERT_EQ(0, mock_new_attached(fd, 1, ioasid, &m1));
	buf = alloc_buf(len);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, len, 9);
	base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, iova));

	/* The first domain unmaps, the second does not */
	printf("# rig: expect-warning: IOMMU driver left part of\n");
	fflush(stdout);
	ASSERT_EQ(0, mock_fail_unmap(fd, 1));
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, iova, len, &unmapped));
	mock_fail_unmap(fd, -1);
	ASSERT_EQ(0, unmapped);
	check_unmapped(_metadata, fd, &m0, 1, iova, len);
	/* Still the very pages: pinned, charged, not reused */
	check_data(_metadata, fd, &m1, 1, iova, buf, len);
	ASSERT_EQ(base + NPAGES(len), locked_pages());
	ASSERT_EQ(EEXIST, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, iova));

	/*
	 * A MAP that fails in the second domain and cannot be undone in the
	 * first (the warning is spent: it warns once): its page stays pinned
	 * and its IOVA taken, or a later MAP would land on a live mapping
	 */
	ASSERT_EQ(0, mock_fail_map(fd, 1));
	ASSERT_EQ(0, mock_fail_unmap(fd, 0));
	ASSERT_EQ(ENOMEM, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, 2 * iova));
	mock_fail_map(fd, -1);
	mock_fail_unmap(fd, -1);
	check_data(_metadata, fd, &m0, 1, 2 * iova, buf, PAGE_SZ);
	check_unmapped(_metadata, fd, &m1, 1, 2 * iova, PAGE_SZ);
	ASSERT_EQ(EEXIST, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, 2 * iova));
	ASSERT_EQ(base + NPAGES(len), locked_pages());

	/* Gone with the IOASID, once no device is attached */
	ASSERT_EQ(0, mock_destroy(fd, m0));
	ASSERT_EQ(0, mock_destroy(fd, m1));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid));
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(buf, len);
}

/* For tests that need nothing but a longer timeout */
FIXTURE(slow) {
	int unused;
};

FIXTURE_SETUP(slow)
{
}

FIXTURE_TEARDOWN(slow)
{
}

/*
 * UNMAP flushes each domain's IOTLB once, however many mappings it takes
 * (under a vIOMMU in caching mode every flush traps).
 */
TEST(unmap_one_flush_per_domain)
{
	const unsigned int n = 64;
	uint64_t unmapped, syncs, map_syncs;
	uint32_t ioasid, m0, m1;
	unsigned char *buf;
	unsigned int i;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	ASSERT_EQ(0, mock_new_attached(fd, 1, ioasid, &m1));
	buf = alloc_buf(PAGE_SZ);
	ASSERT_NE(NULL, buf);
	for (i = 0; i != n; i++)
		ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ,
					      (uint64_t)i * 2 * PAGE_SZ));
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));

	/* A range of a few */
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, 0, 8 * PAGE_SZ, &unmapped));
	ASSERT_EQ(4 * PAGE_SZ, unmapped);
	check_syncs(_metadata, fd, 2, 0);
	/* All the others */
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, &unmapped));
	ASSERT_EQ((uint64_t)(n - 4) * PAGE_SZ, unmapped);
	check_syncs(_metadata, fd, 2, 0);
	check_unmapped(_metadata, fd, &m1, 1, 0, 2 * n * PAGE_SZ);
	close(fd);
	munmap(buf, PAGE_SZ);
}

/*
 * A MAP syncs the IOTLB of each domain once, after mapping every
 * physically contiguous run of it (under a vIOMMU in caching mode each
 * sync traps): 4 MiB of 4 KiB pages faulted in scattered, a physical run
 * each, take two syncs in an IOASID with two domains, not one per page. A
 * COPY into an IOASID with one domain takes one, and a domain filled from
 * k mappings one per mapping. Every page reads its own memory throughout.
 */
TEST(map_syncs_once_per_domain)
{
	const uint64_t iova = 64 * SZ_1M, len = 2 * SZ_2M;
	const unsigned int k = 8, npages = NPAGES(len), step = npages / k;
	uint64_t syncs, map_syncs, unmapped, dst = iova;
	uint32_t a, b, mocks[2], mb, late;
	bool got[NPAGES(2 * SZ_2M)];
	unsigned char *buf;
	unsigned int i;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &a));
	for (i = 0; i != 2; i++)
		ASSERT_EQ(0, mock_new_attached(fd, i, a, &mocks[i]));
	buf = alloc_backed(BACKING_SCATTERED, len);
	ASSERT_NE(NULL, buf);
	check_scattered(_metadata, buf, len);

	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, ioasid_map_fixed(fd, a, buf, len, iova));
	check_syncs(_metadata, fd, 0, 2);
	check_data(_metadata, fd, mocks, 2, iova, buf, len);

	ASSERT_EQ(0, ioasid_create(fd, &b));
	ASSERT_EQ(0, mock_new_attached(fd, 0, b, &mb));
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, ioasid_copy(fd, b, a, iova, len, &dst, MAP_FIXED_RW));
	check_syncs(_metadata, fd, 0, 1);
	check_data(_metadata, fd, &mb, 1, iova, buf, len);

	/* The copy cut into k mappings fills a domain of another instance */
	for (i = 1; i != k; i++) {
		ASSERT_EQ(0, ioasid_unmap(fd, b, iova + i * step * PAGE_SZ,
					  PAGE_SZ, &unmapped));
		ASSERT_EQ(PAGE_SZ, unmapped);
	}
	ASSERT_EQ(0, mock_new(fd, 1, &late));
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, mock_attach(fd, late, b));
	check_syncs(_metadata, fd, 0, k);
	scan_pages(_metadata, fd, late, iova, buf, npages, got);
	for (i = 0; i != npages; i++)
		ASSERT_EQ(!i || i % step, got[i])
			TH_LOG("page %u", i);
	close(fd);
	munmap(buf, len);
}

/*
 * Cuts into one mapping of 6 MiB, in an IOASID whose max_pgsize of 4 KiB
 * lets them go anywhere. The kernel records what is pinned by chunk of
 * 512 pages (2 MiB here), as runs of physically contiguous pages and
 * holes: a cut punches a hole into the runs of a chunk, or drops a chunk
 * left with nothing pinned. CUTS_SINGLE single pages, some next to other
 * cuts, and a few ranges (across each boundary between chunks, from the
 * first page of a chunk, up to the last page of one, at both ends of the
 * mapping, one anywhere) are cut in a random order from a seed, then
 * what is left of the middle chunk.
 *
 * After each cut, UNMAP reports its exact size, VmLck drops by as much,
 * and both devices fault on the cut and read the pages around it. Every
 * CUTS_FULL_EVERY cuts and after the last, the domain of the second
 * device is filled anew, from what the kernel recorded, with a map sync
 * per mapping left, and every page reads its own memory or faults, as the
 * model says, through both domains.
 */
#define CUTS_IOVA	(64 * SZ_1M)
#define CUTS_SIZE	(3 * SZ_2M)
#define CUTS_PAGES	NPAGES(CUTS_SIZE)
#define CUTS_SINGLE	20
#define CUTS_MAX	(CUTS_SINGLE + 8)
#define CUTS_FULL_EVERY	14
/* IOASID_CUTS_SEED=<seed> in the environment replaces it */
#define CUTS_SEED	20261202u

static_assert(CUTS_PAGES <= SPLIT_PAGES, "the model must hold the pages");

/* Pages [first, first + n) of the mapping */
struct cut {
	unsigned int first;
	unsigned int n;
};

FIXTURE(cuts) {
	struct split_ctx s;
};

FIXTURE_VARIANT(cuts) {
	enum backing backing;
};

FIXTURE_VARIANT_ADD(cuts, scattered) {
	.backing = BACKING_SCATTERED,
};

FIXTURE_VARIANT_ADD(cuts, thp) {
	.backing = BACKING_THP,
};

FIXTURE_VARIANT_ADD(cuts, hugetlb) {
	.backing = BACKING_HUGETLB,
};

FIXTURE_SETUP(cuts)
{
	struct split_ctx *s = &self->s;
	unsigned int i;

	s->fd = ioasid_open();
	ASSERT_LE(0, s->fd);
	ASSERT_EQ(0, ioasid_create_max_pgsize(s->fd, PAGE_SZ, &s->ioasid));
	s->nmocks = 2;
	for (i = 0; i != s->nmocks; i++)
		ASSERT_EQ(0, mock_new_attached(s->fd, i, s->ioasid,
					       &s->mocks[i]));
	s->buf = alloc_backed(variant->backing, CUTS_SIZE);
	if (!s->buf && variant->backing != BACKING_SCATTERED)
		SKIP(return, "no %s memory to test with",
		     variant->backing == BACKING_THP ? "THP" : "hugetlb");
	ASSERT_NE(NULL, s->buf);
	if (variant->backing == BACKING_SCATTERED)
		check_scattered(_metadata, s->buf, CUTS_SIZE);
	s->base = locked_pages();
	ASSERT_LE(0, s->base);
	ASSERT_EQ(0, ioasid_map_fixed(s->fd, s->ioasid, s->buf, CUTS_SIZE,
				      CUTS_IOVA));
	for (i = 0; i != CUTS_PAGES; i++)
		s->mapped[i] = true;
	ASSERT_EQ(s->base + CUTS_PAGES, locked_pages());
}

FIXTURE_TEARDOWN(cuts)
{
	close(self->s.fd);
	if (self->s.buf)
		munmap(self->s.buf, CUTS_SIZE);
}

/* Could page @p be cut next to another cut? */
static bool cut_beside(const bool *taken, unsigned int p)
{
	return (p && taken[p - 1]) || (p + 1 < CUTS_PAGES && taken[p + 1]);
}

/* The cuts described above, in their order; returns their number */
static unsigned int cuts_make(struct cut *cuts, unsigned int seed)
{
	const unsigned int nchunks = CUTS_PAGES / CHUNK_PAGES;
	unsigned int n = 0, i, j, b, p, len;
	bool taken[CUTS_PAGES] = {};
	struct cut tmp;

	for (b = 1; b != nchunks; b++) {
		len = 1 + rand_r(&seed) % 8;
		cuts[n++] = (struct cut){ b * CHUNK_PAGES - len,
					  len + 1 + rand_r(&seed) % 8 };
	}
	b = rand_r(&seed) % nchunks;
	cuts[n++] = (struct cut){ b * CHUNK_PAGES, 1 + rand_r(&seed) % 16 };
	b = rand_r(&seed) % nchunks;
	len = 1 + rand_r(&seed) % 16;
	cuts[n++] = (struct cut){ (b + 1) * CHUNK_PAGES - len, len };
	cuts[n++] = (struct cut){ 0, 2 };
	cuts[n++] = (struct cut){ CUTS_PAGES - 3, 3 };
	len = 2 + rand_r(&seed) % 15;
	cuts[n++] = (struct cut){ rand_r(&seed) % (CUTS_PAGES - len + 1),
				  len };
	for (i = 0; i != n; i++)
		for (p = cuts[i].first; p != cuts[i].first + cuts[i].n; p++)
			taken[p] = true;
	/* Pages of their own, every fourth beside one taken already */
	for (i = 0; i != CUTS_SINGLE; i++) {
		p = rand_r(&seed) % CUTS_PAGES;
		while (taken[p] || (i % 4 == 3 && !cut_beside(taken, p)))
			p = (p + 1) % CUTS_PAGES;
		taken[p] = true;
		cuts[n++] = (struct cut){ p, 1 };
	}
	for (i = n - 1; i; i--) {
		j = rand_r(&seed) % (i + 1);
		tmp = cuts[i];
		cuts[i] = cuts[j];
		cuts[j] = tmp;
	}
	return n;
}

/* Pages the model has mapped */
static long cuts_left(struct split_ctx *s)
{
	long left = 0;
	unsigned int p;

	for (p = 0; p != CUTS_PAGES; p++)
		left += s->mapped[p];
	return left;
}

/* Each device translates pages [first, first + n) as the model says */
static void cuts_check(struct __test_metadata *_metadata,
		       struct split_ctx *s, unsigned int first, unsigned int n)
{
	bool got[CUTS_PAGES];
	unsigned int i, p;

	for (i = 0; i != s->nmocks; i++) {
		scan_pages(_metadata, s->fd, s->mocks[i],
			   CUTS_IOVA + first * PAGE_SZ, s->buf + first * PAGE_SZ,
			   n, got);
		for (p = 0; p != n; p++)
			ASSERT_EQ(s->mapped[first + p], got[p])
				TH_LOG("mock %u, page %u", s->mocks[i],
				       first + p);
	}
}

/*
 * A new domain for the second device, filled from the mappings left with
 * a map sync each, then every page through both domains
 */
static void cuts_check_all(struct __test_metadata *_metadata,
			   struct split_ctx *s)
{
	uint64_t syncs, map_syncs, areas = 0;
	unsigned int p, i;

	for (p = 0; p != CUTS_PAGES; p++)
		areas += s->mapped[p] && (!p || !s->mapped[p - 1]);
	/*
	 * Its only device gone, the domain goes; every other time it is the
	 * IOASID's first, which scattered pages are kept in (pages.c)
	 */
	i = s->full_checks++ % s->nmocks;
	ASSERT_EQ(0, mock_detach(s->fd, s->mocks[i]));
	ASSERT_EQ(0, mock_iotlb_syncs(s->fd, &syncs, &map_syncs));
	ASSERT_EQ(0, mock_attach(s->fd, s->mocks[i], s->ioasid));
	check_syncs(_metadata, s->fd, 0, areas);
	cuts_check(_metadata, s, 0, CUTS_PAGES);
}

/* UNMAP pages [first, first + n) and check the outcome against the model */
static void cuts_unmap(struct __test_metadata *_metadata,
		       struct split_ctx *s, unsigned int first, unsigned int n)
{
	const unsigned int lo = first < 2 ? 0 : first - 2;
	const unsigned int hi = first + n + 2 < CUTS_PAGES ? first + n + 2 :
							     CUTS_PAGES;
	uint64_t expect = 0, unmapped = 0;
	long before = cuts_left(s);
	unsigned int p;

	for (p = first; p != first + n; p++) {
		if (s->mapped[p])
			expect += PAGE_SZ;
		s->mapped[p] = false;
	}
	if (expect) {
		ASSERT_EQ(0, ioasid_unmap(s->fd, s->ioasid,
					  CUTS_IOVA + first * PAGE_SZ,
					  n * PAGE_SZ, &unmapped));
		ASSERT_EQ(expect, unmapped)
			TH_LOG("cut of %u pages at page %u", n, first);
	} else {
		ASSERT_EQ(ENOENT, ioasid_unmap(s->fd, s->ioasid,
					       CUTS_IOVA + first * PAGE_SZ,
					       n * PAGE_SZ, &unmapped));
	}
	ASSERT_EQ(s->base + before - (long)(expect / PAGE_SZ),
		  locked_pages())
		TH_LOG("cut of %u pages at page %u", n, first);
	/* The cut and two pages either side */
	cuts_check(_metadata, s, lo, hi - lo);
}

TEST_F(cuts, keep_translations)
{
	struct split_ctx *s = &self->s;
	unsigned int seed = CUTS_SEED, n, i;
	struct cut cuts[CUTS_MAX];
	uint64_t unmapped;
	long left;

	if (getenv("IOASID_CUTS_SEED"))
		seed = strtoul(getenv("IOASID_CUTS_SEED"), NULL, 0);
	TH_LOG("IOASID_CUTS_SEED=%u", seed);
	n = cuts_make(cuts, seed);
	for (i = 0; i != n; i++) {
		cuts_unmap(_metadata, s, cuts[i].first, cuts[i].n);
		if ((i + 1) % CUTS_FULL_EVERY == 0)
			cuts_check_all(_metadata, s);
	}
	/* The middle chunk is left with nothing pinned */
	cuts_unmap(_metadata, s, CHUNK_PAGES, CHUNK_PAGES);
	cuts_check_all(_metadata, s);

	left = cuts_left(s);
	ASSERT_EQ(0, ioasid_unmap_all(s->fd, s->ioasid, &unmapped));
	ASSERT_EQ(left * PAGE_SZ, unmapped);
	ASSERT_EQ(s->base, locked_pages());
	check_unmapped(_metadata, s->fd, s->mocks, s->nmocks, CUTS_IOVA,
		       CUTS_SIZE);
	ASSERT_IOASID_EMPTY(s->fd, s->ioasid);
}

/*
 * An IOMMU that refuses the domains domain_alloc_user() gives (a
 * scalable-mode VT-d that translates with the first stage alone, under
 * 6.12's VT-d driver, whose op gives second-stage ones) still attaches a
 * normal IOASID: a domain of the core's kind is filled with what was
 * mapped before and translates it, and what is mapped after. A nesting
 * parent has no other kind: -EINVAL, and the device stays blocked. The
 * IOASID's later domains are of the core's kind from the start.
 */
TEST(no_user_domains)
{
	struct ioasid_test_cmd cmd = {
		.mock_create = { .flags = IOASID_TEST_MOCK_NO_USER_DOMAINS },
	};
	unsigned char *buf = alloc_aligned(4 * PAGE_SZ);
	uint32_t ioasid, parent, mocks[2];
	uint64_t syncs, map_syncs;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, 4 * PAGE_SZ, 9);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, ioasid_create_parent(fd, &parent));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, 2 * PAGE_SZ, SZ_1M));
	ASSERT_EQ(0, ioasid_test(fd, IOASID_TEST_MOCK_CREATE, 0, &cmd));
	mocks[0] = cmd.mock_create.out_id;
	ASSERT_EQ(0, mock_bind(fd, mocks[0], NULL));

	ASSERT_EQ(EINVAL, mock_attach(fd, mocks[0], parent));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(fd, mocks[0], SZ_1M, false));

	ASSERT_EQ(0, mock_attach(fd, mocks[0], ioasid));
	check_data(_metadata, fd, mocks, 1, SZ_1M, buf, 2 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 2 * PAGE_SZ,
				      PAGE_SZ, SZ_2M));
	check_data(_metadata, fd, mocks, 1, SZ_2M, buf + 2 * PAGE_SZ,
		   PAGE_SZ);

	/* A device that takes either kind joins that domain: one sync a MAP */
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &mocks[1]));
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 3 * PAGE_SZ,
				      PAGE_SZ, SZ_2M + PAGE_SZ));
	check_syncs(_metadata, fd, 0, 1);
	check_data(_metadata, fd, mocks, 2, SZ_1M, buf, 2 * PAGE_SZ);
	check_data(_metadata, fd, mocks, 2, SZ_2M, buf + 2 * PAGE_SZ,
		   2 * PAGE_SZ);

	ASSERT_EQ(0, mock_detach(fd, mocks[0]));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(fd, mocks[0], SZ_1M, false));

	/*
	 * The IOASID learnt: with its domain gone, the next is of the core's
	 * kind at once, filled once (one sync for each of its three areas)
	 */
	ASSERT_EQ(0, mock_detach(fd, mocks[1]));
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, mock_attach(fd, mocks[0], ioasid));
	check_syncs(_metadata, fd, 0, 3);
	check_data(_metadata, fd, mocks, 1, SZ_1M, buf, 2 * PAGE_SZ);
	close(fd);
	munmap(buf, 4 * PAGE_SZ);
}

/*
 * The other way round: a device that refuses domain_alloc_user() domains
 * comes to an IOASID whose domain already is one. It gets a second domain,
 * of the core's kind, filled with what is mapped; from then on a MAP goes
 * to both (one sync each). Its PASIDs attach to that domain too, never to
 * the one it refuses, and DMA tagged with a PASID translates through it.
 * A PASID of the other device, attached last, joins the first domain: no
 * third one is made.
 */
TEST(no_user_domains_second)
{
	struct ioasid_test_cmd cmd = {
		.mock_create = { .flags = IOASID_TEST_MOCK_NO_USER_DOMAINS },
	};
	unsigned char *buf = alloc_aligned(4 * PAGE_SZ), out[PAGE_SZ];
	uint32_t ioasid, nu, mocks[2];
	uint64_t syncs, map_syncs;
	struct dma_result res;
	int fd = ioasid_open();

	ASSERT_LE(0, fd);
	ASSERT_NE(NULL, buf);
	fill_pattern(buf, 4 * PAGE_SZ, 11);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, 2 * PAGE_SZ, SZ_1M));
	/* Zero the mock's counters, which earlier tests' teardown moved */
	ASSERT_EQ(0, mock_iotlb_syncs(fd, &syncs, &map_syncs));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &mocks[0]));
	check_syncs(_metadata, fd, 0, 1);

	ASSERT_EQ(0, ioasid_test(fd, IOASID_TEST_MOCK_CREATE, 0, &cmd));
	nu = cmd.mock_create.out_id;
	mocks[1] = nu;
	ASSERT_EQ(0, mock_bind(fd, nu, NULL));
	ASSERT_EQ(0, mock_attach(fd, nu, ioasid));
	/*
	 * A second domain: one sync for the one area, and one for the domain
	 * of the refused kind, filled before the attach it failed
	 */
	check_syncs(_metadata, fd, 0, 2);
	check_data(_metadata, fd, mocks, 2, SZ_1M, buf, 2 * PAGE_SZ);

	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 2 * PAGE_SZ,
				      PAGE_SZ, SZ_2M));
	check_syncs(_metadata, fd, 0, 2);
	check_data(_metadata, fd, mocks, 2, SZ_2M, buf + 2 * PAGE_SZ,
		   PAGE_SZ);

	/* PASID 1 of the device that refuses: the second domain */
	ASSERT_EQ(0, mock_attach_pasid(fd, nu, 1, ioasid));
	check_syncs(_metadata, fd, 0, 0);
	ASSERT_EQ(0, mock_dma_pasid(fd, nu, 1, SZ_2M, out, PAGE_SZ, false,
				    &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(out, buf + 2 * PAGE_SZ, PAGE_SZ));
	/*
	 * PASID 2 of the other: the first domain, not a third one (a third
	 * would have been filled: one more sync), nor the second (which would
	 * then outlive the refusing device below: two syncs a MAP at the end)
	 */
	ASSERT_EQ(0, mock_attach_pasid(fd, mocks[0], 2, ioasid));
	check_syncs(_metadata, fd, 0, 0);
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 3 * PAGE_SZ,
				      PAGE_SZ, SZ_2M + PAGE_SZ));
	check_syncs(_metadata, fd, 0, 2);
	ASSERT_EQ(0, mock_dma_pasid(fd, mocks[0], 2, SZ_2M + PAGE_SZ, out,
				    PAGE_SZ, false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(out, buf + 3 * PAGE_SZ, PAGE_SZ));

	/* The refusing device's RID gone, its PASID keeps the domain alive */
	ASSERT_EQ(0, mock_detach(fd, nu));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(fd, nu, SZ_1M, false));
	ASSERT_EQ(0, mock_dma_pasid(fd, nu, 1, SZ_1M, out, PAGE_SZ, false,
				    &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(out, buf, PAGE_SZ));
	ASSERT_EQ(0, mock_detach_pasid(fd, nu, 1));
	ASSERT_EQ(0, mock_dma_pasid(fd, nu, 1, SZ_1M, out, PAGE_SZ, false,
				    &res));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED, res.fault);
	/* One domain left: one sync a MAP */
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, SZ_2M + PAGE_SZ, PAGE_SZ, NULL));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf + 3 * PAGE_SZ,
				      PAGE_SZ, SZ_2M + PAGE_SZ));
	check_syncs(_metadata, fd, 1, 1);
	close(fd);
	munmap(buf, 4 * PAGE_SZ);
}

/*
 * 4 KiB pages scattered in memory are kept in the IOASID's first domain
 * (pages.c): their frames are read back from it. They must follow the
 * domains as devices come and go: to the next domain when the first one
 * goes, back to runs of their own when the last one goes, into the first
 * domain again on attach. Every step, each device translates exactly what
 * is mapped and VmLck holds exactly that.
 */
TEST(stored_pages_follow_domains)
{
	const uint64_t len = 2 * SZ_2M, x = 64 * SZ_1M;
	const uint64_t cut = SZ_2M / 2 + 5 * PAGE_SZ;
	uint32_t ioasid, mocks[2];
	uint64_t unmapped;
	unsigned char *buf;
	unsigned int i;
	long base;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	for (i = 0; i != 2; i++)
		ASSERT_EQ(0, mock_new_attached(fd, i, ioasid, &mocks[i]));
	buf = alloc_backed(BACKING_SCATTERED, len);
	ASSERT_NE(NULL, buf);
	check_scattered(_metadata, buf, len);
	base = locked_pages();
	ASSERT_LE(0, base);

	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, x));
	ASSERT_EQ(base + NPAGES(len), locked_pages());
	check_data(_metadata, fd, mocks, 2, x, buf, len);

	/*
	 * The first domain goes: a cut reads the frames of the chunk it
	 * cuts from the other, every page of it
	 */
	ASSERT_EQ(0, mock_detach(fd, mocks[0]));
	mock_reads(_metadata, fd);
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, x + cut, PAGE_SZ, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_LE(NPAGES(SZ_2M), mock_reads(_metadata, fd));
	ASSERT_EQ(base + NPAGES(len) - 1, locked_pages());
	check_data(_metadata, fd, &mocks[1], 1, x, buf, cut);
	check_unmapped(_metadata, fd, &mocks[1], 1, x + cut, PAGE_SZ);
	check_data(_metadata, fd, &mocks[1], 1, x + cut + PAGE_SZ,
		   buf + cut + PAGE_SZ, len - cut - PAGE_SZ);

	/* A new domain filled from pages that are partly in the old one */
	ASSERT_EQ(0, mock_attach(fd, mocks[0], ioasid));
	check_data(_metadata, fd, mocks, 2, x, buf, cut);
	check_unmapped(_metadata, fd, mocks, 2, x + cut, PAGE_SZ);
	check_data(_metadata, fd, mocks, 2, x + cut + PAGE_SZ,
		   buf + cut + PAGE_SZ, len - cut - PAGE_SZ);

	/* Both domains go, the one holding the pages first; all stays */
	ASSERT_EQ(0, mock_detach(fd, mocks[1]));
	ASSERT_EQ(0, mock_detach(fd, mocks[0]));
	ASSERT_EQ(base + NPAGES(len) - 1, locked_pages());

	/* Attached again, the first domain holds them again */
	ASSERT_EQ(0, mock_attach(fd, mocks[1], ioasid));
	ASSERT_EQ(0, mock_attach(fd, mocks[0], ioasid));
	check_data(_metadata, fd, mocks, 2, x, buf, cut);
	check_unmapped(_metadata, fd, mocks, 2, x + cut, PAGE_SZ);
	check_data(_metadata, fd, mocks, 2, x + cut + PAGE_SZ,
		   buf + cut + PAGE_SZ, len - cut - PAGE_SZ);

	/* A cut across both chunks, then the rest */
	ASSERT_EQ(0, ioasid_unmap(fd, ioasid, x + SZ_2M - PAGE_SZ,
				  2 * PAGE_SZ, &unmapped));
	ASSERT_EQ(2 * PAGE_SZ, unmapped);
	ASSERT_EQ(base + NPAGES(len) - 3, locked_pages());
	check_data(_metadata, fd, mocks, 2, x + SZ_2M + PAGE_SZ,
		   buf + SZ_2M + PAGE_SZ, SZ_2M - PAGE_SZ);
	check_unmapped(_metadata, fd, mocks, 2, x + SZ_2M - PAGE_SZ,
		       2 * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, &unmapped));
	ASSERT_EQ(len - 3 * PAGE_SZ, unmapped);
	ASSERT_EQ(base, locked_pages());
	check_unmapped(_metadata, fd, mocks, 2, x, len);
	close(fd);
	munmap(buf, len);
}

/*
 * Scattered pages kept in the domain of IOASID a are shared by a MAP of
 * the same memory into IOASID b (compared frame by frame, read back from
 * a's domain) and by a COPY out of a (mapped into b's domain from a's).
 * An UNMAP of b leaves them in a's domain; one of a takes them back before
 * a's domain lets go of them, and they stay pinned exactly as long as b
 * uses them.
 */
TEST(stored_pages_shared)
{
	const uint64_t len = 2 * SZ_2M, x = 64 * SZ_1M, y = 128 * SZ_1M;
	uint64_t z = 192 * SZ_1M, unmapped;
	uint32_t a, b, ma, mb;
	unsigned char *buf;
	long base;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &a));
	ASSERT_EQ(0, ioasid_create(fd, &b));
	ASSERT_EQ(0, mock_new_attached(fd, 0, a, &ma));
	ASSERT_EQ(0, mock_new_attached(fd, 1, b, &mb));
	buf = alloc_backed(BACKING_SCATTERED, len);
	ASSERT_NE(NULL, buf);
	check_scattered(_metadata, buf, len);
	base = locked_pages();
	ASSERT_LE(0, base);

	ASSERT_EQ(0, ioasid_map_fixed(fd, a, buf, len, x));
	ASSERT_EQ(0, ioasid_map_fixed(fd, b, buf, len, y));
	ASSERT_EQ(0, ioasid_copy(fd, b, a, x + SZ_2M, SZ_2M, &z,
				 MAP_FIXED_RW));
	/* Pinned and charged once */
	ASSERT_EQ(base + NPAGES(len), locked_pages());
	check_data(_metadata, fd, &ma, 1, x, buf, len);
	check_data(_metadata, fd, &mb, 1, y, buf, len);
	check_data(_metadata, fd, &mb, 1, z, buf + SZ_2M, SZ_2M);

	/* b's UNMAP leaves what a's domain keeps there: nothing read back */
	mock_reads(_metadata, fd);
	ASSERT_EQ(0, ioasid_unmap(fd, b, y, len, &unmapped));
	ASSERT_EQ(len, unmapped);
	ASSERT_EQ(0, mock_reads(_metadata, fd));
	ASSERT_EQ(base + NPAGES(len), locked_pages());
	check_unmapped(_metadata, fd, &mb, 1, y, len);
	check_data(_metadata, fd, &ma, 1, x, buf, len);
	check_data(_metadata, fd, &mb, 1, z, buf + SZ_2M, SZ_2M);

	/* a's takes both chunks back from its domain, page by page */
	ASSERT_EQ(0, ioasid_unmap_all(fd, a, &unmapped));
	ASSERT_EQ(len, unmapped);
	ASSERT_LE(NPAGES(len), mock_reads(_metadata, fd));
	ASSERT_EQ(base + NPAGES(SZ_2M), locked_pages());
	check_unmapped(_metadata, fd, &ma, 1, x, len);
	check_data(_metadata, fd, &mb, 1, z, buf + SZ_2M, SZ_2M);
	ASSERT_EQ(0, ioasid_unmap_all(fd, b, &unmapped));
	ASSERT_EQ(SZ_2M, unmapped);
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(buf, len);
}

/*
 * A MAP shares memory with an earlier one only if that one still holds
 * all of it pinned (ioasid_pages_pin()). With a page of A's mapping cut,
 * a MAP of the buffer into B pins it again and is charged for all of it,
 * and must map the very pages of the buffer, the one behind A's hole
 * too; a MAP of the part before the hole shares. Once B holds the buffer
 * whole and A is gone, a MAP into C shares B's pages.
 */
TEST(remap_after_holes_pins_again)
{
	const uint64_t iova = 64 * SZ_1M, len = 2 * SZ_2M;
	/* In the second chunk of 512 pages: the part before it spans two */
	const long npages = NPAGES(len), hole = 600;
	uint32_t a, b, c, ma, mb, mc;
	unsigned char *buf;
	uint64_t unmapped;
	long base;
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &a));
	ASSERT_EQ(0, ioasid_create(fd, &b));
	ASSERT_EQ(0, ioasid_create(fd, &c));
	ASSERT_EQ(0, mock_new_attached(fd, 0, a, &ma));
	ASSERT_EQ(0, mock_new_attached(fd, 0, b, &mb));
	ASSERT_EQ(0, mock_new_attached(fd, 0, c, &mc));
	buf = alloc_backed(BACKING_SCATTERED, len);
	ASSERT_NE(NULL, buf);
	base = locked_pages();
	ASSERT_LE(0, base);

	ASSERT_EQ(0, ioasid_map_fixed(fd, a, buf, len, iova));
	ASSERT_EQ(base + npages, locked_pages());
	ASSERT_EQ(0, ioasid_unmap(fd, a, iova + hole * PAGE_SZ, PAGE_SZ,
				  &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	ASSERT_EQ(base + npages - 1, locked_pages());
	check_fault(_metadata, fd, &ma, 1, iova + hole * PAGE_SZ,
		    IOASID_TEST_FAULT_NOT_PRESENT);

	/* Clear of the hole, A's pages are shared */
	ASSERT_EQ(0, ioasid_map_fixed(fd, c, buf, hole * PAGE_SZ, iova));
	ASSERT_EQ(base + npages - 1, locked_pages());
	check_data(_metadata, fd, &mc, 1, iova, buf, hole * PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(fd, c, &unmapped));
	ASSERT_EQ(hole * PAGE_SZ, unmapped);
	ASSERT_EQ(base + npages - 1, locked_pages());

	/* Across it, not: pinned and charged in full */
	ASSERT_EQ(0, ioasid_map_fixed(fd, b, buf, len, iova));
	ASSERT_EQ(base + 2 * npages - 1, locked_pages());
	check_data(_metadata, fd, &mb, 1, iova, buf, len);

	ASSERT_EQ(0, ioasid_unmap_all(fd, a, &unmapped));
	ASSERT_EQ(len - PAGE_SZ, unmapped);
	ASSERT_EQ(base + npages, locked_pages());
	check_data(_metadata, fd, &mb, 1, iova, buf, len);

	/* B holds it whole: shared */
	ASSERT_EQ(0, ioasid_map_fixed(fd, c, buf, len, iova));
	ASSERT_EQ(base + npages, locked_pages());
	check_data(_metadata, fd, &mc, 1, iova, buf, len);
	ASSERT_EQ(0, ioasid_unmap_all(fd, b, &unmapped));
	ASSERT_EQ(len, unmapped);
	ASSERT_EQ(base + npages, locked_pages());
	check_data(_metadata, fd, &mc, 1, iova, buf, len);
	ASSERT_EQ(0, ioasid_unmap_all(fd, c, &unmapped));
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(buf, len);
}

/*
 * UNMAP_ALL of 100000 mappings yields the CPU as it goes: no soft lockup,
 * no RCU stall (the rig scans the kernel log), and every page accounted
 * back. One page COPYed to every other IOVA, which is MAP without the
 * pinning, into one domain: neither is what is tested, and under KASAN
 * and TCG they cost most of the time.
 */
TEST_F_TIMEOUT(slow, unmap_many, 600)
{
	const unsigned int n = 100000;
	uint64_t unmapped, iova;
	int fd, rc = 0, status;
	uint32_t ioasid, m0;
	unsigned char *buf;
	unsigned int i;
	pid_t child;
	long base;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	buf = alloc_buf(PAGE_SZ);
	ASSERT_NE(NULL, buf);
	base = locked_pages();
	/* One page at many IOVAs: pinned once, n mappings */
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, PAGE_SZ, 0));
	/* Two processes on the two CPUs, each COPYing every other one */
	child = fork();
	ASSERT_LE(0, child);
	for (i = 1 + !child; i < n; i += 2) {
		iova = (uint64_t)i * 2 * PAGE_SZ;
		rc = ioasid_copy(fd, ioasid, ioasid, 0, PAGE_SZ, &iova,
				 MAP_FIXED_RW);
		if (rc)
			break;
	}
	if (!child)
		_exit(rc ? 1 : 0);
	ASSERT_EQ(0, rc);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	ASSERT_EQ(base + 1, locked_pages());
	check_data(_metadata, fd, &m0, 1, (uint64_t)(n - 1) * 2 * PAGE_SZ,
		   buf, PAGE_SZ);
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, &unmapped));
	ASSERT_EQ((uint64_t)n * PAGE_SZ, unmapped);
	check_unmapped(_metadata, fd, &m0, 1, 0, 16 * PAGE_SZ);
	ASSERT_EQ(base, locked_pages());
	close(fd);
	munmap(buf, PAGE_SZ);
}

/*
 * One mapping of most of the VM's free memory, unmapped at once: pinning,
 * unpinning and unmapping it all yield the CPU (no soft lockup, no RCU
 * stall) and account every page back.
 */
TEST_F_TIMEOUT(slow, unmap_one_huge_mapping, 600)
{
	uint64_t len, unmapped;
	uint32_t ioasid, m0;
	unsigned char *buf;
	long base, avail;
	int fd;

	avail = meminfo_val("MemAvailable");
	ASSERT_LT(0, avail);
	/* Half of what is free: kB to bytes, 2 MiB aligned */
	len = ((uint64_t)avail * 1024 / 2) & ~(uint64_t)(SZ_2M - 1);
	if (len < 64 * SZ_1M)
		SKIP(return, "only %ld kB free", avail);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	base = locked_pages();
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, buf, len, 0));
	ASSERT_EQ(base + (long)NPAGES(len), locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, &unmapped));
	ASSERT_EQ(len, unmapped);
	ASSERT_EQ(base, locked_pages());
	TH_LOG("mapped and unmapped %llu MiB at once",
	       (unsigned long long)(len >> 20));
	close(fd);
	munmap(buf, len);
}

/*
 * A writable device mapping of a memfd holds it as a writable shared
 * mapping does: F_SEAL_WRITE fails while it is there (else the seal's
 * promise would be broken by DMA), works once it is gone, and after the
 * seal no writable mapping can be made.
 */
TEST(memfd_seal_vs_writable_pin)
{
	const uint64_t len = 16 * PAGE_SZ;
	uint32_t ioasid, m0;
	uint64_t iova;
	int fd, mfd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, mock_new_attached(fd, 0, ioasid, &m0));
	mfd = memfd_create("ioasid-seal", MFD_ALLOW_SEALING);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, len));

	ASSERT_EQ(0, ioasid_map_file(fd, ioasid, mfd, 0, len, &iova, MAP_RW));
	ASSERT_EQ(-1, fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE));
	ASSERT_EQ(EBUSY, errno);
	/* Once the mapping is gone, the seal goes on */
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, NULL));
	ASSERT_EQ(0, fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE));
	ASSERT_EQ(EPERM, ioasid_map_file(fd, ioasid, mfd, 0, len, &iova,
					 MAP_RW));
	ASSERT_IOASID_EMPTY(fd, ioasid);
	ASSERT_EQ(0, ioasid_map_file(fd, ioasid, mfd, 0, len, &iova,
				     IOASID_MAP_READ));
	ASSERT_EQ(0, ioasid_unmap_all(fd, ioasid, NULL));
	close(mfd);
	close(fd);
}

TEST_HARNESS_MAIN
