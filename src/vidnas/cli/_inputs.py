"""What commands read from the user: a network (zoo name, genotype file or trained network) with its weights and
normalisation, a data source, and the ``KEY=VALUE`` / comma-list option forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from vidnas.cli._app import errors
from vidnas.errors import VidnasError


def trained(source: str):  # noqa: ANN201 - WeightsInfo | None
    """The record of ``source`` when it is a trained network (a weights file or its sidecar, a checkpoint, a run,
    search or bundle folder), else None (a zoo name or a genotype file)."""
    from vidnas.weights import read_info

    path = Path(source)
    if path.is_dir() or path.suffix == ".safetensors":
        return read_info(path)
    if path.suffix == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # the genotype loader words the problem
        if isinstance(data, dict) and ("vidnas_weights" in data or ("recipe" in data and "genotype" in data)):
            return read_info(path)
    return None


def load(source: str):  # noqa: ANN201 - Genotype | Ensemble
    """A genotype from a zoo model name, a genotype JSON file, or a trained network (its own genotype)."""
    from vidnas.genotype import load_genotype
    from vidnas.zoo import REGISTRY, get_genotype, model_info

    info = trained(source)
    if info is not None:
        return info.architecture()
    path = Path(source)
    if path.exists() or source.endswith(".json") or "/" in source:
        return load_genotype(path)
    if source in REGISTRY:
        return get_genotype(source)
    model_info(source)  # raises with the closest names
    raise AssertionError("unreachable")  # pragma: no cover


def load_network(source: str, weights: Optional[str], seed: int = 0):  # noqa: ANN201 - (network, WeightsInfo | None)
    """The network of ``source`` with its trained weights: a trained network (weights file, checkpoint, run,
    search or bundle folder) as it is, or the architecture of ``source`` (a zoo name, a genotype file, or a trained
    network's own) with ``weights`` (any of those forms) loaded into it — every tensor checked; random weights
    (``seed``) when there are none."""
    from vidnas.network import build_model
    from vidnas.weights import load_weights, read_info

    info = trained(source)
    genotype = load(source)
    if weights is not None:  # these weights in the architecture of ``source`` (a trained one lends its genotype)
        info = read_info(weights)
        info.require_model(genotype.name)
    if info is None:
        return build_model(genotype, seed=seed), None
    if info.num_classes is not None and info.num_classes != genotype.head.num_classes:
        genotype = genotype.with_num_classes(info.num_classes)
    network = build_model(genotype, seed=seed)
    report = load_weights(network, info.path, new_head=False)
    errors.print(f"[dim]weights {info.path}: {report.describe()}[/]", highlight=False)
    return network, info


def normalization(source: str, info: Any = None, stream: str = "rgb") -> tuple[list[float], list[float]]:
    """The input normalisation of a network: its weights file's (``info``) when it records one, else the zoo
    model's published one, else (a genotype file) the one `vidnas train` trains it with."""
    from vidnas.data import NORMALIZATION
    from vidnas.zoo import REGISTRY

    if info is not None and "mean" in info.preprocessing:
        return list(info.preprocessing["mean"]), list(info.preprocessing["std"])
    if source in REGISTRY and stream in REGISTRY[source].normalization:
        mean, std = REGISTRY[source].normalization[stream]
        return list(mean), list(std)
    return list(NORMALIZATION[0]), list(NORMALIZATION[1])


def data_source(src: str, root: Optional[str], classes: Optional[str]):  # noqa: ANN201 - Source
    """A labelled video source (class folders or an annotation list)."""
    from vidnas.data import load_source

    return load_source(src, root=root, classes=classes)


def int_list(text: str, flag: str) -> list[int]:
    """``100,300`` → [100, 300]; anything else is an error naming ``flag``."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise VidnasError(f"{flag} {text!r}: expected whole numbers separated by commas, e.g. 100,300") from None


def options(pairs: list[str], flag: str) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` options (VALUE as JSON when it parses, else the text) → a dict."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise VidnasError(f"{flag} {pair!r}: expected KEY=VALUE (VALUE as JSON, e.g. population=16 or widths=[[8,16]])")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
