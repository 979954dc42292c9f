"""The one builder: genotype layers -> nn.Modules. Family blocks are built from their expansion."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from torch import nn

from vidnas import genotype as g
from vidnas.errors import GenotypeError
from vidnas.genotype import Shape
from vidnas.ops import (
    Branches,
    ContextGating,
    Conv2Plus1d,
    Conv3d,
    ITGMConv3d,
    Pool3d,
    Residual,
    SqueezeExcite,
    make_activation,
)

ONE = (1, 1, 1)


MAX_CHANNELS = 1 << 16
MAX_LAYER_WEIGHTS = 1 << 27
MAX_NETWORK_WEIGHTS = 1 << 29
"""Size limits the builder checks before it allocates anything: a genotype is data a user may receive from
anyone, and a huge width or kernel must be a clear error naming the layer, not a many-gigabyte allocation (the
largest zoo layer, an EvaNet 3×3×3 conv from 1024 to 2048 channels, holds 57 M weights)."""


@dataclass(frozen=True)
class BuildContext:
    norm_momentum: float = 0.1
    norm_eps: float = 1e-5
    weights: list[int] = field(default_factory=lambda: [0])  # conv weights planned so far in this build

    def reserve(self, count: int, path: str, what: str) -> None:
        """Count ``count`` weights of the layer at ``path`` against the limits, before allocating them."""
        if count > MAX_LAYER_WEIGHTS:
            raise GenotypeError(path, f"{what} would hold {count:,} weights; the builder refuses a layer above {MAX_LAYER_WEIGHTS:,}")
        self.weights[0] += count
        if self.weights[0] > MAX_NETWORK_WEIGHTS:
            raise GenotypeError(path, f"the network would hold more than {MAX_NETWORK_WEIGHTS:,} conv weights by this layer; too large to build")

    def batch_norm(self, channels: int, zero_init: bool = False) -> nn.BatchNorm3d:
        bn = nn.BatchNorm3d(channels, eps=self.norm_eps, momentum=self.norm_momentum)
        bn.zero_init = zero_init  # read by vidnas.ops.init
        return bn


def _conv(spec: g.Conv, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    c_in, out = shape.channels, spec.out_channels(shape.channels)
    groups = spec.group_count(c_in)
    t, h, w = spec.kernel
    ctx.reserve(out * (c_in // groups) * t * h * w, path, f"a {t}x{h}x{w} conv from {c_in} to {out} channels")
    parts: "OrderedDict[str, nn.Module]" = OrderedDict()
    factorised = spec.type == "2plus1d" and (spec.keep_unit_factors or (t > 1 and (h > 1 or w > 1)))
    if factorised:
        mid = spec.mid_channels(c_in)
        parts["conv"] = Conv2Plus1d(
            c_in,
            out,
            mid,
            spec.kernel,
            spec.stride,
            spec.dilation,
            spec.depthwise,
            spec.order,
            ctx.batch_norm(mid),
            make_activation(spec.mid_act),
            spec.padding,
            spec.causal,
            spec.bias,
        )
    elif spec.type == "itgm" and t > 1:
        parts["conv"] = ITGMConv3d(c_in, out, spec.kernel, spec.stride, spec.dilation, spec.components, spec.padding, spec.causal)
    else:
        parts["conv"] = Conv3d(c_in, out, spec.kernel, spec.stride, spec.dilation, groups, spec.bias, spec.padding, spec.causal)
    if spec.norm:
        parts["norm"] = ctx.batch_norm(out, spec.zero_init_norm)
    if spec.act is not None:
        parts["act"] = make_activation(spec.act)
    return nn.Sequential(parts)


def _residual(spec: g.Residual, shape: Shape, ctx: BuildContext, path: str) -> tuple[nn.Module, Shape]:
    body, out = build_sequence(list(spec.body), shape, ctx, f"{path}.body")
    kind = spec.shortcut_kind(shape, out)
    shortcut: nn.Module | None = None
    if kind == "project":
        stride = spec.total_stride()
        parts: "OrderedDict[str, nn.Module]" = OrderedDict()
        if spec.shortcut_pool and stride != ONE:
            parts["pool"] = Pool3d("avg", tuple(s + 1 if s > 1 else 1 for s in stride), stride)
            stride = ONE
        ctx.reserve(shape.channels * out.channels, f"{path}.shortcut", f"a 1x1x1 shortcut from {shape.channels} to {out.channels} channels")
        parts["conv"] = Conv3d(shape.channels, out.channels, ONE, stride)
        if spec.shortcut_norm:
            parts["norm"] = ctx.batch_norm(out.channels)
        shortcut = nn.Sequential(parts)
    act = make_activation(spec.act) if spec.act is not None else None
    return Residual(body, shortcut, spec.rezero, spec.drop_path, act), out


def build_layer(spec: g.Layer, shape: Shape, ctx: BuildContext, path: str = "layer") -> tuple[nn.Module, Shape]:
    """Module and output shape for one layer record on an input of ``shape`` (already checked)."""
    out = spec.infer(shape, path)
    for what, channels in (("input", shape.channels), ("output", out.channels)):
        if channels > MAX_CHANNELS:
            raise GenotypeError(path, f"{channels:,} {what} channels; the builder allows at most {MAX_CHANNELS:,}")
    if isinstance(spec, g.Conv):
        return _conv(spec, shape, ctx, path), out
    if isinstance(spec, g.Pool):
        return Pool3d(spec.mode, spec.kernel, spec.stride, spec.padding, spec.causal), out
    if isinstance(spec, g.SqueezeExcite):
        module = SqueezeExcite(
            shape.channels,
            spec.hidden_width(shape.channels),
            spec.form,
            spec.causal,
            spec.act,
            spec.gate,
            spec.positional_encoding,
        )
        return module, out
    if isinstance(spec, g.ContextGate):
        return ContextGating(shape.channels, spec.causal), out
    if isinstance(spec, g.Act):
        return make_activation(spec.fn), out
    if isinstance(spec, g.Norm):
        return ctx.batch_norm(shape.channels, spec.zero_init), out
    if isinstance(spec, g.Residual):
        return _residual(spec, shape, ctx, path)
    if isinstance(spec, g.Branches):
        modules = [build_sequence(list(branch), shape, ctx, f"{path}.branches[{i}]")[0] for i, branch in enumerate(spec.branches)]
        return Branches(modules, spec.merge), out
    if isinstance(spec, g.FAMILY_BLOCKS):
        module, _ = build_sequence(spec.expansion(shape), shape, ctx, f"{path}<{spec.op}>")
        return module, out
    raise TypeError(f"no builder for layer {type(spec).__name__}")  # pragma: no cover - the union is closed


def build_sequence(layers: list[g.Layer], shape: Shape, ctx: BuildContext, path: str = "layers") -> tuple[nn.Module, Shape]:
    """An nn.Sequential of the layers (a single layer is returned unwrapped only if it is already Sequential);
    ``path`` names the list in errors."""
    modules = []
    for index, layer in enumerate(layers):
        module, shape = build_layer(layer, shape, ctx, f"{path}[{index}]")
        modules.append(module)
    if len(modules) == 1 and isinstance(modules[0], nn.Sequential):
        return modules[0], shape
    return nn.Sequential(*modules), shape
