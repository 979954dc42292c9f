"""Activations in export-safe form: each is plain arithmetic that ONNX and TorchScript trace as-is."""

from __future__ import annotations

import torch
from torch import nn


class Swish(nn.Module):
    """x · sigmoid(x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class HardSigmoid(nn.Module):
    """relu6(x + 3) / 6 (the TF form; Keras-legacy clamp(0.2x + 0.5) differs)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x + 3.0, 0.0, 6.0) / 6.0


class HardSwish(nn.Module):
    """x · relu6(x + 3) / 6."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.clamp(x + 3.0, 0.0, 6.0) / 6.0)


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
