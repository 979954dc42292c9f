"""The genotype: input streams, a DAG of nodes (each a sequence of layers), a head, norm and init settings.

One record describes all five families:

* a sequence of stages/blocks (TVN, MoViNet, X3D, Auto-X3D): nodes chained one after another, or one node;
* a fixed skeleton with evolved multi-branch modules (EvaNet): ``evanet_module`` layers inside the skeleton;
* a multi-stream DAG with a weight per edge (AssembleNet): several input streams, nodes whose ``inputs``
  name earlier nodes or streams, each edge with a sigmoid connection weight, learnable or frozen.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from vidnas.errors import GenotypeError
from vidnas.genotype._layers import Layer, infer_sequence
from vidnas.genotype._types import Activation, Pair, dumps_compact, PositiveInt, Probability, Shape, Spec, output_size

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
Name = Annotated[str, Field(pattern=_NAME, max_length=64)]


class Stream(Spec):
    """One named input stream: RGB frames, optical flow (2 channels), or anything else with ``channels``."""

    name: Name = "rgb"
    modality: Literal["rgb", "flow", "gray", "depth", "other"] = "rgb"
    channels: PositiveInt = 3


class InputSpec(Spec):
    """What the network reads: ``frames`` frames of ``size`` (h, w) pixels, sampled every ``frame_stride``
    source frames (or at ``fps``), from one or more named streams."""

    frames: PositiveInt
    size: Pair
    frame_stride: PositiveInt = 1
    fps: Annotated[float, Field(gt=0)] | None = None
    streams: Annotated[list[Stream], Field(min_length=1)] = [Stream()]

    def shape(self, stream: str) -> Shape:
        for s in self.streams:
            if s.name == stream:
                return Shape(s.channels, self.frames, self.size[0], self.size[1])
        raise KeyError(stream)


def _edge_from_str(value: object) -> object:
    return {"source": value} if isinstance(value, str) else value


class Edge(Spec):
    """An input connection of a node. ``weight`` is the sigmoid connection weight in (0, 1) (None: learned from
    a small random init); ``learnable`` false freezes it (a found AssembleNet structure)."""

    source: Name
    weight: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    learnable: bool = True


EdgeField = Annotated[Edge, BeforeValidator(_edge_from_str)]


class Node(Spec):
    """A node of the graph: fuses its inputs, then runs ``layers`` in order.

    ``inputs`` empty means the previous node (or, for the first node, the only input stream). With several
    inputs, ``fusion`` ``weighted_sum`` follows AssembleNet: inputs larger than the smallest are max-pooled to
    its size, scaled by sigmoid(edge logit), summed per channel width, widths other than the largest mapped by
    a 1×1×1 conv; ``concat`` aligns and concatenates. ``level`` is the AssembleNet level (ResNet stage) of a
    block node; stems leave it unset.

    ``attention`` (AssembleNet++): ``peer`` scales every input connection channel-wise, per frame, by
    σ(Dense_c(Σ_k softmax(b_c)_k · Dense_k(GAP(x_k)))) over the peer nodes k (every earlier node of a lower
    level, stems included); ``self`` uses σ(Dense_c(GAP(x_c))). Applied after the edge weight, before the
    1×1 width matching; a single-input node gets it too."""

    name: Name
    inputs: list[EdgeField] = []
    fusion: Literal["weighted_sum", "concat"] = "weighted_sum"
    level: Annotated[int, Field(ge=0)] | None = None
    attention: Literal["none", "peer", "self"] = "none"
    layers: list[Layer] = []


class Head(Spec):
    """Classifier: pool each source node's features, average over sources, hidden dense layers, dropout, logits.

    ``pool``: ``avg`` over (t, h, w); ``soft_max_time`` gives per-frame logits z_t and returns
    Σ_t softmax_t(z_t/√T)·z_t (TVN/AssembleNet long-video head). ``temporal_window``: EvaNet's head averages
    windows of min(T, w) frames (stride 1, valid) before the classifier and then averages the positions.
    """

    sources: list[Name] = []
    pool: Literal["avg", "soft_max_time"] = "avg"
    temporal_window: PositiveInt | None = None
    hidden: list[PositiveInt] = []
    hidden_bias: bool = True
    act: Activation = "relu"
    dropout: Probability = 0.0
    num_classes: PositiveInt


class NormSpec(Spec):
    """BatchNorm settings in PyTorch convention (TF decay d corresponds to momentum 1 - d)."""

    momentum: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    eps: Annotated[float, Field(gt=0.0)] = 1e-5


class InitSpec(Spec):
    """Weight initialisation: conv kernels ~ (truncated) normal with std sqrt(gain / fan); dense N(0, dense_std²).

    EvaNet/TVN (TF-contrib variance scaling 2.0, fan-in, truncated): truncated_normal, fan_in, gain 2.6.
    X3D (c2_msra_fill): normal, fan_out, gain 2. Truncation is at ±2 std, as TF does.
    """

    distribution: Literal["normal", "truncated_normal"] = "normal"
    mode: Literal["fan_in", "fan_out"] = "fan_out"
    gain: Annotated[float, Field(gt=0.0)] = 2.0
    dense_std: Annotated[float, Field(gt=0.0)] = 0.01


FINGERPRINT_EXCLUDES = ("name", "family", "description")


class _Document(Spec):
    """Serialising and fingerprinting shared by the top-level records."""

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """JSON-ready dict; fields at their default are left out unless ``full``."""
        return self.model_dump(mode="json", exclude_defaults=not full)

    def to_json(self, *, indent: int | None = 2, full: bool = False) -> str:
        """JSON text; ``indent`` None gives one line, else short lists and objects stay on one line."""
        if indent is None:
            return json.dumps(self.to_dict(full=full), separators=(",", ":"))
        return dumps_compact(self.to_dict(full=full), indent=indent)

    def fingerprint(self) -> str:
        """Stable content hash of the architecture (name, family and description excluded): 16 hex digits.

        Hashes the canonical JSON without default-valued fields, so a field added later with a default that
        keeps the old behaviour leaves existing fingerprints (and stored studies) unchanged.
        """
        return _fingerprint(self.to_dict(full=False))


def _fingerprint(data: dict[str, Any]) -> str:
    data = {k: v for k, v in data.items() if k not in FINGERPRINT_EXCLUDES}
    if "members" in data:
        data["members"] = [{k: v for k, v in m.items() if k not in FINGERPRINT_EXCLUDES} for m in data["members"]]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Genotype(_Document):
    """A complete, buildable video network description. See the module docstring."""

    schema_version: Literal[1] = 1
    name: str = "unnamed"
    family: str = "custom"
    description: str = ""
    input: InputSpec
    nodes: Annotated[list[Node], Field(min_length=1)]
    head: Head
    norm: NormSpec = NormSpec()
    init: InitSpec = InitSpec()

    # ----------------------------------------------------------------------------------------- graph
    def node_inputs(self, index: int) -> list[Edge]:
        """The node's inputs with the implicit default made explicit."""
        node = self.nodes[index]
        if node.inputs:
            return list(node.inputs)
        if index > 0:
            return [Edge(source=self.nodes[index - 1].name)]
        return [Edge(source=self.input.streams[0].name)]

    def peers(self, index: int) -> list[str]:
        """Names of the peer nodes of node ``index`` for peer attention: earlier nodes of a lower level (stems,
        whose level is unset, count as below level 0)."""
        level = self.nodes[index].level
        if level is None:
            return []
        return [n.name for n in self.nodes[:index] if n.level is None or n.level < level]

    def head_sources(self) -> list[str]:
        return list(self.head.sources) or [self.nodes[-1].name]

    def check(self) -> dict[str, Shape]:
        """Check references and infer every node's output shape; raise GenotypeError naming the first problem.

        Returns the output shape of every stream and node, by name.
        """
        shapes: dict[str, Shape] = {}
        stream_names = [s.name for s in self.input.streams]
        for i, name in enumerate(stream_names):
            if name in shapes:
                raise GenotypeError(f"input.streams[{i}].name", f"'{name}' is used twice")
            shapes[name] = self.input.shape(name)
        if len(stream_names) > 1 and not self.nodes[0].inputs:
            raise GenotypeError("nodes[0].inputs", f"must name one of the input streams {stream_names}")
        for index, node in enumerate(self.nodes):
            path = f"nodes[{index}]"
            if node.name in shapes:
                raise GenotypeError(f"{path}.name", f"'{node.name}' is already used by a stream or an earlier node")
            edges = self.node_inputs(index)
            seen: set[str] = set()
            for e, edge in enumerate(edges):
                if edge.source not in shapes:
                    raise GenotypeError(
                        f"{path}.inputs[{e}].source",
                        f"'{edge.source}' is not an input stream or an earlier node (nodes are in topological order)",
                    )
                if edge.source in seen:
                    raise GenotypeError(f"{path}.inputs[{e}].source", f"'{edge.source}' is connected twice")
                seen.add(edge.source)
            if node.attention == "peer":
                if node.level is None:
                    raise GenotypeError(f"{path}.level", "peer attention needs the node's level (peers are lower-level nodes)")
                if not self.peers(index):
                    raise GenotypeError(f"{path}.attention", "no earlier node has a lower level to attend to")
            if node.attention != "none" and node.fusion == "concat":
                raise GenotypeError(f"{path}.attention", "attention applies to weighted_sum fusion, not concat")
            fused = self._fused_shape(node, [shapes[e.source] for e in edges], path)
            shapes[node.name] = infer_sequence(list(node.layers), fused, f"{path}.layers")
        sources = self.head_sources()
        widths = set()
        for i, source in enumerate(sources):
            if source not in shapes or source in stream_names:
                raise GenotypeError(f"head.sources[{i}]", f"'{source}' is not a node")
            widths.add(shapes[source].channels)
        if len(widths) > 1:
            raise GenotypeError("head.sources", f"the head averages its sources, so they need one width; got {sorted(widths)}")
        if self.head.temporal_window is not None and self.head.pool != "avg":
            raise GenotypeError("head.temporal_window", "only applies to pool 'avg'")
        return shapes

    @staticmethod
    def _fused_shape(node: Node, shapes: list[Shape], path: str) -> Shape:
        if len(shapes) == 1:
            return shapes[0]
        frames = {s.frames for s in shapes}
        if len(frames) > 1:
            raise GenotypeError(f"{path}.inputs", f"inputs must have the same number of frames, got {sorted(frames)}")
        smallest = min(shapes, key=lambda s: s.height)
        for e, shape in enumerate(shapes):
            window = (shape.height + 1) // smallest.height
            aligned = (output_size(shape.height, window, window, 1, "same"), output_size(shape.width, window, window, 1, "same"))
            if aligned != (smallest.height, smallest.width):
                raise GenotypeError(
                    f"{path}.inputs[{e}]",
                    f"a {shape.height}x{shape.width} input cannot be max-pooled to the smallest input's "
                    f"{smallest.height}x{smallest.width}",
                )
        if node.fusion == "concat":
            return smallest.with_channels(sum(s.channels for s in shapes))
        return smallest.with_channels(max(s.channels for s in shapes))

    # ------------------------------------------------------------------------------------ variants
    def with_input(self, *, frames: int | None = None, size: int | tuple[int, int] | None = None) -> "Genotype":
        """A copy reading a different clip length or frame size."""
        update: dict[str, Any] = {}
        if frames is not None:
            update["frames"] = frames
        if size is not None:
            update["size"] = (size, size) if isinstance(size, int) else tuple(size)
        if not update:
            return self
        data = self.to_dict(full=True)
        data["input"].update(update)
        return Genotype.model_validate(data)

    def with_num_classes(self, num_classes: int) -> "Genotype":
        data = self.to_dict(full=True)
        data["head"]["num_classes"] = num_classes
        return Genotype.model_validate(data)



class Ensemble(_Document):
    """A logit-averaging ensemble of member networks: EvaNet's RGB + flow ensemble, MoViNet-A6 (A4 + A5).

    Members read the input streams they name (an RGB member ``rgb``, a flow member ``flow``); streams of the
    same name must agree in channels. The ensemble's logits are the mean of the members' logits.

    ``frames``: ``shared`` — every member reads the whole clip; ``interleaved`` — the MoViNet temporal
    ensemble: of n members, member i reads frames i, i+n, i+2n, … (each at 1/n of the clip's frame rate, so
    the ensemble costs what one full-rate member would).
    """

    schema_version: Literal[1] = 1
    name: str = "unnamed"
    family: str = "custom"
    description: str = ""
    members: Annotated[list[Genotype], Field(min_length=2)]
    combine: Literal["mean_logits"] = "mean_logits"
    frames: Literal["shared", "interleaved"] = "shared"

    def streams(self) -> list[Stream]:
        """The union of the members' input streams, first occurrence first."""
        seen: dict[str, Stream] = {}
        for member in self.members:
            for stream in member.input.streams:
                seen.setdefault(stream.name, stream)
        return list(seen.values())

    def check(self) -> dict[str, Shape]:
        """Check every member, stream agreement and class counts; returns the members' shapes, prefixed."""
        shapes: dict[str, Shape] = {}
        streams: dict[str, tuple[int, int, tuple[int, int]]] = {}
        classes = self.members[0].head.num_classes
        for index, member in enumerate(self.members):
            try:
                member_shapes = member.check()
            except GenotypeError as error:
                raise GenotypeError([(f"members[{index}].{p}" if p else f"members[{index}]", m) for p, m in error.issues]) from None
            for name, shape in member_shapes.items():
                shapes[f"{index}.{name}"] = shape
            for s_index, stream in enumerate(member.input.streams):
                key = (stream.channels, member.input.frames, tuple(member.input.size))
                if streams.setdefault(stream.name, key) != key:
                    raise GenotypeError(
                        f"members[{index}].input.streams[{s_index}]",
                        f"stream '{stream.name}' must have the same channels, frames and size in every member",
                    )
            if member.head.num_classes != classes:
                raise GenotypeError(f"members[{index}].head.num_classes", f"must equal member 0's {classes}")
        if self.frames == "interleaved" and len({m.input.frames for m in self.members}) > 1:
            raise GenotypeError("frames", "interleaved members must read the same number of frames")
        return shapes

    def clip_frames(self) -> int:
        """Frames of the clip the ensemble reads."""
        count = self.members[0].input.frames
        return count * len(self.members) if self.frames == "interleaved" else count

    def with_input(self, *, frames: int | None = None, size: int | tuple[int, int] | None = None) -> "Ensemble":
        return self.model_copy(update={"members": [m.with_input(frames=frames, size=size) for m in self.members]})

    def with_num_classes(self, num_classes: int) -> "Ensemble":
        return self.model_copy(update={"members": [m.with_num_classes(num_classes) for m in self.members]})

    @property
    def num_classes(self) -> int:
        return self.members[0].head.num_classes


AnyGenotype = Genotype | Ensemble
"""Any top-level architecture record."""
