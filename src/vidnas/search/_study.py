"""The study: every trial of a search in an Optuna storage (SQLite by default, any SQLAlchemy URL for many
machines; optuna-dashboard opens it). Each trial keeps its genotype JSON, fingerprint, origin, metrics,
status, timing and failure reason as user attributes; the search settings live in the study's attributes."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from vidnas._imports import optional_import
from vidnas.errors import VidnasError
from vidnas.genotype import Genotype, parse_genotype
from vidnas.strategies import Status

MAXIMISE = {"accuracy"}


def as_url(storage: str) -> str:
    """A database URL; a plain file path means SQLite."""
    from pathlib import Path

    return storage if "://" in storage else f"sqlite:///{Path(storage).resolve()}"


def directions(objectives: list[str]) -> list[str]:
    return ["maximize" if o in MAXIMISE else "minimize" for o in objectives]


@dataclass
class StoredTrial:
    """One evaluation as the study holds it. Beside the result, what the search wrote about it in ``attrs``, read
    through the properties below: the successive-halving rung it trained at, the candidate (architecture) it
    evaluated — its first-rung trial's number — how it was proposed (``origin``: random, mutation, seed, promotion,
    requeue, ...), its ``parent`` candidate, its cost under the search's limit and the trial it continued from."""

    number: int
    status: Status  # strategies.STATUSES
    genotype: Genotype | None
    fingerprint: str | None
    fitness: float | None
    metrics: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return self.status in ("ok", "failed")

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def rung(self) -> int:
        return int(self.attrs.get("rung", 0))

    @property
    def candidate(self) -> int:
        return int(self.attrs.get("candidate", self.number))

    @property
    def origin(self) -> str | None:
        return self.attrs.get("origin")

    @property
    def parent(self) -> int | None:
        parent = self.attrs.get("parent")
        return int(parent) if parent is not None else None

    @property
    def cost(self) -> float | None:
        return self.attrs.get("cost")

    @property
    def resume_from(self) -> int | None:
        return self.attrs.get("resume_from")


def current(trials: list[StoredTrial]) -> list[StoredTrial]:
    """One trial per trained candidate — its successful trial at the highest rung it reached — best first: by
    rung, then fitness. The first is the search's pick (successive halving chooses at the highest rung)."""
    best: dict[int, StoredTrial] = {}
    for t in trials:
        if t.status != "ok" or t.fitness is None or t.genotype is None:
            continue
        candidate = t.candidate
        held = best.get(candidate)
        if held is None or t.rung > held.rung:
            best[candidate] = t
    return sorted(best.values(), key=lambda t: (-t.rung, -t.fitness, t.number))


def open_storage(optuna: Any, url: str, attempts: int = 6) -> Any:
    """Open (creating its tables if needed) an Optuna RDB storage. Several processes may open a new database
    at the same moment (workers of one study, a report read while the search starts): the loser of that race
    sees a unique-constraint or locked-database error from the schema set-up, so it waits and tries again."""
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy errors vary by backend
            text = str(error)
            racing = "UNIQUE constraint" in text or "database is locked" in text or "already exists" in text
            if racing and attempt + 1 < attempts:
                time.sleep(0.1 * 2**attempt)
                continue
            raise VidnasError(f"--storage {url}: cannot open ({type(error).__name__}: {text.splitlines()[0]})") from None
    raise AssertionError("unreachable")


class Study:
    def __init__(self, name: str, storage: str, *, objectives: list[str] | None = None, multi_objective: bool = False):
        optuna = optional_import("optuna", "search studies")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = as_url(storage)
        self.optuna, self.name, self.storage_url = optuna, name, storage
        self.storage = open_storage(optuna, storage)
        self.objectives = objectives or ["accuracy"]
        self.multi_objective = multi_objective
        dirs = directions(self.objectives) if multi_objective else ["maximize"]
        self.study = optuna.create_study(study_name=name, storage=self.storage, directions=dirs, load_if_exists=True)
        if len(self.study.directions) != len(dirs):
            raise VidnasError(f"study {name!r} in {storage} was created with {len(self.study.directions)} objective(s); this search has {len(dirs)}")

    @classmethod
    def load(cls, name: str, storage: str) -> "Study":
        optuna = optional_import("optuna", "search studies")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = as_url(storage)
        if storage.startswith("sqlite:///") and not os.path.exists(storage[len("sqlite:///"):]):
            raise VidnasError(f"--storage {storage}: no such database file")
        opened = open_storage(optuna, storage)
        try:
            summaries = optuna.get_all_study_summaries(storage=opened)
        except Exception as error:  # noqa: BLE001
            raise VidnasError(f"--storage {storage}: cannot open ({type(error).__name__}: {str(error).splitlines()[0]})") from None
        names = [s.study_name for s in summaries]
        if name not in names:
            raise VidnasError(f"no study {name!r} in {storage}" + (f"; it holds: {', '.join(names)}" if names else " (it holds no study)"))
        stored = optuna.load_study(study_name=name, storage=opened)
        config = json.loads(stored.user_attrs.get("vidnas.config", "{}"))
        return cls(name, storage, objectives=config.get("objectives"), multi_objective=len(stored.directions) > 1)

    # -- settings --------------------------------------------------------------------------------------
    def config(self) -> dict[str, Any] | None:
        raw = self.study.user_attrs.get("vidnas.config")
        return json.loads(raw) if raw else None

    def set_config(self, config: dict[str, Any]) -> None:
        self.study.set_user_attr("vidnas.config", json.dumps(config, sort_keys=True))

    def elapsed(self) -> float:
        return float(self.study.user_attrs.get("vidnas.elapsed", 0.0))

    def set_elapsed(self, seconds: float) -> None:
        self.study.set_user_attr("vidnas.elapsed", round(seconds, 3))

    def set_attr(self, key: str, value: Any) -> None:
        self.study.set_user_attr(key, value)

    # -- final retraining ------------------------------------------------------------------------------
    def finals(self) -> dict[str, dict[str, Any]]:
        """Finished final-retraining runs by key (``<model>.seed<k>``)."""
        prefix = "vidnas.final."
        return {k[len(prefix):]: json.loads(v) for k, v in self.study.user_attrs.items() if k.startswith(prefix)}

    def set_final(self, key: str, entry: dict[str, Any]) -> None:
        self.study.set_user_attr(f"vidnas.final.{key}", json.dumps(entry))

    # -- trials ----------------------------------------------------------------------------------------
    @staticmethod
    def _stored(t: Any, status: str) -> StoredTrial:
        attrs = dict(t.user_attrs)
        genotype = parse_genotype(attrs["genotype"]) if attrs.get("genotype") else None
        return StoredTrial(t.number, status, genotype, attrs.get("fingerprint"), attrs.get("fitness"), attrs.get("metrics") or {}, attrs)

    def trials(self) -> list[StoredTrial]:
        out = []
        for t in self.study.get_trials(deepcopy=False):
            status = "running" if t.state.name == "RUNNING" else t.user_attrs.get("status", "failed")
            out.append(self._stored(t, status))
        return sorted(out, key=lambda r: r.number)

    def finished_since(self, seen: set[int]) -> list[StoredTrial]:
        """Finished trials whose numbers are not in ``seen`` (written by other processes), in number order."""
        state = self.optuna.trial.TrialState
        out = []
        for t in self.study.get_trials(deepcopy=False, states=(state.COMPLETE, state.FAIL, state.PRUNED)):
            status = t.user_attrs.get("status", "failed")
            if t.number not in seen and status != "interrupted":
                out.append(self._stored(t, status))
        return sorted(out, key=lambda r: r.number)

    def set_trial_attrs(self, trial: Any, attrs: dict[str, Any]) -> None:
        trial_id = trial._trial_id if hasattr(trial, "_trial_id") else trial
        for key, value in attrs.items():
            self.study._storage.set_trial_user_attr(trial_id, key, value)

    def finish(self, trial: Any, status: str, attrs: dict[str, Any], values: list[float] | None) -> None:
        self.set_trial_attrs(trial, dict(attrs, status=status, finished=time.time()))
        state = self.optuna.trial.TrialState
        if status == "rejected" or (status == "duplicate" and values is None):
            self.study.tell(trial, state=state.PRUNED)
        elif values is None:
            self.study.tell(trial, state=state.FAIL)
        else:
            self.study.tell(trial, values=values if self.multi_objective else values[:1])

    # -- liveness --------------------------------------------------------------------------------------
    def beat(self, worker: str) -> None:
        """Record that the search process ``worker`` (host:pid) is alive (its wall-clock time)."""
        self.study.set_user_attr(f"vidnas.heartbeat.{worker}", round(time.time(), 1))

    def last_beat(self, worker: str) -> float | None:
        value = self.study.user_attrs.get(f"vidnas.heartbeat.{worker}")  # read from the storage on each access
        return float(value) if value is not None else None

    def mark_interrupted(self, stale_after: float = 300.0) -> list[StoredTrial]:
        """RUNNING trials whose search process is gone become failed ('interrupted') and are returned for
        re-evaluation. On this host a process is gone when its pid is dead; a process on another machine when
        it has not beaten its heartbeat (``beat``) for ``stale_after`` seconds (clocks of the machines are
        assumed to agree to well within that). Trials of live processes are left alone."""
        host = os.environ.get("VIDNAS_HOST") or socket.gethostname()
        now = time.time()
        beats = self.study.user_attrs
        out = []
        for t in self.study.get_trials(deepcopy=False, states=(self.optuna.trial.TrialState.RUNNING,)):
            worker = str(t.user_attrs.get("worker", ""))
            owner_host, _, pid = worker.rpartition(":")
            if owner_host == host:
                if pid.isdigit() and _alive(int(pid)):
                    continue
                reason = "the search process died while this trial ran"
            else:
                last = beats.get(f"vidnas.heartbeat.{worker}")
                if last is None and t.datetime_start is not None:
                    last = t.datetime_start.timestamp()
                if last is None or now - float(last) < stale_after:
                    continue
                reason = f"its search process ({worker}) sent no heartbeat for {now - float(last):.0f} s"
            self.set_trial_attrs(t, {"status": "interrupted", "reason": reason})
            self.study.tell(t.number, state=self.optuna.trial.TrialState.FAIL)
            out.append(self._stored(t, "interrupted"))
        return out


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped by its parent) is dead for our purpose
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


HEARTBEAT_SECONDS = 30.0  # how often a search process records that it is alive
class Heartbeat:
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


def worker_name() -> str:
    """This search process as the study knows it: ``host:pid``. ``$VIDNAS_HOST`` replaces the host name where
    machines that share a study report the same one (containers started alike), so that none takes another's
    running trials for its own dead ones."""
    return f"{os.environ.get('VIDNAS_HOST') or socket.gethostname()}:{os.getpid()}"
