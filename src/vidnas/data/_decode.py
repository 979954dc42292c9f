"""Video probing and frame decoding with PyAV (files) or OpenCV (folders of extracted frames)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from vidnas._imports import optional_import
from vidnas.errors import VidnasError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_FOLDER_FPS = 25.0


class VideoError(VidnasError):
    """A video cannot be used: unreadable, truncated to nothing, no video stream, or zero frames."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frames: int
    fps: float
    width: int
    height: int
    codec: str

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def probe(path: str | Path, folder_fps: float = DEFAULT_FOLDER_FPS) -> VideoInfo:
    """Frame count, fps and size of a video file or a folder of frames; VideoError if it cannot be used."""
    path = Path(path)
    if path.is_dir():
        files = _frame_files(path)
        if not files:
            raise VideoError(f"{path}: folder holds no frames ({', '.join(IMAGE_SUFFIXES)})")
        cv2 = optional_import("cv2", "reading frame folders")
        first = cv2.imread(str(files[0]))
        if first is None:
            raise VideoError(f"{path}: cannot read frame {files[0].name}")
        return VideoInfo(str(path), len(files), folder_fps, first.shape[1], first.shape[0], "images")
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    av = optional_import("av", "decoding video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
                raise VideoError(f"{path}: no video stream (holds {kinds})")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 0) or DEFAULT_FOLDER_FPS
            frames = int(stream.frames or 0)
            if frames <= 0:
                seconds = 0.0
                if stream.duration and stream.time_base:
                    seconds = float(stream.duration * stream.time_base)
                elif container.duration:
                    seconds = container.duration / 1_000_000
                frames = int(round(seconds * fps))
            if frames <= 0:  # no metadata: count by decoding
                frames = sum(1 for _ in container.decode(stream))
            width, height = stream.codec_context.width, stream.codec_context.height
            codec = stream.codec_context.name
    except VideoError:
        raise
    except Exception as error:  # PyAV raises many types (InvalidDataError, OSError, ...)
        raise VideoError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if frames <= 0 or not width or not height:
        raise VideoError(f"{path}: zero frames")
    return VideoInfo(str(path), frames, fps, int(width), int(height), codec)


def verify(path: str | Path) -> VideoInfo:
    """``probe`` plus a decode of the first and the last frame: catches files whose headers are fine but whose
    frames are not (zeroed payloads, truncation). Returns the info with the frame count it could reach."""
    info = probe(path)
    if Path(path).is_dir():
        decode_frames(path, [0, info.frames - 1], info)
        return info
    reached = _decode_positions(Path(path), [0, info.frames - 1], info)
    last = max(reached)
    if last < info.frames - 1:
        return VideoInfo(info.path, last + 1, info.fps, info.width, info.height, info.codec)
    return info


def decode_frames(path: str | Path, indices: Sequence[int], info: VideoInfo | None = None) -> np.ndarray:
    """The frames at ``indices`` (0-based, any order, repeats allowed) as uint8 len(indices)×H×W×3 RGB.

    Seeks to the first needed frame and decodes forward only as far as needed. Indices past the frames the
    file really holds (a truncated file, an optimistic frame count) repeat the last decodable frame.
    """
    path = Path(path)
    if not len(indices):
        raise ValueError("decode_frames needs at least one index")
    if path.is_dir():
        return _decode_folder(path, indices)
    info = info or probe(path)
    return _assemble(_decode_positions(path, indices, info), indices)


def _decode_positions(path: Path, indices: Sequence[int], info: VideoInfo) -> dict[int, np.ndarray]:
    """Decoded frames by position, from the first wanted index up to the last (or the end of the file)."""
    av = optional_import("av", "decoding video")
    wanted = sorted(set(int(i) for i in indices))
    first, last = wanted[0], wanted[-1]
    found: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            if first > 0:
                target = int((start + first / info.fps) / stream.time_base) if stream.time_base else 0
                container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
            position = -1
            for frame in container.decode(stream):
                if frame.time is not None:
                    position = int(math.floor((frame.time - start) * info.fps + 0.5))
                else:
                    position += 1
                if position < first:
                    continue
                if position in found:  # a duplicated timestamp: keep the first
                    continue
                found[position] = frame.to_ndarray(format="rgb24")
                if position >= last:
                    break
    except Exception as error:
        if not found:
            raise VideoError(f"{path}: cannot decode ({type(error).__name__}: {error})") from None
    if not found:
        raise VideoError(f"{path}: no decodable frame at or after index {first}")
    return found


def _assemble(found: dict[int, np.ndarray], indices: Sequence[int]) -> np.ndarray:
    """Pick each requested index, falling back to the nearest earlier decoded frame (or the first)."""
    keys = sorted(found)
    out = []
    for index in indices:
        chosen = keys[0]
        for key in keys:
            if key <= index:
                chosen = key
            else:
                break
        out.append(found[chosen])
    return np.stack(out)


def _decode_folder(folder: Path, indices: Sequence[int]) -> np.ndarray:
    cv2 = optional_import("cv2", "reading frame folders")
    files = _frame_files(folder)
    if not files:
        raise VideoError(f"{folder}: folder holds no frames")
    cache: dict[int, np.ndarray] = {}
    out = []
    for index in indices:
        index = min(int(index), len(files) - 1)
        if index not in cache:
            image = cv2.imread(str(files[index]))
            if image is None:
                raise VideoError(f"{files[index]}: cannot read image")
            cache[index] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        out.append(cache[index])
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise VideoError(f"{folder}: frames differ in size {sorted(shapes)}")
    return np.stack(out)


def file_key(path: str | Path) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a file or frame folder: changes when the source changes."""
    stat = os.stat(path)
    if Path(path).is_dir():
        files = _frame_files(Path(path))
        return (sum(f.stat().st_size for f in files), max([stat.st_mtime_ns] + [f.stat().st_mtime_ns for f in files]))
    return (stat.st_size, stat.st_mtime_ns)
