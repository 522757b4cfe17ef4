#!/usr/bin/env bash
# Train on several GPUs (or CPU processes) and nodes with torchrun.
#
# Usage: tools/dist_train.sh CONFIG NUM_PROCESSES_PER_NODE [train.py options]
#   e.g. tools/dist_train.sh configs/faster_rcnn/faster-rcnn_r50_fpn_gc_1x_coco.py 8
#
# Multi-node: run on every node with the same MASTER_ADDR/PORT/NNODES and
# that node's NODE_RANK (0 .. NNODES-1).
# Without GPUs add: --cfg-options env_cfg.dist_cfg.backend=gloo
#
# Environment variables (defaults in brackets):
#   NNODES [1]  NODE_RANK [0]  PORT [29500]  MASTER_ADDR [127.0.0.1]
#   PYTHON [python]  the interpreter (e.g. .venv/bin/python)
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "Usage: $0 CONFIG NUM_PROCESSES_PER_NODE [train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
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
    "$TOOLS_DIR/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
