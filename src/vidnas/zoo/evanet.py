"""EvaNet (reference evanet-tvn-assemblenet.md §1.4-1.9): the fixed ResNet-like skeleton around four evolved
modules, the released Arch-1 / Arch-2 DNAs, the 4-model ensemble and their zoo entries.
``vidnas.spaces.EvaNetSpace`` builds its candidates with the same ``create_*`` parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from vidnas.genotype import (
    Conv,
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
    Stream,
)
from vidnas.zoo._parts import FLOW, RGB
from vidnas.zoo._registry import FLOW_UNIT, REF_EVA, ModelEntry, Reference, register

PAPER = "Piergiovanni, Angelova, Toshev, Ryoo. Evolving Space-Time Neural Architectures for Videos. ICCV 2019"

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
EVANET_PARAMS = {1: 32.80e6, 2: 40.30e6}  # [derived] §1.8, per member
EVANET_NORMALIZATION = {"rgb": ((0.5,) * 3, (0.5,) * 3), "flow": FLOW_UNIT}


def create_stem(*, width: int = 64, time: int = 3, type: str = "2plus1d", pool_time: int = 1) -> list[Any]:
    """The stem: a k×7×7 conv (stride 2, (2+1)D temporal-first by default) and a pool_time×3×3 max-pool (stride 2)."""
    return [
        Conv(out=width, kernel=(time, 7, 7), stride=(2, 2, 2), type=type, order="temporal_first", mid_rule="half", act="relu",
             keep_unit_factors=True),
        Pool(mode="max", kernel=(pool_time, 3, 3), stride=(2, 2, 2)),
    ]


def create_backbone(*, stem: list[Any], modules: Sequence[EvaNetModule], pool_times: Sequence[int]) -> list[Any]:
    """Stem, then the four modules with a time×2×2 max-pool (spatial stride 2) before modules 2-4."""
    layers = list(stem)
    for index, module in enumerate(modules):
        if index > 0:
            layers.append(Pool(mode="max", kernel=(pool_times[index - 1], 2, 2), stride=(1, 2, 2)))
        layers.append(module)
    return layers


def create_network(*, name: str, layers: list[Any], input: InputSpec, num_classes: int, dropout: float = 0.5, description: str = "") -> Genotype:
    """An EvaNet: the backbone in one node, a head averaging logits over windows of 2 time steps; BN momentum 0.1,
    truncated-normal fan-in init with gain 2.6."""
    return Genotype(
        name=name,
        family="evanet",
        description=description,
        input=input,
        nodes=[Node(name="backbone", layers=layers)],
        head=Head(temporal_window=2, dropout=dropout, num_classes=num_classes),
        norm=NormSpec(momentum=0.1, eps=1e-5),
        init=InitSpec(distribution="truncated_normal", mode="fan_in", gain=2.6),
    )


def parse_branch(text: str) -> EvaNetBranch:
    """A branch of the released DNA's notation: '1x1', 'MP:t' (max-pool + 1×1), 'kind:t' or 'kind:t>kind:t'."""
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
    stream: Stream = RGB if modality == "rgb" else FLOW
    modules = [EvaNetModule(width=w, repeats=r, branches=[parse_branch(b) for b in branches]) for w, r, branches in config["modules"]]
    return create_network(
        name=f"evanet_arch{arch}_{modality}",
        description=f"EvaNet Arch-{arch}, {modality} member (Piergiovanni et al., ICCV 2019), released DNA",
        layers=create_backbone(stem=create_stem(pool_time=pool1), modules=modules, pool_times=(pool1, pool3, pool4)),
        input=InputSpec(frames=32, size=224, streams=[stream]),
        num_classes=num_classes,
    )


def evanet_ensemble(num_classes: int = 400) -> Ensemble:
    """The released 4-model EvaNet ensemble: Arch-1 and Arch-2, each on RGB and on optical flow; logits averaged."""
    return Ensemble(
        name="evanet_ensemble",
        family="evanet",
        description="EvaNet ensemble (Arch-1/Arch-2 x RGB/flow), logits averaged; 77.2% Kinetics-400 top-1 reported",
        members=[evanet(1, "rgb", num_classes), evanet(1, "flow", num_classes), evanet(2, "rgb", num_classes), evanet(2, "flow", num_classes)],
    )


for _arch, _params in EVANET_PARAMS.items():
    for _modality in ("rgb", "flow"):
        register(ModelEntry(
            f"evanet_arch{_arch}_{_modality}", "evanet", PAPER,
            Reference(32, 224, f"{REF_EVA} §1.8 [derived from the released DNA]", params=_params,
                      note="RGB and flow members differ only in the stem's input channels; MACs not published"),
            normalization={_modality: EVANET_NORMALIZATION[_modality]},
            results="top-1 individual evolved model 76.4% Kinetics-400 (paper)",
            build=partial(evanet, _arch, _modality),
        ))
register(ModelEntry(
    "evanet_ensemble", "evanet", PAPER,
    Reference(32, 224, f"{REF_EVA} §1.8-1.9 [derived: the four members' totals]", params=2 * sum(EVANET_PARAMS.values())),
    normalization=EVANET_NORMALIZATION,
    results="77.2% Kinetics-400 top-1 (released 4-model ensemble)",
    build=evanet_ensemble,
))
