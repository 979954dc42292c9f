"""Padding of windowed ops (TF SAME, symmetric, valid, causal in time), computed from the actual input size."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vidnas.genotype import pad_amounts


def window_pads(
    sizes: tuple[int, int, int] | torch.Size,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    rule: str,
    causal: bool,
) -> list[tuple[int, int]]:
    """(before, after) for time, height, width; time padded in front only when ``causal``."""
    return [
        pad_amounts(int(n), k, s, d, rule, causal and axis == 0)
        for axis, (n, k, s, d) in enumerate(zip(sizes, kernel, stride, dilation))
    ]


def is_symmetric(pads: list[tuple[int, int]]) -> bool:
    return all(before == after for before, after in pads)


def apply_pads(x: torch.Tensor, pads: list[tuple[int, int]], value: float = 0.0) -> torch.Tensor:
    (t0, t1), (h0, h1), (w0, w1) = pads
    if not (t0 or t1 or h0 or h1 or w0 or w1):
        return x
    if not (t0 or t1):  # space only: also pads a 4-D (B, C, H, W) frame
        return F.pad(x, (w0, w1, h0, h1), value=value)
    return F.pad(x, (w0, w1, h0, h1, t0, t1), value=value)
