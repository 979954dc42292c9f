"""The search loop: ask the strategy, check the constraint, skip known fingerprints, hand candidates to the
executor, record results in the study, tell the strategy — until the budget is spent. Rerunning with the same
study continues it: completed trials are kept, the strategy is rebuilt from them in the order it was told, the
trial count goes on, and candidates interrupted by a killed search are evaluated again."""

from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidnas.errors import GenotypeError, VidnasError
from vidnas.genotype import Genotype
from vidnas.search._config import SearchConfig
from vidnas.search._constraint import Constraint
from vidnas.search._executors import DEFAULT_EVALUATOR, make_executor
from vidnas.search._study import StoredTrial, Study
from vidnas.spaces import SearchSpace, make_space
from vidnas.strategies import Strategy, TrialRecord, make_strategy

MAX_IDLE_PROPOSALS = 200  # consecutive rejected / duplicate proposals before the search gives up
HEARTBEAT_SECONDS = 30.0  # how often a search process records that it is alive
STALE_AFTER_SECONDS = 300.0  # another machine's running trial is redone after this long without its heartbeat
SEARCH_DATA = dict(classes=4, task="motions", train_per_class=64, val_per_class=32, size=32, frames=16, object_scale=2.0)
"""The built-in data set as search uses it without --data: four forward motions (move right, move down, zoom in,
rotate) at 32², the object twice as large and moving twice as far as in the default clips, so that seconds of
proxy training can separate candidates on two CPU cores (benchmarks/results/proxy_fidelity_tvn.md)."""


@dataclass
class SearchResult:
    study: str
    storage: str
    out: Path
    trials: list[StoredTrial]
    elapsed: float
    stopped: str
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> list[StoredTrial]:
        return [t for t in self.trials if t.status == "ok"]

    @property
    def best(self) -> StoredTrial | None:
        done = [t for t in self.trials if t.status == "ok" and t.fitness is not None]
        return max(done, key=lambda t: (t.fitness, -t.number)) if done else None


def build_space(config: SearchConfig, num_classes: int) -> SearchSpace:
    try:
        return make_space(config.space, num_classes, preset=config.space_preset, **config.space_options)
    except TypeError as error:
        raise VidnasError(f"space {config.space!r}: {error}") from None


def build_strategy(config: SearchConfig, space: SearchSpace) -> Strategy:
    options = dict(config.strategy_options)
    if config.strategy == "pareto":
        options.setdefault("objectives", tuple(config.objectives))
    return make_strategy(config.strategy, space, seed=config.seed, budget=config.trials, **options)


def prepare_data(config: SearchConfig, space: SearchSpace, log: Any = None) -> tuple[str, str, int]:
    """(train, val, number of classes): the sources, or decoded-clip caches of them sized for the space."""
    from vidnas.data import ClipCache, build_cache, builtin_dataset, data_home, load_source

    if config.data is None:
        paths = builtin_dataset(**SEARCH_DATA)
        train_spec, val_spec, classes = str(paths["train"]), str(paths["val"]), str(paths["classes"])
    else:
        train_spec, val_spec, classes = config.data, config.val, config.classes
        if val_spec is None:
            raise VidnasError("--data needs --val (the search scores candidates on held-out clips)")
    if (Path(train_spec) / "index.json").is_file():
        cache = ClipCache(train_spec)
        return train_spec, val_spec, len(cache.classes)
    train = load_source(train_spec, classes=classes)
    val = load_source(val_spec, classes=classes)
    if not config.cache:
        return train_spec, val_spec, len(train.classes)
    frames, size = space.input_extent()
    flow = "dis" if "flow" in space.streams else None
    out = []
    for kind, source, spec in (("train", train, train_spec), ("val", val, val_spec)):
        key = hashlib.sha256(json.dumps([str(Path(spec).resolve()), frames, size, flow]).encode()).hexdigest()[:12]
        folder = data_home() / "search-cache" / f"{kind}-{key}"
        if log:
            log(f"caching {kind} clips ({frames} frames, {size}px{', flow' if flow else ''}) in {folder}")
        build_cache(source, folder, frames=frames, size=size, flow=flow)
        out.append(str(folder))
    return out[0], out[1], len(train.classes)


def _record(trial: StoredTrial) -> TrialRecord:
    status = "ok" if trial.status == "ok" or (trial.status == "duplicate" and trial.fitness is not None) else ("rejected" if trial.status in ("rejected", "duplicate") else "failed")
    return TrialRecord(trial.number, trial.genotype, status, trial.fitness, _objectives(trial.metrics), trial.metrics)


def _objectives(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k in ("accuracy", "latency_ms", "peak_memory_mb", "macs", "params") and isinstance(v, (int, float))}


KEEP_METRICS = ("accuracy", "top1", "top5", "map", "val_loss", "train_loss", "train_seconds", "steps", "params", "macs",
                "latency_ms", "peak_memory_mb", "connection_weights", "wall_seconds", "loss_curve")


class Search:
    def __init__(self, config: SearchConfig, out: str | Path, *, study: str = "search", storage: str | None = None,
                 evaluator: str = DEFAULT_EVALUATOR, progress: bool = True, console: Any = None, stale_after: float = STALE_AFTER_SECONDS):
        self.config, self.out = config, Path(out)
        self.stale_after = stale_after
        self.out.mkdir(parents=True, exist_ok=True)
        self.study_name = study
        self.storage = storage or f"sqlite:///{(self.out / 'study.db').resolve()}"
        self.evaluator, self.show_progress = evaluator, progress
        from rich.console import Console

        self.console = console or Console(stderr=True)

    def log(self, message: str) -> None:
        if self.show_progress:
            self.console.print(f"[dim]vidnas search:[/dim] {message}")

    def run(self) -> SearchResult:
        config = self.config
        train, val, num_classes = prepare_data(config, build_space(config, 2), self.log)
        space = build_space(config, num_classes)
        strategy = build_strategy(config, space)
        objectives = list(config.objectives)
        study = Study(self.study_name, self.storage, objectives=objectives, multi_objective=strategy.multi_objective)
        stored_config = study.config()
        identity = config.identity()
        if stored_config is None:
            study.set_config(dict(identity, out=str(self.out)))
        elif {k: stored_config.get(k) for k in identity} != identity:
            changed = sorted(k for k in identity if stored_config.get(k) != identity[k])
            raise VidnasError(f"study {self.study_name!r} in {self.storage} was started with other settings ({', '.join(changed)}); "
                              "use another --study or the original settings")
        constraint = Constraint(config.constraint, device=config.device, threads=config.threads) if config.constraint else None
        requeue = [t.genotype for t in study.mark_interrupted(self.stale_after) if t.genotype is not None]
        heartbeat = _Heartbeat(study, _worker(), min(HEARTBEAT_SECONDS, self.stale_after / 4))
        history = study.trials()
        told = sorted((t for t in history if t.status in ("ok", "failed", "rejected", "duplicate") and t.genotype is not None), key=lambda t: (t.attrs.get("told", t.number), t.number))
        for trial in told:
            strategy.tell(_record(trial))
        known = {t.fingerprint: t for t in told if t.trained and t.fingerprint}
        trained = sum(1 for t in told if t.trained)
        told_counter = max([t.attrs.get("told", -1) for t in told] + [-1]) + 1
        seen = {t.number for t in history}  # trials this process has told its strategy (or will: its own)
        if history:
            self.log(f"resuming study {self.study_name!r}: {trained} trained trials, {len(requeue)} interrupted ones to redo")
        previous_elapsed = study.elapsed()
        started = time.monotonic()
        elapsed = lambda: previous_elapsed + time.monotonic() - started  # noqa: E731

        if getattr(strategy, "needs_supernet", False):
            self._supernet_phase(strategy, config, space, train, val, study)

        threads = config.threads
        worker_threads = max(1, (threads or _cpu_count()) // config.workers)
        executor = make_executor(config.executor, evaluator=self.evaluator, workers=config.workers, threads=worker_threads,
                                 timeout=config.candidate_timeout, address=config.ray_address, gpus=1 if config.device.startswith("cuda") else 0,
                                 device=config.device)
        running: dict[int, tuple[Any, dict[str, Any], Genotype]] = {}
        running_fps: dict[str, int] = {}
        durations = [t.metrics.get("wall_seconds") for t in told if t.metrics.get("wall_seconds")]
        idle = 0
        stopped = "budget"
        progress = _Progress(self, config, trained, elapsed) if self.show_progress else None

        def budget_left() -> bool:
            if config.trials is not None and trained + len(running) >= config.trials:
                return False
            if config.seconds is not None:
                typical = statistics.median(durations) if durations else 0.0
                if elapsed() + 0.5 * typical >= config.seconds:
                    return False
            return True

        def sync() -> None:
            """Tell the strategy what other machines sharing the study finished since we last looked."""
            nonlocal trained
            for trial in study.finished_since(seen):
                seen.add(trial.number)
                if trial.genotype is None:
                    continue
                strategy.tell(_record(trial))
                if trial.trained and trial.fingerprint:
                    known.setdefault(trial.fingerprint, trial)
                    trained += 1

        def tell(record: TrialRecord, attrs: dict[str, Any]) -> None:
            nonlocal told_counter
            attrs["told"] = told_counter
            told_counter += 1
            strategy.tell(record)

        try:
            while True:
                while len(running) < config.workers and budget_left():
                    if idle >= MAX_IDLE_PROPOSALS:
                        stopped = "exhausted"
                        break
                    sync()
                    if heartbeat.due_check():  # candidates of machines that stopped beating are redone here
                        requeue += [t.genotype for t in study.mark_interrupted(self.stale_after) if t.genotype is not None]
                    if not budget_left():
                        break
                    trial = study.study.ask()
                    number = trial.number
                    seen.add(number)
                    rng = random.Random(f"{config.seed}:{number}")
                    if requeue:
                        genotype, origin, parent, operators = requeue.pop(0), "requeue", None, []
                    else:
                        try:
                            proposal = strategy.ask(number, rng)
                        except GenotypeError as error:
                            study.finish(trial, "failed", {"reason": f"strategy could not propose: {error}"}, None)
                            stopped = "exhausted"
                            break
                        genotype, origin, parent, operators = proposal.genotype, proposal.origin, proposal.parent, proposal.operators
                    fingerprint = genotype.fingerprint()
                    attrs: dict[str, Any] = {"genotype": genotype.to_json(indent=None), "fingerprint": fingerprint, "origin": origin,
                                             "parent": parent, "operators": operators, "elapsed_start": round(elapsed(), 3)}
                    study.set_trial_attrs(trial, {**attrs, "worker": _worker()})
                    if fingerprint in known:  # the same architecture again: reuse its result, train nothing
                        original = known[fingerprint]
                        attrs.update(duplicate_of=original.number, metrics=original.metrics, fitness=original.fitness, cost=original.attrs.get("cost"))
                        values = self._values(original.metrics, original.fitness) if original.status == "ok" else None
                        tell(TrialRecord(number, genotype, "ok" if values else "failed", original.fitness, _objectives(original.metrics), original.metrics), attrs)
                        study.finish(trial, "duplicate", attrs, values)
                        idle += 1
                        continue
                    if fingerprint in running_fps:
                        attrs.update(duplicate_of=running_fps[fingerprint], reason="same architecture is being evaluated")
                        tell(TrialRecord(number, genotype, "rejected"), attrs)
                        study.finish(trial, "rejected", attrs, None)
                        idle += 1
                        continue
                    if constraint is not None:
                        try:
                            cost = constraint.cost(genotype)
                        except Exception as error:  # noqa: BLE001 - an unbuildable candidate fails, the search goes on
                            attrs.update(reason=f"cost measurement failed: {type(error).__name__}: {error}")
                            tell(TrialRecord(number, genotype, "failed"), attrs)
                            study.finish(trial, "failed", attrs, None)
                            trained += 1
                            continue
                        attrs["cost"] = cost
                        if constraint.violates(cost) and constraint.spec.mode == "reject":
                            attrs["reason"] = f"rejected before training: {constraint.describe(cost)}"
                            tell(TrialRecord(number, genotype, "rejected"), attrs)
                            study.finish(trial, "rejected", attrs, None)
                            idle += 1
                            if progress:
                                progress.update(rejected=1)
                            continue
                    idle = 0
                    payload = {
                        "genotype": json.loads(attrs["genotype"]), "recipe": config.recipe.model_dump(mode="json"), "data": train, "val": val,
                        "device": config.device, "threads": worker_threads if config.executor != "inprocess" else threads,
                        "peak_memory": "peak_memory_mb" in objectives, "checkpoint": str((self.out / "checkpoints" / f"trial_{number:04d}").resolve()),
                        "latency": True,
                    }
                    executor.submit(number, payload)
                    running[number] = (trial, attrs, genotype)
                    running_fps[fingerprint] = number
                if not running:
                    if stopped == "budget" and idle >= MAX_IDLE_PROPOSALS:
                        stopped = "exhausted"
                    break
                for number, result in executor.wait(timeout=0.5):
                    trial, attrs, genotype = running.pop(number)
                    running_fps.pop(attrs["fingerprint"], None)
                    status = "ok" if result.get("status") == "ok" and result.get("accuracy") is not None else "failed"
                    metrics = {k: result[k] for k in KEEP_METRICS if k in result and result[k] is not None}
                    fitness = None
                    if status == "ok":
                        fitness = float(metrics["accuracy"])
                        if not math.isfinite(fitness):
                            status, fitness = "failed", None
                            result["reason"] = "accuracy is not finite"
                        elif constraint is not None:
                            cost = attrs.get("cost")
                            fitness = constraint.penalised(fitness, cost)
                    attrs.update(metrics=metrics, fitness=fitness, elapsed_end=round(elapsed(), 3))
                    if status != "ok":
                        attrs["reason"] = result.get("reason", "unknown failure")
                    if result.get("wall_seconds"):
                        durations.append(result["wall_seconds"])
                    tell(TrialRecord(number, genotype, status, fitness, _objectives(metrics), metrics), attrs)
                    study.finish(trial, status, attrs, self._values(metrics, fitness) if status == "ok" else None)
                    trained += 1
                    known[attrs["fingerprint"]] = StoredTrial(number, status, None, attrs["fingerprint"], fitness, metrics, attrs)
                    study.set_elapsed(elapsed())
                    if progress:
                        progress.finished(status, metrics.get("accuracy"), pareto=pareto_size(strategy))
        except KeyboardInterrupt:
            stopped = "interrupted"
            self.log("interrupted: finished trials are stored; rerun the same command to continue")
            raise
        finally:
            heartbeat.stop()
            executor.shutdown()
            study.set_elapsed(elapsed())
            if progress:
                progress.close()
        result = SearchResult(self.study_name, self.storage, self.out, study.trials(), elapsed(), stopped)
        from vidnas.report import write_search_outputs

        result.outputs = write_search_outputs(study, self.out, keep=config.keep_checkpoints)
        return result

    def _values(self, metrics: dict[str, Any], fitness: float | None) -> list[float] | None:
        if fitness is None:
            return None
        values = [float(fitness)]
        for name in self.config.objectives[1:]:
            value = metrics.get(name)
            values.append(float(value) if value is not None else math.inf)
        return values

    def _supernet_phase(self, strategy: Any, config: SearchConfig, space: SearchSpace, train: str, val: str, study: Study) -> None:
        from vidnas.data import ClipCache, load_source
        from vidnas.train import clip_dataset

        genotype = space.sample(random.Random(0))

        def dataset(spec: str, training: bool) -> Any:
            source = ClipCache(spec) if (Path(spec) / "index.json").is_file() else load_source(spec, classes=config.classes)
            return clip_dataset(source, config.recipe.model_copy(update={"frames": None, "size": None}), genotype, train=training)

        steps = config.supernet_steps or (None if config.seconds else 100)
        seconds = None if steps else config.seconds * config.supernet_fraction
        self.log(f"training the weight-sharing supernet ({f'{steps} steps' if steps else f'{seconds:.0f} s'})")
        summary = strategy.search_supernet(dataset(train, True), dataset(val, False), seconds=seconds, steps=steps,
                                           state_dir=self.out / "supernet")
        study.set_attr("vidnas.supernet", json.dumps({k: v for k, v in summary.items() if k != "history"}))
        self.log(f"supernet: {summary['steps']} steps in {summary['seconds']} s, distribution entropy {summary['entropy']}")


def pareto_size(strategy: Strategy) -> int:
    from vidnas.strategies import pareto_front

    points = [(-r.objectives["accuracy"], r.objectives.get("latency_ms", 0.0)) for r in strategy.records if r.status == "ok" and "accuracy" in r.objectives]
    return len({points[i] for i in pareto_front(points)})


class _Heartbeat:
    """A daemon thread that beats the study's heartbeat for this process every ``interval`` seconds, so that
    other machines sharing the study can tell its running trials from those of a machine that died."""

    def __init__(self, study: Study, worker: str, interval: float):
        self.study, self.worker, self.interval = study, worker, interval
        self.stopping = threading.Event()
        self.last_check = time.monotonic()
        self._beat()
        self.thread = threading.Thread(target=self._run, name="vidnas-heartbeat", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        try:
            self.study.beat(self.worker)
        except Exception:  # noqa: BLE001 - a busy database: the next beat retries
            pass

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._beat()

    def due_check(self) -> bool:
        if time.monotonic() - self.last_check < self.interval:
            return False
        self.last_check = time.monotonic()
        return True

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def _worker() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class _Progress:
    """Live line: trials done / budget, failures, rejections, best accuracy, Pareto size, time left."""

    def __init__(self, search: Search, config: SearchConfig, done: int, elapsed: Any):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.config, self.elapsed = config, elapsed
        self.done, self.failed, self.rejected, self.best, self.pareto = done, 0, 0, None, 0
        total = config.trials if config.trials is not None else config.seconds
        self.progress = Progress(BarColumn(bar_width=20), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=search.console, transient=False)
        self.task = self.progress.add_task("", total=total)
        self.progress.start()
        self.refresh()

    def update(self, rejected: int = 0) -> None:
        self.rejected += rejected
        self.refresh()

    def finished(self, status: str, accuracy: float | None, pareto: int = 0) -> None:
        self.done += 1
        self.pareto = pareto
        if status != "ok":
            self.failed += 1
        elif accuracy is not None:
            self.best = accuracy if self.best is None else max(self.best, accuracy)
        self.refresh()

    def refresh(self) -> None:
        elapsed = self.elapsed()
        if self.config.trials is not None:
            completed, left = self.done, f"{self.config.trials - self.done} trials left"
        else:
            completed, left = min(elapsed, self.config.seconds), f"{max(0.0, self.config.seconds - elapsed) / 60:.1f} min left"
        if self.config.trials is not None:
            left = f"{max(0, self.config.trials - self.done)} left"
        best = f"{self.best:.3f}" if self.best is not None else "-"
        self.progress.update(self.task, completed=completed,
                             description=f"{self.done} trained, {self.failed} failed, {self.rejected} rejected · best {best} · Pareto {self.pareto} · {left}")

    def close(self) -> None:
        self.refresh()
        self.progress.stop()


def run_search(config: SearchConfig, out: str | Path, **options: Any) -> SearchResult:
    """Run (or continue) a search; see ``Search``."""
    return Search(config, out, **options).run()
