"""The strategy protocol: ``ask(number, rng) -> Proposal`` and ``tell(record)``.

A strategy never sees which space it searches: it only calls the space's ``sample``, ``mutate``, ``seeds``,
``choices`` / ``to_indices`` / ``from_indices`` and, where the space offers it, ``guided_mutate``. Its state is
a pure function of the records it was told, so a resumed search rebuilds it by telling the stored trials in
order; ``ask`` draws only from the ``rng`` it is given (derived from the search seed and the trial number).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from vidnas.genotype import Genotype
from vidnas.spaces import SearchSpace

Status = Literal["ok", "failed", "rejected", "duplicate", "interrupted", "running"]
STATUSES: dict[str, str] = {
    "ok": "trained and scored",
    "failed": "tried and got no score (the evaluator's error, a dead worker, a timeout, a non-finite accuracy)",
    "rejected": "never trained: it breaks the search's constraint",
    "duplicate": "never trained: the same network as a candidate already evaluated (whose score it carries, if any)",
    "interrupted": "the search stopped while it ran; a resumed search runs it again",
    "running": "being evaluated (or its search was killed: a resume requeues it)",
}
"""The one trial-status vocabulary: the study records every one; evaluations end ``ok`` or ``failed``;
strategies are told ``TOLD`` (a duplicate counts as ok with its carried score, else as rejected)."""
TOLD = ("ok", "failed", "rejected")


@dataclass
class Proposal:
    genotype: Genotype
    origin: str = "random"  # random | seed | mutation | guided | distribution | argmax
    parent: int | None = None
    operators: list[str] = field(default_factory=list)


@dataclass
class TrialRecord:
    """A finished trial as strategies see it. ``fitness`` is the scalar to maximise (None unless status ok);
    ``objectives`` holds every measured objective (accuracy, latency_ms, macs, params, peak_memory_mb)."""

    number: int
    genotype: Genotype
    status: Status  # one of TOLD
    fitness: float | None = None
    objectives: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.fitness if self.status == "ok" and self.fitness is not None and math.isfinite(self.fitness) else -math.inf


class Strategy:
    """Base class; ``budget`` (trials) lets schedules anneal, ``None`` means unknown (time budget)."""

    name = "strategy"
    multi_objective = False

    def __init__(self, space: SearchSpace, *, seed: int = 0, budget: int | None = None, seeds: bool = True):
        self.space, self.seed, self.budget = space, seed, budget
        self.records: list[TrialRecord] = []
        self.seed_genotypes = space.seeds() if seeds else []

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def initial(self, number: int, rng: random.Random) -> Proposal:
        """Zoo seeds first, then random samples."""
        if number < len(self.seed_genotypes):
            return Proposal(self.seed_genotypes[number], origin="seed")
        return Proposal(self.space.sample(rng), origin="random")

    def ask(self, number: int, rng: random.Random) -> Proposal:  # pragma: no cover - abstract
        raise NotImplementedError

    def tell(self, record: TrialRecord) -> None:
        """Add a finished trial; a record whose number was told before replaces the earlier one in place (a
        successive-halving promotion: the same candidate scored again at a higher rung, ``metrics['rung']``)."""
        for i, old in enumerate(self.records):
            if old.number == record.number:
                self.records[i] = record
                return
        self.records.append(record)

    def told(self, number: int) -> bool:
        return any(r.number == number for r in self.records)

    def completed(self) -> list[TrialRecord]:
        return [r for r in self.records if r.status != "rejected"]


class RandomSearch(Strategy):
    """Uniform samples of the space (plus the zoo seeds first): the baseline every comparison includes."""

    name = "random"

    def ask(self, number: int, rng: random.Random) -> Proposal:
        return self.initial(number, rng)
