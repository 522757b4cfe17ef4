# CIFAR-100 as the paper trains it: one GPU, batch 128, 32x32 images with
# mmpretrain's augmentation (random crop with 4-pixel padding, horizontal
# flip). mmpretrain's CIFAR100 class reads the python version of the data
# (data/cifar100/cifar-100-python/{train,test,meta}). download=False: a
# missing dataset is an error with instructions, never a download.
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'

train_dataloader = dict(
    batch_size=128, num_workers=4, dataset=dict(download=False))
val_dataloader = dict(
    batch_size=128, num_workers=4, dataset=dict(download=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
