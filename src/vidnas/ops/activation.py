"""Activations in export-safe form: each maps to a standard ONNX operator (Sigmoid·x, HardSwish,
HardSigmoid) or to plain arithmetic, and runs as one fused kernel in PyTorch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Swish(nn.Module):
    """x · sigmoid(x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(x)


class HardSigmoid(nn.Module):
    """relu6(x + 3) / 6 (the TF form; Keras-legacy clamp(0.2x + 0.5) differs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardsigmoid(x)


class HardSwish(nn.Module):
    """x · relu6(x + 3) / 6."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardswish(x)


def make_activation(name: str | None) -> nn.Module:
    """The activation module for a genotype activation name (None or 'identity': nn.Identity)."""
    if name is None or name == "identity":
        return nn.Identity()
    factories = {
        "relu": lambda: nn.ReLU(inplace=False),
        "relu6": lambda: nn.ReLU6(inplace=False),
        "swish": Swish,
        "hswish": HardSwish,
        "sigmoid": nn.Sigmoid,
        "hsigmoid": HardSigmoid,
    }
    if name not in factories:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(factories)}")
    return factories[name]()
