"""Market-1501 in its standard folder layout.

::

    data_root/
        bounding_box_train/   training images
        query/                query images
        bounding_box_test/    gallery images, with distractors and junk

A file name such as ``0002_c1s1_000451_03.jpg`` holds the person id (0002)
and the camera (c1). Person id -1 marks junk images, which the protocol
ignores everywhere; person id 0 marks distractors, which stay in the gallery
as images that match no query.
"""
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.dataset import BaseDataset

TRAIN_DIR = 'bounding_box_train'
QUERY_DIR = 'query'
GALLERY_DIR = 'bounding_box_test'

JUNK_PID = -1
DISTRACTOR_PID = 0

_NAME_PATTERN = re.compile(r'^(-?\d+)_c(\d+)s\d+_\d+_\d+\.jpg$')


def parse_market1501_name(file_name: str):
    """Return ``(pid, camid)`` of a Market-1501 file name.

    ``camid`` counts from 0 (the file name's ``c1`` is camera 0), as in the
    strong baseline.

    Raises:
        ValueError: if the name does not follow ``PPPP_cCsS_FFFFFF_BB.jpg``.
    """
    match = _NAME_PATTERN.match(file_name)
    if match is None:
        raise ValueError(
            f'{file_name!r} is not a Market-1501 image name; expected '
            "'<pid>_c<camera>s<sequence>_<frame>_<box>.jpg', e.g. "
            "'0002_c1s1_000451_03.jpg'. Move other files out of the folder.")
    pid, camera = int(match.group(1)), int(match.group(2))
    if pid < JUNK_PID:
        raise ValueError(f'{file_name!r}: person id {pid} is negative; '
                         'Market-1501 uses -1 for junk and ids >= 0 '
                         'otherwise.')
    if camera < 1:
        raise ValueError(f'{file_name!r}: cameras are numbered from c1.')
    return pid, camera - 1


class Market1501Dataset(BaseDataset):
    """Market-1501 read from its folders; ids and cameras from file names.

    Args:
        data_root (str): The folder that holds ``bounding_box_train``,
            ``query`` and ``bounding_box_test``.
        split (str): ``'train'`` (training images, ``gt_label`` = person id
            relabelled to 0..N-1 in increasing pid order), ``'test'`` (the
            query images followed by the gallery images, each marked by
            ``is_query``), ``'query'`` or ``'gallery'``.
        pipeline (list): Data transforms.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.

    Every item has ``img_path``, ``pid`` (as in the file name), ``camid``
    (from 0) and ``is_query``. Junk images (pid -1) are dropped from every
    split; distractors (pid 0) are kept in the gallery. After loading,
    ``metainfo['num_ids']`` is the number of distinct identities of the split
    (for ``'train'`` this is the classifier size the model needs).
    """

    SPLITS = ('train', 'test', 'query', 'gallery')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 pipeline: Optional[list] = None,
                 **kwargs):
        if split not in self.SPLITS:
            raise ValueError(f"Market1501Dataset: split={split!r} is not one "
                             f'of {self.SPLITS}.')
        self.split = split
        super().__init__(
            data_root=data_root, pipeline=pipeline or [], **kwargs)

    def _read_folder(self, folder: str, is_query: bool) -> List[dict]:
        path = osp.join(self.data_root, folder)
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'Market-1501 folder {path!r} does not exist. data_root must '
                f'hold {TRAIN_DIR}/, {QUERY_DIR}/ and {GALLERY_DIR}/ (for the '
                'built-in toy dataset run tools/generate_toy_reid.py first).')
        infos = []
        # Sorted so that the item order (and so the relabelling and every
        # seeded sampler) is the same on every machine.
        for name in sorted(_list_jpgs(path)):
            pid, camid = parse_market1501_name(name)
            if pid == JUNK_PID:
                continue
            if pid == DISTRACTOR_PID and folder != GALLERY_DIR:
                raise ValueError(
                    f'{osp.join(path, name)!r} is a distractor (person id 0); '
                    f'distractors belong in {GALLERY_DIR}/ only.')
            infos.append(
                dict(
                    img_path=osp.join(path, name),
                    pid=pid,
                    camid=camid,
                    is_query=is_query))
        if not infos:
            raise ValueError(f'No Market-1501 images found in {path!r}.')
        return infos

    def load_data_list(self) -> List[dict]:
        if self.split == 'train':
            infos = self._read_folder(TRAIN_DIR, is_query=False)
            pid_to_label = {
                pid: label
                for label, pid in enumerate(sorted({i['pid']
                                                    for i in infos}))
            }
            for info in infos:
                info['gt_label'] = pid_to_label[info['pid']]
        else:
            infos = []
            if self.split in ('test', 'query'):
                infos += self._read_folder(QUERY_DIR, is_query=True)
            if self.split in ('test', 'gallery'):
                infos += self._read_folder(GALLERY_DIR, is_query=False)
        self._metainfo['num_ids'] = len({i['pid'] for i in infos})
        return infos


def _list_jpgs(path: str) -> List[str]:
    return [n for n in os.listdir(path) if n.endswith('.jpg')]
