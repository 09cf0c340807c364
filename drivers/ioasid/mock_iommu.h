/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mock IOMMU driver used by the /dev/ioasid selftests.
 */
#ifndef __IOASID_MOCK_IOMMU_H
#define __IOASID_MOCK_IOMMU_H

#include <linux/errno.h>
#include <linux/types.h>

#include "ioasid_test.h"

struct device;
struct device_driver;

int ioasid_mock_iommu_init(void);
void ioasid_mock_iommu_exit(void);

struct device *ioasid_mock_dev_create(unsigned int instance, u32 flags);
bool ioasid_mock_dev_emulated(struct device *dev);
int ioasid_mock_driver_register(struct device_driver *drv);
void ioasid_mock_dev_destroy(struct device *dev);

/* iommu_ops->hw_info() type of the mock IOMMUs that can nest */
#define IOASID_MOCK_HW_INFO_TYPE	IOASID_TEST_HW_INFO_TYPE

void ioasid_mock_fail_map(int after);
void ioasid_mock_fail_unmap(int after);
void ioasid_mock_iotlb_syncs(u64 *syncs, u64 *map_syncs, u64 *reads,
			     u64 *last_flush);
void ioasid_mock_fail_invalidate(int after);

struct ioasid_ucmd;
struct page;
int ioasid_test_access_cmd(struct ioasid_ucmd *ucmd);
void ioasid_mock_copy_pages(struct page **pages, size_t off, void *buf,
			    size_t length, bool write);
/**
 * struct ioasid_mock_dma_res - how a mock DMA went
 * @fault_iova: IOVA that faulted, if one did
 * @fault_reason: &enum ioasid_test_fault
 * @fault_stage: &enum ioasid_test_stage
 * @fault_gpa: GPA that faulted at stage 2 under a stage 1
 * @first_pgsize: Size of the IOMMU page that translated the first byte
 * @iotlb_hit: The first byte was translated from the IOTLB
 * @msi_cookie: The paging domain that translated has an MSI cookie
 */
struct ioasid_mock_dma_res {
	u64 fault_iova;
	u32 fault_reason;
	u32 fault_stage;
	u64 fault_gpa;
	u64 first_pgsize;
	bool iotlb_hit;
	bool msi_cookie;
};

size_t ioasid_mock_dma(struct device *dev, u32 pasid, u64 iova, void *buf,
		       size_t length, bool write, struct ioasid_mock_dma_res *res);

#if IS_ENABLED(CONFIG_VFIO_DEVICE_CDEV) && IS_BUILTIN(CONFIG_VFIO)
int ioasid_mock_vfio_init(void);
void ioasid_mock_vfio_exit(void);
int ioasid_mock_vfio_index(struct device *dev);
int ioasid_mock_vfio_dma(struct device *dev, u64 iova, void *buf,
			 size_t length, u32 flags);
#else
static inline int ioasid_mock_vfio_init(void)
{
	return 0;
}

static inline void ioasid_mock_vfio_exit(void)
{
}

static inline int ioasid_mock_vfio_index(struct device *dev)
{
	return -EOPNOTSUPP;
}

static inline int ioasid_mock_vfio_dma(struct device *dev, u64 iova,
				       void *buf, size_t length, u32 flags)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* __IOASID_MOCK_IOMMU_H */
