// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid fuzzer: seeded random ioctls on contexts, on mock devices, on
 * the vfio cdev fds of mock vfio devices (emulated ones too), on the
 * accesses of a mock driver, and on contexts as vfio containers (type1
 * ioctls, and the groups of mock vfio devices set to them and unset while
 * other threads map, unmap and close), from one thread and from several,
 * for a bounded time.
 *
 * Calls are built from a small model of what lives (IOASIDs of every kind,
 * devices, mock devices, mappings), so that most of them name real objects
 * and many succeed; a share of them is then mutated: the struct's size (0,
 * short, exact, longer with a zero or non-zero tail, beyond a page), flags,
 * ids, IOVAs and lengths, and the user pointers of the struct and of what it
 * points to (NULL, unmapped, read-only, straddling a hole, kernel,
 * non-canonical). Contexts, vfio fds and access fds are closed and reopened
 * under the other threads, the memory behind mappings is dropped and
 * replaced, and the guest tables of nested IOASIDs are scribbled on while
 * mock devices DMA through them.
 *
 * Accesses attach, pin, unpin and copy while UNMAPs take the memory away,
 * with an unmap callback that unpins at once or 50 ms later; never one
 * that keeps its pins (IOASID_TEST_ACCESS_HOLD), which makes UNMAP wait a
 * second and the kernel warn, as it should for a broken driver.
 *
 * The only user memory the kernel is given to pin, read or write lies in
 * pools and buffers fenced by PROT_NONE guards, so a wrong length ends in
 * -EFAULT at a guard, never in the fuzzer's own state. MAP lengths are
 * either small enough to pin or so large that the kernel refuses them
 * before allocating; never in between, where a legitimate allocation of
 * 8 bytes per page would exhaust the VM.
 *
 * Pass or fail is decided by the kernel log (WARN, BUG, KASAN, lockdep,
 * kmemleak), which the rig scans. Here, every ioctl must return 0 or -1,
 * and errnos outside the expected set are logged, not failed. At the end,
 * some calls must have succeeded, every fd must close, the memory charged
 * for pinning must be back where it was, and the kernel must still map
 * and DMA.
 *
 * Environment:
 *   IOASID_FUZZ_SECONDS  run time of the variants together (default 15)
 *   IOASID_FUZZ_SEED     seed (default: from the clock), always printed;
 *                        IOASID_FUZZ_SEED=<seed> ioasid_fuzz -v serial
 *                        replays the call sequence of the serial variant
 *   IOASID_FUZZ_THREADS  threads of the "threads" variant (default 3)
 *   IOASID_FUZZ_VERBOSE  1: log every call to stderr (slow on a console)
 */
#include "../kselftest_harness.h"

#include <dirent.h>
#include <pthread.h>
#include <time.h>

#include "ioasid_vfio_utils.h"

#define FZ_CTXS		4	/* contexts open at a time */
#define FZ_IDS		16	/* ids of a kind a context remembers */
#define FZ_MAPS		32	/* mappings a context remembers */
#define FZ_VFIOS	8	/* vfio cdev fds open at a time */
#define FZ_MOCKS	12	/* live mock devices, all contexts together */
#define FZ_ACCESSES	4	/* access fds a context keeps */
#define FZ_ACCESS_PINS	4	/* pins an access remembers */
#define FZ_CTX_MAPS	256	/* MAPs before a context is recycled */
#define FZ_MUTATE	25	/* percent of calls whose input is mutated */
#define FZ_NERRNO	134	/* errnos counted one by one */

/* One fenced reservation holds the memory the kernel may pin */
#define FZ_RESV_LEN	(32 * SZ_2M)
#define FZ_ANON_OFF	0UL
#define FZ_ANON_LEN	(4 * SZ_2M)
#define FZ_SHM_OFF	(5 * SZ_2M)
#define FZ_SHM_LEN	(2 * SZ_2M)
#define FZ_RO_OFF	(8 * SZ_2M)
#define FZ_RO_LEN	(64 * PAGE_SZ)
#define FZ_HOLE_OFF	(12 * SZ_2M)	/* never mapped */
#define FZ_SEALED_LEN	(16 * PAGE_SZ)

/* Per thread, each followed by a guard page */
#define FZ_ARG_LEN	(2 * PAGE_SZ)	/* the ioctl's struct */
#define FZ_DATA_LEN	(2 * PAGE_SZ)	/* what it points to, in */
#define FZ_SCRATCH_LEN	((size_t)IOASID_TEST_DMA_MAX)	/* and out */
#define FZ_REGION_LEN	(FZ_ARG_LEN + FZ_DATA_LEN + FZ_SCRATCH_LEN + \
			 6 * PAGE_SZ)

/* Slot i of a struct: bytes [8 i, 8 i + 8), for fz_call()'s @protect */
#define FZ_SLOT(i)	(1U << (i))

static const uint64_t fz_bad_ptrs[] = {
	0x10ULL,		/* near NULL */
	0xffffffff81000000ULL,	/* kernel text */
	0xffff888000000000ULL,	/* kernel direct map */
	0x8000000000000000ULL,	/* non-canonical */
	0x0000800000000000ULL,	/* past 4-level user space */
	0x00007ffffffff000ULL,	/* last user page */
	0xfffffffffffff000ULL,
};

/* Lengths far beyond anything the kernel may allocate a page array for */
static const uint64_t fz_huge_lens[] = {
	1ULL << 41, 1ULL << 44, 1ULL << 48, 1ULL << 63,
	~0ULL, ~0ULL & ~(PAGE_SZ - 1),
};

/* What the model remembers ids of */
enum fz_kind {
	K_IOAS,		/* normal IOASID */
	K_PARENT,	/* normal IOASID made with IOASID_CREATE_NEST_PARENT */
	K_NESTED,	/* aux: format, parent: parent IOASID */
	K_DELEGATED,	/* aux: format, parent: parent IOASID */
	K_DEV,		/* device id; aux: mock id, 0 if bound by vfio */
	K_MOCK,		/* mock; aux: vfio index or ~0, parent: its flags */
	K_DEAD,		/* ids of objects destroyed */
	K_NR,
};

#define KM(k)		(1U << (k))
#define KM_NORMAL	(KM(K_IOAS) | KM(K_PARENT))
#define KM_NESTED	(KM(K_NESTED) | KM(K_DELEGATED))
#define KM_IOASID	(KM_NORMAL | KM_NESTED)
#define KM_ALL		(KM(K_NR) - 1)

/* What the statistics count, one class per ioctl or syscall */
enum fz_class {
	C_DESTROY, C_GET_INFO, C_CREATE, C_MAP, C_UNMAP, C_COPY,
	C_IOVA_RANGES, C_OPTION, C_CREATE_NESTED, C_SET_TABLES,
	C_CREATE_DELEGATED, C_INVALIDATE, C_HW_INFO,
	C_MOCK_CREATE, C_MOCK_DESTROY, C_MOCK_BIND, C_MOCK_UNBIND,
	C_MOCK_ATTACH, C_MOCK_DETACH, C_DMA, C_MOCK_ATTACH_PASID,
	C_MOCK_DETACH_PASID, C_FAIL, C_TEST_OP,
	C_ACCESS_CREATE, C_ACCESS_ATTACH, C_ACCESS_DETACH, C_ACCESS_PIN,
	C_ACCESS_UNPIN, C_ACCESS_RW, C_ACCESS_MODE, C_ACCESS_INFO,
	C_ACCESS_CLOSE,
	C_V_BIND, C_V_ATTACH, C_V_DETACH, C_V_ATTACH_PASID, C_V_DETACH_PASID,
	C_V_IOMMUFD, C_V_READ, C_V_OPEN, C_V_CLOSE,
	C_CTX_REOPEN, C_RANDOM_NR, C_WRONG_FD, C_MEMORY,
	C_CONTAINER, C_GROUP,
	C_NR,
};

static const char * const fz_class_name[C_NR] = {
	[C_DESTROY] = "DESTROY",
	[C_GET_INFO] = "GET_INFO",
	[C_CREATE] = "CREATE",
	[C_MAP] = "MAP",
	[C_UNMAP] = "UNMAP",
	[C_COPY] = "COPY",
	[C_IOVA_RANGES] = "IOVA_RANGES",
	[C_OPTION] = "OPTION",
	[C_CREATE_NESTED] = "CREATE_NESTED",
	[C_SET_TABLES] = "SET_NESTED_PAGE_TABLES",
	[C_CREATE_DELEGATED] = "CREATE_DELEGATED",
	[C_INVALIDATE] = "INVALIDATE",
	[C_HW_INFO] = "GET_HW_INFO",
	[C_MOCK_CREATE] = "TEST_MOCK_CREATE",
	[C_MOCK_DESTROY] = "TEST_MOCK_DESTROY",
	[C_MOCK_BIND] = "TEST_MOCK_BIND",
	[C_MOCK_UNBIND] = "TEST_MOCK_UNBIND",
	[C_MOCK_ATTACH] = "TEST_MOCK_ATTACH",
	[C_MOCK_DETACH] = "TEST_MOCK_DETACH",
	[C_DMA] = "TEST_DMA",
	[C_MOCK_ATTACH_PASID] = "TEST_MOCK_ATTACH_PASID",
	[C_MOCK_DETACH_PASID] = "TEST_MOCK_DETACH_PASID",
	[C_FAIL] = "TEST_FAIL_MAP/INVALIDATE",
	[C_TEST_OP] = "TEST other ops",
	[C_ACCESS_CREATE] = "TEST_ACCESS_CREATE",
	[C_ACCESS_ATTACH] = "TEST_ACCESS_ATTACH",
	[C_ACCESS_DETACH] = "TEST_ACCESS_DETACH",
	[C_ACCESS_PIN] = "TEST_ACCESS_PIN",
	[C_ACCESS_UNPIN] = "TEST_ACCESS_UNPIN",
	[C_ACCESS_RW] = "TEST_ACCESS_RW",
	[C_ACCESS_MODE] = "TEST_ACCESS_MODE",
	[C_ACCESS_INFO] = "TEST_ACCESS_INFO",
	[C_ACCESS_CLOSE] = "access close",
	[C_V_BIND] = "VFIO_BIND_IOASID_FD",
	[C_V_ATTACH] = "VFIO_ATTACH_IOASID",
	[C_V_DETACH] = "VFIO_DETACH_IOASID",
	[C_V_ATTACH_PASID] = "VFIO_ATTACH_IOASID_PASID",
	[C_V_DETACH_PASID] = "VFIO_DETACH_IOASID_PASID",
	[C_V_IOMMUFD] = "VFIO iommufd ioctls",
	[C_V_READ] = "vfio pread",
	[C_V_OPEN] = "vfio open",
	[C_V_CLOSE] = "vfio close",
	[C_CTX_REOPEN] = "context close",
	[C_RANDOM_NR] = "unknown ioctl numbers",
	[C_WRONG_FD] = "fds of the wrong kind",
	[C_MEMORY] = "pool madvise/mmap/punch",
	[C_CONTAINER] = "vfio container ioctls",
	[C_GROUP] = "vfio group ioctls",
};

static const char * const fz_errno_name[FZ_NERRNO] = {
	[EPERM] = "EPERM",
	[ENOENT] = "ENOENT",
	[ESRCH] = "ESRCH",
	[EINTR] = "EINTR",
	[EIO] = "EIO",
	[ENXIO] = "ENXIO",
	[E2BIG] = "E2BIG",
	[EBADF] = "EBADF",
	[EAGAIN] = "EAGAIN",
	[ENOMEM] = "ENOMEM",
	[EACCES] = "EACCES",
	[EFAULT] = "EFAULT",
	[EBUSY] = "EBUSY",
	[EEXIST] = "EEXIST",
	[EXDEV] = "EXDEV",
	[ENODEV] = "ENODEV",
	[EINVAL] = "EINVAL",
	[ENFILE] = "ENFILE",
	[EMFILE] = "EMFILE",
	[ENOTTY] = "ENOTTY",
	[EFBIG] = "EFBIG",
	[ENOSPC] = "ENOSPC",
	[ESPIPE] = "ESPIPE",
	[EROFS] = "EROFS",
	[ERANGE] = "ERANGE",
	[EDEADLK] = "EDEADLK",
	[EOVERFLOW] = "EOVERFLOW",
	[EMSGSIZE] = "EMSGSIZE",
	[EOPNOTSUPP] = "EOPNOTSUPP",
	[EADDRINUSE] = "EADDRINUSE",
	[ETIMEDOUT] = "ETIMEDOUT",
	[EBADFD] = "EBADFD",
	[EHWPOISON] = "EHWPOISON",
};

/*
 * The errnos a hostile caller may get. EIO only as what
 * IOASID_TEST_FAIL_INVALIDATE injects into invalidations.
 */
static bool fz_errno_expected(enum fz_class cls, int err)
{
	switch (err) {
	case EPERM: case ENOENT: case EBADF: case ENOMEM: case EACCES:
	case EFAULT: case EBUSY: case EEXIST: case EXDEV: case ENODEV:
	case EINVAL: case ENOSPC: case ERANGE: case ENOTTY: case E2BIG:
	case EOPNOTSUPP: case EOVERFLOW: case EMSGSIZE: case EADDRINUSE:
		return true;
	case EIO:
		return cls == C_INVALIDATE;
	case EBADFD:
		/* vfio's and iommufd's answer to a file of the wrong kind */
		return cls == C_GROUP || cls == C_V_IOMMUFD;
	}
	return false;
}

struct fz_stats {
	uint64_t calls[C_NR];
	uint64_t ok[C_NR];
	uint64_t err[C_NR][FZ_NERRNO + 1];	/* the last: any other */
	uint64_t bad_ret[C_NR];		/* neither 0 nor -1 */
	uint64_t close_failed;
};

struct fz_idrec {
	uint32_t id;
	uint32_t aux;
	uint32_t parent;
};

struct fz_idset {
	unsigned int n;
	struct fz_idrec v[FZ_IDS];
};

struct fz_map {
	bool live;
	uint32_t ioasid;
	uint64_t iova;
	uint64_t length;
	uint8_t *host;		/* the memory in a pool, or NULL */
};

struct fz_pin {
	uint64_t iova;
	uint64_t length;
};

/* An access of the mock driver: a file that holds its context open */
struct fz_access {
	int fd;			/* -1: free slot */
	uint32_t ioasid;	/* what it was attached to last, 0 if none */
	unsigned int npins;
	struct fz_pin pins[FZ_ACCESS_PINS];	/* some of those it holds */
};

struct fz_ctx {
	int fd;			/* -1 while it is being reopened */
	unsigned int gen;	/* bumped by every reopen */
	unsigned int nmocks;	/* mock devices it created */
	unsigned int nmaps;	/* MAPs and COPYs that worked */
	struct fz_idset ids[K_NR];
	struct fz_map maps[FZ_MAPS];
	struct fz_access acc[FZ_ACCESSES];	/* closed with the context */
};

struct fz_vfio {
	int fd;			/* -1: free slot, -2: being opened */
	uint32_t index;		/* N of /dev/vfio/devices/vfioN */
	int ctx;		/* context slot it is bound to, or -1 */
	unsigned int gen;	/* generation of that context */
	uint32_t dev_id;
};

struct fz_world {
	uint64_t canary;
	/* Protects the model: ctx[], vfio[], live_mocks, dead_afd */
	pthread_mutex_t lock;
	struct fz_ctx ctx[FZ_CTXS];
	struct fz_vfio vfio[FZ_VFIOS];
	unsigned int live_mocks;
	int dead_afd;		/* the access fd closed last, or -1 */

	/* Fixed during a run */
	const char *variant;
	uint64_t seed;
	unsigned int seconds;
	unsigned int nthreads;
	bool verbose;
	bool stop;		/* set to end the run early, read atomically */
	double deadline;
	uint8_t *resv_map, *resv, *anon, *shm, *ro;
	int memfd, sealed_fd, ro_fd, null_fd, iommufd, pipe_fd[2];
	long base_locked, base_pinned;
	struct fz_thread *threads;
	uint64_t canary_end;
};

struct fz_rng {
	uint64_t s;
};

struct fz_thread {
	uint64_t canary;
	struct fz_world *w;
	struct fz_rng rng;
	unsigned int idx;
	pthread_t tid;
	bool started, joined, done;
	uint8_t *region;	/* holds the buffers below, between guards */
	uint8_t *arg;		/* FZ_ARG_LEN */
	uint8_t *ro;		/* one page, read-only but while filled */
	uint8_t *data;		/* FZ_DATA_LEN */
	uint8_t *scratch;	/* FZ_SCRATCH_LEN */
	bool out_ok;		/* the last call succeeded and answered */
	uint32_t usize;		/* the size the last call gave */
	bool adopt;		/* the call's new access goes to new_afd */
	int new_afd;		/* and there it is, or -1 */
	uint64_t ncalls;
	struct fz_stats st;
	uint64_t canary_end;
};

#define FZ_CANARY 0x10a5f022c0ffee00ULL

/* --- randomness ----------------------------------------------------------- */

/* splitmix64: small, fast, and every seed gives a good sequence */
static uint64_t fz_next(struct fz_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t fz_below(struct fz_rng *r, uint64_t n)
{
	return n ? (uint32_t)(fz_next(r) % n) : 0;
}

static bool fz_chance(struct fz_rng *r, unsigned int percent)
{
	return fz_below(r, 100) < percent;
}

static double fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- statistics ----------------------------------------------------------- */

static void fz_count(struct fz_thread *t, enum fz_class cls, long ret,
		     int err)
{
	struct fz_stats *st = &t->st;

	st->calls[cls]++;
	t->ncalls++;
	if (ret >= 0) {
		st->ok[cls]++;
		return;
	}
	if (ret != -1) {
		st->bad_ret[cls]++;
		return;
	}
	st->err[cls][err > 0 && err < FZ_NERRNO ? err : FZ_NERRNO]++;
}

/* --- the model, under w->lock --------------------------------------------- */

static void fz_lock(struct fz_world *w)
{
	pthread_mutex_lock(&w->lock);
}

static void fz_unlock(struct fz_world *w)
{
	pthread_mutex_unlock(&w->lock);
}

/* Which context a call goes to, as it was when the call was built */
struct fz_snap {
	struct fz_ctx *c;
	int slot;
	int fd;
	unsigned int gen;
};

static void fz_snap(struct fz_thread *t, struct fz_snap *sn, int slot)
{
	if (slot < 0)
		slot = fz_below(&t->rng, FZ_CTXS);
	sn->slot = slot;
	sn->c = &t->w->ctx[slot];
	sn->fd = sn->c->fd;
	sn->gen = sn->c->gen;
}

/* The context was not reopened since the snapshot */
static bool fz_same(const struct fz_snap *sn)
{
	return sn->c->gen == sn->gen && sn->c->fd == sn->fd;
}

static void fz_id_add(struct fz_thread *t, struct fz_ctx *c,
		      enum fz_kind kind, uint32_t id, uint32_t aux,
		      uint32_t parent)
{
	struct fz_idset *s = &c->ids[kind];
	struct fz_idrec *e;

	e = s->n < FZ_IDS ? &s->v[s->n++] : &s->v[fz_below(&t->rng, FZ_IDS)];
	e->id = id;
	e->aux = aux;
	e->parent = parent;
}

/* Forget @id in the sets @kinds; with @aux_only, the records whose aux is */
static void fz_id_del(struct fz_ctx *c, unsigned int kinds, uint32_t id,
		      bool aux_only)
{
	unsigned int k, i;

	for (k = 0; k < K_NR; k++) {
		struct fz_idset *s = &c->ids[k];

		if (!(kinds & KM(k)))
			continue;
		for (i = 0; i < s->n; ) {
			if ((aux_only ? s->v[i].aux : s->v[i].id) == id)
				s->v[i] = s->v[--s->n];
			else
				i++;
		}
	}
}

/* A record picked evenly among the sets @kinds, or NULL */
static struct fz_idrec *fz_rec(struct fz_thread *t, struct fz_ctx *c,
			       unsigned int kinds)
{
	unsigned int k, n = 0, pick;

	for (k = 0; k < K_NR; k++)
		if (kinds & KM(k))
			n += c->ids[k].n;
	if (!n)
		return NULL;
	pick = fz_below(&t->rng, n);
	for (k = 0; k < K_NR; k++) {
		if (!(kinds & KM(k)))
			continue;
		if (pick < c->ids[k].n)
			return &c->ids[k].v[pick];
		pick -= c->ids[k].n;
	}
	return NULL;
}

/* An id that no model knows, or an odd one */
static uint32_t fz_odd_id(struct fz_thread *t)
{
	static const uint32_t odd[] = {
		0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};
	struct fz_rng *r = &t->rng;

	if (fz_chance(r, 50))
		return 1 + fz_below(r, 48);
	if (fz_chance(r, 80))
		return odd[fz_below(r, ARRAY_SIZE(odd))];
	return (uint32_t)fz_next(r);
}

/*
 * An id for a call that wants one of @kinds: mostly one of those, else any
 * id of the context or of another one, or an odd one. The record goes to
 * @out, zeroed when the id comes from no record.
 */
static uint32_t fz_pick_id(struct fz_thread *t, struct fz_ctx *c,
			   unsigned int kinds, struct fz_idrec *out)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	struct fz_idrec *e = NULL;

	if (dice < 80)
		e = fz_rec(t, c, kinds);
	else if (dice < 88)
		e = fz_rec(t, c, KM_ALL);
	else if (dice < 92)
		e = fz_rec(t, &t->w->ctx[fz_below(r, FZ_CTXS)], KM_ALL);
	if (e) {
		if (out)
			*out = *e;
		return e->id;
	}
	if (out)
		memset(out, 0, sizeof(*out));
	return fz_odd_id(t);
}

static uint64_t fz_pages(const struct fz_map *m)
{
	return m->length >= PAGE_SZ ? m->length / PAGE_SZ : 1;
}

static void fz_map_add(struct fz_thread *t, struct fz_ctx *c, uint32_t ioasid,
		       uint64_t iova, uint64_t length, uint8_t *host)
{
	struct fz_map *m = NULL;
	unsigned int i;

	for (i = 0; i < FZ_MAPS && !m; i++)
		if (!c->maps[i].live)
			m = &c->maps[i];
	if (!m)
		m = &c->maps[fz_below(&t->rng, FZ_MAPS)];
	m->live = true;
	m->ioasid = ioasid;
	m->iova = iova;
	m->length = length;
	m->host = host;
}

/* A mapping of @ioasid, or of any IOASID with @any; NULL if none */
static struct fz_map *fz_map_pick(struct fz_thread *t, struct fz_ctx *c,
				  uint32_t ioasid, bool any)
{
	struct fz_map *pick = NULL;
	unsigned int i, n = 0;

	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &c->maps[i];

		if (!m->live || (!any && m->ioasid != ioasid))
			continue;
		if (!fz_below(&t->rng, ++n))
			pick = m;
	}
	return pick;
}

/* Forget the mappings of @ioasid that touch [start, last] */
static void fz_map_drop(struct fz_ctx *c, uint32_t ioasid, uint64_t start,
			uint64_t last)
{
	unsigned int i;

	for (i = 0; i < FZ_MAPS; i++) {
		struct fz_map *m = &c->maps[i];

		if (m->live && m->ioasid == ioasid && m->iova <= last &&
		    m->iova + (m->length - 1) >= start)
			m->live = false;
	}
}

/* A live access of @c, or NULL */
static struct fz_access *fz_access_pick(struct fz_thread *t, struct fz_ctx *c)
{
	unsigned int i, start = fz_below(&t->rng, FZ_ACCESSES);

	for (i = 0; i < FZ_ACCESSES; i++) {
		struct fz_access *a = &c->acc[(start + i) % FZ_ACCESSES];

		if (a->fd >= 0)
			return a;
	}
	return NULL;
}

/* The access of @c whose fd is @fd, or NULL */
static struct fz_access *fz_access_find(struct fz_ctx *c, uint32_t fd)
{
	unsigned int i;

	for (i = 0; i < FZ_ACCESSES; i++)
		if (c->acc[i].fd >= 0 && (uint32_t)c->acc[i].fd == fd)
			return &c->acc[i];
	return NULL;
}

/* A free slot for an access in @c, or NULL */
static struct fz_access *fz_access_free(struct fz_ctx *c)
{
	unsigned int i;

	for (i = 0; i < FZ_ACCESSES; i++)
		if (c->acc[i].fd < 0)
			return &c->acc[i];
	return NULL;
}

static void fz_pin_add(struct fz_thread *t, struct fz_access *a,
		       uint64_t iova, uint64_t length)
{
	struct fz_pin *p;

	p = a->npins < FZ_ACCESS_PINS ? &a->pins[a->npins++] :
	    &a->pins[fz_below(&t->rng, FZ_ACCESS_PINS)];
	p->iova = iova;
	p->length = length;
}

static void fz_pin_del(struct fz_access *a, uint64_t iova, uint64_t length)
{
	unsigned int i;

	for (i = 0; i < a->npins; i++) {
		if (a->pins[i].iova == iova && a->pins[i].length == length) {
			a->pins[i] = a->pins[--a->npins];
			return;
		}
	}
}

/* --- values --------------------------------------------------------------- */

/* Flags: mostly known bits, sometimes unknown ones or all of them */
static uint32_t fz_flags(struct fz_thread *t, uint32_t known)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);

	if (dice < 84)
		return (uint32_t)fz_next(r) & known;
	if (dice < 90)
		return known;
	if (dice < 95)
		return known | (1U << fz_below(r, 32));
	if (dice < 98)
		return ~0U;
	return (uint32_t)fz_next(r);
}

/* Flags that are mostly 0, as the ioctls that take none want */
static uint32_t fz_zero_flags(struct fz_thread *t)
{
	return fz_chance(&t->rng, 95) ? 0 : fz_flags(t, 0);
}

/* A reserved field: mostly 0 */
static uint32_t fz_rsv(struct fz_thread *t)
{
	return fz_chance(&t->rng, 97) ? 0 : 1U << fz_below(&t->rng, 32);
}

static uint64_t fz_huge_len(struct fz_thread *t)
{
	return fz_huge_lens[fz_below(&t->rng, ARRAY_SIZE(fz_huge_lens))];
}

/* An IOVA near what matters: mappings, 0, reserved regions, limits */
static uint64_t fz_pick_iova(struct fz_thread *t, struct fz_ctx *c)
{
	struct fz_rng *r = &t->rng;
	struct fz_map *m;

	switch (fz_below(r, 18)) {
	case 0: case 1: case 2: case 3:
		m = fz_map_pick(t, c, 0, true);
		if (m)
			return m->iova + PAGE_SZ * fz_below(r, fz_pages(m));
		return PAGE_SZ * fz_below(r, 64);
	case 4:
		return 0;
	case 5:
		return PAGE_SZ * fz_below(r, 64);
	case 6:
		return SZ_2M * fz_below(r, 16);
	case 7:
		return IOASID_TEST_RESV_START_0 - 4 * PAGE_SZ +
		       PAGE_SZ * fz_below(r, 8);
	case 8:
		return IOASID_TEST_RESV_START_1 + IOASID_TEST_RESV_SIZE -
		       4 * PAGE_SZ + PAGE_SZ * fz_below(r, 8);
	case 9:
#ifdef IOASID_TEST_SW_MSI_START
		if (fz_chance(r, 50))
			return IOASID_TEST_SW_MSI_START - SZ_2M +
			       SZ_2M * fz_below(r, 3);
#endif
#ifdef IOASID_TEST_RELAXABLE_START
		return IOASID_TEST_RELAXABLE_START - SZ_2M +
		       SZ_2M * fz_below(r, 3);
#else
		return SZ_2M * fz_below(r, 512);
#endif
	case 10:
		/* The mock IOMMU's aperture ends at 48 bits */
		return (1ULL << 48) - PAGE_SZ * fz_below(r, 4);
	case 11:
		return (1ULL << IOASID_MOCK_S1_IOVA_BITS) -
		       PAGE_SZ * fz_below(r, 4);
	case 12:
		return (~0ULL & ~(PAGE_SZ - 1)) - PAGE_SZ * fz_below(r, 4);
	case 13:
		return 1ULL << (32 + fz_below(r, 32));
	case 14:
		return fz_next(r) & ((1ULL << 48) - 1) & ~(PAGE_SZ - 1);
	case 15:
		return PAGE_SZ * fz_below(r, 64) + 1 + fz_below(r, PAGE_SZ - 1);
	case 16:
		return 1ULL << 30;
	default:
		return fz_next(r);
	}
}

/* A length for UNMAP, COPY and ranges: nothing is allocated by it */
static uint64_t fz_pick_len(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;

	switch (fz_below(r, 12)) {
	case 0: case 1: case 2: case 3: case 4:
		return PAGE_SZ * (1 + fz_below(r, 16));
	case 5:
		return SZ_2M;
	case 6:
		return SZ_2M * (1 + fz_below(r, 8));
	case 7:
		return 0;
	case 8:
		return 1 + fz_below(r, 2 * PAGE_SZ);
	case 9:
		return fz_huge_len(t);
	case 10:
		return 1ULL << 30;
	default:
		return fz_next(r);
	}
}

/*
 * A MAP length for memory with @avail bytes before its guard: small enough
 * to pin, running into the guard, or refused before any allocation.
 */
static uint64_t fz_map_len(struct fz_thread *t, uint64_t avail)
{
	struct fz_rng *r = &t->rng;
	uint64_t pages = avail / PAGE_SZ;
	unsigned int dice = fz_below(r, 100);

	if (!pages)
		pages = 16;
	if (dice < 50)
		return PAGE_SZ * (1 + fz_below(r, pages < 16 ? pages : 16));
	if (dice < 60)
		return avail >= SZ_2M ? SZ_2M * (1 + fz_below(r, avail / SZ_2M))
				      : PAGE_SZ;
	if (dice < 67)
		return PAGE_SZ * (1 + fz_below(r, pages));
	if (dice < 71)
		return PAGE_SZ * (pages + 1 + fz_below(r, 16));
	if (dice < 75)
		return 0;
	if (dice < 82)
		return 1 + fz_below(r, 2 * PAGE_SZ);
	return fz_huge_len(t);
}

static uint32_t fz_pick_pasid(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;

	switch (fz_below(r, 10)) {
	case 0: case 1:
		return 0;
	case 2: case 3: case 4: case 5: case 6:
		return 1 + fz_below(r, 7);
	case 7:
		return fz_below(r, 1U << IOASID_TEST_PASID_BITS);
	case 8:
		return (1U << IOASID_TEST_PASID_BITS) - 1 + fz_below(r, 3);
	default:
		return (uint32_t)fz_next(r);
	}
}

static uint32_t fz_pick_format(struct fz_thread *t, uint32_t likely)
{
	static const uint32_t formats[] = {
		IOASID_FORMAT_VTD_S1, IOASID_FORMAT_MOCK_S1,
		IOASID_FORMAT_MOCK_PASID_TABLE, 0, 2, 61, 64, 0xffffffff,
	};
	struct fz_rng *r = &t->rng;

	if (fz_chance(r, 75))
		return likely;
	if (fz_chance(r, 90))
		return formats[fz_below(r, ARRAY_SIZE(formats))];
	return (uint32_t)fz_next(r);
}

/* A GPA for a guest table: mostly a page the parent maps */
static uint64_t fz_pick_gpa(struct fz_thread *t, struct fz_ctx *c,
			    uint32_t parent)
{
	struct fz_rng *r = &t->rng;
	struct fz_map *m = NULL;
	uint64_t gpa;

	if (fz_chance(r, 80))
		m = fz_map_pick(t, c, parent, false);
	gpa = m ? m->iova + PAGE_SZ * fz_below(r, fz_pages(m)) :
		  fz_pick_iova(t, c);
	if (fz_chance(r, 4))
		gpa += 8 * (1 + fz_below(r, 511));
	return gpa;
}

static uint32_t fz_pasid_bits(struct fz_thread *t)
{
	static const uint32_t odd[] = { 0, IOASID_TEST_PASID_BITS + 1, 20,
					32, 64, 0xffffffff };
	struct fz_rng *r = &t->rng;

	if (fz_chance(r, 85))
		return 1 + fz_below(r, IOASID_TEST_PASID_BITS);
	return odd[fz_below(r, ARRAY_SIZE(odd))];
}

/* --- pointers ------------------------------------------------------------- */

/* Fill the read-only page with @len bytes of @src */
static void fz_ro_fill(struct fz_thread *t, const void *src, size_t len)
{
	mprotect(t->ro, PAGE_SZ, PROT_READ | PROT_WRITE);
	memset(t->ro, 0, PAGE_SZ);
	memcpy(t->ro, src, len < PAGE_SZ ? len : PAGE_SZ);
	mprotect(t->ro, PAGE_SZ, PROT_READ);
}

static uint64_t fz_bad_ptr(struct fz_thread *t)
{
	return fz_bad_ptrs[fz_below(&t->rng, ARRAY_SIZE(fz_bad_ptrs))];
}

/*
 * Where the kernel writes up to @len bytes: mostly the scratch buffer,
 * sometimes so close to its end that the write runs into the guard, or a
 * place it cannot write at all.
 */
static uint64_t fz_out_ptr(struct fz_thread *t, uint64_t len)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	uint64_t off = 0;

	if (dice < 80) {
		if (len < FZ_SCRATCH_LEN && fz_chance(r, 50))
			off = fz_below(r, FZ_SCRATCH_LEN - len + 1) & ~7ULL;
		return (uintptr_t)t->scratch + off;
	}
	if (dice < 85)
		return (uintptr_t)t->scratch + FZ_SCRATCH_LEN - 1 -
		       fz_below(r, 64);
	if (dice < 89)
		return 0;
	if (dice < 92)
		return (uintptr_t)t->ro;
	if (dice < 95)
		return (uintptr_t)t->scratch + FZ_SCRATCH_LEN;
	return fz_bad_ptr(t);
}

/*
 * Where the kernel reads the @len bytes written at t->data: mostly there,
 * else from a copy that straddles the guard or sits in the read-only page,
 * or a place it cannot read.
 */
static uint64_t fz_in_ptr(struct fz_thread *t, uint64_t len)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	uint32_t k;

	if (len > FZ_DATA_LEN)
		len = FZ_DATA_LEN;
	if (dice < 82)
		return (uintptr_t)t->data;
	if (dice < 86)
		return 0;
	if (dice < 89)
		return (uintptr_t)t->data + FZ_DATA_LEN;
	if (dice < 93) {
		k = 1 + fz_below(r, len && len < 32 ? len : 32);
		memmove(t->data + FZ_DATA_LEN - k, t->data, k);
		return (uintptr_t)t->data + FZ_DATA_LEN - k;
	}
	if (dice < 96) {
		fz_ro_fill(t, t->data, len);
		return (uintptr_t)t->ro;
	}
	return fz_bad_ptr(t);
}

/* --- one ioctl ------------------------------------------------------------ */

/* A struct size: exact, short, long with a zero or a non-zero tail, huge */
static uint32_t fz_pick_size(struct fz_thread *t, uint32_t ssize,
			     uint32_t min, bool *nonzero_tail)
{
	struct fz_rng *r = &t->rng;

	*nonzero_tail = false;
	switch (fz_below(r, 12)) {
	case 0:
		return 0;
	case 1:
		return 4;
	case 2:
		return min - 1;
	case 3:
		return min + fz_below(r, ssize - min + 1);
	case 4:
		return ssize - 1;
	case 5: case 6:
		return ssize + 8 * (1 + fz_below(r, 8));
	case 7:
		return PAGE_SZ;
	case 8:
		*nonzero_tail = true;
		return ssize + 1 + fz_below(r, 64);
	case 9:
		*nonzero_tail = true;
		return PAGE_SZ;
	case 10: {
		static const uint32_t big[] = { PAGE_SZ + 1, 2 * PAGE_SZ,
						0x10000, 0xffffffff };

		return big[fz_below(r, ARRAY_SIZE(big))];
	}
	default:
		return (uint32_t)fz_next(r);
	}
}

/* Change one field of @s, away from the 8-byte slots in @protect */
static void fz_flip(struct fz_thread *t, uint8_t *s, uint32_t ssize,
		    uint32_t protect)
{
	static const uint32_t odd[] = { 0, 1, 0x80000000, 0xffffffff };
	struct fz_rng *r = &t->rng;
	uint32_t i, tries, v;

	for (tries = 0; tries < 8; tries++) {
		i = 4 + fz_below(r, ssize - 4);
		if (!(protect & FZ_SLOT(i / 8)))
			break;
	}
	if (tries == 8)
		return;
	switch (fz_below(r, 4)) {
	case 0:
		s[i] ^= 1U << fz_below(r, 8);
		break;
	case 1:
		s[i] = (uint8_t)fz_next(r);
		break;
	default:
		i &= ~3U;
		if (i < 4)
			i = 4;
		v = odd[fz_below(r, ARRAY_SIZE(odd))];
		memcpy(s + i, &v, sizeof(v));
		break;
	}
}

enum fz_place {
	PL_OK, PL_MISALIGNED, PL_NULL, PL_GUARD, PL_RO, PL_STRADDLE, PL_BAD,
	PL_NR,
};

/*
 * The size below which the kernel refuses a struct: where the field after
 * the last mandatory one starts, as the kernel's tables have it.
 */
static uint32_t fz_min_size(unsigned long nr, uint32_t ssize)
{
	switch (nr) {
	case IOASID_GET_INFO:
		return offsetof(struct ioasid_info, out_account);
	case IOASID_CREATE:
		return offsetof(struct ioasid_create, __reserved);
	case IOASID_MAP:
		return offsetof(struct ioasid_map, iova_alignment);
	case IOASID_COPY:
		return offsetof(struct ioasid_copy, iova_alignment);
	case IOASID_TEST:
		return offsetof(struct ioasid_test_cmd, mock_create);
	case VFIO_IOMMU_GET_INFO:
		return offsetof(struct vfio_iommu_type1_info, cap_offset);
	}
	/* The others end with their last mandatory field */
	return ssize;
}

/* Close the fd of an access: the mock unpins what it pinned */
static void fz_access_close_fd(struct fz_thread *t, int fd)
{
	long ret;

	errno = 0;
	ret = close(fd);
	fz_count(t, C_ACCESS_CLOSE, ret, errno);
	if (ret)
		t->st.close_failed++;
}

/*
 * Keep mutated test calls off two states that fail the run by design: a
 * mock IOMMU that fails to unmap, and a mock driver that keeps its pins
 * through an UNMAP. The kernel warns for both, as it should. Return: the
 * op the call asks for.
 */
static uint32_t fz_test_tame(uint8_t *s, uint32_t ssize)
{
	const size_t op_off = offsetof(struct ioasid_test_cmd, op);
	const size_t mode_off = offsetof(struct ioasid_test_cmd, access.mode);
	uint32_t op, mode;

	if (ssize < mode_off + sizeof(mode))
		return 0;
	memcpy(&op, s + op_off, sizeof(op));
	memcpy(&mode, s + mode_off, sizeof(mode));
	if (op == IOASID_TEST_FAIL_UNMAP)
		op = IOASID_TEST_IOTLB_SYNCS;
	if (op == IOASID_TEST_ACCESS_MODE && mode == IOASID_TEST_ACCESS_HOLD)
		mode = IOASID_TEST_ACCESS_UNPIN_LATER;
	memcpy(s + op_off, &op, sizeof(op));
	memcpy(s + mode_off, &mode, sizeof(mode));
	return op;
}

/*
 * A test call that created an access answered with its fd at @ptr, if
 * @usize let it: the fd goes to t->new_afd for op_access_create(), or is
 * closed at once when another op was mutated into this one. An answer too
 * short to name the fd leaves it to fz_sweep_accesses().
 */
static void fz_access_created(struct fz_thread *t, const uint8_t *ptr,
			      uint32_t usize)
{
	const size_t off = offsetof(struct ioasid_test_cmd, access.out_fd);
	uint32_t afd;

	if (usize < off + sizeof(afd))
		return;
	memcpy(&afd, ptr + off, sizeof(afd));
	if (t->adopt)
		t->new_afd = afd;
	else
		fz_access_close_fd(t, afd);
}

/*
 * Issue ioctl @nr with struct @s of @ssize bytes on @fd. Mutated calls get
 * a field changed (never in the slots @protect, which hold user pointers
 * and lengths the kernel pins by), another size or another place. On
 * success, @s is read back, and fz_got() tells whether the kernel could
 * answer all of it.
 *
 * Return: 0 or the errno.
 */
static int fz_call(struct fz_thread *t, enum fz_class cls, int fd,
		   unsigned long nr, void *s, uint32_t ssize, uint32_t protect)
{
	uint32_t min = fz_min_size(nr, ssize);
	struct fz_rng *r = &t->rng;
	enum fz_place place = PL_OK;
	bool nonzero_tail = false;
	uint8_t *buf = t->arg;
	uint32_t usize = ssize;
	uint32_t test_op = 0;
	size_t span;
	void *ptr;
	uint32_t k;
	long ret;
	int err;

	if (fz_chance(r, FZ_MUTATE)) {
		if (fz_chance(r, 45))
			fz_flip(t, s, ssize, protect);
		if (fz_chance(r, 50))
			usize = fz_pick_size(t, ssize, min, &nonzero_tail);
		if (fz_chance(r, 35))
			place = fz_below(r, PL_NR);
	}
	if (nr == IOASID_TEST)
		test_op = fz_test_tame(s, ssize);

	/* The struct, the size it claims, and the tail past it */
	span = usize > ssize ? usize : ssize;
	if (span > FZ_ARG_LEN)
		span = FZ_ARG_LEN;
	memcpy(buf, s, ssize);
	if (span > ssize)
		memset(buf + ssize, 0, span - ssize);
	if (nonzero_tail && usize > ssize && usize <= FZ_ARG_LEN)
		buf[ssize + fz_below(r, usize - ssize)] =
			1 + fz_below(r, 255);
	memcpy(buf, &usize, sizeof(usize));

	switch (place) {
	case PL_MISALIGNED:
		k = 1 + fz_below(r, 7);
		if (span + k > FZ_ARG_LEN) {
			ptr = buf;
			place = PL_OK;
			break;
		}
		memmove(buf + k, buf, span);
		ptr = buf + k;
		break;
	case PL_NULL:
		ptr = NULL;
		break;
	case PL_GUARD:
		ptr = buf + FZ_ARG_LEN;
		break;
	case PL_RO:
		fz_ro_fill(t, buf, span);
		ptr = t->ro;
		break;
	case PL_STRADDLE:
		k = 1 + fz_below(r, span < 64 ? span : 64);
		memmove(buf + FZ_ARG_LEN - k, buf, k);
		ptr = buf + FZ_ARG_LEN - k;
		break;
	case PL_BAD:
		ptr = (void *)(uintptr_t)fz_bad_ptr(t);
		break;
	default:
		ptr = buf;
		break;
	}

	errno = 0;
	ret = ioctl(fd, nr, ptr);
	err = errno;
	fz_count(t, cls, ret, err);
	if (t->w->verbose)
		fprintf(stderr, "# t%u %s fd %d nr %#lx size %u at %d: %ld %s\n",
			t->idx, fz_class_name[cls], fd, nr, usize, place, ret,
			ret ? strerror(err) : "");

	t->out_ok = !ret && (place == PL_OK || place == PL_MISALIGNED);
	t->usize = usize;
	/* Where a call succeeded, the kernel read and wrote usize bytes */
	if (!ret && test_op == IOASID_TEST_ACCESS_CREATE &&
	    (t->out_ok || place == PL_STRADDLE))
		fz_access_created(t, ptr, usize);
	if (t->out_ok)
		memcpy(s, ptr, ssize);
	if (!ret)
		return 0;
	return ret == -1 && err ? err : EINVAL;
}

#define FZ_CALL(t, cls, fd, nr, cmd, protect)				\
	fz_call(t, cls, fd, nr, &(cmd), sizeof(cmd), protect)

/* The last call succeeded and answered every field of its struct */
static bool fz_got(struct fz_thread *t, size_t ssize)
{
	return t->out_ok && t->usize >= ssize;
}

/* An fd of the wrong kind; under the lock */
static int fz_wrong_fd(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	struct fz_access *a;

	switch (fz_below(r, 12)) {
	case 0:
		return w->pipe_fd[0];
	case 1:
		return w->pipe_fd[1];
	case 2:
		return w->null_fd;
	case 3:
		return w->memfd;
	case 4:
		return w->sealed_fd;
	case 5:
		return w->iommufd;
	case 6:
		return w->vfio[fz_below(r, FZ_VFIOS)].fd;
	case 7:
		return w->ctx[fz_below(r, FZ_CTXS)].fd;
	case 8:
		return -1;
	case 9:
		return 4000 + fz_below(r, 96);
	case 10:
		a = fz_access_pick(t, &w->ctx[fz_below(r, FZ_CTXS)]);
		return a ? a->fd : w->dead_afd;
	default:
		return w->ro_fd;
	}
}

/* --- /dev/ioasid ioctls --------------------------------------------------- */

static void op_create(struct fz_thread *t)
{
	static const uint64_t pgsizes[] = { 0, PAGE_SZ, SZ_2M, 1ULL << 30,
					    PAGE_SZ / 2, 3 * PAGE_SZ,
					    1ULL << 63, ~0ULL };
	struct ioasid_create cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;
	enum fz_kind kind;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	fz_unlock(t->w);

	cmd.flags = fz_flags(t, IOASID_CREATE_NEST_PARENT);
	cmd.__reserved = fz_rsv(t);
	if (fz_chance(r, 30))
		cmd.max_pgsize = pgsizes[fz_below(r, ARRAY_SIZE(pgsizes))];
	if (FZ_CALL(t, C_CREATE, sn.fd, IOASID_CREATE, cmd, 0) ||
	    !fz_got(t, sizeof(struct ioasid_create)))
		return;
	kind = cmd.flags & IOASID_CREATE_NEST_PARENT ? K_PARENT : K_IOAS;
	fz_lock(t->w);
	if (fz_same(&sn))
		fz_id_add(t, sn.c, kind, cmd.out_ioasid, 0, 0);
	fz_unlock(t->w);
}

static void op_destroy(struct fz_thread *t)
{
	struct ioasid_destroy cmd = { .size = sizeof(cmd) };
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.id = fz_pick_id(t, sn.c, fz_chance(&t->rng, 80) ? KM_IOASID :
				     KM_ALL, NULL);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	if (FZ_CALL(t, C_DESTROY, sn.fd, IOASID_DESTROY, cmd, 0))
		return;
	fz_lock(t->w);
	if (fz_same(&sn)) {
		fz_id_del(sn.c, KM_IOASID, cmd.id, false);
		fz_map_drop(sn.c, cmd.id, 0, ~0ULL);
		fz_id_add(t, sn.c, K_DEAD, cmd.id, 0, 0);
	}
	fz_unlock(t->w);
}

static void op_get_info(struct fz_thread *t)
{
	struct ioasid_info cmd = { .size = sizeof(cmd) };
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	fz_unlock(t->w);
	cmd.flags = fz_zero_flags(t);
	cmd.__reserved = fz_rsv(t);
	FZ_CALL(t, C_GET_INFO, sn.fd, IOASID_GET_INFO, cmd, 0);
}

/* Read, write or both, as MAP and COPY mostly want */
static uint32_t fz_rw(struct fz_thread *t)
{
	unsigned int dice = fz_below(&t->rng, 10);

	if (dice < 7)
		return IOASID_MAP_READ | IOASID_MAP_WRITE;
	return dice < 9 ? IOASID_MAP_READ : IOASID_MAP_WRITE;
}

/* A power of two for iova_alignment, or an odd value */
static uint64_t fz_alignment(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);

	if (dice < 60)
		return 0;
	if (dice < 90)
		return 1ULL << (12 + fz_below(r, 19));
	if (dice < 95)
		return 1ULL << fz_below(r, 64);
	return fz_next(r);
}

/* The user memory a MAP names: *avail bytes up to a guard, *host if ours */
static uint64_t fz_map_va(struct fz_thread *t, uint64_t *avail,
			  uint8_t **host)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	uint64_t off;

	*host = NULL;
	*avail = 16 * PAGE_SZ;
	if (dice < 55) {
		if (fz_chance(r, 25))
			off = SZ_2M * fz_below(r, FZ_ANON_LEN / SZ_2M);
		else
			off = PAGE_SZ * fz_below(r, FZ_ANON_LEN / PAGE_SZ);
		*avail = FZ_ANON_LEN - off;
		*host = w->anon + off;
		return (uintptr_t)*host;
	}
	if (dice < 70) {
		off = PAGE_SZ * fz_below(r, FZ_SHM_LEN / PAGE_SZ);
		*avail = FZ_SHM_LEN - off;
		*host = w->shm + off;
		return (uintptr_t)*host;
	}
	if (dice < 78) {
		off = PAGE_SZ * fz_below(r, FZ_RO_LEN / PAGE_SZ);
		*avail = FZ_RO_LEN - off;
		return (uintptr_t)w->ro + off;
	}
	if (dice < 83)
		return (uintptr_t)w->anon + PAGE_SZ * fz_below(r, 64) + 1 +
		       fz_below(r, PAGE_SZ - 1);
	if (dice < 87)
		return 0;
	if (dice < 92)
		return (uintptr_t)w->resv + FZ_HOLE_OFF +
		       PAGE_SZ * fz_below(r, 64);
	if (dice < 96)
		return (~0ULL & ~(PAGE_SZ - 1)) - PAGE_SZ * fz_below(r, 4);
	return fz_bad_ptr(t);
}

/* The file and offset a MAP with IOASID_MAP_FILE names */
static uint64_t fz_map_file(struct fz_thread *t, int32_t *fd, uint64_t *avail,
			    uint8_t **host)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	uint64_t off;

	*host = NULL;
	*avail = 16 * PAGE_SZ;
	if (dice < 80) {
		/* The memfd, read-write or read-only; both views are shm */
		*fd = dice < 70 || w->ro_fd < 0 ? w->memfd : w->ro_fd;
		off = PAGE_SZ * fz_below(r, FZ_SHM_LEN / PAGE_SZ);
		if (fz_chance(r, 10)) {
			static const uint64_t odd[] = {
				FZ_SHM_LEN, FZ_SHM_LEN + PAGE_SZ, 1,
				PAGE_SZ + 8, 1ULL << 40, 1ULL << 63, ~0ULL,
				~0ULL & ~(PAGE_SZ - 1),
			};

			return odd[fz_below(r, ARRAY_SIZE(odd))];
		}
		*avail = FZ_SHM_LEN - off;
		*host = w->shm + off;
		return off;
	}
	if (dice < 88) {
		*fd = w->sealed_fd;
		off = PAGE_SZ * fz_below(r, FZ_SEALED_LEN / PAGE_SZ);
		*avail = FZ_SEALED_LEN - off;
		return off;
	}
	fz_lock(w);
	*fd = fz_wrong_fd(t);
	fz_unlock(w);
	return PAGE_SZ * fz_below(r, 4);
}

static void op_map(struct fz_thread *t)
{
	struct ioasid_map cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	bool file = fz_chance(r, 25);
	bool fixed = fz_chance(r, 55);
	uint8_t *host;
	uint64_t avail;
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
	cmd.iova = fz_pick_iova(t, sn.c);
	fz_unlock(t->w);

	cmd.flags = fz_chance(r, 90) ? fz_rw(t) :
		    fz_flags(t, IOASID_MAP_READ | IOASID_MAP_WRITE);
	if (file) {
		cmd.flags |= IOASID_MAP_FILE;
		cmd.file_offset = fz_map_file(t, &cmd.fd, &avail, &host);
	} else {
		cmd.user_va = fz_map_va(t, &avail, &host);
		if (fz_chance(r, 3))
			cmd.fd = 1 + fz_below(r, 8);
	}
	if (fixed) {
		cmd.flags |= IOASID_MAP_FIXED_IOVA;
		if (fz_chance(r, 5))
			cmd.iova_alignment = fz_alignment(t);
	} else {
		if (fz_chance(r, 95))
			cmd.iova = 0;
		cmd.iova_alignment = fz_alignment(t);
	}
	if (fz_chance(r, 3))
		cmd.flags = fz_flags(t, IOASID_MAP_FIXED_IOVA |
				     IOASID_MAP_READ | IOASID_MAP_WRITE |
				     IOASID_MAP_FILE);
	cmd.length = fz_map_len(t, avail);

	/* Never flip the address or the length: they decide what is pinned */
	if (FZ_CALL(t, C_MAP, sn.fd, IOASID_MAP, cmd,
		    FZ_SLOT(2) | FZ_SLOT(3)))
		return;
	if (cmd.length > avail)
		host = NULL;
	fz_lock(t->w);
	if (fz_same(&sn)) {
		sn.c->nmaps++;
		if (fz_got(t, sizeof(struct ioasid_map)))
			fz_map_add(t, sn.c, cmd.ioasid, cmd.iova, cmd.length,
				   host);
	}
	fz_unlock(t->w);
}

static void op_unmap(struct fz_thread *t)
{
	struct ioasid_unmap cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	struct fz_map *m = NULL;
	struct fz_snap sn;
	uint64_t a, pages;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	if (dice < 50)
		m = fz_map_pick(t, sn.c, 0, true);
	if (m) {
		pages = fz_pages(m);
		cmd.ioasid = m->ioasid;
		cmd.iova = m->iova;
		cmd.length = m->length;
		if (fz_chance(r, 35)) {
			/* Cut it, maybe through a large IOMMU page */
			a = fz_below(r, pages);
			cmd.iova += PAGE_SZ * a;
			cmd.length = PAGE_SZ * (1 + fz_below(r, pages - a));
		}
	} else if (dice < 65) {
		cmd.flags = IOASID_UNMAP_ALL;
		cmd.ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
		if (fz_chance(r, 5))
			cmd.length = PAGE_SZ;
	} else {
		cmd.ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
		cmd.iova = fz_pick_iova(t, sn.c);
		cmd.length = fz_pick_len(t);
	}
	fz_unlock(t->w);

	if (fz_chance(r, 4))
		cmd.flags = fz_flags(t, IOASID_UNMAP_ALL);
	cmd.__reserved = fz_rsv(t);
	if (FZ_CALL(t, C_UNMAP, sn.fd, IOASID_UNMAP, cmd, 0))
		return;
	fz_lock(t->w);
	if (fz_same(&sn)) {
		if (cmd.flags & IOASID_UNMAP_ALL || !cmd.length)
			fz_map_drop(sn.c, cmd.ioasid, 0, ~0ULL);
		else
			fz_map_drop(sn.c, cmd.ioasid, cmd.iova,
				    cmd.iova + (cmd.length - 1));
	}
	fz_unlock(t->w);
}

static void op_copy(struct fz_thread *t)
{
	struct ioasid_copy cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	bool fixed = fz_chance(r, 50);
	struct fz_map *m = NULL;
	uint8_t *host = NULL;
	struct fz_snap sn;
	uint64_t a, pages;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	if (fz_chance(r, 80))
		m = fz_map_pick(t, sn.c, 0, true);
	if (m) {
		pages = fz_pages(m);
		a = fz_below(r, pages);
		cmd.src_ioasid = m->ioasid;
		cmd.src_iova = m->iova + PAGE_SZ * a;
		cmd.length = PAGE_SZ * (1 + fz_below(r, pages - a));
		if (m->host)
			host = m->host + PAGE_SZ * a;
		if (fz_chance(r, 10)) {
			cmd.length = fz_pick_len(t);
			host = NULL;
		}
	} else {
		cmd.src_ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
		cmd.src_iova = fz_pick_iova(t, sn.c);
		cmd.length = fz_pick_len(t);
	}
	cmd.dst_ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
	if (fixed || fz_chance(r, 5))
		cmd.dst_iova = fz_pick_iova(t, sn.c);
	fz_unlock(t->w);

	cmd.flags = fz_chance(r, 92) ? fz_rw(t) :
		    fz_flags(t, IOASID_MAP_READ | IOASID_MAP_WRITE |
			     IOASID_MAP_FILE);
	if (fixed)
		cmd.flags |= IOASID_MAP_FIXED_IOVA;
	cmd.iova_alignment = fixed && fz_chance(r, 95) ? 0 : fz_alignment(t);
	if (FZ_CALL(t, C_COPY, sn.fd, IOASID_COPY, cmd, 0))
		return;
	fz_lock(t->w);
	if (fz_same(&sn)) {
		sn.c->nmaps++;
		if (fz_got(t, sizeof(struct ioasid_copy)))
			fz_map_add(t, sn.c, cmd.dst_ioasid, cmd.dst_iova,
				   cmd.length, host);
	}
	fz_unlock(t->w);
}

static void op_iova_ranges(struct fz_thread *t)
{
	struct ioasid_iova_ranges cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.ioasid = fz_pick_id(t, sn.c, KM_NORMAL, NULL);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	if (fz_chance(r, 85))
		cmd.num_ranges = fz_below(r, 9);
	else
		cmd.num_ranges = fz_chance(r, 50) ? 0xffffffff :
						     (uint32_t)fz_next(r);
	cmd.ranges = fz_out_ptr(t, (uint64_t)cmd.num_ranges *
				sizeof(struct ioasid_iova_range));
	if (fz_chance(r, 5))
		cmd.ranges = 0;
	FZ_CALL(t, C_IOVA_RANGES, sn.fd, IOASID_IOVA_RANGES, cmd,
		FZ_SLOT(2));
}

static void op_option(struct fz_thread *t)
{
	struct ioasid_option cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	fz_unlock(t->w);

	cmd.flags = fz_flags(t, IOASID_OPTION_GET);
	cmd.option = fz_chance(r, 85) ? IOASID_OPTION_ACCOUNT :
					fz_below(r, 4);
	cmd.__reserved = fz_rsv(t);
	cmd.val = fz_chance(r, 85) ? fz_below(r, 3) :
	     fz_chance(r, 50) ? 3 : fz_next(r);
	FZ_CALL(t, C_OPTION, sn.fd, IOASID_OPTION, cmd, 0);
}

static void op_create_nested(struct fz_thread *t)
{
	struct ioasid_create_nested cmd = { .size = sizeof(cmd) };
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.parent_ioasid = fz_pick_id(t, sn.c, KM(K_PARENT), NULL);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	cmd.format = fz_pick_format(t, IOASID_FORMAT_MOCK_S1);
	cmd.__reserved = fz_rsv(t);
	if (FZ_CALL(t, C_CREATE_NESTED, sn.fd, IOASID_CREATE_NESTED, cmd, 0) ||
	    !fz_got(t, sizeof(struct ioasid_create_nested)))
		return;
	fz_lock(t->w);
	if (fz_same(&sn))
		fz_id_add(t, sn.c, K_NESTED, cmd.out_ioasid, cmd.format,
			  cmd.parent_ioasid);
	fz_unlock(t->w);
}

/* A length for data of @size bytes: mostly @size, else odd */
static uint32_t fz_data_len(struct fz_thread *t, uint32_t size,
			    bool *nonzero_tail)
{
	struct fz_rng *r = &t->rng;

	*nonzero_tail = false;
	switch (fz_below(r, 20)) {
	case 0:
		return fz_below(r, size);
	case 1:
		return size + 8 * (1 + fz_below(r, 8));
	case 2:
		*nonzero_tail = true;
		return size + 1 + fz_below(r, 64);
	case 3:
		return PAGE_SZ;
	case 4:
		return PAGE_SZ + 1 + fz_below(r, PAGE_SZ);
	case 5:
		return fz_chance(r, 50) ? 0xffffffff : (uint32_t)fz_next(r);
	default:
		return size;
	}
}

/*
 * Write the data of @format naming a table at @gpa to t->data; *len is set
 * to the length the call gives, and the pointer it gives is returned.
 */
static uint64_t fz_nest_data(struct fz_thread *t, uint32_t format,
			     uint64_t gpa, uint32_t *len)
{
	union {
		struct ioasid_mock_s1 s1;
		struct ioasid_mock_pasid_table pt;
		struct iommu_hwpt_vtd_s1 vtd;
		uint64_t raw[4];
	} d;
	struct fz_rng *r = &t->rng;
	uint32_t size, n, i;
	bool nonzero_tail;

	memset(&d, 0, sizeof(d));
	switch (format) {
	case IOASID_FORMAT_MOCK_S1:
		d.s1.root_gpa = gpa;
		d.s1.flags = fz_rsv(t);
		d.s1.__reserved = fz_rsv(t);
		size = sizeof(d.s1);
		break;
	case IOASID_FORMAT_MOCK_PASID_TABLE:
		d.pt.table_gpa = gpa;
		d.pt.pasid_bits = fz_pasid_bits(t);
		d.pt.__reserved = fz_rsv(t);
		size = sizeof(d.pt);
		break;
	case IOASID_FORMAT_VTD_S1:
		d.vtd.flags = fz_next(r) & (IOMMU_VTD_S1_SRE |
					    IOMMU_VTD_S1_EAFE |
					    IOMMU_VTD_S1_WPE);
		if (fz_chance(r, 5))
			d.vtd.flags = fz_next(r);
		d.vtd.pgtbl_addr = gpa;
		d.vtd.addr_width = fz_chance(r, 85) ?
				   (fz_chance(r, 50) ? 48 : 57) :
				   (uint32_t)fz_next(r);
		d.vtd.__reserved = fz_rsv(t);
		size = sizeof(d.vtd);
		break;
	default:
		for (i = 0; i < ARRAY_SIZE(d.raw); i++)
			d.raw[i] = fz_next(r);
		size = 8 * (1 + fz_below(r, ARRAY_SIZE(d.raw)));
		break;
	}
	*len = fz_data_len(t, size, &nonzero_tail);
	n = *len < FZ_DATA_LEN ? *len : FZ_DATA_LEN;
	memset(t->data, 0, n);
	memcpy(t->data, &d, size < n ? size : n);
	if (nonzero_tail && n > size)
		t->data[size + fz_below(r, n - size)] = 0x5a;
	return fz_in_ptr(t, n);
}

static void op_set_tables(struct fz_thread *t)
{
	struct ioasid_set_nested_page_tables cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	struct fz_idrec rec;
	struct fz_snap sn;
	uint64_t gpa;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.ioasid = fz_pick_id(t, sn.c, KM(K_NESTED), &rec);
	gpa = fz_pick_gpa(t, sn.c, rec.parent);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	cmd.format = rec.aux && fz_chance(r, 90) ? rec.aux :
		     fz_pick_format(t, IOASID_FORMAT_MOCK_S1);
	cmd.__reserved = fz_rsv(t);
	cmd.data_uptr = fz_nest_data(t, cmd.format, gpa, &cmd.data_len);
	FZ_CALL(t, C_SET_TABLES, sn.fd, IOASID_SET_NESTED_PAGE_TABLES, cmd,
		FZ_SLOT(3));
}

static void op_create_delegated(struct fz_thread *t)
{
	struct ioasid_create_delegated cmd = { .size = sizeof(cmd) };
	struct fz_snap sn;
	uint64_t gpa;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.parent_ioasid = fz_pick_id(t, sn.c, KM(K_PARENT), NULL);
	gpa = fz_pick_gpa(t, sn.c, cmd.parent_ioasid);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	cmd.format = fz_pick_format(t, IOASID_FORMAT_MOCK_PASID_TABLE);
	cmd.data_uptr = fz_nest_data(t, cmd.format, gpa, &cmd.data_len);
	if (FZ_CALL(t, C_CREATE_DELEGATED, sn.fd, IOASID_CREATE_DELEGATED, cmd,
		    FZ_SLOT(3)) ||
	    !fz_got(t, sizeof(struct ioasid_create_delegated)))
		return;
	fz_lock(t->w);
	if (fz_same(&sn))
		fz_id_add(t, sn.c, K_DELEGATED, cmd.out_ioasid, cmd.format,
			  cmd.parent_ioasid);
	fz_unlock(t->w);
}

/* One request of the mock formats, mostly well formed */
static void fz_mock_inv(struct fz_thread *t, struct ioasid_mock_invalidate *inv)
{
	struct fz_rng *r = &t->rng;

	memset(inv, 0, sizeof(*inv));
	switch (fz_below(r, 8)) {
	case 0: case 1:
		inv->flags = IOASID_MOCK_INV_ALL;
		break;
	case 2:
		inv->flags = IOASID_MOCK_INV_ALL | IOASID_MOCK_INV_PASID;
		inv->pasid = fz_pick_pasid(t);
		break;
	case 3: case 4:
		inv->iova = PAGE_SZ * fz_below(r, 512);
		inv->length = PAGE_SZ * (1 + fz_below(r, 64));
		break;
	case 5:
		inv->flags = IOASID_MOCK_INV_PASID;
		inv->pasid = fz_pick_pasid(t);
		inv->iova = PAGE_SZ * fz_below(r, 512);
		inv->length = fz_pick_len(t);
		break;
	case 6:
		inv->iova = fz_next(r);
		inv->length = fz_pick_len(t);
		break;
	default:
		inv->flags = fz_flags(t, IOASID_MOCK_INV_ALL |
				      IOASID_MOCK_INV_PASID);
		inv->pasid = fz_chance(r, 50) ? 0 : fz_pick_pasid(t);
		inv->iova = fz_chance(r, 50) ? 0 : fz_next(r);
		inv->length = fz_chance(r, 50) ? 0 : fz_pick_len(t);
		break;
	}
}

static void op_invalidate(struct fz_thread *t)
{
	struct ioasid_invalidate cmd = { .size = sizeof(cmd) };
	struct ioasid_mock_invalidate inv;
	struct fz_rng *r = &t->rng;
	uint32_t i, n, stride, dice;
	struct fz_idrec rec;
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.ioasid = fz_pick_id(t, sn.c, KM_NESTED, &rec);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	cmd.format = rec.aux && fz_chance(r, 90) ? rec.aux :
		     fz_pick_format(t, IOASID_FORMAT_MOCK_S1);
	dice = fz_below(r, 100);
	if (dice < 75)
		cmd.entry_len = sizeof(inv);
	else if (dice < 80)
		cmd.entry_len = 16;
	else if (dice < 86)
		cmd.entry_len = sizeof(inv) + 8 * (1 + fz_below(r, 4));
	else if (dice < 90)
		cmd.entry_len = 0;
	else if (dice < 94)
		cmd.entry_len = PAGE_SZ + fz_below(r, 2);
	else
		cmd.entry_len = 1 + fz_below(r, 128);
	dice = fz_below(r, 100);
	if (dice < 75)
		cmd.entry_num = 1 + fz_below(r, 6);
	else if (dice < 85)
		cmd.entry_num = 0;
	else if (dice < 92)
		cmd.entry_num = 0xffffffff;
	else
		cmd.entry_num = fz_below(r, 1 << 16);

	/* As many requests as fit before the guard, then -EFAULT */
	stride = cmd.entry_len;
	n = 0;
	if (stride && stride <= 256) {
		n = FZ_DATA_LEN / stride;
		if (n > cmd.entry_num)
			n = cmd.entry_num;
		memset(t->data, 0, (size_t)n * stride);
		for (i = 0; i < n; i++) {
			fz_mock_inv(t, &inv);
			memcpy(t->data + i * stride, &inv,
			       stride < sizeof(inv) ? stride : sizeof(inv));
			if (stride > sizeof(inv) && fz_chance(r, 10))
				t->data[i * stride + sizeof(inv)] = 1;
		}
	}
	cmd.entries_uptr = fz_in_ptr(t, (uint64_t)n * stride);
	FZ_CALL(t, C_INVALIDATE, sn.fd, IOASID_INVALIDATE, cmd, FZ_SLOT(3));
}

static void op_hw_info(struct fz_thread *t)
{
	struct ioasid_hw_info cmd = { .size = sizeof(cmd) };
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	struct fz_snap sn;

	fz_lock(t->w);
	fz_snap(t, &sn, -1);
	cmd.dev_id = fz_pick_id(t, sn.c, KM(K_DEV), NULL);
	fz_unlock(t->w);

	cmd.flags = fz_zero_flags(t);
	cmd.__reserved = fz_rsv(t);
	if (dice < 15)
		cmd.data_len = 0;
	else if (dice < 45)
		cmd.data_len = sizeof(uint32_t);
	else if (dice < 80)
		cmd.data_len = 1 + fz_below(r, 64);
	else if (dice < 85)
		cmd.data_len = PAGE_SZ;
	else if (dice < 92)
		cmd.data_len = 0xffffffff;
	else
		cmd.data_len = (uint32_t)fz_next(r);
	cmd.data_uptr = fz_out_ptr(t, cmd.data_len);
	FZ_CALL(t, C_HW_INFO, sn.fd, IOASID_GET_HW_INFO, cmd, FZ_SLOT(2));
}

/* --- IOASID_TEST ---------------------------------------------------------- */

/* A test command for @op on a mock device picked from the context */
static void fz_test_prep(struct fz_thread *t, struct fz_snap *sn,
			 struct ioasid_test_cmd *cmd, uint32_t op,
			 struct fz_idrec *mock)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	fz_lock(t->w);
	fz_snap(t, sn, -1);
	cmd->id = fz_pick_id(t, sn->c, KM(K_MOCK), mock);
	fz_unlock(t->w);
	cmd->flags = fz_zero_flags(t);
}

static void fz_vfio_open_index(struct fz_thread *t, uint32_t index);

static void op_mock_destroy(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_snap sn;

	fz_test_prep(t, &sn, &cmd, IOASID_TEST_MOCK_DESTROY, NULL);
	if (FZ_CALL(t, C_MOCK_DESTROY, sn.fd, IOASID_TEST, cmd, 0))
		return;
	fz_lock(t->w);
	if (fz_same(&sn)) {
		fz_id_del(sn.c, KM(K_MOCK), cmd.id, false);
		fz_id_del(sn.c, KM(K_DEV), cmd.id, true);
		fz_id_add(t, sn.c, K_DEAD, cmd.id, 0, 0);
		if (sn.c->nmocks) {
			sn.c->nmocks--;
			t->w->live_mocks--;
		}
	}
	fz_unlock(t->w);
}

static void op_mock_create(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd = { .size = sizeof(cmd) };
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	unsigned int dice;
	struct fz_snap sn;
	uint32_t vfio;
	int rc;

	fz_lock(w);
	if (w->live_mocks >= FZ_MOCKS) {
		fz_unlock(w);
		op_mock_destroy(t);
		return;
	}
	w->live_mocks++;
	fz_snap(t, &sn, -1);
	fz_unlock(w);

	cmd.op = IOASID_TEST_MOCK_CREATE;
	cmd.flags = fz_zero_flags(t);
	cmd.id = fz_chance(r, 95) ? 0 : fz_odd_id(t);
	cmd.mock_create.instance = fz_chance(r, 94) ?
		fz_below(r, IOASID_TEST_NUM_INSTANCES) :
		(fz_chance(r, 50) ? IOASID_TEST_NUM_INSTANCES : fz_odd_id(t));
	/* Emulated: a vfio device behind no IOMMU, served by an access */
	dice = fz_below(r, 100);
	if (dice < 40)
		cmd.mock_create.flags = 0;
	else if (dice < 45)
		/* Its IOMMU takes only the core's kind of paging domain */
		cmd.mock_create.flags = IOASID_TEST_MOCK_NO_USER_DOMAINS;
	else if (dice < 80)
		cmd.mock_create.flags = IOASID_TEST_MOCK_VFIO;
	else if (dice < 97)
		cmd.mock_create.flags = IOASID_TEST_MOCK_VFIO |
					IOASID_TEST_MOCK_EMULATED;
	else
		cmd.mock_create.flags = fz_flags(t, IOASID_TEST_MOCK_VFIO |
						 IOASID_TEST_MOCK_EMULATED |
						 IOASID_TEST_MOCK_NO_USER_DOMAINS);
	rc = FZ_CALL(t, C_MOCK_CREATE, sn.fd, IOASID_TEST, cmd, 0);

	vfio = ~0U;
	if (!rc && cmd.mock_create.flags & IOASID_TEST_MOCK_VFIO &&
	    fz_got(t, sizeof(struct ioasid_test_cmd)))
		vfio = cmd.mock_create.out_vfio;
	fz_lock(w);
	if (rc || !fz_same(&sn)) {
		/* Failed, or made in a context whose close destroys it */
		w->live_mocks--;
	} else {
		sn.c->nmocks++;
		if (fz_got(t, sizeof(struct ioasid_test_cmd)))
			fz_id_add(t, sn.c, K_MOCK, cmd.mock_create.out_id,
				  vfio, cmd.mock_create.flags);
	}
	fz_unlock(w);
	if (vfio != ~0U && fz_chance(r, 60))
		fz_vfio_open_index(t, vfio);
}

static void op_mock_bind(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_snap sn;

	fz_test_prep(t, &sn, &cmd, IOASID_TEST_MOCK_BIND, NULL);
	if (FZ_CALL(t, C_MOCK_BIND, sn.fd, IOASID_TEST, cmd, 0) ||
	    !fz_got(t, sizeof(struct ioasid_test_cmd)))
		return;
	fz_lock(t->w);
	if (fz_same(&sn))
		fz_id_add(t, sn.c, K_DEV, cmd.mock_bind.out_dev_id, cmd.id, 0);
	fz_unlock(t->w);
}

static void op_mock_unbind(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_snap sn;

	fz_test_prep(t, &sn, &cmd, IOASID_TEST_MOCK_UNBIND, NULL);
	if (FZ_CALL(t, C_MOCK_UNBIND, sn.fd, IOASID_TEST, cmd, 0))
		return;
	fz_lock(t->w);
	if (fz_same(&sn))
		fz_id_del(sn.c, KM(K_DEV), cmd.id, true);
	fz_unlock(t->w);
}

static void op_mock_attach(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_snap sn;
	bool pasid = fz_chance(&t->rng, 30);

	fz_test_prep(t, &sn, &cmd, pasid ? IOASID_TEST_MOCK_ATTACH_PASID :
					   IOASID_TEST_MOCK_ATTACH, NULL);
	fz_lock(t->w);
	cmd.mock_attach.ioasid = fz_pick_id(t, sn.c, KM_IOASID, NULL);
	fz_unlock(t->w);
	cmd.mock_attach.pasid = pasid || fz_chance(&t->rng, 5) ?
				fz_pick_pasid(t) : 0;
	FZ_CALL(t, pasid ? C_MOCK_ATTACH_PASID : C_MOCK_ATTACH, sn.fd,
		IOASID_TEST, cmd, 0);
}

static void op_mock_detach(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_snap sn;
	bool pasid = fz_chance(&t->rng, 50);

	fz_test_prep(t, &sn, &cmd, pasid ? IOASID_TEST_MOCK_DETACH_PASID :
					   IOASID_TEST_MOCK_DETACH, NULL);
	cmd.mock_attach.pasid = fz_pick_pasid(t);
	FZ_CALL(t, pasid ? C_MOCK_DETACH_PASID : C_MOCK_DETACH, sn.fd,
		IOASID_TEST, cmd, 0);
}

/* A DMA length: mostly small, at most IOASID_TEST_DMA_MAX but to refuse */
static uint64_t fz_dma_len(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);

	if (dice < 50)
		return 1 + fz_below(r, PAGE_SZ);
	if (dice < 70)
		return PAGE_SZ * (1 + fz_below(r, 16));
	if (dice < 80)
		return 1 + fz_below(r, IOASID_TEST_DMA_MAX);
	if (dice < 85)
		return IOASID_TEST_DMA_MAX;
	if (dice < 90)
		return 0;
	/* Refused before the kernel allocates anything */
	if (dice < 95)
		return IOASID_TEST_DMA_MAX + 1;
	return fz_huge_len(t);
}

static void op_dma(struct fz_thread *t)
{
	const uint32_t emulated = IOASID_TEST_DMA_CPU_COPY |
				  IOASID_TEST_DMA_KEEP_PINS;
	uint32_t known = IOASID_TEST_DMA_WRITE;
	struct ioasid_test_cmd cmd;
	struct fz_rng *r = &t->rng;
	struct fz_idrec mock;
	struct fz_snap sn;

	fz_test_prep(t, &sn, &cmd, IOASID_TEST_DMA, &mock);
	fz_lock(t->w);
	cmd.dma.iova = fz_chance(r, 15) ? PAGE_SZ * fz_below(r, 16) :
					  fz_pick_iova(t, sn.c);
	fz_unlock(t->w);
	cmd.dma.pasid = fz_chance(r, 60) ? 0 : fz_pick_pasid(t);
	/* Only an emulated device takes the flags of vfio's pins and copies */
	if (fz_chance(r, mock.parent & IOASID_TEST_MOCK_EMULATED ? 90 : 10))
		known |= emulated;
	cmd.dma.flags = fz_flags(t, known);
	cmd.dma.length = fz_dma_len(t);
	cmd.dma.uptr = fz_out_ptr(t, cmd.dma.length);
	/* uptr is slot 5: never flip it */
	FZ_CALL(t, C_DMA, sn.fd, IOASID_TEST, cmd, FZ_SLOT(5));
}

static void op_fail(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	struct fz_snap sn;

	fz_test_prep(t, &sn, &cmd, fz_chance(r, 50) ?
			IOASID_TEST_FAIL_MAP : IOASID_TEST_FAIL_INVALIDATE,
		     NULL);
	if (dice < 35)
		cmd.fail_map.after = -1;
	else if (dice < 80)
		cmd.fail_map.after = fz_below(r, 9);
	else if (dice < 90)
		cmd.fail_map.after = 9 + fz_below(r, 1000);
	else
		cmd.fail_map.after = (int32_t)fz_next(r);
	FZ_CALL(t, C_FAIL, sn.fd, IOASID_TEST, cmd, 0);
}

/* Test ops beyond those above, and ones that do not exist */
static void op_test_other(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;
	uint32_t op;

	/* The access ops among them name a mock id as their access fd */
	if (fz_chance(r, 70))
		op = IOASID_TEST_FAIL_INVALIDATE +
		     fz_below(r, IOASID_TEST_ACCESS_INFO -
				 IOASID_TEST_FAIL_INVALIDATE + 3);
	else if (fz_chance(r, 50))
		op = 0;
	else
		op = fz_odd_id(t);
	/* A mock that fails to unmap is a broken driver: the kernel warns */
	if (op == IOASID_TEST_FAIL_UNMAP)
		op = IOASID_TEST_IOTLB_SYNCS;
	fz_test_prep(t, &sn, &cmd, op, NULL);
	FZ_CALL(t, C_TEST_OP, sn.fd, IOASID_TEST, cmd, 0);
}

/* --- accesses of the mock driver ------------------------------------------ */

/* access.uptr: never flipped, the kernel copies access.length bytes there */
#define FZ_ACCESS_UPTR	\
	FZ_SLOT(offsetof(struct ioasid_test_cmd, access.uptr) / 8)

/* Close an access of context @slot, if it has one */
static void fz_access_close(struct fz_thread *t, int slot)
{
	struct fz_world *w = t->w;
	struct fz_access *a;
	int fd;

	fz_lock(w);
	a = fz_access_pick(t, &w->ctx[slot]);
	if (!a) {
		fz_unlock(w);
		return;
	}
	fd = a->fd;
	a->fd = -1;
	w->dead_afd = fd;
	fz_unlock(w);
	/* Other threads may be in a call that names it: theirs holds it */
	fz_access_close_fd(t, fd);
}

static void op_access_close(struct fz_thread *t)
{
	fz_access_close(t, fz_below(&t->rng, FZ_CTXS));
}

static void op_access_create(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd = { .size = sizeof(cmd) };
	struct fz_world *w = t->w;
	struct fz_access *a;
	struct fz_snap sn;
	int afd;

	fz_lock(w);
	fz_snap(t, &sn, -1);
	a = fz_access_free(sn.c);
	fz_unlock(w);
	if (!a) {
		fz_access_close(t, sn.slot);
		return;
	}

	cmd.op = IOASID_TEST_ACCESS_CREATE;
	cmd.flags = fz_zero_flags(t);
	cmd.id = fz_chance(&t->rng, 95) ? 0 : fz_odd_id(t);
	t->adopt = true;
	FZ_CALL(t, C_ACCESS_CREATE, sn.fd, IOASID_TEST, cmd, 0);
	t->adopt = false;
	afd = t->new_afd;
	t->new_afd = -1;
	if (afd < 0)
		return;

	fz_lock(w);
	a = fz_same(&sn) ? fz_access_free(sn.c) : NULL;
	if (a) {
		memset(a, 0, sizeof(*a));
		a->fd = afd;
	}
	fz_unlock(w);
	/* No room, or the context was closed since: this one holds it open */
	if (!a)
		fz_access_close_fd(t, afd);
}

/*
 * An fd for an access op other than an access of the context: mostly an
 * access of another context, else the context itself, a vfio fd, -1, a
 * closed access fd, an fd of another kind or an odd number. Under the lock.
 */
static uint32_t fz_bad_afd(struct fz_thread *t, const struct fz_snap *sn)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	struct fz_access *a;

	switch (fz_below(r, 8)) {
	case 0: case 1:
		a = fz_access_pick(t, &w->ctx[fz_below(r, FZ_CTXS)]);
		return a ? a->fd : sn->fd;
	case 2:
		return sn->fd;
	case 3:
		return w->vfio[fz_below(r, FZ_VFIOS)].fd;
	case 4:
		return -1;
	case 5:
		return w->dead_afd;
	case 6:
		return fz_wrong_fd(t);
	default:
		return fz_odd_id(t);
	}
}

/*
 * A test command for access op @op, on an access of the context (copied to
 * @a) or, now and then, on an fd that is not one (@a->fd is -1). Return:
 * false when the context has no access to pick, which this then creates.
 */
static bool fz_access_prep(struct fz_thread *t, struct fz_snap *sn,
			   struct ioasid_test_cmd *cmd, uint32_t op,
			   struct fz_access *a)
{
	bool own = fz_chance(&t->rng, 82);
	struct fz_world *w = t->w;
	struct fz_access *e = NULL;

	memset(cmd, 0, sizeof(*cmd));
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	fz_lock(w);
	fz_snap(t, sn, -1);
	if (own) {
		e = fz_access_pick(t, sn->c);
		if (!e) {
			fz_unlock(w);
			op_access_create(t);
			return false;
		}
		*a = *e;
	}
	cmd->id = e ? (uint32_t)e->fd : fz_bad_afd(t, sn);
	fz_unlock(w);
	cmd->flags = fz_zero_flags(t);
	return true;
}

/* The access of the call just made, if it is still the context's */
static struct fz_access *fz_access_of(struct fz_snap *sn,
				      struct ioasid_test_cmd *cmd)
{
	return fz_same(sn) ? fz_access_find(sn->c, cmd->id) : NULL;
}

/* A pin or copy length: mostly small, else around IOASID_TEST_DMA_MAX */
static uint64_t fz_access_len(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);

	if (dice < 40)
		return 1 + fz_below(r, PAGE_SZ);
	if (dice < 65)
		return PAGE_SZ * (1 + fz_below(r, 16));
	if (dice < 72)
		return 1 + fz_below(r, IOASID_TEST_DMA_MAX);
	if (dice < 82)
		return IOASID_TEST_DMA_MAX - 1 + fz_below(r, 3);
	/* Refused before the mock allocates anything */
	if (dice < 86)
		return IOASID_TEST_DMA_MAX + PAGE_SZ * (1 + fz_below(r, 4));
	if (dice < 91)
		return 0;
	return fz_huge_len(t);
}

/*
 * The access.iova and access.length of a pin or a copy by an access
 * attached to @ioasid: mostly in one of its mappings, else anywhere, or a
 * range that wraps past the top of the IOVA space. Under the lock.
 */
static void fz_access_range(struct fz_thread *t, struct fz_ctx *c,
			    uint32_t ioasid, struct ioasid_test_cmd *cmd)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	struct fz_map *m = NULL;
	uint64_t iova, len, off, left;

	if (dice < 65)
		m = fz_map_pick(t, c, ioasid, !ioasid || fz_chance(r, 10));
	if (m) {
		off = PAGE_SZ * fz_below(r, fz_pages(m));
		if (fz_chance(r, 30))
			off += fz_below(r, PAGE_SZ);
		iova = m->iova + off;
		len = fz_access_len(t);
		/* Mostly within the mapping */
		left = m->length > off ? m->length - off : 1;
		if (len > left && fz_chance(r, 75))
			len = 1 + fz_below(r, left);
	} else if (dice < 85) {
		iova = fz_pick_iova(t, c);
		len = fz_access_len(t);
	} else if (dice < 95) {
		iova = ~0ULL - fz_below(r, 4 * PAGE_SZ);
		len = ~0ULL - iova + 2 + fz_below(r, 4 * PAGE_SZ);
	} else {
		iova = fz_next(r);
		len = fz_chance(r, 50) ? fz_access_len(t) : fz_next(r);
	}
	cmd->access.iova = iova;
	cmd->access.length = len;
}

static void op_access_attach(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_access a, *e;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_ATTACH, &a))
		return;
	/* Mostly a normal IOASID: else nested ones, other kinds, garbage */
	fz_lock(t->w);
	cmd.access.ioasid = fz_pick_id(t, sn.c, fz_chance(&t->rng, 85) ?
				       KM_NORMAL : KM_ALL, NULL);
	fz_unlock(t->w);
	if (FZ_CALL(t, C_ACCESS_ATTACH, sn.fd, IOASID_TEST, cmd, 0) ||
	    cmd.op != IOASID_TEST_ACCESS_ATTACH)
		return;
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e && e->ioasid != cmd.access.ioasid) {
		/* A replacement: the mock dropped the pins of the old one */
		e->ioasid = cmd.access.ioasid;
		e->npins = 0;
	}
	fz_unlock(t->w);
}

static void op_access_detach(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_access a, *e;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_DETACH, &a))
		return;
	if (FZ_CALL(t, C_ACCESS_DETACH, sn.fd, IOASID_TEST, cmd, 0) ||
	    cmd.op != IOASID_TEST_ACCESS_DETACH)
		return;
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e) {
		e->ioasid = 0;
		e->npins = 0;
	}
	fz_unlock(t->w);
}

static void op_access_pin(struct fz_thread *t)
{
	uint32_t known = IOASID_TEST_ACCESS_WRITE;
	struct ioasid_test_cmd cmd;
	struct fz_rng *r = &t->rng;
	struct fz_access a, *e;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_PIN, &a))
		return;
	fz_lock(t->w);
	fz_access_range(t, sn.c, a.ioasid, &cmd);
	fz_unlock(t->w);
	/* A pin refuses IOASID_TEST_ACCESS_KTHREAD */
	if (fz_chance(r, 5))
		known |= IOASID_TEST_ACCESS_KTHREAD;
	cmd.access.flags = fz_flags(t, known);
	/* With uptr, the pinned pages are read or written through */
	if (fz_chance(r, 50))
		cmd.access.uptr = fz_out_ptr(t, cmd.access.length);
	if (fz_chance(r, 3))
		cmd.access.mode = fz_rsv(t);
	if (FZ_CALL(t, C_ACCESS_PIN, sn.fd, IOASID_TEST, cmd,
		    FZ_ACCESS_UPTR) ||
	    cmd.op != IOASID_TEST_ACCESS_PIN)
		return;
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e)
		fz_pin_add(t, e, cmd.access.iova, cmd.access.length);
	fz_unlock(t->w);
}

static void op_access_unpin(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_rng *r = &t->rng;
	struct fz_access a, *e;
	struct fz_snap sn;
	struct fz_pin *p;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_UNPIN, &a))
		return;
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e && e->npins && fz_chance(r, 75)) {
		/* A pin it holds, unless an unmap callback dropped it */
		p = &e->pins[fz_below(r, e->npins)];
		cmd.access.iova = p->iova;
		cmd.access.length = p->length;
		if (fz_chance(r, 10))
			cmd.access.length += fz_chance(r, 50) ? 1 : -1;
	} else {
		fz_access_range(t, sn.c, a.ioasid, &cmd);
	}
	fz_unlock(t->w);
	cmd.access.flags = fz_zero_flags(t);
	if (FZ_CALL(t, C_ACCESS_UNPIN, sn.fd, IOASID_TEST, cmd, 0) ||
	    cmd.op != IOASID_TEST_ACCESS_UNPIN)
		return;
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e)
		fz_pin_del(e, cmd.access.iova, cmd.access.length);
	fz_unlock(t->w);
}

static void op_access_rw(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_access a;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_RW, &a))
		return;
	fz_lock(t->w);
	fz_access_range(t, sn.c, a.ioasid, &cmd);
	fz_unlock(t->w);
	/* From the caller, or from a kernel worker, which has no mm */
	cmd.access.flags = fz_flags(t, IOASID_TEST_ACCESS_WRITE |
				    IOASID_TEST_ACCESS_KTHREAD);
	cmd.access.uptr = fz_out_ptr(t, cmd.access.length);
	FZ_CALL(t, C_ACCESS_RW, sn.fd, IOASID_TEST, cmd, FZ_ACCESS_UPTR);
}

/*
 * What the mock's unmap callback does: unpin at once or from a worker, or
 * a mode that does not exist; never IOASID_TEST_ACCESS_HOLD, whose pins
 * make UNMAP wait a second and the kernel warn. fz_test_tame() keeps
 * mutated calls off it too.
 */
static uint32_t fz_access_mode(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int dice = fz_below(r, 100);
	uint32_t mode;

	if (dice < 62)
		return IOASID_TEST_ACCESS_UNPIN_NOW;
	/* Makes an UNMAP through its pins wait 50 ms: not too often */
	if (dice < 82)
		return IOASID_TEST_ACCESS_UNPIN_LATER;
	if (dice < 95)
		return IOASID_TEST_ACCESS_HOLD + 1 + fz_below(r, 4);
	mode = fz_chance(r, 50) ? 0xffffffff : (uint32_t)fz_next(r);
	return mode == IOASID_TEST_ACCESS_HOLD ? mode + 1 : mode;
}

static void op_access_mode(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_access a;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_MODE, &a))
		return;
	cmd.access.mode = fz_access_mode(t);
	FZ_CALL(t, C_ACCESS_MODE, sn.fd, IOASID_TEST, cmd, 0);
}

static void op_access_info(struct fz_thread *t)
{
	struct ioasid_test_cmd cmd;
	struct fz_access a, *e;
	struct fz_snap sn;

	if (!fz_access_prep(t, &sn, &cmd, IOASID_TEST_ACCESS_INFO, &a))
		return;
	if (FZ_CALL(t, C_ACCESS_INFO, sn.fd, IOASID_TEST, cmd, 0) ||
	    cmd.op != IOASID_TEST_ACCESS_INFO ||
	    !fz_got(t, sizeof(struct ioasid_test_cmd)))
		return;
	/* The unmap callbacks dropped every pin: forget them too */
	fz_lock(t->w);
	e = fz_access_of(&sn, &cmd);
	if (e && !cmd.access.out_pins)
		e->npins = 0;
	fz_unlock(t->w);
}

/* --- vfio cdev fds of mock vfio devices ----------------------------------- */

/* A random open vfio slot, or -1; under the lock */
static int fz_vfio_pick(struct fz_thread *t)
{
	unsigned int i, start = fz_below(&t->rng, FZ_VFIOS);

	for (i = 0; i < FZ_VFIOS; i++) {
		unsigned int s = (start + i) % FZ_VFIOS;

		if (t->w->vfio[s].fd >= 0)
			return s;
	}
	return -1;
}

static void op_vfio_close(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_vfio *v;
	int slot, fd;
	long ret;

	fz_lock(w);
	slot = fz_vfio_pick(t);
	if (slot < 0) {
		fz_unlock(w);
		return;
	}
	v = &w->vfio[slot];
	fd = v->fd;
	if (v->ctx >= 0 && w->ctx[v->ctx].gen == v->gen)
		fz_id_del(&w->ctx[v->ctx], KM(K_DEV), v->dev_id, false);
	v->fd = -1;
	fz_unlock(w);

	ret = close(fd);
	fz_count(t, C_V_CLOSE, ret, errno);
	if (ret)
		t->st.close_failed++;
}

/* Open /dev/vfio/devices/vfio<index> into a free slot */
static void fz_vfio_open_index(struct fz_thread *t, uint32_t index)
{
	struct fz_world *w = t->w;
	int slot = -1, fd, i;

	fz_lock(w);
	for (i = 0; i < FZ_VFIOS && slot < 0; i++)
		if (w->vfio[i].fd == -1)
			slot = i;
	if (slot >= 0)
		w->vfio[slot].fd = -2;
	fz_unlock(w);
	if (slot < 0) {
		op_vfio_close(t);
		return;
	}

	fd = vfio_open_index(index);
	fz_count(t, C_V_OPEN, fd < 0 ? -1 : 0, errno);
	fz_lock(w);
	w->vfio[slot].fd = fd < 0 ? -1 : fd;
	w->vfio[slot].index = index;
	w->vfio[slot].ctx = -1;
	fz_unlock(w);
}

static void op_vfio_open(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_idrec *e;
	uint32_t index = ~0U;
	unsigned int i;

	fz_lock(w);
	for (i = 0; i < 4 && index == ~0U; i++) {
		e = fz_rec(t, &w->ctx[fz_below(&t->rng, FZ_CTXS)], KM(K_MOCK));
		if (e)
			index = e->aux;
	}
	fz_unlock(w);
	/* Only devices of ours: never a real device bound to vfio */
	if (index != ~0U)
		fz_vfio_open_index(t, index);
}

/* A vfio fd to work on, and the context it is bound to if any */
static int fz_vfio_prep(struct fz_thread *t, struct fz_snap *sn, int *slot)
{
	struct fz_world *w = t->w;
	struct fz_vfio *v;
	int fd;

	fz_lock(w);
	*slot = fz_vfio_pick(t);
	v = *slot >= 0 ? &w->vfio[*slot] : NULL;
	fz_snap(t, sn, v && v->ctx >= 0 && fz_chance(&t->rng, 90) ?
		v->ctx : -1);
	fd = v ? v->fd : -1;
	fz_unlock(w);
	if (fd < 0)
		op_vfio_open(t);
	return fd;
}

static void op_vfio_bind(struct fz_thread *t)
{
	struct vfio_device_bind_ioasid_fd cmd = { .argsz = sizeof(cmd) };
	struct fz_world *w = t->w;
	struct fz_snap sn;
	struct fz_vfio *v;
	int slot, fd;

	fz_lock(w);
	slot = fz_vfio_pick(t);
	fd = slot >= 0 ? w->vfio[slot].fd : -1;
	fz_snap(t, &sn, -1);
	cmd.ioasid_fd = fz_chance(&t->rng, 85) ? sn.fd : fz_wrong_fd(t);
	fz_unlock(w);
	if (fd < 0) {
		op_vfio_open(t);
		return;
	}

	cmd.flags = fz_zero_flags(t);
	if (FZ_CALL(t, C_V_BIND, fd, VFIO_DEVICE_BIND_IOASID_FD, cmd, 0) ||
	    !fz_got(t, sizeof(struct vfio_device_bind_ioasid_fd)) ||
	    cmd.ioasid_fd != sn.fd)
		return;
	fz_lock(w);
	v = &w->vfio[slot];
	if (v->fd == fd && fz_same(&sn)) {
		v->ctx = sn.slot;
		v->gen = sn.gen;
		v->dev_id = cmd.out_dev_id;
		fz_id_add(t, sn.c, K_DEV, cmd.out_dev_id, 0, 0);
	}
	fz_unlock(w);
}

static void op_vfio_attach(struct fz_thread *t)
{
	struct vfio_device_attach_ioasid cmd = { .argsz = sizeof(cmd) };
	struct fz_snap sn;
	int slot, fd;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	fz_lock(t->w);
	cmd.ioasid = fz_pick_id(t, sn.c, KM_IOASID, NULL);
	fz_unlock(t->w);
	cmd.flags = fz_zero_flags(t);
	cmd.__reserved = fz_rsv(t);
	FZ_CALL(t, C_V_ATTACH, fd, VFIO_DEVICE_ATTACH_IOASID, cmd, 0);
}

static void op_vfio_detach(struct fz_thread *t)
{
	struct vfio_device_detach_ioasid cmd = { .argsz = sizeof(cmd) };
	struct fz_snap sn;
	int slot, fd;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	cmd.flags = fz_zero_flags(t);
	FZ_CALL(t, C_V_DETACH, fd, VFIO_DEVICE_DETACH_IOASID, cmd, 0);
}

static void op_vfio_attach_pasid(struct fz_thread *t)
{
	struct vfio_device_attach_ioasid_pasid cmd = { .argsz = sizeof(cmd) };
	struct fz_snap sn;
	int slot, fd;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	fz_lock(t->w);
	cmd.ioasid = fz_pick_id(t, sn.c, KM_IOASID, NULL);
	fz_unlock(t->w);
	cmd.flags = fz_zero_flags(t);
	cmd.pasid = fz_pick_pasid(t);
	FZ_CALL(t, C_V_ATTACH_PASID, fd, VFIO_DEVICE_ATTACH_IOASID_PASID, cmd,
		0);
}

static void op_vfio_detach_pasid(struct fz_thread *t)
{
	struct vfio_device_detach_ioasid_pasid cmd = { .argsz = sizeof(cmd) };
	struct fz_snap sn;
	int slot, fd;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	cmd.flags = fz_zero_flags(t);
	cmd.pasid = fz_pick_pasid(t);
	cmd.__reserved = fz_rsv(t);
	FZ_CALL(t, C_V_DETACH_PASID, fd, VFIO_DEVICE_DETACH_IOASID_PASID, cmd,
		0);
}

/* The iommufd ioctls of the device fd, which one bound to ioasid refuses */
static void op_vfio_iommufd(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;
	int slot, fd;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	switch (fz_below(r, 3)) {
	case 0: {
		struct vfio_device_bind_iommufd cmd = { .argsz = sizeof(cmd) };

		cmd.iommufd = fz_chance(r, 70) ? t->w->iommufd : sn.fd;
		FZ_CALL(t, C_V_IOMMUFD, fd, VFIO_DEVICE_BIND_IOMMUFD, cmd, 0);
		break;
	}
	case 1: {
		struct vfio_device_attach_iommufd_pt cmd = {
			.argsz = sizeof(cmd),
		};

		cmd.pt_id = fz_below(r, 8);
		FZ_CALL(t, C_V_IOMMUFD, fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, cmd,
			0);
		break;
	}
	default: {
		struct vfio_device_detach_iommufd_pt cmd = {
			.argsz = sizeof(cmd),
		};

		FZ_CALL(t, C_V_IOMMUFD, fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, cmd,
			0);
		break;
	}
	}
}

/* The mock's region, readable once the fd is bound */
static void op_vfio_read(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;
	size_t len = 1 + fz_below(r, 128);
	int slot, fd;
	void *buf;
	long ret;

	fd = fz_vfio_prep(t, &sn, &slot);
	if (fd < 0)
		return;
	buf = fz_chance(r, 90) ? (void *)t->scratch :
	      fz_chance(r, 50) ? (void *)t->ro : NULL;
	errno = 0;
	ret = pread(fd, buf, len, fz_below(r, 80));
	if (ret > (long)len)
		ret = -2;
	fz_count(t, C_V_READ, ret, errno);
}

/* --- fds, numbers and memory ---------------------------------------------- */

static void fz_ctx_reopen(struct fz_thread *t, int slot)
{
	bool acc_first = fz_chance(&t->rng, 50);
	struct fz_world *w = t->w;
	struct fz_ctx *c = &w->ctx[slot];
	int afds[FZ_ACCESSES];
	unsigned int i, nafds = 0;
	int fd;
	long ret;

	fz_lock(w);
	fd = c->fd;
	if (fd < 0) {
		fz_unlock(w);
		return;
	}
	/* Its accesses hold it open: they go too, before it or after */
	for (i = 0; i < FZ_ACCESSES; i++) {
		if (c->acc[i].fd >= 0) {
			afds[nafds++] = c->acc[i].fd;
			w->dead_afd = c->acc[i].fd;
		}
	}
	memset(c->acc, 0, sizeof(c->acc));
	for (i = 0; i < FZ_ACCESSES; i++)
		c->acc[i].fd = -1;
	c->fd = -1;
	c->gen++;
	w->live_mocks -= c->nmocks < w->live_mocks ? c->nmocks :
						     w->live_mocks;
	c->nmocks = 0;
	c->nmaps = 0;
	memset(c->ids, 0, sizeof(c->ids));
	memset(c->maps, 0, sizeof(c->maps));
	for (i = 0; i < FZ_VFIOS; i++)
		if (w->vfio[i].ctx == slot)
			w->vfio[i].ctx = -1;
	fz_unlock(w);

	for (i = 0; acc_first && i < nafds; i++)
		fz_access_close_fd(t, afds[i]);
	/* Other threads may be in an ioctl on it: their call holds the file */
	ret = close(fd);
	fz_count(t, C_CTX_REOPEN, ret, errno);
	if (ret)
		t->st.close_failed++;
	for (i = 0; !acc_first && i < nafds; i++)
		fz_access_close_fd(t, afds[i]);

	fd = ioasid_open();
	fz_lock(w);
	c->fd = fd;
	fz_unlock(w);
}

static void op_ctx_reopen(struct fz_thread *t)
{
	fz_ctx_reopen(t, fz_below(&t->rng, FZ_CTXS));
}

static const struct {
	unsigned long nr;
	uint32_t size;
} fz_iocs[] = {
	{ IOASID_DESTROY, sizeof(struct ioasid_destroy) },
	{ IOASID_GET_INFO, sizeof(struct ioasid_info) },
	{ IOASID_CREATE, sizeof(struct ioasid_create) },
	{ IOASID_MAP, sizeof(struct ioasid_map) },
	{ IOASID_UNMAP, sizeof(struct ioasid_unmap) },
	{ IOASID_COPY, sizeof(struct ioasid_copy) },
	{ IOASID_IOVA_RANGES, sizeof(struct ioasid_iova_ranges) },
	{ IOASID_OPTION, sizeof(struct ioasid_option) },
	{ IOASID_CREATE_NESTED, sizeof(struct ioasid_create_nested) },
	{ IOASID_SET_NESTED_PAGE_TABLES,
	  sizeof(struct ioasid_set_nested_page_tables) },
	{ IOASID_CREATE_DELEGATED, sizeof(struct ioasid_create_delegated) },
	{ IOASID_INVALIDATE, sizeof(struct ioasid_invalidate) },
	{ IOASID_GET_HW_INFO, sizeof(struct ioasid_hw_info) },
	{ IOASID_TEST, sizeof(struct ioasid_test_cmd) },
	/* The vfio container ones, which contexts answer too */
	{ VFIO_IOMMU_GET_INFO, sizeof(struct vfio_iommu_type1_info) },
	{ VFIO_IOMMU_MAP_DMA, sizeof(struct vfio_iommu_type1_dma_map) },
	{ VFIO_IOMMU_UNMAP_DMA, sizeof(struct vfio_iommu_type1_dma_unmap) },
	{ VFIO_IOMMU_DIRTY_PAGES,
	  sizeof(struct vfio_iommu_type1_dirty_bitmap) },
	/* The vfio device ones from here on */
	{ VFIO_DEVICE_BIND_IOASID_FD,
	  sizeof(struct vfio_device_bind_ioasid_fd) },
	{ VFIO_DEVICE_ATTACH_IOASID, sizeof(struct vfio_device_attach_ioasid) },
	{ VFIO_DEVICE_DETACH_IOASID, sizeof(struct vfio_device_detach_ioasid) },
	{ VFIO_DEVICE_ATTACH_IOASID_PASID,
	  sizeof(struct vfio_device_attach_ioasid_pasid) },
	{ VFIO_DEVICE_DETACH_IOASID_PASID,
	  sizeof(struct vfio_device_detach_ioasid_pasid) },
};

#define FZ_IOASID_IOCS	18

static bool fz_is_ioc(unsigned long nr)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fz_iocs); i++)
		if (fz_iocs[i].nr == nr)
			return true;
	return nr == VFIO_DEVICE_BIND_IOMMUFD ||
	       nr == VFIO_DEVICE_ATTACH_IOMMUFD_PT ||
	       nr == VFIO_DEVICE_DETACH_IOMMUFD_PT;
}

/* ioctls of /dev/ioasid and of vfio sent to fds of another kind */
static void op_wrong_fd(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	unsigned int i;
	uint8_t s[128];
	int fd, slot;

	i = fz_below(r, ARRAY_SIZE(fz_iocs));
	fz_lock(w);
	if (fz_chance(r, 40)) {
		/* A vfio fd as a context, a context as a vfio fd */
		slot = fz_vfio_pick(t);
		fd = i < FZ_IOASID_IOCS ?
		     (slot >= 0 ? w->vfio[slot].fd : -1) :
		     w->ctx[fz_below(r, FZ_CTXS)].fd;
	} else {
		fd = fz_wrong_fd(t);
	}
	fz_unlock(w);
	memset(s, 0, sizeof(s));
	fz_call(t, C_WRONG_FD, fd, fz_iocs[i].nr, s, fz_iocs[i].size, 0);
}

/* ioctl numbers near those of /dev/ioasid and vfio that mean nothing */
static void op_random_nr(struct fz_thread *t)
{
	static const unsigned int valid_nr[] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
		0x0a, 0x0b, 0x0c, 0x3f,
	};
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	unsigned long nr = 0;
	uint8_t s[128];
	int fd, slot;
	unsigned int i;
	long ret;

	fz_lock(w);
	slot = fz_vfio_pick(t);
	if (slot >= 0 && fz_chance(r, 30)) {
		fd = w->vfio[slot].fd;
		nr = _IO(VFIO_TYPE, VFIO_BASE + fz_below(r, 40));
	} else {
		fd = w->ctx[fz_below(r, FZ_CTXS)].fd;
		switch (fz_below(r, 6)) {
		case 5:
			/* The container's, in vfio's ioctl space */
			nr = _IO(VFIO_TYPE, VFIO_BASE + fz_below(r, 40));
			break;
		case 0:
			nr = _IO(IOASID_TYPE, 0x0d + fz_below(r, 0x3f - 0x0d));
			break;
		case 1:
			nr = _IO(IOASID_TYPE, 0x40 + fz_below(r, 0xc0));
			break;
		case 2:
			nr = _IOC(1 + fz_below(r, 3), IOASID_TYPE,
				  valid_nr[fz_below(r, ARRAY_SIZE(valid_nr))],
				  fz_below(r, 1 << 14));
			break;
		case 3:
			nr = _IO(fz_chance(r, 50) ? IOASID_TYPE - 1 :
				 IOASID_TYPE + 1, fz_below(r, 0x40));
			break;
		default:
			nr = ((uint32_t)fz_next(r) & ~0xff00U) |
			     (IOASID_TYPE << 8);
			break;
		}
	}
	fz_unlock(w);
	if (fz_is_ioc(nr))
		nr |= _IOC(_IOC_READ, 0, 0, 8);

	/* Random bytes: the kernel must not look at them */
	for (i = 0; i < sizeof(s); i++)
		s[i] = (uint8_t)fz_next(r);
	i = 8 * (1 + fz_below(r, 16));
	memcpy(s, &i, sizeof(i));
	memcpy(t->arg, s, sizeof(s));
	errno = 0;
	ret = ioctl(fd, nr, fz_chance(r, 90) ? (void *)t->arg : NULL);
	fz_count(t, C_RANDOM_NR, ret, errno);
	if (w->verbose)
		fprintf(stderr, "# t%u unknown ioctl fd %d nr %#lx: %ld\n",
			t->idx, fd, nr, ret);
}

/* @p and the page it starts lie in the anonymous or the shm pool */
static bool fz_in_pool(struct fz_world *w, const uint8_t *p)
{
	return (p >= w->anon && p + PAGE_SZ <= w->anon + FZ_ANON_LEN) ||
	       (p >= w->shm && p + PAGE_SZ <= w->shm + FZ_SHM_LEN);
}

/*
 * Write entries of a mock guest table into memory a mapping pins: mostly
 * valid entries pointing to other pages the same IOASID maps (GPAs), so
 * that nested DMA walks real tables while they change.
 */
static void fz_scribble(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	struct fz_map *m, *m2;
	uint64_t entry, gpa, pages2 = 0, iova2 = 0;
	uint8_t *host = NULL;
	uint64_t *page;
	unsigned int i, n;
	struct fz_ctx *c;

	fz_lock(w);
	c = &w->ctx[fz_below(r, FZ_CTXS)];
	m = fz_map_pick(t, c, 0, true);
	if (m && m->host) {
		host = m->host + PAGE_SZ * fz_below(r, fz_pages(m));
		m2 = fz_map_pick(t, c, m->ioasid, false);
		if (m2) {
			iova2 = m2->iova;
			pages2 = fz_pages(m2);
		}
	}
	fz_unlock(w);
	/* A mapping's memory is ours to write only where it is a pool's */
	if (!host || ((uintptr_t)host & (PAGE_SZ - 1)) || !fz_in_pool(w, host))
		return;

	page = (uint64_t *)host;
	n = 1 + fz_below(r, 8);
	for (i = 0; i < n; i++) {
		gpa = pages2 ? iova2 + PAGE_SZ * fz_below(r, pages2) :
			       PAGE_SZ * fz_below(r, 64);
		switch (fz_below(r, 8)) {
		case 5:
			entry = 0;
			break;
		case 6:
			entry = fz_next(r);
			break;
		case 7:
			entry = gpa | IOASID_MOCK_S1_PRESENT |
				(fz_next(r) & 0xff8);
			break;
		default:
			entry = (gpa & IOASID_MOCK_S1_ADDR) |
				IOASID_MOCK_S1_PRESENT |
				(fz_chance(r, 90) ? IOASID_MOCK_S1_READ : 0) |
				(fz_chance(r, 70) ? IOASID_MOCK_S1_WRITE : 0);
			break;
		}
		/* The IOMMU may be walking the table: one store per entry */
		__atomic_store_n(&page[fz_chance(r, 50) ? fz_below(r, 4) :
					fz_below(r, 512)], entry,
				 __ATOMIC_RELAXED);
	}
	fz_count(t, C_MEMORY, 0, 0);
}

/* Change the memory behind mappings: pins must hold the old pages */
static void op_memory(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	uint64_t off, len;
	long ret = 0;
	void *p;

	off = PAGE_SZ * fz_below(r, FZ_ANON_LEN / PAGE_SZ);
	len = PAGE_SZ * (1 + fz_below(r, 64));
	if (len > FZ_ANON_LEN - off)
		len = FZ_ANON_LEN - off;
	errno = 0;
	switch (fz_below(r, 10)) {
	case 0: case 1: case 2: case 3: case 4:
		fz_scribble(t);
		return;
	case 5: case 6:
		ret = madvise(w->anon + off, len, MADV_DONTNEED);
		break;
	case 7:
		p = mmap(w->anon + off, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE,
			 -1, 0);
		ret = p == MAP_FAILED ? -1 : 0;
		break;
	case 8:
		off = PAGE_SZ * fz_below(r, FZ_SHM_LEN / PAGE_SZ);
		len = PAGE_SZ * (1 + fz_below(r, 16));
		ret = fallocate(w->memfd, FALLOC_FL_PUNCH_HOLE |
				FALLOC_FL_KEEP_SIZE, off, len);
		break;
	default:
		ret = madvise(w->anon + (off & ~(SZ_2M - 1)), SZ_2M,
			      fz_chance(r, 50) ? MADV_HUGEPAGE :
						 MADV_NOHUGEPAGE);
		break;
	}
	fz_count(t, C_MEMORY, ret, errno);
}

/* --- a context as vfio container, and the groups set to it ---------------- */

/* The container ioctls, on a context whatever its state */
static void op_container(struct fz_thread *t)
{
	static const unsigned long types[] = {
		VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU, VFIO_TYPE1_NESTING_IOMMU,
		VFIO_NOIOMMU_IOMMU, 0, 12345,
	};
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	struct fz_snap sn;
	uint64_t iova;
	long ret;

	fz_lock(w);
	fz_snap(t, &sn, -1);
	iova = fz_pick_iova(t, sn.c);
	fz_unlock(w);

	switch (fz_below(r, 6)) {
	case 0:
		errno = 0;
		ret = ioctl(sn.fd, VFIO_SET_IOMMU,
			    types[fz_below(r, ARRAY_SIZE(types))]);
		fz_count(t, C_CONTAINER, ret, errno);
		break;
	case 1:
		errno = 0;
		ret = ioctl(sn.fd, VFIO_CHECK_EXTENSION,
			    fz_chance(r, 80) ? VFIO_DMA_CC_IOMMU :
					       fz_below(r, 12));
		fz_count(t, C_CONTAINER, ret < 0 ? -1 : 0, errno);
		break;
	case 2: {
		struct vfio_iommu_type1_info cmd = { .argsz = sizeof(cmd) };

		/* A larger argsz asks for the capabilities too */
		if (fz_chance(r, 50))
			FZ_CALL(t, C_CONTAINER, sn.fd, VFIO_IOMMU_GET_INFO,
				cmd, 0);
		else
			fz_call(t, C_CONTAINER, sn.fd, VFIO_IOMMU_GET_INFO,
				t->scratch, 16 + fz_below(r, 1024), 0);
		break;
	}
	case 3: {
		struct vfio_iommu_type1_dma_map cmd = { .argsz = sizeof(cmd) };
		uint64_t avail;
		uint8_t *host;

		cmd.flags = fz_chance(r, 90) ? VFIO_DMA_MAP_FLAG_READ |
					       VFIO_DMA_MAP_FLAG_WRITE :
					       fz_flags(t, 7);
		cmd.vaddr = fz_map_va(t, &avail, &host);
		cmd.size = fz_map_len(t, avail);
		cmd.iova = iova;
		/* vaddr and size: what the kernel pins by */
		FZ_CALL(t, C_CONTAINER, sn.fd, VFIO_IOMMU_MAP_DMA, cmd,
			FZ_SLOT(1) | FZ_SLOT(3));
		break;
	}
	case 4: {
		struct vfio_iommu_type1_dma_unmap cmd = {
			.argsz = sizeof(cmd),
		};

		if (fz_chance(r, 20)) {
			cmd.flags = VFIO_DMA_UNMAP_FLAG_ALL;
		} else {
			cmd.iova = iova;
			cmd.size = fz_pick_len(t);
		}
		FZ_CALL(t, C_CONTAINER, sn.fd, VFIO_IOMMU_UNMAP_DMA, cmd, 0);
		break;
	}
	default: {
		struct vfio_iommu_type1_dirty_bitmap cmd = {
			.argsz = sizeof(cmd),
			.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
		};

		FZ_CALL(t, C_CONTAINER, sn.fd, VFIO_IOMMU_DIRTY_PAGES, cmd, 0);
		break;
	}
	}
}

/* A group ioctl; ret is what the ioctl returned, counted as 0 or -1 */
static long fz_group_call(struct fz_thread *t, int group, unsigned long nr,
			  void *arg)
{
	long ret;

	errno = 0;
	ret = ioctl(group, nr, arg);
	fz_count(t, C_GROUP, ret < 0 ? -1 : 0, errno);
	if (t->w->verbose)
		fprintf(stderr, "# t%u group fd %d nr %#lx: %ld %s\n", t->idx,
			group, nr, ret, ret < 0 ? strerror(errno) : "");
	return ret;
}

/*
 * The group of a mock vfio device set to a context, as vfio users do,
 * while the other threads map, unmap, set the IOMMU type and close that
 * context: set, maybe the IOMMU type, maybe a device opened through the
 * group (bound and attached) and closed, unset, or just closed with the
 * group still set. A group is open once at a time: another thread's open
 * of it fails with EBUSY.
 */
static void op_group(struct fz_thread *t)
{
	struct fz_world *w = t->w;
	struct fz_rng *r = &t->rng;
	uint32_t index = ~0U;
	struct fz_idrec *e;
	struct fz_snap sn;
	int group, dev, ctx;
	char name[64];
	long ret;

	fz_lock(w);
	e = fz_rec(t, &w->ctx[fz_below(r, FZ_CTXS)], KM(K_MOCK));
	if (e)
		index = e->aux;
	fz_snap(t, &sn, -1);
	ctx = fz_chance(r, 90) ? sn.fd : fz_wrong_fd(t);
	fz_unlock(w);
	/* Only devices of ours: never a real device bound to vfio */
	if (index == ~0U)
		return;

	group = group_of_index(index, name, sizeof(name));
	fz_count(t, C_GROUP, group < 0 ? -1 : 0, errno);
	if (group < 0)
		return;
	if (fz_group_call(t, group, VFIO_GROUP_SET_CONTAINER, &ctx) < 0 ||
	    fz_chance(r, 10))
		goto out_close;
	if (fz_chance(r, 70))
		op_container(t);
	if (fz_chance(r, 70)) {
		errno = 0;
		ret = ioctl(sn.fd, VFIO_SET_IOMMU, fz_chance(r, 50) ?
			    VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU);
		fz_count(t, C_CONTAINER, ret, errno);
	}
	if (fz_chance(r, 60)) {
		dev = fz_group_call(t, group, VFIO_GROUP_GET_DEVICE_FD, name);
		if (dev >= 0) {
			/* Unset refuses while a device is open */
			if (fz_chance(r, 20))
				fz_group_call(t, group,
					      VFIO_GROUP_UNSET_CONTAINER, NULL);
			if (fz_chance(r, 50))
				op_container(t);
			close(dev);
		}
	}
	if (fz_chance(r, 80))
		fz_group_call(t, group, VFIO_GROUP_UNSET_CONTAINER, NULL);
out_close:
	/* Closed set, the group leaves its container on release */
	if (close(group))
		t->st.close_failed++;
}

/* --- the run -------------------------------------------------------------- */

static const struct {
	void (*fn)(struct fz_thread *t);
	unsigned int weight;
} fz_ops[] = {
	{ op_create, 12 },
	{ op_destroy, 7 },
	{ op_get_info, 3 },
	{ op_map, 28 },
	{ op_unmap, 13 },
	{ op_copy, 8 },
	{ op_iova_ranges, 4 },
	{ op_option, 3 },
	{ op_create_nested, 7 },
	{ op_set_tables, 8 },
	{ op_create_delegated, 6 },
	{ op_invalidate, 8 },
	{ op_hw_info, 4 },
	{ op_mock_create, 6 },
	{ op_mock_destroy, 2 },
	{ op_mock_bind, 8 },
	{ op_mock_unbind, 2 },
	{ op_mock_attach, 14 },
	{ op_mock_detach, 3 },
	{ op_dma, 16 },
	{ op_fail, 2 },
	{ op_test_other, 2 },
	{ op_access_create, 3 },
	{ op_access_attach, 5 },
	{ op_access_detach, 2 },
	{ op_access_pin, 8 },
	{ op_access_unpin, 4 },
	{ op_access_rw, 6 },
	{ op_access_mode, 2 },
	{ op_access_info, 2 },
	{ op_access_close, 2 },
	{ op_vfio_open, 4 },
	{ op_vfio_bind, 6 },
	{ op_vfio_attach, 6 },
	{ op_vfio_detach, 2 },
	{ op_vfio_attach_pasid, 4 },
	{ op_vfio_detach_pasid, 2 },
	{ op_vfio_iommufd, 1 },
	{ op_vfio_read, 2 },
	{ op_vfio_close, 2 },
	{ op_ctx_reopen, 1 },
	{ op_random_nr, 4 },
	{ op_wrong_fd, 4 },
	{ op_memory, 6 },
	{ op_container, 6 },
	{ op_group, 3 },
};

static void *fz_worker(void *arg)
{
	struct fz_thread *t = arg;
	struct fz_world *w = t->w;
	unsigned int total = 0, i, pick;
	uint64_t n;
	int slot;

	for (i = 0; i < ARRAY_SIZE(fz_ops); i++)
		total += fz_ops[i].weight;
	for (n = 0; fz_now() < w->deadline; n++) {
		if (__atomic_load_n(&w->stop, __ATOMIC_RELAXED))
			break;
		/* Page tables and areas grow with MAPs: recycle */
		if (!(n & 31)) {
			fz_lock(w);
			slot = fz_below(&t->rng, FZ_CTXS);
			if (w->ctx[slot].nmaps < FZ_CTX_MAPS)
				slot = -1;
			fz_unlock(w);
			if (slot >= 0)
				fz_ctx_reopen(t, slot);
		}
		pick = fz_below(&t->rng, total);
		for (i = 0; pick >= fz_ops[i].weight; i++)
			pick -= fz_ops[i].weight;
		fz_ops[i].fn(t);
	}
	t->done = true;
	return NULL;
}

/* --- setup and the report ------------------------------------------------- */

static unsigned long fz_env(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (!s || !*s)
		return def;
	v = strtoul(s, &end, 0);
	return *end ? def : v;
}

static unsigned int fz_seconds(void)
{
	unsigned long s = fz_env("IOASID_FUZZ_SECONDS", 15);

	return s ? (s < 86400 ? s : 86400) : 1;
}

/* The harness's timeout: the run, and time to tear everything down */
static int fz_timeout(void)
{
	return fz_seconds() + 120;
}

/* A PROT_NONE area with [off, off + len) made read-write */
static int fz_open_up(uint8_t *base, size_t off, size_t len)
{
	return mprotect(base + off, len, PROT_READ | PROT_WRITE);
}

static int fz_thread_init(struct fz_world *w, struct fz_thread *t,
			  unsigned int idx)
{
	uint8_t *p;

	memset(t, 0, sizeof(*t));
	t->canary = FZ_CANARY;
	t->canary_end = FZ_CANARY;
	t->w = w;
	t->idx = idx;
	t->rng.s = w->seed + 0x1000 * (idx + 1);
	t->new_afd = -1;
	p = mmap(NULL, FZ_REGION_LEN, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	t->region = p;
	/* guard, arg, guard, ro, guard, data, guard, scratch, guard */
	t->arg = p + PAGE_SZ;
	t->ro = t->arg + FZ_ARG_LEN + PAGE_SZ;
	t->data = t->ro + 2 * PAGE_SZ;
	t->scratch = t->data + FZ_DATA_LEN + PAGE_SZ;
	if (fz_open_up(t->arg, 0, FZ_ARG_LEN) ||
	    fz_open_up(t->data, 0, FZ_DATA_LEN) ||
	    fz_open_up(t->scratch, 0, FZ_SCRATCH_LEN) ||
	    mprotect(t->ro, PAGE_SZ, PROT_READ))
		return -1;
	return 0;
}

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

/* A memfd; not executable where the kernel knows to say so */
static int fz_memfd(const char *name, unsigned int flags)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_NOEXEC_SEAL | flags);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | flags);
	return fd;
}

static int fz_pools_init(struct fz_world *w)
{
	char path[64];
	void *p;

	p = mmap(NULL, FZ_RESV_LEN + SZ_2M, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	w->resv_map = p;
	w->resv = (uint8_t *)(((uintptr_t)p + SZ_2M - 1) & ~(SZ_2M - 1));

	w->anon = w->resv + FZ_ANON_OFF;
	if (fz_open_up(w->anon, 0, FZ_ANON_LEN))
		return -1;
	madvise(w->anon, FZ_ANON_LEN, MADV_HUGEPAGE);
	fill_pattern(w->anon, FZ_ANON_LEN, 1);

	w->memfd = fz_memfd("ioasid_fuzz", 0);
	if (w->memfd < 0 || ftruncate(w->memfd, FZ_SHM_LEN))
		return -1;
	p = mmap(w->resv + FZ_SHM_OFF, FZ_SHM_LEN, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, w->memfd, 0);
	if (p == MAP_FAILED)
		return -1;
	w->shm = p;
	fill_pattern(w->shm, FZ_SHM_LEN, 2);

	w->ro = w->resv + FZ_RO_OFF;
	if (fz_open_up(w->ro, 0, FZ_RO_LEN))
		return -1;
	fill_pattern(w->ro, FZ_RO_LEN, 3);
	if (mprotect(w->ro, FZ_RO_LEN, PROT_READ))
		return -1;

	/* A memfd sealed against writes, and the shm memfd open read-only */
	w->sealed_fd = fz_memfd("ioasid_fuzz_sealed", MFD_ALLOW_SEALING);
	if (w->sealed_fd < 0 || ftruncate(w->sealed_fd, FZ_SEALED_LEN) ||
	    pwrite(w->sealed_fd, "ioasid", 6, 0) != 6 ||
	    fcntl(w->sealed_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK |
		  F_SEAL_GROW | F_SEAL_SEAL))
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", w->memfd);
	w->ro_fd = open(path, O_RDONLY | O_CLOEXEC);

	if (pipe2(w->pipe_fd, O_CLOEXEC))
		return -1;
	w->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	w->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	return 0;
}

static struct fz_world *fz_world_new(const char *variant,
				     unsigned int nthreads, unsigned int share)
{
	struct fz_world *w;
	unsigned int i, j;
	double secs;

	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->canary = FZ_CANARY;
	w->canary_end = FZ_CANARY;
	w->memfd = -1;
	w->sealed_fd = -1;
	w->ro_fd = -1;
	w->null_fd = -1;
	w->iommufd = -1;
	w->pipe_fd[0] = -1;
	w->pipe_fd[1] = -1;
	pthread_mutex_init(&w->lock, NULL);
	for (i = 0; i < FZ_CTXS; i++) {
		w->ctx[i].fd = -1;
		for (j = 0; j < FZ_ACCESSES; j++)
			w->ctx[i].acc[j].fd = -1;
	}
	w->dead_afd = -1;
	for (i = 0; i < FZ_VFIOS; i++) {
		w->vfio[i].fd = -1;
		w->vfio[i].ctx = -1;
	}
	w->variant = variant;
	w->seconds = fz_seconds();
	w->nthreads = nthreads ? nthreads :
		      fz_env("IOASID_FUZZ_THREADS", 3) ?: 1;
	if (w->nthreads > 64)
		w->nthreads = 64;
	w->verbose = fz_env("IOASID_FUZZ_VERBOSE", 0);
	if (getenv("IOASID_FUZZ_SEED")) {
		w->seed = strtoull(getenv("IOASID_FUZZ_SEED"), NULL, 0);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		w->seed = ((uint64_t)ts.tv_sec << 20) ^ ts.tv_nsec ^
			  ((uint64_t)getpid() << 40);
	}
	secs = w->seconds * share / 100.0;
	w->deadline = fz_now() + (secs < 1 ? 1 : secs);
	return w;
}

static void fz_print(struct fz_world *w, struct fz_stats *tot, double secs)
{
	uint64_t calls = 0, ok = 0, odd = 0;
	unsigned int c, e;
	char line[1024];
	int n;

	for (c = 0; c < C_NR; c++) {
		calls += tot->calls[c];
		ok += tot->ok[c];
	}
	ksft_print_msg("%s: %llu calls, %llu ok, %.1f s, %u threads, seed %llu\n",
		       w->variant, (unsigned long long)calls,
		       (unsigned long long)ok, secs, w->nthreads,
		       (unsigned long long)w->seed);
	for (c = 0; c < C_NR; c++) {
		if (!tot->calls[c])
			continue;
		n = snprintf(line, sizeof(line), "%-26s %7llu calls %7llu ok",
			     fz_class_name[c],
			     (unsigned long long)tot->calls[c],
			     (unsigned long long)tot->ok[c]);
		for (e = 0; e <= FZ_NERRNO && n < (int)sizeof(line) - 40; e++) {
			unsigned long long cnt = tot->err[c][e];

			if (!cnt)
				continue;
			if (e < FZ_NERRNO && fz_errno_name[e])
				n += snprintf(line + n, sizeof(line) - n,
					      " %s:%llu", fz_errno_name[e],
					      cnt);
			else
				n += snprintf(line + n, sizeof(line) - n,
					      " errno%u:%llu", e, cnt);
		}
		if (tot->bad_ret[c])
			snprintf(line + n, sizeof(line) - n,
				 " BAD-RETURN:%llu",
				 (unsigned long long)tot->bad_ret[c]);
		ksft_print_msg("  %s\n", line);
	}
	for (c = 0; c < C_NR; c++) {
		for (e = 1; e <= FZ_NERRNO; e++) {
			if (!tot->err[c][e] ||
			    (e < FZ_NERRNO && fz_errno_expected(c, e)))
				continue;
			/* Memory syscalls and opens have errnos of their own */
			if (c == C_MEMORY || c == C_V_OPEN)
				continue;
			odd += tot->err[c][e];
			ksft_print_msg("unexpected errno %u (%s), %s: %llu\n",
				       e, e < FZ_NERRNO ? strerror(e) : "?",
				       fz_class_name[c],
				       (unsigned long long)tot->err[c][e]);
		}
	}
	if (odd)
		ksft_print_msg("%llu unexpected errnos, logged, not failed\n",
			       (unsigned long long)odd);
}

/* Cancel the mock IOMMU's global fault injection; other tests follow */
static void fz_cancel_faults(void)
{
	int fd = ioasid_open();

	if (fd < 0)
		return;
	mock_fail_map(fd, -1);
	mock_fail_invalidate(fd, -1);
	close(fd);
}

FIXTURE(fuzz) {
	struct fz_world *w;
};

FIXTURE_VARIANT(fuzz) {
	const char *name;
	unsigned int threads;	/* 0: IOASID_FUZZ_THREADS, default 3 */
	unsigned int share;	/* percent of IOASID_FUZZ_SECONDS */
};

/* One thread: a seed replays the same sequence of calls */
FIXTURE_VARIANT_ADD(fuzz, serial) {
	.name = "serial",
	.threads = 1,
	.share = 40,
};

/* Several: ioctls race each other and the closes of their fds */
FIXTURE_VARIANT_ADD(fuzz, threads) {
	.name = "threads",
	.threads = 0,
	.share = 60,
};

FIXTURE_SETUP(fuzz)
{
	struct ioasid_test_cmd cmd = { .fail_map = { .after = -1 } };
	struct fz_world *w;
	unsigned int i;
	int fd, rc;

	fd = ioasid_open();
	if (fd < 0)
		SKIP(return, "no /dev/ioasid (CONFIG_IOASID)");
	rc = ioasid_test(fd, IOASID_TEST_FAIL_MAP, 0, &cmd);
	close(fd);
	if (rc == ENOTTY)
		SKIP(return, "no IOASID_TEST (CONFIG_IOASID_TEST)");
	ASSERT_EQ(0, rc);

	w = fz_world_new(variant->name, variant->threads, variant->share);
	ASSERT_NE(NULL, w);
	self->w = w;
	ksft_print_msg("%s: seed %llu, %.1f of %u s, %u thread(s)\n",
		       w->variant, (unsigned long long)w->seed,
		       w->seconds * variant->share / 100.0, w->seconds,
		       w->nthreads);
	ksft_print_msg("replay: IOASID_FUZZ_SEED=%llu IOASID_FUZZ_SECONDS=%u ioasid_fuzz -v %s\n",
		       (unsigned long long)w->seed, w->seconds, w->variant);
	ASSERT_EQ(0, fz_pools_init(w));
	for (i = 0; i < FZ_CTXS; i++) {
		w->ctx[i].fd = ioasid_open();
		ASSERT_LE(0, w->ctx[i].fd);
	}
	w->threads = calloc(w->nthreads, sizeof(*w->threads));
	ASSERT_NE(NULL, w->threads);
	for (i = 0; i < w->nthreads; i++)
		ASSERT_EQ(0, fz_thread_init(w, &w->threads[i], i));
	w->base_locked = locked_pages();
	w->base_pinned = pinned_pages();
}

FIXTURE_TEARDOWN(fuzz)
{
	struct fz_world *w = self->w;
	unsigned int i, j;

	fz_cancel_faults();
	if (!w)
		return;
	/* A failed ASSERT may have left threads running */
	__atomic_store_n(&w->stop, true, __ATOMIC_RELAXED);
	for (i = 0; w->threads && i < w->nthreads; i++)
		if (w->threads[i].started && !w->threads[i].joined)
			pthread_join(w->threads[i].tid, NULL);
	for (i = 0; i < FZ_VFIOS; i++)
		if (w->vfio[i].fd >= 0)
			close(w->vfio[i].fd);
	for (i = 0; i < FZ_CTXS; i++)
		if (w->ctx[i].fd >= 0)
			close(w->ctx[i].fd);
	for (i = 0; i < FZ_CTXS; i++)
		for (j = 0; j < FZ_ACCESSES; j++)
			if (w->ctx[i].acc[j].fd >= 0)
				close(w->ctx[i].acc[j].fd);
	if (w->threads)
		for (i = 0; i < w->nthreads; i++)
			if (w->threads[i].region)
				munmap(w->threads[i].region, FZ_REGION_LEN);
	free(w->threads);
	if (w->resv_map)
		munmap(w->resv_map, FZ_RESV_LEN + SZ_2M);
	close(w->memfd);
	close(w->sealed_fd);
	close(w->ro_fd);
	close(w->null_fd);
	close(w->iommufd);
	close(w->pipe_fd[0]);
	close(w->pipe_fd[1]);
	free(w);
}

/*
 * Close the access fds the model lost: those of calls mutated into
 * IOASID_TEST_ACCESS_CREATE whose answer was too short to name the fd.
 * Return: how many there were.
 */
static unsigned int fz_sweep_accesses(void)
{
	static const char name[] = "anon_inode:[ioasid_mock_access]";
	unsigned int i, n = 0;
	char path[64], link[64];
	struct dirent *de;
	int fds[256], fd;
	ssize_t len;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < ARRAY_SIZE(fds)) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (!strcmp(link, name))
			fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
	return n;
}

/* After the fuzzing: the kernel still maps, attaches and translates DMA */
static void fz_probe(struct __test_metadata *_metadata, struct fz_world *w)
{
	uint32_t ioasid, mock, dev;
	uint64_t iova = 16 * SZ_2M;
	struct dma_result res;
	uint8_t got[64];
	int fd;

	fd = ioasid_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mock_fail_map(fd, -1));
	ASSERT_EQ(0, mock_fail_invalidate(fd, -1));
	ASSERT_EQ(0, ioasid_create(fd, &ioasid));
	/* Fresh pages: the pool may have been dropped under old mappings */
	ASSERT_EQ(0, madvise(w->anon, PAGE_SZ, MADV_DONTNEED));
	fill_pattern(w->anon, PAGE_SZ, 77);
	ASSERT_EQ(0, ioasid_map_fixed(fd, ioasid, w->anon, PAGE_SZ, iova));
	ASSERT_EQ(0, mock_create(fd, 0, &mock));
	ASSERT_EQ(0, mock_bind(fd, mock, &dev));
	ASSERT_EQ(0, mock_attach(fd, mock, ioasid));
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mock_dma(fd, mock, iova, got, sizeof(got), false, &res));
	ASSERT_EQ(IOASID_TEST_FAULT_NONE, res.fault);
	ASSERT_EQ(sizeof(got), res.done);
	ASSERT_EQ(0, memcmp(got, w->anon, sizeof(got)));
	ASSERT_EQ(0, mock_destroy(fd, mock));
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid));
	ASSERT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(fuzz, run, fz_timeout())
{
	struct fz_world *w = self->w;
	struct fz_stats *tot;
	uint64_t ok = 0, bad_ret = 0, close_failed = 0;
	double start = fz_now(), secs;
	unsigned int i, j, c, e, lost;
	int waited;

	for (i = 0; i < w->nthreads; i++) {
		ASSERT_EQ(0, pthread_create(&w->threads[i].tid, NULL,
					    fz_worker, &w->threads[i]));
		w->threads[i].started = true;
	}
	for (i = 0; i < w->nthreads; i++) {
		ASSERT_EQ(0, pthread_join(w->threads[i].tid, NULL));
		w->threads[i].joined = true;
	}
	secs = fz_now() - start;

	/* Nothing the kernel wrote landed in our own state */
	ASSERT_EQ(FZ_CANARY, w->canary);
	ASSERT_EQ(FZ_CANARY, w->canary_end);
	tot = calloc(1, sizeof(*tot));
	ASSERT_NE(NULL, tot);
	for (i = 0; i < w->nthreads; i++) {
		struct fz_thread *t = &w->threads[i];

		ASSERT_EQ(FZ_CANARY, t->canary);
		ASSERT_EQ(FZ_CANARY, t->canary_end);
		ASSERT_TRUE(t->done);
		for (c = 0; c < C_NR; c++) {
			tot->calls[c] += t->st.calls[c];
			tot->ok[c] += t->st.ok[c];
			tot->bad_ret[c] += t->st.bad_ret[c];
			for (e = 0; e <= FZ_NERRNO; e++)
				tot->err[c][e] += t->st.err[c][e];
		}
		close_failed += t->st.close_failed;
	}
	fz_print(w, tot, secs);
	for (c = 0; c < C_NR; c++) {
		ok += tot->ok[c];
		bad_ret += tot->bad_ret[c];
	}
	/* Every ioctl said 0 or -1 */
	EXPECT_EQ(0, bad_ret);
	/* The fuzzer reached real objects */
	EXPECT_LT(0, ok);
	EXPECT_LT(0, tot->ok[C_CREATE]);
	EXPECT_LT(0, tot->ok[C_MAP]);
	EXPECT_LT(0, tot->ok[C_ACCESS_CREATE]);
	free(tot);

	/*
	 * Everything closes, in any order: vfio fds first, then contexts,
	 * then the accesses, which hold theirs open
	 */
	for (i = 0; i < FZ_VFIOS; i++) {
		if (w->vfio[i].fd < 0)
			continue;
		EXPECT_EQ(0, close(w->vfio[i].fd));
		w->vfio[i].fd = -1;
	}
	for (i = 0; i < FZ_CTXS; i++) {
		if (w->ctx[i].fd < 0)
			continue;
		EXPECT_EQ(0, close(w->ctx[i].fd));
		w->ctx[i].fd = -1;
	}
	for (i = 0; i < FZ_CTXS; i++) {
		for (j = 0; j < FZ_ACCESSES; j++) {
			if (w->ctx[i].acc[j].fd < 0)
				continue;
			EXPECT_EQ(0, close(w->ctx[i].acc[j].fd));
			w->ctx[i].acc[j].fd = -1;
		}
	}
	lost = fz_sweep_accesses();
	if (lost)
		ksft_print_msg("%u access fds the model lost, closed\n", lost);
	EXPECT_EQ(0, close_failed);

	fz_probe(_metadata, w);

	/* Every pin was dropped with the contexts: the charge is back */
	for (waited = 0; waited < 20; waited++) {
		if (locked_pages() == w->base_locked &&
		    pinned_pages() == w->base_pinned)
			break;
		usleep(100 * 1000);
	}
	EXPECT_EQ(w->base_locked, locked_pages());
	EXPECT_EQ(w->base_pinned, pinned_pages());
}

TEST_HARNESS_MAIN
