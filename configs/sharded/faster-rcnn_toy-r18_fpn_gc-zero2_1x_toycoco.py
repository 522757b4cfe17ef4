# The GC twin (SGD_GC) trained under DeepSpeed ZeRO stage 2: mmengine's
# FlexibleRunner with mmgc's GCDeepSpeedStrategy. GC on the ZeRO partitions is
# exact: the same steps as without sharding, up to float32 rounding. Needs
# the deepspeed extra. Run on CPUs with
#   tools/dist_train.sh \
#       configs/sharded/faster-rcnn_toy-r18_fpn_gc-zero2_1x_toycoco.py 2 \
#       --cfg-options env_cfg.dist_cfg.backend=gloo
_base_ = '../toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py'
runner_type = 'FlexibleRunner'
# train_micro_batch_size_per_gpu: the train dataloader's batch size.
strategy = dict(type='GCDeepSpeedStrategy', zero_optimization=dict(stage=2))
# DeepSpeed steps the optimizer: its wrapper takes the optimizer only.
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}})
