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


def to_float(clip: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 T×H×W×C -> float32 C×T×H×W in [0, 1]."""
    tensor = torch.as_tensor(clip)
    return tensor.permute(3, 0, 1, 2).float().div_(255.0)


def resize(clip: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of a C×T×H×W clip (antialiased when shrinking)."""
    if clip.shape[-2:] == (height, width):
        return clip
    frames = clip.permute(1, 0, 2, 3)  # T×C×H×W
    shrinking = height < clip.shape[-2] or width < clip.shape[-1]
    out = F.interpolate(frames, size=(height, width), mode="bilinear", align_corners=False, antialias=shrinking)
    return out.permute(1, 0, 2, 3)


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    if height <= width:
        return size, max(1, int(round(width * size / height)))
    return max(1, int(round(height * size / width))), size


def resize_short_side(clip: torch.Tensor, size: int) -> torch.Tensor:
    return resize(clip, *short_side_size(clip.shape[-2], clip.shape[-1], size))


def crop(clip: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return clip[..., top : top + height, left : left + width]


def center_crop(clip: torch.Tensor, size: int) -> torch.Tensor:
    height, width = clip.shape[-2:]
    top, left = max((height - size) // 2, 0), max((width - size) // 2, 0)
    return crop(clip, top, left, min(size, height), min(size, width))


def three_crops(clip: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Three size×size crops along the long side: start, centre, end (the X3D / SlowFast test protocol)."""
    height, width = clip.shape[-2:]
    if width >= height:
        lefts = [0, (width - size) // 2, width - size]
        return [crop(clip, max((height - size) // 2, 0), max(left, 0), size, size) for left in lefts]
    tops = [0, (height - size) // 2, height - size]
    return [crop(clip, max(top, 0), max((width - size) // 2, 0), size, size) for top in tops]


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


def normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    channels = clip.shape[0]
    mean_t = torch.as_tensor(list(mean)[:channels], dtype=clip.dtype).view(-1, 1, 1, 1)
    std_t = torch.as_tensor(list(std)[:channels], dtype=clip.dtype).view(-1, 1, 1, 1)
    return (clip - mean_t) / std_t


def train_params(
    height: int, width: int, rng: np.random.Generator, scale: tuple[float, float] = (0.25, 1.0), hflip: bool = True
) -> tuple[tuple[int, int, int, int], bool]:
    """One draw of training augmentation for a whole clip: a crop box and whether to flip."""
    box = random_resized_crop_box(height, width, rng, scale)
    return box, bool(hflip and rng.random() < 0.5)


def apply_box(clip: torch.Tensor, box: tuple[int, int, int, int], size: int, flip: bool, flow: bool = False) -> torch.Tensor:
    """Crop ``box`` from a C×T×H×W clip, resize to size×size and optionally flip. For a flow clip (u, v) the
    displacements follow the resize, and a flip negates u."""
    top, left, h, w = box
    out = resize(crop(clip, top, left, h, w), size, size)
    if flow:
        out = out * torch.tensor([size / w, size / h], dtype=out.dtype).view(2, 1, 1, 1)
    if flip:
        out = out.flip(-1)
        if flow:
            out = out * torch.tensor([-1.0, 1.0], dtype=out.dtype).view(2, 1, 1, 1)
    return out


def eval_boxes(height: int, width: int, size: int, crops: int = 1) -> tuple[tuple[int, int], list[tuple[int, int, int, int]]]:
    """The short-side resize (new height, width) and the crop boxes of the test protocol in resized pixels:
    one centre crop, or three along the long side (the X3D / SlowFast protocol)."""
    if crops not in (1, 3):
        raise ValueError(f"crops must be 1 or 3, got {crops}")
    new_h, new_w = short_side_size(height, width, size)
    top, left = max((new_h - size) // 2, 0), max((new_w - size) // 2, 0)
    if crops == 1:
        return (new_h, new_w), [(top, left, min(size, new_h), min(size, new_w))]
    if new_w >= new_h:
        return (new_h, new_w), [(top, l, size, size) for l in (0, (new_w - size) // 2, new_w - size)]
    return (new_h, new_w), [(t, left, size, size) for t in (0, (new_h - size) // 2, new_h - size)]


def apply_eval(clip: torch.Tensor, resized: tuple[int, int], box: tuple[int, int, int, int], flow: bool = False) -> torch.Tensor:
    height, width = clip.shape[-2:]
    out = resize(clip, *resized)
    if flow:
        out = out * torch.tensor([resized[1] / width, resized[0] / height], dtype=out.dtype).view(2, 1, 1, 1)
    return crop(out, *box)


def train_transform(
    clip: np.ndarray,
    size: int,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.25, 1.0),
    hflip: bool = True,
) -> torch.Tensor:
    """Random resized crop to size×size and (if allowed) a horizontal flip, one draw per clip."""
    tensor = to_float(clip)
    box, flip = train_params(tensor.shape[-2], tensor.shape[-1], rng, scale, hflip)
    return apply_box(tensor, box, size, flip)


def eval_transforms(clip: np.ndarray, size: int, crops: int = 1) -> list[torch.Tensor]:
    """Resize the short side to ``size``, then one centre crop or three crops along the long side."""
    tensor = to_float(clip)
    resized, boxes = eval_boxes(tensor.shape[-2], tensor.shape[-1], size, crops)
    return [apply_eval(tensor, resized, box) for box in boxes]
