"""Checkpoints without pickle: weights and optimizer tensors in safetensors, everything else in a JSON sidecar.

A checkpoint ``<dir>/<tag>`` is three files written in this order, each atomically:
``<tag>.safetensors`` (model weights), ``<tag>.state.safetensors`` (optimizer tensors, RNG state, EMA
weights) and ``<tag>.json`` (genotype, recipe, metrics, class names, input spec, vidnas version, epoch, step,
optimizer and scheduler settings). The sidecar comes last, so a checkpoint with a sidecar is complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidnas import __version__
from vidnas._imports import optional_import
from vidnas.errors import VidnasError


class CheckpointError(VidnasError):
    """A checkpoint is missing, incomplete or not a vidnas checkpoint."""


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    safetensors = optional_import("safetensors.torch", "checkpoints")
    temporary = path.with_name(path.name + ".tmp")
    safetensors.save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary))
    os.replace(temporary, path)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    safetensors = optional_import("safetensors.torch", "checkpoints")
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (an incomplete checkpoint?)")
    try:
        return safetensors.load_file(str(path))
    except Exception as error:  # noqa: BLE001 - SafetensorError and friends: the file is not safetensors
        raise CheckpointError(f"{path}: not a safetensors file ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                              "vidnas reads weights only as safetensors and never unpickles a file") from None


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        plain["state"][str(index)] = {}
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value
            else:
                plain["state"][str(index)][name] = value
    return tensors, plain


def _join_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def save_checkpoint(
    directory: str | Path,
    tag: str,
    *,
    model: nn.Module,
    genotype_json: str,
    recipe_json: str,
    class_names: list[str],
    metrics: dict[str, Any],
    epoch: int,
    step: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    ema: nn.Module | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _save_tensors(dict(model.state_dict()), directory / f"{tag}.safetensors")
    state: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, value in enumerate(torch.cuda.get_rng_state_all()):
            state[f"rng.cuda.{index}"] = value
    plain_optimizer = None
    if optimizer is not None:
        tensors, plain_optimizer = _split_optimizer(optimizer.state_dict())
        state.update(tensors)
    if ema is not None:
        state.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    _save_tensors(state, directory / f"{tag}.state.safetensors")
    sidecar = {
        "vidnas_version": __version__,
        "genotype": json.loads(genotype_json),
        "recipe": json.loads(recipe_json),
        "class_names": class_names,
        "metrics": metrics,
        "epoch": epoch,
        "step": step,
        "optimizer": plain_optimizer,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        **(extra or {}),
    }
    temporary = directory / f"{tag}.json.tmp"
    temporary.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    os.replace(temporary, directory / f"{tag}.json")
    return directory / f"{tag}.json"


def read_sidecar(path: str | Path) -> tuple[Path, str, dict[str, Any]]:
    """(directory, tag, sidecar) of a checkpoint given as its .json, .safetensors, or a run folder (its 'last')."""
    path = Path(path)
    if path.is_dir():
        path = path / "last.json"
    name = path.name
    for suffix in (".state.safetensors", ".safetensors", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    sidecar_path = path.parent / f"{name}.json"
    if not sidecar_path.is_file():
        raise CheckpointError(f"{sidecar_path}: no checkpoint sidecar here (train with `vidnas train --out DIR` first)")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{sidecar_path}: not valid JSON ({error.msg})") from None
    for key in ("genotype", "recipe", "class_names"):
        if key not in sidecar:
            raise CheckpointError(f"{sidecar_path}: not a vidnas checkpoint sidecar (no '{key}')")
    return path.parent, name, sidecar


def load_weights(directory: Path, tag: str, model: nn.Module) -> None:
    missing, unexpected = model.load_state_dict(_load_tensors(directory / f"{tag}.safetensors"), strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{directory / tag}.safetensors does not fit the genotype: missing {missing[:3]}, unexpected {unexpected[:3]}")


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor (momenta) its parameter's memory layout. safetensors stores tensors
    contiguous, so a channels-last parameter came back with NCDHW momenta; the fused optimizers walk parameter and
    state memory in step, and paired the wrong elements (a resumed run drifted from the uninterrupted one)."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for name, value in optimizer.state.get(parameter, {}).items():
                if isinstance(value, torch.Tensor) and value.shape == parameter.shape and value.stride() != parameter.stride():
                    optimizer.state[parameter][name] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def load_training_state(
    directory: Path, tag: str, sidecar: dict[str, Any], optimizer: torch.optim.Optimizer, scheduler: Any, ema: nn.Module | None
) -> None:
    tensors = _load_tensors(directory / f"{tag}.state.safetensors")
    if sidecar.get("optimizer") is not None:
        optimizer.load_state_dict(_join_optimizer(tensors, sidecar["optimizer"]))
        _match_parameter_layouts(optimizer)
    if scheduler is not None and sidecar.get("scheduler") is not None:
        scheduler.load_state_dict(sidecar["scheduler"])
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    if ema is not None:
        ema.load_state_dict({k[len("ema.") :]: v for k, v in tensors.items() if k.startswith("ema.")})
