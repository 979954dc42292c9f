"""Search: ``vidnas search`` and ``vidnas report``. Every default of a search is ``SearchConfig``'s; this module
only turns the options a user gave into one (``search_config``) and shows the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vidnas.cli._app import app, console, friendly_errors
from vidnas.cli._inputs import int_list, options
from vidnas.cli._render import candidates_table, retrained_table
from vidnas.errors import VidnasError


def search_config(*, budget: str = "10m", latency_ms: float | None = None, max_macs: float | None = None, max_params: float | None = None,
                  max_memory_mb: float | None = None, constraint_mode: str = "reject", predictor: str | None = None, rungs: str | None = None,
                  objectives: str | None = None, space_option: list[str] = (), strategy_option: list[str] = (), supernet: bool = False,
                  epochs: int | None = None, candidate_seconds: float | None = None, recipe_file: str | None = None,
                  final_retrain: str | None = None, **given: Any):  # noqa: ANN201 - SearchConfig
    """The ``SearchConfig`` of ``vidnas search``'s options: the ones given (not None) on top of the config's
    defaults; the command-line forms (budget text, limit flags, comma lists, KEY=JSON pairs) parsed here."""
    from vidnas.search import ConstraintSpec, SearchConfig, parse_budget
    from vidnas.train import load_recipe

    trials, seconds = parse_budget(budget)
    settings: dict[str, Any] = {k: v for k, v in given.items() if v is not None} | {"trials": trials, "seconds": seconds}
    constraint = ConstraintSpec.from_limits(latency_ms=latency_ms, macs=max_macs, params=max_params, peak_memory_mb=max_memory_mb,
                                            mode=constraint_mode, predictor=predictor)
    if constraint is not None:
        settings["constraint"] = constraint
    overrides = {k: v for k, v in (("epochs", epochs), ("max_seconds", candidate_seconds)) if v is not None}
    if recipe_file is not None or overrides:
        settings["recipe"] = load_recipe(recipe_file, default=SearchConfig.model_fields["recipe"].default, overrides=overrides)
    if final_retrain is not None:
        if final_retrain not in ("on", "off"):
            raise VidnasError(f"--final-retrain {final_retrain!r}: expected on or off")
        settings["final_retrain"] = final_retrain == "on"
    if rungs is not None:
        word = rungs.strip().lower()
        settings["rungs"] = None if word == "off" else "auto" if word == "auto" else int_list(rungs, "--rungs")
    if objectives is not None:
        settings["objectives"] = [o.strip() for o in objectives.split(",") if o.strip()]
    if space_option:
        settings["space_options"] = options(list(space_option), "--space-option")
    strategy_options = options(list(strategy_option), "--strategy-option")
    if supernet:
        strategy_options["shared_weights"] = True
    if strategy_options:
        settings["strategy_options"] = strategy_options
    return SearchConfig(**settings)


@app.command()
@friendly_errors
def search(
    out: str = typer.Option("vidnas-search", "--out", help="Output folder: study.db, best genotypes, Pareto checkpoints, report.html."),
    data: Optional[str] = typer.Option(None, "--data", help="Training source or clip cache (default: the built-in benchmark data set)."),
    val: Optional[str] = typer.Option(None, "--val", help="Validation source or clip cache (without it, --data is split: see --val-fraction)."),
    val_fraction: Optional[float] = typer.Option(None, "--val-fraction", min=0.01, max=0.99, help="With --data and no --val: the stratified part of each class held out for validation, kept in OUT/split/ (default 0.2)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class-list file for list sources."),
    space: Optional[str] = typer.Option(None, "--space", help="autox3d (default), tvn, evanet, assemblenet or movinet."),
    preset: Optional[str] = typer.Option(None, "--space-preset", help="proxy (default: small, CPU-friendly widths) or paper (published ranges)."),
    space_option: list[str] = typer.Option([], "--space-option", help="Override a space option: KEY=JSON (repeatable)."),
    strategy: Optional[str] = typer.Option(None, "--strategy", help="random, evolution, constrained (default), guided, parsec or pareto."),
    strategy_option: list[str] = typer.Option([], "--strategy-option", help="Strategy setting KEY=JSON, e.g. population=16 (repeatable)."),
    supernet: bool = typer.Option(False, "--supernet", help="parsec: train a weight-sharing supernet first (autox3d space)."),
    supernet_steps: Optional[int] = typer.Option(None, "--supernet-steps", min=1, help="Supernet steps (default: 40% of a time budget, else 100)."),
    budget: str = typer.Option("10m", "--budget", help="Trials (25) or time (90s, 10m, 1.5h)."),
    latency_ms: Optional[float] = typer.Option(None, "--latency-ms", help="Latency limit, batch 1 on --device (constrained without a limit: 10)."),
    max_macs: Optional[float] = typer.Option(None, "--max-macs", help="MACs limit (e.g. 5e7)."),
    max_params: Optional[float] = typer.Option(None, "--max-params", help="Parameter limit."),
    max_memory_mb: Optional[float] = typer.Option(None, "--max-memory-mb", help="Peak inference memory limit (MiB)."),
    constraint_mode: str = typer.Option("reject", "--constraint-mode", help="reject (never trained) or penalty."),
    predictor: Optional[str] = typer.Option(None, "--latency-predictor", help="Use a calibrated predictor (vidnas latency calibrate) instead of measuring."),
    objectives: Optional[str] = typer.Option(None, "--objectives", help="Comma list starting with accuracy (default accuracy,latency_ms; pareto: accuracy,latency_ms,peak_memory_mb)."),
    rungs: Optional[str] = typer.Option(None, "--rungs", help="Successive halving: training steps per rung, a comma list (e.g. 100,300); 'auto' (default: the first rung is the fewest of 100/300/900/2700 steps after which the 3D CNN baseline or the family's zoo model scaled into the limit has clearly left chance on this data, the second η times it); or 'off' (one evaluation by the recipe's own budget)."),
    eta: Optional[int] = typer.Option(None, "--eta", min=2, help="Successive halving: the top 1/eta of each rung continue to the next (default 3)."),
    top_rung_seeds: Optional[int] = typer.Option(None, "--top-rung-seeds", min=1, help="Training seeds that score a candidate at the highest rung, ranked by their mean (default 1; the extra seeds train from scratch)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epoch bound of the candidate recipe (with --rungs off: the budget)."),
    candidate_seconds: Optional[float] = typer.Option(None, "--candidate-seconds", help="Time cap per evaluation: shrinks its planned steps up front (the schedule still completes)."),
    recipe_file: Optional[str] = typer.Option(None, "--recipe", help="Recipe JSON for candidates (then --epochs/--candidate-seconds override it only when given)."),
    final_retrain: Optional[str] = typer.Option(None, "--final-retrain", help="on (default): after the budget retrain the top candidates and the baselines from scratch; off: skip."),
    final_top_k: Optional[int] = typer.Option(None, "--final-top-k", min=1, help="Candidates of the final retraining (default 3)."),
    final_seeds: Optional[int] = typer.Option(None, "--final-seeds", min=1, help="Seeds per model in the final retraining (default 2)."),
    final_steps: Optional[int] = typer.Option(None, "--final-steps", min=1, help="Steps of the final retraining (default: the last rung)."),
    device: Optional[str] = typer.Option(None, "--device", help="Where candidates train and latency is measured: cpu (default), cuda, cuda:1."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: all cores, split between workers)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Candidates evaluated at once (default: one per device)."),
    executor: Optional[str] = typer.Option(None, "--executor", help="local (default: worker processes), ray, or inprocess."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local one)."),
    study: str = typer.Option("search", "--study", help="Study name; the same --study and --storage resume."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default: sqlite in --out)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Default 0."),
    timeout: Optional[float] = typer.Option(None, "--candidate-timeout", help="Fail a candidate after this many seconds."),
) -> None:
    """Search for an architecture. With no arguments: the Auto-X3D space, constrained evolution under a CPU latency
    limit, about 10 minutes on the built-in data set; the report goes to vidnas-search/report.html."""
    from vidnas.search import run_search
    from vidnas.search import SHORT, verdict
    from vidnas.search import current

    config = search_config(
        budget=budget, latency_ms=latency_ms, max_macs=max_macs, max_params=max_params, max_memory_mb=max_memory_mb, constraint_mode=constraint_mode,
        predictor=predictor, rungs=rungs, objectives=objectives, space_option=space_option, strategy_option=strategy_option, supernet=supernet,
        epochs=epochs, candidate_seconds=candidate_seconds, recipe_file=recipe_file, final_retrain=final_retrain,
        data=data, val=val, val_fraction=val_fraction, classes=classes, space=space, space_preset=preset, strategy=strategy, supernet_steps=supernet_steps,
        eta=eta, top_rung_seeds=top_rung_seeds, final_top_k=final_top_k, final_seeds=final_seeds, final_steps=final_steps, device=device, threads=threads, workers=workers,
        executor=executor, ray_address=address, seed=seed, candidate_timeout=timeout,
    )
    result = run_search(config, out, study=study, storage=storage)
    scored = current(result.trials)
    console.print(candidates_table(f"search {study}: {len(scored)} candidates scored, stopped on {result.stopped}, {result.elapsed / 60:.1f} min", scored[:5]))
    finals = result.outputs.get("final") or []
    if finals:
        console.print(retrained_table(finals, SHORT))
        console.print(verdict(finals, (result.outputs.get("probe") or {}).get("chance")), highlight=False)
    if result.outputs.get("weights"):
        console.print(f"trained network: {result.outputs['weights']} (+ best.json, model card {result.outputs['card']}); next: "
                      f"vidnas eval {out} --data VIDEOS, vidnas export {out} --bundle DIR, vidnas benchmark {out} --data VIDEOS", highlight=False)
    elif result.best is not None:
        console.print(f"best genotype: {result.outputs.get('best')}", highlight=False)
    console.print(f"report: {result.outputs.get('report')}", highlight=False)
    console.print(f"study: --study {study} --storage {result.storage}", highlight=False)


@app.command()
@friendly_errors
def report(
    study: str = typer.Option("search", "--study", help="Study name."),
    storage: str = typer.Option(..., "--storage", help="Optuna storage URL, e.g. sqlite:///vidnas-search/study.db."),
    out: str = typer.Option(..., "--out", help="Folder for report.html and the PNGs."),
) -> None:
    """Rebuild a search's report (HTML + PNGs) and its trained answer (best.safetensors + best.json + the model
    card best.md, while the checkpoints it names exist) from its study."""
    from vidnas.report import build_report, write_trained_answer
    from vidnas.search import Study

    loaded = Study.load(study, storage)
    path = build_report(loaded, out)
    console.print(f"report: {path}", highlight=False)
    weights = write_trained_answer(loaded, out)
    if weights is not None:
        console.print(f"trained network: {weights} (model card {Path(out) / 'best.md'})", highlight=False)
