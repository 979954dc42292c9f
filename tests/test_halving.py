"""Successive halving as an object of its own: the promotion rule, the finishing rule and the rebuild, each called
without running a search (``tests/test_rungs.py`` checks the same rules through whole searches)."""

from __future__ import annotations

import pytest

from vidnas.search._halving import SuccessiveHalving


def test_the_top_third_of_a_rung_continues_best_first_and_never_twice() -> None:
    halving = SuccessiveHalving(rungs=3, eta=3)
    for candidate, score in enumerate([0.2, 0.9, 0.5, 0.7, 0.1]):
        halving.scored(candidate, 0, score)
    assert halving.ranked(0) == [1, 3, 2, 0, 4]
    assert halving.promotion(set()) == (1, 1)  # ⌊5/3⌋ = 1: only the best
    assert halving.promotion({(1, 1)}) is None  # already on its way
    halving.started(1, 1)
    assert halving.promotion(set()) is None
    halving.scored(5, 0, 0.8)  # a sixth score: ⌊6/3⌋ = 2, the second best continues too
    assert halving.promotion(set()) == (5, 1)


def test_higher_rungs_are_promoted_first_and_ties_go_to_the_earlier_candidate() -> None:
    halving = SuccessiveHalving(rungs=3, eta=2)
    for candidate in range(4):
        halving.scored(candidate, 0, 0.5)
    assert halving.ranked(0) == [0, 1, 2, 3]
    halving.scored(0, 1, 0.6)
    halving.scored(1, 1, 0.4)
    assert halving.promotion(set()) == (0, 2)  # rung 1's best before rung 0's remaining promotions


def test_a_failed_run_counts_as_started_and_is_never_promoted() -> None:
    halving = SuccessiveHalving(rungs=2, eta=2)
    halving.scored(0, 0, None)
    halving.scored(1, 0, 0.3)
    assert halving.ranked(0) == [1] and halving.promotion(set()) is None  # ⌊1/2⌋ = 0
    halving.scored(2, 0, 0.4)
    assert halving.promotion(set()) == (2, 1)


def test_an_abandoned_run_may_be_promoted_again_but_a_finished_one_not() -> None:
    halving = SuccessiveHalving(rungs=2, eta=2)
    halving.scored(0, 0, 0.9)
    halving.scored(1, 0, 0.1)
    halving.started(0, 1)
    assert halving.promotion(set()) is None
    halving.abandoned(0, 1)
    assert halving.promotion(set()) == (0, 1)
    halving.scored(0, 1, 0.95)
    halving.abandoned(0, 1)  # too late: it finished
    assert halving.promotion(set()) is None


def test_finishing_carries_the_best_of_the_highest_scored_rung_up_one_at_a_time() -> None:
    halving = SuccessiveHalving(rungs=3, eta=3)
    halving.scored(0, 0, 0.4)
    halving.scored(1, 0, 0.6)
    assert halving.promotion(set()) is None  # ⌊2/3⌋ = 0: nothing due by the rule
    assert halving.finishing(set()) == (1, 1)
    assert halving.finishing({(1, 1)}) is None  # one promotion on its way up at a time
    halving.scored(1, 1, 0.7)
    assert halving.finishing(set()) == (1, 2)
    halving.scored(1, 2, 0.8)
    assert halving.finishing(set()) is None  # the top rung has a score: the pick is made there
    assert SuccessiveHalving(rungs=1, eta=3).finishing(set()) is None


def test_a_rebuilt_state_decides_as_the_one_that_lived_through_it() -> None:
    finished = [(0, 0, 0.3), (1, 0, 0.8), (2, 0, None), (3, 0, 0.5), (1, 1, 0.85), (4, 0, 0.6), (5, 0, 0.7)]
    lived = SuccessiveHalving(rungs=3, eta=3)
    for candidate, rung, score in finished:
        lived.scored(candidate, rung, score)
    lived.started(5, 1)
    rebuilt = SuccessiveHalving.rebuilt(3, 3, finished, running=[(5, 1)])
    assert rebuilt.scores == lived.scores and rebuilt.begun == lived.begun
    assert rebuilt.promotion(set()) == lived.promotion(set())
    assert rebuilt.summary() == ("5/1/0", 0.85, 1)
    with pytest.raises(ValueError, match="eta must be at least 2"):
        SuccessiveHalving(rungs=2, eta=1)
