"""The evaluation function of a search: genotype + recipe → metrics, a pure function of its JSON payload, so it
runs the same in this process, in a worker process or on a Ray node."""

from __future__ import annotations

from typing import Any


def evaluate_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """payload: genotype (dict), recipe (dict), data, val, device, threads, peak_memory, checkpoint, steps (train to
    this many steps: a rung), resume_from (the previous rung's checkpoint folder to continue).
    The clip sampling follows the genotype's input (frames, size, frame stride), so input-resolution choices
    of a space are trained as they are specified."""
    from vidnas.train import Recipe
    from vidnas.train._api import evaluate_candidate

    genotype = payload["genotype"]
    recipe = Recipe.model_validate(payload["recipe"])
    recipe = recipe.model_copy(update={"frame_stride": None, "frames": None, "size": None})
    result = evaluate_candidate(
        genotype, recipe, data=payload.get("data"), val=payload.get("val"), latency=payload.get("latency", True),
        device=payload.get("device", "cpu"), threads=payload.get("threads"), peak_memory=payload.get("peak_memory", False),
        checkpoint=payload.get("checkpoint"), steps=payload.get("steps"), resume_from=payload.get("resume_from"),
    )
    if result.get("status") == "ok":
        result["accuracy"] = result.get("top1") if result.get("top1") is not None else result.get("map")
    return result
