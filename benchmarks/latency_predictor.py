"""Latency predictor accuracy and speed on held-out architectures, against the targets of the search issue
(Spearman ≥ 0.95, MAPE ≤ 10 %, ≥ 1000× faster than measuring). Speed is given cold (no layer of the held-out
architectures seen before) and memoised (every layer's cost cached, as for a search's mutants, which share
most layers with their parents); "measuring" is what the search pays per candidate: build the model, 3
warm-up and 10 timed runs. Each seed calibrates afresh (new calibration and held-out architectures); the
table gives each seed and the mean ± standard error.

    python benchmarks/latency_predictor.py --spaces tvn,movinet --seeds 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics

from vidnas.measure import calibrate
from vidnas.spaces import make_space

TARGETS = {"spearman": (0.95, "≥"), "mape": (0.10, "≤"), "speedup": (1000.0, "≥"), "speedup_warm": (1000.0, "≥")}
COLUMNS = ["spearman", "mape", "measurement_noise", "held_out_ops_in_table", "measure_ms_per_architecture",
           "predict_ms_per_architecture", "predict_ms_per_architecture_warm", "speedup", "speedup_warm"]
PERCENT = {"mape", "measurement_noise", "held_out_ops_in_table"}


def _fmt(key: str, value: float) -> str:
    if key in PERCENT:
        return f"{value:.1%}"
    if key.startswith("speedup"):
        return f"{value:.0f}×"
    return f"{value:.3f}" if key.startswith(("predict", "spearman")) else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", default="tvn,movinet")
    parser.add_argument("--preset", default="proxy")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=20)
    parser.add_argument("--op-samples", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.samples} calibration + {args.held_out} held-out architectures, op table from {args.op_samples} architectures, "
          f"{args.rounds} passes × {args.runs} runs, threads {args.threads or 'default'}\n")
    print("| space | seed | ops in table | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---|" + "---|" * len(COLUMNS))
    for name in args.spaces.split(","):
        reports = []
        for seed in range(args.seeds):
            predictor = calibrate(make_space(name, preset=args.preset), samples=args.samples, held_out=args.held_out, op_samples=args.op_samples,
                                  threads=args.threads, runs=args.runs, rounds=args.rounds, seed=seed)
            r = predictor.report
            reports.append(r)
            print(f"| {name} | {seed} | {r['ops_measured']} | " + " | ".join(_fmt(k, r[k] or 0.0) for k in COLUMNS) + " |", flush=True)
        if len(reports) > 1:
            cells = []
            for key in COLUMNS:
                values = [r[key] or 0.0 for r in reports]
                se = statistics.stdev(values) / len(values) ** 0.5
                cells.append(f"{_fmt(key, statistics.mean(values))} ± {_fmt(key, se)}")
            print(f"| **{name}** | mean ± SE | | " + " | ".join(cells) + " |")
        verdicts = []
        for key, (target, sense) in TARGETS.items():
            value = statistics.mean(r[key] for r in reports)
            met = value >= target if sense == "≥" else value <= target
            verdicts.append(f"{key} {value:.3g} {sense} {target:g}: {'met' if met else 'MISSED'}")
        print("|  | " + "; ".join(verdicts) + " |" + " |" * (len(COLUMNS) + 1))


if __name__ == "__main__":
    main()
