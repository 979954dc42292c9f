"""Regenerate the zoo's shipped genotype JSON files and index: ``python -m vidnas.zoo.generate``.

The JSON files are the zoo; this only rewrites them from the constructors in ``_families``. A test fails if
the two ever disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidnas.genotype import AnyGenotype, save_genotype
from vidnas.zoo._families import assemblenet, evanet, evanet_ensemble, movinet, tvn, x3d
from vidnas.zoo._registry import REGISTRY

GENOTYPES = Path(__file__).parent / "genotypes"


def construct(name: str) -> AnyGenotype:
    """The genotype of a registry entry, from its family constructor."""
    if name.startswith("tvn"):
        return tvn(name)
    if name == "evanet_ensemble":
        return evanet_ensemble()
    if name.startswith("evanet_arch"):
        _, arch, modality = name.split("_")
        return evanet(int(arch[-1]), modality)
    if name.startswith("assemblenet"):
        plus = name.startswith("assemblenet_plus")
        return assemblenet(int(name.rsplit("plus" if plus else "assemblenet", 1)[1]), peer_attention=plus)
    if name.startswith("movinet"):
        parts = name.split("_")
        return movinet(parts[1], stream=len(parts) == 3)
    if name.startswith("x3d"):
        return x3d(name.split("_")[1])
    raise KeyError(name)


def index_row(name: str, genotype: AnyGenotype) -> dict:
    from vidnas.measure import profile

    result = profile(genotype)
    members = getattr(genotype, "members", [genotype])
    spec = members[0].input
    return {
        "name": name,
        "family": REGISTRY[name].family,
        "frames": spec.frames,
        "size": spec.size[0],
        "frame_stride": spec.frame_stride,
        "streams": sorted({s.name for m in members for s in m.input.streams}),
        "num_classes": members[0].head.num_classes,
        "params": result.parameters.total,
        "params_no_bn": result.parameters.without_batchnorm,
        "macs": result.macs.macs,
        "fingerprint": genotype.fingerprint(),
    }


def main() -> None:
    GENOTYPES.mkdir(exist_ok=True)
    rows = []
    for name in REGISTRY:
        genotype = construct(name)
        genotype.check()
        save_genotype(genotype, GENOTYPES / f"{name}.json")
        rows.append(index_row(name, genotype))
        print(f"{name:22s} {rows[-1]['params'] / 1e6:9.3f} M params {rows[-1]['macs'] / 1e9:9.3f} GMACs")
    (GENOTYPES / "index.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
