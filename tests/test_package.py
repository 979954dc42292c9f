"""Package hygiene: a light core import, lazy optional dependencies with install hints."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from vidnas._imports import optional_import
from vidnas.errors import MissingDependencyError


def test_core_import_does_not_load_optional_dependencies() -> None:
    code = (
        "import sys, vidnas, vidnas.network, vidnas.measure, vidnas.cli;"
        "print(','.join(m for m in ('ray', 'optuna', 'av', 'cv2', 'onnx', 'onnxruntime', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_missing_optional_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None):  # noqa: ANN202
        if name.split(".")[0] == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(MissingDependencyError, match=r"ray is needed for scale-out but is not installed: install vidnas\[dist\]"):
        optional_import("ray", "scale-out")


def test_unknown_module_suggests_pip() -> None:
    with pytest.raises(MissingDependencyError, match="pip install no_such_module_vidnas"):
        optional_import("no_such_module_vidnas")


def test_present_module_is_returned() -> None:
    assert optional_import("json").dumps([1]) == "[1]"
