"""The conformance suites catch what they promise to: a broken space and a broken strategy fail them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

BROKEN = '''
import random

import pytest

from vidnas.spaces import make_space
from vidnas.strategies import Proposal, RandomSearch
from vidnas.testing import SpaceConformance, StrategyConformance


class StuckSpace(type(make_space("tvn"))):
    def mutate(self, genotype, rng, count=1):  # a mutation that changes nothing
        return genotype, ["stay"]


class UnseededStrategy(RandomSearch):
    def ask(self, number, rng):  # draws from the global generator, not the rng it is given
        return Proposal(self.space.sample(random.Random(random.random())))


class TestStuckSpace(SpaceConformance):
    @pytest.fixture
    def space(self):
        return StuckSpace(num_classes=6)


class TestUnseededStrategy(StrategyConformance):
    @pytest.fixture
    def space(self):
        return make_space("tvn")

    @pytest.fixture
    def make(self):
        return lambda space, seed, budget: UnseededStrategy(space, seed=seed, budget=budget, seeds=False)
'''


def test_the_suites_fail_a_broken_space_and_a_broken_strategy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=BROKEN)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    failed = {line.split("::")[-1].split(" ")[0] for line in result.outlines if line.startswith("FAILED")}
    assert "test_mutations_are_valid_named_and_change_something" in failed, result.outlines[-15:]
    assert {"test_deterministic_given_the_seed_and_explores", "test_state_is_rebuilt_from_records"} <= failed, result.outlines[-15:]
    assert "test_samples_are_valid_and_round_trip" not in failed and outcomes.get("passed", 0) >= 3  # the rest of the contract holds
