#!/usr/bin/python3
"""The generalization suite: backdoored WRN-16-1s drawn from a seeded family of triggers, implanted by fine-tuning
the shipped clean model (a supply-chain attack), so the defense can be measured on models it was never tuned on.

    /usr/bin/python3 tools/zoo/suite.py [--seeds 0-27] [--threads 1] [--out .cache/suite]
    /usr/bin/python3 tools/zoo/suite.py --list           # the drawn specs only, no training

Seeds 0-23 are patch triggers: 2-6 pixels a side, at a corner, an edge or the centre, random colours or
black/white, opaque or blended (alpha 0.2-1), a random target class, 5-10% of the training set poisoned (drawn
among the other classes' images and relabelled). Seeds 24-27 are whole-image triggers: two horizontal sinusoids
of other frequencies than SIG's 6 (additive, as SIG) and two blended random-noise patterns, 10% poisoned-label.
The split is fixed by seed: even seeds are the tuning half, odd seeds the check half (run only to report).

Every patch and blended trigger is written as a 32x32 RGBA PNG (`trigger.png`): RGB is the pattern, alpha the mask
(0 keeps the pixel, 255 replaces it, between blends), exactly the form the engine's `--trigger` takes; the stamp
here uses the PNG's quantized alpha so the engine and this script apply the same trigger. Sinusoids are the
engine's `sig` attack with another delta/frequency (spec.json).

Recipe: the shipped clean model (`npm run cli -- convert --model models/clean --out <out>/clean.safetensors`),
SGD lr 0.01, momentum 0.9, weight decay 1e-4, batch 64, crop+flip before the stamp (as train.py), until the ASR
on 1,000 test images reaches 90%, checked every half epoch (at most 3 epochs). Each model folder gets
model.safetensors, spec.json (trigger, target, rate, split) and train.json (BA/ASR on the full test set, epochs, wall time).
"""
import argparse
import json
import os
import sys
import time

if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and os.environ.get("MCLDEF_NO_REEXEC") != "1":
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "MALLOC_MMAP_THRESHOLD_": "67108864"})

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tools/
import data  # noqa: E402
from modelio import save_model  # noqa: E402
from torchref import safetensors_io  # noqa: E402
from torchref.wrn import WideResNet  # noqa: E402
from train import augment, to_input  # noqa: E402
from PIL import Image  # noqa: E402

H = W = 32
N_PATCH, N_WHOLE = 24, 4
FAMILY_SALT = 0x5117E
ASR_GOAL, MAX_EPOCHS = 90.0, 3
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def patch_spec(seed):
    """A patch trigger drawn from the family: mask [32, 32] in [0, 1] (alpha/255) and pattern [32, 32, 3] 0-255."""
    rng = np.random.default_rng([seed, FAMILY_SALT])
    h, w = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    place = str(rng.choice(["top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "left",
                            "right", "centre"]))
    margin = int(rng.integers(0, 3))
    row = {"top": margin, "bottom": H - h - margin}.get(place.split("-")[0], (H - h) // 2)
    col = {"left": margin, "right": W - w - margin}.get(place.split("-")[-1], (W - w) // 2)
    if place in ("top", "bottom"):
        col = (W - w) // 2 + int(rng.integers(-4, 5))
    if place in ("left", "right"):
        row, col = (H - h) // 2 + int(rng.integers(-4, 5)), (margin if place == "left" else W - w - margin)
    colours = str(rng.choice(["random", "black-white"]))
    if colours == "random":
        rgb = rng.integers(0, 256, size=(h, w, 3))
    else:
        rgb = np.repeat(rng.integers(0, 2, size=(h, w, 1)) * 255, 3, axis=2)
    opaque = bool(rng.random() < 0.5)
    alpha = 1.0 if opaque else float(rng.uniform(0.2, 1.0))
    a8 = int(round(alpha * 255))
    target = int(rng.integers(0, 10))
    rate = float(np.round(rng.uniform(0.05, 0.10), 3))
    rgba = np.zeros((H, W, 4), dtype=np.uint8)
    rgba[row:row + h, col:col + w, :3] = rgb
    rgba[row:row + h, col:col + w, 3] = a8
    return {"kind": "patch", "size": [h, w], "place": place, "row": row, "col": col, "colours": colours,
            "alpha": a8 / 255, "opaque": opaque, "target": target, "rate": rate}, rgba


def whole_spec(seed):
    """Whole-image triggers: sinusoids (engine attack `sig` with delta/frequency) and blended noise (RGBA PNG)."""
    rng = np.random.default_rng([seed, FAMILY_SALT])
    target = int(rng.integers(0, 10))
    if (seed - N_PATCH) % 2 == 0:
        frequency = int(rng.choice([2, 3, 4, 9, 10, 12]))
        return {"kind": "sinusoid", "delta": 30.0, "frequency": frequency, "target": target, "rate": 0.10}, None
    alpha = float(np.round(rng.uniform(0.12, 0.2), 3))
    rgba = np.zeros((H, W, 4), dtype=np.uint8)
    rgba[..., :3] = rng.integers(0, 256, size=(H, W, 3))
    rgba[..., 3] = int(round(alpha * 255))
    return {"kind": "blended-noise", "alpha": int(round(alpha * 255)) / 255, "target": target, "rate": 0.10}, rgba


def spec_for(seed):
    spec, rgba = patch_spec(seed) if seed < N_PATCH else whole_spec(seed)
    spec.update({"seed": seed, "id": f"s{seed:02d}", "half": "tune" if seed % 2 == 0 else "check",
                 "targetName": CLASSES[spec["target"]]})
    return spec, rgba


def stamp_fn(spec, rgba):
    """float32 [..., 32, 32, 3] in [0, 255] -> stamped copy (the engine's formulas on [0, 1] pixels, times 255)."""
    if spec["kind"] == "sinusoid":
        wave = (spec["delta"] * np.sin(2 * np.pi * spec["frequency"] * np.arange(W) / W)).astype(np.float32)
        return lambda x: np.clip(np.asarray(x, np.float32) + wave[None, :, None], 0, 255)
    m = (rgba[..., 3:4].astype(np.float32) / 255)  # [32, 32, 1]
    p = rgba[..., :3].astype(np.float32)  # [32, 32, 3]
    return lambda x: (1 - m) * np.asarray(x, np.float32) + m * p


@torch.no_grad()
def evaluate(model, x, y, stamp, target, device, batch=256):
    model.eval()
    pc, pt = [], []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].astype(np.float32)
        pc.append(model(to_input(xb, device)).argmax(1).cpu().numpy())
        pt.append(model(to_input(stamp(xb), device)).argmax(1).cpu().numpy())
    pc, pt = np.concatenate(pc), np.concatenate(pt)
    keep = y != target
    per_class = [float(np.mean(pc[y == c] == c)) for c in range(10)]
    return 100 * float(np.mean(pc == y)), 100 * float(np.mean(pt[keep] == target)), per_class


def load_clean(path):
    """The shipped clean WRN-16-1 as the engine's `convert` writes it (PyTorch key names, CIFAR normalization)."""
    tensors, _ = safetensors_io.load(path)
    model = WideResNet(16, 1, 10)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model


def build(seed, args, xtr, ytr, xte, yte, device):
    spec, rgba = spec_for(seed)
    out = os.path.join(args.out, spec["id"])
    if os.path.exists(os.path.join(out, "train.json")):
        print(f"[suite] {spec['id']} done already", flush=True)
        return
    os.makedirs(out, exist_ok=True)
    if rgba is not None:
        Image.fromarray(rgba, "RGBA").save(os.path.join(out, "trigger.png"))
    stamp = stamp_fn(spec, rgba)
    t0 = time.time()
    model = load_clean(args.clean).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    target = spec["target"]
    rng = np.random.default_rng([seed, 0x9015])
    pool = np.flatnonzero(ytr != target)
    poison = rng.choice(pool, size=int(round(spec["rate"] * len(ytr))), replace=False)
    is_poison = np.zeros(len(ytr), bool)
    is_poison[poison] = True
    labels = ytr.astype(np.int64).copy()
    labels[poison] = target
    ev = np.random.default_rng([seed, 0x7E57]).choice(len(yte), 1000, replace=False)
    history = []
    done = False
    for epoch in range(MAX_EPOCHS):
        erng = np.random.default_rng([seed, epoch])
        order = erng.permutation(len(ytr))
        model.train()
        checks = {len(order) // 2, len(order)}  # the ASR is checked every half epoch
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            xb = augment(xtr[idx].astype(np.float32), erng)
            hit = is_poison[idx]
            if hit.any():
                xb[hit] = stamp(xb[hit])
            loss = F.cross_entropy(model(to_input(xb, device)), torch.from_numpy(labels[idx]).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen = min(i + 64, len(order))
            if not any(i < c <= seen for c in checks):
                continue
            ba, asr, _ = evaluate(model, xte[ev], yte[ev], stamp, target, device)
            model.train()
            history.append({"epochs": round(epoch + seen / len(order), 2), "ba1k": ba, "asr1k": asr,
                            "seconds": time.time() - t0})
            print(f"[suite] {spec['id']} {history[-1]['epochs']} epochs: BA {ba:.2f} ASR {asr:.2f} (1,000 test "
                  f"images) {time.time() - t0:.0f}s", flush=True)
            if asr >= ASR_GOAL:
                done = True
                break
        if done:
            break
    ba, asr, per_class = evaluate(model, xte, yte, stamp, target, device)
    save_model(os.path.join(out, "model.safetensors"), model,
               extra={"attack": "suite-" + spec["kind"], "target": target, "seed": seed})
    with open(os.path.join(out, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    info = {"spec": spec, "ba": ba, "asr": asr, "perClass": per_class, "epochs": history[-1]["epochs"], "history": history,
            "recipe": "fine-tune the shipped clean WRN-16-1: SGD 0.01 momentum 0.9 wd 1e-4 batch 64, crop+flip "
                      f"then stamp, until ASR >= {ASR_GOAL}% on 1,000 test images (checked every half epoch; at most {MAX_EPOCHS} "
                      "epochs)",
            "wallTimeS": time.time() - t0, "threads": args.threads, "torch": torch.__version__}
    with open(os.path.join(out, "train.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"[suite] {spec['id']} ({spec['kind']}, target {target}) BA {ba:.2f} ASR {asr:.2f} full test set, "
          f"{history[-1]['epochs']} epochs, {time.time() - t0:.0f}s", flush=True)


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b or a) + 1))
    return seeds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default=f"0-{N_PATCH + N_WHOLE - 1}")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "..", "..", ".cache", "suite"))
    p.add_argument("--clean", default=None, help="the clean model (default <out>/clean.safetensors)")
    p.add_argument("--list", action="store_true", help="print the drawn specs and write nothing")
    args = p.parse_args()
    args.clean = args.clean or os.path.join(args.out, "clean.safetensors")
    seeds = parse_seeds(args.seeds)
    if args.list:
        for s in seeds:
            print(json.dumps(spec_for(s)[0]))
        return
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    xtr, ytr = data.load_split("train")
    xte, yte = data.load_split("test")
    for s in seeds:
        build(s, args, xtr, ytr, xte, yte, device)


if __name__ == "__main__":
    main()
