"""Before a detection Runner is built: does every head have one output per
class of the data?

mmdet checks nothing of it. A head with fewer classes than the dataset
declares trains and evaluates, exit 0, with the last classes learnt as
background; a head with more (or ``metainfo.classes`` with fewer names than
the head has classes) trains, then evaluation stops with an IndexError
inside CocoMetric, which maps predicted labels to the dataset's category
ids, once the model predicts a label the dataset has no class for. Here
every ``num_classes`` of the model's heads is compared with the number of
classes each dataset of the config declares (``metainfo.classes``, or the
dataset class's ``METAINFO`` when the config sets none), for mmdet's image
detection datasets. Left out: panoptic datasets (their heads count thing
or stuff classes), video datasets and open-vocabulary models (which count
text tokens).
"""
from typing import List, Optional, Sequence, Tuple

# Heads whose num_classes is not the dataset's number of classes: the RPN
# tells objects from background (1), HTC's semantic head predicts stuff
# classes.
_NOT_DATASET_CLASSES = frozenset({'rpn_head', 'semantic_head'})
# Parts of a model that are not heads.
_NOT_HEADS = frozenset({'backbone', 'neck', 'data_preprocessor', 'train_cfg',
                        'test_cfg', 'init_cfg'})


def head_num_classes(model_cfg) -> List[Tuple[str, int]]:
    """(config key, value) of every ``num_classes`` of the model's heads
    that counts the dataset's classes, e.g.
    ``('model.roi_head.bbox_head.num_classes', 80)``; list items are keyed
    as ``--cfg-options`` takes them (``model.roi_head.bbox_head.0...``)."""
    found = []
    if not isinstance(model_cfg, dict) or 'language_model' in model_cfg:
        # Open-vocabulary detectors (GLIP, Grounding DINO) count text
        # tokens, not classes.
        return found

    def walk(value, key: str) -> None:
        if isinstance(value, dict):
            number = value.get('num_classes')
            if isinstance(number, int) and not isinstance(number, bool):
                found.append((f'{key}.num_classes', number))
            for name, inner in value.items():
                if name not in _NOT_DATASET_CLASSES | _NOT_HEADS:
                    walk(inner, f'{key}.{name}')
        elif isinstance(value, (list, tuple)):
            for index, inner in enumerate(value):
                walk(inner, f'{key}.{index}')

    for name, inner in model_cfg.items():
        if name not in _NOT_DATASET_CLASSES | _NOT_HEADS:
            walk(inner, f'model.{name}')
    return found


def _declared_classes(dataset_cfg) -> Tuple[Optional[Sequence[str]], str]:
    """The classes a dataset config declares and where they come from, or
    (None, '') when its class cannot be found or is a panoptic dataset
    (whose heads count its thing classes, other heads its stuff classes)."""
    metainfo = dataset_cfg.get('metainfo') or {}
    dataset_type = dataset_cfg.get('type')
    try:
        from mmdet.datasets import BaseDetDataset
        from mmdet.registry import DATASETS
    except ImportError:  # no mmdet: nothing can build the dataset anyway
        return None, ''
    if isinstance(dataset_type, str):
        dataset_type = DATASETS.get(dataset_type.split('.')[-1])
    # Video (tracking) datasets and others are not an image detector's.
    if not (isinstance(dataset_type, type)
            and issubclass(dataset_type, BaseDetDataset)):
        return None, ''
    defaults = getattr(dataset_type, 'METAINFO', None) or {}
    if 'thing_classes' in defaults or 'thing_classes' in metainfo:
        return None, ''
    if metainfo.get('classes') is not None:
        return tuple(metainfo['classes']), 'metainfo.classes'
    if defaults.get('classes') is None:
        return None, ''
    return tuple(defaults['classes']), (
        f'the {dataset_type.__name__}.METAINFO classes (the config sets no '
        'metainfo.classes)')


def _names(classes: Sequence[str]) -> str:
    shown = ', '.join(str(c) for c in classes[:10])
    return shown + (f' and {len(classes) - 10} more' if len(classes) > 10
                    else '')


def check_head_classes(model_cfg, datasets: List[Tuple[str, dict]]) -> None:
    """Raise ValueError unless every head's ``num_classes`` equals the
    number of classes of each of ``datasets`` ((config key, dataset config)
    pairs, wrappers already followed)."""
    heads = head_num_classes(model_cfg)
    if not heads:
        return
    for where, dataset in datasets:
        classes, source = _declared_classes(dataset)
        if classes is None:
            continue
        wrong = [(key, number) for key, number in heads
                 if number != len(classes)]
        if not wrong:
            continue
        heads_text = ', '.join(f'{key} is {number}' for key, number in wrong)
        if any(number < len(classes) for _, number in wrong):
            effect = ('with fewer, mmdet trains and evaluates without a '
                      'word, the classes beyond them learnt as background')
        else:
            effect = ('with more, evaluation stops with an IndexError inside '
                      'CocoMetric once the model predicts a class the data '
                      'does not have')
        options = ' '.join(f'{key}={len(classes)}' for key, _ in heads)
        numbers = {number for _, number in heads}
        other_fix = (f', or, if the heads are right, set '
                     f'metainfo=dict(classes=(...)) of every dataloader '
                     f'dataset to the {numbers.pop()} class names they are '
                     'for' if len(numbers) == 1 else '')
        raise ValueError(
            f'{heads_text}, but {where} has {len(classes)} classes '
            f'({source}: {_names(classes)}). A head needs one output per '
            f'class of the data; {effect}. Set num_classes of the heads to '
            f'{len(classes)} (--cfg-options {options}){other_fix}.')
