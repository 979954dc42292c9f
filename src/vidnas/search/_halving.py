"""Asynchronous successive halving as a small object of its own: which candidates have scores at which rung, which
have started a rung, and the two decisions the search asks of it — the promotion due now, and after the budget the
promotion that carries the pick up to the top rung. It knows nothing of studies, strategies or executors: the
search feeds it what finished (``scored``, ``started``), and a resumed search rebuilds it from the stored trials."""

from __future__ import annotations

from collections.abc import Iterable

Running = set[tuple[int, int]]
"""(candidate, rung) pairs training now."""


class SuccessiveHalving:
    """``rungs`` rungs, the top ⌊n/``eta``⌋ of the n candidates scored at a rung continue to the next one."""

    def __init__(self, rungs: int, eta: int) -> None:
        if eta < 2:
            raise ValueError(f"eta must be at least 2, got {eta}")
        self.rungs, self.eta = max(1, rungs), eta
        self.scores: list[dict[int, float]] = [{} for _ in range(self.rungs)]
        self.begun: list[set[int]] = [set() for _ in range(self.rungs)]

    # -- what happened --------------------------------------------------------------------------------
    def started(self, candidate: int, rung: int) -> None:
        """``candidate`` began training at ``rung`` (it is never promoted there again)."""
        if rung < self.rungs:
            self.begun[rung].add(candidate)

    def abandoned(self, candidate: int, rung: int) -> None:
        """``candidate``'s run at ``rung`` was interrupted before it finished: it may be promoted there again."""
        if rung < self.rungs and candidate not in self.scores[rung]:
            self.begun[rung].discard(candidate)

    def scored(self, candidate: int, rung: int, score: float | None) -> None:
        """``candidate`` finished ``rung`` with ``score`` (None: it failed there and is never promoted from it)."""
        if rung >= self.rungs:
            return
        self.begun[rung].add(candidate)
        if score is not None:
            self.scores[rung][candidate] = score

    @classmethod
    def rebuilt(cls, rungs: int, eta: int, finished: Iterable[tuple[int, int, float | None]], running: Iterable[tuple[int, int]] = ()) -> SuccessiveHalving:
        """The state after ``finished`` (candidate, rung, score or None) and with ``running`` (candidate, rung) pairs
        started — what a resumed search reads back from its study."""
        halving = cls(rungs, eta)
        for candidate, rung, score in finished:
            halving.scored(candidate, rung, score)
        for candidate, rung in running:
            halving.started(candidate, rung)
        return halving

    # -- what is due ----------------------------------------------------------------------------------
    def ranked(self, rung: int) -> list[int]:
        """The candidates scored at ``rung``, best first (ties: the earlier candidate)."""
        return sorted(self.scores[rung], key=lambda c: (-self.scores[rung][c], c))

    def promotion(self, running: Running) -> tuple[int, int] | None:
        """(candidate, next rung) due now: a candidate in the top ⌊n/η⌋ of the n scored at its rung that has not
        started the next one; higher rungs first. A promotion once decided is never taken back, so a rung may end
        with more than ⌊n/η⌋ of its candidates continued."""
        for rung in range(self.rungs - 2, -1, -1):
            ranked = self.ranked(rung)
            for candidate in ranked[: len(ranked) // self.eta]:
                if candidate not in self.begun[rung + 1] and (candidate, rung + 1) not in running:
                    return candidate, rung + 1
        return None

    def finishing(self, running: Running) -> tuple[int, int] | None:
        """After the budget: until some candidate has a score at the top rung, promote the best candidate of the
        highest rung that has scores, one at a time, so that the pick is always made at the top rung."""
        if self.rungs < 2 or self.scores[-1] or any(r == self.rungs - 1 for _, r in running):
            return None
        if any(rung > 0 for _, rung in running):
            return None  # a promotion is on its way up
        for rung in range(self.rungs - 2, -1, -1):
            for candidate in self.ranked(rung):
                if candidate not in self.begun[rung + 1]:
                    return candidate, rung + 1
            if self.scores[rung]:
                return None
        return None

    def summary(self) -> tuple[str, float | None, int | None]:
        """('n0/n1/...' candidates scored per rung, the best score at the highest rung with scores, that rung)."""
        counts = "/".join(str(len(s)) for s in self.scores)
        for rung in range(self.rungs - 1, -1, -1):
            if self.scores[rung]:
                return counts, max(self.scores[rung].values()), rung
        return counts, None, None
