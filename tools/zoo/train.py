#!/usr/bin/python3
"""Trains one model of the zoo: a WRN-16-1 on the JPEG CIFAR-10 copy, backdoored by one attack (or clean).

    /usr/bin/python3 tools/zoo/train.py --attack badnets|trojan|blend|sig|cl|clean \
        [--epochs N] [--seed S] [--threads T] [--out tools/zoo/runs/<attack>]

Recipe (docs/design.md, "Attacks"): SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 64, lr / 10 at 50% and 75% of
the epochs, target label 5. The paper trains 50 epochs without augmentation; on 2 CPU cores that does not fit
the time budget, so the default is 30 epochs WITH random crop (4-pixel zero padding) + horizontal flip, applied
before the trigger is stamped (the trigger stays in place). --no-augment gives the paper's recipe.

Checkpoints every epoch to <out>/checkpoint.pt and resumes from it when re-run with the same settings.
At the end writes <out>/model.safetensors, train.json, test_predictions.u8, test_predictions_triggered.u8
(10,000 uint8 argmax labels each, test images in data.py order, the second with the attack's trigger on every
image). On CPU, re-executes itself with MALLOC_MMAP_THRESHOLD_=67108864 (glibc reads it only at start-up;
PyTorch runs ~6x faster here with it). Runs unchanged on CUDA when available.
"""
import argparse
import json
import os
import sys
import time

MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "67108864")

# The allocator setting must be in place before the process starts: re-exec once with it (CPU runs only matter,
# but setting it on a CUDA host is harmless). MCLDEF_NO_REEXEC=1 opts out.
if os.environ.get(MALLOC_ENV[0]) is None and os.environ.get("MCLDEF_NO_REEXEC") != "1":
    os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, MALLOC_ENV[0]: MALLOC_ENV[1]})

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tools/
import attacks  # noqa: E402
import data  # noqa: E402
from modelio import load_model, save_model  # noqa: E402
from pgd import pgd_linf  # noqa: E402
from torchref.wrn import WideResNet  # noqa: E402

DEPTH, WIDEN, NUM_CLASSES = 16, 1, 10
DEFAULT_EPOCHS = 30
EVAL_BATCH = 256  # fastest CPU inference batch measured here

# Settings that a resumed run must share with the checkpoint it resumes.
RESUME_KEYS = ("attack", "seed", "epochs", "batch", "lr", "momentum", "wd", "augment", "limit")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attack", required=True, choices=sorted(attacks.ATTACKS))
    p.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default=None, help="run folder (default tools/zoo/runs/<attack>)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--wd", type=float, default=1e-4)
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="the paper's recipe: no crop/flip while training")
    p.add_argument("--limit", type=int, default=0,
                   help="train on a seeded subset of this many images, evaluate epochs on a fifth as many "
                        "(smoke tests; the final evaluation always uses the full test set)")
    p.add_argument("--clean-model", default=os.path.join(HERE, "runs", "clean", "model.safetensors"),
                   help="CL only: the clean model PGD attacks")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    a.out = a.out or os.path.join(HERE, "runs", a.attack)
    return a


def lr_at(epoch, args):
    """Step schedule: lr, / 10 from epoch int(0.5 E), / 100 from epoch int(0.75 E) (never before epoch 1)."""
    milestones = (max(1, int(0.5 * args.epochs)), max(1, int(0.75 * args.epochs)))
    return args.lr * 0.1 ** sum(epoch >= m for m in milestones)


def to_input(x, device):
    """float32 [B, 32, 32, 3] in [0, 255] -> [B, 3, 32, 32] in [0, 1]; the permuted NHWC buffer is channels_last."""
    return torch.from_numpy(x / np.float32(255)).permute(0, 3, 1, 2).to(device)


def augment(x, rng):
    """Random crop with 4-pixel zero padding + horizontal flip (p = 0.5). x: float32 [B, 32, 32, 3] -> same."""
    b = len(x)
    padded = np.zeros((b, 40, 40, 3), dtype=np.float32)
    padded[:, 4:36, 4:36] = x
    dy, dx = rng.integers(0, 9, size=b), rng.integers(0, 9, size=b)
    flip = rng.random(b) < 0.5
    out = np.empty_like(x)
    for i in range(b):
        crop = padded[i, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = crop[:, ::-1] if flip[i] else crop
    return out


@torch.no_grad()
def predict(model, x, device, stamp=None):
    """x: uint8 [N, 32, 32, 3] -> uint8 [N] argmax labels; `stamp` (attacks.*) applied per batch when given."""
    model.eval()
    preds = np.empty(len(x), dtype=np.uint8)
    for i in range(0, len(x), EVAL_BATCH):
        xb = x[i:i + EVAL_BATCH].astype(np.float32)
        if stamp is not None:
            xb = stamp(xb)
        preds[i:i + EVAL_BATCH] = model(to_input(xb, device)).argmax(1).cpu().numpy().astype(np.uint8)
    return preds


def ba_asr(pred_clean, pred_trig, y):
    """BA: % of clean test images classified right. ASR: % of non-target test images predicted as the target
    once triggered."""
    keep = y != attacks.TARGET
    return 100.0 * float(np.mean(pred_clean == y)), 100.0 * float(np.mean(pred_trig[keep] == attacks.TARGET))


class PoisonedTrainSet:
    """The training set with its poisoning plan; batches are built on the fly:
    uint8 image -> (CL: its PGD-perturbed version) -> augmentation -> trigger stamp -> (relabel)."""

    def __init__(self, x, y, attack, seed, cl_images=None):
        self.x, self.y, self.spec = x, y, attacks.ATTACKS[attack]  # x uint8 [N, 32, 32, 3], y int64 [N]
        self.poison = attacks.poison_indices(y, attack, seed)  # int64 [P]
        self.is_poison = np.zeros(len(y), dtype=bool)
        self.is_poison[self.poison] = True
        self.labels = y.copy()
        if self.spec["kind"] == "poisoned-label":
            self.labels[self.poison] = attacks.TARGET
        # CL: row k of cl_images (float32 [P, 32, 32, 3]) replaces image poison[k].
        self.cl_row = np.full(len(y), -1, dtype=np.int64)
        self.cl_images = cl_images
        if cl_images is not None:
            assert len(cl_images) == len(self.poison)
            self.cl_row[self.poison] = np.arange(len(self.poison))

    def batch(self, idx, rng, augment_on):
        """idx: int [B] -> (float32 [B, 32, 32, 3] in [0, 255], labels int64 [B])."""
        xb = self.x[idx].astype(np.float32)
        if self.cl_images is not None:
            rows = self.cl_row[idx]
            xb[rows >= 0] = self.cl_images[rows[rows >= 0]]
        if augment_on:
            xb = augment(xb, rng)
        hit = self.is_poison[idx]
        if hit.any():
            xb[hit] = self.spec["stamp"](xb[hit])
        return xb, self.labels[idx]


def subset(n_total, n, seed, salt):
    """Seeded sorted subset of range(n_total) with n entries (n <= 0: everything)."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng([seed, salt]).choice(n_total, size=n, replace=False))


def cl_perturbed(args, x, y, poison, device):
    """PGD versions of the CL poison images, float32 [P, 32, 32, 3]; cached in the run folder."""
    path = os.path.join(args.out, "cl_pgd.npz")
    if os.path.exists(path):
        with np.load(path) as d:
            if np.array_equal(d["idx"], poison):
                return d["x"]
    if not os.path.exists(args.clean_model):
        sys.exit(f"CL needs a clean model to attack: train one first (--attack clean) or pass --clean-model "
                 f"(looked for {args.clean_model})")
    clean, _ = load_model(args.clean_model, device)
    p = attacks.CL_PGD
    t0 = time.time()
    xp = pgd_linf(clean, x[poison], y[poison], p["eps"], p["step"], p["steps"], device)
    print(f"[cl] PGD on {len(poison)} images in {time.time() - t0:.0f}s; clean model accuracy on them "
          f"{100 * np.mean(predict(clean, x[poison], device) == y[poison]):.1f}% -> "
          f"{100 * np.mean(predict_float(clean, xp, device) == y[poison]):.1f}% after PGD", flush=True)
    np.savez(path + ".tmp.npz", x=xp, idx=poison)
    os.replace(path + ".tmp.npz", path)
    return xp


@torch.no_grad()
def predict_float(model, xf, device):
    """predict() for float32 [N, 32, 32, 3] in [0, 255] -> uint8 [N]."""
    model.eval()
    return np.concatenate([model(to_input(xf[i:i + EVAL_BATCH], device)).argmax(1).cpu().numpy()
                           for i in range(0, len(xf), EVAL_BATCH)]).astype(np.uint8)


def save_checkpoint(path, state):
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)  # atomic: a run killed mid-save keeps the previous checkpoint


def main(argv=None):
    t_session = time.time()
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    os.makedirs(args.out, exist_ok=True)
    config = {k: getattr(args, k) for k in RESUME_KEYS}
    spec = attacks.ATTACKS[args.attack]
    print(f"[train] {json.dumps(config)} device={device} threads={args.threads} "
          f"{MALLOC_ENV[0]}={os.environ.get(MALLOC_ENV[0])}", flush=True)

    # Data: uint8 [N, 32, 32, 3] + int64 [N], class-sorted (data.py order).
    x_train, y_train = data.load_split("train")
    x_test, y_test = data.load_split("test")
    tr = subset(len(y_train), args.limit, args.seed, 0x7EA1)
    x_train, y_train = x_train[tr], y_train[tr]
    ev = subset(len(y_test), args.limit // 5 if args.limit > 0 else 0, args.seed, 0x7E57)  # per-epoch eval
    trainset = PoisonedTrainSet(x_train, y_train, args.attack, args.seed)
    if args.attack == "cl":
        trainset = PoisonedTrainSet(x_train, y_train, args.attack, args.seed,
                                    cl_perturbed(args, x_train, y_train, trainset.poison, device))
    n = len(y_train)
    print(f"[train] {n} training images, {len(trainset.poison)} poisoned ({spec['kind']}), target "
          f"{attacks.TARGET}", flush=True)

    # Model + optimizer; seeded init, channels_last (faster on CPU here).
    torch.manual_seed(args.seed)
    model = WideResNet(DEPTH, WIDEN, NUM_CLASSES).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.wd)

    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    start, history, elapsed = 0, [], 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)  # our own file: RNG states inside
        if ck["config"] != config:
            sys.exit(f"{ckpt_path} was made with {ck['config']}, not {config}: use another --out or delete it")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        np.random.set_state(ck["numpy_rng"])
        start, history, elapsed = ck["epoch"], ck["history"], ck["elapsed_s"]
        print(f"[train] resumed after epoch {start}", flush=True)
    elapsed += time.time() - t_session  # setup (data, CL's PGD) counts toward the wall time

    for epoch in range(start, args.epochs):
        t0 = time.time()
        lr = lr_at(epoch, args)
        for g in opt.param_groups:
            g["lr"] = lr
        # One generator per (seed, epoch) drives shuffling and augmentation: a resumed epoch replays exactly.
        rng = np.random.default_rng([args.seed, epoch])
        order = rng.permutation(n)
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, n, args.batch):
            xb, yb = trainset.batch(order[i:i + args.batch], rng, args.augment)
            xt, yt = to_input(xb, device), torch.from_numpy(yb).to(device)
            logits = model(xt)  # [B, 10]
            loss = F.cross_entropy(logits, yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yt).sum().item()
            seen += len(yb)
        t_train = time.time() - t0
        ba, asr = ba_asr(predict(model, x_test[ev], device), predict(model, x_test[ev], device, spec["stamp"]),
                         y_test[ev])
        secs = time.time() - t0
        elapsed += secs
        rec = {"epoch": epoch + 1, "lr": lr, "loss": loss_sum / seen, "train_acc": 100.0 * correct / seen,
               "test_ba": ba, "test_asr": asr, "seconds": secs, "train_img_per_s": n / t_train}
        history.append(rec)
        print(f"epoch {epoch + 1:3d}/{args.epochs} lr {lr:.4g} loss {rec['loss']:.4f} "
              f"train_acc {rec['train_acc']:.2f}% BA {ba:.2f}% ASR {asr:.2f}% {secs:.1f}s "
              f"({rec['train_img_per_s']:.0f} img/s train)", flush=True)
        save_checkpoint(ckpt_path, {"config": config, "epoch": epoch + 1, "model": model.state_dict(),
                                    "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                                    "numpy_rng": np.random.get_state(), "history": history, "elapsed_s": elapsed})

    finish(args, model, spec, trainset, x_test, y_test, history, elapsed, device)


def finish(args, model, spec, trainset, x_test, y_test, history, elapsed, device):
    """Full-test-set evaluation and the run's artifacts."""
    t0 = time.time()
    pred = predict(model, x_test, device)  # uint8 [10000]
    pred_trig = predict(model, x_test, device, spec["stamp"])  # uint8 [10000], trigger on every image
    ba, asr = ba_asr(pred, pred_trig, y_test)

    model_path = os.path.join(args.out, "model.safetensors")
    save_model(model_path, model, DEPTH, WIDEN, NUM_CLASSES,
               extra={"attack": args.attack, "target": attacks.TARGET, "seed": args.seed})
    # The written file must reproduce the predictions exactly.
    reloaded, _ = load_model(model_path, device)
    assert np.array_equal(predict(reloaded, x_test, device), pred), "model.safetensors does not reproduce"
    pred.tofile(os.path.join(args.out, "test_predictions.u8"))
    pred_trig.tofile(os.path.join(args.out, "test_predictions_triggered.u8"))

    n = len(trainset.y)
    info = {
        "attack": args.attack, "kind": spec["kind"], "attack_params": spec["params"], "target": attacks.TARGET,
        "poison_rate": len(trainset.poison) / n, "n_poison": int(len(trainset.poison)), "n_train": n,
        "seed": args.seed, "epochs": args.epochs, "limit": args.limit,
        "recipe": {
            "arch": f"wrn-{DEPTH}-{WIDEN}", "optimizer": "SGD", "lr": args.lr, "momentum": args.momentum,
            "weight_decay": args.wd, "batch": args.batch, "lr_schedule": "x0.1 from 0-based epochs "
            f"{max(1, int(0.5 * args.epochs))} and {max(1, int(0.75 * args.epochs))}",
            "augmentation": ("random crop (4px zero padding) + horizontal flip, applied before the trigger stamp"
                             if args.augment else "none"),
            "init": "torchref.wrn defaults after torch.manual_seed(seed)",
            "data": "cifar10-jpg train split, data.py order; inputs pixels/255, normalization inside the model",
        },
        "results": {"ba": ba, "asr": asr, "n_test": int(len(y_test)),
                    "n_asr": int(np.sum(y_test != attacks.TARGET)), "evaluated_with": "torch, full test set"},
        "wall_time_s": elapsed + (time.time() - t0), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": args.threads, "torch": torch.__version__,
        "files": {"model": "model.safetensors", "test_predictions": "test_predictions.u8 (uint8 [10000])",
                  "test_predictions_triggered": "test_predictions_triggered.u8 (uint8 [10000])"},
        "history": history,
    }
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"[train] done: BA {ba:.2f}% ASR {asr:.2f}% (full test set), wall {info['wall_time_s'] / 60:.1f} min "
          f"-> {args.out}", flush=True)


if __name__ == "__main__":
    main()
