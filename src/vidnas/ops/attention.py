"""Channel attention: squeeze-and-excitation (clip, causal cumulative, MoViNet 2plus3d) and context gating."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.ops.activation import make_activation
from vidnas.ops._state import NotStreamableError, current, running_sum
from vidnas.ops.pool import frame_means


def cumulative_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over frames 0..t for every t of a (B, C, T, 1, 1) tensor: causal global pooling."""
    frames = x.shape[2]
    counts = torch.arange(1, frames + 1, dtype=x.dtype, device=x.device).view(1, 1, frames, 1, 1)
    return x.cumsum(dim=2) / counts


def dense(conv: nn.Conv3d, z: torch.Tensor) -> torch.Tensor:
    """A 1×1×1 conv applied to (..., C) features: one GEMM."""
    return F.linear(z, conv.weight.reshape(conv.out_channels, conv.in_channels), conv.bias)


def gated(x: torch.Tensor, z: torch.Tensor, layers: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """x ⊙ layers(z) for pooled (B, C', T', 1, 1) features ``z`` (``layers``: the 1×1×1 convs and activations,
    as dense layers on the last axis). With one pooled frame (a streaming step, or clip pooling) the layers run
    on (B, C') and the gate is reshaped once to broadcast over ``x`` — 5-D, or a planar step's 4-D frame:
    in an exported step graph that is two GEMMs and one reshape, with no transposes."""
    batch, frames = z.shape[0], z.shape[2]
    if frames == 1:
        gate = layers(z.reshape(batch, -1))
        return x * gate.reshape(gate.shape + (1,) * (x.dim() - 2))
    out = layers(z.reshape(batch, z.shape[1], frames).transpose(1, 2))
    return x * out.transpose(1, 2).reshape(batch, out.shape[-1], frames, 1, 1)


def positional_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encoding of frame indices, (..., T) -> (..., dim, T): sines of the even indices, then cosines
    of the odd (a leading batch axis: one row of positions per stream).

    angle(p, i) = p / 10000^(2⌊i/2⌋/dim); the two halves are concatenated, not interleaved (MoViNet).
    """
    index = torch.arange(dim, dtype=positions.dtype, device=positions.device)
    rates = torch.pow(torch.tensor(10000.0, dtype=positions.dtype, device=positions.device), -(2 * torch.div(index, 2, rounding_mode="floor")) / dim)
    angles = positions.unsqueeze(-1) * rates  # (..., T, dim)
    encoding = torch.cat([torch.sin(angles[..., 0::2]), torch.cos(angles[..., 1::2])], dim=-1)
    return encoding.transpose(-1, -2)


class SqueezeExcite(nn.Module):
    """y = x ⊙ gate(W_e · act(W_r · z + b_r) + b_e) with z pooled as the genotype's ``se`` record says."""

    def __init__(
        self,
        channels: int,
        hidden: int,
        form: str = "3d",
        causal: bool = False,
        act: str = "relu",
        gate: str = "sigmoid",
        positional_encoding: bool = False,
    ):
        super().__init__()
        self.form, self.causal = form, causal
        pooled = 2 * channels if form == "2plus3d" else channels
        self.reduce = nn.Conv3d(pooled, hidden, 1, bias=True)
        self.act = make_activation(act)
        self.expand = nn.Conv3d(hidden, channels, 1, bias=True)
        self.gate = make_activation(gate)
        self.pe_scale = nn.Parameter(torch.zeros(())) if positional_encoding else None

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        frame_mean = frame_means(x)
        frame_offset: torch.Tensor | int = 0
        z = _causal_or_clip_mean(self, frame_mean, self.causal)
        if isinstance(z, tuple):
            z, frame_offset = z
        if self.form == "2plus3d":
            z = torch.cat([z.expand_as(frame_mean), frame_mean], dim=1)
        if self.pe_scale is not None:
            frames = frame_mean.shape[2]
            positions = torch.arange(frames, dtype=x.dtype, device=x.device)
            if isinstance(frame_offset, torch.Tensor):  # streaming: each stream's own frame count, (B, 1, 1, 1, 1)
                positions = frame_offset.reshape(-1, 1) + positions
            encoding = positional_encoding(positions, z.shape[1]).reshape(-1, z.shape[1], frames, 1, 1)
            z = z.expand(-1, -1, frames, -1, -1) + self.pe_scale * encoding
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gated(x, self.pooled(x), lambda z: self.gate(dense(self.expand, self.act(dense(self.reduce, z)))))


def _causal_or_clip_mean(module: nn.Module, frame_mean: torch.Tensor, causal: bool):  # noqa: ANN202
    """Clip mean, cumulative mean, or (streaming) the cumulative mean continued from the stream's state —
    then also returns the number of frames seen before this call."""
    if current() is not None:
        if not causal:
            name = getattr(module, "stream_name", type(module).__name__)
            raise NotStreamableError(f"{name}: clip-level pooling (not causal) needs the whole clip")
        sums, counts, before = running_sum(module, frame_mean)
        return sums / counts, before
    if causal:
        return cumulative_mean(frame_mean)
    return frame_mean.mean(dim=2, keepdim=True)


class ContextGating(nn.Module):
    """y = x ⊙ σ(W · mean(x) + b) with a full C×C ``W`` (TVN); causal: the mean over frames so far."""

    def __init__(self, channels: int, causal: bool = False):
        super().__init__()
        self.causal = causal
        self.fc = nn.Conv3d(channels, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = _causal_or_clip_mean(self, frame_means(x), self.causal)
        if isinstance(z, tuple):
            z = z[0]
        return gated(x, z, lambda f: torch.sigmoid(dense(self.fc, f)))
