"""Inference from an exported ONNX file: the torch Landmarker's answers, without importing torch."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from heatmark.cli import BUNDLED_PHOTO, main

BOX = [40.0, 30.0, 290.0, 290.0]


@pytest.mark.parametrize("flip", [False, True])
def test_onnx_file_predicts_like_torch_and_imports_no_torch(tiny_weights, tmp_path, flip):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(onnx_path)]) == 0
    code = (
        "import sys, json\n"
        "from heatmark import Landmarker\n"
        f"lm = Landmarker({str(onnx_path)!r}, detector=None, flip={flip})\n"
        f"face = lm.predict({str(BUNDLED_PHOTO)!r}, boxes=[{BOX}])[0]\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'points': face.landmarks.tolist()}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    from heatmark.api import Landmarker

    ref = Landmarker(tiny_weights["heatmap"], detector=None, flip=flip).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    np.testing.assert_allclose(np.array(out["points"]), ref.landmarks, atol=0.05)  # fp32 kernels differ slightly


def test_onnx_without_description_is_refused(tmp_path):
    from heatmark.api import Landmarker
    from heatmark.errors import DataError

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(DataError, match="x.onnx: not a readable ONNX model"):
        Landmarker(bad, detector=None)


def test_cli_predict_with_an_onnx_file_imports_no_torch(tiny_weights, tmp_path):
    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(onnx_path)]) == 0
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "heatmark", "predict", "--weights", str(onnx_path),
                        "--out", str(tmp_path / "pred"), "--no-images"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "onnxruntime" in imported
    assert json.loads((tmp_path / "pred" / "photo.json").read_text())["faces"]


def test_int8_export_keeps_the_description_and_stays_close_to_fp32(tiny_weights, fixtures, tmp_path):
    """Static int8 (QDQ) calibrated on the fixture photos' faces: the network output stays within 5 % of its
    range of the fp32 export on those crops, and the file runs through Landmarker like the fp32 one."""
    from heatmark.api import Landmarker
    from heatmark.onnx_runtime import OnnxPredictor
    from heatmark.quantize import face_crops

    out = tmp_path / "tiny.int8.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--int8", "--calibrate", str(fixtures / "300w"),
                 "--out", str(out)]) == 0
    fp32 = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(fp32)]) == 0
    q, f = OnnxPredictor(out), OnnxPredictor(fp32)
    assert q.meta["quantization"]["weights"] == "int8 per-channel" and q.meta["codec"] == f.meta["codec"]
    import onnx
    from onnx import numpy_helper

    weights = [numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8]
    # 7-bit weights: uint8 x int8 pair sums stay within int16 (255 * 64 * 2 < 32767), so CPUs without VNNI
    # (VPMADDUBSW) do not saturate and compute what VNNI CPUs compute
    assert weights and max(int(np.abs(w.astype(int)).max()) for w in weights) <= 64
    assert q.meta["quantization"]["weight_range"] == "7-bit"
    crops = face_crops(fp32, sorted((fixtures / "300w").glob("*.jpg")))
    x = crops.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    a, b = f.forward(x), q.forward(x)
    assert np.abs(a - b).max() <= 0.05 * (a.max() - a.min())
    face = Landmarker(out, detector=None).predict(str(BUNDLED_PHOTO), boxes=[BOX])[0]
    assert face.landmarks.shape == (68, 2) and np.isfinite(face.landmarks).all()


def test_int8_needs_calibration_photos(tiny_weights, tmp_path, capsys):
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--int8", "--out", str(tmp_path / "q.onnx")]) != 0
    assert "--int8 needs --calibrate" in capsys.readouterr().err
    assert not (tmp_path / "q.onnx").exists()


def test_single_faces_run_on_the_fastest_single_face_session(tiny_weights, tmp_path):
    """One face runs on the single-face sessions (one thread, or two spinning threads, whichever is measured
    faster), batches on the all-cores session, with the same numbers; an explicit thread count uses one session
    for everything."""
    from heatmark.onnx_runtime import OnnxPredictor

    onnx_path = tmp_path / "tiny.onnx"
    assert main(["export", "--weights", str(tiny_weights["heatmap"]), "--out", str(onnx_path)]) == 0
    pred = OnnxPredictor(onnx_path)
    x = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    batch = pred.forward(x)
    assert not pred.single_face._sessions
    for _ in range(22):  # both options warmed up and timed
        np.testing.assert_allclose(pred.forward(x[:1]), batch[:1], atol=1e-5)
    threads = {k: s.get_session_options().intra_op_num_threads for k, s in pred.single_face._sessions.items()}
    assert threads["1 thread"] == 1
    if (os.cpu_count() or 1) > 1:
        assert threads["2 spinning threads"] == 2
        opts = pred.single_face._sessions["2 spinning threads"].get_session_options()
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "1"
        assert opts.get_session_config_entry("session.force_spinning_stop") == "1"  # no spinning after a run
    fixed = OnnxPredictor(onnx_path, threads=2)
    np.testing.assert_allclose(fixed.forward(x[:1]), batch[:1], atol=1e-5)
    assert fixed.single_face is None  # one session (fixed.session) for single faces and batches


class _FakeSession:
    def __init__(self, clock, cost):
        self.clock, self.cost, self.calls = clock, cost, 0

    def run(self, names, feeds):
        self.calls += 1
        self.clock.now += self.cost[0]
        return [self.cost[0]]


class _Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_fastest_session_measures_picks_the_faster_and_follows_a_change_of_load():
    from heatmark.onnx_runtime import FastestSession

    clock = _Clock()
    cost = {"a": [3.0], "b": [2.5]}
    made = {}

    def factory(key):
        def make():
            made[key] = _FakeSession(clock, cost[key])
            return made[key]
        return make

    runner = FastestSession({"a": factory("a"), "b": factory("b")}, window=5, explore_every=8, clock=clock)
    for _ in range(12):  # taking turns: a warm-up call each, then 5 timed calls each
        runner.run({})
    assert made["a"].calls == made["b"].calls == 6
    assert runner.choice() == "b"  # 2.5 < 0.9 * 3.0
    for _ in range(40):
        runner.run({})
    assert made["b"].calls > 40 and 6 < made["a"].calls < 12  # "a" only on the exploring calls
    cost["b"][0] = 6.7  # the machine got busy: "b" is now the slow one
    for _ in range(5):
        runner.run({})
    assert runner.choice() == "a"
    with pytest.raises(ValueError):
        FastestSession({})
    with pytest.raises(ValueError, match="window"):
        FastestSession({"a": factory("a")}, window=0)


def test_fastest_session_keeps_the_first_option_unless_another_is_clearly_faster():
    from heatmark.onnx_runtime import FastestSession

    clock = _Clock()
    runner = FastestSession({"safe": lambda: _FakeSession(clock, [3.0]), "spin": lambda: _FakeSession(clock, [2.8])},
                            window=3, clock=clock)
    for _ in range(8):
        runner.run({})
    assert runner.choice() == "safe"  # 2.8 is less than 10 % faster


def test_import_heatmark_stops_opencv_workers_spinning_unless_the_user_chose():
    """``import heatmark`` sets OpenCV's worker active wait to 0 (spinning workers slowed the onnxruntime call after
    each crop: tools/opencv_spin_check.py); a value already in the environment is kept."""
    import os
    import subprocess
    import sys

    code = "import os, heatmark; print(os.environ['OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "0"
    env["OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER"] = "500"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "500"


def test_thread_check_tool_times_each_setting(tmp_path):
    """tools/thread_check.py (the measurement behind FastestSession) runs on the bundled 300W fixtures."""
    from pathlib import Path

    root = Path(__file__).parent
    r = subprocess.run([sys.executable, str(root.parent / "tools" / "thread_check.py"), "--weights", "fast",
                        "--root", str(root / "fixtures" / "300w"), "--limit", "2", "--repeats", "1", "--rounds", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.strip().startswith("fast")]
    assert len(rows) == 3 and all(float(line.split()[-1]) > 0 for line in rows)


def test_profile_network_tool_names_each_node_and_its_share_of_the_multiply_adds():
    """tools/profile_network.py: exported node names map back to torch modules; the shares of the shipped `fast`
    network's time and multiply-adds are printed as percentages."""
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "tools" / "profile_network.py"
    tool = runpy.run_path(str(path))
    assert tool["module_name"]("/decoder/blocks.0/conv1/conv1.0/Conv_token_168") == "decoder.blocks.0.conv1.0"
    assert tool["module_name"]("/encoder/model/blocks.2/blocks.2.1/conv_dw/Conv_output_0") == \
        "encoder.model.blocks.2.1.conv_dw"
    r = subprocess.run([sys.executable, str(path), "--model", "fast", "--runs", "3", "--top", "4"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()[3:]
    assert len(rows) == 4 and all(0 < float(line.split()[1]) <= 100 for line in rows)
    assert any(len(line.split()) == 3 for line in rows)  # at least one convolution matched to its module


def test_probe_arch_speed_times_the_int8_file():
    """tools/probe_arch_speed.py --int8: a candidate is exported, quantised and timed; one line with its parameters
    and a positive time per face."""
    from pathlib import Path

    path = Path(__file__).parents[1] / "tools" / "probe_arch_speed.py"
    r = subprocess.run([sys.executable, str(path), "--int8", "--repeats", "2", "--only", "s128 separable 1x1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "int8" in r.stdout.splitlines()[0]
    rows = [line for line in r.stdout.splitlines()[1:] if "separable" in line]
    assert len(rows) == 1 and "1.91 M params" in rows[0] and float(rows[0].split()[-2]) > 0


def test_time_landmarkers_interleaves_models(fixtures):
    """tools/time_landmarkers.py: one row per round and a median row, one positive time per model; nonsense
    counts are refused."""
    from pathlib import Path

    path = Path(__file__).parents[1] / "tools" / "time_landmarkers.py"
    r = subprocess.run([sys.executable, str(path), "fast", "default", "--root", str(fixtures / "300w"), "--limit", "3",
                        "--rounds", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| round | fast | default |"
    assert [x.split("|")[1].strip() for x in rows[1:]] == ["1", "2", "median"]
    assert all(float(v) > 0 for row in rows[1:] for v in row.strip("| ").split(" | ")[1:])
    bad = subprocess.run([sys.executable, str(path), "fast", "--root", str(fixtures / "300w"), "--rounds", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_time_decoders_prints_every_decoder(fixtures):
    """tools/time_decoders.py: a positive time per face for each NumPy heatmap decoder; nonsense counts and a
    non-heatmap model are refused."""
    from pathlib import Path

    from heatmark.codecs.numpy_decoders import DECODERS

    path = Path(__file__).parents[1] / "tools" / "time_decoders.py"
    r = subprocess.run([sys.executable, str(path), "--root", str(fixtures / "300w"), "--limit", "2", "--number", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = dict(line.split() for line in r.stdout.splitlines() if not line.startswith("#"))
    assert set(rows) == set(DECODERS) and all(float(v) > 0 for v in rows.values())
    for bad_args, said in ((["--number", "0"], "at least 1"), (["--weights", "fast"], "heatmap model")):
        bad = subprocess.run([sys.executable, str(path), "--root", str(fixtures / "300w"), "--limit", "1", *bad_args],
                             capture_output=True, text=True, timeout=300)
        assert bad.returncode != 0 and said in bad.stderr, bad.stderr
