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
    "create_model",
    "list_models",
    "load_genotype",
    "parse_genotype",
]


def build_model(genotype, **kwargs):  # noqa: ANN001, ANN003 - thin re-export, see vidnas.network.build_model
    """Build an ``nn.Module`` from a genotype (imports torch lazily); see :func:`vidnas.network.build_model`."""
    from vidnas.network import build_model as _build

    return _build(genotype, **kwargs)


def create_model(name: str, num_classes: int | None = None, **overrides):  # noqa: ANN003, ANN201
    """A network by zoo name (see :func:`vidnas.zoo.create_model`), or the trained network at a path — a search
    folder (its best), a weights file, a checkpoint, a ``vidnas train`` run folder or a bundle — built from its
    own genotype with its weights loaded (``num_classes`` other than its own: a fresh classifier for fine-tuning;
    ``freeze_backbone``, ``seed``); see :func:`vidnas.weights.load_trained`."""
    from pathlib import Path

    from vidnas.zoo import REGISTRY

    if name not in REGISTRY and (Path(name).exists() or name.endswith((".safetensors", ".json")) or "/" in name):
        from vidnas.weights import load_trained

        unknown = sorted(set(overrides) - {"freeze_backbone", "seed"})
        if unknown:
            raise TypeError(f"create_model({name!r}): a trained network takes num_classes, freeze_backbone and seed, not {', '.join(unknown)}")
        return load_trained(name, num_classes=num_classes, **overrides)
    from vidnas.zoo import create_model as _create

    return _create(name, num_classes, **overrides)


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Zoo model names matching a shell-style pattern; see :func:`vidnas.zoo.list_models`."""
    from vidnas.zoo import list_models as _list

    return _list(pattern, family)
