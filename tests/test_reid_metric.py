"""The query/gallery metric (mAP, CMC) on hand-made cases worked out here."""
import numpy as np
import pytest
import torch

from mmgc.reid import QueryGalleryReIDMetric, evaluate_query_gallery

pytestmark = [pytest.mark.reid, pytest.mark.fast]

# Gallery of the hand-made case: (pid, camera, 1-D feature).
GALLERY = [
    (1, 0, 0.1),  # g0: query q1's person AND camera -> excluded for q1
    (2, 1, 0.2),  # g1
    (1, 1, 0.3),  # g2: true match of q1
    (0, 2, 0.4),  # g3: distractor
    (1, 2, 0.5),  # g4: true match of q1
    (3, 0, 0.6),  # g5: true match of q3
]
QUERIES = [
    (1, 0, 0.0),  # q1
    (2, 1, 1.0),  # q2: its only gallery image (g1) is same person+camera
    (3, 1, 0.62),  # q3
]


def _split(rows):
    pids, cams, feats = zip(*rows)
    return torch.tensor(feats).view(-1, 1), list(pids), list(cams)


def _evaluate(queries=QUERIES, gallery=GALLERY, **kwargs):
    qf, qp, qc = _split(queries)
    gf, gp, gc = _split(gallery)
    return evaluate_query_gallery(qf, qp, qc, gf, gp, gc, **kwargs)


def test_hand_made_case_with_same_camera_exclusion_and_skipped_query():
    # q1, Euclidean ranking without g0: g1 (wrong), g2 (hit at rank 2),
    #   g3 (distractor), g4 (hit at rank 4), g5.
    #   AP = (1/2 + 2/4) / 2 = 0.5; first hit at rank 2.
    # q2: no true match outside its own camera -> skipped.
    # q3: g5 is nearest (0.02) and the only match -> AP 1, first hit rank 1.
    scores = _evaluate(distance='euclidean')
    assert scores['mAP'] == pytest.approx((0.5 + 1.0) / 2)
    assert scores['R1'] == pytest.approx(0.5)
    assert scores['R5'] == pytest.approx(1.0)
    assert scores['R10'] == pytest.approx(1.0)
    assert scores['num_queries'] == 3
    assert scores['num_skipped_queries'] == 1


def test_same_camera_match_would_otherwise_count():
    # Without the exclusion q1 would hit g0 at rank 1. Moving g0 to another
    # camera makes it a valid match: ranking g0(hit) g1 g2(hit) g3 g4(hit).
    gallery = [(1, 3, 0.1)] + GALLERY[1:]
    scores = _evaluate(queries=QUERIES[:1], gallery=gallery,
                       distance='euclidean')
    assert scores['mAP'] == pytest.approx((1 / 1 + 2 / 3 + 3 / 5) / 3)
    assert scores['R1'] == pytest.approx(1.0)


def test_chunking_does_not_change_the_result():
    full = _evaluate(distance='euclidean', chunk_size=256)
    for chunk_size in (1, 2):
        assert _evaluate(distance='euclidean', chunk_size=chunk_size) == full


def test_cosine_and_euclidean_rank_differently():
    # The true match points the query's way but is far; the wrong one is
    # near but at 45 degrees.
    qf = torch.tensor([[1.0, 0.0]])
    gf = torch.tensor([[10.0, 1.0], [0.5, 0.5]])
    pids, cams = [1, 2], [1, 1]
    cosine = evaluate_query_gallery(qf, [1], [0], gf, pids, cams,
                                    distance='cosine')
    euclidean = evaluate_query_gallery(qf, [1], [0], gf, pids, cams,
                                       distance='euclidean')
    assert (cosine['mAP'], cosine['R1']) == (1.0, 1.0)
    assert (euclidean['mAP'], euclidean['R1']) == (0.5, 0.0)


def test_no_valid_query_is_a_clear_error():
    with pytest.raises(ValueError, match='None of the 1 queries'):
        _evaluate(queries=QUERIES[1:2], distance='euclidean')


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match='distance'):
        _evaluate(distance='manhattan')
    with pytest.raises(ValueError, match='3 pids'):
        qf, qp, qc = _split(QUERIES)
        gf, gp, gc = _split(GALLERY)
        evaluate_query_gallery(qf[:2], qp, qc, gf, gp, gc)
    with pytest.raises(ValueError, match='distance'):
        QueryGalleryReIDMetric(distance='l1')


def _reference_protocol(dist, q_pids, q_cams, g_pids, g_cams, max_rank):
    """The protocol written as plainly as possible, one query at a time."""
    aps, cmcs = [], []
    for i in range(len(q_pids)):
        order = np.argsort(dist[i], kind='stable')
        ranked = [(g_pids[j], g_cams[j]) for j in order
                  if not (g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i])]
        hits = np.array([pid == q_pids[i] for pid, _ in ranked])
        if not hits.any():
            continue
        hit_ranks = np.flatnonzero(hits) + 1
        aps.append(np.mean(np.arange(1, len(hit_ranks) + 1) / hit_ranks))
        cmcs.append([hit_ranks[0] <= k for k in range(1, max_rank + 1)])
    return np.mean(aps), np.mean(cmcs, axis=0)


def test_thousands_of_queries_match_the_plain_protocol():
    rng = np.random.default_rng(0)
    num_q, num_g, dim = 2000, 4000, 16
    g_pids = rng.integers(0, 400, num_g)
    g_cams = rng.integers(0, 6, num_g)
    centres = rng.normal(size=(400, dim))
    g_feats = centres[g_pids] + rng.normal(scale=0.6, size=(num_g, dim))
    q_pids = rng.integers(1, 400, num_q)
    q_cams = rng.integers(0, 6, num_q)
    q_feats = centres[q_pids] + rng.normal(scale=0.6, size=(num_q, dim))

    scores = evaluate_query_gallery(
        torch.tensor(q_feats), q_pids, q_cams, torch.tensor(g_feats), g_pids,
        g_cams, distance='euclidean', ranks=(1, 5, 10), chunk_size=128)

    q32 = torch.tensor(q_feats, dtype=torch.float32)
    g32 = torch.tensor(g_feats, dtype=torch.float32)
    dist = (q32.pow(2).sum(1, keepdim=True) + g32.pow(2).sum(1) -
            2 * q32 @ g32.t()).clamp(min=0).numpy()
    ref_map, ref_cmc = _reference_protocol(dist, q_pids, q_cams, g_pids,
                                           g_cams, 10)
    assert 0.05 < ref_map < 0.95  # neither trivial nor hopeless
    assert scores['mAP'] == pytest.approx(ref_map, abs=1e-9)
    for k in (1, 5, 10):
        assert scores[f'R{k}'] == pytest.approx(ref_cmc[k - 1], abs=1e-9)


def test_metric_reads_data_samples_and_reports_percent_under_reid_prefix():
    metric = QueryGalleryReIDMetric(distance='euclidean')
    samples = []
    for rows, is_query in ((QUERIES, True), (GALLERY, False)):
        for pid, cam, feat in rows:
            samples.append(
                dict(
                    pred_feature=torch.tensor([feat]),
                    pid=pid,
                    camid=cam,
                    is_query=is_query))
    metric.process({}, samples[:4])
    metric.process({}, samples[4:])
    results = metric.evaluate(len(samples))
    assert set(results) == {'reid/mAP', 'reid/R1', 'reid/R5', 'reid/R10'}
    assert results['reid/mAP'] == pytest.approx(75.0)
    assert results['reid/R1'] == pytest.approx(50.0)


def test_metric_names_missing_meta_keys():
    metric = QueryGalleryReIDMetric()
    with pytest.raises(KeyError, match='camid'):
        metric.process({}, [dict(pred_feature=torch.zeros(2), pid=1,
                                 is_query=True)])
