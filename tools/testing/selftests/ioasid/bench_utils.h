/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the /dev/ioasid benchmarks share: user buffers backed by 4 KiB pages
 * (faulted in a scattered order), THP or hugetlb, settling the kernel's
 * memory counters before reading them, medians, and dying on a failed
 * setup call. Define BENCH_PROG, the program's name, before including it.
 */
#ifndef __SELFTEST_IOASID_BENCH_UTILS_H
#define __SELFTEST_IOASID_BENCH_UTILS_H

#include <dirent.h>
#include <time.h>

#include "ioasid_utils.h"

#ifndef BENCH_PROG
#error "define BENCH_PROG, the program's name, before including bench_utils.h"
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define SZ_64M		0x4000000UL
#define SZ_1G		0x40000000UL

/* A THP buffer less huge than this is no huge-page row */
#define THP_MIN_PCT	90
/* Long enough for RCU callbacks queued by the last close to have run */
#define SETTLE_US	50000
#define NOISE_SAMPLES	5

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define STAT_REFRESH	"/proc/sys/vm/stat_refresh"
#define COMPACT_MEMORY	"/proc/sys/vm/compact_memory"
#define SLAB_DIR	"/sys/kernel/slab"

#define ERRNO_NAME(e) { e, #e }
static const struct {
	int err;
	const char *name;
} errno_names[] = {
	ERRNO_NAME(EPERM), ERRNO_NAME(ENOENT), ERRNO_NAME(ESRCH),
	ERRNO_NAME(EINTR), ERRNO_NAME(EIO), ERRNO_NAME(ENXIO),
	ERRNO_NAME(E2BIG), ERRNO_NAME(EBADF), ERRNO_NAME(EAGAIN),
	ERRNO_NAME(ENOMEM), ERRNO_NAME(EACCES), ERRNO_NAME(EFAULT),
	ERRNO_NAME(EBUSY), ERRNO_NAME(EEXIST), ERRNO_NAME(ENODEV),
	ERRNO_NAME(EINVAL), ERRNO_NAME(ENFILE), ERRNO_NAME(EMFILE),
	ERRNO_NAME(ENOTTY), ERRNO_NAME(ENOSPC), ERRNO_NAME(ERANGE),
	ERRNO_NAME(EMSGSIZE), ERRNO_NAME(EOPNOTSUPP),
	ERRNO_NAME(EADDRINUSE), ERRNO_NAME(EOVERFLOW), ERRNO_NAME(EDEADLK),
	ERRNO_NAME(EXDEV), ERRNO_NAME(ETIMEDOUT), ERRNO_NAME(ENAMETOOLONG),
};

static const char *errname(int err)
{
	static char unknown[32];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	snprintf(unknown, sizeof(unknown), "errno %d", err);
	return unknown;
}

/* A setup call failed: say which (and its errno, if not 0), leave with 1 */
static void die(const char *what, int err)
{
	fflush(stdout);
	fprintf(stderr, BENCH_PROG ": setup failed: %s%s%s\n", what,
		err ? ": " : "", err ? errname(err) : "");
	exit(1);
}

static void check(int err, const char *what)
{
	if (err)
		die(what, err);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) < 0)
		rc = errno;
	close(fd);
	return rc;
}

static int write_long(const char *path, long val)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld\n", val);
	return write_str(path, s);
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long val = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* Open files "settle" writes to; absent ones are skipped */
static int shrink_fds[512];
static int nr_shrink_fds;
static int stat_refresh_fd = -1;

static void settle_open(void)
{
	char path[320];
	struct dirent *de;
	DIR *dir;
	int fd;

	stat_refresh_fd = open(STAT_REFRESH, O_WRONLY | O_CLOEXEC);
	dir = opendir(SLAB_DIR);
	if (!dir)
		return;
	while ((de = readdir(dir)) &&
	       nr_shrink_fds < (int)ARRAY_SIZE(shrink_fds)) {
		/* Aliases are links to a cache listed anyway */
		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), SLAB_DIR "/%s/shrink",
			 de->d_name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			shrink_fds[nr_shrink_fds++] = fd;
	}
	closedir(dir);
}

/* Write "1" to a sysfs or sysctl file that acts on it; errors do not matter */
static void poke(int fd)
{
	if (fd >= 0 && pwrite(fd, "1", 1, 0) < 0)
		return;
}

/* Make free memory, as read next, as exact as we can */
static void settle(void)
{
	int i;

	usleep(SETTLE_US);
	for (i = 0; i < nr_shrink_fds; i++)
		poke(shrink_fds[i]);
	poke(stat_refresh_fd);
}

/* Say what settle() cannot do here (a kernel with SLUB_TINY has no SLAB_DIR) */
static void settle_note(void)
{
	if (!nr_shrink_fds || stat_refresh_fd < 0)
		printf("# no %s%s%s: the memory column is noisier\n",
		       nr_shrink_fds ? "" : SLAB_DIR "/*/shrink",
		       !nr_shrink_fds && stat_refresh_fd < 0 ? " and no " : "",
		       stat_refresh_fd < 0 ? STAT_REFRESH : "");
}

/* Largest change of @sample() between two settled calls of it */
static long long bench_noise(long long (*sample)(void))
{
	long long a, b, noise = 0;
	int i;

	for (i = 0; i < NOISE_SAMPLES; i++) {
		settle();
		a = sample();
		settle();
		b = sample();
		if (llabs(a - b) > noise)
			noise = llabs(a - b);
	}
	return noise;
}

/* nr_hugepages before this program changed it, -1 if it did not */
static long hugetlb_orig = -1;

static void hugetlb_restore(void)
{
	if (hugetlb_orig < 0)
		return;
	write_long(NR_HUGEPAGES, hugetlb_orig);
	hugetlb_orig = -1;
}

static long hugetlb_available(void)
{
	return meminfo_val("HugePages_Free") - meminfo_val("HugePages_Rsvd");
}

/* Make @n free 2 MiB hugetlb pages available; 0, or -1 and why not */
static int hugetlb_reserve(long n, char *why, size_t wlen)
{
	long avail = hugetlb_available();
	long total = meminfo_val("HugePages_Total");
	int attempt, rc;

	if (meminfo_val("Hugepagesize") != 2048) {
		snprintf(why, wlen, "hugetlb: default huge page is not 2 MiB");
		return -1;
	}
	for (attempt = 0; attempt < 2 && avail < n; attempt++) {
		if (hugetlb_orig < 0)
			hugetlb_orig = read_long(NR_HUGEPAGES);
		/* The second time, after compacting memory */
		if (attempt)
			write_str(COMPACT_MEMORY, "1\n");
		rc = write_long(NR_HUGEPAGES, total + n - avail);
		if (rc) {
			snprintf(why, wlen, "hugetlb: nr_hugepages: %s",
				 errname(rc));
			hugetlb_restore();
			return -1;
		}
		avail = hugetlb_available();
		total = meminfo_val("HugePages_Total");
	}
	if (avail < n) {
		snprintf(why, wlen, "hugetlb: got %ld of %ld 2 MiB pages",
			 avail < 0 ? 0 : avail, n);
		hugetlb_restore();
		return -1;
	}
	return 0;
}

struct buf {
	void *map;		/* what to munmap */
	size_t map_len;
	char *va;		/* the buffer itself */
	bool hugetlb;
};

/* Write every page, so that no pin later allocates user memory */
static void prefault(char *va, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PAGE_SZ)
		va[off] = 1;
}

/*
 * Fault pages in a scattered order. Fresh memory tends to come from the
 * page allocator in physically ascending order, so faulting a buffer front
 * to back makes it physically contiguous and lets both sides map it with
 * large IOMMU pages: that would not be a 4 KiB row. Touching page
 * i * stride mod n instead (n a power of two, stride odd, so every page
 * once) gives neighbouring virtual pages far-apart physical ones: the
 * worst case, one IOMMU page per 4 KiB.
 */
static void prefault_scattered(char *va, size_t len)
{
	const size_t stride = 40503;
	size_t n = len / PAGE_SZ, i;

	for (i = 0; i < n; i++)
		va[(i * stride & (n - 1)) * PAGE_SZ] = 1;
}

static int buf_map(struct buf *b, size_t len, int flags, char *why,
		   size_t wlen)
{
	b->map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (b->map == MAP_FAILED) {
		snprintf(why, wlen, "%smmap: %s",
			 flags & MAP_HUGETLB ? "hugetlb " : "",
			 errname(errno));
		b->map = NULL;
		return -1;
	}
	b->map_len = len;
	b->va = b->map;
	return 0;
}

static void buf_free(struct buf *b)
{
	if (b->map)
		munmap(b->map, b->map_len);
	b->map = NULL;
	if (b->hugetlb)
		hugetlb_restore();
	b->hugetlb = false;
}

static int buf_alloc_small(struct buf *b, size_t len, char *label,
			   size_t llen, char *why, size_t wlen)
{
	if (buf_map(b, len, 0, why, wlen))
		return -1;
	/* Fails with EINVAL without THP, which is as good */
	madvise(b->va, len, MADV_NOHUGEPAGE);
	prefault_scattered(b->va, len);
	snprintf(label, llen, "4k");
	return 0;
}

static int buf_alloc_hugetlb(struct buf *b, size_t len, char *why,
			     size_t wlen)
{
	if (hugetlb_reserve(len / SZ_2M, why, wlen))
		return -1;
	b->hugetlb = true;
	if (buf_map(b, len, MAP_HUGETLB | (21 << MAP_HUGE_SHIFT), why, wlen)) {
		buf_free(b);
		return -1;
	}
	prefault(b->va, len);
	return 0;
}

/* 2 MiB aligned anonymous memory the kernel is asked to back with THP */
static int buf_alloc_thp(struct buf *b, size_t len, char *label, size_t llen,
			 char *why, size_t wlen)
{
	long long before, huge_kib;
	int pct;

	if (buf_map(b, len + SZ_2M, 0, why, wlen))
		return -1;
	b->va = (char *)(((uintptr_t)b->map + SZ_2M - 1) & ~(SZ_2M - 1));
	if (madvise(b->va, len, MADV_HUGEPAGE)) {
		snprintf(why, wlen, "thp: madvise: %s", errname(errno));
		buf_free(b);
		return -1;
	}
	before = meminfo_val("AnonHugePages");
	prefault(b->va, len);
	huge_kib = meminfo_val("AnonHugePages") - before;
	pct = before < 0 ? 0 : (int)(huge_kib * 1024 * 100 / (long long)len);
	if (pct < THP_MIN_PCT) {
		snprintf(why, wlen, "thp: only %d%% in huge pages", pct);
		buf_free(b);
		return -1;
	}
	if (pct >= 100)
		snprintf(label, llen, "thp");
	else
		snprintf(label, llen, "thp %d%%", pct);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void pgsizes_str(char *s, size_t len, uint64_t bitmap)
{
	static const char * const units[] = { "", "K", "M", "G", "T" };
	size_t used = 0;
	int bit;

	s[0] = 0;
	for (bit = 0; bit < 64 && used < len; bit++) {
		if (!(bitmap & (1ULL << bit)))
			continue;
		used += snprintf(s + used, len - used, "%s%llu%s",
				 used ? " " : "", 1ULL << (bit % 10),
				 units[bit / 10 < 4 ? bit / 10 : 4]);
	}
}

/* Pin without limit: the buffers are far above the default RLIMIT_MEMLOCK */
static void bench_memlock_unlimited(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur != RLIM_INFINITY ||
	    rl.rlim_max != RLIM_INFINITY) {
		rl.rlim_cur = RLIM_INFINITY;
		rl.rlim_max = RLIM_INFINITY;
		if (setrlimit(RLIMIT_MEMLOCK, &rl))
			die("setrlimit(RLIMIT_MEMLOCK, unlimited)", errno);
	}
}

#endif /* __SELFTEST_IOASID_BENCH_UTILS_H */
