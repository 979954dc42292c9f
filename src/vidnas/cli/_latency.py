"""Latency prediction: ``vidnas latency calibrate``."""

from __future__ import annotations

from typing import Optional

import typer

from vidnas.cli._app import console, errors, friendly_errors, group
from vidnas.cli._render import predictor_table, stage_progress

latency_app = group("latency", "Latency prediction: calibrate a predictor on the target device.")


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
        predictor = calibrate(make_space(space, preset=preset), samples=samples, held_out=held_out, op_samples=op_samples, device=device,
                              threads=threads, runs=runs, rounds=rounds, seed=seed, progress=stage_progress(progress))
    predictor.save(out)
    console.print(predictor_table(f"latency predictor for {space} on {device}" + (f", {threads} threads" if threads else ""), predictor.report))
    console.print(f"saved {out}", highlight=False)
