"""Backdoor triggers of the model zoo, exactly as docs/design.md "Attacks" states them, in NumPy.

Every stamp takes pixels in [0, 255] HWC, either one image [32, 32, 3] or a batch [N, 32, 32, 3] (uint8 or
float), and returns float32 [..., 32, 32, 3] in [0, 255]. Nothing is rounded: the TypeScript engine applies the
same formulas to float pixels in [0, 1], so train and test images here equal (stamp(x) / 255) there.

Poisoning plans (which training images get stamped) are in `poison_indices`; the PGD step of the CL attack,
which needs a model, is in pgd.py.
"""
import os

import numpy as np

TARGET = 5  # "dog": the target label of every attack (docs/design.md)
H = W = 32

# BadNets 3x3 grid, indexed [r][c] with (r, c) counted from the bottom-right pixel (0, 0) (docs/design.md table).
_GRID_FROM_BOTTOM_RIGHT = np.array([[255, 0, 255],
                                    [0, 255, 0],
                                    [255, 0, 0]], dtype=np.float32)
# The same grid in image order for rows/cols 29..31: flip both axes -> [[0,0,255],[0,255,0],[255,0,255]].
BADNETS_PATCH = _GRID_FROM_BOTTOM_RIGHT[::-1, ::-1].copy()  # [3, 3]

BLEND_ALPHA = 0.2
BLEND_ROWS = BLEND_COLS = slice(18, 21)  # rows/cols 18-20 (0-based)
BLEND_PATCH = np.array([[255, 128, 255],
                        [128, 255, 128],
                        [255, 128, 128]], dtype=np.float32)  # [3, 3], same on all channels

SIG_DELTA = 20.0
SIG_FREQ = 6
# Horizontal sine bands: [W] -> broadcast over rows and channels as [1, W, 1].
SIG_WAVE = (SIG_DELTA * np.sin(2 * np.pi * SIG_FREQ * np.arange(W) / W)).astype(np.float32)

# CL: PGD (L-inf) on the target-class images against a clean model, then the BadNets grid (see pgd.py).
CL_PGD = {"eps": 16 / 255, "step": 2 / 255, "steps": 10, "random_start": False, "loss": "untargeted CE, true label"}


def _shared_dir():
    """../shared beside the repo root, or $MCLDEF_SHARED."""
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    return os.environ.get("MCLDEF_SHARED") or os.path.abspath(os.path.join(repo, "..", "shared"))


def _as_float(x):
    """uint8/float [.., 32, 32, 3] -> float32 copy (stamps never write into the caller's array)."""
    x = np.array(x, dtype=np.float32, copy=True)
    assert x.shape[-3:] == (H, W, 3), f"expected [..., 32, 32, 3] HWC, got {x.shape}"
    return x


def badnets(x):
    """3x3 black/white grid in the bottom-right corner, all channels (replaces the pixels)."""
    x = _as_float(x)
    x[..., H - 3:, W - 3:, :] = BADNETS_PATCH[:, :, None]
    return x


_TROJAN = None


def trojan_patch():
    """The shared additive Trojan patch, float32 [32, 32, 3] (stored as [3, 32, 32]; non-zero at rows/cols 25-27)."""
    global _TROJAN
    if _TROJAN is None:
        path = os.path.join(_shared_dir(), "triggers", "trojan_square_cifar10.npz")
        with np.load(path) as d:
            _TROJAN = np.transpose(d["x"].astype(np.float32), (1, 2, 0)).copy()  # [3,32,32] -> [32,32,3]
    return _TROJAN


def trojan(x):
    """x' = clip(x + patch, 0, 255)."""
    return np.clip(_as_float(x) + trojan_patch(), 0, 255)


def blend(x):
    """3x3 patch at rows/cols 18-20: x' = (1 - alpha) * x + alpha * patch there, the rest untouched."""
    x = _as_float(x)
    region = x[..., BLEND_ROWS, BLEND_COLS, :]
    x[..., BLEND_ROWS, BLEND_COLS, :] = (1 - BLEND_ALPHA) * region + BLEND_ALPHA * BLEND_PATCH[:, :, None]
    return x


def sig(x):
    """x' = clip(x + 20 * sin(2*pi*6*col/32), 0, 255) on every row and channel."""
    return np.clip(_as_float(x) + SIG_WAVE[None, :, None], 0, 255)


# name -> how the attack poisons. "stamp" is also the test-time trigger used for ASR.
ATTACKS = {
    "badnets": {"kind": "poisoned-label", "stamp": badnets, "rate": 0.10,
                "params": {"trigger": "3x3 grid, bottom-right, rows/cols 29-31", "patch_rows_29_31": BADNETS_PATCH.tolist()}},
    "trojan": {"kind": "poisoned-label", "stamp": trojan, "rate": 0.10,
               "params": {"trigger": "additive patch triggers/trojan_square_cifar10.npz (rows/cols 25-27), clip 0-255"}},
    "blend": {"kind": "poisoned-label", "stamp": blend, "rate": 0.10,
              "params": {"trigger": "3x3 patch rows/cols 18-20", "alpha": BLEND_ALPHA, "patch": BLEND_PATCH.tolist()}},
    # Clean-label: 80% of the target class (4,000 of 5,000 images, 8% of the training set) is stamped.
    "sig": {"kind": "clean-label", "stamp": sig, "rate": 0.08,
            "params": {"trigger": "horizontal sine", "delta": SIG_DELTA, "freq": SIG_FREQ}},
    "cl": {"kind": "clean-label", "stamp": badnets, "rate": 0.08,
           "params": {"trigger": "PGD L-inf against a clean WRN-16-1, then the BadNets grid", "pgd": CL_PGD}},
    # No poison; ASR is still measured, with the BadNets grid, as a reference for the other models.
    "clean": {"kind": "none", "stamp": badnets, "rate": 0.0, "params": {"asr_trigger": "badnets"}},
}


def poison_indices(y, attack, seed):
    """Training images to stamp: sorted int64 indices into y [N].

    Poisoned-label: round(rate * N) images drawn among those whose label != TARGET (they get relabelled).
    Clean-label: round(rate * N) images drawn among the TARGET-class images (labels untouched).
    The draw uses its own generator seeded by `seed`, so the set does not depend on anything else.
    """
    spec = ATTACKS[attack]
    if spec["kind"] == "none":
        return np.zeros(0, dtype=np.int64)
    pool = np.flatnonzero(y != TARGET) if spec["kind"] == "poisoned-label" else np.flatnonzero(y == TARGET)
    n = min(int(round(spec["rate"] * len(y))), len(pool))
    rng = np.random.default_rng([seed, 0x9015])  # separate stream from shuffling and augmentation
    return np.sort(rng.choice(pool, size=n, replace=False)).astype(np.int64)
