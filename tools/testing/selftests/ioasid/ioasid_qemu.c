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
 * emulated VT-d tables that QEMU set up through vfio. Pins are counted
 * across the VM (FOLL_PIN in /proc/vmstat): all of L2 RAM while QEMU runs,
 * once for two devices, none after it quits or is killed.
 *
 * These are the controls the /dev/ioasid clients are compared against:
 * QEMU 7.2 as Debian ships it on vfio's own type1 container, and QEMU
 * 10.0.2 (built by the rig from Debian's source, the path of its binary in
 * /etc/rig-qemu) on iommufd, in the same boot.
 */
#define EDU_LOG_PREFIX "# edu: "

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
/* edu in L2: slot 4 of bus 0 and up, BAR 0 at EDU_L2_BAR and up */
#define EDU_L2_SLOT	4
#define EDU_L2_BAR	0xfe000000ULL
#define EDU_L2_BAR_SIZE	0x100000ULL
/* L2 RAM, all of it mapped for DMA by QEMU */
#define L2_RAM_MB	128
#define L2_RAM_PAGES	(L2_RAM_MB * 256L)
/* Pinned at least: all of it but the legacy windows below 1 MiB */
#define L2_PINNED_MIN	(L2_RAM_PAGES - 256)
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
 * qtest on stdio, the @n edu functions @bdfs passed through to slots
 * EDU_L2_SLOT and up, on vfio's container or, with @backend ("iommufd" or
 * "ioasid"), on one object of that type
 */
static int l2_start(struct l2 *q, const char *qemu, char (*bdfs)[32],
		    unsigned int n, const char *backend)
{
	/* Firmware from Debian's QEMU: the rig's build has none */
	char *argv[32] = {
		(char *)qemu, "-machine", "q35", "-accel", "tcg", "-S",
		"-qtest", "stdio", "-display", "none", "-nodefaults",
		"-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
		"-m", NULL,
	};
	int to[2], from[2], argc = 17;
	char dev[2][128], obj[64], mem[16];
	pid_t parent = getpid();
	unsigned int i;

	if (n > ARRAY_SIZE(dev))
		return edu_fail(EINVAL, "%u devices, at most %zu", n,
				ARRAY_SIZE(dev));
	snprintf(mem, sizeof(mem), "%d", L2_RAM_MB);
	argv[16] = mem;
	for (i = 0; i < n; i++) {
		snprintf(dev[i], sizeof(dev[i]),
			 "vfio-pci,host=%s,addr=%02x.0%s%s%s", bdfs[i],
			 EDU_L2_SLOT + i, backend ? "," : "",
			 backend ? backend : "", backend ? "=be0" : "");
		argv[argc++] = "-device";
		argv[argc++] = dev[i];
	}
	if (backend) {
		snprintf(obj, sizeof(obj), "%s,id=be0", backend);
		argv[argc++] = "-object";
		argv[argc++] = obj;
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

/*
 * QEMU does not leave when its qtest input closes: end its group with
 * @sig, and give how QEMU ended
 */
static int l2_stop_sig(struct l2 *q, int sig)
{
	int status = -1;

	if (q->pid <= 0)
		return status;
	kill(q->pid, sig);
	if (sig == SIGKILL)
		kill(-q->pid, SIGKILL);
	if (q->in)
		fclose(q->in);
	q->in = NULL;
	waitpid(q->pid, &status, 0);
	/* Anything QEMU left behind in its group */
	kill(-q->pid, SIGKILL);
	if (q->out)
		fclose(q->out);
	q->out = NULL;
	q->pid = 0;
	return status;
}

static void l2_stop(struct l2 *q)
{
	l2_stop_sig(q, SIGKILL);
}

/*
 * Pages pinned for DMA (FOLL_PIN) in the whole VM, which runs nothing
 * else that pins: -1 when /proc/vmstat does not say
 */
static long foll_pins(void)
{
	long long acquired = -1, released = -1, v;
	char name[64];
	FILE *f;

	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

/* Wait up to 5 s for the pins to come back to @base; the last count */
static long pins_settle(long base)
{
	uint64_t t0 = edu_now_ms();
	long now;

	while ((now = foll_pins()) != base && edu_now_ms() - t0 < 5000)
		usleep(10000);
	return now;
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

/* Config space of edu number @i in L2, by the 0xcf8/0xcfc mechanism */
static uint32_t cfg_addr(unsigned int i, unsigned int reg)
{
	return 0x80000000u | ((EDU_L2_SLOT + i) << 11) | reg;
}

/* BAR 0 of edu number @i in L2 */
static uint64_t l2_bar(unsigned int i)
{
	return EDU_L2_BAR + i * EDU_L2_BAR_SIZE;
}

/* Run one DMA of edu number @i and wait for it; 0, or -1 on a timeout */
static int edu_l2_dma_by(struct l2 *q, unsigned int i, uint64_t src,
			 uint64_t dst, uint64_t cmd)
{
	unsigned long long bar = l2_bar(i);
	uint64_t t0 = edu_now_ms(), v;

	if (qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_SRC,
	       (unsigned long long)src) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_DST,
	       (unsigned long long)dst) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%x", bar + EDU_REG_DMA_COUNT,
	       DMA_LEN) ||
	    qt(q, NULL, 0, "writeq 0x%llx 0x%llx", bar + EDU_REG_DMA_CMD,
	       (unsigned long long)(cmd | EDU_DMA_CMD_START)))
		return -1;
	/* The outer QEMU runs edu's DMA on a timer: poll, no clock_step */
	do {
		if (qt_val(q, &v, "readl 0x%llx", bar + EDU_REG_DMA_CMD))
			return -1;
		if (!(v & EDU_DMA_CMD_START))
			return 0;
		usleep(1000);
	} while (edu_now_ms() - t0 < EDU_DMA_TIMEOUT_MS);
	return -1;
}

static int edu_l2_dma(struct l2 *q, uint64_t src, uint64_t dst, uint64_t cmd)
{
	return edu_l2_dma_by(q, 0, src, dst, cmd);
}

static void hex(char *dst, const unsigned char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(dst + 2 * i, "%02x", src[i]);
}

FIXTURE(qemu) {
	struct l2 q;
	char bdf[2][32];	/* edu, and the other function of its slot */
	bool sib_was_vfio;	/* The other one on vfio-pci before the test */
	char qemu[256];
	long pins;		/* Pages pinned before QEMU started */
};

FIXTURE_VARIANT(qemu) {
	const char *backend;	/* -object of vfio-pci, NULL: container */
};

/* QEMU 7.2 as Debian ships it: /dev/vfio/vfio and the group */
FIXTURE_VARIANT_ADD(qemu, type1) {
	.backend = NULL,
};

/* QEMU 10.0.2's -object iommufd: /dev/iommu and the device's cdev */
FIXTURE_VARIANT_ADD(qemu, iommufd) {
	.backend = "iommufd",
};

FIXTURE_SETUP(qemu)
{
	char drv[64];
	int rc = hostroot();

	self->sib_was_vfio = true;
	if (rc)
		SKIP(return, "no host root over virtio-9p: %s", strerror(rc));
	if (edu_find(self->bdf[0], sizeof(self->bdf[0])))
		SKIP(return, "no edu device");
	if (!variant->backend && access("/dev/vfio/vfio", F_OK))
		SKIP(return, "no vfio container: CONFIG_VFIO_CONTAINER");
	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf[0]));
	ASSERT_EQ(0, edu_scan(self->bdf[1], sizeof(self->bdf[1]),
			      self->bdf[0]));
	ASSERT_EQ(0, edu_driver(self->bdf[1], drv, sizeof(drv)));
	self->sib_was_vfio = !strcmp(drv, "vfio-pci");
	/* A QEMU that quit early fails the next command, not the test */
	signal(SIGPIPE, SIG_IGN);
	snprintf(self->qemu, sizeof(self->qemu), "%s", QEMU);
	if (variant->backend) {
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
	self->pins = foll_pins();
	ASSERT_LE(0, self->pins);
}

FIXTURE_TEARDOWN(qemu)
{
	l2_stop(&self->q);
	if (!self->sib_was_vfio)
		edu_unbind_vfio_pci(self->bdf[1]);
}

/* Set up edu number @i in the running L2: its BAR and bus mastering on */
static void l2_edu_init(struct __test_metadata *_metadata, struct l2 *q,
			unsigned int i)
{
	uint64_t v;
	int rc;

	/* The first answer comes once QEMU has mapped its RAM via vfio */
	rc = qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0));
	if (rc && !system("cat " HOST "/tmp/qemu.log >&2"))
		TH_LOG("QEMU's stderr above");
	ASSERT_EQ(0, rc);
	ASSERT_EQ(0, qt_val(q, &v, "inl 0xcfc"));
	ASSERT_EQ((EDU_DEVICE << 16) | EDU_VENDOR, v);
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0x10)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcfc 0x%llx",
			(unsigned long long)l2_bar(i)));
	/* Memory space and bus mastering */
	ASSERT_EQ(0, qt(q, NULL, 0, "outl 0xcf8 0x%x", cfg_addr(i, 0x04)));
	ASSERT_EQ(0, qt(q, NULL, 0, "outw 0xcfc 0x6"));
	ASSERT_EQ(0, qt(q, NULL, 0, "writel 0x%llx 0x12345678",
			(unsigned long long)l2_bar(i) + EDU_REG_ALIVE));
	ASSERT_EQ(0, qt_val(q, &v, "readl 0x%llx",
			    (unsigned long long)l2_bar(i) + EDU_REG_ALIVE));
	ASSERT_EQ((uint32_t)~0x12345678u, v);
}

/* Start the L2 with the first @n edu functions passed through, set up */
static void l2_edu_up(struct __test_metadata *_metadata, struct l2 *q,
		      const char *qemu, char (*bdfs)[32], unsigned int n,
		      const char *backend)
{
	unsigned int i;

	ASSERT_EQ(0, l2_start(q, qemu, bdfs, n, backend));
	for (i = 0; i < n; i++)
		l2_edu_init(_metadata, q, i);
}

/*
 * edu number @i copies a fresh pattern from L2 RAM at L2_SRC to its buffer
 * and back to L2 RAM at L2_DST, where it must be found
 */
static void l2_round_trip(struct __test_metadata *_metadata, struct l2 *q,
			  unsigned int i)
{
	char buf[QT_LINE], want[QT_LINE];
	unsigned char pattern[DMA_LEN];

	fill_pattern(pattern, sizeof(pattern), getpid() + i);
	hex(buf, pattern, sizeof(pattern));
	ASSERT_EQ(0, qt(q, NULL, 0, "write 0x%llx 0x%x 0x%s", L2_SRC,
			DMA_LEN, buf));
	ASSERT_EQ(0, edu_l2_dma_by(q, i, L2_SRC, EDU_BUF, 0));
	ASSERT_EQ(0, edu_l2_dma_by(q, i, EDU_BUF, L2_DST,
				   EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, qt(q, buf, sizeof(buf), "read 0x%llx 0x%x", L2_DST,
			DMA_LEN));
	want[0] = '0';
	want[1] = 'x';
	hex(want + 2, pattern, sizeof(pattern));
	ASSERT_EQ(0, strcmp(buf, want));
}

/*
 * An L2 starts in a few seconds under TCG, QEMU's binary read over 9p the
 * first time: more than the harness's default 30 s must be allowed
 */
#define L2_TIMEOUT	120

/* edu, passed through to the L2, copies L2 RAM to L2 RAM by DMA */
TEST_F_TIMEOUT(qemu, edu_dma_round_trip, L2_TIMEOUT)
{
	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	l2_round_trip(_metadata, &self->q, 0);
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

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	edu_expect_dmar_fault();
	ASSERT_EQ(0, edu_l2_dma(q, EDU_BUF, L2_HOLE, EDU_DMA_CMD_TO_RAM));
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, true, L2_HOLE, 3000, line,
					 sizeof(line)));
	TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, self->bdf[0] + 5));
	close(kmsg);
}

/*
 * All of L2 RAM is pinned while QEMU runs, and nothing is once it has
 * quit: on SIGTERM, as a management stack stops a VM, it exits cleanly
 */
TEST_F_TIMEOUT(qemu, quit_unpins_all, L2_TIMEOUT)
{
	long pinned;
	int status;

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned while QEMU runs", pinned);
	ASSERT_LE(L2_PINNED_MIN, pinned);
	l2_round_trip(_metadata, &self->q, 0);

	status = l2_stop_sig(&self->q, SIGTERM);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/* Killed with no chance to clean up, QEMU leaves nothing pinned either */
TEST_F_TIMEOUT(qemu, sigkill_unpins_all, L2_TIMEOUT)
{
	int status;

	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 1,
		  variant->backend);
	ASSERT_LE(L2_PINNED_MIN, foll_pins() - self->pins);

	status = l2_stop_sig(&self->q, SIGKILL);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

/*
 * Both edu functions in one QEMU: each DMAs through the address space QEMU
 * set up, and guest RAM is pinned once for the two, not once per device
 */
TEST_F_TIMEOUT(qemu, two_devices_share_mappings, L2_TIMEOUT)
{
	long pinned;

	ASSERT_EQ(0, edu_bind_vfio_pci(self->bdf[1]));
	l2_edu_up(_metadata, &self->q, self->qemu, self->bdf, 2,
		  variant->backend);
	pinned = foll_pins() - self->pins;
	TH_LOG("%ld pages pinned for two devices", pinned);
	ASSERT_LE(L2_PINNED_MIN, pinned);
	ASSERT_GT(L2_RAM_PAGES * 3 / 2, pinned);
	l2_round_trip(_metadata, &self->q, 0);
	l2_round_trip(_metadata, &self->q, 1);
	l2_stop(&self->q);
	ASSERT_EQ(self->pins, pins_settle(self->pins));
}

TEST_HARNESS_MAIN
