"""Search strategies: they ask a space for genotypes and learn from finished trials, never knowing which
space they search. ``make_strategy(name, space, seed=, budget=, **options)``; ``STRATEGIES`` lists them."""

from __future__ import annotations

from typing import Any

from vidnas.errors import VidnasError
from vidnas.spaces import SearchSpace
from vidnas.strategies._base import STATUSES, TOLD, Proposal, RandomSearch, Status, Strategy, TrialRecord
from vidnas.strategies._evolution import ConstrainedEvolution, GuidedEvolution, ParetoEvolution, RegularizedEvolution
from vidnas.strategies._pareto import crowding_distance, dominates, hypervolume, nondominated_sort, pareto_front
from vidnas.strategies._probabilistic import ProbabilisticNAS

STRATEGIES: dict[str, type[Strategy]] = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "constrained": ConstrainedEvolution,
    "guided": GuidedEvolution,
    "parsec": ProbabilisticNAS,
    "pareto": ParetoEvolution,
}


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, budget: int | None = None, **options: Any) -> Strategy:
    if name not in STRATEGIES:
        raise VidnasError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    cls = STRATEGIES[name]
    if cls is RandomSearch:
        options.setdefault("seeds", False)  # the baseline is pure random sampling
    import inspect

    accepted = {p for c in cls.__mro__ if c is not object for p in inspect.signature(c.__init__).parameters} - {"self", "space", "seed", "budget", "options"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise VidnasError(f"strategy {name!r} has no option {', '.join(unknown)}; its options: {', '.join(sorted(accepted))}")
    return cls(space, seed=seed, budget=budget, **options)


__all__ = [
    "STATUSES", "STRATEGIES", "Status", "TOLD", "make_strategy", "Strategy", "Proposal", "TrialRecord", "RandomSearch", "RegularizedEvolution",
    "ConstrainedEvolution", "GuidedEvolution", "ParetoEvolution", "ProbabilisticNAS", "dominates", "nondominated_sort",
    "crowding_distance", "pareto_front", "hypervolume",
]
