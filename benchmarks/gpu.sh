#!/usr/bin/env bash
# One prepared GPU benchmark for a lent GPU machine (no internet there): student vs teacher latency on
# full-size random-weight SD1.5 (512²) and SDXL (1024²) in fp16, eager and torch.compile. Under 8 minutes.
#   bash benchmarks/gpu.sh [OUT_DIR]
# Runs from a checkout with torch + diffusers only. If diffusers is missing there, carry its wheel:
#   pip download --no-deps diffusers==0.42.1 importlib_metadata -d .whl
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-bench-out}}"
mkdir -p "$out"
if ! python3 -c "import diffusers" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu-info.txt"
shift || true
PYTHONUNBUFFERED=1 timeout "${GPU_BENCH_TIMEOUT:-480}" python3 -m studio.engine.bench_random --device cuda --json "$out/gpu.json" "$@" 2>&1 \
  | grep -v -E "deprecat|float32|Casting|pow_by_natural" | tee "$out/gpu.log"
