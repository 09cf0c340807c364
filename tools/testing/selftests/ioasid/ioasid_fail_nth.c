// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid when memory runs out: every allocation the ioctls of a
 * sequence make is made to fail, one at a time, and what each failure
 * leaves behind is checked through the mock IOMMU's page-table walk.
 *
 * The kernel's fault injection counts the allocations of one task from
 * the moment a number N is written to /proc/thread-self/fail-nth, and
 * fails the N-th; reading the file gives what is left of the count, 0
 * once the failure was injected. Each sequence runs with its 1st, 2nd,
 * 3rd, ... allocation failing, until a run goes through with none failed:
 * that many injection points it has, printed as "fail_nth: <sequence>: N
 * points", with the points of each call of the last run. Injection is
 * armed around the ioctls under test only, never around setup or checks,
 * and the count left after one ioctl carries over to the next, so that
 * a sequence of several ioctls is swept as one.
 *
 * A call the failure was injected into must fail with ENOMEM and change
 * nothing: every mock device's DMA reaches what it reached before and
 * faults where the call would have mapped, the memory charged (VmLck) is
 * what it was, ids, reserved ranges and attachments are as they were. A
 * call that succeeds although an allocation in it failed (kmemleak falls
 * back on a pool of its own, say) must have done all it says. Then the
 * failed call is made again, the rest of the sequence runs without
 * injection and its result is checked, and everything is torn down with
 * calls that must succeed (a leaked user makes IOASID_DESTROY fail with
 * EBUSY) before the context is closed. kmemleak, which the rig scans
 * after the tests, reports what was left.
 */
#include "../kselftest_harness.h"

#include <dirent.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "ioasid_vfio_utils.h"

#define DEBUGFS		"/sys/kernel/debug"
#define FAIL_NTH	"/proc/thread-self/fail-nth"

/* Points a sequence may have; one more fails it */
#define MAX_POINTS	5000
/* Points that fail their checks before a sweep gives up */
#define MAX_BAD		10
/* Seconds a sweep may take */
#define SWEEP_TIMEOUT	300

/* Bytes a DMA check moves */
#define DATA_LEN	64
/* A page mapped before the calls under test, which must keep working */
#define IOVA_OLD	0x100000ULL
/* Where the MAP under test maps NEW_SIZE bytes */
#define IOVA_NEW	0x200000ULL
#define NEW_SIZE	(16 * PAGE_SZ)
/* Where the COPY under test maps */
#define IOVA_DST	0x600000ULL
/* A 2 MiB hugetlb page mapped here is one large IOMMU page */
#define IOVA_HUGE	0x800000ULL
/* Scattered 4 KiB pages, two chunks of them (see pages.c), are mapped here */
#define IOVA_STORED	0x1000000ULL
#define STORED_SIZE	(4UL << 20)
/* 2 MiB hugetlb pages to have free: a sequence uses one at a time */
#define HUGE_PAGES	2

/* Guest RAM of the nested sequences, at GPA_BASE in the nesting parent */
#define GPA_BASE	0x100000ULL
#define RAM_PAGES	16
#define RAM_SIZE	(RAM_PAGES * PAGE_SZ)
/* IOVA the guest maps through its stage 1 */
#define IOVA_S1		0x7f000000ULL
/* PASID table width of the delegated sequence */
#define PT_BITS		4
#define MOCK_FORMATS	((1ULL << IOASID_FORMAT_MOCK_S1) | \
			 (1ULL << IOASID_FORMAT_MOCK_PASID_TABLE))

/* The region of a mock vfio device: REGION_SIZE bytes of REGION_BYTE */
#define REGION_SIZE	64
#define REGION_BYTE	0xa5

/* How the child that ran one point ended */
enum {
	CHILD_DONE = 0,		/* no allocation failed: the sweep is over */
	CHILD_BAD_FIRED = 1,	/* a check failed after a failed allocation */
	CHILD_BAD = 2,		/* a check failed, no allocation had failed */
	CHILD_SKIP = KSFT_SKIP,	/* the kernel lacks what the sequence needs */
	CHILD_FAILED = 10,	/* a call failed from it, cleanly */
	CHILD_SURVIVED = 11,	/* no call failed from it, all is well */
};

/* 2 MiB hugetlb pages can be had: set by the fixture, seen by the children */
static bool have_huge;

/* The injection of the child that runs one point */
static struct {
	const char *seq;
	/* The allocation to fail, counted over the calls under test */
	unsigned int point;
	/* Its /proc/thread-self/fail-nth */
	int fd;
	/* Allocations until the one to fail; 0 once it failed */
	unsigned int left;
	bool fired;
	/* A call under test failed from it */
	bool failed;
	/* The calls under test and their allocations, for the last run */
	struct {
		const char *what;
		unsigned int points;
	} calls[8];
	unsigned int ncalls;
} inj;

static __noreturn __printf(2, 3) void die(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "# fail_nth: %s: point %u: line %d: ", inj.seq,
		inj.point, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(inj.fired ? CHILD_BAD_FIRED : CHILD_BAD);
}

#define CHECK(cond, fmt, ...)						\
	do {								\
		if (!(cond))						\
			die(__LINE__, fmt, ##__VA_ARGS__);		\
	} while (0)

/* A call of setup or checks, which returns 0 or an errno */
#define MUST(call)							\
	do {								\
		int __rc = (call);					\
									\
		if (__rc)						\
			die(__LINE__, "%s: %s", #call, strerror(__rc));	\
	} while (0)

/* The kernel lacks what the sequence needs: only the first run may say so */
static __noreturn void skip(const char *why)
{
	fprintf(stderr, "# fail_nth: %s: %s\n", inj.seq, why);
	_exit(inj.point ? CHILD_BAD : CHILD_SKIP);
}

/* The sequence is over: say how it went */
static __noreturn void finish(void)
{
	char line[512];
	unsigned int i;
	int len;

	if (inj.fired)
		_exit(inj.failed ? CHILD_FAILED : CHILD_SURVIVED);
	if (inj.point) {
		/* The run that went through: the points of each call */
		len = snprintf(line, sizeof(line),
			       "# fail_nth: %s: points per call:", inj.seq);
		for (i = 0; i < inj.ncalls && len < (int)sizeof(line); i++)
			len += snprintf(line + len, sizeof(line) - len,
					"%s %s %u", i ? "," : "",
					inj.calls[i].what,
					inj.calls[i].points);
		fprintf(stderr, "%s\n", line);
	}
	_exit(CHILD_DONE);
}

static void fail_nth_set(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	CHECK(pwrite(inj.fd, buf, len, 0) == len, "cannot write %s: %s",
	      FAIL_NTH, strerror(errno));
}

/*
 * An ioctl under test: the allocation that brings inj.left to zero fails.
 * Nothing but the ioctl runs between arming and disarming, and the buffers
 * of both are on the stack, present: no page fault of this task can take
 * the failure. Returns 0, with what the ioctl returned (0 or more) in
 * *@ret, or the errno, which must be ENOMEM, from a failure injected into
 * this very call.
 */
static int inj_ioctl_ret(int fd, unsigned long cmd, void *arg,
			 const char *what, int *ret)
{
	unsigned int before = inj.left;
	char buf[16];
	ssize_t len;
	int rc, err;

	if (before)
		fail_nth_set(before);
	rc = ioctl(fd, cmd, arg);
	err = errno;
	if (before) {
		len = pread(inj.fd, buf, sizeof(buf) - 1, 0);
		fail_nth_set(0);
		CHECK(len > 0, "cannot read %s", FAIL_NTH);
		buf[len] = '\0';
		inj.left = strtoul(buf, NULL, 10);
		inj.fired = !inj.left;
		if (inj.ncalls < ARRAY_SIZE(inj.calls)) {
			inj.calls[inj.ncalls].what = what;
			inj.calls[inj.ncalls++].points = before - inj.left;
		}
	}
	*ret = rc;
	if (rc >= 0)
		return 0;
	CHECK(rc == -1, "%s returned %d", what, rc);
	CHECK(before && !inj.left, "%s failed %s: %s", what,
	      inj.fired ? "after an earlier call survived a failure" :
			  "with no allocation failed", strerror(err));
	CHECK(err == ENOMEM, "%s: a failed allocation made it fail with %s",
	      what, strerror(err));
	inj.failed = true;
	return err;
}

/* An ioctl under test that returns 0 on success */
static int inj_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	int ret, rc = inj_ioctl_ret(fd, cmd, arg, what, &ret);

	CHECK(ret <= 0, "%s returned %d", what, ret);
	return rc;
}

static int inj_create(int fd, uint32_t flags, uint32_t *id)
{
	struct ioasid_create cmd = { .size = sizeof(cmd), .flags = flags };
	int rc = inj_ioctl(fd, IOASID_CREATE, &cmd, "IOASID_CREATE");

	*id = cmd.out_ioasid;
	return rc;
}

/* MAP of @len bytes of @buf at @iova, or of @memfd from offset 0 if >= 0 */
static int inj_map(int fd, uint32_t id, void *buf, int memfd, uint64_t len,
		   uint64_t iova)
{
	struct ioasid_map cmd = {
		.size = sizeof(cmd),
		.flags = MAP_FIXED_RW,
		.ioasid = id,
		.user_va = (uintptr_t)buf,
		.length = len,
		.iova = iova,
	};

	if (memfd >= 0) {
		cmd.flags |= IOASID_MAP_FILE;
		cmd.fd = memfd;
		cmd.file_offset = 0;
	}
	return inj_ioctl(fd, IOASID_MAP, &cmd, "IOASID_MAP");
}

static int inj_unmap(int fd, uint32_t id, uint64_t iova, uint64_t len,
		     uint64_t *unmapped)
{
	struct ioasid_unmap cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.iova = iova,
		.length = len,
	};
	int rc = inj_ioctl(fd, IOASID_UNMAP, &cmd, "IOASID_UNMAP");

	*unmapped = cmd.out_length;
	return rc;
}

static int inj_copy(int fd, uint32_t dst, uint32_t src, uint64_t src_iova,
		    uint64_t len, uint64_t dst_iova)
{
	struct ioasid_copy cmd = {
		.size = sizeof(cmd),
		.flags = MAP_FIXED_RW,
		.dst_ioasid = dst,
		.src_ioasid = src,
		.src_iova = src_iova,
		.length = len,
		.dst_iova = dst_iova,
	};

	return inj_ioctl(fd, IOASID_COPY, &cmd, "IOASID_COPY");
}

static int inj_test(int fd, uint32_t op, uint32_t mock,
		    struct ioasid_test_cmd *cmd, const char *what)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = mock;
	return inj_ioctl(fd, IOASID_TEST, cmd, what);
}

static int inj_bind(int fd, uint32_t mock)
{
	struct ioasid_test_cmd cmd = {};

	return inj_test(fd, IOASID_TEST_MOCK_BIND, mock, &cmd, "MOCK_BIND");
}

static int inj_attach(int fd, uint32_t mock, uint32_t id)
{
	struct ioasid_test_cmd cmd = { .mock_attach = { .ioasid = id } };

	return inj_test(fd, IOASID_TEST_MOCK_ATTACH, mock, &cmd,
			"MOCK_ATTACH");
}

static int inj_attach_pasid(int fd, uint32_t mock, uint32_t pasid,
			    uint32_t id)
{
	struct ioasid_test_cmd cmd = {
		.mock_attach = { .ioasid = id, .pasid = pasid },
	};

	return inj_test(fd, IOASID_TEST_MOCK_ATTACH_PASID, mock, &cmd,
			"MOCK_ATTACH_PASID");
}

static int inj_create_nested(int fd, uint32_t parent, uint32_t *id)
{
	struct ioasid_create_nested cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = parent,
		.format = IOASID_FORMAT_MOCK_S1,
	};
	int rc = inj_ioctl(fd, IOASID_CREATE_NESTED, &cmd,
			   "IOASID_CREATE_NESTED");

	*id = cmd.out_ioasid;
	return rc;
}

static int inj_set_tables(int fd, uint32_t id, uint64_t root)
{
	struct ioasid_mock_s1 s1 = { .root_gpa = root };
	struct ioasid_set_nested_page_tables cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.format = IOASID_FORMAT_MOCK_S1,
		.data_len = sizeof(s1),
		.data_uptr = (uintptr_t)&s1,
	};

	return inj_ioctl(fd, IOASID_SET_NESTED_PAGE_TABLES, &cmd,
			 "IOASID_SET_NESTED_PAGE_TABLES");
}

static int inj_create_delegated(int fd, uint32_t parent, uint64_t table,
				uint32_t *id)
{
	struct ioasid_mock_pasid_table pt = {
		.table_gpa = table,
		.pasid_bits = PT_BITS,
	};
	struct ioasid_create_delegated cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = parent,
		.format = IOASID_FORMAT_MOCK_PASID_TABLE,
		.data_len = sizeof(pt),
		.data_uptr = (uintptr_t)&pt,
	};
	int rc = inj_ioctl(fd, IOASID_CREATE_DELEGATED, &cmd,
			   "IOASID_CREATE_DELEGATED");

	*id = cmd.out_ioasid;
	return rc;
}

/* Invalidate the guest pages at IOVA_S1 and after it: two requests */
static int inj_invalidate(int fd, uint32_t id, uint32_t *done)
{
	struct ioasid_mock_invalidate reqs[2] = {
		{ .iova = IOVA_S1, .length = PAGE_SZ },
		{ .iova = IOVA_S1 + PAGE_SZ, .length = PAGE_SZ },
	};
	struct ioasid_invalidate cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.format = IOASID_FORMAT_MOCK_S1,
		.entry_len = sizeof(reqs[0]),
		.entry_num = ARRAY_SIZE(reqs),
		.entries_uptr = (uintptr_t)reqs,
	};
	int rc = inj_ioctl(fd, IOASID_INVALIDATE, &cmd, "IOASID_INVALIDATE");

	*done = cmd.entry_num;
	return rc;
}

static int inj_vfio_bind(int vfio, int fd)
{
	struct vfio_device_bind_ioasid_fd cmd = {
		.argsz = sizeof(cmd),
		.ioasid_fd = fd,
	};

	return inj_ioctl(vfio, VFIO_DEVICE_BIND_IOASID_FD, &cmd,
			 "VFIO_DEVICE_BIND_IOASID_FD");
}

static int inj_vfio_attach(int vfio, uint32_t id)
{
	struct vfio_device_attach_ioasid cmd = {
		.argsz = sizeof(cmd),
		.ioasid = id,
	};

	return inj_ioctl(vfio, VFIO_DEVICE_ATTACH_IOASID, &cmd,
			 "VFIO_DEVICE_ATTACH_IOASID");
}

/* The vfio container shim: group ioctls that take the context, ... */

static int inj_set_container(int group, int fd)
{
	return inj_ioctl(group, VFIO_GROUP_SET_CONTAINER, &fd,
			 "VFIO_GROUP_SET_CONTAINER");
}

/* ... which opens a device: it binds and attaches it */
static int inj_device_fd(int group, const char *name, int *dev)
{
	int rc = inj_ioctl_ret(group, VFIO_GROUP_GET_DEVICE_FD, (void *)name,
			       "VFIO_GROUP_GET_DEVICE_FD", dev);

	if (rc)
		*dev = -1;
	return rc;
}

/* ... and the container ioctls of the context */

static int inj_set_iommu(int fd, unsigned long type)
{
	return inj_ioctl(fd, VFIO_SET_IOMMU, (void *)type,
			 type == VFIO_TYPE1_IOMMU ? "VFIO_SET_IOMMU(v1)" :
						    "VFIO_SET_IOMMU(v2)");
}

static int inj_map_dma(int fd, void *buf, uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_map cmd = {
		.argsz = sizeof(cmd),
		.flags = DMA_RW,
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = len,
	};

	return inj_ioctl(fd, VFIO_IOMMU_MAP_DMA, &cmd, "VFIO_IOMMU_MAP_DMA");
}

/* UNMAP_DMA of @len bytes at @iova, or of all with VFIO_DMA_UNMAP_FLAG_ALL */
static int inj_unmap_dma(int fd, uint64_t iova, uint64_t len, uint32_t flags,
			 uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap cmd = {
		.argsz = sizeof(cmd),
		.flags = flags,
		.iova = iova,
		.size = len,
	};
	int rc = inj_ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &cmd,
			   flags & VFIO_DMA_UNMAP_FLAG_ALL ?
			   "VFIO_IOMMU_UNMAP_DMA(ALL)" : "VFIO_IOMMU_UNMAP_DMA");

	*unmapped = rc ? 0 : cmd.size;
	return rc;
}

/* Room for VFIO_IOMMU_GET_INFO's answer and its capabilities */
union info_buf {
	struct vfio_iommu_type1_info info;
	unsigned char bytes[1024];
};

/* GET_INFO into @u, whose argsz says it is all room */
static int inj_get_info(int fd, union info_buf *u)
{
	memset(u, 0, sizeof(*u));
	u->info.argsz = sizeof(*u);
	return inj_ioctl(fd, VFIO_IOMMU_GET_INFO, u, "VFIO_IOMMU_GET_INFO");
}

/* Setup, which must work */

static int ctx_open(void)
{
	int fd = ioasid_open();

	CHECK(fd >= 0, "cannot open /dev/ioasid: %s", strerror(errno));
	return fd;
}

static uint32_t new_ioasid(int fd)
{
	uint32_t id;

	MUST(ioasid_create(fd, &id));
	return id;
}

/* A mock device behind IOMMU @instance, bound to context @fd */
static uint32_t new_mock(int fd, uint32_t instance)
{
	uint32_t mock;

	MUST(mock_create(fd, instance, &mock));
	MUST(mock_bind(fd, mock, NULL));
	return mock;
}

static unsigned char *new_buf(size_t len, unsigned int seed)
{
	unsigned char *buf = alloc_buf(len);

	CHECK(buf, "cannot allocate %zu bytes", len);
	fill_pattern(buf, len, seed);
	return buf;
}

/* 4 KiB pages far apart in memory: chunks of them are kept in a domain */
static unsigned char *new_scattered(size_t len, unsigned int seed)
{
	unsigned char *buf = alloc_buf(len);

	CHECK(buf, "cannot allocate %zu bytes", len);
	fault_scattered(buf, len);
	fill_pattern(buf, len, seed);
	return buf;
}

/* A 2 MiB hugetlb page: physically contiguous, mapped as one IOMMU page */
static unsigned char *new_huge(unsigned int seed)
{
	void *buf;

	if (!have_huge)
		skip("no 2 MiB hugetlb pages to be had");
	buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED)
		skip("no free 2 MiB hugetlb page");
	fill_pattern(buf, SZ_2M, seed);
	return buf;
}

/* The id the next object of the context gets: the lowest free one */
static uint32_t next_id(int fd)
{
	uint32_t id = new_ioasid(fd);

	MUST(ioasid_destroy(fd, id));
	return id;
}

/* Checks, through the mock IOMMU's walk of its page tables */

/* DMA of @mock tagged with @pasid reads @want at @iova; true on IOTLB hit */
static bool expect_read(int fd, uint32_t mock, uint32_t pasid, uint64_t iova,
			const void *want)
{
	unsigned char got[DATA_LEN] = {};
	struct dma_result res;

	MUST(mock_dma_pasid(fd, mock, pasid, iova, got, sizeof(got), false,
			    &res));
	CHECK(res.fault == IOASID_TEST_FAULT_NONE && res.done == sizeof(got),
	      "mock %u PASID %u: DMA at %#llx faults (reason %u)", mock, pasid,
	      (unsigned long long)iova, res.fault);
	CHECK(!memcmp(got, want, sizeof(got)),
	      "mock %u PASID %u reads other memory at %#llx", mock, pasid,
	      (unsigned long long)iova);
	return res.iotlb_hit;
}

/* DMA of @mock tagged with @pasid at @iova faults for @reason */
static void expect_fault(int fd, uint32_t mock, uint32_t pasid, uint64_t iova,
			 uint32_t reason)
{
	unsigned char got[DATA_LEN];
	struct dma_result res;

	MUST(mock_dma_pasid(fd, mock, pasid, iova, got, sizeof(got), false,
			    &res));
	CHECK(res.fault == reason && !res.done,
	      "mock %u PASID %u: DMA at %#llx: fault %u after %llu bytes, fault %u expected",
	      mock, pasid, (unsigned long long)iova, res.fault,
	      (unsigned long long)res.done, reason);
}

/* DMA of @mock reads both ends of @len bytes of @buf at @iova, or faults */
static void expect_range(int fd, uint32_t mock, uint64_t iova,
			 const unsigned char *buf, uint64_t len, bool mapped)
{
	const uint64_t off[] = { 0, len - DATA_LEN };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(off); i++) {
		if (mapped)
			expect_read(fd, mock, 0, iova + off[i], buf + off[i]);
		else
			expect_fault(fd, mock, 0, iova + off[i],
				     IOASID_TEST_FAULT_NOT_PRESENT);
	}
}

/* An IOMMU page of @pgsize bytes translates @iova for @mock */
static void expect_pgsize(int fd, uint32_t mock, uint64_t iova,
			  uint64_t pgsize)
{
	unsigned char got[DATA_LEN];
	struct dma_result res;

	MUST(mock_dma(fd, mock, iova, got, sizeof(got), false, &res));
	CHECK(res.fault == IOASID_TEST_FAULT_NONE && res.pgsize == pgsize,
	      "mock %u: %#llx is in an IOMMU page of %llu bytes, not %llu",
	      mock, (unsigned long long)iova,
	      (unsigned long long)res.pgsize, (unsigned long long)pgsize);
}

/* The memory charged to this process is @pages pages */
static void expect_locked(long pages)
{
	long now = locked_pages();

	CHECK(now == pages, "VmLck is %ld pages, %ld expected", now, pages);
}

static bool in_ranges(const struct ioasid_iova_range *r, uint32_t n,
		      uint64_t iova)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (r[i].start <= iova && iova <= r[i].last)
			return true;
	return false;
}

/*
 * The usable ranges of IOASID @id leave out the reserved region of mock
 * IOMMU instance 0 if @r0, that of instance 1 if @r1, and nothing else.
 */
static void expect_resv(int fd, uint32_t id, bool r0, bool r1)
{
	struct ioasid_iova_range r[4];
	uint32_t n = ARRAY_SIZE(r);

	MUST(ioasid_iova_ranges(fd, id, r, &n));
	CHECK(n == 1U + r0 + r1 &&
	      in_ranges(r, n, IOASID_TEST_RESV_START_0) == !r0 &&
	      in_ranges(r, n, IOASID_TEST_RESV_START_1) == !r1,
	      "IOASID %u has %u usable ranges; reserved regions expected: instance 0 %s, instance 1 %s",
	      id, n, r0 ? "yes" : "no", r1 ? "yes" : "no");
}

/* The context selected no IOMMU, or a nesting one of instance 0 or 1 */
static void expect_iommu(int fd, bool bound)
{
	struct ioasid_info info;

	MUST(ioasid_get_info(fd, &info));
	if (!bound) {
		CHECK(!(info.out_flags & IOASID_INFO_IOMMU_BOUND),
		      "an IOMMU is selected with no device bound");
		return;
	}
	CHECK(info.out_flags & IOASID_INFO_IOMMU_BOUND,
	      "no IOMMU is selected with a device bound");
	CHECK((info.out_flags & IOASID_INFO_NESTING) &&
	      info.out_formats == MOCK_FORMATS,
	      "the IOMMU selected nests with formats %#llx, not %#llx",
	      (unsigned long long)info.out_formats, MOCK_FORMATS);
	CHECK(info.out_max_pasid_bits == IOASID_TEST_PASID_BITS,
	      "the IOMMU selected has %u PASID bits, not %u",
	      info.out_max_pasid_bits, IOASID_TEST_PASID_BITS);
}

/*
 * Normal IOASID @a, with a page mapped at IOVA_OLD, and mock devices of
 * IOMMU instances 0 and 1 attached to it: two domains, so that a MAP or
 * UNMAP changes two page tables and must undo its change in both.
 */
struct two {
	int fd;
	uint32_t a;
	uint32_t mock[2];
	unsigned char *old;
};

static void two_setup(struct two *t)
{
	unsigned int i;

	t->fd = ctx_open();
	t->a = new_ioasid(t->fd);
	t->old = new_buf(PAGE_SZ, 1);
	MUST(ioasid_map_fixed(t->fd, t->a, t->old, PAGE_SZ, IOVA_OLD));
	for (i = 0; i < 2; i++) {
		t->mock[i] = new_mock(t->fd, i);
		MUST(mock_attach(t->fd, t->mock[i], t->a));
	}
}

/* Both devices read @len bytes of @buf at @iova, or fault there */
static void two_expect(struct two *t, uint64_t iova, const unsigned char *buf,
		       uint64_t len, bool mapped)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		expect_read(t->fd, t->mock[i], 0, IOVA_OLD, t->old);
		expect_range(t->fd, t->mock[i], iova, buf, len, mapped);
	}
}

static void two_teardown(struct two *t)
{
	MUST(mock_detach(t->fd, t->mock[0]));
	MUST(mock_detach(t->fd, t->mock[1]));
	MUST(ioasid_destroy(t->fd, t->a));
}

/*
 * A guest: its RAM mapped at GPA_BASE in nesting parent @parent, and mock
 * devices of instances 0 and 1 bound, the first one's RID on the parent.
 * The guest writes its stage-1 and PASID tables into its RAM, in the mock
 * formats; pages of it are handed out in order.
 */
struct world {
	int fd;
	uint32_t parent;
	uint32_t mock[2];
	unsigned char *ram;
	unsigned int next;
};

static void world_setup(struct world *w)
{
	w->fd = ctx_open();
	MUST(ioasid_create_parent(w->fd, &w->parent));
	/* Zeroed: no page of it holds the data of another */
	w->ram = alloc_buf(RAM_SIZE);
	CHECK(w->ram, "cannot allocate the guest's RAM");
	memset(w->ram, 0, RAM_SIZE);
	w->next = 0;
	MUST(ioasid_map_fixed(w->fd, w->parent, w->ram, RAM_SIZE, GPA_BASE));
	w->mock[0] = new_mock(w->fd, 0);
	w->mock[1] = new_mock(w->fd, 1);
	MUST(mock_attach(w->fd, w->mock[0], w->parent));
}

static void *gpa_ptr(struct world *w, uint64_t gpa)
{
	return w->ram + (gpa - GPA_BASE);
}

/* A zeroed guest page; returns its GPA */
static uint64_t guest_alloc(struct world *w)
{
	uint64_t gpa = GPA_BASE + w->next * PAGE_SZ;

	CHECK(w->next < RAM_PAGES, "the guest is out of RAM");
	w->next++;
	memset(gpa_ptr(w, gpa), 0, PAGE_SZ);
	return gpa;
}

/* A guest page of data of its own; returns its GPA */
static uint64_t guest_data(struct world *w, unsigned int seed)
{
	uint64_t gpa = guest_alloc(w);

	fill_pattern(gpa_ptr(w, gpa), PAGE_SZ, seed);
	return gpa;
}

/* Map @iova to @gpa for reads and writes in the stage-1 table at @root */
static void s1_map(struct world *w, uint64_t root, uint64_t iova, uint64_t gpa)
{
	uint64_t table = root, *pte;
	int level;

	for (level = IOASID_MOCK_S1_LEVELS - 1; level > 0; level--) {
		pte = (uint64_t *)gpa_ptr(w, table) +
		      ((iova >> (12 + 9 * level)) & 511);
		if (!(*pte & IOASID_MOCK_S1_PRESENT))
			*pte = guest_alloc(w) | IOASID_MOCK_S1_PRESENT;
		table = *pte & IOASID_MOCK_S1_ADDR;
	}
	pte = (uint64_t *)gpa_ptr(w, table) + ((iova >> 12) & 511);
	*pte = gpa | IOASID_MOCK_S1_READ | IOASID_MOCK_S1_WRITE |
	       IOASID_MOCK_S1_PRESENT;
}

/* The sequences, each run by a child of its own; they end in finish() */

/* IOASID_CREATE of a normal IOASID, then of a nesting parent */
static void seq_create(void)
{
	unsigned char *old = new_buf(PAGE_SZ, 1);
	uint32_t a, mock, id[2], want;
	unsigned int i;
	int fd;

	fd = ctx_open();
	a = new_ioasid(fd);
	MUST(ioasid_map_fixed(fd, a, old, PAGE_SZ, IOVA_OLD));
	mock = new_mock(fd, 0);
	MUST(mock_attach(fd, mock, a));
	want = next_id(fd);

	for (i = 0; i < 2; i++) {
		while (inj_create(fd, i ? IOASID_CREATE_NEST_PARENT : 0,
				  &id[i])) {
			/* Nothing half made is visible */
			CHECK(ioasid_destroy(fd, want + i) == ENOENT,
			      "a failed IOASID_CREATE left IOASID %u",
			      want + i);
			expect_read(fd, mock, 0, IOVA_OLD, old);
		}
		/* Nor was its id kept */
		CHECK(id[i] == want + i,
		      "IOASID_CREATE gave id %u, not %u: an id leaked", id[i],
		      want + i);
	}

	/* Both work: the device moves through them */
	for (i = 0; i < 2; i++) {
		MUST(ioasid_map_fixed(fd, id[i], old, PAGE_SZ, IOVA_NEW));
		MUST(mock_attach(fd, mock, id[i]));
		expect_read(fd, mock, 0, IOVA_NEW, old);
	}
	MUST(mock_detach(fd, mock));
	for (i = 0; i < 2; i++)
		MUST(ioasid_destroy(fd, id[i]));
	MUST(ioasid_destroy(fd, a));
	finish();
}

/*
 * IOASID_MAP of @len bytes of @buf (or @memfd if >= 0) at @iova into two
 * domains; on success an IOMMU page of @pgsize translates @iova, if set.
 */
static void map_seq(unsigned char *buf, int memfd, uint64_t len,
		    uint64_t iova, uint64_t pgsize)
{
	unsigned int i;
	struct two t;
	long locked;

	two_setup(&t);
	locked = locked_pages();
	while (inj_map(t.fd, t.a, buf, memfd, len, iova)) {
		two_expect(&t, iova, buf, len, false);
		expect_locked(locked);
		CHECK(ioasid_unmap(t.fd, t.a, iova, len, NULL) == ENOENT,
		      "a failed IOASID_MAP left a mapping");
	}
	two_expect(&t, iova, buf, len, true);
	expect_locked(locked + len / PAGE_SZ);
	for (i = 0; pgsize && i < 2; i++)
		expect_pgsize(t.fd, t.mock[i], iova, pgsize);
	two_teardown(&t);
	finish();
}

/* Anonymous memory */
static void seq_map(void)
{
	map_seq(new_buf(NEW_SIZE, 2), -1, NEW_SIZE, IOVA_NEW, 0);
}

/* A 2 MiB hugetlb page, as one 2 MiB IOMMU page */
static void seq_map_huge(void)
{
	map_seq(new_huge(3), -1, SZ_2M, IOVA_HUGE, SZ_2M);
}

/*
 * More pages than one chunk of the kernel's record of pinned pages (512
 * pages, whose runs take an allocation each): the second chunk's goes
 * into an xarray node, and a failure there must unpin the first chunk.
 */
static void seq_map_chunks(void)
{
	const uint64_t len = SZ_2M + NEW_SIZE;

	map_seq(new_buf(len, 10), -1, len, IOVA_NEW, 0);
}

/* Pages of a memfd, which the MAP pins through the file */
static void seq_map_file(void)
{
	unsigned char *data = new_buf(NEW_SIZE, 4);
	int memfd;

	memfd = memfd_create("ioasid_fail_nth", MFD_CLOEXEC);
	CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
	/* Its pages exist before the MAP: pinning them allocates none */
	CHECK(write(memfd, data, NEW_SIZE) == NEW_SIZE,
	      "cannot fill the memfd");
	map_seq(data, memfd, NEW_SIZE, IOVA_NEW, 0);
}

/*
 * Both devices read both ends of the @size bytes of @buf at @iova and
 * either side of the page at offset @cut, which reads too or, if @hole,
 * faults.
 */
static void cut_expect(struct two *t, uint64_t iova, const unsigned char *buf,
		       uint64_t size, uint64_t cut, bool hole)
{
	const uint64_t off[] = {
		0, cut - DATA_LEN, cut, cut + PAGE_SZ, size - DATA_LEN,
	};
	unsigned int i, j;

	for (i = 0; i < 2; i++) {
		expect_read(t->fd, t->mock[i], 0, IOVA_OLD, t->old);
		for (j = 0; j < ARRAY_SIZE(off); j++) {
			if (hole && off[j] == cut)
				expect_fault(t->fd, t->mock[i], 0,
					     iova + off[j],
					     IOASID_TEST_FAULT_NOT_PRESENT);
			else
				expect_read(t->fd, t->mock[i], 0,
					    iova + off[j], buf + off[j]);
		}
	}
}

/*
 * IOASID_UNMAP of the middle page of a mapping, which both domains hold
 * in small pages: the mapping becomes two, which takes two new areas. (A
 * cut inside a large IOMMU page is refused before anything is allocated.)
 */
static void seq_unmap_split(void)
{
	const uint64_t cut = IOVA_NEW + NEW_SIZE / 2;
	unsigned char *buf = new_buf(NEW_SIZE, 5);
	uint64_t unmapped = 0;
	struct two t;
	long locked;

	two_setup(&t);
	MUST(ioasid_map_fixed(t.fd, t.a, buf, NEW_SIZE, IOVA_NEW));
	locked = locked_pages();

	while (inj_unmap(t.fd, t.a, cut, PAGE_SZ, &unmapped)) {
		cut_expect(&t, IOVA_NEW, buf, NEW_SIZE, NEW_SIZE / 2, false);
		expect_locked(locked);
	}
	CHECK(unmapped == PAGE_SZ, "UNMAP of a page says %llu bytes",
	      (unsigned long long)unmapped);
	cut_expect(&t, IOVA_NEW, buf, NEW_SIZE, NEW_SIZE / 2, true);
	expect_locked(locked - 1);

	/* The halves keep their pages: the hole fills, all of it goes */
	MUST(ioasid_map_fixed(t.fd, t.a, buf + NEW_SIZE / 2, PAGE_SZ, cut));
	cut_expect(&t, IOVA_NEW, buf, NEW_SIZE, NEW_SIZE / 2, false);
	expect_locked(locked);
	MUST(ioasid_unmap(t.fd, t.a, IOVA_NEW, NEW_SIZE, &unmapped));
	CHECK(unmapped == NEW_SIZE, "UNMAP of the three mappings says %llu",
	      (unsigned long long)unmapped);
	two_expect(&t, IOVA_NEW, buf, NEW_SIZE, false);
	expect_locked(locked - NEW_SIZE / PAGE_SZ);
	two_teardown(&t);
	finish();
}

/*
 * UNMAP of 4 KiB pages scattered in memory, which the pages keep in the
 * first domain rather than as runs of their own: the chunks an UNMAP cuts
 * get their runs back, read from that domain, before anything is unmapped,
 * and those are the only allocations such a cut adds. A failed one leaves
 * every translation and every pin as they were; so does a failed UNMAP of
 * the rest, over a chunk that has its runs back and one that does not.
 */
static void seq_unmap_stored(void)
{
	const uint64_t cut = SZ_2M / 2;
	unsigned char *buf = new_scattered(STORED_SIZE, 6);
	uint64_t unmapped = 0;
	struct two t;
	long locked;

	two_setup(&t);
	MUST(ioasid_map_fixed(t.fd, t.a, buf, STORED_SIZE, IOVA_STORED));
	locked = locked_pages();

	while (inj_unmap(t.fd, t.a, IOVA_STORED + cut, PAGE_SZ, &unmapped)) {
		cut_expect(&t, IOVA_STORED, buf, STORED_SIZE, cut, false);
		expect_locked(locked);
	}
	CHECK(unmapped == PAGE_SZ, "UNMAP of a page says %llu bytes",
	      (unsigned long long)unmapped);
	cut_expect(&t, IOVA_STORED, buf, STORED_SIZE, cut, true);
	expect_locked(locked - 1);

	while (inj_unmap(t.fd, t.a, IOVA_STORED, STORED_SIZE, &unmapped)) {
		cut_expect(&t, IOVA_STORED, buf, STORED_SIZE, cut, true);
		expect_locked(locked - 1);
	}
	CHECK(unmapped == STORED_SIZE - PAGE_SZ,
	      "UNMAP of the rest says %llu bytes",
	      (unsigned long long)unmapped);
	two_expect(&t, IOVA_STORED, buf, STORED_SIZE, false);
	expect_locked(locked - STORED_SIZE / PAGE_SZ);
	two_teardown(&t);
	finish();
}

/*
 * IOASID_COPY of a range made of two mappings of IOASID a, which device 0
 * uses, to IOASID b, which device 1 (of another IOMMU instance) uses.
 */
static void seq_copy(void)
{
	const uint64_t half = NEW_SIZE / 2;
	unsigned char *src = new_buf(NEW_SIZE, 6);
	unsigned char *old = new_buf(PAGE_SZ, 100);
	uint32_t a, b, mock[2];
	long locked;
	int fd;

	fd = ctx_open();
	a = new_ioasid(fd);
	b = new_ioasid(fd);
	MUST(ioasid_map_fixed(fd, a, src, half, IOVA_NEW));
	MUST(ioasid_map_fixed(fd, a, src + half, half, IOVA_NEW + half));
	MUST(ioasid_map_fixed(fd, b, old, PAGE_SZ, IOVA_OLD));
	mock[0] = new_mock(fd, 0);
	mock[1] = new_mock(fd, 1);
	MUST(mock_attach(fd, mock[0], a));
	MUST(mock_attach(fd, mock[1], b));
	locked = locked_pages();

	while (inj_copy(fd, b, a, IOVA_NEW, NEW_SIZE, IOVA_DST)) {
		expect_range(fd, mock[1], IOVA_DST, src, NEW_SIZE, false);
		expect_read(fd, mock[1], 0, IOVA_OLD, old);
		expect_range(fd, mock[0], IOVA_NEW, src, NEW_SIZE, true);
		expect_locked(locked);
		CHECK(ioasid_unmap(fd, b, IOVA_DST, NEW_SIZE, NULL) == ENOENT,
		      "a failed IOASID_COPY left a mapping");
	}
	expect_range(fd, mock[1], IOVA_DST, src, NEW_SIZE, true);
	expect_read(fd, mock[1], 0, IOVA_DST + half, src + half);
	expect_read(fd, mock[1], 0, IOVA_OLD, old);
	/* Nothing is pinned or charged twice */
	expect_locked(locked);

	/* The copy lives on without its source */
	MUST(ioasid_unmap(fd, a, IOVA_NEW, NEW_SIZE, NULL));
	expect_range(fd, mock[1], IOVA_DST, src, NEW_SIZE, true);
	expect_locked(locked);

	MUST(mock_detach(fd, mock[0]));
	MUST(mock_detach(fd, mock[1]));
	MUST(ioasid_destroy(fd, a));
	MUST(ioasid_destroy(fd, b));
	finish();
}

/*
 * The first device bound selects the context's IOMMU, with everything it
 * can do, then is attached.
 */
static void seq_bind_attach(void)
{
	unsigned char *old = new_buf(PAGE_SZ, 1);
	uint32_t a, mock;
	int fd;

	fd = ctx_open();
	a = new_ioasid(fd);
	MUST(ioasid_map_fixed(fd, a, old, PAGE_SZ, IOVA_OLD));
	MUST(mock_create(fd, 0, &mock));

	while (inj_bind(fd, mock)) {
		expect_iommu(fd, false);
		CHECK(mock_attach(fd, mock, a) == ENODEV,
		      "a failed MOCK_BIND left the device bound");
		expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);
	}
	expect_iommu(fd, true);
	expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);

	while (inj_attach(fd, mock, a)) {
		expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);
		expect_resv(fd, a, false, false);
	}
	expect_read(fd, mock, 0, IOVA_OLD, old);
	expect_resv(fd, a, true, false);

	MUST(mock_detach(fd, mock));
	expect_resv(fd, a, false, false);
	/* The last device gone, the context has no IOMMU: nothing was left */
	MUST(mock_unbind(fd, mock));
	expect_iommu(fd, false);
	MUST(ioasid_destroy(fd, a));
	finish();
}

/* Device i translates by IOASID at[i], which reserves what its devices do */
static void replace_expect(int fd, const uint32_t *id, const uint32_t *mock,
			   const unsigned int *at, const unsigned char *buf)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		expect_read(fd, mock[i], 0, IOVA_OLD, buf + at[i] * PAGE_SZ);
		expect_resv(fd, id[i], at[0] == i, at[1] == i);
	}
}

/*
 * Devices of IOMMU instances 0 and 1, both on IOASID a (two domains), move
 * to b and back, replacing their attachment: device 0 to b, which makes
 * b's first domain; device 1 to b, which finds that domain unusable by
 * its instance and makes a second; device 0 back to a, whose domains went
 * with the devices, which makes and fills one again.
 */
static void seq_replace(void)
{
	static const struct {
		unsigned int dev, to;
	} moves[] = { { 0, 1 }, { 1, 1 }, { 0, 0 } };
	unsigned char *buf = new_buf(2 * PAGE_SZ, 8);
	unsigned int at[2] = { 0, 0 }, i;
	uint32_t id[2], mock[2];
	int fd;

	fd = ctx_open();
	for (i = 0; i < 2; i++) {
		id[i] = new_ioasid(fd);
		MUST(ioasid_map_fixed(fd, id[i], buf + i * PAGE_SZ, PAGE_SZ,
				      IOVA_OLD));
	}
	for (i = 0; i < 2; i++) {
		mock[i] = new_mock(fd, i);
		MUST(mock_attach(fd, mock[i], id[0]));
	}

	for (i = 0; i < ARRAY_SIZE(moves); i++) {
		while (inj_attach(fd, mock[moves[i].dev], id[moves[i].to]))
			replace_expect(fd, id, mock, at, buf);
		at[moves[i].dev] = moves[i].to;
		replace_expect(fd, id, mock, at, buf);
	}

	for (i = 0; i < 2; i++)
		MUST(mock_detach(fd, mock[i]));
	for (i = 0; i < 2; i++)
		MUST(ioasid_destroy(fd, id[i]));
	finish();
}

/* PASIDs 0 to 3 of both devices translate by IOASID at[][] or are blocked */
static void pasid_expect(int fd, const uint32_t *mock, int at[2][4],
			 const unsigned char *buf)
{
	unsigned int d, p;

	for (d = 0; d < 2; d++) {
		for (p = 0; p < 4; p++) {
			if (at[d][p] < 0)
				expect_fault(fd, mock[d], p, IOVA_OLD,
					     IOASID_TEST_FAULT_BLOCKED);
			else
				expect_read(fd, mock[d], p, IOVA_OLD,
					    buf + at[d][p] * PAGE_SZ);
		}
	}
}

/*
 * PASIDs attached to IOASIDs a and b: one that needs a new domain, one
 * that uses the domain of device 0's RID, and one of device 1 (another
 * IOMMU instance) that cannot use b's domain and needs its own.
 */
static void seq_pasid(void)
{
	static const struct {
		unsigned int dev, pasid, to;
	} moves[] = { { 0, 1, 1 }, { 0, 2, 0 }, { 1, 1, 1 } };
	unsigned char *buf = new_buf(2 * PAGE_SZ, 9);
	int at[2][4] = { { 0, -1, -1, -1 }, { -1, -1, -1, -1 } };
	uint32_t id[2], mock[2];
	unsigned int i;
	int fd;

	fd = ctx_open();
	for (i = 0; i < 2; i++) {
		id[i] = new_ioasid(fd);
		MUST(ioasid_map_fixed(fd, id[i], buf + i * PAGE_SZ, PAGE_SZ,
				      IOVA_OLD));
		mock[i] = new_mock(fd, i);
	}
	MUST(mock_attach(fd, mock[0], id[0]));

	for (i = 0; i < ARRAY_SIZE(moves); i++) {
		uint32_t m = mock[moves[i].dev], pasid = moves[i].pasid;

		while (inj_attach_pasid(fd, m, pasid, id[moves[i].to])) {
			pasid_expect(fd, mock, at, buf);
			CHECK(mock_detach_pasid(fd, m, pasid) == ENOENT,
			      "a failed MOCK_ATTACH_PASID left PASID %u attached",
			      pasid);
		}
		at[moves[i].dev][pasid] = moves[i].to;
		pasid_expect(fd, mock, at, buf);
	}

	for (i = 0; i < ARRAY_SIZE(moves); i++)
		MUST(mock_detach_pasid(fd, mock[moves[i].dev],
				       moves[i].pasid));
	MUST(mock_detach(fd, mock[0]));
	for (i = 0; i < 2; i++)
		MUST(ioasid_destroy(fd, id[i]));
	finish();
}

/*
 * A nested IOASID is created, given the guest's stage-1 table, and gets
 * device 0 (replacing the parent under its RID: a nested domain over the
 * parent's domain) and device 1 (a parent domain of instance 1, filled
 * with the guest's RAM, and a nested domain over it).
 */
static void seq_nested(void)
{
	uint32_t want, nested;
	uint64_t root, page;
	struct world w;
	void *data;

	world_setup(&w);
	root = guest_alloc(&w);
	page = guest_data(&w, 10);
	data = gpa_ptr(&w, page);
	s1_map(&w, root, IOVA_S1, page);
	want = next_id(w.fd);

	while (inj_create_nested(w.fd, w.parent, &nested)) {
		CHECK(ioasid_destroy(w.fd, want) == ENOENT,
		      "a failed IOASID_CREATE_NESTED left IOASID %u", want);
		expect_read(w.fd, w.mock[0], 0, page, data);
	}
	CHECK(nested == want, "IOASID_CREATE_NESTED gave id %u, not %u",
	      nested, want);

	while (inj_set_tables(w.fd, nested, root)) {
		/* No tables: nothing to attach to */
		CHECK(mock_attach(w.fd, w.mock[0], nested) == EINVAL,
		      "a nested IOASID has tables after a failed set");
		expect_read(w.fd, w.mock[0], 0, page, data);
	}

	while (inj_attach(w.fd, w.mock[0], nested)) {
		/* The RID is on the parent: IOVAs are GPAs */
		expect_read(w.fd, w.mock[0], 0, page, data);
		expect_fault(w.fd, w.mock[0], 0, IOVA_S1,
			     IOASID_TEST_FAULT_NOT_PRESENT);
		/* No nested domain was left behind: the tables can change */
		MUST(ioasid_set_mock_s1(w.fd, nested, root));
		expect_resv(w.fd, w.parent, true, false);
	}
	expect_read(w.fd, w.mock[0], 0, IOVA_S1, data);

	while (inj_attach(w.fd, w.mock[1], nested)) {
		expect_fault(w.fd, w.mock[1], 0, IOVA_S1,
			     IOASID_TEST_FAULT_BLOCKED);
		expect_read(w.fd, w.mock[0], 0, IOVA_S1, data);
		expect_resv(w.fd, w.parent, true, false);
	}
	expect_read(w.fd, w.mock[1], 0, IOVA_S1, data);
	expect_read(w.fd, w.mock[0], 0, IOVA_S1, data);
	expect_resv(w.fd, w.parent, true, true);

	MUST(mock_detach(w.fd, w.mock[1]));
	MUST(mock_detach(w.fd, w.mock[0]));
	MUST(ioasid_destroy(w.fd, nested));
	MUST(ioasid_destroy(w.fd, w.parent));
	finish();
}

/*
 * A delegated IOASID over the guest's PASID table, which routes PASID 1
 * to a stage-1 table mapping IOVA_S1 to one page and PASID 2 to another
 * mapping it to a second page. Device 0's RID goes there, from the
 * parent; then PASID 1 of device 1, another IOMMU instance.
 */
static void seq_delegated(void)
{
	uint64_t pt, t1, t2, page[2];
	uint32_t want, del;
	struct world w;
	uint64_t *entry;

	world_setup(&w);
	pt = guest_alloc(&w);
	t1 = guest_alloc(&w);
	t2 = guest_alloc(&w);
	page[0] = guest_data(&w, 11);
	page[1] = guest_data(&w, 12);
	s1_map(&w, t1, IOVA_S1, page[0]);
	s1_map(&w, t2, IOVA_S1, page[1]);
	entry = gpa_ptr(&w, pt);
	entry[1] = t1 | IOASID_MOCK_S1_PRESENT;
	entry[2] = t2 | IOASID_MOCK_S1_PRESENT;
	want = next_id(w.fd);

	while (inj_create_delegated(w.fd, w.parent, pt, &del)) {
		CHECK(ioasid_destroy(w.fd, want) == ENOENT,
		      "a failed IOASID_CREATE_DELEGATED left IOASID %u", want);
		expect_read(w.fd, w.mock[0], 0, page[0],
			    gpa_ptr(&w, page[0]));
	}
	CHECK(del == want, "IOASID_CREATE_DELEGATED gave id %u, not %u", del,
	      want);

	while (inj_attach(w.fd, w.mock[0], del)) {
		/* Still on the parent, whose PASIDs are not the guest's */
		expect_read(w.fd, w.mock[0], 0, page[0],
			    gpa_ptr(&w, page[0]));
		expect_fault(w.fd, w.mock[0], 1, IOVA_S1,
			     IOASID_TEST_FAULT_BLOCKED);
		expect_resv(w.fd, w.parent, true, false);
	}
	expect_read(w.fd, w.mock[0], 1, IOVA_S1, gpa_ptr(&w, page[0]));
	expect_read(w.fd, w.mock[0], 2, IOVA_S1, gpa_ptr(&w, page[1]));

	while (inj_attach_pasid(w.fd, w.mock[1], 1, del)) {
		expect_fault(w.fd, w.mock[1], 1, IOVA_S1,
			     IOASID_TEST_FAULT_BLOCKED);
		CHECK(mock_detach_pasid(w.fd, w.mock[1], 1) == ENOENT,
		      "a failed MOCK_ATTACH_PASID left PASID 1 attached");
		expect_read(w.fd, w.mock[0], 1, IOVA_S1, gpa_ptr(&w, page[0]));
	}
	expect_read(w.fd, w.mock[1], 1, IOVA_S1, gpa_ptr(&w, page[0]));
	expect_read(w.fd, w.mock[0], 2, IOVA_S1, gpa_ptr(&w, page[1]));
	/* PASIDs do not reserve: only device 0's RID does */
	expect_resv(w.fd, w.parent, true, false);

	MUST(mock_detach_pasid(w.fd, w.mock[1], 1));
	MUST(mock_detach(w.fd, w.mock[0]));
	MUST(ioasid_destroy(w.fd, del));
	MUST(ioasid_destroy(w.fd, w.parent));
	finish();
}

/*
 * IOASID_INVALIDATE of a nested IOASID with a nested domain per IOMMU
 * instance, each of which cached a translation the guest changed since.
 */
static void seq_invalidate(void)
{
	uint64_t root, page[2];
	uint32_t nested, done;
	unsigned int i;
	struct world w;

	world_setup(&w);
	root = guest_alloc(&w);
	page[0] = guest_data(&w, 13);
	page[1] = guest_data(&w, 14);
	s1_map(&w, root, IOVA_S1, page[0]);
	MUST(ioasid_create_nested(w.fd, w.parent, IOASID_FORMAT_MOCK_S1,
				  &nested));
	MUST(ioasid_set_mock_s1(w.fd, nested, root));
	for (i = 0; i < 2; i++) {
		MUST(mock_attach(w.fd, w.mock[i], nested));
		expect_read(w.fd, w.mock[i], 0, IOVA_S1, gpa_ptr(&w, page[0]));
	}
	s1_map(&w, root, IOVA_S1, page[1]);

	while (inj_invalidate(w.fd, nested, &done)) {
		/*
		 * Nothing was carried out. The uAPI leaves entry_num as it
		 * was when the call fails before it looks at any request,
		 * as a failed allocation makes it; 0 says the same.
		 */
		CHECK(done == 0 || done == 2,
		      "IOASID_INVALIDATE failed with %u requests done", done);
		for (i = 0; i < 2; i++)
			CHECK(expect_read(w.fd, w.mock[i], 0, IOVA_S1,
					  gpa_ptr(&w, page[0])),
			      "mock %u: a failed IOASID_INVALIDATE dropped the IOTLB",
			      w.mock[i]);
	}
	CHECK(done == 2, "IOASID_INVALIDATE did %u requests of 2", done);
	for (i = 0; i < 2; i++)
		CHECK(!expect_read(w.fd, w.mock[i], 0, IOVA_S1,
				   gpa_ptr(&w, page[1])),
		      "mock %u: the IOTLB kept an invalidated entry",
		      w.mock[i]);

	for (i = 0; i < 2; i++)
		MUST(mock_detach(w.fd, w.mock[i]));
	MUST(ioasid_destroy(w.fd, nested));
	MUST(ioasid_destroy(w.fd, w.parent));
	finish();
}

/*
 * A mock vfio device bound to the context through its cdev fd, as a VMM
 * does, and attached: the bind opens the vfio device.
 */
static void seq_vfio(void)
{
	unsigned char *old = new_buf(PAGE_SZ, 1);
	unsigned char region[REGION_SIZE];
	uint32_t a, mock, index;
	int fd, vfio, rc;

	fd = ctx_open();
	a = new_ioasid(fd);
	MUST(ioasid_map_fixed(fd, a, old, PAGE_SZ, IOVA_OLD));
	rc = mock_create_vfio(fd, 0, &mock, &index);
	if (rc == EOPNOTSUPP || rc == ENODEV)
		skip("no mock vfio devices: CONFIG_VFIO_DEVICE_CDEV");
	MUST(rc);
	vfio = vfio_open_index(index);
	CHECK(vfio >= 0, "cannot open vfio device %u: %s", index,
	      strerror(errno));

	while (inj_vfio_bind(vfio, fd)) {
		CHECK(pread(vfio, region, 1, 0) == -1 && errno == EINVAL,
		      "a failed bind granted device access");
		expect_iommu(fd, false);
		expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);
	}
	CHECK(pread(vfio, region, sizeof(region), 0) == REGION_SIZE &&
	      region[0] == REGION_BYTE &&
	      region[REGION_SIZE - 1] == REGION_BYTE,
	      "the bound device's region does not read");
	expect_iommu(fd, true);
	expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);

	while (inj_vfio_attach(vfio, a)) {
		expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);
		expect_resv(fd, a, false, false);
	}
	expect_read(fd, mock, 0, IOVA_OLD, old);
	expect_resv(fd, a, true, false);

	MUST(vfio_detach_ioasid(vfio));
	/* Closing the device fd unbinds: the context is as before */
	close(vfio);
	expect_iommu(fd, false);
	expect_fault(fd, mock, 0, IOVA_OLD, IOASID_TEST_FAULT_BLOCKED);
	MUST(ioasid_destroy(fd, a));
	finish();
}

/*
 * The access of an emulated device's driver: created, attached, pinning,
 * copying, called back by an UNMAP that splits the mapping it pins, and
 * moved to another IOASID. A failed pin pins nothing, a failed copy writes
 * nothing, a failed UNMAP unmaps nothing (the driver may have let go).
 */
static void seq_access(void)
{
	const uint64_t off = PAGE_SZ - 8, len = 2 * PAGE_SZ;
	unsigned char *buf = new_buf(NEW_SIZE, 6), got[2 * PAGE_SZ];
	unsigned char data[2 * PAGE_SZ];
	struct ioasid_test_cmd cmd;
	uint32_t a, b, mock;
	uint64_t unmapped;
	long locked;
	int fd, afd;

	fd = ctx_open();
	a = new_ioasid(fd);
	b = new_ioasid(fd);
	mock = new_mock(fd, 0);
	MUST(mock_attach(fd, mock, a));
	MUST(ioasid_map_fixed(fd, a, buf, NEW_SIZE, IOVA_NEW));
	MUST(ioasid_map_fixed(fd, b, buf, PAGE_SZ, IOVA_NEW));
	locked = locked_pages();

	do
		memset(&cmd, 0, sizeof(cmd));
	while (inj_test(fd, IOASID_TEST_ACCESS_CREATE, 0, &cmd,
			"ACCESS_CREATE"));
	afd = cmd.access.out_fd;
	memset(&cmd, 0, sizeof(cmd));
	cmd.access.ioasid = a;
	while (inj_test(fd, IOASID_TEST_ACCESS_ATTACH, afd, &cmd,
			"ACCESS_ATTACH"))
		CHECK(access_pin(fd, afd, IOVA_NEW, 1, NULL, 0) == ENODEV,
		      "a failed attach attached the access");

	for (;;) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.access.iova = IOVA_NEW + off;
		cmd.access.length = len;
		cmd.access.uptr = (uintptr_t)got;
		if (!inj_test(fd, IOASID_TEST_ACCESS_PIN, afd, &cmd,
			      "ACCESS_PIN"))
			break;
		CHECK(access_pins(fd, afd) == 0, "a failed pin kept a pin");
		expect_locked(locked);
	}
	CHECK(!memcmp(got, buf + off, len), "the pinned pages read wrong");
	expect_locked(locked);

	fill_pattern(data, len, 61);
	for (;;) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.access.flags = IOASID_TEST_ACCESS_WRITE;
		cmd.access.iova = IOVA_NEW + 3 * PAGE_SZ;
		cmd.access.length = len;
		cmd.access.uptr = (uintptr_t)data;
		if (!inj_test(fd, IOASID_TEST_ACCESS_RW, afd, &cmd,
			      "ACCESS_RW"))
			break;
		CHECK(memcmp(buf + 3 * PAGE_SZ, data, len),
		      "a failed copy wrote");
	}
	CHECK(!memcmp(buf + 3 * PAGE_SZ, data, len), "the copy did not land");

	/* The pinned page goes, the mapping splits around it */
	while (inj_unmap(fd, a, IOVA_NEW + PAGE_SZ, PAGE_SZ, &unmapped)) {
		expect_read(fd, mock, 0, IOVA_NEW + PAGE_SZ, buf + PAGE_SZ);
		expect_locked(locked);
	}
	CHECK(access_pins(fd, afd) == 0, "UNMAP left the driver's pins");
	expect_fault(fd, mock, 0, IOVA_NEW + PAGE_SZ,
		     IOASID_TEST_FAULT_NOT_PRESENT);
	expect_read(fd, mock, 0, IOVA_NEW + 2 * PAGE_SZ, buf + 2 * PAGE_SZ);
	expect_locked(locked - 1);

	memset(&cmd, 0, sizeof(cmd));
	cmd.access.ioasid = b;
	while (inj_test(fd, IOASID_TEST_ACCESS_ATTACH, afd, &cmd,
			"ACCESS_ATTACH"))
		;
	CHECK(access_rw(fd, afd, IOVA_NEW, got, PAGE_SZ, 0) == 0 &&
	      !memcmp(got, buf, PAGE_SZ), "the access did not move");
	CHECK(ioasid_destroy(fd, b) == EBUSY, "the access's IOASID went");
	close(afd);
	MUST(mock_detach(fd, mock));
	MUST(ioasid_destroy(fd, b));
	MUST(ioasid_destroy(fd, a));
	finish();
}

/*
 * A context @fd used as vfio container by the groups of two mock vfio
 * devices, behind IOMMU instances 0 and 1 (two domains), which context
 * @t.fd made and does the DMA of. Once up, @t is as two_setup() leaves it,
 * with the container's IOASID as @t.a, and @dev are the devices open
 * through their groups.
 */
struct cont {
	struct two t;
	int fd;
	int group[2];
	int dev[2];
	char name[2][64];
	/* VmLck before anything was mapped */
	long base;
};

static void cont_open(struct cont *c)
{
	unsigned int i;
	uint32_t index;

	c->t.fd = ctx_open();
	c->fd = ctx_open();
	c->t.old = new_buf(PAGE_SZ, 1);
	for (i = 0; i < 2; i++) {
		c->group[i] = mock_group_new(c->t.fd, i, &c->t.mock[i], &index,
					     c->name[i], sizeof(c->name[i]));
		if (c->group[i] < 0)
			skip("no mock vfio device in a group: CONFIG_VFIO_GROUP");
		c->dev[i] = -1;
	}
	/* VFIO_SET_IOMMU makes the context's next IOASID */
	c->t.a = next_id(c->fd);
	c->base = locked_pages();
}

/* Both groups in the container, IOMMU @type set, both devices open */
static void cont_up(struct cont *c, unsigned long type)
{
	unsigned int i;

	cont_open(c);
	for (i = 0; i < 2; i++)
		MUST(group_set_container(c->group[i], c->fd));
	MUST(vfio_set_iommu(c->fd, type));
	for (i = 0; i < 2; i++)
		MUST(group_device_fd(c->group[i], c->name[i], &c->dev[i]));
	MUST(vfio_map_dma(c->fd, c->t.old, IOVA_OLD, PAGE_SZ, DMA_RW));
	two_expect(&c->t, IOVA_OLD, c->t.old, PAGE_SZ, true);
}

/*
 * Close the devices and take the groups out: the last one unsets the
 * container, whose IOASID, mappings and charge go, and the context holds
 * no IOMMU any more.
 */
static void cont_teardown(struct cont *c)
{
	unsigned int i;
	uint32_t id;

	for (i = 0; i < 2; i++) {
		if (c->dev[i] >= 0)
			close(c->dev[i]);
		c->dev[i] = -1;
		/* Closed, the device is unbound */
		expect_fault(c->t.fd, c->t.mock[i], 0, IOVA_OLD,
			     IOASID_TEST_FAULT_BLOCKED);
	}
	for (i = 0; i < 2; i++)
		MUST(group_unset_container(c->group[1 - i]));
	expect_iommu(c->fd, false);
	id = next_id(c->fd);
	CHECK(id == c->t.a, "the container's IOASID %u outlived its groups",
	      c->t.a);
	expect_locked(c->base);
	for (i = 0; i < 2; i++)
		close(c->group[i]);
}

/*
 * The vfio way in: both groups are set to the context (the first one
 * selects its IOMMU), the IOMMU type is set (which creates the container's
 * IOASID), the devices are opened through their groups (each bound to the
 * context and attached to that IOASID, a domain each), and GET_INFO
 * describes the container.
 */
static void container_seq(unsigned long type)
{
	unsigned char region[REGION_SIZE];
	union info_buf want, got;
	unsigned int i;
	uint32_t flags;
	struct cont c;
	long locked;

	cont_open(&c);
	for (i = 0; i < 2; i++) {
		while (inj_set_container(c.group[i], c.fd)) {
			MUST(group_flags(c.group[i], &flags));
			CHECK(!(flags & VFIO_GROUP_FLAGS_CONTAINER_SET),
			      "a failed VFIO_GROUP_SET_CONTAINER set group %u",
			      i);
			/* The first group's failure selects no IOMMU */
			expect_iommu(c.fd, i);
			if (!i)
				CHECK(vfio_set_iommu(c.fd, type) == EINVAL,
				      "VFIO_SET_IOMMU works with no group set");
		}
		MUST(group_flags(c.group[i], &flags));
		CHECK(flags & VFIO_GROUP_FLAGS_CONTAINER_SET,
		      "VFIO_GROUP_SET_CONTAINER did not set group %u", i);
	}
	expect_iommu(c.fd, true);

	while (inj_set_iommu(c.fd, type)) {
		CHECK(ioasid_destroy(c.fd, c.t.a) == ENOENT,
		      "a failed VFIO_SET_IOMMU left IOASID %u", c.t.a);
		CHECK(group_device_fd(c.group[0], c.name[0], &c.dev[0]) ==
		      EINVAL, "a device opens after a failed VFIO_SET_IOMMU");
		CHECK(vfio_map_dma(c.fd, c.t.old, IOVA_OLD, PAGE_SZ, DMA_RW) ==
		      EINVAL, "MAP_DMA works after a failed VFIO_SET_IOMMU");
		expect_locked(c.base);
	}
	/* Its IOASID is the one expected: no id leaked. It is the shim's */
	CHECK(ioasid_destroy(c.fd, c.t.a) == EBUSY,
	      "the container does not hold IOASID %u", c.t.a);
	MUST(vfio_map_dma(c.fd, c.t.old, IOVA_OLD, PAGE_SZ, DMA_RW));
	locked = locked_pages();

	for (i = 0; i < 2; i++) {
		while (inj_device_fd(c.group[i], c.name[i], &c.dev[i])) {
			expect_fault(c.t.fd, c.t.mock[i], 0, IOVA_OLD,
				     IOASID_TEST_FAULT_BLOCKED);
			expect_locked(locked);
		}
		CHECK(pread(c.dev[i], region, sizeof(region), 0) ==
		      REGION_SIZE && region[0] == REGION_BYTE &&
		      region[REGION_SIZE - 1] == REGION_BYTE,
		      "the region of device %u does not read", i);
		expect_read(c.t.fd, c.t.mock[i], 0, IOVA_OLD, c.t.old);
		expect_locked(locked);
	}

	/* What a call with no allocation failed answers */
	memset(&want, 0, sizeof(want));
	want.info.argsz = sizeof(want);
	MUST(ioasid_call(c.fd, VFIO_IOMMU_GET_INFO, &want));
	CHECK(want.info.cap_offset == sizeof(want.info) &&
	      want.info.argsz <= sizeof(want),
	      "VFIO_IOMMU_GET_INFO gave no capabilities in %zu bytes",
	      sizeof(want));
	while (inj_get_info(c.fd, &got)) {
		for (i = sizeof(got.info.argsz); i < sizeof(got); i++)
			CHECK(!got.bytes[i] && got.info.argsz == sizeof(got),
			      "a failed VFIO_IOMMU_GET_INFO wrote an answer");
	}
	CHECK(!memcmp(&got, &want, sizeof(got)),
	      "VFIO_IOMMU_GET_INFO answers otherwise after a failure");
	two_expect(&c.t, IOVA_OLD, c.t.old, PAGE_SZ, true);

	cont_teardown(&c);
	finish();
}

static void seq_container_v2(void)
{
	container_seq(VFIO_TYPE1v2_IOMMU);
}

static void seq_container_v1(void)
{
	container_seq(VFIO_TYPE1_IOMMU);
}

/* VFIO_IOMMU_MAP_DMA into the container's two domains */
static void map_dma_seq(unsigned long type)
{
	unsigned char *buf = new_buf(NEW_SIZE, 2);
	uint64_t unmapped;
	struct cont c;
	long locked;

	cont_up(&c, type);
	locked = locked_pages();
	while (inj_map_dma(c.fd, buf, IOVA_NEW, NEW_SIZE)) {
		two_expect(&c.t, IOVA_NEW, buf, NEW_SIZE, false);
		expect_locked(locked);
		/* type1 finds nothing to unmap there: success, 0 bytes */
		MUST(vfio_unmap_dma(c.fd, IOVA_NEW, NEW_SIZE, 0, &unmapped));
		CHECK(!unmapped, "a failed VFIO_IOMMU_MAP_DMA left a mapping");
	}
	two_expect(&c.t, IOVA_NEW, buf, NEW_SIZE, true);
	expect_locked(locked + NEW_SIZE / PAGE_SZ);
	cont_teardown(&c);
	finish();
}

static void seq_map_dma_v2(void)
{
	map_dma_seq(VFIO_TYPE1v2_IOMMU);
}

static void seq_map_dma_v1(void)
{
	map_dma_seq(VFIO_TYPE1_IOMMU);
}

/*
 * VFIO_IOMMU_UNMAP_DMA of 4 KiB pages scattered in memory (see
 * seq_unmap_stored()): in v1, of a page in the middle, which splits the
 * mapping in two in both domains; then, in either version, of everything
 * with VFIO_DMA_UNMAP_FLAG_ALL, over the page at IOVA_OLD and the rest.
 */
static void unmap_dma_seq(unsigned long type)
{
	const bool v1 = type == VFIO_TYPE1_IOMMU;
	const uint64_t cut = SZ_2M / 2;
	unsigned char *buf = new_scattered(STORED_SIZE, 7);
	uint64_t unmapped = 0;
	unsigned int i;
	struct cont c;
	long locked;

	cont_up(&c, type);
	MUST(vfio_map_dma(c.fd, buf, IOVA_STORED, STORED_SIZE, DMA_RW));
	locked = locked_pages();

	while (v1 && inj_unmap_dma(c.fd, IOVA_STORED + cut, PAGE_SZ, 0,
				   &unmapped)) {
		cut_expect(&c.t, IOVA_STORED, buf, STORED_SIZE, cut, false);
		expect_locked(locked);
	}
	if (v1) {
		CHECK(unmapped == PAGE_SZ, "UNMAP_DMA of a page says %llu bytes",
		      (unsigned long long)unmapped);
		cut_expect(&c.t, IOVA_STORED, buf, STORED_SIZE, cut, true);
		locked--;
		expect_locked(locked);
	}

	while (inj_unmap_dma(c.fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped)) {
		cut_expect(&c.t, IOVA_STORED, buf, STORED_SIZE, cut, v1);
		expect_locked(locked);
	}
	CHECK(unmapped == PAGE_SZ + STORED_SIZE - (v1 ? PAGE_SZ : 0),
	      "UNMAP_DMA of all says %llu bytes", (unsigned long long)unmapped);
	for (i = 0; i < 2; i++) {
		expect_fault(c.t.fd, c.t.mock[i], 0, IOVA_OLD,
			     IOASID_TEST_FAULT_NOT_PRESENT);
		expect_range(c.t.fd, c.t.mock[i], IOVA_STORED, buf, STORED_SIZE,
			     false);
	}
	expect_locked(c.base);
	/* The container works on: the page maps again */
	MUST(vfio_map_dma(c.fd, c.t.old, IOVA_OLD, PAGE_SZ, DMA_RW));
	two_expect(&c.t, IOVA_OLD, c.t.old, PAGE_SZ, true);
	cont_teardown(&c);
	finish();
}

static void seq_unmap_dma_v2(void)
{
	unmap_dma_seq(VFIO_TYPE1v2_IOMMU);
}

static void seq_unmap_dma_v1(void)
{
	unmap_dma_seq(VFIO_TYPE1_IOMMU);
}

/* The sweep, in the test's process */

/* Write @kib KiB of stack below the caller's frame */
static void prefault_stack(unsigned int kib)
{
	char chunk[1024];

	memset(chunk, 0, sizeof(chunk));
	if (kib > 1)
		prefault_stack(kib - 1);
	/* The chunk is used: its stores stay */
	__asm__ __volatile__("" : : "r"(chunk) : "memory");
}

/*
 * Make present what the user side of an armed ioctl writes, so that no
 * page fault of this task between arming and disarming allocates (and
 * takes the failure): the stack below us, still shared copy-on-write with
 * the parent, errno, and the code of pwrite(), ioctl() and pread().
 */
static void prefault(void)
{
	char buf[16];

	prefault_stack(64);
	errno = 0;
	fail_nth_set(0);
	CHECK(pread(inj.fd, buf, sizeof(buf), 0) > 0, "cannot read %s",
	      FAIL_NTH);
	CHECK(ioctl(inj.fd, IOASID_GET_INFO, buf) == -1, "ioctl of %s",
	      FAIL_NTH);
}

/*
 * Every point runs in a child of its own that builds its state from
 * scratch: a new context, new mock devices, new memory. One failure can
 * then neither mask nor cause a later one (a leaked id, charge or pin
 * would show in every later run), a failed check or a crash ends one
 * child, not the sweep, and the child's exit closes every fd in whatever
 * state the failure left, as a VMM that dies does. Re-opening contexts in
 * one process would share the memory charge and pins across points. The
 * child opens its own fail-nth: /proc/thread-self names the opener.
 */
static int run_point(const char *name, void (*seq)(void), unsigned int point)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		inj.seq = name;
		inj.point = point;
		inj.left = point;
		inj.fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
		CHECK(inj.fd >= 0, "cannot open %s: %s", FAIL_NTH,
		      strerror(errno));
		prefault();
		seq();
		die(__LINE__, "the sequence did not finish");
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	ksft_print_msg("fail_nth: %s: point %u: killed by signal %d\n", name,
		       point, WTERMSIG(status));
	return -1;
}

static void sweep(struct __test_metadata *_metadata, const char *name,
		  void (*seq)(void))
{
	unsigned int point, last = 0, failed = 0, survived = 0, bad = 0;
	struct timespec t0, t1;
	bool done = false;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_point(name, seq, 0);
	if (rc == CHILD_SKIP)
		SKIP(return, "%s: the kernel lacks what it needs", name);
	ASSERT_EQ(CHILD_DONE, rc)
		TH_LOG("fail_nth: %s fails with no allocation failed", name);

	for (point = 1; point <= MAX_POINTS && bad < MAX_BAD; point++) {
		last = point;
		rc = run_point(name, seq, point);
		if (rc == CHILD_DONE) {
			done = true;
			break;
		}
		if (rc == CHILD_FAILED) {
			failed++;
		} else if (rc == CHILD_SURVIVED) {
			survived++;
		} else {
			bad++;
			/*
			 * With no allocation failed, the sequence fails on
			 * its own: no point after this one tells more.
			 */
			if (rc == CHILD_BAD)
				break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	/* Failed: a call failed from it; survived: none did, all worked */
	if (done)
		ksft_print_msg("fail_nth: %s: %u points (%u failed, %u survived) in %ld s\n",
			       name, last - 1, failed, survived,
			       (long)(t1.tv_sec - t0.tv_sec));
	else
		ksft_print_msg("fail_nth: %s: stopped at point %u, %u bad\n",
			       name, last, bad);
	ASSERT_EQ(0, bad)
		TH_LOG("fail_nth: %s: %u points failed their checks", name,
		       bad);
	ASSERT_TRUE(done)
		TH_LOG("fail_nth: %s: more than %u points", name, MAX_POINTS);
}

static int debugfs_write(const char *file, const char *val)
{
	ssize_t len = strlen(val);
	char path[512];
	int fd, rc;

	snprintf(path, sizeof(path), DEBUGFS "/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = write(fd, val, len) == len ? 0 : -1;
	close(fd);
	return rc;
}

/*
 * Let fail-nth reach every allocation: by default failslab and
 * fail_page_alloc pass over allocations that may sleep (GFP_KERNEL, nearly
 * all of them), page allocations of order 0 and highmem ones. Silence the
 * report of each injected failure, a message and a stack dump by default,
 * which the rig would take for a kernel splat. Nothing is restored: with
 * probability 0 these knobs matter to fail-nth only.
 */
static int fault_injection_setup(void)
{
	static const char *const knobs[][2] = {
		{ "failslab/ignore-gfp-wait", "N" },
		{ "failslab/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
		{ "fail_page_alloc/verbose", "0" },
	};
	struct dirent *de;
	char file[300];
	unsigned int i;
	DIR *dir;

	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		if (debugfs_write(knobs[i][0], knobs[i][1]))
			return -1;
	/* fail-nth fails whatever fault attribute asks next: quiet them all */
	dir = opendir(DEBUGFS);
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "fail", 4))
			continue;
		snprintf(file, sizeof(file), "%s/verbose", de->d_name);
		debugfs_write(file, "0");
	}
	closedir(dir);
	return 0;
}

FIXTURE(fail_nth) {};

FIXTURE_SETUP(fail_nth)
{
	unsigned char byte;

	if (access("/dev/ioasid", F_OK))
		SKIP(return, "no /dev/ioasid");
	if (access(FAIL_NTH, F_OK))
		SKIP(return, "no %s: CONFIG_FAULT_INJECTION", FAIL_NTH);
	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	if (access(DEBUGFS "/failslab", F_OK) ||
	    access(DEBUGFS "/fail_page_alloc", F_OK))
		SKIP(return,
		     "no failslab, fail_page_alloc in debugfs: CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_DEBUG_FS");
	/*
	 * fail-nth fails whatever asks next, user copies too with
	 * CONFIG_FAULT_INJECTION_USERCOPY: UNMAP or INVALIDATE would then
	 * fail with EFAULT after doing their work, which is no allocation
	 * failure to check the state after.
	 */
	if (!access(DEBUGFS "/fail_usercopy", F_OK))
		SKIP(return,
		     "CONFIG_FAULT_INJECTION_USERCOPY makes user copies fail too");
	ASSERT_EQ(0, fault_injection_setup());
	have_huge = reserve_hugepages(HUGE_PAGES);
	/* Build the pattern table once, for every child to share */
	fill_pattern(&byte, 1, 0);
}

FIXTURE_TEARDOWN(fail_nth)
{
}

TEST_F_TIMEOUT(fail_nth, create, SWEEP_TIMEOUT)
{
	sweep(_metadata, "create", seq_create);
}

TEST_F_TIMEOUT(fail_nth, map, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map", seq_map);
}

TEST_F_TIMEOUT(fail_nth, map_huge, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map_huge", seq_map_huge);
}

TEST_F_TIMEOUT(fail_nth, map_chunks, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map_chunks", seq_map_chunks);
}

TEST_F_TIMEOUT(fail_nth, unmap_split, SWEEP_TIMEOUT)
{
	sweep(_metadata, "unmap_split", seq_unmap_split);
}

TEST_F_TIMEOUT(fail_nth, unmap_stored, SWEEP_TIMEOUT)
{
	sweep(_metadata, "unmap_stored", seq_unmap_stored);
}

TEST_F_TIMEOUT(fail_nth, copy, SWEEP_TIMEOUT)
{
	sweep(_metadata, "copy", seq_copy);
}

TEST_F_TIMEOUT(fail_nth, map_file, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map_file", seq_map_file);
}

TEST_F_TIMEOUT(fail_nth, bind_attach, SWEEP_TIMEOUT)
{
	sweep(_metadata, "bind_attach", seq_bind_attach);
}

TEST_F_TIMEOUT(fail_nth, replace, SWEEP_TIMEOUT)
{
	sweep(_metadata, "replace", seq_replace);
}

TEST_F_TIMEOUT(fail_nth, pasid, SWEEP_TIMEOUT)
{
	sweep(_metadata, "pasid", seq_pasid);
}

TEST_F_TIMEOUT(fail_nth, nested, SWEEP_TIMEOUT)
{
	sweep(_metadata, "nested", seq_nested);
}

TEST_F_TIMEOUT(fail_nth, delegated, SWEEP_TIMEOUT)
{
	sweep(_metadata, "delegated", seq_delegated);
}

TEST_F_TIMEOUT(fail_nth, invalidate, SWEEP_TIMEOUT)
{
	sweep(_metadata, "invalidate", seq_invalidate);
}

TEST_F_TIMEOUT(fail_nth, vfio, SWEEP_TIMEOUT)
{
	sweep(_metadata, "vfio", seq_vfio);
}

TEST_F_TIMEOUT(fail_nth, access, SWEEP_TIMEOUT)
{
	sweep(_metadata, "access", seq_access);
}

TEST_F_TIMEOUT(fail_nth, container_v2, SWEEP_TIMEOUT)
{
	sweep(_metadata, "container_v2", seq_container_v2);
}

TEST_F_TIMEOUT(fail_nth, container_v1, SWEEP_TIMEOUT)
{
	sweep(_metadata, "container_v1", seq_container_v1);
}

TEST_F_TIMEOUT(fail_nth, map_dma_v2, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map_dma_v2", seq_map_dma_v2);
}

TEST_F_TIMEOUT(fail_nth, map_dma_v1, SWEEP_TIMEOUT)
{
	sweep(_metadata, "map_dma_v1", seq_map_dma_v1);
}

TEST_F_TIMEOUT(fail_nth, unmap_dma_v2, SWEEP_TIMEOUT)
{
	sweep(_metadata, "unmap_dma_v2", seq_unmap_dma_v2);
}

TEST_F_TIMEOUT(fail_nth, unmap_dma_v1, SWEEP_TIMEOUT)
{
	sweep(_metadata, "unmap_dma_v1", seq_unmap_dma_v1);
}

TEST_HARNESS_MAIN
