// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices bound to a context and attached to its IOASIDs.
 *
 * Binding claims DMA ownership of the device for the context, which moves
 * its iommu_group to a blocking domain: from then on the device cannot DMA
 * until it is attached, and no device of its group can be used by a kernel
 * driver. The first bound device selects the context's IOMMU.
 */
#include <linux/iommu.h>
#include <linux/ioasid.h>
#include <linux/log2.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>
#include <uapi/linux/ioasid.h>

#include "../iommu/iommu-priv.h"
#include "ioasid_private.h"

/* Read what the IOMMU of the context's first device can do */
static int ioasid_probe_caps(struct device *dev, struct ioasid_caps *caps)
{
	struct iommu_domain *domain;

	/* Allocated as for an IOASID, to read what its domains will have */
	domain = ioasid_paging_domain_alloc(dev, 0);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	caps->pgsize_bitmap = domain->pgsize_bitmap;
	ioasid_domain_aperture(domain, &caps->aperture_start,
			       &caps->aperture_last);
	iommu_domain_free(domain);

	caps->max_pasid_bits = dev->iommu->max_pasids ?
			       order_base_2(dev->iommu->max_pasids) : 0;
	caps->coherent = device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY);
	return ioasid_nesting_formats(dev, &caps->formats);
}

static struct ioasid_group *ioasid_group_find(struct ioasid_ctx *ctx,
					      struct iommu_group *group)
{
	struct ioasid_group *igroup;

	lockdep_assert_held(&ctx->lock);

	list_for_each_entry(igroup, &ctx->groups, node)
		if (igroup->group == group)
			return igroup;
	return NULL;
}

/* Make @ops, with @caps, the context's IOMMU; it had none */
static void ioasid_ctx_set_iommu(struct ioasid_ctx *ctx,
				 const struct iommu_ops *ops,
				 struct ioasid_caps *caps)
{
	lockdep_assert_held(&ctx->lock);

	spin_lock(&ctx->caps_lock);
	ctx->iommu_ops = ops;
	ctx->caps = *caps;
	spin_unlock(&ctx->caps_lock);
}

/*
 * With no device bound and no vfio container holding it, the next device
 * bound selects the IOMMU anew
 */
static void ioasid_ctx_put_iommu(struct ioasid_ctx *ctx)
{
	lockdep_assert_held(&ctx->lock);

	if (!list_empty(&ctx->groups) || ctx->iommu_holds)
		return;
	spin_lock(&ctx->caps_lock);
	ctx->iommu_ops = NULL;
	spin_unlock(&ctx->caps_lock);
}

/**
 * ioasid_bind_device() - bind a device to an ioasid context
 * @ctx: Context, from ioasid_ctx_fdget()
 * @dev: Device to hand to the user of @ctx
 * @dev_id: Set to the device's id in @ctx
 *
 * Claim DMA ownership of @dev for @ctx: the device cannot DMA until it is
 * attached with ioasid_device_attach(). The first device bound selects the
 * IOMMU of the context.
 *
 * Return: the binding, or an ERR_PTR: -ENODEV when @dev has no IOMMU,
 * -EXDEV when its IOMMU is not the context's, -EBUSY when @dev is bound to
 * @ctx already, -EPERM when a device of its iommu_group is in use by a
 * kernel driver or owned by another user (the error of
 * iommu_device_claim_dma_owner()) or when its MSIs are not isolated,
 * -EINVAL when its DMA is not cache coherent.
 */
struct ioasid_device *ioasid_bind_device(struct ioasid_ctx *ctx,
					 struct device *dev, u32 *dev_id)
{
	struct ioasid_group *igroup, *new_igroup = NULL;
	struct iommu_group *group;
	struct ioasid_device *idev;
	struct ioasid_caps caps;
	int rc;

	group = iommu_group_get(dev);
	if (!group)
		return ERR_PTR(-ENODEV);
	if (!dev->iommu || !dev->iommu->iommu_dev) {
		rc = -ENODEV;
		goto err_put_group;
	}

	idev = kzalloc(sizeof(*idev), GFP_KERNEL_ACCOUNT);
	if (!idev) {
		rc = -ENOMEM;
		goto err_put_group;
	}
	idev->ctx = ctx;
	idev->dev = dev;
	xa_init(&idev->pasids);
	rc = ioasid_object_reserve(ctx, &idev->obj, IOASID_OBJ_DEVICE);
	if (rc)
		goto err_free;

	/*
	 * Userspace can neither flush CPU caches for DMA nor keep a device
	 * from raising interrupts it does not own: only devices whose IOMMU
	 * makes DMA coherent and whose MSIs are isolated can be handed over.
	 */
	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY)) {
		dev_dbg(dev, "ioasid: DMA is not cache coherent\n");
		rc = -EINVAL;
		goto err_abort;
	}
	/* Mock devices of the selftests raise no interrupts at all */
	if (!ioasid_test_is_mock_dev(dev) &&
	    !iommu_group_has_isolated_msi(group)) {
		dev_dbg(dev, "ioasid: MSIs are not isolated\n");
		rc = -EPERM;
		goto err_abort;
	}

	mutex_lock(&ctx->lock);
	if (!ctx->iommu_ops) {
		rc = ioasid_probe_caps(dev, &caps);
		if (rc)
			goto err_unlock;
	} else if (dev_iommu_ops(dev) != ctx->iommu_ops) {
		dev_dbg(dev, "ioasid: behind another IOMMU than the context\n");
		rc = -EXDEV;
		goto err_unlock;
	}

	igroup = ioasid_group_find(ctx, group);
	if (igroup) {
		struct ioasid_device *other;

		list_for_each_entry(other, &igroup->devices, group_node) {
			if (other->dev == dev) {
				rc = -EBUSY;
				goto err_unlock;
			}
		}
	} else {
		new_igroup = kzalloc(sizeof(*new_igroup), GFP_KERNEL_ACCOUNT);
		if (!new_igroup) {
			rc = -ENOMEM;
			goto err_unlock;
		}
		new_igroup->group = group;
		INIT_LIST_HEAD(&new_igroup->devices);
		igroup = new_igroup;
	}

	rc = iommu_device_claim_dma_owner(dev, ctx);
	if (rc) {
		dev_dbg(dev, "ioasid: DMA ownership refused: %d\n", rc);
		goto err_free_igroup;
	}

	if (!ctx->iommu_ops)
		ioasid_ctx_set_iommu(ctx, dev_iommu_ops(dev), &caps);
	if (new_igroup) {
		list_add_tail(&new_igroup->node, &ctx->groups);
		/* The igroup keeps the group reference */
		group = NULL;
	}
	igroup->bound++;
	list_add_tail(&idev->group_node, &igroup->devices);
	idev->igroup = igroup;
	mutex_unlock(&ctx->lock);

	iommu_group_put(group);
	*dev_id = idev->obj.id;
	ioasid_object_publish(ctx, &idev->obj);
	return idev;

err_free_igroup:
	kfree(new_igroup);
err_unlock:
	mutex_unlock(&ctx->lock);
err_abort:
	ioasid_object_abort(ctx, &idev->obj);
err_free:
	kfree(idev);
err_put_group:
	iommu_group_put(group);
	return ERR_PTR(rc);
}
EXPORT_SYMBOL_GPL(ioasid_bind_device);

static void __ioasid_device_detach(struct ioasid_device *idev)
{
	struct ioasid_group *igroup = idev->igroup;
	struct ioasid_object *target = idev->target;

	lockdep_assert_held(&idev->ctx->lock);

	if (!target)
		return;
	idev->target = NULL;
	if (!--igroup->attached) {
		ioasid_detach_group(target, igroup, igroup->domain, NULL);
		igroup->target = NULL;
		igroup->domain = NULL;
	}
	ioasid_object_del_user(idev->ctx, target);
}

/*
 * Does a device of the group have PASIDs attached? Those and a RID on a
 * delegated IOASID exclude each other: the guest routes every PASID of a
 * RID there, as hardware whose PASID table the guest owns does.
 */
static bool ioasid_group_has_pasids(struct ioasid_group *igroup)
{
	struct ioasid_device *idev;

	list_for_each_entry(idev, &igroup->devices, group_node) {
		lockdep_assert_held(&idev->ctx->lock);
		if (!xa_empty(&idev->pasids))
			return true;
	}
	return false;
}

/**
 * ioasid_device_attach() - attach a device's RID to an IOASID
 * @idev: Binding from ioasid_bind_device()
 * @ioasid: Id of the IOASID in the device's context: normal, nested or
 *          delegated
 *
 * If the device is attached already, the attachment is replaced in one step,
 * between IOASIDs of every kind: DMA is translated by the old IOASID or by
 * the new one, never by anything else (IOMMU drivers that cannot switch
 * atomically block it for a moment). On a delegated IOASID, the guest's
 * PASID table routes every PASID of the device's DMA, and DMA without PASID
 * as PASID 0; no PASID of the group can be attached on its own then.
 *
 * Return: 0, or -ENOENT for no such IOASID, -EBUSY when another device of
 * the same iommu_group is attached elsewhere or, for a delegated IOASID,
 * when a device of the group has PASIDs attached, -EADDRINUSE when a
 * reserved region of the device's group covers a mapping of the IOASID (or
 * of a nested one's parent), -ERANGE when a mapping lies outside the device's
 * IOMMU aperture, -EINVAL for a nested IOASID without page tables yet,
 * -EOPNOTSUPP when the IOASID or its parent needs nesting the IOMMU lacks,
 * or the IOMMU driver's error. On failure the device's attachment is
 * unchanged.
 */
int ioasid_device_attach(struct ioasid_device *idev, u32 ioasid)
{
	struct ioasid_group *igroup = idev->igroup;
	struct ioasid_object *target, *old;
	struct ioasid_ctx *ctx = idev->ctx;
	struct ioasid_domain *idomain;
	int rc = 0;

	target = ioasid_object_get(ctx, ioasid, IOASID_OBJ_IOASID);
	if (IS_ERR(target))
		return PTR_ERR(target);

	mutex_lock(&ctx->lock);
	old = igroup->target;
	if (idev->target == target)
		goto out_unlock;
	if (old == target) {
		/* Another device of the group already put it there */
		igroup->attached++;
		goto out_attached;
	}
	if (old && igroup->attached > (idev->target ? 1 : 0)) {
		rc = -EBUSY;
		goto out_unlock;
	}
	if (ioasid_target_delegated(target) && ioasid_group_has_pasids(igroup)) {
		rc = -EBUSY;
		goto out_unlock;
	}

	idomain = ioasid_attach_group(target, igroup, idev->dev);
	if (IS_ERR(idomain)) {
		rc = PTR_ERR(idomain);
		goto out_unlock;
	}
	if (old) {
		ioasid_detach_group(old, igroup, igroup->domain, target);
		ioasid_object_del_user(ctx, old);
	} else {
		igroup->attached++;
	}
	igroup->target = target;
	igroup->domain = idomain;
out_attached:
	idev->target = target;
	ioasid_object_add_user(ctx, target);
out_unlock:
	mutex_unlock(&ctx->lock);
	ioasid_object_put(target);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_device_attach);

/**
 * ioasid_device_detach() - detach a device's RID from its IOASID
 * @idev: Binding from ioasid_bind_device()
 *
 * DMA of the device is blocked once its group has no attached device left.
 * Nothing happens if the device is not attached.
 */
void ioasid_device_detach(struct ioasid_device *idev)
{
	mutex_lock(&idev->ctx->lock);
	__ioasid_device_detach(idev);
	mutex_unlock(&idev->ctx->lock);
}
EXPORT_SYMBOL_GPL(ioasid_device_detach);

/**
 * ioasid_device_attach_pasid() - attach a PASID of a device to an IOASID
 * @idev: Binding from ioasid_bind_device()
 * @pasid: PASID, at least 1 and below the device's PASID width
 * @ioasid: Id of an IOASID in the device's context: normal, nested or
 *          delegated
 *
 * DMA the device tags with @pasid is translated by @ioasid from then on;
 * on a delegated IOASID, by the stage-1 table the guest's PASID table names
 * for @pasid. Reserved regions do not apply: they concern untagged (RID)
 * DMA only.
 *
 * Return: 0, or -EOPNOTSUPP when the device or its IOMMU has no PASID
 * support or, for a nested or delegated IOASID, no PASID support for its
 * format, -EINVAL for a PASID out of range or a nested IOASID without page
 * tables yet, -EBUSY when @pasid is attached already (detach it first) or
 * when the device's group has its RID on a delegated IOASID, whose guest
 * routes the PASIDs, -ENOENT for no such IOASID, or the IOMMU driver's
 * error. On failure nothing changed.
 */
int ioasid_device_attach_pasid(struct ioasid_device *idev, u32 pasid,
			       u32 ioasid)
{
	struct ioasid_ctx *ctx = idev->ctx;
	struct ioasid_pasid_attach *attach;
	struct ioasid_object *target;
	int rc;

	if (!idev->dev->iommu->max_pasids)
		return -EOPNOTSUPP;
	if (pasid == IOMMU_NO_PASID || pasid >= idev->dev->iommu->max_pasids)
		return -EINVAL;

	target = ioasid_object_get(ctx, ioasid, IOASID_OBJ_IOASID);
	if (IS_ERR(target))
		return PTR_ERR(target);

	attach = kzalloc(sizeof(*attach), GFP_KERNEL_ACCOUNT);
	if (!attach) {
		rc = -ENOMEM;
		goto out_put;
	}
	attach->target = target;

	mutex_lock(&ctx->lock);
	if (ioasid_target_delegated(idev->igroup->target)) {
		rc = -EBUSY;
		goto err_unlock;
	}
	rc = xa_insert(&idev->pasids, pasid, attach, GFP_KERNEL_ACCOUNT);
	if (rc)
		goto err_unlock;
	attach->domain = ioasid_attach_pasid(target, idev->dev, pasid);
	if (IS_ERR(attach->domain)) {
		rc = PTR_ERR(attach->domain);
		xa_erase(&idev->pasids, pasid);
		goto err_unlock;
	}
	ioasid_object_add_user(ctx, target);
	mutex_unlock(&ctx->lock);
	ioasid_object_put(target);
	return 0;

err_unlock:
	mutex_unlock(&ctx->lock);
	kfree(attach);
out_put:
	ioasid_object_put(target);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_device_attach_pasid);

static void __ioasid_device_detach_pasid(struct ioasid_device *idev,
					 u32 pasid)
{
	struct ioasid_pasid_attach *attach;

	lockdep_assert_held(&idev->ctx->lock);

	attach = xa_erase(&idev->pasids, pasid);
	if (!attach)
		return;
	ioasid_detach_pasid(attach->target, idev->dev, pasid, attach->domain);
	ioasid_object_del_user(idev->ctx, attach->target);
	kfree(attach);
}

/**
 * ioasid_device_detach_pasid() - detach a PASID of a device
 * @idev: Binding from ioasid_bind_device()
 * @pasid: The PASID
 *
 * DMA the device tags with @pasid is blocked from then on.
 *
 * Return: 0, or -ENOENT when @pasid is not attached.
 */
int ioasid_device_detach_pasid(struct ioasid_device *idev, u32 pasid)
{
	int rc = 0;

	mutex_lock(&idev->ctx->lock);
	if (xa_load(&idev->pasids, pasid))
		__ioasid_device_detach_pasid(idev, pasid);
	else
		rc = -ENOENT;
	mutex_unlock(&idev->ctx->lock);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_device_detach_pasid);

/**
 * ioasid_unbind_device() - undo ioasid_bind_device()
 * @idev: The binding, which is freed
 *
 * Detaches the device's RID and PASIDs, returns DMA ownership to the
 * kernel and removes the device from the context.
 */
void ioasid_unbind_device(struct ioasid_device *idev)
{
	struct ioasid_object *obj;

	obj = ioasid_object_remove(idev->ctx, idev->obj.id, IOASID_OBJ_DEVICE);
	/* No ioctl takes references on device objects */
	WARN_ON(obj != &idev->obj);
	ioasid_device_destroy(idev);
}
EXPORT_SYMBOL_GPL(ioasid_unbind_device);

/**
 * ioasid_device_ctx() - the context a device is bound to
 * @idev: The binding, from ioasid_bind_device()
 *
 * For a driver that must tell whether two of its devices are bound to the
 * same context, as a bus reset that reaches both requires. The context
 * lives at least as long as the binding.
 *
 * Return: the @ctx @idev was bound with.
 */
struct ioasid_ctx *ioasid_device_ctx(struct ioasid_device *idev)
{
	return idev->ctx;
}
EXPORT_SYMBOL_GPL(ioasid_device_ctx);

/**
 * ioasid_device_id() - the id of a bound device in its context
 * @idev: The binding, from ioasid_bind_device()
 *
 * Return: the id ioasid_bind_device() gave back, by which the device is
 * named in the ioctls of its context.
 */
u32 ioasid_device_id(struct ioasid_device *idev)
{
	return idev->obj.id;
}
EXPORT_SYMBOL_GPL(ioasid_device_id);

/**
 * ioasid_ctx_has_group() - is a device of an iommu_group bound to a context?
 * @ctx: The context
 * @group: The iommu_group
 *
 * While a device of @group is bound to @ctx, the DMA of the whole group
 * belongs to @ctx (see ioasid_bind_device()): no kernel driver and no other
 * user can own any of its devices, so a driver may treat the others as
 * owned by the user of @ctx too. The answer can be out of date as soon as
 * it is given, since the group's devices may be bound and unbound by other
 * drivers or under other locks; it suits checks that fail safe, such as
 * vfio's, which asks about devices whose opening waits for the device set
 * lock it holds.
 *
 * Callable with locks held that the context's own must not nest in: vfio
 * asks with the memory_lock of devices held, which its BAR faults take
 * under the mmap_lock that pinning takes under the context's locks.
 *
 * Return: true when a device of @group is bound to @ctx.
 */
bool ioasid_ctx_has_group(struct ioasid_ctx *ctx, struct iommu_group *group)
{
	struct ioasid_device *idev;
	struct ioasid_object *obj;
	unsigned long id;
	bool found = false;

	/*
	 * A device is in the table from its publication, after its group is
	 * set, until its unbind takes it out, before the group is let go;
	 * ids being bound hold a zero entry, which the walk skips.
	 */
	xa_lock(&ctx->objects);
	xa_for_each(&ctx->objects, id, obj) {
		if (obj->type != IOASID_OBJ_DEVICE)
			continue;
		idev = container_of(obj, struct ioasid_device, obj);
		if (idev->igroup->group == group) {
			found = true;
			break;
		}
	}
	xa_unlock(&ctx->objects);
	return found;
}
EXPORT_SYMBOL_GPL(ioasid_ctx_has_group);

/*
 * Find a bound device for an ioctl. Devices take no short-term references
 * (their unbind cannot wait for ioctls), so the device is used under the
 * context's lock, which its destruction needs too: found in the table
 * under it, it stays until the lock is dropped.
 */
static struct ioasid_device *ioasid_device_find(struct ioasid_ctx *ctx,
						u32 id)
{
	struct ioasid_object *obj;
	int rc = 0;

	lockdep_assert_held(&ctx->lock);

	xa_lock(&ctx->objects);
	obj = xa_load(&ctx->objects, id);
	if (!obj)
		rc = -ENOENT;
	else if (obj->type == IOASID_OBJ_IOAS || obj->type == IOASID_OBJ_NESTED)
		rc = -EINVAL;
	else if (obj->type != IOASID_OBJ_DEVICE)
		rc = -ENOENT;
	xa_unlock(&ctx->objects);
	if (rc)
		return ERR_PTR(rc);
	return container_of(obj, struct ioasid_device, obj);
}

int ioasid_device_hw_info(struct ioasid_ucmd *ucmd)
{
	struct ioasid_hw_info *cmd = ucmd->cmd;
	void __user *uptr = u64_to_user_ptr(cmd->data_uptr);
	struct ioasid_ctx *ctx = ucmd->ctx;
	const struct iommu_ops *ops;
	struct ioasid_device *idev;
	u32 len = 0, type = IOMMU_HW_INFO_TYPE_NONE;
	void *data = NULL;
	size_t copy;
	int rc = 0;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	mutex_lock(&ctx->lock);
	idev = ioasid_device_find(ctx, cmd->dev_id);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto out_unlock;
	}
	ops = dev_iommu_ops(idev->dev);
	if (ops->hw_info) {
		data = ops->hw_info(idev->dev, &len, &type);
		if (IS_ERR(data)) {
			rc = PTR_ERR(data);
			goto out_unlock;
		}
	}
	rc = ioasid_nesting_formats(idev->dev, &cmd->out_formats);
	mutex_unlock(&ctx->lock);
	if (rc)
		goto out_free;

	copy = min_t(size_t, len, cmd->data_len);
	if (copy_to_user(uptr, data, copy) ||
	    clear_user(uptr + copy, cmd->data_len - copy))
		rc = -EFAULT;
out_free:
	kfree(data);
	if (rc)
		return rc;
	cmd->data_len = len;
	cmd->out_data_type = type;
	return ioasid_ucmd_respond(ucmd, sizeof(*cmd));

out_unlock:
	mutex_unlock(&ctx->lock);
	return rc;
}

/* Called once the device is out of the table */
void ioasid_device_destroy(struct ioasid_device *idev)
{
	struct ioasid_group *igroup = idev->igroup;
	struct ioasid_ctx *ctx = idev->ctx;
	struct ioasid_pasid_attach *attach;
	unsigned long pasid;

	mutex_lock(&ctx->lock);
	xa_for_each(&idev->pasids, pasid, attach)
		__ioasid_device_detach_pasid(idev, pasid);
	xa_destroy(&idev->pasids);
	__ioasid_device_detach(idev);
	iommu_device_release_dma_owner(idev->dev);
	list_del(&idev->group_node);
	if (!--igroup->bound) {
		list_del(&igroup->node);
		iommu_group_put(igroup->group);
		kfree(igroup);
	}
	ioasid_ctx_put_iommu(ctx);
	mutex_unlock(&ctx->lock);
	kfree(idev);
}

/* What a device of an iommu_group found under its lock says of its IOMMU */
struct ioasid_group_probe {
	const struct iommu_ops *ops;
	struct ioasid_caps caps;
	bool mock;
	int rc;
};

/*
 * Probe the first device of the group behind an IOMMU, under the group's
 * lock, which keeps it and its IOMMU state from going away meanwhile
 */
static int ioasid_group_probe_dev(struct device *dev, void *data)
{
	struct ioasid_group_probe *probe = data;

	if (!dev->iommu || !dev->iommu->iommu_dev)
		return 0;
	probe->ops = dev_iommu_ops(dev);
	probe->mock = ioasid_test_is_mock_dev(dev);
	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY)) {
		dev_info_ratelimited(dev, "ioasid: DMA is not cache coherent\n");
		probe->rc = -EINVAL;
	} else {
		probe->rc = ioasid_probe_caps(dev, &probe->caps);
	}
	return 1;
}

/**
 * ioasid_ctx_hold_iommu() - select the IOMMU of a group without binding it
 * @ctx: The context
 * @group: An iommu_group behind the IOMMU wanted
 *
 * For the vfio container shim, which must know its IOMMU when a vfio group
 * is set to it, before any of its devices is bound: select the IOMMU of
 * @group if the context has none, and keep it selected until
 * ioasid_ctx_unhold_iommu(), even with no device bound. The checks a bind
 * does of the IOMMU are made here too, so that an unfit group is refused
 * before it joins.
 *
 * Return: 0, 1 when no device of @group is behind an IOMMU (nothing is
 * held), -EXDEV when the context selected another IOMMU, -EINVAL when DMA
 * is not cache coherent, -EPERM when MSIs are not isolated, or the error
 * of allocating a domain.
 */
int ioasid_ctx_hold_iommu(struct ioasid_ctx *ctx, struct iommu_group *group)
{
	struct ioasid_group_probe probe = {};
	int rc;

	/* ctx->lock nests outside the group's: probe first, then commit */
	iommu_group_for_each_dev(group, &probe, ioasid_group_probe_dev);
	if (!probe.ops)
		return 1;
	if (probe.rc)
		return probe.rc;
	/* Mock devices of the selftests raise no interrupts at all */
	if (!probe.mock && !iommu_group_has_isolated_msi(group)) {
		pr_info_ratelimited("ioasid: iommu_group %d: MSIs are not isolated\n",
				    iommu_group_id(group));
		return -EPERM;
	}

	mutex_lock(&ctx->lock);
	rc = 0;
	if (!ctx->iommu_ops) {
		ioasid_ctx_set_iommu(ctx, probe.ops, &probe.caps);
	} else if (probe.ops != ctx->iommu_ops) {
		pr_info_ratelimited("ioasid: iommu_group %d: behind another IOMMU than the context's\n",
				    iommu_group_id(group));
		rc = -EXDEV;
	}
	if (!rc)
		ctx->iommu_holds++;
	mutex_unlock(&ctx->lock);
	return rc;
}

/* Undo ioasid_ctx_hold_iommu() */
void ioasid_ctx_unhold_iommu(struct ioasid_ctx *ctx)
{
	mutex_lock(&ctx->lock);
	if (!WARN_ON(!ctx->iommu_holds))
		ctx->iommu_holds--;
	ioasid_ctx_put_iommu(ctx);
	mutex_unlock(&ctx->lock);
}
