// SPDX-License-Identifier: GPL-2.0-only
/*
 * Real VFIO clients in the test VM: the host's root filesystem is shared
 * read-only over virtio-9p (mount tag "hostroot"), and its programs run
 * from it under chroot, libraries and firmware included.
 *
 * The host's QEMU runs as an L2 that never starts a CPU (-S), driven over
 * the qtest protocol on its stdin and stdout, with the edu device passed
 * through with vfio-pci. The script programs edu's BAR, has it DMA a
 * pattern from L2 RAM into its buffer and back to another L2 address, and
 * reads that address: the bytes match only if edu's DMA went through the
 * emulated VT-d tables that QEMU set up through vfio.
 *
 * These are the controls the /dev/ioasid clients are compared against:
 * QEMU 7.2 as Debian ships it on vfio's own type1 container, and QEMU
 * 10.0.2 (built by the rig from Debian's source, the path of its binary in
 * /etc/rig-qemu) on iommufd, in the same boot.
 */
#include "../kselftest_harness.h"
#include "ioasid_utils.h"
#include "edu.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define HOST		"/host"
#define QEMU		"/usr/bin/qemu-system-x86_64"
/* Where the rig says its QEMU build is, in the host's root */
#define RIG_QEMU	"/etc/rig-qemu"
/* edu in L2: slot 4 of bus 0, its BAR 0 at EDU_L2_BAR */
#define EDU_L2_SLOT	4
#define EDU_L2_BAR	0xfe000000ULL
#define L2_SRC		0x100000ULL
#define L2_DST		0x200000ULL
/* Past the L2's 128 MiB of RAM, below edu's 28-bit DMA mask */
#define L2_HOLE		0xa000000ULL
#define DMA_LEN		1024
/* A qtest answer: "OK 0x" and two digits a byte */
#define QT_LINE		(2 * DMA_LEN + 64)

/* Mount the host's root on HOST with what a chroot into it needs */
static int hostroot(void)
{
	static const char * const binds[] = { "/proc", "/sys", "/dev" };
	char path[64];
	unsigned int i;

	if (!access(HOST QEMU, X_OK))
		return 0;
	mkdir(HOST, 0755);
	if (mount("hostroot", HOST, "9p", MS_RDONLY,
		  "trans=virtio,version=9p2000.L,cache=loose"))
		return errno;
	for (i = 0; i < ARRAY_SIZE(binds); i++) {
		snprintf(path, sizeof(path), HOST "%s", binds[i]);
		if (mount(binds[i], path, NULL, MS_BIND | MS_REC, NULL))
			return errno;
	}
	if (mount("tmpfs", HOST "/tmp", "tmpfs", 0, NULL) ||
	    mount("tmpfs", HOST "/run", "tmpfs", 0, NULL))
		return errno;
	return access(HOST QEMU, X_OK) ? errno : 0;
}

/* Can the host's root run @path? 0 or an errno */
static int host_access(const char *path)
{
	char full[sizeof(HOST) + 256];

	snprintf(full, sizeof(full), HOST "%s", path);
	return access(full, X_OK) ? errno : 0;
}

struct l2 {
	pid_t pid;
	FILE *in;	/* qtest commands */
	FILE *out;	/* qtest answers */
};

/*
 * Start QEMU binary @qemu of the host's root in its own process group,
 * qtest on stdio, edu passed through on vfio's container or, with
 * @iommufd, on an iommufd object
 */
static int l2_start(struct l2 *q, const char *qemu, const char *bdf,
		    bool iommufd)
{
	/* Firmware from Debian's QEMU: the rig's build has none */
	char *argv[24] = {
		(char *)qemu, "-machine", "q35", "-accel", "tcg", "-S",
		"-qtest", "stdio", "-display", "none", "-nodefaults",
		"-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
		"-m", "128", "-device", NULL,
	};
	int to[2], from[2], argc = 18;
	pid_t parent = getpid();
	char dev[128];

	snprintf(dev, sizeof(dev), "vfio-pci,host=%s,addr=%02x.0%s", bdf,
		 EDU_L2_SLOT, iommufd ? ",iommufd=iommufd0" : "");
	argv[argc++] = dev;
	if (iommufd) {
		argv[argc++] = "-object";
		argv[argc++] = "iommufd,id=iommufd0";
	}
	if (pipe2(to, O_CLOEXEC))
		return errno;
	if (pipe2(from, O_CLOEXEC)) {
		close(to[0]);
		close(to[1]);
		return errno;
	}
	q->pid = fork();
	if (!q->pid) {
		int err = open(HOST "/tmp/qemu.log",
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		/* Gone with the test, even one the harness kills */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(to[0], 0);
		dup2(from[1], 1);
		if (err >= 0)
			dup2(err, 2);
		if (chroot(HOST) || chdir("/"))
			_exit(127);
		execv(qemu, argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	if (q->pid < 0) {
		close(to[1]);
		close(from[0]);
		return errno;
	}
	/* Before any kill of the group: whichever of the two runs first */
	setpgid(q->pid, q->pid);
	q->in = fdopen(to[1], "w");
	q->out = fdopen(from[0], "r");
	return q->in && q->out ? 0 : ENOMEM;
}

/* QEMU does not leave when its qtest input closes: end its group */
static void l2_stop(struct l2 *q)
{
	if (q->pid <= 0)
		return;
	kill(-q->pid, SIGKILL);
	kill(q->pid, SIGKILL);
	if (q->in)
		fclose(q->in);
	waitpid(q->pid, NULL, 0);
	if (q->out)
		fclose(q->out);
	q->pid = 0;
}

/* One qtest command; its answer after "OK" into @ans. 0 or -1 */
static int __printf(4, 5)
qt(struct l2 *q, char *ans, size_t len, const char *fmt, ...)
{
	static char line[QT_LINE];
	va_list ap;

	va_start(ap, fmt);
	vfprintf(q->in, fmt, ap);
	va_end(ap);
	fputc('\n', q->in);
	/* QEMU gone: EPIPE, SIGPIPE being ignored */
	if (fflush(q->in))
		return -1;
	do {
		if (!fgets(line, sizeof(line), q->out))
			return -1;
	} while (!strncmp(line, "IRQ", 3));	/* asynchronous, not ours */
	if (strncmp(line, "OK", 2))
		return -1;
	line[strcspn(line, "\n")] = 0;
	if (ans)
		snprintf(ans, len, "%s", line[2] ? line + 3 : "");
	return 0;
}

static int __printf(3, 4)
qt_val(struct l2 *q, uint64_t *val, const char *fmt, ...)
{
	char cmd[64], ans[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (qt(q, ans, sizeof(ans), "%s", cmd))
		return -1;
	*val = strtoull(ans, NULL, 0);
	return 0;
}

/* Config space of edu in L2, by the 0xcf8/0xcfc mechanism */
static uint32_t cfg_addr(unsigned int reg)
{
	return 0x80000000u | (EDU_L2_SLOT << 11) | reg;
}

/* Run one edu DMA and wait for it; 0, or -1 on a timeout */
static int edu_l2_dma(struct l2 *q, uint64_t src, uint64_t dst, uint64_t cmd)
{
	uint64_t t0 = edu_now_ms(), v;

	if (qt(q, NULL, 0, "writeq 0x%llx 0x%llx", EDU_L2_BAR +
	       EDU_REG_DMA_SRC, (unsigned long long)src) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", EDU_L2_BAR +
	       EDU_REG_DMA_DST, (unsigned long long)dst) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%x", EDU_L2_BAR +
	       EDU_REG_DMA_COUNT, DMA_LEN) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", EDU_L2_BAR +
	       EDU_REG_DMA_CMD,
	       (unsigned long long)(cmd | EDU_DMA_CMD_START)))
		return -1;
	/* The outer QEMU runs edu's DMA on a timer: poll, no clock_step */
	do {
		if (qt_val(q, &v, "readl 0x%llx", EDU_L2_BAR + EDU_REG_DMA_CMD))
			return -1;
		if (!(v & EDU_DMA_CMD_START))
			return 0;
		usleep(1000);
	} while (edu_now_ms() - t0 < EDU_DMA_TIMEOUT_MS);
	return -1;
}

static void hex(char *dst, const unsigned char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(dst + 2 * i, "%02x", src[i]);
}

FIXTURE(qemu) {
	struct l2 q;
	char bdf[32];
	char qemu[256];
};

FIXTURE_VARIANT(qemu) {
	bool iommufd;
};

/* QEMU 7.2 as Debian ships it: /dev/vfio/vfio and the group */
FIXTURE_VARIANT_ADD(qemu, type1) {
	.iommufd = false,
};

/* QEMU 10.0.2's -object iommufd: /dev/iommu and the device's cdev */
FIXTURE_VARIANT_ADD(qemu, iommufd) {
	.iommufd = true,
};

FIXTURE_SETUP(qemu)
{
	int rc = hostroot();

	if (rc)
		SKIP(return, "no host root over virtio-9p: %s", strerror(rc));
	if (edu_find(self->bdf, sizeof(self->bdf)))
		SKIP(return, "no edu device");
	if (!variant->iommufd && access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no vfio container: CONFIG_VFIO_CONTAINER");
	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf));
	/* A QEMU that quit early fails the next command, not the test */
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->qemu, sizeof(self->qemu), "%s", QEMU);
	if (variant->iommufd) {
		FILE *f = fopen(RIG_QEMU, "r");
		char path[sizeof(self->qemu) - sizeof(HOST)];

		if (!f || !fgets(path, sizeof(path), f)) {
			if (f)
				fclose(f);
			SKIP(return, "no QEMU 10 from the rig (%s)", RIG_QEMU);
		}
		fclose(f);
		path[strcspn(path, "\n")] = 0;
		snprintf(self->qemu, sizeof(self->qemu), "%s", path);
		ASSERT_EQ(0, host_access(self->qemu));
	}
}

FIXTURE_TEARDOWN(qemu)
{
	l2_stop(&self->q);
}

/* Start the L2 with edu passed through, its BAR and bus mastering on */
static void l2_edu_up(struct __test_metadata *_metadata, struct l2 *q,
		      const char *qemu, const char *bdf, bool iommufd)
{
	uint64_t v;
	int rc;

	ASSERT_EQ(0, l2_start(q, qemu, bdf, iommufd));
	/* The first answer comes once QEMU has mapped its RAM via vfio */
	rc = qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(0));
	if (rc && !system("cat " HOST "/tmp/qemu.log >&2"))
		TH_LOG("QEMU's stderr above");
	ASSERT_EQ(0, rc);
	ASSERT_EQ(0, qt_val(q, &v, "inl 0xcfc"));
	ASSERT_EQ((EDU_DEVICE << 16) | EDU_VENDOR, v);
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(0x10)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcfc 0x%llx", EDU_L2_BAR));
	/* Memory space and bus mastering */
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(0x04)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outw 0xcfc 0x6"));
	ASSERT_EQ(0, qt(q, NULL, 0, "writel 0x%llx 0x12345678",
			EDU_L2_BAR + EDU_REG_ALIVE));
	ASSERT_EQ(0, qt_val(q, &v, "readl 0x%llx",
			    EDU_L2_BAR + EDU_REG_ALIVE));
	ASSERT_EQ((uint32_t)~0x12345678u, v);
}

/*
 * An L2 starts in a few seconds under TCG, QEMU's binary read over 9p the
 * first time: more than the harness's default 30 s must be allowed
 */
#define L2_TIMEOUT	120

/* edu, passed through to the L2, copies L2 RAM to L2 RAM by DMA */
TEST_F_TIMEOUT(qemu, edu_dma_round_trip, L2_TIMEOUT)
{
	char buf[QT_LINE], want[QT_LINE];
	unsigned char pattern[DMA_LEN];
	struct l2 *q = &self->q;

	l2_edu_up(_metadata, q, self->qemu, self->bdf, variant->iommufd);
	fill_pattern(pattern, sizeof(pattern), getpid());
	hex(buf, pattern, sizeof(pattern));
	ASSERT_EQ(0, qt(q, NULL, 0, "write 0x%llx 0x%x 0x%s", L2_SRC,
			DMA_LEN, buf));
	ASSERT_EQ(0, edu_l2_dma(q, L2_SRC, EDU_BUF, 0));
	ASSERT_EQ(0, edu_l2_dma(q, EDU_BUF, L2_DST, EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, qt(q, buf, sizeof(buf), "read 0x%llx 0x%x", L2_DST,
			DMA_LEN));
	want[0] = '0';
	want[1] = 'x';
	hex(want + 2, pattern, sizeof(pattern));
	ASSERT_EQ(0, strcmp(buf, want));
}

/*
 * A DMA to an L2 address that is no RAM, which QEMU therefore never
 * mapped, is stopped by VT-d: the guest kernel logs the fault of edu at
 * that address
 */
TEST_F_TIMEOUT(qemu, dma_outside_l2_ram_faults, L2_TIMEOUT)
{
	struct l2 *q = &self->q;
	char line[256];
	int kmsg;

	l2_edu_up(_metadata, q, self->qemu, self->bdf, variant->iommufd);
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_l2_dma(q, EDU_BUF, L2_HOLE, EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, L2_HOLE, 3000, line,
					 sizeof(line)));
	TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, self->bdf + 5));
	close(kmsg);
}

TEST_HARNESS_MAIN
