#!/usr/bin/env python3
"""Times trafilatura (FineWeb's settings) on the first N pages of the benchmark corpus, one core.

    python3 bench/trafilatura_speed.py bench/out/corpus.warc.gz --records 300
"""
import argparse
import json
import time

import trafilatura
from warcio.archiveiterator import ArchiveIterator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--records", type=int, default=300)
    args = ap.parse_args()
    pages = []
    with open(args.corpus, "rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                pages.append(rec.content_stream().read().decode("utf-8", errors="replace"))
                if len(pages) >= args.records:
                    break
    html_bytes = sum(len(p.encode("utf-8")) for p in pages)
    t0 = time.perf_counter()
    text_bytes = 0
    for page in pages:
        # As FineWeb ran it: favour precision, no comments, deduplicate.
        text = trafilatura.extract(page, favor_precision=True, include_comments=False,
                                   deduplicate=True)
        text_bytes += len(text or "")
    seconds = time.perf_counter() - t0
    print(json.dumps({"extract": {"seconds": round(seconds, 3), "count": len(pages),
                                  "per_s": round(len(pages) / seconds, 2),
                                  "mb_per_s": round(html_bytes / 1e6 / seconds, 2)},
                      "html_mb": round(html_bytes / 1e6, 1), "text_mb": round(text_bytes / 1e6, 2)}))


if __name__ == "__main__":
    main()
