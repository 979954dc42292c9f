"""Hypothesis strategies for random genotypes: every family's records, composites and multi-stream graphs."""

from __future__ import annotations

from hypothesis import strategies as st

from vidnas.genotype import (
    Act,
    Bottleneck,
    Branches,
    ContextGate,
    Conv,
    Edge,
    EvaNetBranch,
    EvaNetModule,
    Genotype,
    Head,
    InputSpec,
    Node,
    Pool,
    Residual,
    SqueezeExcite,
    Stream,
    TVNBlock,
)

acts = st.sampled_from(["relu", "relu6", "swish", "hswish", "sigmoid", "hsigmoid", "identity"])
small = st.integers(1, 3)
odd = st.sampled_from([1, 3, 5])
widths = st.sampled_from([4, 8, 12, 16])
paddings = st.sampled_from(["same", "symmetric"])
stride = st.sampled_from([1, 2])
triples = st.tuples(odd, odd, odd)


@st.composite
def convs(draw: st.DrawFn, causal: bool | None = None) -> Conv:
    kind = draw(st.sampled_from(["3d", "2plus1d", "itgm"]))
    depthwise = kind != "itgm" and draw(st.booleans())
    return Conv(
        out=None if depthwise else draw(widths),
        kernel=draw(triples),
        stride=(1, draw(stride), draw(stride)),
        depthwise=depthwise,
        type=kind,
        order=draw(st.sampled_from(["spatial_first", "temporal_first"])),
        mid_rule=draw(st.sampled_from(["r2plus1d", "half"])),
        act=draw(st.none() | acts),
        norm=draw(st.booleans()),
        padding=draw(paddings),
        causal=draw(st.booleans()) if causal is None else causal,
        components=draw(st.integers(1, 4)),
    )


@st.composite
def squeeze_excites(draw: st.DrawFn, causal: bool | None = None) -> SqueezeExcite:
    return SqueezeExcite(
        ratio=draw(st.sampled_from([0.25, 0.5, 1 / 16])),
        divisor=draw(st.sampled_from([1, 8])),
        form=draw(st.sampled_from(["3d", "2plus3d"])),
        causal=draw(st.booleans()) if causal is None else causal,
        act=draw(acts),
        gate=draw(st.sampled_from(["sigmoid", "hsigmoid"])),
        positional_encoding=draw(st.booleans()),
    )


@st.composite
def bottlenecks(draw: st.DrawFn) -> Bottleneck:
    causal = draw(st.booleans())
    depthwise = draw(st.booleans())
    inner = draw(widths)
    return Bottleneck(
        out=draw(widths),
        inner=inner,
        mid=None if depthwise else draw(st.none() | widths),
        expand_kernel=(draw(odd), 1, 1),
        kernel=draw(triples),
        stride=(1, draw(stride), draw(stride)),
        dilation=draw(small),
        depthwise=depthwise,
        conv_type=draw(st.sampled_from(["3d", "2plus1d"])),
        act=draw(acts),
        mid_act=draw(acts),
        se=draw(st.none() | squeeze_excites(causal=True if causal else None)),
        se_before_act=draw(st.booleans()),
        out_act=draw(st.none() | acts),
        rezero=draw(st.booleans()),
        zero_init_last_norm=draw(st.booleans()),
        shortcut_pool=draw(st.booleans()),
        drop_path=draw(st.sampled_from([0.0, 0.1])),
        causal=causal,
    )


@st.composite
def tvn_blocks(draw: st.DrawFn) -> TVNBlock:
    return TVNBlock(
        spatial_type=draw(st.sampled_from(["std", "depth", "1std", "maxpool", "avgpool"])),
        spatial_kernel=draw(st.integers(1, 4)),
        spatial_stride=draw(st.integers(1, 3)),
        temporal_type=draw(st.sampled_from(["1d", "maxpool", "avgpool"])),
        temporal_kernel=draw(st.integers(1, 3)),
        temporal_stride=draw(st.integers(1, 2)),
        filters=draw(widths),
        expand=draw(st.integers(0, 3)),
        repeats=draw(small),
        skip=draw(st.booleans()),
        squeeze=draw(st.sampled_from([0.0, 0.3, 0.9])),
        context_gate=draw(st.booleans()),
        inverted_bottleneck=draw(st.booleans()),
        act=draw(st.sampled_from(["relu", "hswish"])),
        spatial_act=draw(st.sampled_from(["relu", "hswish"])),
        temporal_act=draw(st.sampled_from(["relu", "hswish"])),
        causal=draw(st.booleans()),
    )


evanet_branches = st.builds(
    EvaNetBranch,
    type=st.sampled_from(["1x1", "conv", "conv2", "maxpool_conv"]),
    conv_type=st.sampled_from(["3d", "2plus1d", "itgm"]),
    time=odd,
    conv_type2=st.sampled_from(["3d", "2plus1d", "itgm"]),
    time2=odd,
)
evanet_modules = st.builds(
    EvaNetModule,
    width=st.sampled_from([16, 24, 32]),
    repeats=small,
    branches=st.lists(evanet_branches, min_size=1, max_size=4),
)
pools = st.builds(
    Pool,
    mode=st.sampled_from(["max", "avg"]),
    kernel=triples,
    stride=st.tuples(st.just(1), stride, stride),
    padding=paddings,
    causal=st.booleans(),
)
primitives = st.one_of(
    convs(),
    pools,
    squeeze_excites(),
    st.builds(ContextGate, causal=st.booleans()),
    st.builds(Act, fn=acts),
)


def residuals(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(
        Residual,
        body=st.lists(children, min_size=1, max_size=2),
        shortcut=st.sampled_from(["auto", "project"]),
        shortcut_pool=st.booleans(),
        rezero=st.booleans(),
        act=st.none() | acts,
    )


def branch_sets(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(Branches, branches=st.lists(st.lists(children, min_size=1, max_size=2), min_size=1, max_size=3))


layers = st.recursive(
    st.one_of(primitives, bottlenecks(), tvn_blocks(), evanet_modules),
    lambda children: st.one_of(residuals(children), branch_sets(children)),
    max_leaves=4,
)


@st.composite
def genotypes(draw: st.DrawFn) -> Genotype:
    """A random genotype: one or two input streams, a chain or a DAG of nodes, any layers."""
    two_streams = draw(st.booleans())
    streams = [Stream(name="rgb", channels=3)] + ([Stream(name="flow", modality="flow", channels=2)] if two_streams else [])
    names = [s.name for s in streams]
    nodes = []
    for index in range(draw(st.integers(1, 3))):
        name = f"n{index}"
        if index == 0 and two_streams:
            sources = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
        elif index == 0:
            sources = []
        else:
            sources = draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
        edges = [
            Edge(source=s, weight=draw(st.none() | st.floats(0.01, 0.99)), learnable=draw(st.booleans())) for s in sources
        ]
        nodes.append(
            Node(
                name=name,
                inputs=edges,
                fusion=draw(st.sampled_from(["weighted_sum", "concat"])),
                level=draw(st.none() | st.integers(0, 3)),
                layers=draw(st.lists(layers, max_size=3)),
            )
        )
        names.append(name)
    head = Head(
        pool=draw(st.sampled_from(["avg", "soft_max_time"])),
        hidden=draw(st.lists(widths, max_size=1)),
        dropout=draw(st.sampled_from([0.0, 0.5])),
        num_classes=draw(st.integers(1, 10)),
    )
    return Genotype(
        name=draw(st.sampled_from(["a", "b"])),
        input=InputSpec(frames=draw(st.integers(1, 6)), size=draw(st.sampled_from([16, 24, 32])), streams=streams),
        nodes=nodes,
        head=head,
    )
