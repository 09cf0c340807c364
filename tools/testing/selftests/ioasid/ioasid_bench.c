// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioasid_bench: MAP/UNMAP cost of /dev/ioasid next to upstream iommufd
 * (/dev/iommu), in the same boot.
 *
 * A benchmark, not a test: it prints figures and ratios and never judges
 * them. It exits 1 when a setup call fails (it says which) or when a MAP or
 * UNMAP fails for another reason than lack of memory; otherwise 0.
 *
 *   ioasid_bench [--short] [--reps N] [--no-huge-iova] [--no-hugetlb]
 *
 * Rows: buffers of 2 MiB, 64 MiB and 1 GiB (--short: no 1 GiB), each backed
 * by 4 KiB pages (anonymous, MADV_NOHUGEPAGE, faulted in a scattered order
 * so that no two neighbours are physically contiguous) and by 2 MiB pages
 * (hugetlb, reserved through /proc/sys/vm/nr_hugepages as needed and given
 * back after the row; THP with MADV_HUGEPAGE if that fails). A row's buffer is faulted
 * in before anything is timed, so pinning it allocates no user memory, and
 * both sides use the same buffer in turn, never both mapped at once. Each
 * repetition runs ioasid, then iommufd:
 *
 *   a fresh context with one mock device attached          untimed
 *   settle, read free memory                                untimed
 *   MAP the whole buffer at BENCH_IOVA, FIXED, read+write   timed
 *   settle, read free memory                                untimed
 *   UNMAP the same range                                    timed
 *   close the context                                       untimed
 *
 * Figures are medians over the repetitions (CLOCK_MONOTONIC); memory is
 * free memory before MAP minus free memory after it, scaled to KiB per
 * mapped GiB. Free memory is MemFree of /proc/meminfo plus the pages on
 * the page allocator's per-CPU lists (the "count:" lines of /proc/zoneinfo),
 * which MemFree leaves out: without them it moves in steps of a whole
 * per-CPU batch (typically 63 pages). Before each read, "settle" lets
 * RCU-deferred frees land, releases the free slabs of every slab cache
 * (/sys/kernel/slab/<cache>/shrink) and folds the per-CPU counters into
 * MemFree (/proc/sys/vm/stat_refresh). What is left is measured at the
 * start and printed at the end as the memory noise: scaled up from a 2 MiB
 * buffer (x512) it swamps the figure, so trust the memory column of the
 * 64 MiB and 1 GiB rows; the mem ratio is left out where iommufd's figure
 * is within twice the noise plus the spread of its samples.
 *
 * Fairness. Each side goes through its own mock IOMMU, and they differ:
 * - ioasid (drivers/ioasid/mock_iommu.c, instance 0): a 4-level radix page
 *   table with 4 KiB, 2 MiB and 1 GiB leaves, one entry per IOMMU page;
 *   tables are whole pages from the page allocator; UNMAP clears leaves and
 *   keeps the tables until the domain is freed. Reserved IOVA region at
 *   IOASID_TEST_RESV_START_0.
 * - iommufd (drivers/iommu/iommufd/selftest.c, IOMMU_TEST_OP_MOCK_DOMAIN):
 *   an xarray with one entry per 2 KiB (MOCK_IO_PAGE_SIZE), aperture
 *   [MOCK_APERTURE_START, MOCK_APERTURE_LAST] = [16 MiB, 2 GiB).
 *   MOCK_FLAGS_DEVICE_HUGE_IOVA (used unless --no-huge-iova) adds a 1 MiB
 *   page size, so the core makes fewer, larger map_pages calls, but the
 *   mock still stores one entry per 2 KiB: its cost is per byte whatever
 *   the backing, and its memory is slab (xarray nodes, roughly 4.5 MiB per
 *   GiB, more with kmemleak).
 * So the huge-page rows favour ioasid by construction of the mocks, and
 * both columns weigh core plus mock against core plus mock: read the ratios
 * as whole-stack figures, not as core against core.
 * Every repetition uses a fresh context on both sides so that both start
 * from an empty domain: in a reused context ioasid's mock would still hold
 * the tables of the previous MAP, which would then cost neither time nor
 * memory. Both map at BENCH_IOVA, 1 GiB aligned (so either side may use
 * its largest pages), inside iommufd's aperture and clear of ioasid's
 * reserved region. On a debug kernel kmemleak adds metadata to every slab
 * object (not to page allocations) and lockdep slows every lock; the
 * program says so when it sees them. Under TCG, time is emulated time.
 */
#include <assert.h>

#define BENCH_PROG "ioasid_bench"
#include "bench_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

/* IOVA of every mapping (see the fairness note above), and its last byte */
#define BENCH_IOVA	SZ_1G
#define BENCH_LAST	(BENCH_IOVA + SZ_1G - 1)

static_assert((BENCH_LAST <= MOCK_APERTURE_LAST) &&
	      (MOCK_APERTURE_START <= BENCH_IOVA),
	      "the rows must fit iommufd's mock aperture");
#ifdef IOASID_TEST_RESV_START_0
#define RESV_0_LAST	(IOASID_TEST_RESV_START_0 + IOASID_TEST_RESV_SIZE - 1)
static_assert((RESV_0_LAST < BENCH_IOVA) ||
	      (BENCH_LAST < IOASID_TEST_RESV_START_0),
	      "the rows must miss ioasid's mock reserved region");
#endif

#define MAX_REPS	100
#define MAX_ROWS	6

static struct {
	bool short_run;
	bool huge_iova;
	bool hugetlb;
	int reps;		/* 0: a number per buffer size */
} opt = {
	.huge_iova = true,
	.hugetlb = true,
};

static int exit_status;

/* Pages on the page allocator's per-CPU lists, in KiB; 0 if unknown */
static long long pcp_kib(void)
{
	long long pages = 0, count;
	char line[128];
	FILE *f;

	f = fopen("/proc/zoneinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %lld", &count) == 1)
			pages += count;
	fclose(f);
	return pages * (PAGE_SZ / 1024);
}

/*
 * Free memory: MemFree plus the per-CPU lists, which MemFree leaves out
 * and which would otherwise make it move in steps of a whole pcp batch
 */
static long long mem_free_kib(void)
{
	return meminfo_val("MemFree") + pcp_kib();
}

/* Largest change of free memory, in KiB, between two settled reads of it */
static long long mem_noise;

static void measure_mem_noise(void)
{
	mem_noise = bench_noise(mem_free_kib);
}

static int buf_alloc_huge(struct buf *b, size_t len, char *label,
			  size_t llen, char *why, size_t wlen)
{
	char hugetlb_why[96] = "hugetlb: --no-hugetlb";
	char thp_why[64];

	if (opt.hugetlb &&
	    !buf_alloc_hugetlb(b, len, hugetlb_why, sizeof(hugetlb_why))) {
		snprintf(label, llen, "hugetlb");
		return 0;
	}
	if (!buf_alloc_thp(b, len, label, llen, thp_why, sizeof(thp_why)))
		return 0;
	snprintf(why, wlen, "%s; %s", hugetlb_why, thp_why);
	return -1;
}

/* One open context of one side, with one mock device attached */
struct ctx {
	int fd;
	uint32_t id;		/* IOASID or IOAS */
	uint32_t mock_id;
};

struct side {
	const char *name;
	const char *map_name;
	const char *unmap_name;
	void (*setup)(struct ctx *c);
	/* 0 or an errno */
	int (*map)(struct ctx *c, void *va, uint64_t len);
	int (*unmap)(struct ctx *c, uint64_t len, uint64_t *unmapped);
};

static void ioasid_side_setup(struct ctx *c)
{
	uint32_t dev_id;

	c->fd = ioasid_open();
	if (c->fd < 0)
		die("open /dev/ioasid", errno);
	check(ioasid_create(c->fd, &c->id), "IOASID_CREATE");
	check(mock_create(c->fd, 0, &c->mock_id), "IOASID_TEST_MOCK_CREATE");
	check(mock_bind(c->fd, c->mock_id, &dev_id), "IOASID_TEST_MOCK_BIND");
	check(mock_attach(c->fd, c->mock_id, c->id),
	      "IOASID_TEST_MOCK_ATTACH");
}

static int ioasid_side_map(struct ctx *c, void *va, uint64_t len)
{
	return ioasid_map_fixed(c->fd, c->id, va, len, BENCH_IOVA);
}

static int ioasid_side_unmap(struct ctx *c, uint64_t len, uint64_t *unmapped)
{
	return ioasid_unmap(c->fd, c->id, BENCH_IOVA, len, unmapped);
}

static void iommufd_side_setup(struct ctx *c)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_test_cmd mock = {
		.size = sizeof(mock),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
	};

	c->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		die("open /dev/iommu", errno);
	check(ioasid_call(c->fd, IOMMU_IOAS_ALLOC, &alloc),
	      "IOMMU_IOAS_ALLOC");
	c->id = alloc.out_ioas_id;
	/* A mock device attached to an automatic domain of the IOAS */
	mock.id = c->id;
	if (opt.huge_iova)
		mock.mock_domain_flags.dev_flags = MOCK_FLAGS_DEVICE_HUGE_IOVA;
	check(ioasid_call(c->fd, IOMMU_TEST_CMD, &mock),
	      "IOMMU_TEST_CMD(IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS)");
	c->mock_id = mock.mock_domain_flags.out_stdev_id;
}

static int iommufd_side_map(struct ctx *c, void *va, uint64_t len)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = c->id,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = BENCH_IOVA,
	};

	return ioasid_call(c->fd, IOMMU_IOAS_MAP, &map);
}

static int iommufd_side_unmap(struct ctx *c, uint64_t len, uint64_t *unmapped)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = c->id,
		.iova = BENCH_IOVA,
		.length = len,
	};
	int rc = ioasid_call(c->fd, IOMMU_IOAS_UNMAP, &unmap);

	if (!rc)
		*unmapped = unmap.length;
	return rc;
}

/* The order of the runs: ioasid, iommufd, ioasid, iommufd, ... */
static const struct side sides[2] = {
	{
		.name = "ioasid",
		.map_name = "IOASID_MAP",
		.unmap_name = "IOASID_UNMAP",
		.setup = ioasid_side_setup,
		.map = ioasid_side_map,
		.unmap = ioasid_side_unmap,
	},
	{
		.name = "iommufd",
		.map_name = "IOMMU_IOAS_MAP",
		.unmap_name = "IOMMU_IOAS_UNMAP",
		.setup = iommufd_side_setup,
		.map = iommufd_side_map,
		.unmap = iommufd_side_unmap,
	},
};

struct sample {
	double map_ms;
	double unmap_ms;
	double mem_kib;		/* free memory the MAP took */
};

/*
 * One MAP and UNMAP of @len bytes of @va on a fresh context of @s. Returns
 * 0, or the errno of the call that failed (-1 for a short UNMAP) with a
 * description in @why.
 */
static int one_rep(const struct side *s, char *va, uint64_t len,
		   struct sample *out, char *why, size_t wlen)
{
	long long free_before, free_after;
	uint64_t unmapped = 0;
	struct ctx c;
	double t0;
	int rc;

	s->setup(&c);
	settle();
	free_before = mem_free_kib();
	t0 = now_ms();
	rc = s->map(&c, va, len);
	out->map_ms = now_ms() - t0;
	if (rc) {
		snprintf(why, wlen, "%s %s: %s", s->name, s->map_name,
			 errname(rc));
		goto out_close;
	}
	settle();
	free_after = mem_free_kib();
	out->mem_kib = free_before - free_after;

	t0 = now_ms();
	rc = s->unmap(&c, len, &unmapped);
	out->unmap_ms = now_ms() - t0;
	if (rc) {
		snprintf(why, wlen, "%s %s: %s", s->name, s->unmap_name,
			 errname(rc));
	} else if (unmapped != len) {
		snprintf(why, wlen, "%s %s: %llu of %llu bytes", s->name,
			 s->unmap_name, (unsigned long long)unmapped,
			 (unsigned long long)len);
		rc = -1;
	}
out_close:
	close(c.fd);
	return rc;
}

struct row {
	uint64_t size;
	bool huge;
	int reps;
	char label[16];		/* the backing it got */
	char na[160];		/* why the row has no figures, "" if it has */
	double map_ms[2];	/* medians, indexed like sides[] */
	double unmap_ms[2];
	double mem_kib[2];	/* free memory one MAP took */
	double mem_spread[2];	/* largest minus smallest sample of it */
	double mem_kib_gib[2];	/* the same per mapped GiB */
};

static int reps_for(uint64_t size)
{
	if (opt.reps)
		return opt.reps;
	if (size <= SZ_2M)
		return opt.short_run ? 5 : 20;
	if (size <= SZ_64M)
		return opt.short_run ? 3 : 5;
	/* Three, so that the memory figure is a real median */
	return 3;
}

static void run_row(struct row *row)
{
	static double map_ms[2][MAX_REPS], unmap_ms[2][MAX_REPS];
	static double mem[2][MAX_REPS];
	struct buf b = {};
	struct sample smp;
	int r, s, rc;

	row->reps = reps_for(row->size);
	if (row->huge)
		rc = buf_alloc_huge(&b, row->size, row->label,
				    sizeof(row->label), row->na,
				    sizeof(row->na));
	else
		rc = buf_alloc_small(&b, row->size, row->label,
				     sizeof(row->label), row->na,
				     sizeof(row->na));
	if (rc) {
		if (!row->label[0])
			snprintf(row->label, sizeof(row->label), "%s",
				 row->huge ? "huge" : "4k");
		return;
	}

	for (r = 0; r < row->reps; r++) {
		for (s = 0; s < 2; s++) {
			rc = one_rep(&sides[s], b.va, row->size, &smp,
				     row->na, sizeof(row->na));
			if (rc) {
				/* No memory is the VM's limit, not a bug */
				if (rc != ENOMEM)
					exit_status = 1;
				buf_free(&b);
				return;
			}
			map_ms[s][r] = smp.map_ms;
			unmap_ms[s][r] = smp.unmap_ms;
			mem[s][r] = smp.mem_kib;
		}
	}
	buf_free(&b);

	for (s = 0; s < 2; s++) {
		row->map_ms[s] = median(map_ms[s], row->reps);
		row->unmap_ms[s] = median(unmap_ms[s], row->reps);
		row->mem_kib[s] = median(mem[s], row->reps);
		/* median() sorted them */
		row->mem_spread[s] = mem[s][row->reps - 1] - mem[s][0];
		row->mem_kib_gib[s] = row->mem_kib[s] *
				      ((double)SZ_1G / row->size);
	}
}

static void size_str(char *s, size_t len, uint64_t size)
{
	if (size >= SZ_1G)
		snprintf(s, len, "%lluG", (unsigned long long)(size >> 30));
	else
		snprintf(s, len, "%lluM", (unsigned long long)(size >> 20));
}

static double time_ratio(const struct row *row)
{
	return (row->map_ms[0] + row->unmap_ms[0]) /
	       (row->map_ms[1] + row->unmap_ms[1]);
}

/*
 * ioasid/iommufd memory, or a negative number when iommufd's figure is
 * lost in the noise (idle noise plus the spread of its samples) and a ratio
 * would mean nothing
 */
static double mem_ratio(const struct row *row)
{
	if (row->mem_kib[1] <= 2 * (mem_noise + row->mem_spread[1]) ||
	    row->mem_kib[0] < 0)
		return -1;
	return row->mem_kib_gib[0] / row->mem_kib_gib[1];
}

/*
 * Columns: backing, size, reps, ioasid map/unmap ms, iommufd map/unmap ms,
 * time ratio, mem KiB/GiB ioasid/iommufd, mem ratio. The headers' slashes
 * sit above the values' ones.
 */
#define COL_ROW		"%-8s %-4s %4s"
#define COL_MS		"  %9.2f/%-10.2f"
#define COL_MS_HDR	"%-22s"
#define COL_RATIO	"  %10.2f"
#define COL_MEM		"  %18.0f/%-10.0f"
#define COL_TEXT	"  %10s"

static void print_header(void)
{
	printf(COL_ROW, "backing", "size", "reps");
	printf(COL_MS_HDR COL_MS_HDR, " ioasid map/unmap ms",
	       "iommufd map/unmap ms");
	printf(COL_TEXT "  %-29s" COL_TEXT "\n", "time ratio",
	       "mem KiB/GiB ioasid/iommufd", "mem ratio");
}

static void print_row(const struct row *row)
{
	char size[24], reps[16], mem[24] = "noise";
	double mr = mem_ratio(row);

	size_str(size, sizeof(size), row->size);
	if (row->na[0]) {
		printf(COL_ROW "  n/a (%s)\n", row->label, size, "-", row->na);
		return;
	}
	snprintf(reps, sizeof(reps), "%d", row->reps);
	if (mr >= 0)
		snprintf(mem, sizeof(mem), "%.2f", mr);
	printf(COL_ROW, row->label, size, reps);
	printf(COL_MS COL_MS, row->map_ms[0], row->unmap_ms[0],
	       row->map_ms[1], row->unmap_ms[1]);
	printf(COL_RATIO COL_MEM COL_TEXT "\n", time_ratio(row),
	       row->mem_kib_gib[0], row->mem_kib_gib[1], mem);
}

/* Append "label size (ratio)" of @row to @list if @ratio misses its target */
static void add_miss(char *list, size_t len, const struct row *row,
		     double ratio)
{
	double target = row->huge ? 0.7 : 1.0;
	size_t used = strlen(list);
	char size[24];

	if (ratio <= target)
		return;
	size_str(size, sizeof(size), row->size);
	snprintf(list + used, len - used, "%s%s %s (%.2f)", used ? ", " : "",
		 row->label, size, ratio);
}

static void print_summary(const struct row *rows, int n)
{
	char time_miss[512] = "", mem_miss[512] = "";
	int i;

	printf("# memory noise: up to %lld KiB between two settled idle",
	       mem_noise);
	printf(" reads of free memory, +-%lld KiB/GiB on 2M rows,",
	       mem_noise * 512);
	printf(" +-%lld on 64M, +-%lld on 1G\n", mem_noise * 16, mem_noise);
	printf("# mem ratio \"noise\": iommufd's figure is within twice");
	printf(" that noise plus the spread of its samples\n");
	for (i = 0; i < n; i++) {
		if (rows[i].na[0])
			continue;
		add_miss(time_miss, sizeof(time_miss), &rows[i],
			 time_ratio(&rows[i]));
		if (mem_ratio(&rows[i]) >= 0)
			add_miss(mem_miss, sizeof(mem_miss), &rows[i],
				 mem_ratio(&rows[i]));
	}
	/* One line, for grep */
	printf("# above target (ioasid/iommufd > 1.0, huge-page rows > 0.7):");
	printf(" time: %s;", time_miss[0] ? time_miss : "none");
	printf(" memory: %s\n", mem_miss[0] ? mem_miss : "none");
}

/*
 * Check that both sides work before anything is measured, warm up their
 * code paths, and print what each one's IOMMU can do.
 */
static void probe(void)
{
	char why[160], pgsizes[64];
	struct ioasid_info info;
	struct sample smp;
	struct buf b = {};
	struct ctx c;
	int s, rc;

	ioasid_side_setup(&c);
	check(ioasid_get_info(c.fd, &info), "IOASID_GET_INFO");
	close(c.fd);
	pgsizes_str(pgsizes, sizeof(pgsizes), info.out_pgsize_bitmap);
	printf("# ioasid: mock instance 0, page sizes %s,", pgsizes);
	printf(" one page table entry per IOMMU page\n");
	printf("# iommufd: mock domain%s, page sizes 2K%s,",
	       opt.huge_iova ? " with MOCK_FLAGS_DEVICE_HUGE_IOVA" : "",
	       opt.huge_iova ? " 1M" : "");
	printf(" one xarray entry per 2 KiB\n");

	if (buf_map(&b, SZ_2M, 0, why, sizeof(why)))
		die(why, 0);
	prefault(b.va, SZ_2M);
	for (s = 0; s < 2; s++) {
		rc = one_rep(&sides[s], b.va, SZ_2M, &smp, why, sizeof(why));
		if (rc)
			die(why, 0);
	}
	buf_free(&b);
}

static void print_usage(FILE *f)
{
	fprintf(f, "usage: ioasid_bench [--short] [--reps N]");
	fprintf(f, " [--no-huge-iova] [--no-hugetlb]\n");
	fprintf(f, "  --short         no 1 GiB rows, few repetitions\n");
	fprintf(f, "  --reps N        N repetitions per row (1..%d)\n",
		MAX_REPS);
	fprintf(f, "  --no-huge-iova  iommufd mock device without\n");
	fprintf(f, "                  MOCK_FLAGS_DEVICE_HUGE_IOVA\n");
	fprintf(f, "  --no-hugetlb    back huge-page rows by THP only\n");
}

static void parse_args(int argc, char **argv)
{
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short")) {
			opt.short_run = true;
		} else if (!strcmp(argv[i], "--no-huge-iova")) {
			opt.huge_iova = false;
		} else if (!strcmp(argv[i], "--no-hugetlb")) {
			opt.hugetlb = false;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			opt.reps = strtol(argv[++i], &end, 10);
			if (*end || opt.reps < 1 || opt.reps > MAX_REPS) {
				print_usage(stderr);
				exit(2);
			}
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			print_usage(stdout);
			exit(0);
		} else {
			print_usage(stderr);
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	static const uint64_t sizes[] = { SZ_2M, SZ_64M, SZ_1G };
	struct row rows[MAX_ROWS] = {};
	int i, n = 0;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_memlock_unlimited();
	atexit(hugetlb_restore);
	settle_open();

	printf("# ioasid_bench: /dev/ioasid against iommufd: MAP+UNMAP at");
	printf(" IOVA %#lx, medians, a fresh context per rep\n", BENCH_IOVA);
	probe();
	if (!access("/sys/kernel/debug/kmemleak", F_OK))
		printf("# kmemleak is on: memory includes its slab metadata\n");
	if (!access("/proc/lockdep", F_OK))
		printf("# lockdep is on: every lock is slower\n");
	settle_note();
	measure_mem_noise();

	print_header();
	for (i = 0; i < (int)ARRAY_SIZE(sizes); i++) {
		if (opt.short_run && sizes[i] > SZ_64M)
			break;
		/*
		 * Huge pages first, while memory is least fragmented; the
		 * 4 KiB row is printed first all the same.
		 */
		rows[n + 1].size = sizes[i];
		rows[n + 1].huge = true;
		run_row(&rows[n + 1]);
		rows[n].size = sizes[i];
		run_row(&rows[n]);
		print_row(&rows[n]);
		print_row(&rows[n + 1]);
		n += 2;
	}
	print_summary(rows, n);
	return exit_status;
}
