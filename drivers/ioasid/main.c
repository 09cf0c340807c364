// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid: the character device, its contexts, their object tables and
 * the ioctl dispatch.
 */
#define pr_fmt(fmt) "ioasid: " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ioasid.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <uapi/linux/ioasid.h>

#include "ioasid_private.h"
#include "ioasid_test.h"

/**
 * ioasid_object_reserve() - reserve an id for an object under construction
 * @ctx: Context whose table gets the object
 * @obj: Object, embedded in its zeroed, not yet visible container
 * @type: Object type
 *
 * The id is not visible to lookups until ioasid_object_publish(); undo with
 * ioasid_object_abort().
 */
int ioasid_object_reserve(struct ioasid_ctx *ctx, struct ioasid_object *obj,
			  enum ioasid_obj_type type)
{
	int rc;

	obj->type = type;
	refcount_set(&obj->shortterm, 1);
	rc = xa_alloc(&ctx->objects, &obj->id, XA_ZERO_ENTRY, xa_limit_31b,
		      GFP_KERNEL_ACCOUNT);
	return rc == -EBUSY ? -ENOSPC : rc;
}

void ioasid_object_publish(struct ioasid_ctx *ctx, struct ioasid_object *obj)
{
	void *old;

	old = xa_store(&ctx->objects, obj->id, obj, GFP_KERNEL);
	/* The slot was reserved, so storing cannot allocate or fail */
	WARN_ON(old);
}

void ioasid_object_abort(struct ioasid_ctx *ctx, struct ioasid_object *obj)
{
	xa_erase(&ctx->objects, obj->id);
}

static bool ioasid_object_is(struct ioasid_object *obj,
			     enum ioasid_obj_type type)
{
	if (type == IOASID_OBJ_IOASID)
		return obj->type == IOASID_OBJ_IOAS ||
		       obj->type == IOASID_OBJ_NESTED;
	return obj->type == type;
}

/**
 * ioasid_object_get() - look up an object of one kind for an ioctl
 * @ctx: Context
 * @id: Id userspace gave
 * @type: Kind wanted: IOASID_OBJ_IOAS, IOASID_OBJ_NESTED, IOASID_OBJ_IOASID
 *        for either, or IOASID_OBJ_MOCK_DEVICE. Never IOASID_OBJ_DEVICE:
 *        see the rule at &struct ioasid_object.
 *
 * The kind is checked under the table's lock before the reference is taken,
 * so an object of another kind is never held, not even for a moment. A
 * reserved but unpublished id reads as XA_ZERO_ENTRY, which xa_load()
 * returns as NULL.
 *
 * Return: the object, held until ioasid_object_put(), or an ERR_PTR:
 * -EINVAL for a normal IOASID where a nested one was asked for or the
 * reverse, a bad request; -ENOENT when @id names nothing of the kind (a
 * device's id included).
 */
struct ioasid_object *ioasid_object_get(struct ioasid_ctx *ctx, u32 id,
					enum ioasid_obj_type type)
{
	struct ioasid_object *obj;
	int rc = 0;

	if (WARN_ON_ONCE(type == IOASID_OBJ_DEVICE))
		return ERR_PTR(-ENOENT);

	xa_lock(&ctx->objects);
	obj = xa_load(&ctx->objects, id);
	if (!obj)
		rc = -ENOENT;
	else if (!ioasid_object_is(obj, type))
		rc = (type == IOASID_OBJ_IOAS || type == IOASID_OBJ_NESTED) &&
		     ioasid_object_is(obj, IOASID_OBJ_IOASID) ? -EINVAL : -ENOENT;
	else if (!refcount_inc_not_zero(&obj->shortterm))
		rc = -ENOENT;
	xa_unlock(&ctx->objects);
	return rc ? ERR_PTR(rc) : obj;
}

void ioasid_object_put(struct ioasid_object *obj)
{
	/* The table's reference keeps this from reaching zero */
	refcount_dec(&obj->shortterm);
}

void ioasid_object_add_user(struct ioasid_ctx *ctx, struct ioasid_object *obj)
{
	xa_lock(&ctx->objects);
	obj->users++;
	xa_unlock(&ctx->objects);
}

void ioasid_object_del_user(struct ioasid_ctx *ctx, struct ioasid_object *obj)
{
	xa_lock(&ctx->objects);
	WARN_ON(!obj->users);
	obj->users--;
	xa_unlock(&ctx->objects);
}

/**
 * ioasid_object_remove() - take an object out of its table
 * @ctx: Context owning the object
 * @id: Id of the object
 * @type: Kind it must have, as for ioasid_object_get()
 *
 * The caller must not hold a short-term reference. Fails with -ENOENT when
 * there is no such object, with -EBUSY when it has long-term users or is
 * being used by another ioctl; the checks and the removal are one atomic step
 * under the table's lock.
 *
 * Return: the object, now invisible and owned by the caller, or an ERR_PTR.
 */
struct ioasid_object *ioasid_object_remove(struct ioasid_ctx *ctx, u32 id,
					   enum ioasid_obj_type type)
{
	struct ioasid_object *obj;

	xa_lock(&ctx->objects);
	obj = xa_load(&ctx->objects, id);
	if (!obj || !ioasid_object_is(obj, type))
		obj = ERR_PTR(-ENOENT);
	else if (obj->users || !refcount_dec_if_one(&obj->shortterm))
		obj = ERR_PTR(-EBUSY);
	else
		__xa_erase(&ctx->objects, id);
	xa_unlock(&ctx->objects);
	return obj;
}

/**
 * ioasid_object_remove_user() - drop a use of an object, removing it if last
 * @ctx: Context owning the object
 * @obj: The object, in the table, used and held by the caller
 *
 * Drops the caller's long-term use and its short-term reference. If nobody
 * else uses or holds the object, it is taken out of the table in the same
 * step, under the table's lock: no other thread can destroy it, and have
 * its id given to a new object, in between.
 *
 * Return: @obj, now invisible and owned by the caller, or NULL if it stays.
 */
struct ioasid_object *ioasid_object_remove_user(struct ioasid_ctx *ctx,
						struct ioasid_object *obj)
{
	xa_lock(&ctx->objects);
	WARN_ON(!obj->users);
	obj->users--;
	/* The caller's reference; the table's keeps the count above zero */
	refcount_dec(&obj->shortterm);
	if (obj->users || !refcount_dec_if_one(&obj->shortterm))
		obj = NULL;
	else
		__xa_erase(&ctx->objects, obj->id);
	xa_unlock(&ctx->objects);
	return obj;
}

static void ioasid_object_destroy(struct ioasid_object *obj)
{
	switch (obj->type) {
	case IOASID_OBJ_IOAS:
		ioasid_ioas_destroy(container_of(obj, struct ioasid_ioas, obj));
		break;
	case IOASID_OBJ_NESTED:
		ioasid_nested_destroy(container_of(obj, struct ioasid_nested,
						   obj));
		break;
	case IOASID_OBJ_DEVICE:
		ioasid_device_destroy(container_of(obj, struct ioasid_device,
						   obj));
		break;
#ifdef CONFIG_IOASID_TEST
	case IOASID_OBJ_MOCK_DEVICE:
		ioasid_test_mock_destroy(obj);
		break;
#endif
	default:
		WARN_ON(1);
	}
}

static int ioasid_destroy(struct ioasid_ucmd *ucmd)
{
	struct ioasid_destroy *cmd = ucmd->cmd;
	struct ioasid_object *obj;

	if (cmd->flags)
		return -EOPNOTSUPP;

	/* Bound devices go away with their driver's unbind, not from here */
	obj = ioasid_object_remove(ucmd->ctx, cmd->id, IOASID_OBJ_IOASID);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	ioasid_object_destroy(obj);
	return 0;
}

/**
 * ioasid_ctx_caps() - what the context's IOMMU can do
 * @ctx: The context
 * @caps: Set to the capabilities of its IOMMU or, with no device bound, to
 *        what the CPU alone sets: its page size, every address, no PASIDs
 *        and no nesting
 *
 * Takes only the small lock of the capabilities, so that MAP and UNMAP
 * never wait for a device being attached, nor a domain being filled.
 *
 * Return: true when a device is bound and @caps are its IOMMU's.
 */
bool ioasid_ctx_caps(struct ioasid_ctx *ctx, struct ioasid_caps *caps)
{
	bool bound;

	spin_lock(&ctx->caps_lock);
	bound = ctx->iommu_ops;
	if (bound)
		*caps = ctx->caps;
	spin_unlock(&ctx->caps_lock);
	if (!bound)
		*caps = (struct ioasid_caps){
			.pgsize_bitmap = PAGE_SIZE,
			.aperture_last = U64_MAX,
		};
	return bound;
}

static int ioasid_get_info(struct ioasid_ucmd *ucmd)
{
	struct ioasid_ctx *ctx = ucmd->ctx;
	struct ioasid_info *cmd = ucmd->cmd;
	struct ioasid_caps caps;

	if (cmd->flags)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	cmd->out_flags = 0;
	if (ioasid_ctx_caps(ctx, &caps))
		cmd->out_flags |= IOASID_INFO_IOMMU_BOUND;
	if (caps.coherent)
		cmd->out_flags |= IOASID_INFO_CACHE_COHERENT;
	if (caps.formats)
		cmd->out_flags |= IOASID_INFO_NESTING;
	cmd->out_max_pasid_bits = caps.max_pasid_bits;
	cmd->out_pgsize_bitmap = caps.pgsize_bitmap;
	cmd->out_aperture_start = caps.aperture_start;
	cmd->out_aperture_last = caps.aperture_last;
	cmd->out_formats = caps.formats;
	cmd->out_account = READ_ONCE(ctx->account);
	return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
}

static int ioasid_option(struct ioasid_ucmd *ucmd)
{
	struct ioasid_option *cmd = ucmd->cmd;
	struct ioasid_ctx *ctx = ucmd->ctx;

	if (cmd->flags & ~IOASID_OPTION_GET)
		return -EOPNOTSUPP;
	if (cmd->__reserved)
		return -EINVAL;

	switch (cmd->option) {
	case IOASID_OPTION_ACCOUNT:
		if (cmd->flags & IOASID_OPTION_GET) {
			cmd->val = READ_ONCE(ctx->account);
			return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
		}
		switch (cmd->val) {
		case IOASID_ACCOUNT_MM_LOCKED:
		case IOASID_ACCOUNT_USER:
		case IOASID_ACCOUNT_MM_PINNED:
			/* Each pinned run remembers how it was charged */
			WRITE_ONCE(ctx->account, cmd->val);
			return 0;
		}
		return -EINVAL;
	}
	return -EOPNOTSUPP;
}

/**
 * ioasid_ucmd_respond() - copy an ioctl's answer back to userspace
 * @ucmd: The call
 * @cmd_len: Size of the kernel's struct
 *
 * Only as much as the user's struct holds is copied, so older userspace
 * with a shorter struct gets the fields it knows.
 */
int ioasid_ucmd_respond(struct ioasid_ucmd *ucmd, size_t cmd_len)
{
	if (copy_to_user(ucmd->ubuffer, ucmd->cmd,
			 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

/**
 * ioasid_ucmd_respond_nofault() - ioasid_ucmd_respond() that never faults
 * @ucmd: The call
 * @cmd_len: Size of the kernel's struct
 *
 * For answers given under a lock that a fault must not hold for long (a
 * userfaultfd can stall a fault forever). Fails with -EFAULT when the
 * user's struct is not present and writable; the caller then drops the
 * lock, and faults it in with ioasid_ucmd_respond() or gives up.
 */
int ioasid_ucmd_respond_nofault(struct ioasid_ucmd *ucmd, size_t cmd_len)
{
	if (copy_to_user_nofault(ucmd->ubuffer, ucmd->cmd,
				 min_t(size_t, ucmd->user_size, cmd_len)))
		return -EFAULT;
	return 0;
}

union ioasid_ucmd_buffer {
	struct ioasid_create create;
	struct ioasid_destroy destroy;
	struct ioasid_info info;
	struct ioasid_map map;
	struct ioasid_unmap unmap;
	struct ioasid_copy copy;
	struct ioasid_iova_ranges iova_ranges;
	struct ioasid_option option;
	struct ioasid_create_nested create_nested;
	struct ioasid_set_nested_page_tables set_tables;
	struct ioasid_create_delegated create_delegated;
	struct ioasid_invalidate invalidate;
	struct ioasid_hw_info hw_info;
#ifdef CONFIG_IOASID_TEST
	struct ioasid_test_cmd test;
#endif
};

/*
 * Every ioctl is _IO(IOASID_TYPE, nr), and the table is indexed by nr: the
 * struct's size lives in the struct, not in the ioctl number.
 */
struct ioasid_ioctl_op {
	unsigned int size;
	unsigned int min_size;
	int (*execute)(struct ioasid_ucmd *ucmd);
};

#define IOCTL_OP(_ioctl, _fn, _struct, _last)                             \
	[_IOC_NR(_ioctl) - IOASID_CMD_BASE] = {                           \
		.size = sizeof(_struct) +                                 \
			BUILD_BUG_ON_ZERO(sizeof(union ioasid_ucmd_buffer) < \
					  sizeof(_struct)),               \
		.min_size = offsetofend(_struct, _last),                  \
		.execute = _fn,                                           \
	}

static const struct ioasid_ioctl_op ioasid_ioctl_ops[] = {
	IOCTL_OP(IOASID_DESTROY, ioasid_destroy, struct ioasid_destroy, id),
	IOCTL_OP(IOASID_GET_INFO, ioasid_get_info, struct ioasid_info,
		 out_aperture_last),
	IOCTL_OP(IOASID_CREATE, ioasid_ioas_create, struct ioasid_create,
		 out_ioasid),
	IOCTL_OP(IOASID_MAP, ioasid_ioas_map, struct ioasid_map, iova),
	IOCTL_OP(IOASID_UNMAP, ioasid_ioas_unmap, struct ioasid_unmap,
		 out_length),
	IOCTL_OP(IOASID_COPY, ioasid_ioas_copy, struct ioasid_copy, dst_iova),
	IOCTL_OP(IOASID_IOVA_RANGES, ioasid_ioas_iova_ranges,
		 struct ioasid_iova_ranges, out_iova_alignment),
	IOCTL_OP(IOASID_OPTION, ioasid_option, struct ioasid_option, val),
	IOCTL_OP(IOASID_CREATE_NESTED, ioasid_nested_create,
		 struct ioasid_create_nested, __reserved),
	IOCTL_OP(IOASID_SET_NESTED_PAGE_TABLES, ioasid_nested_set_tables,
		 struct ioasid_set_nested_page_tables, data_uptr),
	IOCTL_OP(IOASID_CREATE_DELEGATED, ioasid_delegated_create,
		 struct ioasid_create_delegated, data_uptr),
	IOCTL_OP(IOASID_INVALIDATE, ioasid_nested_invalidate,
		 struct ioasid_invalidate, entries_uptr),
	IOCTL_OP(IOASID_GET_HW_INFO, ioasid_device_hw_info,
		 struct ioasid_hw_info, out_formats),
#ifdef CONFIG_IOASID_TEST
	IOCTL_OP(IOASID_TEST, ioasid_test_cmd, struct ioasid_test_cmd, id),
#endif
};

static long ioasid_fops_ioctl(struct file *filp, unsigned int cmd,
			      unsigned long arg)
{
	const struct ioasid_ioctl_op *op;
	union ioasid_ucmd_buffer buf;
	struct ioasid_ucmd ucmd = {
		.ctx = filp->private_data,
		.ubuffer = (void __user *)arg,
		.cmd = &buf,
	};
	unsigned int nr = _IOC_NR(cmd);
	int rc;

	/* The context is a vfio container too */
	if (_IOC_TYPE(cmd) == VFIO_TYPE)
		return ioasid_vfio_ioctl(ucmd.ctx, cmd, arg);
	if (cmd != _IO(IOASID_TYPE, nr) || nr < IOASID_CMD_BASE ||
	    nr - IOASID_CMD_BASE >= ARRAY_SIZE(ioasid_ioctl_ops))
		return -ENOIOCTLCMD;
	op = &ioasid_ioctl_ops[nr - IOASID_CMD_BASE];
	if (!op->execute)
		return -ENOIOCTLCMD;

	rc = get_user(ucmd.user_size, (u32 __user *)ucmd.ubuffer);
	if (rc)
		return rc;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	/* As openat2(2): no scan of a huge tail for non-zero bytes */
	if (ucmd.user_size > PAGE_SIZE)
		return -E2BIG;
	rc = copy_struct_from_user(ucmd.cmd, op->size, ucmd.ubuffer,
				   ucmd.user_size);
	if (rc)
		return rc;
	return op->execute(&ucmd);
}

static int ioasid_fops_open(struct inode *inode, struct file *filp)
{
	struct ioasid_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;

	xa_init_flags(&ctx->objects, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->caps_lock);
	INIT_LIST_HEAD(&ctx->groups);
	mutex_init(&ctx->pins_lock);
	ctx->pins = RB_ROOT_CACHED;
	ioasid_pins_init(ctx);
	ctx->account = IOASID_ACCOUNT_MM_LOCKED;
	init_rwsem(&ctx->compat.rwsem);
	INIT_LIST_HEAD(&ctx->compat.groups);
	ctx->file = filp;
	filp->private_data = ctx;
	return 0;
}

/*
 * Remove every object whose type is @type. Objects of other types may still
 * use them, so this is done in passes ordered so that users go first.
 */
static void ioasid_ctx_destroy_type(struct ioasid_ctx *ctx,
				    enum ioasid_obj_type type)
{
	struct ioasid_object *obj;
	unsigned long index;

	xa_for_each(&ctx->objects, index, obj) {
		if (obj->type != type)
			continue;
		obj = ioasid_object_remove(ctx, index, type);
		if (WARN_ON(IS_ERR(obj)))
			continue;
		ioasid_object_destroy(obj);
	}
}

static int ioasid_fops_release(struct inode *inode, struct file *filp)
{
	struct ioasid_ctx *ctx = filp->private_data;

	/*
	 * Drivers that bound devices hold a reference on the file, so only
	 * objects owned by the context itself are left: the test's mock
	 * devices, then the IOASIDs they were attached to, nested and
	 * delegated ones before their parents.
	 */
#ifdef CONFIG_IOASID_TEST
	ioasid_ctx_destroy_type(ctx, IOASID_OBJ_MOCK_DEVICE);
#endif
	ioasid_ctx_destroy_type(ctx, IOASID_OBJ_NESTED);
	ioasid_ctx_destroy_type(ctx, IOASID_OBJ_IOAS);
	WARN_ON(!xa_empty(&ctx->objects));
	WARN_ON(!list_empty(&ctx->groups));
	/* Groups set to the context as a container hold its file */
	WARN_ON(!list_empty(&ctx->compat.groups));
	WARN_ON(!RB_EMPTY_ROOT(&ctx->pins.rb_root));
	WARN_ON(ctx->pins_hashed);
	ioasid_pins_fini(ctx);
	xa_destroy(&ctx->objects);
	mutex_destroy(&ctx->pins_lock);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static const struct file_operations ioasid_fops = {
	.owner = THIS_MODULE,
	.open = ioasid_fops_open,
	.release = ioasid_fops_release,
	.unlocked_ioctl = ioasid_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/**
 * ioasid_ctx_fdget() - get the context of a /dev/ioasid file descriptor
 * @fd: File descriptor from userspace
 *
 * For drivers that bind devices on behalf of userspace. The context stays
 * valid until ioasid_ctx_put(), even if userspace closes @fd.
 *
 * Return: the context, or ERR_PTR(-EBADF) if @fd is not an open file of
 * /dev/ioasid.
 */
struct ioasid_ctx *ioasid_ctx_fdget(int fd)
{
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &ioasid_fops) {
		fput(file);
		return ERR_PTR(-EBADF);
	}
	return file->private_data;
}
EXPORT_SYMBOL_GPL(ioasid_ctx_fdget);

/**
 * ioasid_ctx_from_file() - get the context of a file of /dev/ioasid
 * @file: A file userspace passed, held by the caller
 *
 * For vfio, whose groups take a /dev/ioasid file as container.
 *
 * Return: the context, held until ioasid_ctx_put(), or ERR_PTR(-EBADFD)
 * if @file is not /dev/ioasid.
 */
struct ioasid_ctx *ioasid_ctx_from_file(struct file *file)
{
	if (file->f_op != &ioasid_fops)
		return ERR_PTR(-EBADFD);
	get_file(file);
	return file->private_data;
}
EXPORT_SYMBOL_GPL(ioasid_ctx_from_file);

/**
 * ioasid_ctx_put() - drop the reference of ioasid_ctx_fdget() or
 *                    ioasid_ctx_from_file()
 * @ctx: The context
 */
void ioasid_ctx_put(struct ioasid_ctx *ctx)
{
	fput(ctx->file);
}
EXPORT_SYMBOL_GPL(ioasid_ctx_put);

static struct miscdevice ioasid_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ioasid",
	.fops = &ioasid_fops,
	.nodename = "ioasid",
	.mode = 0660,
};

#ifdef CONFIG_IOASID_VFIO_CONTAINER
/* vfio's container node, served by /dev/ioasid in place of vfio's own */
static struct miscdevice ioasid_vfio_misc = {
	.minor = VFIO_MINOR,
	.name = "vfio",
	.fops = &ioasid_fops,
	.nodename = "vfio/vfio",
	.mode = 0666,
};

static int ioasid_vfio_misc_register(void)
{
	return misc_register(&ioasid_vfio_misc);
}

static void ioasid_vfio_misc_deregister(void)
{
	misc_deregister(&ioasid_vfio_misc);
}
#else
static int ioasid_vfio_misc_register(void)
{
	return 0;
}

static void ioasid_vfio_misc_deregister(void)
{
}
#endif

static int __init ioasid_init(void)
{
	int rc;

	rc = misc_register(&ioasid_misc);
	if (rc)
		return rc;
	rc = ioasid_vfio_misc_register();
	if (rc)
		goto err_misc;
	rc = ioasid_test_init();
	if (rc)
		goto err_vfio_misc;
	return 0;

err_vfio_misc:
	ioasid_vfio_misc_deregister();
err_misc:
	misc_deregister(&ioasid_misc);
	return rc;
}

static void __exit ioasid_exit(void)
{
	ioasid_test_exit();
	ioasid_vfio_misc_deregister();
	misc_deregister(&ioasid_misc);
}

module_init(ioasid_init);
module_exit(ioasid_exit);

MODULE_DESCRIPTION("I/O address spaces for userspace device drivers");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IOMMUFD_INTERNAL);
