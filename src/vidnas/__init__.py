"""vidnas: automatic design of fast, accurate neural networks for video recognition."""

from vidnas.errors import GenotypeError, MissingDependencyError, VidnasError
from vidnas.genotype import Genotype, load_genotype, parse_genotype

__version__ = "0.1.0"

__all__ = [
    "Genotype",
    "GenotypeError",
    "MissingDependencyError",
    "VidnasError",
    "__version__",
    "build_model",
    "load_genotype",
    "parse_genotype",
]


def build_model(genotype, **kwargs):  # noqa: ANN001, ANN003 - thin re-export, see vidnas.build.build_model
    """Build an ``nn.Module`` from a genotype (imports torch lazily); see :func:`vidnas.build.build_model`."""
    from vidnas.build import build_model as _build

    return _build(genotype, **kwargs)
