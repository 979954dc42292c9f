"""Training and evaluation: ``vidnas train`` and ``vidnas eval``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from vidnas.cli._app import app, console, errors, fail, friendly_errors
from vidnas.cli._inputs import load, trained


@app.command()
@friendly_errors
def train(
    model: str = typer.Argument(..., help="Zoo model name, genotype JSON file, or a trained network to fine-tune (search folder, weights file, checkpoint, run folder, bundle)."),
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
    weights: Optional[str] = typer.Option(None, "--weights", help="Start from trained weights (a weights file, checkpoint or run folder; fine-tuning: a new classifier when the class count differs). A trained network as MODEL starts from its own."),
    freeze_backbone: bool = typer.Option(False, "--freeze-backbone", help="With --weights: train the classifier alone."),
) -> None:
    """Train a network; without --data on the built-in benchmark data set (generated on first use)."""
    from vidnas.train import load_recipe, train_model

    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, frames=frames, size=size, frame_stride=frame_stride, max_steps=max_steps, seed=seed)
    recipe = load_recipe(recipe_file, overrides={k: v for k, v in given.items() if v is not None})
    genotype = load(model)
    if weights is None and trained(model) is not None:
        weights = model  # fine-tune the trained network given
    if freeze_backbone and weights is None:
        raise fail("--freeze-backbone needs --weights to start from")
    checkpoint = Path(out) / "last.json"
    if resume and not checkpoint.is_file():
        raise fail(f"--resume: {checkpoint} does not exist")
    _, metrics = train_model(genotype, recipe=recipe, out_dir=out, data=data, val=val, classes=classes, device=device, resume=checkpoint if resume else None,
                             progress=True, cache=cache, log=lambda line: console.print(line, highlight=False), weights=weights,
                             freeze_backbone=freeze_backbone)
    console.print(json.dumps(metrics), highlight=False)


@app.command("eval")
@friendly_errors
def eval_command(
    network: str = typer.Argument(..., help="A trained network: a search folder (its best), a weights file, a checkpoint (.json/.safetensors), a `vidnas train` run folder (its best) or a bundle."),
    data: Optional[str] = typer.Option(None, "--data", help="Labelled source or clip cache (default: the validation clips the network's record names, e.g. its search's; else the built-in validation split)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    views: str = typer.Option("1x1", "--views", help="CLIPSxCROPS test views, e.g. 10x3."),
    device: str = typer.Option("cpu", "--device"),
    runtime: str = typer.Option("auto", "--runtime", help="Inference runtime: auto (the fastest, measured on the first batch), eager, deploy, onnxruntime, torchscript, or with a GPU cuda, cuda-fp16 or cuda-bf16."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Evaluate a trained network: top-1/top-5 (or mAP), per-class accuracy, averaged over clips x crops, its
    clips cut and normalised as it was trained; classes matched to the data's by name."""
    from vidnas.train import evaluate_weights

    try:
        clips, crops = (int(v) for v in views.lower().split("x"))
    except ValueError:
        raise fail(f"--views must look like 10x3 (clips x crops), got {views!r}") from None
    if crops not in (1, 3) or clips < 1:
        raise fail(f"--views: crops must be 1 or 3 and clips >= 1, got {views!r}")
    result = evaluate_weights(network, data=data, classes=classes, views=(clips, crops), device=device, runtime=runtime)
    summary = {k: v for k, v in result.items() if k in ("top1", "top5", "map", "loss", "num_clips")}
    if as_json:
        sys.stdout.write(json.dumps(summary | {"per_class": result.get("per_class"), "runtime": result.get("runtime")}) + "\n")
    else:
        if "runtime" in result:
            from vidnas.runtime import describe

            errors.print(describe(result["runtime"]), highlight=False)
        from vidnas.cli._render import evaluation_table

        console.print(evaluation_table(f"{network}: {summary.get('num_clips')} videos, {views} views", summary, result.get("per_class") or {}))
