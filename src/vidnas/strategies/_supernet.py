"""PARSEC with shared weights: alternate weight steps (training batches) and distribution steps (validation
batches) on a supernet, each with K architectures sampled from p(α|π) and self-normalised importance weights
ω_k = softmax_k(log p(y|X, v, α_k)) (the mini-batch log-likelihood = −batch size × mean cross-entropy).

Weights: SGD with cosine decay; θ: Adam (Auto-X3D's optimisers, supplement §1); the first ``warmup`` fraction
of the steps trains weights only. The K samples are evaluated one after another (gradients accumulated, ω
from a no-grad pass first), so peak memory is that of one sub-network, as PARSEC claims.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


def _batches(dataset: Any, batch_size: int, seed: int):  # noqa: ANN202 - endless iterator of (x, y)
    from torch.utils.data import DataLoader

    epoch = 0
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(seed + epoch)
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True, generator=generator):
            yield batch["video"], batch["label"]
        epoch += 1


def run_supernet_search(
    strategy: Any,
    train_data: Any,
    val_data: Any,
    *,
    seconds: float | None = None,
    steps: int | None = None,
    batch_size: int = 8,
    weight_lr: float = 0.05,
    theta_lr: float = 0.05,
    warmup: float = 1 / 3,
    fair: bool = True,
    progress: Any = None,
    state_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Train the space's supernet and learn ``strategy.logits``; returns a summary (steps, seconds, entropy,
    history). With ``state_dir`` a finished phase is saved (θ as JSON, weights as safetensors) and a rerun
    with the same folder loads it instead of training again."""
    space = strategy.space
    state_file = Path(state_dir) / "supernet.json" if state_dir else None
    if state_file is not None and state_file.is_file():
        saved = json.loads(state_file.read_text(encoding="utf-8"))
        strategy.set_logits(saved["logits"])
        return dict(saved["summary"], resumed=True)
    if steps is None and seconds is None:
        steps = 200
    torch.manual_seed(strategy.seed)
    rng = random.Random(f"supernet-{strategy.seed}")
    supernet = space.supernet(fair=fair)
    theta = [torch.tensor(row, dtype=torch.float32, requires_grad=True) for row in strategy.logits]
    weight_opt = torch.optim.SGD(supernet.parameters(), lr=weight_lr, momentum=0.9, weight_decay=5e-5)
    theta_opt = torch.optim.Adam(theta, lr=theta_lr)
    choices = space.choices()
    train_iter, val_iter = _batches(train_data, batch_size, strategy.seed), _batches(val_data, batch_size, strategy.seed + 1)
    started = time.perf_counter()
    history: list[dict[str, Any]] = []
    step = 0

    def sample() -> dict[str, Any]:
        for _ in range(space.max_tries):
            indices = []
            for row in theta:
                p = torch.softmax(row.detach(), 0).numpy()
                indices.append(int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right").clip(0, len(p) - 1)))
            values = {c.name: c.options[i] for c, i in zip(choices, indices)}
            if space.is_valid(values):
                return space.canonical(values)
        return space.sample_values(rng)

    def done() -> bool:
        if steps is not None and step >= steps:
            return True
        return seconds is not None and time.perf_counter() - started >= seconds

    def horizon() -> float:
        if steps is not None:
            return step / steps
        return (time.perf_counter() - started) / seconds if seconds else 1.0

    while not done():
        fraction = horizon()
        for group in weight_opt.param_groups:
            group["lr"] = weight_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, fraction)))
        k = strategy.samples
        # weight step: ω from a no-grad pass, then one sub-network at a time
        x, y = next(train_iter)
        archs = [sample() for _ in range(k)]
        offsets = [rng.randrange(2**31) for _ in range(k)]  # the same channel windows in both passes
        with torch.no_grad():
            losses = torch.stack([F.cross_entropy(supernet(x, a, random.Random(o)), y) for a, o in zip(archs, offsets)])
        omega = torch.softmax(-losses * len(y), 0)
        weight_opt.zero_grad(set_to_none=True)
        for w, a, o in zip(omega, archs, offsets):
            (w * F.cross_entropy(supernet(x, a, random.Random(o)), y)).backward()
        torch.nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
        weight_opt.step()
        train_loss = float((omega * losses).sum())
        # distribution step on validation data, after the warm-up
        if fraction >= warmup:
            xv, yv = next(val_iter)
            archs = [sample() for _ in range(k)]
            with torch.no_grad():
                val_losses = torch.stack([F.cross_entropy(supernet(xv, a), yv) for a in archs])
            omega = torch.softmax(-val_losses * len(yv), 0)
            theta_opt.zero_grad(set_to_none=True)
            objective = torch.zeros(())
            for w, a in zip(omega, archs):
                log_prob = sum(torch.log_softmax(row, 0)[choices[m].index(a[choices[m].name])] for m, row in enumerate(theta))
                objective = objective + w * log_prob
            (-objective).backward()
            theta_opt.step()
        step += 1
        strategy.set_logits([row.detach().numpy().astype(float).tolist() for row in theta])
        if step % 10 == 0 or done():
            history.append({"step": step, "seconds": round(time.perf_counter() - started, 2), "train_loss": round(train_loss, 4), "entropy": round(strategy.entropy(), 4)})
        if progress is not None:
            progress(step, steps, train_loss, strategy.entropy())
    summary = {"steps": step, "seconds": round(time.perf_counter() - started, 2), "entropy": round(strategy.entropy(), 4), "history": history,
               "argmax": {c.name: c.options[i] for c, i in zip(choices, strategy.argmax_indices())}}
    if state_file is not None:
        from safetensors.torch import save_file

        state_file.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in supernet.state_dict().items()}, str(state_file.with_suffix(".safetensors")))
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"logits": [row.tolist() for row in strategy.logits], "summary": summary}), encoding="utf-8")
        tmp.replace(state_file)
    return summary
