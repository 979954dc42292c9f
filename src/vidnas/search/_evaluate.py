"""The evaluation of one candidate, as typed records at the executor boundary: the engine builds a
``CandidateTask``, the dispatcher serialises it once (JSON: the same in this process, in a worker process or on
a Ray node), the evaluator (``module:function``, default ``evaluate_payload``) turns it into metrics, and the
engine reads them back once as a ``CandidateResult``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from vidnas.train import Recipe


class CandidateTask(BaseModel):
    """One evaluation. ``genotype``: its JSON form; ``recipe``: how it trains, with the clip geometry (frames,
    size, frame stride) left to the genotype's input, so a space's input-resolution choices are trained as
    specified; ``data`` / ``val``: the search's clip stores (or sources); ``steps``: train to this many steps
    (a rung; None: the recipe's own budget), continuing from ``resume_from`` (the previous rung's checkpoint
    folder) and writing ``checkpoint``; ``latency`` / ``peak_memory``: measure them too (the first rung only);
    ``seeds``: more training seeds — the candidate is also trained with each, from scratch to ``steps``, and
    scored by the mean over all its runs (``evaluate_seeds``; the search's ``top_rung_seeds``)."""

    model_config = ConfigDict(extra="forbid")

    genotype: dict[str, Any]
    recipe: Recipe
    data: Any = None
    val: Any = None
    device: str = "cpu"
    threads: int | None = None
    latency: bool = True
    peak_memory: bool = False
    checkpoint: str | None = None
    steps: int | None = None
    resume_from: str | None = None
    seeds: list[int] = []

    @field_validator("recipe")
    @classmethod
    def _geometry_from_the_genotype(cls, recipe: Recipe) -> Recipe:
        return recipe.model_copy(update={"frame_stride": None, "frames": None, "size": None})

    def payload(self) -> dict[str, Any]:
        """The JSON form an executor carries."""
        return self.model_dump(mode="json")


class CandidateResult(BaseModel):
    """What an evaluation gave: ``status`` ok (with ``accuracy``: top-1, or mAP for multi-label data) or failed
    (with ``reason``: the evaluator's error, a dead worker, a timeout); the metrics the search keeps (declared
    below) and anything else an evaluator reports."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "failed"] = "failed"  # of strategies.STATUSES: how an evaluation ends
    reason: str | None = None
    accuracy: float | None = None
    top1: float | None = None
    top5: float | None = None
    map: float | None = None
    p_true: float | None = None
    val_clips: int | None = None
    val_loss: float | None = None
    train_loss: float | None = None
    train_seconds: float | None = None
    train_gmacs_per_s: float | None = None
    val_seconds: float | None = None
    steps: int | None = None
    planned_steps: int | None = None
    train_fraction: float | None = None
    work_fraction: float | None = None
    params: int | None = None
    macs: int | float | None = None
    latency_ms: float | None = None
    peak_memory_mb: float | None = None
    connection_weights: Any = None
    wall_seconds: float | None = None
    loss_curve: list[Any] | None = None
    seed_accuracies: list[float] | None = None

    @model_validator(mode="after")
    def _accuracy_of_the_task(self) -> CandidateResult:
        """The score: top-1, or mAP for multi-label data (the one place it is derived)."""
        if self.status == "ok" and self.accuracy is None:
            self.accuracy = self.top1 if self.top1 is not None else self.map
        return self

    @classmethod
    def read(cls, raw: dict[str, Any]) -> CandidateResult:
        """The record of an evaluator's (or executor's) JSON result; one that does not fit is a failure that says why."""
        from pydantic import ValidationError

        try:
            result = cls.model_validate(raw)
        except ValidationError as error:
            return cls(reason=f"the evaluator's result does not fit: {error.errors()[0]['loc']}: {error.errors()[0]['msg']}")
        return result

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.accuracy is not None

    def metrics(self) -> dict[str, Any]:
        """The declared metrics that were measured (None left out)."""
        return {k: v for k in METRICS if (v := getattr(self, k)) is not None}


METRICS = tuple(name for name in CandidateResult.model_fields if name not in ("status", "reason"))
"""The metrics a search keeps of every evaluation, in the study."""


MEAN_OVER_SEEDS = ("accuracy", "top1", "top5", "map", "p_true", "val_loss", "train_loss")
SUMMED_OVER_SEEDS = ("train_seconds", "val_seconds", "wall_seconds")


def evaluate_seeds(evaluate: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``evaluate`` on a task's payload once per training seed and combine: the task's own run (its recipe
    seed, checkpoint, resumption and measurements) and, for each of ``seeds``, a run from scratch to the same
    steps with that recipe seed that writes no checkpoint and measures no cost. Scores (accuracy, true-class
    probability, losses) are the mean over the runs and ``seed_accuracies`` lists each; times add up; all else is
    the task's own run's. Any run failing fails the whole. Evaluators see single-seed payloads only."""
    seeds = list(payload.get("seeds") or [])
    own = {k: v for k, v in payload.items() if k != "seeds"}
    first = evaluate(own)
    if not seeds or first.get("status") != "ok":
        return first
    runs = [first]
    for seed in seeds:
        extra = dict(own, recipe=dict(own.get("recipe") or {}, seed=seed), checkpoint=None, resume_from=None, latency=False, peak_memory=False)
        result = evaluate(extra)
        if result.get("status") != "ok":
            return {**result, "reason": f"training seed {seed}: {result.get('reason') or 'failed'}"}
        runs.append(result)
    combined = dict(first)
    for key in MEAN_OVER_SEEDS:
        values = [r.get(key) for r in runs]
        if all(isinstance(v, (int, float)) for v in values):
            combined[key] = sum(values) / len(values)
    for key in SUMMED_OVER_SEEDS:
        values = [r.get(key) for r in runs]
        if all(isinstance(v, (int, float)) for v in values):
            combined[key] = round(sum(values), 4)
    if combined.get("wall_seconds"):
        from vidnas.train._api import time_fractions

        time_fractions(combined)
    combined["seed_accuracies"] = [r.get("accuracy", r.get("top1", r.get("map"))) for r in runs]
    return combined


def evaluate_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The default evaluator: a ``CandidateTask``'s JSON → the JSON of its ``CandidateResult`` (training and
    validation by ``train.evaluate_candidate``, on the search's clip stores)."""
    from vidnas.train._api import evaluate_candidate

    task = CandidateTask.model_validate(payload)
    result = evaluate_candidate(
        task.genotype, task.recipe, data=task.data, val=task.val, latency=task.latency, device=task.device, threads=task.threads,
        peak_memory=task.peak_memory, checkpoint=task.checkpoint, steps=task.steps, resume_from=task.resume_from,
    )
    return CandidateResult.read(result).model_dump(mode="json", exclude_none=True)
