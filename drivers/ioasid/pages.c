// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pinned memory behind normal IOASIDs.
 *
 * A &struct ioasid_pages is one run of memory pinned once: a range of a
 * process's address space or of a shmem/hugetlbfs file. Mappings (areas)
 * use page ranges of it; several areas may share one pages object, in one
 * IOASID or in several (COPY, or the same memory mapped twice), and the
 * memory is pinned and charged once however many areas use it. A page is
 * unpinned and its charge returned as soon as no area uses it any more, so
 * cutting a hole in a mapping releases exactly the pages of the hole.
 *
 * Every pinned page holds one pin of its own (FOLL_LONGTERM, so movable and
 * CMA memory is migrated away first): a folio is pinned once per page used,
 * and any page can be unpinned on its own.
 *
 * The pages objects of a context sit in the context's registry, keyed by
 * where the memory comes from, so that a MAP of memory the context already
 * holds pinned shares it instead of pinning and charging it again.
 */
#include <linux/capability.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <uapi/linux/ioasid.h>

#include "ioasid_private.h"

/* Charge @npages to the counter of @mode; never fails with CAP_IPC_LOCK */
static int ioasid_charge(struct ioasid_pages *pages, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	bool unlimited = capable(CAP_IPC_LOCK);
	unsigned long cur, new;
	s64 cur64;

	switch (pages->account) {
	case IOASID_ACCOUNT_MM_LOCKED:
		return account_locked_vm(pages->mm, npages, true);
	case IOASID_ACCOUNT_USER:
		cur = atomic_long_read(&pages->user->locked_vm);
		do {
			if (check_add_overflow(cur, npages, &new) ||
			    (!unlimited && new > limit))
				return -ENOMEM;
		} while (!atomic_long_try_cmpxchg(&pages->user->locked_vm,
						  &cur, new));
		return 0;
	case IOASID_ACCOUNT_MM_PINNED:
		cur64 = atomic64_read(&pages->mm->pinned_vm);
		do {
			if (!unlimited && cur64 + npages > limit)
				return -ENOMEM;
		} while (!atomic64_try_cmpxchg(&pages->mm->pinned_vm, &cur64,
					       cur64 + npages));
		return 0;
	}
	return -EINVAL;
}

static void ioasid_uncharge(struct ioasid_pages *pages, unsigned long npages)
{
	switch (pages->account) {
	case IOASID_ACCOUNT_MM_LOCKED:
		account_locked_vm(pages->mm, npages, false);
		break;
	case IOASID_ACCOUNT_USER:
		atomic_long_sub(npages, &pages->user->locked_vm);
		break;
	case IOASID_ACCOUNT_MM_PINNED:
		atomic64_sub(npages, &pages->mm->pinned_vm);
		break;
	}
}

static void ioasid_unpin(struct ioasid_pages *pages, unsigned long first,
			 unsigned long n)
{
	unsigned long batch;

	/* A batch at a time: a run can be all of a VM's memory */
	for (; n; n -= batch, first += batch) {
		batch = min(n, 4096UL);
		/* Devices may have written any page they could */
		unpin_user_pages_dirty_lock(pages->pages + first, batch,
					    pages->writable);
		memset(pages->pages + first, 0, batch * sizeof(*pages->pages));
		cond_resched();
	}
}

/* Pin user memory of the current process into @pages->pages */
static int ioasid_pin_user(struct ioasid_pages *pages, unsigned long uaddr)
{
	unsigned int gup_flags = FOLL_LONGTERM |
				 (pages->writable ? FOLL_WRITE : 0);
	unsigned long done = 0;
	long n;

	while (done < pages->npages) {
		n = pin_user_pages_fast(uaddr + done * PAGE_SIZE,
					min_t(unsigned long,
					      pages->npages - done, SZ_1M),
					gup_flags, pages->pages + done);
		if (n <= 0) {
			if (done)
				unpin_user_pages(pages->pages, done);
			return n ? n : -EFAULT;
		}
		done += n;
		cond_resched();
	}
	return 0;
}

/*
 * Pin pages of a shmem or hugetlbfs file, a batch of folios at a time.
 * memfd_pin_folios() pins each folio once; one more pin is added for every
 * further page used, so that pages can be unpinned one by one later.
 */
static int ioasid_pin_file(struct ioasid_pages *pages, struct file *file,
			   u64 offset)
{
	const unsigned int batch = 64;
	unsigned long done = 0;
	struct folio **folios;
	pgoff_t first_off;
	long nfolios, i;
	int rc = 0;

	folios = kmalloc_array(batch, sizeof(*folios), GFP_KERNEL);
	if (!folios)
		return -ENOMEM;

	while (done < pages->npages) {
		loff_t start = offset + done * PAGE_SIZE;
		loff_t end = offset + pages->npages * PAGE_SIZE - 1;

		nfolios = memfd_pin_folios(file, start, end, folios, batch,
					   &first_off);
		if (nfolios <= 0) {
			rc = nfolios ? nfolios : -EFAULT;
			break;
		}
		for (i = 0; i < nfolios; i++) {
			struct folio *folio = folios[i];
			unsigned long off = i ? 0 : first_off >> PAGE_SHIFT;
			unsigned long n = min(folio_nr_pages(folio) - off,
					      pages->npages - done);
			unsigned long j;

			for (j = 0; j < n; j++) {
				if (j)
					folio_add_pin(folio);
				pages->pages[done + j] =
					folio_page(folio, off + j);
			}
			done += n;
		}
		cond_resched();
	}
	if (rc && done)
		unpin_user_pages(pages->pages, done);
	kfree(folios);
	return rc;
}

static unsigned int ioasid_hugetlbfs_seals(struct file *file)
{
#ifdef CONFIG_HUGETLBFS
	return READ_ONCE(HUGETLBFS_I(file_inode(file))->seals);
#else
	return 0;
#endif
}

/*
 * Can devices access @file's pages as asked? Only shmem and hugetlbfs
 * files can be pinned; the file must be open for reading, and for writing
 * if devices may write, and not sealed against writes then.
 */
static int ioasid_file_check(struct file *file, bool writable)
{
	unsigned int seals;

	if (shmem_file(file))
		seals = READ_ONCE(SHMEM_I(file_inode(file))->seals);
	else if (is_file_hugepages(file))
		seals = ioasid_hugetlbfs_seals(file);
	else
		return -EBADF;
	/* As mmap(2) of the file would */
	if (!(file->f_mode & FMODE_READ) ||
	    (writable && !(file->f_mode & FMODE_WRITE)))
		return -EACCES;
	if (writable && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -EPERM;
	return 0;
}

static struct ioasid_pages *ioasid_pages_alloc(struct ioasid_ctx *ctx,
					       unsigned long npages,
					       bool writable)
{
	struct ioasid_pages *pages;

	pages = kzalloc(sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return NULL;
	/* Sized by the user: failing is an answer, not a kernel warning */
	pages->pages = kvcalloc(npages, sizeof(*pages->pages),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!pages->pages) {
		kfree(pages);
		return NULL;
	}
	kref_init(&pages->kref);
	mutex_init(&pages->mutex);
	pages->users = RB_ROOT_CACHED;
	pages->ctx = ctx;
	pages->npages = npages;
	pages->writable = writable;
	pages->npinned = npages;
	return pages;
}

static void ioasid_pages_free(struct ioasid_pages *pages)
{
	if (pages->file) {
		if (pages->writable)
			mapping_unmap_writable(pages->file->f_mapping);
		fput(pages->file);
	}
	if (pages->user)
		free_uid(pages->user);
	if (pages->mm)
		mmdrop(pages->mm);
	mutex_destroy(&pages->mutex);
	kvfree(pages->pages);
	kfree(pages);
}

/*
 * Can @pages, a run of the registry, hold all of @new's range for sharing?
 * Pinned and charged already, it serves whatever mode it was charged in.
 */
static bool ioasid_pages_covers(struct ioasid_pages *pages,
				struct ioasid_pages *new)
{
	return pages->origin == new->origin &&
	       pages->node.start <= new->node.start &&
	       pages->node.last >= new->node.last &&
	       (pages->writable || !new->writable);
}

/*
 * Find a pages object of the registry that pins exactly the memory @new
 * pinned over @new's whole range, take a reference on it and record @use of
 * the range in it. The use is recorded under the same lock as the
 * comparison, so the pages cannot be unpinned in between.
 */
static struct ioasid_pages *ioasid_pages_share(struct ioasid_pages *new,
					       struct interval_tree_node *use)
{
	struct ioasid_ctx *ctx = new->ctx;
	unsigned long last = new->node.last;
	struct interval_tree_node *node;

	lockdep_assert_held(&ctx->pins_lock);

	for (node = interval_tree_iter_first(&ctx->pins, new->node.start, last);
	     node; node = interval_tree_iter_next(node, new->node.start, last)) {
		struct ioasid_pages *pages =
			container_of(node, struct ioasid_pages, node);
		unsigned long i, off;

		if (!ioasid_pages_covers(pages, new))
			continue;
		off = (new->node.start - node->start) >> PAGE_SHIFT;
		mutex_lock(&pages->mutex);
		/* Unpinned entries are NULL and never match */
		for (i = 0; i < new->npages; i++)
			if (pages->pages[off + i] != new->pages[i])
				break;
		if (i == new->npages) {
			/* In the registry, so its kref cannot be zero */
			kref_get(&pages->kref);
			use->start = off;
			use->last = off + new->npages - 1;
			interval_tree_insert(use, &pages->users);
			mutex_unlock(&pages->mutex);
			return pages;
		}
		mutex_unlock(&pages->mutex);
	}
	return NULL;
}

/* Does a pinned run of the registry cover @new's range, as one to share? */
static bool ioasid_pages_covered(struct ioasid_pages *new)
{
	struct ioasid_ctx *ctx = new->ctx;
	struct interval_tree_node *node;
	bool covered = false;

	mutex_lock(&ctx->pins_lock);
	for (node = interval_tree_iter_first(&ctx->pins, new->node.start,
					     new->node.last);
	     node && !covered;
	     node = interval_tree_iter_next(node, new->node.start,
					    new->node.last)) {
		struct ioasid_pages *pages =
			container_of(node, struct ioasid_pages, node);

		covered = ioasid_pages_covers(pages, new);
	}
	mutex_unlock(&ctx->pins_lock);
	return covered;
}

/**
 * ioasid_pages_pin() - pin memory for a mapping, or share it if pinned
 * @ctx: Context the mapping is for
 * @file: File to pin pages of, or NULL for memory of the current process
 * @start: Page aligned user address, or offset in @file
 * @npages: Number of pages, at least one
 * @writable: Devices may write the memory
 * @use: Set to the range of page indexes of the memory in the result, and
 *       recorded as in use there (see ioasid_pages_replace_use())
 *
 * If one pinned run of the context holds the whole range pinned already
 * (the same user memory still backed by the same pages, or the same file
 * pages), with write access if @writable, it is shared: nothing is pinned
 * or charged twice, whatever mode it was charged in. Otherwise the memory
 * is pinned and charged to the context's accounting mode, in full, even
 * where it overlaps memory pinned before.
 *
 * Return: a pages object with one reference for the caller, or an ERR_PTR:
 * -ENOMEM past RLIMIT_MEMLOCK, -EFAULT for memory that cannot be pinned,
 * -EBADF for a file that is not shmem or hugetlbfs, -EACCES for a file not
 * open for reading, or for writing when @writable, -EPERM for one sealed
 * against writes when @writable, -EINVAL for a range past its end.
 */
struct ioasid_pages *ioasid_pages_pin(struct ioasid_ctx *ctx,
				      struct file *file, u64 start,
				      unsigned long npages, bool writable,
				      struct interval_tree_node *use)
{
	struct ioasid_pages *pages, *same;
	bool charged = false;
	int rc;

	if (file) {
		rc = ioasid_file_check(file, writable);
		if (rc)
			return ERR_PTR(rc);
	}
	if (!file && !current->mm)
		return ERR_PTR(-EINVAL);

	pages = ioasid_pages_alloc(ctx, npages, writable);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	pages->node.start = start;
	pages->node.last = start + npages * PAGE_SIZE - 1;
	pages->account = READ_ONCE(ctx->account);
	pages->mm = current->mm;
	mmgrab(pages->mm);
	pages->user = get_current_user();

	pages->origin = file ? (void *)file_inode(file) : pages->mm;

	/*
	 * Charge before pinning, so that the limit bounds what is pinned
	 * even for a moment. Only memory the context may hold pinned (and
	 * charged) already is pinned first, to compare: it may be shared.
	 */
	if (!ioasid_pages_covered(pages)) {
		rc = ioasid_charge(pages, npages);
		if (rc)
			goto err_free;
		charged = true;
	}
	if (file) {
		/*
		 * Devices that may write hold the file as a writable shared
		 * mapping does: from now on F_SEAL_WRITE fails with -EBUSY
		 * until the pages go, and once it is there this fails. The
		 * seal check above alone would race with the seal.
		 */
		if (writable && mapping_map_writable(file->f_mapping)) {
			rc = -EPERM;
			goto err_uncharge;
		}
		pages->file = get_file(file);
		rc = ioasid_pin_file(pages, file, start);
	} else {
		rc = ioasid_pin_user(pages, start);
	}
	if (rc)
		goto err_uncharge;

	mutex_lock(&ctx->pins_lock);
	same = ioasid_pages_share(pages, use);
	if (same) {
		mutex_unlock(&ctx->pins_lock);
		unpin_user_pages(pages->pages, npages);
		if (charged)
			ioasid_uncharge(pages, npages);
		ioasid_pages_free(pages);
		return same;
	}
	if (!charged) {
		rc = ioasid_charge(pages, npages);
		if (rc) {
			mutex_unlock(&ctx->pins_lock);
			unpin_user_pages(pages->pages, npages);
			goto err_free;
		}
		charged = true;
	}
	use->start = 0;
	use->last = npages - 1;
	interval_tree_insert(use, &pages->users);
	interval_tree_insert(&pages->node, &ctx->pins);
	mutex_unlock(&ctx->pins_lock);
	return pages;

err_uncharge:
	if (charged)
		ioasid_uncharge(pages, npages);
err_free:
	ioasid_pages_free(pages);
	return ERR_PTR(rc);
}

/**
 * ioasid_pages_get() - take one more reference on a pages object
 * @pages: The pages
 */
void ioasid_pages_get(struct ioasid_pages *pages)
{
	kref_get(&pages->kref);
}

/* Called by kref_put_mutex() with the registry's lock held; drops it */
static void ioasid_pages_release(struct kref *kref)
{
	struct ioasid_pages *pages =
		container_of(kref, struct ioasid_pages, kref);

	interval_tree_remove(&pages->node, &pages->ctx->pins);
	mutex_unlock(&pages->ctx->pins_lock);
	/* Users gave back their pages as they went */
	WARN_ON(pages->npinned);
	ioasid_pages_free(pages);
}

/**
 * ioasid_pages_put() - drop a reference on a pages object
 * @pages: The pages
 */
void ioasid_pages_put(struct ioasid_pages *pages)
{
	kref_put_mutex(&pages->kref, ioasid_pages_release,
		       &pages->ctx->pins_lock);
}

/**
 * ioasid_pages_use() - record another use of pages in use already
 * @pages: The pages
 * @use: Range of page indexes, [start, last], inside a range in use
 *
 * For COPY: the caller holds the lock that keeps the existing use alive.
 * Pages in use by a mapping stay pinned.
 */
void ioasid_pages_use(struct ioasid_pages *pages,
		      struct interval_tree_node *use)
{
	mutex_lock(&pages->mutex);
	interval_tree_insert(use, &pages->users);
	mutex_unlock(&pages->mutex);
}

/*
 * Unpin and uncharge the pages of [first, last] that no use covers any more.
 */
static void ioasid_pages_release_unused(struct ioasid_pages *pages,
					unsigned long first,
					unsigned long last)
{
	struct interval_tree_node *node;
	unsigned long cur = first, freed = 0;

	lockdep_assert_held(&pages->mutex);

	/* Uses come in order of their start: unpin the gaps between them */
	for (node = interval_tree_iter_first(&pages->users, first, last); node;
	     node = interval_tree_iter_next(node, first, last)) {
		if (node->start > cur) {
			ioasid_unpin(pages, cur, node->start - cur);
			freed += node->start - cur;
		}
		if (node->last >= last)
			goto out;
		cur = max(cur, node->last + 1);
	}
	ioasid_unpin(pages, cur, last - cur + 1);
	freed += last - cur + 1;
out:
	if (freed) {
		ioasid_uncharge(pages, freed);
		pages->npinned -= freed;
	}
}

/**
 * ioasid_pages_replace_use() - end a use, keeping parts of it
 * @pages: The pages
 * @old: The use to end
 * @left: A new use inside @old, or NULL
 * @right: Another new use inside @old, or NULL
 *
 * For unmapping or splitting a mapping: the pages of @old outside @left
 * and @right that no other use covers are unpinned and uncharged; those of
 * @left and @right stay pinned. The caller keeps its reference on @pages.
 */
void ioasid_pages_replace_use(struct ioasid_pages *pages,
			      struct interval_tree_node *old,
			      struct interval_tree_node *left,
			      struct interval_tree_node *right)
{
	mutex_lock(&pages->mutex);
	interval_tree_remove(old, &pages->users);
	if (left)
		interval_tree_insert(left, &pages->users);
	if (right)
		interval_tree_insert(right, &pages->users);
	ioasid_pages_release_unused(pages, old->start, old->last);
	mutex_unlock(&pages->mutex);
}
