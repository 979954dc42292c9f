"""Proxy fidelity: does the search's short candidate training rank architectures as longer training does?

Candidates of a space (its zoo seeds, then random samples) are trained on the search's data (the built-in
motions set unless ``--data``) three ways: the search's proxy recipe with training seed 0 and with seed 1,
and a long recipe (``--long-epochs``, capped at ``--long-seconds``). The table gives each candidate's accuracies; the summary
gives the Spearman rank correlation of proxy seed 0 with proxy seed 1 (how repeatable the proxy ranking is),
and of the proxy (mean of its two seeds) with the long training (how faithful it is), and how many of the
long training's top 3 the proxy's top 3 holds.

    python benchmarks/proxy_fidelity.py --space tvn --candidates 12 --long-epochs 24
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from vidnas.measure import spearman
from vidnas.search import SearchConfig
from vidnas.search._engine import build_space, prepare_data
from vidnas.search._evaluate import evaluate_payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="tvn")
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--long-epochs", type=int, default=24)
    parser.add_argument("--long-seconds", type=float, default=90.0, help="time cap of the long training (the proxy's is 25 s)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    config = SearchConfig(space=args.space)
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    space = build_space(config, classes)
    rng = random.Random(args.seed)
    genotypes = list(space.seeds())[: args.candidates]
    while len(genotypes) < args.candidates:
        candidate = space.sample(rng)
        if all(candidate.fingerprint() != g.fingerprint() for g in genotypes):
            genotypes.append(candidate)
    proxy = config.recipe
    recipes = {
        "proxy seed 0": proxy,
        "proxy seed 1": proxy.model_copy(update={"seed": proxy.seed + 1}),
        "long": proxy.model_copy(update={"epochs": args.long_epochs, "max_seconds": args.long_seconds}),
    }
    print(f"{len(genotypes)} candidates of the {args.space} space; proxy: {proxy.epochs} epochs, cap {proxy.max_seconds} s; long: {args.long_epochs} epochs, cap {args.long_seconds:g} s\n")
    print("| candidate | " + " | ".join(recipes) + " | long train s |")
    print("|---|" + "---|" * (len(recipes) + 1))
    rows = []
    started = time.perf_counter()
    for index, genotype in enumerate(genotypes):
        row = {"candidate": index, "fingerprint": genotype.fingerprint()}
        for name, recipe in recipes.items():
            result = evaluate_payload({"genotype": genotype.model_dump(mode="json"), "recipe": recipe.model_dump(mode="json"), "data": train,
                                       "val": val, "threads": args.threads, "latency": False})
            row[name] = result.get("accuracy") if result.get("status") == "ok" else None
            row[f"{name} seconds"] = result.get("train_seconds")
        rows.append(row)
        cells = " | ".join("failed" if row[n] is None else f"{row[n]:.3f}" for n in recipes)
        print(f"| {index} | {cells} | {row['long seconds'] or 0:.1f} |", flush=True)
    ok = [r for r in rows if all(r[n] is not None for n in recipes)]
    proxy_mean = [(r["proxy seed 0"] + r["proxy seed 1"]) / 2 for r in ok]
    long = [r["long"] for r in ok]

    def top(values: list[float], k: int = 3) -> set[int]:
        return set(sorted(range(len(values)), key=lambda i: -values[i])[:k])

    summary = {
        "space": args.space, "candidates": len(rows), "usable": len(ok), "proxy_epochs": proxy.epochs, "long_epochs": args.long_epochs, "long_seconds": args.long_seconds,
        "spearman_proxy_seed0_vs_seed1": round(spearman([r["proxy seed 0"] for r in ok], [r["proxy seed 1"] for r in ok]), 3),
        "spearman_proxy_vs_long": round(spearman(proxy_mean, long), 3),
        "top3_overlap": len(top(proxy_mean) & top(long)),
        "mean_accuracy": {n: round(statistics.mean(r[n] for r in ok), 3) for n in recipes},
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    print()
    for key, value in summary.items():
        print(f"- {key}: {value}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"proxy_fidelity_{args.space}.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
