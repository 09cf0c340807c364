// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested and delegated IOASIDs: translation the guest owns (stage 1) on top
 * of a normal IOASID the host owns (stage 2, the parent).
 *
 * A nested IOASID stands for one guest stage-1 table; a delegated one for a
 * guest PASID table that names a stage-1 table per PASID. The kernel keeps
 * a checked copy of the format's data, which says where the guest's table
 * is as a guest physical address (GPA) in the parent. The tables stay in
 * guest memory and the IOMMU reads them through the parent's translation,
 * never through a user pointer.
 *
 * Domains are made when devices attach, as for normal IOASIDs: a nested
 * domain over each domain of the parent that an attached device uses, made
 * again from the kept data when a device behind another IOMMU instance
 * needs one. The parent's mutex protects the nested IOASID's domains and
 * data, so a device attaching, the parent's mappings changing and the data
 * being set are ordered.
 */
#include <linux/iommu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>
#include <uapi/linux/ioasid.h>

#include "../iommu/iommu-priv.h"
#include "ioasid_private.h"

/**
 * ioasid_nest_one_page() - where a table of one 4 KiB page lies
 * @gpa: GPA of the table, which must be 4 KiB aligned
 * @start: Set to @gpa
 * @last: Set to the table's last byte
 *
 * Return: 0, or -EINVAL for an unaligned @gpa.
 */
int ioasid_nest_one_page(u64 gpa, u64 *start, u64 *last)
{
	if (!IS_ALIGNED(gpa, SZ_4K))
		return -EINVAL;
	*start = gpa;
	*last = gpa + SZ_4K - 1;
	return 0;
}

/*
 * Check what 6.12's VT-d driver would refuse of any hardware only once a
 * device attaches, so that malformed data fails here. Settings a given
 * unit lacks (SRE without SRS, 5-level without its support) still fail at
 * attach, where they cost a try of every parent domain.
 */
static int ioasid_vtd_s1_table(const void *data, u64 *start, u64 *last)
{
	const struct iommu_hwpt_vtd_s1 *vtd = data;

	if (vtd->flags & ~(u64)(IOMMU_VTD_S1_SRE | IOMMU_VTD_S1_EAFE |
				IOMMU_VTD_S1_WPE))
		return -EINVAL;
	if (vtd->__reserved ||
	    (vtd->addr_width != 48 && vtd->addr_width != 57))
		return -EINVAL;
	return ioasid_nest_one_page(vtd->pgtbl_addr, start, last);
}

static const struct ioasid_nest_format ioasid_formats[] = {
	{
		.format = IOASID_FORMAT_VTD_S1,
		.hw_info_type = IOMMU_HW_INFO_TYPE_INTEL_VTD,
		.data_type = IOMMU_HWPT_DATA_VTD_S1,
		.inv_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
		.data_len = sizeof(struct iommu_hwpt_vtd_s1),
		.min_len = offsetofend(struct iommu_hwpt_vtd_s1, __reserved),
		/* 6.12's nested VT-d domains have no set_dev_pasid() */
		.no_pasid = true,
		.table = ioasid_vtd_s1_table,
	},
};

static_assert(IOASID_FORMAT_VTD_S1 < 64);

/* The @i-th format the kernel knows, or NULL past the last */
static const struct ioasid_nest_format *ioasid_format_at(unsigned int i)
{
	const struct ioasid_nest_format *test;
	unsigned int num;

	if (i < ARRAY_SIZE(ioasid_formats))
		return &ioasid_formats[i];
	i -= ARRAY_SIZE(ioasid_formats);
	test = ioasid_test_formats(&num);
	return i < num ? &test[i] : NULL;
}

static const struct ioasid_nest_format *ioasid_format_find(u32 format)
{
	const struct ioasid_nest_format *fmt;
	unsigned int i;

	for (i = 0; (fmt = ioasid_format_at(i)); i++)
		if (fmt->format == format)
			return fmt;
	return NULL;
}

/**
 * ioasid_nesting_formats() - the formats the IOMMU of a device nests with
 * @dev: The device
 * @formats: Set to a bitmask of &enum ioasid_format, 0 when the IOMMU
 *           cannot nest
 *
 * An IOMMU nests when it can allocate a nesting parent; the formats are
 * those the kernel knows for its kind (its hw_info type). Running out of
 * memory while finding out is an error, not an IOMMU that cannot nest: a
 * context must not lose nesting for good to a failed allocation.
 *
 * Return: 0, or -ENOMEM.
 */
int ioasid_nesting_formats(struct device *dev, u64 *formats)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	const struct ioasid_nest_format *fmt;
	struct iommu_domain *domain;
	unsigned int i;
	u32 len, type;
	void *info;

	*formats = 0;
	if (!ops->domain_alloc_user || !ops->hw_info)
		return 0;
	domain = ops->domain_alloc_user(dev, IOMMU_HWPT_ALLOC_NEST_PARENT,
					NULL, NULL);
	if (IS_ERR(domain))
		return PTR_ERR(domain) == -ENOMEM ? -ENOMEM : 0;
	iommu_domain_free(domain);

	info = ops->hw_info(dev, &len, &type);
	if (IS_ERR(info))
		return PTR_ERR(info) == -ENOMEM ? -ENOMEM : 0;
	kfree(info);

	for (i = 0; (fmt = ioasid_format_at(i)); i++)
		if (fmt->hw_info_type == type)
			*formats |= BIT_ULL(fmt->format);
	return 0;
}

static void ioasid_nested_free(struct ioasid_nested *nested)
{
	if (nested->parent)
		ioasid_object_del_user(nested->ctx, &nested->parent->obj);
	kfree(nested->data);
	kfree(nested);
}

/*
 * A new nested (@delegated false) or delegated IOASID over @parent_id, not
 * yet in the table; it holds a long-term user of the parent.
 */
static struct ioasid_nested *ioasid_nested_alloc(struct ioasid_ctx *ctx,
						 u32 parent_id, u32 format,
						 bool delegated)
{
	const struct ioasid_nest_format *fmt;
	struct ioasid_nested *nested;
	struct ioasid_object *obj;
	struct ioasid_caps caps;
	int rc = 0;

	fmt = ioasid_format_find(format);
	if (!fmt)
		return ERR_PTR(-EOPNOTSUPP);
	if (fmt->delegated != delegated)
		return ERR_PTR(-EINVAL);
	/* Once an IOMMU is selected, it must nest with the format */
	if (ioasid_ctx_caps(ctx, &caps) && !(caps.formats & BIT_ULL(format)))
		return ERR_PTR(-EOPNOTSUPP);

	obj = ioasid_object_get(ctx, parent_id, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	if (!container_of(obj, struct ioasid_ioas, obj)->nest_parent) {
		rc = -EINVAL;
		goto out_put;
	}
	nested = kzalloc(sizeof(*nested), GFP_KERNEL_ACCOUNT);
	if (!nested) {
		rc = -ENOMEM;
		goto out_put;
	}
	nested->ctx = ctx;
	nested->fmt = fmt;
	nested->parent = container_of(obj, struct ioasid_ioas, obj);
	INIT_LIST_HEAD(&nested->domains);
	/* The parent cannot be destroyed under its children */
	ioasid_object_add_user(ctx, obj);
out_put:
	ioasid_object_put(obj);
	return rc ? ERR_PTR(rc) : nested;
}

/*
 * Copy and check a format's data. Shorter data than the kernel's struct,
 * from older userspace, is zero-extended; longer data must be zero past it.
 */
static void *ioasid_nested_data(const struct ioasid_nest_format *fmt,
				u32 data_len, u64 data_uptr)
{
	u64 start, last;
	void *data;
	int rc;

	if (data_len < fmt->min_len)
		return ERR_PTR(-EINVAL);
	/* As for ioctl structs: no scan of a huge tail for non-zero bytes */
	if (data_len > PAGE_SIZE)
		return ERR_PTR(-E2BIG);
	data = kzalloc(fmt->data_len, GFP_KERNEL_ACCOUNT);
	if (!data)
		return ERR_PTR(-ENOMEM);
	rc = copy_struct_from_user(data, fmt->data_len,
				   u64_to_user_ptr(data_uptr), data_len);
	if (!rc)
		rc = fmt->table(data, &start, &last);
	if (rc) {
		kfree(data);
		return ERR_PTR(rc);
	}
	return data;
}

/*
 * The table the data names must lie in memory the parent maps, as the
 * IOMMU reads it through the parent. Checked under the parent's mutex,
 * together with the change the data makes.
 */
static int ioasid_nested_table_mapped(struct ioasid_nested *nested,
				      const void *data)
{
	u64 start, last;

	lockdep_assert_held(&nested->parent->mutex);

	/* Checked when the data was copied */
	if (WARN_ON(nested->fmt->table(data, &start, &last)))
		return -EINVAL;
	return ioasid_ioas_covers(nested->parent, start, last) ? 0 : -ERANGE;
}

/* Publish a new nested or delegated IOASID and return its id */
static int ioasid_nested_publish(struct ioasid_ucmd *ucmd,
				 struct ioasid_nested *nested, u32 *out_id,
				 size_t cmd_len)
{
	int rc;

	rc = ioasid_object_reserve(ucmd->ctx, &nested->obj, IOASID_OBJ_NESTED);
	if (rc)
		return rc;
	*out_id = nested->obj.id;
	rc = ioasid_ucmd_respond(ucmd, cmd_len);
	if (rc) {
		ioasid_object_abort(ucmd->ctx, &nested->obj);
		return rc;
	}
	ioasid_object_publish(ucmd->ctx, &nested->obj);
	return 0;
}

int ioasid_nested_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_create_nested *cmd = ucmd->cmd;
	struct ioasid_nested *nested;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	nested = ioasid_nested_alloc(ucmd->ctx, cmd->parent_ioasid, cmd->format,
				     false);
	if (IS_ERR(nested))
		return PTR_ERR(nested);
	rc = ioasid_nested_publish(ucmd, nested, &cmd->out_ioasid,
				   sizeof(*cmd));
	if (rc)
		ioasid_nested_free(nested);
	return rc;
}

int ioasid_delegated_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_create_delegated *cmd = ucmd->cmd;
	struct ioasid_nested *nested;
	void *data;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	nested = ioasid_nested_alloc(ucmd->ctx, cmd->parent_ioasid, cmd->format,
				     true);
	if (IS_ERR(nested))
		return PTR_ERR(nested);
	data = ioasid_nested_data(nested->fmt, cmd->data_len, cmd->data_uptr);
	if (IS_ERR(data)) {
		rc = PTR_ERR(data);
		goto err_free;
	}
	nested->data = data;
	mutex_lock(&nested->parent->mutex);
	rc = ioasid_nested_table_mapped(nested, data);
	mutex_unlock(&nested->parent->mutex);
	if (rc)
		goto err_free;
	rc = ioasid_nested_publish(ucmd, nested, &cmd->out_ioasid,
				   sizeof(*cmd));
	if (rc)
		goto err_free;
	return 0;

err_free:
	ioasid_nested_free(nested);
	return rc;
}

/* Look up a nested or delegated IOASID whose format must be @format */
static struct ioasid_nested *ioasid_nested_get(struct ioasid_ctx *ctx, u32 id,
					       u32 format)
{
	struct ioasid_nested *nested;
	struct ioasid_object *obj;

	obj = ioasid_object_get(ctx, id, IOASID_OBJ_NESTED);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	nested = container_of(obj, struct ioasid_nested, obj);
	/* The wrong format is a bad request */
	if (nested->fmt->format != format) {
		ioasid_object_put(obj);
		return ERR_PTR(-EINVAL);
	}
	return nested;
}

int ioasid_nested_set_tables(struct ioasid_ucmd *ucmd)
{
	struct ioasid_set_nested_page_tables *cmd = ucmd->cmd;
	struct ioasid_nested *nested;
	void *data;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	nested = ioasid_nested_get(ucmd->ctx, cmd->ioasid, cmd->format);
	if (IS_ERR(nested))
		return PTR_ERR(nested);
	if (nested->fmt->delegated) {
		/* A delegated IOASID's guest edits its own PASID table */
		rc = -EINVAL;
		goto out_put;
	}
	data = ioasid_nested_data(nested->fmt, cmd->data_len, cmd->data_uptr);
	if (IS_ERR(data)) {
		rc = PTR_ERR(data);
		goto out_put;
	}

	mutex_lock(&nested->parent->mutex);
	/* Devices keep the domain they attached to: no switch under them */
	if (!list_empty(&nested->domains))
		rc = -EBUSY;
	else
		rc = ioasid_nested_table_mapped(nested, data);
	if (!rc)
		swap(nested->data, data);
	mutex_unlock(&nested->parent->mutex);
	kfree(data);
out_put:
	ioasid_object_put(&nested->obj);
	return rc;
}

/* Keep a nested domain, and the parent domain under it, with no lock held */
static void ioasid_nested_hold_domain(struct ioasid_nested *nested,
				      struct ioasid_domain *nd)
{
	lockdep_assert_held(&nested->parent->mutex);

	nd->users++;
	nd->parent->users++;
}

int ioasid_nested_invalidate(struct ioasid_ucmd *ucmd)
{
	struct ioasid_invalidate *cmd = ucmd->cmd;
	struct ioasid_domain **held, *nd;
	struct ioasid_nested *nested;
	unsigned int i, num = 0;
	u32 done;
	int rc = 0, rc2;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (!cmd->entry_len || cmd->entry_len > PAGE_SIZE)
		return -EINVAL;

	nested = ioasid_nested_get(ucmd->ctx, cmd->ioasid, cmd->format);
	if (IS_ERR(nested))
		return PTR_ERR(nested);

	/*
	 * The driver reads the requests from user memory, for as long as
	 * userspace makes it: hold the domains, not the parent's mutex, which
	 * MAP, UNMAP and every attach and detach need.
	 */
	mutex_lock(&nested->parent->mutex);
	list_for_each_entry(nd, &nested->domains, node)
		num++;
	held = kcalloc(num, sizeof(*held), GFP_KERNEL);
	if (!held && num) {
		mutex_unlock(&nested->parent->mutex);
		rc = -ENOMEM;
		goto out_put;
	}
	num = 0;
	list_for_each_entry(nd, &nested->domains, node) {
		ioasid_nested_hold_domain(nested, nd);
		held[num++] = nd;
	}
	mutex_unlock(&nested->parent->mutex);

	/*
	 * Each domain caches on its own, so every one gets the requests. A
	 * domain that fails at request k makes k the count and its error the
	 * call's: later domains get the first k only, and earlier ones that
	 * did more invalidated too much, which is harmless.
	 */
	done = cmd->entry_num;
	for (i = 0; i < num; i++) {
		struct iommu_user_data_array array = {
			.type = nested->fmt->inv_type,
			.uptr = u64_to_user_ptr(cmd->entries_uptr),
			.entry_len = cmd->entry_len,
			.entry_num = done,
		};
		struct iommu_domain *domain = held[i]->domain;
		int err;

		err = domain->ops->cache_invalidate_user(domain, &array);
		done = min(done, array.entry_num);
		if (err)
			rc = err;
	}

	mutex_lock(&nested->parent->mutex);
	for (i = 0; i < num; i++)
		ioasid_nested_put_domain(nested, held[i]);
	mutex_unlock(&nested->parent->mutex);
	kfree(held);

	cmd->entry_num = done;
	rc2 = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (!rc)
		rc = rc2;
out_put:
	ioasid_object_put(&nested->obj);
	return rc;
}

/* A nested IOASID being attached, for ioasid_nested_try_parent() */
struct ioasid_nested_attach {
	struct ioasid_nested *nested;
	struct device *dev;
	int (*attach)(struct ioasid_domain *idomain, void *arg);
	void *arg;
	struct ioasid_domain *nd;
};

/*
 * Attach through a nested domain over @parent, which the parent's
 * ioasid_ioas_get_domain() offers: the one that exists, else a new one.
 * -EINVAL from either step makes the parent try its next domain: mostly an
 * IOMMU instance that cannot use @parent, as malformed data was refused
 * when it was set; data the unit lacks a feature for fails on every try.
 */
static int ioasid_nested_try_parent(struct ioasid_domain *parent, void *arg)
{
	struct ioasid_nested_attach *na = arg;
	struct ioasid_nested *nested = na->nested;
	const struct iommu_ops *ops = dev_iommu_ops(na->dev);
	struct iommu_user_data data = {
		.type = nested->fmt->data_type,
		.kptr = nested->data,
		.len = nested->fmt->data_len,
	};
	struct iommu_domain *domain;
	struct ioasid_domain *nd;
	int rc;

	list_for_each_entry(nd, &nested->domains, node) {
		if (nd->parent != parent)
			continue;
		rc = na->attach(nd, na->arg);
		if (!rc) {
			nd->users++;
			na->nd = nd;
		}
		return rc;
	}

	nd = kzalloc(sizeof(*nd), GFP_KERNEL_ACCOUNT);
	if (!nd)
		return -ENOMEM;
	/* A nesting parent exists, so the driver has domain_alloc_user() */
	domain = ops->domain_alloc_user(na->dev, 0, parent->domain, &data);
	if (IS_ERR(domain)) {
		rc = PTR_ERR(domain);
		goto err_free;
	}
	/* INVALIDATE relies on what every nested domain must have */
	if (WARN_ON_ONCE(domain->type != IOMMU_DOMAIN_NESTED ||
			 !domain->ops->cache_invalidate_user)) {
		rc = -EOPNOTSUPP;
		goto err_free_domain;
	}
	domain->owner = ops;
	nd->domain = domain;
	nd->parent = parent;
	rc = na->attach(nd, na->arg);
	if (rc)
		goto err_free_domain;
	nd->users = 1;
	list_add_tail(&nd->node, &nested->domains);
	na->nd = nd;
	return 0;

err_free_domain:
	iommu_domain_free(domain);
err_free:
	kfree(nd);
	return rc;
}

/**
 * ioasid_nested_get_domain() - find or make a domain of a nested IOASID
 * @nested: The nested or delegated IOASID; its parent's mutex is held
 * @dev: Device the domain is for
 * @attach: Attach something (a group's RID, a device's PASID) to the
 *          domain; returns -EINVAL for a domain the IOMMU instance of @dev
 *          cannot use
 * @arg: Argument of @attach
 *
 * Return: the nested domain, of which a user is taken (and one of the
 * parent's domain under it), or an ERR_PTR; -EINVAL for a nested IOASID
 * whose page tables are not set.
 */
struct ioasid_domain *
ioasid_nested_get_domain(struct ioasid_nested *nested, struct device *dev,
			 int (*attach)(struct ioasid_domain *idomain, void *arg),
			 void *arg)
{
	struct ioasid_nested_attach na = {
		.nested = nested,
		.dev = dev,
		.attach = attach,
		.arg = arg,
	};
	struct ioasid_domain *parent;

	lockdep_assert_held(&nested->parent->mutex);

	if (!nested->data)
		return ERR_PTR(-EINVAL);
	parent = ioasid_ioas_get_domain(nested->parent, dev,
					ioasid_nested_try_parent, &na);
	if (IS_ERR(parent))
		return parent;
	return na.nd;
}

/**
 * ioasid_nested_put_domain() - drop a user of a nested domain
 * @nested: The nested or delegated IOASID; its parent's mutex is held
 * @nd: The domain; the last user frees it, then drops its parent domain
 */
void ioasid_nested_put_domain(struct ioasid_nested *nested,
			      struct ioasid_domain *nd)
{
	struct ioasid_domain *parent = nd->parent;

	lockdep_assert_held(&nested->parent->mutex);

	if (!--nd->users) {
		list_del(&nd->node);
		iommu_domain_free(nd->domain);
		kfree(nd);
	}
	/* After the nested domain: a parent never goes before its children */
	ioasid_ioas_put_domain(nested->parent, parent);
}

/* Called once the IOASID is out of its table and has no users */
void ioasid_nested_destroy(struct ioasid_nested *nested)
{
	WARN_ON(!list_empty(&nested->domains));
	ioasid_nested_free(nested);
}
