"""The search loop: ask the strategy, check the constraint, skip known fingerprints, hand candidates to the
executor, record results in the study, tell the strategy — until the budget is spent. Rerunning with the same
study continues it: completed trials are kept, the strategy is rebuilt from them in the order it was told, the
trial count goes on, and candidates interrupted by a killed search are evaluated again."""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidnas.errors import GenotypeError, VidnasError
from vidnas.genotype import Genotype, parse_genotype
from vidnas.search._config import SearchConfig
from vidnas.search._constraint import Constraint
from vidnas.search._evaluate import CandidateResult, CandidateTask
from vidnas.search._executors import DEFAULT_EVALUATOR, make_executor
import vidnas.search._fidelity as _fidelity
from vidnas.search._data import prepare_data, skipped_videos
from vidnas.search._halving import SuccessiveHalving
from vidnas.search._progress import SearchProgress
from vidnas.search._study import HEARTBEAT_SECONDS, Heartbeat, StoredTrial, Study, current, worker_name
from vidnas.spaces import SearchSpace, make_space
from vidnas.strategies import Strategy, TrialRecord, make_strategy

MAX_IDLE_PROPOSALS = 200  # consecutive rejected / duplicate proposals before the search gives up
STALE_AFTER_SECONDS = 300.0  # another machine's running trial is redone after this long without its heartbeat
"""The built-in data set as search uses it without --data: four forward motions (move right, move down, zoom in,
rotate) at 32², 16 frames, the object twice as large and moving twice as far as in the default clips; 4096
training clips (300 steps of batch 16 see each about once) and a 1024-clip validation split (binomial standard
error ≈ 0.014 instead of 0.04 with 128), rendered straight into a decoded-clip store (``builtin_store``). A
frame-blind network stays near 0.4 on it while a small 3D CNN reaches 0.99 in 300 steps."""


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
        """The search's pick: the best candidate at the highest rung reached (before the final retraining)."""
        ranked = current(self.trials)
        return ranked[0] if ranked else None


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


def _objectives(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k in ("accuracy", "latency_ms", "peak_memory_mb", "macs", "params") and isinstance(v, (int, float))}


TIE_BREAK = 1e-4
"""Fitness = accuracy + TIE_BREAK × mean true-class probability: validation accuracy ranks, the continuous
probability only breaks ties (it can never outweigh one clip of a 1024-clip validation split)."""


def score(metrics: dict[str, Any]) -> float | None:
    accuracy = metrics.get("accuracy")
    if accuracy is None or not math.isfinite(float(accuracy)):
        return None
    p_true = metrics.get("p_true")
    return float(accuracy) + (TIE_BREAK * float(p_true) if isinstance(p_true, (int, float)) and math.isfinite(p_true) else 0.0)


@dataclass
class Job:
    """One evaluation handed to the executor: a candidate at a rung (``candidate`` is the trial number of its
    first rung), or a final retraining (``final`` names it; ``trial`` is None)."""

    key: int
    genotype: Genotype
    attrs: dict[str, Any]
    trial: Any = None
    rung: int = 0
    candidate: int = 0
    final: str | None = None


class Ledger:
    """What the study says, in the form the loop needs: it records each result in the study and tells the
    strategy (in one order, kept in the ``told`` attribute, so a resumed search rebuilds the same strategy), and
    feeds successive halving (``halving``: each candidate's score per rung and which rungs it has started)."""

    def __init__(self, study: Study, strategy: Strategy, rungs: int, eta: int):
        self.study, self.strategy = study, strategy
        self.halving = SuccessiveHalving(rungs, eta)
        self.known: dict[str, StoredTrial] = {}  # fingerprint -> the candidate's first trial
        self.best_trial: dict[int, StoredTrial] = {}  # candidate -> its trial at the highest rung reached (ok)
        self.first: dict[int, StoredTrial] = {}  # candidate -> its first-rung trial
        self.seen: set[int] = set()
        self.trained = self.failed = self.rejected = 0
        self.counter = 0
        history = study.trials()
        self.history = history
        told = sorted((t for t in history if t.status in ("ok", "failed", "rejected", "duplicate") and t.genotype is not None),
                      key=lambda t: (t.attrs.get("told", t.number), t.number))
        for trial in told:
            self.absorb(trial)
        self.counter = max([t.attrs.get("told", -1) for t in told] + [-1]) + 1
        self.seen = {t.number for t in history}
        for t in history:
            if t.status == "running" and t.rung > 0:
                self.halving.started(t.candidate, t.rung)

    # -- reading ------------------------------------------------------------------------------------
    def absorb(self, trial: StoredTrial) -> None:
        """Take in a finished trial read from the study (history, or another machine's)."""
        self.seen.add(trial.number)
        if trial.genotype is None:
            return
        rung, candidate = trial.rung, trial.candidate
        self._tables(trial, rung, candidate)
        self.strategy.tell(self.record(trial, candidate))

    def _tables(self, trial: StoredTrial, rung: int, candidate: int) -> None:
        self.failed += trial.status == "failed"
        self.rejected += trial.status == "rejected"
        if trial.trained and rung == 0:
            self.trained += 1
            if trial.fingerprint:
                self.known.setdefault(trial.fingerprint, trial)
            self.first[candidate] = trial
        if trial.status not in ("ok", "failed") or rung >= self.halving.rungs:
            return
        scored = trial.status == "ok" and trial.fitness is not None
        self.halving.scored(candidate, rung, trial.fitness if scored else None)
        if scored:
            current = self.best_trial.get(candidate)
            if current is None or current.rung <= rung:
                self.best_trial[candidate] = trial

    @staticmethod
    def record(trial: StoredTrial, candidate: int | None = None) -> TrialRecord:
        status = "ok" if trial.status == "ok" or (trial.status == "duplicate" and trial.fitness is not None) else (
            "rejected" if trial.status in ("rejected", "duplicate") else "failed")
        metrics = dict(trial.metrics, rung=trial.rung)
        return TrialRecord(trial.number if candidate is None else candidate, trial.genotype, status, trial.fitness, _objectives(metrics), metrics)

    def sync(self) -> None:
        """Tell the strategy what other machines sharing the study finished since we last looked."""
        for trial in self.study.finished_since(self.seen):
            self.absorb(trial)

    # -- writing ------------------------------------------------------------------------------------
    def finish(self, job: Job, status: str, attrs: dict[str, Any], values: list[float] | None) -> StoredTrial:
        attrs["told"] = self.counter
        self.counter += 1
        stored = StoredTrial(job.key, status, job.genotype, attrs.get("fingerprint"), attrs.get("fitness"), attrs.get("metrics") or {}, attrs)
        self._tables(stored, job.rung, job.candidate)
        self.strategy.tell(self.record(stored, job.candidate))
        self.study.finish(job.trial, status, attrs, values)
        return stored


class Dispatcher:
    """Owns the executor: hands jobs out, knows what runs, brings results back."""

    def __init__(self, executor: Any, slots: int):
        self.executor, self.slots = executor, slots
        self.running: dict[int, Job] = {}

    def free(self) -> bool:
        return len(self.running) < self.slots

    def submit(self, job: Job, task: CandidateTask) -> None:
        self.executor.submit(job.key, task.payload())  # serialised here, once
        self.running[job.key] = job

    def collect(self, timeout: float) -> list[tuple[Job, CandidateResult]]:
        return [(self.running.pop(key), CandidateResult.read(result)) for key, result in self.executor.wait(timeout=timeout)]

    def rungs_running(self) -> set[tuple[int, int]]:
        return {(j.candidate, j.rung) for j in self.running.values() if j.final is None}

    def fingerprints(self) -> dict[str, int]:
        return {j.attrs["fingerprint"]: j.key for j in self.running.values() if j.final is None and j.rung == 0}

    def new_candidates(self) -> int:
        return sum(1 for j in self.running.values() if j.final is None and j.rung == 0)


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

    # -- the loop -------------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        stopped = "budget"
        try:
            self._setup()
            while True:
                while self.dispatcher.free():
                    job = self.next_job()
                    if job is None:
                        break
                    self.dispatcher.submit(job, self.task(job))
                if not self.dispatcher.running:
                    break
                for job, result in self.dispatcher.collect(timeout=0.5):
                    self.record(job, result)
            stopped = self.stopped
            if self.config.final_retrain and self.ledger.best_trial:
                self.final_retraining()
        except KeyboardInterrupt:
            stopped = "interrupted"
            self.log("interrupted: finished trials are stored; rerun the same command to continue")
            raise
        finally:
            self._close()
        result = SearchResult(self.study_name, self.storage, self.out, self.study.trials(), self.elapsed(), stopped)
        from vidnas.report import write_search_outputs

        result.outputs = write_search_outputs(self.study, self.out, keep=self.config.keep_checkpoints)
        return result

    def _close(self) -> None:
        """Stop what ``_setup`` started, as far as it got (a refused resume or an interrupted probe stops early)."""
        if getattr(self, "heartbeat", None) is not None:
            self.heartbeat.stop()
        if getattr(self, "executor", None) is not None:
            self.executor.shutdown()
        if getattr(self, "elapsed", None) is not None:
            self.study.set_elapsed(self.elapsed())
        if getattr(self, "progress", None):
            self.progress.close()

    def _setup(self) -> None:
        config = self.config
        self.train, self.val, num_classes = prepare_data(config, build_space(config, 2), self.log, self.out)
        self.space = space = build_space(config, num_classes)
        self.num_classes = num_classes
        strategy = build_strategy(config, space)
        self.study = study = Study(self.study_name, self.storage, objectives=list(config.objectives), multi_objective=strategy.multi_objective)
        stored_config, identity = study.config(), config.identity()
        if stored_config is None:
            study.set_config(dict(identity, out=str(self.out)))
        elif changed := config.changed_from(stored_config):
            raise VidnasError(f"study {self.study_name!r} in {self.storage} was started with other settings ({', '.join(changed)}); "
                              "use another --study or the original settings")
        study.set_attr(DATA_ATTR, json.dumps({"train": str(Path(self.train).resolve()), "val": str(Path(self.val).resolve())}))
        skipped = skipped_videos(self.train, self.val)
        study.set_attr("vidnas.skipped_videos", json.dumps(skipped))
        if skipped and self.log:
            self.log(f"{len(skipped)} videos could not be decoded and are left out (named in the report): "
                     + "; ".join(f"{Path(v['path']).name} ({v['error']})" for v in skipped[:3]) + (" ..." if len(skipped) > 3 else ""))
        self.constraint = Constraint(config.constraint, device=config.device, threads=config.threads) if config.constraint else None
        self.requeue: list[StoredTrial] = [t for t in study.mark_interrupted(self.stale_after) if t.genotype is not None]
        self.heartbeat = Heartbeat(study, worker_name(), min(HEARTBEAT_SECONDS, self.stale_after / 4))
        previous, started = study.elapsed(), time.monotonic()
        self.elapsed = lambda: previous + time.monotonic() - started  # noqa: E731
        self.worker_threads = max(1, (config.threads or _cpu_count()) // config.workers)
        self.executor = make_executor(config.executor, evaluator=self.evaluator, workers=config.workers, threads=self.worker_threads,
                                      timeout=config.candidate_timeout, address=config.ray_address, gpus=1 if config.device.startswith("cuda") else 0,
                                      device=config.device)
        self.dispatcher = Dispatcher(self.executor, config.workers)
        if config.rungs == "auto":
            self.config = config = config.model_copy(update={"rungs": self.calibrate_rungs()})
        self.ledger = Ledger(study, strategy, len(config.rungs or [None]), config.eta)
        if self.ledger.history:
            self.log(f"resuming study {self.study_name!r}: {self.ledger.trained} trained candidates, {len(self.requeue)} interrupted evaluations to redo")
        self.strategy = strategy
        if getattr(strategy, "needs_supernet", False):
            self._supernet_phase(strategy, config, space, self.train, self.val, study)
        self.durations = [t.metrics["wall_seconds"] for t in self.ledger.first.values() if t.metrics.get("wall_seconds")]
        self.idle, self.stopped = 0, "budget"
        self._final_keys: list[str] = []
        self.progress = SearchProgress(self, config, self.ledger, self.elapsed) if self.show_progress else None

    def calibrate_rungs(self) -> list[int]:
        """``rungs="auto"``: the rungs chosen from how long the reference networks (the hand-written 3D CNN, then
        the family's zoo model scaled into the limit) need to leave chance on this data (``_fidelity``), measured
        through the executor before the first candidate (in steps: a time cap on candidates does not shorten it)
        and stored in the study run by run — a resumed search reads the choice back, or continues an unfinished
        ladder. The zoo model is built (its latency measured) only when the 3D CNN has not learned at a count."""
        from vidnas.search._baselines import simple_3d_cnn
        from vidnas.search._final import _extent

        stored = json.loads(self.study.study.user_attrs.get(PROBE_ATTR, "{}"))
        if stored.get("rungs"):
            self.log(_fidelity.describe(stored))
            return list(stored["rungs"])
        config, folder = self.config, (self.out / "probe").resolve()
        cnn = simple_3d_cnn(self.num_classes, *_extent(self))
        chance = stored.get("chance") or _fidelity.chance_level(self.val, self.num_classes)
        probe: dict[str, Any] = {"references": stored.get("references") or [cnn.name, f"{self.space.name}_zoo_scaled"], "chance": chance,
                                 "runs": list(stored.get("runs", []))}
        while (due := _fidelity.next_run(probe["runs"], probe["references"], chance)) is not None:
            name, steps = due
            genotype = cnn if name == cnn.name else self.zoo_baseline()
            if genotype is None:  # no zoo model of this space fits the limit: the 3D CNN probes alone
                probe["references"].remove(name)
                self.study.set_attr(PROBE_ATTR, json.dumps(probe))
                continue
            earlier = [r["steps"] for r in probe["runs"] if r.get("model", _fidelity.CNN) == name and r["steps"] < steps]
            last = folder / f"{name}_steps_{max(earlier)}" if earlier else None
            self.log(f"choosing the screening budget: training {genotype.name} to {steps} steps")
            task = CandidateTask(genotype=json.loads(genotype.to_json()), recipe=config.recipe.model_copy(update={"max_seconds": None}),
                                 data=self.train, val=self.val, device=config.device,
                                 threads=self.worker_threads if config.executor != "inprocess" else config.threads, latency=False,
                                 checkpoint=str(folder / f"{name}_steps_{steps}"), steps=steps,
                                 resume_from=str(last) if last is not None and (last / "final.json").is_file() else None)
            key = PROBE_KEYS + 10_000 * probe["references"].index(name) + steps
            self.dispatcher.submit(Job(key, genotype, {}, final=f"probe.{name}.{steps}"), task)
            results: list[tuple[Job, CandidateResult]] = []
            while not results:
                results = self.dispatcher.collect(timeout=0.5)
            result = results[0][1]
            probe["runs"].append({"model": name, "steps": steps, "accuracy": result.accuracy if result.ok else None, "val_clips": result.val_clips,
                                  "reason": None if result.ok else result.reason})
            self.study.set_attr(PROBE_ATTR, json.dumps(probe))
        rungs, learned = _fidelity.choose_rungs(probe["runs"], chance, config.eta)
        val_clips = next((r["val_clips"] for r in probe["runs"] if r.get("val_clips")), 0)
        probe.update(rungs=rungs, learned=learned, threshold=_fidelity.threshold(chance, val_clips))
        self.study.set_attr(PROBE_ATTR, json.dumps(probe))
        self.log(_fidelity.describe(probe))
        return rungs

    def zoo_baseline(self) -> Genotype | None:
        """The family's zoo model scaled into the search's limit (``scaled_zoo``), None when none fits; chosen once
        and stored in the study, so the screening probe and the final retraining train the same network even though
        the latencies that chose it drift between measurements."""
        from vidnas.search._baselines import scaled_zoo

        stored = self.study.study.user_attrs.get(ZOO_ATTR)
        if stored is not None:
            return parse_genotype(stored) if stored else None  # type: ignore[return-value]
        constraint = self.constraint

        def fits(genotype: Genotype) -> bool:
            if constraint is None:
                return True
            try:
                return not constraint.violates(constraint.cost(genotype))
            except Exception:  # noqa: BLE001 - a cut that cannot be measured does not fit
                return False

        genotype = scaled_zoo(self.space, fits)
        self.study.set_attr(ZOO_ATTR, genotype.to_json(indent=None) if genotype is not None else "")
        return genotype

    def _supernet_phase(self, strategy: Any, config: SearchConfig, space: SearchSpace, train: str, val: str, study: Study) -> None:
        """PARSEC with shared weights: train the space's supernet (a share of a time budget, or ``supernet_steps``)
        and learn the strategy's distribution before candidates are sampled from it."""
        from vidnas.data import ClipCache, load_source
        from vidnas.train import clip_dataset

        genotype = space.sample(random.Random(0))

        def dataset(spec: str, training: bool) -> Any:
            source = ClipCache(spec) if (Path(spec) / "index.json").is_file() else load_source(spec, classes=config.classes)
            return clip_dataset(source, config.recipe.model_copy(update={"frames": None, "size": None}), genotype, train=training)

        seconds = None if config.supernet_steps else (config.seconds or 600) * config.supernet_fraction
        self.log(f"training the weight-sharing supernet ({config.supernet_steps or f'{seconds:.0f} s'})")
        summary = strategy.search_supernet(dataset(train, True), dataset(val, False), seconds=seconds, steps=config.supernet_steps,
                                           state_dir=self.out / "supernet")
        study.set_attr("vidnas.supernet", json.dumps({k: v for k, v in summary.items() if k != "history"}))
        self.log(f"supernet: {summary['steps']} steps in {summary['seconds']} s, distribution entropy {summary['entropy']}")

    def budget_left(self) -> bool:
        config = self.config
        if config.trials is not None and self.ledger.trained + self.dispatcher.new_candidates() >= config.trials:
            return False
        if config.seconds is not None:
            typical = statistics.median(self.durations) if self.durations else 0.0
            if self.elapsed() + 0.5 * typical >= config.seconds:
                return False
        return True

    def next_job(self) -> Job | None:
        """Redo an interrupted evaluation, else promote a candidate that is due, else propose a new one while the
        budget lasts, else finish the promotions so that the pick is made at the highest rung."""
        self.ledger.sync()
        if self.heartbeat.due_check():  # evaluations of machines that stopped beating are redone here
            self.requeue += [t for t in self.study.mark_interrupted(self.stale_after) if t.genotype is not None]
        running = self.dispatcher.rungs_running()
        while self.requeue:
            interrupted = self.requeue.pop(0)
            rung = interrupted.rung
            if rung > 0:
                self.ledger.halving.abandoned(interrupted.candidate, rung)
                return self.promote(interrupted.candidate, rung, origin="requeue")
            if self.budget_left():
                job = self.propose(requeued=interrupted.genotype)
                if job is not None:
                    return job
        due = self.ledger.halving.promotion(running)
        if due is not None:
            return self.promote(*due)
        while self.budget_left() and self.idle < MAX_IDLE_PROPOSALS:
            job = self.propose()
            if job is not None or self.stopped == "exhausted":
                return job
        if self.idle >= MAX_IDLE_PROPOSALS:
            self.stopped = "exhausted"
        finishing = self.ledger.halving.finishing(running)
        return self.promote(*finishing) if finishing is not None else None

    # -- proposal filters -----------------------------------------------------------------------------
    def propose(self, requeued: Genotype | None = None) -> Job | None:
        """Ask the strategy (or take a requeued genotype) and pass the proposal through the filters: a known
        architecture reuses its result, one being evaluated is skipped, one over the limit is rejected. Returns
        the job to run, or None when the proposal was settled without training."""
        trial = self.study.study.ask()
        number = trial.number
        self.ledger.seen.add(number)
        if requeued is not None:
            genotype, origin, parent, operators = requeued, "requeue", None, []
        else:
            try:
                proposal = self.strategy.ask(number, random.Random(f"{self.config.seed}:{number}"))
            except GenotypeError as error:
                self.study.finish(trial, "failed", {"reason": f"strategy could not propose: {error}"}, None)
                self.stopped = "exhausted"
                return None
            genotype, origin, parent, operators = proposal.genotype, proposal.origin, proposal.parent, proposal.operators
        fingerprint = genotype.fingerprint()
        attrs: dict[str, Any] = {"genotype": genotype.to_json(indent=None), "fingerprint": fingerprint, "origin": origin, "parent": parent,
                                 "operators": operators, "elapsed_start": round(self.elapsed(), 3), "rung": 0, "candidate": number}
        self.study.set_trial_attrs(trial, {**attrs, "worker": worker_name()})
        job = Job(number, genotype, attrs, trial=trial, rung=0, candidate=number)
        for check in (self._known, self._running, self._constrained):
            if check(job):
                return None
        self.idle = 0
        return job

    def _known(self, job: Job) -> bool:
        """The same architecture was trained before: reuse its best result, train nothing."""
        original = self.ledger.known.get(job.attrs["fingerprint"])
        if original is None:
            return False
        current = self.ledger.best_trial.get(original.candidate, original)
        job.attrs.update(duplicate_of=original.number, metrics=current.metrics, fitness=current.fitness, cost=original.cost)
        values = self._values(current.metrics, current.fitness) if current.status == "ok" else None
        self.ledger.finish(job, "duplicate", job.attrs, values)
        self.idle += 1
        return True

    def _running(self, job: Job) -> bool:
        other = self.dispatcher.fingerprints().get(job.attrs["fingerprint"])
        if other is None:
            return False
        job.attrs.update(duplicate_of=other, reason="same architecture is being evaluated")
        self.ledger.finish(job, "rejected", job.attrs, None)
        self.idle += 1
        return True

    def _constrained(self, job: Job) -> bool:
        if self.constraint is None:
            return False
        try:
            cost = self.constraint.cost(job.genotype)
        except Exception as error:  # noqa: BLE001 - an unbuildable candidate fails, the search goes on
            job.attrs.update(reason=f"cost measurement failed: {type(error).__name__}: {error}")
            self.ledger.finish(job, "failed", job.attrs, None)
            return True
        job.attrs["cost"] = cost
        if self.constraint.violates(cost) and self.constraint.spec.mode == "reject":
            job.attrs["reason"] = f"rejected before training: {self.constraint.describe(cost)}"
            self.ledger.finish(job, "rejected", job.attrs, None)
            self.idle += 1
            if self.progress:
                self.progress.refresh()
            return True
        return False

    def promote(self, candidate: int, rung: int, origin: str = "promotion") -> Job:
        """A new trial that trains ``candidate`` on from its previous rung's checkpoint to rung ``rung``."""
        first = self.ledger.first[candidate]
        trial = self.study.study.ask()
        self.ledger.seen.add(trial.number)
        attrs: dict[str, Any] = {"genotype": first.attrs["genotype"], "fingerprint": first.fingerprint, "origin": origin, "parent": candidate,
                                 "operators": [], "elapsed_start": round(self.elapsed(), 3), "rung": rung, "candidate": candidate,
                                 "cost": first.cost}
        previous = [t for t in (self.ledger.best_trial.get(candidate),) if t is not None and t.rung == rung - 1]
        if previous:
            attrs["resume_from"] = previous[0].number
        self.study.set_trial_attrs(trial, {**attrs, "worker": worker_name()})
        self.ledger.halving.started(candidate, rung)
        return Job(trial.number, first.genotype, attrs, trial=trial, rung=rung, candidate=candidate)

    # -- evaluation -----------------------------------------------------------------------------------
    def checkpoint(self, number: int) -> Path:
        return (self.out / "checkpoints" / f"trial_{number:04d}").resolve()

    def task(self, job: Job, seed: int | None = None) -> CandidateTask:
        config = self.config
        recipe = config.recipe if seed is None else config.recipe.model_copy(update={"seed": seed})
        if job.final is not None:
            steps, folder = config.retrain_steps(), (self.out / "final" / job.final).resolve()
        else:
            steps, folder = (config.rungs[job.rung] if config.rungs else None), self.checkpoint(job.key)
        top = job.final is None and job.rung == len(config.rungs or [None]) - 1
        seeds = [recipe.seed + k for k in range(1, config.top_rung_seeds)] if top else []
        source = job.attrs.get("resume_from")
        resume = source is not None and (self.checkpoint(source) / "final.json").is_file()  # else (checkpoint gone) the rung trains from scratch
        return CandidateTask(
            genotype=json.loads(job.attrs["genotype"]), recipe=recipe, data=self.train, val=self.val, device=config.device,
            threads=self.worker_threads if config.executor != "inprocess" else config.threads,
            peak_memory="peak_memory_mb" in config.objectives and job.rung == 0, checkpoint=str(folder), latency=job.rung == 0, steps=steps,
            resume_from=str(self.checkpoint(source)) if resume else None, seeds=seeds,
        )

    def record(self, job: Job, result: CandidateResult) -> None:
        if job.final is not None:
            self._record_final(job, result)
            return
        status = "ok" if result.ok else "failed"
        metrics = result.metrics()
        if job.rung > 0:  # a promotion measures no cost again: carry the candidate's own
            first = self.ledger.first[job.candidate].metrics
            metrics.update({k: first[k] for k in ("latency_ms", "peak_memory_mb", "macs", "params") if k in first and k not in metrics})
        fitness = score(metrics) if status == "ok" else None
        if status == "ok" and fitness is None:
            status, result.reason = "failed", "accuracy is not finite"
        if fitness is not None and self.constraint is not None:
            fitness = self.constraint.penalised(fitness, job.attrs.get("cost"))
        job.attrs.update(metrics=metrics, fitness=fitness, elapsed_end=round(self.elapsed(), 3), steps=metrics.get("steps"))
        if status != "ok":
            job.attrs["reason"] = result.reason or "unknown failure"
        if result.wall_seconds and job.rung == 0:
            self.durations.append(result.wall_seconds)
        self.ledger.finish(job, status, job.attrs, self._values(metrics, fitness) if status == "ok" else None)
        self.study.set_elapsed(self.elapsed())
        if self.progress:
            self.progress.refresh()

    def _values(self, metrics: dict[str, Any], fitness: float | None) -> list[float] | None:
        if fitness is None:
            return None
        values = [float(fitness)]
        for name in self.config.objectives[1:]:
            value = metrics.get(name)
            values.append(float(value) if value is not None else math.inf)
        return values

    # -- the answer a user needs ----------------------------------------------------------------------
    def final_retraining(self) -> None:
        """Retrain the top candidates and the baselines from scratch with the same recipe, data and steps,
        ``final_seeds`` times each; every finished run is stored in the study at once (a rerun skips it)."""
        from vidnas.search._final import final_entries

        entries = final_entries(self)
        done = self.study.finals()
        jobs = []
        for entry in entries:
            for seed in range(self.config.final_seeds):
                key = f"{entry['key']}.seed{seed}"
                if key not in done:
                    jobs.append((key, entry, seed))
        if not jobs:
            self.final_latencies(entries)
            return
        steps = self.config.retrain_steps()
        self.log(f"final retraining: {len(entries)} models × {self.config.final_seeds} seeds"
                 f"{f' × {steps} steps' if steps else ''} ({len(jobs)} runs to go)")
        if self.progress:
            self.progress.finals(len(jobs))
        pending = list(jobs)
        while pending or self.dispatcher.running:
            while pending and self.dispatcher.free():
                key, entry, seed = pending.pop(0)
                genotype = entry["genotype"]
                attrs = {"genotype": genotype.to_json(indent=None), "fingerprint": genotype.fingerprint(), "entry": {k: v for k, v in entry.items() if k != "genotype"},
                         "seed": seed}
                job = Job(FINAL_KEYS + len(self._final_keys), genotype, attrs, final=key)
                self._final_keys.append(key)
                self.dispatcher.submit(job, self.task(job, seed=seed))
            for job, result in self.dispatcher.collect(timeout=0.5):
                self._record_final(job, result)
        self.final_latencies(entries)

    def final_latencies(self, entries: list[dict[str, Any]], rounds: int = 5) -> dict[str, float]:
        """Batch-1 latency of every retrained model measured here, interleaved round by round once no training
        runs (the latency each run measured after training is taken at another moment of a machine whose speed
        drifts by tens of percent): median over ``rounds``. Stored in the study; the report compares these."""
        from vidnas.measure import measure_latency
        from vidnas.network import build_model

        stored = json.loads(self.study.study.user_attrs.get("vidnas.final_latency", "{}"))
        if all(e["key"] in stored for e in entries):
            return stored
        models = {e["key"]: build_model(e["genotype"], seed=0).eval() for e in entries}
        times: dict[str, list[float]] = {key: [] for key in models}
        for _ in range(rounds):
            for key, model in models.items():
                times[key].append(measure_latency(model, model.example_input(1), warmup=3, runs=10, threads=self.config.threads, device=self.config.device).median_ms)
        stored = {key: round(statistics.median(values), 4) for key, values in times.items()}
        self.study.set_attr("vidnas.final_latency", json.dumps(stored))
        return stored

    def _record_final(self, job: Job, result: CandidateResult) -> None:
        metrics = {k: v for k, v in result.metrics().items() if k != "loss_curve"}
        entry = dict(job.attrs["entry"], genotype=job.attrs["genotype"], seed=job.attrs["seed"], status=result.status,
                     reason=result.reason, metrics=metrics, checkpoint=str((self.out / "final" / job.final).resolve()))
        self.study.set_final(job.final, entry)
        if self.progress:
            self.progress.final_done()


FINAL_KEYS = 1_000_000  # executor keys of final retraining runs (trial numbers stay below)
PROBE_KEYS = 2_000_000  # executor keys of the screening-budget probe (``calibrate_rungs``)
PROBE_ATTR = "vidnas.probe"  # the study attribute holding the probe's runs and the rungs it chose
DATA_ATTR = "vidnas.data"  # the train and val sources (or clip caches) the search read, resolved: what a trained answer was fitted on
ZOO_ATTR = "vidnas.zoo_baseline"  # the scaled zoo baseline's genotype JSON ("" when nothing fits), chosen once


def pareto_size(strategy: Strategy) -> int:
    from vidnas.strategies import pareto_front

    points = [(-r.objectives["accuracy"], r.objectives.get("latency_ms", 0.0)) for r in strategy.records if r.status == "ok" and "accuracy" in r.objectives]
    return len({points[i] for i in pareto_front(points)})


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_search(config: SearchConfig, out: str | Path, **options: Any) -> SearchResult:
    """Run (or continue) a search; see ``Search``."""
    return Search(config, out, **options).run()
