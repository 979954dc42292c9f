"""The model zoo: every published architecture as a shipped genotype, in a timm-style registry.

One module per family (``tvn``, ``evanet``, ``assemblenet``, ``movinet``, ``x3d``) holds its keyword-only
``create_*`` parts (which the family's search space builds its candidates from too), its published
configurations, their constructors and, beside them, their registry entries with the reference numbers.
Adding a model is one ``register(ModelEntry(..., build=...))`` there and ``python -m vidnas.zoo.generate``.
"""

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
    register,
)

# isort: off
from vidnas.zoo import tvn, evanet, assemblenet, movinet, x3d  # noqa: F401 - registers the entries, in this (the registry's) order
# isort: on

from vidnas.zoo._convert import Conversion, convert  # noqa: E402 - after the families: it reads the registry

__all__ = [
    "Conversion",
    "REGISTRY",
    "ModelEntry",
    "Reference",
    "UnknownModelError",
    "convert",
    "create_model",
    "get_genotype",
    "index_rows",
    "list_models",
    "model_info",
    "register",
]
