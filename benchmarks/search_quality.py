"""Search quality: strategies × seeds at an equal trial budget on the built-in data set (proxy fidelity).

For every strategy and seed a search runs in its own study; the table gives, at a few budgets, the mean best
validation accuracy and the mean hypervolume (accuracy × latency) with the standard error across seeds.
Random search is always included. A plot of both against the number of trained candidates is written next to
the table (search_quality.png).

    python benchmarks/search_quality.py --space tvn --trials 12 --seeds 3
    python benchmarks/search_quality.py --evaluator synthetic   # the machinery only, seconds
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

from vidnas.search import ConstraintSpec, SearchConfig, run_search
from vidnas.strategies import hypervolume


def curves(trials: list, budget: int) -> tuple[list[float], list[tuple[float, float]]]:
    """Best accuracy after k trained candidates (k = 1..budget) and the (accuracy, latency) points."""
    trained = sorted((t for t in trials if t.trained), key=lambda t: t.attrs.get("elapsed_end", t.number))
    best, out, points = 0.0, [], []
    for t in trained[:budget]:
        if t.status == "ok":
            best = max(best, t.metrics.get("accuracy", 0.0))
            points.append((t.metrics.get("accuracy", 0.0), t.metrics.get("latency_ms", math.inf)))
        out.append(best)
    return out, points


def hv_after(points: list[tuple[float, float]], k: int, reference_latency: float) -> float:
    return hypervolume([(-a, l) for a, l in points[:k] if l < reference_latency], (0.0, reference_latency))


def mean_se(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] if values else float("nan")), 0.0
    return statistics.mean(values), statistics.stdev(values) / math.sqrt(len(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="tvn")
    parser.add_argument("--strategies", default="random,evolution,constrained,parsec,pareto")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="limit for the constrained strategy")
    parser.add_argument("--candidate-seconds", type=float, default=25.0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--evaluator", default="proxy", help="proxy (real training) or synthetic")
    parser.add_argument("--out", default="benchmark-search-quality")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    evaluator = "vidnas.search._synthetic:evaluate" if args.evaluator == "synthetic" else "vidnas.search._evaluate:evaluate_payload"
    results: dict[str, list[tuple[list[float], list[tuple[float, float]]]]] = {}
    started = time.perf_counter()
    for name in args.strategies.split(","):
        for seed in range(args.seeds):
            options = {"population": args.population} if name in ("evolution", "constrained", "guided", "pareto") else {}
            if name == "parsec":
                options = {"samples": args.population}
            recipe = SearchConfig.model_fields["recipe"].default.model_copy(update={"epochs": args.epochs, "max_seconds": args.candidate_seconds})
            config = SearchConfig(
                space=args.space, strategy=name, strategy_options=options, trials=args.trials, seed=seed, recipe=recipe,
                constraint=ConstraintSpec(limit=args.latency_ms) if name == "constrained" else None, objectives=["accuracy", "latency_ms"],
            )
            folder = out / f"{name}-seed{seed}"
            result = run_search(config, folder, evaluator=evaluator, progress=False)
            results.setdefault(name, []).append(curves(result.trials, args.trials))
            print(f"{name} seed {seed}: best {max(result.completed, key=lambda t: t.fitness).metrics['accuracy'] if result.completed else float('nan'):.3f} "
                  f"({time.perf_counter() - started:.0f} s so far)", flush=True)
    latencies = [l for runs in results.values() for _, points in runs for _, l in points if math.isfinite(l)]
    reference = 1.1 * max(latencies) if latencies else 1.0
    checkpoints = sorted({max(1, args.trials // 3), max(1, 2 * args.trials // 3), args.trials})
    header = "| strategy | " + " | ".join(f"best acc @{k}" for k in checkpoints) + " | " + " | ".join(f"HV @{k}" for k in checkpoints) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(checkpoints))]
    table: dict[str, dict] = {}
    for name, runs in results.items():
        cells, hv_cells = [], []
        table[name] = {}
        for k in checkpoints:
            m, se = mean_se([best[min(k, len(best)) - 1] for best, _ in runs if best])
            hv, hv_se = mean_se([hv_after(points, k, reference) for _, points in runs])
            cells.append(f"{m:.3f} ± {se:.3f}")
            hv_cells.append(f"{hv:.2f} ± {hv_se:.2f}")
            table[name][k] = {"best_accuracy": m, "se": se, "hypervolume": hv, "hv_se": hv_se}
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(hv_cells) + " |")
    print(f"\nspace {args.space}, {args.seeds} seeds × {args.trials} trained candidates, evaluator {args.evaluator}, "
          f"{args.candidate_seconds:g} s per candidate; mean ± standard error; HV reference latency {reference:.1f} ms")
    print("\n".join(lines))
    (out / "search_quality.json").write_text(json.dumps({"args": vars(args), "table": table}, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, runs in results.items():
            ks = list(range(1, args.trials + 1))
            means = [mean_se([best[min(k, len(best)) - 1] for best, _ in runs if best]) for k in ks]
            hvs = [mean_se([hv_after(points, k, reference) for _, points in runs]) for k in ks]
            left.errorbar(ks, [m for m, _ in means], yerr=[s for _, s in means], label=name, capsize=2)
            right.errorbar(ks, [m for m, _ in hvs], yerr=[s for _, s in hvs], label=name, capsize=2)
        left.set_xlabel("trained candidates")
        left.set_ylabel("best validation accuracy")
        right.set_xlabel("trained candidates")
        right.set_ylabel("hypervolume (accuracy × latency)")
        left.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "search_quality.png", dpi=110)
        print(f"plot: {out / 'search_quality.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
