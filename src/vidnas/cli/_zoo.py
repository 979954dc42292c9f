"""The model zoo: ``vidnas zoo list`` and ``vidnas zoo info``."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from vidnas.cli._app import console, friendly_errors, group
from vidnas.cli._render import zoo_table


zoo_app = group("zoo", "The model zoo: published architectures by name.")


@zoo_app.command("list")
@friendly_errors
def zoo_list(
    pattern: str = typer.Argument("*", help="Shell-style name pattern, e.g. 'movinet_*_stream'."),
    family: Optional[str] = typer.Option(None, "--family", help="tvn, evanet, assemblenet, movinet or x3d."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """Every zoo model: family, default input, parameters and MACs at that input."""
    from vidnas.zoo import index_rows, list_models

    names = set(list_models(pattern, family))
    rows = [row for row in index_rows() if row["name"] in names]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    console.print(zoo_table(rows))
    console.print(f"{len(rows)} models. MACs: conv + linear multiply-accumulates at the default input.", highlight=False)


@zoo_app.command("info")
@friendly_errors
def zoo_info(name: str = typer.Argument(..., help="Zoo model name.")) -> None:
    """A zoo model's paper, input, normalisation, reference numbers and their source (JSON)."""
    from vidnas.genotype._types import dumps_compact
    from vidnas.zoo import model_info

    sys.stdout.write(dumps_compact(model_info(name).summary()) + "\n")
