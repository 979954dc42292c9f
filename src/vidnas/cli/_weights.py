"""Published weights: ``vidnas weights convert`` and ``vidnas weights info``."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from vidnas.cli._app import console, friendly_errors, group

weights_app = group("weights", "Published weights: convert X3D / MoViNet checkpoints, inspect weights files.")


@weights_app.command("convert")
@friendly_errors
def weights_convert(
    src: str = typer.Argument(..., help="The published checkpoint: a PyTorchVideo/PySlowFast .pyth, or a TF MoViNet checkpoint (directory, .index or .tar.gz)."),
    model: str = typer.Option(..., "--model", help="The zoo model the weights belong to (e.g. x3d_m, movinet_a0_stream)."),
    out: str = typer.Option(..., "--out", help="Output FILE.safetensors (a FILE.json sidecar is written beside it)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Source naming (default: detected)."),
) -> None:
    """Convert a published checkpoint into a vidnas weights file; nothing is unpickled, every tensor is checked."""
    from vidnas.zoo import convert

    result = convert(src, model, out, fmt=fmt)
    console.print(f"wrote {result.out} ({result.tensors} tensors, {result.num_classes} classes, from {result.format})", highlight=False)
    if result.unused:
        console.print(f"[yellow]{len(result.unused)} source tensors not used: {', '.join(result.unused[:5])}{' ...' if len(result.unused) > 5 else ''}[/]", highlight=False)


@weights_app.command("info")
@friendly_errors
def weights_info(file: str = typer.Argument(..., help="A trained network: weights file, checkpoint, run, search or bundle folder.")) -> None:
    """What a trained network's file holds: model, classes, label set, preprocessing, source, and for a network vidnas
    trained its accuracy, costs and recipe."""
    from vidnas.weights import read_info, read_weights

    info = read_info(file)
    tensors = read_weights(info.path)
    names = info.names()
    summary = {"file": str(info.path), "kind": info.kind, "model": info.model, "tensors": len(tensors), "num_classes": info.num_classes,
               "label_set": info.label_set, "first_classes": names[:5] if names else None, "preprocessing": info.preprocessing, "source": info.source}
    summary |= {k: v for k, v in (("metrics", info.metrics), ("costs", info.costs)) if v}
    sys.stdout.write(json.dumps(summary, indent=1) + "\n")
