// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOASID_TEST: mock devices owned by a context, bound and attached through
 * the same kernel API a driver uses, and DMA by them through the mock IOMMU.
 */
#include <linux/ioasid.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "ioasid_private.h"
#include "ioasid_test.h"
#include "mock_iommu.h"

/**
 * struct ioasid_mock - a mock device object of a context
 * @obj: Table entry
 * @ctx: The context
 * @dev: Device behind the mock IOMMU
 * @lock: Serializes bind, unbind, attach and detach
 * @idev: Binding to @ctx, NULL while unbound
 * @vfio: A vfio device, bound and attached through its vfio fd
 * @destroy_work: Removes a vfio mock device, which waits for its fds
 */
struct ioasid_mock {
	struct ioasid_object obj;
	struct ioasid_ctx *ctx;
	struct device *dev;
	struct mutex lock; /* bind, unbind, attach, detach */
	struct ioasid_device *idev;
	bool vfio;
	struct work_struct destroy_work;
};

static int ioasid_test_mock_create(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_mock *mock;
	int rc;

	if (cmd->mock_create.flags &
	    ~(IOASID_TEST_MOCK_VFIO | IOASID_TEST_MOCK_EMULATED |
	      IOASID_TEST_MOCK_NO_USER_DOMAINS))
		return -EOPNOTSUPP;

	mock = kzalloc(sizeof(*mock), GFP_KERNEL_ACCOUNT);
	if (!mock)
		return -ENOMEM;
	mutex_init(&mock->lock);
	mock->ctx = ucmd->ctx;
	mock->vfio = cmd->mock_create.flags & IOASID_TEST_MOCK_VFIO;
	mock->dev = ioasid_mock_dev_create(cmd->mock_create.instance,
					   cmd->mock_create.flags);
	if (IS_ERR(mock->dev)) {
		rc = PTR_ERR(mock->dev);
		goto err_free;
	}
	if (mock->vfio) {
		rc = ioasid_mock_vfio_index(mock->dev);
		if (rc < 0)
			goto err_destroy_dev;
		cmd->mock_create.out_vfio = rc;
	}
	rc = ioasid_object_reserve(ucmd->ctx, &mock->obj,
				   IOASID_OBJ_MOCK_DEVICE);
	if (rc)
		goto err_destroy_dev;
	cmd->mock_create.out_id = mock->obj.id;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc)
		goto err_abort;
	ioasid_object_publish(ucmd->ctx, &mock->obj);
	return 0;

err_abort:
	ioasid_object_abort(ucmd->ctx, &mock->obj);
err_destroy_dev:
	ioasid_mock_dev_destroy(mock->dev);
err_free:
	mutex_destroy(&mock->lock);
	kfree(mock);
	return rc;
}

static void ioasid_test_mock_free(struct ioasid_mock *mock)
{
	ioasid_mock_dev_destroy(mock->dev);
	mutex_destroy(&mock->lock);
	kfree(mock);
}

static void ioasid_test_mock_destroy_work(struct work_struct *work)
{
	ioasid_test_mock_free(container_of(work, struct ioasid_mock,
					   destroy_work));
}

/* Called once the mock is out of the table */
void ioasid_test_mock_destroy(struct ioasid_object *obj)
{
	struct ioasid_mock *mock = container_of(obj, struct ioasid_mock, obj);

	if (mock->idev)
		ioasid_unbind_device(mock->idev);
	/*
	 * Removing a vfio device waits until userspace closed its fds; the
	 * context may be going away on the close of one of them.
	 */
	if (mock->vfio) {
		INIT_WORK(&mock->destroy_work, ioasid_test_mock_destroy_work);
		/* It can wait long: not on a worker others flush */
		queue_work(system_long_wq, &mock->destroy_work);
		return;
	}
	ioasid_test_mock_free(mock);
}

static int ioasid_test_mock_bind(struct ioasid_ucmd *ucmd,
				 struct ioasid_mock *mock)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_device *idev;
	int rc;

	lockdep_assert_held(&mock->lock);

	if (mock->idev)
		return -EBUSY;
	idev = ioasid_bind_device(ucmd->ctx, mock->dev,
				  &cmd->mock_bind.out_dev_id);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	if (rc) {
		ioasid_unbind_device(idev);
		return rc;
	}
	mock->idev = idev;
	return 0;
}

static int ioasid_test_dma(struct ioasid_ucmd *ucmd, struct ioasid_mock *mock)
{
	const u32 known = IOASID_TEST_DMA_WRITE | IOASID_TEST_DMA_CPU_COPY |
			  IOASID_TEST_DMA_KEEP_PINS;
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	bool write = cmd->dma.flags & IOASID_TEST_DMA_WRITE;
	bool emulated = ioasid_mock_dev_emulated(mock->dev);
	void __user *uptr = u64_to_user_ptr(cmd->dma.uptr);
	struct ioasid_mock_dma_res res;
	size_t done;
	u64 last;
	void *buf;
	int rc;

	if (cmd->dma.flags & ~(emulated ? known : IOASID_TEST_DMA_WRITE))
		return -EOPNOTSUPP;
	if (!cmd->dma.length || cmd->dma.length > IOASID_TEST_DMA_MAX)
		return -EINVAL;
	if (check_add_overflow(cmd->dma.iova, cmd->dma.length - 1, &last))
		return -EOVERFLOW;

	buf = kvzalloc(cmd->dma.length, GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	if (write && copy_from_user(buf, uptr, cmd->dma.length)) {
		rc = -EFAULT;
		goto out_free;
	}
	if (emulated) {
		rc = -EINVAL;
		if (cmd->dma.pasid)
			goto out_free;
		rc = ioasid_mock_vfio_dma(mock->dev, cmd->dma.iova, buf,
					  cmd->dma.length, cmd->dma.flags);
		if (rc)
			goto out_free;
		memset(&res, 0, sizeof(res));
		done = cmd->dma.length;
	} else {
		done = ioasid_mock_dma(mock->dev, cmd->dma.pasid,
				       cmd->dma.iova, buf, cmd->dma.length,
				       write, &res);
	}
	if (!write && copy_to_user(uptr, buf, done)) {
		rc = -EFAULT;
		goto out_free;
	}
	cmd->dma.out_done = done;
	cmd->dma.out_fault_iova = res.fault_iova;
	cmd->dma.out_fault_reason = res.fault_reason;
	cmd->dma.out_first_pgsize = res.first_pgsize;
	cmd->dma.out_fault_stage = res.fault_stage;
	cmd->dma.out_fault_gpa = res.fault_gpa;
	cmd->dma.out_iotlb_hit = res.iotlb_hit;
	cmd->dma.out_msi_cookie = res.msi_cookie;
	rc = ioasid_ucmd_respond(ucmd, sizeof(*cmd));
out_free:
	kvfree(buf);
	return rc;
}

static int ioasid_test_iommu_floor(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	u64 ns[3];
	int rc;

	if (cmd->floor.__reserved)
		return -EINVAL;
	ioas = ioasid_ioas_get(ucmd->ctx, cmd->id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	rc = ioasid_ioas_iommu_floor(ioas, cmd->floor.iova, cmd->floor.npages,
				     ns);
	ioasid_object_put(&ioas->obj);
	if (rc)
		return rc;
	cmd->floor.out_map_ns = ns[0];
	cmd->floor.out_read_ns = ns[1];
	cmd->floor.out_unmap_ns = ns[2];
	return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
}

static int ioasid_test_op_floor(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_ioas *ioas;
	u64 ns[2];
	int rc;

	if (cmd->op_floor.flags & ~IOASID_TEST_OP_FLOOR_SCATTER)
		return -EOPNOTSUPP;
	ioas = ioasid_ioas_get(ucmd->ctx, cmd->id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	rc = ioasid_ioas_op_floor(ioas, cmd->op_floor.iova, cmd->op_floor.uptr,
				  cmd->op_floor.npages,
				  cmd->op_floor.flags &
				  IOASID_TEST_OP_FLOOR_SCATTER, ns);
	ioasid_object_put(&ioas->obj);
	if (rc)
		return rc;
	cmd->op_floor.out_map_ns = ns[0];
	cmd->op_floor.out_unmap_ns = ns[1];
	return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
}

int ioasid_test_cmd(struct ioasid_ucmd *ucmd)
{
	struct ioasid_test_cmd *cmd = ucmd->cmd;
	struct ioasid_object *obj;
	struct ioasid_mock *mock;
	int rc;

	if (cmd->flags)
		return -EOPNOTSUPP;

	switch (cmd->op) {
	case IOASID_TEST_MOCK_CREATE:
		return ioasid_test_mock_create(ucmd);
	case IOASID_TEST_MOCK_DESTROY:
		obj = ioasid_object_remove(ucmd->ctx, cmd->id,
					   IOASID_OBJ_MOCK_DEVICE);
		if (IS_ERR(obj))
			return PTR_ERR(obj);
		ioasid_test_mock_destroy(obj);
		return 0;
	case IOASID_TEST_FAIL_MAP:
		if (cmd->fail_map.after < -1)
			return -EINVAL;
		ioasid_mock_fail_map(cmd->fail_map.after);
		return 0;
	case IOASID_TEST_FAIL_INVALIDATE:
		if (cmd->fail_map.after < -1)
			return -EINVAL;
		ioasid_mock_fail_invalidate(cmd->fail_map.after);
		return 0;
	case IOASID_TEST_FAIL_UNMAP:
		if (cmd->fail_map.after < -1)
			return -EINVAL;
		ioasid_mock_fail_unmap(cmd->fail_map.after);
		return 0;
	case IOASID_TEST_IOTLB_SYNCS:
		ioasid_mock_iotlb_syncs(&cmd->iotlb_syncs.out_count,
					&cmd->iotlb_syncs.out_map_count,
					&cmd->iotlb_syncs.out_reads,
					&cmd->iotlb_syncs.out_last_flush);
		return ioasid_ucmd_respond(ucmd, sizeof(*cmd));
	case IOASID_TEST_ACCESS_CREATE:
	case IOASID_TEST_ACCESS_ATTACH:
	case IOASID_TEST_ACCESS_DETACH:
	case IOASID_TEST_ACCESS_PIN:
	case IOASID_TEST_ACCESS_UNPIN:
	case IOASID_TEST_ACCESS_RW:
	case IOASID_TEST_ACCESS_MODE:
	case IOASID_TEST_ACCESS_INFO:
	case IOASID_TEST_ACCESS_MIRROR:
		return ioasid_test_access_cmd(ucmd);
	case IOASID_TEST_IOMMU_FLOOR:
		return ioasid_test_iommu_floor(ucmd);
	case IOASID_TEST_OP_FLOOR:
		return ioasid_test_op_floor(ucmd);
	case IOASID_TEST_MOCK_BIND:
	case IOASID_TEST_MOCK_UNBIND:
	case IOASID_TEST_MOCK_ATTACH:
	case IOASID_TEST_MOCK_DETACH:
	case IOASID_TEST_MOCK_ATTACH_PASID:
	case IOASID_TEST_MOCK_DETACH_PASID:
	case IOASID_TEST_DMA:
		break;
	default:
		return -EOPNOTSUPP;
	}

	obj = ioasid_object_get(ucmd->ctx, cmd->id, IOASID_OBJ_MOCK_DEVICE);
	if (IS_ERR(obj))
		return PTR_ERR(obj);
	mock = container_of(obj, struct ioasid_mock, obj);

	mutex_lock(&mock->lock);
	switch (cmd->op) {
	case IOASID_TEST_MOCK_BIND:
		rc = ioasid_test_mock_bind(ucmd, mock);
		break;
	case IOASID_TEST_MOCK_UNBIND:
		rc = -ENODEV;
		if (mock->idev) {
			ioasid_unbind_device(mock->idev);
			mock->idev = NULL;
			rc = 0;
		}
		break;
	case IOASID_TEST_MOCK_ATTACH:
		rc = mock->idev ? ioasid_device_attach(mock->idev,
						       cmd->mock_attach.ioasid) :
				  -ENODEV;
		break;
	case IOASID_TEST_MOCK_DETACH:
		rc = -ENODEV;
		if (mock->idev) {
			ioasid_device_detach(mock->idev);
			rc = 0;
		}
		break;
	case IOASID_TEST_MOCK_ATTACH_PASID:
		rc = mock->idev ?
		     ioasid_device_attach_pasid(mock->idev,
						cmd->mock_attach.pasid,
						cmd->mock_attach.ioasid) :
		     -ENODEV;
		break;
	case IOASID_TEST_MOCK_DETACH_PASID:
		rc = mock->idev ?
		     ioasid_device_detach_pasid(mock->idev,
						cmd->mock_attach.pasid) :
		     -ENODEV;
		break;
	default:
		rc = ioasid_test_dma(ucmd, mock);
		break;
	}
	mutex_unlock(&mock->lock);
	ioasid_object_put(obj);
	return rc;
}

int ioasid_test_init(void)
{
	int rc;

	rc = ioasid_mock_iommu_init();
	if (rc)
		return rc;
	rc = ioasid_mock_vfio_init();
	if (rc)
		ioasid_mock_iommu_exit();
	return rc;
}

void ioasid_test_exit(void)
{
	ioasid_mock_vfio_exit();
	ioasid_mock_iommu_exit();
}
