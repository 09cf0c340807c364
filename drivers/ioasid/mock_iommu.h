/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mock IOMMU driver used by the /dev/ioasid selftests.
 */
#ifndef __IOASID_MOCK_IOMMU_H
#define __IOASID_MOCK_IOMMU_H

#include <linux/types.h>

struct device;

int ioasid_mock_iommu_init(void);
void ioasid_mock_iommu_exit(void);

struct device *ioasid_mock_dev_create(unsigned int instance);
void ioasid_mock_dev_destroy(struct device *dev);

void ioasid_mock_fail_map(int after);
size_t ioasid_mock_dma(struct device *dev, u32 pasid, u64 iova, void *buf,
		       size_t length, bool write, u64 *fault_iova,
		       u32 *fault_reason);

#endif /* __IOASID_MOCK_IOMMU_H */
