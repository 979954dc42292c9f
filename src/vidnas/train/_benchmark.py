"""``vidnas benchmark``: one trained network on every runtime that can run it here — PyTorch eager, its deploy
form, TorchScript, onnxruntime fp32 and int8, CUDA when present — with the accuracy each reaches on the user's
labelled clips and the latency of one clip, timed in turns (so drift of the machine's speed hits all alike), in
one table: what each deployment choice costs and gains."""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

INT8 = "onnxruntime-int8"
CALIBRATION_CLIPS = 32


@dataclass
class RuntimeRow:
    """One runtime's numbers: top-1/top-5 on the data, top-1 agreement with eager per video, median (p10, p90) ms
    per clip at batch 1, and for a causal network ms per streaming step; ``unavailable``: why it could not run."""

    runtime: str
    top1: float | None = None
    top5: float | None = None
    agreement: float | None = None
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    step_ms: float | None = None
    unavailable: str | None = None


@dataclass
class Benchmark:
    network: str
    path: str
    data: str
    clips: int
    threads: int
    rows: list[RuntimeRow] = field(default_factory=list)
    calibration: str | None = None
    machine: dict[str, Any] = field(default_factory=dict)

    def row(self, name: str) -> RuntimeRow | None:
        return next((r for r in self.rows if r.runtime == name), None)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int8_runtime(model: Any, dataset: Any, folder: Path, threads: int | None) -> Any:  # noqa: ANN401
    """The int8 graph of ``model`` calibrated on up to ``CALIBRATION_CLIPS`` clips spread over ``dataset``."""
    from vidnas.runtime import Int8Runtime, quantize_int8

    picks = sorted({round(i * (len(dataset) - 1) / max(CALIBRATION_CLIPS - 1, 1)) for i in range(min(CALIBRATION_CLIPS, len(dataset)))})
    feeds = [{"rgb": dataset[i]["video"][None].contiguous().numpy()} for i in picks]
    path = quantize_int8(model, folder / "int8.onnx", feeds)
    return Int8Runtime(model, path, threads), len(feeds)


def benchmark_network(path: Any, *, data: str | Path | None = None, classes: str | Path | None = None, threads: int | None = None,  # noqa: ANN401
                      runtimes: list[str] | None = None, int8: bool = True, calibrate: str | Path | None = None, rounds: int = 15,
                      log: Any = None) -> Benchmark:
    """Accuracy on ``data`` and batch-1 latency of the trained network at ``path`` (any form
    ``vidnas.weights.read_info`` reads) on each of ``runtimes`` (default: every available one, plus int8 unless
    ``int8`` is False; eager always, first: agreement is the share of videos whose top-1 class equals eager's). int8 is calibrated on clips of ``data`` itself (say so when you report it); the
    latency is the median over ``rounds`` turns on one clip of the data; ``log`` gets a line per stage."""
    from vidnas.measure import machine, torch_threads
    from vidnas.network import streaming_blockers
    from vidnas.runtime import RuntimeUnavailable, available_runtimes, make_runtime, select_runtime, time_in_turns
    from vidnas.train._api import trained_clips  # the module's own package: no cycle
    from vidnas.train._loop import evaluate
    from vidnas.weights import WeightsInfo, load_trained, read_info

    say = log or (lambda line: None)
    info = path if isinstance(path, WeightsInfo) else read_info(path)
    model = load_trained(info.path).eval()
    if list(getattr(model, "stream_names", ["rgb"])) != ["rgb"]:
        raise RuntimeUnavailable(f"{model.genotype.name} reads {', '.join(model.stream_names)}: the benchmark feeds RGB clips only")
    dataset, recipe, where = trained_clips(info, model, data, classes=classes)
    names = list(dict.fromkeys(["eager", *(runtimes or [*available_runtimes(), *([INT8] if int8 else [])])]))  # eager first: the reference
    with torch_threads(threads) as used:
        result = Benchmark(network=model.genotype.name, path=str(info.path), data=where, clips=len(dataset),
                           threads=used, machine=machine(used))
        spec = recipe.frames or model.genotype.input.frames, recipe.size or model.genotype.input.size[0]
        built: dict[str, Any] = {}
        with tempfile.TemporaryDirectory(prefix="vidnas-benchmark-") as scratch:
            for name in names:
                say(f"building {name}")
                try:
                    if name == INT8:
                        calibration = trained_clips(info, model, calibrate, classes=classes)[0] if calibrate is not None else dataset
                        built[name], count = _int8_runtime(model, calibration, Path(scratch), used)
                        result.calibration = f"{count} clips of {calibrate if calibrate is not None else result.data}"
                    else:
                        built[name] = make_runtime(name, model, mode="clip", threads=used, frames=spec[0], size=spec[1])
                except RuntimeUnavailable as problem:
                    result.rows.append(RuntimeRow(name, unavailable=str(problem)))
                except Exception as problem:  # noqa: BLE001 - a runtime that breaks on this network is a row, not the end
                    result.rows.append(RuntimeRow(name, unavailable=f"{type(problem).__name__}: {str(problem).splitlines()[0] if str(problem) else ''}"[:200]))
            reference = None
            for name, runtime in built.items():
                say(f"evaluating {name} on {len(dataset)} clips")
                scores = evaluate(model, dataset, batch_size=recipe.batch_size, runtime=runtime)
                if reference is None:
                    reference = scores["predictions"]
                agreement = sum(a == b for a, b in zip(scores["predictions"], reference)) / max(len(reference), 1)
                result.rows.append(RuntimeRow(name, top1=scores.get("top1"), top5=scores.get("top5"), agreement=agreement))
            clip = dataset[0]["video"][None].contiguous()
            say(f"timing {len(built)} runtimes in turns, {rounds} rounds")
            with torch.no_grad():
                calls = {name: (runtime, lambda r=runtime: r(clip)) for name, runtime in built.items()}
                time_in_turns(calls, 2)  # warm-up
                times = time_in_turns(calls, rounds)
            for name, values in times.items():
                row = result.row(name)
                quantiles = statistics.quantiles(values, n=10) if len(values) >= 2 else [values[0]] * 9
                row.median_ms, row.p10_ms, row.p90_ms = statistics.median(values), quantiles[0], quantiles[-1]
            if not streaming_blockers(model):
                say("timing the streaming step")
                stream = select_runtime(model, mode="stream", threads=used, size=spec[1])
                for name, ms in stream.timings_ms.items():
                    row = result.row(name)
                    if row is not None:
                        row.step_ms = ms
    order = {name: i for i, name in enumerate(names)}
    result.rows.sort(key=lambda r: (r.unavailable is not None, order.get(r.runtime, len(order))))
    return result
