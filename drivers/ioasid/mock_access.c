// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOASID_TEST_ACCESS_*: a mock driver that reaches IOASIDs' memory through
 * the access API, as an emulated device does, driven from a selftest. Each
 * access is a file, so that tests can close it and the context in any order.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/ioasid.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ioasid_private.h"
#include "ioasid_test.h"
#include "mock_iommu.h"

/**
 * struct ioasid_mock_access - the mock driver's state for one access
 * @ctx: Context of the access
 * @access: The access
 * @lock: Protects everything below
 * @pins: &struct ioasid_mock_pin the driver holds
 * @mode: &enum ioasid_test_access_mode
 * @mirror: Pin every mapping of the IOASID (IOASID_TEST_ACCESS_MIRROR)
 * @unmaps: Calls of the unmap callback
 * @unmap_iova: iova of the last one
 * @unmap_length: Its length
 * @unpin_work: Drops the pins in IOASID_TEST_ACCESS_UNPIN_LATER
 */
struct ioasid_mock_access {
	struct ioasid_ctx *ctx;
	struct ioasid_access *access;
	struct mutex lock; /* everything below */
	struct list_head pins;
	u32 mode;
	bool mirror;
	u64 unmaps;
	u64 unmap_iova;
	u64 unmap_length;
	struct delayed_work unpin_work;
};

/**
 * struct ioasid_mock_pin - pages the mock driver pinned
 * @node: In &struct ioasid_mock_access.pins
 * @iova: iova of the pin
 * @length: length of the pin
 * @npages: Pages in @pages
 * @pages: The pinned pages
 */
struct ioasid_mock_pin {
	struct list_head node;
	u64 iova;
	u64 length;
	unsigned long npages;
	struct page *pages[] __counted_by(npages);
};

/* Pin [iova, iova + length - 1] for the mock driver, which keeps it */
static struct ioasid_mock_pin *ioasid_mock_pin(struct ioasid_mock_access *mock,
					       u64 iova, u64 length,
					       unsigned int flags)
{
	unsigned long npages;
	struct ioasid_mock_pin *pin;
	int rc;

	lockdep_assert_held(&mock->lock);

	npages = DIV_ROUND_UP(offset_in_page(iova) + length, PAGE_SIZE) ?: 1;
	pin = kvzalloc(struct_size(pin, pages, npages), GFP_KERNEL_ACCOUNT);
	if (!pin)
		return ERR_PTR(-ENOMEM);
	pin->npages = npages;
	pin->iova = iova;
	pin->length = length;
	rc = ioasid_access_pin_pages(mock->access, iova, length, pin->pages,
				     flags);
	if (rc) {
		kvfree(pin);
		return ERR_PTR(rc);
	}
	list_add_tail(&pin->node, &mock->pins);
	return pin;
}

/*
 * Mirroring: pin [iova, last] in pieces of at most IOASID_TEST_DMA_MAX
 * bytes, as far as it is mapped. Best effort: a piece that fails (unmapped
 * meanwhile) is left out.
 */
static void ioasid_mock_mirror(struct ioasid_mock_access *mock, u64 iova,
			       u64 last)
{
	lockdep_assert_held(&mock->lock);

	while (iova <= last) {
		u64 n = min_t(u64, last - iova, IOASID_TEST_DMA_MAX - 1) + 1;

		ioasid_mock_pin(mock, iova, n, 0);
		iova += n;
		if (!iova)
			break;
	}
}

static void ioasid_mock_unpin(struct ioasid_mock_access *mock,
			      struct ioasid_mock_pin *pin)
{
	lockdep_assert_held(&mock->lock);

	list_del(&pin->node);
	ioasid_access_unpin_pages(mock->access, pin->iova, pin->length);
	kvfree(pin);
}

/*
 * Drop the pins overlapping [iova, iova + length - 1], as drivers do; when
 * mirroring, pin again what of them lies outside the range
 */
static void ioasid_mock_unpin_range(struct ioasid_mock_access *mock, u64 iova,
				    u64 length)
{
	u64 last = iova + min(length, U64_MAX - iova) - 1;
	struct ioasid_mock_pin *pin, *next;

	lockdep_assert_held(&mock->lock);

	list_for_each_entry_safe(pin, next, &mock->pins, node) {
		u64 s = pin->iova, e = pin->iova + pin->length - 1;

		if (s > last || e < iova)
			continue;
		ioasid_mock_unpin(mock, pin);
		if (!mock->mirror)
			continue;
		if (s < iova)
			ioasid_mock_mirror(mock, s, iova - 1);
		if (e > last)
			ioasid_mock_mirror(mock, last + 1, e);
	}
}

static void ioasid_mock_unpin_work(struct work_struct *work)
{
	struct ioasid_mock_access *mock =
		container_of(work, struct ioasid_mock_access, unpin_work.work);

	mutex_lock(&mock->lock);
	ioasid_mock_unpin_range(mock, 0, U64_MAX);
	mutex_unlock(&mock->lock);
}

static void ioasid_mock_access_unmap(void *data, u64 iova, u64 length)
{
	struct ioasid_mock_access *mock = data;

	mutex_lock(&mock->lock);
	mock->unmaps++;
	mock->unmap_iova = iova;
	mock->unmap_length = length;
	switch (mock->mode) {
	case IOASID_TEST_ACCESS_UNPIN_NOW:
		ioasid_mock_unpin_range(mock, iova, length);
		break;
	case IOASID_TEST_ACCESS_UNPIN_LATER:
		schedule_delayed_work(&mock->unpin_work, msecs_to_jiffies(50));
		break;
	}
	mutex_unlock(&mock->lock);
}

static void ioasid_mock_access_map(void *data, u64 iova, u64 length)
{
	struct ioasid_mock_access *mock = data;

	mutex_lock(&mock->lock);
	if (mock->mirror)
		ioasid_mock_mirror(mock, iova, iova + length - 1);
	mutex_unlock(&mock->lock);
}

static const struct ioasid_access_ops ioasid_mock_access_ops = {
	.unmap = ioasid_mock_access_unmap,
	.map = ioasid_mock_access_map,
};

static int ioasid_mock_access_release(struct inode *inode, struct file *file)
{
	struct ioasid_mock_access *mock = file->private_data;

	mutex_lock(&mock->lock);
	mock->mirror = false;
	ioasid_mock_unpin_range(mock, 0, U64_MAX);
	mutex_unlock(&mock->lock);
	/* No callback runs after this, but a worker one started may */
	ioasid_access_destroy(mock->access);
	cancel_delayed_work_sync(&mock->unpin_work);
	mutex_destroy(&mock->lock);
	kfree(mock);
	return 0;
}

static const struct file_operations ioasid_mock_access_fops = {
	.owner = THIS_MODULE,
	.release = ioasid_mock_access_release,
};

static int ioasid_mock_access_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_mock_access *mock;
	struct file *file;
	int fd, rc;

	mock = kzalloc(sizeof(*mock), GFP_KERNEL_ACCOUNT);
	if (!mock)
		return -ENOMEM;
	mutex_init(&mock->lock);
	INIT_LIST_HEAD(&mock->pins);
	INIT_DELAYED_WORK(&mock->unpin_work, ioasid_mock_unpin_work);
	mock->ctx = ucmd->ctx;
	mock->access = ioasid_access_create(ucmd->ctx, &ioasid_mock_access_ops,
					    mock);
	if (IS_ERR(mock->access)) {
		rc = PTR_ERR(mock->access);
		goto err_free;
	}

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		rc = fd;
		goto err_destroy;
	}
	file = anon_inode_getfile("[ioasid_mock_access]",
				  &ioasid_mock_access_fops, mock, O_RDWR);
	if (IS_ERR(file)) {
		rc = PTR_ERR(file);
		goto err_put_fd;
	}
	cmd->access.out_fd = fd;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		/* The release destroys the access */
		fput(file);
		put_unused_fd(fd);
		return rc;
	}
	fd_install(fd, file);
	return 0;

err_put_fd:
	put_unused_fd(fd);
err_destroy:
	ioasid_access_destroy(mock->access);
err_free:
	mutex_destroy(&mock->lock);
	kfree(mock);
	return rc;
}

/**
 * ioasid_mock_copy_pages() - copy between pinned pages and a buffer
 * @pages: The pages, one after the other in IOVA order
 * @off: Offset of the first byte in the first page
 * @buf: Kernel buffer
 * @length: Bytes to copy
 * @write: Copy @buf to the pages, else the pages to @buf
 */
void ioasid_mock_copy_pages(struct page **pages, size_t off, void *buf,
			    size_t length, bool write)
{
	unsigned long i;

	for (i = 0; length; i++) {
		size_t n = min_t(size_t, PAGE_SIZE - off, length);
		void *va = kmap_local_page(pages[i]);

		if (write)
			memcpy(va + off, buf, n);
		else
			memcpy(buf, va + off, n);
		kunmap_local(va);
		buf += n;
		length -= n;
		off = 0;
	}
}

static int ioasid_mock_access_pin(struct ioasid_ucmd *ucmd,
				  struct ioasid_mock_access *mock)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	bool write = cmd->access.flags & IOASID_TEST_ACCESS_WRITE;
	void __user *uptr = u64_to_user_ptr(cmd->access.uptr);
	u64 length = cmd->access.length;
	struct ioasid_mock_pin *pin;
	void *buf = NULL;
	int rc = 0;

	if (cmd->access.flags & ~IOASID_TEST_ACCESS_WRITE)
		return -EOPNOTSUPP;
	/* The API checks the range; the mock only bounds its arrays */
	if (length > IOASID_TEST_DMA_MAX)
		return -EINVAL;
	if (cmd->access.uptr) {
		buf = kvzalloc(length ?: 1, GFP_KERNEL_ACCOUNT);
		if (!buf)
			return -ENOMEM;
		if (write && copy_from_user(buf, uptr, length)) {
			rc = -EFAULT;
			goto out_free;
		}
	}

	mutex_lock(&mock->lock);
	pin = ioasid_mock_pin(mock, cmd->access.iova, length,
			      write ? IOASID_ACCESS_WRITE : 0);
	if (IS_ERR(pin))
		rc = PTR_ERR(pin);
	else if (buf)
		ioasid_mock_copy_pages(pin->pages, offset_in_page(pin->iova),
				       buf, length, write);
	mutex_unlock(&mock->lock);

	if (!rc && buf && !write && copy_to_user(uptr, buf, length))
		rc = -EFAULT;
out_free:
	kvfree(buf);
	return rc;
}

static int ioasid_mock_access_unpin(struct ioasid_test_cmd *cmd,
				    struct ioasid_mock_access *mock)
{
	struct ioasid_mock_pin *pin;
	int rc = -ENOENT;

	mutex_lock(&mock->lock);
	list_for_each_entry(pin, &mock->pins, node) {
		if (pin->iova == cmd->access.iova &&
		    pin->length == cmd->access.length) {
			ioasid_mock_unpin(mock, pin);
			rc = 0;
			break;
		}
	}
	mutex_unlock(&mock->lock);
	return rc;
}

struct ioasid_mock_rw_work {
	struct work_struct work;
	struct ioasid_access *access;
	struct ioasid_test_cmd *cmd;
	void *buf;
	int rc;
};

static void ioasid_mock_rw_fn(struct work_struct *work)
{
	struct ioasid_mock_rw_work *rw =
		container_of(work, struct ioasid_mock_rw_work, work);

	rw->rc = ioasid_access_rw(rw->access, rw->cmd->access.iova, rw->buf,
				  rw->cmd->access.length,
				  rw->cmd->access.flags &
				  IOASID_TEST_ACCESS_WRITE ?
				  IOASID_ACCESS_WRITE : 0);
}

static int ioasid_mock_access_rw(struct ioasid_test_cmd *cmd,
				 struct ioasid_mock_access *mock)
{
	const u32 known = IOASID_TEST_ACCESS_WRITE | IOASID_TEST_ACCESS_KTHREAD;
	bool write = cmd->access.flags & IOASID_TEST_ACCESS_WRITE;
	void __user *uptr = u64_to_user_ptr(cmd->access.uptr);
	struct ioasid_mock_rw_work rw = {
		.access = mock->access,
		.cmd = cmd,
	};

	if (cmd->access.flags & ~known)
		return -EOPNOTSUPP;
	if (cmd->access.length > IOASID_TEST_DMA_MAX)
		return -EINVAL;
	rw.buf = kvzalloc(cmd->access.length ?: 1, GFP_KERNEL_ACCOUNT);
	if (!rw.buf)
		return -ENOMEM;
	rw.rc = -EFAULT;
	if (write && copy_from_user(rw.buf, uptr, cmd->access.length))
		goto out_free;

	if (cmd->access.flags & IOASID_TEST_ACCESS_KTHREAD) {
		INIT_WORK_ONSTACK(&rw.work, ioasid_mock_rw_fn);
		queue_work(system_unbound_wq, &rw.work);
		flush_work(&rw.work);
		destroy_work_on_stack(&rw.work);
	} else {
		ioasid_mock_rw_fn(&rw.work);
	}
	if (!rw.rc && !write && copy_to_user(uptr, rw.buf, cmd->access.length))
		rw.rc = -EFAULT;
out_free:
	kvfree(rw.buf);
	return rw.rc;
}

static int ioasid_mock_access_info(struct ioasid_ucmd *ucmd,
				   struct ioasid_mock_access *mock)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_mock_pin *pin;

	mutex_lock(&mock->lock);
	cmd->access.out_unmaps = mock->unmaps;
	cmd->access.out_unmap_iova = mock->unmap_iova;
	cmd->access.out_unmap_length = mock->unmap_length;
	cmd->access.out_pins = 0;
	cmd->access.out_pinned = 0;
	list_for_each_entry(pin, &mock->pins, node) {
		cmd->access.out_pins++;
		cmd->access.out_pinned += pin->length;
	}
	mutex_unlock(&mock->lock);
	return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
}

/* Pin every mapping there is, and from now on every new one */
static int ioasid_mock_access_mirror(struct ioasid_mock_access *mock)
{
	u64 iova = 0, start, length;
	int rc;

	mutex_lock(&mock->lock);
	mock->mirror = true;
	while (!(rc = ioasid_access_next_mapping(mock->access, iova, &start,
						 &length))) {
		ioasid_mock_mirror(mock, start, start + length - 1);
		iova = start + length;
		if (!iova)
			break;
	}
	mutex_unlock(&mock->lock);
	return rc == -ENOENT ? 0 : rc;
}

/**
 * ioasid_test_access_cmd() - carry out an IOASID_TEST_ACCESS_* op
 * @ucmd: The call, a &struct ioasid_test_cmd
 *
 * Return: 0 or a negative errno
 */
int ioasid_test_access_cmd(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_mock_access *mock;
	struct file *file;
	int rc;

	if (cmd->op == IOASID_TEST_ACCESS_CREATE)
		return ioasid_mock_access_create(ucmd);

	file = fget(cmd->id);
	if (!file)
		return -EBADF;
	rc = -EINVAL;
	if (file->f_op != &ioasid_mock_access_fops)
		goto out_fput;
	mock = file->private_data;
	if (mock->ctx != ucmd->ctx)
		goto out_fput;

	switch (cmd->op) {
	case IOASID_TEST_ACCESS_ATTACH:
		/* Not under mock->lock, which the unmap callback takes */
		rc = ioasid_access_attach(mock->access, cmd->access.ioasid);
		/* A mirroring driver mirrors its new IOASID */
		if (!rc && READ_ONCE(mock->mirror))
			rc = ioasid_mock_access_mirror(mock);
		break;
	case IOASID_TEST_ACCESS_DETACH:
		ioasid_access_detach(mock->access);
		rc = 0;
		break;
	case IOASID_TEST_ACCESS_PIN:
		rc = ioasid_mock_access_pin(ucmd, mock);
		break;
	case IOASID_TEST_ACCESS_UNPIN:
		rc = ioasid_mock_access_unpin(cmd, mock);
		break;
	case IOASID_TEST_ACCESS_RW:
		rc = ioasid_mock_access_rw(cmd, mock);
		break;
	case IOASID_TEST_ACCESS_MODE:
		rc = -EINVAL;
		if (cmd->access.mode > IOASID_TEST_ACCESS_HOLD)
			break;
		mutex_lock(&mock->lock);
		mock->mode = cmd->access.mode;
		mutex_unlock(&mock->lock);
		rc = 0;
		break;
	case IOASID_TEST_ACCESS_INFO:
		rc = ioasid_mock_access_info(ucmd, mock);
		break;
	case IOASID_TEST_ACCESS_MIRROR:
		rc = ioasid_mock_access_mirror(mock);
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
out_fput:
	fput(file);
	return rc;
}
