// SPDX-License-Identifier: GPL-2.0-only
/*
 * Normal IOASIDs: an IOVA space userspace fills with its own memory.
 *
 * The tree of areas is the source of truth. The IOMMU domain behind an
 * IOASID is only created when the first device attaches, and is then filled
 * from the tree; MAP and UNMAP keep the two in step.
 */
#include <linux/iommu.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <uapi/linux/ioasid.h>

#include "ioasid_private.h"

static struct ioasid_ioas *ioasid_ioas_get(struct ioasid_ctx *ctx, u32 id)
{
	struct ioasid_object *obj;

	obj = ioasid_object_get(ctx, id, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	return container_of(obj, struct ioasid_ioas, obj);
}

int ioasid_ioas_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_create *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	ioas = kzalloc(sizeof(*ioas), GFP_KERNEL_ACCOUNT);
	if (!ioas)
		return -ENOMEM;
	mutex_init(&ioas->mutex);
	ioas->areas = RB_ROOT_CACHED;

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

static unsigned long ioasid_area_length(struct ioasid_area *area)
{
	return area->node.last - area->node.start + 1;
}

/* Unmap @length bytes at @iova that ioasid_area_map() mapped earlier */
static void ioasid_domain_unmap(struct iommu_domain *domain,
				unsigned long iova, unsigned long length)
{
	size_t unmapped;

	unmapped = iommu_unmap(domain, iova, length);
	WARN_ON(unmapped != length);
}

/*
 * Map an area into a domain, one physically contiguous run of pages at a
 * time so the IOMMU driver can use its large page sizes. On failure nothing
 * of the area is left mapped.
 */
static int ioasid_area_map(struct iommu_domain *domain,
			   struct ioasid_area *area)
{
	struct page **pages = area->pages->pages + area->pgoff;
	unsigned long npages = ioasid_area_length(area) >> PAGE_SHIFT;
	unsigned long iova = area->node.start;
	unsigned long i = 0;
	int rc;

	while (i < npages) {
		unsigned long pfn = page_to_pfn(pages[i]);
		unsigned long run = 1;

		while (i + run < npages &&
		       page_to_pfn(pages[i + run]) == pfn + run)
			run++;
		rc = iommu_map(domain, iova + (i << PAGE_SHIFT),
			       PFN_PHYS(pfn), run << PAGE_SHIFT, area->prot,
			       GFP_KERNEL_ACCOUNT);
		if (rc)
			goto err_unmap;
		i += run;
	}
	return 0;

err_unmap:
	if (i)
		ioasid_domain_unmap(domain, iova, i << PAGE_SHIFT);
	return rc;
}

static void ioasid_area_free(struct ioasid_ioas *ioas, struct ioasid_area *area)
{
	lockdep_assert_held(&ioas->mutex);

	if (ioas->domain)
		ioasid_domain_unmap(ioas->domain, area->node.start,
				    ioasid_area_length(area));
	interval_tree_remove(&area->node, &ioas->areas);
	ioasid_pages_put(area->pages);
	kfree(area);
}

/*
 * What MAP must respect before any domain exists: the bound IOMMU's page
 * sizes and aperture, or the CPU's page size and everything while no device
 * is bound. Taken before the IOASID's lock, which nests inside the
 * context's; a device bound in between is checked again on attach.
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

/*
 * Find the lowest free IOVA range of @length bytes aligned to @align inside
 * [@start, @last].
 */
static int ioasid_ioas_alloc_iova(struct ioasid_ioas *ioas,
				  unsigned long start, unsigned long last,
				  unsigned long length, unsigned long align,
				  unsigned long *iova)
{
	struct interval_tree_node *node;
	unsigned long cur, end;

	lockdep_assert_held(&ioas->mutex);

	cur = ALIGN(start, align);
	if (cur < start)
		return -ENOSPC;
	for (;;) {
		if (check_add_overflow(cur, length - 1, &end) || end > last)
			return -ENOSPC;
		node = interval_tree_iter_first(&ioas->areas, cur, end);
		if (!node) {
			*iova = cur;
			return 0;
		}
		/* Skip past the last area overlapping the candidate */
		do {
			cur = node->last;
			node = interval_tree_iter_next(node, cur, end);
		} while (node);
		if (cur == ULONG_MAX || ALIGN(cur + 1, align) < cur + 1)
			return -ENOSPC;
		cur = ALIGN(cur + 1, align);
	}
}

/*
 * Alignment for a kernel-chosen IOVA: the largest IOMMU page size that fits
 * in the mapping and has the same offset in the user's memory, so that
 * physically contiguous memory can be mapped with large IOMMU pages.
 */
static unsigned long ioasid_map_align(unsigned long pgsize_bitmap,
				      unsigned long user_va,
				      unsigned long length)
{
	unsigned long fit = pgsize_bitmap & GENMASK(__fls(length), 0);

	if (user_va)
		fit &= GENMASK(__ffs(user_va), 0);
	return fit ? BIT(__fls(fit)) : BIT(__ffs(pgsize_bitmap));
}

int ioasid_ioas_map(struct ioasid_ucmd *ucmd)
{
	const u32 known = IOASID_MAP_FIXED_IOVA | IOASID_MAP_READ |
			  IOASID_MAP_WRITE;
	struct ioasid_map *cmd = ucmd->cmd;
	struct ioasid_area *area;
	struct ioasid_caps caps;
	u64 start, last, end;
	struct ioasid_pages *pages;
	struct ioasid_ioas *ioas;
	unsigned long iova;
	int rc;

	if (cmd->flags & ~known)
		return -EOPNOTSUPP;
	if (!(cmd->flags & (IOASID_MAP_READ | IOASID_MAP_WRITE)) ||
	    cmd->__reserved || !cmd->length)
		return -EINVAL;
	if (!(cmd->flags & IOASID_MAP_FIXED_IOVA) && cmd->iova)
		return -EINVAL;
	if (check_add_overflow(cmd->user_va, cmd->length - 1, &end) ||
	    check_add_overflow(cmd->iova, cmd->length - 1, &end))
		return -EOVERFLOW;

	ioasid_ioas_limits(ucmd->ctx, &caps);
	if (!IS_ALIGNED(cmd->user_va | cmd->length | cmd->iova,
			ioasid_min_pgsize(&caps)))
		return -EINVAL;

	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	area = kzalloc(sizeof(*area), GFP_KERNEL_ACCOUNT);
	if (!area) {
		rc = -ENOMEM;
		goto out_put;
	}
	area->prot = (cmd->flags & IOASID_MAP_READ ? IOMMU_READ : 0) |
		     (cmd->flags & IOASID_MAP_WRITE ? IOMMU_WRITE : 0);

	/* Pinning can take long: do it before taking the IOASID's lock */
	pages = ioasid_pages_pin(cmd->user_va, cmd->length >> PAGE_SHIFT,
				 cmd->flags & IOASID_MAP_WRITE);
	if (IS_ERR(pages)) {
		rc = PTR_ERR(pages);
		goto err_free_area;
	}
	area->pages = pages;

	mutex_lock(&ioas->mutex);
	start = caps.aperture_start;
	last = caps.aperture_last;
	if (ioas->domain)
		ioasid_domain_aperture(ioas->domain, &start, &last);
	if (cmd->flags & IOASID_MAP_FIXED_IOVA) {
		iova = cmd->iova;
		if (iova < start || iova + cmd->length - 1 > last) {
			rc = -ERANGE;
			goto err_unlock;
		}
		if (interval_tree_iter_first(&ioas->areas, iova,
					     iova + cmd->length - 1)) {
			rc = -EEXIST;
			goto err_unlock;
		}
	} else {
		rc = ioasid_ioas_alloc_iova(ioas, start, last, cmd->length,
					    ioasid_map_align(caps.pgsize_bitmap,
							     cmd->user_va,
							     cmd->length),
					    &iova);
		if (rc)
			goto err_unlock;
	}
	area->node.start = iova;
	area->node.last = iova + cmd->length - 1;

	if (ioas->domain) {
		rc = ioasid_area_map(ioas->domain, area);
		if (rc)
			goto err_unlock;
	}

	cmd->iova = iova;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		if (ioas->domain)
			ioasid_domain_unmap(ioas->domain, iova, cmd->length);
		goto err_unlock;
	}
	interval_tree_insert(&area->node, &ioas->areas);
	mutex_unlock(&ioas->mutex);
	ioasid_object_put(&ioas->obj);
	return 0;

err_unlock:
	mutex_unlock(&ioas->mutex);
	ioasid_pages_put(pages);
err_free_area:
	kfree(area);
out_put:
	ioasid_object_put(&ioas->obj);
	return rc;
}

int ioasid_ioas_unmap(struct ioasid_ucmd *ucmd)
{
	struct ioasid_unmap *cmd = ucmd->cmd;
	struct interval_tree_node *node, *next;
	struct ioasid_ioas *ioas;
	struct ioasid_caps caps;
	unsigned long last;
	u64 unmapped = 0;
	int rc = 0;

	if (cmd->flags & ~IOASID_UNMAP_ALL)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;
	if (cmd->flags & IOASID_UNMAP_ALL) {
		if (cmd->iova || cmd->length)
			return -EINVAL;
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
	}

	ioas = ioasid_ioas_get(ucmd->ctx, cmd->ioasid);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	mutex_lock(&ioas->mutex);
	/* Refuse before changing anything if a mapping sticks out */
	for (node = interval_tree_iter_first(&ioas->areas, cmd->iova, last);
	     node; node = interval_tree_iter_next(node, cmd->iova, last)) {
		if (node->start < cmd->iova || node->last > last) {
			rc = -EINVAL;
			goto out_unlock;
		}
	}
	node = interval_tree_iter_first(&ioas->areas, cmd->iova, last);
	if (!node) {
		rc = -ENOENT;
		goto out_unlock;
	}
	for (; node; node = next) {
		struct ioasid_area *area =
			container_of(node, struct ioasid_area, node);

		next = interval_tree_iter_next(node, cmd->iova, last);
		unmapped += ioasid_area_length(area);
		ioasid_area_free(ioas, area);
		cond_resched();
	}
	cmd->out_length = unmapped;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
out_unlock:
	mutex_unlock(&ioas->mutex);
	ioasid_object_put(&ioas->obj);
	return rc;
}

/**
 * ioasid_ioas_domain_get() - get the IOASID's domain for a device to attach
 * @ioas: The IOASID
 * @dev: Device that will attach
 *
 * The first user allocates the domain and fills it with every mapping; the
 * domain is released by ioasid_ioas_domain_put() of its last user.
 *
 * Return: the domain, or an ERR_PTR: -ERANGE if a mapping lies outside what
 * the device's IOMMU can translate.
 */
struct iommu_domain *ioasid_ioas_domain_get(struct ioasid_ioas *ioas,
					    struct device *dev)
{
	struct interval_tree_node *node;
	struct iommu_domain *domain;
	u64 start, last;
	int rc;

	mutex_lock(&ioas->mutex);
	if (ioas->domain) {
		ioas->domain_users++;
		domain = ioas->domain;
		goto out_unlock;
	}

	domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(domain))
		goto out_unlock;

	ioasid_domain_aperture(domain, &start, &last);
	for (node = interval_tree_iter_first(&ioas->areas, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		if (node->start < start || node->last > last) {
			rc = -ERANGE;
			goto err_free;
		}
		rc = ioasid_area_map(domain,
				     container_of(node, struct ioasid_area,
						  node));
		if (rc)
			goto err_free;
		cond_resched();
	}
	ioas->domain = domain;
	ioas->domain_users = 1;
	goto out_unlock;

err_free:
	/* Freeing the domain drops every mapping it has */
	iommu_domain_free(domain);
	domain = ERR_PTR(rc);
out_unlock:
	mutex_unlock(&ioas->mutex);
	return domain;
}

/**
 * ioasid_ioas_domain_put() - release a reference from ioasid_ioas_domain_get()
 * @ioas: The IOASID
 *
 * The caller has detached its devices from the domain.
 */
void ioasid_ioas_domain_put(struct ioasid_ioas *ioas)
{
	mutex_lock(&ioas->mutex);
	if (!WARN_ON(!ioas->domain_users) && !--ioas->domain_users) {
		iommu_domain_free(ioas->domain);
		ioas->domain = NULL;
	}
	mutex_unlock(&ioas->mutex);
}

/* Called once the IOASID is out of its table and has no users */
void ioasid_ioas_destroy(struct ioasid_ioas *ioas)
{
	struct interval_tree_node *node;

	mutex_lock(&ioas->mutex);
	WARN_ON(ioas->domain);
	while ((node = interval_tree_iter_first(&ioas->areas, 0, ULONG_MAX))) {
		ioasid_area_free(ioas, container_of(node, struct ioasid_area,
						    node));
		cond_resched();
	}
	mutex_unlock(&ioas->mutex);
	mutex_destroy(&ioas->mutex);
	kfree(ioas);
}
