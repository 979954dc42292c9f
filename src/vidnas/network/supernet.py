"""A weight-sharing supernet over the Auto-X3D space: every architecture of the space is a sub-network.

Each stage holds ``max(depths)`` blocks at the largest width and expansion; a block keeps one depthwise kernel
per block type (3×3×3, (2+1)D, 1×3×3, 5×3×3) and its SE weights; a sampled architecture uses the first
``depth`` blocks, its block type's kernel and channel subsets of the shared 1×1 convs.

Fair channel selection (Auto-X3D supplement §3; the construction is NOT FOUND, ours is one reading): with
``fair=True`` a stage of width w uses the w channels starting at a uniformly random offset of the C_max
channels (wrapping), so every filter is updated with the same probability E[w]/C_max whatever its position;
plain prefix selection would update the first filters every step and the last ones only for the widest
candidate. Evaluation uses offset 0. BatchNorm always normalises with the current batch's statistics (the
usual one-shot choice: running statistics would mix sub-networks); its affine parameters are shared.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.genotype import make_divisible
from vidnas.ops.fastconv import conv3d


def _bn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5)


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, inner: int, first: bool, zero_init: bool = True):
        super().__init__()
        self.first = first
        self.expand = nn.Parameter(torch.empty(inner, c_in, 1, 1, 1))
        self.kernels = nn.ParameterDict({
            "x3d": nn.Parameter(torch.empty(inner, 1, 3, 3, 3)),
            "2plus1d_s": nn.Parameter(torch.empty(inner, 1, 1, 3, 3)),
            "2plus1d_t": nn.Parameter(torch.empty(inner, 1, 3, 1, 1)),
            "spatial": nn.Parameter(torch.empty(inner, 1, 1, 3, 3)),
            "long": nn.Parameter(torch.empty(inner, 1, 5, 3, 3)),
        })
        hidden = make_divisible(inner / 16, 8)
        self.se1 = nn.Parameter(torch.empty(hidden, inner))
        self.se1_bias = nn.Parameter(torch.zeros(hidden))
        self.se2 = nn.Parameter(torch.empty(inner, hidden))
        self.se2_bias = nn.Parameter(torch.zeros(inner))
        self.project = nn.Parameter(torch.empty(c_out, inner, 1, 1, 1))
        self.norms = nn.ParameterDict({f"{k}_{p}": nn.Parameter(torch.ones(n) if p == "w" else torch.zeros(n))
                                       for k, n in (("e", inner), ("d", inner), ("p", c_out), ("s", c_out)) for p in ("w", "b")})
        self.shortcut = nn.Parameter(torch.empty(c_out, c_in, 1, 1, 1)) if first else None
        for p in [self.expand, self.project, self.se1, self.se2, *self.kernels.values()] + ([self.shortcut] if first else []):
            nn.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu")
        if zero_init:  # X3D's zero-initialised last BN, as the space's blocks start
            with torch.no_grad():
                self.norms["p_w"].zero_()

    def forward(self, x: torch.Tensor, c_in: torch.Tensor, c_out: torch.Tensor, inner: int, block: str, se: bool) -> torch.Tensor:
        n = self.norms
        stride = (1, 2, 2) if self.first else (1, 1, 1)
        h = F.conv3d(x, self.expand[:inner][:, c_in])
        h = F.relu(_bn(h, n["e_w"][:inner], n["e_b"][:inner]))
        if block == "2plus1d":
            h = conv3d(h, self.kernels["2plus1d_s"][:inner], stride=stride, padding=(0, 1, 1), groups=inner)
            h = conv3d(h, self.kernels["2plus1d_t"][:inner], padding=(1, 0, 0), groups=inner)
        else:
            weight = self.kernels[block][:inner]
            pad = tuple(k // 2 for k in weight.shape[2:])
            h = conv3d(h, weight, stride=stride, padding=pad, groups=inner)
        h = _bn(h, n["d_w"][:inner], n["d_b"][:inner])
        if se:
            hidden = make_divisible(inner / 16, 8)
            s = h.mean(dim=(2, 3, 4))
            s = F.relu(F.linear(s, self.se1[:hidden, :inner], self.se1_bias[:hidden]))
            s = torch.sigmoid(F.linear(s, self.se2[:inner, :hidden], self.se2_bias[:inner]))
            h = h * s[:, :, None, None, None]
        h = F.silu(h)
        h = _bn(F.conv3d(h, self.project[c_out][:, :inner]), n["p_w"][c_out], n["p_b"][c_out])
        if self.shortcut is not None:
            skip = _bn(F.conv3d(x, self.shortcut[c_out][:, c_in], stride=stride), n["s_w"][c_out], n["s_b"][c_out])
        else:
            skip = x
        return F.relu(h + skip)


class AutoX3DSupernet(nn.Module):
    """``forward(x, values, rng=None)``: logits of the sub-network ``values`` (the space's choice values);
    with an ``rng`` and ``fair``, channel windows start at random offsets (training)."""

    def __init__(self, space: Any, fair: bool = True):  # noqa: ANN401 - AutoX3DSpace (import cycle)
        super().__init__()
        self.space, self.fair = space, fair
        self.max_width = [max(w) for w in space.widths]
        self.stem = nn.Parameter(torch.empty(space.stem, 3, 1, 3, 3))
        self.stem_t = nn.Parameter(torch.empty(space.stem, 1, 5, 1, 1))
        self.stem_norm = nn.ParameterList([nn.Parameter(torch.ones(space.stem)), nn.Parameter(torch.zeros(space.stem))])
        self.stages = nn.ModuleList()
        c_in = space.stem
        for s in range(4):
            inner = make_divisible(self.max_width[s] * max(space.expansions), 8)
            self.stages.append(nn.ModuleList(
                _Block(c_in if j == 0 else self.max_width[s], self.max_width[s], inner, j == 0, space.zero_init) for j in range(max(space.depths[s]))
            ))
            c_in = self.max_width[s]
        self.conv5_width = int(2.25 * self.max_width[3])
        self.conv5 = nn.Parameter(torch.empty(self.conv5_width, self.max_width[3], 1, 1, 1))
        self.conv5_norm = nn.ParameterList([nn.Parameter(torch.ones(self.conv5_width)), nn.Parameter(torch.zeros(self.conv5_width))])
        self.hidden = nn.Linear(self.conv5_width, space.hidden, bias=False) if space.hidden else None
        self.classifier = nn.Linear(space.hidden or self.conv5_width, space.num_classes)
        for p in (self.stem, self.stem_t, self.conv5):
            nn.init.kaiming_normal_(p, mode="fan_out", nonlinearity="relu")

    def _channels(self, width: int, total: int, rng: random.Random | None, device: torch.device) -> torch.Tensor:
        start = rng.randrange(total) if (rng is not None and self.fair) else 0
        return (torch.arange(width, device=device) + start) % total

    def forward(self, x: torch.Tensor, values: dict[str, Any], rng: random.Random | None = None) -> torch.Tensor:
        device = x.device
        h = F.conv3d(x, self.stem, stride=(1, self.space.stem_stride, self.space.stem_stride), padding=(0, 1, 1))
        h = conv3d(h, self.stem_t, padding=(2, 0, 0), groups=self.space.stem)
        h = F.relu(_bn(h, self.stem_norm[0], self.stem_norm[1]))
        c_in = torch.arange(self.space.stem, device=device)
        for s, blocks in enumerate(self.stages):
            width = values[f"s{s}.width"]
            c_out = self._channels(width, self.max_width[s], rng, device)
            inner = make_divisible(width * values[f"s{s}.expansion"], 8)
            attention = values[f"s{s}.attention"]
            for j in range(values[f"s{s}.depth"]):
                se = attention == "se_all" or (attention == "se_alternate" and j % 2 == 0)
                h = blocks[j](h, c_in if j == 0 else c_out, c_out, inner, values[f"s{s}.block"], se)
            c_in = c_out  # activations hold the selected channels, in the order of c_out
        width5 = int(2.25 * values["s3.width"])
        h = F.conv3d(h, self.conv5[:width5][:, c_in])
        h = F.relu(_bn(h, self.conv5_norm[0][:width5], self.conv5_norm[1][:width5]))
        h = h.mean(dim=(2, 3, 4))
        if self.hidden is None:  # the classifier reads conv5's features (the selected channels, as the child's does)
            return F.linear(h, self.classifier.weight[:, :width5], self.classifier.bias)
        h = F.relu(F.linear(h, self.hidden.weight[:, :width5]))
        return self.classifier(h)
