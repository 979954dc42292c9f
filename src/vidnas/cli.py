"""The ``vidnas`` command line: genotypes, zoo, data, training, streaming, export, search and reports."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from vidnas import __version__
from vidnas.errors import GenotypeError, VidnasError

app = typer.Typer(
    name="vidnas",
    help="Design fast, accurate video networks: validate, inspect and profile architectures (genotypes).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _recipe(path: str | None, default: Any, overrides: dict[str, Any]) -> Any:
    """A recipe: the JSON file at ``path`` (else ``default``) with the options the user gave on top; a bad file
    or value is one clear error naming the file and the field."""
    from pydantic import ValidationError

    from vidnas.genotype._io import errors_from_validation
    from vidnas.train import Recipe

    settings = default.model_dump() if path is None else None
    if path is not None:
        try:
            settings = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise VidnasError(f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
        if not isinstance(settings, dict):
            raise VidnasError(f"{path}: a recipe is a JSON object of settings, got {type(settings).__name__}")
    try:
        return Recipe.model_validate({**settings, **overrides})
    except ValidationError as error:
        problems = "; ".join(f"{field or '<recipe>'}: {message}" for field, message in errors_from_validation(error))
        raise VidnasError(f"{path or 'recipe options'}: {problems}") from None


def friendly_errors(command: F) -> F:
    """Turn the user's errors into one clear line and a non-zero exit (a traceback only with --debug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except (VidnasError, FileNotFoundError, ValueError, RuntimeError, OSError) as error:
            if _state["debug"]:
                raise
            raise _fail(str(error)) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.print(f"vidnas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug


def load(source: str):  # noqa: ANN201 - Genotype | Ensemble
    """A genotype from a JSON file path or a zoo model name."""
    from vidnas.genotype import load_genotype
    from vidnas.zoo import REGISTRY, get_genotype, model_info

    path = Path(source)
    if path.exists() or source.endswith(".json") or "/" in source:
        return load_genotype(path)
    if source in REGISTRY:
        return get_genotype(source)
    model_info(source)  # raises with the closest names
    raise AssertionError("unreachable")  # pragma: no cover


@app.command()
@friendly_errors
def validate(files: list[str] = typer.Argument(..., help="Genotype JSON files (or zoo model names).")) -> None:
    """Check genotype files: structure, references and shapes. Exit 1 if any is invalid."""
    bad = 0
    for file in files:
        try:
            genotype = load(file)
        except GenotypeError as error:
            bad += 1
            for line in error.lines():
                errors.print(f"[red]invalid[/] {line}", highlight=False, soft_wrap=True)
            continue
        shapes = genotype.check()
        if hasattr(genotype, "members"):
            what = f"ensemble of {len(genotype.members)}"
        else:
            what = f"{len(genotype.nodes)} nodes, features {shapes[genotype.head_sources()[0]]}"
        console.print(f"[green]ok[/] {file}: {genotype.name} ({genotype.family}), {what}, fingerprint {genotype.fingerprint()}", highlight=False)
    if bad:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def show(
    file: str = typer.Argument(..., help="Genotype JSON file or zoo model name."),
    as_json: bool = typer.Option(False, "--json", help="Print the normalised genotype JSON instead of a table."),
    full: bool = typer.Option(False, "--full", help="With --json: include fields at their default value."),
) -> None:
    """Print a genotype: every node and layer with its output shape."""
    from vidnas.genotype import summary_rows

    genotype = load(file)
    if as_json:
        sys.stdout.write(genotype.to_json(full=full) + "\n")
        return
    if hasattr(genotype, "members"):
        from vidnas.genotype import summary

        console.print(summary(genotype), highlight=False)
        return
    size = genotype.input.size
    streams = ", ".join(f"{s.name} ({s.modality}, {s.channels} ch)" for s in genotype.input.streams)
    console.print(f"[bold]{genotype.name}[/] ({genotype.family})  fingerprint {genotype.fingerprint()}", highlight=False)
    if genotype.description:
        console.print(genotype.description, highlight=False)
    console.print(
        f"input: {genotype.input.frames} frames x {size[0]}x{size[1]}, frame stride {genotype.input.frame_stride}; {streams}",
        highlight=False,
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("where")
    table.add_column("layer")
    table.add_column("output C x T x H x W", justify="right")
    for depth, where, what, shape in summary_rows(genotype):
        table.add_row(("  " * depth) + where, what, shape, style=None if depth else "bold")
    console.print(table)


def _network(source: str, weights: Optional[str], seed: int = 0):  # noqa: ANN202 - (network, WeightsInfo | None)
    """The network of a zoo name or genotype file, with a vidnas weights file loaded when given (every tensor
    checked; see `vidnas weights convert`)."""
    from vidnas.network import build_model

    genotype = load(source)
    network = build_model(genotype, seed=seed)
    if weights is None:
        return network, None
    from vidnas.weights import load_weights, read_info

    info = read_info(weights)
    info.require_model(genotype.name)
    if info.num_classes is not None and info.num_classes != genotype.head.num_classes:
        network = build_model(genotype.with_num_classes(info.num_classes), seed=seed)
    report = load_weights(network, weights, new_head=False)
    errors.print(f"[dim]weights {weights}: {report.describe()}[/]", highlight=False)
    return network, info


def _human(value: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {suffix}{unit}"
    return f"{value:.0f} {unit}".strip()


@app.command()
@friendly_errors
def profile(
    file: str = typer.Argument(..., help="Genotype JSON file or zoo model name (see `vidnas zoo list`)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Clip length (default: the genotype's)."),
    size: Optional[int] = typer.Option(None, "--size", min=1, help="Frame size in pixels (default: the genotype's)."),
    batch: int = typer.Option(1, "--batch", min=1, help="Batch size."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for timing (default: torch's)."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (cuda:N)."),
    latency: bool = typer.Option(False, "--latency", help="Measure forward latency (median of --runs)."),
    memory: bool = typer.Option(False, "--memory", help="Measure the peak memory of a forward pass."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Time with the channels_last_3d layout."),
    dtype: str = typer.Option("float32", "--dtype", help="Timing precision: float32, float16 or bfloat16 (half precisions on CUDA)."),
    runs: int = typer.Option(10, "--runs", min=1, help="Timed runs."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed warm-up runs."),
    weights: Optional[str] = typer.Option(None, "--weights", help="A vidnas weights file to check against the network (loaded, every tensor checked)."),
    runtime: str = typer.Option("auto", "--runtime", help="With --latency on the CPU: also time the inference runtimes (auto: all, fastest marked; or one of eager, deploy, onnxruntime, torchscript; 'off': none)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Parameters, MACs and FLOPs (and, if asked, latency and peak memory) of a genotype."""
    import torch

    from vidnas.measure import profile as run_profile

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise _fail(f"--device {device}: CUDA is not available on this machine")
    if device != "cpu" and not device.startswith("cuda"):
        raise _fail(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}")
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in dtypes:
        raise _fail(f"--dtype must be one of {sorted(dtypes)}, got {dtype!r}")
    genotype = load(file)
    if weights is not None:
        _, info = _network(file, weights)
        genotype = genotype.with_num_classes(info.num_classes) if info.num_classes else genotype
    result = run_profile(
        genotype,
        frames=frames,
        size=size,
        batch_size=batch,
        latency=latency,
        peak_memory=memory,
        device=device,
        threads=threads,
        channels_last=channels_last,
        dtype=dtypes[dtype],
        warmup=warmup,
        runs=runs,
    )
    data = result.to_dict()
    selection = None
    if latency and runtime != "off" and device == "cpu" and dtype == "float32":
        from vidnas import build_model
        from vidnas.runtime import select_runtime

        network = build_model(genotype).eval()
        selection = select_runtime(network, mode="clip", runtime=runtime, threads=threads, batch=batch, size=size, frames=frames, repeats=runs)
        data["runtimes"] = selection.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    table = Table(title=f"{genotype.name} ({genotype.family})", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("input", json.dumps(data["input_shape"]))
    table.add_row("parameters", f"{data['params']:,}  ({_human(data['params'])})")
    table.add_row("parameters without BN", f"{data['params_no_bn']:,}  ({_human(data['params_no_bn'])})")
    table.add_row("MACs", f"{data['macs']:,}  ({_human(data['macs'])})")
    table.add_row("FLOPs (2 x MACs)", f"{data['flops']:,}  ({_human(data['flops'])})")
    if result.latency is not None:
        lat = result.latency
        table.add_row(
            "latency",
            f"{lat.median_ms:.2f} ms median (p10 {lat.p10_ms:.2f}, p90 {lat.p90_ms:.2f}; {lat.runs} runs, "
            f"{lat.threads} threads, {lat.memory_format}, {lat.device})",
        )
    if selection is not None:
        table.add_row("runtimes", selection.summary().removeprefix("runtime: ") + " (fastest first)")
    if result.peak_memory is not None:
        table.add_row("peak memory (forward)", f"{result.peak_memory.forward_bytes / 2**20:.1f} MiB ({result.peak_memory.method})")
    console.print(table)
    console.print(f"[dim]{result.macs.convention}[/]", highlight=False)


def _normalization(source: str, info: Any = None, stream: str = "rgb") -> tuple[list[float], list[float]]:
    """The input normalisation of a network: its weights file's (``info``) when it records one, else the zoo
    model's published one, else (a genotype file) the one `vidnas train` trains it with."""
    from vidnas.data import NORMALIZATION
    from vidnas.zoo import REGISTRY

    if info is not None and "mean" in info.preprocessing:
        return list(info.preprocessing["mean"]), list(info.preprocessing["std"])
    if source in REGISTRY and stream in REGISTRY[source].normalization:
        mean, std = REGISTRY[source].normalization[stream]
        return list(mean), list(std)
    return list(NORMALIZATION[0]), list(NORMALIZATION[1])


@app.command()
@friendly_errors
def stream(
    videos: list[str] = typer.Argument(..., help="Video file(s); several are streamed together, one batched step per frame."),
    model: str = typer.Option(..., "--model", help="Zoo model name or genotype JSON file (a causal network)."),
    top_k: int = typer.Option(5, "--top-k", min=1, help="Classes to show per output."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Model frame rate (default: the model's)."),
    size: Optional[int] = typer.Option(None, "--size", help="Frame size (default: the model's)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after this many model frames."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1),
    seed: int = typer.Option(0, "--seed", help="Weight seed when no --weights are given (random weights: meaningless classes)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="A vidnas weights file (`vidnas weights convert`): trained weights, class names printed."),
    runtime: str = typer.Option("auto", "--runtime", help="auto (the fastest streaming step, measured), eager, deploy, onnxruntime or torchscript."),
    benchmark: bool = typer.Option(False, "--benchmark", help="Decode first, then time the network steps alone; the last line is step_ms=<median>."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per output."),
) -> None:
    """Run a streaming model over a video frame by frame: rolling top-k with timestamps and achieved fps.
    With several videos, all streams advance together as one batch (each keeps its own state); a video that
    ends leaves the batch, and the last line reports frames/s per stream and in total. The network runs on the
    fastest runtime for its streaming step (measured at start, each checked against PyTorch; --runtime forces one)."""
    import torch

    from vidnas.runtime import select_runtime
    from vidnas.stream import MultiStream
    from vidnas.stream._video import stream_video, stream_videos

    genotype = load(model)
    network, info = _network(model, weights, seed)
    network = network.eval()
    frame_size = size or genotype.input.size[0]
    network.init_state(1, frame_size)  # refuses a non-causal network before decoding
    missing = [v for v in videos if not Path(v).is_file()]
    if missing:
        raise _fail(f"{missing[0]}: no such video file")
    selection = select_runtime(network, mode="stream", runtime=runtime, threads=threads, batch=len(videos), size=frame_size)
    errors.print(selection.summary(), highlight=False)
    network = selection.runtime
    mean, std = _normalization(model, info)
    names = info.names() if info is not None else None
    if weights is None:
        errors.print("[yellow]no --weights: the network's weights are random, so its classes mean nothing[/]", highlight=False)

    def label(index: int) -> str | int:
        return names[index] if names is not None and index < len(names) else index

    def ranked_json(top: list[tuple[int, float]]) -> list[dict]:
        return [{"class": c, "probability": round(p, 6)} | ({"name": label(c)} if names else {}) for c, p in top]

    if benchmark:
        _stream_benchmark(network, videos, fps=fps, size=frame_size, mean=mean, std=std, max_frames=max_frames, as_json=as_json)
        return
    if len(videos) > 1:
        runner = MultiStream(network, size=frame_size)
        with network.running(), torch.no_grad():
            for outputs in stream_videos(network, videos, fps=fps, size=size, mean=mean, std=std, top_k=top_k, max_frames=max_frames, runner=runner):
                for out in outputs:
                    if as_json:
                        sys.stdout.write(json.dumps({"stream": out.stream, "video": videos[out.stream], "frame": out.frame,
                                                     "time": round(out.time, 3), "top_k": ranked_json(out.top)}) + "\n")
                    else:
                        ranked = "  ".join(f"{label(c)}:{p:.3f}" for c, p in out.top)
                        console.print(f"[{out.stream}] {out.time:8.2f}s  frame {out.frame:5d}  {ranked}", highlight=False)
        stats = runner.stats
        summary = {"streams": len(videos), "frames": sum(stats.frames.values()), "steps": stats.steps,
                   "fps_per_stream": round(stats.fps_per_stream(), 2), "fps_total": round(stats.fps(), 2)}
        if as_json:
            sys.stdout.write(json.dumps({"summary": summary}) + "\n")
        else:
            console.print(f"{summary['streams']} streams, {summary['steps']} batched steps: {summary['fps_per_stream']:.1f} frames/s per stream, "
                          f"{summary['fps_total']:.1f} in total (network steps only, decoding excluded)", highlight=False)
        return
    video = videos[0]
    with network.running(), torch.no_grad():
        for output in stream_video(network, video, fps=fps, size=size, mean=mean, std=std, top_k=top_k, max_frames=max_frames):
            if as_json:
                sys.stdout.write(json.dumps({"frame": output.frame, "time": round(output.time, 3), "top_k": ranked_json(output.top), "fps": round(output.fps, 2)}) + "\n")
            else:
                ranked = "  ".join(f"{label(c)}:{p:.3f}" for c, p in output.top)
                console.print(f"{output.time:8.2f}s  frame {output.frame:5d}  {output.fps:6.1f} fps  {ranked}", highlight=False)


def _stream_benchmark(network, videos: list[str], *, fps, size: int, mean, std, max_frames, as_json: bool) -> None:  # noqa: ANN001
    """Decode every video's model frames first, then step the network over them (all videos as one batch),
    timing each step alone."""
    import statistics
    import time

    import torch

    from vidnas.stream import MultiStream
    from vidnas.stream._video import model_frames

    decoded = []
    for video in videos:
        frames = []
        for _, frame in model_frames(video, network.genotype, fps=fps, size=size, mean=mean, std=std):
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
        decoded.append(frames)
    steps = min(len(f) for f in decoded)
    runner = MultiStream(network, size=size)
    for i in range(len(videos)):
        runner.join(i)
    times = []
    with network.running(), torch.no_grad():
        for t in range(steps):
            batch = {i: decoded[i][t] for i in range(len(videos))}
            start = time.perf_counter()
            runner.step(batch)
            times.append((time.perf_counter() - start) * 1000)
    timed = times[min(2, len(times) - 1):]  # the first steps warm caches and the allocator
    median = statistics.median(timed)
    summary = {"runtime": network.name if hasattr(network, "name") else "eager", "streams": len(videos), "steps": len(timed), "step_ms": round(median, 3),
               "p10_ms": round(statistics.quantiles(timed, n=10)[0], 3) if len(timed) >= 2 else round(median, 3),
               "p90_ms": round(statistics.quantiles(timed, n=10)[-1], 3) if len(timed) >= 2 else round(median, 3),
               "frames_per_s": round(1000 * len(videos) / median, 1)}
    if as_json:
        sys.stdout.write(json.dumps({"benchmark": summary}) + "\n")
    else:
        console.print(f"{summary['runtime']}: {summary['streams']} stream(s) x {summary['steps']} timed steps (decoding excluded): median {median:.2f} ms "
                      f"(p10 {summary['p10_ms']:.2f}, p90 {summary['p90_ms']:.2f}), {summary['frames_per_s']:.1f} frames/s", highlight=False)
    sys.stdout.write(f"step_ms={median:.3f}\n")


@app.command()
@friendly_errors
def export(
    model: str = typer.Argument(..., help="Zoo model name or genotype JSON file."),
    out: str = typer.Option(..., "--out", help="Output file."),
    format: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    stream_step: bool = typer.Option(False, "--stream", help="A single streaming step with the state as named inputs/outputs."),
    pack_4d: bool = typer.Option(False, "--pack-4d", help="Carry 5-D state as 4-D tensors (runtimes without 5-D support)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Clip length of a whole-clip export."),
    size: Optional[int] = typer.Option(None, "--size", min=8, help="Frame size."),
    seed: int = typer.Option(0, "--seed", help="Weight seed when no --weights are given."),
    weights: Optional[str] = typer.Option(None, "--weights", help="A vidnas weights file (`vidnas weights convert`) to export with."),
    int8: bool = typer.Option(False, "--int8", help="Post-training static int8 quantisation (ONNX, onnxruntime), calibrated on --calibrate videos."),
    calibrate: Optional[list[str]] = typer.Option(None, "--calibrate", help="A calibration video (repeat the option for more); needed by --int8."),
    check: Optional[list[str]] = typer.Option(None, "--check", help="A video to compare int8 with fp32 on (repeatable; default: the calibration videos)."),
    method: str = typer.Option("minmax", "--calibration-method", help="Activation ranges: minmax or percentile."),
    val: Optional[str] = typer.Option(None, "--val", help="Labelled clips (a source folder or list) to score fp32 and int8 accuracy on; needs --weights."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="onnxruntime threads for the comparison."),
    as_json: bool = typer.Option(False, "--json", help="Print the int8 report as one JSON object."),
) -> None:
    """Export to ONNX or TorchScript, BN folded into the convs; whole clip or one streaming step. With --int8:
    the int8 ONNX graph, its activation ranges calibrated on your videos, then compared with fp32 on onnxruntime
    (median ms per clip or per step, top-1 agreement; accuracy of both with --val and --weights)."""
    from vidnas.export import export_model

    network, info = _network(model, weights, seed)
    network = network.eval()
    if not int8:
        if calibrate or check or val:
            raise _fail("--calibrate, --check and --val belong to --int8")
        result = export_model(network, out, format=format, stream=stream_step, pack_4d=pack_4d, frames=frames, size=size)
        kind = f"streaming step, {len(result.state_shapes)} state tensors" if result.stream else "whole clip"
        console.print(f"wrote {result.path} ({result.format}, {kind}); inputs {', '.join(result.input_names[:3])}{' ...' if len(result.input_names) > 3 else ''}", highlight=False)
        return
    if format != "onnx" or pack_4d:
        raise _fail("--int8 writes ONNX (no --format torchscript, no --pack-4d)")
    if not calibrate:
        raise _fail("--int8 needs calibration videos: --calibrate A.mp4 [--calibrate B.mp4 ...] (clips like those the model will see)")
    if val is not None and weights is None:
        raise _fail("--val scores trained weights: pass --weights too (random weights have no accuracy to keep)")
    if val is not None and stream_step:
        raise _fail("--val scores whole-clip graphs; export without --stream to measure accuracy")
    from vidnas.runtime import int8_export

    mean, std = _normalization(model, info)
    mode = "stream" if stream_step else "clip"
    report, int8_runtime, fp32_runtime = int8_export(network, out, calibrate, check=check or (), mode=mode, size=size, frames=frames,
                                                     mean=mean, std=std, threads=threads, method=method)
    if val is not None:
        from vidnas.train import evaluate_weights

        for name, runtime in (("fp32", fp32_runtime), ("int8", int8_runtime)):
            report.accuracy[name] = evaluate_weights(weights, data=val, runtime=runtime)["top1"]
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
        return
    unit = "ms/step" if mode == "stream" else "ms/clip"
    table = Table(title=f"{Path(out).name}: int8 against fp32 on onnxruntime ({report.calibration_inputs} calibration inputs, {method})")
    for column in ("", unit, "speed-up", "top-1 agreement", "max rel. logit error", "top-1 (--val)"):
        table.add_column(column, justify="right")
    compared = f"{report.checked} {'steps' if mode == 'stream' else 'clips'} of {'the --check videos' if report.held_out else 'the calibration videos'}"
    table.add_row("fp32", f"{report.fp32_ms:.2f}", "1.00", "", "", f"{report.accuracy['fp32']:.4f}" if "fp32" in report.accuracy else "-")
    table.add_row("int8", f"{report.int8_ms:.2f}", f"{report.speedup:.2f}", f"{report.agreement:.3f}", f"{report.max_relative_error:.3g}",
                  f"{report.accuracy['int8']:.4f}" if "int8" in report.accuracy else "-")
    console.print(table)
    console.print(f"agreement and error over {compared}; times: medians of interleaved calls", highlight=False)
    if weights is None:
        errors.print("[yellow]no --weights: random weights, so the agreement measures numerics only[/]", highlight=False)
    console.print(f"wrote {report.path}", highlight=False)


@app.command()
@friendly_errors
def train(
    model: str = typer.Argument(..., help="Zoo model name or genotype JSON file."),
    out: str = typer.Option(..., "--out", help="Run folder: checkpoints (last, best), metrics.jsonl, confusion PNG."),
    data: Optional[str] = typer.Option(None, "--data", help="Training source or clip cache (default: the built-in data set)."),
    val: Optional[str] = typer.Option(None, "--val", help="Validation source or clip cache."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Default 10 (or the --recipe file's)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Default 8."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Default 0.05."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help="sgd (default), adamw or rmsprop."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Default: the model's input."),
    size: Optional[int] = typer.Option(None, "--size", min=8, help="Default: the model's input."),
    frame_stride: Optional[int] = typer.Option(None, "--frame-stride", min=1, help="Default: the model's input (X3D-M: 5)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1),
    device: str = typer.Option("cpu", "--device"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Default 0."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    recipe_file: Optional[str] = typer.Option(None, "--recipe", help="A recipe JSON file (options given here override it)."),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Decode raw videos once into a clip cache (reused by later runs) instead of every epoch."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Start from a vidnas weights file (fine-tuning: a new classifier when the class count differs)."),
    freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="With --weights: train the classifier alone."),
) -> None:
    """Train a network; without --data on the built-in benchmark data set (generated on first use)."""
    from vidnas.train import Recipe, train_model

    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, frames=frames, size=size, frame_stride=frame_stride, max_steps=max_steps, seed=seed)
    recipe = _recipe(recipe_file, Recipe(), {k: v for k, v in given.items() if v is not None})
    genotype = load(model)
    if freeze_backbone and weights is None:
        raise _fail("--freeze-backbone needs --weights to start from")
    checkpoint = Path(out) / "last.json"
    if resume and not checkpoint.is_file():
        raise _fail(f"--resume: {checkpoint} does not exist")
    _, metrics = train_model(genotype, recipe=recipe, out_dir=out, data=data, val=val, classes=classes, device=device, resume=checkpoint if resume else None,
                             progress=True, cache=cache, log=lambda line: console.print(line, highlight=False), weights=weights,
                             freeze_backbone=freeze_backbone)
    console.print(json.dumps(metrics), highlight=False)


@app.command("eval")
@friendly_errors
def eval_command(
    checkpoint: str = typer.Argument(..., help="Run folder (its last checkpoint), a checkpoint .json/.safetensors, or a vidnas weights file (`vidnas weights convert`)."),
    data: Optional[str] = typer.Option(None, "--data", help="Source or clip cache (default: the built-in validation split)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    views: str = typer.Option("1x1", "--views", help="CLIPSxCROPS test views, e.g. 10x3."),
    device: str = typer.Option("cpu", "--device"),
    runtime: str = typer.Option("auto", "--runtime", help="Inference runtime: auto (the fastest, measured on the first batch), eager, deploy, onnxruntime or torchscript."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Evaluate a checkpoint: top-1/top-5 (or mAP), per-class accuracy, averaged over clips x crops."""
    from vidnas.train import evaluate_checkpoint

    try:
        clips, crops = (int(v) for v in views.lower().split("x"))
    except ValueError:
        raise _fail(f"--views must look like 10x3 (clips x crops), got {views!r}") from None
    if crops not in (1, 3) or clips < 1:
        raise _fail(f"--views: crops must be 1 or 3 and clips >= 1, got {views!r}")
    from vidnas.weights import read_info

    if checkpoint.endswith(".safetensors") and read_info(checkpoint).model is not None:  # a converted weights file
        from vidnas.train import evaluate_weights

        if data is None:
            raise _fail(f"{checkpoint}: a weights file is evaluated on your labelled clips: pass --data")
        result = evaluate_weights(checkpoint, data=data, classes=classes, views=(clips, crops), device=device, runtime=runtime)
    else:
        result = evaluate_checkpoint(checkpoint, data=data, classes=classes, views=(clips, crops), device=device, runtime=runtime)
    summary = {k: v for k, v in result.items() if k in ("top1", "top5", "map", "loss", "num_clips")}
    if as_json:
        sys.stdout.write(json.dumps(summary | {"per_class": result.get("per_class"), "runtime": result.get("runtime")}) + "\n")
    else:
        if "runtime" in result:
            from vidnas.runtime import describe

            errors.print(describe(result["runtime"]), highlight=False)
        console.print(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()), highlight=False)



zoo_app = typer.Typer(help="The model zoo: published architectures by name.", no_args_is_help=True)
app.add_typer(zoo_app, name="zoo")


@zoo_app.command("list")
@friendly_errors
def zoo_list(
    pattern: str = typer.Argument("*", help="Shell-style name pattern, e.g. 'movinet_*_stream'."),
    family: Optional[str] = typer.Option(None, "--family", help="tvn, evanet, assemblenet, movinet or x3d."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """Every zoo model: family, default input, parameters and MACs at that input."""
    from vidnas.zoo import index_rows, list_models

    names = set(list_models(pattern, family))
    rows = [row for row in index_rows() if row["name"] in names]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(show_header=True, header_style="bold")
    for column in ("name", "family", "input", "streams", "classes", "params", "MACs"):
        table.add_column(column, justify="right" if column in ("classes", "params", "MACs") else "left", no_wrap=True)
    for row in rows:
        table.add_row(
            row["name"],
            row["family"],
            f"{row['frames']}x{row['size']}² /{row['frame_stride']}",
            "+".join(row["streams"]),
            str(row["num_classes"]),
            f"{row['params'] / 1e6:.2f} M",
            f"{row['macs'] / 1e9:.2f} G",
        )
    console.print(table)
    console.print(f"{len(rows)} models. MACs: conv + linear multiply-accumulates at the default input.", highlight=False)


@zoo_app.command("info")
@friendly_errors
def zoo_info(name: str = typer.Argument(..., help="Zoo model name.")) -> None:
    """A zoo model's paper, input, normalisation, reference numbers and their source (JSON)."""
    from vidnas.genotype._types import dumps_compact
    from vidnas.zoo import model_info

    sys.stdout.write(dumps_compact(model_info(name).summary()) + "\n")


data_app = typer.Typer(help="Video data: the built-in benchmark set, checks, the decoded-clip cache.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _source(src: str, root: Optional[str], classes: Optional[str]):  # noqa: ANN202 - Source
    from vidnas.data import load_source

    return load_source(src, root=root, classes=classes)


def _progress_bar(description: str, total: int):  # noqa: ANN202 - (Progress, advance)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=errors, transient=True)
    task = progress.add_task(description, total=total)
    return progress, lambda *_: progress.advance(task)


@data_app.command("synth")
@friendly_errors
def data_synth(
    out: str = typer.Argument(..., help="Output folder."),
    classes: int = typer.Option(8, "--classes", help="Number of classes: an even number (time-reversal pairs), at most 10."),
    train_per_class: int = typer.Option(24, "--train-per-class", min=1),
    val_per_class: int = typer.Option(8, "--val-per-class", min=1),
    size: int = typer.Option(64, "--size", help="Frame size in pixels (even)."),
    frames: int = typer.Option(16, "--frames", min=2),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write the built-in benchmark data set: clips told apart only by motion and temporal order (H.264 mp4)."""
    from vidnas.data import synth_class_names, synthesize

    names = synth_class_names(classes)
    total = classes * (train_per_class + val_per_class)
    progress, advance = _progress_bar("writing clips", total)
    with progress:
        paths = synthesize(
            out, classes=classes, train_per_class=train_per_class, val_per_class=val_per_class, size=size, frames=frames, seed=seed, on_clip=advance
        )
    console.print(f"wrote {total} clips of {len(names)} classes ({', '.join(names)}) to {out}", highlight=False)
    console.print(f"train list {paths['train']}, val list {paths['val']}, classes {paths['classes']}", highlight=False)


@data_app.command("check")
@friendly_errors
def data_check(
    src: str = typer.Argument(..., help="Class-folder root or annotation file."),
    root: Optional[str] = typer.Option(None, "--root", help="Folder that relative paths in a list start from."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Open and decode (first and last frame of) every video: clips per class, duration, fps, resolution,
    unreadable files. Exit 1 only if none is usable."""
    from collections import Counter, defaultdict

    from vidnas.data import VideoError, verify

    source = _source(src, root, classes)
    per_class: dict[str, list] = defaultdict(list)
    bad: list[tuple[str, str]] = []
    progress, advance = _progress_bar("probing", len(source.items))
    with progress:
        for item in source.items:
            try:
                info = verify(item.path)
                for index in item.label if isinstance(item.label, tuple) else (item.label,):
                    per_class[source.classes[index]].append(info)
            except VideoError as error:
                bad.append((item.path, str(error)))
            advance()
    usable = len(source.items) - len(bad)
    summary_rows = []
    for name in source.classes:
        infos = per_class.get(name, [])
        fps = Counter(round(i.fps, 2) for i in infos)
        resolution = Counter(f"{i.width}x{i.height}" for i in infos)
        summary_rows.append(
            {
                "class": name,
                "clips": len(infos),
                "mean_duration_s": round(sum(i.duration for i in infos) / len(infos), 2) if infos else 0.0,
                "fps": [f for f, _ in fps.most_common(3)],
                "resolution": [r for r, _ in resolution.most_common(2)],
            }
        )
    if as_json:
        sys.stdout.write(json.dumps({"source": str(src), "layout": source.layout, "videos": len(source.items), "usable": usable, "classes": summary_rows, "unreadable": [{"path": p, "error": e} for p, e in bad]}) + "\n")
    else:
        table = Table(title=f"{src} ({source.layout}, {len(source.classes)} classes{', multi-label' if source.multi_label else ''})")
        for column in ("class", "clips", "mean duration", "fps", "resolution"):
            table.add_column(column, justify="right" if column in ("clips", "mean duration") else "left")
        for row in summary_rows:
            table.add_row(row["class"], str(row["clips"]), f"{row['mean_duration_s']:.2f} s", ", ".join(map(str, row["fps"])), ", ".join(row["resolution"]))
        console.print(table)
        console.print(f"{usable} of {len(source.items)} videos usable, {len(bad)} unreadable", highlight=False)
        for path, error in bad:
            errors.print(f"[yellow]unreadable[/] {error}", highlight=False, soft_wrap=True)
    if usable == 0:
        raise typer.Exit(1)


@data_app.command("cache")
@friendly_errors
def data_cache(
    src: str = typer.Argument(..., help="Class-folder root or annotation file."),
    out: str = typer.Option(..., "--out", help="Cache folder (reused: unchanged videos are not decoded again)."),
    frames: int = typer.Option(16, "--frames", min=1, help="Frames kept per video, spread over its length."),
    size: int = typer.Option(112, "--size", min=8, help="Frame size (short side resized, then centre crop)."),
    flow: Optional[str] = typer.Option(None, "--flow", help="Also cache optical flow: dis or farneback."),
    root: Optional[str] = typer.Option(None, "--root", help="Folder that relative paths in a list start from."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file."),
) -> None:
    """Decode every video once into memory-mapped uint8 shards that training and search reuse."""
    from vidnas.data import build_cache

    if flow is not None and flow not in ("dis", "farneback"):
        raise _fail(f"--flow must be 'dis' or 'farneback', got {flow!r}")
    source = _source(src, root, classes)
    progress, advance = _progress_bar("caching", len(source.items))
    with progress:
        cache = build_cache(source, out, frames=frames, size=size, flow=flow, progress=advance)
    stats = json.loads((Path(out) / "index.json").read_text())["stats"]
    console.print(
        f"cache {out}: {len(cache)} clips of {frames}x{size}x{size}{' + ' + flow + ' flow' if flow else ''} "
        f"({stats['decoded']} decoded, {stats['reused']} reused, {stats['failed']} unreadable)",
        highlight=False,
    )
    for entry in cache.failed:
        errors.print(f"[yellow]skipped[/] {entry['error']}", highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------------------ search


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise VidnasError(f"{flag} {text!r}: expected whole numbers separated by commas, e.g. 100,300") from None


def _options(pairs: list[str], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise VidnasError(f"{flag} {pair!r}: expected KEY=VALUE (VALUE as JSON, e.g. population=16 or widths=[[8,16]])")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


DEFAULT_LATENCY_MS = 10.0


@app.command()
@friendly_errors
def search(
    out: str = typer.Option("vidnas-search", "--out", help="Output folder: study.db, best genotypes, Pareto checkpoints, report.html."),
    data: Optional[str] = typer.Option(None, "--data", help="Training source or clip cache (default: the built-in benchmark data set)."),
    val: Optional[str] = typer.Option(None, "--val", help="Validation source or clip cache (without it, --data is split: see --val-fraction)."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", min=0.01, max=0.99, help="With --data and no --val: the stratified part of each class held out for validation (kept in OUT/split/)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    space: str = typer.Option("tvn", "--space", help="tvn, evanet, assemblenet, movinet or autox3d."),
    preset: str = typer.Option("proxy", "--space-preset", help="proxy (small, CPU-friendly widths) or paper (published ranges)."),
    space_option: list[str] = typer.Option([], "--space-option", help="Override a space option: KEY=JSON (repeatable)."),
    strategy: str = typer.Option("constrained", "--strategy", help="random, evolution, constrained, guided, parsec or pareto."),
    strategy_option: list[str] = typer.Option([], "--strategy-option", help="Strategy setting KEY=JSON, e.g. population=16 (repeatable)."),
    supernet: bool = typer.Option(False, "--supernet", help="parsec: train a weight-sharing supernet first (autox3d space)."),
    supernet_steps: Optional[int] = typer.Option(None, "--supernet-steps", min=1, help="Supernet steps (default: 40% of a time budget, else 100)."),
    budget: str = typer.Option("10m", "--budget", help="Trials (25) or time (90s, 10m, 1.5h)."),
    latency_ms: Optional[float] = typer.Option(None, "--latency-ms", help=f"Latency limit, batch 1 on --device (constrained: default {DEFAULT_LATENCY_MS:g})."),
    max_macs: Optional[float] = typer.Option(None, "--max-macs", help="MACs limit (e.g. 5e7)."),
    max_params: Optional[float] = typer.Option(None, "--max-params", help="Parameter limit."),
    max_memory_mb: Optional[float] = typer.Option(None, "--max-memory-mb", help="Peak inference memory limit (MiB)."),
    constraint_mode: str = typer.Option("reject", "--constraint-mode", help="reject (never trained) or penalty."),
    predictor: Optional[str] = typer.Option(None, "--latency-predictor", help="Use a calibrated predictor (vidnas latency calibrate) instead of measuring."),
    objectives: str = typer.Option("accuracy,latency_ms", "--objectives", help="Comma list; pareto uses all: accuracy,latency_ms,peak_memory_mb."),
    rungs: str = typer.Option("100,300", "--rungs", help="Successive halving: training steps per rung (comma list), or 'off' (one evaluation by the recipe's own budget)."),
    eta: int = typer.Option(3, "--eta", min=2, help="Successive halving: the top 1/eta of each rung continue to the next."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epoch bound of the candidate recipe (with --rungs off: the budget)."),
    candidate_seconds: Optional[float] = typer.Option(None, "--candidate-seconds", help="Time cap per evaluation: shrinks its planned steps up front (the schedule still completes)."),
    recipe_file: Optional[str] = typer.Option(None, "--recipe", help="Recipe JSON for candidates (then --epochs/--candidate-seconds override it only when given)."),
    final_retrain: str = typer.Option("on", "--final-retrain", help="on: after the budget retrain the top candidates and the baselines from scratch; off: skip."),
    final_top_k: int = typer.Option(3, "--final-top-k", min=1, help="Candidates of the final retraining."),
    final_seeds: int = typer.Option(2, "--final-seeds", min=1, help="Seeds per model in the final retraining."),
    final_steps: Optional[int] = typer.Option(None, "--final-steps", min=1, help="Steps of the final retraining (default: the last rung)."),
    device: str = typer.Option("cpu", "--device", help="Where candidates train and latency is measured (cpu, cuda, cuda:1)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores, split between workers)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Candidates evaluated at once (default: one per device)."),
    executor: str = typer.Option("local", "--executor", help="local (worker processes), ray, or inprocess."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local one)."),
    study: str = typer.Option("search", "--study", help="Study name; the same --study and --storage resume."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default: sqlite in --out)."),
    seed: int = typer.Option(0, "--seed"),
    timeout: Optional[float] = typer.Option(None, "--candidate-timeout", help="Fail a candidate after this many seconds."),
) -> None:
    """Search for an architecture. With no arguments: the TVN space, constrained evolution under a CPU latency
    limit, about 10 minutes on the built-in data set; the report goes to vidnas-search/report.html."""
    from vidnas.search import ConstraintSpec, SearchConfig, parse_budget, run_search
    from vidnas.search._executors import default_workers

    trials, seconds = parse_budget(budget)
    limits = [(m, v) for m, v in (("latency_ms", latency_ms), ("macs", max_macs), ("params", max_params), ("peak_memory_mb", max_memory_mb)) if v is not None]
    if len(limits) > 1:
        raise VidnasError("give one limit (--latency-ms, --max-macs, --max-params or --max-memory-mb)")
    if not limits and strategy == "constrained":
        limits = [("latency_ms", DEFAULT_LATENCY_MS)]
    constraint = None
    if limits:
        metric, limit = limits[0]
        constraint = ConstraintSpec(metric=metric, limit=limit, mode=constraint_mode, source="predicted" if predictor and metric == "latency_ms" else "measured", predictor=predictor)
    overrides = {k: v for k, v in (("epochs", epochs), ("max_seconds", candidate_seconds)) if v is not None}
    recipe = _recipe(recipe_file, SearchConfig.model_fields["recipe"].default, overrides)
    if final_retrain not in ("on", "off"):
        raise VidnasError(f"--final-retrain {final_retrain!r}: expected on or off")
    rung_steps = None if rungs.strip().lower() == "off" else _int_list(rungs, "--rungs")
    strategy_options = _options(strategy_option, "--strategy-option")
    if supernet:
        strategy_options["shared_weights"] = True
    objective_list = [o.strip() for o in objectives.split(",") if o.strip()]
    if strategy == "pareto" and objectives == "accuracy,latency_ms":
        objective_list = ["accuracy", "latency_ms", "peak_memory_mb"]
    config = SearchConfig(
        space=space, space_preset=preset, space_options=_options(space_option, "--space-option"), strategy=strategy, strategy_options=strategy_options,
        trials=trials, seconds=seconds, constraint=constraint, objectives=objective_list, recipe=recipe, data=data, val=val, val_fraction=val_fraction, classes=classes,
        device=device, threads=threads, workers=workers or default_workers(device, executor), executor=executor, ray_address=address, seed=seed, candidate_timeout=timeout,
        supernet_steps=supernet_steps, rungs=rung_steps, eta=eta, final_retrain=final_retrain == "on", final_top_k=final_top_k, final_seeds=final_seeds,
        final_steps=final_steps,
    )
    result = run_search(config, out, study=study, storage=storage)
    best = result.best
    from vidnas.search._study import current

    table = Table(title=f"search {study}: {len(current(result.trials))} candidates scored, stopped on {result.stopped}, {result.elapsed / 60:.1f} min")
    for column in ("candidate", "rung", "proxy accuracy", "latency ms", "MMACs", "M params", "origin"):
        table.add_column(column, justify="right")
    for trial in current(result.trials)[:5]:
        m = trial.metrics
        table.add_row(str(trial.attrs.get("candidate", trial.number)), str(trial.attrs.get("rung", 0)), f"{m.get('accuracy', 0):.3f}", f"{m.get('latency_ms', 0):.1f}",
                      f"{(m.get('macs') or 0) / 1e6:.1f}", f"{(m.get('params') or 0) / 1e6:.3f}", str(trial.attrs.get("origin")))
    console.print(table)
    finals = result.outputs.get("final") or []
    if finals:
        from vidnas.search._final import SHORT, verdict

        retrained = Table(title="retrained from scratch with the same recipe (the answer)")
        for column in ("model", "what", "accuracy", "± SE", "latency ms", "fits", "MMACs"):
            retrained.add_column(column, justify="right")
        for row in finals:
            retrained.add_row(("* " if row["winner"] else "") + row["name"], SHORT.get(row["kind"], row["kind"] or ""),
                              f"{row['accuracy']:.3f}" if row["accuracy"] is not None else "-", f"{row['se']:.3f}" if row["se"] is not None else "-",
                              f"{row['latency_ms']:.1f}" if row["latency_ms"] is not None else "-", "yes" if row["fits"] else "no",
                              f"{(row['macs'] or 0) / 1e6:.1f}")
        console.print(retrained)
        console.print(verdict(finals), highlight=False)
    if best is not None:
        console.print(f"best genotype: {result.outputs.get('best')}", highlight=False)
    console.print(f"report: {result.outputs.get('report')}", highlight=False)
    console.print(f"study: --study {study} --storage {result.storage}", highlight=False)


@app.command()
@friendly_errors
def report(
    study: str = typer.Option("search", "--study", help="Study name."),
    storage: str = typer.Option(..., "--storage", help="Optuna storage URL, e.g. sqlite:///vidnas-search/study.db."),
    out: str = typer.Option(..., "--out", help="Folder for report.html and the PNGs."),
) -> None:
    """Rebuild a search's report (HTML + PNGs) from its study."""
    from vidnas.report import build_report
    from vidnas.search import Study

    path = build_report(Study.load(study, storage), out)
    console.print(f"report: {path}", highlight=False)


weights_app = typer.Typer(help="Published weights: convert X3D / MoViNet checkpoints, inspect weights files.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")


@weights_app.command("convert")
@friendly_errors
def weights_convert(
    src: str = typer.Argument(..., help="The published checkpoint: a PyTorchVideo/PySlowFast .pyth, or a TF MoViNet checkpoint (directory, .index or .tar.gz)."),
    model: str = typer.Option(..., "--model", help="The zoo model the weights belong to (e.g. x3d_m, movinet_a0_stream)."),
    out: str = typer.Option(..., "--out", help="Output FILE.safetensors (a FILE.json sidecar is written beside it)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Source naming (default: detected)."),
) -> None:
    """Convert a published checkpoint into a vidnas weights file; nothing is unpickled, every tensor is checked."""
    from vidnas.weights import convert

    result = convert(src, model, out, fmt=fmt)
    console.print(f"wrote {result.out} ({result.tensors} tensors, {result.num_classes} classes, from {result.format})", highlight=False)
    if result.unused:
        console.print(f"[yellow]{len(result.unused)} source tensors not used: {', '.join(result.unused[:5])}{' ...' if len(result.unused) > 5 else ''}[/]", highlight=False)


@weights_app.command("info")
@friendly_errors
def weights_info(file: str = typer.Argument(..., help="A vidnas weights file.")) -> None:
    """What a weights file holds: model, classes, label set, preprocessing and source."""
    from vidnas.weights import read_info, read_weights

    info = read_info(file)
    tensors = read_weights(file)
    names = info.names()
    sys.stdout.write(json.dumps({"file": file, "model": info.model, "tensors": len(tensors), "num_classes": info.num_classes,
                                 "label_set": info.label_set, "first_classes": names[:5] if names else None,
                                 "preprocessing": info.preprocessing, "source": info.source}, indent=1) + "\n")


latency_app = typer.Typer(help="Latency prediction: calibrate a predictor on the target device.", no_args_is_help=True)
app.add_typer(latency_app, name="latency")


@latency_app.command("calibrate")
@friendly_errors
def latency_calibrate(
    space: str = typer.Option("tvn", "--space", help="Search space whose architectures the predictor serves."),
    preset: str = typer.Option("proxy", "--space-preset"),
    samples: int = typer.Option(60, "--samples", min=4, help="Calibration architectures, measured whole (the regression's data)."),
    op_samples: int = typer.Option(500, "--op-samples", min=0, help="Architectures whose ops are timed one by one into the lookup table."),
    held_out: int = typer.Option(20, "--held-out", min=3, help="Held-out architectures to score the predictor on."),
    device: str = typer.Option("cpu", "--device"),
    threads: Optional[int] = typer.Option(None, "--threads"),
    runs: int = typer.Option(7, "--runs", min=1, help="Timed runs per measurement."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Passes over the architectures, interleaved with the op timings (median taken)."),
    seed: int = typer.Option(0, "--seed"),
    out: str = typer.Option("latency-predictor.json", "--out", help="Where to save the predictor (JSON)."),
) -> None:
    """Measure sampled architectures and their ops on this device, fit the predictor, print its accuracy on
    held-out architectures (Spearman, MAPE) and how much faster than measuring it is."""
    from rich.progress import Progress

    from vidnas.measure import calibrate
    from vidnas.spaces import make_space

    with Progress(console=errors, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def update(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = progress.add_task(f"measuring {kind}", total=total)
            progress.update(tasks[kind], completed=done)

        predictor = calibrate(make_space(space, preset=preset), samples=samples, held_out=held_out, op_samples=op_samples, device=device,
                              threads=threads, runs=runs, rounds=rounds, seed=seed, progress=update)
    predictor.save(out)
    r = predictor.report
    table = Table(title=f"latency predictor for {space} on {device}" + (f", {threads} threads" if threads else ""))
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, label in (("held_out_architectures", "held-out architectures"), ("ops_measured", "ops in the lookup table"),
                       ("held_out_ops_in_table", "held-out ops found in the table"), ("spearman", "Spearman"), ("mape", "MAPE"),
                       ("measurement_noise", "pass-to-pass measurement noise"), ("measure_ms_per_architecture", "measuring (ms / architecture)"), ("predict_ms_per_architecture", "predicting, cold (ms)"),
                       ("predict_ms_per_architecture_warm", "predicting, memoised layers (ms)"), ("speedup", "speed-up, cold"), ("speedup_warm", "speed-up, memoised")):
        value = r.get(key)
        percent = key in ("mape", "measurement_noise", "held_out_ops_in_table") and value is not None
        table.add_row(label, f"{value:.1%}" if percent else str(value))
    console.print(table)
    console.print(f"saved {out}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
