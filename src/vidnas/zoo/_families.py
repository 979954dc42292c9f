"""The published architectures as genotype constructors (the zoo's JSON files are generated from these).

Every number below comes from ../shared/reference/ (evanet-tvn-assemblenet.md, movinet-x3d-autox3d.md),
which cites the released code and configs. These functions only run when the shipped JSON is regenerated
(``python -m vidnas.zoo.generate``); the registry reads the JSON.
"""

from __future__ import annotations

import math

from vidnas.genotype import (
    Bottleneck,
    Conv,
    Edge,
    Ensemble,
    EvaNetBranch,
    EvaNetModule,
    Genotype,
    Head,
    InitSpec,
    InputSpec,
    Node,
    NormSpec,
    Pool,
    SqueezeExcite,
    Stream,
    TVNBlock,
    make_divisible,
)

# TF / Keras draw truncated normals rescaled by 1/0.87962566 so the variance stays gain/fan; as our std is
# sqrt(gain/fan) before truncation, the rescaling is a larger gain.
TRUNCATION_CORRECTION = 0.87962566103423978**2
RGB = Stream(name="rgb", modality="rgb", channels=3)
FLOW = Stream(name="flow", modality="flow", channels=2)

# ------------------------------------------------------------------------------------------------- X3D

X3D_VARIANTS = {  # frames, frame stride, train crop, width factor γw, depth factor γd
    "xs": (4, 12, 160, 2.0, 2.2),
    "s": (13, 6, 160, 2.0, 2.2),
    "m": (16, 5, 224, 2.0, 2.2),
    "l": (16, 5, 312, 2.0, 5.0),
    "xl": (16, 5, 312, 2.9, 5.0),
}


def x3d(variant: str, num_classes: int = 400) -> Genotype:
    """X3D (reference movinet-x3d-autox3d.md §2.3-2.4): (2+1)D stem, four stages of depthwise 3×3×3
    bottlenecks with SE on even blocks (between BN and swish), final BN γ=0, ReLU after the sum, conv5, a
    2048-wide hidden layer. Widths round to multiples of 8 (the rounding that reproduces X3D-XL)."""
    frames, stride, crop, width, depth = X3D_VARIANTS[variant]
    bottleneck_factor = 2.25
    stem = make_divisible(12 * width, 8)
    layers: list = [
        Conv(out=stem, kernel=(1, 3, 3), stride=(1, 2, 2), padding="symmetric", norm=False),
        Conv(kernel=(5, 1, 1), depthwise=True, padding="symmetric", act="relu"),
    ]
    out = stem
    for base, depth_basis in [(12, 1), (24, 2), (48, 5), (96, 3)]:
        out = make_divisible(base * width, 8)
        inner = int(bottleneck_factor * out)
        for j in range(math.ceil(depth * depth_basis)):
            layers.append(
                Bottleneck(
                    out=out,
                    inner=inner,
                    kernel=(3, 3, 3),
                    stride=(1, 2, 2) if j == 0 else (1, 1, 1),
                    act="relu",
                    mid_act="swish",
                    se=SqueezeExcite(ratio=1 / 16, divisor=8, min_hidden=8) if j % 2 == 0 else None,
                    se_before_act=True,
                    out_act="relu",
                    zero_init_last_norm=True,
                    padding="symmetric",
                )
            )
    layers.append(Conv(out=int(bottleneck_factor * out), act="relu"))
    return Genotype(
        name=f"x3d_{variant}",
        family="x3d",
        description=f"X3D-{variant.upper()} (Feichtenhofer, CVPR 2020): γw {width}, γd {depth}, γb 2.25",
        input=InputSpec(frames=frames, size=crop, frame_stride=stride, fps=30.0 / stride),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(hidden=[2048], hidden_bias=False, act="relu", dropout=0.5, num_classes=num_classes),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="normal", mode="fan_out", gain=2.0),
    )


# --------------------------------------------------------------------------------------------- MoViNet

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


def movinet(variant: str, stream: bool = False, num_classes: int = 600) -> Genotype:
    """MoViNet (reference movinet-x3d-autox3d.md §1.3-1.4), the released block specs.

    Base: depthwise 3D convs, clip-level SE, swish/sigmoid. Stream: causal (2+1)D depthwise convs,
    '2plus3d' causal SE with hard-swish/hard-sigmoid, positional encoding in the SE on A3-A5; the classifier
    head uses swish except A1/A4-Stream (hard-swish, per their configs). Every layer: expansion → depthwise
    conv → SE → projection, ReZero, stochastic depth 0.2·i/N, a pooled 1×1 skip when the shape changes.
    """
    spec = MOVINET_SPECS[variant]
    act, gate = ("hswish", "hsigmoid") if stream else ("swish", "sigmoid")
    total = sum(len(expands) for _, expands, _, _ in spec["blocks"])
    layers: list = [Conv(out=spec["stem"], kernel=(1, 3, 3), stride=(1, 2, 2), act=act)]
    index = 0
    for out, expands, kernels, stride in spec["blocks"]:
        for position, (expand, kernel) in enumerate(zip(expands, kernels)):
            index += 1
            s = stride if position == 0 else 1
            se = SqueezeExcite(
                ratio=0.25,
                divisor=8,
                form="2plus3d" if stream else "3d",
                causal=stream,
                act=act,
                gate=gate,
                positional_encoding=stream and variant in ("a3", "a4", "a5"),
            )
            layers.append(
                Bottleneck(
                    out=out,
                    inner=expand,
                    kernel=tuple(int(k) for k in kernel),
                    stride=(1, s, s),
                    conv_type="2plus1d" if stream else "3d",
                    act=act,
                    mid_act=act,
                    se=se,
                    rezero=True,
                    shortcut_pool=True,
                    drop_path=round(0.2 * index / total, 6),
                    causal=stream,
                )
            )
    layers.append(Conv(out=spec["proj"], act=act))
    frames, size, stride = MOVINET_INPUTS[variant]
    head_act = "hswish" if stream and variant in ("a1", "a4") else "swish"
    kind = "Stream" if stream else "Base"
    return Genotype(
        name=f"movinet_{variant}" + ("_stream" if stream else ""),
        family="movinet",
        description=f"MoViNet-{variant.upper()}-{kind} (Kondratyuk et al., CVPR 2021), released block spec",
        input=InputSpec(frames=frames, size=size, frame_stride=stride, fps=25.0 / stride),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(hidden=[spec["hidden"]], hidden_bias=True, act=head_act, dropout=MOVINET_DROPOUT[stream][variant], num_classes=num_classes),
        norm=NormSpec(momentum=0.01, eps=1e-3),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.0 / TRUNCATION_CORRECTION),
    )


# ------------------------------------------------------------------------------------------------- TVN

TVN_CONFIGS: dict[str, dict] = {
    # rows: spatial type/kernel/stride, temporal type/kernel/stride, F, E, R, SE ρ, CG, skip (reference §2.7)
    "tvn1": dict(frames=2, size=224, stride=4, blocks=[
        ("std", 4, 2, "maxpool", 2, 2, 64, 4, 2, 0.0, True, False),
        ("maxpool", 3, 2, "1d", 1, 1, 128, 4, 1, 0.9067600752736579, False, False),
        ("depth", 5, 3, "avgpool", 1, 1, 128, 4, 2, 0.0, True, True),
        ("std", 3, 2, "avgpool", 1, 1, 256, 8, 2, 0.7265534208526172, True, False),
    ]),
    "tvn2": dict(frames=2, size=256, stride=7, blocks=[
        ("depth", 5, 3, "1d", 2, 1, 64, 4, 3, 0.06667482492426025, True, True),
        ("std", 4, 2, "maxpool", 2, 2, 128, 4, 5, 0.693452618624749, True, True),
        ("depth", 4, 1, "1d", 1, 1, 1024, 1, 6, 0.0, False, False),
        ("avgpool", 3, 2, "1d", 1, 1, 256, 4, 1, 0.0, True, False),
        ("avgpool", 4, 3, "1d", 1, 1, 512, 4, 6, 0.9472192794783585, False, False),
        ("depth", 3, 3, "maxpool", 1, 1, 512, 4, 4, 0.0, False, False),
        ("maxpool", 2, 1, "maxpool", 1, 1, 348, 6, 1, 0.0, True, False),
    ]),
    "tvn3": dict(frames=8, size=160, stride=2, blocks=[
        ("depth", 3, 2, "1d", 5, 2, 64, 3, 2, 0.6457257964198263, True, False),
        ("depth", 3, 2, "1d", 1, 1, 256, 5, 4, 0.9061418818635367, False, True),
        ("depth", 5, 4, "maxpool", 3, 2, 256, 2, 4, 0.0, False, True),
        ("std", 3, 2, "maxpool", 3, 3, 512, 5, 4, 0.0, True, False),
    ]),
    "tvn4": dict(frames=8, size=128, stride=4, blocks=[
        ("std", 5, 2, "1d", 3, 2, 64, 4, 5, 0.4775900391242449, False, True),
        ("depth", 5, 2, "maxpool", 2, 2, 256, 6, 4, 0.0, True, False),
        ("depth", 5, 3, "1d", 1, 1, 256, 8, 4, 0.25309102981899967, True, False),
    ]),
}
TVN_MOBILE = {
    # rows: as above plus inverted bottleneck, spatial act, temporal act, act (reference §2.7); no CG, no skip
    "tvn_mobile1": [
        ("depth", 5, 4, "1d", 2, 1, 32, 3, 4, 0.004598785768716973, False, "relu", "relu", "relu"),
        ("depth", 5, 4, "maxpool", 2, 1, 128, 6, 4, 0.8589741047143076, True, "hswish", "hswish", "relu"),
    ],
    "tvn_mobile2": [
        ("depth", 5, 4, "1d", 2, 1, 32, 3, 4, 0.004598785768716973, False, "hswish", "relu", "relu"),
        ("depth", 5, 4, "maxpool", 2, 1, 128, 6, 3, 0.8589741047143076, True, "hswish", "hswish", "relu"),
    ],
}


def _tvn_genotype(name: str, description: str, frames: int, size: int, stride: int, blocks: list[TVNBlock], num_classes: int) -> Genotype:
    return Genotype(
        name=name,
        family="tvn",
        description=description,
        input=InputSpec(frames=frames, size=size, frame_stride=stride),
        nodes=[Node(name=f"block{i + 1}", layers=[b]) for i, b in enumerate(blocks)],
        head=Head(dropout=0.5, num_classes=num_classes),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.6),
    )


def tvn(name: str, num_classes: int = 157) -> Genotype:
    """Tiny Video Networks (reference evanet-tvn-assemblenet.md §2.2-2.7), the released configurations."""
    if name in TVN_MOBILE:
        blocks = [
            TVNBlock(
                spatial_type=st, spatial_kernel=sk, spatial_stride=ss, temporal_type=tt, temporal_kernel=tk,
                temporal_stride=ts, filters=f, expand=e, repeats=r, squeeze=se, inverted_bottleneck=inv,
                spatial_act=sa, temporal_act=ta, act=a,
            )
            for st, sk, ss, tt, tk, ts, f, e, r, se, inv, sa, ta, a in TVN_MOBILE[name]
        ]
        number = name[-1]
        return _tvn_genotype(name, f"TVN-Mobile-{number} (Piergiovanni et al., 2019), released config", 2, 224, 1, blocks, num_classes)
    config = TVN_CONFIGS[name]
    blocks = [
        TVNBlock(
            spatial_type=st, spatial_kernel=sk, spatial_stride=ss, temporal_type=tt, temporal_kernel=tk,
            temporal_stride=ts, filters=f, expand=e, repeats=r, squeeze=se, context_gate=cg, skip=skip,
        )
        for st, sk, ss, tt, tk, ts, f, e, r, se, cg, skip in config["blocks"]
    ]
    description = f"Tiny Video Network {name[3:]} (Piergiovanni et al., 2019), released config"
    return _tvn_genotype(name, description, config["frames"], config["size"], config["stride"], blocks, num_classes)


# ---------------------------------------------------------------------------------------------- EvaNet

EVANET_ARCHS = {
    # modules: (stage width, repeats, branches); pools: max_pool1_time, max_pool3_time, max_pool4_time
    1: dict(pools=(1, 1, 9), modules=[
        (256, 2, ["3d:1", "MP:7"]),
        (512, 4, ["MP:3", "1x1", "3d:1", "1x1", "3d:5"]),
        (1024, 5, ["MP:7", "1x1", "itgm:11", "MP:11"]),
        (2048, 3, ["MP:11", "3d:1", "itgm:3"]),
    ]),
    2: dict(pools=(1, 3, 9), modules=[
        (256, 2, ["MP:1", "MP:3", "itgm:1>2plus1d:9", "MP:1", "1x1"]),
        (512, 3, ["MP:1", "MP:7", "2plus1d:5>3d:1", "itgm:1>2plus1d:11", "1x1", "2plus1d:11>3d:1"]),
        (1024, 5, ["MP:5", "1x1", "MP:9"]),
        (2048, 4, ["2plus1d:1", "MP:5"]),
    ]),
}


def _evanet_branch(text: str) -> EvaNetBranch:
    if text == "1x1":
        return EvaNetBranch(type="1x1")
    if text.startswith("MP:"):
        return EvaNetBranch(type="maxpool_conv", time=int(text[3:]))
    if ">" in text:
        first, second = text.split(">")
        kind, time = first.split(":")
        kind2, time2 = second.split(":")
        return EvaNetBranch(type="conv2", conv_type=kind, time=int(time), conv_type2=kind2, time2=int(time2))
    kind, time = text.split(":")
    return EvaNetBranch(type="conv", conv_type=kind, time=int(time))


def evanet(arch: int, modality: str = "rgb", num_classes: int = 400) -> Genotype:
    """EvaNet (reference evanet-tvn-assemblenet.md §1.4-1.8): the ResNet-like skeleton (a (2+1)D stem of
    temporal size 3, four pools, four evolved modules) with the released Arch-1 / Arch-2 DNAs.

    The clip length the paper trained with is not known (UNCONFIRMED in the reference); 32 frames at 224² is
    our default input. Parameters do not depend on it.
    """
    config = EVANET_ARCHS[arch]
    pool1, pool3, pool4 = config["pools"]
    stream = RGB if modality == "rgb" else FLOW
    layers: list = [
        Conv(
            out=64, kernel=(3, 7, 7), stride=(2, 2, 2), type="2plus1d", order="temporal_first", mid_rule="half",
            act="relu", keep_unit_factors=True,
        ),
        Pool(mode="max", kernel=(pool1, 3, 3), stride=(2, 2, 2)),
    ]
    for index, (width, repeats, branches) in enumerate(config["modules"]):
        if index > 0:
            time = (pool1, pool3, pool4)[index - 1]
            layers.append(Pool(mode="max", kernel=(time, 2, 2), stride=(1, 2, 2)))
        layers.append(EvaNetModule(width=width, repeats=repeats, branches=[_evanet_branch(b) for b in branches]))
    return Genotype(
        name=f"evanet_arch{arch}_{modality}",
        family="evanet",
        description=f"EvaNet Arch-{arch}, {modality} member (Piergiovanni et al., ICCV 2019), released DNA",
        input=InputSpec(frames=32, size=224, streams=[stream]),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(temporal_window=2, dropout=0.5, num_classes=num_classes),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.6),
    )


def evanet_ensemble(num_classes: int = 400) -> Ensemble:
    """The released 4-model EvaNet ensemble: Arch-1 and Arch-2, each on RGB and on optical flow; logits averaged."""
    return Ensemble(
        name="evanet_ensemble",
        family="evanet",
        description="EvaNet ensemble (Arch-1/Arch-2 x RGB/flow), logits averaged; 77.2% Kinetics-400 top-1 reported",
        members=[evanet(1, "rgb", num_classes), evanet(1, "flow", num_classes), evanet(2, "rgb", num_classes), evanet(2, "flow", num_classes)],
    )


# ----------------------------------------------------------------------------------------- AssembleNet

ASSEMBLENET_NODES = [  # node 4…14: (level, [(input node, sigmoid weight)], F for -50, temporal dilation, stride)
    (0, [(1, None)], 32, 1, 1),
    (0, [(0, None)], 32, 4, 1),
    (0, [(0, 0.13810564577579498), (1, 0.8465337157249451), (2, 0.3072969317436218), (3, 0.2867436408996582)], 32, 1, 1),
    (0, [(2, 0.5846117734909058), (3, 0.6066334843635559)], 32, 2, 1),
    (1, [(0, 0.16382087767124176), (4, 0.8852924704551697), (5, 0.4039595425128937), (6, 0.6823437809944153), (7, 0.5331538319587708)], 64, 2, 2),
    (1, [(0, 0.028569204732775688), (2, 0.10333596915006638), (4, 0.7517264485359192), (7, 0.9260114431381226)], 64, 1, 2),
    (1, [(0, 0.28832191228866577), (5, 0.7627848982810974), (7, 0.404977947473526)], 64, 4, 2),
    (1, [(0, 0.23474831879138947), (5, 0.7841425538063049)], 64, 1, 2),
    (2, [(4, 0.27616503834724426), (8, 0.9514784812927246), (10, 0.6568767428398132), (11, 0.9547983407974243)], 256, 1, 2),
    (2, [(8, 0.5047007203102112), (9, 0.8876819610595703)], 256, 4, 2),
    (3, [(12, 0.9892204403877258), (13, 0.8454614877700806)], 512, 2, 2),
]
ASSEMBLENET_DEPTHS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}
ASSEMBLENET_101_FILTERS = {12: 192, 13: 192, 14: 256}  # AssembleNet-101 widens only levels 2-3


def assemblenet(depth: int = 50, peer_attention: bool = False, num_classes: int = 157) -> Genotype:
    """AssembleNet-50/101 (reference evanet-tvn-assemblenet.md §3.2-3.7, §3.11), the structure found on
    Moments-in-Time with its learned connection weights frozen; two RGB stems (temporal dilation 4) and two
    optical-flow stems; ``peer_attention`` gives AssembleNet++ on the same structure (as the released run
    script does without object input). 32 frames at 224² is the default input (the Kinetics-600 config).
    """
    stem = 128 // 4
    blocks_per_level = ASSEMBLENET_DEPTHS[depth]
    inter = [64, 128, 256, 512]
    nodes = []
    for index, dilation in enumerate([4, 4]):
        nodes.append(
            Node(
                name=f"node{index}",
                inputs=["rgb"],
                layers=[
                    Conv(out=stem, kernel=(1, 7, 7), stride=(1, 2, 2), padding="symmetric", act="relu"),
                    Conv(out=stem, kernel=(5, 1, 1), dilation=(dilation, 1, 1), act="relu"),
                    Pool(mode="max", kernel=(1, 3, 3), stride=(1, 2, 2)),
                ],
            )
        )
    for index in (2, 3):
        nodes.append(
            Node(
                name=f"node{index}",
                inputs=["flow"],
                layers=[
                    Conv(out=stem, kernel=(1, 7, 7), stride=(1, 2, 2), padding="symmetric", act="relu"),
                    Pool(mode="max", kernel=(1, 2, 2), stride=(1, 2, 2)),
                ],
            )
        )
    for offset, (level, inputs, filters, dilation, stride) in enumerate(ASSEMBLENET_NODES):
        number = 4 + offset
        if depth == 101:
            filters = ASSEMBLENET_101_FILTERS.get(number, filters)
        layers = [
            Bottleneck(
                out=4 * filters,
                inner=filters,
                mid=inter[level],
                expand_kernel=(3, 1, 1) if j % 2 == 1 else (1, 1, 1),
                dilation=dilation,
                kernel=(1, 3, 3),
                stride=(1, stride, stride) if j == 0 else (1, 1, 1),
                depthwise=False,
                act="relu",
                mid_act="relu",
                out_act="relu",
                zero_init_last_norm=True,
                padding="symmetric",
            )
            for j in range(blocks_per_level[level])
        ]
        edges = [Edge(source=f"node{i}", weight=w, learnable=w is None) for i, w in inputs]
        nodes.append(
            Node(name=f"node{number}", level=level, inputs=edges, attention="peer" if peer_attention else "none", layers=layers)
        )
    if peer_attention:
        name, title = f"assemblenet_plus{depth}", f"AssembleNet++-{depth} (Ryoo et al., ECCV 2020): peer attention on the AssembleNet-{depth} structure"
    else:
        name, title = f"assemblenet{depth}", f"AssembleNet-{depth} (Ryoo et al., ICLR 2020): found structure, frozen connection weights"
    return Genotype(
        name=name,
        family="assemblenet",
        description=title,
        input=InputSpec(frames=32, size=224, streams=[RGB, FLOW]),
        nodes=nodes,
        head=Head(sources=["node14"], dropout=0.5, num_classes=num_classes),
        norm=NormSpec(momentum=0.01, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=1.0 / TRUNCATION_CORRECTION),
    )
