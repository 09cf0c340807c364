// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accesses: in-kernel users that reach the memory of a normal IOASID with
 * the CPU instead of through an IOMMU. Emulated vfio devices and software
 * vDPA devices translate their DMA this way.
 *
 * An access is attached to one normal IOASID at a time. It pins pages by
 * IOVA and gets the very pages the IOASID's mappings pinned: a pin is one
 * more use of them, never a second pin or a second charge, and keeps them
 * pinned whatever happens to the mapping afterwards. UNMAP of a range an
 * access pins asks the driver, through its unmap callback, to let go, and
 * waits for it (a bounded time) before taking the range away; a driver that
 * keeps its pins gets a warning and UNMAP fails with -EBUSY, the mapping
 * left whole. Reads and writes copy through the pinned pages too, so they
 * work from any context that may sleep, a kthread included.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/ioasid.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "ioasid_private.h"

/**
 * struct ioasid_access - an in-kernel user of IOASIDs' memory
 * @ctx: Context whose IOASIDs it accesses; its file is referenced
 * @ops: Driver's callbacks
 * @data: Driver's argument to them
 * @users: 1 until destruction, plus one for every callback running
 * @done: Completed when @users drops to 0
 * @attach_lock: Serializes attach, detach and destruction; protects
 *               @attached
 * @attached: Normal IOASID attached, holding it as a user; NULL if none
 * @ioas_node: In &struct ioasid_ioas.accesses of @attached
 * @lock: Protects @ioas for pins and copies: held while they use it
 * @ioas: @attached, or NULL while the attachment changes
 * @pins_lock: Protects @pins
 * @pins: &struct ioasid_access_pin by IOVA
 * @unpinned: Woken when pins are dropped
 * @map_stamp: Stamp of the last map notification it was given, under the
 *             mutex of the IOASID it is listed in
 */
struct ioasid_access {
	struct ioasid_ctx *ctx;
	const struct ioasid_access_ops *ops;
	void *data;
	refcount_t users;
	struct completion done;
	struct mutex attach_lock; /* attached */
	struct ioasid_ioas *attached;
	struct list_head ioas_node;
	struct mutex lock; /* ioas */
	struct ioasid_ioas *ioas;
	spinlock_t pins_lock; /* pins */
	struct rb_root_cached pins;
	wait_queue_head_t unpinned;
	u64 map_stamp;
};

/**
 * struct ioasid_access_pin - pages of one mapping pinned by an access
 * @node: IOVA range, page aligned, in &struct ioasid_access.pins
 * @use: Page indexes of @pages in use by the pin
 * @pages: The mapping's pinned memory, referenced
 * @ioas: IOASID the IOVAs belong to; compared, never dereferenced
 * @list: In a list of pins being taken or dropped
 */
struct ioasid_access_pin {
	struct interval_tree_node node;
	struct interval_tree_node use;
	struct ioasid_pages *pages;
	struct ioasid_ioas *ioas;
	struct list_head list;
};

/* The callbacks of an access that only copies */
static const struct ioasid_access_ops ioasid_access_no_ops;

/**
 * ioasid_access_create() - create an access to the IOASIDs of a context
 * @ctx: Context, from ioasid_ctx_fdget(); the access takes its own
 *       reference
 * @ops: Callbacks, or NULL for an access that only copies; @ops->unmap is
 *       needed to pin pages
 * @data: Argument of the callbacks
 *
 * Return: the access, not attached to any IOASID, or ERR_PTR(-ENOMEM).
 */
struct ioasid_access *ioasid_access_create(struct ioasid_ctx *ctx,
					   const struct ioasid_access_ops *ops,
					   void *data)
{
	struct ioasid_access *access;

	access = kzalloc(sizeof(*access), GFP_KERNEL_ACCOUNT);
	if (!access)
		return ERR_PTR(-ENOMEM);
	access->ctx = ctx;
	access->ops = ops ?: &ioasid_access_no_ops;
	access->data = data;
	refcount_set(&access->users, 1);
	init_completion(&access->done);
	mutex_init(&access->attach_lock);
	mutex_init(&access->lock);
	INIT_LIST_HEAD(&access->ioas_node);
	spin_lock_init(&access->pins_lock);
	access->pins = RB_ROOT_CACHED;
	init_waitqueue_head(&access->unpinned);
	get_file(ctx->file);
	return access;
}
EXPORT_SYMBOL_GPL(ioasid_access_create);

static void ioasid_access_put(struct ioasid_access *access)
{
	if (refcount_dec_and_test(&access->users))
		complete(&access->done);
}

/* Does @access pin anything of [start, last] of @ioas (of any, if NULL)? */
static bool ioasid_access_pinned(struct ioasid_access *access,
				 struct ioasid_ioas *ioas, unsigned long start,
				 unsigned long last)
{
	struct interval_tree_node *node;
	bool pinned = false;

	spin_lock(&access->pins_lock);
	for (node = interval_tree_iter_first(&access->pins, start, last); node;
	     node = interval_tree_iter_next(node, start, last)) {
		struct ioasid_access_pin *pin =
			container_of(node, struct ioasid_access_pin, node);

		if (!ioas || pin->ioas == ioas) {
			pinned = true;
			break;
		}
	}
	spin_unlock(&access->pins_lock);
	return pinned;
}

/* Give back the uses of pins out of every tree */
static void ioasid_access_free_pins(struct list_head *pins)
{
	struct ioasid_access_pin *pin, *next;

	list_for_each_entry_safe(pin, next, pins, list) {
		ioasid_pages_replace_use(pin->pages, &pin->use, NULL, NULL);
		ioasid_pages_put(pin->pages);
		kfree(pin);
	}
}

/*
 * Ask the driver to drop its pins of [start, last] of @ioas, and wait until
 * it did or @deadline passed. Warns once for a driver that never does.
 */
static int ioasid_access_wait_unpin(struct ioasid_access *access,
				    struct ioasid_ioas *ioas,
				    unsigned long start, unsigned long last,
				    unsigned long deadline)
{
	u64 length = (u64)last - start + 1;
	long left;

	/* [0, ULONG_MAX] is one more byte than a u64 can count */
	access->ops->unmap(access->data, start, length ?: U64_MAX);
	left = max_t(long, (long)(deadline - jiffies), 1);
	if (wait_event_timeout(access->unpinned,
			       !ioasid_access_pinned(access, ioas, start, last),
			       left))
		return 0;
	WARN_ONCE(1, "ioasid: %ps kept pages pinned past an unmap request\n",
		  access->ops->unmap);
	return -EBUSY;
}

/**
 * ioasid_ioas_unpin_accesses() - make accesses drop pins of a range
 * @ioas: Normal IOASID, locked
 * @wait: The range, in @wait->node, and the deadline of the wait; zeroed
 *        but for those before the first call
 *
 * For UNMAP: if an access attached to @ioas pins part of the range, its
 * driver is asked to drop the pins and this waits for it, with @ioas
 * unlocked meanwhile since the driver's callback may wait for a pin of its
 * own. New pins of the range fail with -EBUSY from then on, until
 * ioasid_ioas_unpin_done(). @ioas is locked again on return.
 *
 * Return: 0 when nothing is pinned; -EAGAIN when a driver let go, and the
 * IOASID may have changed: check again; -EBUSY when it did not in time.
 */
int ioasid_ioas_unpin_accesses(struct ioasid_ioas *ioas,
			       struct ioasid_unpin_wait *wait)
{
	unsigned long start = wait->node.start, last = wait->node.last;
	struct ioasid_access *access;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	list_for_each_entry(access, &ioas->accesses, ioas_node) {
		if (!ioasid_access_pinned(access, ioas, start, last))
			continue;
		if (!wait->blocking) {
			interval_tree_insert(&wait->node, &ioas->unpinning);
			wait->blocking = true;
		}
		/* It is listed, so destruction still waits for this user */
		refcount_inc(&access->users);
		mutex_unlock(&ioas->mutex);
		rc = ioasid_access_wait_unpin(access, ioas, start, last,
					      wait->deadline);
		ioasid_access_put(access);
		mutex_lock(&ioas->mutex);
		return rc ?: -EAGAIN;
	}
	return 0;
}

/**
 * ioasid_ioas_notify_map() - tell the accesses of an IOASID of a mapping
 * @ioas: Normal IOASID, not locked
 * @iova: First IOVA of the new mapping
 * @length: Its length
 *
 * Calls the map callback of every access attached to @ioas that has one,
 * with @ioas unlocked as the driver may pin the range.
 */
void ioasid_ioas_notify_map(struct ioasid_ioas *ioas, u64 iova, u64 length)
{
	static atomic64_t stamps = ATOMIC64_INIT(0);
	struct ioasid_access *access;
	u64 stamp;

	mutex_lock(&ioas->mutex);
	if (list_empty(&ioas->accesses))
		goto out_unlock;
	/* Unique over all IOASIDs, as accesses move between them */
	stamp = atomic64_inc_return(&stamps);
again:
	list_for_each_entry(access, &ioas->accesses, ioas_node) {
		if (!access->ops->map || access->map_stamp == stamp)
			continue;
		access->map_stamp = stamp;
		/* It is listed, so destruction still waits for this user */
		refcount_inc(&access->users);
		mutex_unlock(&ioas->mutex);
		access->ops->map(access->data, iova, length);
		ioasid_access_put(access);
		mutex_lock(&ioas->mutex);
		/* The list may have changed meanwhile: start over */
		goto again;
	}
out_unlock:
	mutex_unlock(&ioas->mutex);
}

/**
 * ioasid_ioas_unpin_done() - end the waits of ioasid_ioas_unpin_accesses()
 * @ioas: Normal IOASID, locked
 * @wait: As given to it
 */
void ioasid_ioas_unpin_done(struct ioasid_ioas *ioas,
			    struct ioasid_unpin_wait *wait)
{
	lockdep_assert_held(&ioas->mutex);

	if (wait->blocking)
		interval_tree_remove(&wait->node, &ioas->unpinning);
}

/*
 * Take @access off @old, which it is attached to: no pin of @old is taken
 * from now on. The driver is asked to drop its pins of @old first, and
 * this waits for it; with @keep, pins it keeps stay valid (their pages
 * stay pinned) and no UNMAP waits for them any more, else -EBUSY leaves
 * the access attached to @old.
 */
static int ioasid_access_leave(struct ioasid_access *access,
			       struct ioasid_ioas *old, bool keep)
{
	struct interval_tree_node *node;
	int rc = 0;

	lockdep_assert_held(&access->attach_lock);

	/* Waits for pins in flight, and keeps new ones out */
	mutex_lock(&access->lock);
	access->ioas = NULL;
	mutex_unlock(&access->lock);
	if (ioasid_access_pinned(access, old, 0, ULONG_MAX))
		rc = ioasid_access_wait_unpin(access, old, 0, ULONG_MAX,
					      jiffies +
					      IOASID_ACCESS_UNPIN_TIMEOUT);
	if (rc && !keep) {
		mutex_lock(&access->lock);
		access->ioas = old;
		mutex_unlock(&access->lock);
		return rc;
	}
	if (rc) {
		spin_lock(&access->pins_lock);
		for (node = interval_tree_iter_first(&access->pins, 0,
						     ULONG_MAX);
		     node; node = interval_tree_iter_next(node, 0, ULONG_MAX))
			container_of(node, struct ioasid_access_pin,
				     node)->ioas = NULL;
		spin_unlock(&access->pins_lock);
	}

	/* Unlisted, no UNMAP of @old calls the driver back any more */
	mutex_lock(&old->mutex);
	list_del_init(&access->ioas_node);
	mutex_unlock(&old->mutex);
	ioasid_object_del_user(access->ctx, &old->obj);
	return 0;
}

/* Attach @access, attached to nothing, to @ioas */
static void ioasid_access_join(struct ioasid_access *access,
			       struct ioasid_ioas *ioas)
{
	lockdep_assert_held(&access->attach_lock);

	ioasid_object_add_user(access->ctx, &ioas->obj);
	mutex_lock(&ioas->mutex);
	list_add_tail(&access->ioas_node, &ioas->accesses);
	mutex_unlock(&ioas->mutex);
	mutex_lock(&access->lock);
	access->ioas = ioas;
	mutex_unlock(&access->lock);
}

/**
 * ioasid_access_attach() - attach an access to a normal IOASID
 * @access: The access
 * @ioasid: Id of a normal IOASID of the access's context
 *
 * Replaces the attachment in one step if the access is attached already:
 * the driver is asked (through its unmap callback, for the whole IOVA
 * space) to drop its pins of the old IOASID first. Pins and copies racing
 * with a replacement may fail with -ENODEV. The IOASID cannot be destroyed
 * while the access is attached to it. Must not be called with a lock held
 * that the unmap callback takes.
 *
 * Return: 0 on success; -ENOENT if @ioasid names no IOASID; -EINVAL for a
 * nested or delegated one; -EBUSY if the driver kept pins of the old
 * IOASID, which the access stays attached to.
 */
int ioasid_access_attach(struct ioasid_access *access, u32 ioasid)
{
	struct ioasid_ioas *ioas, *old;
	struct ioasid_object *obj;
	int rc = 0;

	obj = ioasid_object_get(access->ctx, ioasid, IOASID_OBJ_IOAS);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	ioas = container_of(obj, struct ioasid_ioas, obj);

	mutex_lock(&access->attach_lock);
	old = access->attached;
	if (old != ioas) {
		if (old)
			rc = ioasid_access_leave(access, old, false);
		if (!rc) {
			ioasid_access_join(access, ioas);
			access->attached = ioas;
		}
	}
	mutex_unlock(&access->attach_lock);
	ioasid_object_put(obj);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_access_attach);

/**
 * ioasid_access_detach() - detach an access from its IOASID
 * @access: The access
 *
 * The driver is asked to drop its pins first, as for a replacement; pins it
 * keeps (a driver bug, warned about) keep their pages pinned until it
 * drops them. Nothing happens if the access is not attached. Must not be
 * called with a lock held that the unmap callback takes.
 */
void ioasid_access_detach(struct ioasid_access *access)
{
	mutex_lock(&access->attach_lock);
	if (access->attached) {
		ioasid_access_leave(access, access->attached, true);
		access->attached = NULL;
	}
	mutex_unlock(&access->attach_lock);
}
EXPORT_SYMBOL_GPL(ioasid_access_detach);

/**
 * ioasid_access_destroy() - detach and free an access
 * @access: The access
 *
 * Waits for callbacks running on other threads to return; none runs after
 * this returns. Pins the driver still holds are dropped for it, with a
 * warning. Drops the access's reference on its context.
 */
void ioasid_access_destroy(struct ioasid_access *access)
{
	struct ioasid_access_pin *pin, *next;
	LIST_HEAD(pins);

	ioasid_access_detach(access);
	ioasid_access_put(access);
	wait_for_completion(&access->done);

	rbtree_postorder_for_each_entry_safe(pin, next,
					     &access->pins.rb_root, node.rb)
		list_add(&pin->list, &pins);
	WARN_ON(!list_empty(&pins));
	ioasid_access_free_pins(&pins);

	ioasid_ctx_put(access->ctx);
	mutex_destroy(&access->lock);
	mutex_destroy(&access->attach_lock);
	kfree(access);
}
EXPORT_SYMBOL_GPL(ioasid_access_destroy);

/*
 * Page-aligned IOVA range [*start, *last] covering @length bytes from
 * @iova: -EINVAL for an empty one, -EOVERFLOW if it wraps.
 */
static int ioasid_access_range(u64 iova, u64 length, unsigned long *start,
			       unsigned long *last)
{
	u64 end;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &end) || end > ULONG_MAX)
		return -EOVERFLOW;
	*start = ALIGN_DOWN(iova, PAGE_SIZE);
	*last = end | (PAGE_SIZE - 1);
	return 0;
}

/*
 * The IOASID of @access, locked with its mutex, with the access's lock held
 * too; or NULL when it is not attached (nothing locked).
 */
static struct ioasid_ioas *ioasid_access_lock(struct ioasid_access *access)
{
	struct ioasid_ioas *ioas;

	mutex_lock(&access->lock);
	ioas = access->ioas;
	if (!ioas) {
		mutex_unlock(&access->lock);
		return NULL;
	}
	mutex_lock(&ioas->mutex);
	return ioas;
}

static void ioasid_access_unlock(struct ioasid_access *access,
				 struct ioasid_ioas *ioas)
{
	mutex_unlock(&ioas->mutex);
	mutex_unlock(&access->lock);
}

/* Store the pages of @pin in @out, in IOVA order */
static void ioasid_access_pin_out(struct ioasid_access_pin *pin,
				  struct page **out)
{
	unsigned long index = pin->use.start;
	unsigned long left = pin->use.last - pin->use.start + 1;
	struct ioasid_run runs[16];

	while (left) {
		unsigned int nruns = ARRAY_SIZE(runs), i;
		unsigned long done, j;

		done = ioasid_pages_runs(pin->pages, index, left, runs, &nruns);
		if (WARN_ON(!done))
			return;
		for (i = 0; i < nruns; i++)
			for (j = 0; j < runs[i].npages; j++)
				*out++ = pfn_to_page(runs[i].pfn + j);
		index += done;
		left -= done;
	}
}

/**
 * ioasid_access_pin_pages() - pin the pages behind an IOVA range
 * @access: The access, attached
 * @iova: First IOVA, of any alignment
 * @length: Bytes from @iova on; the pages covering them are pinned
 * @out: Filled with the pages, one per page of the range, in IOVA order
 * @flags: IOASID_ACCESS_WRITE to pin for writing, else for reading
 *
 * The pages are those the IOASID's mappings already pinned: no second pin
 * or charge. They stay valid until ioasid_access_unpin_pages() with the
 * same @iova and @length, which the driver does at the latest when its
 * unmap callback names part of the range. Writing them dirties memory the
 * mapping pinned writable, which is marked dirty when it is unpinned.
 *
 * Return: 0 on success; -ENODEV when not attached; -ENOENT when part of the
 * range is not mapped; -EPERM when a mapping of it does not allow the
 * access; -EBUSY while an UNMAP of part of it waits for pins to go;
 * -EINVAL for a zero @length or an access without unmap callback;
 * -EOVERFLOW when the range wraps; -EOPNOTSUPP for unknown @flags;
 * -ENOMEM. Nothing is pinned on failure.
 */
int ioasid_access_pin_pages(struct ioasid_access *access, u64 iova,
			    u64 length, struct page **out, unsigned int flags)
{
	int prot = flags & IOASID_ACCESS_WRITE ? IOMMU_WRITE : IOMMU_READ;
	struct ioasid_access_pin *pin;
	unsigned long start, last, cur;
	struct ioasid_area *area;
	struct ioasid_ioas *ioas;
	LIST_HEAD(pins);
	int rc;

	if (flags & ~IOASID_ACCESS_WRITE)
		return -EOPNOTSUPP;
	if (!access->ops->unmap)
		return -EINVAL;
	rc = ioasid_access_range(iova, length, &start, &last);
	if (rc)
		return rc;

	ioas = ioasid_access_lock(access);
	if (!ioas)
		return -ENODEV;
	/* An UNMAP of the range is waiting for pins to go */
	rc = -EBUSY;
	if (interval_tree_iter_first(&ioas->unpinning, start, last))
		goto out_unlock;
	rc = -ENOENT;
	cur = start;
	for (area = ioasid_area_first(ioas, start, last); area;
	     area = ioasid_area_next(area, start, last)) {
		unsigned long s = max(area->node.start, start);
		unsigned long e = min(area->node.last, last);

		if (area->node.start > cur)
			break;
		if (!(area->prot & prot)) {
			rc = -EPERM;
			break;
		}
		pin = kzalloc(sizeof(*pin), GFP_KERNEL_ACCOUNT);
		if (!pin) {
			rc = -ENOMEM;
			break;
		}
		pin->node.start = s;
		pin->node.last = e;
		pin->ioas = ioas;
		pin->pages = area->pages;
		pin->use.start = area->use.start +
				 ((s - area->node.start) >> PAGE_SHIFT);
		pin->use.last = pin->use.start + ((e - s) >> PAGE_SHIFT);
		ioasid_pages_get(pin->pages);
		ioasid_pages_use(pin->pages, &pin->use);
		list_add_tail(&pin->list, &pins);
		ioasid_access_pin_out(pin, out + ((s - start) >> PAGE_SHIFT));
		if (e == last) {
			rc = 0;
			break;
		}
		cur = e + 1;
	}
	if (!rc) {
		spin_lock(&access->pins_lock);
		list_for_each_entry(pin, &pins, list)
			interval_tree_insert(&pin->node, &access->pins);
		spin_unlock(&access->pins_lock);
	}
out_unlock:
	ioasid_access_unlock(access, ioas);
	if (rc)
		ioasid_access_free_pins(&pins);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_access_pin_pages);

/**
 * ioasid_access_unpin_pages() - drop pages pinned by the access
 * @access: The access, attached or not
 * @iova: @iova of the ioasid_access_pin_pages() call
 * @length: Its @length
 *
 * The driver must not touch the pages any more. Unpinning what was not
 * pinned is a bug of the driver, warned about.
 */
void ioasid_access_unpin_pages(struct ioasid_access *access, u64 iova,
			       u64 length)
{
	struct ioasid_access_pin *pin;
	struct interval_tree_node *node;
	unsigned long start, last, cur;
	LIST_HEAD(pins);

	if (WARN_ON_ONCE(ioasid_access_range(iova, length, &start, &last)))
		return;

	/* A pin call left one pin per mapping of its range: find them again */
	spin_lock(&access->pins_lock);
	for (cur = start;; cur = pin->node.last + 1) {
		/* Of the pins starting there, the longest inside the range */
		pin = NULL;
		for (node = interval_tree_iter_first(&access->pins, cur, cur);
		     node; node = interval_tree_iter_next(node, cur, cur)) {
			if (node->start != cur || node->last > last ||
			    (pin && pin->node.last >= node->last))
				continue;
			pin = container_of(node, struct ioasid_access_pin, node);
		}
		if (WARN_ON_ONCE(!pin))
			break;
		interval_tree_remove(&pin->node, &access->pins);
		list_add_tail(&pin->list, &pins);
		if (pin->node.last == last)
			break;
	}
	spin_unlock(&access->pins_lock);
	ioasid_access_free_pins(&pins);
	wake_up_all(&access->unpinned);
}
EXPORT_SYMBOL_GPL(ioasid_access_unpin_pages);

/**
 * ioasid_access_rw() - copy to or from an IOVA range
 * @access: The access, attached
 * @iova: First IOVA
 * @data: Kernel buffer of @length bytes
 * @length: Bytes to copy
 * @flags: IOASID_ACCESS_WRITE to copy @data to the IOVAs, else from them
 *
 * Copies through the pages the mappings pinned, so it needs no mm: a
 * kthread or a work item may call it. Sleeps.
 *
 * Return: 0 when all of it was copied; -ENODEV when not attached; -ENOENT
 * when part of the range is not mapped; -EPERM when a mapping of it does
 * not allow the access; -EINVAL for a zero @length; -EOVERFLOW when the
 * range wraps; -EOPNOTSUPP for unknown @flags. Nothing is copied on
 * failure.
 */
int ioasid_access_rw(struct ioasid_access *access, u64 iova, void *data,
		     size_t length, unsigned int flags)
{
	bool write = flags & IOASID_ACCESS_WRITE;
	int prot = write ? IOMMU_WRITE : IOMMU_READ;
	unsigned long start, last, cur, end;
	struct ioasid_area *area;
	struct ioasid_ioas *ioas;
	struct ioasid_run run;
	int rc;

	if (flags & ~IOASID_ACCESS_WRITE)
		return -EOPNOTSUPP;
	rc = ioasid_access_range(iova, length, &start, &last);
	if (rc)
		return rc;
	end = iova + length - 1;

	ioas = ioasid_access_lock(access);
	if (!ioas)
		return -ENODEV;
	/* Check it all first, so that a failure copies nothing */
	if (!ioasid_ioas_covers(ioas, iova, end)) {
		rc = -ENOENT;
		goto out_unlock;
	}
	for (area = ioasid_area_first(ioas, iova, end); area;
	     area = ioasid_area_next(area, iova, end)) {
		if (!(area->prot & prot)) {
			rc = -EPERM;
			goto out_unlock;
		}
	}

	cur = iova;
	for (area = ioasid_area_first(ioas, iova, end); area;
	     area = ioasid_area_next(area, iova, end)) {
		unsigned long e = min(area->node.last, end);
		unsigned long index = area->use.start +
				      ((cur - area->node.start) >> PAGE_SHIFT);

		while (cur <= e) {
			unsigned long npages = (e >> PAGE_SHIFT) -
					       (cur >> PAGE_SHIFT) + 1;
			unsigned int nruns = 1;
			unsigned long i;

			npages = ioasid_pages_runs(area->pages, index, npages,
						   &run, &nruns);
			if (WARN_ON(!npages))
				break;
			for (i = 0; i < npages; i++) {
				size_t off = offset_in_page(cur);
				size_t n = min_t(unsigned long, PAGE_SIZE - off,
						 e - cur + 1);
				void *va = kmap_local_pfn(run.pfn + i);

				if (write)
					memcpy(va + off, data, n);
				else
					memcpy(data, va + off, n);
				kunmap_local(va);
				data += n;
				cur += n;
			}
			index += npages;
			/* The copy ended at the top of the IOVA space */
			if (!cur)
				goto out_unlock;
		}
		cond_resched();
	}
out_unlock:
	ioasid_access_unlock(access, ioas);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_access_rw);

/**
 * ioasid_access_next_mapping() - find a mapping of the attached IOASID
 * @access: The access, attached
 * @iova: Where to look from
 * @start: Set to the first IOVA of the first mapping that ends at or after
 *         @iova
 * @length: Set to its length
 *
 * For drivers that mirror every mapping of the IOASID: they walk them from
 * IOVA 0 on, each call from the end of the mapping found before, and learn
 * of later changes through their map and unmap callbacks.
 *
 * Return: 0; -ENOENT when no mapping ends at or after @iova; -ENODEV when
 * not attached.
 */
int ioasid_access_next_mapping(struct ioasid_access *access, u64 iova,
			       u64 *start, u64 *length)
{
	struct ioasid_area *area;
	struct ioasid_ioas *ioas;
	int rc = -ENOENT;

	if (iova > ULONG_MAX)
		return -ENOENT;
	ioas = ioasid_access_lock(access);
	if (!ioas)
		return -ENODEV;
	area = ioasid_area_first(ioas, iova, ULONG_MAX);
	if (area) {
		*start = area->node.start;
		*length = (u64)area->node.last - area->node.start + 1;
		rc = 0;
	}
	ioasid_access_unlock(access, ioas);
	return rc;
}
EXPORT_SYMBOL_GPL(ioasid_access_next_mapping);
