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
import pickle
import uuid
from pathlib import Path

import pytest
import torch

from _tiny_runs import write_tiny_config
from _tools import load_tool

pytestmark = [pytest.mark.tools, pytest.mark.fast]

REPO_ROOT = Path(__file__).resolve().parents[1]


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


# ---------------------------------------------------------------------------
# --overwrite touches nothing outside the work dir, and nothing before the
# new run is built


def test_overwrite_in_a_copied_work_dir_leaves_the_original_alone(
        train_tool, config, trained, tmp_path, capsys):
    """A work dir copied from another run: its last_checkpoint names the
    original's epoch_2.pth, which --overwrite must not follow."""
    import shutil
    copy = tmp_path / 'copy'
    shutil.copytree(trained, copy)
    original = (trained / 'epoch_2.pth').read_bytes()
    assert (copy / 'last_checkpoint').read_text() == str(
        trained / 'epoch_2.pth')
    capsys.readouterr()

    train(train_tool, config, copy, '--overwrite', '--cfg-options',
          'train_cfg.max_epochs=1')
    printed = capsys.readouterr().out
    assert ("--overwrite: deleted the earlier run's checkpoints in "
            f'{copy}: epoch_2.pth, last_checkpoint.') in printed
    assert str(trained) not in printed.split('--overwrite:')[1].split('\n')[0]
    assert (trained / 'epoch_2.pth').read_bytes() == original
    assert (trained / 'last_checkpoint').read_text() == str(
        trained / 'epoch_2.pth')
    assert sorted(p.name for p in copy.glob('*.pth')) == ['epoch_1.pth']


@pytest.mark.parametrize('option, error', [
    ('optim_wrapper.optimizer.lr=-0.1', 'lr'),
    ('train_dataloader.dataset.type=NoSuchDataset', 'NoSuchDataset'),
])
def test_overwrite_keeps_the_old_checkpoints_when_the_new_run_fails_to_start(
        train_tool, config, trained, option, error):
    # The checkpoints and the pointer (the new Runner dumps its config
    # over the old one, as a resume does).
    before = {p.name: p.read_bytes() for p in trained.iterdir()
              if p.suffix == '.pth' or p.name == 'last_checkpoint'}
    assert len(before) == 2
    with pytest.raises(Exception, match=error):
        train(train_tool, config, trained, '--overwrite', '--cfg-options',
              option)
    for name, data in before.items():
        assert (trained / name).read_bytes() == data, name


# ---------------------------------------------------------------------------
# --resume continues the run it resumes, or says why not


@pytest.mark.parametrize('optimizer, option, change', [
    ('GCSGD', 'optim_wrapper.optimizer.use_gc=False',
     'optim_wrapper.optimizer.use_gc: not set in the checkpoint, False in '
     'the config'),
    ('SGD_GC', 'optim_wrapper.optimizer.type=SGD',
     "optim_wrapper.optimizer.type: 'SGD_GC' in the checkpoint, 'SGD' in "
     'the config'),
    ('SGD', 'optim_wrapper.paramwise_cfg.use_gc=True '
     'optim_wrapper.constructor=GCOptimWrapperConstructor',
     "optim_wrapper.constructor: not set in the checkpoint, "
     "'GCOptimWrapperConstructor' in the config"),
])
def test_resume_refuses_changed_gc_options(train_tool, tmp_path, optimizer,
                                           option, change):
    """The checkpoint's param groups replace the config's on resume, so the
    change would silently do nothing."""
    config = write_tiny_config(
        tmp_path / f'tiny_{uuid.uuid4().hex[:8]}.py', optimizer=optimizer)
    work_dir = tmp_path / 'run'
    train(train_tool, config, work_dir)
    with pytest.raises(ValueError) as raised:
        train(train_tool, config, work_dir, '--resume', '--cfg-options',
              'train_cfg.max_epochs=3', *option.split())
    message = str(raised.value)
    assert (f'Resuming from {work_dir}/epoch_2.pth: the config changes '
            'what decides GC') in message
    assert change in message
    assert f'load_from={work_dir}/epoch_2.pth' in message
    assert not (work_dir / 'epoch_3.pth').exists()


def test_resume_compares_the_param_groups_without_a_saved_config(
        train_tool, tmp_path):
    """A checkpoint without the config text (written by other code): the
    GC options of its param groups are compared."""
    config = write_tiny_config(
        tmp_path / f'tiny_{uuid.uuid4().hex[:8]}.py', optimizer='GCSGD')
    train(train_tool, config, tmp_path / 'run')
    checkpoint = torch.load(tmp_path / 'run' / 'epoch_2.pth',
                            weights_only=False)
    del checkpoint['meta']['cfg']
    bare = tmp_path / 'bare.pth'
    torch.save(checkpoint, bare)
    with pytest.raises(ValueError) as raised:
        train(train_tool, config, tmp_path / 'resumed', '--resume', str(bare),
              '--cfg-options', 'train_cfg.max_epochs=3',
              'optim_wrapper.optimizer.gc_conv_only=True')
    assert ('the config changes the GC options the run was trained with '
            '(gc_conv_only: False in the checkpoint, True in the config '
            '(param group 0))') in str(raised.value)


def test_resume_names_other_changed_hyperparameters(train_tool, config,
                                                    trained, capsys):
    # A config of another name: mmengine shares the logger of runs whose
    # experiment names (config name + second) coincide.
    again = config.with_name(f'{config.stem}_again.py')
    again.write_text(config.read_text())
    capsys.readouterr()
    train(train_tool, again, trained, '--resume', '--cfg-options',
          'train_cfg.max_epochs=3', 'optim_wrapper.optimizer.momentum=0.5')
    printed = capsys.readouterr().out
    assert ('the config changes momentum: 0.9 in the checkpoint, 0.5 in '
            'the config (param group 0). The checkpoint\'s values are '
            'kept') in printed
    resumed = torch.load(trained / 'epoch_3.pth', weights_only=False)
    assert resumed['optimizer']['param_groups'][0]['momentum'] == 0.9


def test_resume_refuses_a_checkpoint_of_another_model(train_tool, config,
                                                      trained, tmp_path,
                                                      capsys):
    """A checkpoint with a part the model lacks: mmengine would resume,
    print the key and train on; --non-strict accepts it with the counts."""
    checkpoint = torch.load(trained / 'epoch_2.pth', weights_only=False)
    checkpoint['state_dict']['head.extra.weight'] = torch.zeros(3)
    changed = tmp_path / 'changed_model.pth'
    torch.save(checkpoint, changed)

    with pytest.raises(Exception) as raised:
        train(train_tool, config, tmp_path / 'resumed', '--resume',
              str(changed), '--cfg-options', 'train_cfg.max_epochs=3')
    message = str(raised.value)
    assert f'{changed} does not fit the model of {config}' in message
    assert 'unexpected: head.extra.weight' in message
    assert 'add --non-strict' in message
    assert not (tmp_path / 'resumed' / 'epoch_3.pth').exists()

    # A config of another name: a logger of its own (see above).
    again = config.with_name(f'{config.stem}_again.py')
    again.write_text(config.read_text())
    capsys.readouterr()
    train(train_tool, again, tmp_path / 'resumed', '--resume', str(changed),
          '--non-strict', '--cfg-options', 'train_cfg.max_epochs=3')
    assert '1 unexpected keys' in capsys.readouterr().out
    assert (tmp_path / 'resumed' / 'epoch_3.pth').is_file()


def test_non_strict_without_resume_is_refused(train_tool, config, tmp_path):
    with pytest.raises(ValueError, match='--non-strict only applies to a '
                       r'resumed run \(--resume\)'):
        train(train_tool, config, tmp_path / 'new', '--non-strict')


# ---------------------------------------------------------------------------
# Options that cannot take effect are refused before anything trains


def test_gc_options_without_a_constructor_that_reads_them_are_refused(
        train_tool, tmp_path):
    """mmengine's default constructor ignores paramwise_cfg keys it does
    not know: torch's SGD would train without GC."""
    config = write_tiny_config(
        tmp_path / f'tiny_{uuid.uuid4().hex[:8]}.py', optimizer='SGD')
    with pytest.raises(ValueError) as raised:
        train(train_tool, config, tmp_path / 'plain', '--cfg-options',
              'optim_wrapper.paramwise_cfg.use_gc=True')
    message = str(raised.value)
    assert ('optim_wrapper sets paramwise_cfg.use_gc, but its constructor '
            '(DefaultOptimWrapperConstructor) does not read GC options, so '
            'the optimizer (SGD) would train without the GC') in message
    assert "constructor='GCOptimWrapperConstructor'" in message
    assert not (tmp_path / 'plain').exists()

    # With the constructor that reads them, the same options train.
    train(train_tool, config, tmp_path / 'gc', '--cfg-options',
          'optim_wrapper.paramwise_cfg.use_gc=True',
          'optim_wrapper.constructor=GCOptimWrapperConstructor',
          'train_cfg.max_epochs=1')
    assert (tmp_path / 'gc' / 'epoch_1.pth').is_file()


def test_gc_options_in_custom_keys_need_an_optimizer_that_reads_them():
    from mmgc.engine.optim_wrapper_constructor import \
        check_gc_options_have_a_reader
    custom = dict(paramwise_cfg=dict(custom_keys={'fc': dict(use_gc=False)}))
    # mmgc's optimizers read the options mmengine copies into the groups.
    check_gc_options_have_a_reader(
        dict(optimizer=dict(type='GCSGD', lr=0.1), **custom))
    with pytest.raises(ValueError,
                       match=r"paramwise_cfg.custom_keys\['fc'\].use_gc"):
        check_gc_options_have_a_reader(
            dict(optimizer=dict(type='SGD', lr=0.1), **custom))


@pytest.mark.parametrize('option, shown', [
    ('train_cfg.max_epochs=abc', "train_cfg.max_epochs='abc' (the config "
     'has 2 there: give a number)'),
    ('optim_wrapper.optimizer.lr=fast', "optim_wrapper.optimizer.lr='fast' "
     '(the config has 0.1 there: give a number)'),
    ('train_cfg.by_epoch=1', 'train_cfg.by_epoch=1 (the config has True '
     'there: give True or False)'),
])
def test_options_of_the_wrong_type_are_named(train_tool, config, tmp_path,
                                             option, shown):
    with pytest.raises(ValueError) as raised:
        train(train_tool, config, tmp_path / 'run', '--cfg-options', option)
    assert f'--cfg-options: wrong type for {shown}' in str(raised.value)
    assert not (tmp_path / 'run').exists()


def test_a_work_dir_that_is_a_file_is_refused(train_tool, test_tool, config,
                                              trained, tmp_path):
    not_a_folder = tmp_path / 'notes.txt'
    not_a_folder.write_text('a file\n')
    with pytest.raises(NotADirectoryError,
                       match=f'The work dir {not_a_folder} is a file'):
        train(train_tool, config, not_a_folder)
    with pytest.raises(NotADirectoryError,
                       match=f'The work dir {not_a_folder} is a file'):
        test_tool.main([str(config), str(trained / 'epoch_2.pth'),
                        '--work-dir', str(not_a_folder)])
