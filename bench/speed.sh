#!/usr/bin/env bash
# Side-by-side speed, one core each: Winnow's stages vs gumbo's bare parse vs trafilatura.
#   bench/speed.sh [RECORDS_FOR_TRAFILATURA]
# Needs: scripts/build.sh done, python3 -m pip install -r bench/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-300}
corpus=bench/out/corpus.warc.gz
[ -f "$corpus" ] || python3 bench/make_corpus.py --out "$corpus" --megabytes 200
echo "== Winnow, whole corpus, 1 thread"
taskset -c 0 build/bench/pipeline_speed_bench "$corpus" | tee bench/out/winnow_full.json
echo "== Winnow, first $records pages, 1 thread"
taskset -c 0 build/bench/pipeline_speed_bench "$corpus" --records "$records" | tee bench/out/winnow_sample.json
echo "== trafilatura (favor_precision, FineWeb settings), first $records pages, 1 thread"
taskset -c 0 python3 bench/trafilatura_speed.py "$corpus" --records "$records" | tee bench/out/trafilatura.json
python3 - <<'PY'
import json
full = json.load(open("bench/out/winnow_full.json"))
sample = json.load(open("bench/out/winnow_sample.json"))
traf = json.load(open("bench/out/trafilatura.json"))
print(f"extraction speed-up over trafilatura (same {traf['extract']['count']} pages): "
      f"{sample['extract']['per_s'] / traf['extract']['per_s']:.1f}x")
print(f"end-to-end (read+decode+extract) vs gumbo bare parse, whole corpus: "
      f"{full['end_to_end']['mb_per_s'] / full['gumbo']['mb_per_s']:.2f}")
print(f"read + inflate + parse: {full['read']['per_s']:.0f} records/s, {full['read']['mb_per_s']:.0f} MB/s")
PY
