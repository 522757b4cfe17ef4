"""The benchmark scripts run in their quick mode and print their tables.
(No timing is asserted: figures come from full runs, see the README.)"""
import subprocess
import sys
from pathlib import Path

import pytest

# benchmark_optimizers.py builds torchvision's ResNet-18, benchmark_training.py
# mmdet's Faster R-CNN.
pytestmark = [pytest.mark.tools, pytest.mark.detection]

REPO = Path(__file__).resolve().parents[1]


def run_tool(*args):
    result = subprocess.run([sys.executable, *args], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_benchmark_optimizers_quick_prints_ratios():
    out = run_tool('tools/benchmark_optimizers.py', '--quick')
    assert 'ResNet-18: 62 tensors, 11.7M parameters' in out
    assert 'mmgc/torch' in out and 'loop/mmgc' in out
    rows = [line for line in out.splitlines()
            if line.startswith('ResNet-18 ')]
    names = {line.split()[1] for line in rows}
    assert {'SGD_GC', 'SGD_GCC', 'Adam_GC', 'GCAdamW'} <= names
    for line in rows:
        step_ratio, memory_ratio = line.split()[6], line.split()[-1]
        assert float(step_ratio) > 0 and float(memory_ratio) > 0


def test_benchmark_training_quick_prints_overhead():
    out = run_tool('tools/benchmark_training.py', '--quick')
    assert 'SGD_GC' in out
    assert 'GC overhead per iteration:' in out
