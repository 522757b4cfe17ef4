#!/usr/bin/env bash
# Set up mmgc's development environment: a virtual environment in .venv with
# torch, mmcv (with its compiled ops), mmdet, mmpretrain, pycocotools and mmgc.
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
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMGC_VENV:-$REPO_ROOT/.venv}
WHEEL_CACHE=${MMGC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmgc/wheels}
PYTHON=${PYTHON:-python3}

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

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

STEP="install torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION"
say "$STEP"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" wheel ninja

STEP="install mmcv $MMCV_VERSION with compiled ops"
mmcv_ops_ok() {
    "$PY" - "$MMCV_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails without the compiled ops)
from mmcv.utils import ext_loader
ext_loader.load_ext('_ext', ['nms'])
sys.exit(mmcv.__version__ != sys.argv[1])
PYEOF
}
if mmcv_ops_ok; then
    say "mmcv $MMCV_VERSION with compiled ops already installed"
else
    TAG=$("$PY" -c "import sys, torch; print(f'torch{torch.__version__.split(\"+\")[0]}-py{sys.version_info[0]}{sys.version_info[1]}-' + ('cuda' if torch.cuda.is_available() else 'cpu'))")
    CACHE_DIR="$WHEEL_CACHE/mmcv-$MMCV_VERSION-$TAG"
    WHEEL=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$WHEEL" ]; then
        JOBS=${MMGC_BUILD_JOBS:-$(nproc)}
        say "WARNING: no cached mmcv wheel for $TAG; building mmcv $MMCV_VERSION from source."
        say "This is a one-time build of the compiled ops; it takes about 10-15 minutes on 2 cores."
        BUILD_DIR=$(mktemp -d)
        # mmcv 2.1.0's setup.py imports pkg_resources, which setuptools >= 70 no
        # longer guarantees; torch wants a newer setuptools at run time, so the
        # old one is only used for the build and replaced right after it.
        STEP="install the build tools for mmcv (setuptools<70)"
        # (pip warns that torch wants a newer one; that is expected here.)
        "${PIP[@]}" install -q "setuptools<70" >"$BUILD_DIR/setuptools.log" 2>&1 \
            || { cat "$BUILD_DIR/setuptools.log" >&2; false; }
        "$PY" -c "import pkg_resources"
        STEP="download mmcv $MMCV_VERSION source"
        "${PIP[@]}" download -q --no-deps --no-binary mmcv --no-build-isolation \
            "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
        tar -xzf "$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD_DIR"
        SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
        # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes older standards.
        sed -i -e 's/c++14/c++20/g' -e 's/c++17/c++20/g' "$SRC/setup.py"
        STEP="build mmcv $MMCV_VERSION wheel (log: $BUILD_DIR/build.log)"
        say "$STEP"
        (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" \
            "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$BUILD_DIR/dist" . \
            >"$BUILD_DIR/build.log" 2>&1) || { tail -n 40 "$BUILD_DIR/build.log" >&2; false; }
        STEP="restore setuptools for torch"
        "${PIP[@]}" install -q "setuptools>=77.0.3,<81"
        mkdir -p "$CACHE_DIR"
        cp "$BUILD_DIR"/dist/mmcv-*.whl "$CACHE_DIR/"
        WHEEL=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
        rm -rf "$BUILD_DIR"
        say "cached $WHEEL"
    else
        say "using cached mmcv wheel $WHEEL"
    fi
    STEP="install mmcv wheel $WHEEL"
    "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
    # mmcv's own run-time requirements (its wheel was installed without them).
    "${PIP[@]}" install -q addict "mmengine==0.10.7" numpy opencv-python packaging Pillow pyyaml yapf
    mmcv_ops_ok || { say "mmcv installed but its compiled ops do not load"; false; }
fi

STEP="install mmgc and its dependencies (mmdet, mmpretrain, pycocotools)"
say "$STEP"
"${PIP[@]}" install -q -e "$REPO_ROOT[all]"

STEP="verify the stack"
"$PY" - <<'PYEOF'
import mmcv, mmdet, mmengine, mmpretrain, torch, torchvision
import mmcv.ops  # compiled ops
import mmdet.models  # needs the compiled ops
import mmgc
print(f'[setup] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, mmgc {mmgc.__version__}')
PYEOF
say "done. Activate with: source ${VENV#$REPO_ROOT/}/bin/activate"
