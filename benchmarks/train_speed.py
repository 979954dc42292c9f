"""Benchmark: CPU training speed of the networks a search trains — vidnas's training step against plain PyTorch on
the same genotype, and against PyTorchVideo's X3D-XS in a plain loop; one process, interleaved, medians.

Rows: each space's zoo model scaled into a MAC limit (``--max-macs``, as the search's final retraining scales it,
with a MAC limit instead of a measured latency so the row is the same network on every machine), ``--samples``
random samples of each space's proxy preset, the hand-written dense 3D CNN (16×32²) and X3D-XS at 8×32².
Forms, each timed for ``--steps`` steps per round, ``--rounds`` rounds round-robin (the machine's speed drifts):

* ``plain NCDHW``: the network in a plain PyTorch loop (``fast_training(False)``), contiguous tensors;
* ``plain CL``: the same, channels-last 3D (model and clips);
* ``vidnas``: ``Trainer.train_step`` with the default recipe's layout — what ``vidnas train``, the search and the
  final retraining run;
* for X3D-XS also ``PyTorchVideo`` (``create_x3d``, ``--no-deps``) in its fastest form (channels-last) in a plain loop.

Every form: batch ``--batch`` (16), AdamW, cross-entropy, 8 classes, ``--threads`` threads. GMAC/s = 3 × forward
MACs per clip × batch ÷ step time (forward + two backward products).

    python benchmarks/train_speed.py [--samples 10] [--spaces autox3d movinet evanet tvn assemblenet] [--out benchmarks/results/train_speed.md]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.table import Table

from vidnas import create_model
from vidnas.network import build_model
from vidnas.ops.fastconv import fast_training
from vidnas.search import SearchConfig
from vidnas.search._baselines import layer_macs, scaled_zoo, simple_3d_cnn
from vidnas.search._engine import build_space
from vidnas.train import Recipe, Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
CLASSES = 8
DEPTHWISE_SPACES = ("autox3d", "movinet")  # + X3D-XS: the networks the ≥ 4× target is about


class _Clips(torch.utils.data.Dataset):
    """A stand-in train set for the Trainer (only its length and class names are read; steps get explicit batches)."""

    classes = [str(i) for i in range(CLASSES)]

    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> dict[str, Any]:
        raise NotImplementedError


def _plain(model: torch.nn.Module, clips: torch.Tensor, labels: torch.Tensor, channels_last: bool) -> Callable[[], None]:
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.train().to(memory_format=fmt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = clips.contiguous(memory_format=fmt)

    def step() -> None:
        with fast_training(False):
            loss = F.cross_entropy(model(inputs), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return step


def _vidnas(genotype: Any, clips: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:  # noqa: ANN401
    recipe = Recipe(optimizer="adamw", lr=1e-3, batch_size=clips.shape[0], epochs=1)
    trainer = Trainer(build_model(genotype, seed=0), recipe, _Clips())
    trainer.model.train()
    batch = {"video": clips, "label": labels}
    return lambda: trainer.train_step(batch)


def forms(genotype: Any, batch: int, pytorchvideo: bool) -> dict[str, Callable[[], None]]:  # noqa: ANN401
    generator = torch.Generator().manual_seed(0)
    clips = torch.randn(batch, 3, genotype.input.frames, *genotype.input.size, generator=generator)
    labels = torch.randint(0, CLASSES, (batch,), generator=generator)
    out = {
        "plain NCDHW": _plain(build_model(genotype, seed=0), clips, labels, False),
        "plain CL": _plain(build_model(genotype, seed=0), clips, labels, True),
        "vidnas": _vidnas(genotype, clips, labels),
    }
    if pytorchvideo:
        from x3d_pytorchvideo import pytorchvideo_x3d

        reference = pytorchvideo_x3d(genotype.input.frames, genotype.input.size[0])
        reference.blocks[-1].proj = torch.nn.Linear(reference.blocks[-1].proj.in_features, CLASSES)
        out["PyTorchVideo CL"] = _plain(reference, clips, labels, True)
    return out


def time_forms(steps: dict[str, Callable[[], None]], per_round: int, rounds: int) -> dict[str, float]:
    """Median seconds per step of each form; forms alternate round by round, the first step of each is warm-up."""
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(per_round):
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def networks(spaces: list[str], samples: int, max_macs: float) -> list[tuple[str, str, Any]]:
    """(group, row name, genotype) of every row."""
    rows = [("dense", "simple 3D CNN 16×32²", simple_3d_cnn(CLASSES, 16, 32)),
            ("x3d", "X3D-XS 8×32²", create_model("x3d_xs", num_classes=CLASSES, frames=8, size=32, seed=0).genotype)]
    for name in spaces:
        space = build_space(SearchConfig(space=name), CLASSES)
        zoo = scaled_zoo(space, lambda g: layer_macs(g) <= max_macs)
        if zoo is not None:
            rows.append((name, f"{name} zoo scaled ≤ {max_macs / 1e6:.0f} MMACs", zoo))
        rng = random.Random(0)
        rows += [(name, f"{name} sample {i}", space.sample(rng)) for i in range(samples)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="*", default=["autox3d", "movinet", "evanet", "tvn", "assemblenet"])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--max-macs", type=float, default=75e6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2, help="steps per form per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the table (Markdown) and rows (JSON beside it)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=150)
    rows = []
    for group, name, genotype in networks(args.spaces, args.samples, args.max_macs):
        macs = layer_macs(genotype)
        medians = time_forms(forms(genotype, args.batch, pytorchvideo=group == "x3d"), args.steps, args.rounds)
        row = {"group": group, "name": name, "mmacs": macs / 1e6, "frames": genotype.input.frames, "size": list(genotype.input.size),
               "ms": {form: seconds * 1e3 for form, seconds in medians.items()},
               "gmacs_per_s": 3 * macs * args.batch / medians["vidnas"] / 1e9}
        rows.append(row)
        console.print(f"{name}: " + ", ".join(f"{form} {ms:.0f} ms" for form, ms in row["ms"].items()) + f" ({row['gmacs_per_s']:.1f} GMAC/s)")
    lines = render(rows, args)
    console.print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1), encoding="utf-8")


def _speedups(row: dict[str, Any]) -> tuple[float, float]:
    ms = row["ms"]
    return ms["plain NCDHW"] / ms["vidnas"], ms["plain CL"] / ms["vidnas"]


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The Markdown table: one row per network, then the median speed-ups per group."""
    lines = [f"CPU training step, batch {args.batch}, AdamW, {args.threads} threads; medians of {args.rounds} interleaved rounds × {args.steps} steps.",
             "", "| network | MMACs/clip | input | plain NCDHW ms | plain CL ms | **vidnas ms** | × NCDHW | × CL | vidnas GMAC/s | other |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ms = row["ms"]
        over_ncdhw, over_cl = _speedups(row)
        other = f"PyTorchVideo CL {ms['PyTorchVideo CL']:.0f} ms (vidnas {ms['PyTorchVideo CL'] / ms['vidnas']:.2f}× faster)" if "PyTorchVideo CL" in ms else ""
        size = "×".join(map(str, row["size"]))
        lines.append(f"| {row['name']} | {row['mmacs']:.1f} | {row['frames']}×{size} | {ms['plain NCDHW']:.0f} | {ms['plain CL']:.0f} | **{ms['vidnas']:.0f}** "
                     f"| {over_ncdhw:.2f} | {over_cl:.2f} | {row['gmacs_per_s']:.1f} | {other} |")
    lines += ["", "| group | networks | median × NCDHW | median × CL | median vidnas GMAC/s |", "|---|---|---|---|---|"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    depthwise = [r for r in rows if r["group"] in DEPTHWISE_SPACES or r["group"] == "x3d"]
    for group, members in list(groups.items()) + [("depthwise-heavy (Auto-X3D, MoViNet, X3D)", depthwise)]:
        if members:
            lines.append(f"| {group} | {len(members)} | {statistics.median(_speedups(r)[0] for r in members):.2f} "
                         f"| {statistics.median(_speedups(r)[1] for r in members):.2f} | {statistics.median(r['gmacs_per_s'] for r in members):.1f} |")
    return lines


if __name__ == "__main__":
    main()
