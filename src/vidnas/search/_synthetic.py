"""A synthetic evaluator: a deterministic stand-in for proxy training, for testing the search machinery
(resume, failures, deduplication, executors) in seconds, and for comparing strategies on an objective whose
optimum is known. Not a model of real accuracy.

accuracy = fraction of the space's choices set to their first option, read from ``payload['space']`` when given
(otherwise a hash of the fingerprint in [0, 1)); latency_ms = MACs / 1e6 (exact count); params exact.
``VIDNAS_SYNTHETIC_FAULTS`` (e.g. ``raise:1,nan:2,exit:3,sleep:0.5``) injects failures by trial number (read from
the checkpoint path) and slows every evaluation, for tests.
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


def evaluate(payload: dict[str, Any]) -> dict[str, Any]:
    from vidnas.build import build_model
    from vidnas.genotype import parse_genotype
    from vidnas.measure import count_macs, count_parameters

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
    space = payload.get("space")
    if space:
        from vidnas.spaces import make_space

        indices = make_space(space["name"], genotype.head.num_classes, **space.get("options", {})).to_indices(genotype)
        accuracy = sum(i == 0 for i in indices) / len(indices)
    else:
        accuracy = int(hashlib.sha256(genotype.fingerprint().encode()).hexdigest()[:8], 16) / 2**32
    model = build_model(genotype, seed=0)
    macs = count_macs(model, model.example_input(1)).macs
    if fault == "nan":
        return {"status": "ok", "accuracy": float("nan"), "top1": float("nan"), "wall_seconds": time.perf_counter() - started}
    return {"status": "ok", "accuracy": accuracy, "top1": accuracy, "latency_ms": macs / 1e6, "macs": macs,
            "params": count_parameters(model).total, "peak_memory_mb": macs / 1e7, "wall_seconds": round(time.perf_counter() - started, 4),
            "device": payload.get("device", "cpu"), "worker_pid": os.getpid()}
