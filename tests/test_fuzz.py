"""Fuzzing the front doors: malformed and mutated genotype JSON (wrong types, missing and unknown fields, huge
values, cycles, unknown ops, deep nesting), recipes and search configs. Whatever comes in, the outcome is a valid
object or one clear error (``GenotypeError`` naming the path, for genotypes) — never a traceback from deep
inside, a hang or an attempt to allocate a huge network."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from vidnas import build_model
from vidnas.cli import app
from vidnas.errors import GenotypeError, VidnasError
from vidnas.genotype import parse_genotype
from vidnas.search import SearchConfig
from vidnas.train import Recipe

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEEDS = {name: json.loads((EXAMPLES / f"{name}.json").read_text()) for name in ("x3d_s", "tvn1", "movinet_a0_stream", "evanet_arch1_rgb", "assemblenet50")}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], derandomize=True)

junk = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["conv", "nope", "3d", "relu", "", "in", "node1", "-1", "1e309"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:  # noqa: ANN401
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += _paths(value, prefix + (index,))
    return out


def _set(data: Any, path: tuple, value: Any) -> Any:  # noqa: ANN401
    if not path:
        return value
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return data


def _delete(data: Any, path: tuple) -> Any:  # noqa: ANN401
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return data


@st.composite
def mutated_genotypes(draw: st.DrawFn) -> Any:  # noqa: ANN401
    data = copy.deepcopy(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "unknown_key", "huge", "cycle", "unknown_op", "nest"]))
        target = data
        for key in path:
            target = target[key]
        if action == "replace":
            data = _set(data, path, draw(junk))
        elif action == "delete" and path:
            data = _delete(data, path)
        elif action == "unknown_key" and isinstance(target, dict):
            target[draw(st.sampled_from(["bogus", "kernel_size", "Out"]))] = draw(junk)
        elif action == "huge" and isinstance(target, (int, float)) and not isinstance(target, bool):
            data = _set(data, path, draw(st.sampled_from([10**6, 2**31, 2**40, 10**30, -(2**31), 0])))
        elif action == "cycle" and isinstance(data, dict) and data.get("nodes"):
            nodes = data["nodes"]
            if isinstance(nodes, list) and nodes and all(isinstance(n, dict) for n in nodes):
                names = [n.get("name") for n in nodes]
                nodes[0]["inputs"] = [names[-1]]  # the first node reads the last: a cycle (or a self-loop)
        elif action == "unknown_op" and isinstance(target, dict) and "op" in target:
            target["op"] = draw(st.sampled_from(["conv4d", "attention9", "", "CONV"]))
        elif action == "nest" and path:
            value = target
            for _ in range(draw(st.integers(5, 60))):
                value = {"op": "residual", "body": [value]} if draw(st.booleans()) else [value]
            data = _set(data, path, value)
    return data


def _clear(error: GenotypeError) -> None:
    assert error.issues and all(isinstance(p, str) and isinstance(m, str) and m for p, m in error.issues)
    assert "Traceback" not in str(error) and len(str(error)) < 2000


@FUZZ
@given(mutated_genotypes())
def test_mutated_genotypes_are_valid_or_one_clear_error(data: Any) -> None:  # noqa: ANN401
    try:
        genotype = parse_genotype(data)
    except GenotypeError as error:
        _clear(error)
        return
    try:
        model = build_model(genotype)
    except GenotypeError as error:  # e.g. a network too large to build
        _clear(error)
        return
    assert sum(p.numel() for p in model.parameters()) > 0


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_arbitrary_text_is_not_a_genotype_and_says_so(text: str) -> None:
    try:
        parse_genotype(text)
    except GenotypeError as error:
        _clear(error)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_genotypes())
def test_vidnas_validate_reports_a_bad_file_without_a_traceback(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:  # noqa: ANN401
    path = tmp_path_factory.mktemp("fuzz") / "g.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code:
        assert str(path) in result.stderr or "g.json" in result.stderr


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(Recipe.model_fields)), junk, max_size=4))
def test_recipes_and_search_configs_are_valid_or_a_validation_error(settings_: dict[str, Any]) -> None:
    for model in (Recipe, SearchConfig):
        fields = settings_ if model is Recipe else {"recipe": settings_, "rungs": settings_.get("epochs"), "val_fraction": settings_.get("lr")}
        try:
            model.model_validate(fields)
        except ValidationError:
            pass


def test_search_ingests_only_genotypes_of_its_space() -> None:
    from vidnas.spaces import make_space

    space = make_space("tvn", 4)
    bad = copy.deepcopy(SEEDS["x3d_s"])
    with pytest.raises(GenotypeError):
        space.validate(bad)
    with pytest.raises(GenotypeError):
        space.validate({"nodes": "not a list"})
    with pytest.raises((GenotypeError, VidnasError)):
        space.validate({"frames": 8})  # a values dict missing every other choice


def test_a_huge_repeat_count_is_refused_not_looped_over() -> None:
    """Found by the fuzzer (a hypothesis upgrade drew it): a TVN block with 2**31 repeats used to be expanded unit
    by unit — a hang, since each unit is small enough for the weight guard. Counts that drive loops are bounded."""
    data = copy.deepcopy(SEEDS["tvn1"])
    block = next(layer for node in data["nodes"] for layer in node["layers"] if layer.get("op") == "tvn_block")
    block["repeats"] = 2**31
    with pytest.raises(GenotypeError, match=r"repeats.*(64|less than or equal)"):
        parse_genotype(data)
