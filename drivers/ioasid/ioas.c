// SPDX-License-Identifier: GPL-2.0-only
/*
 * Normal IOASIDs: an IOVA space userspace fills with its own memory.
 *
 * The tree of areas is the source of truth. Every IOMMU domain behind an
 * IOASID holds exactly the mappings of the tree: a domain is filled from it
 * when it is created, and MAP, UNMAP and COPY change the tree and every
 * domain together or, on failure, none of them.
 *
 * One invariant keeps UNMAP exact: a large IOMMU page never spans two
 * areas. Areas are mapped one by one, so a fresh mapping cannot span two;
 * when UNMAP cuts an area and the IOMMU had to drop a large page across the
 * cut, the rest of the page is mapped again with smaller pages.
 */
#include <linux/file.h>
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
static struct ioasid_ioas *ioasid_ioas_get(struct ioasid_ctx *ctx, u32 id)
{
	struct ioasid_object *obj;

	obj = ioasid_ioasid_get(ctx, id, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct ioasid_ioas, obj);
}

int ioasid_ioas_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_create *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	int rc;

	if (cmd->flags & ~IOASID_CREATE_NEST_PARENT)
		return -EOPNOTSUPP;
	/* Once an IOMMU is selected, it must be one that nests */
	if (cmd->flags & IOASID_CREATE_NEST_PARENT) {
		mutex_lock(&ucmd->ctx->lock);
		rc = ucmd->ctx->iommu_ops && !ucmd->ctx->caps.formats ?
		     -EOPNOTSUPP : 0;
		mutex_unlock(&ucmd->ctx->lock);
		if (rc)
			return rc;
	}

	ioas = kzalloc(sizeof(*ioas), GFP_KERNEL_ACCOUNT);
	if (!ioas)
		return -ENOMEM;
	ioas->nest_parent = cmd->flags & IOASID_CREATE_NEST_PARENT;
	mutex_init(&ioas->mutex);
	ioas->areas = RB_ROOT_CACHED;
	ioas->reserved = RB_ROOT_CACHED;
	INIT_LIST_HEAD(&ioas->domains);

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
	mutex_destroy(&ioas->mutex);
	kfree(ioas);
	return rc;
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

static struct ioasid_area *to_area(struct interval_tree_node *node)
{
	return container_of(node, struct ioasid_area, node);
}

static struct ioasid_area *ioasid_area_first(struct ioasid_ioas *ioas,
					     unsigned long start,
					     unsigned long last)
{
	struct interval_tree_node *node;

	node = interval_tree_iter_first(&ioas->areas, start, last);
	return node ? to_area(node) : NULL;
}

static struct ioasid_area *ioasid_area_next(struct ioasid_area *area,
					    unsigned long start,
					    unsigned long last)
{
	struct interval_tree_node *node;

	node = interval_tree_iter_next(&area->node, start, last);
	return node ? to_area(node) : NULL;
}

/* Release an area that is in no tree and no domain */
static void ioasid_area_free(struct ioasid_area *area)
{
	ioasid_pages_replace_use(area->pages, &area->use, NULL, NULL);
	ioasid_pages_put(area->pages);
	kfree(area);
}

/*
 * Map [start, last] of an area into a domain, one physically contiguous run
 * of pages at a time so the IOMMU driver can use its large page sizes. On
 * failure nothing of the range is left mapped.
 */
static int ioasid_area_map_range(struct iommu_domain *domain,
				 struct ioasid_area *area,
				 unsigned long start, unsigned long last)
{
	unsigned long first = area->use.start +
			      ((start - area->node.start) >> PAGE_SHIFT);
	struct page **pages = area->pages->pages + first;
	unsigned long npages = (last - start + 1) >> PAGE_SHIFT;
	unsigned long i = 0;
	int rc;

	while (i < npages) {
		unsigned long pfn = page_to_pfn(pages[i]);
		unsigned long run = 1;

		while (i + run < npages &&
		       page_to_pfn(pages[i + run]) == pfn + run)
			run++;
		rc = iommu_map(domain, start + (i << PAGE_SHIFT),
			       PFN_PHYS(pfn), run << PAGE_SHIFT, area->prot,
			       GFP_KERNEL_ACCOUNT);
		if (rc)
			goto err_unmap;
		i += run;
		if (need_resched())
			cond_resched();
	}
	return 0;

err_unmap:
	if (i)
		iommu_unmap(domain, start, i << PAGE_SHIFT);
	return rc;
}

static int ioasid_area_map(struct iommu_domain *domain,
			   struct ioasid_area *area)
{
	return ioasid_area_map_range(domain, area, area->node.start,
				     area->node.last);
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
			rc = ioasid_area_map(idomain->domain, areas[i]);
			if (rc)
				goto err_unmap;
		}
	}
	return 0;

err_unmap:
	/* The failed area cleaned up after itself */
	while (i--)
		iommu_unmap(idomain->domain, areas[i]->node.start,
			    areas[i]->node.last - areas[i]->node.start + 1);
	list_for_each_entry(done, &ioas->domains, node) {
		if (done == idomain)
			break;
		for (i = 0; i < n; i++)
			iommu_unmap(done->domain, areas[i]->node.start,
				    areas[i]->node.last -
				    areas[i]->node.start + 1);
	}
	return rc;
}

static void ioasid_domains_unmap_areas(struct ioasid_ioas *ioas,
				       struct ioasid_area **areas,
				       unsigned long n)
{
	struct ioasid_domain *idomain;
	unsigned long i;

	list_for_each_entry(idomain, &ioas->domains, node)
		for (i = 0; i < n; i++)
			iommu_unmap(idomain->domain, areas[i]->node.start,
				    areas[i]->node.last -
				    areas[i]->node.start + 1);
}

/*
 * What MAP must respect: the bound IOMMU's page sizes and aperture, or the
 * CPU's page size and everything while no device is bound. Read under the
 * context's lock, outside the IOASID's; a device bound later is checked
 * again when it attaches.
 */
static void ioasid_ioas_limits(struct ioasid_ctx *ctx, struct ioasid_caps *caps)
{
	mutex_lock(&ctx->lock);
	if (ctx->iommu_ops) {
		*caps = ctx->caps;
	} else {
		caps->pgsize_bitmap = PAGE_SIZE;
		caps->aperture_start = 0;
		caps->aperture_last = U64_MAX;
	}
	mutex_unlock(&ctx->lock);
}

static unsigned long ioasid_min_pgsize(struct ioasid_caps *caps)
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
	struct rb_root_cached *trees[] = { &ioas->areas, &ioas->reserved };
	struct interval_tree_node *node;
	unsigned long end = 0;
	unsigned int i;

	*busy = false;
	for (i = 0; i < ARRAY_SIZE(trees); i++) {
		for (node = interval_tree_iter_first(trees[i], start, last);
		     node; node = interval_tree_iter_next(node, start, last)) {
			*busy = true;
			end = max(end, node->last);
		}
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
	if (interval_tree_iter_first(&ioas->areas, iova, end))
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
 * @ucmd: The call, answered before the areas become visible
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
 * changed and the caller still owns the areas.
 */
static int ioasid_ioas_add_areas(struct ioasid_ioas *ioas,
				 struct ioasid_caps *caps,
				 struct ioasid_area **areas, unsigned long n,
				 struct ioasid_placement *place)
{
	u64 start, last, iova;
	unsigned long i;
	int rc;

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

	*place->iova = iova;
	rc = ioasid_ucmd_respond(place->ucmd, place->cmd_len);
	if (rc) {
		ioasid_domains_unmap_areas(ioas, areas, n);
		goto err_unplace;
	}
	for (i = 0; i < n; i++)
		interval_tree_insert(&areas[i]->node, &ioas->areas);
	mutex_unlock(&ioas->mutex);
	return 0;

err_unplace:
	for (i = 0; i < n; i++) {
		areas[i]->node.start -= iova;
		areas[i]->node.last -= iova;
	}
out_unlock:
	mutex_unlock(&ioas->mutex);
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
	ioasid_ioas_limits(ctx, caps);
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
	struct ioasid_area *area;
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

	area = kzalloc(sizeof(*area), GFP_KERNEL_ACCOUNT);
	if (!area) {
		rc = -ENOMEM;
		goto out_fput;
	}
	area->prot = ioasid_map_prot(cmd->flags);
	area->node.last = cmd->length - 1;

	/* Pinning can take long: do it before taking the IOASID's lock */
	area->pages = ioasid_pages_pin(ucmd->ctx, file, cmd->user_va,
				       cmd->length >> PAGE_SHIFT,
				       cmd->flags & IOASID_MAP_WRITE,
				       &area->use);
	if (IS_ERR(area->pages)) {
		rc = PTR_ERR(area->pages);
		kfree(area);
		goto out_fput;
	}

	rc = ioasid_ioas_add_areas(ioas, &caps, &area, 1, &place);
	if (rc)
		ioasid_area_free(area);
out_fput:
	if (file)
		fput(file);
out_put:
	ioasid_object_put(&ioas->obj);
	return rc;
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
	if (rc)
		for (i = 0; i < n; i++)
			ioasid_area_free(areas[i]);
	kvfree(areas);
out_put_dst:
	ioasid_object_put(&dst->obj);
out_put_src:
	ioasid_object_put(&src->obj);
	return rc;
}

/*
 * The largest page an IOMMU with page sizes @pgsizes can have used to map
 * @iova of @area: a page of size S is possible only if the S-aligned block
 * around @iova lies in the area and its memory is physically contiguous
 * and S-aligned, since ioasid_area_map_range() maps contiguous runs and
 * iommu_map() picks page sizes by alignment. PAGE_SIZE if nothing larger.
 */
static unsigned long ioasid_area_max_leaf(struct ioasid_area *area,
					  unsigned long pgsizes,
					  unsigned long iova)
{
	unsigned long sizes = pgsizes & ~(2 * PAGE_SIZE - 1);

	while (sizes) {
		unsigned long size = BIT(__fls(sizes));
		unsigned long block = ALIGN_DOWN(iova, size);
		struct page **pages;
		unsigned long pfn, i;

		sizes &= ~size;
		if (block < area->node.start ||
		    block + size - 1 > area->node.last)
			continue;
		pages = area->pages->pages + area->use.start +
			((block - area->node.start) >> PAGE_SHIFT);
		pfn = page_to_pfn(pages[0]);
		if (!IS_ALIGNED(PFN_PHYS(pfn), size))
			continue;
		for (i = 1; i < size >> PAGE_SHIFT; i++)
			if (page_to_pfn(pages[i]) != pfn + i)
				break;
		if (i == size >> PAGE_SHIFT)
			return size;
	}
	return PAGE_SIZE;
}

/* Spare areas for the splits of one UNMAP, allocated before it starts */
struct ioasid_cut_pool {
	struct ioasid_area *area[4];
};

static struct ioasid_area *ioasid_cut_pool_take(struct ioasid_cut_pool *pool)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pool->area); i++) {
		struct ioasid_area *area = pool->area[i];

		if (area) {
			pool->area[i] = NULL;
			return area;
		}
	}
	/* The pool is sized for every split a cut can make */
	WARN_ON(1);
	return NULL;
}

/*
 * Cut [start, last] out of the tree of areas, splitting the areas that
 * stick out of it with spares from @pool: their pages outside the range
 * stay pinned, the others are released. The domains are the caller's.
 */
static void ioasid_cut_tree(struct ioasid_ioas *ioas, unsigned long start,
			    unsigned long last, struct ioasid_cut_pool *pool,
			    u64 *unmapped)
{
	struct ioasid_area *area, *next, *left = NULL, *right = NULL;

	for (area = ioasid_area_first(ioas, start, last); area; area = next) {
		unsigned long s = max(area->node.start, start);
		unsigned long e = min(area->node.last, last);
		struct interval_tree_node *keep_l = NULL, *keep_r = NULL;

		next = ioasid_area_next(area, start, last);
		interval_tree_remove(&area->node, &ioas->areas);
		if (area->node.start < start) {
			left = ioasid_cut_pool_take(pool);
			left->prot = area->prot;
			left->pages = area->pages;
			left->node.start = area->node.start;
			left->node.last = start - 1;
			left->use.start = area->use.start;
			left->use.last = area->use.start +
				((start - area->node.start) >> PAGE_SHIFT) - 1;
			ioasid_pages_get(left->pages);
			keep_l = &left->use;
		}
		if (area->node.last > last) {
			right = ioasid_cut_pool_take(pool);
			right->prot = area->prot;
			right->pages = area->pages;
			right->node.start = last + 1;
			right->node.last = area->node.last;
			right->use.start = area->use.start +
				((last + 1 - area->node.start) >> PAGE_SHIFT);
			right->use.last = area->use.last;
			ioasid_pages_get(right->pages);
			keep_r = &right->use;
		}
		ioasid_pages_replace_use(area->pages, &area->use, keep_l,
					 keep_r);
		ioasid_pages_put(area->pages);
		kfree(area);
		*unmapped += e - s + 1;
		cond_resched();
	}
	if (left)
		interval_tree_insert(&left->node, &ioas->areas);
	if (right)
		interval_tree_insert(&right->node, &ioas->areas);
}

/*
 * Unmap [start, last] from every domain and cut it out of the areas. Adds
 * the bytes removed to *@unmapped. Fails only before changing anything.
 *
 * An IOMMU may have mapped the memory at a cut edge with a large page
 * that spans it. Drivers cannot unmap part of one, and the core's unmap
 * loop must never start or end inside one, so such a page is unmapped
 * whole, from its start to its end, and the part that stays is mapped
 * again with smaller pages: DMA to that part faults meanwhile.
 */
static int ioasid_ioas_cut(struct ioasid_ioas *ioas, unsigned long start,
			   unsigned long last, u64 *unmapped)
{
	struct ioasid_area *head, *tail, *area;
	struct ioasid_cut_pool pool = {};
	struct ioasid_domain *idomain;
	unsigned long lo = start, hi = last, pgsizes = 0;
	bool split_l, split_r, fail_l = false, fail_r = false;
	unsigned int i, need = 0;
	int rc = 0;

	lockdep_assert_held(&ioas->mutex);

	head = ioasid_area_first(ioas, start, last);
	if (!head)
		return -ENOENT;
	tail = ioasid_area_first(ioas, last, last);
	split_l = head->node.start < start;
	split_r = tail && tail->node.last > last;

	list_for_each_entry(idomain, &ioas->domains, node)
		pgsizes |= idomain->domain->pgsize_bitmap;
	if (split_l)
		lo = ALIGN_DOWN(start, ioasid_area_max_leaf(head, pgsizes,
							    start));
	if (split_r)
		hi = ALIGN(last + 1, ioasid_area_max_leaf(tail, pgsizes,
							  last)) - 1;

	/*
	 * The splits at the edges and, should memory run out to map the
	 * rest of a large page again, one at the outer edge of each rest.
	 */
	need = split_l + split_r;
	need += (lo < start) + (hi > last);
	for (i = 0; i < need; i++) {
		pool.area[i] = kzalloc(sizeof(*pool.area[i]),
				       GFP_KERNEL_ACCOUNT);
		if (!pool.area[i]) {
			rc = -ENOMEM;
			goto out_free_pool;
		}
	}

	/* [lo, hi] starts and ends at page boundaries in every domain */
	list_for_each_entry(idomain, &ioas->domains, node) {
		for (area = ioasid_area_first(ioas, lo, hi); area;
		     area = ioasid_area_next(area, lo, hi)) {
			unsigned long s = max(area->node.start, lo);
			unsigned long e = min(area->node.last, hi);

			iommu_unmap(idomain->domain, s, e - s + 1);
		}
		if (lo < start &&
		    ioasid_area_map_range(idomain->domain, head, lo, start - 1))
			fail_l = true;
		if (hi > last &&
		    ioasid_area_map_range(idomain->domain, tail, last + 1, hi))
			fail_r = true;
	}

	ioasid_cut_tree(ioas, start, last, &pool, unmapped);

	/*
	 * Memory ran out to map the rest of a large page again in some
	 * domain: unmap that rest everywhere too, so that all domains agree.
	 * A domain that failed cleaned up after itself.
	 */
	if (fail_l || fail_r) {
		list_for_each_entry(idomain, &ioas->domains, node) {
			if (fail_l)
				iommu_unmap(idomain->domain, lo, start - lo);
			if (fail_r)
				iommu_unmap(idomain->domain, last + 1, hi - last);
		}
		if (fail_l)
			ioasid_cut_tree(ioas, lo, start - 1, &pool, unmapped);
		if (fail_r)
			ioasid_cut_tree(ioas, last + 1, hi, &pool, unmapped);
	}

out_free_pool:
	for (i = 0; i < ARRAY_SIZE(pool.area); i++)
		kfree(pool.area[i]);
	return rc;
}

int ioasid_ioas_unmap(struct ioasid_ucmd *ucmd)
{
	struct ioasid_unmap *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	struct ioasid_caps caps;
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
		ioasid_ioas_limits(ucmd->ctx, &caps);
		if (!IS_ALIGNED(cmd->iova | cmd->length,
				ioasid_min_pgsize(&caps)))
			return -EINVAL;
		start = cmd->iova;
	}

	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	mutex_lock(&ioas->mutex);
	rc = ioasid_ioas_cut(ioas, start, last, &unmapped);
	mutex_unlock(&ioas->mutex);
	if (!rc) {
		cmd->out_length = unmapped;
		rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	}
	ioasid_object_put(&ioas->obj);
	return rc;
}

int ioasid_ioas_iova_ranges(struct ioasid_ucmd *ucmd)
{
	struct ioasid_iova_ranges *cmd = ucmd->cmd;
	struct ioasid_iova_range *ranges;
	struct interval_tree_node *node;
	struct ioasid_ioas *ioas;
	struct ioasid_caps caps;
	u64 start, last, cur;
	u32 n = 0, max;
	int rc = 0;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->num_ranges && !cmd->ranges)
		return -EFAULT;

	ioasid_ioas_limits(ucmd->ctx, &caps);
	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	mutex_lock(&ioas->mutex);
	/* Reserved ranges split the aperture into at most one more range */
	max = 1;
	for (node = interval_tree_iter_first(&ioas->reserved, 0, ULONG_MAX);
	     node; node = interval_tree_iter_next(node, 0, ULONG_MAX))
		max++;
	ranges = kcalloc(max, sizeof(*ranges), GFP_KERNEL);
	if (!ranges) {
		mutex_unlock(&ioas->mutex);
		rc = -ENOMEM;
		goto out_put;
	}

	ioasid_ioas_aperture(ioas, &caps, &start, &last);
	cur = start;
	/* Reserved ranges come in order of their start, maybe overlapping */
	for (node = interval_tree_iter_first(&ioas->reserved, start, last);
	     node; node = interval_tree_iter_next(node, start, last)) {
		if (node->start > cur) {
			ranges[n].start = cur;
			ranges[n++].last = node->start - 1;
		}
		if (node->last >= last)
			goto out_done;
		cur = max_t(u64, cur, node->last + 1);
	}
	if (cur <= last) {
		ranges[n].start = cur;
		ranges[n++].last = last;
	}
out_done:
	mutex_unlock(&ioas->mutex);

	if (copy_to_user(u64_to_user_ptr(cmd->ranges), ranges,
			 array_size(min(n, cmd->num_ranges),
				    sizeof(*ranges)))) {
		rc = -EFAULT;
		goto out_free;
	}
	rc = n > cmd->num_ranges ? -EMSGSIZE : 0;
	cmd->num_ranges = n;
	cmd->out_iova_alignment = ioasid_min_pgsize(&caps);
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
 * not yet inserted: refuse if one covers a mapping.
 */
static int ioasid_resv_collect(struct ioasid_ioas *ioas,
			       struct ioasid_group *igroup,
			       struct list_head *resvs)
{
	struct iommu_resv_region *region, *tmp;
	LIST_HEAD(regions);
	int rc;

	lockdep_assert_held(&ioas->mutex);

	rc = iommu_get_group_resv_regions(igroup->group, &regions);
	if (rc)
		goto out_free;
	list_for_each_entry(region, &regions, list) {
		struct ioasid_resv *resv;
		u64 last;

		if (!region->length ||
		    check_add_overflow((u64)region->start,
				       (u64)region->length - 1, &last))
			continue;
		if (interval_tree_iter_first(&ioas->areas, region->start,
					     last)) {
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
		resv->owner = igroup;
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

/* Can the IOMMU of @dev keep its DMA cache coherent whatever it asks? */
static bool ioasid_dev_enforces_cc(struct device *dev)
{
	return device_iommu_capable(dev, IOMMU_CAP_ENFORCE_CACHE_COHERENCY);
}

/*
 * A paging domain that nested domains can use as their stage 2. 6.12 only
 * allocates those through the driver's domain_alloc_user op.
 */
static struct iommu_domain *ioasid_nest_parent_alloc(struct device *dev)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iommu_domain *domain;

	if (!ops->domain_alloc_user)
		return ERR_PTR(-EOPNOTSUPP);
	domain = ops->domain_alloc_user(dev, IOMMU_HWPT_ALLOC_NEST_PARENT,
					NULL, NULL);
	if (IS_ERR(domain))
		return domain;
	/* Set by the core for domains it allocates itself */
	domain->owner = ops;
	return domain;
}

/* Allocate a domain for @dev and fill it with every area */
static struct ioasid_domain *ioasid_domain_create(struct ioasid_ioas *ioas,
						  struct device *dev)
{
	struct ioasid_domain *idomain;
	struct ioasid_area *area;
	u64 start, last;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	idomain = kzalloc(sizeof(*idomain), GFP_KERNEL_ACCOUNT);
	if (!idomain)
		return ERR_PTR(-ENOMEM);
	if (ioas->nest_parent)
		idomain->domain = ioasid_nest_parent_alloc(dev);
	else
		idomain->domain = iommu_paging_domain_alloc(dev);
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
		rc = ioasid_area_map(idomain->domain, area);
		if (rc)
			goto err_free_domain;
		cond_resched();
	}
	return idomain;

err_free_domain:
	/* Freeing the domain drops every mapping it has */
	iommu_domain_free(idomain->domain);
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

	idomain = ioasid_domain_create(ioas, dev);
	if (IS_ERR(idomain))
		return idomain;
	rc = attach(idomain, arg);
	if (rc) {
		iommu_domain_free(idomain->domain);
		kfree(idomain);
		return ERR_PTR(rc);
	}
	list_add_tail(&idomain->node, &ioas->domains);
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
	lockdep_assert_held(&ioas->mutex);

	if (!--idomain->users) {
		list_del(&idomain->node);
		iommu_domain_free(idomain->domain);
		kfree(idomain);
	}
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

static int ioasid_group_attach_domain(struct ioasid_domain *idomain,
				      void *arg)
{
	struct ioasid_group *igroup = arg;

	return iommu_group_replace_domain(igroup->group, idomain->domain);
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
	struct ioasid_ioas *ioas = ioasid_target_ioas(target);
	struct ioasid_domain *idomain;
	LIST_HEAD(resvs);
	int rc = 0;

	mutex_lock(&ioas->mutex);
	/*
	 * A group moving between IOASIDs over the same normal one (a parent
	 * and its children) has its reserved ranges there already.
	 */
	if (!igroup->target || ioasid_target_ioas(igroup->target) != ioas)
		rc = ioasid_resv_collect(ioas, igroup, &resvs);
	if (rc) {
		idomain = ERR_PTR(rc);
		goto out_commit;
	}
	idomain = ioasid_target_get_domain(target, dev,
					   ioasid_group_attach_domain, igroup);
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
	while ((area = ioasid_area_first(ioas, 0, ULONG_MAX))) {
		interval_tree_remove(&area->node, &ioas->areas);
		ioasid_area_free(area);
		cond_resched();
	}
	mutex_unlock(&ioas->mutex);
	mutex_destroy(&ioas->mutex);
	kfree(ioas);
}
