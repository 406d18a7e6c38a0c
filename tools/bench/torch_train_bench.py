"""PyTorch reference for `npm run bench:train`: WRN-16-1 forward and training images/s, on the CPU (the WASM
bench's baseline) or on a CUDA GPU (`--backend webgpu`'s baseline, same model and step).

CPU, with the environment docs/design.md names for a fair baseline (the TS bench does this):
  MALLOC_MMAP_THRESHOLD_=67108864 /usr/bin/python3 tools/bench/torch_train_bench.py --threads 2 --batch 64
GPU:
  python3 tools/bench/torch_train_bench.py --device cuda --batch 64 --warmup 5 --steps 20
Prints one JSON object on stdout:
  {"torch", "device", "threads", "batch", "forward_img_s", "train_img_s", "invert_img_s", "forward_ms": [...],
   "train_ms": [...], "invert_ms": [...]}
Forward is eval mode under no_grad (what inference costs); a training step is train-mode forward (BatchNorm on batch
statistics), cross-entropy, backward and SGD momentum 0.9 (weight decay 1e-4), as the project trains; an inversion
step is MCLDef's stage 1 (Neural Cleanse objective on the frozen model in eval mode: x' = (1 - m) x + m p,
CE(f(x'), t) + 0.01 |m|_1, gradients w.r.t. mask and pattern only, Adam 0.1, both clamped to [0, 1]). On CUDA each
timed step ends with torch.cuda.synchronize(). Images/s use the median step time, after warm-up steps.
Exits 3 (and prints why on stderr) when --device cuda is asked for and CUDA is not available.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from tools.torchref.wrn import WideResNet  # noqa: E402


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, warmup, steps, dev):
    for _ in range(warmup):
        fn()
    sync(dev)
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("torch.cuda.is_available() is False", file=sys.stderr)
        sys.exit(3)

    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = WideResNet(16, 1, 10).to(dev)
    x = torch.rand(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def forward():
        with torch.no_grad():
            model(x)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    mask = torch.rand(32, 32, device=dev, requires_grad=True)
    pattern = torch.rand(3, 32, 32, device=dev, requires_grad=True)
    adam = torch.optim.Adam([mask, pattern], lr=0.1)
    target = torch.zeros(args.batch, dtype=torch.long, device=dev)

    def invert_step():
        adam.zero_grad(set_to_none=True)
        xt = (1 - mask) * x + mask * pattern
        loss = F.cross_entropy(model(xt), target) + 0.01 * mask.abs().sum()
        loss.backward()
        adam.step()
        with torch.no_grad():
            mask.clamp_(0, 1)
            pattern.clamp_(0, 1)

    model.eval()
    fwd = timed(forward, args.warmup, args.steps, dev)
    for p in model.parameters():
        p.requires_grad_(False)
    inv = timed(invert_step, args.warmup, args.steps, dev)
    for p in model.parameters():
        p.requires_grad_(True)
    model.train()
    trn = timed(train_step, args.warmup, args.steps, dev)
    rate = lambda ms: args.batch * 1000.0 / statistics.median(ms)  # noqa: E731
    print(json.dumps({
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "forward_img_s": round(rate(fwd), 1),
        "train_img_s": round(rate(trn), 1),
        "invert_img_s": round(rate(inv), 1),
        "forward_ms": [round(v, 3) for v in fwd],
        "train_ms": [round(v, 3) for v in trn],
        "invert_ms": [round(v, 3) for v in inv],
    }))


if __name__ == "__main__":
    main()
