"""Benchmark: cost and batch-1 latency of the example genotypes, as a table.

For each example: parameters, MACs, and the median forward latency on CPU with 1 and 2 threads in the
contiguous and channels_last_3d layouts (and on CUDA in fp32 / fp16 when a GPU is present), with the
effective GMAC/s. All rows come from one run on one machine, so they compare with each other.

    python benchmarks/profile_examples.py                # reference inputs (slow for AssembleNet/EvaNet)
    python benchmarks/profile_examples.py --quick        # 8 frames at 112², a few seconds per model
    python benchmarks/profile_examples.py --json out.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from vidnas import build_model, load_genotype
from vidnas.measure import count_macs, count_parameters, measure_latency

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = ["tvn1", "movinet_a0_stream", "x3d_s", "evanet_arch1_rgb", "assemblenet50"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 frames at 112x112 instead of each reference input")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=NAMES, help="example names")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()

    rows = []
    console = Console(width=180)
    table = Table(title="vidnas examples: batch-1 forward latency (median ms) and effective GMAC/s")
    for column in ("model", "input", "params", "GMACs", "setting", "median ms", "p10-p90 ms", "GMAC/s"):
        table.add_column(column, justify="right" if column not in ("model", "setting") else "left")
    settings = [("cpu", t, cl, torch.float32) for t in (1, 2) for cl in (False, True)]
    if torch.cuda.is_available():
        settings += [("cuda", None, cl, dt) for cl in (False, True) for dt in (torch.float32, torch.float16)]
    for name in args.only:
        genotype = load_genotype(EXAMPLES / f"{name}.json")
        if args.quick:
            genotype = genotype.with_input(frames=min(8, genotype.input.frames), size=112)
        model = build_model(genotype, seed=0).eval()
        inputs = model.example_input(1)
        macs = count_macs(model, inputs).macs
        params = count_parameters(model).total
        shape = f"{genotype.input.frames}x{genotype.input.size[0]}²"
        for device, threads, channels_last, dtype in settings:
            result = measure_latency(
                model, inputs, device=device, threads=threads, warmup=args.warmup, runs=args.runs, channels_last=channels_last, dtype=dtype if device == "cuda" else None
            )
            setting = f"{device} {threads or ''}{'t ' if threads else ''}{'channels_last' if channels_last else 'contiguous'}" + (f" {result.dtype}" if device == "cuda" else "")
            rate = macs / 1e9 / (result.median_ms / 1000)
            table.add_row(name, shape, f"{params / 1e6:.2f}M", f"{macs / 1e9:.2f}", setting, f"{result.median_ms:.1f}", f"{result.p10_ms:.1f}-{result.p90_ms:.1f}", f"{rate:.1f}")
            rows.append({"model": name, "input": shape, "params": params, "macs": macs, "setting": setting, **result.to_dict(), "gmacs_per_s": rate})
            model = model.float()
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
