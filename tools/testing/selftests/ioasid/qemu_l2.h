/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A QEMU of the host's root run as an L2 in the test VM, driven over the
 * qtest protocol: the host's root filesystem is shared read-only over
 * virtio-9p (mount tag "hostroot") and QEMU runs from it under chroot,
 * libraries and firmware included. The L2 never starts a CPU (-S); PCI
 * devices of the VM are passed through to it with vfio-pci.
 */
#ifndef __SELFTEST_IOASID_QEMU_L2_H
#define __SELFTEST_IOASID_QEMU_L2_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../kselftest.h"
#include "edu.h"
#include "ioasid_utils.h"

#define HOST		"/host"
#define QEMU		"/usr/bin/qemu-system-x86_64"
/* Where the rig says its QEMU build is, in the host's root */
#define RIG_QEMU	"/etc/rig-qemu"
/* Passed-through devices go to slot L2_SLOT of bus 0 and up */
#define L2_SLOT		4
/* Longest qtest answer read: "OK 0x" and two digits for 4 KiB */
#define L2_QT_LINE	8256

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
	/* Set before l2_start(), for the tests of QEMU's errors: */
	bool no_object;	/* name the backend object but create none */
	bool no_node;	/* hide /dev/ioasid, as a kernel without it */
	/* QEMU trace events to enable, to stderr: "ioasid_*", say */
	const char *trace;
	/* Guest RAM from a shared memfd rather than anonymous memory */
	bool memfd;
	/* QEMU's /dev/vfio/vfio is /dev/ioasid: the vfio container shim */
	bool shim;
	/*
	 * An emulated VT-d in the L2 (caching mode, 39-bit addresses as the
	 * VM's own), in front of the devices passed through: what the L2 maps
	 * in it, QEMU maps for them, page by page
	 */
	bool viommu;
};

/*
 * In a mount namespace of its own, /dev/vfio/vfio is /dev/ioasid: what the
 * unmodified program opens as vfio's container is the shim. 0 or an errno.
 */
static int l2_use_shim(void)
{
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("/dev/ioasid", HOST "/dev/vfio/vfio", NULL, MS_BIND, NULL))
		return errno;
	return 0;
}

/* Has process @pid a file of the device node @node open? */
static bool pid_holds_node(pid_t pid, const char *node)
{
	struct stat want, st;
	struct dirent *d;
	char path[64];
	bool found = false;
	DIR *dir;

	if (stat(node, &want))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!found && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, d->d_name);
		found = !stat(path, &st) && S_ISCHR(st.st_mode) &&
			st.st_rdev == want.st_rdev;
	}
	closedir(dir);
	return found;
}

/* The host's /dev for QEMU, but for /dev/ioasid: 0 or an errno */
static int l2_hide_ioasid(void)
{
	static const char * const nodes[] = {
		"null", "zero", "full", "random", "urandom", "vfio",
	};
	char path[64];
	unsigned int i;

	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", HOST "/dev", "tmpfs", 0, "mode=755"))
		return errno;
	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), HOST "/dev/%s", nodes[i]);
		if (stat(path + strlen(HOST), &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mkdir(path, 0755))
				return errno;
		} else {
			fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				return errno;
			close(fd);
		}
		if (mount(path + strlen(HOST), path, NULL, MS_BIND | MS_REC,
			  NULL))
			return errno;
	}
	return 0;
}

/* The mount namespace host_spawn() runs a program in */
enum host_ns {
	HOST_NS_SAME,		/* the test's */
	HOST_NS_NO_IOASID,	/* one without /dev/ioasid */
	HOST_NS_SHIM,		/* one whose /dev/vfio/vfio is /dev/ioasid */
};

/*
 * Run @path of the host's root, chrooted in it, in a process group of its
 * own that dies with the test, in the mount namespace @ns says. Its stdin
 * and stdout are pipes whose other ends are set in @fds[0] (to write) and
 * @fds[1] (to read); its stderr goes to the file @err, or to stdout when
 * NULL. Sets *@pid. 0 or an errno.
 */
static int host_spawn(const char *path, const char * const argv[],
		      const char *err, enum host_ns ns, pid_t *pid,
		      int fds[2])
{
	pid_t parent = getpid();
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC))
		return errno;
	if (pipe2(from, O_CLOEXEC)) {
		close(to[0]);
		close(to[1]);
		return errno;
	}
	*pid = fork();
	if (!*pid) {
		int efd = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC |
				     O_CLOEXEC, 0644) : from[1];

		/* Gone with the test, even one the harness kills */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		dup2(to[0], 0);
		dup2(from[1], 1);
		if (efd >= 0)
			dup2(efd, 2);
		if (ns == HOST_NS_NO_IOASID && l2_hide_ioasid())
			_exit(127);
		if (ns == HOST_NS_SHIM && l2_use_shim())
			_exit(127);
		if (chroot(HOST) || chdir("/"))
			_exit(127);
		execv(path, (char * const *)argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	if (*pid < 0) {
		close(to[1]);
		close(from[0]);
		return errno;
	}
	/* Before any kill of the group: whichever of the two runs first */
	setpgid(*pid, *pid);
	fds[0] = to[1];
	fds[1] = from[0];
	return 0;
}

/*
 * Start QEMU binary @qemu of the host's root in its own process group with
 * @mem_mb MiB of RAM, qtest on stdio, the @n PCI devices @bdfs passed
 * through to slots L2_SLOT and up, on vfio's container or, with @backend
 * ("iommufd" or "ioasid"), on one object of that type
 */
static int l2_start(struct l2 *q, const char *qemu, char (*bdfs)[32],
		    unsigned int n, const char *backend, unsigned int mem_mb)
{
	/* Firmware from Debian's QEMU: the rig's build has none */
	const char *argv[32] = {
		qemu, "-machine", "q35", "-accel", "tcg", "-S",
		"-qtest", "stdio", "-display", "none", "-nodefaults",
		"-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
		"-m", NULL,
	};
	char dev[2][128], obj[64], mem[16], ram[96];
	int fds[2], argc = 17, rc;
	unsigned int i;

	if (n > ARRAY_SIZE(dev)) {
		fprintf(stderr, "# l2: %u devices, at most %zu\n", n,
			ARRAY_SIZE(dev));
		errno = E2BIG;
		return errno;
	}
	snprintf(mem, sizeof(mem), "%u", mem_mb);
	argv[16] = mem;
	if (q->memfd) {
		snprintf(ram, sizeof(ram),
			 "memory-backend-memfd,id=ram0,size=%uM,share=on",
			 mem_mb);
		argv[2] = "q35,memory-backend=ram0";
		argv[argc++] = "-object";
		argv[argc++] = ram;
	}
	/* Before the devices behind it */
	if (q->viommu) {
		argv[argc++] = "-device";
		argv[argc++] =
			"intel-iommu,caching-mode=on,intremap=off,aw-bits=39";
	}
	for (i = 0; i < n; i++) {
		snprintf(dev[i], sizeof(dev[i]),
			 "vfio-pci,host=%s,addr=%02x.0%s%s%s", bdfs[i],
			 L2_SLOT + i, backend ? "," : "",
			 backend ? backend : "", backend ? "=be0" : "");
		argv[argc++] = "-device";
		argv[argc++] = dev[i];
	}
	if (backend && !q->no_object) {
		snprintf(obj, sizeof(obj), "%s,id=be0", backend);
		argv[argc++] = "-object";
		argv[argc++] = obj;
	}
	if (q->trace) {
		argv[argc++] = "-trace";
		argv[argc++] = q->trace;
	}
	rc = host_spawn(qemu, argv, HOST "/tmp/qemu.log",
			q->no_node ? HOST_NS_NO_IOASID :
			q->shim ? HOST_NS_SHIM : HOST_NS_SAME, &q->pid, fds);
	if (rc)
		return rc;
	q->in = fdopen(fds[0], "w");
	q->out = fdopen(fds[1], "r");
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

/* Wait up to 5 s for the pins to come back to @base; the last count */
static long pins_settle(long base)
{
	uint64_t t0 = edu_now_ms();
	long now;

	while ((now = foll_pins()) != base && edu_now_ms() - t0 < 5000)
		usleep(50000);
	return now;
}

/* One qtest command; its answer after "OK" into @ans. 0 or -1 */
static int __printf(4, 5)
qt(struct l2 *q, char *ans, size_t len, const char *fmt, ...)
{
	static char line[L2_QT_LINE];
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

/* The rig's QEMU build, from /etc/rig-qemu, into @path: 0 or an errno */
static int rig_qemu(char *path, size_t len)
{
	FILE *f = fopen(RIG_QEMU, "r");
	int rc = 0;

	if (!f)
		return errno;
	if (!fgets(path, len, f))
		rc = ENOENT;
	fclose(f);
	path[strcspn(path, "\n")] = 0;
	return rc;
}

#endif /* __SELFTEST_IOASID_QEMU_L2_H */
