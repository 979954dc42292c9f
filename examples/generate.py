"""Writes the example genotypes of this folder, one per family, from the published configurations.

Run ``python examples/generate.py`` to regenerate them; the JSON files are the examples, this script only
saves typing the repetitive parts (X3D's 26 blocks, MoViNet's 15 layers, AssembleNet's 43 blocks).
Sources: ../shared/reference/evanet-tvn-assemblenet.md and movinet-x3d-autox3d.md.
"""

from __future__ import annotations

import math
from pathlib import Path

from vidnas.genotype import (
    Bottleneck,
    Conv,
    Edge,
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
    save_genotype,
)

HERE = Path(__file__).parent
# Keras HeNormal / TF variance scaling draw a truncated normal rescaled by 1/0.8796 to keep the variance.
TRUNCATION_CORRECTION = 0.87962566103423978**2


def x3d_s() -> Genotype:
    """X3D-S (reference movinet-x3d-autox3d.md §2.3-2.4): 13 frames x 160², γw 2, γd 2.2, γb 2.25."""
    layers = [
        Conv(out=24, kernel=(1, 3, 3), stride=(1, 2, 2), padding="symmetric", norm=False),
        Conv(kernel=(5, 1, 1), depthwise=True, padding="symmetric", act="relu"),
    ]
    for depth, out, inner in [(3, 24, 54), (5, 48, 108), (11, 96, 216), (7, 192, 432)]:
        for j in range(depth):
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
    layers.append(Conv(out=432, act="relu"))
    return Genotype(
        name="x3d_s",
        family="x3d",
        description="X3D-S (Feichtenhofer, CVPR 2020); published 3.76 M params (no BN), 1.96 GMACs at 13x160²",
        input=InputSpec(frames=13, size=160, frame_stride=6),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(hidden=[2048], hidden_bias=False, act="relu", dropout=0.5, num_classes=400),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="normal", mode="fan_out", gain=2.0),
    )


MOVINET_A0 = [  # (out, [(expand, kernel), ...], stride of layer 0)
    (8, [(24, (1, 5, 5))], 2),
    (32, [(80, (3, 3, 3))] * 3, 2),
    (56, [(184, (5, 3, 3)), (112, (3, 3, 3)), (184, (3, 3, 3))], 2),
    (56, [(184, (5, 3, 3))] + [(184, (3, 3, 3))] * 3, 1),
    (104, [(384, (5, 3, 3)), (280, (1, 5, 5)), (280, (1, 5, 5)), (344, (1, 5, 5))], 2),
]


def movinet_a0_stream() -> Genotype:
    """MoViNet-A0-Stream (reference §1.3-1.4): causal (2+1)D depthwise layers, 2plus3d causal SE, hard-swish."""
    total = sum(len(block_layers) for _, block_layers, _ in MOVINET_A0)
    layers: list = [Conv(out=8, kernel=(1, 3, 3), stride=(1, 2, 2), act="hswish")]
    index = 0
    for out, block_layers, stride in MOVINET_A0:
        for position, (expand, kernel) in enumerate(block_layers):
            index += 1
            s = stride if position == 0 else 1
            layers.append(
                Bottleneck(
                    out=out,
                    inner=expand,
                    kernel=kernel,
                    stride=(1, s, s),
                    conv_type="2plus1d",
                    act="hswish",
                    mid_act="hswish",
                    se=SqueezeExcite(ratio=0.25, divisor=8, form="2plus3d", causal=True, act="hswish", gate="hsigmoid"),
                    rezero=True,
                    shortcut_pool=True,
                    drop_path=round(0.2 * index / total, 6),
                    causal=True,
                )
            )
    layers.append(Conv(out=480, act="hswish"))
    return Genotype(
        name="movinet_a0_stream",
        family="movinet",
        description="MoViNet-A0-Stream (Kondratyuk et al., CVPR 2021), released spec; computed 3.748 M params",
        input=InputSpec(frames=50, size=172, frame_stride=5, fps=5.0),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(hidden=[2048], hidden_bias=True, act="swish", dropout=0.2, num_classes=600),
        norm=NormSpec(momentum=0.01, eps=1e-3),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.0 / TRUNCATION_CORRECTION),
    )


TVN1 = [  # spatial type/kernel/stride, temporal type/kernel/stride, F, E, R, SE ρ, CG, skip
    ("std", 4, 2, "maxpool", 2, 2, 64, 4, 2, 0.0, True, False),
    ("maxpool", 3, 2, "1d", 1, 1, 128, 4, 1, 0.9067600752736579, False, False),
    ("depth", 5, 3, "avgpool", 1, 1, 128, 4, 2, 0.0, True, True),
    ("std", 3, 2, "avgpool", 1, 1, 256, 8, 2, 0.7265534208526172, True, False),
]


def tvn1() -> Genotype:
    """TVN-1 (reference §2.7): 2 frames x 224², frame stride 4, four blocks."""
    blocks = [
        TVNBlock(
            spatial_type=st, spatial_kernel=sk, spatial_stride=ss, temporal_type=tt, temporal_kernel=tk,
            temporal_stride=ts, filters=f, expand=e, repeats=r, squeeze=se, context_gate=cg, skip=skip,
        )
        for st, sk, ss, tt, tk, ts, f, e, r, se, cg, skip in TVN1
    ]
    return Genotype(
        name="tvn1",
        family="tvn",
        description="Tiny Video Network 1 (Piergiovanni et al., 2019), released config; derived 26.04 M params, 4.33 GMACs",
        input=InputSpec(frames=2, size=224, frame_stride=4),
        nodes=[Node(name=f"block{i + 1}", layers=[b]) for i, b in enumerate(blocks)],
        head=Head(dropout=0.5, num_classes=157),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.6),
    )


def _branch(text: str) -> EvaNetBranch:
    kind, time = text.split(":")
    if kind == "1x1":
        return EvaNetBranch(type="1x1")
    if kind == "MP":
        return EvaNetBranch(type="maxpool_conv", time=int(time))
    return EvaNetBranch(type="conv", conv_type=kind, time=int(time))


def evanet_arch1_rgb() -> Genotype:
    """EvaNet Arch-1, RGB member (reference §1.5, §1.8): (2+1)D stem time 3; pools 1/1/9; four modules."""
    modules = [
        (256, 2, ["3d:1", "MP:7"]),
        (512, 4, ["MP:3", "1x1:0", "3d:1", "1x1:0", "3d:5"]),
        (1024, 5, ["MP:7", "1x1:0", "itgm:11", "MP:11"]),
        (2048, 3, ["MP:11", "3d:1", "itgm:3"]),
    ]
    pool_times = [1, 1, 9]  # max_pool1_time (re-used before module 2), max_pool3_time, max_pool4_time
    layers: list = [
        Conv(out=64, kernel=(3, 7, 7), stride=(2, 2, 2), type="2plus1d", order="temporal_first", mid_rule="half", act="relu"),
        Pool(mode="max", kernel=(1, 3, 3), stride=(2, 2, 2)),
    ]
    for index, (width, repeats, branches) in enumerate(modules):
        if index > 0:
            layers.append(Pool(mode="max", kernel=(pool_times[index - 1], 2, 2), stride=(1, 2, 2)))
        layers.append(EvaNetModule(width=width, repeats=repeats, branches=[_branch(b) for b in branches]))
    return Genotype(
        name="evanet_arch1_rgb",
        family="evanet",
        description="EvaNet Arch-1, RGB (Piergiovanni et al., ICCV 2019), released DNA; derived 32.80 M params",
        input=InputSpec(frames=32, size=224),
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(temporal_window=2, dropout=0.5, num_classes=400),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.6),
    )


ASSEMBLENET50_NODES = [  # (level, [(input, weight)], F, temporal dilation, spatial stride)
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


def assemblenet50() -> Genotype:
    """AssembleNet-50 (reference §3.2-3.6, §3.11): two RGB and two flow stems, 11 block nodes, frozen weights."""
    stem = 128 // 4
    blocks_per_level = [3, 4, 6, 3]
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
    for offset, (level, inputs, filters, dilation, stride) in enumerate(ASSEMBLENET50_NODES):
        layers = []
        for j in range(blocks_per_level[level]):
            layers.append(
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
            )
        edges = [Edge(source=f"node{i}", weight=w, learnable=w is None) for i, w in inputs]
        nodes.append(Node(name=f"node{4 + offset}", level=level, inputs=edges, layers=layers))
    return Genotype(
        name="assemblenet50",
        family="assemblenet",
        description="AssembleNet-50 (Ryoo et al., ICLR 2020), found structure with frozen learned connection weights",
        input=InputSpec(
            frames=32,
            size=224,
            streams=[Stream(name="rgb", modality="rgb", channels=3), Stream(name="flow", modality="flow", channels=2)],
        ),
        nodes=nodes,
        head=Head(sources=["node14"], dropout=0.5, num_classes=157),
        norm=NormSpec(momentum=0.01, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=1.0 / TRUNCATION_CORRECTION),
    )


EXAMPLES = {
    "tvn1": tvn1,
    "evanet_arch1_rgb": evanet_arch1_rgb,
    "assemblenet50": assemblenet50,
    "movinet_a0_stream": movinet_a0_stream,
    "x3d_s": x3d_s,
}


def main() -> None:
    for name, make in EXAMPLES.items():
        genotype = make()
        genotype.check()
        save_genotype(genotype, HERE / f"{name}.json")
        print(f"wrote examples/{name}.json ({genotype.fingerprint()})")


if __name__ == "__main__":
    assert math.isclose(TRUNCATION_CORRECTION, 0.7737, rel_tol=1e-3)
    main()
