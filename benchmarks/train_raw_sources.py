"""`vidnas train` on raw video files: training seconds ÷ wall seconds with the clip cache (decode once, the
default) against decoding every epoch (``--no-cache``), same model, recipe and data, runs interleaved. The first
cached run pays the one-time decode; later runs reuse the cache (both are printed).

    python benchmarks/train_raw_sources.py                    # simple 3D CNN, 300 steps, built-in mp4 data set
    python benchmarks/train_raw_sources.py --steps 100 --repeats 2
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from vidnas.data import builtin_dataset, data_home
from vidnas.search import simple_3d_cnn
from vidnas.train import Recipe, train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/train_raw_sources.md")
    args = parser.parse_args()
    paths = builtin_dataset()  # 8 classes x 24 train / 8 val mp4 clips, 16 frames at 64²
    recipe = Recipe(epochs=10_000, max_steps=args.steps, batch_size=16, optimizer="adamw", lr=3e-3, warmup_epochs=0.05, eval_every=10_000, size=32)
    genotype = simple_3d_cnn(8)
    shutil.rmtree(data_home() / "clip-cache", ignore_errors=True)  # the first cached run decodes
    rows = []
    for repeat in range(args.repeats):
        for cache in (True, False):
            started = time.perf_counter()
            trainer, metrics = train_model(genotype, recipe=recipe, out_dir=Path(tempfile.mkdtemp()), data=paths["train"], val=paths["val"],
                                           classes=paths["classes"], cache=cache)
            wall = time.perf_counter() - started
            rows.append({"cache": cache, "repeat": repeat, "wall": wall, "train": trainer.train_seconds, "fraction": trainer.train_seconds / wall, "top1": trainer.last_eval.get("top1")})
            print(f"repeat {repeat} cache={cache}: wall {wall:.1f} s, training {trainer.train_seconds:.1f} s, fraction {trainer.train_seconds / wall:.2f}", flush=True)
    lines = [f"`python benchmarks/train_raw_sources.py --steps {args.steps} --repeats {args.repeats}` — simple 3D CNN, {args.steps} steps at batch 16, "
             "built-in mp4 data set (192 training / 64 validation clips, 16 frames at 64², sampled at 32²), runs interleaved", "",
             "| run | wall s | training s | training ÷ wall |", "|---|---|---|---|"]
    for row in rows:
        name = ("clip cache" + (" (first run: decodes once)" if row["repeat"] == 0 else " (reused)")) if row["cache"] else "decode every epoch (--no-cache)"
        lines.append(f"| {name} | {row['wall']:.1f} | {row['train']:.1f} | {row['fraction']:.2f} |")
    reused = [r["fraction"] for r in rows if r["cache"] and r["repeat"] > 0] or [r["fraction"] for r in rows if r["cache"]]
    raw = [r["fraction"] for r in rows if not r["cache"]]
    lines += ["", f"median training ÷ wall: cached {statistics.median(reused):.2f}, decoding every epoch {statistics.median(raw):.2f}"]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
