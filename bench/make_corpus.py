#!/usr/bin/env python3
"""Builds the speed-benchmark corpus: a Common Crawl-style .warc.gz (one gzip member per record)
of real pages, repeated with fresh record ids until it holds at least --megabytes of HTML.

Pages: every source.html of ../shared/data/extraction-dev (real news and blog pages) and every
HTML response record of the real Common Crawl files in ../shared/data/commoncrawl.

    python3 bench/make_corpus.py --out bench/out/corpus.warc.gz --megabytes 200
"""
import argparse
import gzip
import io
import os
import uuid
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def cc_pages():
    """(url, http_block) of every HTML response in the real Common Crawl files."""
    from warcio.archiveiterator import ArchiveIterator  # test-oracle dependency, bench only

    for path in sorted((SHARED / "commoncrawl").glob("*.warc*")):
        if path.name.endswith((".wat", ".wet", ".wat.gz", ".wet.gz")):
            continue
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type != "response":
                    continue
                ctype = rec.http_headers.get_header("Content-Type", "") if rec.http_headers else ""
                if "html" not in ctype.lower():
                    continue
                body = rec.content_stream().read()
                yield rec.rec_headers.get_header("WARC-Target-URI"), body


def dev_pages():
    for page in sorted((SHARED / "extraction-dev").iterdir()):
        src = page / "source.html"
        if src.is_file():
            yield f"https://example.org/{page.name}", src.read_bytes()


def record(url, body, n):
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()) + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Date: 2024-05-{1 + n % 28:02d}T12:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{uuid.UUID(int=n + 1)}>\r\n"
        f"WARC-Target-URI: {url}?copy={n}\r\n"
        "WARC-Identified-Payload-Type: text/html\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--megabytes", type=float, default=200)
    args = ap.parse_args()
    pages = list(dev_pages()) + list(cc_pages())
    target = int(args.megabytes * 1e6)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    html_bytes = n = 0
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as out:
        while html_bytes < target:
            for url, body in pages:
                out.write(gzip.compress(record(url, body, n), compresslevel=6))
                html_bytes += len(body)
                n += 1
                if html_bytes >= target:
                    break
    os.replace(tmp, args.out)
    print(f"{args.out}: {n} records, {html_bytes / 1e6:.1f} MB of HTML, "
          f"{os.path.getsize(args.out) / 1e6:.1f} MB on disk, {len(pages)} distinct pages")


if __name__ == "__main__":
    main()
