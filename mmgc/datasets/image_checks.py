"""Before a Runner is built: can every image a dataset lists be read?

A missing, empty (0 bytes) or damaged image file otherwise stops training
only when the data loader reaches it, possibly hours in, inside cv2 or
mmcv's image decoding and without the file's name. Here every image file a
dataset lists is looked at up front:

* every file is stat'ed, whatever the size of the dataset: missing and
  empty files are found for COCO (118k images, about a second) and
  ImageNet alike;
* the files of a dataset of at most :data:`DECODE_AT_MOST` images and
  :data:`DECODE_AT_MOST_BYTES` bytes (the built-in toy and digit sets:
  well under a second) are also decoded, as the training pipeline will,
  so a damaged file is found too. Decoding COCO or ImageNet would take
  minutes, so there only the stat is done.
"""
import os
import stat
from typing import Dict, Iterable, List

# Datasets up to this size are decoded, not only stat'ed.
DECODE_AT_MOST = 5000
DECODE_AT_MOST_BYTES = 200 * 1024 * 1024
# How many file names a message shows before it says "and N more".
_SHOW_AT_MOST = 5


class ImageFileError(ValueError):
    """Image files a dataset lists are empty or cannot be decoded; the
    message names them and says how to get good ones."""


def _listing(paths: List[str]) -> str:
    shown = ', '.join(paths[:_SHOW_AT_MOST])
    more = len(paths) - _SHOW_AT_MOST
    return shown + (f' and {more} more' if more > 0 else '')


def _decodes(path: str) -> bool:
    import cv2
    import numpy as np
    with open(path, 'rb') as f:
        data = np.frombuffer(f.read(), np.uint8)
    # What mmcv's imfrombytes does with the cv2 backend.
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None


def unreadable_images(paths: Iterable[str]) -> Dict[str, List[str]]:
    """The ``missing``, ``empty`` and (for a small dataset, see the module
    docstring) ``undecodable`` files among ``paths``; remote paths are
    skipped."""
    problems: Dict[str, List[str]] = dict(missing=[], empty=[],
                                          undecodable=[])
    present, total_bytes = [], 0
    for path in dict.fromkeys(paths):  # once each, in order
        if '://' in path:
            continue
        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            problems['missing'].append(path)
            continue
        if not stat.S_ISREG(info.st_mode):  # a folder, a device, ...
            problems['missing'].append(path)
            continue
        size = info.st_size
        if size == 0:
            problems['empty'].append(path)
            continue
        present.append(path)
        total_bytes += size
    if (len(present) <= DECODE_AT_MOST
            and total_bytes <= DECODE_AT_MOST_BYTES):
        problems['undecodable'] = [p for p in present if not _decodes(p)]
    return problems


def check_image_files(paths: List[str], where: str, advice: str) -> None:
    """Raise, naming the files, if any of ``paths`` (the images ``where``
    lists, e.g. ``'train_dataloader.dataset (annotation file X)'``) is
    missing (FileNotFoundError), empty or cannot be decoded
    (ImageFileError); the message ends with ``advice``."""
    problems = unreadable_images(paths)
    if not any(problems.values()):
        return
    lines = []
    for kind, one, several in (
            ('missing', 'does not exist (as a file)',
             'do not exist (as files)'),
            ('empty', 'is empty (0 bytes)', 'are empty (0 bytes)'),
            ('undecodable', 'cannot be decoded as an image',
             'cannot be decoded as images')):
        found = problems[kind]
        if found:
            text = one if len(found) == 1 else several
            if kind == 'undecodable':
                text += ' (damaged, cut off or not an image)'
            lines.append(f'  - {len(found)} {text}: {_listing(found)}')
    count = sum(len(found) for found in problems.values())
    message = (f'{count} of the {len(set(paths))} image files that {where} '
               'lists cannot be read; the run would stop when the data '
               'loader reached the first of them:\n' +
               '\n'.join(lines) + f'\n{advice}')
    if problems['empty'] or problems['undecodable']:
        raise ImageFileError(message)
    raise FileNotFoundError(message)
