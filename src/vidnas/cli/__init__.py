"""The ``vidnas`` command line: genotypes, zoo, data, training, streaming, export, search and reports.

One module per command group registers its commands on the one application (``_app``); ``_inputs`` reads
what the user points at (models, weights, sources, option forms) and ``_render`` lays results out as tables."""

from __future__ import annotations

# the groups register their commands in this order, the order of `vidnas --help`
from vidnas.cli import _genotype, _inference, _train, _zoo, _data, _search, _weights, _latency  # noqa: F401, I001
from vidnas.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
