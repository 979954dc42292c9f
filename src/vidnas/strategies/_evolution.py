"""Evolution: regularized (aging) evolution with EvaNet's mutation schedule, its constrained (TVN) and
connection-guided (AssembleNet) variants, and multi-objective NSGA-II-style Pareto search."""

from __future__ import annotations

import math
import random
from typing import Any

from vidnas.spaces import SearchSpace
from vidnas.strategies._base import Proposal, Strategy, TrialRecord
from vidnas.strategies._pareto import crowding_distance, nondominated_sort


class RegularizedEvolution(Strategy):
    """Regularized evolution (Real et al. 2019): the population is the last ``population`` finished trials
    (the oldest dies, whatever its fitness); a parent is the fittest of ``tournament`` random members; the child
    is the parent with ``mutations(number)`` operators applied.

    Mutation schedule (EvaNet: "massive diverse mutations at earlier stages … limited at later stages"; the
    exact annealing is UNCONFIRMED): ``max_mutations`` at the start, falling linearly to 1 at the end of the
    budget (without a trial budget, over ``anneal_trials``).

    ``mutate_top`` (a fraction in (0, 1]; default 1/3; 1 is classic regularized evolution) mutates a tournament
    winner only when it ranks within that top fraction of every candidate scored so far, dead or alive; otherwise
    the child is a random sample. A mutant inherits its parent's quality (measured on EvaNet: parents above 0.45
    after 100 steps gave 57 % good children, the others 19 %), so a mediocre parent's children are worse bets than
    random samples. The default is measured against classic evolution and random search with real training in
    ``benchmarks/results/search_quality_evanet_proxy_mutate_top.md``.
    """

    name = "evolution"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        budget: int | None = None,
        population: int = 8,
        tournament: int = 3,
        max_mutations: int = 3,
        anneal_trials: int = 100,
        seeds: bool = True,
        mutate_top: float = 1 / 3,
    ):
        super().__init__(space, seed=seed, budget=budget, seeds=seeds)
        if not 0.0 < mutate_top <= 1.0:
            raise ValueError(f"evolution option mutate_top={mutate_top!r}: expected a fraction in (0, 1] (1 mutates every tournament winner)")
        self.population, self.tournament = population, tournament
        self.max_mutations, self.anneal_trials, self.mutate_top = max_mutations, anneal_trials, mutate_top

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "population": self.population, "tournament": self.tournament, "max_mutations": self.max_mutations,
                "mutate_top": self.mutate_top}

    def mutations(self, number: int) -> int:
        horizon = self.budget or self.anneal_trials
        progress = min(1.0, max(0.0, (number - self.population) / max(1, horizon - self.population)))
        return max(1, round(self.max_mutations - (self.max_mutations - 1) * progress))

    def alive(self) -> list[TrialRecord]:
        return self.completed()[-self.population:]

    def select_parent(self, rng: random.Random) -> TrialRecord:
        alive = self.alive()
        contestants = rng.sample(alive, min(self.tournament, len(alive)))
        return max(contestants, key=lambda r: (r.score, -r.number))

    def promising(self, parent: TrialRecord) -> bool:
        """Whether ``parent`` ranks within the top ``mutate_top`` of every scored candidate so far."""
        scores = sorted((r.score for r in self.completed()), reverse=True)
        return parent.score >= scores[max(1, math.ceil(self.mutate_top * len(scores))) - 1]

    def ask(self, number: int, rng: random.Random) -> Proposal:
        if len(self.completed()) < self.population or all(r.score == -math.inf for r in self.alive()):
            return self.initial(number, rng)
        parent = self.select_parent(rng)
        if self.mutate_top < 1.0 and not self.promising(parent):
            return Proposal(self.space.sample(rng), origin="random")
        child, operators = self.mutate(parent, rng, self.mutations(number))
        return Proposal(child, origin="mutation", parent=parent.number, operators=operators)

    def mutate(self, parent: TrialRecord, rng: random.Random, count: int) -> tuple[Any, list[str]]:
        return self.space.mutate(parent.genotype, rng, count)


class ConstrainedEvolution(RegularizedEvolution):
    """Regularized evolution under a resource limit (Tiny Video Networks). The limit itself (latency measured or
    predicted, MACs, params, peak memory) and its handling — reject before training, or penalise the fitness —
    belong to the search (``Constraint``), so any strategy can be constrained; this name makes the pairing the
    default."""

    name = "constrained"


class GuidedEvolution(RegularizedEvolution):
    """Connection-guided evolution (AssembleNet): candidates are over-connected graphs trained with learnable
    sigmoid edge weights; a child drops its parent's weak edges (``threshold``) and gets random edits (add edges,
    split/merge nodes, change dilations). Spaces without weighted edges fall back to ordinary mutation."""

    name = "guided"

    def __init__(self, space: SearchSpace, *, threshold: float = 0.25, **options: Any):
        super().__init__(space, **options)
        self.threshold = threshold

    def config(self) -> dict[str, Any]:
        return dict(super().config(), threshold=self.threshold)

    def mutate(self, parent: TrialRecord, rng: random.Random, count: int) -> tuple[Any, list[str]]:
        weights = parent.metrics.get("connection_weights")
        guided = getattr(self.space, "guided_mutate", None)
        if guided is not None and weights:
            return guided(parent.genotype, weights, rng, threshold=self.threshold, count=count - 1)
        return self.space.mutate(parent.genotype, rng, count)


class ParetoEvolution(Strategy):
    """Multi-objective search (NSGA-II, steady state): survivors are the best ``population`` finished trials by
    non-dominated rank then crowding distance; parents come from binary tournaments on (rank, crowding); children
    are mutations. Objectives default to accuracy (maximised), latency and peak memory (minimised)."""

    name = "pareto"
    multi_objective = True

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        budget: int | None = None,
        population: int = 8,
        objectives: tuple[str, ...] = ("accuracy", "latency_ms", "peak_memory_mb"),
        max_mutations: int = 2,
        seeds: bool = True,
    ):
        super().__init__(space, seed=seed, budget=budget, seeds=seeds)
        self.population, self.objectives, self.max_mutations = population, tuple(objectives), max_mutations

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "population": self.population, "objectives": list(self.objectives)}

    def point(self, record: TrialRecord) -> tuple[float, ...]:
        """Objectives as a minimisation point (accuracy negated; missing values are worst)."""
        out = []
        for name in self.objectives:
            value = record.objectives.get(name)
            if value is None or not math.isfinite(value):
                out.append(math.inf)
            else:
                out.append(-value if name in ("accuracy", "top1", "map") else value)
        return tuple(out)

    def ranked(self) -> list[tuple[TrialRecord, int, float]]:
        """Survivors with (rank, crowding), best first."""
        pool = [r for r in self.completed() if r.status == "ok"]
        points = [self.point(r) for r in pool]
        survivors: list[tuple[TrialRecord, int, float]] = []
        for rank, front in enumerate(nondominated_sort(points)):
            crowding = crowding_distance(points, front)
            for i in sorted(front, key=lambda i: (-crowding[i], pool[i].number)):
                survivors.append((pool[i], rank, crowding[i]))
        return survivors[: self.population]

    def ask(self, number: int, rng: random.Random) -> Proposal:
        survivors = self.ranked()
        if len(self.completed()) < self.population or not survivors:
            return self.initial(number, rng)

        def pick() -> tuple[TrialRecord, int, float]:
            a, b = rng.choice(survivors), rng.choice(survivors)
            return min(a, b, key=lambda s: (s[1], -s[2], s[0].number))

        parent = pick()[0]
        count = rng.randint(1, self.max_mutations)
        child, operators = self.space.mutate(parent.genotype, rng, count)
        return Proposal(child, origin="mutation", parent=parent.number, operators=operators)
