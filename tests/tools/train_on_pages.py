#!/usr/bin/env python3
"""The whole path on real English pages: crawl-like WARC → `winnow run` (the default FineWeb
recipe, dedup included) → `winnow train` (`tiny`, GPT-2's tokenizer) → `winnow sample`.

    python3 tests/tools/train_on_pages.py WINNOW_BINARY SHARED_DIR

The pages are the English articles of SHARED/data/extraction-dev (tests/tools/pages_warc.py).
Checks: most pages survive the filters; the untrained validation loss is near ln(50257) (a
uniform guess); 80 steps bring it down by more than 2 nats; sampling the checkpoint gives text.
Exit 0 on success, 1 on a failed check.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"FAILED: {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def check(condition, message):
    if not condition:
        print("FAILED: " + message)
        sys.exit(1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    winnow, shared = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="winnow-pages-") as tmp:
        warc = os.path.join(tmp, "CC-MAIN-2099-05-pages.warc")
        pages = int(run(sys.executable, os.path.join(HERE, "pages_warc.py"), shared, warc))
        data = os.path.join(tmp, "data")
        run(winnow, "run", "-q", warc, "--data-dir", data)
        stats = json.loads(run(winnow, "stats", "--data-dir", data, "--json"))
        kept = stats["total"]["counters"]["write/kept"]
        print(f"{pages} English pages, {kept} kept by the default recipe")
        check(pages >= 50 and kept >= pages // 2, f"only {kept} of {pages} pages kept")

        config = os.path.join(tmp, "train.yaml")
        with open(config, "w") as f:
            f.write(f"model: tiny\ndata_dir: {data}\ntokenizer: gpt2\nsteps: 80\nbatch_size: 4\n"
                    "seq_len: 64\nlr: 0.004\nwarmup_steps: 5\neval_every: 40\neval_batches: 4\n"
                    "threads: 2\n")
        out = os.path.join(tmp, "out")
        run(winnow, "train", "--config", config, "--out", out)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        val = [(m["step"], m["val_loss"]) for m in lines if "val_loss" in m]
        print("validation loss by step: " + ", ".join(f"{s}: {v:.3f}" for s, v in val))
        check(val[0][0] == 0 and abs(val[0][1] - math.log(50257)) < 0.5,
              f"untrained validation loss {val[0]} is not near ln 50257 = {math.log(50257):.2f}")
        check(val[-1][0] == 80 and val[-1][1] < val[0][1] - 2.0,
              f"validation loss fell only from {val[0][1]:.3f} to {val[-1][1]:.3f}")

        text = run(winnow, "sample", "--checkpoint", out, "--prompt", "The", "--max-tokens", "30",
                   "--top-k", "40", "--seed", "1")
        print(f"sample: {text.strip()!r}")
        check(sum(c.isalpha() for c in text) >= 10, f"the sample holds hardly any letters: {text!r}")
    print("tiny learned from the curated pages")


if __name__ == "__main__":
    main()
