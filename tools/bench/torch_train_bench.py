"""PyTorch CPU reference for `npm run bench:train`: WRN-16-1 forward and training images/s.

Run with the environment DESIGN.md names for a fair baseline (the TS bench does this):
  MALLOC_MMAP_THRESHOLD_=67108864 /usr/bin/python3 tools/bench/torch_train_bench.py --threads 2 --batch 64
Prints one JSON object on stdout:
  {"torch": "1.13.1", "threads": 2, "batch": 64, "forward_img_s": ..., "train_img_s": ..., "forward_ms": [...], "train_ms": [...]}
Forward is eval mode under no_grad (what inference costs); a training step is train-mode forward (BatchNorm on batch
statistics), cross-entropy, backward and SGD momentum 0.9 (weight decay 1e-4), as the project trains.
Images/s use the median step time, after warm-up steps.
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


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = WideResNet(16, 1, 10)
    x = torch.rand(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def forward():
        with torch.no_grad():
            model(x)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    model.eval()
    fwd = timed(forward, args.warmup, args.steps)
    model.train()
    trn = timed(train_step, args.warmup, args.steps)
    rate = lambda ms: args.batch * 1000.0 / statistics.median(ms)  # noqa: E731
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "forward_img_s": round(rate(fwd), 1),
        "train_img_s": round(rate(trn), 1),
        "forward_ms": [round(v, 2) for v in fwd],
        "train_ms": [round(v, 2) for v in trn],
    }))


if __name__ == "__main__":
    main()
