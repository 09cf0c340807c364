// SPDX-License-Identifier: GPL-2.0-only
/*
 * A mock IOMMU for the /dev/ioasid selftests.
 *
 * A real iommu_ops driver for devices on a bus of its own. Its paging
 * domains keep a four-level radix page table in memory, and
 * ioasid_mock_dma() acts as a device: every access is translated by walking
 * the table attached to the (device, PASID), so tests see what hardware
 * would do rather than what /dev/ioasid believes it did.
 *
 * The walk is split into a per-device routing step (mock_dev_domain()) and
 * the stages. Paging domains are one stage (mock_pgtable_lookup()). Nested
 * domains put a guest-owned stage 1 in front of a nesting-parent paging
 * domain: the guest's tables (and for delegated domains its PASID table)
 * are in guest memory, read through the parent like any DMA. Translations
 * that went through a stage 1 are cached in a small IOTLB per nested domain
 * that only invalidation empties, so a guest that forgets to invalidate
 * sees stale translations, as on hardware. The parent's unmaps empty the
 * IOTLBs of the nested domains over it: those are the host's own to keep
 * right.
 */
#define pr_fmt(fmt) "ioasid-mock: " fmt

#include <linux/device.h>
#include <linux/fwnode.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/overflow.h>
#include <linux/property.h>
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "../iommu/iommu-priv.h"
#include "ioasid_private.h"
#include "ioasid_test.h"
#include "mock_iommu.h"

/*
 * Page table format: 512 entries of 64 bits per level, 4 levels, 48-bit
 * IOVA. A valid entry either points to the next level's table or, with
 * MOCK_PTE_LEAF, maps a 4 KiB (level 0), 2 MiB (1) or 1 GiB (2) page.
 */
#define MOCK_LEVELS		4
#define MOCK_LEVEL_BITS		9
#define MOCK_PTES		BIT(MOCK_LEVEL_BITS)
#define MOCK_IOVA_BITS		(PAGE_SHIFT + MOCK_LEVELS * MOCK_LEVEL_BITS)
#define MOCK_PGSIZES		(SZ_4K | SZ_2M | SZ_1G)

#define MOCK_PTE_VALID		BIT_ULL(0)
#define MOCK_PTE_READ		BIT_ULL(1)
#define MOCK_PTE_WRITE		BIT_ULL(2)
#define MOCK_PTE_LEAF		BIT_ULL(3)
#define MOCK_PTE_ADDR		GENMASK_ULL(51, PAGE_SHIFT)

/* The guest's stage-1 format has 4 KiB pages whatever the CPU's are */
#define MOCK_S1_SHIFT		12
#define MOCK_S1_PAGE		BIT_ULL(MOCK_S1_SHIFT)
#define MOCK_S1_OFFSET(a)	((a) & (MOCK_S1_PAGE - 1))

/**
 * struct mock_iommu - one instance of the mock IOMMU
 * @iommu: Core IOMMU device
 * @fwnode: Ties the instance's devices to it
 * @nb: Bus notifier of the core
 * @ops: Driver ops: instances with the same ops are compatible
 * @pgsizes: Page sizes of its paging domains
 * @resv_start: Start of the reserved IOVA region of its devices
 * @pasid_bits: Width of the PASIDs it supports, 0 for none
 * @all_resv: Its devices have a software MSI window and a relaxable direct
 *            mapping too, like an ARM SMMU and a device with an RMRR
 * @registered: Registered with the core
 *
 * Instances 0, 1 and 3 are compatible (same driver) but cannot share
 * domains; instance 2 is another kind of IOMMU altogether. Instance 3 has
 * no page smaller than 2 MiB, and reserved regions of every type.
 */
struct mock_iommu {
	struct iommu_device iommu;
	struct fwnode_handle fwnode;
	struct notifier_block nb;
	const struct iommu_ops *ops;
	unsigned long pgsizes;
	u64 resv_start;
	unsigned int pasid_bits;
	bool all_resv;
	bool registered;
};

/**
 * struct mock_domain - a paging domain of the mock IOMMU
 * @domain: Core domain
 * @lock: Protects the table, and the IOTLBs and list of the nested domains
 *        over it; walks hold it while they touch the memory a leaf points
 *        to, so unmap followed by unpin never races a DMA
 * @root: Top level table
 * @iommu: Instance that allocated the domain, the only one that can use it
 * @nest_parent: Allocated as a nesting parent
 * @user: Allocated by domain_alloc_user(), not by domain_alloc_paging()
 * @nested: The &struct mock_nested over it
 */
struct mock_domain {
	struct iommu_domain domain;
	struct mutex lock; /* the page table, nested IOTLBs */
	u64 *root;
	struct mock_iommu *iommu;
	bool nest_parent;
	bool user;
	struct list_head nested;
};

/* Entries of the IOTLB of a nested domain */
#define MOCK_IOTLB_SIZE		16

/**
 * struct mock_iotlb_entry - one cached translation of a 4 KiB page
 * @valid: The entry holds a translation
 * @pasid: PASID it was made for
 * @iova_pfn: IOVA >> MOCK_S1_SHIFT
 * @gpa: Guest physical address of the page
 * @phys: Host physical address of the page
 * @s1_perm: MOCK_PTE_READ/WRITE allowed by stage 1
 * @s2_perm: MOCK_PTE_READ/WRITE allowed by stage 2
 */
struct mock_iotlb_entry {
	bool valid;
	u32 pasid;
	u64 iova_pfn;
	u64 gpa;
	phys_addr_t phys;
	u64 s1_perm;
	u64 s2_perm;
};

/**
 * struct mock_nested - a nested or delegated domain of the mock IOMMU
 * @domain: Core domain
 * @node: In the parent's &struct mock_domain.nested
 * @parent: Nesting parent, stage 2
 * @format: &enum ioasid_test_format of the guest's tables
 * @table_gpa: GPA of the stage-1 root table, or of the PASID table
 * @pasid_bits: Width of the PASID table, for a delegated domain
 * @iotlb: Cached translations, under the parent's lock
 * @iotlb_next: Entry the next fill replaces
 */
struct mock_nested {
	struct iommu_domain domain;
	struct list_head node;
	struct mock_domain *parent;
	u32 format;
	u64 table_gpa;
	u32 pasid_bits;
	struct mock_iotlb_entry iotlb[MOCK_IOTLB_SIZE];
	unsigned int iotlb_next;
};

/**
 * struct mock_dev - a device behind the mock IOMMU
 * @dev: The device on the mock bus
 * @iommu: IOMMU instance it sits behind
 * @lock: Protects @rid_domain and @pasids against DMA in flight
 * @rid_domain: Paging or nested domain translating the RID, NULL when DMA
 *              is blocked
 * @pasids: PASID -> paging or nested domain translating DMA tagged with it
 * @vfio: Bound to the mock vfio driver, which makes it a vfio device
 * @no_user_domains: Refuses the domains of domain_alloc_user()
 *                   (IOASID_TEST_MOCK_NO_USER_DOMAINS)
 *
 * An emulated device has no @iommu: it is a vfio device whose driver
 * reaches memory with the CPU.
 */
struct mock_dev {
	struct device dev;
	struct mock_iommu *iommu;
	struct mutex lock; /* rid_domain and pasids vs. DMA in flight */
	struct iommu_domain *rid_domain;
	struct xarray pasids;
	bool vfio;
	bool no_user_domains;
};

static const struct iommu_domain_ops mock_domain_ops;
static const struct iommu_domain_ops mock_nested_ops;

static const struct iommu_ops mock_ops;
static const struct iommu_ops mock_other_ops;
static struct mock_iommu mock_iommus[IOASID_TEST_NUM_INSTANCES] = {
	{ .ops = &mock_ops, .pgsizes = MOCK_PGSIZES,
	  .resv_start = IOASID_TEST_RESV_START_0,
	  .pasid_bits = IOASID_TEST_PASID_BITS },
	{ .ops = &mock_ops, .pgsizes = MOCK_PGSIZES,
	  .resv_start = IOASID_TEST_RESV_START_1,
	  .pasid_bits = IOASID_TEST_PASID_BITS },
	/* Another kind of IOMMU, and one without PASID support */
	{ .ops = &mock_other_ops, .pgsizes = SZ_4K,
	  .resv_start = IOASID_TEST_RESV_START_0 },
	{ .ops = &mock_ops, .pgsizes = SZ_2M | SZ_1G,
	  .resv_start = IOASID_TEST_RESV_START_1,
	  .pasid_bits = IOASID_TEST_PASID_BITS, .all_resv = true },
};

static DEFINE_IDA(mock_dev_ida);

/* Map calls left before one fails with -ENOMEM, or -1 for none */
static atomic_t mock_map_budget = ATOMIC_INIT(-1);

/**
 * ioasid_mock_fail_map() - make a later map_pages call fail
 * @after: Number of calls that still succeed, or -1 to cancel
 */
void ioasid_mock_fail_map(int after)
{
	atomic_set(&mock_map_budget, after);
}

/* Unmap calls left before one unmaps nothing, or -1 for none */
static atomic_t mock_unmap_budget = ATOMIC_INIT(-1);

/**
 * ioasid_mock_fail_unmap() - make a later unmap_pages call unmap nothing
 * @after: Number of calls that still work, or -1 to cancel
 *
 * A broken IOMMU driver, for the selftests: what /dev/ioasid does when an
 * unmap leaves memory mapped.
 */
void ioasid_mock_fail_unmap(int after)
{
	atomic_set(&mock_unmap_budget, after);
}

/* Invalidation requests left before one fails with -EIO, or -1 for none */
static atomic_t mock_inv_budget = ATOMIC_INIT(-1);

/**
 * ioasid_mock_fail_invalidate() - make a later invalidation request fail
 * @after: Number of requests that are still carried out, or -1 to cancel
 */
void ioasid_mock_fail_invalidate(int after)
{
	atomic_set(&mock_inv_budget, after);
}

/* Take one from @budget; true when it was the one to fail */
static bool mock_should_fail(atomic_t *budget)
{
	int left = atomic_read(budget);

	while (left >= 0) {
		if (atomic_try_cmpxchg(budget, &left, left - 1))
			return !left;
	}
	return false;
}

/* Only devices made for it go to the mock vfio driver */
static int mock_bus_match(struct device *dev, const struct device_driver *drv)
{
	return container_of(dev, struct mock_dev, dev)->vfio;
}

static const struct bus_type mock_bus = {
	.name = "ioasid_mock",
	.match = mock_bus_match,
};

/**
 * ioasid_test_is_mock_dev() - is a device one of the mock IOMMU's?
 * @dev: The device
 */
bool ioasid_test_is_mock_dev(struct device *dev)
{
	return dev->bus == &mock_bus;
}

/**
 * ioasid_mock_dev_emulated() - is a mock device behind no IOMMU?
 * @dev: Mock device
 *
 * Return: true for an emulated vfio device
 */
bool ioasid_mock_dev_emulated(struct device *dev)
{
	return !container_of(dev, struct mock_dev, dev)->iommu;
}

/**
 * ioasid_mock_driver_register() - register a driver for mock devices
 * @drv: The driver; it gets the devices created for vfio
 */
int ioasid_mock_driver_register(struct device_driver *drv)
{
	drv->bus = &mock_bus;
	return driver_register(drv);
}

static struct mock_dev *to_mock_dev(struct device *dev)
{
	return container_of(dev, struct mock_dev, dev);
}

static struct mock_domain *to_mock_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct mock_domain, domain);
}

static struct mock_nested *to_mock_nested(struct iommu_domain *domain)
{
	if (domain->ops != &mock_nested_ops)
		return NULL;
	return container_of(domain, struct mock_nested, domain);
}

/* The instance a paging or nested domain belongs to, NULL for blocking */
static struct mock_iommu *mock_domain_iommu(struct iommu_domain *domain)
{
	struct mock_nested *nest = to_mock_nested(domain);

	if (nest)
		return nest->parent->iommu;
	if (domain->type & __IOMMU_DOMAIN_PAGING)
		return to_mock_domain(domain)->iommu;
	return NULL;
}

/* Drop cached translations of @nest: all, or those of @pasid and a range */
static void mock_iotlb_flush(struct mock_nested *nest, bool all_pasids,
			     u32 pasid, u64 first_pfn, u64 last_pfn)
{
	unsigned int i;

	lockdep_assert_held(&nest->parent->lock);

	for (i = 0; i < MOCK_IOTLB_SIZE; i++) {
		struct mock_iotlb_entry *e = &nest->iotlb[i];

		if (!all_pasids && e->pasid != pasid)
			continue;
		if (e->iova_pfn >= first_pfn && e->iova_pfn <= last_pfn)
			e->valid = false;
	}
}

/*
 * The host changed stage 2: what the nested domains over it cached may
 * point at memory no longer mapped, so it goes, as the IOMMU driver of real
 * hardware flushes the stage-1 domains of a nesting parent.
 */
static void mock_flush_nested(struct mock_domain *mock)
{
	struct mock_nested *nest;

	lockdep_assert_held(&mock->lock);

	list_for_each_entry(nest, &mock->nested, node)
		mock_iotlb_flush(nest, true, 0, 0, U64_MAX);
}

static unsigned int mock_level_shift(int level)
{
	return PAGE_SHIFT + level * MOCK_LEVEL_BITS;
}

static u64 *mock_pte(u64 *table, u64 iova, int level)
{
	return &table[(iova >> mock_level_shift(level)) & (MOCK_PTES - 1)];
}

static u64 *mock_next_table(u64 pte)
{
	return phys_to_virt(pte & MOCK_PTE_ADDR);
}

/*
 * Find the leaf entry translating @iova. Returns NULL if there is none and
 * sets *@level to the level of the leaf.
 */
static u64 *mock_pgtable_lookup(struct mock_domain *mock, u64 iova, int *level)
{
	u64 *table = mock->root;
	int l;

	lockdep_assert_held(&mock->lock);

	if (iova >> MOCK_IOVA_BITS)
		return NULL;
	for (l = MOCK_LEVELS - 1; l >= 0; l--) {
		u64 *pte = mock_pte(table, iova, l);

		if (!(*pte & MOCK_PTE_VALID))
			return NULL;
		if (*pte & MOCK_PTE_LEAF) {
			*level = l;
			return pte;
		}
		table = mock_next_table(*pte);
	}
	return NULL;
}

/* Does a table map nothing, down to its last level? */
static bool mock_table_empty(u64 *table, int level)
{
	unsigned int i;

	for (i = 0; i < MOCK_PTES; i++) {
		if (!(table[i] & MOCK_PTE_VALID))
			continue;
		if (!level || (table[i] & MOCK_PTE_LEAF) ||
		    !mock_table_empty(mock_next_table(table[i]), level - 1))
			return false;
	}
	return true;
}

static void mock_free_table(u64 *table, int level)
{
	unsigned int i;

	for (i = 0; level && i < MOCK_PTES; i++)
		if ((table[i] & MOCK_PTE_VALID) && !(table[i] & MOCK_PTE_LEAF))
			mock_free_table(mock_next_table(table[i]), level - 1);
	free_page((unsigned long)table);
}

static int mock_map_one(struct mock_domain *mock, u64 iova, phys_addr_t paddr,
			int level, u64 perm, gfp_t gfp)
{
	u64 *table = mock->root;
	u64 *pte;
	int l;

	for (l = MOCK_LEVELS - 1; l > level; l--) {
		pte = mock_pte(table, iova, l);
		if (!(*pte & MOCK_PTE_VALID)) {
			u64 *next = (u64 *)get_zeroed_page(gfp);

			if (!next)
				return -ENOMEM;
			*pte = virt_to_phys(next) | MOCK_PTE_VALID;
		} else if (*pte & MOCK_PTE_LEAF) {
			return -EEXIST;
		}
		table = mock_next_table(*pte);
	}
	pte = mock_pte(table, iova, level);
	if (*pte & MOCK_PTE_VALID) {
		/*
		 * A table left by smaller pages that were all unmapped gives
		 * way to a large page, as on real IOMMUs; one still mapping
		 * something does not.
		 */
		if ((*pte & MOCK_PTE_LEAF) ||
		    !mock_table_empty(mock_next_table(*pte), level - 1))
			return -EEXIST;
		mock_free_table(mock_next_table(*pte), level - 1);
	}
	*pte = (paddr & MOCK_PTE_ADDR) | perm | MOCK_PTE_LEAF | MOCK_PTE_VALID;
	return 0;
}

static int mock_map_pages(struct iommu_domain *domain, unsigned long iova,
			  phys_addr_t paddr, size_t pgsize, size_t pgcount,
			  int prot, gfp_t gfp, size_t *mapped)
{
	struct mock_domain *mock = to_mock_domain(domain);
	int level = (__ffs(pgsize) - PAGE_SHIFT) / MOCK_LEVEL_BITS;
	u64 perm = (prot & IOMMU_READ ? MOCK_PTE_READ : 0) |
		   (prot & IOMMU_WRITE ? MOCK_PTE_WRITE : 0);
	int rc = 0;

	if (WARN_ON(pgsize != BIT(mock_level_shift(level))))
		return -EINVAL;
	if (mock_should_fail(&mock_map_budget))
		return -ENOMEM;

	mutex_lock(&mock->lock);
	for (; pgcount; pgcount--) {
		rc = mock_map_one(mock, iova, paddr, level, perm, gfp);
		if (rc)
			break;
		iova += pgsize;
		paddr += pgsize;
		*mapped += pgsize;
	}
	mutex_unlock(&mock->lock);
	return rc;
}

/*
 * Like real IOMMUs, unmapping part of a large page unmaps the whole page;
 * the return value says how much went.
 */
static size_t mock_unmap_pages(struct iommu_domain *domain, unsigned long iova,
			       size_t pgsize, size_t pgcount,
			       struct iommu_iotlb_gather *gather)
{
	struct mock_domain *mock = to_mock_domain(domain);
	size_t want = pgsize * pgcount, unmapped = 0;
	int level;
	u64 *pte;

	if (mock_should_fail(&mock_unmap_budget))
		return 0;

	mutex_lock(&mock->lock);
	while (unmapped < want) {
		pte = mock_pgtable_lookup(mock, iova + unmapped, &level);
		if (!pte)
			break;
		*pte = 0;
		unmapped += BIT(mock_level_shift(level));
	}
	if (unmapped) {
		mock_flush_nested(mock);
		iommu_iotlb_gather_add_range(gather, iova, unmapped);
	}
	mutex_unlock(&mock->lock);
	return unmapped;
}

/* Frames read back from paging domains, which tests count */
static atomic_long_t mock_reads = ATOMIC_LONG_INIT(0);

static phys_addr_t mock_iova_to_phys(struct iommu_domain *domain,
				     dma_addr_t iova)
{
	struct mock_domain *mock = to_mock_domain(domain);
	phys_addr_t phys = 0;
	int level;
	u64 *pte;

	atomic_long_inc(&mock_reads);
	mutex_lock(&mock->lock);
	pte = mock_pgtable_lookup(mock, iova, &level);
	if (pte)
		phys = (*pte & MOCK_PTE_ADDR) +
		       (iova & (BIT(mock_level_shift(level)) - 1));
	mutex_unlock(&mock->lock);
	return phys;
}

static void mock_domain_free(struct iommu_domain *domain)
{
	struct mock_domain *mock = to_mock_domain(domain);

	/* Nested domains go first: the core frees children before parents */
	WARN_ON(!list_empty(&mock->nested));
	mock_free_table(mock->root, MOCK_LEVELS - 1);
	mutex_destroy(&mock->lock);
	kfree(mock);
}

/*
 * A device of IOASID_TEST_MOCK_NO_USER_DOMAINS takes no paging domain
 * from domain_alloc_user(), nor a nested one over such a domain
 */
static bool mock_refuses(struct mock_dev *mdev, struct iommu_domain *domain)
{
	if (!mdev->no_user_domains)
		return false;
	if (domain->ops == &mock_nested_ops)
		return true;
	return domain->ops == &mock_domain_ops &&
	       to_mock_domain(domain)->user;
}

static int mock_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	struct mock_iommu *mi = mock_domain_iommu(domain);

	/* Only the instance that allocated a domain can use it */
	if (mi && mi != mdev->iommu)
		return -EINVAL;
	if (mock_refuses(mdev, domain))
		return -EINVAL;

	mutex_lock(&mdev->lock);
	mdev->rid_domain = mi ? domain : NULL;
	mutex_unlock(&mdev->lock);
	return 0;
}

static int mock_set_dev_pasid(struct iommu_domain *domain, struct device *dev,
			      ioasid_t pasid, struct iommu_domain *old)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	void *curr;

	if (mock_domain_iommu(domain) != mdev->iommu ||
	    mock_refuses(mdev, domain))
		return -EINVAL;

	mutex_lock(&mdev->lock);
	curr = xa_store(&mdev->pasids, pasid, domain, GFP_KERNEL);
	mutex_unlock(&mdev->lock);
	return xa_err(curr);
}

static void mock_remove_dev_pasid(struct device *dev, ioasid_t pasid,
				  struct iommu_domain *domain)
{
	struct mock_dev *mdev = to_mock_dev(dev);

	mutex_lock(&mdev->lock);
	xa_erase(&mdev->pasids, pasid);
	mutex_unlock(&mdev->lock);
}

static struct iommu_domain *mock_domain_alloc_paging(struct device *dev)
{
	struct mock_iommu *mi = to_mock_dev(dev)->iommu;
	struct mock_domain *mock;

	mock = kzalloc(sizeof(*mock), GFP_KERNEL);
	if (!mock)
		return ERR_PTR(-ENOMEM);
	mock->root = (u64 *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!mock->root) {
		kfree(mock);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&mock->lock);
	INIT_LIST_HEAD(&mock->nested);
	mock->iommu = mi;
	mock->domain.pgsize_bitmap = mi->pgsizes;
	mock->domain.geometry.aperture_start = 0;
	mock->domain.geometry.aperture_end = BIT_ULL(MOCK_IOVA_BITS) - 1;
	mock->domain.geometry.force_aperture = true;
	return &mock->domain;
}

/*
 * The mock's stage-1 formats, as /dev/ioasid checks them before any domain
 * is made. The driver checks them again when it makes one.
 */
static int mock_s1_table(const void *data, u64 *start, u64 *last)
{
	const struct ioasid_mock_s1 *s1 = data;

	if (s1->flags || s1->__reserved)
		return -EINVAL;
	return ioasid_nest_one_page(s1->root_gpa, start, last);
}

static int mock_pasid_table(const void *data, u64 *start, u64 *last)
{
	const struct ioasid_mock_pasid_table *pt = data;

	if (pt->__reserved || !pt->pasid_bits ||
	    pt->pasid_bits > IOASID_TEST_PASID_BITS ||
	    !IS_ALIGNED(pt->table_gpa, SZ_4K))
		return -EINVAL;
	/* At most 2 KiB from a 4 KiB boundary: no overflow */
	*start = pt->table_gpa;
	*last = pt->table_gpa + (sizeof(u64) << pt->pasid_bits) - 1;
	return 0;
}

static const struct ioasid_nest_format mock_formats[] = {
	{
		.format = IOASID_FORMAT_MOCK_S1,
		.hw_info_type = IOASID_MOCK_HW_INFO_TYPE,
		.data_type = IOASID_FORMAT_MOCK_S1,
		.inv_type = IOASID_FORMAT_MOCK_S1,
		.data_len = sizeof(struct ioasid_mock_s1),
		.min_len = sizeof(struct ioasid_mock_s1),
		.table = mock_s1_table,
	},
	{
		.format = IOASID_FORMAT_MOCK_PASID_TABLE,
		.delegated = true,
		.hw_info_type = IOASID_MOCK_HW_INFO_TYPE,
		.data_type = IOASID_FORMAT_MOCK_PASID_TABLE,
		.inv_type = IOASID_FORMAT_MOCK_PASID_TABLE,
		.data_len = sizeof(struct ioasid_mock_pasid_table),
		.min_len = sizeof(struct ioasid_mock_pasid_table),
		.table = mock_pasid_table,
	},
};

/* out_formats is a 64-bit mask */
static_assert(IOASID_FORMAT_MOCK_S1 < 64 &&
	      IOASID_FORMAT_MOCK_PASID_TABLE < 64);

/**
 * ioasid_test_formats() - the stage-1 formats of the mock IOMMU
 * @num: Set to their number
 *
 * Return: their array, which /dev/ioasid looks formats up in after its own.
 */
const struct ioasid_nest_format *ioasid_test_formats(unsigned int *num)
{
	*num = ARRAY_SIZE(mock_formats);
	return mock_formats;
}

static struct iommu_domain *mock_nested_alloc(struct device *dev, u32 flags,
					      struct iommu_domain *parent,
					      const struct iommu_user_data *data)
{
	struct mock_iommu *mi = to_mock_dev(dev)->iommu;
	struct ioasid_mock_pasid_table pt;
	struct mock_domain *mparent;
	struct ioasid_mock_s1 s1;
	struct mock_nested *nest;
	int rc;

	if (flags || !data)
		return ERR_PTR(-EOPNOTSUPP);
	if (parent->ops != &mock_domain_ops)
		return ERR_PTR(-EINVAL);
	mparent = to_mock_domain(parent);
	/* Stage 2 must be for nesting, and of the same instance */
	if (!mparent->nest_parent || mparent->iommu != mi)
		return ERR_PTR(-EINVAL);

	nest = kzalloc(sizeof(*nest), GFP_KERNEL_ACCOUNT);
	if (!nest)
		return ERR_PTR(-ENOMEM);
	switch (data->type) {
	case IOASID_FORMAT_MOCK_S1:
		rc = iommu_copy_struct_from_user(&s1, data,
						 IOASID_FORMAT_MOCK_S1,
						 __reserved);
		if (rc)
			goto err_free;
		if (s1.flags || s1.__reserved ||
		    s1.root_gpa & ~IOASID_MOCK_S1_ADDR) {
			rc = -EINVAL;
			goto err_free;
		}
		nest->table_gpa = s1.root_gpa;
		break;
	case IOASID_FORMAT_MOCK_PASID_TABLE:
		rc = iommu_copy_struct_from_user(&pt, data,
						 IOASID_FORMAT_MOCK_PASID_TABLE,
						 __reserved);
		if (rc)
			goto err_free;
		if (pt.__reserved || !pt.pasid_bits ||
		    pt.pasid_bits > mi->pasid_bits ||
		    pt.table_gpa & ~IOASID_MOCK_S1_ADDR) {
			rc = -EINVAL;
			goto err_free;
		}
		nest->table_gpa = pt.table_gpa;
		nest->pasid_bits = pt.pasid_bits;
		break;
	default:
		rc = -EOPNOTSUPP;
		goto err_free;
	}
	nest->format = data->type;
	nest->parent = mparent;
	nest->domain.type = IOMMU_DOMAIN_NESTED;
	nest->domain.ops = &mock_nested_ops;

	mutex_lock(&mparent->lock);
	list_add_tail(&nest->node, &mparent->nested);
	mutex_unlock(&mparent->lock);
	return &nest->domain;

err_free:
	kfree(nest);
	return ERR_PTR(rc);
}

static void mock_nested_free(struct iommu_domain *domain)
{
	struct mock_nested *nest = to_mock_nested(domain);

	mutex_lock(&nest->parent->lock);
	list_del(&nest->node);
	mutex_unlock(&nest->parent->lock);
	kfree(nest);
}

/* Check one request and drop what it names from the IOTLB */
static int mock_invalidate_one(struct mock_nested *nest,
			       const struct ioasid_mock_invalidate *inv)
{
	u64 last = 0;

	if (inv->flags & ~(IOASID_MOCK_INV_ALL | IOASID_MOCK_INV_PASID))
		return -EOPNOTSUPP;
	if (!(inv->flags & IOASID_MOCK_INV_PASID) && inv->pasid)
		return -EINVAL;
	if (inv->flags & IOASID_MOCK_INV_ALL) {
		if (inv->iova || inv->length)
			return -EINVAL;
	} else if (!inv->length ||
		   check_add_overflow(inv->iova, inv->length - 1, &last)) {
		return -EINVAL;
	}

	mutex_lock(&nest->parent->lock);
	if (inv->flags & IOASID_MOCK_INV_ALL)
		mock_iotlb_flush(nest, !(inv->flags & IOASID_MOCK_INV_PASID),
				 inv->pasid, 0, U64_MAX);
	else
		mock_iotlb_flush(nest, !(inv->flags & IOASID_MOCK_INV_PASID),
				 inv->pasid, inv->iova >> MOCK_S1_SHIFT,
				 last >> MOCK_S1_SHIFT);
	mutex_unlock(&nest->parent->lock);
	return 0;
}

static int mock_cache_invalidate_user(struct iommu_domain *domain,
				      struct iommu_user_data_array *array)
{
	struct mock_nested *nest = to_mock_nested(domain);
	struct ioasid_mock_invalidate inv;
	u32 i;
	int rc = 0;

	for (i = 0; i < array->entry_num; i++) {
		rc = iommu_copy_struct_from_user_array(&inv, array,
						       nest->format, i, length);
		if (rc)
			break;
		if (mock_should_fail(&mock_inv_budget)) {
			rc = -EIO;
			break;
		}
		rc = mock_invalidate_one(nest, &inv);
		if (rc)
			break;
	}
	array->entry_num = i;
	return rc;
}

/*
 * Paging domains for userspace, nesting parents among them, and nested
 * domains over those in the mock's own formats.
 */
static struct iommu_domain *
mock_domain_alloc_user(struct device *dev, u32 flags,
		       struct iommu_domain *parent,
		       const struct iommu_user_data *user_data)
{
	struct iommu_domain *domain;

	if (parent)
		return mock_nested_alloc(dev, flags, parent, user_data);
	if ((flags & ~IOMMU_HWPT_ALLOC_NEST_PARENT) || user_data)
		return ERR_PTR(-EOPNOTSUPP);
	domain = mock_domain_alloc_paging(dev);
	if (IS_ERR(domain))
		return domain;
	domain->type = IOMMU_DOMAIN_UNMANAGED;
	domain->ops = &mock_domain_ops;
	to_mock_domain(domain)->nest_parent =
		flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
	to_mock_domain(domain)->user = true;
	return domain;
}

/* What the nesting-capable instances tell about themselves */
static void *mock_hw_info(struct device *dev, u32 *length, u32 *type)
{
	u32 *pasid_bits;

	pasid_bits = kzalloc(sizeof(*pasid_bits), GFP_KERNEL);
	if (!pasid_bits)
		return ERR_PTR(-ENOMEM);
	*pasid_bits = to_mock_dev(dev)->iommu->pasid_bits;
	*length = sizeof(*pasid_bits);
	*type = IOASID_MOCK_HW_INFO_TYPE;
	return pasid_bits;
}

static int mock_blocked_attach_dev(struct iommu_domain *domain,
				   struct device *dev)
{
	return mock_attach_dev(domain, dev);
}

static struct iommu_domain mock_blocked_domain = {
	.type = IOMMU_DOMAIN_BLOCKED,
	.ops = &(const struct iommu_domain_ops) {
		.attach_dev = mock_blocked_attach_dev,
	},
};

static bool mock_capable(struct device *dev, enum iommu_cap cap)
{
	return cap == IOMMU_CAP_CACHE_COHERENCY;
}

/* Every mock device has an MSI-like window where DMA never reaches memory */
static void mock_add_resv_region(struct list_head *head, u64 start,
				 enum iommu_resv_type type)
{
	struct iommu_resv_region *region;

	/*
	 * get_resv_regions cannot fail: a region lost to a failed allocation
	 * would let userspace map over it
	 */
	region = iommu_alloc_resv_region(start, IOASID_TEST_RESV_SIZE,
					 IOMMU_READ | IOMMU_WRITE, type,
					 GFP_KERNEL | __GFP_NOFAIL);
	list_add_tail(&region->list, head);
}

static void mock_get_resv_regions(struct device *dev, struct list_head *head)
{
	struct mock_iommu *mi = to_mock_dev(dev)->iommu;

	mock_add_resv_region(head, mi->resv_start, IOMMU_RESV_RESERVED);
	if (!mi->all_resv)
		return;
	mock_add_resv_region(head, IOASID_TEST_SW_MSI_START,
			     IOMMU_RESV_SW_MSI);
	mock_add_resv_region(head, IOASID_TEST_RELAXABLE_START,
			     IOMMU_RESV_DIRECT_RELAXABLE);
}

static struct iommu_device *mock_probe_device(struct device *dev)
{
	if (!ioasid_test_is_mock_dev(dev) || !to_mock_dev(dev)->iommu)
		return ERR_PTR(-ENODEV);
	return &to_mock_dev(dev)->iommu->iommu;
}

/*
 * IOTLB syncs after unmaps and after maps, which tests count: under a
 * virtual IOMMU in caching mode each is a trap to the hypervisor. Tests
 * also see where the last flush of something unmapped began, which tells
 * the order of one-page UNMAPs.
 */
static atomic_long_t mock_iotlb_syncs = ATOMIC_LONG_INIT(0);
static atomic_long_t mock_iotlb_map_syncs = ATOMIC_LONG_INIT(0);
static atomic64_t mock_last_flush = ATOMIC64_INIT(U64_MAX);

static void mock_iotlb_sync(struct iommu_domain *domain,
			    struct iommu_iotlb_gather *gather)
{
	atomic_long_inc(&mock_iotlb_syncs);
	if (gather->end)
		atomic64_set(&mock_last_flush, gather->start);
}

static int mock_iotlb_sync_map(struct iommu_domain *domain,
			       unsigned long iova, size_t size)
{
	atomic_long_inc(&mock_iotlb_map_syncs);
	return 0;
}

/**
 * ioasid_mock_iotlb_syncs() - IOTLB syncs of paging domains since last time
 * @syncs: Set to the number of iotlb_sync calls (after unmaps)
 * @map_syncs: Set to the number of iotlb_sync_map calls (after maps)
 * @reads: Set to the number of iova_to_phys calls
 * @last_flush: Set to the IOVA where the range of the last iotlb_sync
 *              that flushed anything began, or U64_MAX for none
 *
 * All count from the previous call.
 */
void ioasid_mock_iotlb_syncs(u64 *syncs, u64 *map_syncs, u64 *reads,
			     u64 *last_flush)
{
	*syncs = atomic_long_xchg(&mock_iotlb_syncs, 0);
	*map_syncs = atomic_long_xchg(&mock_iotlb_map_syncs, 0);
	*reads = atomic_long_xchg(&mock_reads, 0);
	*last_flush = atomic64_xchg(&mock_last_flush, U64_MAX);
}

static const struct iommu_domain_ops mock_domain_ops = {
	.attach_dev = mock_attach_dev,
	.set_dev_pasid = mock_set_dev_pasid,
	.map_pages = mock_map_pages,
	.unmap_pages = mock_unmap_pages,
	.iotlb_sync = mock_iotlb_sync,
	.iotlb_sync_map = mock_iotlb_sync_map,
	.iova_to_phys = mock_iova_to_phys,
	.free = mock_domain_free,
};

#define MOCK_IOMMU_OPS							\
	.owner = THIS_MODULE,						\
	.default_domain = &mock_blocked_domain,				\
	.blocked_domain = &mock_blocked_domain,				\
	.domain_alloc_paging = mock_domain_alloc_paging,		\
	.capable = mock_capable,					\
	.probe_device = mock_probe_device,				\
	.get_resv_regions = mock_get_resv_regions,			\
	.remove_dev_pasid = mock_remove_dev_pasid,			\
	.device_group = generic_device_group,				\
	.default_domain_ops = &mock_domain_ops

static const struct iommu_domain_ops mock_nested_ops = {
	.attach_dev = mock_attach_dev,
	.set_dev_pasid = mock_set_dev_pasid,
	.cache_invalidate_user = mock_cache_invalidate_user,
	.free = mock_nested_free,
};

/* Instances 0 and 1 nest; instance 2 is an IOMMU that cannot */
static const struct iommu_ops mock_ops = {
	MOCK_IOMMU_OPS,
	.domain_alloc_user = mock_domain_alloc_user,
	.hw_info = mock_hw_info,
	.pgsize_bitmap = MOCK_PGSIZES,
};

/* Another IOMMU driver as far as the core can tell */
static const struct iommu_ops mock_other_ops = {
	MOCK_IOMMU_OPS,
	.pgsize_bitmap = SZ_4K,
};

/*
 * Which domain translates DMA of (device, PASID): the PASID's own, else for
 * a RID attached to a delegated domain the RID's, whose guest PASID table
 * routes every PASID.
 */
static struct iommu_domain *mock_dev_domain(struct mock_dev *mdev, u32 pasid)
{
	struct iommu_domain *domain;
	struct mock_nested *nest;

	lockdep_assert_held(&mdev->lock);

	if (pasid == IOMMU_NO_PASID)
		return mdev->rid_domain;
	domain = xa_load(&mdev->pasids, pasid);
	if (domain)
		return domain;
	nest = mdev->rid_domain ? to_mock_nested(mdev->rid_domain) : NULL;
	if (nest && nest->format == IOASID_FORMAT_MOCK_PASID_TABLE)
		return mdev->rid_domain;
	return NULL;
}

/* Record a fault of the translation of @iova */
static int mock_fault(struct ioasid_mock_dma_res *res, u32 reason, u32 stage,
		      u64 iova, u64 gpa)
{
	res->fault_reason = reason;
	res->fault_stage = stage;
	res->fault_iova = iova;
	res->fault_gpa = gpa;
	return -EFAULT;
}

/*
 * Translate @addr through paging domain @mock, the host's stage, which must
 * allow @perm. Sets *@phys and *@pgsize. A fault is reported for @iova and,
 * under a stage 1 (@gpa set), for @addr as the GPA.
 */
static int mock_stage2_translate(struct mock_domain *mock, u64 addr, u64 perm,
				 u64 iova, bool gpa, phys_addr_t *phys,
				 u64 *pgsize, struct ioasid_mock_dma_res *res)
{
	int level;
	u64 *pte;

	lockdep_assert_held(&mock->lock);

	pte = mock_pgtable_lookup(mock, addr, &level);
	if (!pte)
		return mock_fault(res, IOASID_TEST_FAULT_NOT_PRESENT,
				  IOASID_TEST_STAGE_2, iova, gpa ? addr : 0);
	if ((*pte & perm) != perm)
		return mock_fault(res, IOASID_TEST_FAULT_PERMISSION,
				  IOASID_TEST_STAGE_2, iova, gpa ? addr : 0);
	*pgsize = BIT(mock_level_shift(level));
	*phys = (*pte & MOCK_PTE_ADDR) + (addr & (*pgsize - 1));
	return 0;
}

/* Read the 64-bit guest table entry at @gpa, as the IOMMU does: via stage 2 */
static int mock_read_guest(struct mock_domain *s2, u64 gpa, u64 iova,
			   u64 *val, struct ioasid_mock_dma_res *res)
{
	phys_addr_t phys;
	u64 pgsize;
	void *va;
	int rc;

	rc = mock_stage2_translate(s2, gpa, MOCK_PTE_READ, iova, true, &phys,
				   &pgsize, res);
	if (rc)
		return rc;
	va = kmap_local_pfn(PHYS_PFN(phys));
	*val = le64_to_cpu(*(__le64 *)(va + offset_in_page(phys)));
	kunmap_local(va);
	return 0;
}

static struct mock_iotlb_entry *mock_iotlb_find(struct mock_nested *nest,
						u32 pasid, u64 iova)
{
	unsigned int i;

	for (i = 0; i < MOCK_IOTLB_SIZE; i++) {
		struct mock_iotlb_entry *e = &nest->iotlb[i];

		if (e->valid && e->pasid == pasid &&
		    e->iova_pfn == iova >> MOCK_S1_SHIFT)
			return e;
	}
	return NULL;
}

/*
 * Translate @iova tagged with @pasid through nested domain @nest: the
 * IOTLB, else the guest's PASID table (delegated), its stage-1 table and
 * the parent. Called with the parent's lock held.
 */
static int mock_nested_translate(struct mock_nested *nest, u32 pasid, u64 iova,
				 u64 perm, phys_addr_t *phys,
				 struct ioasid_mock_dma_res *res, bool *hit)
{
	struct mock_domain *s2 = nest->parent;
	struct mock_iotlb_entry *e;
	u64 table = nest->table_gpa, pte = 0, gpa, pgsize, s1_perm;
	int level, rc;

	lockdep_assert_held(&s2->lock);

	e = mock_iotlb_find(nest, pasid, iova);
	if (e) {
		*hit = true;
		if ((e->s1_perm & perm) != perm)
			return mock_fault(res, IOASID_TEST_FAULT_PERMISSION,
					  IOASID_TEST_STAGE_1, iova, 0);
		if ((e->s2_perm & perm) != perm)
			return mock_fault(res, IOASID_TEST_FAULT_PERMISSION,
					  IOASID_TEST_STAGE_2, iova,
					  e->gpa + MOCK_S1_OFFSET(iova));
		*phys = e->phys + MOCK_S1_OFFSET(iova);
		return 0;
	}
	*hit = false;

	if (nest->format == IOASID_FORMAT_MOCK_PASID_TABLE) {
		if (pasid >> nest->pasid_bits)
			return mock_fault(res, IOASID_TEST_FAULT_PASID,
					  IOASID_TEST_STAGE_1, iova, 0);
		rc = mock_read_guest(s2, table + pasid * sizeof(u64), iova,
				     &pte, res);
		if (rc)
			return rc;
		if (!(pte & IOASID_MOCK_S1_PRESENT))
			return mock_fault(res, IOASID_TEST_FAULT_PASID,
					  IOASID_TEST_STAGE_1, iova, 0);
		table = pte & IOASID_MOCK_S1_ADDR;
	}

	if (iova >> IOASID_MOCK_S1_IOVA_BITS)
		return mock_fault(res, IOASID_TEST_FAULT_RANGE,
				  IOASID_TEST_STAGE_1, iova, 0);
	for (level = IOASID_MOCK_S1_LEVELS - 1; level >= 0; level--) {
		unsigned int idx = (iova >> (MOCK_S1_SHIFT +
					     level * MOCK_LEVEL_BITS)) &
				   (MOCK_PTES - 1);

		rc = mock_read_guest(s2, table + idx * sizeof(u64), iova, &pte,
				     res);
		if (rc)
			return rc;
		if (!(pte & IOASID_MOCK_S1_PRESENT))
			return mock_fault(res, IOASID_TEST_FAULT_NOT_PRESENT,
					  IOASID_TEST_STAGE_1, iova, 0);
		table = pte & IOASID_MOCK_S1_ADDR;
	}
	s1_perm = (pte & IOASID_MOCK_S1_READ ? MOCK_PTE_READ : 0) |
		  (pte & IOASID_MOCK_S1_WRITE ? MOCK_PTE_WRITE : 0);
	if ((s1_perm & perm) != perm)
		return mock_fault(res, IOASID_TEST_FAULT_PERMISSION,
				  IOASID_TEST_STAGE_1, iova, 0);

	gpa = table + MOCK_S1_OFFSET(iova);
	rc = mock_stage2_translate(s2, gpa, perm, iova, true, phys, &pgsize,
				   res);
	if (rc)
		return rc;

	/* Cache both stages' permissions, for later accesses of other kinds */
	e = &nest->iotlb[nest->iotlb_next];
	nest->iotlb_next = (nest->iotlb_next + 1) % MOCK_IOTLB_SIZE;
	*e = (struct mock_iotlb_entry) {
		.valid = true,
		.pasid = pasid,
		.iova_pfn = iova >> MOCK_S1_SHIFT,
		.gpa = gpa - MOCK_S1_OFFSET(gpa),
		.phys = *phys - MOCK_S1_OFFSET(*phys),
		.s1_perm = s1_perm,
		.s2_perm = *mock_pgtable_lookup(s2, gpa, &level) &
			   (MOCK_PTE_READ | MOCK_PTE_WRITE),
	};
	return 0;
}

/**
 * ioasid_mock_dma() - DMA by a mock device through its IOMMU
 * @dev: Mock device
 * @pasid: PASID the transactions carry, IOMMU_NO_PASID for none
 * @iova: Address the device accesses
 * @buf: Kernel buffer: source of a write, destination of a read
 * @length: Bytes to transfer
 * @write: The device writes memory, else it reads
 * @res: Set to how the transfer went
 *
 * Return: bytes transferred before the end or the first fault.
 */
size_t ioasid_mock_dma(struct device *dev, u32 pasid, u64 iova, void *buf,
		       size_t length, bool write, struct ioasid_mock_dma_res *res)
{
	u64 perm = write ? MOCK_PTE_WRITE : MOCK_PTE_READ;
	struct mock_dev *mdev = to_mock_dev(dev);
	struct iommu_domain *domain;
	struct mock_nested *nest;
	struct mock_domain *s2;
	size_t done = 0;

	memset(res, 0, sizeof(*res));
	mutex_lock(&mdev->lock);
	domain = mock_dev_domain(mdev, pasid);
	if (!domain) {
		res->fault_reason = IOASID_TEST_FAULT_BLOCKED;
		res->fault_iova = iova;
		goto out_unlock;
	}
	nest = to_mock_nested(domain);
	s2 = nest ? nest->parent : to_mock_domain(domain);
	/* What MSIs through a software MSI window need: see dma-iommu */
	res->msi_cookie = !!s2->domain.iova_cookie;

	mutex_lock(&s2->lock);
	while (done < length) {
		u64 cur = iova + done;
		size_t chunk = min_t(size_t, length - done,
				     PAGE_SIZE - offset_in_page(cur));
		phys_addr_t phys;
		bool hit = false;
		u64 pgsize;
		void *va;

		if (nest) {
			chunk = min_t(size_t, chunk,
				      MOCK_S1_PAGE - MOCK_S1_OFFSET(cur));
			if (mock_nested_translate(nest, pasid, cur, perm,
						  &phys, res, &hit))
				break;
			pgsize = MOCK_S1_PAGE;
		} else if (mock_stage2_translate(s2, cur, perm, cur, false,
						 &phys, &pgsize, res)) {
			break;
		}
		if (!done) {
			res->first_pgsize = pgsize;
			res->iotlb_hit = hit;
		}
		va = kmap_local_pfn(PHYS_PFN(phys));
		if (write)
			memcpy(va + offset_in_page(phys), buf + done, chunk);
		else
			memcpy(buf + done, va + offset_in_page(phys), chunk);
		kunmap_local(va);
		done += chunk;
	}
	mutex_unlock(&s2->lock);
out_unlock:
	mutex_unlock(&mdev->lock);
	return done;
}

static void mock_dev_release(struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);

	ida_free(&mock_dev_ida, dev->id);
	xa_destroy(&mdev->pasids);
	mutex_destroy(&mdev->lock);
	kfree(mdev);
}

/**
 * ioasid_mock_dev_create() - add a device behind a mock IOMMU instance
 * @instance: Index of the instance
 * @flags: &enum ioasid_test_mock_flags. IOASID_TEST_MOCK_VFIO: bind it to
 *         the mock vfio driver. IOASID_TEST_MOCK_EMULATED: behind no IOMMU
 *         at all (@instance ignored), an emulated vfio device, which needs
 *         IOASID_TEST_MOCK_VFIO. IOASID_TEST_MOCK_NO_USER_DOMAINS: refuse
 *         the domains of domain_alloc_user().
 *
 * Return: the device, probed by the IOMMU core and in a group of its own
 * with DMA blocked (but if emulated), or an ERR_PTR.
 */
struct device *ioasid_mock_dev_create(unsigned int instance, u32 flags)
{
	static const struct property_entry pasid_props[] = {
		PROPERTY_ENTRY_U32("pasid-num-bits", IOASID_TEST_PASID_BITS),
		{ }
	};
	bool emulated = flags & IOASID_TEST_MOCK_EMULATED;
	bool vfio = flags & IOASID_TEST_MOCK_VFIO;
	struct mock_dev *mdev;
	int rc, id;

	if (emulated ? !vfio : instance >= ARRAY_SIZE(mock_iommus))
		return ERR_PTR(-EINVAL);

	id = ida_alloc(&mock_dev_ida, GFP_KERNEL);
	if (id < 0)
		return ERR_PTR(id);
	mdev = kzalloc(sizeof(*mdev), GFP_KERNEL);
	if (!mdev) {
		ida_free(&mock_dev_ida, id);
		return ERR_PTR(-ENOMEM);
	}
	mutex_init(&mdev->lock);
	xa_init(&mdev->pasids);
	mdev->iommu = emulated ? NULL : &mock_iommus[instance];
	mdev->vfio = vfio;
	mdev->no_user_domains = flags & IOASID_TEST_MOCK_NO_USER_DOMAINS;
	device_initialize(&mdev->dev);
	mdev->dev.release = mock_dev_release;
	mdev->dev.bus = &mock_bus;
	mdev->dev.id = id;
	rc = dev_set_name(&mdev->dev, "ioasid_mock%d", id);
	if (rc)
		goto err_put;
	/* Like a PCI device with the PASID capability, for every instance */
	rc = device_create_managed_software_node(&mdev->dev, pasid_props,
						 NULL);
	if (rc)
		goto err_put;

	/* Tie the device to its instance before the core probes it */
	if (mdev->iommu) {
		mutex_lock(&iommu_probe_device_lock);
		rc = iommu_fwspec_init(&mdev->dev, &mdev->iommu->fwnode);
		mutex_unlock(&iommu_probe_device_lock);
		if (rc)
			goto err_put;
	}

	rc = device_add(&mdev->dev);
	if (rc)
		goto err_put;
	/* The bus notifier's IOMMU probe, or the vfio driver's, failed */
	if ((mdev->iommu && !mdev->dev.iommu_group) ||
	    (vfio && !mdev->dev.driver)) {
		device_del(&mdev->dev);
		rc = -ENODEV;
		goto err_put;
	}
	return &mdev->dev;

err_put:
	put_device(&mdev->dev);
	return ERR_PTR(rc);
}

/**
 * ioasid_mock_dev_destroy() - remove a device from ioasid_mock_dev_create()
 * @dev: The device, no longer bound to any context
 */
void ioasid_mock_dev_destroy(struct device *dev)
{
	device_unregister(dev);
}

int ioasid_mock_iommu_init(void)
{
	unsigned int i;
	int rc;

	rc = bus_register(&mock_bus);
	if (rc)
		return rc;

	for (i = 0; i < ARRAY_SIZE(mock_iommus); i++) {
		struct mock_iommu *mi = &mock_iommus[i];

		fwnode_init(&mi->fwnode, NULL);
		mi->iommu.fwnode = &mi->fwnode;
		mi->iommu.max_pasids = mi->pasid_bits ? BIT(mi->pasid_bits) : 0;
		rc = iommu_device_sysfs_add(&mi->iommu, NULL, NULL,
					    "ioasid-mock%u", i);
		if (rc)
			goto err_unregister;
		rc = iommu_device_register_bus(&mi->iommu, mi->ops, &mock_bus,
					       &mi->nb);
		if (rc) {
			iommu_device_sysfs_remove(&mi->iommu);
			goto err_unregister;
		}
		mi->registered = true;
	}
	return 0;

err_unregister:
	ioasid_mock_iommu_exit();
	return rc;
}

void ioasid_mock_iommu_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mock_iommus); i++) {
		if (!mock_iommus[i].registered)
			continue;
		iommu_device_unregister_bus(&mock_iommus[i].iommu, &mock_bus,
					    &mock_iommus[i].nb);
		iommu_device_sysfs_remove(&mock_iommus[i].iommu);
		mock_iommus[i].registered = false;
	}
	bus_unregister(&mock_bus);
}
