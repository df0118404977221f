#!/usr/bin/env python3
"""Golden filter decisions from the reference (datatrove), for tests/filters/datatrove_parity_test.cc.

    python3 -m pip install "datatrove[processing]"
    python3 bench/datatrove_parity.py --winnow build/services/winnow \
        --out tests/filters/testdata/datatrove_golden.jsonl.gz

Documents: the pages `winnow run` extracts from the real Common Crawl files in ../shared/data, the
130 extraction-dev pages as `winnow extract` gives them, and a larger set of real human-written text
(hh-rlhf transcripts, ShareGPT conversations, GSM8K problems, self-instruct tasks); plus every
target URI of the WARC files in ../shared/data as URL-only cases. Each reference filter runs on
each document on its own (not chained), configured as the FineWeb recipe runs it:

- url: URLFilter(use_integrated_lists=False) with the three word lists of ../shared/data/filters
  (the UT1 domain/URL blocklist is not part of the default recipe here);
- language: LanguageFilter(languages=["en"]) with ../shared/data/models/lid.176.ftz;
- gopher_repetition, gopher_quality, fineweb_quality: defaults;
- c4_quality: C4QualityFilter(filter_no_terminal_punct=False), the text after the filter included;
- pii: PIIFormatter defaults, a fresh formatter per document (replacements rotate per document).
"""
import argparse
import functools
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def patch_offline():
    """datatrove fetches the lid model and the public-suffix list on first use: point both at local data."""
    import tldextract
    import datatrove.utils.lid as lid

    lid.cached_asset_path_or_download = lambda *a, **k: str(SHARED / "models" / "lid.176.ftz")
    original = tldextract.TLDExtract
    tldextract.TLDExtract = functools.partial(original, suffix_list_urls=(), cache_dir=None)
    import datatrove.pipeline.filters.url_filter as uf

    uf.TLDExtract = tldextract.TLDExtract


def winnow_docs(winnow):
    docs = []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([winnow, "run", "-q", str(SHARED / "commoncrawl"), "--data-dir", f"{tmp}/d"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([winnow, "export", "--data-dir", f"{tmp}/d", "--format", "jsonl", "--out",
                        f"{tmp}/o"], check=True, stdout=subprocess.DEVNULL)
        for f in sorted(glob.glob(f"{tmp}/o/*.jsonl.gz")):
            for line in gzip.open(f, "rt"):
                r = json.loads(line)
                docs.append({"id": "cc/" + r["id"], "text": r["text"], "url": r["metadata"]["url"]})
    for page in sorted((SHARED / "extraction-dev").iterdir()):
        if not (page / "source.html").is_file():
            continue
        out = subprocess.run([winnow, "extract", str(page / "source.html")], capture_output=True,
                             check=True).stdout.decode("utf-8")
        docs.append({"id": f"dev/{page.name}", "text": out.rstrip("\n"),
                     "url": f"https://example.com/{page.name}"})
    return docs


def human_docs():
    docs = []
    with gzip.open(SHARED / "posttrain" / "hh-rlhf-harmless" / "test.jsonl.gz", "rt") as f:
        for i, line in enumerate(f):
            docs.append({"id": f"hh/{i}", "text": json.loads(line)["chosen"].strip()})
    for i, conv in enumerate(json.load(open(SHARED / "posttrain" / "sharegpt" / "conversations.json"))):
        docs.append({"id": f"sharegpt/{i}", "text": "\n\n".join(t["value"] for t in conv["conversations"])})
    for i, line in enumerate(open(SHARED / "posttrain" / "gsm8k" / "test.jsonl")):
        r = json.loads(line)
        docs.append({"id": f"gsm8k/{i}", "text": r["question"] + "\n" + r["answer"]})
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for i, line in enumerate(open(SHARED / "posttrain" / "self-instruct" / name)):
            docs.append({"id": f"self-instruct/{name}/{i}", "text": json.dumps(json.loads(line), ensure_ascii=False)})
    for d in docs:
        d["url"] = "https://example.com/" + d["id"]
    return docs


def url_docs():
    from warcio.archiveiterator import ArchiveIterator

    urls = set()
    for path in sorted(glob.glob(str(SHARED / "*" / "*.warc*")) + glob.glob(str(SHARED / "*" / "*.arc*"))):
        try:
            with open(path, "rb") as f:
                for rec in ArchiveIterator(f, arc2warc=True):
                    u = rec.rec_headers.get_header("WARC-Target-URI")
                    if u:
                        urls.add(u.strip("<>"))
        except Exception:  # damaged fixtures: the URLs read before the damage are enough
            pass
    # URLs that exercise the word lists: every banned word / soft word / subword inside a URL.
    for name in ("banned_words.txt", "soft_banned_words.txt", "banned_subwords.txt"):
        for w in (SHARED / "filters" / name).read_text().splitlines():
            if w and not w.startswith("#"):
                urls.add(f"https://www.example.com/{w.replace(' ', '-')}/page.html")
                urls.add(f"https://{w.replace(' ', '')}x.example.org/")
    return [{"id": f"url/{i}", "text": "", "url": u, "url_only": True} for i, u in enumerate(sorted(urls))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--winnow", default="build/services/winnow")
    ap.add_argument("--out", default="tests/filters/testdata/datatrove_golden.jsonl.gz")
    args = ap.parse_args()

    patch_offline()
    from datatrove.data import Document
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter, URLFilter)
    from datatrove.pipeline.formatters import PIIFormatter

    lists = {n: (SHARED / "filters" / f"{n}.txt").read_text().splitlines()
             for n in ("banned_words", "soft_banned_words", "banned_subwords")}
    filters = {
        "url": URLFilter(use_integrated_lists=False, **lists),
        "language": LanguageFilter(languages=["en"]),
        "gopher_repetition": GopherRepetitionFilter(),
        "gopher_quality": GopherQualityFilter(),
        "c4_quality": C4QualityFilter(filter_no_terminal_punct=False),
        "fineweb_quality": FineWebQualityFilter(),
    }
    docs = winnow_docs(args.winnow) + human_docs() + url_docs()
    print(f"{len(docs)} documents", file=sys.stderr)
    for d in docs:
        decisions = {}
        names = ["url"] if d.get("url_only") else list(filters) + ["pii"]
        for name in names:
            doc = Document(text=d["text"], id=d["id"], metadata={"url": d["url"]})
            if name == "pii":
                out = list(PIIFormatter().run(iter([doc])))[0]
                decisions[name] = {"kept": True, "reason": None, "text": out.text}
                continue
            result = filters[name].filter(doc)
            kept, reason = (result, None) if isinstance(result, bool) else (result[0], result[1])
            dec = {"kept": bool(kept), "reason": None if kept else reason}
            if name == "c4_quality" and kept:
                dec["text"] = doc.text
            if name == "language":
                dec["language"] = doc.metadata.get("language")
                dec["language_score"] = doc.metadata.get("language_score")
            decisions[name] = dec
        d["decisions"] = decisions
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    for name in list(filters) + ["pii"]:
        n = sum(1 for d in docs if name in d["decisions"])
        kept = sum(1 for d in docs if name in d["decisions"] and d["decisions"][name]["kept"])
        print(f"{name:18s} {n:6d} docs, {kept:6d} kept", file=sys.stderr)


if __name__ == "__main__":
    main()
