"""Exact parameter and multiply-accumulate counts.

Convention (stated, because the literature mixes them): **MACs** are the multiply-accumulates of convolution
and linear layers (what X3D and MoViNet publish under the name "FLOPs"); **FLOPs** = 2 × MACs, which is what
``torch.utils.flop_counter`` counts. BatchNorm, activations, pooling, element-wise products (SE scaling,
fusion weights) and the iTGM kernel assembly are not counted.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

MAC_CONVENTION = (
    "macs = multiply-accumulates of conv and linear layers (the 'FLOPs' of the X3D and MoViNet papers); "
    "flops = 2 x macs (torch.utils.flop_counter convention); BN, activations, pooling and element-wise ops not counted"
)


@dataclass(frozen=True)
class ParameterCount:
    total: int
    trainable: int
    batchnorm: int

    @property
    def without_batchnorm(self) -> int:
        """Parameters excluding BatchNorm affine γ/β (the convention of the X3D paper)."""
        return self.total - self.batchnorm

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "without_batchnorm": self.without_batchnorm}


def count_parameters(model: nn.Module) -> ParameterCount:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    batchnorm = sum(
        p.numel() for m in model.modules() if isinstance(m, nn.modules.batchnorm._NormBase) for p in m.parameters(recurse=False)
    )
    return ParameterCount(total, trainable, batchnorm)


@dataclass(frozen=True)
class MacCount:
    macs: int
    flops: int
    by_module: dict[str, int] = field(default_factory=dict)
    convention: str = MAC_CONVENTION


def _to_meta(inputs):  # noqa: ANN001, ANN202
    if isinstance(inputs, dict):
        return {k: _to_meta(v) for k, v in inputs.items()}
    return torch.empty(inputs.shape, dtype=inputs.dtype, device="meta")


def count_macs(model: nn.Module, inputs: torch.Tensor | dict[str, torch.Tensor], *, on_meta: bool = True) -> MacCount:
    """MACs of one forward pass on ``inputs`` (per whole batch), with a per-top-level-module breakdown.

    ``on_meta`` runs the pass on a meta-device copy: exact counts for any size in milliseconds, no compute.
    """
    if on_meta:
        model = copy.deepcopy(model).to("meta")
        inputs = _to_meta(inputs)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, depth=3)
    try:
        with torch.no_grad(), counter:
            model(inputs)
    finally:
        model.train(was_training)
    flops = int(counter.get_total_flops())
    by_module: dict[str, int] = {}
    root = type(model).__name__
    for name, ops in counter.get_flop_counts().items():
        parts = name.split(".")
        if name == "Global" or len(parts) != 3 or parts[0] != root:
            continue
        by_module[".".join(parts[1:])] = int(sum(ops.values())) // 2
    return MacCount(macs=flops // 2, flops=flops, by_module=by_module)
