"""Roofline of a clip model's deploy form: where its time goes and how much of it the machine could save.

Every leaf module of ``deploy_model(model)`` is timed in place (forward hooks, ``--repeats`` passes, medians) and
held against a roofline measured in the same run: the machine's dense conv3d rate (a 3×3×3 conv, 64→64 channels,
channels-last — the best case of its conv kernels) and its memory bandwidth (a large tensor copy). A layer's
attainable time is ``max(MACs / conv rate, bytes moved / bandwidth)``; its *gap* is measured minus attainable, the
time a perfect kernel could save there. The table sums layers by kind (dense conv, pointwise conv, depthwise conv,
activations, pooling, SE, ...) plus *glue* (whole-pass time not spent in a leaf: residual adds, reshapes, layout
conversions in functional code), and lists the layers with the largest gaps. Issue 13 asks for X3D at ≤ 0.6× of
PyTorchVideo's best CPU form: this says which kinds of layers would have to get faster, and whether they can.

    python benchmarks/roofline.py [--model x3d_s] [--frames 13] [--size 160] [--threads 2] [--repeats 7] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from vidnas import create_model
from vidnas.export import deploy_model
from vidnas.measure import torch_threads


def _median_ms(call, repeats: int) -> float:  # noqa: ANN001
    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def machine_roofline(repeats: int) -> tuple[float, float]:
    """(dense conv3d GMAC/s, copy bandwidth GB/s), both measured now under the current thread setting."""
    conv = nn.Conv3d(64, 64, 3, padding=1, bias=False).eval().to(memory_format=torch.channels_last_3d)
    x = torch.randn(1, 64, 8, 56, 56).contiguous(memory_format=torch.channels_last_3d)
    macs = 64 * 64 * 27 * 8 * 56 * 56
    with torch.inference_mode():
        conv_ms = _median_ms(lambda: conv(x), repeats)
    rates = []
    for megabytes in (8, 256):  # an activation of these models (mostly in cache) and one far beyond any cache
        big = torch.randn(megabytes * 1024 * 1024 // 4)
        out = torch.empty_like(big)
        copy_ms = _median_ms(lambda: out.copy_(big), repeats)  # noqa: B023
        rates.append(2 * big.numel() * 4 / copy_ms / 1e6)
    return macs / conv_ms / 1e6, max(rates)  # the optimistic roof: attainable time is a lower bound


def kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv3d | nn.Conv2d):
        kernel = tuple(module.kernel_size)
        if module.groups > 1 and module.groups == module.in_channels:
            return "depthwise conv"
        if all(k == 1 for k in kernel):
            return "pointwise conv"
        return "dense conv"
    if isinstance(module, nn.Linear):
        return "linear"
    name = type(module).__name__.lower()
    for key, label in (("pool", "pooling"), ("norm", "normalisation"), ("dropout", "dropout")):
        if key in name:
            return label
    if any(a in name for a in ("relu", "silu", "swish", "sigmoid", "hardswish", "gelu", "act")):
        return "activation"
    return type(module).__name__


def profile(model: nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, list[dict]]:
    """(median whole-pass ms without hooks, one row per leaf module with its median ms, MACs and bytes)."""
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    samples: dict[str, list[float]] = defaultdict(list)
    info: dict[str, dict] = {}
    starts: dict[str, float] = {}

    def pre(name: str):  # noqa: ANN202
        def hook(module, inputs):  # noqa: ANN001, ANN202
            starts[name] = time.perf_counter()

        return hook

    def post(name: str):  # noqa: ANN202
        def hook(module, inputs, output):  # noqa: ANN001, ANN202
            samples[name].append((time.perf_counter() - starts[name]) * 1000)
            if name not in info and isinstance(output, torch.Tensor):
                first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
                macs = 0
                if isinstance(module, nn.Conv3d | nn.Conv2d):
                    macs = output.numel() * module.weight[0].numel()
                elif isinstance(module, nn.Linear):
                    macs = output.numel() * module.in_features
                moved = 0 if isinstance(module, nn.Identity | nn.Dropout) else 4 * (output.numel() + (first.numel() if first is not None else 0)) + 4 * sum(p.numel() for p in module.parameters())
                info[name] = {"layer": name, "kind": kind(module), "macs": macs, "bytes": moved,
                              "shape": "×".join(str(s) for s in output.shape[1:])}

        return hook

    with torch.inference_mode():
        whole = _median_ms(lambda: model(x), repeats)
        handles = [m.register_forward_pre_hook(pre(n)) for n, m in leaves] + [m.register_forward_hook(post(n)) for n, m in leaves]
        try:
            model(x)
            samples.clear()
            for _ in range(repeats):
                model(x)
        finally:
            for handle in handles:
                handle.remove()
    rows = [{**info[n], "ms": statistics.median(samples[n])} for n, _ in leaves if n in info and samples[n]]
    return whole, rows


def aten_ops(model: nn.Module, x: torch.Tensor, threads: int, repeats: int) -> list[tuple[str, int, float]]:
    """(op, calls per pass, self CPU ms per pass) of one pass, heaviest first: what the glue is made of."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_threads(threads), torch.inference_mode():
        model(x)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(repeats):
                model(x)
    rows = [(e.key, e.count // repeats, e.self_cpu_time_total / 1000 / repeats) for e in prof.key_averages()]
    return sorted(rows, key=lambda r: -r[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="x3d_s")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    model = create_model(args.model, seed=0).eval()
    example = model.example_input(1)
    frames = args.frames or example.shape[2]
    size = args.size or example.shape[-1]
    x = torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(0))
    lines: list[str] = []
    with torch_threads(args.threads):
        deployed = deploy_model(model, x, threads=args.threads)
        x = x.contiguous(memory_format=torch.channels_last_3d)
        gmacs, bandwidth = machine_roofline(args.repeats)
        whole, rows = profile(deployed, x, args.repeats)
    for row in rows:
        row["attainable"] = max(row["macs"] / gmacs / 1e6, row["bytes"] / bandwidth / 1e6)
        row["gap"] = max(row["ms"] - row["attainable"], 0.0)
    hooked = sum(r["ms"] for r in rows)
    total_macs = sum(r["macs"] for r in rows)
    lines.append(f"{args.model} deploy form, 1×3×{frames}×{size}², {args.threads} threads, medians of {args.repeats} passes; "
                 f"roofline measured now: dense conv3d {gmacs:.1f} GMAC/s, copy {bandwidth:.1f} GB/s")
    lines.append(f"whole pass {whole:.1f} ms ({total_macs / 1e9:.3f} GMACs, {total_macs / whole / 1e6:.1f} GMAC/s = "
                 f"{total_macs / whole / 1e6 / gmacs:.2f} of the dense conv rate); leaves sum to {hooked:.1f} ms with hooks\n")
    groups: dict[str, dict] = defaultdict(lambda: {"layers": 0, "ms": 0.0, "macs": 0, "attainable": 0.0, "gap": 0.0})
    for row in rows:
        group = groups[row["kind"]]
        group["layers"] += 1
        for key in ("ms", "macs", "attainable", "gap"):
            group[key] += row[key]
    glue = max(whole - hooked, 0.0)
    lines.append("| kind | layers | ms | share | GMACs | GMAC/s | roofline ms | gap ms |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, g in sorted(groups.items(), key=lambda kv: -kv[1]["ms"]):
        rate = f"{g['macs'] / g['ms'] / 1e6:.1f}" if g["macs"] else "–"
        lines.append(f"| {name} | {g['layers']} | {g['ms']:.2f} | {g['ms'] / whole:.0%} | {g['macs'] / 1e9:.3f} | {rate} | "
                     f"{g['attainable']:.2f} | {g['gap']:.2f} |")
    lines.append(f"| glue (outside leaves) | – | {glue:.2f} | {glue / whole:.0%} | – | – | 0 | {glue:.2f} |")
    attainable = sum(g["attainable"] for g in groups.values())
    lines.append(f"\nroofline time of the whole pass {attainable:.1f} ms = {attainable / whole:.2f} of the measured {whole:.1f} ms\n")
    lines.append("| layer (largest gaps) | kind | output | ms | GMAC/s | roofline ms |")
    lines.append("|---|---|---|---|---|---|")
    for row in sorted(rows, key=lambda r: -r["gap"])[: args.top]:
        rate = f"{row['macs'] / row['ms'] / 1e6:.1f}" if row["macs"] else "–"
        lines.append(f"| {row['layer']} | {row['kind']} | {row['shape']} | {row['ms']:.2f} | {rate} | {row['attainable']:.2f} |")
    lines.append("\n| aten op (whole pass, torch.profiler, no hooks) | calls | self ms | share |")
    lines.append("|---|---|---|---|")
    for name, calls, ms in aten_ops(deployed, x, args.threads, args.repeats)[: args.top]:
        lines.append(f"| {name} | {calls} | {ms:.2f} | {ms / whole:.0%} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
