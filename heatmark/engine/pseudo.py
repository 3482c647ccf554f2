"""Pseudo-labels for self-training: a teacher model labels *unannotated* real photos.

Only image files are listed (by extension); annotation files beside them are never opened, so a folder of
annotated photos (e.g. ``300w_helen_train``) can serve as unlabeled data. Faces come from the detector, not
from annotation boxes. The teacher predicts with flip test-time augmentation; each photo keeps its largest
face, and the ``keep`` share of photos with the highest mean point score is written as a COCO-style keypoint
JSON (in heatmark's continuous coordinates) that ``--dataset coco`` reads as a training source.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from heatmark.atomic import atomic_write
from heatmark.data.image_io import IMAGE_EXTS
from heatmark.errors import DataError


def list_images(folder: str | Path) -> list[Path]:
    """Image files of ``folder`` (sorted, recursive), chosen by extension alone: nothing else is opened."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "image folder not found")
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if not found:
        raise DataError(folder, "no images in this folder", "give a folder of .jpg/.png photos")
    return found


def pseudo_label(weights: str | Path, images: str | Path, out: str | Path, detector: str = "mtcnn",
                 flip: bool = True, keep: float = 0.8, log=print) -> dict:
    """Label the photos in ``images`` with the teacher ``weights``; write the confident ones to ``out``."""
    from heatmark.api import Landmarker

    if not 0 < keep <= 1:
        raise DataError(None, f"keep must be in (0, 1], got {keep}")
    out = Path(out)
    lm = Landmarker(weights, detector=detector, flip=flip)
    rows = []
    files = list_images(images)
    for path in files:
        faces = lm.predict(path)
        if not faces:
            continue
        face = max(faces, key=lambda f: float(np.prod(f.box[2:] - f.box[:2])))
        rows.append((float(face.scores.mean()), path, face))
    rows.sort(key=lambda r: -r[0])
    kept = rows[: max(1, int(round(keep * len(rows))))] if rows else []
    doc = {"info": {"heatmark_pseudo_labels": True, "teacher": str(weights), "images": str(images),
                    "detector": detector, "flip": flip, "keep": keep, "photos": len(files), "faces": len(rows),
                    "kept": len(kept), "scheme": lm.scheme.name},
           "heatmark_coordinates": "continuous", "images": [], "annotations": []}
    for i, (score, path, face) in enumerate(kept):
        rel = os.path.relpath(path, out.parent.resolve() if out.parent.exists() else out.parent)
        doc["images"].append({"id": i, "file_name": rel})
        kp = np.concatenate([face.landmarks, np.ones((len(face.landmarks), 1))], 1)
        x1, y1, x2, y2 = (float(v) for v in face.box)
        doc["annotations"].append({"id": i, "image_id": i, "keypoints": [round(float(v), 3) for v in kp.ravel()],
                                   "bbox": [x1, y1, x2 - x1, y2 - y1], "score": round(score, 4)})
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, json.dumps(doc))
    log(f"{len(files)} photos, faces found in {len(rows)}, kept {len(kept)} (mean point score >= "
        f"{kept[-1][0] if kept else float('nan'):.3f}) -> {out}")
    return doc["info"]


def is_pseudo_labels(path: str | Path) -> bool:
    """Whether ``path`` is a pseudo-label file written by :func:`pseudo_label` (its ``info`` says so); False for
    any other annotation file, and for one that is missing or not JSON."""
    try:
        info = json.loads(Path(path).read_text()).get("info") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return bool(isinstance(info, dict) and info.get("heatmark_pseudo_labels"))


def trains_on_real_labels(train: list[dict]) -> bool:
    """Whether a config's ``data.train`` entries include real landmark labels: anything but FaceSynthetics and
    pseudo-label files (a COCO-style file of real annotations counts as real)."""
    return any(not (e["dataset"] == "facesynthetics" or (e["dataset"] == "coco" and is_pseudo_labels(e["root"])))
               for e in train)
