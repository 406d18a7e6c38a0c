#!/usr/bin/python3
"""CIFAR-10 (the project's JPEG copy) as NumPy arrays, cached once.

Source: <shared>/datasets/cifar10-jpg.tar.gz with `train/<class>/NNNN.jpg` and `test/<class>/NNNN.jpg`.
Labels: class folders sorted alphabetically -> 0..9 (airplane ... truck, dog = 5).
Order: class by class (label 0 first), files within a class sorted by name. Every other tool (predictions files,
the TypeScript side) relies on this order, so never shuffle the cache itself.

Cache: <repo>/.cache/cifar10/{train,test}.npz with `x` uint8 [N, 32, 32, 3] (HWC, RGB) and `y` uint8 [N].
The JPEGs are extracted from the tarball into <repo>/.cache/cifar10/jpg when no extracted copy exists
(an already-extracted copy can be named with MCLDEF_CIFAR_DIR to skip that step).
"""
import os
import tarfile

import numpy as np
from PIL import Image

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CACHE_DIR = os.path.join(REPO_ROOT, ".cache", "cifar10")
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def shared_dir():
    """The project's shared data folder: ../shared beside the repo root, or $MCLDEF_SHARED."""
    return os.environ.get("MCLDEF_SHARED") or os.path.abspath(os.path.join(REPO_ROOT, "..", "shared"))


def _has_split_dirs(root):
    return all(os.path.isdir(os.path.join(root, s)) for s in ("train", "test"))


def _jpeg_root():
    """Folder holding train/ and test/ JPEG trees; extracts the tarball into the cache when needed."""
    env = os.environ.get("MCLDEF_CIFAR_DIR")
    if env and _has_split_dirs(env):
        return env
    root = os.path.join(CACHE_DIR, "jpg")
    done = os.path.join(root, ".extracted")
    if not os.path.exists(done):
        tarball = os.path.join(shared_dir(), "datasets", "cifar10-jpg.tar.gz")
        print(f"[data] extracting {tarball} -> {root}", flush=True)
        os.makedirs(root, exist_ok=True)
        with tarfile.open(tarball, "r:gz") as tf:
            # Only plain files and folders under train/ and test/ (no links, no absolute paths).
            members = [m for m in tf.getmembers()
                       if (m.isfile() or m.isdir()) and m.name.split("/")[0] in ("train", "test")
                       and ".." not in m.name.split("/") and not m.name.startswith("/")]
            tf.extractall(root, members=members)
        open(done, "w").close()
    return root


def _read_split(root, split):
    """Decodes one split -> (x uint8 [N, 32, 32, 3], y uint8 [N]) in class-sorted, name-sorted order."""
    classes = sorted(d for d in os.listdir(os.path.join(root, split)) if not d.startswith("."))
    assert tuple(classes) == CLASSES, f"unexpected class folders: {classes}"
    xs, ys = [], []
    for label, cls in enumerate(classes):
        folder = os.path.join(root, split, cls)
        for name in sorted(f for f in os.listdir(folder) if f.lower().endswith(".jpg")):
            with Image.open(os.path.join(folder, name)) as im:
                a = np.asarray(im.convert("RGB"), dtype=np.uint8)  # [32, 32, 3]
            assert a.shape == (32, 32, 3), f"{split}/{cls}/{name}: shape {a.shape}"
            xs.append(a)
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.uint8)


def load_split(split):
    """Returns (x uint8 [N, 32, 32, 3], y int64 [N]) for split 'train' (N=50000) or 'test' (N=10000)."""
    assert split in ("train", "test")
    path = os.path.join(CACHE_DIR, f"{split}.npz")
    if not os.path.exists(path):
        x, y = _read_split(_jpeg_root(), split)
        os.makedirs(CACHE_DIR, exist_ok=True)
        tmp = path + ".tmp.npz"
        np.savez(tmp, x=x, y=y)
        os.replace(tmp, path)  # atomic: a killed run never leaves a half-written cache
        print(f"[data] cached {split}: {x.shape} -> {path}", flush=True)
    with np.load(path) as d:
        return d["x"], d["y"].astype(np.int64)


if __name__ == "__main__":
    for s in ("train", "test"):
        x, y = load_split(s)
        print(s, x.shape, x.dtype, np.bincount(y).tolist())
