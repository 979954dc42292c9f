"""Search strategies: the conformance suite (``vidnas.testing``) for every strategy on every space, and each
strategy's own behaviour (schedules, probabilities, Pareto fronts, the weight-sharing supernet)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from vidnas.errors import VidnasError
from vidnas.spaces import make_space
from vidnas.strategies import STRATEGIES, TrialRecord, hypervolume, make_strategy, nondominated_sort
from vidnas.testing import StrategyConformance, toy_fitness

POPULATION = ("evolution", "constrained", "guided", "pareto")


class TestEveryStrategy(StrategyConformance):
    @pytest.fixture(params=sorted(STRATEGIES))
    def make(self, request: pytest.FixtureRequest):  # noqa: ANN201
        name = request.param
        options = {"population": 4} if name in POPULATION else {}
        return lambda space, seed, budget: make_strategy(name, space, seed=seed, budget=budget, **options)


def test_evolution_mutation_schedule_anneals() -> None:
    strategy = make_strategy("evolution", make_space("tvn"), budget=100, population=10, max_mutations=4)
    assert strategy.mutations(10) == 4
    assert strategy.mutations(55) in (2, 3)
    assert strategy.mutations(100) == 1


def test_evolution_mutates_only_parents_in_the_top_fraction() -> None:
    """``mutate_top``: a tournament winner below the top fraction of every scored trial (dead ones included) gets a
    random sample instead of children; the best one is still mutated; 1.0 mutates every winner."""
    space = make_space("evanet")
    strategy = make_strategy("evolution", space, seed=0, population=4, tournament=4, mutate_top=0.125, seeds=False)
    for number, fitness in enumerate([0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]):  # trial 0, the best, has aged out
        strategy.tell(TrialRecord(number, space.sample(random.Random(number)), "ok", fitness))
    assert [r.number for r in strategy.alive()] == [4, 5, 6, 7]
    proposal = strategy.ask(8, random.Random(8))
    assert proposal.origin == "random" and proposal.parent is None  # trial 7 (0.7) is 2nd of 8: outside the top 1
    strategy.tell(TrialRecord(8, proposal.genotype, "ok", 0.95))
    proposal = strategy.ask(9, random.Random(9))
    assert proposal.origin == "mutation" and proposal.parent == 8
    classic = make_strategy("evolution", space, seed=0, population=4, tournament=4, mutate_top=1.0, seeds=False)
    for record in strategy.records[:8]:
        classic.tell(record)
    assert classic.ask(8, random.Random(8)).parent == 7
    assert strategy.config()["mutate_top"] == 0.125 and classic.config()["mutate_top"] == 1.0
    for name in ("evolution", "constrained", "guided"):  # the measured default (search_quality_evanet_proxy_mutate_top.md)
        assert make_strategy(name, space).config()["mutate_top"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="mutate_top"):
        make_strategy("evolution", space, mutate_top=0.0)


def test_probabilistic_strategy_concentrates_on_the_better_choice() -> None:
    space = make_space("autox3d")
    strategy = make_strategy("parsec", space, seed=0, samples=4, lr=1.0, temperature=0.05)
    before = np.mean([p[0] for p in strategy.probabilities().values()])
    for number in range(80):
        genotype = strategy.ask(number, random.Random(number)).genotype
        strategy.tell(TrialRecord(number, genotype, "ok", toy_fitness(space, genotype)))
    probabilities = strategy.probabilities()
    after = np.mean([p[0] for p in probabilities.values()])
    assert after > before + 0.25, (before, after)
    assert sum(p[0] == max(p) for p in probabilities.values()) >= 0.8 * len(probabilities)


def test_regularized_evolution_beats_random_on_a_toy_objective() -> None:
    def best(name: str, seed: int) -> float:
        space = make_space("autox3d")
        strategy = make_strategy(name, space, seed=seed, budget=60, **({"population": 8} if name == "evolution" else {}))
        for number in range(60):
            genotype = strategy.ask(number, random.Random(f"{seed}:{number}")).genotype
            strategy.tell(TrialRecord(number, genotype, "ok", toy_fitness(space, genotype)))
        return max(r.fitness for r in strategy.records)

    assert np.mean([best("evolution", s) for s in range(3)]) > np.mean([best("random", s) for s in range(3)])


def test_pareto_utilities() -> None:
    points = [(1, 5), (2, 2), (5, 1), (3, 3), (6, 6)]
    fronts = nondominated_sort(points)
    assert fronts[0] == [0, 1, 2] and fronts[1] == [3] and fronts[2] == [4]
    assert hypervolume([(1, 5), (2, 2), (5, 1)], (6, 6)) == pytest.approx(5 * 1 + 4 * 3 + 1 * 1 + 0)  # slices along y
    assert hypervolume([(0.0, 0.0)], (1.0, 2.0)) == pytest.approx(2.0)
    assert hypervolume([(0, 0, 0)], (1, 2, 3)) == pytest.approx(6.0)


def test_pareto_strategy_keeps_a_front() -> None:
    space = make_space("tvn")
    strategy = make_strategy("pareto", space, seed=0, population=6, objectives=("accuracy", "latency_ms"))
    rng = random.Random(0)
    for number in range(12):
        genotype = strategy.ask(number, random.Random(number)).genotype
        strategy.tell(TrialRecord(number, genotype, "ok", rng.random(), {"accuracy": rng.random(), "latency_ms": rng.random()}))
    ranked = strategy.ranked()
    assert len(ranked) == 6 and ranked[0][1] == 0
    assert [r for _, r, _ in ranked] == sorted(r for _, r, _ in ranked)


def test_shared_weight_parsec_trains_a_supernet(tmp_path: Path) -> None:
    import torch

    space = make_space("autox3d", num_classes=3, frames=4, size=32, depths=((1,), (1, 2), (1,), (1,)))
    strategy = make_strategy("parsec", space, seed=0, shared_weights=True, samples=2, supernet={"batch_size": 4, "warmup": 0.25})

    class Clips(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 16

        def __getitem__(self, i: int) -> dict:
            g = torch.Generator().manual_seed(i)
            return {"video": torch.randn(3, 4, 32, 32, generator=g), "label": i % 3}

    summary = strategy.search_supernet(Clips(), Clips(), steps=6, state_dir=tmp_path)
    assert summary["steps"] == 6 and "argmax" in summary
    logits = [row.copy() for row in strategy.logits]
    assert any(np.abs(row).sum() > 0 for row in logits)  # θ moved after the warm-up
    assert (tmp_path / "supernet.json").is_file() and (tmp_path / "supernet.safetensors").is_file()
    again = make_strategy("parsec", space, seed=0, shared_weights=True)
    assert again.search_supernet(Clips(), Clips(), steps=6, state_dir=tmp_path)["resumed"] is True
    assert all(np.allclose(a, b) for a, b in zip(again.logits, logits))
    first = again.ask(0, random.Random(0))
    assert first.origin == "argmax"
    with pytest.raises(VidnasError, match="no weight-sharing supernet"):
        make_strategy("parsec", make_space("tvn"), shared_weights=True)


def test_supernet_fair_channel_selection_covers_every_filter_equally() -> None:
    import torch

    space = make_space("autox3d", num_classes=3, frames=2, size=16)
    supernet = space.supernet(fair=True)
    total = supernet.max_width[0]
    counts = torch.zeros(total)
    rng = random.Random(0)
    for _ in range(3000):
        width = rng.choice(space.widths[0])
        counts[supernet._channels(width, total, rng, torch.device("cpu"))] += 1
    frequency = counts / 3000
    expected = np.mean(space.widths[0]) / total
    assert float(frequency.min()) > expected - 0.05 and float(frequency.max()) < expected + 0.05
    prefix = space.supernet(fair=False)._channels(space.widths[0][0], total, rng, torch.device("cpu"))
    assert prefix.tolist() == list(range(space.widths[0][0]))
