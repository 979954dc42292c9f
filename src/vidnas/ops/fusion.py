"""AssembleNet's node input fusion: spatial alignment, sigmoid connection weights, peer/self attention,
per-width sums and 1×1 width matching."""

from __future__ import annotations

import math

import torch
from torch import nn

from vidnas.ops.conv import Conv3d
from vidnas.ops.pool import Pool3d, frame_means


def _frame_means(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, T, C): the spatial average of every frame."""
    return frame_means(x).flatten(2).transpose(1, 2)


class ConnectionAttention(nn.Module):
    """AssembleNet++ attention over a node's input connections (reference evanet-tvn-assemblenet.md §3.8).

    ``peer``: q_k = Dense_k(GAP(x_k)) per frame for every peer k (width C_p = the widest peer);
    for connection c: att = σ(Dense_c(Σ_k softmax(b_c)_k q_k)). ``self``: att = σ(Dense_c(GAP(x_c))).
    The result scales x_c channel-wise, per frame.
    """

    def __init__(self, mode: str, input_channels: list[int], peer_channels: list[int] | None = None):
        super().__init__()
        self.mode = mode
        if mode == "peer":
            assert peer_channels, "peer attention needs peers"
            width = max(peer_channels)
            self.peer_dense = nn.ModuleList([nn.Linear(c, width) for c in peer_channels])
            mix = torch.empty(len(input_channels), len(peer_channels))
            nn.init.trunc_normal_(mix, 0.0, 0.01, -0.02, 0.02)
            self.mix_logits = nn.Parameter(mix)
            self.input_dense = nn.ModuleList([nn.Linear(width, c) for c in input_channels])
        else:
            self.input_dense = nn.ModuleList([nn.Linear(c, c) for c in input_channels])

    def forward(self, inputs: list[torch.Tensor], peers: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.mode == "peer":
            queries = torch.stack([dense(_frame_means(x)) for dense, x in zip(self.peer_dense, peers)])  # (K,B,T,Cp)
            mixes = torch.softmax(self.mix_logits, dim=1)
        out = []
        for c, x in enumerate(inputs):
            if self.mode == "peer":
                query = (mixes[c].view(-1, 1, 1, 1) * queries).sum(dim=0)
            else:
                query = _frame_means(x)
            attention = torch.sigmoid(self.input_dense[c](query))  # (B, T, C_c)
            out.append(x * attention.transpose(1, 2).unsqueeze(-1).unsqueeze(-1))
        return out


class WeightedFusion(nn.Module):
    """Fuse a node's inputs into one tensor (reference evanet-tvn-assemblenet.md §3.6).

    1. inputs larger than the smallest (height H_min) are max-pooled with window = stride = (H_i + 1) // H_min;
    2. ``weighted_sum`` with several inputs: x_i is scaled by w_i = sigmoid(a_i); a_i starts at logit(w) for a
       given weight, or ~ N(0, 0.01²) truncated; ``frozen`` entries receive no gradient;
    3. optional peer/self attention (AssembleNet++) on every scaled input;
    4. scaled inputs are summed per channel width; each width other than the largest is mapped by a 1×1×1
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
        attention: str = "none",
        peer_channels: list[int] | None = None,
    ):
        super().__init__()
        self.mode = mode
        self.sources = list(sources) if sources else [str(i) for i in range(len(in_channels))]
        smallest = min(in_heights)
        windows = [(h + 1) // smallest for h in in_heights]
        self.aligners = nn.ModuleList(
            [nn.Identity() if h == smallest else Pool3d("max", (1, w, w), (1, w, w)) for h, w in zip(in_heights, windows)]
        )
        self.in_channels = list(in_channels)
        self.out_channels = sum(in_channels) if mode == "concat" else max(in_channels)
        self.weighted = mode == "weighted_sum" and len(in_channels) > 1
        if self.weighted:
            logits = torch.empty(len(in_channels))
            nn.init.trunc_normal_(logits, 0.0, 0.01, -0.02, 0.02)
            for i, w in enumerate(weights):
                if w is not None:
                    logits[i] = math.log(w / (1.0 - w))
            self.edge_logits = nn.Parameter(logits, requires_grad=any(learnable))
            self.register_buffer("frozen", torch.tensor([not flag for flag in learnable]), persistent=False)
        self.attention = ConnectionAttention(attention, in_channels, peer_channels) if attention != "none" else None
        self.widths = list(dict.fromkeys(in_channels))
        self.projections = nn.ModuleDict(
            {str(c): Conv3d(c, self.out_channels, (1, 1, 1)) for c in self.widths if c != self.out_channels}
            if mode == "weighted_sum"
            else {}
        )

    def connection_weights(self) -> dict[str, float]:
        if not self.weighted:
            return {}
        return {s: float(w) for s, w in zip(self.sources, torch.sigmoid(self.edge_logits.detach()).tolist())}

    def forward(self, inputs: list[torch.Tensor], peers: list[torch.Tensor] | None = None) -> torch.Tensor:
        aligned = [align(x) for align, x in zip(self.aligners, inputs)]
        if self.mode == "concat":
            return torch.cat(aligned, dim=1)
        if self.weighted:
            weights = torch.sigmoid(torch.where(self.frozen, self.edge_logits.detach(), self.edge_logits))
            aligned = [x * weights[i] for i, x in enumerate(aligned)]
        if self.attention is not None:
            aligned = self.attention(aligned, peers or [])
        groups: dict[int, torch.Tensor] = {}
        for c, x in zip(self.in_channels, aligned):
            groups[c] = groups[c] + x if c in groups else x
        total: torch.Tensor | None = None
        for c in self.widths:
            part = groups[c] if c == self.out_channels else self.projections[str(c)](groups[c])
            total = part if total is None else total + part
        assert total is not None
        return total
