"""Run a streaming model over a video file: decode with PyAV, resample to the model's frame rate, feed frame
by frame, and yield rolling predictions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch import nn

from vidnas._imports import optional_import
from vidnas.data._clips import crop_resize, eval_source_boxes, normalized
from vidnas.data._decode import VideoError


@dataclass(frozen=True)
class StreamOutput:
    frame: int  # model frames consumed so far
    time: float  # timestamp of the latest frame in the video, seconds
    top: list[tuple[int, float]]  # (class, probability), best first
    fps: float  # model frames per second achieved so far (decode + preprocessing + model)


def stream_video(
    model: nn.Module,
    path: str | Path,
    *,
    fps: float | None = None,
    size: int | None = None,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    top_k: int = 5,
    max_frames: int | None = None,
) -> Iterator[StreamOutput]:
    """Feed ``path`` to ``model.stream_step`` one model frame at a time; yield the top-k after each frame.

    Frames are taken at ``fps`` (default: the genotype's fps, or the source rate divided by its frame
    stride), the short side resized to ``size`` (default: the genotype's) and centre-cropped.
    """
    av = optional_import("av", "decoding video")
    genotype = model.genotype
    size = size or genotype.input.size[0]
    state = model.init_state(1, size)
    start = time.perf_counter()
    consumed = 0
    try:
        container = av.open(str(path))
    except Exception as error:  # noqa: BLE001 - PyAV raises many types
        raise VideoError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        source_fps = float(stream.average_rate or 25.0)
        target = fps or genotype.input.fps or source_fps / genotype.input.frame_stride
        interval, next_time = 1.0 / target, None
        for frame in container.decode(stream):
            stamp = float(frame.time or 0.0)
            if next_time is None:
                next_time = stamp
            if stamp + 1e-6 < next_time:
                continue
            next_time += interval * max(1, int((stamp - next_time) // interval) + 1)
            rgb = frame.to_ndarray(format="rgb24")[None]
            box = eval_source_boxes(rgb.shape[1], rgb.shape[2], size)[0]
            x = normalized(crop_resize(rgb, box, size), mean, std).unsqueeze(0)
            with torch.no_grad():
                logits, state = model.stream_step(x, state)
            consumed += 1
            probabilities = torch.softmax(logits[0], dim=0)
            values, classes = probabilities.topk(min(top_k, probabilities.numel()))
            yield StreamOutput(consumed, stamp, list(zip(classes.tolist(), values.tolist())), consumed / (time.perf_counter() - start))
            if max_frames is not None and consumed >= max_frames:
                return
    if consumed == 0:
        raise VideoError(f"{path}: no decodable frame")
