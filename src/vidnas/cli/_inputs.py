"""What commands read from the user: a model (zoo name or genotype file) with its weights and normalisation,
a data source, and the ``KEY=VALUE`` / comma-list option forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from vidnas.cli._app import errors
from vidnas.errors import VidnasError


def load(source: str):  # noqa: ANN201 - Genotype | Ensemble
    """A genotype from a JSON file path or a zoo model name."""
    from vidnas.genotype import load_genotype
    from vidnas.zoo import REGISTRY, get_genotype, model_info

    path = Path(source)
    if path.exists() or source.endswith(".json") or "/" in source:
        return load_genotype(path)
    if source in REGISTRY:
        return get_genotype(source)
    model_info(source)  # raises with the closest names
    raise AssertionError("unreachable")  # pragma: no cover


def load_network(source: str, weights: Optional[str], seed: int = 0):  # noqa: ANN201 - (network, WeightsInfo | None)
    """The network of a zoo name or genotype file, with a vidnas weights file loaded when given (every tensor
    checked; see `vidnas weights convert`)."""
    from vidnas.network import build_model

    genotype = load(source)
    network = build_model(genotype, seed=seed)
    if weights is None:
        return network, None
    from vidnas.weights import load_weights, read_info

    info = read_info(weights)
    info.require_model(genotype.name)
    if info.num_classes is not None and info.num_classes != genotype.head.num_classes:
        network = build_model(genotype.with_num_classes(info.num_classes), seed=seed)
    report = load_weights(network, weights, new_head=False)
    errors.print(f"[dim]weights {weights}: {report.describe()}[/]", highlight=False)
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
