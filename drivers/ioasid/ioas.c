// SPDX-License-Identifier: GPL-2.0-only
/*
 * Normal IOASIDs: an IOVA space userspace fills with its own memory.
 *
 * The tree of areas is the source of truth. Every IOMMU domain behind an
 * IOASID holds exactly the mappings of the tree: a domain is filled from it
 * when it is created, and MAP, UNMAP and COPY change the tree and every
 * domain together or, on failure, none of them.
 *
 * Two rules keep UNMAP exact, so that it never changes the translation of
 * an IOVA outside its range: a large IOMMU page never spans two areas
 * (areas are mapped one by one, and a cut never splits a page), and UNMAP
 * refuses to cut inside a page an IOMMU may use. An IOASID created with a
 * max_pgsize has its mappings cut into pages no larger, so that every cut
 * at a multiple of it succeeds.
 */
#include <linux/file.h>
#include <linux/gcd.h>
#include <linux/iommu.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/ioasid.h>
#include <uapi/linux/iommufd.h>

#include "../iommu/iommu-priv.h"
#include "ioasid_private.h"

/* A normal IOASID; a nested or delegated one is a bad request */
struct ioasid_ioas *ioasid_ioas_get(struct ioasid_ctx *ctx, u32 id)
{
	struct ioasid_object *obj;

	obj = ioasid_object_get(ctx, id, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct ioasid_ioas, obj);
}

/* A new, empty normal IOASID, not yet in the table */
static struct ioasid_ioas *ioasid_ioas_alloc(bool nest_parent,
					     unsigned long max_pgsize)
{
	struct ioasid_ioas *ioas;

	ioas = kzalloc(sizeof(*ioas), GFP_KERNEL_ACCOUNT);
	if (!ioas)
		return NULL;
	ioas->nest_parent = nest_parent;
	ioas->max_pgsize = max_pgsize;
	mutex_init(&ioas->mutex);
	ioas->areas = RB_ROOT;
	ioas->reserved = RB_ROOT_CACHED;
	ioas->stuck = RB_ROOT;
	INIT_LIST_HEAD(&ioas->domains);
	INIT_LIST_HEAD(&ioas->accesses);
	ioas->unpinning = RB_ROOT_CACHED;
	return ioas;
}

static void ioasid_ioas_free(struct ioasid_ioas *ioas)
{
	mutex_destroy(&ioas->mutex);
	kfree(ioas);
}

int ioasid_ioas_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_create *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	struct ioasid_caps caps;
	int rc;

	if (cmd->flags & ~IOASID_CREATE_NEST_PARENT)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;
	if (cmd->max_pgsize &&
	    (cmd->max_pgsize != (unsigned long)cmd->max_pgsize ||
	     !is_power_of_2(cmd->max_pgsize) || cmd->max_pgsize < PAGE_SIZE))
		return -EINVAL;
	/* Once an IOMMU is selected, it must be one that nests */
	if ((cmd->flags & IOASID_CREATE_NEST_PARENT) &&
	    ioasid_ctx_caps(ucmd->ctx, &caps) && !caps.formats)
		return -EOPNOTSUPP;

	ioas = ioasid_ioas_alloc(cmd->flags & IOASID_CREATE_NEST_PARENT,
				 cmd->max_pgsize);
	if (!ioas)
		return -ENOMEM;
	rc = ioasid_object_reserve(ucmd->ctx, &ioas->obj, IOASID_OBJ_IOAS);
	if (rc)
		goto err_free;
	cmd->out_ioasid = ioas->obj.id;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto err_abort;
	ioasid_object_publish(ucmd->ctx, &ioas->obj);
	return 0;

err_abort:
	ioasid_object_abort(ucmd->ctx, &ioas->obj);
err_free:
	ioasid_ioas_free(ioas);
	return rc;
}

/**
 * ioasid_ioas_new() - create a normal IOASID for the kernel's own use
 * @ctx: Context whose table gets it
 * @max_pgsize: Largest IOMMU page its mappings may use, 0 for no limit
 * @id: Set to its id
 *
 * For the vfio container shim, which keeps its mappings in an IOASID of
 * the context like any other. The IOASID is created with the caller as a
 * long-term user (ioasid_object_del_user() ends that), so that userspace
 * cannot destroy it meanwhile.
 *
 * Return: 0, -ENOMEM or -ENOSPC.
 */
int ioasid_ioas_new(struct ioasid_ctx *ctx, unsigned long max_pgsize, u32 *id)
{
	struct ioasid_ioas *ioas;
	int rc;

	ioas = ioasid_ioas_alloc(false, max_pgsize);
	if (!ioas)
		return -ENOMEM;
	rc = ioasid_object_reserve(ctx, &ioas->obj, IOASID_OBJ_IOAS);
	if (rc) {
		ioasid_ioas_free(ioas);
		return rc;
	}
	ioas->obj.users = 1;
	*id = ioas->obj.id;
	ioasid_object_publish(ctx, &ioas->obj);
	return 0;
}

/**
 * ioasid_domain_aperture() - the IOVA range a domain translates
 * @domain: The domain
 * @start: Set to its first IOVA
 * @last: Set to its last IOVA
 */
void ioasid_domain_aperture(struct iommu_domain *domain, u64 *start,
			    u64 *last)
{
	if (domain->geometry.force_aperture) {
		*start = domain->geometry.aperture_start;
		*last = domain->geometry.aperture_end;
	} else {
		*start = 0;
		*last = U64_MAX;
	}
}

/* IOVA at which @area maps page index 0 of its pages; it may wrap */
static unsigned long ioasid_area_base(struct ioasid_area *area)
{
	return area->node.start - (area->use.start << PAGE_SHIFT);
}

/*
 * Let @area's pages keep what they can in the IOASID's first domain, which
 * maps @area whole. They only ever keep them in the first: domains join at
 * the tail, and when the first goes ioasid_ioas_put_domain() moves them to
 * the next. Every change of the domains' mappings is made under the
 * IOASID's mutex, which ioasid_ioas_cut() holds as it takes the pages'
 * runs back before unmapping.
 */
static void ioasid_area_store(struct ioasid_ioas *ioas,
			      struct ioasid_area *area)
{
	struct ioasid_domain *idomain;

	lockdep_assert_held(&ioas->mutex);

	idomain = list_first_entry_or_null(&ioas->domains,
					   struct ioasid_domain, node);
	if (idomain)
		ioasid_pages_store(area->pages, idomain->domain,
				   ioasid_area_base(area), area->use.start,
				   area->use.last);
}

/* Release an area that is in no tree and no domain */
static void ioasid_area_free(struct ioasid_area *area)
{
	ioasid_pages_replace_use(area->pages, &area->use, NULL, NULL);
	ioasid_pages_put(area->pages);
	kfree(area);
}

/*
 * Unmap [start, last] of @area from a domain, the IOTLB flush left to
 * @gather. An IOMMU driver that unmaps less than asked leaves DMA able to
 * reach the rest: the area is marked stuck, and its memory stays pinned
 * until no domain can hold it.
 */
static void ioasid_area_unmap(struct iommu_domain *domain,
			      struct ioasid_area *area, unsigned long start,
			      unsigned long last,
			      struct iommu_iotlb_gather *gather)
{
	size_t len = last - start + 1;

	if (WARN_ONCE(iommu_unmap_fast(domain, start, len, gather) != len,
		      "ioasid: IOMMU driver left part of [%#lx, %#lx] mapped\n",
		      start, last))
		area->stuck = true;
}

/*
 * Map one physically contiguous run at *@iova, cut at multiples of the
 * IOASID's max_pgsize so that no IOMMU page is larger. *@iova moves past
 * what was mapped. Leaves the IOTLB sync to the caller.
 */
static int ioasid_map_run(struct ioasid_ioas *ioas, struct iommu_domain *domain,
			  unsigned long *iova, unsigned long pfn,
			  unsigned long npages, int prot)
{
	unsigned long chunk;
	int rc;

	for (; npages; npages -= chunk, pfn += chunk) {
		chunk = npages;
		if (ioas->max_pgsize)
			chunk = min(chunk, (ioas->max_pgsize -
				    (*iova & (ioas->max_pgsize - 1))) >>
				    PAGE_SHIFT);
		rc = iommu_map_nosync(domain, *iova, PFN_PHYS(pfn),
				      chunk << PAGE_SHIFT, prot,
				      GFP_KERNEL_ACCOUNT);
		if (rc)
			return rc;
		*iova += chunk << PAGE_SHIFT;
		/* A small max_pgsize cuts a run into many */
		cond_resched();
	}
	return 0;
}

/* Runs fetched from the pages at a time: one page of them */
#define IOASID_MAP_BATCH	(PAGE_SIZE / sizeof(struct ioasid_run))

/*
 * Map an area into a domain, one physically contiguous run of pages at a
 * time so the IOMMU driver can use its large page sizes, then sync the
 * IOTLB once for the whole area: under a virtual IOMMU in caching mode
 * every sync is a trap to the hypervisor, and 4 KiB-backed memory has as
 * many runs as pages. On failure nothing of the area is left mapped,
 * unless @undo is false: the caller then frees the domain, which drops
 * every mapping.
 */
static int ioasid_area_map(struct ioasid_ioas *ioas,
			   struct iommu_domain *domain,
			   struct ioasid_area *area, bool undo)
{
	unsigned long npages = area->use.last - area->use.start + 1;
	unsigned long iova = area->node.start, done = 0;
	unsigned int batch = min(npages, IOASID_MAP_BATCH), n, i;
	struct ioasid_run few[4], *runs = few;
	int rc = 0;

	/* Small areas, as COPY makes by the thousand, need no allocation */
	if (batch > ARRAY_SIZE(few)) {
		runs = kmalloc_array(batch, sizeof(*runs), GFP_KERNEL);
		if (!runs)
			return -ENOMEM;
	}
	while (done < npages) {
		unsigned long got;

		n = batch;
		got = ioasid_pages_runs(area->pages, area->use.start + done,
					npages - done, runs, &n);
		if (!got) {
			rc = -EFAULT;
			goto err_unmap;
		}
		for (i = 0; i < n; i++) {
			rc = ioasid_map_run(ioas, domain, &iova, runs[i].pfn,
					    runs[i].npages, area->prot);
			if (rc)
				goto err_unmap;
		}
		done += got;
	}
	rc = iommu_sync_map(domain, area->node.start, npages << PAGE_SHIFT);
	if (rc)
		goto err_unmap;
	if (runs != few)
		kfree(runs);
	return 0;

err_unmap:
	if (iova > area->node.start && undo) {
		struct iommu_iotlb_gather gather;

		iommu_iotlb_gather_init(&gather);
		ioasid_area_unmap(domain, area, area->node.start, iova - 1,
				  &gather);
		iommu_iotlb_sync(domain, &gather);
	}
	if (runs != few)
		kfree(runs);
	return rc;
}

/* Unmap areas that are in no tree from a domain, with one IOTLB flush */
static void ioasid_domain_unmap_areas(struct iommu_domain *domain,
				      struct ioasid_area **areas,
				      unsigned long n)
{
	struct iommu_iotlb_gather gather;
	unsigned long i;

	iommu_iotlb_gather_init(&gather);
	for (i = 0; i < n; i++)
		ioasid_area_unmap(domain, areas[i], areas[i]->node.start,
				  areas[i]->node.last, &gather);
	iommu_iotlb_sync(domain, &gather);
}

/* Map new areas into every domain, or into none */
static int ioasid_domains_map_areas(struct ioasid_ioas *ioas,
				    struct ioasid_area **areas,
				    unsigned long n)
{
	struct ioasid_domain *idomain, *done;
	unsigned long i = 0;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	list_for_each_entry(idomain, &ioas->domains, node) {
		for (i = 0; i < n; i++) {
			rc = ioasid_area_map(ioas, idomain->domain,
					     areas[i], true);
			if (rc)
				goto err_unmap;
		}
	}
	return 0;

err_unmap:
	/* The failed area cleaned up after itself */
	ioasid_domain_unmap_areas(idomain->domain, areas, i);
	list_for_each_entry(done, &ioas->domains, node) {
		if (done == idomain)
			break;
		ioasid_domain_unmap_areas(done->domain, areas, n);
	}
	return rc;
}

static void ioasid_domains_unmap_areas(struct ioasid_ioas *ioas,
				       struct ioasid_area **areas,
				       unsigned long n)
{
	struct ioasid_domain *idomain;

	list_for_each_entry(idomain, &ioas->domains, node)
		ioasid_domain_unmap_areas(idomain->domain, areas, n);
}

/* The smallest page MAP and UNMAP take: the CPU's, or the IOMMU's */
unsigned long ioasid_min_pgsize(struct ioasid_caps *caps)
{
	return max_t(unsigned long, PAGE_SIZE,
		     BIT(__ffs(caps->pgsize_bitmap)));
}

/* Narrow the IOVA limits to what every domain of the IOASID translates */
static void ioasid_ioas_aperture(struct ioasid_ioas *ioas,
				 struct ioasid_caps *caps, u64 *start,
				 u64 *last)
{
	struct ioasid_domain *idomain;
	u64 s, l;

	lockdep_assert_held(&ioas->mutex);

	*start = caps->aperture_start;
	*last = caps->aperture_last;
	list_for_each_entry(idomain, &ioas->domains, node) {
		ioasid_domain_aperture(idomain->domain, &s, &l);
		*start = max(*start, s);
		*last = min(*last, l);
	}
}

/*
 * The highest end of the areas and reserved ranges overlapping [start,
 * last], or 0 with *@busy false if there are none.
 */
static unsigned long ioasid_ioas_busy_until(struct ioasid_ioas *ioas,
					    unsigned long start,
					    unsigned long last, bool *busy)
{
	struct rb_root *trees[] = { &ioas->areas, &ioas->stuck };
	struct interval_tree_node *node;
	struct ioasid_area *area;
	unsigned long end = 0;
	unsigned int i;

	*busy = false;
	for (i = 0; i < ARRAY_SIZE(trees); i++) {
		for (area = ioasid_area_first_in(trees[i], start, last); area;
		     area = ioasid_area_next(area, start, last)) {
			*busy = true;
			end = max(end, area->node.last);
		}
	}
	/* Reserved ranges may overlap each other */
	for (node = interval_tree_iter_first(&ioas->reserved, start, last);
	     node; node = interval_tree_iter_next(node, start, last)) {
		*busy = true;
		end = max(end, node->last);
	}
	return end;
}

/*
 * Find the lowest free IOVA range of @length bytes aligned to @align inside
 * [@start, @last], clear of areas and reserved ranges.
 */
static int ioasid_ioas_alloc_iova(struct ioasid_ioas *ioas, u64 start,
				  u64 last, u64 length, u64 align, u64 *iova)
{
	unsigned long cur, end, busy_end;
	bool busy;

	lockdep_assert_held(&ioas->mutex);

	cur = ALIGN(start, align);
	if (cur < start)
		return -ENOSPC;
	for (;;) {
		if (check_add_overflow(cur, length - 1, &end) || end > last)
			return -ENOSPC;
		busy_end = ioasid_ioas_busy_until(ioas, cur, end, &busy);
		if (!busy) {
			*iova = cur;
			return 0;
		}
		if (busy_end == ULONG_MAX || ALIGN(busy_end + 1, align) == 0)
			return -ENOSPC;
		cur = ALIGN(busy_end + 1, align);
	}
}

/* Check that [iova, iova + length) can take a new mapping */
static int ioasid_ioas_check_fixed(struct ioasid_ioas *ioas, u64 start,
				   u64 last, u64 iova, u64 length)
{
	u64 end = iova + length - 1;

	lockdep_assert_held(&ioas->mutex);

	if (iova < start || end > last)
		return -ERANGE;
	if (interval_tree_iter_first(&ioas->reserved, iova, end))
		return -EADDRINUSE;
	/* Stuck areas may still be mapped in some domain */
	if (ioasid_area_first(ioas, iova, end) ||
	    ioasid_area_first_in(&ioas->stuck, iova, end))
		return -EEXIST;
	return 0;
}

/*
 * Alignment for a kernel-chosen IOVA when the user asked for none: the
 * largest IOMMU page size that fits in the mapping and has the same offset
 * in the memory, so that physically contiguous memory can be mapped with
 * large IOMMU pages.
 */
static u64 ioasid_map_align(struct ioasid_caps *caps, u64 addr, u64 length)
{
	unsigned long min = ioasid_min_pgsize(caps);
	unsigned long fit = caps->pgsize_bitmap & GENMASK(__fls(length), 0);

	if (addr)
		fit &= GENMASK(__ffs(addr), 0);
	return max_t(u64, fit ? BIT(__fls(fit)) : 0, min);
}

/**
 * struct ioasid_placement - where new areas go in an IOASID
 * @fixed: Map at *@iova, else choose an IOVA and store it there
 * @iova: The IOVA, in or out
 * @length: Bytes of the whole placement
 * @align: Alignment of a chosen IOVA
 * @ucmd: The call, answered before the areas become visible; NULL when
 *        the caller has nothing to answer (the IOVA is fixed)
 * @cmd_len: Size of the kernel's struct of @ucmd
 */
struct ioasid_placement {
	bool fixed;
	u64 *iova;
	u64 length;
	u64 align;
	struct ioasid_ucmd *ucmd;
	size_t cmd_len;
};

/*
 * Place @n areas, whose IOVA ranges are offsets in [0, length), in the
 * IOASID, map them into every domain and insert them. On failure nothing
 * changed and the caller still owns the areas, but for any an IOMMU driver
 * failed to unmap again: those are kept pinned until the IOASID goes, and
 * their slot in @areas is cleared.
 */
static int ioasid_ioas_add_areas(struct ioasid_ioas *ioas,
				 struct ioasid_caps *caps,
				 struct ioasid_area **areas, unsigned long n,
				 struct ioasid_placement *place)
{
	bool faulted, kept = false;
	unsigned int tries = 0;
	u64 start, last, iova;
	unsigned long i;
	int rc;

again:
	faulted = false;
	mutex_lock(&ioas->mutex);
	ioasid_ioas_aperture(ioas, caps, &start, &last);
	if (place->fixed) {
		iova = *place->iova;
		rc = ioasid_ioas_check_fixed(ioas, start, last, iova,
					     place->length);
	} else {
		rc = ioasid_ioas_alloc_iova(ioas, start, last, place->length,
					    place->align, &iova);
	}
	if (rc)
		goto out_unlock;
	for (i = 0; i < n; i++) {
		areas[i]->node.start += iova;
		areas[i]->node.last += iova;
	}

	rc = ioasid_domains_map_areas(ioas, areas, n);
	if (rc)
		goto err_unplace;

	/*
	 * Answer before the areas become visible, so that a failure to answer
	 * undoes them exactly; but never fault under the IOASID's lock, which
	 * a userfaultfd could then hold forever.
	 */
	*place->iova = iova;
	rc = place->ucmd ? ioasid_ucmd_respond_nofault(place->ucmd,
						       place->cmd_len) : 0;
	if (rc) {
		faulted = true;
		ioasid_domains_unmap_areas(ioas, areas, n);
		goto err_unplace;
	}
	for (i = 0; i < n; i++) {
		ioasid_area_insert(areas[i], &ioas->areas);
		ioasid_area_store(ioas, areas[i]);
	}
	mutex_unlock(&ioas->mutex);
	return 0;

err_unplace:
	for (i = 0; i < n; i++) {
		if (areas[i]->stuck) {
			ioasid_area_insert(areas[i], &ioas->stuck);
			areas[i] = NULL;
			kept = true;
			continue;
		}
		areas[i]->node.start -= iova;
		areas[i]->node.last -= iova;
	}
out_unlock:
	mutex_unlock(&ioas->mutex);
	/* The answer faulted: fault it in here and start over, a few times */
	if (faulted && !kept && ++tries < 4 &&
	    !ioasid_ucmd_respond(place->ucmd, place->cmd_len))
		goto again;
	return rc;
}

/*
 * Check the fields MAP and COPY share, read the limits of the context's
 * IOMMU into @caps, and pick the alignment of a kernel-chosen IOVA. @addr
 * is where the memory starts (user address, file offset or source IOVA):
 * large IOMMU pages need the IOVA to keep its offset to them.
 */
static int ioasid_prepare_placement(struct ioasid_ctx *ctx, u32 flags,
				    u64 iova, u64 length, u64 align, u64 addr,
				    struct ioasid_caps *caps,
				    struct ioasid_placement *place)
{
	unsigned long min;
	u64 end;

	if (!(flags & (IOASID_MAP_READ | IOASID_MAP_WRITE)) || !length)
		return -EINVAL;
	ioasid_ctx_caps(ctx, caps);
	min = ioasid_min_pgsize(caps);
	if (flags & IOASID_MAP_FIXED_IOVA) {
		if (align)
			return -EINVAL;
	} else {
		if (iova)
			return -EINVAL;
		if (align && (!is_power_of_2(align) || align < min))
			return -EINVAL;
	}
	if (check_add_overflow(iova, length - 1, &end) ||
	    check_add_overflow(addr, length - 1, &end))
		return -EOVERFLOW;
	if (!IS_ALIGNED(iova | length | addr, min))
		return -EINVAL;
	place->align = align ?: ioasid_map_align(caps, addr, length);
	return 0;
}

/*
 * Userspace DMA is always cache coherent where the IOMMU can make it so:
 * without IOMMU_CACHE, some IOMMUs (ARM SMMU) map memory non-cacheable.
 */
static int ioasid_map_prot(u32 flags)
{
	return IOMMU_CACHE |
	       (flags & IOASID_MAP_READ ? IOMMU_READ : 0) |
	       (flags & IOASID_MAP_WRITE ? IOMMU_WRITE : 0);
}

/*
 * Pin @place->length bytes of memory from @addr (a user address, or an
 * offset in @file) and map them where @place says, with the IOASID_MAP_*
 * permissions of @flags.
 */
static int ioasid_ioas_map_memory(struct ioasid_ctx *ctx,
				  struct ioasid_ioas *ioas, struct file *file,
				  u64 addr, u32 flags, struct ioasid_caps *caps,
				  struct ioasid_placement *place)
{
	struct ioasid_area *area;
	int rc;

	/*
	 * A MAP over existing mappings fails before anything is pinned; this
	 * is checked again, under the lock, once the memory is pinned
	 */
	if (place->fixed) {
		u64 start, last;

		mutex_lock(&ioas->mutex);
		ioasid_ioas_aperture(ioas, caps, &start, &last);
		rc = ioasid_ioas_check_fixed(ioas, start, last, *place->iova,
					     place->length);
		mutex_unlock(&ioas->mutex);
		if (rc)
			return rc;
	}

	area = kzalloc(sizeof(*area), GFP_KERNEL_ACCOUNT);
	if (!area)
		return -ENOMEM;
	area->prot = ioasid_map_prot(flags);
	area->node.last = place->length - 1;

	/* Pinning can take long: do it before taking the IOASID's lock */
	area->pages = ioasid_pages_pin(ctx, file, addr,
				       place->length >> PAGE_SHIFT,
				       flags & IOASID_MAP_WRITE, &area->use);
	if (IS_ERR(area->pages)) {
		rc = PTR_ERR(area->pages);
		kfree(area);
		return rc;
	}

	rc = ioasid_ioas_add_areas(ioas, caps, &area, 1, place);
	if (rc && area)
		ioasid_area_free(area);
	if (!rc)
		ioasid_ioas_notify_map(ioas, *place->iova, place->length);
	return rc;
}

int ioasid_ioas_map(struct ioasid_ucmd *ucmd)
{
	const u32 known = IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ |
			  IOASID_MAP_WRITE | IOASID_MAP_FILE;
	struct ioasid_map *cmd = ucmd->cmd;
	struct ioasid_placement place = {
		.fixed = cmd->flags & IOASID_MAP_FIXED_IOVA,
		.iova = &cmd->iova,
		.length = cmd->length,
		.ucmd = ucmd,
		.cmd_len = sizeof(*cmd),
	};
	struct file *file = NULL;
	struct ioasid_caps caps;
	struct ioasid_ioas *ioas;
	int rc;

	if (cmd->flags & ~known)
		return -EOPNOTSUPP;
	if (!(cmd->flags & IOASID_MAP_FILE) && cmd->fd)
		return -EINVAL;
	rc = ioasid_prepare_placement(ucmd->ctx, cmd->flags, cmd->iova,
				      cmd->length, cmd->iova_alignment,
				      cmd->user_va, &caps, &place);
	if (rc)
		return rc;

	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	if (cmd->flags & IOASID_MAP_FILE) {
		file = fget(cmd->fd);
		if (!file) {
			rc = -EBADF;
			goto out_put;
		}
	}
	rc = ioasid_ioas_map_memory(ucmd->ctx, ioas, file, cmd->user_va,
				    cmd->flags, &caps, &place);
	if (file)
		fput(file);
out_put:
	ioasid_object_put(&ioas->obj);
	return rc;
}

/**
 * ioasid_ioas_map_user() - map user memory at a fixed IOVA, for the kernel
 * @ctx: Context of @ioas
 * @ioas: The IOASID, held by the caller
 * @user_va: Address of the memory in the caller's mm
 * @iova: Where to map it
 * @length: Bytes to map
 * @flags: IOASID_MAP_READ and/or IOASID_MAP_WRITE
 *
 * IOASID_MAP with IOASID_MAP_FIXED_IOVA, for the vfio container shim.
 *
 * Return: 0, or the errors of IOASID_MAP.
 */
int ioasid_ioas_map_user(struct ioasid_ctx *ctx, struct ioasid_ioas *ioas,
			 u64 user_va, u64 iova, u64 length, u32 flags)
{
	struct ioasid_placement place = {
		.fixed = true,
		.iova = &iova,
		.length = length,
	};
	struct ioasid_caps caps;
	int rc;

	flags |= IOASID_MAP_FIXED_IOVA;
	rc = ioasid_prepare_placement(ctx, flags, iova, length, 0, user_va,
				      &caps, &place);
	if (rc)
		return rc;
	return ioasid_ioas_map_memory(ctx, ioas, NULL, user_va, flags, &caps,
				      &place);
}

/*
 * Collect new areas using the memory mapped at [start, start + length) of
 * @src, with IOVA ranges as offsets from @start. The memory stays pinned by
 * the new areas' uses, whatever happens to @src afterwards.
 */
static int ioasid_ioas_copy_areas(struct ioasid_ioas *src, u64 start,
				  u64 length, int prot,
				  struct ioasid_area ***out, unsigned long *n)
{
	u64 last = start + length - 1, cur;
	struct ioasid_area *area, **areas;
	unsigned long i = 0, count = 0;
	int rc = 0;

	mutex_lock(&src->mutex);
	/* The range must be covered without a hole: cur is the next IOVA */
	cur = start;
	for (area = ioasid_area_first(src, start, last); area;
	     area = ioasid_area_next(area, start, last)) {
		if (area->node.start > cur) {
			rc = -ENOENT;
			goto out_unlock;
		}
		if ((prot & IOMMU_WRITE) && !area->pages->writable) {
			rc = -EPERM;
			goto out_unlock;
		}
		count++;
		if (area->node.last >= last)
			break;
		cur = area->node.last + 1;
	}
	if (!area) {
		rc = -ENOENT;
		goto out_unlock;
	}

	areas = kvcalloc(count, sizeof(*areas), GFP_KERNEL_ACCOUNT);
	if (!areas) {
		rc = -ENOMEM;
		goto out_unlock;
	}
	for (area = ioasid_area_first(src, start, last); area;
	     area = ioasid_area_next(area, start, last)) {
		u64 s = max_t(u64, area->node.start, start);
		u64 e = min_t(u64, area->node.last, last);
		struct ioasid_area *copy;

		copy = kzalloc(sizeof(*copy), GFP_KERNEL_ACCOUNT);
		if (!copy) {
			rc = -ENOMEM;
			break;
		}
		copy->prot = prot;
		copy->node.start = s - start;
		copy->node.last = e - start;
		copy->use.start = area->use.start +
				  ((s - area->node.start) >> PAGE_SHIFT);
		copy->use.last = copy->use.start + ((e - s) >> PAGE_SHIFT);
		copy->pages = area->pages;
		ioasid_pages_get(copy->pages);
		ioasid_pages_use(copy->pages, &copy->use);
		areas[i++] = copy;
	}
	if (rc) {
		while (i--)
			ioasid_area_free(areas[i]);
		kvfree(areas);
		goto out_unlock;
	}
	*out = areas;
	*n = count;
out_unlock:
	mutex_unlock(&src->mutex);
	return rc;
}

int ioasid_ioas_copy(struct ioasid_ucmd *ucmd)
{
	const u32 known = IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ |
			  IOASID_MAP_WRITE;
	struct ioasid_copy *cmd = ucmd->cmd;
	struct ioasid_placement place = {
		.fixed = cmd->flags & IOASID_MAP_FIXED_IOVA,
		.iova = &cmd->dst_iova,
		.length = cmd->length,
		.ucmd = ucmd,
		.cmd_len = sizeof(*cmd),
	};
	struct ioasid_ioas *src, *dst;
	struct ioasid_area **areas;
	struct ioasid_caps caps;
	unsigned long n, i;
	int rc;

	if (cmd->flags & ~known)
		return -EOPNOTSUPP;
	rc = ioasid_prepare_placement(ucmd->ctx, cmd->flags, cmd->dst_iova,
				      cmd->length, cmd->iova_alignment,
				      cmd->src_iova, &caps, &place);
	if (rc)
		return rc;

	src = ioasid_ioas_get(ucmd->ctx, cmd->src_ioasid);
	if (IS_ERR(src))
		return PTR_ERR(src);
	dst = ioasid_ioas_get(ucmd->ctx, cmd->dst_ioasid);
	if (IS_ERR(dst)) {
		rc = PTR_ERR(dst);
		goto out_put_src;
	}

	rc = ioasid_ioas_copy_areas(src, cmd->src_iova, cmd->length,
				    ioasid_map_prot(cmd->flags), &areas, &n);
	if (rc)
		goto out_put_dst;
	rc = ioasid_ioas_add_areas(dst, &caps, areas, n, &place);
	for (i = 0; rc && i < n; i++)
		if (areas[i])
			ioasid_area_free(areas[i]);
	kvfree(areas);
	if (!rc)
		ioasid_ioas_notify_map(dst, cmd->dst_iova, cmd->length);
out_put_dst:
	ioasid_object_put(&dst->obj);
out_put_src:
	ioasid_object_put(&src->obj);
	return rc;
}

/* Page sizes the domains of the IOASID may have used for its mappings */
static unsigned long ioasid_ioas_pgsizes(struct ioasid_ioas *ioas)
{
	struct ioasid_domain *idomain;
	unsigned long pgsizes = 0;

	lockdep_assert_held(&ioas->mutex);

	list_for_each_entry(idomain, &ioas->domains, node)
		pgsizes |= idomain->domain->pgsize_bitmap;
	if (ioas->max_pgsize)
		pgsizes &= GENMASK(__fls(ioas->max_pgsize), 0);
	return pgsizes;
}

/*
 * What UNMAP must be aligned to: the smallest page of the context's IOMMU
 * and of every domain, as the IOMMU core refuses to unmap less than that.
 */
static unsigned long ioasid_ioas_unmap_align(struct ioasid_ioas *ioas,
					     struct ioasid_caps *caps)
{
	unsigned long align = ioasid_min_pgsize(caps);
	struct ioasid_domain *idomain;

	lockdep_assert_held(&ioas->mutex);

	list_for_each_entry(idomain, &ioas->domains, node)
		align = max(align, BIT(__ffs(idomain->domain->pgsize_bitmap)));
	return align;
}

/*
 * The largest page an IOMMU with page sizes @pgsizes can have used to map
 * @iova of @area: a page of size S is possible only if the S-aligned block
 * around @iova lies in the area and its memory is physically contiguous
 * and S-aligned, since ioasid_area_map() maps contiguous runs, cut at
 * multiples of the IOASID's max_pgsize, and iommu_map() picks page sizes by
 * alignment. PAGE_SIZE if nothing larger.
 */
static unsigned long ioasid_area_max_leaf(struct ioasid_area *area,
					  unsigned long pgsizes,
					  unsigned long iova)
{
	unsigned long sizes = pgsizes & ~(2 * PAGE_SIZE - 1);

	while (sizes) {
		unsigned long size = BIT(__fls(sizes));
		unsigned long block = ALIGN_DOWN(iova, size);

		sizes &= ~size;
		if (block < area->node.start ||
		    block + size - 1 > area->node.last)
			continue;
		if (ioasid_pages_is_block(area->pages, area->use.start +
					  ((block - area->node.start) >>
					   PAGE_SHIFT), size >> PAGE_SHIFT))
			return size;
	}
	return PAGE_SIZE;
}

/* Does a cut of @area between @iova - 1 and @iova go through a page? */
static bool ioasid_area_cut_splits_page(struct ioasid_area *area,
					unsigned long pgsizes,
					unsigned long iova)
{
	return !IS_ALIGNED(iova, ioasid_area_max_leaf(area, pgsizes, iova));
}

/* A split area: [start, last] of @area, its pages pinned once more */
static struct interval_tree_node *ioasid_area_split(struct ioasid_area *area,
						    struct ioasid_area *piece,
						    unsigned long start,
						    unsigned long last)
{
	piece->prot = area->prot;
	piece->pages = area->pages;
	piece->node.start = start;
	piece->node.last = last;
	piece->use.start = area->use.start +
			   ((start - area->node.start) >> PAGE_SHIFT);
	piece->use.last = piece->use.start + ((last - start) >> PAGE_SHIFT);
	ioasid_pages_get(piece->pages);
	return &piece->use;
}

/*
 * Cut [start, last] out of the tree of areas, from @head, the first area in
 * it, on, splitting the areas that stick out of it with @spare: their pages
 * outside the range stay pinned, the others are released. The domains have
 * been unmapped; areas that some domain failed to unmap stay whole.
 */
static void ioasid_cut_tree(struct ioasid_ioas *ioas, unsigned long start,
			    unsigned long last, struct ioasid_area *head,
			    struct ioasid_area **spare, u64 *unmapped)
{
	struct ioasid_area *area, *next, *left = NULL, *right = NULL;

	for (area = head; area; area = next) {
		unsigned long s = max(area->node.start, start);
		unsigned long e = min(area->node.last, last);
		struct interval_tree_node *keep_l = NULL, *keep_r = NULL;

		next = ioasid_area_next(area, start, last);
		if (area->stuck)
			continue;
		ioasid_area_remove(area, &ioas->areas);
		if (area->node.start < start) {
			left = spare[0];
			spare[0] = NULL;
			keep_l = ioasid_area_split(area, left, area->node.start,
						   start - 1);
		}
		if (area->node.last > last) {
			right = spare[1];
			spare[1] = NULL;
			keep_r = ioasid_area_split(area, right, last + 1,
						   area->node.last);
		}
		ioasid_pages_replace_use(area->pages, &area->use, keep_l,
					 keep_r);
		ioasid_pages_put(area->pages);
		kfree(area);
		*unmapped += e - s + 1;
		cond_resched();
	}
	if (left)
		ioasid_area_insert(left, &ioas->areas);
	if (right)
		ioasid_area_insert(right, &ioas->areas);
}

/*
 * Can [start, last] be cut out of the areas? -ENOENT when nothing is mapped
 * in it; -EXDEV when an edge of the range lies inside a page an IOMMU may
 * use, as unmapping that page would take the translation of memory outside
 * the range away. Sets the first and last areas it touches.
 */
static int ioasid_ioas_can_cut(struct ioasid_ioas *ioas, unsigned long start,
			       unsigned long last, struct ioasid_area **head,
			       struct ioasid_area **tail)
{
	unsigned long pgsizes = ioasid_ioas_pgsizes(ioas);

	lockdep_assert_held(&ioas->mutex);

	*head = ioasid_area_first(ioas, start, last);
	if (!*head)
		return -ENOENT;
	*tail = (*head)->node.last >= last ? *head :
		ioasid_area_first(ioas, last, last);
	if ((*head)->node.start < start &&
	    ioasid_area_cut_splits_page(*head, pgsizes, start))
		return -EXDEV;
	if (*tail && (*tail)->node.last > last &&
	    ioasid_area_cut_splits_page(*tail, pgsizes, last + 1))
		return -EXDEV;
	return 0;
}

/*
 * Unmap [start, last] from every domain and cut it out of the areas, its
 * first and last areas @head and @tail as ioasid_ioas_can_cut() found them
 * under the lock still held. Adds the bytes removed to *@unmapped. Fails
 * only before changing anything, with -ENOMEM.
 */
static int ioasid_ioas_cut(struct ioasid_ioas *ioas, unsigned long start,
			   unsigned long last, struct ioasid_area *head,
			   struct ioasid_area *tail, u64 *unmapped)
{
	struct ioasid_area *area, *spare[2] = {};
	struct ioasid_domain *idomain;
	int rc = 0;

	lockdep_assert_held(&ioas->mutex);

	if (head->node.start < start) {
		spare[0] = kzalloc(sizeof(*spare[0]), GFP_KERNEL_ACCOUNT);
		if (!spare[0])
			return -ENOMEM;
	}
	if (tail && tail->node.last > last) {
		spare[1] = kzalloc(sizeof(*spare[1]), GFP_KERNEL_ACCOUNT);
		if (!spare[1]) {
			rc = -ENOMEM;
			goto out_free;
		}
	}

	/*
	 * Pages that keep runs in the first domain, the only one they keep
	 * them in (ioasid_area_store()), take them back before it unmaps
	 */
	idomain = list_first_entry_or_null(&ioas->domains,
					   struct ioasid_domain, node);
	for (area = head; idomain && area;
	     area = ioasid_area_next(area, start, last)) {
		unsigned long s = max(area->node.start, start);
		unsigned long e = min(area->node.last, last);

		rc = ioasid_pages_recall(area->pages, idomain->domain,
					 area->use.start +
					 ((s - area->node.start) >> PAGE_SHIFT),
					 area->use.start +
					 ((e - area->node.start) >> PAGE_SHIFT));
		if (rc)
			goto out_free;
	}

	/* One IOTLB flush per domain, before any page is unpinned */
	list_for_each_entry(idomain, &ioas->domains, node) {
		struct iommu_iotlb_gather gather;

		iommu_iotlb_gather_init(&gather);
		for (area = head; area;
		     area = ioasid_area_next(area, start, last)) {
			ioasid_area_unmap(idomain->domain, area,
					  max(area->node.start, start),
					  min(area->node.last, last), &gather);
			cond_resched();
		}
		iommu_iotlb_sync(idomain->domain, &gather);
	}
	ioasid_cut_tree(ioas, start, last, head, spare, unmapped);

out_free:
	kfree(spare[0]);
	kfree(spare[1]);
	return rc;
}

/**
 * ioasid_ioas_unmap_range() - unmap [@start, @last] of a normal IOASID
 * @ctx: Context of @ioas
 * @ioas: The IOASID, held by the caller
 * @start: First IOVA
 * @last: Last IOVA
 * @whole: Refuse to cut a mapping: the range must start and end at the
 *         edges of the mappings it touches (vfio type1 v2)
 * @unmapped: Set to the bytes unmapped
 *
 * IOASID_UNMAP, for the ioctl and the vfio container shim.
 *
 * Return: 0, or -ENOENT when nothing is mapped in the range, -EINVAL when
 * it is not aligned to what the IOMMUs can unmap or, with @whole, cuts a
 * mapping, -EXDEV when it would cut a large IOMMU page, -ENOMEM, -EBUSY
 * when a driver pinning the memory did not let go in time. Nothing is
 * unmapped on failure.
 */
int ioasid_ioas_unmap_range(struct ioasid_ctx *ctx, struct ioasid_ioas *ioas,
			    u64 start, u64 last, bool whole, u64 *unmapped)
{
	struct ioasid_unpin_wait wait = {};
	struct ioasid_area *head, *tail;
	struct ioasid_caps caps;
	int rc;

	*unmapped = 0;
	ioasid_ctx_caps(ctx, &caps);

	/* Drivers that pin memory of the range let go of it first */
	wait.node.start = start;
	wait.node.last = last;
	wait.deadline = jiffies + IOASID_ACCESS_UNPIN_TIMEOUT;
	mutex_lock(&ioas->mutex);
	do {
		if (!IS_ALIGNED(start | (last + 1),
				ioasid_ioas_unmap_align(ioas, &caps))) {
			rc = -EINVAL;
			break;
		}
		/* Nothing to unmap, or a cut that fails: nobody is asked */
		rc = ioasid_ioas_can_cut(ioas, start, last, &head, &tail);
		if (!rc && whole &&
		    (head->node.start < start ||
		     (tail && tail->node.last > last)))
			rc = -EINVAL;
		if (!rc)
			rc = ioasid_ioas_unpin_accesses(ioas, &wait);
	} while (rc == -EAGAIN);
	/* 0 only if the lock was held since head and tail were found */
	if (!rc)
		rc = ioasid_ioas_cut(ioas, start, last, head, tail, unmapped);
	ioasid_ioas_unpin_done(ioas, &wait);
	mutex_unlock(&ioas->mutex);
	return rc;
}

int ioasid_ioas_unmap(struct ioasid_ucmd *ucmd)
{
	struct ioasid_unmap *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	u64 unmapped = 0;
	u64 start, last;
	int rc;

	if (cmd->flags & ~IOASID_UNMAP_ALL)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;
	if (cmd->flags & IOASID_UNMAP_ALL) {
		if (cmd->iova || cmd->length)
			return -EINVAL;
		start = 0;
		last = ULONG_MAX;
	} else {
		if (!cmd->length)
			return -EINVAL;
		if (check_add_overflow(cmd->iova, cmd->length - 1, &last))
			return -EOVERFLOW;
		start = cmd->iova;
	}

	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	rc = ioasid_ioas_unmap_range(ucmd->ctx, ioas, start, last, false,
				     &unmapped);
	/* VMMs empty an IOASID without knowing whether anything is left */
	if (rc == -ENOENT && (cmd->flags & IOASID_UNMAP_ALL))
		rc = 0;
	if (!rc) {
		cmd->out_length = unmapped;
		rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	}
	ioasid_object_put(&ioas->obj);
	return rc;
}

/* Do domains exist, and does every one make DMA snoop CPU caches? */
bool ioasid_ioas_enforces_cc(struct ioasid_ioas *ioas)
{
	struct ioasid_domain *idomain;
	bool cc;

	mutex_lock(&ioas->mutex);
	cc = !list_empty(&ioas->domains);
	list_for_each_entry(idomain, &ioas->domains, node)
		cc &= idomain->enforce_cc;
	mutex_unlock(&ioas->mutex);
	return cc;
}

/**
 * ioasid_ioas_ranges() - the IOVA ranges a normal IOASID can map
 * @ioas: The IOASID, held by the caller
 * @caps: Capabilities of its context's IOMMU
 * @ranges: Set to a kmalloc'ed array of the ranges, in order, for the
 *          caller to kfree()
 * @align: Set to the alignment MAP and UNMAP need
 *
 * The aperture of every domain, less the reserved ranges of the attached
 * devices.
 *
 * Return: the number of ranges, or -ENOMEM.
 */
int ioasid_ioas_ranges(struct ioasid_ioas *ioas, struct ioasid_caps *caps,
		       struct ioasid_iova_range **ranges, u64 *align)
{
	struct interval_tree_node *node;
	u64 start, last, cur;
	u32 n = 0, max;

	mutex_lock(&ioas->mutex);
	/* Reserved ranges split the aperture into at most one more range */
	max = 1;
	for (node = interval_tree_iter_first(&ioas->reserved, 0, ULONG_MAX);
	     node; node = interval_tree_iter_next(node, 0, ULONG_MAX))
		max++;
	*ranges = kcalloc(max, sizeof(**ranges), GFP_KERNEL);
	if (!*ranges) {
		mutex_unlock(&ioas->mutex);
		return -ENOMEM;
	}

	ioasid_ioas_aperture(ioas, caps, &start, &last);
	*align = ioasid_ioas_unmap_align(ioas, caps);
	cur = start;
	/* Reserved ranges come in order of their start, maybe overlapping */
	for (node = interval_tree_iter_first(&ioas->reserved, start, last);
	     node; node = interval_tree_iter_next(node, start, last)) {
		if (node->start > cur) {
			(*ranges)[n].start = cur;
			(*ranges)[n++].last = node->start - 1;
		}
		if (node->last >= last)
			goto out_done;
		cur = max_t(u64, cur, node->last + 1);
	}
	if (cur <= last) {
		(*ranges)[n].start = cur;
		(*ranges)[n++].last = last;
	}
out_done:
	mutex_unlock(&ioas->mutex);
	return n;
}

int ioasid_ioas_iova_ranges(struct ioasid_ucmd *ucmd)
{
	struct ioasid_iova_ranges *cmd = ucmd->cmd;
	struct ioasid_iova_range *ranges;
	struct ioasid_ioas *ioas;
	struct ioasid_caps caps;
	u64 align;
	int rc, n;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->num_ranges && !cmd->ranges)
		return -EFAULT;

	ioasid_ctx_caps(ucmd->ctx, &caps);
	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	n = ioasid_ioas_ranges(ioas, &caps, &ranges, &align);
	if (n < 0) {
		rc = n;
		goto out_put;
	}
	if (copy_to_user(u64_to_user_ptr(cmd->ranges), ranges,
			 array_size(min_t(u32, n, cmd->num_ranges),
				    sizeof(*ranges)))) {
		rc = -EFAULT;
		goto out_free;
	}
	rc = n > cmd->num_ranges ? -EMSGSIZE : 0;
	cmd->num_ranges = n;
	cmd->out_iova_alignment = align;
	if (ioasid_ucmd_respond(ucmd, sizeof(*cmd)))
		rc = -EFAULT;
out_free:
	kfree(ranges);
out_put:
	ioasid_object_put(&ioas->obj);
	return rc;
}

static void ioasid_resv_remove(struct ioasid_ioas *ioas, void *owner)
{
	struct interval_tree_node *node, *next;

	lockdep_assert_held(&ioas->mutex);

	for (node = interval_tree_iter_first(&ioas->reserved, 0, ULONG_MAX);
	     node; node = next) {
		struct ioasid_resv *resv =
			container_of(node, struct ioasid_resv, node);

		next = interval_tree_iter_next(node, 0, ULONG_MAX);
		if (resv->owner != owner)
			continue;
		interval_tree_remove(node, &ioas->reserved);
		kfree(resv);
	}
}

/*
 * Turn the reserved regions of a group into reserved ranges of the IOASID,
 * not yet inserted: refuse if one covers a mapping. Relaxable direct
 * mappings (RMRRs of USB and graphics devices) are not reserved: such
 * devices work without them once assigned, as with vfio and iommufd. A
 * software MSI window is, and its start is set in *@sw_msi.
 */
static int ioasid_resv_collect(struct ioasid_ioas *ioas,
			       struct iommu_group *group, void *owner,
			       struct list_head *resvs, phys_addr_t *sw_msi)
{
	struct iommu_resv_region *region, *tmp;
	LIST_HEAD(regions);
	int rc;

	lockdep_assert_held(&ioas->mutex);

	rc = iommu_get_group_resv_regions(group, &regions);
	if (rc)
		goto out_free;
	list_for_each_entry(region, &regions, list) {
		struct ioasid_resv *resv;
		u64 last;

		if (region->type == IOMMU_RESV_DIRECT_RELAXABLE ||
		    !region->length ||
		    check_add_overflow((u64)region->start,
				       (u64)region->length - 1, &last))
			continue;
		if (region->type == IOMMU_RESV_SW_MSI)
			*sw_msi = region->start;
		if (ioasid_area_first(ioas, region->start, last)) {
			pr_info_ratelimited("ioasid: reserved region [%pa + %zx] of a device covers a mapping\n",
					    &region->start, region->length);
			rc = -EADDRINUSE;
			goto out_free;
		}
		resv = kzalloc(sizeof(*resv), GFP_KERNEL_ACCOUNT);
		if (!resv) {
			rc = -ENOMEM;
			goto out_free;
		}
		resv->owner = owner;
		resv->node.start = region->start;
		resv->node.last = last;
		list_add_tail(&resv->pending, resvs);
	}
out_free:
	list_for_each_entry_safe(region, tmp, &regions, list)
		kfree(region);
	return rc;
}

static void ioasid_resv_commit(struct ioasid_ioas *ioas,
			       struct list_head *resvs, bool insert)
{
	struct ioasid_resv *resv, *tmp;

	list_for_each_entry_safe(resv, tmp, resvs, pending) {
		list_del(&resv->pending);
		if (insert)
			interval_tree_insert(&resv->node, &ioas->reserved);
		else
			kfree(resv);
	}
}

/**
 * ioasid_ioas_reserve_group() - keep a group's reserved regions unmapped
 * @ioas: A normal IOASID, held by the caller
 * @group: The iommu_group
 * @owner: Cookie of the reservation, for ioasid_ioas_unreserve()
 *
 * For the vfio container shim: type1 keeps the reserved regions of a
 * group (MSI windows, regions the firmware maps) out of its mappings from
 * when the group joins, before any device is opened, where a device
 * attached to an IOASID reserves them at its attach.
 *
 * Return: 0, -EADDRINUSE when a region covers a mapping, -ENOMEM.
 */
int ioasid_ioas_reserve_group(struct ioasid_ioas *ioas,
			      struct iommu_group *group, void *owner)
{
	phys_addr_t sw_msi = 0;
	LIST_HEAD(resvs);
	int rc;

	mutex_lock(&ioas->mutex);
	rc = ioasid_resv_collect(ioas, group, owner, &resvs, &sw_msi);
	ioasid_resv_commit(ioas, &resvs, !rc);
	mutex_unlock(&ioas->mutex);
	return rc;
}

/* Undo every ioasid_ioas_reserve_group() made with @owner */
void ioasid_ioas_unreserve(struct ioasid_ioas *ioas, void *owner)
{
	mutex_lock(&ioas->mutex);
	ioasid_resv_remove(ioas, owner);
	mutex_unlock(&ioas->mutex);
}

/* Can the IOMMU of @dev keep its DMA cache coherent whatever it asks? */
static bool ioasid_dev_enforces_cc(struct device *dev)
{
	return device_iommu_capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY);
}

/**
 * ioasid_paging_domain_alloc() - a paging domain for mappings of userspace
 * @dev: A device the domain will be attached to
 * @flags: IOMMU_HWPT_ALLOC_* flags, 0 for none
 *
 * The domain has its IOMMU's page sizes and aperture from the start, so
 * that what is mapped before a device attaches gets large IOMMU pages too.
 * The driver's domain_alloc_user op gives that, as it does for iommufd;
 * 6.12's VT-d fills in the page sizes of a domain allocated otherwise only
 * when a device attaches, and maps anything before that with 4 KiB pages.
 * Drivers without the op get iommu_paging_domain_alloc(), with no @flags.
 *
 * Return: the domain, or an ERR_PTR: -EOPNOTSUPP for @flags the driver
 * cannot do.
 */
struct iommu_domain *ioasid_paging_domain_alloc(struct device *dev, u32 flags)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iommu_domain *domain;

	if (!ops->domain_alloc_user) {
		if (flags)
			return ERR_PTR(-EOPNOTSUPP);
		return iommu_paging_domain_alloc(dev);
	}
	domain = ops->domain_alloc_user(dev, flags, NULL, NULL);
	if (IS_ERR(domain))
		return domain;
	/* Set by the core for domains it allocates itself */
	domain->owner = ops;
	return domain;
}

/* Free a domain no device uses any more, with every mapping it has */
static void ioasid_domain_free(struct ioasid_domain *idomain)
{
	iommu_domain_free(idomain->domain);
	kfree(idomain);
}

/*
 * Allocate a domain for @dev and fill it with every area; with @core, the
 * way the IOMMU core allocates its own (see ioasid_ioas_get_domain())
 */
static struct ioasid_domain *ioasid_domain_create(struct ioasid_ioas *ioas,
						  struct device *dev, bool core)
{
	u32 flags = ioas->nest_parent ? IOMMU_HWPT_ALLOC_NEST_PARENT : 0;
	struct ioasid_domain *idomain;
	struct ioasid_area *area;
	u64 start, last;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	idomain = kzalloc(sizeof(*idomain), GFP_KERNEL_ACCOUNT);
	if (!idomain)
		return ERR_PTR(-ENOMEM);
	/* Never for a nesting parent, which has only the one kind */
	if (core)
		idomain->domain = iommu_paging_domain_alloc(dev);
	else
		idomain->domain = ioasid_paging_domain_alloc(dev, flags);
	if (IS_ERR(idomain->domain)) {
		rc = PTR_ERR(idomain->domain);
		goto err_free;
	}
	/*
	 * Where the IOMMU can make DMA snoop CPU caches whatever the device
	 * asks, do: KVM then need not care for non-coherent DMA. It must be
	 * set before anything is mapped.
	 */
	if (ioasid_dev_enforces_cc(dev)) {
		const struct iommu_domain_ops *ops = idomain->domain->ops;

		if (!ops->enforce_cache_coherency ||
		    !ops->enforce_cache_coherency(idomain->domain)) {
			rc = -EINVAL;
			goto err_free_domain;
		}
		idomain->enforce_cc = true;
	}

	ioasid_domain_aperture(idomain->domain, &start, &last);
	for (area = ioasid_area_first(ioas, 0, ULONG_MAX); area;
	     area = ioasid_area_next(area, 0, ULONG_MAX)) {
		if (area->node.start < start || area->node.last > last) {
			rc = -ERANGE;
			goto err_free_domain;
		}
		rc = ioasid_area_map(ioas, idomain->domain, area, false);
		if (rc)
			goto err_free_domain;
		cond_resched();
	}
	return idomain;

err_free_domain:
	ioasid_domain_free(idomain);
	return ERR_PTR(rc);
err_free:
	kfree(idomain);
	return ERR_PTR(rc);
}

/**
 * ioasid_ioas_get_domain() - find or make a domain of a normal IOASID
 * @ioas: The IOASID, whose mutex is held
 * @dev: Device the domain is for
 * @attach: Attach something (a group's RID, a device's PASID, a nested
 *          domain) to the domain; returns -EINVAL for a domain the IOMMU
 *          instance of @dev cannot use
 * @arg: Argument of @attach
 *
 * Tries the existing domains, then a new one filled with every mapping.
 *
 * Return: the domain, of which a user is taken, or an ERR_PTR.
 */
struct ioasid_domain *
ioasid_ioas_get_domain(struct ioasid_ioas *ioas, struct device *dev,
		       int (*attach)(struct ioasid_domain *idomain, void *arg),
		       void *arg)
{
	struct ioasid_domain *idomain;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	list_for_each_entry(idomain, &ioas->domains, node) {
		/* Coherency is enforced in a new domain, before it fills */
		if (ioasid_dev_enforces_cc(dev) && !idomain->enforce_cc)
			continue;
		rc = attach(idomain, arg);
		if (!rc)
			goto out_attached;
		/* -EINVAL: this IOMMU instance cannot use the domain */
		if (rc != -EINVAL)
			return ERR_PTR(rc);
	}

	idomain = ioasid_domain_create(ioas, dev, ioas->core_domains);
	if (IS_ERR(idomain))
		return idomain;
	rc = attach(idomain, arg);
	/*
	 * A domain_alloc_user() domain may be of a kind the IOMMU cannot
	 * attach where the core's own would do: 6.12's VT-d builds second-
	 * stage tables only, and some scalable-mode IOMMUs (virtual ones
	 * above all) translate with the first stage alone. Try the core's
	 * kind, which gets large pages only from the attach on; if it is
	 * taken, the IOASID's next domains are of that kind at once, not
	 * filled twice each.
	 */
	if (rc == -EINVAL && !ioas->nest_parent && !ioas->core_domains &&
	    dev_iommu_ops(dev)->domain_alloc_user) {
		ioasid_domain_free(idomain);
		idomain = ioasid_domain_create(ioas, dev, true);
		if (IS_ERR(idomain))
			return idomain;
		rc = attach(idomain, arg);
		ioas->core_domains = !rc;
	}
	if (rc) {
		ioasid_domain_free(idomain);
		return ERR_PTR(rc);
	}
	list_add_tail(&idomain->node, &ioas->domains);
	/* The first domain: the areas' pages can keep runs in it now */
	if (list_is_singular(&ioas->domains)) {
		struct ioasid_area *area;

		for (area = ioasid_area_first(ioas, 0, ULONG_MAX); area;
		     area = ioasid_area_next(area, 0, ULONG_MAX)) {
			ioasid_area_store(ioas, area);
			cond_resched();
		}
	}
out_attached:
	idomain->users++;
	return idomain;
}

/**
 * ioasid_ioas_put_domain() - drop a user of a domain of a normal IOASID
 * @ioas: The IOASID, whose mutex is held
 * @idomain: The domain, which the last user frees
 */
void ioasid_ioas_put_domain(struct ioasid_ioas *ioas,
			    struct ioasid_domain *idomain)
{
	struct ioasid_domain *next;
	struct ioasid_area *area;

	lockdep_assert_held(&ioas->mutex);

	if (--idomain->users)
		return;
	list_del(&idomain->node);
	/* Pages that kept runs in the domain keep them in the next one */
	next = list_first_entry_or_null(&ioas->domains, struct ioasid_domain,
					node);
	for (area = ioasid_area_first(ioas, 0, ULONG_MAX); area;
	     area = ioasid_area_next(area, 0, ULONG_MAX)) {
		ioasid_pages_move_store(area->pages, idomain->domain,
					next ? next->domain : NULL);
		cond_resched();
	}
	ioasid_domain_free(idomain);
}

/**
 * ioasid_target_ioas() - the normal IOASID behind an attachment target
 * @target: A normal, nested or delegated IOASID
 *
 * Return: @target itself if it is normal, else its parent, whose mutex
 * protects the domains of both.
 */
struct ioasid_ioas *ioasid_target_ioas(struct ioasid_object *target)
{
	if (target->type == IOASID_OBJ_NESTED)
		return container_of(target, struct ioasid_nested, obj)->parent;
	return container_of(target, struct ioasid_ioas, obj);
}

static struct ioasid_nested *to_nested(struct ioasid_object *target)
{
	if (target->type != IOASID_OBJ_NESTED)
		return NULL;
	return container_of(target, struct ioasid_nested, obj);
}

/* Take a user of a domain of @target that @attach accepts */
static struct ioasid_domain *
ioasid_target_get_domain(struct ioasid_object *target, struct device *dev,
			 int (*attach)(struct ioasid_domain *idomain, void *arg),
			 void *arg)
{
	struct ioasid_nested *nested = to_nested(target);

	if (nested)
		return ioasid_nested_get_domain(nested, dev, attach, arg);
	return ioasid_ioas_get_domain(ioasid_target_ioas(target), dev, attach,
				      arg);
}

static void ioasid_target_put_domain(struct ioasid_object *target,
				     struct ioasid_domain *idomain)
{
	struct ioasid_nested *nested = to_nested(target);

	if (nested)
		ioasid_nested_put_domain(nested, idomain);
	else
		ioasid_ioas_put_domain(ioasid_target_ioas(target), idomain);
}

/* A group to attach, for ioasid_target_get_domain() */
struct ioasid_group_target {
	struct ioasid_group *igroup;
	phys_addr_t sw_msi;
};

static int ioasid_group_attach_domain(struct ioasid_domain *idomain,
				      void *arg)
{
	struct ioasid_group_target *gt = arg;
	struct ioasid_group *igroup = gt->igroup;
	struct ioasid_domain *paging = idomain->parent ?: idomain;
	int rc;

	rc = iommu_group_replace_domain(igroup->group, idomain->domain);
	if (rc || gt->sw_msi == PHYS_ADDR_MAX || paging->msi_cookie)
		return rc;

	/*
	 * Behind an IOMMU with a software MSI window, MSIs are translated
	 * too: the paging domain (a nested one's stage 2) needs the cookie
	 * with which dma-iommu maps the MSI doorbells into the window. Only a
	 * domain the group could attach to gets one (on another, dma-iommu
	 * would map doorbells into IOVAs its devices never reserved); if it
	 * cannot, the group goes back where it was. A device of the group
	 * that enables an MSI between the replace and the cookie gets a
	 * doorbell address the IOMMU faults, until it enables it again.
	 */
	rc = iommu_get_msi_cookie(paging->domain, gt->sw_msi);
	if (!rc || rc == -EEXIST) {
		paging->msi_cookie = true;
		return 0;
	}
	if (igroup->domain)
		WARN_ON(iommu_group_replace_domain(igroup->group,
						   igroup->domain->domain));
	else
		iommu_detach_group(idomain->domain, igroup->group);
	/* -EINVAL would read as "try another domain" to the caller */
	return rc == -EINVAL ? -EOPNOTSUPP : rc;
}

/**
 * ioasid_attach_group() - attach a group to an IOASID
 * @target: The IOASID: normal, nested or delegated
 * @igroup: The group, attached elsewhere or blocked
 * @dev: Device of the group that asks
 *
 * Moves the group's translation to a domain of @target in one step: an
 * existing domain if the group's IOMMU can use it, else a new one (for a
 * normal IOASID, filled with every mapping). The group's reserved regions
 * become reserved ranges of the normal IOASID: @target or its parent. The
 * caller then releases the group's old attachment.
 *
 * Return: the domain, or an ERR_PTR: -EADDRINUSE when a reserved region of
 * the group covers a mapping, -ERANGE when a mapping lies outside what the
 * IOMMU translates, -EINVAL for a nested IOASID without page tables,
 * -EOPNOTSUPP when a nesting parent is needed and the IOMMU cannot nest, or
 * the IOMMU driver's error.
 */
struct ioasid_domain *ioasid_attach_group(struct ioasid_object *target,
					  struct ioasid_group *igroup,
					  struct device *dev)
{
	struct ioasid_group_target gt = {
		.igroup = igroup,
		.sw_msi = PHYS_ADDR_MAX,
	};
	struct ioasid_ioas *ioas = ioasid_target_ioas(target);
	struct ioasid_domain *idomain;
	LIST_HEAD(resvs);
	int rc;

	mutex_lock(&ioas->mutex);
	/*
	 * A group moving between IOASIDs over the same normal one (a parent
	 * and its children) has its reserved ranges there already; they are
	 * collected again only to learn of its MSI window.
	 */
	rc = ioasid_resv_collect(ioas, igroup->group, igroup, &resvs,
				 &gt.sw_msi);
	if (igroup->target && ioasid_target_ioas(igroup->target) == ioas)
		ioasid_resv_commit(ioas, &resvs, false);
	if (rc) {
		idomain = ERR_PTR(rc);
		goto out_commit;
	}
	idomain = ioasid_target_get_domain(target, dev,
					   ioasid_group_attach_domain, &gt);
out_commit:
	/* The reserved ranges go in with the attachment, or not at all */
	ioasid_resv_commit(ioas, &resvs, !IS_ERR(idomain));
	mutex_unlock(&ioas->mutex);
	return idomain;
}

/**
 * ioasid_detach_group() - release a group's attachment to an IOASID
 * @target: The IOASID
 * @igroup: The group
 * @idomain: Domain of @target the group was attached to
 * @next: IOASID the group has been moved to already, or NULL to block the
 *        group's DMA first
 *
 * The group's reserved ranges go with it, unless @next keeps them: the
 * same normal IOASID is behind both. The domain is freed with its last
 * group.
 */
void ioasid_detach_group(struct ioasid_object *target,
			 struct ioasid_group *igroup,
			 struct ioasid_domain *idomain,
			 struct ioasid_object *next)
{
	struct ioasid_ioas *ioas = ioasid_target_ioas(target);

	mutex_lock(&ioas->mutex);
	/* With DMA owned, the core puts the group back to blocking */
	if (!next)
		iommu_detach_group(idomain->domain, igroup->group);
	if (!next || ioasid_target_ioas(next) != ioas)
		ioasid_resv_remove(ioas, igroup);
	ioasid_target_put_domain(target, idomain);
	mutex_unlock(&ioas->mutex);
}

/* A PASID of a device, for ioasid_ioas_get_domain() */
struct ioasid_pasid_target {
	struct device *dev;
	u32 pasid;
};

static int ioasid_pasid_attach_domain(struct ioasid_domain *idomain,
				      void *arg)
{
	struct ioasid_pasid_target *pt = arg;

	return iommu_attach_device_pasid(idomain->domain, pt->dev, pt->pasid,
					 NULL);
}

/**
 * ioasid_attach_pasid() - attach a PASID of a device to an IOASID
 * @target: The IOASID: normal, nested or delegated
 * @dev: The device
 * @pasid: The PASID, not attached anywhere
 *
 * Uses an existing domain of @target if the device's IOMMU can, else a new
 * one (for a normal IOASID, filled with every mapping).
 *
 * Return: the domain, or an ERR_PTR: -EINVAL for a nested IOASID without
 * page tables, -EOPNOTSUPP when the IOMMU cannot nest or cannot attach the
 * format's nested domains to PASIDs, or the IOMMU driver's error.
 */
struct ioasid_domain *ioasid_attach_pasid(struct ioasid_object *target,
					  struct device *dev, u32 pasid)
{
	struct ioasid_pasid_target pt = { .dev = dev, .pasid = pasid };
	struct ioasid_ioas *ioas = ioasid_target_ioas(target);
	struct ioasid_nested *nested = to_nested(target);
	struct ioasid_domain *idomain;

	/* Saves making a parent domain to learn the driver cannot */
	if (nested && nested->fmt->no_pasid)
		return ERR_PTR(-EOPNOTSUPP);
	mutex_lock(&ioas->mutex);
	idomain = ioasid_target_get_domain(target, dev,
					   ioasid_pasid_attach_domain, &pt);
	mutex_unlock(&ioas->mutex);
	return idomain;
}

/**
 * ioasid_detach_pasid() - undo ioasid_attach_pasid()
 * @target: The IOASID
 * @dev: The device
 * @pasid: The PASID
 * @idomain: The domain it is attached to, freed with its last user
 */
void ioasid_detach_pasid(struct ioasid_object *target, struct device *dev,
			 u32 pasid, struct ioasid_domain *idomain)
{
	struct ioasid_ioas *ioas = ioasid_target_ioas(target);

	mutex_lock(&ioas->mutex);
	iommu_detach_device_pasid(idomain->domain, dev, pasid);
	ioasid_target_put_domain(target, idomain);
	mutex_unlock(&ioas->mutex);
}

/**
 * ioasid_ioas_covers() - is a range of a normal IOASID mapped without holes?
 * @ioas: The IOASID, whose mutex is held
 * @start: First IOVA of the range
 * @last: Last IOVA of the range
 */
bool ioasid_ioas_covers(struct ioasid_ioas *ioas, u64 start, u64 last)
{
	struct ioasid_area *area;
	u64 next = start;

	lockdep_assert_held(&ioas->mutex);

	for (area = ioasid_area_first(ioas, start, last); area;
	     area = ioasid_area_next(area, start, last)) {
		if (area->node.start > next)
			return false;
		if (area->node.last >= last)
			return true;
		next = area->node.last + 1;
	}
	return false;
}

/* Called once the IOASID is out of its table and has no users */
void ioasid_ioas_destroy(struct ioasid_ioas *ioas)
{
	struct ioasid_area *area;

	mutex_lock(&ioas->mutex);
	WARN_ON(!list_empty(&ioas->domains));
	WARN_ON(!RB_EMPTY_ROOT(&ioas->reserved.rb_root));
	/* No domain is left: stuck areas can go too */
	while ((area = ioasid_area_first(ioas, 0, ULONG_MAX))) {
		ioasid_area_remove(area, &ioas->areas);
		ioasid_area_free(area);
		cond_resched();
	}
	while ((area = ioasid_area_first_in(&ioas->stuck, 0, ULONG_MAX))) {
		ioasid_area_remove(area, &ioas->stuck);
		ioasid_area_free(area);
	}
	mutex_unlock(&ioas->mutex);
	ioasid_ioas_free(ioas);
}

#ifdef CONFIG_IOASID_TEST
#define IOASID_PAGES_PER_RESCHED	512

/*
 * The bytes of the floor ops' range of @npages pages of 4 KiB at @iova, at
 * most @max of them, or 0 for a range they refuse
 */
static u64 ioasid_floor_len(u64 iova, u32 npages, u32 max)
{
	u64 len = (u64)npages << PAGE_SHIFT;

	if (!npages || npages > max || !PAGE_ALIGNED(iova) ||
	    PAGE_SIZE != SZ_4K || iova + len - 1 < iova)
		return 0;
	return len;
}

/*
 * The domain of the floor ops: the first of @ioas, if [iova, iova + len)
 * lies in its aperture, clear of mappings and reserved IOVAs, and it has
 * pages of 4 KiB. -ENODEV without a domain, else -EINVAL.
 */
static int ioasid_floor_domain(struct ioasid_ioas *ioas, u64 iova, u64 len,
			       struct iommu_domain **domain)
{
	struct ioasid_domain *idomain;
	u64 start, last;
	bool busy;

	lockdep_assert_held(&ioas->mutex);

	idomain = list_first_entry_or_null(&ioas->domains,
					   struct ioasid_domain, node);
	if (!idomain)
		return -ENODEV;
	ioasid_domain_aperture(idomain->domain, &start, &last);
	ioasid_ioas_busy_until(ioas, iova, iova + len - 1, &busy);
	if (busy || iova < start || iova + len - 1 > last ||
	    !(idomain->domain->pgsize_bitmap & SZ_4K))
		return -EINVAL;
	*domain = idomain->domain;
	return 0;
}

/*
 * IOASID_TEST_IOMMU_FLOOR: the IOMMU's own work under a MAP and an UNMAP of
 * @npages pages of 4 KiB that are not physically contiguous, timed in
 * @ns[]: 0 mapping them one iommu_map call each with one IOTLB sync, 1
 * reading every frame back, 2 unmapping them with one IOTLB flush. One
 * zeroed page is mapped read-only at every IOVA: the IOMMU does the same
 * work whatever the frames are, and nothing is pinned. The IOASID's mutex
 * is held throughout, so its domains see nothing else meanwhile.
 */
int ioasid_ioas_iommu_floor(struct ioasid_ioas *ioas, u64 iova, u32 npages,
			    u64 *ns)
{
	struct iommu_iotlb_gather gather;
	struct iommu_domain *domain;
	u32 i, mapped = 0;
	struct page *page;
	size_t unmapped;
	u64 t, len;
	int rc = 0;

	len = ioasid_floor_len(iova, npages, SZ_1M);
	if (!len)
		return -EINVAL;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return -ENOMEM;

	mutex_lock(&ioas->mutex);
	rc = ioasid_floor_domain(ioas, iova, len, &domain);
	if (rc)
		goto out_unlock;

	t = ktime_get_ns();
	for (mapped = 0; mapped < npages; mapped++) {
		rc = iommu_map_nosync(domain, iova + ((u64)mapped << PAGE_SHIFT),
				      page_to_phys(page), PAGE_SIZE, IOMMU_READ,
				      GFP_KERNEL_ACCOUNT);
		if (rc)
			break;
		if (!((mapped + 1) % IOASID_PAGES_PER_RESCHED))
			cond_resched();
	}
	if (!rc)
		rc = iommu_sync_map(domain, iova, len);
	ns[0] = ktime_get_ns() - t;

	t = ktime_get_ns();
	for (i = 0; i < mapped && !rc; i++) {
		if (iommu_iova_to_phys(domain, iova + ((u64)i << PAGE_SHIFT)) !=
		    page_to_phys(page))
			rc = -EIO;
		if (!((i + 1) % IOASID_PAGES_PER_RESCHED))
			cond_resched();
	}
	ns[1] = ktime_get_ns() - t;

	/*
	 * Only what was mapped: an IOMMU may unmap a whole block of the
	 * level where it finds a hole, mappings of others included
	 */
	ns[2] = 0;
	if (mapped) {
		len = (u64)mapped << PAGE_SHIFT;
		t = ktime_get_ns();
		iommu_iotlb_gather_init(&gather);
		unmapped = iommu_unmap_fast(domain, iova, len, &gather);
		iommu_iotlb_sync(domain, &gather);
		ns[2] = ktime_get_ns() - t;
		/* Some of it still mapped: the page must stay, DMA reaches it */
		if (WARN_ON_ONCE(unmapped != len)) {
			mutex_unlock(&ioas->mutex);
			return -EIO;
		}
	}
out_unlock:
	mutex_unlock(&ioas->mutex);
	__free_page(page);
	return rc;
}

/*
 * IOASID_TEST_OP_FLOOR: the least that @npages MAPs and UNMAPs of one page
 * of user memory each can cost, with no bookkeeping at all. Per page, the
 * MAP's work: charge it to RLIMIT_MEMLOCK, pin it for writing and map it
 * at the next 4 KiB IOVA from @iova, with an IOTLB sync of its own (one
 * iommu_map() call). Then per page, the UNMAP's: unmap it with an IOTLB
 * flush of its own, unpin it, uncharge it; with @scatter (from 8 pages
 * mapped on), not in the order they were mapped but by a stride of about
 * 5/8 of their number, made coprime with it, so that each UNMAP finds the
 * page table entry and the struct page it touches far from the last one's,
 * as UNMAPs of mappings made long before do. The pages are held in an array
 * allocated beforehand, so no frame is read back. Timed in @ns[]: 0 the
 * MAPs' work, 1 the UNMAPs'. What failed is undone; -ENOMEM past
 * RLIMIT_MEMLOCK, -EFAULT for memory that cannot be pinned; -EIO if the
 * IOMMU left a page mapped, which then stays pinned and charged. As in
 * IOASID_TEST_IOMMU_FLOOR, the IOASID's mutex is held throughout, so its
 * domains see nothing else meanwhile; pinning under it is for a test
 * kernel only, as a userfaultfd could then hold it.
 */
int ioasid_ioas_op_floor(struct ioasid_ioas *ioas, u64 iova, u64 uptr,
			 u32 npages, bool scatter, u64 *ns)
{
	struct mm_struct *mm = current->mm;
	u32 i, k, step = 1, mapped = 0;
	struct iommu_iotlb_gather gather;
	struct iommu_domain *domain;
	struct page **pages;
	size_t unmapped;
	u64 t, len;
	int rc;

	len = ioasid_floor_len(iova, npages, SZ_64K);
	if (!len || !PAGE_ALIGNED(uptr) || uptr + len - 1 < uptr || !mm)
		return -EINVAL;
	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;

	mutex_lock(&ioas->mutex);
	rc = ioasid_floor_domain(ioas, iova, len, &domain);
	if (rc)
		goto out_unlock;

	t = ktime_get_ns();
	for (mapped = 0; mapped < npages; mapped++) {
		u64 off = (u64)mapped << PAGE_SHIFT;

		rc = account_locked_vm(mm, 1, true);
		if (rc)
			break;
		rc = pin_user_pages_fast(uptr + off, 1,
					 FOLL_WRITE | FOLL_LONGTERM,
					 &pages[mapped]);
		if (rc != 1) {
			account_locked_vm(mm, 1, false);
			rc = rc < 0 ? rc : -EFAULT;
			break;
		}
		rc = iommu_map(domain, iova + off, page_to_phys(pages[mapped]),
			       PAGE_SIZE, IOMMU_READ | IOMMU_WRITE,
			       GFP_KERNEL_ACCOUNT);
		if (rc) {
			unpin_user_page(pages[mapped]);
			account_locked_vm(mm, 1, false);
			break;
		}
		if (!((mapped + 1) % IOASID_PAGES_PER_RESCHED))
			cond_resched();
	}
	ns[0] = ktime_get_ns() - t;

	if (scatter && mapped > 1) {
		step = mapped / 8 * 5 + 1;
		while (gcd(step, mapped) != 1)
			step++;
	}
	t = ktime_get_ns();
	for (k = 0, i = 0; k < mapped; k++, i = (i + step) % mapped) {
		iommu_iotlb_gather_init(&gather);
		unmapped = iommu_unmap_fast(domain,
					    iova + ((u64)i << PAGE_SHIFT),
					    PAGE_SIZE, &gather);
		iommu_iotlb_sync(domain, &gather);
		/* Still mapped: the page must stay pinned, DMA reaches it */
		if (WARN_ON_ONCE(unmapped != PAGE_SIZE)) {
			rc = -EIO;
			continue;
		}
		unpin_user_pages_dirty_lock(&pages[i], 1, true);
		account_locked_vm(mm, 1, false);
		if (!((k + 1) % IOASID_PAGES_PER_RESCHED))
			cond_resched();
	}
	ns[1] = ktime_get_ns() - t;
out_unlock:
	mutex_unlock(&ioas->mutex);
	kvfree(pages);
	return rc;
}
#endif
