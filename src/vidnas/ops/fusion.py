"""AssembleNet's multi-input fusion: spatial alignment, sigmoid connection weights, per-width sums, 1×1 mapping."""

from __future__ import annotations

import math

import torch
from torch import nn

from vidnas.ops.conv import Conv3d
from vidnas.ops.pool import Pool3d


class WeightedFusion(nn.Module):
    """Fuse m inputs into one tensor (reference evanet-tvn-assemblenet.md §3.6).

    1. inputs larger than the smallest (height H_min) are max-pooled with window = stride = (H_i + 1) // H_min;
    2. ``weighted_sum``: x_i is scaled by w_i = sigmoid(a_i); a_i starts at logit(w) for a given weight, or
       ~ N(0, 0.01²) truncated; ``frozen`` entries receive no gradient;
    3. scaled inputs are summed per channel width; each width other than the largest is mapped by a 1×1×1
       conv (no BN, no bias) to the largest; the groups are summed.
    ``concat`` aligns and concatenates instead (no weights).
    """

    def __init__(
        self,
        in_channels: list[int],
        in_heights: list[int],
        weights: list[float | None],
        learnable: list[bool],
        mode: str = "weighted_sum",
        sources: list[str] | None = None,
    ):
        super().__init__()
        self.mode = mode
        self.sources = list(sources) if sources else [str(i) for i in range(len(in_channels))]
        smallest = min(in_heights)
        self.aligners = nn.ModuleList(
            [
                nn.Identity() if h == smallest else Pool3d("max", (1, (h + 1) // smallest, (h + 1) // smallest), (1, (h + 1) // smallest, (h + 1) // smallest))
                for h in in_heights
            ]
        )
        self.in_channels = list(in_channels)
        self.out_channels = sum(in_channels) if mode == "concat" else max(in_channels)
        if mode == "weighted_sum":
            logits = torch.empty(len(in_channels))
            nn.init.trunc_normal_(logits, 0.0, 0.01, -0.02, 0.02)
            for i, w in enumerate(weights):
                if w is not None:
                    logits[i] = math.log(w / (1.0 - w))
            self.edge_logits = nn.Parameter(logits, requires_grad=any(learnable))
            self.register_buffer("frozen", torch.tensor([not flag for flag in learnable]), persistent=False)
            self.widths = list(dict.fromkeys(in_channels))
            self.projections = nn.ModuleDict(
                {str(c): Conv3d(c, self.out_channels, (1, 1, 1)) for c in self.widths if c != self.out_channels}
            )

    def connection_weights(self) -> dict[str, float]:
        if self.mode != "weighted_sum":
            return {}
        return {s: float(w) for s, w in zip(self.sources, torch.sigmoid(self.edge_logits.detach()).tolist())}

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        aligned = [align(x) for align, x in zip(self.aligners, inputs)]
        if self.mode == "concat":
            return torch.cat(aligned, dim=1)
        logits = torch.where(self.frozen, self.edge_logits.detach(), self.edge_logits)
        weights = torch.sigmoid(logits)
        groups: dict[int, torch.Tensor] = {}
        for i, x in enumerate(aligned):
            scaled = x * weights[i]
            c = self.in_channels[i]
            groups[c] = groups[c] + scaled if c in groups else scaled
        total: torch.Tensor | None = None
        for c in self.widths:
            part = groups[c] if c == self.out_channels else self.projections[str(c)](groups[c])
            total = part if total is None else total + part
        assert total is not None
        return total
