"""A deployment bundle: one folder with everything needed to run a trained network elsewhere — the model card
(``README.md``), the weights (``model.safetensors`` + ``model.json``), the fp32 ONNX graph of a clip
(``model.onnx``) and, for a causal network, of one streaming step (``model_stream.onnx``), optionally the int8
graph (``model_int8.onnx``), the labels (``labels.txt``) and ``example.py``, which classifies a video with
onnxruntime and PyAV alone. Each graph is checked against PyTorch before the bundle is declared written."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from vidnas.export import ExportError, export_model, max_relative_error
from vidnas.runtime._quantize import int8_export
from vidnas.runtime._runtimes import OnnxRuntime

CHECK_TOLERANCE = 1e-4
"""Largest relative logit error of a bundle's fp32 graphs against the PyTorch network (BN folding and
onnxruntime's kernels reorder float sums; measured errors are ~1e-6)."""

EXAMPLE = '''"""Classify a video with this bundle's model.onnx, using onnxruntime and PyAV only (no vidnas, no torch).

    pip install onnxruntime av numpy
    python example.py VIDEO.mp4
"""
import json
import sys
from pathlib import Path

import av
import numpy as np
import onnxruntime

here = Path(__file__).resolve().parent
pre = json.loads((here / "model.json").read_text())["preprocessing"]  # how the network was trained to see clips
labels = (here / "labels.txt").read_text().splitlines()
frames, stride, (height, width) = pre["frames"], pre.get("frame_stride") or 1, pre["crop"]
with av.open(sys.argv[1]) as container:
    decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
start = max(len(decoded) - ((frames - 1) * stride + 1), 0) / 2  # the centre clip, as vidnas evaluates one view
clip = []
for index in (min(int(start + i * stride + 1e-6), len(decoded) - 1) for i in range(frames)):
    image = decoded[index]
    side = min(image.shape[:2])  # the centred square, resized to the crop
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    square = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[top:top + side, left:left + side]), format="rgb24")
    clip.append(square.reformat(width=width, height=height, interpolation="AREA").to_ndarray(format="rgb24"))
x = (np.stack(clip).astype(np.float32) / 255.0 - np.float32(pre["mean"])) / np.float32(pre["std"])  # T, H, W, C
session = onnxruntime.InferenceSession(str(here / "model.onnx"), providers=["CPUExecutionProvider"])
logits = session.run(["logits"], {"rgb": np.ascontiguousarray(x.transpose(3, 0, 1, 2)[None])})[0][0]
probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
for index in np.argsort(-probabilities)[:5]:
    print(f"{labels[index]}\\t{probabilities[index]:.4f}")
'''


@dataclass
class BundleResult:
    """What :func:`export_bundle` wrote and how each graph compared with PyTorch."""

    folder: Path
    files: list[str]
    errors: dict[str, float] = field(default_factory=dict)  # graph file -> max relative logit error against PyTorch
    int8: dict[str, Any] | None = None  # the int8 report (agreement, speed) when one was written


def _check_clip(model: nn.Module, path: Path) -> float:
    generator = torch.Generator().manual_seed(0)
    spec = model.genotype.input
    x = torch.randn(2, spec.streams[0].channels, spec.frames, *spec.size, generator=generator)
    with torch.no_grad():
        return max_relative_error(OnnxRuntime(model, 1, path=path)(x), model(x))


def _check_stream(model: nn.Module, path: Path) -> float:
    generator = torch.Generator().manual_seed(0)
    runtime = OnnxRuntime(model, 1, path=path)
    spec = model.genotype.input
    ours, theirs = model.init_state(1), runtime.init_state(1)
    worst = 0.0
    with torch.no_grad():
        for _ in range(3):
            frame = torch.randn(1, spec.streams[0].channels, 1, *spec.size, generator=generator)
            a, ours = model.stream_step(frame, ours)
            b, theirs = runtime.stream_step(frame, theirs)
            worst = max(worst, max_relative_error(b, a[:, -1] if a.dim() == 3 else a))
    return worst


def export_bundle(model: nn.Module, info: Any, folder: str | Path, *, int8: bool = False, calibrate: Sequence[str | Path] = (),  # noqa: ANN401
                  method: str = "minmax", threads: int | None = None, overwrite: bool = False) -> BundleResult:
    """Write the deployment bundle of ``model`` (a trained network) with its record ``info``
    (``vidnas.weights.read_info``) into ``folder``. ``int8``: also the int8 graph, calibrated on the ``calibrate``
    videos and compared with fp32 (agreement and speed in the card). A non-empty ``folder`` is refused unless
    ``overwrite``."""
    from vidnas.measure import count_macs, count_parameters
    from vidnas.network import streaming_blockers
    from vidnas.weights import model_card, read_info, read_weights, save_weights

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise ExportError(f"{folder}: not empty (a bundle goes into a new folder; pass --overwrite to replace it)")
    if list(getattr(model, "stream_names", ["rgb"])) != ["rgb"]:
        raise ExportError(f"{model.genotype.name} reads {', '.join(model.stream_names)}: a bundle's example decodes RGB only")
    if int8 and not calibrate:
        raise ExportError("an int8 bundle needs calibration videos (--calibrate A.mp4 [--calibrate B.mp4 ...]), clips like those it will see")
    if folder.exists() and overwrite:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    spec = model.genotype.input
    causal = not streaming_blockers(model)
    names = info.names() or [str(i) for i in range(model.genotype.head.num_classes)]
    preprocessing = {"value_range": [0.0, 1.0], "mean": [0.45] * 3, "std": [0.225] * 3, "channels": "RGB"} | dict(info.preprocessing or {})
    preprocessing.update(frames=preprocessing.get("frames") or spec.frames, frame_stride=preprocessing.get("frame_stride") or spec.frame_stride,
                         crop=list(preprocessing.get("crop") or spec.size), streaming=causal)
    costs = dict(info.costs or {})
    if costs.get("macs") is None or costs.get("params") is None:
        costs["macs"] = count_macs(model, model.example_input(1)).macs
        costs["params"] = count_parameters(model).total
    result = BundleResult(folder=folder, files=[])
    onnx = {"clip": "model.onnx"}
    export_model(model, folder / "model.onnx", dynamic_batch=True)
    result.errors["model.onnx"] = _check_clip(model, folder / "model.onnx")
    if causal:
        export_model(model, folder / "model_stream.onnx", stream=True)
        result.errors["model_stream.onnx"] = _check_stream(model, folder / "model_stream.onnx")
        onnx["stream"] = "model_stream.onnx"
    for graph, error in result.errors.items():
        if not error <= CHECK_TOLERANCE:
            raise ExportError(f"{folder / graph}: its logits differ from PyTorch's by {error:.2e} (> {CHECK_TOLERANCE:.0e}); the bundle is not usable")
    source = dict(info.source or {}, bundled_from=str(info.path))
    if int8:
        report, _, _ = int8_export(model, folder / "model_int8.onnx", calibrate, mean=preprocessing["mean"], std=preprocessing["std"],
                                   threads=threads, method=method)
        result.int8 = report.as_dict() | {"path": "model_int8.onnx"}
        onnx["int8"] = "model_int8.onnx"
        costs["int8"] = {"agreement": report.agreement, "fp32_ms": report.fp32_ms, "int8_ms": report.int8_ms, "checked": report.checked,
                         "calibration_videos": [Path(v).name for v in calibrate], "method": method}
    record = {k: getattr(info, k) for k in ("recipe", "data", "metrics", "comparison")}
    weights = save_weights(read_weights(info.path), folder / "model.safetensors", model=info.model or model.genotype.name,
                           genotype=info.genotype or json_of(model.genotype), label_set=info.label_set, class_names=info.class_names,
                           preprocessing=preprocessing, source=source, costs=costs, **{k: v for k, v in record.items() if v is not None})
    (folder / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (folder / "example.py").write_text(EXAMPLE, encoding="utf-8")
    bundled = read_info(weights)
    (folder / "README.md").write_text(model_card(bundled, weights_file="model.safetensors", onnx=onnx), encoding="utf-8")
    result.files = sorted(p.name for p in folder.iterdir())
    return result


def json_of(genotype: Any) -> dict[str, Any]:  # noqa: ANN401
    return json.loads(genotype.to_json(indent=None))
