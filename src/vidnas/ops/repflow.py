"""Representation Flow: differentiable TV-L1-style optical flow inside the network (AssembleNet's in-network
flow; reference evanet-tvn-assemblenet.md §3.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(x: torch.Tensor, kernel: list[float], axis: str, pad: tuple[int, int]) -> torch.Tensor:
    """1-D filter along x (width) or y (height) of a (N, 1, H, W) tensor with explicit zero padding."""
    weight = torch.tensor(kernel, dtype=x.dtype, device=x.device)
    if axis == "x":
        return F.conv2d(F.pad(x, (pad[0], pad[1], 0, 0)), weight.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, pad[0], pad[1])), weight.view(1, 1, -1, 1))


class RepresentationFlow(nn.Module):
    """Flow (u1, u2) between consecutive frames by ``iterations`` unrolled TV-L1 steps.

    Input B×C×T×H×W (any values: each clip is min-max rescaled to [0, 255], channels averaged); output
    B×2×T×H×W with the last flow repeated. u1 > 0 means motion to the right, u2 > 0 downwards.
    θ, λ, τ are 0.3, 0.15, 0.25 as AssembleNet uses them; ``learnable`` makes them parameters.
    """

    def __init__(self, iterations: int = 40, theta: float = 0.3, lam: float = 0.15, tau: float = 0.25, learnable: bool = False):
        super().__init__()
        self.iterations = iterations
        values = torch.tensor([theta, lam, tau])
        if learnable:
            self.params = nn.Parameter(values)
        else:
            self.register_buffer("params", values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, frames, height, width = x.shape
        if frames < 2:
            return x.new_zeros(batch, 2, frames, height, width)
        gray = x.mean(dim=1)  # B×T×H×W
        low = gray.amin(dim=(1, 2, 3), keepdim=True)
        high = gray.amax(dim=(1, 2, 3), keepdim=True)
        gray = 255.0 * (gray - low) / (high - low + 1e-12)
        first = gray[:, :-1].reshape(-1, 1, height, width)
        second = gray[:, 1:].reshape(-1, 1, height, width)
        theta = torch.abs(self.params[0]) + 1e-12
        lam, tau = self.params[1], self.params[2]
        grad_x = _conv(second, [-0.5, 0.0, 0.5], "x", (1, 1))
        grad_y = _conv(second, [-0.5, 0.0, 0.5], "y", (1, 1))
        grad_sq = grad_x * grad_x + grad_y * grad_y + 1e-12
        u1 = torch.zeros_like(first)
        u2 = torch.zeros_like(first)
        p11, p12, p21, p22 = (torch.zeros_like(first) for _ in range(4))
        rho_c = second - first
        step = lam * theta
        for _ in range(self.iterations):
            rho = rho_c + grad_x * u1 + grad_y * u2 + 1e-12
            below, above = rho < -step * grad_sq, rho > step * grad_sq
            v1 = torch.where(below, u1 + step * grad_x, torch.where(above, u1 - step * grad_x, u1 - rho * grad_x / grad_sq))
            v2 = torch.where(below, u2 + step * grad_y, torch.where(above, u2 - step * grad_y, u2 - rho * grad_y / grad_sq))
            div1 = _conv(p11, [-1.0, 1.0], "x", (1, 0)) + _conv(p12, [-1.0, 1.0], "y", (1, 0))
            div2 = _conv(p21, [-1.0, 1.0], "x", (1, 0)) + _conv(p22, [-1.0, 1.0], "y", (1, 0))
            u1 = v1 + theta * div1
            u2 = v2 + theta * div2
            u1x, u1y = _conv(u1, [-1.0, 1.0], "x", (0, 1)), _conv(u1, [-1.0, 1.0], "y", (0, 1))
            u2x, u2y = _conv(u2, [-1.0, 1.0], "x", (0, 1)), _conv(u2, [-1.0, 1.0], "y", (0, 1))
            ratio = tau / theta
            p11 = (p11 + ratio * u1x) / (1.0 + ratio * torch.sqrt(u1x * u1x + u1y * u1y + 1e-12))
            p12 = (p12 + ratio * u1y) / (1.0 + ratio * torch.sqrt(u1x * u1x + u1y * u1y + 1e-12))
            p21 = (p21 + ratio * u2x) / (1.0 + ratio * torch.sqrt(u2x * u2x + u2y * u2y + 1e-12))
            p22 = (p22 + ratio * u2y) / (1.0 + ratio * torch.sqrt(u2x * u2x + u2y * u2y + 1e-12))
        flow = torch.cat([u1, u2], dim=1).view(batch, frames - 1, 2, height, width).permute(0, 2, 1, 3, 4)
        return torch.cat([flow, flow[:, :, -1:]], dim=2)
