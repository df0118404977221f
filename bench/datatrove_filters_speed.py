#!/usr/bin/env python3
"""Times datatrove's filters (the FineWeb recipe) on the parity corpus, one core, each filter alone
over every document, then the chain. Same documents and same output shape as
build/bench/filters_speed_bench.

    python3 bench/datatrove_filters_speed.py tests/filters/testdata/datatrove_golden.jsonl.gz
"""
import gzip
import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from datatrove_parity import SHARED, patch_offline  # noqa: E402


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/filters/testdata/datatrove_golden.jsonl.gz"
    docs = [json.loads(l) for l in gzip.open(path, "rt")]
    docs = [d for d in docs if not d.get("url_only")]
    mb = sum(len(d["text"].encode("utf-8")) for d in docs) / 1e6
    patch_offline()
    from datatrove.data import Document
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter, URLFilter)
    from datatrove.pipeline.formatters import PIIFormatter

    lists = {n: (SHARED / "filters" / f"{n}.txt").read_text().splitlines()
             for n in ("banned_words", "soft_banned_words", "banned_subwords")}
    pii = PIIFormatter()
    filters = {
        "url": URLFilter(use_integrated_lists=False, **lists).filter,
        "language": LanguageFilter(languages=["en"]).filter,
        "gopher_repetition": GopherRepetitionFilter().filter,
        "gopher_quality": GopherQualityFilter().filter,
        "c4_quality": C4QualityFilter(filter_no_terminal_punct=False).filter,
        "fineweb_quality": FineWebQualityFilter().filter,
        "pii": lambda doc: pii.format(doc.text) is not None,
    }
    # Warm-up: models and tokenizers load on first use.
    for f in filters.values():
        f(Document(text="warm up text for the filters.", id="w", metadata={"url": "https://a.com"}))

    def run(fns, stop_at_drop=True):
        t0 = time.perf_counter()
        for d in docs:
            doc = Document(text=d["text"], id=d["id"], metadata={"url": d["url"]})
            for f in fns:
                r = f(doc)
                if stop_at_drop and (r is False or (isinstance(r, tuple) and not r[0])):
                    break
        return time.perf_counter() - t0

    out = {"documents": len(docs), "text_mb": round(mb, 2)}
    for name, f in filters.items():
        s = run([f])
        out[name] = {"seconds": round(s, 3), "mb_per_s": round(mb / s, 2), "docs_per_s": round(len(docs) / s)}
    s = run([f for n, f in filters.items() if n != "language"], stop_at_drop=False)
    out["all_but_language"] = {"seconds": round(s, 3), "mb_per_s": round(mb / s, 2)}
    s = run(list(filters.values()))
    out["chain"] = {"seconds": round(s, 3), "mb_per_s": round(mb / s, 2), "docs_per_s": round(len(docs) / s)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
