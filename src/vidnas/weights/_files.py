"""vidnas weight files: safetensors tensors plus a JSON sidecar, and loading them into a built network.

``NAME.safetensors`` holds the network's state dict under vidnas's own parameter names; ``NAME.json`` beside it
says where the weights came from (source file, its format and SHA-256), which zoo model they belong to, the label
set and the preprocessing the weights were trained with. Nothing here unpickles a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from vidnas._imports import optional_import
from vidnas.errors import VidnasError

SIDECAR_VERSION = 1
CLASSIFIER = "head.fc."
LABEL_SETS = ("kinetics400", "kinetics600")


class WeightsError(VidnasError):
    """A weights file is missing, not in a known format, or does not fit the network."""


def labels(name: str) -> list[str]:
    """The class names of a shipped label set (``kinetics400``, ``kinetics600``), in class-index order."""
    if name not in LABEL_SETS:
        raise WeightsError(f"unknown label set {name!r}; shipped: {', '.join(LABEL_SETS)}")
    text = resources.files("vidnas.weights").joinpath("labels", f"{name}.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


@dataclass
class WeightsInfo:
    """What a weights file's sidecar says (every field optional for a plain safetensors file)."""

    path: Path
    model: str | None = None
    num_classes: int | None = None
    label_set: str | None = None
    class_names: list[str] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    def require_model(self, name: str) -> None:
        """Refuse these weights for a network other than the one the sidecar names."""
        if self.model is not None and self.model != name:
            raise WeightsError(f"{self.path}: these weights are for {self.model}, not {name}")

    def names(self) -> list[str] | None:
        """Class names in index order: the sidecar's own list, else its shipped label set."""
        if self.class_names:
            return list(self.class_names)
        return labels(self.label_set) if self.label_set else None


def read_info(path: str | Path) -> WeightsInfo:
    """The sidecar of a weights file (an empty record when there is none)."""
    path = Path(path)
    side = sidecar_path(path)
    if not side.is_file():
        return WeightsInfo(path)
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise WeightsError(f"{side}: not a readable JSON sidecar ({error})") from None
    if not isinstance(data, dict) or data.get("vidnas_weights") != SIDECAR_VERSION:
        raise WeightsError(f"{side}: not a vidnas weights sidecar (expected a JSON object with \"vidnas_weights\": {SIDECAR_VERSION})")
    return WeightsInfo(path, model=data.get("model"), num_classes=data.get("num_classes"), label_set=data.get("label_set"),
                       class_names=data.get("class_names"), preprocessing=data.get("preprocessing") or {}, source=data.get("source") or {})


def save_weights(tensors: dict[str, Any], path: str | Path, *, model: str | None, label_set: str | None = None,
                 class_names: list[str] | None = None, preprocessing: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None) -> Path:
    """Write ``tensors`` to ``path`` (safetensors) and the sidecar beside it, each atomically."""
    safetensors = optional_import("safetensors.torch", "checkpoints")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: a weights file must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    fc = tensors.get(CLASSIFIER + "weight")
    sidecar = {
        "vidnas_weights": SIDECAR_VERSION,
        "model": model,
        "num_classes": int(fc.shape[0]) if fc is not None else None,
        "label_set": label_set,
        "class_names": class_names,
        "preprocessing": preprocessing or {},
        "source": source or {},
    }
    temporary = path.with_name(path.name + ".tmp")
    safetensors.save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary))
    os.replace(temporary, path)
    side = sidecar_path(path)
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    os.replace(side_tmp, side)
    return path


def read_weights(path: str | Path) -> dict[str, Any]:
    """The tensors of a vidnas weights file; anything that is not safetensors is refused unread."""
    safetensors = optional_import("safetensors.torch", "checkpoints")
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        return safetensors.load_file(str(path))
    except Exception as error:  # noqa: BLE001 - SafetensorError and friends: the file is not safetensors
        first = str(error).splitlines()[0] if str(error) else ""
        raise WeightsError(f"{path}: not a safetensors file ({type(error).__name__}: {first}); vidnas loads weights only from "
                           "safetensors (convert published checkpoints with `vidnas weights convert`) and never unpickles a file") from None


@dataclass
class LoadReport:
    """What :func:`load_weights` did: tensors loaded, and whether the classifier was left freshly initialised."""

    loaded: int
    new_head: bool
    frozen: int = 0

    def describe(self) -> str:
        head = "a new classifier (the file's has a different class count)" if self.new_head else "the file's classifier"
        frozen = f"; {self.frozen} backbone tensors frozen" if self.frozen else ""
        return f"{self.loaded} tensors loaded, {head}{frozen}"


def load_weights(model: Any, path: str | Path, *, new_head: bool | None = None, freeze_backbone: bool = False) -> LoadReport:  # noqa: ANN401
    """Load a vidnas weights file into ``model`` (a built network), every tensor checked.

    Every key of the network must be in the file with the same shape, and the file may hold nothing else; the
    first key that breaks this is named with both shapes. The classifier (``head.fc``) is the exception: when its
    shape differs (fine-tuning on a different class count) it keeps its fresh initialisation, which is allowed
    unless ``new_head=False``. ``freeze_backbone``: every loaded tensor outside the classifier stops training.
    """
    tensors = read_weights(path)
    own = model.state_dict()
    head_differs = any(k.startswith(CLASSIFIER) and k in tensors and tuple(tensors[k].shape) != tuple(v.shape) for k, v in own.items())
    if head_differs and new_head is False:
        key = next(k for k, v in own.items() if k.startswith(CLASSIFIER) and k in tensors and tuple(tensors[k].shape) != tuple(v.shape))
        raise WeightsError(f"{path}: {key} has shape {tuple(tensors[key].shape)} in the file but {tuple(own[key].shape)} in the network "
                           "(a different class count: pass new_head=True / --new-head to train a new classifier)")
    skip = {k for k in own if k.startswith(CLASSIFIER)} if head_differs else set()
    for key, value in own.items():
        if key in skip:
            continue
        if key not in tensors:
            if key.endswith("num_batches_tracked"):
                continue
            raise WeightsError(f"{path}: the network's {key} {tuple(value.shape)} is not in the file "
                               f"(the file holds {len(tensors)} tensors: is it for another model?)")
        if tuple(tensors[key].shape) != tuple(value.shape):
            raise WeightsError(f"{path}: {key} has shape {tuple(tensors[key].shape)} in the file but {tuple(value.shape)} in the network")
    extra = [k for k in tensors if k not in own and not k.startswith(CLASSIFIER)]
    if extra:
        raise WeightsError(f"{path}: {extra[0]} {tuple(tensors[extra[0]].shape)} is in the file but not in the network "
                           f"({len(extra)} such tensors: is it for another model?)")
    load = {k: v for k, v in tensors.items() if k in own and k not in skip}
    model.load_state_dict(load, strict=False)
    frozen = 0
    if freeze_backbone:
        import torch

        for name, parameter in model.named_parameters():
            if not name.startswith(CLASSIFIER):
                parameter.requires_grad_(False)
                frozen += 1
        for module in model.modules():  # the loaded BatchNorm statistics stay as they are, too
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.momentum = 0.0
    return LoadReport(loaded=len(load), new_head=head_differs, frozen=frozen)
