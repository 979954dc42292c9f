"""Inference runtimes: one network run as PyTorch eager, its deploy form, onnxruntime, TorchScript or (with a
GPU) CUDA in fp32, fp16 or bf16 with CUDA graphs — the fastest for a model and input picked by measuring them,
each checked against the eager network first — and the int8 form of the exported graph, calibrated on the user's
videos and judged by its top-1 agreement — and the deployment bundle of a trained network (``export_bundle``).

>>> chosen = select_runtime(model, mode="stream", threads=2)       # or runtime="onnxruntime" to force one
>>> chosen.runtime.name, chosen.timings_ms
>>> state = chosen.runtime.init_state(1)
>>> logits, state = chosen.runtime.stream_step(frame, state)
"""

from vidnas.runtime._runtimes import (
    CPU_RUNTIMES,
    GPU_RUNTIMES,
    ONE_THREAD,
    PRECISIONS,
    SHARDED,
    RUNTIMES,
    TOLERANCE,
    DeployRuntime,
    EagerRuntime,
    OnnxRuntime,
    Runtime,
    RuntimeUnavailable,
    Selection,
    TorchScriptRuntime,
    available_runtimes,
    describe,
    make_runtime,
    select_runtime,
    time_in_turns,
)
from vidnas.runtime._cuda import REDUCED_TOLERANCE, CudaRuntime
from vidnas.runtime._bundle import BundleResult, export_bundle
from vidnas.runtime._quantize import (
    METHODS,
    QUANTIZED_OPS,
    Int8Report,
    Int8Runtime,
    QuantizationError,
    calibration_feeds,
    compare_int8,
    decode_videos,
    int8_export,
    quantize_int8,
)

__all__ = [
    "BundleResult",
    "export_bundle",
    "CPU_RUNTIMES",
    "GPU_RUNTIMES",
    "PRECISIONS",
    "REDUCED_TOLERANCE",
    "CudaRuntime",
    "available_runtimes",
    "ONE_THREAD",
    "SHARDED",
    "METHODS",
    "QUANTIZED_OPS",
    "Int8Report",
    "Int8Runtime",
    "QuantizationError",
    "calibration_feeds",
    "compare_int8",
    "decode_videos",
    "int8_export",
    "quantize_int8",
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
    "time_in_turns",
]
