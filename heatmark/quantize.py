"""Static int8 quantization of a heatmark ONNX model (onnxruntime's tools; no torch).

QDQ format, per-channel int8 weights (in a 7-bit range, so that CPUs without VNNI compute the same), uint8
activations calibrated on face crops (min-max over the crops the model will see: synthetic faces and unlabeled
real photos, never their labels). The model's description (codec, scheme, card) is copied into the quantized
file, so ``Landmarker("model.int8.onnx")`` runs it like the fp32 one.

    heatmark export --weights default --int8 --calibrate PHOTOS_DIR --out default.int8.onnx
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from heatmark.errors import HeatmarkError


def face_crops(onnx_path: str | Path, images: list[Path], limit: int = 200) -> np.ndarray:
    """(N, S, S, 3) uint8 crops of the faces the default detector finds in ``images`` (up to ``limit``), cut
    the way the model at ``onnx_path`` expects (its input size and box scale)."""
    from heatmark.api import Landmarker
    from heatmark.data.crops import crop_matrix, warp
    from heatmark.data.image_io import read_image

    lm = Landmarker(onnx_path, upright=False)  # axis-aligned crops, as the shipped int8 files were calibrated on
    crops = []
    for path in images:
        rgb = read_image(path, orient=True)
        for box in lm.detect_crops(rgb)[2]:  # the detector's boxes through its calibration, as predict() crops
            crops.append(warp(rgb, crop_matrix(box, lm.input_size), lm.input_size))
            if len(crops) >= limit:
                return np.stack(crops)
    if not crops:
        raise HeatmarkError(f"no face found in the {len(images)} calibration images; give photos with faces")
    return np.stack(crops)


def quantize_int8(src: str | Path, dst: str | Path, crops: np.ndarray, per_channel: bool = True) -> Path:
    """Write ``dst``: ``src`` with int8 QDQ weights and activations calibrated on ``crops`` (N, S, S, 3 uint8)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from heatmark.atomic import atomic_path

    src, dst = Path(src), Path(dst)
    batches = [crops[i:i + 8].transpose(0, 3, 1, 2).astype(np.float32) / 255.0 for i in range(0, len(crops), 8)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"image": x}

    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        with atomic_path(dst) as out:
            # reduce_range: 7-bit weights. x86 CPUs without VNNI (AVX2, AVX-512 without VNNI) multiply uint8
            # activations by int8 weights with VPMADDUBSW, whose int16 pair sums saturate at full-range weights:
            # the shipped `default` lost 0.07 NME points on an AMD EPYC that way and 0.01 on a VNNI Xeon. With
            # 7-bit weights nothing saturates, so every CPU computes the same integers (0.01 points here).
            quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                            reduce_range=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
            m = onnx.load(str(out))
            del m.metadata_props[:]
            for key, value in meta.items():
                if key == "heatmark":
                    value = json.dumps({**json.loads(value), "quantization": {
                        "format": "QDQ", "weights": "int8 per-channel" if per_channel else "int8",
                        "weight_range": "7-bit",
                        "activations": "uint8", "calibration_crops": len(crops)}})
                entry = m.metadata_props.add()
                entry.key, entry.value = key, value
            onnx.save(m, str(out))
    return dst
