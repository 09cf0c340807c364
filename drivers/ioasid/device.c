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

#include "../iommu/iommu-priv.h"
#include "ioasid_private.h"

/* Read what the IOMMU of the context's first device can do */
static int ioasid_probe_caps(struct device *dev, struct ioasid_caps *caps)
{
	struct iommu_domain *domain;

	domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(domain))
		return PTR_ERR(domain);
	caps->pgsize_bitmap = domain->pgsize_bitmap;
	ioasid_domain_aperture(domain, &caps->aperture_start,
			       &caps->aperture_last);
	iommu_domain_free(domain);

	caps->max_pasid_bits = dev->iommu->max_pasids ?
			       order_base_2(dev->iommu->max_pasids) : 0;
	caps->coherent = device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY);
	return 0;
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

	if (!ctx->iommu_ops) {
		ctx->iommu_ops = dev_iommu_ops(dev);
		ctx->caps = caps;
	}
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
	struct ioasid_ioas *ioas = idev->ioas;

	lockdep_assert_held(&idev->ctx->lock);

	if (!ioas)
		return;
	idev->ioas = NULL;
	if (!--igroup->attached) {
		ioasid_ioas_detach_group(ioas, igroup, igroup->domain, true);
		igroup->ioas = NULL;
		igroup->domain = NULL;
	}
	ioasid_object_del_user(idev->ctx, &ioas->obj);
}

/**
 * ioasid_device_attach() - attach a device's RID to a normal IOASID
 * @idev: Binding from ioasid_bind_device()
 * @ioasid: Id of the IOASID in the device's context
 *
 * If the device is attached already, the attachment is replaced in one step:
 * DMA goes from the old translation to the new one with no window in which
 * it is blocked or untranslated.
 *
 * Return: 0, or -ENOENT for no such IOASID, -EBUSY when another device of
 * the same iommu_group is attached elsewhere, -EADDRINUSE when a reserved
 * region of the device's group covers a mapping of the IOASID, -ERANGE when
 * a mapping lies outside the device's IOMMU aperture, or the IOMMU driver's
 * error. On failure the device's attachment is unchanged.
 */
int ioasid_device_attach(struct ioasid_device *idev, u32 ioasid)
{
	struct ioasid_group *igroup = idev->igroup;
	struct ioasid_ctx *ctx = idev->ctx;
	struct ioasid_domain *idomain;
	struct ioasid_object *obj;
	struct ioasid_ioas *ioas, *old;
	int rc = 0;

	obj = ioasid_object_get(ctx, ioasid, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	ioas = container_of(obj, struct ioasid_ioas, obj);

	mutex_lock(&ctx->lock);
	old = igroup->ioas;
	if (idev->ioas == ioas)
		goto out_unlock;
	if (old == ioas) {
		/* Another device of the group already put it there */
		igroup->attached++;
		goto out_attached;
	}
	if (old && igroup->attached > (idev->ioas ? 1 : 0)) {
		rc = -EBUSY;
		goto out_unlock;
	}

	idomain = ioasid_ioas_attach_group(ioas, igroup, idev->dev);
	if (IS_ERR(idomain)) {
		rc = PTR_ERR(idomain);
		goto out_unlock;
	}
	if (old) {
		ioasid_ioas_detach_group(old, igroup, igroup->domain, false);
		ioasid_object_del_user(ctx, &old->obj);
	} else {
		igroup->attached++;
	}
	igroup->ioas = ioas;
	igroup->domain = idomain;
out_attached:
	idev->ioas = ioas;
	ioasid_object_add_user(ctx, &ioas->obj);
out_unlock:
	mutex_unlock(&ctx->lock);
	ioasid_object_put(obj);
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
 * @ioasid: Id of a normal IOASID in the device's context
 *
 * DMA the device tags with @pasid is translated by @ioasid from then on.
 * Reserved regions do not apply: they concern untagged (RID) DMA only.
 *
 * Return: 0, or -EOPNOTSUPP when the device or its IOMMU has no PASID
 * support, -EINVAL for a PASID out of range, -EBUSY when @pasid is attached
 * already (detach it first), -ENOENT for no such IOASID, or the IOMMU
 * driver's error. On failure nothing changed.
 */
int ioasid_device_attach_pasid(struct ioasid_device *idev, u32 pasid,
			       u32 ioasid)
{
	struct ioasid_ctx *ctx = idev->ctx;
	struct ioasid_pasid_attach *attach;
	struct ioasid_object *obj;
	struct ioasid_ioas *ioas;
	int rc;

	if (!idev->dev->iommu->max_pasids)
		return -EOPNOTSUPP;
	if (pasid == IOMMU_NO_PASID || pasid >= idev->dev->iommu->max_pasids)
		return -EINVAL;

	obj = ioasid_object_get(ctx, ioasid, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	ioas = container_of(obj, struct ioasid_ioas, obj);

	attach = kzalloc(sizeof(*attach), GFP_KERNEL_ACCOUNT);
	if (!attach) {
		rc = -ENOMEM;
		goto out_put;
	}
	attach->ioas = ioas;

	mutex_lock(&ctx->lock);
	rc = xa_insert(&idev->pasids, pasid, attach, GFP_KERNEL_ACCOUNT);
	if (rc)
		goto err_unlock;
	attach->domain = ioasid_ioas_attach_pasid(ioas, idev->dev, pasid);
	if (IS_ERR(attach->domain)) {
		rc = PTR_ERR(attach->domain);
		xa_erase(&idev->pasids, pasid);
		goto err_unlock;
	}
	ioasid_object_add_user(ctx, &ioas->obj);
	mutex_unlock(&ctx->lock);
	ioasid_object_put(obj);
	return 0;

err_unlock:
	mutex_unlock(&ctx->lock);
	kfree(attach);
out_put:
	ioasid_object_put(obj);
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
	ioasid_ioas_detach_pasid(attach->ioas, idev->dev, pasid,
				 attach->domain);
	ioasid_object_del_user(idev->ctx, &attach->ioas->obj);
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
	/* With no device left, the next one bound selects the IOMMU anew */
	if (list_empty(&ctx->groups))
		ctx->iommu_ops = NULL;
	mutex_unlock(&ctx->lock);
	kfree(idev);
}
