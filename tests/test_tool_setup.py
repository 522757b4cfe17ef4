"""mmgc.engine.tool_setup: the options and config loading tools/train.py and
tools/test.py share, without building a model."""
import os
from pathlib import Path

import pytest

from mmgc.engine.tool_setup import (add_common_arguments, load_config,
                                    parse_tool_args, setup_cpu_distributed,
                                    tool_parser)

pytestmark = [pytest.mark.tools, pytest.mark.fast]


def parser():
    parser = tool_parser('a tool', 'config file')
    add_common_arguments(parser, 'where results go')
    return parser


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / 'toy_sgd.py'
    path.write_text("optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))"
                    '\ntrain_cfg = dict(max_epochs=12)\n')
    return path


def test_work_dir_from_command_line_then_config_then_config_name(
        config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = parse_tool_args(parser(), [str(config)])
    cfg = load_config(args)
    assert cfg.work_dir == os.path.join('./work_dirs', 'toy_sgd')
    assert cfg.launcher == 'none'

    args = parse_tool_args(parser(), [
        str(config), '--cfg-options', 'work_dir=from_options',
        'optim_wrapper.optimizer.lr=0.02'
    ])
    cfg = load_config(args)
    assert cfg.work_dir == 'from_options'
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.02)

    args = parse_tool_args(parser(), [
        str(config), '--work-dir', 'given', '--cfg-options',
        'work_dir=from_options'
    ])
    assert load_config(args).work_dir == 'given'


def test_local_rank_option_only_when_the_launcher_set_none(
        config, monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_tool_args(parser(), [str(config), '--local-rank', '3'])
    assert args.local_rank == 3 and os.environ['LOCAL_RANK'] == '3'
    # torchrun's LOCAL_RANK wins over the option.
    monkeypatch.setenv('LOCAL_RANK', '1')
    parse_tool_args(parser(), [str(config), '--local_rank', '5'])
    assert os.environ['LOCAL_RANK'] == '1'


def test_cpu_distributed_setup_needs_the_pytorch_launcher(config):
    cfg = load_config(parse_tool_args(parser(), [str(config)]))
    setup_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg
    with pytest.raises(SystemExit):
        parse_tool_args(parser(), [str(config), '--launcher', 'torchrun'])


def test_pytorch_launcher_without_cuda_joins_torchrun_itself(
        config, monkeypatch):
    import torch
    for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    cfg = load_config(parse_tool_args(parser(), [
        str(config), '--launcher', 'pytorch', '--cfg-options',
        'env_cfg.dist_cfg.backend=gloo'
    ]))
    if torch.cuda.is_available():
        # mmengine's own launcher does it; nothing to change.
        setup_cpu_distributed(cfg)
        assert 'model_wrapper_cfg' not in cfg
    else:
        with pytest.raises(RuntimeError,
                           match=r"expects the variables torchrun sets.*"
                           r"'RANK', 'WORLD_SIZE'"):
            setup_cpu_distributed(cfg)
