"""Shared fixtures: the example genotypes shipped in examples/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EXAMPLE_NAMES = ["tvn1", "evanet_arch1_rgb", "assemblenet50", "movinet_a0_stream", "x3d_s"]


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture(params=EXAMPLE_NAMES)
def example_path(request: pytest.FixtureRequest) -> Path:
    return EXAMPLES / f"{request.param}.json"


@pytest.fixture(scope="session")
def search_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One VIDNAS_HOME for the whole run: the built-in search data store is generated once, not in ~/.cache."""
    return tmp_path_factory.mktemp("vidnas-home")


@pytest.fixture(scope="session", autouse=True)
def _vidnas_home(search_home: Path):  # noqa: ANN202 - a generator fixture
    """No test writes generated data or clip caches into the user's ~/.cache: VIDNAS_HOME is the session's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIDNAS_HOME", str(search_home))
        yield
