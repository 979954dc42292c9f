"""Export to ONNX and TorchScript: whole-clip graphs, and single-step streaming graphs whose state is flat
named inputs and outputs (optionally packed to 4-D for runtimes that reject 5-D tensors)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidnas._imports import optional_import
from vidnas.errors import VidnasError
from vidnas.export._deploy import deploy_model

FORMATS = ("onnx", "torchscript")
STATE_PREFIX, NEXT_PREFIX = "state.", "next_state."


class ExportError(VidnasError):
    """The model cannot be exported as asked."""


@dataclass
class ExportResult:
    path: Path
    format: str
    stream: bool
    input_names: list[str]
    output_names: list[str]
    state_shapes: dict[str, list[int]] = field(default_factory=dict)
    packed_4d: bool = False


def _pack(tensor: torch.Tensor) -> torch.Tensor:
    """5-D (B, C, T, H, W) -> 4-D (B, C·T, H, W); other ranks unchanged."""
    if tensor.dim() != 5:
        return tensor
    b, c, t, h, w = tensor.shape
    return tensor.reshape(b, c * t, h, w)


class _ClipGraph(nn.Module):
    """Positional inputs, one per stream, for exporters that want tensors, not dicts."""

    def __init__(self, model: nn.Module, stream_names: list[str]):
        super().__init__()
        self.model, self.stream_names = model, stream_names

    def forward(self, *frames: torch.Tensor) -> torch.Tensor:
        if len(frames) == 1:
            return self.model(frames[0])
        return self.model(dict(zip(self.stream_names, frames)))


class _StepGraph(nn.Module):
    """One streaming step as a pure function: (frames…, state…) -> (logits, next state…), state in a fixed order."""

    def __init__(
        self, model: nn.Module, stream_names: list[str], state_names: list[str], state_shapes: dict[str, tuple[int, ...]], pack_4d: bool, planar: bool = False
    ):
        super().__init__()
        self.model, self.stream_names = model, stream_names
        self.state_names, self.state_shapes, self.pack_4d, self.planar = state_names, state_shapes, pack_4d, planar

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frames, flat = inputs[: len(self.stream_names)], inputs[len(self.stream_names) :]
        state = {name: value.reshape(self.state_shapes[name]) if self.pack_4d else value for name, value in zip(self.state_names, flat)}
        x = frames[0] if len(frames) == 1 else dict(zip(self.stream_names, frames))
        logits, next_state = self.model.stream_step(x, state, planar=self.planar)
        outputs = [next_state[name] for name in self.state_names]
        return (logits, *[_pack(o) if self.pack_4d else o for o in outputs])


def export_model(
    model: nn.Module,
    path: str | Path,
    *,
    format: str = "onnx",
    stream: bool = False,
    pack_4d: bool = False,
    batch_size: int = 1,
    frames: int | None = None,
    size: int | tuple[int, int] | None = None,
    stream_frames: int = 1,
    opset: int = 17,
    fold_batchnorm: bool = True,
    dynamic_batch: bool = False,
    planar: bool = True,
) -> ExportResult:
    """Write ``model`` (a VidNet) as ONNX or TorchScript.

    Whole-clip graphs read ``frames`` × ``size`` clips (default: the genotype's input). ``stream``: a single
    step on ``stream_frames`` new frames whose state tensors are inputs ``state.<name>`` and outputs
    ``next_state.<name>`` (``pack_4d``: 5-D buffers travel as B×(C·T)×H×W). BN is folded into the convs
    first (``fold_batchnorm``); the exported graph computes what ``model.eval()`` does. ``dynamic_batch``
    (ONNX): the batch dimension of every input and output is free instead of ``batch_size``. ``planar``: a
    one-frame step runs on 4-D frames between layers (``VidNet.stream_step``), every conv one 2D conv with no
    reshapes around it, so onnxruntime's NCHWc layout runs across whole blocks (A0-stream at 172²: 386 optimised
    nodes instead of 617, 4.9 vs 5.3 ms per step on 1 thread, ``benchmarks/streaming.py``).
    """
    if format not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, got {format!r}")
    genotype = getattr(model, "genotype", None)
    if genotype is None or not hasattr(model, "stream_names"):
        raise ExportError("export needs a model built by vidnas (build_model / create_model)")
    if hasattr(genotype, "members"):
        raise ExportError("export an ensemble's members one by one (their logits are averaged outside the graph)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = deploy_model(model, layout="contiguous") if fold_batchnorm else model.eval()
    spec = genotype.input
    height, width = (size, size) if isinstance(size, int) else (size or spec.size)
    clip_frames = stream_frames if stream else (frames or spec.frames)
    parameter = next(model.parameters())
    example = [torch.randn(batch_size, s.channels, clip_frames, height, width, dtype=parameter.dtype) for s in spec.streams]
    input_names = [s.name for s in spec.streams]
    state_shapes: dict[str, tuple[int, ...]] = {}
    if stream:
        state = model.init_state(batch_size, (height, width))
        state_names = sorted(state)
        state_shapes = {name: tuple(state[name].shape) for name in state_names}
        graph: nn.Module = _StepGraph(model, input_names, state_names, state_shapes, pack_4d, planar and stream_frames == 1)
        example += [_pack(state[name]) if pack_4d else state[name] for name in state_names]
        input_names = input_names + [STATE_PREFIX + name for name in state_names]
        output_names = ["logits"] + [NEXT_PREFIX + name for name in state_names]
    else:
        graph = _ClipGraph(model, input_names)
        output_names = ["logits"]
    graph.eval()
    with torch.no_grad():
        if format == "onnx":
            optional_import("onnx", "ONNX export")
            torch.onnx.export(
                graph, tuple(example), str(path), input_names=input_names, output_names=output_names,
                opset_version=opset, dynamo=False, do_constant_folding=True,
                dynamic_axes={name: {0: "batch"} for name in input_names + output_names} if dynamic_batch else None,
            )
        else:
            traced = torch.jit.trace(graph, tuple(example), check_trace=False)
            traced.save(str(path))
    return ExportResult(path, format, stream, input_names, output_names, {k: list(v) for k, v in state_shapes.items()}, pack_4d)


def onnx_session(path: str | Path) -> Any:
    """An onnxruntime CPU session for an exported file."""
    ort = optional_import("onnxruntime", "running ONNX models")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def max_relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = float(b.abs().max()) or 1.0
    value = float((a - b).abs().max()) / scale
    return value if math.isfinite(value) else float("inf")
