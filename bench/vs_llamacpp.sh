#!/usr/bin/env bash
# Installs llama-cpp-python from PyPI into bench/.venv (first run builds it: ~15 minutes on two
# cores) and runs the side-by-side CPU benchmark. Arguments go to vs_llamacpp.py; default: both
# test models, 2 threads.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/python -c "import llama_cpp" 2>/dev/null || bench/.venv/bin/pip install -q llama-cpp-python numpy
[ $# -gt 0 ] || set -- models/SmolLM2-135M-Instruct.Q4_1.gguf models/gemma-3-270m-q4_k_m.gguf
exec bench/.venv/bin/python bench/vs_llamacpp.py "$@"
