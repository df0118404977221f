#!/usr/bin/env python3
"""PyTorch baseline for bench/gpt_cuda_bench.cc (and, with --device cpu, for
bench/gpt_cpu_bench.cc): the same GPT-2 training step on one GPU (or on the CPU in fp32).

GPT-2 (learned positions, pre-LayerNorm blocks, tanh GELU, tied embeddings, padded vocabulary as
our GptPreset pads it) in plain PyTorch: bf16 autocast, fp32 master weights, fused AdamW (β 0.9/0.95,
weight decay 0.1 on the 2-D tensors), gradient clipping at 1.0, causal
F.scaled_dot_product_attention (flash attention), torch.compile. Random tokens, `--warmup` untimed
steps then `--steps` timed ones; prints one JSON object with the same fields as gpt_cuda_bench
(FLOPs per token 6·N + 6·L·C·T, N every parameter including the padded vocabulary rows).

--device cpu: fp32 throughout (no autocast), `--threads` intra-op threads, torch.compile only
where the installed torch has it, explicit causal attention where F.scaled_dot_product_attention is
missing (Debian's torch 1.13).

Installs nothing: without torch (or, for cuda, a CUDA device) it prints {"skipped": why} and exits 0.

    python3 bench/gpt_torch_bench.py [--model gpt2-124m] [--batch 16] [--seq 1024] [--steps 20]
                                     [--warmup 5] [--no-compile] [--peak-tflops X]
                                     [--device cuda|cpu] [--threads N]
"""
import argparse
import json
import math
import sys
import time

PRESETS = {  # layers, heads, channels, context (trainer/model/gpt_config.cc)
    "tiny": (2, 2, 64, 64),
    "gpt2-124m": (12, 12, 768, 1024),
    "gpt2-350m": (24, 16, 1024, 1024),
    "gpt2-774m": (36, 20, 1280, 1024),
    "gpt2-1558m": (48, 25, 1600, 1024),
}


def peak_bf16_tflops(name):
    """Dense bf16 peak as trainer/cuda/cuda_gpt.cc's CudaPeakBf16Tflops knows it."""
    nvl = "NVL" in name
    if "H200" in name:
        return 835.5 if nvl else 989.4
    if "H100" in name:
        if nvl:
            return 835.5
        return 756.5 if "PCIe" in name else 989.4
    return 0.0


def skip(why):
    print(json.dumps({"backend": "torch", "skipped": why}))
    sys.exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2-124m", choices=sorted(PRESETS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)  # torch.compile traces in the first
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=0.0)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--threads", type=int, default=0)  # cpu: intra-op threads; 0: torch's
    args = parser.parse_args()
    cpu = args.device == "cpu"

    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError as e:
        skip(f"torch is not installed ({e})")
    if not cpu and not torch.cuda.is_available():
        skip("torch sees no CUDA device")
    if cpu and args.threads > 0:
        torch.set_num_threads(args.threads)
    if not hasattr(torch, "compile"):
        args.no_compile = True  # torch < 2.0
    sdpa = getattr(F, "scaled_dot_product_attention", None)

    L, NH, C, max_t = PRESETS[args.model]
    V = 50257
    Vp = (V + 127) // 128 * 128
    T, B = args.seq, args.batch
    if T > max_t:
        sys.exit(f"--seq {T} exceeds the model's context {max_t}")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(C)
            self.qkv = nn.Linear(C, 3 * C)
            self.attproj = nn.Linear(C, C)
            self.ln2 = nn.LayerNorm(C)
            self.fc = nn.Linear(C, 4 * C)
            self.fcproj = nn.Linear(4 * C, C)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (z.view(b, t, NH, C // NH).transpose(1, 2) for z in (q, k, v))
            if sdpa is not None:
                y = sdpa(q, k, v, is_causal=True)
            else:  # torch < 2.0: the (T, T) scores, masked
                att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
                mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
                y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
            x = x + self.attproj(y.transpose(1, 2).contiguous().view(b, t, C))
            return x + self.fcproj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(Vp, C)
            self.wpe = nn.Embedding(max_t, C)
            self.blocks = nn.ModuleList(Block() for _ in range(L))
            self.lnf = nn.LayerNorm(C)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * L) if name.endswith("proj.weight") else 0.02
                    nn.init.normal_(p, 0.0, std)
                elif name.endswith(".bias"):
                    nn.init.zeros_(p)

        def forward(self, idx, targets):
            t = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
            for block in self.blocks:
                x = block(x)
            logits = F.linear(self.lnf(x), self.wte.weight)[..., :V]  # tied head, first V
            return F.cross_entropy(logits.float().view(-1, V), targets.view(-1), ignore_index=-1)

    torch.manual_seed(1337)
    if not cpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    device = args.device
    model = Gpt().to(device)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=6e-4, betas=(0.9, 0.95), eps=1e-8, **({} if cpu else {"fused": True}))
    step_model = model if args.no_compile else torch.compile(model)

    def batch():
        idx = torch.randint(0, V, (B, T), device=device)
        return idx, torch.randint(0, V, (B, T), device=device)

    losses, seconds = [], 0.0
    for step in range(args.warmup + args.steps):
        idx, targets = batch()
        if not cpu:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        if cpu:
            loss = step_model(idx, targets)
        else:
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                loss = step_model(idx, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())  # synchronises, as our Forward returning the loss does
        if not cpu:
            torch.cuda.synchronize()
        if step >= args.warmup:
            seconds += time.perf_counter() - t0

    name = f"cpu ({torch.get_num_threads()} threads)" if cpu else torch.cuda.get_device_name(0)
    peak = args.peak_tflops or (0.0 if cpu else peak_bf16_tflops(name))
    flops_per_token = 6.0 * n_params + 6.0 * L * C * T
    tokens_per_s = B * T * args.steps / seconds
    print(json.dumps({
        "backend": "torch" + ("" if args.no_compile else "+compile"),
        "torch": torch.__version__,
        "device": name,
        "model": args.model,
        "B": B,
        "T": T,
        "steps": args.steps,
        "ms_per_step": seconds / args.steps * 1e3,
        "tokens_per_s": tokens_per_s,
        "flops_per_token": flops_per_token,
        "peak_tflops": peak,
        "mfu": flops_per_token * tokens_per_s / (peak * 1e12) if peak > 0 else 0.0,
        "loss_first": losses[0],
        "loss_last": losses[-1],
    }))


if __name__ == "__main__":
    main()
