#!/usr/bin/env bash
# Side-by-side filter speed, one core each: Winnow's FineWeb-recipe filters vs datatrove's, on the
# documents of the parity corpus (tests/filters/testdata/datatrove_golden.jsonl.gz).
# Needs: scripts/build.sh done; python3 -m pip install "datatrove[processing]".
set -euo pipefail
cd "$(dirname "$0")/.."
golden=tests/filters/testdata/datatrove_golden.jsonl.gz
mkdir -p bench/out
echo "== Winnow filters, 1 thread"
taskset -c 0 build/bench/filters_speed_bench "$golden" --rounds 3 | tee bench/out/winnow_filters.json
echo "== datatrove filters, 1 thread"
taskset -c 0 python3 bench/datatrove_filters_speed.py "$golden" | tee bench/out/datatrove_filters.json
python3 - <<'PY'
import json
w = json.load(open("bench/out/winnow_filters.json"))
d = json.load(open("bench/out/datatrove_filters.json"))
print(f"{'filter':22s} {'winnow MB/s':>12s} {'datatrove MB/s':>15s} {'speed-up':>9s}")
for k in ["url", "language", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "pii",
          "all_but_language", "chain"]:
    if k in w and k in d:
        print(f"{k:22s} {w[k]['mb_per_s']:12.1f} {d[k]['mb_per_s']:15.2f} {w[k]['mb_per_s'] / d[k]['mb_per_s']:8.1f}x")
PY
