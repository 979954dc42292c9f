"""Weight initialisation by the genotype's ``init`` record (the schemes the reference systems use)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from vidnas.ops.conv import ITGMConv3d
from vidnas.ops.fusion import WeightedFusion


def _std(weight: torch.Tensor, mode: str, gain: float) -> float:
    receptive = math.prod(weight.shape[2:])
    fan = weight.shape[1] * receptive if mode == "fan_in" else weight.shape[0] * receptive
    return math.sqrt(gain / fan)


def _fill(weight: torch.Tensor, distribution: str, std: float) -> None:
    if distribution == "truncated_normal":
        nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)
    else:
        nn.init.normal_(weight, 0.0, std)


@torch.no_grad()
def initialise(model: nn.Module, distribution: str, mode: str, gain: float, dense_std: float, zero_init: Iterable[nn.Module] = ()) -> None:
    """Conv kernels ~ (truncated) N(0, gain/fan); BN γ=1 (0 for the BNs in ``zero_init``), β=0; dense N(0, dense_std²)."""
    zeroed = {id(module) for module in zero_init}
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            _fill(module.weight, distribution, _std(module.weight, mode, gain))
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, ITGMConv3d):
            module.reset_parameters(conv_std=_std(module.spatial, mode, gain))
            _fill(module.spatial, distribution, _std(module.spatial, mode, gain))
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.constant_(module.weight, 0.0 if id(module) in zeroed else 1.0)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, dense_std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, WeightedFusion):
            pass  # edge logits are set from the genotype's weights when the module is made
