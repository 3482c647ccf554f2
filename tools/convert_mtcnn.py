"""Convert the MTCNN face detector's weights (P-, R-, O-Net) to ONNX files shipped in heatmark/assets/mtcnn.

The weights come from the ``facenet-pytorch`` 2.6.0 wheel (MIT; ``data/pnet.pt``, ``rnet.pt``, ``onet.pt``: plain
state dicts). heatmark does not depend on that package (it pins numpy < 2 and torch < 2.3): this script downloads
the wheel once with pip (or takes it with --wheel), reads the three files with ``torch.load(weights_only=True)``
into the small modules below (the published architecture, written here) and exports each as ONNX with dynamic
batch and image axes. Run once by a developer; users get the ONNX files in the package and never download.

    python tools/convert_mtcnn.py [--wheel facenet_pytorch-2.6.0-py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "heatmark" / "assets" / "mtcnn"
WHEEL = "facenet-pytorch==2.6.0"


class PNet(nn.Module):
    """Proposal net: fully convolutional, 12×12 windows at stride 2 → (box offsets (4), face probability (2))."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), 1)


class RNet(nn.Module):
    """Refinement net on 24×24 crops → (box offsets (4), face probability (2))."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # the Caffe weights' order
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), 1)


class ONet(nn.Module):
    """Output net on 48×48 crops → (box offsets (4), 5 points (10: x1..x5, y1..y5), face probability (2))."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), 1)


NETS = {"pnet": (PNet, 12, ["offsets", "prob"]), "rnet": (RNet, 24, ["offsets", "prob"]),
        "onet": (ONet, 48, ["offsets", "points", "prob"])}

LICENSE = """MTCNN face detector weights (pnet.onnx, rnet.onnx, onet.onnx)

Converted by tools/convert_mtcnn.py from the state dicts in the facenet-pytorch 2.6.0 wheel
(https://pypi.org/project/facenet-pytorch/, data/pnet.pt, rnet.pt, onet.pt), distributed under the MIT licence:

{license}

The weights are those of the MTCNN paper (K. Zhang, Z. Zhang, Z. Li, Y. Qiao, "Joint Face Detection and Alignment
using Multi-task Cascaded Convolutional Networks", IEEE SPL 2016), as released by its authors
(github.com/kpzhang93/MTCNN_face_detection_alignment) and converted to TensorFlow by davidsandberg/facenet (MIT),
from which facenet-pytorch converted them to PyTorch. heatmark's network code and pre/post-processing are its own.
"""


def wheel_bytes(path: Path | None) -> bytes:
    if path is not None:
        return path.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-d", tmp, "-q"], check=True)
        return next(Path(tmp).glob("*.whl")).read_bytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} wheel (default: pip download it)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(wheel_bytes(args.wheel))) as z:
        names = z.namelist()
        licence = z.read(next(n for n in names if n.endswith("LICENSE.md"))).decode()
        for name, (cls, size, outputs) in NETS.items():
            state = torch.load(io.BytesIO(z.read(f"facenet_pytorch/data/{name}.pt")), weights_only=True)
            net = cls().eval()
            net.load_state_dict(state)
            x = torch.rand(1, 3, size, size)
            dyn = {"image": {0: "batch"} | ({2: "height", 3: "width"} if name == "pnet" else {})}
            dyn.update({o: {0: "batch"} for o in outputs})
            if name == "pnet":
                dyn.update({o: {0: "batch", 2: "h", 3: "w"} for o in outputs})
            path = args.out / f"{name}.onnx"
            torch.onnx.export(net, (x,), str(path), input_names=["image"], output_names=outputs,
                              dynamic_axes=dyn, opset_version=17, dynamo=False)
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    (args.out / "LICENSE").write_text(LICENSE.format(license=licence.strip()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
