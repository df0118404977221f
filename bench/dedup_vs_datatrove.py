#!/usr/bin/env python3
"""`winnow dedup` against datatrove's MinHash deduplication, end to end: speed and parity.

    python3 -m pip install "datatrove[processing]"       # datatrove with spaCy and xxhash
    python3 bench/dedup_vs_datatrove.py [--winnow build/services/winnow] [--docs 20000]

Corpus (deterministic, --seed): real text from ../shared/data and the filter parity corpus
  - tests/filters/testdata/datatrove_golden.jsonl.gz: every document with a text (Common Crawl pages
    and extraction-dev articles as `winnow extract` gives them, hh-rlhf "chosen" transcripts,
    ShareGPT conversations, GSM8K test problems, self-instruct tasks);
  - posttrain/gsm8k/train.jsonl (question + answer) and the hh-rlhf "rejected" transcripts (these
    share the conversation with their "chosen" twin: natural near duplicates);
plus planted copies of randomly chosen documents: verbatim copies, copies that differ only in
letter case and spacing, near duplicates at several word-5-gram Jaccard levels (word substitutions,
deletions and insertions; the realised Jaccard over simplify_text + whitespace words is recorded),
chains (a near copy of a near copy) and copies of very short texts (fewer than 5 words). Every line
is {"id": unique string, "text": ..., "metadata": {}}, lines shuffled, ids random hex.

Runs
  - datatrove: MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster(save_cluster_id)
    -> MinhashDedupFilter(load_cluster_ids, exclusion writer) + JsonlWriter, each stage through
    LocalPipelineExecutor with workers=1 (1 task; the buckets stage needs tasks = num_buckets = 14,
    run one after another in the same process). MinhashConfig(n_grams=5, num_buckets=14,
    hashes_per_bucket=8, seed=1, HashConfig(precision=64, hash_fc="xxhash")). It runs in a child
    process; the time reported is the four stages' wall clock (imports and spaCy loading excluded,
    and reported apart).
  - winnow dedup --threads 1, and with its default threads (all cores), default config (exact pass
    then MinHash); and once more with `dedup: {exact: false}` (MinHash only) for the parity check.

Parity: the clusters (documents that are duplicates of each other, sizes >= 2) as sets of ids,
datatrove's from minhash_cluster_id, winnow's from --clusters; the number of documents removed.
"""
import argparse
import collections
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
GOLDEN = os.path.join(ROOT, "tests", "filters", "testdata", "datatrove_golden.jsonl.gz")

# Planted copies, as fractions of --docs. Near duplicates: word edit rate -> expected Jaccard of
# the 5-gram sets ~ (1-r)^5 / (2 - (1-r)^5): 0.005 ~ 0.95, 0.017 ~ 0.85, 0.03 ~ 0.75,
# 0.047 ~ 0.65, 0.078 ~ 0.5, 0.143 ~ 0.3.
PLANT = {
    "exact": 0.04,
    "case_space": 0.02,
    "near_0.005": 0.02,  # near_R: each word edited with probability R
    "near_0.017": 0.02,
    "near_0.030": 0.02,
    "near_0.047": 0.02,
    "near_0.078": 0.02,
    "near_0.143": 0.02,
    "chain": 0.01,
    "short_exact": 0.0025,
}


# ---------------------------------------------------------------------------------------------------
# Corpus


def real_texts():
    texts = []
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d.get("text", "").strip():
                texts.append((d["id"].split("/")[0], d["text"]))
    with open(os.path.join(SHARED, "posttrain", "gsm8k", "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append(("gsm8k-train", d["question"] + "\n" + d["answer"]))
    with gzip.open(os.path.join(SHARED, "posttrain", "hh-rlhf-harmless", "test.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            texts.append(("hh-rejected", d["rejected"]))
    return texts


def shingle_jaccard(a, b, n=5):
    from datatrove.utils.text import simplify_text

    def grams(t):
        w = simplify_text(t).split()
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    ga, gb = grams(a), grams(b)
    if not ga and not gb:
        return 1.0
    return len(ga & gb) / max(1, len(ga | gb))


def mutate(text, rate, rng, vocab):
    """Substitutes, deletes or inserts words (whitespace kept) at `rate` per word; at least one edit."""
    parts = re.split(r"(\s+)", text)
    word_idx = [i for i, p in enumerate(parts) if p and not p.isspace()]
    edits = [i for i in word_idx if rng.random() < rate] or [rng.choice(word_idx)]
    for i in edits:
        op = rng.random()
        if op < 0.5:
            parts[i] = rng.choice(vocab)
        elif op < 0.75:
            parts[i] = ""
        else:
            parts[i] = parts[i] + " " + rng.choice(vocab)
    return "".join(parts)


def case_space(text, rng):
    out = []
    for p in re.split(r"(\s+)", text):
        if p.isspace():
            out.append(rng.choice([p, p + " ", "  ", p + "\t"]) if rng.random() < 0.2 else p)
        elif rng.random() < 0.1:
            out.append(p.upper() if rng.random() < 0.5 else p.capitalize())
        else:
            out.append(p)
    return "".join(out)


def build_corpus(path, n_docs, seed):
    rng = random.Random(seed)
    pool = real_texts()
    rng.shuffle(pool)
    # Each unit of "chain" plants two documents and each "short_exact" a pair of copies. When the
    # real pool is too small for n_docs, every planted kind grows in proportion.
    per_unit = {"chain": 2, "short_exact": 2}
    default = sum(int(f * n_docs) * per_unit.get(k, 1) for k, f in PLANT.items())
    scale = max(1.0, (n_docs - len(pool)) / default)
    units = {k: int(round(f * n_docs * scale)) for k, f in PLANT.items()}
    n_planted = sum(u * per_unit.get(k, 1) for k, u in units.items())
    base = pool[: max(0, n_docs - n_planted)]
    vocab = sorted({w for _, t in base[:2000] for w in t.split() if w.isalpha() and len(w) < 12})
    long_docs = [t for _, t in base if len(t.split()) >= 30]
    # Short texts: real ones with 1-4 words, else the first 1-4 words of real texts.
    short = [t for _, t in pool if 1 <= len(t.split()) < 5]
    short += [" ".join(t.split()[: rng.randint(1, 4)]) for _, t in pool[:200]]

    docs = [{"text": t, "source": s} for s, t in base]
    planted = []
    for kind, count in units.items():
        for _ in range(count):
            if kind == "exact":
                src = rng.choice(base)[1]
                planted.append({"text": src, "source": kind, "of": src})
            elif kind == "case_space":
                src = rng.choice(long_docs)
                planted.append({"text": case_space(src, rng), "source": kind, "of": src})
            elif kind.startswith("near_"):
                src = rng.choice(long_docs)
                planted.append({"text": mutate(src, float(kind[5:]), rng, vocab), "source": kind,
                                "of": src})
            elif kind == "chain":
                src = rng.choice(long_docs)
                mid = mutate(src, 0.017, rng, vocab)
                planted.append({"text": mid, "source": "chain_link", "of": src})
                planted.append({"text": mutate(mid, 0.017, rng, vocab), "source": "chain_end",
                                "of": src})
            elif kind == "short_exact":  # two copies of a text that may not be in the corpus
                src = rng.choice(short)
                planted += [{"text": src, "source": kind, "of": src}] * 2
    docs += planted[: max(0, n_docs - len(docs))]
    rng.shuffle(docs)
    ids = set()
    truth = {}
    with open(path, "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            doc_id = "d" + hashlib.sha1(f"{seed}/{i}".encode()).hexdigest()[:15]
            assert doc_id not in ids
            ids.add(doc_id)
            f.write(json.dumps({"id": doc_id, "text": d["text"], "metadata": {}}, ensure_ascii=False)
                    + "\n")
            if "of" in d:
                truth[doc_id] = {"kind": d["source"],
                                 "jaccard": round(shingle_jaccard(d["of"], d["text"]), 4)}
            else:
                truth[doc_id] = {"kind": "real:" + d["source"]}
    return truth


# ---------------------------------------------------------------------------------------------------
# datatrove (child process)


def datatrove_child(args):
    t_import = time.perf_counter()
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets,
                                                  MinhashDedupCluster, MinhashDedupFilter,
                                                  MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1,
                           hash_config=HashConfig(precision=64, hash_fc="xxhash"))
    work = args.datatrove_child
    inp = os.path.dirname(os.path.abspath(args.corpus))
    name = os.path.basename(args.corpus)
    reader = lambda: JsonlReader(inp, glob_pattern=name, compression=None)  # noqa: E731
    sig = MinhashDedupSignature(output_folder=f"{work}/signatures", config=config)
    sig.word_tokenizer.word_tokenize("load spaCy now")  # spaCy loads lazily: keep it out of the time
    t_setup = time.perf_counter() - t_import
    times = {}
    stages = [
        ("signature", [reader(), sig], 1),
        ("buckets", [MinhashDedupBuckets(input_folder=f"{work}/signatures",
                                         output_folder=f"{work}/buckets", config=config)],
         config.num_buckets),
        ("cluster", [MinhashDedupCluster(input_folder=f"{work}/buckets",
                                         output_folder=f"{work}/remove_ids", config=config,
                                         save_cluster_id=True)], 1),
        ("filter", [reader(),
                    MinhashDedupFilter(input_folder=f"{work}/remove_ids", load_cluster_ids=True,
                                       exclusion_writer=JsonlWriter(f"{work}/removed",
                                                                    compression=None)),
                    JsonlWriter(f"{work}/kept", compression=None)], 1),
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    for stage, pipeline, tasks in stages:
        s = time.perf_counter()
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                              logging_dir=f"{work}/logs/{stage}").run()
        times[stage] = time.perf_counter() - s
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    json.dump({"total": total, "cpu": cpu, "stages": times, "setup": t_setup},
              open(f"{work}/times.json", "w"))


def run_datatrove(corpus, work):
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    start = time.perf_counter()
    with open(f"{work}.log", "w") as log:  # datatrove's progress and stats
        res = subprocess.run([sys.executable, os.path.abspath(__file__), "--corpus", corpus,
                              "--datatrove-child", work], stderr=log, stdout=log)
    process = time.perf_counter() - start
    if res.returncode != 0:
        sys.exit(f"datatrove failed, see {work}.log")
    times = json.load(open(f"{work}/times.json"))
    times["process"] = process
    clusters = collections.defaultdict(set)
    removed, kept = set(), 0
    for sub in ("kept", "removed"):
        for fn in os.listdir(f"{work}/{sub}"):
            with open(f"{work}/{sub}/{fn}", encoding="utf-8") as f:
                for line in f:
                    d = json.loads(line)
                    cid = d["metadata"].get("minhash_cluster_id", -1)
                    if cid != -1:
                        clusters[cid].add(d["id"])
                    if sub == "removed":
                        removed.add(d["id"])
                    else:
                        kept += 1
    return times, {frozenset(c) for c in clusters.values()}, removed, kept


# ---------------------------------------------------------------------------------------------------
# winnow


def run_winnow(winnow, corpus, work, threads, config=None):
    os.makedirs(work, exist_ok=True)
    out, clusters_path = f"{work}/kept.jsonl", f"{work}/clusters.jsonl"
    cmd = [winnow, "dedup", "--in", corpus, "--out", out, "--clusters", clusters_path, "-q"]
    if threads:
        cmd += ["--threads", str(threads)]
    if config:
        cmd += ["--config", config]
    start, ru = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru2.ru_utime - ru.ru_utime + ru2.ru_stime - ru.ru_stime
    clusters, removed, kinds = set(), set(), collections.Counter()
    with open(clusters_path, encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            members = {c["kept"]} | {d["id"] for d in c["duplicates"]}
            assert len(members) == c["size"]
            clusters.add(frozenset(members))
            for d in c["duplicates"]:
                removed.add(d["id"])
                kinds[d["kind"]] += 1
    return (seconds, cpu), clusters, removed, kinds, res.stdout.strip()


# ---------------------------------------------------------------------------------------------------
# Parity


def compare(name, a, b, docs, tokens_of, limit=5):
    """Clusters a (winnow) vs b (datatrove); prints and returns the differing clusters."""
    only_a, only_b = a - b, b - a
    print(f"\n[{name}] clusters: winnow {len(a)}, datatrove {len(b)}, identical {len(a & b)}, "
          f"only winnow {len(only_a)}, only datatrove {len(only_b)}")
    for label, diff in (("only in winnow", only_a), ("only in datatrove", only_b)):
        for c in sorted(diff, key=lambda c: sorted(c))[:limit]:
            print(f"  {label}: {len(c)} docs")
            for i in sorted(c):
                t = docs[i]
                print(f"    {i} tokens={len(tokens_of(t))} {json.dumps(t[:100], ensure_ascii=False)}")
    return only_a, only_b


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--winnow", default=os.path.join(ROOT, "build", "services", "winnow"))
    p.add_argument("--docs", type=int, default=20000)
    p.add_argument("--seed", type=int, default=20261122)
    p.add_argument("--repeat", type=int, default=3, help="winnow runs per setting (min reported)")
    p.add_argument("--work", default=None, help="scratch dir, kept (default: a temporary one)")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    p.add_argument("--corpus", default=None, help=argparse.SUPPRESS)
    p.add_argument("--datatrove-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.datatrove_child:
        return datatrove_child(args)

    work = args.work or tempfile.mkdtemp(prefix="dedup-vs-dt-")
    os.makedirs(work, exist_ok=True)
    corpus = os.path.join(work, "input", "docs.jsonl")
    os.makedirs(os.path.dirname(corpus), exist_ok=True)
    t = time.perf_counter()
    truth = build_corpus(corpus, args.docs, args.seed)
    docs = {}
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs[d["id"]] = d["text"]
    mb = sum(len(t.encode("utf-8")) for t in docs.values()) / 1e6
    kinds = collections.Counter(v["kind"] for v in truth.values())
    print(f"corpus: {len(docs)} docs, {mb:.1f} MB of text, {os.path.getsize(corpus) / 1e6:.1f} MB "
          f"JSONL ({time.perf_counter() - t:.0f} s to build) at {corpus}")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))

    print("\ndatatrove (4 stages, 1 worker) ...", flush=True)
    dt_times, dt_clusters, dt_removed, dt_kept = run_datatrove(corpus, os.path.join(work, "dt"))
    print(f"  {dt_times['total']:.1f} s for the stages (CPU {dt_times['cpu']:.1f} s; "
          + ", ".join(f"{k} {v:.1f}" for k, v in dt_times["stages"].items())
          + f"); imports + spaCy {dt_times['setup']:.1f} s; child process {dt_times['process']:.1f} s"
          f"; removed {len(dt_removed)}, kept {dt_kept}")

    cfg = os.path.join(work, "near_only.yaml")
    with open(cfg, "w") as f:
        f.write("dedup:\n  exact: false\n")
    runs = {}
    for label, threads, config in (("1 thread", 1, None), ("all threads", 0, None),
                                   ("1 thread, exact: false", 1, cfg)):
        secs, cpus = [], []
        for _ in range(args.repeat):
            (s, c), clusters, removed, kinds_w, summary = run_winnow(
                args.winnow, corpus, os.path.join(work, "w"), threads, config)
            secs.append(s)
            cpus.append(c)
        runs[label] = (secs, clusters, removed, kinds_w, summary, cpus)
        print(f"winnow ({label}): wall min {min(secs):.2f} s, median {statistics.median(secs):.2f} s "
              f"of {len(secs)} (CPU min {min(cpus):.2f} s); {summary}")

    # Parity
    from datatrove.utils.text import simplify_text
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    tok = load_word_tokenizer("en")
    tokens_of = lambda t: tok.word_tokenize(simplify_text(t))  # noqa: E731
    w_default, w_near = runs["1 thread"], runs["1 thread, exact: false"]
    assert runs["all threads"][1] == w_default[1], "winnow clusters depend on the thread count"
    diff_near = compare("winnow exact: false vs datatrove", w_near[1], dt_clusters, docs, tokens_of)
    diff_def = compare("winnow default (exact + MinHash) vs datatrove", w_default[1], dt_clusters,
                       docs, tokens_of)
    # Explain default-mode differences: copies of texts with < 5 words are exact duplicates for
    # winnow but have no MinHash signature in datatrove (so are never duplicates there). Anything
    # else is a real difference.
    short_only = [c for c in diff_def[0] if all(len(tokens_of(docs[i])) < 5 for i in c)]
    unexplained = len(diff_def[0]) - len(short_only) + len(diff_def[1])
    extra = sum(len(c) - 1 for c in short_only)
    print(f"  default-mode differences: {len(short_only)} winnow clusters made only of texts with "
          f"< 5 datatrove tokens ({extra} more documents removed); {unexplained} clusters not "
          f"explained by that")

    # Which member each keeps: winnow the smallest id, datatrove its union-find root.
    same_kept = sum(1 for c in dt_clusters & w_near[1] if min(c) not in dt_removed)
    print(f"  kept document: the same (smallest id) in {same_kept} of {len(dt_clusters & w_near[1])} "
          f"identical clusters; datatrove keeps its union-find root, not the smallest id")

    # Detection by planted kind / Jaccard (default mode).
    print("\nplanted copies found (removed or kept as a cluster member), winnow default / datatrove:")
    w_in = {i for c in w_default[1] for i in c}
    d_in = {i for c in dt_clusters for i in c}
    by = collections.defaultdict(lambda: [0, 0, 0, []])
    for i, v in truth.items():
        if v["kind"].startswith("real:"):
            continue
        row = by[v["kind"]]
        row[0] += 1
        row[1] += i in w_in
        row[2] += i in d_in
        row[3].append(v["jaccard"])
    for k in sorted(by):
        n, w, d, js = by[k]
        lsh = statistics.mean(1 - (1 - j ** 8) ** 14 for j in js)
        print(f"  {k:12s} {n:5d} docs, median Jaccard {statistics.median(js):.3f} "
              f"(LSH 1-(1-J^8)^14 averaged: {100 * lsh:.1f} %): "
              f"winnow {w} ({100 * w / n:.1f} %), datatrove {d} ({100 * d / n:.1f} %)")

    w1, wall = min(runs["1 thread"][0]), min(runs["all threads"][0])
    wn = min(runs["1 thread, exact: false"][0])
    dt = dt_times["total"]
    agree_near = "identical" if not diff_near[0] and not diff_near[1] else \
        f"{len(diff_near[0])} / {len(diff_near[1])} clusters differ"
    agree_def = "identical" if not diff_def[0] and not diff_def[1] else \
        f"{len(diff_def[0])} only winnow / {len(diff_def[1])} only datatrove"
    print("\n| docs | MB of text | datatrove s (1 worker) | winnow s, 1 thread "
          f"| winnow s, all threads ({os.cpu_count()}) "
          "| speed-up 1 thread / all | removed: datatrove | removed: winnow (exact + near) "
          "| clusters: datatrove / winnow | partition vs datatrove |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {len(docs):,} | {mb:.1f} | {dt:.1f} | {w1:.2f} | {wall:.2f} | {dt / w1:.0f}× / "
          f"{dt / wall:.0f}× | {len(dt_removed):,} | {len(w_default[2]):,} ({w_default[3]['exact']:,} + "
          f"{w_default[3]['near']:,}) | {len(dt_clusters):,} / {len(w_default[1]):,} | {agree_def} |")
    print(f"| (winnow `exact: false`) | | | {wn:.2f} | | {dt / wn:.0f}× | | {len(w_near[2]):,} "
          f"| {len(dt_clusters):,} / {len(w_near[1]):,} | {agree_near} |")
    w1c = min(runs["1 thread"][5])
    print(f"one core, CPU seconds: datatrove {dt_times['cpu']:.1f}, winnow {w1c:.2f}: "
          f"{dt_times['cpu'] / w1c:.0f}×; MB/s of text per core: datatrove {mb / dt_times['cpu']:.2f}, "
          f"winnow {mb / w1c:.1f}")
    print("datatrove stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in dt_times["stages"].items())
          + f"; its process with imports and spaCy loading: {dt_times['process']:.1f} s")
    if args.json:
        json.dump({"docs": len(docs), "mb": mb, "datatrove": dt_times,
                   "winnow": {k: v[0] for k, v in runs.items()},
                   "winnow_cpu": {k: v[5] for k, v in runs.items()},
                   "removed": {"datatrove": len(dt_removed), "winnow": len(w_default[2]),
                               "winnow_exact_false": len(w_near[2])},
                   "clusters": {"datatrove": len(dt_clusters), "winnow": len(w_default[1]),
                                "winnow_exact_false": len(w_near[1])},
                   "partition": {"default": agree_def, "exact_false": agree_near}},
                  open(args.json, "w"), indent=1)
    if not args.work:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
