#!/usr/bin/python3
"""PyTorch predictions of a zoo model on an MCLDSET1 shard (the TypeScript engine's data format).

Used by tools/zoo/export.ts to check that the exported TensorFlow.js model agrees with PyTorch on the very same
pixels (JPEG decoders differ by a few levels, so both sides must read one decoded copy).

  python3 tools/zoo/predict_shard.py MODEL.safetensors SHARD.mcld ATTACK OUT_PREFIX
writes OUT_PREFIX.clean.u8 and OUT_PREFIX.triggered.u8 (uint8 [N] argmax, the trigger stamped on every image).
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacks  # noqa: E402
from modelio import load_model  # noqa: E402


def read_shard(path):
    """-> (x uint8 [N, H, W, C], y int64 [N]); layout per src/engine/data/shard.ts."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"MCLDSET1", f"{path}: not an MCLDSET1 shard"
    (hlen,) = struct.unpack("<I", data[8:12])
    h = json.loads(data[12:12 + hlen])
    n, hh, ww, cc = h["n"], h["height"], h["width"], h["channels"]
    off = 12 + hlen
    if h["labelDtype"] == "uint8":
        y = np.frombuffer(data, np.uint8, n, off).astype(np.int64)
        off += n
    else:
        y = np.frombuffer(data, np.int32, n, off).astype(np.int64)
        off += 4 * n
    x = np.frombuffer(data, np.uint8, n * hh * ww * cc, off).reshape(n, hh, ww, cc)
    return x, y


@torch.no_grad()
def predict(model, x_float):
    out = []
    for i in range(0, len(x_float), 500):
        b = torch.from_numpy(np.ascontiguousarray(x_float[i:i + 500].transpose(0, 3, 1, 2)) / 255.0).float()
        out.append(model(b).argmax(1).numpy().astype(np.uint8))
    return np.concatenate(out)


def main():
    model_path, shard, attack, prefix = sys.argv[1:5]
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    model, _ = load_model(model_path)
    x, _ = read_shard(shard)
    # Stamps quantize as the engine's uint8 path does (src/engine/attacks/types.ts): clip to [0, 255], then round
    # half up (Math.round), so both sides predict the very same triggered pixels.
    stamped = np.floor(np.clip(attacks.ATTACKS[attack]["stamp"](x.astype(np.float32)), 0, 255) + 0.5).astype(np.float32)
    predict(model, x.astype(np.float32)).tofile(prefix + ".clean.u8")
    predict(model, stamped).tofile(prefix + ".triggered.u8")
    print(json.dumps({"n": int(len(x)), "prefix": prefix}))


if __name__ == "__main__":
    main()
