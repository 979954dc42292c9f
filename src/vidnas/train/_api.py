"""One-call training and evaluation, used by the CLI and by search: data resolution, model building,
checkpoint loading, and the pure candidate-evaluation function."""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from vidnas.data import NORMALIZATION, CachedClips, ClipCache, VideoClips, builtin_dataset, load_source
from vidnas.errors import GenotypeError, VidnasError
from vidnas.network import as_genotype, build_model
from vidnas.train._checkpoint import load_weights, read_sidecar
from vidnas.train._loop import Divergence, Trainer, evaluate
from vidnas.train._recipe import Recipe


def resolve_data(
    train: str | Path | None,
    val: str | Path | None = None,
    *,
    classes: str | Path | None = None,
) -> tuple[Any, Any]:
    """(train source or cache, val source or cache). No ``train``: the built-in benchmark data set. A folder
    with an index.json is a decoded-clip cache."""
    if train is None:
        paths = builtin_dataset()
        return load_source(paths["train"], classes=paths["classes"]), load_source(paths["val"], classes=paths["classes"])

    def one(spec: str | Path | None) -> Any:
        if spec is None:
            return None
        if (Path(spec) / "index.json").is_file():
            return ClipCache(spec)
        return load_source(spec, classes=classes)

    return one(train), one(val)


def clip_geometry(recipe: Recipe, genotype: Any) -> tuple[int, int, int]:
    """(frames, size, frame stride) of a run: the recipe's where it sets them, else the genotype's input."""
    return recipe.frames or genotype.input.frames, recipe.size or genotype.input.size[0], recipe.frame_stride or genotype.input.frame_stride


CACHE_MAX_LENGTH = 4
"""Training on raw sources decodes them once into a clip cache when their videos are at most this many times
the clip's span long (median of a probe): a cache keeps a fixed number of frames per video, so for longer videos
it would change their frame rate, and decoding on the fly keeps it."""


def cached_sources(train: Any, val: Any, recipe: Recipe, genotype: Any, log: Any = None) -> tuple[Any, Any]:
    """Raw sources replaced by their clip caches (``data.source_cache``: decoded once, reused by later runs), so
    epochs read memory-mapped uint8 clips instead of decoding; each cache keeps every frame of the clips (the
    span, or the median length when videos are longer). Long videos (see ``CACHE_MAX_LENGTH``) and multi-view
    validation stay on the fly."""
    import statistics

    from vidnas.data import Source, VideoError, probe, source_cache

    frames, size, stride = clip_geometry(recipe, genotype)
    span = (frames - 1) * stride + 1
    flow = "dis" if any(s.modality == "flow" for s in genotype.input.streams) else None

    def one(source: Any, kind: str) -> Any:
        if not isinstance(source, Source) or not source.items or (kind == "val" and tuple(recipe.eval_views) != (1, 1)):
            return source
        lengths = []
        for item in source.items[:: max(1, len(source.items) // 16)][:16]:
            try:
                lengths.append(probe(item.path).frames)
            except VideoError:
                continue
        length = int(statistics.median(lengths)) if lengths else span
        if length > CACHE_MAX_LENGTH * span:
            if log:
                log(f"{kind} videos are long (median {length} frames, clips span {span}): decoding on the fly keeps their frame rate")
            return source
        return source_cache(source, kind=kind, frames=max(span, length), size=size, flow=flow, log=log)

    return one(train, "train"), (one(val, "val") if val is not None else None)


def clip_dataset(source: Any, recipe: Recipe, genotype: Any, *, train: bool, normalization: tuple[list[float], list[float]] | None = None) -> Any:
    """The recipe's clips of a source (decoded on the fly) or a cache (memory-mapped)."""
    frames, size, stride = clip_geometry(recipe, genotype)
    mean, std = normalization or NORMALIZATION
    common = dict(frames=frames, size=size, frame_stride=stride, train=train, hflip=recipe.hflip, scale=recipe.scale, mean=mean, std=std, seed=recipe.seed)
    if not train:
        common["views"] = recipe.eval_views
    flow = any(s.modality == "flow" for s in genotype.input.streams)
    if isinstance(source, ClipCache):
        return CachedClips(source, flow=flow, **common)
    return VideoClips(source, flow="dis" if flow else None, **common)


def train_model(
    model_or_genotype: Any,
    *,
    recipe: Recipe,
    out_dir: str | Path | None,
    data: str | Path | None = None,
    val: str | Path | None = None,
    classes: str | Path | None = None,
    device: str = "cpu",
    resume: str | Path | None = None,
    extend_to: int | None = None,
    progress: bool = False,
    model_seed: int | None = None,
    cache: bool = True,
    log: Any = None,
    weights: str | Path | None = None,
    freeze_backbone: bool = False,
) -> tuple[Trainer, dict[str, Any]]:
    """Train a genotype (or zoo name) on ``data`` (default: the built-in data set); returns (trainer, metrics).
    ``weights``: start from a vidnas weights file (``vidnas weights convert``): every tensor loaded and checked,
    a fresh classifier when the data's class count differs from the file's (fine-tuning), clips normalised as
    the weights were trained; ``freeze_backbone`` trains the classifier alone.
    ``cache``: decode raw sources once into clip caches (``cached_sources``) instead of every epoch; ``log``
    gets a line saying which.
    ``resume``: continue a checkpoint exactly; with ``extend_to``, train a finished checkpoint on to that many
    steps with a fresh warm-up + cosine over the new steps (a promoted search candidate's next rung)."""
    from vidnas.zoo import REGISTRY, get_genotype

    genotype = get_genotype(model_or_genotype) if isinstance(model_or_genotype, str) and model_or_genotype in REGISTRY else as_genotype(model_or_genotype)
    info = None
    if weights is not None:  # refuse weights of another model before any data is decoded
        from vidnas.weights import read_info

        info = read_info(weights)
        info.require_model(genotype.name)
    train_source, val_source = resolve_data(data, val, classes=classes)
    classes_list = list(train_source.classes)
    genotype = genotype.with_num_classes(len(classes_list)).with_input(frames=recipe.frames, size=recipe.size)
    if cache:
        train_source, val_source = cached_sources(train_source, val_source, recipe, genotype, log)
    model = build_model(genotype, seed=recipe.seed if model_seed is None else model_seed)
    normalization = None
    if weights is not None:
        from vidnas.weights import load_weights

        report = load_weights(model, info.path, freeze_backbone=freeze_backbone)
        pre = info.preprocessing
        if "mean" in pre and "std" in pre:
            normalization = (list(pre["mean"]), list(pre["std"]))
        if log is not None:
            log(f"weights {weights}: {report.describe()}")
    elif freeze_backbone:
        raise ValueError("freeze_backbone needs weights to start from")
    train_data = clip_dataset(train_source, recipe, genotype, train=True, normalization=normalization)
    val_data = clip_dataset(val_source, recipe, genotype, train=False, normalization=normalization) if val_source is not None else None
    trainer = Trainer(model, recipe, train_data, val_data, out_dir=out_dir, device=device, progress=progress)
    if resume is not None:
        trainer.resume(resume)
        if extend_to is not None:
            trainer.extend(extend_to)
    metrics = trainer.fit()
    return trainer, metrics


def load_checkpoint(path: str | Path, *, tag: str | None = None):  # noqa: ANN201 - (model, sidecar)
    """The model of a checkpoint (run folder, .json or .safetensors) with its sidecar; no pickle involved."""
    directory, name, sidecar = read_sidecar(path)
    model = build_model(sidecar["genotype"])
    load_weights(directory, tag or name, model)
    return model.eval(), sidecar


def evaluate_weights(path: Any, *, data: str | Path | None = None, classes: str | Path | None = None, views: tuple[int, int] = (1, 1),  # noqa: ANN401
                     device: str = "cpu", batch_size: int | None = None, runtime: Any = None) -> dict[str, Any]:
    """Evaluate a trained network — any form ``vidnas.weights.read_info`` reads (weights file, checkpoint, run,
    search or bundle folder), or its record — on labelled ``data`` (default: the validation clips its record names,
    e.g. a search's, when they are on this machine; else the built-in validation split) with
    clips × crops ``views``, its clips cut and normalised as it was trained (``runtime``: see ``evaluate``).

    The data's classes are matched to the network's class names (a few Kinetics classes of your own are scored
    against all 400/600 outputs of converted weights); without names to match, the class counts must agree."""
    from vidnas.weights import WeightsInfo, load_trained, read_info

    info = path if isinstance(path, WeightsInfo) else read_info(path)
    model = load_trained(info.path).eval()
    dataset, recipe, _ = trained_clips(info, model, data, classes=classes, views=views, batch_size=batch_size)
    return evaluate(model.to(device), dataset, batch_size=recipe.batch_size, device=device, runtime=runtime)


def trained_clips(info: Any, model: Any, data: str | Path | None, *, classes: str | Path | None = None, views: tuple[int, int] = (1, 1),  # noqa: ANN401
                  batch_size: int | None = None) -> tuple[Any, Recipe, str]:
    """(evaluation clips of ``data`` for the trained network ``model`` with record ``info``, the recipe they were
    cut with, where they came from): the network's clip geometry and normalisation, its class names matched to the
    data's. No ``data``: the validation clips the record names when they exist here, else the built-in split."""
    from vidnas.weights import WeightsError

    own = (info.data or {}).get("val_path")
    if data is None and own and Path(own).exists():  # the validation clips the network was trained with
        data = own
    if data is None:
        _, source = resolve_data(None)
        where = "the built-in validation split"
    else:
        source, _ = resolve_data(data, classes=classes)
        where = str(data)
    names, outputs = info.names(), model.genotype.head.num_classes
    mapping = None
    if names is not None and set(source.classes) <= set(names):
        mapping = [names.index(c) for c in source.classes]
    elif len(source.classes) != outputs:
        known = f" ({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" if names else ""
        hint = ": pass --data with labelled clips of its classes" if data is None else ""
        raise WeightsError(f"{info.path} was trained on {outputs} classes{known}; {where} has {len(source.classes)} "
                           f"({', '.join(list(source.classes)[:6])}{', ...' if len(source.classes) > 6 else ''}), neither the same names nor as many{hint}")
    pre = info.preprocessing
    crop = pre.get("crop") or [None]
    geometry = {k: v for k, v in (("frames", pre.get("frames")), ("size", crop[0]), ("frame_stride", pre.get("frame_stride"))) if v}
    recipe = Recipe.model_validate(info.recipe) if info.recipe else Recipe()
    recipe = recipe.model_copy(update={"eval_views": views, "batch_size": batch_size or recipe.batch_size, **geometry})
    normalization = (list(pre["mean"]), list(pre["std"])) if "mean" in pre and "std" in pre else None
    dataset = clip_dataset(source, recipe, model.genotype, train=False, normalization=normalization)
    if mapping is not None and list(source.classes) != names:
        dataset = _RelabelledClips(dataset, mapping, names)
    return dataset, recipe, where


class _RelabelledClips:
    """A clip dataset whose labels are mapped to other class indices (data classes -> a label set's)."""

    def __init__(self, dataset: Any, mapping: list[int], classes: list[str]) -> None:
        self.dataset, self.mapping, self.classes = dataset, mapping, classes

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dataset, name)

    def __getitem__(self, index: int) -> Any:
        item = self.dataset[index]
        item["label"] = self.mapping[int(item["label"])]
        return item


def evaluate_candidate(
    genotype: Any,
    recipe: Recipe | dict[str, Any],
    *,
    data: str | Path | None = None,
    val: str | Path | None = None,
    latency: bool = True,
    device: str = "cpu",
    threads: int | None = None,
    peak_memory: bool = False,
    checkpoint: str | Path | None = None,
    steps: int | None = None,
    resume_from: str | Path | None = None,
) -> dict[str, Any]:
    """Score one architecture: a short proxy training then validation, as a plain dict. Pure and safe to run
    in a worker process or on a remote worker: failures (an impossible genotype, NaN loss, out of memory,
    shape errors) come back as ``{"status": "failed", "reason": ...}`` instead of raising.

    ``steps``: train to this many steps in all (the recipe's ``max_steps``); ``resume_from``: a checkpoint
    folder of this architecture trained for fewer steps, continued to ``steps`` (successive halving's next rung).

    Returns status, top1 (or map), p_true (mean probability of the true class), val_loss, loss_curve,
    train_seconds, train_gmacs_per_s (achieved training throughput), val_seconds, steps, planned_steps,
    train_fraction (training ÷ wall seconds), work_fraction
    ((training + validation) ÷ wall seconds), params, macs, latency_ms
    (batch 1 on ``device`` with ``threads``), peak_memory_mb when asked and, for graphs with weighted edges,
    the learned sigmoid connection weights. ``checkpoint``: a folder that gets the trained weights
    (``final.safetensors`` + JSON sidecar).
    """
    from vidnas.measure import count_macs, count_parameters, measure_latency, measure_peak_memory

    recipe = Recipe.model_validate(recipe) if isinstance(recipe, dict) else recipe
    started = time.perf_counter()
    result: dict[str, Any] = {"status": "ok"}
    try:
        genotype = as_genotype(genotype)
        genotype.check()
        if steps is not None:
            recipe = recipe.model_copy(update={"max_steps": steps, "epochs": max(recipe.epochs, 10_000)})
        resume = None
        if resume_from is not None:
            resume = Path(resume_from) / "final.json"
            if not resume.is_file():
                raise VidnasError(f"{resume_from}: no checkpoint of the previous rung to continue from")
        trainer, metrics = train_model(genotype, recipe=recipe, out_dir=None, data=data, val=val, device=device, resume=resume,
                                       extend_to=steps if resume is not None else None)
        trained_before = float(trainer.resumed_train_seconds)
        model = trainer.model.eval()
        broken = next((name for name, value in model.state_dict().items() if value.is_floating_point() and not torch.isfinite(value).all()), None)
        if broken is not None:  # a finite loss can hide it (an infinite BatchNorm variance)
            raise Divergence(f"{broken} is not finite after training")
        evaluation = trainer.last_eval or {}
        inputs = model.example_input(1)
        result.update(
            top1=evaluation.get("top1"),
            top5=evaluation.get("top5"),
            map=evaluation.get("map"),
            p_true=evaluation.get("p_true"),
            val_clips=len(trainer.val_data) if trainer.val_data is not None else None,
            val_loss=evaluation.get("loss"),
            train_loss=metrics.get("train_loss"),
            loss_curve=trainer.loss_curve,
            train_seconds=round(trainer.train_seconds - trained_before, 3),
            train_gmacs_per_s=round(rate, 2) if (rate := trainer.train_gmacs_per_second()) is not None else None,
            val_seconds=round(trainer.val_seconds, 3),
            steps=trainer.step,
            planned_steps=trainer.planned_steps,
            params=count_parameters(model).total,
            macs=count_macs(model, inputs).macs,
        )
        if latency:
            result["latency_ms"] = measure_latency(model, inputs, warmup=2, runs=5, threads=threads, device=device).median_ms
        if peak_memory:
            result["peak_memory_mb"] = round(measure_peak_memory(model.genotype.to_json(indent=None), device=device, threads=threads).forward_bytes / 2**20, 3)
        if checkpoint is not None:
            trainer.out_dir = Path(checkpoint)
            trainer.save("final", trainer.epoch_metrics() if hasattr(trainer, "epoch_metrics") else metrics)
        weights = model.connection_weights() if hasattr(model, "connection_weights") else {}
        if weights:
            result["connection_weights"] = weights
        if any(isinstance(v, float) and math.isnan(v) for v in (result["val_loss"],) if v is not None):
            raise Divergence("validation loss is NaN")
    except GenotypeError as error:
        result = {"status": "failed", "reason": f"invalid genotype: {error}"}
    except Divergence as error:
        result = {"status": "failed", "reason": f"diverged: {error}"}
    except (torch.OutOfMemoryError, MemoryError) as error:
        result = {"status": "failed", "reason": f"out of memory: {str(error).splitlines()[0] if str(error) else type(error).__name__}"}
    except (RuntimeError, ValueError, VidnasError) as error:
        last = traceback.extract_tb(error.__traceback__)[-1]
        result = {"status": "failed", "reason": f"{type(error).__name__}: {str(error).splitlines()[0]} (at {Path(last.filename).name}:{last.lineno})"}
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    return time_fractions(result)


def time_fractions(result: dict[str, Any]) -> dict[str, Any]:
    """Set an evaluation's ``train_fraction`` (training ÷ wall seconds) and ``work_fraction`` ((training +
    validation) ÷ wall seconds) from its times, where it trained; returns it."""
    if result.get("train_seconds"):
        result["train_fraction"] = round(result["train_seconds"] / max(result["wall_seconds"], 1e-9), 3)
        result["work_fraction"] = round((result["train_seconds"] + result.get("val_seconds", 0.0)) / max(result["wall_seconds"], 1e-9), 3)
    return result


def _candidate_worker(payload: str) -> str:
    import json

    arguments = json.loads(payload)
    return json.dumps(evaluate_candidate(arguments["genotype"], arguments["recipe"], data=arguments["data"], val=arguments["val"], latency=arguments["latency"]))


def evaluate_candidate_in_process(
    genotype: Any,
    recipe: Recipe | dict[str, Any],
    *,
    data: str | Path | None = None,
    val: str | Path | None = None,
    latency: bool = True,
    timeout: float | None = None,
) -> dict[str, Any]:
    """``evaluate_candidate`` in a fresh worker process (spawned: no state shared with the caller), so a crash,
    a leak or a hard out-of-memory kill of one candidate cannot take the search down. Everything crosses the
    process boundary as JSON. A worker that dies or overruns ``timeout`` is a failed result."""
    import concurrent.futures
    import json
    import multiprocessing

    genotype_json = as_genotype(genotype).to_json(indent=None) if not isinstance(genotype, dict) else json.dumps(genotype)
    recipe_dict = recipe.model_dump(mode="json") if isinstance(recipe, Recipe) else recipe
    payload = json.dumps({"genotype": json.loads(genotype_json), "recipe": recipe_dict, "data": str(data) if data else None, "val": str(val) if val else None, "latency": latency})
    started = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(_candidate_worker, payload)
        try:
            return json.loads(future.result(timeout=timeout))
        except concurrent.futures.TimeoutError:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
            return {"status": "failed", "reason": f"timed out after {timeout} s", "wall_seconds": round(time.perf_counter() - started, 3)}
        except concurrent.futures.process.BrokenProcessPool as error:
            return {"status": "failed", "reason": f"worker process died ({error})", "wall_seconds": round(time.perf_counter() - started, 3)}
