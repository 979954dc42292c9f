"""Shared value types of the architecture language: triples, shapes, activations and output-size math."""

from __future__ import annotations

import math
from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, SerializerFunctionWrapHandler, model_serializer

from vidnas.errors import GenotypeError

Activation = Literal["relu", "relu6", "swish", "hswish", "sigmoid", "hsigmoid", "identity"]
"""Activations every op accepts. ``hswish``/``hsigmoid`` are the TF forms (relu6(x+3)/6), written export-safe."""

Padding = Literal["same", "symmetric", "valid"]
"""How a conv or pool pads each dimension.

``same``: TensorFlow SAME: output ceil(n/s), total pad max((out-1)s + k_eff - n, 0), the extra cell at the end.
``symmetric``: pad (k_eff-1)//2 before and the rest after, whatever the stride (PyTorch ``padding=k//2`` for odd
k; AssembleNet's explicit padding for strided convs).
``valid``: no padding.
A causal op pads time with (k_t-1)*dilation frames in front and none after, whatever ``padding`` says.
"""

PositiveInt = Annotated[int, Field(ge=1)]
MAX_REPEATS = 64  # repeats of a block, components of an iTGM conv: loops over them must stay short
Count = Annotated[int, Field(ge=1, le=MAX_REPEATS)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]


def _to_triple(value: object) -> object:
    if isinstance(value, bool):
        return value  # let pydantic reject it with a type error
    if isinstance(value, int):
        return (value, value, value)
    return value


def _to_pair(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return (value, value)
    return value


Triple = Annotated[
    tuple[PositiveInt, PositiveInt, PositiveInt],
    BeforeValidator(_to_triple),
    PlainSerializer(lambda v: list(v), return_type=list),
]
"""(t, h, w); an int n means (n, n, n). Serialised as a JSON list of three ints."""

Pair = Annotated[
    tuple[PositiveInt, PositiveInt],
    BeforeValidator(_to_pair),
    PlainSerializer(lambda v: list(v), return_type=list),
]
"""(h, w); an int n means (n, n)."""


class Spec(BaseModel):
    """Base of every genotype record: immutable, unknown fields rejected, equality by value."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_serializer(mode="wrap")
    def _keep_tag(self, handler: SerializerFunctionWrapHandler) -> object:
        # ``op`` tags the layer type: keep it (first) even when defaults are left out
        data = handler(self)
        if isinstance(data, dict) and "op" in type(self).model_fields:
            data = {"op": self.op, **{k: v for k, v in data.items() if k != "op"}}  # type: ignore[attr-defined]
        return data


class Shape(NamedTuple):
    """Shape of one video feature map without the batch: channels, frames, height, width."""

    channels: int
    frames: int
    height: int
    width: int

    def spatial(self) -> tuple[int, int, int]:
        return (self.frames, self.height, self.width)

    def with_channels(self, channels: int) -> "Shape":
        return self._replace(channels=channels)

    def __str__(self) -> str:
        return f"{self.channels}x{self.frames}x{self.height}x{self.width}"


def effective_kernel(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def pad_amounts(size: int, kernel: int, stride: int, dilation: int, padding: str, causal: bool = False) -> tuple[int, int]:
    """(before, after) padding of one dimension of length ``size`` for the given rule."""
    k_eff = effective_kernel(kernel, dilation)
    if causal:
        return (k_eff - 1, 0)
    if padding == "valid":
        return (0, 0)
    if padding == "symmetric":
        total = k_eff - 1
        return (total // 2, total - total // 2)
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return (total // 2, total - total // 2)


def output_size(size: int, kernel: int, stride: int, dilation: int, padding: str, causal: bool = False) -> int:
    """Output length of one dimension; may be < 1 for impossible configurations (callers check)."""
    before, after = pad_amounts(size, kernel, stride, dilation, padding, causal)
    return (size + before + after - effective_kernel(kernel, dilation)) // stride + 1


def output_shape(
    shape: Shape,
    channels: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    dilation: tuple[int, int, int],
    padding: str,
    causal: bool,
    path: str,
    field: str = "kernel",
) -> Shape:
    """Shape after a windowed op (conv or pool); raises GenotypeError naming ``path`` if a dimension vanishes."""
    sizes = []
    for axis, (n, k, s, d) in enumerate(zip(shape.spatial(), kernel, stride, dilation)):
        out = output_size(n, k, s, d, padding, causal and axis == 0)
        if out < 1:
            name = ("frames", "height", "width")[axis]
            raise GenotypeError(
                f"{path}.{field}" if field else path,
                f"kernel {k} (dilation {d}) does not fit the input {name} {n} with padding '{padding}'",
            )
        sizes.append(out)
    return Shape(channels, *sizes)


def make_divisible(value: float, divisor: int, minimum: int | None = None) -> int:
    """Round ``value`` to a multiple of ``divisor`` (at least ``minimum``), never more than 10 % down.

    The rounding MoViNet (``make_divisible``) and X3D (``round_width``) share.
    """
    minimum = divisor if minimum is None else minimum
    rounded = max(minimum, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def prod3(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    return (a[0] * b[0], a[1] * b[1], a[2] * b[2])


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def dumps_compact(value: object, indent: int = 2, width: int = 100, _level: int = 0) -> str:
    """JSON with every list or object that fits in ``width`` characters on one line (readable genotypes)."""
    import json

    flat = json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    if len(flat) + indent * _level <= width or not isinstance(value, (list, dict)) or not value:
        return flat
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(value, list):
        items = [inner + dumps_compact(v, indent, width, _level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps_compact(v, indent, width, _level + 1)}" for k, v in value.items()]
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"
