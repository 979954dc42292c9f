"""The model registry: every published architecture by name, with its input, paper and reference numbers."""

from __future__ import annotations

import difflib
import fnmatch
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vidnas.errors import VidnasError
from vidnas.genotype import AnyGenotype, Ensemble, parse_genotype

REF_EVA = "shared/reference/evanet-tvn-assemblenet.md"
REF_MOV = "shared/reference/movinet-x3d-autox3d.md"

PAPERS = {
    "tvn": "Piergiovanni, Angelova, Ryoo. Tiny Video Networks. arXiv 1910.06961 (2019)",
    "evanet": "Piergiovanni, Angelova, Toshev, Ryoo. Evolving Space-Time Neural Architectures for Videos. ICCV 2019",
    "assemblenet": "Ryoo, Piergiovanni, Tan, Angelova. AssembleNet. ICLR 2020",
    "assemblenet++": "Ryoo, Piergiovanni, Kangaspunta, Angelova. AssembleNet++. ECCV 2020",
    "movinet": "Kondratyuk et al. MoViNets: Mobile Video Networks for Efficient Video Recognition. CVPR 2021",
    "x3d": "Feichtenhofer. X3D: Expanding Architectures for Efficient Video Recognition. CVPR 2020",
}

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

    @property
    def label_count(self) -> int | None:
        return {"kinetics400": 400, "kinetics600": 600}.get(self.labels or "")

    def genotype(self) -> AnyGenotype:
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


def _entries() -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    tvn_numbers = {  # [derived] §2.8: total params, conv+FC MACs, input
        "tvn1": (26.04e6, 4.33e9, 2, 224, "37 ms CPU / 10 ms GPU per clip (blog)"),
        "tvn2": (109.06e6, 34.6e9, 2, 256, "65 ms CPU / 13 ms GPU per clip (blog)"),
        "tvn3": (67.24e6, 53.6e9, 8, 160, ""),
        "tvn4": (43.30e6, 25.9e9, 8, 128, ""),
        "tvn_mobile1": (7.33e6, 5.35e9, 2, 224, ""),
        "tvn_mobile2": (5.51e6, 5.03e9, 2, 224, ""),
    }
    for name, (params, macs, frames, size, results) in tvn_numbers.items():
        entries.append(
            ModelEntry(
                name, "tvn", PAPERS["tvn"],
                Reference(frames, size, f"{REF_EVA} §2.8 [derived from the released config]", params=params, macs=macs,
                          note="derived under the released-code semantics; the paper's own table is not accessible"),
                results=results,
            )
        )
    eva = {1: 32.80e6, 2: 40.30e6}
    for arch, params in eva.items():
        for modality in ("rgb", "flow"):
            entries.append(
                ModelEntry(
                    f"evanet_arch{arch}_{modality}", "evanet", PAPERS["evanet"],
                    Reference(32, 224, f"{REF_EVA} §1.8 [derived from the released DNA]", params=params,
                              note="RGB and flow members differ only in the stem's input channels; MACs not published"),
                    normalization={modality: ((0.5,) * 3, (0.5,) * 3) if modality == "rgb" else FLOW_UNIT},
                    results="top-1 individual evolved model 76.4% Kinetics-400 (paper)",
                )
            )
    entries.append(
        ModelEntry(
            "evanet_ensemble", "evanet", PAPERS["evanet"],
            Reference(32, 224, f"{REF_EVA} §1.8-1.9 [derived: the four members' totals]", params=2 * (32.80e6 + 40.30e6)),
            normalization={"rgb": ((0.5,) * 3, (0.5,) * 3), "flow": FLOW_UNIT},
            results="77.2% Kinetics-400 top-1 (released 4-model ensemble)",
        )
    )
    asn_note = "derived: ≈{} GMACs per frame at 224² excluding Representation Flow"
    entries += [
        ModelEntry(
            "assemblenet50", "assemblenet", PAPERS["assemblenet"],
            Reference(32, 224, f"{REF_EVA} §3.13 [derived]", params=36.9e6, macs=7.8e9 * 32, note=asn_note.format(7.8)),
            normalization={"rgb": UNIT, "flow": FLOW_UNIT},
            results="Charades 58.6% mAP, Moments-in-Time 34.27% top-1 (AssembleNet, paper)",
        ),
        ModelEntry(
            "assemblenet101", "assemblenet", PAPERS["assemblenet"],
            Reference(32, 224, f"{REF_EVA} §3.13 [derived]", params=53.1e6, macs=12.4e9 * 32, note=asn_note.format(12.4)),
            normalization={"rgb": UNIT, "flow": FLOW_UNIT},
            results="Charades 58.6% mAP attributed to AssembleNet-101 (PapersWithCode)",
        ),
        ModelEntry(
            "assemblenet_plus50", "assemblenet", PAPERS["assemblenet++"],
            Reference(32, 224, f"{REF_EVA} §3.8", note=(
                "no published or derived parameter or MAC count exists for AssembleNet++ (its tables are UNCONFIRMED); "
                "vidnas's own count is the AssembleNet-50 backbone plus peer-attention dense layers")),
            normalization={"rgb": UNIT, "flow": FLOW_UNIT},
        ),
    ]
    movinet_numbers = {  # [computed] §1.10, 600 classes: base params, stream params, base GMACs, stream GMACs
        "a0": (3.112e6, 3.748e6, 2.63e9, 2.43e9, "72.28 / 72.05"),
        "a1": (4.690e6, 6.447e6, 5.87e9, 5.54e9, "76.69 / 76.45"),
        "a2": (5.250e6, 7.327e6, 11.56e9, 10.70e9, "78.62 / 78.40"),
        "a3": (7.398e6, 10.987e6, 55.59e9, 52.13e9, "81.79 / 80.09"),
        "a4": (11.349e6, 18.136e6, 103.34e9, 96.74e9, "83.48 / 81.49"),
        "a5": (18.651e6, 31.496e6, 276.33e9, 261.71e9, "84.27 / 82.37"),
        "t0": (1.727e6, None, 0.87e9, None, "68.40 / -"),
    }
    inputs = {"a0": (50, 172), "a1": (50, 172), "a2": (50, 224), "a3": (120, 256), "a4": (80, 290), "a5": (120, 320), "t0": (25, 160)}
    a2_note = (
        "the paper / README give 10.3 / '10' GFLOPs for A2, the released spec computes to 11.56 G: vidnas pins "
        "the released spec (the authors changed the architectures after the paper, see Atze00/MoViNet-pytorch #14)"
    )
    for variant, (base_params, stream_params, base_macs, stream_macs, top1) in movinet_numbers.items():
        frames, size = inputs[variant]
        base_top1, stream_top1 = top1.split(" / ")
        entries.append(
            ModelEntry(
                f"movinet_{variant}", "movinet", PAPERS["movinet"],
                Reference(frames, size, f"{REF_MOV} §1.10 [computed from the released spec]", params=base_params, macs=base_macs,
                          note=a2_note if variant == "a2" else ""),
                results=f"Kinetics-600 top-1 {base_top1}% (released checkpoint, 1 clip)",
                labels="kinetics600" if variant != "t0" else None,
                weights=f"tensorflow/models official/projects/movinet: movinet_{variant}_base.tar.gz (TF checkpoint)" if variant != "t0" else "",
            )
        )
        if stream_params is not None:
            entries.append(
                ModelEntry(
                    f"movinet_{variant}_stream", "movinet", PAPERS["movinet"],
                    Reference(frames, size, f"{REF_MOV} §1.10 [computed from the released spec]", params=stream_params, macs=stream_macs),
                    results=f"Kinetics-600 top-1 {stream_top1}% (released checkpoint, streaming)",
                    labels="kinetics600",
                    weights=f"tensorflow/models official/projects/movinet: movinet_{variant}_stream.tar.gz (TF checkpoint)",
                )
            )
    x3d_numbers = {  # §2.5: params total, params without BN, GMACs at the train crop
        "xs": (3.794e6, 3.763e6, 0.605e9, 4, 160, "68.7% (SlowFast zoo, 10 views)"),
        "s": (3.794e6, 3.763e6, 1.963e9, 13, 160, "73.3% (30 views)"),
        "m": (3.794e6, 3.763e6, 4.732e9, 16, 224, "76.0% (30 views)"),
        "l": (6.153e6, 6.087e6, 18.368e9, 16, 312, "77.5% (30 views)"),
        "xl": (11.096e6, 11.000e6, 35.838e9, 16, 312, "79.1% (30 views)"),
    }
    for variant, (params, params_no_bn, macs, frames, size, top1) in x3d_numbers.items():
        entries.append(
            ModelEntry(
                f"x3d_{variant}", "x3d", PAPERS["x3d"],
                Reference(frames, size, f"{REF_MOV} §2.5 (published params without BN and conv+FC MACs)", params=params,
                          params_no_bn=params_no_bn, macs=macs, exact=True,
                          note="XL uses divisor-8 width rounding, the only rounding that reproduces the paper" if variant == "xl" else ""),
                normalization={"rgb": ((0.45,) * 3, (0.225,) * 3)},
                results=f"Kinetics-400 top-1 {top1}",
                labels="kinetics400" if variant != "xl" else None,
                weights=(f"PyTorchVideo model zoo X3D_{variant.upper()}.pyth or PySlowFast x3d_{variant}.pyth" if variant != "xl" else ""),
            )
        )
    return entries


REGISTRY: dict[str, ModelEntry] = {entry.name: entry for entry in _entries()}


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

        model.weights_report = load_weights(model, weights, freeze_backbone=freeze_backbone)
        model.weights_info = info
    return model


def index_rows() -> list[dict[str, Any]]:
    """name, family, input, params and MACs of every entry at its default input, from the shipped index."""
    text = resources.files("vidnas.zoo").joinpath("genotypes", "index.json").read_text(encoding="utf-8")
    return json.loads(text)
