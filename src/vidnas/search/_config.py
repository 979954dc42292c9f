"""A search's settings as validated data, stored in the study so that a resumed search is the same search."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vidnas.errors import VidnasError
from vidnas.search._executors import default_workers
from vidnas.train import Recipe


def parse_budget(text: str | int | float) -> tuple[int | None, float | None]:
    """'10m' / '90s' / '1.5h' → (None, seconds); '25' → (25 trials, None)."""
    if isinstance(text, (int, float)):
        return int(text), None
    value = str(text).strip().lower()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?", value)
    if not match:
        raise VidnasError(f"--budget {text!r}: expected a trial count (25) or a duration (90s, 10m, 1.5h)")
    number, unit = float(match.group(1)), match.group(2)
    if unit is None:
        if number != int(number) or number < 1:
            raise VidnasError(f"--budget {text!r}: a trial count must be a positive whole number")
        return int(number), None
    return None, number * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}[unit]


class ConstraintSpec(BaseModel):
    """A resource limit. ``metric``: latency_ms (``source`` measured on the search device, or predicted by a
    calibrated predictor file), macs, params or peak_memory_mb. ``mode``: reject (never trained: the TVN
    patent's rule) or penalty (fitness − ``weight`` × relative excess)."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal["latency_ms", "macs", "params", "peak_memory_mb"] = "latency_ms"
    limit: Annotated[float, Field(gt=0)]
    mode: Literal["reject", "penalty"] = "reject"
    weight: Annotated[float, Field(ge=0)] = 1.0
    source: Literal["measured", "predicted"] = "measured"
    predictor: str | None = None

    @classmethod
    def from_limits(cls, *, latency_ms: float | None = None, macs: float | None = None, params: float | None = None,
                    peak_memory_mb: float | None = None, mode: str = "reject", predictor: str | None = None) -> ConstraintSpec | None:
        """The one limit a user gave (None when none); a predictor file makes a latency limit predicted."""
        given = [(m, v) for m, v in (("latency_ms", latency_ms), ("macs", macs), ("params", params), ("peak_memory_mb", peak_memory_mb)) if v is not None]
        if len(given) > 1:
            raise VidnasError("give one limit (--latency-ms, --max-macs, --max-params or --max-memory-mb)")
        if not given:
            return None
        metric, limit = given[0]
        return cls(metric=metric, limit=limit, mode=mode, source="predicted" if predictor and metric == "latency_ms" else "measured", predictor=predictor)


DEFAULT_LATENCY_MS = 10.0
"""The limit of the ``constrained`` strategy when none is given: batch-1 latency on the search device."""


SEARCH_RECIPE = Recipe(epochs=10_000, batch_size=16, optimizer="adamw", lr=3e-3, weight_decay=0.01, warmup_epochs=0.05, scale=(0.8, 1.0), eval_every=10_000)
"""How every candidate, promotion and final retraining trains: AdamW, batch 16, a cosine schedule that always
completes; the number of steps comes from the rung (``SearchConfig.rungs``), not from epochs or seconds."""


class SearchConfig(BaseModel):
    """A search. ``rungs``: successive halving in training steps — every candidate is screened at the first
    rung, the top 1/``eta`` of each rung continue from their checkpoint to the next, and the pick is made at the
    highest rung (``"auto"``, the default: two rungs chosen from how long the reference networks — the 3D CNN
    baseline, then the family's scaled zoo model — need to leave chance on the search's data, ``_fidelity``; None: one evaluation per candidate with the recipe's own budget). ``final_*``: after the
    budget, the ``final_top_k`` candidates and the baselines are retrained from scratch ``final_seeds`` times
    for ``final_steps`` steps (default: the last rung) with the same recipe and data. ``top_rung_seeds``: how many
    training seeds score a candidate at the highest rung — the run continued from its checkpoint plus runs from
    scratch to the same steps with the next recipe seeds, ranked by their mean (one seed's rank is mostly its
    seed's luck where networks leave chance late; see ``benchmarks/proxy_fidelity.py --rung-seeds``).

    Defaults that depend on other settings: ``constrained`` without a ``constraint`` gets the default
    latency limit (``DEFAULT_LATENCY_MS``; pass ``constraint=None`` for none), ``pareto`` without
    ``objectives`` optimises accuracy, latency and peak memory, and ``workers`` is one per device."""

    model_config = ConfigDict(extra="forbid")

    space: str = "autox3d"
    space_preset: Literal["proxy", "paper"] = "proxy"
    space_options: dict[str, Any] = {}
    strategy: str = "constrained"
    strategy_options: dict[str, Any] = {}
    trials: Annotated[int, Field(ge=1)] | None = None
    seconds: Annotated[float, Field(gt=0)] | None = None
    constraint: ConstraintSpec | None = None
    objectives: list[str] = ["accuracy", "latency_ms"]
    recipe: Recipe = SEARCH_RECIPE
    rungs: list[Annotated[int, Field(ge=1)]] | Literal["auto"] | None = "auto"
    eta: Annotated[int, Field(ge=2)] = 3
    top_rung_seeds: Annotated[int, Field(ge=1)] = 1
    final_retrain: bool = True
    final_top_k: Annotated[int, Field(ge=1)] = 3
    final_seeds: Annotated[int, Field(ge=1)] = 2
    final_steps: Annotated[int, Field(ge=1)] | None = None
    final_baselines: bool = True
    data: str | None = None
    val: str | None = None
    val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    classes: str | None = None
    cache: bool = True
    device: str = "cpu"
    threads: int | None = None
    workers: Annotated[int, Field(ge=1)] | None = None
    executor: Literal["inprocess", "local", "ray"] = "local"
    ray_address: str | None = None
    seed: int = 0
    supernet_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.4
    supernet_steps: Annotated[int, Field(ge=1)] | None = None
    keep_checkpoints: Annotated[int, Field(ge=0)] = 5
    candidate_timeout: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _strategy_defaults(cls, values: Any) -> Any:
        if isinstance(values, dict):
            strategy = values.get("strategy", "constrained")
            if strategy == "constrained" and "constraint" not in values:
                values = {**values, "constraint": ConstraintSpec(limit=DEFAULT_LATENCY_MS)}
            if values.get("objectives") is None:  # not given
                values = {k: v for k, v in values.items() if k != "objectives"}
                if strategy == "pareto":
                    values["objectives"] = ["accuracy", "latency_ms", "peak_memory_mb"]
        return values

    @model_validator(mode="after")
    def _workers(self) -> SearchConfig:
        if self.workers is None:
            self.workers = default_workers(self.device, self.executor)
        return self

    @field_validator("rungs")
    @classmethod
    def _rungs(cls, value: list[int] | str | None) -> list[int] | str | None:
        if isinstance(value, list) and (not value or any(b <= a for a, b in zip(value, value[1:]))):
            raise ValueError(f"rungs must be increasing step counts, e.g. [100, 300]; got {value}")
        return value

    def retrain_steps(self) -> int | None:
        """Steps of the final retraining: ``final_steps``, else the last rung (None: the recipe's own budget;
        rungs still ``"auto"`` are chosen when the search starts, see ``_fidelity``)."""
        return self.final_steps or (self.rungs[-1] if isinstance(self.rungs, list) else None)

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: list[str]) -> list[str]:
        allowed = {"accuracy", "latency_ms", "peak_memory_mb", "macs", "params"}
        bad = [v for v in value if v not in allowed]
        if bad or not value or value[0] != "accuracy":
            raise ValueError(f"objectives must start with 'accuracy' and use {sorted(allowed)}; got {value}")
        return value

    def identity(self) -> dict[str, Any]:
        """What must match for a rerun to continue the same study (budget, workers and executor may change)."""
        keep = ("space", "space_preset", "space_options", "strategy", "strategy_options", "constraint", "objectives", "recipe", "data", "val", "seed",
                "rungs", "eta", "top_rung_seeds") + (("val_fraction",) if self.data is not None and self.val is None else ())
        return self.model_dump(mode="json", include=set(keep))

    def changed_from(self, stored: dict[str, Any]) -> list[str]:
        """The identity settings in which this config differs from a study's stored one (a setting added to the
        identity later counts as its default in studies stored before it)."""
        identity = self.identity()
        return sorted(k for k in identity if stored.get(k, IDENTITY_ADDED.get(k)) != identity[k])


IDENTITY_ADDED = {"top_rung_seeds": 1}
"""Identity settings added after studies were stored, with the value those studies had."""
