"""The model zoo: every published architecture as a shipped genotype, in a timm-style registry."""

from vidnas.zoo._registry import (
    REGISTRY,
    ModelEntry,
    Reference,
    UnknownModelError,
    create_model,
    get_genotype,
    index_rows,
    list_models,
    model_info,
)

__all__ = [
    "REGISTRY",
    "ModelEntry",
    "Reference",
    "UnknownModelError",
    "create_model",
    "get_genotype",
    "index_rows",
    "list_models",
    "model_info",
]
