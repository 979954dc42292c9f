"""Search spaces: each samples, mutates (named operators), validates and encodes genotypes of one family.

``make_space(name, num_classes=..., **options)``; ``SPACES`` lists the names.
"""

from __future__ import annotations

from typing import Any

from vidnas.spaces._base import Choice, SearchSpace, Values, nearest
from vidnas.spaces.assemblenet import AssembleNetSpace
from vidnas.spaces.autox3d import AutoX3DSpace
from vidnas.spaces.evanet import EvaNetSpace
from vidnas.spaces.movinet import MoViNetSpace
from vidnas.spaces.tvn import TVNSpace

SPACES: dict[str, type[SearchSpace]] = {
    "tvn": TVNSpace,
    "evanet": EvaNetSpace,
    "assemblenet": AssembleNetSpace,
    "movinet": MoViNetSpace,
    "autox3d": AutoX3DSpace,
}


def make_space(name: str, num_classes: int = 8, *, preset: str = "proxy", **options: Any) -> SearchSpace:
    """A search space by name. ``preset`` 'proxy' (default: small widths for CPU search) or 'paper' (the
    published value ranges); keyword options override the proxy defaults."""
    from vidnas.errors import VidnasError

    if name not in SPACES:
        raise VidnasError(f"unknown search space {name!r}; choose one of {', '.join(SPACES)}")
    cls = SPACES[name]
    if preset == "paper":
        return cls.paper(num_classes)  # type: ignore[attr-defined]
    if preset != "proxy":
        raise VidnasError(f"unknown space preset {preset!r}; choose 'proxy' or 'paper'")
    return cls(num_classes, **options)


__all__ = ["Choice", "SearchSpace", "Values", "nearest", "SPACES", "make_space", "TVNSpace", "EvaNetSpace", "AssembleNetSpace", "MoViNetSpace", "AutoX3DSpace"]
