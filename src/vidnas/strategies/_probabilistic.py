"""Probabilistic NAS (PARSEC, reference movinet-x3d-autox3d.md §4; Auto-X3D §3.3): a factorised categorical
distribution p(α|π) = Π_m Cat(α_m | softmax(θ_m)) over the space's choices.

Without shared weights every sampled architecture is trained on its own (a trial) and, after every ``samples``
(K) finished trials, θ moves along Σ_k ω_k ∇_θ log p(α_k|π) = Σ_k ω_k (onehot(α_k) − π), with self-normalised
importance weights ω = softmax(reward / temperature) (the reward is the trial's fitness; PARSEC's ω is the
normalised likelihood of the data — with a per-trial accuracy instead, ``temperature`` sets how sharply the
best of the K samples dominates). With shared weights (``shared_weights=True``, spaces that offer a
``supernet()``) a weight-sharing supernet is trained first, alternating weight steps on training batches and θ
steps on validation batches with ω = softmax of the mini-batch log-likelihoods, exactly PARSEC's estimator;
the trials that follow train the most probable architecture and samples of the learned distribution.
"""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

from vidnas.errors import GenotypeError, VidnasError
from vidnas.spaces import SearchSpace
from vidnas.strategies._base import Proposal, Strategy, TrialRecord


def softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


class ProbabilisticNAS(Strategy):
    name = "parsec"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int = 0,
        budget: int | None = None,
        samples: int = 4,
        lr: float = 1.0,
        temperature: float = 0.05,
        shared_weights: bool = False,
        supernet: dict[str, Any] | None = None,
        seeds: bool = False,
    ):
        super().__init__(space, seed=seed, budget=budget, seeds=seeds)
        self.samples, self.lr, self.temperature = samples, lr, temperature
        self.shared_weights = shared_weights
        self.supernet_options = dict(supernet or {})
        if shared_weights and not hasattr(space, "supernet"):
            raise VidnasError(f"the {space.name} space has no weight-sharing supernet (available for: autox3d); run parsec without shared weights")
        self.logits = [np.zeros(len(c.options)) for c in space.choices()]
        self.buffer: list[TrialRecord] = []
        self.supernet_history: list[dict[str, Any]] = []

    @property
    def needs_supernet(self) -> bool:
        return self.shared_weights

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "samples": self.samples, "lr": self.lr, "temperature": self.temperature, "shared_weights": self.shared_weights}

    def probabilities(self) -> dict[str, list[float]]:
        return {c.name: softmax(theta).round(6).tolist() for c, theta in zip(self.space.choices(), self.logits)}

    def set_logits(self, logits: list[list[float]]) -> None:
        self.logits = [np.asarray(row, dtype=float) for row in logits]

    def entropy(self) -> float:
        return float(sum(-(p * np.log(p + 1e-12)).sum() for p in map(softmax, self.logits)))

    def argmax_indices(self) -> list[int]:
        return [int(np.argmax(theta)) for theta in self.logits]

    def sample_indices(self, rng: random.Random) -> list[int]:
        out = []
        for theta in self.logits:
            p = softmax(theta)
            u, acc, pick = rng.random(), 0.0, len(p) - 1
            for i, pi in enumerate(p):
                acc += pi
                if u < acc:
                    pick = i
                    break
            out.append(pick)
        return out

    def ask(self, number: int, rng: random.Random) -> Proposal:
        if number < len(self.seed_genotypes):
            return Proposal(self.seed_genotypes[number], origin="seed")
        if self.shared_weights and number == len(self.seed_genotypes):
            try:
                return Proposal(self.space.validate(self.space.from_indices(self.argmax_indices())), origin="argmax")
            except GenotypeError:
                pass
        for _ in range(self.space.max_tries):
            try:
                return Proposal(self.space.validate(self.space.from_indices(self.sample_indices(rng))), origin="distribution")
            except GenotypeError:
                continue
        return Proposal(self.space.sample(rng), origin="random")

    def tell(self, record: TrialRecord) -> None:
        again = self.told(record.number)  # a promoted candidate's higher rung: its sample was already weighed
        super().tell(record)
        if record.status == "rejected" or again:
            return
        self.buffer.append(record)
        if len(self.buffer) >= self.samples:
            self.update(self.buffer)
            self.buffer = []

    def update(self, batch: list[TrialRecord]) -> None:
        finite = [r.score for r in batch if math.isfinite(r.score)]
        floor = min(finite) if finite else 0.0
        rewards = np.array([r.score if math.isfinite(r.score) else floor - 1.0 for r in batch])
        weights = softmax(rewards / self.temperature)
        indices = [self.space.to_indices(r.genotype) for r in batch]
        self.step(indices, weights, self.lr)

    def step(self, indices: list[list[int]], weights: np.ndarray, lr: float) -> None:
        for m, theta in enumerate(self.logits):
            p = softmax(theta)
            gradient = np.zeros_like(theta)
            for w, sample in zip(weights, indices):
                onehot = np.zeros_like(theta)
                onehot[sample[m]] = 1.0
                gradient += w * (onehot - p)
            self.logits[m] = theta + lr * gradient

    # -- weight sharing ------------------------------------------------------------------------------
    def search_supernet(self, train_data: Any, val_data: Any, *, seconds: float | None = None, steps: int | None = None,
                        progress: Any = None, state_dir: Any = None) -> dict[str, Any]:
        from vidnas.strategies._supernet import run_supernet_search

        summary = run_supernet_search(self, train_data, val_data, seconds=seconds, steps=steps, progress=progress, state_dir=state_dir, **self.supernet_options)
        self.supernet_history = summary.get("history", [])
        return summary
