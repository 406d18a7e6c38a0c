"""Writes the torch.save fixtures that test/engine/io/torchCheckpoint.test.ts reads.

Run: /usr/bin/python3 test/golden/make_torch_checkpoint_fixtures.py
(Debian's python3 with python3-torch 1.13 and python3-numpy; the outputs are committed, so the tests need no Python.)

Files under test/golden/fixtures/torch/:
  state_dict_zip.pth          a small state_dict (conv, bn with num_batches_tracked, linear, a Parameter, tensors
                              viewing one shared storage with offsets and non-contiguous strides, float64, float16,
                              bfloat16, int64, an empty tensor), torch.save's default zip format
  state_dict_legacy.pth       the same, _use_new_zipfile_serialization=False (pre-1.6 format); its storage keys are
                              memory addresses, so this one file differs from run to run (its values do not)
  wrapped_state_dict.pth      {'state_dict': sd, 'epoch': 3, 'best_acc': 0.875, 'arch': 'tiny'}
  wrapped_model.pth           {'model': sd}
  wrapped_net_module.pth      {'net': sd with 'module.' key prefixes (DataParallel)}, legacy format
  whole_module.pth            torch.save(TinyNet()): a whole pickled nn.Module, which the reader must refuse
  malicious_os_system.pth     a zip checkpoint whose pickle calls os.system (posix.system) when unpickled by
                              Python: the reader must refuse it without running anything. The command would only
                              create /tmp/mcldef-pwned-by-fixture, which the test checks is absent.
  numpy_extras_zip.pth        {'net': sd, 'acc': numpy.float64(93.5), 'epoch': 7, 'hist': numpy.array([1.0, 2.0])},
                              as training scripts save a best checkpoint (numpy.core.multiarray.scalar/_reconstruct,
                              numpy.dtype, numpy.ndarray and _codecs.encode in the pickle)
  numpy_extras_legacy.pth     the same, legacy format
  malicious_numpy_scalar.pth  {'net': {'w': zeros(2)}, 'acc': a numpy.float64 scalar whose raw bytes are the result of
                              os.system(...), 'epoch': 7}: numpy-looking, yet Python's unpickler would run the command
  malicious_numpy_object_array.pth
                              {'net': {'w': zeros(2)}, 'hist': a numpy object array whose one item runs os.system}
  truncated_zip.pth           state_dict_zip.pth cut to its first 60%
  truncated_legacy.pth        state_dict_legacy.pth without its last 30 bytes (the last storage is short)
  expected.json               {key: {dtype, shape, values}} of the state_dict; values are the float32 (or int)
                              values the reader must return exactly (float64 rounded to float32 by numpy)
"""
import collections
import json
import os

import numpy
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "torch")
PWNED_MARKER = "/tmp/mcldef-pwned-by-fixture"


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)


class Evil:
    """What a booby-trapped checkpoint carries: unpickling it in Python runs a shell command."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED_MARKER}",))


class EvilBytes:
    """Stands where a numpy scalar's raw bytes belong; unpickling it in Python runs a shell command."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED_MARKER}",))


class EvilScalar:
    """Pickles exactly as numpy.float64 does (numpy.core.multiarray.scalar(dtype('f8'), data)), but data is EvilBytes."""

    def __reduce__(self):
        return (numpy.core.multiarray.scalar, (numpy.dtype("f8"), EvilBytes()))


def evil_object_array():
    a = numpy.empty(1, dtype=object)
    a[0] = Evil()
    return a


def state_dict():
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.normal_()
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.num_batches_tracked.fill_(7)
    sd = net.state_dict()  # an OrderedDict carrying _metadata, as real checkpoints do
    # Tensors that view one storage: torch.save writes the storage once, each tensor with its offset and strides.
    base = torch.arange(24, dtype=torch.float32).reshape(6, 4) * 0.5 - 3
    sd["views.base"] = base
    sd["views.rows"] = base[2:5]  # offset 8, contiguous
    sd["views.transposed"] = base.t()  # [4, 6], strides (1, 4)
    sd["views.strided"] = base[1::2, ::3]  # [3, 2], offset 4, strides (8, 3)
    sd["param"] = nn.Parameter(torch.randn(2))  # pickled through torch._utils._rebuild_parameter
    sd["double"] = torch.randn(3, dtype=torch.float64)
    sd["half"] = torch.randn(5).half()
    sd["bfloat16"] = torch.randn(3).bfloat16()
    sd["long_vec"] = torch.tensor([-5, 0, 2**31 - 1], dtype=torch.int64)
    sd["empty"] = torch.zeros(0)
    return sd


def expected(sd):
    out = {}
    for k, v in sd.items():
        v = v.detach()
        if v.is_floating_point():
            values = v.to(torch.float32).flatten().tolist()
        else:
            values = v.flatten().tolist()
        out[k] = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "values": values}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    path = lambda name: os.path.join(OUT, name)  # noqa: E731
    sd = state_dict()
    torch.save(sd, path("state_dict_zip.pth"))
    torch.save(sd, path("state_dict_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": sd, "epoch": 3, "best_acc": 0.875, "arch": "tiny"}, path("wrapped_state_dict.pth"))
    torch.save({"model": sd}, path("wrapped_model.pth"))
    prefixed = collections.OrderedDict((f"module.{k}", v) for k, v in sd.items())
    torch.save({"net": prefixed}, path("wrapped_net_module.pth"), _use_new_zipfile_serialization=False)
    torch.manual_seed(1)
    torch.save(TinyNet(), path("whole_module.pth"))
    torch.save({"state_dict": {"w": torch.zeros(2)}, "payload": Evil()}, path("malicious_os_system.pth"))
    best = {"net": sd, "acc": numpy.float64(93.5), "epoch": 7, "hist": numpy.array([1.0, 2.0])}
    torch.save(best, path("numpy_extras_zip.pth"))
    torch.save(best, path("numpy_extras_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"net": {"w": torch.zeros(2)}, "acc": EvilScalar(), "epoch": 7}, path("malicious_numpy_scalar.pth"))
    torch.save({"net": {"w": torch.zeros(2)}, "hist": evil_object_array()}, path("malicious_numpy_object_array.pth"))
    with open(path("state_dict_zip.pth"), "rb") as f:
        data = f.read()
    with open(path("truncated_zip.pth"), "wb") as f:
        f.write(data[: len(data) * 6 // 10])
    with open(path("state_dict_legacy.pth"), "rb") as f:
        data = f.read()
    with open(path("truncated_legacy.pth"), "wb") as f:
        f.write(data[:-30])
    with open(path("expected.json"), "w") as f:
        json.dump(expected(sd), f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(path(name))} bytes")


if __name__ == "__main__":
    main()
