/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel API of /dev/ioasid for drivers that hand devices to userspace
 * (vfio, vhost-vdpa): bind a device to the context of an ioasid file and
 * attach it to the context's IOASIDs; or, for devices without an IOMMU
 * (emulated vfio devices, software vDPA), create an access that pins and
 * copies the memory of an IOASID by IOVA.
 */
#ifndef __LINUX_IOASID_H
#define __LINUX_IOASID_H

#include <linux/bits.h>
#include <linux/err.h>
#include <linux/types.h>

struct device;
struct file;
struct iommu_group;
struct ioasid_access;
struct ioasid_ctx;
struct ioasid_device;
struct page;

/**
 * struct ioasid_access_ops - callbacks of a driver using an access
 * @unmap: Userspace unmaps [@iova, @iova + @length - 1] (@length U64_MAX:
 *         all of the IOVA space), or the access is detached from its
 *         IOASID. The driver must stop using the range and drop its pins
 *         of it with ioasid_access_unpin_pages(), before returning or soon
 *         after: UNMAP waits for that a bounded time, then fails. Called
 *         in process context, from UNMAP without /dev/ioasid locks held,
 *         from attach, detach and destroy of the access in the caller's
 *         thread. It may sleep and take locks the driver holds around
 *         ioasid_access_pin_pages(), but not those it holds around attach,
 *         detach or destroy, and it must not call those itself.
 * @map: Optional, for drivers that mirror every mapping of the IOASID (a
 *       vDPA parent fed one table of them): userspace mapped
 *       [@iova, @iova + @length - 1] into it, by MAP or COPY. Called once
 *       the mapping is in place, in the context of the ioctl, with no
 *       /dev/ioasid lock held; the driver may pin the range. A mapping may
 *       be reported both here and by ioasid_access_next_mapping(), and may
 *       be gone again by the time the driver looks.
 */
struct ioasid_access_ops {
	void (*unmap)(void *data, u64 iova, u64 length);
	void (*map)(void *data, u64 iova, u64 length);
};

/* Flags of ioasid_access_pin_pages() and ioasid_access_rw() */
#define IOASID_ACCESS_WRITE	BIT(0)

#if IS_ENABLED(CONFIG_IOASID)
struct ioasid_ctx *ioasid_ctx_fdget(int fd);
struct ioasid_ctx *ioasid_ctx_from_file(struct file *file);
void ioasid_ctx_put(struct ioasid_ctx *ctx);
int ioasid_vfio_add_group(struct ioasid_ctx *ctx, struct iommu_group *group);
void ioasid_vfio_del_group(struct ioasid_ctx *ctx, struct iommu_group *group);
int ioasid_vfio_ioasid(struct ioasid_ctx *ctx, u32 *ioasid);

struct ioasid_device *ioasid_bind_device(struct ioasid_ctx *ctx,
					 struct device *dev, u32 *dev_id);
void ioasid_unbind_device(struct ioasid_device *idev);
struct ioasid_ctx *ioasid_device_ctx(struct ioasid_device *idev);
u32 ioasid_device_id(struct ioasid_device *idev);
bool ioasid_ctx_has_group(struct ioasid_ctx *ctx, struct iommu_group *group);
int ioasid_device_attach(struct ioasid_device *idev, u32 ioasid);
void ioasid_device_detach(struct ioasid_device *idev);
int ioasid_device_attach_pasid(struct ioasid_device *idev, u32 pasid,
			       u32 ioasid);
int ioasid_device_detach_pasid(struct ioasid_device *idev, u32 pasid);

struct ioasid_access *ioasid_access_create(struct ioasid_ctx *ctx,
					   const struct ioasid_access_ops *ops,
					   void *data);
void ioasid_access_destroy(struct ioasid_access *access);
int ioasid_access_attach(struct ioasid_access *access, u32 ioasid);
void ioasid_access_detach(struct ioasid_access *access);
int ioasid_access_pin_pages(struct ioasid_access *access, u64 iova,
			    u64 length, struct page **out, unsigned int flags);
void ioasid_access_unpin_pages(struct ioasid_access *access, u64 iova,
			       u64 length);
int ioasid_access_rw(struct ioasid_access *access, u64 iova, void *data,
		     size_t length, unsigned int flags);
int ioasid_access_next_mapping(struct ioasid_access *access, u64 iova,
			       u64 *start, u64 *length);
#else
static inline struct ioasid_ctx *ioasid_ctx_fdget(int fd)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline struct ioasid_ctx *ioasid_ctx_from_file(struct file *file)
{
	return ERR_PTR(-EBADFD);
}

static inline void ioasid_ctx_put(struct ioasid_ctx *ctx)
{
}

static inline int ioasid_vfio_add_group(struct ioasid_ctx *ctx,
					struct iommu_group *group)
{
	return -EOPNOTSUPP;
}

static inline void ioasid_vfio_del_group(struct ioasid_ctx *ctx,
					 struct iommu_group *group)
{
}

static inline int ioasid_vfio_ioasid(struct ioasid_ctx *ctx, u32 *ioasid)
{
	return -EOPNOTSUPP;
}

static inline struct ioasid_device *
ioasid_bind_device(struct ioasid_ctx *ctx, struct device *dev, u32 *dev_id)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void ioasid_unbind_device(struct ioasid_device *idev)
{
}

static inline struct ioasid_ctx *ioasid_device_ctx(struct ioasid_device *idev)
{
	return NULL;
}

static inline u32 ioasid_device_id(struct ioasid_device *idev)
{
	return 0;
}

static inline bool ioasid_ctx_has_group(struct ioasid_ctx *ctx,
					struct iommu_group *group)
{
	return false;
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

static inline struct ioasid_access *
ioasid_access_create(struct ioasid_ctx *ctx,
		     const struct ioasid_access_ops *ops, void *data)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static inline void ioasid_access_destroy(struct ioasid_access *access)
{
}

static inline int ioasid_access_attach(struct ioasid_access *access,
				       u32 ioasid)
{
	return -EOPNOTSUPP;
}

static inline void ioasid_access_detach(struct ioasid_access *access)
{
}

static inline int ioasid_access_pin_pages(struct ioasid_access *access,
					  u64 iova, u64 length,
					  struct page **out,
					  unsigned int flags)
{
	return -EOPNOTSUPP;
}

static inline void ioasid_access_unpin_pages(struct ioasid_access *access,
					     u64 iova, u64 length)
{
}

static inline int ioasid_access_rw(struct ioasid_access *access, u64 iova,
				   void *data, size_t length,
				   unsigned int flags)
{
	return -EOPNOTSUPP;
}

static inline int ioasid_access_next_mapping(struct ioasid_access *access,
					     u64 iova, u64 *start,
					     u64 *length)
{
	return -EOPNOTSUPP;
}
#endif

#endif /* __LINUX_IOASID_H */
