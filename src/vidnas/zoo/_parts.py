"""What several families share: the input streams and TF's truncated-normal correction."""

from __future__ import annotations

from vidnas.genotype import Stream

RGB = Stream(name="rgb", modality="rgb", channels=3)
FLOW = Stream(name="flow", modality="flow", channels=2)

# TF / Keras draw truncated normals rescaled by 1/0.87962566 so the variance stays gain/fan; as our std is
# sqrt(gain/fan) before truncation, the rescaling is a larger gain.
TRUNCATION_CORRECTION = 0.87962566103423978**2
