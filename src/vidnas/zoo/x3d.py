"""X3D (reference movinet-x3d-autox3d.md §2.3-2.5): the (2+1)D stem, the depthwise bottleneck with SE between BN
and swish, conv5 and the 2048-wide head, the XS-XL variants and their zoo entries. ``vidnas.spaces.AutoX3DSpace``
builds its candidates with the same ``create_*`` parts.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from vidnas.genotype import (
    Bottleneck,
    Conv,
    Genotype,
    Head,
    InitSpec,
    InputSpec,
    Node,
    NormSpec,
    SqueezeExcite,
    make_divisible,
)
from vidnas.zoo._registry import REF_MOV, ModelEntry, Reference, register

PAPER = "Feichtenhofer. X3D: Expanding Architectures for Efficient Video Recognition. CVPR 2020"

X3D_VARIANTS = {  # frames, frame stride, train crop, width factor γw, depth factor γd
    "xs": (4, 12, 160, 2.0, 2.2),
    "s": (13, 6, 160, 2.0, 2.2),
    "m": (16, 5, 224, 2.0, 2.2),
    "l": (16, 5, 312, 2.0, 5.0),
    "xl": (16, 5, 312, 2.9, 5.0),
}
BOTTLENECK_FACTOR = 2.25  # γb: inner width ÷ stage width, and conv5's width ÷ the last stage's
X3D_NUMBERS = {  # §2.5: params total, params without BN, MACs at the train crop, Kinetics-400 top-1
    "xs": (3.794e6, 3.763e6, 0.605e9, "68.7% (SlowFast zoo, 10 views)"),
    "s": (3.794e6, 3.763e6, 1.963e9, "73.3% (30 views)"),
    "m": (3.794e6, 3.763e6, 4.732e9, "76.0% (30 views)"),
    "l": (6.153e6, 6.087e6, 18.368e9, "77.5% (30 views)"),
    "xl": (11.096e6, 11.000e6, 35.838e9, "79.1% (30 views)"),
}


def create_stem(*, width: int, stride: int = 2) -> list[Any]:
    """The (2+1)D stem: a 1×3×3 conv (spatial ``stride``, X3D's 2; no BN), then a depthwise 5×1×1 conv with BN and
    ReLU."""
    return [
        Conv(out=width, kernel=(1, 3, 3), stride=(1, stride, stride), padding="symmetric", norm=False),
        Conv(kernel=(5, 1, 1), depthwise=True, padding="symmetric", act="relu"),
    ]


def create_bottleneck(
    *, out: int, inner: int, first: bool, se: bool, kernel: tuple[int, int, int] = (3, 3, 3), conv_type: str = "3d",
    zero_init: bool = True,
) -> Bottleneck:
    """An X3D bottleneck: 1×1×1 expansion to ``inner`` (ReLU), a depthwise ``kernel`` conv (spatial stride 2 on a
    stage's ``first`` block), SE (ratio 1/16) between its BN and swish when ``se``, 1×1×1 projection with γ=0 on
    its BN (``zero_init``: X3D's; False: γ=1), ReLU after the residual sum."""
    return Bottleneck(
        out=out, inner=inner, kernel=kernel, conv_type=conv_type, stride=(1, 2, 2) if first else (1, 1, 1), act="relu", mid_act="swish",
        se=SqueezeExcite(ratio=1 / 16, divisor=8, min_hidden=8) if se else None, se_before_act=True,
        out_act="relu", zero_init_last_norm=zero_init, padding="symmetric",
    )


def create_conv5(*, width: int) -> Conv:
    """conv5: a 1×1×1 conv to γb × the last stage's ``width``."""
    return Conv(out=int(BOTTLENECK_FACTOR * width), act="relu")


def create_network(
    *, name: str, layers: list[Any], input: InputSpec, hidden: int | None, num_classes: int, dropout: float = 0.5, description: str = ""
) -> Genotype:
    """An X3D-like network: the backbone in one node, a ``hidden``-wide classifier layer without bias (ReLU; None:
    the classifier reads conv5's pooled features directly); BN momentum 0.1; normal fan-out init with gain 2."""
    return Genotype(
        name=name,
        family="x3d",
        description=description,
        input=input,
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(hidden=[hidden] if hidden else [], hidden_bias=False, act="relu", dropout=dropout, num_classes=num_classes),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="normal", mode="fan_out", gain=2.0),
    )


def x3d(variant: str, num_classes: int = 400) -> Genotype:
    """X3D (reference movinet-x3d-autox3d.md §2.3-2.4): (2+1)D stem, four stages of depthwise 3×3×3
    bottlenecks with SE on even blocks (between BN and swish), final BN γ=0, ReLU after the sum, conv5, a
    2048-wide hidden layer. Widths round to multiples of 8 (the rounding that reproduces X3D-XL)."""
    frames, stride, crop, width, depth = X3D_VARIANTS[variant]
    layers: list[Any] = create_stem(width=make_divisible(12 * width, 8))
    out = 0
    for base, depth_basis in [(12, 1), (24, 2), (48, 5), (96, 3)]:
        out = make_divisible(base * width, 8)
        inner = int(BOTTLENECK_FACTOR * out)
        layers += [create_bottleneck(out=out, inner=inner, first=j == 0, se=j % 2 == 0) for j in range(math.ceil(depth * depth_basis))]
    layers.append(create_conv5(width=out))
    return create_network(
        name=f"x3d_{variant}",
        description=f"X3D-{variant.upper()} (Feichtenhofer, CVPR 2020): γw {width}, γd {depth}, γb 2.25",
        layers=layers,
        input=InputSpec(frames=frames, size=crop, frame_stride=stride, fps=30.0 / stride),
        hidden=2048,
        num_classes=num_classes,
    )


for _variant, (_params, _params_no_bn, _macs, _top1) in X3D_NUMBERS.items():
    _frames, _, _crop, _, _ = X3D_VARIANTS[_variant]
    _published = _variant != "xl"
    register(ModelEntry(
        f"x3d_{_variant}", "x3d", PAPER,
        Reference(_frames, _crop, f"{REF_MOV} §2.5 (published params without BN and conv+FC MACs)", params=_params,
                  params_no_bn=_params_no_bn, macs=_macs, exact=True,
                  note="" if _published else "XL uses divisor-8 width rounding, the only rounding that reproduces the paper"),
        normalization={"rgb": ((0.45,) * 3, (0.225,) * 3)},
        results=f"Kinetics-400 top-1 {_top1}",
        labels="kinetics400" if _published else None,
        weights=f"PyTorchVideo model zoo X3D_{_variant.upper()}.pyth or PySlowFast x3d_{_variant}.pyth" if _published else "",
        build=partial(x3d, _variant),
    ))
