#!/usr/bin/env bash
# Creates ./venv with everything the project needs. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x venv/bin/python ]; then
    "$PYTHON" -m venv venv
fi
PIP="venv/bin/python -m pip"

if ! venv/bin/python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
        # A CUDA machine: the default wheel carries the CUDA runtime.
        $PIP install "torch>=2.4"
    else
        # No GPU: the CPU build (a local wheel on machines that provide one, no CUDA download).
        $PIP install "torch==2.13.0"
    fi
fi

$PIP install -q -r requirements.txt
$PIP install -q --no-deps -e .
venv/bin/python -c "import torch, numba, safetensors, fastapi, uvicorn; print(f'venv ready: torch {torch.__version__}, cuda={torch.cuda.is_available()}')"
