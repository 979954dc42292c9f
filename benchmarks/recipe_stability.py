"""Recipe stability: how much of a candidate's score is its architecture, and how much its training seed?

The search ranks candidates by one short training run each. Where a network's score after N steps depends on its
training seed (initialisation, data order, augmentation draws) as much as on its architecture, that ranking is
noise (``benchmarks/results/proxy_fidelity_movinet.md``: the reference's seeds agree at Spearman 0.37–0.48). This
benchmark trains the same candidates with several training seeds under each recipe variant and reports, per
variant, the mean accuracy, the spread between seeds of one network (within), the spread between networks of their
seed-means (between) and the one-run reliability ICC(1) = between² / (between² + within²) — the fraction of a single
run's variance that is the architecture's, i.e. what ranking by one run can be trusted for — with its Spearman–Brown
value for the mean of the seeds run.

Candidates come from a proxy-fidelity ledger (``--from``, rows picked by ``--pick``) or a space's random samples;
variants are recipe overrides on top of the search's recipe (``--variant name:key=value,key=value``; ``base`` is
the search's recipe unchanged). Every finished run is appended to ``OUT/recipe_stability_rows.jsonl`` at once; a
rerun with the same arguments skips what is there, so a killed run resumes. ``--jobs`` runs trainings side by side
in worker processes (``--threads`` each).

    python benchmarks/recipe_stability.py --from benchmarks/results/proxy_fidelity_movinet_rungs.jsonl \\
        --pick 8,16,29,9,21,22,19,14 --steps 300 --seeds 3 --jobs 2 --threads 1 \\
        --variant base --variant lr1e-2:lr=0.01,grad_clip=1.0
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from vidnas.genotype import parse_genotype
from vidnas.measure import spearman
from vidnas.search import SearchConfig, build_space, evaluate_payload, prepare_data
from vidnas.search import init_worker as _init_worker  # the search's own: sets each worker's torch threads


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value,key=value`` → (name, overrides); values are JSON where they parse, else strings."""
    name, _, rest = text.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--variant {text!r}: {item!r} is not key=value")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return name, overrides


def stability(table: dict[Any, list[float]], higher_is_better: bool = True) -> dict[str, Any]:
    """One variant's numbers from {candidate: [value per seed]} (candidates with ≥ 2 seeds); the worst run is the
    lowest value, or the highest where lower is better (a loss)."""
    rows = {c: v for c, v in table.items() if len(v) >= 2}
    if len(rows) < 3:
        return {}
    k = min(len(v) for v in rows.values())
    means = [statistics.mean(v) for v in rows.values()]
    within_var = statistics.mean(statistics.variance(v) for v in rows.values())
    # variance of the seed-means minus what within-seed noise contributes to it (one-way random effects)
    between_var = max(0.0, statistics.variance(means) - within_var / k)
    icc = between_var / (between_var + within_var) if between_var + within_var > 0 else 0.0
    seed_columns = [[v[s] for v in rows.values()] for s in range(k)]
    pairs = [spearman(seed_columns[a], seed_columns[b]) for a in range(k) for b in range(a + 1, k)]
    return {
        "candidates": len(rows), "seeds": k, "mean": round(statistics.mean(means), 4),
        "within_sd": round(within_var ** 0.5, 4), "between_sd": round(between_var ** 0.5, 4),
        "icc_one_run": round(icc, 3), f"icc_mean_of_{k}": round(k * icc / (1 + (k - 1) * icc), 3) if icc > 0 else 0.0,
        "seed_pair_spearman": [round(p, 3) for p in pairs], "worst_run": round(min(min(v) for v in rows.values()) if higher_is_better else max(max(v) for v in rows.values()), 3),
    }


def _run(payload: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    result = evaluate_payload(payload)
    return {"accuracy": result.get("accuracy") if result.get("status") == "ok" else None,
            "val_loss": result.get("val_loss"), "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="movinet")
    parser.add_argument("--from", dest="source", default=None, help="a proxy-fidelity or space-samples ledger (jsonl) to take candidates from")
    parser.add_argument("--pick", default=None, help="comma-separated candidate numbers of that ledger (default: all)")
    parser.add_argument("--samples", type=int, default=8, help="without --from: this many random samples of the space")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="training seeds first-seed .. first-seed + seeds - 1 (to add seeds a ledger lacks)")
    parser.add_argument("--variant", action="append", default=None, help="name:key=value,... (recipe overrides); repeatable")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()

    variants = dict(parse_variant(v) for v in (args.variant or ["base"]))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    config = SearchConfig(space=args.space)
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    if args.source:
        records = [json.loads(line) for line in Path(args.source).read_text(encoding="utf-8").splitlines() if line.strip()]
        picks = [int(p) for p in args.pick.split(",")] if args.pick else [r.get("candidate", i) for i, r in enumerate(records)]
        by_number = {r.get("candidate", i): r for i, r in enumerate(records)}  # a space-samples ledger: its row number
        candidates = [(p, parse_genotype(by_number[p]["genotype"])) for p in picks]
        references = {p: by_number[p]["reference"] for p in picks if by_number[p].get("reference") is not None}
    else:
        import random

        space, rng = build_space(config, classes), random.Random(0)
        candidates = [(i, space.sample(rng)) for i in range(args.samples)]
        references = {}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / "recipe_stability_rows.jsonl"
    done: dict[tuple, dict] = {}
    if ledger.exists():
        for line in ledger.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done[(r["fingerprint"], r["variant"], json.dumps(r["overrides"], sort_keys=True), r["steps"], r["seed"])] = r

    jobs = []  # seed by seed, so that a run stopped early has every variant on the same candidates and seeds
    for seed in seeds:
        for number, genotype in candidates:
            for name, overrides in variants.items():
                recipe = config.recipe.model_copy(update=overrides)
                key = (genotype.fingerprint(), name, json.dumps(overrides, sort_keys=True), args.steps, seed)
                if key in done or args.summary_only:
                    continue
                payload = {"genotype": genotype.model_dump(mode="json"), "recipe": recipe.model_copy(update={"seed": seed}).model_dump(mode="json"),
                           "data": train, "val": val, "threads": args.threads, "latency": False, "steps": args.steps}
                jobs.append((key, number, payload))
    print(f"{len(candidates)} candidates × {args.seeds} seeds × {len(variants)} variants at {args.steps} steps; {len(jobs)} runs to do")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(args.threads,)) as pool:
        futures = [(key, number, pool.submit(_run, payload)) for key, number, payload in jobs]
        for key, number, future in futures:
            result = future.result()
            record = {"candidate": number, "fingerprint": key[0], "variant": key[1], "overrides": json.loads(key[2]), "steps": key[3],
                      "seed": key[4], **result}
            done[key] = record
            with ledger.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            acc = "failed" if result["accuracy"] is None else f"{result['accuracy']:.3f}"
            print(f"| {key[1]} | candidate {number} | seed {key[4]} | {acc} | {result['seconds']:.0f} s |", flush=True)

    summary: dict[str, Any] = {"space": args.space, "steps": args.steps, "seeds": seeds, "candidates": [n for n, _ in candidates],
                               "minutes_this_run": round((time.perf_counter() - started) / 60, 1), "variants": {}}
    for metric in ("accuracy", "val_loss"):
        print(f"\n{metric}:\n\n| variant | overrides | mean | within-network SD | between-network SD | ICC one run | ICC mean of seeds | seed-pair Spearman | worst run |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, overrides in variants.items():
            table: dict[int, list[float]] = {}
            for number, genotype in candidates:
                keys = [(genotype.fingerprint(), name, json.dumps(overrides, sort_keys=True), args.steps, s) for s in seeds]
                table[number] = [done[k][metric] for k in keys if k in done and done[k].get(metric) is not None]
            stats = stability(table, higher_is_better=metric == "accuracy")
            summary["variants"].setdefault(name, {"overrides": overrides})[metric] = {"values": table, **stats}
            if stats:
                icc_k = next(v for key, v in stats.items() if key.startswith("icc_mean_of"))
                print(f"| {name} | {overrides or '–'} | {stats['mean']:.3f} | {stats['within_sd']:.3f} | {stats['between_sd']:.3f} | "
                      f"{stats['icc_one_run']:.2f} | {icc_k:.2f} | {stats['seed_pair_spearman']} | {stats['worst_run']:.3f} |")
    if references:  # a proxy-fidelity ledger: how each variant's runs rank against its high-fidelity reference
        print("\nagainst the ledger's reference (its own recipe, long training, several seeds), Spearman:\n")
        print("| variant | each single run | mean of the seeds |\n|---|---|---|")
        for name, entry in summary["variants"].items():
            values = entry["accuracy"]["values"]
            numbers = [n for n in values if len(values[n]) == args.seeds and n in references]
            if len(numbers) < 4:
                continue
            ref = [references[n] for n in numbers]
            singles = [round(spearman([values[n][s] for n in numbers], ref), 3) for s in range(len(seeds))]
            mean = round(spearman([statistics.mean(values[n]) for n in numbers], ref), 3)
            entry["accuracy"].update({"spearman_single_runs_vs_reference": singles, "spearman_seed_mean_vs_reference": mean})
            print(f"| {name} | {singles} | {mean} |")
    (out / f"recipe_stability_{args.space}_{args.steps}.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
