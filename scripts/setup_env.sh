#!/usr/bin/env bash
# Build or complete the Python environment for msvit-mm (idempotent).
#
#   bash scripts/setup_env.sh                 # creates .venv/ from the machine's python3
#   PYTHON=/path/to/python bash scripts/setup_env.sh
#                                             # installs into an existing environment
#                                             # (e.g. a cluster's CUDA env; its torch is kept)
#
# Pins and the reasons for them: README.md ("Installation").
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0              # the registry's pair for torch 2.13.0 (mmpretrain needs it)
SETUPTOOLS="setuptools>=77.0.3,<82"     # mmengine needs pkg_resources (removed in setuptools 82)
MMCV="mmcv==2.1.0"                      # mmseg 1.2.2 asserts mmcv < 2.2
PKGS=("mmengine==0.10.7" "mmsegmentation==1.2.2" "ftfy" "regex" "numpy" "pytest" "matplotlib" "scipy" "scikit-image" "scikit-learn")
# mmpretrain 1.2.0 imports torchvision at import time. It is installed without deps (so it never
# pulls a torch that replaces ours), with its runtime requirements listed here instead.
MMPRETRAIN="mmpretrain==1.2.0"
MMPRETRAIN_DEPS=("einops" "importlib_metadata" "mat4py" "modelindex" "rich")

if [ -n "${PYTHON:-}" ]; then
    PY="$PYTHON"
    OWN_VENV=0
else
    if [ ! -x .venv/bin/python ]; then
        echo "[setup] creating .venv from $(command -v python3)"
        python3 -m venv .venv
    fi
    PY=.venv/bin/python
    OWN_VENV=1
fi
PIP=("$PY" -m pip --disable-pip-version-check)

have() { "$PY" - "$@" <<'PYEOF' 2>/dev/null
import sys
from importlib import metadata
for spec in sys.argv[1:]:
    name, _, ver = spec.partition('==')
    try:
        got = metadata.version(name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if ver and got.split('+')[0] != ver:
        sys.exit(1)
PYEOF
}

setuptools_ok() { "$PY" -c "
import setuptools, sys
v = tuple(int(p) for p in setuptools.__version__.split('.')[:2])
sys.exit(0 if (77, 0) <= v < (82, 0) else 1)" 2>/dev/null; }

# 1. torch + torchvision. In our own venv: the registry's pair (torch 2.13.0 and torchvision
#    0.28.0, both CUDA builds that also run on the CPU). `--isolated` ignores a pip configuration
#    that points at a local CPU-only torch wheel: PyPI's torchvision fails to import beside that
#    wheel ("operator torchvision::nms does not exist"). A user's environment keeps its torch.
isolated_pip() {
    local cert=()
    [ -n "${PIP_CERT:-}" ] && cert=(--cert "$PIP_CERT")
    "$PY" -m pip --isolated --disable-pip-version-check "${cert[@]}" "$@"
}
torch_pair_ok() { "$PY" - "$TORCH_VERSION" "$TORCHVISION_VERSION" <<'PYEOF' 2>/dev/null
import sys
import torch, torchvision
import torchvision.ops  # the compiled operators; fails beside a mismatched torch build
ok = (torch.__version__.split('+')[0] == sys.argv[1]
      and torchvision.__version__.split('+')[0] == sys.argv[2])
sys.exit(0 if ok else 1)
PYEOF
}
if [ "$OWN_VENV" = 1 ]; then
    if ! torch_pair_ok; then
        # a torch of the same version but another build (the CPU wheel) counts as installed:
        # remove it first, or pip keeps it and torchvision cannot load its operators
        "$PY" -c "import torch" 2>/dev/null && isolated_pip uninstall -y torch torchvision
        echo "[setup] installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION (about 4.8 GB)"
        isolated_pip install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "$SETUPTOOLS"
        torch_pair_ok || { echo "[setup] error: torch/torchvision do not load together in $PY" >&2; exit 1; }
    fi
elif ! "$PY" -c "import torch" 2>/dev/null; then
    echo "[setup] error: $PY has no torch. Install the torch $TORCH_VERSION build for your" >&2
    echo "        CUDA first (https://pytorch.org/get-started/locally/), then rerun." >&2
    exit 1
elif ! "$PY" -c "import torchvision.ops" 2>/dev/null; then
    echo "[setup] note: $PY has no working torchvision: segmentation works, the classification" >&2
    echo "        part (mmpretrain) does not, and its tests are skipped. Install the torchvision" >&2
    echo "        built for your torch to use it." >&2
fi

# 2. build tools, then mmcv compiled with ops against the installed torch.
setuptools_ok && have wheel ninja psutil || "${PIP[@]}" install "$SETUPTOOLS" wheel ninja psutil
if ! "$PY" -c "from mmcv.ops import point_sample" 2>/dev/null; then
    echo "[setup] building $MMCV with ops (about 9 minutes on 2 cores; pip caches the wheel)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "${PIP[@]}" install --no-build-isolation "$MMCV" "$SETUPTOOLS"
fi

# 3. the OpenMMLab packages and small deps; the torch pin keeps pip from touching torch.
TORCH_NOW=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
if ! have "mmengine==0.10.7" "mmsegmentation==1.2.2" ftfy regex pytest matplotlib scipy scikit-image scikit-learn; then
    "${PIP[@]}" install "${PKGS[@]}" "torch==$TORCH_NOW" "$SETUPTOOLS"
fi
have "${MMPRETRAIN_DEPS[@]}" || "${PIP[@]}" install "${MMPRETRAIN_DEPS[@]}" "torch==$TORCH_NOW" "$SETUPTOOLS"
have "$MMPRETRAIN" || "${PIP[@]}" install --no-deps "$MMPRETRAIN"
# 4. this package, editable.
have msvit-mm || "${PIP[@]}" install --no-deps --no-build-isolation -e .

# 5. checks: setuptools last (later installs can upgrade it silently), then the mmcv ops.
setuptools_ok || "${PIP[@]}" install "$SETUPTOOLS"
if ! "$PY" -c "from mmcv.ops import point_sample" 2>/dev/null; then
    echo "[setup] error: mmcv is installed without its compiled ops (mmcv._ext)." >&2
    echo "        Fix: $PY -m pip uninstall -y mmcv mmcv-lite && rerun this script" >&2
    echo "        (it builds with MMCV_WITH_OPS=1 and --no-build-isolation)." >&2
    exit 1
fi
"$PY" -c "import msvit_mm, mmseg; print('[setup] ok: msvit_mm', msvit_mm.__version__, '| mmseg', mmseg.__version__)"
