"""Market-1501 parsing, the toy generator and the P x K batch sampler."""
import collections
import filecmp
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch.distributed as dist
from mmengine.dataset import DefaultSampler

import mmgc  # noqa: F401
from mmgc.reid import (Market1501Dataset, PKBatchSampler,
                       generate_toy_market1501, parse_market1501_name)
from _process_group import join_gloo_group, leaving_together

pytestmark = [pytest.mark.reid]

# A hand-written Market-1501 folder: file names per sub-folder.
LAYOUT = {
    'bounding_box_train': [
        '1500_c6s3_000001_01.jpg',
        '0002_c1s1_000451_03.jpg',
        '0002_c2s1_000301_01.jpg',
        '0007_c3s1_000201_02.jpg',
        '-1_c1s1_000401_03.jpg',  # junk
    ],
    'query': [
        '0003_c1s1_000101_00.jpg',
        '0004_c5s2_000102_00.jpg',
    ],
    'bounding_box_test': [
        '0003_c2s1_000103_00.jpg',
        '0000_c3s1_000104_00.jpg',  # distractor
        '-1_c4s1_000105_00.jpg',  # junk
        '0004_c1s1_000106_00.jpg',
    ],
}


def _write_layout(root, layout=LAYOUT):
    image = np.full((16, 8, 3), 127, np.uint8)
    for folder, names in layout.items():
        os.makedirs(osp.join(root, folder), exist_ok=True)
        for name in names:
            cv2.imwrite(osp.join(root, folder, name), image)
    return str(root)


def test_parse_file_names():
    assert parse_market1501_name('0002_c1s1_000451_03.jpg') == (2, 0)
    assert parse_market1501_name('-1_c6s2_000001_00.jpg') == (-1, 5)
    with pytest.raises(ValueError, match='not a Market-1501 image name'):
        parse_market1501_name('person_2.jpg')


def test_train_split_relabels_ids_and_drops_junk(tmp_path):
    dataset = Market1501Dataset(_write_layout(tmp_path), split='train')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    # Sorted by file name; junk (-1) is gone.
    assert [(i['pid'], i['camid'], i['gt_label']) for i in infos] == [
        (2, 0, 0), (2, 1, 0), (7, 2, 1), (1500, 5, 2)]
    assert not any(i['is_query'] for i in infos)
    assert dataset.metainfo['num_ids'] == 3


def test_test_split_is_queries_then_gallery_with_distractors(tmp_path):
    dataset = Market1501Dataset(_write_layout(tmp_path), split='test')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [(i['pid'], i['camid'], i['is_query']) for i in infos] == [
        (3, 0, True), (4, 4, True),  # query
        (0, 2, False), (3, 1, False), (4, 0, False)]  # gallery, junk dropped
    assert all('gt_label' not in i for i in infos)
    assert osp.basename(infos[2]['img_path']) == '0000_c3s1_000104_00.jpg'
    query = Market1501Dataset(str(tmp_path), split='query')
    gallery = Market1501Dataset(str(tmp_path), split='gallery')
    assert (len(query), len(gallery)) == (2, 3)


def test_bad_folders_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='split'):
        Market1501Dataset(str(tmp_path), split='val')
    with pytest.raises(FileNotFoundError, match='generate_toy_reid'):
        Market1501Dataset(str(tmp_path / 'missing'), split='train')
    bad = dict(LAYOUT, query=['0000_c1s1_000001_00.jpg'])
    root = _write_layout(tmp_path / 'bad', bad)
    with pytest.raises(ValueError, match='distractor'):
        Market1501Dataset(root, split='query')
    odd = dict(LAYOUT, bounding_box_train=['img_0002.jpg'])
    root = _write_layout(tmp_path / 'odd', odd)
    with pytest.raises(ValueError, match='img_0002.jpg'):
        Market1501Dataset(root, split='train')


def _small_toy(out_dir, seed=3):
    return generate_toy_market1501(
        str(out_dir),
        num_train_ids=20,
        num_test_ids=8,
        num_distractors=5,
        num_junk=3,
        seed=seed)


def test_toy_generator_is_deterministic_and_market1501_shaped(tmp_path):
    counts = _small_toy(tmp_path / 'a')
    _small_toy(tmp_path / 'b')
    for folder in ('bounding_box_train', 'query', 'bounding_box_test'):
        names = sorted(os.listdir(tmp_path / 'a' / folder))
        assert names == sorted(os.listdir(tmp_path / 'b' / folder))
        assert len(names) == counts[folder]
        match, mismatch, errors = filecmp.cmpfiles(
            tmp_path / 'a' / folder, tmp_path / 'b' / folder, names,
            shallow=False)
        assert not mismatch and not errors
    # The same dataset again: nothing to do (tests/test_toy_data.py checks
    # the rule for other data in the folder).
    assert _small_toy(tmp_path / 'a') == counts

    train = Market1501Dataset(str(tmp_path / 'a'), split='train')
    assert train.metainfo['num_ids'] == 20
    test = Market1501Dataset(str(tmp_path / 'a'), split='test')
    infos = [test.get_data_info(i) for i in range(len(test))]
    queries = [i for i in infos if i['is_query']]
    gallery = [i for i in infos if not i['is_query']]
    assert sum(i['pid'] == 0 for i in gallery) == 5  # distractors kept
    assert len(gallery) == counts['bounding_box_test'] - 3  # junk dropped
    # Every query has a true match from another camera.
    for q in queries:
        assert any(g['pid'] == q['pid'] and g['camid'] != q['camid']
                   for g in gallery)
    image = cv2.imread(infos[0]['img_path'])
    assert image.shape == (128, 64, 3)


def _pid_of_each_index(dataset):
    return [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))]


@pytest.fixture(scope='module')
def toy_train(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy')
    _small_toy(root, seed=5)
    return Market1501Dataset(str(root), split='train')


def test_pk_batches_hold_p_ids_times_k_images(toy_train):
    labels = _pid_of_each_index(toy_train)
    sampler = DefaultSampler(toy_train, shuffle=True, seed=0)
    batch_sampler = PKBatchSampler(sampler, batch_size=16, num_instances=4)
    batches = list(batch_sampler)
    assert len(batches) == len(batch_sampler) > 0
    for batch in batches:
        assert len(batch) == 16
        per_id = collections.Counter(labels[i] for i in batch)
        assert len(per_id) == 4 and set(per_id.values()) == {4}
        # Identities come in contiguous groups of K.
        for g in range(4):
            assert len({labels[i] for i in batch[4 * g:4 * g + 4]}) == 1


def test_pk_epoch_covers_each_image_about_once(toy_train):
    labels = _pid_of_each_index(toy_train)
    sampler = DefaultSampler(toy_train, shuffle=True, seed=0)
    batch_sampler = PKBatchSampler(sampler, batch_size=16, num_instances=4)
    seen = collections.Counter(i for b in batch_sampler for i in b)
    images_per_id = collections.Counter(labels)
    # Not inflated: an epoch is about len(dataset) images, not one batch
    # per image as in mmdet's ReIDDataset.
    num_sampled = sum(seen.values())
    assert 0.75 * len(toy_train) <= num_sampled <= 1.25 * len(toy_train)
    # Images of identities with at least K images are drawn without
    # replacement, so at most once (twice only in the last top-up batches).
    repeated = [i for i, n in seen.items()
                if n > 1 and images_per_id[labels[i]] >= 4]
    assert len(repeated) <= 16
    assert len(seen) >= 0.7 * len(toy_train)


def test_pk_epochs_are_seeded(toy_train):
    def epoch(seed, epoch_index):
        sampler = DefaultSampler(toy_train, shuffle=True, seed=seed)
        sampler.set_epoch(epoch_index)
        return list(PKBatchSampler(sampler, batch_size=16, num_instances=4))

    assert epoch(0, 1) == epoch(0, 1)
    assert epoch(0, 1) != epoch(0, 2)
    assert epoch(0, 1) != epoch(1, 1)


def test_pk_bad_settings_are_clear_errors(toy_train):
    sampler = DefaultSampler(toy_train, shuffle=True, seed=0)
    with pytest.raises(ValueError, match='multiple of num_instances'):
        PKBatchSampler(sampler, batch_size=18, num_instances=4)
    with pytest.raises(ValueError, match='different identities'):
        PKBatchSampler(sampler, batch_size=4 * 21, num_instances=4)
    with pytest.raises(TypeError, match='DefaultSampler'):
        PKBatchSampler(list(range(10)), batch_size=16)


def _dist_worker(rank, world_size, port, root, out):
    join_gloo_group(rank, world_size, port)
    with leaving_together():
        dataset = Market1501Dataset(root, split='train')
        # seed=None: DefaultSampler agrees on a seed across processes.
        sampler = DefaultSampler(dataset, shuffle=True, seed=None)
        sampler.set_epoch(3)
        batches = list(PKBatchSampler(sampler, 16, num_instances=4))
        gathered = [None] * world_size
        dist.all_gather_object(gathered, batches)
        if rank == 0:
            out.put(gathered)


def test_pk_batches_are_dealt_out_across_processes(toy_train, run_two_ranks):
    per_rank = run_two_ranks(_dist_worker, toy_train.data_root)
    assert len(per_rank[0]) == len(per_rank[1]) > 0
    flat = [tuple(b) for batches in per_rank for b in batches]
    # The two processes get different batches ...
    assert not set(map(tuple, per_rank[0])) & set(map(tuple, per_rank[1]))
    # ... that together are one epoch's PK batches.
    labels = _pid_of_each_index(toy_train)
    for batch in flat:
        assert set(collections.Counter(labels[i] for i in batch).values()) \
            == {4}
    num_sampled = sum(len(b) for b in flat)
    assert 0.6 * len(toy_train) <= num_sampled <= 1.25 * len(toy_train)
