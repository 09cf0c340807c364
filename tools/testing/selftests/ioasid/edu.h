/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QEMU's "edu" PCI device driven from userspace through vfio-pci and
 * /dev/ioasid: the real-hardware path of the ioasid selftests and demo.
 *
 * edu (QEMU docs/specs/edu.rst) has a 1 MiB BAR0 of registers, 32-bit ones
 * below 0x80 and 32- or 64-bit ones from there, and a 4 KiB buffer at
 * device address 0x40000 that only its DMA engine reaches. A transfer
 * starts 100 ms after it is programmed and completes whether the IOMMU let
 * it through or not; DMA addresses are masked to 28 bits, and QEMU 7.2
 * aborts the whole VM when a transfer reaches the last byte of the buffer.
 * edu_dma() refuses both rather than let that happen.
 *
 * Every helper returns 0 or a positive errno and says on stderr what
 * failed, each line prefixed with EDU_LOG_PREFIX.
 */
#ifndef __SELFTEST_IOASID_EDU_H
#define __SELFTEST_IOASID_EDU_H

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#ifndef EDU_LOG_PREFIX
#define EDU_LOG_PREFIX "edu: "
#endif

#define edu_err(fmt, ...) \
	fprintf(stderr, EDU_LOG_PREFIX fmt "\n", ##__VA_ARGS__)
/* Say what failed, give @err */
#define edu_fail(err, fmt, ...) (edu_err(fmt, ##__VA_ARGS__), (err))

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

#define EDU_REG_ID		0x00	/* 0xRRrr00ed: major, minor, magic */
#define EDU_REG_ALIVE		0x04	/* reads back ~ what was written */
#define EDU_REG_IRQ_STATUS	0x24	/* interrupt causes raised, not acked */
#define EDU_REG_IRQ_RAISE	0x60	/* or these into it: INTx goes up */
#define EDU_REG_IRQ_ACK		0x64	/* clear these: INTx drops at zero */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_CMD_START	0x1	/* set until the transfer is done */
#define EDU_DMA_CMD_TO_RAM	0x2	/* else from RAM to the device */
#define EDU_DMA_CMD_IRQ		0x4	/* raise interrupt 0x100 when done */

#define EDU_ID_MAGIC		0xed
#define EDU_BUF			0x40000ULL	/* Its buffer, in its space */
#define EDU_BUF_SIZE		4096
#define EDU_DMA_MASK		((1ULL << 28) - 1)
#define EDU_DMA_TIMEOUT_MS	5000

/*
 * Bytes for a transfer meant to be blocked: QEMU translates one 4-byte
 * access once, so the IOMMU records exactly one fault for it.
 */
#define EDU_FAULT_COUNT		4

/* The edu device and, once opened, its vfio cdev */
struct edu_dev {
	char bdf[32];		/* PCI address, "0000:00:03.0" */
	unsigned int index;	/* N of /dev/vfio/devices/vfioN */
	int fd;			/* The vfio cdev, -1 when closed */
	uint32_t dev_id;	/* Id in the ioasid context it is bound to */
	void *bar;		/* BAR0, mapped by edu_map_bar() */
	size_t bar_size;
};

static uint64_t edu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read a sysfs attribute into @buf, without its trailing newline */
static int edu_sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno;
		edu_err("open %s: %s", path, strerror(rc));
		return rc;
	}
	n = read(fd, buf, len - 1);
	rc = errno;
	close(fd);
	if (n < 0) {
		edu_err("read %s: %s", path, strerror(rc));
		return rc;
	}
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static int edu_sysfs_write(const char *path, const char *val)
{
	ssize_t n;
	int fd, rc;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno;
		edu_err("open %s: %s", path, strerror(rc));
		return rc;
	}
	n = write(fd, val, strlen(val));
	rc = n < 0 ? errno : 0;
	close(fd);
	if (n < 0) {
		edu_err("write '%s' to %s: %s", val, path, strerror(rc));
		return rc;
	}
	return 0;
}

static bool edu_sysfs_id_is(const char *bdf, const char *attr,
			    unsigned long id)
{
	char path[PATH_MAX], val[32];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	if (edu_sysfs_read(path, val, sizeof(val)))
		return false;
	return strtoul(val, NULL, 0) == id;
}

/*
 * Find an edu device: the first one, or with @near another than @near on
 * its PCI bus (a function of the same slot, say). ENODEV when there is
 * none.
 */
static int edu_scan(char *bdf, size_t len, const char *near)
{
	const char *bus_end = near ? strrchr(near, ':') : NULL;
	struct dirent *d;
	DIR *dir;
	int rc;

	if (near && !bus_end)
		return edu_fail(EINVAL, "%s is no PCI address", near);

	dir = opendir("/sys/bus/pci/devices");
	if (!dir) {
		rc = errno;
		edu_err("open /sys/bus/pci/devices: %s", strerror(rc));
		return rc;
	}
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		if (near && (!strcmp(d->d_name, near) ||
			     strncmp(d->d_name, near, bus_end - near + 1)))
			continue;
		if (edu_sysfs_id_is(d->d_name, "vendor", EDU_VENDOR) &&
		    edu_sysfs_id_is(d->d_name, "device", EDU_DEVICE)) {
			rc = (size_t)snprintf(bdf, len, "%s", d->d_name) < len ?
			     0 : ENAMETOOLONG;
			closedir(dir);
			return rc;
		}
	}
	closedir(dir);
	if (near)
		return edu_fail(ENODEV, "no other edu on the bus of %s", near);
	return edu_fail(ENODEV, "no edu PCI device (%04x:%04x) in %s",
			EDU_VENDOR, EDU_DEVICE, "/sys/bus/pci/devices");
}

/* Find the first edu device; ENODEV when there is none */
static int edu_find(char *bdf, size_t len)
{
	return edu_scan(bdf, len, NULL);
}

/* Name of the driver @bdf is bound to into @drv, "" for none */
static int edu_driver(const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *name;
	ssize_t n;
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		rc = errno;
		if (rc == ENOENT) {
			drv[0] = 0;
			return 0;
		}
		edu_err("readlink %s: %s", path, strerror(rc));
		return rc;
	}
	link[n] = 0;
	name = strrchr(link, '/');
	name = name ? name + 1 : link;
	if ((size_t)snprintf(drv, len, "%s", name) >= len)
		return edu_fail(ENAMETOOLONG, "driver name %s is too long",
				name);
	return 0;
}

/* Hand @bdf to vfio-pci, unbinding it from another driver first */
static int edu_bind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int rc;

	rc = edu_driver(bdf, drv, sizeof(drv));
	if (rc)
		return rc;
	if (!strcmp(drv, "vfio-pci"))
		return 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	rc = edu_sysfs_write(path, "vfio-pci");
	if (rc)
		return rc;
	if (drv[0]) {
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		rc = edu_sysfs_write(path, bdf);
		if (rc)
			return rc;
	}
	rc = edu_sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (rc)
		return rc;

	rc = edu_driver(bdf, drv, sizeof(drv));
	if (rc)
		return rc;
	if (strcmp(drv, "vfio-pci"))
		return edu_fail(ENXIO, "%s is not bound to vfio-pci (%s?)",
				bdf, "CONFIG_VFIO_PCI");
	return 0;
}

/* Take @bdf from vfio-pci and leave it without a driver */
static int edu_unbind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], drv[64];
	int rc;

	rc = edu_driver(bdf, drv, sizeof(drv));
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	/* A lone newline clears the override */
	rc = edu_sysfs_write(path, "\n");
	if (rc)
		return rc;
	if (strcmp(drv, "vfio-pci"))
		return 0;
	return edu_sysfs_write("/sys/bus/pci/drivers/vfio-pci/unbind", bdf);
}

/* N of the vfio cdev /dev/vfio/devices/vfioN of @bdf */
static int edu_cdev_index(const char *bdf, unsigned int *index)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int rc;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir) {
		rc = errno;
		edu_err("open %s: %s (CONFIG_VFIO_DEVICE_CDEV?)", path,
			strerror(rc));
		return rc;
	}
	while ((d = readdir(dir))) {
		if (sscanf(d->d_name, "vfio%u", index) == 1) {
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return edu_fail(ENOENT, "no vfioN in %s", path);
}

/*
 * Find edu and bind it to vfio-pci, where it stays: ENODEV when there is
 * no edu device. Nothing is opened yet.
 */
static int edu_prepare(struct edu_dev *edu)
{
	int rc;

	memset(edu, 0, sizeof(*edu));
	edu->fd = -1;
	rc = edu_find(edu->bdf, sizeof(edu->bdf));
	if (rc)
		return rc;
	rc = edu_bind_vfio_pci(edu->bdf);
	if (rc)
		return rc;
	return edu_cdev_index(edu->bdf, &edu->index);
}

/* Open the vfio cdev: no access to the device until edu_bind() */
static int edu_open(struct edu_dev *edu)
{
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%u", edu->index);
	edu->fd = open(path, O_RDWR | O_CLOEXEC);
	if (edu->fd < 0) {
		rc = errno;
		edu_err("open %s: %s", path, strerror(rc));
		return rc;
	}
	return 0;
}

/* Unmap BAR0 and close the cdev, which unbinds the device from ioasid */
static void edu_close(struct edu_dev *edu)
{
	if (edu->bar) {
		munmap(edu->bar, edu->bar_size);
		edu->bar = NULL;
	}
	if (edu->fd >= 0) {
		close(edu->fd);
		edu->fd = -1;
	}
}

/* Bind the opened device to the /dev/ioasid context @ioasid_fd */
static int edu_bind(struct edu_dev *edu, int ioasid_fd)
{
	struct vfio_device_bind_ioasid_fd bind = {
		.argsz = sizeof(bind),
		.ioasid_fd = ioasid_fd,
	};
	int rc;

	if (ioctl(edu->fd, VFIO_DEVICE_BIND_IOASID_FD, &bind)) {
		rc = errno;
		edu_err("VFIO_DEVICE_BIND_IOASID_FD: %s", strerror(rc));
		return rc;
	}
	edu->dev_id = bind.out_dev_id;
	return 0;
}

/* Attach the device's RID to @ioasid, or replace its attachment */
static int edu_attach(struct edu_dev *edu, uint32_t ioasid)
{
	struct vfio_device_attach_ioasid attach = {
		.argsz = sizeof(attach),
		.ioasid = ioasid,
	};
	int rc;

	if (ioctl(edu->fd, VFIO_DEVICE_ATTACH_IOASID, &attach)) {
		rc = errno;
		edu_err("VFIO_DEVICE_ATTACH_IOASID %u: %s", ioasid,
			strerror(rc));
		return rc;
	}
	return 0;
}

static int edu_detach(struct edu_dev *edu)
{
	struct vfio_device_detach_ioasid detach = {
		.argsz = sizeof(detach),
	};
	int rc;

	if (ioctl(edu->fd, VFIO_DEVICE_DETACH_IOASID, &detach)) {
		rc = errno;
		edu_err("VFIO_DEVICE_DETACH_IOASID: %s", strerror(rc));
		return rc;
	}
	return 0;
}

static int edu_region_info(struct edu_dev *edu, uint32_t index,
			   struct vfio_region_info *info)
{
	int rc;

	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	if (ioctl(edu->fd, VFIO_DEVICE_GET_REGION_INFO, info)) {
		rc = errno;
		edu_err("VFIO_DEVICE_GET_REGION_INFO %u: %s", index,
			strerror(rc));
		return rc;
	}
	return 0;
}

/* Read or write the 16-bit register at @reg of PCI config space */
static int edu_config16(struct edu_dev *edu, uint64_t cfg, unsigned int reg,
			uint16_t *val, bool write)
{
	uint16_t le = write ? htole16(*val) : 0;
	ssize_t n;
	int rc;

	if (write)
		n = pwrite(edu->fd, &le, sizeof(le), cfg + reg);
	else
		n = pread(edu->fd, &le, sizeof(le), cfg + reg);
	if (n != sizeof(le)) {
		rc = n < 0 ? errno : EIO;
		edu_err("%s config register 0x%x: %s",
			write ? "pwrite" : "pread", reg, strerror(rc));
		return rc;
	}
	*val = le16toh(le);
	return 0;
}

/* Offset of config space in the bound device's fd; 0 when unknown */
static uint64_t edu_config_offset(struct edu_dev *edu)
{
	struct vfio_region_info info;

	if (edu_region_info(edu, VFIO_PCI_CONFIG_REGION_INDEX, &info))
		return 0;
	return info.offset;
}

/* Let the bound device decode its BAR and master the bus */
static int edu_enable_dma(struct edu_dev *edu)
{
	struct vfio_region_info info;
	uint16_t cmd;
	int rc;

	rc = edu_region_info(edu, VFIO_PCI_CONFIG_REGION_INDEX, &info);
	if (rc)
		return rc;
	rc = edu_config16(edu, info.offset, PCI_COMMAND, &cmd, false);
	if (rc)
		return rc;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	rc = edu_config16(edu, info.offset, PCI_COMMAND, &cmd, true);
	if (rc)
		return rc;
	rc = edu_config16(edu, info.offset, PCI_COMMAND, &cmd, false);
	if (rc)
		return rc;
	if (!(cmd & PCI_COMMAND_MASTER))
		return edu_fail(EIO, "PCI_COMMAND 0x%04x: no bus mastering",
				cmd);
	return 0;
}

/* mmap BAR0 of the bound device */
static int edu_map_bar(struct edu_dev *edu)
{
	struct vfio_region_info info;
	void *bar;
	int rc;

	rc = edu_region_info(edu, VFIO_PCI_BAR0_REGION_INDEX, &info);
	if (rc)
		return rc;
	if (!(info.flags & VFIO_REGION_INFO_FLAG_MMAP) ||
	    info.size < EDU_REG_DMA_CMD + 8)
		return edu_fail(ENXIO,
				"BAR0 of %llu bytes, flags 0x%x: not edu's",
				(unsigned long long)info.size, info.flags);
	bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   edu->fd, info.offset);
	if (bar == MAP_FAILED) {
		rc = errno;
		edu_err("mmap BAR0: %s", strerror(rc));
		return rc;
	}
	edu->bar = bar;
	edu->bar_size = info.size;
	return 0;
}

/*
 * Register accessors. A relaxed atomic is one access of exactly its size
 * that the compiler neither merges nor drops, which is what MMIO needs.
 */
static uint32_t edu_read32(void *bar, unsigned int reg)
{
	return __atomic_load_n((uint32_t *)((char *)bar + reg),
			       __ATOMIC_RELAXED);
}

static void edu_write32(void *bar, unsigned int reg, uint32_t val)
{
	__atomic_store_n((uint32_t *)((char *)bar + reg), val,
			 __ATOMIC_RELAXED);
}

static uint64_t edu_read64(void *bar, unsigned int reg)
{
	return __atomic_load_n((uint64_t *)((char *)bar + reg),
			       __ATOMIC_RELAXED);
}

static void edu_write64(void *bar, unsigned int reg, uint64_t val)
{
	__atomic_store_n((uint64_t *)((char *)bar + reg), val,
			 __ATOMIC_RELAXED);
}

/* The liveness check register reads back the inverse of what was written */
static int edu_poke_alive(void *bar, uint32_t val)
{
	uint32_t got;

	edu_write32(bar, EDU_REG_ALIVE, val);
	got = edu_read32(bar, EDU_REG_ALIVE);
	if (got != ~val)
		return edu_fail(EIO, "liveness check: 0x%08x read as 0x%08x",
				val, got);
	return 0;
}

/* The identification and the liveness check registers answer as edu's */
static int edu_check_alive(void *bar)
{
	uint32_t id;
	int rc;

	id = edu_read32(bar, EDU_REG_ID);
	if ((id & 0xffff) != EDU_ID_MAGIC)
		return edu_fail(ENODEV, "identification 0x%08x, not 0xRRrr00ed",
				id);
	rc = edu_poke_alive(bar, 0x12345678);
	if (rc)
		return rc;
	return edu_poke_alive(bar, 0xa5a50f0f);
}

/* Wait for the DMA engine to be idle; ETIMEDOUT after EDU_DMA_TIMEOUT_MS */
static int edu_dma_wait(void *bar)
{
	uint64_t end = edu_now_ms() + EDU_DMA_TIMEOUT_MS;
	uint64_t cmd;

	while ((cmd = edu_read64(bar, EDU_REG_DMA_CMD)) & EDU_DMA_CMD_START) {
		if (edu_now_ms() > end)
			return edu_fail(ETIMEDOUT,
					"DMA running for %d ms, command 0x%llx",
					EDU_DMA_TIMEOUT_MS,
					(unsigned long long)cmd);
		usleep(1000);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return 0;
}

/*
 * Have edu copy @count bytes from @src to @dst and wait until it is done.
 * With @to_ram, @src is in its buffer (EDU_BUF + offset) and @dst is a DMA
 * address (IOVA); otherwise the other way round. Returns 0 once the device
 * reports the transfer done, which it also does when the IOMMU blocked it.
 */
static int edu_dma(void *bar, uint64_t src, uint64_t dst, uint32_t count,
		   bool to_ram)
{
	uint64_t dev = to_ram ? src : dst, ram = to_ram ? dst : src;
	uint64_t off = dev - EDU_BUF;
	int rc;

	/* QEMU 7.2 aborts the VM on a transfer that reaches the last byte */
	if (!count || dev < EDU_BUF || off >= EDU_BUF_SIZE ||
	    count >= EDU_BUF_SIZE - off)
		return edu_fail(EINVAL,
				"%u bytes at edu 0x%llx leave its buffer",
				count, (unsigned long long)dev);
	if ((ram & ~EDU_DMA_MASK) || ((ram + count - 1) & ~EDU_DMA_MASK))
		return edu_fail(EINVAL,
				"DMA to 0x%llx + %u is beyond edu's 28 bits",
				(unsigned long long)ram, count);

	/* edu ignores its DMA registers while a transfer runs */
	rc = edu_dma_wait(bar);
	if (rc)
		return rc;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	edu_write64(bar, EDU_REG_DMA_SRC, src);
	edu_write64(bar, EDU_REG_DMA_DST, dst);
	edu_write64(bar, EDU_REG_DMA_COUNT, count);
	edu_write64(bar, EDU_REG_DMA_CMD,
		    EDU_DMA_CMD_START | (to_ram ? EDU_DMA_CMD_TO_RAM : 0));
	rc = edu_dma_wait(bar);
	if (rc)
		edu_err("DMA of %u bytes 0x%llx -> 0x%llx did not complete",
			count, (unsigned long long)src,
			(unsigned long long)dst);
	return rc;
}

/*
 * edu copies @count bytes at IOVA @src to its buffer at @off, then to IOVA
 * @dst
 */
static int edu_round_trip(void *bar, uint64_t src, uint64_t dst, uint64_t off,
			  uint32_t count)
{
	int rc;

	rc = edu_dma(bar, src, EDU_BUF + off, count, false);
	if (rc)
		return rc;
	return edu_dma(bar, EDU_BUF + off, dst, count, true);
}

/*
 * Bind the opened device to @ioasid_fd, let it master the bus, map its
 * registers and check it answers. It can DMA once attached.
 */
static int edu_start(struct edu_dev *edu, int ioasid_fd)
{
	int rc;

	rc = edu_bind(edu, ioasid_fd);
	if (rc)
		return rc;
	rc = edu_enable_dma(edu);
	if (rc)
		return rc;
	rc = edu_map_bar(edu);
	if (rc)
		return rc;
	return edu_check_alive(edu->bar);
}

/*
 * Tell the rig the next DMA is meant to be blocked: the guest kernel logs a
 * DMAR fault for it, which its dmesg scan must not count as a failure.
 * Call it once per blocked transfer, before starting it.
 */
static void edu_expect_dmar_fault(void)
{
	printf("# rig: expect-dmar-faults: 1\n");
	fflush(stdout);
}

/* Open the kernel log at its end, for edu_wait_dmar_fault() */
static int edu_kmsg_open(int *fd)
{
	int rc;

	*fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		rc = errno;
		edu_err("open /dev/kmsg: %s", strerror(rc));
		return rc;
	}
	if (lseek(*fd, 0, SEEK_END) < 0) {
		rc = errno;
		edu_err("seek /dev/kmsg: %s", strerror(rc));
		close(*fd);
		*fd = -1;
		return rc;
	}
	return 0;
}

/*
 * Wait up to @timeout_ms for the VT-d driver to log a fault of a DMA write
 * (@write) or read at the page of @iova, and copy its line to @line.
 */
static int edu_wait_dmar_fault(int kmsg_fd, bool write, uint64_t iova,
			       unsigned int timeout_ms, char *line,
			       size_t len)
{
	const char *kind = write ? "DMAR: [DMA Write" : "DMAR: [DMA Read";
	uint64_t end = edu_now_ms() + timeout_ms;
	char rec[2048], addr[48], *msg, *nl;
	ssize_t n;
	int rc;

	snprintf(addr, sizeof(addr), " fault addr 0x%llx ",
		 (unsigned long long)(iova & ~0xfffULL));
	while (edu_now_ms() <= end) {
		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		/* Nothing new yet */
		if (n < 0 && errno == EAGAIN) {
			usleep(10000);
			continue;
		}
		/* A record overwritten before we read it, or too long: skip */
		if (n < 0 && (errno == EPIPE || errno == EINVAL))
			continue;
		if (n < 0) {
			rc = errno;
			edu_err("read /dev/kmsg: %s", strerror(rc));
			return rc;
		}
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		if (strstr(msg, kind) && strstr(msg, addr)) {
			/* A line cut short is fine: it is for people */
			if ((size_t)snprintf(line, len, "%s", msg) >= len)
				line[len - 1] = 0;
			return 0;
		}
	}
	return edu_fail(ETIMEDOUT, "no '%s ...%s...' logged in %u ms",
			kind, addr, timeout_ms);
}

#endif /* __SELFTEST_IOASID_EDU_H */
