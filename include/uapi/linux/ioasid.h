/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/ioasid: I/O address spaces for userspace device drivers.
 *
 * Every ioctl takes one struct that starts with ``__u32 size`` (the size of
 * the struct userspace was built with) and ``__u32 flags``.  Structs only ever
 * grow at their end: a kernel accepts a smaller struct from older userspace
 * and a larger one from newer userspace as long as the part it does not know
 * is zero; one larger than a page fails with -E2BIG.  Unknown flags fail with
 * -EOPNOTSUPP, non-zero reserved fields with -EINVAL.  An id that names no
 * IOASID fails with -ENOENT, one that names an IOASID of the wrong kind (a
 * nested one where a normal one is needed, say) with -EINVAL.
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
	IOASID_CMD_CREATE_NESTED = 0x08,
	IOASID_CMD_SET_NESTED_PAGE_TABLES = 0x09,
	IOASID_CMD_CREATE_DELEGATED = 0x0a,
	IOASID_CMD_INVALIDATE = 0x0b,
	IOASID_CMD_GET_HW_INFO = 0x0c,
	/* 0x3f is reserved for the test interface, see ioasid_test.h */
};

/**
 * struct ioasid_destroy - ioctl(IOASID_DESTROY)
 * @size: sizeof(struct ioasid_destroy)
 * @flags: Must be 0
 * @id: Id of the object to destroy
 *
 * Destroy an IOASID of the context, of any kind. One that still has a
 * device attached, or a normal IOASID that is the parent of a nested or
 * delegated one, is not destroyed and -EBUSY is returned. Devices leave the
 * context when their driver unbinds them, not with this call; an id that is
 * no IOASID gives -ENOENT.
 */
struct ioasid_destroy {
	__u32 size;
	__u32 flags;
	__u32 id;
};

#define IOASID_DESTROY _IO(IOASID_TYPE, IOASID_CMD_DESTROY)

/**
 * enum ioasid_info_flags - Flags in &struct ioasid_info.out_flags
 * @IOASID_INFO_IOMMU_BOUND: A device has been bound to the context, or a
 *                           vfio group set to it as container, and has
 *                           selected its IOMMU; the other out_ fields
 *                           describe that IOMMU. Without it they describe
 *                           the limits of the context alone.
 * @IOASID_INFO_CACHE_COHERENT: DMA through the IOMMU snoops CPU caches.
 * @IOASID_INFO_NESTING: The IOMMU can translate in two stages: normal
 *                       IOASIDs created with IOASID_CREATE_NEST_PARENT work,
 *                       and &struct ioasid_info.out_formats lists the
 *                       formats of the guest's stage 1.
 */
enum ioasid_info_flags {
	IOASID_INFO_IOMMU_BOUND = 1 << 0,
	IOASID_INFO_CACHE_COHERENT = 1 << 1,
	IOASID_INFO_NESTING = 1 << 2,
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
 * @out_formats: Bit N set for every &enum ioasid_format N that nested or
 *               delegated IOASIDs can use with this IOMMU
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
	__aligned_u64 out_formats;
};

#define IOASID_GET_INFO _IO(IOASID_TYPE, IOASID_CMD_GET_INFO)

/**
 * enum ioasid_create_flags - Flags for &struct ioasid_create
 * @IOASID_CREATE_NEST_PARENT: The IOASID can be the parent (stage 2) of
 *                             nested and delegated IOASIDs. Its IOMMU
 *                             domains are allocated for nesting, so
 *                             attaching a device whose IOMMU cannot nest
 *                             fails with -EOPNOTSUPP, as does the creation
 *                             once such an IOMMU is bound.
 */
enum ioasid_create_flags {
	IOASID_CREATE_NEST_PARENT = 1 << 0,
};

/**
 * struct ioasid_create - ioctl(IOASID_CREATE)
 * @size: sizeof(struct ioasid_create)
 * @flags: Bitmask of &enum ioasid_create_flags
 * @out_ioasid: Id of the new, empty, normal IOASID
 * @__reserved: Must be 0
 * @max_pgsize: 0, or a power of two of at least the CPU's page size: the
 *              largest IOMMU page the IOASID's mappings may use
 *
 * Create a normal IOASID: an I/O virtual address space that userspace fills
 * with IOASID_MAP. Devices attached to it translate DMA through it.
 *
 * IOMMUs map physically contiguous memory with large pages where they can,
 * and no IOMMU can unmap part of a page without dropping all of it. So
 * IOASID_UNMAP refuses to cut a mapping inside a large page (-EXDEV), as
 * that would take away translations of memory the user keeps. Users that cut
 * mappings at a known granularity (virtio-mem blocks, hot-unplugged RAM
 * slots) declare it as @max_pgsize: no mapping of the IOASID then uses IOMMU
 * pages larger than that, and every cut at a multiple of it succeeds. 0
 * lets the IOMMU use its largest pages.
 */
struct ioasid_create {
	__u32 size;
	__u32 flags;
	__u32 out_ioasid;
	__u32 __reserved;
	__aligned_u64 max_pgsize;
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
 * parts outside it stay mapped and pinned, and their translation never
 * changes, not even for a moment. UNMAP fails having changed nothing, or
 * succeeds.
 *
 * @iova and @length must be aligned to the smallest IOMMU page of every
 * device attached (-EINVAL). A cut inside a page an IOMMU uses for a mapping
 * fails with -EXDEV: see @max_pgsize of &struct ioasid_create. A range
 * with no mapping at all fails with -ENOENT; IOASID_UNMAP_ALL of an empty
 * IOASID succeeds with @out_length 0.
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

/**
 * enum ioasid_format - Formats of stage-1 translation a guest owns
 * @IOASID_FORMAT_VTD_S1: Intel VT-d first-stage page table, nested only.
 *                        The page-table data is struct iommu_hwpt_vtd_s1
 *                        and an invalidation request is struct
 *                        iommu_hwpt_vtd_s1_invalidate, both from
 *                        <linux/iommufd.h>. Its nested IOASIDs attach to
 *                        RIDs only (PASIDs: -EOPNOTSUPP). For erratum
 *                        772415, the VT-d driver refuses read-only
 *                        mappings in nesting parents on all hardware:
 *                        -EINVAL from IOASID_MAP, or from an attach that
 *                        has to fill a domain with them.
 *
 * A format says what the guest's tables look like, what the data given to
 * IOASID_SET_NESTED_PAGE_TABLES or IOASID_CREATE_DELEGATED is and what the
 * requests of IOASID_INVALIDATE are. Values stay below 64 so that they fit
 * &struct ioasid_info.out_formats; 62 and 63 are the mock IOMMU's, in the
 * test interface of the selftests.
 */
enum ioasid_format {
	IOASID_FORMAT_VTD_S1 = 1,
};

/**
 * struct ioasid_create_nested - ioctl(IOASID_CREATE_NESTED)
 * @size: sizeof(struct ioasid_create_nested)
 * @flags: Must be 0
 * @parent_ioasid: Normal IOASID created with IOASID_CREATE_NEST_PARENT: the
 *                 stage 2, translating guest physical addresses (GPAs)
 * @format: &enum ioasid_format of the stage-1 tables
 * @out_ioasid: Id of the new nested IOASID
 * @__reserved: Must be 0
 *
 * Create a nested IOASID: DMA of a device attached to it is translated by
 * a stage-1 table the user (a guest) owns, from IOVA to GPA, then by the
 * parent from GPA to host memory. It has no tables until
 * IOASID_SET_NESTED_PAGE_TABLES. The parent cannot be destroyed while the
 * nested IOASID exists.
 *
 * Errors: -ENOENT when @parent_ioasid is no IOASID, -EINVAL when it is not
 * a normal IOASID created with IOASID_CREATE_NEST_PARENT or when @format
 * is a delegated format, -EOPNOTSUPP for a @format the kernel does not
 * know or, once a device is bound, the IOMMU cannot use.
 */
struct ioasid_create_nested {
	__u32 size;
	__u32 flags;
	__u32 parent_ioasid;
	__u32 format;
	__u32 out_ioasid;
	__u32 __reserved;
};

#define IOASID_CREATE_NESTED _IO(IOASID_TYPE, IOASID_CMD_CREATE_NESTED)

/**
 * struct ioasid_set_nested_page_tables - ioctl(IOASID_SET_NESTED_PAGE_TABLES)
 * @size: sizeof(struct ioasid_set_nested_page_tables)
 * @flags: Must be 0
 * @ioasid: Nested IOASID
 * @format: Its &enum ioasid_format, repeated
 * @data_len: Size of the format's data at @data_uptr
 * @__reserved: Must be 0
 * @data_uptr: The format's data: where the stage-1 table is (a GPA in the
 *             parent) and its settings
 *
 * Tell the kernel where the guest's stage-1 tables are. The kernel keeps a
 * copy of the data; the tables themselves stay in guest memory and the
 * IOMMU reads them through the parent, never through a user pointer. A
 * device attaches to the nested IOASID only after this. To move a device
 * to other tables, set them on another nested IOASID and attach the device
 * there, which replaces its translation in one step.
 *
 * The data is the format's struct as userspace was built: a shorter one,
 * from before the struct grew, is zero-extended.
 *
 * Errors: -ENOENT when @ioasid is no IOASID, -EINVAL when it is not a
 * nested one, when @format is not its format, for data that is too short
 * or malformed, -E2BIG for data longer than the format's with non-zero
 * bytes past it or longer than a page, -EBUSY while a device is attached
 * (or an IOASID_INVALIDATE of the IOASID runs), -ERANGE when the table lies
 * outside the parent's mappings, -EFAULT when @data_uptr cannot be read.
 */
struct ioasid_set_nested_page_tables {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__u32 format;
	__u32 data_len;
	__u32 __reserved;
	__aligned_u64 data_uptr;
};

#define IOASID_SET_NESTED_PAGE_TABLES \
	_IO(IOASID_TYPE, IOASID_CMD_SET_NESTED_PAGE_TABLES)

/**
 * struct ioasid_create_delegated - ioctl(IOASID_CREATE_DELEGATED)
 * @size: sizeof(struct ioasid_create_delegated)
 * @flags: Must be 0
 * @parent_ioasid: Normal IOASID created with IOASID_CREATE_NEST_PARENT
 * @format: &enum ioasid_format of the guest's PASID table and stage-1
 *          tables; a delegated format
 * @data_len: Size of the format's data at @data_uptr
 * @out_ioasid: Id of the new delegated IOASID
 * @data_uptr: The format's data, the vIOMMU handle: where the guest's PASID
 *             table is (a GPA in the parent) and how large it is
 *
 * Create a delegated IOASID: like a nested one, but the guest also routes
 * PASIDs. A device's RID attached to it has every PASID it tags DMA with,
 * and DMA without PASID as PASID 0, translated by the stage-1 table the
 * guest's PASID table names for that PASID. A device PASID attached to it
 * with ATTACH_IOASID_PASID is translated by the guest table's entry for
 * that PASID. The guest changes the routing by editing its PASID table and
 * invalidating with IOASID_INVALIDATE. The guest owns every PASID of a RID
 * attached to a delegated IOASID: the RID attach fails with -EBUSY while
 * PASIDs of the device's group are attached on their own, and a PASID
 * attach fails with -EBUSY while the RID is there.
 *
 * Errors: those of IOASID_CREATE_NESTED, except that @format must be a
 * delegated format (-EINVAL otherwise), and those of
 * IOASID_SET_NESTED_PAGE_TABLES for the data.
 */
struct ioasid_create_delegated {
	__u32 size;
	__u32 flags;
	__u32 parent_ioasid;
	__u32 format;
	__u32 data_len;
	__u32 out_ioasid;
	__aligned_u64 data_uptr;
};

#define IOASID_CREATE_DELEGATED _IO(IOASID_TYPE, IOASID_CMD_CREATE_DELEGATED)

/**
 * struct ioasid_invalidate - ioctl(IOASID_INVALIDATE)
 * @size: sizeof(struct ioasid_invalidate)
 * @flags: Must be 0
 * @ioasid: Nested or delegated IOASID
 * @format: Its &enum ioasid_format, repeated
 * @entry_len: Size of one request, as the format defines it
 * @entry_num: In: number of requests at @entries_uptr. Out: number of
 *             requests carried out, in order, before the first that failed;
 *             left as it was when the call fails before any request is
 *             looked at (a bad @ioasid, @format, @entry_len or @flags)
 * @entries_uptr: Array of @entry_num requests of @entry_len bytes
 *
 * Pass the guest's invalidations of its stage-1 tables (and, for a
 * delegated IOASID, of its PASID table) to the IOMMU: until a change is
 * invalidated, the IOMMU may go on translating with what it cached. The
 * requests are carried out in order; the first that fails stops the call,
 * which returns its error with @entry_num set to the requests done before
 * it. Changes of the parent need no request: the kernel invalidates what
 * they affect itself. With no device attached nothing is cached, and the
 * requests are not looked at.
 *
 * Errors: -ENOENT when @ioasid is no IOASID, -EINVAL when it is a normal
 * one, when @format is not its format or @entry_len is 0 or above a page,
 * or the IOMMU driver's error for a bad request: -EINVAL (also for an
 * @entry_len shorter or longer than its request struct), -EOPNOTSUPP for
 * flags it does not know, -EFAULT for requests it cannot read.
 */
struct ioasid_invalidate {
	__u32 size;
	__u32 flags;
	__u32 ioasid;
	__u32 format;
	__u32 entry_len;
	__u32 entry_num;
	__aligned_u64 entries_uptr;
};

#define IOASID_INVALIDATE _IO(IOASID_TYPE, IOASID_CMD_INVALIDATE)

/**
 * struct ioasid_hw_info - ioctl(IOASID_GET_HW_INFO)
 * @size: sizeof(struct ioasid_hw_info)
 * @flags: Must be 0
 * @dev_id: Id of a device bound to the context, as its driver's bind
 *          returned it (VFIO_DEVICE_BIND_IOASID_FD's out_dev_id)
 * @data_len: In: bytes @data_uptr has room for. Out: size of the IOMMU's
 *            data; what fits is copied and the rest of the room zeroed
 * @data_uptr: User buffer for the data
 * @out_data_type: enum iommu_hw_info_type of <linux/iommufd.h> saying what
 *                 the data is: IOMMU_HW_INFO_TYPE_INTEL_VTD for struct
 *                 iommu_hw_info_vtd (the unit's capability registers),
 *                 IOMMU_HW_INFO_TYPE_NONE when the IOMMU reports nothing
 * @__reserved: Must be 0
 * @out_formats: Bit N set for every &enum ioasid_format N the device's
 *               IOMMU nests with
 *
 * Report the hardware behind one device. A VMM that emulates a vIOMMU
 * offers the guest only the stage-1 features the hardware can walk, and
 * reads them here. Devices of a context may sit behind instances of one
 * IOMMU driver whose features differ; IOASID_GET_INFO describes the first
 * device bound, this call each device.
 *
 * Errors: -ENOENT when @dev_id is no device of the context, -EINVAL when
 * it is an IOASID, -EFAULT when @data_uptr cannot be written, or the IOMMU
 * driver's error.
 */
struct ioasid_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 out_data_type;
	__u32 __reserved;
	__aligned_u64 out_formats;
};

#define IOASID_GET_HW_INFO _IO(IOASID_TYPE, IOASID_CMD_GET_HW_INFO)

#endif /* _UAPI_LINUX_IOASID_H */
