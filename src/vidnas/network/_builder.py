"""The one builder: genotype layers -> nn.Modules. Family blocks are built from their expansion."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

import vidnas.genotype as g
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
    zero_init: list[nn.Module] = field(default_factory=list)  # the BNs whose scale starts at 0 (X3D's last BN of a block)

    def reserve(self, count: int, path: str, what: str) -> None:
        """Count ``count`` weights of the layer at ``path`` against the limits, before allocating them."""
        if count > MAX_LAYER_WEIGHTS:
            raise GenotypeError(path, f"{what} would hold {count:,} weights; the builder refuses a layer above {MAX_LAYER_WEIGHTS:,}")
        self.weights[0] += count
        if self.weights[0] > MAX_NETWORK_WEIGHTS:
            raise GenotypeError(path, f"the network would hold more than {MAX_NETWORK_WEIGHTS:,} conv weights by this layer; too large to build")

    def batch_norm(self, channels: int, zero_init: bool = False) -> nn.BatchNorm3d:
        bn = nn.BatchNorm3d(channels, eps=self.norm_eps, momentum=self.norm_momentum)
        if zero_init:
            self.zero_init.append(bn)  # given to vidnas.ops.init.initialise
        return bn


def _conv(spec: g.Conv, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    c_in, out = shape.channels, spec.out_channels(shape.channels)
    groups = spec.group_count(c_in)
    t, h, w = spec.kernel
    ctx.reserve(out * (c_in // groups) * t * h * w, path, f"a {t}x{h}x{w} conv from {c_in} to {out} channels")
    parts: "OrderedDict[str, nn.Module]" = OrderedDict()
    if spec.factorised():
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


def _shortcut(layers: list[g.Layer], shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    """The projection of a residual (``Residual.shortcut_layers``: an optional average pool, a 1×1×1 conv, its
    BN) as one Sequential with the parts named pool / conv / norm (the names published weights map onto)."""
    parts: "OrderedDict[str, nn.Module]" = OrderedDict()
    for layer in layers:
        if isinstance(layer, g.Pool):
            parts["pool"] = Pool3d(layer.mode, layer.kernel, layer.stride, layer.padding, layer.causal)
        else:
            out = layer.out_channels(shape.channels)
            ctx.reserve(shape.channels * out, path, f"a 1x1x1 shortcut from {shape.channels} to {out} channels")
            parts["conv"] = Conv3d(shape.channels, out, layer.kernel, layer.stride)
            if layer.norm:
                parts["norm"] = ctx.batch_norm(out)
        shape = layer.infer(shape, path)
    return nn.Sequential(parts)


def _residual(spec: g.Residual, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    body, out = build_sequence(list(spec.body), shape, ctx, f"{path}.body")
    layers = spec.shortcut_layers(shape, out)
    shortcut = _shortcut(layers, shape, ctx, f"{path}.shortcut") if layers else None
    act = make_activation(spec.act) if spec.act is not None else None
    return Residual(body, shortcut, spec.rezero, spec.drop_path, act)


def _se(spec: g.SqueezeExcite, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    return SqueezeExcite(shape.channels, spec.hidden_width(shape.channels), spec.form, spec.causal, spec.act, spec.gate, spec.positional_encoding)


def _branches(spec: g.Branches, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    modules = [build_sequence(list(branch), shape, ctx, f"{path}.branches[{i}]")[0] for i, branch in enumerate(spec.branches)]
    return Branches(modules, spec.merge)


def _family_block(spec: g.Layer, shape: Shape, ctx: BuildContext, path: str) -> nn.Module:
    return build_sequence(spec.expansion(shape), shape, ctx, f"{path}<{spec.op}>")[0]


BUILDERS: dict[type, Callable[[Any, Shape, BuildContext, str], nn.Module]] = {
    g.Conv: _conv,
    g.Pool: lambda spec, shape, ctx, path: Pool3d(spec.mode, spec.kernel, spec.stride, spec.padding, spec.causal),
    g.SqueezeExcite: _se,
    g.ContextGate: lambda spec, shape, ctx, path: ContextGating(shape.channels, spec.causal),
    g.Act: lambda spec, shape, ctx, path: make_activation(spec.fn),
    g.Norm: lambda spec, shape, ctx, path: ctx.batch_norm(shape.channels, spec.zero_init),
    g.Residual: _residual,
    g.Branches: _branches,
    **{block: _family_block for block in g.FAMILY_BLOCKS},
}
"""The module of each layer record (``genotype.LAYER_TYPES``; a test checks that none is missing)."""


def build_layer(spec: g.Layer, shape: Shape, ctx: BuildContext, path: str = "layer") -> tuple[nn.Module, Shape]:
    """Module and output shape for one layer record on an input of ``shape`` (already checked)."""
    out = spec.infer(shape, path)
    for what, channels in (("input", shape.channels), ("output", out.channels)):
        if channels > MAX_CHANNELS:
            raise GenotypeError(path, f"{channels:,} {what} channels; the builder allows at most {MAX_CHANNELS:,}")
    return BUILDERS[type(spec)](spec, shape, ctx, path), out


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
