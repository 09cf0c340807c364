/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/ioasid: I/O address spaces for userspace device drivers.
 *
 * Every ioctl takes one struct that starts with ``__u32 size`` (the size of
 * the struct userspace was built with) and ``__u32 flags``.  Structs only ever
 * grow at their end: a kernel accepts a smaller struct from older userspace
 * and a larger one from newer userspace as long as the part it does not know
 * is zero.  Unknown flags fail with -EOPNOTSUPP, non-zero reserved fields with
 * -EINVAL.
 */
#ifndef _UAPI_LINUX_IOASID_H
#define _UAPI_LINUX_IOASID_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOASID_TYPE 0xA6

enum {
	IOASID_CMD_BASE = 0x00,
	IOASID_CMD_DESTROY = IOASID_CMD_BASE,
	IOASID_CMD_GET_INFO = 0x01,
	IOASID_CMD_CREATE = 0x02,
	IOASID_CMD_MAP = 0x03,
	IOASID_CMD_UNMAP = 0x04,
	/* 0x3f is reserved for the test interface, see ioasid_test.h */
};

/**
 * struct ioasid_destroy - ioctl(IOASID_DESTROY)
 * @size: sizeof(struct ioasid_destroy)
 * @flags: Must be 0
 * @id: Id of the object to destroy
 *
 * Destroy an object of the context. An IOASID that still has a device
 * attached (or any other user) is not destroyed and -EBUSY is returned.
 */
struct ioasid_destroy {
	__u32 size;
	__u32 flags;
	__u32 id;
};

#define IOASID_DESTROY _IO(IOASID_TYPE, IOASID_CMD_DESTROY)

/**
 * enum ioasid_info_flags - Flags in &struct ioasid_info.out_flags
 * @IOASID_INFO_IOMMU_BOUND: A device has been bound to the context and has
 *                           selected its IOMMU; the other out_ fields
 *                           describe that IOMMU. Without it they describe
 *                           the limits of the context alone.
 * @IOASID_INFO_CACHE_COHERENT: DMA through the IOMMU snoops CPU caches.
 */
enum ioasid_info_flags {
	IOASID_INFO_IOMMU_BOUND = 1 << 0,
	IOASID_INFO_CACHE_COHERENT = 1 << 1,
};

/**
 * struct ioasid_info - ioctl(IOASID_GET_INFO)
 * @size: sizeof(struct ioasid_info)
 * @flags: Must be 0
 * @out_flags: Bitmask of &enum ioasid_info_flags
 * @out_max_pasid_bits: Width of the PASIDs the IOMMU supports, 0 if none
 * @out_pgsize_bitmap: Page sizes the IOMMU can map; MAP and UNMAP need the
 *                     smallest one as alignment of IOVA, length and address
 * @out_aperture_start: First IOVA a device behind the IOMMU can reach
 * @out_aperture_last: Last IOVA a device behind the IOMMU can reach
 *
 * Report the capabilities of the IOMMU the context was bound to. The first
 * device bound to a context selects that IOMMU; every later device must be
 * compatible with it.
 */
struct ioasid_info {
	__u32 size;
	__u32 flags;
	__u32 out_flags;
	__u32 out_max_pasid_bits;
	__aligned_u64 out_pgsize_bitmap;
	__aligned_u64 out_aperture_start;
	__aligned_u64 out_aperture_last;
};

#define IOASID_GET_INFO _IO(IOASID_TYPE, IOASID_CMD_GET_INFO)

/**
 * struct ioasid_create - ioctl(IOASID_CREATE)
 * @size: sizeof(struct ioasid_create)
 * @flags: Must be 0
 * @out_ioasid: Id of the new, empty, normal IOASID
 *
 * Create a normal IOASID: an I/O virtual address space that userspace fills
 * with IOASID_MAP. Devices attached to it translate DMA through it.
 */
struct ioasid_create {
	__u32 size;
	__u32 flags;
	__u32 out_ioasid;
};

#define IOASID_CREATE _IO(IOASID_TYPE, IOASID_CMD_CREATE)

/**
 * enum ioasid_map_flags - Flags for &struct ioasid_map
 * @IOASID_MAP_FIXED_IOVA: Map at &struct ioasid_map.iova rather than at an
 *                         IOVA the kernel chooses
 * @IOASID_MAP_READ: Devices may read the memory
 * @IOASID_MAP_WRITE: Devices may write the memory
 */
enum ioasid_map_flags {
	IOASID_MAP_FIXED_IOVA = 1 << 0,
	IOASID_MAP_READ = 1 << 1,
	IOASID_MAP_WRITE = 1 << 2,
};

/**
 * struct ioasid_map - ioctl(IOASID_MAP)
 * @size: sizeof(struct ioasid_map)
 * @flags: Bitmask of &enum ioasid_map_flags; at least one of
 *         IOASID_MAP_READ and IOASID_MAP_WRITE
 * @ioasid: Normal IOASID to map into
 * @__reserved: Must be 0
 * @user_va: Start of the user memory to map
 * @length: Bytes to map
 * @iova: IOVA to map at with IOASID_MAP_FIXED_IOVA; otherwise set on return
 *        to the IOVA the kernel chose
 *
 * Pin the user memory and map it into the IOASID and every IOMMU domain
 * behind it. @user_va, @length and @iova must be aligned to the smallest
 * IOMMU page size. Pinned pages are charged to the caller's RLIMIT_MEMLOCK
 * (mm->locked_vm), unless it has CAP_IPC_LOCK. A range that overlaps an
 * existing mapping fails with -EEXIST, one that the IOMMU cannot reach with
 * -ERANGE, one that goes over the limit with -ENOMEM.
 */
struct ioasid_map {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

#define IOASID_MAP _IO(IOASID_TYPE, IOASID_CMD_MAP)

/**
 * enum ioasid_unmap_flags - Flags for &struct ioasid_unmap
 * @IOASID_UNMAP_ALL: Unmap everything; iova and length must be 0
 */
enum ioasid_unmap_flags {
	IOASID_UNMAP_ALL = 1 << 0,
};

/**
 * struct ioasid_unmap - ioctl(IOASID_UNMAP)
 * @size: sizeof(struct ioasid_unmap)
 * @flags: Bitmask of &enum ioasid_unmap_flags
 * @ioasid: Normal IOASID to unmap from
 * @__reserved: Must be 0
 * @iova: Start of the range to unmap
 * @length: Bytes in the range
 * @out_length: Set on return to the number of bytes that were unmapped
 *
 * Unmap every mapping inside [@iova, @iova + @length) and unpin its memory.
 * A mapping that only partly lies in the range fails the whole call with
 * -EINVAL and nothing is unmapped; a range with no mapping at all fails with
 * -ENOENT.
 */
struct ioasid_unmap {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 out_length;
};

#define IOASID_UNMAP _IO(IOASID_TYPE, IOASID_CMD_UNMAP)

#endif /* _UAPI_LINUX_IOASID_H */
