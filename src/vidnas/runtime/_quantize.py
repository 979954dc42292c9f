"""Post-training static int8 quantisation: the exported ONNX graph (BN folded) with onnxruntime's QDQ
quantiser, calibrated on the user's own videos, then checked against the fp32 graph on the same runtime —
speed (interleaved medians) and top-1 agreement, per clip or per streaming step.

Only convolutions and matrix products are quantised (``QUANTIZED_OPS``): measured on MoViNet-A0-stream and
X3D-XS, quantising the elementwise ops too (Add, Mul, Concat) adds quantise/dequantise pairs around every
squeeze-excite and residual that cost more than the int8 arithmetic saves. Weights are int8 per output channel,
activations uint8 per tensor with their ranges from the calibration inputs (min/max, or a percentile).
Grouped convs with several input channels per group stay fp32 (``slow_int8_convs``): onnxruntime has fast int8
kernels for dense and depthwise convs but not for those, and the planar streaming step's temporal convs are such
convs (a depthwise k×1×1 conv over a buffer of k frames stacked into the channels) — quantised, they ran ~7×
slower than in fp32 and the A0-stream int8 step took 6.4 instead of 4.4 ms (1 thread).
"""

from __future__ import annotations

import statistics
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from vidnas._imports import optional_import
from vidnas.errors import VidnasError
from vidnas.runtime._runtimes import STEP_BLOCK, OnnxRuntime, RuntimeUnavailable, time_in_turns

QUANTIZED_OPS = ("Conv", "MatMul")
METHODS = ("minmax", "percentile")


class QuantizationError(VidnasError):
    """The model or its calibration videos cannot be quantised as asked."""


def decode_videos(model: nn.Module, videos: Sequence[str | Path], *, size: int | None = None, mean: Sequence[float] = (0.0, 0.0, 0.0),
                  std: Sequence[float] = (1.0, 1.0, 1.0), max_frames: int | None = None) -> list[list[torch.Tensor]]:
    """Each video's model frames (C×1×H×W, at the model's frame rate, normalised as the model reads them)."""
    from vidnas.stream._video import model_frames

    if list(getattr(model, "stream_names", ["rgb"])) != ["rgb"]:
        raise QuantizationError(f"{model.genotype.name} reads {', '.join(model.stream_names)}: calibration from videos needs an RGB-only network")
    decoded = []
    for video in videos:
        if not Path(video).is_file():
            raise QuantizationError(f"{video}: no such video file")
        frames = []
        for _, frame in model_frames(video, model.genotype, size=size, mean=mean, std=std):
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
        decoded.append(frames)
    return decoded


def _clips(model: nn.Module, videos: list[list[torch.Tensor]], frames: int | None) -> list[torch.Tensor]:
    """Non-overlapping windows of the network's clip length (1×C×T×H×W) from each video."""
    length = frames or model.genotype.input.frames
    clips = [torch.cat(v[i : i + length], dim=1)[None] for v in videos for i in range(0, len(v) - length + 1, length)]
    if not clips:
        raise QuantizationError(f"the videos give no {length}-frame clip at the model's frame rate: give longer videos or --frames")
    return clips


def _spread(items: list[Any], limit: int) -> list[Any]:
    if len(items) <= limit:
        return items
    return [items[round(i * (len(items) - 1) / (limit - 1))] for i in range(limit)] if limit > 1 else items[:1]


def calibration_feeds(model: nn.Module, videos: list[list[torch.Tensor]], *, mode: str = "clip", frames: int | None = None,
                      limit: int = 128) -> list[dict[str, np.ndarray]]:
    """The graph inputs the quantiser calibrates on (at most ``limit``, spread over the videos): clips, or —
    streaming — each step's new frame and the state the fp32 network carries into it."""
    model = model.eval()
    if mode == "clip":
        return [{"rgb": clip.numpy()} for clip in _spread(_clips(model, videos, frames), limit)]
    feeds = []
    with torch.no_grad():
        for frames_of_video in videos:
            state = model.init_state(1, tuple(frames_of_video[0].shape[-2:]))
            for frame in frames_of_video:
                x = frame[None]
                feeds.append({"rgb": x.numpy().copy()} | {f"state.{k}": v.numpy().copy() for k, v in sorted(state.items())})
                _, state = model.stream_step(x, state)
    return _spread(feeds, limit)


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # pragma: no cover - called by some calibrators only
        pass


def slow_int8_convs(path: str | Path) -> list[str]:
    """The Conv nodes of an ONNX graph that are grouped with more than one input channel per group (weights
    (O, C/g, ...) with g > 1 and C/g > 1): kept fp32 by :func:`quantize_int8`."""
    onnx = optional_import("onnx", "int8 quantisation")
    graph = onnx.load(str(path)).graph
    shapes = {init.name: tuple(init.dims) for init in graph.initializer}
    slow = []
    for node in graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in shapes:
            continue
        groups = next((attr.i for attr in node.attribute if attr.name == "group"), 1)
        if groups > 1 and shapes[node.input[1]][1] > 1:
            slow.append(node.name)
    return slow


def quantize_int8(model: nn.Module, out: str | Path, feeds: list[dict[str, np.ndarray]], *, mode: str = "clip", size: int | None = None,
                  frames: int | None = None, method: str = "minmax", ops: Sequence[str] = QUANTIZED_OPS) -> Path:
    """Write the int8 ONNX graph of ``model`` (whole clip, or one streaming step) to ``out``, its activation
    ranges calibrated on ``feeds`` (:func:`calibration_feeds`)."""
    quantization = optional_import("onnxruntime.quantization", "int8 quantisation (pip install -e '.[export]')")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from vidnas.export import export_model

    if method not in METHODS:
        raise QuantizationError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    if not feeds:
        raise QuantizationError("no calibration inputs: give at least one video long enough for one clip")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vidnas-int8-") as folder:
        fp32, prepared = Path(folder) / "fp32.onnx", Path(folder) / "prepared.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_model(model.eval(), fp32, stream=mode == "stream", size=size, frames=frames, dynamic_batch=True)
            try:  # graph cleanup and shape inference the quantiser relies on
                quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            except Exception:  # noqa: BLE001 - the plain export quantises too, only less well
                prepared = fp32
            calibration = quantization.CalibrationMethod.Percentile if method == "percentile" else quantization.CalibrationMethod.MinMax
            quantization.quantize_static(
                str(prepared), str(out), _Reader(feeds), quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
                op_types_to_quantize=list(ops), calibrate_method=calibration, nodes_to_exclude=slow_int8_convs(prepared),
            )
    return out


class Int8Runtime(OnnxRuntime):
    """An int8 graph (:func:`quantize_int8`) on onnxruntime, with the fp32 runtime's surface (I/O-bound
    streaming step included). Not chosen by ``select_runtime``: its outputs differ from eager by design, so it
    is judged by top-1 agreement instead (:func:`compare_int8`)."""

    name = "onnxruntime-int8"

    def __init__(self, model: nn.Module, path: str | Path, threads: int | None = None) -> None:
        super().__init__(model, threads, path=path)


@dataclass
class Int8Report:
    """fp32 against int8 on the same runtime and inputs: median ms per clip (per step when streaming), top-1
    agreement, and accuracy of both when labelled data was given."""

    path: str
    mode: str
    calibration_inputs: int
    checked: int  # clips (or streaming steps) compared
    held_out: bool  # compared on videos other than the calibration ones
    fp32_ms: float
    int8_ms: float
    agreement: float
    max_relative_error: float
    accuracy: dict[str, float] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.fp32_ms / self.int8_ms if self.int8_ms > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"speedup": round(self.speedup, 3)}


def compare_int8(fp32: OnnxRuntime, int8: OnnxRuntime, model: nn.Module, videos: list[list[torch.Tensor]], *, mode: str = "clip",
                 frames: int | None = None, limit: int = 256, timed_calls: int | None = None) -> dict[str, float]:
    """Top-1 agreement of two runtimes over the same inputs — clips, or every step of each video streamed
    through both (each runtime carrying its own state, so int8 drift counts) — then their speed over
    ``timed_calls`` calls each (default 100 steps or 12 clips, the inputs cycled), the two taking turns (streaming:
    turns of ``STEP_BLOCK`` steps, as ``select_runtime`` times them)."""
    agree, errors = 0, []
    runtimes = {"fp32": fp32, "int8": int8}
    with torch.no_grad():
        if mode == "clip":
            clips = _spread(_clips(model, videos, frames), limit)
            for clip in clips:
                a, b = fp32(clip), int8(clip)
                agree += int(a.argmax(1).eq(b.argmax(1)).all())
                errors.append(float((a - b).abs().max() / a.abs().max().clamp_min(1e-12)))
        else:
            for frames_of_video in videos:
                size = tuple(frames_of_video[0].shape[-2:])
                states = {name: rt.init_state(1, size) for name, rt in runtimes.items()}
                for frame in frames_of_video[:limit]:
                    out = {}
                    for name, rt in runtimes.items():
                        out[name], states[name] = rt.stream_step(frame[None], states[name])
                    agree += int(out["fp32"].argmax(1).eq(out["int8"].argmax(1)).all())
                    errors.append(float((out["fp32"] - out["int8"]).abs().max() / out["fp32"].abs().max().clamp_min(1e-12)))
        inputs = clips if mode == "clip" else [f[None] for v in videos for f in v]
        count = timed_calls or (12 if mode == "clip" else 100)
        block = STEP_BLOCK if mode == "stream" else 1
        states = {name: rt.init_state(1, tuple(inputs[0].shape[-2:])) for name, rt in runtimes.items()} if mode == "stream" else {}
        cursor = {name: 0 for name in runtimes}

        def call(name: str) -> None:  # the next input, cycled
            x = inputs[cursor[name] % len(inputs)]
            cursor[name] += 1
            if mode == "clip":
                runtimes[name](x)
            else:
                _, states[name] = runtimes[name].stream_step(x, states[name])

        calls = {name: (runtimes[name], lambda name=name: call(name)) for name in runtimes}
        time_in_turns(calls, 1, 2)  # warm-up
        times = time_in_turns(calls, max(1, -(-count // block)), block)
    return {"checked": len(errors), "agreement": agree / max(len(errors), 1), "max_relative_error": max(errors, default=0.0),
            "fp32_ms": statistics.median(times["fp32"]), "int8_ms": statistics.median(times["int8"])}


def int8_export(model: nn.Module, out: str | Path, calibrate: Sequence[str | Path], *, check: Sequence[str | Path] = (), mode: str = "clip",
                size: int | None = None, frames: int | None = None, mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0),
                threads: int | None = None, method: str = "minmax", limit: int = 128, max_frames: int | None = 300,
                timed_calls: int | None = None) -> tuple[Int8Report, Int8Runtime, OnnxRuntime]:
    """Quantise ``model`` to int8 calibrated on the ``calibrate`` videos, write it to ``out`` and compare it with
    the fp32 graph on onnxruntime (on the ``check`` videos, else on the calibration videos themselves). Returns
    the report and both runtimes (for an accuracy check on labelled data); ``timed_calls``: see :func:`compare_int8`."""
    if mode not in ("clip", "stream"):
        raise QuantizationError(f"mode must be 'clip' or 'stream', got {mode!r}")
    model = model.eval()
    if mode == "stream":
        model.init_state(1, size)  # refuses a non-causal network, naming the layer
    calibration = decode_videos(model, calibrate, size=size, mean=mean, std=std, max_frames=max_frames)
    feeds = calibration_feeds(model, calibration, mode=mode, frames=frames, limit=limit)
    path = quantize_int8(model, out, feeds, mode=mode, size=size, frames=frames, method=method)
    try:
        fp32 = OnnxRuntime(model, threads, stream=mode == "stream", size=size, frames=frames)
        int8 = Int8Runtime(model, path, threads)
    except RuntimeUnavailable as problem:
        raise QuantizationError(str(problem)) from None
    checked = decode_videos(model, check, size=size, mean=mean, std=std, max_frames=max_frames) if check else calibration
    result = compare_int8(fp32, int8, model, checked, mode=mode, frames=frames, timed_calls=timed_calls)
    report = Int8Report(path=str(path), mode=mode, calibration_inputs=len(feeds), held_out=bool(check), **result)
    return report, int8, fp32
