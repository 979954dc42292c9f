"""Run a streaming model over a video file: decode with PyAV, resample to the model's frame rate, feed frame
by frame, and yield rolling predictions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import torch
from torch import nn

from vidnas._imports import optional_import
from vidnas.data._clips import crop_resize, eval_source_boxes, normalized
from vidnas.data._decode import VideoError

if TYPE_CHECKING:
    from vidnas.stream._multi import MultiStream


@dataclass(frozen=True)
class StreamOutput:
    frame: int  # model frames consumed so far
    time: float  # timestamp of the latest frame in the video, seconds
    top: list[tuple[int, float]]  # (class, probability), best first
    fps: float  # model frames per second achieved so far (decode + preprocessing + model)


def model_frames(
    path: str | Path,
    genotype,  # noqa: ANN001 - the network's genotype: its frame rate and size are the defaults
    *,
    fps: float | None = None,
    size: int | None = None,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
) -> Iterator[tuple[float, torch.Tensor]]:
    """The frames of a video as a streaming model takes them: (timestamp, C x 1 x size x size tensor).

    Frames are taken at ``fps`` (default: the genotype's fps, or the source rate divided by its frame
    stride), the short side resized to ``size`` (default: the genotype's) and centre-cropped.
    """
    av = optional_import("av", "decoding video")
    size = size or genotype.input.size[0]
    try:
        container = av.open(str(path))
    except Exception as error:  # noqa: BLE001 - PyAV raises many types
        raise VideoError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    produced = 0
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
            produced += 1
            yield stamp, normalized(crop_resize(rgb, box, size), mean, std)
    if produced == 0:
        raise VideoError(f"{path}: no decodable frame")


def _top(logits: torch.Tensor, top_k: int) -> list[tuple[int, float]]:
    probabilities = torch.softmax(logits, dim=0)
    values, classes = probabilities.topk(min(top_k, probabilities.numel()))
    return list(zip(classes.tolist(), values.tolist()))


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
    """Feed ``path`` to ``model.stream_step`` one model frame at a time; yield the top-k after each frame
    (frames as :func:`model_frames` takes them)."""
    size = size or model.genotype.input.size[0]
    state = model.init_state(1, size)
    start = time.perf_counter()
    consumed = 0
    for stamp, x in model_frames(path, model.genotype, fps=fps, size=size, mean=mean, std=std):
        with torch.no_grad():
            logits, state = model.stream_step(x.unsqueeze(0), state)
        consumed += 1
        yield StreamOutput(consumed, stamp, _top(logits[0], top_k), consumed / (time.perf_counter() - start))
        if max_frames is not None and consumed >= max_frames:
            return


@dataclass(frozen=True)
class MultiStreamOutput:
    stream: int  # index of the video in the list given
    frame: int  # model frames of that stream so far
    time: float  # timestamp of its latest frame, seconds
    top: list[tuple[int, float]]


def stream_videos(
    model: nn.Module,
    paths: Sequence[str | Path],
    *,
    fps: float | None = None,
    size: int | None = None,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    top_k: int = 5,
    max_frames: int | None = None,
    runner: "MultiStream | None" = None,
) -> Iterator[list[MultiStreamOutput]]:
    """Stream several videos at once, one batched network step per model frame (:class:`MultiStream`); a
    video that ends leaves the batch. Yields, per step, every stream's top-k. ``runner`` (optional) is the
    MultiStream to use, so its ``stats`` can be read afterwards."""
    from vidnas.stream._multi import MultiStream

    size = size or model.genotype.input.size[0]
    runner = runner if runner is not None else MultiStream(model, size=size)  # (an empty runner is falsy: it has a length)
    sources = {i: model_frames(p, model.genotype, fps=fps, size=size, mean=mean, std=std) for i, p in enumerate(paths)}
    counts = dict.fromkeys(sources, 0)
    for i in sources:
        runner.join(i)
    while sources:
        frames, stamps = {}, {}
        for i, source in list(sources.items()):
            item = next(source, None)
            if item is None or (max_frames is not None and counts[i] >= max_frames):
                del sources[i]
                runner.leave(i)
                continue
            stamps[i], frames[i] = item
        if not frames:
            return
        logits = runner.step(frames)
        outputs = []
        for i, value in logits.items():
            counts[i] += 1
            outputs.append(MultiStreamOutput(i, counts[i], stamps[i], _top(value, top_k)))
        yield outputs
