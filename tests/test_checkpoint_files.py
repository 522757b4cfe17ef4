"""What tools/train.py and tools/test.py do with the checkpoints they are
given or find, on a tiny classifier trained in this process (mmengine's
Runner, a second per run):

* an empty, truncated or foreign file given to tools/test.py, to --resume or
  as load_from is an error naming the file, what is wrong and the fix;
* --resume without a path skips partial, truncated and missing checkpoints
  and says so;
* a work dir that holds a run's checkpoints is not trained over without
  --resume or --overwrite;
* tools/test.py refuses a checkpoint that does not fit the model, unless
  --non-strict (which still counts the keys);
* a run resumed from its checkpoint equals the uninterrupted run.

Killed processes (a save interrupted, a run killed after a checkpoint) are
tested on the toy classifier in tests/test_checkpoints.py.
"""
import importlib.util
import pickle
import uuid
from pathlib import Path

import pytest
import torch

from _tiny_runs import write_tiny_config

pytestmark = [pytest.mark.tools, pytest.mark.fast]

REPO_ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    path = REPO_ROOT / 'tools' / f'{name}.py'
    spec = importlib.util.spec_from_file_location(f'mmgc_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('train')


@pytest.fixture(scope='module')
def test_tool():
    return load_tool('test')


@pytest.fixture
def config(tmp_path) -> Path:
    # A name of its own: mmengine shares loggers and visualizers between
    # runs whose experiment names (config name + second) coincide.
    return write_tiny_config(tmp_path / f'tiny_{uuid.uuid4().hex[:8]}.py')


def train(train_tool, config, work_dir, *options):
    train_tool.main([str(config), '--work-dir', str(work_dir), *options])


@pytest.fixture
def trained(train_tool, config, tmp_path) -> Path:
    """A finished 2-epoch run: epoch_2.pth and last_checkpoint."""
    work_dir = tmp_path / 'run'
    train(train_tool, config, work_dir)
    assert (work_dir / 'epoch_2.pth').is_file()
    return work_dir


def bad_files(folder: Path, good: Path):
    """An empty file, the first half of a real checkpoint, a config and a
    pickle that torch.save did not write."""
    folder.mkdir(exist_ok=True)
    empty = folder / 'empty.pth'
    empty.write_bytes(b'')
    truncated = folder / 'truncated.pth'
    data = good.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    text = folder / 'config_not_weights.pth'
    text.write_text("model = dict(type='TinyClassifier')\n")
    pickled = folder / 'pickled.pth'
    pickled.write_bytes(pickle.dumps({'weights': [1.0, 2.0]}))
    return dict(empty=(empty, 'is empty (0 bytes)'),
                truncated=(truncated, 'is truncated or corrupt'),
                text=(text, 'is not a checkpoint written by torch.save'),
                pickle=(pickled, 'is a pickle file, not a checkpoint'))


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'text', 'pickle'])
def test_test_tool_names_a_bad_checkpoint_and_the_fix(
        test_tool, config, trained, tmp_path, kind):
    path, problem = bad_files(tmp_path / 'bad', trained / 'epoch_2.pth')[kind]
    with pytest.raises(Exception) as raised:
        test_tool.main([str(config), str(path), '--work-dir',
                        str(tmp_path / 'test')])
    message = str(raised.value)
    assert f'Checkpoint {path} (given to tools/test.py) {problem}' in message
    fix = ('evaluate the previous checkpoint' if kind in ('empty',
                                                         'truncated') else
           'takes the config first and then a checkpoint')
    assert fix in message


@pytest.mark.parametrize('kind', ['empty', 'truncated', 'text'])
def test_resume_and_load_from_name_a_bad_checkpoint(train_tool, config,
                                                    trained, tmp_path, kind):
    path, problem = bad_files(tmp_path / 'bad', trained / 'epoch_2.pth')[kind]
    with pytest.raises(Exception) as raised:
        train(train_tool, config, tmp_path / 'resumed', '--resume', str(path))
    message = str(raised.value)
    assert f'Checkpoint {path} (given to --resume) {problem}' in message
    if kind != 'text':
        assert ('Delete it and run tools/train.py CONFIG --resume without '
                'a path') in message

    with pytest.raises(Exception) as raised:
        train(train_tool, config, tmp_path / 'loaded', '--cfg-options',
              f'load_from={path}')
    assert f'Checkpoint {path} (given as load_from) {problem}' in str(
        raised.value)


def test_resume_refuses_a_weights_file(train_tool, config, trained,
                                       tmp_path):
    weights = tmp_path / 'weights.pth'
    checkpoint = torch.load(trained / 'epoch_2.pth', weights_only=False)
    torch.save(checkpoint['state_dict'], weights)
    with pytest.raises(Exception, match='holds no training state') as raised:
        train(train_tool, config, tmp_path / 'resumed', '--resume',
              str(weights))
    assert 'load_from=FILE instead of --resume' in str(raised.value)


def test_resume_skips_what_is_incomplete_and_says_so(
        train_tool, config, trained, capsys):
    """As mmengine's CheckpointHook leaves a work dir killed mid-save (the
    newest file truncated, last_checkpoint naming it), plus a partial file
    of AtomicCheckpointHook: --resume takes epoch_2.pth and trains on."""
    good = (trained / 'epoch_2.pth').read_bytes()
    (trained / 'epoch_3.pth').write_bytes(good[:len(good) // 3])
    (trained / 'epoch_4.pth.partial').write_bytes(good[:100])
    (trained / 'last_checkpoint').write_text(str(trained / 'epoch_3.pth'))
    capsys.readouterr()

    train(train_tool, config, trained, '--resume', '--cfg-options',
          'train_cfg.max_epochs=3')
    printed = capsys.readouterr().out
    assert (f'--resume: skipped {trained}/epoch_4.pth.partial: it is '
            'partial: its save never completed.') in printed
    assert (f'--resume: skipped {trained}/epoch_3.pth: it is truncated or '
            'corrupt') in printed
    assert (f'--resume: resuming from {trained}/epoch_2.pth (epoch 2, '
            'iteration 8).') in printed
    resumed = torch.load(trained / 'epoch_3.pth', weights_only=False)
    assert resumed['meta']['epoch'] == 3
    # The partial file of the interrupted save is gone.
    assert not (trained / 'epoch_4.pth.partial').exists()
    assert (trained / 'last_checkpoint').read_text() == str(
        trained / 'epoch_3.pth')


def test_training_over_an_earlier_run_is_refused(train_tool, config,
                                                 trained, capsys):
    before = (trained / 'epoch_2.pth').read_bytes()
    with pytest.raises(FileExistsError) as raised:
        train(train_tool, config, trained)
    message = str(raised.value)
    assert (f'{trained} holds the checkpoints of an earlier run '
            '(epoch_2.pth, last_checkpoint)') in message
    assert 'add --resume' in message and 'another --work-dir' in message
    assert 'add --overwrite' in message
    assert (trained / 'epoch_2.pth').read_bytes() == before

    # --overwrite: the earlier checkpoints go, a new run starts.
    capsys.readouterr()
    train(train_tool, config, trained, '--overwrite', '--cfg-options',
          'train_cfg.max_epochs=1')
    assert ("--overwrite: deleted the earlier run's checkpoints in "
            f'{trained}: epoch_2.pth, last_checkpoint.'
            ) in capsys.readouterr().out
    assert sorted(p.name for p in trained.glob('*.pth')) == ['epoch_1.pth']


def test_test_tool_refuses_a_checkpoint_of_another_model(
        test_tool, config, trained, tmp_path, capsys):
    """The checkpoint of a wider model with a renamed layer: mmengine would
    load what fits, log the rest and evaluate a half-initialised model."""
    checkpoint = torch.load(trained / 'epoch_2.pth', weights_only=False)
    weights = checkpoint['state_dict']
    weights['conv.weight'] = torch.zeros(8, 3, 3, 3)
    weights['classifier.weight'] = weights.pop('fc.weight')
    other = tmp_path / 'other_model.pth'
    torch.save(checkpoint, other)

    with pytest.raises(Exception) as raised:
        test_tool.main([str(config), str(other), '--work-dir',
                        str(tmp_path / 'strict')])
    message = str(raised.value)
    assert f'{other} does not fit the model of {config}' in message
    assert ('1 missing keys (in the model, not in the checkpoint), 1 '
            'unexpected keys (in the checkpoint, not in the model), 1 '
            'size-mismatched keys') in message
    assert 'missing: fc.weight' in message
    assert 'unexpected: classifier.weight' in message
    assert ('size mismatch: conv.weight (checkpoint [8, 3, 3, 3], model '
            '[4, 3, 3, 3])') in message
    assert '--non-strict' in message

    # --non-strict loads what fits, and says how much did not (a config of
    # another name: a run of its own for mmengine).
    again = tmp_path / f'{config.stem}_again.py'
    again.write_text(config.read_text())
    capsys.readouterr()
    test_tool.main([str(again), str(other), '--work-dir',
                    str(tmp_path / 'loose'), '--non-strict'])
    printed = capsys.readouterr().out
    assert 'accuracy: ' in printed
    assert '1 missing keys' in printed and '1 size-mismatched keys' in printed


def test_resumed_run_equals_the_uninterrupted_one(train_tool, config,
                                                  tmp_path):
    """The tiny dataset flips images with torch's global generator, which
    mmengine seeds once; tools/train.py reseeds each epoch from (seed,
    epoch), so epoch 3 after a resume draws what it draws in one go."""
    train(train_tool, config, tmp_path / 'straight', '--cfg-options',
          'train_cfg.max_epochs=3')
    train(train_tool, config, tmp_path / 'resumed')  # epochs 1-2
    train(train_tool, config, tmp_path / 'resumed', '--resume',
          '--cfg-options', 'train_cfg.max_epochs=3')
    straight, resumed = (torch.load(tmp_path / run / 'epoch_3.pth',
                                    weights_only=False)
                         for run in ('straight', 'resumed'))
    for key, value in straight['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][key]), key
    for state, other in zip(straight['optimizer']['state'].values(),
                            resumed['optimizer']['state'].values()):
        assert torch.equal(state['momentum_buffer'], other['momentum_buffer'])
