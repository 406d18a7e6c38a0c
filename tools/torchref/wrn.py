"""PyTorch reference of the project's WideResNet (WRN-d-k), written from docs/design.md.

State-dict key names (conv1, block{g}.layer.{i}.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc) are the interface
the TypeScript engine maps from: see src/engine/model/torchWeights.ts.
Inputs are pixels in [0, 1]; `Normalize` (CIFAR mean/std) is the first module, so triggers live in pixel space.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class Normalize(nn.Module):
    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return (x - self.mean) / self.std


def init_weights(model):
    """The project's initialization (the engine's too): Kaiming-normal fan-out convolutions, unit BN, zero biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            m.bias.data.zero_()


class BasicBlock(nn.Module):
    """Pre-activation block: out = relu(bn1(x)); h = conv2(relu(bn2(conv1(out)))); shortcut + h."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.equal = cin == cout and stride == 1
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        h = self.conv2(F.relu(self.bn2(self.conv1(out))))
        short = x if self.equal else self.convShortcut(out)
        return short + h


class Group(nn.Module):
    def __init__(self, n, cin, cout, stride):
        super().__init__()
        self.layer = nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth=16, widen=1, num_classes=10, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        assert (depth - 4) % 6 == 0, "depth must be 6n+4"
        n = (depth - 4) // 6
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(3, ch[0], 3, 1, 1, bias=False)
        self.block1 = Group(n, ch[0], ch[1], 1)
        self.block2 = Group(n, ch[1], ch[2], 2)
        self.block3 = Group(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], num_classes)
        self.feature_dim = ch[3]
        init_weights(self)

    def features(self, x):
        """x: [B, 3, H, W] pixels in [0, 1] -> [B, C] pooled penultimate features."""
        h = self.conv1(self.normalize(x))
        h = self.block3(self.block2(self.block1(h)))
        h = F.relu(self.bn1(h))
        return F.adaptive_avg_pool2d(h, 1).flatten(1)

    def forward(self, x, return_features=False):
        f = self.features(x)
        logits = self.fc(f)
        return (f, logits) if return_features else logits


@torch.no_grad()
def randomize_statistics(model):
    """Non-trivial BatchNorm affine parameters and running statistics, and linear biases, for reference fixtures
    (a freshly initialized model has unit/zero BN and zero biases, which would hide layout mistakes)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 2.0)
        elif isinstance(m, nn.Linear):
            m.bias.uniform_(-0.1, 0.1)
    return model
