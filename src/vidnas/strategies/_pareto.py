"""Pareto utilities: non-dominated sorting, crowding distance, hypervolume. Points are tuples of objectives
to be *minimised* (negate what you maximise)."""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def nondominated_sort(points: Sequence[Point]) -> list[list[int]]:
    """Fronts of indices, best first (Deb et al.'s fast non-dominated sort)."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    counts = [0] * n
    fronts: list[list[int]] = [[]]
    for i in range(n):
        for j in range(n):
            if i != j and dominates(points[i], points[j]):
                dominated_by[i].append(j)
            elif i != j and dominates(points[j], points[i]):
                counts[i] += 1
        if counts[i] == 0:
            fronts[0].append(i)
    while fronts[-1]:
        following = []
        for i in fronts[-1]:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    following.append(j)
        fronts.append(sorted(following))
    return fronts[:-1] if n else []


def crowding_distance(points: Sequence[Point], front: Sequence[int]) -> dict[int, float]:
    """Crowding distance of each index of one front (boundary points get infinity)."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for m in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][m])
        low, high = points[ordered[0]][m], points[ordered[-1]][m]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        if high == low:
            continue
        for left, middle, right in zip(ordered, ordered[1:], ordered[2:]):
            distance[middle] += (points[right][m] - points[left][m]) / (high - low)
    return distance


def pareto_front(points: Sequence[Point]) -> list[int]:
    return nondominated_sort(points)[0] if points else []


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (minimisation), exact for 2 objectives and
    by inclusion over sorted slices for more (small fronts)."""
    inside = [tuple(p) for p in points if all(x < r for x, r in zip(p, reference))]
    if not inside:
        return 0.0
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in inside)
    inside.sort(key=lambda p: p[-1])
    volume = 0.0
    for k, point in enumerate(inside):  # slice along the last objective
        upper = inside[k + 1][-1] if k + 1 < len(inside) else reference[-1]
        if upper <= point[-1]:
            continue
        volume += (upper - point[-1]) * hypervolume([p[:-1] for p in inside[: k + 1]], reference[:-1])
    return volume
