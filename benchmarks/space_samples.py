"""What a search space holds: random samples of a space (within the search's default limit), each retrained from
scratch with the search's recipe on the search's data, beside the hand-written 3D CNN and the frame-blind 2D
baseline trained alike. Prints every sample's accuracy and the distribution (min / quartiles / max, how many
reach 0.9 and how many beat the 2D baseline).

Each finished row is appended to ``OUT/space_samples_SPACE_rows.jsonl`` at once, with the genotype, under the run's
settings; a rerun with the same settings reuses the samples already drawn (their latency is not measured again, so
a sample near the limit cannot drop out) and trains only what is missing, so a killed run resumes where it was.

    python benchmarks/space_samples.py --space tvn --samples 20 --steps 300
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from vidnas.genotype import parse_genotype
from vidnas.search import (
    Constraint,
    ConstraintSpec,
    SearchConfig,
    build_space,
    evaluate_payload,
    frame_blind_2d,
    prepare_data,
    simple_3d_cnn,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="tvn")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    config = SearchConfig(space=args.space)
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    space = build_space(config, classes)
    constraint = Constraint(ConstraintSpec(limit=args.latency_ms), threads=args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / f"space_samples_{args.space}_rows.jsonl"
    settings = {"steps": args.steps, "latency_ms": args.latency_ms, "seed": args.seed}
    done: dict[str, dict] = {}
    if ledger.exists():
        for line in ledger.read_text(encoding="utf-8").splitlines():
            if line.strip() and json.loads(line).get("settings") == settings:
                record = json.loads(line)
                done[record["model"]] = record
    picked, costs = [], []
    while len(picked) < args.samples and f"sample {len(picked)}" in done:  # rows are written in order: a prefix
        record = done[f"sample {len(picked)}"]
        picked.append(parse_genotype(record["genotype"]))
        costs.append(record["latency_ms"])
    rng = random.Random(args.seed)
    while len(picked) < args.samples:
        genotype = space.sample(rng)
        if any(g.fingerprint() == genotype.fingerprint() for g in picked):
            continue
        cost = constraint.cost(genotype)
        if not constraint.violates(cost):
            picked.append(genotype)
            costs.append(cost)

    def train_one(genotype) -> dict:  # noqa: ANN001
        return evaluate_payload({"genotype": genotype.model_dump(mode="json"), "recipe": config.recipe.model_dump(mode="json"), "data": train, "val": val,
                                 "threads": args.threads, "latency": False, "steps": args.steps})

    started = time.perf_counter()
    rows = []
    print(f"{args.samples} random {args.space} samples under {args.latency_ms:g} ms, each trained {args.steps} steps from scratch"
          f"{f' ({len(done)} rows recorded before)' if done else ''}\n")
    print("| model | latency ms | accuracy | train s |\n|---|---|---|---|")
    baselines = [("simple_3d_cnn", simple_3d_cnn(classes)), ("frame_blind_2d", frame_blind_2d(classes))]
    for name, genotype, cost in [(n, g, None) for n, g in baselines] + [(f"sample {i}", g, c) for i, (g, c) in enumerate(zip(picked, costs))]:
        if name in done:
            row = done[name]
        else:
            cost = constraint.cost(genotype) if cost is None else cost
            result = train_one(genotype)
            row = {"model": name, "settings": settings, "latency_ms": cost, "accuracy": result.get("accuracy") if result.get("status") == "ok" else None,
                   "train_seconds": result.get("train_seconds"), "genotype": genotype.model_dump(mode="json")}
            with ledger.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        rows.append(row)
        accuracy = row["accuracy"]
        print(f"| {name} | {row['latency_ms']:.2f} | {'failed' if accuracy is None else f'{accuracy:.3f}'} | {row['train_seconds'] or 0:.1f} |", flush=True)
    samples = [r["accuracy"] for r in rows[2:] if r["accuracy"] is not None]
    blind = rows[1]["accuracy"] or 0.0
    quartiles = statistics.quantiles(samples, n=4) if len(samples) > 1 else samples * 3
    summary = {"space": args.space, "samples": len(samples), "steps": args.steps, "min": min(samples), "q1": quartiles[0], "median": quartiles[1],
               "q3": quartiles[2], "max": max(samples), "at_least_0.9": sum(a >= 0.9 for a in samples),
               "beat_2d_by_0.1": sum(a >= blind + 0.1 for a in samples), "cnn3d": rows[0]["accuracy"], "cnn2d": blind,
               "minutes": round((time.perf_counter() - started) / 60, 1)}
    print()
    for key, value in summary.items():
        print(f"- {key}: {value if not isinstance(value, float) else round(value, 3)}")
    (out / f"space_samples_{args.space}.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
