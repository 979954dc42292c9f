"""Tiny Video Networks (reference evanet-tvn-assemblenet.md §2.2-2.8): the network skeleton, the released
configurations and their zoo entries. ``vidnas.spaces.TVNSpace`` builds its candidates with ``create_network``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from vidnas.genotype import Genotype, Head, InitSpec, InputSpec, Node, NormSpec, TVNBlock
from vidnas.zoo._registry import REF_EVA, ModelEntry, Reference, register

PAPER = "Piergiovanni, Angelova, Ryoo. Tiny Video Networks. arXiv 1910.06961 (2019)"

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
TVN_NUMBERS = {  # [derived] §2.8: total params, conv+FC MACs, and published speed
    "tvn1": (26.04e6, 4.33e9, "37 ms CPU / 10 ms GPU per clip (blog)"),
    "tvn2": (109.06e6, 34.6e9, "65 ms CPU / 13 ms GPU per clip (blog)"),
    "tvn3": (67.24e6, 53.6e9, ""),
    "tvn4": (43.30e6, 25.9e9, ""),
    "tvn_mobile1": (7.33e6, 5.35e9, ""),
    "tvn_mobile2": (5.51e6, 5.03e9, ""),
}


def create_network(
    *, name: str, blocks: Sequence[TVNBlock], input: InputSpec, num_classes: int, dropout: float = 0.5, description: str = ""
) -> Genotype:
    """A TVN: one graph node per block (``block1`` …), global pooling, dropout, the classifier; BN momentum 0.1,
    truncated-normal fan-in init with gain 2.6 (the released code's)."""
    return Genotype(
        name=name,
        family="tvn",
        description=description,
        input=input,
        nodes=[Node(name=f"block{i + 1}", layers=[b]) for i, b in enumerate(blocks)],
        head=Head(dropout=dropout, num_classes=num_classes),
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
        return create_network(name=name, blocks=blocks, input=InputSpec(frames=2, size=224, frame_stride=1), num_classes=num_classes,
                              description=f"TVN-Mobile-{name[-1]} (Piergiovanni et al., 2019), released config")
    config = TVN_CONFIGS[name]
    blocks = [
        TVNBlock(
            spatial_type=st, spatial_kernel=sk, spatial_stride=ss, temporal_type=tt, temporal_kernel=tk,
            temporal_stride=ts, filters=f, expand=e, repeats=r, squeeze=se, context_gate=cg, skip=skip,
        )
        for st, sk, ss, tt, tk, ts, f, e, r, se, cg, skip in config["blocks"]
    ]
    return create_network(
        name=name, blocks=blocks, input=InputSpec(frames=config["frames"], size=config["size"], frame_stride=config["stride"]),
        num_classes=num_classes, description=f"Tiny Video Network {name[3:]} (Piergiovanni et al., 2019), released config",
    )


for _name, (_params, _macs, _results) in TVN_NUMBERS.items():
    _spec = TVN_CONFIGS.get(_name, {"frames": 2, "size": 224})
    register(ModelEntry(
        _name, "tvn", PAPER,
        Reference(_spec["frames"], _spec["size"], f"{REF_EVA} §2.8 [derived from the released config]", params=_params, macs=_macs,
                  note="derived under the released-code semantics; the paper's own table is not accessible"),
        results=_results, build=partial(tvn, _name),
    ))
