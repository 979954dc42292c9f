"""Where candidates are evaluated: in this process, in a pool of local worker processes, or as Ray tasks.

Every executor takes JSON payloads and returns JSON-able result dicts; the evaluation function is named by an
import path (``module:function``) so workers import it themselves. A task that crashes its worker comes back
as a failed result; the search goes on.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import multiprocessing
import os
import time
from typing import Any

DEFAULT_EVALUATOR = "vidnas.search._evaluate:evaluate_payload"


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


_PINNED_DEVICE: str | None = None  # the GPU this local worker process owns, when the pool spreads over several


def run_payload(evaluator: str, payload: str) -> str:
    """Worker entry point: evaluate one JSON payload, answer JSON (also used by Ray tasks). A payload for
    ``cuda`` runs on the worker's own GPU when the pool pinned one; a payload with more training ``seeds`` is one
    evaluation per seed, combined (``evaluate_seeds``)."""
    data = json.loads(payload)
    if _PINNED_DEVICE is not None and data.get("device") == "cuda":
        data["device"] = _PINNED_DEVICE
    from vidnas.search._evaluate import evaluate_seeds

    return json.dumps(evaluate_seeds(_resolve(evaluator), data))


def _cuda_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001 - no usable CUDA is zero GPUs
        return 0


def default_workers(device: str, executor: str) -> int:
    """One local worker per device: per visible GPU for ``--device cuda``, else one."""
    return max(1, _cuda_count()) if executor == "local" and device == "cuda" else 1


def worker_devices(device: str, workers: int, cuda_count: int | None = None) -> list[str | None]:
    """The device each local worker is pinned to: ``cuda`` (no index) with several GPUs visible spreads the
    workers round-robin over them (cuda:0, cuda:1, …); otherwise workers are not pinned (None) and share
    ``device``."""
    count = _cuda_count() if cuda_count is None and device == "cuda" else (cuda_count or 0)
    if device == "cuda" and count > 1:
        return [f"cuda:{i % count}" for i in range(workers)]
    return [None] * workers


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """End this worker process soon after the search process that started it is gone (SIGKILL, a crash, a
    terminal closed): a daemon thread watches the parent pid. Without it an orphaned worker trains its candidate
    to the end, holding CPU, memory or a GPU that the user believes free."""
    import os
    import threading
    import time

    if os.getppid() != parent:  # gone before this worker even started
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="vidnas-parent-watch", daemon=True).start()


def _init_worker(threads: int | None, devices: Any = None, parent: int | None = None) -> None:
    global _PINNED_DEVICE
    if parent is not None:
        _exit_with_parent(parent)
    if threads:
        import torch

        torch.set_num_threads(threads)
    if devices is not None:
        import queue

        try:
            _PINNED_DEVICE = devices.get(timeout=5)
        except queue.Empty:  # more processes than devices handed out: share the default one
            _PINNED_DEVICE = None
        if _PINNED_DEVICE and _cuda_count():
            import torch

            torch.cuda.set_device(_PINNED_DEVICE)


class Executor:
    def __init__(self, evaluator: str = DEFAULT_EVALUATOR, workers: int = 1):
        self.evaluator, self.workers = evaluator, workers

    def submit(self, key: int, payload: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def busy(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def shutdown(self) -> None:
        pass


class InProcessExecutor(Executor):
    """Runs each candidate at submit time, in this process (debugging, tests, one-core machines)."""

    def __init__(self, evaluator: str = DEFAULT_EVALUATOR, workers: int = 1):
        super().__init__(evaluator, 1)
        self.done: list[tuple[int, dict[str, Any]]] = []

    def submit(self, key: int, payload: dict[str, Any]) -> None:
        try:
            result = json.loads(run_payload(self.evaluator, json.dumps(payload)))
        except Exception as error:  # noqa: BLE001 - a candidate failing must not end the search
            result = {"status": "failed", "reason": f"evaluator raised {type(error).__name__}: {error}"}
        self.done.append((key, result))

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        done, self.done = self.done, []
        return done

    def busy(self) -> int:
        return 0


class LocalExecutor(Executor):
    """A pool of spawned worker processes (torch threads split between them). A worker that dies (segfault,
    OOM kill) breaks the pool, and which candidate killed it is unknown: the pool is rebuilt and every candidate
    that was running is retried once; one that breaks the pool a second time is recorded as failed. A candidate
    running past ``timeout`` seconds is failed at once (the pool is rebuilt, the others resubmitted)."""

    def __init__(self, evaluator: str = DEFAULT_EVALUATOR, workers: int = 1, threads: int | None = None, timeout: float | None = None,
                 devices: list[str | None] | None = None):
        super().__init__(evaluator, workers)
        self.threads, self.timeout = threads, timeout
        self.devices = devices if devices and any(devices) else None
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.running: dict[int, tuple[concurrent.futures.Future, dict[str, Any], float]] = {}
        self.crashes: dict[int, int] = {}

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self.pool is None:
            context = multiprocessing.get_context("spawn")
            devices = None
            if self.devices:  # each new worker process takes one device from the queue (a rebuilt pool refills it)
                devices = context.Queue()
                for device in self.devices:
                    devices.put(device)
            self.pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_init_worker, initargs=(self.threads, devices, os.getpid())
            )
        return self.pool

    def submit(self, key: int, payload: dict[str, Any]) -> None:
        future = self._pool().submit(run_payload, self.evaluator, json.dumps(payload))
        self.running[key] = (future, payload, time.monotonic())

    def busy(self) -> int:
        return len(self.running)

    def _restart(self, failed: dict[int, str]) -> list[tuple[int, dict[str, Any]]]:
        pool, self.pool = self.pool, None
        if pool is not None:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        out = []
        survivors = {k: v for k, v in self.running.items() if k not in failed}
        self.running = {}
        for key, reason in failed.items():
            if key >= 0:
                out.append((key, {"status": "failed", "reason": reason}))
        for key, (_, payload, _) in survivors.items():
            self.submit(key, payload)
        return out

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        if not self.running:
            return []
        futures = {entry[0]: key for key, entry in self.running.items()}
        finished, _ = concurrent.futures.wait(list(futures), timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED)
        out, crashed = [], {}
        for future in finished:
            key = futures[future]
            try:
                out.append((key, json.loads(future.result())))
                del self.running[key]
            except concurrent.futures.process.BrokenProcessPool:
                self.crashes[key] = self.crashes.get(key, 0) + 1
                if self.crashes[key] >= 2:
                    crashed[key] = "worker process died while evaluating this candidate (twice)"
                else:
                    crashed.setdefault(-1, "")  # rebuild the pool and retry
            except Exception as error:  # noqa: BLE001
                out.append((key, {"status": "failed", "reason": f"evaluator raised {type(error).__name__}: {error}"}))
                del self.running[key]
        if self.timeout is not None:
            now = time.monotonic()
            for key, (_, _, started) in self.running.items():
                if key not in crashed and now - started > self.timeout:
                    crashed[key] = f"timed out after {self.timeout:g} s"
        if crashed:
            # a broken pool fails every pending future: blame the ones that finished broken, rerun the rest
            out += self._restart(crashed)
        return out

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class RayExecutor(Executor):
    """One Ray task per candidate with ``cpus`` / ``gpus`` resources; a task whose worker crashes is retried
    once by Ray (``max_retries=1``) and then recorded as failed. ``address``: an existing cluster (``auto`` or
    ``ray://host:port``); none starts a local one with ``workers`` CPUs. Data paths must be visible to every
    node (a shared filesystem)."""

    def __init__(self, evaluator: str = DEFAULT_EVALUATOR, workers: int = 1, *, address: str | None = None, cpus: float = 1, gpus: float = 0):
        super().__init__(evaluator, workers)
        from vidnas._imports import optional_import

        ray = optional_import("ray", "Ray execution")
        self.ray = ray
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(1, int(workers * cpus)), include_dashboard=False, log_to_driver=False)
        self.task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=1)(run_payload)
        self.running: dict[Any, int] = {}

    def submit(self, key: int, payload: dict[str, Any]) -> None:
        self.running[self.task.remote(self.evaluator, json.dumps(payload))] = key

    def busy(self) -> int:
        return len(self.running)

    def wait(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        if not self.running:
            return []
        ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            key = self.running.pop(ref)
            try:
                out.append((key, json.loads(self.ray.get(ref))))
            except Exception as error:  # noqa: BLE001 - RayTaskError, WorkerCrashedError after the retry
                out.append((key, {"status": "failed", "reason": f"ray task failed: {type(error).__name__}: {str(error).splitlines()[0]}"}))
        return out

    def shutdown(self) -> None:
        pass  # leave the cluster to its owner; a local one ends with this process


def make_executor(kind: str, *, evaluator: str = DEFAULT_EVALUATOR, workers: int = 1, threads: int | None = None,
                  timeout: float | None = None, address: str | None = None, gpus: float = 0, device: str = "cpu") -> Executor:
    if kind == "inprocess":
        return InProcessExecutor(evaluator)
    if kind == "local":
        return LocalExecutor(evaluator, workers, threads=threads, timeout=timeout, devices=worker_devices(device, workers))
    if kind == "ray":
        return RayExecutor(evaluator, workers, address=address, cpus=max(1, threads or 1), gpus=gpus)
    from vidnas.errors import VidnasError

    raise VidnasError(f"unknown executor {kind!r}; choose inprocess, local or ray")
