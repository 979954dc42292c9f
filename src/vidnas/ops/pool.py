"""Max/average pooling over time, space or both, with TF SAME (average excludes padding) and causal time."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.ops.padding import apply_pads, is_symmetric, window_pads
from vidnas.ops._state import NotStreamableError, current, stream_key, temporal_buffer

Triple = tuple[int, int, int]


def frame_means(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, C, T, 1, 1): every frame's spatial average, in whichever memory layout ``x`` has
    (a planar streaming step's 4-D (B, C, H, W) frame gives (B, C, 1, 1, 1)).

    On channels_last_3d memory the reduction runs over the contiguous (B, T, H·W, C) view: on CPU about 9× faster
    than reducing dims (3, 4) in place (0.09 vs 0.82 ms at 54×13×40², the heaviest squeeze-excitation pool of
    X3D-S; ``benchmarks/roofline.py``)."""
    if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last_3d):
        b, c, t, h, w = x.shape
        return x.permute(0, 2, 3, 4, 1).reshape(b, t, h * w, c).mean(dim=2).transpose(1, 2).reshape(b, c, t, 1, 1)
    if x.dim() == 4:
        return x.mean(dim=(2, 3), keepdim=True).unsqueeze(2)
    return x.mean(dim=(3, 4), keepdim=True)


class Pool3d(nn.Module):
    def __init__(self, mode: str, kernel_size: Triple, stride: Triple, pad_rule: str = "same", causal: bool = False):
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"pool mode must be 'max' or 'avg', got {mode!r}")
        self.mode, self.kernel_size, self.stride = mode, tuple(kernel_size), tuple(stride)
        self.pad_rule, self.causal = pad_rule, causal and kernel_size[0] > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # a planar streaming step's frame
            if self.kernel_size[0] == 1 and self.stride[0] == 1:
                return self._planar(x)
            return self.forward(x.unsqueeze(2)).squeeze(2)
        call = current()
        if call is not None and (self.kernel_size[0] > 1 or self.stride[0] > 1):
            return self._stream(x, call)
        pads = window_pads(x.shape[-3:], self.kernel_size, self.stride, (1, 1, 1), self.pad_rule, self.causal)
        # torch's own padding only when it accepts it: pad <= kernel/2 and the unpadded input covers the kernel
        symmetric = is_symmetric(pads) and all(
            2 * p <= k and n >= k for (p, _), k, n in zip(pads, self.kernel_size, x.shape[-3:])
        )
        if self.mode == "max":
            if symmetric:
                return F.max_pool3d(x, self.kernel_size, self.stride, [p for p, _ in pads])
            return F.max_pool3d(apply_pads(x, pads, float("-inf")), self.kernel_size, self.stride)
        if symmetric:
            return F.avg_pool3d(x, self.kernel_size, self.stride, [p for p, _ in pads], count_include_pad=False)
        summed = F.avg_pool3d(apply_pads(x, pads), self.kernel_size, self.stride)
        valid = torch.ones((1, 1) + tuple(x.shape[-3:]), dtype=x.dtype, device=x.device)
        fraction = F.avg_pool3d(apply_pads(valid, pads), self.kernel_size, self.stride)
        return summed / fraction

    def _planar(self, x: torch.Tensor) -> torch.Tensor:
        """A spatial pool of a 4-D frame as a 2D pool; the average's share of valid (unpadded) inputs per
        window is a constant computed here, not a second pool over a tensor of ones."""
        kernel, stride = self.kernel_size[1:], self.stride[1:]
        pads = window_pads((1,) + tuple(x.shape[-2:]), self.kernel_size, self.stride, (1, 1, 1), self.pad_rule, False)
        symmetric = is_symmetric(pads) and all(2 * p <= k and n >= k for (p, _), k, n in zip(pads[1:], kernel, x.shape[-2:]))
        padding = [p for p, _ in pads[1:]] if symmetric else 0
        if self.mode == "max":
            return F.max_pool2d(x if symmetric else apply_pads(x, pads, float("-inf")), kernel, stride, padding)
        if symmetric:
            return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=False)
        summed = F.avg_pool2d(apply_pads(x, pads), kernel, stride)
        shares = [
            [(min(i * s - before + k, int(n)) - max(i * s - before, 0)) / k for i in range(out)]
            for n, k, s, (before, _), out in zip(x.shape[-2:], kernel, stride, pads[1:], summed.shape[-2:])
        ]
        fraction = torch.tensor([[a * b for b in shares[1]] for a in shares[0]], dtype=x.dtype, device=x.device)
        return summed / fraction

    def _stream(self, x: torch.Tensor, call) -> torch.Tensor:  # noqa: ANN001
        """One streaming step: the last k_t-1 frames buffered in front (−inf for max; for average the frames
        before the stream began are excluded, as the causal padding is)."""
        name = getattr(self, "stream_name", "pool")
        if self.stride[0] > 1:
            raise NotStreamableError(f"{name}: temporal stride {self.stride[0]} cannot run frame by frame")
        if not self.causal:
            raise NotStreamableError(f"{name}: a {'x'.join(map(str, self.kernel_size))} pool that is not causal reads future frames")
        history = self.kernel_size[0] - 1
        joined = temporal_buffer(self, x, history, float("-inf") if self.mode == "max" else 0.0)
        pads = window_pads(joined.shape[-3:], self.kernel_size, self.stride, (1, 1, 1), self.pad_rule, False)
        pads[0] = (0, 0)
        if self.mode == "max":
            return F.max_pool3d(apply_pads(joined, pads, float("-inf")), self.kernel_size, self.stride)
        seen = call.read(stream_key(self, "count"), lambda: x.new_zeros(x.shape[0], 1, 1, 1, 1))  # per stream
        call.write(stream_key(self, "count"), seen + x.shape[2])
        positions = torch.arange(joined.shape[2], dtype=x.dtype, device=x.device).view(1, 1, -1, 1, 1)
        valid_time = (positions >= history - torch.clamp(seen, max=history)).to(x.dtype)  # (B, 1, T, 1, 1)
        valid = valid_time.expand(-1, 1, -1, joined.shape[3], joined.shape[4])
        summed = F.avg_pool3d(apply_pads(joined, pads), self.kernel_size, self.stride)
        fraction = F.avg_pool3d(apply_pads(valid.contiguous(), pads), self.kernel_size, self.stride)
        return summed / fraction

    def extra_repr(self) -> str:
        return f"{self.mode}, kernel={self.kernel_size}, stride={self.stride}, pad={self.pad_rule}, causal={self.causal}"
