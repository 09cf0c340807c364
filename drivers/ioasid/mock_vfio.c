// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vfio driver for mock IOMMU devices, so that the selftests drive the
 * real vfio device ioctls (bind to an ioasid context, attach by RID and by
 * PASID, replace, detach, close in any order) without hardware, and see
 * the result through the mock IOMMU's page-table walk.
 *
 * The device has one vfio region, readable once the fd is bound: the
 * region access that vfio refuses before.
 */
#include <linux/device.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "mock_iommu.h"

#define MOCK_VFIO_REGION_SIZE	64
#define MOCK_VFIO_PATTERN	0xa5

struct mock_vfio {
	struct vfio_device vdev;
};

static ssize_t mock_vfio_read(struct vfio_device *vdev, char __user *buf,
			      size_t count, loff_t *ppos)
{
	u8 data[MOCK_VFIO_REGION_SIZE];

	if (*ppos < 0 || *ppos >= MOCK_VFIO_REGION_SIZE)
		return 0;
	count = min_t(size_t, count, MOCK_VFIO_REGION_SIZE - *ppos);
	memset(data, MOCK_VFIO_PATTERN, count);
	if (copy_to_user(buf, data, count))
		return -EFAULT;
	*ppos += count;
	return count;
}

static const struct vfio_device_ops mock_vfio_ops = {
	.name = "ioasid-mock-vfio",
	.read = mock_vfio_read,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

static int mock_vfio_probe(struct device *dev)
{
	struct mock_vfio *mv;
	int rc;

	mv = vfio_alloc_device(mock_vfio, vdev, dev, &mock_vfio_ops);
	if (IS_ERR(mv))
		return PTR_ERR(mv);
	rc = vfio_register_group_dev(&mv->vdev);
	if (rc) {
		vfio_put_device(&mv->vdev);
		return rc;
	}
	dev_set_drvdata(dev, mv);
	return 0;
}

/* Waits until every fd of the vfio device is closed */
static int mock_vfio_remove(struct device *dev)
{
	struct mock_vfio *mv = dev_get_drvdata(dev);

	vfio_unregister_group_dev(&mv->vdev);
	vfio_put_device(&mv->vdev);
	return 0;
}

static struct device_driver mock_vfio_driver = {
	.name = "ioasid_mock_vfio",
	.probe = mock_vfio_probe,
	.remove = mock_vfio_remove,
	.suppress_bind_attrs = true,
};

/**
 * ioasid_mock_vfio_index() - which /dev/vfio/devices/vfioN a mock device is
 * @dev: Mock device created for vfio
 *
 * Return: N, or -ENODEV if the device has no vfio device.
 */
int ioasid_mock_vfio_index(struct device *dev)
{
	struct mock_vfio *mv = dev_get_drvdata(dev);

	return mv ? mv->vdev.index : -ENODEV;
}

int ioasid_mock_vfio_init(void)
{
	return ioasid_mock_driver_register(&mock_vfio_driver);
}

void ioasid_mock_vfio_exit(void)
{
	driver_unregister(&mock_vfio_driver);
}
