"""AssembleNet and AssembleNet++ (reference evanet-tvn-assemblenet.md §3.2-3.13): RGB and optical-flow stems,
block nodes at levels 0-3 joined by weighted edges, the structure found on Moments-in-Time and its zoo entries.
``vidnas.spaces.AssembleNetSpace`` builds its candidates with the same ``create_*`` parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from vidnas.genotype import Bottleneck, Conv, Edge, Genotype, Head, InitSpec, InputSpec, Node, NormSpec, Pool
from vidnas.zoo._parts import FLOW, RGB, TRUNCATION_CORRECTION
from vidnas.zoo._registry import FLOW_UNIT, REF_EVA, UNIT, ModelEntry, Reference, register

PAPER = "Ryoo, Piergiovanni, Tan, Angelova. AssembleNet. ICLR 2020"
PAPER_PLUS = "Ryoo, Piergiovanni, Kangaspunta, Angelova. AssembleNet++. ECCV 2020"

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
INTER = (64, 128, 256, 512)  # the bottlenecks' middle width per level (AssembleNet-50/101)
NORMALIZATION = {"rgb": UNIT, "flow": FLOW_UNIT}


def create_rgb_stem(*, name: str, width: int, dilation: int) -> Node:
    """An RGB stem node: 1×7×7 conv (stride 2), 5×1×1 conv with temporal ``dilation``, 1×3×3 max-pool (stride 2)."""
    return Node(name=name, inputs=["rgb"], layers=[
        Conv(out=width, kernel=(1, 7, 7), stride=(1, 2, 2), padding="symmetric", act="relu"),
        Conv(out=width, kernel=(5, 1, 1), dilation=(dilation, 1, 1), act="relu"),
        Pool(mode="max", kernel=(1, 3, 3), stride=(1, 2, 2)),
    ])


def create_flow_stem(*, name: str, width: int) -> Node:
    """An optical-flow stem node: 1×7×7 conv (stride 2), 1×2×2 max-pool (stride 2)."""
    return Node(name=name, inputs=["flow"], layers=[
        Conv(out=width, kernel=(1, 7, 7), stride=(1, 2, 2), padding="symmetric", act="relu"),
        Pool(mode="max", kernel=(1, 2, 2), stride=(1, 2, 2)),
    ])


def create_blocks(*, filters: int, mid: int, dilation: int, stride: int, count: int, temporal_first: bool = False) -> list[Bottleneck]:
    """A node's ``count`` ResNet bottlenecks (output 4F, inner F; every second one with a 3×1×1 expansion of
    temporal ``dilation`` — the second, fourth, … as published, or the first, third, … with ``temporal_first``,
    so that a node of one block can model time), the first with spatial ``stride``; 1×3×3 middle convs."""
    return [
        Bottleneck(
            out=4 * filters, inner=filters, mid=mid, expand_kernel=(3, 1, 1) if j % 2 == (0 if temporal_first else 1) else (1, 1, 1), dilation=dilation,
            kernel=(1, 3, 3), stride=(1, stride, stride) if j == 0 else (1, 1, 1), depthwise=False, act="relu", mid_act="relu",
            out_act="relu", zero_init_last_norm=True, padding="symmetric",
        )
        for j in range(count)
    ]


def create_network(
    *, name: str, nodes: list[Node], outputs: Sequence[str], input: InputSpec, num_classes: int, dropout: float = 0.5, description: str = "",
    norm_momentum: float = 0.01,
) -> Genotype:
    """An AssembleNet over RGB and flow: the head pools the ``outputs`` nodes; BN momentum 0.01 as released (the
    search's proxy trains with 0.1), TF's truncated-normal fan-in init."""
    return Genotype(
        name=name,
        family="assemblenet",
        description=description,
        input=input,
        nodes=nodes,
        head=Head(sources=list(outputs), dropout=dropout, num_classes=num_classes),
        norm=NormSpec(momentum=norm_momentum, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=1.0 / TRUNCATION_CORRECTION),
    )


def assemblenet(depth: int = 50, peer_attention: bool = False, num_classes: int = 157) -> Genotype:
    """AssembleNet-50/101 (reference evanet-tvn-assemblenet.md §3.2-3.7, §3.11), the structure found on
    Moments-in-Time with its learned connection weights frozen; two RGB stems (temporal dilation 4) and two
    optical-flow stems; ``peer_attention`` gives AssembleNet++ on the same structure (as the released run
    script does without object input). 32 frames at 224² is the default input (the Kinetics-600 config).
    """
    stem = 128 // 4
    blocks_per_level = ASSEMBLENET_DEPTHS[depth]
    nodes: list[Any] = [create_rgb_stem(name=f"node{i}", width=stem, dilation=4) for i in (0, 1)]
    nodes += [create_flow_stem(name=f"node{i}", width=stem) for i in (2, 3)]
    for offset, (level, inputs, filters, dilation, stride) in enumerate(ASSEMBLENET_NODES):
        number = 4 + offset
        if depth == 101:
            filters = ASSEMBLENET_101_FILTERS.get(number, filters)
        edges = [Edge(source=f"node{i}", weight=w, learnable=w is None) for i, w in inputs]
        nodes.append(Node(
            name=f"node{number}", level=level, inputs=edges, attention="peer" if peer_attention else "none",
            layers=create_blocks(filters=filters, mid=INTER[level], dilation=dilation, stride=stride, count=blocks_per_level[level]),
        ))
    if peer_attention:
        name, title = f"assemblenet_plus{depth}", f"AssembleNet++-{depth} (Ryoo et al., ECCV 2020): peer attention on the AssembleNet-{depth} structure"
    else:
        name, title = f"assemblenet{depth}", f"AssembleNet-{depth} (Ryoo et al., ICLR 2020): found structure, frozen connection weights"
    return create_network(name=name, description=title, nodes=nodes, outputs=["node14"], input=InputSpec(frames=32, size=224, streams=[RGB, FLOW]),
                          num_classes=num_classes)


_NOTE = "derived: ≈{} GMACs per frame at 224² excluding Representation Flow"
register(ModelEntry(
    "assemblenet50", "assemblenet", PAPER,
    Reference(32, 224, f"{REF_EVA} §3.13 [derived]", params=36.9e6, macs=7.8e9 * 32, note=_NOTE.format(7.8)),
    normalization=NORMALIZATION, results="Charades 58.6% mAP, Moments-in-Time 34.27% top-1 (AssembleNet, paper)",
    build=partial(assemblenet, 50),
))
register(ModelEntry(
    "assemblenet101", "assemblenet", PAPER,
    Reference(32, 224, f"{REF_EVA} §3.13 [derived]", params=53.1e6, macs=12.4e9 * 32, note=_NOTE.format(12.4)),
    normalization=NORMALIZATION, results="Charades 58.6% mAP attributed to AssembleNet-101 (PapersWithCode)",
    build=partial(assemblenet, 101),
))
register(ModelEntry(
    "assemblenet_plus50", "assemblenet", PAPER_PLUS,
    Reference(32, 224, f"{REF_EVA} §3.8", note=(
        "no published or derived parameter or MAC count exists for AssembleNet++ (its tables are UNCONFIRMED); "
        "vidnas's own count is the AssembleNet-50 backbone plus peer-attention dense layers")),
    normalization=NORMALIZATION, build=partial(assemblenet, 50, peer_attention=True),
))
