"""The one builder: any genotype -> VidNet (nn.Module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vidnas.genotype import AnyGenotype, Ensemble, Genotype, load_genotype, parse_genotype
from vidnas.network._builder import BuildContext, build_layer, build_sequence
from vidnas.network._model import EnsembleNet, VidNet, streaming_blockers
from vidnas.ops import ClassifierHead, WeightedFusion
from vidnas.ops.init import initialise


def as_genotype(genotype: AnyGenotype | dict[str, Any] | str | Path) -> AnyGenotype:
    """Accept a Genotype or Ensemble, a dict, JSON text or a path to a JSON file."""
    if isinstance(genotype, (Genotype, Ensemble)):
        return genotype
    if isinstance(genotype, dict):
        return parse_genotype(genotype)
    if isinstance(genotype, Path) or (isinstance(genotype, str) and not genotype.lstrip().startswith("{")):
        return load_genotype(genotype)
    return parse_genotype(genotype)


def build_model(
    genotype: AnyGenotype | dict[str, Any] | str | Path,
    *,
    num_classes: int | None = None,
    seed: int | None = None,
) -> VidNet | EnsembleNet:
    """Build the network a genotype describes. Shapes are checked first; nothing is allocated for a bad genotype.

    ``num_classes`` overrides the head's class count; ``seed`` makes the initial weights reproducible without
    touching the global RNG. An Ensemble builds into an EnsembleNet of its members.
    """
    genotype = as_genotype(genotype)
    if num_classes is not None:
        genotype = genotype.with_num_classes(num_classes)
    genotype.check()
    with torch.random.fork_rng(devices=[], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        if isinstance(genotype, Ensemble):
            return EnsembleNet(genotype, [_build_network(member) for member in genotype.members])
        return _build_network(genotype)


def _build_network(genotype: Genotype) -> VidNet:
    shapes = genotype.check()
    ctx = BuildContext(norm_momentum=genotype.norm.momentum, norm_eps=genotype.norm.eps)
    nodes, fusions = {}, {}
    for index, node in enumerate(genotype.nodes):
        edges = genotype.node_inputs(index)
        in_shapes = [shapes[e.source] for e in edges]
        if len(edges) > 1 or node.attention != "none":
            peers = genotype.peers(index) if node.attention == "peer" else []
            fusions[node.name] = WeightedFusion(
                [s.channels for s in in_shapes],
                [s.height for s in in_shapes],
                [e.weight for e in edges],
                [e.learnable for e in edges],
                node.fusion,
                [e.source for e in edges],
                node.attention,
                [shapes[p].channels for p in peers],
            )
        fused = genotype._fused_shape(node, in_shapes, f"nodes[{index}]")
        nodes[node.name], _ = build_sequence(list(node.layers), fused, ctx, f"nodes[{index}].layers")
    head_spec = genotype.head
    features = shapes[genotype.head_sources()[0]].channels
    widths = [features, *head_spec.hidden, head_spec.num_classes]
    ctx.reserve(sum(a * b for a, b in zip(widths, widths[1:])), "head", f"a head from {features} features through {widths[1:-1]} to {head_spec.num_classes} classes")
    head = ClassifierHead(
        shapes[genotype.head_sources()[0]].channels,
        head_spec.num_classes,
        head_spec.hidden,
        head_spec.hidden_bias,
        head_spec.act,
        head_spec.dropout,
        head_spec.pool,
        head_spec.temporal_window,
    )
    model = VidNet(genotype, shapes, nodes, fusions, head)
    init = genotype.init
    initialise(model, init.distribution, init.mode, init.gain, init.dense_std, zero_init=ctx.zero_init)
    return model


__all__ = ["BuildContext", "EnsembleNet", "VidNet", "as_genotype", "build_layer", "build_model", "build_sequence", "streaming_blockers"]
