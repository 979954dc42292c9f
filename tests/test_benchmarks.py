"""The benchmarks' own arithmetic: what they report must follow from the searches they ran."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vidnas.search._study import StoredTrial

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str):  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trial(told: int, candidate: int, rung: int, fitness: float) -> StoredTrial:
    return StoredTrial(number=told, status="ok", genotype=object(), fingerprint=None, fitness=fitness,
                       attrs={"told": told, "candidate": candidate, "rung": rung})


def test_anytime_pick_includes_the_promotions_after_each_screening():
    """After k screenings the pick is made from everything told before the next screening; the last point is the
    search's answer, after its final promotions (it once missed them)."""
    anytime = _module("search_quality").anytime
    trials = [_trial(0, 0, 0, 0.5), _trial(1, 1, 0, 0.9), _trial(2, 1, 1, 0.6), _trial(3, 3, 0, 0.8), _trial(4, 3, 1, 0.7)]
    quality = {0: 0.1, 1: 0.2, 3: 0.3}
    curve = anytime(trials, lambda t: quality[t.attrs["candidate"]])
    assert curve == [0.1, 0.2, 0.3]
    assert anytime([t for t in trials if t.attrs["rung"] == 0], lambda t: quality[t.attrs["candidate"]]) == [0.1, 0.2, 0.2]
    rejected = StoredTrial(number=5, status="rejected", genotype=None, fingerprint=None, fitness=None, attrs={"told": 5})
    assert anytime([rejected], lambda t: 0.0) == []


def test_tabulate_pairs_by_seed():
    tabulate = _module("search_quality").tabulate
    curves = {"random": [[0.5, 0.6], [0.7, 0.7]], "evolution": [[0.5, 0.8], [0.7, 0.8]]}
    _, table = tabulate(curves, [2], seeds_done=2)
    assert abs(table["evolution"][2]["minus_random"] - 0.15) < 1e-12
    assert abs(table["evolution"][2]["minus_random_se"] - 0.05) < 1e-12  # differences 0.2 and 0.1


def test_train_speed_table_reports_speedups_against_the_same_run():
    """Speed-ups are plain ÷ vidnas of one row; group lines are medians over their rows; PyTorchVideo where timed."""
    import argparse

    render = _module("train_speed").render
    rows = [{"group": "autox3d", "name": f"a{i}", "mmacs": 10.0, "frames": 8, "size": [32, 32], "gmacs_per_s": g,
             "ms": {"plain NCDHW": n, "plain CL": c, "vidnas": 100.0}} for i, (n, c, g) in enumerate([(400.0, 200.0, 5.0), (300.0, 150.0, 7.0), (200.0, 100.0, 9.0)])]
    rows.append({"group": "x3d", "name": "X3D-XS", "mmacs": 48.0, "frames": 8, "size": [32, 32], "gmacs_per_s": 8.0,
                 "ms": {"plain NCDHW": 500.0, "plain CL": 250.0, "vidnas": 125.0, "PyTorchVideo CL": 375.0}})
    lines = render(rows, argparse.Namespace(batch=16, threads=2, rounds=3, steps=2, device="cpu"))
    assert "| a0 | 10.0 | 8×32×32 | 400 | 200 | **100** | 4.00 | 2.00 | 5.0 |  |" in lines
    assert any(line.startswith("| X3D-XS |") and "vidnas 3.00× faster" in line for line in lines)
    assert "| autox3d | 3 | 3.00 | 1.50 | 7.0 |" in lines
    assert "| depthwise-heavy (Auto-X3D, MoViNet, X3D) | 4 | 3.50 | 1.75 | 7.5 |" in lines


def _vidnas_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) of every ``from vidnas... import name`` in a file, function-local ones included."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vidnas":
            found += [(node.lineno, node.module, alias.name) for alias in node.names]
    return found


def test_every_vidnas_name_a_benchmark_imports_exists_and_is_public():
    """A refactor cannot break a benchmark unseen: every name any script imports from vidnas — also inside its
    functions, which run only when the benchmark does — resolves in the package as it is (nothing is run), and
    comes through a package's public face, never a private module."""
    import importlib

    missing = []
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    assert len(scripts) >= 20
    for script in scripts:
        for line, module, name in _vidnas_imports(script):
            try:
                target = importlib.import_module(module)
            except ImportError as error:
                missing.append(f"{script.name}:{line}: {module} ({error})")
                continue
            if name != "*" and not hasattr(target, name):
                try:
                    importlib.import_module(f"{module}.{name}")  # a submodule
                except ImportError:
                    missing.append(f"{script.name}:{line}: {module}.{name}")
    assert not missing, "\n".join(missing)
    private = [f"{s.name}:{line}: {module}" for s in scripts for line, module, _ in _vidnas_imports(s) if any(p.startswith("_") for p in module.split(".")[1:])]
    assert not private, "benchmarks import public names only (a package's __init__):\n" + "\n".join(private)
