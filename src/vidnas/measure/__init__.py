"""Cost measurement: parameters, MACs/FLOPs (stated convention), latency, peak memory, and a one-call profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vidnas.genotype import Genotype
from vidnas.measure._counts import MAC_CONVENTION, MacCount, ParameterCount, count_macs, count_parameters
from vidnas.measure._predictor import LatencyPredictor, calibrate, genotype_ops, spearman
from vidnas.measure._timing import Latency, PeakMemory, machine, measure_latency, measure_peak_memory, torch_threads


@dataclass(frozen=True)
class Profile:
    """Cost of one genotype at one input size."""

    name: str
    fingerprint: str
    input_shape: list[int] | dict[str, list[int]]
    parameters: ParameterCount
    macs: MacCount
    latency: Latency | None = None
    peak_memory: PeakMemory | None = None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict: params, params_no_bn, macs, flops, input_shape (+ latency_ms, peak_memory_bytes)."""
        out: dict[str, Any] = {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "input_shape": self.input_shape,
            "params": self.parameters.total,
            "params_no_bn": self.parameters.without_batchnorm,
            "macs": self.macs.macs,
            "flops": self.macs.flops,
            "convention": self.macs.convention,
        }
        if self.latency is not None:
            out["latency_ms"] = round(self.latency.median_ms, 4)
            out["latency"] = self.latency.to_dict()
        if self.peak_memory is not None:
            out["peak_memory_bytes"] = self.peak_memory.forward_bytes
            out["peak_memory"] = self.peak_memory.to_dict()
        return out


def _shape_of(inputs) -> list[int] | dict[str, list[int]]:  # noqa: ANN001
    if isinstance(inputs, dict):
        return {k: list(v.shape) for k, v in inputs.items()}
    return list(inputs.shape)


def profile(
    genotype: Genotype | dict[str, Any] | str | Path,
    *,
    frames: int | None = None,
    size: int | None = None,
    batch_size: int = 1,
    latency: bool = False,
    peak_memory: bool = False,
    device: str = "cpu",
    threads: int | None = None,
    channels_last: bool = False,
    dtype: torch.dtype | None = None,
    warmup: int = 3,
    runs: int = 10,
) -> Profile:
    """Parameters and MACs of a genotype at its input spec (or ``frames``/``size``), optionally timed.

    Counting runs on the meta device (no compute), so it is exact and instant at any input size.
    """
    from vidnas.network import as_genotype, build_model

    genotype = as_genotype(genotype).with_input(frames=frames, size=size)
    with torch.device("meta"):
        meta_model = build_model(genotype)
    inputs = meta_model.example_input(batch_size, device="meta")
    parameters = count_parameters(meta_model)
    macs = count_macs(meta_model, inputs, on_meta=False)
    timing = None
    if latency:
        model = build_model(genotype, seed=0)
        timing = measure_latency(
            model,
            model.example_input(batch_size),
            device=device,
            threads=threads,
            warmup=warmup,
            runs=runs,
            channels_last=channels_last,
            dtype=dtype,
        )
    memory = measure_peak_memory(genotype.to_json(indent=None), batch_size=batch_size, device=device, threads=threads) if peak_memory else None
    return Profile(genotype.name, genotype.fingerprint(), _shape_of(inputs), parameters, macs, timing, memory)


__all__ = [
    "LatencyPredictor",
    "calibrate",
    "genotype_ops",
    "spearman",
    "MAC_CONVENTION",
    "Latency",
    "MacCount",
    "ParameterCount",
    "PeakMemory",
    "Profile",
    "count_macs",
    "count_parameters",
    "machine",
    "measure_latency",
    "measure_peak_memory",
    "profile",
    "torch_threads",
]
