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
 * The walk is split into a per-stage lookup (mock_pgtable_lookup()) and a
 * per-device routing step (mock_dev_domain()), so that nested stages and
 * PASID tables slot in without changing either.
 */
#define pr_fmt(fmt) "ioasid-mock: " fmt

#include <linux/device.h>
#include <linux/fwnode.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/property.h>
#include <linux/slab.h>

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

/**
 * struct mock_iommu - one instance of the mock IOMMU
 * @iommu: Core IOMMU device
 * @fwnode: Ties the instance's devices to it
 * @nb: Bus notifier of the core
 * @ops: Driver ops: instances with the same ops are compatible
 * @pgsizes: Page sizes of its paging domains
 * @resv_start: Start of the reserved IOVA region of its devices
 * @pasid_bits: Width of the PASIDs it supports, 0 for none
 * @registered: Registered with the core
 *
 * Instances 0 and 1 are compatible (same driver) but cannot share domains;
 * instance 2 is another kind of IOMMU altogether.
 */
struct mock_iommu {
	struct iommu_device iommu;
	struct fwnode_handle fwnode;
	struct notifier_block nb;
	const struct iommu_ops *ops;
	unsigned long pgsizes;
	u64 resv_start;
	unsigned int pasid_bits;
	bool registered;
};

/**
 * struct mock_domain - a paging domain of the mock IOMMU
 * @domain: Core domain
 * @lock: Protects the table; walks hold it while they touch the memory a
 *        leaf points to, so unmap followed by unpin never races a DMA
 * @root: Top level table
 * @iommu: Instance that allocated the domain, the only one that can use it
 */
struct mock_domain {
	struct iommu_domain domain;
	struct mutex lock; /* the page table */
	u64 *root;
	struct mock_iommu *iommu;
};

/**
 * struct mock_dev - a device behind the mock IOMMU
 * @dev: The device on the mock bus
 * @iommu: IOMMU instance it sits behind
 * @lock: Protects @rid_domain and @pasids against DMA in flight
 * @rid_domain: Paging domain translating the RID, NULL when DMA is blocked
 * @pasids: PASID -> paging domain translating DMA tagged with it
 * @vfio: Bound to the mock vfio driver, which makes it a vfio device
 */
struct mock_dev {
	struct device dev;
	struct mock_iommu *iommu;
	struct mutex lock; /* rid_domain and pasids vs. DMA in flight */
	struct mock_domain *rid_domain;
	struct xarray pasids;
	bool vfio;
};

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

static bool mock_map_should_fail(void)
{
	int budget = atomic_read(&mock_map_budget);

	while (budget >= 0) {
		if (atomic_try_cmpxchg(&mock_map_budget, &budget, budget - 1))
			return !budget;
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
	if (mock_map_should_fail())
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

	mutex_lock(&mock->lock);
	while (unmapped < want) {
		pte = mock_pgtable_lookup(mock, iova + unmapped, &level);
		if (!pte)
			break;
		*pte = 0;
		unmapped += BIT(mock_level_shift(level));
	}
	mutex_unlock(&mock->lock);
	return unmapped;
}

static phys_addr_t mock_iova_to_phys(struct iommu_domain *domain,
				     dma_addr_t iova)
{
	struct mock_domain *mock = to_mock_domain(domain);
	phys_addr_t phys = 0;
	int level;
	u64 *pte;

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

	mock_free_table(mock->root, MOCK_LEVELS - 1);
	mutex_destroy(&mock->lock);
	kfree(mock);
}

static int mock_attach_dev(struct iommu_domain *domain, struct device *dev)
{
	struct mock_dev *mdev = to_mock_dev(dev);

	/* Only the instance that allocated a paging domain can use it */
	if ((domain->type & __IOMMU_DOMAIN_PAGING) &&
	    to_mock_domain(domain)->iommu != mdev->iommu)
		return -EINVAL;

	mutex_lock(&mdev->lock);
	mdev->rid_domain = domain->type & __IOMMU_DOMAIN_PAGING ?
			   to_mock_domain(domain) : NULL;
	mutex_unlock(&mdev->lock);
	return 0;
}

static int mock_set_dev_pasid(struct iommu_domain *domain, struct device *dev,
			      ioasid_t pasid, struct iommu_domain *old)
{
	struct mock_dev *mdev = to_mock_dev(dev);
	void *curr;

	if (to_mock_domain(domain)->iommu != mdev->iommu)
		return -EINVAL;

	mutex_lock(&mdev->lock);
	curr = xa_store(&mdev->pasids, pasid, to_mock_domain(domain),
			GFP_KERNEL);
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
	mock->iommu = mi;
	mock->domain.pgsize_bitmap = mi->pgsizes;
	mock->domain.geometry.aperture_start = 0;
	mock->domain.geometry.aperture_end = BIT_ULL(MOCK_IOVA_BITS) - 1;
	mock->domain.geometry.force_aperture = true;
	return &mock->domain;
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
static void mock_get_resv_regions(struct device *dev, struct list_head *head)
{
	struct iommu_resv_region *region;

	region = iommu_alloc_resv_region(to_mock_dev(dev)->iommu->resv_start,
					 IOASID_TEST_RESV_SIZE, 0,
					 IOMMU_RESV_RESERVED, GFP_KERNEL);
	if (region)
		list_add_tail(&region->list, head);
}

static struct iommu_device *mock_probe_device(struct device *dev)
{
	if (!ioasid_test_is_mock_dev(dev))
		return ERR_PTR(-ENODEV);
	return &to_mock_dev(dev)->iommu->iommu;
}

static const struct iommu_domain_ops mock_domain_ops = {
	.attach_dev = mock_attach_dev,
	.set_dev_pasid = mock_set_dev_pasid,
	.map_pages = mock_map_pages,
	.unmap_pages = mock_unmap_pages,
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

static const struct iommu_ops mock_ops = {
	MOCK_IOMMU_OPS,
	.pgsize_bitmap = MOCK_PGSIZES,
};

/* Another IOMMU driver as far as the core can tell */
static const struct iommu_ops mock_other_ops = {
	MOCK_IOMMU_OPS,
	.pgsize_bitmap = SZ_4K,
};

/* Which page tables translate DMA of (device, PASID) */
static struct mock_domain *mock_dev_domain(struct mock_dev *mdev, u32 pasid)
{
	lockdep_assert_held(&mdev->lock);

	if (pasid == IOMMU_NO_PASID)
		return mdev->rid_domain;
	return xa_load(&mdev->pasids, pasid);
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
	struct mock_dev *mdev = to_mock_dev(dev);
	struct mock_domain *mock;
	size_t done = 0;

	memset(res, 0, sizeof(*res));
	mutex_lock(&mdev->lock);
	mock = mock_dev_domain(mdev, pasid);
	if (!mock) {
		res->fault_reason = IOASID_TEST_FAULT_BLOCKED;
		res->fault_iova = iova;
		goto out_unlock;
	}

	mutex_lock(&mock->lock);
	while (done < length) {
		u64 cur = iova + done;
		size_t chunk = min_t(size_t, length - done,
				     PAGE_SIZE - offset_in_page(cur));
		phys_addr_t phys;
		int level;
		u64 *pte;
		void *va;

		pte = mock_pgtable_lookup(mock, cur, &level);
		if (!pte) {
			res->fault_reason = IOASID_TEST_FAULT_NOT_PRESENT;
			res->fault_iova = cur;
			break;
		}
		if (!(*pte & (write ? MOCK_PTE_WRITE : MOCK_PTE_READ))) {
			res->fault_reason = IOASID_TEST_FAULT_PERMISSION;
			res->fault_iova = cur;
			break;
		}
		if (!done)
			res->first_pgsize = BIT(mock_level_shift(level));
		phys = (*pte & MOCK_PTE_ADDR) +
		       (cur & (BIT(mock_level_shift(level)) - 1));
		va = kmap_local_pfn(PHYS_PFN(phys));
		if (write)
			memcpy(va + offset_in_page(phys), buf + done, chunk);
		else
			memcpy(buf + done, va + offset_in_page(phys), chunk);
		kunmap_local(va);
		done += chunk;
	}
	mutex_unlock(&mock->lock);
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
 * @vfio: Bind it to the mock vfio driver
 *
 * Return: the device, probed by the IOMMU core and in a group of its own
 * with DMA blocked, or an ERR_PTR.
 */
struct device *ioasid_mock_dev_create(unsigned int instance, bool vfio)
{
	static const struct property_entry pasid_props[] = {
		PROPERTY_ENTRY_U32("pasid-num-bits", IOASID_TEST_PASID_BITS),
		{ }
	};
	struct mock_dev *mdev;
	int rc, id;

	if (instance >= ARRAY_SIZE(mock_iommus))
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
	mdev->iommu = &mock_iommus[instance];
	mdev->vfio = vfio;
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
	mutex_lock(&iommu_probe_device_lock);
	rc = iommu_fwspec_init(&mdev->dev, &mdev->iommu->fwnode);
	mutex_unlock(&iommu_probe_device_lock);
	if (rc)
		goto err_put;

	rc = device_add(&mdev->dev);
	if (rc)
		goto err_put;
	/* The bus notifier's IOMMU probe, or the vfio driver's, failed */
	if (!mdev->dev.iommu_group || (vfio && !mdev->dev.driver)) {
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
