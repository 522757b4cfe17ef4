"""A small synthetic person-ReID dataset in the Market-1501 layout.

Every identity is a drawn figure with its own clothing colours, shirt
pattern, hair, bag and build. Each camera has its own background, colour
cast, brightness and sharpness, and every image varies the pose, position,
scale and noise, so matching a person across cameras has to look past the
camera's changes. The output depends only on the arguments (a fixed seed
gives identical files), and the folders follow Market-1501: file names
``<pid>_c<camera>s1_<frame>_00.jpg``, junk images with pid -1 and
distractors with pid 0 in the gallery. An output folder that already holds
data follows the rule of the other toy generators
(:func:`mmgc.datasets.toy_common.reuse_or_clear`).
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from mmgc.datasets.toy_common import reuse_or_clear
from .market1501 import GALLERY_DIR, QUERY_DIR, TRAIN_DIR

IMAGE_HEIGHT, IMAGE_WIDTH = 128, 64
META_FILE = 'toy_market1501_meta.json'


@dataclass(frozen=True)
class _ToySettings:
    """The generator's arguments, saved beside the images so that a rerun
    can tell whether the folder already holds this dataset (flat: JSON
    would turn the (min, max) tuples into lists)."""
    num_train_ids: int
    num_test_ids: int
    num_cameras: int
    min_images_per_camera: int
    max_images_per_camera: int
    min_cameras_per_id: int
    max_cameras_per_id: int
    num_distractors: int
    num_junk: int
    seed: int


@dataclass
class _Identity:
    shirt: np.ndarray
    pants: np.ndarray
    hair: np.ndarray
    skin: np.ndarray
    shoes: np.ndarray
    pattern: int  # 0 plain, 1 horizontal stripes, 2 vertical stripes, 3 logo
    pattern_color: np.ndarray
    bag: bool
    bag_color: np.ndarray
    long_sleeves: bool
    width: float
    height: float


@dataclass
class _Camera:
    background: np.ndarray
    floor: np.ndarray
    color_gain: np.ndarray
    brightness: float
    blur_sigma: float
    noise: float


def _random_color(rng: np.random.RandomState) -> np.ndarray:
    # Saturated colours in HSV space, so identities are far apart in colour.
    hsv = np.uint8([[[rng.randint(0, 180), rng.randint(90, 256),
                      rng.randint(60, 256)]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _make_identity(rng: np.random.RandomState) -> _Identity:
    skin_tone = rng.uniform(0.45, 1.0)
    return _Identity(
        shirt=_random_color(rng),
        pants=_random_color(rng) * rng.uniform(0.3, 1.0),
        hair=np.float32([30, 40, 60]) * rng.uniform(0.2, 2.5),
        skin=np.float32([150, 180, 225]) * skin_tone,
        shoes=np.float32([40, 40, 40]) * rng.uniform(0.3, 4.0),
        pattern=rng.randint(4),
        pattern_color=_random_color(rng),
        bag=bool(rng.rand() < 0.4),
        bag_color=_random_color(rng) * 0.7,
        long_sleeves=bool(rng.rand() < 0.5),
        width=rng.uniform(0.85, 1.15),
        height=rng.uniform(0.9, 1.05))


def _make_camera(rng: np.random.RandomState) -> _Camera:
    return _Camera(
        background=rng.uniform(40, 200, size=3).astype(np.float32),
        floor=rng.uniform(40, 160, size=3).astype(np.float32),
        color_gain=rng.uniform(0.7, 1.3, size=3).astype(np.float32),
        brightness=rng.uniform(-30, 30),
        blur_sigma=rng.uniform(0.0, 1.5),
        noise=rng.uniform(2, 10))


def _draw(person: _Identity, camera: _Camera,
          rng: np.random.RandomState) -> np.ndarray:
    h, w = IMAGE_HEIGHT, IMAGE_WIDTH
    img = np.empty((h, w, 3), np.float32)
    # Background: a camera-specific wall over a floor with a soft gradient.
    horizon = int(h * rng.uniform(0.55, 0.75))
    img[:horizon] = camera.background
    img[horizon:] = camera.floor
    img *= np.linspace(0.85, 1.15, w, dtype=np.float32)[None, :, None]
    clutter = rng.randint(0, 3)
    for _ in range(clutter):  # background objects shared by nobody
        x0, y0 = rng.randint(0, w), rng.randint(0, h)
        cv2.rectangle(img, (x0, y0), (x0 + rng.randint(4, 20),
                                      y0 + rng.randint(4, 30)),
                      _random_color(rng).tolist(), -1)

    scale = person.height * rng.uniform(0.9, 1.05)
    cx = w / 2 + rng.uniform(-5, 5)
    top = rng.uniform(2, 8)
    half = 11 * person.width

    def y(frac):  # vertical position of a body fraction (0 head, 1 feet)
        return int(round(top + frac * (h - 6 - top) * scale))

    def box(x0, y0, x1, y1, color):
        cv2.rectangle(img, (int(round(x0)), y0), (int(round(x1)), y1),
                      color.tolist(), -1)

    stride = rng.uniform(-4, 4)  # walking pose: legs apart
    # legs and shoes
    box(cx - half + 1 + stride, y(0.55), cx - 1 + stride / 2, y(0.95),
        person.pants)
    box(cx + 1 - stride / 2, y(0.55), cx + half - 1 - stride, y(0.95),
        person.pants)
    box(cx - half + stride, y(0.95), cx - 1 + stride / 2, y(1.0),
        person.shoes)
    box(cx + 1 - stride / 2, y(0.95), cx + half - stride, y(1.0),
        person.shoes)
    # torso with its pattern
    box(cx - half, y(0.17), cx + half, y(0.57), person.shirt)
    if person.pattern == 1:
        for row in range(y(0.2), y(0.55), 6):
            box(cx - half, row, cx + half, row + 2, person.pattern_color)
    elif person.pattern == 2:
        for col in np.arange(cx - half + 2, cx + half - 1, 6):
            box(col, y(0.17), col + 2, y(0.57), person.pattern_color)
    elif person.pattern == 3:
        box(cx - 5, y(0.25), cx + 5, y(0.37), person.pattern_color)
    # arms
    arm_color = person.shirt if person.long_sleeves else person.skin
    swing = int(round(stride))
    box(cx - half - 5, y(0.18), cx - half, y(0.5) + swing, arm_color)
    box(cx + half, y(0.18), cx + half + 5, y(0.5) - swing, arm_color)
    # head and hair
    head_center = (int(round(cx)), y(0.09))
    cv2.ellipse(img, head_center, (7, 9), 0, 0, 360, person.skin.tolist(), -1)
    cv2.ellipse(img, (head_center[0], head_center[1] - 3), (7, 6), 0, 180,
                360, person.hair.tolist(), -1)
    if person.bag:
        side = 1 if rng.rand() < 0.7 else -1  # mostly seen on one side
        x0 = cx + side * (half + 1)
        box(min(x0, x0 + side * 8), y(0.3), max(x0, x0 + side * 8), y(0.5),
            person.bag_color)

    # Camera: colour cast, brightness, blur, sensor noise.
    img = img * camera.color_gain + camera.brightness
    img *= rng.uniform(0.9, 1.1)
    sigma = camera.blur_sigma + rng.uniform(0, 0.5)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += rng.normal(0, camera.noise, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_junk(camera: _Camera, rng: np.random.RandomState) -> np.ndarray:
    """A badly cropped box: background and a sliver of colour, no person."""
    img = np.empty((IMAGE_HEIGHT, IMAGE_WIDTH, 3), np.float32)
    img[:] = camera.background * camera.color_gain
    x0 = rng.randint(0, IMAGE_WIDTH - 8)
    img[:, x0:x0 + 8] = _random_color(rng)
    img += rng.normal(0, camera.noise, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _write(folder: str, pid: int, camid: int, frame: int,
           img: np.ndarray) -> None:
    pid_text = '-1' if pid < 0 else f'{pid:04d}'
    name = f'{pid_text}_c{camid + 1}s1_{frame:06d}_00.jpg'
    # A fixed JPEG quality keeps the files identical between runs.
    if not cv2.imwrite(osp.join(folder, name), img,
                       [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f'Could not write {osp.join(folder, name)}.')


def generate_toy_market1501(out_dir: str,
                            num_train_ids: int = 120,
                            num_test_ids: int = 100,
                            num_cameras: int = 6,
                            images_per_camera: Tuple[int, int] = (1, 3),
                            cameras_per_id: Tuple[int, int] = (2, 4),
                            num_distractors: int = 100,
                            num_junk: int = 20,
                            seed: int = 0,
                            overwrite: bool = False,
                            progress: Optional[Callable[[str], None]] = None
                            ) -> Dict[str, int]:
    """Write a Market-1501-style dataset to ``out_dir``.

    Each identity appears in ``cameras_per_id`` (min, max) of the
    ``num_cameras`` cameras with ``images_per_camera`` (min, max) images in
    each. Test identities get one query image from each of up to two of
    their cameras; their other images form the gallery with the distractors
    (pid 0) and junk images (pid -1).

    If ``out_dir`` already holds the dataset of the same arguments, nothing
    is rewritten; other data there is replaced only with ``overwrite=True``.

    Returns:
        dict: image counts per folder and the number of identities.

    Raises:
        FileExistsError: if ``out_dir`` holds other data and ``overwrite`` is
            False.
        ValueError: on impossible arguments.
    """
    if num_train_ids < 1 or num_test_ids < 1:
        raise ValueError('num_train_ids and num_test_ids must be >= 1.')
    if num_train_ids + num_test_ids > 1500:
        raise ValueError('Market-1501 ids have four digits and 0 is the '
                         'distractor id: at most 1500 identities in total.')
    if not 2 <= cameras_per_id[0] <= cameras_per_id[1] <= num_cameras:
        raise ValueError(
            f'cameras_per_id {cameras_per_id} must satisfy 2 <= min <= max '
            f'<= num_cameras ({num_cameras}): a query needs a gallery image '
            'from another camera.')
    if not 1 <= images_per_camera[0] <= images_per_camera[1]:
        raise ValueError(f'images_per_camera {images_per_camera} must '
                         'satisfy 1 <= min <= max.')
    settings = _ToySettings(num_train_ids, num_test_ids, num_cameras,
                            *images_per_camera, *cameras_per_id,
                            num_distractors, num_junk, seed)
    folders = {
        name: osp.join(out_dir, name)
        for name in (TRAIN_DIR, QUERY_DIR, GALLERY_DIR)
    }
    meta_file = Path(out_dir) / META_FILE
    # No annotation files to check: the settings file, written last, marks
    # a complete dataset.
    if reuse_or_clear(Path(out_dir), meta_file, settings, {}, overwrite,
                      'toy ReID dataset', 'tools/generate_toy_reid.py',
                      progress):
        counts = {name: len([f for f in os.listdir(folder)
                             if f.endswith('.jpg')])
                  for name, folder in folders.items()}
        counts['train_ids'] = num_train_ids
        counts['test_ids'] = num_test_ids
        return counts
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
        # Remove the images of an earlier dataset.
        for name in os.listdir(folder):
            if name.endswith('.jpg'):
                os.remove(osp.join(folder, name))
    if progress:
        progress(f'drawing {num_train_ids} training and {num_test_ids} test '
                 f'identities into {out_dir}')

    rng = np.random.RandomState(seed)
    cameras = [_make_camera(rng) for _ in range(num_cameras)]
    # Shuffled 4-digit ids, like Market-1501's non-contiguous ones.
    pids = rng.permutation(np.arange(1, 1501))[:num_train_ids + num_test_ids]
    train_pids = sorted(int(p) for p in pids[:num_train_ids])
    test_pids = sorted(int(p) for p in pids[num_train_ids:])
    counts = {name: 0 for name in folders}
    frame = 0

    def images_of(pid: int) -> List[Tuple[int, np.ndarray]]:
        person = _make_identity(rng)
        num_cams = rng.randint(cameras_per_id[0], cameras_per_id[1] + 1)
        cams = sorted(rng.choice(num_cameras, num_cams, replace=False))
        shots = []
        for cam in cams:
            for _ in range(
                    rng.randint(images_per_camera[0],
                                images_per_camera[1] + 1)):
                shots.append((int(cam), _draw(person, cameras[cam], rng)))
        return shots

    for pid in train_pids:
        for cam, img in images_of(pid):
            frame += 1
            _write(folders[TRAIN_DIR], pid, cam, frame, img)
            counts[TRAIN_DIR] += 1
    for pid in test_pids:
        shots = images_of(pid)
        cams = sorted({cam for cam, _ in shots})
        # Leave at least one camera to the gallery so every query has a
        # true match there.
        query_cams = cams[:min(2, len(cams) - 1)]
        for cam, img in shots:
            frame += 1
            if cam in query_cams:
                # The first image of a query camera is the query.
                query_cams.remove(cam)
                _write(folders[QUERY_DIR], pid, cam, frame, img)
                counts[QUERY_DIR] += 1
            else:
                _write(folders[GALLERY_DIR], pid, cam, frame, img)
                counts[GALLERY_DIR] += 1
    for _ in range(num_distractors):
        cam = rng.randint(num_cameras)
        frame += 1
        _write(folders[GALLERY_DIR], 0, cam, frame,
               _draw(_make_identity(rng), cameras[cam], rng))
        counts[GALLERY_DIR] += 1
    for _ in range(num_junk):
        cam = rng.randint(num_cameras)
        frame += 1
        _write(folders[GALLERY_DIR], -1, cam, frame,
               _draw_junk(cameras[cam], rng))
        counts[GALLERY_DIR] += 1
    counts['train_ids'] = num_train_ids
    counts['test_ids'] = num_test_ids
    # Written last: its presence marks a complete dataset.
    meta_file.write_text(json.dumps(asdict(settings), indent=2))
    return counts
