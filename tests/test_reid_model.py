"""The BNNeck head and the centre loss, alone and inside mmdet's BaseReID."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

import mmgc.reid  # noqa: F401  (registers BNNeckHead and CenterLoss)
from _process_group import join_gloo_group, leaving_together

pytestmark = [pytest.mark.reid]


@pytest.fixture(autouse=True)
def mmdet_scope():
    # Each test builds in mmdet's scope and leaves the scope as it was: a
    # scope set when this file is imported would change how the tests of
    # other files build (collection imports every file first).
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


LOSS_CLS = dict(
    type='mmpretrain.LabelSmoothLoss', label_smooth_val=0.1, mode='original')


def _head(**kwargs):
    cfg = dict(
        type='BNNeckHead',
        in_channels=8,
        num_classes=5,
        loss_cls=LOSS_CLS,
        loss_triplet=dict(type='TripletLoss', margin=0.3))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _samples(labels):
    return [DataSample().set_gt_label(int(label)) for label in labels]


def test_classifier_has_no_bias_and_bn_bias_is_frozen():
    head = _head()
    assert head.classifier.bias is None
    assert not head.bn.bias.requires_grad
    assert head.bn.weight.requires_grad
    assert torch.all(head.bn.bias == 0)
    # Baseline initialisation: BN weight 1, classifier N(0, 0.001).
    assert torch.all(head.bn.weight == 1)
    assert head.classifier.weight.std() < 0.01


def test_training_moves_bn_weight_but_never_its_bias():
    torch.manual_seed(0)
    head = _head()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.5, momentum=0.9,
                                weight_decay=0.1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    weight_before = head.bn.weight.detach().clone()
    for _ in range(3):
        losses = head.loss((torch.randn(8, 8), ), _samples(labels))
        optimizer.zero_grad()
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        optimizer.step()
    assert head.bn.bias.grad is None
    assert torch.all(head.bn.bias == 0)
    assert not torch.equal(head.bn.weight, weight_before)
    assert set(losses) == {'loss_cls', 'loss_triplet', 'train_acc'}


def test_triplet_loss_sees_the_pre_bn_feature():
    # Scaling the pooled feature scales the triplet distances; BN would undo
    # the scaling, so a changed loss shows the triplet runs before the BN.
    torch.manual_seed(0)
    head = _head(loss_triplet=dict(type='TripletLoss', margin=100.0))
    feat = torch.randn(8, 8)
    labels = _samples([0, 0, 1, 1, 2, 2, 3, 3])
    small = head.loss((feat, ), labels)
    large = head.loss((3 * feat, ), labels)
    assert large['loss_triplet'].item() != pytest.approx(
        small['loss_triplet'].item())
    assert large['loss_cls'].item() == pytest.approx(
        small['loss_cls'].item(), rel=1e-3)


def test_inference_returns_the_post_bn_feature():
    torch.manual_seed(0)
    head = _head()
    head.train()
    for _ in range(5):  # give BN running statistics
        head.loss((torch.randn(8, 8) * 3 + 1, ), _samples(range(4)) * 2)
    head.eval()
    feat = torch.randn(4, 8)
    bn = head.bn
    expected = (feat - bn.running_mean) / torch.sqrt(bn.running_var +
                                                     bn.eps) * bn.weight
    samples = head.predict((feat, ), _samples([0, 1, 2, 3]))
    got = torch.stack([s.pred_feature for s in samples])
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, feat)

    before = _head(test_feature='before_bn')
    before.eval()
    got = torch.stack([s.pred_feature for s in before.predict((feat, ))])
    assert torch.equal(got, feat)


def test_head_errors_are_clear():
    with pytest.raises(ValueError, match='test_feature'):
        _head(test_feature='neck')
    head = _head()
    with pytest.raises(ValueError, match='num_classes'):
        head.loss((torch.randn(2, 8), ), _samples([0, 7]))
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        head.loss((torch.randn(2, 8, 4, 2), ), _samples([0, 1]))


def test_center_loss_value_and_its_own_sgd_step():
    torch.manual_seed(0)
    loss_fn = MODELS.build(
        dict(type='CenterLoss', num_classes=3, feat_dim=4, loss_weight=0.5,
             center_lr=0.25))
    # Centres are a buffer: no optimizer sees them.
    assert list(loss_fn.parameters()) == []
    feats = torch.randn(4, 4, requires_grad=True)
    labels = torch.tensor([0, 2, 2, 1])
    centers = loss_fn.centers.clone()
    loss = loss_fn(feats, labels)
    expected = 0.5 * ((feats - centers[labels])**2).sum(1).mean()
    assert loss.item() == pytest.approx(expected.item())
    # Plain SGD on the unweighted loss: c_j -= lr * 2/N sum_i (c_j - x_i).
    x = feats.detach()
    step = torch.zeros_like(centers)
    for i, j in enumerate(labels.tolist()):
        step[j] += 2 / 4 * (centers[j] - x[i])
    assert torch.allclose(loss_fn.centers, centers - 0.25 * step, atol=1e-6)
    # The features get the weighted gradient.
    loss.backward()
    assert torch.allclose(feats.grad,
                          0.5 * 2 / 4 * (x - centers[labels]), atol=1e-6)
    # No centre step at evaluation time.
    loss_fn.eval()
    frozen = loss_fn.centers.clone()
    loss_fn(feats.detach(), labels)
    assert torch.equal(loss_fn.centers, frozen)


def test_base_reid_with_bnneck_trains_and_predicts():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='BaseReID',
            data_preprocessor=dict(
                type='mmpretrain.ClsDataPreprocessor',
                mean=[127.5] * 3,
                std=[64.0] * 3),
            backbone=dict(
                type='mmpretrain.ResNet',
                depth=18,
                base_channels=16,
                strides=(1, 2, 2, 1),
                out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='BNNeckHead',
                in_channels=128,
                num_classes=4,
                loss_cls=LOSS_CLS,
                loss_triplet=dict(type='TripletLoss', margin=0.3),
                loss_center=dict(type='CenterLoss'))))
    model.init_weights()
    # Last stride 1: a 64x32 image gives a 4x2 map (stride 16, not 32).
    feature_map = model.backbone(torch.zeros(1, 3, 64, 32))[-1]
    assert feature_map.shape[-2:] == (4, 2)
    data = dict(
        inputs=[torch.randint(0, 255, (3, 64, 32), dtype=torch.uint8)
                for _ in range(8)],
        data_samples=_samples([0, 0, 1, 1, 2, 2, 3, 3]))
    optim_wrapper = mmgc_optim_wrapper(model)
    log_vars = model.train_step(data, optim_wrapper)
    assert {'loss', 'loss_cls', 'loss_triplet', 'loss_center'} <= set(log_vars)
    assert model.head.loss_center.centers.shape == (4, 128)
    model.eval()
    predictions = model.val_step(data)
    assert predictions[0].pred_feature.shape == (128, )


def mmgc_optim_wrapper(model):
    from mmengine.optim import build_optim_wrapper
    return build_optim_wrapper(
        model,
        dict(optimizer=dict(type='SGD_GCC', lr=0.01, momentum=0.9,
                            weight_decay=0.002)))


def _center_loss_worker(rank, world_size, port, out):
    import torch.distributed as dist
    join_gloo_group(rank, world_size, port)
    with leaving_together():
        import mmgc  # noqa: F401
        from mmgc.reid import CenterLoss
        torch.manual_seed(0)  # same initial centres on every process
        loss_fn = CenterLoss(num_classes=3, feat_dim=2, center_lr=0.5)
        start = loss_fn.centers.clone()
        feats = torch.full((2, 2), float(rank + 1))  # differ per process
        labels = torch.tensor([0, 1])
        loss_fn(feats, labels)
        gathered = [None] * world_size
        dist.all_gather_object(gathered,
                               (start.tolist(), loss_fn.centers.tolist()))
        if rank == 0:
            # Plain lists: tensors would be shared through memory that goes
            # away when this process exits.
            out.put(gathered)


def test_center_step_is_averaged_over_processes(run_two_ranks):
    (start0, end0), (start1, end1) = [
        map(torch.tensor, pair) for pair in run_two_ranks(_center_loss_worker)]
    assert torch.equal(start0, start1) and torch.equal(end0, end1)
    # Per process: grad_j = 2/2 * (c_j - x) for classes 0 and 1, x = rank+1;
    # averaged over the two processes: c_j - 1.5.
    expected = start0.clone()
    expected[:2] -= 0.5 * (start0[:2] - 1.5)
    assert torch.allclose(end0, expected, atol=1e-6)
