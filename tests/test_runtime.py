"""Inference runtimes: every runtime's outputs equal the eager network's (clips and streaming steps, any batch),
the selection measures and reports, the onnxruntime step writes into preallocated buffers, and the CLI uses it."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from vidnas import create_model
from vidnas.errors import VidnasError
from vidnas.runtime import RUNTIMES, TOLERANCE, RuntimeUnavailable, make_runtime, select_runtime
from vidnas.stream import NotStreamableError

pytest.importorskip("onnxruntime")


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def stream_model() -> torch.nn.Module:
    return create_model("movinet_a0_stream", num_classes=5, seed=0).eval()


def _with_bn_statistics(model: torch.nn.Module) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(1)
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):  # folding must use them
        bn.running_mean.copy_(torch.rand(bn.running_mean.shape, generator=generator) - 0.5)
        bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=generator) + 0.5)
    return model


def test_every_runtime_matches_eager_on_clips_of_any_batch() -> None:
    model = _with_bn_statistics(create_model("x3d_xs", num_classes=6, seed=0).eval())
    selection = select_runtime(model, mode="clip", batch=2, frames=4, size=32, repeats=2)
    assert set(selection.errors) == set(RUNTIMES) and not selection.unavailable
    assert all(error <= TOLERANCE for error in selection.errors.values())
    assert set(selection.timings_ms) == set(RUNTIMES) and selection.name == min(selection.timings_ms, key=selection.timings_ms.get)
    x = torch.randn(3, 3, 4, 32, 32)  # another batch than the one measured
    with torch.no_grad():
        expected = model(x)
    for name in RUNTIMES:
        runtime = make_runtime(name, model, mode="clip", frames=4, size=32)
        got = runtime(x)
        assert got.shape == (3, 6) and _relative(got, expected) <= TOLERANCE, name


def test_streaming_runtimes_match_eager_step_by_step(stream_model: torch.nn.Module) -> None:
    clip = torch.rand(2, 3, 5, 32, 32, generator=torch.Generator().manual_seed(0))
    state = stream_model.init_state(2, 32)
    expected = []
    with torch.no_grad():
        for t in range(5):
            logits, state = stream_model.stream_step(clip[:, :, t : t + 1], state)
            expected.append(logits)
    for name in RUNTIMES:
        runtime = make_runtime(name, stream_model, mode="stream", size=32)
        state = runtime.init_state(2, 32)
        for t in range(5):
            logits, state = runtime.stream_step(clip[:, :, t : t + 1], state)
            assert _relative(logits, expected[t]) <= TOLERANCE, (name, t)
        several, _ = runtime.stream_step(clip, runtime.init_state(2, 32))  # five frames in one call
        assert _relative(several, expected[-1]) <= TOLERANCE, name


def test_the_onnxruntime_step_reuses_three_preallocated_buffer_sets(stream_model: torch.nn.Module) -> None:
    runtime = make_runtime("onnxruntime", stream_model, mode="stream", size=32)
    state = runtime.init_state(1, 32)
    given = {k: v.clone() for k, v in state.items()}
    logits, after = runtime.stream_step(torch.rand(1, 3, 1, 32, 32), state)
    assert all(torch.equal(state[k], given[k]) for k in state)  # the state passed in is never written
    pointers = set()
    for _ in range(9):
        previous = {k: v.clone() for k, v in after.items()}
        _, new = runtime.stream_step(torch.rand(1, 3, 1, 32, 32), after)
        assert all(torch.equal(after[k], previous[k]) for k in after)  # nor the one returned last
        pointers.add(tuple(v.data_ptr() for v in new.values()))
        after = new
    assert len(pointers) <= 3  # no state allocated per step


def test_forcing_a_runtime_and_the_errors(stream_model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    forced = select_runtime(stream_model, mode="stream", runtime="deploy", size=32, repeats=1)
    assert forced.name == "deploy" and list(forced.timings_ms) == ["deploy"] and "runtime: deploy" in forced.summary()
    with pytest.raises(VidnasError, match="unknown runtime 'tflite'.*eager, deploy, onnxruntime, torchscript"):
        select_runtime(stream_model, runtime="tflite")
    with pytest.raises(NotStreamableError, match="x3d_xs cannot stream"):
        select_runtime(create_model("x3d_xs"), mode="stream")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(RuntimeUnavailable, match="onnxruntime is not installed"):
        make_runtime("onnxruntime", stream_model, mode="stream")
    selection = select_runtime(stream_model, mode="stream", size=32, repeats=1)
    assert "not installed" in selection.unavailable["onnxruntime"] and selection.name != "onnxruntime"
    assert "unavailable: onnxruntime" in selection.summary()


def test_cli_stream_benchmark_eval_and_profile_use_the_runtimes(tmp_path) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from vidnas.cli import app
    from vidnas.data import synthesize

    data = synthesize(tmp_path / "data", classes=2, train_per_class=2, val_per_class=1, size=32, frames=12, seed=1)
    videos = sorted(str(p) for p in (tmp_path / "data").rglob("*.mp4"))[:2]
    runner = CliRunner()
    bench = runner.invoke(app, ["stream", *videos, "--model", "movinet_a0_stream", "--size", "32", "--benchmark", "--runtime", "onnxruntime"])
    assert bench.exit_code == 0, bench.output
    assert "runtime: onnxruntime" in bench.stderr
    last = bench.stdout.strip().splitlines()[-1]
    assert last.startswith("step_ms=") and float(last.split("=")[1]) > 0
    profiled = runner.invoke(app, ["profile", "movinet_a0", "--frames", "2", "--size", "32", "--latency", "--runs", "2", "--json"])
    assert profiled.exit_code == 0, profiled.output
    runtimes = json.loads(profiled.stdout)["runtimes"]
    assert set(runtimes["timings_ms"]) == set(RUNTIMES) and runtimes["runtime"] in RUNTIMES
    trained = runner.invoke(app, ["train", "movinet_a0", "--out", str(tmp_path / "run"), "--data", str(data["train"]), "--val", str(data["val"]),
                                  "--classes", str(data["classes"]), "--frames", "2", "--size", "32", "--max-steps", "1", "--batch-size", "2"])
    assert trained.exit_code == 0, trained.output
    answers = {}
    for name in ("eager", "onnxruntime"):
        evaluated = runner.invoke(app, ["eval", str(tmp_path / "run"), "--data", str(data["val"]), "--classes", str(data["classes"]), "--runtime", name, "--json"])
        assert evaluated.exit_code == 0, evaluated.output
        answers[name] = json.loads(evaluated.stdout)
        assert answers[name]["runtime"]["runtime"] == name
    assert answers["eager"]["top1"] == answers["onnxruntime"]["top1"]
    assert answers["eager"]["loss"] == pytest.approx(answers["onnxruntime"]["loss"], rel=1e-4)
