"""The decoded-clip cache: every video decoded once into memory-mapped uint8 shards, reused by every epoch
and every search trial.

Layout of a cache folder::

    index.json            settings, classes, one entry per video (path, size, mtime, label, shard, slot, status)
    rgb_00000.u8 ...      uint8 [n, frames, size, size, 3] per shard, raw (numpy memmap)
    flow_00000.f16 ...    float16 [n, frames, size, size, 2] beside them when built with flow

Each video contributes ``frames`` frames spread uniformly over its whole length, resized so the short side is
``size`` and centre-cropped to size×size. An entry is reused when its path, byte size and mtime and the
cache settings are unchanged; a changed, new or removed source file is re-decoded or dropped on the next
build. The index is written last and atomically, so an interrupted build never leaves a cache that lies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from vidnas.data._clips import crop_resize, eval_source_boxes, uniform_indices
from vidnas.data._decode import VideoError, decode_frames, file_key, probe
from vidnas.data._flow import optical_flow
from vidnas.data._sources import Source
from vidnas.errors import VidnasError

CACHE_VERSION = 1
INDEX = "index.json"


def data_home() -> Path:
    """Where vidnas keeps what it generates and caches (synthetic data, clip caches, splits): $VIDNAS_HOME, else
    ~/.cache/vidnas."""
    return Path(os.environ.get("VIDNAS_HOME", Path.home() / ".cache" / "vidnas"))


class CacheError(VidnasError):
    """A cache folder is missing, incomplete, or was built with other settings."""


@dataclass(frozen=True)
class CacheSettings:
    frames: int
    size: int
    flow: str | None = None
    version: int = CACHE_VERSION


def _decode_for_cache(path: str, settings: CacheSettings) -> np.ndarray:
    info = probe(path)
    clip = decode_frames(path, uniform_indices(info.frames, settings.frames), info)
    box = eval_source_boxes(clip.shape[1], clip.shape[2], settings.size)[0]
    return crop_resize(clip, box, settings.size).permute(1, 2, 3, 0).contiguous().numpy()


class ClipCache:
    """A built cache, opened read-only: ``rgb(i)`` / ``flow(i)`` are memory-mapped arrays of video ``i``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        index_path = self.root / INDEX
        if not index_path.is_file():
            raise CacheError(f"{self.root}: not a vidnas clip cache (no {INDEX}); build one with `vidnas data cache`")
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("version") != CACHE_VERSION:
            raise CacheError(f"{index_path}: cache version {index.get('version')} is not {CACHE_VERSION}; rebuild it")
        settings = index["settings"]
        self.settings = CacheSettings(settings["frames"], settings["size"], settings.get("flow"))
        self.frames, self.size = self.settings.frames, self.settings.size
        self.has_flow = self.settings.flow is not None
        self.classes: list[str] = index["classes"]
        self.multi_label: bool = index["multi_label"]
        self.entries = [e for e in index["entries"] if e["status"] == "ok"]
        self.failed = [e for e in index["entries"] if e["status"] != "ok"]
        self._maps: dict[tuple[str, int], np.memmap] = {}
        self._counts = {int(k): v for k, v in index["shards"].items()}

    def __len__(self) -> int:
        return len(self.entries)

    def _map(self, kind: str, shard: int) -> np.memmap:
        key = (kind, shard)
        if key not in self._maps:  # opened lazily: each DataLoader worker maps its own
            channels, dtype, suffix = (3, np.uint8, "u8") if kind == "rgb" else (2, np.float16, "f16")
            shape = (self._counts[shard], self.frames, self.size, self.size, channels)
            self._maps[key] = np.memmap(self.root / f"{kind}_{shard:05d}.{suffix}", dtype=dtype, mode="r", shape=shape)
        return self._maps[key]

    def rgb(self, video: int) -> np.ndarray:
        entry = self.entries[video]
        return self._map("rgb", entry["shard"])[entry["slot"]]

    def flow(self, video: int) -> np.ndarray:
        if not self.has_flow:
            raise CacheError(f"{self.root}: built without optical flow")
        entry = self.entries[video]
        return self._map("flow", entry["shard"])[entry["slot"]].astype(np.float32)

    def label(self, video: int) -> int | tuple[int, ...]:
        label = self.entries[video]["label"]
        return tuple(label) if isinstance(label, list) else int(label)

    def __getstate__(self) -> dict[str, Any]:  # memmaps are reopened in worker processes
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state


def write_clip_cache(
    out: str | Path,
    clips: Iterable[tuple[str, int, np.ndarray]],
    count: int,
    *,
    classes: list[str],
    frames: int,
    size: int,
    origin: str,
    flow: str | None = None,
) -> ClipCache:
    """Write ``count`` clips given as (name, label, uint8 frames×size×size×3) straight into a cache folder (one
    shard; ``flow``: optical flow beside it), without video files in between: how generated data sets become a
    store. Same commit order as ``build_cache``: the shards first, then the index, atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staged = out / "rgb_00000.u8.tmp"
    writer = np.memmap(staged, dtype=np.uint8, mode="w+", shape=(max(count, 1), frames, size, size, 3))
    flow_staged = out / "flow_00000.f16.tmp"
    flow_writer = np.memmap(flow_staged, dtype=np.float16, mode="w+", shape=(max(count, 1), frames, size, size, 2)) if flow else None
    entries = []
    for slot, (name, label, clip) in enumerate(clips):
        if clip.shape != (frames, size, size, 3):
            raise CacheError(f"{out}: clip {name} has shape {clip.shape}, expected {(frames, size, size, 3)}")
        writer[slot] = clip
        if flow_writer is not None:
            flow_writer[slot] = optical_flow(clip, flow).astype(np.float16)
        entries.append({"path": name, "label": label, "status": "ok", "shard": 0, "slot": slot})
    if len(entries) != count:
        raise CacheError(f"{out}: expected {count} clips, got {len(entries)}")
    writer.flush()
    del writer
    if flow_writer is not None:
        flow_writer.flush()
        del flow_writer
        os.replace(flow_staged, out / "flow_00000.f16")
    os.replace(staged, out / "rgb_00000.u8")
    index = {"version": CACHE_VERSION, "settings": {"frames": frames, "size": size, "flow": flow}, "classes": classes, "multi_label": False,
             "source": origin, "shards": {"0": max(count, 1)}, "entries": entries, "stats": {"reused": 0, "decoded": 0, "generated": count, "failed": 0}}
    temporary = out / (INDEX + ".tmp")
    temporary.write_text(json.dumps(index), encoding="utf-8")
    os.replace(temporary, out / INDEX)
    return ClipCache(out)


def build_cache(
    source: Source,
    out: str | Path,
    *,
    frames: int,
    size: int,
    flow: str | None = None,
    shard_size: int = 512,
    progress: Callable[[int, int, str], None] | None = None,
) -> ClipCache:
    """Decode ``source`` into a cache at ``out`` (see the module docstring); unchanged entries are reused.

    Bad videos are recorded in the index with their error and skipped; ``progress(done, total, path)`` is
    called after each video.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = CacheSettings(frames, size, flow)
    previous: dict[tuple[str, int, int], int] = {}  # (path, bytes, mtime) -> entry number in the old cache
    old = None
    if (out / INDEX).is_file():
        try:
            old = ClipCache(out)
        except (CacheError, KeyError, ValueError, json.JSONDecodeError):
            old = None
    if old is not None and old.settings == settings:
        for i, entry in enumerate(old.entries):
            previous[(entry["path"], entry["bytes"], entry["mtime_ns"])] = i
    entries: list[dict[str, Any]] = []
    shard, slot = 0, 0
    counts: dict[int, int] = {}
    writers: dict[str, np.memmap] = {}
    staged: list[Path] = []

    def open_shard(number: int, count: int) -> None:
        for kind, channels, dtype, suffix in (("rgb", 3, np.uint8, "u8"), ("flow", 2, np.float16, "f16")):
            if kind == "flow" and not flow:
                continue
            path = out / f"{kind}_{number:05d}.{suffix}.tmp"
            staged.append(path)
            writers[kind] = np.memmap(path, dtype=dtype, mode="w+", shape=(count, frames, size, size, channels))

    total = len(source.items)
    shard_counts = [min(shard_size, total - start) for start in range(0, total, shard_size)] or [0]
    reused = decoded = 0
    for position, item in enumerate(source.items):
        if slot == 0:
            open_shard(shard, shard_counts[shard])
        label: Any = list(item.label) if isinstance(item.label, tuple) else item.label
        entry: dict[str, Any] = {"path": item.path, "label": label}
        try:
            entry["bytes"], entry["mtime_ns"] = file_key(item.path)
            key = (item.path, entry["bytes"], entry["mtime_ns"])
            if key in previous and old is not None:
                rgb = np.asarray(old.rgb(previous[key]))
                flow_clip = old.flow(previous[key]).astype(np.float16) if flow else None
                reused += 1
            else:
                rgb = _decode_for_cache(item.path, settings)
                flow_clip = optical_flow(rgb, flow).astype(np.float16) if flow else None
                decoded += 1
            writers["rgb"][slot] = rgb
            if flow:
                writers["flow"][slot] = flow_clip
            entry.update(status="ok", shard=shard, slot=slot)
        except (VideoError, OSError) as error:
            entry.update(status="failed", error=str(error), shard=shard, slot=slot)
        entries.append(entry)
        slot += 1
        if slot == shard_counts[shard] or position == total - 1:
            for writer in writers.values():
                writer.flush()
            counts[shard] = slot
            writers.clear()
            shard, slot = shard + 1, 0
        if progress is not None:
            progress(position + 1, total, item.path)
    # commit: shards first, then the index (atomic rename), then leftovers of a previous, larger cache
    for path in staged:
        os.replace(path, path.with_suffix(""))
    index = {
        "version": CACHE_VERSION,
        "settings": {"frames": frames, "size": size, "flow": flow},
        "classes": source.classes,
        "multi_label": source.multi_label,
        "source": source.origin,
        "shards": {str(k): v for k, v in counts.items()},
        "entries": entries,
        "stats": {"reused": reused, "decoded": decoded, "failed": sum(e["status"] != "ok" for e in entries)},
    }
    temporary = out / (INDEX + ".tmp")
    temporary.write_text(json.dumps(index), encoding="utf-8")
    os.replace(temporary, out / INDEX)
    for leftover in out.glob("*_*.u8"):
        if int(leftover.stem.split("_")[1]) not in counts:
            leftover.unlink()
    for leftover in out.glob("*_*.f16"):
        if not flow or int(leftover.stem.split("_")[1]) not in counts:
            leftover.unlink()
    return ClipCache(out)


class folder_lock:
    """An exclusive lock on ``folder`` (a ``.lock`` file in it) for the ``with`` block: several processes (DDP
    ranks, search workers, two ``vidnas train`` runs) that build the same data queue instead of racing."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def __enter__(self) -> "folder_lock":
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = open(self.folder / ".lock", "w", encoding="utf-8")
        fcntl.flock(self._file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()  # closing releases the lock


def _is_current(folder: Path, source: Source, settings: CacheSettings) -> bool:
    """Whether the cache in ``folder`` was built with ``settings`` from exactly these files, unchanged."""
    try:
        index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        cached = [(e["path"], e.get("bytes"), e.get("mtime_ns")) for e in index["entries"]]
        same = index.get("version") == CACHE_VERSION and index["settings"] == {"frames": settings.frames, "size": settings.size, "flow": settings.flow}
    except (OSError, KeyError, ValueError):
        return False
    if not same or len(cached) != len(source.items) or index.get("classes") != source.classes:
        return False
    try:
        return all(c == (item.path, *file_key(item.path)) for c, item in zip(cached, source.items))
    except OSError:
        return False


def source_cache(
    source: Source,
    *,
    kind: str,
    frames: int,
    size: int,
    flow: str | None = None,
    log: Callable[[str], None] | None = None,
) -> ClipCache:
    """The decoded-clip cache of ``source`` at (``frames``, ``size``, ``flow``), kept under the data home
    (``$VIDNAS_HOME/clip-cache``) and keyed by the source and those settings: decoded on first use, then reused
    as long as no file changed (a changed, added or removed file is re-decoded incrementally). ``kind`` ('train',
    'val') only names the folder. Used by ``vidnas train``/``eval`` and by search, so every path decodes once."""
    import hashlib

    files = [str(Path(i.path).resolve()) for i in source.items]
    key = hashlib.sha256(json.dumps([files, source.classes, frames, size, flow]).encode()).hexdigest()[:12]
    folder = data_home() / "clip-cache" / f"{kind}-{key}"
    settings = CacheSettings(frames, size, flow)
    with folder_lock(folder):
        if not _is_current(folder, source, settings):
            if log:
                log(f"decoding {len(source.items)} {kind} videos once into a clip cache ({frames} frames, {size}px{', flow' if flow else ''}) in {folder}")
            build_cache(source, folder, frames=frames, size=size, flow=flow)
        elif log:
            log(f"{kind} clips: reusing the clip cache in {folder}")
        return ClipCache(folder)
