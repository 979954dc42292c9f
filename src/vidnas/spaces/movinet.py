"""MoViNet space (reference movinet-x3d-autox3d.md §1.3, §1.7): stem, five blocks of inverted-bottleneck
layers, 1×1×1 projection, head. Searched per block: depth and base width; per layer: expansion ratio and the
depthwise kernel from {1×3×3, 1×5×5, 1×7×7, 3×3×3, 5×3×3, 5×1×1, 7×1×1}.

Every candidate is a MoViNet-Stream network — causal (2+1)D convs, causal '2plus3d' SE, hard-swish — so
it streams frame by frame by construction. SE is fixed, not searched (as in every released layer). Each block
is its own graph node so that the encoding is read back unambiguously. The published grid values are
UNVERIFIED; the defaults are a proxy scale (A0-like widths halved) and ``MoViNetSpace.paper()`` uses the values
the reference lists as likely, with the released training settings (ReZero residuals, stochastic depth up to
0.2, BN momentum 0.01). The proxy preset trains without ReZero and stochastic depth and with BN momentum 0.1,
from measurement (``benchmarks/space_samples.py``, 300 steps on the built-in task): with the released settings
20 random samples scored a median 0.41 (max 0.50, none above the frame-blind 2D network's 0.41 by 0.1); the
best of them, retrained without ReZero and stochastic depth, reached 0.67, and with BN momentum 0.1 as well 0.76.
"""

from __future__ import annotations

import random
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Bottleneck, Genotype, InputSpec, Node, make_divisible
from vidnas.spaces._base import Choice, SearchSpace, Values, expansion_for, nearest
from vidnas.zoo.movinet import create_layer, create_network, create_projection, create_stem, drop_path_rate

KERNELS = ("133", "155", "177", "333", "533", "511", "711")
STRIDES = (2, 2, 2, 1, 2)  # the first layer of blocks 1-5 (A0-A5 all use this pattern)


class MoViNetSpace(SearchSpace):
    name = "movinet"

    def __init__(
        self,
        num_classes: int = 8,
        *,
        frames: int = 8,
        size: int = 32,
        stem: int = 8,
        widths: tuple[tuple[int, ...], ...] = ((8, 16), (16, 24, 32), (24, 32, 48), (24, 32, 48), (48, 64, 96)),
        depths: tuple[tuple[int, ...], ...] = ((1, 2), (1, 2, 3), (1, 2, 3), (1, 2, 3), (1, 2, 3)),
        expansions: tuple[float, ...] = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0),
        projection: int = 192,
        hidden: int = 256,
        dropout: float = 0.2,
        rezero: bool = False,
        drop_path: float = 0.0,
        norm_momentum: float = 0.1,
    ):
        super().__init__(num_classes)
        self.frames, self.size, self.stem = frames, size, stem
        self.widths = tuple(tuple(w) for w in widths)
        self.depths = tuple(tuple(d) for d in depths)
        self.expansions = tuple(expansions)
        self.projection, self.hidden, self.dropout = projection, hidden, dropout
        self.rezero, self.drop_path, self.norm_momentum = rezero, drop_path, norm_momentum

    @classmethod
    def paper(cls, num_classes: int = 600) -> "MoViNetSpace":
        base = (16, 24, 48, 96, 96, 192)
        return cls(
            num_classes, frames=50, size=172, stem=base[0],
            widths=tuple((make_divisible(b * 0.75, 8), b, make_divisible(b * 1.25, 8)) for b in base[1:]),
            depths=tuple(tuple(range(1, 11)) for _ in range(5)), projection=480, hidden=2048, rezero=True, drop_path=0.2, norm_momentum=0.01,
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "frames": self.frames, "size": self.size,
                "widths": [list(w) for w in self.widths], "depths": [list(d) for d in self.depths], "expansions": list(self.expansions),
                "rezero": self.rezero, "drop_path": self.drop_path, "norm_momentum": self.norm_momentum}

    def input_extent(self) -> tuple[int, int]:
        return self.frames, self.size

    def build_choices(self) -> list[Choice]:
        out = []
        for b in range(5):
            out += [Choice(f"b{b}.depth", self.depths[b]), Choice(f"b{b}.width", self.widths[b])]
            for layer in range(max(self.depths[b])):
                out += [Choice(f"b{b}.l{layer}.expansion", self.expansions), Choice(f"b{b}.l{layer}.kernel", KERNELS)]
        return out

    def canonical(self, values: Values) -> Values:
        values = dict(values)
        for b in range(5):
            width = values[f"b{b}.width"]
            for layer in range(values[f"b{b}.depth"]):
                key = f"b{b}.l{layer}.expansion"
                values[key] = expansion_for(width, make_divisible(width * values[key], 8), self.expansions)
            for layer in range(values[f"b{b}.depth"], max(self.depths[b])):
                values[f"b{b}.l{layer}.expansion"] = self.expansions[0]
                values[f"b{b}.l{layer}.kernel"] = KERNELS[0]
        return values

    def _layer(self, out: int, expansion: float, kernel: str, stride: int, index: int, total: int) -> Bottleneck:
        return create_layer(out=out, inner=make_divisible(out * expansion, 8), kernel=tuple(int(k) for k in kernel), stride=stride,  # type: ignore[arg-type]
                            drop_path=drop_path_rate(index, total, self.drop_path), stream=True, rezero=self.rezero)

    def decode(self, values: Values) -> Genotype:
        values = self.canonical(values)
        total = sum(values[f"b{b}.depth"] for b in range(5))
        nodes = [Node(name="stem", layers=[create_stem(width=self.stem, stream=True)])]
        index = 0
        for b in range(5):
            layers: list[Any] = []
            for layer in range(values[f"b{b}.depth"]):
                index += 1
                stride = STRIDES[b] if layer == 0 else 1
                layers.append(self._layer(values[f"b{b}.width"], values[f"b{b}.l{layer}.expansion"], values[f"b{b}.l{layer}.kernel"], stride, index, total))
            if b == 4:
                layers.append(create_projection(width=self.projection, stream=True))
            nodes.append(Node(name=f"block{b + 1}", layers=layers))
        return create_network(name="movinet_candidate", nodes=nodes, input=InputSpec(frames=self.frames, size=self.size), hidden=self.hidden,
                              head_act="hswish", dropout=self.dropout, num_classes=self.num_classes, norm_momentum=self.norm_momentum)

    def encode(self, genotype: Genotype) -> Values:
        bottlenecks = [layer for node in genotype.nodes for layer in node.layers if isinstance(layer, Bottleneck)]
        if not bottlenecks:
            raise GenotypeError("nodes", "a MoViNet-space genotype is made of bottleneck layers")
        if len(genotype.nodes) == 1:  # a zoo network: blocks start at stride-2 layers; block 4 (stride 1, same
            blocks: list[list[Bottleneck]] = []  # width as block 3) starts at block 3's second 5×k×k layer
            for layer in bottlenecks:
                starts = not blocks or layer.stride[1] == 2 or (len(blocks) == 3 and layer.kernel[0] == 5 and len(blocks[-1]) > 0)
                (blocks.append([layer]) if starts else blocks[-1].append(layer))
        else:
            blocks = [[layer for layer in node.layers if isinstance(layer, Bottleneck)] for node in genotype.nodes]
            blocks = [block for block in blocks if block]
        if len(blocks) != 5:
            raise GenotypeError("nodes", f"a MoViNet-space genotype has 5 blocks, found {len(blocks)}")
        values: Values = {}
        for b, block in enumerate(blocks):
            values[f"b{b}.depth"] = nearest(self.depths[b], len(block))
            values[f"b{b}.width"] = nearest(self.widths[b], block[0].out)
            for layer in range(max(self.depths[b])):
                bottleneck = block[layer] if layer < len(block) else None
                ratio = expansion_for(bottleneck.out, bottleneck.inner, self.expansions) if bottleneck else self.expansions[0]
                values[f"b{b}.l{layer}.expansion"] = ratio
                kernel = "".join(str(k) for k in bottleneck.kernel) if bottleneck else KERNELS[0]
                values[f"b{b}.l{layer}.kernel"] = kernel if kernel in KERNELS else "333"
        return self.canonical(values)

    def seed_names(self) -> list[str]:
        return ["movinet_a0_stream", "movinet_a1_stream", "movinet_t0"]

    # -- operators -----------------------------------------------------------------------------------
    def operators(self) -> dict[str, Any]:
        return {"change_depth": self._change_depth, "change_width": self._change_width,
                "change_expansion": self._change_layer("expansion"), "change_kernel": self._change_layer("kernel")}

    def _change_depth(self, values: Values, rng: random.Random) -> Values | None:
        b = rng.randrange(5)
        other = [d for d in self.depths[b] if d != values[f"b{b}.depth"]]
        return dict(values, **{f"b{b}.depth": rng.choice(other)}) if other else None

    def _change_width(self, values: Values, rng: random.Random) -> Values | None:
        b = rng.randrange(5)
        other = [w for w in self.widths[b] if w != values[f"b{b}.width"]]
        return dict(values, **{f"b{b}.width": rng.choice(other)}) if other else None

    def _change_layer(self, field: str):  # noqa: ANN202
        options = self.expansions if field == "expansion" else KERNELS

        def operator(values: Values, rng: random.Random) -> Values | None:
            b = rng.randrange(5)
            key = f"b{b}.l{rng.randrange(values[f'b{b}.depth'])}.{field}"
            return dict(values, **{key: rng.choice([o for o in options if o != values[key]])})

        return operator
