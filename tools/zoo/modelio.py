"""Save/load zoo models as safetensors: PyTorch state_dict key names, float32, architecture in the metadata.

Metadata values are JSON strings: arch "wrn-16-1", depth 16, widen 1, num_classes 10, mean/std lists
(plus whatever `extra` adds, e.g. attack and target). BatchNorm `num_batches_tracked` counters are left out:
they are int64 bookkeeping that inference never reads (PyTorch recreates them on load).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))  # tools/
from torchref import safetensors_io  # noqa: E402
from torchref.wrn import CIFAR_MEAN, CIFAR_STD, WideResNet  # noqa: E402


def save_model(path, model, depth=16, widen=1, num_classes=10, extra=None):
    tensors = {k: v.detach().cpu().float().contiguous().numpy()  # channels_last weights -> standard layout
               for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    meta = {"arch": f"wrn-{depth}-{widen}", "depth": depth, "widen": widen, "num_classes": num_classes,
            "mean": list(CIFAR_MEAN), "std": list(CIFAR_STD)}
    meta.update(extra or {})
    tmp = path + ".tmp"
    safetensors_io.save(tmp, tensors, {k: json.dumps(v) for k, v in meta.items()})
    os.replace(tmp, path)


def load_model(path, device="cpu"):
    """-> (WideResNet in eval mode on `device`, metadata dict with JSON values decoded)."""
    tensors, meta = safetensors_io.load(path)
    meta = {k: json.loads(v) for k, v in meta.items()}
    model = WideResNet(int(meta["depth"]), int(meta["widen"]), int(meta["num_classes"]),
                       tuple(meta["mean"]), tuple(meta["std"]))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return model.to(device).eval(), meta
