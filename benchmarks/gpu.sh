#!/usr/bin/env bash
# One prepared GPU benchmark for a lent GPU machine (no internet there), under 8 minutes:
#   1. eager, fp16: full-size random-weight SD1.5 (512²) and SDXL (1024²), student vs teacher, plus the student
#      with an unfused rank-64 LoRA (what a LoRA student costs while it shares its base with the teacher);
#   2. torch.compile on the UNet: SD1.5, then SDXL (compiling two SDXL shapes takes minutes; the report is
#      rewritten after every run, so a cut-off run still leaves the finished ones).
#   bash benchmarks/gpu.sh [OUT_DIR]
# Runs from a checkout with torch, diffusers and peft. If diffusers is missing there, carry its wheel:
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
bench() {  # seconds, json name, bench_random arguments...
  local limit=$1 name=$2
  shift 2
  PYTHONUNBUFFERED=1 timeout "$limit" python3 -m studio.engine.bench_random --device cuda --json "$out/$name" "$@" 2>&1 \
    | grep -v -E "deprecat|float32|Casting|pow_by_natural" | tee -a "$out/gpu.log"
}
bench "${GPU_EAGER_TIMEOUT:-150}" gpu-eager.json --modes eager --lora-rank 64 --repeats 5
bench "${GPU_COMPILED_TIMEOUT:-330}" gpu-compiled.json --modes compiled --repeats 3
