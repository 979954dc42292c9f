"""A fast CPU training path for grouped and depthwise 3D convolutions.

PyTorch serves the *forward* of a depthwise conv3d on CPU through oneDNN (fast, above all channels-last), but
its *backward* takes a slow generic path (pytorch/pytorch#37406, open since 2020): for a 3×3×3 depthwise conv of
128 channels at 8×16², batch 16, the forward takes ~1.5 ms and the backward ~60 ms. Depthwise convs are the bulk
of the X3D, MoViNet and Auto-X3D spaces, so this one gap made their candidates train at a tenth of the machine's
speed. ``conv3d`` here computes the same function and both gradients with kernels oneDNN does serve fast:

* the input gradient is itself a grouped conv3d: the gradient of the output correlated with the flipped filter,
  each group's in/out channels swapped (a strided conv splits into one such conv per stride phase);
* the weight gradient splits over the temporal taps: tap ``k`` of a t×h×w kernel is the weight gradient of a
  2D conv whose batch is (clip, output frame) and whose input is the frame that tap reads — oneDNN's 2D depthwise
  backward-weights kernel (it has one for 2D, none for 3D);
* the bias gradient is a sum.

The forward is PyTorch's own conv3d, so outputs are bit-identical; the gradients equal PyTorch's within float
rounding (``tests/test_fastconv.py``, a grid of kernels, strides, paddings, groups and layouts, batch 1 and odd
sizes). Only training on CPU takes this path (grad enabled, a float tensor — bf16 under autocast —, no dilation,
not traced, scripted, compiled or exported); everything else is ``F.conv3d`` itself. ``fast_training(False)`` turns it off, so a
benchmark can time the same network both ways.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

Triple = tuple[int, int, int]

_ENABLED = True
TAPS_PLANE = 4
"""Depthwise weight gradients on output planes (H'·W') up to this size — 1×1 and 2×2, the last stages of a 32²
proxy input — go tap by tap (``_depthwise_weight_grad_by_taps``)."""
SMALL_PLANE = 16
"""Other weight gradients on planes smaller than this take PyTorch's own kernel: oneDNN's 2D kernel costs ~0.3 ms a
call whatever the size, so on small planes the generic path is faster (432 channels, 8×1×1, batch 16: 0.9 ms
against 2.4 for the 2D split; from 4×4 up the split wins: 96 channels at 8×4×4, 0.95 against 1.2)."""


@contextlib.contextmanager
def fast_training(enabled: bool = True) -> Iterator[None]:
    """Within the block, grouped conv3d trains through this module's path (``True``) or PyTorch's own (``False``)."""
    global _ENABLED
    previous, _ENABLED = _ENABLED, enabled
    try:
        yield
    finally:
        _ENABLED = previous


def _triple(value: int | Sequence[int]) -> Triple:
    if isinstance(value, int):
        return (value, value, value)
    return (int(value[0]), int(value[1]), int(value[2]))


def takes_fast_path(x: torch.Tensor, weight: torch.Tensor, groups: int, padding: Triple, dilation: Triple) -> bool:
    """Whether ``conv3d`` would train this call through the fast path."""
    if not _ENABLED or groups == 1 or dilation != (1, 1, 1) or x.device.type != "cpu" or x.dim() != 5:
        return False
    if x.dtype not in (torch.float32, torch.float64, torch.bfloat16):
        return False
    if not torch.is_grad_enabled() or not (x.requires_grad or weight.requires_grad):
        return False
    if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
        return False
    kernel = weight.shape[-3:]
    return all(0 <= p <= k - 1 for p, k in zip(padding, kernel))  # the input gradient's padding k-1-p is not negative


def conv3d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """``F.conv3d`` (symmetric integer padding), with the fast backward for grouped convs when training on CPU."""
    stride, padding, dilation = _triple(stride), _triple(padding), _triple(dilation)
    if takes_fast_path(x, weight, groups, padding, dilation):
        if torch.is_autocast_enabled("cpu"):  # autocast would cast all three for a conv: do it before the function sees them
            dtype = torch.get_autocast_dtype("cpu")
            x, weight = x.to(dtype), weight.to(dtype)
            bias = bias.to(dtype) if bias is not None else None
        elif x.dtype != weight.dtype:
            return F.conv3d(x, weight, bias, stride, padding, dilation, groups)
        with torch.autocast("cpu", enabled=False):
            return _GroupedConv3d.apply(x, weight, bias, stride, padding, groups)
    return F.conv3d(x, weight, bias, stride, padding, dilation, groups)


class _GroupedConv3d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, groups):  # noqa: ANN001, ANN205 - autograd's signature
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.groups, ctx.has_bias = stride, padding, groups, bias is not None
        return F.conv3d(x, weight, bias, stride, padding, 1, groups)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = input_grad(grad, weight, tuple(x.shape[-3:]), ctx.stride, ctx.padding, ctx.groups)
        if ctx.needs_input_grad[1]:
            grad_weight = weight_grad(grad, x, weight, ctx.stride, ctx.padding, ctx.groups)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum(dim=(0, 2, 3, 4))
        return grad_x, grad_weight, grad_bias, None, None, None


def _channels_last(reference: torch.Tensor) -> bool:
    return not reference.is_contiguous() and reference.is_contiguous(memory_format=torch.channels_last_3d)


def input_grad(grad: torch.Tensor, weight: torch.Tensor, size: Triple, stride: Triple, padding: Triple, groups: int) -> torch.Tensor:
    """d(loss)/d(input) of a grouped conv3d as forward conv3ds of the output gradient with the flipped filter
    (in/out channels swapped within each group). With stride 1 that is one conv padded by k-1-p. With stride s
    the input splits into s_t·s_h·s_w phases (positions ≡ r mod s); phase r reads only the taps k ≡ r+p mod s,
    so each phase is a stride-1 conv with that sub-filter, written into its interleaved positions: the same
    multiply-adds as the forward, where zero-interleaving the gradient would cost s_h·s_w times more."""
    out_channels, group_in = weight.shape[:2]
    kernel = tuple(weight.shape[-3:])
    group_out = out_channels // groups
    swapped = weight.reshape(groups, group_out, group_in, *kernel).transpose(1, 2).reshape(groups * group_in, group_out, *kernel)
    if stride == (1, 1, 1):
        return F.conv3d(grad, swapped.flip(2, 3, 4), None, 1, [k - 1 - p for k, p in zip(kernel, padding)], 1, groups)
    fmt = torch.channels_last_3d if _channels_last(grad) else torch.contiguous_format
    result = torch.empty((grad.shape[0], swapped.shape[0], *size), dtype=grad.dtype, device=grad.device, memory_format=fmt)
    phases = [[_phase(r, k, s, p, i, o) for r in range(s)] for k, s, p, i, o in zip(kernel, stride, padding, size, grad.shape[-3:])]
    for time_phase in phases[0]:
        for height_phase in phases[1]:
            for width_phase in phases[2]:
                parts = (time_phase, height_phase, width_phase)
                target = result[:, :, time_phase.first :: stride[0], height_phase.first :: stride[1], width_phase.first :: stride[2]]
                if any(not part.taps for part in parts) or target.numel() == 0:
                    target.zero_()  # no tap of the filter reaches these positions
                    continue
                sub = swapped[:, :, list(time_phase.taps)][:, :, :, list(height_phase.taps)][:, :, :, :, list(width_phase.taps)]
                window = grad[:, :, time_phase.start : time_phase.end, height_phase.start : height_phase.end, width_phase.start : width_phase.end]
                pads = [max(part.before, part.after) for part in parts]
                out = F.conv3d(window, sub, None, 1, pads, 1, groups)
                target.copy_(out[(slice(None), slice(None), *(slice(pad - part.before, pad - part.before + part.count) for pad, part in zip(pads, parts)))])
    return result


class _Phase(NamedTuple):
    """One phase of a strided conv's input gradient along one dimension: input positions ``first``, ``first+s``,
    … (``count`` of them) receive the output gradient's ``start:end`` (padded by ``before``/``after`` zeros)
    correlated with the filter taps ``taps`` (already in flipped order)."""

    first: int
    count: int
    taps: tuple[int, ...]
    start: int
    end: int
    before: int
    after: int


def _phase(first: int, kernel: int, stride: int, padding: int, size: int, out_size: int) -> _Phase:
    # input i = s·o + k - p; for i = s·m + r the taps are k ≡ r + p (mod s): k = k0 + s·j reads o = m + q - j
    count = max(0, -(-(size - first) // stride))
    k0 = (first + padding) % stride
    taps = tuple(range(k0, kernel, stride))
    q = (first + padding - k0) // stride
    lowest, highest = q - (len(taps) - 1), count - 1 + q  # the output-gradient indices the phase reads
    start, end = max(0, lowest), min(out_size, highest + 1)
    return _Phase(first, count, tuple(reversed(taps)), start, max(start, end), max(0, -lowest), max(0, highest - (out_size - 1)))


def _frames_as_batch(x: torch.Tensor) -> torch.Tensor:
    """(B, C, n, H, W) → (B·n, C, H, W) in channels-last 2D: a view when ``x`` is channels-last 3D and its frames
    are whole, one copy otherwise (oneDNN's 2D kernels run fastest on channels-last)."""
    batch, channels, frames, height, width = x.shape
    by_frame = x.permute(0, 2, 3, 4, 1)  # (B, n, H, W, C)
    return by_frame.reshape(batch * frames, height, width, channels).permute(0, 3, 1, 2)


def _valid_outputs(tap: int, stride: int, padding: int, size: int, out_size: int) -> tuple[int, int]:
    """The output positions ``[lo, hi)`` whose input ``o·s + tap - p`` lies inside ``[0, size)``."""
    lo = max(0, -((tap - padding) // stride))
    hi = min(out_size, (size - 1 - tap + padding) // stride + 1) if size - 1 - tap + padding >= 0 else 0
    return lo, max(lo, hi)


def _depthwise_weight_grad_by_taps(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride: Triple, padding: Triple) -> torch.Tensor:
    """A depthwise weight gradient as one product-and-sum per filter tap over the outputs whose input is inside
    the clip. On a 1×1 output plane most taps read only padding and are skipped: 432 channels at 8×1×1, batch 16,
    0.15 ms against 1.0 for PyTorch's kernel and 2.4 for the 2D split (whose per-call cost dominates there); at
    2×2 planes it ties with PyTorch's kernel (1.2 ms, 216 channels) and wins when the conv is strided (0.6 vs 1.4)."""
    result = torch.zeros(weight.shape, dtype=weight.dtype, device=weight.device)
    kernel, size, out_size = weight.shape[-3:], x.shape[-3:], grad.shape[-3:]
    ranges = [[_valid_outputs(k, s, p, i, o) for k in range(extent)] for extent, s, p, i, o in zip(kernel, stride, padding, size, out_size)]
    for taps in itertools.product(*(range(extent) for extent in kernel)):
        spans = [ranges[d][k] for d, k in enumerate(taps)]
        if any(hi <= lo for lo, hi in spans):
            continue  # this tap reads only padding
        outputs = grad[:, :, spans[0][0] : spans[0][1], spans[1][0] : spans[1][1], spans[2][0] : spans[2][1]]
        inputs = x[(slice(None), slice(None), *(slice(lo * s + k - p, (hi - 1) * s + k - p + 1, s) for (lo, hi), s, k, p in zip(spans, stride, taps, padding)))]
        result[:, 0, taps[0], taps[1], taps[2]] = (outputs * inputs).sum(dim=(0, 2, 3, 4))
    return result


def _shifted(grad: torch.Tensor, first: int, last: int, start: int) -> torch.Tensor:
    """``grad``'s frames ``first..last`` moved to frames ``start..``, zeros elsewhere, in ``grad``'s layout."""
    moved = torch.empty_like(grad)
    count = last - first + 1
    moved[:, :, start : start + count] = grad[:, :, first : last + 1]
    moved[:, :, :start].zero_()
    moved[:, :, start + count :].zero_()
    return moved


def weight_grad(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, stride: Triple, padding: Triple, groups: int) -> torch.Tensor:
    """d(loss)/d(weight) of a grouped conv3d, one temporal tap at a time: tap ``k`` reads input frame
    ``t·s + k - p`` for output frame ``t``, so it is the weight gradient of a 2D grouped conv over the batch of
    (clip, output frame) pairs whose frame lies inside the clip (the padded frames contribute zero). Small output
    planes go tap by tap (depthwise, ``TAPS_PLANE``) or to PyTorch's kernel (``SMALL_PLANE``)."""
    taps, frames, out_frames = weight.shape[2], x.shape[2], grad.shape[2]
    plane = grad.shape[-2] * grad.shape[-1]
    if plane <= TAPS_PLANE and weight.shape[0] == weight.shape[1] * groups == x.shape[1] == groups:
        return _depthwise_weight_grad_by_taps(grad, x, weight, stride, padding)
    if plane < SMALL_PLANE:
        return torch.ops.aten.convolution_backward(grad, x, weight, None, list(stride), list(padding), [1, 1, 1], False, [0, 0, 0], groups,
                                                   [False, True, False])[1]
    result = torch.zeros_like(weight, memory_format=torch.contiguous_format)
    for tap in range(taps):
        first = next((t for t in range(out_frames) if t * stride[0] + tap - padding[0] >= 0), out_frames)
        last = next((t for t in reversed(range(out_frames)) if t * stride[0] + tap - padding[0] < frames), -1)
        if last < first:
            continue  # this tap reads only padding
        start = first * stride[0] + tap - padding[0]
        count = last - first + 1
        if stride[0] == 1 and out_frames == frames and _channels_last(x):
            # every input frame stays in place (a view) and the output gradient moves to the frame the tap reads,
            # zeros where it reads padding: one copy of the gradient instead of copies of both
            inputs = _frames_as_batch(x)
            grads = grad if start == first else _shifted(grad, first, last, start)
        else:
            inputs = _frames_as_batch(x[:, :, start : start + (count - 1) * stride[0] + 1 : stride[0]])
            grads = grad[:, :, first : last + 1]
        grads = _frames_as_batch(grads)
        _, result[:, :, tap], _ = torch.ops.aten.convolution_backward(
            grads, inputs, weight[:, :, tap], None, list(stride[1:]), list(padding[1:]), [1, 1], False, [0, 0], groups, [False, True, False]
        )
    return result
