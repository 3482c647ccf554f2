"""heatmark against dlib, in one process and one run, on the same photos and the same face boxes.

- landmark stage: ms per face through the public API — ``Landmarker.predict(image, boxes=[box])`` for each
  heatmark backend (batch 1), ``Landmarker.predict_boxes`` with 32 boxes (batch 32), and dlib's 68-point shape
  predictor on the same boxes;
- end to end: ms per photo with detection — ``Landmarker.predict(image)`` (its default detector) against dlib's
  HOG detector + shape predictor.

Warm-up calls are not timed; every figure is the median of ``repeats`` passes over all faces (photos).
dlib is an optional extra (``pip install -e ".[compare]"``: ``dlib-bin`` and ``face_recognition_models``).
"""

from __future__ import annotations

import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

from heatmark.errors import HeatmarkError

COMPARE_HINT = 'pip install -e ".[compare]"  (dlib-bin and face_recognition_models)'


def dlib_model_path() -> Path:
    """The 68-point shape predictor of ``face_recognition_models``, found without importing that package (its
    import needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise HeatmarkError(f"--against dlib needs dlib's 68-point model: {COMPARE_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise HeatmarkError(f"{path} is missing; reinstall face_recognition_models ({COMPARE_HINT})")
    return path


def _dlib():
    try:
        import dlib
    except ImportError:
        raise HeatmarkError(f"--against dlib needs dlib: {COMPARE_HINT}") from None
    return dlib


def _pass_ms(fn, items: list) -> float:
    t = time.perf_counter()
    for it in items:
        fn(it)
    return (time.perf_counter() - t) * 1000 / len(items)


def _warm_up(fn, items: list, warmup: int) -> None:
    for _ in range(warmup):
        for it in items[: max(1, min(len(items), 3))]:
            fn(it)


def median_ms_per_item(fn, items: list, repeats: int, warmup: int = 3) -> float:
    """Median over ``repeats`` passes of the mean ms per item of ``fn(item)`` (warm-up passes not timed)."""
    _warm_up(fn, items, warmup)
    return statistics.median(_pass_ms(fn, items) for _ in range(repeats))


def interleaved_ms_per_item(fns: dict, items: list, repeats: int, rounds: int = 3, warmup: int = 3) -> dict:
    """:func:`median_ms_per_item` for several functions compared with each other: ``rounds`` rounds, each giving every
    function its share of the ``repeats`` passes in turn, so a drift of the machine's speed during the measurement
    falls on all of them alike (one block per function put a ~30 % error on one model of a frontier once;
    docs/results/default_sep). Returns each name's median ms per item over its passes."""
    for fn in fns.values():
        _warm_up(fn, items, warmup)
    rounds = max(1, int(rounds))
    per_round = max(1, -(-int(repeats) // rounds))
    passes = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            passes[name] += [_pass_ms(fn, items) for _ in range(per_round)]
    return {name: statistics.median(v) for name, v in passes.items()}


def against_dlib(weights: Path, images: list[Path], repeats: int = 20, backends: tuple[str, ...] = ("torch", "onnx"),
                 log=print, candidates: tuple[Path, ...] = ()) -> dict:
    """Rows of ms/face and ms/photo for heatmark's backends and dlib, and the ratios to dlib. ``candidates``:
    training runs or packaged models put on the frontier beside the shipped models (see :func:`candidate_entry`)."""
    from heatmark.api import Landmarker, shipped_onnx
    from heatmark.data.image_io import read_image
    from heatmark.detect import dlib_boxes

    if repeats < 1:
        raise HeatmarkError(f"--repeats must be >= 1, got {repeats}")
    dlib = _dlib()
    hog, shape = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(dlib_model_path()))
    photos = [read_image(p, orient=True) for p in images]
    faces = []  # (photo index, dlib rectangle, box x1 y1 x2 y2) from dlib's HOG detector, shared by both
    for i, rgb in enumerate(photos):
        rects = hog(rgb, 1)
        faces += [(i, r, box.tolist()) for r, box in zip(rects, dlib_boxes(rects))]
    if not faces:
        raise HeatmarkError("dlib's detector found no face in the photos; give photos with faces (--images)")
    log(f"{len(photos)} photos, {len(faces)} faces (dlib HOG boxes, shared by both); {repeats} timed passes")
    rows = [{"method": "dlib shape predictor 68", "batch": 1,
             "ms_per_face": median_ms_per_item(lambda f: shape(photos[f[0]], f[1]), faces, repeats)}]
    e2e = [{"method": "dlib HOG (upsample 1) + shape predictor",
            "ms_per_photo": median_ms_per_item(lambda rgb: [shape(rgb, r) for r in hog(rgb, 1)], photos, repeats),
            "faces_found": len(faces)}]
    # (row name, weights, backend, detectors timed end to end): each backend on ``weights``, then the shipped
    # model's own ONNX file (int8 where it shipped) as Landmarker() runs it
    runs = [(f"heatmark {b}" + (" (onnxruntime + NumPy, no torch)" if b == "onnx" else ""), weights, b,
             ("mtcnn", "opencv")) for b in backends]
    shipped = shipped_onnx(Path(weights)) if not str(weights).endswith(".onnx") else None
    if shipped is not None:
        runs.append((f"heatmark Landmarker() as shipped ({shipped.name})", shipped, "onnx", ("mtcnn",)))
    with tempfile.TemporaryDirectory(prefix="heatmark-bench-") as tmp:
        for name, w, backend, detectors in runs:
            lm = _landmarker(w, backend, Path(tmp))
            rows.append({"method": name, "batch": 1, "ms_per_face": median_ms_per_item(
                lambda f: lm.predict(photos[f[0]], boxes=[f[2]]), faces, repeats)})
            many = [(photos[faces[0][0]], [lm_box(lm, faces[(j % len(faces))]) for j in range(32)])]
            rows.append({"method": name, "batch": 32, "ms_per_face": median_ms_per_item(
                lambda it: lm.predict_boxes(it[0], it[1]), many, max(3, repeats // 4)) / 32})
            src = lm.weights if backend == "torch" else lm.predictor.path
            for detector in detectors:
                det = Landmarker(src, backend=backend, detector=detector)
                label = "its default detector (MTCNN)" if detector == "mtcnn" else "OpenCV Haar (faster, fewer faces)"
                e2e.append({"method": f"{name} + {label}",
                            "ms_per_photo": median_ms_per_item(det.predict, photos, repeats),
                            "faces_found": sum(len(det.detect(p)[0]) for p in photos)})
        boxed = [(photos[i], box) for i, _, box in faces]
        front = frontier(boxed, repeats, candidates, Path(tmp)) if shipped is not None or candidates else []
    ref_face, ref_photo = rows[0]["ms_per_face"], e2e[0]["ms_per_photo"]
    for r in rows + front:
        r["vs_dlib"] = r["ms_per_face"] / ref_face
    for r in e2e:
        r["vs_dlib"] = r["ms_per_photo"] / ref_photo
    return {"landmarks": rows, "end_to_end": e2e, "frontier": front, "photos": len(photos), "faces": len(faces)}


def frontier(faces: list, repeats: int, candidates=(), tmp: Path | None = None) -> list[dict]:
    """The speed–accuracy frontier: each shipped model as ``Landmarker(name)`` runs it (its shipped ONNX file, batch 1)
    beside the AFW numbers of its card, then each of ``candidates`` (see :func:`candidate_entry`), all timed on the
    same ``(photo, box)`` faces in interleaved rounds together (:func:`interleaved_ms_per_item`)."""
    from heatmark.api import Landmarker
    from heatmark.shipped import WEIGHTS_DIR, shipped_cards, shipped_onnx

    out, landmarkers = [], {}
    for name, card in shipped_cards().items():
        onnx = shipped_onnx(WEIGHTS_DIR / f"{name}.safetensors")
        if onnx is not None:
            out.append(_card_row(name, onnx, card))
            landmarkers[name] = Landmarker(name, detector=None)
    for path in map(Path, candidates):
        row, landmarkers[row["model"]] = candidate_entry(path, Path(tmp or tempfile.gettempdir()))
        out.append(row)
    return _with_times(out, landmarkers, faces, repeats)


def _card_row(name: str, onnx: Path, card: dict) -> dict:
    """A frontier row from a model card (accuracy on AFW with ground-truth boxes, parameters) and its ONNX file."""
    acc = card.get("accuracy", {})
    return {"model": name, "onnx": onnx.name, "nme": acc.get("nme", float("nan")),
            "nme_no_jaw": acc.get("nme_no_jaw", float("nan")),
            "params_m": card.get("speed", {}).get("params_m", float("nan")),
            "file_mb": onnx.stat().st_size / 2**20, "real_labels": not card.get("label", "").startswith("no ")}


def candidate_entry(path: Path, tmp: Path):
    """A frontier row and its box-only Landmarker for a model that is not shipped, either

    - a model packaged by ``tools/package_model.py`` (its ``--out`` folder, or the ``.onnx`` file in it): run as it
      would ship (int8 where the packager chose it), accuracy from its card, as for a shipped model; or
    - a finished training run's folder: its ``final.safetensors`` exported to fp32 ONNX (slower than an int8
      package), that file's accuracy measured here on the run's own validation set (``data.val`` of its config: AFW
      for the shipped recipes; GT boxes, no flip, no label-bias offset)."""
    import json

    from heatmark.api import Landmarker

    if (path / "final.safetensors").is_file() and (path / "config.json").is_file():
        return _run_candidate(path, tmp)
    onnx = path if path.suffix.lower() == ".onnx" else _packaged_onnx(path)
    card_file = onnx.with_name(onnx.name.split(".")[0] + ".json")
    if not onnx.is_file() or not card_file.is_file():
        raise HeatmarkError(f"{path}: not a finished training run (final.safetensors + config.json) nor a packaged "
                            "model (NAME.json + NAME[.int8].onnx, tools/package_model.py --out); give one of those")
    name = f"{card_file.stem} (candidate)"
    return _card_row(name, onnx, json.loads(card_file.read_text()).get("card", {})), Landmarker(onnx, detector=None)


def _packaged_onnx(folder: Path) -> Path:
    """The ONNX file a packaged model ships in ``folder`` (int8 where present, as for shipped models); a missing file
    falls to the caller's message."""
    for card in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for onnx in (card.with_suffix(".int8.onnx"), card.with_suffix(".onnx")):
            if onnx.is_file():
                return onnx
    return folder / "missing.onnx"


def _run_candidate(run: Path, tmp: Path):
    """:func:`candidate_entry` for a training run: fp32 export of its final weights, scored on its validation set."""
    import json

    from heatmark.api import Landmarker
    from heatmark.checkpoint import load_model
    from heatmark.engine.evaluate import evaluate_weights
    from heatmark.engine.pseudo import trains_on_real_labels
    from heatmark.export import export_onnx

    cfg = json.loads((run / "config.json").read_text())
    model, _, _, meta = load_model(run / "final.safetensors")
    onnx = export_onnx(model, int(meta["input_size"]), tmp / f"{run.name}.onnx", meta=meta)
    val = cfg["data"].get("val") or {}  # scored as it is timed: the fp32 ONNX file
    acc = evaluate_weights(onnx, val["dataset"], val["root"]).metrics if val else {}
    row = {"model": f"{run.name} (candidate)", "onnx": "fp32 export of final.safetensors",
           "nme": acc.get("nme", float("nan")), "nme_no_jaw": acc.get("nme_no_jaw", float("nan")),
           "params_m": sum(p.numel() for p in model.parameters()) / 1e6, "file_mb": onnx.stat().st_size / 2**20,
           "real_labels": trains_on_real_labels(cfg["data"]["train"])}
    return row, Landmarker(onnx, detector=None)


def _with_times(rows: list[dict], landmarkers: dict, faces: list, repeats: int) -> list[dict]:
    """``rows`` with ``ms_per_face`` set: each row's Landmarker (``landmarkers[row["model"]]``) timed at batch 1 on
    the ``(photo, box)`` faces, all of them in interleaved rounds (:func:`interleaved_ms_per_item`)."""
    fns = {name: (lambda f, lm=lm: lm.predict(f[0], boxes=[f[1]])) for name, lm in landmarkers.items()}
    ms = interleaved_ms_per_item(fns, faces, repeats) if fns else {}
    for row in rows:
        row["ms_per_face"] = ms[row["model"]]
    return rows


def lm_box(lm, face):
    from heatmark.detect import crop_box_from_detection

    return crop_box_from_detection(face[2], None, lm.box_scale)


def _landmarker(weights: Path, backend: str, tmp: Path):
    """A box-only Landmarker: torch from the weights file, or the torch-free ONNX path from an export of it."""
    from heatmark.api import Landmarker

    if backend == "torch" or str(weights).endswith(".onnx"):
        return Landmarker(weights, detector=None, backend=backend)
    from heatmark.checkpoint import load_model
    from heatmark.export import export_onnx

    model, _, _, meta = load_model(weights)
    path = export_onnx(model, int(meta["input_size"]), tmp / "model.onnx", meta=meta)
    return Landmarker(path, detector=None)
