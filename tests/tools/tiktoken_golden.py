#!/usr/bin/env python3
"""tiktoken's own encodings of real and adversarial text, for the tokenizer's parity test.

Requires tiktoken (`pip install tiktoken`); it is not installed by anything here and nothing is
downloaded: the rank files are loaded from ../shared/data/tokenizers/*.tiktoken and the
pre-tokenization regexes are the exact ones of ../shared/specs/trainer.md (which are tiktoken's).

Modes
  --write [FILE]   (default) write tests/trainer/tokenizer/testdata/tiktoken_golden.jsonl.gz, the
                   golden file tests/trainer/tokenizer/tiktoken_parity_test.cc checks: one line
                   {"text", "encoding", "source", "ids"} per text and encoding (r50k_base,
                   p50k_base, cl100k_base, o200k_base), ids = Encoding.encode_ordinary(text).
  --full           compare on the whole real corpus, uncapped (not written to the repository)
  --fuzz N         compare on N random strings per encoding from a rich alphabet (whitespace of
                   every kind, marks, emoji, letters of every case class, digits of many scripts,
                   contraction endings, random code points of all planes); 1 in 10 is 64-512
                   characters from only one to three of those pools (long pieces and runs)
  --classes OUT    write the code points tiktoken's regex engine puts in \\p{L}, \\p{Lu}, \\p{Ll},
                   \\p{Lt}, \\p{Lm}, \\p{Lo}, \\p{M}, \\p{N} and \\s (JSON ranges). Compared with
                   ICU's u_charType/u_isUWhiteSpace this gives the Unicode-version differences
                   (kUnicode16 in trainer/tokenizer/pretokenizer.cc came from it: tiktoken 0.14 has
                   Unicode 16.0, ICU 72 has 15.0)
--full and --fuzz run the C++ side through the tokenizer_test binary of --build
(default build-tok): TiktokenParity.MatchesGoldenFile reads WINNOW_TIKTOKEN_GOLDEN instead of
the committed file when it is set.

The texts (the committed file, as last written: 12,745 texts, 1,421,466 UTF-8 bytes of text, 50,980
lines, 2.5 MB compressed; by source: edge 8,932 texts / 100 kB, commoncrawl 27 / 46 kB,
extraction-dev 208 / 320 kB, gsm8k 700 / 374 kB, hh-rlhf 403 / 267 kB, self-instruct 430 / 218 kB,
sharegpt 2,000 / 81 kB, filters 45 / 15 kB; the same texts give the same file):
  real    every document `winnow run ../shared/data/commoncrawl` extracts with filters and dedup
          off (exported as JSONL), the text of every extraction-dev expected.html (lxml
          text_content, whitespace as in the page), GSM8K questions and answers, hh-rlhf
          chosen/rejected transcripts, self-instruct tasks, ShareGPT turns, datatrove_cases
          texts and the filters word lists and PII files. Documents longer than 2,000 characters
          are cut to their first 2,000 plus one 1,000-character window from the middle; the
          large sources (GSM8K, hh-rlhf, ShareGPT) are sampled evenly.
  edge    8,932 generated cases, all kept: every Unicode whitespace character alone, in runs,
          in pairs, next to letters, digits, punctuation and newlines; combining marks
          (decomposed accents, lone marks at the start, after digits, spaces and punctuation);
          emoji (ZWJ sequences, flags, skin tones, keycaps, tag sequences); digit runs of 1-40
          and digits of other scripts; CRLF and lone CR; contractions in every case, with
          long s (U+017F) and the Kelvin sign; apostrophe variants; mixed scripts, CJK, Arabic,
          Hebrew, Devanagari, Thai, Hangul; upper/title/modifier/other letters (o200k's case
          classes); fullwidth forms; many spaces or tabs before words and at the end; characters
          Unicode 15.1/16.0 added; long pieces (up to 4,000 bytes: letter, digit, space,
          punctuation, CJK, emoji and mark runs, base64).

Usage (from the repository root):
  python3 tests/tools/tiktoken_golden.py [--winnow build/services/winnow]          # --write
  python3 tests/tools/tiktoken_golden.py --fuzz 100000 [--build build-tok] [--seed 1]
  python3 tests/tools/tiktoken_golden.py --full
"""

import argparse
import glob
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
TOKENIZERS = os.path.join(SHARED, "data", "tokenizers")
GOLDEN = os.path.join(ROOT, "tests", "trainer", "tokenizer", "testdata", "tiktoken_golden.jsonl.gz")

# ../shared/specs/trainer.md
R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PAT = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
              r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
O200K_PAT = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
ENCODINGS = {
    # name: (rank file, pattern, specials)
    "gpt2": ("r50k_base", R50K_PAT, {"<|endoftext|>": 50256}),
    "r50k_base": ("r50k_base", R50K_PAT, {"<|endoftext|>": 50256}),
    "p50k_base": ("p50k_base", R50K_PAT, {"<|endoftext|>": 50256}),
    "cl100k_base": ("cl100k_base", CL100K_PAT, {
        "<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}),
    "o200k_base": ("o200k_base", O200K_PAT, {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}),
}
GOLDEN_ENCODINGS = ["r50k_base", "p50k_base", "cl100k_base", "o200k_base"]


def load_encoding(name):
    import tiktoken
    import tiktoken.load

    file, pat, specials = ENCODINGS[name]
    ranks = tiktoken.load.load_tiktoken_bpe(os.path.join(TOKENIZERS, file + ".tiktoken"))
    return tiktoken.Encoding(name=name, pat_str=pat, mergeable_ranks=ranks, special_tokens=specials)


# ---------------------------------------------------------------------------------------------------
# Real text


def export_commoncrawl(winnow):
    tmp = tempfile.mkdtemp(prefix="tiktoken-golden-")
    try:
        data_dir, out_dir = os.path.join(tmp, "data"), os.path.join(tmp, "out")
        config = os.path.join(tmp, "all.yaml")  # every extracted page, not only the kept ones
        with open(config, "w") as f:
            f.write("filters:\n  order: []\ndedup:\n  enabled: false\n")
        subprocess.run([winnow, "run", os.path.join(SHARED, "data", "commoncrawl"), "--data-dir",
                        data_dir, "--config", config], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run([winnow, "export", "--data-dir", data_dir, "--format", "jsonl", "--out",
                        out_dir], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        texts = []
        for path in sorted(glob.glob(os.path.join(out_dir, "*.jsonl*"))):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as f:
                for line in f:
                    texts.append(json.loads(line)["text"])
        return sorted(texts)  # the export's order is the pipeline's
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def html_text(path):
    import lxml.html

    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        return ""
    return lxml.html.fromstring(raw).text_content()


def real_documents(winnow, need_commoncrawl=False):
    """{source: [text]}: the real text of ../shared/data, whole documents."""
    docs = {}
    data = os.path.join(SHARED, "data")
    try:
        docs["commoncrawl"] = export_commoncrawl(winnow)
    except (OSError, subprocess.CalledProcessError) as e:
        if need_commoncrawl:
            raise SystemExit(f"{winnow} could not export the commoncrawl texts: {e}")
        print(f"note: the commoncrawl texts are left out ({winnow}: {e})", file=sys.stderr)
    docs["extraction-dev"] = [
        t for t in (html_text(p) for p in sorted(glob.glob(os.path.join(data, "extraction-dev", "*",
                                                                         "expected.html"))))
        if t.strip()]
    gsm = []
    for name in ("test.jsonl", "train.jsonl"):
        with open(os.path.join(data, "posttrain", "gsm8k", name), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                gsm.append(d["question"] + "\n" + d["answer"])
    docs["gsm8k"] = gsm
    hh = []
    with gzip.open(os.path.join(data, "posttrain", "hh-rlhf-harmless", "test.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            hh += [d["chosen"], d["rejected"]]
    docs["hh-rlhf"] = hh
    si = []
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        with open(os.path.join(data, "posttrain", "self-instruct", name), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                parts = [d.get("instruction", "")]
                for inst in d.get("instances", []):
                    parts += [inst.get("input", ""), inst.get("output", "")]
                si.append("\n\n".join(p for p in parts if p))
    docs["self-instruct"] = si
    with open(os.path.join(data, "posttrain", "sharegpt", "conversations.json"), encoding="utf-8") as f:
        docs["sharegpt"] = [turn["value"] for conv in json.load(f)
                            for turn in conv.get("conversations", []) if turn.get("value")]
    filt = []
    with open(os.path.join(data, "filters", "datatrove_cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            t = json.loads(line).get("text")
            if t:
                filt.append(t)
    for path in sorted(glob.glob(os.path.join(data, "filters", "*.txt"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            filt.append(f.read())
    docs["filters"] = filt
    return docs


def cap(text, head=2000, window=1000):
    """The first `head` characters plus a `window` from the middle, for long documents."""
    if len(text) <= head + window:
        return [text]
    mid = len(text) // 2
    return [text[:head], text[mid:mid + window]]


def sample_evenly(items, n):
    if len(items) <= n:
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


SAMPLES = {"gsm8k": 700, "hh-rlhf": 400}


def golden_real_texts(winnow):
    out = []
    for source, texts in real_documents(winnow, need_commoncrawl=True).items():
        texts = sample_evenly(texts, SAMPLES.get(source, len(texts)))
        for t in texts:
            out += [(source, piece) for piece in cap(t) if piece]
    return out


# ---------------------------------------------------------------------------------------------------
# Generated edge cases

WHITESPACE = ["\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680"] + \
    [chr(c) for c in range(0x2000, 0x200B)] + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
# Look like space, are not \s.
NOT_WHITESPACE = ["\u180e", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\x1c", "\x1d", "\x1e",
                  "\x1f", "\x00", "\x7f"]
MARKS = ["\u0300", "\u0301", "\u0308", "\u0327", "\u20e3", "\ufe0f", "\u0903", "\u093f", "\u094d",
         "\u0e31", "\u0e48", "\u05b7", "\u064e", "\u0651", "\u0488", "\u1ab0", "\u302a", "\U0001d167"]
LETTERS = {
    "Lu": ["A", "Z", "\xc9", "\u0391", "\u0414", "\u212a", "\u0130", "\U00010400", "\uff21", "\u13a0"],
    "Ll": ["a", "z", "\xdf", "\u03b1", "\u0434", "\u017f", "\u0131", "\U00010428", "\uff41", "\u0149"],
    "Lt": ["\u01c5", "\u01c8", "\u01cb", "\u01f2", "\u1f88", "\u1ffc"],
    "Lm": ["\u02b0", "\u02bc", "\u02c6", "\u3005", "\u30fc", "\u1d43", "\uff70", "\u02e0"],
    "Lo": ["\xaa", "\xba", "\u4e2d", "\u3042", "\uac00", "\u05d0", "\u0627", "\u0915", "\u0e01",
           "\u1100", "\U00020000", "\u01bb"],
}
DIGITS = ["0", "7", "\u0660", "\u06f5", "\u0966", "\u0e51", "\uff11", "\xb2", "\xbd", "\u2167",
          "\u2460", "\U0001d7ce", "\u3007", "\U00010107"]
PUNCT = [".", ",", "!", "?", "/", "\\", "-", "_", "'", "\"", "(", ")", "[", "]", "{", "}", "<", ">",
         "@", "#", "$", "%", "^", "&", "*", "+", "=", "|", "~", "`", ":", ";", "\u2019", "\u2018",
         "\u201c", "\u2014", "\u2026", "\xa7", "\u20ac", "\xa9", "\u3002", "\uff01", "\u00bf"]
APOSTROPHES = ["'", "\u2019", "\u2018", "\u02bc", "\uff07", "`", "\xb4", "\u2032", "\u02b9"]
CONTRACTIONS = ["s", "t", "d", "m", "ll", "ve", "re"]
EMOJI = [
    "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family (ZWJ)
    "\U0001f469\u200d\U0001f4bb", "\U0001f3f3\ufe0f\u200d\U0001f308",
    "\U0001f1fa\U0001f1f8", "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea",  # flags
    "\U0001f44d\U0001f3fd", "\U0001f44b\U0001f3ff", "\U0001f9d1\U0001f3fb\u200d\U0001f52c",  # skin tones
    "1\ufe0f\u20e3", "#\ufe0f\u20e3", "*\u20e3",  # keycaps
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag sequence
    "\u2764\ufe0f", "\u263a", "\U0001f914",
]
SCRIPTS = [
    "Hello, world! It's 2024.",
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u5427\u3002",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u30ab\u30bf\u30ab\u30ca\u30fc\u3002",
    "\ud55c\uad6d\uc5b4 \ubb38\uc7a5\uc785\ub2c8\ub2e4.",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0643\u064a\u0641 \u062d\u0627\u0644\u0643\u061f",
    "\u0634\u064e\u0643\u0652\u0631\u064b\u0627 \u0661\u0662\u0663",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, \u05de\u05b8\u05d4 \u05e9\u05b0\u05c1\u05dc\u05d5\u05b9\u05de\u05b0\u05da\u05b8?",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e! \u0915\u094d\u0937\u093f\u0924\u093f \u0967\u0968\u0969",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0e19\u0e35\u0e48\u0e04\u0e37\u0e2d\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u0416\u0418\u041a",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5 \u0390\u03b0",
    "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u0532\u0561\u0580\u0565\u0582 \u1230\u120b\u121d",
    "\u13a0\u13a1\u13a2 \uab70\uab71 Cherokee",
    "\U00010400\U00010428 Deseret \U0001d400\U0001d41a math",
    "Stra\xdfe STRASSE \u1e9e\u0130stanbul \u0131\u0130",
    "na\u0457ve caf\xe9 cafe\u0301 \xc5ngstr\xf6m A\u030angstro\u0308m",
    "\uff28\uff45\uff4c\uff4c\uff4f\u3000\uff37\uff4f\uff52\uff4c\uff44\uff01\uff11\uff12\uff13",
    "mixed\u4e2d\u6587English\u0627\u0644\u0639\u0631\u0628\u064a\u0629\u0440\u0443\u0441\u0441\u043a\u0438\u0439",
    "\u01c4\u01c5\u01c6 \u01c5emal \u01c8ubljana \u01cbego \u01f2 DZ\u030c",
    "camelCaseString XMLHttpRequest iPhone eBay McDonald's O'Neil HTTPServer2",
    "\u02b0ello A\u02b0b \u02bcokina \u3005\u3005 \u30fc\u30fc\u30fc",
    "<|endoftext|> <|endofprompt|> <|fim_prefix|>x<|fim_suffix|>",
    "def f(x):\n\treturn x  # comment\r\n\n    if x == 1:\n        pass\n",
    "https://example.com/path/to/file.html?q=1&r=2#frag //comment /* c */ a/b/c",
    "$ 1,234,567.89 \u20ac12,50 \xa3100 50% 3.14159 -42 +7 1e10 0x1F 2024-01-01T12:00:00Z",
]


def edge_cases():
    cases = []
    add = cases.append
    all_ws = WHITESPACE + NOT_WHITESPACE
    for w in all_ws:
        for t in [w, w * 2, w * 3, w * 7, "a" + w, w + "a", "a" + w + "b", w + w + "a", "a" + w + w,
                  "a" + w * 3 + "b", w + "\n", "\n" + w, w + "\r\n", "\r\n" + w, w + "\n" + w,
                  "a" + w + "\nb", "a\n" + w + "b", w + " a", " " + w + "a", w + "  a", w + "1",
                  w + "!", "!" + w, "1" + w, w + "'s", w + "\u0301", w + "\u4e2d", "x" + w + "\n\n",
                  w + "\t", "\t" + w, "a " + w, w + " ", " " + w, "  " + w + "  ", w + "A", w + "Ab",
                  w + "\U0001f600"]:
            add(t)
    for w1 in WHITESPACE:
        for w2 in WHITESPACE:
            add(w1 + w2)
            add("x" + w1 + w2 + "y")
    for m in MARKS:
        for t in [m, m * 3, m + "abc", "e" + m, "E" + m, "1" + m, "12" + m + "3", " " + m, " " + m + "a",
                  "a " + m + "b", "!" + m, m + "'s", "A" + m + "b", "a" + m + "B", "\n" + m,
                  "\u4e2d" + m, "ab" + m + m + "cd", m + " ", "'" + m, "Ab" + m + "'S"]:
            add(t)
    for e in EMOJI:
        for t in [e, e + e, "a" + e, e + "a", " " + e, e + " ", "1" + e, e + "\n", "hi " + e + " there",
                  e + "'s", "A" + e + "B"]:
            add(t)
    for n in list(range(1, 21)) + [25, 31, 40]:
        d = "1234567890" * 4
        add(d[:n])
        add(" " + d[:n])
        add("a" + d[:n] + "b")
        add(d[:n] + " " + d[:n])
    for d in DIGITS:
        for t in [d, d * 2, d * 4, d * 7, "x" + d * 3, " " + d * 2, d + "a", "1" + d + "2", d + ".5"]:
            add(t)
    add("1,234,567.890 123 4567 12345678901234567890.5 v1.2.3 1/2/2024 00:00 08:15:59")
    for nl in ["\r\n", "\r", "\n", "\n\r", "\r\r\n", "\n\n", "\r\n\r\n"]:
        for t in [nl, "a" + nl + "b", nl + "a", "a" + nl, " " + nl + " a", "  " + nl + "  ", "a." + nl,
                  "." + nl + ".", "a " + nl + " b", "/" + nl, "x/" + nl + "/", "!" + nl * 2,
                  "\t" + nl + "\t", nl + " ", nl + "  x", "a" + nl + nl + nl + "b", "\u3000" + nl + "a"]:
            add(t)
    for a in APOSTROPHES:
        for c in CONTRACTIONS:
            for form in sorted({c, c.upper(), c.capitalize(), c[0] + c[1:].upper()}):
                for t in [a + form, "it" + a + form, "IT" + a + form, "It" + a + form, " " + a + form,
                          a + form + "x", a + form + " ", "1990" + a + form, "!" + a + form,
                          "\xe9" + a + form, "\u4e2d" + a + form, a + form + a + form]:
                    add(t)
    for t in ["it's", "it'\u017f", "IT'\u017f", "'\u017f", "'\u017ft", "it'\u212a", "'\u212a", "\u212a's",
              "\u212aelvin's", "K'LL", "I'M", "i'm", "You'RE", "WE'VE", "they'D", "don'T", "DON'T",
              "Don'T", "o'clock", "rock'n'roll", "'''", "''s", "'s's", "x'", "'", "' s", "'\ns",
              "'S", "'Ll", "'lL", "'vE", "'rE", "'Re", "\u01c5'S", "\u02b0'S", "\u0301's", "A\u0301'LL"]:
        add(t)
    for u in LETTERS["Lu"] + LETTERS["Lt"]:
        for l in LETTERS["Ll"]:
            add(u + l + l)
            add(l + u + l)
            add(" " + u + u + l + "'s")
    for cls, chars in LETTERS.items():
        for c in chars:
            for t in [c, c * 3, " " + c, "!" + c, c + "1", "1" + c, c + "A", c + "a", "A" + c, "a" + c,
                      "AB" + c + "cd", "ab" + c + "CD", c + "'S", c + "'re", "\n" + c, c + "\u0301",
                      "\u0301" + c]:
                add(t)
    for s in SCRIPTS:
        add(s)
        add(" " + s)
        add(s + "\n")
        add(s.upper())
        add(s.lower())
        add(s.title())
    for n in range(1, 18):
        for word in ["word", "Word", "WORD", "1", "!", "\u4e2d", "\u0301"]:
            add(" " * n + word)
            add("\t" * n + word)
            add("x" + " " * n + word)
        add("end" + " " * n)
        add("end" + "\t" * n)
        add("end" + " " * n + "\n")
        add(" " * n)
        add("a\n" + " " * n + "b")
        add("a" + " " * n + "\n" + " " * n + "b")
        add(" \t" * n + "z")
    for t in ["\t\tindented", " \t word", "\t \tword", "word\t\t", "a\t\nb", "a \t \n \t b",
              "\n\n\n\n", "\n \n \n", "   \n\n   x", "x\n\n\n   ", ". \n", " .\n\n", "a\u00a0b",
              "\u00a0\u00a0word", "word\u3000\u3000", "\u2028\u2029", "a\u0085b", "\u0085\n"]:
        add(t)
    for w in ["ＡＢＣａｂｃ", "ｈｅｌｌｏ　ｗｏｒｌｄ", "１２３４５", "！？。、", "Ｈｅｌｌｏ'ｓ", "ｶﾀｶﾅ ｰ"]:
        add(w)
        add(" " + w)
    # Every punctuation mark next to every kind of neighbour.
    for p in PUNCT:
        for t in [p, p * 3, " " + p, p + " ", " " + p + "a", p + "a", "a" + p, p + "\n", " " + p + "\r\n",
                  p + "/\n/", " " + p * 2 + "1", p + "\u0301", p + "'s", "\n" + p, "  " + p]:
            add(t)
    # Pairs over a small alphabet of classes (every adjacency the scanners distinguish).
    small = ["a", "A", "\u01c5", "\u02b0", "\u4e2d", "\u0301", "1", "\u0661", " ", "  ", "\t", "\n",
             "\r\n", "\u3000", "'", "'s", "'S", "'ll", ".", "/", "\U0001f600", "\x00"]
    for x in small:
        for y in small:
            add(x + y)
            add(x + y + x)
    # Characters Unicode 15.1/16.0 added (tiktoken's regex crate knows them; ICU 72 does not).
    for c in ["\u0897", "\u1c89", "\u1c8a", "\ua7cb", "\ua7cd", "\U000105c0", "\U00010d40",
              "\U00010d4e", "\U00010d50", "\U00010d69", "\U00010d70", "\U000113b8", "\U00011bc0",
              "\U00013460", "\U00016100", "\U0001e5f1", "\U0001ccf0", "\U0002ebf0"]:
        for t in [c, c * 3, "a" + c, c + "a", " " + c, "!" + c, c + "'s", "A" + c + "b", "1" + c,
                  c + "1", "\u4e2d" + c]:
            add(t)
    # Long pieces (the merge of pieces past a few hundred bytes takes another path).
    rng = random.Random(7)
    for t in ["a" * 300, "a" * 1000, "a" * 4000, "ab" * 1500, "abc" * 1000, "AbCd" * 500,
              "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3000)),
              "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(2000)),
              " " * 300, " " * 2000 + "x", "\n" * 500, "\t" * 300 + "y", " \n" * 400,
              "1" * 2000, "1234567890" * 100, "-" * 1000, "=-" * 500, "!?" * 300, "." * 2000,
              "\u4e2d\u6587\u5b57" * 333, "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35" * 200,
              "\U0001f600" * 300, "\u0301" * 500, "x" + "\u0301" * 400 + "'s",
              "data:image/png;base64," + "".join(rng.choice(
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(3000))]:
        add(t)
    seen, out = set(), []
    for t in cases:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


# ---------------------------------------------------------------------------------------------------
# Random strings


def fuzz_strings(n, seed):
    rng = random.Random(seed)
    pools = [
        (8, list("abcdefghijklmnopqrstuvwxyz")), (4, list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
        (4, list("0123456789")), (8, [" "]), (2, ["  ", "   "]), (3, ["\n", "\r\n", "\r", "\t"]),
        (3, WHITESPACE), (1, NOT_WHITESPACE), (4, PUNCT), (3, APOSTROPHES),
        (3, ["'" + c for c in CONTRACTIONS] + ["'" + c.upper() for c in CONTRACTIONS] +
         ["'\u017f", "'\u212a"]),
        (3, MARKS), (2, EMOJI), (3, sum(LETTERS.values(), [])), (2, DIGITS),
        (2, ["the", "The", "THE", " of", " and", "ing", "tion", "\u4e2d\u6587", "\u0915\u094d\u0937",
             "\u0e2a\u0e27\u0e31", "\u0645\u0631\u062d", "\u00e9t\u00e9", "\uff21\uff42"]),
    ]
    weights = [w for w, _ in pools]

    def random_cp():
        while True:
            r = rng.random()
            cp = rng.randrange(0x80, 0x800) if r < 0.3 else rng.randrange(0x800, 0x10000) \
                if r < 0.8 else rng.randrange(0x10000, 0x110000)
            if not 0xD800 <= cp <= 0xDFFF:
                return chr(cp)

    out = []
    for _ in range(n):
        if rng.random() < 0.1:
            # Long strings from two or three pools: long pieces and long runs.
            length = rng.choice([64, 128, 256, 512])
            few = rng.sample(pools, rng.choice([1, 2, 3]))
            parts = [rng.choice(rng.choice(few)[1]) for _ in range(length)]
        else:
            length = rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 24, 32])
            parts = []
            for _ in range(length):
                if rng.random() < 0.06:
                    parts.append(random_cp())
                else:
                    parts.append(rng.choice(rng.choices(pools, weights)[0][1]))
        out.append("".join(parts))
    return out


# ---------------------------------------------------------------------------------------------------
# Writing and comparing


def write_lines(path, rows, encodings):
    """rows: [(source, text)]; writes the golden JSONL.gz, the encodings of a text together."""
    encs = {name: load_encoding(name) for name in encodings}
    texts = [t for _, t in rows]
    ids = {name: enc.encode_ordinary_batch(texts, num_threads=4) for name, enc in encs.items()}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # mtime 0: the same texts give the same file
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as gz, \
            io.TextIOWrapper(gz, encoding="utf-8") as f:
        for i, (source, text) in enumerate(rows):
            for name in encodings:
                f.write(json.dumps({"text": text, "encoding": name, "source": source,
                                    "ids": ids[name][i]}, ensure_ascii=False) + "\n")
    return len(rows), sum(len(t.encode("utf-8")) for t in texts)


def run_cpp(build, path):
    binary = os.path.join(build, "tests", "tokenizer_test")
    env = dict(os.environ, WINNOW_TIKTOKEN_GOLDEN=os.path.abspath(path))
    r = subprocess.run([binary, "--gtest_filter=TiktokenParity.MatchesGoldenFile"], env=env,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout[-20000:])
    return r.returncode


def tiktoken_classes():
    """{class: [[first, last], ...]}: the code points tiktoken's regex engine puts in each class.
    An Encoding whose pattern is the class alone and whose ranks are the 256 bytes encodes only
    the characters that match, one byte a token."""
    import tiktoken
    import tiktoken.load

    ranks = tiktoken.load.load_tiktoken_bpe(os.path.join(TOKENIZERS, "r50k_base.tiktoken"))
    byte_ranks = {k: v for k, v in ranks.items() if len(k) == 1}
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    out = {}
    for cls in ["\\p{L}", "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}", "\\p{M}",
                "\\p{N}", "\\s"]:
        enc = tiktoken.Encoding(name="cls", pat_str=cls, mergeable_ranks=byte_ranks,
                                special_tokens={})
        ranges = []
        for ch in enc.decode_bytes(enc.encode_ordinary(every)).decode("utf-8"):
            c = ord(ch)
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
        out[cls] = ranges
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", nargs="?", const=GOLDEN, default=None)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--fuzz", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", metavar="OUT", default=None)
    ap.add_argument("--winnow", default=os.path.join(ROOT, "build", "services", "winnow"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build-tok"))
    ap.add_argument("--keep", default=None, help="keep the compared JSONL.gz here")
    args = ap.parse_args()

    if args.classes:
        with open(args.classes, "w") as f:
            json.dump(tiktoken_classes(), f)
        return 0
    if args.fuzz or args.full:
        if args.fuzz:
            rows = [("fuzz", t) for t in fuzz_strings(args.fuzz, args.seed)]
        else:
            rows = [(s, t) for s, texts in real_documents(args.winnow).items() for t in texts]
        tmp = tempfile.mkdtemp(prefix="tiktoken-parity-")
        path = args.keep or os.path.join(tmp, "cases.jsonl.gz")
        n, size = write_lines(path, rows, GOLDEN_ENCODINGS)
        print(f"{n} texts, {size} bytes, {len(GOLDEN_ENCODINGS)} encodings → {path}")
        rc = run_cpp(args.build, path)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        return rc
    path = args.write or GOLDEN
    rows = [("edge", t) for t in edge_cases()] + golden_real_texts(args.winnow)
    n, size = write_lines(path, rows, GOLDEN_ENCODINGS)
    by_source = {}
    for s, t in rows:
        by_source.setdefault(s, [0, 0])
        by_source[s][0] += 1
        by_source[s][1] += len(t.encode("utf-8"))
    for s, (k, b) in by_source.items():
        print(f"  {s:15s} {k:6d} texts {b:9d} bytes")
    print(f"{n} texts, {size} bytes, {n * len(GOLDEN_ENCODINGS)} lines, "
          f"{os.path.getsize(path)} bytes compressed → {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
