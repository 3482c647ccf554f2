"""Where torch work runs: the one place that turns ``--device`` into a ``torch.device``."""

from __future__ import annotations

import torch

from heatmark.errors import ConfigError


def pick_device(device: str | None = "auto", local_rank: int = 0, world: int = 1) -> torch.device:
    """``device`` as given ("cpu", "cuda", "cuda:N"), or for None/"auto" ``cuda:LOCAL_RANK`` when torch sees a
    GPU, else the CPU. A clear error for a device this machine does not have."""
    if device is None or device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        n = torch.cuda.device_count()
        if local_rank >= n:
            raise ConfigError(f"process {local_rank} of {world} needs GPU cuda:{local_rank}, but torch sees {n}; "
                              f"start at most {n} processes per machine (torchrun --nproc_per_node {n}), or train "
                              "on CPU processes with --device cpu")
        return torch.device(f"cuda:{local_rank}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device!r}: not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: torch sees no CUDA GPU here (torch {torch.__version__}); "
                          "use --device cpu")
    if dev.type == "cuda" and dev.index is None:  # "cuda": this process's GPU
        return pick_device("auto", local_rank, world)
    return dev
