"""Benchmark: batch-1 latency of every zoo model at its reference input, plain eager vs the deploy form.

For each model and thread count (1 and 2) on CPU: median latency of the plain contiguous eager model and of
``deploy_model`` (BN folded, per-conv fastest form, tuned at that thread count), with MACs and effective
GMAC/s; on CUDA (when present) eager fp32 vs channels-last fp16. All rows come from one run, so they compare.
Target (checked and printed, not asserted by tests): the deploy form of X3D-M at least 1.6x faster than
plain contiguous eager of the same network.

    python benchmarks/zoo_latency.py                       # every model (long: ~2.5 TMACs per setting)
    python benchmarks/zoo_latency.py --only x3d_m x3d_s    # a few
    python benchmarks/zoo_latency.py --max-gmacs 60        # skip the heaviest
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from vidnas.export import deploy_model
from vidnas.measure import count_macs, measure_latency
from vidnas.zoo import create_model, index_rows

TARGET = ("x3d_m", 1.6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names (default: all)")
    parser.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--max-gmacs", type=float, default=None, help="skip models above this many GMACs")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()

    rows_in = [r for r in index_rows() if not args.only or r["name"] in args.only]
    if args.max_gmacs is not None:
        rows_in = [r for r in rows_in if r["macs"] / 1e9 <= args.max_gmacs]
    console = Console(width=170)
    table = Table(title=f"vidnas zoo: batch-1 latency at the reference input (median of {args.runs}), eager vs deploy")
    for column in ("model", "input", "GMACs", "device", "eager ms", "deploy ms", "speed-up", "eager GMAC/s", "deploy GMAC/s", "deploy conv forms"):
        table.add_column(column, justify="left" if column in ("model", "device", "deploy conv forms") else "right")
    results = []
    for row in rows_in:
        name = row["name"]
        model = create_model(name, seed=0).eval()
        inputs = model.example_input(1)
        macs = count_macs(model, inputs).macs
        shape = f"{row['frames']}x{row['size']}²"
        for threads in args.threads:
            eager = measure_latency(model, inputs, threads=threads, warmup=args.warmup, runs=args.runs)
            deployed = deploy_model(model, inputs, threads=threads)
            channels_last = deployed.deploy_report["input_layout"] == "channels_last_3d"
            fast = measure_latency(deployed, inputs, threads=threads, warmup=args.warmup, runs=args.runs, channels_last=channels_last)
            speedup = eager.median_ms / fast.median_ms
            forms = deployed.deploy_report["whole_model_ms"].get("chosen", "") + " " + ", ".join(
                f"{k}:{v}" for k, v in sorted(deployed.deploy_report["conv_forms"].items())
            )
            table.add_row(
                name, shape, f"{macs / 1e9:.2f}", f"cpu {threads}t", f"{eager.median_ms:.1f}", f"{fast.median_ms:.1f}",
                f"{speedup:.2f}x", f"{macs / 1e9 / (eager.median_ms / 1e3):.1f}", f"{macs / 1e9 / (fast.median_ms / 1e3):.1f}", forms,
            )
            results.append({"model": name, "device": "cpu", "threads": threads, "macs": macs, "eager_ms": eager.median_ms, "deploy_ms": fast.median_ms, "speedup": speedup, "forms": deployed.deploy_report["conv_forms"]})
            console.log(f"{name} {threads}t: eager {eager.median_ms:.1f} ms, deploy {fast.median_ms:.1f} ms ({speedup:.2f}x)")
            del deployed
        if torch.cuda.is_available():
            gpu_model = create_model(name, seed=0).eval()
            eager = measure_latency(gpu_model, inputs, device="cuda", warmup=args.warmup + 2, runs=args.runs * 3)
            half = measure_latency(gpu_model, inputs, device="cuda", warmup=args.warmup + 2, runs=args.runs * 3, channels_last=True, dtype=torch.float16)
            table.add_row(name, shape, f"{macs / 1e9:.2f}", "cuda", f"{eager.median_ms:.2f}", f"{half.median_ms:.2f}", f"{eager.median_ms / half.median_ms:.2f}x", "", "", "fp16 channels_last")
            results.append({"model": name, "device": "cuda", "macs": macs, "eager_ms": eager.median_ms, "fp16_cl_ms": half.median_ms})
        del model
    console.print(table)
    status = 0
    target = [r for r in results if r["model"] == TARGET[0] and r["device"] == "cpu"]
    for r in target:
        ok = r["speedup"] >= TARGET[1]
        console.print(f"target {TARGET[0]} deploy >= {TARGET[1]}x eager at {r['threads']} thread(s): {r['speedup']:.2f}x {'MET' if ok else 'MISSED'}")
        status |= 0 if ok else 1
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
