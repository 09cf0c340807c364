// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid stress tests: threads race ioctls, binds, attaches and closes
 * for a while, as a hostile multi-threaded VMM would (DESIGN.md §11), and
 * every call's return and every byte a mock device reads is checked.
 *
 * Each test runs for IOASID_STRESS_SECONDS seconds (default 5) and draws its
 * random choices from IOASID_STRESS_SEED (default: the clock); both are
 * printed first. Each test prints at its end what it survived:
 *
 *   stress: <test>: T threads x S s: N ops, ok n, ENOENT n, ...
 *
 * then one line per kind of call with its own errno histogram, and the
 * counts of the checks its DMA made. A call that returns an errno outside
 * the set named for it in the test's table fails the test, as does a DMA
 * that reads anything but the data mapped at its IOVA. The kernel must not
 * WARN either, which the rig's dmesg scan sees.
 *
 * Worker threads never ASSERT, as the harness's jump buffer belongs to the
 * main thread: they record the first failure and stop everyone, and the main
 * thread asserts once it joined them. Nothing is timed.
 */
#include "../kselftest_harness.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "ioasid_vfio_utils.h"

#define STRESS_DEFAULT_SECONDS	5
#define STRESS_MAX_SECONDS	3600
#define STRESS_MAX_THREADS	6
#define STRESS_MAX_OPS		32
#define STRESS_MAX_NOTES	6
/* Errno buckets of the histograms; the last one takes any larger errno */
#define STRESS_ERRNOS		136
/* Failures printed as they happen; the first is kept for the assert */
#define STRESS_MAX_LOGGED	8

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define XCHG(x, v)	__atomic_exchange_n(&(x), (v), __ATOMIC_SEQ_CST)
#define COUNT(x)	__atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)

/* The results a call may give: 0 for success or errnos; -1 ends the list */
#define ACCEPT(...)	((const int []){ __VA_ARGS__, -1 })

/**
 * struct stress_op - one kind of call a test makes
 * @name: For the report
 * @accept: What it may return, from ACCEPT()
 */
struct stress_op {
	const char *name;
	const int *accept;
};

/**
 * struct stress - one test's run, shared by its threads
 * @test: Name of the test
 * @ops: Its kinds of calls
 * @nr_ops: Their number
 * @note_names: Names of the test's other counters
 * @nr_notes: Their number
 * @seconds: How long the threads run
 * @seed: Seed of every thread's random choices
 * @nr_threads: Threads started
 * @stop: Set when time is up or something failed
 * @lock: Protects @failures and @first_failure
 * @failures: What went wrong, in number
 * @first_failure: And the first of it
 * @counts: Calls per kind and result
 * @notes: The test's other counters
 */
struct stress {
	const char *test;
	const struct stress_op *ops;
	unsigned int nr_ops;
	const char *const *note_names;
	unsigned int nr_notes;
	unsigned int seconds;
	uint64_t seed;
	unsigned int nr_threads;
	int stop;
	pthread_mutex_t lock; /* failures, first_failure */
	unsigned int failures;
	char first_failure[512];
	unsigned long counts[STRESS_MAX_OPS][STRESS_ERRNOS];
	unsigned long notes[STRESS_MAX_NOTES];
};

/**
 * struct stress_worker - one thread of a test
 * @fn: What it runs
 * @st: The run
 * @test: The test's shared state
 * @idx: Its index, which picks its role
 * @rng: State of its random numbers
 */
struct stress_worker {
	void *(*fn)(void *arg);
	struct stress *st;
	void *test;
	unsigned int idx;
	uint64_t rng;
};

static unsigned int stress_seconds(void)
{
	const char *s = getenv("IOASID_STRESS_SECONDS");
	unsigned long val;
	char *end;

	if (!s || !*s)
		return STRESS_DEFAULT_SECONDS;
	val = strtoul(s, &end, 0);
	if (*end || !val)
		return STRESS_DEFAULT_SECONDS;
	return val > STRESS_MAX_SECONDS ? STRESS_MAX_SECONDS : val;
}

/*
 * The harness's limit for one test: the run, and room for setting up and
 * tearing down in a guest emulated by TCG, under KASAN.
 */
static int stress_timeout(void)
{
	return 3 * stress_seconds() + 300;
}

static uint64_t stress_seed(void)
{
	const char *s = getenv("IOASID_STRESS_SEED");
	struct timespec ts;

	if (s && *s)
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* xorshift64*: each thread has its own sequence from the seed */
static uint64_t rnd(struct stress_worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static uint32_t rnd_below(struct stress_worker *w, uint32_t n)
{
	return (uint32_t)(rnd(w) >> 32) % n;
}

static bool one_in(struct stress_worker *w, uint32_t n)
{
	return !rnd_below(w, n);
}

#define ERRNO_ENTRY(e)	{ e, #e }

static const struct {
	int e;
	const char *name;
} errno_names[] = {
	{ 0, "ok" },
	ERRNO_ENTRY(EPERM),
	ERRNO_ENTRY(ENOENT),
	ERRNO_ENTRY(EINTR),
	ERRNO_ENTRY(EIO),
	ERRNO_ENTRY(ENXIO),
	ERRNO_ENTRY(E2BIG),
	ERRNO_ENTRY(EBADF),
	ERRNO_ENTRY(EAGAIN),
	ERRNO_ENTRY(ENOMEM),
	ERRNO_ENTRY(EACCES),
	ERRNO_ENTRY(EFAULT),
	ERRNO_ENTRY(EBUSY),
	ERRNO_ENTRY(EEXIST),
	ERRNO_ENTRY(EXDEV),
	ERRNO_ENTRY(ENODEV),
	ERRNO_ENTRY(EINVAL),
	ERRNO_ENTRY(EMFILE),
	ERRNO_ENTRY(ENOTTY),
	ERRNO_ENTRY(ENOSPC),
	ERRNO_ENTRY(ERANGE),
	ERRNO_ENTRY(EMSGSIZE),
	ERRNO_ENTRY(EOPNOTSUPP),
	ERRNO_ENTRY(EADDRINUSE),
	ERRNO_ENTRY(EOVERFLOW),
};

/* The name of errno @e, or "ok" for 0; @buf holds at least 16 bytes */
static const char *errno_str(int e, char *buf)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].e == e)
			return errno_names[i].name;
	snprintf(buf, 16, "errno %d", e);
	return buf;
}

static bool stress_stopped(struct stress *st)
{
	return LOAD(st->stop);
}

/* Record a failure, print the first few, and stop every thread */
static void __printf(2, 3)
stress_fail(struct stress *st, const char *fmt, ...)
{
	char msg[sizeof(st->first_failure)];
	unsigned int n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&st->lock);
	n = st->failures++;
	if (!n)
		memcpy(st->first_failure, msg, sizeof(msg));
	pthread_mutex_unlock(&st->lock);
	if (n < STRESS_MAX_LOGGED)
		ksft_print_msg("stress: %s: FAIL: %s\n", st->test, msg);
	STORE(st->stop, 1);
}

/*
 * Count call @op that gave @rc (0 or an errno), on object @id unless it is
 * ~0: true if @rc is one the call may give, else record a failure.
 */
static bool stress_call_on(struct stress *st, unsigned int op, int rc,
			   uint32_t id)
{
	unsigned int bucket = rc < 0 || rc >= STRESS_ERRNOS ?
			      STRESS_ERRNOS - 1 : rc;
	const int *ok;
	char buf[16];

	COUNT(st->counts[op][bucket]);
	for (ok = st->ops[op].accept; *ok != -1; ok++)
		if (*ok == rc)
			return true;
	if (id == ~0U)
		stress_fail(st, "%s gave %s", st->ops[op].name,
			    errno_str(rc, buf));
	else
		stress_fail(st, "%s on id %u gave %s", st->ops[op].name, id,
			    errno_str(rc, buf));
	return false;
}

static bool stress_call(struct stress *st, unsigned int op, int rc)
{
	return stress_call_on(st, op, rc, ~0U);
}

static void stress_note(struct stress *st, unsigned int note)
{
	COUNT(st->notes[note]);
}

/*
 * Run @nr threads, @w[i] with the role @w[i].fn, for the test's seconds or
 * until one fails. Returns the seconds it took.
 */
static double stress_run(struct stress *st, struct stress_worker *w,
			 unsigned int nr, void *test)
{
	struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };
	pthread_t threads[STRESS_MAX_THREADS];
	double start = now_sec();
	unsigned int i, started;
	int rc;

	for (started = 0; started < nr; started++) {
		w[started].st = st;
		w[started].test = test;
		w[started].idx = started;
		w[started].rng = splitmix64(st->seed +
					    0x1000193ULL * (started + 1)) | 1;
		rc = pthread_create(&threads[started], NULL, w[started].fn,
				    &w[started]);
		if (rc) {
			stress_fail(st, "pthread_create: %s", strerror(rc));
			break;
		}
	}
	st->nr_threads = started;
	while (!stress_stopped(st) && now_sec() - start < st->seconds)
		nanosleep(&nap, NULL);
	STORE(st->stop, 1);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	return now_sec() - start;
}

static size_t __printf(4, 5)
appendf(char *buf, size_t size, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= size)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	return n < 0 ? len : len + n;
}

/* ", ok N, ENOENT N, ..." for every result with a count */
static size_t append_hist(char *buf, size_t size, size_t len,
			  const unsigned long *hist)
{
	char name[16];
	unsigned int e;

	for (e = 0; e < STRESS_ERRNOS; e++)
		if (hist[e])
			len = appendf(buf, size, len, ", %s %lu",
				      errno_str(e, name), hist[e]);
	return len;
}

/* What the test survived, for the closing note of the run */
static void stress_report(struct stress *st, double elapsed)
{
	unsigned long hist[STRESS_ERRNOS] = {}, total = 0, n;
	unsigned int op, e;
	char line[2048];
	size_t len;

	for (op = 0; op < st->nr_ops; op++) {
		for (e = 0; e < STRESS_ERRNOS; e++) {
			hist[e] += st->counts[op][e];
			total += st->counts[op][e];
		}
	}
	len = snprintf(line, sizeof(line),
		       "stress: %s: %u threads x %u s: %lu ops", st->test,
		       st->nr_threads, st->seconds, total);
	len = append_hist(line, sizeof(line), len, hist);
	ksft_print_msg("%s (ran %.1f s, seed %llu)\n", line, elapsed,
		       (unsigned long long)st->seed);

	for (op = 0; op < st->nr_ops; op++) {
		for (n = 0, e = 0; e < STRESS_ERRNOS; e++)
			n += st->counts[op][e];
		if (!n)
			continue;
		len = snprintf(line, sizeof(line), "stress: %s:   %s %lu",
			       st->test, st->ops[op].name, n);
		append_hist(line, sizeof(line), len, st->counts[op]);
		ksft_print_msg("%s\n", line);
	}
	if (!st->nr_notes)
		return;
	len = snprintf(line, sizeof(line), "stress: %s:   checks", st->test);
	for (e = 0; e < st->nr_notes; e++)
		len = appendf(line, sizeof(line), len, "%s %s %lu",
			      e ? "," : ":", st->note_names[e], st->notes[e]);
	ksft_print_msg("%s\n", line);
}

FIXTURE(stress) {
	struct stress *st;
};

FIXTURE_SETUP(stress)
{
	self->st = calloc(1, sizeof(*self->st));
	ASSERT_NE(NULL, self->st);
	pthread_mutex_init(&self->st->lock, NULL);
	self->st->test = _metadata->name;
	self->st->seconds = stress_seconds();
	self->st->seed = stress_seed();
	ksft_print_msg("stress: %s: IOASID_STRESS_SEED=%llu IOASID_STRESS_SECONDS=%u\n",
		       self->st->test, (unsigned long long)self->st->seed,
		       self->st->seconds);
}

FIXTURE_TEARDOWN(stress)
{
	pthread_mutex_destroy(&self->st->lock);
	free(self->st);
}

/*
 * device_id_vs_unbind
 *
 * Two threads name the ids of bound devices where an IOASID, or a mock
 * device, is wanted, in every ioctl that takes one, while two more bind and
 * unbind the devices behind those ids again and again: one device by the
 * test ops and by its vfio fd in turn, another by the test ops only. Once
 * the lookup of a device's id held the device for a moment, which raced its
 * unbind (a WARN, then a use after free); lookups are typed now.
 *
 * The probes name the ids the binders got last and any id past the static
 * objects: nothing but devices is ever created during the run, so those ids
 * are devices, bound or gone, or nothing (an id may be reused by the next
 * device bound). A device's id names no IOASID and no mock device: calls
 * that want an IOASID of one kind may say -ENOENT or -EINVAL (the uAPI's
 * "wrong kind"; this kernel says -ENOENT, the histogram shows it), those
 * the uAPI says give -ENOENT for an id that is no IOASID (DESTROY, attach)
 * or that want a mock device must give -ENOENT, and IOASID_GET_HW_INFO,
 * which takes a device's id, 0 or -ENOENT.
 */
#define T1_SPAN		6	/* ids past the static objects that are probed */
#define T1_MAX_CAND	16

enum {
	T1_UNMAP,
	T1_UNMAP_ALL,
	T1_MAP,
	T1_COPY_TO,
	T1_COPY_FROM,
	T1_IOVA_RANGES,
	T1_DESTROY,
	T1_CREATE_NESTED,
	T1_CREATE_DELEGATED,
	T1_SET_TABLES,
	T1_INVALIDATE,
	T1_ATTACH_TO,
	T1_ATTACH_PASID_TO,
	T1_DMA_AS_MOCK,
	T1_ATTACH_AS_MOCK,
	T1_UNBIND_AS_MOCK,
	T1_DESTROY_AS_MOCK,
	T1_HW_INFO,
	T1_NR_PROBES,
	/* The binders' own calls, on their own devices */
	T1_BIND = T1_NR_PROBES,
	T1_UNBIND,
	T1_ATTACH,
	T1_ATTACH_SELF,
	T1_OWN_HW_INFO,
	T1_VFIO_OPEN,
	T1_VFIO_BIND,
	T1_VFIO_ATTACH,
	T1_VFIO_ATTACH_SELF,
	T1_VFIO_PASID_SELF,
	T1_NR_OPS
};

static const struct stress_op t1_ops[T1_NR_OPS] = {
	[T1_UNMAP] = { "unmap(dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_UNMAP_ALL] = { "unmap_all(dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_MAP] = { "map(dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_COPY_TO] = { "copy(dst dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_COPY_FROM] = { "copy(src dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_IOVA_RANGES] = { "iova_ranges(dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_DESTROY] = { "destroy(dev id)", ACCEPT(ENOENT) },
	[T1_CREATE_NESTED] = { "create_nested(parent dev id)",
			       ACCEPT(ENOENT, EINVAL) },
	[T1_CREATE_DELEGATED] = { "create_delegated(parent dev id)",
				  ACCEPT(ENOENT, EINVAL) },
	[T1_SET_TABLES] = { "set_nested_page_tables(dev id)",
			    ACCEPT(ENOENT, EINVAL) },
	[T1_INVALIDATE] = { "invalidate(dev id)", ACCEPT(ENOENT, EINVAL) },
	[T1_ATTACH_TO] = { "mock_attach(to dev id)", ACCEPT(ENOENT) },
	[T1_ATTACH_PASID_TO] = { "mock_attach_pasid(to dev id)",
				 ACCEPT(ENOENT) },
	[T1_DMA_AS_MOCK] = { "test_dma(dev id as mock)", ACCEPT(ENOENT) },
	[T1_ATTACH_AS_MOCK] = { "mock_attach(dev id as mock)", ACCEPT(ENOENT) },
	[T1_UNBIND_AS_MOCK] = { "mock_unbind(dev id as mock)", ACCEPT(ENOENT) },
	[T1_DESTROY_AS_MOCK] = { "mock_destroy(dev id as mock)",
				 ACCEPT(ENOENT) },
	[T1_HW_INFO] = { "get_hw_info(dev id)", ACCEPT(0, ENOENT) },
	[T1_BIND] = { "mock_bind", ACCEPT(0) },
	[T1_UNBIND] = { "mock_unbind", ACCEPT(0) },
	[T1_ATTACH] = { "mock_attach", ACCEPT(0) },
	[T1_ATTACH_SELF] = { "mock_attach(to own dev id)", ACCEPT(ENOENT) },
	[T1_OWN_HW_INFO] = { "get_hw_info(own dev id)", ACCEPT(0) },
	[T1_VFIO_OPEN] = { "vfio_open", ACCEPT(0) },
	[T1_VFIO_BIND] = { "vfio_bind_ioasid", ACCEPT(0) },
	[T1_VFIO_ATTACH] = { "vfio_attach", ACCEPT(0) },
	[T1_VFIO_ATTACH_SELF] = { "vfio_attach(to own dev id)",
				  ACCEPT(ENOENT) },
	[T1_VFIO_PASID_SELF] = { "vfio_attach_pasid(to own dev id)",
				 ACCEPT(ENOENT) },
};

/**
 * struct t1 - device_id_vs_unbind's objects
 * @fd: The context
 * @buf: Memory to map
 * @ioasid: The only IOASID, its first page mapped at IOVA 0
 * @mock0: Mock device bound for good and attached to @ioasid
 * @dev0: Its device id
 * @mock_v: Mock vfio device, bound by the test ops and by vfio in turn
 * @vfio_index: N of its /dev/vfio/devices/vfioN
 * @mock_b: Mock device bound by the test ops
 * @cand: Ids that are devices or nothing, all through the run
 * @nr_cand: Their number
 * @cur_dev: Device id each binder got last
 */
struct t1 {
	int fd;
	unsigned char *buf;
	uint32_t ioasid;
	uint32_t mock0;
	uint32_t dev0;
	uint32_t mock_v;
	uint32_t vfio_index;
	uint32_t mock_b;
	uint32_t cand[T1_MAX_CAND];
	unsigned int nr_cand;
	uint32_t cur_dev[2];
};

/*
 * Mostly the id of a device being bound right now: the race is with its
 * unbind, and a lookup holds an object for a few instructions only.
 */
static uint32_t t1_pick(struct stress_worker *w, struct t1 *t)
{
	unsigned int r = rnd_below(w, 8);
	uint32_t id = r < 7 ? LOAD(t->cur_dev[r & 1]) : 0;

	return id ? id : t->cand[rnd_below(w, t->nr_cand)];
}

/* GET_HW_INFO of a mock device of instance 0: its PASID width */
static int t1_hw_info(struct stress *st, struct t1 *t, uint32_t id)
{
	uint32_t bits = 0, len = sizeof(bits), type = 0;
	uint64_t formats;
	int rc;

	rc = ioasid_get_hw_info(t->fd, id, &bits, &len, &type, &formats);
	if (!rc && (type != IOASID_TEST_HW_INFO_TYPE || len != sizeof(bits) ||
		    bits != IOASID_TEST_PASID_BITS))
		stress_fail(st, "get_hw_info(%u): type %#x, %u bytes, %u PASID bits",
			    id, type, len, bits);
	return rc;
}

/* One call naming @id where it wants an IOASID or a mock device */
static void t1_probe(struct stress_worker *w, struct t1 *t, unsigned int op,
		     uint32_t id)
{
	struct ioasid_mock_invalidate inv = { .flags = IOASID_MOCK_INV_ALL };
	struct ioasid_iova_range ranges[4];
	unsigned char data[64];
	struct dma_result res;
	uint32_t out, num;
	uint64_t iova;
	int rc = 0;

	switch (op) {
	case T1_UNMAP:
		rc = ioasid_unmap(t->fd, id, 0, PAGE_SZ, NULL);
		break;
	case T1_UNMAP_ALL:
		rc = ioasid_unmap_all(t->fd, id, NULL);
		break;
	case T1_MAP:
		rc = ioasid_map_fixed(t->fd, id, t->buf, PAGE_SZ,
				      PAGE_SZ * (1 + rnd_below(w, 3)));
		break;
	case T1_COPY_TO:
		iova = 2 * PAGE_SZ;
		rc = ioasid_copy(t->fd, id, t->ioasid, 0, PAGE_SZ, &iova,
				 MAP_FIXED_RW);
		break;
	case T1_COPY_FROM:
		iova = 2 * PAGE_SZ;
		rc = ioasid_copy(t->fd, t->ioasid, id, 0, PAGE_SZ, &iova,
				 MAP_FIXED_RW);
		break;
	case T1_IOVA_RANGES:
		num = ARRAY_SIZE(ranges);
		rc = ioasid_iova_ranges(t->fd, id, ranges, &num);
		break;
	case T1_DESTROY:
		rc = ioasid_destroy(t->fd, id);
		break;
	case T1_CREATE_NESTED:
		rc = ioasid_create_nested(t->fd, id, IOASID_FORMAT_MOCK_S1,
					  &out);
		break;
	case T1_CREATE_DELEGATED:
		rc = ioasid_create_mock_delegated(t->fd, id, 0, 4, &out);
		break;
	case T1_SET_TABLES:
		rc = ioasid_set_mock_s1(t->fd, id, 0);
		break;
	case T1_INVALIDATE:
		rc = ioasid_invalidate(t->fd, id, IOASID_FORMAT_MOCK_S1, &inv,
				       sizeof(inv), 1, NULL);
		break;
	case T1_ATTACH_TO:
		rc = mock_attach(t->fd, t->mock0, id);
		break;
	case T1_ATTACH_PASID_TO:
		rc = mock_attach_pasid(t->fd, t->mock0, 1 + rnd_below(w, 7), id);
		break;
	case T1_DMA_AS_MOCK:
		rc = mock_dma(t->fd, id, 0, data, sizeof(data), false, &res);
		break;
	case T1_ATTACH_AS_MOCK:
		rc = mock_attach(t->fd, id, t->ioasid);
		break;
	case T1_UNBIND_AS_MOCK:
		rc = mock_unbind(t->fd, id);
		break;
	case T1_DESTROY_AS_MOCK:
		rc = mock_destroy(t->fd, id);
		break;
	case T1_HW_INFO:
		rc = t1_hw_info(w->st, t, id);
		break;
	}
	stress_call_on(w->st, op, rc, id);
}

static void *t1_prober(void *arg)
{
	struct stress_worker *w = arg;
	struct t1 *t = w->test;

	/*
	 * Half the calls are the cheapest lookup there is, an UNMAP of the
	 * id, so that as many lookups as can be overlap an unbind
	 */
	while (!stress_stopped(w->st))
		t1_probe(w, t, one_in(w, 2) ? T1_UNMAP :
			 rnd_below(w, T1_NR_PROBES), t1_pick(w, t));
	return NULL;
}

/* Bind @mock by the test ops, use the id, unbind: slot @slot of cur_dev */
static void t1_bind_mock(struct stress_worker *w, struct t1 *t,
			 unsigned int slot, uint32_t mock)
{
	struct stress *st = w->st;
	uint32_t dev = 0;
	int rc;

	rc = mock_bind(t->fd, mock, &dev);
	if (!stress_call_on(st, T1_BIND, rc, mock) || rc)
		return;
	STORE(t->cur_dev[slot], dev);
	if (one_in(w, 2))
		stress_call_on(st, T1_ATTACH, mock_attach(t->fd, mock, t->ioasid),
			       t->ioasid);
	stress_call_on(st, T1_ATTACH_SELF, mock_attach(t->fd, mock, dev), dev);
	if (one_in(w, 2))
		stress_call_on(st, T1_OWN_HW_INFO, t1_hw_info(st, t, dev), dev);
	stress_call_on(st, T1_UNBIND, mock_unbind(t->fd, mock), mock);
}

/* Bind mock_v by its vfio fd, use the id, close the fd, which unbinds */
static void t1_bind_vfio(struct stress_worker *w, struct t1 *t)
{
	struct stress *st = w->st;
	uint32_t dev = 0;
	int v, rc;

	v = vfio_open_index(t->vfio_index);
	if (!stress_call(st, T1_VFIO_OPEN, v < 0 ? errno : 0) || v < 0)
		return;
	rc = vfio_bind_ioasid(v, t->fd, &dev);
	if (stress_call(st, T1_VFIO_BIND, rc) && !rc) {
		STORE(t->cur_dev[0], dev);
		if (one_in(w, 2))
			stress_call_on(st, T1_VFIO_ATTACH,
				       vfio_attach_ioasid(v, t->ioasid),
				       t->ioasid);
		stress_call_on(st, T1_VFIO_ATTACH_SELF,
			       vfio_attach_ioasid(v, dev), dev);
		stress_call_on(st, T1_VFIO_PASID_SELF,
			       vfio_attach_ioasid_pasid(v, 1 + rnd_below(w, 7),
							dev), dev);
	}
	close(v);
}

static void *t1_binder_vfio(void *arg)
{
	struct stress_worker *w = arg;
	struct t1 *t = w->test;

	while (!stress_stopped(w->st)) {
		t1_bind_mock(w, t, 0, t->mock_v);
		t1_bind_vfio(w, t);
	}
	return NULL;
}

static void *t1_binder_mock(void *arg)
{
	struct stress_worker *w = arg;
	struct t1 *t = w->test;

	while (!stress_stopped(w->st))
		t1_bind_mock(w, t, 1, t->mock_b);
	return NULL;
}

TEST_F_TIMEOUT(stress, device_id_vs_unbind, stress_timeout())
{
	struct stress_worker w[4] = {
		{ .fn = t1_prober },
		{ .fn = t1_prober },
		{ .fn = t1_binder_vfio },
		{ .fn = t1_binder_mock },
	};
	struct stress *st = self->st;
	unsigned char data[64];
	struct dma_result res;
	struct t1 t = {};
	uint32_t id, last;
	double elapsed;
	unsigned int i;
	long base;

	st->ops = t1_ops;
	st->nr_ops = T1_NR_OPS;

	t.buf = alloc_buf(4 * PAGE_SZ);
	ASSERT_NE(NULL, t.buf);
	fill_pattern(t.buf, 4 * PAGE_SZ, 1);
	base = locked_pages();
	ASSERT_LE(0, base);
	t.fd = ioasid_open();
	ASSERT_LE(0, t.fd);
	/* The static objects; a device of instance 0 keeps the caps fixed */
	ASSERT_EQ(0, ioasid_create(t.fd, &t.ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(t.fd, t.ioasid, t.buf, PAGE_SZ, 0));
	ASSERT_EQ(0, mock_create(t.fd, 0, &t.mock0));
	ASSERT_EQ(0, mock_bind(t.fd, t.mock0, &t.dev0));
	ASSERT_EQ(0, mock_attach(t.fd, t.mock0, t.ioasid));
	ASSERT_EQ(0, mock_create(t.fd, 0, &t.mock_b));
	ASSERT_EQ(0, mock_create_vfio(t.fd, 0, &t.mock_v, &t.vfio_index))
		TH_LOG("no mock vfio device: needs VFIO=y, VFIO_DEVICE_CDEV");

	last = t.ioasid;
	last = t.mock0 > last ? t.mock0 : last;
	last = t.dev0 > last ? t.dev0 : last;
	last = t.mock_b > last ? t.mock_b : last;
	last = t.mock_v > last ? t.mock_v : last;
	for (id = 1; id <= last + T1_SPAN && t.nr_cand < T1_MAX_CAND; id++)
		if (id != t.ioasid && id != t.mock0 && id != t.mock_b &&
		    id != t.mock_v)
			t.cand[t.nr_cand++] = id;
	ASSERT_LT(0, t.nr_cand);

	/*
	 * The window it hunts for is a few instructions wide: run three times
	 * as long. Measured on the lookup this test was written for (it held
	 * any object before checking its kind), 2 of 3 runs of 6 s hit it.
	 */
	st->seconds *= 3;
	elapsed = stress_run(st, w, ARRAY_SIZE(w), &t);
	stress_report(st, elapsed);
	ASSERT_EQ(0, st->failures)
		TH_LOG("%s", st->first_failure);

	/* The binders stopped unbound: only dev0 is a device, no id an IOASID */
	for (i = 0; i < t.nr_cand; i++) {
		ASSERT_EQ(ENOENT, ioasid_destroy(t.fd, t.cand[i]));
		ASSERT_EQ(t.cand[i] == t.dev0 ? 0 : ENOENT,
			  t1_hw_info(st, &t, t.cand[i]))
			TH_LOG("id %u", t.cand[i]);
	}
	ASSERT_EQ(0, st->failures)
		TH_LOG("%s", st->first_failure);
	/* The failed attaches left mock0 where it was */
	ASSERT_EQ(0, mock_dma(t.fd, t.mock0, 0, data, sizeof(data), false,
			      &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(data, t.buf, sizeof(data)));
	/* Nothing was mapped or pinned through a device's id */
	ASSERT_EQ(base + 1, locked_pages());
	ASSERT_EQ(0, mock_detach(t.fd, t.mock0));
	ASSERT_EQ(0, ioasid_destroy(t.fd, t.ioasid));
	ASSERT_EQ(base, locked_pages());
	close(t.fd);
	munmap(t.buf, 4 * PAGE_SZ);
}

/*
 * map_unmap_dma
 *
 * IOASID A maps byte X of a 32 MiB buffer at IOVA X, or doesn't, page by
 * page: so whatever any device reads through it is predictable. Every
 * 4 KiB page holds data of its own (its index is in every word), and the
 * first 8 MiB are also in a memfd, which some MAPs map instead.
 *
 * - Two mappers MAP and UNMAP random runs of pages inside slots they lock
 *   (16 pages, or two slots), UNMAP cutting through mappings, and MAP over
 *   mappings, which must fail with -EEXIST. A page's state word (mapped,
 *   busy, generation) is set busy before a call that may change it and
 *   settled after it returns, so the mappers know exactly what is mapped:
 *   MAP must succeed, UNMAP must unmap exactly the mapped pages of its range
 *   or give -ENOENT when there are none.
 * - A copier COPYs random ranges of A into IOASID B at the same IOVAs, and
 *   UNMAPs them again: COPY must succeed over pages mapped all along and
 *   fail with -ENOENT over a page unmapped all along.
 * - Two DMA threads read through mock devices of instances 0 and 1, both
 *   attached to A for good. For each page of the transfer, read the state
 *   word before and after: mapped and unchanged, the DMA must get through
 *   it; unmapped and unchanged, it must fault there (NOT_PRESENT). Whatever
 *   the state, bytes read must be exactly the page's data: never other
 *   memory. Pages next to a cut are not marked busy: their translation must
 *   never change, not even for a moment.
 * - An attach thread moves a third mock device's RID between A and B,
 *   detaches it, attaches and detaches PASIDs 1-3 to either, and DMAs
 *   through the RID and the PASIDs: blocked where nothing is attached,
 *   checked as above through A, and only ever the pages' data through B.
 *
 * At the end, a sweep of the window through both devices must find exactly
 * the pages the state words say, UNMAP_ALL must unmap exactly them (and B
 * exactly the live copies), and VmLck must be back where it started.
 */
#define T2_WINDOW	(32UL << 20)
#define T2_PAGES	(T2_WINDOW / PAGE_SZ)
#define T2_SLOT_PAGES	16UL
#define T2_SLOTS	(T2_PAGES / T2_SLOT_PAGES)
#define T2_FILE_SIZE	(8UL << 20)
#define T2_DMA_MAX	(4 * PAGE_SZ)
#define T2_DMA_PAGES	(T2_DMA_MAX / PAGE_SZ + 1)
#define T2_COPY_PAGES	32
#define T2_COPIES	8
#define T2_PASIDS	3
#define T2_SWEEP	(64UL << 10)
#define T2_GOLDEN	0x9e3779b97f4a7c15ULL

/* A page's state word: mapped, being changed, and a generation */
#define PS_MAPPED	1U
#define PS_BUSY		2U
#define PS_GEN		4U

/* What the third device's RID and PASIDs are attached to */
enum { T2_NONE, T2_A, T2_B };

enum {
	T2_MAP,
	T2_MAP_FILE,
	T2_MAP_OVERLAP,
	T2_UNMAP,
	T2_COPY,
	T2_COPY_UNMAP,
	T2_DMA,
	T2_ATTACH,
	T2_DETACH,
	T2_ATTACH_PASID,
	T2_DETACH_PASID,
	T2_DMA3,
	T2_NR_OPS
};

static const struct stress_op t2_ops[T2_NR_OPS] = {
	[T2_MAP] = { "map", ACCEPT(0) },
	[T2_MAP_FILE] = { "map_file", ACCEPT(0) },
	[T2_MAP_OVERLAP] = { "map(overlapping)", ACCEPT(EEXIST) },
	/* Which of the two it must be is checked from the state words */
	[T2_UNMAP] = { "unmap", ACCEPT(0, ENOENT) },
	[T2_COPY] = { "copy", ACCEPT(0, ENOENT) },
	[T2_COPY_UNMAP] = { "unmap(copy)", ACCEPT(0) },
	[T2_DMA] = { "test_dma", ACCEPT(0) },
	[T2_ATTACH] = { "mock_attach(replace)", ACCEPT(0) },
	[T2_DETACH] = { "mock_detach", ACCEPT(0) },
	/* -EBUSY exactly when the PASID is attached already */
	[T2_ATTACH_PASID] = { "mock_attach_pasid", ACCEPT(0, EBUSY) },
	/* -ENOENT exactly when it is not attached */
	[T2_DETACH_PASID] = { "mock_detach_pasid", ACCEPT(0, ENOENT) },
	[T2_DMA3] = { "test_dma(third device)", ACCEPT(0) },
};

enum {
	T2_N_FULL,
	T2_N_FAULT,
	T2_N_MAPPED,
	T2_N_UNMAPPED,
	T2_N_BLOCKED,
	T2_N_SLOT_BUSY,
	T2_NR_NOTES
};

static const char *const t2_notes[T2_NR_NOTES] = {
	[T2_N_FULL] = "dma complete",
	[T2_N_FAULT] = "dma faulted",
	[T2_N_MAPPED] = "pages mapped all along read",
	[T2_N_UNMAPPED] = "pages unmapped all along faulted",
	[T2_N_BLOCKED] = "dma blocked",
	[T2_N_SLOT_BUSY] = "slot taken",
};

/**
 * struct t2 - map_unmap_dma's objects
 * @fd: The context
 * @memfd: A file with the first T2_FILE_SIZE bytes of @buf
 * @buf: The window's memory, T2_WINDOW bytes
 * @salt: Makes the data of this run its own
 * @inv: Inverse of T2_GOLDEN, to tell which page wrong data came from
 * @a: IOASID A, identity-mapped
 * @b: IOASID B, copies of A
 * @dev: Mock devices: instance 0 and 1 on A, and the one moved around
 * @state: State word of each page of the window
 * @slot: Lock of each slot
 * @copies: Live copies in B, owned by the copier
 * @nr_copies: Their number
 * @rid: Where the third device's RID is attached, owned by the attacher
 * @pasid: And where its PASIDs are
 */
struct t2 {
	int fd;
	int memfd;
	unsigned char *buf;
	uint64_t salt;
	uint64_t inv;
	uint32_t a;
	uint32_t b;
	uint32_t dev[3];
	uint32_t *state;
	unsigned char *slot;
	struct {
		uint64_t iova;
		uint64_t len;
	} copies[T2_COPIES];
	unsigned int nr_copies;
	int rid;
	int pasid[T2_PASIDS + 1];
};

static uint64_t t2_word(const struct t2 *t, uint64_t page, unsigned int j)
{
	return ((page << 20) | j) * T2_GOLDEN ^ t->salt;
}

/* The inverse of an odd number mod 2^64, by Newton's iteration */
static uint64_t mod_inverse(uint64_t g)
{
	uint64_t x = g;
	int i;

	for (i = 0; i < 5; i++)
		x *= 2 - g * x;
	return x;
}

static bool t2_mapped(struct t2 *t, unsigned long p)
{
	return LOAD(t->state[p]) & PS_MAPPED;
}

/* A call may change page @p from now on */
static void t2_begin(struct t2 *t, unsigned long p)
{
	uint32_t v = LOAD(t->state[p]);

	STORE(t->state[p], ((v & ~(PS_GEN - 1)) + PS_GEN) | PS_BUSY |
			   (v & PS_MAPPED));
}

/* The call returned: page @p is @mapped */
static void t2_end(struct t2 *t, unsigned long p, bool mapped)
{
	uint32_t v = LOAD(t->state[p]);

	STORE(t->state[p], ((v & ~(PS_GEN - 1)) + PS_GEN) |
			   (mapped ? PS_MAPPED : 0));
}

/* Wrong data at @iova + @at: say whose it is, if it is any page's */
static void t2_bad_data(struct stress *st, struct t2 *t, const char *who,
			uint64_t iova, const unsigned char *data, uint64_t len,
			uint64_t at)
{
	uint64_t addr = iova + at, word = addr & ~7ULL, v, x;

	if (word >= iova && word + 8 <= iova + len) {
		memcpy(&v, data + (word - iova), sizeof(v));
		x = (v ^ t->salt) * t->inv;
		if ((x & 0xfffff) < PAGE_SZ / 8 && (x >> 20) < T2_PAGES)
			stress_fail(st, "%s: IOVA %#llx reads word %llu of the page at IOVA %#llx",
				    who, (unsigned long long)addr,
				    (unsigned long long)(x & 0xfffff),
				    (unsigned long long)((x >> 20) * PAGE_SZ));
		else
			stress_fail(st, "%s: IOVA %#llx reads %#llx, no data of the buffer",
				    who, (unsigned long long)word,
				    (unsigned long long)v);
		return;
	}
	stress_fail(st, "%s: IOVA %#llx reads a wrong byte", who,
		    (unsigned long long)addr);
}

/* Is @data what the window holds at [iova, iova + len)? */
static bool t2_data_ok(struct stress *st, struct t2 *t, const char *who,
		       uint64_t iova, const unsigned char *data, uint64_t len)
{
	uint64_t expect[PAGE_SZ / 8], a = iova, end = iova + len;
	const unsigned char *e = (const unsigned char *)expect;
	unsigned int j;

	while (a < end) {
		uint64_t page = a / PAGE_SZ, off = a % PAGE_SZ, n, i;

		n = PAGE_SZ - off < end - a ? PAGE_SZ - off : end - a;
		for (j = 0; j < PAGE_SZ / 8; j++)
			expect[j] = t2_word(t, page, j);
		if (memcmp(data + (a - iova), e + off, n)) {
			for (i = 0; data[a - iova + i] == e[off + i]; i++)
				;
			t2_bad_data(st, t, who, iova, data, len,
				    a - iova + i);
			return false;
		}
		a += n;
	}
	return true;
}

/*
 * Check a DMA read of [@iova, @iova + @len) through @target, given the
 * state words of its pages before and after it.
 */
static void t2_check_dma(struct stress *st, struct t2 *t, const char *who,
			 uint64_t iova, uint64_t len,
			 const unsigned char *data,
			 const struct dma_result *res, const uint32_t *before,
			 const uint32_t *after, int target)
{
	unsigned long first = iova / PAGE_SZ, last = (iova + len - 1) / PAGE_SZ;
	bool faulted = res->fault != IOASID_TEST_FAULT_NONE;
	bool full = res->done == len;
	uint64_t end = iova + res->done;
	unsigned long p;

	if (target == T2_NONE) {
		if (res->fault != IOASID_TEST_FAULT_BLOCKED || res->done)
			stress_fail(st, "%s: DMA at %#llx not blocked: fault %u, %llu bytes",
				    who, (unsigned long long)iova, res->fault,
				    (unsigned long long)res->done);
		stress_note(st, T2_N_BLOCKED);
		return;
	}
	if (res->done > len || full == faulted ||
	    (faulted && (res->fault != IOASID_TEST_FAULT_NOT_PRESENT ||
			 res->fault_iova != end))) {
		stress_fail(st, "%s: DMA of %llu bytes at %#llx: %llu done, fault %u at %#llx",
			    who, (unsigned long long)len,
			    (unsigned long long)iova,
			    (unsigned long long)res->done, res->fault,
			    (unsigned long long)res->fault_iova);
		return;
	}
	if (!t2_data_ok(st, t, who, iova, data, res->done))
		return;
	stress_note(st, res->fault ? T2_N_FAULT : T2_N_FULL);
	if (target != T2_A)
		return;

	for (p = first; p <= last; p++) {
		uint32_t v = before[p - first];
		bool read = (p * PAGE_SZ > iova ? p * PAGE_SZ : iova) < end;
		bool faulted = res->fault && res->fault_iova / PAGE_SZ == p;

		/* Changed, or being changed, while the DMA ran */
		if (v != after[p - first] || (v & PS_BUSY))
			continue;
		if (read && !(v & PS_MAPPED))
			stress_fail(st, "%s: DMA read IOVA %#lx, unmapped all along",
				    who, p * PAGE_SZ);
		else if (faulted && (v & PS_MAPPED))
			stress_fail(st, "%s: DMA faulted at %#llx, mapped all along",
				    who, (unsigned long long)res->fault_iova);
		else if (read)
			stress_note(st, T2_N_MAPPED);
		else if (faulted)
			stress_note(st, T2_N_UNMAPPED);
	}
}

/* A random DMA read by @dev, tagged with @pasid, routed to @target */
static void t2_dma(struct stress_worker *w, struct t2 *t, uint32_t dev,
		   uint32_t pasid, int target, unsigned int op,
		   const char *who)
{
	uint32_t before[T2_DMA_PAGES], after[T2_DMA_PAGES];
	unsigned char data[T2_DMA_MAX];
	unsigned long first, n, i;
	struct dma_result res;
	uint64_t iova, len;
	int rc;

	/* Whole pages often, so that many pages stay put during the DMA */
	if (one_in(w, 2)) {
		len = PAGE_SZ;
		iova = rnd_below(w, T2_PAGES) * PAGE_SZ;
	} else {
		len = 1 + rnd_below(w, T2_DMA_MAX);
		iova = rnd(w) % (T2_WINDOW - len + 1);
	}
	first = iova / PAGE_SZ;
	n = (iova + len - 1) / PAGE_SZ - first + 1;
	for (i = 0; i < n; i++)
		before[i] = LOAD(t->state[first + i]);
	rc = mock_dma_pasid(t->fd, dev, pasid, iova, data, len, false, &res);
	for (i = 0; i < n; i++)
		after[i] = LOAD(t->state[first + i]);
	if (stress_call_on(w->st, op, rc, dev))
		t2_check_dma(w->st, t, who, iova, len, data, &res, before,
			     after, target);
}

static bool t2_lock_slots(struct t2 *t, unsigned long s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		unsigned char free = 0;

		if (!__atomic_compare_exchange_n(&t->slot[s + i], &free, 1,
						 false, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED)) {
			while (i--)
				__atomic_store_n(&t->slot[s + i], 0,
						 __ATOMIC_RELEASE);
			return false;
		}
	}
	return true;
}

static void t2_unlock_slots(struct t2 *t, unsigned long s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		__atomic_store_n(&t->slot[s + i], 0, __ATOMIC_RELEASE);
}

/* UNMAP a random range of the locked pages [p0, p0 + np) */
static void t2_unmap_range(struct stress_worker *w, struct t2 *t,
			   unsigned long p0, unsigned long np)
{
	unsigned long a = p0 + rnd_below(w, np), b, p, mapped = 0;
	uint64_t unmapped = ~0ULL;
	char buf[16];
	int rc;

	b = a + 1 + rnd_below(w, p0 + np - a);
	/* Only the mapped pages change: the others must stay unmapped */
	for (p = a; p < b; p++) {
		if (t2_mapped(t, p)) {
			t2_begin(t, p);
			mapped++;
		}
	}
	rc = ioasid_unmap(t->fd, t->a, a * PAGE_SZ, (b - a) * PAGE_SZ,
			  &unmapped);
	for (p = a; p < b; p++)
		if (LOAD(t->state[p]) & PS_BUSY)
			t2_end(t, p, rc != 0);
	if (!stress_call(w->st, T2_UNMAP, rc))
		return;
	if (mapped && (rc || unmapped != mapped * PAGE_SZ))
		stress_fail(w->st, "UNMAP of [%#lx, %#lx), %lu pages mapped: %s, %llu bytes",
			    a * PAGE_SZ, b * PAGE_SZ, mapped,
			    errno_str(rc, buf), (unsigned long long)unmapped);
	else if (!mapped && rc != ENOENT)
		stress_fail(w->st, "UNMAP of [%#lx, %#lx), nothing mapped: %s",
			    a * PAGE_SZ, b * PAGE_SZ, errno_str(rc, buf));
}

/* MAP a random run of unmapped pages of [p0, p0 + np) */
static void t2_map_run(struct stress_worker *w, struct t2 *t,
		       unsigned long p0, unsigned long np)
{
	unsigned long end = p0 + np, a = p0 + rnd_below(w, np), b, limit, p, i;
	uint64_t iova;
	bool file;
	int rc;

	for (i = 0; i < np && t2_mapped(t, a); i++)
		a = a + 1 == end ? p0 : a + 1;
	if (i == np) {
		t2_unmap_range(w, t, p0, np);
		return;
	}
	limit = a + 1 + rnd_below(w, end - a);
	for (b = a; b < limit && !t2_mapped(t, b); b++)
		;
	file = b * PAGE_SZ <= T2_FILE_SIZE && one_in(w, 3);
	for (p = a; p < b; p++)
		t2_begin(t, p);
	iova = a * PAGE_SZ;
	if (file)
		rc = ioasid_map_file(t->fd, t->a, t->memfd, iova,
				     (b - a) * PAGE_SZ, &iova, MAP_FIXED_RW);
	else
		rc = ioasid_map_fixed(t->fd, t->a, t->buf + iova,
				      (b - a) * PAGE_SZ, iova);
	for (p = a; p < b; p++)
		t2_end(t, p, !rc);
	stress_call(w->st, file ? T2_MAP_FILE : T2_MAP, rc);
}

/*
 * MAP over a mapped page of [p0, p0 + np) and its neighbours. Nothing is
 * marked busy: the failed MAP must not disturb the mapped page, nor map the
 * unmapped ones even for a moment.
 */
static void t2_map_overlap(struct stress_worker *w, struct t2 *t,
			   unsigned long p0, unsigned long np)
{
	unsigned long m = p0 + rnd_below(w, np), a, b, i;

	for (i = 0; i < np && !t2_mapped(t, m); i++)
		m = m + 1 == p0 + np ? p0 : m + 1;
	if (i == np) {
		t2_map_run(w, t, p0, np);
		return;
	}
	a = m - rnd_below(w, 4);
	a = a < p0 || a > m ? p0 : a;
	b = m + 1 + rnd_below(w, 4);
	b = b > p0 + np ? p0 + np : b;
	stress_call(w->st, T2_MAP_OVERLAP,
		    ioasid_map_fixed(t->fd, t->a, t->buf + a * PAGE_SZ,
				     (b - a) * PAGE_SZ, a * PAGE_SZ));
}

static void *t2_mapper(void *arg)
{
	struct stress_worker *w = arg;
	struct t2 *t = w->test;

	while (!stress_stopped(w->st)) {
		unsigned int ns = one_in(w, 4) ? 2 : 1, kind;
		unsigned long s = rnd_below(w, T2_SLOTS - ns + 1);
		unsigned long p0 = s * T2_SLOT_PAGES, np = ns * T2_SLOT_PAGES;

		if (!t2_lock_slots(t, s, ns)) {
			stress_note(w->st, T2_N_SLOT_BUSY);
			continue;
		}
		kind = rnd_below(w, 10);
		if (kind < 5)
			t2_map_run(w, t, p0, np);
		else if (kind < 9)
			t2_unmap_range(w, t, p0, np);
		else
			t2_map_overlap(w, t, p0, np);
		t2_unlock_slots(t, s, ns);
	}
	return NULL;
}

/* COPY a random range of A into B, or UNMAP a copy from B */
static void t2_copy_step(struct stress_worker *w, struct t2 *t)
{
	uint32_t before[T2_COPY_PAGES], after[T2_COPY_PAGES];
	bool all_mapped = true, hole = false;
	uint64_t iova, dst, len, unmapped = ~0ULL;
	unsigned long a, np, i;
	uint32_t flags;
	int rc;

	if (t->nr_copies == T2_COPIES || (t->nr_copies && one_in(w, 2))) {
		i = rnd_below(w, t->nr_copies);
		rc = ioasid_unmap(t->fd, t->b, t->copies[i].iova,
				  t->copies[i].len, &unmapped);
		if (stress_call(w->st, T2_COPY_UNMAP, rc) &&
		    unmapped != t->copies[i].len)
			stress_fail(w->st, "UNMAP of the copy at %#llx: %llu bytes of %llu",
				    (unsigned long long)t->copies[i].iova,
				    (unsigned long long)unmapped,
				    (unsigned long long)t->copies[i].len);
		t->copies[i] = t->copies[--t->nr_copies];
		return;
	}

	np = 1 + rnd_below(w, T2_COPY_PAGES);
	a = rnd_below(w, T2_PAGES - np + 1);
	iova = a * PAGE_SZ;
	len = np * PAGE_SZ;
	for (i = 0; i < t->nr_copies; i++)
		if (iova < t->copies[i].iova + t->copies[i].len &&
		    t->copies[i].iova < iova + len)
			return;
	flags = IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ |
		(one_in(w, 2) ? IOASID_MAP_WRITE : 0);
	for (i = 0; i < np; i++)
		before[i] = LOAD(t->state[a + i]);
	dst = iova;
	rc = ioasid_copy(t->fd, t->b, t->a, iova, len, &dst, flags);
	for (i = 0; i < np; i++)
		after[i] = LOAD(t->state[a + i]);
	if (!stress_call(w->st, T2_COPY, rc))
		return;
	for (i = 0; i < np; i++) {
		bool stable = before[i] == after[i] && !(before[i] & PS_BUSY);

		all_mapped &= stable && (before[i] & PS_MAPPED);
		hole |= stable && !(before[i] & PS_MAPPED);
	}
	if (all_mapped && rc)
		stress_fail(w->st, "COPY of [%#llx, %#llx), mapped all along, failed",
			    (unsigned long long)iova,
			    (unsigned long long)(iova + len));
	else if (hole && !rc)
		stress_fail(w->st, "COPY of [%#llx, %#llx) over a hole succeeded",
			    (unsigned long long)iova,
			    (unsigned long long)(iova + len));
	if (!rc) {
		t->copies[t->nr_copies].iova = iova;
		t->copies[t->nr_copies++].len = len;
	}
}

static void *t2_copier(void *arg)
{
	struct stress_worker *w = arg;

	while (!stress_stopped(w->st))
		t2_copy_step(w, w->test);
	return NULL;
}

static void *t2_dmaer(void *arg)
{
	struct stress_worker *w = arg;
	struct t2 *t = w->test;
	/* Workers 3 and 4: devices 0 and 1 */
	unsigned int d = w->idx % 2 ? 0 : 1;
	const char *who = d ? "dev1 (instance 1)" : "dev0 (instance 0)";

	while (!stress_stopped(w->st))
		t2_dma(w, t, t->dev[d], 0, T2_A, T2_DMA, who);
	return NULL;
}

static uint32_t t2_target_id(struct t2 *t, int target)
{
	return target == T2_A ? t->a : t->b;
}

static void t2_attach_step(struct stress_worker *w, struct t2 *t)
{
	static const char *const who[T2_PASIDS + 1] = {
		"dev2 RID", "dev2 PASID 1", "dev2 PASID 2", "dev2 PASID 3",
	};
	int target = one_in(w, 2) ? T2_A : T2_B, rc;
	unsigned int p = 1 + rnd_below(w, T2_PASIDS);
	struct stress *st = w->st;
	uint32_t dev = t->dev[2];
	char buf[16];

	switch (rnd_below(w, 10)) {
	case 0:
		rc = mock_attach(t->fd, dev, t2_target_id(t, target));
		if (stress_call(st, T2_ATTACH, rc))
			t->rid = target;
		break;
	case 1:
		if (stress_call(st, T2_DETACH, mock_detach(t->fd, dev)))
			t->rid = T2_NONE;
		break;
	case 2:
		rc = mock_attach_pasid(t->fd, dev, p, t2_target_id(t, target));
		if (!stress_call(st, T2_ATTACH_PASID, rc))
			break;
		if (rc != (t->pasid[p] ? EBUSY : 0))
			stress_fail(st, "attach of PASID %u, %sattached: %s", p,
				    t->pasid[p] ? "" : "not ",
				    errno_str(rc, buf));
		else if (!rc)
			t->pasid[p] = target;
		break;
	case 3:
		rc = mock_detach_pasid(t->fd, dev, p);
		if (!stress_call(st, T2_DETACH_PASID, rc))
			break;
		if (rc != (t->pasid[p] ? 0 : ENOENT))
			stress_fail(st, "detach of PASID %u, %sattached: %s", p,
				    t->pasid[p] ? "" : "not ",
				    errno_str(rc, buf));
		t->pasid[p] = T2_NONE;
		break;
	default:
		/* 0 is the RID */
		p = rnd_below(w, T2_PASIDS + 1);
		t2_dma(w, t, dev, p, p ? t->pasid[p] : t->rid, T2_DMA3,
		       who[p]);
		break;
	}
}

static void *t2_attacher(void *arg)
{
	struct stress_worker *w = arg;

	while (!stress_stopped(w->st))
		t2_attach_step(w, w->test);
	return NULL;
}

/*
 * Read the whole window through @dev: it must get exactly through the pages
 * the state words say are mapped, and read their data.
 */
static void t2_sweep(struct __test_metadata *_metadata, struct stress *st,
		     struct t2 *t, uint32_t dev, unsigned char *data)
{
	unsigned long p = 0, q, ndone;
	struct dma_result res;
	uint64_t len;

	while (p < T2_PAGES) {
		len = (T2_PAGES - p) * PAGE_SZ;
		len = len > T2_SWEEP ? T2_SWEEP : len;
		ASSERT_EQ(0, mock_dma(t->fd, dev, p * PAGE_SZ, data, len,
				      false, &res));
		ASSERT_EQ(0, res.done % PAGE_SZ);
		ndone = res.done / PAGE_SZ;
		for (q = p; q < p + ndone; q++)
			ASSERT_TRUE(t2_mapped(t, q))
				TH_LOG("DMA read IOVA %#lx, not mapped",
				       q * PAGE_SZ);
		ASSERT_TRUE(t2_data_ok(st, t, "sweep", p * PAGE_SZ, data,
				       res.done))
			TH_LOG("%s", st->first_failure);
		if (res.fault == IOASID_TEST_FAULT_NONE) {
			ASSERT_EQ(len, res.done);
			p += ndone;
			continue;
		}
		ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT, res.fault);
		ASSERT_EQ((p + ndone) * PAGE_SZ, res.fault_iova);
		ASSERT_FALSE(t2_mapped(t, p + ndone))
			TH_LOG("DMA faulted at IOVA %#lx, mapped",
			       (p + ndone) * PAGE_SZ);
		p += ndone + 1;
	}
}

TEST_F_TIMEOUT(stress, map_unmap_dma, stress_timeout())
{
	struct stress_worker w[6] = {
		{ .fn = t2_mapper },
		{ .fn = t2_mapper },
		{ .fn = t2_copier },
		{ .fn = t2_dmaer },
		{ .fn = t2_dmaer },
		{ .fn = t2_attacher },
	};
	uint64_t *words, iova, unmapped, expect;
	struct stress *st = self->st;
	unsigned long s, p, mapped = 0;
	unsigned char *data;
	struct t2 t = {};
	double elapsed;
	unsigned int i;
	ssize_t n;
	long base;
	int rc;

	st->ops = t2_ops;
	st->nr_ops = T2_NR_OPS;
	st->note_names = t2_notes;
	st->nr_notes = T2_NR_NOTES;

	/* Every page of the window holds data of its own */
	t.salt = splitmix64(st->seed);
	t.inv = mod_inverse(T2_GOLDEN);
	t.buf = alloc_buf(T2_WINDOW);
	ASSERT_NE(NULL, t.buf);
	words = (uint64_t *)t.buf;
	for (p = 0; p < T2_PAGES; p++)
		for (i = 0; i < PAGE_SZ / 8; i++)
			words[p * (PAGE_SZ / 8) + i] = t2_word(&t, p, i);
	t.memfd = memfd_create("ioasid_stress", MFD_CLOEXEC);
	ASSERT_LE(0, t.memfd);
	ASSERT_EQ(0, ftruncate(t.memfd, T2_FILE_SIZE));
	for (iova = 0; iova < T2_FILE_SIZE; iova += n) {
		n = pwrite(t.memfd, t.buf + iova, T2_FILE_SIZE - iova, iova);
		ASSERT_LT(0, n);
	}
	t.state = calloc(T2_PAGES, sizeof(*t.state));
	ASSERT_NE(NULL, t.state);
	t.slot = calloc(T2_SLOTS, 1);
	ASSERT_NE(NULL, t.slot);
	data = malloc(T2_SWEEP);
	ASSERT_NE(NULL, data);

	base = locked_pages();
	ASSERT_LE(0, base);
	t.fd = ioasid_open();
	ASSERT_LE(0, t.fd);
	/* IOMMU pages of 4 KiB in A: UNMAP can cut anywhere (no -EXDEV) */
	ASSERT_EQ(0, ioasid_create_max_pgsize(t.fd, PAGE_SZ, &t.a));
	ASSERT_EQ(0, ioasid_create(t.fd, &t.b));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mock_create(t.fd, i == 1, &t.dev[i]));
		ASSERT_EQ(0, mock_bind(t.fd, t.dev[i], NULL));
	}
	ASSERT_EQ(0, mock_attach(t.fd, t.dev[0], t.a));
	ASSERT_EQ(0, mock_attach(t.fd, t.dev[1], t.a));

	/* Every other slot starts mapped, some of them from the file */
	for (s = 0; s < T2_SLOTS; s += 2) {
		iova = s * T2_SLOT_PAGES * PAGE_SZ;
		if (iova + T2_SLOT_PAGES * PAGE_SZ <= T2_FILE_SIZE && s % 4)
			rc = ioasid_map_file(t.fd, t.a, t.memfd, iova,
					     T2_SLOT_PAGES * PAGE_SZ, &iova,
					     MAP_FIXED_RW);
		else
			rc = ioasid_map_fixed(t.fd, t.a, t.buf + iova,
					      T2_SLOT_PAGES * PAGE_SZ, iova);
		ASSERT_EQ(0, rc);
		for (p = 0; p < T2_SLOT_PAGES; p++)
			t.state[s * T2_SLOT_PAGES + p] = PS_MAPPED;
	}
	t2_sweep(_metadata, st, &t, t.dev[0], data);
	t2_sweep(_metadata, st, &t, t.dev[1], data);

	elapsed = stress_run(st, w, ARRAY_SIZE(w), &t);
	stress_report(st, elapsed);
	ASSERT_EQ(0, st->failures)
		TH_LOG("%s", st->first_failure);

	/* A maps exactly what the state words say, B exactly the copies */
	t2_sweep(_metadata, st, &t, t.dev[0], data);
	t2_sweep(_metadata, st, &t, t.dev[1], data);
	for (p = 0; p < T2_PAGES; p++) {
		ASSERT_EQ(0, t.state[p] & PS_BUSY);
		mapped += t.state[p] & PS_MAPPED;
	}
	unmapped = ~0ULL;
	ASSERT_EQ(0, ioasid_unmap_all(t.fd, t.a, &unmapped));
	ASSERT_EQ(mapped * PAGE_SZ, unmapped);
	for (expect = 0, i = 0; i < t.nr_copies; i++)
		expect += t.copies[i].len;
	unmapped = ~0ULL;
	ASSERT_EQ(0, ioasid_unmap_all(t.fd, t.b, &unmapped));
	ASSERT_EQ(expect, unmapped);
	ASSERT_EQ(IOASID_TEST_FAULT_NOT_PRESENT,
		  mock_probe(t.fd, t.dev[0], 0, false));
	/* Nothing mapped is nothing pinned */
	ASSERT_EQ(base, locked_pages());

	/* Unbinding detaches the RIDs and the PASIDs */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mock_unbind(t.fd, t.dev[i]));
	ASSERT_EQ(IOASID_TEST_FAULT_BLOCKED,
		  mock_probe(t.fd, t.dev[0], 0, false));
	ASSERT_EQ(0, ioasid_destroy(t.fd, t.a));
	ASSERT_EQ(0, ioasid_destroy(t.fd, t.b));
	ASSERT_EQ(base, locked_pages());
	close(t.fd);
	close(t.memfd);
	free(data);
	free(t.slot);
	free(t.state);
	munmap(t.buf, T2_WINDOW);
}

/*
 * destroy_and_close_races
 *
 * Six threads share one context, which the first of them closes and
 * replaces with a new one now and then; every thread works on its own dup
 * of the current context's fd, taken again once the context changed, so the
 * old context goes away with the last dup closed, whichever thread that is,
 * while its objects are in use. Ids are picked at random, from those
 * created lately (of IOASIDs of every kind and of devices) and from a small
 * range, so calls name objects being destroyed, of the wrong kind, of an
 * old context, or nothing.
 *
 * - IOASIDs: CREATE (normal, with and without max_pgsize, nesting parents),
 *   DESTROY, GET_INFO; and the swap of the context.
 * - Nesting: parents with the guest's (zeroed) tables mapped, CREATE_NESTED
 *   and CREATE_DELEGATED over any id, parents being destroyed among them,
 *   SET_NESTED_PAGE_TABLES, INVALIDATE, DESTROY.
 * - Mappings: MAP (memory and memfd, fixed and kernel-chosen IOVAs,
 *   read-only or not), UNMAP, UNMAP_ALL, COPY, IOVA_RANGES of any id.
 * - Mock devices: create (instances 0, 1 and, at times, the incompatible
 *   2), destroy, bind, unbind, attach and detach RID and PASIDs to any id,
 *   DMA.
 * - A mock vfio device, made by a context of its own that lives through
 *   the test: opened, bound to the current context, attached to any id, its
 *   fd dup'd and handed to the last thread, then closed while that thread
 *   attaches and detaches through the dup.
 * - The last thread: those vfio ioctls, GET_HW_INFO and IOVA_RANGES of any
 *   id.
 *
 * Every call gives 0 or an errno of the set named for it. At the end, with
 * every fd closed, VmLck is back where it started, and the vfio device binds,
 * attaches and DMAs through a fresh context as on the first day.
 */
#define T3_BUF_SIZE	(2UL << 20)	/* IOVA X maps byte X of the buffer */
#define T3_BUF_PAGES	(T3_BUF_SIZE / PAGE_SZ)
#define T3_FILE_SIZE	(T3_BUF_SIZE / 2)
#define T3_FILE_PAGES	(T3_FILE_SIZE / PAGE_SZ)
#define T3_GUEST_GPA	(64UL << 20)	/* the guest's tables, all zero */
#define T3_GUEST_SIZE	(2 * PAGE_SZ)
#define T3_MAX_ID	40
#define T3_RECENT	16
#define T3_MOCKS	6
#define T3_SWAP_MS	400

enum {
	T3_CREATE,
	T3_CREATE_PARENT,
	T3_DESTROY,
	T3_GET_INFO,
	T3_CREATE_NESTED,
	T3_CREATE_DELEGATED,
	T3_SET_TABLES,
	T3_INVALIDATE,
	T3_MAP,
	T3_MAP_FILE,
	T3_MAP_ANY,
	T3_UNMAP,
	T3_UNMAP_ALL,
	T3_COPY,
	T3_IOVA_RANGES,
	T3_HW_INFO,
	T3_MOCK_CREATE,
	T3_MOCK_DESTROY,
	T3_MOCK_BIND,
	T3_MOCK_UNBIND,
	T3_MOCK_ATTACH,
	T3_MOCK_DETACH,
	T3_MOCK_ATTACH_PASID,
	T3_MOCK_DETACH_PASID,
	T3_DMA,
	T3_VFIO_OPEN,
	T3_VFIO_BIND,
	T3_VFIO_ATTACH,
	T3_VFIO_DETACH,
	T3_VFIO_ATTACH_PASID,
	T3_VFIO_DETACH_PASID,
	T3_NR_OPS
};

/*
 * -ENOENT: no such object (of the kind); -EINVAL: an IOASID of the wrong
 * kind, a nested IOASID without tables, a vfio fd that is not bound;
 * -EBUSY: in use; -EOPNOTSUPP: the context's IOMMU (instance 2 bound first)
 * cannot nest or do PASIDs; -EXDEV: a device behind the other kind of
 * IOMMU; -ERANGE: guest tables outside the parent's mappings; -EEXIST,
 * -EADDRINUSE, -ENOSPC: IOVA ranges taken; -EPERM: a writable COPY of
 * memory pinned read-only, a device owned elsewhere; -ENODEV: a mock device
 * that is not bound; -EMSGSIZE: more IOVA ranges than room.
 */
static const struct stress_op t3_ops[T3_NR_OPS] = {
	[T3_CREATE] = { "create", ACCEPT(0) },
	[T3_CREATE_PARENT] = { "create(nest parent)", ACCEPT(0, EOPNOTSUPP) },
	[T3_DESTROY] = { "destroy", ACCEPT(0, ENOENT, EBUSY) },
	[T3_GET_INFO] = { "get_info", ACCEPT(0) },
	[T3_CREATE_NESTED] = { "create_nested",
			       ACCEPT(0, ENOENT, EINVAL, EOPNOTSUPP) },
	[T3_CREATE_DELEGATED] = { "create_delegated",
				  ACCEPT(0, ENOENT, EINVAL, EOPNOTSUPP,
					 ERANGE) },
	[T3_SET_TABLES] = { "set_nested_page_tables",
			    ACCEPT(0, ENOENT, EINVAL, EBUSY, ERANGE) },
	[T3_INVALIDATE] = { "invalidate", ACCEPT(0, ENOENT, EINVAL) },
	[T3_MAP] = { "map", ACCEPT(0, ENOENT, EINVAL, EEXIST, EADDRINUSE,
				   ERANGE) },
	[T3_MAP_FILE] = { "map_file", ACCEPT(0, ENOENT, EINVAL, EEXIST,
					     EADDRINUSE, ERANGE) },
	[T3_MAP_ANY] = { "map(any IOVA)", ACCEPT(0, ENOENT, EINVAL, ENOSPC) },
	[T3_UNMAP] = { "unmap", ACCEPT(0, ENOENT, EINVAL, EXDEV) },
	[T3_UNMAP_ALL] = { "unmap_all", ACCEPT(0, ENOENT, EINVAL) },
	[T3_COPY] = { "copy", ACCEPT(0, ENOENT, EINVAL, EEXIST, EADDRINUSE,
				     ERANGE, EPERM, ENOSPC) },
	[T3_IOVA_RANGES] = { "iova_ranges",
			     ACCEPT(0, ENOENT, EINVAL, EMSGSIZE) },
	[T3_HW_INFO] = { "get_hw_info", ACCEPT(0, ENOENT, EINVAL) },
	[T3_MOCK_CREATE] = { "mock_create", ACCEPT(0) },
	[T3_MOCK_DESTROY] = { "mock_destroy", ACCEPT(0, ENOENT, EBUSY) },
	[T3_MOCK_BIND] = { "mock_bind",
			   ACCEPT(0, ENOENT, EBUSY, EXDEV, EPERM) },
	[T3_MOCK_UNBIND] = { "mock_unbind", ACCEPT(0, ENOENT, ENODEV) },
	[T3_MOCK_ATTACH] = { "mock_attach",
			     ACCEPT(0, ENOENT, ENODEV, EINVAL, EBUSY,
				    EADDRINUSE, ERANGE, EOPNOTSUPP) },
	[T3_MOCK_DETACH] = { "mock_detach", ACCEPT(0, ENOENT, ENODEV) },
	[T3_MOCK_ATTACH_PASID] = { "mock_attach_pasid",
				   ACCEPT(0, ENOENT, ENODEV, EINVAL, EBUSY,
					  ERANGE, EOPNOTSUPP) },
	[T3_MOCK_DETACH_PASID] = { "mock_detach_pasid",
				   ACCEPT(0, ENOENT, ENODEV) },
	[T3_DMA] = { "test_dma", ACCEPT(0, ENOENT) },
	[T3_VFIO_OPEN] = { "vfio_open", ACCEPT(0) },
	/* -EBUSY while the fd handed over before is open */
	[T3_VFIO_BIND] = { "vfio_bind_ioasid", ACCEPT(0, EBUSY, EXDEV) },
	[T3_VFIO_ATTACH] = { "vfio_attach",
			     ACCEPT(0, ENOENT, EINVAL, EBUSY, EADDRINUSE,
				    ERANGE, EOPNOTSUPP) },
	[T3_VFIO_DETACH] = { "vfio_detach", ACCEPT(0, EINVAL) },
	[T3_VFIO_ATTACH_PASID] = { "vfio_attach_pasid",
				   ACCEPT(0, ENOENT, EINVAL, EBUSY, ERANGE,
					  EOPNOTSUPP) },
	[T3_VFIO_DETACH_PASID] = { "vfio_detach_pasid",
				   ACCEPT(0, ENOENT, EINVAL) },
};

enum {
	T3_N_SWAPS,
	T3_N_HANDOFFS,
	T3_NR_NOTES
};

static const char *const t3_notes[T3_NR_NOTES] = {
	[T3_N_SWAPS] = "contexts swapped",
	[T3_N_HANDOFFS] = "vfio fds handed over",
};

/**
 * struct t3 - destroy_and_close_races's shared state
 * @lock: Protects @ctx_fd and @epoch
 * @ctx_fd: The current context
 * @epoch: Changes with @ctx_fd
 * @owner_fd: Context that made the mock vfio device, for good
 * @vfio_mock: The mock vfio device, in @owner_fd
 * @vfio_index: N of its /dev/vfio/devices/vfioN
 * @handoff: A dup of a bound vfio fd for the last thread, or -1
 * @recent: Ids created lately, of any context
 * @recent_next: Where the next one goes
 * @buf: Memory to map, T3_BUF_SIZE bytes
 * @guest: The guest's tables, zeroed
 * @memfd: A file of T3_FILE_SIZE bytes to map
 */
struct t3 {
	pthread_mutex_t lock; /* ctx_fd, epoch */
	int ctx_fd;
	unsigned int epoch;
	int owner_fd;
	uint32_t vfio_mock;
	uint32_t vfio_index;
	int handoff;
	uint32_t recent[T3_RECENT];
	unsigned int recent_next;
	unsigned char *buf;
	unsigned char *guest;
	int memfd;
};

/**
 * struct t3_ctx - one thread's view of the shared context
 * @fd: Its own dup of the context's fd
 * @epoch: The context's epoch when it was taken
 * @mocks: Mock devices the thread made in that context
 * @nr_mocks: Their number
 * @last_swap: When the context was last swapped, for the swapper
 */
struct t3_ctx {
	int fd;
	unsigned int epoch;
	uint32_t mocks[T3_MOCKS];
	unsigned int nr_mocks;
	double last_swap;
};

/* Follow the shared context; true if the thread has a new one */
static bool t3_refresh(struct stress_worker *w, struct t3 *t,
		       struct t3_ctx *c)
{
	int old = -1;

	pthread_mutex_lock(&t->lock);
	if (c->fd >= 0 && c->epoch == t->epoch) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	old = c->fd;
	c->fd = fcntl(t->ctx_fd, F_DUPFD_CLOEXEC, 0);
	c->epoch = t->epoch;
	pthread_mutex_unlock(&t->lock);
	if (c->fd < 0)
		stress_fail(w->st, "dup of the context: %s", strerror(errno));
	/* Maybe the last reference: the old context goes away here */
	if (old >= 0)
		close(old);
	return true;
}

/* Close the shared context and put a new one in its place */
static void t3_swap(struct stress_worker *w, struct t3 *t)
{
	int fd = ioasid_open(), old;

	if (fd < 0) {
		stress_fail(w->st, "open of /dev/ioasid: %s", strerror(errno));
		return;
	}
	pthread_mutex_lock(&t->lock);
	old = t->ctx_fd;
	t->ctx_fd = fd;
	t->epoch++;
	pthread_mutex_unlock(&t->lock);
	close(old);
	stress_note(w->st, T3_N_SWAPS);
}

static void t3_remember(struct t3 *t, uint32_t id)
{
	unsigned int i = __atomic_fetch_add(&t->recent_next, 1,
					    __ATOMIC_RELAXED);

	STORE(t->recent[i % T3_RECENT], id);
}

static uint32_t t3_pick(struct stress_worker *w, struct t3 *t)
{
	uint32_t id = 0;

	if (!one_in(w, 3))
		id = LOAD(t->recent[rnd_below(w, T3_RECENT)]);
	return id ? id : 1 + rnd_below(w, T3_MAX_ID);
}

static void t3_ioasid_step(struct stress_worker *w, struct t3 *t,
			   struct t3_ctx *c)
{
	double gap = (T3_SWAP_MS + rnd_below(w, T3_SWAP_MS)) / 1000.0;
	struct stress *st = w->st;
	struct ioasid_info info;
	uint32_t id;
	int rc;

	if (now_sec() - c->last_swap > gap) {
		t3_swap(w, t);
		c->last_swap = now_sec();
		return;
	}
	switch (rnd_below(w, 8)) {
	case 0:
	case 1:
	case 2:
		rc = ioasid_create_max_pgsize(c->fd, one_in(w, 2) ? PAGE_SZ : 0,
					      &id);
		if (stress_call(st, T3_CREATE, rc) && !rc)
			t3_remember(t, id);
		break;
	case 3:
		rc = ioasid_create_parent(c->fd, &id);
		if (stress_call(st, T3_CREATE_PARENT, rc) && !rc)
			t3_remember(t, id);
		break;
	case 7:
		stress_call(st, T3_GET_INFO, ioasid_get_info(c->fd, &info));
		break;
	default:
		id = t3_pick(w, t);
		stress_call_on(st, T3_DESTROY, ioasid_destroy(c->fd, id), id);
		break;
	}
}

static void t3_nesting_step(struct stress_worker *w, struct t3 *t,
			    struct t3_ctx *c)
{
	struct ioasid_mock_invalidate inv = { .flags = IOASID_MOCK_INV_ALL };
	struct stress *st = w->st;
	uint32_t id = t3_pick(w, t), out;
	int rc;

	switch (rnd_below(w, 7)) {
	case 0:
		/* A parent for the others to nest on, tables mapped */
		rc = ioasid_create_parent(c->fd, &out);
		if (!stress_call(st, T3_CREATE_PARENT, rc) || rc)
			break;
		t3_remember(t, out);
		stress_call_on(st, T3_MAP,
			       ioasid_map_fixed(c->fd, out, t->guest,
						T3_GUEST_SIZE, T3_GUEST_GPA),
			       out);
		break;
	case 1:
		rc = ioasid_create_nested(c->fd, id, IOASID_FORMAT_MOCK_S1,
					  &out);
		if (!stress_call_on(st, T3_CREATE_NESTED, rc, id) || rc)
			break;
		t3_remember(t, out);
		if (one_in(w, 2))
			stress_call_on(st, T3_SET_TABLES,
				       ioasid_set_mock_s1(c->fd, out,
							  T3_GUEST_GPA), out);
		break;
	case 2:
		rc = ioasid_create_mock_delegated(c->fd, id,
						  T3_GUEST_GPA + PAGE_SZ, 4,
						  &out);
		if (stress_call_on(st, T3_CREATE_DELEGATED, rc, id) && !rc)
			t3_remember(t, out);
		break;
	case 3:
		stress_call_on(st, T3_SET_TABLES,
			       ioasid_set_mock_s1(c->fd, id, T3_GUEST_GPA), id);
		break;
	case 4:
		rc = ioasid_invalidate(c->fd, id, one_in(w, 2) ?
				       IOASID_FORMAT_MOCK_S1 :
				       IOASID_FORMAT_MOCK_PASID_TABLE, &inv,
				       sizeof(inv), 1, NULL);
		stress_call_on(st, T3_INVALIDATE, rc, id);
		break;
	default:
		stress_call_on(st, T3_DESTROY, ioasid_destroy(c->fd, id), id);
		break;
	}
}

static void t3_mapping_step(struct stress_worker *w, struct t3 *t,
			    struct t3_ctx *c)
{
	struct ioasid_iova_range ranges[2];
	uint32_t id = t3_pick(w, t), num, flags;
	unsigned long a = rnd_below(w, T3_BUF_PAGES), n;
	struct stress *st = w->st;
	uint64_t iova, dst;
	int rc;

	n = 1 + rnd_below(w, 16);
	n = a + n > T3_BUF_PAGES ? T3_BUF_PAGES - a : n;
	iova = a * PAGE_SZ;

	switch (rnd_below(w, 10)) {
	case 0:
	case 1:
		flags = IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ |
			(one_in(w, 4) ? 0 : IOASID_MAP_WRITE);
		rc = ioasid_map(c->fd, id, t->buf + iova, n * PAGE_SZ, &iova,
				flags);
		stress_call_on(st, T3_MAP, rc, id);
		break;
	case 2:
		a %= T3_FILE_PAGES;
		n = a + n > T3_FILE_PAGES ? T3_FILE_PAGES - a : n;
		iova = a * PAGE_SZ;
		rc = ioasid_map_file(c->fd, id, t->memfd, iova, n * PAGE_SZ,
				     &iova, MAP_FIXED_RW);
		stress_call_on(st, T3_MAP_FILE, rc, id);
		break;
	case 3:
		rc = ioasid_map(c->fd, id, t->buf + iova, n * PAGE_SZ, &iova,
				MAP_RW);
		stress_call_on(st, T3_MAP_ANY, rc, id);
		break;
	case 4:
	case 5:
		rc = ioasid_unmap(c->fd, id, iova, n * PAGE_SZ, NULL);
		stress_call_on(st, T3_UNMAP, rc, id);
		break;
	case 6:
		stress_call_on(st, T3_UNMAP_ALL,
			       ioasid_unmap_all(c->fd, id, NULL), id);
		break;
	case 7:
	case 8:
		/* Into another IOASID, at the same IOVA or anywhere */
		dst = iova;
		flags = one_in(w, 2) ? MAP_FIXED_RW : MAP_RW;
		rc = ioasid_copy(c->fd, t3_pick(w, t), id, iova, n * PAGE_SZ,
				 &dst, flags);
		stress_call_on(st, T3_COPY, rc, id);
		break;
	default:
		num = ARRAY_SIZE(ranges);
		rc = ioasid_iova_ranges(c->fd, id, ranges, &num);
		stress_call_on(st, T3_IOVA_RANGES, rc, id);
		break;
	}
}

/* A DMA by a mock device, through whatever it is attached to */
static void t3_dma(struct stress_worker *w, struct t3 *t, struct t3_ctx *c,
		   uint32_t mock)
{
	uint64_t iova = rnd_below(w, T3_BUF_PAGES) * PAGE_SZ +
			rnd_below(w, PAGE_SZ);
	uint32_t pasid = one_in(w, 2) ? 0 : 1 + rnd_below(w, 7);
	uint64_t len = 1 + rnd_below(w, 256);
	unsigned char data[256];
	struct dma_result res;
	bool full;
	int rc;

	rc = mock_dma_pasid(c->fd, mock, pasid, iova, data, len,
			    one_in(w, 8), &res);
	if (!stress_call_on(w->st, T3_DMA, rc, mock) || rc)
		return;
	full = res.done == len;
	if (res.fault > IOASID_TEST_FAULT_RANGE || res.done > len ||
	    full != !res.fault)
		stress_fail(w->st, "DMA of %llu bytes at %#llx by %u: %llu done, fault %u",
			    (unsigned long long)len, (unsigned long long)iova,
			    mock, (unsigned long long)res.done, res.fault);
}

static void t3_mock_step(struct stress_worker *w, struct t3 *t,
			 struct t3_ctx *c)
{
	uint32_t target = t3_pick(w, t), pasid = 1 + rnd_below(w, 7), mock, id;
	struct stress *st = w->st;
	unsigned int i;
	int rc;

	if (!c->nr_mocks || (c->nr_mocks < T3_MOCKS && one_in(w, 8))) {
		/* Mostly the two compatible instances, at times the other */
		rc = mock_create(c->fd, one_in(w, 8) ? 2 : rnd_below(w, 2), &id);
		if (stress_call(st, T3_MOCK_CREATE, rc) && !rc)
			c->mocks[c->nr_mocks++] = id;
		return;
	}
	i = rnd_below(w, c->nr_mocks);
	mock = c->mocks[i];

	switch (rnd_below(w, 12)) {
	case 0:
		id = one_in(w, 4) ? target : mock;
		rc = mock_destroy(c->fd, id);
		stress_call_on(st, T3_MOCK_DESTROY, rc, id);
		if (id == mock && rc != EBUSY)
			c->mocks[i] = c->mocks[--c->nr_mocks];
		break;
	case 1:
	case 2:
		rc = mock_bind(c->fd, mock, &id);
		if (stress_call_on(st, T3_MOCK_BIND, rc, mock) && !rc)
			t3_remember(t, id);
		break;
	case 3:
		stress_call_on(st, T3_MOCK_UNBIND, mock_unbind(c->fd, mock),
			       mock);
		break;
	case 4:
	case 5:
		stress_call_on(st, T3_MOCK_ATTACH,
			       mock_attach(c->fd, mock, target), target);
		break;
	case 6:
		stress_call_on(st, T3_MOCK_DETACH, mock_detach(c->fd, mock),
			       mock);
		break;
	case 7:
		stress_call_on(st, T3_MOCK_ATTACH_PASID,
			       mock_attach_pasid(c->fd, mock, pasid, target),
			       target);
		break;
	case 8:
		stress_call_on(st, T3_MOCK_DETACH_PASID,
			       mock_detach_pasid(c->fd, mock, pasid), mock);
		break;
	default:
		t3_dma(w, t, c, one_in(w, 8) ? target : mock);
		break;
	}
}

/* One attach or detach ioctl on vfio fd @v, bound or not */
static void t3_vfio_op(struct stress_worker *w, struct t3 *t, int v)
{
	uint32_t id = t3_pick(w, t), pasid = 1 + rnd_below(w, 7);
	struct stress *st = w->st;

	switch (rnd_below(w, 5)) {
	case 0:
	case 1:
		stress_call_on(st, T3_VFIO_ATTACH, vfio_attach_ioasid(v, id),
			       id);
		break;
	case 2:
		stress_call(st, T3_VFIO_DETACH, vfio_detach_ioasid(v));
		break;
	case 3:
		stress_call_on(st, T3_VFIO_ATTACH_PASID,
			       vfio_attach_ioasid_pasid(v, pasid, id), id);
		break;
	default:
		stress_call(st, T3_VFIO_DETACH_PASID,
			    vfio_detach_ioasid_pasid(v, pasid));
		break;
	}
}

/* Open, bind, use, hand a dup over, use, close */
static void t3_vfio_step(struct stress_worker *w, struct t3 *t,
			 struct t3_ctx *c)
{
	struct stress *st = w->st;
	unsigned int i, n;
	uint32_t dev;
	int v, d, rc;

	v = vfio_open_index(t->vfio_index);
	if (!stress_call(st, T3_VFIO_OPEN, v < 0 ? errno : 0) || v < 0)
		return;
	rc = vfio_bind_ioasid(v, c->fd, &dev);
	if (stress_call(st, T3_VFIO_BIND, rc) && !rc)
		t3_remember(t, dev);
	for (n = rnd_below(w, 3), i = 0; i < n; i++)
		t3_vfio_op(w, t, v);
	d = fcntl(v, F_DUPFD_CLOEXEC, 0);
	if (d >= 0) {
		d = XCHG(t->handoff, d);
		/* Not taken since: close the previous one here */
		if (d >= 0)
			close(d);
	}
	for (n = rnd_below(w, 3), i = 0; i < n; i++)
		t3_vfio_op(w, t, v);
	close(v);
}

/* Use, then close, the vfio fd handed over; or look ids up */
static void t3_user_step(struct stress_worker *w, struct t3 *t,
			 struct t3_ctx *c)
{
	uint32_t id = t3_pick(w, t), len, type, bits, num;
	struct ioasid_iova_range ranges[2];
	struct stress *st = w->st;
	struct ioasid_info info;
	unsigned int i, n;
	uint64_t formats;
	int d;

	d = XCHG(t->handoff, -1);
	if (d >= 0) {
		stress_note(st, T3_N_HANDOFFS);
		for (n = 1 + rnd_below(w, 4), i = 0; i < n; i++)
			t3_vfio_op(w, t, d);
		close(d);
		return;
	}
	switch (rnd_below(w, 3)) {
	case 0:
		len = sizeof(bits);
		stress_call_on(st, T3_HW_INFO,
			       ioasid_get_hw_info(c->fd, id, &bits, &len, &type,
						  &formats), id);
		break;
	case 1:
		num = ARRAY_SIZE(ranges);
		stress_call_on(st, T3_IOVA_RANGES,
			       ioasid_iova_ranges(c->fd, id, ranges, &num), id);
		break;
	default:
		stress_call(st, T3_GET_INFO, ioasid_get_info(c->fd, &info));
		break;
	}
}

typedef void (*t3_step_fn)(struct stress_worker *w, struct t3 *t,
			   struct t3_ctx *c);

static const t3_step_fn t3_steps[] = {
	t3_ioasid_step,
	t3_nesting_step,
	t3_mapping_step,
	t3_mock_step,
	t3_vfio_step,
	t3_user_step,
};

static void *t3_thread(void *arg)
{
	struct stress_worker *w = arg;
	struct t3_ctx c = { .fd = -1, .last_swap = now_sec() };
	struct t3 *t = w->test;

	while (!stress_stopped(w->st)) {
		/* Mock devices die with the context that made them */
		if (t3_refresh(w, t, &c))
			c.nr_mocks = 0;
		if (c.fd < 0)
			break;
		t3_steps[w->idx](w, t, &c);
	}
	if (c.fd >= 0)
		close(c.fd);
	return NULL;
}

TEST_F_TIMEOUT(stress, destroy_and_close_races, stress_timeout())
{
	struct stress_worker w[ARRAY_SIZE(t3_steps)];
	struct t3 t = { .ctx_fd = -1, .handoff = -1 };
	struct stress *st = self->st;
	unsigned char data[64];
	struct dma_result res;
	uint32_t ioasid;
	double elapsed;
	unsigned int i;
	int fd, v, d;
	long base;

	st->ops = t3_ops;
	st->nr_ops = T3_NR_OPS;
	st->note_names = t3_notes;
	st->nr_notes = T3_NR_NOTES;

	t.buf = alloc_buf(T3_BUF_SIZE);
	ASSERT_NE(NULL, t.buf);
	fill_pattern(t.buf, T3_BUF_SIZE, 3);
	t.guest = alloc_buf(T3_GUEST_SIZE);
	ASSERT_NE(NULL, t.guest);
	t.memfd = memfd_create("ioasid_stress", MFD_CLOEXEC);
	ASSERT_LE(0, t.memfd);
	ASSERT_EQ(0, ftruncate(t.memfd, T3_FILE_SIZE));
	ASSERT_EQ(T3_FILE_SIZE, pwrite(t.memfd, t.buf, T3_FILE_SIZE, 0));
	ASSERT_EQ(0, pthread_mutex_init(&t.lock, NULL));

	base = locked_pages();
	ASSERT_LE(0, base);
	t.owner_fd = ioasid_open();
	ASSERT_LE(0, t.owner_fd);
	ASSERT_EQ(0, mock_create_vfio(t.owner_fd, 0, &t.vfio_mock,
				      &t.vfio_index))
		TH_LOG("no mock vfio device: needs VFIO=y, VFIO_DEVICE_CDEV");
	t.ctx_fd = ioasid_open();
	ASSERT_LE(0, t.ctx_fd);

	memset(w, 0, sizeof(w));
	for (i = 0; i < ARRAY_SIZE(w); i++)
		w[i].fn = t3_thread;
	elapsed = stress_run(st, w, ARRAY_SIZE(w), &t);
	stress_report(st, elapsed);
	ASSERT_EQ(0, st->failures)
		TH_LOG("%s", st->first_failure);

	/* Every fd closed, every context gone: nothing stays pinned */
	d = XCHG(t.handoff, -1);
	if (d >= 0)
		close(d);
	close(t.ctx_fd);
	ASSERT_EQ(base, locked_pages());

	/* What is left works: the vfio device through a new context */
	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, t.buf, PAGE_SZ, 0));
	v = vfio_open_index(t.vfio_index);
	ASSERT_LE(0, v);
	ASSERT_EQ(0, vfio_bind_ioasid(v, fd, NULL));
	ASSERT_EQ(0, vfio_attach_ioasid(v, ioasid));
	ASSERT_EQ(0, mock_dma(t.owner_fd, t.vfio_mock, 0, data, sizeof(data),
			      false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(0, memcmp(data, t.buf, sizeof(data)));
	close(v);
	close(fd);
	ASSERT_EQ(base, locked_pages());

	close(t.owner_fd);
	close(t.memfd);
	pthread_mutex_destroy(&t.lock);
	munmap(t.guest, T3_GUEST_SIZE);
	munmap(t.buf, T3_BUF_SIZE);
}

/*
 * stored_pages_vs_domains
 *
 * Scattered 4 KiB pages mapped in one piece are kept in the IOASID's first
 * domain rather than as runs of their own (pages.c): their frames are read
 * back from it. Threads race everything that reads them back or changes
 * where they are kept: a cutter UNMAPs pieces of the mapping (the chunks
 * get their runs back first) and MAPs holes again; a cycler detaches and
 * attaches the two devices of A, so that the domain holding the pages goes
 * (they move to the other one, or back to runs of their own when none is
 * left) and comes back; a copier COPYs ranges of A into B and a sharer
 * MAPs the same memory into B, both of which read the frames from A's
 * domain, and each checks through B's device what it mapped; a reader DMAs
 * through A's devices, and whatever it reads must be the memory mapped at
 * that IOVA: a frame read back wrong, or unpinned while still mapped, would
 * read other memory. At the end A maps exactly what the cutter says, and
 * exactly that stays pinned.
 */
#define T4_PAGES	2048UL		/* 8 MiB: four chunks of 512 pages */
#define T4_SIZE		(T4_PAGES * PAGE_SZ)
#define T4_COPY_IOVA	(64UL << 20)	/* where COPY puts ranges in B */
#define T4_SHARE_IOVA	(128UL << 20)	/* where the sharer maps them */
#define T4_CHECK	64		/* bytes a DMA check reads */

enum {
	T4_UNMAP,
	T4_MAP,
	T4_ATTACH,
	T4_DETACH,
	T4_COPY,
	T4_SHARE,
	T4_UNMAP_B,
	T4_DMA,
	T4_NR_OPS
};

static const struct stress_op t4_ops[T4_NR_OPS] = {
	/* Which of the two it must be is checked from the cutter's map */
	[T4_UNMAP] = { "unmap", ACCEPT(0, ENOENT) },
	[T4_MAP] = { "map", ACCEPT(0) },
	[T4_ATTACH] = { "mock_attach", ACCEPT(0) },
	[T4_DETACH] = { "mock_detach", ACCEPT(0) },
	/* -ENOENT when the cutter made a hole in the range */
	[T4_COPY] = { "copy", ACCEPT(0, ENOENT) },
	[T4_SHARE] = { "map(same memory into B)", ACCEPT(0) },
	[T4_UNMAP_B] = { "unmap(B)", ACCEPT(0) },
	[T4_DMA] = { "test_dma", ACCEPT(0) },
};

enum {
	T4_N_READ,
	T4_N_FAULT,
	T4_N_CHECKED,
	T4_N_NO_DOMAIN,
	T4_NR_NOTES
};

static const char *const t4_notes[T4_NR_NOTES] = {
	[T4_N_READ] = "dma read",
	[T4_N_FAULT] = "dma faulted",
	[T4_N_CHECKED] = "B ranges checked",
	[T4_N_NO_DOMAIN] = "A without a domain",
};

struct t4 {
	int fd;
	uint32_t a, b;
	uint32_t dev[3];	/* two on A (instances 0, 1), one on B */
	int attached[2];	/* dev[0], dev[1] attached to A */
	unsigned char *buf;
	bool mapped[T4_PAGES];	/* A's mappings: the cutter's alone */
};

/* Does @len bytes at @off of the buffer read back as @data? */
static bool t4_data_ok(struct stress *st, struct t4 *t, const char *who,
		       uint64_t off, const void *data, uint64_t len)
{
	if (!memcmp(t->buf + off, data, len))
		return true;
	stress_fail(st, "%s: DMA at offset %#llx read other memory", who,
		    (unsigned long long)off);
	return false;
}

static void t4_cut_step(struct stress_worker *w, struct t4 *t)
{
	unsigned long a = rnd_below(w, T4_PAGES), n, b, p, mapped = 0;
	struct stress *st = w->st;
	uint64_t unmapped = 0;
	char buf[16];
	int rc;

	if (!t->mapped[a] && one_in(w, 2)) {
		/* MAP the hole around @a again, in one piece */
		for (b = a; b < T4_PAGES && !t->mapped[b]; b++)
			;
		while (a && !t->mapped[a - 1])
			a--;
		rc = ioasid_map_fixed(t->fd, t->a, t->buf + a * PAGE_SZ,
				      (b - a) * PAGE_SZ, a * PAGE_SZ);
		if (stress_call(st, T4_MAP, rc))
			for (p = a; p < b; p++)
				STORE(t->mapped[p], true);
		return;
	}
	/* Mostly a few pages, now and then a chunk or more */
	n = one_in(w, 8) ? 1 + rnd_below(w, 700) : 1 + rnd_below(w, 16);
	b = a + n > T4_PAGES ? T4_PAGES : a + n;
	for (p = a; p < b; p++)
		mapped += t->mapped[p];
	rc = ioasid_unmap(t->fd, t->a, a * PAGE_SZ, (b - a) * PAGE_SZ,
			  &unmapped);
	if (!stress_call(st, T4_UNMAP, rc))
		return;
	if (rc != (mapped ? 0 : ENOENT) ||
	    (!rc && unmapped != mapped * PAGE_SZ)) {
		stress_fail(st, "UNMAP of pages [%lu, %lu), %lu mapped: %s, %llu bytes",
			    a, b, mapped, errno_str(rc, buf),
			    (unsigned long long)unmapped);
		return;
	}
	for (p = a; p < b; p++)
		STORE(t->mapped[p], false);
}

static void t4_cycle_step(struct stress_worker *w, struct t4 *t)
{
	unsigned int d = rnd_below(w, 2);
	struct timespec nap = { .tv_nsec = 2 * 1000 * 1000 };

	if (t->attached[d]) {
		if (stress_call(w->st, T4_DETACH, mock_detach(t->fd, t->dev[d])))
			t->attached[d] = false;
		if (!t->attached[0] && !t->attached[1])
			stress_note(w->st, T4_N_NO_DOMAIN);
	} else if (stress_call(w->st, T4_ATTACH,
			       mock_attach(t->fd, t->dev[d], t->a))) {
		t->attached[d] = true;
	}
	/* Let the others run into each state */
	nanosleep(&nap, NULL);
}

/* B's device reads [iova, iova + len), which maps buffer offset @off */
static void t4_check_b(struct stress_worker *w, struct t4 *t, uint64_t iova,
		       uint64_t off, uint64_t len, const char *who)
{
	const uint64_t at[] = { 0, len / 2, len - T4_CHECK };
	unsigned char data[T4_CHECK];
	struct dma_result res;
	unsigned int i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(at); i++) {
		rc = mock_dma(t->fd, t->dev[2], iova + at[i], data,
			      sizeof(data), false, &res);
		if (!stress_call(w->st, T4_DMA, rc))
			return;
		if (res.fault != IOASID_TEST_FAULT_NONE) {
			stress_fail(w->st, "%s: B faults at %#llx (reason %u)",
				    who, (unsigned long long)(iova + at[i]),
				    res.fault);
			return;
		}
		if (!t4_data_ok(w->st, t, who, off + at[i], data,
				sizeof(data)))
			return;
	}
	stress_note(w->st, T4_N_CHECKED);
}

/* COPY a range of A into B, or MAP the same memory into B; check; UNMAP */
static void t4_b_step(struct stress_worker *w, struct t4 *t, bool share)
{
	unsigned long n = share ? 64 + rnd_below(w, 960) : 1 + rnd_below(w, 64);
	unsigned long a = rnd_below(w, T4_PAGES - n + 1);
	uint64_t iova = (share ? T4_SHARE_IOVA : T4_COPY_IOVA) + a * PAGE_SZ;
	uint64_t len = n * PAGE_SZ, dst = iova, unmapped = 0;
	int rc;

	if (share)
		rc = ioasid_map_fixed(t->fd, t->b, t->buf + a * PAGE_SZ, len,
				      iova);
	else
		rc = ioasid_copy(t->fd, t->b, t->a, a * PAGE_SZ, len, &dst,
				 MAP_FIXED_RW);
	if (!stress_call(w->st, share ? T4_SHARE : T4_COPY, rc) || rc)
		return;
	t4_check_b(w, t, iova, a * PAGE_SZ, len, share ? "share" : "copy");
	rc = ioasid_unmap(t->fd, t->b, iova, len, &unmapped);
	if (stress_call(w->st, T4_UNMAP_B, rc) && unmapped != len)
		stress_fail(w->st, "UNMAP of %llu bytes of B says %llu",
			    (unsigned long long)len,
			    (unsigned long long)unmapped);
}

static void t4_read_step(struct stress_worker *w, struct t4 *t)
{
	uint64_t off = rnd_below(w, T4_PAGES) * PAGE_SZ +
		       rnd_below(w, PAGE_SZ / T4_CHECK) * T4_CHECK;
	unsigned char data[T4_CHECK];
	struct dma_result res;
	int rc;

	rc = mock_dma(t->fd, t->dev[rnd_below(w, 2)], off, data, sizeof(data),
		      false, &res);
	if (!stress_call(w->st, T4_DMA, rc))
		return;
	if (res.fault != IOASID_TEST_FAULT_NONE) {
		stress_note(w->st, T4_N_FAULT);
		return;
	}
	stress_note(w->st, T4_N_READ);
	t4_data_ok(w->st, t, "read", off, data, sizeof(data));
}

static void *t4_thread(void *arg)
{
	struct stress_worker *w = arg;
	struct t4 *t = w->test;

	while (!stress_stopped(w->st)) {
		switch (w->idx) {
		case 0:
			t4_cut_step(w, t);
			break;
		case 1:
			t4_cycle_step(w, t);
			break;
		case 2:
			t4_b_step(w, t, false);
			break;
		case 3:
			t4_b_step(w, t, true);
			break;
		default:
			t4_read_step(w, t);
			break;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(stress, stored_pages_vs_domains, stress_timeout())
{
	struct stress_worker w[5];
	struct stress *st = self->st;
	unsigned char data[T4_CHECK];
	struct dma_result res;
	uint64_t unmapped;
	struct t4 t = {};
	unsigned long p;
	double elapsed;
	long base, mapped = 0;
	unsigned int i;

	st->ops = t4_ops;
	st->nr_ops = T4_NR_OPS;
	st->note_names = t4_notes;
	st->nr_notes = T4_NR_NOTES;

	t.buf = alloc_buf(T4_SIZE);
	ASSERT_NE(NULL, t.buf);
	fault_scattered(t.buf, T4_SIZE);
	fill_pattern(t.buf, T4_SIZE, (unsigned int)st->seed);

	base = locked_pages();
	ASSERT_LE(0, base);
	t.fd = ioasid_open();
	ASSERT_LE(0, t.fd);
	/* IOMMU pages of 4 KiB in A: UNMAP can cut anywhere (no -EXDEV) */
	ASSERT_EQ(0, ioasid_create_max_pgsize(t.fd, PAGE_SZ, &t.a));
	ASSERT_EQ(0, ioasid_create(t.fd, &t.b));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mock_create(t.fd, i == 1, &t.dev[i]));
		ASSERT_EQ(0, mock_bind(t.fd, t.dev[i], NULL));
		ASSERT_EQ(0, mock_attach(t.fd, t.dev[i], i < 2 ? t.a : t.b));
	}
	t.attached[0] = true;
	t.attached[1] = true;
	/* One MAP: whole chunks, kept in the first domain */
	ASSERT_EQ(0, ioasid_map_fixed(t.fd, t.a, t.buf, T4_SIZE, 0));
	for (p = 0; p < T4_PAGES; p++)
		t.mapped[p] = true;

	memset(w, 0, sizeof(w));
	for (i = 0; i < ARRAY_SIZE(w); i++)
		w[i].fn = t4_thread;
	elapsed = stress_run(st, w, ARRAY_SIZE(w), &t);
	stress_report(st, elapsed);
	ASSERT_EQ(0, st->failures)
		TH_LOG("%s", st->first_failure);

	/* Both devices of A see exactly what the cutter left mapped */
	for (i = 0; i < 2; i++)
		if (!t.attached[i])
			ASSERT_EQ(0, mock_attach(t.fd, t.dev[i], t.a));
	for (p = 0; p < T4_PAGES; p++) {
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, mock_dma(t.fd, t.dev[i], p * PAGE_SZ, data,
					      sizeof(data), false, &res));
			ASSERT_EQ(t.mapped[p] ? IOASID_TEST_FAULT_NONE :
				  IOASID_TEST_FAULT_NOT_PRESENT, res.fault)
				TH_LOG("page %lu through device %u", p, i);
			if (t.mapped[p])
				ASSERT_EQ(0, memcmp(data, t.buf + p * PAGE_SZ,
						    sizeof(data)))
					TH_LOG("page %lu through device %u",
					       p, i);
		}
		mapped += t.mapped[p];
	}
	ASSERT_EQ(base + mapped, locked_pages());
	ASSERT_EQ(0, ioasid_unmap_all(t.fd, t.a, &unmapped));
	ASSERT_EQ(mapped * PAGE_SZ, unmapped);
	ASSERT_EQ(base, locked_pages());
	close(t.fd);
	munmap(t.buf, T4_SIZE);
}

TEST_HARNESS_MAIN
