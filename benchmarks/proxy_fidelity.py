"""Proxy fidelity: do the search's rungs rank architectures as high-fidelity training does?

Candidates of a space (its zoo seeds, then random samples that fit the search's limit, as the search would train
them) are evaluated exactly as the search evaluates them — the first rung (``--rungs``, steps), then continued
from its checkpoint to the last rung — and against a high-fidelity reference: trained from scratch for
``--reference-steps`` with ``--reference-seeds`` training seeds, mean validation accuracy, on the search's data
(the built-in store: 1024 validation clips, unless ``--data``/``--val``). The summary gives the Spearman rank
correlation of each rung with the reference (and with only the reference seeds that share no noise with the
rungs), the reference's own seed-to-seed Spearman and reliability, the top-5 overlap, and the accuracy
distribution of the random samples (what the space holds).

Each finished candidate is appended to ``OUT/proxy_fidelity_SPACE_rungs.jsonl`` at once; a rerun with the same
arguments skips the candidates already there (matched by fingerprint), so a killed run resumes where it was and
the work can be spread over several sittings. ``--summary-only`` prints the summary of what is there.

``--rung-seeds N`` (N > 1) also trains every recorded candidate with N − 1 more training seeds, numbered after the
reference's (so they share no initialisation or data order with any reference run), from scratch to the last
rung's steps — as the search's ``top_rung_seeds`` does — recorded in ``OUT/proxy_fidelity_SPACE_rung_seeds.jsonl``
(resumable alike), and ranks the mean of the last rung over the N seeds against the same reference: what ranking
the last rung on several seeds buys, beside one longer run (reference seed 0, from scratch) that costs as much.

``--more-reference-seeds M`` adds M reference seeds to the recorded candidates (numbered after the rung seeds, from
scratch to ``--reference-steps``, in ``OUT/proxy_fidelity_SPACE_reference_seeds.jsonl``, resumable alike) and ranks
everything against the mean of all reference seeds (summary in ``…_rungs_refN.json``): a reference whose own seeds
agree too little cannot certify a high Spearman (its reliability bounds what any score can show against it).

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
from typing import Any

from recipe_stability import stability  # this folder's: one-way random-effects ICC of repeated runs

from vidnas.genotype import parse_genotype
from vidnas.measure import spearman
from vidnas.search import Constraint, ConstraintSpec, SearchConfig, build_space, evaluate_payload, prepare_data


def reliability(rows: list[dict], rung_names: list[str], seed_names: list[str]) -> dict:
    """How far the reference can be trusted, and the rungs' agreement with training they share nothing with.

    The rungs train with seed 0, as does reference seed 0: same initialisation and data order (the search's common
    random numbers), so their agreement is inflated by shared noise. ``*_vs_independent_seeds`` ranks against the
    mean of reference seeds 1.. only, beside what one reference run (seed 0, at full reference length) achieves
    against the same seeds — the bar a rung can be held to. ``reference_reliability`` is the Spearman–Brown
    reliability of the mean of all seeds from their mean pairwise Spearman; ``spearman_ceiling`` its square
    root, about the highest Spearman any score can show against this reference."""
    if len(seed_names) < 2 or len(rows) < 4:
        return {}
    seeds = [[r[n] for r in rows] for n in seed_names]
    pairs = [spearman(seeds[a], seeds[b]) for a in range(len(seeds)) for b in range(a + 1, len(seeds))]
    mean_pair = statistics.mean(pairs)
    k = len(seeds)
    reliability_k = k * mean_pair / (1 + (k - 1) * mean_pair) if mean_pair > -1 / (k - 1) else 0.0
    independent = [statistics.mean(values) for values in zip(*seeds[1:])]
    return {
        "spearman_reference_seed_pairs": [round(p, 3) for p in pairs],
        "reference_reliability": round(reliability_k, 3),
        "spearman_ceiling": round(max(reliability_k, 0.0) ** 0.5, 3),
        **{f"spearman_rung{k}_vs_independent_seeds": round(spearman([r[n] for r in rows], independent), 3) for k, n in enumerate(rung_names)},
        "spearman_reference_seed0_vs_independent_seeds": round(spearman(seeds[0], independent), 3),
    }


def more_seeds(rows: list[dict], seeds: list[int], steps: int, ledger: Path, settings: dict, run: Any) -> dict[tuple[str, int], float | None]:
    """Every row's candidate trained from scratch to ``steps`` with each of ``seeds`` (the search's extra seeds of
    its top rung), appended to ``ledger`` as they finish; ``run`` None trains nothing (summary only). Returns
    {(fingerprint, seed): accuracy}."""
    done: dict[tuple[str, int], float | None] = {}
    if ledger.exists():
        for line in ledger.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("settings") == settings and record.get("steps") == steps:
                    done[(record["fingerprint"], record["seed"])] = record["accuracy"]
    if run is None:
        return done
    for row in rows:
        for seed in seeds:
            if (row["fingerprint"], seed) in done:
                continue
            started = time.perf_counter()
            accuracy = run(parse_genotype(row["genotype"]), steps, seed)
            record = {"candidate": row["candidate"], "fingerprint": row["fingerprint"], "seed": seed, "steps": steps, "settings": settings,
                      "accuracy": accuracy, "seconds": round(time.perf_counter() - started, 1)}
            done[(row["fingerprint"], seed)] = accuracy
            with ledger.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"| {row['candidate']} | seed {seed}, {steps} steps from scratch | {'failed' if accuracy is None else f'{accuracy:.3f}'} |", flush=True)
    return done


def seed_means(rows: list[dict], seeded: dict[tuple[str, int], float | None], seeds: list[int], last: str, ref_names: list[str],
               reference: list[float], interval: Any) -> dict:
    """Spearman of the last rung's mean over its own run (seed 0) and ``seeds`` with the reference — all of its
    seeds, and only those the rung runs share no noise with — over the rows every seed finished; beside the
    same for the last rung alone and for reference seed 0 (one run as long as the reference)."""
    if not seeds:
        return {}
    complete = [i for i, r in enumerate(rows) if all(seeded.get((r["fingerprint"], s)) is not None for s in seeds)]
    n = len(seeds) + 1
    out: dict[str, Any] = {f"top_rung_seeds_{n}_candidates": len(complete)}
    if len(complete) < 4:
        return out
    independent = [statistics.mean(rows[i][name] for name in ref_names[1:]) for i in complete]
    single = [rows[i][last] for i in complete]
    others = [statistics.mean(seeded[(rows[i]["fingerprint"], s)] for s in seeds) for i in complete]
    means = [(a * 1 + b * len(seeds)) / n for a, b in zip(single, others)]
    subset = [reference[i] for i in complete]
    out.update({
        "spearman_last_rung_vs_reference_same_candidates": round(spearman(single, subset), 3),
        f"spearman_last_rung_mean{n}seeds_vs_reference": round(spearman(means, subset), 3),
        f"spearman_last_rung_mean{n}seeds_interval90": interval(means) if len(complete) == len(rows) else None,
        "spearman_last_rung_vs_independent_seeds_same_candidates": round(spearman(single, independent), 3),
        f"spearman_last_rung_mean{n}seeds_vs_independent_seeds": round(spearman(means, independent), 3),
        "spearman_last_rung_vs_its_new_seeds": round(spearman(single, others), 3),
        "spearman_reference_seed0_vs_independent_seeds_same_candidates": round(spearman([rows[i][ref_names[0]] for i in complete], independent), 3),
        # how repeatable one run is at each length: the share of its variance that is the architecture's
        "icc_one_run_last_rung": stability({i: [rows[i][last]] + [seeded[(rows[i]["fingerprint"], s)] for s in seeds] for i in complete}).get("icc_one_run"),
        "icc_one_run_reference": stability({i: [rows[i][n] for n in ref_names] for i in complete}).get("icc_one_run"),
    })
    return out


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
    parser.add_argument("--summary-only", action="store_true", help="summarise the rows already recorded, train nothing")
    parser.add_argument("--rung-seeds", type=int, default=1, help="train the rungs with this many seeds and rank their mean too")
    parser.add_argument("--more-reference-seeds", type=int, default=0,
                        help="add this many reference seeds to the recorded candidates (numbered after the rung seeds; their own ledger)")
    args = parser.parse_args()

    rungs = [int(r) for r in args.rungs.split(",")]
    config = SearchConfig(space=args.space, data=args.data, val=args.val, rungs=rungs)
    train, val, classes = prepare_data(config, build_space(config, 2), print)
    space = build_space(config, classes)
    constraint = Constraint(ConstraintSpec(limit=args.latency_ms), threads=args.threads) if args.latency_ms else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / f"proxy_fidelity_{args.space}_rungs.jsonl"
    settings = {"rungs": rungs, "reference_steps": args.reference_steps, "reference_seeds": args.reference_seeds, "seed": args.seed}
    done: dict[str, dict] = {}
    if ledger.exists():
        for line in ledger.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                if record.get("settings") == settings:
                    done[record["fingerprint"]] = record
    # candidates already recorded come first, in their order: a latency measured again near the limit must not
    # change which candidates a resumed run covers
    genotypes = [parse_genotype(record["genotype"]) for record in done.values()]
    origins = [record["origin"] for record in done.values()]
    rng = random.Random(args.seed)
    for genotype in space.seeds():
        if all(genotype.fingerprint() != g.fingerprint() for g in genotypes):
            genotypes.append(genotype)
            origins.append("seed")
    while len(genotypes) < args.candidates and not args.summary_only:
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
        if genotype.fingerprint() in done:
            row = done[genotype.fingerprint()]
            rows.append(row)
            cells = " | ".join("failed" if row[n] is None else f"{row[n]:.3f}" for n in names)
            print(f"| {index} | {row['origin']} | {cells} | {row['reference'] or 0:.3f} |", flush=True)
            continue
        if args.summary_only:
            continue
        row: dict = {"candidate": index, "origin": origins[index], "fingerprint": genotype.fingerprint(), "settings": settings,
                     "genotype": genotype.model_dump(mode="json")}
        candidate_started = time.perf_counter()
        previous = None
        for k, steps in enumerate(rungs):
            folder = work / f"c{index}_r{k}"
            row[names[k]] = run(genotype, steps, checkpoint=folder, resume=previous)
            previous = folder
        for s in range(args.reference_seeds):
            row[names[len(rungs) + s]] = run(genotype, args.reference_steps, seed=s)
        refs = [row[n] for n in names[len(rungs):] if row[n] is not None]
        row["reference"] = statistics.mean(refs) if len(refs) == args.reference_seeds else None
        row["seconds"] = round(time.perf_counter() - candidate_started, 1)
        rows.append(row)
        with ledger.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        cells = " | ".join("failed" if row[n] is None else f"{row[n]:.3f}" for n in names)
        print(f"| {index} | {row['origin']} | {cells} | {row['reference'] or 0:.3f} |", flush=True)
    ok = [r for r in rows if r["reference"] is not None and all(r[n] is not None for n in names)]
    extra_seeds = list(range(args.reference_seeds, args.reference_seeds + args.rung_seeds - 1))
    seeded = more_seeds(ok, extra_seeds, rungs[-1], out / f"proxy_fidelity_{args.space}_rung_seeds.jsonl", settings,
                        None if args.summary_only else run) if extra_seeds else {}
    # more reference seeds (numbered after the rung seeds): a reference reliable enough to certify a high Spearman
    first = args.reference_seeds + max(args.rung_seeds - 1, 0)
    more_reference = list(range(first, first + args.more_reference_seeds))
    if more_reference:
        extra = more_seeds(ok, more_reference, args.reference_steps, out / f"proxy_fidelity_{args.space}_reference_seeds.jsonl", settings,
                           None if args.summary_only else run)
        names = names + [f"ref seed {s}" for s in more_reference]
        ok = [dict(r, **{f"ref seed {s}": extra[(r["fingerprint"], s)] for s in more_reference}) for r in ok
              if all(extra.get((r["fingerprint"], s)) is not None for s in more_reference)]
        for r in ok:
            r["reference"] = statistics.mean(r[n] for n in names[len(rungs):])

    def top(values: list[float], k: int = 5) -> set[int]:
        return set(sorted(range(len(values)), key=lambda i: -values[i])[:k])

    reference = [r["reference"] for r in ok]

    def interval(values: list[float], draws: int = 2000) -> list[float] | None:
        """A 90 % bootstrap interval (over candidates) of the Spearman of ``values`` with the reference."""
        if len(ok) < 4:
            return None
        sampler = random.Random(0)
        estimates = []
        for _ in range(draws):
            picks = [sampler.randrange(len(ok)) for _ in ok]
            estimates.append(spearman([values[i] for i in picks], [reference[i] for i in picks]))
        estimates = sorted(e for e in estimates if e == e)
        return [round(estimates[int(0.05 * len(estimates))], 3), round(estimates[int(0.95 * len(estimates)) - 1], 3)]

    summary = {
        "space": args.space, "candidates": len(rows), "usable": len(ok), "rungs": rungs, "reference_steps": args.reference_steps,
        "reference_seeds": args.reference_seeds + len(more_reference),
        **{f"spearman_rung{k}_vs_reference": round(spearman([r[names[k]] for r in ok], reference), 3) for k in range(len(rungs))},
        **{f"spearman_rung{k}_interval90": interval([r[names[k]] for r in ok]) for k in range(len(rungs))},
        **{f"top5_overlap_rung{k}": len(top([r[names[k]] for r in ok]) & top(reference)) for k in range(len(rungs))},
        **reliability(ok, names[: len(rungs)], names[len(rungs):]),
        **seed_means(ok, seeded, extra_seeds, names[len(rungs) - 1], names[len(rungs):], reference, interval),
        "random_samples_reference": sorted(round(r["reference"], 3) for r in ok if r["origin"] == "random"),
        "minutes_this_run": round((time.perf_counter() - started) / 60, 1),
        "minutes_all_candidates": round(sum(r.get("seconds", 0) for r in rows) / 60, 1),
    }
    print()
    for key, value in summary.items():
        print(f"- {key}: {value}")
    suffix = f"_ref{args.reference_seeds + len(more_reference)}" if more_reference else ""
    (out / f"proxy_fidelity_{args.space}_rungs{suffix}.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
