"""The built-in benchmark data set: procedurally generated clips told apart only by motion and temporal order.

Every clip draws its appearance from one distribution, whatever its class: a smooth random background and
one textured, asymmetric object of random colour, size and position. Classes differ only in how the object
moves. They come in pairs that are exact time-reversals of each other (a clip of the second class is a clip
of the first played backwards), so a frame-order-blind model cannot beat chance within a pair.
Clips are written as real H.264 mp4 files in a class-per-folder layout with CSV lists, deterministically per
seed.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable

import numpy as np

from vidnas._imports import optional_import
from vidnas.data._cache import data_home, folder_lock, write_clip_cache
from vidnas.errors import VidnasError

MOTION_PAIRS = [
    ("move_right", "move_left"),
    ("move_down", "move_up"),
    ("zoom_in", "zoom_out"),
    ("rotate_clockwise", "rotate_counterclockwise"),
    ("fade_in", "fade_out"),
]
MAX_CLASSES = 2 * len(MOTION_PAIRS)


TASKS = ("pairs", "motions")


def class_names(count: int, task: str = "pairs") -> list[str]:
    """``pairs``: time-reversal pairs (temporal order decides). ``motions``: one class per motion kind, played
    forward only (move, zoom, rotate, fade: told apart by how frames change, a much easier task that short proxy
    training can learn — the default of search)."""
    if task == "motions":
        if not 2 <= count <= len(MOTION_PAIRS):
            raise VidnasError(f"--classes must be from 2 to {len(MOTION_PAIRS)} for the 'motions' task, got {count}")
        return [forward for forward, _ in MOTION_PAIRS[:count]]
    if task != "pairs":
        raise VidnasError(f"unknown synthetic task {task!r}; choose one of {', '.join(TASKS)}")
    if not 2 <= count <= MAX_CLASSES or count % 2:
        raise VidnasError(f"--classes must be an even number from 2 to {MAX_CLASSES} (time-reversal pairs), got {count}")
    return [name for pair in MOTION_PAIRS[: count // 2] for name in pair]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.uniform(0.15, 0.85, size=(4, 4, 3))
    y = np.linspace(0, 3, size)
    grid_y, grid_x = np.meshgrid(y, y, indexing="ij")
    y0, x0 = np.floor(grid_y).astype(int).clip(0, 2), np.floor(grid_x).astype(int).clip(0, 2)
    fy, fx = (grid_y - y0)[..., None], (grid_x - x0)[..., None]
    top = coarse[y0, x0] * (1 - fx) + coarse[y0, x0 + 1] * fx
    bottom = coarse[y0 + 1, x0] * (1 - fx) + coarse[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy) + rng.normal(0, 0.03, size=(size, size, 3))


def _object_mask(size: int, cx: float, cy: float, radius: float, angle: float) -> np.ndarray:
    """An ellipse with a notch: asymmetric, so rotation is visible."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = x - cx, y - cy
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * dx + s * dy, -s * dx + c * dy
    ellipse = (u / radius) ** 2 + (v / (0.55 * radius)) ** 2 <= 1.0
    notch = ((u - 0.6 * radius) ** 2 + v**2) <= (0.3 * radius) ** 2
    return ellipse & ~notch


def render_clip(kind: str, rng: np.random.Generator, frames: int, size: int, scale: float = 1.0) -> np.ndarray:
    """uint8 frames×size×size×3 of the forward member of a motion pair (``kind`` is its first name).
    ``scale`` multiplies the object's size and the distance it moves."""
    background = _background(rng, size)
    colour = rng.uniform(0.0, 1.0, size=3)
    texture_phase = rng.uniform(0, 2 * math.pi)
    radius = size * rng.uniform(0.12, 0.2) * scale
    cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0.5, 1.0) * size * 0.4 * scale / max(frames - 1, 1)
    y, x = np.mgrid[0:size, 0:size]
    texture = 0.8 + 0.2 * np.sin(x * 0.7 + y * 0.4 + texture_phase)[..., None]
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    for t in range(frames):
        progress = t - (frames - 1) / 2  # symmetric around the middle frame
        px, py, r, a, alpha = cx, cy, radius, angle, 1.0
        if kind == "move_right":
            px = cx + speed * progress
        elif kind == "move_down":
            py = cy + speed * progress
        elif kind == "zoom_in":
            r = radius * (1.0 + 0.6 * (t / max(frames - 1, 1)))
        elif kind == "rotate_clockwise":
            a = angle + 1.5 * math.pi * t / max(frames - 1, 1)
        elif kind == "fade_in":
            alpha = t / max(frames - 1, 1)
        else:
            raise ValueError(kind)
        mask = _object_mask(size, px, py, r, a)[..., None]
        frame = np.where(mask, (1 - alpha) * background + alpha * colour * texture, background)
        out[t] = np.clip(frame * 255.0, 0, 255).astype(np.uint8)
    return out


def synth_clip(label: int, rng: np.random.Generator, frames: int, size: int, task: str = "pairs", scale: float = 1.0) -> np.ndarray:
    """A clip of class ``label`` (see ``class_names``): for pairs, odd labels are the even ones played backwards."""
    if task == "motions":
        return render_clip(MOTION_PAIRS[label][0], rng, frames, size, scale)
    forward, _ = MOTION_PAIRS[label // 2]
    clip = render_clip(forward, rng, frames, size, scale)
    return clip[::-1].copy() if label % 2 else clip


def write_mp4(path: str | Path, frames: np.ndarray, fps: float = 25.0, crf: int = 18) -> None:
    """Write uint8 T×H×W×3 RGB frames as an H.264 mp4 (sizes rounded down to even numbers)."""
    av = optional_import("av", "writing video")
    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # the same frames must always give the same bytes: one encoder thread, and no macroblock-tree lookahead
        # (with it, x264 wrote different files for one clip once the process's memory had been used: 3-6 distinct
        # outputs in 8 writes of one clip; with mbtree=0, 1 in every trial)
        stream.codec_context.thread_count = 1
        stream.codec_context.thread_type = "NONE"
        stream.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": "threads=1:lookahead-threads=1:sliced-threads=0:mbtree=0"}
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def synthesize(
    out: str | Path,
    *,
    classes: int = 8,
    train_per_class: int = 24,
    val_per_class: int = 8,
    size: int = 64,
    frames: int = 16,
    fps: float = 25.0,
    seed: int = 0,
    task: str = "pairs",
    object_scale: float = 1.0,
    on_clip: Callable[[], None] | None = None,
) -> dict[str, Path]:
    """Write the benchmark data set to ``out``: train/ and val/ class folders of mp4 files, train.csv and
    val.csv (``path,label`` relative to ``out``) and classes.txt. Returns those three file paths."""
    names = class_names(classes, task)
    if size < 16 or size % 2:
        raise VidnasError(f"--size must be an even number >= 16, got {size}")
    if frames < 2:
        raise VidnasError(f"--frames must be >= 2, got {frames}")
    if not 0.25 <= object_scale <= 3.0:
        raise VidnasError(f"object_scale must be from 0.25 to 3, got {object_scale}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    jobs = [(split, label, i) for split, count in (("train", train_per_class), ("val", val_per_class)) for label in range(classes) for i in range(count)]
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "val": []}
    for split, label, i in jobs:
        # one generator per clip, seeded by (seed, split, label, i): any subset regenerates identically
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, label, i])
        relative = Path(split) / names[label] / f"{names[label]}_{i:04d}.mp4"
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(out / relative, synth_clip(label, rng, frames, size, task, object_scale), fps=fps)
        rows[split].append((relative.as_posix(), names[label]))
        if on_clip is not None:
            on_clip()
    paths = {"classes": out / "classes.txt"}
    for split, split_rows in rows.items():
        with (out / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label"])
            writer.writerows(split_rows)
        paths[split] = out / f"{split}.csv"
    return paths


def builtin_dataset(
    root: str | Path | None = None,
    *,
    classes: int = 8,
    train_per_class: int = 24,
    val_per_class: int = 8,
    size: int = 64,
    frames: int = 16,
    seed: int = 0,
    task: str = "pairs",
    object_scale: float = 1.0,
) -> dict[str, Path]:
    """The built-in benchmark data set, generated on first use and reused: the default data of training and
    search. Lives in ``root`` or ``data_home()/synth-<settings>``; a half-written folder (no ``.complete``
    marker, e.g. after a kill) is generated again."""
    key = f"c{classes}-t{train_per_class}-v{val_per_class}-s{size}-f{frames}-seed{seed}" + (f"-{task}" if task != "pairs" else "") + (f"-x{object_scale:g}" if object_scale != 1.0 else "")
    folder = Path(root) if root is not None else data_home() / f"synth-{key}"
    _generate_once(folder, key, lambda: synthesize(folder, classes=classes, train_per_class=train_per_class, val_per_class=val_per_class, size=size,
                                                   frames=frames, seed=seed, task=task, object_scale=object_scale))
    return {"classes": folder / "classes.txt", "train": folder / "train.csv", "val": folder / "val.csv"}


def _generate_once(folder: Path, key: str, make: Callable[[], object]) -> None:
    """Run ``make`` unless ``folder`` holds a finished generation of ``key`` (its ``.complete`` marker); several
    processes (DDP ranks, search workers) may ask at once, so they queue on a lock file."""
    marker = folder / ".complete"
    with folder_lock(folder):
        if not (marker.is_file() and marker.read_text(encoding="utf-8").strip() == key):
            make()
            marker.write_text(key + "\n", encoding="utf-8")


def builtin_store(
    root: str | Path | None = None,
    *,
    classes: int = 4,
    train_per_class: int = 1024,
    val_per_class: int = 256,
    size: int = 32,
    frames: int = 16,
    seed: int = 0,
    task: str = "motions",
    object_scale: float = 2.0,
    flow: str | None = None,
) -> dict[str, Path]:
    """The built-in data rendered straight into decoded-clip stores (``train/`` and ``val/`` cache folders, no
    video files): every clip is generated once, deterministically per (seed, split, label, index), and read by
    every candidate without decoding. The search's default data (many fresh training clips and a large
    validation split are cheap this way: ~2 ms a clip at 32²). ``flow``: optical flow beside the frames ('dis')."""
    names = class_names(classes, task)
    key = f"store-c{classes}-t{train_per_class}-v{val_per_class}-s{size}-f{frames}-seed{seed}-{task}-x{object_scale:g}" + (f"-{flow}" if flow else "")
    folder = Path(root) if root is not None else data_home() / f"synth-{key}"

    def make() -> None:
        for split, per_class in (("train", train_per_class), ("val", val_per_class)):
            def clips(split: str = split, per_class: int = per_class):  # noqa: ANN202 - a generator of (name, label, clip)
                for label in range(classes):
                    for i in range(per_class):
                        rng = np.random.default_rng([seed, 0 if split == "train" else 1, label, i])
                        yield f"synth:{split}/{names[label]}/{i:05d}", label, synth_clip(label, rng, frames, size, task, object_scale)

            write_clip_cache(folder / split, clips(), classes * per_class, classes=names, frames=frames, size=size, origin=f"vidnas synth {key}",
                             flow=flow)
        (folder / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")

    _generate_once(folder, key, make)
    return {"classes": folder / "classes.txt", "train": folder / "train", "val": folder / "val"}
