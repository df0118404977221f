#!/usr/bin/env bash
# GPT-2 training throughput on one GPU: Winnow's CUDA back-end vs PyTorch (bf16 autocast,
# torch.compile, flash attention), same model, batch and sequence length, side by side.
#   bench/gpu_speed.sh [BATCH] [SEQ] [STEPS] [MODEL]        (defaults 16 1024 20 gpt2-124m)
# Needs: a build with nvcc (BUILD_DIR, default build/, target gpt_cuda_bench), a Hopper GPU, and
# for the baseline python3 with torch (not installed by this script). Results: bench/out/gpu_*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-16}
seq=${2:-1024}
steps=${3:-20}
model=${4:-gpt2-124m}
build=${BUILD_DIR:-build}
mkdir -p bench/out
if [ ! -x "$build/bench/gpt_cuda_bench" ]; then
  echo "no $build/bench/gpt_cuda_bench: build with nvcc present (cmake --build $build --target gpt_cuda_bench)" >&2
  exit 1
fi
echo "== Winnow CUDA back-end: $model, B=$batch T=$seq, $steps timed steps"
"$build/bench/gpt_cuda_bench" --model "$model" --batch "$batch" --seq "$seq" --steps "$steps" \
  | tee bench/out/gpu_winnow.json
echo "== PyTorch baseline (bf16 autocast, torch.compile)"
python3 bench/gpt_torch_bench.py --model "$model" --batch "$batch" --seq "$seq" --steps "$steps" \
  | tee bench/out/gpu_torch.json
python3 - <<'PY'
import json
ours = json.load(open("bench/out/gpu_winnow.json"))
torch = json.load(open("bench/out/gpu_torch.json"))
for r in (ours, torch):
    if "skipped" in r:
        print(f"{r['backend']}: skipped ({r['skipped']})")
if "skipped" not in ours and "skipped" not in torch:
    print(f"winnow {ours['tokens_per_s']:,.0f} tok/s (mfu {ours['mfu']:.1%}) vs "
          f"{torch['backend']} {torch['tokens_per_s']:,.0f} tok/s (mfu {torch['mfu']:.1%}): "
          f"ratio {ours['tokens_per_s'] / torch['tokens_per_s']:.2f}")
PY
