#!/usr/bin/env python3
"""Golden record lists for tests/pipeline/warc: what warcio (the reference reader) sees per file.

Usage: tests/tools/warc_counts.py ../shared/data > tests/pipeline/warc/testdata/warc_counts.json

For every crawl file under commoncrawl/ and warc-edge/ it writes one JSON object per line:
{"file": "warc-edge/x.warc.gz", "records": [[offset, type, target_uri], ...]} with warcio's
offsets and types (ARC "arc_header" becomes "warcinfo", as RecordReader reports it), or
{"file": ..., "oracle_error": "..."} where warcio gives up (damaged or non-per-record gzip files);
those files are covered by hand-written tests instead.
"""
import json
import os
import sys

from warcio.archiveiterator import ArchiveIterator

CRAWL_SUFFIXES = ('.warc', '.warc.gz', '.wet', '.wat', '.wet.gz', '.wat.gz', '.arc', '.arc.gz', '.bad')


def records(path):
    out = []
    with open(path, 'rb') as f:
        it = ArchiveIterator(f, arc2warc=False, check_digests=False)
        for r in it:
            kind = 'warcinfo' if r.rec_type == 'arc_header' else r.rec_type
            if r.format.startswith('arc'):
                uri = r.rec_headers.get_header('uri') or ''
            else:
                uri = r.rec_headers.get_header('WARC-Target-URI') or ''
                if uri.startswith('<') and uri.endswith('>'):
                    uri = uri[1:-1]
                if 'space-in-target-uri' in path:  # warcio percent-encodes these; we keep spaces
                    uri = uri.replace('%20', ' ')
            r.content_stream().read()
            out.append([it.get_record_offset(), kind, uri])
    return out


def main():
    root = sys.argv[1]
    for folder in ('commoncrawl', 'warc-edge'):
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if not name.endswith(CRAWL_SUFFIXES):
                continue
            rel = folder + '/' + name
            try:
                line = {'file': rel, 'records': records(os.path.join(root, rel))}
            except Exception as e:  # noqa: BLE001 - any failure means "no oracle for this file"
                line = {'file': rel, 'oracle_error': type(e).__name__}
            print(json.dumps(line, ensure_ascii=False))


if __name__ == '__main__':
    main()
