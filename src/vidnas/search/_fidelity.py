"""How long must a candidate train before its score means anything? ``--rungs auto`` (the default) answers it on
the search's own data before the first candidate: reference networks train along a ladder of step counts (100, 300,
900, 2700; each continuing from the last one's checkpoint), and the first count at which one of them has clearly
left chance becomes the first rung; the second is η times that. The references are the hand-written 3D CNN
baseline and the searched family's zoo model scaled into the limit (the space's own kind of network: on data where
the 3D CNN is slow to learn, the space's networks may not be), trained in that order at each count and only until
one has learned. On the built-in data the 3D CNN is far above chance after 100 steps, so the rungs stay 100, 300;
on data where a network needs a thousand steps to learn, screening every candidate for 100 steps would rank noise,
and the search says how long it screens instead — and says plainly when no reference ever left chance, so the user
knows the search's scores are noise before spending the budget."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

LADDER = (100, 300, 900, 2700)
"""Training steps the reference tries, each continuing the last (a warm restart of the schedule, as a promotion)."""

LEARNED_SE = 5.0
LEARNED_SHARE = 0.25
"""The reference has learned when its accuracy exceeds chance by ``LEARNED_SE`` binomial standard errors of the
validation split *and* by ``LEARNED_SHARE`` of the distance from chance to 1 (on four classes: 0.44; eight: 0.34)."""


def chance_level(val: str, num_classes: int) -> float:
    """Accuracy of always answering the most frequent validation class (mean class prevalence for multi-label
    data, the mAP of a random scorer); 1 / classes when the validation data is not a clip cache."""
    from vidnas.data import CacheError, ClipCache

    if not (Path(val) / "index.json").is_file():
        return 1.0 / max(num_classes, 1)
    try:
        cache = ClipCache(val)
    except (CacheError, OSError, ValueError):
        return 1.0 / max(num_classes, 1)
    counts = [0] * max(len(cache.classes), 1)
    for i in range(len(cache)):
        label = cache.label(i)
        for c in label if isinstance(label, tuple) else (label,):
            counts[c] += 1
    total = max(len(cache), 1)
    return (sum(counts) / len(counts) / total) if cache.multi_label else max(counts) / total


def threshold(chance: float, val_clips: int) -> float:
    """The accuracy above which a network has learned (see ``LEARNED_SE`` / ``LEARNED_SHARE``; an unknown
    validation size, 0, leaves the share alone)."""
    se = math.sqrt(chance * (1 - chance) / val_clips) if val_clips > 0 else 0.0
    return chance + max(LEARNED_SE * se, LEARNED_SHARE * (1 - chance))


CNN = "simple_3d_cnn"
"""The name of the first reference (older probes, which had no other, store runs without a model name)."""


def _model(run: dict[str, Any]) -> str:
    return run.get("model") or CNN


def next_run(runs: list[dict[str, Any]], references: list[str], chance: float) -> tuple[str, int] | None:
    """The (reference, steps) the probe trains next, or None when it has its answer: a reference learned, every
    reference still in the ladder failed at a count, or the ladder's top was reached. A reference that failed
    leaves the ladder; the others go on."""
    for steps in LADDER:
        at = [r for r in runs if r["steps"] == steps]
        if any(_learned(r, chance) for r in at):
            return None
        failed = {_model(r) for r in runs if r["steps"] < steps and r.get("accuracy") is None}
        live = [name for name in references if name not in failed]
        pending = [name for name in live if not any(_model(r) == name for r in at)]
        if pending:
            return pending[0], steps
        if not live or all(r.get("accuracy") is None for r in at if _model(r) in live):
            return None
    return None


def choose_rungs(runs: list[dict[str, Any]], chance: float, eta: int) -> tuple[list[int], bool]:
    """(rungs, learned) from the references' runs along the ladder (``model``, ``steps``, ``accuracy``,
    ``val_clips``): the first rung is the fewest steps at which one of them learned — the ladder's top reached when
    none did, the ladder's first rung when the references could not be trained at all (every run at a count
    failed: nothing was measured)."""
    counts = sorted({r["steps"] for r in runs})
    for steps in counts:
        at = [r for r in runs if r["steps"] == steps]
        if any(_learned(r, chance) for r in at):
            return [steps, steps * eta], True
        if all(r.get("accuracy") is None for r in at):
            return [LADDER[0], LADDER[0] * eta], False
    top = counts[-1] if counts else LADDER[-1]
    return [top, top * eta], False


def _learned(run: dict[str, Any], chance: float) -> bool:
    return run.get("accuracy") is not None and run["accuracy"] >= threshold(chance, run.get("val_clips") or 0)


def _label(name: str) -> str:
    return "the hand-written 3D CNN" if name == CNN else f"the zoo model scaled into the limit ({name})"


def describe(probe: dict[str, Any]) -> str:
    """One sentence for the log and the report."""
    runs = probe.get("runs", [])
    names = list(dict.fromkeys(_model(r) for r in runs)) or list(probe.get("references") or [CNN])
    rungs = " → ".join(str(s) for s in probe["rungs"])

    def seen(name: str) -> str:
        trained = [r for r in runs if _model(r) == name and r.get("accuracy") is not None]
        return ", ".join(f"{r['accuracy']:.3f} after {r['steps']}" for r in trained) + " steps" if trained else "no finished run"

    failed = [r for r in runs if r.get("accuracy") is None]
    last = [r for r in runs if r["steps"] == max((r["steps"] for r in runs), default=0)]
    if not probe.get("learned") and last and all(r.get("accuracy") is None for r in last):  # nothing measured: the rule could not run
        what = " and ".join(f"{_label(_model(r))} could not be trained to {r['steps']} steps ({r.get('reason') or 'no accuracy'})" for r in failed)
        return f"{what}, so the screening budget was not measured: rungs {rungs}"
    each = "; ".join(f"{_label(name)} {seen(name)}" for name in names)
    if probe.get("learned"):
        return (f"screening budget from the data: {each} (chance {probe['chance']:.3f}, learned above {probe['threshold']:.3f}), "
                f"so candidates are screened at {probe['rungs'][0]} steps (rungs {rungs})")
    return (f"{'the reference networks' if len(names) > 1 else _label(names[0])} did not leave chance ({probe['chance']:.3f}) in {probe['rungs'][0]} steps ({each}): "
            f"scores this short are noise on this data. Screening at {probe['rungs'][0]} steps (rungs {rungs}); check the labels, give more "
            f"training data, or set --rungs longer")
