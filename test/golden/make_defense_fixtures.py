"""Writes the PyTorch reference values of the defense losses that test/golden/defense.golden.test.ts pins.

Run: /usr/bin/python3 test/golden/make_defense_fixtures.py   (Debian's python3-torch 1.13; the output is committed)

defense.safetensors holds (PyTorch layouts: images NCHW, conv weights [O, I, kh, kw]):
  model.<state_dict key>   WRN-10-1 (fixed seed) with non-trivial BatchNorm affine params and running statistics
  input     [B, 3, H, W] clean pixels in [0, 1] (H = W = 16 keeps the TF.js CPU-backend test fast)
  mask      [H, W] in [0, 1];  pattern [3, H, W] in [0, 1]   (an "inverted trigger")
  Inversion objective, model in eval mode, x' = (1 - m) x + m p:
    inv_loss = CE(f(x'), target) + lambda * sum(m);  inv_ce;  inv_l1
    inv_grad_mask [H, W];  inv_grad_pattern [3, H, W]
  MCL loss, f_b = the model in eval mode, f_p = a copy in train mode, x^ = (1 - m) x + m p:
    z = f_p(x^), z+ = f_b(x), z- = f_b(x^); s = cosine similarity;
    mcl_loss = mean -log(exp(s+/t) / (exp(s+/t) + exp(s-/t)));  mcl_spos, mcl_sneg (batch means)
    mcl_grad.<key>  gradient of mcl_loss w.r.t. selected parameters of f_p
    mcl_running.<bn key>.running_mean / .running_var  f_p's BatchNorm running statistics after that one
                    train-mode forward (momentum 0.1; running_var takes the unbiased batch variance)
  scalars: target, lambda, tau as 1-element tensors
"""
import copy
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torchref.wrn import WideResNet, randomize_statistics  # noqa: E402
from torchref import safetensors_io  # noqa: E402

RUNNING_KEYS = ["block1.layer.0.bn1", "block2.layer.0.bn2", "bn1"]

GRAD_KEYS = [
    "conv1.weight",
    "block1.layer.0.conv1.weight",
    "block2.layer.0.convShortcut.weight",
    "block2.layer.0.bn2.weight",
    "block2.layer.0.bn2.bias",
    "block3.layer.0.conv2.weight",
    "bn1.weight",
    "bn1.bias",
]


def defense_fixture(path, batch=4, size=16, seed=4321, target=3, lam=0.01, tau=0.5):
    torch.manual_seed(seed)
    model = WideResNet(depth=10, widen=1, num_classes=10)
    randomize_statistics(model)
    state = {f"model.{k}": v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    x = torch.rand(batch, 3, size, size)
    mask = torch.rand(size, size)
    pattern = torch.rand(3, size, size)

    # Inversion objective: frozen model, eval mode; gradients w.r.t. mask and pattern only.
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    m = mask.clone().requires_grad_(True)
    pat = pattern.clone().requires_grad_(True)
    xt = (1 - m) * x + m * pat
    logits = model(xt)
    ce = F.cross_entropy(logits, torch.full((batch,), target, dtype=torch.long))
    l1 = m.abs().sum()
    inv_loss = ce + lam * l1
    inv_loss.backward()

    # MCL loss: f_b eval (frozen), f_p = copy in train mode.
    fb = model
    fp = copy.deepcopy(model).train()
    for p in fp.parameters():
        p.requires_grad_(True)
    x_hat = (1 - mask) * x + mask * pattern
    with torch.no_grad():
        z_pos = fb.features(x)
        z_neg = fb.features(x_hat)
    z = fp.features(x_hat)
    s_pos = F.cosine_similarity(z, z_pos, dim=1)
    s_neg = F.cosine_similarity(z, z_neg, dim=1)
    pair_logits = torch.stack([s_pos, s_neg], dim=1) / tau
    mcl = F.cross_entropy(pair_logits, torch.zeros(batch, dtype=torch.long))
    mcl.backward()
    params = dict(fp.named_parameters())
    assert params["fc.weight"].grad is None, "the MCL loss must not reach the classifier"

    tensors = dict(state)
    tensors.update(
        input=x,
        mask=mask,
        pattern=pattern,
        target=torch.tensor([float(target)]),
        inv_lambda=torch.tensor([lam]),
        tau=torch.tensor([tau]),
        inv_loss=inv_loss.detach().reshape(1),
        inv_ce=ce.detach().reshape(1),
        inv_l1=l1.detach().reshape(1),
        inv_grad_mask=m.grad,
        inv_grad_pattern=pat.grad,
        mcl_loss=mcl.detach().reshape(1),
        mcl_spos=s_pos.detach().mean().reshape(1),
        mcl_sneg=s_neg.detach().mean().reshape(1),
    )
    for k in GRAD_KEYS:
        tensors[f"mcl_grad.{k}"] = params[k].grad
    fp_state = fp.state_dict()
    for k in RUNNING_KEYS:
        for stat in ("running_mean", "running_var"):
            tensors[f"mcl_running.{k}.{stat}"] = fp_state[f"{k}.{stat}"].clone()
    meta = {"arch": "wrn-10-1", "size": str(size), "seed": str(seed), "torch": torch.__version__, "grad_keys": ",".join(GRAD_KEYS), "running_keys": ",".join(RUNNING_KEYS)}
    safetensors_io.save(path, tensors, meta)
    print(f"wrote {path}: inv_loss={inv_loss.item():.6f} mcl_loss={mcl.item():.6f} s+={s_pos.mean().item():.4f} s-={s_neg.mean().item():.4f}")


if __name__ == "__main__":
    out = os.path.join(HERE, "fixtures")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    defense_fixture(os.path.join(out, "defense.safetensors"))
