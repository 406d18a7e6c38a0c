"""PGD (L-inf) perturbation for the label-consistent (CL) attack of Turner et al.

Untargeted: each step ascends the cross-entropy of the image's TRUE label under a clean model, so the
perturbed target-class images become hard to classify from their content and the network leans on the trigger
that gets stamped on them afterwards. Settings: attacks.CL_PGD (eps 16/255, step 2/255, 10 steps, no random start).
"""
import numpy as np
import torch
import torch.nn.functional as F


def pgd_linf(model, x, y, eps, step, steps, device, batch=256):
    """x: uint8/float [N, 32, 32, 3] in [0, 255]; y: int [N] -> float32 [N, 32, 32, 3] in [0, 255].

    The model takes [B, 3, 32, 32] pixels in [0, 1] (normalization inside). Model in eval mode (BN frozen).
    """
    model.eval()
    out = np.empty(x.shape, dtype=np.float32)
    for i in range(0, len(x), batch):
        # [B, 32, 32, 3] -> [B, 3, 32, 32] in [0, 1]
        x0 = torch.from_numpy(np.asarray(x[i:i + batch], dtype=np.float32) / 255).permute(0, 3, 1, 2).to(device)
        yb = torch.as_tensor(np.asarray(y[i:i + batch]), dtype=torch.long, device=device)
        xa = x0.clone()
        for _ in range(steps):
            xa.requires_grad_(True)
            loss = F.cross_entropy(model(xa), yb)
            (grad,) = torch.autograd.grad(loss, xa)
            with torch.no_grad():
                xa = xa + step * grad.sign()
                xa = torch.min(torch.max(xa, x0 - eps), x0 + eps).clamp(0, 1)  # project: L-inf ball, pixel range
        out[i:i + batch] = (xa.detach() * 255).permute(0, 2, 3, 1).cpu().numpy()
    return out
