"""Export: ONNX (checked against onnxruntime) and TorchScript, whole-clip and single-step streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from vidnas import create_model
from vidnas.cli import app
from vidnas.export import ExportError, export_model, max_relative_error, onnx_session
from vidnas.export._export import _pack
from vidnas.stream import NotStreamableError

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

# one model of every family, at a small input
FAMILIES = {"tvn_mobile1": (2, 64), "evanet_arch1_rgb": (8, 32), "assemblenet50": (2, 32), "movinet_a0_stream": (4, 48), "x3d_xs": (4, 48)}


def _perturbed(name: str, frames: int, size: int) -> nn.Module:
    model = create_model(name, frames=frames, size=size, seed=0).eval()
    generator = torch.Generator().manual_seed(0)
    for pname, parameter in model.named_parameters():
        if pname.endswith("rezero"):
            parameter.data.fill_(0.5)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            module.running_mean.normal_(0, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
    return model


def _feeds(names: list[str], tensors: list[torch.Tensor]) -> dict[str, np.ndarray]:
    return {name: tensor.numpy() for name, tensor in zip(names, tensors)}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_onnx_clip_export_matches_pytorch(name: str, tmp_path: Path) -> None:
    frames, size = FAMILIES[name]
    model = _perturbed(name, frames, size)
    result = export_model(model, tmp_path / f"{name}.onnx")
    onnx.checker.check_model(str(result.path))
    graph = onnx.load(str(result.path)).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}  # standard ops only: export-safe activations
    inputs = model.example_input(1)
    tensors = [inputs[n] for n in result.input_names] if isinstance(inputs, dict) else [inputs]
    (logits,) = onnx_session(result.path).run(["logits"], _feeds(result.input_names, tensors))
    with torch.no_grad():
        expected = model(inputs)
    assert max_relative_error(torch.from_numpy(logits), expected) < 1e-4


def _run_stream_onnx(model: nn.Module, result, clip: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    session = onnx_session(result.path)
    start = model.init_state(1, tuple(clip.shape[-2:]))
    state = {name: (_pack(v) if result.packed_4d else v).numpy() for name, v in start.items()}
    logits = None
    for t in range(clip.shape[2]):
        feeds = {"rgb": clip[:, :, t : t + 1].numpy(), **{f"state.{k}": v for k, v in state.items()}}
        outputs = session.run(result.output_names, feeds)
        logits = outputs[0]
        state = {name[len("next_state.") :]: value for name, value in zip(result.output_names[1:], outputs[1:])}
    return torch.from_numpy(logits)


@pytest.mark.parametrize("pack", [False, True])
def test_onnx_streaming_export_matches_the_whole_clip(pack: bool, tmp_path: Path) -> None:
    model = _perturbed("movinet_a0_stream", 6, 48)
    result = export_model(model, tmp_path / "step.onnx", stream=True, pack_4d=pack)
    assert result.stream and result.input_names[0] == "rgb" and len(result.state_shapes) == 43
    session = onnx_session(result.path)
    ranks = {i.name: len(i.shape) for i in session.get_inputs()}
    assert max(ranks[n] for n in ranks if n.startswith("state.")) == (4 if pack else 5)
    clip = torch.randn(1, 3, 6, 48, 48)
    with torch.no_grad():
        expected = model(clip)
    assert max_relative_error(_run_stream_onnx(model, result, clip), expected) < 1e-4
    # the default (planar) step graph has no reshapes between layers: after onnxruntime's basic graph
    # optimisations about 15 % fewer nodes than the 5-D step's (445 vs 537 unpacked)
    onnx, ort = pytest.importorskip("onnx"), pytest.importorskip("onnxruntime")
    plain = export_model(model, tmp_path / "step5d.onnx", stream=True, pack_4d=pack, planar=False)
    assert max_relative_error(_run_stream_onnx(model, plain, clip), expected) < 1e-4
    nodes = {}
    for name, exported in (("planar", result), ("5d", plain)):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(tmp_path / f"{name}.optimised.onnx")
        ort.InferenceSession(str(exported.path), options, providers=["CPUExecutionProvider"])
        nodes[name] = len(onnx.load(options.optimized_model_filepath).graph.node)
    assert nodes["planar"] < 0.9 * nodes["5d"], nodes


def test_torchscript_clip_and_stream(tmp_path: Path) -> None:
    model = _perturbed("movinet_a0_stream", 4, 32)
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        expected = model(clip)
    clip_file = export_model(model, tmp_path / "clip.pt", format="torchscript")
    loaded = torch.jit.load(str(clip_file.path))
    assert max_relative_error(loaded(clip), expected) < 1e-4
    step_file = export_model(model, tmp_path / "step.pt", format="torchscript", stream=True)
    step = torch.jit.load(str(step_file.path))
    state = model.init_state(1, 32)
    names = sorted(state)
    values = [state[n] for n in names]
    for t in range(4):
        logits, *values = step(clip[:, :, t : t + 1], *values)
    assert max_relative_error(logits, expected) < 1e-4


def test_streaming_export_of_a_non_causal_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotStreamableError, match="x3d_xs cannot stream"):
        export_model(create_model("x3d_xs", frames=2, size=32), tmp_path / "x.onnx", stream=True)
    with pytest.raises(ExportError, match="format must be one of"):
        export_model(create_model("x3d_xs", frames=2, size=32), tmp_path / "x.onnx", format="tflite")


def test_export_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["export", "movinet_a0_stream", "--format", "onnx", "--stream", "--size", "32", "--out", str(tmp_path / "a0.onnx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a0.onnx").is_file() and "43 state tensors" in result.stdout
    bad = runner.invoke(app, ["export", "x3d_s", "--stream", "--out", str(tmp_path / "x.onnx")])
    assert bad.exit_code == 2 and "cannot stream" in bad.stderr
