/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Test interface of /dev/ioasid (CONFIG_IOASID_TEST), shared by the kernel
 * and tools/testing/selftests/ioasid. Not a stable uAPI.
 */
#ifndef _IOASID_TEST_H
#define _IOASID_TEST_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * enum ioasid_test_op - What &struct ioasid_test_cmd asks for
 * @IOASID_TEST_MOCK_CREATE: Create a mock device behind mock IOMMU
 *                           mock_create.instance; its id goes to
 *                           mock_create.out_id. It lives until
 *                           IOASID_TEST_MOCK_DESTROY or until the context
 *                           is closed. With IOASID_TEST_MOCK_VFIO in
 *                           mock_create.flags it is a vfio device,
 *                           /dev/vfio/devices/vfio<mock_create.out_vfio>,
 *                           normally bound and attached through its vfio
 *                           fd (the MOCK_ ops work on it too, as another
 *                           owner would); it goes away once that fd is
 *                           closed too.
 * @IOASID_TEST_MOCK_DESTROY: Destroy mock device @id, unbinding it first
 * @IOASID_TEST_MOCK_BIND: Bind mock device @id to this context, as a driver
 *                         would with ioasid_bind_device(); the device id in
 *                         the context goes to mock_bind.out_dev_id
 * @IOASID_TEST_MOCK_UNBIND: Undo IOASID_TEST_MOCK_BIND
 * @IOASID_TEST_MOCK_ATTACH: Attach the RID of mock device @id to IOASID
 *                           mock_attach.ioasid (or replace its attachment)
 * @IOASID_TEST_MOCK_DETACH: Detach the RID of mock device @id
 * @IOASID_TEST_DMA: Let mock device @id do DMA as described by the dma
 *                   member; the mock IOMMU translates every byte by walking
 *                   the page tables attached to the device
 * @IOASID_TEST_MOCK_ATTACH_PASID: Attach PASID mock_attach.pasid of mock
 *                                 device @id to IOASID mock_attach.ioasid
 * @IOASID_TEST_MOCK_DETACH_PASID: Detach PASID mock_attach.pasid
 * @IOASID_TEST_FAIL_MAP: Let the next fail_map.after map calls into any
 *                        mock IOMMU domain succeed and the one after fail
 *                        with -ENOMEM; -1 cancels. @id is ignored.
 * @IOASID_TEST_FAIL_INVALIDATE: Let the next fail_map.after invalidation
 *                               requests, in any mock nested domain, be
 *                               carried out and the one after fail with
 *                               -EIO; -1 cancels. @id is ignored.
 * @IOASID_TEST_IOTLB_SYNCS: Read and reset the count of IOTLB flushes of
 *                           mock paging domains, and where the last one
 *                           began. @id is ignored.
 * @IOASID_TEST_FAIL_UNMAP: Let the next fail_map.after unmap calls into any
 *                          mock IOMMU domain work and the one after unmap
 *                          nothing, as a broken driver would; -1 cancels.
 *                          @id is ignored.
 * @IOASID_TEST_ACCESS_CREATE: Create a mock driver's access to the context's
 *                             IOASIDs, as an emulated device would; its fd
 *                             goes to access.out_fd. Closing the fd unpins
 *                             what it pinned and destroys the access. The
 *                             other ACCESS_ ops name that fd in @id.
 * @IOASID_TEST_ACCESS_ATTACH: Attach the access to normal IOASID
 *                             access.ioasid, or replace its attachment
 * @IOASID_TEST_ACCESS_DETACH: Detach the access
 * @IOASID_TEST_ACCESS_PIN: Pin the pages of access.length bytes from
 *                          access.iova on (at most IOASID_TEST_DMA_MAX),
 *                          for writing with IOASID_TEST_ACCESS_WRITE. With
 *                          access.uptr, copy those bytes through the
 *                          pinned pages: to access.uptr, or with
 *                          IOASID_TEST_ACCESS_WRITE from it. The mock
 *                          keeps the pin until IOASID_TEST_ACCESS_UNPIN
 *                          or its unmap callback drops it.
 * @IOASID_TEST_ACCESS_UNPIN: Drop the pin of access.iova and access.length
 * @IOASID_TEST_ACCESS_RW: Copy access.length bytes (at most
 *                         IOASID_TEST_DMA_MAX) between access.uptr and the
 *                         IOVAs from access.iova on, to the IOVAs with
 *                         IOASID_TEST_ACCESS_WRITE; from a kernel worker,
 *                         which has no mm, with IOASID_TEST_ACCESS_KTHREAD
 * @IOASID_TEST_ACCESS_MODE: Set what the mock's unmap callback does to
 *                           access.mode (&enum ioasid_test_access_mode)
 * @IOASID_TEST_ACCESS_INFO: Read the access.out_ fields
 * @IOASID_TEST_ACCESS_MIRROR: Make the mock driver mirror every mapping of
 *                             the IOASID it is attached to, as a vDPA
 *                             parent fed one table of them would: pin all
 *                             of them now (ioasid_access_next_mapping()),
 *                             each new one its map callback is told of,
 *                             and in its unmap callback re-pin what stays
 *                             mapped of the pins it drops
 * @IOASID_TEST_IOMMU_FLOOR: Time the IOMMU's own work under a MAP and an
 *                           UNMAP of floor.npages scattered 4 KiB pages,
 *                           with nothing pinned: in the first domain of
 *                           normal IOASID @id, map one zeroed page
 *                           read-only at every 4 KiB IOVA from floor.iova
 *                           on (an iommu_map call each, one IOTLB sync),
 *                           read every frame back, then unmap them all
 *                           with one IOTLB flush. The range must lie in
 *                           the domain's aperture, clear of mappings and
 *                           reserved IOVAs; it is clear again afterwards.
 *                           -ENODEV if the IOASID has no domain.
 * @IOASID_TEST_OP_FLOOR: Time the least op_floor.npages MAPs and UNMAPs of
 *                        one 4 KiB page each of the memory at op_floor.uptr
 *                        can cost, with no bookkeeping: per page, charge it
 *                        to RLIMIT_MEMLOCK, pin it for writing and map it
 *                        at the next 4 KiB IOVA from op_floor.iova in the
 *                        first domain of IOASID @id, with an IOTLB sync
 *                        each (one iommu_map call); then per page, unmap it
 *                        with an IOTLB flush each, unpin and uncharge it.
 *                        The range rules of IOASID_TEST_IOMMU_FLOOR apply;
 *                        -ENOMEM past RLIMIT_MEMLOCK, -EFAULT for memory
 *                        that cannot be pinned, with everything undone;
 *                        -EIO if the IOMMU left a page mapped, which then
 *                        stays pinned and charged. With
 *                        IOASID_TEST_OP_FLOOR_SCATTER, the UNMAPs come in a
 *                        scattered order: each then finds its page table
 *                        entry and struct page far from the last one's, as
 *                        an UNMAP of a mapping made long before does.
 */
enum ioasid_test_op {
	IOASID_TEST_MOCK_CREATE = 1,
	IOASID_TEST_MOCK_DESTROY,
	IOASID_TEST_MOCK_BIND,
	IOASID_TEST_MOCK_UNBIND,
	IOASID_TEST_MOCK_ATTACH,
	IOASID_TEST_MOCK_DETACH,
	IOASID_TEST_DMA,
	IOASID_TEST_FAIL_MAP,
	IOASID_TEST_MOCK_ATTACH_PASID,
	IOASID_TEST_MOCK_DETACH_PASID,
	IOASID_TEST_FAIL_INVALIDATE,
	IOASID_TEST_IOTLB_SYNCS,
	IOASID_TEST_FAIL_UNMAP,
	IOASID_TEST_ACCESS_CREATE,
	IOASID_TEST_ACCESS_ATTACH,
	IOASID_TEST_ACCESS_DETACH,
	IOASID_TEST_ACCESS_PIN,
	IOASID_TEST_ACCESS_UNPIN,
	IOASID_TEST_ACCESS_RW,
	IOASID_TEST_ACCESS_MODE,
	IOASID_TEST_ACCESS_INFO,
	IOASID_TEST_ACCESS_MIRROR,
	IOASID_TEST_IOMMU_FLOOR,
	IOASID_TEST_OP_FLOOR,
};

/**
 * enum ioasid_test_access_flags - Flags of &struct ioasid_test_cmd.access
 * @IOASID_TEST_ACCESS_WRITE: Pin for writing, copy to the IOVAs
 * @IOASID_TEST_ACCESS_KTHREAD: Copy from a kernel worker
 */
enum ioasid_test_access_flags {
	IOASID_TEST_ACCESS_WRITE = 1 << 0,
	IOASID_TEST_ACCESS_KTHREAD = 1 << 1,
};

/**
 * enum ioasid_test_op_floor_flags - Flags of &struct ioasid_test_cmd.op_floor
 * @IOASID_TEST_OP_FLOOR_SCATTER: Unmap the pages in a scattered order, by a
 *                                stride of about 5/8 of the number of
 *                                pages mapped, made coprime with it (1
 *                                below 8 pages), instead of in the order
 *                                they were mapped
 */
enum ioasid_test_op_floor_flags {
	IOASID_TEST_OP_FLOOR_SCATTER = 1 << 0,
};

/**
 * enum ioasid_test_access_mode - What the mock access's unmap callback does
 * @IOASID_TEST_ACCESS_UNPIN_NOW: Drop the pins that overlap the range
 *                                before returning, as drivers should
 * @IOASID_TEST_ACCESS_UNPIN_LATER: Drop them from a worker, 50 ms later
 * @IOASID_TEST_ACCESS_HOLD: Keep them, as a broken driver would
 */
enum ioasid_test_access_mode {
	IOASID_TEST_ACCESS_UNPIN_NOW,
	IOASID_TEST_ACCESS_UNPIN_LATER,
	IOASID_TEST_ACCESS_HOLD,
};

/**
 * enum ioasid_test_mock_flags - Flags of &struct ioasid_test_cmd.mock_create
 * @IOASID_TEST_MOCK_VFIO: Make the mock device a vfio device
 * @IOASID_TEST_MOCK_EMULATED: With IOASID_TEST_MOCK_VFIO: an emulated vfio
 *                             device behind no IOMMU (instance ignored),
 *                             whose DMA goes through vfio_pin_pages() and
 *                             vfio_dma_rw()
 * @IOASID_TEST_MOCK_NO_USER_DOMAINS: The device's IOMMU refuses to attach
 *                                    (-EINVAL) the paging domains its
 *                                    domain_alloc_user() op gives, as a
 *                                    scalable-mode VT-d that translates
 *                                    with the first stage alone refuses
 *                                    6.12's second-stage ones; it takes
 *                                    those iommu_paging_domain_alloc()
 *                                    gives
 */
enum ioasid_test_mock_flags {
	IOASID_TEST_MOCK_VFIO = 1 << 0,
	IOASID_TEST_MOCK_EMULATED = 1 << 1,
	IOASID_TEST_MOCK_NO_USER_DOMAINS = 1 << 2,
};

/**
 * enum ioasid_test_fault - Why the mock IOMMU stopped a DMA
 * @IOASID_TEST_FAULT_NONE: The whole transfer was translated
 * @IOASID_TEST_FAULT_BLOCKED: Nothing is attached: DMA is blocked
 * @IOASID_TEST_FAULT_NOT_PRESENT: No translation for the IOVA
 * @IOASID_TEST_FAULT_PERMISSION: The translation forbids the access
 * @IOASID_TEST_FAULT_PASID: The guest's PASID table has no valid entry for
 *                           the PASID (delegated IOASIDs)
 * @IOASID_TEST_FAULT_RANGE: The address is beyond what the table
 *                           translates
 */
enum ioasid_test_fault {
	IOASID_TEST_FAULT_NONE,
	IOASID_TEST_FAULT_BLOCKED,
	IOASID_TEST_FAULT_NOT_PRESENT,
	IOASID_TEST_FAULT_PERMISSION,
	IOASID_TEST_FAULT_PASID,
	IOASID_TEST_FAULT_RANGE,
};

/**
 * enum ioasid_test_stage - Which stage of translation faulted
 * @IOASID_TEST_STAGE_NONE: None did, or DMA was blocked before any stage
 * @IOASID_TEST_STAGE_1: The guest's stage 1 (or PASID table): the IOVA
 *                       (or PASID) has no translation there
 * @IOASID_TEST_STAGE_2: The parent, translating a GPA: the final one, or
 *                       that of a guest table the IOMMU had to read. For a
 *                       normal IOASID, its only stage.
 */
enum ioasid_test_stage {
	IOASID_TEST_STAGE_NONE,
	IOASID_TEST_STAGE_1,
	IOASID_TEST_STAGE_2,
};

/**
 * enum ioasid_test_format - Stage-1 formats of the mock IOMMU
 * @IOASID_FORMAT_MOCK_S1: Nested: one stage-1 table, data
 *                         &struct ioasid_mock_s1
 * @IOASID_FORMAT_MOCK_PASID_TABLE: Delegated: a PASID table naming a
 *                                  stage-1 table per PASID, data &struct
 *                                  ioasid_mock_pasid_table
 *
 * Both take &struct ioasid_mock_invalidate requests.
 *
 * A mock stage-1 table has three levels of 512 little-endian 64-bit entries,
 * each level one 4 KiB guest page, and translates 39-bit IOVAs to GPAs in
 * 4 KiB pages. An entry is valid with IOASID_MOCK_S1_PRESENT and holds the
 * GPA of the next level, or in the last level of the page, in
 * IOASID_MOCK_S1_ADDR; IOASID_MOCK_S1_READ and IOASID_MOCK_S1_WRITE in the
 * last level allow the access. A PASID table has 1 << pasid_bits entries
 * of 64 bits, entry N for PASID N (PASID 0 for DMA without one), valid
 * with IOASID_MOCK_S1_PRESENT and holding the GPA of the PASID's stage-1
 * table in IOASID_MOCK_S1_ADDR.
 */
enum ioasid_test_format {
	IOASID_FORMAT_MOCK_S1 = 62,
	IOASID_FORMAT_MOCK_PASID_TABLE = 63,
};

#define IOASID_MOCK_S1_PRESENT	_BITULL(0)
#define IOASID_MOCK_S1_READ	_BITULL(1)
#define IOASID_MOCK_S1_WRITE	_BITULL(2)
#define IOASID_MOCK_S1_ADDR	0x000ffffffffff000ULL
#define IOASID_MOCK_S1_LEVELS	3
#define IOASID_MOCK_S1_IOVA_BITS 39

/**
 * struct ioasid_mock_s1 - data of IOASID_FORMAT_MOCK_S1
 * @root_gpa: GPA of the top-level table, 4 KiB aligned
 * @flags: Must be 0
 * @__reserved: Must be 0
 */
struct ioasid_mock_s1 {
	__aligned_u64 root_gpa;
	__u32 flags;
	__u32 __reserved;
};

/**
 * struct ioasid_mock_pasid_table - data of IOASID_FORMAT_MOCK_PASID_TABLE
 * @table_gpa: GPA of the PASID table, 4 KiB aligned
 * @pasid_bits: log2 of its number of entries, 1 to IOASID_TEST_PASID_BITS
 * @__reserved: Must be 0
 */
struct ioasid_mock_pasid_table {
	__aligned_u64 table_gpa;
	__u32 pasid_bits;
	__u32 __reserved;
};

/**
 * enum ioasid_mock_invalidate_flags - Flags of &struct ioasid_mock_invalidate
 * @IOASID_MOCK_INV_ALL: Everything cached; @iova and @length must be 0
 * @IOASID_MOCK_INV_PASID: Only what was cached for PASID @pasid
 */
enum ioasid_mock_invalidate_flags {
	IOASID_MOCK_INV_ALL = 1 << 0,
	IOASID_MOCK_INV_PASID = 1 << 1,
};

/**
 * struct ioasid_mock_invalidate - an invalidation request of the mock formats
 * @flags: &enum ioasid_mock_invalidate_flags
 * @pasid: PASID, with IOASID_MOCK_INV_PASID; must be 0 otherwise
 * @iova: Start of the IOVA range whose translations go
 * @length: Its length in bytes; not 0 unless IOASID_MOCK_INV_ALL
 *
 * The mock IOMMU caches whole translations, IOVA to host page, tagged with
 * the PASID; a change of a guest table or PASID table entry takes effect
 * once the translations that used it are invalidated.
 */
struct ioasid_mock_invalidate {
	__u32 flags;
	__u32 pasid;
	__aligned_u64 iova;
	__aligned_u64 length;
};

/**
 * enum ioasid_test_dma_flags - Flags of &struct ioasid_test_cmd.dma
 * @IOASID_TEST_DMA_WRITE: The device writes memory (data flows from uptr to
 *                         memory); without it the device reads memory
 * @IOASID_TEST_DMA_CPU_COPY: An emulated device copies with vfio_dma_rw()
 *                            instead of pinning with vfio_pin_pages()
 * @IOASID_TEST_DMA_KEEP_PINS: An emulated device keeps the pages pinned
 *                             until vfio's dma_unmap() callback or its
 *                             close
 *
 * The DMA of an emulated device (IOASID_TEST_MOCK_EMULATED) goes through
 * vfio, which fails it with an errno where the mock IOMMU would report a
 * fault: out_done is @length on success, the out_fault fields are 0.
 */
enum ioasid_test_dma_flags {
	IOASID_TEST_DMA_WRITE = 1 << 0,
	IOASID_TEST_DMA_CPU_COPY = 1 << 1,
	IOASID_TEST_DMA_KEEP_PINS = 1 << 2,
};

enum {
	/* Largest transfer IOASID_TEST_DMA does in one call */
	IOASID_TEST_DMA_MAX = 1 << 20,
	/*
	 * Mock IOMMU instances: 0, 1 and 3 are compatible but cannot share a
	 * domain, 2 is an IOMMU of another kind. 3 has no page smaller than
	 * 2 MiB, and a software MSI window and a relaxable direct-mapped
	 * region besides its reserved region.
	 */
	IOASID_TEST_NUM_INSTANCES = 4,
};

/* Reserved IOVA region of the devices of each mock IOMMU instance */
#define IOASID_TEST_RESV_START_0	0xfee00000ULL
#define IOASID_TEST_RESV_START_1	0x40000000ULL
#define IOASID_TEST_RESV_SIZE		0x100000ULL
/* The other reserved regions of instance 3, of the same size */
#define IOASID_TEST_SW_MSI_START	0x8000000ULL
#define IOASID_TEST_RELAXABLE_START	0x9000000ULL

/*
 * IOASID_GET_HW_INFO out_data_type of mock IOMMU instances 0, 1 and 3,
 * whose data is a __u32: their PASID width. Instance 2 reports nothing.
 */
#define IOASID_TEST_HW_INFO_TYPE	0x10a5

/* PASID width of mock IOMMU instances 0, 1 and 3; instance 2 has none */
#define IOASID_TEST_PASID_BITS		8

/**
 * struct ioasid_test_cmd - ioctl(IOASID_TEST)
 * @size: sizeof(struct ioasid_test_cmd)
 * @flags: Must be 0
 * @op: One of &enum ioasid_test_op
 * @id: Mock device the operation is about
 * @mock_create: IOASID_TEST_MOCK_CREATE
 * @mock_create.instance: Mock IOMMU instance, < IOASID_TEST_NUM_INSTANCES
 * @mock_create.out_id: Id of the new mock device
 * @mock_create.flags: &enum ioasid_test_mock_flags
 * @mock_create.out_vfio: N of its /dev/vfio/devices/vfioN, with
 *                        IOASID_TEST_MOCK_VFIO
 * @mock_bind: IOASID_TEST_MOCK_BIND
 * @mock_bind.out_dev_id: Id of the bound device
 * @mock_attach: IOASID_TEST_MOCK_ATTACH
 * @mock_attach.ioasid: IOASID to attach to
 * @mock_attach.pasid: PASID, for the PASID ops
 * @dma: IOASID_TEST_DMA
 * @dma.pasid: PASID the DMA is tagged with; 0 for none (the RID)
 * @dma.flags: IOASID_TEST_DMA_WRITE or 0
 * @dma.iova: First IOVA accessed
 * @dma.length: Bytes to transfer, at most IOASID_TEST_DMA_MAX
 * @dma.uptr: User buffer of @dma.length bytes: the source of a write, the
 *            destination of a read
 * @dma.out_done: Bytes transferred before the transfer ended
 * @dma.out_fault_iova: IOVA that faulted, if any
 * @dma.out_fault_reason: &enum ioasid_test_fault
 * @dma.out_fault_stage: &enum ioasid_test_stage
 * @dma.out_first_pgsize: Size of the IOMMU page (4 KiB, 2 MiB or 1 GiB)
 *                        that translated the first byte, 0 if it faulted;
 *                        4 KiB through a mock stage 1
 * @dma.out_fault_gpa: With a stage-2 fault under a stage 1, the GPA that
 *                     faulted
 * @dma.out_iotlb_hit: Set when the first byte was translated from the
 *                     IOTLB rather than by walking the tables
 * @dma.out_msi_cookie: Set when the paging domain that translates (a nested
 *                      one's parent) has the MSI cookie that MSIs through
 *                      a software MSI window need
 * @fail_map: IOASID_TEST_FAIL_MAP, IOASID_TEST_FAIL_UNMAP and
 *            IOASID_TEST_FAIL_INVALIDATE
 * @fail_map.after: Map calls that still succeed, or -1
 * @iotlb_syncs: IOASID_TEST_IOTLB_SYNCS
 * @iotlb_syncs.out_count: IOTLB flushes of every mock paging domain since
 *                         the previous IOASID_TEST_IOTLB_SYNCS
 * @iotlb_syncs.out_map_count: IOTLB syncs after new mappings
 *                             (iotlb_sync_map) since then
 * @iotlb_syncs.out_reads: Frames read back from mock paging domains
 *                         (iova_to_phys) since then
 * @iotlb_syncs.out_last_flush: IOVA where the range of the last of those
 *                              flushes that flushed anything began, or
 *                              U64_MAX for none
 * @access: The ACCESS_ ops
 * @access.out_fd: IOASID_TEST_ACCESS_CREATE: fd of the new access
 * @access.ioasid: IOASID_TEST_ACCESS_ATTACH: the IOASID
 * @access.flags: &enum ioasid_test_access_flags
 * @access.mode: IOASID_TEST_ACCESS_MODE: &enum ioasid_test_access_mode
 * @access.iova: First IOVA pinned or copied
 * @access.length: Bytes pinned or copied
 * @access.uptr: User buffer of access.length bytes, or 0 for a pin
 * @access.out_unmaps: IOASID_TEST_ACCESS_INFO: calls of the unmap callback
 * @access.out_unmap_iova: The iova of the last one
 * @access.out_unmap_length: Its length
 * @access.out_pins: Pins the mock holds
 * @access.out_pinned: Bytes they pin, overlaps counted twice
 * @floor: IOASID_TEST_IOMMU_FLOOR
 * @floor.iova: First IOVA
 * @floor.npages: Pages, 1 to 1 << 20
 * @floor.__reserved: Must be 0
 * @floor.out_map_ns: Nanoseconds mapping them, the IOTLB sync included
 * @floor.out_read_ns: Nanoseconds reading their frames back
 * @floor.out_unmap_ns: Nanoseconds unmapping them, the IOTLB flush included
 * @op_floor: IOASID_TEST_OP_FLOOR
 * @op_floor.iova: First IOVA
 * @op_floor.uptr: Page aligned user address of the first page
 * @op_floor.npages: Pages, 1 to 1 << 16
 * @op_floor.flags: &enum ioasid_test_op_floor_flags
 * @op_floor.out_map_ns: Nanoseconds of the MAPs' work
 * @op_floor.out_unmap_ns: Nanoseconds of the UNMAPs' work
 * @__pad: Size of the union
 */
struct ioasid_test_cmd {
	__u32 size;
	__u32 flags;
	__u32 op;
	__u32 id;
	union {
		struct {
			__u32 instance;
			__u32 out_id;
			__u32 flags;
			__u32 out_vfio;
		} mock_create;
		struct {
			__u32 out_dev_id;
		} mock_bind;
		struct {
			__u32 ioasid;
			__u32 pasid;
		} mock_attach;
		struct {
			__u32 pasid;
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__aligned_u64 out_done;
			__aligned_u64 out_fault_iova;
			__u32 out_fault_reason;
			__u32 out_fault_stage;
			__aligned_u64 out_first_pgsize;
			__aligned_u64 out_fault_gpa;
			__u32 out_iotlb_hit;
			__u32 out_msi_cookie;
		} dma;
		struct {
			__s32 after;
		} fail_map;
		struct {
			__aligned_u64 out_count;
			__aligned_u64 out_map_count;
			__aligned_u64 out_reads;
			__aligned_u64 out_last_flush;
		} iotlb_syncs;
		struct {
			__u32 out_fd;
			__u32 ioasid;
			__u32 flags;
			__u32 mode;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__aligned_u64 out_unmaps;
			__aligned_u64 out_unmap_iova;
			__aligned_u64 out_unmap_length;
			__aligned_u64 out_pins;
			__aligned_u64 out_pinned;
		} access;
		struct {
			__aligned_u64 iova;
			__u32 npages;
			__u32 __reserved;
			__aligned_u64 out_map_ns;
			__aligned_u64 out_read_ns;
			__aligned_u64 out_unmap_ns;
		} floor;
		struct {
			__aligned_u64 iova;
			__aligned_u64 uptr;
			__u32 npages;
			__u32 flags;
			__aligned_u64 out_map_ns;
			__aligned_u64 out_unmap_ns;
		} op_floor;
		__aligned_u64 __pad[10];
	};
};

#define IOASID_TEST _IO(0xA6, 0x3f)

#endif /* _IOASID_TEST_H */
