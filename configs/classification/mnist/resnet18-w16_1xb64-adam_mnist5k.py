# resnet18-w16_1xb64_mnist5k.py trained with Adam: the Adam side of the
# paper's learning-rate table (Table 4: Adam at lr 5e-4, 1e-3 and 1.5e-3,
# L2 weight decay 5e-4) on real digits. GC twin:
# resnet18-w16_gc_1xb64-adam_mnist5k.py. The sweep (docs: classification):
#   python tools/compare.py configs/classification/mnist/resnet18-w16_1xb64-adam_mnist5k.py \
#       configs/classification/mnist/resnet18-w16_gc_1xb64-adam_mnist5k.py \
#       --sweep optim_wrapper.optimizer.lr=5e-4,1e-3,1.5e-3 --seeds 0 1 2 --jobs 2
_base_ = './resnet18-w16_1xb64_mnist5k.py'

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='Adam', lr=1e-3, weight_decay=5e-4))
