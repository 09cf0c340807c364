// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vfio container shim: every context of /dev/ioasid also answers the
 * ioctls of a vfio container with the semantics of vfio's type1 IOMMU
 * backend, and vfio groups can be set to it, so that a program written for
 * /dev/vfio/vfio runs on /dev/ioasid unchanged while vfio keeps no IOMMU
 * backend of its own.
 *
 * The container's mappings live in one normal IOASID of the context,
 * created by VFIO_SET_IOMMU. A device opened through a group of the
 * container is bound to the context and attached to that IOASID by vfio
 * (ioasid_vfio_ioasid()); its DMA is blocked until then. The first group
 * with an IOMMU selects the context's IOMMU, as the first bound device
 * does otherwise; a group behind another IOMMU cannot join. When the last
 * group leaves, the container returns to its unset state: the IOASID and
 * its mappings go away, as type1 frees its own.
 *
 * Differences from type1, which are the project's: VFIO_TYPE1_IOMMU (v1)
 * turns large IOMMU pages off so that UNMAP_DMA cuts exactly the range
 * asked for, anywhere page aligned, where type1 unmaps whole mappings or
 * nothing; memory mapped twice is pinned and charged once; there is no
 * mapping limit of the container's own (the bookkeeping is charged to the
 * caller's memory cgroup). Not implemented: dirty page tracking
 * (VFIO_IOMMU_DIRTY_PAGES and VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP), the
 * vaddr update of VFIO_UPDATE_VADDR, nesting (VFIO_TYPE1_NESTING_IOMMU) and
 * no-IOMMU groups.
 */
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/ioasid.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <uapi/linux/ioasid.h>

#include "ioasid_private.h"

/**
 * struct ioasid_compat_group - a vfio group set to the container
 * @node: In &struct ioasid_compat.groups
 * @group: Its iommu_group
 * @holds_iommu: It keeps the context's IOMMU selected
 */
struct ioasid_compat_group {
	struct list_head node;
	struct iommu_group *group;
	bool holds_iommu;
};

/* The container's IOASID, held; -EINVAL before VFIO_SET_IOMMU */
static struct ioasid_ioas *ioasid_vfio_get_ioas(struct ioasid_ctx *ctx)
{
	struct ioasid_compat *compat = &ctx->compat;
	struct ioasid_ioas *ioas;

	lockdep_assert_held(&compat->rwsem);

	if (!compat->type)
		return ERR_PTR(-EINVAL);
	/* The container is a user of it: no IOASID_DESTROY takes it away */
	ioas = ioasid_ioas_get(ctx, compat->ioasid);
	return WARN_ON(IS_ERR(ioas)) ? ERR_PTR(-EINVAL) : ioas;
}

/*
 * Keep the reserved regions of @cgroup's iommu_group (MSI windows and the
 * like) out of the container's mappings, as type1 does from when a group
 * joins; or, with @undo, let them go
 */
static int ioasid_vfio_reserve(struct ioasid_ctx *ctx,
			       struct ioasid_compat_group *cgroup, bool undo)
{
	struct ioasid_ioas *ioas;
	int rc = 0;

	lockdep_assert_held(&ctx->compat.rwsem);

	ioas = ioasid_ioas_get(ctx, ctx->compat.ioasid);
	if (WARN_ON(IS_ERR(ioas)))
		return PTR_ERR(ioas);
	if (undo)
		ioasid_ioas_unreserve(ioas, cgroup);
	else
		rc = ioasid_ioas_reserve_group(ioas, cgroup->group, cgroup);
	ioasid_object_put(&ioas->obj);
	/* type1 calls a group whose regions cover mappings invalid */
	return rc == -EADDRINUSE ? -EINVAL : rc;
}

/*
 * The last group left, or VFIO_SET_IOMMU failed: back to the unset state,
 * with the mappings gone as type1 frees them. An IOASID the context's own
 * ioctls use right now, or attached its cdev devices to, stays theirs,
 * emptied, until they destroy it or close the context.
 */
static void ioasid_vfio_unset(struct ioasid_ctx *ctx)
{
	struct ioasid_compat *compat = &ctx->compat;
	struct ioasid_compat_group *cgroup;
	struct ioasid_ioas *ioas;
	u64 unmapped;

	lockdep_assert_held(&compat->rwsem);

	ioas = ioasid_ioas_get(ctx, compat->ioasid);
	if (WARN_ON(IS_ERR(ioas)))
		goto out;
	/* Groups still set when VFIO_SET_IOMMU fails half way */
	list_for_each_entry(cgroup, &compat->groups, node)
		ioasid_ioas_unreserve(ioas, cgroup);
	/* Emptied while still held: it may stay with the native ioctls */
	ioasid_ioas_unmap_range(ctx, ioas, 0, U64_MAX, false, &unmapped);
	/* Let go and remove in one step, not by an id another may reuse */
	if (ioasid_object_remove_user(ctx, &ioas->obj))
		ioasid_ioas_destroy(ioas);
out:
	WRITE_ONCE(compat->type, 0);
	WRITE_ONCE(compat->ioasid, 0);
}

static int ioasid_vfio_check_extension(struct ioasid_ctx *ctx,
				       unsigned long type)
{
	struct ioasid_ioas *ioas;
	int ret = 0;

	switch (type) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_DMA_CC_IOMMU:
		/* As type1: yes once every domain makes DMA snoop */
		down_read(&ctx->compat.rwsem);
		ioas = ioasid_vfio_get_ioas(ctx);
		if (!IS_ERR(ioas)) {
			ret = ioasid_ioas_enforces_cc(ioas);
			ioasid_object_put(&ioas->obj);
		}
		up_read(&ctx->compat.rwsem);
		return ret;
	}
	return 0;
}

static int ioasid_vfio_set_iommu(struct ioasid_ctx *ctx, unsigned long type)
{
	struct ioasid_compat *compat = &ctx->compat;
	struct ioasid_compat_group *cgroup;
	struct ioasid_caps caps;
	int rc;

	down_write(&compat->rwsem);
	/* Only a group gives the privilege; there is no unset but leaving */
	if (list_empty(&compat->groups) || compat->type) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) {
		rc = -ENODEV;
		goto out_unlock;
	}
	/* v1 may unmap any page: no IOMMU page may span more than one */
	ioasid_ctx_caps(ctx, &caps);
	rc = ioasid_ioas_new(ctx, type == VFIO_TYPE1_IOMMU ?
			     ioasid_min_pgsize(&caps) : 0,
			     &compat->ioasid);
	if (rc)
		goto out_unlock;
	/* The IOASID is new: a region can only fail to be reserved on -ENOMEM */
	list_for_each_entry(cgroup, &compat->groups, node) {
		rc = ioasid_vfio_reserve(ctx, cgroup, false);
		if (rc) {
			ioasid_vfio_unset(ctx);
			goto out_unlock;
		}
	}
	/* Paired with ioasid_vfio_ioasid(), which takes no lock */
	smp_store_release(&compat->type, type);
out_unlock:
	up_write(&compat->rwsem);
	return rc;
}

/* The capability chain of VFIO_IOMMU_GET_INFO, as type1 builds it */
struct ioasid_vfio_info_caps {
	struct vfio_iommu_type1_info_dma_avail dma_avail;
	struct vfio_iommu_type1_info_cap_iova_range iova;
};

static int ioasid_vfio_get_info(struct ioasid_ctx *ctx, void __user *arg)
{
	const size_t minsz = offsetofend(struct vfio_iommu_type1_info,
					 iova_pgsizes);
	struct vfio_iommu_type1_info info = {};
	struct vfio_iommu_type1_info_cap_iova_range *iova;
	struct ioasid_vfio_info_caps *caps = NULL;
	struct ioasid_iova_range *ranges = NULL;
	struct ioasid_caps icaps;
	struct ioasid_ioas *ioas;
	size_t size, caps_size;
	u64 align;
	int rc, n, i;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	size = min_t(size_t, info.argsz, sizeof(info));

	down_read(&ctx->compat.rwsem);
	ioas = ioasid_vfio_get_ioas(ctx);
	if (IS_ERR(ioas)) {
		up_read(&ctx->compat.rwsem);
		return PTR_ERR(ioas);
	}
	ioasid_ctx_caps(ctx, &icaps);
	info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	/* As type1: pages smaller than the CPU's are mapped as the CPU's */
	info.iova_pgsizes = icaps.pgsize_bitmap & PAGE_MASK;
	if (icaps.pgsize_bitmap & ~PAGE_MASK)
		info.iova_pgsizes |= PAGE_SIZE;
	if (ioas->max_pgsize)
		info.iova_pgsizes &= GENMASK(__fls(ioas->max_pgsize), 0);
	n = ioasid_ioas_ranges(ioas, &icaps, &ranges, &align);
	ioasid_object_put(&ioas->obj);
	up_read(&ctx->compat.rwsem);
	if (n < 0)
		return n;

	caps_size = struct_size(caps, iova.iova_ranges, n);
	caps = kzalloc(caps_size, GFP_KERNEL);
	if (!caps) {
		rc = -ENOMEM;
		goto out_free;
	}
	caps->dma_avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	caps->dma_avail.header.version = 1;
	caps->dma_avail.header.next = sizeof(info) +
				      offsetof(typeof(*caps), iova);
	/* No limit of its own: the bookkeeping is charged to the caller */
	caps->dma_avail.avail = U32_MAX;
	iova = &caps->iova;
	iova->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	iova->header.version = 1;
	iova->nr_iovas = n;
	for (i = 0; i < n; i++) {
		iova->iova_ranges[i].start = ranges[i].start;
		iova->iova_ranges[i].end = ranges[i].last;
	}

	/* Too small for the chain: say how large it must be */
	if (info.argsz < sizeof(info) + caps_size) {
		info.argsz = sizeof(info) + caps_size;
	} else {
		if (copy_to_user(arg + sizeof(info), caps, caps_size)) {
			rc = -EFAULT;
			goto out_free;
		}
		info.cap_offset = sizeof(info);
	}
	rc = copy_to_user(arg, &info, size) ? -EFAULT : 0;
out_free:
	kfree(caps);
	kfree(ranges);
	return rc;
}

static int ioasid_vfio_map_dma(struct ioasid_ctx *ctx, void __user *arg)
{
	const size_t minsz = offsetofend(struct vfio_iommu_type1_dma_map,
					 size);
	const u32 known = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
			  VFIO_DMA_MAP_FLAG_VADDR;
	struct vfio_iommu_type1_dma_map map;
	struct ioasid_ioas *ioas;
	u32 flags = 0;
	u64 end;
	int rc;

	if (copy_from_user(&map, arg, minsz))
		return -EFAULT;
	if (map.argsz < minsz || (map.flags & ~known))
		return -EINVAL;
	if (map.flags & VFIO_DMA_MAP_FLAG_VADDR)
		return -EOPNOTSUPP;
	if (map.flags & VFIO_DMA_MAP_FLAG_READ)
		flags |= IOASID_MAP_READ;
	if (map.flags & VFIO_DMA_MAP_FLAG_WRITE)
		flags |= IOASID_MAP_WRITE;
	if (!flags || !map.size ||
	    check_add_overflow(map.iova, map.size - 1, &end) ||
	    check_add_overflow(map.vaddr, map.size - 1, &end))
		return -EINVAL;

	down_read(&ctx->compat.rwsem);
	ioas = ioasid_vfio_get_ioas(ctx);
	if (IS_ERR(ioas)) {
		rc = PTR_ERR(ioas);
		goto out_unlock;
	}
	rc = ioasid_ioas_map_user(ctx, ioas, map.vaddr, map.iova, map.size,
				  flags);
	ioasid_object_put(&ioas->obj);
	/* type1 calls every IOVA it cannot map invalid */
	if (rc == -ERANGE || rc == -EADDRINUSE || rc == -EOVERFLOW)
		rc = -EINVAL;
out_unlock:
	up_read(&ctx->compat.rwsem);
	return rc;
}

static int ioasid_vfio_unmap_dma(struct ioasid_ctx *ctx, void __user *arg)
{
	const size_t minsz = offsetofend(struct vfio_iommu_type1_dma_unmap,
					 size);
	const u32 unsupported = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
				VFIO_DMA_UNMAP_FLAG_VADDR;
	struct vfio_iommu_type1_dma_unmap unmap;
	struct ioasid_ioas *ioas;
	u64 start, last, unmapped;
	bool whole;
	int rc;

	if (copy_from_user(&unmap, arg, minsz))
		return -EFAULT;
	if (unmap.argsz < minsz ||
	    (unmap.flags & ~(unsupported | VFIO_DMA_UNMAP_FLAG_ALL)))
		return -EINVAL;
	if (unmap.flags & unsupported)
		return -EOPNOTSUPP;
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (unmap.iova || unmap.size)
			return -EINVAL;
		start = 0;
		last = U64_MAX;
	} else {
		if (!unmap.size ||
		    check_add_overflow(unmap.iova, unmap.size - 1, &last))
			return -EINVAL;
		start = unmap.iova;
	}

	down_read(&ctx->compat.rwsem);
	ioas = ioasid_vfio_get_ioas(ctx);
	if (IS_ERR(ioas)) {
		rc = PTR_ERR(ioas);
		goto out_unlock;
	}
	/* v2 unmaps whole mappings only; v1 cuts them anywhere */
	whole = ctx->compat.type == VFIO_TYPE1v2_IOMMU;
	rc = ioasid_ioas_unmap_range(ctx, ioas, start, last, whole, &unmapped);
	ioasid_object_put(&ioas->obj);
	if (rc == -ENOENT) {
		/* Nothing mapped there: success, with nothing unmapped */
		rc = 0;
		unmapped = 0;
	} else if (rc == -EXDEV) {
		/* A cut through a large IOMMU page cuts a mapping too */
		rc = -EINVAL;
	}
out_unlock:
	up_read(&ctx->compat.rwsem);
	if (rc)
		return rc;
	unmap.size = unmapped;
	return copy_to_user(arg, &unmap, minsz) ? -EFAULT : 0;
}

/**
 * ioasid_vfio_ioctl() - the vfio container ioctls of a context
 * @ctx: The context
 * @cmd: A vfio ioctl
 * @arg: Its argument
 *
 * Return: what type1 returns, -EOPNOTSUPP for what the shim does not
 * implement, -ENOTTY for an ioctl no container knows.
 */
long ioasid_vfio_ioctl(struct ioasid_ctx *ctx, unsigned int cmd,
		       unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return ioasid_vfio_check_extension(ctx, arg);
	case VFIO_SET_IOMMU:
		return ioasid_vfio_set_iommu(ctx, arg);
	case VFIO_IOMMU_GET_INFO:
		return ioasid_vfio_get_info(ctx, uarg);
	case VFIO_IOMMU_MAP_DMA:
		return ioasid_vfio_map_dma(ctx, uarg);
	case VFIO_IOMMU_UNMAP_DMA:
		return ioasid_vfio_unmap_dma(ctx, uarg);
	case VFIO_IOMMU_DIRTY_PAGES:
		return -EOPNOTSUPP;
	}
	return -ENOTTY;
}

static struct ioasid_compat_group *
ioasid_vfio_find_group(struct ioasid_compat *compat, struct iommu_group *group)
{
	struct ioasid_compat_group *cgroup;

	lockdep_assert_held(&compat->rwsem);

	list_for_each_entry(cgroup, &compat->groups, node)
		if (cgroup->group == group)
			return cgroup;
	return NULL;
}

/**
 * ioasid_vfio_add_group() - set a vfio group to a context as container
 * @ctx: The context, from ioasid_ctx_from_file()
 * @group: The iommu_group of the vfio group
 *
 * For VFIO_GROUP_SET_CONTAINER. A group of devices behind an IOMMU selects
 * the context's IOMMU if it has none yet, and keeps it selected while it
 * is set; a group behind another IOMMU than the context's, or one a bind
 * would refuse, is refused here, with a one-line reason in the log.
 * Groups of emulated devices, whose devices have no IOMMU, always join.
 *
 * Return: 0, -EXDEV when @group is behind another IOMMU than the context's,
 * -EINVAL when its DMA is not cache coherent, -EPERM when its MSIs are not
 * isolated, -EBUSY when it is set already, -ENOMEM, or the error of
 * allocating an IOMMU domain for its devices.
 */
int ioasid_vfio_add_group(struct ioasid_ctx *ctx, struct iommu_group *group)
{
	struct ioasid_compat *compat = &ctx->compat;
	struct ioasid_compat_group *cgroup;
	int rc;

	cgroup = kzalloc(sizeof(*cgroup), GFP_KERNEL_ACCOUNT);
	if (!cgroup)
		return -ENOMEM;

	down_write(&compat->rwsem);
	if (WARN_ON(ioasid_vfio_find_group(compat, group))) {
		rc = -EBUSY;
		goto err_unlock;
	}
	/* Groups of emulated devices have no IOMMU to select */
	rc = ioasid_ctx_hold_iommu(ctx, group);
	if (rc < 0)
		goto err_unlock;
	cgroup->holds_iommu = !rc;
	cgroup->group = iommu_group_ref_get(group);
	if (compat->type) {
		rc = ioasid_vfio_reserve(ctx, cgroup, false);
		if (rc)
			goto err_put;
	}
	list_add_tail(&cgroup->node, &compat->groups);
	up_write(&compat->rwsem);
	return 0;

err_put:
	iommu_group_put(cgroup->group);
	if (cgroup->holds_iommu)
		ioasid_ctx_unhold_iommu(ctx);
err_unlock:
	up_write(&compat->rwsem);
	kfree(cgroup);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_vfio_add_group);

/**
 * ioasid_vfio_del_group() - take a vfio group out of its container
 * @ctx: The context it was set to with ioasid_vfio_add_group()
 * @group: Its iommu_group
 *
 * For VFIO_GROUP_UNSET_CONTAINER and the group's release, once none of its
 * devices is open. When the last group leaves, the container's mappings
 * are unmapped and VFIO_SET_IOMMU is needed again.
 */
void ioasid_vfio_del_group(struct ioasid_ctx *ctx, struct iommu_group *group)
{
	struct ioasid_compat *compat = &ctx->compat;
	struct ioasid_compat_group *cgroup;

	down_write(&compat->rwsem);
	cgroup = ioasid_vfio_find_group(compat, group);
	if (WARN_ON(!cgroup))
		goto out_unlock;
	list_del(&cgroup->node);
	if (compat->type) {
		ioasid_vfio_reserve(ctx, cgroup, true);
		if (list_empty(&compat->groups))
			ioasid_vfio_unset(ctx);
	}
	if (cgroup->holds_iommu)
		ioasid_ctx_unhold_iommu(ctx);
	iommu_group_put(cgroup->group);
	kfree(cgroup);
out_unlock:
	up_write(&compat->rwsem);
}
EXPORT_SYMBOL_GPL(ioasid_vfio_del_group);

/**
 * ioasid_vfio_ioasid() - the IOASID of a context used as vfio container
 * @ctx: The context
 * @ioasid: Set to the IOASID holding the container's mappings
 *
 * For vfio, to attach a device opened through a group of the container,
 * holding the group_lock of a group set to it. The IOASID stays the same,
 * and cannot be destroyed, while a group is set to the container.
 *
 * Return: 0, or -EINVAL when the container has no IOMMU type set.
 */
int ioasid_vfio_ioasid(struct ioasid_ctx *ctx, u32 *ioasid)
{
	/*
	 * No lock: vfio calls this under its dev_set lock, which must never
	 * wait for a MAP_DMA pinning under the rwsem. The caller's group is
	 * set, so the container cannot be unset meanwhile; VFIO_SET_IOMMU
	 * publishes the IOASID before the type.
	 */
	if (!smp_load_acquire(&ctx->compat.type))
		return -EINVAL;
	*ioasid = READ_ONCE(ctx->compat.ioasid);
	return 0;
}
EXPORT_SYMBOL_GPL(ioasid_vfio_ioasid);
