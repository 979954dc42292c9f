"""The one builder: any genotype -> VidNet (nn.Module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vidnas.build._builder import BuildContext, build_layer, build_sequence
from vidnas.build._model import VidNet
from vidnas.genotype import Genotype, load_genotype, parse_genotype
from vidnas.ops import ClassifierHead, WeightedFusion
from vidnas.ops.init import initialise


def as_genotype(genotype: Genotype | dict[str, Any] | str | Path) -> Genotype:
    """Accept a Genotype, a dict, JSON text or a path to a JSON file."""
    if isinstance(genotype, Genotype):
        return genotype
    if isinstance(genotype, dict):
        return parse_genotype(genotype)
    if isinstance(genotype, Path) or (isinstance(genotype, str) and not genotype.lstrip().startswith("{")):
        return load_genotype(genotype)
    return parse_genotype(genotype)


def build_model(
    genotype: Genotype | dict[str, Any] | str | Path,
    *,
    num_classes: int | None = None,
    seed: int | None = None,
) -> VidNet:
    """Build the network a genotype describes. Shapes are checked first; nothing is allocated for a bad genotype.

    ``num_classes`` overrides the head's class count; ``seed`` makes the initial weights reproducible without
    touching the global RNG.
    """
    genotype = as_genotype(genotype)
    if num_classes is not None and num_classes != genotype.head.num_classes:
        genotype = genotype.with_num_classes(num_classes)
    shapes = genotype.check()
    ctx = BuildContext(norm_momentum=genotype.norm.momentum, norm_eps=genotype.norm.eps)
    devices = [] if seed is None else None
    with torch.random.fork_rng(devices=devices or [], enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        nodes, fusions = {}, {}
        for index, node in enumerate(genotype.nodes):
            edges = genotype.node_inputs(index)
            in_shapes = [shapes[e.source] for e in edges]
            if len(edges) > 1:
                fusions[node.name] = WeightedFusion(
                    [s.channels for s in in_shapes],
                    [s.height for s in in_shapes],
                    [e.weight for e in edges],
                    [e.learnable for e in edges],
                    node.fusion,
                    [e.source for e in edges],
                )
                fused = genotype._fused_shape(node, in_shapes, f"nodes[{index}]")
            else:
                fused = in_shapes[0]
            nodes[node.name], _ = build_sequence(list(node.layers), fused, ctx)
        head_spec = genotype.head
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
        initialise(model, init.distribution, init.mode, init.gain, init.dense_std)
    return model


__all__ = ["BuildContext", "VidNet", "as_genotype", "build_layer", "build_model", "build_sequence"]
