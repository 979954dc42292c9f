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
    python benchmarks/train_speed.py --accuracy-steps 900 --accuracy-seeds 2 --out benchmarks/results/train_speed_accuracy.md
"""

from __future__ import annotations

import argparse
import importlib.util
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

from vidnas import create_model
from vidnas.network import build_model
from vidnas.ops.fastconv import fast_training
from vidnas.search import SearchConfig, build_space, layer_macs, scaled_zoo, simple_3d_cnn
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


def _plain(model: torch.nn.Module, clips: dict[str, torch.Tensor], labels: torch.Tensor, channels_last: bool) -> Callable[[], None]:
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.train().to(labels.device, memory_format=fmt)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    streams = {name: clip.contiguous(memory_format=fmt) for name, clip in clips.items()}
    inputs = streams if len(streams) > 1 else next(iter(streams.values()))

    def step() -> None:
        with fast_training(False):
            loss = F.cross_entropy(model(inputs), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return step


def _vidnas(genotype: Any, clips: dict[str, torch.Tensor], labels: torch.Tensor) -> Callable[[], None]:  # noqa: ANN401
    recipe = Recipe(optimizer="adamw", lr=1e-3, batch_size=len(labels), epochs=1)
    trainer = Trainer(build_model(genotype, seed=0), recipe, _Clips(), device=labels.device)
    trainer.model.train()
    batch = {("video" if name == "rgb" else name): clip for name, clip in clips.items()} | {"label": labels}
    return lambda: trainer.train_step(batch)


def forms(genotype: Any, batch: int, pytorchvideo: bool, device: str = "cpu") -> dict[str, Callable[[], None]]:  # noqa: ANN401
    generator = torch.Generator().manual_seed(0)
    spec = genotype.input
    clips = {stream.name: torch.randn(batch, stream.channels, spec.frames, *spec.size, generator=generator).to(device) for stream in spec.streams}
    labels = torch.randint(0, CLASSES, (batch,), generator=generator).to(device)
    out = {
        "plain NCDHW": _plain(build_model(genotype, seed=0), clips, labels, False),
        "plain CL": _plain(build_model(genotype, seed=0), clips, labels, True),
        "vidnas": _vidnas(genotype, clips, labels),
    }
    if pytorchvideo and importlib.util.find_spec("pytorchvideo") is not None:
        from x3d_pytorchvideo import pytorchvideo_x3d

        reference = pytorchvideo_x3d(genotype.input.frames, genotype.input.size[0])
        reference.blocks[-1].proj = torch.nn.Linear(reference.blocks[-1].proj.in_features, CLASSES)
        out["PyTorchVideo CL"] = _plain(reference, clips, labels, True)
    return out


def time_forms(steps: dict[str, Callable[[], None]], per_round: int, rounds: int, device: str = "cpu") -> dict[str, float]:
    """Median seconds per step of each form; forms alternate round by round, the first step of each is warm-up."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            for _ in range(per_round):
                sync()
                start = time.perf_counter()
                step()
                sync()
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


def accuracy_check(steps: int, seeds: int, max_macs: float, ledger: Path | None = None) -> list[str]:
    """The Auto-X3D zoo model scaled into ``max_macs`` trained ``steps`` steps on the built-in hard variant (8 classes
    in time-reversed pairs, 32², object scale 1: ``vidnas data synth hard --store --classes 8 --train-per-class 256
    --val-per-class 64 --size 32``) with the search's recipe, through vidnas's path and through PyTorch's
    (``fast_training(False)``, NCDHW), seeds interleaved: the validation accuracy must not depend on the path."""
    from vidnas.data import builtin_store
    from vidnas.train import train_model

    paths = builtin_store(classes=8, task="pairs", train_per_class=256, val_per_class=64, size=32, frames=16, object_scale=1.0)
    config = SearchConfig(space="autox3d")
    zoo = scaled_zoo(build_space(config, CLASSES), lambda g: layer_macs(g) <= max_macs)
    results: dict[str, list[tuple[float, float]]] = {"vidnas": [], "plain PyTorch": []}
    done = {}  # runs of earlier invocations (OUT.jsonl): a rerun with more seeds trains only the new ones
    if ledger is not None and ledger.exists():
        done = {(r["seed"], r["path"]): r for line in ledger.read_text(encoding="utf-8").splitlines()
                if (r := json.loads(line)).get("steps") == steps and r.get("model") == zoo.name}
    for seed in range(seeds):
        for path in results:
            if (seed, path) not in done:
                recipe = config.recipe.model_copy(update={"max_steps": steps, "epochs": 10_000, "seed": seed, "channels_last": path == "vidnas"})
                with fast_training(path == "vidnas"):
                    trainer, _ = train_model(zoo, recipe=recipe, out_dir=None, data=str(paths["train"]), val=str(paths["val"]))
                done[seed, path] = {"model": zoo.name, "steps": steps, "seed": seed, "path": path,
                                    "top1": float((trainer.last_eval or {}).get("top1", float("nan"))),
                                    "seconds_per_step": trainer.train_seconds / max(trainer.step, 1)}
                if ledger is not None:
                    with ledger.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(done[seed, path]) + "\n")
            run = done[seed, path]
            results[path].append((run["top1"], run["seconds_per_step"]))
            print(f"seed {seed} {path}: top-1 {run['top1']:.3f}, {run['seconds_per_step'] * 1e3:.0f} ms a step", flush=True)
    lines = [f"Accuracy on both paths: {zoo.name} ({layer_macs(zoo) / 1e6:.1f} MMACs) trained {steps} steps on the hard variant, search recipe, "
             f"seeds 0..{seeds - 1}.", "", "| path | top-1 per seed | mean | ms per step (median over seeds) |", "|---|---|---|---|"]
    for path, runs in results.items():
        lines.append(f"| {path} | {', '.join(f'{a:.3f}' for a, _ in runs)} | {statistics.mean(a for a, _ in runs):.3f} "
                     f"| {statistics.median(t for _, t in runs) * 1e3:.0f} |")
    differences = [a - b for (a, _), (b, _) in zip(results["vidnas"], results["plain PyTorch"])]
    spread = statistics.stdev(differences) / len(differences) ** 0.5 if len(differences) > 1 else float("nan")
    lines.append(f"\nvidnas − plain, paired by seed: {statistics.mean(differences):+.3f} ± {spread:.3f} (SE)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="*", default=["autox3d", "movinet", "evanet", "tvn", "assemblenet"])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--max-macs", type=float, default=75e6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2, help="steps per form per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cuda: the same forms with cuDNN (vidnas: channels-last with bf16/fp16 autocast)")
    parser.add_argument("--out", default=None, help="write the table (Markdown), its rows (JSON beside it) and, as they are measured, "
                        "OUT.jsonl (a rerun with the same settings measures only what is missing)")
    parser.add_argument("--accuracy-steps", type=int, default=None,
                        help="instead of the table: train the scaled Auto-X3D zoo model this many steps on both paths (see accuracy_check)")
    parser.add_argument("--accuracy-seeds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console(width=150)
    if args.accuracy_steps:
        lines = accuracy_check(args.accuracy_steps, args.accuracy_seeds, args.max_macs, Path(args.out).with_suffix(".jsonl") if args.out else None)
        console.print("\n".join(lines))
        if args.out:
            Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    rows = []
    ledger = Path(args.out).with_suffix(".jsonl") if args.out else None  # rows measured so far: a rerun measures only the rest
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "spaces", "samples")}
    done = {}
    if ledger is not None and ledger.exists():
        done = {r["name"]: r for line in ledger.read_text(encoding="utf-8").splitlines() if (r := json.loads(line)).get("settings") == settings}
    for group, name, genotype in networks(args.spaces, args.samples, args.max_macs):
        if name in done:
            rows.append(done[name])
            continue
        macs = layer_macs(genotype)
        medians = time_forms(forms(genotype, args.batch, pytorchvideo=group == "x3d", device=args.device), args.steps, args.rounds, args.device)
        row = {"group": group, "name": name, "mmacs": macs / 1e6, "frames": genotype.input.frames, "size": list(genotype.input.size),
               "ms": {form: seconds * 1e3 for form, seconds in medians.items()},
               "gmacs_per_s": 3 * macs * args.batch / medians["vidnas"] / 1e9}
        rows.append(row)
        if ledger is not None:
            ledger.parent.mkdir(parents=True, exist_ok=True)
            with ledger.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row | {"settings": settings}) + "\n")
        console.print(f"{name}: " + ", ".join(f"{form} {ms:.0f} ms" for form, ms in row["ms"].items()) + f" ({row['gmacs_per_s']:.1f} GMAC/s)")
    lines = render(rows, args)
    console.print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.with_suffix(".json").write_text(json.dumps({"settings": vars(args), "rows": [{k: v for k, v in r.items() if k != "settings"} for r in rows]}, indent=1),
                                            encoding="utf-8")


def _speedups(row: dict[str, Any]) -> tuple[float, float]:
    ms = row["ms"]
    return ms["plain NCDHW"] / ms["vidnas"], ms["plain CL"] / ms["vidnas"]


def render(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The Markdown table: one row per network, then the median speed-ups per group."""
    where = "CPU" if args.device == "cpu" else args.device.upper()
    lines = [f"{where} training step, batch {args.batch}, AdamW, {args.threads} threads; medians of {args.rounds} interleaved rounds × {args.steps} steps.",
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
