// SPDX-License-Identifier: GPL-2.0-only
/*
 * vhost-vdpa on /dev/ioasid: a vdpa_sim_net device (created over generic
 * netlink, as iproute2's `vdpa dev add` does) gets its address space 0
 * attached to an IOASID with VHOST_VDPA_ATTACH_IOASID. Its RX and TX rings
 * and buffers live in memory mapped into the IOASID; a broadcast frame
 * sent on TX must come back on RX byte for byte, as vdpa_sim_net loops TX
 * to RX, by way of the pages the IOASID pinned. Then: UNMAP of the RX
 * buffer stops delivery, a replacement IOASID carries the traffic, IOTLB
 * messages are refused while attached, and the fds close in any order.
 *
 * Every test runs on the three kinds of simulator device: PA mode with
 * set_map(), VA mode with set_map() (the device then copies through the
 * pages the IOASID pinned all the same: its IOTLB is marked physical) and
 * PA mode with dma_map(). vdpa_sim's use_va and batch_mapping parameters
 * choose the kind of the devices created after they are written.
 */
#include "../kselftest_harness.h"
#include "ioasid_utils.h"
#include "edu.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#define DEV_NAME	"ioasid_vdpa0"
#define MGMTDEV		"vdpasim_net"
#define QSIZE		16
/* Rings and buffers: page k of the buffer is at IOVA_BASE + k * 4 KiB */
#define IOVA_BASE	0x100000ULL
#define NPAGES		8
#define RX_DESC		0
#define RX_AVAIL	1
#define RX_USED		2
#define TX_DESC		3
#define TX_AVAIL	4
#define TX_USED		5
#define RX_BUF		6
#define TX_BUF		7
#define HDR_LEN		12	/* struct virtio_net_hdr_v1 */
#define FRAME_LEN	214

/* Generic netlink, just enough for VDPA_CMD_DEV_NEW and _DEL */
struct nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char buf[256];
};

static void nl_put(struct nl_req *r, uint16_t type, const void *data,
		   uint16_t len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* Send @r, wait for the answer into @ans; the errno of an error answer */
static int nl_talk(int sk, struct nl_req *r, char *ans, size_t len)
{
	struct nlmsghdr *h = (void *)ans;
	ssize_t n;

	if (send(sk, r, r->n.nlmsg_len, 0) < 0)
		return errno;
	n = recv(sk, ans, len, 0);
	if (n < 0)
		return errno;
	if (n < (ssize_t)sizeof(*h)) {
		errno = EPROTO;
		return errno;
	}
	if (h->nlmsg_type == NLMSG_ERROR)
		return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
	return 0;
}

static int vdpa_family(int sk)
{
	struct nl_req r = {
		.n = {
			.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
			.nlmsg_type = GENL_ID_CTRL,
			.nlmsg_flags = NLM_F_REQUEST,
		},
		.g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 },
	};
	char ans[4096];
	struct nlmsghdr *h = (void *)ans;
	struct nlattr *a;
	int len;

	nl_put(&r, CTRL_ATTR_FAMILY_NAME, VDPA_GENL_NAME,
	       sizeof(VDPA_GENL_NAME));
	if (nl_talk(sk, &r, ans, sizeof(ans)))
		return -1;
	a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
	len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			return *(uint16_t *)((char *)a + NLA_HDRLEN);
	return -1;
}

/*
 * VDPA_CMD_DEV_NEW (@add) or VDPA_CMD_DEV_DEL of vDPA device @name, made
 * by management device @mgmt (on bus @bus, or none)
 */
static int vdpa_dev_of(bool add, const char *bus, const char *mgmt,
		       const char *name)
{
	struct nl_req r = {
		.n = {
			.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK,
		},
		.g = {
			.cmd = add ? VDPA_CMD_DEV_NEW : VDPA_CMD_DEV_DEL,
			.version = 1,
		},
	};
	char ans[1024];
	int sk, family, rc;

	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sk < 0)
		return errno;
	family = vdpa_family(sk);
	if (family < 0) {
		close(sk);
		/* No vDPA in this kernel */
		errno = EOPNOTSUPP;
		return errno;
	}
	r.n.nlmsg_type = family;
	if (add && bus)
		nl_put(&r, VDPA_ATTR_MGMTDEV_BUS_NAME, bus, strlen(bus) + 1);
	if (add)
		nl_put(&r, VDPA_ATTR_MGMTDEV_DEV_NAME, mgmt, strlen(mgmt) + 1);
	nl_put(&r, VDPA_ATTR_DEV_NAME, name, strlen(name) + 1);
	rc = nl_talk(sk, &r, ans, sizeof(ans));
	close(sk);
	return rc;
}

static int vdpa_dev(bool add)
{
	return vdpa_dev_of(add, NULL, MGMTDEV, DEV_NAME);
}

/* Write @val to vdpa_sim parameter @name, its old value into @old */
static int sim_param(const char *name, const char *val, char *old,
		     size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/module/vdpa_sim/parameters/%s",
		 name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, old, len - 1);
	old[n > 0 ? n : 0] = 0;
	n = pwrite(fd, val, strlen(val), 0);
	close(fd);
	return n < 0 ? errno : 0;
}

/*
 * Create the test's vDPA device with vdpa_sim parameters use_va and
 * batch_mapping at @use_va and @batch; they are put back afterwards
 */
static int vdpa_dev_kind(const char *use_va, const char *batch)
{
	char va_old[8], batch_old[8];
	int rc;

	rc = sim_param("use_va", use_va, va_old, sizeof(va_old));
	if (rc)
		return rc;
	rc = sim_param("batch_mapping", batch, batch_old, sizeof(batch_old));
	if (!rc) {
		rc = vdpa_dev(true);
		/* Left behind by a test that failed */
		if (rc == EEXIST && !vdpa_dev(false))
			rc = vdpa_dev(true);
		sim_param("batch_mapping", batch_old, batch_old,
			  sizeof(batch_old));
	}
	sim_param("use_va", va_old, va_old, sizeof(va_old));
	return rc;
}

/* Open the vhost-vdpa char device of vDPA device @name */
static int vhost_open_of(const char *name)
{
	char path[300];
	struct dirent *de;
	DIR *dir;
	int fd = -1;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s", name);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vhost-vdpa-", 11))
			break;
	if (de) {
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	closedir(dir);
	return fd;
}

static int vhost_open(void)
{
	return vhost_open_of(DEV_NAME);
}

static int vhost_call(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? errno : 0;
}

static int vdpa_attach(int vfd, int ioasid_fd, uint32_t asid, uint32_t id)
{
	struct vhost_vdpa_attach_ioasid cmd = {
		.argsz = sizeof(cmd),
		.ioasid_fd = ioasid_fd,
		.asid = asid,
		.ioasid = id,
	};

	return vhost_call(vfd, VHOST_VDPA_ATTACH_IOASID, &cmd);
}

static int vdpa_detach(int vfd, uint32_t asid)
{
	struct vhost_vdpa_detach_ioasid cmd = {
		.argsz = sizeof(cmd),
		.asid = asid,
	};

	return vhost_call(vfd, VHOST_VDPA_DETACH_IOASID, &cmd);
}

static int vdpa_status(int vfd, uint8_t status)
{
	return vhost_call(vfd, VHOST_VDPA_SET_STATUS, &status);
}

/* Memory of one set of rings and buffers, mapped in an IOASID */
struct rings {
	unsigned char *mem;
	int kick[2];
	uint16_t rx_next;
	uint16_t tx_next;
};

static unsigned char *page(struct rings *g, unsigned int k)
{
	return g->mem + k * PAGE_SZ;
}

static uint64_t iova_of(unsigned int k)
{
	return IOVA_BASE + k * PAGE_SZ;
}

/* Map all of @g over vhost-vdpa's own IOTLB path instead */
static int vdpa_iotlb_map(int vfd, struct rings *g)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = {
			.iova = IOVA_BASE,
			.size = NPAGES * PAGE_SZ,
			.uaddr = (uintptr_t)g->mem,
			.perm = VHOST_ACCESS_RW,
			.type = VHOST_IOTLB_UPDATE,
		},
	};

	return write(vfd, &msg, sizeof(msg)) == sizeof(msg) ? 0 : errno;
}

enum { KEEP, ATTACH, IOTLB };

/*
 * Reset, negotiate, attach (or map over the IOTLB path, or keep what the
 * address space has), point both queues at @g, DRIVER_OK
 */
static int vdpa_start(int vfd, struct rings *g, int ioasid_fd, uint32_t id,
		      int how)
{
	uint64_t features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VIRTIO_F_ACCESS_PLATFORM);
	unsigned int q;
	int rc;

	rc = vdpa_status(vfd, 0);
	if (rc)
		return rc;
	rc = vdpa_status(vfd, VIRTIO_CONFIG_S_ACKNOWLEDGE |
			 VIRTIO_CONFIG_S_DRIVER);
	if (!rc)
		rc = vhost_call(vfd, VHOST_SET_FEATURES, &features);
	if (!rc)
		rc = vdpa_status(vfd, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				 VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK);
	if (!rc && how == ATTACH)
		rc = vdpa_attach(vfd, ioasid_fd, 0, id);
	if (!rc && how == IOTLB)
		rc = vdpa_iotlb_map(vfd, g);
	for (q = 0; !rc && q < 2; q++) {
		unsigned int base = q ? TX_DESC : RX_DESC;
		struct vhost_vring_state num = { .index = q, .num = QSIZE };
		struct vhost_vring_state vbase = { .index = q, .num = 0 };
		struct vhost_vring_state en = { .index = q, .num = 1 };
		struct vhost_vring_addr addr = {
			.index = q,
			.desc_user_addr = iova_of(base),
			.avail_user_addr = iova_of(base + 1),
			.used_user_addr = iova_of(base + 2),
		};
		struct vhost_vring_file kick = { .index = q };

		memset(page(g, base), 0, 3 * PAGE_SZ);
		g->kick[q] = eventfd(0, EFD_CLOEXEC);
		kick.fd = g->kick[q];
		rc = vhost_call(vfd, VHOST_SET_VRING_NUM, &num) ?:
		     vhost_call(vfd, VHOST_SET_VRING_BASE, &vbase) ?:
		     vhost_call(vfd, VHOST_SET_VRING_ADDR, &addr) ?:
		     vhost_call(vfd, VHOST_SET_VRING_KICK, &kick) ?:
		     vhost_call(vfd, VHOST_VDPA_SET_VRING_ENABLE, &en);
	}
	g->rx_next = 0;
	g->tx_next = 0;
	if (!rc)
		rc = vdpa_status(vfd, VIRTIO_CONFIG_S_ACKNOWLEDGE |
				 VIRTIO_CONFIG_S_DRIVER |
				 VIRTIO_CONFIG_S_FEATURES_OK |
				 VIRTIO_CONFIG_S_DRIVER_OK);
	return rc;
}

/* Post descriptor @i of queue @q, a buffer at page @buf of @len bytes */
static void post(struct rings *g, unsigned int q, unsigned int buf,
		 uint32_t len)
{
	unsigned int base = q ? TX_DESC : RX_DESC;
	struct vring_desc *desc = (void *)page(g, base);
	struct vring_avail *avail = (void *)page(g, base + 1);
	uint16_t *next = q ? &g->tx_next : &g->rx_next;
	unsigned int i = *next % QSIZE;
	uint64_t one = 1;

	desc[i].addr = iova_of(buf);
	desc[i].len = len;
	desc[i].flags = q ? 0 : VRING_DESC_F_WRITE;
	desc[i].next = 0;
	avail->ring[i] = i;
	__atomic_store_n(&avail->idx, ++*next, __ATOMIC_RELEASE);
	if (write(g->kick[q], &one, sizeof(one)) != sizeof(one))
		return;
}

/* Wait up to @ms for the used index of the ring at page @used to be @idx */
static bool used_reaches(struct rings *g, unsigned int used, uint16_t idx,
			 unsigned int ms)
{
	struct vring_used *u = (void *)page(g, used);
	unsigned int t;

	for (t = 0; t < ms; t += 10) {
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == idx)
			return true;
		usleep(10000);
	}
	return false;
}

static bool rx_used(struct rings *g, uint16_t idx, unsigned int ms)
{
	return used_reaches(g, RX_USED, idx, ms);
}

/* A broadcast frame with a virtio-net header in front, from @seed */
static void make_frame(unsigned char *p, unsigned int seed)
{
	memset(p, 0, HDR_LEN);
	memset(p + HDR_LEN, 0xff, 6);
	memcpy(p + HDR_LEN + 6, "\x02\x00\x00\x00\x00\x01", 6);
	p[HDR_LEN + 12] = 0x88;
	p[HDR_LEN + 13] = 0xb5;
	fill_pattern(p + HDR_LEN + 14, FRAME_LEN - 14, seed);
}

static void close_rings(struct rings *g)
{
	close(g->kick[0]);
	close(g->kick[1]);
}

/*
 * Memory of a memfd, shared: in VA mode vhost-vdpa's IOTLB path takes
 * only shared file mappings
 */
static void *shared_buf(size_t length)
{
	int memfd = memfd_create("ioasid_vdpa", MFD_CLOEXEC);
	void *p;

	if (memfd < 0)
		return NULL;
	p = ftruncate(memfd, length) ? MAP_FAILED :
	    mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	close(memfd);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Own the vhost-vdpa device @vfd with the IOTLB message format of the
 * tests, and make a context whose IOASID maps the rings' memory @g
 */
static void setup_vhost_and_ioasid(struct __test_metadata *_metadata,
				   int vfd, int *fd, uint32_t *ioasid,
				   struct rings *g)
{
	uint64_t backend = 0;

	ASSERT_EQ(0, vhost_call(vfd, VHOST_SET_OWNER, NULL));
	ASSERT_EQ(0, vhost_call(vfd, VHOST_GET_BACKEND_FEATURES, &backend));
	backend &= (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) |
		   (1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
	ASSERT_EQ(0, vhost_call(vfd, VHOST_SET_BACKEND_FEATURES, &backend));

	*fd = ioasid_open();
	ASSERT_LE(0, *fd);
	ASSERT_EQ(0, ioasid_create(*fd, ioasid));
	g->mem = shared_buf(NPAGES * PAGE_SZ);
	ASSERT_NE(NULL, g->mem);
	memset(g->mem, 0, NPAGES * PAGE_SZ);
	ASSERT_EQ(0, ioasid_map_fixed(*fd, *ioasid, g->mem, NPAGES * PAGE_SZ,
				      IOVA_BASE));
}

FIXTURE(vdpa) {
	int fd;
	int vfd;
	uint32_t ioasid;
	struct rings g;
};

/* vdpa_sim's use_va and batch_mapping for the device */
FIXTURE_VARIANT(vdpa) {
	const char *use_va;
	const char *batch_mapping;
};

FIXTURE_VARIANT_ADD(vdpa, pa_set_map) {
	.use_va = "0",
	.batch_mapping = "1",
};

FIXTURE_VARIANT_ADD(vdpa, va_set_map) {
	.use_va = "1",
	.batch_mapping = "1",
};

FIXTURE_VARIANT_ADD(vdpa, pa_dma_map) {
	.use_va = "0",
	.batch_mapping = "0",
};

FIXTURE_SETUP(vdpa)
{
	int rc;

	/* Nothing for the teardown to close if the setup stops early */
	self->vfd = -1;
	self->fd = -1;
	rc = vdpa_dev_kind(variant->use_va, variant->batch_mapping);
	if (rc == ENOENT || rc == EOPNOTSUPP)
		SKIP(return, "no vdpa_sim_net: CONFIG_VDPA_SIM_NET");
	ASSERT_EQ(0, rc);
	self->vfd = vhost_open();
	ASSERT_LE(0, self->vfd);
	setup_vhost_and_ioasid(_metadata, self->vfd, &self->fd, &self->ioasid,
			       &self->g);
}

FIXTURE_TEARDOWN(vdpa)
{
	if (self->vfd >= 0)
		close(self->vfd);
	if (self->fd >= 0)
		close(self->fd);
	vdpa_dev(false);
}

/* Send one frame on TX and check it came back on RX into page RX_BUF */
static void check_loop(struct __test_metadata *_metadata, struct rings *g,
		       unsigned int seed)
{
	struct vring_used *used = (void *)page(g, RX_USED);
	uint16_t want = g->rx_next + 1;

	make_frame(page(g, TX_BUF), seed);
	memset(page(g, RX_BUF), 0, PAGE_SZ);
	post(g, 0, RX_BUF, 2048);
	post(g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(rx_used(g, want, 2000))
		TH_LOG("RX used %u, TX used %u of %u", used->idx,
		       ((struct vring_used *)page(g, TX_USED))->idx,
		       g->tx_next);
	ASSERT_EQ(HDR_LEN + FRAME_LEN, used->ring[(want - 1) % QSIZE].len);
	ASSERT_EQ(0, memcmp(page(g, RX_BUF) + HDR_LEN,
			    page(g, TX_BUF) + HDR_LEN, FRAME_LEN));
}

/* The same rings over vhost-vdpa's own IOTLB path, for comparison */
TEST_F(vdpa, iotlb_path_control)
{
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, -1, 0, IOTLB));
	check_loop(_metadata, &self->g, 9);
	close_rings(&self->g);
}

TEST_F(vdpa, frame_loops_back)
{
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	check_loop(_metadata, &self->g, 1);
	check_loop(_metadata, &self->g, 2);
	close_rings(&self->g);
}

/* UNMAP of the RX buffer: nothing is delivered, nothing breaks */
TEST_F(vdpa, unmapped_rx_buffer_gets_nothing)
{
	uint64_t unmapped = 0;

	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	check_loop(_metadata, &self->g, 3);
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova_of(RX_BUF),
				  PAGE_SZ, &unmapped));
	ASSERT_EQ(PAGE_SZ, unmapped);
	memset(page(&self->g, RX_BUF), 0, PAGE_SZ);
	make_frame(page(&self->g, TX_BUF), 4);
	post(&self->g, 0, RX_BUF, 2048);
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	/* vdpa_sim completes neither: the RX buffer fails to translate */
	ASSERT_FALSE(rx_used(&self->g, self->g.rx_next, 300));
	ASSERT_EQ(0, page(&self->g, RX_BUF)[HDR_LEN]);
	/* Mapped again: MAP reaches the device */
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, self->ioasid,
				      page(&self->g, RX_BUF), PAGE_SZ,
				      iova_of(RX_BUF)));
	close_rings(&self->g);
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				KEEP));
	check_loop(_metadata, &self->g, 5);
	close_rings(&self->g);
}

/* A second IOASID mapping other memory at the same IOVAs takes over */
TEST_F(vdpa, replace_moves_traffic)
{
	struct rings g2 = {};
	uint32_t ioasid2;

	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	check_loop(_metadata, &self->g, 6);
	close_rings(&self->g);

	g2.mem = alloc_buf(NPAGES * PAGE_SZ);
	ASSERT_NE(NULL, g2.mem);
	memset(g2.mem, 0, NPAGES * PAGE_SZ);
	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, ioasid2, g2.mem,
				      NPAGES * PAGE_SZ, IOVA_BASE));
	/* Replacing after DRIVER_OK is refused; vdpa_start resets first */
	ASSERT_EQ(EBUSY, vdpa_attach(self->vfd, self->fd, 0, ioasid2));
	ASSERT_EQ(0, vdpa_start(self->vfd, &g2, self->fd, ioasid2, ATTACH));
	memset(page(&self->g, RX_BUF), 0, PAGE_SZ);
	check_loop(_metadata, &g2, 7);
	/* The first IOASID's memory saw nothing, and can go */
	ASSERT_EQ(0, page(&self->g, RX_BUF)[HDR_LEN]);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, ioasid2));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	close_rings(&g2);
	munmap(g2.mem, NPAGES * PAGE_SZ);
}

struct churn {
	int fd;
	uint32_t ioasid;
	unsigned char *mem;
	bool stop;
	unsigned long rounds;
};

/* MAP and UNMAP pages beside the rings, cutting and growing mappings */
static void *churn_fn(void *arg)
{
	const uint64_t base = IOVA_BASE + 0x100000;
	struct churn *c = arg;
	unsigned int i;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		ioasid_map_fixed(c->fd, c->ioasid, c->mem, 16 * PAGE_SZ, base);
		for (i = 0; i < 16; i += 3)
			ioasid_unmap(c->fd, c->ioasid, base + i * PAGE_SZ,
				     PAGE_SZ, NULL);
		ioasid_unmap(c->fd, c->ioasid, base, 16 * PAGE_SZ, NULL);
		c->rounds++;
	}
	return NULL;
}

/*
 * Traffic while another thread maps and unmaps other memory of the same
 * IOASID: every change goes through the mirror and set_map() or dma_map(),
 * and no frame may be lost or damaged for it.
 */
TEST_F(vdpa, traffic_while_mappings_change)
{
	struct churn c = { .fd = self->fd, .ioasid = self->ioasid };
	pthread_t t;
	unsigned int i;

	c.mem = alloc_buf(16 * PAGE_SZ);
	ASSERT_NE(NULL, c.mem);
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	ASSERT_EQ(0, pthread_create(&t, NULL, churn_fn, &c));
	for (i = 0; i < 40; i++)
		check_loop(_metadata, &self->g, 20 + i);
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	TH_LOG("%lu rounds of MAP and UNMAP beside the rings", c.rounds);
	check_loop(_metadata, &self->g, 99);
	close_rings(&self->g);
	munmap(c.mem, 16 * PAGE_SZ);
}

#define SPARE	32

struct cutter {
	int fd;
	uint32_t ioasid;
	unsigned int failed;
	bool done;
};

/* Cut the spare pages after the rings off their mapping, last first */
static void *cutter_fn(void *arg)
{
	struct cutter *c = arg;
	unsigned int p;

	for (p = NPAGES + SPARE - 1; p >= NPAGES; p--) {
		if (ioasid_unmap(c->fd, c->ioasid, iova_of(p), PAGE_SZ, NULL))
			c->failed++;
		usleep(2000);
	}
	__atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The rings share one mapping, and so the device's entries, with spare
 * pages cut off it one by one while frames flow: each cut pins the rest
 * again and hands the device the new entries, and the rings must stay
 * translated throughout (a dma_map() parent gets the new entries before
 * the cut range is taken away).
 */
TEST_F(vdpa, cuts_beside_the_rings)
{
	struct cutter c = { .fd = self->fd };
	struct rings g2 = {};
	unsigned int i = 0;
	pthread_t t;

	g2.mem = alloc_buf((NPAGES + SPARE) * PAGE_SZ);
	ASSERT_NE(NULL, g2.mem);
	memset(g2.mem, 0, (NPAGES + SPARE) * PAGE_SZ);
	ASSERT_EQ(0, ioasid_create(self->fd, &c.ioasid));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, c.ioasid, g2.mem,
				      (NPAGES + SPARE) * PAGE_SZ, IOVA_BASE));
	ASSERT_EQ(0, vdpa_start(self->vfd, &g2, self->fd, c.ioasid, ATTACH));
	ASSERT_EQ(0, pthread_create(&t, NULL, cutter_fn, &c));
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		check_loop(_metadata, &g2, 40 + i++);
	pthread_join(t, NULL);
	TH_LOG("%u frames while %u pages were cut", i, SPARE);
	ASSERT_EQ(0, c.failed);
	check_loop(_metadata, &g2, 98);
	close_rings(&g2);
	munmap(g2.mem, (NPAGES + SPARE) * PAGE_SZ);
}

/* An address space that is not attached keeps the IOTLB path */
TEST_F(vdpa, other_asid_keeps_iotlb_path)
{
	uint64_t backend = (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) |
			   (1ULL << VHOST_BACKEND_F_IOTLB_BATCH) |
			   (1ULL << VHOST_BACKEND_F_IOTLB_ASID);
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.asid = 1,
		.iotlb = {
			.iova = 0x10000000,
			.size = PAGE_SZ,
			.uaddr = (uintptr_t)page(&self->g, TX_BUF),
			.perm = VHOST_ACCESS_RW,
			.type = VHOST_IOTLB_UPDATE,
		},
	};
	uint32_t nas = 0;

	ASSERT_EQ(0, vhost_call(self->vfd, VHOST_VDPA_GET_AS_NUM, &nas));
	if (nas < 2)
		SKIP(return, "the device has one address space");
	ASSERT_EQ(0, vhost_call(self->vfd, VHOST_SET_BACKEND_FEATURES,
				&backend));
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	ASSERT_EQ(sizeof(msg), write(self->vfd, &msg, sizeof(msg)));
	msg.asid = 0;
	ASSERT_EQ(-1, write(self->vfd, &msg, sizeof(msg)));
	ASSERT_EQ(EFAULT, errno);
	/* Address space 0 carries the traffic all the same */
	check_loop(_metadata, &self->g, 12);
	msg.asid = 1;
	msg.iotlb.type = VHOST_IOTLB_INVALIDATE;
	ASSERT_EQ(sizeof(msg), write(self->vfd, &msg, sizeof(msg)));
	check_loop(_metadata, &self->g, 13);
	close_rings(&self->g);
}

TEST_F(vdpa, bad_input)
{
	struct vhost_msg_v2 msg = {
		.type = VHOST_IOTLB_MSG_V2,
		.iotlb = {
			.iova = 0x10000000,
			.size = PAGE_SZ,
			.uaddr = (uintptr_t)self->g.mem,
			.perm = VHOST_ACCESS_RW,
			.type = VHOST_IOTLB_UPDATE,
		},
	};
	struct vhost_vdpa_attach_ioasid attach = {
		.argsz = sizeof(attach),
		.ioasid_fd = self->fd,
		.ioasid = self->ioasid,
	};
	struct {
		struct vhost_vdpa_attach_ioasid attach;
		uint64_t tail;
	} big = {};
	uint32_t nas = 0;
	int fd2;

	ASSERT_EQ(0, vhost_call(self->vfd, VHOST_VDPA_GET_AS_NUM, &nas));
	ASSERT_EQ(ENOENT, vdpa_detach(self->vfd, 0));
	ASSERT_EQ(EBADF, vdpa_attach(self->vfd, -1, 0, self->ioasid));
	ASSERT_EQ(EBADF, vdpa_attach(self->vfd, self->vfd, 0, self->ioasid));
	ASSERT_EQ(EINVAL, vdpa_attach(self->vfd, self->fd, nas,
				      self->ioasid));
	ASSERT_EQ(ENOENT, vdpa_attach(self->vfd, self->fd, 0, 4242));
	attach.flags = 1;
	ASSERT_EQ(EOPNOTSUPP, vhost_call(self->vfd, VHOST_VDPA_ATTACH_IOASID,
					 &attach));
	attach.flags = 0;
	attach.__reserved = 1;
	ASSERT_EQ(EINVAL, vhost_call(self->vfd, VHOST_VDPA_ATTACH_IOASID,
				     &attach));
	attach.__reserved = 0;
	/* Older userspace's struct is shorter; newer's must end in zeros */
	big.attach = attach;
	big.attach.argsz = sizeof(attach) - 4;
	ASSERT_EQ(EINVAL, vhost_call(self->vfd, VHOST_VDPA_ATTACH_IOASID,
				     &big));
	big.attach.argsz = sizeof(big);
	big.tail = 1;
	ASSERT_EQ(E2BIG, vhost_call(self->vfd, VHOST_VDPA_ATTACH_IOASID,
				    &big));
	ASSERT_EQ(EINVAL, vdpa_detach(self->vfd, nas));

	/*
	 * Attached: IOTLB messages for the address space are refused (vhost
	 * answers any refused message with EFAULT)
	 */
	ASSERT_EQ(0, vdpa_attach(self->vfd, self->fd, 0, self->ioasid));
	ASSERT_EQ(-1, write(self->vfd, &msg, sizeof(msg)));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));
	/* One context per vhost-vdpa fd */
	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(EBUSY, vdpa_attach(self->vfd, fd2, 0, self->ioasid));
	close(fd2);
	ASSERT_EQ(0, vdpa_detach(self->vfd, 0));
	ASSERT_EQ(ENOENT, vdpa_detach(self->vfd, 0));
	/* The tail is zero: accepted */
	big.attach.argsz = sizeof(big);
	big.tail = 0;
	ASSERT_EQ(0, vhost_call(self->vfd, VHOST_VDPA_ATTACH_IOASID, &big));
	ASSERT_EQ(0, vdpa_detach(self->vfd, 0));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	self->ioasid = 0;

	/* Detached, the IOTLB path works again */
	ASSERT_EQ(sizeof(msg), write(self->vfd, &msg, sizeof(msg)));
	msg.iotlb.type = VHOST_IOTLB_INVALIDATE;
	ASSERT_EQ(sizeof(msg), write(self->vfd, &msg, sizeof(msg)));
}

/* Closing the context first, or the vhost-vdpa fd first, frees all */
TEST_F(vdpa, close_in_any_order)
{
	long base;

	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	check_loop(_metadata, &self->g, 8);
	close_rings(&self->g);
	base = locked_pages();
	/* The vhost-vdpa fd keeps the context and the memory */
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(base, locked_pages());
	close(self->vfd);
	self->vfd = -1;
	ASSERT_EQ(base - NPAGES, locked_pages());
}

/*
 * A dma_map() parent in VA mode has no way to take physical maps: the
 * attach is refused, and the device keeps working over the IOTLB path
 */
TEST(va_dma_map_parent_refused)
{
	struct rings g = {};
	uint32_t ioasid;
	int rc, vfd, fd;

	rc = vdpa_dev_kind("1", "0");
	if (rc == ENOENT || rc == EOPNOTSUPP)
		SKIP(return, "no vdpa_sim_net: CONFIG_VDPA_SIM_NET");
	ASSERT_EQ(0, rc);
	vfd = vhost_open();
	ASSERT_LE(0, vfd);
	setup_vhost_and_ioasid(_metadata, vfd, &fd, &ioasid, &g);
	ASSERT_EQ(EOPNOTSUPP, vdpa_attach(vfd, fd, 0, ioasid));
	/* Not bound to the context either: it can go */
	ASSERT_EQ(0, ioasid_destroy(fd, ioasid));
	ASSERT_EQ(0, vdpa_start(vfd, &g, -1, 0, IOTLB));
	check_loop(_metadata, &g, 10);
	close_rings(&g);
	close(vfd);
	close(fd);
	ASSERT_EQ(0, vdpa_dev(false));
}

/*
 * The platform-IOMMU path: QEMU's virtio-net-pci (iommu_platform=on, the
 * rig adds one behind the emulated VT-d) bound to vp_vdpa. Attaching binds
 * its PCI function to the context like a vfio device and attaches it to
 * the IOASID: QEMU's virtio-net then reads the rings and writes the used
 * ring through the VT-d tables /dev/ioasid set up. QEMU's NIC has no
 * backend, so it consumes TX frames and completes them: the used ring,
 * written by the device's DMA, is the proof.
 */
#define VP_NAME		"ioasid_vp0"

/* The PCI address of an unbound or vp_vdpa-bound virtio-net device */
static bool find_virtio_net(char *bdf, size_t len)
{
	char path[300], id[16];
	struct dirent *de;
	bool found = false;
	DIR *dir;
	FILE *f;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return false;
	while (!found && (de = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(id, sizeof(id), f) && !strncmp(id, "0x1041", 6)) {
			snprintf(bdf, len, "%s", de->d_name);
			found = true;
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

/* Best effort: the caller checks the outcome */
static void sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = write(fd, val, strlen(val));
	(void)n;
	close(fd);
}

/* Is the driver link at @path vp_vdpa's? */
static bool bound_to_vp_vdpa(const char *path)
{
	char target[300];
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return false;
	target[n] = 0;
	return !strcmp(strrchr(target, '/') ?: target, "/vp-vdpa");
}

FIXTURE(vp) {
	int fd;
	int vfd;
	uint32_t ioasid;
	struct rings g;
	char bdf[300];
};

FIXTURE_SETUP(vp)
{
	char *bdf = self->bdf, path[400];
	int rc;

	self->vfd = -1;
	self->fd = -1;
	if (!find_virtio_net(bdf, sizeof(self->bdf)))
		SKIP(return, "no virtio-net-pci device");
	/* virtio_pci, when built in, takes it at boot: hand it to vp_vdpa */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	sysfs_write(path, "vp-vdpa");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	if (!access(path, F_OK) && !bound_to_vp_vdpa(path)) {
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		sysfs_write(path, bdf);
	}
	sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (access("/sys/bus/pci/drivers/vp-vdpa", F_OK))
		SKIP(return, "no vp_vdpa: CONFIG_VP_VDPA");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	ASSERT_TRUE(bound_to_vp_vdpa(path));
	rc = vdpa_dev_of(true, "pci", bdf, VP_NAME);
	if (rc == EEXIST && !vdpa_dev_of(false, NULL, NULL, VP_NAME))
		rc = vdpa_dev_of(true, "pci", bdf, VP_NAME);
	ASSERT_EQ(0, rc);
	self->vfd = vhost_open_of(VP_NAME);
	ASSERT_LE(0, self->vfd);
	setup_vhost_and_ioasid(_metadata, self->vfd, &self->fd, &self->ioasid,
			       &self->g);
}

FIXTURE_TEARDOWN(vp)
{
	if (self->vfd >= 0)
		close(self->vfd);
	if (self->fd >= 0)
		close(self->fd);
	vdpa_dev_of(false, NULL, NULL, VP_NAME);
}

static bool tx_used(struct rings *g, uint16_t idx, unsigned int ms)
{
	return used_reaches(g, TX_USED, idx, ms);
}

TEST_F(vp, dma_through_the_ioasid)
{
	struct vring_used *used = (void *)page(&self->g, TX_USED);
	char line[512];
	uint32_t ioasid2;
	int kmsg;

	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	/* Bound like a vfio device: its IOASID cannot go */
	ASSERT_EQ(EBUSY, ioasid_destroy(self->fd, self->ioasid));
	make_frame(page(&self->g, TX_BUF), 11);
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(tx_used(&self->g, 1, 3000));
	ASSERT_EQ(0, used->ring[0].id);
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(tx_used(&self->g, 2, 3000));

	/*
	 * The buffer unmapped: VT-d stops the device's read of it, and the
	 * guest kernel logs the fault of this very device at that IOVA
	 */
	ASSERT_EQ(0, ioasid_unmap(self->fd, self->ioasid, iova_of(TX_BUF),
				  PAGE_SZ, NULL));
	ASSERT_EQ(0, edu_kmsg_open(&kmsg));
	edu_expect_dmar_fault();
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_EQ(0, edu_wait_dmar_fault(kmsg, false, iova_of(TX_BUF), 3000,
					 line, sizeof(line)));
	TH_LOG("%s", line);
	ASSERT_NE(NULL, strstr(line, self->bdf + 5));
	close(kmsg);
	close_rings(&self->g);

	/* Another IOASID, after a reset: the device follows */
	ASSERT_EQ(0, ioasid_create(self->fd, &ioasid2));
	ASSERT_EQ(0, ioasid_map_fixed(self->fd, ioasid2, self->g.mem,
				      NPAGES * PAGE_SZ, IOVA_BASE));
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, ioasid2,
				ATTACH));
	ASSERT_EQ(0, ioasid_destroy(self->fd, self->ioasid));
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(tx_used(&self->g, 1, 3000));
	close_rings(&self->g);

	/* Detached: vhost-vdpa's own domain and the IOTLB path are back */
	ASSERT_EQ(0, vdpa_status(self->vfd, 0));
	ASSERT_EQ(0, vdpa_detach(self->vfd, 0));
	ASSERT_EQ(0, ioasid_destroy(self->fd, ioasid2));
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, -1, 0, IOTLB));
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(tx_used(&self->g, 1, 3000));
	close_rings(&self->g);
}

/*
 * The first device bound to a context selects its IOMMU: a context bound
 * to a mock device cannot take the VT-d device, and the failed attach
 * leaves vhost-vdpa as it was
 */
TEST_F(vp, context_of_another_iommu)
{
	uint32_t mock, other;
	int fd2;

	fd2 = ioasid_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, mock_create(fd2, 0, &mock));
	ASSERT_EQ(0, mock_bind(fd2, mock, NULL));
	ASSERT_EQ(0, ioasid_create(fd2, &other));
	ASSERT_EQ(0, vdpa_status(self->vfd, 0));
	ASSERT_EQ(EXDEV, vdpa_attach(self->vfd, fd2, 0, other));
	close(fd2);

	/* Its own context attaches, and the device's DMA goes through it */
	ASSERT_EQ(0, vdpa_start(self->vfd, &self->g, self->fd, self->ioasid,
				ATTACH));
	make_frame(page(&self->g, TX_BUF), 14);
	post(&self->g, 1, TX_BUF, HDR_LEN + FRAME_LEN);
	ASSERT_TRUE(tx_used(&self->g, 1, 3000));
	close_rings(&self->g);
}

TEST_HARNESS_MAIN
