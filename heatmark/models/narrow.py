"""Start a U-Net heatmap model with a narrower decoder from a trained wider one (config ``model.init_narrow``).

Each decoder block has two 3×3 convolutions, each followed by batch norm and ReLU; block ``i``'s first convolution
reads the upsampled output of block ``i - 1`` (the encoder's top for block 0) concatenated with a skip connection,
and the head reads the last block. Narrowing keeps, for every convolution, the output channels that matter most
in the wide network, and slices every tensor that reads them to match (network slimming's criterion, refined):
a channel's importance is ``|γ|`` of its batch norm (how far it moves after normalisation) times the norm of the
next layer's weights on it (how much the next layer listens). The kept channels keep their order; the skip
connections and the encoder are untouched. The result is a start for fine-tuning, not a finished network: the
removed channels' contributions are gone, and the next training pass re-estimates the batch-norm statistics.
"""

from __future__ import annotations

import torch
from torch import nn

from heatmark.errors import ConfigError

BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _importance(state: dict[str, torch.Tensor], bn: str, reader: torch.Tensor) -> torch.Tensor:
    """|γ| of batch norm ``bn`` times the L2 norm of ``reader``'s weights on each channel (reader: (out, C, k, k))."""
    return state[f"{bn}.weight"].abs().float() * reader.float().pow(2).sum(dim=(0, 2, 3)).sqrt()


def _top(scores: torch.Tensor, k: int, key: str) -> torch.Tensor:
    """Indices of the ``k`` largest scores, in ascending index order (``key``: the convolution, for the message)."""
    if k > len(scores):
        raise ConfigError(f"model.init_narrow: {key} has {k} output channels, the weights' only {len(scores)}: "
                          "each decoder block may only be as wide as the weights' or narrower")
    return torch.topk(scores, k).indices.sort().values


def narrow_state(src: dict[str, torch.Tensor], model: nn.Module) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``src`` (a wide U-Net heatmap model's state dict) with its decoder and head sliced to fit ``model``.

    Args:
        src: the trained model's state dict (names as in :class:`heatmark.models.heatmap.HeatmapModel`).
        model: the narrower network; its encoder, block count and head kernel must match ``src``'s; each decoder
            convolution may be as wide as the source's or narrower.

    Returns:
        The state dict for ``model`` and the names of the tensors that were sliced.

    Raises:
        ConfigError: the model is not a U-Net heatmap model, or a block is wider than the source's, or their
            block counts differ.
    """
    blocks = getattr(getattr(model, "decoder", None), "blocks", None)
    if blocks is None or getattr(model, "head", None) is None or getattr(model, "arch", None) != "unet":
        raise ConfigError("model.init_narrow works with heatmap models of arch unet (a decoder of blocks and a head)")
    own = model.state_dict()
    n_src = len({k.split(".")[2] for k in src if k.startswith("decoder.blocks.")})
    if n_src != len(blocks):
        raise ConfigError(f"model.init_narrow: the weights have {n_src} decoder blocks, this network {len(blocks)} "
                          "(keep model.options.stride as in the weights)")
    out = dict(src)
    sliced = []

    def put(key: str, value: torch.Tensor) -> None:
        if tuple(value.shape) != tuple(own[key].shape):
            raise ConfigError(f"model.init_narrow: {key} would be {tuple(value.shape)} but the network has "
                              f"{tuple(own[key].shape)}: each decoder block may only be as wide as the weights' or "
                              "narrower, with the same encoder and head kernel")
        if value.shape != src[key].shape:
            sliced.append(key)
        out[key] = value.clone()

    up_keep = None  # the channels kept of block i-1's output (block 0 reads the encoder's top, kept whole)
    for i in range(len(blocks)):
        p = f"decoder.blocks.{i}"
        w1, w2 = src[f"{p}.conv1.0.weight"], src[f"{p}.conv2.0.weight"]
        if i:  # the first conv reads [upsampled block i-1 | skip]: the first part narrows, the skip stays whole
            up = src[f"decoder.blocks.{i - 1}.conv2.0.weight"].shape[0]
            w1 = w1[:, torch.cat([up_keep, torch.arange(up, w1.shape[1])])]
        keep1 = _top(_importance(src, f"{p}.conv1.1", w2), own[f"{p}.conv1.0.weight"].shape[0], f"{p}.conv1.0.weight")
        put(f"{p}.conv1.0.weight", w1[keep1])
        for k in BN_KEYS:
            put(f"{p}.conv1.1.{k}", src[f"{p}.conv1.1.{k}"][keep1])
        if i + 1 < len(blocks):
            reader = src[f"decoder.blocks.{i + 1}.conv1.0.weight"][:, :w2.shape[0]]
        else:
            reader = src["head.weight"]
        keep2 = _top(_importance(src, f"{p}.conv2.1", reader), own[f"{p}.conv2.0.weight"].shape[0],
                     f"{p}.conv2.0.weight")
        put(f"{p}.conv2.0.weight", w2[keep2][:, keep1])
        for k in BN_KEYS:
            put(f"{p}.conv2.1.{k}", src[f"{p}.conv2.1.{k}"][keep2])
        up_keep = keep2
    put("head.weight", src["head.weight"][:, up_keep])
    return out, sliced
