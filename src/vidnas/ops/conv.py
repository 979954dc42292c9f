"""Convolutions: padded 3D conv (TF SAME / symmetric / valid, causal in time), (2+1)D and iTGM."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.ops.fastconv import conv3d
from vidnas.ops.padding import apply_pads, is_symmetric, window_pads
from vidnas.ops._state import NotStreamableError, current, temporal_buffer

Triple = tuple[int, int, int]


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` whose padding follows a rule (``same``, ``symmetric``, ``valid``) and can be causal in time.

    Padding is computed from the input size at run time, so TF SAME stays exact for any clip size; when it is
    symmetric it is passed to the convolution itself (no copy).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Triple,
        stride: Triple = (1, 1, 1),
        dilation: Triple = (1, 1, 1),
        groups: int = 1,
        bias: bool = False,
        pad_rule: str = "same",
        causal: bool = False,
    ):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0, dilation=dilation, groups=groups, bias=bias)
        self.pad_rule = pad_rule
        self.causal = causal and kernel_size[0] > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if current() is not None:
            if self.kernel_size[0] > 1 or self.stride[0] > 1:
                return streamed_conv3d(self, x, self.weight, self.bias, self.groups)
            if x.dim() == 4:  # a planar step's frame
                return planes_conv(x, self.weight, self.bias, self.stride, self.dilation, self.groups, self.pad_rule)
            if x.shape[2] == 1 and torch.onnx.is_in_onnx_export():  # a spatial or pointwise conv on the step's one frame
                return window_conv(x, self.weight, self.bias, self.stride, self.dilation, self.groups, self.pad_rule)
        return padded_conv3d(x, self.weight, self.bias, self.stride, self.dilation, self.groups, self.pad_rule, self.causal)


def streamed_conv3d(module: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> torch.Tensor:
    """One streaming step of a causal temporal conv: the buffer of the last (k_t-1)·d_t input frames in
    front, no temporal padding (MoViNet's Stream Buffer)."""
    kernel, stride, dilation = tuple(weight.shape[-3:]), tuple(module.stride), tuple(module.dilation)
    name = getattr(module, "stream_name", type(module).__name__)
    if stride[0] > 1:
        raise NotStreamableError(f"{name}: temporal stride {stride[0]} cannot run frame by frame")
    if not module.causal:
        raise NotStreamableError(f"{name}: a {'x'.join(map(str, kernel))} conv that is not causal reads future frames")
    planar = x.dim() == 4
    joined = temporal_buffer(module, x, (kernel[0] - 1) * dilation[0])
    if planar or (joined.shape[2] == (kernel[0] - 1) * dilation[0] + 1 and torch.onnx.is_in_onnx_export()):  # one new frame: one window
        return window_conv(joined, weight, bias, stride, dilation, groups, module.pad_rule, planar)
    return padded_conv3d(joined, weight, bias, stride, dilation, groups, module.pad_rule, False, pad_time=False)


def window_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Triple, dilation: Triple, groups: int, rule: str, planar: bool = False
) -> torch.Tensor:
    """A conv3d whose input is exactly one temporal window of its kernel (no temporal padding, one output frame),
    computed as a 2D conv with the window's frames stacked into the channels: the same sums, in the 2D kernels
    onnxruntime optimises (it has no fast 3D depthwise conv). Used when exporting a streaming step to ONNX: the
    A0-stream step's conv time there fell from 4.8 to 1.5 ms (kernel time, 1 thread); PyTorch's own conv3d on
    channels-last tensors is as fast as its conv2d here, and the layout changes cost more, so eager keeps conv3d.
    Returns (B, O, 1, H', W'), or the 4-D (B, O, H', W') frame when ``planar``."""
    if dilation[0] > 1:
        x = x[:, :, :: dilation[0]]
    batch, channels, frames, height, width = x.shape
    y = planes_conv(x.reshape(batch, channels * frames, height, width), weight, bias, stride, dilation, groups, rule)
    return y if planar else y.unsqueeze(2)


def planes_conv(planes: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Triple, dilation: Triple, groups: int, rule: str) -> torch.Tensor:
    """The 2D conv of (B, C·k_t, H, W) planes (a temporal window's frames stacked channel by channel, frame
    fastest) with a (O, C/groups, k_t, k_h, k_w) kernel, padded in space by ``rule``: (B, O, H', W')."""
    kernel = tuple(weight.shape[-3:])
    pads = window_pads((1,) + tuple(planes.shape[-2:]), (1,) + kernel[1:], stride, dilation, rule, False)
    padding: tuple[int, int] | int = (pads[1][0], pads[2][0])
    if not is_symmetric(pads):
        planes, padding = apply_pads(planes, pads), 0
    flat = weight.reshape(weight.shape[0], weight.shape[1] * kernel[0], kernel[1], kernel[2])
    return F.conv2d(planes, flat, bias, stride[1:], padding, dilation[1:], groups)


def padded_conv3d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Triple,
    dilation: Triple,
    groups: int,
    rule: str,
    causal: bool,
    pad_time: bool = True,
) -> torch.Tensor:
    kernel = tuple(weight.shape[-3:])
    pads = window_pads(x.shape[-3:], kernel, stride, dilation, rule, causal)
    if not pad_time:
        pads[0] = (0, 0)
    if is_symmetric(pads):
        return conv3d(x, weight, bias, stride, [p for p, _ in pads], dilation, groups)
    return conv3d(apply_pads(x, pads), weight, bias, stride, 0, dilation, groups)


class ITGMConv3d(nn.Module):
    """EvaNet's inflated Temporal Gaussian Mixture conv (reference evanet-tvn-assemblenet.md §1.3).

    The t×k×k kernel is W(ℓ,h,w,i,o) = K(ℓ,i,o)·S(h,w,i,o): a learned k×k spatial kernel S times a temporal
    profile K that mixes ``components`` Cauchy-shaped bumps (centres c_n, widths σ_n shared by the layer)
    with softmax weights per (input, output) channel pair. Parameters: k²·C_in·C_out + N·C_in·C_out + 2N.
    The kernel is assembled from element-wise ops, so cost counters see only the convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Triple,
        stride: Triple = (1, 1, 1),
        dilation: Triple = (1, 1, 1),
        components: int = 4,
        pad_rule: str = "same",
        causal: bool = False,
    ):
        super().__init__()
        length, kh, kw = kernel_size
        if length < 2:
            raise ValueError("an iTGM conv needs a temporal length >= 2 (length 1 is a plain 1xkxk conv)")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.length, self.components = length, components
        self.stride, self.dilation = tuple(stride), tuple(dilation)
        self.pad_rule, self.causal = pad_rule, causal
        self.spatial = nn.Parameter(torch.empty(out_channels, in_channels, 1, kh, kw))
        self.centers = nn.Parameter(torch.empty(components))
        self.widths = nn.Parameter(torch.empty(components))
        self.mixing = nn.Parameter(torch.empty(in_channels * out_channels, components))
        self.reset_parameters()

    def reset_parameters(self, conv_std: float | None = None) -> None:
        fan_in = self.in_channels * self.spatial.shape[-1] * self.spatial.shape[-2]
        std = conv_std if conv_std is not None else math.sqrt(2.0 / fan_in)
        nn.init.normal_(self.spatial, 0.0, std)
        nn.init.normal_(self.centers, 0.0, 0.5)
        nn.init.normal_(self.widths, 0.0, 0.1)
        nn.init.trunc_normal_(self.mixing, 0.0, 1.0, -2.0, 2.0)

    def temporal_profile(self) -> torch.Tensor:
        """K as a (C_out, C_in, L) tensor."""
        length = self.length
        centers = (length - 1) * (torch.tanh(self.centers) + 1) / 2
        widths = torch.exp(1.5 - 2 * torch.abs(torch.tanh(self.widths)))
        positions = torch.arange(length, dtype=self.centers.dtype, device=self.centers.device)
        offset = (positions.unsqueeze(0) - centers.unsqueeze(1)) / widths.unsqueeze(1)
        bumps = 1.0 / (math.pi * widths.unsqueeze(1) * offset * offset + 1.0)  # (N, L)
        bumps = bumps / (bumps.sum(dim=1, keepdim=True) + 1e-6)
        mix = torch.softmax(self.mixing, dim=1).view(self.in_channels, self.out_channels, self.components, 1)
        profile = (mix * bumps.view(1, 1, self.components, length)).sum(dim=2)  # (C_in, C_out, L)
        return profile.permute(1, 0, 2)

    def kernel(self) -> torch.Tensor:
        """The inflated (C_out, C_in, L, k, k) kernel."""
        return self.temporal_profile().unsqueeze(-1).unsqueeze(-1) * self.spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if current() is not None:
            return streamed_conv3d(self, x, self.kernel(), None, 1)
        return padded_conv3d(x, self.kernel(), None, self.stride, self.dilation, 1, self.pad_rule, self.causal)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, length={self.length}, components={self.components}, stride={self.stride}"


class Conv2Plus1d(nn.Module):
    """A t×h×w conv factorised into a spatial 1×h×w conv and a temporal t×1×1 conv with BN + act between.

    ``order`` 'spatial_first' (R(2+1)D, MoViNet) or 'temporal_first' (EvaNet). The outer BN/act (after the
    second factor) belongs to the caller. Built only when both factors have extent > 1.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        kernel_size: Triple,
        stride: Triple,
        dilation: Triple,
        depthwise: bool,
        order: str,
        mid_norm: nn.Module,
        mid_act: nn.Module,
        pad_rule: str,
        causal: bool,
        bias: bool = False,
    ):
        super().__init__()
        t, h, w = kernel_size
        spatial_args = dict(kernel_size=(1, h, w), stride=(1, stride[1], stride[2]), dilation=(1, dilation[1], dilation[2]), pad_rule=pad_rule)
        temporal_args = dict(kernel_size=(t, 1, 1), stride=(stride[0], 1, 1), dilation=(dilation[0], 1, 1), pad_rule=pad_rule, causal=causal)
        self.order = order
        if order == "spatial_first":
            first = Conv3d(in_channels, mid_channels, groups=in_channels if depthwise else 1, **spatial_args)
            second = Conv3d(mid_channels, out_channels, groups=mid_channels if depthwise else 1, bias=bias, **temporal_args)
        else:
            first = Conv3d(in_channels, mid_channels, groups=in_channels if depthwise else 1, **temporal_args)
            second = Conv3d(mid_channels, out_channels, groups=mid_channels if depthwise else 1, bias=bias, **spatial_args)
        self.first, self.mid_norm, self.mid_act, self.second = first, mid_norm, mid_act, second

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.mid_act(self.mid_norm(self.first(x))))
