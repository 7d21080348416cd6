#!/usr/bin/env bash
# tools/torchrun.sh NPROC SCRIPT [args...]: run SCRIPT under torchrun, as dist_train.sh and
# dist_test.sh do. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT from the environment.
# PYTHON: the interpreter (default: the repository's .venv if present, else python).
# train.py and test.py wrap main() in torch's @record: when one rank fails, torchrun's closing
# summary ('Root Cause (first observed failure)') shows that rank's traceback, not another
# rank's 'Connection closed by peer'.
NPROC=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
REPO="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$REPO":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}" --launcher pytorch
