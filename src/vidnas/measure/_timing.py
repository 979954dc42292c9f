"""Latency (median and spread over runs, after warm-up) and peak memory of a forward pass."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import torch
from torch import nn


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    runs: int
    warmup: int
    batch_size: int
    threads: int
    device: str
    memory_format: str
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Temporarily set torch's intra-op thread count (None: leave as is)."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def machine(threads: int | None = None) -> dict[str, Any]:
    """The machine a timing was taken on, as a model card or report names it: CPU model, cores, the threads
    timed with, GPU (when torch sees one), torch and Python versions, operating system."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    out: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "threads": threads or torch.get_num_threads(), "torch": torch.__version__,
                           "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}"}
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return out


def _move(inputs, device: torch.device, memory_format: torch.memory_format, dtype: torch.dtype | None):  # noqa: ANN001, ANN202
    if isinstance(inputs, dict):
        return {k: _move(v, device, memory_format, dtype) for k, v in inputs.items()}
    return inputs.to(device=device, dtype=dtype or inputs.dtype).contiguous(memory_format=memory_format)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def measure_latency(
    model: nn.Module,
    inputs: torch.Tensor | dict[str, torch.Tensor],
    *,
    device: str | torch.device = "cpu",
    threads: int | None = None,
    warmup: int = 3,
    runs: int = 10,
    channels_last: bool = False,
    dtype: torch.dtype | None = None,
) -> Latency:
    """Wall-clock latency of ``model(inputs)`` in eval mode under ``torch.inference_mode``.

    ``channels_last`` uses the channels_last_3d memory format for weights and input; ``dtype`` (e.g.
    torch.float16 on CUDA) casts both.
    """
    device = torch.device(device)
    memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.to(device=device, dtype=dtype).to(memory_format=memory_format).eval()
    inputs = _move(inputs, device, memory_format, dtype)
    batch = next(iter(inputs.values())).shape[0] if isinstance(inputs, dict) else inputs.shape[0]
    times: list[float] = []
    with torch_threads(threads) as used_threads, torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        _sync(device)
        for _ in range(runs):
            start = time.perf_counter()
            model(inputs)
            _sync(device)
            times.append((time.perf_counter() - start) * 1000.0)
    return Latency(
        median_ms=statistics.median(times),
        p10_ms=_percentile(times, 0.1),
        p90_ms=_percentile(times, 0.9),
        min_ms=min(times),
        runs=runs,
        warmup=warmup,
        batch_size=int(batch),
        threads=used_threads,
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        memory_format="channels_last_3d" if channels_last else "contiguous",
        dtype=str(dtype or torch.float32).replace("torch.", ""),
    )


@dataclass(frozen=True)
class PeakMemory:
    """Peak memory of one inference forward pass beyond what the model and input already hold."""

    forward_bytes: int
    device: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure_peak_memory(
    genotype_json: str,
    *,
    batch_size: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    timeout: float = 600.0,
) -> PeakMemory:
    """Peak memory of a forward pass of the genotype's network at its input spec.

    CUDA: ``torch.cuda.max_memory_allocated`` above the allocation before the pass. CPU: in a fresh
    subprocess, the resident-set high-water mark (reset via /proc/self/clear_refs) during the pass minus the
    resident set before it — the allocator's whole footprint, not only live tensors.
    """
    if device.startswith("cuda"):
        from vidnas.network import build_model

        model = build_model(genotype_json, seed=0).to(device).eval()
        inputs = _move(model.example_input(batch_size), torch.device(device), torch.contiguous_format, None)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        with torch.inference_mode():
            model(inputs)
        torch.cuda.synchronize(device)
        return PeakMemory(int(torch.cuda.max_memory_allocated(device) - before), torch.cuda.get_device_name(device), "cuda_max_memory_allocated")
    request = json.dumps({"genotype": genotype_json, "batch_size": batch_size, "threads": threads})
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "vidnas.measure._peak_worker"],
        input=request,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"peak-memory worker failed: {tail[0]}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return PeakMemory(int(answer["forward_bytes"]), "cpu", answer["method"])
