import json

import pytest

from heatmark.cli import main
from heatmark.engine.bench import bench_decode, bench_models


def test_bench_decode_small():
    rows = bench_decode(batch=2, points=5, size=32, repeats=2)
    assert [r["decoder"] for r in rows] == ["argmax", "quarter", "dark", "soft_argmax", "local_soft_argmax"]
    err = {r["decoder"]: r["error_heatmap_px"] for r in rows}
    assert err["dark"] < err["argmax"] and all(r["ms"] > 0 for r in rows)


def test_bench_models_small():
    rows = bench_models(size=64, batches=(1, 2), points=5, repeats=1,
                        models=[("regression", "mobilenetv3_small", {}), ("heatmap", "resnet18", {"arch": "fpn"})])
    assert len(rows) == 2 and rows[0]["params_m"] > 0 and rows[1]["ms_per_image_b2"] > 0


def test_bench_cli(capsys):
    assert main(["bench", "decode", "--batch", "1", "--points", "3", "--size", "16", "--repeats", "1"]) == 0
    assert "dark" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["--repeats", "0"], ["--batch", "0"], ["--batch", "-1"], ["--repeats", "x"]])
def test_bench_speed_refuses_nonsense(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "speed", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and ("must be >= 1" in err or "whole number" in err), err


def test_bench_speed_against_dlib_same_boxes_and_ratios(tiny_weights):
    pytest.importorskip("dlib")
    pytest.importorskip("onnxruntime")
    from heatmark.cli import BUNDLED_PHOTO
    from heatmark.engine.speed import against_dlib, dlib_model_path

    try:
        dlib_model_path()
    except Exception:
        pytest.skip("face_recognition_models is not installed")
    res = against_dlib(tiny_weights["heatmap"], [BUNDLED_PHOTO], repeats=1, log=lambda *a: None)
    assert res["faces"] >= 1 and res["landmarks"][0]["vs_dlib"] == 1.0
    methods = [r["method"] for r in res["landmarks"]]
    assert any("torch" in m for m in methods) and any("no torch" in m for m in methods)
    assert all(r["ms_per_face"] > 0 for r in res["landmarks"])
    # dlib, then each backend with MTCNN (the default) and with the Haar cascade; each row counts the faces found
    assert len(res["end_to_end"]) == 5 and all(r["faces_found"] >= 1 for r in res["end_to_end"])
    assert "MTCNN" in res["end_to_end"][1]["method"] and "Haar" in res["end_to_end"][2]["method"]


def test_frontier_times_every_shipped_model_beside_its_card():
    pytest.importorskip("onnxruntime")
    from heatmark.api import shipped_cards
    from heatmark.cli import BUNDLED_PHOTO
    from heatmark.data.image_io import read_image
    from heatmark.engine.speed import frontier

    rgb = read_image(BUNDLED_PHOTO)
    rows = frontier([(rgb, [10.0, 10.0, 120.0, 120.0])], repeats=1)
    cards = shipped_cards()
    assert [r["model"] for r in rows] == sorted(cards)
    for r in rows:
        assert r["nme"] == cards[r["model"]]["accuracy"]["nme"] and r["ms_per_face"] > 0 and r["file_mb"] > 0
        assert r["onnx"].startswith(r["model"] + ".") and r["onnx"].endswith(".onnx")
    assert {r["model"]: r["real_labels"] for r in rows}.get("synthetic", False) is False


def test_interleaved_timing_alternates_the_functions_round_by_round():
    """interleaved_ms_per_item: after each function's untimed warm-up, every round gives each function its share of
    the passes in turn (a drift of the machine's speed falls on all alike); one median per function."""
    from heatmark.engine.speed import interleaved_ms_per_item

    calls = []
    fns = {"a": lambda it: calls.append("a"), "b": lambda it: calls.append("b")}
    ms = interleaved_ms_per_item(fns, [0], repeats=4, rounds=2, warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2
    assert set(ms) == {"a", "b"} and all(v >= 0 for v in ms.values())


def test_speed_page_records_its_command_and_frontier(tmp_path):
    import argparse

    from PIL import Image

    from heatmark.cli.bench import speed_command, write_speed_markdown

    out = tmp_path / "speed.md"
    args = argparse.Namespace(weights=None, against="dlib", images=["a", "b"], limit=5, repeats=3, write=str(out))
    expected = f"heatmark bench speed --against dlib --images a b --limit 5 --repeats 3 --write {out}"
    assert speed_command(args) == expected
    res = {"photos": 2, "faces": 2, "load_before": 0.1,
           "landmarks": [{"method": "dlib shape predictor 68", "batch": 1, "ms_per_face": 1.0, "vs_dlib": 1.0}],
           "end_to_end": [{"method": "dlib", "ms_per_photo": 50.0, "vs_dlib": 1.0, "faces_found": 2}],
           "frontier": [{"model": m, "onnx": f"{m}.int8.onnx", "nme": n, "nme_no_jaw": n - 1, "params_m": p,
                         "file_mb": 2.0, "real_labels": True, "ms_per_face": t, "vs_dlib": t}
                        for m, n, p, t in [("default", 4.4, 4.1, 3.0), ("fast", 5.0, 1.4, 1.5)]]}
    write_speed_markdown(args, type("W", (), {"name": "default.safetensors"})(), "test machine", res)
    page = out.read_text()
    assert speed_command(args) in page
    assert "| fast | `fast.int8.onnx` | 1.40 | 2.0 | 5.00 | 4.00 | 1.50 | 1.50 |" in page
    png = tmp_path / "speed_frontier.png"
    assert "![frontier](speed_frontier.png)" in page and Image.open(png).size[0] >= 600
    assert "## Speed–accuracy frontier of the shipped models\n" in page


def test_frontier_title_names_candidates_only_when_there_are_some():
    from heatmark.engine.plots import frontier_title

    shipped = [{"model": "default"}, {"model": "fast"}]
    assert frontier_title(shipped) == "Speed–accuracy frontier of the shipped models"
    assert frontier_title(shipped + [{"model": "pip_fast (candidate)"}]).endswith("shipped models and candidates")


def test_candidates_join_the_frontier_with_their_accuracy(fixtures, tmp_path):
    """bench speed --candidates: a finished run's final weights, exported to ONNX and timed, with the NME of its
    validation set measured here; a packaged model (tools/package_model.py's folder, or its ONNX file) as it would
    ship, with its card's accuracy; all timed together with the shipped models. Anything else is refused by name."""
    pytest.importorskip("onnxruntime")
    import shutil

    from test_train import _quiet, small_cfg

    from heatmark.cli import BUNDLED_PHOTO
    from heatmark.data.image_io import read_image
    from heatmark.engine.speed import frontier
    from heatmark.engine.trainer import Trainer
    from heatmark.errors import HeatmarkError
    from heatmark.shipped import WEIGHTS_DIR, shipped_cards

    run = tmp_path / "pip_run"
    Trainer(small_cfg(fixtures, tmp_path, head="pip", epochs=1), run, progress=False, log=_quiet).fit()
    last_val = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["val_nme"]
    pkg = tmp_path / "pkg"  # a packaged model: NAME.json (card) + NAME.onnx, here copies of the shipped `fast`
    pkg.mkdir()
    shutil.copy(WEIGHTS_DIR / "fast.json", pkg / "mine.json")
    shutil.copy(WEIGHTS_DIR / "fast.onnx", pkg / "mine.onnx")
    faces = [(read_image(BUNDLED_PHOTO), [10.0, 10.0, 120.0, 120.0])]
    rows = {r["model"]: r for r in frontier(faces, 1, [run, pkg], tmp_path)}
    assert set(shipped_cards()) | {"pip_run (candidate)", "mine (candidate)"} == set(rows)
    cand = rows["pip_run (candidate)"]
    # the fp32 ONNX export of the final weights on the run's validation set (torch's number within float error)
    assert cand["nme"] == pytest.approx(last_val, abs=0.02)
    assert cand["ms_per_face"] > 0 and cand["params_m"] > 0 and cand["real_labels"] is False
    mine = rows["mine (candidate)"]
    assert mine["onnx"] == "mine.onnx" and mine["nme"] == rows["fast"]["nme"] and mine["ms_per_face"] > 0
    assert frontier(faces, 1, [pkg / "mine.onnx"], tmp_path)[-1]["model"] == "mine (candidate)"  # the file itself
    for bad in (tmp_path / "nothing", run / "config.json"):
        with pytest.raises(HeatmarkError, match="not a finished training run .* nor a packaged model"):
            frontier(faces, 1, [bad], tmp_path)
