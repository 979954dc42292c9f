"""Video data: ``vidnas data synth``, ``vidnas data check`` and ``vidnas data cache``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from vidnas.cli._app import console, errors, fail, friendly_errors, group
from vidnas.cli._inputs import data_source
from vidnas.cli._render import data_table, progress_bar

data_app = group("data", "Video data: the built-in benchmark set, checks, the decoded-clip cache.")


@data_app.command("synth")
@friendly_errors
def data_synth(
    out: str = typer.Argument(..., help="Output folder."),
    classes: int = typer.Option(8, "--classes", help="Number of classes: with --task pairs an even number (time-reversal pairs), at most 10."),
    train_per_class: int = typer.Option(24, "--train-per-class", min=1),
    val_per_class: int = typer.Option(8, "--val-per-class", min=1),
    size: int = typer.Option(64, "--size", help="Frame size in pixels (even)."),
    frames: int = typer.Option(16, "--frames", min=2),
    seed: int = typer.Option(0, "--seed"),
    task: str = typer.Option("pairs", "--task", help="pairs (time-reversed pairs: temporal order decides) or motions (forward motions only: easier)."),
    object_scale: float = typer.Option(1.0, "--object-scale", min=0.25, max=3.0, help="Size and travel of the moving object (search's built-in data: 2)."),
    store: bool = typer.Option(False, "--store", help="Write decoded-clip stores (OUT/train, OUT/val: what --data/--val of search and train read "
                                                      "without decoding) instead of mp4 files."),
) -> None:
    """Write the built-in benchmark data set: clips told apart only by motion and temporal order (H.264 mp4, or
    decoded-clip stores with --store). A harder variant than search's default, where a 3D CNN needs ~1000 steps to
    learn: --store --classes 8 --train-per-class 256 --val-per-class 64 --size 32."""
    from vidnas.data import builtin_store, synth_class_names, synthesize

    names = synth_class_names(classes, task)
    total = classes * (train_per_class + val_per_class)
    if store:
        paths = builtin_store(out, classes=classes, train_per_class=train_per_class, val_per_class=val_per_class, size=size, frames=frames,
                              seed=seed, task=task, object_scale=object_scale)
        console.print(f"wrote {total} decoded clips of {len(names)} classes ({', '.join(names)}) to {out}", highlight=False)
        console.print(f"search them: vidnas search --data {paths['train']} --val {paths['val']}", highlight=False)
        return
    progress, advance = progress_bar("writing clips", total)
    with progress:
        paths = synthesize(
            out, classes=classes, train_per_class=train_per_class, val_per_class=val_per_class, size=size, frames=frames, seed=seed, task=task,
            object_scale=object_scale, on_clip=advance,
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

    source = data_source(src, root, classes)
    per_class: dict[str, list] = defaultdict(list)
    bad: list[tuple[str, str]] = []
    progress, advance = progress_bar("probing", len(source.items))
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
        console.print(data_table(f"{src} ({source.layout}, {len(source.classes)} classes{', multi-label' if source.multi_label else ''})", summary_rows))
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
        raise fail(f"--flow must be 'dis' or 'farneback', got {flow!r}")
    source = data_source(src, root, classes)
    progress, advance = progress_bar("caching", len(source.items))
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
