"""tools/setup_env.sh is idempotent: run again on a set-up machine, it reuses
the venv and the installed mmcv and finishes quickly without rebuilding."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_second_setup_run_reuses_everything():
    venv = Path(sys.prefix)
    env = dict(os.environ, MMGC_VENV=str(venv))
    result = subprocess.run(['bash', str(REPO / 'tools' / 'setup_env.sh')],
                            cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'already installed' in out, out
    assert 'building mmcv' not in out
    assert '[setup] ok:' in out and 'mmcv 2.1.0' in out
