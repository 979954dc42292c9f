"""What each strategy proposed, paired by seed: the quality of the candidates a search screened, not only of its pick.

Reads the studies a ``benchmarks/search_quality.py`` run left (``<out>/<strategy>-seed<n>/study.db``) and prints, per
strategy and seed, the mean rung-0 score of the screened candidates, the share scoring at least ``--good``, the mean
score of the candidates promoted to the top rung and the best of them, with each strategy's difference to random
search paired by seed (mean ± SE). A strategy that exploits what it learned screens better candidates on average;
whether that also gives a better *pick* depends on how much room the task leaves above random search's pick.

``--space NAME`` scores candidates by the synthetic objective (noiseless) instead of the scores the search saw, for
runs made with the synthetic evaluator.

    python benchmarks/candidate_quality.py /tmp/sq-evanet --strategies evolution,constrained --good 0.45
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from vidnas.search import Study


def load(search_dir: Path) -> list:
    """The trials of the search in ``search_dir`` (the engine's default study name and storage)."""
    return Study.load("search", f"sqlite:///{search_dir / 'study.db'}").trials()


def summary(trials: list, score, good: float) -> dict[str, float]:  # noqa: ANN001
    """Mean rung-0 score, share ≥ ``good``, mean and best score at the top rung any candidate reached."""
    ok = [t for t in trials if t.status == "ok" and t.genotype is not None]
    screened = [score(t) for t in ok if t.rung == 0]
    top = max((t.rung for t in ok), default=0)
    promoted = [score(t) for t in ok if t.rung == top] if top else []
    return {"screened": len(screened), "mean": statistics.fmean(screened) if screened else math.nan,
            "good": sum(s >= good for s in screened) / len(screened) if screened else math.nan,
            "top_mean": statistics.fmean(promoted) if promoted else math.nan, "top_best": max(promoted) if promoted else math.nan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="a search_quality.py output folder")
    parser.add_argument("--strategies", default="evolution", help="compared with random search")
    parser.add_argument("--good", type=float, default=0.45, help="the score a 'good' screened candidate reaches")
    parser.add_argument("--space", default=None, help="score by the synthetic objective of this space (synthetic runs)")
    args = parser.parse_args()
    if args.space:
        from vidnas.search import synthetic_objective as objective

        def score(t):  # noqa: ANN001, ANN202
            return objective(t.genotype, {"name": args.space})
    else:
        def score(t):  # noqa: ANN001, ANN202
            return float(t.metrics.get("accuracy"))

    seeds = sorted(int(p.name.rsplit("seed", 1)[1]) for p in args.out.glob("random-seed*") if (p / "study.db").is_file())
    if not seeds:
        parser.error(f"{args.out}: no random-seed<n>/study.db in it; expected the --out folder of a benchmarks/search_quality.py run with random search")
    base = {s: summary(load(args.out / f"random-seed{s}"), score, args.good) for s in seeds}
    fields = ("mean", "good", "top_mean", "top_best")
    labels = ("mean rung-0 score", f"share ≥ {args.good:g}", "mean at the top rung", "best at the top rung")
    print(f"{args.out}: {len(seeds)} seeds; scores {'by the synthetic objective of ' + args.space if args.space else 'as the search saw them'}\n")
    print("| strategy | " + " | ".join(labels) + " | candidates screened |")
    print("|" + "---|" * (len(labels) + 2))
    mean = lambda v: statistics.fmean(v)  # noqa: E731
    print("| random | " + " | ".join(f"{mean([base[s][f] for s in seeds]):.3f}" for f in fields) + f" | {mean([base[s]['screened'] for s in seeds]):.1f} |")
    for name in args.strategies.split(","):
        paired = [s for s in seeds if (args.out / f"{name}-seed{s}" / "study.db").is_file()]
        if not paired:
            print(f"| {name} | no study shares a seed with random search ({args.out / (name + '-seed<n>')}) |")
            continue
        rows = {s: summary(load(args.out / f"{name}-seed{s}"), score, args.good) for s in paired}
        cells = []
        for f in fields:
            diffs = [rows[s][f] - base[s][f] for s in paired if not math.isnan(rows[s][f]) and not math.isnan(base[s][f])]
            se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.nan
            cells.append(f"{mean([rows[s][f] for s in paired]):.3f} ({mean(diffs):+.3f} ± {se:.3f})")
        print(f"| {name} (− random, paired) | " + " | ".join(cells) + f" | {mean([rows[s]['screened'] for s in paired]):.1f} |")


if __name__ == "__main__":
    main()
