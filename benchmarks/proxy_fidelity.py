"""Proxy fidelity: do the search's rungs rank architectures as high-fidelity training does?

Candidates of a space (its zoo seeds, then random samples that fit the search's limit, as the search would train
them) are evaluated exactly as the search evaluates them — the first rung (``--rungs``, steps), then continued
from its checkpoint to the last rung — and against a high-fidelity reference: trained from scratch for
``--reference-steps`` with ``--reference-seeds`` training seeds, mean validation accuracy, on the search's data
(the built-in store: 1024 validation clips, unless ``--data``/``--val``). The summary gives the Spearman rank
correlation of each rung with the reference, the reference's own seed-to-seed Spearman (its reliability), the
top-5 overlap, and the accuracy distribution of the random samples (what the space holds).

    python benchmarks/proxy_fidelity.py --candidates 30 --reference-steps 900 --reference-seeds 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from vidnas.measure import spearman
from vidnas.search import ConstraintSpec, SearchConfig
from vidnas.search._constraint import Constraint
from vidnas.search._engine import build_space, prepare_data
from vidnas.search._evaluate import evaluate_payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="tvn")
    parser.add_argument("--candidates", type=int, default=30)
    parser.add_argument("--rungs", default="100,300")
    parser.add_argument("--reference-steps", type=int, default=900)
    parser.add_argument("--reference-seeds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="only candidates within the search's default limit (0: any)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None)
    parser.add_argument("--val", default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()

    rungs = [int(r) for r in args.rungs.split(",")]
    config = SearchConfig(space=args.space, data=args.data, val=args.val, rungs=rungs)
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    space = build_space(config, classes)
    constraint = Constraint(ConstraintSpec(limit=args.latency_ms), threads=args.threads) if args.latency_ms else None
    rng = random.Random(args.seed)
    genotypes, origins = [], []
    for genotype in space.seeds():
        genotypes.append(genotype)
        origins.append("seed")
    while len(genotypes) < args.candidates:
        candidate = space.sample(rng)
        if any(candidate.fingerprint() == g.fingerprint() for g in genotypes):
            continue
        if constraint is not None and constraint.violates(constraint.cost(candidate)):
            continue
        genotypes.append(candidate)
        origins.append("random")
    genotypes, origins = genotypes[: args.candidates], origins[: args.candidates]
    recipe = config.recipe
    print(f"{len(genotypes)} candidates of the {args.space} space; rungs {rungs} (continued from checkpoints); reference "
          f"{args.reference_steps} steps × {args.reference_seeds} seeds from scratch\n")
    names = [f"rung {k} ({s})" for k, s in enumerate(rungs)] + [f"ref seed {s}" for s in range(args.reference_seeds)]
    print("| candidate | origin | " + " | ".join(names) + " | reference mean |")
    print("|---|---|" + "---|" * (len(names) + 1))
    rows = []
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="vidnas-fidelity-"))

    def run(genotype, steps: int, seed: int = 0, checkpoint: Path | None = None, resume: Path | None = None) -> float | None:  # noqa: ANN001
        payload = {"genotype": genotype.model_dump(mode="json"), "recipe": recipe.model_copy(update={"seed": seed}).model_dump(mode="json"),
                   "data": train, "val": val, "threads": args.threads, "latency": False, "steps": steps,
                   "checkpoint": str(checkpoint) if checkpoint else None, "resume_from": str(resume) if resume else None}
        result = evaluate_payload(payload)
        return result.get("accuracy") if result.get("status") == "ok" else None

    for index, genotype in enumerate(genotypes):
        row: dict = {"candidate": index, "origin": origins[index], "fingerprint": genotype.fingerprint()}
        previous = None
        for k, steps in enumerate(rungs):
            folder = work / f"c{index}_r{k}"
            row[names[k]] = run(genotype, steps, checkpoint=folder, resume=previous)
            previous = folder
        for s in range(args.reference_seeds):
            row[names[len(rungs) + s]] = run(genotype, args.reference_steps, seed=s)
        refs = [row[n] for n in names[len(rungs):] if row[n] is not None]
        row["reference"] = statistics.mean(refs) if len(refs) == args.reference_seeds else None
        rows.append(row)
        cells = " | ".join("failed" if row[n] is None else f"{row[n]:.3f}" for n in names)
        print(f"| {index} | {row['origin']} | {cells} | {row['reference'] or 0:.3f} |", flush=True)
    ok = [r for r in rows if r["reference"] is not None and all(r[n] is not None for n in names)]

    def top(values: list[float], k: int = 5) -> set[int]:
        return set(sorted(range(len(values)), key=lambda i: -values[i])[:k])

    reference = [r["reference"] for r in ok]
    summary = {
        "space": args.space, "candidates": len(rows), "usable": len(ok), "rungs": rungs, "reference_steps": args.reference_steps,
        "reference_seeds": args.reference_seeds,
        **{f"spearman_rung{k}_vs_reference": round(spearman([r[names[k]] for r in ok], reference), 3) for k in range(len(rungs))},
        **{f"top5_overlap_rung{k}": len(top([r[names[k]] for r in ok]) & top(reference)) for k in range(len(rungs))},
        "spearman_reference_seed0_vs_seed1": round(spearman([r[names[len(rungs)]] for r in ok], [r[names[len(rungs) + 1]] for r in ok]), 3)
        if args.reference_seeds > 1 else None,
        "random_samples_reference": sorted(round(r["reference"], 3) for r in ok if r["origin"] == "random"),
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    print()
    for key, value in summary.items():
        print(f"- {key}: {value}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"proxy_fidelity_{args.space}_rungs.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
