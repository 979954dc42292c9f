"""Structural ops: residual sum (with ReZero and stochastic depth), parallel branches, multi-input fusion."""

from __future__ import annotations

import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a sample's residual branch with probability ``rate`` and rescale."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Residual(nn.Module):
    """out = act(shortcut(x) + drop_path(α · body(x))); α is a ReZero scalar initialised to 0 when enabled."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, rezero: bool, drop_path: float, act: nn.Module | None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()
        self.rezero = nn.Parameter(torch.zeros(())) if rezero else None
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if self.rezero is not None:
            y = y * self.rezero
        return self.act(self.shortcut(x) + self.drop_path(y))


class Branches(nn.Module):
    """Parallel branches on one input, concatenated along channels or summed."""

    def __init__(self, branches: list[nn.Module], merge: str = "concat"):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [branch(x) for branch in self.branches]
        if self.merge == "concat":
            return torch.cat(outs, dim=1)
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total
