"""Video sources in the layouts users keep them: class folders, annotation lists, Kinetics and Charades CSVs.

``load_source(spec)`` reads any of them into a ``Source``: the list of videos with their labels and the
class names. Problems name the file and line: a list naming missing files fails once with all of them; an
unknown label fails naming its line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from vidnas.data._decode import IMAGE_SUFFIXES
from vidnas.errors import VidnasError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp", ".ogv")


class SourceError(VidnasError):
    """A source (folder, list or CSV) is malformed: the message names the file, line and what was expected."""


@dataclass(frozen=True)
class VideoItem:
    """One video: a file or a folder of frames, and its label (a class index, or for multi-label data the
    tuple of present class indices)."""

    path: str
    label: int | tuple[int, ...]


@dataclass
class Source:
    items: list[VideoItem]
    classes: list[str]
    multi_label: bool = False
    origin: str = ""
    layout: str = ""
    missing: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def class_counts(self) -> dict[str, int]:
        counts = {name: 0 for name in self.classes}
        for item in self.items:
            for index in item.label if isinstance(item.label, tuple) else (item.label,):
                counts[self.classes[index]] += 1
        return counts


def _is_video(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())


def read_class_list(path: str | Path) -> tuple[list[str], int]:
    """Class names from a class-list file, and the base of integer labels that refer to them.

    Accepts one name per line, ``index name`` lines (UCF101 classInd.txt: 1-based) and ``code description``
    lines (Charades: the code is the name).
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: class list not found")
    names: list[str] = []
    indices: list[int] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        first, _, rest = line.partition(" ")
        if first.isdigit() and rest.strip():
            indices.append(int(first))
            names.append(rest.strip())
        elif rest.strip() and first[:1].isalpha() and first[1:].isdigit():
            names.append(first)  # Charades "c012 Doing something"
        else:
            names.append(line)
    if not names:
        raise SourceError(f"{path}: class list is empty")
    if len(set(names)) != len(names):
        raise SourceError(f"{path}: class names repeat")
    base = 0
    if indices:
        if sorted(indices) != list(range(indices[0], indices[0] + len(indices))) or len(indices) != len(names):
            raise SourceError(f"{path}: 'index name' lines must number the classes consecutively")
        base = indices[0]
        names = [n for _, n in sorted(zip(indices, names))]
    return names, base


class _Labels:
    """Maps label tokens (names or integers) to class indices; grows the class list when none was given."""

    def __init__(self, classes: Sequence[str] | None, base: int):
        self.fixed = classes is not None
        self.classes = list(classes or [])
        self.base = base
        self.index = {name: i for i, name in enumerate(self.classes)}

    def resolve(self, token: str, where: str) -> int:
        token = token.strip()
        if token in self.index:
            return self.index[token]
        if token.lstrip("-").isdigit() and (self.fixed or not self.index):
            value = int(token) - self.base
            if self.fixed:
                if not 0 <= value < len(self.classes):
                    raise SourceError(f"{where}: label {token} is out of range for {len(self.classes)} classes (base {self.base})")
                return value
        if self.fixed:
            raise SourceError(f"{where}: unknown label {token!r} (not in the {len(self.classes)} classes of the class list)")
        self.index[token] = len(self.classes)
        self.classes.append(token)
        return self.index[token]

    def finish(self, items: list[tuple[str, int | tuple[int, ...]]]) -> tuple[list[str], list[tuple[str, int | tuple[int, ...]]]]:
        """Without a class list, sort the class names and renumber (deterministic whatever the line order)."""
        if self.fixed:
            return self.classes, items
        numeric = all(c.lstrip("-").isdigit() for c in self.classes)
        order = sorted(range(len(self.classes)), key=lambda i: int(self.classes[i]) if numeric else self.classes[i])
        remap = {old: new for new, old in enumerate(order)}
        classes = [self.classes[i] for i in order]
        out = [(p, tuple(sorted(remap[l] for l in lab)) if isinstance(lab, tuple) else remap[lab]) for p, lab in items]
        return classes, out


def _check_missing(origin: str, items: list[tuple[str, int | tuple[int, ...]]], allow_missing: bool) -> list[str]:
    missing = [path for path, _ in items if not Path(path).exists()]
    if missing and not allow_missing:
        shown = "\n  ".join(missing[:20]) + (f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise SourceError(f"{origin}: {len(missing)} listed video(s) do not exist:\n  {shown}")
    return missing


def from_folder(root: str | Path) -> Source:
    """Class-per-folder layout (UCF101/HMDB style): root/<class>/<video file or frame folder>."""
    root = Path(root)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    items = []
    for index, name in enumerate(classes):
        for video in sorted((root / name).iterdir()):
            if not video.name.startswith(".") and _is_video(video):
                items.append(VideoItem(str(video), index))
    if not items:
        raise SourceError(f"{root}: no videos found in class folders (expected root/<class>/<video>{'|'.join(VIDEO_SUFFIXES[:3])}...)")
    classes = [c for c in classes if any(item.label == classes.index(c) for item in items)]
    remap = {old: new for new, old in enumerate(sorted({item.label for item in items}))}
    return Source([VideoItem(i.path, remap[i.label]) for i in items], classes, origin=str(root), layout="folders")


def _resolve(path: str, root: Path) -> str:
    candidate = Path(path)
    return str(candidate if candidate.is_absolute() else root / candidate)


def from_list(
    path: str | Path,
    *,
    root: str | Path | None = None,
    classes: Sequence[str] | str | Path | None = None,
    split: str | None = None,
    allow_missing: bool = False,
) -> Source:
    """An annotation file: ``path label`` lines, UCF101 train/test lists, a ``path,label`` CSV, a Kinetics
    CSV (``label,youtube_id,time_start,time_end,split``) or a Charades CSV (``id,...,actions``).

    Relative video paths are resolved against ``root`` (default: the list's folder). ``classes`` is a list
    of names or a class-list file; without it the class names are the labels seen, sorted.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: annotation file not found")
    root = Path(root) if root is not None else path.parent
    base = 0
    if isinstance(classes, (str, Path)):
        names, base = read_class_list(classes)
    else:
        names = list(classes) if classes is not None else None
    labels = _Labels(names, base)
    text = path.read_text(encoding="utf-8-sig")
    first_line = text.splitlines()[0] if text.strip() else ""
    if "," in first_line:
        header = [h.strip().lower() for h in next(csv.reader([first_line]))]
        if {"youtube_id", "label"} <= set(header):
            return _kinetics(path, root, labels, split, allow_missing)
        if {"id", "actions"} <= set(header):
            return _charades(path, root, labels, allow_missing)
        if {"path", "label"} <= set(header):
            return _path_label_csv(path, root, labels, allow_missing)
        raise SourceError(
            f"{path}: CSV header {header} is not one vidnas reads: expected 'path,label', Kinetics "
            "'label,youtube_id,time_start,time_end,split' or Charades 'id,...,actions'"
        )
    items: list[tuple[str, int | tuple[int, ...]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(maxsplit=1)
        where = f"{path}:{number}"
        if len(parts) == 2 and not Path(line).suffix.lower() in VIDEO_SUFFIXES:
            video, token = parts
        elif "/" in line:  # UCF101 testlist: the class is the folder
            video, token = line, line.split("/")[0]
        else:
            raise SourceError(f"{where}: expected 'path label' (or 'class/video' as in a UCF101 test list), got {line!r}")
        items.append((_resolve(video, root), labels.resolve(token, where)))
    if not items:
        raise SourceError(f"{path}: no videos listed")
    class_names, items = labels.finish(items)
    missing = _check_missing(str(path), items, allow_missing)
    return Source([VideoItem(p, lab) for p, lab in items if p not in missing], class_names, origin=str(path), layout="list", missing=missing)


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
        return [(number, {k: (v or "").strip() for k, v in row.items() if k}) for number, row in enumerate(reader, start=2)]


def _path_label_csv(path: Path, root: Path, labels: _Labels, allow_missing: bool) -> Source:
    items = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        if not row.get("path"):
            raise SourceError(f"{where}: empty 'path'")
        items.append((_resolve(row["path"], root), labels.resolve(row.get("label", ""), where)))
    class_names, items = labels.finish(items)
    missing = _check_missing(str(path), items, allow_missing)
    return Source([VideoItem(p, lab) for p, lab in items if p not in missing], class_names, origin=str(path), layout="csv", missing=missing)


def _kinetics(path: Path, root: Path, labels: _Labels, split: str | None, allow_missing: bool) -> Source:
    items = []
    for number, row in _rows(path):
        if split and row.get("split") and row["split"] != split:
            continue
        where = f"{path}:{number}"
        label = row.get("label", "")
        if not label:
            raise SourceError(f"{where}: no label (a Kinetics test split without labels cannot be trained on)")
        try:
            start, end = int(float(row["time_start"])), int(float(row["time_end"]))
        except (KeyError, ValueError):
            raise SourceError(f"{where}: time_start/time_end must be numbers") from None
        stem = f"{row['youtube_id']}_{start:06d}_{end:06d}"
        candidates = [root / folder / f"{name}{suffix}" for folder in (label, label.replace(" ", "_"), "") for name in (stem, row["youtube_id"]) for suffix in (".mp4", ".mkv", ".webm")]
        found = next((c for c in candidates if c.exists()), candidates[0])
        items.append((str(found), labels.resolve(label, where)))
    class_names, items = labels.finish(items)
    missing = _check_missing(str(path), items, allow_missing)
    return Source([VideoItem(p, lab) for p, lab in items if p not in missing], class_names, origin=str(path), layout="kinetics", missing=missing)


def _charades(path: Path, root: Path, labels: _Labels, allow_missing: bool) -> Source:
    items: list[tuple[str, tuple[int, ...]]] = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        present = set()
        for segment in filter(None, (s.strip() for s in row.get("actions", "").split(";"))):
            parts = segment.split()
            if len(parts) != 3:
                raise SourceError(f"{where}: action {segment!r} is not 'cNNN start end'")
            try:
                float(parts[1]), float(parts[2])
            except ValueError:
                raise SourceError(f"{where}: action {segment!r} has non-numeric times") from None
            present.add(labels.resolve(parts[0], where))
        video = next((root / f"{row['id']}{s}" for s in (".mp4", ".avi", ".webm") if (root / f"{row['id']}{s}").exists()), root / f"{row['id']}.mp4")
        items.append((str(video), tuple(sorted(present))))
    class_names, items = labels.finish(items)  # type: ignore[arg-type]
    missing = _check_missing(str(path), items, allow_missing)
    return Source([VideoItem(p, lab) for p, lab in items if p not in missing], class_names, multi_label=True, origin=str(path), layout="charades", missing=missing)


def load_source(
    spec: str | Path,
    *,
    root: str | Path | None = None,
    classes: Sequence[str] | str | Path | None = None,
    split: str | None = None,
    allow_missing: bool = False,
) -> Source:
    """A folder of class folders, or an annotation file of any supported format (see ``from_list``)."""
    spec = Path(spec)
    if spec.is_dir():
        return from_folder(spec)
    if spec.is_file():
        return from_list(spec, root=root, classes=classes, split=split, allow_missing=allow_missing)
    raise SourceError(f"{spec}: no such folder or annotation file")


def split_source(source: Source, fraction: float, seed: int = 0) -> tuple[Source, Source]:
    """(train, val): a stratified held-out part of a single-label source, deterministic per ``seed`` — in each
    class ``round(fraction × n)`` videos (at least one when the class has two or more), chosen after sorting by
    path, so the split depends only on the files and the seed, not on listing order."""
    import random

    if source.multi_label:
        raise SourceError(f"{source.origin}: a multi-label source cannot be split by class; give a validation source")
    if not 0.0 < fraction < 1.0:
        raise SourceError(f"the validation fraction must be between 0 and 1, got {fraction}")
    rng = random.Random(seed)
    held: set[str] = set()
    for label in range(len(source.classes)):
        paths = sorted(item.path for item in source.items if item.label == label)
        count = min(max(round(fraction * len(paths)), 1), len(paths) - 1) if len(paths) >= 2 else 0
        held.update(rng.sample(paths, count))
    if not held:
        raise SourceError(f"{source.origin}: too few videos to hold out a validation part (every class has fewer than two)")
    train = Source([i for i in source.items if i.path not in held], list(source.classes), origin=f"{source.origin} (train part)", layout=source.layout)
    val = Source([i for i in source.items if i.path in held], list(source.classes), origin=f"{source.origin} (validation part)", layout=source.layout)
    return train, val


def write_source(source: Source, path: str | Path) -> Path:
    """``source`` as a ``path,label`` CSV (absolute paths, class names) with its class list beside it
    (``<name>.classes.txt``, keeping the class order); ``load_source(path, classes=<that file>)`` reads it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    classes = path.with_suffix(".classes.txt")
    classes.write_text("".join(f"{i} {name}\n" for i, name in enumerate(source.classes)), encoding="utf-8")  # 'index name': names may hold spaces
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        for item in source.items:
            writer.writerow([str(Path(item.path).resolve()), source.classes[item.label]])  # type: ignore[index]
    return classes
