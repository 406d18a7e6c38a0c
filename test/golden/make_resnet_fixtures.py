"""Writes the PyTorch reference fixtures for ResNet-18 and PreAct-ResNet-18 (test/golden/resnet.golden.test.ts).

Run: /usr/bin/python3 test/golden/make_resnet_fixtures.py   (Debian's python3-torch 1.13; the outputs are committed)

Full-width ResNet-18 weights are 45 MB, so the golden comparisons use the same architectures at reduced base
width (the `width` parameter of tools/torchref/resnet.py); the full-width key names and shapes are pinned by
resnet_keys.json instead, which needs no weights.

<name>.safetensors holds:
  model.<state_dict key>  weights (fixed seed) with non-trivial BatchNorm statistics and affine params
                          (num_batches_tracked included, as torch.save writes it)
  input     [B, C, H, W] pixels in [0, 1] (NCHW, as PyTorch sees them): a colour cast per image plus noise
  features  [B, 8w] pooled penultimate features (eval mode)
  logits    [B, classes]
  metadata: arch, width, final_bn, input_size, mean, std (JSON), seed, torch version
resnet_keys.json: {name: [[key, shape], ...]} of torch's state_dict at full width, 10 classes, in state_dict order.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torchref.resnet import PreActResNet18, ResNet18  # noqa: E402
from torchref.wrn import CIFAR_MEAN, CIFAR_STD, WideResNet, randomize_statistics  # noqa: E402
from torchref import safetensors_io  # noqa: E402

# name, architecture, width, final BN, classes, input size, mean, std, seed
FIXTURES = [
    ("resnet18_w8", "resnet18", 8, False, 10, 32, CIFAR_MEAN, CIFAR_STD, 2024),
    ("preactresnet18_w4", "preactresnet18", 4, False, 10, 32, CIFAR_MEAN, CIFAR_STD, 2025),
    # odd spatial sizes after the stride-2 stages (36 -> 18 -> 9 -> 5) and another normalization
    ("preactresnet18_w4_bn", "preactresnet18", 4, True, 43, 36, (0.5, 0.4, 0.3), (0.25, 0.2, 0.3), 2026),
]


def build(arch, width, final_bn, classes, mean, std):
    if arch == "resnet18":
        return ResNet18(num_classes=classes, width=width, mean=mean, std=std)
    return PreActResNet18(num_classes=classes, width=width, final_bn=final_bn, mean=mean, std=std)


def fixture(path, arch, width, final_bn, classes, size, mean, std, seed, batch=4):
    torch.manual_seed(seed)
    model = randomize_statistics(build(arch, width, final_bn, classes, mean, std)).eval()
    # a brightness/colour cast per image plus noise, so the images (and their features) differ visibly
    x = torch.rand(batch, 3, 1, 1) * 0.6 + torch.rand(batch, 3, size, size) * 0.4
    with torch.no_grad():
        feats, logits = model(x, return_features=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(input=x, features=feats, logits=logits)
    meta = {
        "arch": arch, "width": width, "final_bn": json.dumps(final_bn), "input_size": size,
        "mean": json.dumps(list(mean)), "std": json.dumps(list(std)), "seed": seed, "torch": torch.__version__,
    }
    safetensors_io.save(path, tensors, meta)
    print(f"wrote {path} ({os.path.getsize(path)} bytes): logits[0,:3]={logits[0, :3].tolist()}")


def key_shapes(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def full_width_keys(path):
    lists = {
        "resnet18": key_shapes(ResNet18()),
        "preactresnet18": key_shapes(PreActResNet18()),
        "preactresnet18_bn": key_shapes(PreActResNet18(final_bn=True)),
        "wrn16_1": key_shapes(WideResNet(16, 1)),
    }
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(f'  "{n}": {json.dumps(v, separators=(",", ":"))}' for n, v in lists.items()) + "\n}\n")
    print(f"wrote {path}: " + ", ".join(f"{n} {len(v)} keys" for n, v in lists.items()))


if __name__ == "__main__":
    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    for name, *args in FIXTURES:
        fixture(os.path.join(out, f"{name}.safetensors"), *args)
    full_width_keys(os.path.join(out, "resnet_keys.json"))
