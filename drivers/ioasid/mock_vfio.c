// SPDX-License-Identifier: GPL-2.0-only
/*
 * A vfio driver for mock IOMMU devices, so that the selftests drive the
 * real vfio device ioctls (bind to an ioasid context, attach by RID and by
 * PASID, replace, detach, close in any order) without hardware, and see
 * the result through the mock IOMMU's page-table walk.
 *
 * The device has one vfio region, readable once the fd is bound: the
 * region access that vfio refuses before.
 *
 * An emulated mock device has no IOMMU: like a vfio mdev, it reaches the
 * memory of the IOASID it is attached to with vfio_pin_pages() and
 * vfio_dma_rw(), which vfio serves from the device's ioasid access.
 */
#include <linux/device.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "mock_iommu.h"

#define MOCK_VFIO_REGION_SIZE	64
#define MOCK_VFIO_PATTERN	0xa5

/**
 * struct mock_vfio - a mock vfio device
 * @vdev: The vfio device
 * @lock: Protects @open and @pins, of an emulated device
 * @open: Between open_device() and close_device()
 * @pins: Pages kept pinned after a DMA with IOASID_TEST_DMA_KEEP_PINS,
 *        until the dma_unmap() callback names them or the device closes
 */
struct mock_vfio {
	struct vfio_device vdev;
	struct mutex lock; /* open, pins */
	bool open;
	struct list_head pins;
};

/**
 * struct mock_vfio_pin - pages an emulated mock device keeps pinned
 * @node: In &struct mock_vfio.pins
 * @iova: First IOVA, page aligned
 * @npages: Pages pinned
 */
struct mock_vfio_pin {
	struct list_head node;
	u64 iova;
	int npages;
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

static struct mock_vfio *to_mock_vfio(struct vfio_device *vdev)
{
	return container_of(vdev, struct mock_vfio, vdev);
}

static void mock_vfio_unpin(struct mock_vfio *mv, struct mock_vfio_pin *pin)
{
	lockdep_assert_held(&mv->lock);

	vfio_unpin_pages(&mv->vdev, pin->iova, pin->npages);
	list_del(&pin->node);
	kfree(pin);
}

/* Userspace unmaps memory: drop the pins of it, as vfio requires */
static void mock_vfio_dma_unmap(struct vfio_device *vdev, u64 iova,
				u64 length)
{
	struct mock_vfio *mv = to_mock_vfio(vdev);
	u64 last = iova + min(length, U64_MAX - iova) - 1;
	struct mock_vfio_pin *pin, *next;

	mutex_lock(&mv->lock);
	list_for_each_entry_safe(pin, next, &mv->pins, node)
		if (pin->iova <= last &&
		    pin->iova + ((u64)pin->npages << PAGE_SHIFT) - 1 >= iova)
			mock_vfio_unpin(mv, pin);
	mutex_unlock(&mv->lock);
}

static int mock_vfio_open_device(struct vfio_device *vdev)
{
	struct mock_vfio *mv = to_mock_vfio(vdev);

	mutex_lock(&mv->lock);
	mv->open = true;
	mutex_unlock(&mv->lock);
	return 0;
}

static void mock_vfio_close_device(struct vfio_device *vdev)
{
	struct mock_vfio *mv = to_mock_vfio(vdev);
	struct mock_vfio_pin *pin, *next;

	mutex_lock(&mv->lock);
	list_for_each_entry_safe(pin, next, &mv->pins, node)
		mock_vfio_unpin(mv, pin);
	mv->open = false;
	mutex_unlock(&mv->lock);
}

static const struct vfio_device_ops mock_vfio_emulated_ops = {
	.name = "ioasid-mock-vfio-emulated",
	.open_device = mock_vfio_open_device,
	.close_device = mock_vfio_close_device,
	.read = mock_vfio_read,
	.dma_unmap = mock_vfio_dma_unmap,
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
};

/**
 * ioasid_mock_vfio_dma() - DMA of an emulated mock vfio device
 * @dev: Mock device created emulated, for vfio
 * @iova: First IOVA
 * @buf: Kernel buffer of @length bytes
 * @length: Bytes to transfer, at most IOASID_TEST_DMA_MAX
 * @flags: &enum ioasid_test_dma_flags
 *
 * Pins the pages with vfio_pin_pages(), copies through them and unpins
 * them, or keeps them pinned with IOASID_TEST_DMA_KEEP_PINS; with
 * IOASID_TEST_DMA_CPU_COPY copies with vfio_dma_rw() instead.
 *
 * Return: 0, or the error of vfio, or -ENODEV when the vfio device is not
 * open.
 */
int ioasid_mock_vfio_dma(struct device *dev, u64 iova, void *buf,
			 size_t length, u32 flags)
{
	struct mock_vfio *mv = dev_get_drvdata(dev);
	bool write = flags & IOASID_TEST_DMA_WRITE;
	int npages = DIV_ROUND_UP(offset_in_page(iova) + length, PAGE_SIZE);
	struct mock_vfio_pin *pin = NULL;
	struct page **pages;
	int rc;

	if (!mv || !length || length > IOASID_TEST_DMA_MAX)
		return -EINVAL;
	pages = kcalloc(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	if (flags & IOASID_TEST_DMA_KEEP_PINS) {
		pin = kzalloc(sizeof(*pin), GFP_KERNEL);
		if (!pin) {
			rc = -ENOMEM;
			goto out_free;
		}
	}

	mutex_lock(&mv->lock);
	rc = -ENODEV;
	if (!mv->open)
		goto out_unlock;
	if (flags & IOASID_TEST_DMA_CPU_COPY) {
		rc = vfio_dma_rw(&mv->vdev, iova, buf, length, write);
		goto out_unlock;
	}
	rc = vfio_pin_pages(&mv->vdev, iova, npages,
			    IOMMU_READ | (write ? IOMMU_WRITE : 0), pages);
	if (rc < 0)
		goto out_unlock;
	ioasid_mock_copy_pages(pages, offset_in_page(iova), buf, length, write);
	if (pin) {
		pin->iova = ALIGN_DOWN(iova, PAGE_SIZE);
		pin->npages = npages;
		list_add_tail(&pin->node, &mv->pins);
		pin = NULL;
	} else {
		vfio_unpin_pages(&mv->vdev, iova, npages);
	}
	rc = 0;
out_unlock:
	mutex_unlock(&mv->lock);
	kfree(pin);
out_free:
	kfree(pages);
	return rc;
}

static int mock_vfio_probe(struct device *dev)
{
	bool emulated = ioasid_mock_dev_emulated(dev);
	struct mock_vfio *mv;
	int rc;

	mv = vfio_alloc_device(mock_vfio, vdev, dev,
			       emulated ? &mock_vfio_emulated_ops :
					  &mock_vfio_ops);
	if (IS_ERR(mv))
		return PTR_ERR(mv);
	mutex_init(&mv->lock);
	INIT_LIST_HEAD(&mv->pins);
	if (emulated)
		rc = vfio_register_emulated_iommu_dev(&mv->vdev);
	else
		rc = vfio_register_group_dev(&mv->vdev);
	if (rc) {
		mutex_destroy(&mv->lock);
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
	mutex_destroy(&mv->lock);
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
