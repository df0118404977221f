#!/usr/bin/env python3
"""How closely winnow's word/sentence splitter (pipeline/text/words.h) agrees with the reference.

The reference is what datatrove runs for English: spaCy's `spacy.blank("en")` tokenizer (word tokens
with whitespace tokens dropped and the rest stripped: `SpaCyTokenizer.word_tokenize`) and its
rule-based sentencizer (`SpaCyTokenizer.sent_tokenize`: sentence texts, stripped, empty ones dropped).

Modes
  (default)        measure agreement on a real-text corpus and print the figures
  --fuzz N         compare on N random strings built from the pieces the tokenizer rules care about
  --speed          single-core speed of the C++ splitter and of spaCy on the corpus
  --write-golden F write F = tests/pipeline/text/testdata/spacy_tokens.jsonl, the golden file that
                   tests/pipeline/text/spacy_agreement_test.cc checks (a few hundred paragraphs)
  --write-tables F write F = pipeline/text/spacy_en_data.inc, the character classes, affix lists and
                   tokenizer exceptions of spaCy's English tokenizer as data for the C++ splitter

The corpus: the texts `winnow run ../shared/data/commoncrawl` extracts (filters off, exported as
JSONL), the text of every extraction-dev `expected.html` (tags stripped with lxml), the texts of
datatrove_cases.jsonl, and two extras: the first 300 ShareGPT conversations, and the 4,712 texts of
the filter parity corpus (tests/filters/testdata/datatrove_golden.jsonl.gz: pages `winnow extract`
gives, hh-rlhf, ShareGPT, GSM8K, self-instruct).

The C++ side is run through the text_test binary: the (normally skipped) test
SpacyAgreement.DumpTokenization reads WINNOW_TOKENIZE_IN (JSONL of {"text"}) and writes
WINNOW_TOKENIZE_OUT (JSONL of {"tokens", "sentences"}).

Usage (from the repository root, after building text_test into build-text/):
  python3 bench/tokenizer_agreement.py [--build build-text] [--winnow build/services/winnow]
"""

import argparse
import difflib
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")


# ---------------------------------------------------------------------------------------------------
# The reference


class Reference:
    def __init__(self):
        import spacy

        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")

    def words(self, text):
        self.nlp.max_length = len(text) + 10
        doc = self.nlp(text, disable=["sentencizer"])
        return [t.text.strip() for t in doc if t.text.strip()]

    def spans(self, text):
        self.nlp.max_length = len(text) + 10
        return [[s.start_char, s.end_char] for s in self.nlp(text).sents]

    def sentences(self, text):
        self.nlp.max_length = len(text) + 10
        doc = self.nlp(text)
        return [s.text.strip() for s in doc.sents if s.text.strip()]


# ---------------------------------------------------------------------------------------------------
# The corpus


def html_text(path):
    import lxml.html

    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        return ""
    root = lxml.html.fromstring(raw)
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    blocks = []
    for el in root.iter():
        if el.tag in ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "td", "dd", "dt"):
            t = el.text_content().strip()
            if t:
                blocks.append(t)
    if not blocks:
        blocks = [root.text_content().strip()]
    return "\n\n".join(blocks)


def export_commoncrawl(winnow):
    tmp = tempfile.mkdtemp(prefix="tokagree-")
    data_dir, out_dir = os.path.join(tmp, "data"), os.path.join(tmp, "out")
    config = os.path.join(tmp, "no-filters.yaml")  # every extracted page, not only the kept ones
    with open(config, "w") as f:
        f.write("filters:\n  order: []\n")
    subprocess.run([winnow, "run", os.path.join(SHARED, "data", "commoncrawl"), "--config", config,
                    "--data-dir", data_dir], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run([winnow, "export", "--data-dir", data_dir, "--format", "jsonl", "--out", out_dir],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    texts = []
    for path in sorted(glob.glob(os.path.join(out_dir, "*.jsonl*"))):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line)["text"])
    return texts


def corpus(winnow, with_chat=True):
    """[(source, text)], documents of real text."""
    docs = []
    if winnow and os.path.exists(winnow):
        docs += [("commoncrawl", t) for t in export_commoncrawl(winnow)]
    else:
        print(f"note: {winnow} not found, commoncrawl texts skipped", file=sys.stderr)
    for path in sorted(glob.glob(os.path.join(SHARED, "data", "extraction-dev", "*", "expected.html"))):
        t = html_text(path)
        if t.strip():
            docs.append(("extraction-dev", t))
    with open(os.path.join(SHARED, "data", "filters", "datatrove_cases.jsonl"), encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            if case.get("text"):
                docs.append(("datatrove_cases", case["text"]))
    if with_chat:
        path = os.path.join(ROOT, "tests", "filters", "testdata", "datatrove_golden.jsonl.gz")
        if os.path.exists(path):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    t = json.loads(line).get("text")
                    if t:
                        docs.append(("parity-corpus", t))
        path = os.path.join(SHARED, "data", "posttrain", "sharegpt", "conversations.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                convs = json.load(f)
            for conv in convs[:300]:
                t = "\n\n".join(turn.get("value", "") for turn in conv.get("conversations", []))
                if t.strip():
                    docs.append(("sharegpt", t))
    return docs


def paragraphs(docs, limit, max_chars=1500):
    """Up to `limit` paragraphs, taken round-robin from each source and spread over its documents."""
    by_source = {}
    for source, text in docs:
        for p in re.split(r"\n\s*\n", text):
            p = p.strip()
            if 20 <= len(p) <= max_chars:
                by_source.setdefault(source, []).append(p)
    # every source gets an evenly spaced selection; round-robin until the limit
    spread = {}
    for source, paras in by_source.items():
        step = max(1, len(paras) // limit)
        spread[source] = paras[::step]
    picks, i = [], 0
    while len(picks) < limit and any(i < len(v) for v in spread.values()):
        for source, paras in spread.items():
            if i < len(paras) and len(picks) < limit:
                picks.append((source, paras[i]))
        i += 1
    return picks


# ---------------------------------------------------------------------------------------------------
# The C++ side


def run_cpp(build, texts):
    binary = os.path.join(build, "tests", "text_test")
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        env = dict(os.environ, WINNOW_TOKENIZE_IN=inp, WINNOW_TOKENIZE_OUT=out)
        subprocess.run([binary, "--gtest_filter=SpacyAgreement.DISABLED_DumpTokenization",
                        "--gtest_also_run_disabled_tests"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            return [json.loads(line) for line in f]


def token_agreement(ref, got):
    """Matched tokens (difflib) over the larger of the two counts."""
    if not ref and not got:
        return 0, 0
    sm = difflib.SequenceMatcher(a=ref, b=got, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks())
    return matched, max(len(ref), len(got))


def measure(args):
    ref = Reference()
    docs = corpus(args.winnow)
    texts = [t for _, t in docs]
    ours = run_cpp(args.build, texts)
    by_source = {}
    diffs = []
    for (source, text), got in zip(docs, ours):
        want_w, want_s = ref.words(text), ref.sentences(text)
        s = by_source.setdefault(source, dict(docs=0, exact=0, matched=0, total=0, sent_exact=0,
                                               sent_ref=0, sent_ours=0, chars=0))
        s["docs"] += 1
        s["chars"] += len(text)
        s["exact"] += want_w == got["tokens"]
        m, n = token_agreement(want_w, got["tokens"])
        s["matched"] += m
        s["total"] += n
        s["sent_exact"] += len(want_s) == len(got["sentences"])
        s["sent_ref"] += len(want_s)
        s["sent_ours"] += len(got["sentences"])
        if want_w != got["tokens"]:
            sm = difflib.SequenceMatcher(a=want_w, b=got["tokens"], autojunk=False)
            for op, a0, a1, b0, b1 in sm.get_opcodes():
                if op != "equal":
                    diffs.append((source, want_w[max(0, a0 - 2):a1 + 2], got["tokens"][max(0, b0 - 2):b1 + 2]))
    total = dict(docs=0, exact=0, matched=0, total=0, sent_exact=0, sent_ref=0, sent_ours=0, chars=0)
    print(f"{'source':<16}{'docs':>6}{'chars':>10}{'exact docs':>12}{'token agr.':>12}"
          f"{'sent. count =':>15}{'sent ref/ours':>16}")
    for source, s in list(by_source.items()) + [("all", None)]:
        if s is None:
            s = total
        else:
            for k in total:
                total[k] += s[k]
        print(f"{source:<16}{s['docs']:>6}{s['chars']:>10}{100 * s['exact'] / s['docs']:>11.1f}%"
              f"{100 * s['matched'] / max(1, s['total']):>11.2f}%{100 * s['sent_exact'] / s['docs']:>14.1f}%"
              f"{s['sent_ref']:>9}/{s['sent_ours']:<6}")
    if args.show_diffs:
        for source, a, b in diffs[: args.show_diffs]:
            print(f"[{source}] spacy={a!r}\n{'':>{len(source) + 3}}ours ={b!r}")


def fuzz_texts(n, seed=1):
    """Random strings built from the pieces the tokenizer rules care about."""
    import random

    rng = random.Random(seed)
    pieces = ["word", "Word", "WORD", "a", "I", "don't", "can't", "it's", "y'all", "o'clock", "'s", "n't",
              ".", "..", "...", "…", ",", ";", ":", "!", "?", "'", '"', "(", ")", "[", "]", "{", "}", "-", "--",
              "—", "–", "~", "/", "+", "*", "^", "=", "<", ">", "#", "$", "US$", "€", "%", "°", "°C", "km",
              "5", "12", "3.5", "1,000", "10", "127.0.0.1", "8.8.8.8", "e.g.", "i.e.", "Mr.", "U.S.", "a.m.",
              "p.m.", "5pm", ":)", ":-(", "<3", "😀", "™", "©", "http://", "https://x.org/a?b=c", "www.",
              "example.com", "me@example.org", "é", "ß", "Ω", "中文", "日本", "ا", " ", " ", " ", "  ", "\n",
              "\n\n", "\t", "\u00a0", "’", "‘", "“", "”", "«", "»", "_", "&", "@", "|", "\\", "·", "¿", "¡"]
    out = []
    for _ in range(n):
        k = rng.randint(1, 25)
        parts = []
        for _ in range(k):
            if rng.random() < 0.15:  # any code point at all
                cp = rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0x300, 0xFFFF), rng.randint(0x10000, 0x2FFFF)])
                parts.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "x")
            else:
                parts.append(rng.choice(pieces))
        out.append("".join(parts))
    return out


def fuzz(args):
    ref = Reference()
    texts = fuzz_texts(args.fuzz, args.seed)
    ours = run_cpp(args.build, texts)
    bad_words = bad_sents = 0
    shown = 0
    for text, got in zip(texts, ours):
        w, s = ref.words(text), ref.sentences(text)
        if w != got["tokens"]:
            bad_words += 1
            if shown < args.show_diffs:
                shown += 1
                print(f"text={text!r}\n  spacy={w}\n  ours ={got['tokens']}")
        if len(s) != len(got["sentences"]) or ref.spans(text) != got["spans"]:
            bad_sents += 1
            if shown < args.show_diffs:
                shown += 1
                print(f"text={text!r}\n  spacy sents={s} {ref.spans(text)}\n"
                      f"  ours  sents={got['sentences']} {got['spans']}")
    print(f"fuzz: {len(texts)} strings, token sequences differ on {bad_words}, sentences (count or spans) "
          f"on {bad_sents}")


def speed(args):
    """Single-core speed of the C++ splitter and of spaCy on the same corpus."""
    import time

    docs = corpus(args.winnow, with_chat=False)
    texts = [t for _, t in docs]
    size = sum(len(t.encode()) for t in texts)
    binary = os.path.join(args.build, "tests", "text_test")
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        env = dict(os.environ, WINNOW_TOKENIZE_IN=inp, WINNOW_TOKENIZE_ROUNDS=str(args.rounds))
        taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        out = subprocess.run(taskset + [binary, "--gtest_filter=SpacyAgreement.DISABLED_Speed",
                                        "--gtest_also_run_disabled_tests"], check=True, env=env,
                             capture_output=True, text=True).stdout
        ours = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    ref = Reference()
    tokenizer = ref.nlp.tokenizer  # the bare tokenizer: the fastest way spaCy gives the tokens
    for t in texts[:20]:
        tokenizer(t)
    start = time.perf_counter()
    for t in texts:
        tokenizer(t)
    words_s = time.perf_counter() - start
    start = time.perf_counter()
    for t in texts:
        ref.sentences(t)
    sentences_s = time.perf_counter() - start
    print(f"corpus: {len(texts)} documents, {size / 1e6:.2f} MB of UTF-8")
    print(f"{'':28}{'winnow MB/s':>12}{'spaCy MB/s':>12}{'speed-up':>10}")
    for name, mine, secs in (("words (SplitWords)", ours["split_words_mb_s"], words_s),
                             ("sentences (CountSentences)", ours["count_sentences_mb_s"], sentences_s)):
        theirs = size / secs / 1e6
        print(f"{name:28}{mine:>12.1f}{theirs:>12.2f}{mine / theirs:>9.0f}x")


def write_golden(args):
    ref = Reference()
    docs = corpus(args.winnow)
    picks = paragraphs(docs, args.golden_count)
    # a few hand-picked edge cases on top of the corpus paragraphs
    extra = [
        "Don't stop-believing, y'all: it's 5:30p.m. in the U.S. (e.g. NYC)!",
        "Visit https://example.com/path?q=1, or mail me@example.org... Thanks!!",
        "He said \"Wow.\" Then: 'Great.' [1] $100, 50% off -- 3.14 vs. 2,000km.",
        "Mr. Smith's dog (aged 3) isn't here; Dr. Jones's cat, however, is...",
        "First line.\nSecond line!\n\n  Third? Fourth.",
    ]
    picks += [("handpicked", t) for t in extra]
    os.makedirs(os.path.dirname(os.path.abspath(args.write_golden)), exist_ok=True)
    size = 0
    with open(args.write_golden, "w", encoding="utf-8") as f:
        for source, text in picks:
            line = json.dumps({"source": source, "text": text, "tokens": ref.words(text),
                               "sentences": ref.sentences(text)}, ensure_ascii=False)
            size += len(line.encode()) + 1
            f.write(line + "\n")
    print(f"wrote {len(picks)} paragraphs, {size} bytes, to {args.write_golden}")


# ---------------------------------------------------------------------------------------------------
# Tables for the C++ splitter


def c_string(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\x01":
            out.append("\\001")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\%03o" % ord(ch))
        elif ch == "?":
            out.append("\\?")  # no trigraphs
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_tables(args):
    import spacy
    from spacy.attrs import ORTH
    from spacy.lang import char_classes as cc
    from spacy.pipeline.sentencizer import Sentencizer

    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    dot_lookbehind = "0-9{al}{e}{p}(?:{q})".format(al=cc.ALPHA_LOWER, e=r"%²\-\+", q=cc.CONCAT_QUOTES, p=cc.PUNCT)
    # (flag name, predicate on one character); the bit order is the order here
    cls = lambda body: re.compile("[" + body + "]").fullmatch
    flags = [
        ("kAlpha", cls(cc.ALPHA)),
        ("kLower", cls(cc.ALPHA_LOWER)),
        ("kUpper", cls(cc.ALPHA_UPPER)),
        ("kIcon", cls(cc.ICONS)),
        ("kQuote", cls(cc.CONCAT_QUOTES)),
        # a prefix on its own ('+' is a prefix only when no digit follows: handled in code)
        ("kPrefix", lambda c: c != "+" and (m := tok.prefix_search(c)) is not None and m.end() == 1),
        # a suffix whatever precedes it (after "\0", which no look-behind accepts)
        ("kSuffix", lambda c: (m := tok.suffix_search("\0" + c)) is not None and m.start() == 1),
        ("kDotAfter", cls(dot_lookbehind)),  # '.' after it is a suffix
        ("kSpace", str.isspace),
        ("kPyAlpha", str.isalpha),
        ("kUnicodePunct", lambda c: unicodedata.category(c).startswith("P")),
        ("kSentenceEnd", lambda c: c in Sentencizer.default_punct_chars),
        ("kDatatrovePunct", lambda c: c in PUNCTUATION_SET),
        ("kTerminalPunct", lambda c: c in TERMINAL_PUNCTUATION),
        ("kWordChar", re.compile(r"\w").fullmatch),
        ("kDigit", re.compile(r"\d").fullmatch),
        ("kLineBreak", lambda c: len(("a" + c + "a").splitlines()) == 2),
    ]
    runs, prev = [], None
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            mask = 0
        else:
            c = chr(cp)
            mask = 0
            for bit, (_, pred) in enumerate(flags):
                if pred(c):
                    mask |= 1 << bit
        if mask != prev:
            runs.append((cp, mask))
            prev = mask

    exceptions = []
    for key, toks in sorted(tok.rules.items()):
        orths = [t[ORTH] for t in toks]
        assert "".join(orths) == key, key
        exceptions.append("\x01".join(orths))

    lines = [
        "// Generated by bench/tokenizer_agreement.py --write-tables from spaCy "
        + spacy.__version__ + " (MIT) and datatrove (Apache-2.0): data only.",
        "// clang-format off",
        "// Character flags, one bit each, in this order:",
    ]
    for bit, (name, _) in enumerate(flags):
        lines.append(f"//   bit {bit:2d}: {name}")
    lines.append("#ifdef WINNOW_SPACY_EN_CHARS")
    lines.append("constexpr std::string_view kCharFlagNames[] = {")
    lines.append("    " + ", ".join(c_string(name) for name, _ in flags) + "};")
    lines.append("")
    lines.append("// (first code point of a run, flags of every code point in the run), ascending.")
    lines.append("constexpr CharRun kCharRuns[] = {")
    row = []
    for cp, mask in runs:
        row.append(f"{{0x{cp:X},0x{mask:X}}}")
        if len(row) == 8:
            lines.append("    " + ",".join(row) + ",")
            row = []
    if row:
        lines.append("    " + ",".join(row) + ",")
    lines.append("};")
    lines.append("#endif  // WINNOW_SPACY_EN_CHARS")
    lines.append("")
    lines.append("#ifdef WINNOW_SPACY_EN_TOKENIZER")
    lines.append("// Currency signs, a suffix after a digit (US$, C$ and A$ are also prefixes).")
    lines.append("constexpr std::string_view kCurrencies[] = {")
    lines.append("    " + ", ".join(c_string(c.replace("\\", "")) for c in cc.LIST_CURRENCY) + "};")
    lines.append("// Units, a suffix after a digit.")
    lines.append("constexpr std::string_view kUnits[] = {")
    lines.append("    " + ", ".join(c_string(u) for u in cc.LIST_UNITS) + "};")
    lines.append("")
    lines.append("// Tokenizer exceptions: the tokens of each special string, separated by \\001.")
    lines.append("constexpr std::string_view kExceptions[] = {")
    for e in exceptions:
        lines.append(f"    {c_string(e)},")
    lines.append("};")
    lines.append("#endif  // WINNOW_SPACY_EN_TOKENIZER")
    lines.append("// clang-format on")
    with open(args.write_tables, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {len(runs)} runs and {len(exceptions)} exceptions to {args.write_tables}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build-text"), help="build dir with tests/text_test")
    p.add_argument("--winnow", default=os.path.join(ROOT, "build", "services", "winnow"))
    p.add_argument("--write-golden", metavar="FILE")
    p.add_argument("--golden-count", type=int, default=400)
    p.add_argument("--write-tables", metavar="FILE")
    p.add_argument("--fuzz", type=int, default=0, metavar="N", help="compare on N random strings instead")
    p.add_argument("--seed", type=int, default=1, help="seed of the --fuzz strings")
    p.add_argument("--speed", action="store_true", help="time the C++ splitter and spaCy instead")
    p.add_argument("--rounds", type=int, default=5, help="passes over the corpus for --speed")
    p.add_argument("--show-diffs", type=int, default=0, metavar="N", help="print the first N differences")
    args = p.parse_args()
    if args.write_tables:
        write_tables(args)
    elif args.speed:
        speed(args)
    elif args.fuzz:
        fuzz(args)
    elif args.write_golden:
        write_golden(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
