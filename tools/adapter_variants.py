"""Label adapters of more capacity than the shipped linear one, fitted on Helen-train and scored on AFW.

The shipped adapter (heatmark.adapter.LabelAdapter) is a ridge regression of the correction on the predicted shape
in a face-normalised frame. This tool asks whether a non-linear map of the shape does better: the same ridge with
quadratic terms of the shape's first principal components, and a small MLP (residual on the linear map). All of
them are fitted on the 870 Helen-train faces only (their labels: a separate, real-label variant) and scored once on
AFW (ground-truth boxes).

    python tools/adapter_variants.py --model synthetic --fit ../shared/data/300w_helen_train \
        --eval ../shared/data/300w_afw --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np


def canonical(p: np.ndarray):
    from heatmark.adapter import canonical_frames, to_canonical

    a, o = canonical_frames(p)
    return to_canonical(p, a, o).reshape(len(p), -1), a, o


def quadratic_fit(x: np.ndarray, y: np.ndarray, components: int, ridge: float):
    """Ridge on [shape, products of its first principal components (whitened), 1]; returns a predictor."""
    mu = x.mean(0)
    _, s, vt = np.linalg.svd(x - mu, full_matrices=False)
    iu = np.triu_indices(components)

    def feats(z):
        c = (z - mu) @ vt[:components].T / s[:components] * np.sqrt(len(x))
        return np.hstack([z, np.einsum("ni,nj->nij", c, c)[:, iu[0], iu[1]], np.ones((len(z), 1))])

    f = feats(x)
    w = np.linalg.solve(f.T @ f + ridge * np.eye(f.shape[1]), f.T @ y)
    return lambda z: feats(z) @ w


def mlp_fit(x: np.ndarray, y: np.ndarray, hidden: int, weight_decay: float, seed: int, steps: int = 3000):
    """A linear map plus a one-hidden-layer MLP on the standardised shape, L1 loss, AdamW."""
    import torch

    torch.manual_seed(seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    m, s = xt.mean(0), xt.std(0).clamp(min=1e-2)  # the eye corners are fixed in this frame: std 0
    d = x.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, d))
    lin = torch.nn.Linear(d, d)
    opt = torch.optim.AdamW([*net.parameters(), *lin.parameters()], 1e-3, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (128,), generator=gen)
        z = (xt[idx] - m) / s
        loss = (net(z) + lin(z) - yt[idx]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def predict(z):
        with torch.no_grad():
            zz = (torch.tensor(z, dtype=torch.float32) - m) / s
            return (net(zz) + lin(zz)).numpy().astype(np.float64)
    return predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="synthetic")
    ap.add_argument("--fit", required=True, help="300W folder whose labels fit the adapters (Helen-train)")
    ap.add_argument("--eval", required=True, help="300W folder scored once (AFW); never used to fit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from heatmark.adapter import LabelAdapter, from_canonical, to_canonical
    from heatmark.engine.adapt import annotated_predictions
    from heatmark.engine.metrics import nme
    from heatmark.shipped import resolve_weights

    fp, fg, _ = annotated_predictions(resolve_weights(args.model), "300w", args.fit, "cpu")
    ep, eg, scheme = annotated_predictions(resolve_weights(args.model), "300w", args.eval, "cpu")

    def score(p):
        return float(nme(p, eg, scheme).mean() * 100)

    xf, af, of = canonical(fp)
    yf = to_canonical(fg, af, of).reshape(len(fp), -1) - xf  # the correction each fitting face needs
    xe, ae, oe = canonical(ep)

    def adapted(correction):
        return from_canonical((xe + correction(xe)).reshape(ep.shape), ae, oe)

    print(f"{args.model}: fitted on {len(fp)} faces of {args.fit}, scored on {len(ep)} faces of {args.eval}")
    print(f"{'adapter':40s} AFW NME %")
    print(f"{'none':40s} {score(ep):.3f}")
    for r in (0.1, 1.0, 10.0):
        print(f"{f'linear ridge {r:g} (shipped kind)':40s} {score(LabelAdapter.fit(fp, fg, r)(ep)):.3f}")
    for c in (10, 20):
        for r in (1.0, 10.0, 100.0):
            print(f"{f'quadratic, {c} components, ridge {r:g}':40s} {score(adapted(quadratic_fit(xf, yf, c, r))):.3f}")
    for h, wd in ((256, 1e-3), (256, 1e-2), (512, 1e-2)):
        print(f"{f'MLP {h} hidden, weight decay {wd:g}':40s} {score(adapted(mlp_fit(xf, yf, h, wd, args.seed))):.3f}")


if __name__ == "__main__":
    main()
