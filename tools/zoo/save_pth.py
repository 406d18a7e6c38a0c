#!/usr/bin/python3
"""Writes a zoo model as PyTorch checkpoints, the way users hand them to the app: torch.save in the zip format
(>= 1.6) with the state_dict at the top level, and in the legacy pre-1.6 format as {'net': state_dict with
DataParallel 'module.' prefixes, 'epoch': ...}. Also records PyTorch's predictions on sampled images of a shard, so
a test can check that the page, loading the .pth, predicts the same.

    /usr/bin/python3 tools/zoo/save_pth.py MODEL.safetensors OUT_DIR [--shard public/data/test-1k.mcld --every 5]

writes OUT_DIR/<stem>.pth, OUT_DIR/<stem>-legacy.pth and OUT_DIR/<stem>-predictions.json
({"shard", "indices", "labels", "predictions"}).
"""
import argparse
import collections
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from modelio import load_model  # noqa: E402
from predict_shard import predict, read_shard  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--shard", default=os.path.join(HERE, "..", "..", "public", "data", "test-1k.mcld"))
    p.add_argument("--every", type=int, default=5, help="predict every N-th image of the shard")
    a = p.parse_args()
    torch.set_num_threads(2)
    model, meta = load_model(a.model)
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(a.model))[0]
    if stem == "model":
        stem = f"{meta.get('arch', 'wrn')}-{meta.get('attack', 'model')}"
    sd = collections.OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    torch.save(sd, os.path.join(a.out, f"{stem}.pth"))
    legacy = {"net": collections.OrderedDict((f"module.{k}", v) for k, v in sd.items()), "epoch": 30}
    torch.save(legacy, os.path.join(a.out, f"{stem}-legacy.pth"), _use_new_zipfile_serialization=False)
    x, y = read_shard(a.shard)
    idx = np.arange(0, len(x), a.every)
    pred = predict(model, x[idx].astype(np.float32))
    with open(os.path.join(a.out, f"{stem}-predictions.json"), "w") as f:
        json.dump({"shard": os.path.relpath(os.path.abspath(a.shard), os.path.join(HERE, "..", "..")), "indices": idx.tolist(),
                   "labels": y[idx].tolist(), "predictions": pred.tolist()}, f)
    # Both files load back in PyTorch to the same tensors.
    for name in (f"{stem}.pth", f"{stem}-legacy.pth"):
        back = torch.load(os.path.join(a.out, name), map_location="cpu")
        back = back["net"] if "net" in back else back
        assert all(torch.equal(back[k if k in back else f"module.{k}"], v) for k, v in sd.items()), name
    print(f"wrote {stem}.pth, {stem}-legacy.pth, {stem}-predictions.json ({len(idx)} images, "
          f"accuracy {100 * np.mean(pred == y[idx]):.1f}%) -> {a.out}")


if __name__ == "__main__":
    main()
