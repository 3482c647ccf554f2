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
