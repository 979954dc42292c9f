"""Regenerate the zoo's shipped genotype JSON files and index: ``python -m vidnas.zoo.generate``.

The JSON files are the zoo; this only rewrites them from the family constructors each entry registers. A test fails if
the two ever disagree.
"""

from __future__ import annotations

import json
from pathlib import Path

from vidnas.genotype import AnyGenotype, save_genotype
from vidnas.zoo import REGISTRY, model_info

GENOTYPES = Path(__file__).parent / "genotypes"


def construct(name: str) -> AnyGenotype:
    """The genotype of a registry entry, from its family constructor."""
    build = model_info(name).build
    assert build is not None  # register() refuses an entry without one
    return build()


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
