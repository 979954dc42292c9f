"""Latency predictor accuracy and speed on held-out architectures, against the targets of the search issue
(Spearman ≥ 0.95, MAPE ≤ 10 %, ≥ 1000× faster than measuring). Speed is given cold (no layer of the held-out
architectures seen before) and memoised (every layer's cost cached, as for a search's mutants, which share
most layers with their parents).

    python benchmarks/latency_predictor.py --space tvn --samples 60 --held-out 20 --threads 2
"""

from __future__ import annotations

import argparse

from vidnas.measure import calibrate
from vidnas.spaces import make_space

TARGETS = {"spearman": (0.95, "≥"), "mape": (0.10, "≤"), "speedup": (1000.0, "≥"), "speedup_warm": (1000.0, "≥")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spaces", default="tvn,movinet")
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--held-out", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print("| space | calibration / held-out | ops in table | Spearman | MAPE | measure ms | predict ms (cold / memoised) | speed-up (cold / memoised) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.spaces.split(","):
        predictor = calibrate(make_space(name), samples=args.samples, held_out=args.held_out, threads=args.threads, runs=args.runs)
        r = predictor.report
        print(f"| {name} | {r['calibration_architectures']} / {r['held_out_architectures']} | {r['ops_measured']} | {r['spearman']:.3f} | "
              f"{r['mape']:.1%} | {r['measure_ms_per_architecture']:.1f} | {r['predict_ms_per_architecture']:.3f} / {r['predict_ms_per_architecture_warm']:.3f} | "
              f"{r['speedup']:.0f}× / {r['speedup_warm']:.0f}× |", flush=True)
        verdicts = []
        for key, (target, sense) in TARGETS.items():
            value = r[key]
            met = value >= target if sense == "≥" else value <= target
            verdicts.append(f"{key} {value:.3g} {sense} {target:g}: {'met' if met else 'MISSED'}")
        print("   " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
