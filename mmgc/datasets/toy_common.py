"""What the toy dataset generators share: the outlines of their shapes, and
the rule for an output folder that already holds something (reuse it,
replace it, or refuse)."""
import json
import math
import os.path as osp
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np

SHAPES = ('cross', 'ellipse', 'rectangle', 'star', 'triangle')


def shape_outline(shape: str, size: float, aspect: float,
                  ellipse_points: int) -> np.ndarray:
    """Points (N, 2) of a shape centred at the origin that fits in a circle
    of diameter ``size``. ``aspect`` in [0.5, 1] deforms it (a shorter side,
    a flatter ellipse, jittered triangle angles, thicker cross bars)."""
    radius = size / 2
    if shape == 'rectangle':
        half_w = radius / math.sqrt(1 + aspect**2)
        half_h = half_w * aspect
        return np.array([[-half_w, -half_h], [half_w, -half_h],
                         [half_w, half_h], [-half_w, half_h]])
    if shape == 'ellipse':
        theta = np.linspace(0, 2 * math.pi, ellipse_points, endpoint=False)
        return np.stack(
            [radius * np.cos(theta), radius * aspect * np.sin(theta)], 1)
    if shape == 'triangle':
        jitter = (1 - aspect) * 0.6
        theta = np.array([0, 2 * math.pi / 3 + jitter,
                          4 * math.pi / 3 - jitter]) - math.pi / 2
        return np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    if shape == 'star':
        theta = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
        return np.stack([radii * np.cos(theta), radii * np.sin(theta)], 1)
    if shape == 'cross':
        arm = radius * (0.25 + 0.15 * aspect)  # half the bar width
        r = radius
        return np.array([[-arm, -r], [arm, -r], [arm, -arm], [r, -arm],
                         [r, arm], [arm, arm], [arm, r], [-arm, r],
                         [-arm, arm], [-r, arm], [-r, -arm], [-arm, -arm]])
    raise ValueError(f'Unknown toy shape {shape!r}; expected one of '
                     f'{SHAPES}.')


def reuse_or_clear(out_dir: Path, meta_file: Path, settings,
                   ann_files: Dict[str, Path], overwrite: bool, what: str,
                   tool: str,
                   progress: Optional[Callable[[str], None]] = None) -> bool:
    """Decide what to do with ``out_dir`` before a generator writes it.

    Returns True when it already holds the dataset with these ``settings``
    (the settings file ``meta_file`` matches and every annotation file
    exists) and ``overwrite`` is not set: nothing to write. Returns False
    when the generator may write: the folder is new or empty, or
    ``overwrite`` is set (then the settings file is removed first, so an
    interrupted rewrite reads as incomplete). ``overwrite`` rewrites the
    same dataset too: that repairs files damaged since they were written.
    Otherwise raises FileExistsError naming ``what`` (e.g. 'toy dataset')
    and the ``tool`` whose ``--overwrite`` replaces it.
    """
    if meta_file.is_file():
        existing = json.loads(meta_file.read_text())
        complete = all(path.is_file() for path in ann_files.values())
        if existing == asdict(settings) and complete and not overwrite:
            if progress:
                progress(f'{out_dir} already holds the {what} with these '
                         'settings; nothing to do (--overwrite writes it '
                         'again).')
            return True
        if not overwrite:
            raise FileExistsError(
                f'{out_dir} holds a {what} written with other settings '
                f'({existing}) or an incomplete one. Pass overwrite=True '
                f'({tool} --overwrite) to replace it, or choose another '
                'output folder.')
        meta_file.unlink()
    elif out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise FileExistsError(
            f'{out_dir} exists and is not a {what} folder. Choose another '
            f'output folder or pass overwrite=True ({tool} --overwrite).')
    return False


def rewrite_command(tool: str, out_dir: str, default_out_dir: str,
                    meta_file: str, defaults, flags: Dict[str, str]) -> str:
    """The command line of ``tool`` that writes the toy dataset of
    ``out_dir`` again, with the settings its settings file ``meta_file``
    records (those the tool's ``flags`` can set, where they differ from
    ``defaults``), and ``--overwrite``."""
    options = []
    if osp.normpath(out_dir) != osp.normpath(default_out_dir):
        options += ['--out-dir', shlex.quote(out_dir)]
    try:
        settings = json.loads((Path(out_dir) / meta_file).read_text())
    except (OSError, ValueError):  # no settings file: the defaults
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    for field, default in asdict(defaults).items():
        value = settings.get(field, default)
        if value != default and field in flags:
            options += [flags[field], str(value)]
    return ' '.join([f'python {tool}'] + options + ['--overwrite'])
