"""The command line: each command's output, JSON contract, and one-line errors with non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vidnas.cli import app

EXAMPLES = Path(__file__).parents[1] / "examples"
runner = CliRunner()


def test_profile_json_of_every_example(example_path: Path) -> None:
    result = runner.invoke(app, ["profile", str(example_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"params", "params_no_bn", "macs", "flops", "input_shape"} <= set(data)
    assert data["flops"] == 2 * data["macs"] and data["params"] > data["params_no_bn"] > 0
    assert "latency_ms" not in data


def test_profile_overrides_and_latency() -> None:
    result = runner.invoke(
        app, ["profile", str(EXAMPLES / "x3d_s.json"), "--frames", "4", "--size", "64", "--batch", "2", "--threads", "1", "--latency", "--runs", "2", "--warmup", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["input_shape"] == [2, 3, 4, 64, 64]
    assert data["latency_ms"] > 0 and data["latency"]["threads"] == 1 and data["latency"]["runs"] == 2


def test_profile_table_states_the_convention() -> None:
    result = runner.invoke(app, ["profile", str(EXAMPLES / "x3d_s.json")])
    assert result.exit_code == 0
    assert "3,762,858" in result.stdout and "1,962,892,112" in result.stdout
    assert "multiply-accumulates" in result.stdout


def test_validate_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"input": {"frames": 0, "size": 8}, "nodes": [], "head": {"num_classes": 2}}))
    result = runner.invoke(app, ["validate", str(EXAMPLES / "tvn1.json"), str(bad)])
    assert result.exit_code == 1
    assert "ok" in result.stdout and "tvn1" in result.stdout
    assert f"{bad}: input.frames: must be >= 1" in result.stderr
    assert f"{bad}: nodes: must have at least 1 items" in result.stderr


def test_show_prints_nodes_and_json() -> None:
    table = runner.invoke(app, ["show", str(EXAMPLES / "assemblenet50.json")])
    assert table.exit_code == 0
    assert "node14" in table.stdout and "2048x32x7x7" in table.stdout and "0.989" in table.stdout
    as_json = runner.invoke(app, ["show", str(EXAMPLES / "assemblenet50.json"), "--json"])
    assert json.loads(as_json.stdout) == json.loads((EXAMPLES / "assemblenet50.json").read_text())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "no/such.json"], "no/such.json: no such file"),
        (["profile", str(EXAMPLES / "x3d_s.json"), "--device", "tpu"], "--device must be 'cpu' or 'cuda"),
        (["show", str(EXAMPLES)], "no trained network here"),
    ],
)
def test_errors_are_one_line_without_traceback(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 2  # rich may wrap a long line once


def test_debug_shows_the_traceback() -> None:
    result = runner.invoke(app, ["--debug", "profile", "no/such.json"])
    assert result.exit_code != 0 and result.exception is not None


def test_installed_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vidnas.cli", "profile", str(EXAMPLES / "movinet_a0_stream.json"), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["params"] == 3748031


def test_a_genotype_file_is_streamed_and_calibrated_with_the_normalisation_it_was_trained_with() -> None:
    import inspect

    from vidnas.cli._inputs import normalization as _normalization
    from vidnas.data import NORMALIZATION, CachedClips, VideoClips

    assert _normalization("examples/movinet_a0_stream.json") == (list(NORMALIZATION[0]), list(NORMALIZATION[1]))
    assert _normalization("movinet_a0_stream") == ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0])  # a zoo model: its published one (TF MoViNet)
    for clips in (VideoClips, CachedClips):  # what training reads clips with by default
        parameters = inspect.signature(clips.__init__).parameters
        assert (tuple(parameters["mean"].default), tuple(parameters["std"].default)) == NORMALIZATION


def test_search_without_options_is_the_config_defaults() -> None:
    """`vidnas search`'s defaults are SearchConfig's: no option of the command decides one by itself."""
    from vidnas.cli._search import search_config
    from vidnas.search import DEFAULT_LATENCY_MS, ConstraintSpec, SearchConfig

    given = search_config()
    assert given.model_dump(exclude={"seconds"}) == SearchConfig().model_dump(exclude={"seconds"})
    assert given.seconds == 600 and given.trials is None
    assert given.constraint == ConstraintSpec(limit=DEFAULT_LATENCY_MS)  # constrained without a limit: the default one
    assert SearchConfig(strategy="constrained", constraint=None).constraint is None  # none, when asked for
    assert SearchConfig(strategy="evolution").constraint is None
    assert search_config(strategy="pareto").objectives == ["accuracy", "latency_ms", "peak_memory_mb"]
    assert search_config(strategy="pareto", objectives="accuracy,macs").objectives == ["accuracy", "macs"]
    assert search_config(max_macs=5e7).constraint == ConstraintSpec(metric="macs", limit=5e7)
    assert search_config(latency_ms=8, predictor="p.json").constraint.source == "predicted"
    assert search_config(rungs="off").rungs is None and search_config(rungs="50,150").rungs == [50, 150]
    assert search_config(epochs=3).recipe == SearchConfig().recipe.model_copy(update={"epochs": 3})


def test_search_options_are_checked_before_anything_runs(tmp_path: Path) -> None:
    runner = CliRunner()
    for args, message in ((["--latency-ms", "5", "--max-macs", "1e7"], "give one limit"), (["--rungs", "100,x"], "--rungs '100,x': expected whole numbers"),
                          (["--final-retrain", "maybe"], "expected on or off"), (["--strategy-option", "population"], "expected KEY=VALUE")):
        result = runner.invoke(app, ["search", "--out", str(tmp_path / "s"), *args])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert not (tmp_path / "s").exists()
