"""The networks a search must beat, defined once and trained with the search's own recipe and data:

* ``simple_3d_cnn``: what a person writes in a minute — conv 3×3×3 (16) → maxpool 1×2×2 → conv 3×3×3 (32) →
  maxpool 2×2×2 → conv 3×3×3 (64) → global average → linear;
* ``frame_blind_2d``: the same network with 1×3×3 kernels and spatial-only pooling, so it cannot see motion
  (it averages per-frame features): the floor any motion-aware answer must clear;
* ``scaled_zoo``: the searched family's own zoo model, snapped into the space and shrunk (one option of one
  choice at a time, the gentlest cut in MACs first) until it fits the search's limit.
"""

from __future__ import annotations

from typing import Any, Callable

from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node, Pool


def _cnn(name: str, num_classes: int, frames: int, size: int, temporal: int, widths: tuple[int, int, int]) -> Genotype:
    k = (temporal, 3, 3)
    second_pool = (2 if temporal > 1 else 1, 2, 2)
    layers = [
        Conv(out=widths[0], kernel=k, act="relu"),
        Pool(mode="max", kernel=(1, 2, 2), stride=(1, 2, 2)),
        Conv(out=widths[1], kernel=k, act="relu"),
        Pool(mode="max", kernel=second_pool, stride=second_pool),
        Conv(out=widths[2], kernel=k, act="relu"),
    ]
    description = ("hand-written baseline: three 3×3×3 convs with max pooling" if temporal > 1 else
                   "frame-blind baseline: three 1×3×3 convs with spatial max pooling, features averaged over frames")
    return Genotype(name=name, family="baseline", description=description,
                    input=InputSpec(frames=frames, size=size), nodes=[Node(name="body", layers=layers)], head=Head(num_classes=num_classes))


def simple_3d_cnn(num_classes: int, frames: int = 16, size: int = 32, widths: tuple[int, int, int] = (16, 32, 64)) -> Genotype:
    return _cnn("simple_3d_cnn", num_classes, frames, size, 3, widths)


def frame_blind_2d(num_classes: int, frames: int = 16, size: int = 32, widths: tuple[int, int, int] = (16, 32, 64)) -> Genotype:
    return _cnn("frame_blind_2d", num_classes, frames, size, 1, widths)


SCALE_CHOICES = ("frames", "size", "filters", "width", "expand", "expansion", "depth", "repeats")
"""The choices a zoo model is scaled down along (input extent, width, depth), by name in any space."""


def layer_macs(genotype: Genotype) -> float:
    """Multiply-accumulates of the genotype's layers, from shape arithmetic alone (no model is built)."""
    from vidnas.measure._predictor import genotype_ops

    return float(sum(row[4] for row in genotype_ops(genotype)))


def scaled_zoo(space: Any, fits: Callable[[Genotype], bool], macs: Callable[[Genotype], float] = layer_macs, max_cuts: int = 40) -> Genotype | None:
    """The space's first zoo seed that fits, after the fewest gentlest cuts (None when nothing fits). A cut
    moves one scaling choice (``SCALE_CHOICES``: frames, resolution, width, expansion, depth) to its next smaller
    option; among the valid cuts that lower the MACs the one that
    keeps the most is taken, so width, frames and resolution shrink together rather than one collapsing first."""
    seeds = space.seeds()
    if not seeds:
        return None
    values = space.encode(seeds[0])
    genotype = space.decode(values)
    for _ in range(max_cuts + 1):
        if fits(genotype):
            return genotype.model_copy(update={"name": f"{space.name}_zoo_scaled"})
        now = macs(genotype)
        cuts = []
        for choice in space.choices():
            options = choice.options
            current = values[choice.name]
            numeric = [o for o in options if isinstance(o, (int, float)) and not isinstance(o, bool)]
            if current not in numeric or choice.name.rsplit(".", 1)[-1] not in SCALE_CHOICES:
                continue
            smaller = [o for o in numeric if o < current]
            if not smaller:
                continue
            edited = space.canonical(dict(values, **{choice.name: max(smaller)}))
            if edited != values and space.is_valid(edited):
                cuts.append(edited)
        scored = [(cost, i) for i, v in enumerate(cuts) if (cost := macs(space.decode(v))) < now]  # a smaller stride costs more: not a cut
        if not scored:
            return None
        values = cuts[max(scored)[1]]
        genotype = space.decode(values)
    return None
