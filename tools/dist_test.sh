#!/usr/bin/env bash
# Evaluate a checkpoint on several GPUs (or CPU processes) with torchrun.
#
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES_PER_NODE [test.py options]
#
# Environment variables (defaults in brackets):
#   NNODES [1]  NODE_RANK [0]  PORT [29500]  MASTER_ADDR [127.0.0.1]
#   PYTHON [python]  the interpreter (e.g. .venv/bin/python)
# Without GPUs add: --cfg-options env_cfg.dist_cfg.backend=gloo
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "Usage: $0 CONFIG CHECKPOINT NUM_PROCESSES_PER_NODE [test.py options]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$TOOLS_DIR/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
