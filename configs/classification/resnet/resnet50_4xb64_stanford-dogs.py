# Paper row: fine-grained classification, Stanford Dogs, ResNet-50 pretrained
# on ImageNet, test accuracy 76.16 w/o GC -> 78.23 w/ GC (GC twin:
# resnet50_gc_4xb64_stanford-dogs.py). The paper's recipe (section 5.5):
# PyTorch's pretrained ResNet-50, 512x512 resize + 448 centre crop, 4 GPUs x
# 64, SGD momentum 0.9 for 100 epochs, lr 0.01 (pretrained layers) / 0.1 (new
# fc), x0.1 after epochs 50 and 80. Differs: the weight decay, which the paper
# does not give (1e-4 here).
# Data: mmpretrain has no Stanford Dogs class; its CustomDataset reads
# one folder per breed (torchvision's ImageFolder layout), the official
# train/test split (http://vision.stanford.edu/aditya86/ImageNetDogs/):
#   data/stanford_dogs/train/<breed>/*.jpg
#   data/stanford_dogs/test/<breed>/*.jpg
_base_ = [
    '../_base_/models/resnet50_torchvision-pretrained.py',
    '../_base_/datasets/fine_grained_448.py',
    '../_base_/schedules/fine_grained_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmgc'], allow_failed_imports=False)

model = dict(head=dict(num_classes=120))
data_preprocessor = dict(num_classes=120)
train_dataloader = dict(
    dataset=dict(
        type='CustomDataset', data_root='data/stanford_dogs',
        data_prefix='train'))
val_dataloader = dict(
    dataset=dict(
        type='CustomDataset', data_root='data/stanford_dogs',
        data_prefix='test'))
test_dataloader = val_dataloader
