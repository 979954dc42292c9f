"""Benchmark: many camera streams of movinet_a0_stream @172² stepped as one batch (vidnas.stream.MultiStream).

For N streams, each round times ``--steps`` batched steps (one new frame per stream per step) after a warm-up;
the rounds interleave every N and every form (eager, deploy, onnxruntime — its step graph fixed to the N streams
in one session — and sharded: the N streams split between one-thread onnxruntime sessions stepped concurrently, one
per thread; one stream is the plain session; with a GPU also cuda, cuda-fp16 and cuda-bf16, CUDA graphs replayed;
`vidnas stream A.mp4 B.mp4 ...` times the runtimes and runs the fastest), so machine drift hits all alike. Reported: the
median step time, frames/s per stream (1 / step) and in total (N / step), and the total against one stream's
frames/s measured in the same run (target: 8 streams >= 3x one stream).

    python benchmarks/multistream.py --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

MODEL, SIZE = "movinet_a0_stream", 172


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,2,4,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--forms", default=None, help="comma-separated (default: eager,deploy,onnxruntime,sharded, and with a GPU cuda,cuda-fp16,cuda-bf16)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from vidnas import create_model
    from vidnas.export import deploy_model
    from vidnas.stream import MultiStream

    counts = [int(n) for n in args.streams.split(",")]
    from vidnas.runtime import GPU_RUNTIMES, make_runtime

    forms = args.forms.split(",") if args.forms else ["eager", "deploy", "onnxruntime", "sharded", *(GPU_RUNTIMES if torch.cuda.is_available() else ())]
    eager = create_model(MODEL, seed=0).eval()
    models = {"eager": eager}
    if "deploy" in forms:
        models["deploy"] = deploy_model(create_model(MODEL, seed=0).eval(), torch.randn(1, 3, 1, SIZE, SIZE), threads=args.threads, layout="channels_last")
    runners, contexts = {}, {}
    for form in forms:
        for n in counts:
            network = models.get(form)
            if form in ("onnxruntime", "sharded"):  # `vidnas stream A.mp4 B.mp4 ...` times both: a step graph fixed to the n streams,
                from vidnas.runtime import (
                    OnnxRuntime,  # in one session or split between one-thread sessions run concurrently
                )

                shards = min(args.threads, n) if form == "sharded" else 1
                network = OnnxRuntime(eager, args.threads, stream=True, size=SIZE, batch=n, shards=shards)
            elif form in GPU_RUNTIMES:  # the deploy form on the GPU, each batch's step replayed as a CUDA graph
                network = make_runtime(form, eager, mode="stream", threads=args.threads, size=SIZE)
            contexts[(form, n)] = network.running if hasattr(network, "running") else contextlib.nullcontext
            runner = MultiStream(network, size=SIZE)
            for i in range(n):
                runner.join(i)
            runners[(form, n)] = runner
    generator = torch.Generator().manual_seed(0)
    frames = {n: {i: torch.rand(3, SIZE, SIZE, generator=generator) for i in range(n)} for n in counts}
    times: dict[tuple[str, int], list[float]] = {key: [] for key in runners}
    with torch.no_grad():
        for key, runner in runners.items():  # warm-up
            with contexts[key]():
                for _ in range(3):
                    runner.step(frames[key[1]])
        for _ in range(args.rounds):
            for key, runner in runners.items():
                with contexts[key]():  # torch on one thread while onnxruntime steps
                    for _ in range(args.steps):
                        start = time.perf_counter()
                        runner.step(frames[key[1]])
                        times[key].append(time.perf_counter() - start)
    console = Console()
    table = Table(title=f"{MODEL} @{SIZE}², {args.threads} threads, batched streams (median of {args.rounds} x {args.steps} steps, interleaved)")
    for column in ("form", "streams", "step ms", "frames/s per stream", "frames/s total", "total vs 1 stream", "vs fastest 1 stream"):
        table.add_column(column, justify="right")
    fastest = max((1 / statistics.median(times[(form, 1)]) for form in forms if (form, 1) in times), default=None)
    for form in forms:
        single = None
        for n in counts:
            step = statistics.median(times[(form, n)])
            total = n / step
            if n == 1:
                single = total
            ratio = f"{total / single:.2f}x" if single else "-"
            table.add_row(form, str(n), f"{step * 1e3:.1f}", f"{1 / step:.1f}", f"{total:.1f}", ratio, f"{total / fastest:.2f}x" if fastest else "-")
    console.print(table)


if __name__ == "__main__":
    main()
