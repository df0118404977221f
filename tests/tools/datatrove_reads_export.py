#!/usr/bin/env python3
"""Checks that datatrove's own JsonlReader reads what `winnow export --format jsonl` writes.

    python3 tests/tools/datatrove_reads_export.py WINNOW_BINARY SHARED_DIR

Exits 77 (ctest's skip code here) when datatrove is not installed (`pip install datatrove`).
"""
import subprocess
import sys
import tempfile

try:
    from datatrove.pipeline.readers import JsonlReader
except ImportError:
    print("datatrove is not installed: skipped")
    sys.exit(77)


def main():
    winnow, shared = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        warc = f"{shared}/data/commoncrawl/CC-MAIN-2020-34-excerpt.warc.gz"
        # Filters and dedup off: this checks the reader, extraction, storage and export path
        # alone.
        with open(f"{tmp}/no-filters.yaml", "w") as f:
            f.write("filters:\n  order: []\ndedup:\n  enabled: false\n")
        subprocess.run([winnow, "run", "-q", warc, "--config", f"{tmp}/no-filters.yaml",
                        "--data-dir", f"{tmp}/data"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([winnow, "export", "--data-dir", f"{tmp}/data", "--format", "jsonl",
                        "--out", f"{tmp}/out"], check=True, stdout=subprocess.DEVNULL)
        docs = list(JsonlReader(f"{tmp}/out", glob_pattern="*.jsonl.gz", compression="gzip").run())
    assert len(docs) == 16, len(docs)
    for doc in docs:
        assert doc.id.startswith("<urn:uuid:"), doc.id
        assert doc.text, doc.id
        assert doc.metadata["url"].startswith("http"), doc.metadata
        assert doc.metadata["dump"] == "CC-MAIN-2020-34", doc.metadata
        assert doc.metadata["date"].startswith("2020-"), doc.metadata
    print(f"datatrove read {len(docs)} documents")


if __name__ == "__main__":
    main()
