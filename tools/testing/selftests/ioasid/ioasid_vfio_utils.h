/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the vfio side of the /dev/ioasid selftests: one wrapper per
 * vfio device ioctl returning 0 or the errno.
 */
#ifndef __SELFTEST_IOASID_VFIO_UTILS_H
#define __SELFTEST_IOASID_VFIO_UTILS_H

#include <linux/vfio.h>

#include "ioasid_utils.h"

/* Open /dev/vfio/devices/vfio<index> */
static int vfio_open_index(uint32_t index)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%u", index);
	return open(path, O_RDWR | O_CLOEXEC);
}

static int vfio_bind_ioasid(int vfio_fd, int ioasid_fd, uint32_t *dev_id)
{
	struct vfio_device_bind_ioasid_fd cmd = {
		.argsz = sizeof(cmd),
		.ioasid_fd = ioasid_fd,
	};
	int rc = ioasid_call(vfio_fd, VFIO_DEVICE_BIND_IOASID_FD, &cmd);

	if (!rc && dev_id)
		*dev_id = cmd.out_dev_id;
	return rc;
}

static int vfio_attach_ioasid(int vfio_fd, uint32_t ioasid)
{
	struct vfio_device_attach_ioasid cmd = {
		.argsz = sizeof(cmd),
		.ioasid = ioasid,
	};

	return ioasid_call(vfio_fd, VFIO_DEVICE_ATTACH_IOASID, &cmd);
}

static int vfio_detach_ioasid(int vfio_fd)
{
	struct vfio_device_detach_ioasid cmd = { .argsz = sizeof(cmd) };

	return ioasid_call(vfio_fd, VFIO_DEVICE_DETACH_IOASID, &cmd);
}

static int vfio_attach_ioasid_pasid(int vfio_fd, uint32_t pasid,
				    uint32_t ioasid)
{
	struct vfio_device_attach_ioasid_pasid cmd = {
		.argsz = sizeof(cmd),
		.pasid = pasid,
		.ioasid = ioasid,
	};

	return ioasid_call(vfio_fd, VFIO_DEVICE_ATTACH_IOASID_PASID, &cmd);
}

static int vfio_detach_ioasid_pasid(int vfio_fd, uint32_t pasid)
{
	struct vfio_device_detach_ioasid_pasid cmd = {
		.argsz = sizeof(cmd),
		.pasid = pasid,
	};

	return ioasid_call(vfio_fd, VFIO_DEVICE_DETACH_IOASID_PASID, &cmd);
}

/* The vfio group file (/dev/vfio/<iommu group>) of vfio device @index */
static int vfio_group_open(uint32_t index)
{
	char path[160], link[128];
	const char *group;
	ssize_t len;

	snprintf(path, sizeof(path),
		 "/sys/class/vfio-dev/vfio%u/device/iommu_group", index);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return -1;
	link[len] = '\0';
	group = strrchr(link, '/');
	snprintf(path, sizeof(path), "/dev/vfio/%s", group ? group + 1 : link);
	return open(path, O_RDWR | O_CLOEXEC);
}

/*
 * DMA of an emulated mock vfio device (IOASID_TEST_MOCK_EMULATED), through
 * vfio: 0 or vfio's errno
 */
static int emulated_dma(int fd, uint32_t mock, uint64_t iova, void *buf,
			uint64_t len, uint32_t flags)
{
	struct ioasid_test_cmd cmd = {
		.dma = {
			.flags = flags,
			.iova = iova,
			.length = len,
			.uptr = (uintptr_t)buf,
		},
	};
	int rc = ioasid_test(fd, IOASID_TEST_DMA, mock, &cmd);

	if (!rc && cmd.dma.out_done != len)
		return -1;
	return rc;
}

#endif /* __SELFTEST_IOASID_VFIO_UTILS_H */
