#!/usr/bin/env python3
"""Writes the English pages of SHARED/data/extraction-dev (real articles: news, blogs, wikis) as
one uncompressed WARC of HTTP responses, so `winnow run` can curate them like a crawl.

    python3 tests/tools/pages_warc.py SHARED_DIR OUT.warc

A page is English when its expected-metadata.json says `"lang": "en…"`, or says no language and
its source declares <html lang="en…">. Each record's URL is the page's folder name under
https://extraction-dev.winnow.invalid/. Prints the number of pages written.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
from xss_warc import response_record  # noqa: E402

DATE = "2099-02-01T00:00:00Z"


def english(folder):
    try:
        with open(os.path.join(folder, "expected-metadata.json"), encoding="utf-8") as f:
            lang = (json.load(f).get("lang") or "").lower()
    except (OSError, ValueError):
        lang = ""
    if lang:
        return lang.startswith("en")
    with open(os.path.join(folder, "source.html"), "rb") as f:
        head = f.read(4096).decode("utf-8", "replace")
    return re.search(r"<html[^>]*\blang=[\"']?en", head, re.I) is not None


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root = os.path.join(sys.argv[1], "data", "extraction-dev")
    written = 0
    with open(sys.argv[2], "wb") as out:
        for name in sorted(os.listdir(root)):
            folder = os.path.join(root, name)
            source = os.path.join(folder, "source.html")
            if not os.path.isfile(source) or not english(folder):
                continue
            with open(source, encoding="utf-8", errors="replace") as f:
                text = f.read()
            out.write(response_record(f"https://extraction-dev.winnow.invalid/{name}", DATE, text))
            written += 1
    print(written)


if __name__ == "__main__":
    main()
