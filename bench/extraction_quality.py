#!/usr/bin/env python3
"""Main-content extraction quality: Winnow vs trafilatura on the extraction-dev pages.

Scores word-token precision / recall / F1 of each extractor's text against the text of the page's
expected.html (Mozilla Readability's article), and prints a per-page table and the macro averages.

  python3 bench/extraction_quality.py --winnow build/services/winnow [--data DIR] [--time]

Both sides are tokenised the same way: lower-cased Unicode word runs (Python's \\w+), compared as
bags of words (a token counts as matched at most as often as it occurs on both sides).
`--winnow` is any program that prints the main text of `PROG extract FILE.html [--url URL]`.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

import lxml.html

TOKEN_RE = re.compile(r"\w+")
BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "td", "th", "table", "h1", "h2",
    "h3", "h4", "h5", "h6", "pre", "blockquote", "section", "article", "header", "footer",
    "figure", "figcaption", "hr", "main", "aside", "nav", "caption", "address",
}


def tokens(text):
    return TOKEN_RE.findall(text.lower())


def html_text(html):
    """Visible text of an HTML fragment, with a line break around every block element."""
    if not html.strip():
        return ""
    root = lxml.html.fromstring(html)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("script", "style"):
            el.text = ""
        if el.tag in BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    return root.text_content()


def prf(got, want):
    """Bag-of-words precision, recall, F1 of token lists `got` against `want`."""
    if not got and not want:
        return 1.0, 1.0, 1.0
    if not got or not want:
        return 0.0, 0.0, 0.0
    common = sum((collections.Counter(got) & collections.Counter(want)).values())
    p = common / len(got)
    r = common / len(want)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def page_url(page_dir):
    """The page's URL when the metadata has one; the tests pages use a fixed base otherwise."""
    return "http://fakehost/test/page.html"


def run_winnow(binary, path, url):
    out = subprocess.run([binary, "extract", path, "--url", url], capture_output=True, check=False)
    if out.returncode != 0:
        return ""
    return out.stdout.decode("utf-8", errors="replace")


def run_trafilatura(html, url):
    import trafilatura
    text = trafilatura.extract(html, url=url, favor_precision=True, include_comments=False,
                               deduplicate=True)
    return text or ""


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--winnow", default=os.path.join(here, "..", "build", "services", "winnow"),
                        help="winnow binary (or any program with the `extract FILE` contract)")
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data",
                                                       "extraction-dev"),
                        help="folder of <page>/source.html + expected.html")
    parser.add_argument("--no-trafilatura", action="store_true", help="score Winnow only")
    parser.add_argument("--time", action="store_true", help="also report pages/s of both")
    parser.add_argument("--json", help="write per-page scores here")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst Winnow pages")
    args = parser.parse_args()

    pages = sorted(d for d in os.listdir(args.data)
                   if os.path.isfile(os.path.join(args.data, d, "source.html")))
    rows = []
    t_winnow = t_traf = 0.0
    for name in pages:
        folder = os.path.join(args.data, name)
        src_path = os.path.join(folder, "source.html")
        with open(src_path, encoding="utf-8", errors="replace") as f:
            html = f.read()
        with open(os.path.join(folder, "expected.html"), encoding="utf-8", errors="replace") as f:
            want = tokens(html_text(f.read()))
        url = page_url(folder)
        t0 = time.perf_counter()
        got_w = tokens(run_winnow(args.winnow, src_path, url))
        t_winnow += time.perf_counter() - t0
        row = {"page": name, "expected_tokens": len(want), "winnow": prf(got_w, want)}
        if not args.no_trafilatura:
            t0 = time.perf_counter()
            text_t = run_trafilatura(html, url)
            t_traf += time.perf_counter() - t0
            row["trafilatura"] = prf(tokens(text_t), want)
        rows.append(row)

    systems = ["winnow"] + ([] if args.no_trafilatura else ["trafilatura"])
    header = f"{'page':40s} " + " ".join(f"{s[:8]:>8s}_P {s[:8]:>8s}_R {s[:8]:>8s}_F"
                                         for s in systems)
    print(header)
    for row in rows:
        cells = " ".join(f"{row[s][0]:10.3f} {row[s][1]:10.3f} {row[s][2]:10.3f}" for s in systems)
        print(f"{row['page'][:40]:40s} {cells}")
    print()
    n = len(rows)
    for s in systems:
        p = sum(r[s][0] for r in rows) / n
        rc = sum(r[s][1] for r in rows) / n
        f = sum(r[s][2] for r in rows) / n
        print(f"{s:12s} pages={n} mean_precision={p:.4f} mean_recall={rc:.4f} mean_F1={f:.4f}")
    if not args.no_trafilatura:
        wins = sum(1 for r in rows if r["winnow"][2] > r["trafilatura"][2] + 1e-9)
        losses = sum(1 for r in rows if r["winnow"][2] < r["trafilatura"][2] - 1e-9)
        print(f"winnow better on {wins} pages, worse on {losses}")
    if args.time:
        print(f"winnow      {n / t_winnow:8.1f} pages/s (one process per page, spawn included)")
        if not args.no_trafilatura:
            print(f"trafilatura {n / t_traf:8.1f} pages/s (in-process, one core)")
    if args.worst:
        print()
        for r in sorted(rows, key=lambda r: r["winnow"][2])[:args.worst]:
            extra = f" traf_F={r['trafilatura'][2]:.3f}" if "trafilatura" in r else ""
            print(f"worst {r['page']:40s} P={r['winnow'][0]:.3f} R={r['winnow'][1]:.3f} "
                  f"F={r['winnow'][2]:.3f}{extra}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
