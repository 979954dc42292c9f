"""The space and strategy contracts as pytest test classes (see ``vidnas.testing``)."""

from __future__ import annotations

import random
from typing import Any, Callable

import pytest

from vidnas.genotype import Genotype
from vidnas.spaces import SPACES, SearchSpace, make_space
from vidnas.strategies import Strategy, TrialRecord


def toy_fitness(space: SearchSpace, genotype: Genotype) -> float:
    """A deterministic fitness in [0, 1] without training: the fraction of the space's choices at their first
    option (so strategies that learn have something to learn)."""
    indices = space.to_indices(genotype)
    return sum(i == 0 for i in indices) / len(indices)


def _record(space: SearchSpace, number: int, genotype: Genotype, status: str = "ok") -> TrialRecord:
    fitness = toy_fitness(space, genotype) if status == "ok" else None
    metrics: dict[str, Any] = {}
    if hasattr(space, "guided_mutate"):  # a space whose mutations read learned connection weights gets some
        metrics["connection_weights"] = {n.name: {e.source: 0.1 + 0.8 * (k % 2) for k, e in enumerate(n.inputs)} for n in genotype.nodes if len(n.inputs) > 1}
    objectives = {"accuracy": fitness, "latency_ms": float(len(genotype.nodes))} if status == "ok" else {}
    return TrialRecord(number, genotype, status, fitness, objectives, metrics)


class SpaceConformance:
    """What the engine and every strategy rely on in a space: samples are valid and round-trip through values
    and indices, mutations are valid, named and change the genotype, the same seed gives the same trajectory,
    zoo seeds (if any) belong to the space. Give a ``space`` fixture; ``num_classes`` is what it was built with."""

    num_classes = 6
    expects_seeds = True  # vidnas's spaces start from zoo models; set False for a space without any
    samples = 6
    mutations = 25

    @pytest.fixture
    def space(self) -> SearchSpace:  # pragma: no cover - the subclass gives it
        raise NotImplementedError("give the conformance suite a `space` fixture")

    def test_samples_are_valid_and_round_trip(self, space: SearchSpace) -> None:
        rng = random.Random(0)
        for _ in range(self.samples):
            genotype = space.sample(rng)
            assert space.validate(genotype) is genotype
            genotype.check()
            indices = space.to_indices(genotype)
            assert len(indices) == len(space.choices())
            assert all(0 <= i < len(c.options) for i, c in zip(indices, space.choices()))
            assert space.from_indices(indices).fingerprint() == genotype.fingerprint()
            values = space.encode(genotype)
            assert space.encode(space.decode(values)) == space.canonical(values)
            assert genotype.head.num_classes == self.num_classes

    def test_mutations_are_valid_named_and_change_something(self, space: SearchSpace) -> None:
        rng = random.Random(1)
        used: set[str] = set()
        parent = space.sample(rng)
        for _ in range(self.mutations):
            child, operators = space.mutate(parent, rng, count=rng.randint(1, 3))
            assert child.fingerprint() != parent.fingerprint()
            space.validate(child)
            assert operators and set(operators) <= set(space.operators())
            used.update(operators)
            parent = child
        assert len(used) >= min(3, len(space.operators()))

    def test_same_seed_same_trajectory(self, space: SearchSpace) -> None:
        def trajectory(seed: int) -> list[str]:
            rng = random.Random(seed)
            genotype = space.sample(rng)
            out = [genotype.fingerprint()]
            for _ in range(5):
                genotype, _ = space.mutate(genotype, rng)
                out.append(genotype.fingerprint())
            return out

        assert trajectory(3) == trajectory(3)
        assert trajectory(3) != trajectory(4)

    def test_seeds_belong_to_the_space(self, space: SearchSpace) -> None:
        seeds = space.seeds()
        if self.expects_seeds:
            assert seeds, f"{space.name} has no zoo seed"
        for genotype in seeds:
            space.validate(genotype)


class StrategyConformance:
    """What the engine relies on in a strategy: on every space it proposes valid genotypes, is deterministic
    given its seed, explores, rebuilds its state from the records it was told (a resumed search), survives failed
    and rejected trials, and takes a re-told trial (a successive-halving promotion) as a replacement. Give a
    ``make`` fixture: ``make(space, seed, budget) -> Strategy``."""

    steps = 14

    @pytest.fixture
    def make(self) -> Callable[[SearchSpace, int, int], Strategy]:  # pragma: no cover - the subclass gives it
        raise NotImplementedError("give the conformance suite a `make` fixture: (space, seed, budget) -> Strategy")

    @pytest.fixture(params=sorted(SPACES))
    def space(self, request: pytest.FixtureRequest) -> SearchSpace:
        return make_space(request.param)

    def _run(self, make: Callable, space: SearchSpace, seed: int, *, fail_every: int = 0) -> tuple[Strategy, list[str]]:
        strategy = make(space, seed, self.steps)
        out = []
        for number in range(self.steps):
            genotype = strategy.ask(number, random.Random(f"{seed}:{number}")).genotype
            space.validate(genotype)
            status = "ok"
            if fail_every and number % fail_every == 1:
                status = "failed" if number % (2 * fail_every) == 1 else "rejected"
            strategy.tell(_record(space, number, genotype, status))
            out.append(genotype.fingerprint())
        return strategy, out

    def test_deterministic_given_the_seed_and_explores(self, make: Callable, space: SearchSpace) -> None:
        _, first = self._run(make, space, seed=7)
        _, again = self._run(make, space, seed=7)
        assert first == again
        assert len(set(first)) >= len(first) // 2  # it explores

    def test_state_is_rebuilt_from_records(self, make: Callable, space: SearchSpace) -> None:
        original, _ = self._run(make, space, seed=1)
        rebuilt = make(space, 1, self.steps)
        for record in original.records:
            rebuilt.tell(record)
        rng = f"1:{self.steps}"
        assert original.ask(self.steps, random.Random(rng)).genotype.fingerprint() == rebuilt.ask(self.steps, random.Random(rng)).genotype.fingerprint()

    def test_survives_failed_and_rejected_trials(self, make: Callable, space: SearchSpace) -> None:
        strategy, _ = self._run(make, space, seed=2, fail_every=3)
        assert {r.status for r in strategy.records} == {"ok", "failed", "rejected"}
        space.validate(strategy.ask(self.steps, random.Random(0)).genotype)

    def test_a_retold_trial_replaces_the_earlier_one(self, make: Callable, space: SearchSpace) -> None:
        strategy, _ = self._run(make, space, seed=3)
        first = strategy.records[0]
        promoted = TrialRecord(first.number, first.genotype, "ok", 1.0, {"accuracy": 1.0, "latency_ms": 1.0}, dict(first.metrics) | {"rung": 1})
        strategy.tell(promoted)
        assert len(strategy.records) == self.steps and [r for r in strategy.records if r.number == first.number] == [promoted]
        space.validate(strategy.ask(self.steps, random.Random(0)).genotype)
