"""PyTorch reference of the CIFAR ResNet-18 and PreAct-ResNet-18 that the common backdoor benchmarks use.

Written from the architecture description (not copied): both take 3x3 stems with stride 1 and no max-pool, four
stages of two basic blocks (base width w, 2w, 4w, 8w channels; strides 1, 2, 2, 2), a global average pool and a
linear classifier. `width` (64 by default) lets the golden fixtures use small models with the same structure.

State-dict keys follow the benchmark code, and are the interface src/engine/model/architectures.ts maps from:
  ResNet-18:        conv1, bn1, layer{1-4}.{0,1}.{conv1,bn1,conv2,bn2,shortcut.0,shortcut.1}, linear
  PreAct-ResNet-18: conv1, layer{1-4}.{0,1}.{bn1,conv1,bn2,conv2,shortcut.0}, [bn], linear
`bn` is the final BatchNorm (+ ReLU) before the pool that some PreAct variants have (final_bn=True); the
BackdoorBench variant has none. Inputs are pixels in [0, 1]; `Normalize` is the first module (no state-dict keys).
"""
import torch.nn as nn
import torch.nn.functional as F

from .wrn import CIFAR_MEAN, CIFAR_STD, Normalize, init_weights


class BasicBlock(nn.Module):
    """Post-activation block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = 1x1 conv + BN when
    the shape changes, else the identity."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


class PreActBlock(nn.Module):
    """Pre-activation block: out = relu(bn1(x)); h = conv2(relu(bn2(conv1(out)))); h + shortcut, where the
    shortcut is a 1x1 conv of `out` when the shape changes, else x itself."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.project = stride != 1 or cin != cout
        if self.project:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        short = self.shortcut(out) if self.project else x
        h = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return h + short


def _stage(block, cin, cout, stride):
    return nn.Sequential(block(cin, cout, stride), block(cout, cout, 1))


class _Cifar18(nn.Module):
    """Shared skeleton: stem, four stages of two blocks, [final BN + ReLU], pool, linear."""

    def __init__(self, block, stem_bn, final_bn, num_classes, width, in_channels, mean, std):
        super().__init__()
        ch = [width, 2 * width, 4 * width, 8 * width]
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        if stem_bn:
            self.bn1 = nn.BatchNorm2d(width)
        self.stem_bn = stem_bn
        self.layer1 = _stage(block, width, ch[0], 1)
        self.layer2 = _stage(block, ch[0], ch[1], 2)
        self.layer3 = _stage(block, ch[1], ch[2], 2)
        self.layer4 = _stage(block, ch[2], ch[3], 2)
        self.final_bn = final_bn
        if final_bn:
            self.bn = nn.BatchNorm2d(ch[3])
        self.linear = nn.Linear(ch[3], num_classes)
        self.feature_dim = ch[3]
        init_weights(self)  # the engine's initialization, as wrn.py's

    def features(self, x):
        """x: [B, C, H, W] pixels in [0, 1] -> [B, 8w] pooled penultimate features."""
        h = self.conv1(self.normalize(x))
        if self.stem_bn:
            h = F.relu(self.bn1(h))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        if self.final_bn:
            h = F.relu(self.bn(h))
        return F.adaptive_avg_pool2d(h, 1).flatten(1)

    def forward(self, x, return_features=False):
        f = self.features(x)
        logits = self.linear(f)
        return (f, logits) if return_features else logits


class ResNet18(_Cifar18):
    def __init__(self, num_classes=10, width=64, in_channels=3, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__(BasicBlock, True, False, num_classes, width, in_channels, mean, std)


class PreActResNet18(_Cifar18):
    def __init__(self, num_classes=10, width=64, in_channels=3, final_bn=False, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__(PreActBlock, False, final_bn, num_classes, width, in_channels, mean, std)
