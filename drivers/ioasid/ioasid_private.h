/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal types of /dev/ioasid.
 *
 * Lock order, outermost first:
 *   vfio's group_lock      of a vfio group set to a context as container;
 *                          vfio's dev_set lock nests in it, and under that
 *                          one only ioasid_ctx.lock and the locks after it
 *   ioasid_compat.rwsem    the context as a vfio container
 *   ioasid_ctx.lock        device binding and attachment state of a context
 *   ioasid_access.attach_lock  which IOASID an access is attached to
 *   ioasid_access.lock     that IOASID, while pins and copies use it
 *   ioasid_ioas.mutex      mappings and IOMMU domains of one normal IOASID,
 *                          and the domains and data of the nested and
 *                          delegated IOASIDs over it; COPY holds two, and
 *                          never at the same time
 *   ioasid_ctx.pins_lock   the context's registry of pinned memory
 *   ioasid_pages.mutex     which pages of one pinned run are in use
 *   iommu_group mutex      (iommu core)
 *   the IOMMU driver's own locks
 * ioasid_ctx.objects' xa_lock nests inside all of them and protects the
 * reference counts of &struct ioasid_object; so do ioasid_ctx.caps_lock and
 * ioasid_access.pins_lock, which nests in ioasid_ioas.mutex.
 */
#ifndef __IOASID_PRIVATE_H
#define __IOASID_PRIVATE_H

#include <linux/interval_tree.h>
#include <linux/iommu.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct ioasid_ucmd;

enum ioasid_obj_type {
	IOASID_OBJ_NONE,
	IOASID_OBJ_IOAS,
	IOASID_OBJ_NESTED,
	IOASID_OBJ_DEVICE,
#ifdef CONFIG_IOASID_TEST
	IOASID_OBJ_MOCK_DEVICE,
#endif
	/* For lookups only: an IOASID of any kind, normal or nested */
	IOASID_OBJ_IOASID,
};

/**
 * struct ioasid_object - what every object in a context's table starts with
 * @shortterm: 1 while the object is in the table, plus one for every ioctl
 *             using it right now. Removal needs it to be exactly 1.
 * @users: Long-term users that pin the object: attached devices, and the
 *         nested and delegated IOASIDs a parent has; removal fails with
 *         -EBUSY while it is non-zero. Under the table's xa_lock.
 * @type: What the object is
 * @id: Its id in the table
 *
 * The rule that keeps removal safe against a second thread:
 *
 * - A lookup names the kind it wants and checks it under the table's lock
 *   before taking a short-term reference (ioasid_object_get()), so no ioctl
 *   ever holds an object of another kind, even for a moment.
 * - Objects userspace destroys (IOASIDs, mock devices) are removed only when
 *   nothing holds them: ioasid_object_remove() fails with -EBUSY otherwise,
 *   in the same atomic step that would take them out of the table.
 * - Objects a driver removes (bound devices) cannot wait for ioctls and
 *   are never looked up with a reference: an ioctl that names a device finds
 *   it under the context's lock, which its destruction takes too. Their
 *   removal therefore never meets a short-term user and cannot fail.
 */
struct ioasid_object {
	refcount_t shortterm;
	unsigned int users;
	enum ioasid_obj_type type;
	u32 id;
};

/**
 * struct ioasid_caps - capabilities of the IOMMU a context is bound to
 * @pgsize_bitmap: Page sizes its paging domains support
 * @aperture_start: First IOVA its paging domains translate
 * @aperture_last: Last IOVA its paging domains translate
 * @max_pasid_bits: PASID width of the first bound device
 * @coherent: DMA snoops CPU caches
 * @formats: Bit N for every &enum ioasid_format N it can nest with; 0 when
 *           it cannot allocate domains for nesting
 */
struct ioasid_caps {
	unsigned long pgsize_bitmap;
	u64 aperture_start;
	u64 aperture_last;
	u32 max_pasid_bits;
	bool coherent;
	u64 formats;
};

/**
 * struct ioasid_compat - a context used as a vfio container (vfio_compat.c)
 * @rwsem: Taken for write by what changes the container (groups coming
 *         and going, VFIO_SET_IOMMU), for read by the ioctls using it
 * @groups: The &struct ioasid_compat_group of each vfio group set to it
 * @type: VFIO_TYPE1_IOMMU or VFIO_TYPE1v2_IOMMU once set, else 0
 * @ioasid: Normal IOASID holding the container's mappings, once @type is
 *          set. It is an object of the context's table like any other.
 */
struct ioasid_compat {
	struct rw_semaphore rwsem;
	struct list_head groups;
	u32 type;
	u32 ioasid;
};

/* Buckets of a context's hash of pinned pages at its smallest (pages.c) */
#define IOASID_PINS_HASH_MIN	16

/**
 * struct ioasid_ctx - one open file of /dev/ioasid
 * @file: The file, whose reference count is the context's
 * @objects: Object table, id -> &struct ioasid_object
 * @lock: Protects @groups, @iommu_holds and all binding and attachment
 *        state of the devices bound to the context
 * @groups: The &struct ioasid_group of every iommu_group with a bound device
 * @caps_lock: Protects @iommu_ops and @caps, which change under @lock too,
 *             so that readers need not wait for @lock; see ioasid_ctx_caps()
 * @iommu_ops: IOMMU selected by the first bound device, NULL before
 * @iommu_holds: Users keeping @iommu_ops selected with no device bound
 *               (vfio groups set to the context as a container)
 * @caps: Capabilities of that IOMMU, valid once @iommu_ops is set
 * @pins_lock: Protects @pins, @pins_hash, @pins_hash_bits, @pins_hashed,
 *             @pins_seq and @pins_first
 * @pins: The registry of the context's pinned memory, to share memory
 *        mapped more than once: every &struct ioasid_pages of more than one
 *        page, keyed by where its memory comes from
 * @pins_hash: The rest of the registry, the pages objects of one page, in
 *             2^@pins_hash_bits buckets by where the page comes from, each
 *             in the order of &ioasid_pages.seq
 * @pins_hash_bits: Order of the number of buckets of @pins_hash
 * @pins_hashed: Number of pages objects in @pins_hash
 * @pins_seq: Sequence number of the last pages object into the registry
 * @pins_first: The buckets of @pins_hash while it is at its smallest
 * @account: &enum ioasid_account_mode for memory pinned from now on
 * @compat: State of the vfio container the context also is
 */
struct ioasid_ctx {
	struct file *file;
	struct xarray objects;
	struct mutex lock; /* binding and attachment state */
	struct list_head groups;
	spinlock_t caps_lock; /* iommu_ops, caps */
	const struct iommu_ops *iommu_ops;
	unsigned int iommu_holds;
	struct ioasid_caps caps;
	struct mutex pins_lock; /* the registry of pinned memory */
	struct rb_root_cached pins;
	struct hlist_head *pins_hash;
	unsigned int pins_hash_bits;
	unsigned long pins_hashed;
	u64 pins_seq;
	struct hlist_head pins_first[IOASID_PINS_HASH_MIN];
	u32 account;
	struct ioasid_compat compat;
};

bool ioasid_ctx_caps(struct ioasid_ctx *ctx, struct ioasid_caps *caps);

/* Object table (main.c) */
int ioasid_object_reserve(struct ioasid_ctx *ctx, struct ioasid_object *obj,
			  enum ioasid_obj_type type);
void ioasid_object_publish(struct ioasid_ctx *ctx, struct ioasid_object *obj);
void ioasid_object_abort(struct ioasid_ctx *ctx, struct ioasid_object *obj);
struct ioasid_object *ioasid_object_get(struct ioasid_ctx *ctx, u32 id,
					enum ioasid_obj_type type);
void ioasid_object_put(struct ioasid_object *obj);
struct ioasid_object *ioasid_object_remove(struct ioasid_ctx *ctx, u32 id,
					   enum ioasid_obj_type type);
void ioasid_object_add_user(struct ioasid_ctx *ctx, struct ioasid_object *obj);
void ioasid_object_del_user(struct ioasid_ctx *ctx, struct ioasid_object *obj);
struct ioasid_object *ioasid_object_remove_user(struct ioasid_ctx *ctx,
						struct ioasid_object *obj);

/**
 * struct ioasid_ucmd - one ioctl call
 * @ctx: Context the call is on
 * @ubuffer: User's struct
 * @user_size: Size of the user's struct
 * @cmd: Kernel copy of the struct, zero-extended to the kernel's size
 */
struct ioasid_ucmd {
	struct ioasid_ctx *ctx;
	void __user *ubuffer;
	u32 user_size;
	void *cmd;
};

int ioasid_ucmd_respond(struct ioasid_ucmd *ucmd, size_t cmd_len);
int ioasid_ucmd_respond_nofault(struct ioasid_ucmd *ucmd, size_t cmd_len);

/**
 * struct ioasid_pages - memory pinned once, shared by the areas using it
 * @kref: One per area using the pages
 * @ctx: Context whose registry holds the pages
 * @node: Where the memory comes from, in bytes (user address or file
 *        offset), [start, last]; the key in &ioasid_ctx.pins
 * @hnode: In a bucket of &ioasid_ctx.pins_hash instead, for one page
 * @seq: Order of its entry into the registry
 * @origin: The mm or the file's inode the memory comes from
 * @mutex: Protects @users, @runs and @store, @store_base and @nstored
 * @users: Ranges of page indexes in use by areas; a page no range covers
 *         is unpinned and recorded as a hole
 * @runs: The pinned pages as physically contiguous runs, per chunk of
 *        IOASID_PAGES_CHUNK pages an array of runs or, for a chunk of one
 *        run, that run as a value entry (see pages.c); a chunk with nothing
 *        pinned has no entry, one kept in @store IOASID_CHUNK_STORED
 * @store: IOMMU domain that maps the chunks kept in it, NULL if none is
 * @store_base: IOVA at which @store maps page index 0
 * @nstored: Chunks kept in @store; read without @mutex by the holder of
 *           the lock that serialises @store's mappings
 * @npages: Pages in the range, pinned or not
 * @npinned: Pages still pinned and charged
 * @account: &enum ioasid_account_mode the pages are charged in
 * @mm: The mm that pinned them, charged in the per-mm modes
 * @user: Its user, charged in IOASID_ACCOUNT_USER
 * @file: The file mapped with IOASID_MAP_FILE, or NULL
 * @writable: Pinned for write; devices may have dirtied them
 */
struct ioasid_pages {
	struct kref kref;
	struct ioasid_ctx *ctx;
	struct interval_tree_node node;
	struct hlist_node hnode;
	u64 seq;
	void *origin;
	struct mutex mutex; /* users, runs, store */
	struct rb_root_cached users;
	struct xarray runs;
	struct iommu_domain *store;
	unsigned long store_base;
	unsigned long nstored;
	unsigned long npages;
	unsigned long npinned;
	u32 account;
	struct mm_struct *mm;
	struct user_struct *user;
	struct file *file;
	bool writable;
};

/**
 * struct ioasid_run - physically contiguous pinned pages
 * @pfn: Frame of the first page
 * @npages: Number of pages
 */
struct ioasid_run {
	unsigned long pfn;
	unsigned long npages;
};

void ioasid_pins_init(struct ioasid_ctx *ctx);
void ioasid_pins_fini(struct ioasid_ctx *ctx);
struct ioasid_pages *ioasid_pages_pin(struct ioasid_ctx *ctx,
				      struct file *file, u64 start,
				      unsigned long npages, bool writable,
				      struct interval_tree_node *use);
void ioasid_pages_get(struct ioasid_pages *pages);
void ioasid_pages_put(struct ioasid_pages *pages);
void ioasid_pages_use(struct ioasid_pages *pages,
		      struct interval_tree_node *use);
void ioasid_pages_replace_use(struct ioasid_pages *pages,
			      struct interval_tree_node *old,
			      struct interval_tree_node *left,
			      struct interval_tree_node *right);
unsigned long ioasid_pages_runs(struct ioasid_pages *pages,
				unsigned long index, unsigned long npages,
				struct ioasid_run *runs, unsigned int *nruns);
bool ioasid_pages_is_block(struct ioasid_pages *pages, unsigned long index,
			   unsigned long npages);
void ioasid_pages_store(struct ioasid_pages *pages,
			struct iommu_domain *domain, unsigned long base,
			unsigned long first, unsigned long last);
int ioasid_pages_recall(struct ioasid_pages *pages,
			struct iommu_domain *domain, unsigned long first,
			unsigned long last);
void ioasid_pages_move_store(struct ioasid_pages *pages,
			     struct iommu_domain *from,
			     struct iommu_domain *to);

/**
 * struct ioasid_iova_node - a node of a tree of IOVA ranges that never overlap
 * @rb: In the tree, by @start
 * @start: First IOVA of the range
 * @last: Last IOVA of the range
 *
 * Ranges that never overlap are in the same order by start and by last, so
 * a plain rbtree finds the first range ending at or after an IOVA in one
 * walk down, one node per level; an interval tree would also read, and
 * keep up to date, the highest end under every node.
 */
struct ioasid_iova_node {
	struct rb_node rb;
	unsigned long start;
	unsigned long last;
};

/**
 * struct ioasid_area - one mapping of a normal IOASID
 * @node: IOVA range [start, last] in &struct ioasid_ioas.areas or .stuck
 * @use: Range of page indexes of @pages mapped, [start, last]; recorded in
 *       @pages as in use
 * @pages: Pinned memory behind the range
 * @prot: IOMMU_READ and/or IOMMU_WRITE
 * @stuck: An IOMMU driver failed to unmap all of it: its memory stays
 *         pinned until the IOASID is destroyed, when no domain is left
 */
struct ioasid_area {
	struct ioasid_iova_node node;
	struct interval_tree_node use;
	struct ioasid_pages *pages;
	int prot;
	bool stuck;
};

static inline struct ioasid_area *to_area(struct rb_node *rb)
{
	return container_of(rb, struct ioasid_area, node.rb);
}

static inline bool ioasid_area_less(struct rb_node *a, const struct rb_node *b)
{
	return to_area(a)->node.start <
	       container_of_const(b, struct ioasid_area, node.rb)->node.start;
}

/* Put @area in @root, where no area overlaps it */
static inline void ioasid_area_insert(struct ioasid_area *area,
				      struct rb_root *root)
{
	rb_add(&area->node.rb, root, ioasid_area_less);
}

static inline void ioasid_area_remove(struct ioasid_area *area,
				      struct rb_root *root)
{
	rb_erase(&area->node.rb, root);
}

/*
 * The first area of @root overlapping [start, last], or NULL: the first
 * ending at or after @start, if it starts no later than @last.
 */
static inline struct ioasid_area *
ioasid_area_first_in(struct rb_root *root, unsigned long start,
		     unsigned long last)
{
	struct rb_node *rb = root->rb_node;
	struct ioasid_area *area, *found = NULL;

	while (rb) {
		area = to_area(rb);
		if (area->node.last < start) {
			rb = rb->rb_right;
			continue;
		}
		found = area;
		/* Holds @start: every area before it ends before @start */
		if (area->node.start <= start)
			break;
		rb = rb->rb_left;
	}
	return found && found->node.start <= last ? found : NULL;
}

/* The next area after @area overlapping [start, last], or NULL */
static inline struct ioasid_area *ioasid_area_next(struct ioasid_area *area,
						   unsigned long start,
						   unsigned long last)
{
	struct rb_node *rb;

	/* The next area in the tree is the next by IOVA */
	if (area->node.last >= last)
		return NULL;
	rb = rb_next(&area->node.rb);
	if (!rb || to_area(rb)->node.start > last)
		return NULL;
	return to_area(rb);
}

/**
 * struct ioasid_domain - one IOMMU domain behind an IOASID
 * @node: In &struct ioasid_ioas.domains or &struct ioasid_nested.domains
 * @domain: Paging domain, holding every area of a normal IOASID; or nested
 *          domain of a nested or delegated IOASID
 * @parent: For a nested domain, the paging domain of the parent IOASID it
 *          nests on; every user of the nested domain is one of it too
 * @users: Groups and device PASIDs attached to @domain, and for a paging
 *         domain also those attached to a nested domain over it; plus, for
 *         a while, IOASID_INVALIDATE calls that hold a nested one
 * @enforce_cc: DMA through @domain snoops CPU caches, whatever devices ask
 * @msi_cookie: @domain, a paging domain, has the MSI cookie of dma-iommu
 *              that devices behind a software MSI window need
 */
struct ioasid_domain {
	struct list_head node;
	struct iommu_domain *domain;
	struct ioasid_domain *parent;
	unsigned int users;
	bool enforce_cc;
	bool msi_cookie;
};

/**
 * struct ioasid_resv - an IOVA range of a normal IOASID that is off limits
 * @node: The range in &struct ioasid_ioas.reserved
 * @owner: The &struct ioasid_group whose devices reserved it
 * @pending: In a list of ranges being collected, before insertion
 */
struct ioasid_resv {
	struct interval_tree_node node;
	void *owner;
	struct list_head pending;
};

/**
 * struct ioasid_ioas - a normal IOASID
 * @obj: Table entry
 * @mutex: Protects @areas, @reserved, @domains and @stuck
 * @areas: Every mapping, keyed by IOVA. The source of truth: every domain
 *         holds exactly these mappings.
 * @reserved: IOVA ranges the attached devices cannot use (MSI windows and
 *            other reserved regions of their IOMMU)
 * @domains: The &struct ioasid_domain devices are attached to. Devices
 *           share a domain when their IOMMU instance can; one that cannot
 *           gets a domain of its own, filled from @areas.
 * @stuck: Areas, never in @areas, that an IOMMU driver failed to unmap
 *         from some domain when a MAP was undone; never used, kept pinned
 * @max_pgsize: Largest IOMMU page its mappings may use, 0 for no limit:
 *              UNMAP can cut them at any multiple of it
 * @nest_parent: Created with IOASID_CREATE_NEST_PARENT: its domains are
 *               allocated to be stage 2 under nested domains
 * @core_domains: An IOMMU refused a domain of the driver's domain_alloc_user
 *                op: new domains are allocated the IOMMU core's way from
 *                then on (see ioasid_ioas_get_domain()). Under @mutex.
 * @accesses: The &struct ioasid_access attached, each a user of the IOASID
 * @unpinning: IOVA ranges UNMAPs wait for accesses to unpin, which no
 *             access may pin meanwhile
 */
struct ioasid_ioas {
	struct ioasid_object obj;
	struct mutex mutex; /* areas, reserved, domains, stuck */
	struct rb_root areas;
	struct rb_root_cached reserved;
	struct list_head domains;
	struct rb_root stuck;
	unsigned long max_pgsize;
	bool nest_parent;
	bool core_domains;
	struct list_head accesses;
	struct rb_root_cached unpinning;
};

/* The first mapping of @ioas overlapping [start, last], or NULL */
static inline struct ioasid_area *ioasid_area_first(struct ioasid_ioas *ioas,
						    unsigned long start,
						    unsigned long last)
{
	return ioasid_area_first_in(&ioas->areas, start, last);
}

/**
 * struct ioasid_nest_format - a stage-1 format the kernel knows
 * @format: &enum ioasid_format
 * @delegated: Describes a PASID table (delegated IOASIDs), not one stage-1
 *             table (nested IOASIDs)
 * @hw_info_type: iommu_ops->hw_info() type of the IOMMUs that have it
 * @data_type: &struct iommu_user_data type of its data for the driver
 * @inv_type: &struct iommu_user_data_array type of its requests
 * @data_len: Size of its data in this kernel
 * @min_len: Size of its data in the first kernel that knew the format
 * @no_pasid: The IOMMU driver cannot attach its nested domains to PASIDs
 * @table: Check the data and return where the table it names lies, as a
 *         GPA range [*@start, *@last] in the parent
 */
struct ioasid_nest_format {
	u32 format;
	bool delegated;
	u32 hw_info_type;
	unsigned int data_type;
	unsigned int inv_type;
	u32 data_len;
	u32 min_len;
	bool no_pasid;
	int (*table)(const void *data, u64 *start, u64 *last);
};

/**
 * struct ioasid_nested - a nested or delegated IOASID
 * @obj: Table entry
 * @ctx: Context, whose table holds @parent as a user of it
 * @parent: Normal IOASID translating GPAs (stage 2)
 * @fmt: Format of the guest's tables
 * @data: Kernel copy of the format's data, NULL until page tables are set
 * @domains: Nested domains, each over a domain of @parent; empty when no
 *           device is attached and no IOASID_INVALIDATE holds one
 *
 * @data and @domains are protected by @parent's mutex.
 */
struct ioasid_nested {
	struct ioasid_object obj;
	struct ioasid_ctx *ctx;
	struct ioasid_ioas *parent;
	const struct ioasid_nest_format *fmt;
	void *data;
	struct list_head domains;
};

/* Is @target a delegated IOASID, whose guest routes the PASIDs? */
static inline bool ioasid_target_delegated(struct ioasid_object *target)
{
	return target && target->type == IOASID_OBJ_NESTED &&
	       container_of(target, struct ioasid_nested, obj)->fmt->delegated;
}

struct ioasid_group;

void ioasid_domain_aperture(struct iommu_domain *domain, u64 *start,
			    u64 *last);
unsigned long ioasid_min_pgsize(struct ioasid_caps *caps);
struct iommu_domain *ioasid_paging_domain_alloc(struct device *dev, u32 flags);
struct ioasid_ioas *ioasid_ioas_get(struct ioasid_ctx *ctx, u32 id);
int ioasid_ioas_new(struct ioasid_ctx *ctx, unsigned long max_pgsize, u32 *id);
int ioasid_ioas_map_user(struct ioasid_ctx *ctx, struct ioasid_ioas *ioas,
			 u64 user_va, u64 iova, u64 length, u32 flags);
int ioasid_ioas_unmap_range(struct ioasid_ctx *ctx, struct ioasid_ioas *ioas,
			    u64 start, u64 last, bool whole, u64 *unmapped);
struct ioasid_iova_range;
int ioasid_ioas_ranges(struct ioasid_ioas *ioas, struct ioasid_caps *caps,
		       struct ioasid_iova_range **ranges, u64 *align);
bool ioasid_ioas_enforces_cc(struct ioasid_ioas *ioas);
int ioasid_ioas_reserve_group(struct ioasid_ioas *ioas,
			      struct iommu_group *group, void *owner);
void ioasid_ioas_unreserve(struct ioasid_ioas *ioas, void *owner);
int ioasid_ioas_create(struct ioasid_ucmd *ucmd);
int ioasid_ioas_map(struct ioasid_ucmd *ucmd);
int ioasid_ioas_unmap(struct ioasid_ucmd *ucmd);
int ioasid_ioas_copy(struct ioasid_ucmd *ucmd);
int ioasid_ioas_iova_ranges(struct ioasid_ucmd *ucmd);
void ioasid_ioas_destroy(struct ioasid_ioas *ioas);
bool ioasid_ioas_covers(struct ioasid_ioas *ioas, u64 start, u64 last);
struct ioasid_domain *
ioasid_ioas_get_domain(struct ioasid_ioas *ioas, struct device *dev,
		       int (*attach)(struct ioasid_domain *idomain, void *arg),
		       void *arg);
void ioasid_ioas_put_domain(struct ioasid_ioas *ioas,
			    struct ioasid_domain *idomain);

/* Accesses (access.c); how long UNMAP and detach wait for pins to go */
#define IOASID_ACCESS_UNPIN_TIMEOUT	HZ

/**
 * struct ioasid_unpin_wait - an UNMAP waiting for accesses to unpin
 * @node: The IOVA range, in &struct ioasid_ioas.unpinning while @blocking
 * @deadline: Jiffies by which the drivers must have let go
 * @blocking: New pins of the range are refused
 */
struct ioasid_unpin_wait {
	struct interval_tree_node node;
	unsigned long deadline;
	bool blocking;
};

int ioasid_ioas_unpin_accesses(struct ioasid_ioas *ioas,
			       struct ioasid_unpin_wait *wait);
void ioasid_ioas_unpin_done(struct ioasid_ioas *ioas,
			    struct ioasid_unpin_wait *wait);
void ioasid_ioas_notify_map(struct ioasid_ioas *ioas, u64 iova, u64 length);

struct ioasid_ioas *ioasid_target_ioas(struct ioasid_object *target);
struct ioasid_domain *ioasid_attach_group(struct ioasid_object *target,
					  struct ioasid_group *igroup,
					  struct device *dev);
void ioasid_detach_group(struct ioasid_object *target,
			 struct ioasid_group *igroup,
			 struct ioasid_domain *idomain,
			 struct ioasid_object *next);
struct ioasid_domain *ioasid_attach_pasid(struct ioasid_object *target,
					  struct device *dev, u32 pasid);
void ioasid_detach_pasid(struct ioasid_object *target, struct device *dev,
			 u32 pasid, struct ioasid_domain *idomain);

/* Nested and delegated IOASIDs (nested.c) */
int ioasid_nest_one_page(u64 gpa, u64 *start, u64 *last);
int ioasid_nesting_formats(struct device *dev, u64 *formats);
int ioasid_nested_create(struct ioasid_ucmd *ucmd);
int ioasid_delegated_create(struct ioasid_ucmd *ucmd);
int ioasid_nested_set_tables(struct ioasid_ucmd *ucmd);
int ioasid_nested_invalidate(struct ioasid_ucmd *ucmd);
void ioasid_nested_destroy(struct ioasid_nested *nested);
struct ioasid_domain *
ioasid_nested_get_domain(struct ioasid_nested *nested, struct device *dev,
			 int (*attach)(struct ioasid_domain *idomain, void *arg),
			 void *arg);
void ioasid_nested_put_domain(struct ioasid_nested *nested,
			      struct ioasid_domain *idomain);

/**
 * struct ioasid_group - an iommu_group with devices bound to a context
 * @node: In &struct ioasid_ctx.groups
 * @group: The iommu_group
 * @devices: The &struct ioasid_device of the group bound to the context
 * @bound: Number of them
 * @attached: Devices of the group attached by RID to @target
 * @target: IOASID (normal, nested or delegated) the group's RID
 *          translation is attached to, or NULL when DMA is blocked
 * @domain: Domain of @target the group is attached to
 *
 * The IOMMU translates a whole group at once, so every device of a group
 * that is attached by RID is attached to the same IOASID.
 */
struct ioasid_group {
	struct list_head node;
	struct iommu_group *group;
	struct list_head devices;
	unsigned int bound;
	unsigned int attached;
	struct ioasid_object *target;
	struct ioasid_domain *domain;
};

/**
 * struct ioasid_device - a device bound to a context
 * @obj: Table entry
 * @ctx: The context
 * @dev: The device
 * @igroup: Its group's state in @ctx
 * @group_node: In &struct ioasid_group.devices
 * @pasids: PASID -> &struct ioasid_pasid_attach, under @ctx's lock
 * @target: IOASID its RID is attached to, or NULL
 */
struct ioasid_device {
	struct ioasid_object obj;
	struct ioasid_ctx *ctx;
	struct device *dev;
	struct ioasid_group *igroup;
	struct list_head group_node;
	struct xarray pasids;
	struct ioasid_object *target;
};

/**
 * struct ioasid_pasid_attach - a PASID of a device attached to an IOASID
 * @target: The IOASID
 * @domain: The domain of @target the PASID is attached to
 */
struct ioasid_pasid_attach {
	struct ioasid_object *target;
	struct ioasid_domain *domain;
};

void ioasid_device_destroy(struct ioasid_device *idev);
int ioasid_device_hw_info(struct ioasid_ucmd *ucmd);
int ioasid_ctx_hold_iommu(struct ioasid_ctx *ctx, struct iommu_group *group);
void ioasid_ctx_unhold_iommu(struct ioasid_ctx *ctx);

/* The vfio container shim (vfio_compat.c) */
long ioasid_vfio_ioctl(struct ioasid_ctx *ctx, unsigned int cmd,
		       unsigned long arg);

#ifdef CONFIG_IOASID_TEST
int ioasid_ioas_iommu_floor(struct ioasid_ioas *ioas, u64 iova, u32 npages,
			    u64 *ns);
int ioasid_ioas_op_floor(struct ioasid_ioas *ioas, u64 iova, u64 uptr,
			 u32 npages, bool scatter, u64 *ns);
bool ioasid_test_is_mock_dev(struct device *dev);
const struct ioasid_nest_format *ioasid_test_formats(unsigned int *num);
int ioasid_test_cmd(struct ioasid_ucmd *ucmd);
void ioasid_test_mock_destroy(struct ioasid_object *obj);
int ioasid_test_init(void);
void ioasid_test_exit(void);
#else
static inline bool ioasid_test_is_mock_dev(struct device *dev)
{
	return false;
}

static inline const struct ioasid_nest_format *
ioasid_test_formats(unsigned int *num)
{
	*num = 0;
	return NULL;
}

static inline int ioasid_test_init(void)
{
	return 0;
}

static inline void ioasid_test_exit(void)
{
}
#endif

#endif /* __IOASID_PRIVATE_H */
