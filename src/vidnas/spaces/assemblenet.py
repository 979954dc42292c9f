"""AssembleNet space (reference evanet-tvn-assemblenet.md §3.2-3.6, §3.10): a multi-stream DAG over two RGB
stems (each with its own temporal dilation) and two optical-flow stems, then block nodes at levels 0-3 (ResNet
stages c2…c5). Choices: how many nodes each level has, per node its width F (output 4F) and temporal dilation,
whether its first block has the 3×1×1 temporal expansion (``temporal``; as published, only every second block has
one, so the proxy's one-block nodes had none and only the RGB stems saw time), and which earlier nodes feed it
(one binary choice per possible edge). Every edge carries a learnable sigmoid
connection weight, so a trained candidate reports which connections it used; connection-guided evolution
(``guided_mutate``) drops the weak ones, adds random ones, splits or merges nodes and changes dilations.

Level-3 nodes are the outputs. Sources of a node: the stems, every node of a lower level and earlier nodes of
its own level. A canonical form repairs what would be dead weight: a node without inputs takes the first RGB
stem, a node or stem that feeds nothing feeds the first node of the next level. Search-space bounds, the
guided-mutation rule and its threshold are UNCONFIRMED in the reference; ours are parameters. Default widths
are a proxy scale (AssembleNet-50's F 32/64/256/512 divided by 4, one block per node), and the proxy's dilations
stop at 4: at 8 frames a 5-tap stem of dilation 8 sees only its centre frame (a frame-blind stem). The proxy trains
with BN momentum 0.1 (released: 0.01, kept by ``paper()``), from measurement (``benchmarks/space_samples.py``, 300
steps on the built-in task): with 0.01, 20 random samples retrained at a median 0.53 (max 0.67); with 0.1 at 0.996
(min 0.990), and 0.998 with the dilation cap and the temporal choice as well (those two alone: 0.53).
"""

from __future__ import annotations

import random
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Bottleneck, Conv, Edge, Genotype, InputSpec, Node
from vidnas.spaces._base import Choice, SearchSpace, Values, nearest
from vidnas.zoo._parts import FLOW, RGB
from vidnas.zoo.assemblenet import create_blocks, create_flow_stem, create_network, create_rgb_stem

STEMS = ("rgb0", "rgb1", "flow0", "flow1")


class AssembleNetSpace(SearchSpace):
    name = "assemblenet"

    def __init__(
        self,
        num_classes: int = 8,
        *,
        frames: int = 8,
        size: int = 32,
        stem_width: int = 8,
        max_nodes: tuple[int, int, int, int] = (3, 3, 2, 1),
        widths: tuple[tuple[int, ...], ...] = ((4, 8), (8, 16), (16, 32), (32, 64)),
        inter: tuple[int, int, int, int] = (8, 16, 32, 64),
        dilations: tuple[int, ...] = (1, 2, 4),
        blocks_per_node: tuple[int, int, int, int] = (1, 1, 1, 1),
        temporal: tuple[int, ...] = (0, 1),
        edge_density: float = 0.6,
        dropout: float = 0.5,
        norm_momentum: float = 0.1,
    ):
        super().__init__(num_classes)
        self.frames, self.size, self.stem_width = frames, size, stem_width
        self.max_nodes, self.widths, self.inter = tuple(max_nodes), tuple(tuple(w) for w in widths), tuple(inter)
        self.dilations, self.blocks_per_node, self.temporal = tuple(dilations), tuple(blocks_per_node), tuple(temporal)
        self.edge_density, self.dropout, self.norm_momentum = edge_density, dropout, norm_momentum
        self.slots = [(level, k) for level in range(4) for k in range(self.max_nodes[level])]

    @classmethod
    def paper(cls, num_classes: int = 157) -> "AssembleNetSpace":
        return cls(num_classes, frames=32, size=224, stem_width=32, max_nodes=(4, 4, 2, 1),
                   widths=((32,), (64,), (128, 256), (256, 512)), inter=(64, 128, 256, 512), dilations=(1, 2, 4, 8), blocks_per_node=(3, 4, 6, 3),
                   temporal=(0,), norm_momentum=0.01)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "frames": self.frames, "size": self.size,
                "max_nodes": list(self.max_nodes), "widths": [list(w) for w in self.widths], "dilations": list(self.dilations),
                "temporal": list(self.temporal), "norm_momentum": self.norm_momentum}

    @staticmethod
    def node_name(level: int, k: int) -> str:
        return f"l{level}n{k}"

    def sources(self, level: int, k: int) -> list[str]:
        """Possible inputs of a slot: stems, lower levels, earlier slots of its level."""
        out = list(STEMS)
        for lv, kk in self.slots:
            if lv < level or (lv == level and kk < k):
                out.append(self.node_name(lv, kk))
        return out

    def input_extent(self) -> tuple[int, int]:
        return self.frames, self.size

    streams = ("rgb", "flow")

    def build_choices(self) -> list[Choice]:
        out = [Choice("rgb0.dilation", self.dilations), Choice("rgb1.dilation", self.dilations)]
        out += [Choice(f"level{level}.nodes", tuple(range(1, self.max_nodes[level] + 1))) for level in range(4)]
        for level, k in self.slots:
            name = self.node_name(level, k)
            out += [Choice(f"{name}.width", self.widths[level]), Choice(f"{name}.dilation", self.dilations), Choice(f"{name}.temporal", self.temporal)]
            out += [Choice(f"{name}<{source}", (0, 1)) for source in self.sources(level, k)]
        return out

    def active(self, values: Values) -> list[str]:
        return [self.node_name(lv, k) for lv, k in self.slots if k < values[f"level{lv}.nodes"]]

    def canonical(self, values: Values) -> Values:
        values = dict(values)
        active = set(self.active(values)) | set(STEMS)
        for level, k in self.slots:
            name = self.node_name(level, k)
            if name not in active:
                values[f"{name}.width"] = self.widths[level][0]
                values[f"{name}.dilation"] = self.dilations[0]
                values[f"{name}.temporal"] = self.temporal[0]
            for source in self.sources(level, k):
                if name not in active or source not in active:
                    values[f"{name}<{source}"] = 0
            if name in active and not any(values[f"{name}<{s}"] for s in self.sources(level, k)):
                values[f"{name}<rgb0"] = 1
        order = list(STEMS) + [self.node_name(lv, k) for lv, k in self.slots]
        for source in order:  # anything that feeds nothing feeds the first node of the next level
            if source not in active or source.startswith("l3"):
                continue
            consumers = [n for lv, k in self.slots if (n := self.node_name(lv, k)) in active and source in self.sources(lv, k)]
            if consumers and not any(values[f"{n}<{source}"] for n in consumers):
                level = int(source[1]) + 1 if source.startswith("l") else 0
                values[f"{self.node_name(level, 0)}<{source}"] = 1
        return values

    def _stem(self, name: str, values: Values) -> Node:
        if name.startswith("rgb"):
            return create_rgb_stem(name=name, width=self.stem_width, dilation=values[f"{name}.dilation"])
        return create_flow_stem(name=name, width=self.stem_width)

    def decode(self, values: Values) -> Genotype:
        values = self.canonical(values)
        nodes = [self._stem(name, values) for name in STEMS]
        for level, k in self.slots:
            name = self.node_name(level, k)
            if k >= values[f"level{level}.nodes"]:
                continue
            width, dilation = values[f"{name}.width"], values[f"{name}.dilation"]
            stride = 1 if level == 0 else 2
            layers = create_blocks(filters=width, mid=self.inter[level], dilation=dilation, stride=stride, count=self.blocks_per_node[level],
                                   temporal_first=bool(values[f"{name}.temporal"]))
            edges = [Edge(source=s) for s in self.sources(level, k) if values[f"{name}<{s}"]]
            nodes.append(Node(name=name, level=level, inputs=edges, layers=layers))
        outputs = [n.name for n in nodes if n.level == 3]
        return create_network(name="assemblenet_candidate", nodes=nodes, outputs=outputs, input=InputSpec(frames=self.frames, size=self.size, streams=[RGB, FLOW]),
                              num_classes=self.num_classes, dropout=self.dropout, norm_momentum=self.norm_momentum)

    def encode(self, genotype: Genotype) -> Values:
        by_name = {node.name: node for node in genotype.nodes}
        if not all(stem in by_name for stem in STEMS):
            return self._encode_foreign(genotype)
        values: Values = {}
        for stem in ("rgb0", "rgb1"):
            conv = by_name[stem].layers[1]
            values[f"{stem}.dilation"] = nearest(self.dilations, conv.dilation[0] if isinstance(conv, Conv) else 1)
        for level in range(4):
            values[f"level{level}.nodes"] = sum(1 for k in range(self.max_nodes[level]) if self.node_name(level, k) in by_name)
            if values[f"level{level}.nodes"] == 0:
                raise GenotypeError("nodes", f"level {level} has no node")
        for level, k in self.slots:
            name = self.node_name(level, k)
            node = by_name.get(name)
            first = node.layers[0] if node else None
            values[f"{name}.width"] = nearest(self.widths[level], first.inner) if isinstance(first, Bottleneck) else self.widths[level][0]
            values[f"{name}.dilation"] = nearest(self.dilations, first.dilation) if isinstance(first, Bottleneck) else self.dilations[0]
            values[f"{name}.temporal"] = nearest(self.temporal, int(first.expand_kernel[0] > 1)) if isinstance(first, Bottleneck) else self.temporal[0]
            inputs = {e.source for e in node.inputs} if node else set()
            for source in self.sources(level, k):
                values[f"{name}<{source}"] = int(source in inputs)
        return self.canonical(values)

    def _encode_foreign(self, genotype: Genotype) -> Values:
        """A zoo AssembleNet (stems node0-3, block nodes with levels): map nodes to slots level by level."""
        stems = [n for n in genotype.nodes if n.level is None]
        blocks = [n for n in genotype.nodes if n.level is not None]
        if len(stems) != 4 or not blocks:
            raise GenotypeError("nodes", "an AssembleNet-space genotype has 4 stems (2 RGB, 2 flow) and leveled block nodes")
        rename = dict(zip([s.name for s in stems], STEMS))
        counters = [0, 0, 0, 0]
        for node in blocks:
            level = min(node.level, 3)
            if counters[level] < self.max_nodes[level]:
                rename[node.name] = self.node_name(level, counters[level])
            counters[level] += 1
        values: Values = {}
        for stem, new in zip(stems, STEMS):
            if new.startswith("rgb"):
                conv = stem.layers[1]
                values[f"{new}.dilation"] = nearest(self.dilations, conv.dilation[0] if isinstance(conv, Conv) else 1)
        for level in range(4):
            values[f"level{level}.nodes"] = max(1, min(counters[level], self.max_nodes[level]))
        inverse = {v: k for k, v in rename.items()}
        originals = {n.name: n for n in genotype.nodes}
        for level, k in self.slots:
            name = self.node_name(level, k)
            node = originals.get(inverse.get(name, ""))
            first = node.layers[0] if node else None
            values[f"{name}.width"] = nearest(self.widths[level], first.inner) if isinstance(first, Bottleneck) else self.widths[level][0]
            values[f"{name}.dilation"] = nearest(self.dilations, first.dilation) if isinstance(first, Bottleneck) else self.dilations[0]
            values[f"{name}.temporal"] = nearest(self.temporal, int(first.expand_kernel[0] > 1)) if isinstance(first, Bottleneck) else self.temporal[0]
            inputs = {rename.get(e.source) for e in node.inputs} if node else set()
            for source in self.sources(level, k):
                values[f"{name}<{source}"] = int(source in inputs)
        return self.canonical(values)

    def seed_names(self) -> list[str]:
        return ["assemblenet50"]

    def sample_values(self, rng: random.Random) -> Values:
        """Over-connected candidates (AssembleNet's starting population): each possible edge with probability
        ``edge_density``."""
        for _ in range(self.max_tries):
            values = {}
            for choice in self.choices():
                if "<" in choice.name:
                    values[choice.name] = int(rng.random() < self.edge_density)
                else:
                    values[choice.name] = rng.choice(choice.options)
            values = self.canonical(values)
            if self.is_valid(values):
                return values
        raise GenotypeError("<space>", f"{self.name}: no valid architecture in {self.max_tries} random draws")

    # -- operators -----------------------------------------------------------------------------------
    def operators(self) -> dict[str, Any]:
        operators = {"add_edge": self._add_edge, "remove_edge": self._remove_edge, "split_node": self._split,
                     "merge_nodes": self._merge, "change_dilation": self._change_dilation, "change_width": self._change_width}
        if len(self.temporal) > 1:
            operators["toggle_temporal"] = self._toggle_temporal
        return operators

    def _edges(self, values: Values, present: int) -> list[str]:
        active = set(self.active(values)) | set(STEMS)
        return [key for key in values if "<" in key and values[key] == present
                and key.split("<")[0] in active and key.split("<")[1] in active]

    def _add_edge(self, values: Values, rng: random.Random) -> Values | None:
        missing = self._edges(values, 0)
        return dict(values, **{rng.choice(missing): 1}) if missing else None

    def _remove_edge(self, values: Values, rng: random.Random) -> Values | None:
        present = self._edges(values, 1)
        return dict(values, **{rng.choice(present): 0}) if present else None

    def _split(self, values: Values, rng: random.Random) -> Values | None:
        """A node becomes two of the same level: the new one copies its width and dilation, takes half of its
        inputs (at least one) and feeds the same consumers."""
        levels = [lv for lv in range(4) if values[f"level{lv}.nodes"] < self.max_nodes[lv]]
        if not levels:
            return None
        level = rng.choice(levels)
        k_new = values[f"level{level}.nodes"]
        parent = self.node_name(level, rng.randrange(k_new))
        child = self.node_name(level, k_new)
        values = dict(values, **{f"level{level}.nodes": k_new + 1})
        for field in ("width", "dilation", "temporal"):
            values[f"{child}.{field}"] = values[f"{parent}.{field}"]
        inputs = [s for s in self.sources(level, int(parent.split("n")[1])) if values[f"{parent}<{s}"]]
        rng.shuffle(inputs)
        moved = inputs[: max(1, len(inputs) // 2)]
        for source in moved:
            values[f"{child}<{source}"] = 1
            if len(inputs) > 1:
                values[f"{parent}<{source}"] = 0
        for lv, k in self.slots:
            name = self.node_name(lv, k)
            if f"{name}<{parent}" in values and f"{name}<{child}" in values and values[f"{name}<{parent}"]:
                values[f"{name}<{child}"] = 1
        return values

    def _merge(self, values: Values, rng: random.Random) -> Values | None:
        """The last node of a level is folded into another node of that level (inputs and consumers united)."""
        levels = [lv for lv in range(4) if values[f"level{lv}.nodes"] > 1]
        if not levels:
            return None
        level = rng.choice(levels)
        n = values[f"level{level}.nodes"]
        gone, keep = self.node_name(level, n - 1), self.node_name(level, rng.randrange(n - 1))
        values = dict(values)
        for source in self.sources(level, n - 1):
            if values[f"{gone}<{source}"] and f"{keep}<{source}" in values:
                values[f"{keep}<{source}"] = 1
        for lv, k in self.slots:
            name = self.node_name(lv, k)
            if f"{name}<{gone}" in values and values[f"{name}<{gone}"] and f"{name}<{keep}" in values:
                values[f"{name}<{keep}"] = 1
        values[f"level{level}.nodes"] = n - 1
        return values

    def _change_dilation(self, values: Values, rng: random.Random) -> Values | None:
        key = rng.choice(["rgb0.dilation", "rgb1.dilation"] + [f"{n}.dilation" for n in self.active(values)])
        return dict(values, **{key: rng.choice([d for d in self.dilations if d != values[key]])})

    def _toggle_temporal(self, values: Values, rng: random.Random) -> Values | None:
        key = f"{rng.choice(self.active(values))}.temporal"
        return dict(values, **{key: rng.choice([t for t in self.temporal if t != values[key]])})

    def _change_width(self, values: Values, rng: random.Random) -> Values | None:
        name = rng.choice(self.active(values))
        options = self.widths[int(name[1])]
        other = [w for w in options if w != values[f"{name}.width"]]
        return dict(values, **{f"{name}.width": rng.choice(other)}) if other else None

    def guided_mutate(
        self, genotype: Genotype | Values, weights: dict[str, dict[str, float]], rng: random.Random, *, threshold: float = 0.25, count: int = 1
    ) -> tuple[Genotype, list[str]]:
        """Connection-guided mutation: drop every edge whose learned sigmoid weight is below ``threshold`` (the
        weakest one if none is), then apply ``count`` random operators (add edges, split or merge nodes, change
        dilations or widths)."""
        values = self.encode(genotype) if isinstance(genotype, Genotype) else self.canonical(genotype)
        learned = [(w, node, source) for node, row in weights.items() for source, w in row.items() if f"{node}<{source}" in values]
        dropped = [(node, source) for w, node, source in learned if w < threshold]
        if not dropped and learned:
            _, node, source = min(learned)
            dropped = [(node, source)]
        pruned = dict(values)
        for node, source in dropped:
            pruned[f"{node}<{source}"] = 0
        applied = [f"drop_weak_edges({len(dropped)})"] if dropped else []
        pruned = self.canonical(pruned)
        if pruned != values and self.is_valid(pruned) and count <= 0:
            return self.decode(pruned), applied
        child, names = self.mutate(pruned, rng, count=max(1, count))
        return child, applied + names
