"""Where a candidate's wall time goes in the search: one first-rung evaluation (``--steps``, default the first
rung, 100) exactly as the search runs it (``evaluate_payload`` on the search's clip stores), split into training,
validation and the rest (building, fetching batches, counting MACs, timing, saving), for a few TVN space samples
and the hand-written 3D CNN, ``--reps`` rounds, medians reported. The search's target: training ÷ wall ≥ 0.9.

    python benchmarks/candidate_time.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from vidnas.genotype import parse_genotype
from vidnas.search import SearchConfig, build_space, evaluate_payload, prepare_data, simple_3d_cnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=4, help="TVN space samples (from space_samples_tvn_rows.jsonl)")
    parser.add_argument("--steps", type=int, default=None, help="default: the search's first rung")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    config = SearchConfig()
    steps = args.steps or config.rungs[0]
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    rows = Path(args.out) / "space_samples_tvn_rows.jsonl"
    genotypes = [("simple_3d_cnn", simple_3d_cnn(classes))]
    for line in rows.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["model"].startswith("sample") and len(genotypes) <= args.samples:
            genotypes.append((record["model"], parse_genotype(record["genotype"])))
    results: dict[str, list[dict]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for name, genotype in genotypes:
                metrics = evaluate_payload({
                    "genotype": genotype.model_dump(mode="json"), "recipe": config.recipe.model_dump(mode="json"),
                    "data": train, "val": val, "threads": args.threads, "latency": True, "steps": steps,
                    "checkpoint": str(Path(tmp) / f"{name}-{rep}")})
                if metrics["status"] != "ok":
                    raise SystemExit(f"{name}: {metrics.get('reason')}")
                results.setdefault(name, []).append(metrics)
    print(f"\nfirst-rung evaluation ({steps} steps, {results[genotypes[0][0]][0].get('val_clips')} validation clips), {args.reps} rounds, medians\n")
    print("| model | wall s | train s | val s | other s | train ÷ wall | (train + val) ÷ wall | top-1 |")
    print("|---|---|---|---|---|---|---|---|")
    fractions, walls = [], []
    for name, _ in genotypes:
        runs = results[name]
        wall = statistics.median(r["wall_seconds"] for r in runs)
        trained = statistics.median(r["train_seconds"] for r in runs)
        validated = statistics.median(r["val_seconds"] for r in runs)
        fraction = statistics.median(r["train_fraction"] for r in runs)
        work = statistics.median(r["work_fraction"] for r in runs)
        fractions.append(fraction)
        walls.append(wall)
        top1 = {round(r["top1"], 4) for r in runs}
        print(f"| {name} | {wall:.2f} | {trained:.2f} | {validated:.2f} | {wall - trained - validated:.2f} | {fraction:.3f} | {work:.3f} | "
              f"{'/'.join(f'{t:.3f}' for t in sorted(top1))} |")
    print(f"\n- median train ÷ wall {statistics.median(fractions):.3f}, total wall {sum(walls):.1f} s")
    print(f"- minutes: {(time.perf_counter() - started) / 60:.1f}")


if __name__ == "__main__":
    main()
