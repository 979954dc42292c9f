"""The training loop: a short loop plus hooks. Evaluation, checkpoints, logging and progress plug in as hooks
without touching the loop; everything is seeded, and a run resumes exactly from its last checkpoint."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidnas.train._checkpoint import load_training_state, load_weights, read_sidecar, save_checkpoint
from vidnas.train._distributed import barrier, init_from_environment, shard
from vidnas.train._metrics import classification_report, mean_average_precision, save_confusion_png
from vidnas.train._recipe import Recipe

EVAL_BATCH = {"cpu": 16, "cuda": 64}
"""Validation batch per device type. BatchNorm is frozen in evaluation, so only speed changes: on a GPU larger
batches are faster, on a CPU smaller ones are (activations stay in cache; batch 64 cost 2.3x batch 16 per clip
over six TVN samples, 2 threads)."""


def inference_form(model: nn.Module, device: torch.device) -> tuple[nn.Module, bool]:
    """(network, channels_last): an inference copy of a vidnas network for validation (BatchNorm folded into the
    convolutions, iTGM kernels materialised; channels-last on CPU) — the same function, 1.2x faster on CPU over
    six TVN samples. Other modules are evaluated as they are."""
    from vidnas.network._model import VidNet

    if isinstance(model, torch.optim.swa_utils.AveragedModel):  # the EMA weights
        model = model.module
    if not isinstance(model, VidNet):
        return model, False
    from vidnas.export import deploy_model

    layout = "channels_last" if device.type == "cpu" else "contiguous"
    return deploy_model(model, layout=layout), layout == "channels_last"
PROBE_STEPS = 4  # steps timed before a time cap (recipe.max_seconds) sets the number of steps


class Divergence(RuntimeError):
    """The loss became NaN or infinite."""


# ----------------------------------------------------------------------------------------------- helpers


def _normalization_of(dataset: Any) -> dict[str, list[float]] | None:  # noqa: ANN401
    """The mean/std a dataset normalises clips with (stored with checkpoints, so evaluation uses the same)."""
    mean, std = getattr(dataset, "mean", None), getattr(dataset, "std", None)
    return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]} if mean is not None and std is not None else None


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv and dense weights only: never on BatchNorm, biases or scalars (ReZero, edge logits)."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if not parameter.requires_grad:
            continue
        (decay if parameter.dim() > 1 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer; SGD and AdamW in PyTorch's fused form (one kernel over all parameters, the same
    update): a per-parameter loop cost X3D-XS 28 ms a step on CPU, the fused AdamW 4 ms."""
    groups = parameter_groups(model, recipe.weight_decay)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for group in groups for p in group["params"])
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0, fused=fused)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=recipe.lr, fused=fused)
    return torch.optim.RMSprop(groups, lr=recipe.lr, momentum=recipe.momentum, alpha=0.9, eps=1.0)


class WarmupCosine:
    """LR factor per step: linear warm-up from ~0 to 1, then cosine decay to 0 at ``total_steps``, over the
    segment that starts at ``start`` (a continued run — a successive-halving rung — restarts the schedule over
    its own new steps). A callable object, so LambdaLR saves and restores its fields with a checkpoint, and
    the plan can change before a step is taken (a time cap that shrinks the steps)."""

    def __init__(self, total_steps: int, warmup_steps: int, start: int = 0):
        self.total_steps, self.warmup_steps, self.start = total_steps, warmup_steps, start

    def __call__(self, step: int) -> float:
        local, length = step - self.start, max(1, self.total_steps - self.start)
        if local < self.warmup_steps:
            return (local + 1) / (self.warmup_steps + 1)
        progress = (local - self.warmup_steps) / max(1, length - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


def cosine_with_warmup(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR factor per step: linear warm-up from ~0 to 1, then cosine decay to 0 at ``total_steps``."""
    return WarmupCosine(total_steps, warmup_steps)


def autocast_dtype(recipe: Recipe, device: torch.device) -> torch.dtype | None:
    """AMP only on CUDA: bf16 where supported (auto), or as asked; CPU trains in fp32."""
    if device.type != "cuda" or recipe.amp == "off":
        return None
    if recipe.amp == "fp16":
        return torch.float16
    if recipe.amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _to(batch: dict[str, Any], device: torch.device, channels_last: bool) -> dict[str, Any]:
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if value.dim() == 5:
                value = value.contiguous(memory_format=fmt)
        out[key] = value
    return out


def model_inputs(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
    """The batch as the model reads it: the RGB clip, or a dict of streams (``rgb`` <- video, ``flow``)."""
    names = getattr(model, "stream_names", ["rgb"])
    if len(names) == 1:
        return batch["flow"] if names[0] == "flow" else batch["video"]
    return {name: batch["video"] if name == "rgb" else batch[name] for name in names}


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, *, batch_size: int | None = None, device: str | torch.device = "cpu", num_workers: int = 0,
             fast: bool = True, runtime: Any = None) -> dict[str, Any]:
    """Logits averaged over each video's views (clips × crops), then top-1/top-5, per-class accuracy and the
    confusion matrix — or mAP for multi-label data. Also the mean loss. ``batch_size`` defaults to the device's
    ``EVAL_BATCH``; ``fast`` evaluates vidnas networks in their ``inference_form`` (logits equal to 1e-6).
    ``runtime``: run the network on this inference runtime (``vidnas.runtime``; ``"auto"``: the fastest on the
    first batch's shape, measured), reported under ``"runtime"``; or a built ``vidnas.runtime.Runtime`` (an int8
    graph, say), used as it is."""
    device = torch.device(device)
    batch_size = batch_size or EVAL_BATCH.get(device.type, 16)
    was_training = model.training
    model.eval()
    network, channels_last = inference_form(model, device) if fast and runtime is None else (model, False)
    selection = None
    if runtime is not None and not isinstance(runtime, str):
        from vidnas.runtime import Selection

        selection = Selection(runtime=runtime, mode="clip")
        network = runtime
    sums: dict[int, torch.Tensor] = {}
    counts: dict[int, int] = {}
    labels: dict[int, Any] = {}
    for batch in DataLoader(dataset, batch_size=batch_size, num_workers=num_workers):
        batch = _to(batch, device, channels_last)
        inputs = model_inputs(model, batch)
        if runtime is not None and selection is None:
            from vidnas.runtime import select_runtime

            first = inputs if isinstance(inputs, torch.Tensor) else next(iter(inputs.values()))
            selection = select_runtime(model, mode="clip", runtime=runtime, batch=first.shape[0], frames=first.shape[2], size=tuple(first.shape[3:]))
            network = selection.runtime
        with selection.runtime.running() if selection is not None else contextlib.nullcontext():
            logits = network(inputs).float().cpu()
        for row, index in enumerate(batch["index"].tolist()):
            sums[index] = sums.get(index, 0) + logits[row]
            counts[index] = counts.get(index, 0) + 1
            labels[index] = batch["label"][row].cpu()
    model.train(was_training)
    order = sorted(sums)
    logits = torch.stack([sums[i] / counts[i] for i in order])
    classes = list(getattr(dataset, "classes", [str(i) for i in range(logits.shape[1])]))
    if getattr(dataset, "multi_label", False):
        targets = torch.stack([labels[i] for i in order]).float()
        loss = float(F.binary_cross_entropy_with_logits(logits, targets))
        return {"map": mean_average_precision(torch.sigmoid(logits).numpy(), targets.numpy()), "loss": loss, "num_clips": len(order)}
    target = torch.tensor([int(labels[i]) for i in order])
    report = classification_report(logits, target, classes)
    report["loss"] = float(F.cross_entropy(logits, target))
    report["p_true"] = float(torch.softmax(logits, dim=1).gather(1, target[:, None]).mean())
    report["predictions"] = logits.argmax(1).tolist()  # per video, in dataset order (runtimes are compared on them)
    if selection is not None:
        report["runtime"] = selection.as_dict()
    return report


# ------------------------------------------------------------------------------------------------- hooks


class Hook:
    """Called by the loop; override what you need. ``trainer`` gives access to everything."""

    def before_train(self, trainer: "Trainer") -> None: ...

    def after_step(self, trainer: "Trainer", loss: float) -> None: ...

    def after_epoch(self, trainer: "Trainer") -> None: ...

    def after_train(self, trainer: "Trainer") -> None: ...


class EvaluationHook(Hook):
    def after_epoch(self, trainer: "Trainer") -> None:
        last = trainer.epoch + 1 == trainer.recipe.epochs or trainer.budget_spent()
        if trainer.val_data is not None and ((trainer.epoch + 1) % trainer.recipe.eval_every == 0 or last):
            model = trainer.ema if trainer.ema is not None else trainer.model
            start = time.perf_counter()
            trainer.last_eval = evaluate(model, trainer.val_data, device=trainer.device, num_workers=trainer.recipe.num_workers)
            trainer.val_seconds += time.perf_counter() - start


class CheckpointHook(Hook):
    """``last`` after every epoch, ``best`` whenever the validation top-1 (or mAP) improves."""

    def after_epoch(self, trainer: "Trainer") -> None:
        if trainer.out_dir is None:
            return
        metrics = trainer.epoch_metrics()
        trainer.save("last", metrics)
        score = metrics.get("val_top1", metrics.get("val_map"))
        if score is not None and (trainer.best_score is None or score > trainer.best_score):
            trainer.best_score = score
            trainer.save("best", metrics)
            confusion = (trainer.last_eval or {}).get("confusion")
            if confusion is not None:
                try:
                    save_confusion_png(confusion, trainer.class_names, trainer.out_dir / "confusion_best.png", f"epoch {trainer.epoch + 1}")
                except ImportError:
                    pass


class JsonlHook(Hook):
    """One JSON line per epoch in ``metrics.jsonl`` (and TensorBoard scalars when tensorboard is installed)."""

    def before_train(self, trainer: "Trainer") -> None:
        self.writer = None
        if trainer.out_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(trainer.out_dir / "tensorboard"))
            except ImportError:
                self.writer = None

    def after_epoch(self, trainer: "Trainer") -> None:
        if trainer.out_dir is None:
            return
        metrics = trainer.epoch_metrics()
        with (trainer.out_dir / "metrics.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(metrics) + "\n")
        if self.writer is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, trainer.step)

    def after_train(self, trainer: "Trainer") -> None:
        if self.writer is not None:
            self.writer.close()


class ProgressHook(Hook):
    """A rich progress bar over the steps, with the running loss."""

    def before_train(self, trainer: "Trainer") -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"), TimeRemainingColumn(), transient=False)
        self.task = self.progress.add_task("", total=trainer.total_steps, completed=trainer.step)
        self.progress.start()

    def after_step(self, trainer: "Trainer", loss: float) -> None:
        self.progress.update(self.task, completed=trainer.step, description=f"epoch {trainer.epoch + 1} loss {loss:.3f}")

    def after_epoch(self, trainer: "Trainer") -> None:
        evaluation = trainer.last_eval or {}
        rate = trainer.train_gmacs_per_second()
        speed = f", {rate:.1f} GMAC/s" if rate is not None else ""
        if "top1" in evaluation:
            self.progress.console.print(f"epoch {trainer.epoch + 1}: train loss {trainer.epoch_loss():.4f}, val top-1 {evaluation['top1']:.3f}{speed}", highlight=False)
        elif speed:
            self.progress.console.print(f"epoch {trainer.epoch + 1}: train loss {trainer.epoch_loss():.4f}{speed}", highlight=False)

    def after_train(self, trainer: "Trainer") -> None:
        self.progress.stop()


# ------------------------------------------------------------------------------------------------- loop


class Trainer:
    """Train ``model`` on ``train_data`` (a vidnas clip dataset) by ``recipe``; see the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        recipe: Recipe,
        train_data: Dataset,
        val_data: Dataset | None = None,
        *,
        out_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
        hooks: list[Hook] | None = None,
        progress: bool = False,
    ):
        self.recipe, self.device = recipe, torch.device(device)
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        self.rank, self.world = init_from_environment(self.device)
        self.model = model.to(self.device)
        if recipe.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.train_data, self.val_data = train_data, val_data
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.class_names = list(getattr(train_data, "classes", []))
        self.multi_label = bool(getattr(train_data, "multi_label", False))
        self.optimizer = make_optimizer(self.model, recipe)
        steps_per_epoch = max(1, math.ceil(math.ceil(len(train_data) / self.world) / recipe.batch_size))
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = recipe.epochs * steps_per_epoch
        if recipe.max_steps is not None:
            self.total_steps = min(self.total_steps, recipe.max_steps)
        self.warmup_steps = int(round(recipe.warmup_epochs * steps_per_epoch))
        self.schedule = WarmupCosine(self.total_steps, min(self.warmup_steps, self.total_steps - 1))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.planned_steps = self.total_steps  # before a time cap shrank them
        self.ema = None
        if recipe.ema_decay is not None:
            self.ema = torch.optim.swa_utils.AveragedModel(self.model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(recipe.ema_decay))
        self.autocast = autocast_dtype(recipe, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast == torch.float16 else None
        self.forward: nn.Module = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.forward = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if recipe.compile:
            self.forward = torch.compile(self.forward)
        if hooks is None:  # side effects (evaluation, files, progress) on rank 0 only
            hooks = [EvaluationHook(), CheckpointHook(), JsonlHook()] + ([ProgressHook()] if progress else []) if self.rank == 0 else []
        self.hooks = hooks
        self.epoch = self.step = 0
        self.best_score: float | None = None
        self.losses: list[float] = []
        self.loss_curve: list[tuple[int, float]] = []
        self.last_eval: dict[str, Any] | None = None
        self.started = time.perf_counter()
        self.train_seconds = 0.0
        self.resumed_train_seconds = 0.0  # training seconds a resumed run had before this process
        self.val_seconds = 0.0  # validation seconds in this process
        self.clip_macs: int | None = None  # forward MACs of one training clip (counted at the first step)
        self.timed_clips, self.timed_seconds = 0, 0.0  # clips trained and their step seconds, in this process

    # ------------------------------------------------------------------------------------------ state
    def budget_spent(self) -> bool:
        """The planned steps are done (a time cap shrinks the plan up front, it never stops a schedule midway)."""
        return self.step >= self.total_steps

    def plan(self, total_steps: int) -> None:
        """Set the run's total steps (the schedule's end) before any further step is taken."""
        total_steps = max(total_steps, self.step + 1)
        self.total_steps = total_steps
        self.schedule.total_steps = total_steps
        self.schedule.warmup_steps = min(self.schedule.warmup_steps, max(0, total_steps - self.schedule.start - 1))
        self._apply_lr()

    def extend(self, total_steps: int, warmup_fraction: float = 0.05) -> None:
        """Continue a finished run to ``total_steps`` with a fresh warm-up + cosine over the new steps (a warm
        restart from the current weights and optimizer state): how a promoted search candidate trains on."""
        self.schedule.start = self.step
        self.schedule.warmup_steps = int(round(warmup_fraction * max(0, total_steps - self.step)))
        self.plan(total_steps)

    def _apply_lr(self) -> None:
        factor = self.schedule(self.step)
        for group, base in zip(self.optimizer.param_groups, self.scheduler.base_lrs):
            group["lr"] = base * factor
        self.scheduler._last_lr = [group["lr"] for group in self.optimizer.param_groups]  # noqa: SLF001 - keep get_last_lr() true

    def _fit_time_cap(self, step_seconds: list[float]) -> None:
        """Shrink the plan so that the whole schedule fits ``recipe.max_seconds`` at the measured step time
        (median of the first timed steps; the very first step, with its one-off costs, is left out)."""
        timed = step_seconds[1:] or step_seconds
        per_step = float(np.median(timed))
        affordable = int(self.recipe.max_seconds / max(per_step, 1e-9))  # type: ignore[operator]
        if affordable < self.total_steps:
            self.plan(max(affordable, self.step + 1))

    def epoch_loss(self) -> float:
        return float(np.mean(self.losses)) if self.losses else float("nan")

    def train_gmacs_per_second(self) -> float | None:
        """Achieved training throughput in this process: 3 × forward MACs per clip (the forward and the two
        backward products) × clips ÷ step seconds; None before a step or for a network that cannot be counted."""
        if not self.clip_macs or not self.timed_seconds:
            return None
        return 3 * self.clip_macs * self.timed_clips / self.timed_seconds / 1e9

    def epoch_metrics(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {"epoch": self.epoch + 1, "step": self.step, "train_loss": self.epoch_loss(), "lr": self.scheduler.get_last_lr()[0], "train_seconds": round(self.train_seconds, 3)}
        if (rate := self.train_gmacs_per_second()) is not None:
            metrics["train_gmacs_per_s"] = round(rate, 2)
        for key, value in (self.last_eval or {}).items():
            if isinstance(value, (int, float)):
                metrics[f"val_{key}"] = value
        return metrics

    def save(self, tag: str, metrics: dict[str, Any]) -> None:
        assert self.out_dir is not None
        extra = {"best_score": self.best_score, "loss_curve": self.loss_curve, "input": self.model.genotype.input.model_dump(mode="json"),
                 "normalization": _normalization_of(self.train_data)}
        save_checkpoint(
            self.out_dir, tag, model=self.model, genotype_json=self.model.genotype.to_json(indent=None), recipe_json=self.recipe.to_json(),
            class_names=self.class_names, metrics=metrics, epoch=self.epoch + 1, step=self.step, optimizer=self.optimizer,
            scheduler=self.scheduler, ema=self.ema, extra=extra,
        )

    def resume(self, checkpoint: str | Path) -> None:
        """Continue exactly where a checkpoint (a run folder's ``last`` by default) left off."""
        directory, tag, sidecar = read_sidecar(checkpoint)
        load_weights(directory, tag, self.model)
        load_training_state(directory, tag, sidecar, self.optimizer, self.scheduler, self.ema)
        self.epoch, self.step = int(sidecar["epoch"]), int(sidecar["step"])
        self.best_score = sidecar.get("best_score")
        self.loss_curve = [tuple(p) for p in sidecar.get("loss_curve", [])]
        self.train_seconds = float(sidecar["metrics"].get("train_seconds", 0.0))
        self.resumed_train_seconds = self.train_seconds
        if self.recipe.max_seconds is not None and self.schedule.total_steps < self.planned_steps:
            self.total_steps = self.schedule.total_steps  # the plan a time cap shrank stays as it was
        else:
            self.schedule.total_steps = self.total_steps  # the recipe's plan (a longer recipe continues the run)

    # ------------------------------------------------------------------------------------------- loop
    def _order(self, epoch: int) -> list[int]:
        """This process's clips of ``epoch``, in an order fixed by (seed, epoch): the same on every rank and
        after a resume."""
        generator = torch.Generator().manual_seed(self.recipe.seed * 100_003 + epoch)
        return shard(torch.randperm(len(self.train_data), generator=generator).tolist(), self.rank, self.world)

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.recipe.label_smoothing)

    def _count_clip_macs(self, inputs: torch.Tensor | dict[str, torch.Tensor]) -> None:
        from vidnas.measure import count_macs

        one = {k: v[:1] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[:1]
        try:
            self.clip_macs = count_macs(self.model, one).macs
        except Exception:  # noqa: BLE001 - a module the meta device cannot run: throughput is then not reported
            self.clip_macs = 0

    def train_step(self, batch: dict[str, Any]) -> float:
        batch = _to(batch, self.device, self.recipe.channels_last)
        if self.clip_macs is None:
            self._count_clip_macs(model_inputs(self.model, batch))
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            logits = self.forward(model_inputs(self.model, batch))
        loss = self._loss(logits, batch["label"])
        if not torch.isfinite(loss):
            raise Divergence(f"loss is {float(loss)} at step {self.step}")
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.recipe.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return float(loss.detach())

    def fit(self) -> dict[str, Any]:
        """Train to the recipe's budget; returns the last epoch's metrics."""
        if self.step == 0:  # a resumed run continues the restored RNG instead
            torch.manual_seed(self.recipe.seed)
        for hook in self.hooks:
            hook.before_train(self)
        self.model.train()
        probe = [] if self.recipe.max_seconds is not None and self.step == 0 else None  # step times that size the plan
        warm = self.timed_seconds > 0
        while self.epoch < self.recipe.epochs and not self.budget_spent():
            if hasattr(self.train_data, "set_epoch"):
                self.train_data.set_epoch(self.epoch)
            loader = DataLoader(self.train_data, batch_size=self.recipe.batch_size, sampler=self._order(self.epoch), num_workers=self.recipe.num_workers, drop_last=False)
            self.losses = []
            for batch in loader:
                if self.budget_spent():
                    break
                start = time.perf_counter()
                loss = self.train_step(batch)
                seconds = time.perf_counter() - start
                self.train_seconds += seconds
                if warm:  # the first step of a process pays one-off costs (allocation, the MAC count)
                    self.timed_clips += len(batch["label"])
                    self.timed_seconds += seconds
                warm = True
                self.step += 1
                if probe is not None:
                    probe.append(seconds)
                    if len(probe) == PROBE_STEPS:
                        self._fit_time_cap(probe)
                        probe = None
                self.losses.append(loss)
                self.loss_curve.append((self.step, round(loss, 6)))
                for hook in self.hooks:
                    hook.after_step(self, loss)
            for hook in self.hooks:
                hook.after_epoch(self)
            barrier(self.world)
            self.epoch += 1
        for hook in self.hooks:
            hook.after_train(self)
        return self.epoch_metrics() | {"epoch": self.epoch}
