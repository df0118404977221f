#!/usr/bin/env python3
"""Hugging Face `tokenizers` loads the tokenizer.json Winnow writes and encodes as Winnow does.

    python3 tests/tools/hf_tokenizers_check.py WINNOW_BINARY SHARED_DIR [--folders DIR ...]
        [--tokenizer-test BIN] [--report FILE] [--max-mismatches N]

Folders: those given with --folders (each with tokenizer.json, as `winnow tokenizer train --out`
or SaveTokenizer writes them), else the ones the gtest TokenizerFiles.ExportsFoldersForTheHfCheck
writes (r50k_base, p50k_base, cl100k_base, o200k_base, and two small trained vocabularies): the
tokenizer_test binary is found next to WINNOW_BINARY's build tree or given with --tokenizer-test.

Samples: real text from SHARED_DIR/data (the extraction pages' article text and raw HTML, Common
Crawl WET text, GSM8K, hh-rlhf, ShareGPT, self-instruct, tiktoken's test inputs) plus edge cases
(Unicode spaces, contractions, digit runs, CRLF, marks, emoji, special-token text) and seeded random
mixtures of them.

Winnow's ids come from `WINNOW_BINARY tokenizer encode --tokenizer FOLDER --jsonl --allow-special
all` when that command exists (the folder as Tokenizer::Load reads it; if it cannot, the folder's
tokenizer.tiktoken:PATTERN), else from FOLDER/winnow_ids.jsonl that the gtest wrote. HF's ids come
from Tokenizer.from_file(FOLDER/tokenizer.json).encode(text, add_special_tokens=False); HF always
turns added-token text into its id, hence --allow-special all on Winnow's side. Where tiktoken is
installed, named encodings are also compared with tiktoken itself.

Exit: 0 all agree, 1 some disagree (listed), 77 skipped (no `tokenizers` package or no folders).
"""

import argparse
import glob
import gzip
import html.parser
import json
import os
import random
import subprocess
import sys
import tempfile

SKIP = 77

# tiktoken's own patterns (../shared/specs/trainer.md), to run tiktoken on the shared rank files.
TIKTOKEN_PATTERNS = {
    "r50k": r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""",
    "cl100k": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
              r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k": "|".join([
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
        r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""", r"""\s+"""]),
}


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


class _TextOf(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(markup):
    p = _TextOf()
    p.feed(markup)
    return "".join(p.parts)


def wet_texts(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    texts = []
    for record in data.split(b"WARC/1.0\r\n")[1:]:
        head, _, body = record.partition(b"\r\n\r\n")
        if b"WARC-Type: conversion" in head:
            texts.append(body.decode("utf-8", "replace").strip())
    return texts


EDGE_CASES = [
    "", " ", "\n", "  ", "\t", "\r\n", "\n\n\n", "   \n   ", "a  ", "a \n", "x\r\ny\r\n\r\n",
    "Hello world", "hello <|endoftext|>", "<|endoftext|>", "a<|endoftext|>b<|endofprompt|>c",
    "<|user|>hi<|assistant|>hello<|endoftext|>", "<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>",
    "I'LL we'VE they'Re it'S don't I'm you'd", "'s 's' ''s '''", "ŉ ǰ ΐ", "İstanbul ıi",
    "1 12 123 1234 12345 123456 1234567", "2024-05-18 01:58:10Z", "3.14159265358979",
    "١٢٣٤٥٦ ০১২৩ 一二三 ½ ² Ⅻ", "$1,234.56 €99 ¥1000", "0x7fffffff 0b1010 1e-9",
    "a\u00a0b\u3000c\u0085d\u2028e\u2029f\u1680g\u2000h\u200bi\ufeffj", "\u00a0\u00a0x",
    " \u3000\n", "tab\there\ttoo\t\t", "trailing spaces   ", "  leading", "\v\f\x1c\x1d\x1e\x1f",
    "naïve café — “quotes” ‘single’ … «guillemets»", "Straße ΣΑΣ σας Ünïcödé ÀÉÎ",
    "日本語のテキスト、句読点。カタカナ", "中文文本，标点符号。", "한국어 텍스트입니다",
    "hindi: हिन्दी मराठी संस्कृत", "arabic: مرحبا بالعالم، كيف حالك؟", "hebrew: שלום עולם",
    "thai: สวัสดีชาวโลก", "emoji 🎉👍🏽 🏳️‍🌈 👨‍👩‍👧‍👦 ❤️", "e\u0301 a\u0308 n\u0303 combining",
    "x = f(y)+=3; // {} [] <html> </div> &amp; &#x27;", "def f(x):\n    return x ** 2\n",
    "    indented code\n\tmore\n", "url: https://example.com/a/b?c=d&e=f#g", "mail@example.org",
    "!!!??? ... --- ___ *** ### @@@", ";noun ;verb", "CamelCaseWordsHere HTTPServer iOS",
    "ALLCAPS SHOUTING TEXT", "mIxEd CaSe", "a'b'c'd", "\u2019s it\u2019s",  # curly apostrophe
    "\x00\x01\x02 control", "\ud7ff\ue000\uffff", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ",
]

FRAGMENTS = ["a", "Z", " ", "  ", "\n", "\r\n", "\t", "é", "日", "🎉", "'s", "'LL", "1", "12",
             "1234", "\u00a0", "\u3000", "!!", ".", ",", "-", "ß", "ñ", "\u0301", "ि", "\u200d",
             "the", " the", "The", "<|endoftext|>", "_", "/", "\\", "$", "%", "\u2028", "\u0085"]


def samples(shared):
    data = os.path.join(shared, "data")
    texts = []
    for page in sorted(glob.glob(os.path.join(data, "extraction-dev", "*", "expected.html"))):
        with open(page, encoding="utf-8", errors="replace") as f:
            texts.append(html_text(f.read()))
    for page in sorted(glob.glob(os.path.join(data, "extraction-dev", "*", "source.html")))[:40]:
        with open(page, encoding="utf-8", errors="replace") as f:
            texts.append(f.read()[:30000])
    for wet in sorted(glob.glob(os.path.join(data, "commoncrawl", "*.wet*"))):
        texts.extend(wet_texts(wet))
    gsm = os.path.join(data, "posttrain", "gsm8k", "test.jsonl")
    if os.path.exists(gsm):
        with open(gsm, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 300:
                    break
                j = json.loads(line)
                texts.append(j["question"] + "\n" + j["answer"])
    hh = os.path.join(data, "posttrain", "hh-rlhf-harmless", "test.jsonl.gz")
    if os.path.exists(hh):
        with gzip.open(hh, "rt", encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i >= 200:
                    break
                texts.append(json.loads(line)["chosen"])
    sharegpt = os.path.join(data, "posttrain", "sharegpt", "conversations.json")
    if os.path.exists(sharegpt):
        with open(sharegpt, encoding="utf-8") as f:
            for conv in json.load(f):
                texts.append("\n\n".join(t["value"] for t in conv["conversations"]))
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        path = os.path.join(data, "posttrain", "self-instruct", name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    texts.append(json.dumps(json.loads(line), ensure_ascii=False, indent=1))
    vectors = os.path.join(data, "tokenizers", "tiktoken-vectors.jsonl")
    if os.path.exists(vectors):
        with open(vectors, encoding="utf-8") as f:
            for line in f:
                j = json.loads(line)
                if isinstance(j.get("input"), str):
                    texts.append(j["input"])
    texts.extend(EDGE_CASES)
    rng = random.Random(20241122)
    for _ in range(1000):
        texts.append("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 24))))
    # JSON cannot carry lone surrogates; everything else goes through as is.
    return [t.encode("utf-8", "replace").decode("utf-8") for t in texts]


def has_encode_command(winnow):
    if not winnow or not os.path.exists(winnow):
        return False
    try:
        r = subprocess.run([winnow, "tokenizer", "encode", "--help"], capture_output=True,
                           timeout=60)
    except OSError:
        return False
    return r.returncode == 0 and b"--jsonl" in r.stdout + r.stderr


def winnow_encode(winnow, spec, lines):
    r = subprocess.run([winnow, "tokenizer", "encode", "--tokenizer", spec, "--jsonl",
                        "--allow-special", "all"], input=lines, capture_output=True, timeout=1800)
    if r.returncode != 0:
        return None, r.stderr.decode("utf-8", "replace").strip()
    out = [json.loads(line) for line in r.stdout.decode("utf-8").splitlines()]
    if any(o.get("ids") is None for o in out):
        return None, "some lines failed: " + next(o["error"] for o in out if o.get("ids") is None)
    return [o["ids"] for o in out], None


def find_tokenizer_test(winnow, given):
    candidates = [given] if given else []
    if winnow:
        build = os.path.dirname(os.path.dirname(os.path.abspath(winnow)))
        candidates += [os.path.join(build, "tests", "tokenizer_test"),
                       os.path.join(os.path.dirname(os.path.abspath(winnow)), "tests",
                                    "tokenizer_test")]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    return None


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("winnow", help="the winnow binary (for `winnow tokenizer encode`)")
    ap.add_argument("shared", help="the shared folder (../shared)")
    ap.add_argument("--folders", nargs="*", default=None, help="tokenizer folders to check")
    ap.add_argument("--tokenizer-test", default=None, help="the tokenizer_test gtest binary")
    ap.add_argument("--report", default=None, help="write the summary as JSON here")
    ap.add_argument("--max-mismatches", type=int, default=5, help="listed per folder")
    args = ap.parse_args()

    try:
        import tokenizers
    except ImportError:
        skip("the Python package `tokenizers` is not installed")
    try:
        import tiktoken
        import tiktoken.load
    except ImportError:
        tiktoken = None

    texts = samples(args.shared)
    keep = tempfile.TemporaryDirectory(prefix="hf-tokenizers-check-")
    work = keep.name
    samples_path = os.path.join(work, "samples.jsonl")
    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    with open(samples_path, "w", encoding="utf-8") as f:
        f.write(lines)

    folders = args.folders
    if not folders:
        test = find_tokenizer_test(args.winnow, args.tokenizer_test)
        if test is None:
            skip("no --folders and no tokenizer_test binary to write them")
        env = dict(os.environ, WINNOW_TOKENIZER_EXPORT_DIR=os.path.join(work, "folders"),
                   WINNOW_TOKENIZER_SAMPLES=samples_path)
        r = subprocess.run([test, "--gtest_filter=TokenizerFiles.ExportsFoldersForTheHfCheck"],
                           env=env, capture_output=True, timeout=1800)
        if r.returncode != 0:
            print(r.stdout.decode("utf-8", "replace")[-4000:])
            print("FAIL: the export gtest failed")
            return 1
        folders = sorted(glob.glob(os.path.join(work, "folders", "*")))
    if not folders:
        skip("no tokenizer folders")

    use_cli = has_encode_command(args.winnow)
    print(f"{len(texts)} samples, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB; "
          f"Winnow ids from {'`winnow tokenizer encode`' if use_cli else 'winnow_ids.jsonl'}; "
          f"tokenizers {tokenizers.__version__}"
          + (f", tiktoken {tiktoken.__version__}" if tiktoken else ""))
    summary = {"tokenizers": tokenizers.__version__, "samples": len(texts), "folders": {}}
    all_agree = True
    for folder in folders:
        name = os.path.basename(os.path.normpath(folder))
        meta = {}
        meta_path = os.path.join(folder, "winnow_tokenizer.json")
        if os.path.exists(meta_path):
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
        try:
            hf = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        except Exception as e:  # noqa: BLE001 — the error is the finding
            print(f"{name}: HF cannot load tokenizer.json: {e}")
            summary["folders"][name] = {"error": str(e)}
            all_agree = False
            continue
        hf_ids = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]

        source = None
        if use_cli:
            ours, err = winnow_encode(args.winnow, folder, lines.encode("utf-8"))
            source = "winnow tokenizer encode --tokenizer FOLDER"
            if ours is None and meta.get("pattern"):
                print(f"{name}: winnow cannot load the folder ({err}); using tokenizer.tiktoken")
                spec = os.path.join(folder, "tokenizer.tiktoken") + ":" + meta["pattern"]
                ours, err = winnow_encode(args.winnow, spec, lines.encode("utf-8"))
                source = "winnow tokenizer encode --tokenizer FOLDER/tokenizer.tiktoken:PATTERN"
            if ours is None:
                print(f"{name}: winnow tokenizer encode failed: {err}")
                summary["folders"][name] = {"error": err}
                all_agree = False
                continue
        else:
            with open(os.path.join(folder, "winnow_ids.jsonl"), encoding="utf-8") as f:
                ours = [json.loads(line)["ids_special"] for line in f]
            source = "winnow_ids.jsonl (gtest)"

        mismatches = []
        tokens = 0
        for text, a, b in zip(texts, hf_ids, ours):
            tokens += len(b)
            if a != b:
                i = first_difference(a, b)
                mismatches.append({
                    "text": text[:200],
                    "at_token": i,
                    "hf": [hf.id_to_token(x) for x in a[max(0, i - 2):i + 4]],
                    "winnow": [hf.id_to_token(x) for x in b[max(0, i - 2):i + 4]],
                })
        decoded_ok = sum(hf.decode(ids, skip_special_tokens=False) == t
                         for t, ids in zip(texts, hf_ids))
        result = {"source": source, "texts": len(texts), "agree": len(texts) - len(mismatches),
                  "tokens": tokens, "hf_decode_roundtrip": decoded_ok,
                  "mismatches": mismatches[:args.max_mismatches]}

        encoding = meta.get("name", name)
        rank_file = os.path.join(args.shared, "data", "tokenizers", f"{encoding}.tiktoken")
        if tiktoken is not None and os.path.exists(rank_file) and meta.get("pattern"):
            # Built from the shared rank file (offline), with the folder's specials.
            enc = tiktoken.Encoding(encoding, pat_str=TIKTOKEN_PATTERNS[meta["pattern"]],
                                    mergeable_ranks=tiktoken.load.load_tiktoken_bpe(rank_file),
                                    special_tokens=meta.get("specials", {}))
            tk_ids = enc.encode_batch(texts, allowed_special="all")
            result["tiktoken_agree_hf"] = sum(a == b for a, b in zip(tk_ids, hf_ids))
            result["tiktoken_agree_winnow"] = sum(a == b for a, b in zip(tk_ids, ours))

        summary["folders"][name] = result
        agree = not mismatches and result.get("tiktoken_agree_hf", len(texts)) == len(texts)
        all_agree &= agree
        extra = ""
        if "tiktoken_agree_hf" in result:
            extra = (f"; tiktoken = HF on {result['tiktoken_agree_hf']}/{len(texts)}, tiktoken = "
                     f"Winnow on {result['tiktoken_agree_winnow']}/{len(texts)}")
        print(f"{'ok  ' if agree else 'FAIL'} {name}: HF = Winnow on {result['agree']}/{len(texts)}"
              f" texts ({tokens} tokens); HF decode round-trips {decoded_ok}/{len(texts)}{extra}")
        for m in mismatches[:args.max_mismatches]:
            print(f"     at token {m['at_token']} of {m['text']!r}: HF {m['hf']} vs Winnow "
                  f"{m['winnow']}")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(summary, f, ensure_ascii=False, indent=1)
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
