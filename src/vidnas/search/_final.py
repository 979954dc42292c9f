"""The answer a user needs: after the budget, the search's top candidates and the baselines are retrained from
scratch with the same recipe, data and steps, several seeds each; the comparison says whether searching was worth
it. ``final_entries`` lists what to retrain, ``summarise`` turns the stored runs into the comparison."""

from __future__ import annotations

import math
import statistics
from typing import Any

from vidnas.search._baselines import frame_blind_2d, simple_3d_cnn
from vidnas.search._study import current

KINDS = {"search": "found by the search", "zoo": "zoo model of the family, scaled into the limit", "cnn3d": "hand-written 3D CNN",
         "cnn2d": "frame-blind 2D network"}
SHORT = {"search": "search", "zoo": "zoo, scaled", "cnn3d": "3D CNN", "cnn2d": "2D, frame-blind"}


def _extent(search: Any) -> tuple[int, int]:
    from pathlib import Path

    from vidnas.data import ClipCache

    if (Path(search.train) / "index.json").is_file():
        cache = ClipCache(search.train)
        return min(cache.frames, 16), cache.size
    frames, size = search.space.input_extent()
    return min(frames, 16), size


def final_entries(search: Any) -> list[dict[str, Any]]:
    """The models of the final retraining: the top ``final_top_k`` candidates (by rung, then score) and the three
    baselines, each with its cost under the search's constraint."""
    config, constraint = search.config, search.constraint
    entries = []
    for trial in current(search.study.trials())[: config.final_top_k]:
        entries.append({"key": f"trial{trial.candidate:04d}", "name": f"trial {trial.candidate}",
                        "kind": "search", "genotype": trial.genotype, "proxy": trial.fitness, "rung": trial.rung,
                        "cost": trial.cost})

    def cost(genotype: Any) -> float | None:
        if constraint is None:
            return None
        try:
            return constraint.cost(genotype)
        except Exception:  # noqa: BLE001 - a baseline that cannot be measured is shown without a cost
            return None

    if not config.final_baselines:
        return entries
    frames, size = _extent(search)
    zoo = search.zoo_baseline()
    baselines = [("zoo", zoo), ("cnn3d", simple_3d_cnn(search.num_classes, frames, size)), ("cnn2d", frame_blind_2d(search.num_classes, frames, size))]
    for kind, genotype in baselines:
        if genotype is None:
            continue
        entries.append({"key": kind, "name": genotype.name, "kind": kind, "genotype": genotype, "proxy": None, "rung": None, "cost": cost(genotype)})
    return entries


def summarise(finals: dict[str, dict[str, Any]], limit: float | None = None, latency: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per retrained model: mean accuracy over its seeds with the standard error, the spread, latency
    (``latency``: the interleaved measurement of every model at the end, else the median of what its runs
    measured), MACs, params, whether it fits the limit; best first. ``winner`` marks the best model within the limit."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for key, run in finals.items():
        groups.setdefault(key.rsplit(".seed", 1)[0], []).append(run)
    rows = []
    for key, runs in groups.items():
        ok = [r for r in runs if r.get("status") == "ok" and r["metrics"].get("accuracy") is not None]
        accuracies = [float(r["metrics"]["accuracy"]) for r in ok]
        run_latency = [r["metrics"]["latency_ms"] for r in ok if r["metrics"].get("latency_ms") is not None]
        first = runs[0]
        cost = first.get("cost")
        row = {
            "key": key, "name": first.get("name", key), "kind": first.get("kind"), "genotype": first.get("genotype"), "seeds": len(runs), "ok": len(ok),
            "accuracy": statistics.fmean(accuracies) if accuracies else None,
            "se": statistics.stdev(accuracies) / math.sqrt(len(accuracies)) if len(accuracies) > 1 else None,
            "min": min(accuracies) if accuracies else None, "max": max(accuracies) if accuracies else None,
            "latency_ms": (latency or {}).get(key) or (statistics.median(run_latency) if run_latency else None), "cost": cost,
            "macs": ok[0]["metrics"].get("macs") if ok else None, "params": ok[0]["metrics"].get("params") if ok else None,
            "proxy": first.get("proxy"), "rung": first.get("rung"), "steps": ok[0]["metrics"].get("steps") if ok else None,
            "val_clips": ok[0]["metrics"].get("val_clips") if ok else None,
            "fits": limit is None or cost is None or cost <= limit,
            "reasons": sorted({r.get("reason") for r in runs if r.get("status") != "ok" and r.get("reason")}),
        }
        rows.append(row)
    rows.sort(key=lambda r: (r["accuracy"] is None, -(r["accuracy"] or 0.0), r["latency_ms"] or math.inf))
    for row in rows:
        row["winner"] = False
    eligible = [r for r in rows if r["accuracy"] is not None and r["fits"]]
    if eligible:
        eligible[0]["winner"] = True
    return rows


def _error(row: dict[str, Any]) -> float:
    """Standard error of a row's mean accuracy: across seeds when there are several, and never below the
    validation split's binomial error (one seed cannot show how much training noise there is)."""
    p, n = row["accuracy"], row.get("val_clips") or 0
    binomial = math.sqrt(max(p * (1 - p), 1e-4) / (n * max(row["ok"], 1))) if n else 0.0
    return max(row["se"] or 0.0, binomial)


FASTER = 1.5
"""A retrained model counts as faster only by this factor in measured latency (this machine's timings drift by
tens of percent) with fewer MACs as well."""


def _faster(row: dict[str, Any], other: dict[str, Any]) -> str | None:
    """'it is N× faster (a vs b ms, c vs d MMACs)' when ``row`` is clearly faster than ``other``, else None."""
    a, b = row.get("latency_ms"), other.get("latency_ms")
    if not a or not b or b / a < FASTER or not row.get("macs") or not other.get("macs") or row["macs"] >= other["macs"]:
        return None
    return f"it is {b / a:.1f}× faster ({a:.1f} vs {b:.1f} ms, {row['macs'] / 1e6:.0f} vs {other['macs'] / 1e6:.0f} MMACs)"


def verdict(rows: list[dict[str, Any]], chance: float | None = None) -> str:
    """One plain sentence: was searching worth it? ``chance``: the accuracy of guessing on the validation split
    (the screening probe's, ``_fidelity.chance_level``): when no retrained model is clearly above it, that is
    the answer."""
    winner = next((r for r in rows if r["winner"]), None)
    if winner is None:
        return "No retrained model finished: nothing can be said about the search yet."
    if chance is not None:
        n = winner.get("val_clips") or 0
        floor = math.sqrt(chance * (1 - chance) / (n * max(winner["ok"], 1))) if n else 0.0
        if winner["accuracy"] - chance <= 2 * max(_error(winner), floor):
            steps = f" in {winner['steps']} steps" if winner.get("steps") else ""
            return (f"No model learned this task{steps}: the best retrained accuracy, {winner['name']}'s {winner['accuracy']:.3f}, is within noise of "
                    f"chance ({chance:.3f}), so the search could not tell architectures apart. Give more training data, longer rungs "
                    f"(--rungs, --final-steps) or check the labels.")
    found = [r for r in rows if r["kind"] == "search" and r["accuracy"] is not None]
    base = [r for r in rows if r["kind"] != "search" and r["accuracy"] is not None and r["fits"]]
    best_base = max(base, key=lambda r: r["accuracy"]) if base else None
    if winner["kind"] == "search":
        if best_base is None:
            return f"The search's {winner['name']} is the best retrained model ({winner['accuracy']:.3f}); no baseline fitted the limit to compare."
        gap = winner["accuracy"] - best_base["accuracy"]
        noise = math.hypot(_error(winner), _error(best_base))
        if gap > 2 * noise:
            return (f"Searching was worth it: the search's {winner['name']} ({winner['accuracy']:.3f}) beat the best baseline, "
                    f"{best_base['name']} ({best_base['accuracy']:.3f}), by {gap:+.3f} (standard error of the difference {noise:.3f}).")
        speed = _faster(winner, best_base)
        if speed:
            return (f"Searching paid off in speed: the search's {winner['name']} ({winner['accuracy']:.3f}) is as accurate as the best baseline, "
                    f"{best_base['name']} ({best_base['accuracy']:.3f}; difference {gap:+.3f}, within noise, standard error {noise:.3f}), and {speed}.")
        return (f"Searching did not clearly pay off: the search's {winner['name']} ({winner['accuracy']:.3f}) and the best baseline, "
                f"{best_base['name']} ({best_base['accuracy']:.3f}), differ by {gap:+.3f}, within noise (standard error {noise:.3f}).")
    best_found = max(found, key=lambda r: r["accuracy"]) if found else None
    found_text = f"the search's best, {best_found['name']}, reached {best_found['accuracy']:.3f}" if best_found else "no searched model finished"
    if best_found is not None and best_found["fits"] and winner["accuracy"] - best_found["accuracy"] <= 2 * math.hypot(_error(winner), _error(best_found)):
        speed = _faster(best_found, winner)
        if speed:
            return (f"A baseline won by a margin within noise: {winner['name']} ({KINDS.get(winner['kind'], winner['kind'])}) reached {winner['accuracy']:.3f}, "
                    f"the search's {best_found['name']} {best_found['accuracy']:.3f} — and {speed}; consider it when speed matters.")
    return f"A baseline won: {winner['name']} ({KINDS.get(winner['kind'], winner['kind'])}) reached {winner['accuracy']:.3f}, {found_text}. Searching was not worth it here."
