"""Converting a published checkpoint for a zoo model: the zoo entry says which network, family, normalisation
and label set; ``vidnas.weights`` reads the file without unpickling, maps its naming onto the network's (one mapping
per source format) and writes the weights file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidnas.weights import CLASSIFIER, WeightsError, map_checkpoint, read_source, resolve_format, save_weights
from vidnas.zoo._registry import REGISTRY, UnknownModelError, create_model, get_genotype


@dataclass
class Conversion:
    """The outcome of :func:`convert`."""

    out: Path
    model: str
    format: str
    tensors: int
    unused: list[str]
    num_classes: int


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert(src: str | Path, model: str, out: str | Path, *, fmt: str | None = None) -> Conversion:
    """Convert a published checkpoint for zoo model ``model`` into ``out`` (safetensors + JSON sidecar carrying the
    genotype, label set, preprocessing and the source file's SHA-256)."""
    import torch

    src = Path(src)
    if model not in REGISTRY:
        raise UnknownModelError(f"unknown zoo model {model!r} (see `vidnas zoo`)")
    entry = REGISTRY[model]
    source, container = read_source(src)
    where = str(src)
    source_format = resolve_format(source, where, fmt)
    if source_format.family != entry.family:
        raise WeightsError(f"{where}: a {source_format.description} checkpoint cannot be converted for {model} (a {entry.family} model)")
    classes = source_format.classes(source)
    network = create_model(model, num_classes=classes)
    target = {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}
    converted, unused = map_checkpoint(source, target, where, source_format, family=entry.family)
    genotype = get_genotype(model)
    spec = genotype.members[0].input if hasattr(genotype, "members") else genotype.input
    mean, std = entry.normalization.get("rgb", ((0.0,) * 3, (1.0,) * 3))
    preprocessing = {"value_range": [0.0, 1.0], "mean": list(mean), "std": list(std), "frames": spec.frames,
                     "frame_stride": spec.frame_stride, "fps": spec.fps, "crop": list(spec.size), "channels": "RGB"}
    label_set = entry.labels if classes == entry.label_count else None
    tensors = {k: torch.from_numpy(np.array(v, order="C")) for k, v in converted.items()}  # ascontiguousarray makes scalars 1-d
    path = save_weights(tensors, out, model=model, genotype=json.loads(network.genotype.to_json(indent=None)), label_set=label_set,
                        preprocessing=preprocessing, source={"file": src.name, "sha256": _sha256(src), "format": source_format.name,
                                                             "container": container, "description": source_format.description})
    return Conversion(out=path, model=model, format=source_format.name, tensors=len(tensors), unused=unused,
                      num_classes=int(tensors[CLASSIFIER + "weight"].shape[0]))
