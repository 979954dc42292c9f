"""Resource limits checked before a candidate is trained (Tiny Video Networks' runtime constraint)."""

from __future__ import annotations

from typing import Any

from vidnas.genotype import Genotype
from vidnas.search._config import ConstraintSpec


class Constraint:
    """``cost(genotype)`` in the spec's metric; ``violates`` / ``penalised``. Measured latency is batch 1 on
    the search device with the search's threads (median of 10 runs after 3 warm-ups); MACs and params are exact
    counts on the meta device; peak memory is measured in a subprocess."""

    def __init__(self, spec: ConstraintSpec, *, device: str = "cpu", threads: int | None = None):
        self.spec, self.device, self.threads = spec, device, threads
        self.predictor = None
        if spec.metric == "latency_ms" and spec.source == "predicted":
            from vidnas.errors import VidnasError
            from vidnas.measure import LatencyPredictor

            if not spec.predictor:
                raise VidnasError("a predicted latency limit needs a predictor file (vidnas latency calibrate --out FILE)")
            self.predictor = LatencyPredictor.load(spec.predictor)

    def cost(self, genotype: Genotype) -> float:
        metric = self.spec.metric
        if metric == "latency_ms" and self.predictor is not None:
            return round(self.predictor.predict(genotype), 4)
        if metric == "peak_memory_mb":
            from vidnas.measure import measure_peak_memory

            return round(measure_peak_memory(genotype.to_json(indent=None), device=self.device, threads=self.threads).forward_bytes / 2**20, 3)
        if metric == "latency_ms":
            from vidnas.measure import measure_latency
            from vidnas.network import build_model

            model = build_model(genotype, seed=0).eval()
            return round(measure_latency(model, model.example_input(1), device=self.device, threads=self.threads, warmup=3, runs=10).median_ms, 4)
        from vidnas.measure import profile

        counted = profile(genotype)  # exact counts on the meta device: no weights, no compute
        return float(counted.macs.macs if metric == "macs" else counted.parameters.total)

    def violates(self, cost: float) -> bool:
        return cost > self.spec.limit

    def penalised(self, fitness: float, cost: float | None) -> float:
        if self.spec.mode != "penalty" or cost is None or cost <= self.spec.limit:
            return fitness
        return fitness - self.spec.weight * (cost / self.spec.limit - 1.0)

    def describe(self, cost: float) -> str:
        return f"{self.spec.metric} {cost:g} > limit {self.spec.limit:g}"

    def to_dict(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json")
