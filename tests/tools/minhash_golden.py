#!/usr/bin/env python3
"""Golden MinHash signatures from the reference (datatrove) for tests/pipeline/dedup/minhash_test.cc.

Runs datatrove's own MinhashDedupSignature (get_shingles + get_signature, offline: no files are
written) on real documents from ../shared/data and writes
tests/pipeline/dedup/testdata/minhash_golden.jsonl.gz, one JSON object per line:

  {"kind": "params", "seed": S, "num_hashes": N, "a": [hex...], "b": [hex...]}
      the permutation parameters datatrove draws for that seed (numpy RandomState).
  {"kind": "doc", "name": ..., "text": ..., "norm_xxh64": hex, "splits": [...], "n_tokens": T,
   "sig": [hex...], "sha1_sig": [hex...] (some documents only)}
      norm_xxh64: xxh64 of the UTF-8 of datatrove's simplify_text(text) (the normalised text);
      splits: the code point offsets in the normalised text where spaCy starts a token right after
      the previous one (no space between them): with the normalised text these give datatrove's tokens
      exactly, so the test can hash datatrove's own tokens even where our tokenizer differs;
      sig: the 112 minima (14 buckets x 8), empty when the document has fewer than 5 tokens.

Usage: python3 tests/tools/minhash_golden.py [--shared ../shared] [--out PATH]
A larger one-off check (all 2312 hh-rlhf transcripts, 500 ShareGPT conversations, whole texts):
  python3 tests/tools/minhash_golden.py --hh 2312 --sharegpt 500 --sharegpt-step 1 --max-chars 100000000 \
      --out /tmp/minhash_big.jsonl.gz
  WINNOW_MINHASH_GOLDEN=/tmp/minhash_big.jsonl.gz dedup_test --gtest_filter='MinHash.Sig*'

Needs `pip install "datatrove[processing]"` (datatrove, spacy, xxhash, numpy, lxml).
"""

import argparse
import gzip
import json
import os
import shutil
import tempfile

import lxml.html
import numpy as np
import xxhash
from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import simplify_text

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

MAX_CHARS = 12000  # keeps the golden file small; long enough for hundreds of shingles

# Hand-written texts for the normalisation corners (case, digits, punctuation, diacritics, scripts).
EDGE_TEXTS = [
    "",
    "too short to shingle",
    "exactly five words are here",
    "Ünïcödé ÀÉÎÕÜ façade naïve coöperate São Paulo Ångström Dvořák Łódź Straße",
    "İstanbul ΟΔΟΣ ΣΟΦΟΣ σοφός Ǆemal ǅemal ǆemal ﬁne ﬂow ŉ",
    "Prices: $1,234.56 on 2024-05-01, 3.14.15 and ١٢٣٫٤٥ and ４２ and ¼ ½ and 10⁶ km²",
    "Can't won't cannot gonna gotta don't I'm you're it's — “quoted” «guillemets» „low“",
    "Tabs\tand\nnew\r\nlines\u00a0and\u2003em\u3000spaces\u200band zero width, \x07bell\x1fcontrol",
    "Emoji 😀 🎉 👍🏽 and symbols © ® ™ § ¶ † ‡ • ° ± × ÷ → ← ∞ ≈ ≠ ≤ ≥ £ € ¥ and ;:;:",
    "中文文本没有空格但是有标点。日本語のテキスト、句読点。한국어 텍스트 입니다 . 끝",
    "Русский текст с ёлкой и Ёжиком, Українська мова з ґанком. Ελληνικά με τόνους ά έ ή ί ό ύ ώ ΐ",
    "עברית עם ניקוד שָׁלוֹם and العربية مع التشكيل مَرْحَبًا and हिन्दी पाठ । देवनागरी ॥ समाप्त",
    "e.g. i.e. etc. Mr. Mrs. Dr. U.S.A. a.m. p.m. vs. St. 5km 10kg 3pm $5 #hashtag @user",
    "http://example.com/path?q=1 user@example.org www.example.net 192.168.0.1 C++ C# .NET",
    "A" * 40 + " " + "b " * 30 + "Ｆｕｌｌｗｉｄｔｈ ＬＥＴＴＥＲＳ ａｎｄ ｄｉｇｉｔｓ ０１２３",
    "x" * 5000 + " y z w v u t s",
    "::: ;;; !!! ??? ... --- ___ *** /// \\\\\\ ||| word one two three four five",
    "ﬀ ﬃ ﬄ Å Ω K ℃ ℉ Ⅻ ⅻ ① ② ⒜ ㈱ ㍻ ㌔",
]


def expected_html_texts(shared):
    root = os.path.join(shared, "data", "extraction-dev")
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "expected.html")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            tree = lxml.html.fromstring(f.read())
        text = "\n".join(t.strip() for t in tree.itertext() if t.strip())
        yield f"extraction-dev/{name}", text


def hh_rlhf_texts(shared, limit):
    path = os.path.join(shared, "data", "posttrain", "hh-rlhf-harmless", "test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= limit:
                break
            yield f"hh-rlhf/{i}", json.loads(line)["chosen"]


def sharegpt_texts(shared, limit, step):
    path = os.path.join(shared, "data", "posttrain", "sharegpt", "conversations.json")
    with open(path, encoding="utf-8") as f:
        convs = json.load(f)
    # every `step`th conversation: a mix of languages and code, not only the identity prompts at the top
    for conv in convs[::step][:limit]:
        yield f"sharegpt/{conv['id']}", "\n\n".join(t["value"] for t in conv["conversations"])


def hexlist(values):
    return [format(int(v), "016x") for v in values]


def token_splits(nlp_tokens):
    """Code point offsets where a token starts right where the previous one ended."""
    splits = []
    prev_end = None
    for tok in nlp_tokens:
        if not tok.text.strip():
            continue
        if prev_end is not None and tok.idx == prev_end:
            splits.append(tok.idx)
        prev_end = tok.idx + len(tok.text)
    return splits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "pipeline", "dedup", "testdata",
                                                  "minhash_golden.jsonl.gz"))
    ap.add_argument("--hh", type=int, default=110, help="hh-rlhf transcripts")
    ap.add_argument("--sharegpt", type=int, default=45, help="ShareGPT conversations")
    ap.add_argument("--sharegpt-step", type=int, default=10, help="take every Nth conversation")
    ap.add_argument("--sha1-every", type=int, default=5, help="also a sha1 signature every N docs")
    ap.add_argument("--max-chars", type=int, default=MAX_CHARS, help="cut longer texts")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="minhash_golden_")
    xx = MinhashDedupSignature(output_folder=tmp, config=MinhashConfig())
    sha = MinhashDedupSignature(output_folder=tmp,
                                config=MinhashConfig(hash_config=HashConfig(hash_fc="sha1")))
    nlp = xx.word_tokenizer.tokenizer  # spacy.blank("en") + sentencizer, as word_tokenize uses it

    lines = []
    for seed, num in ((1, 112), (42, 112), (7, 20), (2**32 - 1, 9)):
        gen = MinhashDedupSignature(output_folder=tmp,
                                    config=MinhashConfig(seed=seed, num_buckets=1,
                                                         hashes_per_bucket=num))
        a, b = gen.parameters
        lines.append({"kind": "params", "seed": seed, "num_hashes": num, "a": hexlist(a[0]),
                      "b": hexlist(b[0])})

    docs = [(f"edge/{i}", t) for i, t in enumerate(EDGE_TEXTS)]
    docs += list(expected_html_texts(args.shared))
    docs += list(hh_rlhf_texts(args.shared, args.hh))
    docs += list(sharegpt_texts(args.shared, args.sharegpt, args.sharegpt_step))

    for i, (name, text) in enumerate(docs):
        text = text[:args.max_chars]
        norm = simplify_text(text, xx.config.norm_config)
        words = xx.word_tokenizer.word_tokenize(norm)
        doc = nlp(norm)
        assert [t.text for t in doc if t.text.strip()] == words, name
        shingles = xx.get_shingles(text)
        sig = [v for band in xx.get_signature(shingles) for v in band] if shingles.size else []
        rec = {"kind": "doc", "name": name, "text": text,
               "norm_xxh64": format(xxhash.xxh64_intdigest(norm.encode("utf-8")), "016x"),
               "splits": token_splits(doc), "n_tokens": len(words), "sig": hexlist(sig)}
        if i % args.sha1_every == 0:
            sshingles = sha.get_shingles(text)
            ssig = ([v for band in sha.get_signature(sshingles) for v in band]
                    if sshingles.size else [])
            rec["sha1_sig"] = hexlist(ssig)
        lines.append(rec)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:
        for rec in lines:
            f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    n_docs = len(lines) - 4
    print(f"wrote {n_docs} documents to {args.out} ({os.path.getsize(args.out)} bytes)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(over="ignore")
    main()
