"""Where a shipped model's network spends its CPU time: onnxruntime's per-node profile and each convolution's
multiply-adds, side by side.

    python tools/profile_network.py --model default --threads 1 --runs 300

Prints the total network time per face at batch 1 (profiled runs; the profiler adds a little), the share of each
operator type, and the top nodes with their share of the time and, for convolutions, of the network's
multiply-adds (counted on the torch model the file was exported from). Run it with nothing else running if the
milliseconds matter; the shares are what it is for.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def conv_macs(weights: str) -> dict[str, int]:
    """Multiply-adds of each Conv2d of the torch model behind ``weights``, by module name."""
    import torch

    from heatmark.checkpoint import load_model
    from heatmark.shipped import resolve_weights

    model, _, _, meta = load_model(resolve_weights(weights))
    model.eval()
    size = int(meta["input_size"])
    macs: dict[str, int] = {}

    def hook(name):
        def count(mod, _inp, out):
            macs[name] = out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        return count

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            mod.register_forward_hook(hook(name))
    with torch.no_grad():
        model(torch.rand(1, 3, size, size))
    return macs


def module_name(node: str) -> str:
    """The torch module behind an exported node: ``/decoder/blocks.0/conv1/conv1.0/Conv_token_7`` (each scope
    names a child, nested Sequentials by their qualified name) -> ``decoder.blocks.0.conv1.0``."""
    parts: list[str] = []
    for p in node.strip("/").split("/")[:-1]:
        if parts and p.startswith(parts[-1] + "."):
            parts[-1] = p
        else:
            parts.append(p)
    return ".".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="a shipped model name (its shipped ONNX file is profiled)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    import onnxruntime as ort

    from heatmark.shipped import resolve_weights, shipped_onnx

    path = shipped_onnx(resolve_weights(args.model))
    if path is None:
        raise SystemExit(f"--model {args.model}: no shipped ONNX file; give a shipped model name (heatmark models)")
    macs = conv_macs(args.model)
    total_macs = sum(macs.values())
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "prof")
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = np.random.default_rng(0).random([d if isinstance(d, int) else 1 for d in inp.shape], np.float32)
        for _ in range(args.runs):
            sess.run(None, {inp.name: x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    by_node, by_op = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_node[e["name"][: -len("_kernel_time")]] += e["dur"]
            by_op[e["args"]["op_name"]] += e["dur"]
    total = sum(by_node.values())
    print(f"{path.name}: {total / args.runs / 1000:.2f} ms per face in the network (batch 1, {args.threads} "
          f"thread(s), {args.runs} profiled runs; load average {os.getloadavg()[0]:.2f}); "
          f"{total_macs / 1e6:.1f} M multiply-adds in its convolutions")
    print("by operator: " + ", ".join(f"{op} {100 * d / total:.1f} %" for op, d in by_op.most_common(6)))
    print(f"{'node':60s} {'time %':>7s} {'MACs %':>7s}")
    for node, d in by_node.most_common(args.top):
        m = macs.get(module_name(node))
        share = f"{100 * m / total_macs:6.1f}" if m is not None else "      "
        print(f"{node[:60]:60s} {100 * d / total:7.1f} {share:>7s}")


if __name__ == "__main__":
    main()
