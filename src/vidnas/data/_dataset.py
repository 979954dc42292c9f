"""Map-style datasets of clips for torch DataLoaders: decoded on the fly, or read from the decoded-clip cache.

Each item is a dict: ``video`` (float C×T×H×W, normalised), ``label`` (int, or a multi-hot float vector for
multi-label data), ``index`` (the video) and ``view`` (the test view). Sampling is a pure function of
(seed, epoch, index), so any worker process, in any order, draws the same clip. Containers are opened per
item, never shared across processes. A bad video is skipped with a warning and replaced by the next good
one (deterministically); the skipped ones are counted in ``skipped``.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vidnas.data._clips import (
    crop_resize,
    crop_resize_flow,
    dense_indices,
    eval_source_boxes,
    normalized,
    sampling_step,
    train_params,
    view_indices,
)
from vidnas.data._decode import VideoError, VideoInfo, decode_frames, probe
from vidnas.data._flow import optical_flow
from vidnas.data._sources import Source

NORMALIZATION = ((0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
"""(mean, std) of RGB clips scaled to [0, 1] for networks vidnas trains from scratch (training, evaluation,
streaming and calibration of a genotype file all use it; zoo models have their published ones)."""

log = logging.getLogger("vidnas.data")


def _target(label: int | tuple[int, ...], classes: int, multi_label: bool) -> Any:
    if multi_label:
        target = torch.zeros(classes)
        target[list(label)] = 1.0  # type: ignore[arg-type]
        return target
    return int(label)  # type: ignore[arg-type]


class _ClipDataset(Dataset):
    """Shared logic: views, deterministic RNG, transforms, bad-item substitution."""

    def __init__(
        self,
        classes: list[str],
        multi_label: bool,
        length: int,
        *,
        frames: int,
        size: int,
        train: bool,
        views: tuple[int, int],
        hflip: bool,
        scale: tuple[float, float],
        mean: Sequence[float],
        std: Sequence[float],
        seed: int,
    ):
        self.classes, self.multi_label = classes, multi_label
        self.frames, self.size, self.train = frames, size, train
        self.clips, self.crops = views if not train else (1, 1)
        self.hflip, self.scale = hflip, scale
        self.mean, self.std = tuple(mean), tuple(std)
        self.seed, self.epoch = seed, 0
        self._length = length
        self.skipped: dict[int, str] = {}

    def set_epoch(self, epoch: int) -> None:
        """Training clips differ per epoch; call before each epoch (workers see it through the sampler order)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self._length * self.clips * self.crops

    def rng(self, video: int, view: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, video, view])

    def _frames(self, video: int, view: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:  # pragma: no cover
        """uint8 T×H×W×3 frames, and T×H×W×2 flow in pixels or None."""
        raise NotImplementedError

    def _label(self, video: int) -> int | tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, position: int) -> dict[str, Any]:
        if not 0 <= position < len(self):
            raise IndexError(position)
        video, view = divmod(position, self.clips * self.crops)
        clip_view, crop_view = divmod(view, self.crops)
        for attempt in range(self._length):
            candidate = (video + attempt) % self._length
            if candidate in self.skipped:
                continue
            rng = self.rng(candidate, view)
            try:
                clip, flow = self._frames(candidate, clip_view, rng)
            except VideoError as error:
                self.skipped[candidate] = str(error)
                log.warning("skipping bad video (%d skipped so far): %s", len(self.skipped), error)
                continue
            height, width = clip.shape[1:3]
            if self.train:
                box, flip = train_params(height, width, rng, self.scale, self.hflip)
            else:
                box, flip = eval_source_boxes(height, width, self.size, self.crops)[crop_view], False
            item = {
                "video": normalized(crop_resize(clip, box, self.size, flip), self.mean, self.std),
                "label": _target(self._label(candidate), len(self.classes), self.multi_label),
                "index": candidate,
                "view": view,
            }
            if flow is not None:
                item["flow"] = crop_resize_flow(flow, box, self.size, flip)
            return item
        raise VideoError(f"no usable video left: all {self._length} failed to decode")


class VideoClips(_ClipDataset):
    """Clips decoded from the source's files on every access (see the module docstring).

    ``frames`` frames, ``frame_stride`` source frames apart (or at ``fps`` when given: frame-rate aware),
    ``size``×``size`` pixels. Training: a random offset, random resized crop (area ``scale``) and flip
    (``hflip=False`` for direction-sensitive labels). Evaluation: ``views`` = (clips, crops) evenly spaced
    clips × centre or three crops, each its own item. ``flow`` ('dis' or 'farneback') adds a ``flow`` entry
    computed from the sampled frames (slow: build a cache with flow for training).
    """

    def __init__(
        self,
        source: Source,
        *,
        frames: int = 16,
        size: int = 112,
        frame_stride: int = 1,
        fps: float | None = None,
        train: bool = True,
        views: tuple[int, int] = (1, 1),
        hflip: bool = True,
        scale: tuple[float, float] = (0.25, 1.0),
        mean: Sequence[float] = NORMALIZATION[0],
        std: Sequence[float] = NORMALIZATION[1],
        seed: int = 0,
        flow: str | None = None,
    ):
        super().__init__(
            source.classes, source.multi_label, len(source.items), frames=frames, size=size, train=train, views=views,
            hflip=hflip, scale=scale, mean=mean, std=std, seed=seed,
        )
        self.source, self.frame_stride, self.fps, self.flow = source, frame_stride, fps, flow
        self._info: dict[int, VideoInfo] = {}

    def info(self, video: int) -> VideoInfo:
        if video not in self._info:
            self._info[video] = probe(self.source.items[video].path)
        return self._info[video]

    def _label(self, video: int) -> int | tuple[int, ...]:
        return self.source.items[video].label

    def _frames(self, video: int, view: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        info = self.info(video)
        step = sampling_step(self.frame_stride, info.fps, self.fps)
        if self.train:
            indices = dense_indices(info.frames, self.frames, step, rng)
        else:
            indices = view_indices(info.frames, self.frames, step, self.clips)[view]
        clip = decode_frames(info.path, indices, info)
        return clip, (optical_flow(clip, self.flow) if self.flow else None)


class CachedClips(_ClipDataset):
    """Clips read from a decoded-clip cache (``vidnas data cache``): memory-mapped, no decoding.

    The cache holds ``cache.frames`` frames per video at ``cache.size``² pixels; ``frames`` ≤ that many are
    taken ``frame_stride`` apart (random offset in training, evenly spaced views in evaluation).
    """

    def __init__(
        self,
        cache: Any,
        *,
        frames: int | None = None,
        size: int | None = None,
        frame_stride: int = 1,
        train: bool = True,
        views: tuple[int, int] = (1, 1),
        hflip: bool = True,
        scale: tuple[float, float] = (0.25, 1.0),
        mean: Sequence[float] = NORMALIZATION[0],
        std: Sequence[float] = NORMALIZATION[1],
        seed: int = 0,
        flow: bool = False,
    ):
        frames = frames or cache.frames
        if (frames - 1) * frame_stride + 1 > cache.frames:
            raise ValueError(f"{frames} frames {frame_stride} apart need {(frames - 1) * frame_stride + 1} cached frames; the cache has {cache.frames}")
        if flow and not cache.has_flow:
            raise ValueError(f"{cache.root}: the cache holds no optical flow (build it with --flow)")
        super().__init__(
            cache.classes, cache.multi_label, len(cache), frames=frames, size=size or cache.size, train=train, views=views,
            hflip=hflip, scale=scale, mean=mean, std=std, seed=seed,
        )
        self.cache, self.frame_stride, self.with_flow = cache, frame_stride, flow

    def _label(self, video: int) -> int | tuple[int, ...]:
        return self.cache.label(video)

    def _frames(self, video: int, view: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        clip = self.cache.rgb(video)
        if self.train:
            indices = dense_indices(clip.shape[0], self.frames, self.frame_stride, rng)
        else:
            indices = view_indices(clip.shape[0], self.frames, self.frame_stride, self.clips)[view]
        flow = self.cache.flow(video)[indices] if self.with_flow else None
        return np.asarray(clip[indices]), flow
