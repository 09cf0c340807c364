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
 * What is pinned is recorded by physically contiguous run, not by page, so
 * that the bookkeeping follows the number of runs (folios, at best): 2 MiB
 * of huge page costs 8 bytes, 4 KiB pages scattered in memory 8 bytes each.
 * The range of a pages object is cut into chunks of IOASID_PAGES_CHUNK
 * pages. The entry of a chunk in &ioasid_pages.runs is an array of runs
 * covering the chunk's pages in order, each a frame number and a length,
 * or a hole where pages were unpinned; a chunk of one run, such as a huge
 * page or the one page of a MAP of 4 KiB, holds it in the entry itself, as
 * an xarray value, with nothing allocated; a chunk with nothing pinned has
 * no entry, so the bookkeeping shrinks as mappings are cut. Nothing is sized
 * by the whole range at once: a MAP is bounded by RLIMIT_MEMLOCK alone,
 * which is charged before anything is pinned or allocated for the pages.
 *
 * Scattered pages would still cost 8 bytes each, as much again as the
 * IOMMU's own page tables, which hold the same frames. So once a mapping
 * is in an IOMMU domain, a chunk of many short runs is kept there instead
 * (ioasid_pages_store()): its entry becomes IOASID_CHUNK_STORED, and its
 * frames are read back from the domain (iommu_iova_to_phys()) when they
 * are needed. A pages object keeps chunks in one domain, at one IOVA
 * offset, &ioasid_pages.store. The rule that makes it safe: as long as a
 * chunk's entry says so, under &ioasid_pages.mutex, the domain maps every
 * page of the chunk there. So whoever is about to unmap such a page from
 * that domain, or to free the domain, first takes the chunk's runs back
 * (ioasid_pages_recall(), ioasid_pages_move_store()), under that mutex.
 * Chunks with few runs, such as huge pages, are not worth a page table walk
 * per page and keep their runs.
 *
 * The pages objects of a context sit in the context's registry, keyed by
 * where the memory comes from, so that a MAP of memory the context already
 * holds pinned shares it instead of pinning and charging it again. Those
 * of more than one page are in an interval tree. Those of one page, as
 * many as a VMM with a virtual IOMMU has guest pages mapped, are in a hash
 * table by origin and address instead: only the MAP of one page can share
 * one, and it finds it in one step, and an UNMAP drops it in one, however
 * many there are, where a tree of 100000 nodes is 17 levels deep.
 */
#include <linux/bitfield.h>
#include <linux/capability.h>
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <uapi/linux/ioasid.h>

#include "ioasid_private.h"

/*
 * Charge @npages to the counter of @mode; never fails with CAP_IPC_LOCK.
 * account_locked_vm() asks for the capability itself; for the other modes
 * it is asked for only when the limit is in the way, as capable() marks
 * the task as having used a privilege, and costs a call into the LSMs.
 */
static int ioasid_charge(struct ioasid_pages *pages, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;
	s64 cur64;

	switch (pages->account) {
	case IOASID_ACCOUNT_MM_LOCKED:
		return account_locked_vm(pages->mm, npages, true);
	case IOASID_ACCOUNT_USER:
		cur = atomic_long_read(&pages->user->locked_vm);
		do {
			if (check_add_overflow(cur, npages, &new) ||
			    (new > limit && !capable(CAP_IPC_LOCK)))
				return -ENOMEM;
		} while (!atomic_long_try_cmpxchg(&pages->user->locked_vm,
						  &cur, new));
		return 0;
	case IOASID_ACCOUNT_MM_PINNED:
		cur64 = atomic64_read(&pages->mm->pinned_vm);
		do {
			if (cur64 + npages > limit && !capable(CAP_IPC_LOCK))
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

#define IOASID_PAGES_CHUNK	512UL
/*
 * A run: its length - 1 and the frame of its first page (54 bits, far more
 * than any physical address needs), or a hole. The top bit stays clear, so
 * that a run is an xarray value.
 */
#define IOASID_RUN_LEN		GENMASK_ULL(62, 54)
#define IOASID_RUN_PFN		GENMASK_ULL(53, 0)
#define IOASID_RUN_HOLE		IOASID_RUN_PFN

static_assert((IOASID_RUN_LEN >> 54) + 1 >= IOASID_PAGES_CHUNK);
static_assert((PHYS_ADDR_MAX >> PAGE_SHIFT) < IOASID_RUN_HOLE);
static_assert((IOASID_RUN_LEN | IOASID_RUN_PFN) <= LONG_MAX);

/*
 * The entry of a chunk whose frames are read back from pages->store: never
 * that of a chunk of one run, which is never a hole
 */
#define IOASID_CHUNK_STORED	xa_mk_value(IOASID_RUN_HOLE)
/* Fewest runs for a chunk to be kept in a domain: 1 byte a page */
#define IOASID_STORE_MIN_RUNS	(IOASID_PAGES_CHUNK / 8)

static u64 ioasid_run_make(unsigned long pfn, unsigned long npages)
{
	return FIELD_PREP(IOASID_RUN_LEN, npages - 1) |
	       FIELD_PREP(IOASID_RUN_PFN, pfn);
}

static unsigned long ioasid_run_len(u64 run)
{
	return FIELD_GET(IOASID_RUN_LEN, run) + 1;
}

static unsigned long ioasid_run_pfn(u64 run)
{
	return FIELD_GET(IOASID_RUN_PFN, run);
}

/*
 * The runs of a chunk from its entry @entry, not IOASID_CHUNK_STORED: the
 * array, or the one run an xarray value holds, decoded into @one
 */
static const u64 *ioasid_chunk_runs(void *entry, u64 *one)
{
	if (!xa_is_value(entry))
		return entry;
	*one = xa_to_value(entry);
	return one;
}

/* Frees the runs of a chunk, from its entry: an array, if not a value */
static void ioasid_chunk_free(void *entry)
{
	if (!xa_is_value(entry))
		kfree(entry);
}

/* Pages in chunk @chunk: a whole chunk but for the last one */
static unsigned long ioasid_chunk_span(struct ioasid_pages *pages,
				       unsigned long chunk)
{
	return min(IOASID_PAGES_CHUNK,
		   pages->npages - chunk * IOASID_PAGES_CHUNK);
}

/* The run of @runs holding chunk-relative page @off, and where it starts */
static unsigned int ioasid_chunk_find(const u64 *runs, unsigned long off,
				      unsigned long *start)
{
	unsigned long pos = 0;
	unsigned int i = 0;

	while (pos + ioasid_run_len(runs[i]) <= off)
		pos += ioasid_run_len(runs[i++]);
	*start = pos;
	return i;
}

/*
 * Walks the runs of a range of page indexes, clipped to the range and to
 * chunk boundaries, holes included. Valid while pages->mutex is held, or
 * while the pages are not yet visible to anyone else.
 */
struct ioasid_run_iter {
	struct ioasid_pages *pages;
	unsigned long index;	/* next page */
	unsigned long end;	/* one past the last page */
	const u64 *runs;	/* runs of index's chunk, or NULL to look up */
	u64 one;		/* @runs of a chunk of one run */
	unsigned int i;		/* run of @runs holding index */
	unsigned long pos;	/* chunk-relative page where run i starts */
	bool stored;		/* index's chunk is kept in pages->store */
	unsigned long next_pfn;	/* if stored: index's frame, or 0 unread */
};

static void ioasid_run_iter_init(struct ioasid_run_iter *it,
				 struct ioasid_pages *pages,
				 unsigned long index, unsigned long npages)
{
	it->pages = pages;
	it->index = index;
	it->end = index + npages;
	it->runs = NULL;
	it->stored = false;
	it->next_pfn = 0;
}

/* The frame of page @index of a stored chunk, or IOASID_RUN_HOLE */
static unsigned long ioasid_stored_pfn(struct ioasid_pages *pages,
				       unsigned long index)
{
	phys_addr_t phys;

	phys = iommu_iova_to_phys(pages->store, pages->store_base +
				  (index << PAGE_SHIFT));
	/* The domain lost the page: the rule in the comment on top broke */
	if (WARN_ON_ONCE(!phys))
		return IOASID_RUN_HOLE;
	return PHYS_PFN(phys);
}

/* The next run of a stored chunk, read back page by page */
static void ioasid_run_iter_stored(struct ioasid_run_iter *it,
				   unsigned long chunk, unsigned long *pfn,
				   unsigned long *len)
{
	unsigned long stop = min(it->end, chunk * IOASID_PAGES_CHUNK +
				 ioasid_chunk_span(it->pages, chunk));
	unsigned long next;

	*pfn = it->next_pfn ?: ioasid_stored_pfn(it->pages, it->index);
	it->next_pfn = 0;
	for (*len = 1; it->index + *len < stop; (*len)++) {
		next = ioasid_stored_pfn(it->pages, it->index + *len);
		if (*pfn == IOASID_RUN_HOLE || next != *pfn + *len) {
			/* Read once: the next call starts with it */
			it->next_pfn = next;
			break;
		}
	}
	it->index += *len;
	/* At the chunk's end nothing was read ahead */
	if (it->index == stop)
		it->stored = false;
}

/* The next run: @pfn is IOASID_RUN_HOLE where nothing is pinned */
static bool ioasid_run_iter_next(struct ioasid_run_iter *it,
				 unsigned long *pfn, unsigned long *len)
{
	unsigned long chunk = it->index / IOASID_PAGES_CHUNK;
	unsigned long off = it->index % IOASID_PAGES_CHUNK;
	unsigned long skip;
	void *entry;
	u64 run;

	if (it->index >= it->end)
		return false;
	if (!it->runs && !it->stored) {
		entry = xa_load(&it->pages->runs, chunk);
		it->stored = entry == IOASID_CHUNK_STORED;
		if (!it->stored && entry)
			it->runs = ioasid_chunk_runs(entry, &it->one);
		if (!entry) {
			*pfn = IOASID_RUN_HOLE;
			*len = min(it->end, (chunk + 1) * IOASID_PAGES_CHUNK) -
			       it->index;
			it->index += *len;
			return true;
		}
		if (it->runs)
			it->i = ioasid_chunk_find(it->runs, off, &it->pos);
	}
	if (it->stored) {
		ioasid_run_iter_stored(it, chunk, pfn, len);
		return true;
	}
	run = it->runs[it->i];
	skip = off - it->pos;
	*len = min(ioasid_run_len(run) - skip, it->end - it->index);
	*pfn = ioasid_run_pfn(run);
	if (*pfn != IOASID_RUN_HOLE)
		*pfn += skip;
	it->index += *len;
	it->pos += ioasid_run_len(run);
	it->i++;
	if (it->pos == ioasid_chunk_span(it->pages, chunk))
		it->runs = NULL;
	return true;
}

/*
 * Fill @runs with the runs from page @index on, merging physically
 * contiguous ones, until @npages pages, *@nruns runs or a hole.
 */
static unsigned long __ioasid_pages_runs(struct ioasid_pages *pages,
					 unsigned long index,
					 unsigned long npages,
					 struct ioasid_run *runs,
					 unsigned int *nruns)
{
	struct ioasid_run_iter it;
	unsigned long pfn, len, done = 0;
	unsigned int n = 0;

	ioasid_run_iter_init(&it, pages, index, npages);
	while (ioasid_run_iter_next(&it, &pfn, &len)) {
		if (pfn == IOASID_RUN_HOLE)
			break;
		if (n && runs[n - 1].pfn + runs[n - 1].npages == pfn) {
			runs[n - 1].npages += len;
		} else {
			if (n == *nruns)
				break;
			runs[n].pfn = pfn;
			runs[n++].npages = len;
		}
		done += len;
	}
	*nruns = n;
	return done;
}

/**
 * ioasid_pages_runs() - physically contiguous runs of pages in use
 * @pages: The pages
 * @index: First page index, in a range the caller's use keeps pinned
 * @npages: Pages wanted from @index on, all in that range
 * @runs: Filled with the runs, physically contiguous ones merged
 * @nruns: In: capacity of @runs, at least one. Out: runs filled
 *
 * Stops when @runs is full; call again from where it stopped. The frames
 * stay valid for as long as the caller's use of them lasts.
 *
 * Return: the number of pages the runs cover; 0 only if the range is not
 * pinned, which is a bug of the caller.
 */
unsigned long ioasid_pages_runs(struct ioasid_pages *pages,
				unsigned long index, unsigned long npages,
				struct ioasid_run *runs, unsigned int *nruns)
{
	unsigned int max = *nruns;
	unsigned long done;

	mutex_lock(&pages->mutex);
	done = __ioasid_pages_runs(pages, index, npages, runs, nruns);
	mutex_unlock(&pages->mutex);
	/* Short of a full batch: ran into pages nobody uses */
	WARN_ON_ONCE(done < npages && *nruns < max);
	return done;
}

/**
 * ioasid_pages_is_block() - are pages one naturally aligned physical block?
 * @pages: The pages
 * @index: First page index, in a range the caller's use keeps pinned
 * @npages: A power of two
 *
 * Return: true if the @npages pages from @index on are physically
 * contiguous and their first frame is a multiple of @npages, as for an
 * IOMMU page of that size.
 */
bool ioasid_pages_is_block(struct ioasid_pages *pages, unsigned long index,
			   unsigned long npages)
{
	struct ioasid_run run;
	unsigned int n = 1;
	unsigned long done;

	mutex_lock(&pages->mutex);
	done = __ioasid_pages_runs(pages, index, npages, &run, &n);
	mutex_unlock(&pages->mutex);
	return done == npages && IS_ALIGNED(run.pfn, npages);
}

struct ioasid_runs_out {
	u64 *runs;		/* NULL: only count */
	unsigned int n;
	bool hole;		/* the last run is a hole */
};

static void ioasid_runs_emit(struct ioasid_runs_out *out, unsigned long pfn,
			     unsigned long npages)
{
	bool hole = pfn == IOASID_RUN_HOLE;

	if (hole && out->n && out->hole) {
		if (out->runs)
			out->runs[out->n - 1] += FIELD_PREP(IOASID_RUN_LEN,
							    npages);
		return;
	}
	if (out->runs)
		out->runs[out->n] = ioasid_run_make(pfn, npages);
	out->n++;
	out->hole = hole;
}

/*
 * Punch a hole over chunk-relative pages [s, e] into the runs of a chunk,
 * into @out: the pinned runs inside it become a hole, neighbouring holes
 * merge.
 */
static void ioasid_chunk_punch(const u64 *runs, unsigned long span,
			       unsigned long s, unsigned long e,
			       struct ioasid_runs_out *out)
{
	unsigned long pos, len, pfn;
	unsigned int i;

	for (i = 0, pos = 0; pos < span; pos += len, i++) {
		unsigned long last, a, b;

		len = ioasid_run_len(runs[i]);
		pfn = ioasid_run_pfn(runs[i]);
		last = pos + len - 1;
		a = max(pos, s);
		b = min(last, e);
		if (a > b) {
			ioasid_runs_emit(out, pfn, len);
			continue;
		}
		if (a > pos)
			ioasid_runs_emit(out, pfn, a - pos);
		ioasid_runs_emit(out, IOASID_RUN_HOLE, b - a + 1);
		if (b < last)
			ioasid_runs_emit(out, pfn == IOASID_RUN_HOLE ? pfn :
					 pfn + b + 1 - pos, last - b);
	}
}

/*
 * Give a chunk kept in pages->store its runs back, read from the domain
 * while it still maps them. Allocates only with @gfp.
 */
static int ioasid_chunk_recall(struct ioasid_pages *pages, unsigned long chunk,
			       gfp_t gfp)
{
	unsigned long span = ioasid_chunk_span(pages, chunk);
	unsigned long first = chunk * IOASID_PAGES_CHUNK, next = 0, pfn, i;
	unsigned int n = 0;
	u64 *runs, *fit;

	lockdep_assert_held(&pages->mutex);

	/*
	 * Page by page in one loop: this is most of an UNMAP of scattered
	 * pages, and a chunk kept in a domain has no hole
	 */
	runs = kmalloc_array(span, sizeof(*runs), gfp | __GFP_ACCOUNT);
	if (!runs)
		return -ENOMEM;
	for (i = 0; i < span; i++) {
		pfn = ioasid_stored_pfn(pages, first + i);
		if (n && pfn == next)
			runs[n - 1] += FIELD_PREP(IOASID_RUN_LEN, 1);
		else
			runs[n++] = ioasid_run_make(pfn, 1);
		next = pfn == IOASID_RUN_HOLE ? pfn : pfn + 1;
	}
	/* Fewer runs than pages: keep what they need, if it can be had */
	if (n < span) {
		fit = kmemdup_array(runs, n, sizeof(*runs),
				    (gfp & ~__GFP_NOFAIL) | __GFP_ACCOUNT |
				    __GFP_NOWARN);
		if (fit) {
			kfree(runs);
			runs = fit;
		}
	}
	/* Replaces an entry: needs no memory */
	xa_store(&pages->runs, chunk, runs, GFP_KERNEL);
	WRITE_ONCE(pages->nstored, pages->nstored - 1);
	if (!pages->nstored)
		pages->store = NULL;
	return 0;
}

/*
 * Unpin chunk-relative pages [s, e] of chunk @chunk, holes and all, and
 * record them as a hole; mark them dirty if @dirty. Returns the number of
 * pages unpinned.
 */
static unsigned long ioasid_chunk_release(struct ioasid_pages *pages,
					  unsigned long chunk,
					  unsigned long s, unsigned long e,
					  bool dirty)
{
	unsigned long span = ioasid_chunk_span(pages, chunk);
	unsigned long pos, len, pfn, a, b, freed = 0;
	struct ioasid_runs_out out = {};
	struct page *batch[32];
	unsigned int i, n = 0;
	const u64 *runs;
	u64 one, *new;
	void *entry;

	entry = xa_load(&pages->runs, chunk);
	if (!entry)
		return 0;
	/*
	 * Whoever unmaps a stored chunk takes it back first; pages released
	 * while the domain still holds them are read back here.
	 */
	if (entry == IOASID_CHUNK_STORED) {
		ioasid_chunk_recall(pages, chunk, GFP_KERNEL | __GFP_NOFAIL);
		entry = xa_load(&pages->runs, chunk);
	}
	runs = ioasid_chunk_runs(entry, &one);
	for (i = 0, pos = 0; pos <= e; pos += len, i++) {
		len = ioasid_run_len(runs[i]);
		pfn = ioasid_run_pfn(runs[i]);
		if (pos + len <= s || pfn == IOASID_RUN_HOLE)
			continue;
		a = max(pos, s);
		b = min(pos + len - 1, e);
		pfn += a - pos;
		freed += b - a + 1;
		/* Pages on their own go by the batch, runs by the folio */
		if (a < b) {
			unpin_user_page_range_dirty_lock(pfn_to_page(pfn),
							 b - a + 1, dirty);
			continue;
		}
		batch[n++] = pfn_to_page(pfn);
		if (n == ARRAY_SIZE(batch)) {
			unpin_user_pages_dirty_lock(batch, n, dirty);
			n = 0;
		}
	}
	if (n)
		unpin_user_pages_dirty_lock(batch, n, dirty);

	/* All of the chunk, as for most UNMAPs: nothing left to record */
	if (!s && e == span - 1) {
		xa_erase(&pages->runs, chunk);
		ioasid_chunk_free(entry);
		return freed;
	}
	ioasid_chunk_punch(runs, span, s, e, &out);
	if (out.n == 1 && out.hole) {
		xa_erase(&pages->runs, chunk);
		ioasid_chunk_free(entry);
		return freed;
	}
	/*
	 * Two runs at least, one a hole; at most IOASID_PAGES_CHUNK, one
	 * page: what was pinned has been unpinned already and must be
	 * recorded so, whatever memory pressure there is.
	 */
	new = kmalloc_array(out.n, sizeof(*new),
			    GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	out = (struct ioasid_runs_out){ .runs = new };
	ioasid_chunk_punch(runs, span, s, e, &out);
	/* Replaces an entry: needs no memory */
	xa_store(&pages->runs, chunk, new, GFP_KERNEL);
	ioasid_chunk_free(entry);
	return freed;
}

/*
 * Unpin pages [first, first + npages) and return how many were pinned.
 * @dirty: devices may have written them (they could, if @pages->writable
 * and the pages were ever mapped)
 */
static unsigned long ioasid_pages_unpin(struct ioasid_pages *pages,
					unsigned long first,
					unsigned long npages, bool dirty)
{
	unsigned long last = first + npages - 1, freed = 0, chunk;

	for (chunk = first / IOASID_PAGES_CHUNK;
	     chunk <= last / IOASID_PAGES_CHUNK; chunk++) {
		unsigned long base = chunk * IOASID_PAGES_CHUNK;

		freed += ioasid_chunk_release(pages, chunk,
					      max(first, base) - base,
					      min(last, base +
						  IOASID_PAGES_CHUNK - 1) -
					      base, dirty);
		cond_resched();
	}
	return freed;
}

/*
 * Number of runs of chunk @chunk, whose entry is @runs; 0 if it has a hole,
 * or frame 0, which iommu_iova_to_phys() cannot tell from nothing mapped
 */
static unsigned int ioasid_chunk_nruns(struct ioasid_pages *pages,
				       unsigned long chunk, const u64 *runs)
{
	unsigned long span = ioasid_chunk_span(pages, chunk), pos;
	unsigned int i;

	for (i = 0, pos = 0; pos < span; pos += ioasid_run_len(runs[i++]))
		if (ioasid_run_pfn(runs[i]) == IOASID_RUN_HOLE ||
		    !ioasid_run_pfn(runs[i]))
			return 0;
	return i;
}

/* Give the stored chunks from @first to @last their runs back */
static int ioasid_chunks_recall(struct ioasid_pages *pages, unsigned long first,
				unsigned long last, gfp_t gfp)
{
	unsigned long chunk;
	void *entry;
	int rc;

	xa_for_each_range(&pages->runs, chunk, entry, first, last) {
		if (entry != IOASID_CHUNK_STORED)
			continue;
		rc = ioasid_chunk_recall(pages, chunk, gfp);
		if (rc)
			return rc;
		if (!pages->nstored)
			break;
		cond_resched();
	}
	return 0;
}

/**
 * ioasid_pages_store() - keep pinned pages in the IOMMU domain mapping them
 * @pages: The pages
 * @domain: A paging domain that maps page index i of [@first, @last] at
 *          IOVA @base + i * PAGE_SIZE
 * @base: IOVA of page index 0, which may wrap around
 * @first: First page index mapped
 * @last: Last page index mapped
 *
 * Drops the runs of the chunks of many short runs that lie entirely in
 * [@first, @last]: their frames are read back from @domain from then on.
 * The caller holds the lock under which @domain's mappings change, and
 * under it calls ioasid_pages_recall() before unmapping any of those pages
 * from @domain and ioasid_pages_move_store() before freeing @domain. Does
 * nothing if @pages keeps chunks in another domain or at another offset.
 */
void ioasid_pages_store(struct ioasid_pages *pages,
			struct iommu_domain *domain, unsigned long base,
			unsigned long first, unsigned long last)
{
	unsigned long chunk, start;
	void *entry;

	/* Too few pages for a chunk worth keeping */
	if (!domain->ops->iova_to_phys ||
	    last - first + 1 < IOASID_STORE_MIN_RUNS)
		return;
	mutex_lock(&pages->mutex);
	if (pages->store &&
	    (pages->store != domain || pages->store_base != base))
		goto out_unlock;
	for (chunk = DIV_ROUND_UP(first, IOASID_PAGES_CHUNK);
	     (start = chunk * IOASID_PAGES_CHUNK) < pages->npages &&
	     start + ioasid_chunk_span(pages, chunk) - 1 <= last; chunk++) {
		entry = xa_load(&pages->runs, chunk);
		/* A value: stored already, or a chunk of one run */
		if (!entry || xa_is_value(entry) ||
		    ioasid_chunk_nruns(pages, chunk, entry) <
		    IOASID_STORE_MIN_RUNS)
			continue;
		/* A domain that reads back something else cannot store */
		if (WARN_ON_ONCE(iommu_iova_to_phys(domain, base +
						    (start << PAGE_SHIFT)) !=
				 PFN_PHYS(ioasid_run_pfn(*(u64 *)entry))))
			break;
		pages->store = domain;
		pages->store_base = base;
		/* Replaces an entry: needs no memory */
		xa_store(&pages->runs, chunk, IOASID_CHUNK_STORED, GFP_KERNEL);
		kfree(entry);
		WRITE_ONCE(pages->nstored, pages->nstored + 1);
		cond_resched();
	}
out_unlock:
	mutex_unlock(&pages->mutex);
}

/**
 * ioasid_pages_recall() - take back the runs of chunks kept in a domain
 * @pages: The pages
 * @domain: Domain about to unmap pages [@first, @last]
 * @first: First page index about to be unmapped
 * @last: Last page index about to be unmapped
 *
 * Reads the frames of the chunks of [@first, @last] that
 * ioasid_pages_store() kept in @domain back from it. For the holder of the
 * lock ioasid_pages_store() was called under for @domain, before it unmaps
 * pages from @domain. Chunks kept in another domain stay there: the
 * mapping that put them there keeps them pinned whole.
 *
 * Return: 0, or -ENOMEM with some chunks perhaps taken back and nothing
 * else changed.
 */
int ioasid_pages_recall(struct ioasid_pages *pages,
			struct iommu_domain *domain, unsigned long first,
			unsigned long last)
{
	int rc = 0;

	/* Chunks kept in @domain were stored under the caller's lock */
	if (!READ_ONCE(pages->nstored))
		return 0;
	mutex_lock(&pages->mutex);
	if (pages->store == domain)
		rc = ioasid_chunks_recall(pages, first / IOASID_PAGES_CHUNK,
					  last / IOASID_PAGES_CHUNK, GFP_KERNEL);
	mutex_unlock(&pages->mutex);
	return rc;
}

/**
 * ioasid_pages_move_store() - move chunks out of a domain about to go
 * @pages: The pages
 * @from: The domain, with every mapping still in it
 * @to: Another domain with the same mappings at the same IOVAs, or NULL
 *
 * The chunks kept in @from are kept in @to from now on; without @to they
 * get their runs back, with allocations that cannot fail: what is pinned
 * must stay known. For the holder of the lock ioasid_pages_store() was
 * called under, before it frees @from.
 */
void ioasid_pages_move_store(struct ioasid_pages *pages,
			     struct iommu_domain *from,
			     struct iommu_domain *to)
{
	/* As for ioasid_pages_recall(): @from's chunks came under our lock */
	if (!READ_ONCE(pages->nstored))
		return;
	mutex_lock(&pages->mutex);
	if (pages->store == from && to && to->ops->iova_to_phys)
		pages->store = to;
	else if (pages->store == from)
		ioasid_chunks_recall(pages, 0, ULONG_MAX,
				     GFP_KERNEL | __GFP_NOFAIL);
	mutex_unlock(&pages->mutex);
}

/*
 * Record the runs of @n pinned pages starting at page index @index, all in
 * one chunk that has no entry yet.
 */
static int ioasid_chunk_store(struct ioasid_pages *pages, unsigned long index,
			      struct page **list, unsigned long n, u64 *scratch)
{
	struct ioasid_runs_out out = { .runs = scratch };
	unsigned long i = 0, pfn, len;
	void *entry;
	int rc;

	while (i < n) {
		pfn = page_to_pfn(list[i]);
		for (len = 1; i + len < n; len++)
			if (page_to_pfn(list[i + len]) != pfn + len)
				break;
		ioasid_runs_emit(&out, pfn, len);
		i += len;
	}
	/* One run, as of one page or a huge page: in the entry itself */
	if (out.n == 1)
		entry = xa_mk_value(scratch[0]);
	else
		entry = kmemdup_array(scratch, out.n, sizeof(*scratch),
				      GFP_KERNEL_ACCOUNT);
	if (!entry)
		return -ENOMEM;
	rc = xa_insert(&pages->runs, index / IOASID_PAGES_CHUNK, entry,
		       GFP_KERNEL_ACCOUNT);
	if (rc)
		ioasid_chunk_free(entry);
	return rc;
}

/* Pin @n pages of user memory at @uaddr into @list, or none */
static int ioasid_pin_user(struct ioasid_pages *pages, unsigned long uaddr,
			   unsigned long n, struct page **list)
{
	unsigned int gup_flags = FOLL_LONGTERM |
				 (pages->writable ? FOLL_WRITE : 0);
	unsigned long done = 0;
	long got;

	while (done < n) {
		got = pin_user_pages_fast(uaddr + done * PAGE_SIZE, n - done,
					  gup_flags, list + done);
		if (got <= 0) {
			unpin_user_pages(list, done);
			return got ? got : -EFAULT;
		}
		done += got;
	}
	return 0;
}

/*
 * Pin @n pages of a shmem or hugetlbfs file from byte @offset into @list,
 * or none. memfd_pin_folios() pins each folio once; one more pin is added
 * for every further page used, so that pages can be unpinned one by one.
 */
static int ioasid_pin_file(struct ioasid_pages *pages, loff_t offset,
			   unsigned long n, struct page **list,
			   struct folio **folios, unsigned int max_folios)
{
	loff_t end = offset + n * PAGE_SIZE - 1;
	unsigned long done = 0;
	pgoff_t first_off;
	long nfolios, i;

	while (done < n) {
		nfolios = memfd_pin_folios(pages->file,
					   offset + done * PAGE_SIZE, end,
					   folios, max_folios, &first_off);
		if (nfolios <= 0) {
			unpin_user_pages(list, done);
			return nfolios ? nfolios : -EFAULT;
		}
		for (i = 0; i < nfolios; i++) {
			struct folio *folio = folios[i];
			unsigned long off = i ? 0 : first_off >> PAGE_SHIFT;
			unsigned long cnt = min(folio_nr_pages(folio) - off,
						n - done);
			unsigned long j;

			for (j = 0; j < cnt; j++) {
				if (j)
					folio_add_pin(folio);
				list[done + j] = folio_page(folio, off + j);
			}
			done += cnt;
		}
	}
	return 0;
}

/* Pages pinned per call of GUP: whole chunks, 64 KiB of page pointers */
#define IOASID_PIN_BATCH	(16 * IOASID_PAGES_CHUNK)
/* Pages a MAP of memory pins with its lists on the stack: 256 bytes */
#define IOASID_FILL_FEW		16

/*
 * Pin all of @pages, a batch of chunks at a time, recording each chunk's
 * runs; on failure nothing is left pinned.
 */
static int ioasid_pages_fill(struct ioasid_pages *pages, u64 start)
{
	const unsigned int max_folios = 64;
	unsigned long max = min(pages->npages, IOASID_PIN_BATCH);
	unsigned long index, n, done, span;
	struct page *few[IOASID_FILL_FEW];
	u64 few_runs[IOASID_FILL_FEW];
	struct folio **folios = NULL;
	struct page **list = few;
	u64 *scratch = few_runs;
	int rc = -ENOMEM;

	/*
	 * Sized by the first batch, as large as any. Small MAPs of memory,
	 * which a VMM or a DPDK program may make by the thousand, need no
	 * allocation for them.
	 */
	if (max > IOASID_FILL_FEW) {
		list = kvmalloc_array(max, sizeof(*list), GFP_KERNEL);
		scratch = kmalloc_array(min(max, IOASID_PAGES_CHUNK),
					sizeof(*scratch), GFP_KERNEL);
	}
	if (pages->file)
		folios = kmalloc_array(max_folios, sizeof(*folios),
				       GFP_KERNEL);
	if (!list || !scratch || (pages->file && !folios))
		goto out_free;

	for (index = 0; index < pages->npages; index += n) {
		n = min(pages->npages - index, IOASID_PIN_BATCH);
		if (pages->file)
			rc = ioasid_pin_file(pages, start + index * PAGE_SIZE,
					     n, list, folios, max_folios);
		else
			rc = ioasid_pin_user(pages, start + index * PAGE_SIZE,
					     n, list);
		if (rc)
			goto out_unpin;
		for (done = 0; done < n; done += span) {
			span = ioasid_chunk_span(pages, (index + done) /
						 IOASID_PAGES_CHUNK);
			rc = ioasid_chunk_store(pages, index + done,
						list + done, span, scratch);
			if (rc) {
				unpin_user_pages(list + done, n - done);
				index += done;
				goto out_unpin;
			}
		}
		cond_resched();
	}
	goto out_free;

out_unpin:
	if (index)
		ioasid_pages_unpin(pages, 0, index, false);
out_free:
	kfree(folios);
	if (list != few) {
		kfree(scratch);
		kvfree(list);
	}
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
	kref_init(&pages->kref);
	mutex_init(&pages->mutex);
	pages->users = RB_ROOT_CACHED;
	xa_init(&pages->runs);
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
	/* Every chunk went as its pages were unpinned */
	WARN_ON(!xa_empty(&pages->runs));
	xa_destroy(&pages->runs);
	kfree(pages);
}

/**
 * ioasid_pins_init() - set up the hash table of a new context's registry
 * @ctx: The context
 */
void ioasid_pins_init(struct ioasid_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < IOASID_PINS_HASH_MIN; i++)
		INIT_HLIST_HEAD(&ctx->pins_first[i]);
	ctx->pins_hash = ctx->pins_first;
	ctx->pins_hash_bits = ilog2(IOASID_PINS_HASH_MIN);
}

/**
 * ioasid_pins_fini() - free the hash table of a context's empty registry
 * @ctx: The context
 */
void ioasid_pins_fini(struct ioasid_ctx *ctx)
{
	if (ctx->pins_hash != ctx->pins_first)
		kvfree(ctx->pins_hash);
}

/*
 * The key of a page in the hash table, by origin and address. A bucket is
 * the top bits of the key, so that doubling the table splits each bucket
 * in two, and halving it merges pairs.
 */
static u64 ioasid_pins_key(void *origin, unsigned long start)
{
	return ((u64)(uintptr_t)origin * GOLDEN_RATIO_64 ^
		(start >> PAGE_SHIFT)) * GOLDEN_RATIO_64;
}

static struct hlist_head *ioasid_pins_bucket(struct ioasid_ctx *ctx,
					     void *origin, unsigned long start)
{
	return &ctx->pins_hash[ioasid_pins_key(origin, start) >>
			       (64 - ctx->pins_hash_bits)];
}

static void ioasid_pins_append(struct hlist_head *bucket,
			       struct hlist_node **tail, struct hlist_node *node)
{
	if (*tail)
		hlist_add_behind(node, *tail);
	else
		hlist_add_head(node, bucket);
	*tail = node;
}

static u64 ioasid_pins_seq(struct hlist_node *node)
{
	return hlist_entry(node, struct ioasid_pages, hnode)->seq;
}

/*
 * Double the hash table (@grow) or halve it. Each bucket keeps its pages
 * objects in the order they entered the registry, which is the order in
 * which a MAP must consider them: a split keeps it, a merge of two buckets
 * is a merge by that order. Only the table's speed depends on its size, so
 * without the memory for it the table stays as it is.
 */
static void ioasid_pins_rehash(struct ioasid_ctx *ctx, bool grow)
{
	unsigned int bits = ctx->pins_hash_bits + (grow ? 1 : -1);
	struct hlist_head *old = ctx->pins_hash, *new;
	struct hlist_node *node, *a, *b, *tail[2];
	unsigned long i, n = 1UL << bits;
	struct ioasid_pages *pages;

	lockdep_assert_held(&ctx->pins_lock);

	if (bits == ilog2(IOASID_PINS_HASH_MIN)) {
		new = ctx->pins_first;
	} else {
		new = kvmalloc_array(n, sizeof(*new),
				     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!new)
			return;
	}
	for (i = 0; i < n; i++)
		INIT_HLIST_HEAD(&new[i]);
	ctx->pins_hash = new;
	ctx->pins_hash_bits = bits;
	for (i = 0; i < n; i += grow ? 2 : 1) {
		tail[0] = NULL;
		tail[1] = NULL;
		if (grow) {
			/* Old bucket i / 2 into new buckets i and i + 1 */
			hlist_for_each_entry_safe(pages, node, &old[i / 2],
						  hnode) {
				struct hlist_head *to =
					ioasid_pins_bucket(ctx, pages->origin,
							   pages->node.start);

				ioasid_pins_append(to, &tail[to - &new[i]],
						   &pages->hnode);
			}
		} else {
			/* Old buckets 2i and 2i + 1 into new bucket i */
			a = old[2 * i].first;
			b = old[2 * i + 1].first;
			while (a || b) {
				if (!b || (a && ioasid_pins_seq(a) <
						ioasid_pins_seq(b))) {
					node = a;
					a = a->next;
				} else {
					node = b;
					b = b->next;
				}
				ioasid_pins_append(&new[i], &tail[0], node);
			}
		}
		if (!(i % 1024))
			cond_resched();
	}
	if (old != ctx->pins_first)
		kvfree(old);
}

/* Put @pages, pinned and charged, in the registry */
static void ioasid_pins_add(struct ioasid_pages *pages)
{
	struct ioasid_ctx *ctx = pages->ctx;
	struct hlist_node *node, *tail = NULL;
	struct hlist_head *bucket;

	lockdep_assert_held(&ctx->pins_lock);

	pages->seq = ++ctx->pins_seq;
	if (pages->npages > 1) {
		interval_tree_insert(&pages->node, &ctx->pins);
		return;
	}
	/* At most one page per bucket on average */
	if (ctx->pins_hashed >= 1UL << ctx->pins_hash_bits &&
	    ctx->pins_hash_bits < 63)
		ioasid_pins_rehash(ctx, true);
	/* Last in its bucket, the last to enter the registry */
	bucket = ioasid_pins_bucket(ctx, pages->origin, pages->node.start);
	hlist_for_each(node, bucket)
		tail = node;
	ioasid_pins_append(bucket, &tail, &pages->hnode);
	ctx->pins_hashed++;
}

/* Take @pages out of the registry */
static void ioasid_pins_del(struct ioasid_pages *pages)
{
	struct ioasid_ctx *ctx = pages->ctx;

	lockdep_assert_held(&ctx->pins_lock);

	if (pages->npages > 1) {
		interval_tree_remove(&pages->node, &ctx->pins);
		return;
	}
	hlist_del(&pages->hnode);
	ctx->pins_hashed--;
	/* Half the buckets for what a quarter of them would hold */
	if (ctx->pins_hash_bits > ilog2(IOASID_PINS_HASH_MIN) &&
	    ctx->pins_hashed < 1UL << (ctx->pins_hash_bits - 2))
		ioasid_pins_rehash(ctx, false);
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
 * Does @pages hold pinned, from page index @index on, the very pages that
 * @new, not yet visible to anyone, holds over its whole range?
 */
static bool ioasid_pages_same(struct ioasid_pages *pages, unsigned long index,
			      struct ioasid_pages *new)
{
	unsigned long pfn = 0, len = 0, new_pfn = 0, new_len = 0, step;
	struct ioasid_run_iter it, new_it;
	unsigned int n = 0;

	lockdep_assert_held(&pages->mutex);

	ioasid_run_iter_init(&it, pages, index, new->npages);
	ioasid_run_iter_init(&new_it, new, 0, new->npages);
	for (;;) {
		/* Scattered pages are a run, and a read-back, each */
		if (!(++n % IOASID_PAGES_CHUNK))
			cond_resched();
		if (!len && !ioasid_run_iter_next(&it, &pfn, &len))
			return true;
		if (!new_len && !ioasid_run_iter_next(&new_it, &new_pfn,
						      &new_len))
			return true;
		if (pfn == IOASID_RUN_HOLE || pfn != new_pfn)
			return false;
		step = min(len, new_len);
		pfn += step;
		new_pfn += step;
		len -= step;
		new_len -= step;
	}
}

/*
 * The first one-page pages object from @node on, in a bucket of the hash
 * table, that can hold @new's page for sharing, or NULL
 */
static struct ioasid_pages *ioasid_pins_hashed(struct hlist_node *node,
					       struct ioasid_pages *new)
{
	struct ioasid_pages *pages;

	for (; node; node = node->next) {
		pages = hlist_entry(node, struct ioasid_pages, hnode);
		if (ioasid_pages_covers(pages, new))
			return pages;
	}
	return NULL;
}

/*
 * Call @try on the pages objects of the registry that can hold all of
 * @new's range for sharing, until it returns true; return that object, or
 * NULL. They come in the order the uAPI promises: by where they start, and
 * those that start at the same place in the order they were pinned. The
 * tree yields its own in that order; one of one page can hold only a range
 * of one page, which starts where it starts, so those of the hash table
 * come in among the tree's that start there.
 */
static struct ioasid_pages *
ioasid_pins_find(struct ioasid_pages *new,
		 bool (*try)(struct ioasid_pages *pages,
			     struct ioasid_pages *new, void *arg),
		 void *arg)
{
	unsigned long start = new->node.start, last = new->node.last;
	struct ioasid_pages *pages, *hashed = NULL;
	struct ioasid_ctx *ctx = new->ctx;
	struct interval_tree_node *node;
	struct hlist_head *bucket;

	lockdep_assert_held(&ctx->pins_lock);

	/* A bucket holds its pages objects in the order they were pinned */
	if (new->npages == 1) {
		bucket = ioasid_pins_bucket(ctx, new->origin, start);
		hashed = ioasid_pins_hashed(bucket->first, new);
	}
	node = interval_tree_iter_first(&ctx->pins, start, last);
	for (;;) {
		pages = node ? container_of(node, struct ioasid_pages, node) :
			       NULL;
		while (hashed && (!pages || (pages->node.start >= start &&
					     pages->seq > hashed->seq))) {
			if (try(hashed, new, arg))
				return hashed;
			hashed = ioasid_pins_hashed(hashed->hnode.next, new);
		}
		if (!pages)
			return NULL;
		if (ioasid_pages_covers(pages, new) && try(pages, new, arg))
			return pages;
		node = interval_tree_iter_next(node, start, last);
	}
}

/*
 * Does @pages, which covers @new's range, pin exactly the memory @new
 * pinned? Then take a reference on it and record @use (@arg) of the range
 * in it, under the lock of the comparison, so that the pages cannot be
 * unpinned in between.
 */
static bool ioasid_pages_try_share(struct ioasid_pages *pages,
				   struct ioasid_pages *new, void *arg)
{
	unsigned long off = (new->node.start - pages->node.start) >> PAGE_SHIFT;
	struct interval_tree_node *use = arg;
	bool same;

	mutex_lock(&pages->mutex);
	same = ioasid_pages_same(pages, off, new);
	if (same) {
		/* In the registry, so its kref cannot be zero */
		kref_get(&pages->kref);
		use->start = off;
		use->last = off + new->npages - 1;
		interval_tree_insert(use, &pages->users);
	}
	mutex_unlock(&pages->mutex);
	return same;
}

static bool ioasid_pages_any(struct ioasid_pages *pages,
			     struct ioasid_pages *new, void *arg)
{
	return true;
}

/* Does a pinned run of the registry cover @new's range, as one to share? */
static bool ioasid_pages_covered(struct ioasid_pages *new)
{
	struct ioasid_pages *pages;

	mutex_lock(&new->ctx->pins_lock);
	pages = ioasid_pins_find(new, ioasid_pages_any, NULL);
	mutex_unlock(&new->ctx->pins_lock);
	return pages;
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
	}
	rc = ioasid_pages_fill(pages, start);
	if (rc)
		goto err_uncharge;

	mutex_lock(&ctx->pins_lock);
	same = ioasid_pins_find(pages, ioasid_pages_try_share, use);
	if (same) {
		mutex_unlock(&ctx->pins_lock);
		ioasid_pages_unpin(pages, 0, npages, false);
		if (charged)
			ioasid_uncharge(pages, npages);
		ioasid_pages_free(pages);
		return same;
	}
	if (!charged) {
		rc = ioasid_charge(pages, npages);
		if (rc) {
			mutex_unlock(&ctx->pins_lock);
			ioasid_pages_unpin(pages, 0, npages, false);
			goto err_free;
		}
		charged = true;
	}
	use->start = 0;
	use->last = npages - 1;
	interval_tree_insert(use, &pages->users);
	ioasid_pins_add(pages);
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

	ioasid_pins_del(pages);
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
		if (node->start > cur)
			freed += ioasid_pages_unpin(pages, cur,
						    node->start - cur,
						    pages->writable);
		if (node->last >= last)
			goto out;
		cur = max(cur, node->last + 1);
	}
	freed += ioasid_pages_unpin(pages, cur, last - cur + 1,
				    pages->writable);
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
