# The GC twin (SGD_GC) trained with sharded parameters: mmengine's
# FlexibleRunner with mmgc's GCFSDPStrategy (torch FSDP1, use_orig_params=True
# as mmengine sets it). GC on the sharded pieces is exact: the same steps as
# without sharding, up to rounding. Run on CPUs with
#   tools/dist_train.sh \
#       configs/sharded/faster-rcnn_toy-r18_fpn_gc-fsdp_1x_toycoco.py 2 \
#       --cfg-options env_cfg.dist_cfg.backend=gloo
_base_ = '../toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py'
runner_type = 'FlexibleRunner'
strategy = dict(type='GCFSDPStrategy')
