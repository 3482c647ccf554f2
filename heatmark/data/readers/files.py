"""Datasets in one annotation file: WFLW lists, COFW ``.mat``, dlib XML, COCO-style JSON (mmpose)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from heatmark.data.readers.common import (
    INDEX_OFFSET,
    PTS_OFFSET,
    _collect,
    _nonempty,
    _resolve_file,
    scheme_for_count,
)
from heatmark.data.records import LandmarkRecord, Records
from heatmark.data.schemes import Scheme, get_scheme
from heatmark.errors import DataError


# ------------------------------------------------------------------ WFLW
def _wflw_list_file(root: Path) -> tuple[Path, Path]:
    """Resolve ``--root`` to (annotation list, image root). Accepts the list itself or the WFLW root."""
    if root.is_file():
        list_file = root
    else:
        cands = sorted(root.rglob("list_98pt_rect_attr_test.txt")) or sorted(root.rglob("list_98pt*.txt"))
        if not cands:
            raise DataError(root, "no WFLW annotation list (list_98pt_rect_attr_*.txt) under this folder",
                            "pass the list file or the WFLW root as --root")
        list_file = cands[0]
    for base in [list_file.parent, *list_file.parents]:
        if (base / "WFLW_images").is_dir():
            return list_file, base / "WFLW_images"
    return list_file, list_file.parent


def read_wflw(root: str | Path, image_root: str | Path | None = None, skip_bad: bool = False,
              offset: float = INDEX_OFFSET) -> Records:
    """WFLW annotation list: per line 196 coordinates, 4 box values, 6 attribute flags, image path."""
    root = Path(root)
    if not root.exists():
        raise DataError(root, "WFLW list or folder not found", "check --root")
    list_file, default_images = _wflw_list_file(root)
    image_root = Path(image_root) if image_root else default_images
    scheme = get_scheme("wflw98")
    lines = [(i, ln) for i, ln in enumerate(list_file.read_text().splitlines(), 1) if ln.strip()]

    def build(item: tuple[int, str]) -> LandmarkRecord:
        lineno, line = item
        parts = line.split()
        if len(parts) != 196 + 4 + 6 + 1:
            raise DataError(list_file, f"line {lineno}: expected 207 fields (196 coords, 4 box, 6 attributes, "
                                       f"image name), found {len(parts)}")
        try:
            vals = np.asarray(parts[:206], dtype=np.float64)
        except ValueError:
            raise DataError(list_file, f"line {lineno}: non-numeric field") from None
        img = image_root / parts[206]
        if not img.is_file():
            raise DataError(img, f"image listed on line {lineno} of {list_file.name} not found",
                            "check the image root (WFLW_images)")
        pts = vals[:196].reshape(98, 2) + offset
        box = vals[196:200] + offset
        return LandmarkRecord(image_path=img, landmarks=pts, scheme=scheme, box=box.astype(np.float32),
                              annotation_path=list_file)

    return _nonempty(_collect(lines, build, skip_bad), list_file, "WFLW annotations")


# ------------------------------------------------------------------ COFW
def read_cofw(path: str | Path, skip_bad: bool = False, offset: float = PTS_OFFSET) -> Records:
    """COFW ``.mat`` (``COFW_test_color.mat`` / ``COFW_train_color.mat``): images embedded in the file,
    ``phis`` = 29 x, 29 y, 29 occlusion flags per face, ``bboxes`` = x, y, w, h (1-based)."""
    import scipy.io

    path = _resolve_file(path, ("*test*.mat", "*.mat"), "COFW .mat")
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise DataError(path, "MATLAB v7.3 (HDF5) .mat files are not supported by scipy.io",
                        "re-save it in MATLAB with -v7, or convert it to COCO-style JSON") from None
    except Exception as e:  # scipy raises several types for corrupt files
        raise DataError(path, f"cannot read .mat file ({e.__class__.__name__}: {e})") from None
    keys = [k for k in mat if not k.startswith("__")]
    ikey = next((k for k in keys if k.startswith("Is")), None)
    pkey = next((k for k in keys if k.startswith("phis")), None)
    bkey = next((k for k in keys if k.startswith("bboxes")), None)
    if ikey is None or pkey is None:
        raise DataError(path, f"not a COFW file: needs 'IsT'/'IsTr' and 'phisT'/'phisTr', found {keys}")
    images, phis = mat[ikey].reshape(-1), np.asarray(mat[pkey], dtype=np.float64)
    boxes = np.asarray(mat[bkey], dtype=np.float64) if bkey else None
    scheme = get_scheme("cofw29")
    if phis.shape[1] < 58 or len(images) != len(phis):
        raise DataError(path, f"{pkey} has shape {phis.shape} for {len(images)} images; expected (N, 87)")

    def build(i: int) -> LandmarkRecord:
        from heatmark.data.image_io import to_rgb_uint8

        img = np.asarray(images[i])
        # MATLAB stores colour images as RGB, grayscale as (H, W); to_rgb_uint8 expects BGR.
        img = img[:, :, ::-1].copy() if img.ndim == 3 else img
        pts = np.stack([phis[i, :29], phis[i, 29:58]], 1) + offset
        vis = phis[i, 58:87] < 0.5 if phis.shape[1] >= 87 else None
        box = None
        if boxes is not None:
            x, y, w, h = boxes[i, :4]
            box = np.array([x + offset, y + offset, x + offset + w, y + offset + h], dtype=np.float32)
        return LandmarkRecord(image_path=path.with_name(f"{path.stem}#{i:05d}"), landmarks=pts, scheme=scheme,
                              visible=vis, box=box, annotation_path=path,
                              image_array=to_rgb_uint8(img, path))

    return _nonempty(_collect(range(len(images)), build, skip_bad), path, "COFW faces")


# ------------------------------------------------------------------ dlib XML
def read_dlib_xml(path: str | Path, skip_bad: bool = False, offset: float = INDEX_OFFSET) -> Records:
    """dlib's imglab XML (``<image file=..><box ..><part name x y/>``). One record per box with parts."""
    path = _resolve_file(path, ("*landmarks*.xml", "*.xml"), "dlib .xml")
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        raise DataError(path, f"not valid XML ({e})") from None
    items = []
    for img in tree.getroot().iter("image"):
        for box in img.iter("box"):
            if box.find("part") is not None:
                items.append((img, box))

    def build(item) -> LandmarkRecord:
        img, box = item
        f = path.parent / img.get("file", "")
        if not f.is_file():
            raise DataError(f, f"image named in {path.name} not found")
        parts = sorted(box.iter("part"), key=lambda p: int(p.get("name", "0")))
        pts = np.array([[float(p.get("x")), float(p.get("y"))] for p in parts]) + offset
        top, left, w, h = (float(box.get(k, 0)) for k in ("top", "left", "width", "height"))
        return LandmarkRecord(image_path=f, landmarks=pts, scheme=scheme_for_count(len(pts)),
                              box=np.array([left, top, left + w, top + h], dtype=np.float32), annotation_path=path)

    return _nonempty(_collect(items, build, skip_bad), path, "boxes with landmark parts")


# ------------------------------------------------------------------ COCO-style JSON (mmpose)
def read_coco_json(path: str | Path, image_root: str | Path | None = None, scheme: str | Scheme | None = None,
                   offset: float | None = None, skip_bad: bool = False) -> Records:
    """COCO-style keypoint JSON as used by mmpose for 300W, WFLW, COFW, AFLW...

    mmpose keeps each source dataset's own coordinates, so ``offset`` defaults per scheme:
    68 points (300W, 1-based) → -0.5; COFW → -0.5; others (0-based pixel centres) → +0.5.
    Keypoints with visibility flag 0 are marked not visible.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "annotation JSON not found")
    try:
        d = json.loads(path.read_text())
        images = {im["id"]: im for im in d["images"]}
        anns = d["annotations"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataError(path, f"not a COCO-style keypoint JSON ({e.__class__.__name__}: {e})") from None
    image_root = Path(image_root) if image_root else path.parent
    if d.get("heatmark_coordinates") == "continuous":  # written by heatmark (pseudo-labels): no offset
        offset = 0.0

    def build(a: dict) -> LandmarkRecord:
        im = images.get(a.get("image_id"))
        if im is None:
            raise DataError(path, f"annotation {a.get('id')} refers to unknown image_id {a.get('image_id')}")
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
        sch = get_scheme(scheme) if scheme is not None else scheme_for_count(len(kp))
        off = offset if offset is not None else (PTS_OFFSET if sch.name in ("ibug68", "cofw29") else INDEX_OFFSET)
        f = image_root / im["file_name"]
        if not f.is_file():
            raise DataError(f, f"image named in {path.name} not found", "check the image root")
        box = None
        if "bbox" in a:
            x, y, w, h = a["bbox"]
            box = np.array([x, y, x + w, y + h], dtype=np.float32)
        return LandmarkRecord(image_path=f, landmarks=kp[:, :2] + off, scheme=sch, visible=kp[:, 2] > 0,
                              box=box, annotation_path=path)

    return _nonempty(_collect(anns, build, skip_bad), path, "annotations")




# ------------------------------------------------------------------ CUHK / MTFL 5-point lists
FIVE_POINT_OFFSET = PTS_OFFSET  # the lists come from MATLAB-era tools: 1-based pixel centres


def _five_point_list(path: str | Path, parse, what: str, skip_bad: bool, offset: float) -> Records:
    """Shared reader of the 5-point list formats: one face per line, a Windows-style relative image path
    first (backslashes become the platform's separator), images relative to the list file's folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, f"{what} list file not found", "give the .txt list itself as --root")
    lines = [(n, ln) for n, ln in enumerate(path.read_text(errors="replace").splitlines(), 1) if ln.strip()]
    scheme = get_scheme("face5")

    def build(item: tuple[int, str]) -> LandmarkRecord:
        lineno, line = item
        parts = line.split()
        try:
            values = [float(v) for v in parts[1:]]
            pts, box = parse(values)
        except (ValueError, IndexError):
            raise DataError(path, f"line {lineno}: not a {what} line ({line.strip()[:80]!r})") from None
        if not np.isfinite(pts).all():
            raise DataError(path, f"line {lineno}: NaN or Inf coordinate")
        image = path.parent / Path(*parts[0].replace("\\", "/").split("/"))
        if not image.is_file():
            raise DataError(image, f"image named on line {lineno} of {path.name} not found",
                            "images are read relative to the list file's folder")
        return LandmarkRecord(image_path=image, landmarks=pts + offset, scheme=scheme,
                              box=None if box is None else box + offset, annotation_path=path)

    return _nonempty(_collect(lines, build, skip_bad), path, f"{what} faces")


def read_cuhk(path: str | Path, skip_bad: bool = False, offset: float = FIVE_POINT_OFFSET) -> Records:
    """The CUHK facial-point lists (Sun et al. 2013, ``trainImageList.txt`` / ``testImageList.txt``): per line
    ``path left right top bottom x1 y1 x2 y2 ... x5 y5`` (points: left eye, right eye, nose, left and right mouth
    corner as seen in the image, i.e. the subject's right eye first)."""

    def parse(v: list[float]):
        if len(v) != 14:
            raise ValueError
        left, right, top, bottom = v[:4]
        return np.asarray(v[4:14], np.float32).reshape(5, 2), np.array([left, top, right, bottom], np.float32)

    return _five_point_list(path, parse, "CUHK", skip_bad, offset)


def read_mtfl(path: str | Path, skip_bad: bool = False, offset: float = FIVE_POINT_OFFSET) -> Records:
    """The MTFL lists (Zhang et al. 2014, ``training.txt`` / ``testing.txt``): per line
    ``path x1 ... x5 y1 ... y5 gender smile glasses pose`` (all x first; no box; the attributes are ignored)."""

    def parse(v: list[float]):
        if len(v) not in (10, 14):
            raise ValueError
        return np.stack([v[0:5], v[5:10]], 1).astype(np.float32), None

    return _five_point_list(path, parse, "MTFL", skip_bad, offset)
