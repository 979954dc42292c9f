"""The model registry: every published architecture by name, with its input, paper and reference numbers.

Entries are declared beside their constructors, in the family modules (``vidnas.zoo.tvn``, ``.evanet``,
``.assemblenet``, ``.movinet``, ``.x3d``), with ``register``; the registry reads the shipped JSON those
constructors generate (``python -m vidnas.zoo.generate``).
"""

from __future__ import annotations

import difflib
import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from vidnas.errors import VidnasError
from vidnas.genotype import AnyGenotype, Ensemble, parse_genotype

REF_EVA = "shared/reference/evanet-tvn-assemblenet.md"
REF_MOV = "shared/reference/movinet-x3d-autox3d.md"


UNIT = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
FLOW_UNIT = ((0.0, 0.0), (1.0, 1.0))


class UnknownModelError(VidnasError, KeyError):
    """No registry entry has that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


@dataclass(frozen=True)
class Reference:
    """Published or derived numbers an entry must reproduce, and where they come from.

    ``params``: all parameters, BatchNorm included; ``params_no_bn``: without BN affine parameters;
    ``macs``: multiply-accumulates of conv and linear layers at ``frames`` × ``size``². ``exact``: the number
    is an exact oracle (compare at the published rounding) rather than a derived figure (compare within 1%).
    """

    frames: int
    size: int
    source: str
    params: float | None = None
    params_no_bn: float | None = None
    macs: float | None = None
    exact: bool = False
    note: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One registry entry: the genotype file plus what a user needs to use and trust it."""

    name: str
    family: str
    paper: str
    reference: Reference
    normalization: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=lambda: {"rgb": UNIT})
    results: str = ""
    labels: str | None = None  # the label set of the published weights (vidnas.weights.labels), None: none published
    weights: str = ""  # where published weights for this entry are, and in which format (`vidnas weights convert`)
    build: Callable[[], AnyGenotype] | None = field(default=None, repr=False, compare=False)  # the family constructor

    @property
    def label_count(self) -> int | None:
        return {"kinetics400": 400, "kinetics600": 600}.get(self.labels or "")

    def genotype(self) -> AnyGenotype:
        """The shipped genotype (the JSON file ``build`` generated)."""
        return _load(self.name)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: input, normalization, paper, reference and published results."""
        genotype = self.genotype()
        members = genotype.members if isinstance(genotype, Ensemble) else [genotype]
        spec = members[0].input
        ref = self.reference
        return {
            "name": self.name,
            "family": self.family,
            "paper": self.paper,
            "input": {
                "frames": spec.frames,
                "size": list(spec.size),
                "frame_stride": spec.frame_stride,
                "fps": spec.fps,
                "streams": sorted({s.name for m in members for s in m.input.streams}),
            },
            "normalization": {k: {"mean": list(v[0]), "std": list(v[1])} for k, v in self.normalization.items()},
            "num_classes": members[0].head.num_classes,
            "reference": {
                "frames": ref.frames,
                "size": ref.size,
                "params": ref.params,
                "params_no_bn": ref.params_no_bn,
                "macs": ref.macs,
                "exact": ref.exact,
                "source": ref.source,
                "note": ref.note,
            },
            "results": self.results,
            "published_weights": {"labels": self.labels, "where": self.weights} if self.weights else None,
        }


REGISTRY: dict[str, ModelEntry] = {}
"""Every entry by name, in registration order (the family modules register theirs when ``vidnas.zoo`` is imported)."""


def register(entry: ModelEntry) -> ModelEntry:
    """Add a zoo entry (called by the family modules beside the constructor that builds it)."""
    if entry.name in REGISTRY:
        raise ValueError(f"zoo entry {entry.name!r} is registered twice")
    if entry.build is None:
        raise ValueError(f"zoo entry {entry.name!r} has no constructor")
    REGISTRY[entry.name] = entry
    return entry



@lru_cache(maxsize=None)
def _load(name: str) -> AnyGenotype:
    text = resources.files("vidnas.zoo").joinpath("genotypes", f"{name}.json").read_text(encoding="utf-8")
    return parse_genotype(text, source=f"vidnas/zoo/genotypes/{name}.json")


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Registry names matching a shell-style ``pattern`` (and ``family``), in registry order."""
    return [n for n, e in REGISTRY.items() if fnmatch.fnmatchcase(n, pattern) and (family is None or e.family == family)]


def model_info(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name raises with the closest names."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `vidnas zoo list` shows them all"
        raise UnknownModelError(f"no model named {name!r} in the zoo{hint}")
    return REGISTRY[name]


def get_genotype(name: str, *, num_classes: int | None = None, frames: int | None = None, size: int | None = None) -> AnyGenotype:
    """The genotype of a registry entry, optionally with another class count or input."""
    genotype = model_info(name).genotype()
    if num_classes is not None:
        genotype = genotype.with_num_classes(num_classes)
    return genotype.with_input(frames=frames, size=size)


def create_model(
    name: str,
    num_classes: int | None = None,
    *,
    frames: int | None = None,
    size: int | None = None,
    seed: int | None = None,
    dropout: float | None = None,
    weights: str | Path | None = None,
    freeze_backbone: bool = False,
):  # noqa: ANN201 - VidNet | EnsembleNet
    """Build a zoo model: ``vidnas.create_model("x3d_m", num_classes=10)``.

    Overrides: ``num_classes`` (default: the weights' class count, else that of the entry's reference numbers),
    ``frames``/``size`` (the input the model is built for), ``seed`` (reproducible initial weights), ``dropout``
    (head dropout). ``weights``: a vidnas weights file (``vidnas weights convert``) loaded into the network, every
    tensor checked; with a ``num_classes`` other than the file's, the classifier starts fresh (fine-tuning) and
    ``freeze_backbone`` stops everything else from training. The loaded file's sidecar is kept as
    ``model.weights_info`` (label names via ``model.weights_info.names()``).
    """
    from vidnas.network import build_model

    info = None
    if weights is not None:
        from vidnas.weights import read_info

        info = read_info(weights)
        info.require_model(name)
        if num_classes is None:
            num_classes = info.num_classes
    elif freeze_backbone:
        raise ValueError("freeze_backbone needs weights to freeze")
    genotype = get_genotype(name, num_classes=num_classes, frames=frames, size=size)
    if dropout is not None:
        members = genotype.members if isinstance(genotype, Ensemble) else [genotype]
        updated = [m.model_copy(update={"head": m.head.model_copy(update={"dropout": dropout})}) for m in members]
        genotype = genotype.model_copy(update={"members": updated}) if isinstance(genotype, Ensemble) else updated[0]
    model = build_model(genotype, seed=seed)
    if weights is not None:
        from vidnas.weights import load_weights

        model.weights_report = load_weights(model, info.path, freeze_backbone=freeze_backbone)
        model.weights_info = info
    return model


def index_rows() -> list[dict[str, Any]]:
    """name, family, input, params and MACs of every entry at its default input, from the shipped index."""
    text = resources.files("vidnas.zoo").joinpath("genotypes", "index.json").read_text(encoding="utf-8")
    return json.loads(text)
