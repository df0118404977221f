#!/usr/bin/env python3
"""Encode throughput of winnow's tokenizer (trainer/tokenizer) against tiktoken, same text, same
rank files, same threads.

The corpus: the real text of tests/tools/tiktoken_golden.py (Common Crawl pages `winnow run`
extracts with filters and dedup off, extraction-dev expected texts, GSM8K, hh-rlhf, self-instruct,
ShareGPT, the filters data), whole documents, repeated until it reaches --mb megabytes.

  ours      build-tok/bench/tokenizer_speed_bench CORPUS --tokenizer NAME --threads 1,2: each round
            a fresh Tokenizer (empty piece cache), EncodeOrdinary per document; threads take
            documents from a shared counter.
  tiktoken  tiktoken.Encoding built from the same local .tiktoken file and the pattern of
            ../shared/specs/trainer.md; 1 thread: encode_ordinary per document in a Python loop;
            N threads: encode_ordinary_batch(docs, num_threads=N).
Both report the best of their rounds (--rounds for tiktoken, --our-rounds for ours), in MB/s = 10^6 bytes of UTF-8 input per wall-clock second,
and in MB per CPU-second of the process (less sensitive to other load on a shared machine); the
token counts must agree.

Requires tiktoken (pip install tiktoken). Usage, from the repository root, after
`cmake --build build-tok --target tokenizer_speed_bench`:
  python3 bench/tokenizer_speed.py [--bench build-tok/bench/tokenizer_speed_bench] [--mb 25]
      [--encodings gpt2,cl100k_base,o200k_base] [--threads 1,2] [--rounds 3] [--our-rounds 10]
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
import tiktoken_golden  # noqa: E402


def build_corpus(winnow, mb):
    docs = [t for texts in tiktoken_golden.real_documents(winnow).values() for t in texts if t]
    distinct = sum(len(d.encode("utf-8")) for d in docs)
    out, size = [], 0
    while size < mb * 1e6:
        for d in docs:
            out.append(d)
            size += len(d.encode("utf-8"))
    return out, distinct


def tiktoken_speed(name, docs, threads, rounds):
    enc = tiktoken_golden.load_encoding(name)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    best, best_cpu, tokens = 1e30, 1e30, 0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        if threads == 1:
            tokens = 0
            for d in docs:
                tokens += len(enc.encode_ordinary(d))
        else:
            tokens = sum(len(ids) for ids in enc.encode_ordinary_batch(docs, num_threads=threads))
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"impl": "tiktoken", "tokenizer": name, "threads": threads, "bytes": nbytes,
            "tokens": tokens, "seconds": best, "mb_s": nbytes / best / 1e6, "cpu_seconds": best_cpu,
            "mb_per_cpu_s": nbytes / best_cpu / 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build-tok", "bench", "tokenizer_speed_bench"))
    ap.add_argument("--winnow", default=os.path.join(ROOT, "build", "services", "winnow"))
    ap.add_argument("--mb", type=float, default=25)
    ap.add_argument("--encodings", default="gpt2,cl100k_base,o200k_base")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3, help="tiktoken's rounds")
    ap.add_argument("--our-rounds", type=int, default=10,
                    help="ours (a round takes a fraction of a second: more rounds, so that one "
                         "falls in a quiet moment of a shared machine)")
    ap.add_argument("--skip-tiktoken", action="store_true")
    ap.add_argument("--corpus-out", default=None, help="also keep the corpus file here")
    args = ap.parse_args()

    import tiktoken

    docs, distinct = build_corpus(args.winnow, args.mb)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    print(f"corpus: {len(docs)} documents, {nbytes / 1e6:.1f} MB "
          f"({distinct / 1e6:.1f} MB distinct, repeated); tiktoken {tiktoken.__version__}; "
          f"{os.cpu_count()} CPUs", file=sys.stderr)
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.bin")
        with open(corpus, "wb") as f:
            for d in docs:
                b = d.encode("utf-8")
                f.write(struct.pack("<I", len(b)))
                f.write(b)
        if args.corpus_out:
            shutil.copyfile(corpus, args.corpus_out)
        def run_ours(name):
            r = subprocess.run([args.bench, corpus, "--tokenizer", name, "--threads", args.threads,
                                "--rounds", str(args.our_rounds)], check=True,
                               stdout=subprocess.PIPE, text=True)
            return {o["threads"]: o for o in map(json.loads, r.stdout.splitlines())}

        for name in args.encodings.split(","):
            # Ours before and after tiktoken, the better of the two: on a shared machine a
            # quiet moment is more likely found over a minute than over a few seconds.
            ours = run_ours(name)
            theirs = {n: None if args.skip_tiktoken else tiktoken_speed(name, docs, n, args.rounds)
                      for n in threads}
            for n, o in run_ours(name).items():
                if o["seconds"] < ours[n]["seconds"]:
                    ours[n] = o
            for n in threads:
                rows.append((name, n, ours[n], theirs[n]))
                if theirs[n] and theirs[n]["tokens"] != ours[n]["tokens"]:
                    print(f"TOKEN COUNTS DIFFER: {name}: ours {ours[n]['tokens']}, "
                          f"tiktoken {theirs[n]['tokens']}", file=sys.stderr)
                print(json.dumps({"ours": ours[n], "tiktoken": theirs[n]}), file=sys.stderr)

    print("| encoding | threads | winnow MB/s | tiktoken MB/s | winnow / tiktoken | "
          "winnow MB/CPU-s | tiktoken MB/CPU-s | tokens (equal) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, ours, theirs in rows:
        t = f"{theirs['mb_s']:.1f}" if theirs else "–"
        tc = f"{theirs['mb_per_cpu_s']:.1f}" if theirs else "–"
        ratio = f"{ours['mb_s'] / theirs['mb_s']:.1f}×" if theirs else "–"
        same = "" if not theirs else (" ✓" if theirs["tokens"] == ours["tokens"] else " ✗")
        print(f"| {name} | {n} | {ours['mb_s']:.1f} | {t} | {ratio} | {ours['mb_per_cpu_s']:.1f} | "
              f"{tc} | {ours['tokens']:,}{same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
