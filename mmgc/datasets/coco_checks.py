"""Before a detection Runner is built: is every COCO annotation file usable?

mmdet reads a COCO annotation file only inside dataset construction, and
what it cannot use it either reports as a bare ``JSONDecodeError`` without
the file name or drops without a word: annotations whose ``category_id``
the file does not declare, annotations of images the file does not list.
An empty ``images`` list, or training data of which mmdet's filter keeps no
image, ends in numpy's ``need at least one array to concatenate``. Here
each file is read once, up front, and every such problem is an error that
names the file, says what is wrong and how to get a good file.

Annotations of categories the file declares but the config's
``metainfo.classes`` leaves out are dropped by design (training on a subset
of the classes); that is logged as a warning with the count. So are boxes
that mmdet's CocoDataset drops for their geometry (outside the image, or
less than a pixel wide or high, or without area), with their ids; when it
would drop every box of the classes, that is an error.
"""
import json
import logging
import re
from collections import Counter
from typing import List, Optional, Sequence, Tuple

from mmengine.logging import print_log

# How many ids or names a message lists before it says "and N more".
_LIST_AT_MOST = 10
_CATEGORY_KEYS = frozenset({'id', 'name'})
_IMAGE_KEYS = frozenset({'id', 'file_name', 'width', 'height'})
_ANNOTATION_KEYS = frozenset({'id', 'image_id', 'category_id', 'bbox',
                              'area'})


class AnnotationFileError(ValueError):
    """An annotation file cannot be used as it is; the message names it, what
    is wrong and where a good one comes from."""


def _listing(values: Sequence) -> str:
    shown = ', '.join(str(v) for v in values[:_LIST_AT_MOST])
    more = len(values) - _LIST_AT_MOST
    return shown + (f' and {more} more' if more > 0 else '')


def _entry_problem(what: str, where: str, index: int, entry,
                   keys) -> Optional[str]:
    """Why entry ``index`` of the list ``where`` lacks what is read of every
    ``what``, or None."""
    missing = sorted(keys - set(entry)) if isinstance(entry, dict) else None
    if missing == []:
        return None
    needed = ', '.join(repr(k) for k in sorted(keys))
    lacks = ('is not a JSON object' if missing is None else 'has no ' +
             ', '.join(repr(k) for k in missing))
    shown = repr(entry)
    shown = shown if len(shown) <= 80 else shown[:77] + '...'
    return (f"has a broken {what}: entry {index} of '{where}' ({shown}) "
            f'{lacks}; every {what} needs {needed}')


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _id_order(value):
    # Ids are integers in COCO; a file may hold others, which go last.
    return (0, value, '') if isinstance(value, int) else (1, 0, str(value))


def _start_of(text: str, length: int = 40) -> str:
    return repr(text[:length])


def _cut_off(text: str, error: json.JSONDecodeError) -> bool:
    """Whether ``text`` reads as the start of a JSON document: brackets or a
    string still open at its end, and the error in its last characters
    (inside a number, a literal or an escape that was cut) or an
    unterminated string."""
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '', text)
    still_open = '"' in outside_strings or (
        outside_strings.count('{') + outside_strings.count('[') >
        outside_strings.count('}') + outside_strings.count(']'))
    return still_open and (error.msg.startswith('Unterminated string')
                           or error.pos >= len(text.rstrip()) - 16)


def read_json_file(path: str, advice: str):
    """The parsed content of the JSON file ``path``.

    Raises:
        AnnotationFileError: the file is empty, not UTF-8, truncated or not
            JSON; the message ends with ``advice``.
    """
    with open(path, 'rb') as f:
        data = f.read()
    if not data.strip():
        raise AnnotationFileError(
            f'Annotation file {path} is empty ({len(data)} bytes). {advice}')
    try:
        # JSON is UTF-8 (RFC 8259); a BOM is refused by json as by mmdet.
        text = data.decode('utf-8')
    except UnicodeDecodeError as error:
        raise AnnotationFileError(
            f'Annotation file {path} is not UTF-8 text (byte '
            f'0x{data[error.start]:02x} at offset {error.start}), so not a '
            f'JSON file: a binary file or a file in another encoding. '
            f'{advice}') from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if _cut_off(text, error):
            raise AnnotationFileError(
                f'Annotation file {path} is truncated: its JSON stops after '
                f'{len(data)} bytes, in the middle of the data ({error.msg}: '
                f'line {error.lineno} column {error.colno}). The file '
                f'was cut off, e.g. by an interrupted download, copy or '
                f'write. {advice}') from None
        what = ('starts with a UTF-8 byte-order mark, which JSON readers '
                'refuse; save it without one'
                if text.startswith('\ufeff') else
                f'is not valid JSON: {error.msg} at line {error.lineno} '
                f'column {error.colno}; it starts with {_start_of(text)}')
        raise AnnotationFileError(
            f'Annotation file {path} {what}. {advice}') from None


def _structure_problem(content, require_annotations: bool) -> Optional[str]:
    """What keeps ``content`` from being a COCO annotation file mmdet can
    read, or None."""
    if not isinstance(content, dict):
        return (f'holds a JSON {type(content).__name__}, not the object of '
                "a COCO annotation file (with 'images', 'annotations' and "
                "'categories')")
    images = content.get('images')
    if not isinstance(images, list):
        return ("has no 'images' list: it is JSON, but not a COCO "
                f'annotation file (its keys: {_listing(sorted(content))})')
    if not images:
        return "has no images: its 'images' list is empty"
    # What pycocotools and mmdet's CocoDataset read of every entry.
    for index, image in enumerate(images):
        problem = _entry_problem('image', 'images', index, image,
                                 _IMAGE_KEYS)
        if problem:
            return problem
    categories = content.get('categories')
    if not isinstance(categories, list) or not categories:
        return ("declares no categories: its 'categories' list is missing "
                'or empty')
    for index, category in enumerate(categories):
        problem = _entry_problem('category', 'categories', index, category,
                                 _CATEGORY_KEYS)
        if problem:
            return problem
    annotations = content.get('annotations')
    if annotations is None and not require_annotations:
        return None  # image information only, as for COCO test-dev
    if not isinstance(annotations, list):
        return ("has no 'annotations' list: a dataset that trains or is "
                'evaluated needs one')
    if not annotations and require_annotations:
        return ("has no annotations: its 'annotations' list is empty, so "
                'there is nothing to train on or evaluate against')
    for index, annotation in enumerate(annotations):
        problem = _entry_problem('annotation', 'annotations', index,
                                 annotation, _ANNOTATION_KEYS)
        if problem:
            return problem
    return _box_problem(annotations)


def _box_problem(annotations) -> Optional[str]:
    """Which annotation has a bbox or area that is not what mmdet reads
    (it unpacks the box as x, y, w, h and compares them and the area with
    numbers), or None."""
    try:  # the fast way, for a file of a million annotations
        for annotation in annotations:
            x, y, w, h = annotation['bbox']
            0.0 + x + y + w + h + annotation['area']
        return None
    except (TypeError, ValueError):
        pass
    for index, annotation in enumerate(annotations):
        bbox, area = annotation['bbox'], annotation['area']
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(_is_number(v) for v in bbox)):
            return (f"has a broken annotation: entry {index} of "
                    f"'annotations' (id {annotation['id']!r}) has bbox "
                    f'{bbox!r}; a bbox is [x, y, width, height], four '
                    'numbers')
        if not _is_number(area):
            return (f"has a broken annotation: entry {index} of "
                    f"'annotations' (id {annotation['id']!r}) has area "
                    f'{area!r}; the area is a number')
    return None


def check_coco_file(path: str, advice: str, require_annotations: bool):
    """Read ``path`` and raise AnnotationFileError unless it is a COCO
    annotation file whose annotations all belong to a listed image and a
    declared category. Returns the content."""
    content = read_json_file(path, advice)
    problem = _structure_problem(content, require_annotations)
    if problem:
        raise AnnotationFileError(
            f'Annotation file {path} {problem}. {advice}')
    annotations = content.get('annotations') or []
    if not annotations:
        return content
    declared = {c['id'] for c in content['categories']}
    undeclared = Counter(a['category_id'] for a in annotations
                         if a['category_id'] not in declared)
    image_ids = {image.get('id') for image in content['images']}
    orphans = Counter(a['image_id'] for a in annotations
                      if a['image_id'] not in image_ids)
    problems = []
    if undeclared:
        ids = sorted(undeclared, key=_id_order)
        problems.append(
            f'{sum(undeclared.values())} of {len(annotations)} annotations '
            f'have a category_id that its categories do not declare: '
            + _listing([f'{i} ({undeclared[i]} annotations)' for i in ids])
            + '. Declared: '
            + _listing([f"{c['id']} ({c['name']})"
                        for c in content['categories']])
            + '. mmdet would drop these annotations without a word; '
            'declare each of these ids in categories (and add its name to '
            'metainfo.classes and num_classes of the model), or correct '
            'or remove the annotations')
    if orphans:
        problems.append(
            f'{sum(orphans.values())} of {len(annotations)} annotations '
            f'belong to image ids that its images do not list: '
            + _listing(sorted(orphans, key=_id_order))
            + '. mmdet would drop these annotations without a word; add '
            'the images or remove the annotations')
    if problems:
        raise AnnotationFileError(
            f'Annotation file {path}: ' + '\n'.join(problems) + f'.\n{advice}')
    return content


def check_coco_classes(path: str, content: dict, classes: Sequence[str],
                       classes_from_config: bool, where: str,
                       filter_cfg: Optional[dict], test_mode: bool) -> None:
    """Compare the config's classes with the categories of one checked
    annotation file (``content``), as mmdet's CocoDataset will use them.

    Raises AnnotationFileError when a class is not among the file's
    categories (its boxes would be dropped and the labels no longer follow
    the class list) or when mmdet's filter would leave no training image;
    logs a warning with the count of annotations of categories the classes
    leave out.

    Args:
        where: The config key of the dataset, e.g.
            ``train_dataloader.dataset``.
        classes_from_config: False when ``classes`` are the dataset class's
            defaults (the config sets no ``metainfo.classes``).
    """
    categories = content['categories']
    names = [c['name'] for c in categories]
    absent = [c for c in classes if c not in names]
    if absent:
        source = (f'{where}.metainfo.classes names' if classes_from_config else
                  f'{where} sets no metainfo.classes, so mmdet uses the '
                  f"dataset class's {len(classes)} default classes, among "
                  'them')
        raise AnnotationFileError(
            f'{source} {len(absent)} class(es) that annotation file {path} '
            f'does not declare: {_listing(absent)}. Its categories: '
            f'{_listing(names)}. mmdet would train on no box of these '
            'classes. Set metainfo=dict(classes=(...)) of every dataloader '
            "dataset to category names of the file (spelled as in its "
            "'categories'), and num_classes of the model heads to their "
            'number.')
    selected = {c['id'] for c in categories if c['name'] in classes}
    annotations = content.get('annotations') or []
    left_out = Counter(a['category_id'] for a in annotations
                       if a['category_id'] not in selected)
    if left_out:
        name_of = {c['id']: c['name'] for c in categories}
        print_log(
            f'{where}: {sum(left_out.values())} of {len(annotations)} '
            f'annotations of {path} are not trained on or evaluated: their '
            f'categories are not in {where}.metainfo.classes: '
            + _listing([f'{name_of[i]!r} (id {i}: {left_out[i]} annotations)'
                        for i in sorted(left_out, key=_id_order)])
            + '. To use them, add these names to metainfo.classes of every '
            'dataloader dataset and raise num_classes of the model heads.',
            logger='current', level=logging.WARNING)
    _check_box_geometry(path, content, selected, classes, where, test_mode)
    filter_cfg = filter_cfg or {}
    if test_mode or not filter_cfg.get('filter_empty_gt', False):
        return
    # mmdet's CocoDataset.filter_data: an image stays if it has an
    # annotation of a selected category and is at least min_size.
    with_boxes = {a['image_id'] for a in annotations
                  if a['category_id'] in selected}
    min_size = filter_cfg.get('min_size', 0) or 0
    kept = [image for image in content['images']
            if image.get('id') in with_boxes
            and min(image.get('width', 0), image.get('height', 0)) >= min_size]
    if not kept:
        raise AnnotationFileError(
            f'No image of annotation file {path} is left for training: '
            f'{where}.filter_cfg (filter_empty_gt=True, min_size={min_size}) '
            f'keeps only images at least {min_size} pixels wide and high '
            f'with an annotation of the classes {_listing(list(classes))}, '
            f'and {len(with_boxes)} of its {len(content["images"])} images '
            f'have such an annotation.')


def _boxes_dropped(content: dict, selected) -> Tuple[int, List, List]:
    """How many annotations of the ``selected`` category ids mmdet's
    CocoDataset reads, and the ids of those it drops for their box: outside
    the image, and of zero or negative size.

    mmdet (``CocoDataset.parse_data_info``) skips an annotation marked
    ``ignore``, and drops one whose box does not overlap its image or whose
    width or height is under 1 or whose area is not positive; the two
    groups here are that rule, split by what a user has to fix.
    """
    sizes = {image['id']: (image['width'], image['height'])
             for image in content['images']}
    used, outside, no_size = 0, [], []
    # One pass, written for files of a million annotations; check_coco_file
    # has made sure that every annotation's image is listed.
    for annotation in content.get('annotations') or []:
        if (annotation['category_id'] not in selected
                or 'ignore' in annotation and annotation['ignore']):
            continue
        used += 1
        x, y, w, h = annotation['bbox']
        if w < 1 or h < 1 or annotation['area'] <= 0:
            no_size.append(annotation['id'])
            continue
        width, height = sizes[annotation['image_id']]
        # No overlap: min(x + w, width) <= max(x, 0), or so for y (written
        # out: a third faster than min and max).
        if ((x + w if x + w < width else width) <= (x if x > 0 else 0)
                or (y + h if y + h < height else height) <= (y if y > 0
                                                             else 0)):
            outside.append(annotation['id'])
    return used, outside, no_size


def _check_box_geometry(path: str, content: dict, selected,
                        classes: Sequence[str], where: str,
                        test_mode: bool) -> None:
    """Warn with the count and ids of the boxes mmdet would drop for their
    geometry; raise AnnotationFileError when it would drop them all."""
    used, outside, no_size = _boxes_dropped(content, selected)
    dropped = len(outside) + len(no_size)
    if not dropped:
        return
    groups = []
    if outside:
        groups.append(f'{len(outside)} lie outside their image (no overlap '
                      f'with its width x height; ids {_listing(outside)})')
    if no_size:
        groups.append(f'{len(no_size)} have a box of zero or negative size '
                      '(width or height under 1 pixel, or area <= 0; ids '
                      f'{_listing(no_size)})')
    what = (f'{dropped} of the {used} annotations of the classes '
            f'{_listing(list(classes))} in {path}')
    fix = ('Correct their bbox ([x, y, width, height] in pixels of the '
           'image) and area, or remove them from the file.')
    if dropped == used:
        raise AnnotationFileError(
            f'{where}: mmdet would drop all {what}, leaving no box to '
            f'{"evaluate" if test_mode else "train"} on: '
            + '; '.join(groups) + f'. {fix}')
    # A CocoMetric with an ann_file reads the file itself, with them.
    effect = ('are missing from the ground truth the dataset gives (a '
              'CocoMetric with an ann_file reads the file itself and still '
              'counts them as objects to find)' if test_mode else
              'are not trained on')
    print_log(
        f'{where}: mmdet drops {what}, so they {effect}: '
        + '; '.join(groups) + f'. {fix}',
        logger='current', level=logging.WARNING)
