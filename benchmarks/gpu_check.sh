#!/usr/bin/env bash
# The GPU checks, as one script for a CUDA machine with PyTorch installed (python3):
#   1. benchmarks/lm.py gpu: GPT-2 124M training tokens/s and MFU, generation against HF,
#      CausalLM on Tiny Shakespeare (writes the lm-gpu section of RESULTS.md);
#   2. the test suite with device="auto" resolving to cuda (bf16 autocast).
# Each part has its own time limit, so one failure does not cost the others.
# Usage: OUT=/tmp/gpu bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, sys; print(sys.version, torch.__version__, torch.version.cuda)" \
  | tee -a "$OUT/gpu.txt"
timeout "${BENCH_LIMIT:-330}" python3 benchmarks/lm.py gpu --gpu-json "$OUT/lm_gpu.json" \
  2>&1 | tee "$OUT/lm_gpu.log"
echo "lm.py gpu exit: ${PIPESTATUS[0]}"
cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
timeout "${TEST_LIMIT:-170}" python3 -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-8}" \
  --timeout 150 -ra tests > "$OUT/pytest.log" 2>&1
echo "pytest exit: $?"
tail -60 "$OUT/pytest.log"
