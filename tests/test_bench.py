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
