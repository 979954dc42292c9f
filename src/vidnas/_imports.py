"""Lazy imports of optional dependencies, with an 'install vidnas[extra]' message when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from vidnas.errors import MissingDependencyError

# module name -> extra of vidnas that installs it
EXTRAS: dict[str, str] = {
    "av": "video",
    "cv2": "video",
    "optuna": "search",
    "ray": "dist",
    "onnx": "export",
    "onnxruntime": "export",
    "onnxscript": "export",
    "matplotlib": "report",
    "safetensors": "train",
}


def optional_import(module: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise MissingDependencyError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        extra = EXTRAS.get(top)
        hint = f'install vidnas[{extra}] (pip install "vidnas[{extra}]")' if extra else f"pip install {top}"
        need = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(f"{top} is needed{need} but is not installed: {hint}") from error
