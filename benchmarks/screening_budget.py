"""Is a short screen informative on this data? The 3D CNN baseline and random samples of a space train along a
ladder of step counts (each continuing the last from its checkpoint, as a promotion does) on one of the built-in
data sets; the table gives every model's validation accuracy at each step count and the Spearman correlation of
each count's scores with the last one's. This is what ``--rungs auto`` (``vidnas.search._fidelity``) decides from
the 3D CNN alone: where the reference is still at chance, the candidates' scores are noise too.

Each finished run is appended to ``OUT/screening_budget_rows.jsonl`` under the run's settings; a rerun trains only
what is missing.

    python benchmarks/screening_budget.py --task pairs --classes 8 --train-per-class 256 --val-per-class 64 --object-scale 1 --samples 4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

from vidnas.data import builtin_store
from vidnas.measure import spearman
from vidnas.search import (
    Constraint,
    SearchConfig,
    build_space,
    chance_level,
    evaluate_payload,
    layer_macs,
    scaled_zoo,
    simple_3d_cnn,
    threshold,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="autox3d")
    parser.add_argument("--task", default="pairs")
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--train-per-class", type=int, default=256)
    parser.add_argument("--val-per-class", type=int, default=64)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--object-scale", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--ladder", default="100,300,900")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zoo", action="store_true", help="add the space's zoo model scaled into the default latency limit")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    ladder = [int(s) for s in args.ladder.split(",")]
    paths = builtin_store(classes=args.classes, task=args.task, train_per_class=args.train_per_class, val_per_class=args.val_per_class,
                          size=args.size, frames=16, object_scale=args.object_scale)
    train, val = str(paths["train"]), str(paths["val"])
    config = SearchConfig(space=args.space)
    space = build_space(config, args.classes)
    rng = random.Random(args.seed)
    models = [("simple_3d_cnn", simple_3d_cnn(args.classes, 16, args.size))] + [(f"sample {i}", space.sample(rng)) for i in range(args.samples)]
    if args.zoo:  # the family's zoo model scaled into the search's default limit, as the final retraining and the probe pick it
        constraint = Constraint(config.constraint, device=config.device, threads=args.threads) if config.constraint else None
        zoo = scaled_zoo(space, lambda g: constraint is None or not constraint.violates(constraint.cost(g)))
        if zoo is not None:
            models.insert(1, (zoo.name, zoo))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / "screening_budget_rows.jsonl"
    settings = {k: v for k, v in vars(args).items() if k not in ("threads", "out", "samples", "zoo")}  # sample i is the same for any --samples
    done: dict[tuple[str, int], dict] = {}
    if ledger.exists():
        for line in ledger.read_text(encoding="utf-8").splitlines():
            record = json.loads(line) if line.strip() else {}
            if record.get("settings") == settings:
                done[(record["model"], record["steps"])] = record
    folder = Path("/tmp") / f"screening-budget-{hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]}"
    for name, genotype in models:
        previous = None
        for steps in ladder:
            checkpoint = folder / f"{name.replace(' ', '_')}_{steps}"
            if (name, steps) not in done:
                started = time.perf_counter()
                resume = previous if previous is not None and (previous / "final.json").is_file() else None
                result = evaluate_payload({"genotype": json.loads(genotype.to_json()), "recipe": config.recipe.model_dump(mode="json"), "data": train, "val": val,
                                           "threads": args.threads, "latency": False, "checkpoint": str(checkpoint), "steps": steps,
                                           "resume_from": str(resume) if resume else None})
                record = {"settings": settings, "model": name, "steps": steps, "accuracy": result.get("accuracy"), "p_true": result.get("p_true"),
                          "val_clips": result.get("val_clips"), "macs": layer_macs(genotype), "seconds": round(time.perf_counter() - started, 1),
                          "reason": result.get("reason"), "genotype": json.loads(genotype.to_json())}
                with ledger.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
                done[(name, steps)] = record
                print(f"{name} {steps} steps: {record['accuracy']} ({record['seconds']} s)", flush=True)
            previous = checkpoint
    chance = chance_level(val, args.classes)
    n = next((r["val_clips"] for r in done.values() if r.get("val_clips")), 0)
    lines = [f"# Screening budget: {args.task}, {args.classes} classes, {args.train_per_class}/{args.val_per_class} clips per class, {args.size}², "
             f"object scale {args.object_scale:g}; space {args.space}",
             "", f"`python benchmarks/screening_budget.py {' '.join(f'--{k.replace(chr(95), chr(45))} {v}' for k, v in settings.items())} --samples {args.samples}{' --zoo' if args.zoo else ''}`",
             "", f"Chance {chance:.3f}; `--rungs auto` counts a model as learned above {threshold(chance, n):.3f}. Validation accuracy after each step count:",
             "", "| model | MMACs | " + " | ".join(f"{s} steps" for s in ladder) + " |", "|---|---|" + "---|" * len(ladder)]
    for name, _ in models:
        cells = [f"{done[(name, s)]['accuracy']:.3f}" if done.get((name, s), {}).get("accuracy") is not None else "–" for s in ladder]
        lines.append(f"| {name} | {done[(name, ladder[0])]['macs'] / 1e6:.1f} | " + " | ".join(cells) + " |")
    samples = [name for name, _ in models if name.startswith("sample ")]
    last = [done[(m, ladder[-1])]["accuracy"] or 0.0 for m in samples]
    lines += ["", "Spearman of the samples' scores with the last step count's: " + ", ".join(
        f"{s} steps {spearman([done[(m, s)]['accuracy'] or 0.0 for m in samples], last):.2f}" for s in ladder[:-1])]
    text = "\n".join(lines) + "\n"
    (out / "screening_budget.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
