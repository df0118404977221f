#!/usr/bin/env bash
# What running a training as a cluster job costs, side by side with `winnow train` on the same
# documents, on loopback:
#
#   bench/cluster_training.sh [STEPS]        (default 1000)
#
# The English pages of ../shared/data/extraction-dev (tests/tools/pages_warc.py) are curated by a
# coordinator and one worker (default recipe); then `tiny` with a byte-level tokenizer trains for
# STEPS steps (B=8, T=64, 1 thread) twice: `winnow train` on the worker's copy of the documents,
# and `winnow submit --train --wait` (document copy, child process, metrics reports included).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-1000}
W=$PWD/build/services/winnow
OUT=$PWD/bench/out/cluster-training
rm -rf "$OUT" && mkdir -p "$OUT"
python3 tests/tools/pages_warc.py ../shared "$OUT/CC-MAIN-2099-05-pages.warc" >/dev/null
python3 - "$OUT" <<'PY'
import base64, sys
with open(sys.argv[1] + "/bytes.tiktoken", "w") as f:
    for b in range(256):
        f.write(f"{base64.b64encode(bytes([b])).decode()} {b}\n")
open(sys.argv[1] + "/winnow_tokenizer.json", "w").write(
    '{"pattern": "r50k", "specials": {"<|endoftext|>": 256}}')
PY
cat > "$OUT/train.yaml" <<YAML
model: tiny
tokenizer: $OUT/bytes.tiktoken
steps: $STEPS
batch_size: 8
seq_len: 64
lr: 0.003
eval_every: 250
checkpoint_every: 250
threads: 1
YAML

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$W" serve coordinator --data-dir "$OUT/cluster" --grpc 127.0.0.1:0 --allow-root "$OUT" \
  2>"$OUT/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "gRPC on" "$OUT/coordinator.log" && break; sleep 0.1; done
ADDR=$(grep -o "gRPC on 127.0.0.1:[0-9]*" "$OUT/coordinator.log" | cut -d' ' -f3)
"$W" serve worker --coordinator "$ADDR" --threads 1 --work-dir "$OUT/work" 2>"$OUT/worker.log" &
pids+=($!)
"$W" submit --coordinator "$ADDR" "$OUT/CC-MAIN-2099-05-pages.warc" --wait 2>/dev/null >/dev/null

start=$(date +%s.%N)
JOB=$("$W" submit --coordinator "$ADDR" --train "$OUT/train.yaml" --snapshot CC-MAIN-2099-05 \
  --wait 2>/dev/null)
cluster=$(echo "$(date +%s.%N) - $start" | bc)
cp "$OUT/train.yaml" "$OUT/local.yaml"
echo "data_dir: $OUT/work/training/$JOB/data" >>"$OUT/local.yaml"
start=$(date +%s.%N)
"$W" train --config "$OUT/local.yaml" --out "$OUT/local" 2>/dev/null >/dev/null
local=$(echo "$(date +%s.%N) - $start" | bc)
"$W" status --coordinator "$ADDR" "$JOB" --metrics | grep '^{' >"$OUT/cluster-metrics.jsonl"
same=$(python3 - "$OUT" <<'PY'
import json, sys
def losses(path):
    return [(m["step"], m.get("loss"), m.get("val_loss")) for m in map(json.loads, open(path))]
print("identical" if losses(sys.argv[1] + "/cluster-metrics.jsonl") ==
      losses(sys.argv[1] + "/local/metrics.jsonl") else "DIFFERENT")
PY
)
printf "steps %s: winnow train %.2f s, cluster job %.2f s (%.2fx, +%.2f s); losses %s\n" \
  "$STEPS" "$local" "$cluster" "$(echo "$cluster / $local" | bc -l)" \
  "$(echo "$cluster - $local" | bc -l)" "$same"
