"""Successive halving in the engine, step budgets that always complete, the decoded clip store, and the final
retraining with baselines (fast lane: the synthetic evaluator; real training only at toy sizes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vidnas.search import SearchConfig, Study, run_search
from vidnas.search._final import summarise, verdict
from vidnas.search._study import current
from vidnas.strategies import STRATEGIES

SYNTHETIC = "vidnas.search._synthetic:evaluate"


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, search_home: Path) -> Path:
    monkeypatch.setenv("VIDNAS_HOME", str(search_home))
    monkeypatch.setenv("VIDNAS_SYNTHETIC_LOG", str(tmp_path / "calls.log"))
    monkeypatch.delenv("VIDNAS_SYNTHETIC_FAULTS", raising=False)
    monkeypatch.delenv("VIDNAS_SYNTHETIC_NOISE", raising=False)
    return tmp_path


def _config(**overrides) -> SearchConfig:  # noqa: ANN003
    settings = dict(space="autox3d", strategy="evolution", trials=9, executor="inprocess", strategy_options={"population": 3},
                    rungs=[10, 20, 40], eta=3, final_retrain=False, constraint=None)
    settings.update(overrides)
    return SearchConfig(**settings)


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().split() if log.is_file() else []


def _asha_invariants(trials: list, at_least: list[int]) -> dict[int, dict[int, float]]:  # noqa: ANN001
    """Asynchronous successive halving: each promotion was in the top ⌊n/η⌋ of what its rung had scored when it
    was decided (so a rung may end with more than ⌊n/η⌋: promotions are never taken back), continues the previous
    rung's trial, and no candidate trains twice at one rung."""
    ordered = sorted(trials, key=lambda t: t.attrs.get("told", 0))
    for t in ordered:
        rung = int(t.attrs.get("rung", 0))
        if rung == 0 or t.status != "ok":
            continue
        before = [u for u in ordered if u.attrs.get("told", 0) < t.attrs["told"] and int(u.attrs.get("rung", -1)) == rung - 1 and u.status == "ok"]
        ranked = sorted(before, key=lambda u: (-u.fitness, u.number))
        top = [int(u.attrs["candidate"]) for u in ranked[: max(1, len(ranked) // 3)]]
        assert int(t.attrs["candidate"]) in top
        assert t.attrs["origin"] in ("promotion", "requeue") and t.attrs["parent"] == t.attrs["candidate"]
        assert t.attrs["resume_from"] in [u.number for u in before]  # continues the previous rung's trial
    started = [(t.attrs["candidate"], t.attrs["rung"]) for t in trials if t.status in ("ok", "failed")]
    assert len(started) == len(set(started))
    rungs = _by_rung(trials)
    assert [len(rungs.get(k, {})) >= n for k, n in enumerate(at_least)] == [True] * len(at_least), {k: len(v) for k, v in rungs.items()}
    assert len(rungs[0]) == at_least[0]
    return rungs


def _by_rung(trials: list) -> dict[int, dict[int, float]]:  # noqa: ANN001
    out: dict[int, dict[int, float]] = {}
    for t in trials:
        if t.status == "ok":
            out.setdefault(int(t.attrs["rung"]), {})[int(t.attrs["candidate"])] = t.fitness
    return out


# ------------------------------------------------------------------------------------ promotion order


def test_successive_halving_promotes_the_top_third_and_picks_at_the_top_rung(env: Path) -> None:
    result = run_search(_config(), env / "out", evaluator=SYNTHETIC, progress=False)
    rungs = _asha_invariants(result.trials, [9, 3, 1])
    best_rung0 = max(rungs[0], key=lambda c: rungs[0][c])
    assert best_rung0 in rungs[1]  # the best screened candidate is always promoted
    pick = result.best
    assert pick is not None and int(pick.attrs["rung"]) == 2
    assert [int(t.attrs["candidate"]) for t in current(result.trials)][0] == int(pick.attrs["candidate"])
    study = Study.load("search", result.storage)
    assert sum(1 for t in study.study.get_trials() if t.state.name == "COMPLETE") == sum(map(len, rungs.values()))  # every rung's result
    assert "rungs" in (env / "out" / "report.html").read_text() or "rung" in (env / "out" / "report.html").read_text()


def test_too_few_candidates_still_end_with_a_pick_at_the_top_rung(env: Path) -> None:
    result = run_search(_config(trials=2), env / "out", evaluator=SYNTHETIC, progress=False)
    rungs = _by_rung(result.trials)
    assert len(rungs[0]) == 2 and len(rungs[1]) == 1 and len(rungs[2]) == 1  # finishing promotions (⌊2/3⌋ = 0 due)
    assert max(rungs[0], key=lambda c: rungs[0][c]) in rungs[1]
    assert int(result.best.attrs["rung"]) == 2


@pytest.mark.parametrize("strategy", sorted(set(STRATEGIES) - {"guided"}))
def test_every_strategy_works_with_rungs_and_learns_from_the_highest_rung(env: Path, strategy: str) -> None:
    config = _config(strategy=strategy, strategy_options={"population": 3} if strategy in ("evolution", "constrained", "pareto") else {},
                     space="tvn", rungs=[5, 10], trials=7)
    from vidnas.search._engine import Search

    search = Search(config, env / "out", evaluator=SYNTHETIC, progress=False)
    result = search.run()
    rungs = _asha_invariants(result.trials, [7, 2])
    records = {r.number: r for r in search.strategy.records if r.status == "ok"}
    assert len(records) == 7  # one record per candidate: a promotion replaces it, it does not add one
    for candidate in rungs[1]:
        assert records[candidate].metrics["rung"] == 1 and records[candidate].fitness == rungs[1][candidate]


def test_multi_objective_search_with_rungs_records_every_objective(env: Path) -> None:
    config = _config(strategy="pareto", objectives=["accuracy", "latency_ms", "peak_memory_mb"], rungs=[5, 10])
    result = run_search(config, env / "out", evaluator=SYNTHETIC, progress=False)
    study = Study.load("search", result.storage)
    assert study.multi_objective
    promoted = [t for t in study.study.get_trials() if t.user_attrs.get("rung") == 1]
    assert len(promoted) >= 3 and all(len(t.values) == 3 for t in promoted)
    # a promotion carries the candidate's measured costs, it does not measure them again
    firsts = {t.number: t for t in result.trials if t.attrs.get("rung") == 0}
    for t in (u for u in result.trials if u.attrs.get("rung") == 1):
        assert t.metrics["latency_ms"] == firsts[t.attrs["candidate"]].metrics["latency_ms"]


def seeds_evaluator(payload: dict) -> dict:
    """The synthetic evaluator (with its seeded noise), logging what each evaluation was asked to do."""
    from vidnas.search._synthetic import evaluate

    with open(os.environ["SEEDS_LOG"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"steps": payload.get("steps"), "seed": payload["recipe"]["seed"], "checkpoint": payload.get("checkpoint"),
                                 "resume_from": payload.get("resume_from"), "latency": payload.get("latency"), "seeds": payload.get("seeds")}) + "\n")
    return evaluate(payload)


def test_top_rung_seeds_rank_the_top_rung_by_the_mean_of_runs_from_scratch(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDS_LOG", str(env / "seeds.log"))
    monkeypatch.setenv("VIDNAS_SYNTHETIC_NOISE", "0.05")  # seeds then score differently
    config = _config(space="tvn", rungs=[5, 10], trials=6, top_rung_seeds=3)
    result = run_search(config, env / "out", evaluator="test_rungs:seeds_evaluator", progress=False)
    calls = [json.loads(line) for line in (env / "seeds.log").read_text().splitlines()]
    assert all(c["seeds"] is None for c in calls)  # evaluators only ever see one seed
    extra = [c for c in calls if c["seed"] != 0]
    top = [t for t in result.trials if t.status == "ok" and t.attrs["rung"] == 1]
    assert len(top) >= 2 and len(extra) == 2 * len(top)
    # the extra seeds train from scratch to the top rung's steps, keep no checkpoint and measure no cost
    assert {(c["steps"], c["seed"], c["checkpoint"], c["resume_from"], c["latency"]) for c in extra} == {(10, 1, None, None, False), (10, 2, None, None, False)}
    assert all(c["seed"] == 0 for c in calls if c["steps"] == 5)  # lower rungs: one seed
    for t in top:
        seeds = t.metrics["seed_accuracies"]
        assert len(seeds) == 3 and len(set(seeds)) == 3 and t.metrics["accuracy"] == pytest.approx(sum(seeds) / 3)
        assert t.attrs["resume_from"] is not None  # its own seed still continues from the rung below
    assert all("seed_accuracies" not in t.metrics for t in result.trials if t.attrs.get("rung") == 0)
    pick = result.best
    assert int(pick.attrs["rung"]) == 1 and pick.fitness == max(t.fitness for t in top)
    # the number of seeds is part of the study: continuing it with another count is refused, the same count resumes
    with pytest.raises(Exception, match="top_rung_seeds"):
        run_search(_config(space="tvn", rungs=[5, 10], trials=8), env / "out", evaluator="test_rungs:seeds_evaluator", progress=False)
    resumed = run_search(_config(space="tvn", rungs=[5, 10], trials=8, top_rung_seeds=3), env / "out", evaluator="test_rungs:seeds_evaluator", progress=False)
    assert len([t for t in resumed.trials if t.attrs.get("rung") == 0 and t.status == "ok"]) == 8


def test_evaluate_seeds_combines_runs_and_fails_when_one_fails() -> None:
    from vidnas.search._evaluate import evaluate_seeds

    def fake(payload: dict) -> dict:
        seed = payload["recipe"]["seed"]
        if seed == 9:
            return {"status": "failed", "reason": "diverged"}
        return {"status": "ok", "accuracy": 0.5 + 0.1 * seed, "p_true": 0.4, "train_seconds": 8.0, "val_seconds": 1.0, "wall_seconds": 10.0,
                "latency_ms": 3.0 if payload["latency"] else None, "steps": payload["steps"]}

    payload = {"recipe": {"seed": 0}, "steps": 30, "latency": True, "checkpoint": "/c", "resume_from": "/r", "seeds": [1, 2]}
    combined = evaluate_seeds(fake, payload)
    assert combined["accuracy"] == pytest.approx(0.6) and combined["seed_accuracies"] == [0.5, 0.6, 0.7]
    assert combined["wall_seconds"] == 30.0 and combined["train_fraction"] == pytest.approx(0.8) and combined["work_fraction"] == pytest.approx(0.9)
    assert combined["latency_ms"] == 3.0 and combined["steps"] == 30
    assert evaluate_seeds(fake, dict(payload, seeds=[])) == fake(payload)
    failed = evaluate_seeds(fake, dict(payload, seeds=[1, 9]))
    assert failed["status"] == "failed" and failed["reason"] == "training seed 9: diverged"


RESUME_SCRIPT = """
import sys
from vidnas.search import SearchConfig, run_search
if __name__ == "__main__":
    config = SearchConfig(space="autox3d", strategy="evolution", trials=9, executor="inprocess", strategy_options={"population": 3},
                          rungs=[10, 20, 40], eta=3, final_retrain=False)
    run_search(config, sys.argv[1], evaluator="vidnas.search._synthetic:evaluate", progress=False)
"""


def test_killed_between_rungs_resumes_promotions_without_losing_a_rung(env: Path) -> None:
    script = env / "run.py"
    script.write_text(RESUME_SCRIPT)
    out = env / "out"
    environment = dict(os.environ, VIDNAS_SYNTHETIC_FAULTS="sleep:0.4")
    process = subprocess.Popen([sys.executable, str(script), str(out)], env=environment)
    storage = f"sqlite:///{out / 'study.db'}"
    deadline, finished = time.time() + 120, []
    while time.time() < deadline:
        time.sleep(0.2)
        try:
            finished = [t for t in Study.load("search", storage).trials() if t.status == "ok"]
        except Exception:  # noqa: BLE001 - the study is still being created
            continue
        if any(t.attrs.get("rung") == 1 for t in finished):
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert any(t.attrs.get("rung") == 1 for t in finished)
    before = {t.number: (t.attrs["rung"], t.attrs["candidate"], t.fitness) for t in Study.load("search", storage).trials() if t.status == "ok"}
    subprocess.run([sys.executable, str(script), str(out)], env=environment, check=True, timeout=180)
    after = Study.load("search", storage).trials()
    assert {t.number: (t.attrs["rung"], t.attrs["candidate"], t.fitness) for t in after if t.number in before} == before
    _asha_invariants(after, [9, 3, 1])  # as if never killed: the promotions went on from the stored rungs
    interrupted = [t for t in after if t.status == "interrupted"]
    assert len([t for t in after if t.attrs.get("origin") == "requeue"]) == len(interrupted) <= 1


# ------------------------------------------------------------------------------------ screening budget from the data


def learning_evaluator(payload: dict) -> dict:
    """The synthetic evaluator on data that no network learns before ``$LEARNS_AT`` steps (every score is chance,
    0.25 on the four built-in classes, below it); from there the 3D CNN baseline scores 0.9. The probe's other
    reference, the space's zoo model, learns from ``$ZOO_LEARNS_AT`` steps (0.8; never when unset). Logs the probe's
    runs (model, steps, what it continued from) and leaves each a checkpoint marker to continue from."""
    from vidnas.search._synthetic import evaluate

    result = evaluate(payload)
    steps = payload.get("steps") or 0
    cnn = payload["genotype"].get("family") == "baseline"
    if Path(str(payload.get("checkpoint"))).parent.name == "probe":
        with open(os.environ["PROBE_LOG"], "a", encoding="utf-8") as handle:
            handle.write(f"{'cnn' if cnn else 'zoo'} {steps} {payload.get('resume_from') or '-'}\n")
        Path(payload["checkpoint"]).mkdir(parents=True, exist_ok=True)
        (Path(payload["checkpoint"]) / "final.json").write_text("{}")  # what a real run leaves to continue from
        if os.environ.get("PROBE_FAILS") and (cnn or os.environ["PROBE_FAILS"] == "all"):
            return {"status": "failed", "reason": "injected: out of memory"}
        if not cnn:
            learned = steps >= int(os.environ.get("ZOO_LEARNS_AT") or 10**9)
            return dict(result, accuracy=0.8 if learned else 0.25, top1=0.8 if learned else 0.25, val_clips=1024)
    if steps < int(os.environ["LEARNS_AT"]):
        result.update(accuracy=0.25, top1=0.25)
    elif cnn:
        result.update(accuracy=0.9, top1=0.9)
    return dict(result, val_clips=1024)


@pytest.fixture()
def learning(env: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("PROBE_LOG", str(env / "probe.log"))

    def at(steps: int, zoo: int | None = None) -> Path:
        monkeypatch.setenv("LEARNS_AT", str(steps))
        if zoo is not None:
            monkeypatch.setenv("ZOO_LEARNS_AT", str(zoo))
        return env / "probe.log"

    return at


def _probe_runs(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.is_file() else []


def test_auto_rungs_start_where_the_3d_cnn_leaves_chance_and_a_resume_reads_them_back(env: Path, learning) -> None:  # noqa: ANN001
    log = learning(300)
    config = _config(rungs="auto", trials=4)
    result = run_search(config, env / "out", evaluator="test_rungs:learning_evaluator", progress=False)
    runs = _probe_runs(log)
    # the 3D CNN first at each count; the zoo model only where the 3D CNN had not learned; each continues its own run
    assert [r[:2] for r in runs] == [["cnn", "100"], ["zoo", "100"], ["cnn", "300"]]
    assert runs[0][2] == "-" and runs[2][2].endswith("simple_3d_cnn_steps_100")
    probe = result.outputs["probe"]
    assert probe["rungs"] == [300, 900] and probe["learned"] and probe["chance"] == 0.25
    assert probe["threshold"] == pytest.approx(0.25 + 0.25 * 0.75)
    rung0 = [t for t in result.trials if t.attrs.get("rung") == 0 and t.status == "ok"]
    assert len(rung0) == 4 and {t.metrics["steps"] for t in rung0} == {300}
    assert {t.metrics["steps"] for t in result.trials if t.attrs.get("rung") == 1} == {900}
    page = (env / "out" / "report.html").read_text()
    assert "candidates are screened at 300 steps" in page and "300 / 900" in page
    run_search(_config(rungs="auto", trials=6), env / "out", evaluator="test_rungs:learning_evaluator", progress=False)
    assert len(_probe_runs(log)) == 3  # the resumed search reads the probe back, it does not run it again
    resumed = Study.load("search", result.storage).trials()
    assert {t.metrics.get("steps") for t in resumed if t.attrs.get("rung") == 0 and t.status == "ok"} == {300}


def test_auto_rungs_follow_the_zoo_model_when_it_learns_before_the_3d_cnn(env: Path, learning) -> None:  # noqa: ANN001
    log = learning(2700, zoo=300)
    result = run_search(_config(rungs="auto", trials=3, final_retrain=True, final_top_k=1, final_seeds=1), env / "out",
                        evaluator="test_rungs:learning_evaluator", progress=False)
    runs = _probe_runs(log)
    assert [r[:2] for r in runs] == [["cnn", "100"], ["zoo", "100"], ["cnn", "300"], ["zoo", "300"]]
    assert runs[3][2].endswith("autox3d_zoo_scaled_steps_100")
    probe = result.outputs["probe"]
    assert probe["rungs"] == [300, 900] and probe["learned"] and probe["references"] == ["simple_3d_cnn", "autox3d_zoo_scaled"]
    from vidnas.search._fidelity import describe

    text = describe(probe)
    assert "the hand-written 3D CNN 0.250 after 100, 0.250 after 300 steps" in text
    assert "the zoo model scaled into the limit (autox3d_zoo_scaled) 0.250 after 100, 0.800 after 300 steps" in text
    assert "candidates are screened at 300 steps" in text
    # the final retraining trains the same zoo model the probe chose (stored once in the study)
    study = Study.load("search", result.storage)
    zoo = json.loads(study.study.user_attrs["vidnas.zoo_baseline"])
    assert json.loads(study.finals()["zoo.seed0"]["genotype"]) == zoo


def test_auto_rungs_on_the_builtin_task_stay_at_100_and_300(env: Path, learning) -> None:  # noqa: ANN001
    log = learning(1)
    result = run_search(_config(rungs="auto", trials=3), env / "out", evaluator="test_rungs:learning_evaluator", progress=False)
    assert [r[:2] for r in _probe_runs(log)] == [["cnn", "100"]] and result.outputs["probe"]["rungs"] == [100, 300]
    assert "vidnas.zoo_baseline" not in Study.load("search", result.storage).study.user_attrs  # the zoo model was never needed


def test_data_nothing_learns_is_said_plainly_and_screened_at_the_ladder_top(env: Path, learning) -> None:  # noqa: ANN001
    log = learning(10**6)
    result = run_search(_config(rungs="auto", trials=3, final_retrain=True, final_top_k=1, final_seeds=2), env / "out",
                        evaluator="test_rungs:learning_evaluator", progress=False)
    from vidnas.search._fidelity import LADDER, describe

    assert [(r[0], int(r[1])) for r in _probe_runs(log)] == [(m, s) for s in LADDER for m in ("cnn", "zoo")]
    probe = result.outputs["probe"]
    assert probe["rungs"] == [2700, 8100] and not probe["learned"]
    assert "the reference networks did not leave chance (0.250) in 2700 steps" in describe(probe)
    assert verdict(result.outputs["final"], probe["chance"]).startswith("No model learned this task in 8100 steps")
    page = (env / "out" / "report.html").read_text().replace("&#x27;", "'")
    assert "No model learned this task" in page and "did not leave chance" in page


def test_an_interrupted_probe_continues_its_ladder(env: Path, learning) -> None:  # noqa: ANN001
    log = learning(900)
    out = env / "out"
    out.mkdir()
    study = Study("search", f"sqlite:///{(out / 'study.db').resolve()}", objectives=["accuracy", "latency_ms"])
    # a probe stored by an earlier version: the 3D CNN alone, runs without a model name
    study.set_attr("vidnas.probe", json.dumps({"reference": "simple_3d_cnn", "chance": 0.25, "runs": [{"steps": 100, "accuracy": 0.25, "val_clips": 1024}]}))
    result = run_search(_config(rungs="auto", trials=3), out, evaluator="test_rungs:learning_evaluator", progress=False)
    runs = _probe_runs(log)
    assert [r[:2] for r in runs] == [["zoo", "100"], ["cnn", "300"], ["zoo", "300"], ["cnn", "900"]]
    assert runs[1][2] == "-"  # the 100-step checkpoint is gone: 300 steps from scratch
    probe = result.outputs["probe"]
    assert probe["rungs"] == [900, 2700] and [r["steps"] for r in probe["runs"]] == [100, 100, 300, 300, 900]


def test_a_reference_that_cannot_train_leaves_the_probe_and_says_so(env: Path, learning, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from vidnas.search._fidelity import describe

    log = learning(1, zoo=300)
    monkeypatch.setenv("PROBE_FAILS", "cnn")  # the 3D CNN fails; the zoo model carries the ladder on
    result = run_search(_config(rungs="auto", trials=2), env / "out", evaluator="test_rungs:learning_evaluator", progress=False)
    probe = result.outputs["probe"]
    assert [r[:2] for r in _probe_runs(log)] == [["cnn", "100"], ["zoo", "100"], ["zoo", "300"]] and probe["rungs"] == [300, 900] and probe["learned"]
    assert "the hand-written 3D CNN no finished run" in describe(probe)

    monkeypatch.setenv("PROBE_FAILS", "all")
    result = run_search(_config(rungs="auto", trials=2), env / "out2", evaluator="test_rungs:learning_evaluator", progress=False)
    probe = result.outputs["probe"]
    assert probe["rungs"] == [100, 300] and not probe["learned"]
    assert "could not be trained to 100 steps (injected: out of memory)" in describe(probe)
    assert "so the screening budget was not measured" in describe(probe)
    assert len(result.completed) >= 2  # the search went on


def test_probe_arithmetic_and_chance_of_an_imbalanced_cache(tmp_path: Path) -> None:
    from vidnas.data._cache import write_clip_cache
    from vidnas.search._fidelity import chance_level, choose_rungs, threshold

    assert threshold(0.25, 1024) == pytest.approx(0.4375)  # a quarter of the way from chance to 1 dominates 5 SE (0.068)
    assert threshold(0.5, 20) == pytest.approx(0.5 + 5 * (0.25 / 20) ** 0.5)  # few clips: 5 SE dominates
    assert choose_rungs([{"steps": 100, "accuracy": 0.43, "val_clips": 1024}, {"steps": 300, "accuracy": 0.44, "val_clips": 1024}], 0.25, 3) == ([300, 900], True)
    assert choose_rungs([{"steps": 100, "accuracy": None}], 0.25, 2) == ([100, 200], False)
    clips = [(f"v{i}", 0 if i < 6 else 1, np.zeros((2, 8, 8, 3), np.uint8)) for i in range(8)]
    write_clip_cache(tmp_path / "val", iter(clips), 8, classes=["a", "b", "c"], frames=2, size=8, origin="test")
    assert chance_level(str(tmp_path / "val"), 3) == 0.75  # always answering the most frequent class
    assert chance_level(str(tmp_path / "missing"), 4) == 0.25


def test_verdict_says_when_nothing_was_learned() -> None:
    def run(accuracy: float) -> dict:
        return {"status": "ok", "metrics": {"accuracy": accuracy, "val_clips": 1024, "steps": 900}}

    finals = {"trial0001.seed0": {"name": "trial 1", "kind": "search", **run(0.26)}, "trial0001.seed1": {"name": "trial 1", "kind": "search", **run(0.27)},
              "cnn3d.seed0": {"name": "simple_3d_cnn", "kind": "cnn3d", **run(0.25)}, "cnn3d.seed1": {"name": "simple_3d_cnn", "kind": "cnn3d", **run(0.24)}}
    rows = summarise(finals)
    assert verdict(rows, 0.25).startswith("No model learned this task in 900 steps: the best retrained accuracy, trial 1's 0.265")
    assert not verdict(rows, 0.1).startswith("No model learned")  # far above a chance of 0.1: the usual comparison
    assert not verdict(rows).startswith("No model learned")


def test_parsec_with_a_supernet_runs_inside_a_search(env: Path) -> None:
    config = _config(strategy="parsec", strategy_options={"shared_weights": True, "supernet": {"batch_size": 4}}, supernet_steps=2, trials=2, rungs=[5])
    result = run_search(config, env / "out", evaluator=SYNTHETIC, progress=False)
    supernet = json.loads(Study.load("search", result.storage).study.user_attrs["vidnas.supernet"])
    assert supernet["steps"] == 2 and len(result.completed) == 2


# ------------------------------------------------------------------------------------ final retraining


def test_final_retraining_compares_the_pick_with_baselines_and_resumes(env: Path) -> None:
    out = env / "out"
    config = _config(space="tvn", trials=6, rungs=[5, 10], final_retrain=False)
    run_search(config, out, evaluator=SYNTHETIC, progress=False)
    searched = len(_calls(env))
    config = config.model_copy(update={"final_retrain": True, "final_top_k": 2, "final_seeds": 2})
    result = run_search(config, out, evaluator=SYNTHETIC, progress=False)
    finals = Study.load("search", result.storage).finals()
    keys = {k.rsplit(".seed", 1)[0] for k in finals}
    assert {"zoo", "cnn3d", "cnn2d"} <= keys and len(keys) == 5 and len(finals) == 10
    assert len(_calls(env)) == searched + 10  # the search was finished: only the finals ran
    latency = json.loads(Study.load("search", result.storage).study.user_attrs["vidnas.final_latency"])
    assert set(latency) == keys and all(v > 0 for v in latency.values())  # every model timed together at the end
    rows = result.outputs["final"]
    assert {r["key"]: r["latency_ms"] for r in rows} == latency
    winner = next(r for r in rows if r["winner"])
    best = json.loads((out / "best.json").read_text())
    assert best["name"] == json.loads(winner["genotype"])["name"]  # best.json is the retraining's winner
    page = (out / "report.html").read_text()
    assert page.index("Retrained: search vs baselines") < page.index("<h2>Search</h2>")  # the first table
    assert verdict(rows) in page.replace("&#x27;", "'")
    run_search(config, out, evaluator=SYNTHETIC, progress=False)
    assert len(_calls(env)) == searched + 10  # a rerun retrains nothing that finished


def _row(name: str, kind: str, accuracies: list[float], cost: float = 5.0, macs: float | None = None) -> dict:
    return {f"{name}.seed{i}": {"name": name, "kind": kind, "genotype": "{}", "cost": cost, "status": "ok",
                                "metrics": {"accuracy": a, "latency_ms": cost, "val_clips": 1024, "macs": macs}} for i, a in enumerate(accuracies)}


def test_verdict_says_plainly_who_won() -> None:
    rows = summarise({**_row("trial 3", "search", [0.97, 0.99]), **_row("simple_3d_cnn", "cnn3d", [0.80, 0.84]), **_row("frame_blind_2d", "cnn2d", [0.40, 0.42])}, 10)
    assert rows[0]["winner"] and rows[0]["name"] == "trial 3" and rows[0]["se"] == pytest.approx(0.01)
    assert verdict(rows).startswith("Searching was worth it")
    rows = summarise({**_row("trial 3", "search", [0.80, 0.82]), **_row("simple_3d_cnn", "cnn3d", [0.95, 0.97])}, 10)
    assert verdict(rows).startswith("A baseline won: simple_3d_cnn") and "not worth it" in verdict(rows)
    rows = summarise({**_row("trial 3", "search", [0.90, 0.92]), **_row("simple_3d_cnn", "cnn3d", [0.90, 0.90])}, 10)
    assert "within noise" in verdict(rows)
    # equal accuracy: a clearly faster pick (latency and MACs both) is said to have paid off in speed
    rows = summarise({**_row("trial 37", "search", [0.992, 0.996], cost=5.4, macs=67.6e6), **_row("simple_3d_cnn", "cnn3d", [0.985, 0.993], cost=9.4, macs=106e6)}, 10)
    assert verdict(rows).startswith("Searching paid off in speed") and "1.7× faster (5.4 vs 9.4 ms, 68 vs 106 MMACs)" in verdict(rows)
    rows = summarise({**_row("trial 37", "search", [0.985, 0.989], cost=5.0, macs=50e6), **_row("simple_3d_cnn", "cnn3d", [0.99, 0.994], cost=9.4, macs=106e6)}, 10)
    assert verdict(rows).startswith("A baseline won by a margin within noise") and "1.9× faster" in verdict(rows)
    rows = summarise({**_row("trial 37", "search", [0.992, 0.996], cost=5.4, macs=120e6), **_row("simple_3d_cnn", "cnn3d", [0.985, 0.993], cost=9.4, macs=106e6)}, 10)
    assert verdict(rows).startswith("Searching did not clearly pay off")  # faster on the clock but not in MACs: no claim
    over = summarise({**_row("trial 3", "search", [0.90]), **_row("big", "zoo", [0.99], cost=12.0)}, 10)
    assert [r["name"] for r in over if r["winner"]] == ["trial 3"]  # a model over the limit cannot win


def test_scaled_zoo_baseline_fits_the_limit() -> None:
    from vidnas.measure import count_macs
    from vidnas.network import build_model
    from vidnas.search._baselines import frame_blind_2d, layer_macs, scaled_zoo, simple_3d_cnn
    from vidnas.spaces import make_space

    macs = layer_macs
    model = build_model(simple_3d_cnn(4), seed=0)
    assert macs(simple_3d_cnn(4)) == pytest.approx(count_macs(model, model.example_input(1)).macs, rel=0.01)
    space = make_space("tvn", 4)
    seed_macs = macs(space.seeds()[0])
    limit = seed_macs / 4
    scaled = scaled_zoo(space, lambda g: macs(g) <= limit, macs)
    assert scaled is not None and macs(scaled) <= limit and space.validate(scaled)
    assert macs(scaled) > limit / 4  # shrunk gently, not collapsed
    assert scaled_zoo(space, lambda g: False, macs, max_cuts=3) is None
    cnn, blind = simple_3d_cnn(4), frame_blind_2d(4)
    assert cnn.check()["body"].frames == 8 and blind.check()["body"].frames == 16  # the 2D network never mixes frames
    assert all(layer.kernel[0] == 1 for layer in blind.nodes[0].layers if layer.op == "conv")


# ------------------------------------------------------------------------------------ step budgets


class _Clips(torch.utils.data.Dataset):
    classes = ["a", "b"]

    def __init__(self, n: int = 64):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, 4, 16, 16, generator=generator)
        self.y = torch.arange(n) % 2

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"video": self.x[i], "label": int(self.y[i]), "index": i}


def _tiny():  # noqa: ANN202
    from vidnas.network import build_model
    from vidnas.search._baselines import simple_3d_cnn

    return build_model(simple_3d_cnn(2, frames=4, size=16, widths=(4, 4, 4)), seed=0)


def test_a_time_cap_shrinks_the_plan_up_front_and_the_schedule_completes() -> None:
    from vidnas.train import Recipe, Trainer

    recipe = Recipe(epochs=1000, max_steps=10_000, batch_size=8, optimizer="adamw", lr=1e-2, warmup_epochs=0.5, max_seconds=0.5)
    trainer = Trainer(_tiny(), recipe, _Clips(), hooks=[])
    trainer.fit()
    assert trainer.planned_steps == 8000 and 4 <= trainer.total_steps < 8000  # 1000 epochs of 8 steps, then the cap
    assert trainer.step == trainer.total_steps  # never cut off mid-schedule
    assert trainer.scheduler.get_last_lr()[0] < 1e-2 * 0.01  # the cosine reached its end
    uncapped = Trainer(_tiny(), recipe.model_copy(update={"max_seconds": None, "max_steps": 12}), _Clips(), hooks=[])
    uncapped.fit()
    assert uncapped.step == 12 and uncapped.scheduler.get_last_lr()[0] < 1e-2 * 0.01


def test_a_continued_run_trains_on_with_a_warm_restart(tmp_path: Path) -> None:
    from vidnas.train import Recipe, Trainer

    recipe = Recipe(epochs=1000, max_steps=6, batch_size=8, optimizer="adamw", lr=1e-2, warmup_epochs=0.0)
    first = Trainer(_tiny(), recipe, _Clips(), out_dir=tmp_path, hooks=[])
    first.fit()
    first.save("final", first.epoch_metrics())
    second = Trainer(_tiny(), recipe, _Clips(), hooks=[])
    second.resume(tmp_path / "final.json")
    assert second.step == 6
    second.extend(18)
    second.fit()
    assert second.step == 18 and second.scheduler.get_last_lr()[0] < 1e-4
    assert second.schedule(7) > 0.9 and second.schedule(17) < 0.05  # a fresh warm-up + cosine over the 12 new steps


# ------------------------------------------------------------------------------------ the clip store


def test_builtin_store_equals_the_generated_clips_and_is_deterministic(tmp_path: Path) -> None:
    from vidnas.data import CachedClips, ClipCache, builtin_store, synth_clip

    settings = dict(classes=3, train_per_class=3, val_per_class=2, size=16, frames=8)
    a = builtin_store(tmp_path / "a", **settings)
    b = builtin_store(tmp_path / "b", **settings)
    for split in ("train", "val"):  # deterministic: a second store is the same, byte for byte
        assert np.array_equal(np.asarray(ClipCache(a[split]).rgb(0)), np.asarray(ClipCache(b[split]).rgb(0)))
    assert (tmp_path / "a" / "train" / "rgb_00000.u8").read_bytes() == (tmp_path / "b" / "train" / "rgb_00000.u8").read_bytes()
    train = ClipCache(a["train"])
    assert len(train) == 9 and train.classes == ["move_right", "move_down", "zoom_in"] and len(ClipCache(a["val"])) == 6
    for video in (0, 4, 8):
        label = train.label(video)
        expected = synth_clip(label, np.random.default_rng([0, 0, label, video % 3]), 8, 16, "motions", 2.0)
        assert np.array_equal(np.asarray(train.rgb(video)), expected)
    clips = CachedClips(train, frames=8, size=16, train=False, mean=(0, 0, 0), std=(1, 1, 1))
    assert torch.allclose(clips[4]["video"], torch.as_tensor(train.rgb(4)).permute(3, 0, 1, 2).float() / 255.0)
    mtime = (tmp_path / "a" / "train" / "index.json").stat().st_mtime_ns
    builtin_store(tmp_path / "a", **settings)  # generated once, then reused
    assert (tmp_path / "a" / "train" / "index.json").stat().st_mtime_ns == mtime


def test_rung_continuation_with_real_training(tmp_path: Path) -> None:
    from vidnas.data import builtin_store
    from vidnas.search._baselines import simple_3d_cnn
    from vidnas.train import Recipe
    from vidnas.train._api import evaluate_candidate

    paths = builtin_store(tmp_path / "data", classes=2, train_per_class=16, val_per_class=8, size=16, frames=8)
    recipe = Recipe(epochs=1000, batch_size=8, optimizer="adamw", lr=3e-3, eval_every=1000, warmup_epochs=0.0)
    genotype = simple_3d_cnn(2, frames=8, size=16, widths=(4, 8, 8)).model_dump(mode="json")
    first = evaluate_candidate(genotype, recipe, data=paths["train"], val=paths["val"], steps=3, checkpoint=tmp_path / "r0")
    assert first["status"] == "ok", first.get("reason")
    assert first["steps"] == 3 and first["val_clips"] == 16 and 0 <= first["p_true"] <= 1
    assert abs(first["train_fraction"] - first["train_seconds"] / first["wall_seconds"]) <= 1e-3 + 1e-9
    second = evaluate_candidate(genotype, recipe, data=paths["train"], val=paths["val"], steps=7, resume_from=tmp_path / "r0", latency=False,
                                checkpoint=tmp_path / "r1")
    assert second["status"] == "ok" and second["steps"] == 7
    # the continuation reports its own training seconds; its checkpoint carries the run's total (both rungs)
    total = json.loads((tmp_path / "r1" / "final.json").read_text())["metrics"]["train_seconds"]
    assert abs(total - (first["train_seconds"] + second["train_seconds"])) <= 2e-3
    missing = evaluate_candidate(genotype, recipe, data=paths["train"], val=paths["val"], steps=7, resume_from=tmp_path / "nowhere")
    assert missing["status"] == "failed" and "no checkpoint of the previous rung" in missing["reason"]


def test_studies_stored_before_top_rung_seeds_resume_with_one_seed() -> None:
    stored = {k: v for k, v in _config().identity().items() if k != "top_rung_seeds"}  # a study stored before the setting existed
    assert _config().changed_from(stored) == []
    assert _config(top_rung_seeds=2).changed_from(stored) == ["top_rung_seeds"]
    assert _config(eta=2).changed_from(stored) == ["eta"]
