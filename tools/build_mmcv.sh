#!/usr/bin/env bash
# Build (once) and install mmcv with its compiled ops into a Python
# environment that already has torch.
#
# Usage: tools/build_mmcv.sh PYTHON [MMCV_VERSION]
#
# mmcv 2.x is on PyPI only as source; its ops are compiled against the
# installed torch. The wheel is cached per (mmcv, torch, Python, cpu|cuda) in
# MMGC_WHEEL_CACHE (default ~/.cache/mmgc/wheels), so each combination is
# built once per machine (10-20 minutes on 2 cores).
#
# Environment variables:
#   MMGC_WHEEL_CACHE where built wheels are kept
#   MMGC_BUILD_JOBS  parallel compile jobs (default: number of CPUs)
set -euo pipefail

PY=${1:?usage: tools/build_mmcv.sh PYTHON [MMCV_VERSION]}
MMCV_VERSION=${2:-2.1.0}
WHEEL_CACHE=${MMGC_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmgc/wheels}
PIP=("$PY" -m pip --disable-pip-version-check)

say() { printf '[build_mmcv] %s\n' "$*"; }

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
    exit 0
fi
if ! "$PY" -c 'import torch, mmengine' 2>/dev/null; then
    say "install torch and mmengine into $PY first: mmcv is compiled against"
    say "that torch and imports mmengine"
    exit 1
fi

TAG=$("$PY" -c "import sys, torch; print(f'torch{torch.__version__.split(\"+\")[0]}-py{sys.version_info[0]}{sys.version_info[1]}-' + ('cuda' if torch.cuda.is_available() else 'cpu'))")
CACHE_DIR="$WHEEL_CACHE/mmcv-$MMCV_VERSION-$TAG"
WHEEL=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$WHEEL" ]; then
    JOBS=${MMGC_BUILD_JOBS:-$(nproc)}
    BUILD_DIR=$(mktemp -d)
    say "no cached mmcv $MMCV_VERSION wheel for $TAG: building mmcv $MMCV_VERSION from source"
    say "(a one-time build of the compiled ops, 10-20 minutes on 2 cores; log: $BUILD_DIR/build.log)"
    # mmcv's setup.py imports pkg_resources, which setuptools >= 70 no longer
    # guarantees: the build uses an older setuptools, restored right after.
    SETUPTOOLS_BEFORE=$("$PY" -c 'import setuptools; print(setuptools.__version__)' 2>/dev/null || echo "")
    "${PIP[@]}" install -q "setuptools<70" wheel ninja >"$BUILD_DIR/tools.log" 2>&1 \
        || { cat "$BUILD_DIR/tools.log" >&2; exit 1; }
    "${PIP[@]}" download -q --no-deps --no-binary mmcv --no-build-isolation \
        "mmcv==$MMCV_VERSION" -d "$BUILD_DIR"
    tar -xzf "$BUILD_DIR/mmcv-$MMCV_VERSION.tar.gz" -C "$BUILD_DIR"
    SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers require C++20; mmcv hard-codes older standards.
    if "$PY" -c 'import sys, torch; v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(v < (2, 10))'; then
        sed -i -e 's/c++14/c++20/g' -e 's/c++17/c++20/g' "$SRC/setup.py"
    fi
    (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" \
        "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$BUILD_DIR/dist" . \
        >"$BUILD_DIR/build.log" 2>&1) || { tail -n 40 "$BUILD_DIR/build.log" >&2; exit 1; }
    if [ -n "$SETUPTOOLS_BEFORE" ]; then
        "${PIP[@]}" install -q "setuptools==$SETUPTOOLS_BEFORE"
    fi
    mkdir -p "$CACHE_DIR"
    cp "$BUILD_DIR"/dist/mmcv-*.whl "$CACHE_DIR/"
    WHEEL=$(ls "$CACHE_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n 1)
    rm -rf "$BUILD_DIR"
    say "cached $WHEEL"
else
    say "using cached wheel $WHEEL"
fi
"${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL"
# mmcv's own run-time requirements, except mmengine (the caller chooses it);
# the installed numpy stays (torch < 2.3 does not work with numpy 2).
NUMPY=$("$PY" -c 'import numpy; print("numpy==" + numpy.__version__)' 2>/dev/null || echo numpy)
"${PIP[@]}" install -q addict "$NUMPY" opencv-python packaging Pillow pyyaml yapf
mmcv_ops_ok || { say "mmcv installed but its compiled ops do not load"; exit 1; }
say "mmcv $MMCV_VERSION with compiled ops installed"
