"""Horizontal-flip test-time augmentation, shared by the API and the evaluator (not a network concern)."""

from __future__ import annotations

from typing import Callable

import torch


def decode_flip_tta(forward: Callable[[torch.Tensor], torch.Tensor], codec, x: torch.Tensor,
                    flip_index, decoder: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Points (B, K, 2) and scores (B, K) for crops ``x`` (B, 3, S, S): the mean of the prediction on ``x``
    and the mirrored prediction on ``x`` flipped left-right (indices swapped by ``flip_index``, x → S − x in
    the continuous pixel convention). Exactly equivariant: flipping the input flips the output."""
    idx = torch.as_tensor(flip_index, dtype=torch.long)
    pts, scores = codec.decode(forward(x), decoder)
    fp, fs = codec.decode(forward(torch.flip(x, dims=[3])), decoder)
    fp = fp[:, idx]
    fp[..., 0] = x.shape[-1] - fp[..., 0]
    return (pts + fp) / 2, (scores + fs[:, idx]) / 2
