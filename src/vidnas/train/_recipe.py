"""A training recipe: every setting of a run, as validated, JSON-serialisable data (stored with checkpoints)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(ge=1)]


class Recipe(BaseModel):
    """How to train. ``epochs`` bounds the run; ``max_steps`` / ``max_seconds`` cut it shorter (proxy
    training of search candidates); the LR schedule spans whichever bound is smallest in steps. ``frames``,
    ``size`` and ``frame_stride`` left unset mean the genotype's input (X3D-M reads every fifth frame)."""

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
    channels_last: bool = False
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
