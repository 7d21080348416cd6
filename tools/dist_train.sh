#!/usr/bin/env bash
# tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT from the environment (see torchrun.sh).
# Without CUDA, GPUS processes train on the CPU with gloo (msvit_mm.engine.launcher).
exec bash "$(dirname "$0")/torchrun.sh" "$2" "$(dirname "$0")/train.py" "$1" "${@:3}"
