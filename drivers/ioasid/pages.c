// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pinned user memory behind normal IOASIDs.
 *
 * Pages are pinned long-term (FOLL_LONGTERM, so they are migrated out of
 * movable zones and CMA first) and charged to the pinning mm's locked_vm
 * against RLIMIT_MEMLOCK, as vfio does. The charge is taken before pinning
 * and returned when the pages are unpinned, so a failed MAP leaves neither
 * pins nor charge behind.
 */
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "ioasid_private.h"

static void ioasid_pages_unpin(struct page **pages, unsigned long npages,
			       bool dirty)
{
	unpin_user_pages_dirty_lock(pages, npages, dirty);
}

/**
 * ioasid_pages_pin() - pin and charge user memory of the current process
 * @uaddr: Page aligned start
 * @npages: Number of pages, at least one
 * @writable: Devices will write the memory
 *
 * Return: the pinned pages with one reference, or an ERR_PTR: -ENOMEM past
 * RLIMIT_MEMLOCK, -EFAULT for memory that cannot be pinned.
 */
struct ioasid_pages *ioasid_pages_pin(unsigned long uaddr,
				      unsigned long npages, bool writable)
{
	unsigned int gup_flags = FOLL_LONGTERM | (writable ? FOLL_WRITE : 0);
	struct ioasid_pages *pages;
	unsigned long done = 0;
	int rc;

	if (!current->mm)
		return ERR_PTR(-EINVAL);

	pages = kzalloc(sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	kref_init(&pages->kref);
	pages->npages = npages;
	pages->writable = writable;
	pages->pages = kvcalloc(npages, sizeof(*pages->pages),
				GFP_KERNEL_ACCOUNT);
	if (!pages->pages) {
		rc = -ENOMEM;
		goto err_free;
	}

	rc = account_locked_vm(current->mm, npages, true);
	if (rc)
		goto err_free_array;
	pages->mm = current->mm;
	mmgrab(pages->mm);

	while (done < npages) {
		long n;

		n = pin_user_pages_fast(uaddr + done * PAGE_SIZE,
					min_t(unsigned long, npages - done,
					      INT_MAX),
					gup_flags, pages->pages + done);
		if (n <= 0) {
			rc = n ? n : -EFAULT;
			goto err_unpin;
		}
		done += n;
		cond_resched();
	}
	return pages;

err_unpin:
	ioasid_pages_unpin(pages->pages, done, false);
	account_locked_vm(pages->mm, npages, false);
	mmdrop(pages->mm);
err_free_array:
	kvfree(pages->pages);
err_free:
	kfree(pages);
	return ERR_PTR(rc);
}

static void ioasid_pages_release(struct kref *kref)
{
	struct ioasid_pages *pages =
		container_of(kref, struct ioasid_pages, kref);

	/* Devices may have written any of them */
	ioasid_pages_unpin(pages->pages, pages->npages, pages->writable);
	account_locked_vm(pages->mm, pages->npages, false);
	mmdrop(pages->mm);
	kvfree(pages->pages);
	kfree(pages);
}

void ioasid_pages_put(struct ioasid_pages *pages)
{
	kref_put(&pages->kref, ioasid_pages_release);
}
