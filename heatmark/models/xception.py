"""An Xception-style network with LeakyReLU (Chollet, 2017), the project's own small module.

Entry flow (two convolutions, then residual blocks of depthwise-separable convolutions with stride 2),
a middle flow of ``middle_blocks`` identical residual blocks (6 by default), an exit flow, and global
average pooling in the head. ``width`` scales every channel count (1.0 = the original 728-channel
middle flow, ~21 M parameters; the default 0.5 has about a quarter of that).
"""

from __future__ import annotations

from torch import nn


def _act(slope: float) -> nn.Module:
    return nn.LeakyReLU(slope, inplace=False)


class SeparableConv(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )


class XceptionBlock(nn.Module):
    """[act → separable conv] × reps (+ 3×3 max-pool with stride), plus a residual connection."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1, start_with_act: bool = True,
                 slope: float = 0.1):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(reps):
            if i > 0 or start_with_act:
                layers.append(_act(slope))
            layers.append(SeparableConv(cin if i == 0 else cout, cout))
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, padding=1))
        self.body = nn.Sequential(*layers)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                     if cin != cout or stride != 1 else nn.Identity())

    def forward(self, x):
        return self.body(x) + self.skip(x)


class XceptionLeaky(nn.Module):
    """Feature extractor: (B, 3, H, W) → (B, out_channels, H/32, W/32)."""

    def __init__(self, width: float = 0.5, middle_blocks: int = 6, slope: float = 0.1, in_channels: int = 3):
        super().__init__()

        def c(n: int) -> int:
            return max(8, int(round(n * width / 8)) * 8)

        self.entry = nn.Sequential(
            nn.Conv2d(in_channels, c(32), 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c(32)), _act(slope),
            nn.Conv2d(c(32), c(64), 3, padding=1, bias=False), nn.BatchNorm2d(c(64)), _act(slope),
            XceptionBlock(c(64), c(128), 2, 2, start_with_act=False, slope=slope),
            XceptionBlock(c(128), c(256), 2, 2, slope=slope),
            XceptionBlock(c(256), c(728), 2, 2, slope=slope),
        )
        self.middle = nn.Sequential(*[XceptionBlock(c(728), c(728), 3, 1, slope=slope) for _ in range(middle_blocks)])
        self.exit = nn.Sequential(
            XceptionBlock(c(728), c(1024), 2, 2, slope=slope),
            SeparableConv(c(1024), c(1536)), _act(slope),
            SeparableConv(c(1536), c(2048)), _act(slope),
        )
        self.out_channels = c(2048)

    def forward(self, x):
        return self.exit(self.middle(self.entry(x)))
