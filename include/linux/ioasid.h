/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API of /dev/ioasid for drivers that hand devices to userspace
 * (vfio, vhost-vdpa): bind a device to the context of an ioasid file and
 * attach it to the context's IOASIDs.
 */
#ifndef __LINUX_IOASID_H
#define __LINUX_IOASID_H

#include <linux/err.h>
#include <linux/types.h>

struct device;
struct ioasid_ctx;
struct ioasid_device;

#if IS_ENABLED(CONFIG_IOASID)
struct ioasid_ctx *ioasid_ctx_fdget(int fd);
void ioasid_ctx_put(struct ioasid_ctx *ctx);

struct ioasid_device *ioasid_bind_device(struct ioasid_ctx *ctx,
					 struct device *dev, u32 *dev_id);
void ioasid_unbind_device(struct ioasid_device *idev);
int ioasid_device_attach(struct ioasid_device *idev, u32 ioasid);
void ioasid_device_detach(struct ioasid_device *idev);
int ioasid_device_attach_pasid(struct ioasid_device *idev, u32 pasid,
			       u32 ioasid);
int ioasid_device_detach_pasid(struct ioasid_device *idev, u32 pasid);
#else
static inline struct ioasid_ctx *ioasid_ctx_fdget(int fd)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void ioasid_ctx_put(struct ioasid_ctx *ctx)
{
}

static inline struct ioasid_device *
ioasid_bind_device(struct ioasid_ctx *ctx, struct device *dev, u32 *dev_id)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void ioasid_unbind_device(struct ioasid_device *idev)
{
}

static inline int ioasid_device_attach(struct ioasid_device *idev, u32 ioasid)
{
	return -EOPNOTSUPP;
}

static inline void ioasid_device_detach(struct ioasid_device *idev)
{
}

static inline int ioasid_device_attach_pasid(struct ioasid_device *idev,
					     u32 pasid, u32 ioasid)
{
	return -EOPNOTSUPP;
}

static inline int ioasid_device_detach_pasid(struct ioasid_device *idev,
					     u32 pasid)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* __LINUX_IOASID_H */
