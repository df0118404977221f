#!/usr/bin/env bash
# The main job on the default embedded setup: installs dependencies, builds, and runs `winnow run`
# over the real Common Crawl files in ../shared/data/commoncrawl when that folder exists, otherwise
# over the first two WARC files of the newest Common Crawl snapshot, fetched over HTTPS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
data_dir=${WINNOW_DATA_DIR:-winnow-data}
if [ -d ../shared/data/commoncrawl ]; then
  exec build/services/winnow run ../shared/data/commoncrawl --data-dir "$data_dir" --redo "$@"
else
  exec build/services/winnow run --snapshot latest --limit 2 --data-dir "$data_dir" "$@"
fi
