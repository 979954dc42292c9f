"""Genotypes: ``vidnas validate``, ``vidnas show`` and ``vidnas profile``."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from vidnas.cli._app import app, console, errors, fail, friendly_errors
from vidnas.cli._inputs import load, load_network, trained
from vidnas.cli._render import layer_table, profile_table
from vidnas.errors import GenotypeError


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
    console.print(layer_table(summary_rows(genotype)))


@app.command()
@friendly_errors
def profile(
    file: str = typer.Argument(..., help="Genotype JSON file, zoo model name (see `vidnas zoo list`) or a trained network (its weights checked)."),
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
    runtime: str = typer.Option("auto", "--runtime", help="With --latency: also time the inference runtimes (auto: all, fastest marked; or one of eager, deploy, onnxruntime, torchscript, and with a GPU cuda, cuda-fp16, cuda-bf16; 'off': none)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Parameters, MACs and FLOPs (and, if asked, latency and peak memory) of a genotype."""
    import torch

    from vidnas.measure import profile as run_profile

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise fail(f"--device {device}: CUDA is not available on this machine")
    if device != "cpu" and not device.startswith("cuda"):
        raise fail(f"--device must be 'cpu' or 'cuda[:N]', got {device!r}")
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in dtypes:
        raise fail(f"--dtype must be one of {sorted(dtypes)}, got {dtype!r}")
    genotype = load(file)
    if weights is not None or trained(file) is not None:
        _, info = load_network(file, weights)
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
    if latency and runtime != "off" and dtype == "float32":  # on a GPU machine the cuda runtimes are timed too
        from vidnas import build_model
        from vidnas.runtime import select_runtime

        network = build_model(genotype).eval()
        selection = select_runtime(network, mode="clip", runtime=runtime, threads=threads, batch=batch, size=size, frames=frames, repeats=runs)
        data["runtimes"] = selection.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    console.print(profile_table(f"{genotype.name} ({genotype.family})", data, result, selection))
    console.print(f"[dim]{result.macs.convention}[/]", highlight=False)
