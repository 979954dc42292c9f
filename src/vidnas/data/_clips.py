"""Clip sampling (which frames) and clip transforms (which pixels), both deterministic given a generator.

Sampling works in source frames. ``step`` is the distance between sampled frames in source frames: the
frame stride τ, or, frame-rate aware, source fps / model fps (a float; indices are rounded).
Transforms act on a whole clip with one set of spatial parameters, so every frame is cropped and flipped
alike.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------ sampling


def sampling_step(frame_stride: int, source_fps: float | None = None, target_fps: float | None = None) -> float:
    """Source frames between two sampled frames: ``frame_stride``, or source_fps / target_fps when both are known."""
    if target_fps and source_fps:
        return max(source_fps / target_fps, 1e-6)
    return float(frame_stride)


def _indices(start: float, frames: int, step: float, total: int) -> list[int]:
    return [min(int(math.floor(start + i * step + 1e-6)), total - 1) for i in range(frames)]


def dense_indices(total: int, frames: int, step: float, rng: np.random.Generator | None = None) -> list[int]:
    """``frames`` indices ``step`` apart from a random start (training); the centred start without ``rng``.

    Shorter videos repeat their last frame.
    """
    span = (frames - 1) * step + 1
    room = max(total - span, 0.0)
    start = rng.uniform(0, room) if rng is not None else room / 2
    return _indices(start, frames, step, total)


def uniform_indices(total: int, frames: int) -> list[int]:
    """``frames`` indices spread evenly over the whole video (the centre of each of ``frames`` segments)."""
    return [min(int((i + 0.5) * total / frames), total - 1) for i in range(frames)]


def view_starts(total: int, frames: int, step: float, clips: int) -> list[float]:
    """Starts of ``clips`` test clips spread evenly over the video (the multi-clip protocol)."""
    span = (frames - 1) * step + 1
    room = max(total - span, 0.0)
    if clips == 1:
        return [room / 2]
    return [room * i / (clips - 1) for i in range(clips)]


def view_indices(total: int, frames: int, step: float, clips: int) -> list[list[int]]:
    return [_indices(start, frames, step, total) for start in view_starts(total, frames, step, clips)]


# ----------------------------------------------------------------------------------------------- transforms


def resize(clip: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of a C×T×H×W clip (antialiased when shrinking)."""
    if clip.shape[-2:] == (height, width):
        return clip
    frames = clip.permute(1, 0, 2, 3)  # T×C×H×W
    shrinking = height < clip.shape[-2] or width < clip.shape[-1]
    out = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.permute(1, 0, 2, 3)


def random_resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a crop covering a random area fraction and aspect ratio (Inception-style)."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def train_params(
    height: int, width: int, rng: np.random.Generator, scale: tuple[float, float] = (0.25, 1.0), hflip: bool = True
) -> tuple[tuple[int, int, int, int], bool]:
    """One draw of training augmentation for a whole clip: a crop box and whether to flip."""
    box = random_resized_crop_box(height, width, rng, scale)
    return box, bool(hflip and rng.random() < 0.5)


def eval_source_boxes(height: int, width: int, size: int, crops: int = 1) -> list[tuple[int, int, int, int]]:
    """The test protocol — resize the short side to ``size``, then one centre crop or three crops along the
    long side (the X3D / SlowFast protocol) — as boxes in source pixels, each to be resized to size×size."""
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    if crops == 1:
        return [(top, left, side, side)]
    if width >= height:
        return [(0, l, side, side) for l in (0, (width - side) // 2, width - side)]
    return [(t, 0, side, side) for t in (0, (height - side) // 2, height - side)]


def crop_resize(frames: np.ndarray | torch.Tensor, box: tuple[int, int, int, int], size: int, flip: bool = False) -> torch.Tensor:
    """uint8 T×H×W×C frames -> uint8 C×T×size×size: crop ``box``, resize (antialiased when shrinking), flip.

    Works on uint8 throughout (torch's vectorised uint8 resize), several times faster than in float.
    """
    top, left, h, w = box
    tensor = torch.as_tensor(np.asarray(frames))[:, top : top + h, left : left + w].permute(0, 3, 1, 2)  # T×C×h×w
    if (h, w) != (size, size):
        tensor = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=h > size or w > size)
    if flip:
        tensor = tensor.flip(-1)
    return tensor.permute(1, 0, 2, 3)


def normalized(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 C×T×H×W -> float32 (x/255 - mean) / std, computed in the frames-first memory order that
    ``crop_resize`` produces (2-4× faster than on the permuted view)."""
    channels = clip.shape[0]
    mean_t = torch.as_tensor(list(mean)[:channels], dtype=torch.float32).view(1, -1, 1, 1) * 255.0
    scale_t = 1.0 / (torch.as_tensor(list(std)[:channels], dtype=torch.float32).view(1, -1, 1, 1) * 255.0)
    frames_first = clip.permute(1, 0, 2, 3).float()
    return frames_first.sub_(mean_t).mul_(scale_t).permute(1, 0, 2, 3)


def crop_resize_flow(flow: np.ndarray | torch.Tensor, box: tuple[int, int, int, int], size: int, flip: bool = False) -> torch.Tensor:
    """float T×H×W×2 flow -> 2×T×size×size with the displacements scaled by the resize and u negated by a flip."""
    top, left, h, w = box
    tensor = torch.as_tensor(np.asarray(flow, dtype=np.float32))[:, top : top + h, left : left + w].permute(3, 0, 1, 2)
    out = resize(tensor, size, size) * torch.tensor([size / w, size / h]).view(2, 1, 1, 1)
    if flip:
        out = out.flip(-1) * torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1)
    return out


def train_transform(
    clip: np.ndarray,
    size: int,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.25, 1.0),
    hflip: bool = True,
) -> torch.Tensor:
    """Random resized crop to size×size and (if allowed) a horizontal flip, one draw per clip; float in [0, 1]."""
    box, flip = train_params(clip.shape[1], clip.shape[2], rng, scale, hflip)
    return crop_resize(clip, box, size, flip).float() / 255.0


def eval_transforms(clip: np.ndarray, size: int, crops: int = 1) -> list[torch.Tensor]:
    """Resize the short side to ``size``, then one centre crop or three crops along the long side; float in [0, 1]."""
    return [crop_resize(clip, box, size).float() / 255.0 for box in eval_source_boxes(clip.shape[1], clip.shape[2], size, crops)]
