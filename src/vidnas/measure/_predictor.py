"""Latency prediction: a per-op lookup table measured on the target device plus a regressor over genotype
features, calibrated on sampled architectures of a search space (``vidnas latency calibrate``).

Ops are the language's primitives at their input shapes, as ``genotype.walk`` lists them (pure shape arithmetic,
no model is built). The table holds the measured time of every op signature seen during calibration; an op not in
the table is estimated by a per-kind log-linear model (log time ≈ a·log(1+MACs) + b·log(1+elements) + c) fitted to the table. The
genotype-level regressor then corrects for what op sums miss (dispatch overhead, cache effects):
latency ≈ w₀·Σ op times + w₁·#ops + w₂, fitted by least squares. Saved as JSON.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidnas.genotype import Genotype, Shape, walk
from vidnas.genotype import _layers as L


def _kind(spec: Any) -> str:
    if isinstance(spec, L.Conv):
        if spec.type == "itgm":
            return "conv_itgm"
        return "conv_depthwise" if spec.depthwise else ("conv_pointwise" if tuple(spec.kernel) == (1, 1, 1) else "conv")
    return spec.op


def _macs_and_elements(spec: Any, shape: Shape, out: Shape) -> tuple[float, float]:
    """Multiply-accumulates and elements read + written of one walked primitive (a (2+1)D conv arrives as its
    two factors, so every conv is one kernel over its own input)."""
    elements = float(shape.channels * shape.frames * shape.height * shape.width + out.channels * out.frames * out.height * out.width)
    positions = out.frames * out.height * out.width
    if isinstance(spec, L.Conv):
        kt, kh, kw = spec.kernel
        return float(positions * out.channels * (shape.channels // spec.group_count(shape.channels)) * kt * kh * kw), elements
    if isinstance(spec, L.Pool):
        return float(positions * out.channels * math.prod(spec.kernel)), elements
    return 0.0, elements


OpRow = tuple[str, str, Shape, Shape, float, float]
_LAYER_CACHE: dict[tuple[str, Shape], tuple[tuple[OpRow, ...], Shape]] = {}


_JSON_CACHE: dict[Any, str] = {}


def _layer_key(layer: Any) -> Any:
    """A dictionary key equal for equal layers: the (frozen, value-hashed) record itself, or its JSON where a
    field holds a list (branches)."""
    try:
        hash(layer)
        return layer
    except TypeError:
        return layer.model_dump_json()


def _json(spec: Any) -> str:
    found = _JSON_CACHE.get(spec)
    if found is None:
        if len(_JSON_CACHE) > 50000:
            _JSON_CACHE.clear()
        found = _JSON_CACHE[spec] = spec.model_dump_json()
    return found


def _walk_layer(layer: Any, shape: Shape) -> tuple[tuple[OpRow, ...], Shape]:
    """((kind, signature, in shape, out shape, MACs, elements) of every primitive of one layer, output shape),
    memoised by the layer and its input shape: a search mutates one block at a time, so most layers of a new
    candidate were seen before."""
    key = (_layer_key(layer), shape)
    found = _LAYER_CACHE.get(key)
    if found is None:
        if len(_LAYER_CACHE) > 50000:
            _LAYER_CACHE.clear()
        steps, out = walk(layer, shape, "op")
        rows = tuple((_kind(step.layer), f"{_json(step.layer)}@{step.shape.channels}x{step.shape.frames}x{step.shape.height}x{step.shape.width}",
                      step.shape, step.out, *_macs_and_elements(step.layer, step.shape, step.out)) for step in steps)
        found = _LAYER_CACHE[key] = (rows, out)
    return found


def clear_cache() -> None:
    _LAYER_CACHE.clear()
    _JSON_CACHE.clear()


def _layers_with_shapes(genotype: Genotype) -> list[tuple[Any, Shape]]:
    """(layer, input shape) of every layer, node by node, from memoised per-layer output shapes (no full
    ``check()``: the genotype is assumed valid, as a search space's candidates are)."""
    shapes: dict[str, Shape] = {s.name: genotype.input.shape(s.name) for s in genotype.input.streams}
    out = []
    for index, node in enumerate(genotype.nodes):
        edges = genotype.node_inputs(index)
        current = shapes[edges[0].source] if len(edges) == 1 else Genotype._fused_shape(node, [shapes[e.source] for e in edges], f"nodes[{index}]")
        for layer in node.layers:
            out.append((layer, current))
            current = _walk_layer(layer, current)[1]
        shapes[node.name] = current
    return out


def genotype_ops(genotype: Genotype) -> list[OpRow]:
    """Every primitive op of a genotype at its input shape, node by node (fusion and head excluded)."""
    genotype.check()
    return [row for layer, shape in _layers_with_shapes(genotype) for row in _walk_layer(layer, shape)[0]]


@dataclass
class LatencyPredictor:
    device: str
    threads: int | None
    table: dict[str, float] = field(default_factory=dict)  # op signature → ms
    kind_models: dict[str, list[float]] = field(default_factory=dict)  # kind → log ms = a·log1p(MMACs) + b·log1p(k elements) + c
    weights: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0])  # on (Σ op ms, #ops, 1)
    space: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    layer_costs: dict[Any, tuple[float, int]] = field(default_factory=dict, repr=False, compare=False)
    """Memo: (layer, input shape) → (Σ predicted op ms, op count); filled by ``features`` once the table and the
    kind models are fitted (``calibrate`` fits them first), not saved."""

    def op_ms(self, kind: str, signature: str, macs: float, elements: float) -> float:
        if signature in self.table:
            return self.table[signature]
        a, b, c = self.kind_models.get(kind, self.kind_models.get("*", [0.0, 0.0, -5.0]))
        return math.exp(a * math.log1p(macs / 1e6) + b * math.log1p(elements / 1e3) + c)

    def features(self, genotype: Genotype) -> list[float]:
        total, count = 0.0, 0
        costs = self.layer_costs
        for layer, shape in _layers_with_shapes(genotype):
            key = (_layer_key(layer), shape)
            cost = costs.get(key)
            if cost is None:
                ops = _walk_layer(layer, shape)[0]
                cost = costs[key] = (sum(self.op_ms(kind, sig, macs, el) for kind, sig, _, _, macs, el in ops), len(ops))
            total += cost[0]
            count += cost[1]
        return [total, float(count), 1.0]

    def predict(self, genotype: Genotype) -> float:
        return max(1e-3, float(np.dot(self.weights, self.features(genotype))))

    def save(self, path: str | Path) -> None:
        data = {"format": "vidnas-latency-predictor/1", "device": self.device, "threads": self.threads, "space": self.space,
                "weights": self.weights, "kind_models": self.kind_models, "report": self.report, "table": self.table}
        Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "LatencyPredictor":
        from vidnas.errors import VidnasError

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise VidnasError(f"{path}: not a readable latency predictor ({error})") from None
        if data.get("format") != "vidnas-latency-predictor/1":
            raise VidnasError(f"{path}: not a vidnas latency predictor (format field {data.get('format')!r})")
        return cls(device=data["device"], threads=data["threads"], table=data["table"], kind_models=data["kind_models"],
                   weights=data["weights"], space=data.get("space"), report=data.get("report", {}))


def _time_op(kind_spec: tuple[str, Any, Shape], device: str, threads: int | None, runs: int) -> float:
    import torch

    from vidnas.measure._timing import measure_latency
    from vidnas.network._builder import BuildContext, build_layer

    _, spec, shape = kind_spec
    module, _ = build_layer(spec, shape, BuildContext(), "op")
    x = torch.randn(1, shape.channels, shape.frames, shape.height, shape.width)
    return measure_latency(module, x, device=device, threads=threads, warmup=2, runs=runs).median_ms


def spearman(a: list[float], b: list[float]) -> float:
    def ranks(values: list[float]) -> np.ndarray:
        order = np.argsort(values, kind="stable")
        r = np.empty(len(values))
        r[order] = np.arange(len(values))
        return r

    ra, rb = ranks(a), ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def calibrate(
    space: Any,
    *,
    samples: int = 60,
    held_out: int = 20,
    op_samples: int = 500,
    device: str = "cpu",
    threads: int | None = None,
    runs: int = 7,
    rounds: int = 3,
    seed: int = 0,
    progress: Any = None,
) -> LatencyPredictor:
    """Fit a latency predictor for ``space`` on this device and score it on held-out architectures.

    ``samples`` + ``held_out`` sampled architectures are measured whole (``rounds`` passes of ``runs`` timed
    runs each, the median of the pass medians); the ops of ``op_samples`` sampled architectures (the
    calibration ones first) are timed one by one into the lookup table. The op timings are interleaved with
    the architecture passes so that a slow drift of the machine's speed (frequency, neighbours on a shared
    host) affects both alike. Reports Spearman and MAPE on the held-out architectures and the speed of a
    prediction against measuring an architecture as the search does (build + 3 warm-up + 10 timed runs)."""
    import random

    from pydantic import TypeAdapter

    from vidnas.measure._timing import measure_latency
    from vidnas.network import build_model

    if samples < 2 or held_out < 0 or op_samples < 0 or runs < 1 or rounds < 1:
        raise ValueError("calibrate: samples >= 2, held_out >= 0, op_samples >= 0, runs >= 1 and rounds >= 1 are required")
    rng = random.Random(seed)
    genotypes = [space.sample(rng) for _ in range(samples + held_out)]
    op_genotypes = genotypes[:samples] + [space.sample(rng) for _ in range(max(0, op_samples - samples))]
    adapter = TypeAdapter(L.Layer)
    unique: dict[str, tuple[str, Any, Shape, float, float]] = {}
    for genotype in op_genotypes:
        for kind, signature, shape, _, macs, elements in genotype_ops(genotype):
            if signature not in unique:
                unique[signature] = (kind, adapter.validate_json(signature.rsplit("@", 1)[0]), shape, macs, elements)
    signatures = list(unique)
    chunks = [signatures[i::max(1, rounds - 1)] for i in range(max(1, rounds - 1))] if rounds > 1 else [signatures]
    predictor = LatencyPredictor(device=device, threads=threads, space=getattr(space, "name", None))

    models = [build_model(g, seed=0) for g in genotypes]
    passes: list[list[float]] = [[] for _ in genotypes]
    done_ops = 0
    for round_ in range(rounds):
        for i, model in enumerate(models):
            passes[i].append(measure_latency(model, model.example_input(1), device=device, threads=threads, warmup=2, runs=runs).median_ms)
            if progress:
                progress("architectures", round_ * len(models) + i + 1, rounds * len(models))
        for signature in chunks[round_] if round_ < len(chunks) else []:
            kind, spec, shape, _, _ = unique[signature]
            predictor.table[signature] = _time_op((kind, spec, shape), device, threads, runs)
            done_ops += 1
            if progress:
                progress("ops", done_ops, len(signatures))
    measured = [statistics.median(p) for p in passes]
    # How much one pass differs from the median of all passes: the floor under any predictor's MAPE here.
    noise = float(np.mean([abs(x - m) / m for p, m in zip(passes, measured) for x in p])) if rounds > 1 else None
    del models

    by_kind: dict[str, list[tuple[float, float, float]]] = {}
    for signature, (kind, _, _, macs, elements) in unique.items():
        row = (math.log1p(macs / 1e6), math.log1p(elements / 1e3), math.log(max(predictor.table[signature], 1e-4)))
        by_kind.setdefault(kind, []).append(row)
        by_kind.setdefault("*", []).append(row)
    for kind, rows in by_kind.items():
        X = np.array([[m, e, 1.0] for m, e, _ in rows])
        y = np.array([t for _, _, t in rows])
        predictor.kind_models[kind] = np.linalg.lstsq(X, y, rcond=None)[0].tolist()
    predictor.layer_costs.clear()  # op models just changed
    X = np.array([predictor.features(g) for g in genotypes[:samples]])
    y = np.array(measured[:samples])
    predictor.weights = np.linalg.lstsq(X / y[:, None], np.ones(len(y)), rcond=None)[0].tolist()  # relative error

    test, truth = genotypes[samples:], measured[samples:]
    measure_seconds = []
    for genotype in test[: min(len(test), 10)] or genotypes[:1]:  # what the search pays to measure a candidate
        started = time.perf_counter()
        model = build_model(genotype, seed=0)
        measure_latency(model, model.example_input(1), device=device, threads=threads, warmup=3, runs=10)
        measure_seconds.append(time.perf_counter() - started)
    clear_cache()
    predictor.layer_costs.clear()
    started = time.perf_counter()
    predicted = [predictor.predict(g) for g in test]  # cold: no layer memoised
    cold_seconds = (time.perf_counter() - started) / max(1, len(test))
    started = time.perf_counter()
    again = [predictor.predict(g) for g in test]  # memoised layers, as for a search's mutants
    warm_seconds = (time.perf_counter() - started) / max(1, len(test))
    assert again == predicted
    test_rows = [row for g in test for row in genotype_ops(g)]
    mape = float(np.mean([abs(p - t) / t for p, t in zip(predicted, truth)])) if truth else float("nan")
    measure_s = statistics.median(measure_seconds)
    predictor.report = {
        "calibration_architectures": samples, "held_out_architectures": len(test), "op_architectures": len(op_genotypes),
        "ops_measured": len(unique), "rounds": rounds, "runs": runs,
        "held_out_ops_in_table": round(sum(r[1] in predictor.table for r in test_rows) / max(1, len(test_rows)), 3),
        "spearman": round(spearman(predicted, truth), 4) if len(truth) > 2 else None, "mape": round(mape, 4),
        "measurement_noise": None if noise is None else round(noise, 4),
        "measure_ms_per_architecture": round(1000 * measure_s, 2),
        "predict_ms_per_architecture": round(1000 * cold_seconds, 4),
        "predict_ms_per_architecture_warm": round(1000 * warm_seconds, 4),
        "speedup": round(measure_s / max(cold_seconds, 1e-9), 1),
        "speedup_warm": round(measure_s / max(warm_seconds, 1e-9), 1),
        "held_out": [{"measured_ms": round(t, 3), "predicted_ms": round(p, 3)} for t, p in zip(truth, predicted)],
    }
    return predictor
