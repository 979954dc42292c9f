"""The search engine: studies, executors, constraints, resumption, latency prediction and the search CLI (spaces and
strategies: test_spaces.py, test_strategies.py)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidnas.errors import VidnasError
from vidnas.genotype import load_genotype
from vidnas.search import ConstraintSpec, SearchConfig, Study, parse_budget, run_search
from vidnas.spaces import make_space

SYNTHETIC = "vidnas.search._synthetic:evaluate"
FAST_RECIPE = dict(epochs=1, batch_size=8, optimizer="adamw", lr=3e-3, max_seconds=3)


# ------------------------------------------------------------------------------------------- engine


def _config(**overrides) -> SearchConfig:  # noqa: ANN003
    settings = dict(space="autox3d", strategy="evolution", trials=6, executor="inprocess", strategy_options={"population": 3},
                    recipe=FAST_RECIPE, objectives=["accuracy", "latency_ms"], rungs=None, final_retrain=False, constraint=None)
    settings.update(overrides)
    return SearchConfig(**settings)


@pytest.fixture()
def synthetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, search_home: Path):  # noqa: ANN201
    monkeypatch.setenv("VIDNAS_HOME", str(search_home))
    monkeypatch.setenv("VIDNAS_SYNTHETIC_LOG", str(tmp_path / "calls.log"))
    monkeypatch.delenv("VIDNAS_SYNTHETIC_FAULTS", raising=False)
    return tmp_path


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().split() if log.is_file() else []


def test_a_search_on_one_folder_holds_out_a_stratified_split_and_keeps_it_on_resume(synthetic_env: Path, tmp_path: Path) -> None:
    import shutil

    from vidnas.data import load_source, synthesize

    generated = synthesize(tmp_path / "synth", classes=2, train_per_class=5, val_per_class=1, size=16, frames=4, seed=1)
    folder = generated["train"].parent / "train"
    out = synthetic_env / "out"
    config = _config(space="tvn", data=str(folder), val=None, trials=2)
    assert config.identity()["val_fraction"] == 0.2
    run_search(config, out, evaluator=SYNTHETIC, progress=False)
    val = load_source(out / "split" / "val.csv", classes=out / "split" / "val.classes.txt")
    train = load_source(out / "split" / "train.csv", classes=out / "split" / "train.classes.txt")
    assert val.class_counts() == {"move_left": 1, "move_right": 1} and len(train) == 8
    report = (out / "report.html").read_text()
    assert "a stratified 20% of each class" in report
    # the folder gains videos; the resumed search keeps the split it started with
    for video in list((folder / "move_left").iterdir())[:2]:
        shutil.copy(video, video.with_name("copy_" + video.name))
    before = (out / "split" / "val.csv").read_text()
    run_search(config.model_copy(update={"trials": 3}), out, evaluator=SYNTHETIC, progress=False)
    assert (out / "split" / "val.csv").read_text() == before
    with pytest.raises(VidnasError, match="other settings"):  # another fraction is another study
        run_search(config.model_copy(update={"val_fraction": 0.4}), out, evaluator=SYNTHETIC, progress=False)


def test_undecodable_videos_in_a_searchs_data_are_skipped_counted_and_named(synthetic_env: Path, tmp_path: Path) -> None:
    from vidnas.data import synthesize

    generated = synthesize(tmp_path / "synth", classes=2, train_per_class=5, val_per_class=1, size=16, frames=4, seed=1)
    folder = generated["train"].parent / "train"
    good = next((folder / "move_right").iterdir()).read_bytes()
    (folder / "move_right" / "corrupt.mp4").write_bytes(bytes(range(256)) * 12)
    (folder / "move_right" / "truncated.mp4").write_bytes(good[: len(good) * 2 // 5])
    (folder / "move_left" / "empty.mp4").write_bytes(b"")
    (folder / "move_left" / "notes.avi").write_text("not a video")  # a video's extension, not a video
    out = synthetic_env / "out"
    result = run_search(_config(space="tvn", data=str(folder), trials=3), out, evaluator=SYNTHETIC, progress=False)
    assert sum(t.status == "ok" for t in result.trials) == 3
    skipped = json.loads(Study.load("search", str(out / "study.db")).study.user_attrs["vidnas.skipped_videos"])
    assert sorted(Path(v["path"]).name for v in skipped) == ["corrupt.mp4", "empty.mp4", "notes.avi", "truncated.mp4"]
    assert all(v["error"] for v in skipped)
    report = (out / "report.html").read_text()
    assert "Videos left out" in report and "4 videos of the data could not be decoded" in report and "truncated.mp4" in report


def test_search_records_failures_and_goes_on(synthetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDNAS_SYNTHETIC_FAULTS", "raise:1,nan:2")
    result = run_search(_config(), synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    by_number = {t.number: t for t in result.trials}
    assert by_number[1].status == "failed" and "injected failure" in by_number[1].attrs["reason"]
    assert by_number[2].status == "failed" and "not finite" in by_number[2].attrs["reason"]
    assert sum(t.trained for t in result.trials) == 6
    assert len(result.completed) == 4
    study = Study.load("search", result.storage)
    states = {t.number: t.state.name for t in study.study.get_trials()}
    assert states[1] == "FAIL" and states[0] == "COMPLETE"
    report = (synthetic_env / "out" / "report.html").read_text()
    assert "injected failure" in report
    for name in ("pareto.png", "progress.png", "best_architecture.png", "best.json"):
        assert (synthetic_env / "out" / name).stat().st_size > 0
    from vidnas.genotype import load_genotype

    ensemble = load_genotype(synthetic_env / "out" / "ensemble.json")
    assert 2 <= len(ensemble.members) <= 3
    assert ensemble.members[0].fingerprint() == max(result.completed, key=lambda t: t.fitness).fingerprint


def test_duplicates_are_not_trained_twice(synthetic_env: Path) -> None:
    tiny = {"frames": [2], "sizes": [32], "frame_strides": [1], "max_blocks": 1, "spatial_types": ["std"], "spatial_kernels": [3],
            "spatial_strides": [2], "temporal_types": ["1d"], "temporal_kernels": [1], "temporal_strides": [1], "filters": [8, 16],
            "expands": [1], "repeats": [1], "squeezes": [0.0]}
    config = _config(space="tvn", space_options=tiny, strategy="random", strategy_options={}, trials=4)  # 8 architectures (filters × skip × gate)
    result = run_search(config, synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    calls = _calls(synthetic_env)
    assert len(calls) == len(set(calls)) == 4
    duplicates = [t for t in result.trials if t.status == "duplicate"]
    assert duplicates, "random search over 8 architectures should repeat itself"
    originals = {t.number: t for t in result.trials}
    for trial in duplicates:
        source = originals[trial.attrs["duplicate_of"]]
        assert trial.fingerprint == source.fingerprint and trial.fitness == source.fitness


def test_constrained_search_never_trains_over_the_limit(synthetic_env: Path) -> None:
    config = _config(space="tvn", strategy="constrained", trials=5, constraint=ConstraintSpec(metric="macs", limit=2e7))
    result = run_search(config, synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    trained = [t for t in result.trials if t.trained]
    rejected = [t for t in result.trials if t.status == "rejected"]
    assert len(trained) == 5 and rejected
    assert all(t.attrs["cost"] <= 2e7 and t.metrics["macs"] <= 2e7 for t in trained)
    assert all(t.attrs["cost"] > 2e7 and "rejected before training" in t.attrs["reason"] for t in rejected)
    assert len(_calls(synthetic_env)) == 5


def test_penalty_mode_trains_violators_with_a_lower_fitness(synthetic_env: Path) -> None:
    config = _config(space="tvn", strategy="constrained", trials=6, constraint=ConstraintSpec(metric="macs", limit=2e7, mode="penalty", weight=0.5))
    result = run_search(config, synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    over = [t for t in result.completed if t.attrs["cost"] > 2e7]
    assert not [t for t in result.trials if t.status == "rejected"]
    for trial in over:
        assert trial.fitness == pytest.approx(trial.metrics["accuracy"] - 0.5 * (trial.attrs["cost"] / 2e7 - 1))


def test_rerun_continues_the_study_and_refuses_other_settings(synthetic_env: Path) -> None:
    out = synthetic_env / "out"
    first = run_search(_config(trials=3), out, evaluator=SYNTHETIC, progress=False)
    second = run_search(_config(trials=5), out, evaluator=SYNTHETIC, progress=False)
    assert sum(t.trained for t in second.trials) == 5
    assert [(t.number, t.fingerprint, t.fitness) for t in second.trials[:3]] == [(t.number, t.fingerprint, t.fitness) for t in first.trials[:3]]
    with pytest.raises(VidnasError, match="other settings"):
        run_search(_config(trials=6, seed=1), out, evaluator=SYNTHETIC, progress=False)
    with pytest.raises(VidnasError, match="no study 'other'.*it holds: search"):
        Study.load("other", str(out / "study.db"))  # a plain path is an SQLite file
    assert len(Study.load("search", str(out / "study.db")).trials()) == len(second.trials)


def _open_study_at_the_barrier(url: str, barrier, results) -> None:  # noqa: ANN001
    barrier.wait()
    try:
        Study("search", url)
        results.put("ok")
    except Exception as error:  # noqa: BLE001
        results.put(repr(error))


def test_several_processes_may_create_one_new_study_at_once(tmp_path: Path) -> None:
    # Without the retry in open_storage, Optuna's schema set-up races (UNIQUE constraint failed:
    # alembic_version) in about a third of rounds of four processes.
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for round_ in range(2):
        url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        barrier, results = context.Barrier(4), context.Queue()
        processes = [context.Process(target=_open_study_at_the_barrier, args=(url, barrier, results)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(120)
        assert [results.get(timeout=5) for _ in processes] == ["ok"] * 4
        assert len(Study.load("search", url).trials()) == 0


def test_opening_a_storage_retries_only_the_schema_race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import optuna

    from vidnas.search._study import open_storage

    real, calls = optuna.storages.RDBStorage, []

    def racing_once(url: str):  # noqa: ANN202
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: alembic_version.version_num")
        return real(url)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing_once)
    assert open_storage(optuna, f"sqlite:///{tmp_path / 'a.db'}") is not None and len(calls) == 2

    def broken(url: str):  # noqa: ANN202
        calls.append(url)
        raise RuntimeError("unable to open database file")

    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(VidnasError, match=r"--storage sqlite:///.*b\.db: cannot open \(RuntimeError: unable to open database file\)"):
        open_storage(optuna, f"sqlite:///{tmp_path / 'b.db'}")
    assert len(calls) == 1


RESUME_SCRIPT = """
import sys
from vidnas.search import SearchConfig, run_search
if __name__ == "__main__":
    config = SearchConfig(space="autox3d", strategy="evolution", trials=8, executor="inprocess", strategy_options={"population": 3},
                          recipe=dict(epochs=1, max_seconds=3), rungs=None, final_retrain=False)
    run_search(config, sys.argv[1], evaluator="vidnas.search._synthetic:evaluate", progress=False)
"""


def test_search_killed_with_sigkill_resumes_without_losing_trials(synthetic_env: Path) -> None:
    script = synthetic_env / "run.py"
    script.write_text(RESUME_SCRIPT)
    out = synthetic_env / "out"
    env = dict(os.environ, VIDNAS_SYNTHETIC_FAULTS="sleep:0.6")
    process = subprocess.Popen([sys.executable, str(script), str(out)], env=env)
    storage = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + 120
    completed = []
    while time.time() < deadline:
        time.sleep(0.3)
        try:
            completed = [t for t in Study.load("search", storage).trials() if t.status == "ok"]
        except VidnasError:
            continue
        if len(completed) >= 3:
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(completed) >= 3
    before = {t.number: (t.fingerprint, t.fitness) for t in Study.load("search", storage).trials() if t.status == "ok"}
    subprocess.run([sys.executable, str(script), str(out)], env=env, check=True, timeout=180)
    after = Study.load("search", storage).trials()
    assert {t.number: (t.fingerprint, t.fitness) for t in after if t.number in before} == before
    assert sum(t.trained for t in after) == 8
    interrupted = [t for t in after if t.status == "interrupted"]
    redone = [t for t in after if t.attrs.get("origin") == "requeue"]
    assert len(redone) == len(interrupted) <= 1
    assert (out / "report.html").is_file()


def test_running_trials_of_a_machine_that_stopped_beating_are_redone(synthetic_env: Path) -> None:
    import socket

    out = synthetic_env / "out"
    run_search(_config(trials=2), out, evaluator=SYNTHETIC, progress=False)
    study = Study.load("search", str(out / "study.db"))
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert time.time() - study.last_beat(me) < 60  # the search beat its heartbeat
    genotype = study.trials()[0].genotype
    # Two trials left RUNNING by searches on other machines: one still beating, one silent for ten minutes.
    for worker, beat in (("alive-host:11", time.time()), ("dead-host:12", time.time() - 600)):
        trial = study.study.ask()
        study.set_trial_attrs(trial, {"genotype": genotype.to_json(indent=None), "fingerprint": genotype.fingerprint(), "origin": "random", "worker": worker})
        study.study.set_user_attr(f"vidnas.heartbeat.{worker}", beat)
    result = run_search(_config(trials=3), out, evaluator=SYNTHETIC, progress=False)
    by_worker = {t.attrs.get("worker"): t for t in result.trials}
    assert by_worker["dead-host:12"].status == "interrupted"
    assert re.search(r"dead-host:12\) sent no heartbeat for 6\d\d s", by_worker["dead-host:12"].attrs["reason"])
    assert by_worker["alive-host:11"].status == "running"  # left to its own machine
    redone = [t for t in result.trials if t.attrs.get("origin") == "requeue"]
    assert len(redone) == 1 and redone[0].fingerprint == genotype.fingerprint()


ORPHAN_SCRIPT = """
import sys, time
from vidnas.search._executors import LocalExecutor
if __name__ == "__main__":
    executor = LocalExecutor("vidnas.search._synthetic:evaluate", workers=1, threads=1)
    executor.submit(0, {"genotype": {}, "trial": 0})
    deadline = time.time() + 60
    while not executor.pool._processes and time.time() < deadline:
        time.sleep(0.1)
    print(*executor.pool._processes, flush=True)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_killed_search_leaves_no_worker_running(synthetic_env: Path) -> None:
    script = synthetic_env / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    env = dict(os.environ, VIDNAS_SYNTHETIC_FAULTS="sleep:60")  # the worker would be busy for a minute
    parent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline().split()[0])
    assert _running(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 15
    while _running(worker) and time.time() < deadline:
        time.sleep(0.2)
    assert not _running(worker), f"the worker kept training after its search process was killed: {Path(f'/proc/{worker}/status').read_text()[:400]}"


def test_local_pool_survives_a_crashed_worker(synthetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDNAS_SYNTHETIC_FAULTS", "exit:1")
    result = run_search(_config(trials=3, executor="local", workers=1), synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    by_number = {t.number: t for t in result.trials}
    assert by_number[1].status == "failed" and "worker process died" in by_number[1].attrs["reason"]
    assert by_number[0].status == by_number[2].status == "ok"


def test_local_workers_are_pinned_one_per_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from vidnas.search._executors import LocalExecutor, default_workers, worker_devices

    assert worker_devices("cuda", 3, cuda_count=2) == ["cuda:0", "cuda:1", "cuda:0"]
    assert worker_devices("cuda", 2, cuda_count=1) == [None, None]  # one GPU: shared, not pinned
    assert worker_devices("cuda:1", 2, cuda_count=4) == [None, None]  # an explicit GPU is shared by every worker
    assert worker_devices("cpu", 2, cuda_count=4) == [None, None]
    assert default_workers("cpu", "local") == 1 and default_workers("cuda", "inprocess") == 1
    # A pool pinned to two (pretend) GPUs: each worker process rewrites a "cuda" payload to its own device.
    monkeypatch.setenv("VIDNAS_SYNTHETIC_FAULTS", "sleep:1.0")
    executor = LocalExecutor(SYNTHETIC, workers=2, threads=1, devices=["cuda:0", "cuda:1"])
    genotype = make_space("tvn").sample(random.Random(0)).model_dump(mode="json")
    try:
        for key in range(4):
            executor.submit(key, {"genotype": genotype, "device": "cuda"})
        results: dict[int, dict] = {}
        deadline = time.time() + 120
        while len(results) < 4 and time.time() < deadline:
            results.update(executor.wait(1.0))
    finally:
        executor.shutdown()
    assert len(results) == 4 and all(r["status"] == "ok" for r in results.values())
    by_pid: dict[int, set] = {}
    for r in results.values():
        by_pid.setdefault(r["worker_pid"], set()).add(r["device"])
    assert sorted(d for devices in by_pid.values() for d in devices) and all(len(d) == 1 for d in by_pid.values())
    assert set().union(*by_pid.values()) == {"cuda:0", "cuda:1"}


def test_ray_executor_runs_a_two_trial_search(synthetic_env: Path) -> None:
    pytest.importorskip("ray")
    result = run_search(_config(trials=2, executor="ray", workers=2, threads=2), synthetic_env / "out", evaluator=SYNTHETIC, progress=False)
    assert [t.status for t in result.trials if t.trained] == ["ok", "ok"]


def test_budget_parsing() -> None:
    assert parse_budget("10m") == (None, 600.0)
    assert parse_budget("90s") == (None, 90.0)
    assert parse_budget("25") == (25, None)
    with pytest.raises(VidnasError, match="trial count"):
        parse_budget("2.5")
    with pytest.raises(VidnasError, match="expected a trial count"):
        parse_budget("soon")


# -------------------------------------------------------------------------------- latency predictor


def test_latency_predictor_ops_match_exact_macs_and_save_load(tmp_path: Path) -> None:
    from vidnas.measure import LatencyPredictor, calibrate, count_macs, genotype_ops
    from vidnas.network import build_model

    space = make_space("tvn")
    genotype = space.sample(random.Random(4))
    model = build_model(genotype)
    total = count_macs(model, model.example_input(1)).macs
    head = genotype.head.num_classes * genotype.check()[genotype.nodes[-1].name].channels
    ops = genotype_ops(genotype)
    conv_macs = sum(macs for kind, *_rest, macs, _ in ops if kind.startswith("conv") or kind == "se")
    assert abs(conv_macs - (total - head)) / total < 0.02
    predictor = calibrate(space, samples=6, held_out=4, op_samples=10, runs=2, rounds=2, threads=1)
    report = predictor.report
    assert report["held_out_architectures"] == 4 and report["op_architectures"] == 10
    rng = random.Random(0)
    sampled = [space.sample(rng) for _ in range(10)]
    calibration_ops = {row[1] for g in sampled[:6] for row in genotype_ops(g)}
    assert calibration_ops <= set(predictor.table) and len(predictor.table) == report["ops_measured"] > len(calibration_ops)
    held_out_ops = [row[1] for g in sampled[6:] for row in genotype_ops(g)]
    assert report["held_out_ops_in_table"] == pytest.approx(sum(s in predictor.table for s in held_out_ops) / len(held_out_ops), abs=1e-3)
    assert -1.0 <= report["spearman"] <= 1.0 and report["mape"] >= 0 and report["measurement_noise"] >= 0
    assert all(v > 0 for v in predictor.table.values())
    predictor.save(tmp_path / "p.json")
    loaded = LatencyPredictor.load(tmp_path / "p.json")
    assert loaded.predict(genotype) == pytest.approx(predictor.predict(genotype))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(VidnasError, match="not a vidnas latency predictor"):
        LatencyPredictor.load(tmp_path / "bad.json")


# ------------------------------------------------------------------------------------------------ CLI


def _vidnas(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidnas.cli", *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_cli_search_end_to_end_with_real_training(tmp_path: Path) -> None:
    env = dict(os.environ, VIDNAS_HOME=str(tmp_path / "home"))
    out = tmp_path / "search"
    result = _vidnas("search", "--out", str(out), "--budget", "3", "--rungs", "4,8", "--latency-ms", "60", "--final-top-k", "1",
                     "--final-seeds", "1", "--final-steps", "4", "--strategy-option", "population=2", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "report:" in result.stdout and "retrained from scratch" in result.stdout
    assert re.search(r"(Searching was|Searching did not|A baseline won)", result.stdout)
    study = Study.load("search", f"sqlite:///{out / 'study.db'}")
    trained = [t for t in study.trials() if t.trained]
    first = [t for t in trained if t.attrs["rung"] == 0]
    assert len(first) == 3 and len(trained) == 4 and all(t.attrs["cost"] <= 60 for t in trained)  # 3 screened, the best continued
    assert all(t.metrics["steps"] == (4 if t.attrs["rung"] == 0 else 8) for t in trained if t.status == "ok")
    assert len(study.finals()) == 4  # the pick and three baselines, one seed each
    ok = [t for t in trained if t.status == "ok"]
    assert ok and all(0.0 <= t.metrics["accuracy"] <= 1.0 and t.metrics["train_seconds"] > 0 for t in ok)
    winner = next(row for row in Study.load("search", f"sqlite:///{out / 'study.db'}").finals().values())  # noqa: F841 - finals exist
    assert load_genotype(out / "best.json").family in ("tvn", "baseline", "autox3d")  # the retraining's winner may be a baseline
    assert (out / "best.safetensors").is_file() and "trained network:" in result.stdout
    pareto = list((out / "pareto").iterdir())
    assert pareto and all((p / "final.safetensors").is_file() and (p / "genotype.json").is_file() for p in pareto)
    rebuilt = _vidnas("report", "--study", "search", "--storage", f"sqlite:///{out / 'study.db'}", "--out", str(tmp_path / "again"), env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (tmp_path / "again" / "report.html").is_file() and (tmp_path / "again" / "pareto.png").is_file()
    assert "trained network:" in rebuilt.stdout and (tmp_path / "again" / "best.md").is_file()  # the answer, from the study and its checkpoints


def test_cli_search_errors_are_specific(tmp_path: Path) -> None:
    bad_budget = _vidnas("search", "--out", str(tmp_path), "--budget", "soon")
    assert bad_budget.returncode == 2 and "--budget 'soon'" in bad_budget.stderr and "Traceback" not in bad_budget.stderr
    bad_space = _vidnas("search", "--out", str(tmp_path), "--space", "nope", "--budget", "1")
    assert bad_space.returncode == 2 and "unknown search space 'nope'" in bad_space.stderr
    missing = _vidnas("report", "--storage", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(tmp_path / "r"))
    assert missing.returncode == 2 and "no such database file" in missing.stderr
    assert not (tmp_path / "none.db").exists()  # reading a report never creates a database
    two_limits = _vidnas("search", "--out", str(tmp_path), "--latency-ms", "5", "--max-macs", "1e6")
    assert two_limits.returncode == 2 and "one limit" in two_limits.stderr


def test_candidate_records_at_the_executor_boundary() -> None:
    from vidnas.search import CandidateResult, CandidateTask
    from vidnas.train import Recipe

    genotype = make_space("tvn").sample(random.Random(0))
    task = CandidateTask(genotype=genotype.model_dump(mode="json"), recipe=Recipe(frames=4, size=16, frame_stride=3), steps=100)
    assert (task.recipe.frames, task.recipe.size, task.recipe.frame_stride) == (None, None, None)  # the genotype's input rules
    assert CandidateTask.model_validate(json.loads(json.dumps(task.payload()))) == task
    with pytest.raises(ValueError, match="stepz"):
        CandidateTask.model_validate(task.payload() | {"stepz": 3})
    ok = CandidateResult.read({"status": "ok", "map": 0.4, "macs": 12, "worker_pid": 7})
    assert ok.ok and ok.accuracy == 0.4 and ok.metrics() == {"accuracy": 0.4, "map": 0.4, "macs": 12} and ok.worker_pid == 7
    bad = CandidateResult.read({"status": "ok", "accuracy": "high"})
    assert not bad.ok and bad.status == "failed" and "accuracy" in bad.reason
    assert not CandidateResult.read({"status": "failed", "reason": "worker died"}).ok
