"""Runtimes share the network's inference surface — ``runtime(x)`` for whole clips, ``init_state`` and
``stream_step`` for frame-by-frame streaming — so the stream runners and the evaluator take any of them.

* ``eager``: the PyTorch network in eval mode (the reference every other runtime is checked against);
* ``deploy``: ``export.deploy_model`` (BN folded, iTGM kernels materialised, channels-last convolutions);
* ``onnxruntime``: the exported graph (BN folded, batch dimension free) in an onnxruntime CPU session with every
  graph optimisation on and ``threads`` intra-op threads. Its streaming step binds inputs and outputs to
  preallocated buffers (onnxruntime I/O binding): frames and state are read where they lie, the next state is
  written straight into one of three buffer sets kept per batch size (never the set just passed in nor the one
  returned last), so a step allocates and copies no state. Many streams can also be split between one-thread
  sessions stepped concurrently, each reading and writing its rows of those buffers (``shards``);
* ``torchscript``: the deploy form traced (one trace per batch size), frozen and optimised for inference;
* ``cuda``, ``cuda-fp16``, ``cuda-bf16`` (with a GPU): the deploy form on the GPU, every fixed-shape call and
  streaming step replayed as a CUDA graph (``vidnas.runtime._cuda``).

``select_runtime`` builds the available ones, checks each against eager (``TOLERANCE``), times them interleaved
on the real input shape and returns the fastest with every timing and error, so a caller can say what it chose
and why.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from vidnas.errors import VidnasError
from vidnas.measure import torch_threads
from vidnas.runtime._base import PRECISIONS, TOLERANCE, Runtime, RuntimeUnavailable, _streams
from vidnas.runtime._cuda import CudaRuntime

CPU_RUNTIMES = ("eager", "deploy", "onnxruntime", "torchscript")
GPU_RUNTIMES = tuple(PRECISIONS)
RUNTIMES = CPU_RUNTIMES + GPU_RUNTIMES
ONE_THREAD = "onnxruntime@1thread"
"""The onnxruntime session on one intra-op thread, also timed when more are allowed: overhead-bound graphs
(the MoViNet-A0 streaming step: a few hundred small nodes) ran faster on one of this machine's two cores (7.7 against
9.8 ms/step) than split over both."""
SHARDED = "onnxruntime@shards"
"""Many streams (a batch of at least two, more than one thread allowed): the streams split between one-thread
onnxruntime sessions stepped concurrently (``OnnxRuntime(shards=...)``), also timed beside the batched session."""
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64, torch.int32: np.int32, torch.float16: np.float16}


class EagerRuntime(Runtime):
    name = "eager"

    @torch.no_grad()
    def __call__(self, x: Any) -> torch.Tensor:
        with torch_threads(self.threads):
            return self.model(x)

    @torch.no_grad()
    def stream_step(self, frames: Any, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch_threads(self.threads):
            return self.model.stream_step(frames, state)


class DeployRuntime(EagerRuntime):
    name = "deploy"

    def __init__(self, model: nn.Module, threads: int | None = None, *, example: Any = None) -> None:
        """``example``: a clip of the shape it will run on — each conv then runs in the form measured fastest there
        (``deploy_model(layout="auto")``; X3D-S ran at 0.63 instead of 0.82 of PyTorchVideo's best time in one
        interleaved run, after 2 s of tuning); without one (streaming steps) every conv runs channels_last_3d."""
        from vidnas.export import deploy_model

        super().__init__(model, threads)
        self.reference = self.model
        if example is None:
            self.model = deploy_model(self.model, layout="channels_last")
        else:
            self.model = deploy_model(self.model, example, layout="auto", threads=threads)

    def _layout(self, x: Any) -> Any:
        if isinstance(x, dict):
            return {k: v.contiguous(memory_format=torch.channels_last_3d) for k, v in x.items()}
        return x.contiguous(memory_format=torch.channels_last_3d)

    def __call__(self, x: Any) -> torch.Tensor:
        return super().__call__(self._layout(x))

    def init_state(self, batch_size: int = 1, size: int | tuple[int, int] | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        return self.reference.init_state(batch_size, size, **kwargs)


def _ort_session(path: Path, threads: int | None) -> Any:
    from vidnas._imports import optional_import

    ort = optional_import("onnxruntime", "the onnxruntime runtime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxRuntime(Runtime):
    name = "onnxruntime"

    def __init__(self, model: nn.Module, threads: int | None = None, *, stream: bool = False, size: int | tuple[int, int] | None = None,
                 frames: int | None = None, folder: str | Path | None = None, path: str | Path | None = None,
                 batch: int | None = None, shards: int = 1) -> None:
        """Export ``model`` (into ``folder``, else a temporary one) and open it; ``path``: open this graph instead
        (exported by vidnas from the same network, e.g. its int8 form), a streaming step when it has state inputs.

        ``batch`` (streaming): the step graph is exported for exactly that many streams — every shape in it is then
        a constant that onnxruntime folds away, and the A0-stream step ran 14–18 % faster than on a graph with a free
        batch dimension; a step on another number of streams (streams that left) falls back to a free-batch graph,
        exported once on first need. ``path`` with ``batch``: that file is such a fixed-batch step graph.

        ``shards`` (streaming, with ``batch``): the streams are split into that many groups of consecutive rows, each
        stepped by its own session on ``threads // shards`` intra-op threads, the groups concurrently (onnxruntime
        releases the GIL while it runs); each group reads and writes its rows of the shared buffers in place. A
        step of a few hundred small nodes parallelises badly inside one session (a synchronisation per node), and
        streams need none between them — ``select_runtime`` times this form beside the others (``SHARDED``)."""
        super().__init__(model, threads)
        if next(model.parameters()).device.type != "cpu":
            raise RuntimeUnavailable("onnxruntime runs here on the CPU; the model is on another device")
        if shards < 1 or (shards > 1 and (not stream or batch is None or batch < shards or path is not None)):
            raise ValueError(f"shards={shards}: splitting the streams needs a streaming step exported here for a batch of at least that many streams (batch={batch})")
        self._folder = None
        self._export = {"stream": stream, "size": size, "frames": frames}
        self.static_batch = batch if stream else None
        self._dynamic_session: Any = None
        self._shards: list[tuple[int, int, Any]] = []  # (first row, rows, session) of each group of streams
        self._pool: Any = None
        if path is None:
            self._folder = tempfile.TemporaryDirectory(prefix="vidnas-ort-") if folder is None else None
            root = Path(folder) if folder is not None else Path(self._folder.name)
            if shards > 1:
                path = self._open_shards(root, shards)
            else:
                path = self._write(root / ("step.onnx" if stream else "clip.onnx"), self.static_batch)
        elif not Path(path).is_file():
            raise RuntimeUnavailable(f"{path}: no such ONNX file")
        self.session = self._shards[0][2] if self._shards else self._open(Path(path))
        self.path = Path(path)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        expected = [s.name for s in model.genotype.input.streams]
        if self.input_names[: len(expected)] != expected or self.output_names[0] != "logits":
            raise RuntimeUnavailable(f"{path}: its inputs {self.input_names[:4]} are not those vidnas exports for {model.genotype.name} ({expected} ...)")
        self.state_names = [n[len("state."):] for n in self.input_names if n.startswith("state.")]
        self._buffers: dict[tuple, list[list[torch.Tensor]]] = {}
        self._last: dict[tuple, int] = {}

    def _write(self, path: Path, batch: int | None) -> Path:
        from vidnas.export import export_model

        try:
            with warnings.catch_warnings():  # the exporter's notes on constant folding are not the user's business
                warnings.simplefilter("ignore")
                export_model(self.model, path, batch_size=batch or 1, dynamic_batch=batch is None, **self._export)
        except Exception as error:  # noqa: BLE001 - the exporter raises many types; the runtime is then unavailable
            raise RuntimeUnavailable(f"ONNX export failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
        return path

    def _open_shards(self, root: Path, shards: int) -> Path:
        """One session per group of streams (groups of near-equal size, one graph per size); the first group's graph."""
        batch = int(self.static_batch or 0)
        sizes = [batch // shards + (i < batch % shards) for i in range(shards)]
        threads = max(1, (self.threads or torch.get_num_threads()) // shards)
        graphs: dict[int, Path] = {}
        first = 0
        for rows in sizes:
            if rows not in graphs:
                graphs[rows] = self._write(root / f"step_b{rows}.onnx", rows)
            self._shards.append((first, rows, self._open(graphs[rows], threads)))
            first += rows
        return graphs[sizes[0]]

    @property
    def shards(self) -> int:
        return max(1, len(self._shards))

    def _open(self, path: Path, threads: int | None = None) -> Any:
        try:
            return _ort_session(path, threads or self.threads)
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types for unreadable graphs
            raise RuntimeUnavailable(f"{path}: onnxruntime cannot open it ({str(error).splitlines()[0][:200]})") from None

    def _session_for(self, batch: int) -> Any:
        if self.static_batch is None or batch == self.static_batch:
            return self.session
        if self._dynamic_session is None:
            with tempfile.TemporaryDirectory(prefix="vidnas-ort-") as scratch:  # the session keeps the graph in memory
                self._dynamic_session = self._open(self._write(Path(scratch) / "step.onnx", None))
        return self._dynamic_session

    def running(self) -> Any:
        """Torch on one thread: its idle worker threads would otherwise compete with onnxruntime's for the cores
        (the A0-stream step took 13-20 ms instead of 7.6 beside torch's two threads on 2 cores)."""
        return torch_threads(1)

    def __call__(self, x: Any) -> torch.Tensor:
        frames = self._inputs(x)
        feeds = {name: t.detach().contiguous().numpy() for name, t in zip(self.stream_names, frames)}
        return torch.from_numpy(self.session.run(["logits"], feeds)[0])

    def _output_set(self, key: tuple, shapes: list[tuple[torch.Size, torch.dtype]], taken: set[int]) -> list[torch.Tensor]:
        sets = self._buffers.get(key)
        if sets is None:
            sets = self._buffers[key] = [[torch.empty(shape, dtype=dtype) for shape, dtype in shapes] for _ in range(3)]
        last = self._last.get(key)
        for index, candidate in enumerate(sets):
            if index != last and candidate[0].data_ptr() not in taken and all(t.data_ptr() not in taken for t in candidate[1:]):
                self._last[key] = index
                return candidate
        raise AssertionError("three buffer sets always leave one free")  # pragma: no cover

    def stream_step(self, frames: Any, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One step per new frame (the graph takes one); returns views of preallocated buffers that stay valid until
        the step after next — keep a copy (``clone``) of a state you want to hold longer."""
        inputs = self._inputs(frames)
        steps = inputs[0].shape[2]
        logits = None
        for t in range(steps):
            logits, state = self._one_step([x[:, :, t : t + 1] for x in inputs], state)
        return logits.clone(), state

    def _one_step(self, frames: list[torch.Tensor], state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        batch = frames[0].shape[0]
        feeds = [f.contiguous() for f in frames] + [state[name].contiguous() for name in self.state_names]
        shapes = [((batch, self.num_classes), torch.float32)] + [(state[name].shape, state[name].dtype) for name in self.state_names]
        key = tuple((tuple(s), d) for s, d in shapes)
        outputs = self._output_set(key, shapes, {t.data_ptr() for t in feeds})
        if self._shards and batch == self.static_batch:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=len(self._shards) - 1, thread_name_prefix="vidnas-ort-shard")
            runs = [(session, [t[first : first + rows] for t in feeds], [t[first : first + rows] for t in outputs]) for first, rows, session in self._shards]
            pending = [self._pool.submit(self._run, *run) for run in runs[1:]]
            self._run(*runs[0])
            for future in pending:
                future.result()
        else:
            self._run(self._session_for(batch), feeds, outputs)
        return outputs[0], dict(zip(self.state_names, outputs[1:]))

    def _run(self, session: Any, feeds: list[torch.Tensor], outputs: list[torch.Tensor]) -> None:
        """One step of ``session`` reading ``feeds`` and writing ``outputs`` where they lie (contiguous tensors or
        row ranges of them)."""
        binding = session.io_binding()
        for name, tensor in zip(self.input_names, feeds):
            binding.bind_input(name, "cpu", 0, _NUMPY[tensor.dtype], list(tensor.shape), tensor.data_ptr())
        for name, tensor in zip(self.output_names, outputs):
            binding.bind_output(name, "cpu", 0, _NUMPY[tensor.dtype], list(tensor.shape), tensor.data_ptr())
        session.run_with_iobinding(binding)


class TorchScriptRuntime(DeployRuntime):
    name = "torchscript"

    def __init__(self, model: nn.Module, threads: int | None = None, *, stream: bool = False, size: int | tuple[int, int] | None = None,
                 example: Any = None) -> None:
        super().__init__(model, threads, example=None if stream else example)
        self.stream, self.size = stream, size
        self._traced: dict[tuple, Any] = {}

    def _trace(self, example: tuple[torch.Tensor, ...], graph: nn.Module) -> Any:
        key = tuple(tuple(t.shape) for t in example)
        if key not in self._traced:
            with torch.no_grad(), torch_threads(self.threads), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit's deprecation notes
                traced = torch.jit.trace(graph.eval(), example, check_trace=False)
                self._traced[key] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return self._traced[key]

    @torch.no_grad()
    def __call__(self, x: Any) -> torch.Tensor:
        from vidnas.export._export import _ClipGraph

        frames = tuple(self._layout(t) for t in self._inputs(x))
        with torch_threads(self.threads):
            return self._trace(frames, _ClipGraph(self.model, self.stream_names))(*frames)

    @torch.no_grad()
    def stream_step(self, frames: Any, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        from vidnas.export._export import _StepGraph

        names = sorted(state)
        inputs = tuple(self._inputs(frames))
        example = inputs + tuple(state[n] for n in names)
        graph = _StepGraph(self.model, self.stream_names, names, {n: tuple(state[n].shape) for n in names}, False)
        with torch_threads(self.threads):
            outputs = self._trace(example, graph)(*example)
        return outputs[0], dict(zip(names, outputs[1:]))


def available_runtimes() -> tuple[str, ...]:
    """The runtimes ``select_runtime`` tries with ``runtime="auto"``: the GPU ones only where torch sees a CUDA device."""
    return RUNTIMES if torch.cuda.is_available() else CPU_RUNTIMES


def make_runtime(name: str, model: nn.Module, *, mode: str = "clip", threads: int | None = None, size: int | tuple[int, int] | None = None,
                 frames: int | None = None, batch: int | None = None) -> Runtime:
    """One runtime by name (see ``RUNTIMES``); raises :class:`RuntimeUnavailable` when it cannot run the model.
    ``batch``: the number of streams a streaming runtime will mostly step (onnxruntime fixes its graph to it)."""
    if mode not in ("clip", "stream"):
        raise ValueError(f"mode must be 'clip' or 'stream', got {mode!r}")
    if name not in RUNTIMES:
        raise VidnasError(f"unknown runtime {name!r}: choose one of {', '.join(RUNTIMES)} or 'auto'")
    if name == "eager":
        return EagerRuntime(model, threads)
    def example() -> Any:  # the clip the per-conv tuning of the torch runtimes measures; none for streaming steps
        return _example(model, "clip", 1, size, frames) if mode == "clip" else None

    if name == "deploy":
        return DeployRuntime(model, threads, example=example())
    if name in GPU_RUNTIMES:
        return CudaRuntime(model, threads, dtype=PRECISIONS[name])
    if name == "onnxruntime":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise RuntimeUnavailable("onnxruntime is not installed (pip install -e '.[export]')") from None
        return OnnxRuntime(model, threads, stream=mode == "stream", size=size, frames=frames, batch=batch if mode == "stream" else None)
    return TorchScriptRuntime(model, threads, stream=mode == "stream", size=size, example=example())


STEP_BLOCK = 5
"""Consecutive streaming steps each runtime is timed over per round of :func:`select_runtime`."""


def time_in_turns(calls: dict[str, tuple[Runtime, Callable[[], Any]]], rounds: int, block: int = 1) -> dict[str, list[float]]:
    """ms per call of each (runtime, call), the runtimes taking turns for ``rounds`` rounds (so drift of the
    machine's speed hits all alike), ``block`` consecutive timed calls per turn after one untimed call. The untimed
    call pays for what the previous runtime left behind: cold caches, and after onnxruntime its intra-op threads,
    which spin on for a while after a run — a PyTorch call right after an onnxruntime one took 13–16 ms where it
    takes 6 alone (2 cores, the 26-MMAC X3D of the main job), which made every torch runtime look 2× slower than
    it is. With ``block`` > 1 a streaming step is timed as a stream runs it, one runtime many times in a row."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, (runtime, call) in calls.items():
            with runtime.running():
                call()
                for _ in range(block):
                    start = time.perf_counter()
                    call()
                    times[name].append((time.perf_counter() - start) * 1000)
    return times


@dataclass
class Selection:
    """The chosen runtime and the evidence: median ms per call (clip) or per step (stream) of every runtime that
    ran, its max relative logit error against eager, and why the others could not run."""

    runtime: Runtime
    mode: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    chosen: str = ""  # the timing's label (``ONE_THREAD`` when onnxruntime won on one thread)

    @property
    def name(self) -> str:
        return self.runtime.name

    def summary(self) -> str:
        return describe(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {"runtime": self.name, "chosen": self.chosen or self.name, "threads": self.runtime.threads, "mode": self.mode, "timings_ms": self.timings_ms, "max_relative_error": self.errors, "unavailable": self.unavailable}


def describe(selection: dict[str, Any]) -> str:
    """One line: the runtime that runs, every runtime's median time (fastest first), and why others could not run
    (from ``Selection.as_dict``)."""
    unit = "ms/step" if selection["mode"] == "stream" else "ms/call"
    timings = selection.get("timings_ms") or {}
    text = f"runtime: {selection['runtime']}" + (f" on {selection['threads']} thread(s)" if selection.get("threads") else "")
    if selection.get("chosen") == SHARDED:
        text += " (the streams split between one-thread sessions stepped concurrently)"
    if timings:
        text += " (" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(timings.items(), key=lambda kv: kv[1])) + f" {unit})"
    if selection.get("unavailable"):
        text += "; unavailable: " + "; ".join(f"{k}: {v}" for k, v in selection["unavailable"].items())
    return text


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    from vidnas.export import max_relative_error

    return max_relative_error(a.float().cpu(), b.float().cpu())  # GPU runtimes return CPU logits, eager on a GPU does not


def _example(model: nn.Module, mode: str, batch: int, size: int | tuple[int, int] | None, frames: int | None) -> Any:
    spec = model.genotype.input
    height, width = (size, size) if isinstance(size, int) else (size or spec.size)
    length = 1 if mode == "stream" else (frames or spec.frames)
    generator = torch.Generator().manual_seed(0)
    tensors = {s.name: torch.randn(batch, s.channels, length, height, width, generator=generator) for s in spec.streams}
    return tensors[_streams(model)[0]] if len(tensors) == 1 else tensors


def select_runtime(
    model: nn.Module,
    *,
    mode: str = "clip",
    runtime: str = "auto",
    threads: int | None = None,
    batch: int = 1,
    size: int | tuple[int, int] | None = None,
    frames: int | None = None,
    repeats: int = 7,
    tolerance: float = TOLERANCE,
) -> Selection:
    """The fastest runtime for ``model`` on inputs of ``batch`` × ``frames`` × ``size`` (``mode="stream"``: one
    streaming step of one frame), measured: each available runtime is built, checked against eager (its logits
    on the same input — three consecutive steps when streaming — within ``tolerance``), then all are timed
    interleaved, ``repeats`` rounds, and the lowest median wins. A stream steps one runtime many times in a row,
    so streaming steps are timed in runs of ``STEP_BLOCK`` consecutive steps per runtime and round (after one
    untimed step): stepping the runtimes in turn, one step each, cycles their weights through the caches and
    timed the A0-stream step at 5.1 ms on every onnxruntime session, against 3.1 (2 threads) and 4.5 ms (1 thread)
    stepped alone (``benchmarks/streaming.py``) — a tie that hid the faster choice. ``runtime`` names the one to use (it is still
    checked and timed). ``tolerance`` holds for the fp32 runtimes; ``cuda-fp16`` and ``cuda-bf16`` are held to
    their own, looser one (``vidnas.runtime._cuda.REDUCED_TOLERANCE``). With more than one thread allowed, onnxruntime is also timed on one (``ONE_THREAD``):
    ``threads`` is the most a runtime may use."""
    model = model.eval()
    if mode == "stream":
        model.init_state(1, size)  # refuses a non-causal network up front, naming the layer
    names = available_runtimes() if runtime == "auto" else (runtime,)
    if runtime != "auto" and runtime not in RUNTIMES:
        raise VidnasError(f"unknown runtime {runtime!r}: choose one of {', '.join(RUNTIMES)} or 'auto'")
    example = _example(model, mode, batch, size, frames)
    device = next(model.parameters(), torch.empty(0)).device
    if device.type != "cpu":  # a network already on a GPU (``evaluate(device="cuda")``): eager runs it there, and the
        # CPU runtimes report themselves unavailable instead of breaking the reference
        example = {k: v.to(device) for k, v in example.items()} if isinstance(example, dict) else example.to(device)
    eager = EagerRuntime(model, threads)
    calls: dict[str, Callable[[], torch.Tensor]] = {}
    built: dict[str, Runtime] = {}
    selection = Selection(runtime=eager, mode=mode)

    def reference_outputs() -> list[torch.Tensor]:
        if mode == "clip":
            return [eager(example)]
        state, out = eager.init_state(batch, size), []
        for _ in range(3):
            logits, state = eager.stream_step(example, state)
            out.append(logits)
        return out

    reference = reference_outputs()
    labels = list(names)
    for name in labels:
        try:
            if name == ONE_THREAD:  # the same graph in a one-thread session
                multi = built["onnxruntime"]
                candidate = OnnxRuntime(model, 1, path=multi.path, stream=mode == "stream", size=size, frames=frames, batch=multi.static_batch)
                candidate._folder = multi._folder  # the graph's folder lives as long as either session
            elif name == SHARDED:  # the streams split between one-thread sessions stepped concurrently
                candidate = OnnxRuntime(model, threads, stream=True, size=size, frames=frames, batch=batch, shards=min(threads or torch.get_num_threads(), batch))
            else:
                candidate = eager if name == "eager" else make_runtime(name, model, mode=mode, threads=threads, size=size, frames=frames, batch=batch)
            if mode == "clip":
                outputs = [candidate(example)]
            else:
                state, outputs = candidate.init_state(batch, size), []
                for _ in range(3):
                    logits, state = candidate.stream_step(example, state)
                    outputs.append(logits.clone())
            error = max(_relative(o, r) for o, r in zip(outputs, reference))
        except RuntimeUnavailable as problem:
            selection.unavailable[name] = str(problem)
            continue
        except Exception as problem:  # noqa: BLE001 - a runtime that breaks on this model is reported, not fatal
            selection.unavailable[name] = f"{type(problem).__name__}: {str(problem).splitlines()[0] if str(problem) else ''}"[:200]
            continue
        selection.errors[name] = error
        limit = max(tolerance, candidate.tolerance)  # half-precision runtimes state their own
        if not error <= limit:
            selection.unavailable[name] = f"outputs differ from eager by {error:.2e} (> {limit:.0e})"
            continue
        built[name] = candidate
        if name == "onnxruntime" and (threads or torch.get_num_threads()) > 1:
            labels.append(ONE_THREAD)  # small graphs often step faster on one thread than on several
            if mode == "stream" and batch > 1:
                labels.append(SHARDED)  # and many streams faster split between sessions than batched in one
        if mode == "clip":
            calls[name] = lambda c=candidate: c(example)
        else:
            holder = {"state": candidate.init_state(batch, size)}

            def step(c: Runtime = candidate, h: dict = holder) -> torch.Tensor:
                logits, h["state"] = c.stream_step(example, h["state"])
                return logits

            calls[name] = step
    if not built:
        raise RuntimeUnavailable(f"no runtime can run {model.genotype.name}: " + "; ".join(f"{k}: {v}" for k, v in selection.unavailable.items()))
    turns = {name: (built[name], call) for name, call in calls.items()}
    time_in_turns(turns, 1)  # warm-up
    times = time_in_turns(turns, repeats, STEP_BLOCK if mode == "stream" else 1)
    selection.timings_ms = {name: round(statistics.median(values), 3) for name, values in times.items()}
    selection.chosen = min(selection.timings_ms, key=selection.timings_ms.get)
    selection.runtime = built[selection.chosen]
    return selection
