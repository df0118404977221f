#!/usr/bin/env python3
"""The GPT-2 CPU reference against PyTorch.

Runs the disabled GptParity.DISABLED_DumpForPyTorch test of MODEL_TEST (our parameters, a batch,
our logits, loss, gradients and ten AdamW training losses, as .npy files), rebuilds the same GPT-2
in PyTorch (float64) from those parameters and compares: logits, loss, the gradient of every
tensor, and the losses of ten steps of clipping + torch.optim.AdamW. Then, on the trained
parameters, a batch of packed documents with the document mask (Gpt::SetDocumentMask): torch builds
the boolean mask from the tokens and logits, loss and every gradient must match again.

usage: gpt_torch_parity.py MODEL_TEST [WORK_DIR]
Exit 0 when everything matches, 1 on a mismatch, 77 (skip) when torch or numpy is missing.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import system_python  # noqa: E402

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    system_python.rerun_under_system_python()
    print("SKIP: torch (and numpy) are needed: apt-get install python3-torch")
    sys.exit(77)

# fp32 (ours) against float64 (torch): each tensor's largest error relative to its largest value.
TOLERANCE = 1e-5  # what we see: ~4e-7


def rebuild(flat, cfg):
    """Named float64 leaf tensors from the flat buffer, in GptLayout's order."""
    params = {}
    for t in cfg["tensors"]:
        size = int(np.prod(t["shape"]))
        data = flat[t["offset"]:t["offset"] + size].reshape(t["shape"])
        params[t["name"]] = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    return params


def attention_mask(tokens, eot):
    """(B, 1, T, T) booleans, True where position t may attend to s: s ≤ t, and with an end-of-text
    id eot, s not before the last eot at or before t (t's document starts there, or at 0)."""
    B, T = tokens.shape
    position = torch.arange(T)
    allowed = (position[None, :] <= position[:, None]).expand(B, T, T)  # [b, t, s]: s ≤ t
    if eot is not None:
        eot_at = torch.where(tokens == eot, position, torch.zeros_like(position))
        doc_start = torch.cummax(eot_at, dim=1).values  # (B, T)
        allowed = allowed & (position[None, None, :] >= doc_start[:, :, None])
    return allowed[:, None]


def forward(p, tokens, targets, cfg, eot=None):
    """GPT-2 as HF's GPT2LMHeadModel computes it; weights are (out, in) like nn.Linear. With eot,
    attention stays within the documents that end-of-text tokens delimit."""
    V, L, NH, C = cfg["vocab_size"], cfg["num_layers"], cfg["num_heads"], cfg["channels"]
    B, T = tokens.shape
    hs = C // NH
    mask = attention_mask(tokens, eot)
    x = p["wte"][tokens] + p["wpe"][:T]
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = (z.view(B, T, NH, hs).transpose(1, 2) for z in qkv.split(C, dim=-1))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(h @ p["fcw"][l].T + p["fcb"][l], approximate="tanh")
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = x @ p["wte"].T  # tied LM head, padded columns included
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def relative_error(ours, reference):
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    scale = max(np.abs(reference).max(), 1e-12)
    return np.abs(ours - reference).max() / scale


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if len(sys.argv) > 2:
        os.makedirs(sys.argv[2], exist_ok=True)
        return compare(sys.argv[1], sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="winnow_gpt_parity_") as work:
        return compare(sys.argv[1], work)


def compare(binary, work):
    env = dict(os.environ, WINNOW_GPT_PARITY_DIR=work)
    run = subprocess.run([binary, "--gtest_also_run_disabled_tests",
                          "--gtest_filter=GptParity.DISABLED_DumpForPyTorch"],
                         env=env, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr)
        print("FAIL: the dump test failed")
        return 1

    cfg = json.load(open(os.path.join(work, "config.json")))
    load = lambda name: np.load(os.path.join(work, name + ".npy"))
    tokens = torch.tensor(load("tokens"), dtype=torch.long)
    targets = torch.tensor(load("targets"), dtype=torch.long)
    torch.manual_seed(0)
    failures = []

    def check(what, error, tolerance=TOLERANCE):
        ok = error <= tolerance
        print(f"  {what:<22} max error / max |value| = {error:.2e} {'ok' if ok else 'FAIL'}")
        if not ok:
            failures.append(what)

    params = rebuild(load("params"), cfg)
    logits, loss = forward(params, tokens, targets, cfg)
    loss.backward()
    V = cfg["vocab_size"]
    print(f"loss: ours {float(load('loss')[0]):.7f}  torch {loss.item():.7f}")
    check("loss", abs(float(load("loss")[0]) - loss.item()) / abs(loss.item()))
    check("logits", relative_error(load("logits")[..., :V], logits.detach()[..., :V].numpy()))
    check("padded logits", np.abs(load("logits")[..., V:]).max(), 0.0)
    grads = load("grads")
    for t in cfg["tensors"]:
        size = int(np.prod(t["shape"]))
        ours = grads[t["offset"]:t["offset"] + size].reshape(t["shape"])
        check("grad " + t["name"], relative_error(ours, params[t["name"]].grad.numpy()))

    # Training: the same steps with torch's AdamW (decay on the tensors our layout marks).
    params = rebuild(load("params"), cfg)
    decay = [params[t["name"]] for t in cfg["tensors"] if t["weight_decay"]]
    no_decay = [params[t["name"]] for t in cfg["tensors"] if not t["weight_decay"]]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    ours = load("train_losses")
    theirs = []
    for _ in range(len(ours)):
        optimizer.zero_grad()
        _, loss = forward(params, tokens, targets, cfg)
        theirs.append(loss.item())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), cfg["max_norm"])
        optimizer.step()
    print("training losses (ours / torch):")
    for step, (a, b) in enumerate(zip(ours, theirs)):
        print(f"  step {step}: {a:.7f} {b:.7f}  diff {a - b:+.1e}")
    check("training losses", max(abs(a - b) / abs(b) for a, b in zip(ours, theirs)))
    flat = np.concatenate([params[t["name"]].detach().numpy().ravel() for t in cfg["tensors"]])
    check("trained parameters", relative_error(load("trained_params"), flat), 1e-4)

    # Packed documents, document mask on, from the trained parameters.
    masked_tokens = torch.tensor(load("masked_tokens"), dtype=torch.long)
    params = rebuild(load("trained_params"), cfg)
    logits, loss = forward(params, masked_tokens, targets, cfg, eot=cfg["eot"])
    loss.backward()
    _, causal_loss = forward(params, masked_tokens, targets, cfg)
    print(f"document mask: loss ours {float(load('masked_loss')[0]):.7f}  torch {loss.item():.7f}"
          f"  (torch without the mask {causal_loss.item():.7f})")
    check("masked loss", abs(float(load("masked_loss")[0]) - loss.item()) / abs(loss.item()))
    check("masked logits",
          relative_error(load("masked_logits")[..., :V], logits.detach()[..., :V].numpy()))
    grads = load("masked_grads")
    for t in cfg["tensors"]:
        size = int(np.prod(t["shape"]))
        ours = grads[t["offset"]:t["offset"] + size].reshape(t["shape"])
        check("masked grad " + t["name"], relative_error(ours, params[t["name"]].grad.numpy()))
    if abs(causal_loss.item() - loss.item()) < 1e-4 * abs(loss.item()):
        print("the document mask changed nothing: the masked case tests nothing")
        failures.append("masked case")

    if failures:
        print("FAIL:", ", ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
