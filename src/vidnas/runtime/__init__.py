"""Inference runtimes: one network run as PyTorch eager, its deploy form, onnxruntime or TorchScript — the
fastest for a model and input picked by measuring them, each checked against the eager network first.

>>> chosen = select_runtime(model, mode="stream", threads=2)       # or runtime="onnxruntime" to force one
>>> chosen.runtime.name, chosen.timings_ms
>>> state = chosen.runtime.init_state(1)
>>> logits, state = chosen.runtime.stream_step(frame, state)
"""

from vidnas.runtime._runtimes import (
    RUNTIMES,
    TOLERANCE,
    DeployRuntime,
    EagerRuntime,
    OnnxRuntime,
    Runtime,
    RuntimeUnavailable,
    Selection,
    TorchScriptRuntime,
    describe,
    make_runtime,
    select_runtime,
)

__all__ = [
    "RUNTIMES",
    "TOLERANCE",
    "DeployRuntime",
    "EagerRuntime",
    "OnnxRuntime",
    "Runtime",
    "RuntimeUnavailable",
    "Selection",
    "TorchScriptRuntime",
    "describe",
    "make_runtime",
    "select_runtime",
]
