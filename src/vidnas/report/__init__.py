"""Search outputs and report: best genotypes (JSON), checkpoints of the Pareto set, ``report.html`` and PNGs
(accuracy vs latency with the Pareto front, best accuracy and hypervolume over time, a diagram of the best
architecture). Everything is rebuilt from the study alone (``vidnas report``)."""

from __future__ import annotations

import html
import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from vidnas.strategies import hypervolume, pareto_front


def _ok(trials: list[Any]) -> list[Any]:
    """One trial per candidate: its result at the highest rung it reached (successive halving)."""
    from vidnas.search import current

    return current(trials)


def search_probe(study: Any) -> dict[str, Any]:
    """The screening-budget probe of a ``--rungs auto`` search (``search._fidelity``): chance, runs, rungs ({} if none)."""
    return json.loads(study.study.user_attrs.get("vidnas.probe", "{}"))


def _final_rows(study: Any) -> list[dict[str, Any]]:
    from vidnas.search import summarise

    config = study.config() or {}
    constraint = config.get("constraint") or {}
    return summarise(study.finals(), constraint.get("limit"), json.loads(study.study.user_attrs.get("vidnas.final_latency", "{}")))


def pareto_trials(trials: list[Any]) -> list[Any]:
    """Completed trials on the accuracy / latency front (ties of identical points keep the earliest)."""
    ok = [t for t in _ok(trials) if t.metrics.get("accuracy") is not None]
    points = [(-t.metrics["accuracy"], t.metrics.get("latency_ms", 0.0)) for t in ok]
    seen, out = set(), []
    for i in sorted(pareto_front(points), key=lambda i: points[i][1]):
        if points[i] not in seen:
            seen.add(points[i])
            out.append(ok[i])
    return out


def hypervolume_curve(trials: list[Any]) -> list[tuple[float, float, float]]:
    """(elapsed seconds, best accuracy, hypervolume of accuracy × latency) after each completed trial; the
    hypervolume's reference point is accuracy 0 and the slowest measured latency × 1.1."""
    ok = sorted((t for t in _ok(trials) if t.attrs.get("elapsed_end") is not None), key=lambda t: t.attrs["elapsed_end"])
    if not ok:
        return []
    worst = 1.1 * max(t.metrics.get("latency_ms", 0.0) for t in ok) or 1.0
    out, points, best = [], [], 0.0
    for t in ok:
        points.append((-t.metrics["accuracy"], t.metrics.get("latency_ms", worst)))
        best = max(best, t.metrics["accuracy"])
        out.append((t.attrs["elapsed_end"], best, hypervolume(points, (0.0, worst))))
    return out


def write_search_outputs(study: Any, out: str | Path, *, keep: int = 5) -> dict[str, Any]:
    out = Path(out)
    trials = study.trials()
    ok = _ok(trials)
    best_dir = out / "best"
    if best_dir.exists():
        shutil.rmtree(best_dir)
    best_dir.mkdir(parents=True)
    for rank, trial in enumerate(ok[: max(1, keep)], 1):
        (best_dir / f"rank{rank}_trial{trial.number:04d}.json").write_text(trial.genotype.to_json() + "\n", encoding="utf-8")
    finals = _final_rows(study)
    winner = next((r for r in finals if r["winner"]), None)
    from vidnas.report._answer import write_answer

    for stale in ("best.safetensors", "best.md"):
        (out / stale).unlink(missing_ok=True)
    weights = write_answer(study, out, finals, trials, search_probe(study).get("chance")) if ok or winner else None
    # (``write_trained_answer`` writes the same from a stored study alone: ``vidnas report``)
    if weights is None and winner is not None:  # the winner of the final retraining, which may be a baseline (the report says so)
        from vidnas.genotype import parse_genotype

        (out / "best.json").write_text(parse_genotype(winner["genotype"]).to_json() + "\n", encoding="utf-8")
    elif weights is None and ok:
        (out / "best.json").write_text(ok[0].genotype.to_json() + "\n", encoding="utf-8")
    ensemble = None
    if len(ok) >= 2:  # EvaNet's recipe: an ensemble of the top *and* diverse architectures
        from vidnas.network.ensemble import diverse_ensemble

        chosen = diverse_ensemble([(t.genotype, t.fitness) for t in ok], k=3, name=f"{study.name}_ensemble")
        ensemble = out / "ensemble.json"
        ensemble.write_text(chosen.to_json() + "\n", encoding="utf-8")
    front = pareto_trials(trials)
    pareto_dir = out / "pareto"
    if pareto_dir.exists():
        shutil.rmtree(pareto_dir)
    pareto_dir.mkdir(parents=True)
    checkpoints = out / "checkpoints"
    for trial in front:
        target = pareto_dir / f"trial_{trial.number:04d}"
        source = checkpoints / f"trial_{trial.number:04d}"
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.mkdir()
        (target / "genotype.json").write_text(trial.genotype.to_json() + "\n", encoding="utf-8")
    wanted = {f"trial_{t.number:04d}" for t in front + ok[:keep]}
    if checkpoints.is_dir():  # dominated trials outside the top ``keep`` never re-enter the front: drop their weights
        for folder in checkpoints.iterdir():
            if folder.is_dir() and folder.name not in wanted:
                shutil.rmtree(folder)
    report = build_report(study, out, trials=trials)
    return {"best": str(out / "best.json") if ok or winner else None, "weights": str(weights) if weights else None,
            "card": str(out / "best.md") if weights else None, "final": finals, "probe": search_probe(study), "ensemble": str(ensemble) if ensemble else None, "pareto": str(pareto_dir), "report": str(report), "pareto_trials": [t.number for t in front]}


def write_trained_answer(study: Any, out: str | Path) -> Path | None:
    """``best.safetensors`` + ``best.json`` + ``best.md`` of a stored search in ``out`` (``report._answer``); None
    when no trained checkpoint of its answer exists."""
    from vidnas.report._answer import write_answer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.trials()
    return write_answer(study, out, _final_rows(study), trials, search_probe(study).get("chance"))


# ------------------------------------------------------------------------------------------------ plots


def _plt():  # noqa: ANN202
    from vidnas._imports import optional_import

    matplotlib = optional_import("matplotlib", "search reports")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(trials: list[Any], path: Path) -> None:
    plt = _plt()
    ok = [t for t in _ok(trials) if t.metrics.get("latency_ms") is not None]
    front = pareto_trials(trials)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([t.metrics["latency_ms"] for t in ok], [t.metrics["accuracy"] for t in ok], s=18, c="#9aa5b1", label="trained candidates")
    if front:
        xs = [t.metrics["latency_ms"] for t in front]
        ys = [t.metrics["accuracy"] for t in front]
        ax.step(xs, ys, where="post", color="#d1495b", lw=1.5)
        ax.scatter(xs, ys, s=36, c="#d1495b", label="Pareto front", zorder=3)
    if ok:
        best = ok[0]
        ax.scatter([best.metrics["latency_ms"]], [best.metrics["accuracy"]], marker="*", s=220, c="#edae49", edgecolors="k", zorder=4, label=f"best (trial {best.number})")
    ax.set_xlabel("latency (ms, batch 1)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Accuracy vs latency")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_progress(trials: list[Any], path: Path) -> None:
    plt = _plt()
    curve = hypervolume_curve(trials)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    if curve:
        minutes = [c[0] / 60 for c in curve]
        left.step(minutes, [c[1] for c in curve], where="post", color="#00798c")
        right.step(minutes, [c[2] for c in curve], where="post", color="#d1495b")
    left.set_title("Best accuracy over time")
    left.set_xlabel("search time (min)")
    left.set_ylabel("best validation accuracy")
    right.set_title("Hypervolume (accuracy × latency) over time")
    right.set_xlabel("search time (min)")
    right.set_ylabel("hypervolume")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_architecture(genotype: Any, path: Path, weights: dict[str, dict[str, float]] | None = None) -> None:
    """Boxes for the input streams and nodes (name, output shape, layers), placed by depth in the DAG; edges
    drawn with their learned connection weight when known."""
    plt = _plt()
    shapes = genotype.check()
    depth: dict[str, int] = {s.name: 0 for s in genotype.input.streams}
    for index, node in enumerate(genotype.nodes):
        depth[node.name] = 1 + max(depth[e.source] for e in genotype.node_inputs(index))
    columns: dict[int, list[str]] = {}
    for name, d in depth.items():
        columns.setdefault(d, []).append(name)
    position = {name: (d, -row + (len(names) - 1) / 2) for d, names in columns.items() for row, name in enumerate(names)}
    chain = all(len(v) == 1 for v in columns.values())
    if chain:  # a chain reads better top to bottom
        position = {name: (0, -d) for name, d in depth.items()}
    nodes = {n.name: n for n in genotype.nodes}
    width = 3.2 if chain else 2.6
    fig_w = 7 if chain else max(6, 2.9 * (max(columns) + 1))
    fig_h = max(3, 1.15 * len(depth)) if chain else max(3, 1.6 * max(len(v) for v in columns.values()))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    for index, node in enumerate(genotype.nodes):
        for edge in genotype.node_inputs(index):
            (x0, y0), (x1, y1) = position[edge.source], position[node.name]
            w = (weights or {}).get(node.name, {}).get(edge.source, edge.weight)
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="#555", lw=0.6 + 2.5 * (w if w is not None else 0.4), alpha=0.7))
            if w is not None and not chain:
                ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{w:.2f}", fontsize=6, color="#d1495b")
    for name, (x, y) in position.items():
        shape = shapes[name]
        if name in nodes:
            layers = [layer.describe() for layer in nodes[name].layers]
            body = "\n".join(text[:52] for text in layers[:3]) + (f"\n… {len(layers) - 3} more" if len(layers) > 3 else "")
            color = "#d9f0f3"
        else:
            body, color = "input", "#fde9c9"
        label = f"{name}  {shape.channels}×{shape.frames}×{shape.height}×{shape.width}\n{body}"
        ax.text(x, y, label, ha="center", va="center", fontsize=6.5 if chain else 6, family="monospace",
                bbox=dict(boxstyle="round,pad=0.35", fc=color, ec="#00798c", lw=0.8))
    xs = [p[0] for p in position.values()]
    ys = [p[1] for p in position.values()]
    ax.set_xlim(min(xs) - width / 2, max(xs) + width / 2)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.axis("off")
    ax.set_title(f"{genotype.family or 'network'}: {genotype.input.frames}×{genotype.input.size[0]}² input, head → {genotype.head.num_classes} classes", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- report


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def build_report(study: Any, out: str | Path, *, trials: list[Any] | None = None) -> Path:
    """report.html and the PNGs of ``study`` (``trials``: the study's trials when the caller has read them)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials = study.trials() if trials is None else trials
    config = study.config() or {}
    ok = _ok(trials)
    failed = [t for t in trials if t.status in ("failed", "interrupted")]
    rejected = [t for t in trials if t.status == "rejected"]
    duplicates = [t for t in trials if t.status == "duplicate"]
    front = pareto_trials(trials)
    from vidnas.errors import MissingDependencyError

    images: list[str] = []
    try:
        plot_pareto(trials, out / "pareto.png")
        plot_progress(trials, out / "progress.png")
        images += ["pareto.png", "progress.png"]
        if ok:
            plot_architecture(ok[0].genotype, out / "best_architecture.png", ok[0].metrics.get("connection_weights"))
            images.append("best_architecture.png")
    except MissingDependencyError as error:  # the study and the JSON outputs do not depend on plots
        images = []
        plot_note = html.escape(str(error))
    else:
        plot_note = ""
    curve = hypervolume_curve(trials)
    from vidnas.search import describe_probe as describe

    probe = search_probe(study)
    rungs = probe.get("rungs") if config.get("rungs") == "auto" else config.get("rungs")

    def rows(items: list[Any], reason: bool = False) -> str:
        out_rows = []
        for t in items:
            m = t.metrics
            cells = [t.candidate, t.rung, m.get("steps"), m.get("accuracy"), t.fitness, m.get("latency_ms"), (m.get("macs") or 0) / 1e6 if m.get("macs") else None,
                     (m.get("params") or 0) / 1e6 if m.get("params") else None, m.get("peak_memory_mb"), t.attrs.get("origin"),
                     ", ".join(t.attrs.get("operators") or []) or None]
            if reason:
                cells = [t.number, t.attrs.get("origin"), t.attrs.get("reason")]
            out_rows.append("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in cells) + "</tr>")
        return "\n".join(out_rows)

    head = "<tr><th>candidate</th><th>rung</th><th>steps</th><th>accuracy</th><th>fitness</th><th>latency ms</th><th>MMACs</th><th>M params</th><th>peak MB</th><th>origin</th><th>operators</th></tr>"
    summary = {
        "study": study.name, "storage": study.storage_url, "trained": sum(1 for t in trials if t.status in ("ok", "failed")),
        "completed": len(ok), "failed": len(failed), "rejected before training": len(rejected), "duplicates (not retrained)": len(duplicates),
        "time (min): search and final retraining": round(study.elapsed() / 60, 2), "pick's proxy accuracy (highest rung)": ok[0].metrics.get("accuracy") if ok else None,
        "rungs (steps)": " / ".join(str(r) for r in rungs) if rungs else "off",
        "candidates per rung": " / ".join(str(sum(1 for t in trials if t.status == "ok" and t.rung == k)) for k in range(len(rungs or [0]))),
        "screening budget": describe(probe) if probe.get("rungs") else "given (--rungs)" if rungs else "one evaluation per candidate (--rungs off)",
        "Pareto set size": len(front), "final hypervolume": curve[-1][2] if curve else None,
        "training throughput (GMAC/s, median over runs)": _median_rate(trials),
        "validation data": _validation_note(config),
        "videos left out (undecodable)": len(json.loads(study.study.user_attrs.get("vidnas.skipped_videos", "[]"))),
    }
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>vidnas search report: {html.escape(study.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#eef}}img{{max-width:100%;border:1px solid #ddd;margin:6px 0}}
pre{{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}}</style></head><body>
<h1>vidnas search: {html.escape(study.name)}</h1>
{_final_section(_final_rows(study), config, probe.get("chance"))}
<h2>Search</h2>
<table>{''.join(f'<tr><th style="text-align:left">{html.escape(k)}</th><td>{_fmt(v, 4)}</td></tr>' for k, v in summary.items())}</table>
<h2>Plots</h2>{''.join(f'<img src="{name}" alt="{name}">' for name in images) or f"<p>No plots: {plot_note}</p>"}
<h2>Pareto set (accuracy vs latency)</h2><p>Checkpoints: <code>pareto/trial_NNNN/</code> (final.safetensors + final.json, genotype.json).</p>
<table>{head}{rows(front)}</table>
<h2>Best trials</h2><table>{head}{rows(ok[:20])}</table>
<h2>Best genotype</h2><pre>{html.escape(ok[0].genotype.to_json()) if ok else 'none yet'}</pre>
<h2>Failures</h2><table><tr><th>trial</th><th>origin</th><th>reason</th></tr>{rows(failed, reason=True)}</table>
{_skipped_section(study)}
<h2>Rejected before training</h2><p>{len(rejected)} candidates.</p><table><tr><th>trial</th><th>origin</th><th>reason</th></tr>{rows(rejected[:50], reason=True)}</table>
<h2>Settings</h2><pre>{html.escape(json.dumps(config, indent=1))}</pre>
</body></html>"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _median_rate(trials: list[Any]) -> float | None:
    """The median achieved training throughput (3 × forward MACs × clips ÷ step seconds) over the trained runs."""
    rates = [rate for t in trials if (rate := t.metrics.get("train_gmacs_per_s"))]
    return round(statistics.median(rates), 1) if rates else None


def _skipped_section(study: Any) -> str:
    skipped = json.loads(study.study.user_attrs.get("vidnas.skipped_videos", "[]"))
    if not skipped:
        return ""
    rows = "".join(f"<tr><td>{html.escape(v['split'])}</td><td>{html.escape(v['path'])}</td><td>{html.escape(v['error'])}</td></tr>" for v in skipped)
    return (f"<h2>Videos left out</h2><p>{len(skipped)} videos of the data could not be decoded and were skipped; the search used the rest.</p>"
            f"<table><tr><th>split</th><th>video</th><th>error</th></tr>{rows}</table>")


def _validation_note(config: dict[str, Any]) -> str:
    if config.get("data") is None:
        return "the built-in validation split (1024 clips)"
    if config.get("val") is None:
        return (f"held out from {config['data']}: a stratified {float(config.get('val_fraction', 0.2)):.0%} of each class (seed {config.get('seed', 0)}); "
                f"the lists are in {Path(config.get('out') or '.') / 'split'}")
    return str(config["val"])


def _final_section(rows: list[dict[str, Any]], config: dict[str, Any], chance: float | None = None) -> str:
    """The report's first table: the search's top candidates and the baselines retrained alike, and the verdict."""
    from vidnas.search import KINDS, verdict

    if not rows:
        return "<h2>Retrained: search vs baselines</h2><p>No final retraining yet (it runs when the budget ends; <code>--final-retrain off</code> skips it).</p>"
    constraint = config.get("constraint") or {}
    limit = constraint.get("limit")
    body = []
    for r in rows:
        spread = f"{r['min']:.3f}–{r['max']:.3f}" if r["min"] is not None else None
        accuracy = None if r["accuracy"] is None else f"{r['accuracy']:.3f}" + (f" ± {r['se']:.3f}" if r["se"] is not None else "")
        cells = [("<b>" + html.escape(r["name"]) + "</b>") if r["winner"] else html.escape(r["name"]), html.escape(KINDS.get(r["kind"], r["kind"] or "")),
                 accuracy, spread, f"{r['ok']}/{r['seeds']}", _fmt(r["latency_ms"], 2), _fmt(r["cost"], 2) if r["cost"] is not None else "–",
                 "yes" if r["fits"] else "<b>no</b>", _fmt((r["macs"] or 0) / 1e6, 1) if r["macs"] else "–", _fmt((r["params"] or 0) / 1e6, 3) if r["params"] else "–",
                 _fmt(r["proxy"]), "; ".join(html.escape(x) for x in r["reasons"]) or ""]
        body.append("<tr>" + "".join(f"<td>{c if c is not None else '–'}</td>" for c in cells) + "</tr>")
    metric = constraint.get("metric", "cost")
    head = ("<tr><th>model</th><th>what</th><th>accuracy (mean ± SE)</th><th>range</th><th>seeds ok</th><th>latency ms (measured together, interleaved)</th>"
            f"<th>{html.escape(metric)} (search)</th><th>fits {html.escape(str(limit)) if limit else ''}</th><th>MMACs</th><th>M params</th><th>proxy score</th><th>failures</th></tr>")
    steps = next((r["steps"] for r in rows if r["steps"]), None)
    return (f"<h2>Retrained: search vs baselines</h2><p style='font-size:1.15em'><b>{html.escape(verdict(rows, chance))}</b></p>"
            f"<p>Every model retrained from scratch with the search's recipe and data{f' for {steps} steps' if steps else ''}, "
            f"{rows[0]['seeds']} seeds each; accuracy on the validation split. <code>best.json</code> is the winner (bold).</p><table>{head}{''.join(body)}</table>")


__all__ = ["write_search_outputs", "write_trained_answer", "build_report", "plot_pareto", "plot_progress", "plot_architecture", "pareto_trials", "hypervolume_curve"]
