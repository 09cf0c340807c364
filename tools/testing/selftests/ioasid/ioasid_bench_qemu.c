// SPDX-License-Identifier: GPL-2.0-only
/*
 * What mapping guest RAM costs a VMM: the time from starting QEMU, with
 * the edu device passed through, to its first qtest answer, which comes
 * once QEMU has realized the device and mapped all of guest RAM for its
 * DMA. One QEMU binary (the rig's 10.0.2 with qemu/patches) on each of
 * vfio's type1 container, iommufd and /dev/ioasid, in one boot,
 * interleaved repetitions, medians; and without any device, the baseline
 * whose difference is the part of the start that vfio and the stack
 * take. Also the pages each one pinned.
 *
 * Not a test: it prints figures, and fails only when a stack cannot run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define EDU_LOG_PREFIX "# edu: "

#include "edu.h"
#include "qemu_l2.h"

#define BENCH_PROG	"ioasid_bench_qemu"
#include "bench_utils.h"
#define MAX_REPS	32

struct stack {
	const char *name;
	unsigned int ndev;	/* 0: QEMU alone, the baseline */
	const char *backend;	/* -object of vfio-pci, NULL: container */
	double ms[MAX_REPS];
	long pins;
};

/*
 * Start QEMU on @st, wait for its first answer, note the time and the
 * pins, and stop it; 0 or an errno
 */
static int one_start(struct stack *st, const char *qemu, char (*bdf)[32],
		     unsigned int mem_mb, unsigned int rep)
{
	long base = foll_pins();
	struct l2 q = { 0 };
	double t0;
	int rc;

	t0 = now_ms();
	rc = l2_start(&q, qemu, bdf, st->ndev, st->backend, mem_mb);
	if (rc)
		return rc;
	if (qt(&q, NULL, 0, "outl 0xcf8 0x%x", 0x80000000u | L2_SLOT << 11)) {
		l2_stop(&q);
		if (system("sed 's/^/# /' " HOST "/tmp/qemu.log >&2"))
			fprintf(stderr, "# (none)\n");
		return edu_fail(EIO, "%s: QEMU gave no answer, its stderr above",
				st->name);
	}
	st->ms[rep] = now_ms() - t0;
	st->pins = foll_pins() - base;
	l2_stop(&q);
	/* Not timed: what the stack takes to unpin, before the next */
	if (pins_settle(base) != base)
		return edu_fail(EBUSY, "%s: pins still held after QEMU is gone",
				st->name);
	return 0;
}

static void help(FILE *f)
{
	fprintf(f, "usage: %s [--short] [--reps N] [--mem MB]\n", BENCH_PROG);
}

int main(int argc, char **argv)
{
	struct stack stacks[] = {
		{ .name = "no-vfio", .ndev = 0 },
		{ .name = "type1", .ndev = 1, .backend = NULL },
		{ .name = "iommufd", .ndev = 1, .backend = "iommufd" },
		{ .name = "ioasid", .ndev = 1, .backend = "ioasid" },
	};
	double base, t[ARRAY_SIZE(stacks)];
	unsigned int reps = 5, mem_mb = 256, r, s;
	char qemu[256], bdf[1][32];
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--short")) {
			reps = 3;
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--mem") && i + 1 < argc) {
			mem_mb = strtoul(argv[++i], NULL, 0);
		} else {
			help(strcmp(argv[i], "--help") ? stderr : stdout);
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (!reps || reps > MAX_REPS || !mem_mb) {
		help(stderr);
		return 2;
	}

	rc = hostroot();
	if (!rc)
		rc = rig_qemu(qemu, sizeof(qemu) - sizeof(HOST));
	if (!rc)
		rc = host_access(qemu);
	if (rc) {
		fprintf(stderr, "# no QEMU from the rig over the host's root: %s\n",
			strerror(rc));
		return 1;
	}
	if (edu_find(bdf[0], sizeof(bdf[0])) || edu_bind_vfio_pci(bdf[0]))
		return 1;
	/* A QEMU that quit early fails the next command, not the program */
	signal(SIGPIPE, SIG_IGN);

	printf("# %s: QEMU %s, %u MiB of guest RAM, edu %s passed through; "
	       "time to QEMU's first qtest answer, medians of %u interleaved reps\n",
	       BENCH_PROG, qemu, mem_mb, bdf[0], reps);
	/* Each rep starts with the next stack: none always follows another */
	for (r = 0; r < reps; r++) {
		for (i = 0; i < (int)ARRAY_SIZE(stacks); i++) {
			s = (r + i) % ARRAY_SIZE(stacks);
			rc = one_start(&stacks[s], qemu, bdf, mem_mb, r);
			if (rc) {
				fprintf(stderr, "# %s: QEMU did not start: %s\n",
					stacks[s].name, strerror(rc));
				return 1;
			}
		}
	}
	for (s = 0; s < ARRAY_SIZE(stacks); s++)
		t[s] = median(stacks[s].ms, reps);
	/* What the device and its DMA mappings add to QEMU's own start */
	base = t[0];
	for (s = 0; s < ARRAY_SIZE(stacks); s++)
		printf("# qemu%uM %-8s start %8.1f ms, vfio part %7.1f ms, %ld pages pinned\n",
		       mem_mb, stacks[s].name, t[s], t[s] - base,
		       stacks[s].pins);
	printf("# qemu%uM: ioasid/iommufd time %.2f (vfio part %.2f); ",
	       mem_mb, t[3] / t[2], (t[3] - base) / (t[2] - base));
	printf("ioasid/type1 time %.2f (vfio part %.2f)\n",
	       t[3] / t[1], (t[3] - base) / (t[1] - base));
	return 0;
}
