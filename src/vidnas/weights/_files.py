"""vidnas weight files: safetensors tensors plus a JSON sidecar, and loading them into a built network.

``NAME.safetensors`` holds the network's state dict under vidnas's own parameter names; ``NAME.json`` beside it
says what the network is and how to feed it: the architecture (its genotype) or the zoo model it belongs to, the
class names or label set, the preprocessing (frames, stride, crop, normalisation), where the weights came from
(a converted file and its SHA-256, or the search run and trial), and — for a network vidnas trained — the recipe,
the data, the validation accuracy with its spread, MACs, parameters, latency per runtime and the comparison with
the baselines it was retrained against. That one file is the unit every command takes (``read_info`` reads it,
and reads vidnas's other trained-network forms as the same record: a training checkpoint, a run folder, a search
folder, a bundle). Nothing here unpickles a file.
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

SIDECAR_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: converted weights without a genotype, recipe or measurements
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


CARD_FIELDS = ("recipe", "data", "metrics", "costs", "comparison")
"""Sidecar sections a network vidnas trained carries besides what converted weights have (see ``WeightsInfo``)."""

FOLDER_TAGS = ("model", "best", "final", "last")
"""The names a trained network has in the folders vidnas writes, looked for in this order: a bundle's ``model``, a
search's (or training run's) ``best``, a search checkpoint's ``final``, a training run's ``last``."""


@dataclass
class WeightsInfo:
    """What a trained network's sidecar says (every field optional for a plain safetensors file).

    ``path``: the tensors (``.safetensors``). ``model``: the zoo model (converted weights) or the genotype's name.
    ``genotype``: the architecture as a JSON object (None for converted zoo weights: the zoo entry is it).
    ``preprocessing``: ``frames``, ``frame_stride``, ``fps``, ``crop`` (H, W), ``mean``, ``std``, ``value_range``.
    ``source``: where the weights came from. ``recipe``/``data``/``metrics``/``costs``/``comparison``: how a
    network vidnas trained was trained, on what, how well, at what cost, against which baselines.
    ``kind``: ``weights`` (a weights file) or ``checkpoint`` (a training checkpoint read as one)."""

    path: Path
    model: str | None = None
    num_classes: int | None = None
    label_set: str | None = None
    class_names: list[str] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    genotype: dict[str, Any] | None = None
    recipe: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    costs: dict[str, Any] | None = None
    comparison: list[dict[str, Any]] | None = None
    kind: str = "weights"

    def require_model(self, name: str) -> None:
        """Refuse these weights for a network other than the one the sidecar names."""
        if self.model is not None and self.model != name:
            raise WeightsError(f"{self.path}: these weights are for {self.model}, not {name}")

    def names(self) -> list[str] | None:
        """Class names in index order: the sidecar's own list, else its shipped label set."""
        if self.class_names:
            return list(self.class_names)
        return labels(self.label_set) if self.label_set else None

    def architecture(self):  # noqa: ANN201 - Genotype | Ensemble
        """The network these weights belong to: the genotype the sidecar carries."""
        from vidnas.genotype import parse_genotype

        if self.genotype is not None:
            return parse_genotype(self.genotype, source=str(sidecar_path(self.path)))
        if self.model is not None:
            raise WeightsError(f"{self.path}: its sidecar names the zoo model {self.model} but carries no genotype (an older vidnas wrote it): "
                               f"give the network with it (--model/MODEL {self.model} --weights {self.path}, or create_model({self.model!r}, "
                               "weights=...)), or convert the checkpoint again")
        raise WeightsError(f"{self.path}: the file does not say which network it belongs to (no sidecar with a genotype): give the network "
                           "too (a zoo name or genotype file, with these as --weights)")

    def as_sidecar(self) -> dict[str, Any]:
        """The sidecar JSON object of these weights (the current version)."""
        out = {"vidnas_weights": SIDECAR_VERSION, "model": self.model, "genotype": self.genotype, "num_classes": self.num_classes,
               "label_set": self.label_set, "class_names": self.class_names, "preprocessing": self.preprocessing, "source": self.source}
        return out | {name: getattr(self, name) for name in CARD_FIELDS if getattr(self, name) is not None}


def _tensors_beside(path: Path) -> tuple[Path, Path]:
    """(tensors, sidecar) of a file named NAME.safetensors, NAME.state.safetensors or NAME.json."""
    name = path.name
    for suffix in (".state.safetensors", ".safetensors", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return path.parent / f"{name}.safetensors", path.parent / f"{name}.json"


def _read_json(path: Path) -> Any:  # noqa: ANN401
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{path}: not a readable JSON sidecar ({error})") from None


def _in_folder(folder: Path) -> Path:
    """The sidecar of the trained network a folder holds (see ``FOLDER_TAGS``)."""
    for tag in FOLDER_TAGS:
        side = folder / f"{tag}.json"
        if side.is_file() and (folder / f"{tag}.safetensors").is_file():
            return side
    if (folder / "study.db").is_file() or (folder / "best.json").is_file():
        raise WeightsError(f"{folder}: a search folder without trained weights (best.safetensors is written once the final retraining has "
                           "finished: resume the search, or use a checkpoint under final/ or pareto/)")
    raise WeightsError(f"{folder}: no trained network here (expected one of {', '.join(t + '.safetensors' for t in FOLDER_TAGS)} "
                       "with its .json sidecar: a bundle, a search folder, a checkpoint or a `vidnas train` run folder)")


def read_info(path: str | Path) -> WeightsInfo:
    """The record of a trained network, from any form vidnas writes one in: a weights file (``.safetensors`` or
    its ``.json`` sidecar), a training checkpoint (``vidnas train``'s ``last``/``best``, a search's ``final``), or
    a folder holding one (see ``FOLDER_TAGS``). A ``.safetensors`` file without a sidecar gives an empty record;
    anything else that is not a trained network is refused, saying what it is."""
    path = Path(path)
    if path.is_dir():
        path = _in_folder(path)
    elif not path.exists():
        raise WeightsError(f"{path}: no such file or folder")
    tensors, side = _tensors_beside(path)
    if not side.is_file():
        if path.suffix == ".json":
            raise WeightsError(f"{path}: not a vidnas weights file or checkpoint (no {tensors.name} beside it)")
        return WeightsInfo(tensors)
    data = _read_json(side)
    if isinstance(data, dict) and "vidnas_weights" in data:
        if data["vidnas_weights"] not in READABLE_VERSIONS:
            raise WeightsError(f"{side}: a vidnas weights sidecar of version {data['vidnas_weights']!r}; this vidnas reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))} (a newer vidnas wrote it?)")
        info = WeightsInfo(tensors, model=data.get("model"), num_classes=data.get("num_classes"), label_set=data.get("label_set"),
                           class_names=data.get("class_names"), preprocessing=data.get("preprocessing") or {}, source=data.get("source") or {},
                           genotype=data.get("genotype"), **{name: data.get(name) for name in CARD_FIELDS})
    elif isinstance(data, dict) and all(key in data for key in ("genotype", "recipe", "class_names")):
        info = _from_checkpoint(tensors, side, data)
    elif isinstance(data, dict) and ("nodes" in data or "members" in data):
        raise WeightsError(f"{side}: a genotype (an architecture without trained weights); train it with `vidnas train {side} --out RUN` "
                           "or give trained weights (a weights file, checkpoint or run folder)")
    else:
        raise WeightsError(f"{side}: not a vidnas weights sidecar (expected a JSON object with \"vidnas_weights\": {SIDECAR_VERSION}, "
                           "or a training checkpoint's sidecar with genotype, recipe and class_names)")
    if not tensors.is_file():
        raise WeightsError(f"{tensors}: missing (its sidecar {side.name} is there; copy both files together)")
    return info


def _from_checkpoint(tensors: Path, side: Path, sidecar: dict[str, Any]) -> WeightsInfo:
    """A training checkpoint's sidecar read as a weights record: the clip geometry the network was trained on
    (the recipe's where it sets one, else the genotype's input) and its normalisation."""
    from vidnas.data import NORMALIZATION

    genotype, recipe = sidecar["genotype"], sidecar.get("recipe") or {}
    spec = (genotype.get("members") or [genotype])[0].get("input") or {}
    size = recipe.get("size") or (spec.get("size") or [None])[0]
    norm = sidecar.get("normalization") or {"mean": list(NORMALIZATION[0]), "std": list(NORMALIZATION[1])}
    preprocessing = {"value_range": [0.0, 1.0], "mean": norm["mean"], "std": norm["std"], "frames": recipe.get("frames") or spec.get("frames"),
                     "frame_stride": recipe.get("frame_stride") or spec.get("frame_stride"), "fps": spec.get("fps"),
                     "crop": [size, size] if size else None, "channels": "RGB"}
    classes = list(sidecar.get("class_names") or [])
    metrics = {k: v for k, v in (sidecar.get("metrics") or {}).items() if isinstance(v, (int, float, str))}
    return WeightsInfo(tensors, model=genotype.get("name"), num_classes=len(classes) or None, class_names=classes or None,
                       preprocessing=preprocessing, source={"checkpoint": str(side), "step": sidecar.get("step"), "epoch": sidecar.get("epoch")},
                       genotype=genotype, recipe=recipe, metrics=metrics, kind="checkpoint")


def save_weights(tensors: dict[str, Any], path: str | Path, *, model: str | None, label_set: str | None = None,
                 class_names: list[str] | None = None, preprocessing: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None, genotype: dict[str, Any] | None = None, **card: Any) -> Path:
    """Write ``tensors`` to ``path`` (safetensors) and the sidecar beside it, each atomically. ``card``: any of
    ``CARD_FIELDS`` (recipe, data, metrics, costs, comparison) for a network vidnas trained."""
    safetensors = optional_import("safetensors.torch", "checkpoints")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise WeightsError(f"{path}: a weights file must end in .safetensors")
    unknown = sorted(set(card) - set(CARD_FIELDS))
    if unknown:
        raise TypeError(f"save_weights: unknown sidecar sections {unknown}; known: {', '.join(CARD_FIELDS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fc = tensors.get(CLASSIFIER + "weight")
    info = WeightsInfo(path, model=model, num_classes=int(fc.shape[0]) if fc is not None else None, label_set=label_set, class_names=class_names,
                       preprocessing=preprocessing or {}, source=source or {}, genotype=genotype, **card)
    temporary = path.with_name(path.name + ".tmp")
    safetensors.save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary))
    os.replace(temporary, path)
    side = sidecar_path(path)
    side_tmp = side.with_name(side.name + ".tmp")
    side_tmp.write_text(json.dumps(info.as_sidecar(), indent=1) + "\n", encoding="utf-8")
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


def load_trained(path: str | Path, *, num_classes: int | None = None, freeze_backbone: bool = False, seed: int | None = None):  # noqa: ANN201 - VidNet | EnsembleNet
    """The trained network at ``path`` (any form :func:`read_info` reads), built from its own genotype (or zoo
    entry) and loaded, every tensor checked; ``model.weights_info`` is its record. With a ``num_classes`` other
    than the file's, the classifier starts fresh (fine-tuning); ``freeze_backbone`` stops everything else."""
    from vidnas.network import build_model

    info = read_info(path)
    genotype = info.architecture()
    if num_classes is not None and num_classes != _classes_of(genotype):
        genotype = genotype.with_num_classes(num_classes)
    model = build_model(genotype, seed=seed)
    model.weights_report = load_weights(model, info.path, freeze_backbone=freeze_backbone)
    model.weights_info = info
    return model


def _classes_of(genotype: Any) -> int:  # noqa: ANN401
    return (genotype.members[0] if hasattr(genotype, "members") else genotype).head.num_classes
