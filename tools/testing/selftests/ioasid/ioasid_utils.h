/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the /dev/ioasid selftests: one wrapper per ioctl returning
 * 0 or the errno, so tests read as "this call gives that errno".
 */
#ifndef __SELFTEST_IOASID_UTILS_H
#define __SELFTEST_IOASID_UTILS_H

#include <errno.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ioasid.h>
#include <linux/iommufd.h>
#include "../../../../drivers/ioasid/ioasid_test.h"

#define PAGE_SZ 4096UL
#define SZ_2M (2UL << 20)

static int ioasid_call(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

static int ioasid_open(void)
{
	return open("/dev/ioasid", O_RDWR | O_CLOEXEC);
}

static int ioasid_create(int fd, uint32_t *id)
{
	struct ioasid_create cmd = { .size = sizeof(cmd) };
	int rc = ioasid_call(fd, IOASID_CREATE, &cmd);

	if (!rc)
		*id = cmd.out_ioasid;
	return rc;
}

/* A normal IOASID whose mappings use no IOMMU page larger than @max */
static int ioasid_create_max_pgsize(int fd, uint64_t max, uint32_t *id)
{
	struct ioasid_create cmd = { .size = sizeof(cmd), .max_pgsize = max };
	int rc = ioasid_call(fd, IOASID_CREATE, &cmd);

	if (!rc)
		*id = cmd.out_ioasid;
	return rc;
}

/* A normal IOASID that can be the parent of nested and delegated ones */
static int ioasid_create_parent(int fd, uint32_t *id)
{
	struct ioasid_create cmd = {
		.size = sizeof(cmd),
		.flags = IOASID_CREATE_NEST_PARENT,
	};
	int rc = ioasid_call(fd, IOASID_CREATE, &cmd);

	if (!rc)
		*id = cmd.out_ioasid;
	return rc;
}

static int ioasid_create_nested(int fd, uint32_t parent, uint32_t format,
				uint32_t *id)
{
	struct ioasid_create_nested cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = parent,
		.format = format,
	};
	int rc = ioasid_call(fd, IOASID_CREATE_NESTED, &cmd);

	if (!rc)
		*id = cmd.out_ioasid;
	return rc;
}

static int ioasid_set_tables(int fd, uint32_t id, uint32_t format,
			     const void *data, uint32_t data_len)
{
	struct ioasid_set_nested_page_tables cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.format = format,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	return ioasid_call(fd, IOASID_SET_NESTED_PAGE_TABLES, &cmd);
}

/* Point nested IOASID @id at the mock stage-1 table at @root_gpa */
static int ioasid_set_mock_s1(int fd, uint32_t id, uint64_t root_gpa)
{
	struct ioasid_mock_s1 s1 = { .root_gpa = root_gpa };

	return ioasid_set_tables(fd, id, IOASID_FORMAT_MOCK_S1, &s1,
				 sizeof(s1));
}

static int ioasid_create_delegated(int fd, uint32_t parent, uint32_t format,
				   const void *data, uint32_t data_len,
				   uint32_t *id)
{
	struct ioasid_create_delegated cmd = {
		.size = sizeof(cmd),
		.parent_ioasid = parent,
		.format = format,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};
	int rc = ioasid_call(fd, IOASID_CREATE_DELEGATED, &cmd);

	if (!rc)
		*id = cmd.out_ioasid;
	return rc;
}

/* A delegated IOASID over the mock PASID table at @table_gpa */
static int ioasid_create_mock_delegated(int fd, uint32_t parent,
					uint64_t table_gpa, uint32_t pasid_bits,
					uint32_t *id)
{
	struct ioasid_mock_pasid_table pt = {
		.table_gpa = table_gpa,
		.pasid_bits = pasid_bits,
	};

	return ioasid_create_delegated(fd, parent,
				       IOASID_FORMAT_MOCK_PASID_TABLE, &pt,
				       sizeof(pt), id);
}

/* Pass @num requests of @len bytes; *done is set to the number carried out */
static int ioasid_invalidate(int fd, uint32_t id, uint32_t format,
			     const void *reqs, uint32_t len, uint32_t num,
			     uint32_t *done)
{
	struct ioasid_invalidate cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.format = format,
		.entry_len = len,
		.entry_num = num,
		.entries_uptr = (uintptr_t)reqs,
	};
	int rc = ioasid_call(fd, IOASID_INVALIDATE, &cmd);

	if (done)
		*done = cmd.entry_num;
	return rc;
}

/* The IOMMU's data for device @dev_id into @buf of *len bytes; sets *len */
static int ioasid_get_hw_info(int fd, uint32_t dev_id, void *buf,
			      uint32_t *len, uint32_t *type, uint64_t *formats)
{
	struct ioasid_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = *len,
		.data_uptr = (uintptr_t)buf,
	};
	int rc = ioasid_call(fd, IOASID_GET_HW_INFO, &cmd);

	if (!rc) {
		*len = cmd.data_len;
		*type = cmd.out_data_type;
		*formats = cmd.out_formats;
	}
	return rc;
}

static int ioasid_destroy(int fd, uint32_t id)
{
	struct ioasid_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioasid_call(fd, IOASID_DESTROY, &cmd);
}

static int ioasid_get_info(int fd, struct ioasid_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioasid_call(fd, IOASID_GET_INFO, info);
}

/* Map at *iova with IOASID_MAP_FIXED_IOVA in @flags, else set *iova */
static int ioasid_map(int fd, uint32_t id, void *buf, uint64_t length,
		      uint64_t *iova, uint32_t flags)
{
	struct ioasid_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioasid = id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova = (flags & IOASID_MAP_FIXED_IOVA) ? *iova : 0,
	};
	int rc = ioasid_call(fd, IOASID_MAP, &cmd);

	if (!rc)
		*iova = cmd.iova;
	return rc;
}

#define MAP_RW (IOASID_MAP_READ | IOASID_MAP_WRITE)
#define MAP_FIXED_RW (IOASID_MAP_FIXED_IOVA | MAP_RW)

static int ioasid_map_fixed(int fd, uint32_t id, void *buf, uint64_t length,
			    uint64_t iova)
{
	return ioasid_map(fd, id, buf, length, &iova, MAP_FIXED_RW);
}

static int ioasid_unmap(int fd, uint32_t id, uint64_t iova, uint64_t length,
			uint64_t *unmapped)
{
	struct ioasid_unmap cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.iova = iova,
		.length = length,
	};
	int rc = ioasid_call(fd, IOASID_UNMAP, &cmd);

	if (!rc && unmapped)
		*unmapped = cmd.out_length;
	return rc;
}

/* Map @length bytes of @memfd at @offset, like ioasid_map() otherwise */
static int ioasid_map_file(int fd, uint32_t id, int memfd, uint64_t offset,
			   uint64_t length, uint64_t *iova, uint32_t flags)
{
	struct ioasid_map cmd = {
		.size = sizeof(cmd),
		.flags = flags | IOASID_MAP_FILE,
		.ioasid = id,
		.fd = memfd,
		.file_offset = offset,
		.length = length,
		.iova = (flags & IOASID_MAP_FIXED_IOVA) ? *iova : 0,
	};
	int rc = ioasid_call(fd, IOASID_MAP, &cmd);

	if (!rc)
		*iova = cmd.iova;
	return rc;
}

/* Map at a chosen IOVA aligned to @align */
static int ioasid_map_aligned(int fd, uint32_t id, void *buf, uint64_t length,
			      uint64_t align, uint64_t *iova)
{
	struct ioasid_map cmd = {
		.size = sizeof(cmd),
		.flags = IOASID_MAP_READ | IOASID_MAP_WRITE,
		.ioasid = id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova_alignment = align,
	};
	int rc = ioasid_call(fd, IOASID_MAP, &cmd);

	if (!rc)
		*iova = cmd.iova;
	return rc;
}

/* Copy at *dst_iova with IOASID_MAP_FIXED_IOVA in @flags, else set it */
static int ioasid_copy(int fd, uint32_t dst, uint32_t src, uint64_t src_iova,
		       uint64_t length, uint64_t *dst_iova, uint32_t flags)
{
	struct ioasid_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioasid = dst,
		.src_ioasid = src,
		.src_iova = src_iova,
		.length = length,
		.dst_iova = (flags & IOASID_MAP_FIXED_IOVA) ? *dst_iova : 0,
	};
	int rc = ioasid_call(fd, IOASID_COPY, &cmd);

	if (!rc)
		*dst_iova = cmd.dst_iova;
	return rc;
}

/* Usable ranges into @ranges (room for *@num); *@num set to the count */
static int ioasid_iova_ranges(int fd, uint32_t id,
			      struct ioasid_iova_range *ranges, uint32_t *num)
{
	struct ioasid_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioasid = id,
		.num_ranges = *num,
		.ranges = (uintptr_t)ranges,
	};
	int rc = ioasid_call(fd, IOASID_IOVA_RANGES, &cmd);

	if (!rc || rc == EMSGSIZE)
		*num = cmd.num_ranges;
	return rc;
}

static int ioasid_set_option(int fd, uint32_t option, uint64_t val)
{
	struct ioasid_option cmd = {
		.size = sizeof(cmd),
		.option = option,
		.val = val,
	};

	return ioasid_call(fd, IOASID_OPTION, &cmd);
}

static int ioasid_get_option(int fd, uint32_t option, uint64_t *val)
{
	struct ioasid_option cmd = {
		.size = sizeof(cmd),
		.flags = IOASID_OPTION_GET,
		.option = option,
	};
	int rc = ioasid_call(fd, IOASID_OPTION, &cmd);

	if (!rc)
		*val = cmd.val;
	return rc;
}

static int ioasid_unmap_all(int fd, uint32_t id, uint64_t *unmapped)
{
	struct ioasid_unmap cmd = {
		.size = sizeof(cmd),
		.flags = IOASID_UNMAP_ALL,
		.ioasid = id,
	};
	int rc = ioasid_call(fd, IOASID_UNMAP, &cmd);

	if (!rc && unmapped)
		*unmapped = cmd.out_length;
	return rc;
}

/* UNMAP_ALL of an IOASID that must be empty: succeeds, unmaps nothing */
#define ASSERT_IOASID_EMPTY(fd, id)					\
	do {								\
		uint64_t __unmapped = ~0ULL;				\
									\
		ASSERT_EQ(0, ioasid_unmap_all(fd, id, &__unmapped));	\
		ASSERT_EQ(0, __unmapped);				\
	} while (0)

static int ioasid_test(int fd, uint32_t op, uint32_t id,
		       struct ioasid_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	cmd->op = op;
	cmd->id = id;
	return ioasid_call(fd, IOASID_TEST, cmd);
}

static int mock_create(int fd, uint32_t instance, uint32_t *mock_id)
{
	struct ioasid_test_cmd cmd = {
		.mock_create = { .instance = instance },
	};
	int rc = ioasid_test(fd, IOASID_TEST_MOCK_CREATE, 0, &cmd);

	if (!rc)
		*mock_id = cmd.mock_create.out_id;
	return rc;
}

/* A mock device that is a vfio device; *vfio_index is N of vfioN */
static int mock_create_vfio(int fd, uint32_t instance, uint32_t *mock_id,
			    uint32_t *vfio_index)
{
	struct ioasid_test_cmd cmd = {
		.mock_create = {
			.instance = instance,
			.flags = IOASID_TEST_MOCK_VFIO,
		},
	};
	int rc = ioasid_test(fd, IOASID_TEST_MOCK_CREATE, 0, &cmd);

	if (!rc) {
		*mock_id = cmd.mock_create.out_id;
		*vfio_index = cmd.mock_create.out_vfio;
	}
	return rc;
}

static int mock_attach_pasid(int fd, uint32_t mock_id, uint32_t pasid,
			     uint32_t ioasid)
{
	struct ioasid_test_cmd cmd = {
		.mock_attach = { .ioasid = ioasid, .pasid = pasid },
	};

	return ioasid_test(fd, IOASID_TEST_MOCK_ATTACH_PASID, mock_id, &cmd);
}

static int mock_detach_pasid(int fd, uint32_t mock_id, uint32_t pasid)
{
	struct ioasid_test_cmd cmd = { .mock_attach = { .pasid = pasid } };

	return ioasid_test(fd, IOASID_TEST_MOCK_DETACH_PASID, mock_id, &cmd);
}

static int mock_destroy(int fd, uint32_t mock_id)
{
	struct ioasid_test_cmd cmd = {};

	return ioasid_test(fd, IOASID_TEST_MOCK_DESTROY, mock_id, &cmd);
}

static int mock_bind(int fd, uint32_t mock_id, uint32_t *dev_id)
{
	struct ioasid_test_cmd cmd = {};
	int rc = ioasid_test(fd, IOASID_TEST_MOCK_BIND, mock_id, &cmd);

	if (!rc && dev_id)
		*dev_id = cmd.mock_bind.out_dev_id;
	return rc;
}

static int mock_unbind(int fd, uint32_t mock_id)
{
	struct ioasid_test_cmd cmd = {};

	return ioasid_test(fd, IOASID_TEST_MOCK_UNBIND, mock_id, &cmd);
}

static int mock_attach(int fd, uint32_t mock_id, uint32_t ioasid)
{
	struct ioasid_test_cmd cmd = { .mock_attach = { .ioasid = ioasid } };

	return ioasid_test(fd, IOASID_TEST_MOCK_ATTACH, mock_id, &cmd);
}

static int mock_detach(int fd, uint32_t mock_id)
{
	struct ioasid_test_cmd cmd = {};

	return ioasid_test(fd, IOASID_TEST_MOCK_DETACH, mock_id, &cmd);
}

/* Let @after more mock IOMMU map calls succeed, fail the next; -1 cancels */
static int mock_fail_map(int fd, int after)
{
	struct ioasid_test_cmd cmd = { .fail_map = { .after = after } };

	return ioasid_test(fd, IOASID_TEST_FAIL_MAP, 0, &cmd);
}

static int mock_fail_unmap(int fd, int after)
{
	struct ioasid_test_cmd cmd = { .fail_map = { .after = after } };

	return ioasid_test(fd, IOASID_TEST_FAIL_UNMAP, 0, &cmd);
}

/* Let @after more mock invalidation requests work, fail the next; -1 cancels */
static int mock_fail_invalidate(int fd, int after)
{
	struct ioasid_test_cmd cmd = { .fail_map = { .after = after } };

	return ioasid_test(fd, IOASID_TEST_FAIL_INVALIDATE, 0, &cmd);
}

/* What a mock DMA did */
struct dma_result {
	uint64_t done;
	uint64_t fault_iova;
	uint32_t fault;
	uint32_t stage;
	uint64_t fault_gpa;
	uint64_t pgsize;
	bool iotlb_hit;
	bool msi_cookie;
};

/* DMA tagged with @pasid, 0 for none */
static int mock_dma_pasid(int fd, uint32_t mock_id, uint32_t pasid,
			  uint64_t iova, void *buf, uint64_t length, bool write,
			  struct dma_result *res)
{
	struct ioasid_test_cmd cmd = {
		.dma = {
			.pasid = pasid,
			.flags = write ? IOASID_TEST_DMA_WRITE : 0,
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)buf,
		},
	};
	int rc = ioasid_test(fd, IOASID_TEST_DMA, mock_id, &cmd);

	if (!rc && res) {
		res->done = cmd.dma.out_done;
		res->fault_iova = cmd.dma.out_fault_iova;
		res->fault = cmd.dma.out_fault_reason;
		res->pgsize = cmd.dma.out_first_pgsize;
		res->stage = cmd.dma.out_fault_stage;
		res->fault_gpa = cmd.dma.out_fault_gpa;
		res->iotlb_hit = cmd.dma.out_iotlb_hit;
		res->msi_cookie = cmd.dma.out_msi_cookie;
	}
	return rc;
}

static int mock_dma(int fd, uint32_t mock_id, uint64_t iova, void *buf,
		    uint64_t length, bool write, struct dma_result *res)
{
	return mock_dma_pasid(fd, mock_id, 0, iova, buf, length, write, res);
}

/* Fault reason of a mock DMA read of one byte at @iova, NONE if it works */
static uint32_t mock_probe(int fd, uint32_t mock_id, uint64_t iova,
			   bool write)
{
	struct dma_result res;
	char byte = 0x5a;

	if (mock_dma(fd, mock_id, iova, &byte, 1, write, &res))
		return ~0u;
	return res.fault;
}

/*
 * IOASID_TEST_IOMMU_FLOOR: time the IOMMU's work for @npages scattered
 * 4 KiB pages at @iova of IOASID @ioasid's first domain; @ns gets the map,
 * read-back and unmap times
 */
static int iommu_floor(int fd, uint32_t ioasid, uint64_t iova,
		       uint32_t npages, uint64_t *ns)
{
	struct ioasid_test_cmd cmd = {
		.floor = { .iova = iova, .npages = npages },
	};
	int rc = ioasid_test(fd, IOASID_TEST_IOMMU_FLOOR, ioasid, &cmd);

	if (!rc && ns) {
		ns[0] = cmd.floor.out_map_ns;
		ns[1] = cmd.floor.out_read_ns;
		ns[2] = cmd.floor.out_unmap_ns;
	}
	return rc;
}

/*
 * IOASID_TEST_OP_FLOOR of @npages at @iova from @va with @flags; @ns, if not
 * NULL, gets the nanoseconds of the MAPs' and the UNMAPs' work
 */
static int op_floor_flags(int fd, uint32_t ioasid, uint64_t iova,
			  const void *va, uint32_t npages, uint32_t flags,
			  uint64_t *ns)
{
	struct ioasid_test_cmd cmd = {
		.op_floor = { .iova = iova, .uptr = (uintptr_t)va,
			      .npages = npages, .flags = flags },
	};
	int rc = ioasid_test(fd, IOASID_TEST_OP_FLOOR, ioasid, &cmd);

	if (!rc && ns) {
		ns[0] = cmd.op_floor.out_map_ns;
		ns[1] = cmd.op_floor.out_unmap_ns;
	}
	return rc;
}

/* IOASID_TEST_OP_FLOOR, the UNMAPs in the order of the MAPs */
static int op_floor(int fd, uint32_t ioasid, uint64_t iova, const void *va,
		    uint32_t npages, uint64_t *ns)
{
	return op_floor_flags(fd, ioasid, iova, va, npages, 0, ns);
}

/* The access API, through the mock driver of IOASID_TEST_ACCESS_* */

static int access_create(int fd, int *afd)
{
	struct ioasid_test_cmd cmd = {};
	int rc = ioasid_test(fd, IOASID_TEST_ACCESS_CREATE, 0, &cmd);

	if (!rc)
		*afd = cmd.access.out_fd;
	return rc;
}

static int access_attach(int fd, int afd, uint32_t ioasid)
{
	struct ioasid_test_cmd cmd = { .access.ioasid = ioasid };

	return ioasid_test(fd, IOASID_TEST_ACCESS_ATTACH, afd, &cmd);
}

static int access_detach(int fd, int afd)
{
	struct ioasid_test_cmd cmd = {};

	return ioasid_test(fd, IOASID_TEST_ACCESS_DETACH, afd, &cmd);
}

/* Pin; with @buf, copy through the pinned pages (to them with WRITE) */
static int access_pin(int fd, int afd, uint64_t iova, uint64_t len, void *buf,
		      uint32_t flags)
{
	struct ioasid_test_cmd cmd = {
		.access = {
			.flags = flags,
			.iova = iova,
			.length = len,
			.uptr = (uintptr_t)buf,
		},
	};

	return ioasid_test(fd, IOASID_TEST_ACCESS_PIN, afd, &cmd);
}

static int access_unpin(int fd, int afd, uint64_t iova, uint64_t len)
{
	struct ioasid_test_cmd cmd = {
		.access = { .iova = iova, .length = len },
	};

	return ioasid_test(fd, IOASID_TEST_ACCESS_UNPIN, afd, &cmd);
}

static int access_rw(int fd, int afd, uint64_t iova, void *buf, uint64_t len,
		     uint32_t flags)
{
	struct ioasid_test_cmd cmd = {
		.access = {
			.flags = flags,
			.iova = iova,
			.length = len,
			.uptr = (uintptr_t)buf,
		},
	};

	return ioasid_test(fd, IOASID_TEST_ACCESS_RW, afd, &cmd);
}

static int access_mode(int fd, int afd, uint32_t mode)
{
	struct ioasid_test_cmd cmd = { .access.mode = mode };

	return ioasid_test(fd, IOASID_TEST_ACCESS_MODE, afd, &cmd);
}

struct access_info {
	uint64_t unmaps;
	uint64_t unmap_iova;
	uint64_t unmap_length;
	uint64_t pins;
	uint64_t pinned;
};

static int access_info(int fd, int afd, struct access_info *info)
{
	struct ioasid_test_cmd cmd = {};
	int rc = ioasid_test(fd, IOASID_TEST_ACCESS_INFO, afd, &cmd);

	if (!rc) {
		info->unmaps = cmd.access.out_unmaps;
		info->unmap_iova = cmd.access.out_unmap_iova;
		info->unmap_length = cmd.access.out_unmap_length;
		info->pins = cmd.access.out_pins;
		info->pinned = cmd.access.out_pinned;
	}
	return rc;
}

/* Pins the mock driver holds, or -1 */
static long access_pins(int fd, int afd)
{
	struct access_info info;

	return access_info(fd, afd, &info) ? -1 : (long)info.pins;
}

/* Calls of the mock driver's unmap callback so far, or -1 */
static long access_unmaps(int fd, int afd)
{
	struct access_info info;

	return access_info(fd, afd, &info) ? -1 : (long)info.unmaps;
}

/* The number of a "Field: N [kB]" line of a /proc file, or -1 if none */
static long proc_field(const char *path, const char *field)
{
	size_t len = strlen(field);
	char line[256];
	long val = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			val = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* The number of a "Field: N [kB]" line of /proc/meminfo, or -1 */
static long meminfo_val(const char *field)
{
	return proc_field("/proc/meminfo", field);
}

/*
 * Have at least @n 2 MiB hugetlb pages free for the taking, reserving more
 * if need be: the test VM may boot with none reserved. False if it cannot.
 */
static bool reserve_hugepages(long n)
{
	long total, avail;
	FILE *f;

	if (meminfo_val("Hugepagesize") != (long)(SZ_2M / 1024))
		return false;
	total = meminfo_val("HugePages_Total");
	avail = meminfo_val("HugePages_Free") - meminfo_val("HugePages_Rsvd");
	if (avail >= n)
		return true;
	f = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (!f)
		return false;
	fprintf(f, "%ld\n", total + n - avail);
	fclose(f);
	return meminfo_val("HugePages_Free") - meminfo_val("HugePages_Rsvd") >=
	       n;
}

/* @len bytes of 2 MiB hugetlb memory, or NULL if there is none to have */
static void *alloc_hugetlb(size_t len)
{
	void *buf;

	if (!reserve_hugepages(len / SZ_2M))
		return NULL;
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	return buf == MAP_FAILED ? NULL : buf;
}

/*
 * Fold the per-CPU parts of the VM's counters into /proc/meminfo and
 * /proc/vmstat (vm.stat_refresh), so that two reads differ only by what
 * happened in between; false if they could not be
 */
static bool fold_vm_stats(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, "1", 1) == 1;
	if (!ok)
		fprintf(stderr, "# vm.stat_refresh: %s\n", strerror(errno));
	close(fd);
	return ok;
}

/*
 * Pins taken for DMA (FOLL_PIN) in the whole VM, which runs nothing else
 * that pins, as a count that only a difference makes sense of: LONG_MIN
 * when /proc/vmstat does not say. The per-CPU parts of the counters are
 * folded in first (vm.stat_refresh), or two counts a second apart could
 * differ with nothing pinned or unpinned in between.
 */
static long foll_pins(void)
{
	long long acquired = -1, released = -1, v;
	char name[64];
	FILE *f;

	fold_vm_stats();
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return LONG_MIN;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	return acquired < 0 || released < 0 ? LONG_MIN : acquired - released;
}

/* KiB of IOMMU (and KVM) page tables in the whole VM, or -1 */
static long iommu_pt_kib(void)
{
	return fold_vm_stats() ? meminfo_val("SecPageTables") : -1;
}

/* A "Vm...:  N kB" line of /proc/self/status, in pages, or -1 */
static long status_pages(const char *field)
{
	long kb = proc_field("/proc/self/status", field);

	return kb < 0 ? -1 : kb / (long)(PAGE_SZ / 1024);
}

/* Bytes of the mapping holding @buf backed by THP, from smaps, or -1 */
static long thp_bytes(void *buf)
{
	unsigned long start, end, addr = (uintptr_t)buf;
	char line[256];
	bool in = false;
	long kb;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start <= addr && addr < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) {
			fclose(f);
			return kb * 1024;
		}
	}
	fclose(f);
	return -1;
}

/* Kernel-charged locked memory of this process (mm->locked_vm), in pages */
static long locked_pages(void)
{
	return status_pages("VmLck");
}

/* Kernel-charged pinned memory of this process (mm->pinned_vm), in pages */
static long pinned_pages(void)
{
	return status_pages("VmPin");
}

/* Drop CAP_IPC_LOCK, which lifts RLIMIT_MEMLOCK, from this process */
static int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	data[CAP_TO_INDEX(CAP_IPC_LOCK)].permitted &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	return syscall(SYS_capset, &hdr, data);
}

static int set_memlock_pages(unsigned long pages)
{
	struct rlimit rl = {
		.rlim_cur = pages * PAGE_SZ,
		.rlim_max = pages * PAGE_SZ,
	};

	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/*
 * Fault in the @len bytes at @p, a multiple of 2 MiB, in a scattered
 * order. Fresh pages tend to come from the page allocator in ascending
 * physical order, so faulting front to back would make the buffer
 * physically contiguous; touching page i * 40503 mod 512 of each 2 MiB
 * i-th instead (every page once, as 40503 is odd) gives neighbouring
 * pages far-apart frames: each page is a physical run of its own.
 */
static void fault_scattered(void *p, size_t len)
{
	const size_t n = SZ_2M / PAGE_SZ;
	unsigned char *buf = p;
	size_t off, i;

	for (off = 0; off < len; off += SZ_2M)
		for (i = 0; i != n; i++)
			buf[off + (i * 40503 % n) * PAGE_SZ] = 1;
}

static void *alloc_buf(size_t length)
{
	void *buf = mmap(NULL, length, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return NULL;
	/*
	 * 4 KiB pages, so that UNMAP can cut anywhere: a cut inside a THP
	 * page, which the IOMMU maps as one large page, is refused. Tests
	 * that want large pages ask for them.
	 */
	madvise(buf, length, MADV_NOHUGEPAGE);
	return buf;
}

/*
 * Byte i of a pattern is (i * 7 + seed + i / 4096) mod 256, so every page
 * differs. As 4096 * 7 is a multiple of 256, page k of it is the first
 * page plus (seed + k): it is copied from a table of the 256 possible
 * pages, which is much faster than computing bytes in an emulated guest.
 */
static void fill_pattern(void *buf, size_t length, unsigned int seed)
{
	static unsigned char pages[256][PAGE_SZ];
	static bool ready;
	unsigned char *p = buf;
	size_t off, n;
	unsigned int k, j;

	if (!ready) {
		for (k = 0; k != 256; k++)
			for (j = 0; j != PAGE_SZ; j++)
				pages[k][j] = (unsigned char)(j * 7 + k);
		ready = true;
	}
	for (off = 0; off < length; off += n) {
		n = length - off < PAGE_SZ ? length - off : PAGE_SZ;
		memcpy(p + off,
		       pages[(unsigned char)(seed + off / PAGE_SZ)], n);
	}
}

#endif /* __SELFTEST_IOASID_UTILS_H */
