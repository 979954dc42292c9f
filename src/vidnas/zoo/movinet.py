"""MoViNets (reference movinet-x3d-autox3d.md §1.3-1.10): the inverted-bottleneck layer in its Base form
(3D depthwise convs, clip-level SE) and its Stream form (causal (2+1)D convs, causal SE), the released A0-A5
and T0 block specs and their zoo entries. ``vidnas.spaces.MoViNetSpace`` builds its candidates with the same
``create_*`` parts.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from vidnas.genotype import Bottleneck, Conv, Genotype, Head, InitSpec, InputSpec, Node, NormSpec, SqueezeExcite
from vidnas.zoo._parts import TRUNCATION_CORRECTION
from vidnas.zoo._registry import REF_MOV, ModelEntry, Reference, register

PAPER = "Kondratyuk et al. MoViNets: Mobile Video Networks for Efficient Video Recognition. CVPR 2021"

MOVINET_SPECS: dict[str, dict] = {
    # stem width, head projection, classifier hidden, blocks: (out, expands, kernels, stride of layer 0)
    "a0": dict(stem=8, proj=480, hidden=2048, blocks=[
        (8, [24], ["155"], 2),
        (32, [80, 80, 80], ["333"] * 3, 2),
        (56, [184, 112, 184], ["533", "333", "333"], 2),
        (56, [184, 184, 184, 184], ["533", "333", "333", "333"], 1),
        (104, [384, 280, 280, 344], ["533", "155", "155", "155"], 2),
    ]),
    "a1": dict(stem=16, proj=600, hidden=2048, blocks=[
        (16, [40, 40], ["155", "333"], 2),
        (40, [96, 120, 96, 96], ["333"] * 4, 2),
        (64, [216, 128, 216, 168, 216], ["533"] + ["333"] * 4, 2),
        (64, [216, 216, 216, 128, 128, 216], ["533", "333", "333", "333", "155", "333"], 1),
        (136, [456, 360, 360, 360, 456, 456, 544], ["533", "155", "155", "155", "155", "333", "133"], 2),
    ]),
    "a2": dict(stem=16, proj=640, hidden=2048, blocks=[
        (16, [40, 40, 64], ["155", "333", "333"], 2),
        (40, [96, 120, 96, 96, 120], ["333"] * 5, 2),
        (72, [240, 160, 240, 192, 240], ["533"] + ["333"] * 4, 2),
        (72, [240, 240, 240, 240, 144, 240], ["533", "333", "333", "333", "155", "333"], 1),
        (144, [480, 384, 384, 480, 480, 480, 576], ["533", "155", "155", "155", "155", "333", "133"], 2),
    ]),
    "a3": dict(stem=16, proj=744, hidden=2048, blocks=[
        (16, [40, 40, 64, 40], ["155", "333", "333", "333"], 2),
        (48, [112, 144, 112, 112, 144, 144], ["333", "333", "333", "155", "333", "333"], 2),
        (80, [240, 152, 240, 192, 240], ["533"] + ["333"] * 4, 2),
        (88, [264, 264, 264, 264, 160, 264, 264, 264], ["533", "333", "333", "333", "155", "333", "333", "333"], 1),
        (168, [560, 448, 448, 560, 560, 560, 448, 448, 560, 672],
         ["533", "155", "155", "155", "155", "333", "155", "155", "333", "133"], 2),
    ]),
    "a4": dict(stem=24, proj=856, hidden=2048, blocks=[
        (24, [64, 64, 96, 64, 96, 64], ["155"] + ["333"] * 5, 2),
        (56, [168, 168, 136, 136, 168, 168, 168, 136, 136], ["333"] * 7 + ["155", "333"], 2),
        (96, [320, 160, 320, 192, 320, 160, 320, 256, 320], ["533"] + ["333"] * 8, 2),
        (96, [320, 320, 320, 320, 192, 320, 320, 192, 320, 320], ["533", "333", "333", "333", "155"] + ["333"] * 5, 1),
        (192, [640, 512, 512, 640, 640, 640, 512, 512, 640, 768, 640, 640, 768],
         ["533", "155", "155", "155", "155", "333", "155", "155", "155", "155", "155", "333", "333"], 2),
    ]),
    "a5": dict(stem=24, proj=992, hidden=2048, blocks=[
        (24, [64, 64, 96, 64, 96, 64], ["155", "155", "333", "333", "333", "333"], 2),
        (64, [192, 152, 152, 152, 192, 192, 192, 152, 152, 192, 192], ["533"] + ["333"] * 10, 2),
        (112, [376, 224, 376, 376, 296, 376, 224, 376, 376, 296, 376, 376, 376], ["533"] + ["333"] * 12, 2),
        (120, [376, 376, 376, 376, 224, 376, 376, 224, 376, 376, 376], ["533", "333", "333", "333", "155"] + ["333"] * 6, 1),
        (224, [744, 744, 600, 600, 744, 744, 744, 896, 600, 600, 896, 744, 744, 896, 600, 600, 744, 744],
         ["533", "333", "155", "155", "155", "155", "333", "155", "155", "155", "155", "155", "333", "155", "155", "155", "155", "333"], 2),
    ]),
    "t0": dict(stem=8, proj=240, hidden=1024, blocks=[
        (8, [16], ["155"], 2),
        (32, [72, 72], ["333", "155"], 2),
        (56, [112, 112, 112], ["533", "155", "333"], 2),
        (56, [184, 184, 184, 184], ["533", "155", "333", "333"], 1),
        (104, [344, 344, 344, 344], ["533", "155", "155", "333"], 2),
    ]),
}
MOVINET_INPUTS = {  # eval clip: frames, size, temporal stride on 25 fps video (reference §1.2)
    "a0": (50, 172, 5), "a1": (50, 172, 5), "a2": (50, 224, 5), "a3": (120, 256, 2),
    "a4": (80, 290, 3), "a5": (120, 320, 2), "t0": (25, 160, 10),
}
MOVINET_DROPOUT = {
    False: {"a0": 0.2, "a1": 0.5, "a2": 0.5, "a3": 0.5, "a4": 0.5, "a5": 0.5, "t0": 0.2},
    True: {"a0": 0.2, "a1": 0.2, "a2": 0.5, "a3": 0.5, "a4": 0.5, "a5": 0.5},
}


MOVINET_NUMBERS = {  # [computed] §1.10, 600 classes: base params, stream params, base MACs, stream MACs, top-1 base / stream
    "a0": (3.112e6, 3.748e6, 2.63e9, 2.43e9, "72.28 / 72.05"),
    "a1": (4.690e6, 6.447e6, 5.87e9, 5.54e9, "76.69 / 76.45"),
    "a2": (5.250e6, 7.327e6, 11.56e9, 10.70e9, "78.62 / 78.40"),
    "a3": (7.398e6, 10.987e6, 55.59e9, 52.13e9, "81.79 / 80.09"),
    "a4": (11.349e6, 18.136e6, 103.34e9, 96.74e9, "83.48 / 81.49"),
    "a5": (18.651e6, 31.496e6, 276.33e9, 261.71e9, "84.27 / 82.37"),
    "t0": (1.727e6, None, 0.87e9, None, "68.40 / -"),
}
A2_NOTE = (
    "the paper / README give 10.3 / '10' GFLOPs for A2, the released spec computes to 11.56 G: vidnas pins "
    "the released spec (the authors changed the architectures after the paper, see Atze00/MoViNet-pytorch #14)"
)


def activations(stream: bool) -> tuple[str, str]:
    """(activation, gate) of the Base form (swish, sigmoid) or the Stream form (hard-swish, hard-sigmoid)."""
    return ("hswish", "hsigmoid") if stream else ("swish", "sigmoid")


def create_stem(*, width: int, stream: bool) -> Conv:
    """The stem: a 1×3×3 conv, stride 2."""
    return Conv(out=width, kernel=(1, 3, 3), stride=(1, 2, 2), act=activations(stream)[0])


def create_layer(
    *, out: int, inner: int, kernel: tuple[int, int, int], stride: int, drop_path: float, stream: bool, positional_encoding: bool = False,
    rezero: bool = True,
) -> Bottleneck:
    """One MoViNet layer: expansion to ``inner`` → depthwise ``kernel`` conv (spatial ``stride``) → SE (ratio 0.25)
    → projection to ``out``, ReZero (``rezero``), stochastic depth ``drop_path``, a pooled 1×1 skip when the shape changes.
    ``stream``: causal (2+1)D conv and the causal '2plus3d' SE with hard-swish / hard-sigmoid."""
    act, gate = activations(stream)
    se = SqueezeExcite(ratio=0.25, divisor=8, form="2plus3d" if stream else "3d", causal=stream, act=act, gate=gate,
                       positional_encoding=positional_encoding)
    return Bottleneck(
        out=out, inner=inner, kernel=kernel, stride=(1, stride, stride), conv_type="2plus1d" if stream else "3d", act=act, mid_act=act,
        se=se, rezero=rezero, shortcut_pool=True, drop_path=drop_path, causal=stream,
    )


def drop_path_rate(index: int, total: int, top: float = 0.2) -> float:
    """Stochastic depth of the ``index``-th of ``total`` layers (1-based): ``top`` · index / total (released: 0.2)."""
    return round(top * index / total, 6)


def create_projection(*, width: int, stream: bool) -> Conv:
    """The 1×1×1 projection before the head."""
    return Conv(out=width, act=activations(stream)[0])


def create_network(
    *, name: str, nodes: list[Node], input: InputSpec, hidden: int, num_classes: int, dropout: float, head_act: str, description: str = "",
    norm_momentum: float = 0.01,
) -> Genotype:
    """A MoViNet: a ``hidden``-wide classifier layer with bias; BN momentum ``norm_momentum`` (the released 0.01:
    TF's decay 0.99), eps 1e-3; TF's truncated-normal fan-in init (gain 2)."""
    return Genotype(
        name=name,
        family="movinet",
        description=description,
        input=input,
        nodes=nodes,
        head=Head(hidden=[hidden], hidden_bias=True, act=head_act, dropout=dropout, num_classes=num_classes),
        norm=NormSpec(momentum=norm_momentum, eps=1e-3),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.0 / TRUNCATION_CORRECTION),
    )


def movinet(variant: str, stream: bool = False, num_classes: int = 600) -> Genotype:
    """MoViNet (reference movinet-x3d-autox3d.md §1.3-1.4), the released block specs.

    Base: depthwise 3D convs, clip-level SE, swish/sigmoid. Stream: causal (2+1)D depthwise convs,
    '2plus3d' causal SE with hard-swish/hard-sigmoid, positional encoding in the SE on A3-A5; the classifier
    head uses swish except A1/A4-Stream (hard-swish, per their configs). Every layer: expansion → depthwise
    conv → SE → projection, ReZero, stochastic depth 0.2·i/N, a pooled 1×1 skip when the shape changes.
    """
    spec = MOVINET_SPECS[variant]
    total = sum(len(expands) for _, expands, _, _ in spec["blocks"])
    layers: list[Any] = [create_stem(width=spec["stem"], stream=stream)]
    index = 0
    for out, expands, kernels, stride in spec["blocks"]:
        for position, (expand, kernel) in enumerate(zip(expands, kernels)):
            index += 1
            layers.append(create_layer(
                out=out, inner=expand, kernel=tuple(int(k) for k in kernel), stride=stride if position == 0 else 1,  # type: ignore[arg-type]
                drop_path=drop_path_rate(index, total), stream=stream, positional_encoding=stream and variant in ("a3", "a4", "a5"),
            ))
    layers.append(create_projection(width=spec["proj"], stream=stream))
    frames, size, stride = MOVINET_INPUTS[variant]
    kind = "Stream" if stream else "Base"
    return create_network(
        name=f"movinet_{variant}" + ("_stream" if stream else ""),
        description=f"MoViNet-{variant.upper()}-{kind} (Kondratyuk et al., CVPR 2021), released block spec",
        input=InputSpec(frames=frames, size=size, frame_stride=stride, fps=25.0 / stride),
        nodes=[Node(name="backbone", layers=layers)],
        hidden=spec["hidden"], head_act="hswish" if stream and variant in ("a1", "a4") else "swish",
        dropout=MOVINET_DROPOUT[stream][variant], num_classes=num_classes,
    )


for _variant, (_base_params, _stream_params, _base_macs, _stream_macs, _top1) in MOVINET_NUMBERS.items():
    _frames, _size, _ = MOVINET_INPUTS[_variant]
    _base_top1, _stream_top1 = _top1.split(" / ")
    _published = _variant != "t0"
    register(ModelEntry(
        f"movinet_{_variant}", "movinet", PAPER,
        Reference(_frames, _size, f"{REF_MOV} §1.10 [computed from the released spec]", params=_base_params, macs=_base_macs,
                  note=A2_NOTE if _variant == "a2" else ""),
        results=f"Kinetics-600 top-1 {_base_top1}% (released checkpoint, 1 clip)",
        labels="kinetics600" if _published else None,
        weights=f"tensorflow/models official/projects/movinet: movinet_{_variant}_base.tar.gz (TF checkpoint)" if _published else "",
        build=partial(movinet, _variant),
    ))
    if _stream_params is not None:
        register(ModelEntry(
            f"movinet_{_variant}_stream", "movinet", PAPER,
            Reference(_frames, _size, f"{REF_MOV} §1.10 [computed from the released spec]", params=_stream_params, macs=_stream_macs),
            results=f"Kinetics-600 top-1 {_stream_top1}% (released checkpoint, streaming)",
            labels="kinetics600",
            weights=f"tensorflow/models official/projects/movinet: movinet_{_variant}_stream.tar.gz (TF checkpoint)",
            build=partial(movinet, _variant, stream=True),
        ))
