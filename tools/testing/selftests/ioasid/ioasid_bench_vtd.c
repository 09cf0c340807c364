// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioasid_bench_vtd: the same MAP/UNMAP work through vfio type1, the vfio
 * container shim of /dev/ioasid, iommufd and /dev/ioasid, on the same real
 * IOMMU driver: QEMU's edu device behind its emulated Intel VT-d (caching
 * mode), bound to vfio-pci.
 *
 * A benchmark, not a test: it prints figures and ratios and never judges
 * them. It exits 1 when a setup call fails (it says which) or when a MAP,
 * UNMAP, COPY or ATTACH fails for another reason than lack of memory (or,
 * in the scale row, type1's ENOSPC past its dma_entry_limit); otherwise 0.
 * A stack the kernel lacks (a device node or ioctl missing, or, for the
 * shim, a vfio that takes no /dev/ioasid file as container) gets "-" in
 * every column; so do the rows a stack cannot do.
 *
 *   ioasid_bench_vtd [--short] [--reps N] [--scale] [--rows LIST]
 *                    [--backings LIST] [--size MIB] [--no-counts]
 *
 * --short runs map64M, small2M, unplug2M, fill, copy, floor, iommu and
 * readback with SIZE 128 MiB and 3 repetitions; the full run (no option)
 * every row with SIZE 512 MiB and 5 repetitions, 25 for a backing where
 * some stack takes under 2 ms for a timed part of the row in each of the
 * 5 (QUICK_MS). --rows (map64M, map512M, small2M, unplug2M, fill, copy,
 * floor, iommu, readback, scale), --backings (4k, thp, hugetlb), --reps
 * (which fixes the number) and --size (64 to 512 MiB) narrow either down,
 * to fit a time budget: a line "# ran ROW BACKING in N s" follows every
 * row as it completes.
 *
 * The stacks, each owning the device in turn, never two at once:
 * - type1: /dev/vfio/vfio, the device's group /dev/vfio/<group>,
 *   VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU),
 *   VFIO_GROUP_GET_DEVICE_FD; VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA.
 * - shim: type1's flow, calls and rows, the container being a /dev/ioasid
 *   file, which answers the container ioctls itself (the vfio container
 *   shim, drivers/ioasid/vfio_compat.c): /dev/ioasid, the group,
 *   VFIO_GROUP_SET_CONTAINER, VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU),
 *   VFIO_GROUP_GET_DEVICE_FD; VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA.
 *   What a program written for type1 gets by opening /dev/ioasid instead.
 * - iommufd: /dev/iommu, the device's cdev /dev/vfio/devices/vfioN,
 *   VFIO_DEVICE_BIND_IOMMUFD, IOMMU_IOAS_ALLOC,
 *   VFIO_DEVICE_ATTACH_IOMMUFD_PT; IOMMU_IOAS_MAP (FIXED_IOVA, read and
 *   write), IOMMU_IOAS_UNMAP, IOMMU_IOAS_COPY.
 * - ioasid: /dev/ioasid, the cdev, VFIO_DEVICE_BIND_IOASID_FD,
 *   IOASID_CREATE, VFIO_DEVICE_ATTACH_IOASID; IOASID_MAP (FIXED_IOVA, read
 *   and write), IOASID_UNMAP, IOASID_COPY.
 *
 * Method. One boot. One buffer per backing, faulted in before anything is
 * timed and used by all four stacks in turn, freed once the backing's
 * rows are done:
 * - 4k: anonymous, MADV_NOHUGEPAGE, faulted in a scattered order so that
 *   no two neighbouring pages are physically contiguous (one IOMMU page
 *   per 4 KiB);
 * - thp: anonymous, 2 MiB aligned, MADV_HUGEPAGE, at least 90% of it in
 *   huge pages (AnonHugePages) or the backing is skipped;
 * - hugetlb: 2 MiB pages reserved through /proc/sys/vm/nr_hugepages and
 *   given back afterwards.
 * Repetitions are interleaved, the stacks a row runs in the orders of a
 * balanced Latin square (rep_slot(); with all four: type1, shim, ioasid,
 * iommufd; then shim, iommufd, type1, ioasid; ...), in whose rows each
 * stack comes right after each other once, so that what one leaves behind
 * (memory to free, deferred work) is not always charged to the same other.
 * In one fixed order, ioasid, always right after iommufd, took 25% longer
 * than the shim, the same kernel path, for the 64 MiB THP MAP in one boot.
 * Each runs in a fresh context (container, /dev/iommu or /dev/ioasid file,
 * the device bound anew), so every MAP starts from an empty domain. The
 * device is attached before anything is timed, except where attaching is
 * what is timed. Figures are medians over the repetitions, timed with
 * CLOCK_MONOTONIC (under TCG, emulated time), reported with the ratios
 * ioasid/iommufd, ioasid/type1 and shim/type1 (the shim's target: no more
 * than 1.0 on every row type1 has, with every backing).
 *
 * Everything is mapped from IOVA 1 GiB up, 1 GiB aligned so that any stack
 * may use the largest pages the memory allows. edu's 28-bit DMA mask only
 * limits the device's own DMA, which this program never starts; the
 * domains take any IOVA of VT-d's aperture outside the reserved regions,
 * which are read from /sys/kernel/iommu_groups/<group>/reserved_regions
 * and must miss [1 GiB, 1 GiB + 800 MiB) (x86's MSI window, 0xfee00000,
 * lies above it).
 *
 * Rows (each with every backing unless said otherwise); SIZE is 512 MiB,
 * 128 MiB with --short, or --size:
 * - map64M, map512M: one MAP of the whole buffer, then one UNMAP of it;
 *   both timed. The memory column is the kernel memory the MAP took:
 *   SUnreclaim + SecPageTables (IOMMU page tables, iommu-pages.h) +
 *   VmallocUsed of /proc/meminfo, read after settling (RCU grace, every
 *   slab cache shrunk, per-CPU counters folded), scaled to KiB per mapped
 *   GiB. Its noise is measured first and printed.
 * - small2M: SIZE / 2 MiB MAPs of 2 MiB each over the buffer, as DPDK's
 *   memory segments or QEMU's RAM blocks, then as many UNMAPs of 2 MiB;
 *   the totals are timed.
 * - unplug2M, virtio-mem: every other 2 MiB block of SIZE is removed.
 *   ioasid maps SIZE in one MAP, into an IOASID created with a max_pgsize
 *   of 2 MiB as virtio-mem users declare their block size, and the timed
 *   part is its SIZE / 4 MiB UNMAPs of 2 MiB cut out of that one mapping.
 *   iommufd, type1 and the shim cannot cut a mapping (iommufd refuses to
 *   unmap part of an area, type1v2 to split a DMA mapping, and so does the
 *   shim's v2 container), so they map SIZE as 2 MiB blocks, untimed, and
 *   the timed part is their UNMAPs of the same blocks. Its MAP column is
 *   "-".
 * - fill: ioasid and iommufd only (type1's container, like the shim's,
 *   gets its domain with its first group, before it can map anything).
 *   SIZE is mapped into an empty IOAS or IOASID with no device attached,
 *   then the device is attached, which fills its new domain: the ATTACH
 *   is the figure. The MAP before it is timed too, as the first column:
 *   for ioasid it pins the memory with no domain to map it into, "pin
 *   only", the physical floor of pinning. iommufd pins nothing until a
 *   domain needs the pages, so its MAP is bookkeeping and its ATTACH pins
 *   as well.
 * - copy: ioasid and iommufd only. SIZE is mapped into a source IOAS with
 *   no device (untimed), the device is attached to a second, empty one,
 *   then the COPY of SIZE from source to destination is timed, and the
 *   UNMAP of the copy. ioasid pinned at the source's MAP, so its COPY only
 *   maps; iommufd pins at the COPY, into the first domain needing the
 *   pages, and unpins at the UNMAP.
 * - floor: ioasid only. SIZE is mapped into an IOASID no device is
 *   attached to, then unmapped: pinning and unpinning with no IOMMU work,
 *   the floor under the MAP and UNMAP of the other rows (iommufd and type1
 *   pin only for a domain, so they have no such figure; the shim pins as
 *   ioasid does, over the same floor).
 * - iommu, readback: 4k only, and only on a kernel with CONFIG_IOASID_TEST
 *   (IOASID_TEST_IOMMU_FLOOR; "-" without). The IOMMU's own work for SIZE
 *   of 4 KiB pages, none physically next to another, in the domain of an
 *   attached IOASID, with nothing pinned and no bookkeeping, timed in the
 *   kernel: one iommu_map call a page and one IOTLB sync, then one unmap of
 *   it all with one flush (iommu); reading every frame back with
 *   iommu_iova_to_phys(), which any stack that keeps no frame of its own
 *   must do before it unpins (readback). With floor, the physical floor of
 *   each stack's MAP and UNMAP of 4 KiB-backed memory.
 * - scale (full run, --scale or --rows scale; none with --short alone):
 *   one context per repetition, the device attached, 4k backing: 1000,
 *   10000 and (not with --short) 100000 MAPs of 4 KiB, each its own page at
 *   its own IOVA, 8 KiB apart so that nothing merges. Per level, in us per
 *   operation: the MAPs that brought the count to N (their mean); 100 MAPs
 *   of 4 KiB right over existing mappings spread over all of them, expected
 *   to fail with EEXIST (the lookup), and 100 UNMAPs of one 4 KiB mapping
 *   each (mapped back, untimed), each timed on its own for the median of
 *   the 100, which a stall of the emulator does not move as it moves a
 *   mean; and the kernel memory per mapping of that batch of
 *   MAPs, in bytes. type1's dma_entry_limit (65535) is raised for it while
 *   the program runs, if it can be. The shim has no such limit: an ENOSPC
 *   of its is a failure. On a kernel with CONFIG_IOASID_TEST, a line per
 *   level gives the IOMMU's own part of one such MAP and UNMAP, in the
 *   kernel: IOASID_TEST_IOMMU_FLOOR of one page (map and IOTLB sync, unmap
 *   and flush), 100 times in the free 4 KiB next to the probed mappings
 *   (medians).
 *   Another gives the least any stack's one-page MAP and UNMAP can cost
 *   there: IOASID_TEST_OP_FLOOR of one page not otherwise pinned (charge,
 *   pin, map and sync; unmap and flush, unpin, uncharge; no bookkeeping),
 *   timed in the kernel, plus the round trip of an ioctl that fails at
 *   once (the same op with no page), timed here; and that floor over
 *   type1's MAP and UNMAP of the level. Those pages are mapped and
 *   unmapped one at a time, so each UNMAP finds what it touches hot. A
 *   third line gives the same floor cold: the op's work per page when it
 *   maps the row's first N pages (65536 at most) again, in a row past the
 *   row's IOVAs, and then unmaps them in a scattered order
 *   (IOASID_TEST_OP_FLOOR_SCATTER), so that each UNMAP finds its page
 *   table entry and struct page far from the last one's, among as many
 *   pages as the row holds (65536 at most); plus the same ioctl round
 *   trip.
 *
 * Counts. For each row and stack, one extra repetition, untimed, runs with
 * the ftrace function profiler on over its timed part (off during the
 * timed repetitions): set_ftrace_filter gets those of iommu_map,
 * iommu_map_nosync, iommu_map_sg, intel_iommu_iotlb_sync_map,
 * iommu_sync_map and qi_submit_sync that available_filter_functions lists;
 * writing 0 then 1 to function_profile_enabled zeroes the counters, and
 * the hits of trace_stat/function<cpu> are summed over the CPUs. "maps" is
 * the number of calls that map into an IOMMU domain: iommu_map +
 * iommu_map_sg + iommu_map_nosync (in this tree none calls another).
 * "syncs" is intel_iommu_iotlb_sync_map, "qi" every invalidation queued
 * to VT-d (qi_submit_sync), each a trap to QEMU under TCG. Without tracefs
 * or the profiler (CONFIG_FUNCTION_PROFILER), or with --no-counts, which
 * rig.sh profile passes so that no sample comes from a repetition under
 * ftrace, they print as "-".
 *
 * Output: a line "# ran ROW BACKING in N s" as each row completes, then a
 * table per row: for each backing and stack the medians of the two timed
 * parts in ms, maps, syncs, qi and, for map64M and map512M, KiB of kernel
 * memory per GiB mapped; ioasid's line adds its time ratios over iommufd
 * and over type1, part by part ("map/unmap"), and the shim's line its
 * time ratios over type1, in a column of their own (shim/type1). After
 * each table, one line per backing: "# ROW BACKING: ioasid/iommufd time R
 * [memory R]; ioasid/type1 time R [memory R]; shim/type1 time R [memory
 * R]; N reps, N s", the time ratio being over the sum of the timed parts, the
 * memory ratio "noise" where the other stack's figure is within twice the
 * memory noise plus the spread of its samples; "-" where either stack has
 * no figures. The scale table's ratio columns are the same, per operation
 * ("MAP/EEXIST/UNMAP").
 *
 * The VM of the rig has 2 GiB of RAM: no more than 512 MiB is ever pinned.
 * Debug options (lockdep, kmemleak, KASAN) tax the stacks unequally:
 * compare on a kernel without them.
 */
#include <assert.h>
#include <stdarg.h>
#include <sys/mount.h>

#define BENCH_PROG "ioasid_bench_vtd"
#define EDU_LOG_PREFIX BENCH_PROG ": edu: "
#include "bench_utils.h"
#include "ioasid_vfio_utils.h"
#include "edu.h"

#define SZ_128M		0x8000000UL
#define SZ_512M		0x20000000UL

/*
 * First IOVA of every row; the last one any row uses is below IOVA_END,
 * and the cold floor of the scale row's lies in [IOVA_END, IOVA_COLD_END)
 */
#define BENCH_IOVA	SZ_1G
#define SCALE_MAX	100000
#define SCALE_STRIDE	(2 * PAGE_SZ)
#define IOVA_END	(BENCH_IOVA + SCALE_MAX * SCALE_STRIDE)
/* Timed failing MAPs and UNMAPs per level of the scale row */
#define SCALE_PROBES	100
/* Most pages of the cold floor (IOASID_TEST_OP_FLOOR's), at IOVA_END */
#define SCALE_COLD	65536
#define IOVA_COLD_END	(IOVA_END + SCALE_COLD * PAGE_SZ)
#define MSI_WINDOW	0xfee00000UL

static_assert(BENCH_IOVA + SZ_512M <= IOVA_END &&
	      IOVA_COLD_END <= MSI_WINDOW,
	      "the rows must stay below x86's MSI window");
static_assert((SCALE_MAX + 1 + SCALE_PROBES) * PAGE_SZ <= SZ_512M,
	      "the scale row's pages must fit the 512 MiB buffer");

#define MAX_REPS	50

#define TRACEFS		"/sys/kernel/tracing"
#define TYPE1_MODULE	"/sys/module/vfio_iommu_type1"
#define TYPE1_LIMIT	TYPE1_MODULE "/parameters/dma_entry_limit"

static struct {
	bool short_run;
	bool scale;		/* --scale */
	bool no_counts;		/* --no-counts */
	int reps;		/* 0: 3 with --short, else 5 */
	uint64_t size;		/* SIZE of the rows that say so; 0: default */
	unsigned int rows;	/* bit per row; 0: by --short */
	unsigned int backings;	/* bit per backing; 0: all */
} opt;

static int exit_status;

/* The edu device, bound to vfio-pci */
static struct {
	char bdf[32];
	char group[16];
	char iommu[32];		/* its IOMMU instance, "dmar0" */
	unsigned int cdev;	/* N of /dev/vfio/devices/vfioN */
	bool has_cdev;
} dev;

/* --- the stacks --- */

enum { TYPE1, SHIM, IOMMUFD, IOASID, NR_STACKS };

/* One open context of a stack, the device bound to it */
struct sctx {
	int fd;			/* container, /dev/iommu or /dev/ioasid */
	int group_fd;		/* type1 and shim only */
	int dev_fd;		/* the device: from its group, or cdev */
};

struct stack {
	const char *name;
	/* type1's flow (type1, shim): the node opened as container */
	const char *container;
	/* Open a context and bind the device: 0 or an errno */
	int (*open)(const struct stack *s, struct sctx *c);
	/* A new empty I/O address space; type1 has one, its container */
	int (*space)(struct sctx *c, uint64_t max_pgsize, uint32_t *id);
	int (*attach)(struct sctx *c, uint32_t id);
	int (*map)(struct sctx *c, uint32_t id, void *va, uint64_t len,
		   uint64_t iova);
	/* Sets *done to the bytes unmapped */
	int (*unmap)(struct sctx *c, uint32_t id, uint64_t iova, uint64_t len,
		     uint64_t *done);
	int (*copy)(struct sctx *c, uint32_t dst, uint32_t src, uint64_t iova,
		    uint64_t len);
	bool cuts;		/* UNMAP may cut a mapping */
};

/* What a stack's open() or space() did last that failed */
static const char *failed_call;

/* Note the call that failed and give its errno */
static int call_failed(const char *call)
{
	int err = errno;

	failed_call = call;
	return err;
}

/* Note the call that failed, for a reason of our own: give @err */
static int call_refused(const char *call, int err)
{
	failed_call = call;
	return err;
}

/*
 * type1's flow, for type1 and the shim alike: only the container differs,
 * /dev/vfio/vfio or a /dev/ioasid file
 */
static int type1_open(const struct stack *s, struct sctx *c)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	static char open_call[64];
	char path[64];
	int rc;

	c->fd = open(s->container, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		rc = errno;
		snprintf(open_call, sizeof(open_call), "open %s", s->container);
		return call_refused(open_call, rc);
	}
	if (ioctl(c->fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return call_refused("VFIO_GET_API_VERSION", ENODEV);
	rc = ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	if (rc < 0)
		return call_failed("VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)");
	if (!rc)
		return call_refused("VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)",
				    ENODEV);
	snprintf(path, sizeof(path), "/dev/vfio/%s", dev.group);
	c->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->group_fd < 0)
		return call_failed("open /dev/vfio/<group>");
	if (ioctl(c->group_fd, VFIO_GROUP_GET_STATUS, &status))
		return call_failed("VFIO_GROUP_GET_STATUS");
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return call_refused("VFIO_GROUP_GET_STATUS: group not viable",
				    EBUSY);
	if (ioctl(c->group_fd, VFIO_GROUP_SET_CONTAINER, &c->fd))
		return call_failed("VFIO_GROUP_SET_CONTAINER");
	if (ioctl(c->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return call_failed("VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU)");
	c->dev_fd = ioctl(c->group_fd, VFIO_GROUP_GET_DEVICE_FD, dev.bdf);
	if (c->dev_fd < 0)
		return call_failed("VFIO_GROUP_GET_DEVICE_FD");
	return 0;
}

/* The container is the only address space, attached by VFIO_SET_IOMMU */
static int type1_space(struct sctx *c, uint64_t max_pgsize, uint32_t *id)
{
	*id = 0;
	return 0;
}

static int type1_attach(struct sctx *c, uint32_t id)
{
	return 0;
}

static int type1_map(struct sctx *c, uint32_t id, void *va, uint64_t len,
		     uint64_t iova)
{
	return vfio_map_dma(c->fd, va, iova, len, DMA_RW);
}

static int type1_unmap(struct sctx *c, uint32_t id, uint64_t iova,
		       uint64_t len, uint64_t *done)
{
	return vfio_unmap_dma(c->fd, iova, len, 0, done);
}

/* Open the device's vfio cdev */
static int cdev_open(struct sctx *c)
{
	if (!dev.has_cdev)
		return call_refused("no vfio cdev (CONFIG_VFIO_DEVICE_CDEV)",
				    ENOENT);
	c->dev_fd = vfio_open_index(dev.cdev);
	if (c->dev_fd < 0)
		return call_failed("open /dev/vfio/devices/vfioN");
	return 0;
}

static int iommufd_open(const struct stack *s, struct sctx *c)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	int rc;

	c->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return call_failed("open /dev/iommu");
	rc = cdev_open(c);
	if (rc)
		return rc;
	bind.iommufd = c->fd;
	if (ioctl(c->dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return call_failed("VFIO_DEVICE_BIND_IOMMUFD");
	return 0;
}

/* iommufd has no max_pgsize: it never cuts a mapping */
static int iommufd_space(struct sctx *c, uint64_t max_pgsize, uint32_t *id)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int rc = ioasid_call(c->fd, IOMMU_IOAS_ALLOC, &alloc);

	if (rc) {
		failed_call = "IOMMU_IOAS_ALLOC";
		return rc;
	}
	*id = alloc.out_ioas_id;
	return 0;
}

static int iommufd_attach(struct sctx *c, uint32_t id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = id,
	};

	return ioasid_call(c->dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
}

static int iommufd_map(struct sctx *c, uint32_t id, void *va, uint64_t len,
		       uint64_t iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = id,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return ioasid_call(c->fd, IOMMU_IOAS_MAP, &map);
}

static int iommufd_unmap(struct sctx *c, uint32_t id, uint64_t iova,
			 uint64_t len, uint64_t *done)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = id,
		.iova = iova,
		.length = len,
	};
	int rc = ioasid_call(c->fd, IOMMU_IOAS_UNMAP, &unmap);

	if (!rc)
		*done = unmap.length;
	return rc;
}

static int iommufd_copy(struct sctx *c, uint32_t dst, uint32_t src,
			uint64_t iova, uint64_t len)
{
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.dst_ioas_id = dst,
		.src_ioas_id = src,
		.length = len,
		.dst_iova = iova,
		.src_iova = iova,
	};

	return ioasid_call(c->fd, IOMMU_IOAS_COPY, &copy);
}

static int ioasid_stack_open(const struct stack *s, struct sctx *c)
{
	int rc;

	c->fd = ioasid_open();
	if (c->fd < 0)
		return call_failed("open /dev/ioasid");
	rc = cdev_open(c);
	if (rc)
		return rc;
	rc = vfio_bind_ioasid(c->dev_fd, c->fd, NULL);
	if (rc)
		failed_call = "VFIO_DEVICE_BIND_IOASID_FD";
	return rc;
}

static int ioasid_stack_space(struct sctx *c, uint64_t max_pgsize,
			      uint32_t *id)
{
	int rc = ioasid_create_max_pgsize(c->fd, max_pgsize, id);

	if (rc)
		failed_call = "IOASID_CREATE";
	return rc;
}

static int ioasid_stack_attach(struct sctx *c, uint32_t id)
{
	return vfio_attach_ioasid(c->dev_fd, id);
}

static int ioasid_stack_map(struct sctx *c, uint32_t id, void *va,
			    uint64_t len, uint64_t iova)
{
	return ioasid_map_fixed(c->fd, id, va, len, iova);
}

static int ioasid_stack_unmap(struct sctx *c, uint32_t id, uint64_t iova,
			      uint64_t len, uint64_t *done)
{
	return ioasid_unmap(c->fd, id, iova, len, done);
}

static int ioasid_stack_copy(struct sctx *c, uint32_t dst, uint32_t src,
			     uint64_t iova, uint64_t len)
{
	uint64_t dst_iova = iova;

	return ioasid_copy(c->fd, dst, src, iova, len, &dst_iova,
			   MAP_FIXED_RW);
}

/* Each repetition runs them in an order of its own: rep_slot() */
static const struct stack stacks[NR_STACKS] = {
	[TYPE1] = {
		.name = "type1",
		.container = "/dev/vfio/vfio",
		.open = type1_open,
		.space = type1_space,
		.attach = type1_attach,
		.map = type1_map,
		.unmap = type1_unmap,
	},
	/* type1 through the vfio container shim of /dev/ioasid */
	[SHIM] = {
		.name = "shim",
		.container = "/dev/ioasid",
		.open = type1_open,
		.space = type1_space,
		.attach = type1_attach,
		.map = type1_map,
		.unmap = type1_unmap,
	},
	[IOMMUFD] = {
		.name = "iommufd",
		.open = iommufd_open,
		.space = iommufd_space,
		.attach = iommufd_attach,
		.map = iommufd_map,
		.unmap = iommufd_unmap,
		.copy = iommufd_copy,
	},
	[IOASID] = {
		.name = "ioasid",
		.open = ioasid_stack_open,
		.space = ioasid_stack_space,
		.attach = ioasid_stack_attach,
		.map = ioasid_stack_map,
		.unmap = ioasid_stack_unmap,
		.copy = ioasid_stack_copy,
		.cuts = true,
	},
};

/* Whether the kernel has the stack, and if not, why not */
static bool stack_ok[NR_STACKS];
static char stack_why[NR_STACKS][128];

/* Close the device first: that unbinds it from the context */
static void ctx_close(struct sctx *c)
{
	if (c->dev_fd >= 0)
		close(c->dev_fd);
	if (c->group_fd >= 0)
		close(c->group_fd);
	if (c->fd >= 0)
		close(c->fd);
	c->dev_fd = -1;
	c->group_fd = -1;
	c->fd = -1;
}

/* Open @s and bind the device: 0 or an errno, with failed_call set */
static int ctx_try_open(const struct stack *s, struct sctx *c)
{
	int rc;

	c->fd = -1;
	c->group_fd = -1;
	c->dev_fd = -1;
	rc = s->open(s, c);
	if (rc)
		ctx_close(c);
	return rc;
}

static void die_stack(const struct stack *s, const char *call, int err)
{
	char what[192];

	snprintf(what, sizeof(what), "%s: %s", s->name, call);
	die(what, err);
}

static void ctx_open(const struct stack *s, struct sctx *c)
{
	int rc = ctx_try_open(s, c);

	if (rc)
		die_stack(s, failed_call, rc);
}

static uint32_t ctx_space(const struct stack *s, struct sctx *c,
			  uint64_t max_pgsize)
{
	uint32_t id;
	int rc;

	rc = s->space(c, max_pgsize, &id);
	if (rc)
		die_stack(s, failed_call, rc);
	return id;
}

static void ctx_attach(const struct stack *s, struct sctx *c, uint32_t id)
{
	int rc = s->attach(c, id);

	if (rc)
		die_stack(s, "attach an empty address space", rc);
}

/* A fresh context with one address space, the device attached to it */
static uint32_t ctx_up(const struct stack *s, struct sctx *c,
		       uint64_t max_pgsize)
{
	uint32_t id;

	ctx_open(s, c);
	id = ctx_space(s, c, max_pgsize);
	ctx_attach(s, c, id);
	return id;
}

/* --- counting with the ftrace function profiler --- */

enum {
	F_MAP, F_MAP_NOSYNC, F_MAP_SG, F_SYNC_MAP, F_CORE_SYNC_MAP, F_QI,
	NR_FUNCS
};

static const char * const prof_funcs[NR_FUNCS] = {
	[F_MAP] = "iommu_map",
	[F_MAP_NOSYNC] = "iommu_map_nosync",
	[F_MAP_SG] = "iommu_map_sg",
	[F_SYNC_MAP] = "intel_iommu_iotlb_sync_map",
	[F_CORE_SYNC_MAP] = "iommu_sync_map",
	[F_QI] = "qi_submit_sync",
};

/* Calls counted in one repetition; -1: not counted */
struct counts {
	long long maps;
	long long syncs;
	long long qi;
};

static const struct counts no_counts = { -1, -1, -1 };

static struct {
	bool on;		/* counting works */
	bool have[NR_FUNCS];	/* in the filter */
	int enable_fd;
	int nr_cpus;		/* trace_stat/function<N> files */
	long orig_enabled;
	char orig_filter[4096];	/* set_ftrace_filter as it was */
	char why[160];		/* why not on */
} prof = { .enable_fd = -1, .orig_enabled = -1 };

/* Write @names, one a line, as the whole of set_ftrace_filter */
static int prof_set_filter(const char *names)
{
	int fd = open(TRACEFS "/set_ftrace_filter",
		      O_WRONLY | O_TRUNC | O_CLOEXEC);
	const char *p = names, *nl;
	int rc = 0;

	if (fd < 0)
		return errno;
	/*
	 * One write per name, with its newline: ftrace takes a write that
	 * ends in the middle of a word to go on in the next one
	 */
	for (; *p && !rc; p = nl) {
		nl = strchr(p, '\n');
		nl = nl ? nl + 1 : p + strlen(p);
		if (write(fd, p, nl - p) < 0)
			rc = errno;
	}
	close(fd);
	return rc;
}

static void prof_restore(void)
{
	if (prof.enable_fd < 0)
		return;
	if (pwrite(prof.enable_fd, prof.orig_enabled == 1 ? "1" : "0", 1,
		   0) < 0)
		fprintf(stderr, BENCH_PROG ": restoring %s: %s\n",
			TRACEFS "/function_profile_enabled", errname(errno));
	close(prof.enable_fd);
	prof.enable_fd = -1;
	prof_set_filter(prof.orig_filter);
}

/* Save the non-comment lines of set_ftrace_filter */
static void prof_save_filter(void)
{
	size_t used = 0, n;
	char line[256];
	FILE *f;

	f = fopen(TRACEFS "/set_ftrace_filter", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		n = strlen(line);
		if (used + n >= sizeof(prof.orig_filter))
			break;
		memcpy(prof.orig_filter + used, line, n + 1);
		used += n;
	}
	fclose(f);
}

static void prof_setup(void)
{
	char line[256], name[128], filter[256] = "", path[96];
	size_t used = 0;
	FILE *f;
	int i;

	/* tracefs, mounted where the rig's init does not */
	if (access(TRACEFS "/trace", F_OK) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
		snprintf(prof.why, sizeof(prof.why), "mount tracefs on %s: %s",
			 TRACEFS, errname(errno));
		return;
	}
	if (access(TRACEFS "/function_profile_enabled", F_OK)) {
		snprintf(prof.why, sizeof(prof.why),
			 "no %s (CONFIG_FUNCTION_PROFILER)",
			 TRACEFS "/function_profile_enabled");
		return;
	}
	f = fopen(TRACEFS "/available_filter_functions", "r");
	if (!f) {
		snprintf(prof.why, sizeof(prof.why), "%s: %s",
			 TRACEFS "/available_filter_functions",
			 errname(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s", name) == 1)
			for (i = 0; i < NR_FUNCS; i++)
				if (!strcmp(name, prof_funcs[i]))
					prof.have[i] = true;
	fclose(f);
	for (i = 0; i < NR_FUNCS; i++)
		if (prof.have[i])
			used += snprintf(filter + used, sizeof(filter) - used,
					 "%s\n", prof_funcs[i]);
	if (!used) {
		snprintf(prof.why, sizeof(prof.why),
			 "none of the functions to count can be traced");
		return;
	}
	while (prof.nr_cpus < 4096) {
		snprintf(path, sizeof(path), TRACEFS "/trace_stat/function%d",
			 prof.nr_cpus);
		if (access(path, R_OK))
			break;
		prof.nr_cpus++;
	}
	if (!prof.nr_cpus) {
		snprintf(prof.why, sizeof(prof.why), "no %s",
			 TRACEFS "/trace_stat/function0");
		return;
	}

	prof.orig_enabled = read_long(TRACEFS "/function_profile_enabled");
	prof_save_filter();
	prof.enable_fd = open(TRACEFS "/function_profile_enabled",
			      O_WRONLY | O_CLOEXEC);
	if (prof.enable_fd < 0) {
		snprintf(prof.why, sizeof(prof.why), "open %s: %s",
			 TRACEFS "/function_profile_enabled", errname(errno));
		return;
	}
	atexit(prof_restore);
	i = prof_set_filter(filter);
	if (i || pwrite(prof.enable_fd, "0", 1, 0) < 0) {
		snprintf(prof.why, sizeof(prof.why), "set_ftrace_filter: %s",
			 errname(i ? i : errno));
		return;
	}
	prof.on = true;
}

/* Zero the counters and start counting, when @on */
static void prof_begin(bool on)
{
	if (!on || !prof.on)
		return;
	if (pwrite(prof.enable_fd, "0", 1, 0) < 0 ||
	    pwrite(prof.enable_fd, "1", 1, 0) < 0) {
		snprintf(prof.why, sizeof(prof.why),
			 "function_profile_enabled: %s", errname(errno));
		prof.on = false;
	}
}

/* Hits of each function, summed over the CPUs */
static void prof_read(long long *hits)
{
	char path[96], line[256], name[128];
	bool table;
	long long n;
	FILE *f;
	int cpu, i;

	for (cpu = 0; cpu < prof.nr_cpus; cpu++) {
		snprintf(path, sizeof(path), TRACEFS "/trace_stat/function%d",
			 cpu);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* A header, a line of dashes, then "name hits [times]" */
		table = false;
		while (fgets(line, sizeof(line), f)) {
			if (!table) {
				table = strstr(line, "---");
				continue;
			}
			if (sscanf(line, "%127s %lld", name, &n) != 2)
				continue;
			for (i = 0; i < NR_FUNCS; i++)
				if (!strcmp(name, prof_funcs[i]))
					hits[i] += n;
		}
		fclose(f);
	}
}

/* Stop counting, when @on, and give what was counted */
static void prof_end(bool on, struct counts *out)
{
	long long hits[NR_FUNCS] = {};

	if (!on || !prof.on)
		return;
	prof_read(hits);
	if (pwrite(prof.enable_fd, "0", 1, 0) < 0) {
		snprintf(prof.why, sizeof(prof.why),
			 "function_profile_enabled: %s", errname(errno));
		prof.on = false;
		return;
	}
	/*
	 * This tree's iommu_map() and iommu_map_sg() map without calling
	 * iommu_map_nosync(): the three entry points never count twice
	 */
	if (prof.have[F_MAP] || prof.have[F_MAP_SG] || prof.have[F_MAP_NOSYNC])
		out->maps = hits[F_MAP] + hits[F_MAP_SG] + hits[F_MAP_NOSYNC];
	out->syncs = prof.have[F_SYNC_MAP] ? hits[F_SYNC_MAP] : -1;
	out->qi = prof.have[F_QI] ? hits[F_QI] : -1;
}

/* --- kernel memory --- */

/* Unreclaimable slab, IOMMU and KVM page tables, vmalloc: KiB */
static long long kmem_kib(void)
{
	static const char * const fields[] = {
		"SUnreclaim", "SecPageTables", "VmallocUsed",
	};
	long long sum = 0;
	long val;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		val = meminfo_val(fields[i]);
		if (val > 0)
			sum += val;
	}
	return sum;
}

/* Largest change of kmem_kib() between two settled idle reads */
static long long kmem_noise;

/* --- rows --- */

/* One repetition of one row by one stack */
struct rep {
	const struct stack *s;
	char *va;		/* the backing's buffer */
	uint64_t size;		/* the row's size */
	bool prof;		/* the counted repetition: nothing is timed */
	bool absent;		/* failed for lack of a test-only ioctl */
	double t[2];		/* ms of the row's two timed parts; -1: none */
	double kmem;		/* KiB of kernel memory the MAP took */
	struct counts cnt;
	char why[192];		/* what failed */
};

static int op_failed(struct rep *r, const char *op, int rc)
{
	snprintf(r->why, sizeof(r->why), "%s %s: %s", r->s->name, op,
		 errname(rc));
	return rc;
}

static int do_map(struct rep *r, struct sctx *c, uint32_t id, void *va,
		  uint64_t len, uint64_t iova)
{
	int rc = r->s->map(c, id, va, len, iova);

	return rc ? op_failed(r, "MAP", rc) : 0;
}

/* UNMAP exactly [@iova, @iova + @len): 0, an errno, or -1 for a short one */
static int do_unmap(struct rep *r, struct sctx *c, uint32_t id,
		    uint64_t iova, uint64_t len)
{
	uint64_t done = 0;
	int rc = r->s->unmap(c, id, iova, len, &done);

	if (rc)
		return op_failed(r, "UNMAP", rc);
	if (done != len) {
		snprintf(r->why, sizeof(r->why),
			 "%s UNMAP: %llu of %llu bytes at %#llx", r->s->name,
			 (unsigned long long)done, (unsigned long long)len,
			 (unsigned long long)iova);
		return -1;
	}
	return 0;
}

/*
 * One MAP of the whole buffer and one UNMAP of it, timed, in a fresh
 * context with the device attached if @attach; with @mem, the kernel
 * memory the MAP took too.
 */
static int map_unmap(struct rep *r, bool attach, bool mem)
{
	long long before = 0;
	struct sctx c;
	uint32_t id;
	double t0;
	int rc;

	ctx_open(r->s, &c);
	id = ctx_space(r->s, &c, 0);
	if (attach)
		ctx_attach(r->s, &c, id);
	mem = mem && !r->prof;
	if (mem) {
		settle();
		before = kmem_kib();
	}
	prof_begin(r->prof);
	t0 = now_ms();
	rc = do_map(r, &c, id, r->va, r->size, BENCH_IOVA);
	r->t[0] = now_ms() - t0;
	if (rc)
		goto out;
	if (mem) {
		settle();
		r->kmem = kmem_kib() - before;
	}
	t0 = now_ms();
	rc = do_unmap(r, &c, id, BENCH_IOVA, r->size);
	r->t[1] = now_ms() - t0;
out:
	prof_end(r->prof, &r->cnt);
	ctx_close(&c);
	return rc;
}

/* map64M, map512M: one MAP of the whole buffer, one UNMAP of it */
static int rep_map(struct rep *r)
{
	return map_unmap(r, true, true);
}

/* small2M: the buffer as 2 MiB MAPs, then as many 2 MiB UNMAPs */
static int rep_small(struct rep *r)
{
	uint64_t i, n = r->size / SZ_2M;
	struct sctx c;
	uint32_t id;
	double t0;
	int rc = 0;

	id = ctx_up(r->s, &c, 0);
	prof_begin(r->prof);
	t0 = now_ms();
	for (i = 0; i < n && !rc; i++)
		rc = do_map(r, &c, id, r->va + i * SZ_2M, SZ_2M,
			    BENCH_IOVA + i * SZ_2M);
	r->t[0] = now_ms() - t0;
	if (!rc) {
		t0 = now_ms();
		for (i = 0; i < n && !rc; i++)
			rc = do_unmap(r, &c, id, BENCH_IOVA + i * SZ_2M,
				      SZ_2M);
		r->t[1] = now_ms() - t0;
	}
	prof_end(r->prof, &r->cnt);
	ctx_close(&c);
	return rc;
}

/* unplug2M: UNMAP every other 2 MiB block of the buffer, mapped untimed */
static int rep_unplug(struct rep *r)
{
	uint64_t i, n = r->size / SZ_2M;
	struct sctx c;
	uint32_t id;
	double t0;
	int rc = 0;

	/* Blocks of 2 MiB: ioasid must never map them with larger pages */
	id = ctx_up(r->s, &c, r->s->cuts ? SZ_2M : 0);
	if (r->s->cuts)
		rc = do_map(r, &c, id, r->va, r->size, BENCH_IOVA);
	for (i = 0; i < n && !rc && !r->s->cuts; i++)
		rc = do_map(r, &c, id, r->va + i * SZ_2M, SZ_2M,
			    BENCH_IOVA + i * SZ_2M);
	r->t[0] = -1;
	if (!rc) {
		prof_begin(r->prof);
		t0 = now_ms();
		for (i = 0; i < n && !rc; i += 2)
			rc = do_unmap(r, &c, id, BENCH_IOVA + i * SZ_2M,
				      SZ_2M);
		r->t[1] = now_ms() - t0;
		prof_end(r->prof, &r->cnt);
	}
	ctx_close(&c);
	return rc;
}

/* fill: MAP with no device attached, then ATTACH, which fills a domain */
static int rep_fill(struct rep *r)
{
	struct sctx c;
	uint32_t id;
	double t0;
	int rc;

	ctx_open(r->s, &c);
	id = ctx_space(r->s, &c, 0);
	prof_begin(r->prof);
	t0 = now_ms();
	rc = do_map(r, &c, id, r->va, r->size, BENCH_IOVA);
	r->t[0] = now_ms() - t0;
	if (!rc) {
		t0 = now_ms();
		rc = r->s->attach(&c, id);
		r->t[1] = now_ms() - t0;
		if (rc)
			op_failed(r, "ATTACH", rc);
	}
	prof_end(r->prof, &r->cnt);
	ctx_close(&c);
	return rc;
}

/*
 * floor: ioasid alone, MAP into an IOASID no device is attached to, then
 * UNMAP: pinning and unpinning with no IOMMU work, the floor under the MAP
 * and UNMAP of every other row. The other stacks pin only for a domain.
 */
static int rep_floor(struct rep *r)
{
	return map_unmap(r, false, false);
}

/*
 * iommu, readback: ioasid alone, the IOMMU's own work for SIZE of scattered
 * 4 KiB pages in the attached domain, nothing pinned and no bookkeeping
 * (IOASID_TEST_IOMMU_FLOOR, timed in the kernel): map with one sync and
 * unmap with one flush (iommu), read every frame back (readback). With
 * floor's pin and unpin, the physical floor under the MAP and UNMAP of 4
 * KiB-backed memory of every stack: iommufd reads frames back too.
 */
static int rep_iommu(struct rep *r, bool readback)
{
	struct sctx c;
	uint64_t ns[3];
	uint32_t id;
	int rc;

	id = ctx_up(r->s, &c, 0);
	prof_begin(r->prof);
	rc = iommu_floor(c.fd, id, BENCH_IOVA, r->size / PAGE_SZ, ns);
	prof_end(r->prof, &r->cnt);
	if (rc) {
		op_failed(r, "IOASID_TEST_IOMMU_FLOOR", rc);
		/* A kernel without CONFIG_IOASID_TEST */
		r->absent = rc == ENOTTY || rc == EOPNOTSUPP;
	} else if (readback) {
		r->t[0] = ns[1] / 1e6;
		r->t[1] = -1;
	} else {
		r->t[0] = ns[0] / 1e6;
		r->t[1] = ns[2] / 1e6;
	}
	ctx_close(&c);
	return rc;
}

static int rep_iommu_map(struct rep *r)
{
	return rep_iommu(r, false);
}

static int rep_iommu_read(struct rep *r)
{
	return rep_iommu(r, true);
}

/* copy: COPY from an address space without device to one with it */
static int rep_copy(struct rep *r)
{
	uint32_t src, dst;
	struct sctx c;
	double t0;
	int rc;

	ctx_open(r->s, &c);
	src = ctx_space(r->s, &c, 0);
	dst = ctx_space(r->s, &c, 0);
	rc = do_map(r, &c, src, r->va, r->size, BENCH_IOVA);
	if (rc)
		goto out;
	ctx_attach(r->s, &c, dst);
	prof_begin(r->prof);
	t0 = now_ms();
	rc = r->s->copy(&c, dst, src, BENCH_IOVA, r->size);
	r->t[0] = now_ms() - t0;
	if (rc) {
		op_failed(r, "COPY", rc);
	} else {
		t0 = now_ms();
		rc = do_unmap(r, &c, dst, BENCH_IOVA, r->size);
		r->t[1] = now_ms() - t0;
	}
	prof_end(r->prof, &r->cnt);
out:
	ctx_close(&c);
	return rc;
}

enum {
	R_MAP64M, R_MAP512M, R_SMALL2M, R_UNPLUG2M, R_FILL, R_COPY, R_FLOOR,
	R_IOMMU, R_READBACK, NR_ROWS,
	R_SCALE = NR_ROWS
};

struct rowdef {
	const char *key;	/* for --rows */
	const char *what;	/* the row's title */
	const char *col[2];	/* its two timed parts */
	uint64_t size;		/* 0: SIZE */
	bool no_type1;		/* nor the shim: type1's flow cannot */
	bool ioasid_only;
	bool only_4k;		/* the other backings would give the same */
	bool mem;		/* kernel memory of the MAP is measured */
	bool in_short;
	int (*rep)(struct rep *r);
};

static const struct rowdef rows[NR_ROWS] = {
	[R_MAP64M] = {
		.key = "map64M",
		.what = "one MAP of all of it, then one UNMAP",
		.col = { "MAP ms", "UNMAP ms" },
		.size = SZ_64M,
		.mem = true,
		.in_short = true,
		.rep = rep_map,
	},
	[R_MAP512M] = {
		.key = "map512M",
		.what = "one MAP of all of it, then one UNMAP",
		.col = { "MAP ms", "UNMAP ms" },
		.size = SZ_512M,
		.mem = true,
		.rep = rep_map,
	},
	[R_SMALL2M] = {
		.key = "small2M",
		.what = "2 MiB MAPs of all of it, then 2 MiB UNMAPs (totals)",
		.col = { "MAPs ms", "UNMAPs ms" },
		.in_short = true,
		.rep = rep_small,
	},
	[R_UNPLUG2M] = {
		.key = "unplug2M",
		.what = "UNMAP every other 2 MiB block (total)",
		.col = { "MAP ms", "UNMAPs ms" },
		.in_short = true,
		.rep = rep_unplug,
	},
	[R_FILL] = {
		.key = "fill",
		.what = "MAP with no domain, then ATTACH, which fills one",
		.col = { "MAP ms", "ATTACH ms" },
		.no_type1 = true,
		.in_short = true,
		.rep = rep_fill,
	},
	[R_COPY] = {
		.key = "copy",
		.what = "COPY to an attached address space, UNMAP the copy",
		.col = { "COPY ms", "UNMAP ms" },
		.no_type1 = true,
		.in_short = true,
		.rep = rep_copy,
	},
	[R_FLOOR] = {
		.key = "floor",
		.what = "ioasid MAP and UNMAP with no domain: pin and unpin only",
		.col = { "pin ms", "unpin ms" },
		.ioasid_only = true,
		.in_short = true,
		.rep = rep_floor,
	},
	[R_IOMMU] = {
		.key = "iommu",
		.what = "VT-d alone maps 4 KiB pages with one sync, unmaps them with one flush",
		.col = { "map ms", "unmap ms" },
		.ioasid_only = true,
		.only_4k = true,
		.in_short = true,
		.rep = rep_iommu_map,
	},
	[R_READBACK] = {
		.key = "readback",
		.what = "VT-d alone reads the frames of 4 KiB pages back",
		.col = { "read ms", "-" },
		.ioasid_only = true,
		.only_4k = true,
		.in_short = true,
		.rep = rep_iommu_read,
	},
};

static uint64_t row_size(const struct rowdef *row)
{
	return row->size ? row->size : opt.size;
}

/* The row's name: its key, with SIZE for those of that size */
static const char *row_name(const struct rowdef *row)
{
	static char name[32];

	if (row->size || row == &rows[R_SMALL2M] || row == &rows[R_UNPLUG2M])
		return row->key;
	snprintf(name, sizeof(name), "%s%lluM", row->key,
		 (unsigned long long)(opt.size >> 20));
	return name;
}

enum { B_4K, B_THP, B_HUGETLB, NR_BACKINGS };

static const char * const backing_keys[NR_BACKINGS] = {
	[B_4K] = "4k",
	[B_THP] = "thp",
	[B_HUGETLB] = "hugetlb",
};

/* One row, one backing, one stack */
struct cell {
	bool none;		/* "-": no such stack, or not in this row */
	char na[192];		/* why it has no figures; "" if it has */
	double t[2];		/* medians; -1: not timed */
	double kmem;		/* median KiB of kernel memory per MAP */
	double kmem_spread;	/* largest minus smallest sample */
	struct counts cnt;
};

struct result {
	bool ran;
	char label[16];		/* the backing as it came: "thp 95%" */
	char na[192];		/* why the backing could not be had */
	int reps;
	double secs;
	struct cell cell[NR_STACKS];
};

static struct result results[NR_ROWS][NR_BACKINGS];

static int nr_reps(void)
{
	if (opt.reps)
		return opt.reps;
	return opt.short_run ? 3 : 5;
}

static bool row_on(int row)
{
	return opt.rows & (1u << row);
}

/* A repetition failed: no figures for the cell; exit 1 unless no memory */
static void cell_fail(struct cell *cl, const struct rep *r, int rc)
{
	snprintf(cl->na, sizeof(cl->na), "%s", r->why);
	if (rc != ENOMEM && !r->absent)
		exit_status = 1;
}

static void rep_init(struct rep *r, int s, char *va, uint64_t size,
		     bool counted)
{
	memset(r, 0, sizeof(*r));
	r->s = &stacks[s];
	r->va = va;
	r->size = size;
	r->prof = counted;
	r->cnt = no_counts;
}

/*
 * Which of @m stacks runs @k-th in repetition @rep: row @rep of a balanced
 * Latin square (Williams), over whose @m rows every stack comes right after
 * every other once (with an odd @m, twice over the square and its mirror).
 * The last stack of a repetition still comes right before the first of the
 * next. Its first row is 0, 1, m - 1, 2, m - 2, ...; row r adds r to each.
 */
static int rep_slot(int rep, int m, int k)
{
	int r = rep % (m % 2 ? 2 * m : m);

	if (r >= m) {
		r -= m;
		k = m - 1 - k;
	}
	return ((k % 2 ? (k + 1) / 2 : m - k / 2) + r) % m;
}

/*
 * Repetitions in the full run of a row where some stack takes less than
 * QUICK_MS for a timed part in every repetition. There a stall of a few
 * hundred microseconds is a large part of a sample: medians of 5 put
 * ioasid/iommufd for the 64 MiB huge-page MAPs anywhere from 0.64 to 0.97.
 * 25 cost a few seconds per row; rows whose every figure takes longer keep
 * their 5.
 */
#define QUICK_MS	2.0
#define QUICK_REPS	25

static_assert(QUICK_REPS <= MAX_REPS, "room for the quick rows' samples");

/* Do the @n repetitions of @res so far call for QUICK_REPS? */
static bool more_reps(const struct result *res,
		      double (*t)[2][MAX_REPS], int n)
{
	bool timed, quick;
	int s, i, part;

	if (opt.reps || opt.short_run || n >= QUICK_REPS)
		return false;
	for (s = 0; s < NR_STACKS; s++) {
		if (res->cell[s].none || res->cell[s].na[0])
			continue;
		for (part = 0; part < 2; part++) {
			timed = false;
			quick = true;
			for (i = 0; i < n; i++) {
				if (t[s][part][i] < 0)
					continue;
				timed = true;
				if (t[s][part][i] >= QUICK_MS)
					quick = false;
			}
			if (timed && quick)
				return true;
		}
	}
	return false;
}

static void run_row(int row_idx, int bk, char *va, const char *label)
{
	static double t[NR_STACKS][2][MAX_REPS], kmem[NR_STACKS][MAX_REPS];
	const struct rowdef *row = &rows[row_idx];
	struct result *res = &results[row_idx][bk];
	double start = now_ms();
	struct cell *cl;
	int n, k, s, rc, act[NR_STACKS], nact;
	struct rep r;

	res->ran = true;
	res->reps = nr_reps();
	snprintf(res->label, sizeof(res->label), "%s", label);
	for (s = 0; s < NR_STACKS; s++) {
		res->cell[s].none = !stack_ok[s] ||
				    (stacks[s].container && row->no_type1) ||
				    (s != IOASID && row->ioasid_only);
		res->cell[s].cnt = no_counts;
	}

	for (n = 0; n < res->reps; n++) {
		nact = 0;
		for (k = 0; k < NR_STACKS; k++)
			if (!res->cell[k].none && !res->cell[k].na[0])
				act[nact++] = k;
		for (k = 0; k < nact; k++) {
			s = act[rep_slot(n, nact, k)];
			cl = &res->cell[s];
			rep_init(&r, s, va, row_size(row), false);
			rc = row->rep(&r);
			if (rc) {
				cell_fail(cl, &r, rc);
				continue;
			}
			t[s][0][n] = r.t[0];
			t[s][1][n] = r.t[1];
			kmem[s][n] = r.kmem;
		}
		if (n == res->reps - 1 && more_reps(res, t, n + 1))
			res->reps = QUICK_REPS;
	}

	for (s = 0; s < NR_STACKS; s++) {
		cl = &res->cell[s];
		if (cl->none || cl->na[0])
			continue;
		cl->t[0] = median(t[s][0], res->reps);
		cl->t[1] = median(t[s][1], res->reps);
		cl->kmem = median(kmem[s], res->reps);
		/* median() sorted them */
		cl->kmem_spread = kmem[s][res->reps - 1] - kmem[s][0];
		if (!prof.on)
			continue;
		/* The counted repetition, untimed */
		rep_init(&r, s, va, row_size(row), true);
		rc = row->rep(&r);
		if (rc)
			cell_fail(cl, &r, rc);
		else
			cl->cnt = r.cnt;
	}
	res->secs = (now_ms() - start) / 1000;
	printf("# ran %s %s in %.1f s\n", row_name(row), label, res->secs);
}

/* --- the scale row --- */

#define NR_LEVELS	3
static const int scale_n[NR_LEVELS] = { 1000, 10000, SCALE_MAX };
static int nr_levels;

enum { OP_MAP, OP_EEXIST, OP_UNMAP, NR_OPS };

/* The floors of a scale level, in us per one-page operation */
enum {
	FLOOR_IOMMU_MAP,	/* IOASID_TEST_IOMMU_FLOOR: map and sync */
	FLOOR_IOMMU_UNMAP,	/* unmap and flush */
	FLOOR_OP_MAP,		/* IOASID_TEST_OP_FLOOR: charge, pin, map */
	FLOOR_OP_UNMAP,		/* unmap, unpin, uncharge */
	FLOOR_IOCTL,		/* round trip of an ioctl failing at once */
	FLOOR_COLD_MAP,		/* FLOOR_OP_MAP of scale_cold() pages, */
	FLOOR_COLD_UNMAP,	/* unmapped in a scattered order */
	NR_FLOORS
};

struct scale_sample {
	double us[NR_LEVELS][NR_OPS];
	double bytes[NR_LEVELS];	/* kernel memory per mapping */
	double floor_us[NR_LEVELS][NR_FLOORS];	/* ioasid; -1: - */
	struct counts cnt[NR_LEVELS][NR_OPS];
};

struct scale_cell {
	bool none;
	char na[192];
	double us[NR_OPS];		/* medians */
	double bytes;
	struct counts cnt[NR_OPS];	/* of the counted repetition */
};

static struct {
	bool ran;
	int reps;
	double secs;
	long type1_limit;		/* dma_entry_limit before, -1: kept */
	struct scale_cell cell[NR_LEVELS][NR_STACKS];
	double floor_us[NR_LEVELS][NR_FLOORS];	/* medians; -1: none */
} scale = { .type1_limit = -1 };

/* Pages of the cold floor at @n mappings: the row's first ones */
static int scale_cold(int n)
{
	return n < SCALE_COLD ? n : SCALE_COLD;
}

static uint64_t scale_iova(int i)
{
	return BENCH_IOVA + (uint64_t)i * SCALE_STRIDE;
}

/* Index of the @j-th of SCALE_PROBES mappings spread over @n of them */
static int scale_probe(int j, int n)
{
	return j * (n / SCALE_PROBES) + n / SCALE_PROBES / 2;
}

/* A MAP right over a mapping must fail with EEXIST */
static int map_over(struct rep *r, struct sctx *c, uint32_t id, void *va,
		    uint64_t iova)
{
	int rc = r->s->map(c, id, va, PAGE_SZ, iova);

	if (rc == EEXIST)
		return 0;
	if (rc)
		return op_failed(r, "MAP over a mapping", rc);
	snprintf(r->why, sizeof(r->why), "%s: a MAP over a mapping worked",
		 r->s->name);
	return -1;
}

/*
 * A floor op of scale level @n failed with @rc: say so, unless the kernel
 * has no test ops (no CONFIG_IOASID_TEST), where the floors are "-"
 */
static void floor_failed(int n, const char *what, int rc)
{
	if (rc != ENOTTY && rc != EOPNOTSUPP)
		printf("# floor at %d: %s failed: %s\n", n, what,
		       rc < 0 ? "wrong result" : errname(rc));
}

/*
 * The floors of a one-page MAP and UNMAP among @n mappings, into us[] (see
 * FLOOR_*), each the median of SCALE_PROBES, or -1 on a kernel without the
 * test ops: in the free 4 KiB after each probed mapping, the IOMMU's own
 * part (IOASID_TEST_IOMMU_FLOOR of a page), and all a stack without
 * bookkeeping must do (IOASID_TEST_OP_FLOOR of a page not otherwise pinned,
 * past the row's); then the round trip of that ioctl with no page, which
 * fails at once. Then the same op's work per page over the row's first @n
 * pages (scale_cold()), mapped again in a row at IOVA_END and
 * unmapped in a scattered order: each UNMAP finds its page table entry and
 * struct page among as many as the row has, up to SCALE_COLD, not just
 * touched. A floor that fails leaves its figures at -1 and says why.
 */
static void scale_floor(struct sctx *c, uint32_t id, char *va, int n,
			double *us)
{
	int i, j, rc, cold = scale_cold(n);
	double probe[NR_FLOORS][SCALE_PROBES];
	uint64_t ns[3], iova;
	double t0;

	for (i = 0; i < NR_FLOORS; i++)
		us[i] = -1;
	for (j = 0; j < SCALE_PROBES; j++) {
		iova = scale_iova(scale_probe(j, n)) + PAGE_SZ;
		rc = iommu_floor(c->fd, id, iova, 1, ns);
		if (rc) {
			floor_failed(n, "IOASID_TEST_IOMMU_FLOOR", rc);
			return;
		}
		probe[FLOOR_IOMMU_MAP][j] = ns[0] / 1e3;
		probe[FLOOR_IOMMU_UNMAP][j] = ns[2] / 1e3;
	}
	us[FLOOR_IOMMU_MAP] = median(probe[FLOOR_IOMMU_MAP], SCALE_PROBES);
	us[FLOOR_IOMMU_UNMAP] = median(probe[FLOOR_IOMMU_UNMAP], SCALE_PROBES);
	for (j = 0; j < SCALE_PROBES; j++) {
		iova = scale_iova(scale_probe(j, n)) + PAGE_SZ;
		rc = op_floor(c->fd, id, iova,
			      va + (SCALE_MAX + 1 + j) * PAGE_SZ, 1, ns);
		if (rc) {
			floor_failed(n, "IOASID_TEST_OP_FLOOR", rc);
			return;
		}
		probe[FLOOR_OP_MAP][j] = ns[0] / 1e3;
		probe[FLOOR_OP_UNMAP][j] = ns[1] / 1e3;
		/* No page: refused at once */
		t0 = now_ms();
		rc = op_floor(c->fd, id, 0, NULL, 0, NULL);
		if (rc != EINVAL) {
			floor_failed(n, "IOASID_TEST_OP_FLOOR of no page",
				     rc ?: -1);
			return;
		}
		probe[FLOOR_IOCTL][j] = (now_ms() - t0) * 1000;
	}
	for (i = FLOOR_OP_MAP; i <= FLOOR_IOCTL; i++)
		us[i] = median(probe[i], SCALE_PROBES);
	rc = op_floor_flags(c->fd, id, IOVA_END, va, cold,
			    IOASID_TEST_OP_FLOOR_SCATTER, ns);
	if (rc) {
		floor_failed(n, "IOASID_TEST_OP_FLOOR_SCATTER", rc);
		return;
	}
	us[FLOOR_COLD_MAP] = ns[0] / 1e3 / cold;
	us[FLOOR_COLD_UNMAP] = ns[1] / 1e3 / cold;
}

/*
 * Levels up to @nlev in one context: the figures of each level into @out.
 * Returns 0, or the errno of the failure (-1 for a wrong result) with the
 * level it failed at in *failed.
 */
static int rep_scale(struct rep *r, int nlev, struct scale_sample *out,
		     int *failed)
{
	/* A page no mapping of the row uses */
	char *spare = r->va + SCALE_MAX * PAGE_SZ;
	int lev, i, j, n, done = 0, rc = 0;
	double probe[SCALE_PROBES];
	long long before = 0;
	struct sctx c;
	uint32_t id;
	double t0;

	id = ctx_up(r->s, &c, 0);
	for (lev = 0; lev < nlev; lev++) {
		n = scale_n[lev];
		if (!r->prof) {
			settle();
			before = kmem_kib();
		}
		prof_begin(r->prof);
		t0 = now_ms();
		for (i = done; i < n && !rc; i++)
			rc = do_map(r, &c, id, r->va + i * PAGE_SZ, PAGE_SZ,
				    scale_iova(i));
		out->us[lev][OP_MAP] = (now_ms() - t0) * 1000 / (n - done);
		prof_end(r->prof, &out->cnt[lev][OP_MAP]);
		if (rc)
			break;
		if (!r->prof) {
			settle();
			out->bytes[lev] = (kmem_kib() - before) * 1024.0 /
					  (n - done);
		}
		done = n;

		/*
		 * The probes one by one, for their median: a stall of the
		 * emulator in one of 100 would weigh on a mean
		 */
		prof_begin(r->prof);
		for (j = 0; j < SCALE_PROBES && !rc; j++) {
			t0 = now_ms();
			rc = map_over(r, &c, id, spare,
				      scale_iova(scale_probe(j, n)));
			probe[j] = (now_ms() - t0) * 1000;
		}
		out->us[lev][OP_EEXIST] = median(probe, j);
		prof_end(r->prof, &out->cnt[lev][OP_EEXIST]);
		if (rc)
			break;

		prof_begin(r->prof);
		for (j = 0; j < SCALE_PROBES && !rc; j++) {
			t0 = now_ms();
			rc = do_unmap(r, &c, id, scale_iova(scale_probe(j, n)),
				      PAGE_SZ);
			probe[j] = (now_ms() - t0) * 1000;
		}
		out->us[lev][OP_UNMAP] = median(probe, j);
		prof_end(r->prof, &out->cnt[lev][OP_UNMAP]);
		if (!rc && r->s == &stacks[IOASID] && !r->prof)
			scale_floor(&c, id, r->va, n, out->floor_us[lev]);
		/* Back to n mappings, untimed */
		for (j = 0; j < SCALE_PROBES && !rc; j++) {
			i = scale_probe(j, n);
			rc = do_map(r, &c, id, r->va + i * PAGE_SZ, PAGE_SZ,
				    scale_iova(i));
		}
		if (rc)
			break;
	}
	*failed = lev;
	ctx_close(&c);
	return rc;
}

/* type1 holds at most dma_entry_limit mappings: make room for the row */
static void type1_limit_restore(void)
{
	if (scale.type1_limit < 0)
		return;
	write_long(TYPE1_LIMIT, scale.type1_limit);
	scale.type1_limit = -1;
}

static void type1_limit_raise(void)
{
	long limit = read_long(TYPE1_LIMIT);
	long want = scale_n[nr_levels - 1] + SCALE_PROBES;

	if (limit < 0 || limit >= want)
		return;
	if (write_long(TYPE1_LIMIT, want))
		return;
	scale.type1_limit = limit;
	atexit(type1_limit_restore);
}

/*
 * A scale repetition of stack @s failed at level @failed: no figures from
 * that level on, and later repetitions stop below it
 */
static void scale_fail(int s, const struct rep *r, int rc, int failed,
		       int *nlev)
{
	int lev;

	for (lev = failed; lev < *nlev; lev++)
		snprintf(scale.cell[lev][s].na, sizeof(scale.cell[lev][s].na),
			 "%s", r->why);
	*nlev = failed;
	/*
	 * type1's dma_entry_limit, if it could not be raised, is no bug; the
	 * shim has no such limit
	 */
	if (rc != ENOMEM && !(rc == ENOSPC && s == TYPE1))
		exit_status = 1;
}

/* Keep @v, a floor of one repetition, in @vals if it was measured */
static void keep_floor(double *vals, int *n, double v)
{
	if (v >= 0)
		vals[(*n)++] = v;
}

static void run_scale(char *va)
{
	static double us[NR_STACKS][NR_LEVELS][NR_OPS][MAX_REPS];
	static double bytes[NR_STACKS][NR_LEVELS][MAX_REPS];
	static double floor_us[NR_LEVELS][NR_FLOORS][MAX_REPS];
	/* Repetitions that measured each floor */
	int nfloor[NR_LEVELS][NR_FLOORS] = {};
	int n, k, s, lev, op, rc, failed, nlev[NR_STACKS], f;
	int act[NR_STACKS], nact;
	struct scale_sample smp;
	double start = now_ms();
	struct scale_cell *sc;
	struct rep r;

	scale.ran = true;
	scale.reps = nr_reps();
	type1_limit_raise();
	for (s = 0; s < NR_STACKS; s++) {
		nlev[s] = stack_ok[s] ? nr_levels : 0;
		for (lev = 0; lev < nr_levels; lev++) {
			scale.cell[lev][s].none = !stack_ok[s];
			for (op = 0; op < NR_OPS; op++)
				scale.cell[lev][s].cnt[op] = no_counts;
		}
	}

	for (n = 0; n < scale.reps; n++) {
		nact = 0;
		for (k = 0; k < NR_STACKS; k++)
			if (nlev[k])
				act[nact++] = k;
		for (k = 0; k < nact; k++) {
			s = act[rep_slot(n, nact, k)];
			rep_init(&r, s, va, 0, false);
			rc = rep_scale(&r, nlev[s], &smp, &failed);
			if (rc)
				scale_fail(s, &r, rc, failed, &nlev[s]);
			for (lev = 0; lev < failed; lev++) {
				for (op = 0; op < NR_OPS; op++)
					us[s][lev][op][n] = smp.us[lev][op];
				bytes[s][lev][n] = smp.bytes[lev];
				if (s != IOASID)
					continue;
				for (f = 0; f < NR_FLOORS; f++)
					keep_floor(floor_us[lev][f],
						   &nfloor[lev][f],
						   smp.floor_us[lev][f]);
			}
		}
	}

	for (lev = 0; lev < NR_LEVELS; lev++) {
		for (f = 0; f < NR_FLOORS; f++) {
			scale.floor_us[lev][f] = -1;
			if (lev >= nlev[IOASID] ||
			    scale.cell[lev][IOASID].na[0] || !nfloor[lev][f])
				continue;
			scale.floor_us[lev][f] = median(floor_us[lev][f],
							nfloor[lev][f]);
		}
	}
	for (s = 0; s < NR_STACKS; s++) {
		for (lev = 0; lev < nlev[s]; lev++) {
			sc = &scale.cell[lev][s];
			if (sc->na[0])
				continue;
			for (op = 0; op < NR_OPS; op++)
				sc->us[op] = median(us[s][lev][op],
						    scale.reps);
			sc->bytes = median(bytes[s][lev], scale.reps);
		}
		if (!nlev[s] || !prof.on)
			continue;
		rep_init(&r, s, va, 0, true);
		memset(&smp, 0, sizeof(smp));
		for (lev = 0; lev < NR_LEVELS; lev++)
			for (op = 0; op < NR_OPS; op++)
				smp.cnt[lev][op] = no_counts;
		rc = rep_scale(&r, nlev[s], &smp, &failed);
		if (rc)
			scale_fail(s, &r, rc, failed, &nlev[s]);
		for (lev = 0; lev < failed; lev++)
			for (op = 0; op < NR_OPS; op++)
				scale.cell[lev][s].cnt[op] = smp.cnt[lev][op];
	}
	type1_limit_restore();
	scale.secs = (now_ms() - start) / 1000;
	printf("# ran scale 4k in %.1f s\n", scale.secs);
}

/* --- output --- */

#define COLS		"%-8s %-8s %9s %9s %8s %8s %8s %9s  %-14s  %-14s  %s"

/* printf() a table line, without the spaces empty columns leave at its end */
static void print_line(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	while (n && line[n - 1] == ' ')
		line[--n] = 0;
	puts(line);
}

static void fmt_ms(char *s, size_t len, double v)
{
	if (v < 0)
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%.2f", v);
}

static void fmt_count(char *s, size_t len, long long v)
{
	if (v < 0)
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%lld", v);
}

static bool has_figures(const struct cell *cl)
{
	return !cl->none && !cl->na[0];
}

/* @cl's times (ioasid's, the shim's) over @ref's, part by part: "0.52/0.33" */
static void fmt_ratios(char *s, size_t len, const struct cell *cl,
		       const struct cell *ref)
{
	size_t used = 0;
	int i;

	if (!has_figures(cl) || !has_figures(ref)) {
		snprintf(s, len, "-");
		return;
	}
	for (i = 0; i < 2; i++) {
		if (cl->t[i] < 0 || ref->t[i] <= 0)
			used += snprintf(s + used, len - used, "%s-",
					 i ? "/" : "");
		else
			used += snprintf(s + used, len - used, "%s%.2f",
					 i ? "/" : "", cl->t[i] / ref->t[i]);
	}
}

/* @cl's total time (the timed parts) over @ref's; -1: none */
static double total_ratio(const struct cell *cl, const struct cell *ref)
{
	double a = 0, b = 0;
	int i;

	if (!has_figures(cl) || !has_figures(ref))
		return -1;
	for (i = 0; i < 2; i++) {
		if (cl->t[i] >= 0 && ref->t[i] >= 0) {
			a += cl->t[i];
			b += ref->t[i];
		}
	}
	return b > 0 ? a / b : -1;
}

/*
 * @cl's kernel memory per GiB over @ref's; -1 when either has no figure,
 * -2 when @ref's is within twice the noise plus its spread
 */
static double mem_ratio(const struct cell *cl, const struct cell *ref)
{
	if (!has_figures(cl) || !has_figures(ref))
		return -1;
	if (ref->kmem <= 2 * (kmem_noise + ref->kmem_spread) || cl->kmem < 0)
		return -2;
	return cl->kmem / ref->kmem;
}

static void fmt_ratio(char *s, size_t len, double v)
{
	if (v == -2)
		snprintf(s, len, "noise");
	else if (v < 0)
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%.2f", v);
}

static void print_cell(const struct rowdef *row, const struct result *res,
		       int s)
{
	const struct cell *cl = &res->cell[s];
	char t0[24], t1[24], maps[24], syncs[24], qi[24], mem[24];
	char r_fd[32] = "", r_t1[32] = "", r_sh[32] = "";

	if (cl->na[0]) {
		printf("%-8s %-8s n/a (%s)\n", res->label, stacks[s].name,
		       cl->na);
		return;
	}
	if (cl->none) {
		print_line(COLS, res->label, stacks[s].name, "-", "-", "-",
			   "-", "-", "-", "", "", "");
		return;
	}
	fmt_ms(t0, sizeof(t0), cl->t[0]);
	fmt_ms(t1, sizeof(t1), cl->t[1]);
	fmt_count(maps, sizeof(maps), cl->cnt.maps);
	fmt_count(syncs, sizeof(syncs), cl->cnt.syncs);
	fmt_count(qi, sizeof(qi), cl->cnt.qi);
	if (row->mem)
		snprintf(mem, sizeof(mem), "%.0f",
			 cl->kmem * ((double)SZ_1G / row_size(row)));
	else
		snprintf(mem, sizeof(mem), "-");
	if (s == IOASID) {
		fmt_ratios(r_fd, sizeof(r_fd), cl, &res->cell[IOMMUFD]);
		fmt_ratios(r_t1, sizeof(r_t1), cl, &res->cell[TYPE1]);
	}
	if (s == SHIM)
		fmt_ratios(r_sh, sizeof(r_sh), cl, &res->cell[TYPE1]);
	print_line(COLS, res->label, stacks[s].name, t0, t1, maps, syncs, qi,
		   mem, r_fd, r_t1, r_sh);
}

/* The row's line for grep: total time and memory ratios, time taken */
static void print_final(const struct rowdef *row, const struct result *res)
{
	const struct cell *io = &res->cell[IOASID];
	const struct cell *sh = &res->cell[SHIM];
	const struct cell *t1 = &res->cell[TYPE1];
	char a[16], b[16], c[16], d[16], e[16], f[16];

	fmt_ratio(a, sizeof(a), total_ratio(io, &res->cell[IOMMUFD]));
	fmt_ratio(b, sizeof(b), total_ratio(io, t1));
	fmt_ratio(c, sizeof(c), mem_ratio(io, &res->cell[IOMMUFD]));
	fmt_ratio(d, sizeof(d), mem_ratio(io, t1));
	fmt_ratio(e, sizeof(e), total_ratio(sh, t1));
	fmt_ratio(f, sizeof(f), mem_ratio(sh, t1));
	printf("# %s %s: ioasid/iommufd time %s", row_name(row), res->label,
	       a);
	if (row->mem)
		printf(" memory %s", c);
	printf("; ioasid/type1 time %s", b);
	if (row->mem)
		printf(" memory %s", d);
	printf("; shim/type1 time %s", e);
	if (row->mem)
		printf(" memory %s", f);
	printf("; %d reps, %.1f s\n", res->reps, res->secs);
}

static void print_row(int row_idx)
{
	static const int order[NR_BACKINGS] = { B_4K, B_THP, B_HUGETLB };
	const struct rowdef *row = &rows[row_idx];
	const struct result *res;
	int b, s, reps = 0, most = 0;

	for (b = 0; b < NR_BACKINGS; b++) {
		res = &results[row_idx][b];
		if (!res->ran)
			continue;
		if (!reps || res->reps < reps)
			reps = res->reps;
		if (res->reps > most)
			most = res->reps;
	}
	printf("\n## %s: %llu MiB at %#lx: %s; medians of %d reps",
	       row_name(row), (unsigned long long)(row_size(row) >> 20),
	       BENCH_IOVA, row->what, reps);
	if (most > reps)
		printf(", %d with a figure under %.0f ms", most, QUICK_MS);
	printf("\n");
	print_line(COLS, "backing", "stack", row->col[0], row->col[1], "maps",
		   "syncs", "qi", "KiB/GiB", "ioasid/iommufd", "ioasid/type1",
		   "shim/type1");
	for (b = 0; b < NR_BACKINGS; b++) {
		res = &results[row_idx][order[b]];
		if (!res->ran && !res->na[0])
			continue;
		if (res->na[0]) {
			printf("%-8s n/a (%s)\n", backing_keys[order[b]],
			       res->na);
			continue;
		}
		for (s = 0; s < NR_STACKS; s++)
			print_cell(row, res, s);
	}
	for (b = 0; b < NR_BACKINGS; b++) {
		res = &results[row_idx][order[b]];
		if (res->ran)
			print_final(row, res);
	}
}

#define SCALE_COLS	\
	"%-6s %-7s %7s %7s %7s %7s %6s %6s %6s %6s  %-14s  %-14s  %s"

/* Counts per operation of a batch of @ops */
static void fmt_per_op(char *s, size_t len, long long v, int ops)
{
	if (v < 0)
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%.2f", (double)v / ops);
}

/* @sc's per-op times over @ref's: "MAP/EEXIST/UNMAP" */
static void fmt_scale_ratios(char *s, size_t len,
			     const struct scale_cell *sc,
			     const struct scale_cell *ref)
{
	size_t used = 0;
	int op;

	if (sc->none || sc->na[0] || ref->none || ref->na[0]) {
		snprintf(s, len, "-");
		return;
	}
	for (op = 0; op < NR_OPS; op++) {
		if (ref->us[op] > 0)
			used += snprintf(s + used, len - used, "%s%.2f",
					 op ? "/" : "",
					 sc->us[op] / ref->us[op]);
		else
			used += snprintf(s + used, len - used, "%s-",
					 op ? "/" : "");
	}
}

/* A floor of @floor_us over type1's figure for @op at its level, or "-" */
static void floor_ratio(char *s, size_t len, double floor_us,
			const struct scale_cell *t1, int op)
{
	if (t1->none || t1->na[0])
		snprintf(s, len, "-");
	else
		snprintf(s, len, "%.2f", floor_us / t1->us[op]);
}

static void print_scale(void)
{
	char n[16], us[NR_OPS][16], b[16], cnt[4][16];
	char r_fd[48], r_t1[48], r_sh[48];
	const struct scale_cell *sc;
	int lev, s, op, batch;

	printf("\n## scale: N MAPs of 4 KiB, %lu KiB apart from %#lx, device",
	       SCALE_STRIDE >> 10, BENCH_IOVA);
	printf(" attached; us per op, medians of %d reps\n", scale.reps);
	printf("# MAP: the batch to N; EEXIST: MAP over a mapping; UNMAP: one");
	printf(" mapping; B/map: kernel memory per MAP of the batch\n");
	print_line(SCALE_COLS, "N", "stack", "MAP", "EEXIST", "UNMAP", "B/map",
		   "maps/M", "syncs", "qi/M", "qi/U", "ioasid/iommufd",
		   "ioasid/type1", "shim/type1");
	for (lev = 0; lev < nr_levels; lev++) {
		snprintf(n, sizeof(n), "%d", scale_n[lev]);
		batch = scale_n[lev] - (lev ? scale_n[lev - 1] : 0);
		for (s = 0; s < NR_STACKS; s++) {
			sc = &scale.cell[lev][s];
			if (sc->na[0]) {
				printf("%-6s %-7s n/a (%s)\n", n,
				       stacks[s].name, sc->na);
				continue;
			}
			if (sc->none) {
				print_line(SCALE_COLS, n, stacks[s].name, "-",
					   "-", "-", "-", "-", "-", "-", "-",
					   "", "", "");
				continue;
			}
			for (op = 0; op < NR_OPS; op++)
				snprintf(us[op], sizeof(us[op]), "%.1f",
					 sc->us[op]);
			snprintf(b, sizeof(b), "%.0f", sc->bytes);
			fmt_per_op(cnt[0], sizeof(cnt[0]),
				   sc->cnt[OP_MAP].maps, batch);
			fmt_per_op(cnt[1], sizeof(cnt[1]),
				   sc->cnt[OP_MAP].syncs, batch);
			fmt_per_op(cnt[2], sizeof(cnt[2]), sc->cnt[OP_MAP].qi,
				   batch);
			fmt_per_op(cnt[3], sizeof(cnt[3]),
				   sc->cnt[OP_UNMAP].qi, SCALE_PROBES);
			r_fd[0] = 0;
			r_t1[0] = 0;
			r_sh[0] = 0;
			if (s == IOASID) {
				fmt_scale_ratios(r_fd, sizeof(r_fd), sc,
						 &scale.cell[lev][IOMMUFD]);
				fmt_scale_ratios(r_t1, sizeof(r_t1), sc,
						 &scale.cell[lev][TYPE1]);
			}
			if (s == SHIM)
				fmt_scale_ratios(r_sh, sizeof(r_sh), sc,
						 &scale.cell[lev][TYPE1]);
			print_line(SCALE_COLS, n, stacks[s].name, us[OP_MAP],
				   us[OP_EEXIST], us[OP_UNMAP], b, cnt[0],
				   cnt[1], cnt[2], cnt[3], r_fd, r_t1, r_sh);
		}
	}
	printf("# maps/M, syncs, qi/M: per MAP of the batch; qi/U: per");
	printf(" UNMAP; ratios: MAP/EEXIST/UNMAP\n");
	for (lev = 0; lev < nr_levels; lev++) {
		const double *fl = scale.floor_us[lev];
		struct scale_cell *t1 = &scale.cell[lev][TYPE1];
		char r_map[16], r_unmap[16];

		if (fl[FLOOR_IOMMU_MAP] < 0)
			continue;
		printf("# floor at %d: VT-d alone maps one 4 KiB page and syncs",
		       scale_n[lev]);
		printf(" in %.1f us, unmaps and flushes in %.1f us",
		       fl[FLOOR_IOMMU_MAP], fl[FLOOR_IOMMU_UNMAP]);
		printf(" (IOASID_TEST_IOMMU_FLOOR, in the kernel)\n");
		if (fl[FLOOR_IOCTL] < 0)
			continue;
		floor_ratio(r_map, sizeof(r_map),
			    fl[FLOOR_IOCTL] + fl[FLOOR_OP_MAP], t1, OP_MAP);
		floor_ratio(r_unmap, sizeof(r_unmap),
			    fl[FLOOR_IOCTL] + fl[FLOOR_OP_UNMAP], t1, OP_UNMAP);
		printf("# floor at %d, no bookkeeping: MAP %.1f us (ioctl %.1f",
		       scale_n[lev], fl[FLOOR_IOCTL] + fl[FLOOR_OP_MAP],
		       fl[FLOOR_IOCTL]);
		printf(" + charge, pin, map, sync %.1f) = %sx type1;",
		       fl[FLOOR_OP_MAP], r_map);
		printf(" UNMAP %.1f us (+ unmap, flush, unpin, uncharge %.1f)",
		       fl[FLOOR_IOCTL] + fl[FLOOR_OP_UNMAP],
		       fl[FLOOR_OP_UNMAP]);
		printf(" = %sx type1 (IOASID_TEST_OP_FLOOR)\n", r_unmap);
		if (fl[FLOOR_COLD_MAP] < 0)
			continue;
		floor_ratio(r_map, sizeof(r_map),
			    fl[FLOOR_IOCTL] + fl[FLOOR_COLD_MAP], t1, OP_MAP);
		floor_ratio(r_unmap, sizeof(r_unmap),
			    fl[FLOOR_IOCTL] + fl[FLOOR_COLD_UNMAP], t1,
			    OP_UNMAP);
		printf("# floor at %d, cold (%d of the row's pages mapped",
		       scale_n[lev], scale_cold(scale_n[lev]));
		printf(" again, unmapped scattered): MAP %.1f us = %sx type1;",
		       fl[FLOOR_IOCTL] + fl[FLOOR_COLD_MAP], r_map);
		printf(" UNMAP %.1f us = %sx type1\n",
		       fl[FLOOR_IOCTL] + fl[FLOOR_COLD_UNMAP], r_unmap);
	}
	printf("# scale 4k: %.1f s\n", scale.secs);
}

/* --- setup --- */

/* Find edu, give it to vfio-pci, learn its group, IOMMU and cdev */
static void device_setup(void)
{
	char path[PATH_MAX];
	int rc;

	rc = edu_find(dev.bdf, sizeof(dev.bdf));
	if (rc)
		die("no edu PCI device (run in the rig's VM, VT-d on)", rc);
	rc = edu_bind_vfio_pci(dev.bdf);
	if (rc)
		die("bind edu to vfio-pci", rc);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 dev.bdf);
	rc = vfio_link_name(path, dev.group, sizeof(dev.group));
	if (rc)
		die("edu has no iommu_group (intel_iommu=on?)", rc);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu",
		 dev.bdf);
	if (vfio_link_name(path, dev.iommu, sizeof(dev.iommu)))
		snprintf(dev.iommu, sizeof(dev.iommu), "?");
	dev.has_cdev = !edu_cdev_index(dev.bdf, &dev.cdev);
}

/* Print the group's reserved regions; die if one is in the rows' way */
static void check_reserved(void)
{
	unsigned long long start, last;
	char path[96], type[32];
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/iommu_groups/%s/reserved_regions", dev.group);
	f = fopen(path, "r");
	if (!f)
		die("open reserved_regions of edu's group", errno);
	while (fscanf(f, "%llx %llx %31s", &start, &last, type) == 3) {
		printf("# reserved: %#llx-%#llx %s\n", start, last, type);
		if (start < IOVA_COLD_END && last >= BENCH_IOVA) {
			fclose(f);
			die("a reserved region overlaps the rows' IOVAs", 0);
		}
	}
	fclose(f);
}

/*
 * Find out which stacks the kernel has, check that each one that does
 * works (a MAP and an UNMAP of 2 MiB), warm up their code paths
 */
static void probe_stacks(void)
{
	char why[160], pgsizes[64];
	struct ioasid_info info;
	struct buf b = {};
	struct sctx c;
	struct rep r;
	uint32_t id;
	int s, rc;

	if (buf_map(&b, SZ_2M, 0, why, sizeof(why)))
		die(why, 0);
	prefault(b.va, SZ_2M);
	for (s = 0; s < NR_STACKS; s++) {
		rc = ctx_try_open(&stacks[s], &c);
		/*
		 * No such device node or ioctl, or a container vfio does not
		 * know (a /dev/ioasid file to a vfio without the shim's
		 * VFIO_GROUP_SET_CONTAINER): the kernel lacks it
		 */
		if (rc == ENOENT || rc == ENODEV || rc == ENOTTY ||
		    (rc == EBADFD && stacks[s].container)) {
			snprintf(stack_why[s], sizeof(stack_why[s]), "%s: %s",
				 failed_call, errname(rc));
			continue;
		}
		if (rc)
			die_stack(&stacks[s], failed_call, rc);
		id = ctx_space(&stacks[s], &c, 0);
		ctx_attach(&stacks[s], &c, id);
		rep_init(&r, s, b.va, SZ_2M, false);
		rc = do_map(&r, &c, id, b.va, SZ_2M, BENCH_IOVA);
		if (!rc)
			rc = do_unmap(&r, &c, id, BENCH_IOVA, SZ_2M);
		if (rc)
			die(r.why, 0);
		if (s == IOASID && !ioasid_get_info(c.fd, &info)) {
			pgsizes_str(pgsizes, sizeof(pgsizes),
				    info.out_pgsize_bitmap);
			printf("# IOMMU (IOASID_GET_INFO): page sizes %s,",
			       pgsizes);
			printf(" aperture %#llx-%#llx\n",
			       (unsigned long long)info.out_aperture_start,
			       (unsigned long long)info.out_aperture_last);
			if (info.out_aperture_start > BENCH_IOVA ||
			    info.out_aperture_last < IOVA_COLD_END - 1)
				die("the IOMMU's aperture misses the rows' IOVAs",
				    0);
		}
		ctx_close(&c);
		stack_ok[s] = true;
	}
	buf_free(&b);
	for (s = 0; s < NR_STACKS; s++)
		printf("# %s: %s\n", stacks[s].name,
		       stack_ok[s] ? "yes" : stack_why[s]);
	if (stack_ok[TYPE1] && access(TYPE1_MODULE, F_OK))
		printf("# no %s: /dev/vfio/vfio may be iommufd's emulation\n",
		       TYPE1_MODULE);
}

/* --- main --- */

static void print_usage(FILE *f)
{
	int i;

	fprintf(f, "usage: %s [--short] [--reps N] [--scale]", BENCH_PROG);
	fprintf(f, " [--rows LIST] [--backings LIST] [--size MIB]");
	fprintf(f, " [--no-counts]\n");
	fprintf(f, "  --short          64M rows, and the SIZE rows with");
	fprintf(f, " SIZE 128 MiB; 3 reps; no scale\n");
	fprintf(f, "  --reps N         N repetitions (1..%d); default 5,",
		MAX_REPS);
	fprintf(f, " 3 with --short,\n");
	fprintf(f, "                   %d for a row and backing with a",
		QUICK_REPS);
	fprintf(f, " figure under %.0f ms in each of the first 5\n",
		QUICK_MS);
	fprintf(f, "  --scale          add the scale row (1000 and 10000");
	fprintf(f, " with --short)\n");
	fprintf(f, "  --rows LIST      only these, comma-separated:");
	for (i = 0; i < NR_ROWS; i++)
		fprintf(f, " %s", rows[i].key);
	fprintf(f, " scale\n");
	fprintf(f, "  --backings LIST  only these, comma-separated:");
	fprintf(f, " 4k thp hugetlb\n");
	fprintf(f, "  --size MIB       SIZE of small2M, unplug2M, fill and");
	fprintf(f, " copy: 64, 128, 256 or 512 (default 512)\n");
	fprintf(f, "  --no-counts      no extra repetition counting IOMMU");
	fprintf(f, " calls with ftrace\n");
}

static void usage_error(void)
{
	print_usage(stderr);
	exit(2);
}

/* Bits of the comma-separated @list's names among @keys */
static unsigned int parse_list(char *list, const char * const *keys,
			       int nkeys, bool prefix)
{
	unsigned int bits = 0;
	char *tok, *save;
	int i;

	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < nkeys; i++)
			if (!strcmp(tok, keys[i]) ||
			    (prefix && !strncmp(tok, keys[i],
						strlen(keys[i]))))
				break;
		if (i == nkeys) {
			fprintf(stderr, "%s: unknown '%s'\n", BENCH_PROG, tok);
			usage_error();
		}
		bits |= 1u << i;
	}
	return bits;
}

static void parse_args(int argc, char **argv)
{
	const char *row_keys[NR_ROWS + 1];
	char *end;
	long val;
	int i;

	for (i = 0; i < NR_ROWS; i++)
		row_keys[i] = rows[i].key;
	row_keys[NR_ROWS] = "scale";
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short")) {
			opt.short_run = true;
		} else if (!strcmp(argv[i], "--scale")) {
			opt.scale = true;
		} else if (!strcmp(argv[i], "--no-counts")) {
			opt.no_counts = true;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			opt.reps = strtol(argv[++i], &end, 10);
			if (*end || opt.reps < 1 || opt.reps > MAX_REPS)
				usage_error();
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			val = strtol(argv[++i], &end, 10);
			if (*end || (val != 64 && val != 128 && val != 256 &&
				     val != 512))
				usage_error();
			opt.size = (uint64_t)val << 20;
		} else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
			/* "fill512M" is "fill" */
			opt.rows = parse_list(argv[++i], row_keys, NR_ROWS + 1,
					      true);
		} else if (!strcmp(argv[i], "--backings") && i + 1 < argc) {
			opt.backings = parse_list(argv[++i], backing_keys,
						  NR_BACKINGS, false);
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			print_usage(stdout);
			exit(0);
		} else {
			usage_error();
		}
	}

	if (!opt.size)
		opt.size = opt.short_run ? SZ_128M : SZ_512M;
	if (!opt.rows) {
		for (i = 0; i < NR_ROWS; i++)
			if (!opt.short_run || rows[i].in_short)
				opt.rows |= 1u << i;
		if (!opt.short_run)
			opt.rows |= 1u << R_SCALE;
	}
	if (opt.scale)
		opt.rows |= 1u << R_SCALE;
	if (!opt.backings)
		opt.backings = (1u << NR_BACKINGS) - 1;
	nr_levels = opt.short_run ? NR_LEVELS - 1 : NR_LEVELS;
}

/* Bytes of buffer the rows need: a power of two, 64 MiB to 512 MiB */
static uint64_t rows_size(void)
{
	uint64_t size = 0;
	int i;

	for (i = 0; i < NR_ROWS; i++)
		if (row_on(i) && row_size(&rows[i]) > size)
			size = row_size(&rows[i]);
	return size;
}

static int backing_alloc(int bk, struct buf *b, size_t len, char *label,
			 size_t llen, char *why, size_t wlen)
{
	switch (bk) {
	case B_4K:
		return buf_alloc_small(b, len, label, llen, why, wlen);
	case B_THP:
		return buf_alloc_thp(b, len, label, llen, why, wlen);
	}
	if (buf_alloc_hugetlb(b, len, why, wlen))
		return -1;
	snprintf(label, llen, "hugetlb");
	return 0;
}

/*
 * One buffer of backing @bk for its rows (@with_rows) and, with 4k, the
 * scale row (@with_scale), freed once they are done
 */
static void run_backing(int bk, bool with_rows, bool with_scale)
{
	uint64_t size = with_rows ? rows_size() : 0;
	char label[16] = "", why[192] = "";
	struct buf b = {};
	double t0;
	int i;

	if (with_scale)
		size = SZ_512M;
	if (!size)
		return;
	t0 = now_ms();
	if (backing_alloc(bk, &b, size, label, sizeof(label), why,
			  sizeof(why))) {
		for (i = 0; i < NR_ROWS && with_rows; i++)
			if (row_on(i))
				snprintf(results[i][bk].na,
					 sizeof(results[i][bk].na), "%s", why);
		printf("# %s: n/a (%s)\n", backing_keys[bk], why);
		buf_free(&b);
		return;
	}
	printf("# %s: %llu MiB buffer, faulted in: %.1f s\n", label,
	       (unsigned long long)(size >> 20), (now_ms() - t0) / 1000);
	for (i = 0; i < NR_ROWS && with_rows; i++)
		if (row_on(i) && (!rows[i].only_4k || bk == B_4K))
			run_row(i, bk, b.va, label);
	if (with_scale)
		run_scale(b.va);
	buf_free(&b);
}

int main(int argc, char **argv)
{
	static const int order[NR_BACKINGS] = { B_HUGETLB, B_THP, B_4K };
	double start;
	int i;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_memlock_unlimited();
	atexit(hugetlb_restore);
	settle_open();
	start = now_ms();

	printf("# %s: vfio type1, iommufd and /dev/ioasid through one IOMMU",
	       BENCH_PROG);
	printf(" driver, one boot; medians of interleaved reps\n");
	device_setup();
	printf("# edu %s, iommu group %s, IOMMU %s, cdev ", dev.bdf,
	       dev.group, dev.iommu);
	if (dev.has_cdev)
		printf("vfio%u\n", dev.cdev);
	else
		printf("none\n");
	if (strncmp(dev.iommu, "dmar", 4))
		printf("# edu's IOMMU is no VT-d unit: not the intended rig\n");
	check_reserved();
	probe_stacks();
	for (i = 0; i < NR_STACKS; i++)
		if (stack_ok[i])
			break;
	if (i == NR_STACKS)
		die("none of the stacks is there", 0);

	if (opt.no_counts)
		snprintf(prof.why, sizeof(prof.why), "--no-counts");
	else
		prof_setup();
	if (prof.on) {
		printf("# counts: ftrace function profiler on");
		for (i = 0; i < NR_FUNCS; i++)
			if (prof.have[i])
				printf(" %s", prof_funcs[i]);
		printf(", one extra untimed rep\n");
	} else {
		printf("# counts: - (%s)\n", prof.why);
	}
	if (meminfo_val("SecPageTables") < 0)
		printf("# no SecPageTables in /proc/meminfo: the memory column%s\n",
		       " misses IOMMU page tables");
	if (!access("/sys/kernel/debug/kmemleak", F_OK))
		printf("# kmemleak is on: memory includes its slab metadata\n");
	if (!access("/proc/lockdep", F_OK))
		printf("# lockdep is on: every lock is slower\n");
	settle_note();
	kmem_noise = bench_noise(kmem_kib);
	printf("# kernel memory noise: up to %lld KiB between two settled",
	       kmem_noise);
	printf(" idle reads (+-%lld KiB/GiB on 64M rows, +-%lld on 512M)\n",
	       kmem_noise * 16, kmem_noise * 2);
	printf("# SIZE %llu MiB, %d reps", (unsigned long long)(opt.size >> 20),
	       nr_reps());
	if (!opt.reps && !opt.short_run) {
		printf(" (%d for a row and backing with a figure under %.0f ms",
		       QUICK_REPS, QUICK_MS);
		printf(" in each of the first %d)", nr_reps());
	}
	printf("\n");

	/* Huge pages first, while memory is least fragmented */
	for (i = 0; i < NR_BACKINGS; i++)
		run_backing(order[i], opt.backings & (1u << order[i]),
			    order[i] == B_4K && row_on(R_SCALE));
	for (i = 0; i < NR_ROWS; i++)
		if (row_on(i))
			print_row(i);
	if (scale.ran)
		print_scale();
	printf("\n# %s: %.1f s in all\n", BENCH_PROG,
	       (now_ms() - start) / 1000);
	return exit_status;
}
