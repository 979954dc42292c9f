"""How results look in a terminal: rich tables and progress bars. Commands compute; these only lay out what
they are given (every ``--json`` output is written by the command itself, from the same data)."""

from __future__ import annotations

import json
from typing import Any, Callable

from rich.table import Table

from vidnas.cli._app import errors


def human(value: float, unit: str = "") -> str:
    """1234567 → '1.235 M' (with ``unit`` appended)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {suffix}{unit}"
    return f"{value:.0f} {unit}".strip()


def progress_bar(description: str, total: int):  # noqa: ANN201 - (Progress, advance)
    """A transient bar on stderr and the function that advances it by one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=errors, transient=True)
    task = progress.add_task(description, total=total)
    return progress, lambda *_: progress.advance(task)


def layer_table(rows: list[tuple[int, str, str, str]]) -> Table:
    """A genotype's nodes and layers (``summary_rows``) with their output shapes."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("where")
    table.add_column("layer")
    table.add_column("output C x T x H x W", justify="right")
    for depth, where, what, shape in rows:
        table.add_row(("  " * depth) + where, what, shape, style=None if depth else "bold")
    return table


def profile_table(title: str, data: dict[str, Any], result: Any, selection: Any = None) -> Table:
    """``vidnas profile``: counts, and latency / runtimes / peak memory when measured."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("input", json.dumps(data["input_shape"]))
    table.add_row("parameters", f"{data['params']:,}  ({human(data['params'])})")
    table.add_row("parameters without BN", f"{data['params_no_bn']:,}  ({human(data['params_no_bn'])})")
    table.add_row("MACs", f"{data['macs']:,}  ({human(data['macs'])})")
    table.add_row("FLOPs (2 x MACs)", f"{data['flops']:,}  ({human(data['flops'])})")
    if result.latency is not None:
        lat = result.latency
        table.add_row(
            "latency",
            f"{lat.median_ms:.2f} ms median (p10 {lat.p10_ms:.2f}, p90 {lat.p90_ms:.2f}; {lat.runs} runs, "
            f"{lat.threads} threads, {lat.memory_format}, {lat.device})",
        )
    if selection is not None:
        table.add_row("runtimes", selection.summary().removeprefix("runtime: ") + " (fastest first)")
    if result.peak_memory is not None:
        table.add_row("peak memory (forward)", f"{result.peak_memory.forward_bytes / 2**20:.1f} MiB ({result.peak_memory.method})")
    return table


def int8_table(title: str, report: Any, unit: str) -> Table:
    """``vidnas export --int8``: fp32 and int8 side by side."""
    table = Table(title=title)
    for column in ("", unit, "speed-up", "top-1 agreement", "max rel. logit error", "top-1 (--val)"):
        table.add_column(column, justify="right")
    table.add_row("fp32", f"{report.fp32_ms:.2f}", "1.00", "", "", f"{report.accuracy['fp32']:.4f}" if "fp32" in report.accuracy else "-")
    table.add_row("int8", f"{report.int8_ms:.2f}", f"{report.speedup:.2f}", f"{report.agreement:.3f}", f"{report.max_relative_error:.3g}",
                  f"{report.accuracy['int8']:.4f}" if "int8" in report.accuracy else "-")
    return table


def candidates_table(title: str, trials: list[Any]) -> Table:
    """A search's best candidates by the engine's score (proxy accuracy at the rung each reached)."""
    table = Table(title=title)
    for column in ("candidate", "rung", "proxy accuracy", "latency ms", "MMACs", "M params", "origin"):
        table.add_column(column, justify="right")
    for trial in trials:
        m = trial.metrics
        table.add_row(str(trial.candidate), str(trial.rung), f"{m.get('accuracy', 0):.3f}", f"{m.get('latency_ms', 0):.1f}",
                      f"{(m.get('macs') or 0) / 1e6:.1f}", f"{(m.get('params') or 0) / 1e6:.3f}", str(trial.attrs.get("origin")))
    return table


def retrained_table(rows: list[dict[str, Any]], short: dict[str, str]) -> Table:
    """The final retraining: candidates and baselines from scratch with one recipe (``*`` marks the winner)."""
    table = Table(title="retrained from scratch with the same recipe (the answer)")
    for column in ("model", "what", "accuracy", "± SE", "latency ms", "fits", "MMACs"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(("* " if row["winner"] else "") + row["name"], short.get(row["kind"], row["kind"] or ""),
                      f"{row['accuracy']:.3f}" if row["accuracy"] is not None else "-", f"{row['se']:.3f}" if row["se"] is not None else "-",
                      f"{row['latency_ms']:.1f}" if row["latency_ms"] is not None else "-", "yes" if row["fits"] else "no",
                      f"{(row['macs'] or 0) / 1e6:.1f}")
    return table


def zoo_table(rows: list[dict[str, Any]]) -> Table:
    """``vidnas zoo list``."""
    table = Table(show_header=True, header_style="bold")
    for column in ("name", "family", "input", "streams", "classes", "params", "MACs"):
        table.add_column(column, justify="right" if column in ("classes", "params", "MACs") else "left", no_wrap=True)
    for row in rows:
        table.add_row(row["name"], row["family"], f"{row['frames']}x{row['size']}² /{row['frame_stride']}", "+".join(row["streams"]),
                      str(row["num_classes"]), f"{row['params'] / 1e6:.2f} M", f"{row['macs'] / 1e9:.2f} G")
    return table


def data_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """``vidnas data check``: clips per class with duration, fps and resolution."""
    table = Table(title=title)
    for column in ("class", "clips", "mean duration", "fps", "resolution"):
        table.add_column(column, justify="right" if column in ("clips", "mean duration") else "left")
    for row in rows:
        table.add_row(row["class"], str(row["clips"]), f"{row['mean_duration_s']:.2f} s", ", ".join(map(str, row["fps"])), ", ".join(row["resolution"]))
    return table


PREDICTOR_ROWS = (("held_out_architectures", "held-out architectures"), ("ops_measured", "ops in the lookup table"),
                  ("held_out_ops_in_table", "held-out ops found in the table"), ("spearman", "Spearman"), ("mape", "MAPE"),
                  ("measurement_noise", "pass-to-pass measurement noise"), ("measure_ms_per_architecture", "measuring (ms / architecture)"),
                  ("predict_ms_per_architecture", "predicting, cold (ms)"), ("predict_ms_per_architecture_warm", "predicting, memoised layers (ms)"),
                  ("speedup", "speed-up, cold"), ("speedup_warm", "speed-up, memoised"))


def predictor_table(title: str, report: dict[str, Any]) -> Table:
    """``vidnas latency calibrate``: the predictor's accuracy on held-out architectures and its speed."""
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, label in PREDICTOR_ROWS:
        value = report.get(key)
        percent = key in ("mape", "measurement_noise", "held_out_ops_in_table") and value is not None
        table.add_row(label, f"{value:.1%}" if percent else str(value))
    return table


def stage_progress(progress: Any, description: Callable[[str], str] = lambda kind: f"measuring {kind}") -> Callable[[str, int, int], None]:
    """A ``(kind, done, total)`` callback drawing one bar per kind of work on ``progress``."""
    tasks: dict[str, Any] = {}

    def update(kind: str, done: int, total: int) -> None:
        if kind not in tasks:
            tasks[kind] = progress.add_task(description(kind), total=total)
        progress.update(tasks[kind], completed=done)

    return update


def benchmark_table(result: Any) -> Table:
    """``vidnas benchmark``: accuracy and latency per runtime (``vidnas.train.Benchmark``), fastest marked (top-5
    and the machine are in ``--json``)."""
    from rich import box

    available = [r for r in result.rows if r.unavailable is None]
    eager = next((r for r in available if r.runtime == "eager"), None)
    fastest = min((r for r in available if r.median_ms is not None), key=lambda r: r.median_ms, default=None)
    streams = any(r.step_ms is not None for r in available)
    table = Table(title=f"{result.network}: {result.clips} clips of {result.data}, batch 1, {result.threads} thread(s)", header_style="bold",
                  box=box.SIMPLE_HEAD, caption="= eager: videos whose top-1 class is eager's; speed: eager's ms / this one's; * fastest")
    for name in ("runtime", "top-1", "= eager", "ms/clip", "p10–p90", "speed") + (("ms/step",) if streams else ()):
        table.add_column(name, justify="left" if name == "runtime" else "right", no_wrap=True)
    for row in result.rows:
        if row.unavailable is not None:
            table.add_row(row.runtime, f"[dim]unavailable: {row.unavailable}[/]", *[""] * (4 + streams))
            continue
        speed = f"{eager.median_ms / row.median_ms:.2f}×" if eager and eager.median_ms and row.median_ms else "—"
        cells = [row.runtime + (" *" if row is fastest else ""), f"{row.top1:.3f}" if row.top1 is not None else "—",
                 f"{row.agreement:.1%}" if row.agreement is not None else "—", f"{row.median_ms:.2f}" if row.median_ms is not None else "—",
                 f"{row.p10_ms:.1f}–{row.p90_ms:.1f}" if row.p10_ms is not None else "—", speed]
        if streams:
            cells.append(f"{row.step_ms:.2f}" if row.step_ms is not None else "—")
        table.add_row(*cells, style="bold" if row is fastest else None)
    return table


def evaluation_table(title: str, summary: dict[str, Any], per_class: dict[str, float]) -> Table:
    """``vidnas eval``: the headline numbers, then the accuracy of each class (worst first)."""
    table = Table(title=title, header_style="bold", show_header=True)
    table.add_column("")
    table.add_column("value", justify="right")
    for key in ("top1", "top5", "map", "loss"):
        if summary.get(key) is not None:
            table.add_row(key, f"{summary[key]:.4f}", style="bold" if key in ("top1", "map") else None)
    for name, accuracy in sorted(per_class.items(), key=lambda kv: (kv[1], kv[0])):
        table.add_row(f"  {name}", f"{accuracy:.4f}", style="dim")
    return table
