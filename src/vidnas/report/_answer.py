"""The search's answer as a trained network: ``best.safetensors`` with its sidecar ``best.json`` (genotype, class
names, preprocessing, recipe, data, accuracy ± spread, MACs, params, latency per runtime, the comparison with the
baselines) and the model card ``best.md``, all written from the study and the run's checkpoints.

The network is the winner of the final retraining (its best seed's run), else — no retraining finished — the
search's pick at its highest rung (its screening checkpoint). Latency per runtime is measured once, on the machine
that writes the answer, and kept in the study, so a rebuilt report (``vidnas report``) says the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RUNTIMES_ATTR = "vidnas.answer_runtimes"  # the answer's latency per runtime: {"network": key, "runtimes": ..., "machine": ...}


def _checkpoint_of_final(config: dict[str, Any], out: Path, key: str, entry: dict[str, Any]) -> Path:
    folder = Path(entry["checkpoint"]) if entry.get("checkpoint") else Path(config.get("out") or out) / "final" / key
    return folder / "final.json"


def _choose(study: Any, out: Path, rows: list[dict[str, Any]], trials: list[Any]) -> dict[str, Any] | None:  # noqa: ANN401
    """The network to hand over: {checkpoint, key, seed, accuracy, row, selected_by}, or None when no checkpoint
    of it survives."""
    from vidnas.search import current

    config = study.config() or {}
    winner = next((r for r in rows if r["winner"]), None)
    if winner is not None:
        runs = [(key, entry) for key, entry in study.finals().items() if key.rsplit(".seed", 1)[0] == winner["key"] and entry.get("status") == "ok"
                and entry.get("metrics", {}).get("accuracy") is not None]
        runs.sort(key=lambda kv: (-float(kv[1]["metrics"]["accuracy"]), int(kv[1].get("seed", 0))))
        for key, entry in runs:
            checkpoint = _checkpoint_of_final(config, out, key, entry)
            if checkpoint.is_file():
                return {"checkpoint": checkpoint, "key": key, "seed": entry.get("seed"), "accuracy": float(entry["metrics"]["accuracy"]),
                        "row": winner, "selected_by": "final retraining"}
        return None
    for trial in current(trials)[:1]:
        checkpoint = Path(config.get("out") or out) / "checkpoints" / f"trial_{trial.number:04d}" / "final.json"
        if checkpoint.is_file():
            metrics = trial.metrics
            row = {"key": f"trial{trial.candidate:04d}", "name": f"trial {trial.candidate}",
                   "kind": "search", "accuracy": metrics.get("accuracy"), "se": None, "min": None, "max": None, "ok": 1,
                   "seeds": len(metrics.get("seed_accuracies") or [1]), "steps": metrics.get("steps"), "val_clips": metrics.get("val_clips"),
                   "macs": metrics.get("macs"), "params": metrics.get("params"), "latency_ms": metrics.get("latency_ms"),
                   "peak_memory_mb": metrics.get("peak_memory_mb")}
            return {"checkpoint": checkpoint, "key": row["key"], "seed": config.get("recipe", {}).get("seed", 0),
                    "accuracy": metrics.get("accuracy"), "row": row, "selected_by": "screening"}
    return None


def _streams(model: Any) -> bool:  # noqa: ANN401
    from vidnas.network import streaming_blockers

    return not streaming_blockers(model)


def runtime_latencies(study: Any, key: str, model: Any, threads: int | None, streams: bool) -> dict[str, Any]:  # noqa: ANN401
    """Batch-1 latency of the answer on every available runtime (clip; and one streaming step for a causal
    network), measured once and kept in the study."""
    stored = json.loads(study.study.user_attrs.get(RUNTIMES_ATTR, "{}"))
    if stored.get("network") == key:
        return stored
    from vidnas.measure import machine
    from vidnas.runtime import select_runtime

    selection = select_runtime(model, mode="clip", threads=threads)
    measured: dict[str, Any] = {"network": key, "runtimes": selection.timings_ms, "unavailable": selection.unavailable, "machine": machine(threads)}
    if streams:
        measured["stream_runtimes"] = select_runtime(model, mode="stream", threads=threads).timings_ms
    try:
        from vidnas.measure import measure_peak_memory

        measured["peak_memory_mb"] = round(measure_peak_memory(model.genotype.to_json(indent=None), threads=threads).forward_bytes / 2**20, 1)
    except Exception:  # noqa: BLE001 - a card without the memory line beats no card (the measurement needs /proc)
        pass
    study.set_attr(RUNTIMES_ATTR, json.dumps(measured))
    return measured


def write_answer(study: Any, out: Path, rows: list[dict[str, Any]], trials: list[Any], chance: float | None = None) -> Path | None:  # noqa: ANN401
    """Write ``best.safetensors`` + ``best.json`` + ``best.md`` in ``out``; None (nothing written) when no trained
    checkpoint of the answer exists (a search without checkpoints, or whose checkpoints were removed)."""
    from vidnas import __version__
    from vidnas.search import DATA_ATTR, KINDS, verdict
    from vidnas.weights import load_trained, model_card, read_info, read_weights, save_weights

    chosen = _choose(study, out, rows, trials)
    if chosen is None:
        return None
    checkpoint = read_info(chosen["checkpoint"])
    model = load_trained(checkpoint.path).eval()
    config, row = study.config() or {}, chosen["row"]
    streams = _streams(model)
    measured = runtime_latencies(study, chosen["key"], model, config.get("threads"), streams)
    preprocessing = dict(checkpoint.preprocessing, streaming=streams)
    metrics = {"accuracy": row.get("accuracy"), "se": row.get("se"), "min": row.get("min"), "max": row.get("max"), "seeds": row.get("ok"),
               "steps": row.get("steps"), "val_clips": row.get("val_clips"), "selected_by": chosen["selected_by"],
               "file": {"seed": chosen["seed"], "accuracy": chosen["accuracy"]},
               "accuracy_name": "validation top-1, mean over retraining seeds" if chosen["selected_by"] == "final retraining" else "validation top-1 at the top rung"}
    if chosen["selected_by"] == "final retraining":
        metrics["verdict"] = verdict(rows, chance)
    costs = {"macs": row.get("macs"), "params": row.get("params"), "latency_ms": row.get("latency_ms"), "batch": 1,
             "runtimes": measured["runtimes"], "machine": measured["machine"]}
    if measured.get("stream_runtimes"):
        costs["stream_runtimes"] = measured["stream_runtimes"]
    if measured.get("peak_memory_mb") is not None or row.get("peak_memory_mb") is not None:
        costs["peak_memory_mb"] = measured.get("peak_memory_mb", row.get("peak_memory_mb"))
    comparison = [{k: r.get(k) for k in ("name", "kind", "accuracy", "se", "min", "max", "latency_ms", "macs", "params", "fits", "winner", "seeds")}
                  | {"what": KINDS.get(r.get("kind"), r.get("kind"))} for r in rows]
    data = {"train": config.get("data") or "built-in data set (train split)",
            "val": config.get("val") or (f"{config['val_fraction']:.0%} of the training videos" if config.get("val_fraction") and config.get("data")
                                         else "built-in data set (validation split)"),
            "classes": len(checkpoint.names() or []) or None, "val_clips": row.get("val_clips")}
    data |= {f"{k}_path": v for k, v in json.loads(study.study.user_attrs.get(DATA_ATTR, "{}")).items()}  # what vidnas read: sources or clip caches
    source = {"search": study.name, "folder": str(Path(config.get("out") or out)), "kind": row.get("kind"), "what": KINDS.get(row.get("kind")), "candidate": row.get("name"),
              "checkpoint": str(chosen["checkpoint"]), "vidnas": __version__}
    genotype = checkpoint.genotype
    path = save_weights(read_weights(checkpoint.path), out / "best.safetensors", model=genotype.get("name"), genotype=genotype,
                        class_names=checkpoint.names(), preprocessing=preprocessing, source=source, recipe=checkpoint.recipe, data=data,
                        metrics=metrics, costs=costs, comparison=comparison if chosen["selected_by"] == "final retraining" else None)
    (out / "best.md").write_text(model_card(read_info(path)), encoding="utf-8")
    return path
