"""Inference: ``vidnas stream`` (one video or many as one batch, ``--benchmark``) and ``vidnas export``
(ONNX / TorchScript, whole clip or one streaming step, ``--int8``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from vidnas.cli._app import app, console, errors, fail, friendly_errors
from vidnas.cli._inputs import load, load_network, normalization
from vidnas.cli._render import int8_table


@app.command()
@friendly_errors
def stream(
    videos: list[str] = typer.Argument(..., help="Video file(s); several are streamed together, one batched step per frame."),
    model: str = typer.Option(..., "--model", help="A trained network (search folder, weights file, checkpoint, run folder, bundle), or a zoo name or genotype JSON file (a causal network)."),
    top_k: int = typer.Option(5, "--top-k", min=1, help="Classes to show per output."),
    fps: Optional[float] = typer.Option(None, "--fps", help="Model frame rate (default: the model's)."),
    size: Optional[int] = typer.Option(None, "--size", help="Frame size (default: the model's)."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after this many model frames."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1),
    seed: int = typer.Option(0, "--seed", help="Weight seed when no --weights are given (random weights: meaningless classes)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Trained weights for a zoo name or genotype --model (a weights file, checkpoint or run folder): class names printed."),
    runtime: str = typer.Option("auto", "--runtime", help="auto (the fastest streaming step, measured), eager, deploy, onnxruntime, torchscript, or with a GPU cuda, cuda-fp16 or cuda-bf16 (CUDA graphs)."),
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
    network, info = load_network(model, weights, seed)
    network = network.eval()
    frame_size = size or genotype.input.size[0]
    network.init_state(1, frame_size)  # refuses a non-causal network before decoding
    missing = [v for v in videos if not Path(v).is_file()]
    if missing:
        raise fail(f"{missing[0]}: no such video file")
    selection = select_runtime(network, mode="stream", runtime=runtime, threads=threads, batch=len(videos), size=frame_size)
    errors.print(selection.summary(), highlight=False)
    network = selection.runtime
    mean, std = normalization(model, info)
    names = info.names() if info is not None else None
    if info is None:
        errors.print("[yellow]no trained weights: the network's weights are random, so its classes mean nothing[/]", highlight=False)

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
    model: str = typer.Argument(..., help="A trained network (search folder, weights file, checkpoint, run folder, bundle), or a zoo name or genotype JSON file."),
    out: Optional[str] = typer.Option(None, "--out", help="Output file (or use --bundle)."),
    format: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    stream_step: bool = typer.Option(False, "--stream", help="A single streaming step with the state as named inputs/outputs."),
    pack_4d: bool = typer.Option(False, "--pack-4d", help="Carry 5-D state as 4-D tensors (runtimes without 5-D support)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Clip length of a whole-clip export."),
    size: Optional[int] = typer.Option(None, "--size", min=8, help="Frame size."),
    seed: int = typer.Option(0, "--seed", help="Weight seed when no --weights are given."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Trained weights for a zoo name or genotype (a weights file, checkpoint or run folder)."),
    int8: bool = typer.Option(False, "--int8", help="Post-training static int8 quantisation (ONNX, onnxruntime), calibrated on --calibrate videos."),
    calibrate: Optional[list[str]] = typer.Option(None, "--calibrate", help="A calibration video (repeat the option for more); needed by --int8."),
    check: Optional[list[str]] = typer.Option(None, "--check", help="A video to compare int8 with fp32 on (repeatable; default: the calibration videos)."),
    method: str = typer.Option("minmax", "--calibration-method", help="Activation ranges: minmax or percentile."),
    val: Optional[str] = typer.Option(None, "--val", help="Labelled clips (a source folder or list) to score fp32 and int8 accuracy on; needs --weights."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="onnxruntime threads for the comparison."),
    as_json: bool = typer.Option(False, "--json", help="Print the int8 report as one JSON object."),
    bundle: Optional[str] = typer.Option(None, "--bundle", help="Write a deployment folder instead: model card, weights, fp32 ONNX (clip; streaming step for a causal network), int8 ONNX with --int8, labels and a standalone onnxruntime + PyAV example."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With --bundle: replace a folder that is not empty."),
) -> None:
    """Export to ONNX or TorchScript, BN folded into the convs; whole clip or one streaming step. With --int8:
    the int8 ONNX graph, its activation ranges calibrated on your videos, then compared with fp32 on onnxruntime
    (median ms per clip or per step, top-1 agreement; accuracy of both with --val and --weights). With --bundle DIR:
    everything a deployment needs in one folder, each graph checked against PyTorch."""
    from vidnas.export import export_model

    network, info = load_network(model, weights, seed)
    network = network.eval()
    if bundle is not None:
        _bundle(network, info, bundle, out=out, stream_step=stream_step, pack_4d=pack_4d, frames=frames, size=size, int8=int8, calibrate=calibrate,
                check=check, val=val, method=method, threads=threads, overwrite=overwrite, as_json=as_json)
        return
    if out is None:
        raise fail("give --out FILE (or --bundle DIR)")
    if not int8:
        if calibrate or check or val:
            raise fail("--calibrate, --check and --val belong to --int8")
        result = export_model(network, out, format=format, stream=stream_step, pack_4d=pack_4d, frames=frames, size=size)
        kind = f"streaming step, {len(result.state_shapes)} state tensors" if result.stream else "whole clip"
        console.print(f"wrote {result.path} ({result.format}, {kind}); inputs {', '.join(result.input_names[:3])}{' ...' if len(result.input_names) > 3 else ''}", highlight=False)
        return
    if format != "onnx" or pack_4d:
        raise fail("--int8 writes ONNX (no --format torchscript, no --pack-4d)")
    if not calibrate:
        raise fail("--int8 needs calibration videos: --calibrate A.mp4 [--calibrate B.mp4 ...] (clips like those the model will see)")
    if val is not None and info is None:
        raise fail("--val scores trained weights: give a trained network or --weights (random weights have no accuracy to keep)")
    if val is not None and stream_step:
        raise fail("--val scores whole-clip graphs; export without --stream to measure accuracy")
    from vidnas.runtime import int8_export

    mean, std = normalization(model, info)
    mode = "stream" if stream_step else "clip"
    report, int8_runtime, fp32_runtime = int8_export(network, out, calibrate, check=check or (), mode=mode, size=size, frames=frames,
                                                     mean=mean, std=std, threads=threads, method=method)
    if val is not None:
        from vidnas.train import evaluate_weights

        for name, runtime in (("fp32", fp32_runtime), ("int8", int8_runtime)):
            report.accuracy[name] = evaluate_weights(info, data=val, runtime=runtime)["top1"]
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
        return
    unit = "ms/step" if mode == "stream" else "ms/clip"
    compared = f"{report.checked} {'steps' if mode == 'stream' else 'clips'} of {'the --check videos' if report.held_out else 'the calibration videos'}"
    console.print(int8_table(f"{Path(out).name}: int8 against fp32 on onnxruntime ({report.calibration_inputs} calibration inputs, {method})", report, unit))
    console.print(f"agreement and error over {compared}; times: medians of interleaved calls", highlight=False)
    if info is None:
        errors.print("[yellow]no trained weights: random weights, so the agreement measures numerics only[/]", highlight=False)
    console.print(f"wrote {report.path}", highlight=False)


def _bundle(network, info, folder: str, *, out, stream_step, pack_4d, frames, size, int8, calibrate, check, val, method, threads, overwrite, as_json) -> None:  # noqa: ANN001
    """``vidnas export --bundle``: refuse the options that belong to a single file, then write and report the folder."""
    from vidnas.runtime import export_bundle

    if info is None:
        raise fail("a bundle carries trained weights: give a trained network (search folder, weights file, checkpoint, run folder) or --weights")
    given = [flag for flag, value in (("--out", out), ("--stream", stream_step), ("--pack-4d", pack_4d), ("--frames", frames), ("--size", size),
                                      ("--check", check), ("--val", val)) if value]
    if given:
        raise fail(f"--bundle writes every graph at the network's own input: drop {', '.join(given)}")
    result = export_bundle(network, info, folder, int8=int8, calibrate=calibrate or (), method=method, threads=threads, overwrite=overwrite)
    if as_json:
        sys.stdout.write(json.dumps({"folder": str(result.folder), "files": result.files, "errors": result.errors, "int8": result.int8}) + "\n")
        return
    checked = ", ".join(f"{graph} within {error:.1e}" for graph, error in result.errors.items())
    console.print(f"wrote {result.folder}/: {', '.join(result.files)}", highlight=False)
    console.print(f"checked against PyTorch: {checked} (relative logit error)", highlight=False)
    if result.int8:
        console.print(f"int8: top-1 agreement {result.int8['agreement']:.1%} over {result.int8['checked']} clips, {result.int8['int8_ms']:.2f} vs "
                      f"{result.int8['fp32_ms']:.2f} ms fp32", highlight=False)
    console.print(f"try it: python {result.folder / 'example.py'} VIDEO.mp4", highlight=False)


@app.command()
@friendly_errors
def benchmark(
    network: str = typer.Argument(..., help="A trained network: a search folder (its best), weights file, checkpoint, run folder or bundle."),
    data: Optional[str] = typer.Option(None, "--data", help="Labelled clips to score on (class folders, a list or a clip cache; default: the validation clips the network's record names, e.g. its search's)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="Comma list of runtimes (default: every available one: eager, deploy, onnxruntime, torchscript, onnxruntime-int8, and the cuda ones with a GPU)."),
    int8: bool = typer.Option(True, "--int8/--no-int8", help="Include onnxruntime int8, calibrated on --calibrate clips (else on --data's own)."),
    calibrate: Optional[str] = typer.Option(None, "--calibrate", help="Labelled clips to calibrate int8 on, e.g. the training split (default: --data itself, optimistic)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Threads every runtime may use (default: torch's)."),
    rounds: int = typer.Option(15, "--rounds", min=1, help="Timing rounds (the runtimes take turns each round)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Accuracy and latency of one trained network on every runtime, in one table: top-1/top-5 on your clips,
    agreement with PyTorch eager, median ms per clip (batch 1) timed in turns, and ms per streaming step for a
    causal network — what each deployment choice costs."""
    from vidnas.train import benchmark_network

    names = [n.strip() for n in runtime.split(",") if n.strip()] if runtime else None
    result = benchmark_network(network, data=data, classes=classes, threads=threads, runtimes=names, int8=int8, calibrate=calibrate, rounds=rounds,
                               log=lambda line: errors.print(f"[dim]{line}[/]", highlight=False))
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
        return
    from vidnas.cli._render import benchmark_table

    console.print(benchmark_table(result))
    if result.calibration:
        caveat = "" if calibrate else " — the scored clips themselves, an optimistic setting (--calibrate TRAIN for held-out numbers)"
        console.print(f"[dim]int8 calibrated on {result.calibration}{caveat}[/]", highlight=False)
    machine = result.machine
    console.print(f"[dim]{machine.get('cpu')}, {machine.get('cores')} cores, torch {machine.get('torch')}; medians over {rounds} interleaved rounds[/]", highlight=False)
