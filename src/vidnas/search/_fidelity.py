"""How long must a candidate train before its score means anything? ``--rungs auto`` (the default) answers it on
the search's own data before the first candidate: the hand-written 3D CNN baseline trains along a ladder of
step counts (100, 300, 900, 2700; each continuing from the last one's checkpoint), and the first count at which
it has clearly left chance becomes the first rung; the second is η times that. On the built-in data the 3D CNN
is far above chance after 100 steps, so the rungs stay 100, 300; on data where a network needs a thousand steps
to learn, screening every candidate for 100 steps would rank noise, and the search says how long it screens
instead — and says plainly when even the 3D CNN never left chance, so the user knows the search's scores are
noise before spending the budget."""

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


def choose_rungs(runs: list[dict[str, Any]], chance: float, eta: int) -> tuple[list[int], bool]:
    """(rungs, learned) from the reference's runs along the ladder (``steps``, ``accuracy``, ``val_clips``): the
    first rung is the fewest steps at which it learned — the ladder's top when it never did, the ladder's first
    rung when the reference could not be trained at all (a failed run: nothing was measured)."""
    for run in runs:
        if run.get("accuracy") is None:
            return [LADDER[0], LADDER[0] * eta], False
        if _learned(run, chance):
            return [run["steps"], run["steps"] * eta], True
    top = runs[-1]["steps"] if runs else LADDER[-1]
    return [top, top * eta], False


def finished(runs: list[dict[str, Any]], chance: float) -> bool:
    """Whether the ladder stops here: the reference learned, failed, or reached the ladder's top."""
    if not runs:
        return False
    last = runs[-1]
    return last.get("accuracy") is None or last["steps"] >= LADDER[-1] or _learned(last, chance)


def _learned(run: dict[str, Any], chance: float) -> bool:
    return run["accuracy"] >= threshold(chance, run.get("val_clips") or 0)


def describe(probe: dict[str, Any]) -> str:
    """One sentence for the log and the report."""
    runs = [r for r in probe.get("runs", []) if r.get("accuracy") is not None]
    seen = ", ".join(f"{r['accuracy']:.3f} after {r['steps']}" for r in runs)
    rungs = " → ".join(str(s) for s in probe["rungs"])
    failed = next((r for r in probe.get("runs", []) if r.get("accuracy") is None), None)
    if failed is not None:
        return (f"the hand-written 3D CNN could not be trained to {failed['steps']} steps ({failed.get('reason') or 'no accuracy'}), so the screening "
                f"budget was not measured: rungs {rungs}")
    if probe.get("learned"):
        return (f"screening budget from the data: the hand-written 3D CNN reached {seen} steps (chance {probe['chance']:.3f}, "
                f"learned above {probe['threshold']:.3f}), so candidates are screened at {probe['rungs'][0]} steps (rungs {rungs})")
    return (f"the hand-written 3D CNN did not leave chance ({probe['chance']:.3f}) in {probe['rungs'][0]} steps ({seen}): scores this short "
            f"are noise on this data. Screening at {probe['rungs'][0]} steps (rungs {rungs}); check the labels, give more training data, "
            f"or set --rungs longer")
