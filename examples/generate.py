"""Writes the example genotypes of this folder, one per family, from the zoo's published configurations.

    python examples/generate.py

The examples are copies of zoo entries (``vidnas.zoo``), kept here as plain files to read, edit and profile:
``vidnas profile examples/x3d_s.json``. A test checks that they stay equal to the zoo's genotypes.
"""

from __future__ import annotations

from pathlib import Path

from vidnas.genotype import save_genotype
from vidnas.zoo import get_genotype

HERE = Path(__file__).parent
EXAMPLES = ["tvn1", "evanet_arch1_rgb", "assemblenet50", "movinet_a0_stream", "x3d_s"]


def main() -> None:
    for name in EXAMPLES:
        genotype = get_genotype(name)
        save_genotype(genotype, HERE / f"{name}.json")
        print(f"wrote examples/{name}.json ({genotype.fingerprint()})")


if __name__ == "__main__":
    main()
