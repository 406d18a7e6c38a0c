"""Writes the PyTorch reference fixtures the TypeScript golden tests compare against.

Run: npm run fixtures   (Debian's /usr/bin/python3 with python3-torch; the outputs are committed, so tests need no Python)

wrn16_1.safetensors holds:
  model.<state_dict key>  WRN-16-1 weights (fixed seed) with non-trivial BatchNorm statistics and affine params
  input     [B, 3, 32, 32] pixels in [0, 1] (NCHW, as PyTorch sees them)
  features  [B, 64] pooled penultimate features (eval mode)
  logits    [B, 10]
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torchref.wrn import WideResNet, randomize_statistics  # noqa: E402
from torchref import safetensors_io  # noqa: E402


def wrn_fixture(path, batch=8, seed=1234):
    torch.manual_seed(seed)
    model = WideResNet(depth=16, widen=1, num_classes=10)
    randomize_statistics(model)
    model.eval()
    x = torch.rand(batch, 3, 32, 32)
    with torch.no_grad():
        feats, logits = model(x, return_features=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors.update(input=x, features=feats, logits=logits)
    safetensors_io.save(path, tensors, {"arch": "wrn-16-1", "seed": str(seed), "torch": torch.__version__})
    print(f"wrote {path}: logits[0,:3]={logits[0, :3].tolist()}")


if __name__ == "__main__":
    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    wrn_fixture(os.path.join(out, "wrn16_1.safetensors"))
