"""Conformance suites for search spaces and strategies, vidnas's own and yours (pytest; in the manner of
Optuna's sampler test cases). Subclass one in a ``test_*.py`` file, give it the fixture it asks for, and pytest
runs every check of the contract the search engine relies on:

>>> from vidnas.testing import SpaceConformance, StrategyConformance
>>> class TestMySpace(SpaceConformance):
...     @pytest.fixture
...     def space(self):
...         return MySpace(num_classes=6)
>>> class TestMyStrategy(StrategyConformance):
...     @pytest.fixture
...     def make(self):
...         return lambda space, seed, budget: MyStrategy(space, seed=seed, budget=budget)

``StrategyConformance`` runs the strategy on every vidnas space (override the ``space`` fixture to narrow it).
"""

from vidnas.testing._conformance import SpaceConformance, StrategyConformance, toy_fitness

__all__ = ["SpaceConformance", "StrategyConformance", "toy_fitness"]
