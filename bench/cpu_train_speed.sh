#!/usr/bin/env bash
# The fp32 CPU reference (bench/gpt_cpu_bench.cc) vs PyTorch on the CPU (bench/gpt_torch_bench.py
# --device cpu: Debian's python3-torch, fp32), side by side, the same full training step (forward,
# backward, clipping, AdamW) on random tokens, the same thread count:
#
#   bench/cpu_train_speed.sh [THREADS]      (default: 2)
#
# PyTorch's matmuls go through the system BLAS: with Debian's reference libblas it is ~30× slower,
# so install an optimized one first (apt-get install libopenblas0-pthread); the script warns.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
OUT=bench/out/cpu-train
mkdir -p "$OUT"
if ! update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -q '^Value:.*openblas'; then
  echo "warning: the system BLAS is not OpenBLAS: PyTorch's CPU matmuls will be slow" >&2
fi
run() {  # MODEL BATCH SEQ STEPS WARMUP
  build/bench/gpt_cpu_bench --model "$1" --batch "$2" --seq "$3" --steps "$4" --warmup "$5" \
    --threads "$THREADS" >"$OUT/winnow-$1.json"
  OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/gpt_torch_bench.py \
    --device cpu --threads "$THREADS" --model "$1" --batch "$2" --seq "$3" --steps "$4" \
    --warmup "$5" >"$OUT/torch-$1.json"
  python3 - "$OUT/winnow-$1.json" "$OUT/torch-$1.json" <<'PY'
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
if "skipped" in torch:
    print(f"{ours['model']}: winnow {ours['tokens_per_s']:.0f} tokens/s; torch skipped: {torch['skipped']}")
else:
    print(f"{ours['model']} B={ours['B']} T={ours['T']} ({ours['device']}): winnow "
          f"{ours['tokens_per_s']:.0f} tokens/s, torch {torch['torch']} {torch['tokens_per_s']:.0f} "
          f"tokens/s: {ours['tokens_per_s'] / torch['tokens_per_s']:.2f}x")
PY
}
run tiny 8 64 10 2
run gpt2-124m 4 64 3 1
