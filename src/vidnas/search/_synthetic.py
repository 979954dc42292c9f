"""A synthetic evaluator: a deterministic stand-in for proxy training, for testing the search machinery
(resume, failures, deduplication, executors) in seconds, and for comparing strategies on an objective whose
optimum is known. Not a model of real accuracy.

accuracy = fraction of the space's choices set to their first option, the space read from ``payload['space']`` or
``VIDNAS_SYNTHETIC_SPACE`` (a space name) when given (otherwise a hash of the fingerprint in [0, 1)); latency_ms = MACs / 1e6 (exact count); params exact.
``VIDNAS_SYNTHETIC_FAULTS`` (e.g. ``raise:1,nan:2,exit:3,sleep:0.5``) injects failures by trial number (read from
the checkpoint path) and slows every evaluation, for tests. ``VIDNAS_SYNTHETIC_NOISE=σ`` adds evaluation noise:
Gaussian with standard deviation σ·√(100 / steps) (longer training is less noisy), drawn from (fingerprint, steps,
recipe seed) so that a repeated evaluation repeats its noise — the model of a proxy whose fidelity was measured,
for comparing strategies over many repeats (benchmarks/search_quality.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any


def _faults() -> tuple[dict[int, str], float]:
    faults, sleep = {}, 0.0
    for item in filter(None, os.environ.get("VIDNAS_SYNTHETIC_FAULTS", "").split(",")):
        kind, _, value = item.partition(":")
        if kind == "sleep":
            sleep = float(value)
        else:
            faults[int(value)] = kind
    return faults, sleep


def objective(genotype: Any, space: dict[str, Any] | None = None) -> float:
    """The noiseless synthetic accuracy: the fraction of ``space``'s choices at their first option (a genotype
    outside the space, e.g. a baseline, or no space: a hash of the fingerprint in [0, 1))."""
    if space:
        from vidnas.errors import GenotypeError
        from vidnas.spaces import make_space

        try:
            indices = make_space(space["name"], genotype.head.num_classes, **space.get("options", {})).to_indices(genotype)
            return sum(i == 0 for i in indices) / len(indices)
        except GenotypeError:
            pass
    return int(hashlib.sha256(genotype.fingerprint().encode()).hexdigest()[:8], 16) / 2**32


def evaluate(payload: dict[str, Any]) -> dict[str, Any]:
    from vidnas.genotype import parse_genotype
    from vidnas.measure import profile

    started = time.perf_counter()
    faults, sleep = _faults()
    match = re.search(r"trial_(\d+)", str(payload.get("checkpoint") or ""))
    number = int(match.group(1)) if match else -1
    if sleep:
        time.sleep(sleep)
    fault = faults.get(number)
    if fault == "raise":
        raise RuntimeError(f"injected failure in trial {number}")
    if fault == "exit":
        os._exit(3)  # a crashed worker
    genotype = parse_genotype(payload["genotype"])
    log_path = os.environ.get("VIDNAS_SYNTHETIC_LOG")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(genotype.fingerprint() + "\n")
    space = payload.get("space") or ({"name": os.environ["VIDNAS_SYNTHETIC_SPACE"]} if os.environ.get("VIDNAS_SYNTHETIC_SPACE") else None)
    accuracy = objective(genotype, space)
    noise = float(os.environ.get("VIDNAS_SYNTHETIC_NOISE", "0") or 0)
    if noise:
        import random

        steps = payload.get("steps") or 100
        seed = (payload.get("recipe") or {}).get("seed", 0)
        accuracy += random.Random(f"{genotype.fingerprint()}:{steps}:{seed}").gauss(0.0, noise * (100 / steps) ** 0.5)
    counted = profile(genotype)
    macs, params = counted.macs.macs, counted.parameters.total
    if fault == "nan":
        return {"status": "ok", "accuracy": float("nan"), "top1": float("nan"), "wall_seconds": time.perf_counter() - started}
    return {"status": "ok", "accuracy": accuracy, "top1": accuracy, "steps": payload.get("steps"), "latency_ms": macs / 1e6, "macs": macs,
            "params": params, "peak_memory_mb": macs / 1e7, "wall_seconds": round(time.perf_counter() - started, 4),
            "device": payload.get("device", "cpu"), "worker_pid": os.getpid()}
