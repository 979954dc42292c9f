"""Many streams of one causal network stepped as one batch: cameras join and leave, each keeps its own state.

Every state tensor of a vidnas stream is batch-first (frame buffers, running sums, and per-stream frame counts),
so the streams' states are rows of one batched state: a stream that joins gets a zero row (the causal padding of a
new clip), one that leaves gives its row up, and a step over some of the streams gathers their rows, runs the
network once on the stacked frames and scatters the new rows back. The logits of each stream equal those of the
same stream run alone (tested), because nothing in a causal vidnas network mixes samples.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class StreamStats:
    """Frames stepped and time spent, per stream and for the runner."""

    frames: dict[Hashable, int] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    def fps(self) -> float:
        """Frames per second over all streams (sum of every stream's frames / stepping time)."""
        return sum(self.frames.values()) / self.seconds if self.seconds else 0.0

    def fps_per_stream(self) -> float:
        """Frames per second each stream gets (steps / stepping time; each step advances every stream given)."""
        return self.steps / self.seconds if self.seconds else 0.0


class MultiStream:
    """Step many independent streams of ``model`` (a causal vidnas network, eval mode) as one batch.

    >>> runner = MultiStream(model)
    >>> runner.join("cam0"); runner.join("cam1")
    >>> logits = runner.step({"cam0": frame0, "cam1": frame1})   # frames: (C, H, W) or (C, T, H, W)
    >>> runner.leave("cam0")
    """

    def __init__(self, model: nn.Module, size: int | tuple[int, int] | None = None, device: torch.device | str | None = None) -> None:
        self.model = model.eval()
        self.size = size
        parameter = next(model.parameters())
        self.device = torch.device(device) if device is not None else parameter.device
        self.dtype = parameter.dtype
        self.ids: list[Hashable] = []
        self.state: dict[str, torch.Tensor] = {}
        self.stats = StreamStats()
        self._fresh = model.init_state(1, size, device=self.device, dtype=self.dtype)  # refuses a non-causal network

    def __len__(self) -> int:
        return len(self.ids)

    def join(self, stream: Hashable) -> None:
        """Start a stream (its state: the zero state of a new clip)."""
        if stream in self.ids:
            raise ValueError(f"stream {stream!r} is already running")
        if self.ids:
            self.state = {k: torch.cat([v, self._fresh[k]], dim=0) for k, v in self.state.items()}
        else:
            self.state = {k: v.clone() for k, v in self._fresh.items()}
        self.ids.append(stream)
        self.stats.frames.setdefault(stream, 0)

    def leave(self, stream: Hashable) -> None:
        """End a stream; its state is dropped."""
        row = self._row(stream)
        keep = [i for i in range(len(self.ids)) if i != row]
        index = torch.tensor(keep, device=self.device, dtype=torch.long)
        self.state = {k: v.index_select(0, index) for k, v in self.state.items()} if keep else {}
        self.ids.pop(row)

    def _row(self, stream: Hashable) -> int:
        try:
            return self.ids.index(stream)
        except ValueError:
            raise KeyError(f"stream {stream!r} is not running (running: {self.ids})") from None

    @torch.no_grad()
    def step(self, frames: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Advance the given streams by their frames (all with the same number of frames, one or more); returns
        each stream's logits after its newest frame. Streams not given keep their state unchanged."""
        if not frames:
            return {}
        rows = [self._row(s) for s in frames]
        batch = torch.stack([f.unsqueeze(1) if f.dim() == 3 else f for f in frames.values()]).to(self.device, self.dtype)
        everyone = rows == list(range(len(self.ids)))
        if everyone:
            state = self.state
        else:
            index = torch.tensor(rows, device=self.device, dtype=torch.long)
            state = {k: v.index_select(0, index) for k, v in self.state.items()}
        start = time.perf_counter()
        logits, new = self.model.stream_step(batch, state)
        self.stats.seconds += time.perf_counter() - start
        self.stats.steps += 1
        if everyone:
            self.state = new
        else:
            for key, value in new.items():
                self.state[key].index_copy_(0, index, value)
        for stream in frames:
            self.stats.frames[stream] = self.stats.frames.get(stream, 0) + batch.shape[2]
        return {stream: logits[i] for i, stream in enumerate(frames)}
