"""Inference runtimes: every runtime's outputs equal the eager network's (clips and streaming steps, any batch),
the selection measures and reports, the onnxruntime step writes into preallocated buffers, and the CLI uses it."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from vidnas import create_model
from vidnas.errors import VidnasError
from vidnas.runtime import CPU_RUNTIMES, ONE_THREAD, TOLERANCE, RuntimeUnavailable, available_runtimes, make_runtime, select_runtime
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
    selection = select_runtime(model, mode="clip", batch=2, frames=4, size=32, repeats=2, threads=2)
    assert set(selection.errors) == {*available_runtimes(), ONE_THREAD} and not selection.unavailable  # onnxruntime on 2 threads and on 1
    assert all(error <= TOLERANCE for name, error in selection.errors.items() if name in CPU_RUNTIMES)
    assert set(selection.timings_ms) == {*available_runtimes(), ONE_THREAD}
    fastest = min(selection.timings_ms, key=selection.timings_ms.get)
    assert selection.name == fastest.split("@")[0] and selection.runtime.threads == (1 if fastest == ONE_THREAD else 2)
    x = torch.randn(3, 3, 4, 32, 32)  # another batch than the one measured
    with torch.no_grad():
        expected = model(x)
    for name in CPU_RUNTIMES:
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
    for name in CPU_RUNTIMES:
        runtime = make_runtime(name, stream_model, mode="stream", size=32)
        state = runtime.init_state(2, 32)
        for t in range(5):
            logits, state = runtime.stream_step(clip[:, :, t : t + 1], state)
            assert _relative(logits, expected[t]) <= TOLERANCE, (name, t)
        several, _ = runtime.stream_step(clip, runtime.init_state(2, 32))  # five frames in one call
        assert _relative(several, expected[-1]) <= TOLERANCE, name


def _steps_match_eager(runtime, model: torch.nn.Module, clip: torch.Tensor, batches: tuple[int, ...]) -> None:  # noqa: ANN001
    """Each batch of streams (the first rows of ``clip``) stepped frame by frame: logits and every float state of
    ``runtime`` within ``TOLERANCE`` of the eager network's."""
    for batch in batches:
        state, eager_state = runtime.init_state(batch, 32), model.init_state(batch, 32)
        for t in range(clip.shape[2]):
            with torch.no_grad():
                expected, eager_state = model.stream_step(clip[:batch, :, t : t + 1], eager_state)
            logits, state = runtime.stream_step(clip[:batch, :, t : t + 1], state)
            assert _relative(logits, expected) <= TOLERANCE, (batch, t)
            assert all(_relative(state[k], eager_state[k]) <= TOLERANCE for k in eager_state if state[k].is_floating_point()), (batch, t)


def test_a_fixed_batch_onnxruntime_step_matches_eager_and_falls_back_for_other_batches(stream_model: torch.nn.Module) -> None:
    import onnx

    runtime = make_runtime("onnxruntime", stream_model, mode="stream", size=32, batch=2)
    assert runtime.static_batch == 2
    dims = onnx.load(str(runtime.path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 2  # the batch is a constant of the graph, not a free dimension
    clip = torch.rand(3, 3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    _steps_match_eager(runtime, stream_model, clip, (2, 3, 1, 2))  # streams leave and join: other batches run on a free-batch graph, exported once
    assert runtime._dynamic_session is not None
    assert select_runtime(stream_model, mode="stream", runtime="onnxruntime", size=32, batch=1, repeats=1).runtime.static_batch == 1


def test_streams_split_between_concurrent_sessions_match_eager(stream_model: torch.nn.Module) -> None:
    from vidnas.runtime import SHARDED, OnnxRuntime

    runtime = OnnxRuntime(stream_model, 2, stream=True, size=32, batch=3, shards=2)
    assert runtime.shards == 2 and [(first, rows) for first, rows, _ in runtime._shards] == [(0, 2), (2, 1)]
    clip = torch.rand(3, 3, 4, 32, 32, generator=torch.Generator().manual_seed(2))
    _steps_match_eager(runtime, stream_model, clip, (3, 2, 3))  # the split batch, then two streams (a free-batch graph), then three again
    with pytest.raises(ValueError, match="at least that many streams"):
        OnnxRuntime(stream_model, 2, stream=True, size=32, batch=1, shards=2)
    selection = select_runtime(stream_model, mode="stream", runtime="onnxruntime", size=32, batch=2, threads=2, repeats=1)
    assert SHARDED in selection.timings_ms and selection.errors[SHARDED] <= TOLERANCE  # timed beside the batched session
    assert select_runtime(stream_model, mode="stream", runtime="onnxruntime", size=32, batch=1, threads=2, repeats=1).timings_ms.keys() == {"onnxruntime", ONE_THREAD}


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
    assert set(runtimes["timings_ms"]) - {ONE_THREAD} == set(available_runtimes()) and runtimes["runtime"] in available_runtimes()
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


@pytest.fixture(scope="module")
def calibration_videos(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from vidnas.data import synthesize

    folder = tmp_path_factory.mktemp("int8")
    synthesize(folder, classes=2, train_per_class=2, val_per_class=1, size=32, frames=16, seed=3)
    return sorted(str(p) for p in folder.rglob("*.mp4"))


def _graph_ops(path) -> dict[str, int]:  # noqa: ANN001
    import collections

    import onnx

    graph = onnx.load(str(path)).graph
    return dict(collections.Counter(node.op_type for node in graph.node))


def test_int8_clip_export_quantizes_the_convs_and_stays_close(tmp_path, calibration_videos: list[str]) -> None:  # noqa: ANN001
    from vidnas.network import build_model
    from vidnas.runtime import Int8Runtime, OnnxRuntime, decode_videos, int8_export
    from vidnas.search._baselines import simple_3d_cnn

    model = _with_bn_statistics(build_model(simple_3d_cnn(4, frames=8, size=32), seed=0)).eval()
    report, int8, fp32 = int8_export(model, tmp_path / "cnn.int8.onnx", calibration_videos[:4], check=calibration_videos[4:], mode="clip", timed_calls=2)
    assert isinstance(int8, Int8Runtime) and isinstance(fp32, OnnxRuntime) and int8.name == "onnxruntime-int8"
    assert report.calibration_inputs == 8 and report.held_out and report.checked == 4  # two 8-frame clips per 16-frame video
    ops = _graph_ops(report.path)
    assert ops["Conv"] == 3 and ops["QuantizeLinear"] >= 3 and ops["DequantizeLinear"] >= 6  # weights and activations of every conv
    assert 0 < report.max_relative_error < 0.1 and 0 <= report.agreement <= 1 and report.fp32_ms > 0 and report.int8_ms > 0
    frames = decode_videos(model, calibration_videos[4:5])[0]  # inputs like the calibration's (their ranges are what int8 keeps)
    x = torch.stack([torch.cat(frames[i : i + 8], dim=1) for i in (0, 4, 8)])  # another batch than calibrated on: it stays free
    with torch.no_grad():
        assert _relative(int8(x), model(x)) < 0.1


def test_int8_stream_step_carries_its_state_and_the_cli(tmp_path, calibration_videos: list[str], stream_model: torch.nn.Module) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from vidnas.cli import app
    from vidnas.runtime import Int8Runtime, QuantizationError, decode_videos, int8_export

    report, int8, _ = int8_export(stream_model, tmp_path / "step.int8.onnx", calibration_videos[:2], mode="stream", size=32, timed_calls=3)
    steps = [len(v) for v in decode_videos(stream_model, calibration_videos[:2], size=32)]  # at the model's 5 fps
    assert report.mode == "stream" and report.calibration_inputs == report.checked == sum(steps) >= 6 and not report.held_out
    assert report.max_relative_error < 0.2  # over every step, each runtime carrying its own state
    reopened = Int8Runtime(stream_model, report.path)
    clip = torch.rand(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(5))
    state, expected = stream_model.init_state(1, 32), None
    with torch.no_grad():
        for t in range(4):
            expected, state = stream_model.stream_step(clip[:, :, t : t + 1], state)
    got, _ = reopened.stream_step(clip, reopened.init_state(1, 32))
    assert _relative(got, expected) < 0.2
    # the planar step's temporal convs (grouped, k inputs per group) stay fp32; every other conv is quantised
    onnx = pytest.importorskip("onnx")
    from vidnas.export import export_model
    from vidnas.runtime._quantize import slow_int8_convs

    export_model(stream_model, tmp_path / "step.fp32.onnx", stream=True, size=32)
    slow = set(slow_int8_convs(tmp_path / "step.fp32.onnx"))
    assert len(slow) == 11 and all("second" in name for name in slow)
    graph = onnx.load(str(report.path)).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    convs = {node.name: producers.get(node.input[1], "initializer") for node in graph.node if node.op_type == "Conv"}
    assert {name for name, weight in convs.items() if weight != "DequantizeLinear"} == slow
    assert sum(weight == "DequantizeLinear" for weight in convs.values()) == 62 - 11
    with pytest.raises(QuantizationError, match="nope.mp4: no such video file"):
        int8_export(stream_model, tmp_path / "x.onnx", ["nope.mp4"], mode="stream", size=32)
    with pytest.raises(QuantizationError, match="no 64-frame clip"):
        int8_export(create_model("x3d_xs", num_classes=3), tmp_path / "x.onnx", calibration_videos[:1], frames=64, size=32)
    runner = CliRunner()
    missing = runner.invoke(app, ["export", "movinet_a0_stream", "--stream", "--int8", "--out", str(tmp_path / "a.onnx")])
    assert missing.exit_code == 2 and "--int8 needs calibration videos" in missing.output
    unweighted = runner.invoke(app, ["export", "x3d_xs", "--int8", "--calibrate", calibration_videos[0], "--val", "data", "--out", str(tmp_path / "a.onnx")])
    assert unweighted.exit_code == 2 and "give a trained network or --weights" in unweighted.output
    stray = runner.invoke(app, ["export", "x3d_xs", "--calibrate", calibration_videos[0], "--out", str(tmp_path / "a.onnx")])
    assert stray.exit_code == 2 and "belong to --int8" in stray.output
    done = runner.invoke(app, ["export", "movinet_a0_stream", "--stream", "--size", "32", "--int8", "--calibrate", calibration_videos[0],
                               "--check", calibration_videos[1], "--out", str(tmp_path / "cli.int8.onnx"), "--json"])
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["held_out"] and result["checked"] == steps[1] and result["speedup"] > 0 and (tmp_path / "cli.int8.onnx").is_file()


def test_evaluate_takes_a_built_runtime(tmp_path) -> None:  # noqa: ANN001
    from vidnas.data import synthesize
    from vidnas.runtime import OnnxRuntime
    from vidnas.train import Recipe, evaluate
    from vidnas.train._api import clip_dataset, resolve_data

    paths = synthesize(tmp_path / "d", classes=2, train_per_class=1, val_per_class=2, size=32, frames=8, seed=2)
    _, val = resolve_data(str(paths["train"]), str(paths["val"]), classes=str(paths["classes"]))
    model = _with_bn_statistics(create_model("x3d_xs", num_classes=2, seed=0)).eval()
    dataset = clip_dataset(val, Recipe(frames=4, size=32), model.genotype.with_input(frames=4, size=32), train=False)
    eager = evaluate(model, dataset)
    on_ort = evaluate(model, dataset, runtime=OnnxRuntime(model, frames=4, size=32))
    assert on_ort["runtime"]["runtime"] == "onnxruntime" and on_ort["top1"] == eager["top1"]
    assert on_ort["loss"] == pytest.approx(eager["loss"], rel=1e-4)
