/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the vfio side of the /dev/ioasid selftests: one wrapper per
 * vfio device ioctl returning 0 or the errno.
 */
#ifndef __SELFTEST_IOASID_VFIO_UTILS_H
#define __SELFTEST_IOASID_VFIO_UTILS_H

#include <limits.h>
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

/* --- A /dev/ioasid fd as a vfio container (type1) --- */

static int vfio_set_iommu(int fd, unsigned long type)
{
	return ioctl(fd, VFIO_SET_IOMMU, type) ? errno : 0;
}

/*
 * Is /dev/vfio/vfio a node of /dev/ioasid (CONFIG_IOASID_VFIO_CONTAINER),
 * so that a test meaning vfio's own container would run on the shim?
 */
static bool vfio_container_is_ioasid(void)
{
	struct ioasid_info info;
	int fd, rc;

	fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	rc = ioasid_get_info(fd, &info);
	close(fd);
	return !rc;
}

#define DMA_RW	(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

static int vfio_map_dma(int fd, const void *va, uint64_t iova, uint64_t size,
			uint32_t flags)
{
	struct vfio_iommu_type1_dma_map cmd = {
		.argsz = sizeof(cmd),
		.flags = flags,
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = size,
	};

	return ioasid_call(fd, VFIO_IOMMU_MAP_DMA, &cmd);
}

/* On success *@unmapped is the size the kernel wrote back */
static int vfio_unmap_dma(int fd, uint64_t iova, uint64_t size, uint32_t flags,
			  uint64_t *unmapped)
{
	struct vfio_iommu_type1_dma_unmap cmd = {
		.argsz = sizeof(cmd),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int rc = ioasid_call(fd, VFIO_IOMMU_UNMAP_DMA, &cmd);

	if (!rc && unmapped)
		*unmapped = cmd.size;
	return rc;
}

/* --- Group ioctls, standard vfio --- */

static int group_set_container(int group, int fd)
{
	return ioasid_call(group, VFIO_GROUP_SET_CONTAINER, &fd);
}

static int group_unset_container(int group)
{
	return ioctl(group, VFIO_GROUP_UNSET_CONTAINER) ? errno : 0;
}

static int group_flags(int group, uint32_t *flags)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int rc = ioasid_call(group, VFIO_GROUP_GET_STATUS, &status);

	if (!rc)
		*flags = status.flags;
	return rc;
}

/* VFIO_GROUP_GET_DEVICE_FD of device @name into *@dev */
static int group_device_fd(int group, const char *name, int *dev)
{
	int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);

	if (fd < 0)
		return errno;
	*dev = fd;
	return 0;
}

/* The last component of the target of symlink @path, into @name: 0 or an errno */
static int vfio_link_name(const char *path, char *name, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	return (size_t)snprintf(name, len, "%s", base) < len ? 0 : ENAMETOOLONG;
}

/* The vfio group file (/dev/vfio/<iommu group>) of vfio device @index */
static int vfio_group_open(uint32_t index)
{
	char path[PATH_MAX], group[64];

	snprintf(path, sizeof(path),
		 "/sys/class/vfio-dev/vfio%u/device/iommu_group", index);
	if (vfio_link_name(path, group, sizeof(group)))
		return -1;
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	return open(path, O_RDWR | O_CLOEXEC);
}

/*
 * The open group fd of vfio device @index (/dev/vfio/devices/vfio<index>),
 * and the device's name for VFIO_GROUP_GET_DEVICE_FD into @name; -1 on
 * failure
 */
static int group_of_index(uint32_t index, char *name, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/vfio-dev/vfio%u/device",
		 index);
	if (vfio_link_name(path, name, len))
		return -1;
	return vfio_group_open(index);
}

/*
 * A new mock vfio device behind mock IOMMU @instance, made by context
 * @mfd: its id, vfio index and name, and the open fd of its group, or -1
 */
static int mock_group_new(int mfd, uint32_t instance, uint32_t *mock,
			  uint32_t *index, char *name, size_t len)
{
	if (mock_create_vfio(mfd, instance, mock, index))
		return -1;
	return group_of_index(*index, name, len);
}

#endif /* __SELFTEST_IOASID_VFIO_UTILS_H */
