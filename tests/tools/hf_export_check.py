#!/usr/bin/env python3
"""Our Hugging Face GPT-2 export in transformers.

Runs the disabled HfExport.DISABLED_WriteForTransformers test of TRAIN_TEST (a random small GPT-2
exported with trainer/train/hf_export.h, plus tokens and our logits), loads the folder with
GPT2LMHeadModel.from_pretrained (no missing or unexpected keys, no warnings) and compares its
logits on the same tokens with ours.

usage: hf_export_check.py TRAIN_TEST [WORK_DIR]
Exit 0 when the logits match, 1 on a mismatch or a load problem, 77 (skip) without transformers or
torch.
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import system_python  # noqa: E402

system_python.add_oracle_dir()
try:
    import torch
    import transformers
    from transformers import GPT2LMHeadModel
except ImportError:
    system_python.rerun_under_system_python()
    print("SKIP: torch and transformers are needed")
    sys.exit(77)

# fp32 against fp32 with a different summation order: largest error relative to the largest logit.
TOLERANCE = 1e-4


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    train_test = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="winnow_hf_export_") as tmp:
        work = sys.argv[2] if len(sys.argv) > 2 else tmp
        os.makedirs(work, exist_ok=True)
        env = dict(os.environ, WINNOW_HF_EXPORT_DIR=work)
        run = subprocess.run([train_test, "--gtest_also_run_disabled_tests",
                              "--gtest_filter=HfExport.DISABLED_WriteForTransformers"],
                             env=env, capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout + run.stderr)
            print("FAIL: the export test failed")
            return 1
        with open(os.path.join(work, "ours.json")) as f:
            ours = json.load(f)
        B, T, V = ours["batch"], ours["seq_len"], ours["vocab_size"]

        transformers.logging.set_verbosity_warning()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, info = GPT2LMHeadModel.from_pretrained(os.path.join(work, "hf"),
                                                          output_loading_info=True)
        problems = {k: v for k, v in info.items() if v}
        if problems:
            print(f"FAIL: loading info {problems}")
            return 1
        relevant = [w for w in caught if "export" in str(w.filename) or
                    "transformers" in str(w.filename)]
        for w in relevant:
            print(f"warning while loading: {w.message}")
        model.eval()
        if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
            print("FAIL: lm_head is not tied to wte")
            return 1
        tokens = torch.tensor(ours["tokens"], dtype=torch.long).view(B, T)
        with torch.no_grad():
            theirs = model(tokens).logits.float()
        expected = torch.tensor(ours["logits"], dtype=torch.float32).view(B, T, V)
        if theirs.shape != expected.shape:
            print(f"FAIL: logits shape {tuple(theirs.shape)}, ours {tuple(expected.shape)}")
            return 1
        max_abs = (theirs - expected).abs().max().item()
        scale = expected.abs().max().item()
        rel = max_abs / max(scale, 1e-12)
        print(f"transformers {transformers.__version__}, torch {torch.__version__}: "
              f"logits ({B}, {T}, {V}) max |diff| {max_abs:.3e}, max |logit| {scale:.3e}, "
              f"relative {rel:.3e} (tolerance {TOLERANCE:g})")
        if rel > TOLERANCE:
            print("FAIL: logits differ")
            return 1
        print("OK")
        return 0


if __name__ == "__main__":
    sys.exit(main())
