"""Auto-X3D space (reference movinet-x3d-autox3d.md §3.2): an X3D backbone whose four stages each choose a
block type, a filter count among N candidates (N odd), an inverted-bottleneck expansion ratio, an attention
block and a depth.

Concrete candidate sets are NOT FOUND in the reference; ours: block types X3D's depthwise 3×3×3, a depthwise
(2+1)D 3×3×3, a spatial-only 1×3×3 and a long-range 5×3×3; widths = the stage's base width × {0.5, 0.75, 1,
1.25, 1.5} (N = 5, rounded to multiples of 8); expansions {1.5, 2.25, 3, 4} (X3D uses 2.25); attention none,
SE on every other block (X3D's placement) or SE on every block. The default base widths and depths are a proxy
scale (X3D-S halved); ``AutoX3DSpace.paper()`` uses X3D-S's (24/48/96/192 wide, depths up to 3/5/11/7, 13 frames
at 160² every sixth frame, a 2048-wide hidden classifier layer, a stride-2 stem).

The proxy preset reads 8 frames every second frame, starts its residual blocks with γ=1 on their last BN and
classifies conv5's pooled features directly, from measurement (``benchmarks/space_samples.py``, 300 steps on
the built-in data): with X3D's hidden layer, zero-initialised residuals and consecutive frames, 20 random
samples scored a median 0.317, max 0.49, none above the frame-blind network; the best of them (0.490) retrained
without the hidden layer scored 0.616, reading every second frame 0.640, both 0.862, and with γ=1 as well 0.961
(another sample: 0.461 → 0.565 → 0.923). Its stem keeps the input's resolution (stride 1; X3D's stride 2 left
the last stage a 1×1 map at 32²): three samples of 0.930, 0.893 and 0.634 retrained at 0.992, 0.980 and 0.977
(the first two with twice the width instead: 0.931, 0.904; the first with 16 consecutive frames: 0.926). With the
stride-1 stem, 20 random samples of the proxy preset under 10 ms retrained at a median 0.989 (min 0.957, quartiles
0.977 / 0.995), all 20 ≥ 0.9, against the hand-written 3D CNN's 0.993 and the frame-blind network's 0.413.
"""

from __future__ import annotations

import random
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Bottleneck, Genotype, InputSpec, make_divisible
from vidnas.spaces._base import Choice, SearchSpace, Values, expansion_for, nearest
from vidnas.zoo.x3d import create_bottleneck, create_conv5, create_network, create_stem

BLOCK_TYPES = {"x3d": ((3, 3, 3), "3d"), "2plus1d": ((3, 3, 3), "2plus1d"), "spatial": ((1, 3, 3), "3d"), "long": ((5, 3, 3), "3d")}
ATTENTION = ("none", "se_alternate", "se_all")
WIDTH_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)


class AutoX3DSpace(SearchSpace):
    name = "autox3d"

    def __init__(
        self,
        num_classes: int = 8,
        *,
        frames: int = 8,
        size: int = 32,
        frame_stride: int = 2,
        stem: int = 16,
        base_widths: tuple[int, ...] = (16, 24, 48, 96),
        depths: tuple[tuple[int, ...], ...] = ((1, 2), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3)),
        expansions: tuple[float, ...] = (1.5, 2.25, 3.0, 4.0),
        width_factors: tuple[float, ...] = WIDTH_FACTORS,
        hidden: int | None = None,
        dropout: float = 0.5,
        zero_init: bool = False,
        stem_stride: int = 1,
    ):
        super().__init__(num_classes)
        if len(width_factors) % 2 == 0:
            raise ValueError("Auto-X3D uses an odd number N of filter candidates")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 (the proxy preset's) or 2 (X3D's), got {stem_stride!r}")
        self.frames, self.size, self.frame_stride, self.stem, self.hidden, self.dropout = frames, size, frame_stride, stem, hidden, dropout
        self.zero_init, self.stem_stride = zero_init, stem_stride
        self.base_widths = tuple(base_widths)
        self.depths = tuple(tuple(d) for d in depths)
        self.expansions = tuple(expansions)
        self.width_factors = tuple(width_factors)
        self.widths = tuple(tuple(sorted({make_divisible(b * f, 8) for f in width_factors})) for b in base_widths)

    @classmethod
    def paper(cls, num_classes: int = 400) -> "AutoX3DSpace":
        return cls(num_classes, frames=13, size=160, frame_stride=6, stem=24, base_widths=(24, 48, 96, 192),
                   depths=(tuple(range(1, 4)), tuple(range(1, 6)), tuple(range(1, 12)), tuple(range(1, 8))), hidden=2048, zero_init=True, stem_stride=2)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "frames": self.frames, "size": self.size, "frame_stride": self.frame_stride,
                "base_widths": list(self.base_widths), "depths": [list(d) for d in self.depths], "expansions": list(self.expansions),
                "hidden": self.hidden, "zero_init": self.zero_init, "stem_stride": self.stem_stride}

    def input_extent(self) -> tuple[int, int]:
        return (self.frames - 1) * self.frame_stride + 1, self.size

    def build_choices(self) -> list[Choice]:
        out = []
        for s in range(4):
            out += [
                Choice(f"s{s}.block", tuple(BLOCK_TYPES)), Choice(f"s{s}.width", self.widths[s]),
                Choice(f"s{s}.expansion", self.expansions), Choice(f"s{s}.attention", ATTENTION), Choice(f"s{s}.depth", self.depths[s]),
            ]
        return out

    def canonical(self, values: Values) -> Values:
        """Expansion ratios that round to the same inner width are one architecture: keep the smallest."""
        values = dict(values)
        for s in range(4):
            width = values[f"s{s}.width"]
            values[f"s{s}.expansion"] = expansion_for(width, make_divisible(width * values[f"s{s}.expansion"], 8), self.expansions)
        return values

    def block(self, values: Values, s: int, j: int) -> Bottleneck:
        kernel, conv_type = BLOCK_TYPES[values[f"s{s}.block"]]
        out = values[f"s{s}.width"]
        attention = values[f"s{s}.attention"]
        se = attention == "se_all" or (attention == "se_alternate" and j % 2 == 0)
        return create_bottleneck(out=out, inner=make_divisible(out * values[f"s{s}.expansion"], 8), first=j == 0, se=se, kernel=kernel,
                                 conv_type=conv_type, zero_init=self.zero_init)

    def decode(self, values: Values) -> Genotype:
        layers: list[Any] = create_stem(width=self.stem, stride=self.stem_stride)
        for s in range(4):
            layers += [self.block(values, s, j) for j in range(values[f"s{s}.depth"])]
        layers.append(create_conv5(width=values["s3.width"]))
        return create_network(name="autox3d_candidate", layers=layers, input=InputSpec(frames=self.frames, size=self.size, frame_stride=self.frame_stride), hidden=self.hidden,
                              dropout=self.dropout, num_classes=self.num_classes)

    def encode(self, genotype: Genotype) -> Values:
        stages: list[list[Bottleneck]] = []
        for layer in (layer for node in genotype.nodes for layer in node.layers):
            if isinstance(layer, Bottleneck):
                (stages.append([layer]) if layer.stride[1] == 2 or not stages else stages[-1].append(layer))
        if len(stages) != 4:
            raise GenotypeError("nodes", f"an Auto-X3D-space genotype has 4 stages of bottlenecks, found {len(stages)}")
        values: Values = {}
        for s, stage in enumerate(stages):
            first = stage[0]
            block = next((name for name, (k, t) in BLOCK_TYPES.items() if k == tuple(first.kernel) and t == first.conv_type), "x3d")
            with_se = [b.se is not None for b in stage]
            attention = "se_all" if all(with_se) else "none" if not any(with_se) else "se_alternate"
            values.update({
                f"s{s}.block": block, f"s{s}.width": nearest(self.widths[s], first.out),
                f"s{s}.expansion": expansion_for(first.out, first.inner, self.expansions), f"s{s}.attention": attention,
                f"s{s}.depth": nearest(self.depths[s], len(stage)),
            })
        return self.canonical(values)

    def supernet(self, fair: bool = True):  # noqa: ANN201 - AutoX3DSupernet
        """The weight-sharing supernet over this space (``vidnas.network.supernet``)."""
        from vidnas.network.supernet import AutoX3DSupernet

        return AutoX3DSupernet(self, fair=fair)

    def seed_names(self) -> list[str]:
        return ["x3d_xs", "x3d_s"]

    def operators(self) -> dict[str, Any]:
        def change(field: str):  # noqa: ANN202
            def operator(values: Values, rng: random.Random) -> Values | None:
                s = rng.randrange(4)
                choice = next(c for c in self.choices() if c.name == f"s{s}.{field}")
                other = [o for o in choice.options if o != values[choice.name]]
                return dict(values, **{choice.name: rng.choice(other)}) if other else None

            return operator

        return {f"change_{field}": change(field) for field in ("block", "width", "expansion", "attention", "depth")}
