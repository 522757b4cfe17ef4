#!/usr/bin/env bash
# Set up mmgc's development environment: a virtual environment in .venv with
# the pinned development stack (torch, mmcv with its compiled ops, mmengine,
# mmdet, mmpretrain, pycocotools, deepspeed) and mmgc. Users who add mmgc to
# their own environment need none of this: see the README.
#
# Usage: tools/setup_env.sh
#
# Idempotent: a second run reuses the venv and the cached mmcv wheel and only
# checks that every package is present (about a minute).
#
# Environment variables:
#   MMGC_VENV        where the venv goes          (default: <repo>/.venv)
#   MMGC_WHEEL_CACHE where the built mmcv is kept (default: ~/.cache/mmgc/wheels)
#   MMGC_BUILD_JOBS  parallel compile jobs        (default: number of CPUs)
#   PYTHON           the Python 3.11 to build the venv from (default: python3)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMGC_VENV:-$REPO_ROOT/.venv}
WHEEL_CACHE=${MMGC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmgc/wheels}
PYTHON=${PYTHON:-python3}

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
MMENGINE_VERSION=0.10.7
MMDET_VERSION=3.3.0
MMPRETRAIN_VERSION=1.2.0
DEEPSPEED_VERSION=0.19.8

STEP="start"
say() { printf '[setup] %s\n' "$*"; }
on_error() {
    local rc=$?
    printf '\n[setup] FAILED during step: %s (exit code %d)\n' "$STEP" "$rc" >&2
    printf '[setup] Fix the problem shown above and run tools/setup_env.sh again;\n' >&2
    printf '[setup] finished steps are skipped. To start over: rm -rf %s\n' "$VENV" >&2
    exit "$rc"
}
trap on_error ERR

STEP="check python"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    say "Python 3.11 is required; '$PYTHON' is $("$PYTHON" --version 2>&1)."
    say "Set PYTHON=/path/to/python3.11 and run again."
    false
fi

STEP="create virtual environment in $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

STEP="install torch $TORCH_VERSION, torchvision $TORCHVISION_VERSION and mmengine $MMENGINE_VERSION"
say "$STEP"
# mmengine with torch: mmcv (next) is compiled against this torch and imports
# mmengine.
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
    "mmengine==$MMENGINE_VERSION" wheel ninja

STEP="install mmcv $MMCV_VERSION with compiled ops"
MMGC_WHEEL_CACHE="$WHEEL_CACHE" bash "$REPO_ROOT/tools/build_mmcv.sh" "$PY" "$MMCV_VERSION"

STEP="install the pinned development stack"
say "$STEP"
# The exact versions this repository is developed and tested with; mmgc's
# own metadata (pyproject.toml) only asks for ranges. setuptools: torch 2.14
# needs >= 77.0.3, and mmengine imports pkg_resources (gone in 81) to resolve
# `mmdet::` configs.
"${PIP[@]}" install -q "mmengine==$MMENGINE_VERSION" "mmdet==$MMDET_VERSION" \
    "mmpretrain==$MMPRETRAIN_VERSION" "setuptools>=77.0.3,<81"

STEP="install mmgc and its dependencies (mmdet, mmpretrain, pycocotools)"
say "$STEP"
"${PIP[@]}" install -q -e "$REPO_ROOT[all]"

STEP="install what the documentation is built with (make docs)"
say "$STEP"
"${PIP[@]}" install -q -r "$REPO_ROOT/docs/requirements.txt"

STEP="install deepspeed $DEEPSPEED_VERSION (the [deepspeed] extra) without compiling its ops"
say "$STEP"
# DS_BUILD_OPS=0: none of DeepSpeed's C++/CUDA ops is compiled at install.
# GC under ZeRO runs in the client optimizer and needs none; DeepSpeed
# compiles an op on first use where a config asks for one (FusedAdam, ...).
DS_BUILD_OPS=0 "${PIP[@]}" install -q "deepspeed==$DEEPSPEED_VERSION"

STEP="verify the stack"
"$PY" - <<'PYEOF'
import deepspeed, mmcv, mmdet, mmengine, mmpretrain, torch, torchvision
import mmcv.ops  # compiled ops
import mmdet.models  # needs the compiled ops
import mmgc
print(f'[setup] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, deepspeed {deepspeed.__version__}, '
      f'mmgc {mmgc.__version__}')
PYEOF
say "done. Activate with: source ${VENV#$REPO_ROOT/}/bin/activate"
