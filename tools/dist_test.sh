#!/usr/bin/env bash
# tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT from the environment (see torchrun.sh).
# Without CUDA, GPUS processes test on the CPU with gloo (msvit_mm.engine.launcher).
exec bash "$(dirname "$0")/torchrun.sh" "$3" "$(dirname "$0")/test.py" "$1" "$2" "${@:4}"
