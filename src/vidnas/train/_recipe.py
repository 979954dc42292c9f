"""A training recipe: every setting of a run, as validated, JSON-serialisable data (stored with checkpoints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vidnas.errors import VidnasError

PositiveInt = Annotated[int, Field(ge=1)]


class Recipe(BaseModel):
    """How to train. ``epochs`` bounds the run; ``max_steps`` / ``max_seconds`` cut it shorter (proxy
    training of search candidates); the LR schedule spans whichever bound is smallest in steps. ``frames``,
    ``size`` and ``frame_stride`` left unset mean the genotype's input (X3D-M reads every fifth frame).
    ``channels_last`` (default) trains in channels-last 3D memory, where oneDNN serves depthwise and grouped
    convs fast on CPU (with ``vidnas.ops.fastconv``'s backward: ``benchmarks/train_speed.py``)."""

    model_config = ConfigDict(extra="forbid")

    epochs: PositiveInt = 10
    max_steps: PositiveInt | None = None
    max_seconds: Annotated[float, Field(gt=0)] | None = None
    batch_size: PositiveInt = 8
    optimizer: Literal["sgd", "adamw", "rmsprop"] = "sgd"
    lr: Annotated[float, Field(gt=0)] = 0.05
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    weight_decay: Annotated[float, Field(ge=0)] = 5e-5
    warmup_epochs: Annotated[float, Field(ge=0)] = 1.0
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    grad_clip: Annotated[float, Field(gt=0)] | None = None
    ema_decay: Annotated[float, Field(gt=0, lt=1)] | None = None
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    frames: PositiveInt | None = None
    size: PositiveInt | None = None
    frame_stride: PositiveInt | None = None
    hflip: bool = False
    scale: tuple[float, float] = (0.5, 1.0)
    num_workers: Annotated[int, Field(ge=0)] = 0
    eval_views: tuple[PositiveInt, PositiveInt] = (1, 1)
    eval_every: PositiveInt = 1
    seed: int = 0

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def load_recipe(path: str | Path | None = None, *, default: Recipe | None = None, overrides: dict[str, Any] | None = None) -> Recipe:
    """A recipe: the JSON file at ``path`` (else ``default``, else ``Recipe()``) with ``overrides`` on top; a bad
    file or value is one ``VidnasError`` naming the file and the field."""
    from vidnas.genotype._io import errors_from_validation

    if path is None:
        settings = (default or Recipe()).model_dump()
    else:
        try:
            settings = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise VidnasError(f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
        if not isinstance(settings, dict):
            raise VidnasError(f"{path}: a recipe is a JSON object of settings, got {type(settings).__name__}")
    try:
        return Recipe.model_validate({**settings, **(overrides or {})})
    except ValidationError as error:
        problems = "; ".join(f"{field or '<recipe>'}: {message}" for field, message in errors_from_validation(error))
        raise VidnasError(f"{path or 'recipe options'}: {problems}") from None
