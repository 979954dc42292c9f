"""Building ensembles: EvaNet-style selection of the best *diverse* architectures, and the MoViNet temporal
ensemble (members at a fraction of the frame rate, offset by one frame)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from vidnas.errors import VidnasError
from vidnas.genotype import Ensemble, Genotype

_IGNORED = ("name", "family", "description")


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not prefix and key in _IGNORED:
                continue
            out.update(_leaves(item, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        out = {}
        for index, item in enumerate(value):
            out.update(_leaves(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def genotype_distance(a: Genotype, b: Genotype) -> float:
    """How different two architectures are, in [0, 1]: the share of fields (over the union of both genotypes'
    fields, defaults included) whose values differ. 0 for the same architecture, whatever its name."""
    left, right = _leaves(a.to_dict(full=True)), _leaves(b.to_dict(full=True))
    keys = set(left) | set(right)
    if not keys:
        return 0.0
    return sum(left.get(k, object()) != right.get(k, object()) for k in keys) / len(keys)


def select_diverse(
    trials: Iterable[tuple[Genotype, float]],
    k: int,
    *,
    min_distance: float = 0.05,
    higher_is_better: bool = True,
) -> list[tuple[Genotype, float]]:
    """The best ``k`` trials, best first, skipping any within ``min_distance`` of one already chosen (the
    EvaNet recipe: an ensemble of top *and* diverse evolved architectures). Trials are (genotype, score)."""
    ranked = sorted(trials, key=lambda trial: trial[1], reverse=higher_is_better)
    chosen: list[tuple[Genotype, float]] = []
    for genotype, score in ranked:
        if all(genotype_distance(genotype, other) >= min_distance for other, _ in chosen):
            chosen.append((genotype, score))
        if len(chosen) == k:
            break
    return chosen


def diverse_ensemble(trials: Iterable[tuple[Genotype, float]], k: int, *, min_distance: float = 0.05, name: str = "diverse_ensemble") -> Ensemble:
    """An Ensemble (mean of logits) of ``select_diverse``'s choice."""
    chosen = select_diverse(trials, k, min_distance=min_distance)
    if len(chosen) < 2:
        raise VidnasError(f"only {len(chosen)} trial(s) are at least {min_distance} apart; an ensemble needs 2 (lower min_distance)")
    return Ensemble(name=name, family=chosen[0][0].family, members=[g for g, _ in chosen], description=f"top {len(chosen)} diverse trials")


def temporal_ensemble(genotype: Genotype, members: int = 2, *, name: str | None = None) -> Ensemble:
    """The MoViNet temporal ensemble of ``genotype``: ``members`` copies, each reading every ``members``-th
    frame of the clip with a one-frame offset (so each runs at 1/members of the frame rate and the ensemble
    costs about what one full-rate model does). Train the copies independently; logits are averaged."""
    spec = genotype.input
    if spec.frames % members:
        raise VidnasError(f"{genotype.name}: {spec.frames} frames do not split evenly over {members} members")
    data = genotype.to_dict(full=True)
    data["input"].update(frames=spec.frames // members, frame_stride=spec.frame_stride * members, fps=(spec.fps / members) if spec.fps else None)
    member = Genotype.model_validate(data)
    copies = [member.model_copy(update={"name": f"{genotype.name}_t{i}"}) for i in range(members)]
    return Ensemble(
        name=name or f"{genotype.name}_temporal_ensemble",
        family=genotype.family,
        description=f"temporal ensemble: {members} x {genotype.name} at 1/{members} frame rate, frames interleaved",
        members=copies,
        frames="interleaved",
    )


def ensemble_of(genotypes: Sequence[Genotype], *, name: str = "ensemble") -> Ensemble:
    """A plain mean-of-logits ensemble (members may read different streams, e.g. RGB and flow)."""
    return Ensemble(name=name, family=genotypes[0].family, members=list(genotypes))
