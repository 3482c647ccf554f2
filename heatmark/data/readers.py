"""Dataset readers. Each returns :class:`Records` of :class:`LandmarkRecord` in heatmark's single
coordinate convention (0-based continuous pixels, origin at the top-left corner of the top-left
pixel). Format conventions are converted here and nowhere else:

=================  =====================================  ==================
format             stored convention                      added on read
=================  =====================================  ==================
FaceSynthetics     continuous, origin at pixel corner     0
300W / iBUG .pts   1-based, (1, 1) = centre of 1st pixel   -0.5
COFW .mat          1-based (MATLAB)                        -0.5
WFLW list          0-based, (0, 0) = centre of 1st pixel   +0.5
dlib XML           0-based integer pixel indices           +0.5
COCO-style JSON    as the source dataset (see ``offset``)  per dataset
=================  =====================================  ==================

With ``skip_bad=False`` (the default) the first bad sample raises :class:`DataError` naming the
file; with ``skip_bad=True`` bad samples are skipped and listed in ``Records.skipped``.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from heatmark.data.image_io import IMAGE_EXTS
from heatmark.data.records import LandmarkRecord, Records
from heatmark.data.schemes import BUILTIN, Scheme, get_scheme
from heatmark.errors import DataError

PTS_OFFSET = -0.5  # 1-based pixel centres → continuous
INDEX_OFFSET = 0.5  # 0-based pixel centres → continuous
DATASETS = ("facesynthetics", "300w", "wflw", "cofw", "folder", "dlib", "coco")


# ------------------------------------------------------------------ helpers
def _collect(items: Iterable, build: Callable, skip_bad: bool) -> Records:
    out = Records()
    for item in items:
        try:
            out.append(build(item))
        except DataError as e:
            if not skip_bad:
                raise
            out.skipped.append(e)
    return out


def _require_dir(root: Path, what: str) -> Path:
    root = Path(root)
    if not root.exists():
        raise DataError(root, f"{what} folder not found", "check --root")
    if not root.is_dir():
        raise DataError(root, f"expected a {what} folder, found a file")
    return root


def _nonempty(records: Records, root: Path, what: str) -> Records:
    if not records and not records.skipped:
        raise DataError(root, f"no {what} found", "check --root and --dataset")
    if not records:
        raise DataError(root, f"every sample is bad; first problem: {records.skipped[0]}")
    return records


def scheme_for_count(k: int) -> Scheme:
    """The built-in scheme with k points, or a generic one (no flip pairs, no normalisation)."""
    for s in BUILTIN.values():
        if s.num_points == k:
            return s
    return Scheme(name=f"points{k}", num_points=k, names=tuple(f"p{i}" for i in range(k)))


def _resolve_file(path: str | Path, patterns: tuple[str, ...], what: str) -> Path:
    """``--root`` may name the annotation file or its folder: in a folder, the first file matching the
    first pattern that matches anything."""
    path = Path(path)
    if path.is_dir():
        for pattern in patterns:
            found = sorted(path.glob(pattern))
            if found:
                return found[0]
        raise DataError(path, f"no {what} file in this folder", f"pass the {what} file as --root")
    if not path.is_file():
        raise DataError(path, f"{what} file not found")
    return path


def _find_image(stem_path: Path) -> Path | None:
    for ext in IMAGE_EXTS:
        for cand in (stem_path.with_suffix(ext), stem_path.with_suffix(ext.upper())):
            if cand.is_file():
                return cand
    return None


# ------------------------------------------------------------------ .pts
def read_pts(path: str | Path, num_points: int | None = None, offset: float = PTS_OFFSET) -> np.ndarray:
    """Read a 300W/iBUG ``.pts`` file (with or without the ``version/n_points/{ }`` header).

    Returns float32 (K, 2) in heatmark's convention (``offset`` is added; -0.5 for 1-based
    pixel-centre files). Raises :class:`DataError` naming the file and line on any problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "annotation file not found")
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except UnicodeDecodeError:
        raise DataError(path, "not a text .pts file", "check that this is a landmark file") from None
    declared = None
    rows: list[tuple[float, float]] = []
    in_body = not any(ln.strip() == "{" for ln in lines)
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        low = line.lower()
        if low.startswith("version"):
            continue
        if low.startswith("n_points"):
            try:
                declared = int(line.split(":", 1)[1])
            except (IndexError, ValueError):
                raise DataError(path, f"line {lineno}: bad n_points header {line!r}") from None
            continue
        if line == "{":
            in_body = True
            continue
        if line == "}":
            in_body = False
            continue
        if not in_body:
            raise DataError(path, f"line {lineno}: unexpected text {line!r} outside the point block")
        parts = line.replace(",", " ").split()
        if len(parts) != 2:
            raise DataError(path, f"line {lineno}: expected 'x y', got {line!r}", "fix the annotation")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise DataError(path, f"line {lineno}: non-numeric coordinate {line!r}", "fix the annotation") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(path, f"line {lineno}: NaN or Inf coordinate {line!r}", "fix the annotation")
        rows.append((x, y))
    if not rows:
        raise DataError(path, "no points in file", "is this a .pts annotation?")
    if declared is not None and declared != len(rows):
        raise DataError(path, f"header says n_points: {declared} but the file has {len(rows)} points")
    if num_points is not None and len(rows) != num_points:
        raise DataError(path, f"expected {num_points} points, found {len(rows)}", "check the landmark scheme")
    return np.asarray(rows, dtype=np.float32) + np.float32(offset)


def read_pts_folder(
    root: str | Path,
    scheme: str | Scheme | None = None,
    recursive: bool = True,
    skip_bad: bool = False,
    offset: float = PTS_OFFSET,
) -> Records:
    """Images with a ``.pts`` file of the same stem (300W, menpo, LFPW, your own data).

    ``scheme`` None infers it from the first file's point count (68 → ibug68, ...).
    An image without a ``.pts`` is ignored only if the folder has no ``.pts`` beside it;
    a ``.pts`` without an image is an error.
    """
    root = _require_dir(root, "dataset")
    pts_files = sorted(root.rglob("*.pts") if recursive else root.glob("*.pts"))
    if scheme is not None:
        scheme = get_scheme(scheme)

    def build(pts: Path) -> LandmarkRecord:
        nonlocal scheme
        img = _find_image(pts)
        if img is None:
            raise DataError(pts, "annotation has no image beside it (.jpg/.png/...)",
                            "add the image or remove the annotation")
        pts_arr = read_pts(pts, None if scheme is None else scheme.num_points, offset)
        if scheme is None:
            scheme = scheme_for_count(len(pts_arr))
        return LandmarkRecord(image_path=img, landmarks=pts_arr, scheme=scheme, annotation_path=pts)

    records = _collect(pts_files, build, skip_bad)
    annotated = {r.image_path.with_suffix("") for r in records}
    for p in sorted(root.rglob("*") if recursive else root.glob("*")):
        if p.suffix.lower() in IMAGE_EXTS and p.with_suffix("") not in annotated and not p.stem.endswith("_seg"):
            if p.with_suffix(".pts").exists():
                continue  # its .pts was bad and already reported
            err = DataError(p, "image has no .pts annotation beside it", "add NAME.pts or move the image out")
            if not skip_bad:
                raise err
            records.skipped.append(err)
    return _nonempty(records, root, ".pts annotations")


# ------------------------------------------------------------------ FaceSynthetics
def read_ldmks_txt(path: Path, num_points: int = 70) -> np.ndarray:
    """A FaceSynthetics ``NNNNNN_ldmks.txt``: ``num_points`` rows of ``x y`` (already continuous)."""
    if not path.is_file():
        raise DataError(path, "landmark file not found")
    rows = []
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            x, y = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise DataError(path, f"line {lineno}: expected 'x y', got {line.strip()!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(path, f"line {lineno}: NaN or Inf coordinate")
        rows.append((x, y))
    if len(rows) != num_points:
        raise DataError(path, f"expected {num_points} points, found {len(rows)}")
    return np.asarray(rows, dtype=np.float32)


def read_facesynthetics(root: str | Path, skip_bad: bool = False) -> Records:
    """A FaceSynthetics folder: ``NNNNNN.png`` + ``NNNNNN_ldmks.txt`` (+ optional ``_seg.png``)."""
    root = _require_dir(root, "FaceSynthetics")
    scheme = get_scheme("facesynthetics70")
    images = sorted(p for p in root.glob("*.png") if not p.stem.endswith("_seg"))

    def build(img: Path) -> LandmarkRecord:
        ldmks = img.with_name(f"{img.stem}_ldmks.txt")
        if not ldmks.is_file():
            raise DataError(img, f"image has no landmark file {ldmks.name}",
                            "FaceSynthetics needs NNNNNN_ldmks.txt beside each NNNNNN.png")
        seg = img.with_name(f"{img.stem}_seg.png")
        return LandmarkRecord(image_path=img, landmarks=read_ldmks_txt(ldmks, 70), scheme=scheme,
                              seg_path=seg if seg.is_file() else None, annotation_path=ldmks)

    records = _collect(images, build, skip_bad)
    for ldmks in sorted(root.glob("*_ldmks.txt")):
        img = ldmks.with_name(ldmks.name.replace("_ldmks.txt", ".png"))
        if not img.is_file():
            err = DataError(ldmks, f"landmark file has no image {img.name}", "add the image or remove the file")
            if not skip_bad:
                raise err
            records.skipped.append(err)
    return _nonempty(records, root, "FaceSynthetics samples (NNNNNN.png + NNNNNN_ldmks.txt)")


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
        t, l, w, h = (float(box.get(k, 0)) for k in ("top", "left", "width", "height"))
        return LandmarkRecord(image_path=f, landmarks=pts, scheme=scheme_for_count(len(pts)),
                              box=np.array([l, t, l + w, t + h], dtype=np.float32), annotation_path=path)

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


# ------------------------------------------------------------------ dispatcher
def load_dataset(name: str, root: str | Path, scheme: str | Scheme | None = None, skip_bad: bool = False) -> Records:
    """Read a dataset by name: ``facesynthetics``, ``300w``, ``wflw``, ``cofw``, ``folder``, ``dlib``, ``coco``.

    A ``.json`` root is read as COCO-style keypoints whatever the name (mmpose's 300W/WFLW/COFW files).
    """
    name = name.lower()
    root = Path(root)
    if name not in DATASETS:
        raise DataError(None, f"unknown dataset {name!r}", f"valid names: {', '.join(DATASETS)}")
    if root.suffix.lower() == ".json" or name == "coco":
        default = {"300w": "ibug68", "wflw": "wflw98", "cofw": "cofw29"}.get(name)
        return read_coco_json(root, scheme=scheme or default, skip_bad=skip_bad)
    if name == "facesynthetics":
        return read_facesynthetics(root, skip_bad=skip_bad)
    if name == "300w":
        return read_pts_folder(root, scheme=scheme or "ibug68", skip_bad=skip_bad)
    if name == "folder":
        return read_pts_folder(root, scheme=scheme, skip_bad=skip_bad)
    if name == "wflw":
        return read_wflw(root, skip_bad=skip_bad)
    if name == "cofw":
        return read_cofw(root, skip_bad=skip_bad)
    return read_dlib_xml(root, skip_bad=skip_bad)
