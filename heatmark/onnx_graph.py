"""Clean-ups of an exported ONNX graph for a fixed input size (onnx and onnxruntime; no torch).

smp's U-Net decoder upsamples each map to the size of its skip connection (``F.interpolate(x, size=skip.shape)``),
which torch exports as ``Shape → Gather → Unsqueeze → Concat → Resize(sizes=...)``. heatmark's networks always
see a fixed ``S × S`` input, so every such size is a fixed multiple of the map it resizes: :func:`static_resizes`
gives each Resize constant ``scales`` instead and removes the shape arithmetic. In the int8 ``default`` those
shape reads were the only users of six NHWC→NCHW Transposes and six DequantizeLinear nodes; without them the
network runs a few per cent faster, with bit-identical outputs (fp32 and int8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _remove_dead_nodes(graph) -> int:
    """Drop nodes none of whose outputs is read (by a node or as a graph output); returns how many."""
    removed = 0
    while True:
        needed = {o.name for o in graph.output} | {i for n in graph.node for i in n.input}
        dead = [n for n in graph.node if not any(o in needed for o in n.output)]
        if not dead:
            return removed
        for n in dead:
            graph.node.remove(n)
        removed += len(dead)


def _dynamic_resizes(graph) -> list:
    """Resize nodes whose output size is computed in the graph (a ``sizes`` input made by other nodes)."""
    constants = {i.name for i in graph.initializer}
    constants |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    return [n for n in graph.node if n.op_type == "Resize" and len(n.input) == 4 and n.input[3]
            and n.input[3] not in constants]


def static_resizes(path: str | Path, input_size: int) -> int:
    """Rewrite the ONNX file ``path`` so that every Resize with a computed output size uses the constant scale
    factors it has at the model's input size (``input_size``², any batch), and drop the nodes that computed
    the sizes. The outputs are unchanged (same output sizes, same coordinate mapping). Returns the number of
    Resize nodes changed (0: the file is left as it was).

    Raises:
        ValueError: a Resize whose scale factors differ between batch sizes (not a fixed-size graph).
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    path = Path(path)
    model = onnx.load(str(path))
    resizes = _dynamic_resizes(model.graph)
    if not resizes:
        return 0
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [name for n in resizes for name in (n.input[0], n.output[0])]
    known = {o.name for o in probe.graph.output}
    for name in names:
        if name not in known:
            probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
            known.add(name)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    scales, exact = [], []
    for batch in (1, 2):
        x = np.zeros((batch, 3, input_size, input_size), np.float32)
        shapes = dict(zip(names, (o.shape for o in session.run(names, {"image": x}))))
        ins = [np.asarray(shapes[n.input[0]], np.float64) for n in resizes]
        outs = [np.asarray(shapes[n.output[0]], np.float64) for n in resizes]
        scales.append([o / i for i, o in zip(ins, outs)])
        # the float32 scale must give back the same output size (floor(size x scale)) in float32 and float64
        exact.append([all(np.array_equal(np.floor(i.astype(t) * (o / i).astype(np.float32).astype(t)), o)
                          for t in (np.float32, np.float64)) for i, o in zip(ins, outs)])
    changed = 0
    for node, s1, s2, ok1, ok2 in zip(resizes, *scales, *exact):
        if not np.array_equal(s1, s2):
            raise ValueError(f"{path}: Resize {node.name} scales by {s1} at batch 1 and {s2} at batch 2")
        if not (ok1 and ok2):
            continue  # a ratio float32 cannot carry exactly: this Resize keeps its computed size
        changed += 1
        const = numpy_helper.from_array(s1.astype(np.float32), f"{node.name}_static_scales")
        model.graph.initializer.append(const)
        data, roi = node.input[0], node.input[1]
        del node.input[:]
        node.input.extend([data, roi, const.name])
    if changed:
        _remove_dead_nodes(model.graph)
        onnx.save(model, str(path))
    return changed
