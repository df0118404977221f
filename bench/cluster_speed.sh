#!/usr/bin/env bash
# Cluster throughput and coordinator overhead, side by side with the embedded run, on loopback.
#
#   bench/cluster_speed.sh [PARTS] [MEGABYTES_PER_PART]      (defaults: 8 parts of 40 MB of HTML)
#
# 1. Throughput: PARTS .warc.gz files of real pages (bench/make_corpus.py) served over HTTP by
#    tests/tools/http_server.py; a coordinator and 1, 2, 4 workers (1 page thread each) run the
#    default pipeline (filters + dedup) via `winnow submit --wait`; the same URLs through
#    `winnow run --threads 1|2` for reference.
# 2. Overhead: 200 tiny inputs (a 3 KB WET file under 200 names) through 1 worker vs `winnow run`:
#    the difference per input is what the coordinator, leases and result streams cost per task.
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=${1:-8}
MB=${2:-40}
W=build/services/winnow
OUT=bench/out/cluster
mkdir -p "$OUT/parts" "$OUT/tiny"
for i in $(seq 1 "$PARTS"); do
  f="$OUT/parts/part-$i.warc.gz"
  [ -s "$f" ] || python3 bench/make_corpus.py --out "$f" --megabytes "$MB" >/dev/null
done
wet=../shared/data/commoncrawl/CC-MAIN-2024-22-whirlwind.warc.wet.gz
for i in $(seq -w 1 200); do ln -sf "$(realpath $wet)" "$OUT/tiny/tiny-$i.warc.wet.gz"; done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

serve() {  # serve DIR -> sets PORT
  python3 tests/tools/http_server.py "$1" >"$OUT/http.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q port "$OUT/http.log" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/port/ {print $2}' "$OUT/http.log")
}

coordinator() {  # coordinator DATA_DIR -> sets GRPC
  rm -rf "$1"
  $W serve coordinator --data-dir "$1" --grpc 127.0.0.1:0 >"$OUT/coordinator.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "gRPC on" "$OUT/coordinator.log" 2>/dev/null && break; sleep 0.1; done
  GRPC=$(grep -o '127.0.0.1:[0-9]*' "$OUT/coordinator.log" | head -1)
}

now() { date +%s.%N; }

cluster_run() {  # cluster_run WORKERS URLS... -> prints seconds
  local n=$1; shift
  coordinator "$OUT/data-cluster"
  local wp=()
  for i in $(seq 1 "$n"); do
    $W serve worker --coordinator "$GRPC" --threads 1 --name "w$i" >"$OUT/worker-$i.log" 2>&1 &
    wp+=($!)
  done
  sleep 1  # workers load the language model
  local t0=$(now)
  $W submit --coordinator "$GRPC" --wait "$@" >/dev/null 2>"$OUT/submit.log"
  local t1=$(now)
  kill "${wp[@]}" "${pids[-1]}" 2>/dev/null || true
  wait "${wp[@]}" 2>/dev/null || true
  echo "$t1 - $t0" | bc
}

embedded_run() {  # embedded_run THREADS URLS... -> prints seconds
  local n=$1; shift
  rm -rf "$OUT/data-embedded"
  local t0=$(now)
  $W run -q --threads "$n" --data-dir "$OUT/data-embedded" "$@" >/dev/null
  local t1=$(now)
  echo "$t1 - $t0" | bc
}

serve "$OUT/parts"
urls=()
for f in "$OUT"/parts/*.warc.gz; do urls+=("http://127.0.0.1:$PORT/$(basename "$f")"); done
mb=$(du -cb "$OUT"/parts/*.warc.gz | tail -1 | awk '{printf "%.1f", $1/1e6}')
echo "throughput: $PARTS files, $mb MB compressed, default pipeline"
e1=$(embedded_run 1 "${urls[@]}"); echo "  winnow run --threads 1:  ${e1} s"
e2=$(embedded_run 2 "${urls[@]}"); echo "  winnow run --threads 2:  ${e2} s"
for n in 1 2 4; do
  c=$(cluster_run "$n" "${urls[@]}")
  printf "  cluster, %d worker(s):   %s s  (%.2fx the 1-worker time, %.2fx winnow run -t1)\n" \
    "$n" "$c" "$(echo "${c1:-$c} / $c" | bc -l)" "$(echo "$e1 / $c" | bc -l)"
  [ "$n" = 1 ] && c1=$c
done
kill "${pids[0]}"

serve "$OUT/tiny"
tiny=()
for f in "$OUT"/tiny/*.wet.gz; do tiny+=("http://127.0.0.1:$PORT/$(basename "$f")"); done
echo "overhead: ${#tiny[@]} tiny inputs, 1 worker"
et=$(embedded_run 1 "${tiny[@]}")
ct=$(cluster_run 1 "${tiny[@]}")
printf "  winnow run: %s s (%.1f ms/input); cluster: %s s (%.1f ms/task); overhead %.1f ms/task\n" \
  "$et" "$(echo "$et * 1000 / ${#tiny[@]}" | bc -l)" "$ct" "$(echo "$ct * 1000 / ${#tiny[@]}" | bc -l)" \
  "$(echo "($ct - $et) * 1000 / ${#tiny[@]}" | bc -l)"
