"""Load test for `heatmark predict`: N images made from the fixtures, peak memory, and resume after a kill.

    python tools/load_test.py --n 1000 [--weights W] [--work /tmp/heatmark_load]
Prints a JSON summary: images written, seconds, images/s, peak RSS (VmHWM) of the predict process, and
how many images a resumed run had left after a SIGKILL at half-way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    srcs = [cv2.imread(str(p)) for p in sorted((ROOT / "tests/fixtures/300w").glob("*.jpg"))]
    rng = np.random.default_rng(0)
    for i in range(n):
        img = srcs[i % len(srcs)]
        img = np.clip(img.astype(np.int16) + rng.integers(-8, 9), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 85])


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run(cmd: list[str], kill_after: int | None = None, out: Path | None = None) -> tuple[float, float, int]:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while p.poll() is None:
        peak = max(peak, peak_rss_mb(p.pid))
        if kill_after and out is not None and len(list(out.glob("*.json"))) >= kill_after:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            return time.perf_counter() - t, peak, -9
        time.sleep(0.05)
    if p.returncode != 0:
        sys.exit(f"predict failed: {p.stderr[-2000:]}")
    return time.perf_counter() - t, peak, p.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--weights")
    ap.add_argument("--work", default="/tmp/heatmark_load")
    a = ap.parse_args()
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    make_images(work / "images", a.n)
    out = work / "out"
    cmd = [sys.executable, "-m", "heatmark.cli", "predict", str(work / "images"), "--out", str(out),
           "--detector", "full", "--resume"] + (["--weights", a.weights] if a.weights else [])
    killed_s, _, _ = run(cmd, kill_after=a.n // 2, out=out)
    done_before = len(list(out.glob("*.json")))
    resumed_s, peak, _ = run(cmd)
    total = len(list(out.glob("*.json")))
    shutil.rmtree(out)
    full_s, full_peak, _ = run(cmd)
    print(json.dumps({"images": a.n, "written": len(list(out.glob("*.json"))), "seconds": round(full_s, 1),
                      "images_per_s": round(a.n / full_s, 1), "peak_rss_mb": round(full_peak, 1),
                      "killed_at": done_before, "resumed_wrote": total - done_before, "after_resume": total,
                      "resume_peak_rss_mb": round(peak, 1)}, indent=1))


if __name__ == "__main__":
    main()
