"""The data a search reads: the built-in data set, or the user's sources — split when no validation source is
given — and decoded once into clip caches sized for the space; and which videos could not be decoded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vidnas.errors import VidnasError
from vidnas.search._config import SearchConfig
from vidnas.spaces import SearchSpace

SEARCH_DATA = dict(classes=4, task="motions", train_per_class=1024, val_per_class=256, size=32, frames=16, object_scale=2.0)
"""The built-in data a search trains on without --data: four motion classes at 32², 16 frames."""


def prepare_data(config: SearchConfig, space: SearchSpace, log: Any = None, out: str | Path | None = None) -> tuple[str, str, int]:
    """(train, val, number of classes): the sources, or decoded-clip caches of them sized for the space. Data
    without ``val`` is split (``held_out_split``)."""
    from vidnas.data import ClipCache, builtin_store, load_source, source_cache

    if config.data is None:
        if log:
            log("built-in data: 4 motion classes, 4096 training and 1024 validation clips (generated once)")
        paths = builtin_store(**SEARCH_DATA, flow="dis" if "flow" in space.streams else None)
        return str(paths["train"]), str(paths["val"]), SEARCH_DATA["classes"]  # type: ignore[return-value]
    train_spec, val_spec, classes = config.data, config.val, config.classes
    if val_spec is None:
        if (Path(train_spec) / "index.json").is_file():
            raise VidnasError(f"--data {train_spec} is a clip cache: give its validation cache with --val (only video sources are split)")
        train_spec, val_spec, classes = held_out_split(config, out, log)
    if (Path(train_spec) / "index.json").is_file():
        cache = ClipCache(train_spec)
        return train_spec, val_spec, len(cache.classes)
    train = load_source(train_spec, classes=classes)
    val = load_source(val_spec, classes=classes)
    if not config.cache:
        return train_spec, val_spec, len(train.classes)
    frames, size = space.input_extent()
    flow = "dis" if "flow" in space.streams else None
    caches = [str(source_cache(source, kind=kind, frames=frames, size=size, flow=flow, log=log).root) for kind, source in (("train", train), ("val", val))]
    return caches[0], caches[1], len(train.classes)


def skipped_videos(*caches: str) -> list[dict[str, str]]:
    """The videos of the search's clip caches that could not be decoded (corrupt, truncated, empty, not a
    video): split, path and error of each. Sources read on the fly (``cache`` off) are not probed here."""
    from vidnas.data import CacheError, ClipCache

    out = []
    for kind, folder in zip(("train", "val"), caches):
        try:
            cache = ClipCache(folder)
        except (CacheError, OSError, ValueError):
            continue
        out += [{"split": kind, "path": str(e["path"]), "error": str(e.get("error", "unreadable"))[:200]} for e in cache.failed]
    return out


SPLIT_FOLDER = "split"


def held_out_split(config: SearchConfig, out: str | Path | None, log: Any = None) -> tuple[str, str, str]:
    """(train list, val list, class list) of a search given one source and no ``--val``: a stratified
    ``val_fraction`` held out, deterministic per seed (``data.split_source``), written as CSV lists in the run
    folder's ``split/`` — and read back from there when the search resumes, so a rerun keeps its split even if
    the folder gained files since."""
    from vidnas.data import data_home, load_source, split_source, write_source

    folder = Path(out) / SPLIT_FOLDER if out is not None else data_home() / "splits" / hashlib.sha256(
        json.dumps([str(Path(config.data).resolve()), config.val_fraction, config.seed]).encode()).hexdigest()[:12]  # type: ignore[arg-type]
    train_list, val_list = folder / "train.csv", folder / "val.csv"
    if train_list.is_file() and val_list.is_file():
        if log:
            log(f"validation: the held-out split in {folder} (kept from the search's first run)")
    else:
        source = load_source(config.data, classes=config.classes)  # type: ignore[arg-type]
        train, val = split_source(source, config.val_fraction, seed=config.seed)
        write_source(val, val_list)
        write_source(train, train_list)
        if log:
            log(f"validation: no --val given, so {len(val)} of {len(source)} videos ({config.val_fraction:.0%} of each class, seed {config.seed}) are held out; "
                f"the lists are in {folder} and a resumed search reuses them")
    return str(train_list), str(val_list), str(train_list.with_suffix(".classes.txt"))
