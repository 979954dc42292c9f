"""The network on a GPU: its deploy form (BN folded, iTGM kernels materialised, channels-last) in fp32, fp16 or
bf16, every fixed-shape call replayed as a CUDA graph.

* ``cuda``: fp32 with TF32 off, so the logits stay within ``TOLERANCE`` of the eager network's;
* ``cuda-fp16`` / ``cuda-bf16``: the same weights run under autocast, so convolutions and matrix products run in
  half precision on the tensor cores while the streaming state (frame buffers, running sums and counts) stays fp32
  — a running sum over an hour of frames would overflow fp16. Their outputs are checked against eager with the
  looser ``REDUCED_TOLERANCE``.

A call of a new input shape (a clip shape; for a streaming step, the batch, frame size and state shapes) is
captured once as a CUDA graph after two warm-up runs, then replayed: one launch instead of several hundred kernel
launches, which is what a one-frame step of a small network is made of. A streaming step reads its frames and
state from static buffers and writes the next state into one of three static sets in the graph itself (each set
has its own graph reading it), so steps chain without a copy and the state returned last stays valid until the
step after next — the contract of the onnxruntime step. A state from elsewhere (a new stream, a changed batch of
streams) is copied into a free set first. A network whose step cannot be captured (a host synchronisation inside
it) runs the same computation without the graph; ``graph_failures`` says why.

``device="cpu"`` runs the same code without graphs (autocast in bf16 or fp16 on the CPU): the bookkeeping is tested
on machines without a GPU, and it measures what reduced precision does to a network's outputs.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any, Callable, Iterator

import torch
from torch import nn

from vidnas.runtime._base import PRECISIONS, TOLERANCE, Runtime, RuntimeUnavailable

REDUCED_TOLERANCE = {torch.float16: 5e-3, torch.bfloat16: 3e-2}
"""Largest accepted max |Δlogit| / max |logit| against the eager fp32 network in half precision: about five times
the largest seen under CPU autocast (fp16 4e-4 to 1.2e-3, bf16 4e-3 to 9e-3 on MoViNet-A0, X3D-XS and TVN-1 clips,
two random inputs each, and MoViNet-A0 streaming steps)."""
GRAPH_CACHE = 8
"""Input shapes whose CUDA graphs are kept (least recently used dropped first): streams that join and leave one
by one change the batch of every step."""


class _Plan:
    """One input shape: static input buffers, and per source (a streaming state set, or the clip) a captured graph
    or, without graphs, the computation run directly."""

    def __init__(self, runtime: "CudaRuntime", inputs: list[torch.Tensor]) -> None:
        self.runtime = runtime
        self.inputs = [torch.empty_like(x, device=runtime.device, memory_format=torch.contiguous_format) for x in inputs]
        self.graphs: dict[int, Any] = {}
        self.outputs: dict[int, torch.Tensor] = {}
        self.failed: set[int] = set()  # sources whose capture failed: run without a graph

    def load(self, inputs: list[torch.Tensor]) -> None:
        for buffer, x in zip(self.inputs, inputs):
            buffer.copy_(x, non_blocking=True)

    def run(self, source: int, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``compute`` (reading the static buffers) for ``source``: replayed from its graph, captured on first use."""
        runtime = self.runtime
        if not runtime.graphs or source in self.failed:
            return compute()
        if source not in self.graphs:
            try:
                self.graphs[source], self.outputs[source] = _capture(compute)
            except Exception as problem:  # noqa: BLE001 - any capture failure falls back to the plain computation
                runtime.graph_failures.append(f"{type(problem).__name__}: {str(problem).splitlines()[0] if str(problem) else ''}"[:200])
                self.failed.add(source)
                torch.cuda.synchronize(runtime.device)
                return compute()
        self.graphs[source].replay()
        return self.outputs[source]


def _capture(compute: Callable[[], torch.Tensor]) -> tuple[Any, torch.Tensor]:
    """A CUDA graph of ``compute`` and its (static) output, after two warm-up runs on a side stream (as cuDNN and
    the caching allocator need)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            compute()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        output = compute()
    return graph, output


class CudaRuntime(Runtime):
    """The deploy form on ``device`` in ``dtype`` (autocast when below fp32), CUDA graphs on a GPU."""

    def __init__(self, model: nn.Module, threads: int | None = None, *, dtype: torch.dtype = torch.float32, device: str | torch.device = "cuda",
                 graphs: bool | None = None, planar: bool = True) -> None:
        """``graphs``: replay CUDA graphs (default: on a CUDA device); ``planar``: run streaming steps on 4-D frames
        (every conv a 2D conv, as the exported step does; ``VidNet.stream_step``)."""
        from vidnas.export import deploy_model

        super().__init__(model, threads)
        self.device, self.dtype = torch.device(device), dtype
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
        if self.device.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeUnavailable("no CUDA device (torch.cuda.is_available() is False)")
            if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
                raise RuntimeUnavailable(f"{torch.cuda.get_device_name(self.device)} has no bf16 support")
        self.graphs = self.device.type == "cuda" if graphs is None else graphs
        if self.graphs and self.device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        self.planar = planar
        self.name = next((n for n, d in PRECISIONS.items() if d == dtype), "cuda") if self.device.type == "cuda" else f"{self.device.type}-{str(dtype).split('.')[-1]}"
        self.tolerance = REDUCED_TOLERANCE.get(dtype, TOLERANCE)
        self.reference = self.model
        try:
            self.model = deploy_model(self.model, layout="channels_last").to(self.device)
        except torch.cuda.OutOfMemoryError as error:
            raise RuntimeUnavailable(f"out of GPU memory moving {self.genotype.name} to {self.device}: {str(error).splitlines()[0]}") from None
        self.graph_failures: list[str] = []
        self._plans: OrderedDict[tuple, tuple[_Plan, list[dict[str, torch.Tensor]]]] = OrderedDict()
        self._last: dict[tuple, int] = {}

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        """fp32 without TF32 (cuDNN allows it by default), or autocast to the runtime's half precision."""
        flags = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        try:
            # no autocast weight cache: the casts it would cache during a capture are freed when the context
            # exits, leaving the graph reading freed memory (torch's CUDA graph notes); casting A0's 3 M weights
            # inside each replay costs a few microseconds of GPU memory traffic
            with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32, cache_enabled=False):
                yield
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags

    def _plan(self, key: tuple, inputs: list[torch.Tensor], state: dict[str, torch.Tensor] | None = None) -> tuple[_Plan, list[dict[str, torch.Tensor]]]:
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = _Plan(self, inputs)
        sets = [{k: torch.empty_like(v, device=self.device, memory_format=torch.contiguous_format) for k, v in state.items()} for _ in range(3)] if state else []
        self._plans[key] = (plan, sets)
        while len(self._plans) > GRAPH_CACHE:
            old, _ = self._plans.popitem(last=False)
            self._last.pop(old, None)
        return plan, sets

    def _feed(self, buffers: list[torch.Tensor]) -> Any:
        if len(buffers) == 1 and len(self.stream_names) == 1:
            return buffers[0]
        return dict(zip(self.stream_names, buffers))

    @torch.no_grad()
    def __call__(self, x: Any) -> torch.Tensor:
        """Logits of whole clips, as fp32 on the CPU (the inputs may lie on the CPU or the device)."""
        inputs = self._inputs(x)
        key = ("clip",) + tuple((tuple(t.shape), t.dtype) for t in inputs)
        plan, _ = self._plan(key, inputs)
        with self._precision():
            plan.load(inputs)

            def compute() -> torch.Tensor:
                clips = [b.contiguous(memory_format=torch.channels_last_3d) for b in plan.inputs]
                return self.model(self._feed(clips))

            logits = plan.run(0, compute)
            return logits.float().cpu()

    def init_state(self, batch_size: int = 1, size: int | tuple[int, int] | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The state of new streams on the runtime's device, fp32 whatever the runtime's precision."""
        kwargs.update(device=self.device, dtype=torch.float32)
        return self.model.init_state(batch_size, size, **kwargs)

    @torch.no_grad()
    def stream_step(self, frames: Any, state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One step per new frame; the logits as fp32 on the CPU, the next state on the device in one of three static
        sets that stays valid until the step after next — keep a ``clone`` of a state you want to hold longer."""
        inputs = self._inputs(frames)
        logits = None
        with self._precision():
            for t in range(inputs[0].shape[2]):
                logits, state = self._one_step([x[:, :, t : t + 1] for x in inputs], state)
        return logits.float().cpu(), state

    def _one_step(self, inputs: list[torch.Tensor], state: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        names = sorted(state)
        key = ("step",) + tuple((tuple(t.shape), t.dtype) for t in inputs) + tuple((n, tuple(state[n].shape), state[n].dtype) for n in names)
        plan, sets = self._plan(key, inputs, state)
        source = next((i for i, held in enumerate(sets) if all(held[n].data_ptr() == state[n].data_ptr() for n in names)), None)
        if source is None:  # a state from elsewhere: into the set after the one returned last (which stays valid)
            source = (self._last.get(key, 2) + 1) % 3
            for n in names:
                sets[source][n].copy_(state[n], non_blocking=True)
        target = sets[(source + 1) % 3]
        plan.load(inputs)

        def compute(read: dict[str, torch.Tensor] = sets[source]) -> torch.Tensor:
            logits, new = self.model.stream_step(self._feed(plan.inputs), read, planar=self.planar)
            for n in names:
                target[n].copy_(new[n])
            return logits

        logits = plan.run(source, compute)
        self._last[key] = (source + 1) % 3
        return logits, target
