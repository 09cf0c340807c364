// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/ioasid demo: what a VMM such as QEMU does to pass a PCI device
 * through to a guest, with QEMU's "edu" device as the device and a memfd
 * as the guest's RAM.
 *
 * It binds edu to vfio-pci and its vfio cdev to a /dev/ioasid context,
 * shows the IOMMU the context got, maps guest RAM at its guest physical
 * addresses (GPA = IOVA) in an IOASID, attaches the device and lets it DMA
 * a message through the IOMMU; then unmaps a page of guest RAM and shows
 * the device's DMA there blocked by the IOMMU.
 *
 * Run it as root in the rig's VM (make run), where edu exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/ioasid.h>
#include <linux/types.h>

#include "../../tools/testing/selftests/ioasid/edu.h"

#define GUEST_RAM_GPA	0x100000ULL
#define GUEST_RAM_SIZE	(2ULL << 20)
#define PAGE		4096ULL

/* Where the guest puts things, as offsets in its RAM */
#define MSG_OFF		0x1000ULL	/* The message the device reads */
#define OUT_OFF		0x80000ULL	/* Where the device writes it back */
#define HOLE_OFF	0xc0000ULL	/* The page that gets unmapped */

#define MAX_RANGES	16

static const char message[] =
	"Hello from guest RAM, copied by edu through the IOMMU!";

/* @size as "4 KiB", "2 MiB", ... */
static const char *size_str(__u64 size, char *buf, size_t len)
{
	static const char * const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int i = 0;

	while (size >= 1024 && !(size % 1024) && i < 4) {
		size /= 1024;
		i++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)size, unit[i]);
	return buf;
}

static void show_caps(int fd)
{
	struct ioasid_info info = { .size = sizeof(info) };
	__u64 last;
	char buf[32];
	int bit;

	if (ioctl(fd, IOASID_GET_INFO, &info)) {
		perror("IOASID_GET_INFO");
		return;
	}
	printf("   The IOMMU the context got (IOASID_GET_INFO):\n");
	printf("     page sizes  ");
	for (bit = 0; bit < 64; bit++)
		if (info.out_pgsize_bitmap & (1ULL << bit))
			printf(" %s", size_str(1ULL << bit, buf, sizeof(buf)));
	printf("\n");
	last = info.out_aperture_last;
	printf("     aperture     0x%llx - 0x%llx",
	       (unsigned long long)info.out_aperture_start,
	       (unsigned long long)last);
	if (last != UINT64_MAX && !((last + 1) & last))
		printf(" (%d-bit IOVAs)", __builtin_ctzll(last + 1));
	printf("\n");
	if (info.out_max_pasid_bits)
		printf("     PASIDs       %u bits\n", info.out_max_pasid_bits);
	else
		printf("     PASIDs       none\n");
	printf("     DMA is %scache coherent\n",
	       info.out_flags & IOASID_INFO_CACHE_COHERENT ? "" : "NOT ");
	if (!(info.out_flags & IOASID_INFO_NESTING)) {
		printf("     nesting      none: no guest-owned stage 1\n");
		return;
	}
	printf("     nesting      formats");
	for (bit = 0; bit < 64; bit++) {
		if (!(info.out_formats & (1ULL << bit)))
			continue;
		if (bit == IOASID_FORMAT_VTD_S1)
			printf(" VT-d-stage-1");
		else
			printf(" %d", bit);
	}
	printf("\n");
}

static void show_ranges(int fd, __u32 ioasid)
{
	struct ioasid_iova_range ranges[MAX_RANGES];
	struct ioasid_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioasid = ioasid,
		.num_ranges = MAX_RANGES,
		.ranges = (uintptr_t)ranges,
	};
	__u32 i;

	if (ioctl(fd, IOASID_IOVA_RANGES, &cmd) && errno != EMSGSIZE) {
		perror("IOASID_IOVA_RANGES");
		return;
	}
	printf("   Usable IOVA ranges of IOASID %u now (IOASID_IOVA_RANGES):\n",
	       ioasid);
	for (i = 0; i < cmd.num_ranges && i < MAX_RANGES; i++)
		printf("     0x%llx - 0x%llx\n",
		       (unsigned long long)ranges[i].start,
		       (unsigned long long)ranges[i].last);
	if (cmd.num_ranges > MAX_RANGES)
		printf("     ... and %u more\n", cmd.num_ranges - MAX_RANGES);
	printf("   (the holes are reserved regions of the device, such as\n"
	       "   x86's interrupt window at 0xfee00000)\n");
}

/* Print what failed, give its errno */
static int fail(const char *what)
{
	int rc = errno;

	fprintf(stderr, "%s: %s\n", what, strerror(rc));
	return rc;
}

/* The guest's RAM: a memfd, mapped here and at its GPA in @ioasid */
static int map_guest_ram(int fd, __u32 ioasid, unsigned char **ram)
{
	struct ioasid_map map = {
		.size = sizeof(map),
		.flags = IOASID_MAP_FILE | IOASID_MAP_FIXED_IOVA |
			 IOASID_MAP_READ | IOASID_MAP_WRITE,
		.ioasid = ioasid,
		.file_offset = 0,
		.length = GUEST_RAM_SIZE,
		.iova = GUEST_RAM_GPA,
	};
	char buf[32];
	void *p;
	int memfd;

	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, GUEST_RAM_SIZE))
		return fail("guest RAM memfd");
	p = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 memfd, 0);
	if (p == MAP_FAILED)
		return fail("mmap guest RAM");
	map.fd = memfd;
	if (ioctl(fd, IOASID_MAP, &map))
		return fail("IOASID_MAP of the guest RAM memfd");
	*ram = p;
	printf("   %s memfd \"guest-ram\", mapped with IOASID_MAP_FILE:\n",
	       size_str(GUEST_RAM_SIZE, buf, sizeof(buf)));
	printf("     IOVA (= GPA) 0x%llx - 0x%llx\n"
	       "       ->  memfd offset 0x0 - 0x%llx\n",
	       GUEST_RAM_GPA, GUEST_RAM_GPA + GUEST_RAM_SIZE - 1,
	       GUEST_RAM_SIZE - 1);
	return 0;
}

/* The guest's message goes to the device and back to another GPA */
static int dma_message(struct edu_dev *edu, unsigned char *ram)
{
	__u32 count = sizeof(message);
	int rc;

	memcpy(ram + MSG_OFF, message, count);
	memset(ram + OUT_OFF, 0, PAGE);
	printf("   The guest writes at GPA 0x%llx: \"%s\"\n",
	       GUEST_RAM_GPA + MSG_OFF, message);

	printf("   edu reads %u bytes at IOVA 0x%llx into its buffer ...\n",
	       count, GUEST_RAM_GPA + MSG_OFF);
	rc = edu_dma(edu->bar, GUEST_RAM_GPA + MSG_OFF, EDU_BUF, count, false);
	if (rc)
		return rc;
	printf("   ... and writes them at IOVA 0x%llx\n",
	       GUEST_RAM_GPA + OUT_OFF);
	rc = edu_dma(edu->bar, EDU_BUF, GUEST_RAM_GPA + OUT_OFF, count, true);
	if (rc)
		return rc;

	printf("   The IOMMU translated both through the guest RAM mapping:\n");
	printf("     IOVA 0x%llx  ->  guest RAM + 0x%llx (device read)\n",
	       GUEST_RAM_GPA + MSG_OFF, MSG_OFF);
	printf("     IOVA 0x%llx  ->  guest RAM + 0x%llx (device write)\n",
	       GUEST_RAM_GPA + OUT_OFF, OUT_OFF);
	printf("   Guest RAM + 0x%llx now reads: \"%.*s\"\n", OUT_OFF,
	       (int)count - 1, (char *)ram + OUT_OFF);
	if (memcmp(ram + OUT_OFF, message, count))
		return edu_fail(EIO, "that is not the message");
	printf("   The device read and wrote the guest's memory: OK\n");
	return 0;
}

/* Unmap a page of guest RAM: the device's DMA there is blocked */
static int blocked_dma(int fd, __u32 ioasid, struct edu_dev *edu,
		       unsigned char *ram)
{
	struct ioasid_unmap unmap = {
		.size = sizeof(unmap),
		.ioasid = ioasid,
		.iova = GUEST_RAM_GPA + HOLE_OFF,
		.length = PAGE,
	};
	__u64 hole = GUEST_RAM_GPA + HOLE_OFF;
	unsigned int i;
	char line[512];
	int rc, kmsg;

	if (ioctl(fd, IOASID_UNMAP, &unmap))
		return fail("IOASID_UNMAP");
	printf("   IOASID_UNMAP IOVA 0x%llx, %llu bytes: the mapping is split\n"
	       "   around the hole, the rest of guest RAM stays mapped\n",
	       hole, (unsigned long long)unmap.out_length);
	memset(ram + HOLE_OFF, '.', PAGE);

	if (edu_kmsg_open(&kmsg))
		kmsg = -1;
	printf("   edu writes %u bytes at IOVA 0x%llx. The IOMMU blocks it\n"
	       "   and the guest kernel logs one DMAR fault: expected.\n",
	       EDU_FAULT_COUNT, hole);
	edu_expect_dmar_fault();
	rc = edu_dma(edu->bar, EDU_BUF, hole, EDU_FAULT_COUNT, true);
	if (rc)
		return rc;
	if (kmsg >= 0) {
		if (!edu_wait_dmar_fault(kmsg, true, hole, 3000, line,
					 sizeof(line)))
			printf("   The kernel logged:\n     %s\n", line);
		close(kmsg);
	}
	for (i = 0; i < PAGE; i++)
		if (ram[HOLE_OFF + i] != '.')
			return edu_fail(EIO, "the unmapped page changed");
	printf("   Guest RAM + 0x%llx is untouched: blocked\n", HOLE_OFF);

	memset(ram + HOLE_OFF + PAGE, 0, PAGE);
	rc = edu_dma(edu->bar, EDU_BUF, hole + PAGE, sizeof(message), true);
	if (rc)
		return rc;
	if (memcmp(ram + HOLE_OFF + PAGE, message, sizeof(message)))
		return edu_fail(EIO, "the page after the hole did not get it");
	printf("   The page right after it, IOVA 0x%llx, still works:\n"
	       "     \"%s\"\n", hole + PAGE, (char *)ram + HOLE_OFF + PAGE);
	return 0;
}

int main(void)
{
	struct ioasid_create create = { .size = sizeof(create) };
	struct edu_dev edu;
	unsigned char *ram = NULL;
	__u32 id;
	int fd, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("/dev/ioasid demo: a VMM passes QEMU's edu PCI device through\n"
	       "to a guest whose RAM is a memfd; the device DMAs through the\n"
	       "IOMMU (QEMU's emulated VT-d).\n\n");

	printf("1. Find the device and give it to vfio-pci\n");
	rc = edu_prepare(&edu);
	if (rc == ENODEV) {
		printf("   No edu device: run this in the rig's VM\n");
		return 1;
	}
	if (rc)
		goto out;
	printf("   edu %04x:%04x at %s, vfio cdev /dev/vfio/devices/vfio%u\n\n",
	       EDU_VENDOR, EDU_DEVICE, edu.bdf, edu.index);

	printf("2. Open /dev/ioasid and bind the device's vfio fd to it\n");
	fd = open("/dev/ioasid", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = fail("open /dev/ioasid");
		goto out;
	}
	rc = edu_open(&edu);
	if (rc)
		goto out;
	rc = edu_bind(&edu, fd);
	if (rc)
		goto out;
	printf("   VFIO_DEVICE_BIND_IOASID_FD: device id %u in the context;\n"
	       "   its DMA is blocked until it is attached to an IOASID\n",
	       edu.dev_id);
	show_caps(fd);
	printf("\n");

	printf("3. Create an IOASID and map guest RAM at GPA 0x%llx\n",
	       GUEST_RAM_GPA);
	if (ioctl(fd, IOASID_CREATE, &create)) {
		rc = fail("IOASID_CREATE");
		goto out;
	}
	id = create.out_ioasid;
	printf("   IOASID_CREATE: IOASID %u\n", id);
	rc = map_guest_ram(fd, id, &ram);
	if (rc)
		goto out;
	printf("\n");

	printf("4. Attach the device to IOASID %u, turn it on\n", id);
	rc = edu_attach(&edu, id);
	if (rc)
		goto out;
	printf("   VFIO_DEVICE_ATTACH_IOASID: IOASID %u translates its DMA\n",
	       id);
	show_ranges(fd, id);
	rc = edu_enable_dma(&edu);
	if (rc)
		goto out;
	rc = edu_map_bar(&edu);
	if (rc)
		goto out;
	rc = edu_check_alive(edu.bar);
	if (rc)
		goto out;
	printf("   Bus mastering on, BAR0 mapped: edu %u.%u answers\n\n",
	       edu_read32(edu.bar, EDU_REG_ID) >> 24,
	       (edu_read32(edu.bar, EDU_REG_ID) >> 16) & 0xff);

	printf("5. The device DMAs through the IOMMU\n");
	rc = dma_message(&edu, ram);
	if (rc)
		goto out;
	printf("\n");

	printf("6. Unmap a page of guest RAM while the device is attached\n");
	rc = blocked_dma(fd, id, &edu, ram);
	if (rc)
		goto out;
	printf("\n");

	edu_close(&edu);
	close(fd);
	printf("Done: data reached mapped IOVAs only.\n");
	return 0;
out:
	printf("The demo failed: %s\n", strerror(rc));
	return 1;
}
