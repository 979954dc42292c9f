"""The explicit streaming state: a dict of named tensors handed to one model call and returned from it.

Ops never keep state. During ``model.stream_step(frames, state)`` a ``StreamCall`` is active; a causal op
reads its entry (``<module path>.<kind>``) from the incoming dict and writes its next value to the outgoing
one. So the same module serves any number of streams at once, and a streaming export has the state as plain
named inputs and outputs.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from vidnas.errors import VidnasError


class NotStreamableError(VidnasError):
    """The network has an op that reads future frames (or strides time), so it cannot run frame by frame."""


class StreamCall:
    """The state of one streaming call: entries read from ``incoming``, next values collected in ``outgoing``.

    ``initialise``: build fresh (zero) entries from the input shapes instead of reading them, and return
    those (used by ``init_state``).

    ``planar``: the step reads exactly one new frame and the activations between layers are 4-D (B, C, H, W)
    frames instead of (B, C, 1, H, W) clips; the state keeps its 5-D shapes. Every conv is then one 2D conv
    (its temporal window stacked into the channels) with no reshapes between layers, which is the graph an
    exported streaming step should be (``vidnas.export``; see ``VidNet.stream_step``).
    """

    def __init__(self, incoming: dict[str, torch.Tensor] | None, initialise: bool = False, planar: bool = False):
        self.incoming = incoming or {}
        self.outgoing: dict[str, torch.Tensor] = {}
        self.initialise = initialise
        self.planar = planar

    def read(self, key: str, fresh: Callable[[], torch.Tensor]) -> torch.Tensor:
        if self.initialise or key not in self.incoming:
            value = fresh()
            if self.initialise:
                self.outgoing[key] = value
            return value
        return self.incoming[key]

    def write(self, key: str, value: torch.Tensor) -> None:
        if not self.initialise:
            self.outgoing[key] = value


_CURRENT: contextvars.ContextVar[StreamCall | None] = contextvars.ContextVar("vidnas_stream_call", default=None)


def current() -> StreamCall | None:
    """The active streaming call, or None in ordinary (whole-clip) mode."""
    return _CURRENT.get()


@contextmanager
def streaming(incoming: dict[str, torch.Tensor] | None, initialise: bool = False, planar: bool = False) -> Iterator[StreamCall]:
    call = StreamCall(incoming, initialise, planar)
    token = _CURRENT.set(call)
    try:
        yield call
    finally:
        _CURRENT.reset(token)


def stream_key(module: torch.nn.Module, kind: str) -> str:
    """The state entry name of ``module``: its path in the model plus the kind of state."""
    name = getattr(module, "stream_name", None)
    if name is None:
        raise NotStreamableError(f"{type(module).__name__} was not named for streaming; stream a model built by vidnas.build_model")
    return f"{name}.{kind}"


def temporal_buffer(module: torch.nn.Module, x: torch.Tensor, frames: int, fill: float = 0.0) -> torch.Tensor:
    """``x`` with the module's buffer of the last ``frames`` input frames in front; stores the new buffer.

    The buffer starts as ``fill`` frames, which is exactly the causal padding of the whole-clip forward. A 4-D
    ``x`` (a planar step's one frame) is joined as one frame; the result is always 5-D.
    """
    call = current()
    assert call is not None
    if x.dim() == 4:
        x = x.unsqueeze(2)
    key = stream_key(module, "buffer")
    shape = (x.shape[0], x.shape[1], frames) + tuple(x.shape[3:])
    previous = call.read(key, lambda: torch.full(shape, fill, dtype=x.dtype, device=x.device))
    joined = torch.cat([previous, x], dim=2)
    call.write(key, joined[:, :, joined.shape[2] - frames :])
    return joined


def running_sum(module: torch.nn.Module, per_frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cumulative sums over all frames so far of a (B, C, T, 1, 1) per-frame tensor.

    Returns (cumulative sums for each new frame, frames seen before each new frame + 1, frames seen before this
    call): the running sum and frame count are stored as ``<path>.sum`` and ``<path>.count``, both per stream
    (batch-first), so the streams of one batch may have seen different numbers of frames.
    """
    call = current()
    assert call is not None
    batch, channels = per_frame.shape[:2]
    total = call.read(stream_key(module, "sum"), lambda: per_frame.new_zeros(batch, channels, 1, 1, 1))
    count = call.read(stream_key(module, "count"), lambda: per_frame.new_zeros(batch, 1, 1, 1, 1))  # per stream: streams join at any time
    frames = per_frame.shape[2]
    if frames == 1:  # one new frame: no cumsum, arange or slice nodes in an exported step
        sums, counts = total + per_frame, count + 1
        call.write(stream_key(module, "sum"), sums)
        call.write(stream_key(module, "count"), counts)
        return sums, counts, count
    sums = total + per_frame.cumsum(dim=2)
    counts = count + torch.arange(1, frames + 1, dtype=per_frame.dtype, device=per_frame.device).view(1, 1, frames, 1, 1)
    call.write(stream_key(module, "sum"), sums[:, :, -1:])
    call.write(stream_key(module, "count"), count + frames)
    return sums, counts, count
