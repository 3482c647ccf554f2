"""``heatmark predict``: landmarks on images and folders → annotated PNGs and one JSON per image."""

from __future__ import annotations

import argparse
from pathlib import Path

from heatmark.cli.common import BUNDLED_PHOTO, add_model_arguments, landmarker, report_skipped


def add_arguments(pr: argparse.ArgumentParser) -> None:
    pr.add_argument("inputs", nargs="*", help="images or folders (default: a bundled sample photo)")
    pr.add_argument("--out", default="predictions", help="output folder")
    add_model_arguments(pr)
    pr.add_argument("--recursive", action="store_true", help="search folders recursively")
    pr.add_argument("--resume", action="store_true", help="skip images whose JSON is already in --out")
    pr.add_argument("--skip-bad", action="store_true", help="list and skip unreadable images instead of stopping")
    pr.add_argument("--no-images", action="store_true", help="write only the JSON files")


def iter_images(inputs: list[str], recursive: bool):
    from heatmark.data.image_io import IMAGE_EXTS
    from heatmark.errors import DataError

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in (p.rglob("*") if recursive else p.glob("*")) if f.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise DataError(p, "no images in this folder", "give image files or a folder of .jpg/.png")
            yield from found
        elif p.exists():
            yield p
        else:
            raise DataError(p, "file or folder not found")


def read_or_skip(path: Path, skip_bad: bool, bad: list[str]):
    """(rgb, info) of a photo, or None when it is unreadable and ``skip_bad`` (its error is added to ``bad``)."""
    from heatmark.data.image_io import read_image_info
    from heatmark.errors import DataError

    try:
        return read_image_info(path)
    except DataError as e:
        if not skip_bad:
            raise
        bad.append(str(e))
        return None


def output_names(images: list[Path]) -> list[str]:
    """The output stem of each image: its name, prefixed by its folders when another image has the same name."""
    used: set[str] = set()
    stems = []
    for path in images:
        stem = path.stem
        if stem in used:  # same name in another folder: prefix the folder names (deterministic order)
            stem = "__".join([*path.parent.parts[-2:], path.stem]).replace(":", "")
        used.add(stem)
        stems.append(stem)
    return stems


def refuse_overwrite(images: list[Path], out: Path, no_images: bool) -> None:
    """Stop before anything is written if an output file would replace one of the input images."""
    from heatmark.errors import HeatmarkError

    inputs = {p.resolve() for p in images}
    for path, stem in zip(images, output_names(images)):
        for target in ([] if no_images else [out / f"{stem}.png"]) + [out / f"{stem}.json"]:
            if target.resolve() in inputs:
                raise HeatmarkError(f"--out {out} would overwrite the input image {target}; write the results to "
                                    "another folder (heatmark never replaces an input)")


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from heatmark.atomic import atomic_write
    from heatmark.data.image_io import write_image
    from heatmark.data.visualize import draw_landmarks

    inputs = args.inputs or [str(BUNDLED_PHOTO)]
    images = list(iter_images(inputs, args.recursive))
    out = Path(args.out)
    refuse_overwrite(images, out, args.no_images)
    lm = landmarker(args)
    out.mkdir(parents=True, exist_ok=True)
    n_img = n_faces = n_skipped = n_resumed = 0
    bad: list[str] = []
    t0 = time.perf_counter()
    for path, stem in zip(images, output_names(images)):
        if (out / f"{stem}.json").is_file() and args.resume:
            n_resumed += 1
            continue
        read = read_or_skip(path, args.skip_bad, bad)
        if read is None:
            n_skipped += 1
            continue
        rgb, info = read
        h, w = rgb.shape[:2]
        boxes = [[0, 0, w, h]] if args.detector == "full" else None
        faces = lm.predict(rgb, boxes=boxes)
        shown = rgb
        for f in faces:
            shown = draw_landmarks(shown, f.landmarks, lm.scheme)
        if not args.no_images:
            write_image(out / f"{stem}.png", shown)
        doc = {"image": str(path), "width": w, "height": h, **info, "weights": str(lm.weights), "backend": lm.backend,
               "faces": [f.to_dict() for f in faces]}
        atomic_write(out / f"{stem}.json", json.dumps(doc))  # the JSON appears last and whole: --resume trusts it
        n_img += 1
        n_faces += len(faces)
    report_skipped(bad)
    dt = time.perf_counter() - t0
    print(f"{n_img} images, {n_faces} faces -> {out} ({dt:.1f} s"
          + (f", {n_resumed} already done" if n_resumed else "")
          + (f", {n_skipped} skipped" if n_skipped else "") + ")")
    return 0
