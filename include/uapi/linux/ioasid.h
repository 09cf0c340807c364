/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/ioasid: I/O address spaces for userspace device drivers.
 *
 * Every ioctl takes one struct that starts with ``__u32 size`` (the size of
 * the struct userspace was built with) and ``__u32 flags``.  Structs only ever
 * grow at their end: a kernel accepts a smaller struct from older userspace
 * and a larger one from newer userspace as long as the part it does not know
 * is zero; one larger than a page fails with -E2BIG.  Unknown flags fail with
 * -EOPNOTSUPP, non-zero reserved fields with -EINVAL.
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
	IOASID_CMD_COPY = 0x05,
	IOASID_CMD_IOVA_RANGES = 0x06,
	IOASID_CMD_OPTION = 0x07,
	/* 0x3f is reserved for the test interface, see ioasid_test.h */
};

/**
 * struct ioasid_destroy - ioctl(IOASID_DESTROY)
 * @size: sizeof(struct ioasid_destroy)
 * @flags: Must be 0
 * @id: Id of the object to destroy
 *
 * Destroy an IOASID of the context. One that still has a device attached
 * (or any other user) is not destroyed and -EBUSY is returned. Devices
 * leave the context when their driver unbinds them, not with this call;
 * an id that is no IOASID gives -ENOENT.
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
 * @out_pgsize_bitmap: Page sizes the IOMMU can map; MAP and UNMAP align
 *                     IOVA, length and address to the smallest of them, or
 *                     to the CPU page size if that is larger
 * @out_aperture_start: First IOVA a device behind the IOMMU can reach
 * @out_aperture_last: Last IOVA a device behind the IOMMU can reach
 * @out_account: &enum ioasid_account_mode memory pinned from now on is
 *               charged in
 * @__reserved: Must be 0
 *
 * Report the capabilities of the IOMMU the context was bound to. The first
 * device bound to a context selects that IOMMU; every later device must be
 * compatible with it. Once every device is unbound, the next one bound
 * selects the IOMMU anew. @out_max_pasid_bits is the first device's; each
 * device's own PASID width bounds the PASIDs it can attach.
 */
struct ioasid_info {
	__u32 size;
	__u32 flags;
	__u32 out_flags;
	__u32 out_max_pasid_bits;
	__aligned_u64 out_pgsize_bitmap;
	__aligned_u64 out_aperture_start;
	__aligned_u64 out_aperture_last;
	__u32 out_account;
	__u32 __reserved;
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
 * enum ioasid_map_flags - Flags for &struct ioasid_map and &struct ioasid_copy
 * @IOASID_MAP_FIXED_IOVA: Map at the given IOVA rather than at an IOVA the
 *                         kernel chooses
 * @IOASID_MAP_READ: Devices may read the memory
 * @IOASID_MAP_WRITE: Devices may write the memory
 * @IOASID_MAP_FILE: Map pages of the shmem or hugetlbfs file (a memfd, say)
 *                   &struct ioasid_map.fd at &struct ioasid_map.file_offset
 *                   instead of memory of the calling process
 */
enum ioasid_map_flags {
	IOASID_MAP_FIXED_IOVA = 1 << 0,
	IOASID_MAP_READ = 1 << 1,
	IOASID_MAP_WRITE = 1 << 2,
	IOASID_MAP_FILE = 1 << 3,
};

/**
 * struct ioasid_map - ioctl(IOASID_MAP)
 * @size: sizeof(struct ioasid_map)
 * @flags: Bitmask of &enum ioasid_map_flags; at least one of
 *         IOASID_MAP_READ and IOASID_MAP_WRITE
 * @ioasid: Normal IOASID to map into
 * @fd: With IOASID_MAP_FILE, the file to map; must be 0 otherwise
 * @user_va: Start of the user memory to map
 * @file_offset: With IOASID_MAP_FILE, the offset in the file to map from
 * @length: Bytes to map
 * @iova: IOVA to map at with IOASID_MAP_FIXED_IOVA; otherwise 0, and set
 *        on return to the IOVA the kernel chose
 * @iova_alignment: Without IOASID_MAP_FIXED_IOVA, a power of two, at least
 *                  the MAP alignment, the chosen IOVA must be aligned to;
 *                  or 0 to let the kernel pick one that allows large IOMMU
 *                  pages. Must be 0 with IOASID_MAP_FIXED_IOVA.
 *
 * Pin the memory and map it into the IOASID and every IOMMU domain behind
 * it. @user_va (or @file_offset), @length and @iova must be aligned to the
 * smallest IOMMU page size, or to the CPU page size if that is larger. A
 * kernel-chosen IOVA lies in a usable range (see IOASID_IOVA_RANGES) and
 * never in a reserved one. Devices access the memory cache coherently.
 *
 * If one earlier MAP of the context pinned the whole range already (the
 * same pages at the same user addresses or file offsets), with write
 * access if this one asks for IOASID_MAP_WRITE, that memory is shared: not
 * pinned or charged again. Otherwise all of the range is pinned and
 * charged to the context's accounting mode (see &enum ioasid_account_mode)
 * against RLIMIT_MEMLOCK, unless the caller has CAP_IPC_LOCK.
 *
 * Errors: -EEXIST when the range overlaps a mapping, -EADDRINUSE when it
 * overlaps a reserved region, -ERANGE when the IOMMU cannot reach it,
 * -ENOSPC when no free range fits, -ENOMEM past the memory limit, -EFAULT
 * for memory that cannot be pinned. With IOASID_MAP_FILE: -EBADF for a
 * file that is not shmem or hugetlbfs, -EACCES for one not open for
 * reading (and writing, with IOASID_MAP_WRITE), -EPERM for one sealed
 * against writes with IOASID_MAP_WRITE, -EINVAL for a range past its end.
 */
struct ioasid_map {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__s32 fd;
	union {
		__aligned_u64 user_va;
		__aligned_u64 file_offset;
	};
	__aligned_u64 length;
	__aligned_u64 iova;
	__aligned_u64 iova_alignment;
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
 * Unmap everything mapped inside [@iova, @iova + @length) and unpin the
 * memory no other mapping uses. The range may cut through mappings: the
 * parts outside it stay mapped and pinned. A range with no mapping at all
 * fails with -ENOENT.
 *
 * @out_length can exceed the bytes mapped in the range in one case only: an
 * IOMMU that mapped a large page across the range's edge has to drop all of
 * it, and memory ran out to map the rest of the page again. Then that rest
 * is unmapped too, in every domain alike, and counted: it lies within the
 * mapping that was cut, up to the IOMMU's largest page size beyond the
 * edge. Until the rest is mapped again, DMA to it faults briefly.
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

/**
 * struct ioasid_copy - ioctl(IOASID_COPY)
 * @size: sizeof(struct ioasid_copy)
 * @flags: Bitmask of &enum ioasid_map_flags, without IOASID_MAP_FILE
 * @dst_ioasid: Normal IOASID to map into
 * @src_ioasid: Normal IOASID whose mappings hold the memory; may be
 *              @dst_ioasid
 * @src_iova: Start of the memory in @src_ioasid
 * @length: Bytes to map; [@src_iova, @src_iova + @length) must be mapped
 *          without holes
 * @dst_iova: IOVA in @dst_ioasid with IOASID_MAP_FIXED_IOVA; otherwise 0,
 *            and set on return to the IOVA the kernel chose
 * @iova_alignment: As in &struct ioasid_map
 *
 * Map memory that is mapped in @src_ioasid into @dst_ioasid as well,
 * without pinning or charging it again. The new mapping lives on its own:
 * unmapping the source later leaves it working. IOASID_MAP_WRITE needs
 * memory that was pinned writable (-EPERM otherwise). Other errors are
 * those of IOASID_MAP, and -ENOENT when the source range has a hole.
 */
struct ioasid_copy {
	__u32 size;
	__u32 flags;
	__u32 dst_ioasid;
	__u32 src_ioasid;
	__aligned_u64 src_iova;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 iova_alignment;
};

#define IOASID_COPY _IO(IOASID_TYPE, IOASID_CMD_COPY)

/**
 * struct ioasid_iova_range - one usable IOVA range
 * @start: First IOVA
 * @last: Last IOVA
 */
struct ioasid_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/**
 * struct ioasid_iova_ranges - ioctl(IOASID_IOVA_RANGES)
 * @size: sizeof(struct ioasid_iova_ranges)
 * @flags: Must be 0
 * @ioasid: Normal IOASID to query
 * @num_ranges: In: number of entries @ranges has room for. Out: number of
 *              usable ranges; if more than there was room for, the call
 *              fails with -EMSGSIZE after filling the room
 * @ranges: User address of an array of &struct ioasid_iova_range
 * @out_iova_alignment: Alignment MAP needs for IOVAs and lengths
 *
 * Report the IOVA ranges a MAP into the IOASID may use right now, in
 * ascending order: the IOMMU's aperture minus the reserved regions of every
 * device attached to the IOASID. Before a device is bound to the context
 * that is the whole 64-bit space. Attaching a device can only shrink them;
 * a device with a reserved region over an existing mapping is refused.
 */
struct ioasid_iova_ranges {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__u32 num_ranges;
	__aligned_u64 ranges;
	__aligned_u64 out_iova_alignment;
};

#define IOASID_IOVA_RANGES _IO(IOASID_TYPE, IOASID_CMD_IOVA_RANGES)

/**
 * enum ioasid_account_mode - How pinned memory is charged
 * @IOASID_ACCOUNT_MM_LOCKED: To the pinning process's locked memory
 *                            (VmLck, mm->locked_vm), as vfio does; the
 *                            default
 * @IOASID_ACCOUNT_USER: To the pinning user's locked memory, shared by all
 *                       its processes (user_struct->locked_vm), as io_uring
 *                       does; nothing shows in the process's VmLck
 * @IOASID_ACCOUNT_MM_PINNED: To the pinning process's pinned memory (VmPin,
 *                            mm->pinned_vm)
 *
 * In every mode the charge is held against RLIMIT_MEMLOCK unless the
 * process pinning has CAP_IPC_LOCK.
 */
enum ioasid_account_mode {
	IOASID_ACCOUNT_MM_LOCKED = 0,
	IOASID_ACCOUNT_USER = 1,
	IOASID_ACCOUNT_MM_PINNED = 2,
};

/**
 * enum ioasid_option_id - What &struct ioasid_option sets or gets
 * @IOASID_OPTION_ACCOUNT: &enum ioasid_account_mode for memory pinned from
 *                         now on; memory pinned already stays charged as it
 *                         was
 */
enum ioasid_option_id {
	IOASID_OPTION_ACCOUNT = 1,
};

/**
 * enum ioasid_option_flags - Flags for &struct ioasid_option
 * @IOASID_OPTION_GET: Read the option into @val instead of setting it
 */
enum ioasid_option_flags {
	IOASID_OPTION_GET = 1 << 0,
};

/**
 * struct ioasid_option - ioctl(IOASID_OPTION)
 * @size: sizeof(struct ioasid_option)
 * @flags: Bitmask of &enum ioasid_option_flags
 * @option: One of &enum ioasid_option_id
 * @__reserved: Must be 0
 * @val: The value to set, or set on return to the current one
 *
 * Set or get an option of the context. An unknown @option fails with
 * -EOPNOTSUPP, a bad @val with -EINVAL.
 */
struct ioasid_option {
	__u32 size;
	__u32 flags;
	__u32 option;
	__u32 __reserved;
	__aligned_u64 val;
};

#define IOASID_OPTION _IO(IOASID_TYPE, IOASID_CMD_OPTION)

#endif /* _UAPI_LINUX_IOASID_H */
