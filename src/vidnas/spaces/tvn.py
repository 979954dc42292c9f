"""Tiny Video Networks space (reference evanet-tvn-assemblenet.md §2.5-2.6): input frames, resolution and
frame stride, the number of blocks, and per block every field of a TVN block.

The published grid is UNCONFIRMED (only values seen in the released configs are known); ``TVNSpace.paper()``
gives the observed published ranges. The defaults are a proxy-scale grid for CPU search on small clips, and it
is narrower than the paper's on purpose, from measurement (``benchmarks/space_samples.py``, 300 steps on the
built-in task): with the paper's ops at 24–32 px, random samples scored a median 0.32 (1 of 15 above 0.9),
below the frame-blind 2D baseline (0.41) — most read 4 frames, ran one block, or had spatial pooling and
stride 3 as their only spatial ops, which at these sizes leaves nothing but 1×1 convs to learn with. So the
proxy grid reads 8–16 frames at 24–32 px (a clip spans at most ``max_span`` = 16 source frames, the built-in
clips' length), runs 2–4 blocks, downsamples by at most 2 per block, and its spatial ops are convolutions
(``std``, ``1std``, ``depth``; pooling stays available as a temporal op and in ``paper()``). Every option list is
a constructor parameter. Motion-aware answers — a 3D-CNN-like chain of ``1std`` k×k spatial convs and k×1×1
temporal convs over 16 frames (three such blocks: 1.8 ms, 17 MMACs, 0.95 after 300 steps) — lie inside a 10 ms
CPU limit.
"""

from __future__ import annotations

import random
from typing import Any

from vidnas.errors import GenotypeError
from vidnas.genotype import Genotype, InputSpec, TVNBlock
from vidnas.spaces._base import Choice, SearchSpace, Values, nearest
from vidnas.zoo.tvn import create_network

BLOCK_FIELDS = (
    "spatial_type", "spatial_kernel", "spatial_stride", "temporal_type", "temporal_kernel", "temporal_stride",
    "filters", "expand", "repeats", "skip", "squeeze", "context_gate",
)


class TVNSpace(SearchSpace):
    name = "tvn"

    def __init__(
        self,
        num_classes: int = 8,
        *,
        frames: tuple[int, ...] = (8, 16),
        sizes: tuple[int, ...] = (24, 32),
        frame_strides: tuple[int, ...] = (1, 2),
        max_span: int | None = 16,
        min_blocks: int | None = None,
        max_blocks: int = 4,
        spatial_types: tuple[str, ...] = ("std", "1std", "depth"),
        spatial_kernels: tuple[int, ...] = (3, 4, 5),
        spatial_strides: tuple[int, ...] = (1, 2),
        temporal_types: tuple[str, ...] = ("1d", "maxpool", "avgpool"),
        temporal_kernels: tuple[int, ...] = (1, 2, 3, 5),
        temporal_strides: tuple[int, ...] = (1, 2),
        filters: tuple[int, ...] = (16, 24, 32, 48, 64),
        expands: tuple[int, ...] = (1, 2, 4, 6),
        repeats: tuple[int, ...] = (1, 2, 3),
        squeezes: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75),
        dropout: float = 0.5,
    ):
        super().__init__(num_classes)
        min_blocks = min(2, max_blocks) if min_blocks is None else min_blocks  # one block learns too little at proxy scale
        self.options: dict[str, tuple[Any, ...]] = dict(
            frames=tuple(frames), size=tuple(sizes), frame_stride=tuple(frame_strides),
            num_blocks=tuple(range(min_blocks, max_blocks + 1)),
            spatial_type=tuple(spatial_types), spatial_kernel=tuple(spatial_kernels), spatial_stride=tuple(spatial_strides),
            temporal_type=tuple(temporal_types), temporal_kernel=tuple(temporal_kernels), temporal_stride=tuple(temporal_strides),
            filters=tuple(filters), expand=tuple(expands), repeats=tuple(repeats), skip=(False, True),
            squeeze=tuple(squeezes), context_gate=(False, True),
        )
        if not 1 <= min_blocks <= max_blocks:
            raise GenotypeError("num_blocks", f"min_blocks must be from 1 to max_blocks ({max_blocks}), got {min_blocks}")
        self.min_blocks, self.max_blocks = min_blocks, max_blocks
        self.dropout = dropout
        self.max_span = max_span

    @classmethod
    def paper(cls, num_classes: int = 157) -> "TVNSpace":
        """The value ranges observed in the released TVN configs (reference §2.5)."""
        return cls(
            num_classes, frames=(2, 4, 8, 16), sizes=(128, 160, 224, 256), frame_strides=(1, 2, 4, 7), min_blocks=1, max_blocks=7,
            spatial_kernels=(2, 3, 4, 5), spatial_types=("std", "1std", "depth", "maxpool", "avgpool"),
            filters=(32, 64, 128, 256, 348, 512, 1024), expands=(1, 2, 3, 4, 5, 6, 8), repeats=(1, 2, 3, 4, 5, 6),
            temporal_strides=(1, 2, 3), spatial_strides=(1, 2, 3, 4), squeezes=(0.0, 0.25, 0.5, 0.75, 0.9), max_span=None,
        )

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "options": {k: list(v) for k, v in self.options.items()}}

    def input_extent(self) -> tuple[int, int]:
        spans = [(f - 1) * s + 1 for f in self.options["frames"] for s in self.options["frame_stride"]]
        return max(s for s in spans if self.max_span is None or s <= self.max_span), max(self.options["size"])

    def build_choices(self) -> list[Choice]:
        out = [Choice(k, self.options[k]) for k in ("frames", "size", "frame_stride", "num_blocks")]
        for i in range(self.max_blocks):
            out += [Choice(f"b{i}.{field}", self.options[field]) for field in BLOCK_FIELDS]
        return out

    def canonical(self, values: Values) -> Values:
        values = dict(values)
        for i in range(values["num_blocks"], self.max_blocks):
            for field in BLOCK_FIELDS:
                values[f"b{i}.{field}"] = self.options[field][0]
        return values

    def decode(self, values: Values) -> Genotype:
        blocks = [
            TVNBlock(**{field: values[f"b{i}.{field}"] for field in BLOCK_FIELDS})
            for i in range(values["num_blocks"])
        ]
        return create_network(
            name="tvn_candidate", blocks=blocks, input=InputSpec(frames=values["frames"], size=values["size"], frame_stride=values["frame_stride"]),
            num_classes=self.num_classes, dropout=self.dropout,
        )

    def encode(self, genotype: Genotype) -> Values:
        blocks = [layer for node in genotype.nodes for layer in node.layers]
        if not blocks or not all(isinstance(b, TVNBlock) for b in blocks):
            raise GenotypeError("nodes", "a TVN-space genotype is a chain of tvn_block layers")
        values: Values = {
            "frames": nearest(self.options["frames"], genotype.input.frames),
            "size": nearest(self.options["size"], genotype.input.size[0]),
            "frame_stride": nearest(self.options["frame_stride"], genotype.input.frame_stride),
            "num_blocks": min(max(len(blocks), self.min_blocks), self.max_blocks),
        }
        for i in range(self.max_blocks):
            for field in BLOCK_FIELDS:
                value = getattr(blocks[i], field) if i < len(blocks) else self.options[field][0]
                values[f"b{i}.{field}"] = nearest(self.options[field], value)
        return self.canonical(values)

    def check_values(self, values: Values) -> None:
        span = (values["frames"] - 1) * values["frame_stride"] + 1
        if self.max_span is not None and span > self.max_span:
            raise GenotypeError("frame_stride", f"{values['frames']} frames {values['frame_stride']} apart span {span} source frames; the space allows {self.max_span}")
        for i in range(values["num_blocks"]):
            if values[f"b{i}.spatial_stride"] > values[f"b{i}.spatial_kernel"]:
                raise GenotypeError(f"b{i}.spatial_stride", "a stride larger than the kernel skips pixels")
            if values[f"b{i}.temporal_stride"] > max(values[f"b{i}.temporal_kernel"], 1) and values[f"b{i}.temporal_kernel"] > 1:
                raise GenotypeError(f"b{i}.temporal_stride", "a stride larger than the kernel skips frames")

    def seed_names(self) -> list[str]:
        return ["tvn1", "tvn3", "tvn4", "tvn_mobile1"]

    # -- operators -----------------------------------------------------------------------------------
    def operators(self) -> dict[str, Any]:
        return {
            "change_input": self._change_input,
            "change_block_field": self._change_field,
            "insert_block": self._insert_block,
            "delete_block": self._delete_block,
        }

    def _change_input(self, values: Values, rng: random.Random) -> Values | None:
        field = rng.choice(["frames", "size", "frame_stride"])
        other = [o for o in self.options[field] if o != values[field]]
        return dict(values, **{field: rng.choice(other)}) if other else None

    def _change_field(self, values: Values, rng: random.Random) -> Values | None:
        i = rng.randrange(values["num_blocks"])
        field = rng.choice(BLOCK_FIELDS)
        other = [o for o in self.options[field] if o != values[f"b{i}.{field}"]]
        return dict(values, **{f"b{i}.{field}": rng.choice(other)}) if other else None

    def _insert_block(self, values: Values, rng: random.Random) -> Values | None:
        n = values["num_blocks"]
        if n >= self.max_blocks:
            return None
        at = rng.randrange(n + 1)
        blocks = [{f: values[f"b{i}.{f}"] for f in BLOCK_FIELDS} for i in range(n)]
        blocks.insert(at, {f: rng.choice(self.options[f]) for f in BLOCK_FIELDS})
        return self._with_blocks(values, blocks)

    def _delete_block(self, values: Values, rng: random.Random) -> Values | None:
        n = values["num_blocks"]
        if n <= self.min_blocks:
            return None
        blocks = [{f: values[f"b{i}.{f}"] for f in BLOCK_FIELDS} for i in range(n)]
        del blocks[rng.randrange(n)]
        return self._with_blocks(values, blocks)

    def _with_blocks(self, values: Values, blocks: list[dict[str, Any]]) -> Values:
        values = dict(values, num_blocks=len(blocks))
        for i, block in enumerate(blocks):
            for field, value in block.items():
                values[f"b{i}.{field}"] = value
        return self.canonical(values)
