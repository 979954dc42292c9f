"""Reading, validating and summarising genotypes, with errors that name the exact path and rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vidnas.errors import GenotypeError
from vidnas.genotype._layers import LAYER_OPS
from vidnas.genotype._network import AnyGenotype, Ensemble, Genotype
from vidnas.genotype._types import Shape


def _path(loc: tuple[Any, ...]) -> str:
    """('nodes', 0, 'layers', 3, 'conv', 'kernel', 0) -> 'nodes[0].layers[3].kernel[0]'."""
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part in LAYER_OPS and isinstance(previous, int):
            pass  # the tag pydantic adds for the member of a discriminated union
        elif isinstance(part, str) and part.startswith("function-"):
            pass
        else:
            out += f".{part}" if out else str(part)
        previous = part
    return out


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "greater_than_equal":
        return f"must be >= {ctx['ge']}"
    if kind == "greater_than":
        return f"must be > {ctx['gt']}"
    if kind == "less_than":
        return f"must be < {ctx['lt']}"
    if kind == "less_than_equal":
        return f"must be <= {ctx['le']}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}, got {error['input']!r}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "union_tag_invalid":
        return f"unknown op {ctx['tag']!r}; expected one of {ctx['expected_tags']}"
    if kind == "union_tag_not_found":
        return "needs an 'op' field naming the layer type"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {error['input']!r}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {error['input']!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {error['input']!r}"
    if kind == "string_pattern_mismatch":
        return f"must be an identifier (letters, digits, _; not starting with a digit), got {error['input']!r}"
    if kind in ("too_short", "too_long"):
        return f"must have {'at least' if kind == 'too_short' else 'at most'} " + (
            f"{ctx.get('min_length', ctx.get('max_length'))} items"
        )
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, got {error['input']!r}"
    return error["msg"]


def errors_from_validation(error: ValidationError) -> list[tuple[str, str]]:
    return [(_path(tuple(e["loc"])), _message(e)) for e in error.errors()]


def parse_genotype(data: dict[str, Any] | str, *, source: str | None = None, check: bool = True) -> AnyGenotype:
    """Build a Genotype (or an Ensemble, when the object has ``members``) from a dict or JSON text; validate
    structure and (if ``check``) shapes.

    Raises GenotypeError listing every structural problem found, or the first shape problem.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise GenotypeError("", f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}", source=source) from None
    if not isinstance(data, dict):
        raise GenotypeError("", f"a genotype is a JSON object, got {type(data).__name__}", source=source)
    try:
        genotype = (Ensemble if "members" in data else Genotype).model_validate(data)
    except ValidationError as error:
        raise GenotypeError(errors_from_validation(error), source=source) from None
    if check:
        try:
            genotype.check()
        except GenotypeError as error:
            raise error.with_source(source) if source else error from None
    return genotype


def load_genotype(path: str | Path, *, check: bool = True) -> AnyGenotype:
    """Read a genotype JSON file — or the genotype a trained network's sidecar carries (a weights file's or a
    training checkpoint's ``.json``: ``{"genotype": {...}, ...}``); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise GenotypeError("", "no such file" if not path.exists() else "not a file", source=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise GenotypeError("", f"cannot read: {error}", source=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return parse_genotype(text, source=str(path), check=check)  # the parser words the JSON error
    if isinstance(data, dict) and isinstance(data.get("genotype"), dict) and ("vidnas_weights" in data or "recipe" in data):
        return parse_genotype(data["genotype"], source=f"{path} (its genotype)", check=check)
    if isinstance(data, dict) and "vidnas_weights" in data:
        raise GenotypeError("", f"a weights sidecar for the zoo model {data.get('model')!r} without a genotype: use the zoo name "
                            f"{data.get('model')!r} (with --weights {path.with_suffix('.safetensors')})", source=str(path))
    return parse_genotype(data, source=str(path), check=check)


def save_genotype(genotype: AnyGenotype, path: str | Path) -> None:
    Path(path).write_text(genotype.to_json() + "\n", encoding="utf-8")


def summary_rows(genotype: Genotype) -> list[tuple[int, str, str, str]]:
    """(depth, where, what, output shape) rows, one per layer, family blocks shown as themselves."""
    shapes = genotype.check()
    rows: list[tuple[int, str, str, str]] = []
    for stream in genotype.input.streams:
        rows.append((0, stream.name, f"input {stream.modality}", str(shapes[stream.name])))
    for index, node in enumerate(genotype.nodes):
        edges = genotype.node_inputs(index)
        fused = genotype._fused_shape(node, [shapes[e.source] for e in edges], f"nodes[{index}]")
        inputs = ", ".join(
            e.source + (f" ({e.weight:.3f}{'' if e.learnable else ', frozen'})" if e.weight is not None else "")
            for e in edges
        )
        level = f" level {node.level}" if node.level is not None else ""
        rows.append((0, node.name, f"node{level} <- {inputs}", str(fused)))
        shape = fused
        for position, layer in enumerate(node.layers):
            shape = layer.infer(shape, f"nodes[{index}].layers[{position}]")
            rows.append((1, f"{node.name}[{position}]", layer.describe(), str(shape)))
    head = genotype.head
    pooled = "soft max over time" if head.pool == "soft_max_time" else "average"
    hidden = "".join(f" -> {h}" for h in head.hidden)
    rows.append((0, "head", f"{pooled} of {', '.join(genotype.head_sources())}{hidden} -> {head.num_classes}", f"{head.num_classes}"))
    return rows


def summary(genotype: AnyGenotype) -> str:
    """A human-readable multi-line description: input, every node and layer with output shapes, head."""
    if isinstance(genotype, Ensemble):
        parts = [f"{genotype.name} ({genotype.family}) ensemble of {len(genotype.members)}, mean of logits, fingerprint {genotype.fingerprint()}"]
        parts += [summary(member) for member in genotype.members]
        return "\n\n".join(parts)
    size = genotype.input.size
    streams = ", ".join(f"{s.name}:{s.modality}x{s.channels}" for s in genotype.input.streams)
    lines = [
        f"{genotype.name} ({genotype.family}) fingerprint {genotype.fingerprint()}",
        f"input: {genotype.input.frames} frames x {size[0]}x{size[1]}, frame stride {genotype.input.frame_stride}, streams {streams}",
    ]
    rows = summary_rows(genotype)
    width = max(len(r[1]) + 2 * r[0] for r in rows)
    what_width = max(len(r[2]) for r in rows)
    for depth, where, what, shape in rows:
        lines.append(f"{'  ' * depth}{where:<{width - 2 * depth}}  {what:<{what_width}}  {shape}")
    return "\n".join(lines)


__all__ = [
    "Shape",
    "errors_from_validation",
    "load_genotype",
    "parse_genotype",
    "save_genotype",
    "summary",
    "summary_rows",
]
