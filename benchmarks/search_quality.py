"""Search quality judged by what a search *picks*, never by its best proxy score (which rewards noise).

Strategies × paired seeds (every strategy runs with the same seeds, under the same limit and the same rungs);
each search's pick — the best candidate at the highest successive-halving rung — is scored at high fidelity,
and the table gives the mean pick quality with its standard error, and each strategy's paired difference to
random search with the standard error of that difference, at a few budgets (anytime curves in the PNG).

Two evaluators:
* ``synthetic`` (default; many repeats in minutes): the synthetic evaluator's objective with evaluation noise
  calibrated to a rank reliability (``--reliability``: the seed-to-seed Spearman of one rung-0 evaluation; the
  noise shrinks as √(100/steps) at higher rungs); the pick's quality is the noiseless objective — exactly what
  retraining the pick at infinite fidelity would show.
* ``proxy`` (real training; slow): what a user receives is judged. After the budget the engine's final
  retraining retrains the top ``--final-top-k`` candidates from scratch (``--final-seeds`` seeds, the last rung's
  steps) and its winner is the search's answer (``best.json``). Those runs chose the winner, so they overrate it;
  the winner's quality is its mean accuracy over ``--verify-seeds`` more runs with recipe seeds no earlier run
  used, for ``--verify-steps`` steps (default: the final retraining's); runs are stored in ``verify.json`` by
  network, seed and steps, shared by all searches, and a rerun skips them. The pick at the top rung (before
  the final retraining) is scored too: by its own final-retraining runs (which did not choose it), or with
  ``--verify-steps`` by the same independent runs as the winner. A longer ``--verify-steps`` judges the
  architecture rather than one short training's luck (at 300 steps one EvaNet network's accuracy varies by up
  to ±0.1 between seeds).

    python benchmarks/search_quality.py --seeds 20 --trials 30                  # synthetic, minutes
    python benchmarks/search_quality.py --evaluator proxy --seeds 5 --trials 20  # real training, hours on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vidnas.genotype import parse_genotype
from vidnas.search import (
    CandidateTask,
    ConstraintSpec,
    SearchConfig,
    build_space,
    current,
    prepare_data,
    run_payload,
    run_search,
)
from vidnas.search import init_worker as _init_worker

SYNTHETIC = "vidnas.search._synthetic:evaluate"
PROXY = "vidnas.search._evaluate:evaluate_payload"


def mean_se(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0] if values else float("nan")), 0.0
    return statistics.mean(values), statistics.stdev(values) / math.sqrt(len(values))


def noise_for(space_name: str, reliability: float, samples: int = 300) -> tuple[float, float]:
    """(signal SD of the synthetic objective over random samples, noise SD giving that seed-to-seed reliability)."""
    from vidnas.search import synthetic_objective as objective
    from vidnas.spaces import make_space

    space = make_space(space_name, 4)
    rng = random.Random(0)
    values = [objective(space.sample(rng), {"name": space_name}) for _ in range(samples)]
    signal = statistics.stdev(values)
    return signal, signal * math.sqrt(1 / reliability - 1)


def verify(config: SearchConfig, search_dir: Path, ledger: Path, genotype: dict | str, seeds: list[int], steps: int) -> list[float | None]:
    """Accuracy of ``genotype`` retrained from scratch once per recipe seed in ``seeds`` for ``steps`` steps, with the
    search's recipe and data. Each run is stored in ``ledger`` as it finishes, keyed by network, seed and steps, so a
    rerun skips it and searches that picked the same network share its runs."""
    done = json.loads(ledger.read_text()) if ledger.is_file() else {}
    genotype = json.loads(genotype) if isinstance(genotype, str) else genotype
    keys = [f"{parse_genotype(genotype, check=False).fingerprint()}.seed{seed}.steps{steps}" for seed in seeds]
    if any(key not in done for key in keys):
        train, val, _ = prepare_data(config, build_space(config, 2), None, search_dir)
    for seed, key in zip(seeds, keys):
        if key in done:
            continue
        task = CandidateTask(genotype=genotype, recipe=config.recipe.model_copy(update={"seed": seed}), data=train, val=val,
                             threads=config.threads or os.cpu_count(), latency=False, steps=steps)
        result = json.loads(run_payload(PROXY, json.dumps(task.payload())))
        done[key] = result.get("accuracy") if result.get("status") == "ok" else None
        ledger.write_text(json.dumps(done, indent=1))
    return [done[key] for key in keys]


def adopt(old: Path, ledger: Path, rows: list[dict], steps: int) -> None:
    """Carry runs from a per-search ledger of an earlier version of this script (keys ``<final key>.seed<n>``, the
    final retraining's steps) into ``ledger``."""
    if not old.is_file():
        return
    runs = json.loads(old.read_text())
    done = json.loads(ledger.read_text()) if ledger.is_file() else {}
    for row in rows:
        genotype = json.loads(row["genotype"]) if isinstance(row["genotype"], str) else row["genotype"]
        for name, value in runs.items():
            stem, _, seed = name.rpartition(".seed")
            if stem == row["key"]:
                done.setdefault(f"{parse_genotype(genotype, check=False).fingerprint()}.seed{seed}.steps{steps}", value)
    ledger.write_text(json.dumps(done, indent=1))


def anytime(trials: list, quality) -> list[float]:  # noqa: ANN001
    """Quality of the pick after k candidates were screened (k = 1..n), the pick made as the engine makes it: from
    everything told before the (k+1)-th screening — the k-th's promotions included, and for k = n every promotion
    after the last screening (the search's answer)."""
    ordered = sorted(trials, key=lambda t: t.attrs.get("told", t.number))
    out, seen = [], []

    def pick() -> float:
        ranked = current(seen)
        return quality(ranked[0]) if ranked else float("nan")

    screened = 0
    for t in ordered:
        if t.trained and t.rung == 0:
            if screened:
                out.append(pick())
            screened += 1
        seen.append(t)
    if screened:
        out.append(pick())
    return out


def synthetic_curve(config: dict, out: str) -> tuple[list[float], float]:
    """One synthetic search (in a worker process): the top-rung pick's noiseless quality after each screened
    candidate, and the noiseless quality of the final retraining's winner (``best.json``, what a user receives)."""
    from vidnas.search import synthetic_objective as objective

    config = SearchConfig.model_validate(config)
    result = run_search(config, out, evaluator=SYNTHETIC, progress=False)
    curve = anytime(result.trials, lambda t: objective(t.genotype, {"name": config.space}))
    winner = next((r for r in result.outputs.get("final") or [] if r["winner"]), None)
    if winner is None:
        return curve, float("nan")
    genotype = json.loads(winner["genotype"]) if isinstance(winner["genotype"], str) else winner["genotype"]
    return curve, objective(parse_genotype(genotype, check=False), {"name": config.space})


def tabulate(curves: dict[str, list[list[float]]], budgets: list[int], seeds_done: int) -> tuple[list[str], dict]:
    """Markdown rows (mean ± SE of the pick's quality at each budget, and the difference to random search paired by
    seed ± SE) and the same numbers as a dict."""
    lines = ["| strategy | " + " | ".join(f"pick @{k}" for k in budgets) + " | " + " | ".join(f"− random @{k}" for k in budgets) + " |",
             "|" + "---|" * (1 + 2 * len(budgets))]
    table: dict[str, dict] = {}
    for name, runs in curves.items():
        runs = runs[:seeds_done]
        cells, diffs = [], []
        table[name] = {}
        for k in budgets:
            at = [r[min(k, len(r)) - 1] for r in runs]
            m, se = mean_se(at)
            base = [r[min(k, len(r)) - 1] for r in curves["random"][:seeds_done]] if "random" in curves else None
            dm, dse = mean_se([a - b for a, b in zip(at, base)]) if base else (float("nan"), 0.0)
            cells.append(f"{m:.4f} ± {se:.4f}")
            diffs.append("–" if name == "random" else f"{dm:+.4f} ± {dse:.4f}")
            table[name][k] = {"pick": m, "se": se, "minus_random": dm, "minus_random_se": dse}
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
    return lines, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="tvn")
    parser.add_argument("--strategies", default="random,evolution,constrained,parsec,pareto")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=30, help="candidates screened per search")
    parser.add_argument("--rungs", default="100,300")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--max-macs", type=float, default=5e7, help="the limit every strategy searches under (synthetic: MACs)")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="the limit of proxy runs")
    parser.add_argument("--population", type=int, default=8)
    parser.add_argument("--strategy-option", action="append", default=[], metavar="KEY=JSON",
                        help="an option for every strategy but random search, e.g. seeds=false (repeatable)")
    parser.add_argument("--reliability", type=float, default=0.44, help="seed-to-seed Spearman of one rung-0 evaluation (synthetic)")
    parser.add_argument("--evaluator", default="synthetic", choices=["synthetic", "proxy"])
    parser.add_argument("--final-seeds", type=int, default=2)
    parser.add_argument("--final-top-k", type=int, default=3, help="candidates of the final retraining (proxy; the engine's default)")
    parser.add_argument("--verify-seeds", type=int, default=2, help="independent runs scoring the final winner (proxy; 0: score the top-rung pick only)")
    parser.add_argument("--verify-steps", type=int, default=None,
                        help="steps of the independent runs (proxy; default: the final retraining's); when given, the top-rung pick is scored by the same runs")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="synthetic searches run at once (one process and one thread each)")
    parser.add_argument("--out", default="benchmark-search-quality")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rungs = [int(r) for r in args.rungs.split(",")]
    synthetic = args.evaluator == "synthetic"
    note = ""
    if synthetic:
        signal, noise = noise_for(args.space, args.reliability)
        os.environ["VIDNAS_SYNTHETIC_NOISE"] = f"{noise:.6f}"
        os.environ["VIDNAS_SYNTHETIC_SPACE"] = args.space
        note = f"synthetic objective (signal SD {signal:.4f}), rung-0 noise SD {noise:.4f} (reliability {args.reliability})"
    constraint = ConstraintSpec(metric="macs", limit=args.max_macs) if synthetic else ConstraintSpec(limit=args.latency_ms)
    curves: dict[str, list[list[float]]] = {}
    rung_curves: dict[str, list[list[float]]] = {}  # proxy: the top-rung pick's retrained accuracy
    winner_curves: dict[str, list[list[float]]] = {}  # synthetic: the final retraining's winner (flat)
    started = time.perf_counter()
    names = args.strategies.split(",")
    def config_for(name: str, seed: int) -> SearchConfig:
        options = {"population": args.population} if name in ("evolution", "constrained", "guided", "pareto") else {}
        if name == "parsec":
            options = {"samples": args.population}
        if name != "random":
            options.update({k: json.loads(v) for k, _, v in (o.partition("=") for o in args.strategy_option)})
        return SearchConfig(space=args.space, strategy=name, strategy_options=options, trials=args.trials, seed=seed, rungs=rungs, eta=args.eta,
                            constraint=constraint, objectives=["accuracy", "latency_ms"], executor="inprocess" if synthetic else "local",
                            final_retrain=True, final_top_k=args.final_top_k, final_seeds=args.final_seeds, final_baselines=False)

    runs = [(seed, name) for seed in range(args.seeds) for name in names]  # seeds outer: a partial run still holds paired results
    if synthetic:
        with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                                 initargs=(1, None, os.getpid())) as pool:  # one thread each; workers exit with this process
            futures = {(seed, name): pool.submit(synthetic_curve, config_for(name, seed).model_dump(mode="json"), str(out / f"{name}-seed{seed}"))
                       for seed, name in runs}
            for seed, name in runs:
                curve, won = futures[(seed, name)].result()
                curves.setdefault(name, []).append(curve)
                winner_curves.setdefault(name, []).append([won] * args.trials)
                print(f"seed {seed} {name}: top-rung pick {curve[-1]:.4f}, final winner {won:.4f} ({time.perf_counter() - started:.0f} s so far)", flush=True)
    else:
        for seed, name in runs:
            config = config_for(name, seed)
            result = run_search(config, out / f"{name}-seed{seed}", evaluator=PROXY, progress=False)
            # only the end of the search is retrained: flat curves at the retrained accuracies
            rows = {r["key"]: r for r in result.outputs.get("final") or [] if r["kind"] == "search"}
            pick = max(rows.values(), key=lambda r: (r["rung"], r["proxy"]), default=None)  # the engine's order (``current``)
            value = rung_value = pick["accuracy"] if pick and pick["accuracy"] is not None else float("nan")
            rung_curves.setdefault(name, []).append([rung_value] * args.trials)
            winner = next((r for r in rows.values() if r["winner"]), None)
            if args.verify_seeds and winner is not None:
                search_dir, ledger = out / f"{name}-seed{seed}", out / "verify.json"
                steps = args.verify_steps or config.retrain_steps()
                adopt(search_dir / "verify.json", ledger, list(rows.values()), config.retrain_steps())
                seeds = list(range(args.final_seeds, args.final_seeds + args.verify_seeds))
                verified = [a for a in verify(config, search_dir, ledger, winner["genotype"], seeds, steps) if a is not None]
                value = statistics.mean(verified) if verified else float("nan")
                if args.verify_steps and pick is not None:  # the same long runs judge the top-rung pick
                    verified = [a for a in verify(config, search_dir, ledger, pick["genotype"], seeds, steps) if a is not None]
                    rung_value = statistics.mean(verified) if verified else float("nan")
                rung_curves[name][-1] = [rung_value] * args.trials
                print(f"seed {seed} {name}: top-rung pick {pick['key'] if pick else None} {rung_value:.4f}; final winner {winner['key']} "
                      f"({winner['accuracy']:.4f} in the final retraining) on independent seeds, {steps} steps: {value:.4f}")
            curve = [value] * args.trials
            curves.setdefault(name, []).append(curve)
            print(f"seed {seed} {name}: pick quality {curve[-1]:.4f} ({time.perf_counter() - started:.0f} s so far)", flush=True)
    budgets = sorted({max(1, args.trials // 3), max(1, 2 * args.trials // 3), args.trials})
    seeds_done = min(len(v) for v in curves.values())
    lines, table = tabulate(curves, budgets, seeds_done)
    long = f", {args.verify_steps} steps" if args.verify_steps else ""
    what = "the top-rung pick's quality" if synthetic else (f"quality of the final winner (independent retraining seeds{long})" if args.verify_seeds
                                            else "quality of the top-rung pick (retrained)")
    header = (f"space {args.space}, {seeds_done} paired seeds × {args.trials} screened candidates, rungs {rungs} η={args.eta}, "
              f"evaluator {args.evaluator}{'; ' + note if note else ''}; {what} mean ± SE; difference to random search paired by seed ± SE")
    text = header + "\n\n" + "\n".join(lines) + "\n"
    rung_table = None
    if rung_curves and args.verify_seeds:
        rung_lines, rung_table = tabulate(rung_curves, budgets, seeds_done)
        scored = f"the same independent runs{long}" if args.verify_steps else "its own final-retraining runs, which did not choose it"
        text += f"\nThe pick at the top rung, before the final retraining (scored by {scored}):\n\n" + "\n".join(rung_lines) + "\n"
    winner_table = None
    if winner_curves:
        winner_lines, winner_table = tabulate(winner_curves, [args.trials], seeds_done)
        text += (f"\nWhat the user receives: the winner of the final retraining (the top {args.final_top_k} at the highest rung, "
                 f"{args.final_seeds} seeds each, with the evaluator's noise), its noiseless quality:\n\n" + "\n".join(winner_lines) + "\n")
    print("\n" + text)
    (out / "search_quality.json").write_text(json.dumps({"args": vars(args), "note": note, "table": table, "curves": curves,
                                                         "rung_pick_table": rung_table, "rung_pick_curves": rung_curves or None,
                                                         "winner_table": winner_table, "winner_curves": winner_curves or None}, indent=1))
    (out / "search_quality.md").write_text(text)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for name, runs in curves.items():
            runs = runs[:seeds_done]
            ks = list(range(1, min(len(r) for r in runs) + 1))
            stats = [mean_se([r[k - 1] for r in runs]) for k in ks]
            means = [m for m, _ in stats]
            errors = [s for _, s in stats]
            ax.plot(ks, means, label=name)
            ax.fill_between(ks, [m - e for m, e in zip(means, errors)], [m + e for m, e in zip(means, errors)], alpha=0.2)
        ax.set_xlabel("candidates screened")
        ax.set_ylabel("quality of the pick (high fidelity)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "search_quality.png", dpi=110)
        print(f"plot: {out / 'search_quality.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
