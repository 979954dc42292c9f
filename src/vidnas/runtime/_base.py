"""What every runtime is: the inference surface of a network (``runtime(x)`` for whole clips, ``init_state`` and
``stream_step`` for streaming), the error a runtime raises when it cannot run a network, the tolerance it is held
to against the eager network, and the GPU precisions. The runtimes themselves: ``_runtimes`` (CPU) and ``_cuda``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vidnas.errors import VidnasError
from vidnas.measure import torch_threads

PRECISIONS = {"cuda": torch.float32, "cuda-fp16": torch.float16, "cuda-bf16": torch.bfloat16}
"""The GPU runtimes by name and the precision their convolutions and matrix products run in: the deploy form on the
GPU in fp32 (TF32 off), fp16 or bf16 autocast, fixed shapes replayed as CUDA graphs (``vidnas.runtime._cuda``);
``select_runtime`` times them beside the CPU runtimes when a GPU is present."""
TOLERANCE = 1e-4
"""Largest accepted max |Δlogit| / max |logit| of a runtime against the eager network (fp32: BN folding and
graph fusions change rounding only, ~1e-6)."""


class RuntimeUnavailable(VidnasError):
    """A runtime cannot run this model (not installed, export failed, outputs differ)."""


def _streams(model: nn.Module) -> list[str]:
    return list(getattr(model, "stream_names", ["rgb"]))


class Runtime:
    """The inference surface of a network on one runtime."""

    name = "runtime"
    tolerance = TOLERANCE  # the largest max |Δlogit| / max |logit| against eager its outputs are held to

    def __init__(self, model: nn.Module, threads: int | None = None) -> None:
        self.model = model.eval()
        self.genotype = model.genotype
        self.stream_names = _streams(model)
        self.num_classes = getattr(model, "num_classes", None)
        self.threads = threads

    def __call__(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def running(self) -> Any:
        """The context to run this runtime's loop in (pre- and post-processing included): torch's thread count as
        the runtime needs it. Torch runtimes: ``threads``."""
        return torch_threads(self.threads)

    def _inputs(self, x: Any) -> list[torch.Tensor]:
        """The input tensors in the network's stream order (one tensor, or a dict of streams)."""
        return [x[name] for name in self.stream_names] if isinstance(x, dict) else [x]

    def eval(self) -> "Runtime":  # the runners treat a runtime like a network in eval mode
        return self

    def parameters(self) -> Any:
        """The eager network's parameters (their device and dtype are the runtime's inputs')."""
        return self.model.parameters()

    def init_state(self, batch_size: int = 1, size: int | tuple[int, int] | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The state of new streams (the eager network's, which every runtime shares)."""
        return self.model.init_state(batch_size, size, **kwargs)

    def stream_step(self, frames: torch.Tensor | dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.genotype.name!r})"
