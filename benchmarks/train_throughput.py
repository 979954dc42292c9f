"""Benchmark: CPU training throughput (clips/s) of zoo models at a proxy size, forward + backward + step.

    python benchmarks/train_throughput.py                          # x3d_xs and movinet_a0, 8x112², batch 8
    python benchmarks/train_throughput.py --models x3d_s tvn1 --frames 8 --size 112 --batch 8 --channels-last
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from vidnas import create_model
from vidnas.measure import count_macs
from vidnas.train import Recipe, make_optimizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["x3d_xs", "movinet_a0"])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", nargs="*", type=int, default=[2])
    args = parser.parse_args()
    table = Table(title=f"CPU training throughput at {args.frames}x{args.size}², batch {args.batch} (median of {args.steps} steps)")
    for column in ("model", "threads", "layout", "GMACs/clip (fwd)", "ms/step", "clips/s"):
        table.add_column(column, justify="left" if column in ("model", "layout") else "right")
    for name in args.models:
        for threads in args.threads:
            for channels_last in (False, True):
                torch.set_num_threads(threads)
                model = create_model(name, num_classes=10, frames=args.frames, size=args.size, seed=0).train()
                fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
                model = model.to(memory_format=fmt)
                optimizer = make_optimizer(model, Recipe(optimizer="sgd", lr=0.01))
                x = torch.randn(args.batch, 3, args.frames, args.size, args.size).contiguous(memory_format=fmt)
                y = torch.randint(0, 10, (args.batch,))
                macs = count_macs(model, x[:1]).macs
                times = []
                for step in range(args.steps + 2):
                    start = time.perf_counter()
                    loss = F.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if step >= 2:
                        times.append(time.perf_counter() - start)
                median = statistics.median(times)
                table.add_row(name, str(threads), "channels_last_3d" if channels_last else "contiguous", f"{macs / 1e9:.3f}", f"{median * 1000:.0f}", f"{args.batch / median:.1f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
